//! The events the product publishes, one constructor per kind, so that each detail type has its
//! fields in one place (`docs/events.md` shows them, with a JSON Schema each). Each names what
//! makes it this event and no other, from which its [`EventId`](super::EventId) is derived.

use super::{DetailType, ProductEvent};
use crate::clock::EpochSeconds;
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::store::campaign::{Campaign, CampaignState};
use crate::store::{AuditState, AuditStatus, AuthCodeDigest, AuthorizerStatus};

/// How an authorization reached the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// WeChat's `authorized` / `updateauthorized` push, or the merchant's browser returning.
    Code,
    /// Recovered from WeChat's account information after a code was spent without an answer.
    Recovered,
}

impl Completion {
    fn as_str(self) -> &'static str {
        match self {
            Completion::Code => "code",
            Completion::Recovered => "recovered",
        }
    }
}

/// `Authorizer Authorized` (the account was not authorized before) or `Authorizer Updated` (it
/// was, and granted again, with the permission sets it grants now), once the grant is stored.
/// One per authorization code, whichever path stored it.
pub fn authorization(
    component: &ComponentAppId,
    appid: &AuthorizerAppId,
    code: &AuthCodeDigest,
    was_authorized: bool,
    func_info: &[u32],
    how: Completion,
    at: EpochSeconds,
) -> ProductEvent {
    let detail_type = if was_authorized {
        DetailType::AuthorizerUpdated
    } else {
        DetailType::AuthorizerAuthorized
    };
    ProductEvent::new(component, detail_type, code.as_str(), at)
        .about(appid)
        .with("func_info", func_info)
        .with("completed_by", how.as_str())
}

/// What made an authorizer's status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCause {
    /// WeChat's `unauthorized` push.
    Push,
    /// WeChat refused the refresh token with this errcode.
    Refused(i64),
}

/// `Authorizer Unauthorized` or `Authorizer Reauthorization Required` (by `status`): the record
/// keeps its refresh token and leaves the refresher. One per grant (refresh token version), so
/// the push and a refused refresh of the same revocation are one event. `None` for any other
/// status.
pub fn status_changed(
    component: &ComponentAppId,
    appid: &AuthorizerAppId,
    status: AuthorizerStatus,
    refresh_token_version: u64,
    cause: StatusCause,
    at: EpochSeconds,
) -> Option<ProductEvent> {
    let detail_type = match status {
        AuthorizerStatus::Unauthorized => DetailType::AuthorizerUnauthorized,
        AuthorizerStatus::ReauthorizationRequired => DetailType::AuthorizerReauthorizationRequired,
        _ => return None,
    };
    let key = format!("{appid}#{refresh_token_version}");
    let event = ProductEvent::new(component, detail_type, &key, at)
        .about(appid)
        .with("status", status.as_str());
    Some(match cause {
        StatusCause::Push => event.with("cause", "push"),
        StatusCause::Refused(errcode) => event
            .with("cause", "refresh_refused")
            .with("errcode", errcode),
    })
}

/// `Audit Succeeded`, `Audit Failed` or `Audit Delayed` (by the state's status), once the state
/// is stored. One per audit and outcome. `None` for the other statuses.
pub fn audit_result(
    component: &ComponentAppId,
    appid: &AuthorizerAppId,
    state: &AuditState,
    at: EpochSeconds,
) -> Option<ProductEvent> {
    let detail_type = match state.status {
        AuditStatus::Succeeded => DetailType::AuditSucceeded,
        AuditStatus::Failed => DetailType::AuditFailed,
        AuditStatus::Delayed => DetailType::AuditDelayed,
        AuditStatus::Pending | AuditStatus::Withdrawn => return None,
    };
    let key = format!("{appid}#{}", state.audit_id);
    let mut event = ProductEvent::new(component, detail_type, &key, at)
        .about(appid)
        .with("audit_id", state.audit_id)
        .with("submitted_at", state.submitted_at)
        .with("auto_release", state.auto_release);
    if let Some(reason) = &state.reason {
        event = event.with("reason", reason);
    }
    if let Some(campaign) = &state.campaign {
        event = event.with("campaign_id", campaign.as_str());
    }
    Some(event)
}

/// `Code Released`: the audited version went live, to every user (`gray_percentage` none) or to
/// that percentage of them. One per mini program, audit and release.
pub fn code_released(
    component: &ComponentAppId,
    appid: &AuthorizerAppId,
    audit_id: u64,
    gray_percentage: Option<u8>,
    at: EpochSeconds,
) -> ProductEvent {
    let release = gray_percentage.map_or_else(|| "full".to_owned(), |p| format!("gray{p}"));
    let key = format!("{appid}#{audit_id}#{release}");
    ProductEvent::new(component, DetailType::CodeReleased, &key, at)
        .about(appid)
        .with("audit_id", audit_id)
        .with("gray_percentage", gray_percentage)
}

/// `Campaign State Changed`: a release campaign went from `previous` (none when it was created)
/// to its state. One per stored version of the campaign.
pub fn campaign_state_changed(
    component: &ComponentAppId,
    campaign: &Campaign,
    previous: Option<CampaignState>,
    version: u64,
    at: EpochSeconds,
) -> ProductEvent {
    let key = format!("{}#{version}", campaign.id.as_str());
    let mut event = ProductEvent::new(component, DetailType::CampaignStateChanged, &key, at)
        .with("campaign_id", campaign.id.as_str())
        .with("state", campaign.state.as_str())
        .with("previous_state", previous.map(CampaignState::as_str))
        .with("total", campaign.total);
    if let Some(pause) = &campaign.pause {
        event = event.with("pause", pause);
    }
    if let Some(reason) = &campaign.halt_reason {
        event = event.with("halt_reason", reason);
    }
    event
}

/// `Ticket Missing`: no verify ticket arrived for longer than WeChat's 10-minute rhythm allows,
/// so component tokens cannot be renewed once the stored ticket lapses. One per last ticket;
/// with none stored at all (none for 12 hours), one an hour.
pub fn ticket_missing(
    component: &ComponentAppId,
    last_ticket_at: Option<EpochSeconds>,
    at: EpochSeconds,
) -> ProductEvent {
    let key = last_ticket_at.map_or_else(|| format!("none#{}", at / 3600), |t| t.to_string());
    ProductEvent::new(component, DetailType::TicketMissing, &key, at)
        .with("last_ticket_at", last_ticket_at)
        .with("ticket_age_secs", last_ticket_at.map(|t| (at - t).max(0)))
}
