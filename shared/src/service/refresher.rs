//! The scheduled refresh: one run refreshes the component token and every authorizer
//! token that expires within the margin, then reports what it did.
//!
//! - Due authorizers come from the store's due index ([`DueTokens`](crate::store::DueTokens)), a
//!   page at a time, earliest expiry first, each page worked through in random order. Tokens refreshed in this run leave the index; those that failed or were busy
//!   stay, so each page asks for as many more entries as this run has already tried and skips
//!   them. Nothing is ever scanned.
//! - Each authorizer goes through [`TokenService::refresh_authorizer_token_if_due`]: a lease per
//!   authorizer and a re-read under it, so overlapping runs (or an API call refreshing the same
//!   token) make one WeChat call per token between them.
//! - At most `concurrency` refreshes run at once. No new one starts once less than the run's
//!   reserve is left before the deadline ([`RefresherSettings::reserve_for`]: `stop_before`, or a
//!   quarter of the run's budget when that is less); the rest waits for the next run. The WeChat
//!   calls of each refresh end within four fifths of the reserve, so a refresh started just before
//!   the cut-off ends before the deadline, its store writes included.
//! - 61023 and 61003 mark the authorizer (the service does it) and the run goes on; other failures
//!   are counted by errcode and the run goes on.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use serde::Serialize;
use tokio::task::JoinSet;

use super::publishing::{DrainSummary, PUBLISH_BUDGET};
use super::token_service::{RefreshOutcome, TokenService, error_chain};
use crate::clock::EpochSeconds;
use crate::events::catalogue;
use crate::ids::AuthorizerAppId;
use crate::store::{DueToken, RefresherRun, Store};
use crate::wechat::deadline;

/// How a run pages, stops and judges the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefresherSettings {
    /// Tokens expiring within this many seconds are refreshed (`REFRESH_MARGIN_SECONDS`).
    pub margin_secs: i64,
    /// The most a run keeps in reserve before its deadline: no refresh starts once less than the
    /// reserve is left. A run with less than four times this left keeps a quarter of what it has
    /// ([`RefresherSettings::reserve_for`]), so that a short deadline (a local runner's) still
    /// leaves most of it for work. Each refresh is bounded by the reserve, so that the refreshes
    /// already started finish before the function is stopped.
    pub stop_before: Duration,
    /// How many new due entries one query of the due index asks for.
    pub page_size: usize,
    /// A ticket older than this means pushes stopped arriving (WeChat sends one every 10
    /// minutes): the run asks WeChat to push one. The service rate-limits the request.
    pub ticket_stale_after_secs: i64,
}

impl Default for RefresherSettings {
    fn default() -> Self {
        Self {
            margin_secs: crate::config::DEFAULT_REFRESH_MARGIN_SECONDS,
            stop_before: Duration::from_secs(25),
            page_size: 500,
            ticket_stale_after_secs: 20 * 60,
        }
    }
}

impl RefresherSettings {
    /// What a run with `budget` left before its deadline keeps in reserve: `stop_before`, or a
    /// quarter of `budget` when that is less.
    pub fn reserve_for(&self, budget: Duration) -> Duration {
        self.stop_before.min(budget / 4)
    }

    /// How long the WeChat calls of one refresh (or of the run's ticket and component token steps)
    /// may take in a run with `budget`: four fifths of the reserve; the last fifth is for the store
    /// writes after them. In Lambda (300 s, `stop_before` 25 s) that is the client's own 20 s.
    pub fn call_budget_for(&self, budget: Duration) -> Duration {
        self.reserve_for(budget) * 4 / 5
    }
}

/// What happened to the component token in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentTokenStep {
    Refreshed,
    NotDue,
    /// Another worker was refreshing it.
    Busy,
    Failed,
}

/// Due authorizers the run did not refresh, and why. None of these is a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Another worker refreshed it between the query and the refresh.
    pub not_due: u64,
    /// Another worker held its lease.
    pub busy: u64,
    /// Gone from the store between the query and the refresh.
    pub not_found: u64,
    /// Not started before the deadline, or not started because no component token was available.
    pub deferred: u64,
}

impl Skipped {
    pub fn total(&self) -> u64 {
        self.not_due + self.busy + self.not_found + self.deferred
    }
}

