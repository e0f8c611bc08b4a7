//! The ticket-callback and auth-redirect functions end to end: their real handlers, driven with
//! API Gateway v2 events, against DynamoDB Local (a fresh table per test) and the WeChat
//! simulator on loopback.

use std::time::{Duration, Instant};

use wxcomponent::event::AuthorizerMessage;
use wxcomponent::service::auth_state::{SUCCESS_MAX_AGE_SECS, verify_success_query};
use wxcomponent::service::{SigningKey, SuccessRedirect, TokenError};
use wxcomponent::store::{
    AuditState, AuditStatus, AuditStore, AuthorizerStatus, AuthorizerStore, DueTokens, Retention,
    TicketStore,
};
use wxcomponent::{AuthorizerAppId, MessageCrypto, Secret};
use wxcomponent_tests::app::{TestApp, random_appid};
use wxcomponent_tests::callbacks::{
    API_HOST, Callbacks, SignedPush, StartedFlow, apigw_request, apigw_request_on_stage,
    authorized_xml, body_text, event_xml, header, table_items, text_xml, ticket_xml,
    unauthorized_xml,
};
use wxcomponent_tests::sim::{Fault, SimConfig, Times};

const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const CUSTOM_SEND: &str = "/cgi-bin/message/custom/send";
const PC_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const WECHAT_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x18002831) NetType/WIFI Language/zh_CN";

fn component(c: &Callbacks) -> String {
    c.app.component.to_string()
}

async fn assert_nothing_stored(c: &Callbacks) {
    assert!(
        c.app
            .store
            .latest_ticket(&c.app.component)
            .await
            .unwrap()
            .is_none(),
        "a ticket was stored"
    );
    assert!(c.app.sim.calls().is_empty(), "WeChat was called");
}

// ----- the authorization event URL ---------------------------------------------------------------

#[tokio::test]
async fn a_ticket_push_is_stored_and_the_component_token_is_obtained_with_exactly_that_ticket() {
    let c = Callbacks::spawn().await;
    let ticket = c.app.sim.issue_ticket();

    let response = c
        .push_component_event(&ticket_xml(&component(&c), c.app.now(), &ticket))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
    assert!(
        c.app.sim.calls().is_empty(),
        "a ticket push calls no WeChat API"
    );
    let stored = c
        .app
        .store
        .latest_ticket(&c.app.component)
        .await
        .unwrap()
        .expect("the ticket is stored");
    assert_eq!(stored.value.expose(), ticket);

    c.app.service.component_token().await.expect("a token");
    let calls = c.app.sim.calls_to("/cgi-bin/component/api_component_token");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].body.as_ref().unwrap()["component_verify_ticket"],
        ticket.as_str()
    );
}

#[tokio::test]
async fn an_older_ticket_delivered_late_does_not_replace_a_newer_one() {
    let c = Callbacks::spawn().await;
    let old = c.app.sim.issue_ticket();
    let created_old = c.app.now();
    c.app.clock.advance(600);
    let new = c.app.sim.issue_ticket();
    let created_new = c.app.now();

    let first = c
        .push_component_event(&ticket_xml(&component(&c), created_new, &new))
        .await;
    let late = c
        .push_component_event(&ticket_xml(&component(&c), created_old, &old))
        .await;

    assert_eq!(
        (first.status().as_u16(), late.status().as_u16()),
        (200, 200)
    );
    assert_eq!(body_text(&late), "success");
    let stored = c
        .app
        .store
        .latest_ticket(&c.app.component)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.expose(), new);
}

#[tokio::test]
async fn an_authorized_event_stores_the_authorizer_and_a_retry_is_acted_on_once() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let push = c.signed_push(
        &authorized_xml(&component(&c), "authorized", c.app.now(), &merchant, &code),
        None,
    );

    let first = c.push("/wechat/component", &push).await;
    let retry = c.push("/wechat/component", &push).await;

    assert_eq!(
        (first.status().as_u16(), retry.status().as_u16()),
        (200, 200)
    );
    assert_eq!(
        (body_text(&first), body_text(&retry)),
        ("success".into(), "success".into())
    );
    assert_eq!(
        c.app.sim.call_count(QUERY_AUTH),
        1,
        "the retry is not acted on"
    );
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::Authorized);
    assert_eq!(
        stored.refresh_token.expose(),
        c.app.sim.refresh_token_of(&merchant).unwrap()
    );
    assert_eq!(stored.refresh_token_version, 1);
    c.app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn the_authorized_event_and_the_callback_for_one_code_give_one_consistent_authorizer() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let xml = authorized_xml(&component(&c), "authorized", c.app.now(), &merchant, &code);
    let flow = c.start_flow("auth_type=3", &[]).await;

    let (event, page) = tokio::join!(c.push_component_event(&xml), c.callback(&flow, &code));

    assert_eq!(event.status(), 200);
    assert_eq!(page.status(), 200, "{}", body_text(&page));
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(
        stored.refresh_token_version, 1,
        "one authorization, one version"
    );
    assert_eq!(
        stored.refresh_token.expose(),
        c.app.sim.refresh_token_of(&merchant).unwrap()
    );
    assert!(body_text(&page).contains(&format!("Sim account {merchant}")));
    let listed = c
        .app
        .store
        .authorizer_tokens_due(&c.app.component, i64::MAX, 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "exactly one authorizer record");
}

