//! Web authorization of WeChat users on behalf of an authorized official account
//! (代公众号发起网页授权): who is the user opening the provider's page.
//!
//! 1. `GET /oauth/{appid}/authorize?redirect_uri=..&scope=..&state=..` ([`WebOAuth::start`]):
//!    the provider's `redirect_uri` must be on `OAUTH_REDIRECT_HOSTS` and `{appid}` an authorized
//!    official account (read from the store; no WeChat call). A fresh flow state goes to WeChat's
//!    page in `state` and, with the provider's request, into a signed HttpOnly cookie scoped to
//!    the callback; the browser goes to `open.weixin.qq.com/connect/oauth2/authorize`.
//! 2. WeChat sends the browser to `/oauth/callback?code=..&state=..&appid=..` ([`WebOAuth::complete`]):
//!    the state must match the cookie before anything is spent; the code is exchanged with the
//!    component token; for `snsapi_userinfo` the profile is fetched and kept for the provider
//!    ([`WEB_USER_RETENTION_SECS`]); then a 302 to the provider's `redirect_uri` with `appid`,
//!    `openid`, `unionid` (when there is one), `scope`, `state` (the provider's), `ts` and `sig`,
//!    the hex HMAC-SHA256 (key `AUTH_SIGNING_SECRET`) over [`oauth_canonical_string`].
//!
//! The user's access token is used once, for `/sns/userinfo`, and dropped: it is never stored,
//! logged or passed on.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::auth_flow::{NoCallbackUrl, RequestOrigin, StartedAuthorization, url_on_origin};
use super::auth_state::{ProviderState, SignedQuery, SignedQueryError, SigningKey, fresh_ts};
use super::error::TokenError;
use super::token_service::TokenService;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::secret::Secret;
use crate::store::{
    AccountKind, AuthorizerStatus, Store, StoreError, WEB_USER_RETENTION_SECS, WebUser,
};
use crate::wechat::{OAuthScope, UserGrant, WechatError};

/// Where the callback is served, relative to the function's root.
pub const OAUTH_CALLBACK_PATH: &str = "/oauth/callback";
/// The cookie that carries a web authorization from `/oauth/{appid}/authorize` to the callback.
pub const OAUTH_STATE_COOKIE: &str = "wxc_oauth_state";
/// How long a user has on WeChat's page (a code itself lives 5 minutes).
pub const OAUTH_COOKIE_MAX_AGE_SECS: i64 = 600;
/// The query parameters the result adds to the provider's `redirect_uri`, which must not carry them.
pub const OAUTH_RESULT_PARAMS: [&str; 7] =
    ["appid", "openid", "unionid", "scope", "state", "ts", "sig"];
/// Where WeChat's web authorization page lives, by default.
pub const OAUTH_PAGE_PATH: &str = "/connect/oauth2/authorize";
/// The longest `redirect_uri` accepted (it travels in a cookie).
const MAX_REDIRECT_URI_LEN: usize = 1024;
/// At most this many state cookies are looked at in one request.
const MAX_STATE_COOKIES: usize = 4;

/// The flow's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOAuthSettings {
    /// `OAUTH_REDIRECT_HOSTS`: the hosts (`host` or `host:port`, lowercase) a provider page may be
    /// on. Empty: every request is refused.
    pub redirect_hosts: Vec<String>,
    /// Signs the state cookie and the result; `None` only when no host is allowed.
    pub key: Option<SigningKey>,
    /// Replaces `https://open.weixin.qq.com` (a simulator's URL locally).
    pub page_base: url::Url,
    /// The callback WeChat returns to; derived from the request when `None`.
    pub callback_url: Option<url::Url>,
}

/// What the provider asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOAuthRequest {
    pub appid: AuthorizerAppId,
    pub redirect_uri: url::Url,
    pub scope: OAuthScope,
    pub provider_state: Option<ProviderState>,
}

/// Why a request cannot be started; each is a 400 page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebOAuthRequestError {
    #[error("the path does not name an appid")]
    AppId,
    #[error("redirect_uri is missing, or not an absolute http(s) URL of at most 1024 characters")]
    RedirectUri,
    #[error("redirect_uri's host {0} is not on OAUTH_REDIRECT_HOSTS")]
    RedirectHost(String),
    #[error("redirect_uri must not carry the query parameter `{0}`: the result adds it")]
    ReservedParam(&'static str),
    #[error("scope must be snsapi_base or snsapi_userinfo")]
    Scope,
    #[error("state must be 1 to 128 letters, digits, '-', '_', '.' or '~'")]
    State,
}

