//! Starting and completing an authorization (docs/wechat-protocol.md, "Lifetimes and the
//! authorization flow").
//!
//! One authorization reaches the platform twice: as the `authorized` push and as the browser's
//! redirect, possibly at the same moment, with the same single-use code. Whichever exchanges the
//! code first stores the authorizer and remembers the code's digest; the other finds the digest
//! (before calling WeChat, or after WeChat answers 61009) and returns the same record.
//!
//! The code is spent the moment WeChat answers `api_query_auth`, and the answer holds the only
//! copy of the merchant's refresh token the platform gets that way. So the grant is written right
//! after the exchange, before any other call; the profile follows in a write of its own. When a
//! code is refused and no completed exchange is known (the answer was lost, or the invocation was
//! stopped before the write), the authorization is recovered from WeChat, which still lists the
//! authorizer's refresh token.

use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use tracing::Instrument;

use super::context::Context;
use super::error::{AuthorizationError, TokenError};
use super::token_service::{TokenService, error_chain};
use crate::clock::EpochSeconds;
use crate::events::catalogue::{self, Completion};
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::secret::Secret;
use crate::store::{
    AccountInfo, AccountKind, AuthCodeDigest, AuthorizationGrant, Authorizer, AuthorizerStatus,
    ExpiringToken, Store,
};
use crate::wechat::miniprogram::register::RegisteredByOfficialAccount;
use crate::wechat::{AUTHORIZER_LIST_MAX_PAGE, AuthorizerInfo, FuncInfo, PreAuthCode};

/// The least time left for which the account profile is looked up right after the grant is
/// stored; with less, the profile is left for later (the next read or refresh fills it in).
const PROFILE_MIN_TIME: Duration = Duration::from_millis(800);
/// Kept free before a completion's deadline for the writes that make the result durable.
const STORE_RESERVE: Duration = Duration::from_millis(500);
/// How often a failed write of a spent code's grant is tried in all.
const GRANT_WRITE_ATTEMPTS: u32 = 3;
/// How far back the authorizer list is searched for an authorization whose code was spent
/// without an answer (codes live 10 minutes).
const RECENT_AUTHORIZATION_SECS: i64 = 30 * 60;
/// At most this many authorizations are recovered from one refused code.
const MAX_RECOVERED_FROM_LIST: usize = 5;

/// How long [`WhenRefused::Report`] waits for the other path's write before reporting.
const REPORT_WAIT: Duration = Duration::from_millis(600);

/// How long a completion may take when its caller sets no deadline.
pub const DEFAULT_COMPLETION_BUDGET: Duration = Duration::from_secs(10);

/// What a completion does when WeChat refuses the code and no completed exchange of it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenRefused {
    /// Wait (until shortly before the deadline) for the other path that carries the same code to
    /// store its exchange: the browser's callback, which cannot recover by itself.
    WaitForOtherPath,
    /// Report [`AuthorizationError::CodeRejected`] at once: the caller knows the account and
    /// recovers the authorization by it ([`Authorizations::recover_authorization`]).
    Report,
}

/// The authorization use case. Cheap to clone.
pub struct Authorizations<S> {
    context: Context<S>,
    tokens: TokenService<S>,
}

impl<S> Clone for Authorizations<S> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
            tokens: self.tokens.clone(),
        }
    }
}