#[tokio::test]
async fn an_unauthorized_event_stops_refreshing_and_keeps_the_record_and_refresh_token() {
    let c = Callbacks::spawn().await;
    let (appid, grant) = c.app.authorized_account().await;

    let response = c
        .push_component_event(&unauthorized_xml(
            &component(&c),
            c.app.now(),
            appid.as_str(),
        ))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::Unauthorized);
    assert_eq!(stored.refresh_token.expose(), grant.refresh_token);
    let due = c
        .app
        .store
        .authorizer_tokens_due(&c.app.component, i64::MAX, 100)
        .await
        .unwrap();
    assert!(due.is_empty(), "the refresher no longer sees it");
    assert!(matches!(
        c.app.service.authorizer_token(&appid).await,
        Err(TokenError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn a_fast_registration_result_is_stored_and_its_auth_code_completes_the_authorization() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let mini = random_appid();
    let code = c.app.sim.authorize(&mini);
    let now = c.app.now();
    let xml = format!(
        "<xml><AppId><![CDATA[{}]]></AppId><CreateTime>{now}</CreateTime>\
         <InfoType><![CDATA[notify_third_fasteregister]]></InfoType>\
         <appid><![CDATA[{mini}]]></appid><status>0</status><auth_code><![CDATA[{code}]]></auth_code>\
         <msg><![CDATA[OK]]></msg><info><name><![CDATA[Example Co]]></name><code><![CDATA[91440300]]></code>\
         <code_type>1</code_type><legal_persona_wechat><![CDATA[legal_wx]]></legal_persona_wechat>\
         <legal_persona_name><![CDATA[Zhang San]]></legal_persona_name>\
         <component_phone><![CDATA[13800000000]]></component_phone></info></xml>",
        component(&c)
    );

    let response = c.push_component_event(&xml).await;

    assert_eq!(response.status(), 200);
    let appid = AuthorizerAppId::parse(&mini).unwrap();
    assert_eq!(
        c.app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Authorized
    );
    let key = format!(
        "component:{}:notify_third_fasteregister:{now}:{mini}",
        component(&c)
    );
    let entry = c.ledger_entry(&key).await.expect("the result is stored");
    let record = entry.record.unwrap();
    assert_eq!(record.status, Some(0));
    assert_eq!(record.retention, Retention::Forever);
    assert_eq!(record.detail["name"], "Example Co");
    assert_eq!(record.detail["outcome"], "authorized");
}

#[tokio::test]
async fn an_unknown_info_type_is_stored_and_answered_success() {
    let c = Callbacks::spawn().await;
    let xml = format!(
        "<xml><AppId><![CDATA[{}]]></AppId><CreateTime>{}</CreateTime>\
         <InfoType><![CDATA[notify_apply_icpfiling_result]]></InfoType><status>1</status></xml>",
        component(&c),
        c.app.now()
    );

    let response = c.push_component_event(&xml).await;

    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
    let event = wxcomponent::event::ComponentEvent::parse(&xml).unwrap();
    let entry = c
        .ledger_entry(&event.idempotency_key())
        .await
        .expect("stored");
    let record = entry.record.unwrap();
    assert_eq!(record.kind, "notify_apply_icpfiling_result");
    assert_eq!(record.detail["raw_xml"], xml);
    assert!(c.app.sim.calls().is_empty());
}

// ----- the message URL and the full-network release test -----------------------------------------

#[tokio::test]
async fn the_release_test_text_gets_the_encrypted_passive_reply() {
    let c = Callbacks::spawn().await;
    let xml = text_xml(
        "gh_3c884a361561",
        "ozy4qt5QUADNXORxCVipKMV9dss0",
        c.app.now(),
        "TESTCOMPONENT_MSG_TYPE_TEXT",
        1234567890123456,
    );

    let response = c
        .push_message("wx570bc396a51b8ff8", "gh_3c884a361561", &xml)
        .await;

    assert_eq!(response.status(), 200);
    let reply = c
        .crypto
        .decrypt_reply(response.body().as_ref())
        .expect("a signed, encrypted reply");
    let message = AuthorizerMessage::parse(&reply).unwrap();
    assert_eq!(message.to_user_name, "ozy4qt5QUADNXORxCVipKMV9dss0");
    assert_eq!(message.from_user_name, "gh_3c884a361561");
    match message.kind {
        wxcomponent::event::MessageKind::Text { content, .. } => {
            assert_eq!(content, "TESTCOMPONENT_MSG_TYPE_TEXT_callback")
        }
        other => panic!("not a text reply: {other:?}"),
    }
}

#[tokio::test]
async fn query_auth_code_answers_empty_and_sends_code_from_api_to_the_sender_with_that_accounts_token()
 {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let test_account = "wx570bc396a51b8ff8".to_owned();
    let code = c.app.sim.authorize(&test_account);
    let user = "ozy4qt5QUADNXORxCVipKMV9dss0";
    let xml = text_xml(
        "gh_3c884a361561",
        user,
        c.app.now(),
        &format!("QUERY_AUTH_CODE:{code}"),
        42,
    );

    let started = Instant::now();
    let response = c.push_message(&test_account, "gh_3c884a361561", &xml).await;
    let took = started.elapsed();

    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "", "an empty reply");
    assert!(
        took < Duration::from_secs(5),
        "answered within WeChat's 5 s: {took:?}"
    );
    let messages = c.app.sim.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].touser, user);
    assert_eq!(
        messages[0].content.as_deref(),
        Some(format!("{code}_from_api").as_str())
    );
    assert_eq!(messages[0].authorizer_appid, test_account);
    let appid = AuthorizerAppId::parse(&test_account).unwrap();
    let stored = c.app.stored_authorizer(&appid).await;
    let send = &c.app.sim.calls_to(CUSTOM_SEND)[0];
    assert_eq!(
        send.query["access_token"],
        stored.access_token.value.expose()
    );
    println!("QUERY_AUTH_CODE handled in {took:?} (sim on loopback, DynamoDB Local)");
}

#[tokio::test]
async fn a_retried_query_auth_code_push_is_acted_on_once_and_answered_the_same_way() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let (account, user_name) = ("wxd101a85aa106f53e", "gh_8dad206e9538");
    let code = c.app.sim.authorize(account);
    let xml = text_xml(
        user_name,
        "o_user",
        c.app.now(),
        &format!("QUERY_AUTH_CODE:{code}"),
        7,
    );
    let push = c.signed_push(&xml, Some(user_name));
    let path = format!("/wechat/message/{account}");

    let first = c.push(&path, &push).await;
    let retry = c.push(&path, &push).await;

    assert_eq!(
        (first.status().as_u16(), retry.status().as_u16()),
        (200, 200)
    );
    assert_eq!(
        (body_text(&first), body_text(&retry)),
        (String::new(), String::new())
    );
    assert_eq!(c.app.sim.messages().len(), 1);
    assert_eq!(c.app.sim.call_count(QUERY_AUTH), 1);
}

#[tokio::test]
async fn a_failed_action_answers_503_and_does_not_block_wechats_retry() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let (account, user_name) = ("wx9252c5e0bb1836fc", "gh_c0f28a78b318");
    let code = c.app.sim.authorize(account);
    let xml = text_xml(
        user_name,
        "o_user",
        c.app.now(),
        &format!("QUERY_AUTH_CODE:{code}"),
        8,
    );
    let push = c.signed_push(&xml, Some(user_name));
    let path = format!("/wechat/message/{account}");
    c.app.sim.inject(
        CUSTOM_SEND,
        Fault::Errcode { errcode: 45047 },
        Times::Always,
    );

    let first = c.push(&path, &push).await;
    c.app.sim.clear_faults();
    let retry = c.push(&path, &push).await;

    assert_eq!(first.status(), 503, "WeChat is asked to retry");
    assert_eq!(body_text(&first), "temporarily unavailable");
    assert_eq!(retry.status(), 200);
    let messages = c.app.sim.messages();
    assert_eq!(messages.len(), 1, "sent once, by the retry");
    assert_eq!(
        messages[0].content.as_deref(),
        Some(format!("{code}_from_api").as_str())
    );
    assert_eq!(
        c.app.sim.call_count(QUERY_AUTH),
        1,
        "the code was exchanged once"
    );
}

