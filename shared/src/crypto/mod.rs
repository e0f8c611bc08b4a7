//! WeChat message crypto ("WXBizMsgCrypt"): signatures, the AES-256-CBC cipher with 32-byte PKCS#7
//! padding, the XML envelopes, and [`MessageCrypto`] which runs every check of a push or reply.
//! The scheme is described in docs/wechat-protocol.md, "Message encryption".

mod cipher;
mod envelope;
mod error;
mod key;
mod message_crypto;
mod signature;

pub use cipher::{
    MAX_CIPHERTEXT_LEN, decode_ciphertext, decrypt_ciphertext, decrypt_message, encrypt_message,
    random16,
};
pub use envelope::{Envelope, MAX_BODY_LEN, parse_envelope, push_envelope, reply_envelope};
pub use error::{CryptoError, EnvelopeError, SignatureKind};
pub use key::{AesKey, InvalidAesKey};
pub use message_crypto::{MessageCrypto, OutgoingPush, PushQuery, VerifiedPush, random_nonce};
pub use signature::{
    msg_signature, plain_signature, sha1_signature, verify_msg_signature, verify_plain_signature,
};

use subtle::ConstantTimeEq;

/// Constant-time equality of two byte strings (the length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
