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
use super::fields::{Body, optional_appid, optional_string, required_appid};
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::{AuthorizerMessage, ComponentEvent, ComponentEventKind, MessageKind};

    const PLATFORM: &str = "wx3d5d4b6ce7a1f001";
    const MINI_PROGRAM: &str = "wxd101a85aa106f53e";

    fn component_xml(info_type: &str, body: &str) -> String {
        format!(
            "<xml><AppId><![CDATA[{PLATFORM}]]></AppId><CreateTime>1700000000</CreateTime>\
             <InfoType><![CDATA[{info_type}]]></InfoType>{body}</xml>"
        )
    }

    fn component_json(info_type: &str, body: Value) -> String {
        let mut push = json!({
            "AppId": PLATFORM,
            "CreateTime": 1700000000,
            "InfoType": info_type,
        });
        push.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        push.to_string()
    }

    fn message_xml(event: &str, body: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_3c884a361561]]></ToUserName>\
             <FromUserName><![CDATA[od1P50M-fNQI5Gcq-trm4a7apsU8]]></FromUserName>\
             <CreateTime>1700000100</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[{event}]]></Event>{body}</xml>"
        )
    }

    fn message_json(event: &str, body: Value) -> String {
        let mut push = json!({
            "ToUserName": "gh_3c884a361561",
            "FromUserName": "od1P50M-fNQI5Gcq-trm4a7apsU8",
            "CreateTime": 1700000100,
            "MsgType": "event",
            "Event": event,
        });
        push.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        push.to_string()
    }

    fn component_notice(body: &str) -> Notice {
        let event = ComponentEvent::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        match event.kind {
            ComponentEventKind::Notice(notice) => notice,
            other => panic!("not a notice: {other:?}"),
        }
    }

    fn message_notice(body: &str) -> Notice {
        let message = AuthorizerMessage::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        match message.kind {
            MessageKind::Notice(notice) => notice,
            other => panic!("not a notice: {other:?}"),
        }
    }

    fn appid(value: &str) -> Option<AuthorizerAppId> {
        Some(AuthorizerAppId::parse(value).unwrap())
    }

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    /// The notice `kind` in `body` lacks `field`: reading it names the field, and the push is
    /// kept whole as an unknown kind instead of refused (nothing is lost).
    fn assert_missing(body: &str, kind: &str, field: &str) {
        let f = super::super::fields::read(body).unwrap();
        match parse(kind, &f) {
            Err(EventError::MissingField { kind: k, field: f }) => {
                assert_eq!((k, f), (kind, field));
                let text = EventError::MissingField { kind: k, field: f }.to_string();
                assert!(text.contains(field), "{text}");
            }
            other => panic!("expected {field} to be missing: {other:?}"),
        }
        let kept_raw = ComponentEvent::parse(body)
            .is_ok_and(|e| matches!(e.kind, ComponentEventKind::Unknown { .. }))
            || AuthorizerMessage::parse(body)
                .is_ok_and(|m| matches!(m.kind, MessageKind::Unknown { .. }));
        assert!(kept_raw, "kept as an unknown kind: {body}");
    }

    // ------------------------------------------------------------ the authorization event URL

    #[test]
    fn an_icp_filing_result_reads_from_xml_and_from_json() {
        let xml = component_xml(
            ICP_FILING_RESULT,
            "<authorizer_appid><![CDATA[wxd101a85aa106f53e]]></authorizer_appid>\
             <beian_status>6</beian_status>",
        );
        let json = component_json(
            ICP_FILING_RESULT,
            json!({"authorizer_appid": MINI_PROGRAM, "beian_status": 6}),
        );

        for body in [&xml, &json] {
            let notice = component_notice(body);
            assert_eq!(notice.event, "notify_apply_icpfiling_result");
            assert_eq!(notice.appid, appid(MINI_PROGRAM));
            assert_eq!(notice.kind, NoticeKind::IcpFilingResult { beian_status: 6 });
            assert_eq!(notice.fields(), fields(json!({"beian_status": 6})));
        }
        let event = ComponentEvent::parse(&xml).unwrap();
        assert_eq!(event.info_type(), "notify_apply_icpfiling_result");
        assert_eq!(
            event.idempotency_key(),
            format!("component:{PLATFORM}:notify_apply_icpfiling_result:1700000000:{MINI_PROGRAM}")
        );
        assert_eq!(event.raw_body().unwrap().expose(), xml);
    }

    #[test]
    fn an_icp_filing_result_needs_its_appid_and_status() {
        assert_missing(
            &component_xml(
                ICP_FILING_RESULT,
                "<authorizer_appid>wxd101a85aa106f53e</authorizer_appid>",
            ),
            ICP_FILING_RESULT,
            "beian_status",
        );
        assert_missing(
            &component_json(ICP_FILING_RESULT, json!({"beian_status": 3})),
            ICP_FILING_RESULT,
            "authorizer_appid",
        );
    }

    #[test]
    fn a_face_verification_result_for_a_filing_reads_from_xml_and_from_json() {
        let xml = component_xml(
            ICP_FILING_VERIFY_RESULT,
            "<task_id><![CDATA[R5PqRPNb6GmG3i0rqd4pTg]]></task_id>\
             <verify_appid><![CDATA[wxd101a85aa106f53e]]></verify_appid>\
             <result>3</result>",
        );
        let json = component_json(
            ICP_FILING_VERIFY_RESULT,
            json!({"task_id": "R5PqRPNb6GmG3i0rqd4pTg", "verify_appid": MINI_PROGRAM, "result": 3}),
        );

        for body in [&xml, &json] {
            let notice = component_notice(body);
            assert_eq!(notice.appid, appid(MINI_PROGRAM));
            assert_eq!(
                notice.kind,
                NoticeKind::IcpFilingVerifyResult {
                    task_id: "R5PqRPNb6GmG3i0rqd4pTg".into(),
                    result: 3,
                    along_with_auth_result: None,
                }
            );
            assert_eq!(
                notice.fields(),
                fields(json!({"task_id": "R5PqRPNb6GmG3i0rqd4pTg", "result": 3}))
            );
        }
        assert_missing(
            &component_xml(ICP_FILING_VERIFY_RESULT, "<result>2</result>"),
            ICP_FILING_VERIFY_RESULT,
            "task_id",
        );
    }

    #[test]
    fn a_verification_task_update_reads_with_its_dispatch_info_from_xml_and_from_json() {
        let xml = component_xml(
            WXA_AUTH,
            "<taskid><![CDATA[7bc7f0ef4a2e1d0c]]></taskid><appid><![CDATA[wxd101a85aa106f53e]]></appid>\
             <task_status>12</task_status><apply_status>2</apply_status>\
             <message><![CDATA[审核中]]></message>\
             <dispatch_info><provider><![CDATA[某征信有限公司]]></provider>\
             <contact><![CDATA[0411-84947888]]></contact>\
             <dispatch_time>1704952913</dispatch_time></dispatch_info>",
        );
        let json = component_json(
            WXA_AUTH,
            json!({
                "taskid": "7bc7f0ef4a2e1d0c",
                "appid": MINI_PROGRAM,
                "task_status": 12,
                "apply_status": 2,
                "message": "审核中",
                "dispatch_info": {
                    "provider": "某征信有限公司",
                    "contact": "0411-84947888",
                    "dispatch_time": 1704952913,
                },
            }),
        );

        for body in [&xml, &json] {
            let notice = component_notice(body);
            assert_eq!(notice.event, "notify_3rd_wxa_auth");
            assert_eq!(notice.appid, appid(MINI_PROGRAM));
            let NoticeKind::WxaAuth(progress) = &notice.kind else {
                panic!("{notice:?}");
            };
            assert_eq!(progress.task_id, "7bc7f0ef4a2e1d0c");
            assert_eq!(progress.task_status, 12);
            assert_eq!(progress.apply_status, Some(2));
            assert_eq!(progress.message.as_deref(), Some("审核中"));
            assert_eq!(
                progress.dispatch,
                Some(WxaAuthDispatch {
                    provider: Some("某征信有限公司".into()),
                    contact: Some("0411-84947888".into()),
                    dispatch_time: Some(1704952913),
                })
            );
            assert_eq!(
                notice.fields(),
                fields(json!({
                    "task_id": "7bc7f0ef4a2e1d0c",
                    "task_status": 12,
                    "apply_status": 2,
                    "message": "审核中",
                    "dispatch_provider": "某征信有限公司",
                    "dispatch_contact": "0411-84947888",
                    "dispatch_time": 1704952913,
                }))
            );
        }
    }

    #[test]
    fn a_verification_task_update_without_dispatch_info_has_none_and_needs_its_task() {
        let notice = component_notice(&component_xml(
            WXA_AUTH,
            "<taskid>t1</taskid><appid>wxd101a85aa106f53e</appid><task_status>6</task_status>",
        ));
        let NoticeKind::WxaAuth(progress) = &notice.kind else {
            panic!("{notice:?}");
        };
        assert_eq!(progress.task_status, 6);
        assert_eq!(progress.apply_status, None);
        assert_eq!(progress.dispatch, None);

        assert_missing(
            &component_xml(WXA_AUTH, "<task_status>6</task_status>"),
            WXA_AUTH,
            "taskid",
        );
        assert_missing(
            &component_json(WXA_AUTH, json!({"taskid": "t1"})),
            WXA_AUTH,
            "task_status",
        );
    }

    #[test]
    fn an_annual_review_reminder_reads_from_xml_and_from_json() {
        let xml = component_xml(
            WXA_WXVERIFY,
            "<appid><![CDATA[wxd101a85aa106f53e]]></appid><expired>1735660800</expired>\
             <message><![CDATA[认证将于30天后过期]]></message>",
        );
        let json = component_json(
            WXA_WXVERIFY,
            json!({"appid": MINI_PROGRAM, "expired": 1735660800, "message": "认证将于30天后过期"}),
        );

        for body in [&xml, &json] {
            let notice = component_notice(body);
            assert_eq!(notice.appid, appid(MINI_PROGRAM));
            assert_eq!(
                notice.kind,
                NoticeKind::WxaVerifyExpiry {
                    expired: 1735660800,
                    message: Some("认证将于30天后过期".into()),
                }
            );
            assert_eq!(
                notice.fields(),
                fields(json!({"expired": 1735660800, "message": "认证将于30天后过期"}))
            );
        }
        assert_missing(
            &component_xml(WXA_WXVERIFY, "<appid>wxd101a85aa106f53e</appid>"),
            WXA_WXVERIFY,
            "expired",
        );
    }

    #[test]
    fn unknown_info_types_stay_unknown_in_both_framings() {
        let xml = component_xml("notify_icpfiling_status", "<beian_status>2</beian_status>");
        let json = component_json("notify_icpfiling_status", json!({"beian_status": 2}));

        for body in [&xml, &json] {
            let event = ComponentEvent::parse(body).unwrap();
            let ComponentEventKind::Unknown { info_type, raw_xml } = &event.kind else {
                panic!("{event:?}");
            };
            assert_eq!(info_type, "notify_icpfiling_status");
            assert_eq!(raw_xml.expose(), body.as_str());
            assert_eq!(event.raw_body().unwrap().expose(), body.as_str());
            assert!(event.idempotency_key().contains(":sha256:"));
        }
    }

    #[test]
    fn known_kinds_read_from_json_too() {
        let json = component_json("unauthorized", json!({"AuthorizerAppid": MINI_PROGRAM}));

        let event = ComponentEvent::parse(&json).unwrap();

        assert_eq!(
            event.kind,
            ComponentEventKind::Unauthorized {
                authorizer_appid: AuthorizerAppId::parse(MINI_PROGRAM).unwrap()
            }
        );
        assert_eq!(event.create_time, 1700000000);
        assert_eq!(event.raw_body(), None);
    }

    #[test]
    fn malformed_json_is_an_error_that_does_not_quote_the_push() {
        let body = r#"{"AppId": "wx3d5d4b6ce7a1f001", "ComponentVerifyTicket": "ticket@@@secret" "#;

        let error = ComponentEvent::parse(body).unwrap_err();

        assert!(
            matches!(error, EventError::MalformedJson { line: 1, .. }),
            "{error:?}"
        );
        let text = format!("{error} {error:?}");
        assert!(!text.contains("ticket@@@secret"), "{text}");

        let error = ComponentEvent::parse(r#"{"InfoType": tick3t}"#).unwrap_err();
        assert!(!format!("{error} {error:?}").contains("tick3t"));
    }

    #[test]
    fn json_that_is_not_one_object_is_refused() {
        let error = ComponentEvent::parse(r#"{"AppId": "wx3d5d4b6ce7a1f001"} {}"#).unwrap_err();
        assert!(
            matches!(error, EventError::MalformedJson { .. }),
            "{error:?}"
        );
        // Starts with `[`: not JSON by the first-character rule, so it is read (and refused) as XML.
        assert!(ComponentEvent::parse(r#"[{"AppId": "wx3d5d4b6ce7a1f001"}]"#).is_err());
        assert!(matches!(
            ComponentEvent::parse(r#"{"AppId": "wx3d5d4b6ce7a1f001", "CreateTime": null}"#),
            Err(EventError::MissingField {
                kind: "component event",
                field: "CreateTime"
            })
        ));
    }

    #[test]
    fn a_json_key_sent_twice_is_refused_like_a_repeated_xml_field() {
        let json = format!(
            r#"{{"AppId": "{PLATFORM}", "CreateTime": 1700000000, "InfoType": "{ICP_FILING_RESULT}",
                "authorizer_appid": "{MINI_PROGRAM}", "beian_status": 6, "beian_status": 3}}"#
        );
        // The notice cannot be read, and the push is kept whole rather than refused.
        let f = super::super::fields::read(&json).unwrap();
        assert!(matches!(
            parse(ICP_FILING_RESULT, &f),
            Err(EventError::DuplicateField {
                field: "beian_status"
            })
        ));
        assert!(matches!(
            ComponentEvent::parse(&json).unwrap().kind,
            ComponentEventKind::Unknown { .. }
        ));

        let nested = message_json(PRIVACY_APPLY, json!({})).replacen(
            '}',
            r#","result_info":{"api_name":"wx.choosePoi","status":2,"status":3}}"#,
            1,
        );
        let f = super::super::fields::read(&nested).unwrap();
        assert!(
            matches!(
                parse(PRIVACY_APPLY, &f),
                Err(EventError::DuplicateField {
                    field: "result_info/status"
                })
            ),
            "{nested}"
        );
        assert!(matches!(
            AuthorizerMessage::parse(&nested).unwrap().kind,
            MessageKind::Unknown { .. }
        ));
    }

    // ------------------------------------------------------------ the message URL

    #[test]
    fn a_privacy_interface_result_reads_from_xml_quoted_xml_and_json() {
        let plain = message_xml(
            PRIVACY_APPLY,
            "<result_info><api_name><![CDATA[wx.choosePoi]]></api_name>\
             <apply_time>1644805538</apply_time><audit_id>421609337</audit_id>\
             <audit_time>1644828435</audit_time>\
             <reason><![CDATA[小程序内未含有相应使用场景]]></reason><status>2</status></result_info>",
        );
        // WeChat's own XML example wraps every value in double quotes.
        let quoted = message_xml(
            PRIVACY_APPLY,
            "<result_info><api_name>\"wx.choosePoi\"</api_name>\
             <apply_time>\"1644805538\"</apply_time><audit_id>\"421609337\"</audit_id>\
             <audit_time>\"1644828435\"</audit_time>\
             <reason>\"小程序内未含有相应使用场景\"</reason><status>\"2\"</status></result_info>",
        );
        let json = message_json(
            PRIVACY_APPLY,
            json!({"result_info": {
                "api_name": "wx.choosePoi",
                "apply_time": "1644805538",
                "audit_id": "421609337",
                "audit_time": "1644828435",
                "reason": "小程序内未含有相应使用场景",
                "status": "2",
            }}),
        );

        for body in [&plain, &quoted, &json] {
            let notice = message_notice(body);
            assert_eq!(notice.event, "wxa_privacy_apply");
            assert_eq!(notice.appid, None);
            assert_eq!(
                notice.kind,
                NoticeKind::PrivacyApply(PrivacyApplyResult {
                    audit_id: Some(421609337),
                    api_name: "wx.choosePoi".into(),
                    status: 2,
                    apply_time: Some(1644805538),
                    audit_time: Some(1644828435),
                    reason: Some("小程序内未含有相应使用场景".into()),
                }),
                "{body}"
            );
            assert_eq!(
                notice.fields(),
                fields(json!({
                    "audit_id": 421609337,
                    "api_name": "wx.choosePoi",
                    "status": 2,
                    "apply_time": 1644805538,
                    "audit_time": 1644828435,
                    "reason": "小程序内未含有相应使用场景",
                }))
            );
        }
        assert_missing(
            &message_xml(
                PRIVACY_APPLY,
                "<result_info><api_name>wx.choosePoi</api_name></result_info>",
            ),
            PRIVACY_APPLY,
            "result_info/status",
        );
        assert_missing(
            &message_json(PRIVACY_APPLY, json!({"result_info": {"status": 3}})),
            PRIVACY_APPLY,
            "result_info/api_name",
        );
    }

    #[test]
    fn a_penalty_reads_from_json_with_its_content_list_and_from_xml() {
        let detail = r#"{"warned_type":1,"rectify_deadline":1699796571,"warned_function_names":[],"warned_ban_days":[3]}"#;
        let json = message_json(
            PUNISH,
            json!({
                "punish_id": "649557",
                "appid": MINI_PROGRAM,
                "punish_time": 1699803865,
                "illegal_reason": "存在诱导分享行为",
                "illegal_content": ["违规内容测试", "第二条"],
                "detail": detail,
                "rule_url": "https://developers.weixin.qq.com/miniprogram/product/index.html",
                "rule_name": "《微信小程序平台运营规范》5.1",
                "adjust_guide_url": "https://mp.weixin.qq.com/s/73rLZmwPeQ87Q89DYQcfkw",
                "event_type": 1,
            }),
        );

        let notice = message_notice(&json);

        assert_eq!(notice.event, "wxa_punish_event");
        assert_eq!(notice.appid, appid(MINI_PROGRAM));
        let NoticeKind::Punish(p) = &notice.kind else {
            panic!("{notice:?}");
        };
        assert_eq!(p.punish_id, "649557");
        assert_eq!(p.event_type, 1);
        assert_eq!(p.punish_time, Some(1699803865));
        assert_eq!(p.illegal_content, ["违规内容测试", "第二条"]);
        assert_eq!(p.detail.as_deref(), Some(detail));
        let f = notice.fields();
        assert_eq!(f["punish_id"], json!("649557"));
        assert_eq!(f["event_type"], json!(1));
        assert_eq!(f["punish_time"], json!(1699803865));
        assert_eq!(f["illegal_content"], json!(["违规内容测试", "第二条"]));
        assert_eq!(f["detail"]["warned_ban_days"], json!([3]));
        assert_eq!(f["rule_name"], json!("《微信小程序平台运营规范》5.1"));

        let xml = message_xml(
            PUNISH,
            "<event_type>2</event_type><punish_id><![CDATA[649558]]></punish_id>\
             <appid><![CDATA[wxd101a85aa106f53e]]></appid><punish_time>1699803900</punish_time>\
             <illegal_reason><![CDATA[内容涉嫌欺诈]]></illegal_reason>\
             <illegal_content><![CDATA[违规内容]]></illegal_content>\
             <detail><![CDATA[not json]]></detail>",
        );
        let notice = message_notice(&xml);
        let NoticeKind::Punish(p) = &notice.kind else {
            panic!("{notice:?}");
        };
        assert_eq!(p.punish_id, "649558");
        assert_eq!(p.event_type, 2);
        assert_eq!(p.illegal_content, ["违规内容"]);
        assert_eq!(p.rule_url, None);
        assert_eq!(notice.fields()["detail"], json!("not json"));
        assert!(!notice.fields().contains_key("rule_url"));

        assert_missing(
            &message_json(PUNISH, json!({"event_type": 1})),
            PUNISH,
            "punish_id",
        );
    }

    #[test]
    fn a_category_audit_reads_from_xml_and_from_json() {
        let xml = message_xml(
            CATEGORY_AUDIT,
            "<ret>2</ret><first>304</first><second>1027</second>\
             <reason><![CDATA[资质不全]]></reason>",
        );
        let json = message_json(
            CATEGORY_AUDIT,
            json!({"ret": 2, "first": 304, "second": 1027, "reason": "资质不全"}),
        );

        for body in [&xml, &json] {
            let notice = message_notice(body);
            assert_eq!(
                notice.kind,
                NoticeKind::CategoryAudit {
                    ret: 2,
                    first: Some(304),
                    second: Some(1027),
                    reason: Some("资质不全".into()),
                }
            );
            assert_eq!(
                notice.fields(),
                fields(json!({"ret": 2, "first": 304, "second": 1027, "reason": "资质不全"}))
            );
        }
        assert_missing(
            &message_xml(CATEGORY_AUDIT, "<first>304</first>"),
            CATEGORY_AUDIT,
            "ret",
        );
    }

    #[test]
    fn a_nickname_audit_reads_from_json_as_the_existing_kind() {
        let json = message_json(
            "wxa_nickname_audit",
            json!({"ret": 2, "nickname": "好物小店", "reason": "名称涉嫌侵权"}),
        );

        let message = AuthorizerMessage::parse(&json).unwrap();

        assert_eq!(
            message.kind,
            MessageKind::NicknameAudit {
                ret: 2,
                nickname: "好物小店".into(),
                reason: Some("名称涉嫌侵权".into()),
            }
        );
    }

    #[test]
    fn user_authorization_events_read_from_xml_and_from_json() {
        let xml = message_xml(
            USER_AUTHORIZATION_REVOKE,
            "<OpenID><![CDATA[owAqB1nqaOYYWl0Ng484G2z5NIwU]]></OpenID>\
             <AppID><![CDATA[wxd101a85aa106f53e]]></AppID><RevokeInfo><![CDATA[1]]></RevokeInfo>\
             <PluginID><![CDATA[wx13974bf780d3dc89]]></PluginID>\
             <OpenPID><![CDATA[G7esq5NVzP76HI]]></OpenPID>",
        );
        let json = message_json(
            USER_AUTHORIZATION_REVOKE,
            json!({
                "OpenID": "owAqB1nqaOYYWl0Ng484G2z5NIwU",
                "AppID": MINI_PROGRAM,
                "RevokeInfo": "1",
                "PluginID": "wx13974bf780d3dc89",
                "OpenPID": "G7esq5NVzP76HI",
            }),
        );
        let expected = UserAuthorizationChange {
            openid: "owAqB1nqaOYYWl0Ng484G2z5NIwU".into(),
            unionid: None,
            revoke_info: Some("1".into()),
            plugin_id: Some("wx13974bf780d3dc89".into()),
            open_pid: Some("G7esq5NVzP76HI".into()),
        };

        for body in [&xml, &json] {
            let notice = message_notice(body);
            assert_eq!(notice.event, "user_authorization_revoke");
            assert_eq!(notice.appid, appid(MINI_PROGRAM));
            assert_eq!(
                notice.kind,
                NoticeKind::UserAuthorizationRevoke(expected.clone())
            );
            assert_eq!(
                notice.fields(),
                fields(json!({
                    "openid": "owAqB1nqaOYYWl0Ng484G2z5NIwU",
                    "revoke_info": "1",
                    "plugin_id": "wx13974bf780d3dc89",
                    "open_pid": "G7esq5NVzP76HI",
                }))
            );
        }

        let cancelled = message_notice(&message_json(
            USER_AUTHORIZATION_CANCELLATION,
            json!({"OpenID": "olP_Y6xJBOCP-98LZlrG06JgoaBk", "AppID": MINI_PROGRAM, "UnionID": "oW-TY6_26T2nqKjOU7NDfmk27Cms"}),
        ));
        let NoticeKind::UserAuthorizationCancellation(user) = &cancelled.kind else {
            panic!("{cancelled:?}");
        };
        assert_eq!(user.openid, "olP_Y6xJBOCP-98LZlrG06JgoaBk");
        assert_eq!(
            user.unionid.as_deref(),
            Some("oW-TY6_26T2nqKjOU7NDfmk27Cms")
        );
        assert_eq!(user.revoke_info, None);

        let modified = message_notice(&message_xml(
            USER_INFO_MODIFIED,
            "<OpenID>owAqB1nqaOYYWl0Ng484G2z5NIwU</OpenID><AppID>wxd101a85aa106f53e</AppID>",
        ));
        assert!(
            matches!(&modified.kind, NoticeKind::UserInfoModified(u) if u.openid == "owAqB1nqaOYYWl0Ng484G2z5NIwU")
        );

        assert_missing(
            &message_xml(
                USER_AUTHORIZATION_CANCELLATION,
                "<AppID>wxd101a85aa106f53e</AppID>",
            ),
            USER_AUTHORIZATION_CANCELLATION,
            "OpenID",
        );
    }

    #[test]
    fn message_notices_are_keyed_per_push_even_within_one_second() {
        let revoke = |openid: &str| {
            message_xml(
                USER_AUTHORIZATION_REVOKE,
                &format!("<OpenID>{openid}</OpenID><AppID>wxd101a85aa106f53e</AppID>"),
            )
        };
        let first = AuthorizerMessage::parse(&revoke("owAqB1nqaOYYWl0Ng484G2z5NIwU")).unwrap();
        let again = AuthorizerMessage::parse(&revoke("owAqB1nqaOYYWl0Ng484G2z5NIwU")).unwrap();
        let other = AuthorizerMessage::parse(&revoke("olP_Y6xJBOCP-98LZlrG06JgoaBk")).unwrap();

        assert_eq!(first.idempotency_key(), again.idempotency_key());
        assert_ne!(first.idempotency_key(), other.idempotency_key());
        assert!(
            first.idempotency_key().starts_with(
                "event:gh_3c884a361561:od1P50M-fNQI5Gcq-trm4a7apsU8:1700000100:user_authorization_revoke:sha256:"
            ),
            "{}",
            first.idempotency_key()
        );
        assert_eq!(first.event(), Some("user_authorization_revoke"));
        assert!(format!("{:?}", first.kind).contains("UserAuthorizationRevoke"));
    }

    #[test]
    fn unknown_events_stay_unknown_in_both_framings() {
        let xml = message_xml("wxa_media_check", "<trace_id>abc</trace_id>");
        let json = message_json("wxa_media_check", json!({"trace_id": "abc"}));

        for body in [&xml, &json] {
            let message = AuthorizerMessage::parse(body).unwrap();
            let MessageKind::Unknown { event, raw_xml, .. } = &message.kind else {
                panic!("{message:?}");
            };
            assert_eq!(event.as_deref(), Some("wxa_media_check"));
            assert_eq!(raw_xml.expose(), body.as_str());
        }
    }
}