#[tokio::test]
async fn audit_results_update_the_stored_audit_state_and_nickname_audits_are_recorded() {
    let c = Callbacks::spawn().await;
    let (appid, _) = c.app.authorized_account().await;
    let submitted = c.app.now() - 3600;
    c.app
        .store
        .put_audit_state(
            &c.app.component,
            &appid,
            &AuditState {
                audit_id: 4242,
                status: AuditStatus::Pending,
                reason: None,
                submitted_at: submitted,
                updated_at: submitted,
                auto_release: false,
                campaign: None,
            },
        )
        .await
        .unwrap();
    let at = c.app.now();

    let fail = c
        .push_message(
            appid.as_str(),
            "gh_mini",
            &event_xml("gh_mini", at, "weapp_audit_fail", &format!("<Reason><![CDATA[bad <b>screenshot</b>]]></Reason><FailTime>{at}</FailTime><ScreenShot>a|b</ScreenShot>")),
        )
        .await;
    assert_eq!(
        (fail.status().as_u16(), body_text(&fail)),
        (200, "success".into())
    );
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.audit_id, state.status), (4242, AuditStatus::Failed));
    assert_eq!(state.reason.as_deref(), Some("bad <b>screenshot</b>"));

    c.app.clock.advance(10);
    let at = c.app.now();
    let success = c
        .push_message(
            appid.as_str(),
            "gh_mini",
            &event_xml(
                "gh_mini",
                at,
                "weapp_audit_success",
                &format!("<SuccTime>{at}</SuccTime>"),
            ),
        )
        .await;
    assert_eq!(success.status(), 200);
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.audit_id, state.status),
        (4242, AuditStatus::Succeeded)
    );

    // A late result older than the stored submission belongs to an earlier audit.
    let stale = submitted - 100;
    c.push_message(
        appid.as_str(),
        "gh_mini",
        &event_xml(
            "gh_mini",
            stale,
            "weapp_audit_delay",
            &format!("<Reason><![CDATA[busy]]></Reason><DelayTime>{stale}</DelayTime>"),
        ),
    )
    .await;
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, AuditStatus::Succeeded);

    let nickname = event_xml(
        "gh_mini",
        at,
        "wxa_nickname_audit",
        "<ret>3</ret><nickname><![CDATA[New Name]]></nickname><reason><![CDATA[]]></reason>",
    );
    let response = c.push_message(appid.as_str(), "gh_mini", &nickname).await;
    assert_eq!(response.status(), 200);
    let message = AuthorizerMessage::parse(&nickname).unwrap();
    let entry = c
        .ledger_entry(&format!("{appid}:{}", message.idempotency_key()))
        .await
        .expect("recorded");
    let record = entry.record.unwrap();
    assert_eq!(
        (record.kind.as_str(), record.status),
        ("event:wxa_nickname_audit", Some(3))
    );
    assert_eq!(record.detail["nickname"], "New Name");
}

#[tokio::test]
async fn other_messages_are_answered_success_and_recorded_once() {
    let c = Callbacks::spawn().await;
    let (appid, user_name) = c.app.authorized_account_with_profile().await;
    let xml = event_xml(&user_name, c.app.now(), "subscribe", "");
    let push = c.signed_push(&xml, Some(&user_name));
    let path = format!("/wechat/message/{appid}");

    let first = c.push(&path, &push).await;
    let retry = c.push(&path, &push).await;

    assert_eq!(
        (first.status().as_u16(), retry.status().as_u16()),
        (200, 200)
    );
    assert_eq!(body_text(&first), "success");
    assert_eq!(body_text(&retry), "success");
    let message = AuthorizerMessage::parse(&xml).unwrap();
    let entry = c
        .ledger_entry(&format!("{appid}:{}", message.idempotency_key()))
        .await
        .expect("recorded");
    assert!(entry.done);
    assert_eq!(entry.record.unwrap().kind, "event:subscribe");
    assert!(c.app.sim.calls().is_empty());
}

#[tokio::test]
async fn a_message_addressed_to_another_account_than_its_url_names_is_refused_and_nothing_is_written()
 {
    let c = Callbacks::spawn().await;
    let (appid, _) = c.app.authorized_account_with_profile().await;
    let (_, other_user_name) = c.app.authorized_account_with_profile().await;
    let xml = event_xml(&other_user_name, c.app.now(), "subscribe", "");

    let response = c.push_message(appid.as_str(), &other_user_name, &xml).await;

    assert_eq!(response.status(), 400);
    let message = AuthorizerMessage::parse(&xml).unwrap();
    assert!(
        c.ledger_entry(&format!("{appid}:{}", message.idempotency_key()))
            .await
            .is_none(),
        "nothing claimed"
    );
    // The same goes for a release test account's URL with another account's message.
    let response = c
        .push_message("wx570bc396a51b8ff8", &other_user_name, &xml)
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_message_for_an_account_that_never_authorized_is_refused_without_a_call() {
    let c = Callbacks::spawn().await;
    let stranger = random_appid();
    let xml = event_xml("gh_stranger", c.app.now(), "subscribe", "");

    let response = c.push_message(&stranger, "gh_stranger", &xml).await;

    assert_eq!(response.status(), 400);
    let message = AuthorizerMessage::parse(&xml).unwrap();
    assert!(
        c.ledger_entry(&format!("{stranger}:{}", message.idempotency_key()))
            .await
            .is_none()
    );
    assert!(c.app.sim.calls().is_empty());
}

#[tokio::test]
async fn only_wechats_release_test_accounts_get_the_release_tests_answers() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let (appid, user_name) = c.app.authorized_account_with_profile().await;
    let code = c.app.sim.authorize(appid.as_str());

    // Any WeChat user can text an authorized account: it is an ordinary message there.
    let query = text_xml(
        &user_name,
        "o_user",
        c.app.now(),
        &format!("QUERY_AUTH_CODE:{code}"),
        11,
    );
    let response = c.push_message(appid.as_str(), &user_name, &query).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
    let text = text_xml(
        &user_name,
        "o_user",
        c.app.now(),
        "TESTCOMPONENT_MSG_TYPE_TEXT",
        12,
    );
    let response = c.push_message(appid.as_str(), &user_name, &text).await;
    assert_eq!(body_text(&response), "success", "no passive reply");
    assert_eq!(c.app.sim.call_count(QUERY_AUTH), 0, "no quota spent");
    assert!(c.app.sim.messages().is_empty());

    // A test account's QUERY_AUTH_CODE with something that is not a code: refused, no call.
    let junk = text_xml(
        "gh_3c884a361561",
        "o_user",
        c.app.now(),
        "QUERY_AUTH_CODE:not a code",
        13,
    );
    let response = c
        .push_message("wx570bc396a51b8ff8", "gh_3c884a361561", &junk)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(c.app.sim.call_count(QUERY_AUTH), 0);
}

