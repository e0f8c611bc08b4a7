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
//! | `POST /__sim/push/{kind}` | reserved for pushes (501 until the crypto lands) |

use super::Shared;
use super::faults::{Fault, FaultRule};
use super::state::Reply;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
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
        .route("/push/{kind}", post(push));
    Router::new()
        .nest("/__sim", control)
        .fallback(wechat)
        .with_state(shared)
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

    let (index, fault) = {
        let mut state = shared.lock();
        let index = state.record(method.as_str(), &path, query.clone(), json_body.clone());
        (index, state.faults.take(&path))
    };
    match fault {
        None => {}
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

    let mut state = shared.lock();
    let reply = state
        .dispatch(method.as_str(), &path, &query, json_body.as_ref())
        .or_else(|| {
            super::catalog::answer(
                &state,
                method.as_str(),
                &path,
                &query,
                json_body.as_ref(),
                &body,
            )
        });
    match reply {
        Some(Reply::Json(value)) => Json(value).into_response(),
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
    shared.lock().calls.clear();
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

async fn push(Path(kind): Path<String>) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        format!("pushing {kind} needs the message crypto, which is not wired in yet"),
    )
        .into_response()
}
