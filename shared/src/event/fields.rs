//! The event accessors over a decrypted push: required and optional fields, trimmed or as sent,
//! and integers, with errors that name the push kind and the field.
//!
//! A push is XML, read by the one XML reader ([`crate::xml::Fields`]), or, for a body whose first
//! non-blank character is `{`, a JSON object with the same field names. Both are read into the same
//! shape: the texts of the top-level fields under their name and of one level of nesting under
//! `parent/child` (deeper levels are skipped, as in XML). JSON numbers and booleans count as their
//! text; `null` counts as absent. A JSON array of scalars is a list (see [`Body::list`]).

use std::collections::HashMap;
use std::str::FromStr;

use super::EventError;
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
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| EventError::MalformedJson {
            line: e.line(),
            column: e.column(),
        })?;
    let serde_json::Value::Object(object) = value else {
        return Err(EventError::Shape("push JSON is not an object"));
    };
    let mut fields = JsonFields::default();
    for (name, value) in object {
        match value {
            serde_json::Value::Object(children) => {
                for (child, value) in children {
                    fields.insert(format!("{name}/{child}"), value);
                }
            }
            other => fields.insert(name, other),
        }
    }
    Ok(fields)
}

impl JsonFields {
    fn insert(&mut self, key: String, value: serde_json::Value) {
        match value {
            serde_json::Value::Array(items) => {
                let items = items.into_iter().filter_map(scalar_text).collect();
                self.lists.insert(key, items);
            }
            other => {
                if let Some(text) = scalar_text(other) {
                    self.values.insert(key, text);
                }
            }
        }
    }
}

/// The text of a JSON scalar; `None` for `null` and for anything nested (skipped, as in XML).
fn scalar_text(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        serde_json::Value::Null | serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            None
        }
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
            Body::Json(fields) => Ok(fields.values.get(field).map(String::as_str)),
        }
    }

    /// A list of texts, trimmed, blanks dropped: a JSON array of scalars, or a single value (XML
    /// has no arrays; a JSON scalar where an array is documented is accepted too). Absent is empty.
    pub(crate) fn list(&self, field: &'static str) -> Result<Vec<String>, EventError> {
        let items = match self {
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
