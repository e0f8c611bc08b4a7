//! The provider API, driven through its real handler in process, over DynamoDB Local and the
//! simulator: bearer authentication on every route, the routes' answers and errors, and the
//! OpenAPI document (generated from the code; the committed copy must be current).

use std::collections::BTreeSet;

use api::{Api, route_table};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use wxcomponent::config::ApiKeyDigest;
use wxcomponent::store::{AuthorizerStatus, AuthorizerStore, DynamoStore};
use wxcomponent_tests::app::{START, TestApp, random_appid};
use wxcomponent_tests::refresh::seed_authorizers;
use wxcomponent_tests::sim::{Fault, Times};

const KEY: &str = "test-api-key-0123456789";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const PREAUTHCODE: &str = "/cgi-bin/component/api_create_preauthcode";
const OPENAPI: &str = include_str!("../../../openapi.yaml");

fn api(app: &TestApp) -> Api<DynamoStore> {
    Api::new(app.application().clone(), ApiKeyDigest::of(KEY))
}

fn request(method: Method, uri: &str, authorization: Option<&str>, body: Body) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri);
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(body).expect("a valid request")
}

async fn call(api: &Api<DynamoStore>, method: Method, uri: &str) -> Response<Body> {
    api.handle(request(
        method,
        uri,
        Some(&format!("Bearer {KEY}")),
        Body::Empty,
    ))
    .await
}

async fn post(api: &Api<DynamoStore>, uri: &str, body: Value) -> Response<Body> {
    let body = Body::from(body.to_string());
    api.handle(request(
        Method::POST,
        uri,
        Some(&format!("Bearer {KEY}")),
        body,
    ))
    .await
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}

fn error_code(response: &Response<Body>) -> String {
    json_of(response)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str, appid: &str) -> String {
    pattern.replace("{appid}", appid)
}

// ----- authentication ----------------------------------------------------------------------------

#[tokio::test]
async fn every_route_and_unknown_paths_reject_a_missing_or_wrong_key_with_401_and_no_detail() {
    let app = TestApp::spawn().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    let wrong = [
        None,
        Some("Bearer wrong-key".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer".to_owned()),
        Some(format!("Basic {KEY}")),
        Some(format!("Bearer {KEY}x")),
        Some(format!("Bearer {}", &KEY[..KEY.len() - 1])),
        Some(format!("bearer{KEY}")),
    ];
    let mut paths: Vec<(Method, String)> = route_table()
        .into_iter()
        .map(|(m, p)| (m, concrete(&p, appid.as_str())))
        .collect();
    paths.push((Method::GET, "/no-such-route".into()));
    paths.push((Method::DELETE, "/authorizers".into()));

    for (method, path) in &paths {
        for authorization in &wrong {
            let response = api
                .handle(request(
                    method.clone(),
                    path,
                    authorization.as_deref(),
                    Body::from(r#"{"auth_type":3,"redirect_uri":"https://a.example/cb"}"#),
                ))
                .await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {authorization:?}"
            );
            assert_eq!(
                json_of(&response),
                json!({"error": {"code": "unauthorized", "message": "unauthorized"}})
            );
            assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        }
    }
    // Nothing reached WeChat or refreshed anything.
    assert!(app.sim.calls().is_empty());
}

#[tokio::test]
async fn the_right_key_is_accepted_whatever_the_scheme_case() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let api = api(&app);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = api
            .handle(request(
                Method::GET,
                "/health",
                Some(&format!("{scheme} {KEY}")),
                Body::Empty,
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

// ----- OpenAPI -------------------------------------------------------------------------------------

#[test]
fn the_openapi_document_describes_exactly_the_routes_the_api_serves() {
    let doc: Value = yaml_serde::from_str(OPENAPI).expect("openapi.yaml parses");
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (bearer["type"].as_str(), bearer["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    assert!(doc["components"]["schemas"]["Error"].is_object());

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if method == "parameters" {
                continue;
            }
            documented.insert((method.to_uppercase(), path.clone()));
            let responses = &operation["responses"];
            assert!(
                responses["401"].is_object(),
                "{method} {path} documents no 401"
            );
            assert!(
                responses
                    .as_object()
                    .is_some_and(|r| r.keys().any(|k| k.starts_with('2'))),
                "{method} {path} documents no success"
            );
            for parameter in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            {
                let listed = operation["parameters"].to_string();
                assert!(
                    listed.contains(&format!("#/components/parameters/{parameter}"))
                        || listed.contains(&format!("\"name\":\"{parameter}\"")),
                    "{method} {path} does not declare {{{parameter}}}"
                );
            }
        }
    }
    let served: BTreeSet<(String, String)> = route_table()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_owned(), p))
        .collect();
    assert_eq!(documented, served);
}

/// `openapi.yaml` as the code generates it: the `#[utoipa::path]` of every handler.
fn generated_openapi() -> String {
    let document = serde_json::to_value(api::openapi()).expect("the document serializes");
    let yaml = yaml_serde::to_string(&document).expect("the document is YAML");
    format!(
        "# Generated from the api function's code; do not edit. Regenerate with\n\
         # UPDATE_OPENAPI=1 cargo test -p wxcomponent-tests --test integration api::\n{yaml}"
    )
}

#[test]
fn the_committed_openapi_document_is_the_one_the_code_generates() {
    let generated = generated_openapi();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        std::fs::write(&path, &generated).expect("openapi.yaml is writable");
        return;
    }
    assert!(
        OPENAPI == generated,
        "openapi.yaml is out of date: run `UPDATE_OPENAPI=1 cargo test -p wxcomponent-tests --test integration api::`"
    );
}

