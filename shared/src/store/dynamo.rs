//! The DynamoDB adapter: one table, single-table design (docs/storage.md has the key schema).
//!
//! Every rule is a condition expression evaluated by DynamoDB in the same request as the write, so
//! two workers can never both pass a check and then both write. Secrets leave the process only as
//! attribute values; a failed condition never returns an old item to the caller.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, Select, WriteRequest,
};
use sha2::{Digest, Sha256};

mod campaigns;
mod console;
mod official_accounts;
mod outbox;

use outbox::StateWrite;

pub use campaigns::{COUNT_SHARDS, StoredAuditQuota, Versioned, work_pk};

use super::schema::{DUE_AT, DUE_INDEX, DUE_PK, PK, SK, STATUS_INDEX, STATUS_PK, TTL};
use super::*;
use crate::clock::Clock;

/// How long one DynamoDB request may take before the SDK gives up on it, and how long a whole
/// operation (with the SDK's retries) may take. Without them a store that accepts connections and
/// never answers would hold a push until Lambda's own timeout, long after WeChat (which waits 5 s)
/// has given up.
pub const DYNAMODB_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DYNAMODB_OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

/// The DynamoDB client every function uses: the SDK's configuration (which honours
/// `AWS_ENDPOINT_URL_DYNAMODB`) with the timeouts above.
pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(dynamodb_timeouts())
        .build();
    Client::from_conf(config)
}

/// The timeouts of [`dynamodb_client`].
pub fn dynamodb_timeouts() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(DYNAMODB_ATTEMPT_TIMEOUT)
        .operation_timeout(DYNAMODB_OPERATION_TIMEOUT)
        .build()
}

/// How many partitions of the due index each component's tokens are spread over. The refresher
/// queries each; changing it means rewriting `due_pk` of every authorizer.
pub const DUE_SHARDS: u32 = 8;

const SK_TICKET: &str = "TICKET";
const SK_COMPONENT_TOKEN: &str = "COMPONENT_TOKEN";
const SK_AUTH_CODE: &str = "AUTHCODE";
const AUTHORIZER_PREFIX: &str = "AUTHORIZER#";

const TICKET: &str = "ticket";
const RECEIVED_AT: &str = "received_at";
const TOKEN: &str = "token";
const EXPIRES_AT: &str = "expires_at";
const VERSION: &str = "version";
const OWNER: &str = "owner";
const APPID: &str = "appid";
const STATUS: &str = "status";
const REFRESH_TOKEN: &str = "refresh_token";
const REFRESH_VERSION: &str = "refresh_token_version";
const ACCESS_TOKEN: &str = "access_token";
const ACCESS_EXPIRES_AT: &str = "access_token_expires_at";
const FUNC_INFO: &str = "func_info";
const ACCOUNT: &str = "account";
const AUTHORIZED_AT: &str = "authorized_at";
const UPDATED_AT: &str = "updated_at";
const AUDIT_ID: &str = "audit_id";
const AUDIT_STATUS: &str = "audit_status";
const REASON: &str = "reason";
const SUBMITTED_AT: &str = "submitted_at";
const AUTO_RELEASE: &str = "auto_release";
const LEASE_OWNER: &str = "refresh_lease_owner";
const LEASE_EXPIRES_AT: &str = "refresh_lease_expires_at";
const SETTINGS: &str = "settings";
const CAMPAIGN: &str = "campaign";
const MONTH_COUNT: &str = "month_count";
/// How long a month's withdrawal counts are kept after their last change.
const WITHDRAWALS_KEPT_SECS: i64 = 62 * 86_400;

type Item = HashMap<String, AttributeValue>;

/// Every capability of [`Store`](super::Store), in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

/// What the due query read, to show that it reads only due items.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DueQueryStats {
    /// One query per shard.
    pub queries: u32,
    /// Items DynamoDB evaluated (`ScannedCount`, summed over the queries).
    pub scanned_count: u64,
    /// Read capacity consumed, when the endpoint reports it.
    pub consumed_read_units: Option<f64>,
}

// ---- keys -------------------------------------------------------------------------------------

fn home(component: &ComponentAppId) -> String {
    format!("C#{component}")
}

fn lease_sk(key: &LeaseKey) -> String {
    match key {
        LeaseKey::ComponentToken => "LEASE#COMPONENT_TOKEN".to_owned(),
        LeaseKey::StartPushTicket => "LEASE#START_PUSH_TICKET".to_owned(),
        LeaseKey::JsapiTicket(appid) => format!("LEASE#JSAPI_TICKET#{appid}"),
    }
}

fn authorizer_sk(appid: &AuthorizerAppId) -> String {
    format!("{AUTHORIZER_PREFIX}{appid}")
}

fn audit_sk(appid: &AuthorizerAppId) -> String {
    format!("AUDIT#{appid}")
}

// A partition each: written once per authorization, only ever read by key.
/// A mini program's withdrawals in the month of Beijing day `day` (`YYYYMMDD`): the month's count
/// and one count per day (`d01`..`d31`).
fn withdrawals_sk(appid: &AuthorizerAppId, day: u32) -> String {
    format!("WITHDRAWALS#{appid}#{}", day / 100)
}

fn withdrawal_day_attribute(day: u32) -> String {
    format!("d{:02}", day % 100)
}

fn completed_authorization_pk(component: &ComponentAppId, code: &AuthCodeDigest) -> String {
    format!("C#{component}#AUTHCODE#{}", code.as_str())
}

fn due_shard(appid: &AuthorizerAppId) -> u32 {
    let digest = Sha256::digest(appid.as_str().as_bytes());
    u32::from(digest[0]) % DUE_SHARDS
}

fn due_pk(component: &ComponentAppId, shard: u32) -> String {
    format!("C#{component}#DUE#{shard}")
}

