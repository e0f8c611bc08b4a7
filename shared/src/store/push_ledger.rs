//! The push ledger: which pushes were acted on, so that WeChat's retries are acted on once, and
//! what they said when it is worth keeping (registration results, unknown notifications).
//!
//! A push goes through three states:
//! - **claimed** (`processing`, with an owner and a short lease) while its action runs;
//! - **done** once the action succeeded, with a [`PushRecord`]: retries are answered as the first
//!   delivery was, without acting again;
//! - **released** when the action failed: the lease is cleared at once, so WeChat's retry acts
//!   again. Only the claim's owner can release it, so a slow delivery whose lease lapsed cannot
//!   clear the claim of the delivery that took over. A worker that dies mid-action (a Lambda
//!   timeout) leaves a lease that lapses after `lease_secs`, which is no longer than one
//!   delivery's budget: WeChat's next delivery finds it lapsed.
//!
//! So "processed" is only ever written after the action succeeded, and a failure never blocks the
//! retry. The actions themselves are idempotent (authorization by code digest, status and audit
//! writes), so the rare double run after a lapsed lease is harmless.
//!
//! Kept beside the use cases rather than in `store` for now; it follows the store's rules (keyed by
//! component first, conditional writes, expired means absent) and has the same two adapters.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::{EVENT_RETENTION_SECS, LeaseOwner, StoreError};
use crate::clock::{Clock, EpochSeconds};
use crate::ids::ComponentAppId;

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody acted on this push yet (or a previous attempt failed): act now.
    Acquired,
    /// The push was acted on already: answer as before, do nothing.
    Done,
    /// Another delivery is acting on it right now.
    InProgress,
}

/// How long a [`PushRecord`] is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Long enough to recognise WeChat's retries ([`EVENT_RETENTION_SECS`]).
    Dedupe,
    /// This many seconds.
    Secs(i64),
    /// Until someone deletes it (results that someone may look up later).
    Forever,
}

/// What is kept about a push once it was acted on. Never a token, a ticket or an auth code. `Debug`
/// shows the names of the details, not their values: one of them may be an unknown push's raw XML.
#[derive(Clone, PartialEq, Eq)]
pub struct PushRecord {
    /// `InfoType`, or `MsgType` / `MsgType:Event` of a message push.
    pub kind: String,
    /// The authorizer or registered mini program it concerns, if any.
    pub appid: Option<String>,
    /// A status WeChat reported (registration `status`, nickname audit `ret`), if any.
    pub status: Option<i64>,
    /// Further fields worth keeping (names, messages, reasons; the raw XML of unknown kinds).
    pub detail: BTreeMap<String, String>,
    pub retention: Retention,
}

impl std::fmt::Debug for PushRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushRecord")
            .field("kind", &self.kind)
            .field("appid", &self.appid)
            .field("status", &self.status)
            .field("detail", &self.detail.keys().collect::<Vec<_>>())
            .field("retention", &self.retention)
            .finish()
    }
}

impl PushRecord {
    /// A record of just the kind, kept for deduplication only.
    pub fn dedupe(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            appid: None,
            status: None,
            detail: BTreeMap::new(),
            retention: Retention::Dedupe,
        }
    }
}

/// A ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub done: bool,
    pub received_at: EpochSeconds,
    /// Set once done.
    pub record: Option<PushRecord>,
}

