//! Configuration: one typed struct read from the environment at start-up.
//!
//! Every missing or malformed variable is named in one error, so a deploy fails once, not once per
//! variable. The names are a promise to users; do not rename them.

use crate::crypto::AesKey;
use crate::ids::ComponentAppId;
use crate::secret::Secret;
use std::collections::HashMap;
use std::fmt;

pub const COMPONENT_APPID: &str = "WECHAT_COMPONENT_APPID";
pub const COMPONENT_SECRET: &str = "WECHAT_COMPONENT_SECRET";
pub const TOKEN: &str = "WECHAT_TOKEN";
pub const ENCODING_AES_KEY: &str = "WECHAT_ENCODING_AES_KEY";
pub const ENCODING_AES_KEY_PREVIOUS: &str = "WECHAT_ENCODING_AES_KEY_PREVIOUS";
pub const API_BASE_URL: &str = "WECHAT_API_BASE_URL";
pub const TABLE_NAME: &str = "TABLE_NAME";
/// The EventBridge bus the product's events go to (name or ARN). Without it they wait in the
/// table's outbox.
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// `true` publishes the pushes the product does not act on as `Authorizer Message` events.
pub const PUBLISH_AUTHORIZER_MESSAGES: &str = "PUBLISH_AUTHORIZER_MESSAGES";
pub const API_KEY_SHA256: &str = "API_KEY_SHA256";
pub const REFRESH_CONCURRENCY: &str = "REFRESH_CONCURRENCY";
/// How many release campaign steps the campaign worker runs at once (1 to 64, default 16).
pub const CAMPAIGN_CONCURRENCY: &str = "CAMPAIGN_CONCURRENCY";
pub const DEFAULT_CAMPAIGN_CONCURRENCY: usize = 16;
pub const REFRESH_MARGIN_SECONDS: &str = "REFRESH_MARGIN_SECONDS";

pub const DEFAULT_API_BASE_URL: &str = "https://api.weixin.qq.com";
pub const DEFAULT_REFRESH_CONCURRENCY: usize = 16;
pub const DEFAULT_REFRESH_MARGIN_SECONDS: i64 = 900;

// The auth-redirect function's own, all optional (AUTH_SIGNING_SECRET is required with
// AUTH_SUCCESS_URL).
pub const AUTH_CALLBACK_URL: &str = "AUTH_CALLBACK_URL";
pub const AUTH_SUCCESS_URL: &str = "AUTH_SUCCESS_URL";
pub const AUTH_SIGNING_SECRET: &str = "AUTH_SIGNING_SECRET";
pub const AUTH_PAGE_BASE_URL: &str = "WECHAT_AUTH_PAGE_BASE_URL";
pub const MOBILE_AUTH_PAGE_BASE_URL: &str = "WECHAT_MOBILE_AUTH_PAGE_BASE_URL";
/// The hosts of the provider's pages web authorization may return to (comma-separated).
pub const OAUTH_REDIRECT_HOSTS: &str = "OAUTH_REDIRECT_HOSTS";
/// The provider's name, shown on the merchant-facing pages.
pub const BRAND_NAME: &str = "BRAND_NAME";
/// The SHA-256 (hex) of the operators' console key.
pub const CONSOLE_KEY_SHA256: &str = "CONSOLE_KEY_SHA256";

/// What every function needs to know about the component and where its state lives. The message
/// crypto's secrets are not here: only `ticket-callback` opens pushes ([`MessageConfig`]), so only
/// it is given them.
#[derive(Debug, Clone)]
pub struct Config {
    pub component_appid: ComponentAppId,
    pub component_secret: Secret,
    /// Base URL of WeChat's API (a simulator's in tests and local runs).
    pub api_base_url: url::Url,
    pub table_name: String,
    /// `EVENT_BUS_NAME`, if set.
    pub event_bus_name: Option<String>,
}

/// The push crypto's secrets (`WECHAT_TOKEN`, `WECHAT_ENCODING_AES_KEY`, optionally
/// `WECHAT_ENCODING_AES_KEY_PREVIOUS`), read by `ticket-callback` only.
#[derive(Debug, Clone)]
pub struct MessageConfig {
    /// The message `Token` set in the console, used for signatures.
    pub token: Secret,
    /// The current EncodingAESKey.
    pub aes_key: AesKey,
    /// The previous EncodingAESKey, tried after the current one while a rotation settles.
    pub aes_key_previous: Option<AesKey>,
}

