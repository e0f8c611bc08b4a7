//! The provider API's use cases that are not about tokens as such: listing and showing
//! authorizers, the health figures, and authorization links for providers who render their own
//! page. Views never carry a token, a refresh token or a ticket; the one route that hands out an
//! access token uses [`TokenService::authorizer_token`].

use serde::Serialize;
use tracing::Instrument;

use super::authorization::{AuthType, AuthorizationLinkRequest, authorization_links};
use super::error::TokenError;
use super::token_service::TokenService;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::store::{AccountInfo, Authorizer, Cursor, Store};

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

impl<S: Store + 'static> TokenService<S> {
    /// Authorizers ordered by appid, `limit` (1 to 100) per page.
    pub async fn list_authorizers(
        &self,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<AuthorizerPage, TokenError> {
        let page = self
            .store()
            .list_authorizers(self.component_appid(), limit, cursor)
            .await?;
        Ok(AuthorizerPage {
            items: page.items.iter().map(AuthorizerView::from).collect(),
            next_cursor: page.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// One authorizer, whatever its status.
    pub async fn authorizer_view(
        &self,
        appid: &AuthorizerAppId,
    ) -> Result<AuthorizerView, TokenError> {
        self.store()
            .authorizer(self.component_appid(), appid)
            .await?
            .map(|a| AuthorizerView::from(&a))
            .ok_or_else(|| TokenError::NotFound {
                appid: appid.clone(),
            })
    }

    /// The ticket's age, the component token's expiry and the authorizers by status.
    pub async fn health(&self) -> Result<Health, TokenError> {
        let store = self.store();
        let component = self.component_appid();
        let ticket = store.latest_ticket(component).await?;
        let token = store.component_token(component).await?;
        let counts = store.count_authorizers_by_status(component).await?;
        let ticket_age_seconds = ticket.map(|t| (self.now() - t.received_at).max(0));
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

    /// A fresh pre-auth code made into the PC and mobile links. The merchant must still open
    /// them by a click on a page of the launch domain.
    pub async fn authorization_links_for(
        &self,
        request: &AuthLinksRequest,
    ) -> Result<AuthLinksView, TokenError> {
        let span = tracing::info_span!("authorization_links", component = %self.component_appid());
        let code = self.create_pre_auth_code().instrument(span).await?;
        let links = authorization_links(&AuthorizationLinkRequest {
            component_appid: self.component_appid(),
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
