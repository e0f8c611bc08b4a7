//! The `ticket-callback` function: WeChat's two push URLs, adapted to [`PushService`].
//!
//! | route | use case |
//! |---|---|
//! | `POST /wechat/component` | [`PushService::handle_component_push`] (the authorization event URL) |
//! | `POST /wechat/message/{appid}` | [`PushService::handle_message_push`] (the message URL, `$APPID$`) |
//!
//! An axum router served by `lambda_http` (the stage taken off by `wxcomponent-http`). This
//! module only routes, reads the request, and maps results to statuses. Every rule is in
//! `wxcomponent::service::push`. Response bodies are short fixed texts; error details go to the
//! log (they never carry secrets), never to the caller.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lambda_http::Body;
use wxcomponent::config::TicketCallbackConfig;
use wxcomponent::crypto::{MAX_BODY_LEN, PushQuery};
use wxcomponent::service::{PushError, PushReply, PushService, PushSettings, TokenSettings};
use wxcomponent::store::{DynamoPushLedger, DynamoStore, PushLedger, Store};
use wxcomponent::wechat::ClientConfig;
use wxcomponent::{AuthorizerAppId, Clock, MessageCrypto};

/// The function's handler: cheap to clone, one per process.
pub struct TicketCallback<S, L> {
    push: PushService<S, L>,
    router: Router,
}

impl<S, L> Clone for TicketCallback<S, L> {
    fn clone(&self) -> Self {
        Self {
            push: self.push.clone(),
            router: self.router.clone(),
        }
    }
}