fn status_pk(component: &ComponentAppId, status: AuthorizerStatus) -> String {
    format!("C#{component}#STATUS#{status}")
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

// ---- attribute values -------------------------------------------------------------------------

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `#name` placeholders for attribute names (several are reserved words: status, owner, ttl...).
fn names(attributes: &[&str]) -> Option<HashMap<String, String>> {
    Some(
        attributes
            .iter()
            .map(|a| (format!("#{a}"), (*a).to_owned()))
            .collect(),
    )
}

/// `:name` values; `None` when there are none (DynamoDB refuses an empty map).
fn values(pairs: Vec<(&str, AttributeValue)>) -> Option<HashMap<String, AttributeValue>> {
    if pairs.is_empty() {
        return None;
    }
    Some(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `items` (read with one more than `limit` asked for) as a page of at most `limit`, with a cursor
/// after its last item when more exist: the extra item was read, or the read was cut short.
fn page_of<T>(
    mut items: Vec<T>,
    limit: usize,
    more_in_table: bool,
    cursor_after: impl Fn(&T) -> Cursor,
) -> Page<T> {
    let more = items.len() > limit || more_in_table;
    items.truncate(limit);
    let next = if more {
        items.last().map(cursor_after)
    } else {
        None
    };
    Page { items, next }
}

/// Reads attributes of one item, naming the attribute when it is missing or malformed.
struct Reader<'a> {
    item: &'a Item,
    kind: &'static str,
}

impl<'a> Reader<'a> {
    fn new(item: &'a Item, kind: &'static str) -> Self {
        Self { item, kind }
    }

    fn corrupt(&self, attribute: &'static str) -> StoreError {
        StoreError::Corrupt {
            item: self.kind,
            attribute,
        }
    }

    fn opt_str(&self, attribute: &'static str) -> Result<Option<&'a str>> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v)),
            Some(_) => Err(self.corrupt(attribute)),
        }
    }

    fn opt_bool(&self, attribute: &'static str) -> Result<Option<bool>> {
        match self.item.get(attribute) {
            None => Ok(None),
            Some(AttributeValue::Bool(v)) => Ok(Some(*v)),
            Some(_) => Err(self.corrupt(attribute)),
        }
    }

    fn str(&self, attribute: &'static str) -> Result<&'a str> {
        self.opt_str(attribute)?
            .ok_or_else(|| self.corrupt(attribute))
    }

    fn secret(&self, attribute: &'static str) -> Result<Secret> {
        self.str(attribute).map(Secret::new)
    }

    fn num<T: FromStr>(&self, attribute: &'static str) -> Result<T> {
        match self.item.get(attribute) {
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| self.corrupt(attribute)),
            _ => Err(self.corrupt(attribute)),
        }
    }

    fn parse<T>(&self, attribute: &'static str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
        parse(self.str(attribute)?).ok_or_else(|| self.corrupt(attribute))
    }
}

pub(super) fn backend<E>(operation: &'static str, err: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Backend {
        operation,
        source: Box::new(err),
    }
}

// ---- records <-> items ------------------------------------------------------------------------

fn account_value(account: &AccountInfo) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("nick_name".to_owned(), s(&account.nick_name)),
        ("user_name".to_owned(), s(&account.user_name)),
        ("kind".to_owned(), s(account.kind.as_str())),
        ("service_type".to_owned(), n(account.service_type)),
        ("verify_type".to_owned(), n(account.verify_type)),
        ("principal_name".to_owned(), s(&account.principal_name)),
        ("head_img".to_owned(), s(&account.head_img)),
        ("qrcode_url".to_owned(), s(&account.qrcode_url)),
    ]))
}

fn account_from(value: &AttributeValue) -> Result<AccountInfo> {
    let AttributeValue::M(map) = value else {
        return Err(StoreError::Corrupt {
            item: "authorizer",
            attribute: ACCOUNT,
        });
    };
    let r = Reader::new(map, "authorizer account");
    Ok(AccountInfo {
        nick_name: r.str("nick_name")?.to_owned(),
        user_name: r.str("user_name")?.to_owned(),
        kind: r.parse("kind", AccountKind::parse)?,
        service_type: r.num("service_type")?,
        verify_type: r.num("verify_type")?,
        principal_name: r.str("principal_name")?.to_owned(),
        head_img: r.str("head_img")?.to_owned(),
        qrcode_url: r.str("qrcode_url")?.to_owned(),
    })
}

fn func_info_value(func_info: &[u32]) -> AttributeValue {
    AttributeValue::L(func_info.iter().map(n).collect())
}

fn authorizer_from(item: &Item) -> Result<Authorizer> {
    let r = Reader::new(item, "authorizer");
    let func_info = match item.get(FUNC_INFO) {
        Some(AttributeValue::L(ids)) => ids
            .iter()
            .map(|v| match v {
                AttributeValue::N(id) => id.parse().ok(),
                _ => None,
            })
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| r.corrupt(FUNC_INFO))?,
        _ => return Err(r.corrupt(FUNC_INFO)),
    };
    Ok(Authorizer {
        appid: r.parse(APPID, |a| AuthorizerAppId::parse(a).ok())?,
        status: r.parse(STATUS, AuthorizerStatus::parse)?,
        refresh_token: r.secret(REFRESH_TOKEN)?,
        refresh_token_version: r.num(REFRESH_VERSION)?,
        access_token: ExpiringToken {
            value: r.secret(ACCESS_TOKEN)?,
            expires_at: r.num(ACCESS_EXPIRES_AT)?,
        },
        func_info,
        account: item.get(ACCOUNT).map(account_from).transpose()?,
        authorized_at: r.num(AUTHORIZED_AT)?,
        updated_at: r.num(UPDATED_AT)?,
    })
}

