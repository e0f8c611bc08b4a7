//! Handling WeChat's pushes: the authorization event URL and the message URL (see
//! docs/wechat-protocol.md). The function adapter hands over the query and the body; this module
//! checks, decrypts, parses, decides what the push means, acts on it once, and says what to answer.
//!
//! The rules:
//! - every check of [`MessageCrypto::open_push`] (size, signatures, base64, padding, appid
//!   trailer), then the timestamp against the clock (a generous window: a replay guard, not a
//!   clock check), then the event's own `AppId` against ours; any failure is an error and nothing
//!   is written;
//! - a `component_verify_ticket` is one conditional store write, no ledger and no WeChat call: the
//!   write is idempotent by itself and ordered by `CreateTime`, so a late retry of an older ticket
//!   never replaces a newer one;
//! - every other push is acted on once through the [`PushLedger`]: claimed, acted on, and marked
//!   done only after the action succeeded; a failure releases the claim, so WeChat's retry acts
//!   again. A retry of a push that was done is answered exactly as the first delivery;
//! - each delivery's work is bounded: WeChat waits 5 s for an answer and delivers a push three
//!   times, and Lambda stops an invocation at its timeout, dropping whatever is in flight. The
//!   claim and the action must finish within [`PushSettings::delivery_budget`] (less when the
//!   invocation has less left), and a claim's lease is no longer than one delivery, so a delivery
//!   that was stopped midway never keeps the next one out;
//! - a message push must be addressed (its encrypted `ToUserName`) to the account its URL names;
//! - the full-network release test is answered only for WeChat's test accounts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::audit::{ReleaseKind, ReleaseOutcome};
use super::authorization::WhenRefused;
use super::campaign::CampaignWaker;
use super::context::Application;
use super::error::{AuthorizationError, TokenError};
use super::token_service::error_chain;
use crate::clock::{Clock, EpochSeconds};
use crate::crypto::{CryptoError, MAX_BODY_LEN, MessageCrypto, PushQuery, random_nonce, random16};
use crate::event::{
    AuthorizerMessage, ComponentEvent, ComponentEventKind, EventError, MessageKind,
};
use crate::events::ProductEvent;
use crate::events::catalogue::{self, PassedOn, PushUrl, Registration, StatusCause};
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::secret::Secret;
use crate::store::{
    AuditState, AuditStatus, AuthorizerStatus, Claim, LeaseOwner, PushLedger, PushRecord,
    Retention, Store, StoreError, Ticket,
};
use crate::wechat::CustomMessage;

/// The release test's text message and the passive reply it expects (its second step).
pub const RELEASE_TEST_TEXT: &str = "TESTCOMPONENT_MSG_TYPE_TEXT";
pub const RELEASE_TEST_TEXT_REPLY: &str = "TESTCOMPONENT_MSG_TYPE_TEXT_callback";
/// The prefix of the release test's auth code message (its third step).
pub const RELEASE_TEST_QUERY_AUTH_CODE: &str = "QUERY_AUTH_CODE:";
/// What the release test's customer-service message appends to the code.
pub const RELEASE_TEST_API_SUFFIX: &str = "_from_api";

/// The accounts WeChat runs the full-network release test with (appid, original id): five
/// official accounts, then five mini programs. Only these get the test's answers.
pub const RELEASE_TEST_ACCOUNTS: [(&str, &str); 10] = [
    ("wx570bc396a51b8ff8", "gh_3c884a361561"),
    ("wx9252c5e0bb1836fc", "gh_c0f28a78b318"),
    ("wx8e1097c5bc82cde9", "gh_3f222ed8d140"),
    ("wx14550af28c71a144", "gh_26128078e9ab"),
    ("wxa35b9c23cfe664eb", "gh_2b3713f184a6"),
    ("wxd101a85aa106f53e", "gh_8dad206e9538"),
    ("wxc39235c15087f6f3", "gh_905ae9d01059"),
    ("wx7720d01d4b2a4500", "gh_393666f1fdf4"),
    ("wx05d483572dcd5d8b", "gh_39abb5d4e1b7"),
    ("wx5910277cae6fd970", "gh_7818dcb60240"),
];

/// The original id of a release test account, if `appid` is one.
pub fn release_test_user_name(appid: &AuthorizerAppId) -> Option<&'static str> {
    RELEASE_TEST_ACCOUNTS
        .iter()
        .find(|(id, _)| *id == appid.as_str())
        .map(|(_, user_name)| *user_name)
}

/// Of the release test's budget, kept for the customer-service send after the code's exchange.
const RELEASE_TEST_SEND_RESERVE: Duration = Duration::from_millis(1500);

/// Of a message push's budget, kept for its action when the addressee's profile is looked up.
const ADDRESSEE_CHECK_RESERVE: Duration = Duration::from_secs(1);

/// Unknown component notifications (ICP filing, wxa auth...) are kept this long.
const UNKNOWN_EVENT_RETENTION_SECS: i64 = 90 * 86_400;

