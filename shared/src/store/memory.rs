//! The in-memory adapter: the same rules as the DynamoDB adapter, in a mutex. For unit tests of the
//! services; the contract suite keeps the two in step.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::*;
use crate::clock::Clock;

/// Every capability of [`Store`](super::Store), in process memory.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tickets: HashMap<ComponentAppId, Ticket>,
    component_tokens: HashMap<ComponentAppId, ComponentToken>,
    leases: HashMap<(ComponentAppId, LeaseKey), Lease>,
    // The refresh lease on an authorizer's record: owner and expiry.
    refresh_leases: HashMap<(ComponentAppId, AuthorizerAppId), (LeaseOwner, EpochSeconds)>,
    // Ordered like DynamoDB orders sort keys, so listings page identically.
    authorizers: BTreeMap<(ComponentAppId, AuthorizerAppId), Authorizer>,
    // Event id → when it stops counting.
    audits: HashMap<(ComponentAppId, AuthorizerAppId), AuditState>,
    // Code digest → (appid, when it stops counting).
    completed: HashMap<(ComponentAppId, AuthCodeDigest), (AuthorizerAppId, EpochSeconds)>,
    settings: HashMap<(ComponentAppId, AuthorizerAppId), AuthorizerSettings>,
    // Withdrawals per Beijing day (YYYYMMDD); a month's are the sum of its days.
    withdrawals: HashMap<(ComponentAppId, AuthorizerAppId, u32), u32>,
    // Recorded events in the order recorded, and whether each was sent.
    events: Vec<(ProductEvent, bool)>,
    jsapi_tickets: HashMap<(ComponentAppId, AuthorizerAppId), ComponentToken>,
    web_users: HashMap<(ComponentAppId, AuthorizerAppId, String), WebUser>,
    console_sessions: HashMap<(ComponentAppId, String), ConsoleSession>,
    // (component, client, window start) → failed sign-ins.
    failed_sign_ins: HashMap<(ComponentAppId, String, EpochSeconds), u32>,
    refresher_runs: HashMap<ComponentAppId, RefresherRun>,
    recent_events: HashMap<ComponentAppId, Vec<RecentEvent>>,
}

/// Stores `token` under `key` if the stored one is still the one the caller saw (`replaces`), or
/// none valid was seen and none valid is stored: the rule of every versioned token.
fn replace_versioned<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, ComponentToken>,
    key: K,
    token: &ExpiringToken,
    replaces: Option<u64>,
    now: EpochSeconds,
) -> Result<u64> {
    let stored = map.get(&key);
    let allowed = match (replaces, stored) {
        (Some(seen), Some(stored)) => stored.version == seen,
        (Some(_), None) => false,
        (None, Some(stored)) => stored.token.expires_at <= now,
        (None, None) => true,
    };
    if !allowed {
        return Err(StoreError::Conflict);
    }
    let version = stored.map_or(0, |s| s.version) + 1;
    map.insert(
        key,
        ComponentToken {
            token: token.clone(),
            version,
        },
    );
    Ok(version)
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps (every write is one insert).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> EpochSeconds {
        self.clock.now()
    }

    /// Stores authorizers as given, unconditionally (the counterpart of
    /// [`DynamoStore::import_authorizers`](super::DynamoStore::import_authorizers)).
    pub fn import_authorizers(&self, component: &ComponentAppId, authorizers: &[Authorizer]) {
        let mut state = self.state();
        for a in authorizers {
            state
                .authorizers
                .insert((component.clone(), a.appid.clone()), a.clone());
        }
    }
}

impl TicketStore for MemoryStore {
    async fn latest_ticket(&self, component: &ComponentAppId) -> Result<Option<Ticket>> {
        let now = self.now();
        Ok(self
            .state()
            .tickets
            .get(component)
            .filter(|t| t.received_at + TICKET_VALIDITY_SECS > now)
            .cloned())
    }

    async fn put_ticket(&self, component: &ComponentAppId, ticket: &Ticket) -> Result<()> {
        let mut state = self.state();
        if let Some(stored) = state.tickets.get(component)
            && stored.received_at > ticket.received_at
        {
            return Err(StoreError::Conflict);
        }
        state.tickets.insert(component.clone(), ticket.clone());
        Ok(())
    }
}

impl ComponentTokenStore for MemoryStore {
    async fn component_token(&self, component: &ComponentAppId) -> Result<Option<ComponentToken>> {
        let now = self.now();
        Ok(self
            .state()
            .component_tokens
            .get(component)
            .filter(|t| t.token.expires_at > now)
            .cloned())
    }

