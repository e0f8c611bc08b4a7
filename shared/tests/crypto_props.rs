//! Properties of the message crypto: round trips, tamper detection, and no panics on any input.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{envelope, signed_query};
use proptest::prelude::*;
use wxcomponent::Secret;
use wxcomponent::crypto::{AesKey, MessageCrypto, PushQuery};

const TOKEN: &str = "prop-token";

fn crypto_for(key: [u8; 32], previous: Option<[u8; 32]>, appid: &str) -> MessageCrypto {
    MessageCrypto::new(
        Secret::new(TOKEN),
        appid,
        AesKey::from_bytes(key),
        previous.map(AesKey::from_bytes),
    )
}

fn appid() -> impl Strategy<Value = String> {
    "wx[0-9a-f]{16}"
}

/// Arbitrary text, with CJK and the empty string well represented.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        any::<String>(),
        "[\u{4e00}-\u{9fff}a-z<>/ ]{0,200}",
        "\\PC{0,400}",
    ]
}

/// A message whose frame (16 + 4 + msg + appid) is an exact multiple of 32, so a whole block of
/// padding follows it.
fn aligned_message(appid_len: usize) -> impl Strategy<Value = String> {
    (0usize..8).prop_map(move |k| {
        let base = 20 + appid_len;
        let len = (32 * (k + 1) - base % 32) % 32 + 32 * k;
        "m".repeat(len)
    })
}

/// One byte of a string replaced by a different printable ASCII byte.
fn change_one_byte(s: &str, index: usize, replacement: u8) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let i = index % bytes.len();
    let mut r = b'!' + replacement % 94;
    if r == bytes[i] {
        r = if r == b'~' { b'!' } else { r + 1 };
    }
    bytes[i] = r;
    String::from_utf8(bytes).expect("ASCII input stays UTF-8")
}

