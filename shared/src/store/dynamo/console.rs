//! The console's items: sessions (`C#<component>#CONSOLE_SESSION#<digest>` / `SESSION`) and failed
//! sign-ins per client and window (`C#<component>#SIGNIN_FAILURES#<client>#<window>` / `FAILURES`),
//! both read only by key and removed by TTL; the refresher's last run (`C#<component>` /
//! `REFRESHER_RUN`); and the recent events, one partition ordered by time
//! (`C#<component>#RECENT_EVENTS` / `<occurred_at>#<event id>`, removed by TTL).

use aws_sdk_dynamodb::types::ReturnValue;

use super::{DynamoStore, Reader, backend, home, key, n, names, s, values};
use crate::clock::EpochSeconds;
use crate::events::EventId;
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::store::schema::{PK, SK, TTL};
use crate::store::{
    ConsoleSession, ConsoleStore, RECENT_EVENT_RETENTION_SECS, RecentEvent, RefresherRun, Result,
    StoreError,
};

const SK_SESSION: &str = "SESSION";
const SK_FAILURES: &str = "FAILURES";
const SK_REFRESHER_RUN: &str = "REFRESHER_RUN";
const CREATED_AT: &str = "created_at";
const EXPIRES_AT: &str = "expires_at";
const COUNT: &str = "count";
const RUN: &str = "run";
const DETAIL_TYPE: &str = "detail_type";
const APPID: &str = "appid";
const OCCURRED_AT: &str = "occurred_at";
const EVENT_ID: &str = "event_id";

fn session_pk(component: &ComponentAppId, id_digest: &str) -> String {
    format!("C#{component}#CONSOLE_SESSION#{id_digest}")
}

fn failures_pk(component: &ComponentAppId, client: &str, window: EpochSeconds) -> String {
    format!("C#{component}#SIGNIN_FAILURES#{client}#{window}")
}

fn recent_pk(component: &ComponentAppId) -> String {
    format!("C#{component}#RECENT_EVENTS")
}

/// Zero-padded, so the sort key orders by time.
fn recent_sk(event: &RecentEvent) -> String {
    format!("{:012}#{}", event.occurred_at.max(0), event.id)
}

impl ConsoleStore for DynamoStore {
    async fn put_console_session(
        &self,
        component: &ComponentAppId,
        session: &ConsoleSession,
    ) -> Result<()> {
        let mut item = key(session_pk(component, &session.id_digest), SK_SESSION);
        item.extend([
            (CREATED_AT.to_owned(), n(session.created_at)),
            (EXPIRES_AT.to_owned(), n(session.expires_at)),
            (TTL.to_owned(), n(session.expires_at)),
        ]);
        self.put(item).await?;
        Ok(())
    }

    async fn console_session(
        &self,
        component: &ComponentAppId,
        id_digest: &str,
    ) -> Result<Option<ConsoleSession>> {
        let Some(item) = self
            .get(key(session_pk(component, id_digest), SK_SESSION))
            .await?
        else {
            return Ok(None);
        };
        let r = Reader::new(&item, "console session");
        let session = ConsoleSession {
            id_digest: id_digest.to_owned(),
            created_at: r.num(CREATED_AT)?,
            expires_at: r.num(EXPIRES_AT)?,
        };
        // DynamoDB removes expired items late, or (locally) never.
        Ok((session.expires_at > self.now()).then_some(session))
    }

    async fn delete_console_session(
        &self,
        component: &ComponentAppId,
        id_digest: &str,
    ) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(component, id_digest), SK_SESSION)))
            .send()
            .await
            .map_err(|e| backend("DeleteItem", e))?;
        Ok(())
    }

    async fn add_failed_sign_in(
        &self,
        component: &ComponentAppId,
        client: &str,
        window: EpochSeconds,
        expires_at: EpochSeconds,
    ) -> Result<u32> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                failures_pk(component, client, window),
                SK_FAILURES,
            )))
            .update_expression(format!("ADD #{COUNT} :one SET #{TTL} = :ttl"))
            .set_expression_attribute_names(names(&[COUNT, TTL]))
            .set_expression_attribute_values(values(vec![(":one", n(1)), (":ttl", n(expires_at))]))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| backend("UpdateItem", e))?;
        let attributes = out.attributes.unwrap_or_default();
        Reader::new(&attributes, "failed sign-ins").num(COUNT)
    }

    async fn failed_sign_ins(
        &self,
        component: &ComponentAppId,
        client: &str,
        window: EpochSeconds,
    ) -> Result<u32> {
        match self
            .get(key(failures_pk(component, client, window), SK_FAILURES))
            .await?
        {
            Some(item) => Reader::new(&item, "failed sign-ins").num(COUNT),
            None => Ok(0),
        }
    }

    async fn put_refresher_run(
        &self,
        component: &ComponentAppId,
        run: &RefresherRun,
    ) -> Result<()> {
        let json = serde_json::to_string(run).map_err(|_| StoreError::Corrupt {
            item: "refresher run",
            attribute: RUN,
        })?;
        let mut item = key(home(component), SK_REFRESHER_RUN);
        item.insert(RUN.to_owned(), s(json));
        self.put(item).await?;
        Ok(())
    }

    async fn refresher_run(&self, component: &ComponentAppId) -> Result<Option<RefresherRun>> {
        let Some(item) = self.get(key(home(component), SK_REFRESHER_RUN)).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item, "refresher run");
        serde_json::from_str(r.str(RUN)?)
            .map(Some)
            .map_err(|_| StoreError::Corrupt {
                item: "refresher run",
                attribute: RUN,
            })
    }

    async fn note_recent_events(
        &self,
        component: &ComponentAppId,
        events: &[RecentEvent],
    ) -> Result<()> {
        // One item per event under its own sort key: writing it again writes the same item.
        let items = events
            .iter()
            .map(|event| {
                let mut item = key(recent_pk(component), recent_sk(event));
                item.extend([
                    (EVENT_ID.to_owned(), s(event.id.as_str())),
                    (DETAIL_TYPE.to_owned(), s(event.detail_type.clone())),
                    (OCCURRED_AT.to_owned(), n(event.occurred_at)),
                    (
                        TTL.to_owned(),
                        n(event.occurred_at + RECENT_EVENT_RETENTION_SECS),
                    ),
                ]);
                if let Some(appid) = &event.authorizer {
                    item.insert(APPID.to_owned(), s(appid.as_str()));
                }
                item
            })
            .collect::<Vec<_>>();
        for item in items {
            // Single writes: every function that publishes may put items; not all may batch.
            self.put(item).await?;
        }
        Ok(())
    }

    async fn recent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> Result<Vec<RecentEvent>> {
        let cutoff = self.now() - RECENT_EVENT_RETENTION_SECS;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("#{PK} = :pk AND #{SK} > :after"))
            .set_expression_attribute_names(names(&[PK, SK]))
            .set_expression_attribute_values(values(vec![
                (":pk", s(recent_pk(component))),
                (":after", s(format!("{:012}", cutoff.max(0)))),
            ]))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(|item| {
                let r = Reader::new(item, "recent event");
                Ok(RecentEvent {
                    id: r.parse(EVENT_ID, EventId::parse)?,
                    detail_type: r.str(DETAIL_TYPE)?.to_owned(),
                    authorizer: r
                        .opt_str(APPID)?
                        .map(|a| {
                            AuthorizerAppId::parse(a).map_err(|_| StoreError::Corrupt {
                                item: "recent event",
                                attribute: APPID,
                            })
                        })
                        .transpose()?,
                    occurred_at: r.num(OCCURRED_AT)?,
                })
            })
            .collect()
    }
}
