//! The product's events, end to end: WeChat's pushes through the ticket-callback handler change
//! the state in DynamoDB Local, and the events those changes mean reach a loopback EventBridge
//! through the real SDK, once per event id, also when the bus refused them at first (the
//! refresher's drain publishes them later, with the same id).

use wxcomponent::events::{ProductEvent, SOURCE};
use wxcomponent::service::PushSettings;
use wxcomponent::store::{AuditState, AuditStatus, AuditStore, AuthorizerStatus, EventOutbox};
use wxcomponent_tests::app::{TestApp, random_appid};
use wxcomponent_tests::callbacks::{
    Callbacks, authorized_xml, body_text, event_xml, text_xml, unauthorized_xml,
};
use wxcomponent_tests::fake_bus::{BusEntry, BusMode, FakeBus};
use wxcomponent_tests::refresh::refresher;

/// One refresher run with a minute to go.
async fn refresher_run(c: &Callbacks) -> wxcomponent::service::RefreshSummary {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    refresher(&c.app, |_| {}).refresh_due(deadline, 4).await
}

async fn callbacks_on(fake: &FakeBus) -> Callbacks {
    let app = TestApp::spawn()
        .await
        .with_event_bus(fake.event_bus("wxcomponent-events").await);
    Callbacks::on(app, |_| {})
}

