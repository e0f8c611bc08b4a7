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

pub const DEFAULT_API_BASE_URL: &str = "https://api.weixin.qq.com";

// The auth-redirect function's own, all optional.
pub const AUTH_CALLBACK_URL: &str = "AUTH_CALLBACK_URL";
pub const AUTH_SUCCESS_URL: &str = "AUTH_SUCCESS_URL";
pub const AUTH_PAGE_BASE_URL: &str = "WECHAT_AUTH_PAGE_BASE_URL";
pub const MOBILE_AUTH_PAGE_BASE_URL: &str = "WECHAT_MOBILE_AUTH_PAGE_BASE_URL";

/// What the functions need to know about the component and where its state lives.
#[derive(Debug, Clone)]
pub struct Config {
    pub component_appid: ComponentAppId,
    pub component_secret: Secret,
    /// The message `Token` set in the console, used for signatures.
    pub token: Secret,
    /// The current EncodingAESKey.
    pub aes_key: AesKey,
    /// The previous EncodingAESKey, tried after the current one while a rotation settles.
    pub aes_key_previous: Option<AesKey>,
    /// Base URL of WeChat's API (a simulator's in tests and local runs).
    pub api_base_url: url::Url,
    pub table_name: String,
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
        let token = v.required(TOKEN).map(Secret::new);
        let key = v.required(ENCODING_AES_KEY);
        let aes_key = v.parse(ENCODING_AES_KEY, key, AesKey::from_encoding_aes_key);
        let previous = v.optional(ENCODING_AES_KEY_PREVIOUS);
        let aes_key_previous = v.parse(
            ENCODING_AES_KEY_PREVIOUS,
            previous,
            AesKey::from_encoding_aes_key,
        );
        let base = v.optional(API_BASE_URL).unwrap_or(DEFAULT_API_BASE_URL);
        let api_base_url = v.parse(API_BASE_URL, Some(base), parse_base_url);
        let table_name = v.required(TABLE_NAME).map(str::to_owned);

        if let Some(t) = &table_name
            && !(3..=255).contains(&t.len())
        {
            v.problem(TABLE_NAME, "must be 3 to 255 characters");
        }
        v.finish()?;
        match (
            component_appid,
            component_secret,
            token,
            aes_key,
            api_base_url,
            table_name,
        ) {
            (
                Some(component_appid),
                Some(component_secret),
                Some(token),
                Some(aes_key),
                Some(api_base_url),
                Some(table_name),
            ) => Ok(Config {
                component_appid,
                component_secret,
                token,
                aes_key,
                aes_key_previous,
                api_base_url,
                table_name,
            }),
            // Unreachable: every None above recorded a problem and `finish` returned it.
            _ => Err(ConfigError { problems: vec![] }),
        }
    }
}

/// The authorization flow's settings (`AUTH_CALLBACK_URL`, `AUTH_SUCCESS_URL`, and the two page
/// base URLs, which default to WeChat's). Every malformed variable is named at once.
pub fn auth_flow_settings(
    vars: &HashMap<String, String>,
) -> Result<crate::service::AuthFlowSettings, ConfigError> {
    use crate::service::{DEFAULT_MOBILE_AUTH_PAGE_BASE, DEFAULT_PC_AUTH_PAGE_BASE};
    let mut v = Vars::new(vars);
    let callback = v.optional(AUTH_CALLBACK_URL);
    let callback_url = v.parse(AUTH_CALLBACK_URL, callback, parse_base_url);
    let success = v.optional(AUTH_SUCCESS_URL);
    let success_url = v.parse(AUTH_SUCCESS_URL, success, parse_base_url);
    let pc = v
        .optional(AUTH_PAGE_BASE_URL)
        .unwrap_or(DEFAULT_PC_AUTH_PAGE_BASE);
    let pc_page_base = v.parse(AUTH_PAGE_BASE_URL, Some(pc), parse_base_url);
    let mobile = v
        .optional(MOBILE_AUTH_PAGE_BASE_URL)
        .unwrap_or(DEFAULT_MOBILE_AUTH_PAGE_BASE);
    let mobile_page_base = v.parse(MOBILE_AUTH_PAGE_BASE_URL, Some(mobile), parse_base_url);
    v.finish()?;
    match (pc_page_base, mobile_page_base) {
        (Some(pc_page_base), Some(mobile_page_base)) => Ok(crate::service::AuthFlowSettings {
            callback_url,
            success_url,
            pc_page_base,
            mobile_page_base,
        }),
        // Unreachable: a None above recorded a problem.
        _ => Err(ConfigError { problems: vec![] }),
    }
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

    fn complete() -> HashMap<String, String> {
        vars(&[
            (COMPONENT_APPID, "wx1234567890abcdef"),
            (COMPONENT_SECRET, "s3cr3t-value"),
            (TOKEN, "tok-value"),
            (ENCODING_AES_KEY, KEY),
            (TABLE_NAME, "wechat-component"),
        ])
    }

    #[test]
    fn a_complete_environment_parses_with_the_default_base_url() {
        let c = Config::from_vars(&complete()).unwrap();
        assert_eq!(c.component_appid.as_str(), "wx1234567890abcdef");
        assert_eq!(c.api_base_url.as_str(), "https://api.weixin.qq.com/");
        assert!(c.aes_key_previous.is_none());
        assert_eq!(c.table_name, "wechat-component");
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = Config::from_vars(&HashMap::new()).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec![
                COMPONENT_APPID,
                COMPONENT_SECRET,
                TOKEN,
                ENCODING_AES_KEY,
                TABLE_NAME
            ]
        );
        assert!(
            err.to_string()
                .contains("WECHAT_COMPONENT_SECRET is missing")
        );
    }

    #[test]
    fn malformed_variables_are_named_without_echoing_their_values() {
        let mut v = complete();
        v.insert(ENCODING_AES_KEY.into(), "too-short-secret-key".into());
        v.insert(
            ENCODING_AES_KEY_PREVIOUS.into(),
            "also-bad-previous-key".into(),
        );
        v.insert(API_BASE_URL.into(), "ftp://example.com".into());
        v.insert(COMPONENT_APPID.into(), "wx 12".into());
        let err = Config::from_vars(&v).unwrap_err();
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec![
                COMPONENT_APPID,
                ENCODING_AES_KEY,
                ENCODING_AES_KEY_PREVIOUS,
                API_BASE_URL
            ]
        );
        let text = err.to_string();
        assert!(!text.contains("too-short-secret-key") && !text.contains("also-bad-previous-key"));
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
                TOKEN,
                ENCODING_AES_KEY,
                TABLE_NAME,
                AUTH_CALLBACK_URL,
                AUTH_SUCCESS_URL
            ]
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let mut v = complete();
        v.insert(ENCODING_AES_KEY_PREVIOUS.into(), KEY.into());
        let c = Config::from_vars(&v).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("s3cr3t-value") && !debug.contains("tok-value") && !debug.contains(KEY)
        );
        assert!(c.aes_key_previous.is_some());
    }
}
