//! The AWS SDK's HTTP client, on reqwest: the SDK's requests go through the same HTTP stack as the
//! WeChat client's, trusting the same roots (see `crate::tls`), instead of a second stack (hyper's
//! client, its own rustls set-up, HTTP/2) linked into every function.
//!
//! The SDK asks for a connector per set of timeouts; each gets a reqwest client with that connect
//! and read timeout, built once and shared by every request with the same settings. Failures are
//! classified as the SDK's retry rules expect: a timeout, an I/O error (with "never connected"
//! when the connection was never made, so even a write is safe to send again), a request that
//! could not be built, or anything else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// Timeouts a connector was built for: (connect, read).
type Timeouts = (Option<Duration>, Option<Duration>);

/// The SDK's HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct SdkHttpClient {
    /// The TLS configuration every connection uses; `None` leaves it to reqwest (the platform's
    /// verifier).
    tls: Option<Arc<rustls::ClientConfig>>,
    /// One reqwest client per set of timeouts asked for.
    clients: Arc<Mutex<Vec<(Timeouts, reqwest::Client)>>>,
}

impl std::fmt::Debug for SdkHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkHttpClient")
            .field("preconfigured_tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl SdkHttpClient {
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Self {
            tls,
            clients: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The reqwest client for `timeouts`, built on first use.
    fn client_for(&self, timeouts: Timeouts) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, client)) = clients.iter().find(|(t, _)| *t == timeouts) {
            return Ok(client.clone());
        }
        let (connect, read) = timeouts;
        // AWS endpoints do not redirect; the SDK would have to sign the new request anyway.
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(connect) = connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = read {
            builder = builder.read_timeout(read);
        }
        if let Some(tls) = &self.tls {
            builder = builder.tls_backend_preconfigured(tls.as_ref().clone());
        }
        let client = builder.build()?;
        clients.push((timeouts, client.clone()));
        Ok(client)
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let client = self
            .client_for(timeouts)
            .map_err(|e| Arc::new(e.without_url()));
        SharedHttpConnector::new(Connector { client })
    }
}

#[derive(Debug)]
struct Connector {
    /// The client, or why it could not be built (every call then fails with it).
    client: Result<reqwest::Client, Arc<reqwest::Error>>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|e| {
                ConnectorError::user(Box::new(BuildFailed(e.to_string()))).never_connected()
            })?;
            let request = into_reqwest(request)?;
            let response = client.execute(request).await.map_err(classify)?;
            from_reqwest(response).await
        })
    }
}

/// The reqwest client could not be built (its TLS configuration was refused).
#[derive(Debug, thiserror::Error)]
#[error("the HTTP client for the AWS SDK could not be built: {0}")]
struct BuildFailed(String);

/// A request body the SDK did not hold in memory. The services this product calls (DynamoDB,
/// EventBridge) send small JSON bodies, always in memory.
#[derive(Debug, thiserror::Error)]
#[error("a streaming request body is not supported")]
struct StreamingBody;

fn into_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let user =
        |e: Box<dyn std::error::Error + Send + Sync>| ConnectorError::user(e).never_connected();
    let request = request.try_into_http1x().map_err(|e| user(Box::new(e)))?;
    let (parts, body) = request.into_parts();
    let body = match body.bytes() {
        Some(bytes) => reqwest::Body::from(bytes.to_vec()),
        None => return Err(user(Box::new(StreamingBody))),
    };
    let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|e| user(Box::new(e)))?;
    let mut out = reqwest::Request::new(parts.method, url);
    *out.headers_mut() = parts.headers;
    *out.body_mut() = Some(body);
    Ok(out)
}

async fn from_reqwest(response: reqwest::Response) -> Result<HttpResponse, ConnectorError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(classify)?;
    let mut http = http::Response::new(SdkBody::from(body));
    *http.status_mut() = status;
    *http.headers_mut() = headers;
    HttpResponse::try_from(http).map_err(|e| ConnectorError::other(Box::new(e), None))
}

