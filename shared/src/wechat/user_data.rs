//! Decrypting the user data a mini program hands over (`encryptedData` + `iv` from `wx.getUserInfo`,
//! `getPhoneNumber` and the like) with the user's session key from
//! [`WechatClient::jscode2session`](super::WechatClient::jscode2session).
//!
//! AES-128-CBC with key = base64(session_key) and IV = base64(iv), both 16 bytes, and **standard**
//! PKCS#7 padding to 16 bytes. This is not the push cipher of [`crate::crypto`] (AES-256, padding to
//! 32 bytes, a random prefix and an appid trailer): each unpadder refuses the other's valid input.
//! The plaintext is JSON whose `watermark.appid` must be the mini program's appid.

use crate::secret::Secret;
use aes::Aes128;
use aes::cipher::consts::U16;
use aes::cipher::{Array, BlockModeDecrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const BLOCK: usize = 16;
/// Far above any real payload; refuses huge inputs before allocating for them.
const MAX_ENCRYPTED_LEN: usize = 64 * 1024;

/// Why user data could not be decrypted. Never carries the key, the data or the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    #[error("the session key is not base64 of 16 bytes")]
    SessionKey,
    #[error("the iv is not base64 of 16 bytes")]
    Iv,
    #[error("the encrypted data is not base64 of whole 16-byte blocks (or is too long)")]
    Ciphertext,
    /// Wrong key or iv, tampered data, or another padding scheme.
    #[error("the decrypted data has invalid PKCS#7 padding")]
    Padding,
    #[error("the decrypted data is not a JSON object")]
    Json,
    #[error("the data has no watermark.appid")]
    MissingWatermark,
    #[error("the data was encrypted for another appid")]
    AppIdMismatch,
}

/// Decrypt `encrypted_data` and check that its watermark names `expected_appid`.
pub fn decrypt_user_data(
    session_key: &Secret,
    encrypted_data: &str,
    iv: &str,
    expected_appid: &str,
) -> Result<serde_json::Value, UserDataError> {
    let key: [u8; BLOCK] = decode16(session_key.expose()).ok_or(UserDataError::SessionKey)?;
    let iv: [u8; BLOCK] = decode16(iv).ok_or(UserDataError::Iv)?;
    if encrypted_data.len() > MAX_ENCRYPTED_LEN.div_ceil(3) * 4 {
        return Err(UserDataError::Ciphertext);
    }
    let mut buf = STANDARD
        .decode(encrypted_data.trim())
        .map_err(|_| UserDataError::Ciphertext)?;
    if buf.is_empty() || buf.len() % BLOCK != 0 {
        return Err(UserDataError::Ciphertext);
    }
    let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
    cbc::Decryptor::<Aes128>::new((&key).into(), (&iv).into()).decrypt_blocks(blocks);
    let plain = unpad_pkcs7_16(&buf)?;
    let value: serde_json::Value =
        serde_json::from_slice(plain).map_err(|_| UserDataError::Json)?;
    if !value.is_object() {
        return Err(UserDataError::Json);
    }
    let appid = value
        .pointer("/watermark/appid")
        .and_then(serde_json::Value::as_str)
        .ok_or(UserDataError::MissingWatermark)?;
    if appid != expected_appid {
        return Err(UserDataError::AppIdMismatch);
    }
    Ok(value)
}

fn decode16(text: &str) -> Option<[u8; BLOCK]> {
    STANDARD.decode(text.trim()).ok()?.try_into().ok()
}

