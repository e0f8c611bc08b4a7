//! The one XML reader for everything WeChat sends: the envelopes around `<Encrypt>` and the
//! decrypted pushes inside them.
//!
//! WeChat's XML is one `<xml>` root with scalar children and, for a few kinds, one level of nesting
//! (`<info><name>..</name></info>`). So the reader keeps the text of the root's children under their
//! name and of their children under `parent/child`; anything deeper is skipped. CDATA and plain text
//! are read alike. A DTD is refused the moment the reader meets it, closed or not; entities are never
//! expanded (only the five predefined ones and character references are resolved, anything else is
//! refused).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

/// Why a document could not be read. No variant carries the document's text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum XmlError {
    /// A `<!DOCTYPE ...>`, closed or not.
    #[error("the XML contains a document type declaration; DTDs are refused")]
    DtdRefused,
    /// The XML itself is broken.
    #[error("the XML is not well-formed (near byte {position})")]
    Malformed {
        position: u64,
        #[source]
        source: quick_xml::Error,
    },
    /// Well-formed enough to read, but not a single `<xml>` element, or a reference to an entity
    /// nobody declared.
    #[error("the XML has the wrong shape: {what} (near byte {position})")]
    Shape { what: &'static str, position: u64 },
}

/// A field that occurs more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duplicated;

/// How deep below the root a leaf is still kept (1 = child of `<xml>`, 2 = grandchild).
const KEPT_DEPTH: usize = 2;

/// The texts of a push's leaf elements, keyed by `name` or `parent/name`. `Debug` shows the names
/// only: the texts are the decrypted push (tickets, auth codes).
#[derive(Default)]
pub(crate) struct Fields {
    values: HashMap<String, String>,
    duplicated: HashSet<String>,
    /// Kept elements that have children, with where they start: not fields, but a field's name
    /// holding markup is worth telling apart from a missing field.
    branches: HashMap<String, u64>,
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Fields")
            .field("names", &names)
            .field("values", &"[redacted]")
            .field("duplicated", &self.duplicated)
            .field("branches", &self.branches.keys().collect::<Vec<_>>())
            .finish()
    }
}

struct Open {
    /// `None` when the element is deeper than [`KEPT_DEPTH`].
    key: Option<String>,
    /// Where it starts.
    position: u64,
    text: String,
    has_children: bool,
}

impl Fields {
    pub(crate) fn read(xml: &str) -> Result<Self, XmlError> {
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
                    return Err(XmlError::DtdRefused);
                }
                Err(source) => {
                    return Err(XmlError::Malformed {
                        position: reader.error_position(),
                        source,
                    });
                }
            };
            match event {
                Event::DocType(_) => return Err(XmlError::DtdRefused),
                Event::Start(start) => {
                    // Pushes carry no attributes, but broken ones still mean broken XML.
                    for attribute in start.attributes() {
                        attribute.map_err(|e| XmlError::Malformed {
                            position: reader.buffer_position(),
                            source: e.into(),
                        })?;
                    }
                    if stack.is_empty() {
                        if root_seen {
                            return Err(XmlError::Shape {
                                what: "more than one root element",
                                position: reader.buffer_position(),
                            });
                        }
                        if start.name().as_ref() != "xml" {
                            return Err(XmlError::Shape {
                                what: "the root element is not <xml>",
                                position: reader.buffer_position(),
                            });
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
                        position: reader.buffer_position(),
                        text: String::new(),
                        has_children: false,
                    });
                }
                Event::End(_) => {
                    // The reader checks that end tags match, so the stack cannot underflow here;
                    // an unmatched end tag arrives as an error instead.
                    if let Some(open) = stack.pop() {
                        match (open.key, open.has_children) {
                            (Some(key), false) => fields.insert(key, open.text),
                            (Some(key), true) => {
                                fields.branches.entry(key).or_insert(open.position);
                            }
                            (None, _) => {}
                        }
                    }
                }
                Event::Text(text) => {
                    let text = text.xml10_content();
                    match stack.last_mut() {
                        Some(open) => open.push(&text),
                        None if text.trim().is_empty() => {}
                        None => {
                            return Err(XmlError::Shape {
                                what: "text outside the root element",
                                position: reader.buffer_position(),
                            });
                        }
                    }
                }
                Event::CData(cdata) => match stack.last_mut() {
                    Some(open) => open.push(&cdata.xml10_content()),
                    None => {
                        return Err(XmlError::Shape {
                            what: "CDATA outside the root element",
                            position: reader.buffer_position(),
                        });
                    }
                },
                Event::GeneralRef(reference) => {
                    let resolved = resolve(&reference).map_err(|source| XmlError::Malformed {
                        position: reader.buffer_position(),
                        source,
                    })?;
                    match (resolved, stack.last_mut()) {
                        (None, _) => {
                            return Err(XmlError::Shape {
                                what: "reference to an undefined entity",
                                position: reader.buffer_position(),
                            });
                        }
                        (Some(_), None) => {
                            return Err(XmlError::Shape {
                                what: "reference outside the root element",
                                position: reader.buffer_position(),
                            });
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
            return Err(XmlError::Shape {
                what: "an element is not closed",
                position: reader.buffer_position(),
            });
        }
        if !root_seen {
            return Err(XmlError::Shape {
                what: "no root element",
                position: reader.buffer_position(),
            });
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
    /// guessed at, so a document cannot say two things at once.
    pub(crate) fn get(&self, field: &str) -> Result<Option<&str>, Duplicated> {
        if self.duplicated.contains(field) {
            return Err(Duplicated);
        }
        Ok(self.values.get(field).map(String::as_str))
    }

    /// Where an element named `field` that holds markup instead of text starts, if there is one.
    pub(crate) fn markup_in(&self, field: &str) -> Option<u64> {
        self.branches.get(field).copied()
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
