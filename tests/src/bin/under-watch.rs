//! `under-watch`: functions end to end through `cargo lambda watch` itself, the way a developer runs
//! them locally. `scripts/test.sh` runs it after `cargo test` (a `cargo test` holds the target
//! folder's lock while its tests run, and `cargo lambda watch` builds through cargo, so it cannot
//! run inside one). Five scenarios, each on its own `wechat-sim` (the binary next to this one), its
//! own table of `template.yaml` (created by `dev-table` in the DynamoDB Local of
//! `AWS_ENDPOINT_URL_DYNAMODB`) and its own `cargo lambda watch` (from `PATH`) on a free port:
//!
//! - **refresher**: one authorizer whose token is due; `token-refresher` invoked twice at once
//!   while WeChat answers the refresh slowly, so the two runs overlap. The token is refreshed and
//!   stored, with exactly one `api_authorizer_token` call between the two runs.
//! - **campaign**: three merchants authorize (wechat-sim pushes the authorizations to
//!   `ticket-callback`), a campaign is created through `api`, and `campaign-worker` is invoked
//!   twice at once, round after round, while wechat-sim runs its privacy checks and audits and
//!   pushes the results to `ticket-callback`. The campaign reaches `done` with every app
//!   released, after exactly one `commit`, one `submit_audit` and one `release` per app.
//! - **events**: the functions publish on a loopback EventBridge (this process's fake bus, through
//!   `AWS_ENDPOINT_URL_EVENTBRIDGE`). A merchant authorizes while the bus refuses; the next
//!   `token-refresher` run publishes `Authorizer Authorized`. An audit result and a revocation are
//!   pushed while it accepts: `Audit Succeeded` and `Authorizer Unauthorized` arrive at once. Each
//!   event arrives once, with its own id.
//! - **official-accounts**: an official account authorizes; a user's web authorization runs
//!   through `auth-redirect`'s `/oauth` routes and wechat-sim's page, with the state cookie, and
//!   ends at the provider's page (the sim's stand-in) with a result that verifies; the provider
//!   reads the profile and two concurrent `wx.config` signatures from `api`, for one `getticket`.
//!
//! - **console**: a merchant authorizes; an operator signs in to `console` (the form's token and
//!   cookie, then the session cookie, carried by hand), follows the answers' relative links under
//!   watch's `/lambda-url/console` prefix to the authorizers, where the merchant is listed,
//!   creates an authorization link that opens `auth-redirect`'s launch page, signs out and is
//!   refused.
//!
//! Exits non-zero on any failure; watch's output is kept in `target/under-watch-<scenario>.log`.
//! Build the workspace's binaries first (`cargo build --workspace --bins`), so that watch's first
//! requests do not wait for a build. One scenario alone: `under-watch refresher`,
//! `under-watch campaign`, `under-watch events`, `under-watch official-accounts` or
//! `under-watch console`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxcomponent::store::{AuthorizationGrant, AuthorizerStore, DynamoStore, ExpiringToken, Ticket};
use wxcomponent::store::{AuthorizerStatus, TicketStore, dynamodb_client};
use wxcomponent::{AuthorizerAppId, Clock, ComponentAppId, Secret, SystemClock};
use wxcomponent_tests::app::random_appid;
use wxcomponent_tests::fake_bus::{BusMode, FakeBus};

const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
/// How long WeChat takes to answer the refresh: the second invocation starts while the first waits.
const REFRESH_LATENCY_MS: u64 = 1500;
/// The first invocation starts the function (`cargo run` of a prebuilt binary); generous for a
/// loaded machine.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(180);
/// The push credentials the sim signs and encrypts with and the functions check.
const MESSAGE_TOKEN: &str = "watch-message-token";
const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
/// The API key of the campaign scenario, and its SHA-256 as `API_KEY_SHA256` carries it.
const API_KEY: &str = "under-watch-api-key";
/// `AUTH_SIGNING_SECRET` of every scenario's `auth-redirect`.
const SIGNING_SECRET: &str = "under-watch-signing-secret-0123456789";
const API_KEY_SHA256: &str = "5a449f7c260d2e0253df830daf0233bb6f4c136c98df86170f599f4d5c0b3eb9";
/// The campaign scenario's WeChat: a privacy check of 2 s, audits decided 3 s after submission.
const PRIVACY_CHECK_DELAY_SECS: &str = "2";
const AUDIT_DELAY_SECS: &str = "3";
/// How long the campaign may take: the worker asks about a privacy check every 30 s.
const CAMPAIGN_BUDGET: Duration = Duration::from_secs(240);

