//! A loopback stand-in for Amazon EventBridge's `PutEvents`, spoken to by the real SDK (point
//! `AWS_ENDPOINT_URL_EVENTBRIDGE`, or the client's endpoint, at [`FakeBus::endpoint_url`]). It
//! speaks the AWS JSON 1.1 protocol of the real service (`X-Amz-Target: AWSEvents.PutEvents`,
//! `{"Entries": [...]}`), keeps what it accepted, and can be told to fail as EventBridge does:
//! refuse whole requests (HTTP 500 `InternalException`, which the SDK retries), fail each entry
//! (HTTP 200 with `FailedEntryCount`), or not answer at all. Setting [`BusMode::Accept`] again is
//! the recovery.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// How the bus answers from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusMode {
    Accept,
    /// HTTP 500 `InternalException` for every request.
    Refuse,
    /// HTTP 200, every entry failed with `InternalFailure`.
    FailEntries,
    /// No answer for a minute: the client's timeout ends the attempt.
    Hang,
}

/// One event the bus accepted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BusEntry {
    pub source: String,
    pub detail_type: String,
    /// `Detail`, parsed.
    pub detail: Value,
    pub event_bus_name: String,
}

struct BusState {
    mode: BusMode,
    accepted: Vec<BusEntry>,
    requests: usize,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<BusState>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BusState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The fake bus, serving until dropped.
pub struct FakeBus {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl FakeBus {
    /// On a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(0).await
    }

    /// On loopback `port` (0: a free one). Besides `PutEvents` it answers `GET /events` with
    /// every entry accepted, in order, as JSON.
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        let shared = Shared(Arc::new(Mutex::new(BusState {
            mode: BusMode::Accept,
            accepted: Vec::new(),
            requests: 0,
        })));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/", post(put_events))
            .route("/events", get(list_events))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The endpoint to give the SDK.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The product's bus `name` on this fake, through the real SDK with the product's timeouts.
    pub async fn event_bus(&self, name: &str) -> wxcomponent::events::EventBus {
        let sdk = wxcomponent::tls::sdk_config(None).await;
        let config = aws_sdk_eventbridge::config::Builder::from(&sdk)
            .endpoint_url(self.endpoint_url())
            .timeout_config(wxcomponent::events::eventbridge_timeouts())
            .build();
        wxcomponent::events::EventBus::new(aws_sdk_eventbridge::Client::from_conf(config), name)
    }

    pub fn set_mode(&self, mode: BusMode) {
        self.shared.lock().mode = mode;
    }

    /// Every entry accepted, in order.
    pub fn accepted(&self) -> Vec<BusEntry> {
        self.shared.lock().accepted.clone()
    }

    /// The accepted entries of one detail type.
    pub fn accepted_of(&self, detail_type: &str) -> Vec<BusEntry> {
        self.accepted()
            .into_iter()
            .filter(|e| e.detail_type == detail_type)
            .collect()
    }

    /// How many `PutEvents` requests arrived, answered or not.
    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }
}

impl Drop for FakeBus {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn list_events(State(shared): State<Shared>) -> axum::Json<Vec<BusEntry>> {
    axum::Json(shared.lock().accepted.clone())
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({ "__type": kind, "message": message }).to_string(),
    )
        .into_response()
}

async fn put_events(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "AWSEvents.PutEvents" {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "only PutEvents is served here",
        );
    }
    let mode = {
        let mut state = shared.lock();
        state.requests += 1;
        state.mode
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "the body is not JSON",
        );
    };
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    if entries.is_empty() || entries.len() > 10 {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "PutEvents takes 1 to 10 entries",
        );
    }
    match mode {
        BusMode::Refuse => {
            return aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalException",
                "the fake bus refuses",
            );
        }
        BusMode::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return aws_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalException",
                "the fake bus hung",
            );
        }
        BusMode::FailEntries => {
            let failed: Vec<Value> = entries
                .iter()
                .map(|_| json!({ "ErrorCode": "InternalFailure", "ErrorMessage": "try again" }))
                .collect();
            let body = json!({ "FailedEntryCount": failed.len(), "Entries": failed });
            return (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.1")],
                body.to_string(),
            )
                .into_response();
        }
        BusMode::Accept => {}
    }
    let mut answers = Vec::new();
    let mut state = shared.lock();
    for entry in &entries {
        let detail = entry["Detail"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null);
        state.accepted.push(BusEntry {
            source: entry["Source"].as_str().unwrap_or_default().to_owned(),
            detail_type: entry["DetailType"].as_str().unwrap_or_default().to_owned(),
            detail,
            event_bus_name: entry["EventBusName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        });
        answers.push(json!({ "EventId": uuid::Uuid::new_v4().to_string() }));
    }
    let body = json!({ "FailedEntryCount": 0, "Entries": answers });
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}
