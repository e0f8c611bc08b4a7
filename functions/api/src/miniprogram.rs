//! The routes acting for one mini program (`/authorizers/{appid}/...`, with its authorizer
//! token), the component's code templates and fast registration (with the component token), and
//! the guarded passthrough to WeChat APIs not typed yet. Each handler parses its input (a 400 on a
//! bad one, before any WeChat call), calls one typed client method through the token service, and
//! answers WeChat's result as JSON (images as their bytes).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wxcomponent::service::{AuditView, AuthorizerView, TokenError};
use wxcomponent::store::Store;
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

use wxcomponent::service::passthrough::{
    PASSTHROUGH_PREFIXES, TOKEN_PARAMS, passthrough_path, typed_route_for,
};

use super::{Api, ApiError, Params, Reply, json_response, ok, query, query_value};

// ----- inputs ------------------------------------------------------------------------------------

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

/// The JSON body as `T`.
fn body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    serde_json::from_slice(request.body().as_ref())
        .map_err(|e| invalid(format!("the body is not a valid request: {e}")))
}

/// The JSON body as `T`, or `T::default()` when there is none.
fn body_or_default<T: DeserializeOwned + Default>(request: &Request) -> Result<T, ApiError> {
    if request.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        body(request)
    }
}

fn no_input(_: &Request) -> Result<(), ApiError> {
    Ok(())
}

/// An optional numeric query parameter.
fn query_number<T: std::str::FromStr>(
    request: &Request,
    name: &str,
) -> Result<Option<T>, ApiError> {
    let query = query(request);
    query_value(&query, name)
        .map(|v| {
            v.parse()
                .map_err(|_| invalid(format!("{name} must be a number")))
        })
        .transpose()
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| invalid(format!("{name} is required")))
}

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

// ----- outputs -----------------------------------------------------------------------------------

/// A result as JSON; a bare acknowledgement (`()`) is `{}`.
fn reply(value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Null) => ok(&json!({})),
        Ok(value) => ok(&value),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )),
    }
}

/// Bytes from WeChat with their content type.
fn binary(raw: RawResponse) -> Response<Body> {
    let mut response = Response::new(Body::from(raw.body));
    let content_type = raw
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ----- handlers ----------------------------------------------------------------------------------

/// A handler that parses its input with `$parse`, then runs `$call` (a future of
/// `Result<T: Serialize, WechatError>`) with the authorizer's token and answers `T` as JSON.
macro_rules! authorizer_json {
    ($name:ident, $input:ident = $parse:expr, |$client:ident, $token:ident| $call:expr) => {
        pub(crate) fn $name<'a, S: Store + 'static>(
            api: &'a Api<S>,
            request: &'a Request,
            params: Params,
        ) -> Reply<'a> {
            Box::pin(async move {
                let appid = params.appid()?;
                let $input = ($parse)(request)?;
                let $input = &$input;
                let value = api
                    .service
                    .with_authorizer_token(&appid, |$client, token| async move {
                        let $token = &token;
                        $call.await
                    })
                    .await?;
                reply(&value)
            })
        }
    };
}

/// As [`authorizer_json`], with the component token.
macro_rules! component_json {
    ($name:ident, $input:ident = $parse:expr, |$client:ident, $token:ident| $call:expr) => {
        pub(crate) fn $name<'a, S: Store + 'static>(
            api: &'a Api<S>,
            request: &'a Request,
            params: Params,
        ) -> Reply<'a> {
            Box::pin(async move {
                let _ = &params;
                let $input = ($parse)(request)?;
                let $input = &$input;
                let value = api
                    .service
                    .with_component_token(|$client, token| async move {
                        let $token = &token;
                        $call.await
                    })
                    .await?;
                reply(&value)
            })
        }
    };
}

// Code.
authorizer_json!(commit_code, input = body::<CommitRequest>, |c, t| c
    .commit_code(t, input));
