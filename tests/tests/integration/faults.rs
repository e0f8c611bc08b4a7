//! Faults end to end, through the functions' real handlers, against DynamoDB Local and the WeChat
//! simulator's fault switches. For each fault: what the caller sees, what is stored, what is
//! logged (through the functions' own filter at TRACE), and that nothing is lost.
//!
//! Each test captures its own logs (a current-thread runtime and a thread-local subscriber), and
//! ends by checking that no secret the simulator minted or was given reached them.

use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use tracing::subscriber::DefaultGuard;
use wxcomponent::AuthorizerAppId;
use wxcomponent::store::{AuthorizerStore, TicketStore};
use wxcomponent_tests::app::{START, TestApp, random_appid};
use wxcomponent_tests::callbacks::{Callbacks, authorized_xml, body_text, ticket_xml};
use wxcomponent_tests::dynamodb_local::OwnDynamoDbLocal;
use wxcomponent_tests::logs::{LogBuffer, assert_no_secret, production_filter_at_trace};
use wxcomponent_tests::provider_api::{ProviderApi, error_code, json_of};
use wxcomponent_tests::refresh::{refresher, seed_authorizers};
use wxcomponent_tests::sim::{Fault, SimConfig, Times};

const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const PREAUTHCODE: &str = "/cgi-bin/component/api_create_preauthcode";
const QUERY_QUOTA: &str = "/wxa/queryquota";
const PC_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0";

/// The test's log capture: every record of this thread, through the production filter at TRACE.
struct Logs {
    buffer: LogBuffer,
    _guard: DefaultGuard,
}

impl Logs {
    fn capture() -> Self {
        let buffer = LogBuffer::default();
        let guard =
            tracing::subscriber::set_default(buffer.subscriber(production_filter_at_trace()));
        Self {
            buffer,
            _guard: guard,
        }
    }

    fn text(&self) -> String {
        self.buffer.text()
    }

    /// The lines that contain `needle`; fails if there is none.
    fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = self.text();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect();
        assert!(
            !lines.is_empty(),
            "no log line contains {needle:?}:\n{text}"
        );
        lines
    }
}

/// The ticket the platform holds.
async fn stored_ticket(app: &TestApp) -> String {
    let ticket = app.store.latest_ticket(&app.component).await.unwrap();
    ticket
        .expect("a ticket is stored")
        .value
        .expose()
        .to_owned()
}

fn token_route(appid: &AuthorizerAppId) -> String {
    format!("/authorizers/{appid}/access-token")
}

/// Every refresh token and version stored for `appids`: what a failed refresh must leave as it was.
async fn refresh_tokens(app: &TestApp, appids: &[AuthorizerAppId]) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    for appid in appids {
        let a = app.stored_authorizer(appid).await;
        found.push((a.refresh_token.expose().to_owned(), a.refresh_token_version));
    }
    found
}

// ----- WeChat's faults ---------------------------------------------------------------------------

#[tokio::test]
async fn an_answer_lost_past_the_timeout_gets_a_503_and_the_retry_recovers_the_authorization() {
    let logs = Logs::capture();
    let app = TestApp::spawn_with(
        SimConfig::random(),
        |s| s.wait_for_authorization = Duration::from_millis(200),
        |c| c.timeout = Duration::from_millis(300),
    )
    .await;
    let c = Callbacks::on(app, |_| {});
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    let code = c.app.sim.authorize(&merchant);
    // WeChat spends the code, but its answer comes after the client gave up.
    c.app.sim.inject(
        QUERY_AUTH,
        Fault::late_answer(Duration::from_millis(1_000)),
        Times::Next(1),
    );
    let push = c.signed_push(
        &authorized_xml(
            c.app.component.as_str(),
            "authorized",
            c.app.now(),
            &merchant,
            &code,
        ),
        None,
    );

    // The caller (WeChat) sees a 503 and will retry; nothing is stored.
    let first = c.push("/wechat/component", &push).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        c.app
            .store
            .authorizer(&c.app.component, &appid)
            .await
            .unwrap()
            .is_none()
    );
    logs.lines_with("timed out");
    logs.lines_with("push failed; WeChat will retry");

    // WeChat's retry: the code is spent, yet the refresh token is recovered from WeChat.
    let retry = c.push("/wechat/component", &push).await;
    assert_eq!(retry.status(), StatusCode::OK, "{}", body_text(&retry));
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(
        Some(stored.refresh_token.expose().to_owned()),
        c.app.sim.refresh_token_of(&merchant)
    );
    assert!(
        stored.account.is_some(),
        "the profile came with the recovery"
    );
    // The stored access token works: the API hands it out without another refresh.
    let api = ProviderApi::on(&c.app);
    let refreshes = c.app.sim.call_count(AUTHORIZER_TOKEN);
    let token = api.get(&token_route(&appid)).await;
    assert_eq!(token.status(), StatusCode::OK);
    assert_eq!(
        json_of(&token)["access_token"],
        stored.access_token.value.expose()
    );
    assert_eq!(c.app.sim.call_count(AUTHORIZER_TOKEN), refreshes);
    logs.lines_with("authorization recovered");
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}