/// The complete item for an authorizer, index attributes included (for bulk imports).
fn authorizer_item(component: &ComponentAppId, a: &Authorizer) -> Item {
    let mut item = key(home(component), authorizer_sk(&a.appid));
    item.extend([
        (APPID.to_owned(), s(a.appid.as_str())),
        (STATUS.to_owned(), s(a.status.as_str())),
        (STATUS_PK.to_owned(), s(status_pk(component, a.status))),
        (REFRESH_TOKEN.to_owned(), s(a.refresh_token.expose())),
        (REFRESH_VERSION.to_owned(), n(a.refresh_token_version)),
        (ACCESS_TOKEN.to_owned(), s(a.access_token.value.expose())),
        (ACCESS_EXPIRES_AT.to_owned(), n(a.access_token.expires_at)),
        (FUNC_INFO.to_owned(), func_info_value(&a.func_info)),
        (AUTHORIZED_AT.to_owned(), n(a.authorized_at)),
        (UPDATED_AT.to_owned(), n(a.updated_at)),
    ]);
    if let Some(account) = &a.account {
        item.insert(ACCOUNT.to_owned(), account_value(account));
    }
    if a.status == AuthorizerStatus::Authorized {
        item.insert(DUE_PK.to_owned(), s(due_pk(component, due_shard(&a.appid))));
        item.insert(DUE_AT.to_owned(), n(a.access_token.expires_at));
    }
    item
}

fn due_token_from(item: &Item) -> Result<DueToken> {
    let r = Reader::new(item, "due index");
    let appid = r.parse(SK, |sk| {
        sk.strip_prefix(AUTHORIZER_PREFIX)
            .and_then(|a| AuthorizerAppId::parse(a).ok())
    })?;
    Ok(DueToken {
        appid,
        expires_at: r.num(DUE_AT)?,
    })
}

// ---- the adapter ------------------------------------------------------------------------------

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn now(&self) -> EpochSeconds {
        self.clock.now()
    }

    async fn get(&self, key: Item) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        Ok(out.item)
    }

    /// An unconditional PutItem.
    async fn put(&self, item: Item) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", e))?;
        Ok(())
    }

    /// A conditional PutItem whose only expected failure is the condition, reported as `on_fail`.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        attribute_names: &[&str],
        attribute_values: Vec<(&str, AttributeValue)>,
        on_fail: StoreError,
    ) -> Result<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(names(attribute_names))
            .set_expression_attribute_values(values(attribute_values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(on_fail)
            }
            Err(e) => Err(backend("PutItem", e)),
        }
    }

    /// A conditional UpdateItem returning the new item, or on a failed condition the old one (if
    /// there was one).
    async fn update_if(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        attribute_names: &[&str],
        attribute_values: Vec<(&str, AttributeValue)>,
    ) -> Result<std::result::Result<Item, ConditionFailed>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(names(attribute_names))
            .set_expression_attribute_values(values(attribute_values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(ccf)) => {
                    Ok(Err(ConditionFailed {
                        old: ccf.item().filter(|i| !i.is_empty()).cloned(),
                    }))
                }
                _ => Err(backend("UpdateItem", e)),
            },
        }
    }

    /// One page of the items of partition `pk` whose sort key starts with `prefix`, after
    /// `start`, in sort key order (`forward`) or reversed: up to `limit + 1` items (one more than
    /// asked, to know whether another page exists without returning an empty one) and whether
    /// the 1 MB response limit cut the page short.
    async fn query_prefix(
        &self,
        pk: String,
        prefix: &str,
        start: Option<Item>,
        limit: usize,
        forward: bool,
    ) -> Result<(Vec<Item>, bool)> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("#{PK} = :pk AND begins_with(#{SK}, :prefix)"))
            .set_expression_attribute_names(names(&[PK, SK]))
            .set_expression_attribute_values(values(vec![(":pk", s(pk)), (":prefix", s(prefix))]))
            .scan_index_forward(forward)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        let more_in_table = out.last_evaluated_key().is_some();
        Ok((out.items.unwrap_or_default(), more_in_table))
    }

    /// Stores authorizers as given, unconditionally, with BatchWriteItem (25 per request). For
    /// seeding an empty table (tests, migrations, recovery from api_get_authorizer_list); the
    /// versioned rules apply to the other writes only.
    pub async fn import_authorizers(
        &self,
        component: &ComponentAppId,
        authorizers: &[Authorizer],
    ) -> Result<()> {
        self.batch_put(
            authorizers
                .iter()
                .map(|a| authorizer_item(component, a))
                .collect(),
        )
        .await
    }

    /// Writes `items` unconditionally with BatchWriteItem, 25 per request, retrying what DynamoDB
    /// leaves unprocessed (throttling) with a growing back-off.
    pub(super) async fn batch_put(&self, items: Vec<Item>) -> Result<()> {
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(|e| backend("BatchWriteItem", e))
                })
                .collect::<Result<_>>()?;
            let mut attempt = 0u32;
            while !requests.is_empty() {
                if attempt > 0 {
                    // Unprocessed items mean throttling: back off before retrying them.
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
                }
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| backend("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// [`DueTokens::authorizer_tokens_due`] with what it read: one Query per shard of the sparse
    /// `due` index, each reading only the entries whose expiry is at or before `due_by`.
    pub async fn authorizer_tokens_due_with_stats(
        &self,
        component: &ComponentAppId,
        due_by: EpochSeconds,
        limit: usize,
    ) -> Result<(Vec<DueToken>, DueQueryStats)> {
        let mut due = Vec::new();
        let mut stats = DueQueryStats::default();
        if limit == 0 {
            return Ok((due, stats));
        }
        let page = i32::try_from(limit).unwrap_or(i32::MAX);
        for shard in 0..DUE_SHARDS {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression(format!("#{DUE_PK} = :shard AND #{DUE_AT} <= :due_by"))
                .set_expression_attribute_names(names(&[DUE_PK, DUE_AT]))
                .set_expression_attribute_values(values(vec![
                    (":shard", s(due_pk(component, shard))),
                    (":due_by", n(due_by)),
                ]))
                .limit(page)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            stats.queries += 1;
            stats.scanned_count += u64::try_from(out.scanned_count()).unwrap_or(0);
            if let Some(units) = out.consumed_capacity().and_then(|c| c.capacity_units()) {
                *stats.consumed_read_units.get_or_insert(0.0) += units;
            }
            for item in out.items() {
                due.push(due_token_from(item)?);
            }
        }
        due.sort_by(|a, b| (a.expires_at, &a.appid).cmp(&(b.expires_at, &b.appid)));
        due.truncate(limit);
        Ok((due, stats))
    }
}

/// A conditional update whose condition did not hold.
struct ConditionFailed {
    old: Option<Item>,
}

impl ConditionFailed {
    /// `NotFound` when there was nothing to update, `Conflict` otherwise.
    fn into_error(self) -> StoreError {
        if self.old.is_some() {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        }
    }
}

impl TicketStore for DynamoStore {
    async fn latest_ticket(&self, component: &ComponentAppId) -> Result<Option<Ticket>> {
        let Some(item) = self.get(key(home(component), SK_TICKET)).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item, "ticket");
        let ticket = Ticket {
            value: r.secret(TICKET)?,
            received_at: r.num(RECEIVED_AT)?,
        };
        Ok((ticket.received_at + TICKET_VALIDITY_SECS > self.now()).then_some(ticket))
    }

    async fn put_ticket(&self, component: &ComponentAppId, ticket: &Ticket) -> Result<()> {
        let mut item = key(home(component), SK_TICKET);
        item.extend([
            (TICKET.to_owned(), s(ticket.value.expose())),
            (RECEIVED_AT.to_owned(), n(ticket.received_at)),
            (TTL.to_owned(), n(ticket.received_at + TICKET_VALIDITY_SECS)),
        ]);
        self.put_if(
            item,
            &format!("attribute_not_exists(#{PK}) OR #{RECEIVED_AT} <= :received_at"),
            &[PK, RECEIVED_AT],
            vec![(":received_at", n(ticket.received_at))],
            StoreError::Conflict,
        )
        .await
    }
}

