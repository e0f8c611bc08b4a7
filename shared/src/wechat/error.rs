//! What can go wrong when calling WeChat, as variants callers can branch on.
//!
//! No variant carries a URL, a request body or a response body: URLs carry tokens in their query
//! strings and bodies carry tickets, codes and secrets. Only the path (without query) is kept.

use std::fmt;

/// WeChat's `errcode` values this project reacts to (see docs/wechat-protocol.md, "Error codes
/// acted on").
pub mod errcode {
    /// System busy: retry with backoff.
    pub const SYSTEM_BUSY: i64 = -1;
    /// Invalid credential / token not the latest.
    pub const INVALID_CREDENTIAL: i64 = 40001;
    /// Invalid access token.
    pub const INVALID_ACCESS_TOKEN: i64 = 40014;
    /// Access token expired.
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    /// Daily API quota reached.
    pub const DAILY_QUOTA_REACHED: i64 = 45009;
    /// Calls too frequent.
    pub const TOO_FREQUENT: i64 = 45011;
    /// Quota reset budget (10 a month) used up.
    pub const CLEAR_QUOTA_BUDGET_USED: i64 = 48006;
    /// The authorizer no longer authorizes the component.
    pub const NOT_AUTHORIZED: i64 = 61003;
    /// The caller's IP is not whitelisted.
    pub const IP_NOT_WHITELISTED: i64 = 61004;
    /// component_verify_ticket expired.
    pub const TICKET_EXPIRED: i64 = 61005;
    /// component_verify_ticket invalid.
    pub const TICKET_INVALID: i64 = 61006;
    /// A permission set the call needs was not granted.
    pub const PERMISSION_NOT_GRANTED: i64 = 61007;
    /// Authorization code invalid.
    pub const AUTH_CODE_INVALID: i64 = 61009;
    /// Authorization code expired.
    pub const AUTH_CODE_EXPIRED: i64 = 61010;
    /// authorizer_refresh_token invalid: the merchant must authorize again.
    pub const REFRESH_TOKEN_INVALID: i64 = 61023;
    /// `release`: the latest approved version is already released.
    pub const ALREADY_RELEASED: i64 = 85052;
    /// `undocodeaudit`: the mini program's withdrawals (5 a day, 10 a month) are spent.
    pub const WITHDRAWALS_SPENT: i64 = 87013;
}

/// An error from a WeChat API call. `path` is the API path without its query string.
#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered HTTP 200 with a non-zero `errcode`. For the errcodes that only a change
    /// of configuration fixes, the message ends with the fix ([`WechatError::fix`]).
    #[error("WeChat {path} answered errcode {errcode}: {errmsg}{}", fix_suffix(*errcode))]
    Api {
        path: &'static str,
        errcode: i64,
        errmsg: String,
    },
    /// The attempt did not finish within its timeout.
    #[error("WeChat {path} timed out")]
    Timeout {
        path: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// Nothing was sent: no time was left within the deadline of the work the call was part of
    /// (a refresh lease, an invocation's deadline; see [`super::deadline`]).
    #[error("no time was left for WeChat {path} within the caller's deadline")]
    OutOfTime { path: &'static str },
    /// No connection could be made.
    #[error("could not connect to WeChat for {path}")]
    Connect {
        path: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// The connection failed after it was made (closed without a response, reset mid-body).
    #[error("WeChat {path}: the connection failed before a complete response")]
    Transport {
        path: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// WeChat answered with a non-success HTTP status.
    #[error("WeChat {path} answered HTTP {status}")]
    Status { path: &'static str, status: u16 },
    /// The response body was not what the endpoint promises.
    #[error("WeChat {path} answered a body that could not be decoded: {detail}")]
    Decode {
        path: &'static str,
        detail: DecodeDetail,
    },
    /// The request could not be built (a bad base URL or an unserialisable body).
    #[error("could not build the request for WeChat {path}: {reason}")]
    Request {
        path: &'static str,
        reason: &'static str,
    },
    /// The HTTP client could not be created.
    #[error("could not create the HTTP client")]
    ClientBuild(#[source] reqwest::Error),
}

/// Where and what kind of decode failure happened, without the offending text.
///
/// `serde_json::Error`'s message quotes the unexpected value (`invalid type: string "..."`), which
/// may be a token, so it is not kept as a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeDetail {
    pub category: &'static str,
    pub line: usize,
    pub column: usize,
}

impl DecodeDetail {
    pub(crate) fn from_serde(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let category = match e.classify() {
            Category::Io => "io",
            Category::Syntax => "syntax",
            Category::Data => "unexpected shape",
            Category::Eof => "truncated",
        };
        Self {
            category,
            line: e.line(),
            column: e.column(),
        }
    }
}

impl fmt::Display for DecodeDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.category, self.line, self.column
        )
    }
}

/// What an operator must change when WeChat answers this errcode, for the errcodes that no retry
/// fixes.
pub fn fix_for(errcode: i64) -> Option<&'static str> {
    match errcode {
        errcode::IP_NOT_WHITELISTED => Some(
            "the IP this call came from is not on the component's IP whitelist: deploy with \
             FixedEgressIp=true and add the stack's EgressIp output to the whitelist \
             (白名单IP地址列表) of the third-party platform in the WeChat Open Platform console",
        ),
        errcode::DAILY_QUOTA_REACHED => Some(
            "the daily call quota of this API is used up: it resets at midnight (UTC+8); \
             /cgi-bin/clear_quota resets it at once, 10 times a month",
        ),
        _ => None,
    }
}

fn fix_suffix(errcode: i64) -> String {
    fix_for(errcode)
        .map(|fix| format!(" (fix: {fix})"))
        .unwrap_or_default()
}

