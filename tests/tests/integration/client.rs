//! The WeChat client against the simulator, over real HTTP on 127.0.0.1.

use serde_json::{Value, json};
use std::time::Duration;
use wxcomponent::wechat::{
    AuthorizerAccessToken, AuthorizerOptionName, CustomMessage, Endpoint, RetryPolicy,
    WechatClient, WechatError,
};
use wxcomponent::{AuthorizerAppId, ComponentAppId, ManualClock, Secret};
use wxcomponent_tests::app::random_appid;
use wxcomponent_tests::sim::{Fault, SimConfig, Times, WechatSim};
use wxcomponent_tests::wechat::{START, WechatHarness, fast_client_config};

const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const PREAUTHCODE: &str = "/cgi-bin/component/api_create_preauthcode";
const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const AUTHORIZER_LIST: &str = "/cgi-bin/component/api_get_authorizer_list";
const CUSTOM_SEND: &str = "/cgi-bin/message/custom/send";

fn appid(s: &str) -> AuthorizerAppId {
    AuthorizerAppId::parse(s).unwrap()
}

fn last_call(h: &WechatHarness, path: &str) -> wxcomponent_tests::sim::RecordedCall {
    h.sim.calls_to(path).pop().expect("the path was called")
}

// ----- each component API, with the right token parameter and body -----

#[tokio::test]
async fn component_token_is_issued_for_a_known_ticket_with_an_absolute_expiry() {
    let h = WechatHarness::start().await;
    let config = h.sim.config();
    let ticket = h.sim.issue_ticket();

    let token = h
        .client
        .api_component_token(&Secret::new(ticket.clone()))
        .await
        .unwrap();

    assert_eq!(
        Some(token.secret().expose().to_owned()),
        h.sim.component_token()
    );
    assert_eq!(token.expires_at(), START + 7200);
    let call = last_call(&h, COMPONENT_TOKEN);
    assert_eq!(call.method, "POST");
    assert!(
        call.query.is_empty(),
        "no token in the query: {:?}",
        call.query
    );
    assert_eq!(
        call.body,
        Some(json!({
            "component_appid": config.component_appid,
            "component_appsecret": config.component_secret,
            "component_verify_ticket": ticket,
        }))
    );
    h.assert_no_unmatched_calls();
}

#[tokio::test]
async fn an_unknown_ticket_is_a_typed_61006_error_and_is_not_retried() {
    let h = WechatHarness::start().await;

    let err = h
        .client
        .api_component_token(&Secret::new("never-issued"))
        .await
        .unwrap_err();

    assert_eq!(err.errcode(), Some(61006));
    assert!(err.is_ticket_invalid() && !err.is_retryable());
    assert_eq!(h.sim.call_count(COMPONENT_TOKEN), 1);
}

#[tokio::test]
async fn start_push_ticket_sends_the_appid_and_secret_and_errcode_zero_is_success() {
    let h = WechatHarness::start().await;
    let config = h.sim.config();

    h.client.api_start_push_ticket().await.unwrap();

    assert_eq!(h.sim.push_ticket_requests(), 1);
    let call = last_call(&h, "/cgi-bin/component/api_start_push_ticket");
    assert!(call.query.is_empty());
    assert_eq!(
        call.body,
        Some(
            json!({"component_appid": config.component_appid, "component_secret": config.component_secret})
        )
    );
}

#[tokio::test]
async fn preauthcode_sends_the_component_token_as_component_access_token() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;

    let code = h.client.api_create_preauthcode(&token).await.unwrap();

    assert!(code.code.expose().starts_with("preauthcode@@@"));
    assert_eq!(code.expires_at, START + 1800);
    let call = last_call(&h, PREAUTHCODE);
    assert_eq!(
        call.query.get("component_access_token").map(String::as_str),
        Some(token.secret().expose())
    );
    assert!(!call.query.contains_key("access_token"));
    assert_eq!(
        call.body,
        Some(json!({"component_appid": h.sim.config().component_appid}))
    );
    h.assert_no_unmatched_calls();
}

