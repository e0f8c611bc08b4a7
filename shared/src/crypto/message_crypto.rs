//! [`MessageCrypto`]: one component's token, appid and keys, and the full checks of a push or reply.

use super::envelope::{parse_envelope, push_envelope, reply_envelope};
use super::signature::{msg_signature, plain_signature, verify_msg_signature};
use super::{AesKey, CryptoError, SignatureKind, cipher, signature::verify_plain_signature};
use crate::config::MessageConfig;
use crate::ids::ComponentAppId;
use crate::secret::Secret;

/// The query parameters of a push that the checks use. Build it with [`PushQuery::from_pairs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushQuery {
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub msg_signature: Option<String>,
    /// Checked when present.
    pub signature: Option<String>,
    /// When present it must be `aes`.
    pub encrypt_type: Option<String>,
}

impl PushQuery {
    /// Pick the known parameters out of decoded query pairs; the first occurrence wins.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut q = Self::default();
        for (k, v) in pairs {
            let slot = match k.as_ref() {
                "timestamp" => &mut q.timestamp,
                "nonce" => &mut q.nonce,
                "msg_signature" => &mut q.msg_signature,
                "signature" => &mut q.signature,
                "encrypt_type" => &mut q.encrypt_type,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into());
            }
        }
        q
    }
}

/// A push that passed every check. `Debug` leaves out the plaintext: it is the decrypted push.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedPush {
    /// The decrypted message (XML of the event or message).
    pub plaintext: String,
    /// `<AppId>` of the envelope, if any (unauthenticated; the plaintext is what counts).
    pub envelope_app_id: Option<String>,
    /// `<ToUserName>` of the envelope, if any (unauthenticated).
    pub envelope_to_user_name: Option<String>,
}

impl std::fmt::Debug for VerifiedPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedPush")
            .field("plaintext", &"[redacted]")
            .field("envelope_app_id", &self.envelope_app_id)
            .field("envelope_to_user_name", &self.envelope_to_user_name)
            .finish()
    }
}

/// A push ready to send: query pairs in WeChat's order and the XML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPush {
    pub query: Vec<(&'static str, String)>,
    pub body: String,
}

/// The message crypto of one component: its token, its appid (the plaintext trailer) and its
/// current and, during a rotation, previous EncodingAESKey.
#[derive(Debug, Clone)]
pub struct MessageCrypto {
    token: Secret,
    component_appid: String,
    current: AesKey,
    previous: Option<AesKey>,
}

impl MessageCrypto {
    pub fn new(
        token: Secret,
        component_appid: impl Into<String>,
        current: AesKey,
        previous: Option<AesKey>,
    ) -> Self {
        Self {
            token,
            component_appid: component_appid.into(),
            current,
            previous,
        }
    }

    /// The crypto of `component_appid` with the keys `ticket-callback` is configured with.
    pub fn from_config(component_appid: &ComponentAppId, config: &MessageConfig) -> Self {
        Self::new(
            config.token.clone(),
            component_appid.as_str(),
            config.aes_key.clone(),
            config.aes_key_previous.clone(),
        )
    }

    pub fn component_appid(&self) -> &str {
        &self.component_appid
    }

    /// Decrypt an `Encrypt` value: current key first, the previous one only if that fails.
    /// Base64 and length problems do not depend on the key and are reported at once.
    pub fn decrypt(&self, encrypt: &str) -> Result<String, CryptoError> {
        let ciphertext = cipher::decode_ciphertext(encrypt)?;
        match cipher::decrypt_ciphertext(&self.current, &self.component_appid, &ciphertext) {
            Ok(msg) => Ok(msg),
            Err(first) => match &self.previous {
                // The current key's error is the one worth reporting.
                Some(previous) => {
                    cipher::decrypt_ciphertext(previous, &self.component_appid, &ciphertext)
                        .map_err(|_| first)
                }
                None => Err(first),
            },
        }
    }

    /// Encrypt with the current key; returns the base64 `Encrypt` value.
    pub fn encrypt(&self, plaintext: &str, random16: &[u8; 16]) -> Result<String, CryptoError> {
        cipher::encrypt_message(&self.current, &self.component_appid, random16, plaintext)
    }

    /// Check an `Encrypt` value's `msg_signature` and decrypt it.
    pub fn verify_and_decrypt(
        &self,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
        received_msg_signature: &str,
    ) -> Result<String, CryptoError> {
        if !verify_msg_signature(
            self.token.expose(),
            timestamp,
            nonce,
            encrypt,
            received_msg_signature,
        ) {
            return Err(CryptoError::Signature(SignatureKind::MsgSignature));
        }
        self.decrypt(encrypt)
    }

