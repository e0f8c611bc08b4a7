//! A refresh token, once WeChat has rotated it, exists nowhere but in the answer: these tests pin
//! what keeps it. Over real HTTP to the simulator and real DynamoDB Local: a failed versioned
//! write is tried again (and reported loudly, without the secret, when it cannot be done); the
//! WeChat calls under a refresh lease end before the lease lapses, so no second worker calls
//! WeChat meanwhile; and a refresh token WeChat refuses (61023) is recovered from
//! `api_get_authorizer_info` before the authorizer is marked.

use std::sync::Arc;
use std::time::Duration;

use tracing::instrument::WithSubscriber;
use wxcomponent::service::{RefreshOutcome, TokenError, TokenService, TokenSettings};
use wxcomponent::store::{
    AuthorizationGrant, AuthorizerStatus, AuthorizerStore, DynamoStore, ExpiringToken, Ticket,
    TicketStore,
};
use wxcomponent::wechat::{WechatClient, WechatError};
use wxcomponent::{AuthorizerAppId, ComponentAppId, Secret, SystemClock};
use wxcomponent_tests::app::{TestApp, dynamodb_client, fresh_table, random_appid, test_settings};
use wxcomponent_tests::logs::{LogBuffer, production_filter_at_trace};
use wxcomponent_tests::sim::{Fault, SimConfig, Times, WechatSim};
use wxcomponent_tests::store_faults::FailRequests;
use wxcomponent_tests::wechat::fast_client_config;

const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const AUTHORIZER_INFO: &str = "/cgi-bin/component/api_get_authorizer_info";

/// A test app whose store fails the versioned writes of refreshed tokens as `faults` says, with a
/// sim that hands out a new refresh token on every refresh.
async fn rotating_app_with(faults: &FailRequests) -> TestApp {
    let mut sim = SimConfig::random();
    sim.rotate_refresh_tokens = true;
    let dynamodb = faults.on(&dynamodb_client().await);
    TestApp::spawn_on(dynamodb, sim, |_| {}, |_| {}).await
}

#[tokio::test]
async fn a_failed_write_after_wechat_rotated_the_refresh_token_is_tried_again_and_the_new_one_is_kept()
 {
    let faults = FailRequests::authorizer_token_writes(2);
    let app = rotating_app_with(&faults).await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    app.clock.advance(7200);

    let token = app.service.authorizer_token(&appid).await.unwrap();

    assert_eq!(faults.failed(), 2);
    assert_eq!(
        faults.seen(),
        3,
        "two failed writes, then the one that landed"
    );
    let rotated = app.sim.refresh_token_of(appid.as_str()).unwrap();
    assert_ne!(rotated, grant.refresh_token, "the sim rotated it");
    let stored = app.stored_authorizer(&appid).await;
    assert_eq!(stored.refresh_token.expose(), rotated);
    assert_eq!(stored.refresh_token_version, 2);
    assert_eq!(stored.access_token.value, *token.secret());
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
}

#[tokio::test]
async fn a_write_that_keeps_failing_is_reported_loudly_without_the_token_and_returned_as_an_error()
{
    let faults = FailRequests::authorizer_token_writes(u32::MAX);
    let app = rotating_app_with(&faults).await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.clock.advance(7200);
    let buffer = LogBuffer::default();

    let err = app
        .service
        .authorizer_token(&appid)
        .with_subscriber(buffer.subscriber(production_filter_at_trace()))
        .await
        .unwrap_err();

    assert!(matches!(err, TokenError::Store(_)), "{err:?}");
    assert_eq!(faults.seen(), test_settings().write_attempts);
    let logs = buffer.text();
    let lost = logs
        .lines()
        .find(|l| l.contains("refresh token lost"))
        .unwrap_or_else(|| panic!("no error line for the lost refresh token in:\n{logs}"));
    assert!(lost.contains("ERROR"), "{lost}");
    let rotated = app.sim.refresh_token_of(appid.as_str()).unwrap();
    let mut secrets = app.sim.secrets();
    secrets.push(rotated);
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
}

/// The service, sim and store on the system clock: lease lapses are real time here, as they are
/// in production.
struct RealTime {
    sim: WechatSim,
    store: Arc<DynamoStore>,
    service: TokenService<DynamoStore>,
    component: ComponentAppId,
}

async fn real_time(settings: TokenSettings) -> RealTime {
    let config = SimConfig::random();
    let sim = WechatSim::start_with_system_clock(config.clone(), 0)
        .await
        .unwrap();
    let mut client_config = fast_client_config(&sim);
    // Long enough that only the lease, not the client, cuts a slow call short.
    client_config.timeout = Duration::from_secs(20);
    client_config.retry.max_elapsed = Duration::from_secs(20);
    let component = ComponentAppId::parse(&config.component_appid).unwrap();
    let client = WechatClient::new(
        client_config,
        component.clone(),
        Secret::new(config.component_secret),
        Arc::new(SystemClock),
    )
    .unwrap();
    let dynamodb = dynamodb_client().await;
    let table = fresh_table(&dynamodb).await;
    let wiring = wxcomponent::wiring::assemble(
        dynamodb,
        &table,
        Arc::new(SystemClock),
        client,
        settings,
        None,
    );
    RealTime {
        sim,
        store: wiring.store,
        service: wiring.application.tokens,
        component,
    }
}

