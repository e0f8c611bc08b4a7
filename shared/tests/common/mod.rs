//! Helpers shared by the integration tests: the vector fixtures and hand-made ciphertexts.
#![allow(dead_code)] // each test binary uses a different subset

use aes::Aes256;
use aes::cipher::consts::U16;
use aes::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use wxcomponent::Secret;
use wxcomponent::crypto::{AesKey, MessageCrypto, PushQuery, msg_signature, plain_signature};

#[derive(Debug, Deserialize)]
pub struct Vectors {
    pub decrypt: Vec<DecryptVector>,
    pub encrypt: Vec<EncryptVector>,
    pub negative: Vec<NegativeVector>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DecryptVector {
    pub id: String,
    pub token: String,
    pub encoding_aes_key: String,
    pub appid: String,
    pub timestamp: String,
    pub nonce: String,
    pub encrypt: String,
    pub msg_signature: String,
    pub plaintext: String,
    pub pad_byte: u8,
    pub signature: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EncryptVector {
    pub id: String,
    pub token: Option<String>,
    pub encoding_aes_key: String,
    pub appid: String,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub random16: String,
    pub plaintext: String,
    pub encrypt: String,
    pub msg_signature: Option<String>,
    pub reply_xml: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NegativeVector {
    pub id: String,
    pub based_on: String,
    pub change: String,
    pub expect: String,
}

/// The vectors, embedded at compile time so tests never read outside the crate.
pub fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../fixtures/vectors.json")).expect("fixture parses")
}

pub fn decrypt_vector(id: &str) -> DecryptVector {
    vectors()
        .decrypt
        .into_iter()
        .find(|v| v.id == id)
        .expect("vector exists")
}

pub fn encrypt_vector(id: &str) -> EncryptVector {
    vectors()
        .encrypt
        .into_iter()
        .find(|v| v.id == id)
        .expect("vector exists")
}

pub fn key(encoding_aes_key: &str) -> AesKey {
    AesKey::from_encoding_aes_key(encoding_aes_key).expect("valid key")
}

pub fn random16(s: &str) -> [u8; 16] {
    s.as_bytes().try_into().expect("16 bytes")
}

impl DecryptVector {
    pub fn crypto(&self) -> MessageCrypto {
        MessageCrypto::new(
            Secret::new(self.token.clone()),
            self.appid.clone(),
            key(&self.encoding_aes_key),
            None,
        )
    }

    pub fn query(&self) -> PushQuery {
        PushQuery {
            timestamp: Some(self.timestamp.clone()),
            nonce: Some(self.nonce.clone()),
            msg_signature: Some(self.msg_signature.clone()),
            signature: self.signature.clone(),
            encrypt_type: Some("aes".into()),
        }
    }

    /// The vector as a message push body (CDATA, the way WeChat writes it).
    pub fn body(&self) -> String {
        envelope(&self.encrypt)
    }
}

pub fn envelope(encrypt: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>\
         <Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
}

/// AES-256-CBC over `bytes` (a multiple of 16) with no padding added: for building broken messages.
pub fn seal_raw(key: &AesKey, bytes: &[u8]) -> String {
    assert_eq!(bytes.len() % 16, 0, "raw plaintext must be whole blocks");
    let mut buf = bytes.to_vec();
    let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
    cbc::Encryptor::<Aes256>::new(key.bytes().into(), (&key.iv()).into()).encrypt_blocks(blocks);
    STANDARD.encode(&buf)
}

/// AES-256-CBC decryption of a base64 ciphertext, padding left in place.
pub fn open_raw(key: &AesKey, encrypt: &str) -> Vec<u8> {
    let mut buf = STANDARD.decode(encrypt).expect("base64");
    let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(&mut buf);
    cbc::Decryptor::<Aes256>::new(key.bytes().into(), (&key.iv()).into()).decrypt_blocks(blocks);
    buf
}

/// `random || len || msg || appid` with the given declared length (not necessarily the true one).
pub fn frame(declared_len: u32, msg: &[u8], appid: &str) -> Vec<u8> {
    let mut f = vec![7u8; 16];
    f.extend_from_slice(&declared_len.to_be_bytes());
    f.extend_from_slice(msg);
    f.extend_from_slice(appid.as_bytes());
    f
}

/// WeChat's padding: to a multiple of 32 with 1..=32 bytes of the pad length.
pub fn pad32(mut bytes: Vec<u8>) -> Vec<u8> {
    let pad = 32 - bytes.len() % 32;
    bytes.resize(bytes.len() + pad, pad as u8);
    bytes
}

/// The query of a push whose Encrypt value is `encrypt`, signed with `token`.
pub fn signed_query(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> PushQuery {
    PushQuery {
        timestamp: Some(timestamp.into()),
        nonce: Some(nonce.into()),
        msg_signature: Some(msg_signature(token, timestamp, nonce, encrypt)),
        signature: Some(plain_signature(token, timestamp, nonce)),
        encrypt_type: Some("aes".into()),
    }
}
