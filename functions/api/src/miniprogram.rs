//! The routes acting for one mini program (`/authorizers/{appid}/...`, with its authorizer
//! token), the component's code templates and fast registration (with the component token), and
//! the guarded passthrough to WeChat APIs not typed yet. Each handler takes typed inputs (a 400
//! on a bad one, before any WeChat call), makes one call through the token service, and answers
//! WeChat's result as JSON (images as their bytes).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wxcomponent::service::passthrough::PassthroughError;
use wxcomponent::service::{AuditView, AuthorizerView};
use wxcomponent::wechat::RawResponse;
use wxcomponent::wechat::miniprogram::DomainAction;
use wxcomponent::wechat::miniprogram::basic_info::{
    HeadImageChange, NicknameChange, ServerDomainsChange,
};
use wxcomponent::wechat::miniprogram::category::CategoryChange;
use wxcomponent::wechat::miniprogram::code::{
    CommitRequest, GrayReleaseRequest, SubmitAuditRequest, VisitAction,
};
use wxcomponent::wechat::miniprogram::privacy::PrivacySettingRequest;
use wxcomponent::wechat::miniprogram::register::{
    OrgWeappQuery, OrgWeappRegistration, PersonalWeappRegistration,
};
use wxcomponent::wechat::miniprogram::tester::TesterRef;
use wxcomponent::wechat::miniprogram::wxacode::WxaCodeUnlimitRequest;

use crate::AppState;
use crate::doc::{ForAuthorizer, ForComponent, ImageForAuthorizer, Passthrough};
use crate::error::{ApiError, json_response};
use crate::extract::{AppId, JsonBody, OptionalJsonBody, QueryOf};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(commit_code))
        .routes(routes!(code_pages))
        .routes(routes!(trial_qrcode))
        .routes(routes!(submit_audit))
        .routes(routes!(audit_status))
        .routes(routes!(undo_audit))
        .routes(routes!(speedup_audit))
        .routes(routes!(audit_quota))
        .routes(routes!(release))
        .routes(routes!(revert_release))
        .routes(routes!(gray_release))
        .routes(routes!(gray_release_plan))
        .routes(routes!(revert_gray_release))
        .routes(routes!(visit_status))
        .routes(routes!(get_support_version))
        .routes(routes!(set_support_version))
        .routes(routes!(modify_domains))
        .routes(routes!(webview_domains))
        .routes(routes!(bind_tester))
        .routes(routes!(unbind_tester))
        .routes(routes!(list_testers))
        .routes(routes!(get_categories))
        .routes(routes!(add_categories))
        .routes(routes!(delete_category))
        .routes(routes!(basic_info))
        .routes(routes!(set_nickname))
        .routes(routes!(nickname_audit))
        .routes(routes!(head_image))
        .routes(routes!(signature))
        .routes(routes!(get_search_status))
        .routes(routes!(set_search_status))
        .routes(routes!(get_privacy))
        .routes(routes!(set_privacy))
        .routes(routes!(wxacode))
        .routes(routes!(template_drafts))
        .routes(routes!(add_template))
        .routes(routes!(list_templates))
        .routes(routes!(delete_template))
        .routes(routes!(register_enterprise))
        .routes(routes!(query_enterprise))
        .routes(routes!(register_personal))
        .routes(routes!(query_personal))
        .routes(routes!(register_beta))
        .routes(routes!(register_by_official_account))
}

