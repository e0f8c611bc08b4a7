//! Code release as WeChat runs it for a mini program: the component's template library, the code
//! committed per account and its privacy check, audits decided on the sim clock (and pushed),
//! the component's monthly audit and expedite quotas, releases and phased (gray) releases.
//!
//! Errcodes follow WeChat's documentation and its answers on the developer forum:
//! commit 85014 (template not found) and 85013 (ext_json not a JSON object); submit_audit 61039
//! (privacy check still running), 85086 (no code committed), 85009 (an audit under way or
//! delayed), 85085 (monthly quota spent); release 85019 (no audit), 85020 (latest audit not
//! approved), 85052 (already released); grayrelease 85080 (not approved), 85081 (bad
//! percentage), 85082 (not above the running plan's); speedupaudit 89402 (not under audit), 89404
//! (already expedited), 89405 (expedite quota spent); undocodeaudit 87013 (5 withdrawals a day
//! or 10 a month spent); 9402202 for a step that overlaps another of the same account.

use super::state::State;
use super::{SimAudit, SimConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use wxcomponent::EpochSeconds;

/// A template of the component's library (`/wxa/gettemplatelist`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimTemplate {
    pub template_id: i64,
    pub user_version: String,
    pub user_desc: String,
    pub create_time: EpochSeconds,
}

/// The code an account has committed (`/wxa/commit`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimCode {
    pub template_id: i64,
    pub user_version: String,
    pub user_desc: String,
    /// The `ext_json` string, parsed.
    pub ext_json: Value,
    pub committed_at: EpochSeconds,
}

/// How WeChat's reviewers decide an account's audits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SimOutcome {
    /// Approved (status 0, `weapp_audit_success`).
    #[default]
    Pass,
    /// Rejected (status 1, `weapp_audit_fail` with the reason).
    Fail { reason: String },
    /// Delayed (status 4, `weapp_audit_delay`), then approved after another audit delay.
    Delay { reason: String },
}

/// A decided audit the sim is to push to the account's message URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditPush {
    pub(crate) appid: String,
    pub(crate) event: AuditEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuditEvent {
    Success {
        succ_time: EpochSeconds,
    },
    Fail {
        reason: String,
        fail_time: EpochSeconds,
        screenshot: String,
    },
    Delay {
        reason: String,
        delay_time: EpochSeconds,
    },
}

/// The account's latest audit, with what `SimAudit` does not show.
struct Audit {
    public: SimAudit,
    user_version: String,
    user_desc: String,
    submitted_at: EpochSeconds,
    /// When the reviewers decide next; `None` once decided (or decided by a test).
    due_at: Option<EpochSeconds>,
    delayed: bool,
    expedited: bool,
    reason: String,
}

#[derive(Debug, Clone, Copy)]
struct GrayPlan {
    status: i64,
    percentage: i64,
    created: EpochSeconds,
    debuger_first: bool,
    experiencer_first: bool,
}

#[derive(Default)]
struct Account {
    code: Option<SimCode>,
    /// When the privacy check of the committed code ends.
    privacy_done_at: EpochSeconds,
    audit: Option<Audit>,
    outcome: SimOutcome,
    /// The versions released, latest last (`revertcoderelease` goes back one).
    releases: Vec<String>,
    gray: Option<GrayPlan>,
    /// When its audits were withdrawn: 5 a Beijing day and 10 a Beijing month are allowed.
    withdrawals: Vec<EpochSeconds>,
}

/// The first `auditid` the sim hands out: the one of WeChat's documented sample answer.
const FIRST_AUDITID: i64 = 1_234_567;
/// The template of the documented `gettemplatelist` sample, present from the start.
const SAMPLE_TEMPLATE: i64 = 3;

/// The paths of the code-management steps WeChat refuses to overlap for one account.
const STEPS: [&str; 6] = [
    "/wxa/commit",
    "/wxa/submit_audit",
    "/wxa/release",
    "/wxa/grayrelease",
    "/wxa/undocodeaudit",
    "/wxa/revertcoderelease",
];

/// Whether a call is a code-management step (listing revertable versions is not).
pub(crate) fn is_step(path: &str, query: &BTreeMap<String, String>) -> bool {
    STEPS.contains(&path)
        && !(path == "/wxa/revertcoderelease"
            && query.get("action").map(String::as_str) == Some("get_history_version"))
}