// ----- routing ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_paths_get_a_json_404_and_wrong_methods_a_json_405_with_allow() {
    let app = TestApp::spawn().await;
    let api = api(&app);
    for path in [
        "/",
        "/nope",
        "/authorizers/",
        "/authorizers/wx1/access-token/x",
        "/health/",
    ] {
        let response = call(&api, Method::GET, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(&response), "not_found");
    }
    let response = call(&api, Method::POST, "/health").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&response), "method_not_allowed");
    assert_eq!(response.headers()[header::ALLOW], "GET");
    let response = call(&api, Method::GET, "/auth-links").await;
    assert_eq!(response.headers()[header::ALLOW], "POST");
}

#[tokio::test]
async fn a_named_stage_routes_like_the_default_stage() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let api = api(&app);
    let authorization = format!("Bearer {KEY}");
    let staged = api
        .handle(wxcomponent_tests::callbacks::apigw_request_on_stage(
            "prod",
            "GET",
            "/health",
            "",
            &[("authorization", authorization.as_str())],
            None,
        ))
        .await;
    assert_eq!(staged.status(), StatusCode::OK);
    assert_eq!(json_of(&staged)["status"], "ok");
}

#[tokio::test]
async fn head_is_refused_without_running_the_route() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    app.sim.clear_calls();
    for path in [
        "/health".to_owned(),
        format!("/authorizers/{appid}/code/pages"),
    ] {
        let response = call(&api, Method::HEAD, &path).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.headers()[header::ALLOW], "GET", "{path}");
    }
    let response = call(&api, Method::HEAD, "/nope").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(app.sim.calls().is_empty(), "HEAD called WeChat");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413_without_a_call() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let api = api(&app);
    app.sim.clear_calls();
    let huge = format!(
        r#"{{"auth_type":3,"redirect_uri":"https://a.example/cb","pad":"{}"}}"#,
        "x".repeat(api::MAX_BODY_BYTES)
    );
    let response = api
        .handle(request(
            Method::POST,
            "/auth-links",
            Some(&format!("Bearer {KEY}")),
            Body::from(huge),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&response), "body_too_large");
    assert!(app.sim.calls().is_empty());
}

// ----- authorizers ----------------------------------------------------------------------------------

async fn put(api: &Api<DynamoStore>, uri: &str, body: &str) -> Response<Body> {
    api.handle(request(
        Method::PUT,
        uri,
        Some(&format!("Bearer {KEY}")),
        Body::from(body.to_owned()),
    ))
    .await
}