impl<S: Store + 'static> Authorizations<S> {
    pub fn new(tokens: TokenService<S>) -> Self {
        Self {
            context: tokens.context().clone(),
            tokens,
        }
    }

    /// What the use case works with.
    pub fn context(&self) -> &Context<S> {
        &self.context
    }

    /// A fresh pre-auth code for one authorization link (single use: one per link).
    pub async fn create_pre_auth_code(&self) -> Result<PreAuthCode, AuthorizationError> {
        let span = tracing::info_span!("create_pre_auth_code", component = %self.context.component_appid());
        Ok(self
            .tokens
            .with_component_token(|client, token| async move {
                client.api_create_preauthcode(&token).await
            })
            .instrument(span)
            .await?)
    }

    /// Registers a mini program by reusing the official account `appid`'s verification, with the
    /// `ticket` WeChat handed to the page its administrator confirmed on. WeChat answers with an
    /// authorization code for the new mini program: it is completed here like any authorization
    /// (its tokens stored) and never handed to the caller.
    pub async fn register_by_official_account(
        &self,
        appid: &AuthorizerAppId,
        ticket: &Secret,
    ) -> Result<(RegisteredByOfficialAccount, Authorizer), AuthorizationError> {
        let registered = self
            .tokens
            .with_authorizer_token(appid, |c, t| async move {
                c.fast_register_by_official_account(&t, ticket).await
            })
            .await?;
        let authorizer = self
            .complete_authorization(&registered.authorization_code)
            .await?;
        Ok((registered, authorizer))
    }

    /// [`Authorizations::complete_authorization_by`] with [`DEFAULT_COMPLETION_BUDGET`].
    pub async fn complete_authorization(
        &self,
        auth_code: &Secret,
    ) -> Result<Authorizer, AuthorizationError> {
        self.complete_authorization_by(
            auth_code,
            Instant::now() + DEFAULT_COMPLETION_BUDGET,
            WhenRefused::WaitForOtherPath,
        )
        .await
    }

    /// Exchanges an auth code (api_query_auth) and stores the grant at once (appid, refresh
    /// token, tokens, permission sets) as version 1, or the next version on re-authorization.
    /// The account profile is fetched after, in its own write, and only while more than a short
    /// time is left before `deadline`: a slow or failing profile lookup never costs the grant.
    /// Idempotent per code: a second call, concurrent or later, returns the stored authorizer.
    ///
    /// `deadline` bounds the waiting this does by itself (for the other path, for the profile);
    /// the caller bounds the whole call (a Lambda timeout may drop it at any point, and the code
    /// is spent once WeChat answers: hence the grant is written first).
    pub async fn complete_authorization_by(
        &self,
        auth_code: &Secret,
        deadline: Instant,
        when_refused: WhenRefused,
    ) -> Result<Authorizer, AuthorizationError> {
        let span = tracing::info_span!(
            "complete_authorization",
            component = %self.context.component_appid(),
            authorizer = tracing::field::Empty
        );
        // Boxed: a deep future, nested in the push's and the callback's.
        Box::pin(
            self.complete(auth_code, deadline, when_refused)
                .instrument(span),
        )
        .await
    }

    async fn complete(
        &self,
        auth_code: &Secret,
        deadline: Instant,
        when_refused: WhenRefused,
    ) -> Result<Authorizer, AuthorizationError> {
        let digest = AuthCodeDigest::of(auth_code);
        if let Some(mut done) = self.completed(&digest).await? {
            tracing::info!(authorizer = %done.appid, "the code was already exchanged");
            if done.account.is_none() {
                // The other path stored the grant and may not have its profile yet.
                let profile_by = deadline.checked_sub(STORE_RESERVE).unwrap_or(deadline);
                done.account = self.fill_in_profile(&done.appid, profile_by).await;
            }
            return Ok(done);
        }
        let exchanged = self
            .tokens
            .with_component_token(|client, token| async move {
                client.api_query_auth(&token, auth_code).await
            })
            .await;
        let authorization = match exchanged {
            Ok(authorization) => authorization,
            Err(TokenError::Wechat(e)) if e.is_auth_code_invalid() => {
                tracing::info!(
                    errcode = e.errcode(),
                    "WeChat refused the code; waiting in case the other path exchanged it"
                );
                let longest = match when_refused {
                    WhenRefused::WaitForOtherPath => self.context.settings().wait_for_authorization,
                    // Only long enough for a write the other path is making right now.
                    WhenRefused::Report => REPORT_WAIT,
                };
                let wait = longest.min(time_left(deadline).saturating_sub(STORE_RESERVE));
                return match self
                    .tokens
                    .wait_for("completed authorization", wait, || self.completed(&digest))
                    .await?
                {
                    Some(done) => Ok(done),
                    None => Err(AuthorizationError::CodeRejected { source: e }),
                };
            }
            Err(e) => return Err(e.into()),
        };
        let appid = authorization.authorizer_appid.clone();
        tracing::Span::current().record("authorizer", tracing::field::display(&appid));

        // The code is spent and the refresh token is in hand: store it before anything else.
        let grant = AuthorizationGrant {
            appid: appid.clone(),
            access_token: ExpiringToken::from(&authorization.access_token),
            refresh_token: authorization.refresh_token,
            func_info: func_ids(&authorization.func_info),
            account: None,
        };
        let mut authorizer = self
            .store_grant(&digest, &grant, Completion::Code, deadline)
            .await?;
        tracing::info!(
            refresh_token_version = authorizer.refresh_token_version,
            "authorization completed"
        );
        let profile_by = deadline.checked_sub(STORE_RESERVE).unwrap_or(deadline);
        if let Some(account) = self.fill_in_profile(&appid, profile_by).await {
            authorizer.account = Some(account);
        }
        Ok(authorizer)
    }

    /// The browser callback's completion: as [`Authorizations::complete_authorization_by`], waiting
    /// for the `authorized` push when WeChat refuses the code; when nothing appears, recent
    /// authorizations this platform does not hold are recovered from WeChat's authorizer list
    /// ([`Authorizations::recover_recent_authorizations`]), since the callback names no account,
    /// and the code is still reported refused.
    pub async fn complete_authorization_from_browser(
        &self,
        auth_code: &Secret,
        deadline: Instant,
    ) -> Result<Authorizer, AuthorizationError> {
        match self
            .complete_authorization_by(auth_code, deadline, WhenRefused::WaitForOtherPath)
            .await
        {
            Err(AuthorizationError::CodeRejected { source }) => {
                // What is recovered is stored, but never shown as this browser's result: nothing
                // ties a refused code to one of the listed accounts, and one merchant must not see
                // another's account. The merchant is asked to start again.
                let recovered = self
                    .recover_recent_authorizations(auth_code, deadline)
                    .await?;
                if !recovered.is_empty() {
                    tracing::warn!(
                        recovered = recovered.len(),
                        "a refused code led to stored authorizations recovered from the authorizer list"
                    );
                }
                Err(AuthorizationError::CodeRejected { source })
            }
            other => other,
        }
    }

    /// Fetches the account profile and stores it, if at least [`PROFILE_MIN_TIME`] is left before
    /// `deadline` and the lookup finishes before it. The profile is what the stored record shows
    /// of the account; without it the authorization is complete all the same.
    pub async fn fill_in_profile(
        &self,
        appid: &AuthorizerAppId,
        deadline: Instant,
    ) -> Option<AccountInfo> {
        if time_left(deadline) < PROFILE_MIN_TIME {
            tracing::info!("no time left for the account profile; it is filled in later");
            return None;
        }
        let lookup = self
            .tokens
            .with_component_token(|client, token| async move {
                client.api_get_authorizer_info(&token, appid).await
            });
        let info = match tokio::time::timeout_at(deadline.into(), lookup).await {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => {
                tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "could not fetch the account profile; it is filled in later");
                return None;
            }
            Err(_) => {
                tracing::warn!(
                    "the account profile lookup did not finish in time; it is filled in later"
                );
                return None;
            }
        };
        let account = account_info(&info.authorizer_info);
        match self
            .context
            .store()
            .set_account_info(self.context.component_appid(), appid, &account)
            .await
        {
            Ok(()) => Some(account),
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "could not store the account profile; it is filled in later");
                None
            }
        }
    }

    /// Stores the authorizer of a spent code with its `Authorizer Authorized` (or `Updated`)
    /// event, then remembers the code's digest and publishes the event. A failed write is tried
    /// again while time is left (the write is the last copy of the refresh token).
    async fn store_grant(
        &self,
        digest: &AuthCodeDigest,
        grant: &AuthorizationGrant,
        how: Completion,
        deadline: Instant,
    ) -> Result<Authorizer, AuthorizationError> {
        let store = self.context.store();
        let component = self.context.component_appid();
        // Whether this grants again what was granted: read first, for the event's kind only.
        let was_authorized = match store.authorizer(component, &grant.appid).await {
            Ok(stored) => stored.is_some_and(|a| a.status == AuthorizerStatus::Authorized),
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "could not read the authorizer before storing its grant; reported as a new authorization");
                false
            }
        };
        let events = [catalogue::authorization(
            component,
            &grant.appid,
            digest,
            was_authorized,
            &grant.func_info,
            how,
            self.context.now(),
        )];
        let mut attempt = 1;
        let authorizer = loop {
            match store
                .record_authorization_with_events(component, grant, &events)
                .await
            {
                Ok(authorizer) => break authorizer,
                Err(e) if attempt < GRANT_WRITE_ATTEMPTS && time_left(deadline) > STORE_RESERVE => {
                    tracing::warn!(attempt, error = %error_chain(&e), "could not store the authorization; trying again");
                    tokio::time::sleep(Duration::from_millis(100) * attempt).await;
                    attempt += 1;
                }
                Err(e) => {
                    // The code is spent: WeChat's retry of the event recovers the refresh token
                    // ([`Authorizations::recover_authorization`]).
                    tracing::error!(error = %error_chain(&e), "could not store the authorization");
                    return Err(e.into());
                }
            }
        };
        store
            .remember_completed_authorization(component, digest, &grant.appid)
            .await?;
        let publish_by = deadline.checked_sub(STORE_RESERVE).unwrap_or(deadline);
        self.context.publish_recorded(&events, publish_by).await;
        Ok(authorizer)
    }

    /// Recovers an authorization whose code WeChat refuses although this platform never stored
    /// it: an earlier `api_query_auth` was acted on by WeChat but its answer was lost (a timeout, a
    /// dropped connection, a Lambda stopped at its timeout), or the store failed right after it.
    /// The push names the authorizer, and `api_get_authorizer_info` still carries its refresh
    /// token, which is stored at once; an access token is then fetched with it if time is left
    /// before `deadline` (otherwise the refresher, which finds the record due, fetches it).
    /// `None` when WeChat holds no authorization for the account (revoked since).
    pub async fn recover_authorization(
        &self,
        auth_code: &Secret,
        appid: &AuthorizerAppId,
        deadline: Instant,
    ) -> Result<Option<Authorizer>, AuthorizationError> {
        let span = tracing::info_span!(
            "recover_authorization",
            component = %self.context.component_appid(),
            authorizer = %appid
        );
        async {
            let digest = AuthCodeDigest::of(auth_code);
            if let Some(done) = self.completed(&digest).await? {
                return Ok(Some(done));
            }
            Box::pin(self.recover_from_info(&digest, appid, deadline)).await
        }
        .instrument(span)
        .await
    }

    async fn recover_from_info(
        &self,
        digest: &AuthCodeDigest,
        appid: &AuthorizerAppId,
        deadline: Instant,
    ) -> Result<Option<Authorizer>, AuthorizationError> {
        let info = match self
            .tokens
            .with_component_token(|client, token| async move {
                client.api_get_authorizer_info(&token, appid).await
            })
            .await
        {
            Ok(info) => info,
            Err(TokenError::Wechat(e)) if e.is_not_authorized() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(refresh_token) = info
            .authorization_info
            .authorizer_refresh_token
            .clone()
            .filter(|t| !t.expose().is_empty())
        else {
            return Ok(None);
        };
        // Stored already (the other path exchanged the code meanwhile): nothing to recover.
        if let Some(stored) = self
            .context
            .store()
            .authorizer(self.context.component_appid(), appid)
            .await?
            && stored.status == AuthorizerStatus::Authorized
            && stored.refresh_token == refresh_token
        {
            self.context
                .store()
                .remember_completed_authorization(self.context.component_appid(), digest, appid)
                .await?;
            tracing::info!("the authorization is stored already; nothing to recover");
            return Ok(Some(stored));
        }
        // The refresh token first, with an access token that is already due: if this stops
        // here, the refresh token is kept and the refresher fetches the access token.
        let grant = AuthorizationGrant {
            appid: appid.clone(),
            access_token: ExpiringToken {
                value: Secret::new(""),
                expires_at: self.context.now(),
            },
            refresh_token,
            func_info: func_ids(&info.authorization_info.func_info),
            account: Some(account_info(&info.authorizer_info)),
        };
        let mut authorizer = self
            .store_grant(digest, &grant, Completion::Recovered, deadline)
            .await?;
        tracing::warn!(
            refresh_token_version = authorizer.refresh_token_version,
            "authorization recovered: the code had been spent without an answer"
        );
        if time_left(deadline) > PROFILE_MIN_TIME {
            match tokio::time::timeout_at(deadline.into(), self.tokens.authorizer_token(appid))
                .await
            {
                Ok(Ok(_)) => {
                    if let Some(stored) = self
                        .context
                        .store()
                        .authorizer(self.context.component_appid(), appid)
                        .await?
                    {
                        authorizer = stored;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "could not fetch an access token for the recovered authorization; the refresher will");
                }
                Err(_) => {
                    tracing::warn!(
                        "no access token for the recovered authorization in time; the refresher will fetch it"
                    );
                }
            }
        }
        Ok(Some(authorizer))
    }

    /// Recovers authorizations for a refused code that names no authorizer (the browser's
    /// callback carries only the code): WeChat's authorizer list gives each authorizer's refresh
    /// token and authorization time, and every authorization of the last half hour that this
    /// platform does not hold is recovered as [`Authorizations::recover_authorization`] does. The
    /// list is read a page at a time while time is left before `deadline`. Returns what was
    /// recovered (usually the one authorization behind the code).
    pub async fn recover_recent_authorizations(
        &self,
        auth_code: &Secret,
        deadline: Instant,
    ) -> Result<Vec<Authorizer>, AuthorizationError> {
        let span = tracing::info_span!(
            "recover_recent_authorizations",
            component = %self.context.component_appid()
        );
        async {
            let digest = AuthCodeDigest::of(auth_code);
            if let Some(done) = self.completed(&digest).await? {
                return Ok(vec![done]);
            }
            let since = self.context.now() - RECENT_AUTHORIZATION_SECS;
            let mut candidates = Vec::new();
            let mut offset = 0;
            while time_left(deadline) > PROFILE_MIN_TIME {
                let page = self
                    .tokens
                    .with_component_token(|client, token| async move {
                        client
                            .api_get_authorizer_list(&token, offset, AUTHORIZER_LIST_MAX_PAGE)
                            .await
                    })
                    .await?;
                let listed = u32::try_from(page.list.len()).unwrap_or(u32::MAX);
                for item in page.list {
                    if item.auth_time < since {
                        continue;
                    }
                    let stored = self
                        .context
                        .store()
                        .authorizer(self.context.component_appid(), &item.authorizer_appid)
                        .await?;
                    let held = stored.is_some_and(|a| {
                        a.status == AuthorizerStatus::Authorized
                            && a.refresh_token == item.refresh_token
                    });
                    if !held {
                        candidates.push(item.authorizer_appid);
                    }
                }
                offset = offset.saturating_add(listed);
                if listed == 0 || offset >= page.total_count {
                    break;
                }
            }
            let mut recovered = Vec::new();
            for appid in candidates.into_iter().take(MAX_RECOVERED_FROM_LIST) {
                if time_left(deadline) <= STORE_RESERVE {
                    break;
                }
                if let Some(authorizer) = self.recover_from_info(&digest, &appid, deadline).await? {
                    recovered.push(authorizer);
                }
            }
            Ok(recovered)
        }
        .instrument(span)
        .await
    }

    /// The authorizer a code was already exchanged for, if any.
    async fn completed(
        &self,
        digest: &AuthCodeDigest,
    ) -> Result<Option<Authorizer>, AuthorizationError> {
        let store = self.context.store();
        let component = self.context.component_appid();
        let Some(appid) = store.completed_authorization(component, digest).await? else {
            return Ok(None);
        };
        match store.authorizer(component, &appid).await? {
            Some(authorizer) => Ok(Some(authorizer)),
            None => Err(AuthorizationError::NotFound { appid }),
        }
    }

    /// A fresh pre-auth code made into the PC and mobile links. The merchant must still open
    /// them by a click on a page of the launch domain.
    pub async fn links_for(
        &self,
        request: &AuthLinksRequest,
    ) -> Result<AuthLinksView, AuthorizationError> {
        let span =
            tracing::info_span!("authorization_links", component = %self.context.component_appid());
        let code = self.create_pre_auth_code().instrument(span).await?;
        let links = authorization_links(&AuthorizationLinkRequest {
            component_appid: self.context.component_appid(),
            pre_auth_code: &code.code,
            redirect_uri: &request.redirect_uri,
            auth_type: request.auth_type,
            biz_appid: request.biz_appid.as_ref(),
            category_id_list: &request.category_id_list,
        });
        Ok(AuthLinksView {
            pc_url: links.pc,
            mobile_url: links.mobile,
            expires_at: code.expires_at,
        })
    }
}

