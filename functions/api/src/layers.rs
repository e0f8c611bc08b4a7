//! What runs around every route: the request log line, the bearer check (before routing, so
//! unknown paths answer 401 too), the body limit, the refusal of `HEAD`, and JSON errors for the
//! router's own 404, 405 and 413.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use wxcomponent::config::ApiKeyDigest;

use crate::error::ApiError;

/// One log line per request: the method, the route pattern and the status only; never a query,
/// a header or a body (the access-token route's body is a token).
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        "request"
    );
    response
}

/// Hands the matched route pattern to [`log_request`] (it sees only the response).
pub(crate) async fn remember_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// `Authorization: Bearer <key>` whose SHA-256 is the configured digest, compared in constant
/// time; anything else is a 401 with no detail.
pub(crate) async fn require_bearer(
    State(key): State<ApiKeyDigest>,
    request: Request,
    next: Next,
) -> Response {
    if authorized(&key, &request) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

fn authorized(key: &ApiKeyDigest, request: &Request) -> bool {
    let Some(value) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, presented)) = value.trim().split_once(' ') else {
        return false;
    };
    let presented = presented.trim();
    scheme.eq_ignore_ascii_case("bearer") && !presented.is_empty() && key.matches(presented)
}

/// A method no route serves.
const UNSERVED: &[u8] = b"X-UNSERVED";

/// `HEAD` is not served: on a GET route it would run the route (an access token refreshed, a
/// WeChat call made) for an answer without a body. The router answers it as any method it does
/// not serve: 405 with the route's methods, or 404.
pub(crate) async fn refuse_head(mut request: Request, next: Next) -> Response {
    if request.method() == Method::HEAD
        && let Ok(unserved) = Method::from_bytes(UNSERVED)
    {
        *request.method_mut() = unserved;
    }
    next.run(request).await
}

/// Answers as the API gives them, whatever layer made them: `Allow` without the `HEAD` the
/// router names beside every `GET` ([`refuse_head`] refuses it).
pub(crate) async fn tidy_answers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(allow) = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
    {
        let methods: Vec<&str> = allow
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != "HEAD")
            .collect();
        if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    response
}

/// The router's answer for a path no route has.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The router's answer for a route that does not serve the method (it adds `Allow`).
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the route does not serve this method; see the Allow header",
    )
}
