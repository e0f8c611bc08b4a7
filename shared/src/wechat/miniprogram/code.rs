//! Code management (代码管理): commit code from a template, the trial QR code, audit, release,
//! rollback, phased (gray) release, visit status, the minimum base library and audit quota.
//! Authorizer token.

use super::Empty;
use crate::wechat::access_tokens::AuthorizerAccessToken;
use crate::wechat::client::{Endpoint, RawResponse, WechatClient};
use crate::wechat::component::Ack;
use crate::wechat::error::WechatError;
use serde::{Deserialize, Serialize};

pub(crate) const COMMIT: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/commit");
pub(crate) const GET_PAGE: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/get_page");
pub(crate) const GET_QRCODE: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/get_qrcode");
// Submitting, withdrawing, releasing, reverting and speeding up change state once and several
// spend a quota: a replay after a lost answer would fail or spend it twice.
pub(crate) const SUBMIT_AUDIT: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/submit_audit").not_replayable();
pub(crate) const GET_AUDITSTATUS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/get_auditstatus");
pub(crate) const GET_LATEST_AUDITSTATUS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/get_latest_auditstatus");
pub(crate) const UNDO_CODE_AUDIT: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/undocodeaudit").not_replayable();
pub(crate) const RELEASE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/release").not_replayable();
// Reverting and listing revertable versions share a path; listing adds `action=get_history_version`.
pub(crate) const REVERT_CODE_RELEASE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/revertcoderelease").not_replayable();
pub(crate) const GET_REVERT_HISTORY: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/revertcoderelease");
pub(crate) const GRAY_RELEASE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/grayrelease").not_replayable();
pub(crate) const GET_GRAY_RELEASE_PLAN: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/getgrayreleaseplan");
pub(crate) const REVERT_GRAY_RELEASE: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/revertgrayrelease");
pub(crate) const CHANGE_VISIT_STATUS: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/change_visitstatus");
pub(crate) const GET_WEAPP_SUPPORT_VERSION: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/getweappsupportversion");
pub(crate) const SET_WEAPP_SUPPORT_VERSION: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/cgi-bin/wxopen/setweappsupportversion");
pub(crate) const QUERY_QUOTA: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/queryquota");
pub(crate) const SPEEDUP_AUDIT: Endpoint<AuthorizerAccessToken> =
    Endpoint::new("/wxa/speedupaudit").not_replayable();

/// Code to upload: a template and the account's `ext.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// From the component's template library (a string in WeChat's documentation).
    pub template_id: String,
    /// The `ext.json` for this account, as a JSON string (WeChat parses it).
    pub ext_json: String,
    pub user_version: String,
    pub user_desc: String,
}

/// One page of the mini program, with the category it is audited under.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub first_class: String,
    pub second_class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_class: Option<String>,
    pub first_id: i64,
    pub second_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// Screenshots and recordings (media ids from the audit material upload).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PreviewInfo {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub video_id_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pic_id_list: Vec<String>,
}

/// The UGC declaration WeChat requires for community-type categories.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UgcDeclare {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scene: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_scene_desc: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub method: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_audit_team: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_desc: Option<String>,
}

/// The body of `submit_audit`. `item_list` is required (up to 5 items).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubmitAuditRequest {
    pub item_list: Vec<AuditItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_info: Option<PreviewInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_desc: Option<String>,
    /// Only read after the previous version was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_info: Option<String>,
    /// `|`-separated media ids, up to 5 pictures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_stuff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ugc_declare: Option<UgcDeclare>,
    /// Declares that privacy APIs detected in the code but not configured are not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_api_not_use: Option<bool>,
    /// The order centre page path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_path: Option<String>,
}

/// An audit's state: 0 approved, 1 rejected, 2 under audit, 3 withdrawn, 4 delayed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditStatusReport {
    pub status: i64,
    pub reason: String,
    /// `|`-separated media ids of the screenshots behind a rejection.
    pub screenshot: String,
}

