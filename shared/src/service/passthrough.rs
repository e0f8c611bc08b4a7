//! The guarded passthrough's policy: which WeChat paths the provider may call with an authorizer's
//! token that this product has no typed method for, and which query parameters are never forwarded.

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
}
