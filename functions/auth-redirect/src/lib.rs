//! The `auth-redirect` function: the merchant's authorization pages, adapted to [`AuthFlow`].
//!
//! | route | what |
//! |---|---|
//! | `GET /auth` | the launch page with the "Authorize" link (the click WeChat requires) |
//! | `GET /auth/go` | a fresh pre-auth code and flow state (a cookie) and a 302 to WeChat's PC or mobile authorization page |
//! | `GET /auth/callback` | checks the state and the code's shape, completes the authorization, then a success page or the signed redirect to `AUTH_SUCCESS_URL` |
//!
//! `HEAD` of any route answers without side effects (no pre-auth code, no exchange).
//! An axum router served by `lambda_http` (the stage taken off, and kept for absolute links, by
//! `wxcomponent-http`). Routing, reading headers and mapping results to statuses only; the flow's rules are in
//! `wxcomponent::service::auth_flow`. Pages carry fixed texts, never error details.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lambda_http::Body;
use wxcomponent::Config;
use wxcomponent::service::{
    AuthFlow, AuthFlowSettings, AuthStart, CallbackError, CallbackOutcome, Device, RequestOrigin,
    StartError, TokenSettings, code_rejected_page, error_page, launch_page, malformed_code_page,
    state_refused_page,
};
use wxcomponent::store::Store;
use wxcomponent::wechat::{ClientConfig, WechatError};
use wxcomponent_http::StagePrefix;

/// The function's handler: cheap to clone, one per process.
#[derive(Clone)]
pub struct AuthRedirect {
    router: Router,
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Links carry single-use codes: never serve a page from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No page of the flow may be framed: a framed launch page would let another site trick the
    // click WeChat requires.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `response` with a `Set-Cookie` header, when the value is a valid header (it always is: the
/// flow builds it from checked parts).
fn with_cookie(mut response: Response, set_cookie: Option<&str>) -> Response {
    if let Some(value) = set_cookie.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = html(StatusCode::FOUND, String::new());
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => {
            tracing::error!("a redirect location is not a valid header value");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_page("Something went wrong", "Please try again later.", "../auth"),
            )
        }
    }
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn header_value(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every `Cookie` header value (lambda_http joins API Gateway's `cookies` into one).
fn cookie_headers(request: &Request) -> Vec<&str> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// `scheme://host` as the browser used it (API Gateway sets `X-Forwarded-Proto` and `Host`), and
/// the stage in front of the routes.
fn origin(request: &Request) -> Option<RequestOrigin> {
    let headers = request.headers();
    let host = header_value(headers, header::HOST)
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))?;
    let scheme = header_value(headers, HeaderName::from_static("x-forwarded-proto"))
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "https".to_owned());
    let prefix = request
        .extensions()
        .get::<StagePrefix>()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    Some(RequestOrigin {
        scheme,
        host,
        path_prefix: prefix,
    })
}

/// Link checkers and prefetchers send HEAD: it must not mint a pre-auth code or spend an auth
/// code, so it gets the pages' headers and nothing happens.
fn head_answer() -> Response {
    html(StatusCode::OK, String::new())
}

async fn launch(request: Request) -> Response {
    match AuthStart::from_query(query_pairs(&request)) {
        Ok(start) => html(StatusCode::OK, launch_page(&start)),
        Err(e) => {
            tracing::info!(error = %e, "launch page refused");
            html(
                StatusCode::BAD_REQUEST,
                error_page(
                    "Invalid authorization request",
                    "The link you followed is not valid.",
                    "auth",
                ),
            )
        }
    }
}

