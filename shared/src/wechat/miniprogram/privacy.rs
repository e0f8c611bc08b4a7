//! The mini program's user privacy guide (用户隐私保护指引): set it, read it, upload the
//! supplementary file it may point to. Authorizer token.

use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use crate::wechat::multipart::FilePart;
use serde::{Deserialize, Serialize};

pub(crate) const SET_PRIVACY_SETTING: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/component/setprivacysetting");
pub(crate) const GET_PRIVACY_SETTING: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/component/getprivacysetting");
pub(crate) const UPLOAD_PRIVACY_EXT_FILE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/component/uploadprivacyextfile");
pub(crate) const GET_CODE_PRIVACY_INFO: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/security/get_code_privacy_info");

/// Who collects the data and how users are told about changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivacyOwnerSetting {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_qq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_weixin: Option<String>,
    /// From [`WechatClient::upload_privacy_ext_file`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_file_media_id: Option<String>,
    /// How users are notified (required by WeChat).
    pub notice_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_expire_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_region: Option<u8>,
}

/// One kind of user data and why it is collected (`privacy_key` such as `UserInfo`, `Location`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivacyItem {
    pub privacy_key: String,
    pub privacy_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_label: Option<String>,
}

/// The body of `setprivacysetting`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettingRequest {
    /// 1 the live version, 2 the version in development (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_ver: Option<u8>,
    pub owner_setting: PrivacyOwnerSetting,
    pub setting_list: Vec<PrivacyItem>,
    /// Third-party SDKs the code uses and what they collect; shape as WeChat documents it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdk_privacy_info_list: Option<serde_json::Value>,
}

/// What `getprivacysetting` answers.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PrivacySetting {
    /// Whether code has been uploaded (0/1).
    pub code_exist: i64,
    /// The privacy keys detected in the code.
    pub privacy_list: Vec<String>,
    pub setting_list: Vec<PrivacyItem>,
    pub update_time: i64,
    pub owner_setting: PrivacyOwnerSetting,
    /// WeChat's descriptions of every privacy key (`privacy_desc_list`).
    pub privacy_desc: serde_json::Value,
    pub sdk_privacy_info_list: serde_json::Value,
}

/// What the privacy check of the committed code found (`get_code_privacy_info`): WeChat answers
/// 61039 while the check still runs, and `submit_audit` waits for it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CodePrivacyInfo {
    /// Privacy APIs the code uses without the account being allowed to.
    pub without_auth_list: Vec<String>,
    /// Privacy APIs the code uses that the privacy guide does not declare.
    pub without_conf_list: Vec<String>,
}

#[derive(Serialize)]
struct VersionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    privacy_ver: Option<u8>,
}

#[derive(Deserialize)]
struct ExtFileWire {
    ext_file_media_id: String,
}

impl WechatClient {
    /// `/cgi-bin/component/setprivacysetting`.
    pub async fn set_privacy_setting(
        &self,
        token: &AuthorizerAccessToken,
        setting: &PrivacySettingRequest,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&SET_PRIVACY_SETTING, token, setting).await?;
        Ok(())
    }

    /// `/cgi-bin/component/getprivacysetting` (`privacy_ver`: 1 live, 2 in development).
    pub async fn get_privacy_setting(
        &self,
        token: &AuthorizerAccessToken,
        privacy_ver: Option<u8>,
    ) -> Result<PrivacySetting, WechatError> {
        self.post_json(&GET_PRIVACY_SETTING, token, &VersionBody { privacy_ver })
            .await
    }

    /// `GET /wxa/security/get_code_privacy_info`: the result of the committed code's privacy
    /// check (an error with errcode 61039 while it runs).
    pub async fn get_code_privacy_info(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<CodePrivacyInfo, WechatError> {
        self.get(&GET_CODE_PRIVACY_INFO, token, &[]).await
    }

    /// `/cgi-bin/component/uploadprivacyextfile`: a `.txt` supplementing the guide; answers its
    /// `ext_file_media_id`.
    pub async fn upload_privacy_ext_file(
        &self,
        token: &AuthorizerAccessToken,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, WechatError> {
        let file = FilePart {
            field: "file",
            filename,
            content_type: "text/plain",
            bytes,
        };
        let wire: ExtFileWire = self
            .post_file(&UPLOAD_PRIVACY_EXT_FILE, token, &[], &file)
            .await?;
        Ok(wire.ext_file_media_id)
    }
}
