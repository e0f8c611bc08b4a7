//! The pages' templates and the values they show, formatted for reading: times in Beijing time,
//! statuses in words. The values come from views that carry no token, refresh token, secret or
//! auth code.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use time::{OffsetDateTime, UtcOffset};
use wxcomponent::service::Lang;

use crate::session::Operator;
use crate::texts::Texts;
use crate::{AppState, Here, html};

/// What the frame around every page shows.
pub(crate) struct Frame<'a> {
    pub(crate) lang: Lang,
    pub(crate) t: &'static Texts,
    pub(crate) brand: Option<&'a str>,
    pub(crate) root: &'a str,
    /// The session's CSRF token; `None` on the sign-in form (no navigation either).
    pub(crate) csrf: Option<&'a str>,
    pub(crate) nav: &'static str,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

impl<'a> Frame<'a> {
    pub(crate) fn new(
        state: &'a AppState,
        here: &'a Here,
        operator: Option<&'a Operator>,
        nav: &'static str,
    ) -> Self {
        Self {
            lang: here.lang,
            t: here.texts(),
            brand: state.settings.brand.as_deref(),
            root: &here.root,
            csrf: operator.map(|o| o.csrf.as_str()),
            nav,
            notice: None,
            error: None,
        }
    }
}

/// Renders a page; a template that fails to render (it cannot, with these types) is a plain 500.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            html(StatusCode::INTERNAL_SERVER_ERROR, String::new())
        }
    }
}

#[derive(Template)]
#[template(path = "console/signin.html")]
struct SignInPage<'a> {
    f: Frame<'a>,
    token: &'a str,
}

pub(crate) fn sign_in(state: &AppState, here: &Here, token: &str, notice: Option<&str>) -> String {
    let mut f = Frame::new(state, here, None, "");
    f.error = notice.map(str::to_owned);
    SignInPage { f, token }.render().unwrap_or_default()
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    f: Frame<'a>,
    text: &'a str,
}

/// A page that says one thing, with a link back to the console.
pub(crate) fn message(here: &Here, status: StatusCode, text: &str) -> Response {
    let f = Frame {
        lang: here.lang,
        t: here.texts(),
        brand: None,
        root: &here.root,
        csrf: None,
        nav: "",
        notice: None,
        error: None,
    };
    page(status, &MessagePage { f, text })
}

// ----- formatting --------------------------------------------------------------------------------

const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// `2026-12-02 18:30` in Beijing time.
pub(crate) fn time_of(epoch: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(epoch) {
        Ok(at) => {
            let at = at.to_offset(BEIJING);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute()
            )
        }
        Err(_) => "-".to_owned(),
    }
}

/// A length of time in words: `1 小时 5 分钟` / `1 h 5 min`.
pub(crate) fn span_of(lang: Lang, seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    let (d, h, m, s) = match lang {
        Lang::Zh => (" 天", " 小时", " 分钟", " 秒"),
        Lang::En => (" d", " h", " min", " s"),
    };
    if days > 0 {
        format!("{days}{d} {hours}{h}")
    } else if hours > 0 {
        format!("{hours}{h} {minutes}{m}")
    } else if minutes > 0 {
        format!("{minutes}{m}")
    } else {
        format!("{seconds}{s}")
    }
}

/// When `at` is, seen from `now`: `2026-12-02 18:30（1 小时后）`.
pub(crate) fn expiry_of(lang: Lang, at: i64, now: i64) -> String {
    let relative = if at > now {
        match lang {
            Lang::Zh => format!("{}后", span_of(lang, at - now)),
            Lang::En => format!("in {}", span_of(lang, at - now)),
        }
    } else {
        match lang {
            Lang::Zh => "已过期".to_owned(),
            Lang::En => "expired".to_owned(),
        }
    };
    format!("{} ({relative})", time_of(at))
}

/// An authorizer's status in words.
pub(crate) fn status_of(lang: Lang, status: &str) -> &'static str {
    match (lang, status) {
        (Lang::Zh, "authorized") => "已授权",
        (Lang::Zh, "unauthorized") => "已取消授权",
        (Lang::Zh, "reauthorization_required") => "需重新授权",
        (Lang::En, "authorized") => "authorized",
        (Lang::En, "unauthorized") => "authorization cancelled",
        (Lang::En, "reauthorization_required") => "must authorize again",
        _ => "-",
    }
}