impl MessageConfig {
    fn read(v: &mut Vars<'_>) -> Option<Self> {
        let token = v.required(TOKEN).map(Secret::new);
        let key = v.required(ENCODING_AES_KEY);
        let aes_key = v.parse(ENCODING_AES_KEY, key, AesKey::from_encoding_aes_key);
        let previous = v.optional(ENCODING_AES_KEY_PREVIOUS);
        let aes_key_previous = v.parse(
            ENCODING_AES_KEY_PREVIOUS,
            previous,
            AesKey::from_encoding_aes_key,
        );
        if previous.is_some() && aes_key_previous.is_none() {
            return None;
        }
        Some(Self {
            token: token?,
            aes_key: aes_key?,
            aes_key_previous,
        })
    }
}

/// One problem with one variable. Never contains the variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarProblem {
    pub name: &'static str,
    pub problem: String,
}

/// Every problem found, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<VarProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{} {}", p.name, p.problem)?;
        }
        Ok(())
    }
}

/// Reads variables from a map and collects problems instead of stopping at the first.
pub(crate) struct Vars<'a> {
    vars: &'a HashMap<String, String>,
    pub(crate) problems: Vec<VarProblem>,
}

impl<'a> Vars<'a> {
    pub(crate) fn new(vars: &'a HashMap<String, String>) -> Self {
        Self {
            vars,
            problems: Vec::new(),
        }
    }

    pub(crate) fn optional(&self, name: &'static str) -> Option<&'a str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn required(&mut self, name: &'static str) -> Option<&'a str> {
        let v = self.optional(name);
        if v.is_none() {
            self.problem(name, "is missing");
        }
        v
    }

    pub(crate) fn problem(&mut self, name: &'static str, problem: impl Into<String>) {
        self.problems.push(VarProblem {
            name,
            problem: problem.into(),
        });
    }

    /// Parse a variable with `parse`, recording its error message (which must not echo the value).
    pub(crate) fn parse<T, E: fmt::Display>(
        &mut self,
        name: &'static str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match parse(value?) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(name, format!("is malformed: {e}"));
                None
            }
        }
    }

    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

impl Config {
    /// Read the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Read from a map of variables (the environment, or a test's).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut v = Vars::new(vars);

        let appid = v.required(COMPONENT_APPID);
        let component_appid = v.parse(COMPONENT_APPID, appid, |s| ComponentAppId::parse(s));
        let component_secret = v.required(COMPONENT_SECRET).map(Secret::new);
        let base = v.optional(API_BASE_URL).unwrap_or(DEFAULT_API_BASE_URL);
        let api_base_url = v.parse(API_BASE_URL, Some(base), parse_base_url);
        let table_name = v.required(TABLE_NAME).map(str::to_owned);
        let event_bus_name = v.optional(EVENT_BUS_NAME).map(str::to_owned);
        if let Some(bus) = &event_bus_name
            && (bus.len() > 1600 || bus.chars().any(char::is_whitespace))
        {
            v.problem(EVENT_BUS_NAME, "must be an event bus name or ARN");
        }

        if let Some(t) = &table_name
            && !(3..=255).contains(&t.len())
        {
            v.problem(TABLE_NAME, "must be 3 to 255 characters");
        }
        v.finish()?;
        match (component_appid, component_secret, api_base_url, table_name) {
            (
                Some(component_appid),
                Some(component_secret),
                Some(api_base_url),
                Some(table_name),
            ) => Ok(Config {
                component_appid,
                component_secret,
                api_base_url,
                table_name,
                event_bus_name,
            }),
            // Unreachable: every None above recorded a problem and `finish` returned it.
            _ => Err(ConfigError { problems: vec![] }),
        }
    }
}

