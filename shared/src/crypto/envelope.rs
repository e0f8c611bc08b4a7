//! The XML envelopes around `<Encrypt>`: reading pushes and replies, writing replies and pushes.
//!
//! Reading uses quick-xml's streaming reader and picks out a few known children of the root. Only
//! `<Encrypt>` is trusted (after its signature checks); the rest is reported for routing and logs.
//! A DOCTYPE is refused outright: no DTD, so no entity expansion.

use super::{CryptoError, EnvelopeError};
use quick_xml::Reader;
use quick_xml::events::Event;

/// The largest push or reply body accepted.
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// The fields read from an envelope. All but `encrypt` are unauthenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The `<Encrypt>` value, base64 ciphertext.
    pub encrypt: String,
    /// `<AppId>` of a component event envelope.
    pub app_id: Option<String>,
    /// `<ToUserName>` (the authorizer's `gh_` name) of a message envelope.
    pub to_user_name: Option<String>,
    /// `<MsgSignature>`, `<TimeStamp>` and `<Nonce>` of an encrypted reply.
    pub msg_signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Encrypt,
    AppId,
    ToUserName,
    MsgSignature,
    TimeStamp,
    Nonce,
}

impl Field {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Encrypt" => Self::Encrypt,
            "AppId" => Self::AppId,
            "ToUserName" => Self::ToUserName,
            "MsgSignature" => Self::MsgSignature,
            "TimeStamp" => Self::TimeStamp,
            "Nonce" => Self::Nonce,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Encrypt => "Encrypt",
            Self::AppId => "AppId",
            Self::ToUserName => "ToUserName",
            Self::MsgSignature => "MsgSignature",
            Self::TimeStamp => "TimeStamp",
            Self::Nonce => "Nonce",
        }
    }
}

/// Collected values, each at most once.
#[derive(Default)]
struct Fields {
    encrypt: Option<String>,
    app_id: Option<String>,
    to_user_name: Option<String>,
    msg_signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
}

impl Fields {
    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::Encrypt => &mut self.encrypt,
            Field::AppId => &mut self.app_id,
            Field::ToUserName => &mut self.to_user_name,
            Field::MsgSignature => &mut self.msg_signature,
            Field::TimeStamp => &mut self.timestamp,
            Field::Nonce => &mut self.nonce,
        }
    }

    fn set(&mut self, field: Field, value: String) -> Result<(), EnvelopeError> {
        let slot = self.slot(field);
        if slot.is_some() {
            return Err(EnvelopeError::Duplicate(field.name()));
        }
        *slot = Some(value);
        Ok(())
    }
}

/// Parse a push or reply body. Checks the size first, then the XML.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, CryptoError> {
    if body.len() > MAX_BODY_LEN {
        return Err(CryptoError::BodyTooLarge {
            len: body.len(),
            max: MAX_BODY_LEN,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| EnvelopeError::NotUtf8)?;
    let fields = read_fields(text)?;
    let encrypt = fields.encrypt.ok_or(EnvelopeError::MissingEncrypt)?;
    Ok(Envelope {
        encrypt,
        app_id: fields.app_id,
        to_user_name: fields.to_user_name,
        msg_signature: fields.msg_signature,
        timestamp: fields.timestamp,
        nonce: fields.nonce,
    })
}

fn read_fields(text: &str) -> Result<Fields, EnvelopeError> {
    let mut reader = Reader::from_str(text);
    let malformed = |reader: &Reader<&[u8]>| EnvelopeError::Malformed {
        position: reader.error_position(),
    };
    let mut fields = Fields::default();
    // Depth 0: outside the root; 1: inside the root; 2+: inside a child of the root.
    let mut depth: usize = 0;
    let mut seen_root = false;
    // The known field being read (a direct child of the root) and its text so far.
    let mut current: Option<(Field, String)> = None;

    loop {
        let event = reader.read_event().map_err(|_| malformed(&reader))?;
        match event {
            Event::DocType(_) => return Err(EnvelopeError::Dtd),
            Event::Start(start) => {
                if depth == 0 {
                    if seen_root {
                        return Err(malformed(&reader));
                    }
                    seen_root = true;
                } else if current.is_some() {
                    // Markup inside a field we read: never valid for these scalar values.
                    return Err(malformed(&reader));
                } else if depth == 1 {
                    current = Field::from_name(start.name().as_ref()).map(|f| (f, String::new()));
                }
                depth += 1;
            }
            Event::Empty(start) => {
                if depth == 0 {
                    if seen_root {
                        return Err(malformed(&reader));
                    }
                    seen_root = true;
                } else if current.is_some() {
                    return Err(malformed(&reader));
                } else if depth == 1
                    && let Some(field) = Field::from_name(start.name().as_ref())
                {
                    fields.set(field, String::new())?;
                }
            }
            Event::End(_) => {
                depth = depth.checked_sub(1).ok_or_else(|| malformed(&reader))?;
                if depth == 1
                    && let Some((field, value)) = current.take()
                {
                    fields.set(field, value)?;
                }
            }
            Event::Text(t) => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&t.xml10_content());
                } else if depth == 0 && !t.xml10_content().trim().is_empty() {
                    return Err(malformed(&reader));
                }
            }
            Event::CData(c) => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&c.xml10_content());
                } else if depth == 0 {
                    return Err(malformed(&reader));
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, value)) = current.as_mut() {
                    let ch = resolve_reference(&r).ok_or_else(|| malformed(&reader))?;
                    value.push(ch);
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !seen_root || depth != 0 {
        return Err(malformed(&reader));
    }
    Ok(fields)
}

