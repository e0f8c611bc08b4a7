//! What the simulated WeChat remembers, and how each endpoint answers.
//!
//! Semantics follow docs/wechat-protocol.md: tickets known to the sim and valid 12 h, component and
//! authorizer tokens with an expiry and a short overlap for the superseded one, single-use auth codes,
//! refresh tokens that can rotate, quota and its resets.

use super::SimConfig;
use super::code::CodeModel;
use super::faults::FaultTable;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use wxcomponent::{Clock, EpochSeconds};

mod official;

pub(crate) use official::OAuthPage;
pub use official::{OAUTH_CODE_LIFETIME_SECS, WEB_USER_UNIONID, web_user_openid};

/// One call the sim received, tokens and all (the sim is a test tool; it keeps everything).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedCall {
    pub seq: u64,
    pub at: EpochSeconds,
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// Whether the path and method were a WeChat endpoint the sim knows (a call answered by an
    /// injected fault never reaches the endpoint and counts as matched).
    pub matched: bool,
}

/// A customer-service message an authorizer sent through `/cgi-bin/message/custom/send`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    pub authorizer_appid: String,
    pub touser: String,
    pub msgtype: String,
    /// `text.content` for text messages.
    pub content: Option<String>,
    pub body: Value,
}

/// Tokens issued to an authorizer by a test helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizerGrant {
    pub authorizer_appid: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: EpochSeconds,
}

impl AuthorizerGrant {
    /// The granted access token, as the client's authorizer APIs take it.
    pub fn token(&self) -> wxcomponent::wechat::AuthorizerAccessToken {
        wxcomponent::wechat::AuthorizerAccessToken::new(
            wxcomponent::Secret::new(self.access_token.clone()),
            self.expires_at,
        )
    }
}

pub(crate) enum Reply {
    Json(Value),
    Bytes {
        content_type: &'static str,
        body: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Component,
    Authorizer(String),
}

struct TokenEntry {
    owner: Owner,
    valid_until: EpochSeconds,
    superseded: bool,
}

struct AuthCode {
    appid: String,
    expires_at: EpochSeconds,
    used: bool,
}

struct Authorizer {
    appid: String,
    user_name: String,
    refresh_token: String,
    auth_time: EpochSeconds,
    authorized: bool,
    options: HashMap<String, String>,
    /// An official account (no `MiniProgramInfo`) rather than a mini program.
    official_account: bool,
}

/// A mini program's latest code audit as WeChat's reviewers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SimAudit {
    pub auditid: i64,
    /// WeChat's codes: 0 approved, 1 rejected, 2 under audit, 3 withdrawn, 4 delayed.
    pub status: i64,
    /// The approved version was released (`release` then answers 85052).
    pub released: bool,
}

/// The permission sets (`func_info` ids) an authorizer grants unless a test sets others: today's
/// official-account sets and 18, mini program development management (开发管理).
pub const DEFAULT_FUNC_INFO: [i64; 8] = [1, 2, 3, 4, 6, 7, 11, 18];

pub(crate) struct State {
    pub(crate) config: SimConfig,
    clock: std::sync::Arc<dyn Clock>,
    seq: u64,
    pub(crate) calls: Vec<RecordedCall>,
    pub(crate) faults: FaultTable,
    pub(crate) messages: Vec<SentMessage>,
    tickets: HashMap<String, EpochSeconds>,
    pub(crate) current_ticket: Option<String>,
    pub(crate) push_ticket_requests: u32,
    tokens: HashMap<String, TokenEntry>,
    pub(crate) current_component_token: Option<String>,
    pre_auth_codes: HashMap<String, EpochSeconds>,
    auth_codes: HashMap<String, AuthCode>,
    /// In authorization order, which is the list order.
    authorizers: Vec<Authorizer>,
    quota_clears: HashMap<String, u32>,
    /// The call sequence number of the last quota reset: quota counts calls after it.
    quota_reset_seq: u64,
    /// Every ticket, token, code and refresh token minted, for the log-secrecy checks.
    pub(crate) minted: Vec<String>,
    /// Per path: calls being handled now, and the most ever handled at once. A call stops
    /// counting when it is answered or its client hangs up.
    pub(crate) in_flight: HashMap<String, (usize, usize)>,
    /// Templates, committed code, audits, quotas and releases.
    pub(crate) code: CodeModel,
    /// Calls per (path, authorizer appid), by the authorizer whose token they carried.
    call_counts: HashMap<(String, String), usize>,
    /// Permission sets per authorizer, where a test set them.
    func_infos: HashMap<String, Vec<i64>>,
    /// Web authorization codes and the users' tokens they gave.
    web: official::WebModel,
}

