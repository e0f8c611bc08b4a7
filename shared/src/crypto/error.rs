//! The one error type of message crypto: each variant names the check that failed.
//!
//! Messages never contain the token, a key, a plaintext or a ciphertext, so they are safe to log and
//! to print. XML errors carry only a byte position, not the parser's message, because that message
//! can quote pieces of the body.

/// Which signature of a push (or reply) did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// `msg_signature` (query) or `MsgSignature` (reply): covers token, timestamp, nonce and Encrypt.
    MsgSignature,
    /// The plain `signature` query parameter: covers token, timestamp and nonce.
    Signature,
}

impl std::fmt::Display for SignatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::MsgSignature => "msg_signature",
            Self::Signature => "signature",
        })
    }
}

/// Why an envelope (the XML around `<Encrypt>`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is not UTF-8")]
    NotUtf8,
    #[error("envelope contains a DOCTYPE/DTD, which is refused")]
    Dtd,
    #[error("envelope is malformed XML near byte {position}")]
    Malformed { position: u64 },
    #[error("envelope element <{0}> appears more than once")]
    Duplicate(&'static str),
    #[error("envelope has no <Encrypt> element")]
    MissingEncrypt,
}

/// A failed message crypto check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("missing parameter `{0}`")]
    MissingParameter(&'static str),
    #[error("unsupported encrypt_type (only `aes` is accepted)")]
    UnsupportedEncryptType,
    #[error("{0} does not match")]
    Signature(SignatureKind),
    #[error("ciphertext is not valid standard base64")]
    Base64,
    #[error("ciphertext length {len} is not a non-zero multiple of 16 within {max} bytes")]
    Length { len: usize, max: usize },
    #[error("decrypted data has invalid padding")]
    Padding,
    #[error("decrypted message length does not fit the decrypted data")]
    MessageLength,
    #[error("decrypted data ends with a different appid than expected")]
    AppId,
    #[error("decrypted message is not UTF-8")]
    Utf8,
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("body of {len} bytes exceeds the {max} byte limit")]
    BodyTooLarge { len: usize, max: usize },
    #[error("message of {len} bytes is too large to encrypt (at most {max} bytes)")]
    MessageTooLarge { len: usize, max: usize },
}
