//! The HTTP side of the sim: an accept loop that can hang up on a connection (for the `drop`
//! fault), the catch-all WeChat handler, and the control routes:
//!
//! | route | effect |
//! |---|---|
//! | `GET /__sim/calls`, `DELETE /__sim/calls` | recorded WeChat calls; forget them |
//! | `GET /__sim/unmatched` | calls to unknown paths |
//! | `POST /__sim/faults` `{"path", "fault": {"kind": "latency", "ms"} \| {"kind": "errcode", "errcode"} \| {"kind": "status", "status"} \| {"kind": "drop"}, "times"?}` | inject (no `times`: always) |
//! | `DELETE /__sim/faults` | clear faults |
//! | `POST /__sim/ticket` `{"ticket"?}` | make a ticket known and current (random if absent); answers `{"ticket"}` |
//! | `POST /__sim/authorize` `{"authorizer_appid"}` | a merchant authorizes; answers `{"auth_code"}` |
//! | `POST /__sim/authorizers` `{"authorizer_appid"}` | add an authorized account; answers its tokens |
//! | `DELETE /__sim/authorizers/{appid}` | the merchant revokes |
//! | `GET /__sim/messages` | customer-service messages sent |
//! | `GET /__sim/component-token` | the latest component token |
//! | `POST /__sim/clock/advance` `{"seconds"}` | move a manual clock (409 on the system clock) |
//! | `PUT /__sim/push-targets` `{"authorization_event_url"?, "message_url"?}` | where pushes go |
//! | `POST /__sim/push/ticket` | push a fresh ticket; answers `{"ticket", "reply"}` |
//! | `POST /__sim/push/{authorized\|updateauthorized}` `{"authorizer_appid"}` | answers `{"auth_code", "reply"}` |
//! | `POST /__sim/push/unauthorized` `{"authorizer_appid"}` | revoke and push; answers `{"reply"}` |
//! | `POST /__sim/push/text` `{"authorizer_appid", "from_user"?, "content"}` | a user's text message; `{"reply"}` |
//! | `POST /__sim/push/event` `{"authorizer_appid", "from_user"?, "event", "fields"?: {name: value}}` | an event; `{"reply"}` |
//! | `POST /__sim/templates` `{"user_version", "user_desc"}` | add a code template; answers `{"template_id"}` |
//! | `PUT /__sim/audit-outcomes/{appid}` `{"outcome": "pass"}` \| `{"outcome": "fail" \| "delay", "reason"}` | how the account's audits are decided |
//! | `PUT /__sim/audit-quota` `{"rest"}` | what is left of this month's audit quota |
//! | `PUT /__sim/func-info/{appid}` `{"func_info": [id, ...]}` | the permission sets the account grants |
//! | `GET /__sim/code/{appid}` | `{"committed", "released_version", "latest_audit"}` of the account |
//! | `GET /__sim/call-count?path=&appid=` | `{"count"}` of calls to `path` with that account's token |
//! | `GET /__sim/overlap-refusals` | `{"count"}` of steps refused with 9402202 |
//! | `POST /__sim/audits/deliver` | decide and push the audits due now; answers `[{"appid", "reply"} \| {"appid", "error"}]` |
//!
//! A push's `reply` is `{"status", "body", "decrypted"}`; a push that cannot be delivered answers 502.
//! After a successful `api_start_push_ticket` the new ticket is pushed too, if a target is set.
//! Decided audits are pushed to the message URL by a background task on the system clock (every
//! 500 ms), or through `POST /__sim/audits/deliver`.

use super::Shared;
use super::code::SimOutcome;
use super::faults::{Fault, FaultRule};
use super::pusher::{self as push, AuthorizationEvent, MessageField, PushError, PushTargets};
use super::state::Reply;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Notify;
use tower::ServiceExt;

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
struct HangUp(Arc<Notify>);

pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let router = router(shared);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let hang_up = Arc::new(Notify::new());
            let for_requests = hang_up.clone();
            let service = hyper::service::service_fn(move |mut request| {
                request
                    .extensions_mut()
                    .insert(HangUp(for_requests.clone()));
                router.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection future closes the socket with nothing written.
            tokio::select! {
                _ = connection => {}
                _ = hang_up.notified() => {}
            }
        });
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let control = Router::new()
        .route("/calls", get(calls).delete(clear_calls))
        .route("/unmatched", get(unmatched))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/ticket", post(set_ticket))
        .route("/authorize", post(authorize))
        .route("/authorizers", post(add_authorizer))
        .route("/authorizers/{appid}", delete(revoke))
        .route("/messages", get(messages))
        .route("/component-token", get(component_token))
        .route("/clock/advance", post(advance_clock))
        .route("/push-targets", put(set_push_targets))
        .route("/push/{kind}", post(push))
        .route("/templates", post(add_template))
        .route("/audit-outcomes/{appid}", put(set_audit_outcome))
        .route("/audit-quota", put(set_audit_quota))
        .route("/func-info/{appid}", put(set_func_info))
        .route("/code/{appid}", get(account_code))
        .route("/call-count", get(call_count))
        .route("/overlap-refusals", get(overlap_refusals))
        .route("/audits/deliver", post(deliver_audits))
        .route("/auth/confirm", get(super::auth_page::confirm))
        .route("/landing", get(super::auth_page::landing));
    Router::new()
        .route(
            "/cgi-bin/componentloginpage",
            get(super::auth_page::login_page),
        )
        .route(
            "/wxaopen/safe/bindcomponent",
            get(super::auth_page::login_page),
        )
        .route(
            "/connect/oauth2/authorize",
            get(super::auth_page::oauth_page),
        )
        .nest("/__sim", control)
        .fallback(wechat)
        .with_state(shared)
}

/// One call being handled, for [`super::WechatSim::max_in_flight`].
struct InFlight {
    shared: Arc<Shared>,
    path: String,
}

