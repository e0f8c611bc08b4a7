//! Plugins (插件管理): apply to use a plugin, list them, unbind one, update its version. One
//! endpoint, the operation chosen by `action`. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const PLUGIN: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/plugin");

/// What to do with a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PluginAction {
    Apply {
        plugin_appid: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    List,
    Unbind {
        plugin_appid: String,
    },
    Update {
        plugin_appid: String,
        user_version: String,
    },
}

/// A plugin of the mini program: `status` 1 applying, 2 approved, 3 rejected, 4 expired.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct PluginInfo {
    pub appid: String,
    pub status: i64,
    pub nickname: String,
    pub headimgurl: String,
}

/// The answer: the plugins for `list`, empty for the other actions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct PluginResponse {
    pub plugin_list: Vec<PluginInfo>,
}

impl WechatClient {
    /// `/wxa/plugin`.
    pub async fn plugin(
        &self,
        token: &AuthorizerAccessToken,
        action: &PluginAction,
    ) -> Result<PluginResponse, WechatError> {
        self.post_json(&PLUGIN, token, action).await
    }
}
