//! A mini program's basic settings (基础信息设置): account info, server and business domains, name,
//! avatar, introduction, search visibility and data prefetch. Authorizer token.

use super::{DomainAction, Empty};
use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const GET_ACCOUNT_BASIC_INFO: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/account/getaccountbasicinfo");
pub(crate) const OPEN_HAVE: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/open/have");
pub(crate) const MODIFY_DOMAIN: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/modify_domain");
pub(crate) const SET_WEBVIEW_DOMAIN: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/setwebviewdomain");
pub(crate) const SET_NICKNAME: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/setnickname").not_replayable();
pub(crate) const CHECK_WX_VERIFY_NICKNAME: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxverify/checkwxverifynickname");
pub(crate) const QUERY_NICKNAME: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/api_wxa_querynickname");
// Avatar and introduction changes spend a monthly quota: never twice for one request.
pub(crate) const MODIFY_HEAD_IMAGE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/account/modifyheadimage").not_replayable();
pub(crate) const MODIFY_SIGNATURE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/account/modifysignature").not_replayable();
pub(crate) const GET_WXA_SEARCH_STATUS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/getwxasearchstatus");
pub(crate) const CHANGE_WXA_SEARCH_STATUS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/changewxasearchstatus");
// One path, three operations chosen by the body's `action`.
pub(crate) const FETCH_DATA_SETTING: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/fetchdatasetting");

/// `getaccountbasicinfo`'s answer. Nested parts WeChat extends over time stay JSON.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AccountBasicInfo {
    pub appid: String,
    /// 1 subscription account, 2 service account, 3 mini program.
    pub account_type: i64,
    /// 0 individual, 1 company, 2 media, 3 government, 4 other organisation.
    pub principal_type: i64,
    pub principal_name: String,
    pub credential: String,
    /// 1 real-name verified, 2 pending, 3 failed.
    pub realname_status: i64,
    pub wx_verify_info: serde_json::Value,
    pub signature_info: QuotaItem,
    pub head_image_info: QuotaItem,
    pub nickname_info: QuotaItem,
    pub registered_country: i64,
    pub nickname: String,
}

/// A setting that may be changed a limited number of times: its value and the quota.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct QuotaItem {
    pub signature: Option<String>,
    pub head_image_url: Option<String>,
    pub nickname: Option<String>,
    pub modify_used_count: i64,
    pub modify_quota: i64,
}

/// A change to the server domains (`action` get ignores the lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerDomainsChange {
    pub action: DomainAction,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requestdomain: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wsrequestdomain: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploaddomain: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downloaddomain: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udpdomain: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcpdomain: Vec<String>,
}

/// The server domains after a change, and those WeChat refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerDomainsConfig {
    pub requestdomain: Vec<String>,
    pub wsrequestdomain: Vec<String>,
    pub uploaddomain: Vec<String>,
    pub downloaddomain: Vec<String>,
    pub udpdomain: Vec<String>,
    pub tcpdomain: Vec<String>,
    pub invalid_requestdomain: Vec<String>,
    pub invalid_wsrequestdomain: Vec<String>,
    pub invalid_uploaddomain: Vec<String>,
    pub invalid_downloaddomain: Vec<String>,
    pub invalid_udpdomain: Vec<String>,
    pub invalid_tcpdomain: Vec<String>,
    pub no_icp_domain: Vec<String>,
}

/// The business domains (`webviewdomain`) after a change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct WebviewDomains {
    pub webviewdomain: Vec<String>,
}

/// A new name, with the proof WeChat may ask for (media ids from a temporary upload).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NicknameChange {
    pub nick_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_card: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub naming_other_stuff_1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub naming_other_stuff_2: Option<String>,
}

/// The answer to a name change: set at once (no `audit_id`) or under audit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NicknameChangeResult {
    pub wording: String,
    pub audit_id: Option<i64>,
}

/// Whether a name would need proof because it hits a protected word.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NicknameCheck {
    pub hit_condition: bool,
    pub wording: String,
}

/// A name change audit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct NicknameAudit {
    pub nickname: String,
    /// 1 under audit, 2 rejected, 3 approved.
    pub audit_stat: i64,
    pub fail_reason: String,
    pub create_time: i64,
    pub audit_time: i64,
}

/// A new avatar: a temporary media id and the crop box (fractions 0..=1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadImageChange {
    pub head_img_media_id: String,
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// Data prefetch settings (`fetchdatasetting` with `action=get`). Sources: 0 the developer's
/// server (`*_fetch_url`), 1 a cloud function (`*_env` + `*_function_name`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FetchDataSetting {
    pub is_pre_fetch_open: bool,
    pub pre_fetch_type: i64,
    pub pre_fetch_url: String,
    pub pre_env: String,
    pub pre_function_name: String,
    pub is_period_fetch_open: bool,
    pub period_fetch_type: i64,
    pub period_fetch_url: String,
    pub period_env: String,
    pub period_function_name: String,
}

/// `action=set_pre_fetch`: data fetched before the mini program starts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PreFetchSetting {
    pub is_pre_fetch_open: bool,
    /// 0 the developer's server (`pre_fetch_url`), 1 a cloud function (`pre_env`,
    /// `pre_function_name`).
    pub pre_fetch_type: u8,
    /// Must be a business domain of both the component and the mini program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_fetch_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_function_name: Option<String>,
}

/// `action=set_period_fetch`: data fetched periodically.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PeriodFetchSetting {
    pub is_period_fetch_open: bool,
    /// 0 the developer's server (`period_fetch_url`), 1 a cloud function.
    pub period_fetch_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_fetch_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_function_name: Option<String>,
}

