//! Mini program codes (小程序码): the unlimited kind, keyed by a `scene` string. Authorizer token;
//! the answer is an image, or a JSON error.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, RawResponse, WechatClient};
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const GET_WXACODE_UNLIMIT: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/getwxacodeunlimit");

/// An RGB colour for the code's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineColor {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// What to encode and how it looks. Only `scene` is required.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WxaCodeUnlimitRequest {
    /// Up to 32 visible characters, handed to the page as `scene`.
    pub scene: String,
    /// A page of the released version (no leading `/`); the home page when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Whether WeChat checks that `page` exists (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_path: Option<bool>,
    /// `release`, `trial` or `develop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_version: Option<String>,
    /// Width in pixels, 280 to 1280.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_color: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_color: Option<LineColor>,
    /// A transparent background.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_hyaline: Option<bool>,
}

impl WechatClient {
    /// `/wxa/getwxacodeunlimit`: the image bytes and their content type.
    pub async fn get_wxacode_unlimit(
        &self,
        token: &AuthorizerAccessToken,
        request: &WxaCodeUnlimitRequest,
    ) -> Result<RawResponse, WechatError> {
        self.post_json_raw(&GET_WXACODE_UNLIMIT, token, request)
            .await
    }
}
