//! `ticket-callback`: WeChat's authorization event URL and message URL. See `lib.rs`.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let config = wxcomponent::config::TicketCallbackConfig::from_env()?;
    let app = ticket_callback::from_config(&config).await?;
    wxcomponent_http::serve(app.router()).await
}
