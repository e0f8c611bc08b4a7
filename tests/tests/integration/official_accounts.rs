//! Official accounts on behalf: web authorization of their users through auth-redirect's
//! `/oauth` routes, and `wx.config` signatures from the API, through the real handlers against
//! DynamoDB Local and the simulator.

use std::collections::HashMap;

use wxcomponent::AuthorizerAppId;
use wxcomponent::service::verify_oauth_query;
use wxcomponent::store::{AuthorizerStore, OfficialAccountStore};
use wxcomponent::wechat::jssdk_signature;
use wxcomponent_tests::callbacks::{
    API_HOST, Callbacks, OAUTH_REDIRECT_HOST, body_text, header, oauth_signing_key, table_items,
};
use wxcomponent_tests::provider_api::{ProviderApi, error_code, json_of};
use wxcomponent_tests::sim::{Fault, Times, WEB_USER_UNIONID, web_user_openid};

const EXCHANGE: &str = "/sns/oauth2/component/access_token";
const USERINFO: &str = "/sns/userinfo";
const GETTICKET: &str = "/cgi-bin/ticket/getticket";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn authorize_query(redirect_uri: &str, scope: &str, state: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", state)
        .finish()
}

/// A started web authorization: WeChat's page URL and the cookie as the browser returns it.
struct Started {
    location: String,
    cookie: String,
    set_cookie: String,
}

async fn start(c: &Callbacks, appid: &AuthorizerAppId, query: &str) -> Started {
    let response = c
        .get_auth(&format!("/oauth/{appid}/authorize"), query, &[])
        .await;
    assert_eq!(response.status(), 302, "{}", body_text(&response));
    let set_cookie = header(&response, "set-cookie").expect("a state cookie");
    Started {
        location: header(&response, "location").unwrap(),
        cookie: set_cookie.split(';').next().unwrap().trim().to_owned(),
        set_cookie,
    }
}

/// WeChat's page (the sim's): the user agrees, and the browser is sent to our callback.
async fn through_wechat(started: &Started) -> url::Url {
    let back = browser().get(&started.location).send().await.unwrap();
    assert_eq!(back.status(), 302, "{}", back.text().await.unwrap());
    let callback = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(callback.host_str(), Some(API_HOST));
    assert_eq!(callback.path(), "/oauth/callback");
    callback
}

async fn callback(
    c: &Callbacks,
    callback: &url::Url,
    cookie: Option<&str>,
) -> lambda_http::Response<lambda_http::Body> {
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", *c)).collect();
    c.get_auth(callback.path(), callback.query().unwrap_or(""), &headers)
        .await
}

