//! What the product tells the provider's own systems: one typed event for each change of state
//! worth acting on (an authorization, a revocation, an audit's result...), published on an
//! EventBridge bus with source [`SOURCE`] and one of the [`DetailType`]s. Not WeChat's pushes
//! (those are [`crate::event`]): an event says what our state became.
//!
//! Every event carries an [`EventId`] derived from what it is about (the authorization code, the
//! push, the campaign's state), so a state change recorded twice (WeChat delivers a push three
//! times, a browser and a push complete the same authorization) yields the same id, and consumers
//! deduplicate on it.

pub mod bus;
pub mod catalogue;

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::clock::EpochSeconds;
use crate::ids::{AuthorizerAppId, ComponentAppId};

pub use bus::{EventBus, Published, eventbridge_client, eventbridge_timeouts};

/// The `Source` of every event.
pub const SOURCE: &str = "wxcomponent";

/// The version of the detail's shape; grows when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened: the event's `DetailType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailType {
    AuthorizerAuthorized,
    AuthorizerUpdated,
    AuthorizerUnauthorized,
    AuthorizerReauthorizationRequired,
    FastRegistrationCompleted,
    AuditSucceeded,
    AuditFailed,
    AuditDelayed,
    CodeReleased,
    CampaignStateChanged,
    TicketMissing,
    AuthorizerMessage,
}

impl DetailType {
    pub const ALL: [DetailType; 12] = [
        DetailType::AuthorizerAuthorized,
        DetailType::AuthorizerUpdated,
        DetailType::AuthorizerUnauthorized,
        DetailType::AuthorizerReauthorizationRequired,
        DetailType::FastRegistrationCompleted,
        DetailType::AuditSucceeded,
        DetailType::AuditFailed,
        DetailType::AuditDelayed,
        DetailType::CodeReleased,
        DetailType::CampaignStateChanged,
        DetailType::TicketMissing,
        DetailType::AuthorizerMessage,
    ];

    /// The `DetailType` string, as EventBridge rules match it.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::AuthorizerAuthorized => "Authorizer Authorized",
            DetailType::AuthorizerUpdated => "Authorizer Updated",
            DetailType::AuthorizerUnauthorized => "Authorizer Unauthorized",
            DetailType::AuthorizerReauthorizationRequired => "Authorizer Reauthorization Required",
            DetailType::FastRegistrationCompleted => "Fast Registration Completed",
            DetailType::AuditSucceeded => "Audit Succeeded",
            DetailType::AuditFailed => "Audit Failed",
            DetailType::AuditDelayed => "Audit Delayed",
            DetailType::CodeReleased => "Code Released",
            DetailType::CampaignStateChanged => "Campaign State Changed",
            DetailType::TicketMissing => "Ticket Missing",
            DetailType::AuthorizerMessage => "Authorizer Message",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event's id: 32 hex characters, the same whenever the same state change is recorded again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

impl EventId {
    /// The id of the `detail_type` event of `component` about `key` (what makes it this event and
    /// no other: an authorization code's digest, a push's idempotency key, a campaign state).
    pub fn derive(component: &ComponentAppId, detail_type: DetailType, key: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [component.as_str(), detail_type.as_str(), key] {
            hash.update(part.as_bytes());
            // A separator that none of the parts can hold, so no two triples hash alike.
            hash.update([0]);
        }
        Self(hex::encode(&hash.finalize()[..16]))
    }

    /// An id as stored, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event: what happened, to whom, when, and its own fields (snake_case).
#[derive(Debug, Clone, PartialEq)]
pub struct ProductEvent {
    pub detail_type: DetailType,
    pub id: EventId,
    pub component: ComponentAppId,
    pub authorizer: Option<AuthorizerAppId>,
    pub occurred_at: EpochSeconds,
    pub fields: Map<String, Value>,
}

/// The fields every detail carries, which an event's own fields may not replace.
pub const COMMON_FIELDS: [&str; 5] = [
    "component_appid",
    "authorizer_appid",
    "event_id",
    "occurred_at",
    "schema_version",
];

impl ProductEvent {
    /// A `detail_type` event of `component` about `key` (see [`EventId::derive`]).
    pub fn new(
        component: &ComponentAppId,
        detail_type: DetailType,
        key: &str,
        occurred_at: EpochSeconds,
    ) -> Self {
        Self {
            detail_type,
            id: EventId::derive(component, detail_type, key),
            component: component.clone(),
            authorizer: None,
            occurred_at,
            fields: Map::new(),
        }
    }

    /// About this authorizer.
    pub fn about(mut self, appid: &AuthorizerAppId) -> Self {
        self.authorizer = Some(appid.clone());
        self
    }

