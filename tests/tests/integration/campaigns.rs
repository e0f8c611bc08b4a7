//! Release campaigns end to end: the API creates them, the campaign worker runs them against the
//! simulator and DynamoDB Local, the sim pushes audit results to the real ticket-callback handler
//! served on loopback, and the sim counts every WeChat call per app.

use std::time::{Duration, Instant};

use serde_json::json;
use wxcomponent::store::{
    AccountKind, AuthorizerSettings, AuthorizerSettingsStore, AuthorizerStore,
};
use wxcomponent_tests::fleet::{AUDIT_DELAY, Fleet, PRIVACY_DELAY, worker_settings};
use wxcomponent_tests::provider_api::{error_code, json_of};
use wxcomponent_tests::sim::{Fault, SimOutcome, Times};

#[tokio::test]
async fn a_campaign_takes_one_template_to_every_mini_program_and_releases_each_once() {
    let fleet = Fleet::spawn().await;
    let appids = fleet.mini_programs(3).await;
    for (i, appid) in appids.iter().enumerate() {
        let settings: AuthorizerSettings =
            serde_json::from_value(json!({"shop_id": format!("shop-{i}")})).unwrap();
        fleet
            .app
            .store
            .put_authorizer_settings(&fleet.app.component, appid, &settings)
            .await
            .unwrap();
    }
    let created = fleet
        .create(json!({
            "template_id": fleet.template_id,
            "user_version": "2.0.0",
            "user_desc": "spring menu",
            "ext_json": {"extAppid": "{{appid}}", "ext": {"shop": "{{shop_id}}"}},
        }))
        .await;
    assert_eq!(created["state"], "running");
    assert_eq!(created["total"], 3);
    assert_eq!(created["counts"]["pending"], 3);
    let id = created["id"].as_str().unwrap().to_owned();

    fleet.one_round().await;

    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "done", "{campaign}");
    assert_eq!(campaign["counts"]["released"], 3, "{campaign}");
    for (i, appid) in appids.iter().enumerate() {
        for path in ["/wxa/commit", "/wxa/submit_audit", "/wxa/release"] {
            assert_eq!(fleet.calls(path, appid), 1, "{path} for {appid}");
        }
        let code = fleet.app.sim.committed_code(appid.as_str()).unwrap();
        assert_eq!(code.ext_json["extAppid"], appid.as_str());
        assert_eq!(code.ext_json["ext"]["shop"], format!("shop-{i}"));
        assert_eq!(
            fleet.app.sim.released_version(appid.as_str()).as_deref(),
            Some("2.0.0")
        );
    }
    let apps = json_of(
        &fleet
            .api
            .get(&format!("/campaigns/{id}/apps?state=released"))
            .await,
    );
    assert_eq!(apps["items"].as_array().unwrap().len(), 3, "{apps}");
    fleet.app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn a_submission_waits_for_the_privacy_check_and_an_audit_result_is_acted_on_at_the_next_run()
{
    let fleet = Fleet::spawn().await;
    let appid = fleet.mini_program().await;
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    fleet.run().await;
    assert_eq!(fleet.calls("/wxa/commit", &appid), 1);
    // Before the check has finished the engine asks, hears 61039, and does not submit.
    fleet.advance(31);
    fleet.run().await;
    assert_eq!(
        fleet.calls("/wxa/security/get_code_privacy_info", &appid),
        1
    );
    assert_eq!(fleet.calls("/wxa/submit_audit", &appid), 0);
    fleet.advance(PRIVACY_DELAY);
    fleet.run().await;
    assert_eq!(fleet.calls("/wxa/submit_audit", &appid), 1);
    assert_eq!(fleet.campaign(&id).await["counts"]["auditing"], 1);
    // No result yet: nothing is asked of WeChat while the audit runs.
    fleet.run().await;
    assert_eq!(fleet.calls("/wxa/get_auditstatus", &appid), 0);
    fleet.advance(AUDIT_DELAY + 1);
    fleet.app.sim.deliver_due_audits().await;
    fleet.run().await;
    assert_eq!(fleet.calls("/wxa/release", &appid), 1);
    assert_eq!(fleet.campaign(&id).await["state"], "done");
}

