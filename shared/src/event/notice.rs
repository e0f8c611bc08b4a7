//! Notifications that a provider has to act on but that this crate only reads: ICP filing results,
//! verification and annual review progress, privacy interface application results, penalties,
//! category audits, and users withdrawing what they authorized or closing their account.
//!
//! They arrive on either URL (docs/wechat-protocol.md, "Notices"): the filing and verification ones
//! on the authorization event URL, keyed by `InfoType`; the others on the message URL, keyed by
//! `Event`. WeChat's pages and what it sends do not always agree on which URL and which framing
//! (XML or JSON), so every name below is recognised on both URLs and in both framings.

use serde_json::{Map, Value};

use super::EventError;
use super::fields::Body;
use crate::clock::EpochSeconds;
use crate::ids::{AuthorizerAppId, InvalidId};

/// `notify_apply_icpfiling_result`: the filing was approved or rejected.
const ICP_FILING_RESULT: &str = "notify_apply_icpfiling_result";
/// `notify_icpfiling_verify_result`: the administrator's face verification for a filing is done.
const ICP_FILING_VERIFY_RESULT: &str = "notify_icpfiling_verify_result";
/// `notify_3rd_wxa_auth`: progress of a mini program verification (or annual review) task.
const WXA_AUTH: &str = "notify_3rd_wxa_auth";
/// `notify_3rd_wxa_wxverify`: the verification is about to lapse, or has.
const WXA_WXVERIFY: &str = "notify_3rd_wxa_wxverify";
/// `wxa_privacy_apply`: result of applying for a privacy interface.
const PRIVACY_APPLY: &str = "wxa_privacy_apply";
/// `wxa_punish_event`: a penalty for a violation.
const PUNISH: &str = "wxa_punish_event";
/// `wxa_category_audit`: result of a category audit.
const CATEGORY_AUDIT: &str = "wxa_category_audit";
/// `user_authorization_revoke`: a user withdrew some information they had authorized.
const USER_AUTHORIZATION_REVOKE: &str = "user_authorization_revoke";
/// `user_authorization_cancellation`: a user who had authorized the mini program closed their
/// account.
const USER_AUTHORIZATION_CANCELLATION: &str = "user_authorization_cancellation";
/// `user_info_modified`: WeChat cleaned up a user's risky profile (nickname, avatar).
const USER_INFO_MODIFIED: &str = "user_info_modified";

/// A notification that names an account, a task or a user and asks the provider to do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// WeChat's `InfoType` or `Event`, as sent.
    pub event: String,
    /// The account the notification is about, when the push names one (`appid`,
    /// `authorizer_appid`, `verify_appid` or `AppID`, depending on the kind).
    pub appid: Option<AuthorizerAppId>,
    pub kind: NoticeKind,
}

/// What a [`Notice`] says, by kind. None of them carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// `notify_apply_icpfiling_result` (`authorizer_appid`, `beian_status`).
    IcpFilingResult {
        /// `beian_status`, as in getIcpEntranceInfo: 2 platform review, 3 platform rejected,
        /// 4 authority review, 5 authority rejected, 6 filed, 1024 not filed, ...
        beian_status: i64,
    },
    /// `notify_icpfiling_verify_result` (`task_id`, `verify_appid`, `result`).
    IcpFilingVerifyResult {
        /// `task_id` of the face verification task.
        task_id: String,
        /// `result`: 2 failed, 3 passed.
        result: i64,
        /// `along_with_auth_result`: set when verification and filing were started together.
        along_with_auth_result: Option<i64>,
    },
    /// `notify_3rd_wxa_auth`.
    WxaAuth(WxaAuthProgress),
    /// `notify_3rd_wxa_wxverify` (`appid`, `expired`, `message`): sent on the day the verification
    /// lapses and 30 and 60 days before.
    WxaVerifyExpiry {
        /// `expired`: when the verification lapses.
        expired: EpochSeconds,
        /// `message`: WeChat's text.
        message: Option<String>,
    },
    /// `wxa_privacy_apply`.
    PrivacyApply(PrivacyApplyResult),
    /// `wxa_punish_event`.
    Punish(Punishment),
    /// `wxa_category_audit` (`ret`, `first`, `second`, `reason`).
    CategoryAudit {
        /// `ret`: 2 rejected, 3 approved.
        ret: i64,
        /// `first`: the first-level category id.
        first: Option<i64>,
        /// `second`: the second-level category id.
        second: Option<i64>,
        /// `reason`: why it was rejected.
        reason: Option<String>,
    },
    /// `user_authorization_revoke`: delete what the user withdrew.
    UserAuthorizationRevoke(UserAuthorizationChange),
    /// `user_authorization_cancellation`: the user closed their WeChat account.
    UserAuthorizationCancellation(UserAuthorizationChange),
    /// `user_info_modified`: refresh or drop the stored nickname and avatar.
    UserInfoModified(UserAuthorizationChange),
}