impl ComponentTokenStore for DynamoStore {
    async fn component_token(&self, component: &ComponentAppId) -> Result<Option<ComponentToken>> {
        self.versioned_token(key(home(component), SK_COMPONENT_TOKEN), "component token")
            .await
    }

    async fn replace_component_token(
        &self,
        component: &ComponentAppId,
        token: &ExpiringToken,
        replaces: Option<u64>,
    ) -> Result<u64> {
        self.replace_versioned_token(
            key(home(component), SK_COMPONENT_TOKEN),
            token,
            replaces,
            "component token",
        )
        .await
    }
}

impl DynamoStore {
    /// A token item kept with its version (the component token, a `jsapi_ticket`), or `None` if
    /// there is none or it has expired.
    async fn versioned_token(
        &self,
        item_key: Item,
        kind: &'static str,
    ) -> Result<Option<ComponentToken>> {
        let Some(item) = self.get(item_key).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item, kind);
        let token = ComponentToken {
            token: ExpiringToken {
                value: r.secret(TOKEN)?,
                expires_at: r.num(EXPIRES_AT)?,
            },
            version: r.num(VERSION)?,
        };
        Ok((token.token.expires_at > self.now()).then_some(token))
    }

    /// Stores `token` at `item_key` if the stored one is still version `replaces` (or, for `None`,
    /// none valid is stored); the new version, or [`StoreError::Conflict`].
    async fn replace_versioned_token(
        &self,
        item_key: Item,
        token: &ExpiringToken,
        replaces: Option<u64>,
        kind: &'static str,
    ) -> Result<u64> {
        let mut vals = vec![
            (":token", s(token.value.expose())),
            (":expires_at", n(token.expires_at)),
            (":one", n(1)),
        ];
        let mut attribute_names = vec![TOKEN, EXPIRES_AT, VERSION];
        let condition = match replaces {
            Some(seen) => {
                vals.push((":seen", n(seen)));
                format!("#{VERSION} = :seen")
            }
            None => {
                vals.push((":now", n(self.now())));
                attribute_names.push(PK);
                format!("attribute_not_exists(#{PK}) OR #{EXPIRES_AT} <= :now")
            }
        };
        let stored = self
            .update_if(
                item_key,
                &format!("SET #{TOKEN} = :token, #{EXPIRES_AT} = :expires_at ADD #{VERSION} :one"),
                &condition,
                &attribute_names,
                vals,
            )
            .await?
            // Somebody else's token is stored (or none is, for `Some`): the caller's view is stale.
            .map_err(|_| StoreError::Conflict)?;
        Reader::new(&stored, kind).num(VERSION)
    }
}

impl LeaseStore for DynamoStore {
    async fn try_acquire_lease(
        &self,
        component: &ComponentAppId,
        lease_key: &LeaseKey,
        owner: &LeaseOwner,
        ttl_secs: i64,
    ) -> Result<Lease> {
        let now = self.now();
        let expires_at = now + ttl_secs;
        let mut item = key(home(component), lease_sk(lease_key));
        item.extend([
            (OWNER.to_owned(), s(owner.as_str())),
            (EXPIRES_AT.to_owned(), n(expires_at)),
            (TTL.to_owned(), n(expires_at)),
        ]);
        self.put_if(
            item,
            &format!("attribute_not_exists(#{PK}) OR #{EXPIRES_AT} <= :now OR #{OWNER} = :owner"),
            &[PK, EXPIRES_AT, OWNER],
            vec![(":now", n(now)), (":owner", s(owner.as_str()))],
            StoreError::LeaseHeld,
        )
        .await?;
        Ok(Lease {
            key: lease_key.clone(),
            owner: owner.clone(),
            expires_at,
        })
    }

