//! The signed-in pages: each reads through the service layer (the same use cases as the API) and
//! renders a view that carries no token, refresh token, secret or auth code.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use wxcomponent::AuthorizerAppId;
use wxcomponent::service::{
    AuthorizerView, CampaignError, CampaignRequest, DirectoryError, Lang, RefreshOutcome,
};
use wxcomponent::store::campaign::AppState as CampaignAppState;
use wxcomponent::store::{AuthorizerSettings, ConsoleStore, Cursor};
use wxcomponent_http::StagePrefix;

use crate::session::{Checked, Nothing, Operator};
use crate::views::{
    self, AuditRow, AuthorizerPage, AuthorizerRow, AuthorizersPage, CampaignPage, CampaignRow,
    CampaignSummary, EventRow, FailedApp, Frame, Links, LinksPage, OverviewPage, ReleasesPage,
    RunRow, TemplateRow,
};
use crate::{AppState, Here, see_other};

/// Authorizers per page.
pub const PAGE_SIZE: usize = 20;
/// The most authorizers one search page looks through before offering the next page.
pub const SEARCH_SCAN_LIMIT: usize = 1000;
/// Recent events on the overview.
pub const RECENT_EVENTS: usize = 20;

fn unavailable(here: &Here, what: &str, error: &dyn std::error::Error) -> Response {
    tracing::error!(error = %wxcomponent::logging::error_chain(error), "{what}");
    views::message(
        here,
        StatusCode::SERVICE_UNAVAILABLE,
        here.texts().unavailable,
    )
}

fn not_found(here: &Here) -> Response {
    views::message(here, StatusCode::NOT_FOUND, here.texts().not_found)
}

// ----- overview ----------------------------------------------------------------------------------

pub(crate) async fn overview(
    State(state): State<AppState>,
    here: Here,
    Extension(operator): Extension<Operator>,
) -> Response {
    let app = &state.app;
    let context = &app.context;
    let (store, component, now) = (context.store(), context.component_appid(), context.now());
    let health = match app.directory.health().await {
        Ok(health) => health,
        Err(e) => return unavailable(&here, "could not read the health figures", &e),
    };
    let run = match store.refresher_run(component).await {
        Ok(run) => run,
        Err(e) => return unavailable(&here, "could not read the refresher's run", &e),
    };
    let events = match store.recent_events(component, RECENT_EVENTS).await {
        Ok(events) => events,
        Err(e) => return unavailable(&here, "could not read the recent events", &e),
    };
    let lang = here.lang;
    let counts = vec![
        (
            views::status_of(lang, "authorized"),
            health.authorizers.authorized,
        ),
        (
            views::status_of(lang, "reauthorization_required"),
            health.authorizers.reauthorization_required,
        ),
        (
            views::status_of(lang, "unauthorized"),
            health.authorizers.unauthorized,
        ),
    ];
    let page = OverviewPage {
        f: Frame::new(&state, &here, Some(&operator), "overview"),
        ticket_age: health
            .ticket_age_seconds
            .map(|age| views::span_of(lang, age)),
        healthy: health.status == "ok",
        component_token: health
            .component_token_expires_at
            .map(|at| views::expiry_of(lang, at, now)),
        counts,
        run: run.map(|run| RunRow {
            finished: views::time_of(run.finished_at),
            due: run.due,
            refreshed: run.refreshed,
            failed: run.failed,
            failed_by_errcode: run.failed_by_errcode.into_iter().collect(),
            stopped_early: run.stopped_early,
        }),
        events: events
            .into_iter()
            .map(|e| EventRow {
                when: views::time_of(e.occurred_at),
                detail_type: e.detail_type,
                appid: e.authorizer.map(|a| a.to_string()),
            })
            .collect(),
    };
    views::page(StatusCode::OK, &page)
}

// ----- authorizers -------------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: Option<String>,
}

fn display_name(view: &AuthorizerView) -> String {
    view.account
        .as_ref()
        .map(|a| a.nick_name.trim())
        .filter(|n| !n.is_empty())
        .map_or_else(|| view.appid.to_string(), str::to_owned)
}

