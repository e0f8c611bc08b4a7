//! The routes about authorizers as such: listing and showing them, handing out an access token,
//! the provider's settings per authorizer, minting authorization links, and the health figures.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wxcomponent::AuthorizerAppId;
use wxcomponent::service::{AuthLinksRequest, AuthType};
use wxcomponent::store::{AuthorizerSettings, Cursor};

use crate::AppState;
use crate::doc::{
    AccessTokenAnswers, AuthLinksAnswers, AuthorizerAnswers, HealthAnswers, ListAnswers,
    SettingsAnswers,
};
use crate::error::{ApiError, json_response};
use crate::extract::{AppId, JsonBody, PageQuery, QueryOf, page_limit};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_authorizers))
        .routes(routes!(get_authorizer))
        .routes(routes!(get_access_token))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(create_auth_links))
        .routes(routes!(health))
}

fn ok(body: &impl Serialize) -> Result<Response, ApiError> {
    Ok(json_response(axum::http::StatusCode::OK, body))
}

/// List authorizers, ordered by appid
///
/// Never returns tokens or refresh tokens.
#[utoipa::path(
    get,
    path = "/authorizers",
    operation_id = "listAuthorizers",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(ListAnswers)
)]
async fn list_authorizers(
    State(api): State<AppState>,
    QueryOf(query): QueryOf<PageQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit.as_deref())?;
    let cursor = query.cursor.map(Cursor::from_string);
    ok(&api
        .app
        .directory
        .list_authorizers(limit, cursor.as_ref())
        .await?)
}

/// One authorizer, whatever its status
///
/// Never returns tokens or refresh tokens.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}",
    operation_id = "getAuthorizer",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(AuthorizerAnswers)
)]
async fn get_authorizer(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    ok(&api.app.directory.authorizer_view(&appid).await?)
}

/// An access token and its absolute expiry (epoch seconds).
#[derive(Serialize, ToSchema)]
#[schema(as = AccessToken)]
pub(crate) struct AccessTokenBody {
    access_token: String,
    expires_at: i64,
}

/// A valid access token of the authorizer
///
/// Refreshed first if it expires within the refresh margin (15 minutes), single-flight with every
/// other worker. The only route that returns a token.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/access-token",
    operation_id = "getAuthorizerAccessToken",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(AccessTokenAnswers)
)]
async fn get_access_token(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    let token = api.app.tokens.authorizer_token(&appid).await?;
    ok(&AccessTokenBody {
        access_token: token.secret().expose().to_owned(),
        expires_at: token.expires_at(),
    })
}

/// The provider's settings for one authorizer.
#[derive(Serialize, ToSchema)]
#[schema(as = Settings)]
pub(crate) struct SettingsBody {
    appid: String,
    /// Names of 1 to 64 letters, digits and `_` (not `appid`); values text (up to 1,024
    /// characters), numbers or true / false; at most 64, 16 KiB in all.
    #[schema(value_type = Object)]
    settings: AuthorizerSettings,
}

/// The provider's settings for the authorizer
///
/// Values the provider keeps per merchant (a shop id, a theme colour) for release campaigns to
/// put into a template's `ext_json`. Empty until set.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/settings",
    operation_id = "getAuthorizerSettings",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(SettingsAnswers)
)]
async fn get_settings(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    let settings = api.app.directory.settings(&appid).await?;
    ok(&SettingsBody {
        appid: appid.to_string(),
        settings,
    })
}

/// Replace the provider's settings for the authorizer
///
/// The body is the whole set, a JSON object; what was stored before is replaced. No WeChat call
/// is made, and the authorizer's tokens are left as they are.
#[utoipa::path(
    put,
    path = "/authorizers/{appid}/settings",
    operation_id = "putAuthorizerSettings",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(SettingsAnswers)
)]
async fn put_settings(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(settings): JsonBody<AuthorizerSettings>,
) -> Result<Response, ApiError> {
    api.app.directory.put_settings(&appid, &settings).await?;
    ok(&SettingsBody {
        appid: appid.to_string(),
        settings,
    })
}

/// What the provider asks links for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuthLinksRequest)]
pub(crate) struct AuthLinksBody {
    /// 1 official accounts only, 2 mini programs only, 3 both.
    auth_type: u8,
    /// Where WeChat sends the merchant back: an absolute http(s) URL on the launch domain.
    redirect_uri: String,
    /// Restrict the authorization to this account.
    #[serde(default)]
    biz_appid: Option<String>,
    /// Mini program categories to offer (WeChat's ids).
    #[serde(default)]
    category_id_list: Vec<u32>,
}

impl AuthLinksBody {
    fn into_request(self) -> Result<AuthLinksRequest, ApiError> {
        let auth_type = AuthType::from_code(self.auth_type)
            .ok_or_else(|| ApiError::invalid("auth_type must be 1, 2 or 3"))?;
        let redirect_uri = url::Url::parse(&self.redirect_uri)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| ApiError::invalid("redirect_uri must be an absolute http(s) URL"))?;
        let biz_appid = self
            .biz_appid
            .map(AuthorizerAppId::parse)
            .transpose()
            .map_err(|_| ApiError::invalid("biz_appid is malformed"))?;
        Ok(AuthLinksRequest {
            auth_type,
            biz_appid,
            redirect_uri,
            category_id_list: self.category_id_list,
        })
    }
}

/// Mint authorization links (PC and mobile) with a fresh pre-auth code
///
/// WeChat accepts the links only when the merchant opens them by a click on a page of the launch
/// domain. The authorization completes through the `authorized` push.
#[utoipa::path(
    post,
    path = "/auth-links",
    operation_id = "createAuthLinks",
    request_body = AuthLinksBody,
    responses(AuthLinksAnswers)
)]
async fn create_auth_links(
    State(api): State<AppState>,
    JsonBody(body): JsonBody<AuthLinksBody>,
) -> Result<Response, ApiError> {
    let request = body.into_request()?;
    ok(&api.app.authorizations.links_for(&request).await?)
}

/// The platform's health
///
/// `degraded` while the ticket is missing or older than 30 minutes (WeChat's pushes are not
/// arriving; tokens will soon fail to refresh).
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "getHealth",
    responses(HealthAnswers)
)]
async fn health(State(api): State<AppState>) -> Result<Response, ApiError> {
    ok(&api.app.directory.health().await?)
}
