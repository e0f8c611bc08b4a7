//! Release campaigns in the table (layout in `docs/storage.md`):
//!
//! - the campaign: `C#<component>` / `CAMPAIGN#<id>`, its record as JSON text in `doc`, a
//!   `version` every write checks, and while it is not finished `status_pk` =
//!   `C#<component>#CAMPAIGNS#active`, which puts it in the `by_status` index: the worker finds
//!   the campaigns to work on with one Query;
//! - its apps: `C#<component>#CAMPAIGN#<id>` / `APP#<appid>`, each with `doc`, `version`, a
//!   `lease_until` while a worker runs its step, and while a step is left `work_pk` =
//!   `<that partition>#W<wave>#new|run` and `work_at` (when it is due), which put it in the sparse
//!   `work` index. New apps and started ones are apart so a halted campaign can finish the started
//!   ones without starting others; later waves wait in their own partitions until their wave opens;
//! - its counts: 16 counter items `COUNT#<shard>` in the apps' partition, changed in the same
//!   transaction as the app whose state changed (one item per shard spreads concurrent writers);
//! - the component's audit quota as last read from WeChat: `C#<component>` / `AUDIT_QUOTA`.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use sha2::{Digest, Sha256};

use super::{DynamoStore, Item, StateWrite, backend, home, key, n, names, page_of, s, values};
use crate::clock::EpochSeconds;
use crate::events::ProductEvent;
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::store::campaign::{
    AppState, Campaign, CampaignApp, CampaignCounts, CampaignId, CountDelta, Step,
};
use crate::store::schema::{PK, SK, STATUS_INDEX, STATUS_PK, WORK_AT, WORK_INDEX, WORK_PK};
use crate::store::{Cursor, MAX_PAGE_SIZE, Page, Result, StoreError};

/// How many counter items each campaign's counts are spread over.
pub const COUNT_SHARDS: u32 = 16;
/// How often a transaction that collided with another one is tried in all.
const TRANSACTION_ATTEMPTS: u32 = 8;

const DOC: &str = "doc";
const VERSION: &str = "version";
const LEASE_UNTIL: &str = "lease_until";
const STATE: &str = "state";
const CAMPAIGN_PREFIX: &str = "CAMPAIGN#";
const APP_PREFIX: &str = "APP#";
const COUNT_PREFIX: &str = "COUNT#";
const SK_AUDIT_QUOTA: &str = "AUDIT_QUOTA";

/// A record with the version its next write must name.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub record: T,
    pub version: u64,
}

/// The component's audit quota as last read from WeChat, less the submissions since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredAuditQuota {
    pub rest: i64,
    pub limit: i64,
    pub speedup_rest: i64,
    pub speedup_limit: i64,
    pub fetched_at: EpochSeconds,
}

fn campaign_sk(id: &CampaignId) -> String {
    format!("{CAMPAIGN_PREFIX}{id}")
}

fn apps_pk(component: &ComponentAppId, id: &CampaignId) -> String {
    format!("C#{component}#CAMPAIGN#{id}")
}

fn app_sk(appid: &AuthorizerAppId) -> String {
    format!("{APP_PREFIX}{appid}")
}

fn active_pk(component: &ComponentAppId) -> String {
    format!("C#{component}#CAMPAIGNS#active")
}

/// The work index partition of `wave`'s apps: not started (`new`) or started (`run`).
pub fn work_pk(component: &ComponentAppId, id: &CampaignId, wave: u32, started: bool) -> String {
    let phase = if started { "run" } else { "new" };
    format!("{}#W{wave}#{phase}", apps_pk(component, id))
}

fn count_shard(appid: &AuthorizerAppId) -> u32 {
    let digest = Sha256::digest(appid.as_str().as_bytes());
    u32::from(digest[1]) % COUNT_SHARDS
}

fn count_sk(shard: u32) -> String {
    format!("{COUNT_PREFIX}{shard:02}")
}

fn state_counter(state: AppState) -> String {
    format!("n_{}", state.as_str())
}

fn doc_of<T: serde::de::DeserializeOwned>(item: &Item, kind: &'static str) -> Result<T> {
    let corrupt = StoreError::Corrupt {
        item: kind,
        attribute: DOC,
    };
    match item.get(DOC) {
        Some(AttributeValue::S(text)) => serde_json::from_str(text).map_err(|_| corrupt),
        _ => Err(corrupt),
    }
}

