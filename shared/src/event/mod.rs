//! Typed push events: the decrypted XML (or JSON) of a WeChat push turned into Rust values.
//!
//! Two kinds of push arrive (docs/wechat-protocol.md, "Events" and "Notices"):
//! - on the authorization event URL, [`ComponentEvent`]s keyed by `InfoType` (the verify ticket,
//!   authorizations, fast-registration results, filing and verification [`Notice`]s);
//! - on the message URL, [`AuthorizerMessage`]s keyed by `MsgType` / `Event` (user messages, code
//!   audit results, nickname audits, privacy, penalty, category and user [`Notice`]s, ...).
//!
//! A body whose first non-blank character is `{` is read as a JSON object with the XML's field
//! names; anything else as XML.
//!
//! Kinds this crate does not know are kept with their raw XML instead of failing, so a new WeChat
//! notification is stored and answered rather than retried. Each value has an idempotency key so that
//! WeChat's retries (three tries in all) are acted on once.
//!
//! Input is already decrypted and checked by [`crate::crypto`]. A DTD is refused; entities are never
//! expanded. Errors name fields, never their values: tickets and auth codes stay out of error text.

mod component;
mod fields;
mod message;
mod notice;

pub use component::{
    Authorization, BetaAppInfo, BetaAppRegistration, ComponentEvent, ComponentEventKind,
    RegistrationInfo, RegistrationResult,
};
pub use message::{AuthorizerMessage, MessageKind, text_reply_xml};
pub use notice::{
    Notice, NoticeKind, PrivacyApplyResult, Punishment, UserAuthorizationChange, WxaAuthDispatch,
    WxaAuthProgress,
};

use sha2::{Digest, Sha256};

use crate::ids::InvalidId;

/// Why a decrypted push could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The push carries a `<!DOCTYPE ...>`: entity declarations (billion laughs, external entities)
    /// have no place in a WeChat push.
    #[error(
        "push XML contains a document type declaration; DTDs and entity declarations are refused"
    )]
    DtdRefused,
    /// The XML itself is broken.
    #[error("push XML is not well-formed (near byte {position})")]
    Malformed {
        position: u64,
        #[source]
        source: quick_xml::Error,
    },
    /// A body that starts with `{` but is not valid JSON. Only the position is kept: the JSON
    /// parser's own message can quote the push.
    #[error("push JSON is not well-formed (line {line}, column {column})")]
    MalformedJson { line: usize, column: usize },
    /// Well-formed enough to read, but not a single `<xml>` element (or, for JSON, not an object).
    #[error("push has the wrong shape: {0}")]
    Shape(&'static str),
    /// A field that this kind of push must have is absent or blank.
    #[error("{kind} push is missing required field <{field}>")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    /// A field occurs twice, so which value counts would be a guess.
    #[error("field <{field}> occurs more than once")]
    DuplicateField { field: &'static str },
    /// A numeric field holds something that is not an integer.
    #[error("field <{field}> is not an integer")]
    NotANumber { field: &'static str },
    /// An appid field does not look like an appid.
    #[error("field <{field}> is not a valid appid")]
    InvalidAppId {
        field: &'static str,
        #[source]
        source: InvalidId,
    },
}

/// Lower-case hex SHA-256, for idempotency keys that must not carry what they are derived from.
fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