async fn go<S: Store + 'static>(State(flow): State<AuthFlow<S>>, request: Request) -> Response {
    if request.method() == Method::HEAD {
        return head_answer();
    }
    let again = "../auth";
    let start = match AuthStart::from_query(query_pairs(&request)) {
        Ok(start) => start,
        Err(e) => {
            tracing::info!(error = %e, "authorization start refused");
            return html(
                StatusCode::BAD_REQUEST,
                error_page(
                    "Invalid authorization request",
                    "The link you followed is not valid.",
                    again,
                ),
            );
        }
    };
    let device = Device::from_user_agent(header_value(request.headers(), header::USER_AGENT));
    let origin = origin(&request);
    // Boxed: the token service's futures are deep enough to exceed the compiler's layout
    // recursion limit in callers otherwise.
    match Box::pin(flow.start_authorization(&start, device, origin.as_ref())).await {
        Ok(started) => with_cookie(redirect(&started.location), Some(&started.set_cookie)),
        Err(e @ StartError::NoCallbackUrl(_)) => {
            tracing::error!(error = %e, "no callback URL");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_page(
                    "Something went wrong",
                    "Authorization is not available right now.",
                    again,
                ),
            )
        }
        Err(StartError::PreAuthCode(e)) => {
            tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not start an authorization");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                error_page(
                    "Please try again",
                    "WeChat could not be reached. Please try again in a moment.",
                    again,
                ),
            )
        }
    }
}

async fn callback<S: Store + 'static>(
    State(flow): State<AuthFlow<S>>,
    request: Request,
) -> Response {
    if request.method() == Method::HEAD {
        return head_answer();
    }
    let origin = origin(&request);
    let answer = Box::pin(flow.complete(
        &query_pairs(&request),
        &cookie_headers(&request),
        origin.as_ref(),
    ))
    .await;
    let response = match answer.result {
        Ok(CallbackOutcome::Page(page)) => html(StatusCode::OK, page),
        Ok(CallbackOutcome::Redirect(location)) => redirect(&location),
        Err(e @ (CallbackError::MissingState | CallbackError::StateMismatch)) => {
            tracing::info!(error = %e, "authorization callback refused: not from this browser's flow");
            html(StatusCode::BAD_REQUEST, state_refused_page())
        }
        Err(CallbackError::MissingCode) => html(
            StatusCode::BAD_REQUEST,
            error_page(
                "Invalid authorization callback",
                "This page was opened without an authorization code.",
                "../auth",
            ),
        ),
        Err(e @ CallbackError::MalformedCode) => {
            tracing::info!(error = %e, "authorization callback refused");
            html(StatusCode::BAD_REQUEST, malformed_code_page())
        }
        Err(e @ CallbackError::CodeRejected(_)) => {
            tracing::info!(error = %wxcomponent::logging::error_chain(&e), "authorization code refused");
            html(StatusCode::BAD_REQUEST, code_rejected_page())
        }
        Err(e @ CallbackError::Failed(_)) => {
            tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not complete an authorization");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                error_page(
                    "Please try again",
                    "The authorization could not be completed right now. Reload this page in a moment.",
                    "../auth",
                ),
            )
        }
    };
    with_cookie(response, answer.clear_cookie.as_deref())
}

async fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// The three pages (with or without a trailing `/`). GET routes answer HEAD too; the handlers
/// that would act answer it without acting.
fn router<S: Store + 'static>(flow: AuthFlow<S>) -> Router {
    Router::new()
        .route("/auth", get(launch))
        .route("/auth/", get(launch))
        .route("/auth/go", get(go::<S>))
        .route("/auth/go/", get(go::<S>))
        .route("/auth/callback", get(callback::<S>))
        .route("/auth/callback/", get(callback::<S>))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(flow)
}

impl AuthRedirect {
    pub fn new<S: Store + 'static>(flow: AuthFlow<S>) -> Self {
        Self {
            router: router(flow),
        }
    }

    /// The router, as Lambda serves it.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Answers one request in process, as Lambda would. Every request gets an answer; nothing
    /// here fails the invocation.
    pub async fn handle(&self, request: lambda_http::Request) -> lambda_http::Response<Body> {
        wxcomponent_http::answer(self.router(), request).await
    }
}

/// The production wiring ([`wxcomponent::wiring::production`]) and the flow, built once per
/// process.
pub async fn from_config(
    config: &Config,
    settings: AuthFlowSettings,
) -> Result<AuthRedirect, WechatError> {
    let app = wxcomponent::wiring::production(
        config,
        ClientConfig::from_config(config),
        TokenSettings::default(),
    )
    .await?;
    Ok(AuthRedirect::new(app.auth_flow(settings)))
}
