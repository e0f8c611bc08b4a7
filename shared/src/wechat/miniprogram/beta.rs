//! Beta (trial) mini programs (试用小程序): created with the component token from a user's openid,
//! then verified and renamed with the beta mini program's own authorizer token.

use crate::wechat::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const FAST_REGISTER_BETA_WEAPP: Endpoint<ComponentAccessToken> =
    Endpoint::new("/wxa/component/fastregisterbetaweapp")
        .token_param("access_token")
        .not_replayable();
pub(crate) const VERIFY_BETA_WEAPP: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/verifybetaweapp");
pub(crate) const SET_BETA_WEAPP_NICKNAME: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/setbetaweappnickname");

/// A beta mini program being created: the user confirms at `authorize_url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BetaWeappTask {
    pub unique_id: String,
    pub authorize_url: String,
}

/// The company that turns a beta mini program into a verified one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BetaVerifyInfo {
    pub enterprise_name: String,
    pub code: String,
    /// 1 unified social credit code, 2 organisation code, 3 business licence number.
    pub code_type: u8,
    pub legal_persona_wechat: String,
    pub legal_persona_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_persona_idcard: Option<String>,
    pub component_phone: String,
}

#[derive(Serialize)]
struct CreateBody<'a> {
    name: &'a str,
    openid: &'a str,
}

#[derive(Serialize)]
struct VerifyBody<'a> {
    verify_info: &'a BetaVerifyInfo,
}

#[derive(Serialize)]
struct NameBody<'a> {
    name: &'a str,
}

impl WechatClient {
    /// `/wxa/component/fastregisterbetaweapp`: `openid` is the user's openid for the component's
    /// official account or website app.
    pub async fn fast_register_beta_weapp(
        &self,
        token: &ComponentAccessToken,
        name: &str,
        openid: &str,
    ) -> Result<BetaWeappTask, WechatError> {
        self.post_json(
            &FAST_REGISTER_BETA_WEAPP,
            token,
            &CreateBody { name, openid },
        )
        .await
    }

    /// `/wxa/verifybetaweapp` with the beta mini program's token.
    pub async fn verify_beta_weapp(
        &self,
        token: &AuthorizerAccessToken,
        verify_info: &BetaVerifyInfo,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&VERIFY_BETA_WEAPP, token, &VerifyBody { verify_info })
            .await?;
        Ok(())
    }

    /// `/wxa/setbetaweappnickname` with the beta mini program's token.
    pub async fn set_beta_weapp_nickname(
        &self,
        token: &AuthorizerAccessToken,
        name: &str,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&SET_BETA_WEAPP_NICKNAME, token, &NameBody { name })
            .await?;
        Ok(())
    }
}
