//! The release campaign benchmark (`make bench`; ignored by `make test`): campaigns over 2,000
//! simulated mini programs (`CAMPAIGN_BENCH_APPS`) against the simulator and DynamoDB Local.
//!
//! 1. No faults, one worker: exactly one `commit`, one `submit_audit` and one `release` per app.
//! 2. Two workers racing while WeChat answers bursts of -1 and HTTP 500: still one audit and one
//!    release per app (the sim's quota counts the audits it accepted).
//! 3. The month's audit quota runs out half-way: the campaign pauses; in the next month it resumes
//!    and finishes.
//!
//! Printed, not asserted: DynamoDB requests and WeChat calls per app, and the time until every app
//! is submitted (wall time of the worker runs; the sim's waits are a manual clock's).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::json;
use wxcomponent::AuthorizerAppId;
use wxcomponent_tests::app::dynamodb_client;
use wxcomponent_tests::fleet::{AUDIT_DELAY, Fleet, PRIVACY_DELAY, worker_settings};
use wxcomponent_tests::sim::{Fault, Times};

/// Counts the requests a DynamoDB client makes.
#[derive(Debug, Clone, Default)]
struct Requests(Arc<AtomicUsize>);

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "Requests"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Requests {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::Relaxed)
    }
}

fn apps() -> usize {
    std::env::var("CAMPAIGN_BENCH_APPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

async fn fleet(tune: impl FnOnce(&mut wxcomponent_tests::sim::SimConfig)) -> (Fleet, Requests) {
    let requests = Requests::default();
    let base = dynamodb_client().await;
    let counted = aws_sdk_dynamodb::Client::from_conf(
        base.config()
            .to_builder()
            .interceptor(requests.clone())
            .build(),
    );
    let fleet = Fleet::spawn_on(counted, tune).await;
    (fleet, requests)
}

/// Runs `workers` until nothing is due (each run stops when nothing is due).
async fn run_all(fleet: &Fleet, racing: bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    if racing {
        let other = fleet.app.wiring.campaign_worker(worker_settings());
        tokio::join!(fleet.worker.run(deadline), other.run(deadline));
    } else {
        fleet.worker.run(deadline).await;
    }
}

fn total(fleet: &Fleet, path: &str, appids: &[AuthorizerAppId]) -> usize {
    appids.iter().map(|a| fleet.calls(path, a)).sum()
}

/// One campaign over `n` apps to its end; answers the seconds until every app was submitted.
async fn campaign(fleet: &Fleet, appids: &[AuthorizerAppId], racing: bool) -> (String, f64) {
    let created = fleet
        .create(json!({
            "template_id": fleet.template_id,
            "user_version": "2.0.0",
            "user_desc": "the benchmark's release",
            "ext_json": {"extAppid": "{{appid}}"},
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    run_all(fleet, racing).await;
    fleet.advance(PRIVACY_DELAY + 1);
    run_all(fleet, racing).await;
    let submitted = started.elapsed().as_secs_f64();
    if !racing {
        let campaign = fleet.campaign(&id).await;
        assert_eq!(
            campaign["counts"]["auditing"],
            appids.len(),
            "every app submitted: {campaign}"
        );
    }
    fleet.advance(AUDIT_DELAY + 1);
    for (appid, pushed) in fleet.app.sim.deliver_due_audits().await {
        assert!(pushed.is_ok(), "push for {appid}");
    }
    run_all(fleet, racing).await;
    (id, submitted)
}

fn report(label: &str, fleet: &Fleet, n: usize, dynamodb: usize, submitted: f64) {
    let wechat = fleet.app.sim.calls().len();
    println!(
        "campaign bench: {label}: {n} apps, {:.1} DynamoDB requests and {:.1} WeChat calls per app, every app submitted after {submitted:.1} s",
        dynamodb as f64 / n as f64,
        wechat as f64 / n as f64,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: make bench"]
async fn one_worker_without_faults_makes_one_commit_submission_and_release_per_app() {
    let n = apps();
    let (fleet, requests) = fleet(|config| config.audit_quota = 1_000_000).await;
    let appids = fleet.mini_programs(n).await;
    requests.take();
    fleet.app.sim.clear_calls();
    let (id, submitted) = campaign(&fleet, &appids, false).await;
    let dynamodb = requests.take();
    assert_eq!(fleet.campaign(&id).await["state"], "done");
    for appid in &appids {
        for path in ["/wxa/commit", "/wxa/submit_audit", "/wxa/release"] {
            assert_eq!(fleet.calls(path, appid), 1, "{path} for {appid}");
        }
    }
    report("one worker, no faults", &fleet, n, dynamodb, submitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: make bench"]
async fn two_workers_racing_through_wechat_bursts_submit_and_release_each_app_once() {
    let n = apps();
    let (fleet, requests) = fleet(|config| config.audit_quota = 1_000_000).await;
    let appids = fleet.mini_programs(n).await;
    requests.take();
    fleet.app.sim.clear_calls();
    // Bursts: WeChat busy on commits and privacy checks, HTTP 500 on submissions and releases.
    let burst = Times::Next(u32::try_from(n / 20).unwrap_or(100).max(5));
    let sim = &fleet.app.sim;
    sim.inject("/wxa/commit", Fault::Errcode { errcode: -1 }, burst);
    sim.inject(
        "/wxa/security/get_code_privacy_info",
        Fault::Errcode { errcode: -1 },
        burst,
    );
    sim.inject("/wxa/submit_audit", Fault::Status { status: 500 }, burst);
    sim.inject("/wxa/release", Fault::Status { status: 500 }, burst);
    let (id, submitted) = campaign(&fleet, &appids, true).await;
    // Apps whose step met a burst are due again later: run until the campaign is done.
    for _ in 0..20 {
        if fleet.campaign(&id).await["state"] == "done" {
            break;
        }
        fleet.advance(worker_settings().retry_max_secs);
        fleet.app.sim.deliver_due_audits().await;
        run_all(&fleet, true).await;
    }
    let dynamodb = requests.take();
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "done", "{campaign}");
    assert_eq!(campaign["counts"]["released"], n, "{campaign}");
    // The sim's quota counts the audits it accepted: one per app, none twice.
    let quota = fleet
        .app
        .service
        .with_authorizer_token(&appids[0], |client, token| async move {
            client.query_quota(&token).await
        })
        .await
        .unwrap();
    assert_eq!(quota.limit - quota.rest, i64::try_from(n).unwrap());
    for appid in &appids {
        assert_eq!(
            fleet.app.sim.released_version(appid.as_str()).as_deref(),
            Some("2.0.0"),
            "{appid}"
        );
    }
    println!(
        "campaign bench: bursts: {} commits, {} submissions, {} releases sent for {n} apps",
        total(&fleet, "/wxa/commit", &appids),
        total(&fleet, "/wxa/submit_audit", &appids),
        total(&fleet, "/wxa/release", &appids),
    );
    report("two workers, WeChat bursts", &fleet, n, dynamodb, submitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: make bench"]
async fn a_quota_spent_half_way_pauses_the_campaign_and_the_next_month_finishes_it() {
    let n = apps();
    let half = i64::try_from(n / 2).unwrap();
    let (fleet, _requests) = fleet(|config| config.audit_quota = 1_000_000).await;
    let appids = fleet.mini_programs(n).await;
    fleet.app.sim.set_audit_quota_rest(half);
    let created = fleet
        .create(json!({
            "template_id": fleet.template_id,
            "user_version": "2.0.0",
            "user_desc": "the benchmark's release",
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    run_all(&fleet, false).await;
    fleet.advance(PRIVACY_DELAY + 1);
    run_all(&fleet, false).await;
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "paused", "{campaign}");
    assert_eq!(campaign["counts"]["auditing"], half, "{campaign}");
    assert_eq!(
        total(&fleet, "/wxa/submit_audit", &appids),
        n / 2,
        "no submission beyond the quota"
    );
    // The next month (Beijing time): the quota is back, the campaign resumes by itself.
    fleet.advance(32 * 86_400);
    fleet.app.store_fresh_ticket().await;
    for _ in 0..3 {
        run_all(&fleet, false).await;
        fleet.advance(AUDIT_DELAY + 1);
        fleet.app.sim.deliver_due_audits().await;
    }
    run_all(&fleet, false).await;
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "done", "{campaign}");
    assert_eq!(campaign["counts"]["released"], n, "{campaign}");
    println!(
        "campaign bench: quota: paused at {half} of {n} submitted; the next month finished it"
    );
}