/// The fields of `notify_3rd_wxa_auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxaAuthProgress {
    /// `taskid`: returned when the task was started.
    pub task_id: String,
    /// `task_status`: 0 created, 1 expired, 2 refused by the administrator, 3 accepted, ...,
    /// 9 phone verified, 12 review order created, 15 awaiting payment.
    pub task_status: i64,
    /// `apply_status`: 1 awaiting payment, 2 under review, 3 sent back to refill, 4 verified,
    /// 5 finally failed.
    pub apply_status: Option<i64>,
    /// `message`: WeChat's text (the refill or failure reason).
    pub message: Option<String>,
    /// `dispatch_info`: the reviewing agency, once one is assigned.
    pub dispatch: Option<WxaAuthDispatch>,
}

/// `dispatch_info` of `notify_3rd_wxa_auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WxaAuthDispatch {
    /// `provider`: the agency's name.
    pub provider: Option<String>,
    /// `contact`: how to reach it.
    pub contact: Option<String>,
    /// `dispatch_time`: when it was assigned.
    pub dispatch_time: Option<EpochSeconds>,
}

/// `result_info` of `wxa_privacy_apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyApplyResult {
    /// `audit_id`: returned by apply_privacy_interface.
    pub audit_id: Option<i64>,
    /// `api_name`: the interface applied for, e.g. `wx.chooseAddress`.
    pub api_name: String,
    /// `status`: 2 rejected, 3 approved (as pushed; get_privacy_interface numbers differently).
    pub status: i64,
    pub apply_time: Option<EpochSeconds>,
    pub audit_time: Option<EpochSeconds>,
    /// `reason`: why it was rejected.
    pub reason: Option<String>,
}

/// The fields of `wxa_punish_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Punishment {
    /// `punish_id`: identifies the violation.
    pub punish_id: String,
    /// `event_type`: 1 warning, 2 features banned, 3 taken down, 4 account banned, 5 or 10 page
    /// banned (WeChat's pages give both).
    pub event_type: i64,
    pub punish_time: Option<EpochSeconds>,
    pub illegal_reason: Option<String>,
    /// `illegal_content`: a list in JSON pushes, one text in XML.
    pub illegal_content: Vec<String>,
    pub rule_name: Option<String>,
    pub rule_url: Option<String>,
    pub adjust_guide_url: Option<String>,
    /// `detail`: a JSON text whose shape depends on `event_type` (ban days, deadlines, paths).
    pub detail: Option<String>,
}

/// The fields of the user authorization events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuthorizationChange {
    /// `OpenID`: the user.
    pub openid: String,
    /// `UnionID`, when WeChat sends it.
    pub unionid: Option<String>,
    /// `RevokeInfo`: what was withdrawn, WeChat's codes (1 plate number, 2 address, 3 invoice,
    /// 6 nickname and avatar, 8 phone number, 13 location, ...).
    pub revoke_info: Option<String>,
    /// `PluginID`: when withdrawn inside a plugin, its appid.
    pub plugin_id: Option<String>,
    /// `OpenPID`: the user's id in that plugin.
    pub open_pid: Option<String>,
}

