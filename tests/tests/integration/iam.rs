//! The template's least-privilege policies are enough: each function's real handler runs its flows
//! against DynamoDB Local through a client that records every operation (and the index a Query
//! reads), and every recorded operation must be one that function's policy in `template.yaml`
//! allows. (The unit tests of `wxcomponent::store::schema` pin the other direction: no function is
//! allowed an operation it does not use.) A policy missing an operation would fail in AWS only,
//! with AccessDenied, on the first request that needs it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use api::Api;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation;
use lambda_http::http::{Method, header};
use serde_json::json;
use wxcomponent::config::ApiKeyDigest;
use wxcomponent::store::{AuditState, AuditStatus, AuditStore};
use wxcomponent_tests::app::{TestApp, dynamodb_client, random_appid};
use wxcomponent_tests::callbacks::{
    Callbacks, authorized_xml, event_xml, text_xml, ticket_xml, unauthorized_xml,
};
use wxcomponent_tests::refresh::refresher;
use wxcomponent_tests::schema::TEMPLATE_YAML;
use wxcomponent_tests::sim::SimConfig;
use yaml_serde::Value;

/// One DynamoDB request: the IAM action and, for a Query on an index, the index.
type Operation = (&'static str, Option<String>);

/// Records every request the client makes.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Operation>>>);

impl Recorder {
    /// What was recorded since the last call, and forget it.
    fn take(&self) -> BTreeSet<Operation> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
            .into_iter()
            .collect()
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        // IAM checks a transaction as the item operations inside it.
        if let Some(transaction) =
            input.downcast_ref::<operation::transact_write_items::TransactWriteItemsInput>()
        {
            let mut recorded = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            for item in transaction.transact_items() {
                recorded.push(if item.put().is_some() {
                    ("dynamodb:PutItem", None)
                } else if item.update().is_some() {
                    ("dynamodb:UpdateItem", None)
                } else if item.delete().is_some() {
                    ("dynamodb:DeleteItem", None)
                } else {
                    ("dynamodb:ConditionCheckItem", None)
                });
            }
            return Ok(());
        }
        let recorded: Operation = if input
            .downcast_ref::<operation::get_item::GetItemInput>()
            .is_some()
        {
            ("dynamodb:GetItem", None)
        } else if input
            .downcast_ref::<operation::put_item::PutItemInput>()
            .is_some()
        {
            ("dynamodb:PutItem", None)
        } else if input
            .downcast_ref::<operation::update_item::UpdateItemInput>()
            .is_some()
        {
            ("dynamodb:UpdateItem", None)
        } else if input
            .downcast_ref::<operation::delete_item::DeleteItemInput>()
            .is_some()
        {
            ("dynamodb:DeleteItem", None)
        } else if let Some(query) = input.downcast_ref::<operation::query::QueryInput>() {
            ("dynamodb:Query", query.index_name().map(str::to_owned))
        } else if input
            .downcast_ref::<operation::batch_write_item::BatchWriteItemInput>()
            .is_some()
        {
            ("dynamodb:BatchWriteItem", None)
        } else if input
            .downcast_ref::<operation::create_table::CreateTableInput>()
            .is_some()
        {
            ("dynamodb:CreateTable", None)
        } else {
            ("dynamodb:(another operation)", None)
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorded);
        Ok(())
    }
}

/// A template value as text, short tags included (`!GetAtt Table.Arn`).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!("{} {}", t.tag, text(&t.value)),
        other => format!("{other:?}"),
    }
}

/// What `function`'s policies allow: (action, None) on the table, (action, Some(index)) on an
/// index (`*` for every index).
fn allowed(function: &str) -> BTreeSet<Operation> {
    let doc: Value = yaml_serde::from_str(TEMPLATE_YAML).expect("template.yaml parses");
    let mut allowed = BTreeSet::new();
    let policies = doc["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has policies"));
    let list = |v: &Value| match v.as_sequence() {
        Some(items) => items.iter().map(text).collect::<Vec<_>>(),
        None => vec![text(v)],
    };
    for policy in policies {
        for statement in policy["Statement"].as_sequence().expect("statements") {
            if statement["Sid"].as_str() == Some("EventBus") {
                // Not DynamoDB: the bus's PutEvents (the template's unit tests pin it).
                continue;
            }
            for resource in list(&statement["Resource"]) {
                let on = if resource == "!GetAtt Table.Arn" {
                    None
                } else if let Some(index) = resource.strip_prefix("!Sub ${Table.Arn}/index/") {
                    Some(index.to_owned())
                } else {
                    panic!("{function}: unexpected resource {resource}");
                };
                for action in list(&statement["Action"]) {
                    let action: &'static str = Box::leak(action.into_boxed_str());
                    allowed.insert((action, on.clone()));
                }
            }
        }
    }
    allowed
}