pub(crate) async fn authorizers(
    State(state): State<AppState>,
    here: Here,
    Extension(operator): Extension<Operator>,
    Query(query): Query<ListQuery>,
) -> Response {
    let needle = query.q.trim().to_owned();
    let cursor = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(Cursor::from_string);
    let listed = if needle.is_empty() {
        state
            .app
            .directory
            .list_authorizers(PAGE_SIZE, cursor.as_ref())
            .await
            .map(|page| (page.items, page.next_cursor, None))
    } else {
        state
            .app
            .directory
            .search_authorizers(&needle, PAGE_SIZE, SEARCH_SCAN_LIMIT, cursor.as_ref())
            .await
            .map(|found| (found.items, found.next_cursor, Some(found.scanned)))
    };
    let (found, next, scanned) = match listed {
        Ok(listed) => listed,
        Err(DirectoryError::InvalidCursor) => {
            return views::message(&here, StatusCode::BAD_REQUEST, here.texts().invalid_input);
        }
        Err(e) => return unavailable(&here, "could not list the authorizers", &e),
    };
    let lang = here.lang;
    let now = state.app.context.now();
    let mut versions = VersionCache::default();
    let mut rows = Vec::with_capacity(found.len());
    for view in &found {
        let kind = view.account.as_ref().map_or("", |a| a.kind);
        let audit = if kind == "mini_program" {
            match state.app.audits.audit_state(&view.appid).await {
                Ok(Some(audit)) => {
                    let version = match versions.of(&state, audit.campaign.as_ref()).await {
                        Ok(version) => version,
                        Err(e) => return unavailable(&here, "could not read a campaign", &e),
                    };
                    format!(
                        "{}{} #{}",
                        version.map(|v| format!("{v} · ")).unwrap_or_default(),
                        views::audit_status_of(lang, audit.status.as_str()),
                        audit.audit_id
                    )
                }
                Ok(None) => "-".to_owned(),
                Err(e) => return unavailable(&here, "could not read an audit", &e),
            }
        } else {
            String::new()
        };
        rows.push(AuthorizerRow {
            appid: view.appid.to_string(),
            name: display_name(view),
            kind: views::kind_of(lang, kind),
            status: views::status_of(lang, view.status),
            needs_reauthorization: view.status == "reauthorization_required",
            token_expiry: views::expiry_of(lang, view.access_token_expires_at, now),
            audit,
        });
    }
    let next = next.map(|cursor| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !needle.is_empty() {
            query.append_pair("q", &needle);
        }
        query.append_pair("cursor", &cursor);
        query.finish()
    });
    let page = AuthorizersPage {
        f: Frame::new(&state, &here, Some(&operator), "authorizers"),
        query: needle.clone(),
        rows,
        scanned,
        next,
    };
    views::page(StatusCode::OK, &page)
}

/// The version each release campaign takes to its apps, read once per page: the version of an
/// audit is its campaign's (an audit submitted through the API names none).
#[derive(Default)]
struct VersionCache {
    known: std::collections::HashMap<String, Option<String>>,
}

