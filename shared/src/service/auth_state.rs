//! What ties the steps of one authorization to the browser that started it, and what the provider
//! receives at the end, signed.
//!
//! * [`FlowState`]: 32 random bytes (64 hex digits) minted by `/auth/go`. It goes into an HttpOnly
//!   cookie scoped to the callback's path and into the `redirect_uri` WeChat returns to. The callback
//!   goes on only when the two match, so a callback URL opened in another browser, replayed after
//!   use, or made up ends at a 400 page before any WeChat call or store write. This is the
//!   double-submit pattern: it holds as long as a third party cannot set cookies for our host.
//! * [`ProviderState`]: the provider's own correlation value, taken on the launch page, kept in the
//!   same cookie (the browser cannot be told apart from the merchant who started the flow anyway) and
//!   returned signed.
//! * [`SuccessRedirect`]: `AUTH_SUCCESS_URL` plus `appid`, `state`, `ts` and `sig`, the hex
//!   HMAC-SHA256 over [`success_canonical_string`]; [`verify_success_query`] is the provider's check.
//! * [`looks_like_auth_code`]: the shape of WeChat's auth codes, checked before a call is spent.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::secret::Secret;

/// The cookie that carries a flow's state from `/auth/go` to `/auth/callback`.
pub const STATE_COOKIE: &str = "wxc_auth_state";
/// The query parameter of the `redirect_uri` (and of the launch page) that carries a state.
pub const STATE_PARAM: &str = "state";
/// How long the state cookie lives: the pre-auth code's lifetime, within these bounds.
pub const STATE_COOKIE_MIN_AGE_SECS: i64 = 60;
pub const STATE_COOKIE_MAX_AGE_SECS: i64 = 1800;
/// The longest provider state accepted on the launch page.
pub const PROVIDER_STATE_MAX_LEN: usize = 128;
/// Every auth code WeChat issues starts with this.
pub const AUTH_CODE_PREFIX: &str = "queryauthcode@@@";
/// WeChat's codes carry 86 base64url characters after the prefix; this leaves room for change.
const AUTH_CODE_MAX_BODY_LEN: usize = 512;
/// The shortest `AUTH_SIGNING_SECRET` accepted (the template generates 64 characters).
pub const MIN_SIGNING_SECRET_LEN: usize = 32;
/// The query parameters the success redirect adds; `AUTH_SUCCESS_URL` must not carry them.
pub const SUCCESS_PARAMS: [&str; 4] = ["appid", "state", "ts", "sig"];
/// How old a success redirect a provider should accept at most (docs/architecture.md, "Verifying
/// the success redirect").
pub const SUCCESS_MAX_AGE_SECS: i64 = 300;
/// How far in the future a `ts` may be (clock skew between this stack and the provider).
pub const SUCCESS_MAX_SKEW_SECS: i64 = 60;
/// At most this many state cookies are looked at in one request.
const MAX_STATE_COOKIES: usize = 4;

/// A flow's own state: 64 lowercase hex digits. Compared in constant time; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct FlowState(String);

impl FlowState {
    /// 32 bytes from the thread-local CSPRNG.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(hex::encode(bytes))
    }

    /// A state as [`FlowState::random`] makes them, or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed =
            text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        well_formed.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this state, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        crate::crypto::ct_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

impl fmt::Debug for FlowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowState([redacted])")
    }
}

/// The provider's correlation value: 1 to 128 of `A-Z a-z 0-9 - _ . ~` (URL-safe as it is, so
/// the signed string and the query agree byte for byte). `Debug` hides it: it may be the
/// provider's own session nonce.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderState(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state must be 1 to 128 letters, digits, '-', '_', '.' or '~'")]
pub struct ProviderStateError;

impl ProviderState {
    pub fn parse(text: &str) -> Result<Self, ProviderStateError> {
        let well_formed = (1..=PROVIDER_STATE_MAX_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(ProviderStateError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProviderState([redacted])")
    }
}

/// What the state cookie holds: `<flow state>` or `<flow state>.<provider state>` (the flow state
/// has no `.`, so the first one separates them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCookie {
    pub flow: FlowState,
    pub provider_state: Option<ProviderState>,
}

impl StateCookie {
    /// A fresh flow state for a flow started with `provider_state`.
    pub fn new(provider_state: Option<ProviderState>) -> Self {
        Self {
            flow: FlowState::random(),
            provider_state,
        }
    }

