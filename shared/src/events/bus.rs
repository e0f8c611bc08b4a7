//! Publishing [`ProductEvent`]s on an EventBridge bus (`PutEvents`, up to 10 entries a request).
//! A publication never fails as a whole: it answers which events the bus took and which it did
//! not, and the caller keeps the others for a later attempt. Timeouts are short, because a
//! push must be answered within WeChat's 5 s: an event the bus is slow to take is published by
//! a later run with the same id.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{EventId, ProductEvent, SOURCE};
use crate::logging::error_chain;

/// The most entries one `PutEvents` request takes.
pub const MAX_ENTRIES_PER_REQUEST: usize = 10;

/// An EventBridge client with [`eventbridge_timeouts`]; its endpoint is the SDK's
/// (`AWS_ENDPOINT_URL_EVENTBRIDGE` points it elsewhere).
pub fn eventbridge_client(sdk: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_eventbridge::config::Builder::from(sdk)
        .timeout_config(eventbridge_timeouts())
        .build();
    Client::from_conf(config)
}

/// The timeouts of event publication: an attempt of 1.5 s, 3 s in all with the SDK's retries.
pub fn eventbridge_timeouts() -> aws_sdk_eventbridge::config::timeout::TimeoutConfig {
    aws_sdk_eventbridge::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_secs(3))
        .build()
}

/// What a publication came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Published {
    /// The events the bus took.
    pub sent: Vec<EventId>,
    /// The events it did not, each with why (no secret: the bus's error code or the SDK's
    /// error chain).
    pub failed: Vec<(EventId, String)>,
}

/// The bus the product publishes on.
#[derive(Clone)]
pub struct EventBus {
    client: Client,
    name: String,
}

impl EventBus {
    /// The bus `name` (or ARN), through `client`.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Publishes `events`, [`MAX_ENTRIES_PER_REQUEST`] at a time.
    pub async fn publish(&self, events: &[ProductEvent]) -> Published {
        let mut published = Published::default();
        for batch in events.chunks(MAX_ENTRIES_PER_REQUEST) {
            self.publish_batch(batch, &mut published).await;
        }
        published
    }

    async fn publish_batch(&self, batch: &[ProductEvent], published: &mut Published) {
        let entries: Vec<PutEventsRequestEntry> = batch
            .iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(event.detail_type.as_str())
                    .detail(event.detail().to_string())
                    .event_bus_name(&self.name)
                    .build()
            })
            .collect();
        match self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                let results = out.entries();
                for (i, event) in batch.iter().enumerate() {
                    // Results come in the order of the entries; one without an error code was
                    // taken. A missing result is counted as not taken.
                    match results.get(i) {
                        Some(result) if result.error_code().is_none() => {
                            published.sent.push(event.id.clone());
                        }
                        Some(result) => published.failed.push((
                            event.id.clone(),
                            result.error_code().unwrap_or_default().to_owned(),
                        )),
                        None => published
                            .failed
                            .push((event.id.clone(), "no result for the entry".to_owned())),
                    }
                }
            }
            Err(e) => {
                let why = error_chain(&e);
                tracing::warn!(
                    events = batch.len(),
                    error = %why,
                    "EventBridge did not take the events; they stay stored for a later run"
                );
                published
                    .failed
                    .extend(batch.iter().map(|event| (event.id.clone(), why.clone())));
            }
        }
    }
}