/// How much of `deadline` is left.
fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn func_ids(func_info: &[FuncInfo]) -> Vec<u32> {
    func_info
        .iter()
        .filter_map(|f| u32::try_from(f.funcscope_category.id).ok())
        .collect()
}

fn account_info(info: &AuthorizerInfo) -> AccountInfo {
    AccountInfo {
        nick_name: info.nick_name.clone(),
        user_name: info.user_name.clone(),
        kind: if info.is_mini_program() {
            AccountKind::MiniProgram
        } else {
            AccountKind::OfficialAccount
        },
        service_type: info.service_type_info.map_or(0, |t| t.id),
        // -1 is WeChat's "not verified".
        verify_type: info.verify_type_info.map_or(-1, |t| t.id),
        principal_name: info.principal_name.clone(),
        head_img: info.head_img.clone(),
        qrcode_url: info.qrcode_url.clone(),
    }
}

// ----- authorization links -------------------------------------------------------------------

const PC_AUTH_PAGE: &str = "https://mp.weixin.qq.com/cgi-bin/componentloginpage";
const MOBILE_AUTH_PAGE: &str = "https://open.weixin.qq.com/wxaopen/safe/bindcomponent";

/// Everything but RFC 3986's unreserved characters is escaped (a space as `%20`, not `+`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which accounts the merchant may pick on the authorization page (`auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// 1: official accounts only.
    OfficialAccounts,
    /// 2: mini programs only.
    MiniPrograms,
    /// 3: both.
    Both,
}