fn err(errcode: i64, errmsg: &str) -> Value {
    json!({ "errcode": errcode, "errmsg": errmsg })
}

fn ok() -> Value {
    err(0, "ok")
}

fn str_field<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

/// WeChat's error for a token that is not (or no longer) accepted.
const INVALID_CREDENTIAL: i64 = 40001;

impl State {
    pub(crate) fn new(config: SimConfig, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            config,
            seq: 0,
            calls: Vec::new(),
            faults: FaultTable::default(),
            messages: Vec::new(),
            tickets: HashMap::new(),
            current_ticket: None,
            push_ticket_requests: 0,
            tokens: HashMap::new(),
            current_component_token: None,
            pre_auth_codes: HashMap::new(),
            auth_codes: HashMap::new(),
            authorizers: Vec::new(),
            quota_clears: HashMap::new(),
            quota_reset_seq: 0,
            minted: Vec::new(),
            in_flight: HashMap::new(),
            code: CodeModel::new(clock.now()),
            call_counts: HashMap::new(),
            func_infos: HashMap::new(),
            web: official::WebModel::default(),
            clock,
        }
    }

    // ----- code audits -----

    /// A new audit of `appid`'s uploaded code, under audit; its `auditid`.
    pub(crate) fn submit_audit(&mut self, appid: &str) -> i64 {
        let (now, delay) = (self.now(), self.config.audit_delay);
        self.code.settle(now, delay);
        self.code.start_audit(appid, now, delay)
    }

    /// The reviewers' decision on `appid`'s latest audit.
    pub(crate) fn set_audit_status(&mut self, appid: &str, status: i64) -> Option<SimAudit> {
        self.settle_audits();
        self.code.set_audit_status(appid, status)
    }

    pub(crate) fn latest_audit(&mut self, appid: &str) -> Option<SimAudit> {
        self.settle_audits();
        self.code.latest_audit(appid)
    }

    /// Decides the audits due by the sim clock.
    pub(crate) fn settle_audits(&mut self) {
        let (now, delay) = (self.now(), self.config.audit_delay);
        self.code.settle(now, delay);
    }

    // ----- call counts -----

    /// The authorizer whose access token a call carries, valid or not.
    pub(crate) fn token_owner(&self, query: &BTreeMap<String, String>) -> Option<String> {
        match &self.tokens.get(query.get("access_token")?)?.owner {
            Owner::Authorizer(appid) => Some(appid.clone()),
            Owner::Component => None,
        }
    }

    pub(crate) fn call_count_for(&self, path: &str, appid: &str) -> usize {
        self.call_counts
            .get(&(path.to_owned(), appid.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn clear_calls(&mut self) {
        self.calls.clear();
        self.call_counts.clear();
    }

    pub(crate) fn set_func_info(&mut self, appid: &str, ids: Vec<i64>) {
        self.func_infos.insert(appid.to_owned(), ids);
    }

    pub(crate) fn make_official_account(&mut self, appid: &str) {
        self.ensure_authorizer(appid).official_account = true;
    }

    pub(crate) fn now(&self) -> EpochSeconds {
        self.clock.now()
    }

    /// A new random secret (ticket, token, code), remembered in `minted`.
    fn mint(&mut self, prefix: &str) -> String {
        let value = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
        self.minted.push(value.clone());
        value
    }

    pub(crate) fn record(
        &mut self,
        method: &str,
        path: &str,
        query: BTreeMap<String, String>,
        body: Option<Value>,
    ) -> usize {
        self.seq += 1;
        if let Some(appid) = self.token_owner(&query) {
            *self
                .call_counts
                .entry((path.to_owned(), appid))
                .or_default() += 1;
        }
        self.calls.push(RecordedCall {
            seq: self.seq,
            at: self.now(),
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            body,
            matched: true,
        });
        self.calls.len() - 1
    }

    // ----- test helpers -----

    pub(crate) fn set_ticket(&mut self, ticket: &str) {
        self.minted.push(ticket.to_owned());
        self.tickets.insert(ticket.to_owned(), self.now());
        self.current_ticket = Some(ticket.to_owned());
    }

    pub(crate) fn issue_ticket(&mut self) -> String {
        let t = self.mint("ticket@@@");
        self.set_ticket(&t);
        t
    }

    fn authorizer(&self, appid: &str) -> Option<&Authorizer> {
        self.authorizers.iter().find(|a| a.appid == appid)
    }

    fn authorizer_mut(&mut self, appid: &str) -> Option<&mut Authorizer> {
        self.authorizers.iter_mut().find(|a| a.appid == appid)
    }

    /// Creates the authorizer if it is new, and marks it authorized.
    fn ensure_authorizer(&mut self, appid: &str) -> &mut Authorizer {
        let now = self.now();
        let i = match self.authorizers.iter().position(|a| a.appid == appid) {
            Some(i) => i,
            None => {
                let refresh_token = self.mint("refreshtoken@@@");
                self.authorizers.push(Authorizer {
                    appid: appid.to_owned(),
                    user_name: format!("gh_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                    refresh_token,
                    auth_time: now,
                    authorized: true,
                    options: HashMap::new(),
                    official_account: false,
                });
                self.authorizers.len() - 1
            }
        };
        let a = &mut self.authorizers[i];
        a.authorized = true;
        a
    }

    /// A merchant authorizes the component: an auth code, as the redirect and the event carry it.
    pub(crate) fn authorize(&mut self, appid: &str) -> String {
        let code = self.mint("queryauthcode@@@");
        self.authorize_with_code(appid, &code);
        code
    }

    /// As [`State::authorize`], with a given code (the one a catalogue sample answers with).
    pub(crate) fn authorize_with_code(&mut self, appid: &str, code: &str) {
        self.minted.push(code.to_owned());
        self.ensure_authorizer(appid);
        let code = code.to_owned();
        let expires_at = self.now() + self.config.auth_code_expires_in;
        self.auth_codes.insert(
            code.clone(),
            AuthCode {
                appid: appid.to_owned(),
                expires_at,
                used: false,
            },
        );
    }

    /// Whether a pre-auth code was issued and has not expired or been spent (the auth page).
    pub(crate) fn pre_auth_code_valid(&self, code: &str) -> bool {
        self.pre_auth_codes
            .get(code)
            .is_some_and(|expires_at| self.now() < *expires_at)
    }

    /// Spends a pre-auth code (the merchant confirmed on the auth page); whether it was valid.
    pub(crate) fn take_pre_auth_code(&mut self, code: &str) -> bool {
        let valid = self.pre_auth_code_valid(code);
        self.pre_auth_codes.remove(code);
        valid
    }

    pub(crate) fn add_authorizer(&mut self, appid: &str) -> AuthorizerGrant {
        let refresh_token = self.ensure_authorizer(appid).refresh_token.clone();
        let expires_in = self.config.authorizer_token_expires_in;
        let access_token = self.issue_token(Owner::Authorizer(appid.to_owned()), expires_in);
        AuthorizerGrant {
            authorizer_appid: appid.to_owned(),
            access_token,
            refresh_token,
            expires_at: self.now() + expires_in,
        }
    }

    /// The merchant revokes the authorization: its tokens stop working.
    pub(crate) fn revoke(&mut self, appid: &str) {
        if let Some(a) = self.authorizer_mut(appid) {
            a.authorized = false;
        }
        let owner = Owner::Authorizer(appid.to_owned());
        self.tokens.retain(|_, e| e.owner != owner);
    }

    pub(crate) fn refresh_token_of(&self, appid: &str) -> Option<String> {
        self.authorizer(appid).map(|a| a.refresh_token.clone())
    }

    pub(crate) fn user_name_of(&self, appid: &str) -> Option<String> {
        self.authorizer(appid).map(|a| a.user_name.clone())
    }

    // ----- tokens -----

    /// Issues a token; the owner's previous one keeps working for the overlap, then gets 40001.
    fn issue_token(&mut self, owner: Owner, expires_in: i64) -> String {
        let now = self.now();
        let overlap_end = now + self.config.token_overlap;
        for e in self.tokens.values_mut() {
            if e.owner == owner && !e.superseded {
                e.superseded = true;
                e.valid_until = e.valid_until.min(overlap_end);
            }
        }
        let prefix = match owner {
            Owner::Component => "ctoken-",
            Owner::Authorizer(_) => "atoken-",
        };
        let token = self.mint(prefix);
        self.tokens.insert(
            token.clone(),
            TokenEntry {
                owner,
                valid_until: now + expires_in,
                superseded: false,
            },
        );
        token
    }

    fn check_token(&self, value: Option<&String>) -> Result<Owner, Value> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(err(41001, "access_token missing"));
        };
        let Some(entry) = self.tokens.get(value) else {
            return Err(err(
                INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
            ));
        };
        if self.now() >= entry.valid_until {
            return Err(if entry.superseded {
                err(
                    INVALID_CREDENTIAL,
                    "invalid credential, access_token is invalid or not latest",
                )
            } else {
                err(42001, "access_token expired")
            });
        }
        Ok(entry.owner.clone())
    }

    /// Component APIs accept the token as `component_access_token=` or the newer `access_token=`.
    pub(crate) fn component_token(&self, query: &BTreeMap<String, String>) -> Result<(), Value> {
        let value = query
            .get("component_access_token")
            .or_else(|| query.get("access_token"));
        match self.check_token(value)? {
            Owner::Component => Ok(()),
            Owner::Authorizer(_) => Err(err(
                INVALID_CREDENTIAL,
                "invalid credential, not a component_access_token",
            )),
        }
    }

    /// Authorizer APIs take `access_token=`; the token names the authorizer.
    pub(crate) fn authorizer_token(
        &self,
        query: &BTreeMap<String, String>,
    ) -> Result<String, Value> {
        match self.check_token(query.get("access_token"))? {
            Owner::Authorizer(appid) => Ok(appid),
            Owner::Component => Err(err(
                INVALID_CREDENTIAL,
                "invalid credential, not an authorizer access_token",
            )),
        }
    }

    /// Either kind, for the open APIs (quota) that both may call; the answer is the owner's appid.
    fn any_token(&self, query: &BTreeMap<String, String>) -> Result<String, Value> {
        match self.check_token(query.get("access_token"))? {
            Owner::Authorizer(appid) => Ok(appid),
            Owner::Component => Ok(self.config.component_appid.clone()),
        }
    }

    fn check_component_appid(&self, body: &Value) -> Result<(), Value> {
        if str_field(body, "component_appid") == self.config.component_appid {
            Ok(())
        } else {
            Err(err(40013, "invalid appid"))
        }
    }

    fn authorized(&self, appid: &str) -> Result<&Authorizer, Value> {
        self.authorizer(appid)
            .filter(|a| a.authorized)
            .ok_or_else(|| err(61003, "component is not authorized by this account"))
    }

    // ----- endpoints -----

    /// Answers a WeChat call, or `None` when no endpoint matches (the caller records it as unmatched).
    pub(crate) fn dispatch(
        &mut self,
        method: &str,
        path: &str,
        query: &BTreeMap<String, String>,
        body: Option<&Value>,
    ) -> Option<Reply> {
        let empty = Value::Null;
        let json_body = || body.ok_or_else(|| err(47001, "data format error"));
        let result = match (method, path) {
            ("POST", "/cgi-bin/component/api_component_token") => {
                json_body().and_then(|b| self.api_component_token(b))
            }
            ("POST", "/cgi-bin/component/api_start_push_ticket") => {
                json_body().and_then(|b| self.api_start_push_ticket(b))
            }
            ("POST", "/cgi-bin/component/api_create_preauthcode") => {
                json_body().and_then(|b| self.api_create_preauthcode(query, b))
            }
            ("POST", "/cgi-bin/component/api_query_auth") => {
                json_body().and_then(|b| self.api_query_auth(query, b))
            }
            ("POST", "/cgi-bin/component/api_authorizer_token") => {
                json_body().and_then(|b| self.api_authorizer_token(query, b))
            }
            ("POST", "/cgi-bin/component/api_get_authorizer_info") => {
                json_body().and_then(|b| self.api_get_authorizer_info(query, b))
            }
            ("POST", "/cgi-bin/component/api_get_authorizer_list") => {
                json_body().and_then(|b| self.api_get_authorizer_list(query, b))
            }
            ("POST", "/cgi-bin/component/api_get_authorizer_option") => {
                json_body().and_then(|b| self.api_authorizer_option(query, b, false))
            }
            ("POST", "/cgi-bin/component/api_set_authorizer_option") => {
                json_body().and_then(|b| self.api_authorizer_option(query, b, true))
            }
            ("POST", "/cgi-bin/component/get_authorizer_option") => {
                json_body().and_then(|b| self.authorizer_option(query, b, false))
            }
            ("POST", "/cgi-bin/component/set_authorizer_option") => {
                json_body().and_then(|b| self.authorizer_option(query, b, true))
            }
            ("POST", "/cgi-bin/clear_quota") => {
                json_body().and_then(|b| self.clear_quota(query, b))
            }
            ("POST", "/cgi-bin/component/clear_quota/v2") => {
                json_body().and_then(|b| self.clear_quota_v2(b))
            }
            ("POST", "/cgi-bin/openapi/quota/get") => {
                json_body().and_then(|b| self.quota_get(query, b))
            }
            ("POST", "/cgi-bin/message/custom/send") => {
                json_body().and_then(|b| self.custom_send(query, b))
            }
            ("GET", "/sns/oauth2/component/access_token") => self.sns_oauth_access_token(query),
            ("GET", "/sns/userinfo") => self.sns_userinfo(query),
            ("GET", "/cgi-bin/ticket/getticket") => self.getticket(query),
            ("GET", "/cgi-bin/get_api_domain_ip") => self
                .any_token(query)
                .map(|_| json!({ "ip_list": ["101.226.103.0/25", "101.226.233.128/25"] })),
            ("POST", "/wxa/getwxacode") => {
                return Some(match self.getwxacode(query, body.unwrap_or(&empty)) {
                    Ok(reply) => reply,
                    Err(e) => Reply::Json(e),
                });
            }
            _ => return None,
        };
        Some(Reply::Json(result.unwrap_or_else(|e| e)))
    }

    fn api_component_token(&mut self, body: &Value) -> Result<Value, Value> {
        self.check_component_appid(body)?;
        if str_field(body, "component_appsecret") != self.config.component_secret {
            return Err(err(40125, "invalid appsecret"));
        }
        let ticket = str_field(body, "component_verify_ticket");
        let issued = *self
            .tickets
            .get(ticket)
            .ok_or_else(|| err(61006, "component_verify_ticket is invalid"))?;
        if self.now() >= issued + self.config.ticket_lifetime {
            return Err(err(61005, "component_verify_ticket is expired"));
        }
        let expires_in = self.config.component_token_expires_in;
        let token = self.issue_token(Owner::Component, expires_in);
        self.current_component_token = Some(token.clone());
        Ok(json!({ "component_access_token": token, "expires_in": expires_in }))
    }

    fn api_start_push_ticket(&mut self, body: &Value) -> Result<Value, Value> {
        self.check_component_appid(body)?;
        if str_field(body, "component_secret") != self.config.component_secret {
            return Err(err(40125, "invalid appsecret"));
        }
        // A real WeChat pushes the new ticket to the authorization event URL; see `push`.
        self.issue_ticket();
        self.push_ticket_requests += 1;
        Ok(ok())
    }

    fn api_create_preauthcode(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        self.check_component_appid(body)?;
        let code = self.mint("preauthcode@@@");
        let expires_in = self.config.pre_auth_code_expires_in;
        self.pre_auth_codes
            .insert(code.clone(), self.now() + expires_in);
        Ok(json!({ "pre_auth_code": code, "expires_in": expires_in }))
    }

    fn func_info(&self, appid: &str) -> Value {
        let ids = self
            .func_infos
            .get(appid)
            .map_or(&DEFAULT_FUNC_INFO[..], Vec::as_slice);
        json!(
            ids.iter()
                .map(|id| json!({ "funcscope_category": { "id": id } }))
                .collect::<Vec<_>>()
        )
    }

    fn api_query_auth(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        self.check_component_appid(body)?;
        let now = self.now();
        let code = str_field(body, "authorization_code");
        let entry = self
            .auth_codes
            .get_mut(code)
            .filter(|c| !c.used)
            .ok_or_else(|| err(61009, "code is invalid"))?;
        if now >= entry.expires_at {
            return Err(err(61010, "code is expired"));
        }
        entry.used = true;
        let appid = entry.appid.clone();
        let refresh_token = self.authorized(&appid)?.refresh_token.clone();
        let expires_in = self.config.authorizer_token_expires_in;
        let access_token = self.issue_token(Owner::Authorizer(appid.clone()), expires_in);
        Ok(json!({ "authorization_info": {
            "authorizer_appid": appid,
            "authorizer_access_token": access_token,
            "expires_in": expires_in,
            "authorizer_refresh_token": refresh_token,
            "func_info": self.func_info(&appid),
        }}))
    }

    fn api_authorizer_token(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        self.check_component_appid(body)?;
        let appid = str_field(body, "authorizer_appid").to_owned();
        let current = self.authorized(&appid)?.refresh_token.clone();
        if str_field(body, "authorizer_refresh_token") != current {
            return Err(err(61023, "refresh_token is invalid"));
        }
        let refresh_token = if self.config.rotate_refresh_tokens {
            let fresh = self.mint("refreshtoken@@@");
            if let Some(a) = self.authorizer_mut(&appid) {
                a.refresh_token = fresh.clone();
            }
            fresh
        } else {
            current
        };
        let expires_in = self.config.authorizer_token_expires_in;
        let access_token = self.issue_token(Owner::Authorizer(appid), expires_in);
        Ok(json!({
            "authorizer_access_token": access_token,
            "expires_in": expires_in,
            "authorizer_refresh_token": refresh_token,
        }))
    }

    fn api_get_authorizer_info(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        self.check_component_appid(body)?;
        let a = self.authorized(str_field(body, "authorizer_appid"))?;
        // Mini programs carry `MiniProgramInfo`; official accounts do not.
        let mini_program_info = (!a.official_account).then(|| {
            json!({
                "network": { "RequestDomain": [], "WsRequestDomain": [], "UploadDomain": [], "DownloadDomain": [] },
                "categories": [],
                "visit_status": 0,
            })
        });
        Ok(json!({
            "authorizer_info": {
                "MiniProgramInfo": mini_program_info,
                "nick_name": format!("Sim account {}", a.appid),
                "head_img": "http://wx.qlogo.cn/mmopen/sim/0",
                "service_type_info": { "id": 2 },
                "verify_type_info": { "id": 0 },
                "user_name": a.user_name,
                "principal_name": "Sim Co., Ltd.",
                "alias": "",
                "business_info": { "open_store": 0, "open_scan": 0, "open_pay": 0, "open_card": 0, "open_shake": 0 },
                "qrcode_url": "http://mmbiz.qpic.cn/mmbiz_jpg/sim/0",
                "signature": "A simulated account",
            },
            "authorization_info": {
                "authorizer_appid": a.appid,
                "authorizer_refresh_token": a.refresh_token,
                "func_info": self.func_info(&a.appid),
            }
        }))
    }

    fn api_get_authorizer_list(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        self.check_component_appid(body)?;
        let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
        let count = body.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        if !(1..=500).contains(&count) {
            return Err(err(40097, "invalid args: count must be 1 to 500"));
        }
        let authorized: Vec<&Authorizer> =
            self.authorizers.iter().filter(|a| a.authorized).collect();
        let list: Vec<Value> = authorized
            .iter()
            .skip(offset)
            .take(count)
            .map(|a| {
                json!({
                    "authorizer_appid": a.appid,
                    "refresh_token": a.refresh_token,
                    "auth_time": a.auth_time,
                })
            })
            .collect();
        Ok(json!({ "total_count": authorized.len(), "list": list }))
    }

    fn option(a: &Authorizer, name: &str) -> String {
        a.options.get(name).cloned().unwrap_or_else(|| "0".into())
    }

    fn check_option(name: &str, value: Option<&str>) -> Result<(), Value> {
        let allowed: &[&str] = match name {
            "location_report" => &["0", "1", "2"],
            "voice_recognize" | "customer_service" => &["0", "1"],
            _ => return Err(err(40097, "invalid args: unknown option_name")),
        };
        match value {
            Some(v) if !allowed.contains(&v) => Err(err(40097, "invalid args: bad option_value")),
            _ => Ok(()),
        }
    }

    fn read_or_write_option(
        &mut self,
        appid: &str,
        body: &Value,
        set: bool,
    ) -> Result<(String, String), Value> {
        let name = str_field(body, "option_name").to_owned();
        let value = set.then(|| str_field(body, "option_value"));
        Self::check_option(&name, value)?;
        self.authorized(appid)?;
        let a = self
            .authorizer_mut(appid)
            .ok_or_else(|| err(61003, "component is not authorized by this account"))?;
        if let Some(v) = value {
            a.options.insert(name.clone(), v.to_owned());
        }
        let current = Self::option(a, &name);
        Ok((name, current))
    }

    fn api_authorizer_option(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
        set: bool,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        self.check_component_appid(body)?;
        let appid = str_field(body, "authorizer_appid").to_owned();
        let (name, value) = self.read_or_write_option(&appid, body, set)?;
        Ok(if set {
            ok()
        } else {
            json!({ "authorizer_appid": appid, "option_name": name, "option_value": value })
        })
    }

    fn authorizer_option(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
        set: bool,
    ) -> Result<Value, Value> {
        let appid = self.authorizer_token(query)?;
        let (name, value) = self.read_or_write_option(&appid, body, set)?;
        Ok(if set {
            ok()
        } else {
            json!({ "errcode": 0, "errmsg": "ok", "option_name": name, "option_value": value })
        })
    }

    fn spend_quota_reset(&mut self, appid: &str) -> Result<Value, Value> {
        let used = self.quota_clears.entry(appid.to_owned()).or_default();
        if *used >= 10 {
            return Err(err(
                48006,
                "forbid to clear quota because of reaching the limit",
            ));
        }
        *used += 1;
        self.quota_reset_seq = self.seq;
        Ok(ok())
    }

    fn clear_quota(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        let owner_appid = self.any_token(query)?;
        let appid = str_field(body, "appid").to_owned();
        if appid != owner_appid {
            return Err(err(40013, "invalid appid"));
        }
        self.spend_quota_reset(&appid)
    }

    fn clear_quota_v2(&mut self, body: &Value) -> Result<Value, Value> {
        self.check_component_appid(body)?;
        if str_field(body, "appsecret") != self.config.component_secret {
            return Err(err(40125, "invalid appsecret"));
        }
        let appid = match str_field(body, "appid") {
            "" => self.config.component_appid.clone(),
            a => self.authorized(a)?.appid.clone(),
        };
        self.spend_quota_reset(&appid)
    }

    fn quota_get(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        self.any_token(query)?;
        let cgi_path = str_field(body, "cgi_path");
        if !cgi_path.starts_with('/') {
            return Err(err(76021, "cgi_path not found"));
        }
        let since = self.quota_reset_seq;
        let used = self
            .calls
            .iter()
            .filter(|c| c.matched && c.path == cgi_path && c.seq > since)
            .count() as i64;
        let limit = self.config.daily_quota;
        Ok(json!({
            "errcode": 0,
            "errmsg": "ok",
            "quota": { "daily_limit": limit, "used": used, "remain": (limit - used).max(0) }
        }))
    }

    fn custom_send(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, Value> {
        let appid = self.authorizer_token(query)?;
        let touser = str_field(body, "touser");
        if touser.is_empty() {
            return Err(err(40003, "invalid openid"));
        }
        let msgtype = str_field(body, "msgtype");
        let content = body
            .get(msgtype)
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if msgtype.is_empty()
            || body.get(msgtype).is_none()
            || (msgtype == "text" && content.is_none())
        {
            return Err(err(40008, "invalid message type"));
        }
        self.messages.push(SentMessage {
            authorizer_appid: appid,
            touser: touser.to_owned(),
            msgtype: msgtype.to_owned(),
            content,
            body: body.clone(),
        });
        Ok(ok())
    }

    fn getwxacode(
        &mut self,
        query: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Reply, Value> {
        self.authorizer_token(query)?;
        if str_field(body, "path").is_empty() {
            return Err(err(41030, "invalid page"));
        }
        // A JPEG's first bytes are enough for a client that only passes the bytes on.
        Ok(Reply::Bytes {
            content_type: "image/jpeg",
            body: vec![
                0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
            ],
        })
    }
}
