//! The merchant-facing authorization flow (docs/wechat-protocol.md, "Lifetimes and the
//! authorization flow"): the launch page, the jump to WeChat's
//! authorization page, and the callback.
//!
//! WeChat serves its authorization page only when it is reached by a click from a page on the
//! registered launch domain, so the flow is three steps:
//! 1. the launch page (ours) with an "Authorize" link: that click is the one WeChat checks;
//! 2. `go`: a fresh pre-auth code per click (they are single use) and a 302 to the PC page, or to
//!    the mobile page for WeChat's in-app browser and phones; the browser keeps the launch page as
//!    the referrer across the redirect. A fresh flow state goes into a cookie and into the
//!    `redirect_uri` (see [`super::auth_state`]);
//! 3. the callback: refused before anything is spent unless its state matches the browser's cookie
//!    and its code has WeChat's shape; then the auth code is exchanged and the authorizer stored
//!    (the same use case as the `authorized` push, idempotent per code), then a page naming the
//!    account, or a signed redirect to `AUTH_SUCCESS_URL`.
//!
//! The pages are the function's to render ([`super::pages`]): the callback's outcome names the
//! stored account (its name comes from WeChat and is treated as untrusted).

use tracing::Instrument;

use super::auth_state::{
    CookieScope, ProviderState, STATE_COOKIE_MAX_AGE_SECS, STATE_COOKIE_MIN_AGE_SECS, STATE_PARAM,
    StateCookie, SuccessRedirect, looks_like_auth_code,
};
use super::authorization::Authorizations;
use super::authorization::{AuthType, AuthorizationLinkRequest, authorization_links};
use super::error::{AuthorizationError, TokenError};
use crate::ids::AuthorizerAppId;
use crate::secret::Secret;
use crate::store::{Authorizer, Store};

/// Where WeChat's authorization pages live, by default.
pub const DEFAULT_PC_AUTH_PAGE_BASE: &str = "https://mp.weixin.qq.com";
pub const DEFAULT_MOBILE_AUTH_PAGE_BASE: &str = "https://open.weixin.qq.com";

/// The path of the callback, relative to where the launch page is served.
pub const CALLBACK_PATH: &str = "/auth/callback";

/// The flow's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFlowSettings {
    /// The `redirect_uri` given to WeChat; derived from the request when `None`.
    pub callback_url: Option<url::Url>,
    /// Where to send the merchant after a successful authorization, with `appid`, `state`, `ts`
    /// and `sig` appended; a success page is shown when `None`.
    pub success_redirect: Option<SuccessRedirect>,
    /// Replaces `https://mp.weixin.qq.com` in PC links (a simulator's URL locally).
    pub pc_page_base: url::Url,
    /// Replaces `https://open.weixin.qq.com` in mobile links.
    pub mobile_page_base: url::Url,
    /// `BRAND_NAME`: the provider's name, shown on the pages.
    pub brand_name: Option<String>,
}

impl Default for AuthFlowSettings {
    fn default() -> Self {
        Self {
            callback_url: None,
            success_redirect: None,
            pc_page_base: url::Url::parse(DEFAULT_PC_AUTH_PAGE_BASE).expect("a valid URL"),
            mobile_page_base: url::Url::parse(DEFAULT_MOBILE_AUTH_PAGE_BASE).expect("a valid URL"),
            brand_name: None,
        }
    }
}

/// Which of WeChat's two authorization pages a browser can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// A computer: the PC page, where the merchant scans a QR code.
    Pc,
    /// WeChat's in-app browser on a phone, or a phone browser.
    Mobile,
}

impl Device {
    /// WeChat's in-app browser says `MicroMessenger` (the desktop app adds `WindowsWechat` or
    /// `MacWechat` and gets the PC page); phones say `Mobile`, `Android`, `iPhone` or `iPad`.
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        let Some(ua) = user_agent else {
            return Self::Pc;
        };
        let ua = ua.to_ascii_lowercase();
        let desktop_wechat = ua.contains("windowswechat") || ua.contains("macwechat");
        let in_wechat = ua.contains("micromessenger") && !desktop_wechat;
        let phone = ["mobile", "android", "iphone", "ipad"]
            .iter()
            .any(|marker| ua.contains(marker));
        if in_wechat || (phone && !desktop_wechat) {
            Self::Mobile
        } else {
            Self::Pc
        }
    }
}

