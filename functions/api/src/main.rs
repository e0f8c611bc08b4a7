//! Lambda entry point of `api`: reads the configuration (failing to start, naming the variable,
//! without a well-formed `API_KEY_SHA256`) and builds the clients once, then serves the router.

use api::production_api;
use lambda_http::Error;
use wxcomponent::config::ApiConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let config = ApiConfig::from_env().inspect_err(|e| tracing::error!(%e, "cannot start"))?;
    let api = production_api(&config).await?;
    wxcomponent_http::serve(api.router()).await
}
