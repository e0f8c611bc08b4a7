//! The mini program routes through the real `api` handler, over DynamoDB Local and the
//! simulator: each typed route reaches its WeChat endpoint with the right token, the passthrough
//! forwards only allowed paths (with the authorizer's token, never the caller's), and the audit
//! lifecycle stores the audit and releases automatically on approval when asked to. Every test
//! runs under the functions' log filter at TRACE and ends by checking that no secret the simulator
//! minted (tickets, tokens, codes, refresh tokens, the component secret, AES key and message token)
//! reached a log line.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use wxcomponent::AuthorizerAppId;
use wxcomponent::store::{AuditStatus, AuditStore, AuthorizerStore};
use wxcomponent_tests::app::TestApp;
use wxcomponent_tests::callbacks::{Callbacks, body_text, event_xml};
use wxcomponent_tests::logs::{LogBuffer, assert_no_secret};
use wxcomponent_tests::provider_api::{ProviderApi, error_code, json_of};
use wxcomponent_tests::sim::{Fault, RecordedCall, Times};

fn api(app: &TestApp) -> ProviderApi {
    ProviderApi::on(app)
}

async fn send(api: &ProviderApi, method: Method, uri: &str, body: Option<Value>) -> Response<Body> {
    let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
    api.call(method, uri, body).await
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// The token a recorded call carried, in whichever parameter.
fn token_of(call: &RecordedCall) -> Option<&str> {
    call.query
        .get("access_token")
        .or_else(|| call.query.get("component_access_token"))
        .map(String::as_str)
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Authorizer,
    Component,
}

/// The appid the sim's sample answer for `account/fastregister` names.
const REUSED_OA_MINI_PROGRAM: &str = "wxnewmp000000001";

#[tokio::test]
async fn every_typed_route_reaches_its_wechat_endpoint_with_the_right_token() {
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    let api = api(&app);
    let a = format!("/authorizers/{appid}");
    use Tok::{Authorizer as A, Component as C};
    let cases: Vec<(Method, String, Option<Value>, &str, Tok)> = vec![
        (
            Method::POST,
            format!("{a}/code"),
            Some(
                json!({"template_id": "3", "ext_json": "{}", "user_version": "1.0.0", "user_desc": "first"}),
            ),
            "/wxa/commit",
            A,
        ),
        (
            Method::GET,
            format!("{a}/code/pages"),
            None,
            "/wxa/get_page",
            A,
        ),
        (
            Method::GET,
            format!("{a}/code/qrcode?path=page%2Findex"),
            None,
            "/wxa/get_qrcode",
            A,
        ),
        (
            Method::POST,
            format!("{a}/audit"),
            Some(
                json!({"item_list": [{"first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2}]}),
            ),
            "/wxa/submit_audit",
            A,
        ),
        (
            Method::GET,
            format!("{a}/audit"),
            None,
            "/wxa/get_latest_auditstatus",
            A,
        ),
        (
            Method::POST,
            format!("{a}/audit/speedup"),
            None,
            "/wxa/speedupaudit",
            A,
        ),
        (
            Method::GET,
            format!("{a}/audit/quota"),
            None,
            "/wxa/queryquota",
            A,
        ),
        (
            Method::POST,
            format!("{a}/audit/undo"),
            None,
            "/wxa/undocodeaudit",
            A,
        ),
        (
            Method::POST,
            format!("{a}/release"),
            None,
            "/wxa/release",
            A,
        ),
        (
            Method::POST,
            format!("{a}/release/revert"),
            None,
            "/wxa/revertcoderelease",
            A,
        ),
        (
            Method::POST,
            format!("{a}/gray-release"),
            Some(json!({"gray_percentage": 10})),
            "/wxa/grayrelease",
            A,
        ),
        (
            Method::GET,
            format!("{a}/gray-release"),
            None,
            "/wxa/getgrayreleaseplan",
            A,
        ),
        (
            Method::DELETE,
            format!("{a}/gray-release"),
            None,
            "/wxa/revertgrayrelease",
            A,
        ),
        (
            Method::POST,
            format!("{a}/visit-status"),
            Some(json!({"action": "close"})),
            "/wxa/change_visitstatus",
            A,
        ),
        (
            Method::GET,
            format!("{a}/support-version"),
            None,
            "/cgi-bin/wxopen/getweappsupportversion",
            A,
        ),
        (
            Method::POST,
            format!("{a}/support-version"),
            Some(json!({"version": "2.21.0"})),
            "/cgi-bin/wxopen/setweappsupportversion",
            A,
        ),
        (
            Method::POST,
            format!("{a}/domains"),
            Some(json!({"action": "get"})),
            "/wxa/modify_domain",
            A,
        ),
        (
            Method::POST,
            format!("{a}/webview-domains"),
            Some(json!({"action": "set", "webviewdomain": ["https://h5.example.com"]})),
            "/wxa/setwebviewdomain",
            A,
        ),
        (
            Method::POST,
            format!("{a}/testers"),
            Some(json!({"wechatid": "tester1"})),
            "/wxa/bind_tester",
            A,
        ),
        (
            Method::DELETE,
            format!("{a}/testers"),
            Some(json!({"userstr": "userstr-1"})),
            "/wxa/unbind_tester",
            A,
        ),
        (
            Method::GET,
            format!("{a}/testers"),
            None,
            "/wxa/memberauth",
            A,
        ),
        (
            Method::GET,
            format!("{a}/categories"),
            None,
            "/cgi-bin/wxopen/getcategory",
            A,
        ),
        (
            Method::POST,
            format!("{a}/categories"),
            Some(json!({"categories": [{"first": 1, "second": 7}]})),
            "/cgi-bin/wxopen/addcategory",
            A,
        ),
        (
            Method::DELETE,
            format!("{a}/categories?first=1&second=7"),
            None,
            "/cgi-bin/wxopen/deletecategory",
            A,
        ),
        (
            Method::GET,
            format!("{a}/basic-info"),
            None,
            "/cgi-bin/account/getaccountbasicinfo",
            A,
        ),
        (
            Method::POST,
            format!("{a}/nickname"),
            Some(json!({"nick_name": "Sim shop"})),
            "/wxa/setnickname",
            A,
        ),
        (
            Method::GET,
            format!("{a}/nickname/audit?audit_id=8888"),
            None,
            "/wxa/api_wxa_querynickname",
            A,
        ),
        (
            Method::POST,
            format!("{a}/head-image"),
            Some(
                json!({"head_img_media_id": "media-1", "x1": 0.1, "y1": 0.1, "x2": 0.9, "y2": 0.9}),
            ),
            "/cgi-bin/account/modifyheadimage",
            A,
        ),
        (
            Method::POST,
            format!("{a}/signature"),
            Some(json!({"signature": "hello"})),
            "/cgi-bin/account/modifysignature",
            A,
        ),
        (
            Method::GET,
            format!("{a}/search-status"),
            None,
            "/wxa/getwxasearchstatus",
            A,
        ),
        (
            Method::POST,
            format!("{a}/search-status"),
            Some(json!({"status": 1})),
            "/wxa/changewxasearchstatus",
            A,
        ),
        (
            Method::GET,
            format!("{a}/privacy"),
            None,
            "/cgi-bin/component/getprivacysetting",
            A,
        ),
        (
            Method::POST,
            format!("{a}/privacy"),
            Some(
                json!({"owner_setting": {"contact_email": "a@example.com", "notice_method": "email"}, "setting_list": [{"privacy_key": "UserInfo", "privacy_text": "login"}]}),
            ),
            "/cgi-bin/component/setprivacysetting",
            A,
        ),
        (
            Method::POST,
            format!("{a}/wxacode"),
            Some(json!({"scene": "a=1"})),
            "/wxa/getwxacodeunlimit",
            A,
        ),
        (
            Method::GET,
            "/templates/drafts".into(),
            None,
            "/wxa/gettemplatedraftlist",
            C,
        ),
        (
            Method::POST,
            "/templates".into(),
            Some(json!({"draft_id": 1})),
            "/wxa/addtotemplate",
            C,
        ),
        (
            Method::GET,
            "/templates?template_type=0".into(),
            None,
            "/wxa/gettemplatelist",
            C,
        ),
        (
            Method::DELETE,
            "/templates/3".into(),
            None,
            "/wxa/deletetemplate",
            C,
        ),
        (
            Method::POST,
            "/fast-registration/enterprise".into(),
            Some(
                json!({"name": "Co", "code": "91440300", "code_type": 1, "legal_persona_wechat": "lp", "legal_persona_name": "Li"}),
            ),
            "/cgi-bin/component/fastregisterweapp",
            C,
        ),
        (
            Method::POST,
            "/fast-registration/enterprise/query".into(),
            Some(json!({"name": "Co", "legal_persona_wechat": "lp", "legal_persona_name": "Li"})),
            "/cgi-bin/component/fastregisterweapp",
            C,
        ),
        (
            Method::POST,
            "/fast-registration/personal".into(),
            Some(json!({"idname": "Li", "wxuser": "li"})),
            "/wxa/component/fastregisterpersonalweapp",
            C,
        ),
        (
            Method::GET,
            "/fast-registration/personal/task-1".into(),
            None,
            "/wxa/component/fastregisterpersonalweapp",
            C,
        ),
        (
            Method::POST,
            "/fast-registration/beta".into(),
            Some(json!({"name": "Beta", "openid": "o-1"})),
            "/wxa/component/fastregisterbetaweapp",
            C,
        ),
        (
            Method::POST,
            format!("{a}/fast-registration/official-account"),
            Some(json!({"ticket": "fastregister-ticket"})),
            "/cgi-bin/account/fastregister",
            A,
        ),
    ];
    // The sim's sample answer for account/fastregister carries this code for this new mini program.
    app.sim
        .authorize_with_code(REUSED_OA_MINI_PROGRAM, "queryauthcode@@@fastregister");
    // Every mini program route but the passthrough is exercised here (the access token and the
    // provider's settings are the API's own, not WeChat calls; the official accounts' routes have
    // their tests in `official_accounts`).
    let typed = api::route_table()
        .into_iter()
        .filter(|(_, p)| {
            (p.starts_with("/authorizers/{appid}/")
                && !p.contains("wechat/")
                && !p.ends_with("access-token")
                && !p.ends_with("/settings")
                && !p.ends_with("/jssdk-config")
                && !p.contains("/web-users/"))
                || p.starts_with("/templates")
                || p.starts_with("/fast-registration")
        })
        .count();
    assert_eq!(typed, cases.len());

    for (method, uri, body, path, tok) in cases {
        app.sim.clear_calls();
        if path == "/wxa/submit_audit" {
            // The privacy check of the code committed by the first route runs a minute.
            app.clock.advance(app.sim.config().privacy_check_delay);
        }
        if path == "/wxa/release" {
            // The audit submitted by an earlier route is approved: only then does WeChat release.
            app.sim.decide_audit(appid.as_str(), 0);
        }
        let response = send(&api, method.clone(), &uri, body).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{method} {uri}: {}",
            text(&response)
        );
        let calls = app.sim.calls_to(path);
        assert_eq!(calls.len(), 1, "{method} {uri} should call {path} once");
        let expected = match tok {
            Tok::Authorizer => grant.access_token.clone(),
            Tok::Component => app.sim.component_token().expect("a component token"),
        };
        assert_eq!(
            token_of(&calls[0]),
            Some(expected.as_str()),
            "{method} {uri}"
        );
        if path.ends_with("get_qrcode") || path.ends_with("getwxacodeunlimit") {
            let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
            assert!(content_type.starts_with("image/"), "{content_type}");
        } else {
            assert!(json_of(&response).is_object(), "{method} {uri}");
        }
    }
    app.assert_no_unmatched_calls();
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn answers_carry_wechat_results_and_bad_bodies_are_400_without_a_call() {
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    app.sim.set_audit_quota_rest(19);
    let pages = send(
        &api,
        Method::GET,
        &format!("/authorizers/{appid}/code/pages"),
        None,
    )
    .await;
    assert_eq!(json_of(&pages)["page_list"][0], "index");
    let quota = send(
        &api,
        Method::GET,
        &format!("/authorizers/{appid}/audit/quota"),
        None,
    )
    .await;
    assert_eq!(json_of(&quota)["rest"], 19);

    app.sim.clear_calls();
    for (uri, body) in [
        ("code", json!({"template_id": 3})),
        ("gray-release", json!({"gray_percentage": "ten"})),
        ("visit-status", json!({"action": "sideways"})),
        ("audit", json!({"auto_release": true})),
    ] {
        let response = send(
            &api,
            Method::POST,
            &format!("/authorizers/{appid}/{uri}"),
            Some(body),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(json_of(&response)["error"]["code"], "invalid_request");
    }
    assert!(app.sim.calls().is_empty());
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

// ----- passthrough -------------------------------------------------------------------------------

#[tokio::test]
async fn the_passthrough_forwards_allowed_paths_with_the_authorizer_token_only() {
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    let (appid, grant) = app.authorized_account().await;
    let api = api(&app);

    let get = send(
        &api,
        Method::GET,
        &format!("/authorizers/{appid}/wechat/wxa/getwxasearchstatus?access_token=CALLER&component_access_token=CALLER2&x=1"),
        None,
    )
    .await;
    assert_eq!(get.status(), StatusCode::OK, "{}", text(&get));
    assert_eq!(json_of(&get)["status"], 1);
    let calls = app.sim.calls_to("/wxa/getwxasearchstatus");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].query.get("access_token"),
        Some(&grant.access_token)
    );
    assert_eq!(calls[0].query.get("component_access_token"), None);
    assert_eq!(calls[0].query.get("x").map(String::as_str), Some("1"));
    assert!(!format!("{:?}", calls[0].query).contains("CALLER"));

    let post = send(
        &api,
        Method::POST,
        &format!("/authorizers/{appid}/wechat/wxaapi/newtmpl/deltemplate"),
        Some(json!({"priTmplId": "tmpl-1"})),
    )
    .await;
    assert_eq!(post.status(), StatusCode::OK, "{}", text(&post));
    let calls = app.sim.calls_to("/wxaapi/newtmpl/deltemplate");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].body, Some(json!({"priTmplId": "tmpl-1"})));
    assert_eq!(
        calls[0].query.get("access_token"),
        Some(&grant.access_token)
    );
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn the_passthrough_refuses_other_paths_and_traversal_with_403_and_no_call() {
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    let (appid, grant) = app.authorized_account().await;
    let api = api(&app);
    app.sim.clear_calls();
    for tail in [
        "cgi-bin/component/api_authorizer_token",
        "cgi-bin/token",
        "sns/jscode2session",
        "wxa/../cgi-bin/component/api_authorizer_token",
        "wxa/%2e%2e/cgi-bin/token",
        "wxa/..%2Fcgi-bin%2Ftoken",
        "wxa//getwxasearchstatus",
        "wxa/%2Fgetwxasearchstatus",
        "wxa/./getwxasearchstatus",
        "wxa%2Fgetwxasearchstatus",
        "wxa/get%00page",
        "wxa/get\\page",
        "wxa",
        "wxa/",
    ] {
        for method in [Method::GET, Method::POST] {
            let uri = format!("/authorizers/{appid}/wechat/{tail}");
            let Ok(uri) = uri.parse::<lambda_http::http::Uri>() else {
                continue;
            };
            let response = send(&api, method.clone(), &uri.to_string(), Some(json!({}))).await;
            assert!(
                matches!(
                    response.status(),
                    StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                ),
                "{method} {tail}: {}",
                response.status()
            );
            let body = text(&response);
            assert!(!body.contains(&grant.access_token), "{body}");
            if response.status() == StatusCode::FORBIDDEN {
                assert_eq!(json_of(&response)["error"]["code"], "path_not_allowed");
            }
        }
    }
    assert!(app.sim.calls().is_empty(), "{:?}", app.sim.calls());
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn the_passthrough_refuses_paths_whose_typed_route_keeps_records_and_names_that_route() {
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    app.sim.clear_calls();
    let cases = [
        (
            "wxa/submit_audit",
            format!("POST /authorizers/{appid}/audit"),
        ),
        (
            "wxa/undocodeaudit",
            format!("POST /authorizers/{appid}/audit/undo"),
        ),
        (
            "wxa/speedupaudit",
            format!("POST /authorizers/{appid}/audit/speedup"),
        ),
        ("wxa/release", format!("POST /authorizers/{appid}/release")),
        ("wxa/Release", format!("POST /authorizers/{appid}/release")),
        (
            "cgi-bin/account/fastregister",
            format!("POST /authorizers/{appid}/fast-registration/official-account"),
        ),
        (
            "wxa/component/fastregisterbetaweapp",
            "POST /fast-registration/beta".to_owned(),
        ),
        (
            "wxa/component/fastregisterpersonalweapp",
            "POST /fast-registration/personal".to_owned(),
        ),
    ];
    for (tail, route) in &cases {
        for method in [Method::GET, Method::POST] {
            let response = send(
                &api,
                method.clone(),
                &format!("/authorizers/{appid}/wechat/{tail}"),
                Some(json!({"item_list": [{"first_class": "a", "second_class": "b", "first_id": 1, "second_id": 2}]})),
            )
            .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {tail}");
            let error = &json_of(&response)["error"];
            assert_eq!(error["code"], "use_typed_route", "{method} {tail}");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(route.as_str()),
                "{method} {tail}: {message}"
            );
        }
    }
    assert!(app.sim.calls().is_empty(), "{:?}", app.sim.calls());
    assert_eq!(
        app.store.audit_state(&app.component, &appid).await.unwrap(),
        None,
        "nothing is written"
    );
    // A path next to them is still forwarded.
    let latest = send(
        &api,
        Method::GET,
        &format!("/authorizers/{appid}/wechat/wxa/get_latest_auditstatus"),
        None,
    )
    .await;
    assert_eq!(latest.status(), StatusCode::OK, "{}", text(&latest));
    assert_eq!(app.sim.call_count("/wxa/get_latest_auditstatus"), 1);
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[test]
fn passthrough_paths_are_checked_segment_by_segment() {
    assert_eq!(
        api::passthrough_path("wxa/get_page").as_deref(),
        Some("/wxa/get_page")
    );
    assert_eq!(
        api::passthrough_path("cgi-bin/open/have").as_deref(),
        Some("/cgi-bin/open/have")
    );
    for bad in [
        "",
        "wxa",
        "wxa/",
        "wxa/../x",
        "wxa/..",
        "wxa//x",
        "wxa/%2e%2e/x",
        "cgi-bin/token",
        "cgi-bin/wxopenx/a",
        "wxa/a?b",
        "wxa/a b",
        "/wxa/a",
        "wxa/.",
    ] {
        assert_eq!(api::passthrough_path(bad), None, "{bad}");
    }
}

// ----- audit lifecycle ---------------------------------------------------------------------------

#[tokio::test]
async fn submitting_stores_the_audit_and_approval_releases_it_when_asked() {
    let logs = LogBuffer::global_at_trace();
    let c = Callbacks::on(TestApp::spawn().await, |_| {});
    let (appid, grant) = c.app.authorized_account().await;
    let api = api(&c.app);
    c.app.sim.upload_code_elsewhere(appid.as_str());

    let submitted = send(
        &api,
        Method::POST,
        &format!("/authorizers/{appid}/audit"),
        Some(json!({
            "item_list": [{"first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2}],
            "auto_release": true
        })),
    )
    .await;
    assert_eq!(submitted.status(), StatusCode::OK, "{}", text(&submitted));
    assert_eq!(json_of(&submitted)["auditid"], 1234567);
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .expect("the audit is stored");
    assert_eq!(
        (state.audit_id, state.status, state.auto_release),
        (1234567, AuditStatus::Pending, true)
    );

    let shown = send(
        &api,
        Method::GET,
        &format!("/authorizers/{appid}/audit"),
        None,
    )
    .await;
    let shown = json_of(&shown);
    assert_eq!(shown["audit"]["audit_id"], 1234567);
    assert_eq!(shown["audit"]["status"], "pending");
    assert_eq!(shown["wechat"]["auditid"], 1234567);

    c.app.clock.advance(60);
    let at = c.app.now();
    c.app.sim.decide_audit(appid.as_str(), 0);
    c.app.sim.clear_calls();
    let pushed = c
        .push_message(
            appid.as_str(),
            "gh_mini",
            &event_xml(
                "gh_mini",
                at,
                "weapp_audit_success",
                &format!("<SuccTime>{at}</SuccTime>"),
            ),
        )
        .await;
    assert_eq!(
        (pushed.status().as_u16(), body_text(&pushed)),
        (200, "success".into())
    );
    let releases = c.app.sim.calls_to("/wxa/release");
    assert_eq!(releases.len(), 1);
    assert_eq!(
        releases[0].query.get("access_token"),
        Some(&grant.access_token)
    );
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.audit_id, state.status, state.auto_release),
        (1234567, AuditStatus::Succeeded, false)
    );

    // The same push again is deduplicated: still one release.
    c.push_message(
        appid.as_str(),
        "gh_mini",
        &event_xml(
            "gh_mini",
            at,
            "weapp_audit_success",
            &format!("<SuccTime>{at}</SuccTime>"),
        ),
    )
    .await;
    assert_eq!(c.app.sim.calls_to("/wxa/release").len(), 1);
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}

/// Submits the account's code through the API with `auto_release` and answers the audit id.
async fn submit_with_auto_release(api: &ProviderApi, appid: &str) -> i64 {
    let submitted = send(
        api,
        Method::POST,
        &format!("/authorizers/{appid}/audit"),
        Some(json!({
            "item_list": [{"first_class": "工具", "second_class": "备忘录", "first_id": 1, "second_id": 2}],
            "auto_release": true
        })),
    )
    .await;
    assert_eq!(submitted.status(), StatusCode::OK, "{}", text(&submitted));
    json_of(&submitted)["auditid"].as_i64().expect("an auditid")
}

/// WeChat's push of an audit result at the app's current time.
async fn push_audit_result(c: &Callbacks, appid: &str, event: &str, fields: &str) {
    let pushed = c
        .push_message(
            appid,
            "gh_mini",
            &event_xml("gh_mini", c.app.now(), event, fields),
        )
        .await;
    assert_eq!(
        (pushed.status().as_u16(), body_text(&pushed)),
        (200, "success".into()),
        "{event}"
    );
}

#[tokio::test]
async fn auto_release_ends_with_a_failed_audit_and_a_later_audit_submitted_elsewhere_is_not_released()
 {
    let logs = LogBuffer::global_at_trace();
    let c = Callbacks::on(TestApp::spawn().await, |_| {});
    let (appid, _) = c.app.authorized_account().await;
    let api = api(&c.app);
    c.app.sim.upload_code_elsewhere(appid.as_str());
    let first = submit_with_auto_release(&api, appid.as_str()).await;

    c.app.clock.advance(60);
    c.app.sim.decide_audit(appid.as_str(), 1);
    let at = c.app.now();
    push_audit_result(
        &c,
        appid.as_str(),
        "weapp_audit_fail",
        &format!("<Reason><![CDATA[bad screenshot]]></Reason><FailTime>{at}</FailTime>"),
    )
    .await;
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.audit_id, state.status, state.auto_release),
        (u64::try_from(first).unwrap(), AuditStatus::Failed, false),
        "a rejection ends the audit and its automatic release"
    );

    // A new version is submitted in WeChat's console, without this product, and approved.
    c.app.clock.advance(3600);
    let elsewhere = c.app.sim.submit_audit_elsewhere(appid.as_str());
    assert_ne!(elsewhere, first);
    c.app.clock.advance(60);
    c.app.sim.decide_audit(appid.as_str(), 0);
    let at = c.app.now();
    push_audit_result(
        &c,
        appid.as_str(),
        "weapp_audit_success",
        &format!("<SuccTime>{at}</SuccTime>"),
    )
    .await;
    assert_eq!(
        c.app.sim.call_count("/wxa/release"),
        0,
        "nobody asked to release that version"
    );
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}

#[tokio::test]
async fn an_approval_of_another_audit_than_the_one_that_asked_releases_nothing() {
    let logs = LogBuffer::global_at_trace();
    let c = Callbacks::on(TestApp::spawn().await, |_| {});
    let (appid, _) = c.app.authorized_account().await;
    let api = api(&c.app);
    c.app.sim.upload_code_elsewhere(appid.as_str());
    let asked = submit_with_auto_release(&api, appid.as_str()).await;

    // The audit is withdrawn in WeChat's console (no push tells of it) and another version is
    // submitted there, then approved: the stored audit still asks for an automatic release.
    c.app.clock.advance(600);
    c.app.sim.decide_audit(appid.as_str(), 3);
    let elsewhere = c.app.sim.submit_audit_elsewhere(appid.as_str());
    assert_ne!(elsewhere, asked);
    c.app.clock.advance(60);
    c.app.sim.decide_audit(appid.as_str(), 0);
    c.app.sim.clear_calls();
    let at = c.app.now();
    push_audit_result(
        &c,
        appid.as_str(),
        "weapp_audit_success",
        &format!("<SuccTime>{at}</SuccTime>"),
    )
    .await;
    assert_eq!(c.app.sim.call_count("/wxa/release"), 0);
    assert_eq!(
        c.app.sim.call_count("/wxa/get_latest_auditstatus"),
        1,
        "the approved audit is looked up"
    );
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !state.auto_release,
        "an approval ends the automatic release"
    );
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}

#[tokio::test]
async fn approval_without_auto_release_releases_nothing() {
    let logs = LogBuffer::global_at_trace();
    let c = Callbacks::on(TestApp::spawn().await, |_| {});
    let (appid, _) = c.app.authorized_account().await;
    let api = api(&c.app);
    c.app.sim.upload_code_elsewhere(appid.as_str());
    let submitted = send(
        &api,
        Method::POST,
        &format!("/authorizers/{appid}/audit"),
        Some(json!({"item_list": [{"first_class": "a", "second_class": "b", "first_id": 1, "second_id": 2}]})),
    )
    .await;
    assert_eq!(submitted.status(), StatusCode::OK);
    c.app.clock.advance(60);
    let at = c.app.now();
    c.push_message(
        appid.as_str(),
        "gh_mini",
        &event_xml(
            "gh_mini",
            at,
            "weapp_audit_success",
            &format!("<SuccTime>{at}</SuccTime>"),
        ),
    )
    .await;
    assert_eq!(c.app.sim.calls_to("/wxa/release").len(), 0);
    let state = c
        .app
        .store
        .audit_state(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, AuditStatus::Succeeded);
    assert_no_secret(&logs.text(), &c.app.sim.secrets());
}

#[tokio::test]
async fn registering_by_reusing_an_official_account_completes_the_new_mini_programs_authorization()
{
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    app.sim
        .authorize_with_code(REUSED_OA_MINI_PROGRAM, "queryauthcode@@@fastregister");

    let response = send(
        &api,
        Method::POST,
        &format!("/authorizers/{appid}/fast-registration/official-account"),
        Some(json!({"ticket": "fastregister-ticket"})),
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    assert!(
        !text(&response).contains("queryauthcode"),
        "the code is never returned"
    );
    let answer = json_of(&response);
    assert_eq!(answer["appid"], REUSED_OA_MINI_PROGRAM);
    assert_eq!(answer["authorizer"]["appid"], REUSED_OA_MINI_PROGRAM);
    assert_eq!(
        app.sim.calls_to("/cgi-bin/component/api_query_auth").len(),
        1
    );
    let stored = app
        .store
        .authorizer(
            &app.component,
            &wxcomponent::AuthorizerAppId::parse(REUSED_OA_MINI_PROGRAM).unwrap(),
        )
        .await
        .unwrap()
        .expect("the new mini program is stored with its tokens");
    assert_eq!(stored.refresh_token_version, 1);
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

/// An authorized mini program with code uploaded, the logs at TRACE, and the API.
async fn mini_program_with_code() -> (LogBuffer, TestApp, AuthorizerAppId, ProviderApi) {
    let logs = LogBuffer::global_at_trace();
    let app = TestApp::spawn().await;
    let (appid, _) = app.authorized_account().await;
    let api = api(&app);
    app.sim.upload_code_elsewhere(appid.as_str());
    (logs, app, appid, api)
}

/// Withdraws `appid`'s audit through the API after an audit was submitted elsewhere.
async fn withdraw(api: &ProviderApi, app: &TestApp, appid: &str) -> Response<Body> {
    app.sim.submit_audit_elsewhere(appid);
    send(
        api,
        Method::POST,
        &format!("/authorizers/{appid}/audit/undo"),
        None,
    )
    .await
}

async fn withdrawals_counted(api: &ProviderApi, appid: &str) -> Value {
    let overview = send(
        api,
        Method::GET,
        &format!("/authorizers/{appid}/audit"),
        None,
    )
    .await;
    assert_eq!(overview.status(), StatusCode::OK, "{}", text(&overview));
    json_of(&overview)["withdrawals"].clone()
}

#[tokio::test]
async fn withdrawals_are_counted_and_a_spent_day_is_refused_without_a_call() {
    let (logs, app, appid, api) = mini_program_with_code().await;
    let a = appid.as_str();

    for n in 1..=5 {
        let undone = withdraw(&api, &app, a).await;
        assert_eq!(undone.status(), StatusCode::OK, "{}", text(&undone));
        assert_eq!(withdrawals_counted(&api, a).await["today"], n);
    }
    let refused = withdraw(&api, &app, a).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&refused), "withdrawals_spent");
    assert!(text(&refused).contains("5 a day"), "{}", text(&refused));
    assert_eq!(
        app.sim.call_count_for("/wxa/undocodeaudit", a),
        5,
        "a spent day costs no call"
    );
    assert_eq!(
        app.sim.latest_audit(a).unwrap().status,
        2,
        "still under audit"
    );

    // The next Beijing day allows five more, up to ten in the month.
    app.clock.advance(86_400);
    app.store_fresh_ticket().await;
    let undone = withdraw(&api, &app, a).await;
    assert_eq!(undone.status(), StatusCode::OK, "{}", text(&undone));
    assert_eq!(
        withdrawals_counted(&api, a).await,
        json!({"today": 1, "today_limit": 5, "this_month": 6, "month_limit": 10})
    );
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn a_definite_refusal_gives_the_withdrawal_back_and_an_unknown_outcome_keeps_it_counted() {
    let (logs, app, appid, api) = mini_program_with_code().await;
    let a = appid.as_str();

    app.sim.inject(
        "/wxa/undocodeaudit",
        Fault::Errcode { errcode: 61007 },
        Times::Next(1),
    );
    let refused = withdraw(&api, &app, a).await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_GATEWAY,
        "{}",
        text(&refused)
    );
    assert_eq!(withdrawals_counted(&api, a).await["today"], 0);

    // WeChat busy on every attempt: it may have withdrawn, so the withdrawal stays counted.
    app.sim.inject(
        "/wxa/undocodeaudit",
        Fault::Errcode { errcode: -1 },
        Times::Always,
    );
    let unknown = send(
        &api,
        Method::POST,
        &format!("/authorizers/{a}/audit/undo"),
        None,
    )
    .await;
    assert!(unknown.status().is_server_error(), "{}", text(&unknown));
    assert_eq!(withdrawals_counted(&api, a).await["today"], 1);
    assert_no_secret(&logs.text(), &app.sim.secrets());
}

#[tokio::test]
async fn withdrawals_made_elsewhere_are_learnt_from_wechats_87013() {
    let (logs, app, appid, api) = mini_program_with_code().await;
    let a = appid.as_str();
    // Five withdrawals in WeChat's console today.
    for _ in 0..5 {
        app.sim.submit_audit_elsewhere(a);
        assert_eq!(app.sim.withdraw_audit_elsewhere(a), None);
    }

    let refused = withdraw(&api, &app, a).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&refused), "withdrawals_spent");
    assert!(text(&refused).contains("87013"), "{}", text(&refused));
    assert_eq!(withdrawals_counted(&api, a).await["today"], 5);
    let again = send(
        &api,
        Method::POST,
        &format!("/authorizers/{a}/audit/undo"),
        None,
    )
    .await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.sim.call_count_for("/wxa/undocodeaudit", a),
        1,
        "once WeChat said so, the day is spent without asking again"
    );
    assert_no_secret(&logs.text(), &app.sim.secrets());
}
