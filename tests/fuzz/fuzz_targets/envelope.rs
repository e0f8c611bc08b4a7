//! `parse_envelope` (the XML around `<Encrypt>`) on arbitrary bytes. Whatever it reads, the
//! envelopes we write from those values read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxcomponent::crypto::{parse_envelope, push_envelope, reply_envelope};

fuzz_target!(|body: &[u8]| {
    let Ok(envelope) = parse_envelope(body) else {
        return;
    };
    // A character reference can put a CR into a value, and XML reads a CR back as a LF.
    let fields = [
        Some(&envelope.encrypt),
        envelope.app_id.as_ref(),
        envelope.to_user_name.as_ref(),
        envelope.msg_signature.as_ref(),
        envelope.timestamp.as_ref(),
        envelope.nonce.as_ref(),
    ];
    if fields.iter().flatten().any(|v| v.contains('\r')) {
        return;
    }

    let app_id = envelope.app_id.as_deref().unwrap_or("wx0000000000000000");
    let written = push_envelope(&envelope.encrypt, app_id, envelope.to_user_name.as_deref());
    let again = parse_envelope(written.as_bytes()).expect("a written push envelope reads back");
    assert_eq!(again.encrypt, envelope.encrypt);
    match &envelope.to_user_name {
        Some(to) => assert_eq!(again.to_user_name.as_ref(), Some(to)),
        None => assert_eq!(again.app_id.as_deref(), Some(app_id)),
    }

    let (sig, ts, nonce) = (
        envelope.msg_signature.as_deref().unwrap_or(""),
        envelope.timestamp.as_deref().unwrap_or(""),
        envelope.nonce.as_deref().unwrap_or(""),
    );
    let reply = reply_envelope(&envelope.encrypt, sig, ts, nonce);
    let again = parse_envelope(reply.as_bytes()).expect("a written reply envelope reads back");
    assert_eq!(again.encrypt, envelope.encrypt);
    assert_eq!(again.msg_signature.as_deref(), Some(sig));
    assert_eq!(again.timestamp.as_deref(), Some(ts));
    assert_eq!(again.nonce.as_deref(), Some(nonce));
});
