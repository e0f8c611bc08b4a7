//! Valid access tokens, refreshed once however many workers ask (see docs/wechat-protocol.md).
//!
//! The rules:
//! - a stored token with more than the refresh margin left is served as it is;
//! - otherwise one caller claims the token's refresh lease, which hands back the record as stored
//!   (another worker may have just refreshed), refreshes and stores, and the lease is always given
//!   back; the others use the stored token while it has not expired, or poll the store briefly for
//!   the new one. That mechanism is written once, in `single_flight.rs`; this file says what it
//!   means for the component token (a lease item of its own, and the token a worker last saw reused
//!   for a minute) and for an authorizer token (the lease on the authorizer's record: a claim and a
//!   write, two requests per refresh);
//! - a token WeChat refuses (40001 / 40014 / 42001) is replaced only while it is still the stored
//!   one, so a burst of refusals costs one refresh, and the refused call is retried once;
//! - refresh tokens are written with their version, so an older value never replaces a newer one,
//!   and a failed write of refreshed tokens is tried again a few times (WeChat may have rotated
//!   the refresh token: the new one exists nowhere else);
//! - the WeChat calls under a lease end before it lapses, with time left for the write;
//! - on 61023 the current refresh token is asked for once (`api_get_authorizer_info`) and used if
//!   it is another one; 61023 with nothing better, and 61003, mark the authorizer and are
//!   reported, never retried.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::context::{Context, Parts};
use super::error::TokenError;
use super::publishing::PUBLISH_BUDGET;
use super::single_flight::{
    Claim, Flight, Hold, Rules, Want, claim_lease_item, release_lease_item,
};
use crate::clock::EpochSeconds;
use crate::events::catalogue::{self, StatusCause};
use crate::ids::AuthorizerAppId;
use crate::secret::Secret;
use crate::store::{
    Authorizer, AuthorizerStatus, ComponentToken, ExpiringToken, LeaseKey, LeaseOwner,
    RefreshClaim, Store, StoreError, TokenRefresh,
};
use crate::wechat::{
    AuthorizerAccessToken, AuthorizerTokens, ComponentAccessToken, WechatClient, WechatError,
};

/// How the service refreshes and waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// A token with this much life left or less is refreshed before use (seconds).
    pub refresh_margin_secs: i64,
    /// How long a refresh lease lasts if its holder never gives it back (seconds). The work under
    /// a lease is bounded by it: see [`TokenSettings::lease_call_budget`].
    pub lease_ttl_secs: i64,
    /// The end of a lease kept for what follows the WeChat calls under it: the versioned write of
    /// the new tokens with its retries, and giving the lease back. The WeChat calls under a lease
    /// are cut off this long before it lapses.
    pub write_allowance: Duration,
    /// How often the versioned write of refreshed tokens is tried before giving up (a store error
    /// after WeChat rotated the refresh token would lose the new one; the write is conditional, so
    /// trying again is safe).
    pub write_attempts: u32,
    /// The wait before the second write attempt; doubled for each further one.
    pub write_backoff: Duration,
    /// How long a caller waits for another worker's refresh when it has no valid token to use.
    pub wait_for_refresh: Duration,
    /// How often a waiting caller reads the store.
    pub poll_interval: Duration,
    /// The least time between two `api_start_push_ticket` calls (seconds).
    pub start_push_ticket_interval_secs: i64,
    /// How long the second of two paths completing one authorization waits for the first.
    pub wait_for_authorization: Duration,
    /// How long a worker uses the component token it last read or stored before reading the
    /// store again (seconds). Kept well under the 5 minutes a superseded component token keeps
    /// working, so a token another worker replaced early is dropped before WeChat refuses it.
    pub component_token_reuse_secs: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            refresh_margin_secs: 15 * 60,
            lease_ttl_secs: 30,
            // Three writes normally take milliseconds; this leaves room for two that stall to the
            // DynamoDB client's 4 s operation timeout, and the backoffs between them.
            write_allowance: Duration::from_secs(10),
            write_attempts: 3,
            write_backoff: Duration::from_millis(100),
            wait_for_refresh: Duration::from_secs(5),
            poll_interval: Duration::from_millis(100),
            start_push_ticket_interval_secs: 300,
            wait_for_authorization: Duration::from_secs(5),
            component_token_reuse_secs: 60,
        }
    }
}

impl TokenSettings {
    /// How long the WeChat calls made under one lease may take in all: the lease's life, less one
    /// second (the store counts whole seconds, so a lease may lapse up to a second early) and the
    /// [`write_allowance`](TokenSettings::write_allowance). The default: 30 − 1 − 10 = 19 s. Zero
    /// when the lease is too short for the allowance; then no call is made under it.
    pub fn lease_call_budget(&self) -> Duration {
        let lease = Duration::from_secs(u64::try_from(self.lease_ttl_secs - 1).unwrap_or(0));
        lease.saturating_sub(self.write_allowance)
    }
}

