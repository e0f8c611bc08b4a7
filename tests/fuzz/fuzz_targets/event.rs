//! The typed event parsers (`ComponentEvent::parse`, `AuthorizerMessage::parse`) on arbitrary text
//! (bytes that are not UTF-8 are read lossily: decryption only ever hands over UTF-8). A parse is
//! deterministic, its accessors never panic, and the passive reply to a message reads back as a
//! text message between the same two names, swapped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxcomponent::event::{AuthorizerMessage, ComponentEvent, MessageKind};
use wxcomponent::service::RELEASE_TEST_TEXT_REPLY;

fuzz_target!(|data: &[u8]| {
    let xml = String::from_utf8_lossy(data);

    if let Ok(event) = ComponentEvent::parse(&xml) {
        assert_eq!(ComponentEvent::parse(&xml).ok().as_ref(), Some(&event));
        let _ = (
            event.info_type(),
            event.idempotency_key(),
            format!("{event:?}"),
        );
    }

    let Ok(message) = AuthorizerMessage::parse(&xml) else {
        return;
    };
    assert_eq!(AuthorizerMessage::parse(&xml).ok().as_ref(), Some(&message));
    let _ = (
        message.event(),
        message.idempotency_key(),
        format!("{message:?}"),
    );

    // A character reference can put a CR into a name, and XML reads a CR back as a LF.
    if message.to_user_name.contains('\r') || message.from_user_name.contains('\r') {
        return;
    }
    let reply = message.text_reply(RELEASE_TEST_TEXT_REPLY, 1_700_000_000);
    let read = AuthorizerMessage::parse(&reply).expect("our reply reads back");
    assert_eq!(read.to_user_name, message.from_user_name);
    assert_eq!(read.from_user_name, message.to_user_name);
    assert_eq!(read.create_time, 1_700_000_000);
    assert_eq!(
        read.kind,
        MessageKind::Text {
            content: RELEASE_TEST_TEXT_REPLY.to_owned(),
            msg_id: None,
        }
    );
});
