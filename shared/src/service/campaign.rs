//! Release campaigns: one code template to many mini programs, in waves, within WeChat's quotas.
//!
//! [`Campaigns`] is what the provider API does with them (create, read, pause, resume, cancel,
//! retry the failed apps); [`CampaignWorker`](super::CampaignWorker) moves their apps through
//! commit, privacy check, audit and release. The campaign's guarantees are in `docs/campaigns.md`.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use std::time::Instant;

use super::context::Application;
use super::publishing::PUBLISH_BUDGET;
use crate::clock::EpochSeconds;
use crate::events::{ProductEvent, catalogue};
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::store::campaign::{
    AppState, Campaign, CampaignApp, CampaignCounts, CampaignId, CampaignSpec, CampaignState,
    HaltRule, PauseReason, ReleaseMode, Step, wave_ends,
};
use crate::store::{
    AccountKind, AuthorizerDirectory, AuthorizerSettings, AuthorizerStatus, Cursor, DynamoStore,
    StoreError,
};

/// The most apps one campaign may hold.
pub const MAX_COHORT: usize = 50_000;
/// The most waves a campaign may have.
pub const MAX_WAVES: usize = 10;

/// Told when the result of a campaign's audit arrives (the push path calls it).
pub trait CampaignWaker: Send + Sync {
    fn audit_result_arrived<'a>(
        &'a self,
        component: &'a ComponentAppId,
        campaign: &'a CampaignId,
        appid: &'a AuthorizerAppId,
        now: EpochSeconds,
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;
}

impl CampaignWaker for DynamoStore {
    fn audit_result_arrived<'a>(
        &'a self,
        component: &'a ComponentAppId,
        campaign: &'a CampaignId,
        appid: &'a AuthorizerAppId,
        now: EpochSeconds,
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>> {
        Box::pin(async move {
            self.wake_campaign_app(component, campaign, appid, now)
                .await
                .map(|_| ())
        })
    }
}

/// `POST /campaigns`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    /// A number or a string, as WeChat's template list gives it.
    pub template_id: serde_json::Value,
    pub user_version: String,
    pub user_desc: String,
    #[serde(default)]
    pub ext_json: serde_json::Map<String, serde_json::Value>,
    /// The cohort; absent: every authorized mini program.
    #[serde(default)]
    pub appids: Option<Vec<String>>,
    #[serde(default)]
    pub waves: Option<Vec<i64>>,
    #[serde(default)]
    pub halt: HaltRule,
    #[serde(default = "default_release")]
    pub release: ReleaseMode,
    #[serde(default)]
    pub quota_reserve: u32,
    /// The `submit_audit` body (item_list, preview_info, version_desc...).
    #[serde(default)]
    pub audit: serde_json::Map<String, serde_json::Value>,
}

fn default_release() -> ReleaseMode {
    ReleaseMode::Auto
}

/// Why a campaign request is refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCampaign(pub String);

fn invalid(message: impl Into<String>) -> InvalidCampaign {
    InvalidCampaign(message.into())
}

