//! The `token-refresher` adapter: an EventBridge schedule invokes it; it runs one
//! [`Refresher::refresh_due`] against the invocation's deadline and prints the summary as one
//! Embedded Metric Format line (the alarms' metrics). The rules live in `wxcomponent`.

use std::time::{Duration, Instant};

use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use wxcomponent::Clock;
use wxcomponent::config::RefresherConfig;
use wxcomponent::service::{RefreshSummary, Refresher, RefresherSettings, TokenSettings};
use wxcomponent::store::{DynamoStore, Store};
use wxcomponent::telemetry::refresh_summary_line;
use wxcomponent::wechat::ClientConfig;

/// The budget assumed when an invocation carries no usable deadline. Lambda always sends one that
/// is in the future when the invocation arrives (the function's `Timeout` from then). Local
/// runners may not: `cargo lambda watch` (1.9) sends the same fixed value, 600,000 ms after the
/// epoch, with every invocation, whatever its `--timeout` (which only bounds how long the invoke
/// request waits).
pub const DEADLINE_WHEN_UNKNOWN: Duration = Duration::from_secs(60);

/// The handler: a refresher and how many refreshes it runs at once.
#[derive(Clone)]
pub struct RefreshHandler<S> {
    refresher: Refresher<S>,
    concurrency: usize,
}

/// What one invocation did: the figures, and the EMF line that was printed.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub summary: RefreshSummary,
    pub metrics_line: String,
}

impl<S: Store + 'static> RefreshHandler<S> {
    pub fn new(refresher: Refresher<S>, concurrency: usize) -> Self {
        Self {
            refresher,
            concurrency,
        }
    }

    /// The Lambda entry point. The scheduled event's content does not matter. Returns the
    /// summary, which `cargo lambda invoke` and the console show.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        // Boxed: the run's future type is deep enough to overflow the compiler's layout query
        // when nested in the runtime's.
        let deadline = deadline_of(&event.context, self.refresher.service().context().clock());
        let invocation = Box::pin(self.run(deadline)).await;
        println!("{}", invocation.metrics_line);
        Ok(serde_json::to_value(&invocation.summary)?)
    }

    /// One run against `deadline`, without printing.
    pub async fn run(&self, deadline: Instant) -> Invocation {
        let summary = self.refresher.refresh_due(deadline, self.concurrency).await;
        let component = self.refresher.service().context().component_appid();
        let now_ms = self.refresher.service().context().clock().now_millis();
        let metrics_line =
            refresh_summary_line(component, &summary, u64::try_from(now_ms).unwrap_or(0));
        Invocation {
            summary,
            metrics_line,
        }
    }
}

/// The invocation's deadline as an [`Instant`], read by `clock`. A deadline that is missing (0)
/// or already past on arrival is no real one: [`DEADLINE_WHEN_UNKNOWN`] from now instead.
pub fn deadline_of(context: &Context, clock: &dyn Clock) -> Instant {
    wxcomponent::clock::deadline_or(context.deadline, clock, DEADLINE_WHEN_UNKNOWN)
}

/// The production handler: [`wxcomponent::wiring::production`] with the configured margin.
pub async fn production_handler(
    config: &RefresherConfig,
) -> Result<RefreshHandler<DynamoStore>, Error> {
    let client_config = ClientConfig::from_config(&config.app);
    // The most a run keeps in reserve: one WeChat call with its retries, plus a few seconds of
    // store writes. Shorter deadlines keep a quarter of their budget instead (the refresher
    // scales it, and bounds each refresh by it).
    let stop_before = client_config.retry.max_elapsed + Duration::from_secs(5);
    let app = wxcomponent::wiring::production(
        &config.app,
        client_config,
        TokenSettings {
            refresh_margin_secs: config.margin_secs,
            ..TokenSettings::default()
        },
    )
    .await?;
    let refresher = Refresher::new(
        app.application.tokens,
        RefresherSettings {
            margin_secs: config.margin_secs,
            stop_before,
            ..RefresherSettings::default()
        },
    );
    Ok(RefreshHandler::new(refresher, config.concurrency))
}
