//! Mini program login for the component (`/sns/component/jscode2session`): a `wx.login` code
//! becomes the user's openid and session key. Component token plus the mini program's appid.
//!
//! The session key decrypts the data the mini program hands over (phone number, user info): see
//! [`crate::wechat::user_data`].

use crate::ids::AuthorizerAppId;
use crate::secret::Secret;
use crate::wechat::access_tokens::ComponentAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use serde::Deserialize;

// A login code is single use.
pub(crate) const JSCODE2SESSION: Endpoint<ComponentAccessToken> =
    Endpoint::new("/sns/component/jscode2session").not_replayable();

/// A user's session with the mini program.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    pub openid: String,
    /// Secret: it decrypts the user's data. Never log it.
    pub session_key: Secret,
    /// Present when the mini program is bound to an Open Platform account the user is known to.
    #[serde(default)]
    pub unionid: Option<String>,
}

impl WechatClient {
    /// `GET /sns/component/jscode2session` for the mini program `appid` and the `js_code` from
    /// `wx.login`.
    pub async fn jscode2session(
        &self,
        token: &ComponentAccessToken,
        appid: &AuthorizerAppId,
        js_code: &Secret,
    ) -> Result<Session, WechatError> {
        let query = [
            ("appid", appid.as_str()),
            ("js_code", js_code.expose()),
            ("grant_type", "authorization_code"),
            ("component_appid", self.component_appid().as_str()),
        ];
        self.get(&JSCODE2SESSION, token, &query).await
    }
}
