//! Third-party platform domains: the server and business (jump) domains the component registers for
//! all its mini programs, and the confirmation file for business domains. Component token.

use super::{DomainAction, Empty};
use crate::wechat::access_tokens::ComponentAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const MODIFY_WXA_SERVER_DOMAIN: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/modify_wxa_server_domain");
pub(crate) const GET_DOMAIN_CONFIRM_FILE: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/get_domain_confirmfile");
pub(crate) const MODIFY_WXA_JUMP_DOMAIN: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/modify_wxa_jump_domain");

/// A change to the component's server domains. Domains travel `;`-separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerDomainChange {
    pub action: DomainAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wxa_server_domain: Option<String>,
    /// Change the published configuration as well as the testing one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_modify_published_together: Option<bool>,
}

/// The component's server domains after the change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerDomains {
    pub published_wxa_server_domain: String,
    pub testing_wxa_server_domain: String,
    pub invalid_wxa_server_domain: String,
}

/// A change to the component's business (jump) domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JumpDomainChange {
    pub action: DomainAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wxa_jump_h5_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_modify_published_together: Option<bool>,
}

/// The component's business domains after the change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct JumpDomains {
    pub published_wxa_jump_h5_domain: String,
    pub testing_wxa_jump_h5_domain: String,
    pub invalid_wxa_jump_h5_domain: String,
}

/// The file WeChat fetches from a business domain to confirm the component controls it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DomainConfirmFile {
    pub file_name: String,
    pub file_content: String,
}

impl WechatClient {
    /// `/cgi-bin/component/modify_wxa_server_domain`.
    pub async fn modify_wxa_server_domain(
        &self,
        token: &ComponentAccessToken,
        change: &ServerDomainChange,
    ) -> Result<ServerDomains, WechatError> {
        self.post_json(&MODIFY_WXA_SERVER_DOMAIN, token, change)
            .await
    }

    /// `/cgi-bin/component/get_domain_confirmfile`.
    pub async fn get_domain_confirm_file(
        &self,
        token: &ComponentAccessToken,
    ) -> Result<DomainConfirmFile, WechatError> {
        self.post_json(&GET_DOMAIN_CONFIRM_FILE, token, &Empty {})
            .await
    }

    /// `/cgi-bin/component/modify_wxa_jump_domain`.
    pub async fn modify_wxa_jump_domain(
        &self,
        token: &ComponentAccessToken,
        change: &JumpDomainChange,
    ) -> Result<JumpDomains, WechatError> {
        self.post_json(&MODIFY_WXA_JUMP_DOMAIN, token, change).await
    }
}