// ----- inputs ------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitAuditBody {
    #[serde(flatten)]
    request: SubmitAuditRequest,
    #[serde(default)]
    auto_release: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevertBody {
    app_version: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SpeedupBody {
    auditid: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitBody {
    action: VisitAction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebviewBody {
    action: DomainAction,
    #[serde(default)]
    webviewdomain: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WechatIdBody {
    wechatid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesBody {
    categories: Vec<CategoryChange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureBody {
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchStatusBody {
    status: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    draft_id: i64,
    /// 0 an ordinary template, 1 a standard one.
    #[serde(default)]
    template_type: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BetaBody {
    name: String,
    openid: String,
}

/// The ticket WeChat handed to the page the official account's admin confirmed on.
#[derive(Deserialize)]
struct OfficialAccountRegistrationBody {
    ticket: wxcomponent::Secret,
}

#[derive(Deserialize)]
struct QrcodeQuery {
    path: Option<String>,
}

#[derive(Deserialize)]
struct CategoryQuery {
    first: i64,
    second: i64,
}

#[derive(Deserialize)]
struct NicknameAuditQuery {
    audit_id: i64,
}

#[derive(Deserialize)]
struct PrivacyQuery {
    privacy_ver: Option<u8>,
}

#[derive(Deserialize)]
struct TemplateListQuery {
    template_type: Option<u8>,
}

// ----- outputs -----------------------------------------------------------------------------------

/// A result as JSON; a bare acknowledgement (`()`) is `{}`.
fn reply(value: &impl Serialize) -> Result<Response, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Null) => Ok(json_response(StatusCode::OK, &json!({}))),
        Ok(value) => Ok(json_response(StatusCode::OK, &value)),
        Err(_) => Err(ApiError::internal()),
    }
}

/// Bytes from WeChat with their content type.
fn binary(raw: RawResponse) -> Response {
    let content_type = raw
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    let mut response = raw.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn members_json(userstrs: Vec<String>) -> Value {
    json!({ "members": userstrs.into_iter().map(|u| json!({"userstr": u})).collect::<Vec<_>>() })
}

// ----- handlers ----------------------------------------------------------------------------------

/// Upload code from a template (/wxa/commit)
///
/// CommitRequest: template_id, ext_json, user_version, user_desc.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/code",
    operation_id = "commitCode",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn commit_code(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<CommitRequest>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move { c.commit_code(&t, input).await })
            .await?,
    )
}

/// The pages of the uploaded code (/wxa/get_page)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/code/pages",
    operation_id = "codePages",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn code_pages(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.get_code_page(&t)
                    .await
                    .map(|pages| json!({ "page_list": pages }))
            })
            .await?,
    )
}

/// The trial version's QR code image (/wxa/get_qrcode)
///
/// Query `path` optional; the answer is the image bytes.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/code/qrcode",
    operation_id = "trialQrcode",
    params(("appid" = String, Path, description = "The authorizer's appid."), ("path" = Option<String>, Query, description = "The page (and query) the QR code opens.")),
    responses(ImageForAuthorizer)
)]
async fn trial_qrcode(
    State(api): State<AppState>,
    AppId(appid): AppId,
    QueryOf(query): QueryOf<QrcodeQuery>,
) -> Result<Response, ApiError> {
    let query = &query;
    let path = query.path.as_deref();
    let raw = api
        .app
        .tokens
        .with_authorizer_token(
            &appid,
            |c, t| async move { c.get_trial_qrcode(&t, path).await },
        )
        .await?;
    Ok(binary(raw))
}

/// Submit the code for audit (/wxa/submit_audit)
///
/// SubmitAuditRequest plus `auto_release` (default false). The audit id is stored as pending; with
/// auto_release the version is released when WeChat's weapp_audit_success arrives, if WeChat's
/// latest audit is this audit id and approved. A rejection, an undo or the approval ends
/// auto_release: it never carries over to a later audit.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/audit",
    operation_id = "submitAudit",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn submit_audit(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<SubmitAuditBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    let state = api
        .app
        .audits
        .submit(&appid, &input.request, input.auto_release)
        .await?;
    reply(&json!({ "auditid": state.audit_id, "audit": AuditView::from(&state) }))
}

/// The stored audit merged with WeChat's latest status
///
/// `audit` is the stored state (null if none); `wechat` is /wxa/get_latest_auditstatus (null if
/// WeChat failed); `withdrawals` counts the withdrawals today and this month (Beijing time)
/// against WeChat's limits, which WeChat does not report.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/audit",
    operation_id = "auditStatus",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn audit_status(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(&api.app.audits.overview(&appid).await?)
}