impl CampaignRequest {
    /// The spec, and the explicit cohort if one was given (deduplicated, in the order given).
    pub fn validate(self) -> Result<(CampaignSpec, Option<Vec<AuthorizerAppId>>), InvalidCampaign> {
        let template_id = match &self.template_id {
            serde_json::Value::Number(n) if n.as_u64().is_some() => n.to_string(),
            serde_json::Value::String(s)
                if !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.clone()
            }
            _ => return Err(invalid("`template_id` must be a template's number")),
        };
        if self.user_version.trim().is_empty() || self.user_version.chars().count() > 64 {
            return Err(invalid("`user_version` must be 1 to 64 characters"));
        }
        if self.user_desc.trim().is_empty() || self.user_desc.chars().count() > 1024 {
            return Err(invalid(
                "`user_desc` (the version's description, which WeChat requires) must be 1 to 1024 characters",
            ));
        }
        check_placeholders(&serde_json::Value::Object(self.ext_json.clone()))?;
        let waves = match self.waves {
            None => vec![100],
            Some(waves) => {
                if waves.is_empty() || waves.len() > MAX_WAVES {
                    return Err(invalid(format!(
                        "`waves` must hold 1 to {MAX_WAVES} percentages"
                    )));
                }
                if waves.iter().any(|p| !(1..=100).contains(p))
                    || waves.windows(2).any(|w| w[0] >= w[1])
                    || waves.last() != Some(&100)
                {
                    return Err(invalid(
                        "`waves` are cumulative percentages of the cohort: growing, from 1 to 100, ending at 100",
                    ));
                }
                waves
                    .into_iter()
                    .map(|p| u8::try_from(p).unwrap_or(100))
                    .collect()
            }
        };
        if self.halt.rejections == Some(0) {
            return Err(invalid("`halt.rejections` must be at least 1"));
        }
        if let Some(share) = self.halt.rejection_share
            && !(share > 0.0 && share <= 1.0)
        {
            return Err(invalid(
                "`halt.rejection_share` must be above 0 and at most 1",
            ));
        }
        let cohort = match self.appids {
            None => None,
            Some(appids) => {
                if appids.is_empty() {
                    return Err(invalid(
                        "`appids` must not be empty (leave it out for every authorized mini program)",
                    ));
                }
                if appids.len() > MAX_COHORT {
                    return Err(invalid(format!(
                        "`appids` may hold at most {MAX_COHORT} appids"
                    )));
                }
                let mut seen = HashSet::new();
                let mut cohort = Vec::with_capacity(appids.len());
                for text in appids {
                    let appid = AuthorizerAppId::parse(text.clone())
                        .map_err(|_| invalid(format!("`appids`: {text:?} is not an appid")))?;
                    if seen.insert(appid.clone()) {
                        cohort.push(appid);
                    }
                }
                Some(cohort)
            }
        };
        Ok((
            CampaignSpec {
                template_id,
                user_version: self.user_version,
                user_desc: self.user_desc,
                ext_json: self.ext_json,
                waves,
                halt: self.halt,
                release: self.release,
                quota_reserve: self.quota_reserve,
                audit: self.audit,
            },
            cohort,
        ))
    }
}

/// Every `{{name}}` in `text`, or why one is malformed.
fn placeholders(text: &str) -> Result<Vec<&str>, InvalidCampaign> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| invalid(format!("`ext_json`: an unclosed `{{{{` in {text:?}")))?;
        let name = after[..end].trim();
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(invalid(format!(
                "`ext_json`: `{{{{{name}}}}}` is not `{{{{appid}}}}` or a setting's name"
            )));
        }
        names.push(name);
        rest = &after[end + 2..];
    }
    Ok(names)
}

fn check_placeholders(value: &serde_json::Value) -> Result<(), InvalidCampaign> {
    match value {
        serde_json::Value::String(s) => placeholders(s).map(|_| ()),
        serde_json::Value::Array(items) => items.iter().try_for_each(check_placeholders),
        serde_json::Value::Object(map) => map.values().try_for_each(check_placeholders),
        _ => Ok(()),
    }
}