#[tokio::test]
async fn waves_start_one_after_another_and_a_rejection_halts_the_campaign() {
    let fleet = Fleet::spawn().await;
    let appids = fleet.mini_programs(4).await;
    fleet.app.sim.set_audit_outcome(
        appids[0].as_str(),
        SimOutcome::Fail {
            reason: "the menu page shows no prices".into(),
        },
    );
    let id = fleet
        .start(json!({
            "template_id": fleet.template_id,
            "user_version": "2.0.0",
            "user_desc": "spring menu",
            "appids": appids.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "waves": [25, 100],
            "halt": {"rejections": 1},
        }))
        .await;
    fleet.one_round().await;
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "halted", "{campaign}");
    assert!(
        campaign["reason"]
            .as_str()
            .unwrap()
            .contains("1 of 1 audits rejected"),
        "{campaign}"
    );
    assert_eq!(campaign["counts"]["failed"], 1);
    for later in &appids[1..] {
        assert_eq!(
            fleet.calls("/wxa/commit", later),
            0,
            "the second wave never started"
        );
    }
    let failed = json_of(
        &fleet
            .api
            .get(&format!("/campaigns/{id}/apps?state=failed"))
            .await,
    );
    assert!(
        failed["items"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("the menu page shows no prices"),
        "{failed}"
    );

    // Resumed, the halted wave's rejection no longer stops it: the second wave runs.
    let resumed = fleet
        .api
        .post(&format!("/campaigns/{id}/resume"), json!({}))
        .await;
    assert_eq!(resumed.status(), 200);
    fleet.one_round().await;
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "done", "{campaign}");
    assert_eq!(campaign["counts"]["released"], 3, "{campaign}");
    assert_eq!(campaign["counts"]["failed"], 1, "{campaign}");
}

#[tokio::test]
async fn a_spent_audit_quota_pauses_the_campaign_and_the_next_month_finishes_it() {
    let fleet = Fleet::spawn().await;
    let appids = fleet.mini_programs(3).await;
    fleet.app.sim.set_audit_quota_rest(1);
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    fleet.run().await;
    fleet.advance(PRIVACY_DELAY + 1);
    fleet.run().await;
    let campaign = fleet.campaign(&id).await;
    let apps = json_of(&fleet.api.get(&format!("/campaigns/{id}/apps")).await);
    assert_eq!(campaign["state"], "paused", "{campaign} {apps}");
    assert!(
        campaign["reason"].as_str().unwrap().contains("audit quota"),
        "{campaign}"
    );
    let submitted: usize = appids
        .iter()
        .map(|a| fleet.calls("/wxa/submit_audit", a))
        .sum();
    assert_eq!(submitted, 1, "one submission fit in the quota");
    // Paused: another run submits nothing.
    fleet.run().await;
    let again: usize = appids
        .iter()
        .map(|a| fleet.calls("/wxa/submit_audit", a))
        .sum();
    assert_eq!(again, 1);

    // The month turns (Beijing time): the quota is back and the campaign resumes by itself.
    fleet.advance(32 * 86_400);
    // WeChat kept pushing tickets meanwhile (one is valid 12 hours).
    fleet.app.store_fresh_ticket().await;
    fleet.one_round().await;
    let campaign = fleet.campaign(&id).await;
    let apps = json_of(&fleet.api.get(&format!("/campaigns/{id}/apps")).await);
    assert_eq!(campaign["state"], "done", "{campaign}");
    assert_eq!(campaign["counts"]["released"], 3, "{apps}");
    for appid in &appids {
        assert_eq!(fleet.calls("/wxa/submit_audit", appid), 1, "{appid}");
    }
}

#[tokio::test]
async fn two_workers_racing_make_each_call_once_per_app() {
    let fleet = Fleet::spawn().await;
    let appids = fleet.mini_programs(12).await;
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    let other = fleet.app.wiring.campaign_worker(worker_settings());
    let deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..2 {
        tokio::join!(fleet.worker.run(deadline), other.run(deadline));
        fleet.advance(PRIVACY_DELAY + 1);
    }
    fleet.advance(AUDIT_DELAY);
    fleet.app.sim.deliver_due_audits().await;
    tokio::join!(fleet.worker.run(deadline), other.run(deadline));
    assert_eq!(fleet.campaign(&id).await["state"], "done");
    for appid in &appids {
        for path in ["/wxa/commit", "/wxa/submit_audit", "/wxa/release"] {
            assert_eq!(fleet.calls(path, appid), 1, "{path} for {appid}");
        }
    }
}