/// The latest audit and the version it is for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LatestAuditStatus {
    pub auditid: i64,
    pub status: i64,
    pub reason: String,
    /// WeChat capitalises this one.
    #[serde(rename = "ScreenShot")]
    pub screenshot: String,
    pub user_version: String,
    pub user_desc: String,
    pub submit_audit_time: i64,
}

/// A released version that can be reverted to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct HistoryVersion {
    pub app_version: i64,
    pub user_version: String,
    pub user_desc: String,
    pub commit_time: i64,
}

/// A phased release: the share of users that get the new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrayReleaseRequest {
    /// 1 to 100.
    pub gray_percentage: u8,
    /// Developers get it first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_debuger_first: Option<bool>,
    /// Testers get it first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_experiencer_first: Option<bool>,
}

/// The current phased release: status 0 initial, 1 running, 2 paused, 3 done, 4 cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct GrayReleasePlan {
    pub status: i64,
    pub create_timestamp: i64,
    pub gray_percentage: i64,
    pub support_experiencer_first: bool,
    pub support_debuger_first: bool,
}

#[derive(Deserialize)]
struct GrayPlanWire {
    #[serde(default)]
    gray_release_plan: GrayReleasePlan,
}

/// Whether users can open the mini program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VisitAction {
    Open,
    Close,
}

/// The minimum base library and the share of users on each version.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SupportVersion {
    pub now_version: String,
    pub uv_info: UvInfo,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct UvInfo {
    pub items: Vec<VersionShare>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct VersionShare {
    pub percentage: f64,
    pub version: String,
}

/// The component's monthly audit quota and expedite allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditQuota {
    pub rest: i64,
    pub limit: i64,
    pub speedup_rest: i64,
    pub speedup_limit: i64,
}

#[derive(Deserialize)]
struct PageListWire {
    #[serde(default)]
    page_list: Vec<String>,
}

#[derive(Deserialize)]
struct AuditIdWire {
    auditid: i64,
}

#[derive(Serialize)]
struct AuditIdBody {
    auditid: i64,
}

#[derive(Deserialize)]
struct VersionListWire {
    #[serde(default)]
    version_list: Vec<HistoryVersion>,
}

#[derive(Serialize)]
struct VisitBody {
    action: VisitAction,
}

#[derive(Serialize)]
struct VersionBody<'a> {
    version: &'a str,
}

