//! The release campaign routes: start a campaign, follow it, pause, resume, cancel, retry its
//! failed apps. The engine that runs them is the `campaign-worker` function; these routes only
//! read and write the store, and never call WeChat.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wxcomponent::service::{CampaignError, CampaignRequest, CampaignView};
use wxcomponent::store::Cursor;
use wxcomponent::store::campaign::AppState;

use crate::AppState as Shared;
use crate::doc::{
    CampaignAnswers, CampaignAppsAnswers, CampaignCreatedAnswers, CampaignRetryAnswers,
    CampaignsAnswers,
};
use crate::error::{ApiError, json_response};
use crate::extract::{JsonBody, PageQuery, QueryOf, page_limit};

pub(crate) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(create_campaign, list_campaigns))
        .routes(routes!(get_campaign))
        .routes(routes!(list_campaign_apps))
        .routes(routes!(pause_campaign))
        .routes(routes!(resume_campaign))
        .routes(routes!(cancel_campaign))
        .routes(routes!(retry_failed))
}

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> Self {
        match &e {
            CampaignError::Invalid(_) => ApiError::invalid(e.to_string()),
            CampaignError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            CampaignError::WrongState { .. } => {
                ApiError::new(StatusCode::CONFLICT, "wrong_state", e.to_string())
            }
            CampaignError::EmptyCohort => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_cohort",
                e.to_string(),
            ),
            CampaignError::Store(_) => ApiError::store(&e),
        }
    }
}

fn ok(body: &impl Serialize) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, body))
}

/// What `POST /campaigns` takes (see the description for the rules).
#[derive(Deserialize, ToSchema)]
#[schema(as = CampaignRequest)]
#[allow(dead_code)]
pub(crate) struct CampaignRequestDoc {
    /// The code template's id (`GET /wxa/gettemplatelist`), a number.
    #[schema(value_type = i64)]
    template_id: serde_json::Value,
    /// The version users see, 1 to 64 characters.
    user_version: String,
    user_desc: Option<String>,
    /// The `ext.json` of every app: string values may hold `{{appid}}` and `{{name}}` for the
    /// authorizer's setting `name` (`PUT /authorizers/{appid}/settings`); a string that is only
    /// a placeholder takes the setting's type.
    #[schema(value_type = Option<Object>)]
    ext_json: Option<serde_json::Value>,
    /// The cohort, in the order waves cut it; absent: every authorized mini program, by appid.
    appids: Option<Vec<String>>,
    /// Cumulative percentages of the cohort, growing, ending at 100 (default `[100]`).
    waves: Option<Vec<u8>>,
    /// Stop starting new apps when a wave's audit rejections reach `rejections` or
    /// `rejection_share` (0 to 1) of the wave.
    #[schema(value_type = Option<Object>)]
    halt: Option<serde_json::Value>,
    /// `"auto"` (default: release each app when its audit passes), `"manual"`, or a gray release
    /// percentage from 1 to 100.
    #[schema(value_type = Option<serde_json::Value>)]
    release: Option<serde_json::Value>,
    /// Pause before a submission would leave WeChat's audit quota at or below this (default 0).
    quota_reserve: Option<u32>,
    /// The `submit_audit` body (`item_list`, `preview_info`, `version_desc`...), the same for
    /// every app; WeChat fills in what is absent.
    #[schema(value_type = Option<Object>)]
    audit: Option<serde_json::Value>,
}

/// Start a release campaign
///
/// Commits the template to each app of the cohort, waits for WeChat's privacy check, submits the
/// audit, and releases as `release` asks, wave after wave: a wave starts when every app of the
/// previous one is released, failed or waiting on the merchant, and the halt rule did not trip.
/// The campaign worker does the work on a schedule and on audit pushes; this only stores it. No
/// WeChat call is made here.
#[utoipa::path(
    post,
    path = "/campaigns",
    operation_id = "createCampaign",
    request_body = CampaignRequestDoc,
    responses(CampaignCreatedAnswers)
)]
async fn create_campaign(
    State(api): State<Shared>,
    JsonBody(request): JsonBody<CampaignRequest>,
) -> Result<Response, ApiError> {
    let view: CampaignView = api.campaigns.create(request).await?;
    Ok(json_response(StatusCode::CREATED, &view))
}