#[tokio::test]
async fn a_users_web_authorization_ends_at_the_providers_page_with_a_signed_openid_and_a_kept_profile()
 {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let provider_page = format!("https://{OAUTH_REDIRECT_HOST}/shop?x=1");

    // 1. The provider's page sends the user to us; we send the user to WeChat's page.
    let started = start(
        &c,
        &appid,
        &authorize_query(&provider_page, "snsapi_userinfo", "order-7"),
    )
    .await;
    let (before_fragment, fragment) = started.location.split_once('#').unwrap();
    assert_eq!(fragment, "wechat_redirect");
    let page = url::Url::parse(before_fragment).unwrap();
    assert_eq!(page.path(), "/connect/oauth2/authorize");
    let names: Vec<String> = page.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(
        names,
        [
            "appid",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "component_appid"
        ],
        "WeChat's page reads its parameters in this order"
    );
    let params: HashMap<String, String> = page.query_pairs().into_owned().collect();
    assert_eq!(params["appid"], appid.as_str());
    assert_eq!(
        params["redirect_uri"],
        format!("https://{API_HOST}/oauth/callback")
    );
    assert_eq!(params["scope"], "snsapi_userinfo");
    assert_eq!(params["component_appid"], c.app.component.to_string());
    assert_ne!(
        params["state"], "order-7",
        "the state WeChat carries is ours"
    );
    assert!(
        started.set_cookie.contains("Path=/oauth/callback")
            && started.set_cookie.contains("HttpOnly")
            && started.set_cookie.contains("SameSite=Lax")
            && started.set_cookie.contains("Secure"),
        "{}",
        started.set_cookie
    );
    assert!(
        !started.set_cookie.contains(&provider_page),
        "the cookie carries the request encoded and signed"
    );

    // 2. WeChat's page gives a code; the callback exchanges it and fetches the profile.
    let back = through_wechat(&started).await;
    let done = callback(&c, &back, Some(&started.cookie)).await;
    assert_eq!(done.status(), 302, "{}", body_text(&done));
    assert!(
        header(&done, "set-cookie")
            .unwrap()
            .starts_with("wxc_oauth_state=; Path=/oauth/callback; Max-Age=0"),
        "the flow is over"
    );
    let location = url::Url::parse(&header(&done, "location").unwrap()).unwrap();
    assert_eq!(location.host_str(), Some(OAUTH_REDIRECT_HOST));
    assert_eq!(location.path(), "/shop");
    let result: HashMap<String, String> = location.query_pairs().into_owned().collect();
    let openid = web_user_openid(appid.as_str());
    assert_eq!(result["x"], "1", "the provider's own query is kept");
    assert_eq!(result["openid"], openid);
    assert_eq!(result["unionid"], WEB_USER_UNIONID);
    assert_eq!(result["state"], "order-7");
    assert_eq!(result["scope"], "snsapi_userinfo");
    let verified = verify_oauth_query(
        &oauth_signing_key(),
        location.query().unwrap(),
        c.app.now(),
        300,
    )
    .expect("the provider can verify the result");
    assert_eq!(verified.appid, appid);
    // The user's token and the code stay here: not in the URL, not a parameter of it.
    for secret in c.app.sim.secrets() {
        if secret.starts_with("webtoken") || secret.starts_with("webrefresh") {
            assert!(!location.as_str().contains(&secret));
        }
    }
    assert_eq!(
        result.len(),
        8,
        "x, appid, openid, unionid, scope, state, ts, sig"
    );

    // 3. The provider reads the profile from the API with the openid it verified.
    let api = ProviderApi::on(&c.app);
    let profile = api
        .get(&format!("/authorizers/{appid}/web-users/{openid}"))
        .await;
    assert_eq!(profile.status(), 200);
    let profile = json_of(&profile);
    assert_eq!(profile["nickname"], "模拟用户");
    assert_eq!(profile["unionid"], WEB_USER_UNIONID);
    assert!(profile.get("access_token").is_none());
    let unknown = api
        .get(&format!("/authorizers/{appid}/web-users/oSomebodyElse"))
        .await;
    assert_eq!(unknown.status(), 404);
    c.app.assert_no_unmatched_calls();

    // 4. The same callback again (a reload that still holds the cookie): WeChat refuses the used
    // code, and the user gets a page that starts over.
    let reused = callback(&c, &back, Some(&started.cookie)).await;
    assert_eq!(reused.status(), 400);
    let page = body_text(&reused);
    assert!(page.contains("授权已失效"), "{page}");
    assert!(
        page.contains(&format!("href=\"{appid}/authorize?redirect_uri=")),
        "{page}"
    );
    assert_eq!(c.app.sim.call_count(EXCHANGE), 2);
}