impl InFlight {
    fn enter(shared: &Arc<Shared>, path: &str) -> Self {
        let mut state = shared.lock();
        let (now, max) = state.in_flight.entry(path.to_owned()).or_default();
        *now += 1;
        *max = (*max).max(*now);
        Self {
            shared: shared.clone(),
            path: path.to_owned(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((now, _)) = self.shared.lock().in_flight.get_mut(&self.path) {
            *now = now.saturating_sub(1);
        }
    }
}

/// WeChat's errcode for a code-management step overlapping another of the same account.
const OVERLAPPING_STEP: i64 = 9_402_202;

/// A code-management step being handled for an account (see [`super::code::is_step`]).
struct StepInFlight {
    shared: Arc<Shared>,
    appid: String,
}

impl Drop for StepInFlight {
    fn drop(&mut self) {
        self.shared.lock().code.steps_in_flight.remove(&self.appid);
    }
}

/// Every WeChat path: record, apply a fault if one is set, then answer like WeChat.
async fn wechat(
    State(shared): State<Arc<Shared>>,
    hang_up: Option<Extension<HangUp>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let json_body: Option<Value> = serde_json::from_slice(&body).ok();
    // Log the path only: queries and bodies hold tokens and secrets.
    tracing::debug!(%method, path, "sim received a WeChat call");

    let (index, fault, step) = {
        let mut state = shared.lock();
        let index = state.record(method.as_str(), &path, query.clone(), json_body.clone());
        // WeChat refuses a code-management step while another for the same account is being
        // handled, without effect (and without spending a fault meant for the call in flight).
        let step = match super::code::is_step(&path, &query)
            .then(|| state.authorizer_token(&query).ok())
            .flatten()
        {
            Some(appid) if state.code.steps_in_flight.contains(&appid) => {
                state.code.overlap_refusals += 1;
                return Json(json!({
                    "errcode": OVERLAPPING_STEP,
                    "errmsg": "请勿频繁提交，待上一次操作完成后再提交",
                }))
                .into_response();
            }
            Some(appid) => {
                state.code.steps_in_flight.insert(appid.clone());
                Some(StepInFlight {
                    shared: shared.clone(),
                    appid,
                })
            }
            None => None,
        };
        (index, state.faults.take(&path), step)
    };
    // Both count until this handler ends: answered, or dropped when the client hangs up.
    let _step = step;
    let _in_flight = InFlight::enter(&shared, &path);
    let mut late_answer = None;
    match fault {
        None => {}
        Some(Fault::LateAnswer { ms }) => late_answer = Some(std::time::Duration::from_millis(ms)),
        Some(Fault::Latency { ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Some(Fault::Errcode { errcode }) => {
            return Json(json!({ "errcode": errcode, "errmsg": "injected by the sim" }))
                .into_response();
        }
        Some(Fault::Status { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, "injected by the sim").into_response();
        }
        Some(Fault::Drop) => {
            if let Some(Extension(HangUp(notify))) = hang_up {
                notify.notify_one();
                std::future::pending::<()>().await;
            }
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }

    let response = answer(
        &shared,
        &method,
        &path,
        &query,
        json_body.as_ref(),
        &body,
        index,
    );
    if let Some(delay) = late_answer {
        tokio::time::sleep(delay).await;
    }
    response
}

/// The endpoint's answer (the call takes effect here).
fn answer(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    json_body: Option<&Value>,
    body: &Bytes,
    index: usize,
) -> Response {
    let mut state = shared.lock();
    let reply = state
        .dispatch(method.as_str(), path, query, json_body)
        .or_else(|| super::catalog::answer(&state, method.as_str(), path, query, json_body, body));
    match reply {
        Some(Reply::Json(mut value)) => {
            state.code_call(path, query, json_body, &mut value);
            // As WeChat does, follow a granted api_start_push_ticket with the push itself.
            if path == "/cgi-bin/component/api_start_push_ticket"
                && value.get("errcode").and_then(Value::as_i64) == Some(0)
                && state.config.push.authorization_event_url.is_some()
                && let Some(ticket) = state.current_ticket.clone()
            {
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = push::push_ticket_value(&shared, &ticket).await {
                        tracing::warn!(error = %e, "the sim could not push the requested ticket");
                    }
                });
            }
            Json(value).into_response()
        }
        Some(Reply::Bytes { content_type, body }) => {
            ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => {
            if let Some(call) = state.calls.get_mut(index) {
                call.matched = false;
            }
            Json(json!({ "errcode": 40066, "errmsg": "invalid url" })).into_response()
        }
    }
}

async fn calls(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().calls.clone()).into_response()
}

async fn clear_calls(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().clear_calls();
    StatusCode::NO_CONTENT
}

async fn unmatched(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let list: Vec<_> = state.calls.iter().filter(|c| !c.matched).cloned().collect();
    Json(list).into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, Json(rule): Json<FaultRule>) -> StatusCode {
    shared.lock().faults.push(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct TicketRequest {
    ticket: Option<String>,
}

async fn set_ticket(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<TicketRequest>,
) -> Response {
    let mut state = shared.lock();
    let ticket = match request.ticket {
        Some(t) => {
            state.set_ticket(&t);
            t
        }
        None => state.issue_ticket(),
    };
    Json(json!({ "ticket": ticket })).into_response()
}

#[derive(Deserialize)]
struct AppIdRequest {
    authorizer_appid: String,
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<AppIdRequest>,
) -> Response {
    let code = shared.lock().authorize(&request.authorizer_appid);
    Json(json!({ "auth_code": code })).into_response()
}

async fn add_authorizer(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<AppIdRequest>,
) -> Response {
    Json(shared.lock().add_authorizer(&request.authorizer_appid)).into_response()
}

async fn revoke(State(shared): State<Arc<Shared>>, Path(appid): Path<String>) -> StatusCode {
    shared.lock().revoke(&appid);
    StatusCode::NO_CONTENT
}

async fn messages(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().messages.clone()).into_response()
}

async fn component_token(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "component_access_token": shared.lock().current_component_token })).into_response()
}

#[derive(Deserialize)]
struct AdvanceRequest {
    seconds: i64,
}

async fn advance_clock(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<AdvanceRequest>,
) -> Response {
    match &shared.clock.manual {
        Some(clock) => {
            clock.advance(request.seconds);
            Json(json!({ "now": wxcomponent::Clock::now(clock) })).into_response()
        }
        None => (StatusCode::CONFLICT, "the sim runs on the system clock").into_response(),
    }
}

async fn set_push_targets(
    State(shared): State<Arc<Shared>>,
    Json(targets): Json<PushTargets>,
) -> StatusCode {
    shared.lock().config.push = targets;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize, Default)]
struct PushRequest {
    authorizer_appid: Option<String>,
    /// `authorized` only: the account is an official account rather than a mini program.
    #[serde(default)]
    official_account: bool,
    from_user: Option<String>,
    content: Option<String>,
    event: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
}

fn push_failed(e: PushError) -> Response {
    let status = match e {
        PushError::UnknownAuthorizer(_) => StatusCode::NOT_FOUND,
        PushError::NoTarget(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_GATEWAY,
    };
    (status, e.to_string()).into_response()
}

fn missing(field: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("`{field}` is required")).into_response()
}