    async fn replace_component_token(
        &self,
        component: &ComponentAppId,
        token: &ExpiringToken,
        replaces: Option<u64>,
    ) -> Result<u64> {
        let now = self.now();
        replace_versioned(
            &mut self.state().component_tokens,
            component.clone(),
            token,
            replaces,
            now,
        )
    }
}

impl LeaseStore for MemoryStore {
    async fn try_acquire_lease(
        &self,
        component: &ComponentAppId,
        key: &LeaseKey,
        owner: &LeaseOwner,
        ttl_secs: i64,
    ) -> Result<Lease> {
        let now = self.now();
        let mut state = self.state();
        let slot = (component.clone(), key.clone());
        if let Some(held) = state.leases.get(&slot)
            && held.expires_at > now
            && held.owner != *owner
        {
            return Err(StoreError::LeaseHeld);
        }
        let lease = Lease {
            key: key.clone(),
            owner: owner.clone(),
            expires_at: now + ttl_secs,
        };
        state.leases.insert(slot, lease.clone());
        Ok(lease)
    }

    async fn release_lease(
        &self,
        component: &ComponentAppId,
        key: &LeaseKey,
        owner: &LeaseOwner,
    ) -> Result<()> {
        let now = self.now();
        let mut state = self.state();
        let slot = (component.clone(), key.clone());
        match state.leases.get(&slot) {
            Some(held) if held.owner == *owner => {
                state.leases.remove(&slot);
                Ok(())
            }
            Some(held) if held.expires_at > now => Err(StoreError::LeaseHeld),
            _ => Err(StoreError::NotFound),
        }
    }
}

impl AuthorizerStore for MemoryStore {
    async fn record_authorization_with_events(
        &self,
        component: &ComponentAppId,
        grant: &AuthorizationGrant,
        events: &[ProductEvent],
    ) -> Result<Authorizer> {
        let now = self.now();
        let mut state = self.state();
        let slot = (component.clone(), grant.appid.clone());
        let previous = state.authorizers.get(&slot);
        let authorizer = Authorizer {
            appid: grant.appid.clone(),
            status: AuthorizerStatus::Authorized,
            refresh_token: grant.refresh_token.clone(),
            refresh_token_version: previous.map_or(0, |p| p.refresh_token_version) + 1,
            access_token: grant.access_token.clone(),
            func_info: grant.func_info.clone(),
            account: grant
                .account
                .clone()
                .or_else(|| previous.and_then(|p| p.account.clone())),
            authorized_at: now,
            updated_at: now,
        };
        state.authorizers.insert(slot, authorizer.clone());
        state.record(component, events);
        Ok(authorizer)
    }

    async fn update_authorizer_tokens(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        refresh: &TokenRefresh,
    ) -> Result<Authorizer> {
        let now = self.now();
        let mut state = self.state();
        let stored = state
            .authorizers
            .get_mut(&(component.clone(), appid.clone()))
            .ok_or(StoreError::NotFound)?;
        if stored.refresh_token_version > refresh.based_on_version
            || stored.status != AuthorizerStatus::Authorized
        {
            return Err(StoreError::Conflict);
        }
        stored.access_token = refresh.access_token.clone();
        if let Some(token) = &refresh.refresh_token {
            stored.refresh_token = token.clone();
            stored.refresh_token_version = refresh.based_on_version + 1;
        }
        stored.updated_at = now;
        let updated = stored.clone();
        state
            .refresh_leases
            .remove(&(component.clone(), appid.clone()));
        Ok(updated)
    }

    async fn claim_token_refresh(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        owner: &LeaseOwner,
        ttl_secs: i64,
        due_by: Option<EpochSeconds>,
    ) -> Result<RefreshClaim> {
        let now = self.now();
        let mut state = self.state();
        let slot = (component.clone(), appid.clone());
        let stored = state
            .authorizers
            .get(&slot)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let not_due = due_by.is_some_and(|due_by| stored.access_token.expires_at > due_by);
        if stored.status != AuthorizerStatus::Authorized {
            return Ok(RefreshClaim::Declined(stored));
        }
        if let Some((holder, expires_at)) = state.refresh_leases.get(&slot)
            && *expires_at > now
            && holder != owner
        {
            return Ok(RefreshClaim::Held(stored));
        }
        if not_due {
            return Ok(RefreshClaim::Declined(stored));
        }
        state
            .refresh_leases
            .insert(slot, (owner.clone(), now + ttl_secs));
        Ok(RefreshClaim::Claimed(stored))
    }