/// Withdraw the audit (/wxa/undocodeaudit)
///
/// The stored audit becomes withdrawn. WeChat allows 5 withdrawals a day and 10 a month per mini
/// program (Beijing time); they are counted, and a spent budget answers 429 `withdrawals_spent`
/// without calling WeChat.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/audit/undo",
    operation_id = "undoAudit",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn undo_audit(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    api.app.audits.undo(&appid).await?;
    reply(&())
}

/// Expedite an audit (/wxa/speedupaudit)
///
/// Body `{auditid}` optional: the stored audit by default.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/audit/speedup",
    operation_id = "speedupAudit",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn speedup_audit(
    State(api): State<AppState>,
    AppId(appid): AppId,
    OptionalJsonBody(input): OptionalJsonBody<SpeedupBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    match api.app.audits.speedup(&appid, input.auditid).await? {
        Some(_) => reply(&()),
        None => Err(ApiError::invalid("auditid is required: no audit is stored")),
    }
}

/// The audit quota (/wxa/queryquota)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/audit/quota",
    operation_id = "auditQuota",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn audit_quota(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move { c.query_quota(&t).await })
            .await?,
    )
}

/// Release the approved version (/wxa/release)
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/release",
    operation_id = "release",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn release(State(api): State<AppState>, AppId(appid): AppId) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move { c.release(&t).await })
            .await?,
    )
}

/// Revert the release (/wxa/revertcoderelease)
///
/// Body `{app_version}` optional.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/release/revert",
    operation_id = "revertRelease",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn revert_release(
    State(api): State<AppState>,
    AppId(appid): AppId,
    OptionalJsonBody(input): OptionalJsonBody<RevertBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.revert_code_release(&t, input.app_version).await
            })
            .await?,
    )
}

/// Start or widen a phased release (/wxa/grayrelease)
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/gray-release",
    operation_id = "grayRelease",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn gray_release(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<GrayReleaseRequest>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.gray_release(&t, input).await },
            )
            .await?,
    )
}

/// The phased release plan (/wxa/getgrayreleaseplan)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/gray-release",
    operation_id = "grayReleasePlan",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn gray_release_plan(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.get_gray_release_plan(&t).await },
            )
            .await?,
    )
}

/// Cancel the phased release (/wxa/revertgrayrelease)
#[utoipa::path(
    delete,
    path = "/authorizers/{appid}/gray-release",
    operation_id = "revertGrayRelease",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn revert_gray_release(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.revert_gray_release(&t).await },
            )
            .await?,
    )
}

/// Open or close the mini program (/wxa/change_visitstatus)
///
/// Body `{action: open|close}`.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/visit-status",
    operation_id = "visitStatus",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn visit_status(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<VisitBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.change_visit_status(&t, input.action).await
            })
            .await?,
    )
}

/// The minimum base library (/cgi-bin/wxopen/getweappsupportversion)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/support-version",
    operation_id = "getSupportVersion",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn get_support_version(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.get_weapp_support_version(&t).await
            })
            .await?,
    )
}

/// Set the minimum base library (/cgi-bin/wxopen/setweappsupportversion)
///
/// Body `{version}`.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/support-version",
    operation_id = "setSupportVersion",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn set_support_version(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<VersionBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.set_weapp_support_version(&t, &input.version).await
            })
            .await?,
    )
}

/// Server domains (/wxa/modify_domain)
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/domains",
    operation_id = "modifyDomains",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn modify_domains(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<ServerDomainsChange>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.modify_domain(&t, input).await },
            )
            .await?,
    )
}

/// Web-view domains (/wxa/setwebviewdomain)
///
/// Body `{webviewdomain: [...]}`.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/webview-domains",
    operation_id = "webviewDomains",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn webview_domains(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<WebviewBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.set_webview_domain(&t, input.action, &input.webviewdomain)
                    .await
            })
            .await?,
    )
}