impl WechatError {
    /// What an operator must change, when only a change of configuration fixes this error.
    pub fn fix(&self) -> Option<&'static str> {
        self.errcode().and_then(fix_for)
    }

    /// The API path the error is about (without query).
    pub fn path(&self) -> Option<&'static str> {
        match self {
            Self::Api { path, .. }
            | Self::Timeout { path, .. }
            | Self::OutOfTime { path }
            | Self::Connect { path, .. }
            | Self::Transport { path, .. }
            | Self::Status { path, .. }
            | Self::Decode { path, .. }
            | Self::Request { path, .. } => Some(path),
            Self::ClientBuild(_) => None,
        }
    }

    /// WeChat's errcode, when WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    fn errcode_in(&self, codes: &[i64]) -> bool {
        self.errcode().is_some_and(|c| codes.contains(&c))
    }

    /// The token was invalid, not the latest, or expired: refresh once, then retry once.
    pub fn is_token_invalid(&self) -> bool {
        self.errcode_in(&[
            errcode::INVALID_CREDENTIAL,
            errcode::INVALID_ACCESS_TOKEN,
            errcode::ACCESS_TOKEN_EXPIRED,
        ])
    }

    /// Daily quota reached (45009) or calls too frequent (45011): back off and alert.
    pub fn is_quota_limited(&self) -> bool {
        self.errcode_in(&[errcode::DAILY_QUOTA_REACHED, errcode::TOO_FREQUENT])
    }

    /// The refresh token is gone (61023): the merchant must authorize again.
    pub fn is_refresh_token_invalid(&self) -> bool {
        self.errcode_in(&[errcode::REFRESH_TOKEN_INVALID])
    }

    /// The component_verify_ticket is expired or invalid: ask for a push (api_start_push_ticket).
    pub fn is_ticket_invalid(&self) -> bool {
        self.errcode_in(&[errcode::TICKET_EXPIRED, errcode::TICKET_INVALID])
    }

    /// The authorization code is invalid or expired.
    pub fn is_auth_code_invalid(&self) -> bool {
        self.errcode_in(&[errcode::AUTH_CODE_INVALID, errcode::AUTH_CODE_EXPIRED])
    }

    /// The authorizer revoked the authorization (61003).
    pub fn is_not_authorized(&self) -> bool {
        self.errcode_in(&[errcode::NOT_AUTHORIZED])
    }

    /// The caller's IP is not whitelisted (61004): a configuration error.
    pub fn is_ip_not_whitelisted(&self) -> bool {
        self.errcode_in(&[errcode::IP_NOT_WHITELISTED])
    }

    /// Worth another attempt: WeChat busy (-1), HTTP 5xx, a timeout, or a failed connection.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { errcode, .. } => *errcode == errcode::SYSTEM_BUSY,
            Self::Status { status, .. } => (500..600).contains(status),
            Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            // Out of time: a retry would be out of time too.
            Self::OutOfTime { .. }
            | Self::Decode { .. }
            | Self::Request { .. }
            | Self::ClientBuild(_) => false,
        }
    }

    /// Certainly not processed by WeChat, so safe to retry even for calls that must not run twice.
    pub(crate) fn is_unprocessed(&self) -> bool {
        matches!(self, Self::Connect { .. })
            || matches!(self, Self::Api { errcode, .. } if *errcode == errcode::SYSTEM_BUSY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> WechatError {
        WechatError::Api {
            path: "/x",
            errcode: code,
            errmsg: "m".into(),
        }
    }

    #[test]
    fn only_busy_and_server_failures_are_retryable() {
        assert!(api(-1).is_retryable());
        for code in [40001, 40014, 42001, 45009, 45011, 61023, 61004, 48006] {
            assert!(!api(code).is_retryable(), "{code}");
        }
        let status = |s| WechatError::Status {
            path: "/x",
            status: s,
        };
        assert!(status(502).is_retryable());
        assert!(!status(404).is_retryable());
    }

    #[test]
    fn token_helpers_match_their_errcodes() {
        assert!(api(40001).is_token_invalid());
        assert!(api(40014).is_token_invalid());
        assert!(api(42001).is_token_invalid());
        assert!(!api(45009).is_token_invalid());
        assert!(api(61023).is_refresh_token_invalid());
        assert!(api(61005).is_ticket_invalid() && api(61006).is_ticket_invalid());
        assert!(api(61009).is_auth_code_invalid() && api(61010).is_auth_code_invalid());
        assert!(api(45009).is_quota_limited());
    }

    #[test]
    fn configuration_errors_name_their_fix_and_others_do_not() {
        let whitelist = api(61004);
        assert!(whitelist.is_ip_not_whitelisted());
        let text = whitelist.to_string();
        assert!(text.contains("errcode 61004"), "{text}");
        assert!(
            text.contains("EgressIp") && text.contains("whitelist"),
            "{text}"
        );
        assert_eq!(whitelist.fix(), fix_for(61004));
        assert!(api(45009).to_string().contains("clear_quota"));
        assert_eq!(api(-1).fix(), None);
        assert_eq!(api(-1).to_string(), "WeChat /x answered errcode -1: m");
    }

    #[test]
    fn decode_detail_does_not_quote_the_offending_value() {
        let err = serde_json::from_str::<u32>("\"secret-token-value\"").unwrap_err();
        assert!(err.to_string().contains("secret-token-value"));
        let detail = DecodeDetail::from_serde(&err);
        let e = WechatError::Decode { path: "/x", detail };
        assert!(!format!("{e} {e:?}").contains("secret-token-value"));
    }
}