#[tokio::test]
async fn an_auth_code_is_exchanged_once_and_a_second_exchange_is_61009_without_retry() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let merchant = random_appid();
    let code = Secret::new(h.sim.authorize(&merchant));

    let auth = h.client.api_query_auth(&token, &code).await.unwrap();
    let again = h.client.api_query_auth(&token, &code).await.unwrap_err();

    assert_eq!(auth.authorizer_appid.as_str(), merchant);
    assert_eq!(
        Some(auth.refresh_token.expose().to_owned()),
        h.sim.refresh_token_of(&merchant)
    );
    assert_eq!(auth.access_token.expires_at(), START + 7200);
    assert!(!auth.func_info.is_empty());
    let call = last_call(&h, QUERY_AUTH);
    assert_eq!(
        call.query.get("component_access_token").map(String::as_str),
        Some(token.secret().expose())
    );
    assert_eq!(
        call.body,
        Some(
            json!({"component_appid": h.sim.config().component_appid, "authorization_code": code.expose()})
        )
    );
    assert_eq!(again.errcode(), Some(61009));
    assert!(again.is_auth_code_invalid());
    assert_eq!(h.sim.call_count(QUERY_AUTH), 2);
}

#[tokio::test]
async fn an_auth_code_past_its_expiry_is_61010() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let code = Secret::new(h.sim.authorize(&random_appid()));

    h.clock.advance(601);
    let err = h.client.api_query_auth(&token, &code).await.unwrap_err();

    assert_eq!(err.errcode(), Some(61010));
}

#[tokio::test]
async fn authorizer_token_refresh_sends_the_refresh_token_and_keeps_it_when_unchanged() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let merchant = random_appid();
    let grant = h.sim.add_authorizer(&merchant);
    let refresh = Secret::new(grant.refresh_token.clone());

    let tokens = h
        .client
        .api_authorizer_token(&token, &appid(&merchant), &refresh)
        .await
        .unwrap();

    assert_ne!(tokens.access_token.secret().expose(), grant.access_token);
    assert_eq!(tokens.refresh_token, refresh);
    let call = last_call(&h, AUTHORIZER_TOKEN);
    assert_eq!(
        call.query.get("component_access_token").map(String::as_str),
        Some(token.secret().expose())
    );
    assert_eq!(
        call.body,
        Some(json!({
            "component_appid": h.sim.config().component_appid,
            "authorizer_appid": merchant,
            "authorizer_refresh_token": grant.refresh_token,
        }))
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_is_returned_and_the_old_one_is_61023_without_retry() {
    let mut config = SimConfig::random();
    config.rotate_refresh_tokens = true;
    let h = WechatHarness::start_with(config, |_| {}).await;
    let token = h.component_token().await;
    let merchant = random_appid();
    let old = Secret::new(h.sim.add_authorizer(&merchant).refresh_token);

    let tokens = h
        .client
        .api_authorizer_token(&token, &appid(&merchant), &old)
        .await
        .unwrap();
    let err = h
        .client
        .api_authorizer_token(&token, &appid(&merchant), &old)
        .await
        .unwrap_err();

    assert_ne!(tokens.refresh_token, old);
    assert_eq!(
        Some(tokens.refresh_token.expose().to_owned()),
        h.sim.refresh_token_of(&merchant)
    );
    assert!(err.is_refresh_token_invalid() && !err.is_retryable());
    assert_eq!(h.sim.call_count(AUTHORIZER_TOKEN), 2);
}

#[tokio::test]
async fn authorizer_info_describes_the_account() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let merchant = random_appid();
    let grant = h.sim.add_authorizer(&merchant);

    let info = h
        .client
        .api_get_authorizer_info(&token, &appid(&merchant))
        .await
        .unwrap();

    assert_eq!(
        Some(info.authorizer_info.user_name.clone()),
        h.sim.user_name_of(&merchant)
    );
    // Accounts are mini programs unless made official accounts: only those lack MiniProgramInfo.
    assert!(info.authorizer_info.is_mini_program());
    assert_eq!(info.authorization_info.authorizer_appid.as_str(), merchant);
    assert_eq!(
        info.authorization_info.authorizer_refresh_token,
        Some(Secret::new(grant.refresh_token))
    );
    let call = last_call(&h, "/cgi-bin/component/api_get_authorizer_info");
    assert!(call.query.contains_key("component_access_token"));
    assert_eq!(
        call.body,
        Some(
            json!({"component_appid": h.sim.config().component_appid, "authorizer_appid": merchant})
        )
    );
    let official = random_appid();
    h.sim.add_authorizer(&official);
    h.sim.make_official_account(&official);
    let official_info = h
        .client
        .api_get_authorizer_info(&token, &appid(&official))
        .await
        .unwrap();
    assert!(!official_info.authorizer_info.is_mini_program());
}

