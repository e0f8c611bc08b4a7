//! Pushes under the failures Lambda and WeChat really produce, through the ticket-callback's real
//! handler, DynamoDB Local and the simulator:
//! - WeChat delivers a push up to three times, 5 s apart, and abandons each delivery after 5 s;
//! - each delivery is served by an invocation that Lambda stops at the function's configured
//!   timeout (read from template.yaml): its future is dropped, whatever was in flight;
//! - the invocations of the three deliveries may overlap, as separate Lambda instances would.
//!
//! The platform's clock follows real time (a manual clock moved to the elapsed seconds at each
//! delivery), so the push ledger's leases lapse as they would in production.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, RequestExt, Response};
use wxcomponent::event::AuthorizerMessage;
use wxcomponent::service::RefreshOutcome;
use wxcomponent::store::{AuditStatus, AuditStore, AuthorizerStatus, AuthorizerStore};
use wxcomponent::wechat::miniprogram::code::SubmitAuditRequest;
use wxcomponent::{AuthorizerAppId, Clock};
use wxcomponent_tests::app::{TestApp, random_appid};
use wxcomponent_tests::callbacks::{
    Callbacks, SignedPush, apigw_request, authorized_xml, body_text, event_xml, unauthorized_xml,
};
use wxcomponent_tests::dynamodb_local::OwnDynamoDbLocal;
use wxcomponent_tests::sim::{Fault, SimConfig, Times};

const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const AUTHORIZER_INFO: &str = "/cgi-bin/component/api_get_authorizer_info";
/// WeChat waits this long for an answer, then delivers again.
const WECHAT_WAIT: Duration = Duration::from_secs(5);
const DELIVERIES: u32 = 3;

/// The ticket-callback function's timeout, as template.yaml configures it.
fn function_timeout() -> Duration {
    let template: yaml_serde::Value = yaml_serde::from_str(include_str!("../../../template.yaml"))
        .expect("template.yaml is YAML");
    let secs = template["Resources"]["TicketCallbackFunction"]["Properties"]["Timeout"]
        .as_u64()
        .expect("the ticket-callback function has a Timeout");
    Duration::from_secs(secs)
}

/// The app with the push path's WeChat client (its timeouts and retry budget).
async fn spawn(app: impl Future<Output = TestApp>) -> Arc<Callbacks> {
    let c = Callbacks::on(app.await, |_| {});
    c.app.store_fresh_ticket().await;
    Arc::new(c)
}

async fn default_app() -> TestApp {
    TestApp::spawn_with(
        SimConfig::random(),
        |_| {},
        ticket_callback::tune_for_pushes,
    )
    .await
}

/// One invocation serving one delivery: the handler runs with the Lambda deadline in its
/// context and is dropped at the function's timeout (`None` then).
fn invoke(
    c: &Arc<Callbacks>,
    path: &str,
    push: &SignedPush,
) -> tokio::task::JoinHandle<Option<Response<Body>>> {
    let timeout = function_timeout();
    // As Lambda sets it, by the clock the functions read it with.
    let timeout_ms = i64::try_from(timeout.as_millis()).expect("a short timeout");
    let deadline_ms = u64::try_from(c.app.clock.now_millis() + timeout_ms).expect("a deadline");
    let mut context = lambda_runtime::Context::default();
    context.deadline = deadline_ms;
    let request = apigw_request("POST", path, &push.query_string(), &[], Some(&push.body))
        .with_lambda_context(context);
    let c = c.clone();
    tokio::spawn(async move {
        tokio::time::timeout(timeout, c.ticket_callback.handle(request))
            .await
            .ok()
    })
}

/// What WeChat saw of each delivery: the status it got within its wait, `None` when it got none.
#[derive(Debug)]
struct Deliveries {
    seen: Vec<Option<u16>>,
    /// The invocations, still running or finished, so a test can wait for all of them.
    invocations: Vec<tokio::task::JoinHandle<Option<Response<Body>>>>,
}

impl Deliveries {
    fn succeeded(&self) -> bool {
        self.seen.last() == Some(&Some(200))
    }

