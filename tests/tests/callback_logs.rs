//! The two callback functions' flows at TRACE, through the functions' own log filter
//! ([`wxcomponent::logging::filter`]): no secret, ticket, token, auth code, pre-auth code, refresh
//! token or decrypted message text reaches a log line.
//!
//! Its own test binary, because it installs the global subscriber (which also captures the AWS
//! SDK's and reqwest's records).

use wxcomponent_tests::logs::{LogBuffer, production_filter_at_trace};

use wxcomponent::AuthorizerAppId;
use wxcomponent_tests::app::random_appid;
use wxcomponent_tests::callbacks::{
    Callbacks, StartedFlow, authorized_xml, body_text, header, text_xml, ticket_xml,
};

#[tokio::test]
async fn the_push_and_authorization_flows_log_no_secret_at_trace() {
    // The functions' own filter (what `logging::init` installs), asked for TRACE.
    let buffer = LogBuffer::install_global(production_filter_at_trace());

    let c = Callbacks::spawn().await;
    let config = c.app.sim.config();
    let component = c.app.component.to_string();
    let mut secrets: Vec<String> = vec![
        config.component_secret.clone(),
        config.token.clone(),
        config.encoding_aes_key.clone(),
    ];

    // A ticket push, then a token obtained with it.
    let ticket = c.app.sim.issue_ticket();
    secrets.push(ticket.clone());
    let r = c
        .push_component_event(&ticket_xml(&component, c.app.now(), &ticket))
        .await;
    assert_eq!(r.status(), 200);

    // The authorized event.
    let merchant = random_appid();
    let code = c.app.sim.authorize(&merchant);
    secrets.push(code.clone());
    let r = c
        .push_component_event(&authorized_xml(
            &component,
            "authorized",
            c.app.now(),
            &merchant,
            &code,
        ))
        .await;
    assert_eq!(r.status(), 200);

    // The release test, both messages, and an ordinary text with private content.
    let account = "wx8e1097c5bc82cde9".to_owned();
    let release_code = c.app.sim.authorize(&account);
    secrets.push(release_code.clone());
    let r = c
        .push_message(
            &account,
            "gh_3f222ed8d140",
            &text_xml(
                "gh_3f222ed8d140",
                "o_user",
                c.app.now(),
                &format!("QUERY_AUTH_CODE:{release_code}"),
                1,
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = c
        .push_message(
            &account,
            "gh_3f222ed8d140",
            &text_xml(
                "gh_3f222ed8d140",
                "o_user",
                c.app.now(),
                "TESTCOMPONENT_MSG_TYPE_TEXT",
                2,
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    let private = "my bank pin is 9731-private-text";
    secrets.push(private.to_owned());
    let r = c
        .push_message(
            &account,
            "gh_3f222ed8d140",
            &text_xml("gh_3f222ed8d140", "o_user", c.app.now(), private, 3),
        )
        .await;
    assert_eq!(r.status(), 200);

    // A refused push carrying a ticket.
    let refused = "ticket@@@refused-but-secret";
    secrets.push(refused.to_owned());
    let push = c.signed_push(&ticket_xml(&component, c.app.now(), refused), None);
    let r = c
        .push(
            "/wechat/component",
            &push.with_param("msg_signature", &"0".repeat(40)),
        )
        .await;
    assert_eq!(r.status(), 403);

    // The authorization pages: a pre-auth code, a callback, a refused code.
    let go = c.get_auth("/auth/go", "auth_type=3", &[]).await;
    let location = header(&go, "location").expect("a redirect");
    let pre_auth_code: String = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "pre_auth_code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    secrets.push(pre_auth_code);
    let third = random_appid();
    let callback_code = c.app.sim.authorize(&third);
    secrets.push(callback_code.clone());
    let flow = StartedFlow::from_response(&go);
    secrets.push(flow.state.clone());
    let page = c.callback(&flow, &callback_code).await;
    assert_eq!(page.status(), 200, "{}", body_text(&page));
    let again = c.start_flow("auth_type=3", &[]).await;
    secrets.push(again.state.clone());
    let bad = c
        .callback(&again, "queryauthcode@@@never-issued-secret")
        .await;
    assert_eq!(bad.status(), 400);
    secrets.push("queryauthcode@@@never-issued-secret".to_owned());
    // Refused callbacks: a wrong state, and a code of the wrong shape.
    let refused = c
        .get_auth(
            "/auth/callback",
            &again.callback_query("queryauthcode@@@refused-state-secret"),
            &[("cookie", &flow.cookie)],
        )
        .await;
    assert_eq!(refused.status(), 400);
    secrets.push("queryauthcode@@@refused-state-secret".to_owned());
    let third_flow = c.start_flow("auth_type=3", &[]).await;
    secrets.push(third_flow.state.clone());
    let malformed = c.callback(&third_flow, "malformed-code-secret").await;
    assert_eq!(malformed.status(), 400);
    secrets.push("malformed-code-secret".to_owned());

    // Web authorization of an official account's user, through to the profile; then a refusal
    // whose log line names the fix; and a wx.config signature.
    let official = c.app.authorized_official_account().await;
    let redirect = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_uri", "https://h5.example.com/p")
        .append_pair("scope", "snsapi_userinfo")
        .finish();
    let mut oauth_cookies = Vec::new();
    for fault in [None, Some(48001)] {
        let start = c
            .get_auth(&format!("/oauth/{official}/authorize"), &redirect, &[])
            .await;
        assert_eq!(start.status(), 302, "{}", body_text(&start));
        let cookie = header(&start, "set-cookie").unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        oauth_cookies.push(cookie.trim_start_matches("wxc_oauth_state=").to_owned());
        let wechat_page = header(&start, "location").unwrap();
        let back = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&wechat_page)
            .send()
            .await
            .unwrap();
        let callback = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
        if let Some(errcode) = fault {
            c.app.sim.inject(
                "/sns/oauth2/component/access_token",
                wxcomponent_tests::sim::Fault::errcode(errcode),
                wxcomponent_tests::sim::Times::Next(1),
            );
        }
        let done = c
            .get_auth(
                callback.path(),
                callback.query().unwrap(),
                &[("cookie", &cookie)],
            )
            .await;
        assert_eq!(done.status(), if fault.is_some() { 403 } else { 302 });
    }
    let api = wxcomponent_tests::provider_api::ProviderApi::on(&c.app);
    let config = api
        .get(&format!(
            "/authorizers/{official}/jssdk-config?url=https%3A%2F%2Fh5.example.com%2Fp"
        ))
        .await;
    assert_eq!(config.status(), 200);
    // The codes, the users' tokens and the ticket the sim minted, and the state cookies.
    secrets.extend(c.app.sim.secrets().into_iter().filter(|s| {
        ["webcode", "webtoken", "webrefresh", "jsapi"]
            .iter()
            .any(|p| s.starts_with(p))
    }));
    secrets.extend(oauth_cookies);

    // Every token WeChat handed out.
    secrets.extend(c.app.sim.component_token());
    for appid in [&merchant, &account, &third] {
        let stored = c
            .app
            .stored_authorizer(&AuthorizerAppId::parse(appid).unwrap())
            .await;
        secrets.push(stored.access_token.value.expose().to_owned());
        secrets.push(stored.refresh_token.expose().to_owned());
    }

    let logs = buffer.text();
    assert!(
        logs.contains("component_verify_ticket stored"),
        "the flows were logged"
    );
    assert!(logs.contains("release test: customer-service message sent"));
    assert!(
        logs.contains("网页服务权限"),
        "the refused web authorization's log line names the fix"
    );
    assert!(logs.contains("jsapi ticket fetched"));
    for secret in &secrets {
        assert!(!secret.is_empty());
        if let Some(at) = logs.find(secret.as_str()) {
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            eprintln!("LEAK: {}", &logs[line_start..(at + 200).min(logs.len())]);
        }
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..secret.len().min(12)]
        );
    }
}