/// List release campaigns, newest first
#[utoipa::path(
    get,
    path = "/campaigns",
    operation_id = "listCampaigns",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(CampaignsAnswers)
)]
async fn list_campaigns(
    State(api): State<Shared>,
    QueryOf(query): QueryOf<PageQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit.as_deref())?;
    let cursor = query.cursor.map(Cursor::from_string);
    ok(&api.campaigns.list(limit, cursor.as_ref()).await?)
}

/// One release campaign, with its apps counted by state
#[utoipa::path(
    get,
    path = "/campaigns/{id}",
    operation_id = "getCampaign",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(CampaignAnswers)
)]
async fn get_campaign(
    State(api): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ok(&api.campaigns.get(&id).await?)
}

#[derive(Deserialize)]
struct AppsQuery {
    state: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// The apps of a release campaign, by appid
///
/// Each app's state, WeChat's last errcode for it, and what to do about it (`hint`).
#[utoipa::path(
    get,
    path = "/campaigns/{id}/apps",
    operation_id = "listCampaignApps",
    params(
        ("id" = String, Path, description = "The campaign's id."),
        ("state" = Option<String>, Query, description = "Only apps in this state: pending, committed, auditing, approved, released, failed, needs_merchant."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(CampaignAppsAnswers)
)]
async fn list_campaign_apps(
    State(api): State<Shared>,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<AppsQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit.as_deref())?;
    let state = query
        .state
        .as_deref()
        .map(|s| {
            AppState::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "state must be one of: {}",
                    AppState::ALL.map(AppState::as_str).join(", ")
                ))
            })
        })
        .transpose()?;
    let cursor = query.cursor.map(Cursor::from_string);
    ok(&api
        .campaigns
        .apps(&id, state, limit, cursor.as_ref())
        .await?)
}

/// Pause a release campaign
///
/// No app takes another step until it is resumed; audit results still arrive and are recorded.
#[utoipa::path(
    post,
    path = "/campaigns/{id}/pause",
    operation_id = "pauseCampaign",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(CampaignAnswers)
)]
async fn pause_campaign(
    State(api): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ok(&api.campaigns.pause(&id).await?)
}

/// Resume a paused or halted release campaign
///
/// After a halt, the halted wave's rejections no longer stop it.
#[utoipa::path(
    post,
    path = "/campaigns/{id}/resume",
    operation_id = "resumeCampaign",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(CampaignAnswers)
)]
async fn resume_campaign(
    State(api): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ok(&api.campaigns.resume(&id).await?)
}

/// Cancel a release campaign
///
/// No app takes another step. Audits already submitted go on at WeChat.
#[utoipa::path(
    post,
    path = "/campaigns/{id}/cancel",
    operation_id = "cancelCampaign",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(CampaignAnswers)
)]
async fn cancel_campaign(
    State(api): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ok(&api.campaigns.cancel(&id).await?)
}

/// What a retry restarted.
#[derive(Serialize, ToSchema)]
#[schema(as = CampaignRetry)]
pub(crate) struct RetryBody {
    #[schema(value_type = Object)]
    campaign: CampaignView,
    /// How many failed apps start again.
    restarted: u32,
}

/// Start the failed apps of a release campaign again
///
/// Each failed app starts from the beginning (commit); a done campaign runs again.
#[utoipa::path(
    post,
    path = "/campaigns/{id}/retry-failed",
    operation_id = "retryFailedCampaignApps",
    params(("id" = String, Path, description = "The campaign's id.")),
    responses(CampaignRetryAnswers)
)]
async fn retry_failed(
    State(api): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (campaign, restarted) = api.campaigns.retry_failed(&id).await?;
    ok(&RetryBody {
        campaign,
        restarted,
    })
}
