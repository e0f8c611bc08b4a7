//! Message crypto against the published vectors, and one negative test per check.

mod common;

use common::*;
use wxcomponent::Secret;
use wxcomponent::crypto::{
    CryptoError, EnvelopeError, MessageCrypto, PushQuery, SignatureKind, msg_signature,
    plain_signature, verify_msg_signature, verify_plain_signature,
};

const TOKEN: &str = "test-token-4711";
const APPID: &str = "wx0123456789abcdef";
const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const OLD_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const OTHER_KEY: &str = "mNnY5GekpChwqhy2c4NBH90g3hND6GeI4gii2YCvKLY";
const TS: &str = "1700000000";
const NONCE: &str = "1234567890";

fn crypto() -> MessageCrypto {
    MessageCrypto::new(Secret::new(TOKEN), APPID, key(KEY), None)
}

/// Sign a raw Encrypt value and run the full push checks on it.
fn open_signed(crypto: &MessageCrypto, encrypt: &str) -> Result<String, CryptoError> {
    crypto.decrypt_push(
        &signed_query(TOKEN, TS, NONCE, encrypt),
        envelope(encrypt).as_bytes(),
    )
}

fn open_frame_bytes(padded: &[u8]) -> Result<String, CryptoError> {
    open_signed(&crypto(), &seal_raw(&key(KEY), padded))
}

// ---- vectors ------------------------------------------------------------------------------

#[test]
fn every_decrypt_vector_yields_its_exact_plaintext_and_both_signatures_verify() {
    let vectors = vectors();
    assert!(vectors.decrypt.len() >= 4);
    for v in &vectors.decrypt {
        assert!(
            verify_msg_signature(
                &v.token,
                &v.timestamp,
                &v.nonce,
                &v.encrypt,
                &v.msg_signature
            ),
            "{}: msg_signature",
            v.id
        );
        if let Some(sig) = &v.signature {
            assert!(
                verify_plain_signature(&v.token, &v.timestamp, &v.nonce, sig),
                "{}: signature",
                v.id
            );
            assert_eq!(&plain_signature(&v.token, &v.timestamp, &v.nonce), sig);
        }
        assert_eq!(
            v.crypto().decrypt(&v.encrypt).unwrap(),
            v.plaintext,
            "{}",
            v.id
        );
    }
}

#[test]
fn every_decrypt_vector_opens_as_a_full_push() {
    for v in vectors().decrypt {
        let push = v
            .crypto()
            .open_push(&v.query(), v.body().as_bytes())
            .unwrap();
        assert_eq!(push.plaintext, v.plaintext, "{}", v.id);
        assert_eq!(
            push.envelope_to_user_name.as_deref(),
            Some("gh_0123456789ab")
        );
    }
}

#[test]
fn every_decrypt_vector_carries_the_stated_pad_byte() {
    for v in vectors().decrypt {
        let raw = open_raw(&key(&v.encoding_aes_key), &v.encrypt);
        let pad = usize::from(v.pad_byte);
        assert!(raw.len() >= pad);
        assert!(
            raw[raw.len() - pad..].iter().all(|&b| b == v.pad_byte),
            "{}: pad",
            v.id
        );
    }
    // V6 is the one a 16-byte PKCS#7 unpadder would refuse.
    assert_eq!(decrypt_vector("V6").pad_byte, 21);
}

#[test]
fn every_encrypt_vector_is_reproduced_byte_for_byte() {
    for e in vectors().encrypt {
        let token = e.token.clone().unwrap_or_default();
        let crypto = MessageCrypto::new(
            Secret::new(token.clone()),
            e.appid.clone(),
            key(&e.encoding_aes_key),
            None,
        );
        let r = random16(&e.random16);
        assert_eq!(
            crypto.encrypt(&e.plaintext, &r).unwrap(),
            e.encrypt,
            "{}",
            e.id
        );
        assert_eq!(crypto.decrypt(&e.encrypt).unwrap(), e.plaintext, "{}", e.id);
        if let (Some(ts), Some(nonce)) = (&e.timestamp, &e.nonce) {
            if let Some(sig) = &e.msg_signature {
                assert_eq!(
                    &msg_signature(&token, ts, nonce, &e.encrypt),
                    sig,
                    "{}",
                    e.id
                );
            }
            if let Some(xml) = &e.reply_xml {
                let reply = crypto.encrypt_reply(&e.plaintext, ts, nonce, &r).unwrap();
                assert_eq!(&reply, xml, "{}", e.id);
                assert_eq!(crypto.decrypt_reply(reply.as_bytes()).unwrap(), e.plaintext);
            }
        }
    }
}