/// What [`TokenService::refresh_authorizer_token_if_due`] and
/// [`TokenService::refresh_component_token_if_due`] did, for the refresher to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new token was stored.
    Refreshed { expires_at: EpochSeconds },
    /// The stored token lives past the deadline (perhaps another worker just refreshed it).
    NotDue,
    /// Another worker holds the refresh lease.
    Busy,
    /// 61023, now or earlier: the merchant must authorize again.
    ReauthorizationRequired,
    /// 61003, now or earlier.
    Unauthorized,
    /// No such authorizer is stored.
    NotFound,
    /// Anything else; `errcode` when WeChat answered with one. The error was logged.
    Failed { errcode: Option<i64> },
}

/// What asking WeChat for the current refresh token gave, after it refused the stored one.
enum Recovery {
    /// Another refresh token, and the tokens it was exchanged for.
    Refreshed(AuthorizerTokens),
    /// No other refresh token to be had: the merchant must authorize again.
    Nothing,
    /// WeChat says the authorization is gone (61003).
    NotAuthorized(WechatError),
}

/// Hands out valid component and authorizer tokens. Cheap to clone.
pub struct TokenService<S> {
    context: Context<S>,
    /// The component token this worker last read or stored, and when (see
    /// [`TokenService::remembered_component_token`]).
    remembered: Arc<Mutex<Option<(EpochSeconds, ExpiringToken)>>>,
}

impl<S> Clone for TokenService<S> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
            remembered: self.remembered.clone(),
        }
    }
}

/// A token WeChat issued, in the form the store keeps it.
macro_rules! stored_form {
    ($($token:ty),*) => {$(
        impl From<&$token> for ExpiringToken {
            fn from(token: &$token) -> Self {
                ExpiringToken {
                    value: token.secret().clone(),
                    expires_at: token.expires_at(),
                }
            }
        }
    )*};
}

stored_form!(ComponentAccessToken, AuthorizerAccessToken);

fn component_access_token(stored: &ExpiringToken) -> ComponentAccessToken {
    ComponentAccessToken::new(stored.value.clone(), stored.expires_at)
}

fn authorizer_access_token(stored: &ExpiringToken) -> AuthorizerAccessToken {
    AuthorizerAccessToken::new(stored.value.clone(), stored.expires_at)
}

pub(super) use crate::logging::error_chain;

