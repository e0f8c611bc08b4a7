//! The component's own APIs (`/cgi-bin/component/...`, see docs/wechat-protocol.md): its token,
//! pre-auth codes, exchanging auth codes, refreshing authorizer tokens, authorizer info, list and
//! options.

use super::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use super::client::{Endpoint, NoToken, WechatClient};
use super::error::WechatError;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

const COMPONENT_TOKEN: Endpoint<NoToken> = Endpoint::new("/cgi-bin/component/api_component_token");
const START_PUSH_TICKET: Endpoint<NoToken> =
    Endpoint::new("/cgi-bin/component/api_start_push_ticket");
const CREATE_PREAUTHCODE: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_create_preauthcode");
// An auth code is single use: a replay after a lost answer would fail and hide the first result.
const QUERY_AUTH: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_query_auth").not_replayable();
const AUTHORIZER_TOKEN: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_authorizer_token");
const GET_AUTHORIZER_INFO: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_get_authorizer_info");
const GET_AUTHORIZER_LIST: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_get_authorizer_list");
const API_GET_AUTHORIZER_OPTION: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_get_authorizer_option");
const API_SET_AUTHORIZER_OPTION: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/component/api_set_authorizer_option");
const GET_AUTHORIZER_OPTION: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/component/get_authorizer_option");
const SET_AUTHORIZER_OPTION: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/component/set_authorizer_option");

/// The most authorizers one `api_get_authorizer_list` page holds.
pub const AUTHORIZER_LIST_MAX_PAGE: u32 = 500;

/// A body WeChat answers with only `{errcode, errmsg}`.
#[derive(Deserialize)]
pub(crate) struct Ack {}

/// A single-use code to put into an authorization link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreAuthCode {
    pub code: Secret,
    pub expires_at: EpochSeconds,
}

/// What `api_query_auth` returns: the authorizer and its first tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub authorizer_appid: AuthorizerAppId,
    pub access_token: AuthorizerAccessToken,
    /// Keep durably: if lost, the merchant has to authorize again.
    pub refresh_token: Secret,
    pub func_info: Vec<FuncInfo>,
}

/// What `api_authorizer_token` returns. `refresh_token` may differ from the one sent: persist it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerTokens {
    pub access_token: AuthorizerAccessToken,
    pub refresh_token: Secret,
}

/// One permission set granted to the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuncInfo {
    pub funcscope_category: IdOnly,
}

/// `{"id": N}`, WeChat's shape for enumerations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdOnly {
    pub id: i64,
}

/// `api_get_authorizer_info`'s answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthorizerInfoResponse {
    pub authorizer_info: AuthorizerInfo,
    pub authorization_info: AuthorizationSummary,
}

/// The account's profile. Fields WeChat leaves out are defaulted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthorizerInfo {
    #[serde(default)]
    pub nick_name: String,
    #[serde(default)]
    pub head_img: String,
    #[serde(default)]
    pub service_type_info: Option<IdOnly>,
    #[serde(default)]
    pub verify_type_info: Option<IdOnly>,
    /// The `gh_...` user name messages are addressed to.
    #[serde(default)]
    pub user_name: String,
    #[serde(default)]
    pub principal_name: String,
    #[serde(default)]
    pub alias: String,
    #[serde(default)]
    pub qrcode_url: String,
    #[serde(default)]
    pub signature: String,
    #[serde(default)]
    pub business_info: serde_json::Map<String, serde_json::Value>,
    /// Present for mini programs only; its shape varies, so it is kept as JSON.
    #[serde(default, rename = "MiniProgramInfo")]
    pub mini_program_info: Option<serde_json::Value>,
}

impl AuthorizerInfo {
    /// Mini programs carry `MiniProgramInfo`; official accounts do not.
    pub fn is_mini_program(&self) -> bool {
        self.mini_program_info.is_some()
    }
}

/// The authorization part of `api_get_authorizer_info`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthorizationSummary {
    pub authorizer_appid: AuthorizerAppId,
    #[serde(default)]
    pub authorizer_refresh_token: Option<Secret>,
    #[serde(default)]
    pub func_info: Vec<FuncInfo>,
}

/// One page of `api_get_authorizer_list`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthorizerListPage {
    pub total_count: u32,
    #[serde(default)]
    pub list: Vec<AuthorizerListItem>,
}

/// An authorizer and its current refresh token (the way to recover a lost one).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthorizerListItem {
    pub authorizer_appid: AuthorizerAppId,
    pub refresh_token: Secret,
    pub auth_time: EpochSeconds,
}

/// The options `api_get_authorizer_option` and its siblings know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizerOptionName {
    /// 0 none, 1 on entering a session, 2 every 5 s.
    LocationReport,
    /// 0 off, 1 on.
    VoiceRecognize,
    /// 0 off, 1 on.
    CustomerService,
}

impl AuthorizerOptionName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocationReport => "location_report",
            Self::VoiceRecognize => "voice_recognize",
            Self::CustomerService => "customer_service",
        }
    }
}

/// An option's current value, as WeChat spells it (`"0"`, `"1"`, `"2"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizerOption {
    pub option_name: String,
    pub option_value: String,
}

