//! The `ticket-callback` function: WeChat's two push URLs, adapted to [`PushService`].
//!
//! | route | use case |
//! |---|---|
//! | `POST /wechat/component` | [`PushService::handle_component_push`] (the authorization event URL) |
//! | `POST /wechat/message/{appid}` | [`PushService::handle_message_push`] (the message URL, `$APPID$`) |
//!
//! This module only routes, reads the request, and maps results to statuses. Every rule is in
//! `wxcomponent::service::push`. Response bodies are short fixed texts; error details go to the
//! log (they never carry secrets), never to the caller.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use wxcomponent::config::TicketCallbackConfig;
use wxcomponent::crypto::{MAX_BODY_LEN, PushQuery};
use wxcomponent::service::{
    DynamoPushLedger, PushError, PushLedger, PushReply, PushService, PushSettings, TokenService,
    TokenSettings,
};
use wxcomponent::store::{DynamoStore, Store};
use wxcomponent::wechat::{ClientConfig, WechatClient};
use wxcomponent::{AuthorizerAppId, Clock, MessageCrypto, SystemClock};

/// The function's handler: cheap to clone, one per process.
pub struct TicketCallback<S, L> {
    push: PushService<S, L>,
}

impl<S, L> Clone for TicketCallback<S, L> {
    fn clone(&self) -> Self {
        Self {
            push: self.push.clone(),
        }
    }
}

/// What the path names.
enum Route {
    Component,
    Message(String),
}

/// The request path as routed: API Gateway puts a named stage in front (`/prod/wechat/...`);
/// the `$default` stage and `cargo lambda watch` do not.
pub fn route_path(request: &Request) -> &str {
    let path = request.uri().path();
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    strip_stage(path, stage)
}

fn strip_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path),
        _ => path,
    }
}

fn route(path: &str) -> Option<Route> {
    let path = path.trim_end_matches('/');
    if path == "/wechat/component" {
        return Some(Route::Component);
    }
    let appid = path.strip_prefix("/wechat/message/")?;
    (!appid.is_empty() && !appid.contains('/')).then(|| Route::Message(appid.to_owned()))
}

fn text(status: u16, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// How long the invocation has left, when it runs in Lambda (or `cargo lambda watch`).
fn remaining(request: &Request) -> Option<Duration> {
    let deadline_ms = request.lambda_context_ref()?.deadline;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let left = u128::from(deadline_ms).checked_sub(now_ms)?;
    Some(Duration::from_millis(u64::try_from(left).ok()?))
}

fn too_large(request: &Request) -> bool {
    // Content-Length first: a client that declares a large body is answered without reading it.
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.is_some_and(|len| len > MAX_BODY_LEN as u64) || request.body().len() > MAX_BODY_LEN
}

impl<S: Store + 'static, L: PushLedger + 'static> TicketCallback<S, L> {
    pub fn new(push: PushService<S, L>) -> Self {
        Self { push }
    }

    pub fn push_service(&self) -> &PushService<S, L> {
        &self.push
    }

    /// Every request gets an answer; nothing here fails the invocation.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let Some(route) = route(route_path(&request)) else {
            return text(404, "not found");
        };
        if request.method() != http::Method::POST {
            let mut response = text(405, "method not allowed");
            response
                .headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
            return response;
        }
        if too_large(&request) {
            tracing::warn!("push refused: body too large");
            return text(413, "payload too large");
        }
        let query = PushQuery::from_pairs(url::form_urlencoded::parse(
            request.uri().query().unwrap_or("").as_bytes(),
        ));
        let body: &[u8] = request.body().as_ref();
        let remaining = remaining(&request);
        let result = match route {
            Route::Component => {
                self.push
                    .handle_component_push(&query, body, remaining)
                    .await
            }
            Route::Message(appid) => match AuthorizerAppId::parse(appid) {
                Ok(appid) => {
                    self.push
                        .handle_message_push(&appid, &query, body, remaining)
                        .await
                }
                Err(_) => {
                    tracing::warn!("push refused: the path does not name an appid");
                    return text(400, "bad request");
                }
            },
        };
        match result {
            Ok(reply) => reply_response(reply),
            Err(e) => error_response(&e),
        }
    }
}

