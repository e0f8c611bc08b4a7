//! `ticket-callback`: WeChat's authorization event URL and message URL. See `lib.rs`.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let config = wxcomponent::config::TicketCallbackConfig::from_env()?;
    let app = ticket_callback::from_config(&config).await?;
    run(service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(app.handle(request).await) }
    }))
    .await
}