/// The authorization flow's settings (`AUTH_CALLBACK_URL`, `AUTH_SUCCESS_URL` with the
/// `AUTH_SIGNING_SECRET` its redirects are signed with, and the two page base URLs, which default
/// to WeChat's). Every missing or malformed variable is named at once.
pub fn auth_flow_settings(
    vars: &HashMap<String, String>,
) -> Result<crate::service::AuthFlowSettings, ConfigError> {
    use crate::service::auth_state::{ReservedSuccessParam, STATE_PARAM, SUCCESS_PARAMS};
    use crate::service::{
        DEFAULT_MOBILE_AUTH_PAGE_BASE, DEFAULT_PC_AUTH_PAGE_BASE, SuccessRedirect,
    };
    let mut v = Vars::new(vars);
    let callback = v.optional(AUTH_CALLBACK_URL);
    // The flow adds `state` to the callback URL and WeChat adds `auth_code` and `expires_in`.
    let callback_url = v.parse(AUTH_CALLBACK_URL, callback, |s| {
        let url = parse_base_url(s)?;
        match url
            .query_pairs()
            .find(|(name, _)| [STATE_PARAM, "auth_code", "expires_in"].contains(&name.as_ref()))
        {
            Some((name, _)) => Err(format!(
                "must not carry the query parameter `{name}`: the flow or WeChat adds it"
            )),
            None => Ok(url),
        }
    });
    let success = v.optional(AUTH_SUCCESS_URL);
    let success_url = v.parse(AUTH_SUCCESS_URL, success, |s| {
        let url = parse_base_url(s)?;
        match url
            .query_pairs()
            .find_map(|(name, _)| SUCCESS_PARAMS.iter().find(|p| **p == name))
        {
            Some(reserved) => Err(ReservedSuccessParam(reserved).to_string()),
            None => Ok(url),
        }
    });
    // Only needed to sign the success redirect; without AUTH_SUCCESS_URL it is not read.
    let secret = match success {
        Some(_) => signing_key(&mut v, AUTH_SUCCESS_URL),
        None => None,
    };
    let success_redirect = match (success_url, secret) {
        (Some(url), Some(key)) => SuccessRedirect::new(url, key).ok(),
        _ => None,
    };
    let pc = v
        .optional(AUTH_PAGE_BASE_URL)
        .unwrap_or(DEFAULT_PC_AUTH_PAGE_BASE);
    let pc_page_base = v.parse(AUTH_PAGE_BASE_URL, Some(pc), parse_base_url);
    let mobile = v
        .optional(MOBILE_AUTH_PAGE_BASE_URL)
        .unwrap_or(DEFAULT_MOBILE_AUTH_PAGE_BASE);
    let mobile_page_base = v.parse(MOBILE_AUTH_PAGE_BASE_URL, Some(mobile), parse_base_url);
    let brand_name = brand_name(&mut v);
    v.finish()?;
    match (pc_page_base, mobile_page_base) {
        (Some(pc_page_base), Some(mobile_page_base)) => Ok(crate::service::AuthFlowSettings {
            callback_url,
            success_redirect,
            pc_page_base,
            mobile_page_base,
            brand_name,
        }),
        // Unreachable: a None above recorded a problem.
        _ => Err(ConfigError { problems: vec![] }),
    }
}

/// `BRAND_NAME`, trimmed; at most 64 characters.
fn brand_name(v: &mut Vars<'_>) -> Option<String> {
    let brand_name = v
        .optional(BRAND_NAME)
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned);
    if brand_name.as_ref().is_some_and(|b| b.chars().count() > 64) {
        v.problem(BRAND_NAME, "must be at most 64 characters");
    }
    brand_name
}

/// `AUTH_SIGNING_SECRET`, which `needed_by` being set makes required.
fn signing_key(v: &mut Vars<'_>, needed_by: &str) -> Option<crate::service::SigningKey> {
    match v.optional(AUTH_SIGNING_SECRET) {
        Some(secret) => v.parse(AUTH_SIGNING_SECRET, Some(secret), |s| {
            crate::service::SigningKey::new(Secret::new(s))
        }),
        None => {
            v.problem(
                AUTH_SIGNING_SECRET,
                format!("is missing (required when {needed_by} is set)"),
            );
            None
        }
    }
}

/// One entry of `OAUTH_REDIRECT_HOSTS`: a host, or `host:port`, lowercase.
fn redirect_host(entry: &str) -> Result<String, String> {
    let entry = entry.to_ascii_lowercase();
    let parsed = url::Url::parse(&format!("https://{entry}/"))
        .ok()
        .filter(|u| u.path() == "/" && u.query().is_none() && u.username().is_empty());
    let recomposed = parsed.and_then(|u| {
        let host = u.host_str()?.to_owned();
        Some(match u.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    });
    match recomposed {
        Some(host) if host == entry || entry == format!("{host}:443") => Ok(host),
        _ => Err(format!(
            "`{entry}` is not a host (list hosts such as h5.example.com or 127.0.0.1:8080, not URLs)"
        )),
    }
}

/// The web authorization settings of auth-redirect's `/oauth` routes: `OAUTH_REDIRECT_HOSTS`
/// (`AUTH_SIGNING_SECRET` is required with it), WeChat's page base (the mobile authorization
/// page's, `open.weixin.qq.com`), and the callback on `AUTH_CALLBACK_URL`'s origin when that is set.
pub fn web_oauth_settings(
    vars: &HashMap<String, String>,
) -> Result<crate::service::WebOAuthSettings, ConfigError> {
    use crate::service::{CALLBACK_PATH, DEFAULT_MOBILE_AUTH_PAGE_BASE, OAUTH_CALLBACK_PATH};
    let mut v = Vars::new(vars);
    let mut redirect_hosts = Vec::new();
    for entry in v
        .optional(OAUTH_REDIRECT_HOSTS)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match redirect_host(entry) {
            Ok(host) => redirect_hosts.push(host),
            Err(problem) => v.problem(OAUTH_REDIRECT_HOSTS, problem),
        }
    }
    let key = if redirect_hosts.is_empty() {
        None
    } else {
        signing_key(&mut v, OAUTH_REDIRECT_HOSTS)
    };
    let base = v
        .optional(MOBILE_AUTH_PAGE_BASE_URL)
        .unwrap_or(DEFAULT_MOBILE_AUTH_PAGE_BASE);
    let page_base = v.parse(MOBILE_AUTH_PAGE_BASE_URL, Some(base), parse_base_url);
    let callback = v.optional(AUTH_CALLBACK_URL);
    let callback_url = v
        .parse(AUTH_CALLBACK_URL, callback, parse_base_url)
        .map(|mut url| {
            let path = url.path().to_owned();
            let prefix = path.strip_suffix(CALLBACK_PATH).unwrap_or("");
            url.set_path(&format!(
                "{}{OAUTH_CALLBACK_PATH}",
                prefix.trim_end_matches('/')
            ));
            url.set_query(None);
            url
        });
    v.finish()?;
    Ok(crate::service::WebOAuthSettings {
        redirect_hosts,
        key,
        // Unreachable default: a None above recorded a problem.
        page_base: page_base.unwrap_or_else(|| {
            url::Url::parse(DEFAULT_MOBILE_AUTH_PAGE_BASE).expect("a valid URL")
        }),
        callback_url,
    })
}

