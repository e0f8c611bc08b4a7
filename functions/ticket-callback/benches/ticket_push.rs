//! The ticket-callback handler's own time for one `component_verify_ticket` push, warm, with the
//! in-memory store and ledger (so DynamoDB is excluded): routing, size check, query parsing,
//! both signatures, decryption, parsing, the store write and the response.
//!
//! `cargo bench -p ticket-callback --bench ticket_push`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::Body;
use ticket_callback::TicketCallback;
use wxcomponent::crypto::AesKey;
use wxcomponent::service::{Application, PushService, PushSettings, TokenSettings};
use wxcomponent::store::{MemoryPushLedger, MemoryStore};
use wxcomponent::wechat::{ClientConfig, WechatClient};
use wxcomponent::{Clock, ComponentAppId, MessageCrypto, Secret, SystemClock};

const APPID: &str = "wx3d5d4b6ce7a1f001";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let crypto = MessageCrypto::new(
        Secret::new("bench-token"),
        APPID,
        AesKey::from_encoding_aes_key(KEY).expect("a valid key"),
        None,
    );
    // Nothing listens here: a WeChat call would fail the bench's assertion below.
    let client = WechatClient::new(
        ClientConfig::new(url::Url::parse("http://127.0.0.1:9/").expect("a URL")),
        ComponentAppId::parse(APPID).expect("an appid"),
        Secret::new("bench-secret"),
        clock.clone(),
    )
    .expect("a client");
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let app = Application::assemble(store, client, clock.clone(), TokenSettings::default());
    let ledger = Arc::new(MemoryPushLedger::new(clock.clone()));
    let push = PushService::new(app, ledger, crypto.clone(), PushSettings::default());
    let app = TicketCallback::new(push);

    let now = clock.now().to_string();
    let xml = format!(
        "<xml><AppId><![CDATA[{APPID}]]></AppId><CreateTime>{now}</CreateTime>\
         <InfoType><![CDATA[component_verify_ticket]]></InfoType>\
         <ComponentVerifyTicket><![CDATA[ticket@@@bench-0123456789abcdefghijklmnopqrstuvwxyz]]></ComponentVerifyTicket></xml>"
    );
    let pushed = crypto
        .build_push(&xml, &now, "1234567890", b"0123456789abcdef", None)
        .expect("a push");
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pushed.query.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let uri = format!("https://example.com/wechat/component?{query}");
    let request = || {
        lambda_http::http::Request::builder()
            .method("POST")
            .uri(&uri)
            .header("content-type", "text/xml")
            .body(Body::from(pushed.body.clone()))
            .expect("a request")
    };

    let first = runtime.block_on(app.handle(request()));
    assert_eq!(first.status(), 200);
    assert_eq!(first.body().as_ref(), b"success");

    c.bench_function(
        "ticket-callback handler: one ticket push (memory store)",
        |b| {
            b.iter(|| {
                let response = runtime.block_on(app.handle(black_box(request())));
                assert_eq!(response.status(), 200);
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
