//! Storage: everything the platform must remember between invocations, behind small traits.
//!
//! One trait per capability (ticket, component token, refresh leases, authorizers, the refresher's
//! due index, the authorizer directory, processed events, mini program audits, the provider's
//! settings per authorizer), so a use case asks for
//! exactly what it touches. Two adapters implement all of them with the same semantics:
//! [`DynamoStore`] (the product) and [`MemoryStore`] (unit tests of the services). The contract suite in
//! `tests/tests/integration/store_contract.rs` runs against both.
//!
//! Every record is keyed by the component appid first, so several components can share one table.
//! The rules that protect merchants' refresh tokens (versions, leases, once-only events) are enforced
//! by the store itself with conditional writes, never by the caller reading and then writing.
//!
//! Times are [`EpochSeconds`] from the [`Clock`](crate::Clock) the adapter was built with. DynamoDB's
//! TTL deletes expired items late (up to days), so every read treats an expired item as absent.

use std::fmt;
use std::future::Future;

use crate::clock::EpochSeconds;
use crate::events::{EventId, ProductEvent};
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::secret::Secret;

pub mod campaign;
pub mod dynamo;
pub mod memory;
mod push_ledger;
mod push_ledger_dynamo;
pub mod schema;

pub use dynamo::{
    COUNT_SHARDS, DueQueryStats, DynamoStore, StoredAuditQuota, Versioned, dynamodb_client,
    dynamodb_timeouts,
};
pub use memory::MemoryStore;
pub use push_ledger::{Claim, LedgerEntry, MemoryPushLedger, PushLedger, PushRecord, Retention};
pub use push_ledger_dynamo::DynamoPushLedger;

/// A component_verify_ticket older than this counts as absent (WeChat: valid 12 h).
pub const TICKET_VALIDITY_SECS: i64 = 12 * 3600;
/// How long a completed authorization code is remembered. Codes live 10 minutes; a day is generous.
pub const COMPLETED_AUTHORIZATION_RETENTION_SECS: i64 = 86_400;
/// How long the push ledger remembers a push. WeChat retries within seconds; days is generous.
pub const EVENT_RETENTION_SECS: i64 = 3 * 86_400;
/// The largest page [`AuthorizerDirectory::list_authorizers`] returns; larger limits are clamped.
pub const MAX_PAGE_SIZE: usize = 100;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong in a store. The first variants are outcomes callers branch on; none of them
/// ever carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the stored value is newer than (or different from) the one the
    /// caller based its write on. The stored value was left as it was.
    #[error("the stored value changed since it was read; nothing was written")]
    Conflict,
    /// Another owner holds an unexpired lease.
    #[error("the lease is held by another owner")]
    LeaseHeld,
    /// The record to update does not exist.
    #[error("no such record")]
    NotFound,
    /// A pagination cursor this store did not issue.
    #[error("the pagination cursor is invalid")]
    InvalidCursor,
    /// A stored item that this code cannot read (missing or malformed attribute).
    #[error("a stored {item} item has a missing or malformed `{attribute}` attribute")]
    Corrupt {
        item: &'static str,
        attribute: &'static str,
    },
    /// The backend failed (network, throttling, permissions, missing table...).
    #[error("DynamoDB {operation} failed")]
    Backend {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// The latest component_verify_ticket and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub value: Secret,
    pub received_at: EpochSeconds,
}

/// An access token with its absolute expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringToken {
    pub value: Secret,
    pub expires_at: EpochSeconds,
}

/// The stored component access token. `version` changes on every write, so a caller can replace
/// exactly the token it saw (compare-and-swap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentToken {
    pub token: ExpiringToken,
    pub version: u64,
}

/// What a lease item protects: the component token, plus rate limits kept as leases that are never
/// released (they simply expire). An authorizer token's lease is kept on the authorizer's own record
/// instead ([`AuthorizerStore::claim_token_refresh`]), so that taking it also reads the record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeaseKey {
    ComponentToken,
    /// Held for the minimum interval between two `api_start_push_ticket` calls.
    StartPushTicket,
    /// Held while one worker fetches an official account's `jsapi_ticket`.
    JsapiTicket(AuthorizerAppId),
}

/// Who holds a lease: a random id per worker invocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseOwner(String);