#[test]
fn n2_a_push_with_an_invalid_msg_signature_is_a_signature_error() {
    let n2 = vectors()
        .negative
        .into_iter()
        .find(|n| n.id == "N2")
        .unwrap();
    let v = decrypt_vector(&n2.based_on);
    let mut q = v.query();
    q.msg_signature = Some("invalid-signature".into());
    assert_eq!(
        v.crypto().decrypt_push(&q, v.body().as_bytes()),
        Err(CryptoError::Signature(SignatureKind::MsgSignature))
    );
}

#[test]
fn n3_a_push_checked_against_another_appid_is_an_appid_error() {
    let n3 = vectors()
        .negative
        .into_iter()
        .find(|n| n.id == "N3")
        .unwrap();
    let v = decrypt_vector(&n3.based_on);
    let crypto = MessageCrypto::new(
        Secret::new(v.token.clone()),
        "invalid appid",
        key(&v.encoding_aes_key),
        None,
    );
    assert_eq!(
        crypto.decrypt_push(&v.query(), v.body().as_bytes()),
        Err(CryptoError::AppId)
    );
}

// ---- the push checks, one by one ----------------------------------------------------------

#[test]
fn each_missing_query_parameter_is_named() {
    let good = signed_query(TOKEN, TS, NONCE, "QUJD");
    let body = envelope("QUJD");
    type Remove = fn(&mut PushQuery);
    let cases: [(&str, Remove); 3] = [
        ("timestamp", |q| q.timestamp = None),
        ("nonce", |q| q.nonce = None),
        ("msg_signature", |q| q.msg_signature = None),
    ];
    for (name, remove) in cases {
        let mut q = good.clone();
        remove(&mut q);
        assert_eq!(
            crypto().decrypt_push(&q, body.as_bytes()),
            Err(CryptoError::MissingParameter(name))
        );
    }
}

#[test]
fn query_pairs_are_picked_by_name_and_the_first_occurrence_wins() {
    let q = PushQuery::from_pairs([
        ("signature", "s"),
        ("timestamp", "1"),
        ("timestamp", "2"),
        ("openid", "o"),
        ("nonce", "n"),
        ("encrypt_type", "aes"),
        ("msg_signature", "m"),
    ]);
    assert_eq!(q.timestamp.as_deref(), Some("1"));
    assert_eq!(q.signature.as_deref(), Some("s"));
    assert_eq!(q.msg_signature.as_deref(), Some("m"));
    assert_eq!(
        PushQuery::from_pairs(Vec::<(String, String)>::new()),
        PushQuery::default()
    );
}

#[test]
fn push_with_bad_signature_is_rejected() {
    let push = crypto()
        .build_push("<xml/>", TS, NONCE, &[1; 16], None)
        .unwrap();
    let mut q = PushQuery::from_pairs(push.query.iter().map(|(k, v)| (*k, v.clone())));
    let wrong_token = MessageCrypto::new(Secret::new("other-token"), APPID, key(KEY), None);
    assert_eq!(
        wrong_token.decrypt_push(&q, push.body.as_bytes()),
        Err(CryptoError::Signature(SignatureKind::MsgSignature))
    );
    q.signature = Some(plain_signature(TOKEN, TS, "another-nonce"));
    assert_eq!(
        crypto().decrypt_push(&q, push.body.as_bytes()),
        Err(CryptoError::Signature(SignatureKind::Signature))
    );
    q.signature = None; // the plain signature is optional; msg_signature alone suffices
    assert_eq!(
        crypto().decrypt_push(&q, push.body.as_bytes()).unwrap(),
        "<xml/>"
    );
}

#[test]
fn an_encrypt_type_other_than_aes_is_rejected() {
    let mut q = signed_query(TOKEN, TS, NONCE, "QUJD");
    q.encrypt_type = Some("raw".into());
    assert_eq!(
        crypto().decrypt_push(&q, envelope("QUJD").as_bytes()),
        Err(CryptoError::UnsupportedEncryptType)
    );
}

#[test]
fn ciphertext_that_is_not_standard_base64_is_rejected() {
    for bad in ["not base64!", "QUJD-_==", "QUJ", "QUJDRA"] {
        assert_eq!(
            open_signed(&crypto(), bad),
            Err(CryptoError::Base64),
            "{bad}"
        );
    }
}

