//! The event outbox in the table (layout in `docs/storage.md`). Every event has a record of its
//! own, `C#<component>#EVENT#<event id>` / `EVENT`, written only if absent: with the state change
//! it describes, in one transaction ([`DynamoStore::write_with_events`]), or alone. An unsent
//! event is the entry of the record's `events` map under its id, with `t` (the detail type) and
//! `d` (the detail as JSON text); while it is there the record carries `outbox_pk` =
//! `C#<component>#OUTBOX#<shard>` and `outbox_at` (when it happened), which put it in the sparse
//! `outbox` index with its `events`: a drain takes Queries only. Marking the event sent removes
//! the entry and the index keys, and keeps the record for a week, so the same event recorded
//! again (a push delivered again) is not published twice.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::{ConditionFailed, DynamoStore, Item, backend, key, n, names, s, values};
use crate::events::{EventId, ProductEvent};
use crate::ids::ComponentAppId;
use crate::store::schema::{OUTBOX_AT, OUTBOX_INDEX, OUTBOX_PK, PK, TTL};
use crate::store::{EventOutbox, Result, SENT_EVENT_RETENTION_SECS, StoreError};

/// How many partitions of the outbox index each component's unsent events are spread over.
pub const OUTBOX_SHARDS: u8 = 4;

/// The map of unsent events on an item.
const EVENTS: &str = "events";
const SK_EVENT: &str = "EVENT";
const DETAIL_TYPE: &str = "t";
const DETAIL: &str = "d";
const SENT_AT: &str = "sent_at";

fn event_pk(component: &ComponentAppId, id: &EventId) -> String {
    format!("C#{component}#EVENT#{id}")
}

fn outbox_pk(component: &ComponentAppId, shard: u8) -> String {
    format!("C#{component}#OUTBOX#{shard}")
}

/// The outbox partition of the event `id`.
fn outbox_pk_for(component: &ComponentAppId, id: &EventId) -> String {
    let shard = u8::from_str_radix(&id.as_str()[..2], 16).unwrap_or(0) % OUTBOX_SHARDS;
    outbox_pk(component, shard)
}

/// An unsent event as an entry of the `events` map.
fn event_entry(event: &ProductEvent) -> AttributeValue {
    AttributeValue::M(
        [
            (DETAIL_TYPE.to_owned(), s(event.detail_type.as_str())),
            (DETAIL.to_owned(), s(event.detail().to_string())),
        ]
        .into(),
    )
}

fn events_of(item: &Item) -> Vec<ProductEvent> {
    let Some(AttributeValue::M(events)) = item.get(EVENTS) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, entry) in events {
        let event = match entry {
            AttributeValue::M(entry) => match (entry.get(DETAIL_TYPE), entry.get(DETAIL)) {
                (Some(AttributeValue::S(t)), Some(AttributeValue::S(d))) => serde_json::from_str(d)
                    .ok()
                    .and_then(|d| ProductEvent::from_detail(t, &d)),
                _ => None,
            },
            _ => None,
        };
        match event {
            Some(event) if event.id.as_str() == id => out.push(event),
            _ => tracing::error!(
                event_id = %id,
                "an unsent event in the outbox could not be read; it is left in place"
            ),
        }
    }
    out
}

/// The record of an unsent event (written only if absent: [`not_recorded`]).
fn event_record(component: &ComponentAppId, event: &ProductEvent) -> Item {
    let mut item = key(event_pk(component, &event.id), SK_EVENT);
    item.extend([
        (
            EVENTS.to_owned(),
            AttributeValue::M([(event.id.as_str().to_owned(), event_entry(event))].into()),
        ),
        (OUTBOX_PK.to_owned(), s(outbox_pk_for(component, &event.id))),
        (OUTBOX_AT.to_owned(), n(event.occurred_at)),
    ]);
    item
}

/// The condition of an event's record: not recorded yet.
fn not_recorded() -> String {
    format!("attribute_not_exists(#{PK})")
}

/// How often a transaction that collided with another one is tried in all.
const TRANSACTION_ATTEMPTS: u32 = 5;

/// A write of a state record, to be made in one transaction with the events it means.
pub(super) enum StateWrite {
    Put {
        item: Item,
        condition: String,
        names: Option<HashMap<String, String>>,
        values: Option<HashMap<String, AttributeValue>>,
    },
    Update {
        key: Item,
        update: String,
        condition: Option<String>,
        names: Option<HashMap<String, String>>,
        values: Option<HashMap<String, AttributeValue>>,
    },
}

impl StateWrite {
    fn item(&self, table: &str) -> Result<TransactWriteItem> {
        let failure = ReturnValuesOnConditionCheckFailure::AllOld;
        let built = match self {
            StateWrite::Put {
                item,
                condition,
                names,
                values,
            } => Put::builder()
                .table_name(table)
                .set_item(Some(item.clone()))
                .condition_expression(condition)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .return_values_on_condition_check_failure(failure)
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build()),
            StateWrite::Update {
                key,
                update,
                condition,
                names,
                values,
            } => Update::builder()
                .table_name(table)
                .set_key(Some(key.clone()))
                .update_expression(update)
                .set_condition_expression(condition.clone())
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .return_values_on_condition_check_failure(failure)
                .build()
                .map(|update| TransactWriteItem::builder().update(update).build()),
        };
        built.map_err(|e| backend("TransactWriteItems", e))
    }
}