fn now() -> i64 {
    wxcomponent::Clock::now(&SystemClock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wechat_call_under_a_lease_ends_before_the_lease_lapses_so_no_second_worker_calls_meanwhile()
 {
    // A 4 s lease with 1 s kept for the write: the calls under it get 4 - 1 - 1 = 2 s.
    let settings = TokenSettings {
        lease_ttl_secs: 4,
        write_allowance: Duration::from_secs(1),
        ..test_settings()
    };
    assert_eq!(settings.lease_call_budget(), Duration::from_secs(2));
    let rt = real_time(settings).await;
    let ticket = rt.sim.issue_ticket();
    rt.store
        .put_ticket(
            &rt.component,
            &Ticket {
                value: Secret::new(ticket),
                received_at: now(),
            },
        )
        .await
        .unwrap();
    rt.service.component_token().await.unwrap();
    let appid = AuthorizerAppId::parse(random_appid()).unwrap();
    let grant = rt.sim.add_authorizer(appid.as_str());
    rt.store
        .record_authorization(
            &rt.component,
            &AuthorizationGrant {
                appid: appid.clone(),
                access_token: ExpiringToken {
                    value: Secret::new(grant.access_token),
                    expires_at: now() - 1,
                },
                refresh_token: Secret::new(grant.refresh_token),
                func_info: vec![1],
                account: None,
            },
        )
        .await
        .unwrap();
    // WeChat takes 6 s to answer the first refresh: longer than the lease.
    rt.sim.inject(
        AUTHORIZER_TOKEN,
        Fault::latency(Duration::from_secs(6)),
        Times::Next(1),
    );

    let first = {
        let service = rt.service.clone();
        let appid = appid.clone();
        tokio::spawn(async move { service.authorizer_token(&appid).await })
    };
    // By now the first worker's lease has lapsed, whatever became of its call.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let second = rt.service.authorizer_token(&appid).await;

    assert_eq!(
        rt.sim.max_in_flight(AUTHORIZER_TOKEN),
        1,
        "a second refresh call started while the first was still waiting for WeChat"
    );
    let first = first.await.unwrap();
    assert!(
        matches!(
            &first,
            Err(TokenError::Wechat(
                WechatError::Timeout { .. } | WechatError::OutOfTime { .. }
            ))
        ),
        "the first worker gave up within its lease: {first:?}"
    );
    let second = second.unwrap();
    let stored = rt
        .store
        .authorizer(&rt.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.access_token.value, *second.secret());
    assert_eq!(rt.sim.call_count(AUTHORIZER_TOKEN), 2);
}

#[tokio::test]
async fn a_refused_refresh_token_is_recovered_from_get_authorizer_info_and_stored_as_the_next_version()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    // The platform holds an older refresh token than WeChat's current one (version 2 now).
    app.store_authorizer(
        &appid,
        &grant.access_token,
        app.now() - 1,
        "refreshtoken@@@superseded",
    )
    .await;

    let token = app.service.authorizer_token(&appid).await.unwrap();

    let stored = app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::Authorized);
    assert_eq!(stored.refresh_token.expose(), grant.refresh_token);
    assert_eq!(stored.refresh_token_version, 3);
    assert_eq!(stored.access_token.value, *token.secret());
    let refreshes = app.sim.calls_to(AUTHORIZER_TOKEN);
    let sent: Vec<&str> = refreshes
        .iter()
        .filter_map(|c| c.body.as_ref()?["authorizer_refresh_token"].as_str())
        .collect();
    assert_eq!(
        sent,
        ["refreshtoken@@@superseded", grant.refresh_token.as_str()]
    );
    assert_eq!(app.sim.call_count(AUTHORIZER_INFO), 1);
    app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn a_refused_refresh_token_that_wechat_still_lists_as_current_marks_the_authorizer() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    app.clock.advance(7200);
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(61023), Times::Next(1));

    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;

    assert_eq!(outcome, RefreshOutcome::ReauthorizationRequired);
    let stored = app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::ReauthorizationRequired);
    assert_eq!(stored.refresh_token.expose(), grant.refresh_token, "kept");
    assert_eq!(
        app.sim.call_count(AUTHORIZER_TOKEN),
        1,
        "the same token is not sent again"
    );
    assert_eq!(app.sim.call_count(AUTHORIZER_INFO), 1);
}

#[tokio::test]
async fn a_failed_recovery_that_is_not_an_answer_leaves_the_authorizer_unmarked_for_the_next_run() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.store_authorizer(
        &appid,
        "atoken-old",
        app.now() - 1,
        "refreshtoken@@@superseded",
    )
    .await;
    app.sim
        .inject(AUTHORIZER_INFO, Fault::status(503), Times::Always);

    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;

    assert_eq!(outcome, RefreshOutcome::Failed { errcode: None });
    assert_eq!(
        app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Authorized
    );

    // WeChat answers again: the next attempt recovers.
    app.sim.clear_faults();
    let next = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;
    assert!(matches!(next, RefreshOutcome::Refreshed { .. }), "{next:?}");
}

#[tokio::test]
async fn a_recovery_that_finds_the_authorization_revoked_marks_the_authorizer_unauthorized() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.store_authorizer(
        &appid,
        "atoken-old",
        app.now() - 1,
        "refreshtoken@@@superseded",
    )
    .await;
    app.sim
        .inject(AUTHORIZER_INFO, Fault::errcode(61003), Times::Next(1));

    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;

    assert_eq!(outcome, RefreshOutcome::Unauthorized);
    assert_eq!(
        app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Unauthorized
    );
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
}