/// A child process that is stopped, with everything it started, when dropped.
struct Started {
    name: &'static str,
    child: Child,
}

impl Started {
    fn spawn(name: &'static str, command: &mut Command) -> Result<Self, String> {
        use std::os::unix::process::CommandExt;
        // Its own process group, so that `cargo lambda watch`'s function processes stop with it.
        let child = command
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { name, child })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
            for _ in 0..20 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        eprintln!("under-watch: {} did not stop", self.name);
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let path = exe.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --workspace --bins` first",
            path.display()
        ))
    }
}

fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

fn random_suffix(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_owned()
}

/// One scenario's WeChat, table and `cargo lambda watch`.
struct Stack {
    component: ComponentAppId,
    sim_url: String,
    store: DynamoStore,
    /// `http://127.0.0.1:<port>`, watch's address.
    watch_url: String,
    _sim: Started,
    _watch: Started,
}

impl Stack {
    /// Starts wechat-sim (with `sim_args`), creates a table, stores a fresh ticket and starts
    /// `cargo lambda watch` with the functions' environment and `env`, its output in `log`.
    async fn start(
        workspace: &Path,
        log: &Path,
        sim_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let appid_component = format!("wx{}", random_suffix(16));
        let secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let ticket = format!("ticket@@@{}", uuid::Uuid::new_v4().simple());
        let table = format!("wxc-watch-{}", random_suffix(12));

        // WeChat.
        let mut sim = Started::spawn(
            "wechat-sim",
            Command::new(sibling("wechat-sim")?)
                .args(["--port", "0", "--appid", &appid_component])
                .args(["--secret", &secret, "--ticket", &ticket])
                .args(["--token", MESSAGE_TOKEN, "--aes-key", ENCODING_AES_KEY])
                .args(sim_args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )?;
        let stdout = sim.child.stdout.take().ok_or("no wechat-sim output")?;
        let mut first_line = String::new();
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .map_err(|e| format!("reading wechat-sim's output: {e}"))?;
        let sim_url = first_line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("wechat-sim said {first_line:?}"))?
            .trim_end_matches('/')
            .to_owned();
        println!("wechat-sim on {sim_url}");

        // The table, as `make dev` creates it.
        let status = Command::new(sibling("dev-table")?)
            .args(["--name", &table, "--template"])
            .arg(workspace.join("template.yaml"))
            .status()
            .map_err(|e| format!("cannot run dev-table: {e}"))?;
        check(status.success(), || format!("dev-table failed: {status}"))?;

        let component = ComponentAppId::parse(&appid_component).map_err(|e| e.to_string())?;
        let sdk = wxcomponent::tls::sdk_config(None).await;
        let store = DynamoStore::new(dynamodb_client(&sdk), table.clone(), Arc::new(SystemClock));
        store
            .put_ticket(
                &component,
                &Ticket {
                    value: Secret::new(ticket.clone()),
                    received_at: SystemClock.now(),
                },
            )
            .await
            .map_err(|e| format!("storing the ticket: {e}"))?;

        // `cargo lambda watch`, as a developer starts it, with the functions' environment (the
        // authorization pages' as `make dev` sets them: WeChat's pages are the sim's, and web
        // authorization may return to the sim's stand-in for the provider's page).
        let port = free_port()?;
        let lambda_url = format!("http://127.0.0.1:{port}/lambda-url");
        let sim_host = sim_url.trim_start_matches("http://").to_owned();
        let out = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot share the log file: {e}"))?;
        let watch = Started::spawn(
            "cargo lambda watch",
            Command::new("cargo")
                .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
                .args(["--invoke-port", &port.to_string(), "--concurrency", "2"])
                .current_dir(workspace)
                .env("WECHAT_COMPONENT_APPID", &appid_component)
                .env("WECHAT_COMPONENT_SECRET", &secret)
                .env("WECHAT_TOKEN", MESSAGE_TOKEN)
                .env("WECHAT_ENCODING_AES_KEY", ENCODING_AES_KEY)
                .env("WECHAT_API_BASE_URL", &sim_url)
                .env("TABLE_NAME", &table)
                .env("WECHAT_AUTH_PAGE_BASE_URL", &sim_url)
                .env("WECHAT_MOBILE_AUTH_PAGE_BASE_URL", &sim_url)
                .env(
                    "AUTH_CALLBACK_URL",
                    format!("{lambda_url}/auth-redirect/auth/callback"),
                )
                .env("OAUTH_REDIRECT_HOSTS", &sim_host)
                .env("AUTH_SIGNING_SECRET", SIGNING_SECRET)
                .env("RUST_LOG", "info")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err),
        )?;
        wait_for_port(port).await?;
        println!("cargo lambda watch on 127.0.0.1:{port}");
        Ok(Self {
            component,
            sim_url,
            store,
            watch_url: format!("http://127.0.0.1:{port}"),
            _sim: sim,
            _watch: watch,
        })
    }

    fn invocations(&self, function: &str) -> String {
        format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.watch_url
        )
    }

    fn lambda_url(&self, function: &str, path: &str) -> String {
        format!("{}/lambda-url/{function}{path}", self.watch_url)
    }

    /// Starts `ticket-callback` (its first request waits for its process, and WeChat waits only
    /// 5 s for a push) and points WeChat's pushes at it, as its console would.
    async fn push_to_ticket_callback(&self, http: &Http) -> Result<(), String> {
        let _ = http
            .0
            .get(self.lambda_url("ticket-callback", "/"))
            .timeout(INVOKE_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("starting ticket-callback: {e}"))?;
        http.put(
            &format!("{}/__sim/push-targets", self.sim_url),
            &json!({
                "authorization_event_url": self.lambda_url("ticket-callback", "/wechat/component"),
                "message_url": self.lambda_url("ticket-callback", "/wechat/message/$APPID$"),
            }),
        )
        .await?;
        Ok(())
    }
}