#[tokio::test]
async fn busy_bursts_are_absorbed_by_retries_and_a_lasting_busy_is_a_502_that_changes_nothing() {
    let logs = Logs::capture();
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 2, START + 60).await;
    let api = ProviderApi::on(&app);

    // Two -1 in a row: the client's retries absorb them.
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(-1), Times::Next(2));
    let before = app.sim.call_count(AUTHORIZER_TOKEN);
    let ok = api.get(&token_route(&due[0])).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), before + 3);

    // -1 for good: a 502 naming the errcode; the stored refresh token is untouched.
    let kept = refresh_tokens(&app, &due[1..]).await;
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(-1), Times::Always);
    let busy = api.get(&token_route(&due[1])).await;
    assert_eq!(busy.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error_code(&busy), "wechat_error");
    assert!(
        json_of(&busy)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("errcode -1")
    );
    assert_eq!(refresh_tokens(&app, &due[1..]).await, kept);
    logs.lines_with("errcode=-1");
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn wechat_5xx_fails_a_refresh_run_without_losing_a_token_and_the_next_run_catches_up() {
    let logs = Logs::capture();
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 5, START + 60).await;
    let kept = refresh_tokens(&app, &due).await;
    let handler = token_refresher::RefreshHandler::new(refresher(&app, |_| {}), 4);

    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::status(502), Times::Always);
    let failed = handler.run(Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(failed.summary.due, 5);
    assert_eq!(failed.summary.refreshed, 0);
    assert_eq!(failed.summary.failed, 5);
    assert_eq!(refresh_tokens(&app, &due).await, kept);
    assert!(
        failed.metrics_line.contains("\"RefreshFailed\":5.0"),
        "{}",
        failed.metrics_line
    );
    logs.lines_with("HTTP 502");

    app.sim.clear_faults();
    let next = handler.run(Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(next.summary.refreshed, 5);
    assert_eq!(next.summary.failed, 0);
    for appid in &due {
        let a = app.stored_authorizer(appid).await;
        assert!(
            a.access_token.expires_at > START + 3600,
            "{appid} was refreshed"
        );
    }
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn quota_45009_is_a_429_naming_the_reset_for_the_api_and_counted_by_the_refresher() {
    let logs = Logs::capture();
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (account, _) = app.authorized_account().await;
    let api = ProviderApi::on(&app);

    app.sim
        .inject(QUERY_QUOTA, Fault::errcode(45009), Times::Next(1));
    let quota = api
        .get(&format!("/authorizers/{account}/audit/quota"))
        .await;
    assert_eq!(quota.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&quota), "wechat_quota");
    let message = json_of(&quota)["error"]["message"].to_string();
    assert!(
        message.contains("45009") && message.contains("clear_quota"),
        "{message}"
    );

    let due = seed_authorizers(&app, 3, START + 60).await;
    let kept = refresh_tokens(&app, &due).await;
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(45009), Times::Always);
    let handler = token_refresher::RefreshHandler::new(refresher(&app, |_| {}), 2);
    let run = handler.run(Instant::now() + Duration::from_secs(60)).await;
    assert_eq!(run.summary.failed_by_errcode.get("45009"), Some(&3));
    assert!(run.metrics_line.contains("45009"), "{}", run.metrics_line);
    assert_eq!(refresh_tokens(&app, &due).await, kept);
    logs.lines_with("errcode 45009");
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn dropped_connections_are_retried_and_a_dead_wechat_gets_the_merchant_a_try_again_page() {
    let logs = Logs::capture();
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;

    c.app.sim.inject(PREAUTHCODE, Fault::Drop, Times::Next(1));
    let go = c
        .get_auth("/auth/go", "auth_type=3", &[("user-agent", PC_UA)])
        .await;
    assert_eq!(go.status(), StatusCode::FOUND);

    c.app.sim.inject(PREAUTHCODE, Fault::Drop, Times::Always);
    let down = c
        .get_auth("/auth/go", "auth_type=3", &[("user-agent", PC_UA)])
        .await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body_text(&down).contains("请稍后再试"),
        "a Chinese page asking to try again"
    );
    logs.lines_with("could not start an authorization");
    logs.lines_with("connection failed");
    assert_no_secret(&body_text(&down), &c.app.sim.secrets());
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}