/// How pushes are handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSettings {
    /// How long a claim keeps other deliveries of the same push away if its holder dies: one
    /// delivery (WeChat delivers again 5 s later). Longer than [`PushSettings::delivery_budget`],
    /// so a live claim's action is over before its lease lapses.
    pub claim_lease_secs: i64,
    /// Pushes whose `timestamp` is further than this from the clock are refused; `None` accepts
    /// any. WeChat's clock drifts and retries come late, so the window is a day.
    pub max_clock_skew_secs: Option<i64>,
    /// The most a push's claim and action may take before the answer goes out (WeChat waits 5 s
    /// for the whole answer). An action still running then is stopped, its claim released, and
    /// the push answered 503 so that WeChat delivers it again.
    pub delivery_budget: Duration,
    /// Kept free before the Lambda deadline, for answering.
    pub deadline_margin: Duration,
    /// Whether pushes the product does not act on (users' messages, other message URL events,
    /// unknown kinds) are published as `Authorizer Message` events. WeChat's notices (filing,
    /// verification, privacy, penalties...) are published either way.
    pub publish_messages: bool,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            claim_lease_secs: 5,
            max_clock_skew_secs: Some(86_400),
            delivery_budget: Duration::from_millis(3800),
            deadline_margin: Duration::from_millis(300),
            publish_messages: false,
        }
    }
}

/// When one delivery's work must be over.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// The claim and the action end by then, so that the answer reaches WeChat in time.
    answer_by: Instant,
    /// The ledger's last write (done, or the release of the claim) ends by then, before the
    /// invocation is stopped.
    stop_by: Instant,
}

impl Budget {
    fn new(settings: &PushSettings, remaining: Option<Duration>) -> Self {
        let now = Instant::now();
        let hard = remaining.map(|left| left.saturating_sub(settings.deadline_margin));
        let answer = hard.map_or(settings.delivery_budget, |h| {
            h.min(settings.delivery_budget)
        });
        // Without a known deadline (a runner that sets none), the last write gets a little longer.
        let stop = hard.unwrap_or(settings.delivery_budget + Duration::from_secs(2));
        Self {
            answer_by: now + answer,
            stop_by: now + stop.max(answer),
        }
    }
}

/// Where the random parts of an encrypted reply come from (injected so tests can fix them).
pub trait ReplyRandomness: Send + Sync {
    fn nonce(&self) -> String;
    fn random16(&self) -> [u8; 16];
}

/// The operating system's randomness.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandomness;

impl ReplyRandomness for OsRandomness {
    fn nonce(&self) -> String {
        random_nonce()
    }
    fn random16(&self) -> [u8; 16] {
        random16()
    }
}

/// What to answer WeChat with (always HTTP 200).
#[derive(Clone, PartialEq, Eq)]
pub enum PushReply {
    /// The literal `success`.
    Success,
    /// An empty body.
    Empty,
    /// An encrypted passive reply envelope (XML).
    Encrypted(String),
}

impl PushReply {
    pub fn body(&self) -> &str {
        match self {
            Self::Success => "success",
            Self::Empty => "",
            Self::Encrypted(xml) => xml,
        }
    }
}

impl std::fmt::Debug for PushReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Success => "Success",
            Self::Empty => "Empty",
            Self::Encrypted(_) => "Encrypted(..)",
        })
    }
}

/// Why a push was not answered with 200. The first group is the sender's fault (no write took
/// place); the second is ours, and WeChat should retry.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the body is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the push failed its signature check")]
    BadSignature(#[source] CryptoError),
    #[error("the push could not be opened")]
    Rejected(#[source] CryptoError),
    #[error("the decrypted push could not be read")]
    Malformed(#[source] EventError),
    #[error("the push is addressed to another component")]
    WrongComponent,
    #[error("the push timestamp is malformed or too far from the clock")]
    Stale,
    #[error("the release test's auth code is not shaped like one")]
    MalformedAuthCode,
    #[error("the push is addressed to another account than its URL names")]
    WrongAccount,
    #[error("the push is for an account that has not authorized this platform")]
    UnknownAccount,
    #[error("another delivery of this push is being handled")]
    InProgress,
    #[error("the push was not handled within the delivery's budget")]
    OutOfTime,
    #[error("completing the authorization the push carries failed")]
    Authorization(#[source] AuthorizationError),
    #[error("acting on the push failed")]
    Action(#[source] TokenError),
    #[error("the store failed")]
    Store(#[source] StoreError),
}

impl PushError {
    /// Whether WeChat's retry may succeed (our side failed), as opposed to a refused push.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::InProgress
                | Self::OutOfTime
                | Self::Authorization(_)
                | Self::Action(_)
                | Self::Store(_)
        )
    }
}

impl From<CryptoError> for PushError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::BodyTooLarge { max, .. } => Self::TooLarge { max },
            CryptoError::Signature(_) => Self::BadSignature(e),
            other => Self::Rejected(other),
        }
    }
}

/// The push use cases over the token service, the push ledger and the message crypto. Cheap to
/// clone.
pub struct PushService<S, L> {
    inner: Arc<Inner<S, L>>,
}

impl<S, L> Clone for PushService<S, L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<S, L> {
    app: Application<S>,
    ledger: Arc<L>,
    crypto: MessageCrypto,
    randomness: Arc<dyn ReplyRandomness>,
    settings: PushSettings,
    /// Told when the result of a release campaign's audit arrives.
    campaigns: Option<Arc<dyn CampaignWaker>>,
}

