//! The XML envelopes around `<Encrypt>`: reading pushes and replies, writing replies and pushes.
//!
//! Reading goes through the crate's one XML reader ([`crate::xml`]) and picks out a few known
//! children of the root. Only `<Encrypt>` is trusted (after its signature checks); the rest is
//! reported for routing and logs. A DOCTYPE is refused outright: no DTD, so no entity expansion.

use super::{CryptoError, EnvelopeError};
use crate::xml::{Duplicated, Fields, XmlError};

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

/// The envelope's fields: children of the root.
const ENCRYPT: &str = "Encrypt";
const APP_ID: &str = "AppId";
const TO_USER_NAME: &str = "ToUserName";
const MSG_SIGNATURE: &str = "MsgSignature";
const TIME_STAMP: &str = "TimeStamp";
const NONCE: &str = "Nonce";

impl From<XmlError> for EnvelopeError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::DtdRefused => EnvelopeError::Dtd,
            XmlError::Malformed { position, .. } | XmlError::Shape { position, .. } => {
                EnvelopeError::Malformed { position }
            }
        }
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
    let fields = Fields::read(text).map_err(EnvelopeError::from)?;
    let field = |name: &'static str| -> Result<Option<String>, EnvelopeError> {
        // Markup inside one of these scalar values is never valid.
        if let Some(position) = fields.markup_in(name) {
            return Err(EnvelopeError::Malformed { position });
        }
        fields
            .get(name)
            .map(|value| value.map(str::to_owned))
            .map_err(|Duplicated| EnvelopeError::Duplicate(name))
    };
    let encrypt = field(ENCRYPT)?.ok_or(EnvelopeError::MissingEncrypt)?;
    Ok(Envelope {
        encrypt,
        app_id: field(APP_ID)?,
        to_user_name: field(TO_USER_NAME)?,
        msg_signature: field(MSG_SIGNATURE)?,
        timestamp: field(TIME_STAMP)?,
        nonce: field(NONCE)?,
    })
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
    fn an_envelope_is_read_by_the_same_rules_as_the_push_inside_it() {
        // A DOCTYPE is refused as such even when it is never closed, as for the events.
        for body in [
            "<!DOCTYPE xml [ <!ENTITY a \"b\">",
            "<xml><Encrypt>a</Encrypt></xml><!DOCTYPE x>",
        ] {
            assert_eq!(
                parse(body),
                Err(CryptoError::Envelope(EnvelopeError::Dtd)),
                "{body}"
            );
        }
        // WeChat's envelopes have an `<xml>` root; another root is not an envelope.
        assert!(matches!(
            parse("<root><Encrypt>a</Encrypt></root>"),
            Err(CryptoError::Envelope(EnvelopeError::Malformed { .. }))
        ));
        // Empty elements read like empty ones written out.
        let env = parse("<xml><Encrypt>a</Encrypt><Nonce/></xml>").unwrap();
        assert_eq!(env.nonce.as_deref(), Some(""));
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
