//! Subscribe messages (订阅消息): the account's categories, the public template library, the
//! account's own templates, and sending. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(crate) const GET_CATEGORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxaapi/newtmpl/getcategory");
pub(crate) const GET_PUB_TEMPLATE_TITLES: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxaapi/newtmpl/getpubtemplatetitles");
pub(crate) const GET_PUB_TEMPLATE_KEYWORDS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxaapi/newtmpl/getpubtemplatekeywords");
pub(crate) const ADD_TEMPLATE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxaapi/newtmpl/addtemplate").not_replayable();
pub(crate) const GET_TEMPLATE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxaapi/newtmpl/gettemplate");
pub(crate) const DEL_TEMPLATE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxaapi/newtmpl/deltemplate");
// Replaying a send after a lost answer would deliver the message twice.
pub(crate) const SUBSCRIBE_SEND: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/message/subscribe/send").not_replayable();

/// A category of the account, as the template library knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct SubscribeCategory {
    pub id: i64,
    pub name: String,
}

/// A page of public template titles.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct PubTemplateTitles {
    pub count: i64,
    pub data: Vec<PubTemplateTitle>,
}

/// A public template: `type` 2 one-off, 3 long-term.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct PubTemplateTitle {
    pub tid: i64,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: i64,
    #[serde(rename = "categoryId")]
    pub category_id: String,
}

/// The keywords a public template offers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct PubTemplateKeywords {
    pub count: i64,
    pub data: Vec<PubTemplateKeyword>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct PubTemplateKeyword {
    pub kid: i64,
    pub name: String,
    pub example: String,
    pub rule: String,
}

/// A template of the account's own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct SubscribeTemplate {
    #[serde(rename = "priTmplId")]
    pub pri_tmpl_id: String,
    pub title: String,
    pub content: String,
    pub example: String,
    #[serde(rename = "type")]
    pub kind: i64,
}

/// One value of a message (`{"thing1": {"value": ".."}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataValue {
    pub value: String,
}

/// A subscribe message to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscribeMessage {
    pub touser: String,
    pub template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    pub data: BTreeMap<String, DataValue>,
    /// `developer`, `trial` or `formal` (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

#[derive(Deserialize)]
struct DataWire<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Serialize)]
struct AddBody<'a> {
    tid: &'a str,
    #[serde(rename = "kidList")]
    kid_list: &'a [i64],
    #[serde(rename = "sceneDesc", skip_serializing_if = "Option::is_none")]
    scene_desc: Option<&'a str>,
}

#[derive(Deserialize)]
struct AddWire {
    #[serde(rename = "priTmplId")]
    pri_tmpl_id: String,
}

#[derive(Serialize)]
struct DelBody<'a> {
    #[serde(rename = "priTmplId")]
    pri_tmpl_id: &'a str,
}

impl WechatClient {
    /// `GET /wxaapi/newtmpl/getcategory`.
    pub async fn get_subscribe_category(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<Vec<SubscribeCategory>, WechatError> {
        let wire: DataWire<SubscribeCategory> = self.get(&GET_CATEGORY, token, &[]).await?;
        Ok(wire.data)
    }

    /// `GET /wxaapi/newtmpl/getpubtemplatetitles` for category ids, from `start`, `limit` (≤30)
    /// at a time.
    pub async fn get_pub_template_titles(
        &self,
        token: &AuthorizerAccessToken,
        category_ids: &[i64],
        start: u32,
        limit: u32,
    ) -> Result<PubTemplateTitles, WechatError> {
        let ids = category_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let (start, limit) = (start.to_string(), limit.to_string());
        let query = [
            ("ids", ids.as_str()),
            ("start", start.as_str()),
            ("limit", limit.as_str()),
        ];
        self.get(&GET_PUB_TEMPLATE_TITLES, token, &query).await
    }

    /// `GET /wxaapi/newtmpl/getpubtemplatekeywords` for a public template `tid`.
    pub async fn get_pub_template_keywords(
        &self,
        token: &AuthorizerAccessToken,
        tid: &str,
    ) -> Result<PubTemplateKeywords, WechatError> {
        self.get(&GET_PUB_TEMPLATE_KEYWORDS, token, &[("tid", tid)])
            .await
    }

    /// `/wxaapi/newtmpl/addtemplate`: a template of the account's own from a public one and
    /// some of its keywords; answers its `priTmplId`.
    pub async fn add_subscribe_template(
        &self,
        token: &AuthorizerAccessToken,
        tid: &str,
        kid_list: &[i64],
        scene_desc: Option<&str>,
    ) -> Result<String, WechatError> {
        let body = AddBody {
            tid,
            kid_list,
            scene_desc,
        };
        let wire: AddWire = self.post_json(&ADD_TEMPLATE, token, &body).await?;
        Ok(wire.pri_tmpl_id)
    }

    /// `GET /wxaapi/newtmpl/gettemplate`: the account's own templates.
    pub async fn get_subscribe_templates(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<Vec<SubscribeTemplate>, WechatError> {
        let wire: DataWire<SubscribeTemplate> = self.get(&GET_TEMPLATE, token, &[]).await?;
        Ok(wire.data)
    }

    /// `/wxaapi/newtmpl/deltemplate`.
    pub async fn delete_subscribe_template(
        &self,
        token: &AuthorizerAccessToken,
        pri_tmpl_id: &str,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&DEL_TEMPLATE, token, &DelBody { pri_tmpl_id })
            .await?;
        Ok(())
    }

    /// `/cgi-bin/message/subscribe/send`.
    pub async fn send_subscribe_message(
        &self,
        token: &AuthorizerAccessToken,
        message: &SubscribeMessage,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&SUBSCRIBE_SEND, token, message).await?;
        Ok(())
    }
}