/// Two configuration results as one: both values, or every problem of both.
pub fn both<A, B>(
    a: Result<A, ConfigError>,
    b: Result<B, ConfigError>,
) -> Result<(A, B), ConfigError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => {
            let mut problems = Vec::new();
            for e in [a.err(), b.err()].into_iter().flatten() {
                problems.extend(e.problems);
            }
            Err(ConfigError { problems })
        }
    }
}

// ----- per-function configuration ------------------------------------------------------------

/// Runs the common [`Config`] and a function's own variables through one problem list, so that a
/// start-up error names every bad variable, common and specific.
fn with_common<T>(
    vars: &HashMap<String, String>,
    own: impl FnOnce(&mut Vars<'_>) -> Option<T>,
) -> Result<(Config, T), ConfigError> {
    let common = Config::from_vars(vars);
    let mut v = Vars::new(vars);
    let specific = own(&mut v);
    let mut problems = match &common {
        Err(e) => e.problems.clone(),
        Ok(_) => Vec::new(),
    };
    problems.append(&mut v.problems);
    match (common, specific) {
        (Ok(config), Some(specific)) if problems.is_empty() => Ok((config, specific)),
        _ => Err(ConfigError { problems }),
    }
}

/// The SHA-256 of the API's bearer key (`API_KEY_SHA256`). Only the digest is configured; a
/// presented key is hashed and the digests compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyDigest([u8; 32]);

impl ApiKeyDigest {
    /// 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let bytes = hex::decode(s).map_err(|_| "must be 64 hexadecimal digits".to_owned())?;
        let digest: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must be 64 hexadecimal digits".to_owned())?;
        Ok(Self(digest))
    }

    /// The digest of `key`, for tests and tools.
    pub fn of(key: &str) -> Self {
        use sha2::{Digest, Sha256};
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Whether `presented` is the key. Hashing first makes the comparison independent of the
    /// presented key's length, and the digests are compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        crate::crypto::ct_eq(&Self::of(presented).0, &self.0)
    }
}

impl fmt::Debug for ApiKeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyDigest([redacted])")
    }
}

/// The `campaign-worker` function's configuration.
#[derive(Debug, Clone)]
pub struct CampaignWorkerConfig {
    pub app: Config,
    /// Steps run at once (`CAMPAIGN_CONCURRENCY`, 1 to 64).
    pub concurrency: usize,
}

impl CampaignWorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (app, concurrency) = with_common(vars, |v| match v.optional(CAMPAIGN_CONCURRENCY) {
            None => Some(DEFAULT_CAMPAIGN_CONCURRENCY),
            some => v.parse(CAMPAIGN_CONCURRENCY, some, |s| {
                parse_in_range(s, 1..=64).map(|n| n as usize)
            }),
        })?;
        Ok(Self { app, concurrency })
    }
}

/// The `api` function's configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub app: Config,
    pub api_key: ApiKeyDigest,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (app, api_key) = with_common(vars, |v| {
            let hex = v.required(API_KEY_SHA256);
            v.parse(API_KEY_SHA256, hex, ApiKeyDigest::from_hex)
        })?;
        Ok(Self { app, api_key })
    }
}

/// The `console` function's configuration: the operators' key digest (`CONSOLE_KEY_SHA256`), the
/// key sessions are signed with (`AUTH_SIGNING_SECRET`, required), where the merchants'
/// authorization page is (from `AUTH_CALLBACK_URL`, optional) and the provider's name.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub app: Config,
    pub console_key: ApiKeyDigest,
    pub signing_key: crate::service::SigningKey,
    pub auth_callback_url: Option<url::Url>,
    pub brand_name: Option<String>,
}