fn ids(entries: &[BusEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.detail["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn authorization_revocation_and_audit_result_reach_the_bus_once_each_even_after_a_refusal() {
    let fake = FakeBus::start().await.unwrap();
    let c = callbacks_on(&fake).await;
    c.app.store_fresh_ticket().await;
    let component = c.app.component.to_string();
    let appid = random_appid();
    let code = c.app.sim.authorize(&appid);

    // The bus refuses while the authorization arrives, delivered twice as WeChat retries.
    fake.set_mode(BusMode::Refuse);
    let xml = authorized_xml(&component, "authorized", c.app.now(), &appid, &code);
    for _ in 0..2 {
        let response = c.push_component_event(&xml).await;
        assert_eq!(
            (response.status().as_u16(), body_text(&response)),
            (200, "success".to_owned())
        );
    }
    assert!(fake.accepted().is_empty());
    assert!(fake.requests() > 0, "publication was tried at once");
    let unsent = c
        .app
        .store
        .unsent_events(&c.app.component, 10)
        .await
        .unwrap();
    assert_eq!(
        unsent
            .iter()
            .map(|e| e.detail_type.as_str())
            .collect::<Vec<_>>(),
        ["Authorizer Authorized"],
        "kept once, although delivered twice"
    );

    // The bus is back: the refresher's run drains what waits.
    fake.set_mode(BusMode::Accept);
    let summary = refresher_run(&c).await;
    assert_eq!((summary.events.published, summary.events.failed), (1, 0));
    let authorized = fake.accepted_of("Authorizer Authorized");
    assert_eq!(ids(&authorized), [unsent[0].id.as_str()]);
    let detail = &authorized[0].detail;
    assert_eq!(authorized[0].source, SOURCE);
    assert_eq!(detail["authorizer_appid"], appid.as_str());
    assert_eq!(detail["component_appid"], component.as_str());
    assert_eq!(detail["completed_by"], "code");
    assert!(
        detail["func_info"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    );
    let stored = c
        .app
        .stored_authorizer(&wxcomponent::AuthorizerAppId::parse(&appid).unwrap())
        .await;
    let text = detail.to_string();
    for secret in [
        &code,
        stored.refresh_token.expose(),
        stored.access_token.value.expose(),
    ] {
        assert!(!text.contains(secret), "no secret in an event");
    }
    // Nothing is left: a second drain publishes nothing.
    let summary = refresher_run(&c).await;
    assert_eq!(summary.events.published, 0);

    // An audit passes: published at once, and once although WeChat delivers it again.
    let appid_id = stored.appid.clone();
    let submitted = c.app.now() - 3600;
    c.app
        .store
        .put_audit_state(
            &c.app.component,
            &appid_id,
            &AuditState {
                audit_id: 77,
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
    // Addressed to the account as its profile (filled in from WeChat) names it.
    let user_name = stored
        .account
        .as_ref()
        .map_or("gh_mini".to_owned(), |a| a.user_name.clone());
    let success = event_xml(
        &user_name,
        at,
        "weapp_audit_success",
        &format!("<SuccTime>{at}</SuccTime>"),
    );
    for _ in 0..2 {
        let response = c.push_message(&appid, &user_name, &success).await;
        assert_eq!(response.status(), 200);
    }
    let succeeded = fake.accepted_of("Audit Succeeded");
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].detail["audit_id"], 77);
    assert_eq!(succeeded[0].detail["authorizer_appid"], appid.as_str());

    // The merchant revokes: published at once, once.
    let revoked = unauthorized_xml(&component, c.app.now(), &appid);
    for _ in 0..2 {
        let response = c.push_component_event(&revoked).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        c.app.stored_authorizer(&appid_id).await.status,
        AuthorizerStatus::Unauthorized
    );
    let unauthorized = fake.accepted_of("Authorizer Unauthorized");
    assert_eq!(unauthorized.len(), 1);
    assert_eq!(unauthorized[0].detail["cause"], "push");
    assert!(
        c.app
            .store
            .unsent_events(&c.app.component, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Every event on the bus reads back as the event it is, and no id came twice.
    let all = fake.accepted();
    let mut seen = ids(&all);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), all.len());
    for entry in &all {
        assert!(ProductEvent::from_detail(&entry.detail_type, &entry.detail).is_some());
    }
}

#[tokio::test]
async fn a_change_whose_write_fails_records_no_event_and_the_same_change_again_no_second() {
    let fake = FakeBus::start().await.unwrap();
    let c = callbacks_on(&fake).await;
    let (appid, _) = c.app.authorized_account().await;
    let store = &c.app.store;
    let state = |audit_id: u64, status: AuditStatus| AuditState {
        audit_id,
        status,
        reason: Some("类目不符".to_owned()),
        submitted_at: 1,
        updated_at: 2,
        auto_release: false,
        campaign: None,
    };
    let event = |s: &AuditState| {
        wxcomponent::events::catalogue::audit_result(&c.app.component, &appid, s, 3).unwrap()
    };
    let later = state(9, AuditStatus::Failed);
    store
        .put_audit_state_with_events(&c.app.component, &appid, &later, &[event(&later)])
        .await
        .unwrap();
    // An older audit's result loses to the stored later one, and with it its event.
    let older = state(8, AuditStatus::Failed);
    assert!(
        store
            .put_audit_state_with_events(&c.app.component, &appid, &older, &[event(&older)])
            .await
            .is_err()
    );
    // The same change written again records its event once.
    store
        .put_audit_state_with_events(&c.app.component, &appid, &later, &[event(&later)])
        .await
        .unwrap();
    let unsent = store.unsent_events(&c.app.component, 10).await.unwrap();
    assert_eq!(unsent, vec![event(&later)]);
    assert_eq!(unsent[0].fields["reason"], "类目不符");
}

#[tokio::test]
async fn registrations_and_notices_are_published_and_messages_only_when_asked() {
    let fake = FakeBus::start().await.unwrap();
    let c = callbacks_on(&fake).await;
    c.app.store_fresh_ticket().await;
    let component = c.app.component.to_string();
    let now = c.app.now();

    // A fast registration result: its own event, and the authorization it carries.
    let mini = random_appid();
    let code = c.app.sim.authorize(&mini);
    let registered = format!(
        "<xml><AppId><![CDATA[{component}]]></AppId><CreateTime>{now}</CreateTime>\
         <InfoType><![CDATA[notify_third_fasteregister]]></InfoType>\
         <appid><![CDATA[{mini}]]></appid><status>0</status><auth_code><![CDATA[{code}]]></auth_code>\
         <msg><![CDATA[OK]]></msg><info><name><![CDATA[示例科技有限公司]]></name></info></xml>"
    );
    assert_eq!(c.push_component_event(&registered).await.status(), 200);
    let completed = fake.accepted_of("Fast Registration Completed");
    assert_eq!(completed.len(), 1);
    let detail = &completed[0].detail;
    assert_eq!(detail["authorizer_appid"], mini.as_str());
    assert_eq!(detail["registration"], "mini_program");
    assert_eq!(
        (detail["status"].clone(), detail["succeeded"].clone()),
        (0.into(), true.into())
    );
    assert_eq!(detail["name"], "示例科技有限公司");
    assert!(
        !detail.to_string().contains(&code),
        "no auth code in the event"
    );
    assert_eq!(fake.accepted_of("Authorizer Authorized").len(), 1);

    // A filing result on the authorization event URL: passed on with its typed fields.
    let filing = format!(
        "<xml><AppId><![CDATA[{component}]]></AppId><CreateTime>{now}</CreateTime>\
         <InfoType><![CDATA[notify_apply_icpfiling_result]]></InfoType>\
         <authorizer_appid><![CDATA[{mini}]]></authorizer_appid><beian_status>4</beian_status></xml>"
    );
    for _ in 0..2 {
        assert_eq!(c.push_component_event(&filing).await.status(), 200);
    }
    let passed = fake.accepted_of("Authorizer Message");
    assert_eq!(passed.len(), 1, "once, although delivered twice");
    let detail = &passed[0].detail;
    assert_eq!(detail["url"], "component");
    assert_eq!(detail["info_type"], "notify_apply_icpfiling_result");
    assert_eq!(detail["authorizer_appid"], mini.as_str());
    assert_eq!(detail["fields"]["beian_status"], 4);
    assert_eq!(detail["raw_xml"], filing.as_str());

    // A user's message is not passed on unless the provider asks for it.
    let (appid, user_name) = c.app.authorized_account_with_profile().await;
    let text = text_xml(&user_name, "o-user-1", now, "你好", 7001);
    assert_eq!(
        c.push_message(appid.as_str(), &user_name, &text)
            .await
            .status(),
        200
    );
    assert_eq!(fake.accepted_of("Authorizer Message").len(), 1);

    let asked = Callbacks::on_with(
        c.app,
        PushSettings {
            publish_messages: true,
            ..PushSettings::default()
        },
        |_| {},
    );
    let text = text_xml(&user_name, "o-user-1", now + 1, "营业时间？", 7002);
    assert_eq!(
        asked
            .push_message(appid.as_str(), &user_name, &text)
            .await
            .status(),
        200
    );
    let passed = fake.accepted_of("Authorizer Message");
    assert_eq!(passed.len(), 2);
    let detail = &passed[1].detail;
    assert_eq!(detail["url"], "message");
    assert_eq!(
        (detail["msg_type"].clone(), detail["from_user_name"].clone()),
        ("text".into(), "o-user-1".into())
    );
    assert_eq!(detail["fields"]["content"], "营业时间？");
    assert_eq!(detail["fields"]["msg_id"], 7002);
    assert_eq!(detail["raw_xml"], text.as_str());
}
