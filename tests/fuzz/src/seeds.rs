//! The seed inputs of every target, made from `shared/tests/fixtures/vectors.json` and the event
//! fixtures in `shared/tests/fixtures/events`. `examples/write_seeds.rs` writes them under
//! `tests/fuzz/seeds/<target>/`; the fuzzer's own corpus grows elsewhere (`tests/fuzz/corpus`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use wxcomponent::crypto::push_envelope;

use crate::callback_config::APPID;
use crate::request::{
    Header, HeaderName, Method, PathChoice, Payload, PushRequest, SignedPush, Tamper, Timestamp,
};

/// The component appid the event fixtures are written for; replaced by the target's.
const FIXTURE_APPID: &str = "wx3d5d4b6ce7a1f001";
/// An authorizer for the message URL.
const AUTHORIZER: &str = "wxd101a85aa106f53e";

pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The repository root, from this crate's directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let root = repo_root();
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("shared/tests/fixtures/vectors.json"))
            .expect("vectors.json is readable"),
    )
    .expect("vectors.json is JSON");
    let events = event_fixtures(&root.join("shared/tests/fixtures/events"));
    let mut seeds = Vec::new();
    envelope_seeds(&vectors, &mut seeds);
    decrypt_seeds(&vectors, &mut seeds);
    event_seeds(&vectors, &events, &mut seeds);
    ticket_callback_seeds(&vectors, &events, &mut seeds);
    seeds
}

/// `(file stem, XML)` of each event fixture, sorted by name.
fn event_fixtures(dir: &Path) -> Vec<(String, String)> {
    let mut fixtures: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("the event fixtures are readable")
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 file name")
                .to_owned();
            (stem, std::fs::read_to_string(&path).expect("a fixture"))
        })
        .collect();
    fixtures.sort();
    fixtures
}

fn vector_list<'a>(vectors: &'a Value, section: &str) -> impl Iterator<Item = &'a Value> {
    vectors[section].as_array().into_iter().flatten()
}

fn field<'a>(vector: &'a Value, name: &str) -> &'a str {
    vector[name].as_str().unwrap_or_default()
}

fn seed(target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes: bytes.into(),
    }
}

fn envelope_seeds(vectors: &Value, seeds: &mut Vec<Seed>) {
    for v in vector_list(vectors, "decrypt") {
        let (id, encrypt, appid) = (field(v, "id"), field(v, "encrypt"), field(v, "appid"));
        let component = push_envelope(encrypt, appid, None);
        let message = push_envelope(encrypt, appid, Some("gh_10f6c3c3ac5a"));
        seeds.push(seed("envelope", format!("component-{id}.xml"), component));
        seeds.push(seed("envelope", format!("message-{id}.xml"), message));
    }
    for v in vector_list(vectors, "encrypt") {
        if let Some(reply) = v["reply_xml"].as_str() {
            seeds.push(seed(
                "envelope",
                format!("reply-{}.xml", field(v, "id")),
                reply,
            ));
        }
    }
    let by_hand = [
        (
            "references.xml",
            "<?xml version=\"1.0\"?><xml><!-- c --><ToUserName>gh_1</ToUserName>\
             <Other><Encrypt>nested</Encrypt></Other>\
             <Encrypt>ab<![CDATA[c+/]]>&#61;&amp;</Encrypt><Nonce/></xml>",
        ),
        (
            "doctype.xml",
            "<!DOCTYPE x [<!ENTITY a \"b\">]><xml><Encrypt>&a;</Encrypt></xml>",
        ),
    ];
    for (name, body) in by_hand {
        seeds.push(seed("envelope", name, body));
    }
}

fn decrypt_seeds(vectors: &Value, seeds: &mut Vec<Seed>) {
    for v in vector_list(vectors, "decrypt").chain(vector_list(vectors, "encrypt")) {
        let (id, encrypt) = (field(v, "id"), field(v, "encrypt"));
        let raw = STANDARD
            .decode(encrypt)
            .expect("vector ciphertexts are base64");
        seeds.push(seed(
            "decrypt",
            format!("raw-{id}"),
            [&[0u8][..], &raw].concat(),
        ));
        seeds.push(seed(
            "decrypt",
            format!("text-{id}"),
            [&[1u8][..], encrypt.as_bytes()].concat(),
        ));
    }
}

fn event_seeds(vectors: &Value, events: &[(String, String)], seeds: &mut Vec<Seed>) {
    for (stem, xml) in events {
        seeds.push(seed("event", format!("{stem}.xml"), xml.as_str()));
    }
    for v in vector_list(vectors, "decrypt").chain(vector_list(vectors, "encrypt")) {
        let name = format!("plaintext-{}.xml", field(v, "id"));
        seeds.push(seed("event", name, field(v, "plaintext")));
    }
}

/// A push of `plaintext` to the route its kind goes to, signed with the target's crypto.
fn signed(plaintext: &str, timestamp: Timestamp, tamper: Tamper) -> PushRequest {
    let component = plaintext.contains("<InfoType>");
    PushRequest {
        method: Method::Post,
        path: if component {
            PathChoice::Component
        } else {
            PathChoice::Message(AUTHORIZER.to_owned())
        },
        headers: vec![Header {
            name: HeaderName::ContentType,
            value: "text/xml".to_owned(),
        }],
        payload: Payload::Signed(SignedPush {
            timestamp,
            nonce: "1320562132".to_owned(),
            random16: *b"aaaabbbbccccdddd",
            to_user_name: (!component).then(|| "gh_8dad206e9538".to_owned()),
            tamper,
            plaintext: plaintext.replace(FIXTURE_APPID, APPID),
        }),
    }
}

