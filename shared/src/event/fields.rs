//! The event accessors over a decrypted push: required and optional fields, trimmed or as sent,
//! and integers, with errors that name the push kind and the field.
//!
//! A push is XML, read by the one XML reader ([`crate::xml::Fields`]), or, for a body whose first
//! non-blank character is `{`, a JSON object with the same field names. Both are read into the same
//! shape: the texts of the top-level fields under their name and of one level of nesting under
//! `parent/child` (deeper levels are skipped, as in XML). JSON numbers and booleans count as their
//! text; `null` counts as absent. A JSON array of scalars is a list (see [`Body::list`]).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use super::EventError;
use crate::ids::{AuthorizerAppId, InvalidId};
use crate::xml::{Duplicated, Fields, XmlError};

impl From<XmlError> for EventError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::DtdRefused => EventError::DtdRefused,
            XmlError::Malformed { position, source } => EventError::Malformed { position, source },
            XmlError::Shape { what, .. } => EventError::Shape(what),
        }
    }
}

/// A decrypted push, read from either framing.
pub(crate) enum Body {
    Xml(Fields),
    Json(JsonFields),
}

/// The fields of a JSON push. `Debug` is not derived: the values are the decrypted push.
#[derive(Default)]
pub(crate) struct JsonFields {
    values: HashMap<String, String>,
    lists: HashMap<String, Vec<String>>,
    /// Keys that occur more than once in one object: refused when read, as in XML.
    duplicated: HashSet<String>,
}

/// Whether a decrypted body is JSON rather than XML: its first non-blank character is `{`.
pub(crate) fn is_json(body: &str) -> bool {
    body.trim_start().starts_with('{')
}

/// Reads a decrypted push, XML or JSON.
pub(crate) fn read(body: &str) -> Result<Body, EventError> {
    if is_json(body) {
        read_json(body).map(Body::Json)
    } else {
        Ok(Body::Xml(Fields::read(body)?))
    }
}

fn read_json(body: &str) -> Result<JsonFields, EventError> {
    // The parser's own message can quote the input, so only its position is kept.
    let node: Node = serde_json::from_str(body).map_err(|e| EventError::MalformedJson {
        line: e.line(),
        column: e.column(),
    })?;
    let Node::Object(entries) = node else {
        return Err(EventError::Shape("push JSON is not an object"));
    };
    let mut fields = JsonFields::default();
    for (name, node) in entries {
        match node {
            Node::Object(children) => {
                for (child, node) in children {
                    fields.insert(format!("{name}/{child}"), node);
                }
            }
            other => fields.insert(name, other),
        }
    }
    Ok(fields)
}

impl JsonFields {
    fn insert(&mut self, key: String, node: Node) {
        if self.values.contains_key(&key) || self.lists.contains_key(&key) {
            self.duplicated.insert(key);
            return;
        }
        match node {
            Node::Text(text) => {
                self.values.insert(key, text);
            }
            Node::List(items) => {
                self.lists.insert(key, items);
            }
            // `null` is absent; anything nested deeper is skipped, as in XML.
            Node::Null | Node::Object(_) => {}
        }
    }
}

