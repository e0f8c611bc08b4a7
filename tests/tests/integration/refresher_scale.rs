//! The refresher at scale: 10,000 due authorizer tokens in DynamoDB Local, the simulator
//! answering each api_authorizer_token after 50 ms. One run refreshes them all in under a minute
//! with exactly one WeChat call per token and two DynamoDB requests per token (counted at the SDK);
//! two overlapping runs still make one WeChat call per token.
//!
//! Slow (about a minute each), so ignored by default. Run with DynamoDB Local:
//!
//! ```sh
//! source scripts/lib.sh && ensure_dynamodb_local && start_dynamodb_local && \
//!   cargo test -p wxcomponent-tests --test integration refresher_scale:: -- --ignored --nocapture --test-threads=1
//! ```
//!
//! `REFRESHER_SCALE_CONCURRENCY` (default 16), `REFRESHER_SCALE_AUTHORIZERS` (default 10000) and
//! `REFRESHER_SCALE_LATENCY_MS` (default 50) change the set-up, to find where the time goes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use wxcomponent::service::RefreshSummary;
use wxcomponent_tests::app::{START, TestApp};
use wxcomponent_tests::refresh::{refresher, seed_authorizers};
use wxcomponent_tests::requests::{RequestLog, counting};
use wxcomponent_tests::sim::{Fault, Times};

const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const DEADLINE: Duration = Duration::from_secs(60);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Scale {
    authorizers: usize,
    concurrency: usize,
    latency: Duration,
}

fn scale() -> Scale {
    Scale {
        authorizers: setting("REFRESHER_SCALE_AUTHORIZERS", 10_000) as usize,
        concurrency: setting("REFRESHER_SCALE_CONCURRENCY", 16) as usize,
        latency: Duration::from_millis(setting("REFRESHER_SCALE_LATENCY_MS", 50)),
    }
}

/// The app on a DynamoDB client that counts its requests, the count cleared after seeding.
async fn seeded(scale: &Scale) -> (TestApp, RequestLog) {
    let (app, requests) = counting(TestApp::spawn().await);
    app.store_fresh_ticket().await;
    let seeding = Instant::now();
    seed_authorizers(&app, scale.authorizers, START + 60).await;
    println!(
        "seeded {} due authorizers in {:.1} s",
        scale.authorizers,
        seeding.elapsed().as_secs_f64()
    );
    if !scale.latency.is_zero() {
        app.sim.inject(
            AUTHORIZER_TOKEN,
            Fault::latency(scale.latency),
            Times::Always,
        );
    }
    requests.take();
    (app, requests)
}

fn assert_one_call_per_token(app: &TestApp, expected: usize) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for call in app.sim.calls_to(AUTHORIZER_TOKEN) {
        let appid = call
            .body
            .as_ref()
            .and_then(|b| b["authorizer_appid"].as_str())
            .unwrap_or_default()
            .to_owned();
        *counts.entry(appid).or_default() += 1;
    }
    assert_eq!(counts.len(), expected, "authorizers called");
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(repeated.is_empty(), "called more than once: {repeated:?}");
}