    /// With the field `name` (a common field's name is ignored: those are the event's own).
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        if !COMMON_FIELDS.contains(&name) {
            let value = serde_json::to_value(value).unwrap_or(Value::Null);
            self.fields.insert(name.to_owned(), value);
        }
        self
    }

    /// The event back from its detail type and [`ProductEvent::detail`], as stored; `None` if
    /// they are not one's.
    pub fn from_detail(detail_type: &str, detail: &Value) -> Option<Self> {
        let detail_type = DetailType::parse(detail_type)?;
        let mut fields = detail.as_object()?.clone();
        let component = ComponentAppId::parse(fields.remove("component_appid")?.as_str()?).ok()?;
        let authorizer = match fields.remove("authorizer_appid") {
            None => None,
            Some(appid) => Some(AuthorizerAppId::parse(appid.as_str()?).ok()?),
        };
        let id = EventId::parse(fields.remove("event_id")?.as_str()?)?;
        let occurred_at = fields.remove("occurred_at")?.as_i64()?;
        fields.remove("schema_version");
        Some(Self {
            detail_type,
            id,
            component,
            authorizer,
            occurred_at,
            fields,
        })
    }

    /// The `Detail`: the common fields and the event's own.
    pub fn detail(&self) -> Value {
        let mut detail = self.fields.clone();
        detail.insert(
            "component_appid".to_owned(),
            Value::from(self.component.as_str()),
        );
        if let Some(appid) = &self.authorizer {
            detail.insert("authorizer_appid".to_owned(), Value::from(appid.as_str()));
        }
        detail.insert("event_id".to_owned(), Value::from(self.id.as_str()));
        detail.insert("occurred_at".to_owned(), Value::from(self.occurred_at));
        detail.insert("schema_version".to_owned(), Value::from(SCHEMA_VERSION));
        Value::Object(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component() -> ComponentAppId {
        ComponentAppId::parse("wxcomponent0000001").unwrap()
    }

    #[test]
    fn detail_types_read_back_and_are_as_rules_match_them() {
        for t in DetailType::ALL {
            assert_eq!(DetailType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            DetailType::AuthorizerReauthorizationRequired.as_str(),
            "Authorizer Reauthorization Required"
        );
        assert_eq!(DetailType::parse("authorizer authorized"), None);
    }

    #[test]
    fn the_same_change_gets_the_same_id_and_any_other_a_different_one() {
        let c = component();
        let id = EventId::derive(&c, DetailType::AuthorizerAuthorized, "code-digest");
        assert_eq!(
            id,
            EventId::derive(&c, DetailType::AuthorizerAuthorized, "code-digest")
        );
        assert_ne!(
            id,
            EventId::derive(&c, DetailType::AuthorizerUpdated, "code-digest")
        );
        assert_ne!(
            id,
            EventId::derive(&c, DetailType::AuthorizerAuthorized, "code-digesT")
        );
        let other = ComponentAppId::parse("wxcomponent0000002").unwrap();
        assert_ne!(
            id,
            EventId::derive(&other, DetailType::AuthorizerAuthorized, "code-digest")
        );
        assert_eq!(EventId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(EventId::parse("XYZ"), None);
        assert_eq!(EventId::parse(&id.as_str().to_uppercase()), None);
    }

    #[test]
    fn the_detail_has_the_common_fields_which_no_own_field_replaces() {
        let c = component();
        let appid = AuthorizerAppId::parse("wxauthorizer00001").unwrap();
        let event = ProductEvent::new(&c, DetailType::AuditFailed, "push-key", 1_767_225_600)
            .about(&appid)
            .with("audit_id", 42)
            .with("reason", "类目不符")
            .with("event_id", "forged");
        let detail = event.detail();
        assert_eq!(detail["component_appid"], "wxcomponent0000001");
        assert_eq!(detail["authorizer_appid"], "wxauthorizer00001");
        assert_eq!(detail["event_id"], event.id.as_str());
        assert_eq!(detail["occurred_at"], 1_767_225_600);
        assert_eq!(detail["schema_version"], SCHEMA_VERSION);
        assert_eq!(detail["audit_id"], 42);
        assert_eq!(detail["reason"], "类目不符");
        assert_eq!(
            ProductEvent::from_detail("Audit Failed", &detail),
            Some(event.clone())
        );
        assert_eq!(ProductEvent::from_detail("Audit Passed", &detail), None);
        let without_authorizer =
            ProductEvent::new(&c, DetailType::TicketMissing, "hour", 0).detail();
        assert!(without_authorizer.get("authorizer_appid").is_none());
    }
}