fn assert_allowed(function: &str, used: &BTreeSet<Operation>) {
    assert!(!used.is_empty(), "{function}: the flows made no request");
    let allowed = allowed(function);
    for (action, index) in used {
        let ok = allowed.contains(&(action, index.clone()))
            || (index.is_some() && allowed.contains(&(action, Some("*".to_owned()))));
        assert!(
            ok,
            "{function} issues {action} on {} but template.yaml does not allow it",
            index
                .as_deref()
                .map_or("the table".to_owned(), |i| format!("index {i}"))
        );
    }
    println!("{function}: {used:?}");
}

const KEY: &str = "iam-test-api-key";

async fn api_get(api: &Api<wxcomponent::store::DynamoStore>, method: Method, uri: &str) -> u16 {
    let body = if method == Method::POST {
        lambda_http::Body::from(
            json!({"item_list": [{"first_class": "a", "second_class": "b", "first_id": 1, "second_id": 2}]})
                .to_string(),
        )
    } else {
        lambda_http::Body::Empty
    };
    let request = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(body)
        .expect("a request");
    api.handle(request).await.status().as_u16()
}

#[test]
fn every_dynamodb_operation_each_function_issues_is_allowed_by_its_policy() {
    // A thread with a larger stack than a test thread's 2 MiB: in a debug build these flows (an
    // `authorized` push that renews an expired component token among them) poll deeper than that.
    let flows = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(every_function_s_flows());
        })
        .expect("a thread");
    if let Err(panic) = flows.join() {
        std::panic::resume_unwind(panic);
    }
}

