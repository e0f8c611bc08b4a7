//! Lambda entry point of `campaign-worker`: reads the configuration and builds the clients once,
//! then serves scheduled invocations with [`campaign_worker::WorkerHandler`].

use campaign_worker::production_handler;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use wxcomponent::config::CampaignWorkerConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let config =
        CampaignWorkerConfig::from_env().inspect_err(|e| tracing::error!(%e, "cannot start"))?;
    let handler = production_handler(&config).await?;
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    }))
    .await
}