    /// Waits until every invocation has answered or been stopped.
    async fn settle(self) -> Vec<Option<u16>> {
        for invocation in self.invocations {
            let _ = invocation.await;
        }
        self.seen
    }
}

/// Delivers `push` as WeChat does: at 0, 5 and 10 s, until one delivery is answered `success`
/// within 5 s. `between(n)` runs after delivery `n` was abandoned or answered (a test's chance
/// to change the world before the next delivery); the next delivery starts 5 s after the last.
async fn deliver_like_wechat<F, Fut>(
    c: &Arc<Callbacks>,
    path: &str,
    push: &SignedPush,
    mut between: F,
) -> Deliveries
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    let base = c.app.now();
    let mut deliveries = Deliveries {
        seen: Vec::new(),
        invocations: Vec::new(),
    };
    for n in 0..DELIVERIES {
        let at = started + WECHAT_WAIT * n;
        tokio::time::sleep_until(at.into()).await;
        c.app
            .clock
            .set(base + i64::try_from(started.elapsed().as_secs()).unwrap_or(0));
        let mut invocation = invoke(c, path, push);
        let seen = match tokio::time::timeout(WECHAT_WAIT, &mut invocation).await {
            Ok(Ok(Some(response))) => {
                let ok = response.status() == 200 && body_text(&response) == "success";
                Some(if ok { 200 } else { response.status().as_u16() })
            }
            // Stopped at the function's timeout, or still running when WeChat gave up.
            _ => None,
        };
        deliveries.seen.push(seen);
        if seen.is_none() {
            // Still running (or stopped): awaited by `settle`. An answered one is done.
            deliveries.invocations.push(invocation);
        }
        if seen == Some(200) {
            break;
        }
        between(n).await;
    }
    deliveries
}

type SharedDynamoDb = Arc<tokio::sync::Mutex<OwnDynamoDbLocal>>;

/// The app on a DynamoDB Local of the test's own, which it may kill and restart.
async fn on_own_dynamodb() -> (SharedDynamoDb, Arc<Callbacks>) {
    let ddb = Arc::new(tokio::sync::Mutex::new(OwnDynamoDbLocal::start().await));
    let client = ddb.lock().await.client().await;
    let c = spawn(TestApp::spawn_on(
        client,
        SimConfig::random(),
        |_| {},
        ticket_callback::tune_for_pushes,
    ))
    .await;
    (ddb, c)
}

/// Kills DynamoDB the moment WeChat receives its first call to `path`.
fn kill_when_called(
    ddb: &SharedDynamoDb,
    c: &Arc<Callbacks>,
    path: &'static str,
) -> tokio::task::JoinHandle<()> {
    let (ddb, c) = (ddb.clone(), c.clone());
    tokio::spawn(async move {
        while c.app.sim.call_count(path) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ddb.lock().await.kill();
    })
}

/// Between deliveries: DynamoDB back (same data) after the first, as a failing dependency comes
/// back.
fn restart_after_first(ddb: &SharedDynamoDb) -> impl FnMut(u32) -> BoxFuture {
    let ddb = ddb.clone();
    move |n| {
        let ddb = ddb.clone();
        Box::pin(async move {
            if n == 0 {
                ddb.lock().await.restart().await;
            }
        })
    }
}

type BoxFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// The stored authorizer's refresh token is the one WeChat holds, and it works: a refresh with
/// it succeeds.
async fn assert_working_refresh_token(c: &Callbacks, merchant: &str) {
    let appid = AuthorizerAppId::parse(merchant).unwrap();
    let stored = c.app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::Authorized);
    assert_eq!(
        Some(stored.refresh_token.expose().to_owned()),
        c.app.sim.refresh_token_of(merchant),
        "the refresh token WeChat holds is stored"
    );
    let far = c.app.now() + 30 * 86_400;
    assert!(
        matches!(
            c.app
                .service
                .refresh_authorizer_token_if_due(&appid, far)
                .await,
            RefreshOutcome::Refreshed { .. }
        ),
        "the stored refresh token works"
    );
}