async fn wait_for_port(port: u16) -> Result<(), String> {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "cargo lambda watch did not listen on {port} within 60 s"
    ))
}

/// JSON over HTTP, every failure a message.
struct Http(reqwest::Client);

impl Http {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, String> {
        let response = request
            .timeout(INVOKE_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{what}: {e}"))?;
        check(status.is_success(), || format!("{what}: {status} {text}"))?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{what}: {e}: {text}"))
    }

    async fn post(&self, url: &str, body: &Value) -> Result<Value, String> {
        self.send(self.0.post(url).json(body), &format!("POST {url}"))
            .await
    }

    async fn put(&self, url: &str, body: &Value) -> Result<Value, String> {
        self.send(self.0.put(url).json(body), &format!("PUT {url}"))
            .await
    }

    async fn get(&self, url: &str) -> Result<Value, String> {
        self.send(self.0.get(url), &format!("GET {url}")).await
    }

    /// The provider API, with its bearer key.
    async fn api(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut request = self.0.request(method.clone(), url).bearer_auth(API_KEY);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request, &format!("{method} {url}")).await
    }

    /// Invokes a function as its schedule does.
    async fn invoke(&self, url: &str) -> Result<Value, String> {
        self.send(self.0.post(url).body("{}"), &format!("invoking {url}"))
            .await
    }
}