/// `ext_json` for one app: every `{{appid}}` is its appid, every `{{name}}` its setting `name`. A
/// string that is exactly one placeholder takes the setting's type (a number stays a number).
pub fn render_ext_json(
    template: &serde_json::Map<String, serde_json::Value>,
    appid: &AuthorizerAppId,
    settings: &AuthorizerSettings,
) -> Result<serde_json::Value, String> {
    fn value_of(
        name: &str,
        appid: &AuthorizerAppId,
        settings: &AuthorizerSettings,
    ) -> Result<serde_json::Value, String> {
        if name == "appid" {
            return Ok(serde_json::Value::String(appid.to_string()));
        }
        settings.values().get(name).cloned().ok_or_else(|| {
            format!("the setting `{name}` that ext_json uses is not set for this authorizer: PUT /authorizers/{appid}/settings")
        })
    }
    fn text(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    fn render(
        value: &serde_json::Value,
        appid: &AuthorizerAppId,
        settings: &AuthorizerSettings,
    ) -> Result<serde_json::Value, String> {
        Ok(match value {
            serde_json::Value::String(s) => {
                let names = placeholders(s).map_err(|e| e.0)?;
                let trimmed = s.trim();
                if names.len() == 1
                    && trimmed.starts_with("{{")
                    && trimmed.ends_with("}}")
                    && trimmed.matches("{{").count() == 1
                {
                    return value_of(names[0], appid, settings);
                }
                let mut out = String::with_capacity(s.len());
                let mut rest = s.as_str();
                while let Some(start) = rest.find("{{") {
                    out.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let end = after.find("}}").unwrap_or(after.len());
                    out.push_str(&text(&value_of(after[..end].trim(), appid, settings)?));
                    rest = after.get(end + 2..).unwrap_or("");
                }
                out.push_str(rest);
                serde_json::Value::String(out)
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| render(v, appid, settings))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), render(v, appid, settings)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
    render(
        &serde_json::Value::Object(template.clone()),
        appid,
        settings,
    )
}

/// A campaign as the API shows it: the stored campaign and its counts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Campaign))]
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CampaignId,
    /// `running`, `paused`, `halted`, `done` or `cancelled`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: CampaignState,
    /// Why it is paused or halted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub template_id: String,
    pub user_version: String,
    pub user_desc: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub ext_json: serde_json::Map<String, serde_json::Value>,
    pub waves: Vec<u8>,
    /// `{"rejections"?: n, "rejection_share"?: 0..1}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub halt: HaltRule,
    /// `"auto"`, `"manual"`, or a gray release percentage (1 to 100).
    #[cfg_attr(feature = "openapi", schema(value_type = serde_json::Value))]
    pub release: ReleaseMode,
    pub quota_reserve: u32,
    pub total: u32,
    /// The wave whose apps may start, from 0.
    pub wave: u32,
    /// Apps by state, every state present: `pending`, `committed`, `auditing`, `approved`,
    /// `released`, `failed`, `needs_merchant`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub counts: BTreeMap<&'static str, i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: EpochSeconds,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: EpochSeconds,
}

/// One page of campaigns, newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct CampaignPage {
    pub items: Vec<CampaignView>,
    pub next_cursor: Option<String>,
}

/// One page of a campaign's apps, by appid.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct CampaignAppPage {
    pub items: Vec<CampaignAppView>,
    pub next_cursor: Option<String>,
}

/// What a pause means, in words.
pub fn pause_text(reason: &PauseReason) -> String {
    match reason {
        PauseReason::Asked => "paused by the provider".to_owned(),
        PauseReason::Quota { rest, month } => match rest {
            Some(rest) => format!(
                "WeChat's audit quota: {rest} left, at or below the reserve; resumes by itself in the month after {month} (Beijing time) or when resumed"
            ),
            None => format!(
                "WeChat's audit quota is spent (85085); resumes by itself in the month after {month} (Beijing time) or when resumed"
            ),
        },
    }
}

impl CampaignView {
    pub fn new(campaign: &Campaign, counts: Option<&CampaignCounts>) -> Self {
        let reason = match campaign.state {
            CampaignState::Paused => campaign.pause.as_ref().map(pause_text),
            CampaignState::Halted => campaign.halt_reason.clone(),
            _ => None,
        };
        let counts = AppState::ALL
            .into_iter()
            .map(|state| (state.as_str(), counts.map_or(0, |c| c.state(state))))
            .collect();
        let spec = &campaign.spec;
        Self {
            id: campaign.id.clone(),
            state: campaign.state,
            reason,
            template_id: spec.template_id.clone(),
            user_version: spec.user_version.clone(),
            user_desc: spec.user_desc.clone(),
            ext_json: spec.ext_json.clone(),
            waves: spec.waves.clone(),
            halt: spec.halt,
            release: spec.release,
            quota_reserve: spec.quota_reserve,
            total: campaign.total,
            wave: campaign.open_wave,
            counts,
            created_at: campaign.created_at,
            updated_at: campaign.updated_at,
        }
    }
}