/// Bind a tester (/wxa/bind_tester)
///
/// Body `{wechatid}`; answers `{userstr}`.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/testers",
    operation_id = "bindTester",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn bind_tester(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<WechatIdBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.bind_tester(&t, &input.wechatid)
                    .await
                    .map(|userstr| json!({ "userstr": userstr }))
            })
            .await?,
    )
}

/// Unbind a tester (/wxa/unbind_tester)
///
/// Body `{wechatid}` or `{userstr}`.
#[utoipa::path(
    delete,
    path = "/authorizers/{appid}/testers",
    operation_id = "unbindTester",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn unbind_tester(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<TesterRef>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.unbind_tester(&t, input).await },
            )
            .await?,
    )
}

/// The testers (/wxa/memberauth)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/testers",
    operation_id = "listTesters",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn list_testers(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.get_testers(&t).await.map(members_json)
            })
            .await?,
    )
}

/// The account's categories (/cgi-bin/wxopen/getcategory)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/categories",
    operation_id = "getCategories",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn get_categories(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move { c.get_category(&t).await })
            .await?,
    )
}

/// Add categories (/cgi-bin/wxopen/addcategory)
///
/// Body `{categories: [{first, second, certicates}]}`.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/categories",
    operation_id = "addCategories",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn add_categories(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<CategoriesBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.add_category(&t, &input.categories).await
            })
            .await?,
    )
}

/// Delete a category (/cgi-bin/wxopen/deletecategory)
///
/// Query `first` and `second`.
#[utoipa::path(
    delete,
    path = "/authorizers/{appid}/categories",
    operation_id = "deleteCategory",
    params(("appid" = String, Path, description = "The authorizer's appid."), ("first" = i64, Query, description = "The first-level category id."), ("second" = i64, Query, description = "The second-level category id.")),
    responses(ForAuthorizer)
)]
async fn delete_category(
    State(api): State<AppState>,
    AppId(appid): AppId,
    QueryOf(query): QueryOf<CategoryQuery>,
) -> Result<Response, ApiError> {
    let query = &query;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.delete_category(&t, query.first, query.second).await
            })
            .await?,
    )
}

/// Basic information (/cgi-bin/account/getaccountbasicinfo)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/basic-info",
    operation_id = "basicInfo",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn basic_info(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.get_account_basic_info(&t).await },
            )
            .await?,
    )
}

/// Set the nickname (/wxa/setnickname)
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/nickname",
    operation_id = "setNickname",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn set_nickname(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<NicknameChange>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.set_nickname(&t, input).await },
            )
            .await?,
    )
}

/// A nickname audit (/wxa/api_wxa_querynickname)
///
/// Query `audit_id`.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/nickname/audit",
    operation_id = "nicknameAudit",
    params(("appid" = String, Path, description = "The authorizer's appid."), ("audit_id" = i64, Query, description = "The nickname audit id WeChat answered.")),
    responses(ForAuthorizer)
)]
async fn nickname_audit(
    State(api): State<AppState>,
    AppId(appid): AppId,
    QueryOf(query): QueryOf<NicknameAuditQuery>,
) -> Result<Response, ApiError> {
    let query = &query;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.query_nickname(&t, query.audit_id).await
            })
            .await?,
    )
}

/// Change the avatar (/cgi-bin/account/modifyheadimage)
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/head-image",
    operation_id = "headImage",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn head_image(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<HeadImageChange>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.modify_head_image(&t, input).await
            })
            .await?,
    )
}

/// Change the introduction (/cgi-bin/account/modifysignature)
///
/// Body `{signature}`.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/signature",
    operation_id = "signature",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn signature(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<SignatureBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.modify_signature(&t, &input.signature).await
            })
            .await?,
    )
}

/// Whether search finds the mini program (/wxa/getwxasearchstatus)
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/search-status",
    operation_id = "getSearchStatus",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    responses(ForAuthorizer)
)]
async fn get_search_status(
    State(api): State<AppState>,
    AppId(appid): AppId,
) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.get_wxa_search_status(&t)
                    .await
                    .map(|status| json!({ "status": status }))
            })
            .await?,
    )
}