/// The token refresher: two overlapping runs refresh a due token once.
async fn refresher(workspace: &Path, log: &Path, http: &Http) -> Result<(), String> {
    let stack = Stack::start(workspace, log, &[], &[]).await?;
    let now = SystemClock.now();
    let appid = random_appid();
    let grant = http
        .post(
            &format!("{}/__sim/authorizers", stack.sim_url),
            &json!({ "authorizer_appid": appid }),
        )
        .await?;
    let seeded_access_token = grant["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let authorizer = AuthorizerAppId::parse(&appid).map_err(|e| e.to_string())?;
    // An access token expiring within the refresher's margin.
    stack
        .store
        .record_authorization(
            &stack.component,
            &AuthorizationGrant {
                appid: authorizer.clone(),
                access_token: ExpiringToken {
                    value: Secret::new(seeded_access_token.clone()),
                    expires_at: now + 60,
                },
                refresh_token: Secret::new(grant["refresh_token"].as_str().unwrap_or_default()),
                func_info: vec![1],
                account: None,
            },
        )
        .await
        .map_err(|e| format!("storing the authorizer: {e}"))?;
    http.post(
        &format!("{}/__sim/faults", stack.sim_url),
        &json!({
            "path": AUTHORIZER_TOKEN,
            "fault": { "kind": "latency", "ms": REFRESH_LATENCY_MS },
        }),
    )
    .await?;

    // Two invocations at once, as two overlapping schedules would.
    let url = stack.invocations("token-refresher");
    let started = Instant::now();
    let (a, b) = tokio::join!(http.invoke(&url), http.invoke(&url));
    let (a, b) = (a?, b?);
    println!(
        "two invocations answered in {:.1} s:\n  {a}\n  {b}",
        started.elapsed().as_secs_f64()
    );

    let refreshed = |s: &Value| s["refreshed"].as_u64().unwrap_or(0);
    let failed = |s: &Value| s["failed"].as_u64().unwrap_or(0);
    check(refreshed(&a) + refreshed(&b) == 1, || {
        format!("expected one refresh between the two runs: {a} {b}")
    })?;
    check(failed(&a) + failed(&b) == 0, || {
        format!("a run failed: {a} {b}")
    })?;
    let calls = http.get(&format!("{}/__sim/calls", stack.sim_url)).await?;
    let refresh_calls = calls
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| c["path"] == AUTHORIZER_TOKEN && c["body"]["authorizer_appid"] == appid)
        .count();
    check(refresh_calls == 1, || {
        format!("expected exactly one api_authorizer_token call, the sim recorded {refresh_calls}")
    })?;
    let stored = stack
        .store
        .authorizer(&stack.component, &authorizer)
        .await
        .map_err(|e| format!("reading the authorizer: {e}"))?
        .ok_or("the authorizer is gone")?;
    check(
        stored.access_token.value.expose() != seeded_access_token,
        || "the stored access token is still the seeded one".to_owned(),
    )?;
    check(stored.access_token.expires_at > now + 3600, || {
        format!(
            "the stored token expires at {}, not about two hours from now ({now})",
            stored.access_token.expires_at
        )
    })?;
    println!(
        "ok: the due token was refreshed once (one api_authorizer_token call) and stored, \
         expiring in {} s",
        stored.access_token.expires_at - now
    );
    Ok(())
}