/// The figures of one run: the summary log line and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshSummary {
    pub component_token: ComponentTokenStep,
    /// Age of the stored ticket; `None` when no ticket younger than 12 h is stored.
    pub ticket_age_secs: Option<i64>,
    /// Whether this run asked WeChat to push a ticket.
    pub ticket_push_requested: bool,
    /// Due authorizer tokens found.
    pub due: u64,
    pub refreshed: u64,
    /// Failures other than 61023 / 61003, including the component token's and a failed due query.
    pub failed: u64,
    /// `failed` by WeChat errcode; `"other"` for failures without one (store, network, no ticket).
    pub failed_by_errcode: BTreeMap<String, u64>,
    /// 61023: marked; the merchant must authorize again.
    pub reauthorization_required: u64,
    /// 61003: marked as no longer authorized.
    pub unauthorized: u64,
    pub skipped: Skipped,
    /// Whether the deadline stopped the run with due tokens left.
    pub stopped_early: bool,
    /// The outbox drain after the refreshes: events published by this run, and not.
    pub events: DrainSummary,
    pub duration_ms: u64,
}

impl RefreshSummary {
    /// The figures the console shows, as of `finished_at`.
    pub fn record(&self, finished_at: EpochSeconds) -> RefresherRun {
        RefresherRun {
            finished_at,
            due: self.due,
            refreshed: self.refreshed,
            failed: self.failed,
            failed_by_errcode: self.failed_by_errcode.clone(),
            reauthorization_required: self.reauthorization_required,
            unauthorized: self.unauthorized,
            stopped_early: self.stopped_early,
        }
    }

    fn new() -> Self {
        Self {
            component_token: ComponentTokenStep::NotDue,
            ticket_age_secs: None,
            ticket_push_requested: false,
            events: DrainSummary::default(),
            due: 0,
            refreshed: 0,
            failed: 0,
            failed_by_errcode: BTreeMap::new(),
            reauthorization_required: 0,
            unauthorized: 0,
            skipped: Skipped::default(),
            stopped_early: false,
            duration_ms: 0,
        }
    }

    fn count_failure(&mut self, errcode: Option<i64>) {
        self.failed += 1;
        let key = errcode.map_or_else(|| "other".to_owned(), |c| c.to_string());
        *self.failed_by_errcode.entry(key).or_default() += 1;
    }

    fn count(&mut self, outcome: RefreshOutcome) {
        match outcome {
            RefreshOutcome::Refreshed { .. } => self.refreshed += 1,
            RefreshOutcome::NotDue => self.skipped.not_due += 1,
            RefreshOutcome::Busy => self.skipped.busy += 1,
            RefreshOutcome::NotFound => self.skipped.not_found += 1,
            RefreshOutcome::ReauthorizationRequired => self.reauthorization_required += 1,
            RefreshOutcome::Unauthorized => self.unauthorized += 1,
            RefreshOutcome::Failed { errcode } => self.count_failure(errcode),
        }
    }
}

/// The time limits of one run.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// No refresh starts from then on.
    stop_at: Instant,
    /// How long the WeChat calls of one refresh may take.
    call_budget: Duration,
}

/// Runs refreshes for one component. Cheap to clone.
#[derive(Clone)]
pub struct Refresher<S> {
    service: TokenService<S>,
    settings: RefresherSettings,
}

