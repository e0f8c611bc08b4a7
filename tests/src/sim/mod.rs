//! A WeChat simulator on 127.0.0.1: the component APIs with WeChat's semantics, every call recorded,
//! faults injectable per endpoint, and time taken from an injectable clock.
//!
//! Tests start it in-process with [`WechatSim::start`] and drive it through its methods; the
//! `wechat-sim` binary serves the same thing with control routes under `/__sim/...`
//! (see [`server`] for the list).

mod auth_page;
pub mod catalog;
mod code;
mod faults;
mod pusher;
mod server;
mod state;

pub use code::{SimCode, SimOutcome, SimTemplate};
pub use faults::{Fault, FaultRule, Times};
pub use pusher::{
    AuthorizationEvent, AuthorizationPush, MessageField, PushError, PushReply, PushTargets,
    TicketPush,
};
pub use state::{
    AuthorizerGrant, DEFAULT_FUNC_INFO, OAUTH_CODE_LIFETIME_SECS, RecordedCall, SentMessage,
    SimAudit, WEB_USER_UNIONID, web_user_openid,
};

use state::State;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use wxcomponent::{Clock, ManualClock};

/// The simulated component and WeChat's lifetimes. Durations in seconds of sim time.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub component_appid: String,
    pub component_secret: String,
    /// The message `Token`, for signing pushes.
    pub token: String,
    /// The 43-character EncodingAESKey, for encrypting pushes.
    pub encoding_aes_key: String,
    pub component_token_expires_in: i64,
    pub authorizer_token_expires_in: i64,
    pub pre_auth_code_expires_in: i64,
    pub auth_code_expires_in: i64,
    pub ticket_lifetime: i64,
    /// How long a superseded token keeps working.
    pub token_overlap: i64,
    /// Whether `api_authorizer_token` hands out a new refresh token (invalidating the old one).
    pub rotate_refresh_tokens: bool,
    /// Daily limit reported by `/cgi-bin/openapi/quota/get`.
    pub daily_quota: i64,
    /// Where pushes go (see [`WechatSim::set_push_targets`] to set them after start).
    pub push: PushTargets,
    /// How long the privacy check of committed code runs (`submit_audit` answers 61039 until
    /// then).
    pub privacy_check_delay: i64,
    /// How long after `submit_audit` the reviewers decide (and a delayed audit is decided again).
    pub audit_delay: i64,
    /// The component's monthly audit quota (`/wxa/queryquota` `limit`); 85085 once spent.
    pub audit_quota: i64,
    /// The component's monthly expedite quota (`speedup_limit`).
    pub speedup_quota: i64,
}

impl SimConfig {
    pub fn new(component_appid: impl Into<String>, component_secret: impl Into<String>) -> Self {
        Self {
            component_appid: component_appid.into(),
            component_secret: component_secret.into(),
            token: "sim-message-token".into(),
            encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
            component_token_expires_in: 7200,
            authorizer_token_expires_in: 7200,
            pre_auth_code_expires_in: 1800,
            auth_code_expires_in: 600,
            ticket_lifetime: 12 * 3600,
            token_overlap: 300,
            rotate_refresh_tokens: false,
            daily_quota: 10_000,
            push: PushTargets::default(),
            privacy_check_delay: 60,
            audit_delay: 3600,
            audit_quota: 1000,
            speedup_quota: 10,
        }
    }

    /// A component with a random appid and secret, so tests do not share one.
    pub fn random() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self::new(format!("wx{}", &id[..16]), format!("secret-{id}"))
    }
}

/// The sim's time: a test's manual clock, or the system clock.
#[derive(Clone)]
pub(crate) struct SimClock {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) manual: Option<ManualClock>,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) clock: SimClock,
}

impl Shared {
    /// The state, even if a panicking test thread poisoned the lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running simulator. Stops serving when dropped.
pub struct WechatSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    /// The background audit pusher, once started.
    audit_pusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for WechatSim {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(pusher) = self
            .audit_pusher
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            pusher.abort();
        }
    }
}