/// Let search find it or not (/wxa/changewxasearchstatus)
///
/// Body `{status}`: 0 visible, 1 hidden.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/search-status",
    operation_id = "setSearchStatus",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn set_search_status(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<SearchStatusBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.change_wxa_search_status(&t, input.status).await
            })
            .await?,
    )
}

/// Privacy settings (/cgi-bin/component/getprivacysetting)
///
/// Query `privacy_ver` optional.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/privacy",
    operation_id = "getPrivacy",
    params(("appid" = String, Path, description = "The authorizer's appid."), ("privacy_ver" = Option<u8>, Query, description = "1 the current version, 2 the version under development.")),
    responses(ForAuthorizer)
)]
async fn get_privacy(
    State(api): State<AppState>,
    AppId(appid): AppId,
    QueryOf(query): QueryOf<PrivacyQuery>,
) -> Result<Response, ApiError> {
    let query = &query;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.get_privacy_setting(&t, query.privacy_ver).await
            })
            .await?,
    )
}

/// Set privacy settings (/cgi-bin/component/setprivacysetting)
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/privacy",
    operation_id = "setPrivacy",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn set_privacy(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<PrivacySettingRequest>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_authorizer_token(&appid, |c, t| async move {
                c.set_privacy_setting(&t, input).await
            })
            .await?,
    )
}

/// An unlimited mini program code (/wxa/getwxacodeunlimit)
///
/// WxaCodeUnlimitRequest; the answer is the image bytes.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/wxacode",
    operation_id = "wxacode",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ImageForAuthorizer)
)]
async fn wxacode(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<WxaCodeUnlimitRequest>,
) -> Result<Response, ApiError> {
    let input = &input;
    let raw = api
        .app
        .tokens
        .with_authorizer_token(&appid, |c, t| async move {
            c.get_wxacode_unlimit(&t, input).await
        })
        .await?;
    Ok(binary(raw))
}

/// Code template drafts (/wxa/gettemplatedraftlist)
#[utoipa::path(
    get,
    path = "/templates/drafts",
    operation_id = "templateDrafts",
    responses(ForComponent)
)]
async fn template_drafts(State(api): State<AppState>) -> Result<Response, ApiError> {
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move {
                c.get_template_draft_list(&t)
                    .await
                    .map(|list| json!({ "draft_list": list }))
            })
            .await?,
    )
}

/// Turn a draft into a template (/wxa/addtotemplate)
///
/// Body `{draft_id}`.
#[utoipa::path(
    post,
    path = "/templates",
    operation_id = "addTemplate",
    request_body(content = Object, content_type = "application/json"),
    responses(ForComponent)
)]
async fn add_template(
    State(api): State<AppState>,
    JsonBody(input): JsonBody<DraftBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move {
                c.add_to_template(&t, input.draft_id, input.template_type)
                    .await
            })
            .await?,
    )
}

/// Code templates (/wxa/gettemplatelist)
///
/// Query `template_type` optional.
#[utoipa::path(
    get,
    path = "/templates",
    operation_id = "listTemplates",
    params(("template_type" = Option<u8>, Query, description = "0 ordinary templates, 1 standard ones.")),
    responses(ForComponent)
)]
async fn list_templates(
    State(api): State<AppState>,
    QueryOf(query): QueryOf<TemplateListQuery>,
) -> Result<Response, ApiError> {
    let query = &query;
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move {
                c.get_template_list(&t, query.template_type)
                    .await
                    .map(|list| json!({ "template_list": list }))
            })
            .await?,
    )
}

/// Delete a template (/wxa/deletetemplate)
#[utoipa::path(
    delete,
    path = "/templates/{template_id}",
    operation_id = "deleteTemplate",
    params(("template_id" = i64, Path, description = "The template id.")),
    responses(ForComponent)
)]
async fn delete_template(
    State(api): State<AppState>,
    Path(template_id): Path<String>,
) -> Result<Response, ApiError> {
    let template_id: i64 = template_id
        .parse()
        .map_err(|_| ApiError::invalid("template_id must be a number"))?;
    api.app
        .tokens
        .with_component_token(|c, t| async move { c.delete_template(&t, template_id).await })
        .await?;
    reply(&())
}

