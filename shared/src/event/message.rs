//! Pushes to the message URL (messages and events of an authorized account), told apart by
//! `MsgType` and, for events, `Event`; and the passive text reply to them.

use std::fmt;

use super::fields;
use super::notice::{self, Notice};
use super::{EventError, sha256_hex};
use crate::clock::EpochSeconds;
use crate::secret::Secret;

const TEXT: &str = "text";
const EVENT: &str = "event";
const WEAPP_AUDIT_SUCCESS: &str = "weapp_audit_success";
const WEAPP_AUDIT_FAIL: &str = "weapp_audit_fail";
const WEAPP_AUDIT_DELAY: &str = "weapp_audit_delay";
const NICKNAME_AUDIT: &str = "wxa_nickname_audit";

/// What every push on this URL is before its `MsgType` is known (names the kind in errors).
const ANY: &str = "authorizer message";
const ANY_EVENT: &str = "event message";

/// A push to the message URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerMessage {
    /// `ToUserName`: the account's original id (`gh_...`).
    pub to_user_name: String,
    /// `FromUserName`: the sender's openid (a system account for platform events).
    pub from_user_name: String,
    /// `CreateTime`.
    pub create_time: EpochSeconds,
    /// `MsgType` as sent (`text`, `event`, `image`, ...).
    pub msg_type: String,
    pub kind: MessageKind,
    /// SHA-256 of the whole push, for the idempotency key of notices.
    raw_sha256: String,
}

/// The `MsgType` / `Event`-specific part of an [`AuthorizerMessage`].
#[derive(Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// `MsgType` `text`. `Debug` does not show the content: a user's text can carry a secret (the
    /// release test sends `QUERY_AUTH_CODE:<auth code>`).
    Text {
        content: String,
        /// `MsgId`. WeChat always sends it; it is optional only so that a passive reply (which has
        /// none) reads back.
        msg_id: Option<u64>,
    },
    /// `weapp_audit_success`: the mini program's code passed review.
    WeappAuditSuccess { succ_time: EpochSeconds },
    /// `weapp_audit_fail`: review rejected the code.
    WeappAuditFail {
        reason: String,
        fail_time: EpochSeconds,
        /// `ScreenShot`: media ids, sent `|`-separated; empty when there are none.
        screenshots: Vec<String>,
    },
    /// `weapp_audit_delay`: review will take longer.
    WeappAuditDelay {
        reason: String,
        delay_time: EpochSeconds,
    },
    /// `wxa_nickname_audit`: result of a mini program name change.
    NicknameAudit {
        /// `ret`: 2 rejected, 3 approved.
        ret: i64,
        nickname: String,
        /// `reason`: why it was rejected; blank on approval.
        reason: Option<String>,
    },
    /// An event the provider acts on (privacy interface results, penalties, category audits,
    /// users withdrawing their authorization, ...): see [`Notice`].
    Notice(Notice),
    /// Any other message or event: kept whole so it can be stored, not refused.
    /// The raw body (XML, or JSON when it was sent as JSON) is the decrypted push, hence a
    /// [`Secret`].
    Unknown {
        msg_type: String,
        event: Option<String>,
        raw_xml: Secret,
    },
}

