//! One component_verify_ticket push end to end in the library: verify the signatures, decrypt, parse.
//! `make bench` runs this next to the same work done by wechatpy and prints both medians.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wxcomponent::Secret;
use wxcomponent::crypto::{AesKey, MessageCrypto, PushQuery};
use wxcomponent::event::{ComponentEvent, ComponentEventKind};

/// Vector V2 of the fixtures (a real component_verify_ticket push, from Senparc's tests).
fn ticket_push() -> (MessageCrypto, PushQuery, Vec<u8>) {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/vectors.json"))
            .expect("fixture parses");
    let v = vectors["decrypt"]
        .as_array()
        .and_then(|d| d.iter().find(|v| v["id"] == "V2"))
        .expect("vector V2 exists");
    let s = |k: &str| v[k].as_str().expect("string field").to_owned();
    let key = AesKey::from_encoding_aes_key(&s("encoding_aes_key")).expect("valid key");
    let crypto = MessageCrypto::new(Secret::new(s("token")), s("appid"), key, None);
    let query = PushQuery::from_pairs([
        ("timestamp", s("timestamp")),
        ("nonce", s("nonce")),
        ("msg_signature", s("msg_signature")),
        ("signature", s("signature")),
        ("encrypt_type", "aes".to_owned()),
    ]);
    let body = format!(
        "<xml><AppId><![CDATA[{}]]></AppId><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        s("appid"),
        s("encrypt")
    );
    (crypto, query, body.into_bytes())
}

fn bench_ticket_push(c: &mut Criterion) {
    let (crypto, query, body) = ticket_push();
    // Check once that the benchmark measures the successful path, not an early rejection.
    let plaintext = crypto
        .decrypt_push(&query, &body)
        .expect("the push verifies");
    let event = ComponentEvent::parse(&plaintext).expect("the push parses");
    assert!(matches!(
        event.kind,
        ComponentEventKind::VerifyTicket { .. }
    ));

    c.bench_function("component_verify_ticket_push/verify_decrypt_parse", |b| {
        b.iter(|| {
            let plaintext = crypto
                .decrypt_push(black_box(&query), black_box(&body))
                .expect("verifies");
            ComponentEvent::parse(&plaintext).expect("parses")
        })
    });
}

criterion_group!(benches, bench_ticket_push);
criterion_main!(benches);
