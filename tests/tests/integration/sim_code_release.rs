//! The simulator's code release, as a release campaign meets it, through the real `WechatClient`
//! on 127.0.0.1: templates, commit and its privacy check, audits decided on the sim clock and
//! pushed (and re-pushed) to the message URL, the monthly quota by Beijing month, steps that
//! overlap for one account, release and gray release, permission sets per account.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wxcomponent::Secret;
use wxcomponent::crypto::{AesKey, MessageCrypto, PushQuery};
use wxcomponent::event::{AuthorizerMessage, MessageKind};
use wxcomponent::wechat::miniprogram::code;
use wxcomponent::wechat::{AuthorizerAccessToken, WechatError};
use wxcomponent_tests::app::random_appid;
use wxcomponent_tests::sim::{DEFAULT_FUNC_INFO, Fault, PushTargets, SimConfig, SimOutcome, Times};
use wxcomponent_tests::wechat::{START, WechatHarness};

fn commit_request(template_id: i64, user_version: &str, ext_json: &str) -> code::CommitRequest {
    code::CommitRequest {
        template_id: template_id.to_string(),
        ext_json: ext_json.into(),
        user_version: user_version.into(),
        user_desc: format!("version {user_version}"),
    }
}

fn audit_request() -> code::SubmitAuditRequest {
    code::SubmitAuditRequest {
        item_list: vec![code::AuditItem {
            first_class: "工具".into(),
            second_class: "备忘录".into(),
            first_id: 1,
            second_id: 2,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn errcode(result: Result<impl std::fmt::Debug, WechatError>) -> Option<i64> {
    result.expect_err("WeChat refuses").errcode()
}

/// An authorized mini program: its appid and a token.
fn account(h: &WechatHarness) -> (String, AuthorizerAccessToken) {
    let appid = random_appid();
    let token = h.sim.add_authorizer(&appid).token();
    (appid, token)
}

/// Commits template 3, waits out the privacy check and submits: the audit id.
async fn committed_and_submitted(
    h: &WechatHarness,
    token: &AuthorizerAccessToken,
    user_version: &str,
) -> i64 {
    h.client
        .commit_code(token, &commit_request(3, user_version, "{}"))
        .await
        .expect("the commit is accepted");
    h.clock.advance(h.sim.config().privacy_check_delay);
    h.client
        .submit_audit(token, &audit_request())
        .await
        .expect("the audit is submitted")
}

#[tokio::test]
async fn a_submit_during_the_privacy_check_answers_61039_and_goes_through_once_it_is_done() {
    let h = WechatHarness::start().await;
    let (appid, token) = account(&h);
    let component = h.component_token().await;
    let template = h.sim.add_template("2.0.0", "campaign template");
    let listed = h.client.get_template_list(&component, None).await.unwrap();

    let no_code = errcode(h.client.submit_audit(&token, &audit_request()).await);
    let unknown_template = errcode(
        h.client
            .commit_code(&token, &commit_request(999, "2.0.0", "{}"))
            .await,
    );
    let not_an_object = errcode(
        h.client
            .commit_code(&token, &commit_request(template, "2.0.0", "[1]"))
            .await,
    );
    h.client
        .commit_code(
            &token,
            &commit_request(
                template,
                "2.0.0",
                r#"{"extAppid":"wxabc","ext":{"shop":7}}"#,
            ),
        )
        .await
        .unwrap();
    let checking = errcode(h.client.get_code_privacy_info(&token).await);
    let too_early = errcode(h.client.submit_audit(&token, &audit_request()).await);
    h.clock.advance(59);
    let still_early = errcode(h.client.submit_audit(&token, &audit_request()).await);
    h.clock.advance(1);
    let privacy = h.client.get_code_privacy_info(&token).await.unwrap();
    let auditid = h
        .client
        .submit_audit(&token, &audit_request())
        .await
        .unwrap();
    let quota = h.client.query_quota(&token).await.unwrap();
    let latest = h.client.get_latest_audit_status(&token).await.unwrap();

    let ids: Vec<i64> = listed.iter().map(|t| t.template_id).collect();
    assert_eq!(ids, [3, template], "the sample template and the new one");
    assert_eq!(no_code, Some(85086));
    assert_eq!(unknown_template, Some(85014));
    assert_eq!(not_an_object, Some(85013));
    assert_eq!(
        (checking, too_early, still_early),
        (Some(61039), Some(61039), Some(61039))
    );
    assert!(privacy.without_auth_list.is_empty() && privacy.without_conf_list.is_empty());
    let committed = h.sim.committed_code(&appid).expect("the code is stored");
    assert_eq!(committed.template_id, template);
    assert_eq!(committed.user_version, "2.0.0");
    assert_eq!(
        committed.ext_json,
        json!({"extAppid": "wxabc", "ext": {"shop": 7}})
    );
    assert_eq!(committed.committed_at, START);
    assert_eq!(
        (quota.rest, quota.limit),
        (999, 1000),
        "only the accepted submit spends quota"
    );
    assert_eq!(
        (latest.auditid, latest.status, latest.user_version.as_str()),
        (auditid, 2, "2.0.0")
    );
    assert_eq!(latest.submit_audit_time, START + 60);
    h.assert_no_unmatched_calls();
}

#[tokio::test]
async fn a_spent_audit_quota_answers_85085_until_the_month_turns_in_beijing() {
    let h = WechatHarness::start().await;
    let (appid, token) = account(&h);
    h.client
        .commit_code(&token, &commit_request(3, "1.0.0", "{}"))
        .await
        .unwrap();
    h.clock.advance(60);
    h.sim.set_audit_quota_rest(0);

    let spent = errcode(h.client.submit_audit(&token, &audit_request()).await);
    let quota = h.client.query_quota(&token).await.unwrap();
    // START is 2026-01-01T00:00Z; February begins in Beijing at 2026-01-31T16:00Z.
    let february_in_beijing = START + 30 * 86_400 + 16 * 3600;
    h.clock.set(february_in_beijing - 1);
    let token = h.sim.add_authorizer(&appid).token();
    let last_second = errcode(h.client.submit_audit(&token, &audit_request()).await);
    h.clock.set(february_in_beijing);
    let auditid = h.client.submit_audit(&token, &audit_request()).await;
    let renewed = h.client.query_quota(&token).await.unwrap();

    assert_eq!(spent, Some(85085));
    assert_eq!((quota.rest, quota.limit), (0, 1000));
    assert_eq!(last_second, Some(85085), "still January in Beijing");
    assert!(auditid.is_ok(), "{auditid:?}");
    assert_eq!(renewed.rest, 999);
}

#[tokio::test]
async fn an_overlapping_commit_for_one_account_answers_9402202_and_other_accounts_go_on() {
    let h = Arc::new(WechatHarness::start().await);
    let (first, first_token) = account(&h);
    let (other, other_token) = account(&h);
    h.sim.inject(
        "/wxa/commit",
        Fault::latency(Duration::from_millis(800)),
        Times::Next(1),
    );

    let slow = {
        let h = h.clone();
        let token = first_token.clone();
        tokio::spawn(async move {
            h.client
                .commit_code(&token, &commit_request(3, "1.0.0", "{}"))
                .await
        })
    };
    // Wait until the slow commit is being handled.
    while h.sim.call_count_for("/wxa/commit", &first) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let overlapping = errcode(
        h.client
            .commit_code(&first_token, &commit_request(3, "2.0.0", "{}"))
            .await,
    );
    let elsewhere = h
        .client
        .commit_code(&other_token, &commit_request(3, "3.0.0", "{}"))
        .await;
    let slow = slow.await.unwrap();
    let after = h
        .client
        .commit_code(&first_token, &commit_request(3, "4.0.0", "{}"))
        .await;

    assert_eq!(overlapping, Some(9_402_202));
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
    assert!(slow.is_ok(), "{slow:?}");
    assert!(
        after.is_ok(),
        "once the first is answered the next goes through: {after:?}"
    );
    assert_eq!(h.sim.overlap_refusals(), 1);
    assert_eq!(h.sim.call_count_for("/wxa/commit", &first), 3);
    assert_eq!(h.sim.call_count_for("/wxa/commit", &other), 1);
    assert_eq!(
        h.sim.committed_code(&other).map(|c| c.user_version),
        Some("3.0.0".into())
    );
    assert_eq!(
        h.sim.committed_code(&first).map(|c| c.user_version),
        Some("4.0.0".into())
    );
}

/// A platform on 127.0.0.1 that opens every push with the library's crypto, records the
/// plaintext and fails the first `failures` deliveries with HTTP 500.
async fn receiver(config: &SimConfig, failures: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let crypto = MessageCrypto::new(
        Secret::new(config.token.clone()),
        config.component_appid.clone(),
        AesKey::from_encoding_aes_key(&config.encoding_aes_key).unwrap(),
        None,
    );
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    type St = (Arc<MessageCrypto>, Arc<Mutex<Vec<String>>>, usize);

    async fn message(
        State((crypto, received, failures)): State<St>,
        Query(query): Query<HashMap<String, String>>,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let Ok(push) = crypto.open_push(&PushQuery::from_pairs(query), &body) else {
            return (StatusCode::FORBIDDEN, "bad signature");
        };
        let mut received = received.lock().unwrap();
        received.push(push.plaintext);
        if received.len() <= failures {
            (StatusCode::INTERNAL_SERVER_ERROR, "busy")
        } else {
            (StatusCode::OK, "success")
        }
    }

    let router = Router::new()
        .route("/wechat/message/{appid}", post(message))
        .with_state((Arc::new(crypto), received.clone(), failures));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("{base}/wechat/message/$APPID$"), received)
}

#[tokio::test]
async fn a_failed_audit_is_pushed_once_with_its_reason_and_redelivered_while_the_platform_fails() {
    let h = WechatHarness::start().await;
    let (url, received) = receiver(&h.sim.config(), 1).await;
    h.sim.set_push_targets(PushTargets {
        authorization_event_url: None,
        message_url: Some(url),
    });
    let (appid, token) = account(&h);
    h.sim.set_audit_outcome(
        &appid,
        SimOutcome::Fail {
            reason: "页面内容不完整".into(),
        },
    );
    let auditid = committed_and_submitted(&h, &token, "1.0.0").await;

    h.clock.advance(3599);
    let early = h.sim.deliver_due_audits().await;
    h.clock.advance(1);
    let pushed = h.sim.deliver_due_audits().await;
    let again = h.sim.deliver_due_audits().await;

    assert!(early.is_empty(), "not decided before the audit delay");
    assert_eq!(pushed.len(), 1);
    let (pushed_appid, reply) = &pushed[0];
    assert_eq!(pushed_appid, &appid);
    let reply = reply.as_ref().expect("delivered");
    assert_eq!((reply.status, reply.body.as_str()), (200, "success"));
    assert!(again.is_empty(), "a decision is pushed once");
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "the failed delivery was retried once");
    assert_eq!(received[0], received[1], "the same push both times");
    let message = AuthorizerMessage::parse(&received[1]).unwrap();
    assert_eq!(Some(message.to_user_name), h.sim.user_name_of(&appid));
    match message.kind {
        MessageKind::WeappAuditFail {
            reason, fail_time, ..
        } => {
            assert_eq!(reason, "页面内容不完整");
            assert_eq!(fail_time, START + 60 + 3600);
        }
        other => panic!("{other:?}"),
    }
    let latest = h.client.get_latest_audit_status(&token).await.unwrap();
    assert_eq!((latest.auditid, latest.status), (auditid, 1));
    assert_eq!(latest.reason, "页面内容不完整");
}

#[tokio::test]
async fn a_platform_that_keeps_failing_gets_three_deliveries_in_all() {
    let h = WechatHarness::start().await;
    let (url, received) = receiver(&h.sim.config(), usize::MAX).await;
    h.sim.set_push_targets(PushTargets {
        authorization_event_url: None,
        message_url: Some(url),
    });
    let (_, token) = account(&h);
    committed_and_submitted(&h, &token, "1.0.0").await;
    h.clock.advance(3600);

    let pushed = h.sim.deliver_due_audits().await;

    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].1.as_ref().map(|r| r.status).ok(), Some(500));
    assert_eq!(received.lock().unwrap().len(), 3);
    assert!(
        h.sim.deliver_due_audits().await.is_empty(),
        "then WeChat gives up"
    );
}