impl<S: Store + 'static> Refresher<S> {
    pub fn new(service: TokenService<S>, settings: RefresherSettings) -> Self {
        Self { service, settings }
    }

    pub fn service(&self) -> &TokenService<S> {
        &self.service
    }

    pub fn settings(&self) -> &RefresherSettings {
        &self.settings
    }

    /// One run: the ticket, the component token, then every due authorizer token, with at most
    /// `concurrency` refreshes at once, starting none once less than the reserve
    /// ([`RefresherSettings::reserve_for`]) is left before `deadline`. No WeChat call of the run
    /// outlives `deadline`.
    pub async fn refresh_due(&self, deadline: Instant, concurrency: usize) -> RefreshSummary {
        let span = tracing::info_span!("refresh_due", component = %self.service.context().component_appid());
        let started = Instant::now();
        let budget = deadline.saturating_duration_since(started);
        let reserve = self.settings.reserve_for(budget);
        let limits = Limits {
            stop_at: deadline.checked_sub(reserve).unwrap_or(started),
            call_budget: self.settings.call_budget_for(budget),
        };
        tracing::debug!(
            budget_ms = budget.as_millis() as u64,
            reserve_ms = reserve.as_millis() as u64,
            call_budget_ms = limits.call_budget.as_millis() as u64,
            "run limits"
        );
        let mut summary = RefreshSummary::new();
        let run = async {
            deadline::within(
                Instant::now() + limits.call_budget,
                self.check_ticket(&mut summary),
            )
            .await;
            let due_by = self.service.context().now() + self.settings.margin_secs;
            deadline::within(
                Instant::now() + limits.call_budget,
                self.refresh_component(&mut summary, due_by),
            )
            .await;
            if self
                .component_token_available(summary.component_token)
                .await
            {
                self.refresh_authorizers(&mut summary, due_by, limits, concurrency.max(1))
                    .await;
            } else {
                self.defer_authorizers(&mut summary, due_by).await;
            }
            self.drain_events(&mut summary, limits.stop_at).await;
            self.record_run(&summary).await;
        };
        tracing::Instrument::instrument(deadline::within(deadline, run), span).await;
        summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        summary
    }

    /// Keeps what this run did for the console; a failure is logged only.
    async fn record_run(&self, summary: &RefreshSummary) {
        let context = self.service.context();
        let run = summary.record(context.now());
        if let Err(e) = context
            .store()
            .put_refresher_run(context.component_appid(), &run)
            .await
        {
            tracing::warn!(error = %error_chain(&e), "could not record the run for the console");
        }
    }

    async fn check_ticket(&self, summary: &mut RefreshSummary) {
        let context = self.service.context();
        let store = context.store();
        let component = context.component_appid();
        let now = context.now();
        let received_at = match store.latest_ticket(component).await {
            Ok(ticket) => ticket.map(|t| t.received_at),
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "could not read the ticket");
                summary.count_failure(None);
                return;
            }
        };
        let age = received_at.map(|at| (now - at).max(0));
        summary.ticket_age_secs = age;
        if age.is_none_or(|age| age > self.settings.ticket_stale_after_secs) {
            tracing::warn!(
                ticket_age_secs = age,
                "the ticket is missing or stale; asking WeChat for a push"
            );
            // One event per stale ticket; with none stored at all, one an hour.
            let events = [catalogue::ticket_missing(component, received_at, now)];
            match store.record_events(component, &events).await {
                Ok(()) => {
                    context
                        .publish_recorded(&events, Instant::now() + PUBLISH_BUDGET)
                        .await
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "could not record the Ticket Missing event");
                }
            }
            summary.ticket_push_requested = self.service.request_ticket_push().await;
        }
    }

    /// Publishes what the outbox holds, a batch at a time, while batches come full and time is
    /// left before `stop_at`.
    async fn drain_events(&self, summary: &mut RefreshSummary, stop_at: Instant) {
        let publisher = self.service.context().events();
        if !publisher.has_bus() {
            return;
        }
        while Instant::now() < stop_at {
            match publisher.drain().await {
                Ok(drained) => {
                    summary.events.published += drained.published;
                    summary.events.failed += drained.failed;
                    summary.events.more = drained.more;
                    if !drained.more || drained.failed > 0 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "could not drain the event outbox");
                    break;
                }
            }
        }
        if summary.events.published + summary.events.failed > 0 {
            tracing::info!(
                published = summary.events.published,
                failed = summary.events.failed,
                "event outbox drained"
            );
        }
    }

    async fn refresh_component(&self, summary: &mut RefreshSummary, due_by: i64) {
        summary.component_token = match self.service.refresh_component_token_if_due(due_by).await {
            RefreshOutcome::Refreshed { .. } => ComponentTokenStep::Refreshed,
            RefreshOutcome::NotDue => ComponentTokenStep::NotDue,
            RefreshOutcome::Busy => ComponentTokenStep::Busy,
            RefreshOutcome::Failed { errcode } => {
                summary.count_failure(errcode);
                ComponentTokenStep::Failed
            }
            other => {
                tracing::warn!(?other, "unexpected outcome for the component token");
                summary.count_failure(None);
                ComponentTokenStep::Failed
            }
        };
    }

    /// Whether an unexpired component token is stored. Without one every authorizer refresh
    /// would fail the same way, so they are left for the next run. When another worker was
    /// refreshing it (an overlapping run), waits for that worker's token.
    async fn component_token_available(&self, step: ComponentTokenStep) -> bool {
        if step == ComponentTokenStep::Busy {
            return match self.service.component_token().await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "no component token after waiting for another worker");
                    false
                }
            };
        }
        let store = self.service.context().store();
        match store
            .component_token(self.service.context().component_appid())
            .await
        {
            Ok(token) => token.is_some(),
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "could not read the component token");
                false
            }
        }
    }

    /// Counts one page of due tokens as deferred, so the summary still shows them.
    async fn defer_authorizers(&self, summary: &mut RefreshSummary, due_by: i64) {
        let store = self.service.context().store();
        let component = self.service.context().component_appid();
        match store
            .authorizer_tokens_due(component, due_by, self.settings.page_size)
            .await
        {
            Ok(due) => {
                let n = due.len() as u64;
                summary.due += n;
                summary.skipped.deferred += n;
                summary.stopped_early = n > 0;
                if n > 0 {
                    tracing::warn!(
                        deferred = n,
                        "no component token; authorizer tokens left for the next run"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "the due query failed");
                summary.count_failure(None);
            }
        }
    }

    async fn refresh_authorizers(
        &self,
        summary: &mut RefreshSummary,
        due_by: i64,
        limits: Limits,
        concurrency: usize,
    ) {
        let store = self.service.context().store();
        let component = self.service.context().component_appid();
        let mut tried: HashSet<AuthorizerAppId> = HashSet::new();
        let mut queue: VecDeque<DueToken> = VecDeque::new();
        let mut exhausted = false;
        let mut running: JoinSet<(AuthorizerAppId, RefreshOutcome)> = JoinSet::new();
        let mut out_of_time = false;

        loop {
            out_of_time = out_of_time || Instant::now() >= limits.stop_at;
            if !out_of_time && queue.is_empty() && !exhausted {
                // Entries this run already tried may still be in the index (failed, busy, or an
                // index update not yet visible): ask for that many more and skip them.
                let limit = self.settings.page_size + tried.len();
                match store.authorizer_tokens_due(component, due_by, limit).await {
                    Ok(page) => {
                        exhausted = page.len() < limit;
                        let mut fresh: Vec<DueToken> = page
                            .into_iter()
                            .filter(|d| !tried.contains(&d.appid))
                            .collect();
                        // Overlapping runs read the same page; in different orders they rarely
                        // contend for the same lease, and find each other's work already done.
                        fresh.shuffle(&mut rand::rng());
                        let new = fresh.len();
                        queue.extend(fresh);
                        exhausted = exhausted || new == 0;
                        summary.due += new as u64;
                    }
                    Err(e) => {
                        tracing::warn!(error = %error_chain(&e), "the due query failed");
                        summary.count_failure(None);
                        exhausted = true;
                    }
                }
            }
            while !out_of_time && running.len() < concurrency {
                let Some(due) = queue.pop_front() else { break };
                tried.insert(due.appid.clone());
                let service = self.service.clone();
                // Bounded here, in the spawned task: a task does not inherit the run's deadline.
                let calls_end_by = Instant::now() + limits.call_budget;
                running.spawn(async move {
                    let outcome = deadline::within(
                        calls_end_by,
                        service.refresh_authorizer_token_if_due(&due.appid, due_by),
                    )
                    .await;
                    (due.appid, outcome)
                });
            }
            let nothing_to_start = out_of_time || (queue.is_empty() && exhausted);
            if running.is_empty() && nothing_to_start {
                break;
            }
            // Wait for a refresh to finish, then start the next; with a full queue this keeps
            // `concurrency` refreshes in flight.
            if let Some(joined) = running.join_next().await {
                record(summary, joined);
            }
        }
        summary.skipped.deferred += queue.len() as u64;
        summary.stopped_early = out_of_time && !(queue.is_empty() && exhausted);
        if summary.stopped_early {
            tracing::warn!(
                deferred = queue.len(),
                "the deadline is near; the remaining due tokens are left for the next run"
            );
        }
    }
}

fn record(
    summary: &mut RefreshSummary,
    joined: Result<(AuthorizerAppId, RefreshOutcome), tokio::task::JoinError>,
) {
    match joined {
        Ok((_, outcome)) => summary.count(outcome),
        Err(e) => {
            tracing::error!(error = %e, "an authorizer refresh panicked");
            summary.count_failure(None);
        }
    }
}