impl VersionCache {
    async fn of(
        &mut self,
        state: &AppState,
        campaign: Option<&wxcomponent::store::campaign::CampaignId>,
    ) -> Result<Option<String>, CampaignError> {
        let Some(id) = campaign.map(ToString::to_string) else {
            return Ok(None);
        };
        if let Some(version) = self.known.get(&id) {
            return Ok(version.clone());
        }
        let version = match state.campaigns.get(&id).await {
            Ok(view) => Some(view.user_version),
            Err(CampaignError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        self.known.insert(id, version.clone());
        Ok(version)
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct DetailQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    errcode: Option<i64>,
}

fn parse_appid(appid: &str) -> Option<AuthorizerAppId> {
    AuthorizerAppId::parse(appid).ok()
}

pub(crate) async fn authorizer(
    State(state): State<AppState>,
    here: Here,
    Extension(operator): Extension<Operator>,
    Path(appid): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Response {
    let Some(appid) = parse_appid(&appid) else {
        return not_found(&here);
    };
    let t = here.texts();
    let notice = match query.notice.as_deref() {
        Some("refreshed") => Some(t.refresh_done.to_owned()),
        Some("not_due") => Some(t.refresh_not_due.to_owned()),
        Some("busy") => Some(t.refresh_busy.to_owned()),
        Some("reauthorize") => Some(t.reauthorize_needed.to_owned()),
        Some("saved") => Some(t.saved.to_owned()),
        _ => None,
    };
    let error = match query.notice.as_deref() {
        Some("failed") => Some(match query.errcode {
            Some(code) => format!("{} ({} {code})", t.refresh_failed, t.errcode),
            None => t.refresh_failed.to_owned(),
        }),
        _ => None,
    };
    detail(
        &state,
        &here,
        &operator,
        &appid,
        notice,
        error,
        None,
        StatusCode::OK,
    )
    .await
}

/// The detail page of `appid`, with a notice or an error, and the settings text as given (after
/// a refused edit) or as stored.
#[allow(clippy::too_many_arguments)]
async fn detail(
    state: &AppState,
    here: &Here,
    operator: &Operator,
    appid: &AuthorizerAppId,
    notice: Option<String>,
    error: Option<String>,
    settings_text: Option<String>,
    status: StatusCode,
) -> Response {
    let app = &state.app;
    let view = match app.directory.authorizer_view(appid).await {
        Ok(view) => view,
        Err(DirectoryError::NotFound { .. }) => return not_found(here),
        Err(e) => return unavailable(here, "could not read the authorizer", &e),
    };
    let settings = match settings_text {
        Some(text) => text,
        None => match app.directory.settings(appid).await {
            Ok(settings) => serde_json::to_string_pretty(&settings).unwrap_or_default(),
            Err(e) => return unavailable(here, "could not read the settings", &e),
        },
    };
    let lang = here.lang;
    let t = here.texts();
    let now = app.context.now();
    let kind = view.account.as_ref().map_or("", |a| a.kind);
    let (audit, withdrawals) = if kind == "mini_program" {
        let audit = match app.audits.audit_state(appid).await {
            Ok(audit) => audit,
            Err(e) => return unavailable(here, "could not read the audit", &e),
        };
        let withdrawals = match app.audits.withdrawals(appid).await {
            Ok(count) => {
                let w = wxcomponent::service::WithdrawalsView::from(count);
                Some(format!(
                    "{}/{} · {}/{}",
                    w.today, w.today_limit, w.this_month, w.month_limit
                ))
            }
            Err(e) => return unavailable(here, "could not read the withdrawals", &e),
        };
        let version = match &audit {
            Some(a) => match VersionCache::default().of(state, a.campaign.as_ref()).await {
                Ok(version) => version,
                Err(e) => return unavailable(here, "could not read a campaign", &e),
            },
            None => None,
        };
        let audit = audit.map(|a| AuditRow {
            version: version.unwrap_or_else(|| "-".to_owned()),
            id: a.audit_id,
            status: views::audit_status_of(lang, a.status.as_str()),
            reason: a.reason.clone().unwrap_or_default(),
            submitted: views::time_of(a.submitted_at),
            updated: views::time_of(a.updated_at),
        });
        (audit, withdrawals)
    } else {
        (None, None)
    };
    let profile = view
        .account
        .as_ref()
        .map(|a| {
            vec![
                (t.principal, a.principal_name.clone()),
                ("user_name", a.user_name.clone()),
                (t.service_type, a.service_type.to_string()),
                (t.verify_type, a.verify_type.to_string()),
            ]
        })
        .unwrap_or_default();
    let mut f = Frame::new(state, here, Some(operator), "authorizers");
    f.notice = notice;
    f.error = error;
    let page = AuthorizerPage {
        f,
        appid: view.appid.to_string(),
        name: display_name(&view),
        kind: views::kind_of(lang, kind),
        status: views::status_of(lang, view.status),
        needs_reauthorization: view.status == "reauthorization_required",
        profile,
        authorized_at: views::time_of(view.authorized_at),
        updated_at: views::time_of(view.updated_at),
        token_expiry: views::expiry_of(lang, view.access_token_expires_at, now),
        func_info: view.func_info.clone(),
        audit,
        withdrawals,
        settings,
    };
    views::page(status, &page)
}

#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    settings: String,
}

pub(crate) async fn put_settings(
    State(state): State<AppState>,
    here: Here,
    Path(appid): Path<String>,
    Checked(operator, form): Checked<SettingsForm>,
) -> Response {
    let Some(appid) = parse_appid(&appid) else {
        return not_found(&here);
    };
    let text = if form.settings.trim().is_empty() {
        "{}".to_owned()
    } else {
        form.settings
    };
    let parsed = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
        .map_err(|e| e.to_string())
        .and_then(|map| AuthorizerSettings::new(map).map_err(|e| e.to_string()));
    let settings = match parsed {
        Ok(settings) => settings,
        Err(reason) => {
            let error = format!("{}{reason}", here.texts().invalid_input);
            return detail(
                &state,
                &here,
                &operator,
                &appid,
                None,
                Some(error),
                Some(text),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    match state.app.directory.put_settings(&appid, &settings).await {
        Ok(()) => see_other(&format!("{}authorizers/{appid}?notice=saved", here.root)),
        Err(DirectoryError::NotFound { .. }) => not_found(&here),
        Err(e) => unavailable(&here, "could not store the settings", &e),
    }
}

/// `POST .../refresh`: refreshes the authorizer token now, whatever its expiry.
pub(crate) async fn refresh_now(
    State(state): State<AppState>,
    here: Here,
    Path(appid): Path<String>,
    Checked(_, Nothing {}): Checked<Nothing>,
) -> Response {
    let Some(appid) = parse_appid(&appid) else {
        return not_found(&here);
    };
    // Due by a day from now: every token (they live two hours) is due.
    let due_by = state.app.context.now() + 86_400;
    let outcome = Box::pin(
        state
            .app
            .tokens
            .refresh_authorizer_token_if_due(&appid, due_by),
    )
    .await;
    let notice = match outcome {
        RefreshOutcome::Refreshed { .. } => "refreshed".to_owned(),
        RefreshOutcome::NotDue => "not_due".to_owned(),
        RefreshOutcome::Busy => "busy".to_owned(),
        RefreshOutcome::ReauthorizationRequired => "reauthorize".to_owned(),
        RefreshOutcome::NotFound => return not_found(&here),
        RefreshOutcome::Unauthorized => "failed&errcode=61003".to_owned(),
        RefreshOutcome::Failed {
            errcode: Some(code),
        } => format!("failed&errcode={code}"),
        RefreshOutcome::Failed { errcode: None } => "failed".to_owned(),
    };
    see_other(&format!("{}authorizers/{appid}?notice={notice}", here.root))
}

// ----- authorization links -----------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct LinksQuery {
    #[serde(default)]
    auth_type: Option<u8>,
    #[serde(default)]
    biz_appid: String,
    #[serde(default)]
    create: Option<String>,
}

/// The merchants' launch page as this request reached the console: same origin and prefix.
fn derived_launch_url(headers: &HeaderMap, prefix: &str) -> Option<url::Url> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map_or("https", str::trim);
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        "https"
    };
    url::Url::parse(&format!("{scheme}://{host}{prefix}/auth")).ok()
}

/// The launch page's URL for `device`, restricted as asked.
fn launch_link(base: &url::Url, auth_type: u8, biz_appid: Option<&str>, device: &str) -> String {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("auth_type", &auth_type.to_string());
        if let Some(biz) = biz_appid {
            query.append_pair("biz_appid", biz);
        }
        query.append_pair("device", device);
    }
    url.to_string()
}

fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(224, 224)
            .quiet_zone(true)
            .build(),
    )
}