/// Whether a push's action ran now or on an earlier delivery.
enum Acted {
    Now,
    Before,
}

impl<S: Store + 'static, L: PushLedger + 'static> PushService<S, L> {
    /// `crypto` must be for the application's component.
    pub fn new(
        app: Application<S>,
        ledger: Arc<L>,
        crypto: MessageCrypto,
        settings: PushSettings,
    ) -> Self {
        Self::with_randomness(app, ledger, crypto, settings, Arc::new(OsRandomness))
    }

    pub fn with_randomness(
        app: Application<S>,
        ledger: Arc<L>,
        crypto: MessageCrypto,
        settings: PushSettings,
        randomness: Arc<dyn ReplyRandomness>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                app,
                ledger,
                crypto,
                randomness,
                settings,
                campaigns: None,
            }),
        }
    }

    /// The same service, also waking release campaigns' apps with `waker` when their audit's
    /// result arrives.
    pub fn with_campaign_waker(&self, waker: Arc<dyn CampaignWaker>) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                app: inner.app.clone(),
                ledger: inner.ledger.clone(),
                crypto: inner.crypto.clone(),
                randomness: inner.randomness.clone(),
                settings: inner.settings.clone(),
                campaigns: Some(waker),
            }),
        }
    }

    /// The application the pushes act on.
    pub fn app(&self) -> &Application<S> {
        &self.inner.app
    }

    pub fn ledger(&self) -> &Arc<L> {
        &self.inner.ledger
    }

    /// The clock the service runs by, and the functions read their deadline by.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.app.context.clock()
    }

    fn component(&self) -> &ComponentAppId {
        self.inner.app.context.component_appid()
    }

    fn now(&self) -> EpochSeconds {
        self.inner.app.context.now()
    }

    /// The ledger key of a push: a digest, so no openid or account name ends up in a table key.
    pub fn ledger_key(idempotency_key: &str) -> String {
        hex::encode(Sha256::digest(idempotency_key.as_bytes()))
    }

    /// Size, crypto and timestamp checks; the decrypted plaintext.
    fn open(&self, query: &PushQuery, body: &[u8]) -> Result<String, PushError> {
        if body.len() > MAX_BODY_LEN {
            return Err(PushError::TooLarge { max: MAX_BODY_LEN });
        }
        let opened = self.inner.crypto.open_push(query, body)?;
        if let Some(window) = self.inner.settings.max_clock_skew_secs {
            // Signed, so parse only after the signature matched.
            let at: EpochSeconds = query
                .timestamp
                .as_deref()
                .and_then(|t| t.trim().parse().ok())
                .ok_or(PushError::Stale)?;
            if at.abs_diff(self.now()) > window.unsigned_abs() {
                return Err(PushError::Stale);
            }
        }
        Ok(opened.plaintext)
    }

    /// Acts on a push once: claim, act, then mark done (or release the claim on failure). The
    /// claim and the action end by `budget.answer_by` (an action still running then is dropped,
    /// as a Lambda timeout would drop it); the ledger's last write by `budget.stop_by`.
    async fn once<F, Fut>(
        &self,
        idempotency_key: &str,
        budget: Budget,
        act: F,
    ) -> Result<Acted, PushError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<PushRecord, PushError>>,
    {
        let inner = &self.inner;
        let component = self.component();
        let key = Self::ledger_key(idempotency_key);
        let owner = LeaseOwner::random();
        let claim = inner
            .ledger
            .claim(component, &key, &owner, inner.settings.claim_lease_secs);
        match tokio::time::timeout_at(budget.answer_by.into(), claim)
            .await
            .map_err(|_| PushError::OutOfTime)?
            .map_err(PushError::Store)?
        {
            Claim::Acquired => {}
            Claim::Done => {
                tracing::info!("a retry of a push that was already acted on");
                return Ok(Acted::Before);
            }
            Claim::InProgress => {
                tracing::info!("another delivery of this push is being handled");
                return Err(PushError::InProgress);
            }
        }
        let stop_by = budget.stop_by.into();
        // Boxed: the actions' futures are large, and a handler's future holds several of them.
        let result = match tokio::time::timeout_at(budget.answer_by.into(), Box::pin(act())).await {
            Ok(Ok(record)) => {
                match tokio::time::timeout_at(
                    stop_by,
                    inner.ledger.complete(component, &key, &record),
                )
                .await
                {
                    Ok(done) => done.map_err(PushError::Store),
                    Err(_) => Err(PushError::OutOfTime),
                }
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                tracing::warn!("the push's action did not finish in time; stopped");
                Err(PushError::OutOfTime)
            }
        };
        match result {
            Ok(()) => Ok(Acted::Now),
            Err(e) => {
                let release = inner.ledger.release(component, &key, &owner);
                match tokio::time::timeout_at(stop_by, release).await {
                    Ok(Ok(())) => {}
                    Ok(Err(release)) => {
                        tracing::warn!(error = %error_chain(&release), "could not release the push claim; it lapses by itself");
                    }
                    Err(_) => {
                        tracing::warn!(
                            "could not release the push claim in time; it lapses by itself"
                        );
                    }
                }
                Err(e)
            }
        }
    }

    // ----- the authorization event URL -------------------------------------------------------

    /// A push to the authorization event URL. `Ok` is always answered `success`. `remaining` is
    /// the time left in the invocation, when known: the push's work is bounded by it.
    pub async fn handle_component_push(
        &self,
        query: &PushQuery,
        body: &[u8],
        remaining: Option<Duration>,
    ) -> Result<PushReply, PushError> {
        let budget = Budget::new(&self.inner.settings, remaining);
        let span = tracing::info_span!(
            "component_push",
            component = %self.component(),
            info_type = tracing::field::Empty,
            authorizer = tracing::field::Empty,
        );
        async {
            let plaintext = self.open(query, body)?;
            let event = ComponentEvent::parse(&plaintext).map_err(PushError::Malformed)?;
            drop(plaintext);
            let span = tracing::Span::current();
            span.record("info_type", event.info_type());
            if &event.component_appid != self.component() {
                return Err(PushError::WrongComponent);
            }
            if let ComponentEventKind::VerifyTicket { ticket } = &event.kind {
                self.store_ticket(ticket, event.create_time).await?;
                return Ok(PushReply::Success);
            }
            let acted = self
                .once(&event.idempotency_key(), budget, || {
                    self.act_on_component_event(&event, budget.answer_by)
                })
                .await?;
            if let Acted::Now = acted {
                tracing::info!("component event handled");
            }
            Ok(PushReply::Success)
        }
        .instrument(span)
        .await
    }

    /// One conditional write. `received_at` is WeChat's `CreateTime` (never later than our clock),
    /// so the store refuses an older ticket delivered after a newer one.
    async fn store_ticket(&self, ticket: &Secret, created: EpochSeconds) -> Result<(), PushError> {
        let record = Ticket {
            value: ticket.clone(),
            received_at: created.min(self.now()),
        };
        match self
            .inner
            .app
            .context
            .store()
            .put_ticket(self.component(), &record)
            .await
        {
            Ok(()) => {
                tracing::info!(created, "component_verify_ticket stored");
                Ok(())
            }
            Err(StoreError::Conflict) => {
                tracing::info!(
                    created,
                    "a newer component_verify_ticket is stored; kept it"
                );
                Ok(())
            }
            Err(e) => Err(PushError::Store(e)),
        }
    }

    async fn act_on_component_event(
        &self,
        event: &ComponentEvent,
        deadline: Instant,
    ) -> Result<PushRecord, PushError> {
        let kind = event.info_type().to_owned();
        let mut record = PushRecord::dedupe(kind);
        match &event.kind {
            // Handled before the ledger; listed for completeness.
            ComponentEventKind::VerifyTicket { .. } => {}
            ComponentEventKind::Authorized(a) | ComponentEventKind::UpdateAuthorized(a) => {
                tracing::Span::current().record("authorizer", a.authorizer_appid.as_str());
                record.appid = Some(a.authorizer_appid.to_string());
                let outcome = self
                    .complete_authorization(
                        &a.authorization_code,
                        Some(&a.authorizer_appid),
                        deadline,
                    )
                    .await?;
                record.detail.insert("outcome".into(), outcome.into());
            }
            ComponentEventKind::Unauthorized { authorizer_appid } => {
                tracing::Span::current().record("authorizer", authorizer_appid.as_str());
                record.appid = Some(authorizer_appid.to_string());
                self.mark_unauthorized(authorizer_appid, deadline).await?;
            }
            ComponentEventKind::FastRegister(r) | ComponentEventKind::FastVerifyBetaApp(r) => {
                record.appid = r.appid.as_ref().map(ToString::to_string);
                record.status = Some(r.status);
                record.retention = Retention::Forever;
                let registration = match &event.kind {
                    ComponentEventKind::FastRegister(_) => Registration::MiniProgram,
                    _ => Registration::BetaAppVerification,
                };
                let result = catalogue::fast_registration(
                    self.component(),
                    r.appid.as_ref(),
                    registration,
                    r.status,
                    &[("msg", r.msg.as_ref()), ("name", r.info.name.as_ref())],
                    &event.idempotency_key(),
                    self.now(),
                );
                self.record_and_publish(&[result], deadline).await?;
                for (name, value) in [
                    ("msg", &r.msg),
                    ("name", &r.info.name),
                    ("code", &r.info.code),
                ] {
                    if let Some(value) = value {
                        record.detail.insert(name.into(), value.clone());
                    }
                }
                if r.status == 0
                    && let Some(code) = &r.auth_code
                {
                    let outcome = self
                        .complete_authorization(code, r.appid.as_ref(), deadline)
                        .await?;
                    record.detail.insert("outcome".into(), outcome.into());
                }
            }
            ComponentEventKind::FastRegisterBetaApp(r) => {
                record.appid = r.appid.as_ref().map(ToString::to_string);
                record.status = Some(r.status);
                record.retention = Retention::Forever;
                let result = catalogue::fast_registration(
                    self.component(),
                    r.appid.as_ref(),
                    Registration::BetaApp,
                    r.status,
                    &[
                        ("msg", r.msg.as_ref()),
                        ("unique_id", r.info.unique_id.as_ref()),
                        ("name", r.info.name.as_ref()),
                    ],
                    &event.idempotency_key(),
                    self.now(),
                );
                self.record_and_publish(&[result], deadline).await?;
                for (name, value) in [
                    ("msg", &r.msg),
                    ("unique_id", &r.info.unique_id),
                    ("name", &r.info.name),
                ] {
                    if let Some(value) = value {
                        record.detail.insert(name.into(), value.clone());
                    }
                }
            }
            // Passed on: a notice always, an unknown kind when asked; stored raw either way.
            ComponentEventKind::Unknown { .. } | ComponentEventKind::Notice(_) => {
                tracing::info!("an InfoType this platform does not act on; stored");
                record.retention = Retention::Secs(UNKNOWN_EVENT_RETENTION_SECS);
                let (fields, appid) = match &event.kind {
                    ComponentEventKind::Notice(notice) => {
                        (Some(notice.fields()), notice.appid.as_ref())
                    }
                    _ if self.inner.settings.publish_messages => {
                        (Some(serde_json::Map::new()), None)
                    }
                    _ => (None, None),
                };
                if let Some(raw_xml) = event.raw_body() {
                    if let Some(fields) = fields {
                        let push = PassedOn {
                            url: PushUrl::Component,
                            kind: event.info_type(),
                            event: None,
                            to_user_name: None,
                            from_user_name: None,
                            create_time: event.create_time,
                            fields,
                            raw_xml: raw_xml.expose(),
                        };
                        let passed_on = catalogue::authorizer_message(
                            self.component(),
                            appid,
                            push,
                            &event.idempotency_key(),
                            self.now(),
                        );
                        self.record_and_publish(&[passed_on], deadline).await?;
                    }
                    record
                        .detail
                        .insert("raw_xml".into(), raw_xml.expose().to_owned());
                }
            }
        }
        Ok(record)
    }

    /// Completes an authorization for an event. A code WeChat refuses (61009 / 61010) with no
    /// completed authorization behind it was spent by an exchange whose answer was lost, or is
    /// stale: the authorization is recovered from WeChat by the event's appid when WeChat still
    /// holds one (at once: the event names the account, so there is no need to wait for the
    /// browser's path); otherwise it is recorded, not retried (a retry will not make the code
    /// valid).
    async fn complete_authorization(
        &self,
        code: &Secret,
        appid: Option<&AuthorizerAppId>,
        deadline: Instant,
    ) -> Result<&'static str, PushError> {
        let authorizations = &self.inner.app.authorizations;
        let when_refused = match appid {
            Some(_) => WhenRefused::Report,
            None => WhenRefused::WaitForOtherPath,
        };
        match authorizations
            .complete_authorization_by(code, deadline, when_refused)
            .await
        {
            Ok(_) => Ok("authorized"),
            Err(AuthorizationError::CodeRejected { source }) => {
                if let Some(appid) = appid {
                    match authorizations
                        .recover_authorization(code, appid, deadline)
                        .await
                    {
                        Ok(Some(_)) => return Ok("recovered"),
                        Ok(None) => {}
                        Err(e) => return Err(PushError::Authorization(e)),
                    }
                }
                tracing::warn!(
                    errcode = source.errcode(),
                    "WeChat refused the authorization code of the event; not retrying"
                );
                Ok("code_rejected")
            }
            Err(e) => Err(PushError::Authorization(e)),
        }
    }

    // ----- the message URL -------------------------------------------------------------------

    /// A push to the message URL of `appid` (the `$APPID$` of the URL). `remaining` is the time
    /// left in the invocation, when known: the release test's work is bounded by it.
    pub async fn handle_message_push(
        &self,
        appid: &AuthorizerAppId,
        query: &PushQuery,
        body: &[u8],
        remaining: Option<Duration>,
    ) -> Result<PushReply, PushError> {
        let budget = Budget::new(&self.inner.settings, remaining);
        let span = tracing::info_span!(
            "message_push",
            component = %self.component(),
            authorizer = %appid,
            msg_type = tracing::field::Empty,
            event = tracing::field::Empty,
        );
        async {
            let plaintext = self.open(query, body)?;
            let message = AuthorizerMessage::parse(&plaintext).map_err(PushError::Malformed)?;
            let span = tracing::Span::current();
            span.record("msg_type", message.msg_type.as_str());
            if let Some(event) = message.event() {
                span.record("event", event);
            }
            let idempotency_key = format!("{appid}:{}", message.idempotency_key());
            let passed_on = self.passed_on_message(appid, &message, &plaintext, &idempotency_key);
            drop(plaintext);
            let release_test = self
                .check_addressee(appid, &message, budget.answer_by)
                .await?;

            // The release test's messages are WeChat's, not a merchant's: never passed on (one
            // carries an auth code).
            let passed_on = passed_on.filter(|_| !release_test);
            if let MessageKind::Text { content, .. } = &message.kind
                && release_test
            {
                if content == RELEASE_TEST_TEXT {
                    // No side effect: every delivery gets the same reply.
                    tracing::info!("release test: passive text reply");
                    return self.encrypted_text_reply(&message, RELEASE_TEST_TEXT_REPLY);
                }
                if let Some(code) = content.strip_prefix(RELEASE_TEST_QUERY_AUTH_CODE) {
                    let code = Secret::new(code.trim());
                    if !super::auth_state::looks_like_auth_code(code.expose()) {
                        tracing::warn!(
                            "release test: the auth code is not shaped like one; not exchanged"
                        );
                        return Err(PushError::MalformedAuthCode);
                    }
                    self.once(&idempotency_key, budget, || {
                        self.answer_release_test(
                            appid,
                            &code,
                            &message.from_user_name,
                            budget.answer_by,
                        )
                    })
                    .await?;
                    return Ok(PushReply::Empty);
                }
            }
            let acted = self
                .once(&idempotency_key, budget, || {
                    self.act_on_message(appid, &message, passed_on.as_ref(), budget.answer_by)
                })
                .await?;
            if let Acted::Now = acted {
                tracing::info!("message push handled");
            }
            Ok(PushReply::Success)
        }
        .instrument(span)
        .await
    }

    /// Checks that the message is addressed to the account its URL names: its `ToUserName`
    /// (inside the encrypted, signed part) must be that account's original id. The original ids
    /// of WeChat's release test accounts are known; any other account must be a stored
    /// authorizer, whose profile gives its original id (fetched now when it was never stored).
    /// Whether the account is one of the release test's.
    async fn check_addressee(
        &self,
        appid: &AuthorizerAppId,
        message: &AuthorizerMessage,
        deadline: Instant,
    ) -> Result<bool, PushError> {
        if let Some(user_name) = release_test_user_name(appid) {
            return if message.to_user_name == user_name {
                Ok(true)
            } else {
                Err(PushError::WrongAccount)
            };
        }
        let app = &self.inner.app;
        let stored = app
            .context
            .store()
            .authorizer(self.component(), appid)
            .await
            .map_err(PushError::Store)?
            .ok_or(PushError::UnknownAccount)?;
        let account = match stored.account {
            Some(account) => Some(account),
            None => {
                // Leaves the rest of the budget to the push's own action.
                let profile_by = deadline
                    .checked_sub(ADDRESSEE_CHECK_RESERVE)
                    .unwrap_or(deadline);
                app.authorizations.fill_in_profile(appid, profile_by).await
            }
        };
        match account {
            Some(account) if account.user_name == message.to_user_name => Ok(false),
            Some(_) => Err(PushError::WrongAccount),
            None => {
                // Stored, but its original id is not known yet: nothing to check against.
                tracing::warn!(
                    "the account's original id is not known yet; the addressee is not checked"
                );
                Ok(false)
            }
        }
    }

    fn encrypted_text_reply(
        &self,
        message: &AuthorizerMessage,
        content: &str,
    ) -> Result<PushReply, PushError> {
        let now = self.now();
        let xml = message.text_reply(content, now);
        let randomness = &self.inner.randomness;
        let envelope = self
            .inner
            .crypto
            .encrypt_reply(
                &xml,
                &now.to_string(),
                &randomness.nonce(),
                &randomness.random16(),
            )
            .map_err(PushError::Rejected)?;
        Ok(PushReply::Encrypted(envelope))
    }

    /// Release test, third step: exchange the code (storing the test account like any
    /// authorization) and send `<code>_from_api` to the sender with that account's token.
    async fn answer_release_test(
        &self,
        appid: &AuthorizerAppId,
        code: &Secret,
        touser: &str,
        deadline: Instant,
    ) -> Result<PushRecord, PushError> {
        tracing::info!("release test: query auth and customer-service send");
        let app = &self.inner.app;
        // The exchange leaves time for the send; the profile is looked up only if time is left.
        let exchange_by = deadline
            .checked_sub(RELEASE_TEST_SEND_RESERVE)
            .unwrap_or(deadline);
        let authorizer = app
            .authorizations
            .complete_authorization_by(code, exchange_by, WhenRefused::WaitForOtherPath)
            .await
            .map_err(PushError::Authorization)?;
        if &authorizer.appid != appid {
            tracing::warn!(exchanged_for = %authorizer.appid, "the code belongs to another account than the URL names; answering as that account");
        }
        let message = CustomMessage::text(
            touser,
            format!("{}{RELEASE_TEST_API_SUFFIX}", code.expose()),
        );
        let message = &message;
        app.tokens
            .with_authorizer_token(&authorizer.appid, |client, token| async move {
                client.send_custom_message(&token, message).await
            })
            .await
            .map_err(PushError::Action)?;
        tracing::info!("release test: customer-service message sent");
        let mut record = PushRecord::dedupe("text:QUERY_AUTH_CODE");
        record.appid = Some(authorizer.appid.to_string());
        Ok(record)
    }

    /// The `Authorizer Message` event of a message push, if it is to be published: a notice
    /// always, anything else the product does not act on when [`PushSettings::publish_messages`]
    /// says so. Code audit results have events of their own.
    fn passed_on_message(
        &self,
        appid: &AuthorizerAppId,
        message: &AuthorizerMessage,
        plaintext: &str,
        key: &str,
    ) -> Option<ProductEvent> {
        let mut fields = serde_json::Map::new();
        match &message.kind {
            MessageKind::WeappAuditSuccess { .. }
            | MessageKind::WeappAuditFail { .. }
            | MessageKind::WeappAuditDelay { .. } => return None,
            MessageKind::Notice(notice) => fields = notice.fields(),
            _ if !self.inner.settings.publish_messages => return None,
            MessageKind::Text { content, msg_id } => {
                fields.insert("content".into(), content.clone().into());
                fields.insert("msg_id".into(), (*msg_id).into());
            }
            MessageKind::NicknameAudit {
                ret,
                nickname,
                reason,
            } => {
                fields.insert("ret".into(), (*ret).into());
                fields.insert("nickname".into(), nickname.clone().into());
                fields.insert("reason".into(), reason.clone().into());
            }
            MessageKind::Unknown { .. } => {}
        }
        let push = PassedOn {
            url: PushUrl::Message,
            kind: &message.msg_type,
            event: message.event(),
            to_user_name: Some(&message.to_user_name),
            from_user_name: Some(&message.from_user_name),
            create_time: message.create_time,
            fields,
            raw_xml: plaintext,
        };
        Some(catalogue::authorizer_message(
            self.component(),
            Some(appid),
            push,
            key,
            self.now(),
        ))
    }

    /// Records events that no state change carries (a push passed on, a registration's result)
    /// and publishes them before `deadline`. Recorded before the push counts as handled, so a
    /// failure here makes WeChat deliver it again (and the same event is recorded once).
    async fn record_and_publish(
        &self,
        events: &[ProductEvent],
        deadline: Instant,
    ) -> Result<(), PushError> {
        let context = &self.inner.app.context;
        context
            .store()
            .record_events(self.component(), events)
            .await
            .map_err(PushError::Store)?;
        context.publish_recorded(events, deadline).await;
        Ok(())
    }

    async fn act_on_message(
        &self,
        appid: &AuthorizerAppId,
        message: &AuthorizerMessage,
        passed_on: Option<&ProductEvent>,
        deadline: Instant,
    ) -> Result<PushRecord, PushError> {
        if let Some(event) = passed_on {
            self.record_and_publish(std::slice::from_ref(event), deadline)
                .await?;
        }
        let kind = match message.event() {
            Some(event) => format!("{}:{event}", message.msg_type),
            None => message.msg_type.clone(),
        };
        let mut record = PushRecord::dedupe(kind);
        record.appid = Some(appid.to_string());
        match &message.kind {
            MessageKind::WeappAuditSuccess { succ_time } => {
                let release = self
                    .update_audit(appid, AuditStatus::Succeeded, None, *succ_time, deadline)
                    .await?;
                if let Some(outcome) = release {
                    record.detail.insert("auto_release".into(), outcome);
                }
            }
            MessageKind::WeappAuditFail {
                reason, fail_time, ..
            } => {
                self.update_audit(
                    appid,
                    AuditStatus::Failed,
                    Some(reason),
                    *fail_time,
                    deadline,
                )
                .await?;
            }
            MessageKind::WeappAuditDelay { reason, delay_time } => {
                self.update_audit(
                    appid,
                    AuditStatus::Delayed,
                    Some(reason),
                    *delay_time,
                    deadline,
                )
                .await?;
            }
            MessageKind::NicknameAudit {
                ret,
                nickname,
                reason,
            } => {
                tracing::info!(ret, "nickname audit result stored");
                record.status = Some(*ret);
                record.retention = Retention::Forever;
                record.detail.insert("nickname".into(), nickname.clone());
                if let Some(reason) = reason {
                    record.detail.insert("reason".into(), reason.clone());
                }
            }
            // Ordinary messages and events: recorded once, nothing to do.
            MessageKind::Text { .. } | MessageKind::Unknown { .. } | MessageKind::Notice(_) => {}
        }
        Ok(record)
    }

    /// Releases the approved version of audit `audit_id`, whose submitter asked to release it
    /// automatically (the audits' shared [`Audits::release_approved`](super::Audits)), and says
    /// what happened. `Err` means the outcome is unknown: the caller keeps the wish and lets
    /// WeChat's next delivery try again. WeChat's definite refusals (85019 no approved version,
    /// 85020 status does not allow it, a revoked authorization) end the wish and are recorded.
    async fn auto_release(
        &self,
        appid: &AuthorizerAppId,
        audit_id: u64,
    ) -> Result<String, TokenError> {
        let outcome = self
            .inner
            .app
            .audits
            .release_approved(appid, audit_id, ReleaseKind::Full)
            .await?;
        Ok(match outcome {
            ReleaseOutcome::Released => "released".to_owned(),
            ReleaseOutcome::NotTheApprovedAudit {
                latest_audit_id,
                status,
            } => format!("not released: latest audit {latest_audit_id} has status {status}"),
            ReleaseOutcome::LatestUnknown {
                errcode: Some(code),
            } => {
                format!("not released: latest audit unknown (errcode {code})")
            }
            ReleaseOutcome::LatestUnknown { errcode: None } => {
                "not released: latest audit unknown".to_owned()
            }
            ReleaseOutcome::Refused {
                errcode: Some(code),
            } => format!("failed: errcode {code}"),
            ReleaseOutcome::Refused { errcode: None } => "failed".to_owned(),
        })
    }

    /// Marks the authorizer unauthorized, with its `Authorizer Unauthorized` event (one per
    /// grant), and publishes the event before `deadline` if it can.
    async fn mark_unauthorized(
        &self,
        appid: &AuthorizerAppId,
        deadline: Instant,
    ) -> Result<(), PushError> {
        let context = &self.inner.app.context;
        let store = context.store();
        let component = self.component();
        let Some(stored) = store
            .authorizer(component, appid)
            .await
            .map_err(PushError::Store)?
        else {
            tracing::info!("unauthorized by an authorizer that is not stored");
            return Ok(());
        };
        let status = AuthorizerStatus::Unauthorized;
        let events: Vec<_> = catalogue::status_changed(
            component,
            appid,
            status,
            stored.refresh_token_version,
            StatusCause::Push,
            self.now(),
        )
        .into_iter()
        .collect();
        match store
            .set_authorizer_status_with_events(component, appid, status, &events)
            .await
        {
            Ok(()) => tracing::info!("authorizer marked unauthorized"),
            Err(StoreError::NotFound) => {
                tracing::info!("unauthorized by an authorizer that is not stored");
                return Ok(());
            }
            Err(e) => return Err(PushError::Store(e)),
        }
        context.publish_recorded(&events, deadline).await;
        Ok(())
    }

    /// Code audit results carry no audit id. The result belongs to the stored audit unless it
    /// predates that audit's submission (then it is a late result of an earlier one: ignored).
    ///
    /// `auto_release` belongs to the stored audit's id and lasts only until that audit's end: a
    /// rejection or an approval clears it (a delay keeps it), so it can never carry over to a
    /// later audit. On an approval with it set, the release is tried (see [`Self::auto_release`])
    /// before the cleared state is written: a crash in between makes WeChat's retry try again
    /// rather than lose the release. When the release's outcome is unknown, the approval is
    /// stored with the wish kept and the push fails, so WeChat's next delivery tries again.
    /// Answers what the automatic release did, if it was tried.
    async fn update_audit(
        &self,
        appid: &AuthorizerAppId,
        status: AuditStatus,
        reason: Option<&String>,
        at: EpochSeconds,
        deadline: Instant,
    ) -> Result<Option<String>, PushError> {
        let store = self.inner.app.context.store();
        let component = self.component();
        let stored = store
            .audit_state(component, appid)
            .await
            .map_err(PushError::Store)?;
        if let Some(s) = &stored
            && at < s.submitted_at
        {
            tracing::info!(
                audit_id = s.audit_id,
                "an audit result older than the stored submission; ignored"
            );
            return Ok(None);
        }
        let asked = stored.as_ref().filter(|s| s.auto_release);
        let ends_the_audit = !matches!(status, AuditStatus::Delayed | AuditStatus::Pending);
        let campaign = stored.as_ref().and_then(|s| s.campaign.clone());
        let mut state = AuditState {
            audit_id: stored.as_ref().map_or(0, |s| s.audit_id),
            status,
            reason: reason.cloned(),
            submitted_at: stored.as_ref().map_or(at, |s| s.submitted_at),
            updated_at: self.now(),
            auto_release: asked.is_some() && !ends_the_audit,
            campaign: campaign.clone(),
        };
        let released = match asked {
            Some(s) if status == AuditStatus::Succeeded => {
                // Boxed: two token-service calls make a deep future, and pushes already nest
                // several (the ledger claim, the deadline); on the heap it cannot overflow a
                // thread's stack.
                match Box::pin(self.auto_release(appid, s.audit_id)).await {
                    Ok(outcome) => Ok(Some(outcome)),
                    Err(unknown) => {
                        state.auto_release = true;
                        Err(PushError::Action(unknown))
                    }
                }
            }
            _ => Ok(None),
        };
        let events: Vec<_> = catalogue::audit_result(component, appid, &state, self.now())
            .into_iter()
            .collect();
        match store
            .put_audit_state_with_events(component, appid, &state, &events)
            .await
        {
            Ok(()) => {
                self.inner
                    .app
                    .context
                    .publish_recorded(&events, deadline)
                    .await;
                tracing::info!(
                    audit_id = state.audit_id,
                    status = status.as_str(),
                    auto_release = state.auto_release,
                    "audit state updated"
                );
                if let (Some(id), Some(waker)) = (&campaign, &self.inner.campaigns) {
                    // The campaign's next step reads the stored result: wake it, or WeChat's
                    // next delivery tries again (the stored state is already written).
                    waker
                        .audit_result_arrived(component, id, appid, self.now())
                        .await
                        .map_err(PushError::Store)?;
                    tracing::info!(campaign = %id, "release campaign app woken");
                }
                released
            }
            Err(StoreError::Conflict) => {
                tracing::info!("a newer audit was submitted meanwhile; kept it");
                released
            }
            Err(e) => Err(PushError::Store(e)),
        }
    }
}
