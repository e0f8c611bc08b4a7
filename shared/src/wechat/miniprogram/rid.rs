//! openApi management: what WeChat recorded for a failed call's `rid` (quota get and reset live in
//! [`crate::wechat`]'s openapi module).

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const RID_GET: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/openapi/rid/get");

/// One call as WeChat logged it, found by the `rid` of its error message. `Debug` leaves out the
/// URL and the bodies: the URL's query carried the call's access token, the bodies whatever the
/// call sent and got (secrets, codes).
#[derive(Clone, PartialEq, Eq, Deserialize)]
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

impl std::fmt::Debug for RidRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RidRequest")
            .field("invoke_time", &self.invoke_time)
            .field("cost_in_ms", &self.cost_in_ms)
            .field("request_url", &"[redacted]")
            .field("request_body", &"[redacted]")
            .field("response_body", &"[redacted]")
            .field("client_ip", &self.client_ip)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_logged_url_or_bodies() {
        let request: RidRequest = serde_json::from_str(
            r#"{"invoke_time":1,"cost_in_ms":2,"request_url":"access_token=atoken-secret","request_body":"{\"secret\":\"body-secret\"}","response_body":"{\"refresh\":\"resp-secret\"}","client_ip":"1.2.3.4"}"#,
        )
        .unwrap();
        let debug = format!("{request:?}");
        for secret in ["atoken-secret", "body-secret", "resp-secret"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("1.2.3.4"), "{debug}");
    }
}