pub(crate) async fn links(
    State(state): State<AppState>,
    here: Here,
    Extension(operator): Extension<Operator>,
    prefix: Option<Extension<StagePrefix>>,
    headers: HeaderMap,
    Query(query): Query<LinksQuery>,
) -> Response {
    let t = here.texts();
    let auth_type = query.auth_type.filter(|a| (1..=3).contains(a)).unwrap_or(3);
    let biz = query.biz_appid.trim().to_owned();
    let mut f = Frame::new(&state, &here, Some(&operator), "links");
    let mut links = None;
    let mut derived = false;
    if query.create.is_some() {
        let biz_appid = if biz.is_empty() {
            Ok(None)
        } else {
            AuthorizerAppId::parse(biz.as_str()).map(Some)
        };
        let base = match &state.settings.launch_url {
            Some(url) => Some(url.clone()),
            None => {
                derived = true;
                derived_launch_url(&headers, prefix.as_ref().map_or("", |p| p.0.0.as_str()))
            }
        };
        match (biz_appid, base) {
            (Err(_), _) => f.error = Some(format!("{}{}", t.invalid_input, t.biz_appid)),
            (Ok(_), None) => f.error = Some(t.unavailable.to_owned()),
            (Ok(biz_appid), Some(base)) => {
                let biz_appid = biz_appid.as_ref().map(AuthorizerAppId::as_str);
                let pc = launch_link(&base, auth_type, biz_appid, "pc");
                let mobile = launch_link(&base, auth_type, biz_appid, "mobile");
                links = qr_svg(&mobile).map(|qr_svg| Links { pc, mobile, qr_svg });
            }
        }
    }
    let page = LinksPage {
        f,
        auth_type,
        biz_appid: biz,
        links,
        derived,
    };
    views::page(StatusCode::OK, &page)
}