#[tokio::test]
async fn settings_are_put_and_read_back_without_a_wechat_call_or_touching_the_tokens() {
    let app = TestApp::spawn().await;
    let (appid, grant) = app.authorized_account().await;
    let api = api(&app);
    let uri = format!("/authorizers/{appid}/settings");
    app.sim.clear_calls();

    let empty = call(&api, Method::GET, &uri).await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(
        json_of(&empty),
        json!({"appid": appid.as_str(), "settings": {}})
    );

    let body = r#"{"shop_id": "s-1", "tables": 12, "beta": true}"#;
    let stored = put(&api, &uri, body).await;
    assert_eq!(stored.status(), StatusCode::OK);
    let expected = json!({
        "appid": appid.as_str(),
        "settings": {"shop_id": "s-1", "tables": 12, "beta": true},
    });
    assert_eq!(json_of(&stored), expected);
    assert_eq!(json_of(&call(&api, Method::GET, &uri).await), expected);

    // The whole set is replaced.
    put(&api, &uri, r#"{"theme": "green"}"#).await;
    assert_eq!(
        json_of(&call(&api, Method::GET, &uri).await)["settings"],
        json!({"theme": "green"})
    );

    assert!(app.sim.calls().is_empty());
    let record = app.stored_authorizer(&appid).await;
    assert_eq!(record.refresh_token.expose(), grant.refresh_token);
    assert_eq!(record.refresh_token_version, 1);
}

#[tokio::test]
async fn settings_a_template_could_not_use_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    let uri = format!("/authorizers/{appid}/settings");
    put(&api, &uri, r#"{"shop_id": "s-1"}"#).await;

    for (body, says) in [
        (r#"{"nested": {"a": 1}}"#, "`nested` must be text"),
        (r#"{"shop id": "x"}"#, "is not one"),
        (r#"{"appid": "wx1"}"#, "always means the authorizer's appid"),
        ("[1]", "not a valid request"),
        ("not json", "not a valid request"),
    ] {
        let response = put(&api, &uri, body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&response), "invalid_request", "{body}");
        let message = json_of(&response)["error"]["message"].to_string();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert_eq!(
        json_of(&call(&api, Method::GET, &uri).await)["settings"],
        json!({"shop_id": "s-1"})
    );

    let unknown = format!("/authorizers/{}/settings", random_appid());
    for response in [
        call(&api, Method::GET, &unknown).await,
        put(&api, &unknown, r#"{"a": 1}"#).await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(&response), "not_found");
    }
}

#[tokio::test]
async fn listing_pages_through_every_authorizer_and_shows_no_token() {
    let app = TestApp::spawn().await;
    let mut seeded: Vec<String> = seed_authorizers(&app, 5, START + 3600)
        .await
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    seeded.sort();
    let api = api(&app);

    let mut listed = Vec::new();
    let mut uri = "/authorizers?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let response = call(&api, Method::GET, &uri).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        assert!(
            !text.contains("token@@@") && !text.contains("atoken-"),
            "{text}"
        );
        assert!(!text.contains("refresh_token"), "{text}");
        let page = json_of(&response);
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["status"], "authorized");
            assert_eq!(item["access_token_expires_at"], START + 3600);
            listed.push(item["appid"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/authorizers?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, seeded);

    let default_page = json_of(&call(&api, Method::GET, "/authorizers").await);
    assert_eq!(default_page["items"].as_array().unwrap().len(), 5);
    assert_eq!(default_page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400() {
    let app = TestApp::spawn().await;
    let api = api(&app);
    for limit in ["0", "101", "-1", "ten", ""] {
        let response = call(&api, Method::GET, &format!("/authorizers?limit={limit}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "limit={limit}");
        assert_eq!(error_code(&response), "invalid_limit");
    }
    for cursor in ["zz", "6120620a", "%00"] {
        let response = call(&api, Method::GET, &format!("/authorizers?cursor={cursor}")).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "cursor={cursor}"
        );
        assert_eq!(error_code(&response), "invalid_cursor");
    }
    assert_eq!(
        call(&api, Method::GET, "/authorizers?limit=100")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_authorizer_is_shown_without_tokens_and_an_unknown_or_malformed_one_is_refused() {
    let app = TestApp::spawn().await;
    let (appid, grant) = app.authorized_account().await;
    let api = api(&app);

    let response = call(&api, Method::GET, &format!("/authorizers/{appid}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    assert!(!text.contains(&grant.access_token) && !text.contains(&grant.refresh_token));
    let body = json_of(&response);
    assert_eq!(body["appid"], appid.as_str());
    assert_eq!(body["func_info"], json!([1]));
    assert_eq!(body["account"], Value::Null);

    let response = call(&api, Method::GET, "/authorizers/wx0000000000000000").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(&response), "not_found");
    let response = call(&api, Method::GET, "/authorizers/wx%20bad").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&response), "invalid_appid");
}

// ----- access tokens ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_access_token_route_returns_the_stored_token_or_refreshes_it_first_when_due() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (fresh, grant) = app.authorized_account().await;
    let due = seed_authorizers(&app, 1, START + 60).await.remove(0);
    let api = api(&app);

    let response = call(
        &api,
        Method::GET,
        &format!("/authorizers/{fresh}/access-token"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        json_of(&response),
        json!({"access_token": grant.access_token, "expires_at": grant.expires_at})
    );
    assert!(app.sim.calls_to(AUTHORIZER_TOKEN).is_empty());

    let response = call(
        &api,
        Method::GET,
        &format!("/authorizers/{due}/access-token"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(&response);
    let stored = app.stored_authorizer(&due).await;
    assert_eq!(body["access_token"], stored.access_token.value.expose());
    assert_eq!(body["expires_at"], stored.access_token.expires_at);
    assert!(stored.access_token.expires_at > START + 7000);
    assert_eq!(app.sim.calls_to(AUTHORIZER_TOKEN).len(), 1);
}

#[tokio::test]
async fn an_authorizer_that_must_authorize_again_or_revoked_gets_409_and_wechat_failures_502_or_503()
 {
    let app = TestApp::spawn().await;
    let (lost, _) = app.authorized_account().await;
    let (revoked, _) = app.authorized_account().await;
    let due = seed_authorizers(&app, 1, START + 60).await.remove(0);
    for (appid, status) in [
        (&lost, AuthorizerStatus::ReauthorizationRequired),
        (&revoked, AuthorizerStatus::Unauthorized),
    ] {
        app.store
            .set_authorizer_status(&app.component, appid, status)
            .await
            .unwrap();
    }
    let api = api(&app);
    let token_of = |appid: &str| format!("/authorizers/{appid}/access-token");

    let response = call(&api, Method::GET, &token_of(lost.as_str())).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&response), "reauthorization_required");
    let response = call(&api, Method::GET, &token_of(revoked.as_str())).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&response), "authorization_revoked");
    let response = call(&api, Method::GET, &token_of("wx0000000000000000")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // No ticket yet: no component token, so no refresh.
    let response = call(&api, Method::GET, &token_of(due.as_str())).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&response), "ticket_unavailable");
    assert!(response.headers().contains_key(header::RETRY_AFTER));

    // WeChat failing.
    app.store_fresh_ticket().await;
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(45009), Times::Next(1));
    let response = call(&api, Method::GET, &token_of(due.as_str())).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&response), "wechat_quota");
    let message = json_of(&response)["error"]["message"].to_string();
    assert!(
        message.contains("errcode 45009") && message.contains("clear_quota"),
        "{message}"
    );
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(61004), Times::Next(1));
    let response = call(&api, Method::GET, &token_of(due.as_str())).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error_code(&response), "wechat_ip_not_whitelisted");
    let message = json_of(&response)["error"]["message"].to_string();
    assert!(
        message.contains("errcode 61004") && message.contains("EgressIp"),
        "{message}"
    );
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::status(502), Times::Always);
    let response = call(&api, Method::GET, &token_of(due.as_str())).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(error_code(&response), "wechat_error");
}

