//! openApi management: what WeChat recorded for a failed call's `rid` (quota get and reset live in
//! [`crate::wechat`]'s openapi module).

use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use crate::wechat::tokens::AuthorizerAccessToken;
use serde::{Deserialize, Serialize};

pub(crate) const RID_GET: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/openapi/rid/get");

/// One call as WeChat logged it, found by the `rid` of its error message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RidRequest {
    #[serde(default)]
    pub invoke_time: i64,
    #[serde(default)]
    pub cost_in_ms: i64,
    #[serde(default)]
    pub request_url: String,
    #[serde(default)]
    pub request_body: String,
    #[serde(default)]
    pub response_body: String,
    #[serde(default)]
    pub client_ip: String,
}

#[derive(Deserialize)]
struct RidWire {
    request: RidRequest,
}

#[derive(Serialize)]
struct RidBody<'a> {
    rid: &'a str,
}

impl WechatClient {
    /// `/cgi-bin/openapi/rid/get`: the request and response behind a `rid` an error message quoted.
    pub async fn get_rid_info(
        &self,
        token: &AuthorizerAccessToken,
        rid: &str,
    ) -> Result<RidRequest, WechatError> {
        let wire: RidWire = self.post_json(&RID_GET, token, &RidBody { rid }).await?;
        Ok(wire.request)
    }
}
