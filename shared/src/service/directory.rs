//! What is stored, as the provider reads it: listing and showing authorizers, the health
//! figures, and the provider's own settings per authorizer. No WeChat call is made here. Views never carry a token, a refresh token or a ticket;
//! the one route that hands out an access token uses
//! [`TokenService::authorizer_token`](super::TokenService::authorizer_token).

use serde::Serialize;

use super::context::Context;
use super::error::DirectoryError;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::store::{AccountInfo, Authorizer, AuthorizerSettings, Cursor, Store, StoreError};

/// A ticket older than this means WeChat's pushes stopped (the ticket-age alarm's threshold).
pub const TICKET_HEALTHY_FOR_SECS: i64 = 30 * 60;

/// The public facts of an account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Account))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub nick_name: String,
    pub user_name: String,
    /// `official_account` or `mini_program`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: &'static str,
    pub service_type: i64,
    pub verify_type: i64,
    pub principal_name: String,
    pub head_img: String,
    pub qrcode_url: String,
}

/// An authorizer as the API shows it: everything but its tokens.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Authorizer))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizerView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub appid: AuthorizerAppId,
    /// `authorized`, `unauthorized` or `reauthorization_required`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: &'static str,
    pub func_info: Vec<u32>,
    pub account: Option<AccountView>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub access_token_expires_at: EpochSeconds,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub authorized_at: EpochSeconds,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: EpochSeconds,
}

impl From<&AccountInfo> for AccountView {
    fn from(a: &AccountInfo) -> Self {
        Self {
            nick_name: a.nick_name.clone(),
            user_name: a.user_name.clone(),
            kind: a.kind.as_str(),
            service_type: a.service_type,
            verify_type: a.verify_type,
            principal_name: a.principal_name.clone(),
            head_img: a.head_img.clone(),
            qrcode_url: a.qrcode_url.clone(),
        }
    }
}

impl From<&Authorizer> for AuthorizerView {
    fn from(a: &Authorizer) -> Self {
        Self {
            appid: a.appid.clone(),
            status: a.status.as_str(),
            func_info: a.func_info.clone(),
            account: a.account.as_ref().map(AccountView::from),
            access_token_expires_at: a.access_token.expires_at,
            authorized_at: a.authorized_at,
            updated_at: a.updated_at,
        }
    }
}

/// One page of authorizers; `next_cursor` is absent on the last page.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizerPage {
    pub items: Vec<AuthorizerView>,
    pub next_cursor: Option<String>,
}

/// What one search page found: up to a page of matches, where to go on (absent once the listing
/// ended), and how many authorizers were looked through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerSearch {
    pub items: Vec<AuthorizerView>,
    pub next_cursor: Option<String>,
    pub scanned: usize,
}

/// Whether `needle` (lowercase) is in the appid, the name, the principal or the original id.
fn matches(view: &AuthorizerView, needle: &str) -> bool {
    let has = |text: &str| text.to_lowercase().contains(needle);
    has(view.appid.as_str())
        || view
            .account
            .as_ref()
            .is_some_and(|a| has(&a.nick_name) || has(&a.principal_name) || has(&a.user_name))
}

/// Authorizers by status.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuthorizerCounts))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatusCountsView {
    pub authorized: u64,
    pub unauthorized: u64,
    pub reauthorization_required: u64,
}

/// What `/health` reports.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `ok` while the stored ticket is younger than [`TICKET_HEALTHY_FOR_SECS`], `degraded`
    /// otherwise (pushes are not arriving; tokens will soon fail to refresh).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: &'static str,
    /// `None` when no ticket younger than 12 h is stored.
    pub ticket_age_seconds: Option<i64>,
    /// `None` when no unexpired component token is stored.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub component_token_expires_at: Option<EpochSeconds>,
    pub authorizers: StatusCountsView,
}

/// The directory use case. Cheap to clone.
pub struct Directory<S> {
    context: Context<S>,
}

impl<S> Clone for Directory<S> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
        }
    }
}

