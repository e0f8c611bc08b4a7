//! `auth-redirect`: the merchant's authorization pages. See `lib.rs`.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxcomponent::logging::init();
    let vars = std::env::vars().collect();
    let (config, (settings, oauth)) = wxcomponent::config::both(
        wxcomponent::Config::from_vars(&vars),
        wxcomponent::config::both(
            wxcomponent::config::auth_flow_settings(&vars),
            wxcomponent::config::web_oauth_settings(&vars),
        ),
    )?;
    let app = auth_redirect::from_config(&config, settings, oauth).await?;
    wxcomponent_http::serve(app.router()).await
}