impl WechatSim {
    /// Starts on a free port of 127.0.0.1, with time from `clock` (advance it to expire things).
    pub async fn start(config: SimConfig, clock: ManualClock) -> std::io::Result<Self> {
        let sim_clock = SimClock {
            clock: Arc::new(clock.clone()),
            manual: Some(clock),
        };
        Self::serve(config, sim_clock, 0).await
    }

    /// Starts on `port` (0 for any free one) with the system clock, as the binary does.
    pub async fn start_with_system_clock(config: SimConfig, port: u16) -> std::io::Result<Self> {
        let sim_clock = SimClock {
            clock: Arc::new(wxcomponent::SystemClock),
            manual: None,
        };
        let sim = Self::serve(config, sim_clock, port).await?;
        // On the system clock audits fall due by themselves: push them as WeChat would.
        sim.auto_push_audits();
        Ok(sim)
    }

    async fn serve(config: SimConfig, clock: SimClock, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config, clock.clock.clone())),
            clock,
        });
        let task = tokio::spawn(server::serve(listener, shared.clone()));
        Ok(Self {
            addr,
            shared,
            task,
            audit_pusher: Mutex::new(None),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`, for `WECHAT_API_BASE_URL`.
    pub fn base_url(&self) -> url::Url {
        let text = format!("http://{}/", self.addr);
        url::Url::parse(&text).unwrap_or_else(|e| panic!("{text} is not a URL: {e}"))
    }

    pub fn config(&self) -> SimConfig {
        self.shared.lock().config.clone()
    }

    // ----- tickets and tokens -----

    /// Makes `ticket` known and current, as if WeChat had just pushed it.
    pub fn set_ticket(&self, ticket: &str) {
        self.shared.lock().set_ticket(ticket);
    }

    /// Makes up a new ticket, known and current, and returns it.
    pub fn issue_ticket(&self) -> String {
        self.shared.lock().issue_ticket()
    }

    pub fn current_ticket(&self) -> Option<String> {
        self.shared.lock().current_ticket.clone()
    }

    /// How many times `api_start_push_ticket` succeeded.
    pub fn push_ticket_requests(&self) -> u32 {
        self.shared.lock().push_ticket_requests
    }

    /// The latest component token the sim issued.
    pub fn component_token(&self) -> Option<String> {
        self.shared.lock().current_component_token.clone()
    }

    // ----- authorizers -----

    /// A merchant authorizes the component for `authorizer_appid`: returns the auth code that the
    /// redirect (and the `authorized` event) would carry.
    pub fn authorize(&self, authorizer_appid: &str) -> String {
        self.shared.lock().authorize(authorizer_appid)
    }

    /// A merchant authorizes with a code chosen by the test (e.g. the one a catalogue sample returns,
    /// such as registering a mini program by reusing an official account).
    pub fn authorize_with_code(&self, authorizer_appid: &str, code: &str) {
        self.shared
            .lock()
            .authorize_with_code(authorizer_appid, code)
    }

    /// An authorized account with a fresh access token, without going through `api_query_auth`.
    pub fn add_authorizer(&self, authorizer_appid: &str) -> AuthorizerGrant {
        self.shared.lock().add_authorizer(authorizer_appid)
    }

    /// [`WechatSim::add_authorizer`] for many accounts at once, under one lock (for scale tests).
    pub fn add_authorizers(&self, authorizer_appids: &[String]) -> Vec<AuthorizerGrant> {
        let mut state = self.shared.lock();
        authorizer_appids
            .iter()
            .map(|appid| state.add_authorizer(appid))
            .collect()
    }

    /// The merchant revokes the authorization: its calls answer 61003 / 40001 from now on.
    pub fn revoke(&self, authorizer_appid: &str) {
        self.shared.lock().revoke(authorizer_appid);
    }

    pub fn refresh_token_of(&self, authorizer_appid: &str) -> Option<String> {
        self.shared.lock().refresh_token_of(authorizer_appid)
    }

    /// The permission set ids (`func_info`) the account grants from now on, as `api_query_auth`
    /// and `api_get_authorizer_info` answer them (default [`DEFAULT_FUNC_INFO`]).
    pub fn set_func_info(&self, authorizer_appid: &str, ids: Vec<i64>) {
        self.shared.lock().set_func_info(authorizer_appid, ids);
    }

    /// Makes the account an official account: `api_get_authorizer_info` leaves out
    /// `MiniProgramInfo` (accounts are mini programs by default).
    pub fn make_official_account(&self, authorizer_appid: &str) {
        self.shared.lock().make_official_account(authorizer_appid);
    }

    /// The account's `gh_...` user name.
    pub fn user_name_of(&self, authorizer_appid: &str) -> Option<String> {
        self.shared.lock().user_name_of(authorizer_appid)
    }

    // ----- recorded calls -----

    /// Every WeChat call received, in order (control routes are not recorded).
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<RecordedCall> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// Calls to `path` made with `authorizer_appid`'s access token (valid or not), counted as
    /// they arrive.
    pub fn call_count_for(&self, path: &str, authorizer_appid: &str) -> usize {
        self.shared.lock().call_count_for(path, authorizer_appid)
    }

    pub fn call_count(&self, path: &str) -> usize {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .count()
    }

    /// Calls to paths (or methods) the sim does not know. A test should end with none.
    pub fn unmatched(&self) -> Vec<RecordedCall> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| !c.matched)
            .cloned()
            .collect()
    }

    /// Every ticket, token, pre-auth code, auth code and refresh token this sim minted, with the
    /// component secret, the message token and the AES key: what no log line may contain.
    pub fn secrets(&self) -> Vec<String> {
        let shared = self.shared.lock();
        let config = &shared.config;
        let mut secrets = vec![
            config.component_secret.clone(),
            config.token.clone(),
            config.encoding_aes_key.clone(),
        ];
        secrets.extend(shared.minted.iter().cloned());
        secrets
    }

    /// Every query value and secret-bearing body field of the calls received: what the client sent
    /// (tokens, tickets, codes, secrets), for the log-secrecy checks.
    pub fn secrets_received(&self) -> Vec<String> {
        const SECRET_FIELDS: [&str; 6] = [
            "component_appsecret",
            "component_secret",
            "appsecret",
            "component_verify_ticket",
            "authorization_code",
            "authorizer_refresh_token",
        ];
        let mut found = Vec::new();
        for call in self.shared.lock().calls.iter() {
            found.extend(call.query.values().cloned());
            if let Some(body) = &call.body {
                for field in SECRET_FIELDS {
                    if let Some(v) = body.get(field).and_then(|v| v.as_str()) {
                        found.push(v.to_owned());
                    }
                }
            }
        }
        found
    }

    /// The most calls to `path` the sim was handling at one time (a call counts from its arrival
    /// until it is answered or its client hangs up, whatever fault delays it).
    pub fn max_in_flight(&self, path: &str) -> usize {
        self.shared
            .lock()
            .in_flight
            .get(path)
            .map_or(0, |(_, max)| *max)
    }

    pub fn clear_calls(&self) {
        self.shared.lock().clear_calls();
    }

    /// Customer-service messages sent through `/cgi-bin/message/custom/send`.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared.lock().messages.clone()
    }

    // ----- code release -----

    /// Adds a template to the component's library (`/wxa/gettemplatelist`); its `template_id`.
    /// The documented sample template, id 3, is there from the start.
    pub fn add_template(&self, user_version: &str, user_desc: &str) -> i64 {
        let mut state = self.shared.lock();
        let now = state.now();
        state.code.add_template(user_version, user_desc, now)
    }

    /// The code the account committed last (`/wxa/commit`), with its `ext_json` parsed.
    pub fn committed_code(&self, authorizer_appid: &str) -> Option<SimCode> {
        self.shared.lock().code.committed_code(authorizer_appid)
    }

    /// Code uploaded for the account without this product (WeChat's developer tools, say), its
    /// privacy check done: what `submit_audit` needs.
    pub fn upload_code_elsewhere(&self, authorizer_appid: &str) -> SimCode {
        let mut state = self.shared.lock();
        let now = state.now();
        state.code.upload_elsewhere(authorizer_appid, now)
    }

    /// How the reviewers decide the account's audits from now on (default [`SimOutcome::Pass`]).
    pub fn set_audit_outcome(&self, authorizer_appid: &str, outcome: SimOutcome) {
        self.shared
            .lock()
            .code
            .set_outcome(authorizer_appid, outcome);
    }

    /// Sets what is left of this month's audit quota (to reach 85085 quickly).
    pub fn set_audit_quota_rest(&self, rest: i64) {
        let mut state = self.shared.lock();
        let now = state.now();
        let config = state.config.clone();
        state.code.set_audit_quota_rest(&config, rest, now);
    }

    /// The version the account released last (`None` before its first release, or after
    /// reverting the only one).
    pub fn released_version(&self, authorizer_appid: &str) -> Option<String> {
        self.shared.lock().code.released_version(authorizer_appid)
    }

    /// How many code-management calls were refused with 9402202 because another one for the
    /// same account was still being handled.
    pub fn overlap_refusals(&self) -> usize {
        self.shared.lock().code.overlap_refusals
    }

    /// Decides every audit due by the sim clock and pushes each decision once to the message URL
    /// (retried up to 3 deliveries in all while the platform does not accept it). Answers the
    /// account and the last delivery's outcome of each push. Decisions are taken from the queue
    /// before sending, so concurrent callers never push one twice.
    pub async fn deliver_due_audits(&self) -> Vec<(String, Result<PushReply, PushError>)> {
        pusher::deliver_due_audits(&self.shared).await
    }

    /// Runs [`WechatSim::deliver_due_audits`] every 500 ms in the background until the sim is
    /// dropped (the system-clock sim does so from the start; tests on a manual clock ask).
    pub fn auto_push_audits(&self) {
        let mut slot = self
            .audit_pusher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_some() {
            return;
        }
        let shared = self.shared.clone();
        *slot = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                tick.tick().await;
                for (appid, result) in pusher::deliver_due_audits(&shared).await {
                    if let Err(e) = result {
                        tracing::warn!(appid, error = %e, "the sim could not push an audit result");
                    }
                }
            }
        }));
    }

    /// Someone submits `authorizer_appid`'s code for audit without this product (in WeChat's
    /// console, say): a new audit under audit, decided like any other; its `auditid`.
    pub fn submit_audit_elsewhere(&self, authorizer_appid: &str) -> i64 {
        self.shared.lock().submit_audit(authorizer_appid)
    }

    /// Someone withdraws `authorizer_appid`'s audit without this product (in WeChat's console,
    /// say), which counts against the account's withdrawals like any other; the errcode if WeChat
    /// refused (87013).
    pub fn withdraw_audit_elsewhere(&self, authorizer_appid: &str) -> Option<i64> {
        let mut state = self.shared.lock();
        let now = state.now();
        state
            .code
            .undo(authorizer_appid, now)
            .and_then(|refusal| refusal["errcode"].as_i64())
    }

    /// WeChat's reviewers decide on the account's latest audit (0 approved, 1 rejected, 4
    /// delayed); `None` when it has none. The push that tells of it is the test's to send, and
    /// the audit is no longer decided automatically.
    pub fn decide_audit(&self, authorizer_appid: &str, status: i64) -> Option<SimAudit> {
        self.shared
            .lock()
            .set_audit_status(authorizer_appid, status)
    }

    /// The account's latest audit, as `get_latest_auditstatus` answers it.
    pub fn latest_audit(&self, authorizer_appid: &str) -> Option<SimAudit> {
        self.shared.lock().latest_audit(authorizer_appid)
    }

    // ----- faults -----

    /// Applies `fault` to calls to `path` (`"*"` for all) `times` times.
    pub fn inject(&self, path: &str, fault: Fault, times: Times) {
        self.shared.lock().faults.add(path, fault, times);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }
}
