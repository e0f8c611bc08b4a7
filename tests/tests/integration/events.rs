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
use wxcomponent_tests::event_schemas::{assert_documented, documented, schema_of};
use wxcomponent_tests::fake_bus::{BusEntry, BusMode, FakeBus};
use wxcomponent_tests::fleet::Fleet;
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

/// Every event the bus took matches its documented schema.
fn assert_all_documented(fake: &FakeBus) {
    for entry in fake.accepted() {
        assert_documented(&entry.detail_type, &entry.detail);
    }
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
    // Addressed to the account's original id, as WeChat addresses it.
    let user_name = c
        .app
        .sim
        .user_name_of(&appid)
        .expect("the sim knows the account");
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
    assert_all_documented(&fake);
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
    assert_all_documented(&fake);
}

#[tokio::test]
async fn a_campaign_tells_its_states_releases_and_audit_results() {
    let fake = FakeBus::start().await.unwrap();
    let fleet = Fleet::spawn_with_bus(fake.event_bus("wxcomponent-events").await).await;
    let appids = fleet.mini_programs(2).await;
    let created = fleet
        .create(serde_json::json!({
            "template_id": fleet.template_id,
            "user_version": "2.0.0",
            "user_desc": "spring menu",
        }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    fleet.one_round().await;
    assert_eq!(fleet.campaign(&id).await["state"], "done");

    let states: Vec<(String, serde_json::Value)> = fake
        .accepted_of("Campaign State Changed")
        .iter()
        .map(|e| {
            assert_eq!(e.detail["campaign_id"], id.as_str());
            (
                e.detail["state"].as_str().unwrap().to_owned(),
                e.detail["previous_state"].clone(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("running".to_owned(), serde_json::Value::Null),
            ("done".to_owned(), "running".into())
        ]
    );
    for appid in &appids {
        let of = |detail_type: &str| {
            fake.accepted_of(detail_type)
                .into_iter()
                .filter(|e| e.detail["authorizer_appid"] == appid.as_str())
                .count()
        };
        assert_eq!(of("Audit Succeeded"), 1, "{appid}");
        assert_eq!(of("Code Released"), 1, "{appid}");
    }
    assert_all_documented(&fake);
}

#[tokio::test]
async fn a_missing_ticket_is_told_once_per_last_ticket() {
    let fake = FakeBus::start().await.unwrap();
    let c = callbacks_on(&fake).await;
    // No ticket at all: one event this hour, however many runs.
    for _ in 0..2 {
        refresher_run(&c).await;
    }
    let missing = fake.accepted_of("Ticket Missing");
    assert_eq!(
        missing.len(),
        1,
        "{:?}",
        missing
            .iter()
            .map(|e| e.detail.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(missing[0].detail["last_ticket_at"], serde_json::Value::Null);
    c.app.clock.advance(3600);
    refresher_run(&c).await;
    assert_eq!(fake.accepted_of("Ticket Missing").len(), 2, "another hour");
    // A ticket that went stale: one event for it.
    c.app.store_fresh_ticket().await;
    let received = c.app.now();
    c.app.clock.advance(30 * 60);
    for _ in 0..2 {
        refresher_run(&c).await;
    }
    let missing = fake.accepted_of("Ticket Missing");
    assert_eq!(missing.len(), 3);
    assert_eq!(missing[2].detail["last_ticket_at"], received);
    assert_eq!(missing[2].detail["ticket_age_secs"], 30 * 60);
    assert_all_documented(&fake);
}

#[test]
fn every_detail_type_has_a_schema_and_the_schemas_refuse_what_they_do_not_name() {
    use wxcomponent::events::DetailType;
    use wxcomponent::events::catalogue::{self, StatusCause};
    let documented = documented();
    let mut names: Vec<&str> = DetailType::ALL.iter().map(|t| t.as_str()).collect();
    names.push("common");
    names.sort_unstable();
    assert_eq!(
        documented.keys().map(String::as_str).collect::<Vec<_>>(),
        names
    );

    // What the code builds for the kinds the end-to-end tests above do not publish.
    let component = wxcomponent::ComponentAppId::parse("wx3d5d4b6ce7a1f001").unwrap();
    let appid = wxcomponent::AuthorizerAppId::parse("wxd101a85aa106f53e").unwrap();
    let digest = wxcomponent::store::AuthCodeDigest::of(&wxcomponent::Secret::new("code"));
    let audit = |status| AuditState {
        audit_id: 12,
        status,
        reason: Some("截图不清晰".to_owned()),
        submitted_at: 1,
        updated_at: 2,
        auto_release: true,
        campaign: None,
    };
    let events = [
        catalogue::authorization(
            &component,
            &appid,
            &digest,
            true,
            &[1, 17],
            catalogue::Completion::Recovered,
            3,
        ),
        catalogue::status_changed(
            &component,
            &appid,
            AuthorizerStatus::ReauthorizationRequired,
            2,
            StatusCause::Refused(61023),
            3,
        )
        .unwrap(),
        catalogue::status_changed(
            &component,
            &appid,
            AuthorizerStatus::Unauthorized,
            2,
            StatusCause::Refused(61003),
            3,
        )
        .unwrap(),
        catalogue::audit_result(&component, &appid, &audit(AuditStatus::Failed), 3).unwrap(),
        catalogue::audit_result(&component, &appid, &audit(AuditStatus::Delayed), 3).unwrap(),
        catalogue::code_released(&component, &appid, 12, Some(10), 3),
        catalogue::fast_registration(
            &component,
            None,
            catalogue::Registration::BetaApp,
            -1,
            &[("msg", Some(&"name taken".to_owned()))],
            "push-key",
            3,
        ),
    ];
    for event in &events {
        assert_documented(event.detail_type.as_str(), &event.detail());
    }

    // The checks can fail: a missing required field, a field no schema names, a wrong type.
    let detail = events[0].detail();
    let validator = jsonschema::validator_for(&schema_of("Authorizer Updated")).unwrap();
    assert!(validator.is_valid(&detail));
    for broken in [
        {
            let mut d = detail.clone();
            d.as_object_mut().unwrap().remove("completed_by");
            d
        },
        {
            let mut d = detail.clone();
            d["refresh_token"] = "leaked".into();
            d
        },
        {
            let mut d = detail.clone();
            d["func_info"] = "1,17".into();
            d
        },
        {
            let mut d = detail.clone();
            d["event_id"] = "not-an-id".into();
            d
        },
    ] {
        assert!(!validator.is_valid(&broken), "{broken}");
    }
}

#[tokio::test]
async fn a_bus_that_does_not_answer_keeps_the_push_within_its_time_and_loses_nothing() {
    let fake = FakeBus::start().await.unwrap();
    let c = callbacks_on(&fake).await;
    let (appid, _) = c.app.authorized_account().await;
    let component = c.app.component.to_string();
    fake.set_mode(BusMode::Hang);
    // WeChat stops waiting after 5 s: the handler's future is dropped then.
    let revoked = unauthorized_xml(&component, c.app.now(), appid.as_str());
    let push = c.push_component_event(&revoked);
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), push)
        .await
        .expect("answered before WeChat gives up, although the bus never answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        c.app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Unauthorized
    );
    assert!(fake.accepted().is_empty());

    fake.set_mode(BusMode::Accept);
    refresher_run(&c).await;
    let unauthorized = fake.accepted_of("Authorizer Unauthorized");
    assert_eq!(unauthorized.len(), 1, "published by the next run");
    assert_eq!(unauthorized[0].detail["authorizer_appid"], appid.as_str());
}

#[tokio::test]
async fn dynamodb_failing_before_the_change_or_after_the_publication_loses_no_event() {
    use wxcomponent_tests::store_faults::FailRequests;
    let fake = FakeBus::start().await.unwrap();
    let plain = TestApp::spawn()
        .await
        .with_event_bus(fake.event_bus("wxcomponent-events").await);
    let (appid, _) = plain.authorized_account().await;
    let component = plain.component.to_string();
    // The change and its event are one transaction: it fails once, then marking sent fails once.
    let transaction = FailRequests::next("TransactWriteItems", "EVENT", 1);
    let marking = FailRequests::next("UpdateItem", "sent_at", 1);
    let dynamodb = marking.on(&transaction.on(&plain.dynamodb));
    let c = Callbacks::on(plain.rewired_on(dynamodb), |_| {});
    let revoked = unauthorized_xml(&component, c.app.now(), appid.as_str());

    // The write fails: the push fails, nothing is stored, nothing published.
    let first = c.push_component_event(&revoked).await;
    assert!(first.status().is_server_error(), "{}", first.status());
    assert_eq!(transaction.failed(), 1);
    assert_eq!(
        c.app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Authorized
    );
    assert!(fake.accepted().is_empty());
    assert!(
        c.app
            .store
            .unsent_events(&c.app.component, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // WeChat delivers again: stored and published, but the mark is lost.
    let second = c.push_component_event(&revoked).await;
    assert_eq!(second.status(), 200);
    assert_eq!(marking.failed(), 1);
    assert_eq!(fake.accepted_of("Authorizer Unauthorized").len(), 1);

    // The next drain publishes it again, with the same id: a consumer deduplicates on it.
    refresher_run(&c).await;
    let delivered = fake.accepted_of("Authorizer Unauthorized");
    assert_eq!(delivered.len(), 2);
    assert_eq!(
        delivered[0].detail["event_id"],
        delivered[1].detail["event_id"]
    );
    refresher_run(&c).await;
    assert_eq!(
        fake.accepted_of("Authorizer Unauthorized").len(),
        2,
        "then marked"
    );
}
