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
/// is stored. One per audit (its id and submission time: an audit submitted elsewhere is not
/// stored with its id) and outcome. `None` for the other statuses.
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
    let key = format!("{appid}#{}#{}", state.audit_id, state.submitted_at);
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

/// What a fast registration result is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `notify_third_fasteregister`: a mini program registered for a company or a person.
    MiniProgram,
    /// `notify_third_fastregisterbetaapp`: a trial mini program created.
    BetaApp,
    /// `notify_third_fastverifybetaapp`: a trial mini program verified as a company's.
    BetaAppVerification,
}

impl Registration {
    fn as_str(self) -> &'static str {
        match self {
            Registration::MiniProgram => "mini_program",
            Registration::BetaApp => "beta_app",
            Registration::BetaAppVerification => "beta_app_verification",
        }
    }
}

/// `Fast Registration Completed`: WeChat's result of a fast registration, successful (`status`
/// 0, with the new mini program as `authorizer_appid`) or not. One per push; `details` are the
/// result's own fields (`msg`, `name`, `unique_id`...). The authorization that a successful
/// registration carries is an `Authorizer Authorized` of its own.
pub fn fast_registration(
    component: &ComponentAppId,
    appid: Option<&AuthorizerAppId>,
    registration: Registration,
    status: i64,
    details: &[(&str, Option<&String>)],
    push_key: &str,
    at: EpochSeconds,
) -> ProductEvent {
    let mut event = ProductEvent::new(
        component,
        DetailType::FastRegistrationCompleted,
        push_key,
        at,
    )
    .with("registration", registration.as_str())
    .with("status", status)
    .with("succeeded", status == 0);
    if let Some(appid) = appid {
        event = event.about(appid);
    }
    for (name, value) in details {
        if let Some(value) = value {
            event = event.with(name, value);
        }
    }
    event
}

/// Where a passed-on push arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushUrl {
    /// The authorization event URL (`InfoType`).
    Component,
    /// An authorizer's message URL (`MsgType` / `Event`).
    Message,
}

/// A push the product passes on without acting on it: what users send an account, events on the
/// message URL the product does not act on, and WeChat's notices (filing, verification, privacy,
/// penalties...). `Authorizer Message`, with the parsed `fields` and the decrypted body
/// (`raw_xml`, XML or JSON as WeChat sent it). One per push.
pub struct PassedOn<'a> {
    pub url: PushUrl,
    /// `MsgType` on the message URL, `InfoType` on the authorization event URL.
    pub kind: &'a str,
    pub event: Option<&'a str>,
    pub to_user_name: Option<&'a str>,
    pub from_user_name: Option<&'a str>,
    pub create_time: EpochSeconds,
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub raw_xml: &'a str,
}

/// The `Authorizer Message` of a push passed on (see [`PassedOn`]), keyed by the push's
/// idempotency key.
pub fn authorizer_message(
    component: &ComponentAppId,
    appid: Option<&AuthorizerAppId>,
    push: PassedOn<'_>,
    push_key: &str,
    at: EpochSeconds,
) -> ProductEvent {
    let (kind_name, url) = match push.url {
        PushUrl::Component => ("info_type", "component"),
        PushUrl::Message => ("msg_type", "message"),
    };
    let mut event = ProductEvent::new(component, DetailType::AuthorizerMessage, push_key, at)
        .with("url", url)
        .with(kind_name, push.kind)
        .with("event", push.event)
        .with("create_time", push.create_time)
        .with("fields", push.fields)
        .with("raw_xml", push.raw_xml);
    if let Some(appid) = appid {
        event = event.about(appid);
    }
    if let Some(to) = push.to_user_name {
        event = event.with("to_user_name", to);
    }
    if let Some(from) = push.from_user_name {
        event = event.with("from_user_name", from);
    }
    event
}
