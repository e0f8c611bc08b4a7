//! The guarded passthrough's policy: which WeChat paths the provider may call with an authorizer's
//! token that this product has no typed method for, which query parameters are never forwarded,
//! and which paths under the allowed prefixes are refused because a typed route keeps records for
//! them (a call through the passthrough would leave those records behind).

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
