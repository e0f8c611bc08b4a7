//! Official accounts on behalf of their owners: web authorization of the WeChat users who open the
//! provider's pages (代公众号发起网页授权), and the account's JS-SDK ticket.
//!
//! - `/sns/oauth2/component/access_token`: a web authorization `code` becomes the user's `openid`
//!   (and `unionid`) and a user access token. Component token; the code is single use.
//! - `/sns/userinfo`: the user's profile, with that user access token (only for `snsapi_userinfo`).
//! - `/cgi-bin/ticket/getticket?type=jsapi`: the account's `jsapi_ticket`, which signs `wx.config`
//!   ([`jssdk_signature`]). Authorizer token; 7200 s of life, and a daily quota.
//!
//! The user access token and the ticket are secrets: they never reach a log line or a page.

use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::secret::Secret;
use crate::wechat::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use crate::wechat::client::{Endpoint, NoToken, WechatClient};
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

// A web authorization code is single use.
pub(crate) const OAUTH_ACCESS_TOKEN: Endpoint<ComponentAccessToken> =
    Endpoint::new("/sns/oauth2/component/access_token").not_replayable();
// Authenticated by the user's access token, passed as a query parameter of its own.
pub(crate) const SNS_USERINFO: Endpoint<NoToken> = Endpoint::new("/sns/userinfo");
pub(crate) const GET_TICKET: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/ticket/getticket");

/// The two scopes of web authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OAuthScope {
    /// Silent: the user's openid only.
    #[serde(rename = "snsapi_base")]
    Base,
    /// The user agrees on WeChat's page; the profile can then be read.
    #[serde(rename = "snsapi_userinfo")]
    UserInfo,
}

impl OAuthScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "snsapi_base",
            Self::UserInfo => "snsapi_userinfo",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "snsapi_base" => Some(Self::Base),
            "snsapi_userinfo" => Some(Self::UserInfo),
            _ => None,
        }
    }
}

/// What a web authorization code was exchanged for. `Debug` hides the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserGrant {
    /// The user's access token: only for `/sns/userinfo`, never stored, logged or passed on.
    pub access_token: Secret,
    #[serde(default)]
    pub expires_in: i64,
    #[serde(default)]
    pub refresh_token: Secret,
    pub openid: String,
    /// The scopes the user granted, comma-separated as WeChat writes them.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

impl UserGrant {
    /// Whether the user granted `scope`.
    pub fn granted(&self, scope: OAuthScope) -> bool {
        self.scope.split(',').any(|s| s.trim() == scope.as_str())
    }
}

/// A user's profile (`/sns/userinfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub openid: String,
    #[serde(default)]
    pub nickname: String,
    /// WeChat no longer reveals it: 0.
    #[serde(default)]
    pub sex: i64,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub headimgurl: String,
    #[serde(default)]
    pub privilege: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// An official account's `jsapi_ticket`. `Debug` hides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsapiTicket {
    pub ticket: Secret,
    pub expires_at: EpochSeconds,
}

#[derive(Deserialize)]
struct TicketAnswer {
    ticket: Secret,
    expires_in: i64,
}

/// The `wx.config` signature: the lowercase hex SHA-1 of
/// `jsapi_ticket=<ticket>&noncestr=<nonce>&timestamp=<timestamp>&url=<url>`, every value as it is
/// (the URL neither decoded nor re-encoded; the page's `location.href` without its `#` part).
pub fn jssdk_signature(
    ticket: &str,
    nonce_str: &str,
    timestamp: EpochSeconds,
    url: &str,
) -> String {
    let text =
        format!("jsapi_ticket={ticket}&noncestr={nonce_str}&timestamp={timestamp}&url={url}");
    hex::encode(Sha1::digest(text.as_bytes()))
}

impl WechatClient {
    /// `GET /sns/oauth2/component/access_token`: exchanges the web authorization `code` that
    /// WeChat gave the official account `appid`'s page.
    pub async fn oauth_component_access_token(
        &self,
        token: &ComponentAccessToken,
        appid: &AuthorizerAppId,
        code: &Secret,
    ) -> Result<UserGrant, WechatError> {
        let query = [
            ("appid", appid.as_str()),
            ("code", code.expose()),
            ("grant_type", "authorization_code"),
            ("component_appid", self.component_appid().as_str()),
        ];
        self.get(&OAUTH_ACCESS_TOKEN, token, &query).await
    }

    /// `GET /sns/userinfo` with the user's access token from a `snsapi_userinfo` grant.
    pub async fn sns_userinfo(&self, grant: &UserGrant) -> Result<UserInfo, WechatError> {
        let query = [
            ("access_token", grant.access_token.expose()),
            ("openid", grant.openid.as_str()),
            ("lang", "zh_CN"),
        ];
        self.get(&SNS_USERINFO, &NoToken, &query).await
    }

    /// `GET /cgi-bin/ticket/getticket?type=jsapi` for the official account of `token`.
    pub async fn get_jsapi_ticket(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<JsapiTicket, WechatError> {
        let answer: TicketAnswer = self.get(&GET_TICKET, token, &[("type", "jsapi")]).await?;
        Ok(JsapiTicket {
            ticket: answer.ticket,
            expires_at: self.now() + answer.expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_wechats_documented_example() {
        // The worked example of WeChat's JS-SDK documentation (appendix 1).
        let signature = jssdk_signature(
            "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value",
        );
        assert_eq!(signature, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    #[test]
    fn a_grant_tells_which_scopes_the_user_gave_and_hides_its_tokens() {
        let grant: UserGrant = serde_json::from_str(
            r#"{"access_token":"user-token-1","expires_in":7200,"refresh_token":"user-refresh-1","openid":"o1","scope":"snsapi_base,snsapi_userinfo"}"#,
        )
        .unwrap();
        assert!(grant.granted(OAuthScope::UserInfo));
        assert!(grant.granted(OAuthScope::Base));
        let base: UserGrant =
            serde_json::from_str(r#"{"access_token":"t","openid":"o1","scope":"snsapi_base"}"#)
                .unwrap();
        assert!(!base.granted(OAuthScope::UserInfo));
        let shown = format!("{grant:?}");
        assert!(!shown.contains("user-token-1") && !shown.contains("user-refresh-1"));
    }
}
