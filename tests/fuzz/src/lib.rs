//! What the fuzz targets share: the fixed crypto configurations (taken from
//! `shared/tests/fixtures/vectors.json`), the ticket-callback request the fuzzer describes, the
//! in-memory wiring of that handler, and the seeds (written by `examples/write_seeds.rs`).

pub mod callback;
pub mod request;
pub mod seeds;

use wxcomponent::crypto::AesKey;
use wxcomponent::{MessageCrypto, Secret};

/// The `decrypt` target's key and appid: vectors V6 and E1 (so both decrypt), with vector V4's key
/// as the previous key of a rotation.
pub mod decrypt_config {
    pub const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    pub const PREVIOUS_ENCODING_AES_KEY: &str = "mNnY5GekpChwqhy2c4NBH90g3hND6GeI4gii2YCvKLY";
    pub const APPID: &str = "wxb11529c136998cb6";
}

/// The `ticket_callback` target's component: vector V2 (a `component_verify_ticket`), with the
/// clock at V2's timestamp so that the vector's own push is accepted as it stands.
pub mod callback_config {
    pub const TOKEN: &str = "senparc";
    pub const ENCODING_AES_KEY: &str = "0123456789012345678901234567890123456789012";
    pub const APPID: &str = "wxbbd3f07e2945cf2a";
    pub const NOW: i64 = 1_436_881_222;
}

/// The message crypto of the `decrypt` target.
pub fn decrypt_crypto() -> MessageCrypto {
    MessageCrypto::new(
        Secret::new("unused"),
        decrypt_config::APPID,
        key(decrypt_config::ENCODING_AES_KEY),
        Some(key(decrypt_config::PREVIOUS_ENCODING_AES_KEY)),
    )
}

/// The message crypto of the `ticket_callback` target's component.
pub fn callback_crypto() -> MessageCrypto {
    MessageCrypto::new(
        Secret::new(callback_config::TOKEN),
        callback_config::APPID,
        key(callback_config::ENCODING_AES_KEY),
        None,
    )
}

/// A key of the configurations above (constants, so decoding cannot fail).
pub fn key(encoding_aes_key: &str) -> AesKey {
    AesKey::from_encoding_aes_key(encoding_aes_key).expect("the fixed keys are valid")
}