#[tokio::test]
async fn snsapi_base_gives_the_openid_alone_without_a_profile_call() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let provider_page = format!("https://{OAUTH_REDIRECT_HOST}/");
    let started = start(
        &c,
        &appid,
        &format!("redirect_uri={}", urlencode(&provider_page)),
    )
    .await;
    assert!(started.location.contains("scope=snsapi_base"));
    let back = through_wechat(&started).await;
    let done = callback(&c, &back, Some(&started.cookie)).await;
    assert_eq!(done.status(), 302, "{}", body_text(&done));
    let location = url::Url::parse(&header(&done, "location").unwrap()).unwrap();
    let result: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(result["openid"], web_user_openid(appid.as_str()));
    assert!(!result.contains_key("unionid") && !result.contains_key("state"));
    let verified = verify_oauth_query(
        &oauth_signing_key(),
        location.query().unwrap(),
        c.app.now(),
        300,
    )
    .unwrap();
    assert_eq!(verified.unionid, None);
    assert_eq!(c.app.sim.call_count(USERINFO), 0);
    assert!(
        c.app
            .store
            .web_user(&c.app.component, &appid, &result["openid"])
            .await
            .unwrap()
            .is_none()
    );
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn requests_outside_the_allowlist_or_for_accounts_that_cannot_are_refused_and_spend_nothing()
{
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let official = c.app.authorized_official_account().await;
    let (mini_program, _) = c.app.authorized_account_with_profile().await;
    let unknown = wxcomponent_tests::app::random_appid();
    let ok_page = format!("https://{OAUTH_REDIRECT_HOST}/p");
    let items_before = table_items(&c.app).await;
    c.app.sim.clear_calls();
    let cases: Vec<(&str, String, String, u16)> = vec![
        (
            "a host outside the allowlist",
            official.to_string(),
            authorize_query("https://evil.example.net/p", "snsapi_base", "s"),
            400,
        ),
        (
            "a host that only starts like an allowed one",
            official.to_string(),
            authorize_query(
                &format!("https://{OAUTH_REDIRECT_HOST}.evil.net/"),
                "snsapi_base",
                "s",
            ),
            400,
        ),
        (
            "no redirect_uri",
            official.to_string(),
            "scope=snsapi_base".to_owned(),
            400,
        ),
        (
            "a redirect_uri carrying a result parameter",
            official.to_string(),
            authorize_query(&format!("{ok_page}?openid=forged"), "snsapi_base", "s"),
            400,
        ),
        (
            "an unknown scope",
            official.to_string(),
            authorize_query(&ok_page, "snsapi_login", "s"),
            400,
        ),
        (
            "a malformed appid",
            "bad%20appid".to_owned(),
            authorize_query(&ok_page, "snsapi_base", "s"),
            400,
        ),
        (
            "an account that never authorized",
            unknown,
            authorize_query(&ok_page, "snsapi_base", "s"),
            404,
        ),
        (
            "a mini program",
            mini_program.to_string(),
            authorize_query(&ok_page, "snsapi_base", "s"),
            404,
        ),
    ];
    for (case, appid, query, status) in cases {
        let response = c
            .get_auth(&format!("/oauth/{appid}/authorize"), &query, &[])
            .await;
        assert_eq!(response.status(), status, "{case}");
        assert!(header(&response, "set-cookie").is_none(), "{case}");
        assert!(header(&response, "location").is_none(), "{case}");
        assert!(
            body_text(&response).contains("<html lang=\"zh-CN\""),
            "{case}"
        );
    }
    assert!(c.app.sim.calls().is_empty(), "no WeChat call was made");
    assert_eq!(
        table_items(&c.app).await,
        items_before,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_callback_that_is_not_this_browsers_flow_is_refused_before_the_code_is_spent() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let other_account = c.app.authorized_official_account().await;
    let page = format!("https://{OAUTH_REDIRECT_HOST}/p");
    let mine = start(&c, &appid, &authorize_query(&page, "snsapi_base", "a")).await;
    let other = start(&c, &appid, &authorize_query(&page, "snsapi_base", "b")).await;
    let back = through_wechat(&mine).await;
    let query: HashMap<String, String> = back.query_pairs().into_owned().collect();
    let with = |pairs: &[(&str, &str)]| {
        let mut url = back.clone();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url
    };
    let (payload, sig) = mine
        .cookie
        .trim_start_matches("wxc_oauth_state=")
        .split_once('.')
        .unwrap();
    let tampered = format!("wxc_oauth_state={}A.{sig}", payload);
    let cases = [
        ("no cookie", back.clone(), None),
        (
            "another flow's cookie",
            back.clone(),
            Some(other.cookie.clone()),
        ),
        ("a changed cookie", back.clone(), Some(tampered)),
        (
            "no state",
            with(&[("code", &query["code"]), ("appid", appid.as_str())]),
            Some(mine.cookie.clone()),
        ),
        (
            "two states",
            with(&[
                ("code", &query["code"]),
                ("state", &query["state"]),
                ("state", &query["state"]),
                ("appid", appid.as_str()),
            ]),
            Some(mine.cookie.clone()),
        ),
        (
            "another account's appid",
            with(&[
                ("code", &query["code"]),
                ("state", &query["state"]),
                ("appid", other_account.as_str()),
            ]),
            Some(mine.cookie.clone()),
        ),
    ];
    for (case, url, cookie) in &cases {
        let response = callback(&c, url, cookie.as_deref()).await;
        assert_eq!(response.status(), 400, "{case}");
        assert!(body_text(&response).contains("无法确认这次授权"), "{case}");
        assert!(header(&response, "location").is_none(), "{case}");
    }
    assert_eq!(c.app.sim.call_count(EXCHANGE), 0, "no code was spent");
    // The right browser still completes: the code was not spent by the refusals.
    let done = callback(&c, &back, Some(&mine.cookie)).await;
    assert_eq!(done.status(), 302, "{}", body_text(&done));
}

#[tokio::test]
async fn wechats_refusals_each_get_a_page_and_keep_the_users_token_to_the_function() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let page = format!("https://{OAUTH_REDIRECT_HOST}/p");
    let cases = [
        ("invalid code", EXCHANGE, 40029, 400, "授权已失效", true),
        ("code used", EXCHANGE, 40163, 400, "授权已失效", true),
        (
            "permission not granted",
            EXCHANGE,
            48001,
            403,
            "还没有开通网页授权",
            false,
        ),
        (
            "scope not granted",
            USERINFO,
            48001,
            403,
            "未获得用户信息授权",
            true,
        ),
    ];
    for (case, path, errcode, status, text, retry) in cases {
        let started = start(&c, &appid, &authorize_query(&page, "snsapi_userinfo", "s")).await;
        let back = through_wechat(&started).await;
        c.app
            .sim
            .inject(path, Fault::errcode(errcode), Times::Next(1));
        let response = callback(&c, &back, Some(&started.cookie)).await;
        assert_eq!(response.status(), status, "{case}");
        let body = body_text(&response);
        assert!(body.contains(text), "{case}: {body}");
        assert_eq!(body.contains("id=\"retry\""), retry, "{case}");
        assert!(header(&response, "location").is_none(), "{case}");
        assert!(
            header(&response, "set-cookie").is_some_and(|v| v.contains("Max-Age=0")),
            "{case}: the flow is over"
        );
    }
    // The user declined on WeChat's page: WeChat comes back without a code.
    let started = start(&c, &appid, &authorize_query(&page, "snsapi_userinfo", "s")).await;
    let back = through_wechat(&started).await;
    let mut declined = back.clone();
    let kept: Vec<(String, String)> = back
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "code")
        .collect();
    declined.query_pairs_mut().clear().extend_pairs(kept);
    let response = callback(&c, &declined, Some(&started.cookie)).await;
    assert_eq!(response.status(), 403);
    assert!(body_text(&response).contains("您已取消授权"));
    // No page and no redirect shows a token or a code WeChat minted.
    for secret in c.app.sim.secrets() {
        assert!(!body_text(&response).contains(&secret));
    }
}

