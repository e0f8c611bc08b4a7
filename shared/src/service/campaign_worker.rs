//! The release campaign engine: each run (a schedule, every minute) works on every campaign not
//! finished, moving each due app one step on and the campaign from wave to wave.
//!
//! - **Finding work without a Scan.** Active campaigns come from the `by_status` index; due apps
//!   from the sparse `work` index, one partition per wave and phase (`new`: not started; `run`:
//!   started). Only waves up to the open one are read; a halted campaign reads only `run`.
//! - **One WeChat call per step, whatever runs at once.** Each app's step is claimed with a
//!   conditional write (a lease of [`WorkerSettings::lease_secs`]); its outcome is written only if
//!   the claim's version is still the app's, in one transaction with the counters it changes. A
//!   run killed mid-step leaves a lease that lapses; the next run redoes that step, and each step
//!   is safe to redo: commit and the privacy check are, a release answers 85052 once done, and a
//!   submission writes its intent first, so a redo looks for the audit that was submitted before
//!   submitting again (a second submission would spend quota).
//! - **Waves and the halt rule** are decided from the counters between batches: a wave opens when
//!   every app of the previous one is settled (released, failed, waiting on the merchant, or
//!   approved under manual release) and its rejections did not trip the halt rule.
//! - **Quota.** Before a submission the worker knows the quota left (`queryquota`, cached for
//!   [`WorkerSettings::quota_max_age_secs`] and counted down per submission); at or below the
//!   campaign's reserve, or on 85085, the campaign pauses, and resumes by itself in the next month.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::audit::{ReleaseKind, ReleaseOutcome, outcome_unknown};
use super::campaign::{pause_text, state_change_events};
use super::context::Application;
use super::error::{AuditError, TokenError};
use super::publishing::PUBLISH_BUDGET;
use super::token_service::error_chain;
use crate::clock::{EpochSeconds, beijing_month, beijing_month_start};
use crate::events::ProductEvent;
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::store::campaign::{
    AppState, Campaign, CampaignApp, CampaignId, CampaignState, PauseReason, ReleaseMode, Step,
};
use crate::store::dynamo::work_pk;
use crate::store::{
    AccountKind, AuditStatus, AuditStore, AuthorizerSettingsStore, AuthorizerStatus,
    AuthorizerStore, DynamoStore, StoreError, StoredAuditQuota, Versioned,
};
use crate::wechat::miniprogram::code::{CommitRequest, SubmitAuditRequest};
use crate::wechat::{AuthorizerAccessToken, WechatClient, WechatError, errcode};

/// The permission set a mini program must grant for code management (开发管理与数据分析).
pub const CODE_MANAGEMENT_PERMISSION: u32 = 18;

/// WeChat's errcodes the engine treats apart.
pub mod codes {
    /// The privacy check of the committed code has not finished.
    pub const PRIVACY_CHECK_RUNNING: i64 = 61039;
    /// Another code-management step for this mini program is still being handled.
    pub const STEP_OVERLAP: i64 = 9_402_202;
    /// The audit quota (monthly, shared by the component's mini programs) is spent.
    pub const AUDIT_QUOTA_SPENT: i64 = 85085;
    /// An audit is already under way.
    pub const AUDIT_UNDER_WAY: i64 = 85009;
}

/// How the engine paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// How long a claimed step is the claimant's; longer than a step can take.
    pub lease_secs: i64,
    /// How long to wait between asks whether the privacy check has finished.
    pub privacy_poll_secs: i64,
    /// How long after submission WeChat is asked for the audit's result when no push came.
    pub audit_poll_after_secs: i64,
    /// How often it is asked after that.
    pub audit_poll_every_secs: i64,
    /// How old the stored quota may be before a submission asks WeChat again.
    pub quota_max_age_secs: i64,
    /// Passing failures (WeChat busy, timeouts) of one step before the app fails.
    pub max_attempts: u32,
    /// The first retry's wait; it doubles with each attempt, up to `retry_max_secs`.
    pub retry_base_secs: i64,
    pub retry_max_secs: i64,
    /// Steps run at once.
    pub concurrency: usize,
    /// Due apps read per query.
    pub batch: usize,
    /// No step starts once less than this is left before the deadline.
    pub stop_before: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease_secs: 120,
            privacy_poll_secs: 30,
            audit_poll_after_secs: 6 * 3600,
            audit_poll_every_secs: 3600,
            quota_max_age_secs: 600,
            max_attempts: 12,
            retry_base_secs: 30,
            retry_max_secs: 1800,
            concurrency: 16,
            batch: 100,
            stop_before: Duration::from_secs(25),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerSummary {
    pub campaigns: u32,
    /// Steps run to an outcome.
    pub steps: u32,
    /// Due apps another worker had claimed first.
    pub contended: u32,
    /// Outcomes not written because the app changed meanwhile (a lapsed lease).
    pub lost: u32,
    /// Store failures (the step is retried when its lease lapses).
    pub store_errors: u32,
    pub waves_opened: u32,
    pub finished: u32,
    pub paused_for_quota: u32,
    pub halted: u32,
    /// Whether the run stopped for its deadline with work left.
    pub out_of_time: bool,
}

