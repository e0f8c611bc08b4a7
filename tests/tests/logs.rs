//! No secret, token, ticket or code reaches a log line or an error message, even at TRACE.
//!
//! Its own test binary, because it installs a global subscriber (with the `log` bridge, so
//! reqwest's and hyper's `log` records are captured too).

use std::time::Duration;
use wxcomponent::AuthorizerAppId;
use wxcomponent::Secret;
use wxcomponent::wechat::{AuthorizerAccessToken, AuthorizerOptionName, CustomMessage};
use wxcomponent_tests::logs::{LogBuffer, everything_at_trace};
use wxcomponent_tests::sim::{Fault, SimConfig, Times};
use wxcomponent_tests::wechat::WechatHarness;

#[tokio::test]
async fn trace_logs_and_errors_never_contain_secrets_tokens_tickets_or_codes() {
    let buffer = LogBuffer::install_global(everything_at_trace());

    let h = WechatHarness::start_with(SimConfig::random(), |c| {
        c.timeout = Duration::from_millis(100);
    })
    .await;
    let config = h.sim.config();
    let mut errors = Vec::new();
    let mut returned: Vec<String> = vec![config.component_secret.clone()];

    // Success paths of every API.
    let token = h.component_token().await;
    returned.push(token.secret().expose().to_owned());
    h.client.api_start_push_ticket().await.unwrap();
    let pre = h.client.api_create_preauthcode(&token).await.unwrap();
    returned.push(pre.code.expose().to_owned());
    let merchant = format!("wx{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let code = Secret::new(h.sim.authorize(&merchant));
    let auth = h.client.api_query_auth(&token, &code).await.unwrap();
    returned.push(auth.access_token.secret().expose().to_owned());
    returned.push(auth.refresh_token.expose().to_owned());
    let id = AuthorizerAppId::parse(&merchant).unwrap();
    let refreshed = h
        .client
        .api_authorizer_token(&token, &id, &auth.refresh_token)
        .await
        .unwrap();
    returned.push(refreshed.access_token.secret().expose().to_owned());
    let atoken: &AuthorizerAccessToken = &refreshed.access_token;
    h.client.api_get_authorizer_info(&token, &id).await.unwrap();
    h.client.api_get_all_authorizers(&token, 100).await.unwrap();
    h.client
        .api_set_authorizer_option(&token, &id, AuthorizerOptionName::CustomerService, "1")
        .await
        .unwrap();
    h.client
        .get_authorizer_option(atoken, AuthorizerOptionName::CustomerService)
        .await
        .unwrap();
    h.client
        .send_custom_message(atoken, &CustomMessage::text("oUser", "hi"))
        .await
        .unwrap();
    h.client
        .get_api_quota(atoken, "/cgi-bin/message/custom/send")
        .await
        .unwrap();
    h.client.clear_quota(atoken, &id).await.unwrap();
    h.client.clear_quota_by_app_secret(Some(&id)).await.unwrap();

    // Failure paths: errcodes, retries, timeouts, dropped connections.
    errors.push(
        h.client
            .api_component_token(&Secret::new("made-up-ticket-value"))
            .await
            .unwrap_err(),
    );
    errors.push(h.client.api_query_auth(&token, &code).await.unwrap_err());
    let path = "/cgi-bin/component/api_create_preauthcode";
    h.sim.inject(path, Fault::errcode(-1), Times::Next(3));
    errors.push(h.client.api_create_preauthcode(&token).await.unwrap_err());
    h.sim.inject(path, Fault::Drop, Times::Next(3));
    errors.push(h.client.api_create_preauthcode(&token).await.unwrap_err());
    h.sim.inject(
        path,
        Fault::latency(Duration::from_millis(300)),
        Times::Next(3),
    );
    errors.push(h.client.api_create_preauthcode(&token).await.unwrap_err());
    h.sim.clear_faults();
    h.clock.advance(8000);
    errors.push(h.client.api_create_preauthcode(&token).await.unwrap_err());

    let mut secrets = h.sim.secrets_received();
    secrets.extend(returned);
    secrets.push("made-up-ticket-value".into());
    secrets.retain(|s| s.len() >= 8);
    secrets.sort();
    secrets.dedup();
    let logs = buffer.text();
    let error_text: String = errors
        .iter()
        .map(|e| {
            let mut chain = format!("{e} | {e:?}");
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                chain.push_str(&format!(" | {s} | {s:?}"));
                source = s.source();
            }
            chain
        })
        .collect::<Vec<_>>()
        .join("\n");

    // The capture works and saw the calls and the failures.
    assert!(logs.contains("/cgi-bin/component/api_query_auth"), "{logs}");
    assert!(logs.contains("retrying"));
    assert!(secrets.len() >= 8, "{} secrets collected", secrets.len());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        assert!(
            !error_text.contains(secret.as_str()),
            "a secret reached an error: {error_text}"
        );
    }
}