impl WechatClient {
    /// `/wxa/commit`: upload code for the account from a template.
    pub async fn commit_code(
        &self,
        token: &AuthorizerAccessToken,
        request: &CommitRequest,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&COMMIT, token, request).await?;
        Ok(())
    }

    /// `GET /wxa/get_page`: the pages of the uploaded code.
    pub async fn get_code_page(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<Vec<String>, WechatError> {
        let wire: PageListWire = self.get(&GET_PAGE, token, &[]).await?;
        Ok(wire.page_list)
    }

    /// `GET /wxa/get_qrcode`: the trial version's QR code image, optionally opening `path`
    /// (`page/index?key=value`).
    pub async fn get_trial_qrcode(
        &self,
        token: &AuthorizerAccessToken,
        path: Option<&str>,
    ) -> Result<RawResponse, WechatError> {
        let query: Vec<(&str, &str)> = path.map(|p| ("path", p)).into_iter().collect();
        self.get_raw(&GET_QRCODE, token, &query).await
    }

    /// `/wxa/submit_audit`: answers the `auditid`.
    pub async fn submit_audit(
        &self,
        token: &AuthorizerAccessToken,
        request: &SubmitAuditRequest,
    ) -> Result<i64, WechatError> {
        let wire: AuditIdWire = self.post_json(&SUBMIT_AUDIT, token, request).await?;
        Ok(wire.auditid)
    }

    /// `/wxa/get_auditstatus`.
    pub async fn get_audit_status(
        &self,
        token: &AuthorizerAccessToken,
        auditid: i64,
    ) -> Result<AuditStatusReport, WechatError> {
        self.post_json(&GET_AUDITSTATUS, token, &AuditIdBody { auditid })
            .await
    }

    /// `GET /wxa/get_latest_auditstatus`.
    pub async fn get_latest_audit_status(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<LatestAuditStatus, WechatError> {
        self.get(&GET_LATEST_AUDITSTATUS, token, &[]).await
    }

    /// `GET /wxa/undocodeaudit`: withdraw the audit (once a day, 10 times a month).
    pub async fn undo_code_audit(&self, token: &AuthorizerAccessToken) -> Result<(), WechatError> {
        let _: Ack = self.get(&UNDO_CODE_AUDIT, token, &[]).await?;
        Ok(())
    }

    /// `/wxa/release`: publish the approved version.
    pub async fn release(&self, token: &AuthorizerAccessToken) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&RELEASE, token, &Empty {}).await?;
        Ok(())
    }

    /// `GET /wxa/revertcoderelease`: back to the previous version, or to `app_version` from
    /// [`WechatClient::get_revert_history`].
    pub async fn revert_code_release(
        &self,
        token: &AuthorizerAccessToken,
        app_version: Option<i64>,
    ) -> Result<(), WechatError> {
        let version = app_version.map(|v| v.to_string());
        let query: Vec<(&str, &str)> = version
            .as_deref()
            .map(|v| ("app_version", v))
            .into_iter()
            .collect();
        let _: Ack = self.get(&REVERT_CODE_RELEASE, token, &query).await?;
        Ok(())
    }

    /// `GET /wxa/revertcoderelease?action=get_history_version`: the versions one may revert to.
    pub async fn get_revert_history(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<Vec<HistoryVersion>, WechatError> {
        let wire: VersionListWire = self
            .get(
                &GET_REVERT_HISTORY,
                token,
                &[("action", "get_history_version")],
            )
            .await?;
        Ok(wire.version_list)
    }

    /// `/wxa/grayrelease`: start or widen a phased release.
    pub async fn gray_release(
        &self,
        token: &AuthorizerAccessToken,
        request: &GrayReleaseRequest,
    ) -> Result<(), WechatError> {
        let _: Ack = self.post_json(&GRAY_RELEASE, token, request).await?;
        Ok(())
    }

    /// `GET /wxa/getgrayreleaseplan`.
    pub async fn get_gray_release_plan(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<GrayReleasePlan, WechatError> {
        let wire: GrayPlanWire = self.get(&GET_GRAY_RELEASE_PLAN, token, &[]).await?;
        Ok(wire.gray_release_plan)
    }

    /// `GET /wxa/revertgrayrelease`: cancel the phased release.
    pub async fn revert_gray_release(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<(), WechatError> {
        let _: Ack = self.get(&REVERT_GRAY_RELEASE, token, &[]).await?;
        Ok(())
    }

    /// `/wxa/change_visitstatus`.
    pub async fn change_visit_status(
        &self,
        token: &AuthorizerAccessToken,
        action: VisitAction,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&CHANGE_VISIT_STATUS, token, &VisitBody { action })
            .await?;
        Ok(())
    }

    /// `/cgi-bin/wxopen/getweappsupportversion`.
    pub async fn get_weapp_support_version(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<SupportVersion, WechatError> {
        self.post_json(&GET_WEAPP_SUPPORT_VERSION, token, &Empty {})
            .await
    }

    /// `/cgi-bin/wxopen/setweappsupportversion`.
    pub async fn set_weapp_support_version(
        &self,
        token: &AuthorizerAccessToken,
        version: &str,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&SET_WEAPP_SUPPORT_VERSION, token, &VersionBody { version })
            .await?;
        Ok(())
    }

    /// `GET /wxa/queryquota`: the component's audit quota this month.
    pub async fn query_quota(
        &self,
        token: &AuthorizerAccessToken,
    ) -> Result<AuditQuota, WechatError> {
        self.get(&QUERY_QUOTA, token, &[]).await
    }

    /// `/wxa/speedupaudit`: expedite an audit (spends the expedite allowance).
    pub async fn speedup_audit(
        &self,
        token: &AuthorizerAccessToken,
        auditid: i64,
    ) -> Result<(), WechatError> {
        let _: Ack = self
            .post_json(&SPEEDUP_AUDIT, token, &AuditIdBody { auditid })
            .await?;
        Ok(())
    }
}