/// What a step came to.
struct Outcome {
    app: CampaignApp,
    rejection: bool,
    pause: Option<PauseReason>,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct CampaignWorker {
    app: Application<DynamoStore>,
    settings: WorkerSettings,
}

/// Whether a failure passes (try again later), needs the merchant, spends the quota, or is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    RetryLater,
    /// WeChat limits the rate (45009, 45011): retry, waiting longer.
    Busy,
    QuotaSpent,
    NeedsMerchant,
    Permanent,
}

/// How the engine treats `e`.
pub fn classify(e: &TokenError) -> Disposition {
    match e {
        TokenError::Unauthorized { .. }
        | TokenError::ReauthorizationRequired { .. }
        | TokenError::NotFound { .. } => Disposition::NeedsMerchant,
        TokenError::Wechat(w) => match w.errcode() {
            Some(codes::AUDIT_QUOTA_SPENT) => Disposition::QuotaSpent,
            Some(errcode::DAILY_QUOTA_REACHED | errcode::TOO_FREQUENT) => Disposition::Busy,
            Some(
                errcode::NOT_AUTHORIZED
                | errcode::REFRESH_TOKEN_INVALID
                | errcode::PERMISSION_NOT_GRANTED,
            ) => Disposition::NeedsMerchant,
            Some(codes::STEP_OVERLAP | codes::PRIVACY_CHECK_RUNNING | errcode::SYSTEM_BUSY) => {
                Disposition::RetryLater
            }
            Some(_) if !w.is_retryable() => Disposition::Permanent,
            _ => Disposition::RetryLater,
        },
        e if outcome_unknown(e) => Disposition::RetryLater,
        _ => Disposition::Permanent,
    }
}

/// What to do about errcode `code` in a campaign, for the app's record.
pub fn hint_for(code: i64) -> String {
    let text = match code {
        errcode::NOT_AUTHORIZED => {
            "the merchant revoked the authorization: send them a new authorization link"
        }
        errcode::REFRESH_TOKEN_INVALID => {
            "the merchant must authorize again: send them a new authorization link"
        }
        errcode::PERMISSION_NOT_GRANTED => {
            "the merchant did not grant the permission set this needs (code management, 18): ask them to authorize again with it"
        }
        codes::AUDIT_QUOTA_SPENT => "WeChat's monthly audit quota is spent",
        codes::AUDIT_UNDER_WAY => "an audit is already under way for this mini program",
        codes::PRIVACY_CHECK_RUNNING => "WeChat's privacy check of the code has not finished",
        codes::STEP_OVERLAP => "another code step for this mini program was still running",
        85013 | 85045 | 85046 | 85047 | 85048 => {
            "WeChat refused the ext_json: check the campaign's ext_json and this authorizer's settings"
        }
        85014 | 85043 => {
            "the template is unknown to WeChat: check template_id in the template list"
        }
        85044 => "the code package is too large",
        85019 | 85020 => "WeChat has no approved version to release",
        86002 => {
            "the mini program is not set up yet (name, icon, description): the merchant must finish it"
        }
        85006 | 85007 | 85008 | 85077 => "WeChat refused the audit categories or pages",
        _ => {
            return match crate::wechat::fix_for(code) {
                Some(fix) => fix.to_owned(),
                None => format!("see WeChat's documentation for errcode {code}"),
            };
        }
    };
    text.to_owned()
}

impl CampaignWorker {
    pub fn new(app: Application<DynamoStore>, settings: WorkerSettings) -> Self {
        Self { app, settings }
    }

    pub fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    fn store(&self) -> &DynamoStore {
        self.app.context.store()
    }