impl Notice {
    /// The typed fields, snake_case, numbers as numbers, times as epoch seconds; absent fields are
    /// left out. `appid` and `event` are not repeated here. `detail` of a penalty is the JSON it
    /// holds when it parses as JSON, else its text.
    pub fn fields(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(name.to_owned(), value);
            }
        };
        let int = |value: i64| Some(Value::from(value));
        let opt_int = |value: Option<i64>| value.map(Value::from);
        let text = |value: &Option<String>| value.clone().map(Value::from);
        match &self.kind {
            NoticeKind::IcpFilingResult { beian_status } => put("beian_status", int(*beian_status)),
            NoticeKind::IcpFilingVerifyResult {
                task_id,
                result,
                along_with_auth_result,
            } => {
                put("task_id", Some(Value::from(task_id.clone())));
                put("result", int(*result));
                put("along_with_auth_result", opt_int(*along_with_auth_result));
            }
            NoticeKind::WxaAuth(p) => {
                put("task_id", Some(Value::from(p.task_id.clone())));
                put("task_status", int(p.task_status));
                put("apply_status", opt_int(p.apply_status));
                put("message", text(&p.message));
                if let Some(d) = &p.dispatch {
                    put("dispatch_provider", text(&d.provider));
                    put("dispatch_contact", text(&d.contact));
                    put("dispatch_time", opt_int(d.dispatch_time));
                }
            }
            NoticeKind::WxaVerifyExpiry { expired, message } => {
                put("expired", int(*expired));
                put("message", text(message));
            }
            NoticeKind::PrivacyApply(r) => {
                put("audit_id", opt_int(r.audit_id));
                put("api_name", Some(Value::from(r.api_name.clone())));
                put("status", int(r.status));
                put("apply_time", opt_int(r.apply_time));
                put("audit_time", opt_int(r.audit_time));
                put("reason", text(&r.reason));
            }
            NoticeKind::Punish(p) => {
                put("punish_id", Some(Value::from(p.punish_id.clone())));
                put("event_type", int(p.event_type));
                put("punish_time", opt_int(p.punish_time));
                put("illegal_reason", text(&p.illegal_reason));
                if !p.illegal_content.is_empty() {
                    put(
                        "illegal_content",
                        Some(Value::from(p.illegal_content.clone())),
                    );
                }
                put("rule_name", text(&p.rule_name));
                put("rule_url", text(&p.rule_url));
                put("adjust_guide_url", text(&p.adjust_guide_url));
                put(
                    "detail",
                    p.detail.as_ref().map(|detail| {
                        serde_json::from_str::<Value>(detail)
                            .unwrap_or_else(|_| Value::from(detail.clone()))
                    }),
                );
            }
            NoticeKind::CategoryAudit {
                ret,
                first,
                second,
                reason,
            } => {
                put("ret", int(*ret));
                put("first", opt_int(*first));
                put("second", opt_int(*second));
                put("reason", text(reason));
            }
            NoticeKind::UserAuthorizationRevoke(u)
            | NoticeKind::UserAuthorizationCancellation(u)
            | NoticeKind::UserInfoModified(u) => {
                put("openid", Some(Value::from(u.openid.clone())));
                put("unionid", text(&u.unionid));
                put("revoke_info", text(&u.revoke_info));
                put("plugin_id", text(&u.plugin_id));
                put("open_pid", text(&u.open_pid));
            }
        }
        map
    }
}

/// Reads the notice named `name` (an `InfoType` or an `Event`) from a push; `None` when `name` is
/// not one of the notices.
pub(crate) fn parse(name: &str, f: &Body) -> Result<Option<Notice>, EventError> {
    let (event, appid, kind) = match name {
        ICP_FILING_RESULT => (
            ICP_FILING_RESULT,
            Some(required_appid(f, ICP_FILING_RESULT, "authorizer_appid")?),
            NoticeKind::IcpFilingResult {
                beian_status: f.required_int(ICP_FILING_RESULT, "beian_status")?,
            },
        ),
        ICP_FILING_VERIFY_RESULT => (
            ICP_FILING_VERIFY_RESULT,
            optional_appid(f, "verify_appid")?,
            NoticeKind::IcpFilingVerifyResult {
                task_id: f.required(ICP_FILING_VERIFY_RESULT, "task_id")?.to_owned(),
                result: f.required_int(ICP_FILING_VERIFY_RESULT, "result")?,
                along_with_auth_result: f.optional_int("along_with_auth_result")?,
            },
        ),
        WXA_AUTH => {
            let dispatch = WxaAuthDispatch {
                provider: optional_string(f, "dispatch_info/provider")?,
                contact: optional_string(f, "dispatch_info/contact")?,
                dispatch_time: f.optional_int("dispatch_info/dispatch_time")?,
            };
            (
                WXA_AUTH,
                optional_appid(f, "appid")?,
                NoticeKind::WxaAuth(WxaAuthProgress {
                    task_id: f.required(WXA_AUTH, "taskid")?.to_owned(),
                    task_status: f.required_int(WXA_AUTH, "task_status")?,
                    apply_status: f.optional_int("apply_status")?,
                    message: optional_string(f, "message")?,
                    dispatch: (dispatch != WxaAuthDispatch::default()).then_some(dispatch),
                }),
            )
        }
        WXA_WXVERIFY => (
            WXA_WXVERIFY,
            Some(required_appid(f, WXA_WXVERIFY, "appid")?),
            NoticeKind::WxaVerifyExpiry {
                expired: f.required_int(WXA_WXVERIFY, "expired")?,
                message: optional_string(f, "message")?,
            },
        ),
        PRIVACY_APPLY => (
            PRIVACY_APPLY,
            None,
            NoticeKind::PrivacyApply(PrivacyApplyResult {
                audit_id: quoted_int(f, "result_info/audit_id")?,
                api_name: unquoted(f.required(PRIVACY_APPLY, "result_info/api_name")?).to_owned(),
                status: required_quoted_int(f, PRIVACY_APPLY, "result_info/status")?,
                apply_time: quoted_int(f, "result_info/apply_time")?,
                audit_time: quoted_int(f, "result_info/audit_time")?,
                reason: optional_string(f, "result_info/reason")?
                    .map(|reason| unquoted(&reason).to_owned())
                    .filter(|reason| !reason.trim().is_empty()),
            }),
        ),
        PUNISH => (
            PUNISH,
            optional_appid(f, "appid")?,
            NoticeKind::Punish(Punishment {
                punish_id: f.required(PUNISH, "punish_id")?.to_owned(),
                event_type: f.required_int(PUNISH, "event_type")?,
                punish_time: f.optional_int("punish_time")?,
                illegal_reason: optional_string(f, "illegal_reason")?,
                illegal_content: f.list("illegal_content")?,
                rule_name: optional_string(f, "rule_name")?,
                rule_url: optional_string(f, "rule_url")?,
                adjust_guide_url: optional_string(f, "adjust_guide_url")?,
                detail: optional_string(f, "detail")?,
            }),
        ),
        CATEGORY_AUDIT => (
            CATEGORY_AUDIT,
            None,
            NoticeKind::CategoryAudit {
                ret: f.required_int(CATEGORY_AUDIT, "ret")?,
                first: f.optional_int("first")?,
                second: f.optional_int("second")?,
                reason: optional_string(f, "reason")?,
            },
        ),
        USER_AUTHORIZATION_REVOKE => (
            USER_AUTHORIZATION_REVOKE,
            optional_appid(f, "AppID")?,
            NoticeKind::UserAuthorizationRevoke(user_change(f, USER_AUTHORIZATION_REVOKE)?),
        ),
        USER_AUTHORIZATION_CANCELLATION => (
            USER_AUTHORIZATION_CANCELLATION,
            optional_appid(f, "AppID")?,
            NoticeKind::UserAuthorizationCancellation(user_change(
                f,
                USER_AUTHORIZATION_CANCELLATION,
            )?),
        ),
        USER_INFO_MODIFIED => (
            USER_INFO_MODIFIED,
            optional_appid(f, "AppID")?,
            NoticeKind::UserInfoModified(user_change(f, USER_INFO_MODIFIED)?),
        ),
        _ => return Ok(None),
    };
    Ok(Some(Notice {
        event: event.to_owned(),
        appid,
        kind,
    }))
}

