//! `TicketCallback::handle`, the whole ticket-callback handler, on requests the fuzzer describes
//! (`wxcomponent_fuzz::request::PushRequest`): any method, one of the two routes or any path, any
//! headers, and either a raw query and body or a push signed and encrypted with the component's
//! crypto (then possibly tampered with), so that the event handling behind the checks is reached.
//!
//! What the handler promises: it never panics, it answers only with the statuses of its table,
//! a request that is not a valid push (route, method, size or any crypto check) is refused with a
//! 4xx and never a 5xx (those are for our own failures, which WeChat should retry), nothing is
//! written for a 4xx (no ledger claim, the stored ticket kept), an accepted
//! component push is answered `success`, and any other 200 is `success`, empty, or an encrypted
//! reply that opens with the component's crypto and holds a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxcomponent::event::AuthorizerMessage;
use wxcomponent_fuzz::callback;
use wxcomponent_fuzz::request::{PathChoice, PushRequest};

const STATUSES: [u16; 7] = [200, 400, 403, 404, 405, 413, 503];

fuzz_target!(|request: PushRequest| {
    let Some(outcome) = callback::run(&request) else {
        return;
    };
    let status = outcome.status;
    assert!(STATUSES.contains(&status), "unexpected status {status}");
    if !outcome.opens {
        assert!(
            (400..500).contains(&status),
            "a request that is not a valid push was answered {status}"
        );
    }
    if (400..500).contains(&status) {
        assert!(!outcome.wrote, "a refused push ({status}) wrote");
    }
    if status != 200 {
        return;
    }
    if request.path == PathChoice::Component {
        assert_eq!(outcome.body, b"success");
    }
    if !matches!(outcome.body.as_slice(), b"success" | b"") {
        let reply = callback::crypto()
            .decrypt_reply(&outcome.body)
            .expect("an encrypted reply opens with the component's crypto");
        AuthorizerMessage::parse(&reply).expect("the reply is a message");
    }
});
