//! The guarded passthrough's policy: which WeChat paths the provider may call with an authorizer's
//! token that this product has no typed method for, which query parameters are never forwarded,
//! and which paths under the allowed prefixes are refused because a typed route keeps records for
//! them (a call through the passthrough would leave those records behind); and the call itself.

use super::error::TokenError;
use super::token_service::TokenService;
use crate::ids::AuthorizerAppId;
use crate::store::Store;
use crate::wechat::RawResponse;

/// The path prefixes the passthrough forwards; anything else is refused without a call.
pub const PASSTHROUGH_PREFIXES: &[&str] = &[
    "/wxa/",
    "/cgi-bin/wxopen/",
    "/cgi-bin/account/",
    "/cgi-bin/open/",
    "/wxaapi/",
];

/// Query parameters the passthrough never forwards: it adds the authorizer's token itself.
pub const TOKEN_PARAMS: &[&str] = &[
    "access_token",
    "component_access_token",
    "authorizer_access_token",
];

/// Paths under the allowed prefixes that only their typed route may call, with that route (as in
/// `openapi.yaml`). Each typed route does more than forward the call: it stores the audit and its
/// `auto_release` choice, marks the audit withdrawn, completes the new mini program's authorization
/// instead of handing its auth code back, or is part of the audit lifecycle whose pushes drive the
/// stored state and the automatic release. A call that went round them would leave the stored
/// audit describing another version than WeChat's (and an automatic release bound to it).
pub const TYPED_ONLY: &[(&str, &str)] = &[
    ("/wxa/submit_audit", "POST /authorizers/{appid}/audit"),
    ("/wxa/undocodeaudit", "POST /authorizers/{appid}/audit/undo"),
    (
        "/wxa/speedupaudit",
        "POST /authorizers/{appid}/audit/speedup",
    ),
    ("/wxa/release", "POST /authorizers/{appid}/release"),
    (
        "/cgi-bin/account/fastregister",
        "POST /authorizers/{appid}/fast-registration/official-account",
    ),
    (
        "/wxa/component/fastregisterbetaweapp",
        "POST /fast-registration/beta",
    ),
    (
        "/wxa/component/fastregisterpersonalweapp",
        "POST /fast-registration/personal",
    ),
];

/// The typed route that must be used instead of forwarding `path` (a path [`passthrough_path`]
/// returned), if there is one. Compared without regard to ASCII case, in case WeChat's router
/// does not care either.
pub fn typed_route_for(path: &str) -> Option<&'static str> {
    TYPED_ONLY
        .iter()
        .find(|(typed, _)| typed.eq_ignore_ascii_case(path))
        .map(|(_, route)| *route)
}

/// The WeChat path for a passthrough tail, if it is allowed: plain segments of letters, digits,
/// `_`, `-` and `.` (no `..`, no empty segment, no percent-encoding), under an allowed prefix.
pub fn passthrough_path(tail: &str) -> Option<String> {
    let plain = tail
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if !plain || tail.is_empty() {
        return None;
    }
    if tail
        .split('/')
        .any(|segment| segment.is_empty() || segment.chars().all(|c| c == '.'))
    {
        return None;
    }
    let path = format!("/{tail}");
    PASSTHROUGH_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
        .then_some(path)
}

/// Why the passthrough did not forward a call.
#[derive(Debug, thiserror::Error)]
pub enum PassthroughError {
    /// Not a plain path under one of [`PASSTHROUGH_PREFIXES`]: nothing was called.
    #[error("only plain paths under {} are forwarded", PASSTHROUGH_PREFIXES.join(", "))]
    NotAllowed,
    /// A typed route keeps records for this path (see [`TYPED_ONLY`]): nothing was called.
    #[error(
        "{path} is not forwarded: use {route}, which keeps this product's records in step with it"
    )]
    UseTypedRoute { path: String, route: String },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// The passthrough use case. Cheap to clone.
pub struct Passthrough<S> {
    tokens: TokenService<S>,
}

impl<S> Clone for Passthrough<S> {
    fn clone(&self) -> Self {
        Self {
            tokens: self.tokens.clone(),
        }
    }
}

impl<S: Store + 'static> Passthrough<S> {
    pub fn new(tokens: TokenService<S>) -> Self {
        Self { tokens }
    }

    /// Forwards a call to WeChat `tail` (the path after `/wechat/`) with `appid`'s token, the
    /// caller's query without any token parameter, and `body` for a POST. Refused paths are
    /// refused before any token is read: nothing is called and nothing is written.
    pub async fn forward(
        &self,
        appid: &AuthorizerAppId,
        tail: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, PassthroughError> {
        let path = passthrough_path(tail).ok_or(PassthroughError::NotAllowed)?;
        if let Some(route) = typed_route_for(&path) {
            return Err(PassthroughError::UseTypedRoute {
                route: route.replace("{appid}", appid.as_str()),
                path,
            });
        }
        let forwarded: Vec<(&str, &str)> = query
            .iter()
            .filter(|(name, _)| {
                !TOKEN_PARAMS
                    .iter()
                    .any(|t| name.trim().eq_ignore_ascii_case(t))
            })
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (forwarded, body, path) = (&forwarded, &body, path.as_str());
        Ok(self
            .tokens
            .with_authorizer_token(appid, |c, t| async move {
                c.call_raw_path(path, &t, forwarded, body.clone()).await
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_prefixes_pass_and_everything_else_is_refused() {
        assert_eq!(
            passthrough_path("wxa/get_qrcode").as_deref(),
            Some("/wxa/get_qrcode")
        );
        assert_eq!(
            passthrough_path("cgi-bin/wxopen/qrcodejumpget").as_deref(),
            Some("/cgi-bin/wxopen/qrcodejumpget")
        );
        for refused in [
            "",
            "cgi-bin/component/api_component_token",
            "cgi-bin/message/custom/send",
            "wxa/../cgi-bin/component/api_query_auth",
            "wxa//x",
            "wxa/%2e%2e/x",
            "wxa/./x",
            "wxa/x?access_token=a",
            "wxaX/x",
        ] {
            assert_eq!(passthrough_path(refused), None, "{refused}");
        }
    }

    #[test]
    fn paths_with_bookkeeping_name_their_typed_route_whatever_the_case() {
        assert_eq!(
            typed_route_for("/wxa/submit_audit"),
            Some("POST /authorizers/{appid}/audit")
        );
        assert_eq!(
            typed_route_for("/WXA/Release"),
            Some("POST /authorizers/{appid}/release")
        );
        for forwarded in [
            "/wxa/get_latest_auditstatus",
            "/wxa/releasex",
            "/wxa/commit",
        ] {
            assert_eq!(typed_route_for(forwarded), None, "{forwarded}");
        }
        // Every refused path is one the passthrough would otherwise forward.
        for (path, _) in TYPED_ONLY {
            assert!(passthrough_path(&path[1..]).is_some(), "{path}");
        }
    }
}