impl LeaseOwner {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A fresh random owner id.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeaseOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lease that was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: LeaseKey,
    pub owner: LeaseOwner,
    pub expires_at: EpochSeconds,
}

/// Where an authorizer stands with the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthorizerStatus {
    Authorized,
    /// The merchant revoked the authorization (`unauthorized` event). The record and its refresh
    /// token are kept.
    Unauthorized,
    /// WeChat refused the refresh token (61023): the merchant has to authorize again.
    ReauthorizationRequired,
}

impl AuthorizerStatus {
    pub const ALL: [AuthorizerStatus; 3] = [
        AuthorizerStatus::Authorized,
        AuthorizerStatus::Unauthorized,
        AuthorizerStatus::ReauthorizationRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizerStatus::Authorized => "authorized",
            AuthorizerStatus::Unauthorized => "unauthorized",
            AuthorizerStatus::ReauthorizationRequired => "reauthorization_required",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl fmt::Display for AuthorizerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Official account or mini program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    OfficialAccount,
    MiniProgram,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::OfficialAccount => "official_account",
            AccountKind::MiniProgram => "mini_program",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AccountKind::OfficialAccount, AccountKind::MiniProgram]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

/// The provider's own values for one authorizer, such as a shop id or a theme colour, which
/// release campaigns put into a template's `ext_json`. Names are 1 to 64 letters, digits and `_`
/// (`appid` is taken: it always means the authorizer's appid); values are text (up to 1,024
/// characters), numbers or `true` / `false`; at most 64 of them, 16 KiB in all as JSON. Kept on
/// the authorizer's record, beside and apart from its tokens.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct AuthorizerSettings(serde_json::Map<String, serde_json::Value>);

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("at most {} settings are kept", AuthorizerSettings::MAX_ENTRIES)]
    TooMany,
    #[error("setting names are 1 to 64 letters, digits and `_`: {0:?} is not one")]
    BadName(String),
    #[error("`appid` is not a setting: it always means the authorizer's appid")]
    Reserved,
    #[error("setting `{0}` must be text, a number, true or false")]
    BadValue(String),
    #[error("setting `{0}` is longer than {max} characters", max = AuthorizerSettings::MAX_TEXT_CHARS)]
    TooLong(String),
    #[error(
        "the settings are larger than {} bytes as JSON",
        AuthorizerSettings::MAX_JSON_BYTES
    )]
    TooLarge,
}

impl AuthorizerSettings {
    pub const MAX_ENTRIES: usize = 64;
    pub const MAX_NAME_CHARS: usize = 64;
    pub const MAX_TEXT_CHARS: usize = 1024;
    pub const MAX_JSON_BYTES: usize = 16 * 1024;

    /// `values` if they are settings as described above.
    pub fn new(values: serde_json::Map<String, serde_json::Value>) -> Result<Self, SettingsError> {
        if values.len() > Self::MAX_ENTRIES {
            return Err(SettingsError::TooMany);
        }
        for (name, value) in &values {
            let well_formed = (1..=Self::MAX_NAME_CHARS).contains(&name.chars().count())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !well_formed {
                return Err(SettingsError::BadName(
                    name.chars().take(Self::MAX_NAME_CHARS).collect(),
                ));
            }
            if name == "appid" {
                return Err(SettingsError::Reserved);
            }
            match value {
                serde_json::Value::String(text) if text.chars().count() > Self::MAX_TEXT_CHARS => {
                    return Err(SettingsError::TooLong(name.clone()));
                }
                serde_json::Value::String(_)
                | serde_json::Value::Number(_)
                | serde_json::Value::Bool(_) => {}
                _ => return Err(SettingsError::BadValue(name.clone())),
            }
        }
        let settings = Self(values);
        if settings.to_json().len() > Self::MAX_JSON_BYTES {
            return Err(SettingsError::TooLarge);
        }
        Ok(settings)
    }

