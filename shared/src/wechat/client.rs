//! The HTTP machinery every API group uses: one reqwest client, URL building, timeouts, retries,
//! and turning `{errcode, errmsg}` into [`WechatError::Api`].
//!
//! An API group declares its endpoints as [`Endpoint`] constants, which fix the path, the token
//! type and whether the call may be replayed, then calls [`WechatClient::post_json`],
//! [`WechatClient::get`] or [`WechatClient::post_json_raw`].

use super::access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
use super::error::{DecodeDetail, WechatError};
use super::retry::RetryPolicy;
use crate::clock::{Clock, EpochSeconds};
use crate::config::Config;
use crate::ids::ComponentAppId;
use crate::secret::Secret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How to reach WeChat.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.weixin.qq.com` in production, a simulator's address in tests.
    pub base_url: url::Url,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for one attempt, from connecting until the body is read.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The roots to trust, read once for the process; `None` loads the system's store.
    pub roots: Option<crate::tls::TrustedRoots>,
}

impl ClientConfig {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Default timeouts (3 s to connect, 10 s per attempt) and retry policy.
    pub fn new(base_url: url::Url) -> Self {
        Self {
            base_url,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            roots: None,
        }
    }

    /// Defaults, with the base URL of the application configuration (`WECHAT_API_BASE_URL`).
    pub fn from_config(config: &Config) -> Self {
        Self::new(config.api_base_url.clone())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ComponentAccessToken {}
    impl Sealed for super::AuthorizerAccessToken {}
    impl Sealed for super::NoToken {}
}

/// What an endpoint authenticates with: [`ComponentAccessToken`], [`AuthorizerAccessToken`] or
/// [`NoToken`]. Sealed: these three are all there is.
pub trait Credential: sealed::Sealed + Send + Sync {
    /// The query parameter the token usually travels in.
    const QUERY_PARAM: Option<&'static str>;
    fn token(&self) -> Option<&Secret>;
}

impl Credential for ComponentAccessToken {
    const QUERY_PARAM: Option<&'static str> = Some("component_access_token");
    fn token(&self) -> Option<&Secret> {
        Some(self.secret())
    }
}

impl Credential for AuthorizerAccessToken {
    const QUERY_PARAM: Option<&'static str> = Some("access_token");
    fn token(&self) -> Option<&Secret> {
        Some(self.secret())
    }
}

/// For endpoints that authenticate with the body (appid + secret or ticket) instead of a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoToken;

impl Credential for NoToken {
    const QUERY_PARAM: Option<&'static str> = None;
    fn token(&self) -> Option<&Secret> {
        None
    }
}

/// One WeChat API: its path, the token it needs (`C`), and whether it may be replayed.
#[derive(Debug)]
pub struct Endpoint<C> {
    path: &'static str,
    token_param: Option<&'static str>,
    replayable: bool,
    credential: PhantomData<fn(&C)>,
}

impl<C: Credential> Endpoint<C> {
    /// An endpoint that may be retried after any retryable failure (a query, an idempotent set).
    pub const fn new(path: &'static str) -> Self {
        Self {
            path,
            token_param: C::QUERY_PARAM,
            replayable: true,
            credential: PhantomData,
        }
    }

    /// For calls with an effect that must not happen twice (consuming an auth code, sending a
    /// message, spending a quota reset): after a timeout or a dropped connection WeChat may have
    /// done it already, so only failures that prove it did not (no connection, errcode -1) are
    /// retried.
    pub const fn not_replayable(mut self) -> Self {
        self.replayable = false;
        self
    }

    /// Send the token in another query parameter (e.g. a component token as `access_token=` on the
    /// `/cgi-bin/openapi/...` endpoints, which document only that name).
    pub const fn token_param(mut self, name: &'static str) -> Self {
        self.token_param = Some(name);
        self
    }

    pub const fn path(&self) -> &'static str {
        self.path
    }
}

/// A response body as WeChat sent it (an image, a file, or the passthrough's answer, which may be
/// anything), with its content type. `Debug` shows the body's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// The WeChat API client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct WechatClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: url::Url,
    timeout: Duration,
    retry: RetryPolicy,
    component_appid: ComponentAppId,
    component_secret: Secret,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("component_appid", &self.inner.component_appid)
            .finish_non_exhaustive()
    }
}

/// How errors and logs name a [`WechatClient::call_raw_path`] call.
pub const RAW_PATH_LABEL: &str = "(raw path)";

/// Everything a call needs besides the client.
struct Call<'a> {
    method: reqwest::Method,
    path: &'static str,
    /// The URL path when it is not `path` (a raw-path call); `path` then only names the call in
    /// errors and logs.
    url_path: Option<&'a str>,
    token: Option<(&'static str, &'a Secret)>,
    query: &'a [(&'a str, &'a str)],
    body: Option<Vec<u8>>,
    /// The body's content type: JSON unless a multipart upload says otherwise.
    content_type: String,
    replayable: bool,
}

#[derive(serde::Deserialize)]
struct ErrorProbe {
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

impl WechatClient {
    /// One client per process: it holds the connection pool. `clock` turns `expires_in` into
    /// absolute expiry times.
    pub fn new(
        config: ClientConfig,
        component_appid: ComponentAppId,
        component_secret: Secret,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, WechatError> {
        let mut http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            // WeChat does not redirect API calls; following one would resend the token elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(roots) = &config.roots {
            http = http.tls_backend_preconfigured(roots.tls_config().as_ref().clone());
        }
        let http = http
            .build()
            .map_err(|e| WechatError::ClientBuild(e.without_url()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url,
                timeout: config.timeout,
                retry: config.retry,
                component_appid,
                component_secret,
                clock,
            }),
        })
    }

    pub fn component_appid(&self) -> &ComponentAppId {
        &self.inner.component_appid
    }

    pub(crate) fn component_secret(&self) -> &Secret {
        &self.inner.component_secret
    }

    pub(crate) fn now(&self) -> EpochSeconds {
        self.inner.clock.now()
    }

    /// POST a JSON body and decode a JSON answer, after checking its `errcode`.
    pub async fn post_json<C, B, R>(
        &self,
        endpoint: &Endpoint<C>,
        credential: &C,
        body: &B,
    ) -> Result<R, WechatError>
    where
        C: Credential,
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let call = self.call(reqwest::Method::POST, endpoint, credential, &[], Some(body))?;
        let raw = self.execute(&call).await?;
        decode_json(endpoint.path, &raw.body)
    }

    /// GET with query parameters (besides the token) and decode a JSON answer.
    pub async fn get<C, R>(
        &self,
        endpoint: &Endpoint<C>,
        credential: &C,
        query: &[(&str, &str)],
    ) -> Result<R, WechatError>
    where
        C: Credential,
        R: DeserializeOwned,
    {
        let call = self.call::<C, ()>(reqwest::Method::GET, endpoint, credential, query, None)?;
        let raw = self.execute(&call).await?;
        decode_json(endpoint.path, &raw.body)
    }

    /// POST a JSON body and return the answer's bytes (an image, say). A JSON answer carrying a
    /// non-zero `errcode` is still an error.
    pub async fn post_json_raw<C, B>(
        &self,
        endpoint: &Endpoint<C>,
        credential: &C,
        body: &B,
    ) -> Result<RawResponse, WechatError>
    where
        C: Credential,
        B: Serialize + ?Sized,
    {
        let call = self.call(reqwest::Method::POST, endpoint, credential, &[], Some(body))?;
        self.execute(&call).await
    }

    /// GET and return the answer's bytes; a JSON error body is still an error.
    pub async fn get_raw<C: Credential>(
        &self,
        endpoint: &Endpoint<C>,
        credential: &C,
        query: &[(&str, &str)],
    ) -> Result<RawResponse, WechatError> {
        let call = self.call::<C, ()>(reqwest::Method::GET, endpoint, credential, query, None)?;
        self.execute(&call).await
    }

    /// POST a JSON body with query parameters besides the token (e.g. `action=create`) and decode
    /// a JSON answer.
    pub async fn post_json_with_query<C, B, R>(
        &self,
        endpoint: &Endpoint<C>,
        credential: &C,
        query: &[(&str, &str)],
        body: &B,
    ) -> Result<R, WechatError>
    where
        C: Credential,
        B: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let call = self.call(
            reqwest::Method::POST,
            endpoint,
            credential,
            query,
            Some(body),
        )?;
        let raw = self.execute(&call).await?;
        decode_json(endpoint.path, &raw.body)
    }

    /// POST one file as `multipart/form-data` (media uploads) and decode a JSON answer. The body is
    /// encoded once, so a retry sends the same bytes.
    pub async fn post_file<C, R>(
        &self,
        endpoint: &Endpoint<C>,
        credential: &C,
        query: &[(&str, &str)],
        file: &super::multipart::FilePart<'_>,
    ) -> Result<R, WechatError>
    where
        C: Credential,
        R: DeserializeOwned,
    {
        let mut call =
            self.call::<C, ()>(reqwest::Method::POST, endpoint, credential, query, None)?;
        let (content_type, body) = file.encode();
        call.content_type = content_type;
        call.body = Some(body);
        let raw = self.execute(&call).await?;
        decode_json(endpoint.path, &raw.body)
    }

    /// A call to an API not typed yet, at `path` (which must start with `/`), with the
    /// authorizer token as `access_token`: the bytes of the answer, a JSON `errcode` still being
    /// an error. The caller decides which paths are allowed; errors and logs name the call
    /// [`RAW_PATH_LABEL`], never the path. A POST (`body` present) is not replayed.
    pub async fn call_raw_path(
        &self,
        path: &str,
        token: &AuthorizerAccessToken,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, WechatError> {
        if !path.starts_with('/') {
            return Err(WechatError::Request {
                path: RAW_PATH_LABEL,
                reason: "the path must start with /",
            });
        }
        let call = Call {
            method: if body.is_some() {
                reqwest::Method::POST
            } else {
                reqwest::Method::GET
            },
            path: RAW_PATH_LABEL,
            url_path: Some(path),
            token: Some(("access_token", token.secret())),
            query,
            replayable: body.is_none(),
            body,
            content_type: "application/json".to_owned(),
        };
        self.execute(&call).await
    }

    fn call<'a, C: Credential, B: Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        endpoint: &Endpoint<C>,
        credential: &'a C,
        query: &'a [(&'a str, &'a str)],
        body: Option<&B>,
    ) -> Result<Call<'a>, WechatError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|_| WechatError::Request {
                path: endpoint.path,
                reason: "the body could not be serialised",
            })?;
        let token = match (endpoint.token_param, credential.token()) {
            (Some(name), Some(secret)) => Some((name, secret)),
            _ => None,
        };
        Ok(Call {
            method,
            path: endpoint.path,
            url_path: None,
            token,
            query,
            body,
            content_type: "application/json".to_owned(),
            replayable: endpoint.replayable,
        })
    }

    fn url(&self, call: &Call<'_>) -> url::Url {
        let mut url = self.inner.base_url.clone();
        let path = format!(
            "{}{}",
            url.path().trim_end_matches('/'),
            call.url_path.unwrap_or(call.path)
        );
        url.set_path(&path);
        url.set_query(None);
        url.set_fragment(None);
        if call.token.is_some() || !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            if let Some((name, secret)) = call.token {
                pairs.append_pair(name, secret.expose());
            }
            for (name, value) in call.query {
                pairs.append_pair(name, value);
            }
        }
        url
    }

    /// Attempts the call until it succeeds, fails for good, or the policy's bounds are reached.
    async fn execute(&self, call: &Call<'_>) -> Result<RawResponse, WechatError> {
        let policy = &self.inner.retry;
        let span = tracing::debug_span!("wechat_call", path = call.path);
        async move {
            let started = Instant::now();
            // The policy's budget, cut to the deadline of the work this call is part of.
            let deadline = super::deadline::current().map_or(started + policy.max_elapsed, |d| {
                d.min(started + policy.max_elapsed)
            });
            let mut attempt = 1u32;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let error = WechatError::OutOfTime { path: call.path };
                    tracing::warn!(attempt, error = %error, "WeChat call not made");
                    return Err(error);
                }
                let result = self.attempt(call, self.inner.timeout.min(left)).await;
                let elapsed_ms = started.elapsed().as_millis() as u64;
                let error = match result {
                    Ok(raw) => {
                        tracing::debug!(attempt, elapsed_ms, "WeChat call succeeded");
                        return Ok(raw);
                    }
                    Err(e) => e,
                };
                let may_retry = if call.replayable {
                    error.is_retryable()
                } else {
                    error.is_unprocessed()
                };
                let backoff = policy.backoff(attempt);
                let out_of_budget = Instant::now() + backoff >= deadline;
                if !may_retry || attempt >= policy.max_attempts || out_of_budget {
                    tracing::warn!(
                        attempt,
                        elapsed_ms,
                        errcode = error.errcode(),
                        retryable = may_retry,
                        error = %error,
                        "WeChat call failed"
                    );
                    return Err(error);
                }
                tracing::info!(
                    attempt,
                    elapsed_ms,
                    backoff_ms = backoff.as_millis() as u64,
                    errcode = error.errcode(),
                    error = %error,
                    "WeChat call failed; retrying"
                );
                tokio::time::sleep(backoff).await;
                attempt += 1;
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        timeout: Duration,
    ) -> Result<RawResponse, WechatError> {
        let path = call.path;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), self.url(call))
            .timeout(timeout);
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, call.content_type.as_str())
                .body(body.clone());
        }
        let response = request.send().await.map_err(|e| transport(path, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(WechatError::Status {
                path,
                status: status.as_u16(),
            });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(|e| transport(path, e))?;
        if looks_like_json(content_type.as_deref(), &body) {
            check_errcode(path, &body)?;
        }
        Ok(RawResponse {
            body: body.to_vec(),
            content_type,
        })
    }
}

/// Classifies a reqwest error, dropping its URL (which carries the token).
fn transport(path: &'static str, error: reqwest::Error) -> WechatError {
    let source = error.without_url();
    if source.is_timeout() {
        WechatError::Timeout { path, source }
    } else if source.is_connect() {
        WechatError::Connect { path, source }
    } else {
        WechatError::Transport { path, source }
    }
}

fn looks_like_json(content_type: Option<&str>, body: &[u8]) -> bool {
    content_type.is_some_and(|t| t.contains("json"))
        || body.trim_ascii_start().first() == Some(&b'{')
}

/// `{errcode: N≠0, errmsg}` is an error whatever else the body holds; 0 or absent is success.
fn check_errcode(path: &'static str, body: &[u8]) -> Result<(), WechatError> {
    // A body that is not a JSON object is left to the caller's decoder.
    let Ok(probe) = serde_json::from_slice::<ErrorProbe>(body) else {
        return Ok(());
    };
    match probe.errcode {
        None | Some(0) => Ok(()),
        Some(errcode) => Err(WechatError::Api {
            path,
            errcode,
            errmsg: probe.errmsg.unwrap_or_default(),
        }),
    }
}

fn decode_json<R: DeserializeOwned>(path: &'static str, body: &[u8]) -> Result<R, WechatError> {
    serde_json::from_slice(body).map_err(|e| WechatError::Decode {
        path,
        detail: DecodeDetail::from_serde(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_response_shows_its_length_not_its_body() {
        let raw = RawResponse {
            body: br#"{"access_token":"atoken-secret"}"#.to_vec(),
            content_type: Some("application/json".into()),
        };
        let debug = format!("{raw:?}");
        assert!(!debug.contains("atoken-secret"), "{debug}");
        // Not as bytes either.
        assert!(!debug.contains("97, 116, 111"), "{debug}");
        assert!(debug.contains("body_len: 32"), "{debug}");
    }

    #[test]
    fn errcode_zero_or_absent_is_success_and_anything_else_is_an_api_error() {
        assert!(check_errcode("/p", br#"{"errcode":0,"errmsg":"ok","x":1}"#).is_ok());
        assert!(check_errcode("/p", br#"{"x":1}"#).is_ok());
        let err =
            check_errcode("/p", br#"{"errcode":40001,"errmsg":"invalid credential"}"#).unwrap_err();
        assert_eq!(err.errcode(), Some(40001));
        assert!(err.is_token_invalid());
    }

    #[test]
    fn binary_bodies_are_not_probed_for_errcodes() {
        assert!(!looks_like_json(Some("image/jpeg"), b"\xff\xd8\xff"));
        assert!(looks_like_json(Some("text/plain"), b"  {\"errcode\":1}"));
        assert!(looks_like_json(
            Some("application/json; charset=utf-8"),
            b""
        ));
    }
}