    async fn release_lease(
        &self,
        component: &ComponentAppId,
        lease_key: &LeaseKey,
        owner: &LeaseOwner,
    ) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(home(component), lease_sk(lease_key))))
            .condition_expression(format!("#{OWNER} = :owner"))
            .set_expression_attribute_names(names(&[OWNER]))
            .set_expression_attribute_values(values(vec![(":owner", s(owner.as_str()))]))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(ccf)) => {
                    let held_by_other = ccf.item().is_some_and(|item| {
                        Reader::new(item, "lease")
                            .num::<EpochSeconds>(EXPIRES_AT)
                            .is_ok_and(|expires_at| expires_at > self.now())
                    });
                    Err(if held_by_other {
                        StoreError::LeaseHeld
                    } else {
                        StoreError::NotFound
                    })
                }
                _ => Err(backend("DeleteItem", e)),
            },
        }
    }
}

impl AuthorizerStore for DynamoStore {
    async fn record_authorization_with_events(
        &self,
        component: &ComponentAppId,
        grant: &AuthorizationGrant,
        events: &[ProductEvent],
    ) -> Result<Authorizer> {
        let now = self.now();
        let mut update = format!(
            "SET #{APPID} = :appid, #{STATUS} = :status, #{STATUS_PK} = :status_pk, \
             #{REFRESH_TOKEN} = :refresh_token, #{ACCESS_TOKEN} = :access_token, \
             #{ACCESS_EXPIRES_AT} = :expires_at, #{DUE_PK} = :due_pk, #{DUE_AT} = :expires_at, \
             #{FUNC_INFO} = :func_info, #{AUTHORIZED_AT} = :now, #{UPDATED_AT} = :now"
        );
        let mut vals = vec![
            (":appid", s(grant.appid.as_str())),
            (":status", s(AuthorizerStatus::Authorized.as_str())),
            (
                ":status_pk",
                s(status_pk(component, AuthorizerStatus::Authorized)),
            ),
            (":refresh_token", s(grant.refresh_token.expose())),
            (":access_token", s(grant.access_token.value.expose())),
            (":expires_at", n(grant.access_token.expires_at)),
            (":due_pk", s(due_pk(component, due_shard(&grant.appid)))),
            (":func_info", func_info_value(&grant.func_info)),
            (":now", n(now)),
            (":one", n(1)),
        ];
        if let Some(account) = &grant.account {
            update.push_str(&format!(", #{ACCOUNT} = :account"));
            vals.push((":account", account_value(account)));
        }
        // Re-authorization is the newest word from WeChat: it always becomes the next version.
        update.push_str(&format!(" ADD #{REFRESH_VERSION} :one"));
        let record = key(home(component), authorizer_sk(&grant.appid));
        let attribute_names = names(
            &[
                APPID,
                STATUS,
                STATUS_PK,
                REFRESH_TOKEN,
                ACCESS_TOKEN,
                ACCESS_EXPIRES_AT,
                DUE_PK,
                DUE_AT,
                FUNC_INFO,
                AUTHORIZED_AT,
                UPDATED_AT,
                ACCOUNT,
                REFRESH_VERSION,
            ]
            .into_iter()
            .filter(|a| *a != ACCOUNT || grant.account.is_some())
            .collect::<Vec<_>>(),
        );
        if !events.is_empty() {
            let write = StateWrite::Update {
                key: record.clone(),
                update,
                condition: None,
                names: attribute_names,
                values: values(vals),
            };
            // No condition, so it cannot fail on one.
            let _ = self.write_with_events(component, write, events).await?;
            let stored = self.get(record).await?.ok_or(StoreError::NotFound)?;
            return authorizer_from(&stored);
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(record))
            .update_expression(update)
            .set_expression_attribute_names(attribute_names)
            .set_expression_attribute_values(values(vals))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| backend("UpdateItem", e))?;
        authorizer_from(&out.attributes.unwrap_or_default())
    }

    async fn update_authorizer_tokens(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        refresh: &TokenRefresh,
    ) -> Result<Authorizer> {
        let mut update = format!(
            "SET #{ACCESS_TOKEN} = :access_token, #{ACCESS_EXPIRES_AT} = :expires_at, \
             #{DUE_AT} = :expires_at, #{UPDATED_AT} = :now"
        );
        let mut attribute_names = vec![
            PK,
            STATUS,
            ACCESS_TOKEN,
            ACCESS_EXPIRES_AT,
            DUE_AT,
            UPDATED_AT,
            REFRESH_VERSION,
        ];
        let mut vals = vec![
            (":access_token", s(refresh.access_token.value.expose())),
            (":expires_at", n(refresh.access_token.expires_at)),
            (":now", n(self.now())),
            (":based_on", n(refresh.based_on_version)),
            (":authorized", s(AuthorizerStatus::Authorized.as_str())),
        ];
        if let Some(token) = &refresh.refresh_token {
            update.push_str(&format!(
                ", #{REFRESH_TOKEN} = :refresh_token, #{REFRESH_VERSION} = :next_version"
            ));
            attribute_names.push(REFRESH_TOKEN);
            vals.push((":refresh_token", s(token.expose())));
            vals.push((":next_version", n(refresh.based_on_version + 1)));
        }
        update.push_str(&format!(" REMOVE #{LEASE_OWNER}, #{LEASE_EXPIRES_AT}"));
        attribute_names.extend([LEASE_OWNER, LEASE_EXPIRES_AT]);
        // `<=` rather than `=`: a writer may carry any version not older than the stored one, so
        // among racing writers the highest version is the one that stays.
        let condition = format!(
            "attribute_exists(#{PK}) AND #{REFRESH_VERSION} <= :based_on AND #{STATUS} = :authorized"
        );
        let stored = self
            .update_if(
                key(home(component), authorizer_sk(appid)),
                &update,
                &condition,
                &attribute_names,
                vals,
            )
            .await?
            .map_err(ConditionFailed::into_error)?;
        authorizer_from(&stored)
    }

    async fn claim_token_refresh(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        owner: &LeaseOwner,
        ttl_secs: i64,
        due_by: Option<EpochSeconds>,
    ) -> Result<RefreshClaim> {
        let now = self.now();
        let mut condition = format!(
            "attribute_exists(#{PK}) AND #{STATUS} = :authorized AND \
             (attribute_not_exists(#{LEASE_EXPIRES_AT}) OR #{LEASE_EXPIRES_AT} <= :now OR \
             #{LEASE_OWNER} = :owner)"
        );
        let mut attribute_names = vec![PK, STATUS, LEASE_OWNER, LEASE_EXPIRES_AT];
        let mut vals = vec![
            (":owner", s(owner.as_str())),
            (":lease_expires_at", n(now + ttl_secs)),
            (":now", n(now)),
            (":authorized", s(AuthorizerStatus::Authorized.as_str())),
        ];
        if let Some(due_by) = due_by {
            condition.push_str(&format!(" AND #{ACCESS_EXPIRES_AT} <= :due_by"));
            attribute_names.push(ACCESS_EXPIRES_AT);
            vals.push((":due_by", n(due_by)));
        }
        let claimed = self
            .update_if(
                key(home(component), authorizer_sk(appid)),
                &format!("SET #{LEASE_OWNER} = :owner, #{LEASE_EXPIRES_AT} = :lease_expires_at"),
                &condition,
                &attribute_names,
                vals,
            )
            .await?;
        let old = match claimed {
            Ok(item) => return Ok(RefreshClaim::Claimed(authorizer_from(&item)?)),
            Err(ConditionFailed { old: None }) => return Err(StoreError::NotFound),
            Err(ConditionFailed { old: Some(old) }) => old,
        };
        let stored = authorizer_from(&old)?;
        let r = Reader::new(&old, "authorizer");
        let held_by_other = r.opt_str(LEASE_OWNER)?.is_some_and(|o| o != owner.as_str())
            && r.num::<EpochSeconds>(LEASE_EXPIRES_AT)
                .is_ok_and(|at| at > now);
        Ok(
            if stored.status == AuthorizerStatus::Authorized && held_by_other {
                RefreshClaim::Held(stored)
            } else {
                RefreshClaim::Declined(stored)
            },
        )
    }

    async fn release_token_refresh(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        owner: &LeaseOwner,
    ) -> Result<()> {
        let released = self
            .update_if(
                key(home(component), authorizer_sk(appid)),
                &format!("REMOVE #{LEASE_OWNER}, #{LEASE_EXPIRES_AT}"),
                &format!("#{LEASE_OWNER} = :owner"),
                &[LEASE_OWNER, LEASE_EXPIRES_AT],
                vec![(":owner", s(owner.as_str()))],
            )
            .await?;
        match released {
            Ok(_) => Ok(()),
            Err(ConditionFailed { old }) => {
                let now = self.now();
                let held_by_other = old.as_ref().is_some_and(|item| {
                    Reader::new(item, "authorizer")
                        .num::<EpochSeconds>(LEASE_EXPIRES_AT)
                        .is_ok_and(|at| at > now)
                });
                Err(if held_by_other {
                    StoreError::LeaseHeld
                } else {
                    StoreError::NotFound
                })
            }
        }
    }

    async fn set_authorizer_status_with_events(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        status: AuthorizerStatus,
        events: &[ProductEvent],
    ) -> Result<()> {
        let mut vals = vec![
            (":status", s(status.as_str())),
            (":status_pk", s(status_pk(component, status))),
            (":now", n(self.now())),
        ];
        let common =
            format!("SET #{STATUS} = :status, #{STATUS_PK} = :status_pk, #{UPDATED_AT} = :now");
        // The due index is sparse: only authorized authorizers carry its keys.
        let update = if status == AuthorizerStatus::Authorized {
            vals.push((":due_pk", s(due_pk(component, due_shard(appid)))));
            format!("{common}, #{DUE_PK} = :due_pk, #{DUE_AT} = #{ACCESS_EXPIRES_AT}")
        } else {
            format!("{common} REMOVE #{DUE_PK}, #{DUE_AT}")
        };
        let mut attribute_names = vec![PK, STATUS, STATUS_PK, UPDATED_AT, DUE_PK, DUE_AT];
        if status == AuthorizerStatus::Authorized {
            attribute_names.push(ACCESS_EXPIRES_AT);
        }
        let record = key(home(component), authorizer_sk(appid));
        let condition = format!("attribute_exists(#{PK})");
        if events.is_empty() {
            self.update_if(record, &update, &condition, &attribute_names, vals)
                .await?
                .map_err(|_| StoreError::NotFound)?;
            return Ok(());
        }
        let write = StateWrite::Update {
            key: record,
            update,
            condition: Some(condition),
            names: names(&attribute_names),
            values: values(vals),
        };
        self.write_with_events(component, write, events)
            .await?
            .map_err(|_| StoreError::NotFound)
    }

    async fn set_account_info(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        account: &AccountInfo,
    ) -> Result<()> {
        self.update_if(
            key(home(component), authorizer_sk(appid)),
            &format!("SET #{ACCOUNT} = :account, #{UPDATED_AT} = :now"),
            &format!("attribute_exists(#{PK})"),
            &[PK, ACCOUNT, UPDATED_AT],
            vec![
                (":account", account_value(account)),
                (":now", n(self.now())),
            ],
        )
        .await?
        .map_err(|_| StoreError::NotFound)?;
        Ok(())
    }

    async fn authorizer(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<Authorizer>> {
        self.get(key(home(component), authorizer_sk(appid)))
            .await?
            .map(|item| authorizer_from(&item))
            .transpose()
    }
}

