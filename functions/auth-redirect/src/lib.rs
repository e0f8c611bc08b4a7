//! The `auth-redirect` function: the merchant's authorization pages, adapted to [`AuthFlow`].
//!
//! | route | what |
//! |---|---|
//! | `GET /auth` | the launch page with the "Authorize" link (the click WeChat requires) |
//! | `GET /auth/go` | a fresh pre-auth code and flow state (a cookie) and a 302 to WeChat's PC or mobile authorization page |
//! | `GET /auth/callback` | checks the state and the code's shape, completes the authorization, then a success page or the signed redirect to `AUTH_SUCCESS_URL` |
//! | `GET /oauth/{appid}/authorize` | web authorization of a user for an authorized official account: checks the provider's `redirect_uri` against `OAUTH_REDIRECT_HOSTS`, then a 302 to WeChat's page with a state bound to the browser (a cookie) |
//! | `GET /oauth/callback` | checks the state, exchanges the code (and fetches the profile for `snsapi_userinfo`), then the signed redirect to the provider's page |
//!
//! `HEAD` of any route answers without side effects (no pre-auth code, no exchange).
//! An axum router served by `lambda_http` (the stage taken off, and kept for absolute links, by
//! `wxcomponent-http`). Routing, reading headers and mapping results to statuses only; the flow's rules are in
//! `wxcomponent::service::auth_flow`. Pages carry fixed texts, never error details.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lambda_http::Body;
use wxcomponent::Config;
use wxcomponent::service::{
    AuthFlow, AuthFlowSettings, AuthStart, CallbackError, CallbackOutcome, Device, Lang, Notice,
    Pages, RequestOrigin, StartError, TokenSettings, WebOAuth, WebOAuthCallbackError,
    WebOAuthRequest, WebOAuthSettings, WebOAuthStartError,
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
            let pages = Pages {
                lang: Lang::default(),
                brand: None,
            };
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages.notice(Notice::Internal, "../auth"),
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

/// The pages in the browser's language (Chinese unless it prefers English), with the provider's
/// name.
fn pages<'a, S: Store + 'static>(flow: &'a AuthFlow<S>, request: &Request) -> Pages<'a> {
    Pages {
        lang: Lang::from_accept_language(header_value(request.headers(), header::ACCEPT_LANGUAGE)),
        brand: flow.settings().brand_name.as_deref(),
    }
}

/// Link checkers and prefetchers send HEAD: it must not mint a pre-auth code or spend an auth
/// code, so it gets the pages' headers and nothing happens.
fn head_answer() -> Response {
    html(StatusCode::OK, String::new())
}

async fn launch<S: Store + 'static>(State(flow): State<AuthFlow<S>>, request: Request) -> Response {
    let pages = pages(&flow, &request);
    match AuthStart::from_query(query_pairs(&request)) {
        Ok(start) => html(StatusCode::OK, pages.launch(&start)),
        Err(e) => {
            tracing::info!(error = %e, "launch page refused");
            html(
                StatusCode::BAD_REQUEST,
                pages.notice(Notice::InvalidRequest, "auth"),
            )
        }
    }
}

async fn go<S: Store + 'static>(State(flow): State<AuthFlow<S>>, request: Request) -> Response {
    if request.method() == Method::HEAD {
        return head_answer();
    }
    let again = "../auth";
    let pages = pages(&flow, &request);
    let start = match AuthStart::from_query(query_pairs(&request)) {
        Ok(start) => start,
        Err(e) => {
            tracing::info!(error = %e, "authorization start refused");
            return html(
                StatusCode::BAD_REQUEST,
                pages.notice(Notice::InvalidRequest, again),
            );
        }
    };
    let device = start.device.unwrap_or_else(|| {
        Device::from_user_agent(header_value(request.headers(), header::USER_AGENT))
    });
    let origin = origin(&request);
    // Boxed: the token service's futures are deep enough to exceed the compiler's layout
    // recursion limit in callers otherwise.
    match Box::pin(flow.start_authorization(&start, device, origin.as_ref())).await {
        Ok(started) => with_cookie(redirect(&started.location), Some(&started.set_cookie)),
        Err(e @ StartError::NoCallbackUrl(_)) => {
            tracing::error!(error = %e, "no callback URL");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages.notice(Notice::Unavailable, again),
            )
        }
        Err(StartError::PreAuthCode(e)) => {
            tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not start an authorization");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages.notice(Notice::WechatUnreachable, again),
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
    let pages = pages(&flow, &request);
    let answer = Box::pin(flow.complete(
        &query_pairs(&request),
        &cookie_headers(&request),
        origin.as_ref(),
    ))
    .await;
    let response = match answer.result {
        Ok(CallbackOutcome::Authorized(authorizer)) => {
            html(StatusCode::OK, pages.success(&authorizer))
        }
        Ok(CallbackOutcome::Redirect(location)) => redirect(&location),
        Err(e @ (CallbackError::MissingState | CallbackError::StateMismatch)) => {
            tracing::info!(error = %e, "authorization callback refused: not from this browser's flow");
            html(
                StatusCode::BAD_REQUEST,
                pages.notice(Notice::StateRefused, "../auth"),
            )
        }
        Err(CallbackError::MissingCode) => html(
            StatusCode::BAD_REQUEST,
            pages.notice(Notice::MissingCode, "../auth"),
        ),
        Err(e @ CallbackError::MalformedCode) => {
            tracing::info!(error = %e, "authorization callback refused");
            html(
                StatusCode::BAD_REQUEST,
                pages.notice(Notice::MalformedCode, "../auth"),
            )
        }
        Err(e @ CallbackError::CodeRejected(_)) => {
            tracing::info!(error = %wxcomponent::logging::error_chain(&e), "authorization code refused");
            html(
                StatusCode::BAD_REQUEST,
                pages.notice(Notice::CodeRejected, "../auth"),
            )
        }
        Err(e @ CallbackError::Failed(_)) => {
            tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not complete an authorization");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages.notice(Notice::CompletionFailed, "../auth"),
            )
        }
    };
    with_cookie(response, answer.clear_cookie.as_deref())
}

