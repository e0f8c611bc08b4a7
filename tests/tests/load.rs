//! Load on loopback: 2,000 pushes from 50 concurrent senders through the ticket-callback's real
//! handler, against DynamoDB Local and the simulator. 1,600 are `component_verify_ticket` pushes
//! (each a different ticket and `CreateTime`, in shuffled order) and 400 are 200 other component
//! notifications each delivered twice, both deliveries at once, as WeChat's retries can arrive.
//!
//! Zero errors, zero lost and zero duplicated writes: every answer is `success`, the stored ticket
//! is the newest one pushed, and each notification is acted on exactly once (one "component
//! event handled" log line each, and a ledger entry each). The throughput and the handler's
//! latency percentiles are printed, not asserted: `make load` runs this in release mode for the
//! figures of docs/testing.md.
//!
//! Its own test binary, because it installs the global subscriber.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use wxcomponent::event::ComponentEvent;
use wxcomponent::store::TicketStore;
use wxcomponent_tests::callbacks::{Callbacks, SignedPush, body_text, ticket_xml};
use wxcomponent_tests::logs::{LogBuffer, assert_no_secret};

const PUSHES: usize = 2_000;
const SENDERS: usize = 50;
const NOTIFICATIONS: usize = 200;
const TICKETS: usize = PUSHES - 2 * NOTIFICATIONS;

/// A component notification this platform stores without acting further (an ICP filing
/// notice), numbered so each is a different event.
fn notification_xml(component: &str, create_time: i64, n: usize) -> String {
    format!(
        "<xml><AppId><![CDATA[{component}]]></AppId><CreateTime>{create_time}</CreateTime>\
         <InfoType><![CDATA[notify_icpfiling_status]]></InfoType>\
         <authorizer_appid><![CDATA[wxload{n:010}]]></authorizer_appid>\
         <beian_status>{n}</beian_status></xml>"
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_pushes_from_fifty_senders_lose_nothing_and_duplicate_nothing() {
    let logs = LogBuffer::install_global(wxcomponent::logging::filter(Some("info")));
    let c = Arc::new(Callbacks::spawn().await);
    let component = c.app.component.to_string();
    let now = c.app.now();

    // Every push is signed before the clock starts.
    let mut tickets = Vec::with_capacity(TICKETS);
    let mut pushes: Vec<SignedPush> = Vec::with_capacity(PUSHES);
    for i in 0..TICKETS {
        let ticket = c.app.sim.issue_ticket();
        let created = now - (TICKETS - i) as i64;
        pushes.push(c.signed_push(&ticket_xml(&component, created, &ticket), None));
        tickets.push(ticket);
    }
    let mut notification_keys = Vec::with_capacity(NOTIFICATIONS);
    let mut pairs = Vec::with_capacity(NOTIFICATIONS);
    for n in 0..NOTIFICATIONS {
        let xml = notification_xml(&component, now - n as i64, n);
        let key = ComponentEvent::parse(&xml)
            .expect("the notification parses")
            .idempotency_key();
        notification_keys.push(key);
        let push = c.signed_push(&xml, None);
        pairs.push((push.clone(), push));
    }
    pushes.shuffle(&mut rand::rng());
    // Each notification's two deliveries go to two different senders at the same position.
    let mut queues: Vec<Vec<SignedPush>> = pushes
        .chunks(TICKETS / SENDERS)
        .map(<[SignedPush]>::to_vec)
        .collect();
    assert_eq!(queues.len(), SENDERS);
    for (n, (first, second)) in pairs.into_iter().enumerate() {
        let sender = (2 * n) % SENDERS;
        let at = (n / (SENDERS / 2)) % queues[sender].len();
        queues[sender].insert(at, first);
        queues[sender + 1].insert(at, second);
    }
    assert_eq!(queues.iter().map(Vec::len).sum::<usize>(), PUSHES);

    let started = Instant::now();
    let senders: Vec<_> = queues
        .into_iter()
        .map(|queue| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(queue.len());
                let mut errors = Vec::new();
                let mut in_progress = 0;
                for push in queue {
                    loop {
                        let t = Instant::now();
                        let response = c.push("/wechat/component", &push).await;
                        latencies.push(t.elapsed());
                        // The other delivery of the same notification holds the claim: the
                        // answer is 503 with Retry-After, and WeChat delivers again.
                        if response.status() == 503
                            && response.headers().contains_key("retry-after")
                        {
                            in_progress += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                        if response.status() != 200 || body_text(&response) != "success" {
                            errors.push(format!("{} {}", response.status(), body_text(&response)));
                        }
                        break;
                    }
                }
                (latencies, errors, in_progress)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(PUSHES);
    let mut errors = Vec::new();
    let mut in_progress = 0;
    for sender in senders {
        let (l, e, busy) = sender.await.expect("a sender finished");
        latencies.extend(l);
        errors.extend(e);
        in_progress += busy;
    }
    let elapsed = started.elapsed();

    assert!(
        errors.is_empty(),
        "{} errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(latencies.len(), PUSHES + in_progress);

    // No ticket lost: the newest one won, whatever the order of arrival.
    let stored = c
        .app
        .store
        .latest_ticket(&c.app.component)
        .await
        .unwrap()
        .expect("a ticket is stored");
    assert_eq!(stored.value.expose(), tickets.last().unwrap());

    // Each notification acted on exactly once, and recorded.
    let text = logs.text();
    let handled = text
        .lines()
        .filter(|l| l.contains("component event handled"))
        .count();
    assert_eq!(handled, NOTIFICATIONS, "notifications acted on");
    for key in &notification_keys {
        let entry = c.ledger_entry(key).await;
        assert!(entry.is_some(), "notification {key} has no ledger entry");
    }
    assert_no_secret(&text, &c.app.sim.secrets());

    latencies.sort();
    println!(
        "load: {PUSHES} pushes from {SENDERS} concurrent senders in {:.2} s: {:.0} pushes/s; \
         handler latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {in_progress} deliveries answered 503 while their twin held the claim, then delivered",
        elapsed.as_secs_f64(),
        PUSHES as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
}