/// Standard PKCS#7 for 16-byte blocks: the last byte is 1..=16 and that many bytes equal it.
pub fn unpad_pkcs7_16(buf: &[u8]) -> Result<&[u8], UserDataError> {
    let pad = usize::from(*buf.last().ok_or(UserDataError::Padding)?);
    if !(1..=BLOCK).contains(&pad) || pad > buf.len() {
        return Err(UserDataError::Padding);
    }
    let (plain, padding) = buf.split_at(buf.len() - pad);
    if padding.iter().any(|&b| usize::from(b) != pad) {
        return Err(UserDataError::Padding);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockModeEncrypt;

    // WeChat's documented demo (the WXBizDataCrypt samples of the open-data decryption docs).
    const APPID: &str = "wx4f4bc4dec97d474b";
    const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
    const IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";
    const ENCRYPTED: &str = concat!(
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+",
        "3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6",
        "/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs",
        "8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns",
        "/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG",
        "20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
    );

    fn key() -> Secret {
        Secret::new(SESSION_KEY)
    }

    /// Encrypt `plain` (already padded) the way a mini program's data is encrypted.
    fn encrypt_padded(key: &[u8; 16], iv: &[u8; 16], mut padded: Vec<u8>) -> String {
        let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(&mut padded);
        assert!(rest.is_empty());
        cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_blocks(blocks);
        STANDARD.encode(padded)
    }

    fn pad_to(block: usize, plain: &[u8]) -> Vec<u8> {
        let pad = block - plain.len() % block;
        let mut out = plain.to_vec();
        out.resize(plain.len() + pad, pad as u8);
        out
    }

    #[test]
    fn wechats_demo_vector_decrypts_to_the_documented_user() {
        let data = decrypt_user_data(&key(), ENCRYPTED, IV, APPID).unwrap();
        assert_eq!(data["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
        assert_eq!(data["nickName"], "Band");
        assert_eq!(data["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
        assert_eq!(data["watermark"]["appid"], APPID);
        assert_eq!(data["watermark"]["timestamp"], 1477314187);
    }

    #[test]
    fn the_demo_uses_standard_16_byte_padding_which_the_push_cipher_cannot_produce() {
        // Decrypt without unpadding to look at the pad itself.
        let k: [u8; 16] = decode16(SESSION_KEY).unwrap();
        let iv: [u8; 16] = decode16(IV).unwrap();
        let mut buf = STANDARD.decode(ENCRYPTED).unwrap();
        let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
        cbc::Decryptor::<Aes128>::new((&k).into(), (&iv).into()).decrypt_blocks(blocks);
        let pad = usize::from(*buf.last().unwrap());
        let json_len = buf.len() - pad;
        assert!((1..=16).contains(&pad));
        assert_eq!(pad_to(16, &buf[..json_len]), buf);
        // Padded the push way (to 32 bytes) the same plaintext would be a different byte string.
        assert_ne!(pad_to(32, &buf[..json_len]), buf);
    }

    #[test]
    fn data_padded_the_32_byte_push_way_is_refused() {
        let k: [u8; 16] = decode16(SESSION_KEY).unwrap();
        let iv: [u8; 16] = decode16(IV).unwrap();
        // 40 bytes of JSON: 16-byte PKCS#7 adds 8, the push scheme adds 24 (more than a block).
        let plain = br#"{"watermark":{"appid":"wx4f4bc4dec97d"}}"#;
        assert_eq!(plain.len(), 40);
        let as_push = encrypt_padded(&k, &iv, pad_to(32, plain));
        assert_eq!(
            decrypt_user_data(&key(), &as_push, IV, "wx4f4bc4dec97d"),
            Err(UserDataError::Padding)
        );
        let standard = encrypt_padded(&k, &iv, pad_to(16, plain));
        assert!(decrypt_user_data(&key(), &standard, IV, "wx4f4bc4dec97d").is_ok());
    }

    #[test]
    fn a_push_message_padded_to_32_bytes_is_refused_by_the_16_byte_unpadder() {
        // Vector V6 (EasyWeChat's tests): a push whose pad byte is 21, valid for the push cipher.
        let aes_key = crate::crypto::AesKey::from_encoding_aes_key(
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        )
        .unwrap();
        let encrypt = concat!(
            "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrk",
            "TqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0Bt",
            "Iu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjP",
            "nmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfG",
            "KBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz",
            "+CQzBIuikA=="
        );
        assert!(crate::crypto::decrypt_message(&aes_key, "wxb11529c136998cb6", encrypt).is_ok());
        let mut buf = STANDARD.decode(encrypt).unwrap();
        let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
        cbc::Decryptor::<aes::Aes256>::new(aes_key.bytes().into(), (&aes_key.iv()).into())
            .decrypt_blocks(blocks);
        assert_eq!(buf.last(), Some(&21));
        assert_eq!(unpad_pkcs7_16(&buf), Err(UserDataError::Padding));
    }

    #[test]
    fn another_appid_a_bad_key_or_bad_inputs_are_typed_errors() {
        assert_eq!(
            decrypt_user_data(&key(), ENCRYPTED, IV, "wx0000000000000000"),
            Err(UserDataError::AppIdMismatch)
        );
        let other_key = Secret::new(STANDARD.encode([7u8; 16]));
        assert!(matches!(
            decrypt_user_data(&other_key, ENCRYPTED, IV, APPID),
            Err(UserDataError::Padding | UserDataError::Json)
        ));
        assert_eq!(
            decrypt_user_data(&Secret::new("c2hvcnQ="), ENCRYPTED, IV, APPID),
            Err(UserDataError::SessionKey)
        );
        assert_eq!(
            decrypt_user_data(&key(), ENCRYPTED, "not base64!", APPID),
            Err(UserDataError::Iv)
        );
        assert_eq!(
            decrypt_user_data(&key(), "AAAA", IV, APPID),
            Err(UserDataError::Ciphertext)
        );
    }

    #[test]
    fn pkcs7_16_accepts_1_to_16_and_nothing_else() {
        assert_eq!(unpad_pkcs7_16(&[b'a', 1]), Ok(&b"a"[..]));
        assert_eq!(unpad_pkcs7_16(&[16; 16]), Ok(&[][..]));
        assert_eq!(unpad_pkcs7_16(&[17; 32]), Err(UserDataError::Padding));
        assert_eq!(unpad_pkcs7_16(&[b'a', 0]), Err(UserDataError::Padding));
        assert_eq!(unpad_pkcs7_16(&[1, 2, 3, 3]), Err(UserDataError::Padding));
        assert_eq!(unpad_pkcs7_16(&[]), Err(UserDataError::Padding));
    }
}