/// A release campaign over three merchants, from their authorization pushes to `done`.
async fn campaign(workspace: &Path, log: &Path, http: &Http) -> Result<(), String> {
    let stack = Stack::start(
        workspace,
        log,
        &[
            "--privacy-check-delay",
            PRIVACY_CHECK_DELAY_SECS,
            "--audit-delay",
            AUDIT_DELAY_SECS,
        ],
        &[("API_KEY_SHA256", API_KEY_SHA256)],
    )
    .await?;
    let sim = &stack.sim_url;
    let started = Instant::now();

    // Start the three functions before WeChat pushes to them (a push is answered within 5 s, and
    // a function's first request waits for its process to start).
    http.invoke(&stack.invocations("campaign-worker")).await?;
    http.api(
        reqwest::Method::GET,
        &stack.lambda_url("api", "/health"),
        None,
    )
    .await?;
    stack.push_to_ticket_callback(http).await?;
    let appids: Vec<String> = (0..3).map(|_| random_appid()).collect();
    for appid in &appids {
        let pushed = http
            .post(
                &format!("{sim}/__sim/push/authorized"),
                &json!({ "authorizer_appid": appid }),
            )
            .await?;
        check(pushed["reply"]["status"] == 200, || {
            format!("the authorization push for {appid} was answered {pushed}")
        })?;
    }
    for appid in &appids {
        let id = AuthorizerAppId::parse(appid).map_err(|e| e.to_string())?;
        let stored = stack
            .store
            .authorizer(&stack.component, &id)
            .await
            .map_err(|e| format!("reading {appid}: {e}"))?;
        check(
            stored.is_some_and(|a| a.status == AuthorizerStatus::Authorized),
            || format!("{appid} is not stored as authorized after its push"),
        )?;
    }
    println!("three merchants authorized through ticket-callback");

    let created = http
        .api(
            reqwest::Method::POST,
            &stack.lambda_url("api", "/campaigns"),
            Some(&json!({
                "template_id": 3,
                "user_version": "1.0.1",
                "user_desc": "release under watch",
                "ext_json": { "extAppid": "{{appid}}" },
                "appids": appids,
            })),
        )
        .await?;
    let id = created["id"]
        .as_str()
        .ok_or_else(|| format!("the created campaign has no id: {created}"))?
        .to_owned();
    println!("campaign {id} created through api");

    // Two workers at once, round after round, as overlapping schedules would.
    let worker = stack.invocations("campaign-worker");
    let campaign_url = stack.lambda_url("api", &format!("/campaigns/{id}"));
    let mut rounds = 0;
    let view = loop {
        rounds += 1;
        let (a, b) = tokio::join!(http.invoke(&worker), http.invoke(&worker));
        let (a, b) = (a?, b?);
        for summary in [&a, &b] {
            check(summary["store_errors"] == 0 && summary["lost"] == 0, || {
                format!("a worker run reported trouble: {summary}")
            })?;
        }
        let view = http.api(reqwest::Method::GET, &campaign_url, None).await?;
        if view["state"] == "done" {
            break view;
        }
        check(started.elapsed() < CAMPAIGN_BUDGET, || {
            format!("the campaign is not done after {CAMPAIGN_BUDGET:?}: {view}")
        })?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    check(view["counts"]["released"] == 3, || {
        format!("not every app was released: {view}")
    })?;
    for appid in &appids {
        for path in ["/wxa/commit", "/wxa/submit_audit", "/wxa/release"] {
            let count = http
                .get(&format!("{sim}/__sim/call-count?path={path}&appid={appid}"))
                .await?;
            check(count["count"] == 1, || {
                format!("{appid}: expected exactly one {path}, the sim recorded {count}")
            })?;
        }
        let code = http.get(&format!("{sim}/__sim/code/{appid}")).await?;
        check(code["released_version"] == "1.0.1", || {
            format!("{appid} did not release 1.0.1: {code}")
        })?;
        check(
            code["committed"]["ext_json"]["extAppid"] == appid.as_str(),
            || format!("{appid}'s ext_json was not rendered for it: {code}"),
        )?;
    }
    println!(
        "ok: the campaign reached done in {rounds} rounds of two workers, {:.1} s; one commit, one \
         submit_audit and one release per app",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The product's events on a loopback bus, through the functions under watch.
async fn events(workspace: &Path, log: &Path, http: &Http) -> Result<(), String> {
    let bus = FakeBus::start()
        .await
        .map_err(|e| format!("cannot start the fake bus: {e}"))?;
    let endpoint = bus.endpoint_url();
    let stack = Stack::start(
        workspace,
        log,
        &[],
        &[
            ("EVENT_BUS_NAME", "wxc-under-watch"),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", endpoint.as_str()),
        ],
    )
    .await?;
    let sim = &stack.sim_url;
    // Start the functions before WeChat pushes to them.
    http.invoke(&stack.invocations("token-refresher")).await?;
    stack.push_to_ticket_callback(http).await?;
    let appid = random_appid();
    let of = |detail_type: &str| {
        bus.accepted_of(detail_type)
            .into_iter()
            .filter(|e| e.detail["authorizer_appid"] == appid.as_str())
            .count()
    };

    // The bus refuses while the merchant authorizes: the push is answered all the same.
    bus.set_mode(BusMode::Refuse);
    let pushed = http
        .post(
            &format!("{sim}/__sim/push/authorized"),
            &json!({ "authorizer_appid": appid }),
        )
        .await?;
    check(pushed["reply"]["status"] == 200, || {
        format!("the authorization push was answered {pushed}")
    })?;
    check(bus.requests() > 0 && bus.accepted().is_empty(), || {
        format!(
            "expected a refused publication, the bus saw {} requests and took {}",
            bus.requests(),
            bus.accepted().len()
        )
    })?;
    println!("authorized while the bus refused: nothing published yet");

    // The bus is back: the scheduled refresher publishes what waited.
    bus.set_mode(BusMode::Accept);
    let run = http.invoke(&stack.invocations("token-refresher")).await?;
    check(of("Authorizer Authorized") == 1, || {
        format!("the refresher's run did not publish the authorization once: {run}")
    })?;
    println!("the refresher's run published it: {}", run["events"]);

    // An audit result and a revocation, published at once.
    let pushed = http
        .post(
            &format!("{sim}/__sim/push/event"),
            &json!({
                "authorizer_appid": appid,
                "event": "weapp_audit_success",
                "fields": { "SuccTime": SystemClock.now().to_string() },
            }),
        )
        .await?;
    check(pushed["reply"]["status"] == 200, || {
        format!("the audit push was answered {pushed}")
    })?;
    check(of("Audit Succeeded") == 1, || {
        "the audit result was not published once".to_owned()
    })?;
    let pushed = http
        .post(
            &format!("{sim}/__sim/push/unauthorized"),
            &json!({ "authorizer_appid": appid }),
        )
        .await?;
    check(pushed["reply"]["status"] == 200, || {
        format!("the revocation push was answered {pushed}")
    })?;
    check(of("Authorizer Unauthorized") == 1, || {
        "the revocation was not published once".to_owned()
    })?;

    // Another run publishes nothing again, and no id came twice.
    http.invoke(&stack.invocations("token-refresher")).await?;
    let accepted = bus.accepted();
    let mut ids: Vec<String> = accepted
        .iter()
        .map(|e| e.detail["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    check(ids.len() == accepted.len(), || {
        format!("an event id arrived twice: {accepted:?}")
    })?;
    check(
        of("Authorizer Authorized") == 1
            && of("Audit Succeeded") == 1
            && of("Authorizer Unauthorized") == 1,
        || format!("an event arrived more than once: {accepted:?}"),
    )?;
    println!(
        "ok: Authorizer Authorized (after a refusal), Audit Succeeded and Authorizer Unauthorized \
         each arrived once, {} events in all",
        accepted.len()
    );
    Ok(())
}

/// A response's header, or a message naming what was expected.
/// A browser that follows no redirect (the scenarios follow them by hand, cookies and all).
fn browser() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(INVOKE_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())
}

fn header_of(response: &reqwest::Response, name: &str, what: &str) -> Result<String, String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("{what}: no {name} header (status {})", response.status()))
}

