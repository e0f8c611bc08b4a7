//! The ticket-callback handler wired to in-memory adapters: `MemoryStore` (holding a ticket, so that
//! authorized events go on to call WeChat), `MemoryPushLedger` (counting claims), a `ManualClock` at
//! [`callback_config::NOW`](crate::callback_config::NOW), fixed reply randomness, and a WeChat client
//! pointed at a closed loopback port with short timeouts and no retries, so those calls fail fast.
//!
//! The runtime, client and crypto are built once; the store and ledger are fresh for every input,
//! so an input's outcome does not depend on the inputs before it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ticket_callback::TicketCallback;
use wxcomponent::crypto::PushQuery;
use wxcomponent::service::{
    Application, PushService, PushSettings, ReplyRandomness, TokenSettings,
};
use wxcomponent::store::{Claim, LedgerEntry, MemoryPushLedger, PushLedger, PushRecord};
use wxcomponent::store::{LeaseOwner, MemoryStore, StoreError, Ticket, TicketStore};
use wxcomponent::wechat::{ClientConfig, RetryPolicy, WechatClient};
use wxcomponent::{Clock, ComponentAppId, ManualClock, MessageCrypto, Secret};

use crate::callback_config::{APPID, NOW};
use crate::request::PushRequest;

/// Nothing listens on the discard port of the loopback interface.
const CLOSED_PORT_URL: &str = "http://127.0.0.1:9/";

/// The ticket stored before every input.
const TICKET: &str = "ticket@@@fuzz";

/// What the handler answered, whether the request was a push that passes the crypto checks, and
/// whether the handler wrote anything.
#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub body: Vec<u8>,
    /// `MessageCrypto::open_push` accepts the request's query and body.
    pub opens: bool,
    /// The push claimed a ledger entry (every push but a ticket does before it acts) or replaced
    /// the stored ticket.
    pub wrote: bool,
}

/// The memory ledger, counting claims.
struct CountingLedger {
    inner: MemoryPushLedger,
    claims: AtomicUsize,
}

impl PushLedger for CountingLedger {
    async fn claim(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
        lease_secs: i64,
    ) -> Result<Claim, StoreError> {
        self.claims.fetch_add(1, Ordering::Relaxed);
        self.inner.claim(component, key, owner, lease_secs).await
    }

    async fn complete(
        &self,
        component: &ComponentAppId,
        key: &str,
        record: &PushRecord,
    ) -> Result<(), StoreError> {
        self.inner.complete(component, key, record).await
    }

    async fn release(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
    ) -> Result<(), StoreError> {
        self.inner.release(component, key, owner).await
    }

    async fn entry(
        &self,
        component: &ComponentAppId,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        self.inner.entry(component, key).await
    }
}

struct Fixed {
    runtime: tokio::runtime::Runtime,
    clock: Arc<dyn Clock>,
    client: WechatClient,
    crypto: MessageCrypto,
}

struct FixedRandomness;

impl ReplyRandomness for FixedRandomness {
    fn nonce(&self) -> String {
        "1234567890".to_owned()
    }
    fn random16(&self) -> [u8; 16] {
        *b"fuzzfuzzfuzzfuzz"
    }
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(NOW));
        let mut config = ClientConfig::new(url::Url::parse(CLOSED_PORT_URL).expect("a URL"));
        config.connect_timeout = Duration::from_millis(100);
        config.timeout = Duration::from_millis(200);
        config.retry = RetryPolicy::none();
        let client = WechatClient::new(
            config,
            ComponentAppId::parse(APPID).expect("an appid"),
            Secret::new("fuzz-component-secret"),
            clock.clone(),
        )
        .expect("a WeChat client");
        Fixed {
            runtime,
            clock,
            client,
            crypto: crate::callback_crypto(),
        }
    })
}

/// The component's message crypto, as the handler has it.
pub fn crypto() -> &'static MessageCrypto {
    &fixed().crypto
}

/// Sends the request to a freshly wired handler; `None` when the description makes no request.
pub fn run(request: &PushRequest) -> Option<Outcome> {
    let fixed = fixed();
    let request = request.build(&fixed.crypto, NOW)?;
    // The checks the handler's answer is judged by, made on the request as it arrives.
    let query = PushQuery::from_pairs(url::form_urlencoded::parse(
        request.uri().query().unwrap_or("").as_bytes(),
    ));
    let opens = fixed.crypto.open_push(&query, request.body()).is_ok();

    let clock = fixed.clock.clone();
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let ledger = Arc::new(CountingLedger {
        inner: MemoryPushLedger::new(clock.clone()),
        claims: AtomicUsize::new(0),
    });
    let component = ComponentAppId::parse(APPID).expect("an appid");
    let application = Application::assemble(
        store.clone(),
        fixed.client.clone(),
        clock,
        TokenSettings::default(),
    );
    let push = PushService::with_randomness(
        application,
        ledger.clone(),
        fixed.crypto.clone(),
        PushSettings::default(),
        Arc::new(FixedRandomness),
    );
    let app = TicketCallback::new(push);
    let ticket = Ticket {
        value: Secret::new(TICKET),
        received_at: NOW,
    };
    let (response, ticket_after) = fixed.runtime.block_on(async {
        store
            .put_ticket(&component, &ticket)
            .await
            .expect("the memory store takes a ticket");
        let response = app.handle(request).await;
        let after = store.latest_ticket(&component).await;
        (response, after)
    });
    let ticket_kept = matches!(ticket_after, Ok(Some(t)) if t == ticket);
    Some(Outcome {
        status: response.status().as_u16(),
        body: response.body().as_ref().to_vec(),
        opens,
        wrote: ledger.claims.load(Ordering::Relaxed) > 0 || !ticket_kept,
    })
}