#[test]
fn ciphertext_that_is_empty_or_not_whole_blocks_or_too_long_is_rejected() {
    use base64::Engine as _;
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![0u8; n]);
    for n in [0, 15, 17, 33, 64 * 1024 + 16, 100 * 1024] {
        assert!(
            matches!(crypto().decrypt(&b64(n)), Err(CryptoError::Length { .. })),
            "{n} bytes"
        );
    }
}

#[test]
fn a_pad_byte_of_zero_is_rejected() {
    let mut f = pad32(frame(2, b"hi", APPID));
    let last = f.len() - 1;
    f[last] = 0;
    assert_eq!(open_frame_bytes(&f), Err(CryptoError::Padding));
}

#[test]
fn a_pad_byte_of_33_is_rejected() {
    let mut f = frame(2, b"hi", APPID);
    // At least 33 trailing bytes of 33, so only the value itself is wrong.
    f.resize(96, 33);
    assert!(f.len() - frame(2, b"hi", APPID).len() >= 33);
    assert_eq!(open_frame_bytes(&f), Err(CryptoError::Padding));
}

#[test]
fn inconsistent_pad_bytes_are_rejected() {
    let mut f = pad32(frame(2, b"hi", APPID));
    let pad = usize::from(*f.last().unwrap());
    assert!(pad >= 2);
    let i = f.len() - pad;
    f[i] ^= 1;
    assert_eq!(open_frame_bytes(&f), Err(CryptoError::Padding));
}

#[test]
fn a_full_block_of_padding_is_stripped() {
    // 16 + 4 + 26 + 18 = 64: already aligned, so a whole block of 0x20 follows.
    let msg = "abcdefghijklmnopqrstuvwxyz";
    let f = pad32(frame(26, msg.as_bytes(), APPID));
    assert_eq!(f.len(), 96);
    assert_eq!(f[64..], [32u8; 32]);
    assert_eq!(open_frame_bytes(&f).unwrap(), msg);
    assert_eq!(
        seal_raw(&key(KEY), &f),
        crypto().encrypt(msg, &[7; 16]).unwrap()
    );
}

#[test]
fn a_message_length_past_the_buffer_is_rejected() {
    for declared in [3, 1000, u32::MAX] {
        let f = pad32(frame(declared, b"hi", ""));
        assert_eq!(
            open_frame_bytes(&f),
            Err(CryptoError::MessageLength),
            "{declared}"
        );
    }
    // Shorter than the 20-byte header once unpadded.
    assert_eq!(
        open_frame_bytes(&[12u8; 32]),
        Err(CryptoError::MessageLength)
    );
}

#[test]
fn a_wrong_appid_trailer_is_rejected() {
    for trailer in [
        "wx0123456789abcdeX",
        "wx0123456789abcde",
        "",
        "wx0123456789abcdef0",
    ] {
        let f = pad32(frame(2, b"hi", trailer));
        assert_eq!(open_frame_bytes(&f), Err(CryptoError::AppId), "{trailer:?}");
    }
}

#[test]
fn a_message_that_is_not_utf8_is_rejected() {
    let f = pad32(frame(3, &[0xe4, 0xbd, 0xff], APPID));
    assert_eq!(open_frame_bytes(&f), Err(CryptoError::Utf8));
}

#[test]
fn an_envelope_with_a_doctype_is_rejected_before_any_entity_is_expanded() {
    let encrypt = crypto().encrypt("hi", &[1; 16]).unwrap();
    let body = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\
         <xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><Other>&b;</Other></xml>"
    );
    assert_eq!(
        crypto().decrypt_push(&signed_query(TOKEN, TS, NONCE, &encrypt), body.as_bytes()),
        Err(CryptoError::Envelope(EnvelopeError::Dtd))
    );
}

#[test]
fn an_envelope_without_encrypt_is_rejected() {
    let q = signed_query(TOKEN, TS, NONCE, "");
    for body in [
        "<xml><AppId>wx1</AppId></xml>",
        "<xml><a><Encrypt>x</Encrypt></a></xml>",
    ] {
        assert_eq!(
            crypto().decrypt_push(&q, body.as_bytes()),
            Err(CryptoError::Envelope(EnvelopeError::MissingEncrypt))
        );
    }
}

