//! The event accessors over the one XML reader ([`crate::xml::Fields`]): required and optional
//! fields, trimmed or as sent, and integers, with errors that name the push kind and the field.

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

/// Reads a decrypted push.
pub(crate) fn read(xml: &str) -> Result<Fields, EventError> {
    Ok(Fields::read(xml)?)
}

impl Fields {
    /// The raw text of a field, exactly as sent. A field that occurs twice is refused rather than
    /// guessed at, so a push cannot say two things at once.
    pub(crate) fn raw(&self, field: &'static str) -> Result<Option<&str>, EventError> {
        self.get(field)
            .map_err(|Duplicated| EventError::DuplicateField { field })
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