// ----- web authorization of official accounts' users ------------------------------------------

/// A page of the web authorization, in Chinese: the user is in WeChat. `retry` links back to the
/// start of the same request.
fn oauth_page(status: StatusCode, title: &str, message: &str, retry: Option<&str>) -> Response {
    let pages = Pages {
        lang: Lang::Zh,
        brand: None,
    };
    html(
        status,
        pages.message(
            title,
            message,
            retry.map(|href| ("retry", "重新打开", href)),
        ),
    )
}

async fn oauth_authorize<S: Store + 'static>(
    State(oauth): State<WebOAuth<S>>,
    Path(appid): Path<String>,
    request: Request,
) -> Response {
    if request.method() == Method::HEAD {
        return head_answer();
    }
    let origin = origin(&request);
    match oauth
        .start(&appid, &query_pairs(&request), origin.as_ref())
        .await
    {
        Ok(started) => with_cookie(redirect(&started.location), Some(&started.set_cookie)),
        Err(WebOAuthStartError::Request(e)) => {
            tracing::info!(error = %e, "web authorization refused");
            oauth_page(
                StatusCode::BAD_REQUEST,
                "无法发起授权",
                "这个授权链接不完整或不被允许，请联系页面的提供方。",
                None,
            )
        }
        Err(e @ (WebOAuthStartError::NotAuthorized(_) | WebOAuthStartError::MiniProgram(_))) => {
            tracing::info!(error = %e, "web authorization refused");
            oauth_page(
                StatusCode::NOT_FOUND,
                "无法发起授权",
                "这个公众号没有授权给服务商，或已经取消了授权。",
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not start a web authorization");
            oauth_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "请稍后再试",
                "暂时无法发起授权，请稍后刷新页面。",
                None,
            )
        }
    }
}