async fn push(
    State(shared): State<Arc<Shared>>,
    Path(kind): Path<String>,
    body: Bytes,
) -> Response {
    let request: PushRequest = if body.is_empty() {
        PushRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    };
    let from_user = request
        .from_user
        .as_deref()
        .unwrap_or("oSimUser0000000000000000000");
    let event = match kind.as_str() {
        "ticket" => {
            return match push::push_ticket(&shared).await {
                Ok(p) => Json(json!({ "ticket": p.ticket, "reply": p.reply })).into_response(),
                Err(e) => push_failed(e),
            };
        }
        "authorized" => Some(AuthorizationEvent::Authorized),
        "updateauthorized" => Some(AuthorizationEvent::UpdateAuthorized),
        "unauthorized" => Some(AuthorizationEvent::Unauthorized),
        _ => None,
    };
    let Some(appid) = request.authorizer_appid.as_deref() else {
        return missing("authorizer_appid");
    };
    if let Some(event) = event {
        if request.official_account {
            shared.lock().make_official_account(appid);
        }
        return match push::push_authorization(&shared, event, appid).await {
            Ok((code, reply)) => Json(json!({ "auth_code": code, "reply": reply })).into_response(),
            Err(e) => push_failed(e),
        };
    }
    let result = match kind.as_str() {
        "text" => {
            let Some(content) = request.content.as_deref() else {
                return missing("content");
            };
            let body = [
                ("MsgType", MessageField::Text("text")),
                ("Content", MessageField::Text(content)),
                (
                    "MsgId",
                    MessageField::Number(rand::random_range(1..i64::MAX)),
                ),
            ];
            push::push_message(&shared, appid, from_user, &body).await
        }
        "event" => {
            let Some(event) = request.event.as_deref() else {
                return missing("event");
            };
            let texts: Vec<(String, String)> = request
                .fields
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect();
            let numbers: Vec<(String, i64)> = request
                .fields
                .iter()
                .filter_map(|(k, v)| v.as_i64().map(|n| (k.clone(), n)))
                .collect();
            let mut body = vec![
                ("MsgType", MessageField::Text("event")),
                ("Event", MessageField::Text(event)),
            ];
            body.extend(
                texts
                    .iter()
                    .map(|(k, v)| (k.as_str(), MessageField::Text(v))),
            );
            body.extend(
                numbers
                    .iter()
                    .map(|(k, n)| (k.as_str(), MessageField::Number(*n))),
            );
            push::push_message(&shared, appid, from_user, &body).await
        }
        other => {
            return (StatusCode::NOT_FOUND, format!("no push kind `{other}`")).into_response();
        }
    };
    match result {
        Ok(reply) => Json(json!({ "reply": reply })).into_response(),
        Err(e) => push_failed(e),
    }
}

#[derive(Deserialize)]
struct TemplateRequest {
    user_version: String,
    user_desc: String,
}

async fn add_template(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<TemplateRequest>,
) -> Response {
    let mut state = shared.lock();
    let now = state.now();
    let id = state
        .code
        .add_template(&request.user_version, &request.user_desc, now);
    Json(json!({ "template_id": id })).into_response()
}

async fn set_audit_outcome(
    State(shared): State<Arc<Shared>>,
    Path(appid): Path<String>,
    Json(outcome): Json<SimOutcome>,
) -> StatusCode {
    shared.lock().code.set_outcome(&appid, outcome);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct QuotaRequest {
    rest: i64,
}

async fn set_audit_quota(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<QuotaRequest>,
) -> StatusCode {
    let mut state = shared.lock();
    let now = state.now();
    let config = state.config.clone();
    state.code.set_audit_quota_rest(&config, request.rest, now);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct FuncInfoRequest {
    func_info: Vec<i64>,
}

async fn set_func_info(
    State(shared): State<Arc<Shared>>,
    Path(appid): Path<String>,
    Json(request): Json<FuncInfoRequest>,
) -> StatusCode {
    shared.lock().set_func_info(&appid, request.func_info);
    StatusCode::NO_CONTENT
}

async fn account_code(State(shared): State<Arc<Shared>>, Path(appid): Path<String>) -> Response {
    let mut state = shared.lock();
    let latest = state.latest_audit(&appid);
    Json(json!({
        "committed": state.code.committed_code(&appid),
        "released_version": state.code.released_version(&appid),
        "latest_audit": latest,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct CallCountQuery {
    path: String,
    appid: String,
}

async fn call_count(
    State(shared): State<Arc<Shared>>,
    axum::extract::Query(query): axum::extract::Query<CallCountQuery>,
) -> Response {
    let count = shared.lock().call_count_for(&query.path, &query.appid);
    Json(json!({ "count": count })).into_response()
}

async fn overlap_refusals(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "count": shared.lock().code.overlap_refusals })).into_response()
}

async fn deliver_audits(State(shared): State<Arc<Shared>>) -> Response {
    let results: Vec<Value> = push::deliver_due_audits(&shared)
        .await
        .into_iter()
        .map(|(appid, result)| match result {
            Ok(reply) => json!({ "appid": appid, "reply": reply }),
            Err(e) => json!({ "appid": appid, "error": e.to_string() }),
        })
        .collect();
    Json(results).into_response()
}
