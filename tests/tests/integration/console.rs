//! The console in process against DynamoDB Local and the simulator: signing in, the session, the
//! CSRF tokens and the limit on failed sign-ins, each refused the way it must be; and what the
//! pages show (and never show). The browser drives the same pages in `console_browser`.

use lambda_http::http::header;
use serde_json::json;
use wxcomponent::store::{
    AuthorizerSettingsStore, AuthorizerStatus, AuthorizerStore, ConsoleStore,
};
use wxcomponent_tests::app::TestApp;
use wxcomponent_tests::fleet::Fleet;
use wxcomponent_tests::operator::{CONSOLE_KEY, Operator, body_of, hidden_value, location};

const SESSION: &str = console::session::SESSION_COOKIE;

fn set_cookies(response: &lambda_http::Response<lambda_http::Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_right_key_opens_a_strict_http_only_session_and_a_wrong_one_does_not() {
    let app = TestApp::spawn().await;
    let operator = Operator::on(&app);

    let refused = operator.try_sign_in("not-the-key").await;
    assert_eq!(refused.status(), 401);
    assert!(
        body_of(&refused).contains("密钥不正确"),
        "{}",
        body_of(&refused)
    );
    assert_eq!(operator.cookie(SESSION), None, "no session");
    assert_eq!(operator.get("/console/authorizers").await.status(), 303);

    let signed_in = operator.try_sign_in(CONSOLE_KEY).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "./authorizers");
    let session = set_cookies(&signed_in)
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION}=")))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=28800"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(
        !session.contains("Secure"),
        "plain HTTP on loopback: {session}"
    );
    assert!(
        !session.contains("Path="),
        "scoped to the console's own path: {session}"
    );
    assert!(!session.contains(CONSOLE_KEY), "{session}");
    let page = operator.get("/console/authorizers").await;
    assert_eq!(page.status(), 200, "{}", body_of(&page));
    // A session already open skips the form.
    assert_eq!(location(&operator.get("/console/").await), "./authorizers");

    // Anywhere but a loopback host, the cookie is Secure.
    let mut deployed = operator.another();
    deployed.host = "console.example.com".to_owned();
    let signed_in = deployed.try_sign_in(CONSOLE_KEY).await;
    assert_eq!(signed_in.status(), 303);
    assert!(
        set_cookies(&signed_in)
            .iter()
            .all(|c| c.contains("; Secure")),
        "{:?}",
        set_cookies(&signed_in)
    );
}

#[tokio::test]
async fn a_sign_in_without_the_forms_own_token_is_refused_before_the_key_is_looked_at() {
    let app = TestApp::spawn().await;
    let operator = Operator::on(&app);
    // No form opened: no nonce cookie.
    let blind = operator
        .post("/console/login", &[("key", CONSOLE_KEY), ("csrf", "00")])
        .await;
    assert_eq!(blind.status(), 403);
    assert_eq!(operator.cookie(SESSION), None);
    // A form opened, but another token.
    let form = operator.get("/console/").await;
    let token = hidden_value(&body_of(&form), "csrf").unwrap();
    let forged = format!("{}0", &token[..token.len() - 1]);
    let forged = if forged == token {
        format!("{}1", &token[..token.len() - 1])
    } else {
        forged
    };
    let refused = operator
        .post("/console/login", &[("key", CONSOLE_KEY), ("csrf", &forged)])
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(operator.cookie(SESSION), None);
    // The form's own token from another browser's form does not fit this browser's cookie.
    let other = operator.another();
    let others_form = other.get("/console/").await;
    let others_token = hidden_value(&body_of(&others_form), "csrf").unwrap();
    operator.get("/console/").await;
    let crossed = operator
        .post(
            "/console/login",
            &[("key", CONSOLE_KEY), ("csrf", &others_token)],
        )
        .await;
    assert_eq!(crossed.status(), 403);
    assert_eq!(operator.cookie(SESSION), None);
}

#[tokio::test]
async fn after_five_failed_sign_ins_a_client_is_refused_even_with_the_right_key() {
    let app = TestApp::spawn().await;
    let operator = Operator::on(&app);
    for attempt in 1..=5 {
        let refused = operator.try_sign_in(&format!("guess-{attempt}")).await;
        assert_eq!(refused.status(), 401, "attempt {attempt}");
    }
    let limited = operator.try_sign_in(CONSOLE_KEY).await;
    assert_eq!(limited.status(), 429);
    assert!(body_of(&limited).contains("登录失败次数过多"));
    assert_eq!(operator.cookie(SESSION), None);

    // Another address is not held back.
    let mut elsewhere = operator.another();
    elsewhere.source_ip = "198.51.100.7".to_owned();
    elsewhere.sign_in().await;

    // The next window lets the first client in again.
    app.clock.advance(console::session::SIGN_IN_WINDOW_SECS);
    operator.sign_in().await;
}