    /// The settings by name.
    pub fn values(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The settings as a JSON object, as they are stored.
    pub fn to_json(&self) -> String {
        serde_json::Value::Object(self.0.clone()).to_string()
    }

    /// Settings stored by [`AuthorizerSettings::to_json`]; `None` if they are not.
    pub fn from_json(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for AuthorizerSettings {
    type Error = SettingsError;

    fn try_from(values: serde_json::Map<String, serde_json::Value>) -> Result<Self, Self::Error> {
        Self::new(values)
    }
}

/// The public facts about an authorizer's account (from api_get_authorizer_info).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub nick_name: String,
    /// The `gh_...` original id.
    pub user_name: String,
    pub kind: AccountKind,
    /// `service_type_info.id`.
    pub service_type: i64,
    /// `verify_type_info.id`.
    pub verify_type: i64,
    pub principal_name: String,
    pub head_img: String,
    pub qrcode_url: String,
}

/// Everything stored about one authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    pub appid: AuthorizerAppId,
    pub status: AuthorizerStatus,
    pub refresh_token: Secret,
    /// Starts at 1 and grows with every new refresh token; never goes back.
    pub refresh_token_version: u64,
    pub access_token: ExpiringToken,
    /// The permission set ids granted (`func_info[].funcscope_category.id`).
    pub func_info: Vec<u32>,
    pub account: Option<AccountInfo>,
    pub authorized_at: EpochSeconds,
    pub updated_at: EpochSeconds,
}

/// The result of an authorization (api_query_auth), as stored by
/// [`AuthorizerStore::record_authorization`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationGrant {
    pub appid: AuthorizerAppId,
    pub access_token: ExpiringToken,
    pub refresh_token: Secret,
    pub func_info: Vec<u32>,
    /// Kept as stored when `None`.
    pub account: Option<AccountInfo>,
}

/// The result of refreshing an authorizer token (api_authorizer_token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefresh {
    /// The refresh token version the caller used; the write fails with [`StoreError::Conflict`] if
    /// a newer one is stored.
    pub based_on_version: u64,
    pub access_token: ExpiringToken,
    /// A new refresh token, stored as version `based_on_version + 1`. `None` keeps the stored one.
    pub refresh_token: Option<Secret>,
}

/// What [`AuthorizerStore::claim_token_refresh`] did, with the authorizer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshClaim {
    /// The refresh lease is the caller's.
    Claimed(Authorizer),
    /// Not taken: another owner holds an unexpired refresh lease.
    Held(Authorizer),
    /// Not taken: the authorizer is not authorized, or its access token lives past `due_by`.
    Declined(Authorizer),
}

/// An authorizer token that expires soon, as found by [`DueTokens::authorizer_tokens_due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueToken {
    pub appid: AuthorizerAppId,
    pub expires_at: EpochSeconds,
}

/// An opaque position in a listing. Hand back what you were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor string received from a client; checked when used.
    pub fn from_string(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Both adapters order authorizers by appid and resume after the last one returned.
    pub fn after(appid: &AuthorizerAppId) -> Self {
        Self(hex::encode(appid.as_str()))
    }

    pub(crate) fn last_appid(&self) -> Result<AuthorizerAppId> {
        let bytes = hex::decode(&self.0).map_err(|_| StoreError::InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
        AuthorizerAppId::parse(text).map_err(|_| StoreError::InvalidCursor)
    }
}

/// One page of a listing; `next` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// How many authorizers are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub authorized: u64,
    pub unauthorized: u64,
    pub reauthorization_required: u64,
}

impl StatusCounts {
    pub fn get(&self, status: AuthorizerStatus) -> u64 {
        match status {
            AuthorizerStatus::Authorized => self.authorized,
            AuthorizerStatus::Unauthorized => self.unauthorized,
            AuthorizerStatus::ReauthorizationRequired => self.reauthorization_required,
        }
    }

    pub(crate) fn set(&mut self, status: AuthorizerStatus, count: u64) {
        match status {
            AuthorizerStatus::Authorized => self.authorized = count,
            AuthorizerStatus::Unauthorized => self.unauthorized = count,
            AuthorizerStatus::ReauthorizationRequired => self.reauthorization_required = count,
        }
    }
}

/// Where a mini program's latest code audit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditStatus {
    Pending,
    Succeeded,
    Failed,
    Delayed,
    Withdrawn,
}

