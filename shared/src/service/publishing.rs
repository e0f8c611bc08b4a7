//! Publishing the event outbox on the bus. Events are recorded in the store with the change they
//! describe; this use case hands what is unsent to the bus and marks what the bus took, so an
//! event the bus refused, or never saw because the invocation ended, is published by a later
//! drain with the same id. Without a bus (no `EVENT_BUS_NAME`) nothing is published and the
//! events wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::token_service::error_chain;
use crate::events::{EventBus, EventId, ProductEvent};
use crate::ids::ComponentAppId;
use crate::store::{RecentEvent, Store, StoreError};

/// How long publishing just-recorded events may take outside a push (the bus client's own
/// timeouts end sooner).
pub const PUBLISH_BUDGET: Duration = Duration::from_secs(3);

/// The most events one drain reads from the outbox at a time.
pub const DRAIN_BATCH: usize = 100;

/// What one drain did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainSummary {
    /// Events the bus took and that were marked sent.
    pub published: u32,
    /// Events the bus did not take: left for the next drain.
    pub failed: u32,
    /// Whether the drain stopped with unsent events it did not try (a full batch was read).
    pub more: bool,
}

/// The publishing use case. Cheap to clone.
pub struct EventPublisher<S> {
    store: Arc<S>,
    component: ComponentAppId,
    bus: Option<EventBus>,
}

impl<S> Clone for EventPublisher<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            component: self.component.clone(),
            bus: self.bus.clone(),
        }
    }
}

impl<S: Store> EventPublisher<S> {
    pub fn new(store: Arc<S>, component: ComponentAppId, bus: Option<EventBus>) -> Self {
        Self {
            store,
            component,
            bus,
        }
    }

    /// Whether events are published at all.
    pub fn has_bus(&self) -> bool {
        self.bus.is_some()
    }

    /// Publishes `events`, just recorded, and marks those the bus took, giving up at `by` (the
    /// rest wait for a drain). Failures are logged, not returned: the events are safe in the
    /// outbox whatever happens here.
    pub async fn publish_recorded(&self, events: &[ProductEvent], by: Instant) {
        let Some(bus) = &self.bus else { return };
        if events.is_empty() {
            return;
        }
        let publish = async {
            // Only what waits: an event recorded before (the same change made again) may have
            // been published since.
            let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
            let waiting = match self.store.unsent_among(&self.component, &ids).await {
                Ok(waiting) => waiting,
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "could not read which events wait; a drain publishes them");
                    return 0;
                }
            };
            let events: Vec<ProductEvent> = events
                .iter()
                .filter(|e| waiting.contains(&e.id))
                .cloned()
                .collect();
            if events.is_empty() {
                return 0;
            }
            let published = bus.publish(&events).await;
            if !published.failed.is_empty() {
                tracing::warn!(
                    failed = published.failed.len(),
                    "the bus did not take every event; they wait for the next drain"
                );
            }
            if let Err(e) = self
                .store
                .mark_events_sent(&self.component, &published.sent)
                .await
            {
                tracing::warn!(error = %error_chain(&e), "published events could not be marked sent; a drain publishes them again");
            }
            self.note_recent(&events, &published.sent).await;
            published.sent.len()
        };
        match tokio::time::timeout_at(by.into(), publish).await {
            Ok(sent) => tracing::info!(published = sent, "events published"),
            Err(_) => tracing::warn!(
                "event publication ran out of time; the events wait for the next drain"
            ),
        }
    }

    /// Notes the events the bus took for the console's list of recent events. A failure is
    /// logged only: the list is for reading, the events themselves are published.
    async fn note_recent(&self, events: &[ProductEvent], sent: &[EventId]) {
        let recent: Vec<RecentEvent> = events
            .iter()
            .filter(|e| sent.contains(&e.id))
            .map(RecentEvent::from)
            .collect();
        if recent.is_empty() {
            return;
        }
        if let Err(e) = self
            .store
            .note_recent_events(&self.component, &recent)
            .await
        {
            tracing::warn!(error = %error_chain(&e), "published events could not be noted for the console");
        }
    }

    /// Publishes one batch of the oldest unsent events ([`DRAIN_BATCH`]) and marks those the bus
    /// took. A bus failure is counted, not returned: the events stay for the next drain.
    pub async fn drain(&self) -> Result<DrainSummary, StoreError> {
        let mut summary = DrainSummary::default();
        let Some(bus) = &self.bus else {
            return Ok(summary);
        };
        let unsent = self
            .store
            .unsent_events(&self.component, DRAIN_BATCH)
            .await?;
        summary.more = unsent.len() == DRAIN_BATCH;
        if unsent.is_empty() {
            return Ok(summary);
        }
        let published = bus.publish(&unsent).await;
        let sent = published.sent;
        summary.published = u32::try_from(sent.len()).unwrap_or(u32::MAX);
        summary.failed = u32::try_from(published.failed.len()).unwrap_or(u32::MAX);
        if let Err(e) = self.store.mark_events_sent(&self.component, &sent).await {
            // Published but not marked: the next drain publishes them again, with the same ids.
            tracing::warn!(error = %error_chain(&e), "published events could not be marked sent");
            return Err(e);
        }
        self.note_recent(&unsent, &sent).await;
        if summary.failed > 0 {
            tracing::warn!(
                failed = summary.failed,
                published = summary.published,
                "the bus did not take every event; the rest wait for the next drain"
            );
        }
        Ok(summary)
    }
}
