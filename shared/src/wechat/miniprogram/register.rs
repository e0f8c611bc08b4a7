//! Registering mini programs for merchants (代商家注册小程序): companies and individuals with the
//! component token, and reusing an official account's qualification with that official
//! account's authorizer token.

use crate::secret::Secret;
use crate::wechat::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

// `action=create` / `action=search` (or `query`) travel in the query string.
pub(crate) const FAST_REGISTER_WEAPP: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/fastregisterweapp");
pub(crate) const FAST_REGISTER_PERSONAL_WEAPP: Endpoint<ComponentAccessToken> =
    Endpoint::new("/wxa/component/fastregisterpersonalweapp");
// The ticket from the official account's scan is single use.
pub(crate) const FAST_REGISTER_BY_OFFICIAL_ACCOUNT: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/account/fastregister").not_replayable();

/// A company's details for `fastregisterweapp?action=create`. The legal person confirms by face.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgWeappRegistration {
    /// The company name as registered.
    pub name: String,
    /// The company code.
    pub code: String,
    /// 1 unified social credit code, 2 organisation code, 3 business licence number.
    pub code_type: u8,
    pub legal_persona_wechat: String,
    pub legal_persona_name: String,
    /// The component's contact phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_phone: Option<String>,
}

/// The keys of a company registration task for `fastregisterweapp?action=search`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgWeappQuery {
    pub name: String,
    pub legal_persona_wechat: String,
    pub legal_persona_name: String,
}

/// An individual's details for `fastregisterpersonalweapp?action=create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalWeappRegistration {
    /// The person's real name.
    pub idname: String,
    /// The person's WeChat ID.
    pub wxuser: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_phone: Option<String>,
}

/// A personal registration task: the person opens `authorize_url` to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PersonalWeappTask {
    pub taskid: String,
    pub authorize_url: String,
    pub status: i64,
}

/// What registering by an official account answers: the new mini program and an auth code for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegisteredByOfficialAccount {
    pub appid: String,
    /// Exchange with `api_query_auth` for the new mini program's tokens.
    pub authorization_code: Secret,
    #[serde(default)]
    pub is_wx_verify_succ: bool,
    #[serde(default)]
    pub is_link_succ: bool,
}

#[derive(Serialize)]
struct TaskBody<'a> {
    taskid: &'a str,
}

#[derive(Serialize)]
struct TicketBody<'a> {
    ticket: &'a str,
}

impl WechatClient {
    /// `/cgi-bin/component/fastregisterweapp?action=create`. The result arrives later as the
    /// `notify_third_fasteregister` event.
    pub async fn fast_register_org_weapp(
        &self,
        token: &ComponentAccessToken,
        registration: &OrgWeappRegistration,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json_with_query(
                &FAST_REGISTER_WEAPP,
                token,
                &[("action", "create")],
                registration,
            )
            .await?;
        Ok(())
    }

    /// `/cgi-bin/component/fastregisterweapp?action=search`: errcode 0 once the task exists; other
    /// states come back as WeChat errcodes.
    pub async fn query_org_weapp(
        &self,
        token: &ComponentAccessToken,
        query: &OrgWeappQuery,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json_with_query(&FAST_REGISTER_WEAPP, token, &[("action", "search")], query)
            .await?;
        Ok(())
    }

    /// `/wxa/component/fastregisterpersonalweapp?action=create`.
    pub async fn fast_register_personal_weapp(
        &self,
        token: &ComponentAccessToken,
        registration: &PersonalWeappRegistration,
    ) -> Result<PersonalWeappTask, WechatError> {
        self.post_json_with_query(
            &FAST_REGISTER_PERSONAL_WEAPP,
            token,
            &[("action", "create")],
            registration,
        )
        .await
    }

    /// `/wxa/component/fastregisterpersonalweapp?action=query`.
    pub async fn query_personal_weapp(
        &self,
        token: &ComponentAccessToken,
        taskid: &str,
    ) -> Result<PersonalWeappTask, WechatError> {
        self.post_json_with_query(
            &FAST_REGISTER_PERSONAL_WEAPP,
            token,
            &[("action", "query")],
            &TaskBody { taskid },
        )
        .await
    }

    /// `/cgi-bin/account/fastregister` register a mini program reusing the official
    /// account's qualification. `token` is the official account's; `ticket` comes back on the
    /// redirect from `mp.weixin.qq.com/cgi-bin/fastregisterauth`.
    pub async fn fast_register_by_official_account(
        &self,
        token: &AuthorizerAccessToken,
        ticket: &Secret,
    ) -> Result<RegisteredByOfficialAccount, WechatError> {
        let body = TicketBody {
            ticket: ticket.expose(),
        };
        self.post_json(&FAST_REGISTER_BY_OFFICIAL_ACCOUNT, token, &body)
            .await
    }
}