impl AuditStatus {
    const ALL: [AuditStatus; 5] = [
        AuditStatus::Pending,
        AuditStatus::Succeeded,
        AuditStatus::Failed,
        AuditStatus::Delayed,
        AuditStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Pending => "pending",
            AuditStatus::Succeeded => "succeeded",
            AuditStatus::Failed => "failed",
            AuditStatus::Delayed => "delayed",
            AuditStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// The latest code audit of a mini program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditState {
    /// WeChat's `auditid`; grows with every submission.
    pub audit_id: u64,
    pub status: AuditStatus,
    /// Why it failed or was delayed.
    pub reason: Option<String>,
    pub submitted_at: EpochSeconds,
    pub updated_at: EpochSeconds,
    /// Release the version as soon as WeChat approves it (asked for at submission).
    pub auto_release: bool,
    /// The release campaign that submitted it: its result wakes that campaign's app.
    pub campaign: Option<campaign::CampaignId>,
}

/// WeChat's limits on withdrawing a mini program's audits (`undocodeaudit`): per mini program, a
/// Beijing-time day and month. WeChat offers no way to read what is left (87013 when spent).
pub const WITHDRAWALS_PER_DAY: u32 = 5;
pub const WITHDRAWALS_PER_MONTH: u32 = 10;

/// The withdrawals of a mini program's audits counted on one Beijing day and in its month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WithdrawalCount {
    pub day: u32,
    pub month: u32,
}

impl WithdrawalCount {
    /// Whether another withdrawal would exceed a limit.
    pub fn spent(&self) -> bool {
        self.day >= WITHDRAWALS_PER_DAY || self.month >= WITHDRAWALS_PER_MONTH
    }
}

/// The latest component_verify_ticket.
pub trait TicketStore: Send + Sync {
    /// The latest ticket, or `None` if there is none younger than [`TICKET_VALIDITY_SECS`].
    fn latest_ticket(
        &self,
        component: &ComponentAppId,
    ) -> impl Future<Output = Result<Option<Ticket>>> + Send;