/// `host` or `host:port` of `url`, lowercase, as `OAUTH_REDIRECT_HOSTS` lists them.
fn host_of(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

impl WebOAuthRequest {
    /// Reads the path's appid and the query against the allowed hosts. `scope` defaults to
    /// `snsapi_base`; a parameter given twice is refused.
    pub fn parse<I, K, V>(
        appid: &str,
        pairs: I,
        allowed_hosts: &[String],
    ) -> Result<Self, WebOAuthRequestError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let appid = AuthorizerAppId::parse(appid).map_err(|_| WebOAuthRequestError::AppId)?;
        let (mut redirect, mut scope, mut state) = (None, None, None);
        for (name, value) in pairs {
            let slot = match name.as_ref() {
                "redirect_uri" => (&mut redirect, WebOAuthRequestError::RedirectUri),
                "scope" => (&mut scope, WebOAuthRequestError::Scope),
                "state" => (&mut state, WebOAuthRequestError::State),
                _ => continue,
            };
            if slot.0.replace(value.as_ref().to_owned()).is_some() {
                return Err(slot.1);
            }
        }
        let redirect_text = redirect.ok_or(WebOAuthRequestError::RedirectUri)?;
        let redirect_uri = url::Url::parse(&redirect_text)
            .ok()
            .filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && redirect_text.len() <= MAX_REDIRECT_URI_LEN
            })
            .ok_or(WebOAuthRequestError::RedirectUri)?;
        let host = host_of(&redirect_uri).ok_or(WebOAuthRequestError::RedirectUri)?;
        if !allowed_hosts.contains(&host) {
            return Err(WebOAuthRequestError::RedirectHost(host));
        }
        if let Some(reserved) = redirect_uri
            .query_pairs()
            .find_map(|(name, _)| OAUTH_RESULT_PARAMS.iter().find(|p| **p == name))
        {
            return Err(WebOAuthRequestError::ReservedParam(reserved));
        }
        let scope = match scope.as_deref().map(str::trim) {
            None | Some("") => OAuthScope::Base,
            Some(text) => OAuthScope::parse(text).ok_or(WebOAuthRequestError::Scope)?,
        };
        let provider_state = match state.as_deref() {
            None | Some("") => None,
            Some(text) => {
                Some(ProviderState::parse(text).map_err(|_| WebOAuthRequestError::State)?)
            }
        };
        Ok(Self {
            appid,
            redirect_uri,
            scope,
            provider_state,
        })
    }

    /// The same request as the query of `/oauth/{appid}/authorize` (for a page's "try again").
    pub fn query_string(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("redirect_uri", self.redirect_uri.as_str());
        query.append_pair("scope", self.scope.as_str());
        if let Some(state) = &self.provider_state {
            query.append_pair("state", state.as_str());
        }
        query.finish()
    }
}

/// The cookie's content: the flow state WeChat carries back, and the request.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    /// 64 hex digits.
    f: String,
    a: String,
    r: String,
    s: OAuthScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
}

impl Pending {
    fn request(&self) -> Option<WebOAuthRequest> {
        Some(WebOAuthRequest {
            appid: AuthorizerAppId::parse(&self.a).ok()?,
            redirect_uri: url::Url::parse(&self.r).ok()?,
            scope: self.s,
            provider_state: match &self.p {
                Some(p) => Some(ProviderState::parse(p).ok()?),
                None => None,
            },
        })
    }
}

fn cookie_signature_input(payload: &str) -> String {
    format!("wxc-oauth-state:{payload}")
}

/// `<payload>.<hmac>`: base64url JSON, then its hex HMAC-SHA256 (the browser cannot change the
/// request it carries).
fn seal(key: &SigningKey, pending: &Pending) -> String {
    let json = serde_json::to_vec(pending).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let sig = key.sign(&cookie_signature_input(&payload));
    format!("{payload}.{sig}")
}