#[tokio::test]
async fn ip_not_whitelisted_61004_names_the_fix_to_the_caller_and_in_the_logs() {
    let logs = Logs::capture();
    let c = Callbacks::spawn().await;
    let app = &c.app;
    let due = seed_authorizers(app, 1, START + 60).await.remove(0);
    app.sim
        .inject(COMPONENT_TOKEN, Fault::errcode(61004), Times::Always);

    // A ticket push needs no WeChat call: it is still stored.
    let ticket = app.sim.issue_ticket();
    let pushed = c
        .push_component_event(&ticket_xml(app.component.as_str(), app.now(), &ticket))
        .await;
    assert_eq!(pushed.status(), StatusCode::OK);
    assert_eq!(stored_ticket(app).await, ticket);

    // The API names the fix.
    let api = ProviderApi::on(app);
    let refused = api.get(&token_route(&due)).await;
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error_code(&refused), "wechat_ip_not_whitelisted");
    let message = json_of(&refused)["error"]["message"].to_string();
    assert!(
        message.contains("61004") && message.contains("EgressIp"),
        "{message}"
    );

    // So do the refresher's and the auth page's log lines.
    let handler = token_refresher::RefreshHandler::new(refresher(app, |_| {}), 1);
    let run = handler.run(Instant::now() + Duration::from_secs(60)).await;
    assert!(
        run.summary.failed_by_errcode.contains_key("61004"),
        "{:?}",
        run.summary
    );
    let go = c
        .get_auth("/auth/go", "auth_type=3", &[("user-agent", PC_UA)])
        .await;
    assert_eq!(go.status(), StatusCode::SERVICE_UNAVAILABLE);
    let fixes = logs.lines_with("EgressIp");
    assert!(
        fixes
            .iter()
            .any(|l| l.contains("could not start an authorization"))
    );
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

// ----- DynamoDB's faults -------------------------------------------------------------------------

#[tokio::test]
async fn dynamodb_killed_mid_run_gets_503s_for_pushes_writes_nothing_and_recovers_when_back() {
    let logs = Logs::capture();
    let mut ddb = OwnDynamoDbLocal::start().await;
    let app = TestApp::spawn_on(ddb.client().await, SimConfig::random(), |_| {}, |_| {}).await;
    let c = Callbacks::on(app, |_| {});
    let app = &c.app;
    let component = app.component.as_str();
    let first = app.sim.issue_ticket();
    let pushed = c
        .push_component_event(&ticket_xml(component, app.now(), &first))
        .await;
    assert_eq!(pushed.status(), StatusCode::OK);
    let (kept, grant) = app.authorized_account().await;

    ddb.kill();

    // Pushes: 503, so that WeChat delivers them again.
    app.clock.advance(600);
    let second = app.sim.issue_ticket();
    let ticket_push = c.signed_push(&ticket_xml(component, app.now(), &second), None);
    let r = c.push("/wechat/component", &ticket_push).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let merchant = random_appid();
    let code = app.sim.authorize(&merchant);
    let auth_push = c.signed_push(
        &authorized_xml(component, "authorized", app.now(), &merchant, &code),
        None,
    );
    let r = c.push("/wechat/component", &auth_push).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Nothing half-done: the code was not spent at WeChat (the claim failed first).
    assert_eq!(app.sim.call_count(QUERY_AUTH), 0);
    logs.lines_with("push failed; WeChat will retry");

    // The API: a 500 with no detail; the refresher: a failed run, nothing else.
    let api = ProviderApi::on(app);
    let listed = api.get("/authorizers").await;
    assert_eq!(listed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&listed), "internal_error");
    let handler = token_refresher::RefreshHandler::new(refresher(app, |_| {}), 2);
    let run = handler.run(Instant::now() + Duration::from_secs(60)).await;
    assert!(run.summary.failed >= 1, "{:?}", run.summary);

    ddb.restart().await;

    // What was stored before survived; WeChat's retries now land, once.
    let before = app.stored_authorizer(&kept).await;
    assert_eq!(before.refresh_token.expose(), grant.refresh_token);
    assert_eq!(stored_ticket(app).await, first);
    for _ in 0..2 {
        let r = c.push("/wechat/component", &ticket_push).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = c.push("/wechat/component", &auth_push).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(stored_ticket(app).await, second);
    let authorized = app
        .stored_authorizer(&AuthorizerAppId::parse(&merchant).unwrap())
        .await;
    assert_eq!(
        Some(authorized.refresh_token.expose().to_owned()),
        app.sim.refresh_token_of(&merchant)
    );
    assert_eq!(
        app.sim.call_count(QUERY_AUTH),
        1,
        "the code was exchanged once"
    );
    assert_eq!(api.get("/authorizers").await.status(), StatusCode::OK);
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn a_dynamodb_that_stops_answering_is_a_503_within_the_sdk_timeouts_not_a_hung_push() {
    let logs = Logs::capture();
    let ddb = OwnDynamoDbLocal::start().await;
    let app = TestApp::spawn_on(ddb.client().await, SimConfig::random(), |_| {}, |_| {}).await;
    let c = Callbacks::on(app, |_| {});
    let component = c.app.component.as_str();

    ddb.freeze();
    let ticket = c.app.sim.issue_ticket();
    let push = c.signed_push(&ticket_xml(component, c.app.now(), &ticket), None);
    // A liveness guard, not a speed check: without the SDK's timeouts this would hang.
    let frozen = tokio::time::timeout(Duration::from_secs(60), c.push("/wechat/component", &push))
        .await
        .expect("the push is answered while DynamoDB does not answer");
    assert_eq!(frozen.status(), StatusCode::SERVICE_UNAVAILABLE);
    logs.lines_with("push failed; WeChat will retry");

    ddb.thaw();
    let retried = c.push("/wechat/component", &push).await;
    assert_eq!(retried.status(), StatusCode::OK);
    assert_eq!(stored_ticket(&c.app).await, ticket);
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}