impl AuthType {
    pub fn code(self) -> u8 {
        match self {
            Self::OfficialAccounts => 1,
            Self::MiniPrograms => 2,
            Self::Both => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::OfficialAccounts),
            2 => Some(Self::MiniPrograms),
            3 => Some(Self::Both),
            _ => None,
        }
    }
}

/// What an authorization link is made of.
#[derive(Debug, Clone)]
pub struct AuthorizationLinkRequest<'a> {
    pub component_appid: &'a ComponentAppId,
    pub pre_auth_code: &'a Secret,
    /// Must be on the authorization launch domain registered in the console.
    pub redirect_uri: &'a url::Url,
    pub auth_type: AuthType,
    /// Limits the page to this one account.
    pub biz_appid: Option<&'a AuthorizerAppId>,
    /// Permission set ids to offer (PC page only); empty offers all.
    pub category_id_list: &'a [u32],
}

/// The two authorization pages for one pre-auth code. They carry the code, so `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthLinks {
    /// For a browser on a computer (the merchant scans a QR code).
    pub pc: String,
    /// For a page opened inside WeChat.
    pub mobile: String,
}

impl std::fmt::Debug for AuthLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLinks")
            .field("pc", &"[redacted]")
            .field("mobile", &"[redacted]")
            .finish()
    }
}