fn version_of(item: &Item, kind: &'static str) -> Result<u64> {
    match item.get(VERSION) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt {
            item: kind,
            attribute: VERSION,
        }),
        _ => Err(StoreError::Corrupt {
            item: kind,
            attribute: VERSION,
        }),
    }
}

fn to_json<T: serde::Serialize>(record: &T) -> String {
    // Plain structs of strings, numbers and maps of JSON values: serialising cannot fail.
    serde_json::to_string(record).unwrap_or_default()
}

fn campaign_item(component: &ComponentAppId, campaign: &Campaign, version: u64) -> Item {
    let mut item = key(home(component), campaign_sk(&campaign.id));
    item.insert(DOC.to_owned(), s(to_json(campaign)));
    item.insert(VERSION.to_owned(), n(version));
    item.insert(STATE.to_owned(), s(campaign.state.as_str()));
    if !campaign.state.is_finished() {
        item.insert(STATUS_PK.to_owned(), s(active_pk(component)));
    }
    item
}

fn app_item(component: &ComponentAppId, id: &CampaignId, app: &CampaignApp, version: u64) -> Item {
    let mut item = key(apps_pk(component, id), app_sk(&app.appid));
    item.insert(DOC.to_owned(), s(to_json(app)));
    item.insert(VERSION.to_owned(), n(version));
    item.insert(STATE.to_owned(), s(app.state.as_str()));
    if app.step != Step::Settled {
        let started = !(app.state == AppState::Pending && app.step == Step::Start);
        item.insert(
            WORK_PK.to_owned(),
            s(work_pk(component, id, app.wave, started)),
        );
        item.insert(WORK_AT.to_owned(), n(app.due_at));
    }
    item
}

/// The counter item changes of `delta`, as an update expression and its values.
fn counter_update(delta: &CountDelta) -> (String, HashMap<String, String>, Item) {
    let mut parts = Vec::new();
    let mut attribute_names = HashMap::new();
    let mut attribute_values = HashMap::new();
    let changes = delta
        .by_state
        .iter()
        .map(|(state, by)| (state_counter(*state), *by))
        .chain(
            delta
                .unsettled
                .iter()
                .map(|(w, by)| (format!("u_{w}"), *by)),
        )
        .chain(delta.rejected.iter().map(|(w, by)| (format!("r_{w}"), *by)));
    for (i, (name, by)) in changes.enumerate() {
        parts.push(format!("#c{i} :c{i}"));
        attribute_names.insert(format!("#c{i}"), name);
        attribute_values.insert(format!(":c{i}"), n(by));
    }
    (
        format!("ADD {}", parts.join(", ")),
        attribute_names,
        attribute_values,
    )
}

fn build_error(e: aws_smithy_types::error::operation::BuildError) -> StoreError {
    backend("TransactWriteItems", e)
}