#[derive(Serialize)]
struct ComponentTokenRequest<'a> {
    component_appid: &'a str,
    component_appsecret: &'a str,
    component_verify_ticket: &'a str,
}

#[derive(Deserialize)]
struct ComponentTokenWire {
    component_access_token: Secret,
    expires_in: i64,
}

#[derive(Serialize)]
struct StartPushTicketRequest<'a> {
    component_appid: &'a str,
    component_secret: &'a str,
}

#[derive(Serialize)]
struct ComponentAppIdOnly<'a> {
    component_appid: &'a str,
}

#[derive(Deserialize)]
struct PreAuthCodeWire {
    pre_auth_code: Secret,
    expires_in: i64,
}

#[derive(Serialize)]
struct QueryAuthRequest<'a> {
    component_appid: &'a str,
    authorization_code: &'a str,
}

#[derive(Deserialize)]
struct QueryAuthWire {
    authorization_info: AuthorizationWire,
}

#[derive(Deserialize)]
struct AuthorizationWire {
    authorizer_appid: AuthorizerAppId,
    authorizer_access_token: Secret,
    expires_in: i64,
    authorizer_refresh_token: Secret,
    #[serde(default)]
    func_info: Vec<FuncInfo>,
}

#[derive(Serialize)]
struct AuthorizerTokenRequest<'a> {
    component_appid: &'a str,
    authorizer_appid: &'a str,
    authorizer_refresh_token: &'a str,
}

#[derive(Deserialize)]
struct AuthorizerTokenWire {
    authorizer_access_token: Secret,
    expires_in: i64,
    #[serde(default)]
    authorizer_refresh_token: Option<Secret>,
}

#[derive(Serialize)]
struct AuthorizerRequest<'a> {
    component_appid: &'a str,
    authorizer_appid: &'a str,
}

#[derive(Serialize)]
struct AuthorizerListRequest<'a> {
    component_appid: &'a str,
    offset: u32,
    count: u32,
}

#[derive(Serialize)]
struct ApiOptionRequest<'a> {
    component_appid: &'a str,
    authorizer_appid: &'a str,
    option_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    option_value: Option<&'a str>,
}

#[derive(Serialize)]
struct OptionRequest<'a> {
    option_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    option_value: Option<&'a str>,
}

impl WechatClient {
    fn expires_at(&self, now: EpochSeconds, expires_in: i64) -> EpochSeconds {
        now.saturating_add(expires_in)
    }

    /// `api_component_token`: trade the latest ticket for a component token (valid about 2 h).
    pub async fn api_component_token(
        &self,
        ticket: &Secret,
    ) -> Result<ComponentAccessToken, WechatError> {
        // Expiry counts from before the request, so it errs early rather than late.
        let now = self.now();
        let body = ComponentTokenRequest {
            component_appid: self.component_appid().as_str(),
            component_appsecret: self.component_secret().expose(),
            component_verify_ticket: ticket.expose(),
        };
        let wire: ComponentTokenWire = self.post_json(&COMPONENT_TOKEN, &NoToken, &body).await?;
        Ok(ComponentAccessToken::new(
            wire.component_access_token,
            self.expires_at(now, wire.expires_in),
        ))
    }

    /// `api_start_push_ticket`: ask WeChat to push a ticket now (after 61005/61006 or a cold start).
    pub async fn api_start_push_ticket(&self) -> Result<(), WechatError> {
        let body = StartPushTicketRequest {
            component_appid: self.component_appid().as_str(),
            component_secret: self.component_secret().expose(),
        };
        let _: Ack = self.post_json(&START_PUSH_TICKET, &NoToken, &body).await?;
        Ok(())
    }

    /// `api_create_preauthcode`: a fresh code for one authorization link.
    pub async fn api_create_preauthcode(
        &self,
        token: &ComponentAccessToken,
    ) -> Result<PreAuthCode, WechatError> {
        let now = self.now();
        let body = ComponentAppIdOnly {
            component_appid: self.component_appid().as_str(),
        };
        let wire: PreAuthCodeWire = self.post_json(&CREATE_PREAUTHCODE, token, &body).await?;
        Ok(PreAuthCode {
            code: wire.pre_auth_code,
            expires_at: self.expires_at(now, wire.expires_in),
        })
    }

    /// `api_query_auth`: exchange the auth code from the redirect or the `authorized` event.
    pub async fn api_query_auth(
        &self,
        token: &ComponentAccessToken,
        authorization_code: &Secret,
    ) -> Result<Authorization, WechatError> {
        let now = self.now();
        let body = QueryAuthRequest {
            component_appid: self.component_appid().as_str(),
            authorization_code: authorization_code.expose(),
        };
        let wire: QueryAuthWire = self.post_json(&QUERY_AUTH, token, &body).await?;
        let info = wire.authorization_info;
        Ok(Authorization {
            authorizer_appid: info.authorizer_appid,
            access_token: AuthorizerAccessToken::new(
                info.authorizer_access_token,
                self.expires_at(now, info.expires_in),
            ),
            refresh_token: info.authorizer_refresh_token,
            func_info: info.func_info,
        })
    }