// ----- rejections --------------------------------------------------------------------------------

fn signed_envelope(c: &Callbacks, encrypt: &str) -> SignedPush {
    let config = c.app.sim.config();
    let timestamp = c.app.now().to_string();
    let nonce = "1357924680";
    SignedPush {
        query: vec![
            (
                "signature".into(),
                wxcomponent::crypto::plain_signature(&config.token, &timestamp, nonce),
            ),
            ("timestamp".into(), timestamp.clone()),
            ("nonce".into(), nonce.into()),
            ("encrypt_type".into(), "aes".into()),
            (
                "msg_signature".into(),
                wxcomponent::crypto::msg_signature(&config.token, &timestamp, nonce, encrypt),
            ),
        ],
        body: wxcomponent::crypto::push_envelope(encrypt, &config.component_appid, None),
    }
}

#[tokio::test]
async fn every_refused_push_gets_a_4xx_with_a_fixed_body_and_nothing_is_written() {
    let c = Callbacks::spawn().await;
    let component = component(&c);
    let ticket = "ticket@@@refused";
    let good = c.signed_push(&ticket_xml(&component, c.app.now(), ticket), None);
    let config = c.app.sim.config();

    // Another component's crypto: the same token and key, a different appid in the plaintext.
    let other = MessageCrypto::new(
        Secret::new(config.token.clone()),
        "wxanothercomponent",
        wxcomponent::crypto::AesKey::from_encoding_aes_key(&config.encoding_aes_key).unwrap(),
        None,
    );
    let foreign_trailer = {
        let p = other
            .build_push(
                &ticket_xml(&component, c.app.now(), ticket),
                &c.app.now().to_string(),
                "1",
                &[7; 16],
                None,
            )
            .unwrap();
        SignedPush {
            query: p
                .query
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            body: p.body,
        }
    };
    let stale = {
        let timestamp = (c.app.now() - 3 * 86_400).to_string();
        let p = c
            .crypto
            .build_push(
                &ticket_xml(&component, c.app.now(), ticket),
                &timestamp,
                "1",
                &[7; 16],
                None,
            )
            .unwrap();
        SignedPush {
            query: p
                .query
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            body: p.body,
        }
    };
    // 48 bytes of valid base64 that decrypt to garbage (bad padding or length).
    let garbage = base64_of(&[0x5a; 48]);

    let cases: Vec<(&str, SignedPush, u16, &str)> = vec![
        (
            "bad msg_signature",
            good.with_param("msg_signature", &"0".repeat(40)),
            403,
            "forbidden",
        ),
        (
            "bad signature",
            good.with_param("signature", &"0".repeat(40)),
            403,
            "forbidden",
        ),
        (
            "missing msg_signature",
            SignedPush {
                query: good
                    .query
                    .iter()
                    .filter(|(k, _)| k != "msg_signature")
                    .cloned()
                    .collect(),
                body: good.body.clone(),
            },
            400,
            "bad request",
        ),
        ("timestamp three days off", stale, 403, "forbidden"),
        (
            "bad base64",
            signed_envelope(&c, "!!!not-base64!!!"),
            400,
            "bad request",
        ),
        (
            "bad padding",
            signed_envelope(&c, &garbage),
            400,
            "bad request",
        ),
        (
            "another component's appid trailer",
            foreign_trailer,
            400,
            "bad request",
        ),
        (
            "not XML",
            SignedPush {
                query: good.query.clone(),
                body: "this is not xml".into(),
            },
            400,
            "bad request",
        ),
        (
            "decrypted text is not XML",
            c.signed_push("not xml at all", None),
            400,
            "bad request",
        ),
        (
            "the event names another component",
            c.signed_push(&ticket_xml("wxanothercomponent", c.app.now(), ticket), None),
            400,
            "bad request",
        ),
    ];
    for (what, push, status, body) in cases {
        let response = c.push("/wechat/component", &push).await;
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(body_text(&response), body, "{what}");
    }
    assert_nothing_stored(&c).await;
}

fn base64_of(bytes: &[u8]) -> String {
    // Standard base64 without a dependency: the tests crate only needs it here.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn oversized_bodies_unknown_routes_wrong_methods_and_bad_appids_are_refused() {
    let c = Callbacks::spawn().await;
    let good = c.signed_push(&ticket_xml(&component(&c), c.app.now(), "ticket@@@x"), None);

    // Declared too large: refused on the header alone (the body here is small).
    let declared = c
        .ticket_callback
        .handle(apigw_request(
            "POST",
            "/wechat/component",
            &good.query_string(),
            &[("content-length", "70000")],
            Some(&good.body),
        ))
        .await;
    assert_eq!(
        (declared.status().as_u16(), body_text(&declared)),
        (413, "payload too large".into())
    );

    // Actually too large, whatever the header says.
    let huge = format!("<xml><Encrypt>{}</Encrypt></xml>", "A".repeat(70_000));
    let actual = c
        .push(
            "/wechat/component",
            &SignedPush {
                query: good.query.clone(),
                body: huge,
            },
        )
        .await;
    assert_eq!(actual.status(), 413);

    for (method, path, status) in [
        ("POST", "/wechat/unknown", 404),
        ("POST", "/", 404),
        ("GET", "/wechat/component", 405),
        ("PUT", "/wechat/message/wx1234567890abcdef", 405),
        ("POST", "/wechat/message/wx%20bad%21", 400),
    ] {
        let response = c
            .ticket_callback
            .handle(apigw_request(
                method,
                path,
                &good.query_string(),
                &[],
                Some(&good.body),
            ))
            .await;
        assert_eq!(response.status(), status, "{method} {path}");
        let text = body_text(&response);
        assert!(text.len() < 40 && !text.contains("rror"), "{text}");
    }
    assert_nothing_stored(&c).await;
}