#[tokio::test]
async fn the_authorizer_list_is_walked_page_by_page_until_total_count() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let merchants: Vec<String> = (0..7).map(|_| random_appid()).collect();
    for m in &merchants {
        h.sim.add_authorizer(m);
    }

    let one_page = h
        .client
        .api_get_authorizer_list(&token, 0, 3)
        .await
        .unwrap();
    let all = h.client.api_get_all_authorizers(&token, 3).await.unwrap();

    assert_eq!(one_page.total_count, 7);
    assert_eq!(one_page.list.len(), 3);
    let listed: Vec<&str> = all.iter().map(|a| a.authorizer_appid.as_str()).collect();
    assert_eq!(
        listed,
        merchants.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        Some(all[6].refresh_token.expose().to_owned()),
        h.sim.refresh_token_of(&merchants[6])
    );
    let pages: Vec<Value> = h
        .sim
        .calls_to(AUTHORIZER_LIST)
        .into_iter()
        .skip(1)
        .map(|c| c.body.unwrap())
        .collect();
    let offsets: Vec<(u64, u64)> = pages
        .iter()
        .map(|b| (b["offset"].as_u64().unwrap(), b["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(offsets, vec![(0, 3), (3, 3), (6, 3)]);
}

#[tokio::test]
async fn a_page_size_above_500_is_clamped_to_what_wechat_accepts() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim.add_authorizer(&random_appid());

    let page = h
        .client
        .api_get_authorizer_list(&token, 0, 10_000)
        .await
        .unwrap();

    assert_eq!(page.list.len(), 1);
    assert_eq!(last_call(&h, AUTHORIZER_LIST).body.unwrap()["count"], 500);
}

#[tokio::test]
async fn options_round_trip_through_the_old_component_form_and_the_new_authorizer_form() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let merchant = random_appid();
    let grant = h.sim.add_authorizer(&merchant);
    let atoken = grant.token();

    h.client
        .api_set_authorizer_option(
            &token,
            &appid(&merchant),
            AuthorizerOptionName::LocationReport,
            "2",
        )
        .await
        .unwrap();
    let old_form = h
        .client
        .api_get_authorizer_option(
            &token,
            &appid(&merchant),
            AuthorizerOptionName::LocationReport,
        )
        .await
        .unwrap();
    h.client
        .set_authorizer_option(&atoken, AuthorizerOptionName::VoiceRecognize, "1")
        .await
        .unwrap();
    let new_form = h
        .client
        .get_authorizer_option(&atoken, AuthorizerOptionName::VoiceRecognize)
        .await
        .unwrap();
    let bad = h
        .client
        .set_authorizer_option(&atoken, AuthorizerOptionName::VoiceRecognize, "7")
        .await
        .unwrap_err();

    assert_eq!(
        (
            old_form.option_name.as_str(),
            old_form.option_value.as_str()
        ),
        ("location_report", "2")
    );
    assert_eq!(
        (
            new_form.option_name.as_str(),
            new_form.option_value.as_str()
        ),
        ("voice_recognize", "1")
    );
    assert!(bad.errcode().is_some());
    let old_call = last_call(&h, "/cgi-bin/component/api_set_authorizer_option");
    assert!(old_call.query.contains_key("component_access_token"));
    assert_eq!(
        old_call.body,
        Some(json!({
            "component_appid": h.sim.config().component_appid,
            "authorizer_appid": merchant,
            "option_name": "location_report",
            "option_value": "2",
        }))
    );
    let new_call = last_call(&h, "/cgi-bin/component/get_authorizer_option");
    assert_eq!(
        new_call.query.get("access_token"),
        Some(&grant.access_token)
    );
    assert!(!new_call.query.contains_key("component_access_token"));
    assert_eq!(
        new_call.body,
        Some(json!({"option_name": "voice_recognize"}))
    );
    h.assert_no_unmatched_calls();
}