fn reply_response(reply: PushReply) -> Response<Body> {
    let content_type = match reply {
        PushReply::Encrypted(_) => "application/xml; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    let mut response = Response::new(Body::from(reply.body().to_owned()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// The status table of docs/architecture.md. Refused pushes are 4xx (WeChat will not fix them by
/// retrying); our own failures are 503 so that WeChat retries.
fn error_response(e: &PushError) -> Response<Body> {
    let chain = wxcomponent::logging::error_chain(e);
    match e {
        PushError::TooLarge { .. } => {
            tracing::warn!(error = %chain, "push refused");
            text(413, "payload too large")
        }
        PushError::BadSignature(_) | PushError::Stale => {
            tracing::warn!(error = %chain, "push refused");
            text(403, "forbidden")
        }
        PushError::Rejected(_)
        | PushError::Malformed(_)
        | PushError::WrongComponent
        | PushError::WrongAccount
        | PushError::UnknownAccount
        | PushError::MalformedAuthCode => {
            tracing::warn!(error = %chain, "push refused");
            text(400, "bad request")
        }
        PushError::InProgress => {
            let mut response = text(503, "busy, retry");
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            response
        }
        PushError::OutOfTime | PushError::Action(_) | PushError::Store(_) => {
            tracing::error!(error = %chain, "push failed; WeChat will retry");
            text(503, "temporarily unavailable")
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

/// The production wiring: DynamoDB (the SDK honours `AWS_ENDPOINT_URL_DYNAMODB`), the WeChat
/// client and the services, built once per process.
pub async fn from_config(
    config: &TicketCallbackConfig,
) -> Result<TicketCallback<DynamoStore, DynamoPushLedger>, wxcomponent::wechat::WechatError> {
    let message = &config.message;
    let config = &config.app;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = wxcomponent::store::dynamodb_client(&sdk);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(
        dynamodb.clone(),
        &config.table_name,
        clock.clone(),
    ));
    let ledger = Arc::new(DynamoPushLedger::new(
        dynamodb,
        &config.table_name,
        clock.clone(),
    ));
    let client_config = push_client_config(config);
    let client = WechatClient::new(
        client_config,
        config.component_appid.clone(),
        config.component_secret.clone(),
        clock.clone(),
    )?;
    let tokens = TokenService::new(store, client, clock.clone(), TokenSettings::default());
    let push = PushService::new(
        tokens,
        ledger,
        MessageCrypto::from_config(&config.component_appid, message),
        clock,
        PushSettings::default(),
    );
    Ok(TicketCallback::new(push))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_stage_is_stripped_and_the_default_stage_is_not_there() {
        assert_eq!(
            strip_stage("/prod/wechat/component", Some("prod")),
            "/wechat/component"
        );
        assert_eq!(
            strip_stage("/wechat/component", Some("$default")),
            "/wechat/component"
        );
        assert_eq!(strip_stage("/production/x", Some("prod")), "/production/x");
        assert_eq!(strip_stage("/wechat/component", None), "/wechat/component");
    }

    #[test]
    fn routes_are_matched_exactly() {
        assert!(matches!(route("/wechat/component"), Some(Route::Component)));
        assert!(matches!(
            route("/wechat/component/"),
            Some(Route::Component)
        ));
        assert!(matches!(route("/wechat/message/wx1"), Some(Route::Message(a)) if a == "wx1"));
        for path in [
            "/",
            "/wechat",
            "/wechat/message/",
            "/wechat/message/a/b",
            "/wechat/componentx",
        ] {
            assert!(route(path).is_none(), "{path}");
        }
    }
}