impl ConsoleConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (app, (console_key, signing_key, auth_callback_url, brand_name)) =
            with_common(vars, |v| {
                let hex = v.required(CONSOLE_KEY_SHA256);
                let key = v.parse(CONSOLE_KEY_SHA256, hex, ApiKeyDigest::from_hex);
                let signing = signing_key(v, CONSOLE_KEY_SHA256);
                let callback = v.optional(AUTH_CALLBACK_URL);
                let callback = v.parse(AUTH_CALLBACK_URL, callback, parse_base_url);
                let brand = brand_name(v);
                Some((key?, signing?, callback, brand))
            })?;
        Ok(Self {
            app,
            console_key,
            signing_key,
            auth_callback_url,
            brand_name,
        })
    }
}

/// The `token-refresher` function's configuration.
#[derive(Debug, Clone)]
pub struct RefresherConfig {
    pub app: Config,
    /// How many authorizer tokens are refreshed at once (`REFRESH_CONCURRENCY`, 1 to 128).
    pub concurrency: usize,
    /// A token with this much life left or less is refreshed (`REFRESH_MARGIN_SECONDS`, 60 to
    /// 3600). It must exceed the schedule's interval, or tokens expire between two runs.
    pub margin_secs: i64,
}

impl RefresherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (app, (concurrency, margin_secs)) = with_common(vars, |v| {
            let concurrency = v.optional(REFRESH_CONCURRENCY);
            let concurrency = match concurrency {
                None => Some(DEFAULT_REFRESH_CONCURRENCY),
                some => v.parse(REFRESH_CONCURRENCY, some, |s| {
                    parse_in_range(s, 1..=128).map(|n| n as usize)
                }),
            };
            let margin = v.optional(REFRESH_MARGIN_SECONDS);
            let margin = match margin {
                None => Some(DEFAULT_REFRESH_MARGIN_SECONDS),
                some => v.parse(REFRESH_MARGIN_SECONDS, some, |s| {
                    parse_in_range(s, 60..=3600)
                }),
            };
            Some((concurrency?, margin?))
        })?;
        Ok(Self {
            app,
            concurrency,
            margin_secs,
        })
    }
}

/// The `ticket-callback` function's configuration: the common part and the push crypto's secrets.
#[derive(Debug, Clone)]
pub struct TicketCallbackConfig {
    pub app: Config,
    pub message: MessageConfig,
    /// `PUBLISH_AUTHORIZER_MESSAGES`: `true` or `false` (the default).
    pub publish_messages: bool,
}

impl TicketCallbackConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let (app, (message, publish_messages)) = with_common(vars, |v| {
            let message = MessageConfig::read(v);
            let flag = v.optional(PUBLISH_AUTHORIZER_MESSAGES);
            let publish = v.parse(
                PUBLISH_AUTHORIZER_MESSAGES,
                Some(flag.unwrap_or("false")),
                |s| match s {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err("must be true or false".to_owned()),
                },
            );
            Some((message?, publish?))
        })?;
        Ok(Self {
            app,
            message,
            publish_messages,
        })
    }
}

fn parse_in_range(s: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, String> {
    let bounds = format!(
        "must be a whole number from {} to {}",
        range.start(),
        range.end()
    );
    match s.parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(bounds),
    }
}

