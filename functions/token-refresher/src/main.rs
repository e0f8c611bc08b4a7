//! Lambda entry point of `token-refresher`: reads the configuration and builds the clients once,
//! then serves scheduled invocations with [`token_refresher::RefreshHandler`].

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use token_refresher::production_handler;
use wxcomponent::config::RefresherConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let config =
        RefresherConfig::from_env().inspect_err(|e| tracing::error!(%e, "cannot start"))?;
    let handler = production_handler(&config).await?;
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    }))
    .await
}