#[tokio::test]
async fn quota_is_queried_and_reset_with_a_token_or_with_the_appsecret() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let merchant = random_appid();
    let grant = h.sim.add_authorizer(&merchant);
    let atoken = grant.token();
    let config = h.sim.config();
    h.client
        .send_custom_message(&atoken, &CustomMessage::text("oUser1", "hello"))
        .await
        .unwrap();

    let before = h.client.get_api_quota(&atoken, CUSTOM_SEND).await.unwrap();
    h.client
        .clear_quota(&atoken, &appid(&merchant))
        .await
        .unwrap();
    let after = h.client.get_api_quota(&atoken, CUSTOM_SEND).await.unwrap();
    h.client
        .clear_quota_by_app_secret(Some(&appid(&merchant)))
        .await
        .unwrap();
    h.client.clear_quota_by_app_secret(None).await.unwrap();
    h.client.clear_component_quota(&token).await.unwrap();
    let component = h
        .client
        .get_component_api_quota(&token, PREAUTHCODE)
        .await
        .unwrap();

    assert_eq!(
        (before.daily_limit, before.used, before.remain),
        (10_000, 1, 9_999)
    );
    assert_eq!(after.used, 0);
    assert_eq!(component.used, 0);
    let calls = h.sim.calls_to("/cgi-bin/clear_quota");
    assert_eq!(
        calls[0].query.get("access_token"),
        Some(&grant.access_token)
    );
    assert_eq!(calls[0].body, Some(json!({"appid": merchant})));
    assert_eq!(
        calls[1].query.get("access_token").map(String::as_str),
        Some(token.secret().expose())
    );
    assert_eq!(
        calls[1].body,
        Some(json!({"appid": config.component_appid}))
    );
    let v2 = h.sim.calls_to("/cgi-bin/component/clear_quota/v2");
    assert!(v2[0].query.is_empty());
    assert_eq!(
        v2[0].body,
        Some(
            json!({"component_appid": config.component_appid, "appsecret": config.component_secret, "appid": merchant})
        )
    );
    assert_eq!(
        v2[1].body,
        Some(
            json!({"component_appid": config.component_appid, "appsecret": config.component_secret})
        )
    );
    assert_eq!(
        last_call(&h, "/cgi-bin/openapi/quota/get").body,
        Some(json!({"cgi_path": PREAUTHCODE}))
    );
    h.assert_no_unmatched_calls();
}

#[tokio::test]
async fn a_custom_text_message_is_sent_with_the_authorizer_token() {
    let h = WechatHarness::start().await;
    let merchant = random_appid();
    let grant = h.sim.add_authorizer(&merchant);

    h.client
        .send_custom_message(
            &grant.token(),
            &CustomMessage::text("oUser1", "code_from_api"),
        )
        .await
        .unwrap();

    let sent = h.sim.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].authorizer_appid, merchant);
    assert_eq!(sent[0].touser, "oUser1");
    assert_eq!(sent[0].content.as_deref(), Some("code_from_api"));
    assert_eq!(
        last_call(&h, CUSTOM_SEND).query.get("access_token"),
        Some(&grant.access_token)
    );
}

// ----- the generic machinery -----

#[tokio::test]
async fn generic_get_and_raw_calls_decode_json_pass_bytes_and_still_detect_json_errors() {
    let h = WechatHarness::start().await;
    let grant = h.sim.add_authorizer(&random_appid());
    let atoken = grant.token();
    const DOMAIN_IP: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/get_api_domain_ip");
    const WXACODE: Endpoint<AuthorizerAccessToken> = Endpoint::new("/wxa/getwxacode");

    let ips: Value = h
        .client
        .get(&DOMAIN_IP, &atoken, &[("extra", "1")])
        .await
        .unwrap();
    let image = h
        .client
        .post_json_raw(&WXACODE, &atoken, &json!({"path": "pages/index"}))
        .await
        .unwrap();
    let error = h
        .client
        .post_json_raw(&WXACODE, &atoken, &json!({}))
        .await
        .unwrap_err();

    assert!(ips["ip_list"].is_array());
    let get_call = last_call(&h, "/cgi-bin/get_api_domain_ip");
    assert_eq!(get_call.method, "GET");
    assert_eq!(get_call.query.get("extra").map(String::as_str), Some("1"));
    assert_eq!(
        get_call.query.get("access_token"),
        Some(&grant.access_token)
    );
    assert_eq!(image.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(&image.body[..3], &[0xff, 0xd8, 0xff]);
    assert_eq!(error.errcode(), Some(41030));
    h.assert_no_unmatched_calls();
}

#[tokio::test]
async fn an_unknown_path_answers_40066_and_is_recorded_as_unmatched() {
    let h = WechatHarness::start().await;
    let grant = h.sim.add_authorizer(&random_appid());
    const NOWHERE: Endpoint<AuthorizerAccessToken> = Endpoint::new("/cgi-bin/no/such/api");

    let err = h
        .client
        .post_json::<_, _, Value>(&NOWHERE, &grant.token(), &json!({}))
        .await
        .unwrap_err();

    assert_eq!(err.errcode(), Some(40066));
    let unmatched = h.sim.unmatched();
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].path, "/cgi-bin/no/such/api");
}