// ----- auth links ------------------------------------------------------------------------------------

#[tokio::test]
async fn auth_links_are_a_pc_and_a_mobile_url_with_a_fresh_pre_auth_code_each_time() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let api = api(&app);
    let body = json!({
        "auth_type": 2,
        "biz_appid": "wxd101a85aa106f53e",
        "redirect_uri": "https://shop.example.com/wechat/done?x=1",
    });

    let first = post(&api, "/auth-links", body.clone()).await;
    let second = post(&api, "/auth-links", body).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (first, second) = (json_of(&first), json_of(&second));
    let pc = url::Url::parse(first["pc_url"].as_str().unwrap()).unwrap();
    let mobile = url::Url::parse(first["mobile_url"].as_str().unwrap()).unwrap();
    assert_eq!(pc.path(), "/cgi-bin/componentloginpage");
    assert_eq!(mobile.fragment(), Some("wechat_redirect"));
    let param = |u: &url::Url, name: &str| {
        u.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param(&pc, "auth_type").as_deref(), Some("2"));
    assert_eq!(
        param(&pc, "biz_appid").as_deref(),
        Some("wxd101a85aa106f53e")
    );
    assert_eq!(
        param(&mobile, "redirect_uri").as_deref(),
        Some("https://shop.example.com/wechat/done?x=1")
    );
    assert_eq!(param(&pc, "pre_auth_code"), param(&mobile, "pre_auth_code"));
    let second_pc = url::Url::parse(second["pc_url"].as_str().unwrap()).unwrap();
    assert_ne!(
        param(&pc, "pre_auth_code"),
        param(&second_pc, "pre_auth_code")
    );
    assert!(first["expires_at"].as_i64().unwrap() > START);
    assert_eq!(app.sim.calls_to(PREAUTHCODE).len(), 2);
}

