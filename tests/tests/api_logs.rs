//! The API never logs the access token it hands out, the pre-auth codes in the links, or the
//! key. Its own test binary, because it installs a global subscriber.

use wxcomponent_tests::logs::{LogBuffer, production_filter_at_trace};

use lambda_http::http::StatusCode;
use serde_json::json;
use wxcomponent_tests::app::{START, TestApp};
use wxcomponent_tests::provider_api::{KEY, ProviderApi, json_of};
use wxcomponent_tests::refresh::seed_authorizers;

#[tokio::test]
async fn the_access_token_and_the_key_never_reach_the_logs() {
    let buffer = LogBuffer::install_global(production_filter_at_trace());

    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 1, START + 60).await.remove(0);
    let api = ProviderApi::on(&app);
    let response = api.get(&format!("/authorizers/{due}/access-token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = json_of(&response)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let links = json_of(
        &api.post(
            "/auth-links",
            json!({"auth_type": 3, "redirect_uri": "https://a.example/cb"}),
        )
        .await,
    );

    let logs = buffer.text();
    assert!(
        logs.contains("/authorizers/{appid}/access-token"),
        "the request is logged"
    );
    let leaking: Vec<&str> = logs.lines().filter(|l| l.contains(&token)).collect();
    assert!(
        leaking.is_empty(),
        "the access token was logged: {leaking:#?}"
    );
    assert!(!logs.contains(KEY), "the API key was logged");
    let pc = url::Url::parse(links["pc_url"].as_str().unwrap()).unwrap();
    let (_, code) = pc
        .query_pairs()
        .find(|(n, _)| n == "pre_auth_code")
        .unwrap();
    assert!(
        !logs.contains(code.as_ref()),
        "the pre-auth code was logged"
    );
}
