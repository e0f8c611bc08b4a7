//! The simulator's control routes (`/__sim/...`), which the standalone binary is driven by.

use serde_json::{Value, json};
use wxcomponent::ManualClock;
use wxcomponent_tests::sim::{SimConfig, WechatSim};

async fn post(http: &reqwest::Client, url: String, body: Value) -> reqwest::Response {
    http.post(url).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn control_routes_set_tickets_inject_faults_authorize_and_report_calls() {
    let clock = ManualClock::at(1_767_225_600);
    let config = SimConfig::random();
    let sim = WechatSim::start(config.clone(), clock.clone())
        .await
        .unwrap();
    let base = sim.base_url();
    let http = reqwest::Client::new();
    let token_path = "/cgi-bin/component/api_component_token";
    let token_body = json!({
        "component_appid": config.component_appid,
        "component_appsecret": config.component_secret,
        "component_verify_ticket": "ticket-from-control",
    });

    let ticket: Value = post(
        &http,
        format!("{base}__sim/ticket"),
        json!({"ticket": "ticket-from-control"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let fault = post(
        &http,
        format!("{base}__sim/faults"),
        json!({"path": token_path, "fault": {"kind": "errcode", "errcode": -1}, "times": 1}),
    )
    .await;
    let busy: Value = post(
        &http,
        format!("{base}{}", &token_path[1..]),
        token_body.clone(),
    )
    .await
    .json()
    .await
    .unwrap();
    let issued: Value = post(&http, format!("{base}{}", &token_path[1..]), token_body)
        .await
        .json()
        .await
        .unwrap();
    let current: Value = http
        .get(format!("{base}__sim/component-token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code: Value = post(
        &http,
        format!("{base}__sim/authorize"),
        json!({"authorizer_appid": "wx1111222233334444"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let advanced: Value = post(
        &http,
        format!("{base}__sim/clock/advance"),
        json!({"seconds": 60}),
    )
    .await
    .json()
    .await
    .unwrap();
    let push = post(&http, format!("{base}__sim/push/ticket"), json!({})).await;
    let calls: Vec<Value> = http
        .get(format!("{base}__sim/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(ticket["ticket"], "ticket-from-control");
    assert_eq!(fault.status(), 204);
    assert_eq!(busy["errcode"], -1);
    assert_eq!(issued["expires_in"], 7200);
    assert_eq!(
        current["component_access_token"],
        issued["component_access_token"]
    );
    assert!(
        code["auth_code"]
            .as_str()
            .unwrap()
            .starts_with("queryauthcode@@@")
    );
    assert_eq!(advanced["now"], 1_767_225_660);
    assert_eq!(push.status(), 409, "no push target is set");
    assert_eq!(calls.len(), 2, "control routes are not recorded");
    assert_eq!(calls[0]["path"], token_path);
    assert!(sim.unmatched().is_empty());
}