/// One app of a campaign as the API shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CampaignApp))]
#[derive(Debug, Clone, Serialize)]
pub struct CampaignAppView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub appid: AuthorizerAppId,
    /// From 0.
    pub wave: u32,
    /// `pending`, `committed`, `auditing`, `approved`, `released`, `failed` or `needs_merchant`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: AppState,
    /// WeChat's last errcode for this app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<u64>,
    /// When the engine next looks at it (absent once it is settled).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub next_at: Option<EpochSeconds>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: EpochSeconds,
}

impl From<&CampaignApp> for CampaignAppView {
    fn from(app: &CampaignApp) -> Self {
        Self {
            appid: app.appid.clone(),
            wave: app.wave,
            state: app.state,
            errcode: app.errcode,
            hint: app.hint.clone(),
            audit_id: app.audit_id,
            next_at: (app.step != Step::Settled).then_some(app.due_at),
            updated_at: app.updated_at,
        }
    }
}

/// Why a campaign operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error(transparent)]
    Invalid(#[from] InvalidCampaign),
    #[error("no campaign {id}")]
    NotFound { id: String },
    /// The operation does not apply to a campaign in this state.
    #[error("the campaign is {}: {what}", state.as_str())]
    WrongState {
        state: CampaignState,
        what: &'static str,
    },
    /// No authorized mini program to release to.
    #[error("no authorized mini program is stored: the campaign would be empty")]
    EmptyCohort,
    #[error("the store failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for CampaignError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => {
                Self::Invalid(invalid("the cursor was not issued by this API"))
            }
            e => Self::Store(e),
        }
    }
}

/// The campaign use case of the provider API. Cheap to clone.
#[derive(Clone)]
pub struct Campaigns {
    app: Application<DynamoStore>,
}

/// How often a read-modify-write of a campaign is tried when others write it meanwhile.
const CAMPAIGN_WRITE_ATTEMPTS: u32 = 10;

impl Campaigns {
    pub fn new(app: Application<DynamoStore>) -> Self {
        Self { app }
    }

    fn store(&self) -> &DynamoStore {
        self.app.context.store()
    }

    fn component(&self) -> &ComponentAppId {
        self.app.context.component_appid()
    }