/// Register a company mini program (fastregisterweapp?action=create)
#[utoipa::path(
    post,
    path = "/fast-registration/enterprise",
    operation_id = "registerEnterprise",
    request_body(content = Object, content_type = "application/json"),
    responses(ForComponent)
)]
async fn register_enterprise(
    State(api): State<AppState>,
    JsonBody(input): JsonBody<OrgWeappRegistration>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move { c.fast_register_org_weapp(&t, input).await })
            .await?,
    )
}

/// The status of a company registration (fastregisterweapp?action=search)
#[utoipa::path(
    post,
    path = "/fast-registration/enterprise/query",
    operation_id = "queryEnterprise",
    request_body(content = Object, content_type = "application/json"),
    responses(ForComponent)
)]
async fn query_enterprise(
    State(api): State<AppState>,
    JsonBody(input): JsonBody<OrgWeappQuery>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move { c.query_org_weapp(&t, input).await })
            .await?,
    )
}

/// Register a personal mini program (fastregisterpersonalweapp?action=create)
#[utoipa::path(
    post,
    path = "/fast-registration/personal",
    operation_id = "registerPersonal",
    request_body(content = Object, content_type = "application/json"),
    responses(ForComponent)
)]
async fn register_personal(
    State(api): State<AppState>,
    JsonBody(input): JsonBody<PersonalWeappRegistration>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_component_token(
                |c, t| async move { c.fast_register_personal_weapp(&t, input).await },
            )
            .await?,
    )
}

/// The status of a personal registration (fastregisterpersonalweapp?action=query)
#[utoipa::path(
    get,
    path = "/fast-registration/personal/{taskid}",
    operation_id = "queryPersonal",
    params(("taskid" = String, Path, description = "The task id the registration answered.")),
    responses(ForComponent)
)]
async fn query_personal(
    State(api): State<AppState>,
    Path(taskid): Path<String>,
) -> Result<Response, ApiError> {
    let taskid = taskid.as_str();
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move { c.query_personal_weapp(&t, taskid).await })
            .await?,
    )
}

/// Create a beta mini program (fastregisterbetaweapp)
///
/// Body `{name, openid}`.
#[utoipa::path(
    post,
    path = "/fast-registration/beta",
    operation_id = "registerBeta",
    request_body(content = Object, content_type = "application/json"),
    responses(ForComponent)
)]
async fn register_beta(
    State(api): State<AppState>,
    JsonBody(input): JsonBody<BetaBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    reply(
        &api.app
            .tokens
            .with_component_token(|c, t| async move {
                c.fast_register_beta_weapp(&t, &input.name, &input.openid)
                    .await
            })
            .await?,
    )
}

/// Register a mini program by reusing the official account {appid}'s verification (account/fastregister)
///
/// Body `{ticket}`: the ticket WeChat gave the page the official account's admin confirmed on. The
/// authorization code WeChat answers with is completed at once (the new mini program's tokens are
/// stored); the answer names the new mini program and never contains the code.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/fast-registration/official-account",
    operation_id = "registerByOfficialAccount",
    params(("appid" = String, Path, description = "The authorizer's appid.")),
    request_body(content = Object, content_type = "application/json"),
    responses(ForAuthorizer)
)]
async fn register_by_official_account(
    State(api): State<AppState>,
    AppId(appid): AppId,
    JsonBody(input): JsonBody<OfficialAccountRegistrationBody>,
) -> Result<Response, ApiError> {
    let input = &input;
    let (registered, authorizer) = api
        .app
        .authorizations
        .register_by_official_account(&appid, &input.ticket)
        .await?;
    reply(&json!({
        "appid": registered.appid,
        "is_wx_verify_succ": registered.is_wx_verify_succ,
        "is_link_succ": registered.is_link_succ,
        "authorizer": AuthorizerView::from(&authorizer),
    }))
}