authorizer_json!(code_pages, _input = no_input, |c, t| async move {
    c.get_code_page(t)
        .await
        .map(|pages| json!({ "page_list": pages }))
});
authorizer_json!(audit_quota, _input = no_input, |c, t| c.query_quota(t));
authorizer_json!(release, _input = no_input, |c, t| c.release(t));
authorizer_json!(
    revert_release,
    input = body_or_default::<RevertBody>,
    |c, t| c.revert_code_release(t, input.app_version)
);
authorizer_json!(gray_release, input = body::<GrayReleaseRequest>, |c, t| c
    .gray_release(t, input));
authorizer_json!(gray_release_plan, _input = no_input, |c, t| c
    .get_gray_release_plan(t));
authorizer_json!(revert_gray_release, _input = no_input, |c, t| c
    .revert_gray_release(t));
authorizer_json!(visit_status, input = body::<VisitBody>, |c, t| c
    .change_visit_status(t, input.action));
authorizer_json!(get_support_version, _input = no_input, |c, t| c
    .get_weapp_support_version(t));
authorizer_json!(set_support_version, input = body::<VersionBody>, |c, t| c
    .set_weapp_support_version(t, &input.version));
// Domains.
authorizer_json!(
    modify_domains,
    input = body::<ServerDomainsChange>,
    |c, t| c.modify_domain(t, input)
);
authorizer_json!(webview_domains, input = body::<WebviewBody>, |c, t| c
    .set_webview_domain(t, input.action, &input.webviewdomain));
// Testers.
authorizer_json!(
    bind_tester,
    input = body::<WechatIdBody>,
    |c, t| async move {
        c.bind_tester(t, &input.wechatid)
            .await
            .map(|userstr| json!({ "userstr": userstr }))
    }
);
authorizer_json!(unbind_tester, input = body::<TesterRef>, |c, t| c
    .unbind_tester(t, input));
authorizer_json!(list_testers, _input = no_input, |c, t| async move {
    c.get_testers(t)
        .await
        .map(|userstrs| json!({ "members": userstrs.into_iter().map(|u| json!({"userstr": u})).collect::<Vec<_>>() }))
});
// Categories.
authorizer_json!(get_categories, _input = no_input, |c, t| c.get_category(t));
authorizer_json!(add_categories, input = body::<CategoriesBody>, |c, t| c
    .add_category(t, &input.categories));
authorizer_json!(
    delete_category,
    input = |r: &Request| Ok::<_, ApiError>((
        required(query_number::<i64>(r, "first")?, "first")?,
        required(query_number::<i64>(r, "second")?, "second")?
    )),
    |c, t| c.delete_category(t, input.0, input.1)
);
// Basic information.
authorizer_json!(basic_info, _input = no_input, |c, t| c
    .get_account_basic_info(t));
authorizer_json!(set_nickname, input = body::<NicknameChange>, |c, t| c
    .set_nickname(t, input));
authorizer_json!(
    nickname_audit,
    audit_id = |r: &Request| required(query_number::<i64>(r, "audit_id")?, "audit_id"),
    |c, t| c.query_nickname(t, *audit_id)
);
authorizer_json!(head_image, input = body::<HeadImageChange>, |c, t| c
    .modify_head_image(t, input));
authorizer_json!(signature, input = body::<SignatureBody>, |c, t| c
    .modify_signature(t, &input.signature));
authorizer_json!(get_search_status, _input = no_input, |c, t| async move {
    c.get_wxa_search_status(t)
        .await
        .map(|status| json!({ "status": status }))
});
authorizer_json!(
    set_search_status,
    input = body::<SearchStatusBody>,
    |c, t| c.change_wxa_search_status(t, input.status)
);
// Privacy.
authorizer_json!(
    get_privacy,
    privacy_ver = |r: &Request| query_number::<u8>(r, "privacy_ver"),
    |c, t| c.get_privacy_setting(t, *privacy_ver)
);
authorizer_json!(
    set_privacy,
    input = body::<PrivacySettingRequest>,
    |c, t| c.set_privacy_setting(t, input)
);
// Templates (component token).
component_json!(template_drafts, _input = no_input, |c, t| async move {
    c.get_template_draft_list(t)
        .await
        .map(|list| json!({ "draft_list": list }))
});
component_json!(add_template, input = body::<DraftBody>, |c, t| c
    .add_to_template(t, input.draft_id, input.template_type));