/// A reqwest failure as the SDK's retry rules read it. No URL is kept (it may name a table; the
/// SDK's own errors never carry one either).
fn classify(e: reqwest::Error) -> ConnectorError {
    let (timeout, connect, builder, io) = (
        e.is_timeout(),
        e.is_connect(),
        e.is_builder(),
        e.is_request() || e.is_body() || e.is_decode(),
    );
    let source = Box::new(e.without_url());
    if timeout {
        let error = ConnectorError::timeout(source);
        if connect {
            error.never_connected()
        } else {
            error
        }
    } else if connect {
        ConnectorError::io(source).never_connected()
    } else if builder {
        ConnectorError::user(source).never_connected()
    } else if io {
        ConnectorError::io(source)
    } else {
        ConnectorError::other(source, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn request(uri: &str, body: &str) -> HttpRequest {
        let http = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .body(SdkBody::from(body.to_owned()))
            .expect("a request");
        HttpRequest::try_from(http).expect("an SDK request")
    }

    /// What [`SdkHttpClient::http_connector`] hands the SDK for these timeouts.
    fn connector(connect: Duration, read: Duration) -> Connector {
        let client = SdkHttpClient::new(None)
            .client_for((Some(connect), Some(read)))
            .map_err(Arc::new);
        Connector { client }
    }

    /// A server answering one request with `answer` (after `delay`); it hands back what it read.
    fn serve_once(
        answer: &'static str,
        delay: Duration,
    ) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("http://{}/", listener.local_addr().expect("an address"));
        let served = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("a connection");
            let mut read = vec![0u8; 4096];
            let n = stream.read(&mut read).unwrap_or(0);
            std::thread::sleep(delay);
            let _ = stream.write_all(answer.as_bytes());
            String::from_utf8_lossy(&read[..n]).into_owned()
        });
        (url, served)
    }

    #[tokio::test]
    async fn a_request_goes_out_with_its_headers_and_body_and_the_answer_comes_back() {
        let (url, served) = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\nx-amzn-requestid: r1\r\n\r\n{}",
            Duration::ZERO,
        );
        let response = connector(Duration::from_secs(1), Duration::from_secs(1))
            .call(request(&url, r#"{"TableName":"t"}"#))
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r1"));
        assert_eq!(response.body().bytes(), Some(&b"{}"[..]));
        let sent = served.join().expect("the server");
        assert!(sent.starts_with("POST / HTTP/1.1\r\n"), "{sent}");
        assert!(
            sent.to_ascii_lowercase()
                .contains("x-amz-target: dynamodb_20120810.getitem"),
            "{sent}"
        );
        assert!(sent.ends_with(r#"{"TableName":"t"}"#), "{sent}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_that_never_connected() {
        // Bound and dropped: nothing listens there now.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let error = connector(Duration::from_secs(1), Duration::from_secs(1))
            .call(request(&format!("http://127.0.0.1:{port}/"), "{}"))
            .await
            .expect_err("nothing listens");
        assert!(error.is_io(), "{error:?}");
        assert!(!error.is_timeout(), "{error:?}");
        assert!(!error.is_other(), "{error:?}");
    }

    #[tokio::test]
    async fn an_answer_slower_than_the_read_timeout_is_a_timeout() {
        let (url, served) = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            Duration::from_millis(1500),
        );
        let error = connector(Duration::from_secs(1), Duration::from_millis(200))
            .call(request(&url, "{}"))
            .await
            .expect_err("too slow");
        assert!(error.is_timeout(), "{error:?}");
        served.join().expect("the server");
    }

    #[test]
    fn one_client_is_built_per_set_of_timeouts() {
        let client = SdkHttpClient::new(None);
        let a = (Some(Duration::from_secs(1)), None);
        let b = (Some(Duration::from_secs(2)), None);
        client.client_for(a).unwrap();
        client.client_for(a).unwrap();
        client.client_for(b).unwrap();
        assert_eq!(client.clients.lock().unwrap().len(), 2);
    }
}