impl DynamoStore {
    /// Makes `write` and records those of `events` not recorded before, in one transaction: the
    /// state changes with its events or not at all. `Ok(Err(..))` when the write's own condition
    /// failed (nothing is written then).
    pub(super) async fn write_with_events(
        &self,
        component: &ComponentAppId,
        write: StateWrite,
        events: &[ProductEvent],
    ) -> Result<std::result::Result<(), ConditionFailed>> {
        let mut pending: Vec<&ProductEvent> = events.iter().collect();
        let mut collisions = 0;
        loop {
            let mut items = vec![write.item(&self.table)?];
            for event in &pending {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(event_record(component, event)))
                    .condition_expression(not_recorded())
                    .set_expression_attribute_names(names(&[PK]))
                    .build()
                    .map_err(|e| backend("TransactWriteItems", e))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let Err(e) = result else {
                return Ok(Ok(()));
            };
            let reasons = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
                    cancel.cancellation_reasons().to_vec()
                }
                _ => return Err(backend("TransactWriteItems", e)),
            };
            let failed = |r: &aws_sdk_dynamodb::types::CancellationReason| {
                r.code() == Some("ConditionalCheckFailed")
            };
            if let Some(first) = reasons.first().filter(|r| failed(r)) {
                return Ok(Err(ConditionFailed {
                    old: first.item().filter(|i| !i.is_empty()).cloned(),
                }));
            }
            let recorded: Vec<bool> = reasons.iter().skip(1).map(failed).collect();
            if recorded.iter().any(|r| *r) {
                // Recorded before: the same change, made again. Made again without them (each
                // round drops at least one, so this ends).
                let mut flags = recorded.into_iter();
                pending.retain(|_| !flags.next().unwrap_or(false));
                continue;
            }
            let collided = reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"));
            collisions += 1;
            if !collided || collisions >= TRANSACTION_ATTEMPTS {
                return Err(backend("TransactWriteItems", e));
            }
            let jitter = rand::random_range(5..25u64) << collisions.min(4);
            tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
        }
    }
}

impl EventOutbox for DynamoStore {
    async fn record_events(
        &self,
        component: &ComponentAppId,
        events: &[ProductEvent],
    ) -> Result<()> {
        for event in events {
            match self
                .put_if(
                    event_record(component, event),
                    &not_recorded(),
                    &[PK],
                    vec![],
                    StoreError::Conflict,
                )
                .await
            {
                // Recorded before: the same event, recorded again.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn unsent_among(
        &self,
        component: &ComponentAppId,
        ids: &[EventId],
    ) -> Result<Vec<EventId>> {
        let mut unsent = Vec::new();
        for id in ids {
            let record = self.get(key(event_pk(component, id), SK_EVENT)).await?;
            let waiting = record.as_ref().and_then(|item| match item.get(EVENTS) {
                Some(AttributeValue::M(events)) => Some(events.contains_key(id.as_str())),
                _ => None,
            });
            if waiting == Some(true) {
                unsent.push(id.clone());
            }
        }
        Ok(unsent)
    }

    async fn unsent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> Result<Vec<ProductEvent>> {
        let mut unsent = Vec::new();
        for shard in 0..OUTBOX_SHARDS {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OUTBOX_INDEX)
                .key_condition_expression(format!("#{OUTBOX_PK} = :pk"))
                .set_expression_attribute_names(names(&[OUTBOX_PK]))
                .set_expression_attribute_values(values(vec![(
                    ":pk",
                    s(outbox_pk(component, shard)),
                )]))
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| backend("Query", e))?;
            for item in out.items() {
                unsent.extend(events_of(item));
            }
        }
        unsent.sort_by_key(|e| e.occurred_at);
        unsent.truncate(limit);
        Ok(unsent)
    }

    async fn mark_events_sent(&self, component: &ComponentAppId, sent: &[EventId]) -> Result<()> {
        let now = self.now();
        for id in sent {
            // The event id (hex) is its own placeholder name: `#<id>` stands for the map key.
            // A failed condition means marked before.
            let _marked_or_before = self
                .update_if(
                    key(event_pk(component, id), SK_EVENT),
                    &format!(
                        "REMOVE #{EVENTS}.#{id}, #{OUTBOX_PK}, #{OUTBOX_AT} \
                         SET #{SENT_AT} = :now, #{TTL} = :ttl"
                    ),
                    &format!("attribute_exists(#{EVENTS}.#{id})"),
                    &[EVENTS, id.as_str(), OUTBOX_PK, OUTBOX_AT, SENT_AT, TTL],
                    vec![
                        (":now", n(now)),
                        (":ttl", n(now + SENT_EVENT_RETENTION_SECS)),
                    ],
                )
                .await?;
        }
        Ok(())
    }
}