component_json!(
    list_templates,
    template_type = |r: &Request| query_number::<u8>(r, "template_type"),
    |c, t| async move {
        c.get_template_list(t, *template_type)
            .await
            .map(|list| json!({ "template_list": list }))
    }
);
// Fast registration (component token).
component_json!(
    register_enterprise,
    input = body::<OrgWeappRegistration>,
    |c, t| c.fast_register_org_weapp(t, input)
);
component_json!(query_enterprise, input = body::<OrgWeappQuery>, |c, t| c
    .query_org_weapp(t, input));
component_json!(
    register_personal,
    input = body::<PersonalWeappRegistration>,
    |c, t| c.fast_register_personal_weapp(t, input)
);
component_json!(register_beta, input = body::<BetaBody>, |c, t| c
    .fast_register_beta_weapp(t, &input.name, &input.openid));

pub(crate) fn query_personal<'a, S: Store + 'static>(
    api: &'a Api<S>,
    _: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let taskid = params.get("taskid");
        let task = api
            .service
            .with_component_token(|c, t| async move { c.query_personal_weapp(&t, taskid).await })
            .await?;
        reply(&task)
    })
}

pub(crate) fn delete_template<'a, S: Store + 'static>(
    api: &'a Api<S>,
    _: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let template_id: i64 = params
            .get("template_id")
            .parse()
            .map_err(|_| invalid("template_id must be a number"))?;
        api.service
            .with_component_token(|c, t| async move { c.delete_template(&t, template_id).await })
            .await?;
        ok(&json!({}))
    })
}

pub(crate) fn trial_qrcode<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let query = query(request);
        let path = query_value(&query, "path");
        let raw = api
            .service
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.get_trial_qrcode(&t, path).await },
            )
            .await?;
        Ok(binary(raw))
    })
}

pub(crate) fn wxacode<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let input: WxaCodeUnlimitRequest = body(request)?;
        let input = &input;
        let raw = api
            .service
            .with_authorizer_token(&appid, |c, t| async move {
                c.get_wxacode_unlimit(&t, input).await
            })
            .await?;
        Ok(binary(raw))
    })
}

/// The body of `POST /authorizers/{appid}/fast-registration/official-account`: the ticket WeChat
/// handed to the page the official account's admin confirmed on.
#[derive(Deserialize)]
struct OfficialAccountRegistrationBody {
    ticket: wxcomponent::Secret,
}

/// Registers a mini program by reusing the official account `{appid}`'s verification.
/// WeChat answers with an authorization code for the new mini program: it is completed here like any
/// authorization (its tokens stored), never handed to the caller.
pub(crate) fn register_by_official_account<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let input: OfficialAccountRegistrationBody = body(request)?;
        let ticket = &input.ticket;
        let registered = api
            .service
            .with_authorizer_token(&appid, |c, t| async move {
                c.fast_register_by_official_account(&t, ticket).await
            })
            .await?;
        let authorizer = api
            .service
            .complete_authorization(&registered.authorization_code)
            .await?;
        reply(&json!({
            "appid": registered.appid,
            "is_wx_verify_succ": registered.is_wx_verify_succ,
            "is_link_succ": registered.is_link_succ,
            "authorizer": AuthorizerView::from(&authorizer),
        }))
    })
}

// ----- the audit lifecycle -----------------------------------------------------------------------

