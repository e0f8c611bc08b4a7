//! The ticket-callback and auth-redirect functions end to end: their real handlers, driven with
//! API Gateway v2 events, against DynamoDB Local (a fresh table per test) and the WeChat
//! simulator on loopback.

use std::time::{Duration, Instant};

use wxcomponent::event::AuthorizerMessage;
use wxcomponent::service::{Retention, TokenError};
use wxcomponent::store::{
    AuditState, AuditStatus, AuditStore, AuthorizerStatus, DueTokens, TicketStore,
};
use wxcomponent::{AuthorizerAppId, MessageCrypto, Secret};
use wxcomponent_tests::app::random_appid;
use wxcomponent_tests::callbacks::{
    API_HOST, Callbacks, SignedPush, apigw_request, apigw_request_on_stage, authorized_xml,
    body_text, event_xml, header, text_xml, ticket_xml, unauthorized_xml,
};
use wxcomponent_tests::sim::{Fault, Times};

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
    let query = format!("auth_code={code}&expires_in=600");

    let (event, page) = tokio::join!(
        c.push_component_event(&xml),
        c.get_auth("/auth/callback", &query, &[])
    );

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
    html[start..end].replace("&amp;", "&")
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
    assert_eq!(
        params["redirect_uri"],
        format!("https://{API_HOST}/auth/callback")
    );
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

    // 4. The callback: the authorizer is stored with its refresh token, the page names it.
    let done = c
        .get_auth(callback.path(), callback.query().unwrap(), &[])
        .await;
    assert_eq!(done.status(), 200, "{}", body_text(&done));
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

    for query in [
        format!("auth_code={code}&expires_in=600"),
        "auth_code=queryauthcode@@@made-up".to_owned(),
    ] {
        let response = c.get_auth("/auth/callback", &query, &[]).await;
        assert_eq!(response.status(), 400);
        let html = body_text(&response);
        assert!(html.contains("href=\"../auth\""), "{html}");
        assert!(
            !html.contains("61010") && !html.contains("61009"),
            "no internals"
        );
    }
    let missing = c.get_auth("/auth/callback", "", &[]).await;
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn with_auth_success_url_the_callback_redirects_there_with_the_appid() {
    let c = Callbacks::spawn_with(|s| {
        s.success_url =
            Some(url::Url::parse("https://app.example.com/welcome?from=wechat").unwrap());
        s.callback_url = Some(url::Url::parse("https://auth.example.com/auth/callback").unwrap());
    })
    .await;
    c.app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);

    let go = c.get_auth("/auth/go", "", &[]).await;
    let done = c
        .get_auth("/auth/callback", &format!("auth_code={code}"), &[])
        .await;

    let location = header(&go, "location").unwrap();
    assert!(
        location.contains("redirect_uri=https%3A%2F%2Fauth.example.com%2Fauth%2Fcallback"),
        "{location}"
    );
    assert_eq!(done.status(), 302);
    assert_eq!(
        header(&done, "location").unwrap(),
        format!("https://app.example.com/welcome?from=wechat&appid={merchant}")
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