fn push_of(crypto: &MessageCrypto, msg: &str, ts: &str, nonce: &str) -> (PushQuery, String) {
    let push = crypto.build_push(msg, ts, nonce, &[3; 16], None).unwrap();
    let q = PushQuery::from_pairs(push.query.iter().map(|(k, v)| (*k, v.clone())));
    (q, push.body)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_message_round_trips_through_a_push_and_a_reply(
        key in any::<[u8; 32]>(),
        random in any::<[u8; 16]>(),
        appid in appid(),
        msg in message(),
        ts in "[0-9]{10}",
        nonce in "[0-9a-zA-Z]{1,32}",
    ) {
        let crypto = crypto_for(key, None, &appid);
        let push = crypto.build_push(&msg, &ts, &nonce, &random, None).unwrap();
        let q = PushQuery::from_pairs(push.query.iter().map(|(k, v)| (*k, v.clone())));
        prop_assert_eq!(crypto.decrypt_push(&q, push.body.as_bytes()).unwrap(), msg.clone());
        let reply = crypto.encrypt_reply(&msg, &ts, &nonce, &random).unwrap();
        prop_assert_eq!(crypto.decrypt_reply(reply.as_bytes()).unwrap(), msg);
    }

    #[test]
    fn messages_that_fill_whole_32_byte_blocks_round_trip(
        key in any::<[u8; 32]>(),
        (appid, msg) in appid().prop_flat_map(|a| { let n = a.len(); (Just(a), aligned_message(n)) }),
    ) {
        prop_assert_eq!((20 + msg.len() + appid.len()) % 32, 0);
        let crypto = crypto_for(key, None, &appid);
        let encrypt = crypto.encrypt(&msg, &[0; 16]).unwrap();
        // The ciphertext carries a full extra block of padding.
        prop_assert_eq!(STANDARD.decode(&encrypt).unwrap().len(), 20 + msg.len() + appid.len() + 32);
        prop_assert_eq!(crypto.decrypt(&encrypt).unwrap(), msg);
    }

    #[test]
    fn messages_under_the_previous_key_still_open(
        key in any::<[u8; 32]>(),
        old in any::<[u8; 32]>(),
        msg in message(),
    ) {
        prop_assume!(key != old);
        let sender = crypto_for(old, None, "wxappid");
        let receiver = crypto_for(key, Some(old), "wxappid");
        let (q, body) = push_of(&sender, &msg, "1700000000", "42");
        prop_assert_eq!(receiver.decrypt_push(&q, body.as_bytes()).unwrap(), msg);
    }

    #[test]
    fn any_single_byte_change_to_the_ciphertext_is_rejected(
        msg in message(),
        index in any::<usize>(),
        delta in 1u8..=255,
    ) {
        let crypto = crypto_for([9; 32], None, "wxappid");
        let (q, body) = push_of(&crypto, &msg, "1700000000", "42");
        let encrypt = crypto.encrypt(&msg, &[3; 16]).unwrap();
        let mut raw = STANDARD.decode(&encrypt).unwrap();
        let i = index % raw.len();
        raw[i] ^= delta;
        let tampered = STANDARD.encode(&raw);
        let tampered_body = body.replace(&encrypt, &tampered);
        prop_assert!(crypto.decrypt_push(&q, tampered_body.as_bytes()).is_err());
    }

    #[test]
    fn any_single_byte_change_to_signature_timestamp_or_nonce_is_rejected(
        msg in message(),
        which in 0usize..4,
        index in any::<usize>(),
        replacement in any::<u8>(),
    ) {
        let crypto = crypto_for([9; 32], None, "wxappid");
        let (mut q, body) = push_of(&crypto, &msg, "1700000000", "4242424242");
        let field = match which {
            0 => &mut q.msg_signature,
            1 => &mut q.signature,
            2 => &mut q.timestamp,
            _ => &mut q.nonce,
        };
        let changed = change_one_byte(field.as_deref().unwrap(), index, replacement);
        *field = Some(changed);
        prop_assert!(crypto.decrypt_push(&q, body.as_bytes()).is_err());
    }

    #[test]
    fn arbitrary_bodies_and_queries_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        ts in proptest::option::of(any::<String>()),
        nonce in proptest::option::of(any::<String>()),
        sig in proptest::option::of(any::<String>()),
        plain_sig in proptest::option::of(any::<String>()),
        encrypt_type in proptest::option::of(any::<String>()),
    ) {
        let crypto = crypto_for([1; 32], Some([2; 32]), "wxappid");
        let q = PushQuery { timestamp: ts, nonce, msg_signature: sig, signature: plain_sig, encrypt_type };
        let _ = crypto.open_push(&q, &body);
        let _ = crypto.decrypt_reply(&body);
    }

    #[test]
    fn arbitrary_xml_like_bodies_never_panic(
        body in "(<xml>|</xml>|<Encrypt>|</Encrypt>|<!\\[CDATA\\[|\\]\\]>|<!DOCTYPE x>|&amp;|&#[0-9]{1,8};|&[a-z]{1,4};|<[a-zA-Z]{1,5}/?>|[a-zA-Z0-9+/=]{0,20}|<\\?x\\?>|<!--|-->){0,30}",
    ) {
        let crypto = crypto_for([1; 32], None, "wxappid");
        let _ = crypto.open_push(&signed_query(TOKEN, "1", "2", ""), body.as_bytes());
    }

    #[test]
    fn correctly_signed_garbage_ciphertexts_are_rejected_without_panicking(
        blocks in proptest::collection::vec(any::<[u8; 16]>(), 0..12),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let crypto = crypto_for([1; 32], Some([2; 32]), "wxappid");
        let mut raw: Vec<u8> = blocks.concat();
        raw.extend_from_slice(&extra);
        let encrypt = STANDARD.encode(&raw);
        let q = signed_query(TOKEN, "1700000000", "42", &encrypt);
        // A random ciphertext passes only if padding, length and the 7-byte appid all line up:
        // a chance below 2^-56.
        prop_assert!(crypto.decrypt_push(&q, envelope(&encrypt).as_bytes()).is_err());
    }
}