#[tokio::test]
async fn a_named_stage_and_a_plain_http_request_route_like_the_default_stage() {
    let c = Callbacks::spawn().await;
    let ticket = c.app.sim.issue_ticket();
    let push = c.signed_push(&ticket_xml(&component(&c), c.app.now(), &ticket), None);

    let staged = c
        .ticket_callback
        .handle(apigw_request_on_stage(
            "prod",
            "POST",
            "/wechat/component",
            &push.query_string(),
            &[],
            Some(&push.body),
        ))
        .await;
    assert_eq!(staged.status(), 200);

    let plain = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://localhost:9000/wechat/component?{}",
            push.query_string()
        ))
        .body(lambda_http::Body::from(push.body.clone()))
        .unwrap();
    let response = c.ticket_callback.handle(plain).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
}

// ----- auth-redirect -----------------------------------------------------------------------------

fn href_of(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" href=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} link in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    // The product's pages (askama) write `&` in attributes as `&#38;`, the sim's as `&amp;`.
    html[start..end].replace("&#38;", "&").replace("&amp;", "&")
}

#[tokio::test]
async fn the_whole_authorization_flow_from_the_launch_page_to_a_stored_authorizer() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let merchant = random_appid();

    // 1. The launch page, with the options of the link the provider gave the merchant.
    let launch = c
        .get_auth("/auth", &format!("auth_type=1&biz_appid={merchant}"), &[])
        .await;
    assert_eq!(launch.status(), 200);
    assert_eq!(
        header(&launch, "content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    let href = href_of(&body_text(&launch), "authorize");
    let (go_path, go_query) = href.split_once('?').unwrap();
    assert_eq!(go_path, "auth/go", "relative, so it works under any prefix");

    // 2. The click: a fresh pre-auth code and a 302 to WeChat's (the sim's) PC page.
    let launch_url = format!("https://{API_HOST}/auth?auth_type=1");
    let go = c
        .get_auth(
            "/auth/go",
            go_query,
            &[("user-agent", PC_UA), ("referer", &launch_url)],
        )
        .await;
    assert_eq!(go.status(), 302);
    let location = header(&go, "location").unwrap();
    let wechat_page = url::Url::parse(&location).unwrap();
    assert_eq!(wechat_page.path(), "/cgi-bin/componentloginpage");
    let params: std::collections::HashMap<String, String> =
        wechat_page.query_pairs().into_owned().collect();
    assert_eq!(params["component_appid"], component(&c));
    assert_eq!(params["auth_type"], "1");
    assert_eq!(params["biz_appid"], merchant);
    // The callback URL carries the flow's state; the browser holds the same in a cookie.
    let flow = StartedFlow::from_response(&go);
    assert_eq!(
        params["redirect_uri"],
        format!("https://{API_HOST}/auth/callback?state={}", flow.state)
    );
    assert!(flow.cookie.ends_with(&flow.state), "{}", flow.set_cookie);
    assert!(params["pre_auth_code"].starts_with("preauthcode@@@"));

    // 3. WeChat's page (the browser keeps the launch page as referrer across the redirect).
    let page = browser
        .get(&location)
        .header("referer", &launch_url)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let confirm = href_of(&page.text().await.unwrap(), "confirm");
    let back = browser
        .get(c.app.sim.base_url().join(&confirm).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let callback = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(callback.host_str(), Some(API_HOST));
    assert_eq!(callback.path(), "/auth/callback");

    // 4. The callback, with the browser's cookie: the authorizer is stored with its refresh
    // token, the page names it, and the state cookie is removed.
    let done = c
        .get_auth(
            callback.path(),
            callback.query().unwrap(),
            &[("cookie", &flow.cookie)],
        )
        .await;
    assert_eq!(done.status(), 200, "{}", body_text(&done));
    assert_eq!(
        header(&done, "set-cookie").unwrap(),
        "wxc_auth_state=; Path=/auth/callback; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
    );
    assert!(body_text(&done).contains(&format!("Sim account {merchant}")));
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::Authorized);
    assert_eq!(
        stored.refresh_token.expose(),
        c.app.sim.refresh_token_of(&merchant).unwrap()
    );
    assert_eq!(
        stored.account.unwrap().nick_name,
        format!("Sim account {merchant}")
    );

    // Each click mints its own pre-auth code, and a spent one is refused by the page.
    let again = c
        .get_auth("/auth/go", go_query, &[("user-agent", PC_UA)])
        .await;
    assert_ne!(header(&again, "location").unwrap(), location);
    let reused = browser
        .get(&location)
        .header("referer", &launch_url)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 400);
    c.app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn wechats_in_app_browser_is_sent_to_the_mobile_page_and_the_page_needs_a_click() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;

    let go = c
        .get_auth("/auth/go", "auth_type=2", &[("user-agent", WECHAT_UA)])
        .await;

    assert_eq!(go.status(), 302);
    let location = header(&go, "location").unwrap();
    assert!(
        location.starts_with(&format!(
            "{}wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&",
            c.app.sim.base_url()
        )),
        "{location}"
    );
    assert!(location.ends_with("#wechat_redirect"));
    // Opened without a click from a page (no referrer), WeChat's page refuses.
    let page = reqwest::get(&location).await.unwrap().text().await.unwrap();
    assert!(page.contains("授权入口页所在域名：空"));
}

#[tokio::test]
async fn an_expired_or_invalid_code_shows_a_friendly_page_with_a_link_to_start_again() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    c.app.clock.advance(601);

    for code in [code.as_str(), "queryauthcode@@@made-up"] {
        let flow = c.start_flow("auth_type=3", &[]).await;
        let response = c.callback(&flow, code).await;
        assert_eq!(response.status(), 400);
        let html = body_text(&response);
        assert!(html.contains("href=\"../auth\""), "{html}");
        assert!(
            !html.contains("61010") && !html.contains("61009"),
            "no internals"
        );
        // The code is dead: the flow is over and its cookie goes.
        assert!(
            header(&response, "set-cookie")
                .unwrap()
                .contains("Max-Age=0")
        );
    }
    let missing = c.get_auth("/auth/callback", "", &[]).await;
    assert_eq!(missing.status(), 400);
    let flow = c.start_flow("auth_type=3", &[]).await;
    let no_code = c
        .get_auth(
            "/auth/callback",
            flow.redirect_uri.query().unwrap(),
            &[("cookie", &flow.cookie)],
        )
        .await;
    assert_eq!(no_code.status(), 400);
}