#[tokio::test]
async fn a_stalled_profile_lookup_after_the_code_is_spent_does_not_lose_the_authorization() {
    let c = spawn(default_app()).await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    // The profile lookup never answers within any budget.
    c.app.sim.inject(
        AUTHORIZER_INFO,
        Fault::latency(Duration::from_secs(60)),
        Times::Always,
    );
    let push = c.signed_push(
        &authorized_xml(
            c.app.component.as_str(),
            "authorized",
            c.app.now(),
            &merchant,
            &code,
        ),
        None,
    );

    let deliveries = deliver_like_wechat(&c, "/wechat/component", &push, |_| async {}).await;

    assert!(deliveries.succeeded(), "{:?}", deliveries.seen);
    deliveries.settle().await;
    assert_eq!(
        c.app.sim.call_count(QUERY_AUTH),
        1,
        "the code was exchanged once"
    );
    c.app.sim.clear_faults();
    assert_working_refresh_token(&c, &merchant).await;
    // The profile was left for later, and the next read fills it in.
    let appid = AuthorizerAppId::parse(&merchant).unwrap();
    assert!(c.app.stored_authorizer(&appid).await.account.is_none());
    let deadline = Instant::now() + Duration::from_secs(5);
    let filled = c
        .app
        .authorizations()
        .fill_in_profile(&appid, deadline)
        .await;
    assert!(filled.is_some());
    assert!(c.app.stored_authorizer(&appid).await.account.is_some());
}

#[tokio::test]
async fn a_store_failure_right_after_the_code_is_spent_is_recovered_by_wechats_next_delivery() {
    let (ddb, c) = on_own_dynamodb().await;
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    // WeChat takes its time to answer the exchange; DynamoDB dies meanwhile, so the spent code's
    // grant cannot be written.
    c.app.sim.inject(
        QUERY_AUTH,
        Fault::latency(Duration::from_millis(1500)),
        Times::Next(1),
    );
    let push = c.signed_push(
        &authorized_xml(
            c.app.component.as_str(),
            "authorized",
            c.app.now(),
            &merchant,
            &code,
        ),
        None,
    );
    // As soon as WeChat has the exchange in hand (its answer is 1.5 s away).
    let killer = kill_when_called(&ddb, &c, QUERY_AUTH);

    let deliveries =
        deliver_like_wechat(&c, "/wechat/component", &push, restart_after_first(&ddb)).await;
    killer.await.unwrap();

    assert_ne!(
        deliveries.seen[0],
        Some(200),
        "the first delivery could not store the grant"
    );
    assert!(deliveries.succeeded(), "{:?}", deliveries.seen);
    deliveries.settle().await;
    assert_eq!(
        c.app.sim.call_count(QUERY_AUTH),
        2,
        "spent once, refused once"
    );
    assert_working_refresh_token(&c, &merchant).await;
}

#[tokio::test]
async fn an_unauthorized_push_whose_claim_landed_late_is_acted_on_by_the_next_delivery() {
    let ddb = Arc::new(OwnDynamoDbLocal::start().await);
    let c = spawn(TestApp::spawn_on(
        ddb.client().await,
        SimConfig::random(),
        |_| {},
        ticket_callback::tune_for_pushes,
    ))
    .await;
    let (appid, _) = c.app.authorized_account().await;
    let push = c.signed_push(
        &unauthorized_xml(c.app.component.as_str(), c.app.now(), appid.as_str()),
        None,
    );

    // DynamoDB stops answering during the first delivery: its claim is written only once it
    // answers again, after the delivery gave up.
    ddb.freeze();
    let thaw = {
        let ddb = ddb.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(4500)).await;
            ddb.thaw();
        })
    };
    let deliveries = deliver_like_wechat(&c, "/wechat/component", &push, |_| async {}).await;
    thaw.await.unwrap();

    assert_ne!(deliveries.seen[0], Some(200));
    assert!(deliveries.succeeded(), "{:?}", deliveries.seen);
    deliveries.settle().await;
    let stored = c
        .app
        .store
        .authorizer(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, AuthorizerStatus::Unauthorized);
}

const RELEASE: &str = "/wxa/release";

/// An approval push: the account, the push, the message URL it goes to and its plaintext.
struct Approval {
    appid: AuthorizerAppId,
    push: SignedPush,
    path: String,
    xml: String,
}