#[tokio::test]
async fn a_run_killed_after_submitting_never_submits_that_app_twice() {
    let fleet = Fleet::spawn().await;
    let appid = fleet.mini_program().await;
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    fleet.run().await;
    fleet.advance(PRIVACY_DELAY + 1);
    // WeChat takes the submission but its answer comes late; the run is killed meanwhile, as
    // Lambda stops a function at its timeout.
    fleet.app.sim.inject(
        "/wxa/submit_audit",
        Fault::LateAnswer { ms: 5_000 },
        Times::Next(1),
    );
    let killed = tokio::time::timeout(Duration::from_millis(800), fleet.run()).await;
    assert!(killed.is_err(), "the run was still waiting for the answer");
    assert_eq!(fleet.calls("/wxa/submit_audit", &appid), 1);
    // The next run once the lease has lapsed finds the audit under way and follows it.
    fleet.advance(worker_settings().lease_secs + 1);
    fleet.run().await;
    assert_eq!(
        fleet.calls("/wxa/submit_audit", &appid),
        1,
        "not submitted again"
    );
    assert_eq!(fleet.campaign(&id).await["counts"]["auditing"], 1);
    fleet.advance(AUDIT_DELAY);
    fleet.app.sim.deliver_due_audits().await;
    fleet.run().await;
    assert_eq!(fleet.campaign(&id).await["state"], "done");
    assert_eq!(fleet.calls("/wxa/release", &appid), 1);
}

#[tokio::test]
async fn apps_the_merchant_must_fix_wait_on_them_and_do_not_hold_the_wave() {
    let fleet = Fleet::spawn().await;
    let ready = fleet.mini_program().await;
    let without_permission = fleet.account(vec![1, 17], AccountKind::MiniProgram).await;
    let revoked = fleet.mini_program().await;
    fleet
        .app
        .store
        .set_authorizer_status(
            &fleet.app.component,
            &revoked,
            wxcomponent::store::AuthorizerStatus::Unauthorized,
        )
        .await
        .unwrap();
    let id = fleet
        .start(json!({
            "template_id": fleet.template_id,
            "user_version": "2.0.0",
            "user_desc": "spring menu",
            "appids": [ready.as_str(), without_permission.as_str(), revoked.as_str()],
        }))
        .await;
    fleet.one_round().await;
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["state"], "done", "{campaign}");
    assert_eq!(campaign["counts"]["released"], 1);
    assert_eq!(campaign["counts"]["needs_merchant"], 2);
    for appid in [&without_permission, &revoked] {
        assert_eq!(fleet.calls("/wxa/commit", appid), 0, "{appid}");
    }
    let waiting = json_of(
        &fleet
            .api
            .get(&format!("/campaigns/{id}/apps?state=needs_merchant"))
            .await,
    );
    let hints: Vec<&str> = waiting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["hint"].as_str().unwrap())
        .collect();
    assert!(
        hints.iter().any(|h| h.contains("code management, 18")),
        "{hints:?}"
    );
    assert!(hints.iter().any(|h| h.contains("revoked")), "{hints:?}");
}