    /// Stores a ticket unless a more recently received one is stored ([`StoreError::Conflict`]).
    fn put_ticket(
        &self,
        component: &ComponentAppId,
        ticket: &Ticket,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The component access token.
pub trait ComponentTokenStore: Send + Sync {
    /// The stored token, or `None` if there is none or it has expired.
    fn component_token(
        &self,
        component: &ComponentAppId,
    ) -> impl Future<Output = Result<Option<ComponentToken>>> + Send;

    /// Stores a new token if the stored one is still the one the caller saw: `replaces` is the
    /// version the caller read, or `None` if it saw no valid token. Returns the new version;
    /// [`StoreError::Conflict`] if someone else stored a token meanwhile.
    fn replace_component_token(
        &self,
        component: &ComponentAppId,
        token: &ExpiringToken,
        replaces: Option<u64>,
    ) -> impl Future<Output = Result<u64>> + Send;
}

/// Refresh leases: one worker refreshes a token at a time.
pub trait LeaseStore: Send + Sync {
    /// Takes the lease for `ttl_secs` if nobody else holds an unexpired one (the holder itself may
    /// take it again to extend it). [`StoreError::LeaseHeld`] otherwise.
    fn try_acquire_lease(
        &self,
        component: &ComponentAppId,
        key: &LeaseKey,
        owner: &LeaseOwner,
        ttl_secs: i64,
    ) -> impl Future<Output = Result<Lease>> + Send;

    /// Gives the lease back. Only its owner can: [`StoreError::LeaseHeld`] if another owner holds
    /// it, [`StoreError::NotFound`] if nobody does.
    fn release_lease(
        &self,
        component: &ComponentAppId,
        key: &LeaseKey,
        owner: &LeaseOwner,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A stored official account `jsapi_ticket` and the version it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJsapiTicket {
    pub ticket: ExpiringToken,
    pub version: u64,
}

/// How long the profile a user's web authorization gave is kept for the provider to read.
pub const WEB_USER_RETENTION_SECS: i64 = 86_400;

/// What a web authorization with `snsapi_userinfo` told about a user, kept for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUser {
    pub appid: AuthorizerAppId,
    pub profile: crate::wechat::UserInfo,
    pub authorized_at: EpochSeconds,
    /// When the record goes ([`WEB_USER_RETENTION_SECS`] after `authorized_at`).
    pub expires_at: EpochSeconds,
}

/// What official accounts need besides their tokens: the JS-SDK ticket, and the profiles of the
/// users their pages authorized.
pub trait OfficialAccountStore: Send + Sync {
    /// The stored ticket of `appid`, or `None` if there is none or it has expired.
    fn jsapi_ticket(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> impl Future<Output = Result<Option<StoredJsapiTicket>>> + Send;

    /// Stores a new ticket if the stored one is still the one the caller saw (`replaces`, or
    /// `None` when it saw no valid one), as [`ComponentTokenStore::replace_component_token`] does.
    fn replace_jsapi_ticket(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        ticket: &ExpiringToken,
        replaces: Option<u64>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Keeps `user` until its `expires_at`, replacing what an earlier authorization stored.
    fn put_web_user(
        &self,
        component: &ComponentAppId,
        user: &WebUser,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The kept profile of `openid` for `appid`, or `None` (never stored, or expired).
    fn web_user(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        openid: &str,
    ) -> impl Future<Output = Result<Option<WebUser>>> + Send;
}

/// Authorizer records. Never deleted: a refresh token, once lost, costs a re-authorization.
pub trait AuthorizerStore: Send + Sync {
    /// Creates the authorizer (refresh token version 1) or, on re-authorization, stores the new
    /// grant as the next version and sets the status back to authorized.
    fn record_authorization(
        &self,
        component: &ComponentAppId,
        grant: &AuthorizationGrant,
    ) -> impl Future<Output = Result<Authorizer>> + Send {
        self.record_authorization_with_events(component, grant, &[])
    }

    /// [`AuthorizerStore::record_authorization`], recording `events` (what the change means) in
    /// the same write: both are stored or neither (see [`EventOutbox`]).
    fn record_authorization_with_events(
        &self,
        component: &ComponentAppId,
        grant: &AuthorizationGrant,
        events: &[ProductEvent],
    ) -> impl Future<Output = Result<Authorizer>> + Send;

    /// Stores a refreshed access token (and a new refresh token, if any) and gives the refresh
    /// lease back, in one request. Fails with [`StoreError::Conflict`] if a newer refresh token
    /// version is stored or the authorizer is no longer authorized (the lease is then left as it
    /// is), [`StoreError::NotFound`] if there is no such authorizer.
    ///
    /// The lease is given back whoever holds it: the writer is its holder, because the calls made
    /// under a lease end before it lapses (`TokenSettings::lease_call_budget`).
    fn update_authorizer_tokens(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        refresh: &TokenRefresh,
    ) -> impl Future<Output = Result<Authorizer>> + Send;

    /// Takes the authorizer token's refresh lease for `owner` and `ttl_secs` and returns the record,
    /// in one request. The lease is kept on the record. It is taken only if the authorizer is
    /// authorized, nobody else holds an unexpired lease (the holder may take it again), and, with
    /// `due_by`, the access token expires at or before `due_by`; otherwise the answer says why not.
    /// [`StoreError::NotFound`] if there is no such authorizer.
    fn claim_token_refresh(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        owner: &LeaseOwner,
        ttl_secs: i64,
        due_by: Option<EpochSeconds>,
    ) -> impl Future<Output = Result<RefreshClaim>> + Send;

    /// Gives the refresh lease back without writing tokens. Only its owner can:
    /// [`StoreError::LeaseHeld`] if another owner holds it, [`StoreError::NotFound`] if nobody
    /// does.
    fn release_token_refresh(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        owner: &LeaseOwner,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Sets the status. Any status other than authorized takes the authorizer out of the due
    /// index, so the refresher leaves it alone; the record and refresh token stay.
    fn set_authorizer_status(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        status: AuthorizerStatus,
    ) -> impl Future<Output = Result<()>> + Send {
        self.set_authorizer_status_with_events(component, appid, status, &[])
    }

    /// [`AuthorizerStore::set_authorizer_status`], recording `events` in the same write.
    fn set_authorizer_status_with_events(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        status: AuthorizerStatus,
        events: &[ProductEvent],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Stores the account facts. [`StoreError::NotFound`] if there is no such authorizer.
    fn set_account_info(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        account: &AccountInfo,
    ) -> impl Future<Output = Result<()>> + Send;

    fn authorizer(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> impl Future<Output = Result<Option<Authorizer>>> + Send;
}

/// The provider's [`AuthorizerSettings`] per authorizer, on the authorizer's record. Writing them
/// leaves every other attribute of the record (its tokens above all) as it is, and re-authorizing
/// keeps them.
pub trait AuthorizerSettingsStore: Send + Sync {
    /// Replaces the settings. [`StoreError::NotFound`] if there is no such authorizer.
    fn put_authorizer_settings(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        settings: &AuthorizerSettings,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The settings (empty if none were ever put); `None` if there is no such authorizer.
    fn authorizer_settings(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> impl Future<Output = Result<Option<AuthorizerSettings>>> + Send;
}

/// The refresher's view: which authorizer tokens expire soon. Reads only those (no Scan).
pub trait DueTokens: Send + Sync {
    /// Authorized authorizers whose access token expires at or before `due_by`, earliest first,
    /// at most `limit`.
    fn authorizer_tokens_due(
        &self,
        component: &ComponentAppId,
        due_by: EpochSeconds,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueToken>>> + Send;
}

/// The API's view: listing and counting authorizers.
pub trait AuthorizerDirectory: Send + Sync {
    /// Authorizers ordered by appid, `limit` (at most [`MAX_PAGE_SIZE`]) per page.
    fn list_authorizers(
        &self,
        component: &ComponentAppId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<Page<Authorizer>>> + Send;

    /// How many authorizers are in each status (one count query per status; see docs/storage.md).
    fn count_authorizers_by_status(
        &self,
        component: &ComponentAppId,
    ) -> impl Future<Output = Result<StatusCounts>> + Send;
}

/// The SHA-256 of an authorization code, hex encoded: what the store keeps instead of the code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthCodeDigest(String);

impl AuthCodeDigest {
    pub fn of(code: &Secret) -> Self {
        use sha2::{Digest, Sha256};
        Self(hex::encode(Sha256::digest(code.expose().as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Authorization codes already exchanged (api_query_auth), so that the second of the two paths
/// that carry one code (the `authorized` push and the browser redirect) finds the result instead
/// of failing on WeChat's single-use rule (61009).
pub trait CompletedAuthorizations: Send + Sync {
    /// Remembers that the code was exchanged for `appid`, for
    /// [`COMPLETED_AUTHORIZATION_RETENTION_SECS`]. Writing the same code again overwrites.
    fn remember_completed_authorization(
        &self,
        component: &ComponentAppId,
        code: &AuthCodeDigest,
        appid: &AuthorizerAppId,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The authorizer a code was exchanged for, if it was within the retention.
    fn completed_authorization(
        &self,
        component: &ComponentAppId,
        code: &AuthCodeDigest,
    ) -> impl Future<Output = Result<Option<AuthorizerAppId>>> + Send;
}

/// Mini program code audit state.
pub trait AuditStore: Send + Sync {
    fn audit_state(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> impl Future<Output = Result<Option<AuditState>>> + Send;

    /// Stores the state unless the stored one is for a later audit ([`StoreError::Conflict`]).
    fn put_audit_state(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        state: &AuditState,
    ) -> impl Future<Output = Result<()>> + Send {
        self.put_audit_state_with_events(component, appid, state, &[])
    }

    /// [`AuditStore::put_audit_state`], recording `events` in the same write (none when the
    /// stored state is for a later audit).
    fn put_audit_state_with_events(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        state: &AuditState,
        events: &[ProductEvent],
    ) -> impl Future<Output = Result<()>> + Send;

    /// The withdrawals of `appid`'s audits counted on Beijing day `day` (`YYYYMMDD`) and in its
    /// month.
    fn withdrawals(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> impl Future<Output = Result<WithdrawalCount>> + Send;

    /// Counts one withdrawal on `day`, unless the day's or the month's count has reached its limit
    /// ([`StoreError::Conflict`]). Answers the counts with it.
    fn take_withdrawal(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> impl Future<Output = Result<WithdrawalCount>> + Send;

    /// Gives back a withdrawal taken on `day` that WeChat definitely did not make (no count goes
    /// below zero).
    fn return_withdrawal(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Counts `day` as spent: WeChat refused a withdrawal (87013) that the counts allowed, so
    /// some were made without this product.
    fn spend_withdrawals(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        day: u32,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Product events waiting for the bus (the outbox): recorded with the state change they describe,
/// in the same write (the `_with_events` methods of the other store traits) or on their own when
/// no state change carries them, then published and marked sent. Whatever is left unsent is
/// published by a later run, with the same [`EventId`]. An event is recorded once: recording an
/// id again, sent or not, changes nothing.
pub trait EventOutbox: Send + Sync {
    /// Records events that no state change carries (a message passed on, a missing ticket), each
    /// in a record of its own. An id recorded before is left as it is (the same event, recorded
    /// again), sent or not.
    fn record_events(
        &self,
        component: &ComponentAppId,
        events: &[ProductEvent],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Which of `ids` are recorded and not yet sent (a change made again records its event once,
    /// and what was published since must not be published again).
    fn unsent_among(
        &self,
        component: &ComponentAppId,
        ids: &[EventId],
    ) -> impl Future<Output = Result<Vec<EventId>>> + Send;

    /// Up to `limit` unsent events, oldest first (to the second).
    fn unsent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ProductEvent>>> + Send;

    /// Marks events sent: they are no longer listed as unsent. An event's own record is kept for
    /// [`SENT_EVENT_RETENTION_SECS`], so recording it again changes nothing. Events already
    /// marked are ignored.
    fn mark_events_sent(
        &self,
        component: &ComponentAppId,
        sent: &[EventId],
    ) -> impl Future<Output = Result<()>> + Send;
}

/// How long a sent event stays in the table.
pub const SENT_EVENT_RETENTION_SECS: i64 = 7 * 86_400;

/// An operator's signed-in console session. The session's id is only in the operator's cookie;
/// the store keeps its SHA-256 (hex), so a table read gives no one a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_digest: String,
    pub created_at: EpochSeconds,
    pub expires_at: EpochSeconds,
}

/// What the token refresher's last run did, as the console shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefresherRun {
    pub finished_at: EpochSeconds,
    pub due: u64,
    pub refreshed: u64,
    pub failed: u64,
    /// `failed` by WeChat errcode; `"other"` for failures without one.
    pub failed_by_errcode: std::collections::BTreeMap<String, u64>,
    pub reauthorization_required: u64,
    pub unauthorized: u64,
    pub stopped_early: bool,
}

/// A published event as the console lists it: what, about whom, when. Never its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEvent {
    pub id: EventId,
    pub detail_type: String,
    pub authorizer: Option<AuthorizerAppId>,
    pub occurred_at: EpochSeconds,
}

impl From<&ProductEvent> for RecentEvent {
    fn from(event: &ProductEvent) -> Self {
        Self {
            id: event.id.clone(),
            detail_type: event.detail_type.as_str().to_owned(),
            authorizer: event.authorizer.clone(),
            occurred_at: event.occurred_at,
        }
    }
}

/// How long a published event stays in the console's list of recent events.
pub const RECENT_EVENT_RETENTION_SECS: i64 = 7 * 86_400;

/// What the console keeps: operators' sessions, failed sign-ins per client and time window, the
/// token refresher's last run and the events published lately.
pub trait ConsoleStore: Send + Sync {
    /// Stores a new session.
    fn put_console_session(
        &self,
        component: &ComponentAppId,
        session: &ConsoleSession,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The session with this id digest, if stored and not expired.
    fn console_session(
        &self,
        component: &ComponentAppId,
        id_digest: &str,
    ) -> impl Future<Output = Result<Option<ConsoleSession>>> + Send;

    /// Ends a session (signing out); ending one that is gone is not an error.
    fn delete_console_session(
        &self,
        component: &ComponentAppId,
        id_digest: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Counts one more failed sign-in of `client` in the window starting at `window`, kept
    /// until `expires_at`; returns the window's count with this one.
    fn add_failed_sign_in(
        &self,
        component: &ComponentAppId,
        client: &str,
        window: EpochSeconds,
        expires_at: EpochSeconds,
    ) -> impl Future<Output = Result<u32>> + Send;

    /// The failed sign-ins of `client` in the window starting at `window`.
    fn failed_sign_ins(
        &self,
        component: &ComponentAppId,
        client: &str,
        window: EpochSeconds,
    ) -> impl Future<Output = Result<u32>> + Send;

    /// Replaces the record of the refresher's last run.
    fn put_refresher_run(
        &self,
        component: &ComponentAppId,
        run: &RefresherRun,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The refresher's last run, if one was recorded.
    fn refresher_run(
        &self,
        component: &ComponentAppId,
    ) -> impl Future<Output = Result<Option<RefresherRun>>> + Send;

    /// Notes events as published, for [`ConsoleStore::recent_events`], kept
    /// [`RECENT_EVENT_RETENTION_SECS`]. Noting one again changes nothing.
    fn note_recent_events(
        &self,
        component: &ComponentAppId,
        events: &[RecentEvent],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Up to `limit` noted events, the latest first.
    fn recent_events(
        &self,
        component: &ComponentAppId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecentEvent>>> + Send;
}

/// Every capability at once, for wiring and tests.
pub trait Store:
    TicketStore
    + ComponentTokenStore
    + LeaseStore
    + AuthorizerStore
    + DueTokens
    + AuthorizerDirectory
    + AuditStore
    + CompletedAuthorizations
    + AuthorizerSettingsStore
    + EventOutbox
    + OfficialAccountStore
    + ConsoleStore
{
}

impl<T> Store for T where
    T: TicketStore
        + ComponentTokenStore
        + LeaseStore
        + AuthorizerStore
        + DueTokens
        + AuthorizerDirectory
        + AuditStore
        + CompletedAuthorizations
        + AuthorizerSettingsStore
        + EventOutbox
        + OfficialAccountStore
        + ConsoleStore
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_junk() {
        let appid = AuthorizerAppId::parse("wx1234567890abcdef").unwrap();
        let cursor = Cursor::after(&appid);
        assert_eq!(
            Cursor::from_string(cursor.as_str()).last_appid().unwrap(),
            appid
        );
        assert!(matches!(
            Cursor::from_string("zz").last_appid(),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            Cursor::from_string(hex::encode("a b")).last_appid(),
            Err(StoreError::InvalidCursor)
        ));
    }

    fn settings(json: &str) -> Result<AuthorizerSettings, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn settings_take_text_numbers_and_flags_under_plain_names() {
        let ok =
            settings(r##"{"shop_id": "s-1", "theme": "#ff0000", "tables": 12, "beta": true}"##)
                .unwrap();
        assert_eq!(ok.values().len(), 4);
        assert_eq!(AuthorizerSettings::from_json(&ok.to_json()), Some(ok));
        assert_eq!(settings("{}").unwrap(), AuthorizerSettings::default());
    }

    #[test]
    fn settings_refuse_what_a_template_could_not_use() {
        for (json, expected) in [
            (r#"{"shop id": "x"}"#, "\"shop id\" is not one"),
            (r#"{"": "x"}"#, "\"\" is not one"),
            (r#"{"appid": "wx1"}"#, "always means the authorizer's appid"),
            (r#"{"nested": {"a": 1}}"#, "`nested` must be text"),
            (r#"{"list": [1]}"#, "`list` must be text"),
            (r#"{"nothing": null}"#, "`nothing` must be text"),
            ("[1, 2]", "invalid type"),
        ] {
            let error = settings(json).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
        let long = format!(
            r#"{{"a": "{}"}}"#,
            "x".repeat(AuthorizerSettings::MAX_TEXT_CHARS + 1)
        );
        assert!(settings(&long).unwrap_err().contains("longer than 1024"));
        let many: serde_json::Map<_, _> = (0..=AuthorizerSettings::MAX_ENTRIES)
            .map(|i| (format!("k{i}"), serde_json::Value::Bool(true)))
            .collect();
        assert_eq!(AuthorizerSettings::new(many), Err(SettingsError::TooMany));
        let large: serde_json::Map<_, _> = (0..20)
            .map(|i| (format!("k{i}"), serde_json::Value::String("y".repeat(1000))))
            .collect();
        assert_eq!(AuthorizerSettings::new(large), Err(SettingsError::TooLarge));
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for status in AuthorizerStatus::ALL {
            assert_eq!(AuthorizerStatus::parse(status.as_str()), Some(status));
        }
        for status in AuditStatus::ALL {
            assert_eq!(AuditStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(AuthorizerStatus::parse("gone"), None);
    }
}