#[tokio::test]
async fn a_malformed_auth_links_body_is_a_400_and_reaches_no_wechat_api() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let api = api(&app);
    let bad = [
        json!({"auth_type": 4, "redirect_uri": "https://a.example/cb"}),
        json!({"auth_type": 3}),
        json!({"auth_type": 3, "redirect_uri": "not a url"}),
        json!({"auth_type": 3, "redirect_uri": "ftp://a.example/cb"}),
        json!({"auth_type": 3, "redirect_uri": "https://a.example/cb", "biz_appid": "wx bad"}),
        json!({"auth_type": 3, "redirect_uri": "https://a.example/cb", "extra": 1}),
        json!(["auth_type", 3]),
    ];
    for body in bad {
        let response = post(&api, "/auth-links", body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&response), "invalid_request");
    }
    let response = api
        .handle(request(
            Method::POST,
            "/auth-links",
            Some(&format!("Bearer {KEY}")),
            Body::from("auth_type=3"),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(app.sim.calls().is_empty());
}

// ----- health ------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_reports_the_ticket_age_the_component_token_expiry_and_authorizers_by_status() {
    let app = TestApp::spawn().await;
    let api = api(&app);
    let empty = json_of(&call(&api, Method::GET, "/health").await);
    assert_eq!(
        empty,
        json!({
            "status": "degraded",
            "ticket_age_seconds": null,
            "component_token_expires_at": null,
            "authorizers": {"authorized": 0, "unauthorized": 0, "reauthorization_required": 0},
        })
    );

    app.store_fresh_ticket().await;
    app.store_component_token("ctoken-x", START + 7200).await;
    let ids = seed_authorizers(&app, 4, START + 3600).await;
    app.store
        .set_authorizer_status(&app.component, &ids[0], AuthorizerStatus::Unauthorized)
        .await
        .unwrap();
    app.store
        .set_authorizer_status(
            &app.component,
            &ids[1],
            AuthorizerStatus::ReauthorizationRequired,
        )
        .await
        .unwrap();
    app.clock.advance(600);

    let response = call(&api, Method::GET, "/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(&response),
        json!({
            "status": "ok",
            "ticket_age_seconds": 600,
            "component_token_expires_at": START + 7200,
            "authorizers": {"authorized": 2, "unauthorized": 1, "reauthorization_required": 1},
        })
    );
    app.clock.advance(1800);
    assert_eq!(
        json_of(&call(&api, Method::GET, "/health").await)["status"],
        "degraded"
    );
}
