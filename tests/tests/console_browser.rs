//! The console in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (`chromedriver`, started here on a loopback port) against the console's real router on
//! loopback, DynamoDB Local and the simulator. An operator signs in, sees a merchant that
//! authorized through the simulator, opens its detail page, creates an authorization link and sees
//! its QR code, starts a release over three simulated mini programs and watches it reach `done`,
//! signs out and is refused. No page shows a token, a refresh token, a secret or an auth code.
//!
//! Screenshots of the main pages are written to `target/console-screenshots/`; with
//! `UPDATE_SCREENSHOTS=1` also to `docs/console/` (the README shows one).
//!
//! Without Chromium and chromedriver the test says so and passes, unless `WXC_REQUIRE_BROWSER=1`
//! (set by `make test`, which installs them) makes their absence a failure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use console::Console;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use wxcomponent::store::AuthorizerStore;
use wxcomponent_tests::fleet::Fleet;
use wxcomponent_tests::operator::{CONSOLE_KEY, SIGNING_SECRET, console_settings};
use wxcomponent_tests::sim::PushTargets;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempdir::Dir,
}

mod tempdir {
    /// A folder removed when dropped.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).expect("a temporary folder");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// chromedriver on a free loopback port, or `None` when the browser is not installed.
async fn start_driver() -> Option<Driver> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        let required = std::env::var("WXC_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{CHROMIUM} and {CHROMEDRIVER} are required (Debian's chromium and chromium-driver)"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is missing (make test installs them)");
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver {
        child,
        url,
        _profile: tempdir::Dir::new("wxc-chromium"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

/// Headless Chromium, as this machine runs it: no sandbox (root), no GPU, and none of the
/// background connections a closed network refuses; Chinese first, as a merchant's operator.
async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--window-size=1280,960",
                "--lang=zh-CN",
                format!("--user-data-dir={}", driver._profile.0.display()),
            ],
            "prefs": {"intl.accept_languages": "zh-CN,zh"},
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// The console's real router on a loopback port, with the connection's address.
async fn serve_console(console: Console) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let router = console.router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serving the console");
    });
    format!("http://{addr}")
}

struct Shots {
    dirs: Vec<PathBuf>,
}

impl Shots {
    fn new() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let mut dirs = vec![target.join("console-screenshots")];
        if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            dirs.push(root.join("docs").join("console"));
        }
        for dir in &dirs {
            std::fs::create_dir_all(dir).expect("a screenshot folder");
        }
        Self { dirs }
    }

    async fn take(&self, browser: &Client, name: &str) {
        let png = browser.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        for dir in &self.dirs {
            std::fs::write(dir.join(format!("{name}.png")), &png).expect("writing a screenshot");
        }
    }
}

/// Every page's source, to check for secrets at the end.
struct Seen {
    pages: Vec<(String, String)>,
}

impl Seen {
    async fn look(&mut self, browser: &Client) -> String {
        let url = browser.current_url().await.expect("a URL").to_string();
        let source = browser.source().await.expect("the page");
        self.pages.push((url, source.clone()));
        source
    }
}

async fn click(browser: &Client, locator: Locator<'_>) {
    browser
        .find(locator)
        .await
        .expect("the element")
        .click()
        .await
        .expect("a click");
}

/// Follows the navigation bar's link to `page`.
async fn open_from_nav(browser: &Client, page: &str) {
    click(browser, Locator::Css(&format!("nav a[href$='{page}']"))).await;
    wait_for_path(browser, &format!("/console/{page}")).await;
}

async fn wait_for_path(browser: &Client, suffix: &str) {
    wait_for(browser, suffix, |path| path.ends_with(suffix)).await;
}

async fn wait_for_path_containing(browser: &Client, part: &str) {
    wait_for(browser, part, |path| path.contains(part)).await;
}