/// The month of `at` in Beijing time (UTC+8), as months since year 0: audit quotas turn over
/// with it.
pub(crate) fn beijing_month(at: EpochSeconds) -> i64 {
    // The library's month (YYYYMM), the one the campaign engine counts the quota in.
    let yyyymm = i64::from(wxcomponent::clock::beijing_month(at));
    yyyymm / 100 * 12 + (yyyymm % 100 - 1)
}

pub(crate) struct CodeModel {
    templates: BTreeMap<i64, SimTemplate>,
    next_template_id: i64,
    accounts: HashMap<String, Account>,
    next_auditid: i64,
    /// Audits to decide, earliest first: (when, auditid, appid).
    due: BinaryHeap<Reverse<(EpochSeconds, i64, String)>>,
    /// Decided audits not yet handed to a pusher.
    pub(crate) pending_pushes: Vec<AuditPush>,
    quota_month: i64,
    audits_used: i64,
    speedups_used: i64,
    /// Accounts with a code-management step being handled.
    pub(crate) steps_in_flight: HashSet<String>,
    pub(crate) overlap_refusals: usize,
}

fn err(errcode: i64, errmsg: &str) -> Value {
    json!({ "errcode": errcode, "errmsg": errmsg })
}

impl CodeModel {
    pub(crate) fn new(now: EpochSeconds) -> Self {
        let mut templates = BTreeMap::new();
        templates.insert(
            SAMPLE_TEMPLATE,
            SimTemplate {
                template_id: SAMPLE_TEMPLATE,
                user_version: "1.0.0".into(),
                user_desc: "first template".into(),
                create_time: 1_488_965_944,
            },
        );
        Self {
            templates,
            next_template_id: SAMPLE_TEMPLATE + 1,
            accounts: HashMap::new(),
            next_auditid: FIRST_AUDITID,
            due: BinaryHeap::new(),
            pending_pushes: Vec::new(),
            quota_month: beijing_month(now),
            audits_used: 0,
            speedups_used: 0,
            steps_in_flight: HashSet::new(),
            overlap_refusals: 0,
        }
    }

    fn account(&mut self, appid: &str) -> &mut Account {
        self.accounts.entry(appid.to_owned()).or_default()
    }

    pub(crate) fn add_template(
        &mut self,
        user_version: &str,
        user_desc: &str,
        now: EpochSeconds,
    ) -> i64 {
        let id = self.next_template_id;
        self.next_template_id += 1;
        self.templates.insert(
            id,
            SimTemplate {
                template_id: id,
                user_version: user_version.to_owned(),
                user_desc: user_desc.to_owned(),
                create_time: now,
            },
        );
        id
    }

    pub(crate) fn committed_code(&self, appid: &str) -> Option<SimCode> {
        self.accounts.get(appid).and_then(|a| a.code.clone())
    }

    pub(crate) fn released_version(&self, appid: &str) -> Option<String> {
        self.accounts
            .get(appid)
            .and_then(|a| a.releases.last().cloned())
    }

    pub(crate) fn set_outcome(&mut self, appid: &str, outcome: SimOutcome) {
        self.account(appid).outcome = outcome;
    }

    /// Code uploaded without the component's API (WeChat's developer tools, say), its privacy
    /// check long done.
    pub(crate) fn upload_elsewhere(&mut self, appid: &str, now: EpochSeconds) -> SimCode {
        let code = SimCode {
            template_id: SAMPLE_TEMPLATE,
            user_version: "1.0.0".into(),
            user_desc: "uploaded elsewhere".into(),
            ext_json: json!({}),
            committed_at: now,
        };
        let account = self.account(appid);
        account.code = Some(code.clone());
        account.privacy_done_at = now;
        code
    }

    // ----- quota -----

    /// Starts a new month's quota when the Beijing month has turned.
    fn roll_quota(&mut self, now: EpochSeconds) {
        let month = beijing_month(now);
        if month != self.quota_month {
            self.quota_month = month;
            self.audits_used = 0;
            self.speedups_used = 0;
        }
    }