#[derive(Serialize)]
struct WebviewBody<'a> {
    action: DomainAction,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    webviewdomain: &'a [String],
}

#[derive(Serialize)]
struct NickNameBody<'a> {
    nick_name: &'a str,
}

#[derive(Serialize)]
struct AuditIdBody {
    audit_id: i64,
}

#[derive(Serialize)]
struct SignatureBody<'a> {
    signature: &'a str,
}

#[derive(Serialize)]
struct StatusBody {
    status: u8,
}

#[derive(Deserialize)]
struct StatusWire {
    status: u8,
}

#[derive(Deserialize)]
struct HaveOpenWire {
    have_open: bool,
}

#[derive(Serialize)]
struct FetchBody<'a, T: Serialize> {
    action: &'a str,
    #[serde(flatten)]
    setting: T,
}

impl WechatClient {
    /// `GET /cgi-bin/account/getaccountbasicinfo`.
    pub async fn get_account_basic_info(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<AccountBasicInfo, WechatError> {
        self.get(&GET_ACCOUNT_BASIC_INFO, token, &[]).await
    }

    /// `/cgi-bin/open/have`: whether the account is bound to an Open Platform account.
    pub async fn open_have(&self, token: &AuthorizerAccessToken) -> Result<bool, WechatError> {
        let wire: HaveOpenWire = self.post_json(&OPEN_HAVE, token, &Empty {}).await?;
        Ok(wire.have_open)
    }

    /// `/wxa/modify_domain`: the server domains (only ones the component registered are accepted).
    pub async fn modify_domain(
        &self,
        token: &AuthorizerAccessToken,
        change: &ServerDomainsChange,
    ) -> Result<ServerDomainsConfig, WechatError> {
        self.post_json(&MODIFY_DOMAIN, token, change).await
    }

    /// `/wxa/setwebviewdomain`: the business domains.
    pub async fn set_webview_domain(
        &self,
        token: &AuthorizerAccessToken,
        action: DomainAction,
        webviewdomain: &[String],
    ) -> Result<WebviewDomains, WechatError> {
        let body = WebviewBody {
            action,
            webviewdomain,
        };
        self.post_json(&SET_WEBVIEW_DOMAIN, token, &body).await
    }

    /// `/wxa/setnickname`.
    pub async fn set_nickname(
        &self,
        token: &AuthorizerAccessToken,
        change: &NicknameChange,
    ) -> Result<NicknameChangeResult, WechatError> {
        self.post_json(&SET_NICKNAME, token, change).await
    }

    /// `/cgi-bin/wxverify/checkwxverifynickname`.
    pub async fn check_wx_verify_nickname(
        &self,
        token: &AuthorizerAccessToken,
        nick_name: &str,
    ) -> Result<NicknameCheck, WechatError> {
        self.post_json(
            &CHECK_WX_VERIFY_NICKNAME,
            token,
            &NickNameBody { nick_name },
        )
        .await
    }

    /// `/wxa/api_wxa_querynickname`.
    pub async fn query_nickname(
        &self,
        token: &AuthorizerAccessToken,
        audit_id: i64,
    ) -> Result<NicknameAudit, WechatError> {
        self.post_json(&QUERY_NICKNAME, token, &AuditIdBody { audit_id })
            .await
    }

    /// `/cgi-bin/account/modifyheadimage`.
    pub async fn modify_head_image(
        &self,
        token: &AuthorizerAccessToken,
        change: &HeadImageChange,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&MODIFY_HEAD_IMAGE, token, change).await?;
        Ok(())
    }

    /// `/cgi-bin/account/modifysignature`: the introduction.
    pub async fn modify_signature(
        &self,
        token: &AuthorizerAccessToken,
        signature: &str,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&MODIFY_SIGNATURE, token, &SignatureBody { signature })
            .await?;
        Ok(())
    }

    /// `GET /wxa/getwxasearchstatus`: 0 searchable, 1 hidden from search.
    pub async fn get_wxa_search_status(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<u8, WechatError> {
        let wire: StatusWire = self.get(&GET_WXA_SEARCH_STATUS, token, &[]).await?;
        Ok(wire.status)
    }

    /// `/wxa/changewxasearchstatus`: 0 searchable, 1 hidden from search.
    pub async fn change_wxa_search_status(
        &self,
        token: &AuthorizerAccessToken,
        status: u8,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&CHANGE_WXA_SEARCH_STATUS, token, &StatusBody { status })
            .await?;
        Ok(())
    }

    /// `/wxa/fetchdatasetting` with `action=get`.
    pub async fn fetch_data_setting_get(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<FetchDataSetting, WechatError> {
        let body = FetchBody {
            action: "get",
            setting: Empty {},
        };
        self.post_json(&FETCH_DATA_SETTING, token, &body).await
    }

    /// `/wxa/fetchdatasetting` with `action=set_pre_fetch`.
    pub async fn fetch_data_setting_set_pre_fetch(
        &self,
        token: &AuthorizerAccessToken,
        setting: &PreFetchSetting,
    ) -> Result<(), WechatError> {
        let body = FetchBody {
            action: "set_pre_fetch",
            setting,
        };
        let _: Ack = self.post_json(&FETCH_DATA_SETTING, token, &body).await?;
        Ok(())
    }

    /// `/wxa/fetchdatasetting` with `action=set_period_fetch`.
    pub async fn fetch_data_setting_set_period_fetch(
        &self,
        token: &AuthorizerAccessToken,
        setting: &PeriodFetchSetting,
    ) -> Result<(), WechatError> {
        let body = FetchBody {
            action: "set_period_fetch",
            setting,
        };
        let _: Ack = self.post_json(&FETCH_DATA_SETTING, token, &body).await?;
        Ok(())
    }
}
