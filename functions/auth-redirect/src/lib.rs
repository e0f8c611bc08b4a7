//! The `auth-redirect` function: the merchant's authorization pages, adapted to [`AuthFlow`].
//!
//! | route | what |
//! |---|---|
//! | `GET /auth` | the launch page with the "Authorize" link (the click WeChat requires) |
//! | `GET /auth/go` | a fresh pre-auth code and flow state (a cookie) and a 302 to WeChat's PC or mobile authorization page |
//! | `GET /auth/callback` | checks the state and the code's shape, completes the authorization, then a success page or the signed redirect to `AUTH_SUCCESS_URL` |
//!
//! `HEAD` of any route answers without side effects (no pre-auth code, no exchange).
//! Routing, reading headers and mapping results to statuses only; the flow's rules are in
//! `wxcomponent::service::auth_flow`. Pages carry fixed texts, never error details.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use wxcomponent::service::{
    AuthFlow, AuthFlowSettings, AuthStart, CallbackError, CallbackOutcome, Device, RequestOrigin,
    StartError, TokenService, TokenSettings, code_rejected_page, error_page, launch_page,
    malformed_code_page, state_refused_page,
};
use wxcomponent::store::{DynamoStore, Store};
use wxcomponent::wechat::{ClientConfig, WechatClient, WechatError};
use wxcomponent::{Clock, Config, SystemClock};

/// The function's handler: cheap to clone, one per process.
pub struct AuthRedirect<S> {
    flow: AuthFlow<S>,
}

impl<S> Clone for AuthRedirect<S> {
    fn clone(&self) -> Self {
        Self {
            flow: self.flow.clone(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Launch,
    Go,
    Callback,
}

/// The path as routed and the prefix in front of it (an API Gateway stage, or nothing).
fn split_path(request: &Request) -> (&str, &str) {
    let path = request.uri().path();
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            let prefix_len = stage.len() + 1;
            match path.get(1..prefix_len) {
                Some(s) if s == stage && path[prefix_len..].starts_with('/') => {
                    (&path[prefix_len..], &path[..prefix_len])
                }
                _ => (path, ""),
            }
        }
        _ => (path, ""),
    }
}

fn route(path: &str) -> Option<Route> {
    match path.trim_end_matches('/') {
        "/auth" => Some(Route::Launch),
        "/auth/go" => Some(Route::Go),
        "/auth/callback" => Some(Route::Callback),
        _ => None,
    }
}

fn html(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Links carry single-use codes: never serve a page from a cache.
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    // No page of the flow may be framed: a framed launch page would let another site trick the
    // click WeChat requires.
    headers.insert(
        "content-security-policy",
        http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert("x-frame-options", http::HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    response
}

/// `response` with a `Set-Cookie` header, when the value is a valid header (it always is: the
/// flow builds it from checked parts).
fn with_cookie(mut response: Response<Body>, set_cookie: Option<&str>) -> Response<Body> {
    if let Some(value) = set_cookie.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, value);
    }
    response
}

fn plain(status: u16, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn redirect(location: &str) -> Response<Body> {
    match http::HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = html(302, String::new());
            response.headers_mut().insert(http::header::LOCATION, value);
            response
        }
        Err(_) => {
            tracing::error!("a redirect location is not a valid header value");
            html(
                500,
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

fn header(request: &Request, name: http::header::HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Every `Cookie` header value (lambda_http joins API Gateway's `cookies` into one).
fn cookie_headers(request: &Request) -> Vec<&str> {
    request
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// `scheme://host` as the browser used it (API Gateway sets `X-Forwarded-Proto` and `Host`).
fn origin(request: &Request, prefix: &str) -> Option<RequestOrigin> {
    let host = header(request, http::header::HOST)
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))?;
    let scheme = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "https".to_owned());
    Some(RequestOrigin {
        scheme,
        host,
        path_prefix: prefix.to_owned(),
    })
}

impl<S: Store + 'static> AuthRedirect<S> {
    pub fn new(flow: AuthFlow<S>) -> Self {
        Self { flow }
    }

    /// Every request gets an answer; nothing here fails the invocation.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let (path, prefix) = split_path(&request);
        let Some(route) = route(path) else {
            return plain(404, "not found");
        };
        if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
            let mut response = plain(405, "method not allowed");
            response.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, HEAD"),
            );
            return response;
        }
        // Link checkers and prefetchers send HEAD: it must not mint a pre-auth code or spend an
        // auth code, so it gets the pages' headers and nothing happens.
        if request.method() == http::Method::HEAD && route != Route::Launch {
            return html(200, String::new());
        }
        match route {
            Route::Launch => match AuthStart::from_query(query_pairs(&request)) {
                Ok(start) => html(200, launch_page(&start)),
                Err(e) => {
                    tracing::info!(error = %e, "launch page refused");
                    html(
                        400,
                        error_page(
                            "Invalid authorization request",
                            "The link you followed is not valid.",
                            "auth",
                        ),
                    )
                }
            },
            // Boxed: the token service's futures are deep enough to exceed the compiler's layout
            // recursion limit in callers otherwise.
            Route::Go => Box::pin(self.go(&request, prefix)).await,
            Route::Callback => Box::pin(self.callback(&request, prefix)).await,
        }
    }

