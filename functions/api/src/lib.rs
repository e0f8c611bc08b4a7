//! The `api` adapter: the provider's authenticated HTTP API.
//!
//! Every request must carry `Authorization: Bearer <key>`; the key's SHA-256 is compared in
//! constant time with `API_KEY_SHA256` ([`ApiKeyDigest`]), before any routing, so unknown paths
//! answer 401 too. The routes are data ([`Api::ROUTES`]): a method, a path pattern and a handler
//! each. Adding a route is one line there (plus its handler), and `openapi.yaml` is checked
//! against the same table by a test. Handlers turn requests into service calls and typed errors
//! into JSON errors with statuses ([`ApiError`]); the rules live in `wxcomponent`.

mod miniprogram;

pub use wxcomponent::service::passthrough::{PASSTHROUGH_PREFIXES, passthrough_path};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wxcomponent::logging::error_chain;

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Error, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wxcomponent::config::{ApiConfig, ApiKeyDigest};
use wxcomponent::service::{AuthLinksRequest, AuthType, TokenError, TokenService, TokenSettings};
use wxcomponent::store::{Cursor, DynamoStore, MemoryStore, Store, StoreError};
use wxcomponent::wechat::{ClientConfig, WechatClient, errcode, fix_for};
use wxcomponent::{AuthorizerAppId, Clock, SystemClock};

/// Page size of `GET /authorizers` without `limit`.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 100;

/// The future a handler returns.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

/// A route handler.
pub type Handler<S> = for<'a> fn(&'a Api<S>, &'a Request, Params) -> Reply<'a>;

/// One route: `path` segments in braces (`{appid}`) match any one segment.
pub struct Route<S> {
    pub method: Method,
    pub path: &'static str,
    handler: Handler<S>,
}

impl<S> Route<S> {
    const fn new(method: Method, path: &'static str, handler: Handler<S>) -> Self {
        Self {
            method,
            path,
            handler,
        }
    }

    /// The path parameters, if `path` matches the pattern.
    fn matches(&self, path: &str) -> Option<Params> {
        let mut params = Vec::new();
        let mut pattern = self.path.split('/');
        let mut actual = path.split('/');
        loop {
            match (pattern.next(), actual.next()) {
                (None, None) => return Some(Params(params)),
                (Some(p), Some(a)) => {
                    // `{name+}`, last in a pattern: the rest of the path, one segment or more.
                    if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
                        let rest: Vec<&str> = std::iter::once(a).chain(actual).collect();
                        if a.is_empty() {
                            return None;
                        }
                        params.push((name, rest.join("/")));
                        return Some(Params(params));
                    }
                    if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        if a.is_empty() {
                            return None;
                        }
                        params.push((name, a.to_owned()));
                    } else if p != a {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

/// Path parameters by name.
#[derive(Debug, Default)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn appid(&self) -> Result<AuthorizerAppId, ApiError> {
        AuthorizerAppId::parse(self.get("appid"))
            .map_err(|_| ApiError::bad_request("invalid_appid", "the appid is malformed"))
    }
}

/// An error answer: `{"error": {"code", "message"}}` with a status. Messages never carry a
/// secret; store and internal failures are logged and answered without detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized")
    }

    fn into_response(self) -> Response<Body> {
        let mut response = json_response(
            self.status,
            &json!({ "error": { "code": self.code, "message": self.message } }),
        );
        let headers = response.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        use StatusCode as S;
        match &e {
            TokenError::NotFound { .. } => Self::new(S::NOT_FOUND, "not_found", e.to_string()),
            TokenError::ReauthorizationRequired { .. } => {
                Self::new(S::CONFLICT, "reauthorization_required", e.to_string())
            }
            TokenError::Unauthorized { .. } => {
                Self::new(S::CONFLICT, "authorization_revoked", e.to_string())
            }
            TokenError::NoTicket { .. } | TokenError::TicketRejected { .. } => Self::new(
                S::SERVICE_UNAVAILABLE,
                "ticket_unavailable",
                "no valid component_verify_ticket; WeChat was asked to push one",
            ),
            TokenError::Busy { .. } => Self::new(S::SERVICE_UNAVAILABLE, "busy", e.to_string()),
            TokenError::Store(StoreError::InvalidCursor) => {
                Self::bad_request("invalid_cursor", "the cursor was not issued by this API")
            }
            TokenError::Wechat(_) | TokenError::AuthCodeRejected { .. } => {
                tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "WeChat call failed");
                let message = match (e.errcode(), e.errcode().and_then(fix_for)) {
                    (Some(code), Some(fix)) => format!("WeChat answered errcode {code}: {fix}"),
                    (Some(code), None) => format!("WeChat answered errcode {code}"),
                    (None, _) => "WeChat could not be reached".to_owned(),
                };
                match e.errcode() {
                    Some(errcode::IP_NOT_WHITELISTED) => {
                        Self::new(S::BAD_GATEWAY, "wechat_ip_not_whitelisted", message)
                    }
                    Some(errcode::DAILY_QUOTA_REACHED | errcode::TOO_FREQUENT) => {
                        Self::new(S::TOO_MANY_REQUESTS, "wechat_quota", message)
                    }
                    _ => Self::new(S::BAD_GATEWAY, "wechat_error", message),
                }
            }
            TokenError::Store(_) => {
                tracing::error!(error = %error_chain(&e), "store failure");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
            }
        }
    }
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Nothing here may be cached by an intermediary, least of all an access token.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn ok(body: &impl Serialize) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, body))
}