impl DynamoStore {
    /// Stores a new campaign with its apps and their counts. The apps and counters are written
    /// first and the campaign last, so a campaign is never seen without its apps; a crash in
    /// between leaves apps no campaign refers to, which nothing reads.
    pub async fn create_campaign(
        &self,
        component: &ComponentAppId,
        campaign: &Campaign,
        apps: &[CampaignApp],
        events: &[ProductEvent],
    ) -> Result<()> {
        let mut counters: HashMap<u32, CountDelta> = HashMap::new();
        for app in apps {
            let delta = counters.entry(count_shard(&app.appid)).or_default();
            delta.by_state.push((app.state, 1));
            if !app.is_settled() {
                delta.unsettled.push((app.wave, 1));
            }
        }
        let mut items: Vec<Item> = apps
            .iter()
            .map(|app| app_item(component, &campaign.id, app, 1))
            .collect();
        for (shard, delta) in counters {
            let mut item = key(apps_pk(component, &campaign.id), count_sk(shard));
            let mut sums: HashMap<String, i64> = HashMap::new();
            for (state, by) in &delta.by_state {
                *sums.entry(state_counter(*state)).or_default() += by;
            }
            for (wave, by) in &delta.unsettled {
                *sums.entry(format!("u_{wave}")).or_default() += by;
            }
            item.extend(sums.into_iter().map(|(name, value)| (name, n(value))));
            items.push(item);
        }
        self.batch_put(items).await?;
        self.put_campaign_if(
            component,
            campaign,
            1,
            &format!("attribute_not_exists(#{PK})"),
            &[PK],
            vec![],
            events,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn put_campaign_if(
        &self,
        component: &ComponentAppId,
        campaign: &Campaign,
        version: u64,
        condition: &str,
        condition_names: &[&str],
        condition_values: Vec<(&str, AttributeValue)>,
        events: &[ProductEvent],
    ) -> Result<()> {
        let item = campaign_item(component, campaign, version);
        if events.is_empty() {
            return self
                .put_if(
                    item,
                    condition,
                    condition_names,
                    condition_values,
                    StoreError::Conflict,
                )
                .await;
        }
        let write = StateWrite::Put {
            item,
            condition: condition.to_owned(),
            names: names(condition_names),
            values: values(condition_values),
        };
        self.write_with_events(component, write, events)
            .await?
            .map_err(|_| StoreError::Conflict)
    }

    /// Replaces the campaign if it is still at `version`, recording `events` with it (the new
    /// version is `version + 1`); `Conflict` otherwise.
    pub async fn update_campaign(
        &self,
        component: &ComponentAppId,
        campaign: &Campaign,
        version: u64,
        events: &[ProductEvent],
    ) -> Result<()> {
        self.put_campaign_if(
            component,
            campaign,
            version + 1,
            &format!("#{VERSION} = :version"),
            &[VERSION],
            vec![(":version", n(version))],
            events,
        )
        .await
    }

    pub async fn campaign(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
    ) -> Result<Option<Versioned<Campaign>>> {
        let Some(item) = self.get(key(home(component), campaign_sk(id))).await? else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            record: doc_of(&item, "campaign")?,
            version: version_of(&item, "campaign")?,
        }))
    }

    /// The campaigns, newest first.
    pub async fn list_campaigns(
        &self,
        component: &ComponentAppId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Campaign>> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let start = cursor
            .map(|c| CampaignId::parse(c.as_str()).map_err(|_| StoreError::InvalidCursor))
            .transpose()?
            .map(|after| key(home(component), campaign_sk(&after)));
        let (items, more_in_table) = self
            .query_prefix(home(component), CAMPAIGN_PREFIX, start, limit, false)
            .await?;
        let items = items
            .iter()
            .map(|item| doc_of::<Campaign>(item, "campaign"))
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, limit, more_in_table, |c| {
            Cursor(c.id.to_string())
        }))
    }

    /// The ids of every campaign not done or cancelled (the `by_status` index; no Scan).
    pub async fn active_campaigns(&self, component: &ComponentAppId) -> Result<Vec<CampaignId>> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STATUS_INDEX)
                .key_condition_expression(format!("#{STATUS_PK} = :active"))
                .set_expression_attribute_names(names(&[STATUS_PK]))
                .set_expression_attribute_values(values(vec![(":active", s(active_pk(component)))]))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            for item in out.items() {
                if let Some(AttributeValue::S(sk)) = item.get(SK)
                    && let Some(id) = sk.strip_prefix(CAMPAIGN_PREFIX)
                    && let Ok(id) = CampaignId::parse(id)
                {
                    ids.push(id);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(ids);
            }
        }
    }

    /// The campaign's counts: the sum of its counter items.
    pub async fn campaign_counts(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
    ) -> Result<CampaignCounts> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("#{PK} = :pk AND begins_with(#{SK}, :prefix)"))
            .set_expression_attribute_names(names(&[PK, SK]))
            .set_expression_attribute_values(values(vec![
                (":pk", s(apps_pk(component, id))),
                (":prefix", s(COUNT_PREFIX)),
            ]))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        let mut counts = CampaignCounts::default();
        for item in out.items() {
            for (name, value) in item {
                let AttributeValue::N(text) = value else {
                    continue;
                };
                let value: i64 = text.parse().map_err(|_| StoreError::Corrupt {
                    item: "campaign counter",
                    attribute: "count",
                })?;
                if let Some(state) = name.strip_prefix("n_").and_then(AppState::parse) {
                    *counts.by_state.entry(state).or_default() += value;
                } else if let Some(wave) = name.strip_prefix("u_").and_then(|w| w.parse().ok()) {
                    *counts.unsettled.entry(wave).or_default() += value;
                } else if let Some(wave) = name.strip_prefix("r_").and_then(|w| w.parse().ok()) {
                    *counts.rejected.entry(wave).or_default() += value;
                }
            }
        }
        Ok(counts)
    }

    /// Up to `limit` apps of one work partition whose step is due by `now`, earliest first.
    pub async fn due_campaign_apps(
        &self,
        partition: &str,
        now: EpochSeconds,
        limit: usize,
    ) -> Result<Vec<AuthorizerAppId>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(WORK_INDEX)
            .key_condition_expression(format!("#{WORK_PK} = :pk AND #{WORK_AT} <= :now"))
            .set_expression_attribute_names(names(&[WORK_PK, WORK_AT]))
            .set_expression_attribute_values(values(vec![(":pk", s(partition)), (":now", n(now))]))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| backend("Query", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|item| match item.get(SK) {
                Some(AttributeValue::S(sk)) => sk.strip_prefix(APP_PREFIX),
                _ => None,
            })
            .filter_map(|appid| AuthorizerAppId::parse(appid).ok())
            .collect())
    }

    /// Takes the app's due step for `lease_secs`: answers the app and the version its outcome
    /// must be written with, or `None` if the step is not due or another worker holds it.
    pub async fn claim_campaign_app(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
        appid: &AuthorizerAppId,
        now: EpochSeconds,
        lease_secs: i64,
    ) -> Result<Option<Versioned<CampaignApp>>> {
        let result = self
            .update_if(
                key(apps_pk(component, id), app_sk(appid)),
                &format!("SET #{LEASE_UNTIL} = :until ADD #{VERSION} :one"),
                &format!(
                    "#{WORK_AT} <= :now AND (attribute_not_exists(#{LEASE_UNTIL}) OR #{LEASE_UNTIL} <= :now)"
                ),
                &[LEASE_UNTIL, VERSION, WORK_AT],
                vec![
                    (":until", n(now + lease_secs)),
                    (":one", n(1)),
                    (":now", n(now)),
                ],
            )
            .await?;
        match result {
            Ok(item) => Ok(Some(Versioned {
                record: doc_of(&item, "campaign app")?,
                version: version_of(&item, "campaign app")?,
            })),
            Err(_) => Ok(None),
        }
    }

    /// Writes the app's new record if it is still at `version` (the claim's, or the read's), with
    /// the counter changes from `before`, in one transaction. The lease ends with it, unless
    /// `lease_until` keeps it (a write in the middle of a step). `Conflict` if the app changed
    /// meanwhile (a lease that lapsed and was taken over).
    #[allow(clippy::too_many_arguments)]
    pub async fn save_campaign_app(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
        before: &CampaignApp,
        after: &CampaignApp,
        version: u64,
        rejection: bool,
        lease_until: Option<EpochSeconds>,
    ) -> Result<()> {
        let mut item = app_item(component, id, after, version + 1);
        if let Some(until) = lease_until {
            item.insert(LEASE_UNTIL.to_owned(), n(until));
        }
        let delta = CountDelta::between(before, after, rejection);
        if delta.is_empty() {
            return self
                .put_if(
                    item,
                    &format!("#{VERSION} = :version"),
                    &[VERSION],
                    vec![(":version", n(version))],
                    StoreError::Conflict,
                )
                .await;
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(format!("#{VERSION} = :version"))
            .set_expression_attribute_names(names(&[VERSION]))
            .set_expression_attribute_values(values(vec![(":version", n(version))]))
            .build()
            .map_err(build_error)?;
        let (update_expression, counter_names, counter_values) = counter_update(&delta);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                apps_pk(component, id),
                count_sk(count_shard(&after.appid)),
            )))
            .update_expression(update_expression)
            .set_expression_attribute_names(Some(counter_names))
            .set_expression_attribute_values(Some(counter_values))
            .build()
            .map_err(build_error)?;
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(update).build(),
        ];
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(e) = result else {
                return Ok(());
            };
            let reasons: Vec<Option<String>> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => cancel
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_owned))
                    .collect(),
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    vec![Some("TransactionConflict".to_owned())]
                }
                _ => return Err(backend("TransactWriteItems", e)),
            };
            if reasons
                .iter()
                .any(|r| r.as_deref() == Some("ConditionalCheckFailed"))
            {
                return Err(StoreError::Conflict);
            }
            let collided = reasons
                .iter()
                .any(|r| r.as_deref() == Some("TransactionConflict"));
            if !collided || attempt == TRANSACTION_ATTEMPTS {
                return Err(backend("TransactWriteItems", e));
            }
            let jitter = rand::random_range(5..25u64) << attempt.min(4);
            tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
        }
    }

    pub async fn campaign_app(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<Versioned<CampaignApp>>> {
        let Some(item) = self.get(key(apps_pk(component, id), app_sk(appid))).await? else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            record: doc_of(&item, "campaign app")?,
            version: version_of(&item, "campaign app")?,
        }))
    }

    /// A page of the campaign's apps by appid, only those in `state` if given.
    pub async fn list_campaign_apps(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
        state: Option<AppState>,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Versioned<CampaignApp>>> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let mut start = cursor
            .map(Cursor::last_appid)
            .transpose()?
            .map(|after| key(apps_pk(component, id), app_sk(&after)));
        let mut items = Vec::new();
        // A filter applies after each page is read: keep reading until the page is full.
        loop {
            let mut pairs = vec![
                (":pk", s(apps_pk(component, id))),
                (":prefix", s(APP_PREFIX)),
            ];
            let mut attribute_names = vec![PK, SK];
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("#{PK} = :pk AND begins_with(#{SK}, :prefix)"))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
            if let Some(state) = state {
                query = query.filter_expression(format!("#{STATE} = :state"));
                pairs.push((":state", s(state.as_str())));
                attribute_names.push(STATE);
            }
            let out = query
                .set_expression_attribute_names(names(&attribute_names))
                .set_expression_attribute_values(values(pairs))
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            for item in out.items() {
                items.push(Versioned {
                    record: doc_of::<CampaignApp>(item, "campaign app")?,
                    version: version_of(item, "campaign app")?,
                });
            }
            start = out.last_evaluated_key;
            if items.len() > limit || start.is_none() {
                break;
            }
        }
        Ok(page_of(items, limit, start.is_some(), |a| {
            Cursor::after(&a.record.appid)
        }))
    }

    /// Makes the app's step due now (an audit result arrived), unless it has no step left.
    pub async fn wake_campaign_app(
        &self,
        component: &ComponentAppId,
        id: &CampaignId,
        appid: &AuthorizerAppId,
        now: EpochSeconds,
    ) -> Result<bool> {
        let result = self
            .update_if(
                key(apps_pk(component, id), app_sk(appid)),
                &format!("SET #{WORK_AT} = :now"),
                &format!("attribute_exists(#{WORK_PK}) AND #{WORK_AT} > :now"),
                &[WORK_AT, WORK_PK],
                vec![(":now", n(now))],
            )
            .await?;
        Ok(result.is_ok())
    }

    pub async fn audit_quota(
        &self,
        component: &ComponentAppId,
    ) -> Result<Option<StoredAuditQuota>> {
        let Some(item) = self.get(key(home(component), SK_AUDIT_QUOTA)).await? else {
            return Ok(None);
        };
        let num = |name: &'static str| -> Result<i64> {
            match item.get(name) {
                Some(AttributeValue::N(v)) => v.parse().map_err(|_| StoreError::Corrupt {
                    item: "audit quota",
                    attribute: name,
                }),
                _ => Err(StoreError::Corrupt {
                    item: "audit quota",
                    attribute: name,
                }),
            }
        };
        Ok(Some(StoredAuditQuota {
            rest: num("rest")?,
            limit: num("limit")?,
            speedup_rest: num("speedup_rest")?,
            speedup_limit: num("speedup_limit")?,
            fetched_at: num("fetched_at")?,
        }))
    }

    /// Stores the quota WeChat reported.
    pub async fn put_audit_quota(
        &self,
        component: &ComponentAppId,
        quota: &StoredAuditQuota,
    ) -> Result<()> {
        self.put_quota_if(component, quota, None).await.map(|_| ())
    }

    /// Stores the quota WeChat reported unless a quota fetched at or after `stale_before` is
    /// stored already (another worker's, which has since been counted down): `false` then.
    pub async fn refresh_audit_quota(
        &self,
        component: &ComponentAppId,
        quota: &StoredAuditQuota,
        stale_before: EpochSeconds,
    ) -> Result<bool> {
        self.put_quota_if(component, quota, Some(stale_before))
            .await
    }

    async fn put_quota_if(
        &self,
        component: &ComponentAppId,
        quota: &StoredAuditQuota,
        stale_before: Option<EpochSeconds>,
    ) -> Result<bool> {
        let mut item = key(home(component), SK_AUDIT_QUOTA);
        item.extend([
            ("rest".to_owned(), n(quota.rest)),
            ("limit".to_owned(), n(quota.limit)),
            ("speedup_rest".to_owned(), n(quota.speedup_rest)),
            ("speedup_limit".to_owned(), n(quota.speedup_limit)),
            ("fetched_at".to_owned(), n(quota.fetched_at)),
        ]);
        let Some(stale_before) = stale_before else {
            self.put(item).await?;
            return Ok(true);
        };
        match self
            .put_if(
                item,
                "attribute_not_exists(#fetched_at) OR #fetched_at < :stale_before",
                &["fetched_at"],
                vec![(":stale_before", n(stale_before))],
                StoreError::Conflict,
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Takes one submission from the stored quota if more than `reserve` is left: `false` when
    /// not (or when no quota is stored). Concurrent submissions each take their own, so together
    /// they never go below the reserve.
    pub async fn take_audit_quota(&self, component: &ComponentAppId, reserve: i64) -> Result<bool> {
        let result = self
            .update_if(
                key(home(component), SK_AUDIT_QUOTA),
                "ADD #rest :minus_one",
                "attribute_exists(#rest) AND #rest > :reserve",
                &["rest"],
                vec![(":minus_one", n(-1)), (":reserve", n(reserve))],
            )
            .await?;
        Ok(result.is_ok())
    }

    /// Gives back a submission taken with [`Self::take_audit_quota`] that WeChat refused.
    pub async fn return_audit_quota(&self, component: &ComponentAppId) -> Result<()> {
        self.update_if(
            key(home(component), SK_AUDIT_QUOTA),
            "ADD #rest :one",
            "attribute_exists(#rest)",
            &["rest"],
            vec![(":one", n(1))],
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::campaign::Step;

    fn app(state: AppState, step: Step, wave: u32) -> CampaignApp {
        CampaignApp {
            appid: AuthorizerAppId::parse("wx0000000000000001").unwrap(),
            index: 0,
            wave,
            state,
            step,
            due_at: 10,
            attempts: 0,
            errcode: None,
            hint: None,
            audit_id: None,
            submit_started_at: None,
            audit_before: None,
            released_at: None,
            updated_at: 0,
        }
    }

    #[test]
    fn only_apps_with_a_step_left_are_in_the_work_index_new_ones_apart() {
        let component = ComponentAppId::parse("wxcomponent000001").unwrap();
        let id = CampaignId::new(1, 2);
        let new = app_item(&component, &id, &app(AppState::Pending, Step::Start, 2), 1);
        assert_eq!(
            new.get(WORK_PK),
            Some(&s(format!("C#{component}#CAMPAIGN#{id}#W2#new")))
        );
        assert_eq!(new.get(WORK_AT), Some(&n(10)));
        let started = app_item(
            &component,
            &id,
            &app(AppState::Committed, Step::PrivacyCheck, 2),
            1,
        );
        assert_eq!(
            started.get(WORK_PK),
            Some(&s(format!("C#{component}#CAMPAIGN#{id}#W2#run")))
        );
        let settled = app_item(
            &component,
            &id,
            &app(AppState::Released, Step::Settled, 2),
            1,
        );
        assert!(!settled.contains_key(WORK_PK) && !settled.contains_key(WORK_AT));
    }

    #[test]
    fn a_transition_moves_one_count_and_settling_closes_its_wave_share() {
        let before = app(AppState::Auditing, Step::AwaitAudit, 1);
        let after = app(AppState::Failed, Step::Settled, 1);
        let delta = CountDelta::between(&before, &after, true);
        assert_eq!(
            delta.by_state,
            vec![(AppState::Auditing, -1), (AppState::Failed, 1)]
        );
        assert_eq!(delta.unsettled, vec![(1, -1)]);
        assert_eq!(delta.rejected, vec![(1, 1)]);
        let (expression, names, values) = counter_update(&delta);
        assert_eq!(expression, "ADD #c0 :c0, #c1 :c1, #c2 :c2, #c3 :c3");
        assert_eq!(names["#c1"], "n_failed");
        assert_eq!(names["#c2"], "u_1");
        assert_eq!(values[":c2"], n(-1));
        let same = CountDelta::between(&before, &before, false);
        assert!(same.is_empty());
    }
}