/// An official account: a user's web authorization through `/oauth`, the profile and `wx.config`.
async fn official_accounts(workspace: &Path, log: &Path, http: &Http) -> Result<(), String> {
    let stack = Stack::start(workspace, log, &[], &[("API_KEY_SHA256", API_KEY_SHA256)]).await?;
    let sim = &stack.sim_url;
    // Start the functions before WeChat pushes to them.
    http.api(
        reqwest::Method::GET,
        &stack.lambda_url("api", "/health"),
        None,
    )
    .await?;
    stack.push_to_ticket_callback(http).await?;
    let appid = random_appid();
    let pushed = http
        .post(
            &format!("{sim}/__sim/push/authorized"),
            &json!({ "authorizer_appid": appid, "official_account": true }),
        )
        .await?;
    check(pushed["reply"]["status"] == 200, || {
        format!("the authorization push was answered {pushed}")
    })?;

    // The browser: no redirects followed, the state cookie carried by hand.
    let browser = browser()?;
    let landing = format!("{sim}/__sim/landing");
    let start = browser
        .get(stack.lambda_url("auth-redirect", &format!("/oauth/{appid}/authorize")))
        .query(&[
            ("redirect_uri", landing.as_str()),
            ("scope", "snsapi_userinfo"),
            ("state", "watch-1"),
        ])
        .send()
        .await
        .map_err(|e| format!("starting the web authorization: {e}"))?;
    check(start.status() == 302, || {
        format!("/oauth/{{appid}}/authorize answered {}", start.status())
    })?;
    let cookie = header_of(&start, "set-cookie", "the start")?;
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let wechat_page = header_of(&start, "location", "the start")?;
    let back = browser
        .get(&wechat_page)
        .send()
        .await
        .map_err(|e| format!("WeChat's page: {e}"))?;
    let callback = header_of(&back, "location", "WeChat's page")?;
    let ours = stack.lambda_url("auth-redirect", "/oauth/callback?");
    check(callback.starts_with(&ours), || {
        format!("WeChat's page sent the browser to {callback}, not to {ours}")
    })?;
    let done = browser
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .map_err(|e| format!("the callback: {e}"))?;
    let result = header_of(&done, "location", "the callback")?;
    let result = url::Url::parse(&result).map_err(|e| format!("{result}: {e}"))?;
    check(result.as_str().starts_with(&landing), || {
        format!("the callback sent the browser to {result}")
    })?;
    let key = wxcomponent::service::SigningKey::new(Secret::new(SIGNING_SECRET))
        .map_err(|e| e.to_string())?;
    let verified = wxcomponent::service::verify_oauth_query(
        &key,
        result.query().unwrap_or_default(),
        SystemClock.now(),
        300,
    )
    .map_err(|e| format!("the result {result} does not verify: {e}"))?;
    check(verified.state.as_deref() == Some("watch-1"), || {
        format!("the provider's state came back as {:?}", verified.state)
    })?;
    println!(
        "web authorization ended at the provider's page with openid {}",
        verified.openid
    );

    // The provider reads the profile, and signs wx.config twice at once: one getticket.
    let profile = http
        .api(
            reqwest::Method::GET,
            &stack.lambda_url(
                "api",
                &format!("/authorizers/{appid}/web-users/{}", verified.openid),
            ),
            None,
        )
        .await?;
    check(profile["openid"] == verified.openid.as_str(), || {
        format!("the profile is {profile}")
    })?;
    let config_url = format!(
        "{}?url={}",
        stack.lambda_url("api", &format!("/authorizers/{appid}/jssdk-config")),
        url::form_urlencoded::byte_serialize(b"https://h5.example.com/page?x=1")
            .collect::<String>()
    );
    let (a, b) = tokio::join!(
        http.api(reqwest::Method::GET, &config_url, None),
        http.api(reqwest::Method::GET, &config_url, None)
    );
    let (a, b) = (a?, b?);
    for config in [&a, &b] {
        check(
            config["signature"].as_str().is_some_and(|s| s.len() == 40)
                && config["app_id"] == appid.as_str(),
            || format!("wx.config came back as {config}"),
        )?;
    }
    let tickets = http
        .get(&format!(
            "{sim}/__sim/call-count?path=/cgi-bin/ticket/getticket&appid={appid}"
        ))
        .await?;
    check(tickets["count"] == 1, || {
        format!(
            "two wx.config signatures cost {} getticket calls",
            tickets["count"]
        )
    })?;
    println!(
        "ok: the result verifies, the profile is readable, and two wx.config signatures cost one getticket"
    );
    Ok(())
}

