//! API quota: how much of a path's daily quota is used, and resetting it (10 resets a month).

use super::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use super::client::{Endpoint, NoToken, WechatClient};
use super::component::Ack;
use super::error::WechatError;
use crate::ids::AuthorizerAppId;
use serde::{Deserialize, Serialize};

// A reset spends one of ten a month: never replay one WeChat may have done already.
const CLEAR_QUOTA: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/clear_quota").not_replayable();
const CLEAR_COMPONENT_QUOTA: Endpoint<ComponentAccessToken> = Endpoint::new("/cgi-bin/clear_quota")
    .token_param("access_token")
    .not_replayable();
const CLEAR_QUOTA_BY_SECRET: Endpoint<NoToken> =
    Endpoint::new("/cgi-bin/component/clear_quota/v2").not_replayable();
const QUOTA_GET: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/openapi/quota/get");
const COMPONENT_QUOTA_GET: Endpoint<ComponentAccessToken> =
    Endpoint::new("/cgi-bin/openapi/quota/get").token_param("access_token");

/// A path's daily quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ApiQuota {
    pub daily_limit: i64,
    pub used: i64,
    pub remain: i64,
}

#[derive(Deserialize)]
struct QuotaWire {
    quota: ApiQuota,
}

#[derive(Serialize)]
struct AppIdRequest<'a> {
    appid: &'a str,
}

#[derive(Serialize)]
struct CgiPathRequest<'a> {
    cgi_path: &'a str,
}

#[derive(Serialize)]
struct ClearBySecretRequest<'a> {
    component_appid: &'a str,
    appsecret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    appid: Option<&'a str>,
}

impl WechatClient {
    /// `/cgi-bin/clear_quota` for an authorizer, with its token.
    pub async fn clear_quota(
        &self,
        token: &AuthorizerAccessToken,
        authorizer_appid: &AuthorizerAppId,
    ) -> Result<(), WechatError> {
        let body = AppIdRequest {
            appid: authorizer_appid.as_str(),
        };
        let _: Ack = self.post_json(&CLEAR_QUOTA, token, &body).await?;
        Ok(())
    }

    /// `/cgi-bin/clear_quota` for the component itself, with its token.
    pub async fn clear_component_quota(
        &self,
        token: &ComponentAccessToken,
    ) -> Result<(), WechatError> {
        let body = AppIdRequest {
            appid: self.component_appid().as_str(),
        };
        let _: Ack = self.post_json(&CLEAR_COMPONENT_QUOTA, token, &body).await?;
        Ok(())
    }

    /// `/cgi-bin/component/clear_quota/v2`: reset with the appsecret, for when no token can be had
    /// (45009 on api_component_token). `None` resets the component's quota, `Some` an authorizer's.
    pub async fn clear_quota_by_app_secret(
        &self,
        authorizer_appid: Option<&AuthorizerAppId>,
    ) -> Result<(), WechatError> {
        let body = ClearBySecretRequest {
            component_appid: self.component_appid().as_str(),
            appsecret: self.component_secret().expose(),
            appid: authorizer_appid.map(AuthorizerAppId::as_str),
        };
        let _: Ack = self
            .post_json(&CLEAR_QUOTA_BY_SECRET, &NoToken, &body)
            .await?;
        Ok(())
    }

    /// `/cgi-bin/openapi/quota/get` for an authorizer's API path (e.g. `/cgi-bin/message/custom/send`).
    pub async fn get_api_quota(
        &self,
        token: &AuthorizerAccessToken,
        cgi_path: &str,
    ) -> Result<ApiQuota, WechatError> {
        let wire: QuotaWire = self
            .post_json(&QUOTA_GET, token, &CgiPathRequest { cgi_path })
            .await?;
        Ok(wire.quota)
    }

    /// `/cgi-bin/openapi/quota/get` for one of the component's own API paths.
    pub async fn get_component_api_quota(
        &self,
        token: &ComponentAccessToken,
        cgi_path: &str,
    ) -> Result<ApiQuota, WechatError> {
        let wire: QuotaWire = self
            .post_json(&COMPONENT_QUOTA_GET, token, &CgiPathRequest { cgi_path })
            .await?;
        Ok(wire.quota)
    }
}