    pub(crate) fn set_audit_quota_rest(
        &mut self,
        config: &SimConfig,
        rest: i64,
        now: EpochSeconds,
    ) {
        self.roll_quota(now);
        self.audits_used = (config.audit_quota - rest).max(0);
    }

    fn quota(&mut self, config: &SimConfig, now: EpochSeconds) -> Value {
        self.roll_quota(now);
        json!({
            "errcode": 0,
            "errmsg": "ok",
            "rest": (config.audit_quota - self.audits_used).max(0),
            "limit": config.audit_quota,
            "speedup_rest": (config.speedup_quota - self.speedups_used).max(0),
            "speedup_limit": config.speedup_quota,
        })
    }

    // ----- audits -----

    /// A new audit of the account's code, under audit and decided `audit_delay` from now.
    pub(crate) fn start_audit(&mut self, appid: &str, now: EpochSeconds, audit_delay: i64) -> i64 {
        let auditid = self.next_auditid;
        self.next_auditid += 1;
        let due_at = now + audit_delay;
        let account = self.account(appid);
        let (user_version, user_desc) = account
            .code
            .as_ref()
            .map(|c| (c.user_version.clone(), c.user_desc.clone()))
            .unwrap_or_default();
        account.audit = Some(Audit {
            public: SimAudit {
                auditid,
                status: 2,
                released: false,
            },
            user_version,
            user_desc,
            submitted_at: now,
            due_at: Some(due_at),
            delayed: false,
            expedited: false,
            reason: String::new(),
        });
        self.due.push(Reverse((due_at, auditid, appid.to_owned())));
        auditid
    }

    /// A test decides the latest audit itself: no automatic decision and no push follow.
    pub(crate) fn set_audit_status(&mut self, appid: &str, status: i64) -> Option<SimAudit> {
        let audit = self.accounts.get_mut(appid)?.audit.as_mut()?;
        audit.public.status = status;
        audit.due_at = None;
        Some(audit.public)
    }

    pub(crate) fn latest_audit(&self, appid: &str) -> Option<SimAudit> {
        self.accounts
            .get(appid)
            .and_then(|a| a.audit.as_ref())
            .map(|a| a.public)
    }

    /// Decides every audit due by `now`, queueing the pushes that tell of the decisions.
    pub(crate) fn settle(&mut self, now: EpochSeconds, audit_delay: i64) {
        while let Some(Reverse((due_at, auditid, appid))) = self.due.peek().cloned() {
            if due_at > now {
                break;
            }
            self.due.pop();
            let Some(account) = self.accounts.get_mut(&appid) else {
                continue;
            };
            let outcome = account.outcome.clone();
            let Some(audit) = account.audit.as_mut() else {
                continue;
            };
            // A superseded, withdrawn or test-decided audit has no decision due.
            if audit.public.auditid != auditid || audit.due_at != Some(due_at) {
                continue;
            }
            audit.due_at = None;
            let event = match outcome {
                SimOutcome::Delay { reason } if !audit.delayed => {
                    audit.public.status = 4;
                    audit.delayed = true;
                    audit.reason = reason.clone();
                    let next = due_at + audit_delay;
                    audit.due_at = Some(next);
                    self.due.push(Reverse((next, auditid, appid.clone())));
                    AuditEvent::Delay {
                        reason,
                        delay_time: due_at,
                    }
                }
                SimOutcome::Fail { reason } => {
                    audit.public.status = 1;
                    audit.reason = reason.clone();
                    AuditEvent::Fail {
                        reason,
                        fail_time: due_at,
                        screenshot: String::new(),
                    }
                }
                SimOutcome::Pass | SimOutcome::Delay { .. } => {
                    audit.public.status = 0;
                    audit.reason.clear();
                    AuditEvent::Success { succ_time: due_at }
                }
            };
            self.pending_pushes.push(AuditPush { appid, event });
        }
    }

    // ----- the endpoints, after the catalogue checked token and required fields -----

