//! The two kinds of access token, as distinct types so one can never be sent where the other belongs.
//!
//! A component endpoint takes `&ComponentAccessToken`, an authorizer endpoint `&AuthorizerAccessToken`:
//!
//! ```no_run
//! # use wxcomponent::wechat::{AuthorizerAccessToken, AuthorizerOptionName, WechatClient};
//! # async fn f(client: &WechatClient, token: &AuthorizerAccessToken) {
//! let _ = client.get_authorizer_option(token, AuthorizerOptionName::VoiceRecognize).await;
//! # }
//! ```
//!
//! and the same call with a component token does not compile:
//!
//! ```compile_fail
//! # use wxcomponent::wechat::{ComponentAccessToken, AuthorizerOptionName, WechatClient};
//! # async fn f(client: &WechatClient, token: &ComponentAccessToken) {
//! let _ = client.get_authorizer_option(token, AuthorizerOptionName::VoiceRecognize).await;
//! # }
//! ```

use crate::clock::EpochSeconds;
use crate::secret::Secret;

macro_rules! access_token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            value: Secret,
            expires_at: EpochSeconds,
        }

        impl $name {
            pub fn new(value: Secret, expires_at: EpochSeconds) -> Self {
                Self { value, expires_at }
            }

            /// The token itself. Debug output of the token type never shows it.
            pub fn secret(&self) -> &Secret {
                &self.value
            }

            /// When WeChat stops accepting the token (seconds since the epoch).
            pub fn expires_at(&self) -> EpochSeconds {
                self.expires_at
            }

            /// Whether the token is expired at `now`, or will be within `margin` seconds.
            pub fn expires_within(&self, now: EpochSeconds, margin: i64) -> bool {
                now.saturating_add(margin) >= self.expires_at
            }
        }
    };
}

access_token!(
    /// The component's own token (`component_access_token`), for `/cgi-bin/component/...` APIs.
    ComponentAccessToken
);
access_token!(
    /// A token to act for one authorizer (`authorizer_access_token`), sent as `access_token=`.
    AuthorizerAccessToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token_and_expiry_margin_counts() {
        let t = ComponentAccessToken::new(Secret::new("tok-abc-123"), 1_000);
        assert!(!format!("{t:?}").contains("tok-abc-123"));
        assert!(!t.expires_within(700, 299));
        assert!(t.expires_within(700, 300));
        assert!(t.expires_within(1_000, 0));
    }
}