    /// The cookie's value.
    pub fn value(&self) -> String {
        match &self.provider_state {
            Some(p) => format!("{}.{}", self.flow.as_str(), p.as_str()),
            None => self.flow.as_str().to_owned(),
        }
    }

    /// A value as [`StateCookie::value`] writes it, or `None`.
    pub fn parse_value(value: &str) -> Option<Self> {
        let (flow, provider) = match value.split_once('.') {
            Some((flow, provider)) => (flow, Some(provider)),
            None => (value, None),
        };
        Some(Self {
            flow: FlowState::parse(flow)?,
            provider_state: match provider {
                Some(p) => Some(ProviderState::parse(p).ok()?),
                None => None,
            },
        })
    }

    /// Every well-formed state cookie in `Cookie` header values (`a=1; b=2`), at most a few;
    /// malformed ones are skipped.
    pub fn from_cookie_headers<'a>(headers: impl IntoIterator<Item = &'a str>) -> Vec<Self> {
        headers
            .into_iter()
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                (name.trim() == STATE_COOKIE).then(|| value.trim().trim_matches('"'))
            })
            .take(MAX_STATE_COOKIES)
            .filter_map(Self::parse_value)
            .collect()
    }
}

/// Where the state cookie lives: the callback's path on the host the browser used, `Secure` when
/// that is https.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieScope {
    pub path: String,
    pub secure: bool,
}

impl CookieScope {
    /// The scope for a callback URL. A path a cookie attribute cannot carry (`;`, spaces, controls:
    /// only possible in a hand-written `AUTH_CALLBACK_URL`) falls back to `/`.
    pub fn for_callback(callback: &url::Url, secure: bool) -> Self {
        let path = callback.path();
        let usable =
            path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic() && b != b';');
        Self {
            path: if usable {
                path.to_owned()
            } else {
                "/".to_owned()
            },
            secure,
        }
    }

    /// The `Set-Cookie` value that stores `cookie` for `max_age_secs`.
    pub fn set(&self, cookie: &StateCookie, max_age_secs: i64) -> String {
        self.header(&cookie.value(), max_age_secs)
    }

    /// The `Set-Cookie` value that removes the state cookie.
    pub fn clear(&self) -> String {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age_secs: i64) -> String {
        // SameSite=Lax: WeChat's page sends the browser back with a top-level GET, which carries
        // Lax cookies; requests from other sites' pages do not.
        let mut header = format!(
            "{STATE_COOKIE}={value}; Path={}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax",
            self.path
        );
        if self.secure {
            header.push_str("; Secure");
        }
        header
    }
}

/// Whether `code` has the shape of WeChat's auth codes: the prefix, then 1 to 512 base64-ish
/// characters (`A-Z a-z 0-9 - _ + / = .`). Real ones carry 86 base64url characters; the bound is
/// loose on purpose, it only keeps junk from costing a WeChat call.
pub fn looks_like_auth_code(code: &str) -> bool {
    code.strip_prefix(AUTH_CODE_PREFIX).is_some_and(|body| {
        (1..=AUTH_CODE_MAX_BODY_LEN).contains(&body.len())
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_+/=.".contains(&b))
    })
}

// ----- the signed success redirect ---------------------------------------------------------------

/// The key of the success redirect's HMAC-SHA256: the bytes of `AUTH_SIGNING_SECRET`. Compared in
/// constant time; `Debug` hides it.
#[derive(Clone)]
pub struct SigningKey {
    secret: Secret,
    mac: Hmac<Sha256>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at least 32 characters")]
pub struct WeakSigningKey;

impl SigningKey {
    pub fn new(secret: Secret) -> Result<Self, WeakSigningKey> {
        if secret.expose().len() < MIN_SIGNING_SECRET_LEN {
            return Err(WeakSigningKey);
        }
        // HMAC takes keys of any length; the error cannot happen, but is not unwrapped.
        let mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| WeakSigningKey)?;
        Ok(Self { secret, mac })
    }