#[tokio::test]
async fn without_a_valid_session_every_page_sends_the_browser_to_sign_in() {
    let app = TestApp::spawn().await;
    let (appid, _) = app.authorized_account_with_profile().await;
    let pages = [
        "/console/overview".to_owned(),
        "/console/authorizers".to_owned(),
        format!("/console/authorizers/{appid}"),
        "/console/links?create=1".to_owned(),
        "/console/releases".to_owned(),
    ];
    let operator = Operator::on(&app);
    for page in &pages {
        let answer = operator.get(page).await;
        assert_eq!(answer.status(), 303, "{page} without a cookie");
        assert!(
            location(&answer).ends_with("./") || location(&answer).ends_with("../"),
            "{page}: {}",
            location(&answer)
        );
    }
    let answer = operator
        .post(
            &format!("/console/authorizers/{appid}/refresh"),
            &[("csrf", "x")],
        )
        .await;
    assert_eq!(answer.status(), 303, "a form without a session");

    operator.sign_in().await;
    let cookie = operator.cookie(SESSION).unwrap();
    for page in &pages {
        assert_eq!(operator.get(page).await.status(), 200, "{page} signed in");
    }

    // Tampered: another expiry under the old signature, or another id.
    let parts: Vec<&str> = cookie.split('.').collect();
    let later = format!(
        "{}.{}.{}",
        parts[0],
        parts[1].parse::<i64>().unwrap() + 3600,
        parts[2]
    );
    let other_id = format!("{}.{}.{}", "ab".repeat(32), parts[1], parts[2]);
    for forged in [later, other_id, "garbage".to_owned(), String::new()] {
        operator.set_cookie(SESSION, &forged);
        let answer = operator.get("/console/overview").await;
        assert_eq!(answer.status(), 303, "forged cookie {forged:?}");
    }

    // Expired.
    operator.set_cookie(SESSION, &cookie);
    assert_eq!(operator.get("/console/overview").await.status(), 200);
    app.clock.advance(console::session::SESSION_SECS);
    assert_eq!(
        operator.get("/console/overview").await.status(),
        303,
        "expired"
    );

    // Signed out: the cookie is cleared, and the same cookie presented again is refused.
    operator.forget_cookies();
    operator.sign_in().await;
    let cookie = operator.cookie(SESSION).unwrap();
    let csrf = operator.csrf().await;
    let out = operator.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "./?signed_out");
    assert_eq!(operator.cookie(SESSION), None, "the cookie is cleared");
    let form = operator.get("/console/?signed_out").await;
    assert!(body_of(&form).contains("您已退出登录"));
    operator.set_cookie(SESSION, &cookie);
    assert_eq!(
        operator.get("/console/overview").await.status(),
        303,
        "a signed-out session's cookie is refused"
    );
}