async fn wait_for(browser: &Client, what: &str, arrived: impl Fn(&str) -> bool) {
    for _ in 0..100 {
        let url = browser.current_url().await.expect("a URL");
        if arrived(url.path()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the browser did not reach …{what}; it is on {}",
        browser.current_url().await.expect("a URL")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_runs_the_fleet_from_the_console_in_a_real_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let fleet = Fleet::spawn().await;
    // A merchant authorizes through the simulator: WeChat's `authorized` push to the
    // ticket-callback, which exchanges the code and stores the account.
    fleet.app.sim.set_push_targets(PushTargets {
        authorization_event_url: Some(format!("{}/wechat/component", fleet.callback_base)),
        message_url: Some(format!("{}/wechat/message/$APPID$", fleet.callback_base)),
    });
    let merchant = wxcomponent_tests::app::random_appid();
    let push = fleet
        .app
        .sim
        .push_authorized(&merchant)
        .await
        .expect("the authorized push");
    assert_eq!(push.reply.status, 200, "{:?}", push.reply);
    let merchant_id = wxcomponent::AuthorizerAppId::parse(merchant.as_str()).unwrap();
    let stored = fleet
        .app
        .store
        .authorizer(&fleet.app.component, &merchant_id)
        .await
        .unwrap()
        .expect("the merchant is stored");
    let cohort = fleet.mini_programs(3).await;

    let base = serve_console(Console::new(
        fleet.app.application().clone(),
        console_settings(),
    ))
    .await;
    let browser = browser(&driver).await;
    let shots = Shots::new();
    let mut seen = Seen { pages: Vec::new() };

    // Sign in.
    browser.goto(&format!("{base}/console/")).await.unwrap();
    let form = seen.look(&browser).await;
    assert!(form.contains("运营密钥"), "the form speaks Chinese: {form}");
    shots.take(&browser, "sign-in").await;
    browser
        .find(Locator::Id("key"))
        .await
        .unwrap()
        .send_keys(CONSOLE_KEY)
        .await
        .unwrap();
    click(&browser, Locator::Id("sign-in")).await;
    wait_for_path(&browser, "/console/authorizers").await;
    let list = seen.look(&browser).await;
    assert!(
        list.contains(&format!(r#"data-appid="{merchant}""#)),
        "the merchant authorized through the simulator is listed: {list}"
    );
    shots.take(&browser, "authorizers").await;

    // Its detail page.
    click(
        &browser,
        Locator::Css(&format!(r#"tr[data-appid="{merchant}"] a"#)),
    )
    .await;
    wait_for_path(&browser, &format!("/console/authorizers/{merchant}")).await;
    let detail = seen.look(&browser).await;
    assert!(detail.contains(r#"id="profile""#), "{detail}");
    assert!(detail.contains(&merchant), "{detail}");
    shots.take(&browser, "authorizer").await;

    // An authorization link and its QR code.
    open_from_nav(&browser, "links").await;
    browser
        .find(Locator::Id("auth_type"))
        .await
        .unwrap()
        .select_by_value("2")
        .await
        .unwrap();
    click(&browser, Locator::Id("create-links")).await;
    let qr = browser
        .wait()
        .for_element(Locator::Css("#mobile-qr svg"))
        .await
        .expect("the mobile link's QR code");
    assert!(
        qr.html(false).await.unwrap().contains("<path"),
        "a drawn QR code"
    );
    let links = seen.look(&browser).await;
    assert!(links.contains("device=mobile"), "{links}");
    shots.take(&browser, "links").await;

    // A release over three simulated mini programs.
    open_from_nav(&browser, "releases").await;
    seen.look(&browser).await;
    browser
        .find(Locator::Id("template_id"))
        .await
        .unwrap()
        .select_by_value(&fleet.template_id.to_string())
        .await
        .unwrap();
    for (id, value) in [
        ("user_version", "2.0.0".to_owned()),
        ("user_desc", "spring menu".to_owned()),
        (
            "appids",
            cohort
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("ext_json", r#"{"extAppid": "{{appid}}"}"#.to_owned()),
    ] {
        browser
            .find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(&value)
            .await
            .unwrap();
    }
    shots.take(&browser, "releases").await;
    click(&browser, Locator::Id("start-campaign")).await;
    wait_for_path_containing(&browser, "/console/campaigns/").await;
    let state = browser
        .find(Locator::Id("state"))
        .await
        .expect("the campaign's page");
    assert_eq!(
        state.attr("data-state").await.unwrap().as_deref(),
        Some("running")
    );
    let campaign_url = browser.current_url().await.unwrap();
    seen.look(&browser).await;

    // The worker runs (the privacy checks, the audits and the releases, as the sim decides
    // them); the operator reloads and sees the release done.
    fleet.one_round().await;
    browser.goto(campaign_url.as_str()).await.unwrap();
    let state = browser.find(Locator::Id("state")).await.unwrap();
    assert_eq!(
        state.attr("data-state").await.unwrap().as_deref(),
        Some("done"),
        "{}",
        browser.source().await.unwrap()
    );
    let page = seen.look(&browser).await;
    assert!(
        page.contains(r#"<td data-state="released">3</td>"#),
        "{page}"
    );
    shots.take(&browser, "campaign").await;

    // The list shows each released app's version and audit.
    open_from_nav(&browser, "authorizers").await;
    let row = browser
        .find(Locator::Css(&format!(
            r#"tr[data-appid="{}"] td.audit"#,
            cohort[0]
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.starts_with("2.0.0 · 审核通过"), "{row}");
    seen.look(&browser).await;

    // The overview, after a ticket push and a run of the refresher.
    fleet.app.store_fresh_ticket().await;
    let run = wxcomponent_tests::refresh::refresher(&fleet.app, |_| {})
        .refresh_due(std::time::Instant::now() + Duration::from_secs(30), 4)
        .await;
    open_from_nav(&browser, "overview").await;
    let overview = seen.look(&browser).await;
    assert!(overview.contains("授权方（按状态）"), "{overview}");
    assert!(
        overview.contains(&format!("<td>{}</td><td>{}</td>", run.due, run.refreshed)),
        "the refresher's run: {overview}"
    );
    assert!(overview.contains("正常"), "a fresh ticket: {overview}");
    shots.take(&browser, "overview").await;

    // Sign out, and be refused.
    click(&browser, Locator::Id("sign-out")).await;
    browser
        .wait()
        .for_element(Locator::Id("key"))
        .await
        .expect("the sign-in form");
    let out = seen.look(&browser).await;
    assert!(out.contains("您已退出登录"), "{out}");
    browser.goto(campaign_url.as_str()).await.unwrap();
    wait_for_path(&browser, "/console/").await;
    browser
        .find(Locator::Id("key"))
        .await
        .expect("refused: the sign-in form");
    seen.look(&browser).await;

    browser.close().await.unwrap();

    let refreshed = fleet
        .app
        .store
        .authorizer(&fleet.app.component, &merchant_id)
        .await
        .unwrap()
        .unwrap();
    for (url, source) in &seen.pages {
        for secret in [
            stored.access_token.value.expose(),
            stored.refresh_token.expose(),
            refreshed.access_token.value.expose(),
            refreshed.refresh_token.expose(),
            push.auth_code.as_str(),
            CONSOLE_KEY,
            SIGNING_SECRET,
        ] {
            assert!(
                !secret.is_empty() && !source.contains(secret),
                "{url} shows a secret"
            );
        }
    }
}