#[tokio::test]
async fn a_callback_whose_exchange_answer_was_lost_stores_the_authorization_recovered_from_wechats_list_on_reload()
 {
    let app = TestApp::spawn_with(
        SimConfig::random(),
        |s| s.wait_for_authorization = Duration::from_millis(200),
        |c| c.timeout = Duration::from_millis(300),
    )
    .await;
    let c = Callbacks::on(app, |_| {});
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    // WeChat spends the code but its answer never arrives; no push comes either.
    c.app.sim.inject(
        QUERY_AUTH,
        Fault::late_answer(Duration::from_millis(1_000)),
        Times::Next(1),
    );
    let flow = c.start_flow("auth_type=3", &[]).await;

    let first = c.callback(&flow, &code).await;
    assert_eq!(first.status(), 503, "{}", body_text(&first));
    // The merchant reloads: the code is refused now; the authorization is recovered and stored,
    // but the page does not name an account it cannot tie to this browser.
    let reload = c.callback(&flow, &code).await;

    assert_eq!(reload.status(), 400, "{}", body_text(&reload));
    assert!(!body_text(&reload).contains(&merchant));
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(
        Some(stored.refresh_token.expose().to_owned()),
        c.app.sim.refresh_token_of(&merchant)
    );
    assert!(
        c.app
            .sim
            .call_count("/cgi-bin/component/api_get_authorizer_list")
            >= 1
    );
}

/// The stack's signing secret, in tests.
const SIGNING_SECRET: &str = "test-signing-secret-0123456789abcdefghijklmnopqrstuvwxyz";

fn signing_key() -> SigningKey {
    SigningKey::new(Secret::new(SIGNING_SECRET)).unwrap()
}

fn success_redirect(url: &str) -> SuccessRedirect {
    SuccessRedirect::new(url::Url::parse(url).unwrap(), signing_key()).unwrap()
}

/// The signed redirect replaces the plain `?appid=` one (which anybody could forge); the old
/// assertion on the unsigned location is gone with it.
#[tokio::test]
async fn with_auth_success_url_the_callback_redirects_there_with_a_signed_appid() {
    let c = Callbacks::spawn_with(|s| {
        s.success_redirect = Some(success_redirect(
            "https://app.example.com/welcome?from=wechat",
        ));
        s.callback_url = Some(url::Url::parse("https://auth.example.com/auth/callback").unwrap());
    })
    .await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);

    let flow = c.start_flow("", &[]).await;
    let done = c.callback(&flow, &code).await;

    assert!(
        flow.location
            .as_str()
            .contains("redirect_uri=https%3A%2F%2Fauth.example.com%2Fauth%2Fcallback%3Fstate%3D"),
        "{}",
        flow.location
    );
    assert_eq!(done.status(), 302);
    let location = header(&done, "location").unwrap();
    let ts = c.app.now();
    let sig = signing_key().sign(&format!("appid={merchant}&state=&ts={ts}"));
    assert_eq!(
        location,
        format!("https://app.example.com/welcome?from=wechat&appid={merchant}&ts={ts}&sig={sig}")
    );
}

#[tokio::test]
async fn auth_routes_refuse_bad_options_unknown_paths_and_other_methods() {
    let c = Callbacks::spawn().await;
    let bad = c.get_auth("/auth", "auth_type=9", &[]).await;
    assert_eq!(bad.status(), 400);
    let bad_go = c.get_auth("/auth/go", "biz_appid=%3Cscript%3E", &[]).await;
    assert_eq!(bad_go.status(), 400);
    assert!(!body_text(&bad_go).contains("<script>"));
    assert_eq!(c.get_auth("/auth/elsewhere", "", &[]).await.status(), 404);
    let post = c
        .auth_redirect
        .handle(apigw_request("POST", "/auth/callback", "", &[], Some("x")))
        .await;
    assert_eq!(post.status(), 405);
    assert!(c.app.sim.calls().is_empty());
}

// ----- auth-redirect: the flow's state, the signed redirect, what junk costs ---------------------

const PREAUTHCODE: &str = "/cgi-bin/component/api_create_preauthcode";

/// The refusal of a callback that is not this browser's: 400, the Chinese page with a link to
/// start again, framing forbidden.
fn assert_state_refused(response: &lambda_http::Response<lambda_http::Body>, case: &str) {
    assert_eq!(response.status(), 400, "{case}");
    let html = body_text(response);
    assert!(html.contains("lang=\"zh-CN\""), "{case}: {html}");
    assert!(html.contains("无法确认这次授权"), "{case}: {html}");
    assert!(html.contains("href=\"../auth\""), "{case}: {html}");
    assert_frames_forbidden(response, case);
}

fn assert_frames_forbidden(response: &lambda_http::Response<lambda_http::Body>, case: &str) {
    let csp = header(response, "content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{case}: {csp}");
    assert_eq!(
        header(response, "x-frame-options").as_deref(),
        Some("DENY"),
        "{case}"
    );
}

#[tokio::test]
async fn the_click_sets_an_http_only_lax_state_cookie_scoped_to_the_callback_for_the_codes_lifetime()
 {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;

    let flow = c.start_flow("auth_type=3", &[]).await;
    assert_eq!(flow.state.len(), 64, "{}", flow.state);
    assert_eq!(
        flow.set_cookie,
        format!(
            "wxc_auth_state={}; Path=/auth/callback; Max-Age=1800; HttpOnly; SameSite=Lax; Secure",
            flow.state
        )
    );
    let another = c.start_flow("auth_type=3", &[]).await;
    assert_ne!(another.state, flow.state, "every click gets its own state");

    // Under a named stage the path carries the stage; over plain http the cookie is not Secure.
    let staged = c
        .auth_redirect
        .handle(apigw_request_on_stage(
            "prod",
            "GET",
            "/auth/go",
            "auth_type=3",
            &[("x-forwarded-proto", "http")],
            None,
        ))
        .await;
    let staged = StartedFlow::from_response(&staged);
    assert_eq!(staged.redirect_uri.path(), "/prod/auth/callback");
    assert_eq!(
        staged.set_cookie,
        format!(
            "wxc_auth_state={}; Path=/prod/auth/callback; Max-Age=1800; HttpOnly; SameSite=Lax",
            staged.state
        )
    );
}

