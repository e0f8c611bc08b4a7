//! What the hot paths cost in DynamoDB requests, counted at the SDK with an interceptor on the real
//! client against DynamoDB Local: a warm ticket push makes one write and no WeChat call; refreshing
//! a due authorizer token makes two requests (a claim that reads the record, and a write that gives
//! the lease back), and a refresher run one more to record itself; an API call whose token needs
//! refreshing makes three.

use std::time::Instant;

use wxcomponent::service::RefreshOutcome;
use wxcomponent::store::TicketStore;
use wxcomponent_tests::app::{START, TestApp};
use wxcomponent_tests::callbacks::{Callbacks, body_text, ticket_xml};
use wxcomponent_tests::refresh::{refresher, seed_authorizers};
use wxcomponent_tests::requests::counting;

const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";

#[tokio::test]
async fn a_warm_ticket_push_makes_one_dynamodb_write_and_no_wechat_call() {
    let (app, requests) = counting(TestApp::spawn().await);
    let c = Callbacks::on(app, |_| {});
    let component = c.app.component.to_string();

    // Warm up: the first push of the process.
    let first = c.app.sim.issue_ticket();
    let warm_up = c
        .push_component_event(&ticket_xml(&component, c.app.now(), &first))
        .await;
    assert_eq!(warm_up.status(), 200);
    requests.take();

    c.app.clock.advance(600);
    let ticket = c.app.sim.issue_ticket();
    let response = c
        .push_component_event(&ticket_xml(&component, c.app.now(), &ticket))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
    assert_eq!(requests.take(), vec!["PutItem"], "one write, no read");
    assert!(c.app.sim.calls().is_empty(), "no WeChat call");
    let stored = c
        .app
        .store
        .latest_ticket(&c.app.component)
        .await
        .unwrap()
        .expect("the ticket is stored");
    assert_eq!(stored.value.expose(), ticket, "that one write stored it");
}

#[tokio::test]
async fn refreshing_a_due_authorizer_token_makes_two_dynamodb_requests() {
    let (app, requests) = counting(TestApp::spawn().await);
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.clock.advance(7200 - 600);
    // The worker holds a component token (as a warm worker does); this one is refreshed now.
    app.service.component_token().await.unwrap();
    requests.take();

    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;

    assert_eq!(
        outcome,
        RefreshOutcome::Refreshed {
            expires_at: app.now() + 7200
        }
    );
    assert_eq!(
        requests.take(),
        vec!["UpdateItem", "UpdateItem"],
        "the claim, then the write that gives the lease back"
    );
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
    assert_eq!(
        app.stored_authorizer(&appid).await.access_token.expires_at,
        app.now() + 7200
    );

    // Not due: the claim alone answers, and nothing else is read.
    requests.take();
    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;
    assert_eq!(outcome, RefreshOutcome::NotDue);
    assert_eq!(requests.take(), vec!["UpdateItem"]);
}

#[tokio::test]
async fn an_api_call_reads_once_for_a_fresh_token_and_three_times_when_it_refreshes() {
    let (app, requests) = counting(TestApp::spawn().await);
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    app.service.component_token().await.unwrap();
    requests.take();

    let token = app.service.authorizer_token(&appid).await.unwrap();
    assert_eq!(token.secret().expose(), grant.access_token);
    assert_eq!(requests.take(), vec!["GetItem"], "one read");

    // Within the refresh margin: the read, the claim and the write.
    app.clock.advance(7200 - 600);
    app.service.component_token().await.unwrap();
    requests.take();
    let token = app.service.authorizer_token(&appid).await.unwrap();
    assert_ne!(token.secret().expose(), grant.access_token);
    assert_eq!(requests.take(), vec!["GetItem", "UpdateItem", "UpdateItem"]);
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresher_run_makes_two_requests_per_due_token_beside_a_fixed_few() {
    const DUE: usize = 40;
    let (app, requests) = counting(TestApp::spawn().await);
    app.store_fresh_ticket().await;
    app.service.component_token().await.unwrap();
    seed_authorizers(&app, DUE, START + 60).await;
    requests.take();

    let summary = refresher(&app, |_| {})
        .refresh_due(Instant::now() + std::time::Duration::from_secs(60), 8)
        .await;

    assert_eq!(summary.refreshed, DUE as u64, "{summary:?}");
    let sent = requests.take();
    let count = |operation: &str| sent.iter().filter(|o| **o == operation).count();
    assert_eq!(count("UpdateItem"), 2 * DUE, "{sent:?}");
    // The ticket, the component token and its availability check; one due query per shard.
    assert!(count("GetItem") <= 3, "{sent:?}");
    assert!(count("Query") <= 8 + 1, "{sent:?}");
    // The run's record, for the console.
    assert_eq!(count("PutItem"), 1, "{sent:?}");
    assert_eq!(
        sent.len(),
        count("UpdateItem") + count("GetItem") + count("Query") + count("PutItem"),
        "nothing else: {sent:?}"
    );
}
