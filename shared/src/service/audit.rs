//! Mini program code audits as the provider API drives them: submitting stores the audit id
//! (pending) and whether to release automatically; the `weapp_audit_*` pushes move the stored
//! state on (see the push service, which also performs the automatic release).

use serde::Serialize;

use std::time::Instant;

use super::context::Context;
use super::error::{AuditError, TokenError, WithdrawError};
use super::publishing::PUBLISH_BUDGET;
use super::token_service::{TokenService, error_chain};
use crate::clock::{EpochSeconds, beijing_day};
use crate::events::catalogue;
use crate::ids::AuthorizerAppId;
use crate::store::campaign::CampaignId;
use crate::store::{
    AuditState, AuditStatus, Store, StoreError, WITHDRAWALS_PER_DAY, WITHDRAWALS_PER_MONTH,
    WithdrawalCount,
};
use crate::wechat::miniprogram::code::{GrayReleaseRequest, LatestAuditStatus, SubmitAuditRequest};
use crate::wechat::{WechatError, errcode};

/// How an approved version goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseKind {
    /// To every user (`/wxa/release`).
    Full,
    /// A phased release to this percentage of users (`/wxa/grayrelease`).
    Gray(u8),
}

/// What [`Audits::release_approved`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Released (or found released already: 85052 after an earlier answer was lost).
    Released,
    /// WeChat's latest audit is another one, or not approved: nothing was released.
    NotTheApprovedAudit { latest_audit_id: i64, status: i64 },
    /// WeChat's latest audit could not be read, definitely (its errcode, if any).
    LatestUnknown { errcode: Option<i64> },
    /// WeChat refused the release (85019 no approved version, 85020 status does not allow it...).
    Refused { errcode: Option<i64> },
}

/// Whether a failed call may or may not have taken effect, or failed for a reason that passes:
/// a timeout, a lost connection, WeChat busy, no time left, the store failing. WeChat's definite
/// answers (any other errcode) and a revoked authorization are not.
pub(super) fn outcome_unknown(e: &TokenError) -> bool {
    match e {
        TokenError::Wechat(w) => w.is_retryable() || matches!(w, WechatError::OutOfTime { .. }),
        TokenError::Store(_) | TokenError::Busy { .. } | TokenError::NoTicket { .. } => true,
        TokenError::TicketRejected { .. }
        | TokenError::ReauthorizationRequired { .. }
        | TokenError::Unauthorized { .. }
        | TokenError::NotFound { .. } => false,
    }
}

/// A stored audit as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditView {
    pub audit_id: u64,
    /// `pending`, `succeeded`, `failed`, `delayed` or `withdrawn`.
    pub status: &'static str,
    pub reason: Option<String>,
    pub submitted_at: EpochSeconds,
    pub updated_at: EpochSeconds,
    pub auto_release: bool,
}

impl From<&AuditState> for AuditView {
    fn from(s: &AuditState) -> Self {
        Self {
            audit_id: s.audit_id,
            status: s.status.as_str(),
            reason: s.reason.clone(),
            submitted_at: s.submitted_at,
            updated_at: s.updated_at,
            auto_release: s.auto_release,
        }
    }
}

/// The stored audit and WeChat's view of the latest one.
#[derive(Debug, Clone, Serialize)]
pub struct AuditOverview {
    /// What this product stored (`None` if it submitted no audit).
    pub audit: Option<AuditView>,
    /// `/wxa/get_latest_auditstatus` (`None` if WeChat failed).
    pub wechat: Option<LatestAuditStatus>,
    /// The withdrawals counted today and this month, Beijing time, against WeChat's limits.
    pub withdrawals: WithdrawalsView,
}

/// A mini program's audit withdrawals against WeChat's limits (which WeChat does not report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WithdrawalsView {
    pub today: u32,
    pub today_limit: u32,
    pub this_month: u32,
    pub month_limit: u32,
}

impl From<WithdrawalCount> for WithdrawalsView {
    fn from(count: WithdrawalCount) -> Self {
        Self {
            today: count.day,
            today_limit: WITHDRAWALS_PER_DAY,
            this_month: count.month,
            month_limit: WITHDRAWALS_PER_MONTH,
        }
    }
}

