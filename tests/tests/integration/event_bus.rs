//! Publishing product events through the real EventBridge SDK to the loopback fake bus: what
//! the bus receives (source, detail type, the detail with its common fields), and what a bus
//! that refuses, fails entries or does not answer comes to: every event reported not taken,
//! within the client's timeouts, and taken once the bus recovers.

use std::time::{Duration, Instant};

use wxcomponent::events::{DetailType, EventBus, ProductEvent, SCHEMA_VERSION, SOURCE};
use wxcomponent::{AuthorizerAppId, ComponentAppId};
use wxcomponent_tests::fake_bus::{BusMode, FakeBus};

async fn bus_on(fake: &FakeBus) -> EventBus {
    fake.event_bus("wxcomponent-test").await
}

fn events(n: usize) -> Vec<ProductEvent> {
    let component = ComponentAppId::parse("wxcomponentbus0001").unwrap();
    (0..n)
        .map(|i| {
            let appid = AuthorizerAppId::parse(format!("wxauthorizer{i:05}")).unwrap();
            ProductEvent::new(
                &component,
                DetailType::AuthorizerAuthorized,
                &format!("code-{i}"),
                1_767_225_600 + i as i64,
            )
            .about(&appid)
            .with("func_info", [1, 18])
        })
        .collect()
}

#[tokio::test]
async fn the_bus_receives_each_event_with_its_source_type_and_detail_ten_a_request() {
    let fake = FakeBus::start().await.unwrap();
    let bus = bus_on(&fake).await;
    let events = events(23);
    let published = bus.publish(&events).await;
    assert_eq!(published.failed, vec![]);
    assert_eq!(
        published.sent,
        events.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    assert_eq!(fake.requests(), 3, "23 events in requests of at most 10");
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 23);
    for (entry, event) in accepted.iter().zip(&events) {
        assert_eq!(entry.source, SOURCE);
        assert_eq!(entry.detail_type, "Authorizer Authorized");
        assert_eq!(entry.event_bus_name, "wxcomponent-test");
        assert_eq!(entry.detail, event.detail());
        assert_eq!(entry.detail["event_id"], event.id.as_str());
        assert_eq!(entry.detail["schema_version"], SCHEMA_VERSION);
        assert_eq!(entry.detail["func_info"], serde_json::json!([1, 18]));
    }
}

#[tokio::test]
async fn a_failing_bus_takes_nothing_and_a_recovered_one_takes_the_same_events() {
    let fake = FakeBus::start().await.unwrap();
    let bus = bus_on(&fake).await;
    let events = events(3);
    let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    for mode in [BusMode::Refuse, BusMode::FailEntries, BusMode::Hang] {
        fake.set_mode(mode);
        let started = Instant::now();
        let published = bus.publish(&events).await;
        assert!(published.sent.is_empty(), "{mode:?}: {published:?}");
        assert_eq!(
            published
                .failed
                .iter()
                .map(|(id, _)| id.clone())
                .collect::<Vec<_>>(),
            ids,
            "{mode:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{mode:?} took {:?}: the client's timeouts bound it",
            started.elapsed()
        );
    }
    assert!(fake.accepted().is_empty());
    assert!(
        fake.requests() > 3,
        "a refused request is retried by the SDK"
    );

    fake.set_mode(BusMode::Accept);
    let published = bus.publish(&events).await;
    assert_eq!(published.sent, ids);
    let delivered: Vec<_> = fake
        .accepted()
        .iter()
        .map(|e| e.detail["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        delivered,
        ids.iter()
            .map(|id| id.as_str().to_owned())
            .collect::<Vec<_>>(),
        "the same ids as the attempts that failed"
    );
}

#[tokio::test]
async fn a_drain_publishes_the_outbox_once_the_bus_takes_it_and_a_failing_bus_loses_nothing() {
    use wxcomponent::service::EventPublisher;
    use wxcomponent::store::EventOutbox;
    use wxcomponent_tests::app::TestApp;

    let app = TestApp::spawn().await;
    let fake = FakeBus::start().await.unwrap();
    let publisher = EventPublisher::new(
        app.store.clone(),
        app.component.clone(),
        Some(bus_on(&fake).await),
    );
    let events: Vec<ProductEvent> = (0..3)
        .map(|i| {
            ProductEvent::new(
                &app.component,
                DetailType::TicketMissing,
                &format!("hour-{i}"),
                app.now() + i,
            )
        })
        .collect();
    app.store
        .record_events(&app.component, &events)
        .await
        .unwrap();

    // The bus refuses for a while: every drain fails and keeps every event.
    fake.set_mode(BusMode::Refuse);
    for _ in 0..2 {
        let summary = publisher.drain().await.unwrap();
        assert_eq!((summary.published, summary.failed), (0, 3));
    }
    assert_eq!(
        app.store
            .unsent_events(&app.component, 10)
            .await
            .unwrap()
            .len(),
        3
    );

    fake.set_mode(BusMode::Accept);
    let summary = publisher.drain().await.unwrap();
    assert_eq!((summary.published, summary.failed), (3, 0));
    let summary = publisher.drain().await.unwrap();
    assert_eq!((summary.published, summary.failed), (0, 0), "nothing left");
    let mut delivered: Vec<_> = fake
        .accepted_of("Ticket Missing")
        .iter()
        .map(|e| e.detail["event_id"].as_str().unwrap().to_owned())
        .collect();
    delivered.sort();
    let mut ids: Vec<_> = events.iter().map(|e| e.id.as_str().to_owned()).collect();
    ids.sort();
    assert_eq!(delivered, ids, "each event once, with its id");

    // Without a bus, nothing is published and the events wait.
    let more = ProductEvent::new(
        &app.component,
        DetailType::TicketMissing,
        "later",
        app.now(),
    );
    app.store
        .record_events(&app.component, std::slice::from_ref(&more))
        .await
        .unwrap();
    let no_bus = EventPublisher::new(app.store.clone(), app.component.clone(), None);
    assert_eq!(no_bus.drain().await.unwrap().published, 0);
    assert_eq!(
        app.store
            .unsent_events(&app.component, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