fn parse_base_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http(s) URL with a host".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    /// What every function is given.
    fn complete() -> HashMap<String, String> {
        vars(&[
            (COMPONENT_APPID, "wx1234567890abcdef"),
            (COMPONENT_SECRET, "s3cr3t-value"),
            (TABLE_NAME, "wechat-component"),
        ])
    }

    /// What `ticket-callback` is given.
    fn with_message_secrets() -> HashMap<String, String> {
        let mut v = complete();
        v.insert(TOKEN.into(), "tok-value".into());
        v.insert(ENCODING_AES_KEY.into(), KEY.into());
        v
    }

    #[test]
    fn a_complete_environment_parses_with_the_default_base_url() {
        let c = Config::from_vars(&complete()).unwrap();
        assert_eq!(c.component_appid.as_str(), "wx1234567890abcdef");
        assert_eq!(c.api_base_url.as_str(), "https://api.weixin.qq.com/");
        assert_eq!(c.table_name, "wechat-component");
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = Config::from_vars(&HashMap::new()).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, vec![COMPONENT_APPID, COMPONENT_SECRET, TABLE_NAME]);
        assert!(
            err.to_string()
                .contains("WECHAT_COMPONENT_SECRET is missing")
        );
    }

    #[test]
    fn only_the_ticket_callback_needs_the_message_token_and_aes_keys() {
        // The other functions start without them (the template does not give them these secrets).
        assert!(Config::from_vars(&complete()).is_ok());
        assert!(ApiConfig::from_vars(&complete_with(API_KEY_SHA256, KEY_DIGEST)).is_ok());
        assert!(RefresherConfig::from_vars(&complete()).is_ok());

        let err = TicketCallbackConfig::from_vars(&complete()).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, vec![TOKEN, ENCODING_AES_KEY]);
        let c = TicketCallbackConfig::from_vars(&with_message_secrets()).unwrap();
        assert!(c.message.aes_key_previous.is_none());
        assert!(
            !c.publish_messages,
            "messages are not passed on unless asked"
        );
        assert_eq!(c.app.event_bus_name, None);
        let mut asked = with_message_secrets();
        asked.insert(PUBLISH_AUTHORIZER_MESSAGES.into(), "true".into());
        asked.insert(EVENT_BUS_NAME.into(), "wxc-events".into());
        let c = TicketCallbackConfig::from_vars(&asked).unwrap();
        assert!(c.publish_messages);
        assert_eq!(c.app.event_bus_name.as_deref(), Some("wxc-events"));
        asked.insert(PUBLISH_AUTHORIZER_MESSAGES.into(), "yes".into());
        let err = TicketCallbackConfig::from_vars(&asked).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, vec![PUBLISH_AUTHORIZER_MESSAGES]);
        assert_eq!(c.app.table_name, "wechat-component");
        let err = TicketCallbackConfig::from_vars(&HashMap::new()).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec![
                COMPONENT_APPID,
                COMPONENT_SECRET,
                TABLE_NAME,
                TOKEN,
                ENCODING_AES_KEY
            ]
        );
    }

    #[test]
    fn the_console_needs_its_key_digest_and_the_signing_secret_and_finds_the_launch_page() {
        let err = ConsoleConfig::from_vars(&complete()).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, vec![CONSOLE_KEY_SHA256, AUTH_SIGNING_SECRET]);
        let mut v = complete();
        v.insert(CONSOLE_KEY_SHA256.into(), "ab".repeat(32));
        v.insert(
            AUTH_SIGNING_SECRET.into(),
            "console-signing-secret-0123456789abcdef".into(),
        );
        v.insert(
            AUTH_CALLBACK_URL.into(),
            "https://h.example/prod/auth/callback".into(),
        );
        let c = ConsoleConfig::from_vars(&v).unwrap();
        assert_eq!(
            c.console_key,
            ApiKeyDigest::from_hex(&"ab".repeat(32)).unwrap()
        );
        assert_eq!(
            c.auth_callback_url.map(|u| u.to_string()).as_deref(),
            Some("https://h.example/prod/auth/callback")
        );
        v.insert(CONSOLE_KEY_SHA256.into(), "not-hex".into());
        v.insert(AUTH_SIGNING_SECRET.into(), "short".into());
        let err = ConsoleConfig::from_vars(&v).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, vec![CONSOLE_KEY_SHA256, AUTH_SIGNING_SECRET]);
        assert!(!err.to_string().contains("short"), "{err}");
    }

    #[test]
    fn malformed_variables_are_named_without_echoing_their_values() {
        let mut v = with_message_secrets();
        v.insert(ENCODING_AES_KEY.into(), "too-short-secret-key".into());
        v.insert(
            ENCODING_AES_KEY_PREVIOUS.into(),
            "also-bad-previous-key".into(),
        );
        v.insert(API_BASE_URL.into(), "ftp://example.com".into());
        v.insert(COMPONENT_APPID.into(), "wx 12".into());
        let err = TicketCallbackConfig::from_vars(&v).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec![
                COMPONENT_APPID,
                API_BASE_URL,
                ENCODING_AES_KEY,
                ENCODING_AES_KEY_PREVIOUS
            ]
        );
        let text = err.to_string();
        assert!(!text.contains("too-short-secret-key") && !text.contains("also-bad-previous-key"));
    }

    const KEY_DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn the_api_config_needs_a_well_formed_key_digest_and_names_it_with_the_common_problems() {
        let mut v = complete();
        v.insert(API_KEY_SHA256.into(), KEY_DIGEST.to_uppercase());
        let c = ApiConfig::from_vars(&v).unwrap();
        assert!(c.api_key.matches("test") && !c.api_key.matches("tesT"));
        assert!(!format!("{c:?}").contains("9f86d0"));

        let mut v = complete();
        v.remove(TABLE_NAME);
        let names = |e: ConfigError| e.problems.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(
            names(ApiConfig::from_vars(&v).unwrap_err()),
            vec![TABLE_NAME, API_KEY_SHA256]
        );
        for bad in [
            "abc",
            &KEY_DIGEST[..62],
            &format!("{}zz", &KEY_DIGEST[..62]),
        ] {
            let err = ApiConfig::from_vars(&complete_with(API_KEY_SHA256, bad)).unwrap_err();
            assert_eq!(names(err.clone()), vec![API_KEY_SHA256]);
            assert!(err.to_string().contains("API_KEY_SHA256 is malformed"));
        }
    }

    fn complete_with(name: &str, value: &str) -> HashMap<String, String> {
        let mut v = complete();
        v.insert(name.into(), value.into());
        v
    }

    #[test]
    fn the_refresher_config_has_defaults_and_bounds() {
        let c = RefresherConfig::from_vars(&complete()).unwrap();
        assert_eq!((c.concurrency, c.margin_secs), (16, 900));
        let mut v = complete_with(REFRESH_CONCURRENCY, "64");
        v.insert(REFRESH_MARGIN_SECONDS.into(), "1200".into());
        let c = RefresherConfig::from_vars(&v).unwrap();
        assert_eq!((c.concurrency, c.margin_secs), (64, 1200));

        let mut v = complete_with(REFRESH_CONCURRENCY, "0");
        v.insert(REFRESH_MARGIN_SECONDS.into(), "7200".into());
        let err = RefresherConfig::from_vars(&v).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(names, vec![REFRESH_CONCURRENCY, REFRESH_MARGIN_SECONDS]);
        assert!(RefresherConfig::from_vars(&complete_with(REFRESH_CONCURRENCY, "many")).is_err());
    }

    #[test]
    fn the_auth_flow_variables_are_optional_and_malformed_ones_are_named_with_the_rest() {
        let settings = auth_flow_settings(&HashMap::new()).unwrap();
        assert_eq!(settings.callback_url, None);
        assert_eq!(settings.pc_page_base.as_str(), "https://mp.weixin.qq.com/");
        assert_eq!(
            settings.mobile_page_base.as_str(),
            "https://open.weixin.qq.com/"
        );

        let set = vars(&[
            (AUTH_CALLBACK_URL, "https://auth.example.com/auth/callback"),
            (AUTH_SUCCESS_URL, "https://app.example.com/welcome"),
            (AUTH_SIGNING_SECRET, SIGNING_SECRET),
            (AUTH_PAGE_BASE_URL, "http://127.0.0.1:9100"),
        ]);
        let settings = auth_flow_settings(&set).unwrap();
        assert_eq!(
            settings.callback_url.unwrap().as_str(),
            "https://auth.example.com/auth/callback"
        );
        assert_eq!(settings.pc_page_base.as_str(), "http://127.0.0.1:9100/");

        let bad = vars(&[
            (AUTH_CALLBACK_URL, "not a url"),
            (AUTH_SUCCESS_URL, "ftp://x"),
        ]);
        let err = both(Config::from_vars(&HashMap::new()), auth_flow_settings(&bad)).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec![
                COMPONENT_APPID,
                COMPONENT_SECRET,
                TABLE_NAME,
                AUTH_CALLBACK_URL,
                AUTH_SUCCESS_URL,
                AUTH_SIGNING_SECRET
            ]
        );
    }

    const SIGNING_SECRET: &str = "generated-by-the-stack-0123456789abcdefghijklmnopqrstuvwxyz01";

    #[test]
    fn the_signing_secret_is_required_with_a_success_url_and_must_be_long() {
        let names = |e: ConfigError| e.problems.iter().map(|p| p.name).collect::<Vec<_>>();
        let success = "https://app.example.com/welcome?from=wechat";

        let err = auth_flow_settings(&vars(&[(AUTH_SUCCESS_URL, success)])).unwrap_err();
        assert_eq!(names(err.clone()), vec![AUTH_SIGNING_SECRET]);
        assert!(
            err.to_string()
                .contains("AUTH_SIGNING_SECRET is missing (required when AUTH_SUCCESS_URL is set)"),
            "{err}"
        );

        let short = "too-short-to-sign-with";
        let err = auth_flow_settings(&vars(&[
            (AUTH_SUCCESS_URL, success),
            (AUTH_SIGNING_SECRET, short),
        ]))
        .unwrap_err();
        assert_eq!(names(err.clone()), vec![AUTH_SIGNING_SECRET]);
        assert!(!err.to_string().contains(short), "the value is not echoed");

        let settings = auth_flow_settings(&vars(&[
            (AUTH_SUCCESS_URL, success),
            (AUTH_SIGNING_SECRET, SIGNING_SECRET),
        ]))
        .unwrap();
        let redirect = settings.success_redirect.unwrap();
        assert_eq!(redirect.url().as_str(), success);
        assert!(!format!("{redirect:?}").contains(SIGNING_SECRET));

        // Without a success URL nothing is signed, and the secret is not needed (nor read).
        let settings = auth_flow_settings(&vars(&[(AUTH_SIGNING_SECRET, "short")])).unwrap();
        assert!(settings.success_redirect.is_none());
    }

    #[test]
    fn urls_may_not_carry_the_parameters_the_flow_adds() {
        let names = |e: ConfigError| e.problems.iter().map(|p| p.name).collect::<Vec<_>>();
        for (callback, success) in [
            (
                "https://a.example/auth/callback?state=1",
                "https://b.example/?ok=1",
            ),
            (
                "https://a.example/auth/callback?auth_code=1",
                "https://b.example/?sig=1",
            ),
            (
                "https://a.example/auth/callback?expires_in=1",
                "https://b.example/?appid=1",
            ),
        ] {
            let err = auth_flow_settings(&vars(&[
                (AUTH_CALLBACK_URL, callback),
                (AUTH_SUCCESS_URL, success),
                (AUTH_SIGNING_SECRET, SIGNING_SECRET),
            ]))
            .unwrap_err();
            let expected = if success.ends_with("ok=1") {
                vec![AUTH_CALLBACK_URL]
            } else {
                vec![AUTH_CALLBACK_URL, AUTH_SUCCESS_URL]
            };
            assert_eq!(names(err), expected, "{callback} {success}");
        }
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let mut v = with_message_secrets();
        v.insert(ENCODING_AES_KEY_PREVIOUS.into(), KEY.into());
        let c = TicketCallbackConfig::from_vars(&v).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("s3cr3t-value") && !debug.contains("tok-value") && !debug.contains(KEY)
        );
        assert!(c.message.aes_key_previous.is_some());
    }

    #[test]
    fn web_authorization_takes_listed_hosts_needs_the_signing_secret_and_follows_the_callback_url()
    {
        let names = |e: ConfigError| e.problems.iter().map(|p| p.name).collect::<Vec<_>>();
        let off = web_oauth_settings(&HashMap::new()).unwrap();
        assert!(off.redirect_hosts.is_empty() && off.key.is_none() && off.callback_url.is_none());
        assert_eq!(off.page_base.as_str(), "https://open.weixin.qq.com/");

        let secret = "a-signing-secret-of-at-least-32-characters";
        let on = web_oauth_settings(&vars(&[
            (
                OAUTH_REDIRECT_HOSTS,
                " H5.example.com, 127.0.0.1:9100 ,,shop.example.com:443",
            ),
            (AUTH_SIGNING_SECRET, secret),
            (
                AUTH_CALLBACK_URL,
                "https://auth.example.com/prod/auth/callback",
            ),
            (MOBILE_AUTH_PAGE_BASE_URL, "http://127.0.0.1:9100"),
        ]))
        .unwrap();
        assert_eq!(
            on.redirect_hosts,
            ["h5.example.com", "127.0.0.1:9100", "shop.example.com"]
        );
        assert!(on.key.is_some());
        assert_eq!(
            on.callback_url.unwrap().as_str(),
            "https://auth.example.com/prod/oauth/callback"
        );
        assert_eq!(on.page_base.as_str(), "http://127.0.0.1:9100/");

        let err =
            web_oauth_settings(&vars(&[(OAUTH_REDIRECT_HOSTS, "h5.example.com")])).unwrap_err();
        assert_eq!(names(err.clone()), vec![AUTH_SIGNING_SECRET]);
        assert!(
            err.to_string()
                .contains("required when OAUTH_REDIRECT_HOSTS is set"),
            "{err}"
        );
        for bad in [
            "https://h5.example.com",
            "h5.example.com/path",
            "user@h5.example.com",
            "a b",
        ] {
            let err = web_oauth_settings(&vars(&[
                (OAUTH_REDIRECT_HOSTS, bad),
                (AUTH_SIGNING_SECRET, secret),
            ]))
            .unwrap_err();
            assert_eq!(names(err), vec![OAUTH_REDIRECT_HOSTS], "{bad}");
        }
    }

    #[test]
    fn the_brand_name_is_optional_trimmed_and_short() {
        assert_eq!(
            auth_flow_settings(&HashMap::new()).unwrap().brand_name,
            None
        );
        let set = auth_flow_settings(&vars(&[(BRAND_NAME, "  云店 SaaS ")])).unwrap();
        assert_eq!(set.brand_name.as_deref(), Some("云店 SaaS"));
        assert_eq!(
            auth_flow_settings(&vars(&[(BRAND_NAME, " ")]))
                .unwrap()
                .brand_name,
            None
        );
        let err = auth_flow_settings(&vars(&[(BRAND_NAME, &"店".repeat(65))])).unwrap_err();
        assert_eq!(err.problems[0].name, BRAND_NAME);
    }
}