fn open(key: &SigningKey, value: &str) -> Option<Pending> {
    let (payload, sig) = value.split_once('.')?;
    if !key.verify(&cookie_signature_input(payload), sig) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The string `sig` is computed over: `appid=..&openid=..&scope=..&state=..&ts=..&unionid=..`,
/// names in that order, values exactly as in the query (none needs escaping), `state` and
/// `unionid` empty when absent.
pub fn oauth_canonical_string(
    appid: &str,
    openid: &str,
    scope: &str,
    state: &str,
    ts: impl fmt::Display,
    unionid: &str,
) -> String {
    format!("appid={appid}&openid={openid}&scope={scope}&state={state}&ts={ts}&unionid={unionid}")
}

/// What a verified result says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWebUser {
    pub appid: AuthorizerAppId,
    pub openid: String,
    pub unionid: Option<String>,
    pub scope: OAuthScope,
    pub state: Option<String>,
    pub ts: EpochSeconds,
}

/// Why a result was not accepted.
pub type WebUserVerifyError = SignedQueryError;

/// The provider's check of the result's query (docs/official-accounts.md gives the same steps for
/// other languages): the signature, in constant time, then `ts` at most `max_age_secs` old and at
/// most a minute ahead of `now`.
pub fn verify_oauth_query(
    key: &SigningKey,
    query: &str,
    now: EpochSeconds,
    max_age_secs: i64,
) -> Result<VerifiedWebUser, WebUserVerifyError> {
    let query = SignedQuery::parse(query);
    let required = |name| query.required(name).map_err(WebUserVerifyError::Param);
    let (appid, openid, scope) = (required("appid")?, required("openid")?, required("scope")?);
    let (ts_text, sig) = (required("ts")?, required("sig")?);
    let optional = |name| query.one(name).map_err(WebUserVerifyError::Param);
    let (state, unionid) = (optional("state")?, optional("unionid")?);
    let canonical = oauth_canonical_string(
        appid,
        openid,
        scope,
        state.unwrap_or(""),
        ts_text,
        unionid.unwrap_or(""),
    );
    if !key.verify(&canonical, sig) {
        return Err(WebUserVerifyError::Signature);
    }
    let ts = fresh_ts(ts_text, now, max_age_secs).ok_or(WebUserVerifyError::Stale)?;
    Ok(VerifiedWebUser {
        appid: AuthorizerAppId::parse(appid).map_err(|_| WebUserVerifyError::Malformed("appid"))?,
        openid: openid.to_owned(),
        unionid: unionid.map(str::to_owned),
        scope: OAuthScope::parse(scope).ok_or(WebUserVerifyError::Malformed("scope"))?,
        state: state.map(str::to_owned),
        ts,
    })
}

