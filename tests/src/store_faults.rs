//! DynamoDB failures on demand: an interceptor on a real SDK client to DynamoDB Local that fails
//! chosen requests before they are sent, as a dropped connection would. The store, its SDK calls
//! and DynamoDB Local stay real; only the chosen requests never arrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// Fails requests of one DynamoDB operation whose body holds a marker: the next `n` of them, or
/// all. Clones share the counts.
#[derive(Debug, Clone)]
pub struct FailRequests {
    operation: &'static str,
    body_marker: &'static str,
    to_fail: Arc<AtomicU32>,
    seen: Arc<AtomicU32>,
    failed: Arc<AtomicU32>,
}

/// The value placeholder only `update_authorizer_tokens` (the versioned write of refreshed
/// tokens) sends: its condition on the version the refresh was based on.
pub const AUTHORIZER_TOKENS_WRITE: &str = ":based_on";

impl FailRequests {
    /// Fails the next `n` `operation` requests (e.g. `"UpdateItem"`) whose body contains
    /// `body_marker`; `u32::MAX` for all of them.
    pub fn next(operation: &'static str, body_marker: &'static str, n: u32) -> Self {
        Self {
            operation,
            body_marker,
            to_fail: Arc::new(AtomicU32::new(n)),
            seen: Arc::new(AtomicU32::new(0)),
            failed: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The versioned write of refreshed authorizer tokens, `n` times.
    pub fn authorizer_token_writes(n: u32) -> Self {
        Self::next("UpdateItem", AUTHORIZER_TOKENS_WRITE, n)
    }

    /// How many matching requests were attempted (failed or sent).
    pub fn seen(&self) -> u32 {
        self.seen.load(Ordering::SeqCst)
    }

    /// How many were failed.
    pub fn failed(&self) -> u32 {
        self.failed.load(Ordering::SeqCst)
    }

    /// `client` with this interceptor added.
    pub fn on(&self, client: &DynamoClient) -> DynamoClient {
        let config = client
            .config()
            .to_builder()
            .interceptor(self.clone())
            .build();
        DynamoClient::from_conf(config)
    }
}

impl Intercept for FailRequests {
    fn name(&self) -> &'static str {
        "FailRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        let matches = target.ends_with(&format!(".{}", self.operation))
            && String::from_utf8_lossy(body).contains(self.body_marker);
        if !matches {
            return Ok(());
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        let take = self
            .to_fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                0 => None,
                u32::MAX => Some(u32::MAX),
                n => Some(n - 1),
            });
        if take.is_ok() {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(format!("{} failed on purpose by the test", self.operation).into());
        }
        Ok(())
    }
}
