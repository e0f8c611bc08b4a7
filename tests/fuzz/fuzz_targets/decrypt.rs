//! `MessageCrypto::decrypt` with a fixed key, previous key and appid on arbitrary ciphertext.
//!
//! The first byte picks the form: even, the rest is raw ciphertext that the target base64-encodes
//! (so the fuzzer reaches the padding, length and appid checks); odd, the rest is the `Encrypt`
//! text itself. Whenever decryption succeeds, re-encrypting the message with the same key and the
//! same 16 random bytes decrypts to the same message, and gives back the very same ciphertext
//! when the original padding was the canonical one.
#![no_main]

use aes::Aes256;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use wxcomponent::MessageCrypto;
use wxcomponent::crypto::{AesKey, decode_ciphertext, decrypt_message, encrypt_message};
use wxcomponent_fuzz::{decrypt_config, decrypt_crypto, key};

struct Keys {
    crypto: MessageCrypto,
    current: AesKey,
    previous: AesKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        crypto: decrypt_crypto(),
        current: key(decrypt_config::ENCODING_AES_KEY),
        previous: key(decrypt_config::PREVIOUS_ENCODING_AES_KEY),
    })
}

/// The 16 random bytes at the front of the plaintext: the first CBC block, decrypted.
fn random16(key: &AesKey, ciphertext: &[u8]) -> [u8; 16] {
    let mut block = [0u8; 16];
    block.copy_from_slice(&ciphertext[..16]);
    cbc::Decryptor::<Aes256>::new(key.bytes().into(), (&key.iv()).into())
        .decrypt_block((&mut block).into());
    block
}

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let encrypt = if form % 2 == 0 {
        STANDARD.encode(rest)
    } else {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    };
    let keys = keys();
    let Ok(message) = keys.crypto.decrypt(&encrypt) else {
        return;
    };

    let appid = decrypt_config::APPID;
    let key = if decrypt_message(&keys.current, appid, &encrypt).is_ok() {
        &keys.current
    } else {
        &keys.previous
    };
    let ciphertext = decode_ciphertext(&encrypt).expect("it decrypted, so it decodes");
    let random = random16(key, &ciphertext);
    let again = encrypt_message(key, appid, &random, &message)
        .expect("a message that decrypted fits when encrypted again");
    assert_eq!(
        decrypt_message(key, appid, &again).as_deref(),
        Ok(message.as_str())
    );
    if again.len() == encrypt.len() {
        assert_eq!(
            again, encrypt,
            "same length, so the same padding and the same bytes"
        );
    }
});
