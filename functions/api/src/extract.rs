//! The typed inputs of the handlers. Each rejects a bad input with a 400 in the API's error
//! shape, before the handler runs, so nothing is called and nothing is written.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use wxcomponent::AuthorizerAppId;

use crate::error::ApiError;

/// The `{appid}` path parameter, checked to be shaped like an appid (`invalid_appid`).
pub struct AppId(pub AuthorizerAppId);

impl<S: Send + Sync> FromRequestParts<S> for AppId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = || ApiError::bad_request("invalid_appid", "the appid is malformed");
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        let raw = params
            .iter()
            .find(|(name, _)| name == "appid")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        AuthorizerAppId::parse(raw)
            .map(AppId)
            .map_err(|_| invalid())
    }
}

/// The `{openid}` path parameter: 1 to 64 letters, digits, `-` or `_` (`invalid_openid`).
pub struct OpenId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for OpenId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = || ApiError::bad_request("invalid_openid", "the openid is malformed");
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        params
            .into_iter()
            .find(|(name, _)| name == "openid")
            .map(|(_, value)| value)
            .filter(|o| {
                (1..=64).contains(&o.len())
                    && o.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            })
            .map(OpenId)
            .ok_or_else(invalid)
    }
}

/// A JSON body as `T` (whatever the content type says: callers send JSON).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(request, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A JSON body as `T`, or `T::default()` when the body is empty.
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse(&bytes).map(OptionalJsonBody)
    }
}

/// The query string as `T`.
pub struct QueryOf<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryOf<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| QueryOf(value))
            .map_err(|e| ApiError::invalid(format!("the query is not valid: {}", e.body_text())))
    }
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        // A body over the limit is a 413 here, which the router's body limit answers as
        // `error::body_too_large`.
        .map_err(|e| ApiError::new(e.status(), "invalid_request", "the body could not be read"))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("the body is not a valid request: {e}")))
}

/// A listing's `limit` and `cursor` as sent; `limit` is checked with [`page_limit`], to answer
/// `invalid_limit`.
#[derive(serde::Deserialize)]
pub(crate) struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A listing's `limit` as sent: absent is [`crate::DEFAULT_LIMIT`]; anything but a whole number from 1
/// to [`crate::MAX_LIMIT`] is a 400 `invalid_limit`.
pub(crate) fn page_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(crate::DEFAULT_LIMIT),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=crate::MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!(
                        "limit must be a whole number from 1 to {}",
                        crate::MAX_LIMIT
                    ),
                )
            }),
    }
}