#[tokio::test]
async fn a_delayed_audit_is_pushed_as_delayed_then_approved_and_concurrent_deliveries_push_it_once()
{
    let h = WechatHarness::start().await;
    let (url, received) = receiver(&h.sim.config(), 0).await;
    h.sim.set_push_targets(PushTargets {
        authorization_event_url: None,
        message_url: Some(url),
    });
    let (appid, token) = account(&h);
    h.sim.set_audit_outcome(
        &appid,
        SimOutcome::Delay {
            reason: "需要更多时间".into(),
        },
    );
    committed_and_submitted(&h, &token, "1.0.0").await;

    h.clock.advance(3600);
    let (a, b) = tokio::join!(h.sim.deliver_due_audits(), h.sim.deliver_due_audits());
    let delayed = h.client.get_latest_audit_status(&token).await.unwrap();
    let while_delayed = errcode(h.client.submit_audit(&token, &audit_request()).await);
    h.clock.advance(3600);
    let approved = h.sim.deliver_due_audits().await;

    assert_eq!(a.len() + b.len(), 1, "one decision, one push");
    assert_eq!(delayed.status, 4);
    assert_eq!(while_delayed, Some(85009));
    assert_eq!(approved.len(), 1);
    let kinds: Vec<_> = received
        .lock()
        .unwrap()
        .iter()
        .map(|xml| AuthorizerMessage::parse(xml).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            MessageKind::WeappAuditDelay {
                reason: "需要更多时间".into(),
                delay_time: START + 60 + 3600,
            },
            MessageKind::WeappAuditSuccess {
                succ_time: START + 60 + 7200,
            },
        ]
    );
    assert_eq!(h.sim.latest_audit(&appid).map(|a| a.status), Some(0));
}

