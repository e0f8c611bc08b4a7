//! Mini program code audits as the provider API drives them: submitting stores the audit id
//! (pending) and whether to release automatically; the `weapp_audit_*` pushes move the stored
//! state on (see the push service, which also performs the automatic release).

use serde::Serialize;

use super::error::TokenError;
use super::tokens::TokenService;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::store::{AuditState, AuditStatus, Store, StoreError};
use crate::wechat::miniprogram::code::SubmitAuditRequest;

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

impl<S: Store + 'static> TokenService<S> {
    /// Submits the uploaded code for audit and stores the audit as pending, with `auto_release`.
    pub async fn submit_audit(
        &self,
        appid: &AuthorizerAppId,
        request: &SubmitAuditRequest,
        auto_release: bool,
    ) -> Result<AuditState, TokenError> {
        let audit_id = self
            .with_authorizer_token(appid, |client, token| async move {
                client.submit_audit(&token, request).await
            })
            .await?;
        let now = self.now();
        let state = AuditState {
            audit_id: u64::try_from(audit_id).unwrap_or_default(),
            status: AuditStatus::Pending,
            reason: None,
            submitted_at: now,
            updated_at: now,
            auto_release,
        };
        match self
            .store()
            .put_audit_state(self.component_appid(), appid, &state)
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => Ok(state),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks the stored audit withdrawn after a successful undo.
    pub async fn audit_withdrawn(&self, appid: &AuthorizerAppId) -> Result<(), TokenError> {
        let Some(mut state) = self.audit_state(appid).await? else {
            return Ok(());
        };
        state.status = AuditStatus::Withdrawn;
        state.auto_release = false;
        state.updated_at = self.now();
        match self
            .store()
            .put_audit_state(self.component_appid(), appid, &state)
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The latest stored audit of `appid`.
    pub async fn audit_state(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<Option<AuditState>, TokenError> {
        Ok(self
            .store()
            .audit_state(self.component_appid(), appid)
            .await?)
    }
}