#[tokio::test]
async fn a_form_without_its_sessions_csrf_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let (appid, _) = app.authorized_account_with_profile().await;
    let operator = Operator::on(&app);
    operator.sign_in().await;
    let other = operator.another();
    other.sign_in().await;
    let others_csrf = other.csrf().await;
    let csrf = operator.csrf().await;
    assert_ne!(csrf, others_csrf, "each session has its own token");

    let uri = format!("/console/authorizers/{appid}/settings");
    let settings = r#"{"shop_id": "s-1"}"#;
    for token in [None, Some(""), Some(others_csrf.as_str())] {
        let mut form = vec![("settings", settings)];
        if let Some(token) = token {
            form.push(("csrf", token));
        }
        let refused = operator.post(&uri, &form).await;
        assert_eq!(refused.status(), 403, "token {token:?}");
        assert_eq!(
            app.store
                .authorizer_settings(&app.component, &appid)
                .await
                .unwrap()
                .unwrap_or_default(),
            Default::default(),
            "nothing stored"
        );
    }
    // Signing out needs the token too.
    assert_eq!(operator.post("/console/logout", &[]).await.status(), 403);
    assert_eq!(
        operator.get("/console/overview").await.status(),
        200,
        "still signed in"
    );

    let saved = operator
        .post(&uri, &[("settings", settings), ("csrf", &csrf)])
        .await;
    assert_eq!(saved.status(), 303, "{}", body_of(&saved));
    assert_eq!(
        location(&saved),
        format!("../../authorizers/{appid}?notice=saved")
    );
    let stored = app
        .store
        .authorizer_settings(&app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&stored).unwrap(),
        json!({"shop_id": "s-1"})
    );

    // Settings a release could not use are refused with the reason, and the stored ones stay.
    let refused = operator
        .post(&uri, &[("settings", r#"{"appid": "x"}"#), ("csrf", &csrf)])
        .await;
    assert_eq!(refused.status(), 400);
    assert!(body_of(&refused).contains("appid"), "{}", body_of(&refused));
    let kept = app
        .store
        .authorizer_settings(&app.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept, stored);
}

#[tokio::test]
async fn the_pages_show_the_fleet_in_chinese_or_english_and_never_a_token_or_secret() {
    let app = TestApp::spawn().await;
    let ticket = app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account_with_profile().await;
    let (stale, _) = app.authorized_account_with_profile().await;
    app.store
        .set_authorizer_status(
            &app.component,
            &stale,
            AuthorizerStatus::ReauthorizationRequired,
        )
        .await
        .unwrap();
    let operator = Operator::on(&app);
    operator.sign_in().await;

    // Refresh now: one api_authorizer_token call, and the page says so.
    let csrf = operator.csrf().await;
    let refreshed = operator
        .post(
            &format!("/console/authorizers/{appid}/refresh"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refreshed.status(), 303, "{}", body_of(&refreshed));
    assert_eq!(
        location(&refreshed),
        format!("../../authorizers/{appid}?notice=refreshed")
    );
    assert_eq!(
        app.sim
            .call_count("/cgi-bin/component/api_authorizer_token"),
        1
    );
    let stored = app
        .store
        .authorizer(&app.component, &appid)
        .await
        .unwrap()
        .unwrap();

    let list = body_of(&operator.get("/console/authorizers").await);
    assert!(list.contains(&format!("Sim account {appid}")), "{list}");
    assert!(list.contains("需重新授权"), "{list}");
    assert!(
        list.contains(&format!(r#"<tr class="alert" data-appid="{stale}">"#)),
        "the merchant to reauthorize stands out: {list}"
    );
    assert!(
        list.contains(&format!("links?biz_appid={stale}")),
        "with their link"
    );

    // Search by a part of the name finds one; by nothing known, none.
    let found = body_of(
        &operator
            .get(&format!(
                "/console/authorizers?q={}",
                &appid.as_str()[4..12]
            ))
            .await,
    );
    assert!(
        found.contains(&format!("data-appid=\"{appid}\"")),
        "{found}"
    );
    assert!(
        !found.contains(&format!("data-appid=\"{stale}\"")),
        "{found}"
    );
    let none = body_of(&operator.get("/console/authorizers?q=no-such-shop").await);
    assert!(none.contains(r#"id="nothing""#), "{none}");

    let detail = body_of(
        &operator
            .get(&format!("/console/authorizers/{appid}?notice=refreshed"))
            .await,
    );
    assert!(detail.contains("令牌已刷新"), "{detail}");
    assert!(detail.contains("Sim principal"), "{detail}");
    let overview = body_of(&operator.get("/console/overview").await);
    assert!(overview.contains("授权方（按状态）"), "{overview}");
    let links = body_of(&operator.get("/console/links?auth_type=2&create=1").await);
    let releases = body_of(&operator.get("/console/releases").await);

    for (name, page) in [
        ("list", &list),
        ("search", &found),
        ("detail", &detail),
        ("overview", &overview),
        ("links", &links),
        ("releases", &releases),
    ] {
        assert!(page.contains("<html lang=\"zh-CN\">"), "{name}");
        assert!(page.contains("示例服务商"), "{name}: the provider's name");
        for secret in [
            stored.access_token.value.expose(),
            stored.refresh_token.expose(),
            ticket.as_str(),
            console_signing_secret(),
            CONSOLE_KEY,
        ] {
            assert!(!page.contains(secret), "{name} shows a secret");
        }
    }

    let mut english = operator.another();
    english.accept_language = Some("en-US,en;q=0.9,zh;q=0.5".to_owned());
    english.sign_in().await;
    let page = body_of(&english.get("/console/authorizers").await);
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.contains("must authorize again"), "{page}");
}

fn console_signing_secret() -> &'static str {
    wxcomponent_tests::operator::SIGNING_SECRET
}

#[tokio::test]
async fn authorization_links_are_the_launch_pages_for_pc_and_mobile_with_a_qr_code_and_cost_nothing()
 {
    let app = TestApp::spawn().await;
    let operator = Operator::on(&app);
    operator.sign_in().await;
    let calls_before = app.sim.calls().len();
    let page = body_of(
        &operator
            .get("/console/links?auth_type=2&biz_appid=wxd101a85aa106f53e&create=1")
            .await,
    );
    assert!(
        page.contains("https://auth.example.com/prod/auth?auth_type=2&#38;biz_appid=wxd101a85aa106f53e&#38;device=pc"),
        "{page}"
    );
    assert!(page.contains("device=mobile"), "{page}");
    assert!(page.contains("<svg"), "the QR code: {page}");
    assert_eq!(
        app.sim.calls().len(),
        calls_before,
        "no WeChat call, no pre-auth code"
    );
    let refused = body_of(
        &operator
            .get("/console/links?biz_appid=%3Cscript%3E&create=1")
            .await,
    );
    assert!(refused.contains(r#"id="error""#), "{refused}");
    assert!(!refused.contains("<script>"), "{refused}");
}

#[tokio::test]
async fn a_release_started_from_the_console_can_be_paused_resumed_and_cancelled() {
    let fleet = Fleet::spawn().await;
    let appids = fleet.mini_programs(2).await;
    let operator = Operator::on(&fleet.app);
    operator.sign_in().await;
    let releases = body_of(&operator.get("/console/releases").await);
    assert!(
        releases.contains(&format!(r#"<option value="{}">"#, fleet.template_id)),
        "the template list: {releases}"
    );
    let csrf = operator.csrf().await;
    let cohort = appids
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let template = fleet.template_id.to_string();
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("template_id", template.clone()),
            ("user_version", "2.0.0".to_owned()),
            ("user_desc", "from the console".to_owned()),
            ("appids", cohort.clone()),
            ("ext_json", r#"{"extAppid": "{{appid}}"}"#.to_owned()),
            ("release", "auto".to_owned()),
        ]
    };
    let fields = form("not-the-token");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        operator.post("/console/campaigns", &fields).await.status(),
        403
    );
    let listed = fleet.api.get("/campaigns").await;
    assert_eq!(
        wxcomponent_tests::provider_api::json_of(&listed)["items"],
        json!([]),
        "a refused form starts nothing"
    );

    let fields = form(&csrf);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = operator.post("/console/campaigns", &fields).await;
    assert_eq!(started.status(), 303, "{}", body_of(&started));
    let id = location(&started)
        .trim_start_matches("./campaigns/")
        .to_owned();
    assert_eq!(fleet.campaign(&id).await["total"], 2);
    let page = body_of(&operator.get(&format!("/console/campaigns/{id}")).await);
    assert!(page.contains(r#"data-state="running""#), "{page}");

    for (action, state) in [
        ("pause", "paused"),
        ("resume", "running"),
        ("cancel", "cancelled"),
    ] {
        let answer = operator
            .post(
                &format!("/console/campaigns/{id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(answer.status(), 303, "{action}: {}", body_of(&answer));
        assert_eq!(location(&answer), format!("../../campaigns/{id}"));
        assert_eq!(fleet.campaign(&id).await["state"], state, "{action}");
    }
    let again = operator
        .post(
            &format!("/console/campaigns/{id}/resume"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status(), 409, "a cancelled release does not resume");
}

#[tokio::test]
async fn the_overview_shows_the_refreshers_last_run_and_the_events_published() {
    let app = TestApp::spawn().await;
    let operator = Operator::on(&app);
    operator.sign_in().await;
    let page = body_of(&operator.get("/console/overview").await);
    assert!(page.contains("还没有运行记录"), "{page}");
    assert!(page.contains("没有有效的 ticket"), "{page}");
    app.store_fresh_ticket().await;
    let run = wxcomponent::store::RefresherRun {
        finished_at: app.now(),
        due: 3,
        refreshed: 2,
        failed: 1,
        failed_by_errcode: [("40001".to_owned(), 1)].into_iter().collect(),
        ..Default::default()
    };
    app.store
        .put_refresher_run(&app.component, &run)
        .await
        .unwrap();
    let event = wxcomponent::events::ProductEvent::new(
        &app.component,
        wxcomponent::events::DetailType::ALL[0],
        "k",
        app.now(),
    );
    app.store
        .note_recent_events(
            &app.component,
            &[wxcomponent::store::RecentEvent::from(&event)],
        )
        .await
        .unwrap();
    let page = body_of(&operator.get("/console/overview").await);
    assert!(page.contains("<code>40001</code>: 1"), "{page}");
    assert!(
        page.contains(wxcomponent::events::DetailType::ALL[0].as_str()),
        "{page}"
    );
    assert!(!page.contains("还没有运行记录"), "{page}");
}