#[tokio::test]
async fn release_needs_an_approved_audit_and_a_second_release_answers_85052() {
    let h = WechatHarness::start().await;
    let (appid, token) = account(&h);
    let (_, untouched) = account(&h);

    let nothing_audited = errcode(h.client.release(&untouched).await);
    committed_and_submitted(&h, &token, "1.2.0").await;
    let under_audit = errcode(h.client.release(&token).await);
    h.clock.advance(3600);
    h.client.release(&token).await.unwrap();
    let again = errcode(h.client.release(&token).await);

    assert_eq!(nothing_audited, Some(85019));
    assert_eq!(under_audit, Some(85020));
    assert_eq!(again, Some(85052));
    assert_eq!(h.sim.released_version(&appid), Some("1.2.0".into()));
    assert_eq!(h.sim.call_count_for("/wxa/release", &appid), 3);
    assert_eq!(h.sim.call_count_for("/wxa/submit_audit", &appid), 1);
}

#[tokio::test]
async fn a_gray_release_shows_in_the_plan_until_the_full_release_completes_or_it_is_reverted() {
    let h = WechatHarness::start().await;
    let (appid, token) = account(&h);
    let (reverted, reverted_token) = account(&h);
    let gray = |percentage| code::GrayReleaseRequest {
        gray_percentage: percentage,
        support_debuger_first: None,
        support_experiencer_first: Some(true),
    };
    committed_and_submitted(&h, &token, "1.3.0").await;
    committed_and_submitted(&h, &reverted_token, "1.3.0").await;

    let before_approval = errcode(h.client.gray_release(&token, &gray(10)).await);
    h.clock.advance(3600);
    let zero = errcode(h.client.gray_release(&token, &gray(0)).await);
    h.client.gray_release(&token, &gray(10)).await.unwrap();
    let started = h.client.get_gray_release_plan(&token).await.unwrap();
    let lower = errcode(h.client.gray_release(&token, &gray(5)).await);
    h.client.gray_release(&token, &gray(30)).await.unwrap();
    let widened = h.client.get_gray_release_plan(&token).await.unwrap();
    h.client.release(&token).await.unwrap();
    let done = h.client.get_gray_release_plan(&token).await.unwrap();

    h.client
        .gray_release(&reverted_token, &gray(20))
        .await
        .unwrap();
    h.client.revert_gray_release(&reverted_token).await.unwrap();
    let cancelled = h
        .client
        .get_gray_release_plan(&reverted_token)
        .await
        .unwrap();

    assert_eq!(before_approval, Some(85080));
    assert_eq!(zero, Some(85081));
    assert_eq!((started.status, started.gray_percentage), (1, 10));
    assert!(started.support_experiencer_first);
    // Two privacy checks and an audit delay after START.
    assert_eq!(started.create_timestamp, START + 120 + 3600);
    assert_eq!(lower, Some(85082));
    assert_eq!((widened.status, widened.gray_percentage), (1, 30));
    assert_eq!(done.status, 3, "the full release completes the plan");
    assert_eq!(h.sim.released_version(&appid), Some("1.3.0".into()));
    assert_eq!(cancelled.status, 4);
    assert_eq!(h.sim.released_version(&reverted), None);
}

