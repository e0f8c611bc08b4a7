//! The routes for official accounts' H5 pages: the signed `wx.config` of the JS-SDK, and the
//! profile a web authorization (`snsapi_userinfo`) gave.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wxcomponent::service::{JssdkConfig, JssdkError};
use wxcomponent::wechat::UserInfo;

use crate::AppState;
use crate::doc::{JssdkConfigAnswers, WebUserAnswers};
use crate::error::{ApiError, json_response};
use crate::extract::{AppId, OpenId, QueryOf};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jssdk_config))
        .routes(routes!(web_user))
}

impl From<JssdkError> for ApiError {
    fn from(e: JssdkError) -> Self {
        match e {
            JssdkError::BadUrl => Self::bad_request("invalid_url", e.to_string()),
            JssdkError::NotOfficialAccount { .. } => Self::new(
                axum::http::StatusCode::CONFLICT,
                "not_official_account",
                e.to_string(),
            ),
            JssdkError::Token(e) => e.into(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct JssdkQuery {
    url: Option<String>,
}

/// What `wx.config` takes besides `jsApiList`.
#[derive(Serialize, ToSchema)]
#[schema(as = JssdkConfig)]
pub(crate) struct JssdkConfigBody {
    /// The official account's appid (`wx.config`'s `appId`).
    app_id: String,
    /// Seconds since the epoch.
    timestamp: i64,
    /// 16 letters and digits (`nonceStr`).
    nonce_str: String,
    /// The lowercase hex SHA-1 of `jsapi_ticket=..&noncestr=..&timestamp=..&url=..`.
    signature: String,
}

impl From<JssdkConfig> for JssdkConfigBody {
    fn from(c: JssdkConfig) -> Self {
        Self {
            app_id: c.app_id,
            timestamp: c.timestamp,
            nonce_str: c.nonce_str,
            signature: c.signature,
        }
    }
}

/// Sign `wx.config` for a page of the official account
///
/// `url` is the page's URL as the page sees it (`location.href`); anything from `#` on is left
/// out, nothing is decoded or re-encoded. The account's `jsapi_ticket` is kept and fetched ahead
/// of expiry, once for any number of concurrent callers; the ticket itself is never returned.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/jssdk-config",
    operation_id = "getJssdkConfig",
    params(
        ("appid" = String, Path, description = "The official account's appid."),
        ("url" = String, Query, description = "The page URL, absolute http(s), at most 2048 characters."),
    ),
    responses(JssdkConfigAnswers)
)]
async fn jssdk_config(
    State(api): State<AppState>,
    AppId(appid): AppId,
    QueryOf(query): QueryOf<JssdkQuery>,
) -> Result<Response, ApiError> {
    let url = query.url.unwrap_or_default();
    let config = api.app.official_accounts.jssdk_config(&appid, &url).await?;
    Ok(json_response(
        axum::http::StatusCode::OK,
        &JssdkConfigBody::from(config),
    ))
}

/// A user's profile from a web authorization.
#[derive(Serialize, ToSchema)]
#[schema(as = WebUser)]
pub(crate) struct WebUserBody {
    appid: String,
    openid: String,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<String>,
    nickname: String,
    headimgurl: String,
    country: String,
    province: String,
    city: String,
    /// When the user authorized (epoch seconds).
    authorized_at: i64,
    /// When the profile is removed (epoch seconds): a day after the authorization.
    expires_at: i64,
}

/// The profile of a user who authorized a page of the official account
///
/// Kept for a day after a web authorization with `snsapi_userinfo`; `openid` is the one of the
/// signed result the provider's page received (verify `sig` first). 404 when there is none.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/web-users/{openid}",
    operation_id = "getWebUser",
    params(
        ("appid" = String, Path, description = "The official account's appid."),
        ("openid" = String, Path, description = "The user's openid for the account."),
    ),
    responses(WebUserAnswers)
)]
async fn web_user(
    State(api): State<AppState>,
    AppId(appid): AppId,
    OpenId(openid): OpenId,
) -> Result<Response, ApiError> {
    let user = api
        .app
        .official_accounts
        .web_user(&appid, &openid)
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no profile is kept for this user",
            )
        })?;
    let UserInfo {
        openid,
        nickname,
        province,
        city,
        country,
        headimgurl,
        unionid,
        ..
    } = user.profile;
    Ok(json_response(
        axum::http::StatusCode::OK,
        &WebUserBody {
            appid: user.appid.to_string(),
            openid,
            unionid,
            nickname,
            headimgurl,
            country,
            province,
            city,
            authorized_at: user.authorized_at,
            expires_at: user.expires_at,
        },
    ))
}