#[tokio::test]
async fn wechat_busy_is_retried_later_and_a_refusal_fails_the_app_until_retried() {
    let fleet = Fleet::spawn().await;
    let appid = fleet.mini_program().await;
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    // WeChat busy for longer than the client's own retries.
    fleet
        .app
        .sim
        .inject("/wxa/commit", Fault::Errcode { errcode: -1 }, Times::Always);
    fleet.run().await;
    fleet.app.sim.clear_faults();
    let apps = json_of(&fleet.api.get(&format!("/campaigns/{id}/apps")).await);
    assert_eq!(apps["items"][0]["state"], "pending", "{apps}");
    assert_eq!(apps["items"][0]["errcode"], -1, "{apps}");
    // A refusal (an ext_json WeChat rejects) fails the app with what to do about it.
    fleet.app.sim.inject(
        "/wxa/commit",
        Fault::Errcode { errcode: 85013 },
        Times::Always,
    );
    fleet.advance(3600);
    fleet.run().await;
    fleet.app.sim.clear_faults();
    let apps = json_of(&fleet.api.get(&format!("/campaigns/{id}/apps")).await);
    assert_eq!(apps["items"][0]["state"], "failed", "{apps}");
    assert!(
        apps["items"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("ext_json"),
        "{apps}"
    );
    assert_eq!(fleet.campaign(&id).await["state"], "done");

    let retried = json_of(
        &fleet
            .api
            .post(&format!("/campaigns/{id}/retry-failed"), json!({}))
            .await,
    );
    assert_eq!(retried["restarted"], 1, "{retried}");
    assert_eq!(retried["campaign"]["state"], "running");
    fleet.one_round().await;
    assert_eq!(fleet.campaign(&id).await["counts"]["released"], 1);
    assert_eq!(fleet.calls("/wxa/submit_audit", &appid), 1);
}

#[tokio::test]
async fn bad_campaign_requests_are_refused_and_write_nothing() {
    let fleet = Fleet::spawn().await;
    for body in [
        json!({"user_version": "1", "user_desc": "d"}),
        json!({"template_id": 1, "user_version": "1", "user_desc": "d", "waves": [60, 40]}),
        json!({"template_id": 1, "user_version": "1", "user_desc": "d", "appids": ["not an appid"]}),
        json!({"template_id": 1, "user_version": "1", "user_desc": "d", "release": "sometime"}),
        json!({"template_id": 1, "user_version": "1", "user_desc": "d", "ext_json": {"a": "{{shop"}}),
    ] {
        let response = fleet.api.post("/campaigns", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(error_code(&response), "invalid_request", "{body}");
    }
    // Nobody authorized yet: the cohort of every mini program is empty.
    let empty = fleet
        .api
        .post(
            "/campaigns",
            json!({"template_id": 1, "user_version": "1", "user_desc": "d"}),
        )
        .await;
    assert_eq!(empty.status(), 422);
    let listed = json_of(&fleet.api.get("/campaigns").await);
    assert_eq!(listed["items"], json!([]), "{listed}");
    let unknown = fleet.api.get("/campaigns/0123456789abcdef0123").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        fleet.app.sim.calls().len(),
        0,
        "the API calls no WeChat API for campaigns"
    );
}

#[tokio::test]
async fn pause_resume_and_cancel_follow_the_campaigns_state() {
    let fleet = Fleet::spawn().await;
    let appid = fleet.mini_program().await;
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    let paused = json_of(
        &fleet
            .api
            .post(&format!("/campaigns/{id}/pause"), json!({}))
            .await,
    );
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["reason"], "paused by the provider");
    fleet.run().await;
    assert_eq!(
        fleet.calls("/wxa/commit", &appid),
        0,
        "a paused campaign takes no step"
    );
    let resumed = json_of(
        &fleet
            .api
            .post(&format!("/campaigns/{id}/resume"), json!({}))
            .await,
    );
    assert_eq!(resumed["state"], "running");
    fleet.run().await;
    assert_eq!(fleet.calls("/wxa/commit", &appid), 1);
    let cancelled = json_of(
        &fleet
            .api
            .post(&format!("/campaigns/{id}/cancel"), json!({}))
            .await,
    );
    assert_eq!(cancelled["state"], "cancelled");
    fleet.advance(PRIVACY_DELAY + 1);
    fleet.run().await;
    assert_eq!(
        fleet.calls("/wxa/submit_audit", &appid),
        0,
        "a cancelled campaign stops"
    );
    let again = fleet
        .api
        .post(&format!("/campaigns/{id}/resume"), json!({}))
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(&again), "wrong_state");
    let listed = json_of(&fleet.api.get("/campaigns").await);
    assert_eq!(listed["items"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_submission_answered_with_500_is_sent_again_not_confused_with_an_older_audit() {
    let fleet = Fleet::spawn().await;
    let appid = fleet.mini_program().await;
    let id = fleet
        .start(json!({"template_id": fleet.template_id, "user_version": "2.0.0", "user_desc": "spring menu"}))
        .await;
    fleet.run().await;
    fleet.advance(PRIVACY_DELAY + 1);
    // WeChat fails the submission without taking it; its latest audit is then one from long ago
    // (for an account that never submitted, WeChat's documented sample: under audit since 2023).
    fleet.app.sim.inject(
        "/wxa/submit_audit",
        Fault::Status { status: 500 },
        Times::Next(1),
    );
    fleet.run().await;
    assert_eq!(fleet.campaign(&id).await["counts"]["committed"], 1);
    fleet.advance(worker_settings().retry_base_secs + 1);
    fleet.run().await;
    assert_eq!(fleet.calls("/wxa/submit_audit", &appid), 2, "sent again");
    assert_eq!(fleet.campaign(&id).await["counts"]["auditing"], 1);
    fleet.advance(AUDIT_DELAY + 1);
    fleet.app.sim.deliver_due_audits().await;
    fleet.run().await;
    let campaign = fleet.campaign(&id).await;
    assert_eq!(campaign["counts"]["released"], 1, "{campaign}");
}