/// What the merchant asked for on the launch page (`auth_type`, `biz_appid`, `category_id_list`),
/// and the provider's `state`, returned signed to `AUTH_SUCCESS_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthStart {
    pub auth_type: AuthType,
    pub biz_appid: Option<AuthorizerAppId>,
    pub category_id_list: Vec<u32>,
    pub provider_state: Option<ProviderState>,
    /// `device=pc` or `device=mobile`: the page to send the merchant to whatever the browser is
    /// (the console's PC and mobile links); absent, the browser's `User-Agent` decides.
    pub device: Option<Device>,
}

/// A launch query that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthStartError {
    #[error("auth_type must be 1, 2 or 3")]
    AuthType,
    #[error("biz_appid is not an appid")]
    BizAppId,
    #[error("device must be pc or mobile")]
    Device,
    #[error("category_id_list must be numbers separated by '|' or ','")]
    CategoryIds,
    #[error("invalid state")]
    State(#[source] super::auth_state::ProviderStateError),
}

impl AuthStart {
    /// Reads the launch query. `auth_type` defaults to 3 (both kinds of account); blank values
    /// count as absent.
    pub fn from_query<I, K, V>(pairs: I) -> Result<Self, AuthStartError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut start = Self {
            auth_type: AuthType::Both,
            biz_appid: None,
            category_id_list: Vec::new(),
            provider_state: None,
            device: None,
        };
        for (name, value) in pairs {
            let value = value.as_ref().trim();
            if value.is_empty() {
                continue;
            }
            match name.as_ref() {
                "auth_type" => {
                    start.auth_type = value
                        .parse()
                        .ok()
                        .and_then(AuthType::from_code)
                        .ok_or(AuthStartError::AuthType)?;
                }
                "biz_appid" => {
                    start.biz_appid =
                        Some(AuthorizerAppId::parse(value).map_err(|_| AuthStartError::BizAppId)?);
                }
                "category_id_list" => {
                    start.category_id_list = value
                        .split(['|', ','])
                        .map(|id| id.trim().parse().map_err(|_| AuthStartError::CategoryIds))
                        .collect::<Result<_, _>>()?;
                }
                "device" => {
                    start.device = Some(match value {
                        "pc" => Device::Pc,
                        "mobile" => Device::Mobile,
                        _ => return Err(AuthStartError::Device),
                    });
                }
                STATE_PARAM => {
                    start.provider_state =
                        Some(ProviderState::parse(value).map_err(AuthStartError::State)?);
                }
                _ => {}
            }
        }
        Ok(start)
    }

    /// The same request as a query string (for the launch page's link).
    pub fn query_string(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("auth_type", &self.auth_type.code().to_string());
        if let Some(biz) = &self.biz_appid {
            query.append_pair("biz_appid", biz.as_str());
        }
        if !self.category_id_list.is_empty() {
            let ids: Vec<String> = self.category_id_list.iter().map(u32::to_string).collect();
            query.append_pair("category_id_list", &ids.join("|"));
        }
        if let Some(state) = &self.provider_state {
            query.append_pair(STATE_PARAM, state.as_str());
        }
        match self.device {
            Some(Device::Pc) => query.append_pair("device", "pc"),
            Some(Device::Mobile) => query.append_pair("device", "mobile"),
            None => &mut query,
        };
        query.finish()
    }
}

/// How the browser reached us, for deriving the callback URL: `scheme://host` plus any prefix
/// (an API Gateway stage) in front of the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    pub scheme: String,
    pub host: String,
    pub path_prefix: String,
}

/// Why no callback URL could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no AUTH_CALLBACK_URL is set and the request does not name a usable host")]
pub struct NoCallbackUrl;

