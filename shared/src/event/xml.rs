//! Reads a decrypted push (`<xml>...</xml>`) into a flat table of element texts.
//!
//! WeChat pushes are one `<xml>` root with scalar children and, for a few kinds, one level of nesting
//! (`<info><name>..</name></info>`). So the table keeps the text of the root's children under their
//! name and of their children under `parent/child`; anything deeper is skipped. CDATA and plain text
//! are read alike. A DTD is refused the moment the reader meets it; entities are never expanded
//! (only the five predefined ones and character references are resolved, anything else is refused).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

use super::EventError;

/// How deep below the root a leaf is still kept (1 = child of `<xml>`, 2 = grandchild).
const KEPT_DEPTH: usize = 2;

/// The texts of a push's leaf elements, keyed by `name` or `parent/name`. `Debug` shows the names
/// only: the texts are the decrypted push (tickets, auth codes).
#[derive(Default)]
pub(crate) struct Fields {
    values: HashMap<String, String>,
    duplicated: HashSet<String>,
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Fields")
            .field("names", &names)
            .field("values", &"[redacted]")
            .field("duplicated", &self.duplicated)
            .finish()
    }
}

struct Open {
    /// `None` when the element is deeper than [`KEPT_DEPTH`].
    key: Option<String>,
    text: String,
    has_children: bool,
}

impl Fields {
    pub(crate) fn read(xml: &str) -> Result<Self, EventError> {
        let mut reader = Reader::from_str(xml);
        // Empty elements (`<PreAuthCode/>`) become Start + End so they are recorded like `<a></a>`.
        reader.config_mut().expand_empty_elements = true;

        let mut fields = Fields::default();
        let mut stack: Vec<Open> = Vec::new();
        let mut root_seen = false;

        loop {
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(quick_xml::Error::Syntax(quick_xml::errors::SyntaxError::UnclosedDoctype)) => {
                    return Err(EventError::DtdRefused);
                }
                Err(source) => {
                    return Err(EventError::Malformed {
                        position: reader.error_position(),
                        source,
                    });
                }
            };
            match event {
                Event::DocType(_) => return Err(EventError::DtdRefused),
                Event::Start(start) => {
                    // Pushes carry no attributes, but broken ones still mean broken XML.
                    for attribute in start.attributes() {
                        attribute.map_err(|e| EventError::Malformed {
                            position: reader.buffer_position(),
                            source: e.into(),
                        })?;
                    }
                    if stack.is_empty() {
                        if root_seen {
                            return Err(EventError::Shape("more than one root element"));
                        }
                        if start.name().as_ref() != "xml" {
                            return Err(EventError::Shape("the root element is not <xml>"));
                        }
                        root_seen = true;
                    }
                    let depth = stack.len();
                    let key = match stack.last_mut() {
                        Some(parent) => {
                            parent.has_children = true;
                            if depth > KEPT_DEPTH {
                                None
                            } else {
                                let name = start.name();
                                let name = name.as_ref();
                                Some(match &parent.key {
                                    Some(parent_key) => format!("{parent_key}/{name}"),
                                    None => name.to_owned(),
                                })
                            }
                        }
                        None => None,
                    };
                    stack.push(Open {
                        key,
                        text: String::new(),
                        has_children: false,
                    });
                }
                Event::End(_) => {
                    // The reader checks that end tags match, so the stack cannot underflow here;
                    // an unmatched end tag arrives as an error instead.
                    if let Some(open) = stack.pop() {
                        if let (Some(key), false) = (open.key, open.has_children) {
                            fields.insert(key, open.text);
                        }
                    }
                }
                Event::Text(text) => {
                    let text = text.xml10_content();
                    match stack.last_mut() {
                        Some(open) => open.push(&text),
                        None if text.trim().is_empty() => {}
                        None => return Err(EventError::Shape("text outside the root element")),
                    }
                }
                Event::CData(cdata) => match stack.last_mut() {
                    Some(open) => open.push(&cdata.xml10_content()),
                    None => return Err(EventError::Shape("CDATA outside the root element")),
                },
                Event::GeneralRef(reference) => {
                    let resolved = resolve(&reference).map_err(|source| EventError::Malformed {
                        position: reader.buffer_position(),
                        source,
                    })?;
                    match (resolved, stack.last_mut()) {
                        (None, _) => {
                            return Err(EventError::Shape("reference to an undefined entity"));
                        }
                        (Some(_), None) => {
                            return Err(EventError::Shape("reference outside the root element"));
                        }
                        (Some(s), Some(open)) => open.push(&s),
                    }
                }
                Event::Empty(_) => {
                    // Not produced with `expand_empty_elements`; nothing to record if it were.
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }

        if !stack.is_empty() {
            return Err(EventError::Shape("an element is not closed"));
        }
        if !root_seen {
            return Err(EventError::Shape("no root element"));
        }
        Ok(fields)
    }

    fn insert(&mut self, key: String, text: String) {
        match self.values.entry(key) {
            Entry::Occupied(existing) => {
                self.duplicated.insert(existing.key().clone());
            }
            Entry::Vacant(slot) => {
                slot.insert(text);
            }
        }
    }

    /// The raw text of a field, exactly as sent. A field that occurs twice is refused rather than
    /// guessed at, so a push cannot say two things at once.
    pub(crate) fn raw(&self, field: &'static str) -> Result<Option<&str>, EventError> {
        if self.duplicated.contains(field) {
            return Err(EventError::DuplicateField { field });
        }
        Ok(self.values.get(field).map(String::as_str))
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

impl Open {
    fn push(&mut self, text: &str) {
        // Text of elements that are not kept is dropped: nothing reads it.
        if self.key.is_some() {
            self.text.push_str(text);
        }
    }
}

fn parse_int<T: FromStr>(field: &'static str, value: &str) -> Result<T, EventError> {
    value.parse().map_err(|_| EventError::NotANumber { field })
}

/// The text a reference stands for, or `None` for an entity nobody declared (declarations are refused).
fn resolve(reference: &BytesRef<'_>) -> Result<Option<String>, quick_xml::Error> {
    if let Some(c) = reference.resolve_char_ref()? {
        return Ok(Some(c.to_string()));
    }
    Ok(quick_xml::escape::resolve_predefined_entity(reference).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_the_fields_but_never_shows_their_texts() {
        let fields = Fields::read(
            "<xml><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@secret-value</ComponentVerifyTicket></xml>",
        )
        .unwrap();
        let debug = format!("{fields:?}");
        assert!(debug.contains("ComponentVerifyTicket"), "{debug}");
        assert!(!debug.contains("ticket@@@secret-value"), "{debug}");
        assert!(!debug.contains("component_verify_ticket"), "{debug}");
    }
}