    /// The hex (lowercase) HMAC-SHA256 of `message`.
    pub fn sign(&self, message: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature_hex` (either case) is the HMAC of `message`, compared in constant time.
    pub fn verify(&self, message: &str, signature_hex: &str) -> bool {
        let Ok(signature) = hex::decode(signature_hex) else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(message.as_bytes());
        mac.verify_slice(&signature).is_ok()
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// The string the success redirect's `sig` is computed over: `appid=<appid>&state=<state>&ts=<ts>`,
/// the values exactly as they appear in the query (they need no escaping), `state` empty when the
/// flow had none.
pub fn success_canonical_string(appid: &str, state: &str, ts: impl fmt::Display) -> String {
    format!("appid={appid}&state={state}&ts={ts}")
}

/// `AUTH_SUCCESS_URL` and the key its redirects are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessRedirect {
    url: url::Url,
    key: SigningKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must not carry the query parameter `{0}`: the redirect adds it")]
pub struct ReservedSuccessParam(pub &'static str);

impl SuccessRedirect {
    pub fn new(url: url::Url, key: SigningKey) -> Result<Self, ReservedSuccessParam> {
        for (name, _) in url.query_pairs() {
            if let Some(reserved) = SUCCESS_PARAMS.iter().find(|p| **p == name) {
                return Err(ReservedSuccessParam(reserved));
            }
        }
        Ok(Self { url, key })
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The URL with `appid`, `state` (when the flow had one), `ts` and `sig` appended.
    pub fn location(
        &self,
        appid: &AuthorizerAppId,
        state: Option<&ProviderState>,
        ts: EpochSeconds,
    ) -> String {
        let state_text = state.map(ProviderState::as_str).unwrap_or("");
        let sig = self
            .key
            .sign(&success_canonical_string(appid.as_str(), state_text, ts));
        let mut url = self.url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("appid", appid.as_str());
            if let Some(state) = state {
                query.append_pair("state", state.as_str());
            }
            query.append_pair("ts", &ts.to_string());
            query.append_pair("sig", &sig);
        }
        url.into()
    }
}

/// What a verified success redirect says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSuccess {
    pub appid: AuthorizerAppId,
    /// The provider state the flow was started with; `None` when there was none.
    pub state: Option<String>,
    pub ts: EpochSeconds,
}

/// Why a signed query (the success redirect, a web authorization's result) was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedQueryError {
    #[error("the parameter `{0}` is missing or given more than once")]
    Param(&'static str),
    #[error("the signature does not match")]
    Signature,
    #[error("ts is not a time within the accepted age")]
    Stale,
    #[error("the parameter `{0}` is malformed")]
    Malformed(&'static str),
}

/// Why a success redirect was not accepted.
pub type SuccessVerifyError = SignedQueryError;

/// The parameters of a signed query as received, for checking it: each may be given once.
pub(super) struct SignedQuery(Vec<(String, String)>);

impl SignedQuery {
    pub(super) fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The value of `name`, `None` when absent; `Err(name)` when given more than once.
    pub(super) fn one(&self, name: &'static str) -> Result<Option<&str>, &'static str> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (value, None) => Ok(value),
            _ => Err(name),
        }
    }

    /// The value of `name`, which must be given once: `Err(name)` otherwise.
    pub(super) fn required(&self, name: &'static str) -> Result<&str, &'static str> {
        self.one(name)?.ok_or(name)
    }
}

/// `ts_text` as a time at most `max_age_secs` before `now` and at most [`SUCCESS_MAX_SKEW_SECS`]
/// after it, or `None`.
pub(super) fn fresh_ts(
    ts_text: &str,
    now: EpochSeconds,
    max_age_secs: i64,
) -> Option<EpochSeconds> {
    let ts: EpochSeconds = ts_text.parse().ok()?;
    (ts >= now.saturating_sub(max_age_secs) && ts <= now.saturating_add(SUCCESS_MAX_SKEW_SECS))
        .then_some(ts)
}

/// The provider's check of a success redirect's query (docs/architecture.md describes the same steps for
/// other languages): the signature over the canonical string, compared in constant time, then `ts`
/// at most `max_age_secs` old and at most [`SUCCESS_MAX_SKEW_SECS`] ahead of `now`.
pub fn verify_success_query(
    key: &SigningKey,
    query: &str,
    now: EpochSeconds,
    max_age_secs: i64,
) -> Result<VerifiedSuccess, SuccessVerifyError> {
    let query = SignedQuery::parse(query);
    let appid = query.required("appid").map_err(SuccessVerifyError::Param)?;
    let state = query.one("state").map_err(SuccessVerifyError::Param)?;
    let ts_text = query.required("ts").map_err(SuccessVerifyError::Param)?;
    let sig = query.required("sig").map_err(SuccessVerifyError::Param)?;
    if !key.verify(
        &success_canonical_string(appid, state.unwrap_or(""), ts_text),
        sig,
    ) {
        return Err(SuccessVerifyError::Signature);
    }
    let ts = fresh_ts(ts_text, now, max_age_secs).ok_or(SuccessVerifyError::Stale)?;
    Ok(VerifiedSuccess {
        appid: AuthorizerAppId::parse(appid).map_err(|_| SuccessVerifyError::Malformed("appid"))?,
        state: state.map(str::to_owned),
        ts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZab";

    fn key() -> SigningKey {
        SigningKey::new(Secret::new(SECRET)).unwrap()
    }

    #[test]
    fn flow_states_are_random_hex_and_compared_exactly() {
        let a = FlowState::random();
        let b = FlowState::random();
        assert_ne!(a, b);
        assert_eq!(FlowState::parse(a.as_str()), Some(a.clone()));
        assert!(a.matches(a.as_str()) && !a.matches(b.as_str()) && !a.matches(""));
        for bad in [
            "",
            "abc",
            &a.as_str().to_uppercase(),
            &format!("{}0", a.as_str()),
        ] {
            assert_eq!(FlowState::parse(bad), None, "{bad}");
        }
        assert_eq!(format!("{a:?}"), "FlowState([redacted])");
    }

    #[test]
    fn provider_states_are_limited_in_length_and_charset() {
        assert!(ProviderState::parse("order-42_x.y~z").is_ok());
        assert!(ProviderState::parse(&"a".repeat(128)).is_ok());
        for bad in ["", "a b", "a&b=c", "<x>", "é", &"a".repeat(129)] {
            assert_eq!(ProviderState::parse(bad), Err(ProviderStateError), "{bad}");
        }
    }

    #[test]
    fn the_state_cookie_round_trips_and_is_found_among_other_cookies() {
        let cookie = StateCookie::new(Some(ProviderState::parse("p.1").unwrap()));
        let value = cookie.value();
        assert_eq!(StateCookie::parse_value(&value), Some(cookie.clone()));
        let bare = StateCookie::new(None);
        assert_eq!(StateCookie::parse_value(&bare.value()), Some(bare.clone()));
        let header = format!("a=1; {STATE_COOKIE}={value}; {STATE_COOKIE}=junk");
        assert_eq!(
            StateCookie::from_cookie_headers([header.as_str(), "b=2"]),
            vec![cookie]
        );
        assert!(StateCookie::from_cookie_headers(["wxc_auth_stateX=1"]).is_empty());
    }

    #[test]
    fn the_cookie_is_http_only_lax_scoped_to_the_callback_and_secure_on_https() {
        let callback = url::Url::parse("https://h.example/prod/auth/callback").unwrap();
        let scope = CookieScope::for_callback(&callback, true);
        let cookie = StateCookie::new(None);
        assert_eq!(
            scope.set(&cookie, 1800),
            format!(
                "wxc_auth_state={}; Path=/prod/auth/callback; Max-Age=1800; HttpOnly; SameSite=Lax; Secure",
                cookie.flow.as_str()
            )
        );
        let plain = CookieScope::for_callback(&callback, false);
        assert_eq!(
            plain.clear(),
            "wxc_auth_state=; Path=/prod/auth/callback; Max-Age=0; HttpOnly; SameSite=Lax"
        );
        let odd = url::Url::parse("https://h.example/a;b/auth/callback").unwrap();
        assert_eq!(CookieScope::for_callback(&odd, true).path, "/");
    }

    #[test]
    fn auth_codes_need_the_prefix_and_a_bounded_base64ish_body() {
        for good in [
            "queryauthcode@@@YGWj2XtzxxwQQfpIW6VGOJvDALlLfFwSy9anTBQs0sEMXsXZMrTRVPbhXpmqh265vpKz_YIgj2bJ-WJR2oGABw",
            "queryauthcode@@@0123456789abcdef0123456789abcdef",
            "queryauthcode@@@made-up",
            "queryauthcode@@@a+b/c==",
        ] {
            assert!(looks_like_auth_code(good), "{good}");
        }
        for bad in [
            "",
            "queryauthcode@@@",
            "preauthcode@@@abc",
            "x",
            "queryauthcode@@@a b",
            "queryauthcode@@@<script>",
            &format!("queryauthcode@@@{}", "a".repeat(513)),
        ] {
            assert!(!looks_like_auth_code(bad), "{bad}");
        }
    }

    #[test]
    fn signing_keys_must_be_long_enough_and_hide_in_debug() {
        assert_eq!(
            SigningKey::new(Secret::new("short")).unwrap_err(),
            WeakSigningKey
        );
        assert_eq!(format!("{:?}", key()), "SigningKey([redacted])");
    }

    /// A known answer, computed independently with
    /// `printf %s 'appid=wx1234567890abcdef&state=order-42&ts=1700000000' | openssl dgst -sha256 -hmac "$SECRET"`.
    #[test]
    fn the_signature_is_hmac_sha256_over_the_canonical_string() {
        let canonical = success_canonical_string("wx1234567890abcdef", "order-42", 1_700_000_000);
        assert_eq!(
            canonical,
            "appid=wx1234567890abcdef&state=order-42&ts=1700000000"
        );
        assert_eq!(key().sign(&canonical), KNOWN_SIG);
    }

    const KNOWN_SIG: &str = "d247183f6586fc01937e179cb85e5e3aa7a45fe71f49bc29a33b6b7a9d94308b";

    #[test]
    fn a_signed_redirect_verifies_and_any_change_to_it_does_not() {
        let url = url::Url::parse("https://app.example.com/welcome?from=wechat").unwrap();
        let redirect = SuccessRedirect::new(url, key()).unwrap();
        let appid = AuthorizerAppId::parse("wx1234567890abcdef").unwrap();
        let state = ProviderState::parse("order-42").unwrap();
        let now = 1_700_000_000;
        let location = redirect.location(&appid, Some(&state), now);
        assert_eq!(
            location,
            format!(
                "https://app.example.com/welcome?from=wechat&appid=wx1234567890abcdef&state=order-42&ts=1700000000&sig={KNOWN_SIG}"
            )
        );
        let query = url::Url::parse(&location)
            .unwrap()
            .query()
            .unwrap()
            .to_owned();
        let verified = verify_success_query(&key(), &query, now + 10, 300).unwrap();
        assert_eq!(verified.appid, appid);
        assert_eq!(verified.state.as_deref(), Some("order-42"));

        let tampered = [
            query.replace("wx1234567890abcdef", "wx1234567890abcdee"),
            query.replace("order-42", "order-43"),
            query.replace("&state=order-42", ""),
            query.replace("ts=1700000000", "ts=1700000001"),
            query.replace(&KNOWN_SIG[..4], "0000"),
            format!("{query}&appid=wx1234567890abcdee"),
        ];
        for t in &tampered {
            assert!(verify_success_query(&key(), t, now, 300).is_err(), "{t}");
        }
        let other =
            SigningKey::new(Secret::new("another-secret-of-at-least-32-characters")).unwrap();
        assert_eq!(
            verify_success_query(&other, &query, now, 300),
            Err(SuccessVerifyError::Signature)
        );
        assert_eq!(
            verify_success_query(&key(), &query, now + 301, 300),
            Err(SuccessVerifyError::Stale)
        );
        assert_eq!(
            verify_success_query(&key(), &query, now - 61, 300),
            Err(SuccessVerifyError::Stale)
        );

        let stateless = redirect.location(&appid, None, now);
        assert!(!stateless.contains("state="));
        let query = url::Url::parse(&stateless)
            .unwrap()
            .query()
            .unwrap()
            .to_owned();
        assert_eq!(
            verify_success_query(&key(), &query, now, 300)
                .unwrap()
                .state,
            None
        );
    }

    #[test]
    fn a_success_url_may_not_carry_the_parameters_the_redirect_adds() {
        for name in SUCCESS_PARAMS {
            let url = url::Url::parse(&format!("https://app.example.com/?{name}=1")).unwrap();
            assert_eq!(
                SuccessRedirect::new(url, key()),
                Err(ReservedSuccessParam(name))
            );
        }
    }
}
