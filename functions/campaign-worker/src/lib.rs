//! The `campaign-worker` adapter: an EventBridge schedule invokes it every minute; it runs one
//! [`CampaignWorker::run`] against the invocation's deadline and answers the run's summary. The
//! rules live in `wxcomponent` (`service::campaign_worker`).

use std::time::{Duration, Instant};

use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use wxcomponent::Clock;
use wxcomponent::config::CampaignWorkerConfig;
use wxcomponent::service::{CampaignWorker, TokenSettings, WorkerSettings, WorkerSummary};
use wxcomponent::wechat::ClientConfig;

/// The budget assumed when an invocation carries no usable deadline (local runners: `cargo
/// lambda watch` sends a fixed deadline in the past).
pub const DEADLINE_WHEN_UNKNOWN: Duration = Duration::from_secs(60);

/// The handler: the engine.
#[derive(Clone)]
pub struct WorkerHandler {
    worker: CampaignWorker,
    clock: std::sync::Arc<dyn Clock>,
}

impl WorkerHandler {
    pub fn new(worker: CampaignWorker, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self { worker, clock }
    }

    /// The Lambda entry point. The scheduled event's content does not matter.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let deadline = deadline_of(&event.context, self.clock.as_ref());
        let summary = self.run(deadline).await;
        Ok(serde_json::to_value(&summary)?)
    }

    /// One run against `deadline`.
    pub async fn run(&self, deadline: Instant) -> WorkerSummary {
        // Boxed: the run's future is deep (see the worker's steps).
        Box::pin(self.worker.run(deadline)).await
    }
}

/// The invocation's deadline as an [`Instant`]; a missing or past one is
/// [`DEADLINE_WHEN_UNKNOWN`] from now.
pub fn deadline_of(context: &Context, clock: &dyn Clock) -> Instant {
    wxcomponent::clock::deadline_or(context.deadline, clock, DEADLINE_WHEN_UNKNOWN)
}

/// The production handler: [`wxcomponent::wiring::production`] and the configured concurrency.
pub async fn production_handler(config: &CampaignWorkerConfig) -> Result<WorkerHandler, Error> {
    let client_config = ClientConfig::from_config(&config.app);
    // Keep one WeChat call with its retries, plus the store writes after it, before the deadline.
    let stop_before = client_config.retry.max_elapsed + Duration::from_secs(5);
    let app = wxcomponent::wiring::production(&config.app, client_config, TokenSettings::default())
        .await?;
    let worker = app.campaign_worker(WorkerSettings {
        concurrency: config.concurrency,
        stop_before,
        ..WorkerSettings::default()
    });
    Ok(WorkerHandler::new(worker, app.clock.clone()))
}