/// The five predefined entities and character references; anything else would need a DTD.
fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    if r.is_char_ref() {
        return r.resolve_char_ref().ok().flatten();
    }
    match r.xml10_content().as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Append `value` as CDATA; a `]]>` inside is split across two sections so it cannot end one early.
fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// The encrypted passive reply, laid out exactly as Tencent's samples and wechatpy write it.
pub fn reply_envelope(encrypt: &str, msg_signature: &str, timestamp: &str, nonce: &str) -> String {
    let mut out = String::with_capacity(encrypt.len() + 200);
    out.push_str("<xml>\n<Encrypt>");
    push_cdata(&mut out, encrypt);
    out.push_str("</Encrypt>\n<MsgSignature>");
    push_cdata(&mut out, msg_signature);
    out.push_str("</MsgSignature>\n<TimeStamp>");
    out.push_str(&quick_xml::escape::escape(timestamp));
    out.push_str("</TimeStamp>\n<Nonce>");
    push_cdata(&mut out, nonce);
    out.push_str("</Nonce>\n</xml>");
    out
}

/// The body of a push as WeChat sends it: `<AppId>` for component events, `<ToUserName>` for
/// messages to an authorizer.
pub fn push_envelope(encrypt: &str, component_appid: &str, to_user_name: Option<&str>) -> String {
    let mut out = String::with_capacity(encrypt.len() + 100);
    match to_user_name {
        Some(to) => {
            out.push_str("<xml><ToUserName>");
            push_cdata(&mut out, to);
            out.push_str("</ToUserName>");
        }
        None => {
            out.push_str("<xml><AppId>");
            push_cdata(&mut out, component_appid);
            out.push_str("</AppId>");
        }
    }
    out.push_str("<Encrypt>");
    push_cdata(&mut out, encrypt);
    out.push_str("</Encrypt></xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Envelope, CryptoError> {
        parse_envelope(s.as_bytes())
    }

    #[test]
    fn plain_text_cdata_and_references_are_read_and_other_elements_skipped() {
        let env = parse(
            "<?xml version=\"1.0\"?><xml><!-- c --><ToUserName>gh_1</ToUserName>\
             <Other><Encrypt>nested is ignored</Encrypt></Other>\
             <Encrypt>ab<![CDATA[c+/]]>&#61;&amp;</Encrypt></xml>",
        )
        .unwrap();
        assert_eq!(env.encrypt, "abc+/=&");
        assert_eq!(env.to_user_name.as_deref(), Some("gh_1"));
        assert_eq!(env.app_id, None);
    }

    #[test]
    fn written_envelopes_read_back_even_with_a_cdata_terminator_inside() {
        let body = push_envelope("QUJD", "wx]]>1", None);
        let env = parse(&body).unwrap();
        assert_eq!(env.encrypt, "QUJD");
        assert_eq!(env.app_id.as_deref(), Some("wx]]>1"));
        let reply = parse(&reply_envelope("QUJD", "sig", "12<", "n]]>")).unwrap();
        assert_eq!(reply.timestamp.as_deref(), Some("12<"));
        assert_eq!(reply.nonce.as_deref(), Some("n]]>"));
    }

    #[test]
    fn structural_problems_are_typed() {
        let env = |s: &str| match parse(s) {
            Err(CryptoError::Envelope(e)) => e,
            other => panic!("expected an envelope error, got {other:?}"),
        };
        assert_eq!(
            env("<!DOCTYPE x [<!ENTITY a \"b\">]><xml><Encrypt>&a;</Encrypt></xml>"),
            EnvelopeError::Dtd
        );
        assert_eq!(
            env("<xml><AppId>x</AppId></xml>"),
            EnvelopeError::MissingEncrypt
        );
        assert_eq!(env("<xml/>"), EnvelopeError::MissingEncrypt);
        assert_eq!(
            env("<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>"),
            EnvelopeError::Duplicate("Encrypt")
        );
        assert!(matches!(
            env("<xml><Encrypt>a</xml>"),
            EnvelopeError::Malformed { .. }
        ));
        assert!(matches!(
            env("<xml><Encrypt>a</Encrypt>"),
            EnvelopeError::Malformed { .. }
        ));
        assert!(matches!(
            env("<xml></xml><xml></xml>"),
            EnvelopeError::Malformed { .. }
        ));
        assert!(matches!(env(""), EnvelopeError::Malformed { .. }));
        assert!(matches!(env("success"), EnvelopeError::Malformed { .. }));
        assert!(matches!(
            env("<xml><Encrypt>&unknown;</Encrypt></xml>"),
            EnvelopeError::Malformed { .. }
        ));
        assert!(matches!(
            env("<xml><Encrypt>a<b/></Encrypt></xml>"),
            EnvelopeError::Malformed { .. }
        ));
        assert_eq!(
            parse_envelope(&[b'<', 0xff, b'>']),
            Err(CryptoError::Envelope(EnvelopeError::NotUtf8))
        );
    }
}