/// The answer to a body over [`MAX_BODY_LEN`].
fn too_large() -> Response {
    tracing::warn!("push refused: body too large");
    text(StatusCode::PAYLOAD_TOO_LARGE, "payload too large")
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A push as it arrived: its query and body, and the time its invocation has left.
struct Push {
    query: PushQuery,
    body: Bytes,
    time_left: Option<Duration>,
}

/// Reads a push. Its size was checked before: the router refuses a body over [`MAX_BODY_LEN`]
/// (`wxcomponent_http::limit_body`), so reading fails once it passes that.
async fn read_push(
    query: Option<String>,
    request: Request,
    clock: &dyn Clock,
) -> Result<Push, Response> {
    let time_left = wxcomponent_http::deadline_ms(&request)
        .and_then(|deadline| wxcomponent::clock::time_until(deadline, clock));
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .map_err(|_| too_large())?;
    let query = PushQuery::from_pairs(url::form_urlencoded::parse(
        query.unwrap_or_default().as_bytes(),
    ));
    Ok(Push {
        query,
        body,
        time_left,
    })
}

async fn component_push<S: Store + 'static, L: PushLedger + 'static>(
    State(push): State<PushService<S, L>>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let pushed = match read_push(query, request, push.clock()).await {
        Ok(pushed) => pushed,
        Err(refused) => return refused,
    };
    // Boxed: the push service's futures are deep; on the heap they cannot overflow a stack.
    let result =
        Box::pin(push.handle_component_push(&pushed.query, &pushed.body, pushed.time_left)).await;
    answer(result)
}

async fn message_push<S: Store + 'static, L: PushLedger + 'static>(
    State(push): State<PushService<S, L>>,
    Path(appid): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let Ok(appid) = AuthorizerAppId::parse(&appid) else {
        tracing::warn!("push refused: the path does not name an appid");
        return text(StatusCode::BAD_REQUEST, "bad request");
    };
    let pushed = match read_push(query, request, push.clock()).await {
        Ok(pushed) => pushed,
        Err(refused) => return refused,
    };
    let result =
        Box::pin(push.handle_message_push(&appid, &pushed.query, &pushed.body, pushed.time_left))
            .await;
    answer(result)
}

fn answer(result: Result<PushReply, PushError>) -> Response {
    match result {
        Ok(reply) => reply_response(reply),
        Err(e) => error_response(&e),
    }
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The two push URLs (with or without a trailing `/`, as the console may be set either way), for
/// bodies up to [`MAX_BODY_LEN`].
fn router<S: Store + 'static, L: PushLedger + 'static>(push: PushService<S, L>) -> Router {
    let routes = Router::new()
        .route("/wechat/component", post(component_push::<S, L>))
        .route("/wechat/component/", post(component_push::<S, L>))
        .route("/wechat/message/{appid}", post(message_push::<S, L>))
        .route("/wechat/message/{appid}/", post(message_push::<S, L>))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(push);
    wxcomponent_http::limit_body(routes, MAX_BODY_LEN, too_large)
}

impl<S: Store + 'static, L: PushLedger + 'static> TicketCallback<S, L> {
    pub fn new(push: PushService<S, L>) -> Self {
        Self {
            router: router(push.clone()),
            push,
        }
    }

    pub fn push_service(&self) -> &PushService<S, L> {
        &self.push
    }

    /// The router, as Lambda serves it.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Answers one request in process, as Lambda would. Every request gets an answer; nothing
    /// here fails the invocation.
    pub async fn handle(&self, request: lambda_http::Request) -> lambda_http::Response<Body> {
        wxcomponent_http::answer(self.router(), request).await
    }
}

fn reply_response(reply: PushReply) -> Response {
    let content_type = match reply {
        PushReply::Encrypted(_) => "application/xml; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    let mut response = reply.body().to_owned().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The status table of docs/architecture.md. Refused pushes are 4xx (WeChat will not fix them by
/// retrying); our own failures are 503 so that WeChat retries.
fn error_response(e: &PushError) -> Response {
    let chain = wxcomponent::logging::error_chain(e);
    match e {
        PushError::TooLarge { .. } => {
            tracing::warn!(error = %chain, "push refused");
            text(StatusCode::PAYLOAD_TOO_LARGE, "payload too large")
        }
        PushError::BadSignature(_) | PushError::Stale => {
            tracing::warn!(error = %chain, "push refused");
            text(StatusCode::FORBIDDEN, "forbidden")
        }
        PushError::Rejected(_)
        | PushError::Malformed(_)
        | PushError::WrongComponent
        | PushError::WrongAccount
        | PushError::UnknownAccount
        | PushError::MalformedAuthCode => {
            tracing::warn!(error = %chain, "push refused");
            text(StatusCode::BAD_REQUEST, "bad request")
        }
        PushError::InProgress => {
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, "busy, retry");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        PushError::OutOfTime
        | PushError::Authorization(_)
        | PushError::Action(_)
        | PushError::Store(_) => {
            tracing::error!(error = %chain, "push failed; WeChat will retry");
            text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
        }
    }
}

/// The WeChat client of the push path: WeChat waits 5 s for the whole answer, so one call with its
/// retries stays well inside that (the push's own budget, [`PushSettings::delivery_budget`],
/// bounds the several calls one push may make).
pub fn push_client_config(config: &wxcomponent::Config) -> ClientConfig {
    let mut client_config = ClientConfig::from_config(config);
    tune_for_pushes(&mut client_config);
    client_config
}

/// The push path's timeouts and retry budget, applied to `client`.
pub fn tune_for_pushes(client: &mut ClientConfig) {
    client.connect_timeout = Duration::from_secs(1);
    client.timeout = Duration::from_millis(2500);
    client.retry.max_elapsed = Duration::from_secs(3);
    client.retry.max_backoff = Duration::from_millis(500);
}

/// The production wiring ([`wxcomponent::wiring::production`]) with the push path's WeChat
/// client, built once per process.
pub async fn from_config(
    config: &TicketCallbackConfig,
) -> Result<TicketCallback<DynamoStore, DynamoPushLedger>, wxcomponent::wechat::WechatError> {
    let app = wxcomponent::wiring::production(
        &config.app,
        push_client_config(&config.app),
        TokenSettings::default(),
    )
    .await?;
    let crypto = MessageCrypto::from_config(&config.app.component_appid, &config.message);
    Ok(TicketCallback::new(app.push_service(
        crypto,
        PushSettings {
            publish_messages: config.publish_messages,
            ..PushSettings::default()
        },
    )))
}