/// A JSON value as a push uses it: objects keep their entries in order, duplicates included, so
/// that a key sent twice can be refused instead of the last one silently winning.
enum Node {
    Null,
    /// A string, a number or a boolean, as text.
    Text(String),
    /// An array; its scalars as text (nested arrays and objects in it are skipped).
    List(Vec<String>),
    Object(Vec<(String, Node)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Text(value.to_string()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Text(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node, E> {
        Ok(Node::Text(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Node, E> {
        Ok(Node::Text(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Text(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Node, E> {
        Ok(Node::Text(value))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            if let Node::Text(text) = node {
                items.push(text);
            }
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, node)) = map.next_entry::<String, Node>()? {
            entries.push((key, node));
        }
        Ok(Node::Object(entries))
    }
}

impl Body {
    /// The raw text of a field, exactly as sent. A field that occurs twice is refused rather than
    /// guessed at, so a push cannot say two things at once. A JSON array is not a text: it is read
    /// with [`Body::list`].
    pub(crate) fn raw(&self, field: &'static str) -> Result<Option<&str>, EventError> {
        match self {
            Body::Xml(fields) => fields
                .get(field)
                .map_err(|Duplicated| EventError::DuplicateField { field }),
            Body::Json(fields) if fields.duplicated.contains(field) => {
                Err(EventError::DuplicateField { field })
            }
            Body::Json(fields) => Ok(fields.values.get(field).map(String::as_str)),
        }
    }

    /// A list of texts, trimmed, blanks dropped: a JSON array of scalars, or a single value (XML
    /// has no arrays; a JSON scalar where an array is documented is accepted too). Absent is empty.
    pub(crate) fn list(&self, field: &'static str) -> Result<Vec<String>, EventError> {
        let items = match self {
            Body::Json(fields) if fields.duplicated.contains(field) => {
                return Err(EventError::DuplicateField { field });
            }
            Body::Json(fields) if fields.lists.contains_key(field) => fields.lists[field].clone(),
            _ => self.raw(field)?.map(str::to_owned).into_iter().collect(),
        };
        Ok(items
            .iter()
            .map(|item| item.trim())
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The trimmed text of a field; blank counts as absent.
    pub(crate) fn trimmed(&self, field: &'static str) -> Result<Option<&str>, EventError> {
        Ok(self
            .raw(field)?
            .map(str::trim)
            .filter(|value| !value.is_empty()))
    }

    /// A field that must be present and not blank, trimmed.
    pub(crate) fn required(
        &self,
        kind: &'static str,
        field: &'static str,
    ) -> Result<&str, EventError> {
        self.trimmed(field)?
            .ok_or(EventError::MissingField { kind, field })
    }

    /// A field that must be present and not blank, as sent (free text keeps its whitespace).
    pub(crate) fn required_text(
        &self,
        kind: &'static str,
        field: &'static str,
    ) -> Result<String, EventError> {
        match self.raw(field)? {
            Some(value) if !value.trim().is_empty() => Ok(value.to_owned()),
            _ => Err(EventError::MissingField { kind, field }),
        }
    }

    /// Optional free text, as sent.
    pub(crate) fn optional_text(&self, field: &'static str) -> Result<Option<String>, EventError> {
        Ok(self.raw(field)?.map(str::to_owned))
    }

    /// A required integer. WeChat sends numbers as plain text, sometimes in CDATA, sometimes padded.
    pub(crate) fn required_int<T: FromStr>(
        &self,
        kind: &'static str,
        field: &'static str,
    ) -> Result<T, EventError> {
        parse_int(field, self.required(kind, field)?)
    }

    /// An optional integer: absent or blank is `None`, anything else must be a number.
    pub(crate) fn optional_int<T: FromStr>(
        &self,
        field: &'static str,
    ) -> Result<Option<T>, EventError> {
        self.trimmed(field)?
            .map(|value| parse_int(field, value))
            .transpose()
    }
}

fn parse_int<T: FromStr>(field: &'static str, value: &str) -> Result<T, EventError> {
    value.parse().map_err(|_| EventError::NotANumber { field })
}

// ----- typed field readers shared by the push kinds ---------------------------------------------

/// A text field, trimmed; `None` when absent or blank.
pub(super) fn optional_string(f: &Body, field: &'static str) -> Result<Option<String>, EventError> {
    Ok(f.trimmed(field)?.map(str::to_owned))
}

/// An appid field that `kind` must have.
pub(super) fn required_appid(
    f: &Body,
    kind: &'static str,
    field: &'static str,
) -> Result<AuthorizerAppId, EventError> {
    AuthorizerAppId::parse(f.required(kind, field)?).map_err(invalid_appid(field))
}

/// An appid field, if present.
pub(super) fn optional_appid(
    f: &Body,
    field: &'static str,
) -> Result<Option<AuthorizerAppId>, EventError> {
    f.trimmed(field)?
        .map(|value| AuthorizerAppId::parse(value).map_err(invalid_appid(field)))
        .transpose()
}

/// The error of a field that does not hold an appid.
pub(super) fn invalid_appid(field: &'static str) -> impl FnOnce(InvalidId) -> EventError {
    move |source| EventError::InvalidAppId { field, source }
}