/// Why no web authorization could be started.
#[derive(Debug, thiserror::Error)]
pub enum WebOAuthStartError {
    #[error(transparent)]
    Request(#[from] WebOAuthRequestError),
    #[error("{0} is not an official account that authorizes the component")]
    NotAuthorized(AuthorizerAppId),
    #[error("{0} is a mini program: web authorization is for official accounts")]
    MiniProgram(AuthorizerAppId),
    #[error(transparent)]
    NoCallbackUrl(#[from] NoCallbackUrl),
    #[error("OAUTH_REDIRECT_HOSTS is set without AUTH_SIGNING_SECRET")]
    NoKey,
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// Why the callback ended without a result for the provider.
#[derive(Debug, thiserror::Error)]
pub enum WebOAuthCallbackError {
    /// Checked first: nothing is spent for a callback this browser did not start.
    #[error("the callback's state matches no web authorization started in this browser")]
    StateRefused,
    /// WeChat came back without a code: the user declined (`snsapi_userinfo`).
    #[error("the user declined the authorization")]
    Declined,
    #[error("the code does not have the shape of WeChat's codes")]
    MalformedCode,
    /// 40029: not a code WeChat issued for this account, or expired.
    #[error("WeChat refused the code as invalid")]
    CodeInvalid(#[source] WechatError),
    /// 40163: the code was exchanged before (a reload, a shared link).
    #[error("the code was used before")]
    CodeUsed(#[source] WechatError),
    /// 48001 at the exchange: the account did not grant the component web authorization.
    #[error("the official account has not granted the component web authorization")]
    NotPermitted(#[source] WechatError),
    /// `snsapi_userinfo` was asked for and not granted.
    #[error("the snsapi_userinfo scope was not granted")]
    ScopeNotGranted(#[source] Option<WechatError>),
    /// Anything else (WeChat or the store failed); trying again may work.
    #[error("the web authorization could not be completed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl WebOAuthCallbackError {
    /// The fix an operator can make, for the log line.
    pub fn fix(&self) -> Option<&'static str> {
        match self {
            Self::NotPermitted(_) => Some(
                "the official account has not granted the platform its web authorization \
                 permission (网页服务权限), or the platform's web development domain (网页开发域名) \
                 is not this stack's host: have the merchant authorize the platform again with that \
                 permission set, and check the domain in the Open Platform console",
            ),
            Self::ScopeNotGranted(_) => Some(
                "snsapi_userinfo was not granted: the user declined, or the account may not use it \
                 (only verified service accounts may); ask for snsapi_base where the openid is enough",
            ),
            Self::CodeInvalid(_) => Some(
                "WeChat did not accept the code: it expired (5 minutes), or was issued for another \
                 account than the one the flow was started for",
            ),
            _ => None,
        }
    }
}

/// What the callback answers: the provider's URL, or an error, and the `Set-Cookie` that removes
/// the state cookie when the flow is over.
#[derive(Debug)]
pub struct WebOAuthAnswer {
    pub result: Result<String, WebOAuthCallbackError>,
    /// The request, when the cookie told it (for a page's "try again").
    pub request: Option<WebOAuthRequest>,
    pub clear_cookie: Option<String>,
}

/// The flow. Cheap to clone.
pub struct WebOAuth<S> {
    tokens: TokenService<S>,
    settings: WebOAuthSettings,
}

impl<S> Clone for WebOAuth<S> {
    fn clone(&self) -> Self {
        Self {
            tokens: self.tokens.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// Whether `code` could be one of WeChat's web authorization codes (32 characters today).
fn looks_like_oauth_code(code: &str) -> bool {
    (1..=128).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

impl<S: Store + 'static> WebOAuth<S> {
    pub fn new(tokens: TokenService<S>, settings: WebOAuthSettings) -> Self {
        Self { tokens, settings }
    }

    pub fn settings(&self) -> &WebOAuthSettings {
        &self.settings
    }

    /// WeChat's `redirect_uri`: `AUTH_CALLBACK_URL`'s origin when it is set, else the request's,
    /// with `/oauth/callback`.
    pub fn callback_url(&self, origin: Option<&RequestOrigin>) -> Result<url::Url, NoCallbackUrl> {
        match &self.settings.callback_url {
            Some(url) => Ok(url.clone()),
            None => url_on_origin(origin, OAUTH_CALLBACK_PATH),
        }
    }

    fn cookie(&self, callback: &url::Url, value: &str, max_age: i64) -> String {
        let path = callback.path();
        let path = if path.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
            path
        } else {
            "/"
        };
        let mut header = format!(
            "{OAUTH_STATE_COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax"
        );
        if callback.scheme() == "https" {
            header.push_str("; Secure");
        }
        header
    }

    /// Checks the request and the account (a store read, no WeChat call), and gives WeChat's page
    /// URL and the cookie tying the callback to this browser.
    pub async fn start(
        &self,
        appid: &str,
        query: &[(String, String)],
        origin: Option<&RequestOrigin>,
    ) -> Result<StartedAuthorization, WebOAuthStartError> {
        let request = WebOAuthRequest::parse(
            appid,
            query.iter().map(|(k, v)| (k, v)),
            &self.settings.redirect_hosts,
        )?;
        let key = self
            .settings
            .key
            .as_ref()
            .ok_or(WebOAuthStartError::NoKey)?;
        let context = self.tokens.context();
        let stored = context
            .store()
            .authorizer(context.component_appid(), &request.appid)
            .await?;
        let Some(authorizer) = stored.filter(|a| a.status == AuthorizerStatus::Authorized) else {
            return Err(WebOAuthStartError::NotAuthorized(request.appid));
        };
        if authorizer
            .account
            .as_ref()
            .is_some_and(|a| a.kind == AccountKind::MiniProgram)
        {
            return Err(WebOAuthStartError::MiniProgram(request.appid));
        }
        let callback = self.callback_url(origin)?;
        let flow = hex::encode(rand::random::<[u8; 32]>());
        let pending = Pending {
            f: flow.clone(),
            a: request.appid.as_str().to_owned(),
            r: request.redirect_uri.to_string(),
            s: request.scope,
            p: request
                .provider_state
                .as_ref()
                .map(|p| p.as_str().to_owned()),
        };
        let mut location = self.settings.page_base.clone();
        location.set_path(OAUTH_PAGE_PATH);
        // WeChat's page reads its parameters in this order, and the fragment ends the URL.
        location
            .query_pairs_mut()
            .append_pair("appid", request.appid.as_str())
            .append_pair("redirect_uri", callback.as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", request.scope.as_str())
            .append_pair("state", &flow)
            .append_pair("component_appid", context.component_appid().as_str());
        location.set_fragment(Some("wechat_redirect"));
        Ok(StartedAuthorization {
            location: location.into(),
            set_cookie: self.cookie(&callback, &seal(key, &pending), OAUTH_COOKIE_MAX_AGE_SECS),
        })
    }

    /// The callback: state, then code, then the exchange (and the profile), then the provider's
    /// signed URL.
    pub async fn complete(
        &self,
        query: &[(String, String)],
        cookie_headers: &[&str],
        origin: Option<&RequestOrigin>,
    ) -> WebOAuthAnswer {
        let clear = self
            .callback_url(origin)
            .ok()
            .map(|callback| self.cookie(&callback, "", 0));
        let Some(request) = self.pending(query, cookie_headers) else {
            return WebOAuthAnswer {
                result: Err(WebOAuthCallbackError::StateRefused),
                request: None,
                clear_cookie: None,
            };
        };
        let result = self.finish(query, &request).await;
        let over = !matches!(result, Err(WebOAuthCallbackError::Failed(_)));
        WebOAuthAnswer {
            result,
            request: Some(request),
            clear_cookie: if over { clear } else { None },
        }
    }

    /// The state cookie this callback belongs to: one `state`, one cookie carrying it under a
    /// valid signature, and WeChat's `appid` (when given) the one the flow was started for.
    fn pending(
        &self,
        query: &[(String, String)],
        cookie_headers: &[&str],
    ) -> Option<WebOAuthRequest> {
        let key = self.settings.key.as_ref()?;
        let mut states = query.iter().filter(|(k, _)| k == "state");
        let (_, state) = states.next()?;
        if states.next().is_some() {
            return None;
        }
        let pending = cookie_headers
            .iter()
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                (name.trim() == OAUTH_STATE_COOKIE).then(|| value.trim().trim_matches('"'))
            })
            .take(MAX_STATE_COOKIES)
            .filter_map(|value| open(key, value))
            .find(|p| crate::crypto::ct_eq(p.f.as_bytes(), state.as_bytes()))?;
        let request = pending.request()?;
        let appid_given = query.iter().find(|(k, _)| k == "appid");
        if appid_given.is_some_and(|(_, appid)| appid != request.appid.as_str()) {
            return None;
        }
        Some(request)
    }

    async fn finish(
        &self,
        query: &[(String, String)],
        request: &WebOAuthRequest,
    ) -> Result<String, WebOAuthCallbackError> {
        let code = match query.iter().find(|(k, _)| k == "code") {
            None => return Err(WebOAuthCallbackError::Declined),
            Some((_, code)) if code.trim().is_empty() => {
                return Err(WebOAuthCallbackError::Declined);
            }
            Some((_, code)) if !looks_like_oauth_code(code) => {
                return Err(WebOAuthCallbackError::MalformedCode);
            }
            Some((_, code)) => Secret::new(code.as_str()),
        };
        let appid = &request.appid;
        let grant = Box::pin(self.tokens.with_component_token(|client, token| {
            let code = code.clone();
            async move {
                client
                    .oauth_component_access_token(&token, appid, &code)
                    .await
            }
        }))
        .await
        .map_err(exchange_error)?;
        if request.scope == OAuthScope::UserInfo {
            if !grant.granted(OAuthScope::UserInfo) {
                return Err(WebOAuthCallbackError::ScopeNotGranted(None));
            }
            self.keep_profile(appid, &grant).await?;
        }
        let key = self
            .settings
            .key
            .as_ref()
            .ok_or_else(|| WebOAuthCallbackError::Failed("no signing key".into()))?;
        Ok(result_location(
            key,
            request,
            &grant,
            self.tokens.context().now(),
        ))
    }

    async fn keep_profile(
        &self,
        appid: &AuthorizerAppId,
        grant: &UserGrant,
    ) -> Result<(), WebOAuthCallbackError> {
        let context = self.tokens.context();
        let mut profile = match context.client().sns_userinfo(grant).await {
            Ok(profile) => profile,
            Err(e) if e.errcode() == Some(48001) => {
                return Err(WebOAuthCallbackError::ScopeNotGranted(Some(e)));
            }
            Err(e) => return Err(WebOAuthCallbackError::Failed(Box::new(e))),
        };
        // The profile is the one of the user the code was for.
        profile.openid.clone_from(&grant.openid);
        if profile.unionid.is_none() {
            profile.unionid.clone_from(&grant.unionid);
        }
        let now = context.now();
        let user = WebUser {
            appid: appid.clone(),
            profile,
            authorized_at: now,
            expires_at: now + WEB_USER_RETENTION_SECS,
        };
        context
            .store()
            .put_web_user(context.component_appid(), &user)
            .await
            .map_err(|e| WebOAuthCallbackError::Failed(Box::new(e)))
    }
}

fn exchange_error(error: TokenError) -> WebOAuthCallbackError {
    match error {
        TokenError::Wechat(e) => match e.errcode() {
            Some(40029) => WebOAuthCallbackError::CodeInvalid(e),
            Some(40163) => WebOAuthCallbackError::CodeUsed(e),
            Some(48001) => WebOAuthCallbackError::NotPermitted(e),
            _ => WebOAuthCallbackError::Failed(Box::new(e)),
        },
        other => WebOAuthCallbackError::Failed(Box::new(other)),
    }
}

/// The provider's `redirect_uri` with the signed result.
fn result_location(
    key: &SigningKey,
    request: &WebOAuthRequest,
    grant: &UserGrant,
    ts: EpochSeconds,
) -> String {
    let state = request.provider_state.as_ref().map(ProviderState::as_str);
    let unionid = grant.unionid.as_deref().filter(|u| !u.is_empty());
    let sig = key.sign(&oauth_canonical_string(
        request.appid.as_str(),
        &grant.openid,
        request.scope.as_str(),
        state.unwrap_or(""),
        ts,
        unionid.unwrap_or(""),
    ));
    let mut url = request.redirect_uri.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("appid", request.appid.as_str());
        query.append_pair("openid", &grant.openid);
        if let Some(unionid) = unionid {
            query.append_pair("unionid", unionid);
        }
        query.append_pair("scope", request.scope.as_str());
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("ts", &ts.to_string());
        query.append_pair("sig", &sig);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec!["h5.example.com".to_owned(), "127.0.0.1:8080".to_owned()]
    }

    fn parse(query: &[(&str, &str)]) -> Result<WebOAuthRequest, WebOAuthRequestError> {
        WebOAuthRequest::parse("wx0123456789abcdef", query.iter().copied(), &hosts())
    }

    #[test]
    fn a_request_needs_an_allowed_host_a_known_scope_and_a_clean_redirect() {
        let ok = parse(&[
            ("redirect_uri", "https://H5.example.com/shop?x=1"),
            ("scope", "snsapi_userinfo"),
            ("state", "abc-1"),
        ])
        .unwrap();
        assert_eq!(ok.scope, OAuthScope::UserInfo);
        assert_eq!(ok.provider_state.unwrap().as_str(), "abc-1");
        assert_eq!(
            parse(&[("redirect_uri", "http://127.0.0.1:8080/p")])
                .unwrap()
                .scope,
            OAuthScope::Base
        );
        let cases: [(&[(&str, &str)], WebOAuthRequestError); 7] = [
            (&[], WebOAuthRequestError::RedirectUri),
            (
                &[("redirect_uri", "/relative")],
                WebOAuthRequestError::RedirectUri,
            ),
            (
                &[("redirect_uri", "https://evil.example.net/")],
                WebOAuthRequestError::RedirectHost("evil.example.net".into()),
            ),
            (
                // A host that only ends like an allowed one.
                &[("redirect_uri", "https://h5.example.com.evil.net/")],
                WebOAuthRequestError::RedirectHost("h5.example.com.evil.net".into()),
            ),
            (
                &[("redirect_uri", "https://h5.example.com/?sig=1")],
                WebOAuthRequestError::ReservedParam("sig"),
            ),
            (
                &[
                    ("redirect_uri", "https://h5.example.com/"),
                    ("scope", "snsapi_login"),
                ],
                WebOAuthRequestError::Scope,
            ),
            (
                &[
                    ("redirect_uri", "https://h5.example.com/"),
                    ("state", "has space"),
                ],
                WebOAuthRequestError::State,
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(parse(query).unwrap_err(), expected, "{query:?}");
        }
        assert_eq!(
            parse(&[
                ("redirect_uri", "https://h5.example.com/"),
                ("redirect_uri", "https://evil.example.net/")
            ])
            .unwrap_err(),
            WebOAuthRequestError::RedirectUri
        );
        assert_eq!(
            WebOAuthRequest::parse(
                "not an appid",
                [("redirect_uri", "https://h5.example.com/")],
                &hosts()
            )
            .unwrap_err(),
            WebOAuthRequestError::AppId
        );
    }

    fn key() -> SigningKey {
        SigningKey::new(Secret::new("k".repeat(40))).unwrap()
    }

    #[test]
    fn the_documented_example_result_verifies() {
        // docs/official-accounts.md, "Verifying the result".
        let key = SigningKey::new(Secret::new(
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZab",
        ))
        .unwrap();
        let query = "x=1&appid=wx1234567890abcdef&openid=oAbCdEfGhIjKlMnOpQrStUvWxYz0\
            &unionid=oUnion0123456789abcdefghijk&scope=snsapi_userinfo&state=order-42&ts=1700000000\
            &sig=862b9ff618ab122859f098dbff6fc5a1dc8cb3c67ce39eabbdb17f08a9df675e";
        let verified = verify_oauth_query(&key, query, 1_700_000_010, 300).unwrap();
        assert_eq!(verified.scope, OAuthScope::UserInfo);
        let doc = include_str!("../../../docs/official-accounts.md");
        assert!(doc.contains(&format!("https://h5.example.com/shop?{query}")));
    }

    #[test]
    fn the_cookie_opens_only_with_its_key_and_unchanged() {
        let pending = Pending {
            f: "a".repeat(64),
            a: "wx0123456789abcdef".into(),
            r: "https://h5.example.com/".into(),
            s: OAuthScope::Base,
            p: Some("st".into()),
        };
        let sealed = seal(&key(), &pending);
        assert_eq!(open(&key(), &sealed).unwrap().r, "https://h5.example.com/");
        let other = SigningKey::new(Secret::new("o".repeat(40))).unwrap();
        assert!(open(&other, &sealed).is_none());
        let (payload, sig) = sealed.split_once('.').unwrap();
        let forged = Pending {
            r: "https://evil.example.net/".into(),
            ..pending
        };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_ne!(forged_payload, payload);
        assert!(open(&key(), &format!("{forged_payload}.{sig}")).is_none());
    }

    #[test]
    fn a_signed_result_verifies_and_any_change_breaks_it() {
        let request = parse(&[
            ("redirect_uri", "https://h5.example.com/done?keep=1"),
            ("scope", "snsapi_userinfo"),
            ("state", "s1"),
        ])
        .unwrap();
        let grant: UserGrant = serde_json::from_str(
            r#"{"access_token":"t","openid":"oUser1","scope":"snsapi_userinfo","unionid":"oUnion1"}"#,
        )
        .unwrap();
        let location = result_location(&key(), &request, &grant, 1_700_000_000);
        assert!(!location.contains("access_token") && !location.contains("=t&"));
        let url = url::Url::parse(&location).unwrap();
        let query = url.query().unwrap();
        assert!(query.starts_with("keep=1&appid=wx0123456789abcdef&openid=oUser1&unionid=oUnion1"));
        let verified = verify_oauth_query(&key(), query, 1_700_000_100, 300).unwrap();
        assert_eq!(verified.openid, "oUser1");
        assert_eq!(verified.unionid.as_deref(), Some("oUnion1"));
        assert_eq!(verified.state.as_deref(), Some("s1"));
        assert_eq!(
            verify_oauth_query(
                &key(),
                &query.replace("oUser1", "oUser2"),
                1_700_000_100,
                300
            ),
            Err(WebUserVerifyError::Signature)
        );
        assert_eq!(
            verify_oauth_query(
                &key(),
                &query.replace("&unionid=oUnion1", ""),
                1_700_000_100,
                300
            ),
            Err(WebUserVerifyError::Signature)
        );
        assert_eq!(
            verify_oauth_query(&key(), query, 1_700_000_301, 300),
            Err(WebUserVerifyError::Stale)
        );
    }
}
