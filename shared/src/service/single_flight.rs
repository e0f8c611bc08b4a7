//! One worker refreshes a stored token at a time; the others use what it stores. Written once, for
//! the component token and for every authorizer token (see [`Flight`]).
//!
//! - A stored token that will do is served as it is (one store read).
//! - Otherwise the caller claims the token's refresh lease; the claim returns the record as stored
//!   once the lease is taken, so a refresh another worker just finished is seen without another
//!   read. The refresh runs under the lease, its WeChat calls cut off before the lease lapses
//!   ([`TokenSettings::lease_call_budget`]), and the lease is given back: by the refresh's own
//!   write where the store can do both in one request, otherwise by a release afterwards.
//! - A caller that finds the lease held uses the stored token while it is unexpired, or, when it
//!   needs a new one, polls the store briefly for what the holder stores.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::context::Context;
use super::error::TokenError;
use super::token_service::{TokenSettings, error_chain};
use crate::clock::{Clock, EpochSeconds};
use crate::secret::Secret;
use crate::store::{ExpiringToken, LeaseKey, LeaseOwner, Store, StoreError};

/// Which stored token will do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Want<'a> {
    /// One with more than the refresh margin left.
    Fresh,
    /// Any unexpired one except the token WeChat just refused.
    Replacing(&'a Secret),
}

impl Want<'_> {
    pub(super) fn accepts(self, token: &ExpiringToken, now: EpochSeconds, margin: i64) -> bool {
        match self {
            Want::Fresh => token.expires_at.saturating_sub(now) > margin,
            Want::Replacing(refused) => token.expires_at > now && token.value != *refused,
        }
    }

    /// Whether, while another worker refreshes, the stored token may be used as it is.
    fn may_use_unexpired(self) -> bool {
        matches!(self, Want::Fresh)
    }
}

/// What claiming a refresh lease found.
pub(super) enum Claim<T, D> {
    /// The lease was taken; what the work under it gave.
    Taken(T),
    /// Another worker holds the lease.
    Held,
    /// The lease was not taken, for a reason the stored record tells (not due, not authorized).
    Declined(D),
}

/// The refresh lease a worker holds, as the work under it sees it.
#[derive(Debug, Clone)]
pub(super) struct Hold {
    owner: LeaseOwner,
    given_back: Arc<AtomicBool>,
}

impl Hold {
    /// The work's own write gave the lease back; no release is needed after it.
    pub(super) fn given_back(&self) {
        self.given_back.store(true, Ordering::Relaxed);
    }
}

/// A stored token that is refreshed under a lease.
pub(super) trait Flight: Sync {
    /// What the store holds for the token (and what a refresh starts from).
    type Stored: Send;
    /// For logs and [`TokenError::Busy`].
    const WHAT: &'static str;

    /// The stored record, with one read.
    fn read(&self) -> impl Future<Output = Result<Self::Stored, TokenError>> + Send;

    /// The token in a stored record, if there is one.
    fn token<'s>(&self, stored: &'s Self::Stored) -> Option<&'s ExpiringToken>;

    /// Takes the lease for `owner`, with the record as stored once it is taken. With `due_by`,
    /// declined if the token expires after it; a flight may leave that check to the work under
    /// the lease instead (the component token does).
    fn claim(
        &self,
        owner: &LeaseOwner,
        due_by: Option<EpochSeconds>,
    ) -> impl Future<Output = Result<Claim<Self::Stored, Self::Stored>, TokenError>> + Send;

    /// Why a claim without `due_by` was declined, as the error to report.
    fn declined(&self, stored: Self::Stored) -> TokenError;

    /// Gets a new token from WeChat and stores it; called holding the lease.
    fn refresh(
        &self,
        stored: Self::Stored,
        hold: &Hold,
    ) -> impl Future<Output = Result<ExpiringToken, TokenError>> + Send;

    /// Gives the lease back.
    fn release(&self, owner: &LeaseOwner) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// For a flight whose lease is an item of its own ([`LeaseKey`]): takes the lease for `owner`
/// and, once it is taken, reads the record with `read`.
pub(super) async fn claim_lease_item<S, T, R, Fut>(
    context: &Context<S>,
    key: &LeaseKey,
    owner: &LeaseOwner,
    read: R,
) -> Result<Claim<T, T>, TokenError>
where
    S: Store + 'static,
    R: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, TokenError>>,
{
    match context
        .store()
        .try_acquire_lease(
            context.component_appid(),
            key,
            owner,
            context.settings().lease_ttl_secs,
        )
        .await
    {
        Ok(_) => Ok(Claim::Taken(read().await?)),
        Err(StoreError::LeaseHeld) => Ok(Claim::Held),
        Err(e) => Err(e.into()),
    }
}

