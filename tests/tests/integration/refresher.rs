//! The token refresher over real HTTP to the simulator and DynamoDB Local: what one run
//! refreshes, how it treats WeChat's errcodes, the ticket, the deadline, and overlapping runs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use token_refresher::RefreshHandler;
use wxcomponent::service::{ComponentTokenStep, RefreshSummary};
use wxcomponent::store::AuthorizerStatus;
use wxcomponent::{AuthorizerAppId, Clock};
use wxcomponent_tests::app::{START, TestApp};
use wxcomponent_tests::refresh::{refresher, seed_authorizers};
use wxcomponent_tests::sim::{Fault, SimConfig, Times};

const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const START_PUSH_TICKET: &str = "/cgi-bin/component/api_start_push_ticket";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";

fn in_a_minute() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// How many api_authorizer_token calls each authorizer got.
fn refresh_calls_by_appid(app: &TestApp) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for call in app.sim.calls_to(AUTHORIZER_TOKEN) {
        let appid = call
            .body
            .as_ref()
            .and_then(|b| b["authorizer_appid"].as_str())
            .unwrap_or_default()
            .to_owned();
        *counts.entry(appid).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn one_run_refreshes_the_component_token_and_every_due_authorizer_and_leaves_the_rest() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 5, START + 60).await;
    let later = seed_authorizers(&app, 3, START + 7000).await;
    let run = refresher(&app, |_| {});

    let summary = run.refresh_due(in_a_minute(), 4).await;

    assert_eq!(summary.component_token, ComponentTokenStep::Refreshed);
    assert_eq!(summary.ticket_age_secs, Some(0));
    assert!(!summary.ticket_push_requested);
    assert_eq!((summary.due, summary.refreshed, summary.failed), (5, 5, 0));
    assert_eq!(summary.skipped.total(), 0);
    assert!(!summary.stopped_early);
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 1);
    let calls = refresh_calls_by_appid(&app);
    assert_eq!(calls.len(), 5);
    for appid in &due {
        assert_eq!(calls.get(appid.as_str()), Some(&1));
        assert!(app.stored_authorizer(appid).await.access_token.expires_at > START + 7000);
    }
    for appid in &later {
        assert_eq!(
            app.stored_authorizer(appid).await.access_token.expires_at,
            START + 7000
        );
    }

    let again = run.refresh_due(in_a_minute(), 4).await;
    assert_eq!(again.component_token, ComponentTokenStep::NotDue);
    assert_eq!((again.due, again.refreshed), (0, 0));
    assert_eq!(app.sim.calls_to(AUTHORIZER_TOKEN).len(), 5);
    app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn errcodes_61023_and_61003_mark_the_authorizer_other_errcodes_are_counted_and_the_run_goes_on()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    // Only `quota` is due at first, so the injected quota error is its.
    let quota = seed_authorizers(&app, 1, START + 10).await.remove(0);
    let fine = seed_authorizers(&app, 1, START + 1000).await.remove(0);
    let lost = seed_authorizers(&app, 1, START + 1000).await.remove(0);
    app.store_authorizer(
        &lost,
        "atoken-x",
        START + 1000,
        "refreshtoken@@@not-the-current-one",
    )
    .await;
    // WeChat has no other refresh token for `lost` either: the recovery finds nothing.
    app.sim.inject(
        "/cgi-bin/component/api_get_authorizer_info",
        Fault::errcode(61023),
        Times::Always,
    );
    let revoked = seed_authorizers(&app, 1, START + 1000).await.remove(0);
    app.sim.revoke(revoked.as_str());
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(45009), Times::Next(1));

    let failed = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert_eq!((failed.due, failed.refreshed, failed.failed), (1, 0, 1));
    assert_eq!(failed.failed_by_errcode, [("45009".to_owned(), 1)].into());

    // Now all four are due: the failed one again, and the run goes past 61023 and 61003.
    app.clock.advance(200);
    let summary = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert_eq!(summary.due, 4);
    assert_eq!(summary.refreshed, 2);
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.reauthorization_required, 1);
    assert_eq!(summary.unauthorized, 1);
    assert_eq!(
        app.stored_authorizer(&lost).await.status,
        AuthorizerStatus::ReauthorizationRequired
    );
    assert_eq!(
        app.stored_authorizer(&revoked).await.status,
        AuthorizerStatus::Unauthorized
    );
    for appid in [&quota, &fine] {
        let stored = app.stored_authorizer(appid).await;
        assert_eq!(stored.status, AuthorizerStatus::Authorized);
        assert!(stored.access_token.expires_at > START + 7000);
    }

    // The marked ones left the due index.
    let next = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert_eq!(next.due, 0);
}

