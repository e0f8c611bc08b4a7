//! The `console` function: the web pages where the provider's operators see and run the fleet,
//! rendered on the server by askama from `templates/console/` (every value escaped), in Chinese
//! unless the browser prefers English.
//!
//! | route | what |
//! |---|---|
//! | `GET /console/` | the sign-in form |
//! | `POST /console/login` | the operator key (form field `key`), checked in constant time against `CONSOLE_KEY_SHA256`; a session cookie and a 303 to the authorizers |
//! | `POST /console/logout` | ends the session |
//! | `GET /console/overview` | ticket, component token, authorizers by status, the refresher's last run, recent events |
//! | `GET /console/authorizers` | the authorizers, searchable and paged; `/{appid}` one in detail, its settings (`POST .../settings`) and "refresh now" (`POST .../refresh`) |
//! | `GET /console/links` | the merchants' PC and mobile authorization links, the mobile one as a QR code |
//! | `GET /console/releases` | the code templates, the form that starts a release (`POST /console/campaigns`) and the releases |
//! | `GET /console/campaigns/{id}` | a release's progress and failed apps; `POST .../{pause,resume,cancel,retry}` |
//!
//! Every page but the sign-in form needs a session ([`session`]); every form carries a CSRF token.
//! Links are relative to the page, so the console works behind any path prefix (an API Gateway
//! stage, `cargo lambda watch`'s `/lambda-url/console`). No page shows a token, a refresh token, a
//! secret or an auth code: the views it renders carry none.

mod pages;
pub mod session;
mod texts;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lambda_http::{Body, Error};
use url::Url;
use wxcomponent::config::{ApiKeyDigest, ConsoleConfig};
use wxcomponent::service::{Application, Campaigns, Lang, SigningKey, TokenSettings};
use wxcomponent::store::DynamoStore;
use wxcomponent::wechat::ClientConfig;

pub use texts::Texts;

/// The largest form read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the console is configured with.
#[derive(Clone)]
pub struct ConsoleSettings {
    /// The SHA-256 of the operators' key.
    pub key: ApiKeyDigest,
    /// Signs session cookies and CSRF tokens.
    pub signing: SigningKey,
    /// The merchants' authorization page (`/auth` of `auth-redirect`), when known.
    pub launch_url: Option<Url>,
    pub brand: Option<String>,
}

impl ConsoleSettings {
    /// The settings `config` gives: the launch page is `AUTH_CALLBACK_URL` with its last path
    /// segment (`callback`) taken off.
    pub fn from_config(config: &ConsoleConfig) -> Self {
        Self {
            key: config.console_key.clone(),
            signing: config.signing_key.clone(),
            launch_url: config.auth_callback_url.as_ref().and_then(launch_url_of),
            brand: config.brand_name.clone(),
        }
    }
}

/// `https://h/prod/auth/callback` → `https://h/prod/auth`.
fn launch_url_of(callback: &Url) -> Option<Url> {
    let mut url = callback.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/');
    let parent = path.rsplit_once('/').map(|(parent, _)| parent.to_owned())?;
    url.set_path(if parent.is_empty() { "/auth" } else { &parent });
    Some(url)
}

pub(crate) struct Inner {
    pub(crate) app: Application<DynamoStore>,
    pub(crate) campaigns: Campaigns,
    pub(crate) settings: ConsoleSettings,
}

pub(crate) type AppState = Arc<Inner>;

/// The console over the application. Cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: AppState,
}

impl Console {
    pub fn new(app: Application<DynamoStore>, settings: ConsoleSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                campaigns: Campaigns::new(app.clone()),
                app,
                settings,
            }),
        }
    }

    /// Every route, behind the session check where it needs one.
    pub fn router(&self) -> Router {
        let state = self.inner.clone();
        let guarded = Router::new()
            .route("/console/logout", post(session::sign_out))
            .route("/console/overview", get(pages::overview))
            .route("/console/authorizers", get(pages::authorizers))
            .route("/console/authorizers/{appid}", get(pages::authorizer))
            .route(
                "/console/authorizers/{appid}/settings",
                post(pages::put_settings),
            )
            .route(
                "/console/authorizers/{appid}/refresh",
                post(pages::refresh_now),
            )
            .route("/console/links", get(pages::links))
            .route("/console/releases", get(pages::releases))
            .route("/console/campaigns", post(pages::start_campaign))
            .route("/console/campaigns/{id}", get(pages::campaign))
            .route(
                "/console/campaigns/{id}/{action}",
                post(pages::campaign_action),
            )
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                session::require_session,
            ));
        let routes = Router::new()
            .route("/console", get(to_sign_in))
            .route("/console/", get(session::sign_in_form))
            .route("/console/login", post(session::sign_in))
            .merge(guarded)
            .fallback(not_found)
            .with_state(state);
        wxcomponent_http::limit_body(routes, MAX_BODY_BYTES, too_large)
            .layer(middleware::from_fn(page_headers))
            .layer(middleware::from_fn(log_request))
    }

    /// Answers one request in process, as Lambda would (for tests and tools).
    pub async fn handle(&self, request: lambda_http::Request) -> lambda_http::Response<Body> {
        wxcomponent_http::answer(self.router(), request).await
    }
}