impl<S: Store + 'static> TokenService<S> {
    pub fn new(context: Context<S>) -> Self {
        Self {
            context,
            remembered: Arc::new(Mutex::new(None)),
        }
    }

    /// What the service works with.
    pub fn context(&self) -> &Context<S> {
        &self.context
    }

    fn inner(&self) -> &Parts<S> {
        self.context.parts()
    }

    fn now(&self) -> EpochSeconds {
        self.context.now()
    }

    // ----- component token -------------------------------------------------------------------

    /// A component token with more than the refresh margin left, refreshed first if needed.
    pub async fn component_token(&self) -> Result<ComponentAccessToken, TokenError> {
        let span = tracing::info_span!("component_token", component = %self.inner().component);
        self.obtain_component_token(Want::Fresh)
            .instrument(span)
            .await
    }

    /// Runs `call` with a component token. If WeChat refuses the token (40001 / 40014 / 42001), it
    /// is replaced unless another worker already did, and `call` runs once more with the new one.
    pub async fn with_component_token<'s, T, F, Fut>(&'s self, call: F) -> Result<T, TokenError>
    where
        F: Fn(&'s WechatClient, ComponentAccessToken) -> Fut,
        Fut: Future<Output = Result<T, WechatError>>,
    {
        let token = self.component_token().await?;
        match call(&self.inner().client, token.clone()).await {
            Err(e) if e.is_token_invalid() => {
                let span = tracing::info_span!("replace_component_token", component = %self.inner().component, errcode = e.errcode());
                let fresh = self
                    .obtain_component_token(Want::Replacing(token.secret()))
                    .instrument(span)
                    .await?;
                Ok(call(&self.inner().client, fresh).await?)
            }
            result => Ok(result?),
        }
    }

    /// For the refresher: refreshes the component token if it expires at or before `due_by`.
    pub async fn refresh_component_token_if_due(&self, due_by: EpochSeconds) -> RefreshOutcome {
        let span = tracing::info_span!("refresh_component_token_if_due", component = %self.inner().component);
        let flight = ComponentFlight { service: self };
        let attempt = async {
            let due = |stored: &Option<ComponentToken>| {
                stored.as_ref().is_none_or(|t| t.token.expires_at <= due_by)
            };
            if !due(&flight.read().await?) {
                return Ok(RefreshOutcome::NotDue);
            }
            let claimed = self
                .rules()
                .under_lease(&flight, None, |stored, hold| async move {
                    if !due(&stored) {
                        return Ok(RefreshOutcome::NotDue);
                    }
                    let token = flight.refresh(stored, &hold).await?;
                    Ok(RefreshOutcome::Refreshed {
                        expires_at: token.expires_at,
                    })
                })
                .await?;
            Ok(match claimed {
                Claim::Taken(outcome) => outcome,
                Claim::Held | Claim::Declined(_) => RefreshOutcome::Busy,
            })
        };
        outcome_of(attempt.instrument(span).await)
    }

    pub(super) fn rules(&self) -> Rules<'_> {
        Rules {
            settings: &self.inner().settings,
            clock: self.inner().clock.as_ref(),
        }
    }

    /// The stored component token, remembered for [`Self::remembered_component_token`].
    async fn stored_component_token(&self) -> Result<Option<ComponentToken>, TokenError> {
        let stored = self
            .inner()
            .store
            .component_token(&self.inner().component)
            .await?;
        if let Some(stored) = &stored {
            self.remember_component_token(&stored.token);
        }
        Ok(stored)
    }

    /// The token this process last read or stored, if `want` accepts it and it was seen within
    /// [`TokenSettings::component_token_reuse_secs`]. Workers keep it between invocations, so a
    /// warm worker reads the store for the component token about once a minute instead of once
    /// per WeChat call.
    fn remembered_component_token(&self, want: Want<'_>) -> Option<ComponentAccessToken> {
        let now = self.now();
        let remembered = self.remembered.lock().unwrap_or_else(|e| e.into_inner());
        remembered
            .as_ref()
            .filter(|(seen_at, _)| now - seen_at < self.inner().settings.component_token_reuse_secs)
            .filter(|(_, token)| {
                want.accepts(token, now, self.inner().settings.refresh_margin_secs)
            })
            .map(|(_, token)| component_access_token(token))
    }

    fn remember_component_token(&self, token: &ExpiringToken) {
        *self.remembered.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((self.now(), token.clone()));
    }

    async fn obtain_component_token(
        &self,
        want: Want<'_>,
    ) -> Result<ComponentAccessToken, TokenError> {
        if let Some(token) = self.remembered_component_token(want) {
            return Ok(token);
        }
        let token = self
            .rules()
            .obtain(&ComponentFlight { service: self }, want)
            .await?;
        self.remember_component_token(&token);
        Ok(component_access_token(&token))
    }

    /// Trades the stored ticket for a new token and stores it in place of version `seen`. The
    /// caller holds the lease.
    async fn refresh_component(
        &self,
        seen: Option<u64>,
    ) -> Result<ComponentAccessToken, TokenError> {
        let inner = self.inner();
        let Some(ticket) = inner.store.latest_ticket(&inner.component).await? else {
            tracing::warn!("no component_verify_ticket younger than 12 h is stored");
            let push_requested = self.request_ticket_push().await;
            return Err(TokenError::NoTicket { push_requested });
        };
        let token = match inner.client.api_component_token(&ticket.value).await {
            Ok(token) => token,
            Err(e) if e.is_ticket_invalid() => {
                tracing::warn!(errcode = e.errcode(), "WeChat refused the stored ticket");
                let push_requested = self.request_ticket_push().await;
                return Err(TokenError::TicketRejected {
                    errcode: e.errcode().unwrap_or_default(),
                    push_requested,
                    source: e,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let expiring = ExpiringToken::from(&token);
        match inner
            .store
            .replace_component_token(&inner.component, &expiring, seen)
            .await
        {
            Ok(version) => {
                self.remember_component_token(&expiring);
                tracing::info!(
                    version,
                    expires_at = token.expires_at(),
                    "component access token refreshed"
                );
                Ok(token)
            }
            Err(StoreError::Conflict) => {
                // The lease lapsed and another worker stored a token: keep theirs.
                tracing::warn!("another worker stored a component token meanwhile; keeping it");
                let stored = self.stored_component_token().await?;
                Ok(stored.map_or(token, |t| component_access_token(&t.token)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Asks WeChat to push a ticket, at most once per interval across all workers (a lease that
    /// is left to lapse). Whether it asked.
    pub(super) async fn request_ticket_push(&self) -> bool {
        let inner = self.inner();
        let owner = LeaseOwner::random();
        let key = LeaseKey::StartPushTicket;
        match inner
            .store
            .try_acquire_lease(
                &inner.component,
                &key,
                &owner,
                inner.settings.start_push_ticket_interval_secs,
            )
            .await
        {
            Ok(_) => {}
            Err(StoreError::LeaseHeld) => {
                tracing::debug!("a ticket push was requested recently; not asking again");
                return false;
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "could not check the ticket push interval");
                return false;
            }
        }
        match inner.client.api_start_push_ticket().await {
            Ok(()) => {
                tracing::info!("asked WeChat to push a component_verify_ticket");
                true
            }
            Err(e) => {
                tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "api_start_push_ticket failed");
                // It did not happen, so the next caller may try again at once.
                if let Err(e) = inner
                    .store
                    .release_lease(&inner.component, &key, &owner)
                    .await
                {
                    tracing::debug!(error = %error_chain(&e), "could not release the push interval lease");
                }
                false
            }
        }
    }

    // ----- authorizer tokens -----------------------------------------------------------------

    /// A token for `appid` with more than the refresh margin left, refreshed first if needed.
    pub async fn authorizer_token(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<AuthorizerAccessToken, TokenError> {
        let span = tracing::info_span!("authorizer_token", component = %self.inner().component, authorizer = %appid);
        self.obtain_authorizer_token(appid, Want::Fresh)
            .instrument(span)
            .await
    }

    /// Runs `call` with a token for `appid`; on 40001 / 40014 / 42001 replaces the token unless
    /// another worker already did, and runs `call` once more.
    pub async fn with_authorizer_token<'s, T, F, Fut>(
        &'s self,
        appid: &AuthorizerAppId,
        call: F,
    ) -> Result<T, TokenError>
    where
        F: Fn(&'s WechatClient, AuthorizerAccessToken) -> Fut,
        Fut: Future<Output = Result<T, WechatError>>,
    {
        let token = self.authorizer_token(appid).await?;
        match call(&self.inner().client, token.clone()).await {
            Err(e) if e.is_token_invalid() => {
                let span = tracing::info_span!("replace_authorizer_token", component = %self.inner().component, authorizer = %appid, errcode = e.errcode());
                let fresh = self
                    .obtain_authorizer_token(appid, Want::Replacing(token.secret()))
                    .instrument(span)
                    .await?;
                Ok(call(&self.inner().client, fresh).await?)
            }
            result => Ok(result?),
        }
    }

    /// For the refresher: refreshes `appid`'s token if it expires at or before `due_by`. Two store
    /// requests when it is due: the claim (which reads the record and checks that it is due) and
    /// the write (which gives the lease back).
    pub async fn refresh_authorizer_token_if_due(
        &self,
        appid: &AuthorizerAppId,
        due_by: EpochSeconds,
    ) -> RefreshOutcome {
        let span = tracing::info_span!("refresh_authorizer_token_if_due", component = %self.inner().component, authorizer = %appid);
        let flight = AuthorizerFlight {
            service: self,
            appid,
        };
        let attempt = async {
            let claimed = self
                .rules()
                .under_lease(&flight, Some(due_by), |stored, hold| async move {
                    let token = self.refresh_authorizer(stored, &hold).await?;
                    Ok(RefreshOutcome::Refreshed {
                        expires_at: token.expires_at(),
                    })
                })
                .await?;
            Ok(match claimed {
                Claim::Taken(outcome) => outcome,
                Claim::Held => RefreshOutcome::Busy,
                // Not authorized (reported as such), or not due.
                Claim::Declined(stored) => {
                    authorized(stored)?;
                    RefreshOutcome::NotDue
                }
            })
        };
        outcome_of(attempt.instrument(span).await)
    }

    /// The stored authorizer if it is authorized; its status as an error otherwise.
    pub(super) async fn stored_authorizer(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<Authorizer, TokenError> {
        let stored = self
            .inner()
            .store
            .authorizer(&self.inner().component, appid)
            .await?
            .ok_or_else(|| TokenError::NotFound {
                appid: appid.clone(),
            })?;
        authorized(stored)
    }

    async fn obtain_authorizer_token(
        &self,
        appid: &AuthorizerAppId,
        want: Want<'_>,
    ) -> Result<AuthorizerAccessToken, TokenError> {
        let flight = AuthorizerFlight {
            service: self,
            appid,
        };
        let token = self.rules().obtain(&flight, want).await?;
        Ok(authorizer_access_token(&token))
    }

    /// Refreshes with the stored refresh token and stores the result under its version. The
    /// caller holds the lease. A refresh token WeChat refuses (61023) is first recovered if WeChat
    /// holds another ([`Self::recover_refresh_token`]); only then is the authorizer marked.
    async fn refresh_authorizer(
        &self,
        stored: Authorizer,
        hold: &Hold,
    ) -> Result<AuthorizerAccessToken, TokenError> {
        let tokens = match self
            .exchange_refresh_token(&stored.appid, &stored.refresh_token)
            .await
        {
            Ok(tokens) => tokens,
            Err(TokenError::Wechat(e)) if e.is_refresh_token_invalid() => {
                match self.recover_refresh_token(&stored).await? {
                    Recovery::Refreshed(tokens) => tokens,
                    Recovery::Nothing => {
                        return Err(self
                            .mark(&stored, AuthorizerStatus::ReauthorizationRequired, e)
                            .await);
                    }
                    Recovery::NotAuthorized(cause) => {
                        return Err(self
                            .mark(&stored, AuthorizerStatus::Unauthorized, cause)
                            .await);
                    }
                }
            }
            Err(TokenError::Wechat(e)) if e.is_not_authorized() => {
                return Err(self.mark(&stored, AuthorizerStatus::Unauthorized, e).await);
            }
            Err(e) => return Err(e),
        };
        self.store_refreshed(&stored, tokens, hold).await
    }

    /// One `api_authorizer_token` with `refresh_token`.
    async fn exchange_refresh_token(
        &self,
        appid: &AuthorizerAppId,
        refresh_token: &Secret,
    ) -> Result<AuthorizerTokens, TokenError> {
        self.with_component_token(|client, token| async move {
            client
                .api_authorizer_token(&token, appid, refresh_token)
                .await
        })
        .await
    }

    /// WeChat refused `stored`'s refresh token (61023). While the authorization is valid,
    /// `api_get_authorizer_info` carries the current refresh token: if it is another one (the
    /// stored one was superseded, or a rotated one was never stored), one `api_authorizer_token`
    /// with it. [`Recovery::Nothing`] when WeChat offers no other token, or answers with an
    /// errcode; a failure that is not an answer (a timeout, an unreachable WeChat, a store error)
    /// is returned instead, and the authorizer is left for the next attempt, unmarked.
    async fn recover_refresh_token(&self, stored: &Authorizer) -> Result<Recovery, TokenError> {
        let appid = &stored.appid;
        let info = self
            .with_component_token(|client, token| async move {
                client.api_get_authorizer_info(&token, appid).await
            })
            .await;
        let offered = match info {
            Ok(info) => info.authorization_info.authorizer_refresh_token,
            Err(TokenError::Wechat(e)) if e.is_not_authorized() => {
                return Ok(Recovery::NotAuthorized(e));
            }
            Err(TokenError::Wechat(e)) if e.errcode().is_some() => {
                tracing::warn!(
                    errcode = e.errcode(),
                    "WeChat would not tell the current refresh token"
                );
                return Ok(Recovery::Nothing);
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "could not ask WeChat for the current refresh token; the authorizer is left unmarked");
                return Err(e);
            }
        };
        let Some(current) =
            offered.filter(|t| !t.expose().is_empty() && *t != stored.refresh_token)
        else {
            tracing::warn!("WeChat holds no other refresh token for the authorizer");
            return Ok(Recovery::Nothing);
        };
        tracing::warn!(
            "WeChat refused the stored refresh token but holds another one; refreshing with it"
        );
        match self.exchange_refresh_token(appid, &current).await {
            Ok(tokens) => Ok(Recovery::Refreshed(tokens)),
            Err(TokenError::Wechat(e)) if e.is_refresh_token_invalid() => {
                tracing::warn!("WeChat refused the refresh token it offered, too");
                Ok(Recovery::Nothing)
            }
            Err(TokenError::Wechat(e)) if e.is_not_authorized() => Ok(Recovery::NotAuthorized(e)),
            Err(e) => Err(e),
        }
    }

    /// Stores what a refresh of `stored` returned under `stored`'s version, and the refresh token
    /// as the next version when it differs from `stored`'s. A store failure is tried again
    /// ([`TokenSettings::write_attempts`]): once WeChat rotated the refresh token, the new one
    /// exists nowhere else.
    async fn store_refreshed(
        &self,
        stored: &Authorizer,
        tokens: AuthorizerTokens,
        hold: &Hold,
    ) -> Result<AuthorizerAccessToken, TokenError> {
        let inner = self.inner();
        let appid = &stored.appid;
        let rotated = tokens.refresh_token != stored.refresh_token;
        let refresh = TokenRefresh {
            based_on_version: stored.refresh_token_version,
            access_token: ExpiringToken::from(&tokens.access_token),
            refresh_token: rotated.then(|| tokens.refresh_token.clone()),
        };
        let settings = &inner.settings;
        let mut attempt = 1;
        let mut backoff = settings.write_backoff;
        let written = loop {
            match inner
                .store
                .update_authorizer_tokens(&inner.component, appid, &refresh)
                .await
            {
                // Conditional on the version read, so a repeat cannot overwrite a newer grant; one
                // whose predecessor did land (its answer lost) ends in a conflict, handled below.
                Err(e @ StoreError::Backend { .. }) if attempt < settings.write_attempts => {
                    tracing::warn!(
                        attempt,
                        refresh_token_rotated = rotated,
                        error = %error_chain(&e),
                        "could not store the refreshed tokens; trying again"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                    attempt += 1;
                }
                result => break result,
            }
        };
        match written {
            Ok(updated) => {
                hold.given_back();
                tracing::info!(
                    refresh_token_rotated = rotated,
                    refresh_token_version = updated.refresh_token_version,
                    expires_at = tokens.access_token.expires_at(),
                    "authorizer access token refreshed"
                );
                Ok(tokens.access_token)
            }
            Err(StoreError::Conflict) => {
                // A newer grant (a re-authorization) or a status change was stored meanwhile: it
                // stays, and what it says counts.
                tracing::warn!(
                    refresh_token_rotated = rotated,
                    "the authorizer changed during the refresh; keeping the stored record"
                );
                let current = self.stored_authorizer(appid).await?;
                if current.access_token.expires_at > self.now() {
                    Ok(authorizer_access_token(&current.access_token))
                } else {
                    Ok(tokens.access_token)
                }
            }
            Err(StoreError::NotFound) => Err(TokenError::NotFound {
                appid: appid.clone(),
            }),
            Err(e) => {
                if rotated {
                    tracing::error!(
                        attempts = attempt,
                        refresh_token_rotated = true,
                        error = %error_chain(&e),
                        "refresh token lost: WeChat rotated the refresh token and the new one could \
                         not be stored; the stored one will be refused (61023) and recovered from \
                         api_get_authorizer_info, or the merchant must authorize again"
                    );
                } else {
                    tracing::error!(
                        attempts = attempt,
                        refresh_token_rotated = false,
                        error = %error_chain(&e),
                        "could not store the refreshed access token"
                    );
                }
                Err(e.into())
            }
        }
    }

    /// Records what WeChat said about the authorizer (61023, 61003), unless a new grant arrived
    /// since `used` was read, and returns the error to report.
    async fn mark(
        &self,
        used: &Authorizer,
        status: AuthorizerStatus,
        cause: WechatError,
    ) -> TokenError {
        let inner = self.inner();
        let appid = &used.appid;
        match inner.store.authorizer(&inner.component, appid).await {
            Ok(Some(current)) if current.refresh_token_version != used.refresh_token_version => {
                tracing::warn!(
                    errcode = cause.errcode(),
                    "WeChat refused an older refresh token; a newer one is stored, status left as is"
                );
                return TokenError::Wechat(cause);
            }
            Ok(_) => {}
            Err(e) => return e.into(),
        }
        let events: Vec<_> = catalogue::status_changed(
            &inner.component,
            appid,
            status,
            used.refresh_token_version,
            StatusCause::Refused(cause.errcode().unwrap_or(-1)),
            self.now(),
        )
        .into_iter()
        .collect();
        if let Err(e) = inner
            .store
            .set_authorizer_status_with_events(&inner.component, appid, status, &events)
            .await
        {
            return e.into();
        }
        tracing::warn!(errcode = cause.errcode(), %status, "authorizer marked");
        self.context
            .publish_recorded(&events, Instant::now() + PUBLISH_BUDGET)
            .await;
        match status {
            AuthorizerStatus::Unauthorized => TokenError::Unauthorized {
                appid: appid.clone(),
            },
            _ => TokenError::ReauthorizationRequired {
                appid: appid.clone(),
            },
        }
    }

    /// Polls `check` until it finds something or `wait` has passed (then `None`).
    pub(super) async fn wait_for<T, E, F, Fut>(
        &self,
        what: &'static str,
        wait: Duration,
        check: F,
    ) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        self.rules().wait_for(what, wait, check).await
    }
}

/// `stored` if it is authorized; its status as an error otherwise.
fn authorized(stored: Authorizer) -> Result<Authorizer, TokenError> {
    let appid = stored.appid.clone();
    match stored.status {
        AuthorizerStatus::Authorized => Ok(stored),
        AuthorizerStatus::ReauthorizationRequired => {
            Err(TokenError::ReauthorizationRequired { appid })
        }
        AuthorizerStatus::Unauthorized => Err(TokenError::Unauthorized { appid }),
    }
}

/// The component token: its lease is an item of its own, so a claim is two requests (the lease,
/// then a read). The component token is refreshed a few times a day, and read through
/// [`TokenService::remembered_component_token`] otherwise.
struct ComponentFlight<'a, S> {
    service: &'a TokenService<S>,
}

impl<S> Clone for ComponentFlight<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for ComponentFlight<'_, S> {}

impl<S: Store + 'static> Flight for ComponentFlight<'_, S> {
    type Stored = Option<ComponentToken>;
    const WHAT: &'static str = "component access token";

    async fn read(&self) -> Result<Self::Stored, TokenError> {
        self.service.stored_component_token().await
    }

    fn token<'s>(&self, stored: &'s Self::Stored) -> Option<&'s ExpiringToken> {
        stored.as_ref().map(|t| &t.token)
    }

    async fn claim(
        &self,
        owner: &LeaseOwner,
        _due_by: Option<EpochSeconds>,
    ) -> Result<Claim<Self::Stored, Self::Stored>, TokenError> {
        claim_lease_item(
            self.service.context(),
            &LeaseKey::ComponentToken,
            owner,
            || self.read(),
        )
        .await
    }

    fn declined(&self, _stored: Self::Stored) -> TokenError {
        // A component token lease is never declined, only held.
        TokenError::Busy { what: Self::WHAT }
    }

    async fn refresh(
        &self,
        stored: Self::Stored,
        _hold: &Hold,
    ) -> Result<ExpiringToken, TokenError> {
        let token = self
            .service
            .refresh_component(stored.map(|t| t.version))
            .await?;
        Ok(ExpiringToken::from(&token))
    }

    async fn release(&self, owner: &LeaseOwner) -> Result<(), StoreError> {
        release_lease_item(self.service.context(), &LeaseKey::ComponentToken, owner).await
    }
}

/// An authorizer token: its lease is kept on the authorizer's record, so a claim reads the record
/// in the same request, and the write of the refreshed tokens gives the lease back.
struct AuthorizerFlight<'a, S> {
    service: &'a TokenService<S>,
    appid: &'a AuthorizerAppId,
}

impl<S: Store + 'static> Flight for AuthorizerFlight<'_, S> {
    type Stored = Authorizer;
    const WHAT: &'static str = "authorizer access token";

    async fn read(&self) -> Result<Self::Stored, TokenError> {
        self.service.stored_authorizer(self.appid).await
    }

    fn token<'s>(&self, stored: &'s Self::Stored) -> Option<&'s ExpiringToken> {
        Some(&stored.access_token)
    }

    async fn claim(
        &self,
        owner: &LeaseOwner,
        due_by: Option<EpochSeconds>,
    ) -> Result<Claim<Self::Stored, Self::Stored>, TokenError> {
        let inner = self.service.inner();
        let claimed = inner
            .store
            .claim_token_refresh(
                &inner.component,
                self.appid,
                owner,
                inner.settings.lease_ttl_secs,
                due_by,
            )
            .await;
        match claimed {
            Ok(RefreshClaim::Claimed(stored)) => Ok(Claim::Taken(stored)),
            Ok(RefreshClaim::Held(_)) => Ok(Claim::Held),
            Ok(RefreshClaim::Declined(stored)) => Ok(Claim::Declined(stored)),
            Err(StoreError::NotFound) => Err(TokenError::NotFound {
                appid: self.appid.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn declined(&self, stored: Self::Stored) -> TokenError {
        match authorized(stored) {
            Err(e) => e,
            // Without `due_by` an authorized record is never declined; report it as contended.
            Ok(_) => TokenError::Busy { what: Self::WHAT },
        }
    }

    async fn refresh(
        &self,
        stored: Self::Stored,
        hold: &Hold,
    ) -> Result<ExpiringToken, TokenError> {
        let token = self.service.refresh_authorizer(stored, hold).await?;
        Ok(ExpiringToken::from(&token))
    }

    async fn release(&self, owner: &LeaseOwner) -> Result<(), StoreError> {
        let inner = self.service.inner();
        inner
            .store
            .release_token_refresh(&inner.component, self.appid, owner)
            .await
    }
}

fn outcome_of(result: Result<RefreshOutcome, TokenError>) -> RefreshOutcome {
    match result {
        Ok(outcome) => outcome,
        Err(TokenError::ReauthorizationRequired { .. }) => RefreshOutcome::ReauthorizationRequired,
        Err(TokenError::Unauthorized { .. }) => RefreshOutcome::Unauthorized,
        Err(TokenError::NotFound { .. }) => RefreshOutcome::NotFound,
        Err(TokenError::Busy { .. }) => RefreshOutcome::Busy,
        Err(e) => {
            tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "refresh failed");
            RefreshOutcome::Failed {
                errcode: e.errcode(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::ids::ComponentAppId;
    use crate::store::{AuthorizationGrant, AuthorizerStore, ComponentTokenStore, MemoryStore};
    use crate::wechat::ClientConfig;

    const NOW: EpochSeconds = 1_700_000_000;

    /// A service whose WeChat is unreachable: any call it makes fails.
    fn offline_service() -> (TokenService<MemoryStore>, ManualClock) {
        let clock = ManualClock::at(NOW);
        let mut config = ClientConfig::new(url::Url::parse("http://127.0.0.1:9/").unwrap());
        config.retry = crate::wechat::RetryPolicy::none();
        config.connect_timeout = Duration::from_millis(200);
        let component = ComponentAppId::parse("wxcomponent0001").unwrap();
        let client =
            WechatClient::new(config, component, Secret::new("s"), Arc::new(clock.clone()))
                .unwrap();
        let store = Arc::new(MemoryStore::new(Arc::new(clock.clone())));
        let service = TokenService::new(Context::new(
            store,
            client,
            Arc::new(clock.clone()),
            TokenSettings::default(),
        ));
        (service, clock)
    }

    fn expiring(value: &str, expires_at: EpochSeconds) -> ExpiringToken {
        ExpiringToken {
            value: Secret::new(value),
            expires_at,
        }
    }

    #[tokio::test]
    async fn a_token_with_more_than_the_margin_left_is_served_from_the_store() {
        let (service, _) = offline_service();
        let component = service.context().component_appid().clone();
        service
            .context()
            .store()
            .replace_component_token(&component, &expiring("ct", NOW + 901), None)
            .await
            .unwrap();
        let appid = AuthorizerAppId::parse("wxauthorizer0001").unwrap();
        service
            .context()
            .store()
            .record_authorization(
                &component,
                &AuthorizationGrant {
                    appid: appid.clone(),
                    access_token: expiring("at", NOW + 901),
                    refresh_token: Secret::new("rt"),
                    func_info: vec![],
                    account: None,
                },
            )
            .await
            .unwrap();

        // Spawned, to prove the futures are Send (handlers run them on a multi-thread runtime).
        let s = service.clone();
        let token = tokio::spawn(async move { s.component_token().await })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.secret().expose(), "ct");
        let s = service.clone();
        let a = appid.clone();
        let token = tokio::spawn(async move { s.authorizer_token(&a).await })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.secret().expose(), "at");
    }

    #[tokio::test]
    async fn within_the_margin_a_refresh_is_attempted_and_its_failure_is_typed() {
        let (service, clock) = offline_service();
        let component = service.context().component_appid().clone();
        service
            .context()
            .store()
            .replace_component_token(&component, &expiring("ct", NOW + 901), None)
            .await
            .unwrap();
        clock.advance(2);
        // No ticket is stored, so the refresh stops there (and the push request fails offline).
        let err = service.component_token().await.unwrap_err();
        assert!(
            matches!(
                err,
                TokenError::NoTicket {
                    push_requested: false
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unknown_or_marked_authorizer_is_reported_without_a_call() {
        let (service, _) = offline_service();
        let component = service.context().component_appid().clone();
        let appid = AuthorizerAppId::parse("wxauthorizer0002").unwrap();
        assert!(matches!(
            service.authorizer_token(&appid).await,
            Err(TokenError::NotFound { .. })
        ));
        service
            .context()
            .store()
            .record_authorization(
                &component,
                &AuthorizationGrant {
                    appid: appid.clone(),
                    access_token: expiring("at", NOW - 1),
                    refresh_token: Secret::new("rt"),
                    func_info: vec![],
                    account: None,
                },
            )
            .await
            .unwrap();
        for (status, outcome) in [
            (
                AuthorizerStatus::ReauthorizationRequired,
                RefreshOutcome::ReauthorizationRequired,
            ),
            (AuthorizerStatus::Unauthorized, RefreshOutcome::Unauthorized),
        ] {
            service
                .context()
                .store()
                .set_authorizer_status(&component, &appid, status)
                .await
                .unwrap();
            assert_eq!(
                service.refresh_authorizer_token_if_due(&appid, NOW).await,
                outcome
            );
        }
        assert!(matches!(
            service.authorizer_token(&appid).await,
            Err(TokenError::Unauthorized { .. })
        ));
    }
}