impl<S: Store + 'static> Directory<S> {
    pub fn new(context: Context<S>) -> Self {
        Self { context }
    }

    /// Authorizers ordered by appid, `limit` (1 to 100) per page.
    pub async fn list_authorizers(
        &self,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<AuthorizerPage, DirectoryError> {
        let page = self
            .context
            .store()
            .list_authorizers(self.context.component_appid(), limit, cursor)
            .await?;
        Ok(AuthorizerPage {
            items: page.items.iter().map(AuthorizerView::from).collect(),
            next_cursor: page.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// The authorizers whose appid, name, principal or original id contains `needle` (any
    /// case), in appid order after `cursor`: up to `page` of them, looking through at most
    /// about `scan_limit` (whole store pages) before handing back a cursor to go on from.
    pub async fn search_authorizers(
        &self,
        needle: &str,
        page: usize,
        scan_limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<AuthorizerSearch, DirectoryError> {
        let needle = needle.to_lowercase();
        let mut cursor = cursor.cloned();
        let mut found = AuthorizerSearch {
            items: Vec::new(),
            next_cursor: None,
            scanned: 0,
        };
        loop {
            let listed = self
                .list_authorizers(crate::store::MAX_PAGE_SIZE, cursor.as_ref())
                .await?;
            for view in listed.items {
                found.scanned += 1;
                if matches(&view, &needle) {
                    found.items.push(view);
                    if found.items.len() == page {
                        // Go on after the last match, not after the store's page.
                        found.next_cursor = found
                            .items
                            .last()
                            .map(|v| Cursor::after(&v.appid).as_str().to_owned());
                        return Ok(found);
                    }
                }
            }
            match listed.next_cursor {
                Some(next) if found.scanned < scan_limit => {
                    cursor = Some(Cursor::from_string(next));
                }
                other => {
                    found.next_cursor = other;
                    return Ok(found);
                }
            }
        }
    }

    /// One authorizer, whatever its status.
    pub async fn authorizer_view(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<AuthorizerView, DirectoryError> {
        self.context
            .store()
            .authorizer(self.context.component_appid(), appid)
            .await?
            .map(|a| AuthorizerView::from(&a))
            .ok_or_else(|| DirectoryError::NotFound {
                appid: appid.clone(),
            })
    }

    /// The ticket's age, the component token's expiry and the authorizers by status.
    pub async fn health(&self) -> Result<Health, DirectoryError> {
        let store = self.context.store();
        let component = self.context.component_appid();
        let ticket = store.latest_ticket(component).await?;
        let token = store.component_token(component).await?;
        let counts = store.count_authorizers_by_status(component).await?;
        let ticket_age_seconds = ticket.map(|t| (self.context.now() - t.received_at).max(0));
        let healthy = ticket_age_seconds.is_some_and(|age| age <= TICKET_HEALTHY_FOR_SECS);
        Ok(Health {
            status: if healthy { "ok" } else { "degraded" },
            ticket_age_seconds,
            component_token_expires_at: token.map(|t| t.token.expires_at),
            authorizers: StatusCountsView {
                authorized: counts.authorized,
                unauthorized: counts.unauthorized,
                reauthorization_required: counts.reauthorization_required,
            },
        })
    }

    /// The provider's settings for `appid` (empty if none were put).
    pub async fn settings(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<AuthorizerSettings, DirectoryError> {
        self.context
            .store()
            .authorizer_settings(self.context.component_appid(), appid)
            .await?
            .ok_or_else(|| DirectoryError::NotFound {
                appid: appid.clone(),
            })
    }

    /// Replaces the provider's settings for `appid`.
    pub async fn put_settings(
        &self,
        appid: &AuthorizerAppId,
        settings: &AuthorizerSettings,
    ) -> Result<(), DirectoryError> {
        match self
            .context
            .store()
            .put_authorizer_settings(self.context.component_appid(), appid, settings)
            .await
        {
            Err(StoreError::NotFound) => Err(DirectoryError::NotFound {
                appid: appid.clone(),
            }),
            other => Ok(other?),
        }
    }
}