#[test]
fn malformed_xml_is_an_envelope_error() {
    let q = signed_query(TOKEN, TS, NONCE, "QUJD");
    for body in [
        "<xml><Encrypt>QUJD</Encrypt>",
        "success",
        "<xml><Encrypt>QUJD</Nonce></xml>",
        "",
    ] {
        assert!(
            matches!(
                crypto().decrypt_push(&q, body.as_bytes()),
                Err(CryptoError::Envelope(EnvelopeError::Malformed { .. }))
            ),
            "{body:?}"
        );
    }
    assert_eq!(
        crypto().decrypt_push(&q, b"<xml><Encrypt>\xff</Encrypt></xml>"),
        Err(CryptoError::Envelope(EnvelopeError::NotUtf8))
    );
}

#[test]
fn a_body_over_64_kib_is_rejected_before_parsing() {
    let encrypt = crypto().encrypt("hi", &[1; 16]).unwrap();
    let filler = "<Pad>x</Pad>".repeat(6000);
    let body = format!("<xml><Encrypt>{encrypt}</Encrypt>{filler}</xml>");
    assert!(body.len() > 64 * 1024);
    assert!(matches!(
        crypto().decrypt_push(&signed_query(TOKEN, TS, NONCE, &encrypt), body.as_bytes()),
        Err(CryptoError::BodyTooLarge { max: 65536, .. })
    ));
}

#[test]
fn cdata_and_plain_text_envelopes_both_open() {
    let encrypt = crypto().encrypt("你好", &[9; 16]).unwrap();
    let q = signed_query(TOKEN, TS, NONCE, &encrypt);
    let plain =
        format!("<xml>\n  <AppId>{APPID}</AppId>\n  <Encrypt>{encrypt}</Encrypt>\n</xml>\n");
    let push = crypto().open_push(&q, plain.as_bytes()).unwrap();
    assert_eq!(push.plaintext, "你好");
    assert_eq!(push.envelope_app_id.as_deref(), Some(APPID));
    assert_eq!(
        crypto()
            .decrypt_push(&q, envelope(&encrypt).as_bytes())
            .unwrap(),
        "你好"
    );
}

#[test]
fn a_message_too_large_to_decrypt_later_is_refused_at_encryption() {
    let big = "x".repeat(64 * 1024);
    assert!(matches!(
        crypto().encrypt(&big, &[0; 16]),
        Err(CryptoError::MessageTooLarge { .. })
    ));
    let fits = "x".repeat(64 * 1024 - 20 - APPID.len() - 1);
    assert_eq!(
        crypto()
            .decrypt(&crypto().encrypt(&fits, &[0; 16]).unwrap())
            .unwrap(),
        fits
    );
}

// ---- key rotation -------------------------------------------------------------------------

#[test]
fn a_message_encrypted_with_the_previous_key_decrypts() {
    let old = MessageCrypto::new(Secret::new(TOKEN), APPID, key(OLD_KEY), None);
    let rotated = MessageCrypto::new(Secret::new(TOKEN), APPID, key(KEY), Some(key(OLD_KEY)));
    let encrypt = old.encrypt("<xml>old</xml>", &[5; 16]).unwrap();
    assert_eq!(open_signed(&rotated, &encrypt).unwrap(), "<xml>old</xml>");
    let fresh = crypto().encrypt("<xml>new</xml>", &[5; 16]).unwrap();
    assert_eq!(open_signed(&rotated, &fresh).unwrap(), "<xml>new</xml>");
}

#[test]
fn a_message_encrypted_with_an_unknown_key_fails() {
    let stranger = MessageCrypto::new(Secret::new(TOKEN), APPID, key(OTHER_KEY), None);
    let rotated = MessageCrypto::new(Secret::new(TOKEN), APPID, key(KEY), Some(key(OLD_KEY)));
    for msg in ["", "hi", "<xml>some longer message body</xml>"] {
        let encrypt = stranger.encrypt(msg, &[5; 16]).unwrap();
        let err = open_signed(&rotated, &encrypt).unwrap_err();
        assert!(
            matches!(
                err,
                CryptoError::Padding
                    | CryptoError::MessageLength
                    | CryptoError::AppId
                    | CryptoError::Utf8
            ),
            "{err:?}"
        );
    }
}

// ---- replies and outgoing pushes ----------------------------------------------------------