#[tokio::test]
async fn a_stale_ticket_asks_for_a_push_and_without_a_component_token_authorizers_wait() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let first = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert_eq!(first.component_token, ComponentTokenStep::Refreshed);
    assert_eq!(app.sim.push_ticket_requests(), 0);

    // Two pushes missed: the run asks for one, once per interval.
    app.clock.advance(25 * 60);
    let stale = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert_eq!(stale.ticket_age_secs, Some(25 * 60));
    assert!(stale.ticket_push_requested);
    assert_eq!(app.sim.push_ticket_requests(), 1);
    let soon_after = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert!(!soon_after.ticket_push_requested);
    assert_eq!(app.sim.push_ticket_requests(), 1);

    // No ticket at all and the component token gone: nothing can be refreshed.
    app.clock.advance(13 * 3600);
    seed_authorizers(&app, 2, app.now() + 60).await;
    let calls_before = app.sim.calls_to(AUTHORIZER_TOKEN).len();
    let stuck = refresher(&app, |_| {}).refresh_due(in_a_minute(), 4).await;
    assert_eq!(stuck.ticket_age_secs, None);
    assert!(stuck.ticket_push_requested);
    assert_eq!(stuck.component_token, ComponentTokenStep::Failed);
    assert_eq!((stuck.due, stuck.skipped.deferred), (2, 2));
    assert!(stuck.failed >= 1);
    assert_eq!(app.sim.calls_to(AUTHORIZER_TOKEN).len(), calls_before);
    assert_eq!(app.sim.call_count(START_PUSH_TICKET), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_refresh_starts_once_the_deadline_is_near_and_the_next_run_does_the_rest() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    seed_authorizers(&app, 20, START + 60).await;
    // A reserve longer than one refresh, as it must be: each refresh is bounded by it.
    app.sim.inject(
        AUTHORIZER_TOKEN,
        Fault::latency(Duration::from_millis(400)),
        Times::Always,
    );
    let run = refresher(&app, |s| s.stop_before = Duration::from_secs(1));

    let started = Instant::now();
    let cut_short = run
        .refresh_due(started + Duration::from_millis(4000), 2)
        .await;

    assert!(cut_short.stopped_early, "{cut_short:?}");
    assert!(
        cut_short.refreshed > 0 && cut_short.refreshed < 20,
        "{cut_short:?}"
    );
    assert_eq!(
        cut_short.refreshed + cut_short.skipped.deferred,
        cut_short.due
    );
    // No refresh started after the cut-off: WeChat saw one call per refresh the run counted.
    assert_eq!(
        app.sim.calls_to(AUTHORIZER_TOKEN).len() as u64,
        cut_short.refreshed
    );

    let rest = run.refresh_due(in_a_minute(), 2).await;
    assert!(!rest.stopped_early);
    assert_eq!(cut_short.refreshed + rest.refreshed, 20);
    assert_eq!(app.sim.calls_to(AUTHORIZER_TOKEN).len(), 20);
}

#[tokio::test]
async fn a_deadline_shorter_than_the_reserve_keeps_a_quarter_of_the_budget_and_still_refreshes() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 3, START + 60).await;
    // The production reserve (25 s) is longer than this run's whole budget.
    let run = refresher(&app, |s| s.stop_before = Duration::from_secs(25));

    let summary = run
        .refresh_due(Instant::now() + Duration::from_secs(8), 2)
        .await;

    assert!(!summary.stopped_early, "{summary:?}");
    assert_eq!((summary.due, summary.refreshed), (3, 3), "{summary:?}");
    for appid in &due {
        assert!(app.stored_authorizer(appid).await.access_token.expires_at > START + 7000);
    }
}