/// The audit use case. Cheap to clone.
pub struct Audits<S> {
    context: Context<S>,
    tokens: TokenService<S>,
}

impl<S> Clone for Audits<S> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
            tokens: self.tokens.clone(),
        }
    }
}

impl<S: Store + 'static> Audits<S> {
    pub fn new(tokens: TokenService<S>) -> Self {
        Self {
            context: tokens.context().clone(),
            tokens,
        }
    }

    /// Submits the uploaded code for audit and stores the audit as pending, with `auto_release`.
    pub async fn submit(
        &self,
        appid: &AuthorizerAppId,
        request: &SubmitAuditRequest,
        auto_release: bool,
    ) -> Result<AuditState, AuditError> {
        self.submit_for(appid, request, auto_release, None).await
    }

    /// [`Self::submit`], for release campaign `campaign` if given (its result then wakes the
    /// campaign's app).
    pub async fn submit_for(
        &self,
        appid: &AuthorizerAppId,
        request: &SubmitAuditRequest,
        auto_release: bool,
        campaign: Option<&CampaignId>,
    ) -> Result<AuditState, AuditError> {
        let audit_id = self
            .tokens
            .with_authorizer_token(appid, |client, token| async move {
                client.submit_audit(&token, request).await
            })
            .await?;
        let now = self.context.now();
        let state = AuditState {
            audit_id: u64::try_from(audit_id).unwrap_or_default(),
            status: AuditStatus::Pending,
            reason: None,
            submitted_at: now,
            updated_at: now,
            auto_release,
            campaign: campaign.cloned(),
        };
        self.store_submitted(appid, state).await
    }

    /// Stores an audit found under way at WeChat (submitted by an attempt whose answer was lost)
    /// as pending, for `campaign`.
    pub async fn adopt(
        &self,
        appid: &AuthorizerAppId,
        audit_id: u64,
        campaign: Option<&CampaignId>,
    ) -> Result<AuditState, AuditError> {
        let now = self.context.now();
        let state = AuditState {
            audit_id,
            status: AuditStatus::Pending,
            reason: None,
            submitted_at: now,
            updated_at: now,
            auto_release: false,
            campaign: campaign.cloned(),
        };
        self.store_submitted(appid, state).await
    }

    /// Stores the result WeChat reported when asked (no push came): `status` for the stored audit
    /// `audit_id`, unless a newer audit is stored.
    pub async fn record_result(
        &self,
        appid: &AuthorizerAppId,
        audit_id: u64,
        status: AuditStatus,
        reason: Option<String>,
    ) -> Result<(), AuditError> {
        let Some(mut state) = self.audit_state(appid).await? else {
            return Ok(());
        };
        if state.audit_id != audit_id {
            return Ok(());
        }
        state.status = status;
        state.reason = reason;
        state.updated_at = self.context.now();
        state.auto_release = state.auto_release && status == AuditStatus::Delayed;
        let component = self.context.component_appid();
        let events: Vec<_> = catalogue::audit_result(component, appid, &state, state.updated_at)
            .into_iter()
            .collect();
        match self
            .context
            .store()
            .put_audit_state_with_events(component, appid, &state, &events)
            .await
        {
            Ok(()) => {
                self.context
                    .publish_recorded(&events, Instant::now() + PUBLISH_BUDGET)
                    .await;
                Ok(())
            }
            Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn store_submitted(
        &self,
        appid: &AuthorizerAppId,
        state: AuditState,
    ) -> Result<AuditState, AuditError> {
        match self
            .context
            .store()
            .put_audit_state(self.context.component_appid(), appid, &state)
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => Ok(state),
            Err(e) => Err(e.into()),
        }
    }

    /// Releases the approved version of audit `audit_id` as `kind`. Audit results carry no audit
    /// id, so WeChat's latest audit is asked first: only if it is `audit_id` and approved is
    /// anything released. A later audit submitted without this product (in WeChat's console, or
    /// by hand) is never released on the strength of an earlier submitter's wish.
    ///
    /// `Err` means the outcome is unknown (see [`outcome_unknown`]): the caller tries again later.
    /// That is safe although `release` must not be replayed blindly: once the version is out,
    /// WeChat answers another `release` with 85052 (already released), which is read as success.
    pub async fn release_approved(
        &self,
        appid: &AuthorizerAppId,
        audit_id: u64,
        kind: ReleaseKind,
    ) -> Result<ReleaseOutcome, TokenError> {
        let latest = self
            .tokens
            .with_authorizer_token(appid, |client, token| async move {
                client.get_latest_audit_status(&token).await
            })
            .await;
        let latest = match latest {
            Ok(latest) => latest,
            Err(e) if outcome_unknown(&e) => {
                tracing::warn!(error = %error_chain(&e), "release postponed: WeChat's latest audit could not be read now");
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "release skipped: WeChat's latest audit could not be read");
                return Ok(ReleaseOutcome::LatestUnknown {
                    errcode: e.errcode(),
                });
            }
        };
        // WeChat's status codes: 0 is approved.
        if u64::try_from(latest.auditid).ok() != Some(audit_id) || latest.status != 0 {
            tracing::warn!(
                audit_id,
                latest_audit_id = latest.auditid,
                latest_status = latest.status,
                "release skipped: the approved audit is not the one that asked for it"
            );
            return Ok(ReleaseOutcome::NotTheApprovedAudit {
                latest_audit_id: latest.auditid,
                status: latest.status,
            });
        }
        let result = self
            .tokens
            .with_authorizer_token(appid, |client, token| async move {
                match kind {
                    ReleaseKind::Full => client.release(&token).await,
                    ReleaseKind::Gray(percentage) => {
                        let request = GrayReleaseRequest {
                            gray_percentage: percentage,
                            support_debuger_first: None,
                            support_experiencer_first: None,
                        };
                        client.gray_release(&token, &request).await
                    }
                }
            })
            .await;
        match result {
            Ok(()) => {
                tracing::info!(audit_id, "approved version released");
                self.released(appid, audit_id, kind).await?;
                Ok(ReleaseOutcome::Released)
            }
            Err(e) if e.errcode() == Some(errcode::ALREADY_RELEASED) => {
                tracing::info!(
                    audit_id,
                    "approved version already released (an earlier attempt's answer was lost)"
                );
                self.released(appid, audit_id, kind).await?;
                Ok(ReleaseOutcome::Released)
            }
            Err(e) if outcome_unknown(&e) => {
                tracing::warn!(error = %error_chain(&e), "release outcome unknown; to be tried again");
                Err(e)
            }
            Err(e) => {
                tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "release failed");
                Ok(ReleaseOutcome::Refused {
                    errcode: e.errcode(),
                })
            }
        }
    }

    /// Records and publishes `Code Released`. If the event cannot be recorded, the outcome is
    /// reported unknown, so the caller tries again; WeChat answers the next `release` with 85052
    /// (already released), and that attempt records it.
    async fn released(
        &self,
        appid: &AuthorizerAppId,
        audit_id: u64,
        kind: ReleaseKind,
    ) -> Result<(), TokenError> {
        let gray = match kind {
            ReleaseKind::Full => None,
            ReleaseKind::Gray(p) => Some(p),
        };
        let component = self.context.component_appid();
        let events = [catalogue::code_released(
            component,
            appid,
            audit_id,
            gray,
            self.context.now(),
        )];
        if let Err(e) = self.context.store().record_events(component, &events).await {
            tracing::warn!(error = %error_chain(&e), "released, but the event could not be recorded; to be tried again");
            return Err(e.into());
        }
        self.context
            .publish_recorded(&events, Instant::now() + PUBLISH_BUDGET)
            .await;
        Ok(())
    }

    /// Marks the stored audit withdrawn after a successful undo.
    pub async fn withdrawn(&self, appid: &AuthorizerAppId) -> Result<(), AuditError> {
        let Some(mut state) = self.audit_state(appid).await? else {
            return Ok(());
        };
        state.status = AuditStatus::Withdrawn;
        state.auto_release = false;
        state.updated_at = self.context.now();
        match self
            .context
            .store()
            .put_audit_state(self.context.component_appid(), appid, &state)
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Withdraws the audit at WeChat, then marks the stored audit withdrawn, which ends its
    /// automatic release. WeChat allows 5 withdrawals a day and 10 a month per mini program and
    /// tells nobody what is left, so they are counted here: one is taken before the call (a
    /// call cut short keeps it counted), given back when WeChat definitely refused, and a spent
    /// budget is refused without a call.
    pub async fn undo(&self, appid: &AuthorizerAppId) -> Result<(), WithdrawError> {
        let store = self.context.store();
        let component = self.context.component_appid();
        let day = beijing_day(self.context.now());
        match store.take_withdrawal(component, appid, day).await {
            Ok(_) => {}
            Err(StoreError::Conflict) => {
                return Err(WithdrawError::Spent {
                    appid: appid.clone(),
                    count: store.withdrawals(component, appid, day).await?,
                    by_wechat: false,
                });
            }
            Err(e) => return Err(e.into()),
        }
        // On the heap: with a token refresh inside, the call's future is deep.
        let result = Box::pin(
            self.tokens
                .with_authorizer_token(appid, |c, t| async move { c.undo_code_audit(&t).await }),
        )
        .await;
        match result {
            Ok(()) => Ok(self.withdrawn(appid).await?),
            Err(e) if e.errcode() == Some(errcode::WITHDRAWALS_SPENT) => {
                store.spend_withdrawals(component, appid, day).await?;
                tracing::warn!(
                    errcode = errcode::WITHDRAWALS_SPENT,
                    "WeChat counts more withdrawals than this product made; none until tomorrow"
                );
                Err(WithdrawError::Spent {
                    appid: appid.clone(),
                    count: store.withdrawals(component, appid, day).await?,
                    by_wechat: true,
                })
            }
            Err(e) if outcome_unknown(&e) => Err(e.into()),
            Err(e) => {
                if let Err(store_error) = store.return_withdrawal(component, appid, day).await {
                    tracing::warn!(
                        error = %error_chain(&store_error),
                        "a refused withdrawal stays counted"
                    );
                }
                Err(e.into())
            }
        }
    }

    /// The withdrawals of `appid`'s audits counted today and this month (Beijing time).
    pub async fn withdrawals(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<WithdrawalCount, AuditError> {
        let day = beijing_day(self.context.now());
        Ok(self
            .context
            .store()
            .withdrawals(self.context.component_appid(), appid, day)
            .await?)
    }

    /// Expedites audit `auditid`, or the stored audit without one. Answers the audit expedited,
    /// `None` (nothing called) when no id was given and no audit is stored.
    pub async fn speedup(
        &self,
        appid: &AuthorizerAppId,
        auditid: Option<i64>,
    ) -> Result<Option<i64>, AuditError> {
        let auditid = match auditid {
            Some(id) => id,
            None => match self
                .audit_state(appid)
                .await?
                .and_then(|s| i64::try_from(s.audit_id).ok())
            {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        self.tokens
            .with_authorizer_token(
                appid,
                |c, t| async move { c.speedup_audit(&t, auditid).await },
            )
            .await?;
        Ok(Some(auditid))
    }

    /// The stored audit beside WeChat's latest audit status. WeChat's part is `None` when WeChat
    /// failed: the stored part is still worth showing.
    pub async fn overview(&self, appid: &AuthorizerAppId) -> Result<AuditOverview, AuditError> {
        let stored = self.audit_state(appid).await?;
        let wechat = match self
            .tokens
            .with_authorizer_token(
                appid,
                |c, t| async move { c.get_latest_audit_status(&t).await },
            )
            .await
        {
            Ok(latest) => Some(latest),
            Err(e @ TokenError::Wechat(_)) => {
                tracing::warn!(errcode = e.errcode(), "latest audit status unavailable");
                None
            }
            Err(e) => return Err(e.into()),
        };
        Ok(AuditOverview {
            audit: stored.as_ref().map(AuditView::from),
            wechat,
            withdrawals: self.withdrawals(appid).await?.into(),
        })
    }

    /// The latest stored audit of `appid`.
    pub async fn audit_state(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<Option<AuditState>, AuditError> {
        Ok(self
            .context
            .store()
            .audit_state(self.context.component_appid(), appid)
            .await?)
    }
}