impl AuthorizerSettingsStore for DynamoStore {
    async fn put_authorizer_settings(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        settings: &AuthorizerSettings,
    ) -> Result<()> {
        self.update_if(
            key(home(component), authorizer_sk(appid)),
            &format!("SET #{SETTINGS} = :settings, #{UPDATED_AT} = :now"),
            &format!("attribute_exists(#{PK})"),
            &[PK, SETTINGS, UPDATED_AT],
            vec![
                (":settings", s(settings.to_json())),
                (":now", n(self.now())),
            ],
        )
        .await?
        .map_err(|_| StoreError::NotFound)?;
        Ok(())
    }

    async fn authorizer_settings(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<AuthorizerSettings>> {
        let Some(item) = self.get(key(home(component), authorizer_sk(appid))).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item, "authorizer");
        match r.opt_str(SETTINGS)? {
            None => Ok(Some(AuthorizerSettings::default())),
            Some(json) => AuthorizerSettings::from_json(json)
                .map(Some)
                .ok_or_else(|| r.corrupt(SETTINGS)),
        }
    }
}

impl DueTokens for DynamoStore {
    async fn authorizer_tokens_due(
        &self,
        component: &ComponentAppId,
        due_by: EpochSeconds,
        limit: usize,
    ) -> Result<Vec<DueToken>> {
        Ok(self
            .authorizer_tokens_due_with_stats(component, due_by, limit)
            .await?
            .0)
    }
}