/// Gives back a lease item taken with [`claim_lease_item`].
pub(super) async fn release_lease_item<S: Store + 'static>(
    context: &Context<S>,
    key: &LeaseKey,
    owner: &LeaseOwner,
) -> Result<(), StoreError> {
    context
        .store()
        .release_lease(context.component_appid(), key, owner)
        .await
}

/// The clock and settings the mechanism runs by.
#[derive(Clone, Copy)]
pub(super) struct Rules<'a> {
    pub(super) settings: &'a TokenSettings,
    pub(super) clock: &'a dyn Clock,
}

impl Rules<'_> {
    fn accepted<'s>(
        &self,
        token: Option<&'s ExpiringToken>,
        want: Want<'_>,
    ) -> Option<&'s ExpiringToken> {
        token.filter(|t| want.accepts(t, self.clock.now(), self.settings.refresh_margin_secs))
    }

    /// A token `want` accepts: the stored one, one refreshed under the lease, or, while another
    /// worker holds the lease, the stored one while unexpired ([`Want::Fresh`] only) or the one
    /// the other worker stores.
    pub(super) async fn obtain<F: Flight>(
        self,
        flight: &F,
        want: Want<'_>,
    ) -> Result<ExpiringToken, TokenError> {
        let stored = flight.read().await?;
        if let Some(token) = self.accepted(flight.token(&stored), want) {
            return Ok(token.clone());
        }
        let claimed = self
            .under_lease(flight, None, |current, hold| async move {
                // Another worker may have refreshed between the read above and the claim.
                if let Some(token) = self.accepted(flight.token(&current), want) {
                    return Ok(token.clone());
                }
                flight.refresh(current, &hold).await
            })
            .await?;
        match claimed {
            Claim::Taken(token) => Ok(token),
            Claim::Declined(current) => Err(flight.declined(current)),
            Claim::Held => {
                let now = self.clock.now();
                if want.may_use_unexpired()
                    && let Some(current) = flight.token(&stored).filter(|t| t.expires_at > now)
                {
                    tracing::debug!("another worker is refreshing; using the current token");
                    return Ok(current.clone());
                }
                tracing::debug!("another worker is refreshing; waiting for its token");
                self.wait_for(F::WHAT, self.settings.wait_for_refresh, || async {
                    let stored = flight.read().await?;
                    Ok::<_, TokenError>(self.accepted(flight.token(&stored), want).cloned())
                })
                .await?
                .ok_or(TokenError::Busy { what: F::WHAT })
            }
        }
    }

    /// Claims the lease (see [`Flight::claim`]), runs `work` on the record the claim returned, and
    /// gives the lease back unless `work`'s own write did. The WeChat calls in `work` end within
    /// [`TokenSettings::lease_call_budget`] of the claim, so the lease outlives them and the write
    /// after them: while it holds, no other worker calls WeChat for the same token.
    pub(super) async fn under_lease<F: Flight, T, W, Fut>(
        self,
        flight: &F,
        due_by: Option<EpochSeconds>,
        work: W,
    ) -> Result<Claim<T, F::Stored>, TokenError>
    where
        W: FnOnce(F::Stored, Hold) -> Fut,
        Fut: Future<Output = Result<T, TokenError>>,
    {
        let hold = Hold {
            owner: LeaseOwner::random(),
            given_back: Arc::new(AtomicBool::new(false)),
        };
        // Taken before asking: the lease counts from some moment after this one.
        let calls_end_by = Instant::now() + self.settings.lease_call_budget();
        let current = match flight.claim(&hold.owner, due_by).await? {
            Claim::Taken(current) => current,
            Claim::Held => return Ok(Claim::Held),
            Claim::Declined(current) => return Ok(Claim::Declined(current)),
        };
        let result =
            crate::wechat::deadline::within(calls_end_by, work(current, hold.clone())).await;
        if !hold.given_back.load(Ordering::Relaxed)
            && let Err(e) = flight.release(&hold.owner).await
        {
            tracing::warn!(error = %error_chain(&e), "could not give the lease back; it lapses on its own");
        }
        result.map(Claim::Taken)
    }

    /// Polls `check` until it finds something or `wait` has passed (then `None`).
    pub(super) async fn wait_for<T, E, C, Fut>(
        self,
        what: &'static str,
        wait: Duration,
        mut check: C,
    ) -> Result<Option<T>, E>
    where
        C: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let deadline = Instant::now() + wait;
        loop {
            tokio::time::sleep(self.settings.poll_interval).await;
            if let Some(found) = check().await? {
                return Ok(Some(found));
            }
            if Instant::now() >= deadline {
                tracing::warn!(what, "nothing appeared in time");
                return Ok(None);
            }
        }
    }
}