    /// Every check of an incoming push: parameters, body size, envelope, `msg_signature`,
    /// `signature` (if sent), then decryption and the appid trailer.
    pub fn open_push(&self, query: &PushQuery, body: &[u8]) -> Result<VerifiedPush, CryptoError> {
        let timestamp = required(&query.timestamp, "timestamp")?;
        let nonce = required(&query.nonce, "nonce")?;
        let msg_sig = required(&query.msg_signature, "msg_signature")?;
        if query.encrypt_type.as_deref().is_some_and(|t| t != "aes") {
            return Err(CryptoError::UnsupportedEncryptType);
        }
        let envelope = parse_envelope(body)?;
        if !verify_msg_signature(
            self.token.expose(),
            timestamp,
            nonce,
            &envelope.encrypt,
            msg_sig,
        ) {
            return Err(CryptoError::Signature(SignatureKind::MsgSignature));
        }
        if let Some(sig) = &query.signature
            && !verify_plain_signature(self.token.expose(), timestamp, nonce, sig)
        {
            return Err(CryptoError::Signature(SignatureKind::Signature));
        }
        let plaintext = self.decrypt(&envelope.encrypt)?;
        Ok(VerifiedPush {
            plaintext,
            envelope_app_id: envelope.app_id,
            envelope_to_user_name: envelope.to_user_name,
        })
    }

    /// [`open_push`](Self::open_push), keeping only the plaintext.
    pub fn decrypt_push(&self, query: &PushQuery, body: &[u8]) -> Result<String, CryptoError> {
        self.open_push(query, body).map(|p| p.plaintext)
    }

    /// The encrypted passive reply envelope for `plaintext`.
    pub fn encrypt_reply(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
        random16: &[u8; 16],
    ) -> Result<String, CryptoError> {
        let encrypt = self.encrypt(plaintext, random16)?;
        let sig = msg_signature(self.token.expose(), timestamp, nonce, &encrypt);
        Ok(reply_envelope(&encrypt, &sig, timestamp, nonce))
    }

    /// Verify and decrypt an encrypted reply envelope (its own MsgSignature, TimeStamp and Nonce).
    pub fn decrypt_reply(&self, body: &[u8]) -> Result<String, CryptoError> {
        let envelope = parse_envelope(body)?;
        let timestamp = required(&envelope.timestamp, "TimeStamp")?;
        let nonce = required(&envelope.nonce, "Nonce")?;
        let sig = required(&envelope.msg_signature, "MsgSignature")?;
        self.verify_and_decrypt(timestamp, nonce, &envelope.encrypt, sig)
    }

    /// A push exactly as WeChat sends it: to the component (`<AppId>` envelope) when `to` is
    /// `None`, else to an authorizer's message URL (`<ToUserName>` envelope).
    pub fn build_push(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
        random16: &[u8; 16],
        to: Option<&str>,
    ) -> Result<OutgoingPush, CryptoError> {
        let encrypt = self.encrypt(plaintext, random16)?;
        let token = self.token.expose();
        let query = vec![
            ("signature", plain_signature(token, timestamp, nonce)),
            ("timestamp", timestamp.to_owned()),
            ("nonce", nonce.to_owned()),
            ("encrypt_type", "aes".to_owned()),
            (
                "msg_signature",
                msg_signature(token, timestamp, nonce, &encrypt),
            ),
        ];
        let body = push_envelope(&encrypt, &self.component_appid, to);
        Ok(OutgoingPush { query, body })
    }
}

fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, CryptoError> {
    value.as_deref().ok_or(CryptoError::MissingParameter(name))
}

/// A push nonce as WeChat makes them: 10 random decimal digits.
pub fn random_nonce() -> String {
    use rand::RngExt as _;
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn a_verified_push_never_shows_its_plaintext_in_debug() {
        let push = VerifiedPush {
            plaintext: "<xml><AuthorizationCode>queryauthcode@@@secret</AuthorizationCode></xml>"
                .to_owned(),
            envelope_app_id: Some("wxcomponent".to_owned()),
            envelope_to_user_name: None,
        };
        let debug = format!("{push:?}");
        assert!(!debug.contains("queryauthcode@@@secret"), "{debug}");
        assert!(
            debug.contains("[redacted]") && debug.contains("wxcomponent"),
            "{debug}"
        );
    }
}