impl AuthorizerDirectory for DynamoStore {
    async fn list_authorizers(
        &self,
        component: &ComponentAppId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Authorizer>> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let start = cursor
            .map(Cursor::last_appid)
            .transpose()?
            .map(|after| key(home(component), authorizer_sk(&after)));
        let (items, more_in_table) = self
            .query_prefix(home(component), AUTHORIZER_PREFIX, start, limit, true)
            .await?;
        let items = items
            .iter()
            .map(authorizer_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, limit, more_in_table, |a| {
            Cursor::after(&a.appid)
        }))
    }

    async fn count_authorizers_by_status(
        &self,
        component: &ComponentAppId,
    ) -> Result<StatusCounts> {
        let mut counts = StatusCounts::default();
        for status in AuthorizerStatus::ALL {
            let mut total = 0u64;
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(STATUS_INDEX)
                    .key_condition_expression(format!("#{STATUS_PK} = :status_pk"))
                    .set_expression_attribute_names(names(&[STATUS_PK]))
                    .set_expression_attribute_values(values(vec![(
                        ":status_pk",
                        s(status_pk(component, status)),
                    )]))
                    .select(Select::Count)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| backend("Query", e))?;
                total += u64::try_from(out.count()).unwrap_or(0);
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
            counts.set(status, total);
        }
        Ok(counts)
    }
}