#[tokio::test]
async fn a_callback_that_is_not_this_browsers_flow_is_refused_before_any_wechat_call_or_write() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let mine = c.start_flow("auth_type=3", &[]).await;
    let other = c.start_flow("auth_type=3", &[]).await;
    c.app.sim.clear_calls();
    let items = table_items(&c.app).await;

    let with_code = |query: &str| format!("{query}&auth_code={code}&expires_in=600");
    let wrong_state = "0".repeat(64);
    let cases: [(&str, String, Option<&str>); 6] = [
        ("no state", with_code("x=1"), Some(&mine.cookie)),
        ("an empty state", with_code("state="), Some(&mine.cookie)),
        (
            "a wrong state",
            with_code(&format!("state={wrong_state}")),
            Some(&mine.cookie),
        ),
        (
            "two states",
            with_code(&format!("state={}&state={}", mine.state, mine.state)),
            Some(&mine.cookie),
        ),
        (
            "the cookie of another flow",
            mine.callback_query(&code),
            Some(&other.cookie),
        ),
        ("no cookie at all", mine.callback_query(&code), None),
    ];
    for (case, query, cookie) in &cases {
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", *c)).collect();
        let response = c.get_auth("/auth/callback", query, &headers).await;
        assert_state_refused(&response, case);
        assert!(
            header(&response, "set-cookie").is_none(),
            "{case}: a refusal leaves the browser's own flow alone"
        );
    }

    assert_eq!(c.app.sim.call_count(QUERY_AUTH), 0, "no api_query_auth");
    assert!(c.app.sim.calls().is_empty(), "no WeChat call at all");
    assert_eq!(table_items(&c.app).await, items, "nothing written");
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    assert!(
        c.app
            .store
            .authorizer(&c.app.component, &appid)
            .await
            .unwrap()
            .is_none()
    );

    // The right state with its cookie completes (the code was not spent by the refusals).
    let done = c.callback(&mine, &code).await;
    assert_eq!(done.status(), 200, "{}", body_text(&done));
    assert_eq!(
        c.app.stored_authorizer(&appid).await.refresh_token_version,
        1
    );
}

#[tokio::test]
async fn a_replayed_callback_is_refused_from_a_browser_without_the_cookie() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let flow = c.start_flow("auth_type=3", &[]).await;
    let done = c.callback(&flow, &code).await;
    assert_eq!(done.status(), 200, "{}", body_text(&done));
    assert!(
        header(&done, "set-cookie")
            .unwrap()
            .starts_with("wxc_auth_state=; Path=/auth/callback; Max-Age=0;")
    );
    let exchanges = c.app.sim.call_count(QUERY_AUTH);
    let items = table_items(&c.app).await;

    // The same callback URL (from a shared link, a log, browser history) in a browser without the
    // cookie, or in the same browser once the cookie is gone: refused, though the code's
    // completed-authorization record would still answer for it.
    let replay = c
        .get_auth("/auth/callback", &flow.callback_query(&code), &[])
        .await;
    assert_state_refused(&replay, "replay");
    assert!(
        !body_text(&replay).contains(&merchant),
        "the account is not named"
    );
    assert_eq!(c.app.sim.call_count(QUERY_AUTH), exchanges);
    assert_eq!(table_items(&c.app).await, items);
}

#[tokio::test]
async fn the_signed_redirect_carries_the_providers_state_and_verifies_and_a_tampered_one_does_not()
{
    let c = Callbacks::spawn_with(|s| {
        s.success_redirect = Some(success_redirect("https://app.example.com/welcome"));
    })
    .await;
    c.app.store_fresh_ticket().await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let merchant = random_appid();

    // The provider's link carries its own state; the launch page's button passes it on.
    let launch = c
        .get_auth(
            "/auth",
            &format!("auth_type=1&biz_appid={merchant}&state=order-42"),
            &[],
        )
        .await;
    let href = href_of(&body_text(&launch), "authorize");
    let (_, go_query) = href.split_once('?').unwrap();
    assert!(go_query.contains("state=order-42"), "{go_query}");
    let launch_url = format!("https://{API_HOST}/auth?auth_type=1");
    let flow = c
        .start_flow(go_query, &[("user-agent", PC_UA), ("referer", &launch_url)])
        .await;
    // Only the flow's own state goes to WeChat; the provider's stays in the cookie.
    assert!(!flow.location.as_str().contains("order-42"));
    assert!(flow.cookie.ends_with(".order-42"), "{}", flow.cookie);

    // WeChat's (the sim's) page, the merchant confirms, the browser comes back with the cookie.
    let page = browser
        .get(flow.location.as_str())
        .header("referer", &launch_url)
        .send()
        .await
        .unwrap();
    let confirm = href_of(&page.text().await.unwrap(), "confirm");
    let back = browser
        .get(c.app.sim.base_url().join(&confirm).unwrap())
        .send()
        .await
        .unwrap();
    let callback = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let done = c
        .get_auth(
            callback.path(),
            callback.query().unwrap(),
            &[("cookie", &flow.cookie)],
        )
        .await;
    assert_eq!(done.status(), 302, "{}", body_text(&done));
    let location = url::Url::parse(&header(&done, "location").unwrap()).unwrap();
    assert_eq!(location.path(), "/welcome");
    let query = location.query().unwrap().to_owned();

    let verified =
        verify_success_query(&signing_key(), &query, c.app.now(), SUCCESS_MAX_AGE_SECS).unwrap();
    assert_eq!(verified.appid.as_str(), merchant);
    assert_eq!(verified.state.as_deref(), Some("order-42"));
    assert_eq!(verified.ts, c.app.now());
    assert!(
        c.app
            .stored_authorizer(&verified.appid)
            .await
            .refresh_token_version
            == 1
    );

    let other_appid = random_appid();
    for tampered in [
        query.replace(&merchant, &other_appid),
        query.replace("state=order-42", "state=order-43"),
        query.replace("&state=order-42", ""),
        query.replace(
            &format!("ts={}", verified.ts),
            &format!("ts={}", verified.ts + 1),
        ),
    ] {
        assert!(
            verify_success_query(&signing_key(), &tampered, c.app.now(), SUCCESS_MAX_AGE_SECS)
                .is_err(),
            "{tampered}"
        );
    }
    let other_key = SigningKey::new(Secret::new("not-the-stacks-secret-0123456789abcdef")).unwrap();
    assert!(verify_success_query(&other_key, &query, c.app.now(), SUCCESS_MAX_AGE_SECS).is_err());
    // Too old: a provider that keeps to the maximum age refuses a redirect replayed later.
    c.app.clock.advance(SUCCESS_MAX_AGE_SECS + 1);
    assert!(
        verify_success_query(&signing_key(), &query, c.app.now(), SUCCESS_MAX_AGE_SECS).is_err()
    );
}