/// `path` on the origin and prefix the browser used, if they can make a URL.
pub fn url_on_origin(
    origin: Option<&RequestOrigin>,
    path: &str,
) -> Result<url::Url, NoCallbackUrl> {
    let origin = origin.ok_or(NoCallbackUrl)?;
    if !matches!(origin.scheme.as_str(), "http" | "https")
        || origin.host.is_empty()
        || origin
            .host
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)))
    {
        return Err(NoCallbackUrl);
    }
    let text = format!(
        "{}://{}{}{path}",
        origin.scheme,
        origin.host,
        origin.path_prefix.trim_end_matches('/')
    );
    url::Url::parse(&text).map_err(|_| NoCallbackUrl)
}

/// Why no authorization could be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    NoCallbackUrl(#[from] NoCallbackUrl),
    #[error("no pre-auth code could be had")]
    PreAuthCode(#[source] AuthorizationError),
}

/// A started authorization: where to send the browser, and the cookie that ties the callback to
/// this browser. `Debug` hides the location (it carries the pre-auth code).
#[derive(Clone, PartialEq, Eq)]
pub struct StartedAuthorization {
    pub location: String,
    /// A `Set-Cookie` value.
    pub set_cookie: String,
}

impl std::fmt::Debug for StartedAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedAuthorization")
            .field("location", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Why the callback could not complete the authorization.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Checked first: a callback that does not come back to the browser that started the flow
    /// spends nothing.
    #[error("the callback carries no state, or more than one")]
    MissingState,
    #[error("the callback's state matches no state cookie of this browser")]
    StateMismatch,
    #[error("the callback carries no auth_code")]
    MissingCode,
    #[error("the auth_code does not have the shape of WeChat's codes")]
    MalformedCode,
    /// 61009 / 61010: expired, used or invalid; the merchant has to start again.
    #[error("WeChat refused the authorization code")]
    CodeRejected(#[source] AuthorizationError),
    /// Anything else (WeChat or the store failed); trying again may work.
    #[error("the authorization could not be completed")]
    Failed(#[source] AuthorizationError),
}

impl CallbackError {
    /// Whether the flow is over, so its state cookie goes: not for a refused state (there was
    /// nothing of this browser's to use), and not when trying again may work (the page says
    /// "reload", which needs the cookie).
    pub fn ends_flow(&self) -> bool {
        match self {
            Self::MissingState | Self::StateMismatch | Self::Failed(_) => false,
            Self::MissingCode | Self::MalformedCode | Self::CodeRejected(_) => true,
        }
    }
}

/// What the callback shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The authorization is stored: the success page names this account.
    Authorized(Box<Authorizer>),
    /// The signed redirect to `AUTH_SUCCESS_URL`.
    Redirect(String),
}

/// The callback's answer, and the `Set-Cookie` value that removes the state cookie when the flow
/// is over.
#[derive(Debug)]
pub struct CallbackResponse {
    pub result: Result<CallbackOutcome, CallbackError>,
    pub clear_cookie: Option<String>,
}

/// The flow's use cases over the authorization use case. Cheap to clone.
pub struct AuthFlow<S> {
    authorizations: Authorizations<S>,
    settings: AuthFlowSettings,
}

impl<S> Clone for AuthFlow<S> {
    fn clone(&self) -> Self {
        Self {
            authorizations: self.authorizations.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<S: Store + 'static> AuthFlow<S> {
    pub fn new(authorizations: Authorizations<S>, settings: AuthFlowSettings) -> Self {
        Self {
            authorizations,
            settings,
        }
    }

    pub fn settings(&self) -> &AuthFlowSettings {
        &self.settings
    }

    /// The `redirect_uri`: `AUTH_CALLBACK_URL` when set, else the request's origin and prefix
    /// followed by `/auth/callback`.
    pub fn callback_url(&self, origin: Option<&RequestOrigin>) -> Result<url::Url, NoCallbackUrl> {
        if let Some(url) = &self.settings.callback_url {
            return Ok(url.clone());
        }
        url_on_origin(origin, CALLBACK_PATH)
    }

    /// Mints a pre-auth code and a fresh flow state: the authorization page URL for `device`,
    /// whose `redirect_uri` is the callback URL with `state=`, and the cookie holding the same
    /// state (and the provider's), alive as long as the pre-auth code.
    pub async fn start_authorization(
        &self,
        start: &AuthStart,
        device: Device,
        origin: Option<&RequestOrigin>,
    ) -> Result<StartedAuthorization, StartError> {
        let callback = self.callback_url(origin)?;
        if let Some(origin) = origin
            && !same_host(&callback, &origin.host)
        {
            tracing::warn!(
                "AUTH_CALLBACK_URL is on another host than the page that started the flow: the \
                 browser will not send the state cookie there, so every callback will be refused"
            );
        }
        let cookie = StateCookie::new(start.provider_state.clone());
        let mut redirect_uri = callback.clone();
        redirect_uri
            .query_pairs_mut()
            .append_pair(STATE_PARAM, cookie.flow.as_str());
        let span = tracing::info_span!("start_authorization", component = %self.authorizations.context().component_appid(), auth_type = start.auth_type.code(), ?device);
        async {
            let pre_auth_code = self
                .authorizations
                .create_pre_auth_code()
                .await
                .map_err(StartError::PreAuthCode)?;
            let links = authorization_links(&AuthorizationLinkRequest {
                component_appid: self.authorizations.context().component_appid(),
                pre_auth_code: &pre_auth_code.code,
                redirect_uri: &redirect_uri,
                auth_type: start.auth_type,
                biz_appid: start.biz_appid.as_ref(),
                category_id_list: &start.category_id_list,
            });
            let location = match device {
                Device::Pc => rebase(
                    &links.pc,
                    DEFAULT_PC_AUTH_PAGE_BASE,
                    &self.settings.pc_page_base,
                ),
                Device::Mobile => rebase(
                    &links.mobile,
                    DEFAULT_MOBILE_AUTH_PAGE_BASE,
                    &self.settings.mobile_page_base,
                ),
            };
            let max_age = (pre_auth_code.expires_at - self.authorizations.context().now())
                .clamp(STATE_COOKIE_MIN_AGE_SECS, STATE_COOKIE_MAX_AGE_SECS);
            let scope = CookieScope::for_callback(&callback, is_secure(&callback));
            tracing::info!("authorization link issued");
            Ok(StartedAuthorization {
                location,
                set_cookie: scope.set(&cookie, max_age),
            })
        }
        .instrument(span)
        .await
    }

    /// The callback: checks the state against the browser's cookies (`Cookie` header values) and
    /// the code's shape, and only then exchanges `auth_code` and stores the authorizer (idempotent
    /// per code). `origin` scopes the cookie removal.
    pub async fn complete(
        &self,
        query: &[(String, String)],
        cookie_headers: &[&str],
        origin: Option<&RequestOrigin>,
    ) -> CallbackResponse {
        let result = self.complete_checked(query, cookie_headers).await;
        let ends_flow = match &result {
            Ok(_) => true,
            Err(e) => e.ends_flow(),
        };
        let clear_cookie = ends_flow
            .then(|| self.callback_url(origin).ok())
            .flatten()
            .map(|callback| CookieScope::for_callback(&callback, is_secure(&callback)).clear());
        CallbackResponse {
            result,
            clear_cookie,
        }
    }

    async fn complete_checked(
        &self,
        query: &[(String, String)],
        cookie_headers: &[&str],
    ) -> Result<CallbackOutcome, CallbackError> {
        let values = |wanted: &'static str| {
            query
                .iter()
                .filter(move |(name, _)| name == wanted)
                .map(|(_, value)| value.as_str())
        };
        let mut states = values(STATE_PARAM);
        let state = match (states.next(), states.next()) {
            (Some(state), None) => state,
            _ => return Err(CallbackError::MissingState),
        };
        let cookie = StateCookie::from_cookie_headers(cookie_headers.iter().copied())
            .into_iter()
            .find(|cookie| cookie.flow.matches(state))
            .ok_or(CallbackError::StateMismatch)?;
        let code = values("auth_code")
            .next()
            .map(|value| value.trim().to_owned())
            .filter(|code| !code.is_empty())
            .ok_or(CallbackError::MissingCode)?;
        if !looks_like_auth_code(&code) {
            return Err(CallbackError::MalformedCode);
        }
        // The callback names no account: a refused code is recovered from WeChat's list.
        let deadline = std::time::Instant::now() + super::authorization::DEFAULT_COMPLETION_BUDGET;
        let authorizer = self
            .authorizations
            .complete_authorization_from_browser(&Secret::new(code), deadline)
            .await
            .map_err(|e| match e {
                AuthorizationError::CodeRejected { .. } => CallbackError::CodeRejected(e),
                AuthorizationError::Token(TokenError::Wechat(ref w))
                    if w.is_auth_code_invalid() =>
                {
                    CallbackError::CodeRejected(e)
                }
                other => CallbackError::Failed(other),
            })?;
        Ok(match &self.settings.success_redirect {
            Some(redirect) => CallbackOutcome::Redirect(redirect.location(
                &authorizer.appid,
                cookie.provider_state.as_ref(),
                self.authorizations.context().now(),
            )),
            None => CallbackOutcome::Authorized(Box::new(authorizer)),
        })
    }
}

/// `Secure` when the callback, the one place the cookie goes, is https: the request's own scheme
/// when the URL is derived from it, else `AUTH_CALLBACK_URL`'s (an http one only in local runs,
/// where a request without `X-Forwarded-Proto` would otherwise count as https).
fn is_secure(callback: &url::Url) -> bool {
    callback.scheme() == "https"
}

/// Whether `callback` is on `host` (`name[:port]`, as the `Host` header has it).
fn same_host(callback: &url::Url, host: &str) -> bool {
    let callback_host = match (callback.host_str(), callback.port()) {
        (Some(name), Some(port)) => format!("{name}:{port}"),
        (Some(name), None) => name.to_owned(),
        (None, _) => return false,
    };
    callback_host.eq_ignore_ascii_case(host)
}

/// `link` with `default_base` replaced by `base` (the two are equal in production).
fn rebase(link: &str, default_base: &str, base: &url::Url) -> String {
    match link.strip_prefix(default_base) {
        Some(rest) => format!("{}{rest}", base.as_str().trim_end_matches('/')),
        None => link.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::EpochSeconds;
    use crate::store::{AccountInfo, AccountKind, AuthorizerStatus, ExpiringToken};

    #[test]
    fn wechat_in_app_browsers_and_phones_get_the_mobile_page_computers_the_pc_page() {
        let mobile = [
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x18002831) NetType/WIFI Language/zh_CN",
            "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 Mobile Safari/537.36",
            "Mozilla/5.0 (Linux; U; Android 12) MicroMessenger/8.0.38",
        ];
        let pc = [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x6309001c) XWEB/8391",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) MicroMessenger/3.8.0(0x13080010) MacWechat/3.8.0",
            "curl/8.5.0",
        ];
        for ua in mobile {
            assert_eq!(Device::from_user_agent(Some(ua)), Device::Mobile, "{ua}");
        }
        for ua in pc {
            assert_eq!(Device::from_user_agent(Some(ua)), Device::Pc, "{ua}");
        }
        assert_eq!(Device::from_user_agent(None), Device::Pc);
    }

    #[test]
    fn the_launch_query_is_parsed_with_defaults_and_bad_values_are_refused() {
        let empty: [(&str, &str); 0] = [];
        let start = AuthStart::from_query(empty).unwrap();
        assert_eq!(start.auth_type, AuthType::Both);
        assert_eq!(start.query_string(), "auth_type=3");

        let start = AuthStart::from_query([
            ("auth_type", "2"),
            ("biz_appid", "wxd101a85aa106f53e"),
            ("category_id_list", "1|17"),
        ])
        .unwrap();
        assert_eq!(start.auth_type, AuthType::MiniPrograms);
        assert_eq!(start.category_id_list, vec![1, 17]);
        assert_eq!(
            start.query_string(),
            "auth_type=2&biz_appid=wxd101a85aa106f53e&category_id_list=1%7C17"
        );

        for (name, value, error) in [
            ("auth_type", "4", AuthStartError::AuthType),
            ("auth_type", "x", AuthStartError::AuthType),
            ("biz_appid", "<script>", AuthStartError::BizAppId),
            ("category_id_list", "1|a", AuthStartError::CategoryIds),
            ("device", "both", AuthStartError::Device),
            (
                "state",
                "a&b",
                AuthStartError::State(super::super::auth_state::ProviderStateError),
            ),
        ] {
            assert_eq!(AuthStart::from_query([(name, value)]), Err(error));
        }

        // The provider's state rides along to the link of the launch page.
        let start = AuthStart::from_query([("auth_type", "1"), ("state", "order-42")]).unwrap();
        assert_eq!(
            start.provider_state.as_ref().map(ProviderState::as_str),
            Some("order-42")
        );
        assert_eq!(start.query_string(), "auth_type=1&state=order-42");

        // A link may name its page, whatever browser opens it.
        let start = AuthStart::from_query([("device", "mobile")]).unwrap();
        assert_eq!(start.device, Some(Device::Mobile));
        assert_eq!(start.query_string(), "auth_type=3&device=mobile");
        assert_eq!(
            AuthStart::from_query([("device", "tablet")]),
            Err(AuthStartError::Device)
        );
    }

    #[test]
    fn pages_escape_everything_they_interpolate() {
        let now: EpochSeconds = 1;
        let authorizer = Authorizer {
            appid: AuthorizerAppId::parse("wx1234567890abcdef").unwrap(),
            status: AuthorizerStatus::Authorized,
            refresh_token: Secret::new("r"),
            refresh_token_version: 1,
            access_token: ExpiringToken {
                value: Secret::new("a"),
                expires_at: now,
            },
            func_info: vec![],
            account: Some(AccountInfo {
                nick_name: "<img src=x onerror=alert(1)>\"Shop\"".into(),
                user_name: "gh_1".into(),
                kind: AccountKind::OfficialAccount,
                service_type: 2,
                verify_type: 0,
                principal_name: String::new(),
                head_img: String::new(),
                qrcode_url: String::new(),
            }),
            authorized_at: now,
            updated_at: now,
        };
        let pages = super::super::pages::Pages {
            lang: super::super::pages::Lang::Zh,
            brand: None,
        };
        let html = pages.success(&authorizer);
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62;&#34;Shop&#34;"),
            "{html}"
        );
        let launch = pages.launch(&AuthStart {
            auth_type: AuthType::Both,
            biz_appid: None,
            category_id_list: vec![1, 2],
            provider_state: None,
            device: None,
        });
        assert!(
            launch.contains(r#"href="auth/go?auth_type=3&#38;category_id_list=1%7C2""#),
            "{launch}"
        );
    }

    #[test]
    fn links_are_rebased_onto_the_configured_page_origin() {
        let base = url::Url::parse("http://127.0.0.1:9100/").unwrap();
        assert_eq!(
            rebase(
                "https://mp.weixin.qq.com/cgi-bin/componentloginpage?a=1",
                DEFAULT_PC_AUTH_PAGE_BASE,
                &base
            ),
            "http://127.0.0.1:9100/cgi-bin/componentloginpage?a=1"
        );
        let default = url::Url::parse(DEFAULT_PC_AUTH_PAGE_BASE).unwrap();
        assert_eq!(
            rebase(
                "https://mp.weixin.qq.com/x",
                DEFAULT_PC_AUTH_PAGE_BASE,
                &default
            ),
            "https://mp.weixin.qq.com/x"
        );
    }
}
