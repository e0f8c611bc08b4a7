//! The API never logs the access token it hands out, the pre-auth codes in the links, or the
//! key. Its own test binary, because it installs a global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

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

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_access_token_and_the_key_never_reach_the_logs() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        // TRACE everywhere except the AWS SDK's HTTP layer, which at TRACE prints whole DynamoDB
        // responses, tokens included (see the README's API section: never run it at TRACE).
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,aws_smithy_runtime=debug,aws_smithy_runtime_api=debug",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

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

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
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
