//! Code templates (代码模板库): the component's drafts (uploaded from its developer tools) and the
//! templates made from them, which authorizers' code is committed from. Component token, sent as
//! `access_token=` as the `/wxa/` pages document.

use crate::wechat::access_tokens::ComponentAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const GET_TEMPLATE_DRAFT_LIST: Endpoint<ComponentAccessToken> =
    Endpoint::new("/wxa/gettemplatedraftlist").token_param("access_token");
pub(crate) const ADD_TO_TEMPLATE: Endpoint<ComponentAccessToken> =
    Endpoint::new("/wxa/addtotemplate").token_param("access_token");
pub(crate) const GET_TEMPLATE_LIST: Endpoint<ComponentAccessToken> =
    Endpoint::new("/wxa/gettemplatelist").token_param("access_token");
pub(crate) const DELETE_TEMPLATE: Endpoint<ComponentAccessToken> =
    Endpoint::new("/wxa/deletetemplate").token_param("access_token");

/// An uploaded draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TemplateDraft {
    pub draft_id: i64,
    pub create_time: i64,
    pub user_version: String,
    pub user_desc: String,
    pub source_miniprogram_appid: String,
    pub source_miniprogram: String,
    pub developer: String,
}

/// A code template authorizers' code can be committed from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CodeTemplate {
    pub template_id: i64,
    pub create_time: i64,
    pub user_version: String,
    pub user_desc: String,
    /// 0 ordinary template, 1 standard template.
    pub template_type: i64,
    pub source_miniprogram_appid: String,
    pub source_miniprogram: String,
    pub developer: String,
    /// For standard templates: audit scene, status and reason.
    pub audit_scene: i64,
    pub audit_status: i64,
    pub reason: String,
}

#[derive(Deserialize)]
struct DraftListWire {
    #[serde(default)]
    draft_list: Vec<TemplateDraft>,
}

#[derive(Deserialize)]
struct TemplateListWire {
    #[serde(default)]
    template_list: Vec<CodeTemplate>,
}

#[derive(Serialize)]
struct AddBody {
    draft_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    template_type: Option<u8>,
}

#[derive(Serialize)]
struct DeleteBody {
    template_id: i64,
}

impl WechatClient {
    /// `GET /wxa/gettemplatedraftlist`.
    pub async fn get_template_draft_list(
        &self,
        token: &ComponentAccessToken,
    ) -> Result<Vec<TemplateDraft>, WechatError> {
        let wire: DraftListWire = self.get(&GET_TEMPLATE_DRAFT_LIST, token, &[]).await?;
        Ok(wire.draft_list)
    }

    /// `/wxa/addtotemplate`: `template_type` 0 ordinary (default), 1 standard.
    pub async fn add_to_template(
        &self,
        token: &ComponentAccessToken,
        draft_id: i64,
        template_type: Option<u8>,
    ) -> Result<(), WechatError> {
        let body = AddBody {
            draft_id,
            template_type,
        };
        let _: Ack = self.post_json(&ADD_TO_TEMPLATE, token, &body).await?;
        Ok(())
    }

    /// `GET /wxa/gettemplatelist`, optionally only one `template_type`.
    pub async fn get_template_list(
        &self,
        token: &ComponentAccessToken,
        template_type: Option<u8>,
    ) -> Result<Vec<CodeTemplate>, WechatError> {
        let kind = template_type.map(|t| t.to_string());
        let query: Vec<(&str, &str)> = kind
            .as_deref()
            .map(|k| ("template_type", k))
            .into_iter()
            .collect();
        let wire: TemplateListWire = self.get(&GET_TEMPLATE_LIST, token, &query).await?;
        Ok(wire.template_list)
    }

    /// `/wxa/deletetemplate`.
    pub async fn delete_template(
        &self,
        token: &ComponentAccessToken,
        template_id: i64,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&DELETE_TEMPLATE, token, &DeleteBody { template_id })
            .await?;
        Ok(())
    }
}
