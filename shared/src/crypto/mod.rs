//! WeChat message crypto ("WXBizMsgCrypt"): signatures, the AES-256-CBC cipher with 32-byte PKCS#7
//! padding, and the encrypted reply envelope. See PROTOCOL.md §2 of the project notes.

mod key;

pub use key::{AesKey, InvalidAesKey};

use subtle::ConstantTimeEq;

/// Constant-time equality of two byte strings (the length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
