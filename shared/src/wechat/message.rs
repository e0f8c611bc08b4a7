//! Customer-service messages sent on an authorizer's behalf (the full-network release test needs
//! the text form, see docs/wechat-protocol.md).

use super::access_tokens::AuthorizerAccessToken;
use super::client::{Endpoint, WechatClient};
use super::component::Ack;
use super::error::WechatError;
use serde::Serialize;

// Replaying a send after a lost answer would deliver the message twice.
const CUSTOM_SEND: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/message/custom/send").not_replayable();

/// A customer-service message. Only text for now; WeChat also knows image, voice, news and more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
pub enum CustomMessageBody {
    Text { text: TextContent },
}

/// `Debug` leaves out the text: the release test's reply carries an auth code.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TextContent {
    pub content: String,
}

impl std::fmt::Debug for TextContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextContent")
            .field("content", &"[redacted]")
            .finish()
    }
}

/// A message to one user (`touser` is the user's openid for this account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomMessage {
    pub touser: String,
    #[serde(flatten)]
    pub body: CustomMessageBody,
}

impl CustomMessage {
    pub fn text(touser: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            touser: touser.into(),
            body: CustomMessageBody::Text {
                text: TextContent {
                    content: content.into(),
                },
            },
        }
    }
}

impl WechatClient {
    /// `/cgi-bin/message/custom/send`: send a message as the authorizer.
    pub async fn send_custom_message(
        &self,
        token: &AuthorizerAccessToken,
        message: &CustomMessage,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&CUSTOM_SEND, token, message).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_message_serialises_to_wechats_shape() {
        let json = serde_json::to_value(CustomMessage::text("oUser", "hi_from_api")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"touser": "oUser", "msgtype": "text", "text": {"content": "hi_from_api"}})
        );
    }

    #[test]
    fn debug_never_shows_the_text_which_may_carry_an_auth_code() {
        let message = CustomMessage::text("oUser", "queryauthcode@@@secret_from_api");
        let debug = format!("{message:?}");
        assert!(!debug.contains("queryauthcode@@@secret"), "{debug}");
        assert!(debug.contains("oUser"), "{debug}");
    }
}