/// An authorized mini program whose code was submitted through the product with an automatic
/// release, and approved by WeChat's reviewers; the `weapp_audit_success` push WeChat sends then.
async fn approved_with_auto_release(c: &Callbacks) -> Approval {
    let (appid, user_name) = c.app.authorized_account_with_profile().await;
    c.app.sim.upload_code_elsewhere(appid.as_str());
    let request: SubmitAuditRequest = serde_json::from_value(serde_json::json!({
        "item_list": [{"first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2}]
    }))
    .expect("an audit request");
    let submitted = c
        .app
        .application()
        .audits
        .submit(&appid, &request, true)
        .await
        .expect("the audit is submitted");
    assert!(submitted.auto_release);
    c.app.clock.advance(60);
    c.app.sim.decide_audit(appid.as_str(), 0);
    let at = c.app.now();
    let xml = event_xml(
        &user_name,
        at,
        "weapp_audit_success",
        &format!("<SuccTime>{at}</SuccTime>"),
    );
    Approval {
        push: c.signed_push(&xml, Some(&user_name)),
        path: format!("/wechat/message/{appid}"),
        appid,
        xml,
    }
}

/// The approved version is out (once: WeChat refuses a second release of it), the stored audit
/// says approved with its automatic release done, and the push is recorded as released.
async fn assert_released_once(c: &Callbacks, approval: &Approval) {
    let appid = &approval.appid;
    let message = AuthorizerMessage::parse(&approval.xml).expect("the push parses");
    let entry = c
        .ledger_entry(&format!("{appid}:{}", message.idempotency_key()))
        .await
        .expect("the push is recorded");
    let record = entry.record.expect("the push is done");
    assert_eq!(
        record.detail.get("auto_release").map(String::as_str),
        Some("released")
    );
    let audit = c.app.sim.latest_audit(appid.as_str()).expect("an audit");
    assert!(audit.released, "the approved version was released");
    let state = c
        .app
        .store
        .audit_state(&c.app.component, appid)
        .await
        .unwrap()
        .expect("the audit is stored");
    assert_eq!(
        (state.audit_id, state.status, state.auto_release),
        (
            u64::try_from(audit.auditid).unwrap(),
            AuditStatus::Succeeded,
            false
        )
    );
}

#[tokio::test]
async fn a_release_whose_answer_is_lost_is_completed_by_wechats_next_delivery() {
    let c = spawn(default_app()).await;
    let approval = approved_with_auto_release(&c).await;
    // WeChat releases the version but its answer comes too late for the push path's client.
    c.app.sim.inject(
        RELEASE,
        Fault::late_answer(Duration::from_secs(8)),
        Times::Next(1),
    );

    let deliveries = deliver_like_wechat(&c, &approval.path, &approval.push, |_| async {}).await;

    assert_ne!(
        deliveries.seen[0],
        Some(200),
        "the first delivery could not know whether the release happened"
    );
    assert!(deliveries.succeeded(), "{:?}", deliveries.seen);
    deliveries.settle().await;
    assert_eq!(
        c.app.sim.call_count(RELEASE),
        2,
        "released once, then answered 'already released'"
    );
    assert_released_once(&c, &approval).await;
}

#[tokio::test]
async fn a_store_failure_right_after_the_release_is_recovered_by_wechats_next_delivery() {
    let (ddb, c) = on_own_dynamodb().await;
    let approval = approved_with_auto_release(&c).await;
    // WeChat takes its time to answer the release; DynamoDB dies meanwhile, so neither the
    // audit's new state nor the push's record can be written.
    c.app.sim.inject(
        RELEASE,
        Fault::late_answer(Duration::from_millis(500)),
        Times::Next(1),
    );
    let killer = kill_when_called(&ddb, &c, RELEASE);

    let deliveries = deliver_like_wechat(
        &c,
        &approval.path,
        &approval.push,
        restart_after_first(&ddb),
    )
    .await;
    killer.await.unwrap();

    assert_ne!(deliveries.seen[0], Some(200));
    assert!(deliveries.succeeded(), "{:?}", deliveries.seen);
    deliveries.settle().await;
    assert_eq!(c.app.sim.call_count(RELEASE), 2);
    assert_released_once(&c, &approval).await;
}