impl AuditStore for DynamoStore {
    async fn audit_state(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<AuditState>> {
        let Some(item) = self.get(key(home(component), audit_sk(appid))).await? else {
            return Ok(None);
        };
        let r = Reader::new(&item, "audit");
        Ok(Some(AuditState {
            audit_id: r.num(AUDIT_ID)?,
            status: r.parse(AUDIT_STATUS, AuditStatus::parse)?,
            reason: r.opt_str(REASON)?.map(str::to_owned),
            submitted_at: r.num(SUBMITTED_AT)?,
            updated_at: r.num(UPDATED_AT)?,
            auto_release: r.opt_bool(AUTO_RELEASE)?.unwrap_or(false),
            campaign: r
                .opt_str(CAMPAIGN)?
                .map(|id| campaign::CampaignId::parse(id).map_err(|_| r.corrupt(CAMPAIGN)))
                .transpose()?,
        }))
    }

    async fn put_audit_state_with_events(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        state: &AuditState,
        events: &[ProductEvent],
    ) -> Result<()> {
        let mut item = key(home(component), audit_sk(appid));
        item.extend([
            (APPID.to_owned(), s(appid.as_str())),
            (AUDIT_ID.to_owned(), n(state.audit_id)),
            (AUDIT_STATUS.to_owned(), s(state.status.as_str())),
            (SUBMITTED_AT.to_owned(), n(state.submitted_at)),
            (UPDATED_AT.to_owned(), n(state.updated_at)),
        ]);
        if let Some(reason) = &state.reason {
            item.insert(REASON.to_owned(), s(reason));
        }
        if state.auto_release {
            item.insert(AUTO_RELEASE.to_owned(), AttributeValue::Bool(true));
        }
        if let Some(id) = &state.campaign {
            item.insert(CAMPAIGN.to_owned(), s(id.as_str()));
        }
        let condition = format!("attribute_not_exists(#{PK}) OR #{AUDIT_ID} <= :audit_id");
        let condition_values = vec![(":audit_id", n(state.audit_id))];
        if events.is_empty() {
            return self
                .put_if(
                    item,
                    &condition,
                    &[PK, AUDIT_ID],
                    condition_values,
                    StoreError::Conflict,
                )
                .await;
        }
        let write = StateWrite::Put {
            item,
            condition,
            names: names(&[PK, AUDIT_ID]),
            values: values(condition_values),
        };
        self.write_with_events(component, write, events)
            .await?
            .map_err(|_| StoreError::Conflict)
    }

    async fn withdrawals(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<WithdrawalCount> {
        let Some(item) = self
            .get(key(home(component), withdrawals_sk(appid, day)))
            .await?
        else {
            return Ok(WithdrawalCount::default());
        };
        withdrawal_count_of(&item, day)
    }

    async fn take_withdrawal(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<WithdrawalCount> {
        let day_attribute = withdrawal_day_attribute(day);
        let d = &day_attribute;
        let item = self
            .update_if(
                key(home(component), withdrawals_sk(appid, day)),
                &format!("ADD #{MONTH_COUNT} :one, #{d} :one SET #{APPID} = :appid, #{TTL} = :ttl"),
                &format!(
                    "(attribute_not_exists(#{MONTH_COUNT}) OR #{MONTH_COUNT} < :month_limit) \
                     AND (attribute_not_exists(#{d}) OR #{d} < :day_limit)"
                ),
                &[MONTH_COUNT, d, APPID, TTL],
                vec![
                    (":one", n(1)),
                    (":appid", s(appid.as_str())),
                    (":ttl", n(self.now() + WITHDRAWALS_KEPT_SECS)),
                    (":month_limit", n(WITHDRAWALS_PER_MONTH)),
                    (":day_limit", n(WITHDRAWALS_PER_DAY)),
                ],
            )
            .await?
            .map_err(|_| StoreError::Conflict)?;
        withdrawal_count_of(&item, day)
    }

    async fn return_withdrawal(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<()> {
        let day_attribute = withdrawal_day_attribute(day);
        let d = &day_attribute;
        // A failed condition: nothing to give back.
        let _ = self
            .update_if(
                key(home(component), withdrawals_sk(appid, day)),
                &format!("ADD #{MONTH_COUNT} :minus_one, #{d} :minus_one"),
                &format!("#{MONTH_COUNT} > :zero AND #{d} > :zero"),
                &[MONTH_COUNT, d],
                vec![(":minus_one", n(-1)), (":zero", n(0))],
            )
            .await?;
        Ok(())
    }

    async fn spend_withdrawals(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<()> {
        let day_attribute = withdrawal_day_attribute(day);
        let d = &day_attribute;
        // A failed condition: the day is spent already.
        let _ = self
            .update_if(
                key(home(component), withdrawals_sk(appid, day)),
                &format!(
                    "SET #{d} = :day_limit, #{MONTH_COUNT} = if_not_exists(#{MONTH_COUNT}, :zero), \
                     #{APPID} = :appid, #{TTL} = :ttl"
                ),
                &format!("attribute_not_exists(#{d}) OR #{d} < :day_limit"),
                &[d, MONTH_COUNT, APPID, TTL],
                vec![
                    (":day_limit", n(WITHDRAWALS_PER_DAY)),
                    (":zero", n(0)),
                    (":appid", s(appid.as_str())),
                    (":ttl", n(self.now() + WITHDRAWALS_KEPT_SECS)),
                ],
            )
            .await?;
        Ok(())
    }
}

fn withdrawal_count_of(item: &Item, day: u32) -> Result<WithdrawalCount> {
    let r = Reader::new(item, "withdrawals");
    let count = |attribute: &str| -> Result<u32> {
        match item.get(attribute) {
            None => Ok(0),
            Some(AttributeValue::N(v)) => v.parse().map_err(|_| r.corrupt("day count")),
            Some(_) => Err(r.corrupt("day count")),
        }
    };
    Ok(WithdrawalCount {
        day: count(&withdrawal_day_attribute(day))?,
        month: r.num(MONTH_COUNT)?,
    })
}

impl CompletedAuthorizations for DynamoStore {
    async fn remember_completed_authorization(
        &self,
        component: &ComponentAppId,
        code: &AuthCodeDigest,
        appid: &AuthorizerAppId,
    ) -> Result<()> {
        let now = self.now();
        let mut item = key(completed_authorization_pk(component, code), SK_AUTH_CODE);
        item.extend([
            (APPID.to_owned(), s(appid.as_str())),
            (RECEIVED_AT.to_owned(), n(now)),
            (
                TTL.to_owned(),
                n(now + COMPLETED_AUTHORIZATION_RETENTION_SECS),
            ),
        ]);
        self.put(item).await?;
        Ok(())
    }

    async fn completed_authorization(
        &self,
        component: &ComponentAppId,
        code: &AuthCodeDigest,
    ) -> Result<Option<AuthorizerAppId>> {
        let Some(item) = self
            .get(key(
                completed_authorization_pk(component, code),
                SK_AUTH_CODE,
            ))
            .await?
        else {
            return Ok(None);
        };
        let r = Reader::new(&item, "completed authorization");
        // DynamoDB deletes expired items late.
        if r.num::<EpochSeconds>(TTL)? <= self.now() {
            return Ok(None);
        }
        r.parse(APPID, |a| AuthorizerAppId::parse(a).ok()).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        let mut seen = [0u32; DUE_SHARDS as usize];
        for i in 0..800 {
            let appid = AuthorizerAppId::parse(format!("wx{i:016x}")).unwrap();
            assert_eq!(due_shard(&appid), due_shard(&appid));
            seen[due_shard(&appid) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
    }

    #[test]
    fn authorizer_items_round_trip_and_only_authorized_ones_enter_the_due_index() {
        let component = ComponentAppId::parse("wxcomponent0001").unwrap();
        let mut a = Authorizer {
            appid: AuthorizerAppId::parse("wxauthorizer0001").unwrap(),
            status: AuthorizerStatus::Authorized,
            refresh_token: Secret::new("refresh"),
            refresh_token_version: 3,
            access_token: ExpiringToken {
                value: Secret::new("access"),
                expires_at: 1_000,
            },
            func_info: vec![1, 17],
            account: None,
            authorized_at: 10,
            updated_at: 20,
        };
        let item = authorizer_item(&component, &a);
        assert_eq!(authorizer_from(&item).unwrap(), a);
        assert!(item.contains_key(DUE_PK) && item.contains_key(DUE_AT));

        a.status = AuthorizerStatus::Unauthorized;
        let item = authorizer_item(&component, &a);
        assert!(!item.contains_key(DUE_PK) && !item.contains_key(DUE_AT));
    }

    #[test]
    fn a_malformed_item_names_the_attribute_without_its_value() {
        let item: Item = HashMap::from([(TICKET.to_owned(), n(5))]);
        let err = Reader::new(&item, "ticket").secret(TICKET).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a stored ticket item has a missing or malformed `ticket` attribute"
        );
    }
}