fn push_param(url: &mut String, name: &str, value: &str) {
    if !url.ends_with('?') {
        url.push('&');
    }
    url.push_str(name);
    url.push('=');
    url.extend(utf8_percent_encode(value, QUERY_VALUE));
}

/// The PC and mobile authorization links (see docs/wechat-protocol.md). Serve them as links the
/// merchant clicks on a page of the launch domain: opened any other way, WeChat refuses them.
pub fn authorization_links(request: &AuthorizationLinkRequest<'_>) -> AuthLinks {
    let auth_type = request.auth_type.code().to_string();
    let common = [
        ("component_appid", request.component_appid.as_str()),
        ("pre_auth_code", request.pre_auth_code.expose()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("auth_type", auth_type.as_str()),
    ];

    let mut pc = format!("{PC_AUTH_PAGE}?");
    for (name, value) in common {
        push_param(&mut pc, name, value);
    }
    if let Some(biz) = request.biz_appid {
        push_param(&mut pc, "biz_appid", biz.as_str());
    }
    if !request.category_id_list.is_empty() {
        let ids: Vec<String> = request
            .category_id_list
            .iter()
            .map(u32::to_string)
            .collect();
        push_param(&mut pc, "category_id_list", &ids.join("|"));
    }

    let mut mobile = format!("{MOBILE_AUTH_PAGE}?");
    push_param(&mut mobile, "action", "bindcomponent");
    push_param(&mut mobile, "no_scan", "1");
    for (name, value) in common {
        push_param(&mut mobile, name, value);
    }
    if let Some(biz) = request.biz_appid {
        push_param(&mut mobile, "biz_appid", biz.as_str());
    }
    mobile.push_str("#wechat_redirect");

    AuthLinks { pc, mobile }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        component: &'a ComponentAppId,
        code: &'a Secret,
        redirect: &'a url::Url,
    ) -> AuthorizationLinkRequest<'a> {
        AuthorizationLinkRequest {
            component_appid: component,
            pre_auth_code: code,
            redirect_uri: redirect,
            auth_type: AuthType::Both,
            biz_appid: None,
            category_id_list: &[],
        }
    }

    #[test]
    fn the_pc_link_encodes_the_redirect_uri_and_code_and_adds_only_given_options() {
        let component = ComponentAppId::parse("wx3d5d4b6ce7a1f001").unwrap();
        let code = Secret::new("preauthcode@@@a+b/c=");
        let redirect = url::Url::parse("https://auth.example.com/callback?x=1&y=a b").unwrap();
        let links = authorization_links(&request(&component, &code, &redirect));

        assert_eq!(
            links.pc,
            "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=wx3d5d4b6ce7a1f001\
             &pre_auth_code=preauthcode%40%40%40a%2Bb%2Fc%3D\
             &redirect_uri=https%3A%2F%2Fauth.example.com%2Fcallback%3Fx%3D1%26y%3Da%2520b\
             &auth_type=3"
        );
        // Decoding gives back exactly what went in.
        let parsed = url::Url::parse(&links.pc).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("component_appid".into(), "wx3d5d4b6ce7a1f001".into()),
                ("pre_auth_code".into(), "preauthcode@@@a+b/c=".into()),
                ("redirect_uri".into(), redirect.as_str().into()),
                ("auth_type".into(), "3".into()),
            ]
        );
    }

    #[test]
    fn biz_appid_and_category_ids_are_appended_and_the_mobile_link_ends_with_wechat_redirect() {
        let component = ComponentAppId::parse("wx3d5d4b6ce7a1f001").unwrap();
        let code = Secret::new("preauthcode@@@X");
        let redirect = url::Url::parse("https://auth.example.com/cb").unwrap();
        let biz = AuthorizerAppId::parse("wxd101a85aa106f53e").unwrap();
        let links = authorization_links(&AuthorizationLinkRequest {
            auth_type: AuthType::MiniPrograms,
            biz_appid: Some(&biz),
            category_id_list: &[1, 17],
            ..request(&component, &code, &redirect)
        });

        assert!(
            links
                .pc
                .ends_with("&auth_type=2&biz_appid=wxd101a85aa106f53e&category_id_list=1%7C17"),
            "{}",
            links.pc
        );
        assert_eq!(
            links.mobile,
            "https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1\
             &component_appid=wx3d5d4b6ce7a1f001&pre_auth_code=preauthcode%40%40%40X\
             &redirect_uri=https%3A%2F%2Fauth.example.com%2Fcb&auth_type=2\
             &biz_appid=wxd101a85aa106f53e#wechat_redirect"
        );
        let mobile = url::Url::parse(&links.mobile).unwrap();
        assert_eq!(mobile.fragment(), Some("wechat_redirect"));
        assert!(!mobile.query().unwrap().contains("category_id_list"));
    }

    #[test]
    fn auth_types_are_wechats_numbers_and_links_do_not_debug_print_the_code() {
        for t in [
            AuthType::OfficialAccounts,
            AuthType::MiniPrograms,
            AuthType::Both,
        ] {
            assert_eq!(AuthType::from_code(t.code()), Some(t));
        }
        assert_eq!(AuthType::from_code(0), None);
        let component = ComponentAppId::parse("wx3d5d4b6ce7a1f001").unwrap();
        let code = Secret::new("preauthcode@@@secretish");
        let redirect = url::Url::parse("https://auth.example.com/cb").unwrap();
        let links = authorization_links(&request(&component, &code, &redirect));
        assert!(!format!("{links:?}").contains("secretish"));
    }
}

/// Authorization links for the provider's own page. They carry a single-use pre-auth code:
/// `Debug` hides them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuthLinks))]
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AuthLinksView {
    pub pc_url: String,
    pub mobile_url: String,
    /// When the pre-auth code inside both links expires.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: EpochSeconds,
}

impl std::fmt::Debug for AuthLinksView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLinksView")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a provider asks links for.
#[derive(Debug, Clone)]
pub struct AuthLinksRequest {
    pub auth_type: AuthType,
    pub biz_appid: Option<AuthorizerAppId>,
    /// Where WeChat sends the merchant back; on the launch domain registered in the console.
    pub redirect_uri: url::Url,
    pub category_id_list: Vec<u32>,
}
