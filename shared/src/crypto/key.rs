//! The EncodingAESKey: 43 base64 characters in the console, 32 key bytes once decoded.

use base64::Engine as _;
use std::fmt;

/// Why an EncodingAESKey was refused. Never includes the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAesKey {
    #[error("EncodingAESKey must be exactly 43 characters, got {0}")]
    Length(usize),
    #[error("EncodingAESKey is not valid base64")]
    Base64,
}

/// A decoded 32-byte AES key. The IV is its first 16 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey([u8; 32]);

impl AesKey {
    /// Decode the console's 43-character EncodingAESKey (`base64(key + "=")`).
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<Self, InvalidAesKey> {
        let len = encoding_aes_key.chars().count();
        if len != 43 || !encoding_aes_key.is_ascii() {
            return Err(InvalidAesKey::Length(len));
        }
        let mut padded = String::with_capacity(44);
        padded.push_str(encoding_aes_key);
        padded.push('=');
        // The 43rd character carries 2 bits that fall outside the 32 bytes; like every other
        // implementation (Tencent's samples included) we ignore them instead of refusing the key.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let bytes = engine.decode(padded).map_err(|_| InvalidAesKey::Base64)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| InvalidAesKey::Base64)?;
        Ok(Self(key))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 43-character console form of this key.
    pub fn to_encoding_aes_key(&self) -> String {
        let mut s = base64::engine::general_purpose::STANDARD.encode(self.0);
        s.pop(); // the trailing '='
        s
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_43_character_key_decodes_to_32_bytes_and_back() {
        let k =
            AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
        assert_eq!(k.bytes().len(), 32);
        assert_eq!(
            k.to_encoding_aes_key(),
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFE"
        );
        let again = AesKey::from_encoding_aes_key(&k.to_encoding_aes_key()).unwrap();
        assert_eq!(again, k);
    }

    #[test]
    fn keys_of_the_wrong_length_or_alphabet_are_refused_without_echoing_them() {
        assert_eq!(
            AesKey::from_encoding_aes_key("short"),
            Err(InvalidAesKey::Length(5))
        );
        let bad = "abcdefghijklmnopqrstuvwxyz0123456789ABCDE!G";
        assert_eq!(
            AesKey::from_encoding_aes_key(bad),
            Err(InvalidAesKey::Base64)
        );
        let debug = format!("{:?}", AesKey::from_bytes([7; 32]));
        assert!(!debug.contains('7'));
    }
}