/// A vector's push exactly as it was captured: its own query and a component envelope.
fn captured(v: &Value) -> PushRequest {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("signature", field(v, "signature"))
        .append_pair("timestamp", field(v, "timestamp"))
        .append_pair("nonce", field(v, "nonce"))
        .append_pair("encrypt_type", "aes")
        .append_pair("msg_signature", field(v, "msg_signature"))
        .finish();
    PushRequest {
        method: Method::Post,
        path: PathChoice::Component,
        headers: vec![],
        payload: Payload::Raw {
            query,
            body: push_envelope(field(v, "encrypt"), field(v, "appid"), None).into_bytes(),
        },
    }
}

fn ticket_callback_seeds(vectors: &Value, events: &[(String, String)], seeds: &mut Vec<Seed>) {
    let mut requests: Vec<(String, PushRequest)> = Vec::new();
    for v in vector_list(vectors, "decrypt") {
        // V2 is the target's own component: its push is accepted as captured.
        requests.push((format!("captured-{}", field(v, "id")), captured(v)));
    }
    for (stem, xml) in events {
        requests.push((
            format!("signed-{stem}"),
            signed(xml, Timestamp::Now, Tamper::None),
        ));
    }
    let ticket = events
        .iter()
        .find(|(stem, _)| stem == "component_verify_ticket")
        .map(|(_, xml)| xml.as_str())
        .expect("the ticket fixture");
    let variants = [
        ("ticket-stale", Timestamp::Offset(-86_401), Tamper::None),
        (
            "ticket-timestamp-text",
            Timestamp::Text("now".into()),
            Tamper::None,
        ),
        ("ticket-no-signature", Timestamp::Now, Tamper::DropSignature),
        (
            "ticket-extra-query",
            Timestamp::Now,
            Tamper::AppendQuery("msg_signature=0&openid=o1".into()),
        ),
        (
            "ticket-flipped-byte",
            Timestamp::Now,
            Tamper::FlipBodyByte { at: 120, xor: 1 },
        ),
    ];
    for (name, timestamp, tamper) in variants {
        requests.push((name.to_owned(), signed(ticket, timestamp, tamper)));
    }
    let mut get = signed(ticket, Timestamp::Now, Tamper::None);
    get.method = Method::Get;
    requests.push(("ticket-get".to_owned(), get));
    let mut elsewhere = signed(ticket, Timestamp::Now, Tamper::None);
    elsewhere.path = PathChoice::Other("/prod/wechat/component".into());
    requests.push(("ticket-other-path".to_owned(), elsewhere));
    let mut declared_large = signed(ticket, Timestamp::Now, Tamper::None);
    declared_large.headers.push(Header {
        name: HeaderName::ContentLength,
        value: "70000".into(),
    });
    requests.push(("ticket-declared-large".to_owned(), declared_large));

    for (name, request) in requests {
        seeds.push(seed("ticket_callback", name, request.to_fuzz_input()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback;

    fn ticket_callback_seed(name: &str) -> PushRequest {
        let seed = all()
            .into_iter()
            .find(|s| s.target == "ticket_callback" && s.name == name)
            .expect("the seed exists");
        PushRequest::from_fuzz_input(&seed.bytes).expect("the seed decodes")
    }

    fn status(name: &str) -> (u16, bool) {
        let outcome = callback::run(&ticket_callback_seed(name)).expect("a request");
        (outcome.status, outcome.opens)
    }

    fn wrote(name: &str) -> bool {
        callback::run(&ticket_callback_seed(name))
            .expect("a request")
            .wrote
    }

    #[test]
    fn the_captured_vector_push_of_the_targets_component_is_accepted() {
        assert_eq!(status("captured-V2"), (200, true));
        assert_eq!(status("captured-V1"), (403, false));
        assert!(wrote("captured-V2"), "the ticket is replaced");
    }

    #[test]
    fn signed_seeds_pass_the_crypto_checks_and_reach_the_event_handling() {
        for name in [
            "signed-component_verify_ticket",
            "signed-unauthorized",
            "signed-notify_third_fastregisterbetaapp",
            "signed-text",
            "signed-weapp_audit_fail",
            "ticket-no-signature",
            "ticket-extra-query",
        ] {
            assert_eq!(status(name), (200, true), "{name}");
        }
        // The release test's text message is answered with an encrypted reply.
        let text = callback::run(&ticket_callback_seed("signed-text")).expect("a request");
        let reply = callback::crypto()
            .decrypt_reply(&text.body)
            .expect("the reply opens");
        assert!(reply.contains("TESTCOMPONENT_MSG_TYPE_TEXT_callback"));
        // Completing an authorization calls WeChat, which is unreachable: ours to retry.
        assert_eq!(status("signed-authorized"), (503, true));
        // Opened, then refused: addressed (its encrypted ToUserName) to another account than the
        // URL's; nothing is written.
        assert_eq!(status("signed-unknown_location"), (400, true));
        assert!(!wrote("signed-unknown_location"));
        // Opened, then refused by the event parser.
        assert_eq!(status("signed-attack_billion_laughs"), (400, true));
        assert!(
            wrote("signed-unauthorized"),
            "the push is claimed in the ledger"
        );
        assert!(!wrote("signed-attack_billion_laughs"));
    }

    #[test]
    fn tampered_seeds_are_refused_with_the_documented_status() {
        assert_eq!(status("ticket-stale"), (403, true));
        assert_eq!(status("ticket-timestamp-text"), (403, true));
        assert_eq!(status("ticket-flipped-byte"), (403, false));
        assert_eq!(status("ticket-get"), (405, true));
        assert_eq!(status("ticket-other-path"), (404, true));
        assert_eq!(status("ticket-declared-large"), (413, true));
        for name in ["ticket-stale", "ticket-flipped-byte", "ticket-get"] {
            assert!(!wrote(name), "{name}");
        }
    }
}