fn user_change(f: &Body, kind: &'static str) -> Result<UserAuthorizationChange, EventError> {
    Ok(UserAuthorizationChange {
        openid: f.required(kind, "OpenID")?.to_owned(),
        unionid: optional_string(f, "UnionID")?,
        revoke_info: optional_string(f, "RevokeInfo")?,
        plugin_id: optional_string(f, "PluginID")?,
        open_pid: optional_string(f, "OpenPID")?,
    })
}

/// WeChat's own example of `wxa_privacy_apply` in XML wraps each value in double quotes
/// (`<status>"2"</status>`); one pair of them around the whole value is dropped.
fn unquoted(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .map(str::trim)
        .unwrap_or(value)
}

/// An optional integer that may come quoted (see [`unquoted`]) or, in JSON, as a string.
fn quoted_int(f: &Body, field: &'static str) -> Result<Option<i64>, EventError> {
    f.trimmed(field)?
        .map(unquoted)
        .filter(|value| !value.is_empty())
        .map(|value| value.parse().map_err(|_| EventError::NotANumber { field }))
        .transpose()
}

/// A required integer that may come quoted.
fn required_quoted_int(
    f: &Body,
    kind: &'static str,
    field: &'static str,
) -> Result<i64, EventError> {
    quoted_int(f, field)?.ok_or(EventError::MissingField { kind, field })
}

fn optional_string(f: &Body, field: &'static str) -> Result<Option<String>, EventError> {
    Ok(f.trimmed(field)?.map(str::to_owned))
}

fn required_appid(
    f: &Body,
    kind: &'static str,
    field: &'static str,
) -> Result<AuthorizerAppId, EventError> {
    AuthorizerAppId::parse(f.required(kind, field)?).map_err(invalid_appid(field))
}

fn optional_appid(f: &Body, field: &'static str) -> Result<Option<AuthorizerAppId>, EventError> {
    f.trimmed(field)?
        .map(|value| AuthorizerAppId::parse(value).map_err(invalid_appid(field)))
        .transpose()
}

fn invalid_appid(field: &'static str) -> impl FnOnce(InvalidId) -> EventError {
    move |source| EventError::InvalidAppId { field, source }
}