    async fn go(&self, request: &Request, prefix: &str) -> Response<Body> {
        let again = "../auth";
        let start = match AuthStart::from_query(query_pairs(request)) {
            Ok(start) => start,
            Err(e) => {
                tracing::info!(error = %e, "authorization start refused");
                return html(
                    400,
                    error_page(
                        "Invalid authorization request",
                        "The link you followed is not valid.",
                        again,
                    ),
                );
            }
        };
        let device = Device::from_user_agent(header(request, http::header::USER_AGENT));
        let origin = origin(request, prefix);
        match self
            .flow
            .start_authorization(&start, device, origin.as_ref())
            .await
        {
            Ok(started) => with_cookie(redirect(&started.location), Some(&started.set_cookie)),
            Err(e @ StartError::NoCallbackUrl(_)) => {
                tracing::error!(error = %e, "no callback URL");
                html(
                    500,
                    error_page(
                        "Something went wrong",
                        "Authorization is not available right now.",
                        again,
                    ),
                )
            }
            Err(StartError::Token(e)) => {
                tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not start an authorization");
                html(
                    503,
                    error_page(
                        "Please try again",
                        "WeChat could not be reached. Please try again in a moment.",
                        again,
                    ),
                )
            }
        }
    }

    async fn callback(&self, request: &Request, prefix: &str) -> Response<Body> {
        let origin = origin(request, prefix);
        let answer = self
            .flow
            .complete(
                &query_pairs(request),
                &cookie_headers(request),
                origin.as_ref(),
            )
            .await;
        let response = match answer.result {
            Ok(CallbackOutcome::Page(page)) => html(200, page),
            Ok(CallbackOutcome::Redirect(location)) => redirect(&location),
            Err(e @ (CallbackError::MissingState | CallbackError::StateMismatch)) => {
                tracing::info!(error = %e, "authorization callback refused: not from this browser's flow");
                html(400, state_refused_page())
            }
            Err(CallbackError::MissingCode) => html(
                400,
                error_page(
                    "Invalid authorization callback",
                    "This page was opened without an authorization code.",
                    "../auth",
                ),
            ),
            Err(e @ CallbackError::MalformedCode) => {
                tracing::info!(error = %e, "authorization callback refused");
                html(400, malformed_code_page())
            }
            Err(e @ CallbackError::CodeRejected(_)) => {
                tracing::info!(error = %wxcomponent::logging::error_chain(&e), "authorization code refused");
                html(400, code_rejected_page())
            }
            Err(e @ CallbackError::Failed(_)) => {
                tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not complete an authorization");
                html(
                    503,
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
}

/// The production wiring: DynamoDB (the SDK honours `AWS_ENDPOINT_URL_DYNAMODB`), the WeChat
/// client and the flow, built once per process.
pub async fn from_config(
    config: &Config,
    settings: AuthFlowSettings,
) -> Result<AuthRedirect<DynamoStore>, WechatError> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = wxcomponent::store::dynamodb_client(&sdk);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(
        dynamodb,
        &config.table_name,
        clock.clone(),
    ));
    let client = WechatClient::new(
        ClientConfig::from_config(config),
        config.component_appid.clone(),
        config.component_secret.clone(),
        clock.clone(),
    )?;
    let tokens = TokenService::new(store, client, clock, TokenSettings::default());
    Ok(AuthRedirect::new(AuthFlow::new(tokens, settings)))
}