/// An account's kind in words.
pub(crate) fn kind_of(lang: Lang, kind: &str) -> &'static str {
    match (lang, kind) {
        (Lang::Zh, "mini_program") => "小程序",
        (Lang::Zh, "official_account") => "公众号",
        (Lang::En, "mini_program") => "mini program",
        (Lang::En, "official_account") => "official account",
        _ => "-",
    }
}

/// An audit's status in words.
pub(crate) fn audit_status_of(lang: Lang, status: &str) -> &'static str {
    match (lang, status) {
        (Lang::Zh, "pending") => "审核中",
        (Lang::Zh, "succeeded") => "审核通过",
        (Lang::Zh, "failed") => "审核未通过",
        (Lang::Zh, "delayed") => "审核延后",
        (Lang::Zh, "withdrawn") => "已撤回",
        (Lang::En, "pending") => "in review",
        (Lang::En, "succeeded") => "approved",
        (Lang::En, "failed") => "rejected",
        (Lang::En, "delayed") => "delayed",
        (Lang::En, "withdrawn") => "withdrawn",
        _ => "-",
    }
}

/// A campaign's or a campaign app's state in words.
pub(crate) fn campaign_state_of(lang: Lang, state: &str) -> &'static str {
    match (lang, state) {
        (Lang::Zh, "running") => "进行中",
        (Lang::Zh, "paused") => "已暂停",
        (Lang::Zh, "halted") => "已中止",
        (Lang::Zh, "done") => "已完成",
        (Lang::Zh, "cancelled") => "已取消",
        (Lang::Zh, "pending") => "待提交",
        (Lang::Zh, "committed") => "已上传",
        (Lang::Zh, "auditing") => "审核中",
        (Lang::Zh, "approved") => "审核通过",
        (Lang::Zh, "released") => "已发布",
        (Lang::Zh, "failed") => "失败",
        (Lang::Zh, "needs_merchant") => "需商家处理",
        (Lang::En, "running") => "running",
        (Lang::En, "paused") => "paused",
        (Lang::En, "halted") => "halted",
        (Lang::En, "done") => "done",
        (Lang::En, "cancelled") => "cancelled",
        (Lang::En, "pending") => "pending",
        (Lang::En, "committed") => "committed",
        (Lang::En, "auditing") => "in review",
        (Lang::En, "approved") => "approved",
        (Lang::En, "released") => "released",
        (Lang::En, "failed") => "failed",
        (Lang::En, "needs_merchant") => "needs the merchant",
        _ => "-",
    }
}

// ----- the pages ---------------------------------------------------------------------------------

pub(crate) struct RunRow {
    pub(crate) finished: String,
    pub(crate) due: u64,
    pub(crate) refreshed: u64,
    pub(crate) failed: u64,
    pub(crate) failed_by_errcode: Vec<(String, u64)>,
    pub(crate) stopped_early: bool,
}

pub(crate) struct EventRow {
    pub(crate) when: String,
    pub(crate) detail_type: String,
    pub(crate) appid: Option<String>,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
pub(crate) struct OverviewPage<'a> {
    pub(crate) f: Frame<'a>,
    pub(crate) ticket_age: Option<String>,
    pub(crate) healthy: bool,
    pub(crate) component_token: Option<String>,
    pub(crate) counts: Vec<(&'static str, u64)>,
    pub(crate) run: Option<RunRow>,
    pub(crate) events: Vec<EventRow>,
}

pub(crate) struct AuthorizerRow {
    pub(crate) appid: String,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) status: &'static str,
    pub(crate) needs_reauthorization: bool,
    pub(crate) token_expiry: String,
    pub(crate) audit: String,
}

#[derive(Template)]
#[template(path = "console/authorizers.html")]
pub(crate) struct AuthorizersPage<'a> {
    pub(crate) f: Frame<'a>,
    pub(crate) query: String,
    pub(crate) rows: Vec<AuthorizerRow>,
    /// How many were looked through (a search).
    pub(crate) scanned: Option<usize>,
    /// The next page's query string.
    pub(crate) next: Option<String>,
}