/// The API over a token service, checking requests against one key digest.
pub struct Api<S> {
    service: TokenService<S>,
    key: ApiKeyDigest,
}

impl<S: Store + 'static> Api<S> {
    /// Every route. A `{name+}` segment (last) matches the rest of the path.
    pub const ROUTES: &'static [Route<S>] = &[
        Route::new(Method::GET, "/authorizers", list_authorizers::<S>),
        Route::new(Method::GET, "/authorizers/{appid}", get_authorizer::<S>),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/access-token",
            get_access_token::<S>,
        ),
        Route::new(Method::POST, "/auth-links", create_auth_links::<S>),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/code",
            mp::commit_code::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/code/pages",
            mp::code_pages::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/code/qrcode",
            mp::trial_qrcode::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/audit",
            mp::submit_audit::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/audit",
            mp::audit_status::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/audit/undo",
            mp::undo_audit::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/audit/speedup",
            mp::speedup_audit::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/audit/quota",
            mp::audit_quota::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/release",
            mp::release::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/release/revert",
            mp::revert_release::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/gray-release",
            mp::gray_release::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/gray-release",
            mp::gray_release_plan::<S>,
        ),
        Route::new(
            Method::DELETE,
            "/authorizers/{appid}/gray-release",
            mp::revert_gray_release::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/visit-status",
            mp::visit_status::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/support-version",
            mp::get_support_version::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/support-version",
            mp::set_support_version::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/domains",
            mp::modify_domains::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/webview-domains",
            mp::webview_domains::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/testers",
            mp::bind_tester::<S>,
        ),
        Route::new(
            Method::DELETE,
            "/authorizers/{appid}/testers",
            mp::unbind_tester::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/testers",
            mp::list_testers::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/categories",
            mp::get_categories::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/categories",
            mp::add_categories::<S>,
        ),
        Route::new(
            Method::DELETE,
            "/authorizers/{appid}/categories",
            mp::delete_category::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/basic-info",
            mp::basic_info::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/nickname",
            mp::set_nickname::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/nickname/audit",
            mp::nickname_audit::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/head-image",
            mp::head_image::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/signature",
            mp::signature::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/search-status",
            mp::get_search_status::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/search-status",
            mp::set_search_status::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/privacy",
            mp::get_privacy::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/privacy",
            mp::set_privacy::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/wxacode",
            mp::wxacode::<S>,
        ),
        Route::new(
            Method::GET,
            "/authorizers/{appid}/wechat/{path+}",
            mp::passthrough::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/wechat/{path+}",
            mp::passthrough::<S>,
        ),
        Route::new(Method::GET, "/templates/drafts", mp::template_drafts::<S>),
        Route::new(Method::POST, "/templates", mp::add_template::<S>),
        Route::new(Method::GET, "/templates", mp::list_templates::<S>),
        Route::new(
            Method::DELETE,
            "/templates/{template_id}",
            mp::delete_template::<S>,
        ),
        Route::new(
            Method::POST,
            "/fast-registration/enterprise",
            mp::register_enterprise::<S>,
        ),
        Route::new(
            Method::POST,
            "/fast-registration/enterprise/query",
            mp::query_enterprise::<S>,
        ),
        Route::new(
            Method::POST,
            "/fast-registration/personal",
            mp::register_personal::<S>,
        ),
        Route::new(
            Method::GET,
            "/fast-registration/personal/{taskid}",
            mp::query_personal::<S>,
        ),
        Route::new(
            Method::POST,
            "/fast-registration/beta",
            mp::register_beta::<S>,
        ),
        Route::new(
            Method::POST,
            "/authorizers/{appid}/fast-registration/official-account",
            mp::register_by_official_account::<S>,
        ),
        Route::new(Method::GET, "/health", health::<S>),
    ];

    pub fn new(service: TokenService<S>, key: ApiKeyDigest) -> Self {
        Self { service, key }
    }

    /// Answers one request; every failure is an error response, never an `Err`.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let (result, route) = self.dispatch(&request).await;
        let response = result.unwrap_or_else(ApiError::into_response);
        // The route pattern and status only: never a query, a header or a body (the
        // access-token route's body is a token).
        tracing::info!(
            method = %request.method(),
            route,
            status = response.status().as_u16(),
            "request"
        );
        response
    }

    async fn dispatch(
        &self,
        request: &Request,
    ) -> (Result<Response<Body>, ApiError>, &'static str) {
        if !self.authorized(request) {
            return (Err(ApiError::unauthorized()), "-");
        }
        let path = request.uri().path();
        let mut allowed: Vec<&str> = Vec::new();
        for route in Self::ROUTES {
            let Some(params) = route.matches(path) else {
                continue;
            };
            if route.method == request.method() {
                return ((route.handler)(self, request, params).await, route.path);
            }
            allowed.push(route.method.as_str());
        }
        if allowed.is_empty() {
            return (
                Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no such route",
                )),
                "-",
            );
        }
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("allowed: {}", allowed.join(", ")),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        (Ok(response), "-")
    }

    /// `Authorization: Bearer <key>` whose SHA-256 is the configured digest.
    fn authorized(&self, request: &Request) -> bool {
        let Some(value) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, key)) = value.trim().split_once(' ') else {
            return false;
        };
        let key = key.trim();
        scheme.eq_ignore_ascii_case("bearer") && !key.is_empty() && self.key.matches(key)
    }
}