    fn commit(
        &mut self,
        appid: &str,
        body: &Value,
        now: EpochSeconds,
        config: &SimConfig,
    ) -> Value {
        let template_id = match body.get("template_id") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let Some(template_id) = template_id.filter(|id| self.templates.contains_key(id)) else {
            return err(85014, "template not exist");
        };
        let ext_json = match body.get("ext_json").and_then(Value::as_str) {
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(v) if v.is_object() => v,
                _ => return err(85013, "invalid ext_json"),
            },
            None => return err(85013, "invalid ext_json"),
        };
        let str_of = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let account = self.account(appid);
        account.code = Some(SimCode {
            template_id,
            user_version: str_of("user_version"),
            user_desc: str_of("user_desc"),
            ext_json,
            committed_at: now,
        });
        account.privacy_done_at = now + config.privacy_check_delay;
        err(0, "ok")
    }

    fn privacy_running(&self, appid: &str, now: EpochSeconds) -> bool {
        self.accounts
            .get(appid)
            .is_some_and(|a| a.code.is_some() && now < a.privacy_done_at)
    }

    fn submit_audit(&mut self, appid: &str, now: EpochSeconds, config: &SimConfig) -> Value {
        if self.privacy_running(appid, now) {
            return err(
                61039,
                "code privacy check is not finished, please try later",
            );
        }
        let Some(account) = self.accounts.get(appid).filter(|a| a.code.is_some()) else {
            return err(85086, "must commit before submit audit");
        };
        if account
            .audit
            .as_ref()
            .is_some_and(|a| matches!(a.public.status, 2 | 4))
        {
            return err(85009, "already submit a version under auditing");
        }
        self.roll_quota(now);
        if self.audits_used >= config.audit_quota {
            return err(85085, "submit audit reach limit, please try later");
        }
        self.audits_used += 1;
        let auditid = self.start_audit(appid, now, config.audit_delay);
        json!({ "errcode": 0, "errmsg": "ok", "auditid": auditid })
    }

    fn latest_status(&self, appid: &str, answer: &mut Value) {
        if let Some(audit) = self.accounts.get(appid).and_then(|a| a.audit.as_ref()) {
            answer["auditid"] = json!(audit.public.auditid);
            answer["status"] = json!(audit.public.status);
            answer["reason"] = json!(audit.reason);
            answer["ScreenShot"] = json!("");
            answer["user_version"] = json!(audit.user_version);
            answer["user_desc"] = json!(audit.user_desc);
            answer["submit_audit_time"] = json!(audit.submitted_at);
        }
    }

    /// `get_auditstatus` for the account's latest audit answers its state; for another auditid
    /// (one the sim never handed out) the documented sample stands.
    fn audit_status(&self, appid: &str, body: &Value, answer: &mut Value) {
        let asked = body.get("auditid").and_then(Value::as_i64);
        if let Some(audit) = self.accounts.get(appid).and_then(|a| a.audit.as_ref())
            && asked == Some(audit.public.auditid)
        {
            answer["status"] = json!(audit.public.status);
            answer["reason"] = json!(audit.reason);
            answer["screenshot"] = json!("");
        }
    }

    /// Withdraws the account's audit if one is under audit (or delayed); 87013 once the account
    /// withdrew 5 today or 10 this month (Beijing time), whoever asked.
    pub(crate) fn undo(&mut self, appid: &str, now: EpochSeconds) -> Option<Value> {
        let account = self.accounts.get_mut(appid)?;
        let audit = account
            .audit
            .as_mut()
            .filter(|audit| matches!(audit.public.status, 2 | 4))?;
        let day = wxcomponent::clock::beijing_day(now);
        let today = account
            .withdrawals
            .iter()
            .filter(|at| wxcomponent::clock::beijing_day(**at) == day)
            .count();
        let this_month = account
            .withdrawals
            .iter()
            .filter(|at| beijing_month(**at) == beijing_month(now))
            .count();
        if today >= 5 || this_month >= 10 {
            return Some(err(87013, "no quota to undo code"));
        }
        account.withdrawals.push(now);
        audit.public.status = 3;
        audit.due_at = None;
        None
    }

    fn release(&mut self, appid: &str) -> Value {
        let Some(account) = self.accounts.get_mut(appid) else {
            return err(85019, "no version is under auditing");
        };
        let Some(audit) = account.audit.as_mut() else {
            return err(85019, "no version is under auditing");
        };
        if audit.public.status != 0 {
            return err(85020, "status not allowed");
        }
        if audit.public.released {
            return err(85052, "app is already released");
        }
        audit.public.released = true;
        account.releases.push(audit.user_version.clone());
        // A running phased release is completed by the full release.
        if let Some(plan) = account.gray.as_mut().filter(|p| p.status == 1) {
            plan.status = 3;
            plan.percentage = 100;
        }
        err(0, "ok")
    }

    fn revert_release(&mut self, appid: &str) {
        if let Some(account) = self.accounts.get_mut(appid)
            && account.releases.pop().is_some()
            && let Some(audit) = account.audit.as_mut()
        {
            // The reverted version is the approved one again, and can be released again.
            audit.public.released = false;
        }
    }

    fn gray_release(&mut self, appid: &str, body: &Value, now: EpochSeconds) -> Value {
        let percentage = body
            .get("gray_percentage")
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        if !(1..=100).contains(&percentage) {
            return err(85081, "invalid gray percentage");
        }
        let Some(account) = self.accounts.get_mut(appid) else {
            return err(85080, "audit not passed");
        };
        let Some(audit) = account.audit.as_ref().filter(|a| a.public.status == 0) else {
            return err(85080, "audit not passed");
        };
        if audit.public.released {
            return err(85052, "app is already released");
        }
        let flag = |k: &str| body.get(k).and_then(Value::as_bool).unwrap_or(false);
        match account.gray.as_mut().filter(|p| p.status == 1) {
            Some(plan) if percentage <= plan.percentage => {
                err(85082, "gray percentage must be higher than the current one")
            }
            Some(plan) => {
                plan.percentage = percentage;
                err(0, "ok")
            }
            None => {
                account.gray = Some(GrayPlan {
                    status: 1,
                    percentage,
                    created: now,
                    debuger_first: flag("support_debuger_first"),
                    experiencer_first: flag("support_experiencer_first"),
                });
                err(0, "ok")
            }
        }
    }

    fn gray_plan(&self, appid: &str) -> Value {
        let plan = self.accounts.get(appid).and_then(|a| a.gray);
        let plan = plan.map_or_else(
            || json!({ "status": 0, "create_timestamp": 0, "gray_percentage": 0, "support_experiencer_first": false, "support_debuger_first": false }),
            |p| {
                json!({
                    "status": p.status,
                    "create_timestamp": p.created,
                    "gray_percentage": p.percentage,
                    "support_experiencer_first": p.experiencer_first,
                    "support_debuger_first": p.debuger_first,
                })
            },
        );
        json!({ "errcode": 0, "errmsg": "ok", "gray_release_plan": plan })
    }

    fn revert_gray(&mut self, appid: &str) {
        if let Some(plan) = self
            .accounts
            .get_mut(appid)
            .and_then(|a| a.gray.as_mut())
            .filter(|p| p.status == 1)
        {
            plan.status = 4;
        }
    }

    fn speedup(
        &mut self,
        appid: &str,
        body: &Value,
        now: EpochSeconds,
        config: &SimConfig,
    ) -> Value {
        let auditid = body.get("auditid").and_then(Value::as_i64);
        let Some(audit) = self
            .accounts
            .get_mut(appid)
            .and_then(|a| a.audit.as_mut())
            .filter(|a| Some(a.public.auditid) == auditid && matches!(a.public.status, 2 | 4))
        else {
            return err(89402, "the audit is not in the audit queue");
        };
        if audit.expedited {
            return err(89404, "the audit was already expedited");
        }
        self.roll_quota(now);
        if self.speedups_used >= config.speedup_quota {
            return err(89405, "the expedite quota of this month is spent");
        }
        self.speedups_used += 1;
        if let Some(audit) = self.accounts.get_mut(appid).and_then(|a| a.audit.as_mut()) {
            audit.expedited = true;
        }
        err(0, "ok")
    }

    fn template_list(&self, query: &BTreeMap<String, String>) -> Value {
        // Every template of the sim is a regular one (template_type 0).
        let wanted = query.get("template_type").map(String::as_str);
        let list: Vec<Value> = if wanted.is_some_and(|t| t != "0") {
            Vec::new()
        } else {
            self.templates
                .values()
                .map(|t| {
                    json!({
                        "create_time": t.create_time,
                        "user_version": t.user_version,
                        "user_desc": t.user_desc,
                        "template_id": t.template_id,
                        "template_type": 0,
                        "source_miniprogram_appid": "wxsource000000001",
                        "source_miniprogram": "Template app",
                        "developer": "dev",
                    })
                })
                .collect()
        };
        json!({ "errcode": 0, "errmsg": "ok", "template_list": list })
    }
}