    /// Every authorized mini program, in appid order (the directory's pages; no Scan).
    async fn every_mini_program(&self) -> Result<Vec<AuthorizerAppId>, StoreError> {
        let mut cohort = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = self
                .store()
                .list_authorizers(
                    self.component(),
                    crate::store::MAX_PAGE_SIZE,
                    cursor.as_ref(),
                )
                .await?;
            cohort.extend(
                page.items
                    .into_iter()
                    .filter(|a| a.status == AuthorizerStatus::Authorized)
                    .filter(|a| {
                        a.account
                            .as_ref()
                            .is_none_or(|account| account.kind == AccountKind::MiniProgram)
                    })
                    .map(|a| a.appid),
            );
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(cohort),
            }
        }
    }

    /// Creates and starts a campaign.
    pub async fn create(&self, request: CampaignRequest) -> Result<CampaignView, CampaignError> {
        let (spec, cohort) = request.validate()?;
        let cohort = match cohort {
            Some(cohort) => cohort,
            None => self.every_mini_program().await?,
        };
        if cohort.is_empty() {
            return Err(CampaignError::EmptyCohort);
        }
        if cohort.len() > MAX_COHORT {
            return Err(invalid(format!(
                "{} mini programs are authorized; a campaign holds at most {MAX_COHORT}: give `appids`",
                cohort.len()
            ))
            .into());
        }
        let now = self.app.context.now();
        let clock = self.app.context.clock();
        let total = u32::try_from(cohort.len()).unwrap_or(u32::MAX);
        let campaign = Campaign {
            id: CampaignId::new(clock.now_millis(), rand::random()),
            wave_ends: wave_ends(&spec.waves, total),
            spec,
            state: CampaignState::Running,
            pause: None,
            halt_reason: None,
            total,
            open_wave: 0,
            halt_overridden: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let apps: Vec<CampaignApp> = cohort
            .into_iter()
            .enumerate()
            .map(|(index, appid)| {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                CampaignApp {
                    appid,
                    index,
                    wave: campaign.wave_of(index),
                    state: AppState::Pending,
                    step: Step::Start,
                    due_at: now,
                    attempts: 0,
                    errcode: None,
                    hint: None,
                    audit_id: None,
                    submit_started_at: None,
                    audit_before: None,
                    released_at: None,
                    updated_at: now,
                }
            })
            .collect();
        let events = state_change_events(self.component(), None, &campaign, 1);
        self.store()
            .create_campaign(self.component(), &campaign, &apps, &events)
            .await?;
        self.app
            .context
            .publish_recorded(&events, Instant::now() + PUBLISH_BUDGET)
            .await;
        tracing::info!(campaign = %campaign.id, total, waves = ?campaign.spec.waves, "release campaign created");
        let counts = self
            .store()
            .campaign_counts(self.component(), &campaign.id)
            .await?;
        Ok(CampaignView::new(&campaign, Some(&counts)))
    }

    fn parse_id(id: &str) -> Result<CampaignId, CampaignError> {
        CampaignId::parse(id).map_err(|_| CampaignError::NotFound { id: id.to_owned() })
    }

    pub async fn get(&self, id: &str) -> Result<CampaignView, CampaignError> {
        let id = Self::parse_id(id)?;
        let campaign = self
            .store()
            .campaign(self.component(), &id)
            .await?
            .ok_or_else(|| CampaignError::NotFound { id: id.to_string() })?;
        let counts = self.store().campaign_counts(self.component(), &id).await?;
        Ok(CampaignView::new(&campaign.record, Some(&counts)))
    }

    /// A page of campaigns, newest first, without their counts (`GET /campaigns/{id}` has them).
    pub async fn list(
        &self,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<CampaignPage, CampaignError> {
        let page = self
            .store()
            .list_campaigns(self.component(), limit, cursor)
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for campaign in &page.items {
            let counts = self
                .store()
                .campaign_counts(self.component(), &campaign.id)
                .await?;
            items.push(CampaignView::new(campaign, Some(&counts)));
        }
        Ok(CampaignPage {
            items,
            next_cursor: page.next.map(|c| c.as_str().to_owned()),
        })
    }

    pub async fn apps(
        &self,
        id: &str,
        state: Option<AppState>,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<CampaignAppPage, CampaignError> {
        let id = Self::parse_id(id)?;
        if self
            .store()
            .campaign(self.component(), &id)
            .await?
            .is_none()
        {
            return Err(CampaignError::NotFound { id: id.to_string() });
        }
        let page = self
            .store()
            .list_campaign_apps(self.component(), &id, state, limit, cursor)
            .await?;
        Ok(CampaignAppPage {
            items: page
                .items
                .iter()
                .map(|a| CampaignAppView::from(&a.record))
                .collect(),
            next_cursor: page.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// Reads the campaign, applies `change` and writes it back, again on a concurrent write.
    async fn modify(
        &self,
        id: &str,
        change: impl Fn(&mut Campaign) -> Result<(), CampaignError>,
    ) -> Result<CampaignView, CampaignError> {
        let id = Self::parse_id(id)?;
        for _ in 0..CAMPAIGN_WRITE_ATTEMPTS {
            let stored = self
                .store()
                .campaign(self.component(), &id)
                .await?
                .ok_or_else(|| CampaignError::NotFound { id: id.to_string() })?;
            let mut campaign = stored.record;
            let before = campaign.state;
            change(&mut campaign)?;
            campaign.updated_at = self.app.context.now();
            let events = state_change_events(
                self.component(),
                Some(before),
                &campaign,
                stored.version + 1,
            );
            match self
                .store()
                .update_campaign(self.component(), &campaign, stored.version, &events)
                .await
            {
                Ok(()) => {
                    self.app
                        .context
                        .publish_recorded(&events, Instant::now() + PUBLISH_BUDGET)
                        .await;
                    let counts = self.store().campaign_counts(self.component(), &id).await?;
                    return Ok(CampaignView::new(&campaign, Some(&counts)));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CampaignError::Store(StoreError::Conflict))
    }

    /// Stops starting steps until resumed. Audit results still arrive and are recorded.
    pub async fn pause(&self, id: &str) -> Result<CampaignView, CampaignError> {
        let view = self
            .modify(id, |c| match c.state {
                CampaignState::Running | CampaignState::Halted => {
                    c.state = CampaignState::Paused;
                    c.pause = Some(PauseReason::Asked);
                    Ok(())
                }
                CampaignState::Paused => Ok(()),
                state => Err(CampaignError::WrongState {
                    state,
                    what: "only a running or halted campaign can be paused",
                }),
            })
            .await?;
        tracing::info!(campaign = %view.id, "release campaign paused");
        Ok(view)
    }

    /// Goes on after a pause (whatever its reason) or a halt (the halted wave's rejections no
    /// longer halt it).
    pub async fn resume(&self, id: &str) -> Result<CampaignView, CampaignError> {
        let view = self
            .modify(id, |c| match c.state {
                CampaignState::Paused => {
                    c.state = CampaignState::Running;
                    c.pause = None;
                    Ok(())
                }
                CampaignState::Halted => {
                    c.state = CampaignState::Running;
                    c.halt_reason = None;
                    if !c.halt_overridden.contains(&c.open_wave) {
                        c.halt_overridden.push(c.open_wave);
                    }
                    Ok(())
                }
                CampaignState::Running => Ok(()),
                state => Err(CampaignError::WrongState {
                    state,
                    what: "a finished campaign cannot be resumed",
                }),
            })
            .await?;
        tracing::info!(campaign = %view.id, "release campaign resumed");
        Ok(view)
    }

    /// Ends the campaign: no app takes another step. Audits under way go on at WeChat.
    pub async fn cancel(&self, id: &str) -> Result<CampaignView, CampaignError> {
        let view = self
            .modify(id, |c| match c.state {
                CampaignState::Done => Err(CampaignError::WrongState {
                    state: c.state,
                    what: "a done campaign cannot be cancelled",
                }),
                _ => {
                    c.state = CampaignState::Cancelled;
                    Ok(())
                }
            })
            .await?;
        tracing::info!(campaign = %view.id, "release campaign cancelled");
        Ok(view)
    }

    /// Starts every failed app again from the beginning (a done campaign runs again). Answers the
    /// campaign and how many apps were restarted.
    pub async fn retry_failed(&self, id: &str) -> Result<(CampaignView, u32), CampaignError> {
        let campaign_id = Self::parse_id(id)?;
        let stored = self
            .store()
            .campaign(self.component(), &campaign_id)
            .await?
            .ok_or_else(|| CampaignError::NotFound { id: id.to_owned() })?;
        if stored.record.state == CampaignState::Cancelled {
            return Err(CampaignError::WrongState {
                state: CampaignState::Cancelled,
                what: "a cancelled campaign cannot be retried",
            });
        }
        let now = self.app.context.now();
        let mut restarted = 0u32;
        let mut cursor = None;
        loop {
            let page = self
                .store()
                .list_campaign_apps(
                    self.component(),
                    &campaign_id,
                    Some(AppState::Failed),
                    crate::store::MAX_PAGE_SIZE,
                    cursor.as_ref(),
                )
                .await?;
            for stored_app in &page.items {
                let before = &stored_app.record;
                let mut after = before.clone();
                after.state = AppState::Pending;
                after.step = Step::Start;
                after.due_at = now;
                after.attempts = 0;
                after.submit_started_at = None;
                after.hint = Some(format!(
                    "restarted after: {}",
                    before.hint.as_deref().unwrap_or("a failure")
                ));
                after.updated_at = now;
                match self
                    .store()
                    .save_campaign_app(
                        self.component(),
                        &campaign_id,
                        before,
                        &after,
                        stored_app.version,
                        false,
                        None,
                    )
                    .await
                {
                    Ok(()) => restarted += 1,
                    // Changed meanwhile (restarted by a concurrent retry): leave it.
                    Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let view = self
            .modify(id, |c| {
                if restarted > 0 && c.state == CampaignState::Done {
                    c.state = CampaignState::Running;
                }
                Ok(())
            })
            .await?;
        tracing::info!(campaign = %view.id, restarted, "failed apps of a release campaign restarted");
        Ok((view, restarted))
    }
}

/// The `Campaign State Changed` event of a campaign stored as `version` whose state was `before`
/// (none: just created); none when the state stayed.
pub(crate) fn state_change_events(
    component: &ComponentAppId,
    before: Option<CampaignState>,
    campaign: &Campaign,
    version: u64,
) -> Vec<ProductEvent> {
    if before == Some(campaign.state) {
        return Vec::new();
    }
    vec![catalogue::campaign_state_changed(
        component,
        campaign,
        before,
        version,
        campaign.updated_at,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<CampaignSpec, String> {
        serde_json::from_value::<CampaignRequest>(json)
            .map_err(|e| e.to_string())?
            .validate()
            .map(|(spec, _)| spec)
            .map_err(|e| e.0)
    }

    #[test]
    fn a_minimal_request_releases_automatically_in_one_wave() {
        let spec = request(
            serde_json::json!({"template_id": 7, "user_version": "1.0.0", "user_desc": "d"}),
        )
        .unwrap();
        assert_eq!(spec.template_id, "7");
        assert_eq!(spec.waves, vec![100]);
        assert_eq!(spec.release, ReleaseMode::Auto);
    }

    #[test]
    fn requests_are_refused_with_the_field_named() {
        for (json, expected) in [
            (
                serde_json::json!({"template_id": "x", "user_version": "1", "user_desc": "d"}),
                "`template_id`",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": " ", "user_desc": "d"}),
                "`user_version`",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "waves": [10, 5, 100]}),
                "`waves`",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "waves": [50]}),
                "ending at 100",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "appids": []}),
                "`appids`",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "appids": ["no pe"]}),
                "\"no pe\" is not an appid",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "halt": {"rejection_share": 1.5}}),
                "`halt.rejection_share`",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "ext_json": {"a": "{{ no way }}"}}),
                "is not `{{appid}}`",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "ext_json": {"a": "{{appid"}}),
                "unclosed",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "release": "later"}),
                "percentage from 1 to 100",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": "d", "colour": "red"}),
                "unknown field",
            ),
            (
                serde_json::json!({"template_id": 1, "user_version": "1", "user_desc": ""}),
                "`user_desc`",
            ),
        ] {
            let error = request(json.clone()).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn ext_json_takes_the_appid_and_the_authorizers_settings() {
        let appid = AuthorizerAppId::parse("wx1111111111111111").unwrap();
        let settings: AuthorizerSettings =
            serde_json::from_str(r##"{"shop_id": "s-9", "tables": 12, "theme": "#fff"}"##).unwrap();
        let template = serde_json::json!({
            "extAppid": "{{appid}}",
            "ext": {"shop": "{{shop_id}}", "tables": "{{tables}}", "title": "Shop {{shop_id}} ({{tables}} tables)"},
            "list": ["{{ theme }}", 3]
        });
        let rendered = render_ext_json(template.as_object().unwrap(), &appid, &settings).unwrap();
        assert_eq!(
            rendered,
            serde_json::json!({
                "extAppid": "wx1111111111111111",
                "ext": {"shop": "s-9", "tables": 12, "title": "Shop s-9 (12 tables)"},
                "list": ["#fff", 3]
            })
        );
        let missing = serde_json::json!({"x": "{{colour}}"});
        let error = render_ext_json(missing.as_object().unwrap(), &appid, &settings).unwrap_err();
        assert!(
            error.contains("`colour`")
                && error.contains("/authorizers/wx1111111111111111/settings"),
            "{error}"
        );
    }
}