// ----- releases ----------------------------------------------------------------------------------

fn progress_of(lang: Lang, view: &wxcomponent::service::CampaignView) -> String {
    let count = |state: &str| view.counts.get(state).copied().unwrap_or(0);
    let released = count("released") + count("approved");
    let failed = count("failed") + count("needs_merchant");
    match lang {
        Lang::Zh => format!("{released}/{} 完成，{failed} 失败", view.total),
        Lang::En => format!("{released}/{} done, {failed} failed", view.total),
    }
}

pub(crate) async fn releases(
    State(state): State<AppState>,
    here: Here,
    Extension(operator): Extension<Operator>,
) -> Response {
    let lang = here.lang;
    let listed = Box::pin(
        state
            .app
            .tokens
            .with_component_token(|client, token| async move {
                client.get_template_list(&token, None).await
            }),
    )
    .await;
    let templates = match listed {
        Ok(list) => Some(
            list.into_iter()
                .map(|tpl| TemplateRow {
                    id: tpl.template_id,
                    version: tpl.user_version,
                    desc: tpl.user_desc,
                    created: views::time_of(tpl.create_time),
                })
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(error = %wxcomponent::logging::error_chain(&e), "the template list is unavailable");
            None
        }
    };
    let campaigns = match state.campaigns.list(PAGE_SIZE, None).await {
        Ok(page) => page.items,
        Err(e) => return unavailable(&here, "could not list the campaigns", &e),
    };
    let page = ReleasesPage {
        f: Frame::new(&state, &here, Some(&operator), "releases"),
        templates,
        campaigns: campaigns
            .iter()
            .map(|c| CampaignRow {
                id: c.id.to_string(),
                version: c.user_version.clone(),
                state: views::campaign_state_of(lang, c.state.as_str()),
                progress: progress_of(lang, c),
                created: views::time_of(c.created_at),
            })
            .collect(),
    };
    views::page(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub(crate) struct CampaignForm {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    user_version: String,
    #[serde(default)]
    user_desc: String,
    #[serde(default)]
    appids: String,
    #[serde(default)]
    ext_json: String,
    #[serde(default)]
    release: String,
}

impl CampaignForm {
    /// The API's request for the same campaign.
    fn request(self) -> Result<CampaignRequest, String> {
        let ext_json: serde_json::Value = if self.ext_json.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&self.ext_json).map_err(|e| format!("ext.json: {e}"))?
        };
        let appids: Vec<&str> = self
            .appids
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|a| !a.is_empty())
            .collect();
        let mut body = serde_json::json!({
            "template_id": self.template_id.trim(),
            "user_version": self.user_version.trim(),
            "user_desc": self.user_desc.trim(),
            "ext_json": ext_json,
            "release": if self.release == "manual" { "manual" } else { "auto" },
        });
        if !appids.is_empty() {
            body["appids"] = serde_json::json!(appids);
        }
        serde_json::from_value(body).map_err(|e| e.to_string())
    }
}