// ----- JS-SDK ------------------------------------------------------------------------------------

/// The one jsapi_ticket the sim minted.
fn minted_ticket(c: &Callbacks) -> String {
    let tickets: Vec<String> = c
        .app
        .sim
        .secrets()
        .into_iter()
        .filter(|s| s.starts_with("jsapi"))
        .collect();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    tickets[0].clone()
}

#[tokio::test]
async fn wx_config_is_signed_over_the_page_url_as_given_with_the_accounts_ticket() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let api = ProviderApi::on(&c.app);
    // WeChat's documented example URL: no path, a query. Signed byte for byte, not normalised.
    let page = "http://mp.weixin.qq.com?params=value";
    let response = api
        .get(&format!(
            "/authorizers/{appid}/jssdk-config?url={}",
            urlencode(&format!("{page}#section"))
        ))
        .await;
    assert_eq!(response.status(), 200, "{}", body_text(&response));
    let config = json_of(&response);
    assert_eq!(config["app_id"], appid.as_str());
    let ticket = minted_ticket(&c);
    let expected = jssdk_signature(
        &ticket,
        config["nonce_str"].as_str().unwrap(),
        config["timestamp"].as_i64().unwrap(),
        page,
    );
    assert_eq!(config["signature"], expected.as_str());
    assert_eq!(config["nonce_str"].as_str().unwrap().len(), 16);
    assert!(
        !body_text(&response).contains(&ticket),
        "the ticket stays here"
    );
    // The ticket is kept: the next page costs no call.
    let stored = c
        .app
        .store
        .jsapi_ticket(&c.app.component, &appid)
        .await
        .unwrap()
        .expect("the ticket is stored");
    assert_eq!(stored.ticket.value.expose(), ticket);
    let again = api
        .get(&format!(
            "/authorizers/{appid}/jssdk-config?url={}",
            urlencode("https://h5.example.com/other")
        ))
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(c.app.sim.call_count(GETTICKET), 1);
    c.app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn fifty_concurrent_wx_configs_cost_one_getticket() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let api = std::sync::Arc::new(ProviderApi::on(&c.app));
    let uri = format!(
        "/authorizers/{appid}/jssdk-config?url={}",
        urlencode("https://h5.example.com/page")
    );
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (api, uri) = (api.clone(), uri.clone());
        callers.spawn(async move { api.get(&uri).await });
    }
    let answers = callers.join_all().await;
    let ticket = minted_ticket(&c);
    for answer in &answers {
        assert_eq!(answer.status(), 200, "{}", body_text(answer));
        let config = json_of(answer);
        assert_eq!(
            config["signature"],
            jssdk_signature(
                &ticket,
                config["nonce_str"].as_str().unwrap(),
                config["timestamp"].as_i64().unwrap(),
                "https://h5.example.com/page",
            )
            .as_str()
        );
    }
    assert_eq!(c.app.sim.call_count(GETTICKET), 1);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once_and_bad_requests_spend_no_call() {
    let c = Callbacks::spawn().await;
    c.app.store_fresh_ticket().await;
    let appid = c.app.authorized_official_account().await;
    let api = ProviderApi::on(&c.app);
    let token_before = c.app.stored_authorizer(&appid).await.access_token;
    c.app
        .sim
        .inject(GETTICKET, Fault::errcode(40001), Times::Next(1));
    let response = api
        .get(&format!(
            "/authorizers/{appid}/jssdk-config?url={}",
            urlencode("https://h5.example.com/")
        ))
        .await;
    assert_eq!(response.status(), 200, "{}", body_text(&response));
    assert_eq!(c.app.sim.call_count(GETTICKET), 2);
    assert_eq!(c.app.sim.call_count(AUTHORIZER_TOKEN), 1);
    let token_after = c
        .app
        .store
        .authorizer(&c.app.component, &appid)
        .await
        .unwrap()
        .unwrap()
        .access_token;
    assert_ne!(token_before.value, token_after.value);

    c.app.sim.clear_calls();
    let (mini_program, _) = c.app.authorized_account_with_profile().await;
    for (uri, status, code) in [
        (
            format!("/authorizers/{appid}/jssdk-config"),
            400,
            "invalid_url",
        ),
        (
            format!("/authorizers/{appid}/jssdk-config?url=%2Frelative"),
            400,
            "invalid_url",
        ),
        (
            format!(
                "/authorizers/{mini_program}/jssdk-config?url={}",
                urlencode("https://h5.example.com/")
            ),
            409,
            "not_official_account",
        ),
        (
            format!("/authorizers/{appid}/web-users/not%20an%20openid"),
            400,
            "invalid_openid",
        ),
    ] {
        let response = api.get(&uri).await;
        assert_eq!(response.status(), status, "{uri}");
        assert_eq!(error_code(&response), code, "{uri}");
    }
    assert!(c.app.sim.calls().is_empty());
}
