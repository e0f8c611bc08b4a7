//! What a warm ticket push costs: exactly one DynamoDB request (a conditional PutItem) and no
//! WeChat call. Counted at the SDK, with an interceptor on the real DynamoDB client.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use wxcomponent::store::TicketStore;
use wxcomponent_tests::app::TestApp;
use wxcomponent_tests::callbacks::{Callbacks, body_text, ticket_xml};

/// Records the operation name of every DynamoDB request the client makes.
#[derive(Debug, Clone, Default)]
struct CountingInterceptor(Arc<Mutex<Vec<String>>>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "CountingInterceptor"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let name = if input
            .downcast_ref::<aws_sdk_dynamodb::operation::put_item::PutItemInput>()
            .is_some()
        {
            "PutItem"
        } else if input
            .downcast_ref::<aws_sdk_dynamodb::operation::get_item::GetItemInput>()
            .is_some()
        {
            "GetItem"
        } else if input
            .downcast_ref::<aws_sdk_dynamodb::operation::update_item::UpdateItemInput>()
            .is_some()
        {
            "UpdateItem"
        } else {
            "other"
        };
        self.0.lock().unwrap().push(name.to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn a_warm_ticket_push_makes_one_dynamodb_write_and_no_wechat_call() {
    let app = TestApp::spawn().await;
    let counter = CountingInterceptor::default();
    let counted = aws_sdk_dynamodb::Client::from_conf(
        app.dynamodb
            .config()
            .to_builder()
            .interceptor(counter.clone())
            .build(),
    );
    let app = app.rewired_on(counted);
    let c = Callbacks::on(app, |_| {});
    let component = c.app.component.to_string();

    // Warm up: the first push of the process.
    let first = c.app.sim.issue_ticket();
    let warm_up = c
        .push_component_event(&ticket_xml(&component, c.app.now(), &first))
        .await;
    assert_eq!(warm_up.status(), 200);
    counter.0.lock().unwrap().clear();

    c.app.clock.advance(600);
    let ticket = c.app.sim.issue_ticket();
    let response = c
        .push_component_event(&ticket_xml(&component, c.app.now(), &ticket))
        .await;

    assert_eq!(response.status(), 200);
    assert_eq!(body_text(&response), "success");
    let requests = counter.0.lock().unwrap().clone();
    assert_eq!(requests, vec!["PutItem".to_owned()], "one write, no read");
    assert!(c.app.sim.calls().is_empty(), "no WeChat call");
    let stored = c
        .app
        .store
        .latest_ticket(&c.app.component)
        .await
        .unwrap()
        .expect("the ticket is stored");
    assert_eq!(stored.value.expose(), ticket, "that one write stored it");
}