// ----- errcodes in 200 responses -----

#[tokio::test]
async fn an_errcode_in_a_200_response_is_a_typed_api_error_and_45009_is_not_retried() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim
        .inject(PREAUTHCODE, Fault::errcode(45009), Times::Always);

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert!(matches!(
        &err,
        WechatError::Api {
            path: PREAUTHCODE,
            errcode: 45009,
            ..
        }
    ));
    assert!(err.is_quota_limited() && !err.is_retryable());
    assert_eq!(h.sim.call_count(PREAUTHCODE), 1);
}

#[tokio::test]
async fn a_superseded_component_token_works_during_the_overlap_then_gets_40001_without_retry() {
    let h = WechatHarness::start().await;
    let first = h.component_token().await;
    let second = h.component_token().await;

    h.clock.advance(299);
    let during = h.client.api_create_preauthcode(&first).await;
    h.clock.advance(2);
    let after = h.client.api_create_preauthcode(&first).await.unwrap_err();
    let current = h.client.api_create_preauthcode(&second).await;

    assert!(during.is_ok());
    assert_eq!(after.errcode(), Some(40001));
    assert!(after.is_token_invalid() && !after.is_retryable());
    assert!(current.is_ok());
    assert_eq!(h.sim.call_count(PREAUTHCODE), 3);
}

#[tokio::test]
async fn a_component_token_past_its_expiry_gets_42001() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;

    h.clock.advance(7200);
    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert_eq!(err.errcode(), Some(42001));
    assert!(err.is_token_invalid());
}

#[tokio::test]
async fn an_authorizer_token_value_sent_as_a_component_token_is_refused_by_the_sim() {
    // The types make this impossible through the client; the sim still checks, for raw callers.
    let h = WechatHarness::start().await;
    let grant = h.sim.add_authorizer(&random_appid());
    let disguised =
        wxcomponent::wechat::ComponentAccessToken::new(Secret::new(grant.access_token), START + 60);

    let err = h
        .client
        .api_create_preauthcode(&disguised)
        .await
        .unwrap_err();

    assert_eq!(err.errcode(), Some(40001));
}

// ----- retries -----

#[tokio::test]
async fn busy_minus_one_is_retried_and_a_later_success_is_returned() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim
        .inject(PREAUTHCODE, Fault::errcode(-1), Times::Next(2));

    let code = h.client.api_create_preauthcode(&token).await;

    assert!(code.is_ok());
    assert_eq!(h.sim.call_count(PREAUTHCODE), 3);
}

#[tokio::test]
async fn busy_minus_one_for_ever_stops_after_max_attempts_with_the_typed_error() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim.inject(PREAUTHCODE, Fault::errcode(-1), Times::Always);

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert_eq!(err.errcode(), Some(-1));
    assert_eq!(h.sim.call_count(PREAUTHCODE), 3);
}

#[tokio::test]
async fn http_5xx_is_retried_up_to_the_bound_then_a_status_error() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim.inject(PREAUTHCODE, Fault::status(502), Times::Always);

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert!(matches!(err, WechatError::Status { status: 502, .. }));
    assert_eq!(h.sim.call_count(PREAUTHCODE), 3);
}

#[tokio::test]
async fn http_4xx_is_not_retried() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim.inject(PREAUTHCODE, Fault::status(404), Times::Always);

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert!(matches!(err, WechatError::Status { status: 404, .. }));
    assert_eq!(h.sim.call_count(PREAUTHCODE), 1);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_up_to_the_bound_then_a_transport_error() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim.inject(PREAUTHCODE, Fault::Drop, Times::Always);

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert!(matches!(err, WechatError::Transport { .. }), "{err:?}");
    assert_eq!(h.sim.call_count(PREAUTHCODE), 3);
}

#[tokio::test]
async fn a_dropped_connection_once_is_recovered_by_the_retry() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    h.sim.inject(PREAUTHCODE, Fault::Drop, Times::Next(1));

    assert!(h.client.api_create_preauthcode(&token).await.is_ok());
    assert_eq!(h.sim.call_count(PREAUTHCODE), 2);
}

