//! Testers (体验者): WeChat users allowed to open the trial version. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const BIND_TESTER: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/bind_tester");
pub(crate) const UNBIND_TESTER: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/unbind_tester");
pub(crate) const MEMBERAUTH: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/memberauth");

/// A tester to remove: by WeChat ID, or by the `userstr` WeChat gave when binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TesterRef {
    Wechatid(String),
    Userstr(String),
}

#[derive(Serialize)]
struct WechatIdBody<'a> {
    wechatid: &'a str,
}

#[derive(Deserialize)]
struct UserStrWire {
    userstr: String,
}

#[derive(Serialize)]
struct MemberAuthBody {
    action: &'static str,
}

#[derive(Deserialize)]
struct Member {
    userstr: String,
}

#[derive(Deserialize)]
struct MembersWire {
    #[serde(default)]
    members: Vec<Member>,
}

impl WechatClient {
    /// `/wxa/bind_tester`: answers the tester's `userstr`.
    pub async fn bind_tester(
        &self,
        token: &AuthorizerAccessToken,
        wechatid: &str,
    ) -> Result<String, WechatError> {
        let wire: UserStrWire = self
            .post_json(&BIND_TESTER, token, &WechatIdBody { wechatid })
            .await?;
        Ok(wire.userstr)
    }

    /// `/wxa/unbind_tester`.
    pub async fn unbind_tester(
        &self,
        token: &AuthorizerAccessToken,
        tester: &TesterRef,
    ) -> Result<(), WechatError> {
        // Externally tagged enum with one field: `{"wechatid": ".."}` or `{"userstr": ".."}`.
        let _: Ack = self.post_json(&UNBIND_TESTER, token, tester).await?;
        Ok(())
    }

    /// `/wxa/memberauth` with `action=get_experiencer`: the testers' `userstr`s.
    pub async fn get_testers(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<Vec<String>, WechatError> {
        let body = MemberAuthBody {
            action: "get_experiencer",
        };
        let wire: MembersWire = self.post_json(&MEMBERAUTH, token, &body).await?;
        Ok(wire.members.into_iter().map(|m| m.userstr).collect())
    }
}
