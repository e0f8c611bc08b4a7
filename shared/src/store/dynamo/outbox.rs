//! The event outbox in the table (layout in `docs/storage.md`). An unsent event is an entry of the
//! `events` map of the item that keeps it, keyed by its id, with `t` (the detail type) and `d`
//! (the detail as JSON text). That item is either the record whose change the event describes,
//! written in the same request as the change, or the event's own record,
//! `C#<component>#EVENT#<event id>` / `EVENT`, for events no record carries. While an item keeps
//! unsent events it carries `outbox_pk` = `C#<component>#OUTBOX#<shard>` and `outbox_at` (when
//! its oldest one happened), which put it in the sparse `outbox` index with its `events`: a drain
//! takes Queries only. Marking an event sent removes its entry, then the index keys once none is
//! left. An event's own record is written only if absent and kept for a week once sent, so the
//! same event recorded again is not published twice.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item, backend, key, n, names, s, values};
use crate::events::{EventId, ProductEvent};
use crate::ids::ComponentAppId;
use crate::store::schema::{OUTBOX_AT, OUTBOX_INDEX, OUTBOX_PK, PK, SK, TTL};
use crate::store::{
    EventOutbox, EventSlot, Result, SENT_EVENT_RETENTION_SECS, StoreError, UnsentEvent,
};

/// How many partitions of the outbox index each component's unsent events are spread over.
pub const OUTBOX_SHARDS: u8 = 4;

/// The map of unsent events on an item.
pub(crate) const EVENTS: &str = "events";
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

/// The outbox partition of an item whose first unsent event is `first`.
pub(crate) fn outbox_pk_for(component: &ComponentAppId, first: &EventId) -> String {
    let shard = u8::from_str_radix(&first.as_str()[..2], 16).unwrap_or(0) % OUTBOX_SHARDS;
    outbox_pk(component, shard)
}

/// An unsent event as an entry of the `events` map.
pub(crate) fn event_entry(event: &ProductEvent) -> AttributeValue {
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

fn slot_of(item: &Item) -> Option<EventSlot> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(EventSlot {
            pk: pk.clone(),
            sk: sk.clone(),
        }),
        _ => None,
    }
}

impl EventOutbox for DynamoStore {
    async fn record_events(
        &self,
        component: &ComponentAppId,
        events: &[ProductEvent],
    ) -> Result<()> {
        for event in events {
            let mut item = key(event_pk(component, &event.id), SK_EVENT);
            item.extend([
                (
                    EVENTS.to_owned(),
                    AttributeValue::M([(event.id.as_str().to_owned(), event_entry(event))].into()),
                ),
                (OUTBOX_PK.to_owned(), s(outbox_pk_for(component, &event.id))),
                (OUTBOX_AT.to_owned(), n(event.occurred_at)),
            ]);
            match self
                .put_if(
                    item,
                    &format!("attribute_not_exists(#{PK})"),
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

    async fn unsent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> Result<Vec<UnsentEvent>> {
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
                let Some(slot) = slot_of(item) else { continue };
                unsent.extend(events_of(item).into_iter().map(|event| UnsentEvent {
                    event,
                    slot: slot.clone(),
                }));
            }
        }
        unsent.sort_by_key(|u| u.event.occurred_at);
        unsent.truncate(limit);
        Ok(unsent)
    }

    async fn mark_events_sent(
        &self,
        _component: &ComponentAppId,
        sent: &[(EventSlot, EventId)],
    ) -> Result<()> {
        let now = self.now();
        for (slot, id) in sent {
            let own_record = slot.sk == SK_EVENT;
            // An event's own record is kept a while once sent; a state record is not touched
            // beyond its outbox.
            let retention = if own_record {
                format!(" SET #{SENT_AT} = :now, #{TTL} = :ttl")
            } else {
                String::new()
            };
            // The event id (hex) is its own placeholder name: `#<id>` stands for the map key.
            let mut attributes = vec![EVENTS, id.as_str()];
            let mut vals = vec![];
            if own_record {
                attributes.extend([SENT_AT, TTL]);
                vals.extend([
                    (":now", n(now)),
                    (":ttl", n(now + SENT_EVENT_RETENTION_SECS)),
                ]);
            }
            let Ok(item) = self
                .update_if(
                    key(slot.pk.clone(), slot.sk.clone()),
                    &format!("REMOVE #{EVENTS}.#{id}{retention}"),
                    &format!("attribute_exists(#{EVENTS}.#{id})"),
                    &attributes,
                    vals,
                )
                .await?
            else {
                // Marked before.
                continue;
            };
            let none_left = match item.get(EVENTS) {
                Some(AttributeValue::M(events)) => events.is_empty(),
                _ => true,
            };
            if none_left {
                // Out of the index, unless an event was added meanwhile.
                let _ = self
                    .update_if(
                        key(slot.pk.clone(), slot.sk.clone()),
                        &format!("REMOVE #{OUTBOX_PK}, #{OUTBOX_AT}"),
                        &format!("attribute_not_exists(#{EVENTS}) OR size(#{EVENTS}) = :zero"),
                        &[OUTBOX_PK, OUTBOX_AT, EVENTS],
                        vec![(":zero", n(0))],
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
