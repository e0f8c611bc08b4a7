//! Every error answer of the API: `{"error": {"code", "message"}}` with a status, and never
//! cacheable. Messages never carry a secret; store and internal failures are logged and answered
//! without detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use wxcomponent::logging::error_chain;
use wxcomponent::service::{
    AuditError, AuthorizationError, DirectoryError, TokenError, WithdrawError,
};
use wxcomponent::wechat::{errcode, fix_for};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The body of every error answer, as the OpenAPI document describes it.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code: `unauthorized`, `not_found`, `invalid_request`, `wechat_error`, ...
    pub code: String,
    /// What went wrong, for a person; never a secret.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A malformed parameter or body.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized")
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
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
            TokenError::Wechat(_) => Self::wechat(&e, e.errcode()),
            TokenError::Store(_) => Self::store(&e),
        }
    }
}

impl From<AuthorizationError> for ApiError {
    fn from(e: AuthorizationError) -> Self {
        match e {
            AuthorizationError::Token(e) => e.into(),
            AuthorizationError::CodeRejected { .. } => Self::wechat(&e, e.errcode()),
            AuthorizationError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            AuthorizationError::Store(_) => Self::store(&e),
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            DirectoryError::InvalidCursor => Self::bad_request("invalid_cursor", e.to_string()),
            DirectoryError::Store(_) => Self::store(&e),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Token(e) => e.into(),
            AuditError::Store(_) => Self::store(&e),
        }
    }
}

impl From<WithdrawError> for ApiError {
    fn from(e: WithdrawError) -> Self {
        match e {
            WithdrawError::Audit(e) => e.into(),
            WithdrawError::Spent { .. } => {
                tracing::warn!(errcode = e.errcode(), "{e}");
                Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "withdrawals_spent",
                    e.to_string(),
                )
            }
        }
    }
}

impl ApiError {
    /// WeChat refused a call (`errcode`) or could not be reached (`None`): a 502, or a 429 for
    /// WeChat's quotas, with the fix for the errcode when one is known.
    fn wechat(e: &dyn std::error::Error, errcode: Option<i64>) -> Self {
        use StatusCode as S;
        tracing::warn!(errcode, error = %error_chain(e), "WeChat call failed");
        let message = match (errcode, errcode.and_then(fix_for)) {
            (Some(code), Some(fix)) => format!("WeChat answered errcode {code}: {fix}"),
            (Some(code), None) => format!("WeChat answered errcode {code}"),
            (None, _) => "WeChat could not be reached".to_owned(),
        };
        match errcode {
            Some(errcode::IP_NOT_WHITELISTED) => {
                Self::new(S::BAD_GATEWAY, "wechat_ip_not_whitelisted", message)
            }
            Some(errcode::DAILY_QUOTA_REACHED | errcode::TOO_FREQUENT) => {
                Self::new(S::TOO_MANY_REQUESTS, "wechat_quota", message)
            }
            _ => Self::new(S::BAD_GATEWAY, "wechat_error", message),
        }
    }

    /// The store failed: logged, and answered without detail.
    pub(crate) fn store(e: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error_chain(e), "store failure");
        Self::internal()
    }
}

/// The answer to a body over [`crate::MAX_BODY_BYTES`].
pub(crate) fn body_too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
    )
    .into_response()
}

/// A JSON answer that no intermediary may cache (least of all an access token).
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