#[tokio::test]
async fn head_requests_mint_no_pre_auth_code_and_spend_no_auth_code() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let flow = c.start_flow("auth_type=3", &[]).await;
    c.app.sim.clear_calls();
    let items = table_items(&c.app).await;

    let go = c
        .head_auth("/auth/go", "auth_type=3", &[("user-agent", PC_UA)])
        .await;
    assert_eq!(go.status(), 200);
    assert!(header(&go, "location").is_none() && header(&go, "set-cookie").is_none());
    assert_frames_forbidden(&go, "HEAD /auth/go");
    let callback = c
        .head_auth(
            "/auth/callback",
            &flow.callback_query(&code),
            &[("cookie", &flow.cookie)],
        )
        .await;
    assert_eq!(callback.status(), 200);
    assert!(body_text(&callback).is_empty());
    let launch = c.head_auth("/auth", "auth_type=3", &[]).await;
    assert_eq!(launch.status(), 200);

    assert_eq!(
        c.app.sim.call_count(PREAUTHCODE),
        0,
        "no pre-auth code minted"
    );
    assert!(c.app.sim.calls().is_empty(), "no WeChat call at all");
    assert_eq!(table_items(&c.app).await, items, "nothing written");
    // The code is still good for the real (GET) callback.
    assert_eq!(c.callback(&flow, &code).await.status(), 200);
}

#[tokio::test]
async fn a_code_without_wechats_shape_is_refused_before_any_call_even_with_the_right_state() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    // The first click stores the component token; count from there.
    c.start_flow("auth_type=3", &[]).await;
    let items = table_items(&c.app).await;

    for code in [
        "junk",
        "queryauthcode@@@",
        "preauthcode@@@abcdef",
        "queryauthcode@@@<script>alert(1)</script>",
        &format!("queryauthcode@@@{}", "a".repeat(600)),
    ] {
        let flow = c.start_flow("auth_type=3", &[]).await;
        c.app.sim.clear_calls();
        let response = c.callback(&flow, code).await;
        assert_eq!(response.status(), 400, "{code}");
        let html = body_text(&response);
        assert!(
            html.contains("lang=\"zh-CN\"") && html.contains("授权码无效"),
            "{html}"
        );
        assert!(html.contains("href=\"../auth\""), "{html}");
        assert!(
            !html.contains("<script>alert"),
            "nothing of the code is shown"
        );
        assert_frames_forbidden(&response, code);
        assert!(c.app.sim.calls().is_empty(), "{code}: WeChat was called");
    }
    assert_eq!(table_items(&c.app).await, items, "nothing written");
}

#[tokio::test]
async fn every_page_of_the_flow_forbids_framing() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let flow = c.start_flow("auth_type=3", &[]).await;
    assert_frames_forbidden(
        &c.get_auth("/auth/go", "auth_type=3", &[]).await,
        "the redirect to WeChat",
    );

    let pages = [
        ("launch", c.get_auth("/auth", "auth_type=3", &[]).await),
        ("bad launch", c.get_auth("/auth", "auth_type=9", &[]).await),
        ("bad go", c.get_auth("/auth/go", "auth_type=9", &[]).await),
        ("no state", c.get_auth("/auth/callback", "", &[]).await),
        (
            "rejected code",
            c.callback(&flow, "queryauthcode@@@never-issued").await,
        ),
        ("success", {
            let flow = c.start_flow("auth_type=3", &[]).await;
            c.callback(&flow, &code).await
        }),
    ];
    for (case, response) in &pages {
        assert!(
            header(response, "content-type")
                .unwrap()
                .starts_with("text/html"),
            "{case}"
        );
        assert_frames_forbidden(response, case);
    }
    c.app
        .sim
        .inject(PREAUTHCODE, Fault::errcode(-1), Times::Always);
    let down = c.get_auth("/auth/go", "auth_type=3", &[]).await;
    assert_eq!(down.status(), 503);
    assert_frames_forbidden(&down, "WeChat down");
}

#[tokio::test]
async fn the_pages_speak_chinese_unless_the_browser_prefers_english_and_name_the_provider() {
    let c = Callbacks::spawn_with(|s| s.brand_name = Some("云店 <SaaS>".to_owned())).await;
    c.app.store_fresh_ticket().await;
    let english = [("accept-language", "en-US,en;q=0.9,zh-CN;q=0.5")];

    let launch = body_text(&c.get_auth("/auth", "auth_type=3", &[]).await);
    assert!(launch.contains("<html lang=\"zh-CN\""), "{launch}");
    assert!(launch.contains("去授权"), "{launch}");
    assert!(
        launch.contains("云店 &#60;SaaS&#62;"),
        "the provider's name, escaped: {launch}"
    );
    let launch_en = body_text(&c.get_auth("/auth", "auth_type=3", &english).await);
    assert!(launch_en.contains("<html lang=\"en\""), "{launch_en}");
    assert!(launch_en.contains(">Authorize</a>"), "{launch_en}");
    assert!(launch_en.contains("云店 &#60;SaaS&#62;"), "{launch_en}");

    // The success page, in the language of the browser that comes back.
    let merchant = random_appid();
    for (headers, expected) in [(&[][..], "授权成功"), (&english[..], "Authorized")] {
        let flow = c.start_flow("auth_type=3", &[]).await;
        let code = c.app.sim.authorize(&merchant);
        let mut with_cookie = vec![("cookie", flow.cookie.as_str())];
        with_cookie.extend_from_slice(headers);
        let done = c
            .get_auth(
                flow.redirect_uri.path(),
                &flow.callback_query(&code),
                &with_cookie,
            )
            .await;
        assert_eq!(done.status(), 200, "{}", body_text(&done));
        let page = body_text(&done);
        assert!(page.contains(expected), "{page}");
        assert!(page.contains(&format!("({merchant})")), "{page}");
    }

    // A refusal, in English when asked.
    let refused = c
        .get_auth(
            "/auth/callback",
            "state=x&auth_code=queryauthcode@@@x",
            &english,
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert!(body_text(&refused).contains("This authorization cannot be confirmed"));
}