use miniprogram as mp;

/// Every (method, path pattern) the API serves, for the OpenAPI check.
pub fn route_table() -> Vec<(Method, &'static str)> {
    Api::<MemoryStore>::ROUTES
        .iter()
        .map(|r| (r.method.clone(), r.path))
        .collect()
}

fn query(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

// ----- handlers ----------------------------------------------------------------------------------

fn list_authorizers<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    _: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let query = query(request);
        let limit = match query_value(&query, "limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let cursor = query_value(&query, "cursor").map(Cursor::from_string);
        ok(&api.service.list_authorizers(limit, cursor.as_ref()).await?)
    })
}

fn get_authorizer<'a, S: Store + 'static>(
    api: &'a Api<S>,
    _: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        ok(&api.service.authorizer_view(&appid).await?)
    })
}

#[derive(Serialize)]
struct AccessTokenBody<'t> {
    access_token: &'t str,
    expires_at: i64,
}

fn get_access_token<'a, S: Store + 'static>(
    api: &'a Api<S>,
    _: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let token = api.service.authorizer_token(&appid).await?;
        ok(&AccessTokenBody {
            access_token: token.secret().expose(),
            expires_at: token.expires_at(),
        })
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthLinksBody {
    auth_type: u8,
    redirect_uri: String,
    #[serde(default)]
    biz_appid: Option<String>,
    #[serde(default)]
    category_id_list: Vec<u32>,
}

impl AuthLinksBody {
    fn parse(body: &[u8]) -> Result<AuthLinksRequest, ApiError> {
        let invalid = |message: String| ApiError::bad_request("invalid_request", message);
        let body: AuthLinksBody = serde_json::from_slice(body)
            .map_err(|e| invalid(format!("the body must be a JSON object: {e}")))?;
        let auth_type = AuthType::from_code(body.auth_type)
            .ok_or_else(|| invalid("auth_type must be 1, 2 or 3".to_owned()))?;
        let redirect_uri = url::Url::parse(&body.redirect_uri)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| invalid("redirect_uri must be an absolute http(s) URL".to_owned()))?;
        let biz_appid = body
            .biz_appid
            .map(AuthorizerAppId::parse)
            .transpose()
            .map_err(|_| invalid("biz_appid is malformed".to_owned()))?;
        Ok(AuthLinksRequest {
            auth_type,
            biz_appid,
            redirect_uri,
            category_id_list: body.category_id_list,
        })
    }
}

fn create_auth_links<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    _: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let links_request = AuthLinksBody::parse(request.body().as_ref())?;
        ok(&api.service.authorization_links_for(&links_request).await?)
    })
}

fn health<'a, S: Store + 'static>(api: &'a Api<S>, _: &'a Request, _: Params) -> Reply<'a> {
    Box::pin(async move { ok(&api.service.health().await?) })
}

// ----- wiring ------------------------------------------------------------------------------------

/// The production API: the system clock, the WeChat client from the configuration and the
/// DynamoDB store on `dynamodb`.
pub fn production_api(
    config: &ApiConfig,
    dynamodb: aws_sdk_dynamodb::Client,
) -> Result<Api<DynamoStore>, Error> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = &config.app;
    let client = WechatClient::new(
        ClientConfig::from_config(app),
        app.component_appid.clone(),
        app.component_secret.clone(),
        clock.clone(),
    )?;
    let store = Arc::new(DynamoStore::new(
        dynamodb,
        app.table_name.clone(),
        clock.clone(),
    ));
    let service = TokenService::new(store, client, clock, TokenSettings::default());
    Ok(Api::new(service, config.api_key.clone()))
}