fn campaign_error(here: &Here, error: &CampaignError) -> Response {
    let t = here.texts();
    match error {
        CampaignError::NotFound { .. } => not_found(here),
        CampaignError::Invalid(_) | CampaignError::EmptyCohort => views::message(
            here,
            StatusCode::BAD_REQUEST,
            &format!("{}{error}", t.invalid_input),
        ),
        CampaignError::WrongState { .. } => {
            views::message(here, StatusCode::CONFLICT, &error.to_string())
        }
        CampaignError::Store(_) => unavailable(here, "a campaign operation failed", error),
    }
}

pub(crate) async fn start_campaign(
    State(state): State<AppState>,
    here: Here,
    Checked(_, form): Checked<CampaignForm>,
) -> Response {
    let request = match form.request() {
        Ok(request) => request,
        Err(reason) => {
            return views::message(
                &here,
                StatusCode::BAD_REQUEST,
                &format!("{}{reason}", here.texts().invalid_input),
            );
        }
    };
    match Box::pin(state.campaigns.create(request)).await {
        Ok(view) => see_other(&format!("{}campaigns/{}", here.root, view.id)),
        Err(e) => campaign_error(&here, &e),
    }
}

pub(crate) async fn campaign(
    State(state): State<AppState>,
    here: Here,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
) -> Response {
    let lang = here.lang;
    let t = here.texts();
    let view = match state.campaigns.get(&id).await {
        Ok(view) => view,
        Err(e) => return campaign_error(&here, &e),
    };
    let mut failed = Vec::new();
    for app_state in [CampaignAppState::Failed, CampaignAppState::NeedsMerchant] {
        match state.campaigns.apps(&id, Some(app_state), 100, None).await {
            Ok(page) => failed.extend(page.items.into_iter().map(|app| FailedApp {
                appid: app.appid.to_string(),
                state: views::campaign_state_of(lang, app.state.as_str()),
                errcode: app.errcode.map(|c| c.to_string()).unwrap_or_default(),
                hint: app.hint.unwrap_or_default(),
            })),
            Err(e) => return campaign_error(&here, &e),
        }
    }
    let state_code = view.state.as_str();
    let mut actions = Vec::new();
    match state_code {
        "running" => actions.extend([("pause", t.pause), ("cancel", t.cancel)]),
        "paused" | "halted" => actions.extend([("resume", t.resume), ("cancel", t.cancel)]),
        _ => {}
    }
    if state_code != "cancelled" && !failed.is_empty() {
        actions.push(("retry", t.retry));
    }
    let counts = CampaignAppState::ALL
        .into_iter()
        .map(|s| {
            (
                views::campaign_state_of(lang, s.as_str()),
                view.counts.get(s.as_str()).copied().unwrap_or(0),
                s.as_str(),
            )
        })
        .collect();
    let page = CampaignPage {
        f: Frame::new(&state, &here, Some(&operator), "releases"),
        c: CampaignSummary {
            id: view.id.to_string(),
            state: views::campaign_state_of(lang, state_code),
            state_code: state_code.to_owned(),
            reason: view.reason.clone(),
            version: view.user_version.clone(),
            template_id: view.template_id.clone(),
            total: view.total,
        },
        counts,
        actions,
        failed,
    };
    views::page(StatusCode::OK, &page)
}

pub(crate) async fn campaign_action(
    State(state): State<AppState>,
    here: Here,
    Path((id, action)): Path<(String, String)>,
    Checked(_, Nothing {}): Checked<Nothing>,
) -> Response {
    let campaigns = &state.campaigns;
    let done = match action.as_str() {
        "pause" => campaigns.pause(&id).await.map(|_| ()),
        "resume" => campaigns.resume(&id).await.map(|_| ()),
        "cancel" => campaigns.cancel(&id).await.map(|_| ()),
        "retry" => campaigns.retry_failed(&id).await.map(|_| ()),
        _ => return not_found(&here),
    };
    match done {
        Ok(()) => see_other(&format!("{}campaigns/{id}", here.root)),
        Err(e) => campaign_error(&here, &e),
    }
}