pub(crate) struct AuditRow {
    /// The version the audit was for, when a release campaign submitted it.
    pub(crate) version: String,
    pub(crate) id: u64,
    pub(crate) status: &'static str,
    pub(crate) reason: String,
    pub(crate) submitted: String,
    pub(crate) updated: String,
}

#[derive(Template)]
#[template(path = "console/authorizer.html")]
pub(crate) struct AuthorizerPage<'a> {
    pub(crate) f: Frame<'a>,
    pub(crate) appid: String,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) status: &'static str,
    pub(crate) needs_reauthorization: bool,
    pub(crate) profile: Vec<(&'static str, String)>,
    pub(crate) authorized_at: String,
    pub(crate) updated_at: String,
    pub(crate) token_expiry: String,
    pub(crate) func_info: Vec<u32>,
    pub(crate) audit: Option<AuditRow>,
    pub(crate) withdrawals: Option<String>,
    /// The settings as pretty JSON, for editing.
    pub(crate) settings: String,
}

pub(crate) struct Links {
    pub(crate) pc: String,
    pub(crate) mobile: String,
    /// The mobile link's QR code, an SVG made here (no value from outside is in it but the
    /// link's modules).
    pub(crate) qr_svg: String,
}

#[derive(Template)]
#[template(path = "console/links.html")]
pub(crate) struct LinksPage<'a> {
    pub(crate) f: Frame<'a>,
    pub(crate) auth_type: u8,
    pub(crate) biz_appid: String,
    pub(crate) links: Option<Links>,
    /// The links were derived from the request (no `AUTH_CALLBACK_URL`).
    pub(crate) derived: bool,
}

pub(crate) struct TemplateRow {
    pub(crate) id: i64,
    pub(crate) version: String,
    pub(crate) desc: String,
    pub(crate) created: String,
}

pub(crate) struct CampaignRow {
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) state: &'static str,
    pub(crate) progress: String,
    pub(crate) created: String,
}

#[derive(Template)]
#[template(path = "console/releases.html")]
pub(crate) struct ReleasesPage<'a> {
    pub(crate) f: Frame<'a>,
    /// `None` when WeChat's template list could not be read.
    pub(crate) templates: Option<Vec<TemplateRow>>,
    pub(crate) campaigns: Vec<CampaignRow>,
}

pub(crate) struct CampaignSummary {
    pub(crate) id: String,
    pub(crate) state: &'static str,
    pub(crate) state_code: String,
    pub(crate) reason: Option<String>,
    pub(crate) version: String,
    pub(crate) template_id: String,
    pub(crate) total: u32,
}

pub(crate) struct FailedApp {
    pub(crate) appid: String,
    pub(crate) state: &'static str,
    pub(crate) errcode: String,
    pub(crate) hint: String,
}

#[derive(Template)]
#[template(path = "console/campaign.html")]
pub(crate) struct CampaignPage<'a> {
    pub(crate) f: Frame<'a>,
    pub(crate) c: CampaignSummary,
    /// (label, count, state code) per app state.
    pub(crate) counts: Vec<(&'static str, i64, &'static str)>,
    /// (action path, label).
    pub(crate) actions: Vec<(&'static str, &'static str)>,
    pub(crate) failed: Vec<FailedApp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_beijing_times_and_spans_read_as_words() {
        // 2026-12-02 00:00 UTC is 08:00 in Beijing.
        assert_eq!(time_of(1_796_169_600), "2026-12-02 08:00");
        assert_eq!(span_of(Lang::Zh, 3900), "1 小时 5 分钟");
        assert_eq!(span_of(Lang::En, 90_000), "1 d 1 h");
        assert_eq!(span_of(Lang::En, 42), "42 s");
        assert_eq!(
            expiry_of(Lang::En, 1_796_169_600 + 600, 1_796_169_600),
            "2026-12-02 08:10 (in 10 min)"
        );
        assert_eq!(
            expiry_of(Lang::Zh, 1_796_169_600, 1_796_169_601),
            "2026-12-02 08:00 (已过期)"
        );
    }
}