async fn oauth_callback<S: Store + 'static>(
    State(oauth): State<WebOAuth<S>>,
    request: Request,
) -> Response {
    if request.method() == Method::HEAD {
        return head_answer();
    }
    let origin = origin(&request);
    let answer = Box::pin(oauth.complete(
        &query_pairs(&request),
        &cookie_headers(&request),
        origin.as_ref(),
    ))
    .await;
    // From `/oauth/callback`, the start of the same request is `{appid}/authorize?...`.
    let retry = answer
        .request
        .as_ref()
        .map(|r: &WebOAuthRequest| format!("{}/authorize?{}", r.appid, r.query_string()));
    let retry = retry.as_deref();
    let response = match answer.result {
        Ok(location) => redirect(&location),
        Err(e) => {
            let chain = wxcomponent::logging::error_chain(&e);
            match e.fix() {
                Some(fix) => tracing::warn!(error = %chain, fix, "web authorization not completed"),
                None if matches!(e, WebOAuthCallbackError::Failed(_)) => {
                    tracing::error!(error = %chain, "web authorization not completed")
                }
                None => tracing::info!(error = %chain, "web authorization not completed"),
            }
            match e {
                WebOAuthCallbackError::StateRefused => oauth_page(
                    StatusCode::BAD_REQUEST,
                    "无法确认这次授权",
                    "授权结果不是由当前浏览器发起的请求返回的：链接可能已经用过或已经过期。请回到原页面重新打开。",
                    None,
                ),
                WebOAuthCallbackError::Declined => oauth_page(
                    StatusCode::FORBIDDEN,
                    "您已取消授权",
                    "没有获得您的授权，无法继续。如需继续，请重新打开并同意授权。",
                    retry,
                ),
                WebOAuthCallbackError::MalformedCode
                | WebOAuthCallbackError::CodeInvalid(_)
                | WebOAuthCallbackError::CodeUsed(_) => oauth_page(
                    StatusCode::BAD_REQUEST,
                    "授权已失效",
                    "这次授权的链接已经用过或已经过期，请重新打开。",
                    retry,
                ),
                WebOAuthCallbackError::NotPermitted(_) => oauth_page(
                    StatusCode::FORBIDDEN,
                    "暂时无法授权",
                    "这个公众号还没有开通网页授权，请联系公众号的管理员。",
                    None,
                ),
                WebOAuthCallbackError::ScopeNotGranted(_) => oauth_page(
                    StatusCode::FORBIDDEN,
                    "未获得用户信息授权",
                    "需要您同意获取头像和昵称才能继续，请重新打开并同意授权。",
                    retry,
                ),
                WebOAuthCallbackError::Failed(_) => oauth_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "请稍后再试",
                    "暂时无法完成授权，请稍后刷新页面。",
                    None,
                ),
            }
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
fn router<S: Store + 'static>(flow: AuthFlow<S>, oauth: WebOAuth<S>) -> Router {
    let web = Router::new()
        .route("/oauth/{appid}/authorize", get(oauth_authorize::<S>))
        .route("/oauth/callback", get(oauth_callback::<S>))
        .route("/oauth/callback/", get(oauth_callback::<S>))
        .with_state(oauth);
    Router::new()
        .route("/auth", get(launch::<S>))
        .route("/auth/", get(launch::<S>))
        .route("/auth/go", get(go::<S>))
        .route("/auth/go/", get(go::<S>))
        .route("/auth/callback", get(callback::<S>))
        .route("/auth/callback/", get(callback::<S>))
        .with_state(flow)
        .merge(web)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

impl AuthRedirect {
    pub fn new<S: Store + 'static>(flow: AuthFlow<S>, oauth: WebOAuth<S>) -> Self {
        Self {
            router: router(flow, oauth),
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
    oauth: WebOAuthSettings,
) -> Result<AuthRedirect, WechatError> {
    let app = wxcomponent::wiring::production(
        config,
        ClientConfig::from_config(config),
        TokenSettings::default(),
    )
    .await?;
    Ok(AuthRedirect::new(
        app.auth_flow(settings),
        app.web_oauth(oauth),
    ))
}
