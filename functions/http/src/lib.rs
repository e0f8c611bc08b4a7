//! What the three HTTP functions (`ticket-callback`, `auth-redirect`, `api`) share between
//! `lambda_http` and their axum [`Router`]: the API Gateway stage taken off the path once, before
//! routing; the one check of a request body's size; the invocation's time left; serving in
//! Lambda; answering one request in process.
//!
//! API Gateway puts a named stage in front of the path (`/prod/wechat/component`); the `$default`
//! stage, Lambda function URLs and `cargo lambda watch` do not. The routers see the path without
//! it; a function that builds absolute links reads the stage back from [`StagePrefix`].

use axum::Router;
use axum::body::Body as AxumBody;
use axum::http::{Request, Response, StatusCode, Uri};
use axum::middleware;
use http_body_util::BodyExt;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;

/// The path prefix API Gateway's stage put in front of the routes (`/prod`), or `""`. In the
/// request's extensions once [`strip_stage`] ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StagePrefix(pub String);

/// `path` without the named `stage` in front, if it is there.
pub fn without_stage<'a>(path: &'a str, stage: Option<&str>) -> Option<&'a str> {
    let stage = stage.filter(|s| *s != "$default" && !s.is_empty())?;
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(stage))
        .filter(|rest| rest.starts_with('/'))
}

/// Takes API Gateway's named stage off the request's path and records it as [`StagePrefix`].
pub fn strip_stage<B>(mut request: Request<B>) -> Request<B> {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let uri = request.uri();
    let stripped = without_stage(uri.path(), stage.as_deref()).map(|rest| {
        let path_and_query = match uri.query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_owned(),
        };
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = path_and_query.parse().ok();
        Uri::from_parts(parts).ok()
    });
    let prefix = match (stripped, stage) {
        (Some(Some(uri)), Some(stage)) => {
            *request.uri_mut() = uri;
            format!("/{stage}")
        }
        _ => String::new(),
    };
    request.extensions_mut().insert(StagePrefix(prefix));
    request
}

/// Refuses a request whose body is over `max` bytes, answering `too_large()`: by its declared
/// length before anything is read, or as soon as reading it passes `max` (a handler reading the
/// body gets an error instead of the rest). Every 413 leaving `router`, whichever part made it,
/// is that one answer. The functions that read a body check its size here and nowhere else.
pub fn limit_body(router: Router, max: usize, too_large: fn() -> Response<AxumBody>) -> Router {
    router
        .layer(RequestBodyLimitLayer::new(max))
        .layer(middleware::map_response(
            move |response: Response<AxumBody>| async move {
                if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    response
                }
            },
        ))
}

/// The invocation's deadline in milliseconds since the Unix epoch, when it runs in Lambda (or
/// `cargo lambda watch`); the functions read what is left of it through their clock
/// (`wxcomponent::clock::time_until`).
pub fn deadline_ms<B>(request: &Request<B>) -> Option<u64> {
    Some(request.lambda_context_ref()?.deadline)
}

/// Serves `router` in Lambda, the stage taken off first.
pub async fn serve(router: Router) -> Result<(), lambda_http::Error> {
    let service = router.map_request(strip_stage::<Body>);
    lambda_http::run(service).await
}

/// Answers one request as [`serve`] would (for tests and tools), the body collected.
pub async fn answer(router: Router, request: lambda_http::Request) -> lambda_http::Response<Body> {
    let request = strip_stage(request);
    let response: Response<AxumBody> = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(binary) => Body::Binary(binary.into_bytes()),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_stage_is_taken_off_and_the_default_stage_is_not_there() {
        assert_eq!(
            without_stage("/prod/wechat/component", Some("prod")),
            Some("/wechat/component")
        );
        assert_eq!(without_stage("/wechat/component", Some("$default")), None);
        assert_eq!(without_stage("/production/x", Some("prod")), None);
        assert_eq!(without_stage("/prod", Some("prod")), None);
        assert_eq!(without_stage("/wechat/component", None), None);
    }

    #[test]
    fn a_gateway_request_on_a_named_stage_is_routed_without_it_and_keeps_its_query() {
        let mut context =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        context.stage = Some("prod".to_owned());
        let request = Request::builder()
            .uri("https://h.example/prod/auth/go?auth_type=3")
            .body(())
            .expect("a request")
            .with_request_context(RequestContext::ApiGatewayV2(context));
        let request = strip_stage(request);
        assert_eq!(request.uri().path(), "/auth/go");
        assert_eq!(request.uri().query(), Some("auth_type=3"));
        assert_eq!(request.uri().host(), Some("h.example"));
        assert_eq!(
            request.extensions().get::<StagePrefix>(),
            Some(&StagePrefix("/prod".to_owned()))
        );
    }

    #[test]
    fn without_a_gateway_context_the_request_is_left_alone() {
        let request = Request::builder()
            .uri("/prod/x?a=1")
            .body(())
            .expect("a request");
        let request = strip_stage(request);
        assert_eq!(request.uri().path(), "/prod/x");
        assert_eq!(
            request.extensions().get::<StagePrefix>(),
            Some(&StagePrefix(String::new()))
        );
    }

    fn refused() -> Response<AxumBody> {
        let mut response = Response::new(AxumBody::from("refused"));
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        response
    }

    /// A router answering with the length of the body it read.
    fn reading() -> Router {
        let read = axum::routing::post(|request: axum::extract::Request| async move {
            match axum::body::to_bytes(request.into_body(), usize::MAX).await {
                Ok(bytes) => (StatusCode::OK, bytes.len().to_string()),
                Err(_) => (StatusCode::PAYLOAD_TOO_LARGE, "read failed".to_owned()),
            }
        });
        limit_body(Router::new().route("/", read), 8, refused)
    }

    async fn send(body: AxumBody, declared: Option<usize>) -> (StatusCode, String) {
        let mut request = Request::builder().method("POST").uri("/");
        if let Some(len) = declared {
            request = request.header("content-length", len);
        }
        let response = reading()
            .oneshot(request.body(body).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn a_body_up_to_the_limit_is_read_whole() {
        assert_eq!(
            send(AxumBody::from("12345678"), Some(8)).await,
            (StatusCode::OK, "8".to_owned())
        );
    }

    #[tokio::test]
    async fn a_body_declared_too_large_is_refused_with_the_given_answer() {
        assert_eq!(
            send(AxumBody::from("123456789"), Some(9)).await,
            (StatusCode::PAYLOAD_TOO_LARGE, "refused".to_owned())
        );
    }

    #[tokio::test]
    async fn an_undeclared_body_is_cut_off_where_it_passes_the_limit() {
        assert_eq!(
            send(AxumBody::from("123456789"), None).await,
            (StatusCode::PAYLOAD_TOO_LARGE, "refused".to_owned())
        );
    }
}