async fn every_function_s_flows() {
    let recorder = Recorder::default();
    let base = dynamodb_client().await;
    let recorded = aws_sdk_dynamodb::Client::from_conf(
        base.config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    // With a bus: the flows record and publish their events, and the refresher drains the outbox.
    let bus = wxcomponent_tests::fake_bus::FakeBus::start().await.unwrap();
    let app = TestApp::spawn_on(recorded, SimConfig::random(), |_| {}, |_| {})
        .await
        .with_event_bus(bus.event_bus("wxcomponent-iam").await);
    let c = Callbacks::on(app, |_| {});
    let component = c.app.component.to_string();
    c.app.store_fresh_ticket().await;
    recorder.take();

    // auth-redirect: a click-through (component token refreshed under its lease, pre-auth code)
    // and a callback completing an authorization.
    let flow = c.start_flow("auth_type=3", &[]).await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    let page = c.callback(&flow, &code).await;
    assert_eq!(page.status(), 200);
    assert_allowed("AuthRedirectFunction", &recorder.take());

    // ticket-callback, with the component token expired so that it is renewed here too: a
    // ticket, an authorization event, the release test, audit results (one with an automatic
    // release), an unauthorization.
    c.app.clock.advance(7200);
    let ticket = c.app.sim.issue_ticket();
    let pushed = c
        .push_component_event(&ticket_xml(&component, c.app.now(), &ticket))
        .await;
    assert_eq!(pushed.status(), 200);
    let second = random_appid();
    let code = c.app.sim.authorize(&second);
    let pushed = c
        .push_component_event(&authorized_xml(
            &component,
            "authorized",
            c.app.now(),
            &second,
            &code,
        ))
        .await;
    assert_eq!(pushed.status(), 200);
    // One of WeChat's release test accounts: the release test is answered for those only.
    let tester = "wx570bc396a51b8ff8".to_owned();
    let code = c.app.sim.authorize(&tester);
    let pushed = c
        .push_message(
            &tester,
            "gh_3c884a361561",
            &text_xml(
                "gh_3c884a361561",
                "o_user",
                c.app.now(),
                &format!("QUERY_AUTH_CODE:{code}"),
                7,
            ),
        )
        .await;
    assert_eq!(pushed.status(), 200);
    let second_id = wxcomponent::AuthorizerAppId::parse(&second).expect("an appid");
    c.app
        .store
        .put_audit_state(
            &c.app.component,
            &second_id,
            &AuditState {
                audit_id: 1,
                status: AuditStatus::Pending,
                reason: None,
                submitted_at: c.app.now(),
                updated_at: c.app.now(),
                auto_release: true,
                campaign: None,
            },
        )
        .await
        .expect("an audit");
    recorder.take();
    c.app.clock.advance(60);
    // Messages must be addressed to the account the URL names.
    let second_user = c
        .app
        .sim
        .user_name_of(&second)
        .expect("the account's user name");
    for (event, fields) in [
        (
            "weapp_audit_delay",
            "<Reason>queue</Reason><DelayTime>1</DelayTime>".to_owned(),
        ),
        (
            "weapp_audit_success",
            format!("<SuccTime>{}</SuccTime>", c.app.now()),
        ),
    ] {
        let pushed = c
            .push_message(
                &second,
                &second_user,
                &event_xml(&second_user, c.app.now(), event, &fields),
            )
            .await;
        assert_eq!(pushed.status(), 200, "{event}");
    }
    let pushed = c
        .push_component_event(&unauthorized_xml(&component, c.app.now(), &tester))
        .await;
    assert_eq!(pushed.status(), 200);
    assert_allowed("TicketCallbackFunction", &recorder.take());

    // api, with every token expired again: listing, health (counts by status), an access token
    // (renewed under its lease), an audit submitted and withdrawn, the passthrough.
    c.app.clock.advance(7200);
    c.app.sim.upload_code_elsewhere(&second);
    let api = Api::new(c.app.application().clone(), ApiKeyDigest::of(KEY));
    for (method, uri) in [
        (Method::GET, "/authorizers".to_owned()),
        (Method::GET, "/health".to_owned()),
        (Method::GET, format!("/authorizers/{second}/access-token")),
        (Method::POST, format!("/authorizers/{second}/audit")),
        (Method::GET, format!("/authorizers/{second}/audit")),
        (Method::POST, format!("/authorizers/{second}/audit/undo")),
        (
            Method::GET,
            format!("/authorizers/{second}/wechat/wxa/getwxasearchstatus"),
        ),
    ] {
        assert_eq!(
            api_get(&api, method.clone(), &uri).await,
            200,
            "{method} {uri}"
        );
    }

    // api: a release campaign over the merchant, listed, read, paused and resumed.
    let created = api
        .handle(
            lambda_http::http::Request::builder()
                .method(Method::POST)
                .uri("/campaigns")
                .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
                .body(lambda_http::Body::from(
                    json!({"template_id": 3, "user_version": "1.0.1", "user_desc": "iam",
                           "appids": [second]})
                    .to_string(),
                ))
                .expect("a request"),
        )
        .await;
    assert_eq!(created.status(), 201);
    let campaign: serde_json::Value =
        serde_json::from_slice(created.body().as_ref()).expect("a campaign");
    let id = campaign["id"].as_str().expect("an id").to_owned();
    for (method, uri) in [
        (Method::GET, "/campaigns".to_owned()),
        (Method::GET, format!("/campaigns/{id}")),
        (Method::GET, format!("/campaigns/{id}/apps?state=pending")),
        (Method::POST, format!("/campaigns/{id}/pause")),
        (Method::POST, format!("/campaigns/{id}/resume")),
        (Method::POST, format!("/campaigns/{id}/retry-failed")),
    ] {
        assert_eq!(
            api_get(&api, method.clone(), &uri).await,
            200,
            "{method} {uri}"
        );
    }
    assert_allowed("ApiFunction", &recorder.take());

    // campaign-worker: the commit, then (after the privacy check) the quota and the submission.
    let worker = c
        .app
        .wiring
        .campaign_worker(wxcomponent::service::WorkerSettings::default());
    for _ in 0..2 {
        let summary = worker.run(Instant::now() + Duration::from_secs(60)).await;
        assert_eq!(summary.steps, 1, "{summary:?}");
        c.app.clock.advance(61);
    }
    assert_eq!(c.app.sim.call_count_for("/wxa/submit_audit", &second), 2);
    assert_allowed("CampaignWorkerFunction", &recorder.take());

    // token-refresher, with every token due.
    c.app.clock.advance(7200);
    let run = refresher(&c.app, |_| {});
    let summary = run
        .refresh_due(Instant::now() + Duration::from_secs(60), 2)
        .await;
    assert!(summary.refreshed >= 1, "{summary:?}");
    let operations = recorder.take();
    assert!(
        operations.contains(&("dynamodb:Query", Some("outbox".to_owned()))),
        "the run drained the outbox: {operations:?}"
    );
    assert_allowed("TokenRefresherFunction", &operations);
    assert!(
        !bus.accepted().is_empty(),
        "the flows published their events"
    );
}