#[tokio::test]
async fn latency_past_the_timeout_is_retried_up_to_the_bound_then_a_timeout_error() {
    let h = WechatHarness::start_with(SimConfig::random(), |c| {
        c.timeout = Duration::from_millis(100);
    })
    .await;
    let token = h.component_token().await;
    h.sim.inject(
        PREAUTHCODE,
        Fault::latency(Duration::from_millis(400)),
        Times::Always,
    );

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert!(matches!(err, WechatError::Timeout { .. }), "{err:?}");
    assert_eq!(h.sim.call_count(PREAUTHCODE), 3);
}

#[tokio::test]
async fn latency_within_the_timeout_is_just_slow() {
    let h = WechatHarness::start_with(SimConfig::random(), |c| {
        c.timeout = Duration::from_millis(500);
    })
    .await;
    let token = h.component_token().await;
    h.sim.inject(
        PREAUTHCODE,
        Fault::latency(Duration::from_millis(50)),
        Times::Always,
    );

    assert!(h.client.api_create_preauthcode(&token).await.is_ok());
    assert_eq!(h.sim.call_count(PREAUTHCODE), 1);
}

#[tokio::test]
async fn retries_stop_when_the_total_time_budget_is_spent() {
    let h = WechatHarness::start_with(SimConfig::random(), |c| {
        c.timeout = Duration::from_millis(100);
        c.retry.max_attempts = 50;
        c.retry.max_elapsed = Duration::from_millis(350);
    })
    .await;
    let token = h.component_token().await;
    h.sim.inject(
        PREAUTHCODE,
        Fault::latency(Duration::from_millis(400)),
        Times::Always,
    );

    let err = h.client.api_create_preauthcode(&token).await.unwrap_err();

    assert!(matches!(err, WechatError::Timeout { .. }));
    // The budget stopped it, not the 50 attempts allowed: 350 ms holds at most a few 100 ms ones.
    let calls = h.sim.call_count(PREAUTHCODE);
    assert!((2..=5).contains(&calls), "{calls} attempts");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_a_connect_error() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let clock = ManualClock::at(START);
    let sim = WechatSim::start(SimConfig::random(), clock.clone())
        .await
        .unwrap();
    let mut config = fast_client_config(&sim);
    config.base_url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let client = WechatClient::new(
        config,
        ComponentAppId::parse("wx0000000000000000").unwrap(),
        Secret::new("s"),
        std::sync::Arc::new(clock),
    )
    .unwrap();

    let err = client.api_start_push_ticket().await.unwrap_err();

    assert!(matches!(err, WechatError::Connect { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_single_use_call_is_not_replayed_after_a_timeout_or_a_dropped_connection() {
    let h = WechatHarness::start_with(SimConfig::random(), |c| {
        c.timeout = Duration::from_millis(100);
    })
    .await;
    let token = h.component_token().await;
    let code = Secret::new(h.sim.authorize(&random_appid()));
    h.sim.inject(
        QUERY_AUTH,
        Fault::latency(Duration::from_millis(300)),
        Times::Next(1),
    );
    let grant = h.sim.add_authorizer(&random_appid());
    h.sim.inject(CUSTOM_SEND, Fault::Drop, Times::Next(1));

    let timed_out = h.client.api_query_auth(&token, &code).await.unwrap_err();
    let dropped = h
        .client
        .send_custom_message(&grant.token(), &CustomMessage::text("oU", "x"))
        .await
        .unwrap_err();

    assert!(matches!(timed_out, WechatError::Timeout { .. }));
    assert!(matches!(dropped, WechatError::Transport { .. }));
    assert_eq!(h.sim.call_count(QUERY_AUTH), 1);
    assert_eq!(h.sim.call_count(CUSTOM_SEND), 1);
}

#[tokio::test]
async fn a_single_use_call_is_still_retried_after_busy_minus_one() {
    let h = WechatHarness::start().await;
    let token = h.component_token().await;
    let code = Secret::new(h.sim.authorize(&random_appid()));
    h.sim.inject(QUERY_AUTH, Fault::errcode(-1), Times::Next(1));

    assert!(h.client.api_query_auth(&token, &code).await.is_ok());
    assert_eq!(h.sim.call_count(QUERY_AUTH), 2);
}

#[tokio::test]
async fn no_retry_policy_makes_one_attempt() {
    let h = WechatHarness::start_with(SimConfig::random(), |c| c.retry = RetryPolicy::none()).await;
    let token = h.component_token().await;
    h.sim.inject(PREAUTHCODE, Fault::errcode(-1), Times::Always);

    assert!(h.client.api_create_preauthcode(&token).await.is_err());
    assert_eq!(h.sim.call_count(PREAUTHCODE), 1);
}