pub(crate) fn submit_audit<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let input: SubmitAuditBody = body(request)?;
        let state = api
            .service
            .submit_audit(&appid, &input.request, input.auto_release)
            .await?;
        ok(&json!({ "auditid": state.audit_id, "audit": AuditView::from(&state) }))
    })
}

/// The stored audit merged with WeChat's latest status (`wechat` is null if WeChat failed).
pub(crate) fn audit_status<'a, S: Store + 'static>(
    api: &'a Api<S>,
    _: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let stored = api.service.audit_state(&appid).await?;
        let latest = match api
            .service
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.get_latest_audit_status(&t).await },
            )
            .await
        {
            Ok(latest) => serde_json::to_value(latest).unwrap_or(Value::Null),
            Err(e @ TokenError::Wechat(_)) => {
                tracing::warn!(errcode = e.errcode(), "latest audit status unavailable");
                Value::Null
            }
            Err(e) => return Err(e.into()),
        };
        ok(&json!({
            "audit": stored.as_ref().map(AuditView::from),
            "wechat": latest,
        }))
    })
}

pub(crate) fn undo_audit<'a, S: Store + 'static>(
    api: &'a Api<S>,
    _: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        api.service
            .with_authorizer_token(&appid, |c, t| async move { c.undo_code_audit(&t).await })
            .await?;
        api.service.audit_withdrawn(&appid).await?;
        ok(&json!({}))
    })
}

/// Expedites `auditid`, or the stored audit without one.
pub(crate) fn speedup_audit<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let input: SpeedupBody = body_or_default(request)?;
        let auditid = match input.auditid {
            Some(id) => id,
            None => api
                .service
                .audit_state(&appid)
                .await?
                .and_then(|s| i64::try_from(s.audit_id).ok())
                .ok_or_else(|| invalid("auditid is required: no audit is stored"))?,
        };
        api.service
            .with_authorizer_token(
                &appid,
                |c, t| async move { c.speedup_audit(&t, auditid).await },
            )
            .await?;
        ok(&json!({}))
    })
}

// ----- the passthrough ---------------------------------------------------------------------------

pub(crate) fn passthrough<'a, S: Store + 'static>(
    api: &'a Api<S>,
    request: &'a Request,
    params: Params,
) -> Reply<'a> {
    Box::pin(async move {
        let appid = params.appid()?;
        let path = passthrough_path(params.get("path")).ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "path_not_allowed",
                format!(
                    "only plain paths under {} are forwarded",
                    PASSTHROUGH_PREFIXES.join(", ")
                ),
            )
        })?;
        // Refused before any token is fetched: nothing is called and nothing is written.
        if let Some(route) = typed_route_for(&path) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "use_typed_route",
                format!(
                    "{path} is not forwarded: use {}, which keeps this product's records in step with it",
                    route.replace("{appid}", appid.as_str())
                ),
            ));
        }
        let forwarded: Vec<(String, String)> = query(request)
            .into_iter()
            .filter(|(name, _)| {
                !TOKEN_PARAMS
                    .iter()
                    .any(|t| name.trim().eq_ignore_ascii_case(t))
            })
            .collect();
        let forwarded: Vec<(&str, &str)> = forwarded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let forwarded = &forwarded;
        let body = (request.method() == lambda_http::http::Method::POST)
            .then(|| request.body().as_ref().to_vec());
        let body = &body;
        let path = path.as_str();
        let raw = api
            .service
            .with_authorizer_token(&appid, |c, t| async move {
                c.call_raw_path(path, &t, forwarded, body.clone()).await
            })
            .await?;
        if raw
            .content_type
            .as_deref()
            .is_some_and(|t| t.contains("json"))
            || raw.body.trim_ascii_start().first() == Some(&b'{')
        {
            let mut response = json_response(StatusCode::OK, &json!({}));
            *response.body_mut() = Body::from(raw.body);
            return Ok(response);
        }
        Ok(binary(raw))
    })
}