/// The ledger's capability. `key` is the service's digest of the push's idempotency key.
pub trait PushLedger: Send + Sync {
    /// Claims the push for `owner` for `lease_secs` unless it is done or another unexpired claim
    /// holds it.
    fn claim(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
        lease_secs: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Marks the push done and keeps `record` (an unconditional write: whoever finishes last wins,
    /// and both acted on the same push).
    fn complete(
        &self,
        component: &ComponentAppId,
        key: &str,
        record: &PushRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives `owner`'s claim back after a failed action, so the next delivery acts at once. A push
    /// that is done stays done, and a claim another owner holds now is left alone.
    fn release(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The entry, if one is stored and not expired.
    fn entry(
        &self,
        component: &ComponentAppId,
        key: &str,
    ) -> impl Future<Output = Result<Option<LedgerEntry>, StoreError>> + Send;
}

/// When a record of this retention expires, from `now`.
pub(crate) fn expiry(retention: Retention, now: EpochSeconds) -> Option<EpochSeconds> {
    match retention {
        Retention::Dedupe => Some(now + EVENT_RETENTION_SECS),
        Retention::Secs(secs) => Some(now + secs),
        Retention::Forever => None,
    }
}

#[derive(Debug, Clone)]
struct MemoryEntry {
    done: bool,
    owner: Option<LeaseOwner>,
    lease_until: EpochSeconds,
    received_at: EpochSeconds,
    expires_at: Option<EpochSeconds>,
    record: Option<PushRecord>,
}

/// The ledger in process memory, for unit tests and benchmarks.
pub struct MemoryPushLedger {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<(ComponentAppId, String), MemoryEntry>>,
}

impl MemoryPushLedger {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(ComponentAppId, String), MemoryEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PushLedger for MemoryPushLedger {
    async fn claim(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
        lease_secs: i64,
    ) -> Result<Claim, StoreError> {
        let now = self.clock.now();
        let mut entries = self.entries();
        let slot = (component.clone(), key.to_owned());
        if let Some(e) = entries.get(&slot)
            && e.expires_at.is_none_or(|at| at > now)
        {
            if e.done {
                return Ok(Claim::Done);
            }
            if e.lease_until > now {
                return Ok(Claim::InProgress);
            }
        }
        entries.insert(
            slot,
            MemoryEntry {
                done: false,
                owner: Some(owner.clone()),
                lease_until: now + lease_secs,
                received_at: now,
                expires_at: Some(now + EVENT_RETENTION_SECS),
                record: None,
            },
        );
        Ok(Claim::Acquired)
    }

    async fn complete(
        &self,
        component: &ComponentAppId,
        key: &str,
        record: &PushRecord,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut entries = self.entries();
        let slot = (component.clone(), key.to_owned());
        let received_at = entries.get(&slot).map_or(now, |e| e.received_at);
        entries.insert(
            slot,
            MemoryEntry {
                done: true,
                owner: None,
                lease_until: 0,
                received_at,
                expires_at: expiry(record.retention, now),
                record: Some(record.clone()),
            },
        );
        Ok(())
    }

    async fn release(
        &self,
        component: &ComponentAppId,
        key: &str,
        owner: &LeaseOwner,
    ) -> Result<(), StoreError> {
        if let Some(e) = self.entries().get_mut(&(component.clone(), key.to_owned()))
            && !e.done
            && e.owner.as_ref() == Some(owner)
        {
            e.lease_until = 0;
        }
        Ok(())
    }

    async fn entry(
        &self,
        component: &ComponentAppId,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .entries()
            .get(&(component.clone(), key.to_owned()))
            .filter(|e| e.expires_at.is_none_or(|at| at > now))
            .map(|e| LedgerEntry {
                done: e.done,
                received_at: e.received_at,
                record: e.record.clone(),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_record_shows_detail_names_but_not_the_raw_xml_it_keeps() {
        let mut record = PushRecord::dedupe("notify_unknown");
        record.detail.insert(
            "raw_xml".into(),
            "<xml><AuthCode>authcode@@@secret</AuthCode></xml>".into(),
        );
        let entry = LedgerEntry {
            done: true,
            received_at: 1,
            record: Some(record.clone()),
        };
        for debug in [format!("{record:?}"), format!("{entry:?}")] {
            assert!(!debug.contains("authcode@@@secret"), "{debug}");
            assert!(
                debug.contains("raw_xml") && debug.contains("notify_unknown"),
                "{debug}"
            );
        }
    }
}
