//! The token service's flows at TRACE, with DynamoDB Local and the simulator: no secret, ticket,
//! token, auth code or refresh token reaches a log line or an error message.
//!
//! Its own test binary, because it installs a global subscriber (which also captures the AWS SDK's
//! and reqwest's records).
//!
//! Everything is captured at TRACE except the AWS SDK's request orchestrator, which at TRACE prints
//! every request and response body and every decoded output, DynamoDB items (tokens, refresh
//! tokens, tickets) included, whatever the caller does. The process's log filter must cap it at
//! DEBUG or less; the first test runs with the production filter (`wxcomponent::logging::filter`),
//! and the second shows why the cap is needed.

use wxcomponent_tests::logs::{LogBuffer, everything_at_trace, production_filter_at_trace};

use std::time::Duration;
use tracing::instrument::WithSubscriber;

use wxcomponent::Secret;
use wxcomponent::store::{AuthorizerStore, ComponentTokenStore};
use wxcomponent::wechat::AuthorizerOptionName;
use wxcomponent_tests::app::{START, TestApp, random_appid};
use wxcomponent_tests::sim::{Fault, SimConfig, Times};

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = format!("{e} | {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(" | {s} | {s:?}"));
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_flows_at_trace_never_log_secrets_tickets_tokens_codes_or_refresh_tokens() {
    let buffer = LogBuffer::install_global(production_filter_at_trace());

    let mut config = SimConfig::random();
    config.rotate_refresh_tokens = true;
    let app = TestApp::spawn_with(
        config.clone(),
        |s| s.wait_for_authorization = Duration::from_millis(200),
        |c| c.timeout = Duration::from_millis(150),
    )
    .await;
    let mut errors: Vec<Box<dyn std::error::Error>> = Vec::new();
    let mut returned = vec![config.component_secret.clone()];

    // No ticket: a push is requested.
    errors.push(Box::new(app.service.component_token().await.unwrap_err()));
    // A ticket, concurrent refreshes, a 40001 burst.
    returned.push(app.store_fresh_ticket().await);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let service = app.service.clone();
            tokio::spawn(async move { service.component_token().await })
        })
        .collect();
    for task in tasks {
        returned.push(task.await.unwrap().unwrap().secret().expose().to_owned());
    }
    app.store_component_token("ctoken-revoked-in-logs-test", START + 7000)
        .await;
    returned.push("ctoken-revoked-in-logs-test".into());
    let code = app.authorizations().create_pre_auth_code().await.unwrap();
    returned.push(code.code.expose().to_owned());

    // Authorization, twice concurrently, then a used code.
    let merchant = random_appid();
    let auth_code = Secret::new(app.sim.authorize(&merchant));
    returned.push(auth_code.expose().to_owned());
    let (a, b) = tokio::join!(
        app.authorizations().complete_authorization(&auth_code),
        app.authorizations().complete_authorization(&auth_code)
    );
    let authorizer = a.unwrap();
    b.unwrap();
    returned.push(authorizer.refresh_token.expose().to_owned());
    returned.push(authorizer.access_token.value.expose().to_owned());
    let spent = Secret::new(app.sim.authorize(&merchant));
    let token = app.service.component_token().await.unwrap();
    app.client.api_query_auth(&token, &spent).await.unwrap();
    errors.push(Box::new(
        app.authorizations()
            .complete_authorization(&spent)
            .await
            .unwrap_err(),
    ));

    // Authorizer refresh with rotation, a 40001 on an authorizer call, faults, 61023.
    let appid = authorizer.appid.clone();
    app.clock.advance(7200 - 900);
    let fresh = app.service.authorizer_token(&appid).await.unwrap();
    returned.push(fresh.secret().expose().to_owned());
    app.store_authorizer(
        &appid,
        "atoken-revoked-in-logs-test",
        app.now() + 7000,
        app.stored_authorizer(&appid).await.refresh_token.expose(),
    )
    .await;
    app.service
        .with_authorizer_token(&appid, |client, token| async move {
            client
                .get_authorizer_option(&token, AuthorizerOptionName::VoiceRecognize)
                .await
        })
        .await
        .unwrap();
    app.clock.advance(7200);
    for fault in [
        Fault::errcode(-1),
        Fault::status(503),
        Fault::latency(Duration::from_millis(300)),
    ] {
        app.sim.inject(
            "/cgi-bin/component/api_authorizer_token",
            fault,
            Times::Always,
        );
        errors.push(Box::new(
            app.service.authorizer_token(&appid).await.unwrap_err(),
        ));
        app.sim.clear_faults();
    }
    let lost = wxcomponent::AuthorizerAppId::parse(random_appid()).unwrap();
    let grant = app.sim.add_authorizer(lost.as_str());
    returned.push(grant.access_token.clone());
    app.store_authorizer(
        &lost,
        &grant.access_token,
        app.now() - 1,
        "refreshtoken@@@lost-in-logs",
    )
    .await;
    // WeChat has no other refresh token for it either: the recovery finds nothing, and it is marked.
    app.sim.inject(
        "/cgi-bin/component/api_get_authorizer_info",
        Fault::errcode(61023),
        Times::Always,
    );
    errors.push(Box::new(
        app.service.authorizer_token(&lost).await.unwrap_err(),
    ));
    returned.push("refreshtoken@@@lost-in-logs".into());

    // Everything the store holds now, too.
    if let Some(t) = app.store.component_token(&app.component).await.unwrap() {
        returned.push(t.token.value.expose().to_owned());
    }
    let stored = app
        .store
        .authorizer(&app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    returned.push(stored.refresh_token.expose().to_owned());
    returned.push(stored.access_token.value.expose().to_owned());

    let mut secrets = app.sim.secrets_received();
    secrets.extend(returned);
    secrets.retain(|s| s.len() >= 8);
    secrets.sort();
    secrets.dedup();
    let logs = buffer.text();
    let error_text = errors
        .iter()
        .map(|e| chain(e.as_ref()))
        .collect::<Vec<_>>()
        .join("\n");

    // The capture worked: spans with appids, the service's own events, the store's SDK calls.
    assert!(logs.contains("complete_authorization"), "{logs}");
    assert!(logs.contains(appid.as_str()));
    assert!(logs.contains("authorizer access token refreshed"));
    assert!(logs.contains("asked WeChat to push a component_verify_ticket"));
    assert!(logs.contains("authorizer marked"));
    assert!(
        logs.to_lowercase().contains("dynamodb"),
        "SDK records captured"
    );
    assert!(secrets.len() >= 15, "{} secrets collected", secrets.len());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        assert!(
            !error_text.contains(secret.as_str()),
            "a secret reached an error: {error_text}"
        );
    }
}

#[tokio::test]
async fn the_aws_sdk_at_trace_prints_stored_tokens_which_is_why_the_filter_caps_it() {
    let app = TestApp::spawn().await;
    let buffer = LogBuffer::default();
    let uncapped = buffer.subscriber(everything_at_trace());

    app.store_component_token("ctoken-printed-by-the-sdk", START + 7200)
        .with_subscriber(uncapped)
        .await;

    let logs = buffer.text();
    assert!(logs.contains("ctoken-printed-by-the-sdk"));
    assert!(
        logs.lines()
            .filter(|l| l.contains("ctoken-printed-by-the-sdk"))
            .all(|l| l.contains("aws_smithy_runtime")),
        "only the SDK's orchestrator prints it"
    );
}