    /// The token service's call with `appid`'s token, on the heap (see [`boxed`]).
    async fn with_token<'s, T, F, Fut>(
        &'s self,
        appid: &'s AuthorizerAppId,
        call: F,
    ) -> Result<T, TokenError>
    where
        F: Fn(&'s WechatClient, AuthorizerAccessToken) -> Fut + Send + Sync + 's,
        Fut: std::future::Future<Output = Result<T, WechatError>> + Send + 's,
        T: Send + 's,
    {
        boxed(self.app.tokens.with_authorizer_token(appid, call)).await
    }

    fn component(&self) -> &ComponentAppId {
        self.app.context.component_appid()
    }

    fn now(&self) -> EpochSeconds {
        self.app.context.now()
    }

    /// Publishes events just recorded with a campaign's change (what is not published in time
    /// waits for the scheduled drain).
    async fn publish(&self, events: &[ProductEvent]) {
        self.app
            .context
            .publish_recorded(events, Instant::now() + PUBLISH_BUDGET)
            .await;
    }

    /// Works on every active campaign until nothing is due or `deadline` comes near.
    pub async fn run(&self, deadline: Instant) -> WorkerSummary {
        let mut summary = WorkerSummary::default();
        let ids = match self.store().active_campaigns(self.component()).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "active campaigns could not be read");
                summary.store_errors += 1;
                return summary;
            }
        };
        summary.campaigns = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        for id in ids {
            if let Err(e) = self.work_on(&id, deadline, &mut summary).await {
                tracing::error!(campaign = %id, error = %error_chain(&e), "campaign run stopped by the store");
                summary.store_errors += 1;
            }
            if self.out_of_time(deadline) {
                summary.out_of_time = true;
                break;
            }
        }
        tracing::info!(?summary, "campaign worker run done");
        summary
    }

    fn out_of_time(&self, deadline: Instant) -> bool {
        deadline.saturating_duration_since(Instant::now()) <= self.settings.stop_before
    }

    async fn work_on(
        &self,
        id: &CampaignId,
        deadline: Instant,
        summary: &mut WorkerSummary,
    ) -> Result<(), StoreError> {
        let mut tried: HashSet<AuthorizerAppId> = HashSet::new();
        loop {
            let Some(campaign) = self.advance(id, summary).await? else {
                return Ok(());
            };
            if !matches!(
                campaign.state,
                CampaignState::Running | CampaignState::Halted
            ) {
                return Ok(());
            }
            if self.out_of_time(deadline) {
                summary.out_of_time = true;
                return Ok(());
            }
            let now = self.now();
            let mut due = Vec::new();
            for wave in 0..=campaign.open_wave {
                let mut phases = vec![true];
                if campaign.state == CampaignState::Running {
                    phases.push(false);
                }
                for started in phases {
                    let partition = work_pk(self.component(), id, wave, started);
                    for appid in self
                        .store()
                        .due_campaign_apps(&partition, now, self.settings.batch)
                        .await?
                    {
                        if !tried.contains(&appid) {
                            due.push((appid, started));
                        }
                    }
                }
            }
            if due.is_empty() {
                return Ok(());
            }
            self.run_batch(&campaign, due, deadline, &mut tried, summary)
                .await;
        }
    }

    /// Runs the steps of `due` (started apps first); once one is rejected no new app starts in
    /// this batch, so the halt rule is looked at before more start.
    async fn run_batch(
        &self,
        campaign: &Campaign,
        mut due: Vec<(AuthorizerAppId, bool)>,
        deadline: Instant,
        tried: &mut HashSet<AuthorizerAppId>,
        summary: &mut WorkerSummary,
    ) {
        due.sort_by_key(|(_, started)| !started);
        let mut running: JoinSet<StepReport> = JoinSet::new();
        let mut queue = due.into_iter();
        let mut rejected = false;
        loop {
            while running.len() < self.settings.concurrency && !self.out_of_time(deadline) {
                let Some((appid, started)) = queue.next() else {
                    break;
                };
                if !started && rejected {
                    continue;
                }
                tried.insert(appid.clone());
                let worker = self.clone();
                let campaign = campaign.clone();
                running.spawn(boxed(
                    async move { worker.step_app(&campaign, &appid).await },
                ));
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            match joined {
                Ok(StepReport::Done { rejection, pause }) => {
                    summary.steps += 1;
                    rejected |= rejection;
                    if let Some(reason) = pause {
                        summary.paused_for_quota += 1;
                        if let Err(e) = self.pause_for_quota(&campaign.id, reason).await {
                            tracing::error!(error = %error_chain(&e), "campaign could not be paused for the quota");
                            summary.store_errors += 1;
                        }
                        // Nothing more starts: the remaining queue waits for the resume.
                        queue = Vec::new().into_iter();
                    }
                }
                Ok(StepReport::Contended) => summary.contended += 1,
                Ok(StepReport::Lost) => summary.lost += 1,
                Ok(StepReport::StoreFailed) => summary.store_errors += 1,
                Err(e) => {
                    tracing::error!(error = %e, "a campaign step panicked");
                    summary.store_errors += 1;
                }
            }
        }
        if queue.len() > 0 {
            summary.out_of_time = true;
        }
    }

    /// Reads the campaign and moves it on: resumes a quota pause in a new month, halts on the
    /// rule, opens the next wave or finishes. Answers the campaign as it now is.
    async fn advance(
        &self,
        id: &CampaignId,
        summary: &mut WorkerSummary,
    ) -> Result<Option<Campaign>, StoreError> {
        for _ in 0..10 {
            let Some(Versioned {
                record: mut campaign,
                version,
            }) = self.store().campaign(self.component(), id).await?
            else {
                return Ok(None);
            };
            let before = campaign.clone();
            let now = self.now();
            match campaign.state {
                CampaignState::Paused => {
                    if let Some(PauseReason::Quota { month, .. }) = campaign.pause
                        && beijing_month(now) != month
                    {
                        campaign.state = CampaignState::Running;
                        campaign.pause = None;
                        tracing::info!(campaign = %id, "a new month: the audit quota is back; campaign resumed");
                    }
                }
                CampaignState::Running => {
                    let counts = self.store().campaign_counts(self.component(), id).await?;
                    loop {
                        let wave = campaign.open_wave;
                        let rejected =
                            u32::try_from(counts.rejected_in(wave).max(0)).unwrap_or(u32::MAX);
                        if !campaign.halt_overridden.contains(&wave)
                            && campaign.spec.halt.trips(rejected, campaign.wave_size(wave))
                        {
                            campaign.state = CampaignState::Halted;
                            campaign.halt_reason = Some(format!(
                                "wave {} of {}: {rejected} of {} audits rejected, which the halt rule does not allow",
                                wave + 1,
                                campaign.wave_ends.len(),
                                campaign.wave_size(wave)
                            ));
                            summary.halted += 1;
                            tracing::warn!(campaign = %id, wave, rejected, "release campaign halted");
                            break;
                        }
                        if counts.unsettled_in(wave) > 0 {
                            break;
                        }
                        if (wave as usize) + 1 < campaign.wave_ends.len() {
                            campaign.open_wave += 1;
                            summary.waves_opened += 1;
                            tracing::info!(campaign = %id, wave = campaign.open_wave, "next wave opened");
                        } else {
                            campaign.state = CampaignState::Done;
                            summary.finished += 1;
                            tracing::info!(campaign = %id, "release campaign done");
                            break;
                        }
                    }
                }
                _ => {}
            }
            if campaign == before {
                return Ok(Some(campaign));
            }
            campaign.updated_at = now;
            let events =
                state_change_events(self.component(), Some(before.state), &campaign, version + 1);
            match self
                .store()
                .update_campaign(self.component(), &campaign, version, &events)
                .await
            {
                Ok(()) => {
                    self.publish(&events).await;
                    return Ok(Some(campaign));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn pause_for_quota(
        &self,
        id: &CampaignId,
        reason: PauseReason,
    ) -> Result<(), StoreError> {
        for _ in 0..10 {
            let Some(Versioned {
                record: mut campaign,
                version,
            }) = self.store().campaign(self.component(), id).await?
            else {
                return Ok(());
            };
            if campaign.state != CampaignState::Running {
                return Ok(());
            }
            campaign.state = CampaignState::Paused;
            tracing::warn!(campaign = %id, reason = %pause_text(&reason), "release campaign paused");
            campaign.pause = Some(reason.clone());
            campaign.updated_at = self.now();
            let events = state_change_events(
                self.component(),
                Some(CampaignState::Running),
                &campaign,
                version + 1,
            );
            match self
                .store()
                .update_campaign(self.component(), &campaign, version, &events)
                .await
            {
                Ok(()) => {
                    self.publish(&events).await;
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Claims the app's due step, runs it and writes its outcome.
    async fn step_app(&self, campaign: &Campaign, appid: &AuthorizerAppId) -> StepReport {
        let claimed = self
            .store()
            .claim_campaign_app(
                self.component(),
                &campaign.id,
                appid,
                self.now(),
                self.settings.lease_secs,
            )
            .await;
        let Versioned {
            record: before,
            mut version,
        } = match claimed {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return StepReport::Contended,
            Err(e) => {
                tracing::warn!(authorizer = %appid, error = %error_chain(&e), "campaign step not claimed");
                return StepReport::StoreFailed;
            }
        };
        let span = tracing::info_span!("campaign_step", campaign = %campaign.id, authorizer = %appid, step = ?before.step);
        let outcome = boxed(
            self.run_step(campaign, &before, &mut version)
                .instrument(span),
        )
        .await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(StepFailure::Store(e)) => {
                tracing::warn!(authorizer = %appid, error = %error_chain(&e), "campaign step stopped by the store; retried when its lease lapses");
                return StepReport::StoreFailed;
            }
            Err(StepFailure::Lost) => return StepReport::Lost,
        };
        let mut after = outcome.app;
        after.updated_at = self.now();
        match self
            .store()
            .save_campaign_app(
                self.component(),
                &campaign.id,
                &before,
                &after,
                version,
                outcome.rejection,
                None,
            )
            .await
        {
            Ok(()) => {
                if before.state != after.state {
                    tracing::info!(authorizer = %appid, campaign = %campaign.id, from = before.state.as_str(), to = after.state.as_str(), errcode = after.errcode, "campaign app moved on");
                }
                StepReport::Done {
                    rejection: outcome.rejection,
                    pause: outcome.pause,
                }
            }
            Err(StoreError::Conflict) => {
                tracing::warn!(authorizer = %appid, "campaign step outcome not written: the app changed meanwhile");
                StepReport::Lost
            }
            Err(e) => {
                tracing::warn!(authorizer = %appid, error = %error_chain(&e), "campaign step outcome not written; retried when its lease lapses");
                StepReport::StoreFailed
            }
        }
    }

    /// Runs the app's step (and the next ones that need no waiting).
    async fn run_step(
        &self,
        campaign: &Campaign,
        before: &CampaignApp,
        version: &mut u64,
    ) -> Result<Outcome, StepFailure> {
        let mut app = before.clone();
        let now = self.now();
        loop {
            let result = match app.step {
                Step::Start => boxed(self.start(campaign, &mut app)).await?,
                Step::PrivacyCheck => boxed(self.privacy_check(&mut app)).await,
                Step::Submit => {
                    match boxed(self.submit(campaign, before, &mut app, version)).await? {
                        Ok(pause) if pause.is_some() => {
                            return Ok(Outcome {
                                app,
                                rejection: false,
                                pause,
                            });
                        }
                        other => other.map(|_| ()),
                    }
                }
                Step::AwaitAudit => match boxed(self.await_audit(&mut app)).await? {
                    Ok(true) => {
                        return Ok(Outcome {
                            app,
                            rejection: true,
                            pause: None,
                        });
                    }
                    other => other.map(|_| ()),
                },
                Step::Release => boxed(self.release(campaign, &mut app)).await,
                Step::Settled => return Ok(self.done(app)),
            };
            match result {
                Ok(()) => {
                    app.attempts = 0;
                    // A step that is due again at once goes on in this claim.
                    if app.step == Step::Settled || app.due_at > now {
                        return Ok(self.done(app));
                    }
                }
                Err(e) => return Ok(self.failed(campaign, app, &e)),
            }
        }
    }

    fn done(&self, app: CampaignApp) -> Outcome {
        Outcome {
            app,
            rejection: false,
            pause: None,
        }
    }

    fn settle(app: &mut CampaignApp, state: AppState, errcode: Option<i64>, hint: String) {
        app.state = state;
        app.step = Step::Settled;
        app.errcode = errcode;
        app.hint = Some(hint);
    }

    /// The outcome of a step that failed with `e`.
    fn failed(&self, campaign: &Campaign, mut app: CampaignApp, e: &TokenError) -> Outcome {
        let now = self.now();
        let code = e.errcode();
        app.errcode = code;
        match classify(e) {
            Disposition::QuotaSpent => {
                app.hint = Some(hint_for(codes::AUDIT_QUOTA_SPENT));
                app.due_at = now;
                app.submit_started_at = None;
                Outcome {
                    app,
                    rejection: false,
                    pause: Some(PauseReason::Quota {
                        rest: None,
                        month: beijing_month(now),
                    }),
                }
            }
            Disposition::NeedsMerchant => {
                let hint = match e {
                    TokenError::NotFound { .. } => {
                        "not authorized to this platform: send the merchant an authorization link"
                            .to_owned()
                    }
                    TokenError::Unauthorized { .. } => hint_for(errcode::NOT_AUTHORIZED),
                    TokenError::ReauthorizationRequired { .. } => {
                        hint_for(errcode::REFRESH_TOKEN_INVALID)
                    }
                    _ => hint_for(code.unwrap_or(0)),
                };
                Self::settle(&mut app, AppState::NeedsMerchant, code, hint);
                self.done(app)
            }
            Disposition::Permanent => {
                let hint = match code {
                    Some(code) => hint_for(code),
                    None => format!("failed: {}", error_chain(e)),
                };
                Self::settle(&mut app, AppState::Failed, code, hint);
                self.done(app)
            }
            disposition @ (Disposition::RetryLater | Disposition::Busy) => {
                app.attempts += 1;
                if app.attempts >= self.settings.max_attempts {
                    let hint = format!(
                        "gave up after {} attempts ({}): POST /campaigns/{}/retry-failed to try again",
                        app.attempts,
                        code.map(hint_for).unwrap_or_else(|| error_chain(e)),
                        campaign.id
                    );
                    Self::settle(&mut app, AppState::Failed, code, hint);
                } else {
                    let factor = if disposition == Disposition::Busy {
                        4
                    } else {
                        1
                    };
                    let wait = (self.settings.retry_base_secs * factor)
                        .saturating_mul(1 << app.attempts.min(16).saturating_sub(1))
                        .min(self.settings.retry_max_secs);
                    app.due_at = now + wait;
                    app.hint = Some(match code {
                        Some(code) => format!("{}; retried", hint_for(code)),
                        None => "WeChat did not answer; retried".to_owned(),
                    });
                    tracing::warn!(authorizer = %app.appid, errcode = code, attempts = app.attempts, error = %error_chain(e), "campaign step failed; retried later");
                }
                self.done(app)
            }
        }
    }

    /// Preflight (still authorized, a mini program, code management granted), then commit.
    async fn start(
        &self,
        campaign: &Campaign,
        app: &mut CampaignApp,
    ) -> Result<Result<(), TokenError>, StepFailure> {
        let now = self.now();
        let authorizer = self
            .store()
            .authorizer(self.component(), &app.appid)
            .await
            .map_err(StepFailure::Store)?;
        let Some(authorizer) = authorizer else {
            return Ok(Err(TokenError::NotFound {
                appid: app.appid.clone(),
            }));
        };
        match authorizer.status {
            AuthorizerStatus::Authorized => {}
            AuthorizerStatus::Unauthorized => {
                return Ok(Err(TokenError::Unauthorized {
                    appid: app.appid.clone(),
                }));
            }
            AuthorizerStatus::ReauthorizationRequired => {
                return Ok(Err(TokenError::ReauthorizationRequired {
                    appid: app.appid.clone(),
                }));
            }
        }
        if let Some(account) = &authorizer.account
            && account.kind != AccountKind::MiniProgram
        {
            Self::settle(
                app,
                AppState::Failed,
                None,
                "an official account: campaigns release mini programs".to_owned(),
            );
            return Ok(Ok(()));
        }
        if !authorizer.func_info.contains(&CODE_MANAGEMENT_PERMISSION) {
            Self::settle(
                app,
                AppState::NeedsMerchant,
                None,
                hint_for(errcode::PERMISSION_NOT_GRANTED),
            );
            return Ok(Ok(()));
        }
        let settings = self
            .store()
            .authorizer_settings(self.component(), &app.appid)
            .await
            .map_err(StepFailure::Store)?
            .unwrap_or_default();
        let ext_json = match super::campaign::render_ext_json(
            &campaign.spec.ext_json,
            &app.appid,
            &settings,
        ) {
            Ok(ext_json) => ext_json,
            Err(hint) => {
                Self::settle(app, AppState::Failed, None, hint);
                return Ok(Ok(()));
            }
        };
        let request = CommitRequest {
            template_id: campaign.spec.template_id.clone(),
            ext_json: ext_json.to_string(),
            user_version: campaign.spec.user_version.clone(),
            user_desc: campaign.spec.user_desc.clone(),
        };
        let request = &request;
        let result = self
            .with_token(&app.appid, |client, token| async move {
                client.commit_code(&token, request).await
            })
            .await;
        Ok(result.map(|()| {
            app.state = AppState::Committed;
            app.step = Step::PrivacyCheck;
            app.errcode = None;
            app.hint = None;
            app.due_at = now + self.settings.privacy_poll_secs;
        }))
    }

    /// Whether WeChat's privacy check of the committed code has finished (61039 until then).
    async fn privacy_check(&self, app: &mut CampaignApp) -> Result<(), TokenError> {
        let now = self.now();
        let result = self
            .with_token(&app.appid, |client, token| async move {
                client.get_code_privacy_info(&token).await
            })
            .await;
        match result {
            Ok(_) => {
                app.step = Step::Submit;
                app.hint = None;
                app.errcode = None;
                app.due_at = now;
                Ok(())
            }
            Err(e) if e.errcode() == Some(codes::PRIVACY_CHECK_RUNNING) => {
                app.hint = Some(hint_for(codes::PRIVACY_CHECK_RUNNING));
                app.due_at = now + self.settings.privacy_poll_secs;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The quota left, from the store when fresh, else from WeChat (with this app's token).
    async fn quota(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<Result<StoredAuditQuota, TokenError>, StepFailure> {
        let now = self.now();
        let stored = self
            .store()
            .audit_quota(self.component())
            .await
            .map_err(StepFailure::Store)?;
        if let Some(quota) = stored
            && now - quota.fetched_at < self.settings.quota_max_age_secs
            && beijing_month(now) == beijing_month(quota.fetched_at)
        {
            return Ok(Ok(quota));
        }
        let fetched = self
            .with_token(appid, |client, token| async move {
                client.query_quota(&token).await
            })
            .await;
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => return Ok(Err(e)),
        };
        let quota = StoredAuditQuota {
            rest: fetched.rest,
            limit: fetched.limit,
            speedup_rest: fetched.speedup_rest,
            speedup_limit: fetched.speedup_limit,
            fetched_at: now,
        };
        let stale_before =
            (now - self.settings.quota_max_age_secs + 1).max(beijing_month_start(now));
        let stored = self
            .store()
            .refresh_audit_quota(self.component(), &quota, stale_before)
            .await
            .map_err(StepFailure::Store)?;
        if stored {
            return Ok(Ok(quota));
        }
        // Another worker refreshed it meanwhile and may have counted submissions down since.
        match self
            .store()
            .audit_quota(self.component())
            .await
            .map_err(StepFailure::Store)?
        {
            Some(theirs) => Ok(Ok(theirs)),
            None => Ok(Ok(quota)),
        }
    }

    /// Submits the audit: looks for an earlier attempt's audit first, checks the quota, writes
    /// the intent, submits. Answers a pause when the quota is at or below the reserve.
    async fn submit(
        &self,
        campaign: &Campaign,
        before: &CampaignApp,
        app: &mut CampaignApp,
        version: &mut u64,
    ) -> Result<Result<Option<PauseReason>, TokenError>, StepFailure> {
        let now = self.now();
        if let Some(started_at) = app.submit_started_at {
            // An earlier attempt sent submit_audit and its outcome was not written: its audit,
            // if WeChat took it, is the latest, submitted after the intent.
            let latest = self
                .with_token(&app.appid, |client, token| async move {
                    client.get_latest_audit_status(&token).await
                })
                .await;
            match latest {
                // Ours if submitted after the intent (a minute's slack for the clocks); WeChat
                // gives the submission time, and without one only an audit under way counts.
                Ok(latest)
                    if latest.auditid > 0
                        && u64::try_from(latest.auditid).ok() != app.audit_before
                        && if latest.submit_audit_time > 0 {
                            latest.submit_audit_time >= started_at - 60
                        } else {
                            matches!(latest.status, 2 | 4)
                        } =>
                {
                    let audit_id = u64::try_from(latest.auditid).unwrap_or_default();
                    return Ok(self.adopt(campaign, app, audit_id).await.map(|()| None));
                }
                Ok(_) => {}
                Err(e) => return Ok(Err(e)),
            }
        }
        let quota = match self.quota(&app.appid).await? {
            Ok(quota) => quota,
            Err(e) => return Ok(Err(e)),
        };
        let reserve = i64::from(campaign.spec.quota_reserve);
        let taken = self
            .store()
            .take_audit_quota(self.component(), reserve)
            .await
            .map_err(StepFailure::Store)?;
        if !taken {
            let rest = quota.rest.min(reserve);
            app.hint = Some(format!(
                "waiting for audit quota: {rest} left, reserve {reserve}"
            ));
            app.due_at = now;
            return Ok(Ok(Some(PauseReason::Quota {
                rest: Some(rest),
                month: beijing_month(now),
            })));
        }
        // The intent, written before the call (see the module's notes).
        let audit_before = self
            .store()
            .audit_state(self.component(), &app.appid)
            .await
            .map_err(StepFailure::Store)?
            .map(|s| s.audit_id);
        let mut intent = app.clone();
        intent.submit_started_at = Some(now);
        intent.audit_before = audit_before;
        intent.updated_at = now;
        match self
            .store()
            .save_campaign_app(
                self.component(),
                &campaign.id,
                before,
                &intent,
                *version,
                false,
                Some(now + self.settings.lease_secs),
            )
            .await
        {
            Ok(()) => *version += 1,
            Err(StoreError::Conflict) => return Err(StepFailure::Lost),
            Err(e) => return Err(StepFailure::Store(e)),
        }
        *app = intent;
        let request: SubmitAuditRequest =
            serde_json::from_value(serde_json::Value::Object(campaign.spec.audit.clone()))
                .unwrap_or_default();
        match boxed(
            self.app
                .audits
                .submit_for(&app.appid, &request, false, Some(&campaign.id)),
        )
        .await
        {
            Ok(state) => {
                self.auditing(app, state.audit_id);
                Ok(Ok(None))
            }
            Err(AuditError::Store(e)) => Err(StepFailure::Store(e)),
            Err(AuditError::Token(e)) => {
                if !outcome_unknown(&e) {
                    // Nothing was submitted: the submission taken from the quota goes back (or,
                    // on 85085, WeChat says none is left).
                    let given_back = if e.errcode() == Some(codes::AUDIT_QUOTA_SPENT) {
                        self.store()
                            .put_audit_quota(
                                self.component(),
                                &StoredAuditQuota {
                                    rest: 0,
                                    fetched_at: now,
                                    ..quota
                                },
                            )
                            .await
                    } else {
                        self.store().return_audit_quota(self.component()).await
                    };
                    if let Err(store) = given_back {
                        tracing::warn!(error = %error_chain(&store), "the stored audit quota was not corrected");
                    }
                }
                self.submit_failed(campaign, app, e).await
            }
        }
    }

    /// What a refused or failed submission leads to.
    async fn submit_failed(
        &self,
        campaign: &Campaign,
        app: &mut CampaignApp,
        e: TokenError,
    ) -> Result<Result<Option<PauseReason>, TokenError>, StepFailure> {
        let now = self.now();
        match e.errcode() {
            Some(codes::PRIVACY_CHECK_RUNNING) => {
                app.submit_started_at = None;
                app.step = Step::PrivacyCheck;
                app.hint = Some(hint_for(codes::PRIVACY_CHECK_RUNNING));
                app.due_at = now + self.settings.privacy_poll_secs;
                Ok(Ok(None))
            }
            Some(codes::AUDIT_UNDER_WAY) => {
                // Submitted by an attempt whose answer was lost, or by someone else: follow
                // the audit under way.
                let latest = self
                    .with_token(&app.appid, |client, token| async move {
                        client.get_latest_audit_status(&token).await
                    })
                    .await;
                match latest {
                    Ok(latest) if latest.auditid > 0 => {
                        let audit_id = u64::try_from(latest.auditid).unwrap_or_default();
                        Ok(self.adopt(campaign, app, audit_id).await.map(|()| None))
                    }
                    Ok(_) => Ok(Err(e)),
                    Err(other) => Ok(Err(other)),
                }
            }
            _ => {
                if !outcome_unknown(&e) {
                    // A definite refusal: nothing was submitted.
                    app.submit_started_at = None;
                }
                Ok(Err(e))
            }
        }
    }

    async fn adopt(
        &self,
        campaign: &Campaign,
        app: &mut CampaignApp,
        audit_id: u64,
    ) -> Result<(), TokenError> {
        match boxed(
            self.app
                .audits
                .adopt(&app.appid, audit_id, Some(&campaign.id)),
        )
        .await
        {
            Ok(_) => {
                tracing::info!(authorizer = %app.appid, audit_id, "audit under way adopted instead of submitting again");
                self.auditing(app, audit_id);
                Ok(())
            }
            Err(AuditError::Token(e)) => Err(e),
            Err(AuditError::Store(e)) => Err(TokenError::Store(e)),
        }
    }

    fn auditing(&self, app: &mut CampaignApp, audit_id: u64) {
        app.state = AppState::Auditing;
        app.step = Step::AwaitAudit;
        app.audit_id = Some(audit_id);
        app.submit_started_at = None;
        app.errcode = None;
        app.hint = None;
        app.due_at = self.now() + self.settings.audit_poll_after_secs;
    }

    /// The audit's result: stored by the push, or asked of WeChat after a long silence. Answers
    /// whether it was rejected.
    async fn await_audit(
        &self,
        app: &mut CampaignApp,
    ) -> Result<Result<bool, TokenError>, StepFailure> {
        let now = self.now();
        let Some(audit_id) = app.audit_id else {
            app.step = Step::Submit;
            app.due_at = now;
            return Ok(Ok(false));
        };
        let stored = self
            .store()
            .audit_state(self.component(), &app.appid)
            .await
            .map_err(StepFailure::Store)?;
        let (status, reason) = match stored.filter(|s| s.audit_id == audit_id) {
            Some(s) if !matches!(s.status, AuditStatus::Pending | AuditStatus::Delayed) => {
                (s.status, s.reason)
            }
            stored => {
                if let Some(s) = stored.filter(|s| s.status == AuditStatus::Delayed) {
                    app.hint = Some(format!(
                        "audit delayed: {}",
                        s.reason.as_deref().unwrap_or("no reason given")
                    ));
                }
                // Woken before its time without a result (a delay was pushed): wait on.
                if app.due_at > now {
                    return Ok(Ok(false));
                }
                let wechat_id = i64::try_from(audit_id).unwrap_or_default();
                let report = self
                    .with_token(&app.appid, |client, token| async move {
                        client.get_audit_status(&token, wechat_id).await
                    })
                    .await;
                let report = match report {
                    Ok(report) => report,
                    Err(e) => return Ok(Err(e)),
                };
                let status = match report.status {
                    0 => AuditStatus::Succeeded,
                    1 => AuditStatus::Failed,
                    3 => AuditStatus::Withdrawn,
                    4 => AuditStatus::Delayed,
                    _ => AuditStatus::Pending,
                };
                if matches!(status, AuditStatus::Pending | AuditStatus::Delayed) {
                    if status == AuditStatus::Delayed {
                        app.hint = Some(format!("audit delayed: {}", report.reason));
                    }
                    app.due_at = now + self.settings.audit_poll_every_secs;
                    return Ok(Ok(false));
                }
                let reason = (!report.reason.is_empty()).then_some(report.reason);
                if let Err(AuditError::Store(e)) = self
                    .app
                    .audits
                    .record_result(&app.appid, audit_id, status, reason.clone())
                    .await
                {
                    return Err(StepFailure::Store(e));
                }
                (status, reason)
            }
        };
        match status {
            AuditStatus::Succeeded => {
                app.state = AppState::Approved;
                app.step = Step::Release;
                app.hint = None;
                app.due_at = now;
                Ok(Ok(false))
            }
            AuditStatus::Failed => {
                Self::settle(
                    app,
                    AppState::Failed,
                    None,
                    format!(
                        "audit rejected: {}",
                        reason.as_deref().unwrap_or("no reason given")
                    ),
                );
                Ok(Ok(true))
            }
            _ => {
                Self::settle(
                    app,
                    AppState::Failed,
                    None,
                    "the audit was withdrawn".to_owned(),
                );
                Ok(Ok(false))
            }
        }
    }

    /// Releases as the campaign asks (auto, gray), or leaves the approved version (manual).
    async fn release(&self, campaign: &Campaign, app: &mut CampaignApp) -> Result<(), TokenError> {
        let kind = match campaign.spec.release {
            ReleaseMode::Manual => {
                Self::settle(
                    app,
                    AppState::Approved,
                    None,
                    "approved; release it when you choose (POST /authorizers/{appid}/release)"
                        .replace("{appid}", app.appid.as_str()),
                );
                return Ok(());
            }
            ReleaseMode::Auto => ReleaseKind::Full,
            ReleaseMode::Gray(p) => ReleaseKind::Gray(p),
        };
        let audit_id = app.audit_id.unwrap_or_default();
        match boxed(self.app.audits.release_approved(&app.appid, audit_id, kind)).await? {
            ReleaseOutcome::Released => {
                let hint = match kind {
                    ReleaseKind::Gray(p) => Some(format!("phased release to {p}% of users")),
                    ReleaseKind::Full => None,
                };
                app.state = AppState::Released;
                app.step = Step::Settled;
                app.errcode = None;
                app.hint = hint;
                app.released_at = Some(self.now());
                Ok(())
            }
            ReleaseOutcome::NotTheApprovedAudit {
                latest_audit_id,
                status,
            } => {
                Self::settle(
                    app,
                    AppState::Failed,
                    None,
                    format!(
                        "not released: WeChat's latest audit is {latest_audit_id} (status {status}), not this campaign's: another version was submitted meanwhile"
                    ),
                );
                Ok(())
            }
            ReleaseOutcome::LatestUnknown { errcode } | ReleaseOutcome::Refused { errcode } => {
                let code = errcode.unwrap_or(0);
                Err(TokenError::Wechat(WechatError::Api {
                    path: "/wxa/release",
                    errcode: code,
                    errmsg: hint_for(code),
                }))
            }
        }
    }
}

/// `future` on the heap, as a trait object: the steps' futures nest deep enough to overflow the
/// compiler's `Send` check when spawned as one type.
fn boxed<'a, T>(
    future: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

enum StepReport {
    Done {
        rejection: bool,
        pause: Option<PauseReason>,
    },
    Contended,
    Lost,
    StoreFailed,
}

/// Why a step has no outcome to write.
enum StepFailure {
    /// The app changed under us (another worker took over a lapsed lease).
    Lost,
    Store(StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wechat(code: i64) -> TokenError {
        TokenError::Wechat(WechatError::Api {
            path: "/wxa/submit_audit",
            errcode: code,
            errmsg: String::new(),
        })
    }

    #[test]
    fn errors_are_classified_by_what_fixes_them() {
        assert_eq!(classify(&wechat(85085)), Disposition::QuotaSpent);
        assert_eq!(classify(&wechat(45009)), Disposition::Busy);
        assert_eq!(classify(&wechat(-1)), Disposition::RetryLater);
        assert_eq!(classify(&wechat(9_402_202)), Disposition::RetryLater);
        assert_eq!(classify(&wechat(61039)), Disposition::RetryLater);
        for code in [61003, 61023, 61007] {
            assert_eq!(
                classify(&wechat(code)),
                Disposition::NeedsMerchant,
                "{code}"
            );
        }
        assert_eq!(classify(&wechat(85013)), Disposition::Permanent);
        let appid = AuthorizerAppId::parse("wx1111111111111111").unwrap();
        assert_eq!(
            classify(&TokenError::Unauthorized { appid }),
            Disposition::NeedsMerchant
        );
        assert_eq!(
            classify(&TokenError::Busy { what: "token" }),
            Disposition::RetryLater
        );
    }

    #[test]
    fn every_hint_says_what_to_do() {
        assert!(hint_for(85013).contains("ext_json"));
        assert!(hint_for(61023).contains("authorize again"));
        assert!(hint_for(123_456).contains("errcode 123456"));
    }
}
