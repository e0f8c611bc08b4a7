//! Open Platform accounts (开放平台帐号): create one for an authorizer, bind and unbind accounts,
//! and ask which one an account belongs to. Authorizer token; `appid` is that account's.

use crate::ids::AuthorizerAppId;
use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const OPEN_CREATE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/open/create").not_replayable();
pub(crate) const OPEN_BIND: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/open/bind");
pub(crate) const OPEN_UNBIND: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/open/unbind");
pub(crate) const OPEN_GET: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/open/get");

#[derive(Serialize)]
struct AppIdBody<'a> {
    appid: &'a str,
}

#[derive(Serialize)]
struct BindBody<'a> {
    appid: &'a str,
    open_appid: &'a str,
}

#[derive(Deserialize)]
struct OpenAppIdWire {
    open_appid: String,
}

impl WechatClient {
    /// `/cgi-bin/open/create`: a new Open Platform account with `appid` bound to it; answers its
    /// `open_appid`. Not replayed: a second create would fail with "already bound".
    pub async fn open_create(
        &self,
        token: &AuthorizerAccessToken,
        appid: &AuthorizerAppId,
    ) -> Result<String, WechatError> {
        let body = AppIdBody {
            appid: appid.as_str(),
        };
        let wire: OpenAppIdWire = self.post_json(&OPEN_CREATE, token, &body).await?;
        Ok(wire.open_appid)
    }

    /// `/cgi-bin/open/bind`.
    pub async fn open_bind(
        &self,
        token: &AuthorizerAccessToken,
        appid: &AuthorizerAppId,
        open_appid: &str,
    ) -> Result<(), WechatError> {
        let body = BindBody {
            appid: appid.as_str(),
            open_appid,
        };
        let _: Ack = self.post_json(&OPEN_BIND, token, &body).await?;
        Ok(())
    }

    /// `/cgi-bin/open/unbind`.
    pub async fn open_unbind(
        &self,
        token: &AuthorizerAccessToken,
        appid: &AuthorizerAppId,
        open_appid: &str,
    ) -> Result<(), WechatError> {
        let body = BindBody {
            appid: appid.as_str(),
            open_appid,
        };
        let _: Ack = self.post_json(&OPEN_UNBIND, token, &body).await?;
        Ok(())
    }

    /// `/cgi-bin/open/get`: the `open_appid` the account is bound to.
    pub async fn open_get(
        &self,
        token: &AuthorizerAccessToken,
        appid: &AuthorizerAppId,
    ) -> Result<String, WechatError> {
        let body = AppIdBody {
            appid: appid.as_str(),
        };
        let wire: OpenAppIdWire = self.post_json(&OPEN_GET, token, &body).await?;
        Ok(wire.open_appid)
    }
}