    /// `api_authorizer_token`: a new authorizer token from the refresh token. When WeChat leaves the
    /// refresh token out of its answer, the one sent is returned.
    pub async fn api_authorizer_token(
        &self,
        token: &ComponentAccessToken,
        authorizer_appid: &AuthorizerAppId,
        refresh_token: &Secret,
    ) -> Result<AuthorizerTokens, WechatError> {
        let now = self.now();
        let body = AuthorizerTokenRequest {
            component_appid: self.component_appid().as_str(),
            authorizer_appid: authorizer_appid.as_str(),
            authorizer_refresh_token: refresh_token.expose(),
        };
        let wire: AuthorizerTokenWire = self.post_json(&AUTHORIZER_TOKEN, token, &body).await?;
        Ok(AuthorizerTokens {
            access_token: AuthorizerAccessToken::new(
                wire.authorizer_access_token,
                self.expires_at(now, wire.expires_in),
            ),
            refresh_token: wire
                .authorizer_refresh_token
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| refresh_token.clone()),
        })
    }

    /// `api_get_authorizer_info`: the account's profile and granted permissions.
    pub async fn api_get_authorizer_info(
        &self,
        token: &ComponentAccessToken,
        authorizer_appid: &AuthorizerAppId,
    ) -> Result<AuthorizerInfoResponse, WechatError> {
        let body = AuthorizerRequest {
            component_appid: self.component_appid().as_str(),
            authorizer_appid: authorizer_appid.as_str(),
        };
        self.post_json(&GET_AUTHORIZER_INFO, token, &body).await
    }

    /// One page of `api_get_authorizer_list`; `count` is clamped to 1..=500.
    pub async fn api_get_authorizer_list(
        &self,
        token: &ComponentAccessToken,
        offset: u32,
        count: u32,
    ) -> Result<AuthorizerListPage, WechatError> {
        let body = AuthorizerListRequest {
            component_appid: self.component_appid().as_str(),
            offset,
            count: count.clamp(1, AUTHORIZER_LIST_MAX_PAGE),
        };
        self.post_json(&GET_AUTHORIZER_LIST, token, &body).await
    }

    /// Every authorizer, fetched in pages of `page_size` (clamped to 1..=500) until `total_count`.
    pub async fn api_get_all_authorizers(
        &self,
        token: &ComponentAccessToken,
        page_size: u32,
    ) -> Result<Vec<AuthorizerListItem>, WechatError> {
        let mut all = Vec::new();
        loop {
            let offset = u32::try_from(all.len()).unwrap_or(u32::MAX);
            let page = self
                .api_get_authorizer_list(token, offset, page_size)
                .await?;
            let empty = page.list.is_empty();
            all.extend(page.list);
            // An empty page ends the walk even if total_count promised more, so it cannot spin.
            if empty || all.len() >= page.total_count as usize {
                return Ok(all);
            }
        }
    }

    /// `api_get_authorizer_option` (component token, older form).
    pub async fn api_get_authorizer_option(
        &self,
        token: &ComponentAccessToken,
        authorizer_appid: &AuthorizerAppId,
        name: AuthorizerOptionName,
    ) -> Result<AuthorizerOption, WechatError> {
        let body = ApiOptionRequest {
            component_appid: self.component_appid().as_str(),
            authorizer_appid: authorizer_appid.as_str(),
            option_name: name.as_str(),
            option_value: None,
        };
        self.post_json(&API_GET_AUTHORIZER_OPTION, token, &body)
            .await
    }

    /// `api_set_authorizer_option` (component token, older form).
    pub async fn api_set_authorizer_option(
        &self,
        token: &ComponentAccessToken,
        authorizer_appid: &AuthorizerAppId,
        name: AuthorizerOptionName,
        value: &str,
    ) -> Result<(), WechatError> {
        let body = ApiOptionRequest {
            component_appid: self.component_appid().as_str(),
            authorizer_appid: authorizer_appid.as_str(),
            option_name: name.as_str(),
            option_value: Some(value),
        };
        let _: Ack = self
            .post_json(&API_SET_AUTHORIZER_OPTION, token, &body)
            .await?;
        Ok(())
    }

    /// `get_authorizer_option` (authorizer token, newer form).
    pub async fn get_authorizer_option(
        &self,
        token: &AuthorizerAccessToken,
        name: AuthorizerOptionName,
    ) -> Result<AuthorizerOption, WechatError> {
        let body = OptionRequest {
            option_name: name.as_str(),
            option_value: None,
        };
        self.post_json(&GET_AUTHORIZER_OPTION, token, &body).await
    }

    /// `set_authorizer_option` (authorizer token, newer form).
    pub async fn set_authorizer_option(
        &self,
        token: &AuthorizerAccessToken,
        name: AuthorizerOptionName,
        value: &str,
    ) -> Result<(), WechatError> {
        let body = OptionRequest {
            option_name: name.as_str(),
            option_value: Some(value),
        };
        let _: Ack = self.post_json(&SET_AUTHORIZER_OPTION, token, &body).await?;
        Ok(())
    }
}
