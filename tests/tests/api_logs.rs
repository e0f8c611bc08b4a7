//! The API never logs the access token it hands out, the pre-auth codes in the links, or the
//! key. Its own test binary, because it installs a global subscriber.

use wxcomponent_tests::logs::{LogBuffer, production_filter_at_trace};

use api::Api;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use wxcomponent::config::ApiKeyDigest;
use wxcomponent::store::DynamoStore;
use wxcomponent_tests::app::{START, TestApp};
use wxcomponent_tests::refresh::seed_authorizers;

const KEY: &str = "test-api-key-0123456789";

fn request(method: Method, uri: &str, body: Body) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(body)
        .expect("a valid request")
}

async fn call(api: &Api<DynamoStore>, method: Method, uri: &str) -> Response<Body> {
    api.handle(request(method, uri, Body::Empty)).await
}

async fn post(api: &Api<DynamoStore>, uri: &str, body: Value) -> Response<Body> {
    api.handle(request(Method::POST, uri, Body::from(body.to_string())))
        .await
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}

#[tokio::test]
async fn the_access_token_and_the_key_never_reach_the_logs() {
    let buffer = LogBuffer::install_global(production_filter_at_trace());

    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let due = seed_authorizers(&app, 1, START + 60).await.remove(0);
    let api = Api::new(app.service.clone(), ApiKeyDigest::of(KEY));
    let response = call(
        &api,
        Method::GET,
        &format!("/authorizers/{due}/access-token"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = json_of(&response)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let links = json_of(
        &post(
            &api,
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