/// The operators' key of the console scenario, and its SHA-256 as `CONSOLE_KEY_SHA256` carries it.
const CONSOLE_KEY: &str = "under-watch-console-key";
const CONSOLE_KEY_SHA256: &str = "8e889416b05ab6d377f45598def36cd84233c06805a95889c67455baecd6b664";

/// `name=value` of the cookie `name` a response sets.
fn set_cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

/// The value of the first hidden input named `name`.
fn hidden_input(page: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page.find(&marker)? + marker.len();
    Some(page[start..].split('"').next()?.to_owned())
}

async fn console(workspace: &Path, log: &Path, http: &Http) -> Result<(), String> {
    let stack = Stack::start(
        workspace,
        log,
        &[],
        &[("CONSOLE_KEY_SHA256", CONSOLE_KEY_SHA256)],
    )
    .await?;
    stack.push_to_ticket_callback(http).await?;
    let appid = random_appid();
    let pushed = http
        .post(
            &format!("{}/__sim/push/authorized", stack.sim_url),
            &json!({ "authorizer_appid": appid }),
        )
        .await?;
    check(pushed["reply"]["status"] == 200, || {
        format!("the authorization push was answered {pushed}")
    })?;

    let browser = browser()?;
    let get = |url: url::Url, cookie: String| {
        let request = browser.get(url.clone()).header("cookie", cookie);
        async move { request.send().await.map_err(|e| format!("GET {url}: {e}")) }
    };
    let form_url =
        url::Url::parse(&stack.lambda_url("console", "/console/")).map_err(|e| e.to_string())?;
    let form = get(form_url.clone(), String::new()).await?;
    check(form.status() == 200, || {
        format!("the sign-in form answered {}", form.status())
    })?;
    let nonce =
        set_cookie_of(&form, "wxc_console_signin").ok_or("the sign-in form set no cookie")?;
    let page = form.text().await.map_err(|e| e.to_string())?;
    let token = hidden_input(&page, "csrf").ok_or("the sign-in form has no token")?;
    let action = form_url.join("login").map_err(|e| e.to_string())?;
    let signed_in = browser
        .post(action.clone())
        .header("cookie", &nonce)
        .form(&[("key", CONSOLE_KEY), ("csrf", token.as_str())])
        .send()
        .await
        .map_err(|e| format!("POST {action}: {e}"))?;
    check(signed_in.status() == 303, || {
        format!("signing in answered {}", signed_in.status())
    })?;
    let session = set_cookie_of(&signed_in, "wxc_console").ok_or("no session cookie")?;
    let next = header_of(&signed_in, "location", "signing in")?;
    let list_url = action.join(&next).map_err(|e| e.to_string())?;
    check(
        list_url.path() == "/lambda-url/console/console/authorizers",
        || format!("signing in sent the browser to {list_url}"),
    )?;
    let list = get(list_url.clone(), session.clone()).await?;
    check(list.status() == 200, || {
        format!("the authorizers answered {}", list.status())
    })?;
    let list = list.text().await.map_err(|e| e.to_string())?;
    check(list.contains(&format!(r#"data-appid="{appid}""#)), || {
        format!("the merchant is not listed: {list}")
    })?;
    let csrf = hidden_input(&list, "csrf").ok_or("the page's forms carry no token")?;

    // A link for the merchant, which opens auth-redirect's launch page.
    let links_url = list_url
        .join("links?auth_type=3&create=1")
        .map_err(|e| e.to_string())?;
    let links = get(links_url, session.clone()).await?;
    let links = links.text().await.map_err(|e| e.to_string())?;
    let pc = links
        .split(r#"id="pc-link" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no PC link")?
        .replace("&#38;", "&");
    let launch = get(
        url::Url::parse(&pc).map_err(|e| format!("{pc}: {e}"))?,
        String::new(),
    )
    .await?;
    check(launch.status() == 200, || {
        format!("the PC link {pc} answered {}", launch.status())
    })?;
    check(links.contains("<svg"), || "no QR code".to_owned())?;

    // Signing out ends the session: its cookie is refused afterwards.
    let out = browser
        .post(list_url.join("logout").map_err(|e| e.to_string())?)
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .map_err(|e| format!("signing out: {e}"))?;
    check(out.status() == 303, || {
        format!("signing out answered {}", out.status())
    })?;
    let refused = get(list_url, session).await?;
    check(refused.status() == 303, || {
        format!("a signed-out session was answered {}", refused.status())
    })?;
    println!("ok: signed in under the watch prefix, saw the merchant, opened its link, signed out");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        eprintln!(
            "under-watch: AWS_ENDPOINT_URL_DYNAMODB is not set (source scripts/lib.sh && \
             start_dynamodb_local)"
        );
        return ExitCode::FAILURE;
    }
    let only = std::env::args().nth(1);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let logs = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(std::env::temp_dir);
    let http = Http(reqwest::Client::new());
    for name in [
        "refresher",
        "campaign",
        "events",
        "official-accounts",
        "console",
    ] {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let log = logs.join(format!("under-watch-{name}.log"));
        let started = Instant::now();
        println!("under-watch: {name}");
        let result = match name {
            "refresher" => refresher(&workspace, &log, &http).await,
            "campaign" => campaign(&workspace, &log, &http).await,
            "events" => events(&workspace, &log, &http).await,
            "console" => console(&workspace, &log, &http).await,
            _ => official_accounts(&workspace, &log, &http).await,
        };
        match result {
            Ok(()) => println!(
                "under-watch: {name} passed in {:.1} s",
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("under-watch: {name} FAILED: {e}");
                eprintln!("cargo lambda watch's output: {}", log.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