#[tokio::test]
async fn one_refresh_is_bounded_by_the_reserve_and_not_retried_past_it() {
    let app = TestApp::spawn_with(
        SimConfig::random(),
        |_| {},
        // The client alone would wait 10 s per attempt and retry for 20 s.
        |c| {
            c.timeout = Duration::from_secs(10);
            c.retry.max_elapsed = Duration::from_secs(20);
        },
    )
    .await;
    app.store_fresh_ticket().await;
    seed_authorizers(&app, 1, START + 60).await;
    app.sim.inject(
        AUTHORIZER_TOKEN,
        Fault::latency(Duration::from_secs(30)),
        Times::Always,
    );
    // A 4 s run keeps 1 s in reserve; a refresh's WeChat calls get 0.8 s of it.
    let run = refresher(&app, |s| s.stop_before = Duration::from_secs(25));

    let summary = run
        .refresh_due(Instant::now() + Duration::from_secs(4), 2)
        .await;

    assert_eq!((summary.due, summary.failed), (1, 1), "{summary:?}");
    assert_eq!(summary.failed_by_errcode, [("other".to_owned(), 1)].into());
    assert_eq!(
        app.sim.call_count(AUTHORIZER_TOKEN),
        1,
        "the timed-out call was not retried past the refresh's budget"
    );
}

async fn two_concurrent_runs(
    app: &TestApp,
    concurrency: usize,
) -> (RefreshSummary, RefreshSummary) {
    let a = refresher(app, |_| {});
    let b = refresher(app, |_| {});
    let (a, b) = tokio::join!(
        tokio::spawn(async move { a.refresh_due(in_a_minute(), concurrency).await }),
        tokio::spawn(async move { b.refresh_due(in_a_minute(), concurrency).await }),
    );
    (a.expect("run a"), b.expect("run b"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_overlapping_runs_over_two_hundred_due_authorizers_make_exactly_one_call_per_token() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 200, START + 60).await;
    app.sim.inject(
        AUTHORIZER_TOKEN,
        Fault::latency(Duration::from_millis(20)),
        Times::Always,
    );

    let (a, b) = two_concurrent_runs(&app, 16).await;

    assert_eq!(a.refreshed + b.refreshed, 200, "{a:?} {b:?}");
    assert_eq!(a.failed + b.failed, 0);
    // Both did work: the run that found the component token being refreshed waited for it
    // instead of leaving its authorizers for the next run.
    assert!(a.refreshed > 0 && b.refreshed > 0, "{a:?} {b:?}");
    assert_eq!(a.skipped.deferred + b.skipped.deferred, 0);
    let calls = refresh_calls_by_appid(&app);
    assert_eq!(calls.len(), 200);
    assert!(calls.values().all(|&n| n == 1), "{calls:?}");
    assert!(app.sim.call_count(COMPONENT_TOKEN) <= 1);
    for appid in due.iter().take(10) {
        assert!(app.stored_authorizer(appid).await.access_token.expires_at > START + 7000);
    }
}

#[tokio::test]
async fn the_handler_uses_the_invocation_deadline_and_returns_the_summary_it_printed_as_emf() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due: Vec<AuthorizerAppId> = seed_authorizers(&app, 3, START + 60).await;
    let handler = RefreshHandler::new(refresher(&app, |_| {}), 2);

    let mut context = Context::default();
    // As Lambda sets it, by the clock the function reads it with.
    context.deadline = u64::try_from(app.clock.now_millis()).unwrap() + 60_000;
    let returned = handler
        .handle(LambdaEvent::new(
            json!({"source": "aws.scheduler"}),
            context,
        ))
        .await
        .unwrap();
    assert_eq!(returned["due"], 3);
    assert_eq!(returned["refreshed"], 3);
    assert_eq!(returned["failed_by_errcode"], json!({}));

    // The same figures, as the EMF line of the next (empty) run.
    let invocation = handler.run(in_a_minute()).await;
    let line: Value = serde_json::from_str(&invocation.metrics_line).unwrap();
    assert_eq!(line["ComponentAppId"], app.component.as_str());
    assert_eq!(line["Due"], 0.0);
    assert_eq!(line["TicketAgeSeconds"], 0.0);
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "WeChatComponent"
    );
    assert!(!invocation.metrics_line.contains("atoken-"));
    assert_eq!(due.len(), 3);
}

#[tokio::test]
async fn the_handler_takes_a_deadline_already_past_on_arrival_for_none_as_cargo_lambda_watch_sends_it()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    seed_authorizers(&app, 2, START + 60).await;
    let handler = RefreshHandler::new(refresher(&app, |_| {}), 2);

    // What `cargo lambda watch` sends with every invocation: 600,000 ms after the epoch.
    let mut context = Context::default();
    context.deadline = 600_000;
    let returned = handler
        .handle(LambdaEvent::new(json!({}), context))
        .await
        .unwrap();

    assert_eq!(returned["stopped_early"], false, "{returned}");
    assert_eq!(returned["due"], 2, "{returned}");
    assert_eq!(returned["refreshed"], 2, "{returned}");
}
