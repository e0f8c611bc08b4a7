//! Lambda entry point of `console`: reads the configuration (failing to start, naming the
//! variable, without a well-formed `CONSOLE_KEY_SHA256` and `AUTH_SIGNING_SECRET`), builds the
//! clients once, then serves the router.

use console::production_console;
use lambda_http::Error;
use wxcomponent::config::ConsoleConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let config = ConsoleConfig::from_env().inspect_err(|e| tracing::error!(%e, "cannot start"))?;
    let console = production_console(&config).await?;
    wxcomponent_http::serve(console.router()).await
}