impl AuthorizerMessage {
    /// Reads a decrypted push from the message URL: XML, or a JSON object with the same field
    /// names when the body's first non-blank character is `{` (a mini program's message push can be
    /// configured for JSON).
    ///
    /// `ToUserName`, `FromUserName`, `CreateTime` and `MsgType` are required for every push, and
    /// `Event` for every event, known or not.
    pub fn parse(xml: &str) -> Result<Self, EventError> {
        let f = fields::read(xml)?;
        let to_user_name = f.required(ANY, "ToUserName")?.to_owned();
        let from_user_name = f.required(ANY, "FromUserName")?.to_owned();
        let create_time = f.required_int(ANY, "CreateTime")?;
        let msg_type = f.required(ANY, "MsgType")?;
        let event = if msg_type == EVENT {
            Some(f.required(ANY_EVENT, "Event")?)
        } else {
            None
        };

        let kind = match (msg_type, event) {
            (TEXT, _) => MessageKind::Text {
                content: f.required_text(TEXT, "Content")?,
                msg_id: f.optional_int("MsgId")?,
            },
            (_, Some(WEAPP_AUDIT_SUCCESS)) => MessageKind::WeappAuditSuccess {
                succ_time: f.required_int(WEAPP_AUDIT_SUCCESS, "SuccTime")?,
            },
            (_, Some(WEAPP_AUDIT_FAIL)) => MessageKind::WeappAuditFail {
                reason: f.required_text(WEAPP_AUDIT_FAIL, "Reason")?,
                fail_time: f.required_int(WEAPP_AUDIT_FAIL, "FailTime")?,
                screenshots: f
                    .trimmed("ScreenShot")?
                    .map(|list| {
                        list.split('|')
                            .map(str::trim)
                            .filter(|id| !id.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            (_, Some(WEAPP_AUDIT_DELAY)) => MessageKind::WeappAuditDelay {
                reason: f.required_text(WEAPP_AUDIT_DELAY, "Reason")?,
                delay_time: f.required_int(WEAPP_AUDIT_DELAY, "DelayTime")?,
            },
            (_, Some(NICKNAME_AUDIT)) => MessageKind::NicknameAudit {
                ret: f.required_int(NICKNAME_AUDIT, "ret")?,
                nickname: f.required_text(NICKNAME_AUDIT, "nickname")?,
                reason: f.trimmed("reason")?.map(str::to_owned),
            },
            (other, event) => match event.map(|name| notice::parse(name, &f)).transpose() {
                Ok(Some(Some(notice))) => MessageKind::Notice(notice),
                unknown => {
                    if let Err(e) = unknown {
                        // Kept whole rather than refused, as on the authorization event URL.
                        tracing::warn!(event, error = %e, "a notice could not be read; kept raw as an unknown kind");
                    }
                    MessageKind::Unknown {
                        msg_type: other.to_owned(),
                        event: event.map(str::to_owned),
                        raw_xml: Secret::new(xml),
                    }
                }
            },
        };

        Ok(Self {
            to_user_name,
            from_user_name,
            create_time,
            msg_type: msg_type.to_owned(),
            kind,
            raw_sha256: sha256_hex(xml.as_bytes()),
        })
    }

    /// `Event` for event pushes, as WeChat spells it; `None` for messages.
    pub fn event(&self) -> Option<&str> {
        match &self.kind {
            MessageKind::Text { .. } => None,
            MessageKind::WeappAuditSuccess { .. } => Some(WEAPP_AUDIT_SUCCESS),
            MessageKind::WeappAuditFail { .. } => Some(WEAPP_AUDIT_FAIL),
            MessageKind::WeappAuditDelay { .. } => Some(WEAPP_AUDIT_DELAY),
            MessageKind::NicknameAudit { .. } => Some(NICKNAME_AUDIT),
            MessageKind::Notice(notice) => Some(&notice.event),
            MessageKind::Unknown { event, .. } => event.as_deref(),
        }
    }

    /// A key that is the same for every delivery of this push and different for different pushes,
    /// following WeChat's advice: `MsgId` for messages, `FromUserName` + `CreateTime` + `Event` for
    /// events. All keys are scoped by `ToUserName`:
    /// - text: `msg:<to>:<MsgId>` (without a MsgId: `msg:<to>:<from>:<CreateTime>:text`);
    /// - known events: `event:<to>:<from>:<CreateTime>:<Event>`;
    /// - notices: `event:<to>:<from>:<CreateTime>:<Event>:sha256:<SHA-256 of the whole push>` (several
    ///   users can withdraw their authorization in the same second, and one system sender pushes
    ///   them all);
    /// - anything else: `msg:<to>:sha256:<SHA-256 of the whole push>`.
    ///
    /// Never contains message content (which may carry an auth code).
    pub fn idempotency_key(&self) -> String {
        let to = &self.to_user_name;
        let from = &self.from_user_name;
        let at = self.create_time;
        match &self.kind {
            MessageKind::Text {
                msg_id: Some(id), ..
            } => format!("msg:{to}:{id}"),
            MessageKind::Text { msg_id: None, .. } => format!("msg:{to}:{from}:{at}:{TEXT}"),
            MessageKind::Unknown { raw_xml, .. } => {
                format!(
                    "msg:{to}:sha256:{}",
                    sha256_hex(raw_xml.expose().as_bytes())
                )
            }
            MessageKind::Notice(notice) => format!(
                "event:{to}:{from}:{at}:{}:sha256:{}",
                notice.event, self.raw_sha256
            ),
            MessageKind::WeappAuditSuccess { .. }
            | MessageKind::WeappAuditFail { .. }
            | MessageKind::WeappAuditDelay { .. }
            | MessageKind::NicknameAudit { .. } => {
                let event = self.event().unwrap_or(EVENT);
                format!("event:{to}:{from}:{at}:{event}")
            }
        }
    }

    /// The passive text reply to this message: from the account (this message's `ToUserName`) to the
    /// sender (its `FromUserName`). `create_time` comes from the caller's clock.
    pub fn text_reply(&self, content: &str, create_time: EpochSeconds) -> String {
        text_reply_xml(
            &self.from_user_name,
            &self.to_user_name,
            create_time,
            content,
        )
    }
}

/// A passive text reply, unencrypted:
/// `<xml><ToUserName>..</ToUserName><FromUserName>..</FromUserName><CreateTime>..</CreateTime>`
/// `<MsgType>text</MsgType><Content>..</Content></xml>`, strings in CDATA.
pub fn text_reply_xml(
    to_user_name: &str,
    from_user_name: &str,
    create_time: EpochSeconds,
    content: &str,
) -> String {
    let mut xml =
        String::with_capacity(160 + to_user_name.len() + from_user_name.len() + content.len());
    xml.push_str("<xml><ToUserName>");
    push_cdata(&mut xml, to_user_name);
    xml.push_str("</ToUserName><FromUserName>");
    push_cdata(&mut xml, from_user_name);
    xml.push_str("</FromUserName><CreateTime>");
    xml.push_str(&create_time.to_string());
    xml.push_str("</CreateTime><MsgType>");
    push_cdata(&mut xml, TEXT);
    xml.push_str("</MsgType><Content>");
    push_cdata(&mut xml, content);
    xml.push_str("</Content></xml>");
    xml
}

/// Writes `value` as CDATA. A CDATA section cannot contain `]]>`, so each one is split across two
/// sections: `]]` ends the first, `>` starts the next.
fn push_cdata(xml: &mut String, value: &str) {
    xml.push_str("<![CDATA[");
    xml.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    xml.push_str("]]>");
}

impl fmt::Debug for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text { content, msg_id } => f
                .debug_struct("Text")
                .field(
                    "content",
                    &format_args!("[{} chars]", content.chars().count()),
                )
                .field("msg_id", msg_id)
                .finish(),
            Self::WeappAuditSuccess { succ_time } => f
                .debug_struct("WeappAuditSuccess")
                .field("succ_time", succ_time)
                .finish(),
            Self::WeappAuditFail {
                reason,
                fail_time,
                screenshots,
            } => f
                .debug_struct("WeappAuditFail")
                .field("reason", reason)
                .field("fail_time", fail_time)
                .field("screenshots", screenshots)
                .finish(),
            Self::WeappAuditDelay { reason, delay_time } => f
                .debug_struct("WeappAuditDelay")
                .field("reason", reason)
                .field("delay_time", delay_time)
                .finish(),
            Self::NicknameAudit {
                ret,
                nickname,
                reason,
            } => f
                .debug_struct("NicknameAudit")
                .field("ret", ret)
                .field("nickname", nickname)
                .field("reason", reason)
                .finish(),
            Self::Notice(notice) => f.debug_tuple("Notice").field(notice).finish(),
            Self::Unknown {
                msg_type,
                event,
                raw_xml,
            } => f
                .debug_struct("Unknown")
                .field("msg_type", msg_type)
                .field("event", event)
                .field("raw_xml", raw_xml)
                .finish(),
        }
    }
}
