//! Mini program code audits as the provider API drives them: submitting stores the audit id
//! (pending) and whether to release automatically; the `weapp_audit_*` pushes move the stored
//! state on (see the push service, which also performs the automatic release).

use serde::Serialize;

use super::context::Context;
use super::error::{AuditError, TokenError};
use super::token_service::TokenService;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::store::{AuditState, AuditStatus, Store, StoreError};
use crate::wechat::miniprogram::code::{LatestAuditStatus, SubmitAuditRequest};

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
        };
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

    /// Withdraws the audit at WeChat (once a day, 10 times a month), then marks the stored audit
    /// withdrawn, which ends its automatic release.
    pub async fn undo(&self, appid: &AuthorizerAppId) -> Result<(), AuditError> {
        self.tokens
            .with_authorizer_token(appid, |c, t| async move { c.undo_code_audit(&t).await })
            .await?;
        self.withdrawn(appid).await
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
