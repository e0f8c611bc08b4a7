//! Identifiers, parsed once at the boundary so the inside can trust them.

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 1 to 64 ASCII letters, digits, '_' or '-' (got {len} characters)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub len: usize,
}

fn check(kind: &'static str, s: &str) -> Result<(), InvalidId> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(InvalidId {
            kind,
            len: s.chars().count(),
        })
    }
}

/// The prefix WeChat gives every authorization code.
pub const AUTH_CODE_PREFIX: &str = "queryauthcode@@@";

/// Whether `code` has the shape of a WeChat authorization code: the `queryauthcode@@@` prefix,
/// then up to 512 characters of the URL-safe and standard base64 alphabets (plus `.`). Checked
/// before a code is sent to WeChat, so that junk costs no `api_query_auth` call; lenient past the
/// prefix, because WeChat does not document the rest.
pub fn looks_like_auth_code(code: &str) -> bool {
    code.strip_prefix(AUTH_CODE_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 512
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_+/=.".contains(&b))
    })
}

macro_rules! app_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> Result<Self, InvalidId> {
                let s = s.into();
                check($kind, &s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }
    };
}

app_id!(
    /// The third-party platform's own appid (`component_appid`).
    ComponentAppId,
    "component appid"
);
app_id!(
    /// The appid of an official account or mini program that authorized the platform.
    AuthorizerAppId,
    "authorizer appid"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appids_accept_wechat_shapes_and_refuse_junk() {
        assert!(ComponentAppId::parse("wxb11529c136998cb6").is_ok());
        assert!(AuthorizerAppId::parse("gh_3c884a361561").is_ok());
        assert!(ComponentAppId::parse("").is_err());
        assert!(ComponentAppId::parse("wx 123").is_err());
        assert!(ComponentAppId::parse("wx/../x").is_err());
        assert!(AuthorizerAppId::parse("a".repeat(65)).is_err());
    }

    #[test]
    fn auth_codes_are_recognised_by_their_prefix_and_alphabet() {
        assert!(looks_like_auth_code(
            "queryauthcode@@@Ht8voTIF1SOqbU1N-bLJ_9x+/a=="
        ));
        for junk in [
            "",
            "x",
            "queryauthcode@@@",
            "QUERYAUTHCODE@@@abc",
            "preauthcode@@@abc",
            "queryauthcode@@@a b",
            "queryauthcode@@@a&b=c",
            "queryauthcode@@@<script>",
        ] {
            assert!(!looks_like_auth_code(junk), "{junk:?}");
        }
        assert!(!looks_like_auth_code(&format!(
            "queryauthcode@@@{}",
            "a".repeat(513)
        )));
    }
}