impl State {
    /// What a catalogued code-management call that passed the catalogue's checks does, and the
    /// answer that follows from the state (the documented sample otherwise).
    pub(crate) fn code_call(
        &mut self,
        path: &str,
        query: &BTreeMap<String, String>,
        body: Option<&Value>,
        answer: &mut Value,
    ) {
        if answer.get("errcode").and_then(Value::as_i64).unwrap_or(0) != 0 {
            return;
        }
        let now = self.now();
        let empty = Value::Null;
        let body = body.unwrap_or(&empty);
        if path == "/wxa/gettemplatelist" {
            *answer = self.code.template_list(query);
            return;
        }
        let Ok(appid) = self.authorizer_token(query) else {
            return;
        };
        let config = self.config.clone();
        let code = &mut self.code;
        code.settle(now, config.audit_delay);
        match path {
            "/wxa/commit" => *answer = code.commit(&appid, body, now, &config),
            "/wxa/security/get_code_privacy_info" if code.privacy_running(&appid, now) => {
                *answer = err(
                    61039,
                    "code privacy check is not finished, please try later",
                );
            }
            "/wxa/submit_audit" => *answer = code.submit_audit(&appid, now, &config),
            "/wxa/get_latest_auditstatus" => code.latest_status(&appid, answer),
            "/wxa/get_auditstatus" => code.audit_status(&appid, body, answer),
            "/wxa/undocodeaudit" => {
                if let Some(refusal) = code.undo(&appid, now) {
                    *answer = refusal;
                }
            }
            "/wxa/release" => *answer = code.release(&appid),
            "/wxa/revertcoderelease" if is_step(path, query) => code.revert_release(&appid),
            "/wxa/grayrelease" => *answer = code.gray_release(&appid, body, now),
            "/wxa/getgrayreleaseplan" => *answer = code.gray_plan(&appid),
            "/wxa/revertgrayrelease" => code.revert_gray(&appid),
            "/wxa/queryquota" => *answer = code.quota(&config, now),
            "/wxa/speedupaudit" => *answer = code.speedup(&appid, body, now, &config),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beijing_month_turns_at_midnight_utc_plus_8() {
        // 2026-01-31T15:59:59Z is 23:59:59 in Beijing; a second later February begins there.
        let last_second = 1_769_875_199;
        assert_eq!(beijing_month(last_second), 2026 * 12);
        assert_eq!(beijing_month(last_second + 1), 2026 * 12 + 1);
        assert_eq!(beijing_month(1_767_225_600), 2026 * 12);
    }

    #[test]
    fn a_delayed_audit_is_decided_twice_and_a_superseded_one_never() {
        let mut m = CodeModel::new(0);
        m.upload_elsewhere("wxa", 0);
        m.set_outcome(
            "wxa",
            SimOutcome::Delay {
                reason: "busy".into(),
            },
        );
        let first = m.start_audit("wxa", 0, 100);
        m.settle(99, 100);
        assert!(m.pending_pushes.is_empty());
        m.settle(100, 100);
        assert_eq!(m.latest_audit("wxa").map(|a| a.status), Some(4));
        m.settle(200, 100);
        assert_eq!(m.latest_audit("wxa").map(|a| a.status), Some(0));
        let events: Vec<_> = m.pending_pushes.drain(..).map(|p| p.event).collect();
        assert_eq!(
            events,
            vec![
                AuditEvent::Delay {
                    reason: "busy".into(),
                    delay_time: 100
                },
                AuditEvent::Success { succ_time: 200 },
            ]
        );

        // An audit replaced by a newer one before its time is not decided.
        m.start_audit("wxa", 300, 100);
        let newer = m.start_audit("wxa", 350, 100);
        assert!(newer > first);
        m.settle(420, 100);
        assert!(m.pending_pushes.is_empty());
    }
}