    async fn release_token_refresh(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        owner: &LeaseOwner,
    ) -> Result<()> {
        let now = self.now();
        let mut state = self.state();
        let slot = (component.clone(), appid.clone());
        match state.refresh_leases.get(&slot) {
            Some((holder, _)) if holder == owner => {
                state.refresh_leases.remove(&slot);
                Ok(())
            }
            Some((_, expires_at)) if *expires_at > now => Err(StoreError::LeaseHeld),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn set_authorizer_status_with_events(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        status: AuthorizerStatus,
        events: &[ProductEvent],
    ) -> Result<()> {
        let now = self.now();
        let mut state = self.state();
        let stored = state
            .authorizers
            .get_mut(&(component.clone(), appid.clone()))
            .ok_or(StoreError::NotFound)?;
        stored.status = status;
        stored.updated_at = now;
        state.record(component, events);
        Ok(())
    }

    async fn set_account_info(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        account: &AccountInfo,
    ) -> Result<()> {
        let now = self.now();
        let mut state = self.state();
        let stored = state
            .authorizers
            .get_mut(&(component.clone(), appid.clone()))
            .ok_or(StoreError::NotFound)?;
        stored.account = Some(account.clone());
        stored.updated_at = now;
        Ok(())
    }

    async fn authorizer(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<Authorizer>> {
        Ok(self
            .state()
            .authorizers
            .get(&(component.clone(), appid.clone()))
            .cloned())
    }
}

impl AuthorizerSettingsStore for MemoryStore {
    async fn put_authorizer_settings(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        settings: &AuthorizerSettings,
    ) -> Result<()> {
        let now = self.now();
        let mut state = self.state();
        let key = (component.clone(), appid.clone());
        let stored = state
            .authorizers
            .get_mut(&key)
            .ok_or(StoreError::NotFound)?;
        stored.updated_at = now;
        state.settings.insert(key, settings.clone());
        Ok(())
    }

    async fn authorizer_settings(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<AuthorizerSettings>> {
        let state = self.state();
        let key = (component.clone(), appid.clone());
        if !state.authorizers.contains_key(&key) {
            return Ok(None);
        }
        Ok(Some(state.settings.get(&key).cloned().unwrap_or_default()))
    }
}

impl DueTokens for MemoryStore {
    async fn authorizer_tokens_due(
        &self,
        component: &ComponentAppId,
        due_by: EpochSeconds,
        limit: usize,
    ) -> Result<Vec<DueToken>> {
        let state = self.state();
        let mut due: Vec<DueToken> = state
            .authorizers
            .iter()
            .filter(|((c, _), a)| {
                c == component
                    && a.status == AuthorizerStatus::Authorized
                    && a.access_token.expires_at <= due_by
            })
            .map(|(_, a)| DueToken {
                appid: a.appid.clone(),
                expires_at: a.access_token.expires_at,
            })
            .collect();
        due.sort_by(|a, b| (a.expires_at, &a.appid).cmp(&(b.expires_at, &b.appid)));
        due.truncate(limit);
        Ok(due)
    }
}

impl AuthorizerDirectory for MemoryStore {
    async fn list_authorizers(
        &self,
        component: &ComponentAppId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Authorizer>> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = cursor.map(Cursor::last_appid).transpose()?;
        let state = self.state();
        let mut items: Vec<Authorizer> = state
            .authorizers
            .iter()
            .filter(|((c, appid), _)| c == component && after.as_ref().is_none_or(|a| appid > a))
            .map(|(_, a)| a.clone())
            .take(limit + 1)
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|a| Cursor::after(&a.appid))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn count_authorizers_by_status(
        &self,
        component: &ComponentAppId,
    ) -> Result<StatusCounts> {
        let state = self.state();
        let mut counts = StatusCounts::default();
        for status in AuthorizerStatus::ALL {
            let n = state
                .authorizers
                .iter()
                .filter(|((c, _), a)| c == component && a.status == status)
                .count();
            counts.set(status, n as u64);
        }
        Ok(counts)
    }
}

impl AuditStore for MemoryStore {
    async fn audit_state(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<AuditState>> {
        Ok(self
            .state()
            .audits
            .get(&(component.clone(), appid.clone()))
            .cloned())
    }

    async fn put_audit_state_with_events(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        audit: &AuditState,
        events: &[ProductEvent],
    ) -> Result<()> {
        let mut state = self.state();
        let slot = (component.clone(), appid.clone());
        if state
            .audits
            .get(&slot)
            .is_some_and(|stored| stored.audit_id > audit.audit_id)
        {
            return Err(StoreError::Conflict);
        }
        state.audits.insert(slot, audit.clone());
        state.record(component, events);
        Ok(())
    }

    async fn withdrawals(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<WithdrawalCount> {
        Ok(self.state().withdrawal_count(component, appid, day))
    }

    async fn take_withdrawal(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<WithdrawalCount> {
        let mut state = self.state();
        let count = state.withdrawal_count(component, appid, day);
        if count.spent() {
            return Err(StoreError::Conflict);
        }
        *state
            .withdrawals
            .entry((component.clone(), appid.clone(), day))
            .or_default() += 1;
        Ok(WithdrawalCount {
            day: count.day + 1,
            month: count.month + 1,
        })
    }

    async fn return_withdrawal(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<()> {
        if let Some(n) = self
            .state()
            .withdrawals
            .get_mut(&(component.clone(), appid.clone(), day))
        {
            *n = n.saturating_sub(1);
        }
        Ok(())
    }

    async fn spend_withdrawals(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> Result<()> {
        let mut state = self.state();
        let n = state
            .withdrawals
            .entry((component.clone(), appid.clone(), day))
            .or_default();
        *n = (*n).max(WITHDRAWALS_PER_DAY);
        Ok(())
    }
}

impl State {
    fn withdrawal_count(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> WithdrawalCount {
        let mut count = WithdrawalCount::default();
        for ((c, a, d), n) in &self.withdrawals {
            if c == component && a == appid && d / 100 == day / 100 {
                count.month += n;
                if *d == day {
                    count.day = *n;
                }
            }
        }
        count
    }
}

impl CompletedAuthorizations for MemoryStore {
    async fn remember_completed_authorization(
        &self,
        component: &ComponentAppId,
        code: &AuthCodeDigest,
        appid: &AuthorizerAppId,
    ) -> Result<()> {
        let until = self.now() + COMPLETED_AUTHORIZATION_RETENTION_SECS;
        self.state()
            .completed
            .insert((component.clone(), code.clone()), (appid.clone(), until));
        Ok(())
    }

    async fn completed_authorization(
        &self,
        component: &ComponentAppId,
        code: &AuthCodeDigest,
    ) -> Result<Option<AuthorizerAppId>> {
        let now = self.now();
        Ok(self
            .state()
            .completed
            .get(&(component.clone(), code.clone()))
            .filter(|(_, until)| *until > now)
            .map(|(appid, _)| appid.clone()))
    }
}

impl State {
    /// Records the events whose ids are not recorded yet, as unsent.
    fn record(&mut self, component: &ComponentAppId, events: &[ProductEvent]) {
        for event in events {
            let known = self
                .events
                .iter()
                .any(|(e, _)| &e.component == component && e.id == event.id);
            if !known {
                let mut event = event.clone();
                event.component = component.clone();
                self.events.push((event, false));
            }
        }
    }
}

impl EventOutbox for MemoryStore {
    async fn record_events(
        &self,
        component: &ComponentAppId,
        events: &[ProductEvent],
    ) -> Result<()> {
        self.state().record(component, events);
        Ok(())
    }

    async fn unsent_among(
        &self,
        component: &ComponentAppId,
        ids: &[EventId],
    ) -> Result<Vec<EventId>> {
        let state = self.state();
        Ok(ids
            .iter()
            .filter(|id| {
                state
                    .events
                    .iter()
                    .any(|(e, sent)| !sent && &e.component == component && &e.id == *id)
            })
            .cloned()
            .collect())
    }

    async fn unsent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> Result<Vec<ProductEvent>> {
        let mut unsent: Vec<ProductEvent> = self
            .state()
            .events
            .iter()
            .filter(|(e, sent)| !sent && &e.component == component)
            .map(|(e, _)| e.clone())
            .collect();
        // Stable: events of the same second stay in the order recorded.
        unsent.sort_by_key(|e| e.occurred_at);
        unsent.truncate(limit);
        Ok(unsent)
    }

    async fn mark_events_sent(&self, component: &ComponentAppId, sent: &[EventId]) -> Result<()> {
        for (event, is_sent) in &mut self.state().events {
            if &event.component == component && sent.contains(&event.id) {
                *is_sent = true;
            }
        }
        Ok(())
    }
}

impl OfficialAccountStore for MemoryStore {
    async fn jsapi_ticket(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<StoredJsapiTicket>> {
        let now = self.now();
        Ok(self
            .state()
            .jsapi_tickets
            .get(&(component.clone(), appid.clone()))
            .filter(|t| t.token.expires_at > now)
            .map(|t| StoredJsapiTicket {
                ticket: t.token.clone(),
                version: t.version,
            }))
    }

    async fn replace_jsapi_ticket(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        ticket: &ExpiringToken,
        replaces: Option<u64>,
    ) -> Result<u64> {
        let now = self.now();
        replace_versioned(
            &mut self.state().jsapi_tickets,
            (component.clone(), appid.clone()),
            ticket,
            replaces,
            now,
        )
    }

    async fn put_web_user(&self, component: &ComponentAppId, user: &WebUser) -> Result<()> {
        self.state().web_users.insert(
            (
                component.clone(),
                user.appid.clone(),
                user.profile.openid.clone(),
            ),
            user.clone(),
        );
        Ok(())
    }

    async fn web_user(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        openid: &str,
    ) -> Result<Option<WebUser>> {
        let now = self.now();
        Ok(self
            .state()
            .web_users
            .get(&(component.clone(), appid.clone(), openid.to_owned()))
            .filter(|u| u.expires_at > now)
            .cloned())
    }
}

impl ConsoleStore for MemoryStore {
    async fn put_console_session(
        &self,
        component: &ComponentAppId,
        session: &ConsoleSession,
    ) -> Result<()> {
        self.state().console_sessions.insert(
            (component.clone(), session.id_digest.clone()),
            session.clone(),
        );
        Ok(())
    }

    async fn console_session(
        &self,
        component: &ComponentAppId,
        id_digest: &str,
    ) -> Result<Option<ConsoleSession>> {
        let now = self.now();
        Ok(self
            .state()
            .console_sessions
            .get(&(component.clone(), id_digest.to_owned()))
            .filter(|s| s.expires_at > now)
            .cloned())
    }

    async fn delete_console_session(
        &self,
        component: &ComponentAppId,
        id_digest: &str,
    ) -> Result<()> {
        self.state()
            .console_sessions
            .remove(&(component.clone(), id_digest.to_owned()));
        Ok(())
    }

    async fn add_failed_sign_in(
        &self,
        component: &ComponentAppId,
        client: &str,
        window: EpochSeconds,
        _expires_at: EpochSeconds,
    ) -> Result<u32> {
        let mut state = self.state();
        let count = state
            .failed_sign_ins
            .entry((component.clone(), client.to_owned(), window))
            .or_default();
        *count += 1;
        Ok(*count)
    }

    async fn failed_sign_ins(
        &self,
        component: &ComponentAppId,
        client: &str,
        window: EpochSeconds,
    ) -> Result<u32> {
        Ok(self
            .state()
            .failed_sign_ins
            .get(&(component.clone(), client.to_owned(), window))
            .copied()
            .unwrap_or(0))
    }

    async fn put_refresher_run(
        &self,
        component: &ComponentAppId,
        run: &RefresherRun,
    ) -> Result<()> {
        self.state()
            .refresher_runs
            .insert(component.clone(), run.clone());
        Ok(())
    }

    async fn refresher_run(&self, component: &ComponentAppId) -> Result<Option<RefresherRun>> {
        Ok(self.state().refresher_runs.get(component).cloned())
    }

    async fn note_recent_events(
        &self,
        component: &ComponentAppId,
        events: &[RecentEvent],
    ) -> Result<()> {
        let mut state = self.state();
        let noted = state.recent_events.entry(component.clone()).or_default();
        for event in events {
            if !noted.iter().any(|e| e.id == event.id) {
                noted.push(event.clone());
            }
        }
        Ok(())
    }

    async fn recent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> Result<Vec<RecentEvent>> {
        let cutoff = self.now() - RECENT_EVENT_RETENTION_SECS;
        let mut events: Vec<RecentEvent> = self
            .state()
            .recent_events
            .get(component)
            .map(|noted| {
                noted
                    .iter()
                    .filter(|e| e.occurred_at > cutoff)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        // The order DynamoDB's sort key gives: time, then id.
        events.sort_by(|a, b| (b.occurred_at, b.id.as_str()).cmp(&(a.occurred_at, a.id.as_str())));
        events.truncate(limit);
        Ok(events)
    }
}