// ----- the passthrough ---------------------------------------------------------------------------

const PASSTHROUGH_ROUTE: &str = "/authorizers/{appid}/wechat/{*path}";

/// The passthrough's route. Its tail is one or more segments, which `routes!` cannot register
/// under the documented `{path+}`; [`passthrough_doc`] documents it.
pub(crate) fn passthrough_routes() -> axum::Router<AppState> {
    axum::Router::new().route(PASSTHROUGH_ROUTE, get(passthrough).post(passthrough))
}

/// The passthrough's operations, for the document.
pub(crate) fn passthrough_doc() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(passthrough_get_doc, passthrough_post_doc))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}

/// Any WeChat API not typed yet, with the authorizer's token
///
/// Only paths under /wxa/, /cgi-bin/wxopen/, /cgi-bin/account/, /cgi-bin/open/ and /wxaapi/ (plain
/// segments; no `..`, `//` or percent-encoding) are forwarded, others get 403 (`path_not_allowed`)
/// without a call. Paths that have a typed route keeping records (`/wxa/submit_audit`,
/// `/wxa/undocodeaudit`, `/wxa/speedupaudit`, `/wxa/release`, `/cgi-bin/account/fastregister`,
/// `/wxa/component/fastregisterbetaweapp`, `/wxa/component/fastregisterpersonalweapp`) get 403
/// (`use_typed_route`, the message names the route) without a call. The function adds the
/// authorizer token as `access_token`; the caller's `access_token` / `component_access_token`
/// query parameters are dropped. The answer is WeChat's, as JSON or bytes.
#[utoipa::path(
    get,
    path = "/authorizers/{appid}/wechat/{path+}",
    operation_id = "passthrough",
    params(
        ("appid" = String, Path, description = "The authorizer's appid."),
        ("path+" = String, Path, description = "The WeChat path, one or more segments."),
    ),
    responses(Passthrough)
)]
#[allow(dead_code)]
fn passthrough_get_doc() {}

/// Any WeChat API not typed yet, with the authorizer's token (POST)
///
/// As the GET form; the body is forwarded as it is.
#[utoipa::path(
    post,
    path = "/authorizers/{appid}/wechat/{path+}",
    operation_id = "passthroughPost",
    params(
        ("appid" = String, Path, description = "The authorizer's appid."),
        ("path+" = String, Path, description = "The WeChat path, one or more segments."),
    ),
    request_body(content = Object, content_type = "application/json"),
    responses(Passthrough)
)]
#[allow(dead_code)]
fn passthrough_post_doc() {}

/// The tail after `/wechat/` as the request spelled it: the router's parameter is
/// percent-decoded, and an encoded `/` or `.` must be refused, not read as a separator.
fn raw_tail(uri: &Uri) -> &str {
    uri.path()
        .strip_prefix("/authorizers/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(_, rest)| rest.strip_prefix("wechat/"))
        .unwrap_or_default()
}

async fn passthrough(
    State(api): State<AppState>,
    AppId(appid): AppId,
    uri: Uri,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let body = (method == Method::POST).then(|| body.to_vec());
    let raw = api
        .app
        .passthrough
        .forward(&appid, raw_tail(&uri), &query, body)
        .await
        .map_err(|e| match e {
            PassthroughError::NotAllowed | PassthroughError::UseTypedRoute { .. } => {
                let code = if matches!(e, PassthroughError::NotAllowed) {
                    "path_not_allowed"
                } else {
                    "use_typed_route"
                };
                ApiError::new(StatusCode::FORBIDDEN, code, e.to_string())
            }
            PassthroughError::Token(e) => e.into(),
        })?;
    if raw
        .content_type
        .as_deref()
        .is_some_and(|t| t.contains("json"))
        || raw.body.trim_ascii_start().first() == Some(&b'{')
    {
        let mut response = json_response(StatusCode::OK, &json!({}));
        *response.body_mut() = axum::body::Body::from(raw.body);
        return Ok(response);
    }
    Ok(binary(raw))
}
