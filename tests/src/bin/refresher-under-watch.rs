//! `refresher-under-watch`: the token refresher end to end through `cargo lambda watch` itself, the
//! way a developer runs it locally. `scripts/test.sh` runs it after `cargo test` (a `cargo test`
//! holds the target folder's lock while its tests run, and `cargo lambda watch` builds through
//! cargo, so it cannot run inside one).
//!
//! It starts `wechat-sim` (the binary next to this one), creates the table of `template.yaml` with
//! `dev-table` in the DynamoDB Local of `AWS_ENDPOINT_URL_DYNAMODB`, stores a ticket and one
//! authorizer whose token is due, and starts `cargo lambda watch` (from `PATH`) on a free port with
//! up to two instances. It then invokes `token-refresher` twice at once (WeChat answers the refresh
//! slowly, so the two runs overlap) and checks that the token was refreshed and stored, with
//! exactly one `api_authorizer_token` call between the two runs. Exits non-zero on any failure;
//! watch's own output is kept in `target/refresher-under-watch.log`. Build the workspace's
//! binaries first (`cargo build --workspace --bins`), so that watch's first request does not wait
//! for a build.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxcomponent::store::{AuthorizationGrant, AuthorizerStore, DynamoStore, ExpiringToken, Ticket};
use wxcomponent::store::{TicketStore, dynamodb_client};
use wxcomponent::{AuthorizerAppId, Clock, ComponentAppId, Secret, SystemClock};
use wxcomponent_tests::app::random_appid;

const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
/// How long WeChat takes to answer the refresh: the second invocation starts while the first waits.
const REFRESH_LATENCY_MS: u64 = 1500;
/// The first invocation starts the function (`cargo run` of a prebuilt binary); generous for a
/// loaded machine.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(180);

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
        eprintln!("refresher-under-watch: {} did not stop", self.name);
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

struct Scenario {
    workspace: PathBuf,
    log: PathBuf,
    http: reqwest::Client,
}

impl Scenario {
    async fn run(&self) -> Result<(), String> {
        let appid_component = format!("wx{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let ticket = format!("ticket@@@{}", uuid::Uuid::new_v4().simple());
        let table = format!(
            "wxc-watch-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );

        // WeChat.
        let mut sim = Started::spawn(
            "wechat-sim",
            Command::new(sibling("wechat-sim")?)
                .args([
                    "--port",
                    "0",
                    "--appid",
                    &appid_component,
                    "--secret",
                    &secret,
                ])
                .args(["--ticket", &ticket])
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
            .arg(self.workspace.join("template.yaml"))
            .status()
            .map_err(|e| format!("cannot run dev-table: {e}"))?;
        check(status.success(), || format!("dev-table failed: {status}"))?;

        // A fresh ticket, and one authorizer whose access token expires within the margin.
        let component = ComponentAppId::parse(&appid_component).map_err(|e| e.to_string())?;
        let sdk = wxcomponent::tls::sdk_config(None).await;
        let clock = Arc::new(SystemClock);
        let store = DynamoStore::new(dynamodb_client(&sdk), table.clone(), clock.clone());
        let now = clock.now();
        store
            .put_ticket(
                &component,
                &Ticket {
                    value: Secret::new(ticket.clone()),
                    received_at: now,
                },
            )
            .await
            .map_err(|e| format!("storing the ticket: {e}"))?;
        let appid = random_appid();
        let grant: Value = self
            .post(
                &format!("{sim_url}/__sim/authorizers"),
                &json!({ "authorizer_appid": appid }),
            )
            .await?;
        let seeded_access_token = grant["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let authorizer = AuthorizerAppId::parse(&appid).map_err(|e| e.to_string())?;
        store
            .record_authorization(
                &component,
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
        self.post_empty(
            &format!("{sim_url}/__sim/faults"),
            &json!({
                "path": AUTHORIZER_TOKEN,
                "fault": { "kind": "latency", "ms": REFRESH_LATENCY_MS },
            }),
        )
        .await?;

        // `cargo lambda watch`, as a developer starts it, with the function's environment.
        let port = free_port()?;
        let log = std::fs::File::create(&self.log)
            .map_err(|e| format!("cannot create {}: {e}", self.log.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot share the log file: {e}"))?;
        let _watch = Started::spawn(
            "cargo lambda watch",
            Command::new("cargo")
                .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
                .args(["--invoke-port", &port.to_string(), "--concurrency", "2"])
                .current_dir(&self.workspace)
                .env("WECHAT_COMPONENT_APPID", &appid_component)
                .env("WECHAT_COMPONENT_SECRET", &secret)
                .env("WECHAT_TOKEN", "watch-message-token")
                .env(
                    "WECHAT_ENCODING_AES_KEY",
                    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                )
                .env("WECHAT_API_BASE_URL", &sim_url)
                .env("TABLE_NAME", &table)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err),
        )?;
        self.wait_for_port(port).await?;
        println!("cargo lambda watch on 127.0.0.1:{port}");

        // Two invocations at once, as two overlapping schedules would.
        let url =
            format!("http://127.0.0.1:{port}/2015-03-31/functions/token-refresher/invocations");
        let started = Instant::now();
        let (a, b) = tokio::join!(self.invoke(&url), self.invoke(&url));
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
        let calls: Vec<Value> = self.get(&format!("{sim_url}/__sim/calls")).await?;
        let refresh_calls = calls
            .iter()
            .filter(|c| c["path"] == AUTHORIZER_TOKEN && c["body"]["authorizer_appid"] == appid)
            .count();
        check(refresh_calls == 1, || {
            format!(
                "expected exactly one api_authorizer_token call, the sim recorded {refresh_calls}"
            )
        })?;
        let stored = store
            .authorizer(&component, &authorizer)
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

    async fn post(&self, url: &str, body: &Value) -> Result<Value, String> {
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        check(status.is_success(), || {
            format!("POST {url}: {status} {text}")
        })?;
        serde_json::from_str(&text).map_err(|e| format!("POST {url}: {e}: {text}"))
    }

    async fn post_empty(&self, url: &str, body: &Value) -> Result<(), String> {
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        check(status.is_success(), || format!("POST {url}: {status}"))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("GET {url}: {e}"))
    }

    async fn wait_for_port(&self, port: u16) -> Result<(), String> {
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

    async fn invoke(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .post(url)
            .timeout(INVOKE_TIMEOUT)
            .body("{}")
            .send()
            .await
            .map_err(|e| format!("invoking token-refresher: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("reading token-refresher's answer: {e}"))?;
        check(status.is_success(), || {
            format!("token-refresher answered {status}: {text}")
        })?;
        serde_json::from_str(&text).map_err(|e| format!("token-refresher answered {text:?}: {e}"))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        eprintln!(
            "refresher-under-watch: AWS_ENDPOINT_URL_DYNAMODB is not set (source scripts/lib.sh && \
             start_dynamodb_local)"
        );
        return ExitCode::FAILURE;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let log = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("refresher-under-watch.log")))
        .unwrap_or_else(|| std::env::temp_dir().join("refresher-under-watch.log"));
    let scenario = Scenario {
        workspace,
        log,
        http: reqwest::Client::new(),
    };
    let started = Instant::now();
    match scenario.run().await {
        Ok(()) => {
            println!(
                "refresher-under-watch: passed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("refresher-under-watch: FAILED: {e}");
            eprintln!("cargo lambda watch's output: {}", scenario.log.display());
            ExitCode::FAILURE
        }
    }
}