/// The production console: [`wxcomponent::wiring::production`] and the configured settings.
pub async fn production_console(config: &ConsoleConfig) -> Result<Console, Error> {
    let app = wxcomponent::wiring::production(
        &config.app,
        ClientConfig::from_config(&config.app),
        TokenSettings::default(),
    )
    .await?;
    Ok(Console::new(
        app.application,
        ConsoleSettings::from_config(config),
    ))
}

// ----- what every page needs --------------------------------------------------------------------

/// Where a request is, for relative links, and in which language it is answered.
#[derive(Debug, Clone)]
pub(crate) struct Here {
    /// From this page to `/console/` (`./`, `../`, ...).
    pub(crate) root: String,
    pub(crate) lang: Lang,
    /// `Host` is a loopback address: a local run over plain HTTP.
    pub(crate) local: bool,
}

impl Here {
    pub(crate) fn of(parts: &Parts) -> Self {
        let lang = Lang::from_accept_language(
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        Self {
            root: root_of(parts.uri.path()),
            lang,
            local: is_loopback_host(&host),
        }
    }

    pub(crate) fn texts(&self) -> &'static Texts {
        texts::texts(self.lang)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Here {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// The relative path from `path` to `/console/`: `/console/a` → `./`, `/console/a/b` → `../`,
/// `/console` → `console/`.
pub(crate) fn root_of(path: &str) -> String {
    match path.strip_prefix("/console/") {
        Some(rest) => {
            let depth = rest.matches('/').count();
            if depth == 0 {
                "./".to_owned()
            } else {
                "../".repeat(depth)
            }
        }
        None => "console/".to_owned(),
    }
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A 303 to `location` (relative to the request's page).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn to_sign_in(here: Here) -> Response {
    see_other(&here.root)
}

async fn not_found(here: Here) -> Response {
    views::message(&here, StatusCode::NOT_FOUND, here.texts().not_found)
}

fn too_large() -> axum::http::Response<axum::body::Body> {
    let here = Here {
        root: "./".to_owned(),
        lang: Lang::default(),
        local: false,
    };
    views::message(
        &here,
        StatusCode::PAYLOAD_TOO_LARGE,
        here.texts().invalid_input,
    )
}

/// Pages are never cached, never framed, and run no script but their own.
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// One log line per request: method, path and status only (never a query, a cookie or a form:
/// the sign-in form's body is the key).
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_page() {
        assert_eq!(root_of("/console/"), "./");
        assert_eq!(root_of("/console/authorizers"), "./");
        assert_eq!(root_of("/console/authorizers/wx1"), "../");
        assert_eq!(root_of("/console/campaigns/c1/pause"), "../../");
        assert_eq!(root_of("/console"), "console/");
    }

    #[test]
    fn loopback_hosts_are_local_runs() {
        for host in ["localhost", "127.0.0.1:9000", "[::1]:80", "LOCALHOST:1"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1", "", "localhost.example.com"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn the_launch_page_is_beside_the_callback() {
        let url = |s: &str| launch_url_of(&Url::parse(s).unwrap()).map(|u| u.to_string());
        assert_eq!(
            url("https://h.example/prod/auth/callback?x=1").as_deref(),
            Some("https://h.example/prod/auth")
        );
        assert_eq!(
            url("http://127.0.0.1:9000/lambda-url/auth-redirect/auth/callback").as_deref(),
            Some("http://127.0.0.1:9000/lambda-url/auth-redirect/auth")
        );
    }
}