fn report(
    label: &str,
    scale: &Scale,
    elapsed: Duration,
    requests: &RequestLog,
    summaries: &[&RefreshSummary],
) {
    let refreshed: u64 = summaries.iter().map(|s| s.refreshed).sum();
    let sent = requests.len();
    println!(
        "{label}: {refreshed} refreshed in {:.1} s ({:.0}/s) at concurrency {} per run, {} ms sim latency; \
         {sent} DynamoDB requests ({:.2} per refreshed token); per run: {}",
        elapsed.as_secs_f64(),
        refreshed as f64 / elapsed.as_secs_f64(),
        scale.concurrency,
        scale.latency.as_millis(),
        sent as f64 / refreshed.max(1) as f64,
        summaries
            .iter()
            .map(|s| format!(
                "due {} refreshed {} busy {} not_due {} deferred {} failed {} in {} ms",
                s.due,
                s.refreshed,
                s.skipped.busy,
                s.skipped.not_due,
                s.skipped.deferred,
                s.failed,
                s.duration_ms
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "slow: about a minute; see the module docs for the command"]
async fn one_run_refreshes_ten_thousand_due_tokens_in_under_a_minute_with_one_call_each() {
    let scale = scale();
    let (app, requests) = seeded(&scale).await;
    let run = refresher(&app, |s| s.stop_before = Duration::from_secs(10));

    let started = Instant::now();
    let summary = run.refresh_due(started + DEADLINE, scale.concurrency).await;
    let elapsed = started.elapsed();

    report("one run", &scale, elapsed, &requests, &[&summary]);
    assert_eq!(summary.due, scale.authorizers as u64, "{summary:?}");
    assert_eq!(summary.refreshed, scale.authorizers as u64, "{summary:?}");
    assert!(
        !summary.stopped_early,
        "the run needed more than its deadline"
    );
    assert_one_call_per_token(&app, scale.authorizers);
    // Two per token (the claim and the write), and the component token's write.
    assert!(
        requests.count("UpdateItem") <= 2 * scale.authorizers + 1,
        "{} UpdateItem",
        requests.count("UpdateItem")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "slow: about a minute; see the module docs for the command"]
async fn two_overlapping_runs_over_ten_thousand_due_tokens_still_make_one_call_per_token() {
    let scale = scale();
    let (app, requests) = seeded(&scale).await;
    let a = refresher(&app, |s| s.stop_before = Duration::from_secs(10));
    let b = a.clone();
    let concurrency = scale.concurrency;

    let started = Instant::now();
    let (a, b) = tokio::join!(
        tokio::spawn(async move { a.refresh_due(started + DEADLINE, concurrency).await }),
        tokio::spawn(async move { b.refresh_due(started + DEADLINE, concurrency).await }),
    );
    let elapsed = started.elapsed();
    let (a, b) = (a.expect("run a"), b.expect("run b"));

    report("two runs", &scale, elapsed, &requests, &[&a, &b]);
    assert_eq!(a.refreshed + b.refreshed, scale.authorizers as u64);
    assert_eq!(a.failed + b.failed, 0);
    assert!(
        !a.stopped_early && !b.stopped_early,
        "a run needed more than its deadline"
    );
    assert_one_call_per_token(&app, scale.authorizers);
}

/// Where the time goes: the store operations one refresh makes, timed against DynamoDB Local
/// alone (no WeChat), one at a time and 16 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check; see the refresher section of docs/architecture.md"]
async fn dynamodb_local_throughput_for_the_store_operations_of_a_refresh() {
    use wxcomponent::store::{AuthorizerStore, LeaseOwner, RefreshClaim, TokenRefresh};
    let app = TestApp::spawn().await;
    let ids = seed_authorizers(&app, 2000, START + 60).await;
    for concurrency in [1usize, 4, 16, 64] {
        let started = Instant::now();
        let chunks: Vec<Vec<_>> = ids
            .chunks(ids.len() / concurrency)
            .map(|c| c.to_vec())
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in chunks {
            let store = app.store.clone();
            let component = app.component.clone();
            tasks.spawn(async move {
                for id in chunk.iter().take(2000 / concurrency.max(1) / 2) {
                    let owner = LeaseOwner::random();
                    let claim = store
                        .claim_token_refresh(&component, id, &owner, 30, None)
                        .await
                        .unwrap();
                    let RefreshClaim::Claimed(stored) = claim else {
                        panic!("not claimed")
                    };
                    store
                        .update_authorizer_tokens(
                            &component,
                            id,
                            &TokenRefresh {
                                based_on_version: stored.refresh_token_version,
                                access_token: stored.access_token,
                                refresh_token: None,
                            },
                        )
                        .await
                        .unwrap();
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let ops = 2 * (2000 / concurrency / 2) * concurrency;
        let elapsed = started.elapsed();
        println!(
            "concurrency {concurrency}: {ops} store operations in {:.2} s = {:.0} ops/s",
            elapsed.as_secs_f64(),
            ops as f64 / elapsed.as_secs_f64()
        );
    }
}