#[tokio::test]
async fn permission_sets_include_code_management_by_default_and_are_set_per_account() {
    let h = WechatHarness::start().await;
    let component = h.component_token().await;
    let default_account = random_appid();
    let code = Secret::new(h.sim.authorize(&default_account));
    let configured = wxcomponent::AuthorizerAppId::parse(random_appid()).unwrap();
    h.sim.add_authorizer(configured.as_str());
    h.sim.set_func_info(configured.as_str(), vec![17, 18, 19]);

    let auth = h.client.api_query_auth(&component, &code).await.unwrap();
    let info = h
        .client
        .api_get_authorizer_info(&component, &configured)
        .await
        .unwrap();

    let ids = |list: &[wxcomponent::wechat::FuncInfo]| -> Vec<i64> {
        list.iter().map(|f| f.funcscope_category.id).collect()
    };
    assert_eq!(ids(&auth.func_info), DEFAULT_FUNC_INFO);
    assert!(DEFAULT_FUNC_INFO.contains(&18));
    assert_eq!(ids(&info.authorization_info.func_info), [17, 18, 19]);
}

#[tokio::test]
async fn the_control_routes_add_templates_set_outcomes_and_report_code_and_counts() {
    let h = WechatHarness::start().await;
    let (appid, token) = account(&h);
    let base = h.sim.base_url();
    let http = reqwest::Client::new();

    let template: Value = http
        .post(format!("{base}__sim/templates"))
        .json(&json!({"user_version": "5.0.0", "user_desc": "from control"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outcome = http
        .put(format!("{base}__sim/audit-outcomes/{appid}"))
        .json(&json!({"outcome": "fail", "reason": "no"}))
        .send()
        .await
        .unwrap();
    let template_id = template["template_id"].as_i64().expect("a template id");
    h.client
        .commit_code(&token, &commit_request(template_id, "5.0.0", r#"{"a":1}"#))
        .await
        .unwrap();
    h.clock.advance(60);
    h.client
        .submit_audit(&token, &audit_request())
        .await
        .unwrap();
    h.clock.advance(3600);
    let code: Value = http
        .get(format!("{base}__sim/code/{appid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count: Value = http
        .get(format!(
            "{base}__sim/call-count?path=/wxa/commit&appid={appid}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(outcome.status(), 204);
    assert_eq!(code["committed"]["template_id"], template_id);
    assert_eq!(code["committed"]["ext_json"], json!({"a": 1}));
    assert_eq!(code["latest_audit"]["status"], 1, "rejected as set");
    assert_eq!(code["released_version"], Value::Null);
    assert_eq!(count["count"], 1);
}
