//! [`PushLedger`] on the one DynamoDB table.
//!
//! | `pk` | `sk` | attributes | TTL (`ttl`) |
//! |---|---|---|---|
//! | `C#<component>#PUSH#<digest>` | `PUSH` | `state` (`processing`/`done`), `owner` and `lease_until` while processing, `received_at`, `kind`, `appid`, `push_status`, `detail` (map) | per [`Retention`](super::push_ledger::Retention); none for kept results |
//!
//! One partition per push: pushes arrive at any rate and are
//! read only by key. No index attributes, so the entries never appear in the `due` or `by_status`
//! indexes.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::dynamo::{backend, n, s};
use super::push_ledger::{Claim, LedgerEntry, PushLedger, PushRecord, Retention, expiry};
use super::{EVENT_RETENTION_SECS, LeaseOwner, StoreError};
use crate::clock::Clock;
use crate::ids::ComponentAppId;

const SK_PUSH: &str = "PUSH";
const PROCESSING: &str = "processing";
const DONE: &str = "done";

type Item = HashMap<String, AttributeValue>;

/// The push ledger in DynamoDB. Cheap to clone (the SDK client is).
#[derive(Clone)]
pub struct DynamoPushLedger {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoPushLedger {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    fn key(component: &ComponentAppId, key: &str) -> Item {
        HashMap::from([
            ("pk".to_owned(), s(format!("C#{component}#PUSH#{key}"))),
            ("sk".to_owned(), s(SK_PUSH)),
        ])
    }
}

fn names(list: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn num(item: &Item, name: &'static str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| StoreError::Corrupt {
            item: "push ledger",
            attribute: name,
        }),
        Some(_) => Err(StoreError::Corrupt {
            item: "push ledger",
            attribute: name,
        }),
    }
}

fn text(item: &Item, name: &'static str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

impl PushLedger for DynamoPushLedger {
    async fn claim(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
        lease_secs: i64,
    ) -> Result<Claim, StoreError> {
        let now = self.clock.now();
        let mut item = Self::key(component, key);
        item.extend([
            ("state".to_owned(), s(PROCESSING)),
            ("owner".to_owned(), s(owner.as_str())),
            ("lease_until".to_owned(), n(now + lease_secs)),
            ("received_at".to_owned(), n(now)),
            ("ttl".to_owned(), n(now + EVENT_RETENTION_SECS)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR #ttl <= :now \
                 OR (#state = :processing AND #lease <= :now)",
            )
            .set_expression_attribute_names(names(&[
                ("#pk", "pk"),
                ("#ttl", "ttl"),
                ("#state", "state"),
                ("#lease", "lease_until"),
            ]))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":processing", s(PROCESSING))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let done = failed
                        .item()
                        .and_then(|old| text(old, "state"))
                        .is_some_and(|state| state == DONE);
                    Ok(if done { Claim::Done } else { Claim::InProgress })
                }
                _ => Err(backend("PutItem", e)),
            },
        }
    }

    async fn complete(
        &self,
        component: &ComponentAppId,
        key: &str,
        record: &PushRecord,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut item = Self::key(component, key);
        item.extend([
            ("state".to_owned(), s(DONE)),
            ("lease_until".to_owned(), n(0)),
            ("received_at".to_owned(), n(now)),
            ("kind".to_owned(), s(&record.kind)),
        ]);
        if let Some(appid) = &record.appid {
            item.insert("appid".to_owned(), s(appid));
        }
        if let Some(status) = record.status {
            item.insert("push_status".to_owned(), n(status));
        }
        if !record.detail.is_empty() {
            let detail = record
                .detail
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            item.insert("detail".to_owned(), AttributeValue::M(detail));
        }
        if let Some(at) = expiry(record.retention, now) {
            item.insert("ttl".to_owned(), n(at));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", e))?;
        Ok(())
    }

    async fn release(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(component, key)))
            .update_expression("SET #lease = :zero")
            .condition_expression("#state = :processing AND #owner = :owner")
            .set_expression_attribute_names(names(&[
                ("#lease", "lease_until"),
                ("#state", "state"),
                ("#owner", "owner"),
            ]))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":processing", s(PROCESSING))
            .expression_attribute_values(":owner", s(owner.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Done meanwhile, claimed by another delivery since, or never claimed: nothing to give
            // back.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn entry(
        &self,
        component: &ComponentAppId,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let now = self.clock.now();
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(component, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let ttl = num(&item, "ttl")?;
        if ttl.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let done = text(&item, "state").is_some_and(|state| state == DONE);
        let received_at = num(&item, "received_at")?.unwrap_or_default();
        let record = match (done, text(&item, "kind")) {
            (true, Some(kind)) => Some(PushRecord {
                kind,
                appid: text(&item, "appid"),
                status: num(&item, "push_status")?,
                detail: match item.get("detail") {
                    Some(AttributeValue::M(map)) => map
                        .iter()
                        .filter_map(|(k, v)| match v {
                            AttributeValue::S(v) => Some((k.clone(), v.clone())),
                            _ => None,
                        })
                        .collect(),
                    _ => Default::default(),
                },
                retention: match ttl {
                    None => Retention::Forever,
                    Some(at) => Retention::Secs(at - received_at),
                },
            }),
            _ => None,
        };
        Ok(Some(LedgerEntry {
            done,
            received_at,
            record,
        }))
    }
}