#[test]
fn an_outgoing_component_push_has_wechats_query_and_appid_envelope() {
    let push = crypto()
        .build_push("<xml>ticket</xml>", TS, NONCE, &[2; 16], None)
        .unwrap();
    let names: Vec<_> = push.query.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "signature",
            "timestamp",
            "nonce",
            "encrypt_type",
            "msg_signature"
        ]
    );
    let encrypt = crypto().encrypt("<xml>ticket</xml>", &[2; 16]).unwrap();
    assert_eq!(
        push.body,
        format!(
            "<xml><AppId><![CDATA[{APPID}]]></AppId><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
    );
    let q = PushQuery::from_pairs(push.query.iter().map(|(k, v)| (*k, v.clone())));
    assert_eq!(q, signed_query(TOKEN, TS, NONCE, &encrypt));
    let opened = crypto().open_push(&q, push.body.as_bytes()).unwrap();
    assert_eq!(opened.plaintext, "<xml>ticket</xml>");
    assert_eq!(opened.envelope_app_id.as_deref(), Some(APPID));
}

#[test]
fn an_outgoing_authorizer_push_has_a_to_user_name_envelope() {
    let push = crypto()
        .build_push("hi", TS, NONCE, &[2; 16], Some("gh_3c884a361561"))
        .unwrap();
    assert!(push.body.starts_with(
        "<xml><ToUserName><![CDATA[gh_3c884a361561]]></ToUserName><Encrypt><![CDATA["
    ));
    let q = PushQuery::from_pairs(push.query.iter().map(|(k, v)| (*k, v.clone())));
    let opened = crypto().open_push(&q, push.body.as_bytes()).unwrap();
    assert_eq!(
        opened.envelope_to_user_name.as_deref(),
        Some("gh_3c884a361561")
    );
    assert_eq!(opened.envelope_app_id, None);
}

#[test]
fn a_reply_with_a_tampered_field_is_rejected() {
    let reply = crypto()
        .encrypt_reply("<xml>r</xml>", TS, NONCE, &[4; 16])
        .unwrap();
    assert_eq!(
        crypto().decrypt_reply(reply.as_bytes()).unwrap(),
        "<xml>r</xml>"
    );
    let tampered = reply.replace(
        &format!("<TimeStamp>{TS}</TimeStamp>"),
        "<TimeStamp>1700000001</TimeStamp>",
    );
    assert_eq!(
        crypto().decrypt_reply(tampered.as_bytes()),
        Err(CryptoError::Signature(SignatureKind::MsgSignature))
    );
    let no_nonce = reply.replace(&format!("<Nonce><![CDATA[{NONCE}]]></Nonce>\n"), "");
    assert_eq!(
        crypto().decrypt_reply(no_nonce.as_bytes()),
        Err(CryptoError::MissingParameter("Nonce"))
    );
}

// ---- no secrets in errors or debug output -------------------------------------------------

#[test]
fn error_messages_and_debug_output_never_contain_secrets_or_message_data() {
    let plaintext = "<xml><Content>SECRET-CONTENT-123</Content></xml>";
    let other = MessageCrypto::new(Secret::new(TOKEN), "wxNOTTHEAPPID", key(KEY), None);
    let encrypt = crypto().encrypt(plaintext, &[6; 16]).unwrap();
    let mut errors = vec![
        open_signed(&other, &encrypt).unwrap_err(),
        open_signed(&crypto(), "%%%").unwrap_err(),
        open_signed(&crypto(), "QUJD").unwrap_err(),
        crypto()
            .decrypt_push(
                &signed_query(TOKEN, TS, NONCE, "x"),
                b"<xml><Encrypt>SECRET-CONTENT-123</Nonce></xml>",
            )
            .unwrap_err(),
    ];
    errors.push(open_frame_bytes(&pad32(frame(3, &[0xff; 3], APPID))).unwrap_err());
    errors.push(open_frame_bytes(&[0; 32]).unwrap_err());
    errors.push(open_frame_bytes(&pad32(frame(99, b"x", APPID))).unwrap_err());
    let mut q = signed_query(TOKEN, TS, NONCE, &encrypt);
    q.msg_signature = Some("0".repeat(40));
    errors.push(
        crypto()
            .decrypt_push(&q, envelope(&encrypt).as_bytes())
            .unwrap_err(),
    );
    let forbidden = [
        TOKEN,
        KEY,
        "SECRET-CONTENT",
        encrypt.as_str(),
        APPID,
        "wxNOTTHEAPPID",
    ];
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            for f in forbidden {
                assert!(!text.contains(f), "{text:?} contains {f:?}");
            }
        }
    }
    let debug = format!("{:?}", crypto());
    assert!(!debug.contains(TOKEN) && !debug.contains(KEY));
}
