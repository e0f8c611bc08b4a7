//! What the provider's H5 pages need of an authorized official account through the API: the
//! signed `wx.config` of the JS-SDK, and the profile a web authorization gave.
//!
//! The account's `jsapi_ticket` is kept in the store and fetched the way tokens are refreshed
//! (`single_flight.rs`): served while it has more than the refresh margin left, otherwise fetched
//! by one worker under the lease `JsapiTicket(appid)` while any number of others wait for what it
//! stores, so a burst of callers costs one `getticket`. The authorizer token it is fetched with is
//! replaced once if WeChat refuses it (40001).

use tracing::Instrument;

use super::error::TokenError;
use super::single_flight::{Claim, Flight, Hold, Want, claim_lease_item, release_lease_item};
use super::token_service::TokenService;
use crate::clock::EpochSeconds;
use crate::ids::AuthorizerAppId;
use crate::store::{
    AccountKind, ExpiringToken, LeaseKey, LeaseOwner, Store, StoreError, StoredJsapiTicket, WebUser,
};
use crate::wechat::jssdk_signature;

/// The longest page URL signed.
pub const MAX_JSSDK_URL_LEN: usize = 2048;

/// What `wx.config` needs besides the JS API list: the fields of the answer of
/// `GET /authorizers/{appid}/jssdk-config`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JssdkConfig {
    pub app_id: String,
    pub timestamp: EpochSeconds,
    pub nonce_str: String,
    pub signature: String,
}

/// Why no `wx.config` could be signed.
#[derive(Debug, thiserror::Error)]
pub enum JssdkError {
    #[error("url must be an absolute http or https URL of at most 2048 characters")]
    BadUrl,
    #[error("authorizer {appid} is a mini program: the JS-SDK belongs to official accounts")]
    NotOfficialAccount { appid: AuthorizerAppId },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// The page URL as it is signed: `url` up to its `#` (the JS-SDK signs `location.href` without
/// the fragment), neither decoded nor re-encoded, once it is checked to be an absolute http(s) URL.
pub fn signed_page_url(url: &str) -> Result<&str, JssdkError> {
    let page = url.split('#').next().unwrap_or_default();
    let parsed = url::Url::parse(page).map_err(|_| JssdkError::BadUrl)?;
    let usable = page.len() <= MAX_JSSDK_URL_LEN
        && matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && !page.chars().any(char::is_whitespace);
    if usable {
        Ok(page)
    } else {
        Err(JssdkError::BadUrl)
    }
}

/// Official accounts' JS-SDK and web users. Cheap to clone.
pub struct OfficialAccounts<S> {
    tokens: TokenService<S>,
}

impl<S> Clone for OfficialAccounts<S> {
    fn clone(&self) -> Self {
        Self {
            tokens: self.tokens.clone(),
        }
    }
}

impl<S: Store + 'static> OfficialAccounts<S> {
    pub fn new(tokens: TokenService<S>) -> Self {
        Self { tokens }
    }

    /// `wx.config`'s signature for the page at `url`, with a fresh nonce and the current time.
    pub async fn jssdk_config(
        &self,
        appid: &AuthorizerAppId,
        url: &str,
    ) -> Result<JssdkConfig, JssdkError> {
        let page = signed_page_url(url)?;
        let authorizer = self.tokens.stored_authorizer(appid).await?;
        if authorizer
            .account
            .as_ref()
            .is_some_and(|a| a.kind == AccountKind::MiniProgram)
        {
            return Err(JssdkError::NotOfficialAccount {
                appid: appid.clone(),
            });
        }
        let ticket = self.jsapi_ticket(appid).await?;
        let timestamp = self.tokens.context().now();
        let nonce_str = nonce();
        let signature = jssdk_signature(ticket.value.expose(), &nonce_str, timestamp, page);
        Ok(JssdkConfig {
            app_id: appid.as_str().to_owned(),
            timestamp,
            nonce_str,
            signature,
        })
    }

    /// A `jsapi_ticket` of `appid` with more than the refresh margin left.
    ///
    /// Obtained on a task of its own, under the caller's call deadline: a fetch that first has to
    /// refresh the account's token polls deeper than a worker thread's stack in a debug build, and
    /// a fetch under way finishes (and gives its lease back) even if the caller stops waiting.
    pub async fn jsapi_ticket(&self, appid: &AuthorizerAppId) -> Result<ExpiringToken, TokenError> {
        let (tokens, appid) = (self.tokens.clone(), appid.clone());
        let deadline = crate::wechat::deadline::current();
        let work = async move {
            let span = tracing::info_span!("jsapi_ticket", authorizer = %appid);
            let flight = TicketFlight {
                tokens: &tokens,
                appid: &appid,
            };
            tokens
                .rules()
                .obtain(&flight, Want::Fresh)
                .instrument(span)
                .await
        };
        let task = tokio::spawn(async move {
            match deadline {
                Some(deadline) => crate::wechat::deadline::within(deadline, work).await,
                None => work.await,
            }
        });
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(TokenError::Busy {
                what: "jsapi ticket",
            }),
        }
    }

    /// The profile the last `snsapi_userinfo` authorization of `openid` gave, while it is kept.
    pub async fn web_user(
        &self,
        appid: &AuthorizerAppId,
        openid: &str,
    ) -> Result<Option<WebUser>, StoreError> {
        let context = self.tokens.context();
        context
            .store()
            .web_user(context.component_appid(), appid, openid)
            .await
    }
}

/// 16 random letters and digits.
fn nonce() -> String {
    use rand::RngExt as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// An official account's ticket: a store item of its own with a lease item beside it.
struct TicketFlight<'a, S> {
    tokens: &'a TokenService<S>,
    appid: &'a AuthorizerAppId,
}

impl<S: Store + 'static> TicketFlight<'_, S> {
    fn lease(&self) -> LeaseKey {
        LeaseKey::JsapiTicket(self.appid.clone())
    }
}

impl<S: Store + 'static> Flight for TicketFlight<'_, S> {
    type Stored = Option<StoredJsapiTicket>;
    const WHAT: &'static str = "jsapi ticket";

    async fn read(&self) -> Result<Self::Stored, TokenError> {
        let context = self.tokens.context();
        Ok(context
            .store()
            .jsapi_ticket(context.component_appid(), self.appid)
            .await?)
    }

    fn token<'s>(&self, stored: &'s Self::Stored) -> Option<&'s ExpiringToken> {
        stored.as_ref().map(|t| &t.ticket)
    }

    async fn claim(
        &self,
        owner: &LeaseOwner,
        _due_by: Option<EpochSeconds>,
    ) -> Result<Claim<Self::Stored, Self::Stored>, TokenError> {
        claim_lease_item(self.tokens.context(), &self.lease(), owner, || self.read()).await
    }

    fn declined(&self, _stored: Self::Stored) -> TokenError {
        TokenError::Busy { what: Self::WHAT }
    }

    async fn refresh(
        &self,
        stored: Self::Stored,
        _hold: &Hold,
    ) -> Result<ExpiringToken, TokenError> {
        let fetched = Box::pin(
            self.tokens
                .with_authorizer_token(self.appid, |client, token| async move {
                    client.get_jsapi_ticket(&token).await
                }),
        )
        .await?;
        let ticket = ExpiringToken {
            value: fetched.ticket,
            expires_at: fetched.expires_at,
        };
        let context = self.tokens.context();
        match context
            .store()
            .replace_jsapi_ticket(
                context.component_appid(),
                self.appid,
                &ticket,
                stored.map(|t| t.version),
            )
            .await
        {
            Ok(version) => {
                tracing::info!(
                    version,
                    expires_at = ticket.expires_at,
                    "jsapi ticket fetched"
                );
                Ok(ticket)
            }
            // The lease lapsed and another worker stored a ticket: both are valid; keep theirs.
            Err(StoreError::Conflict) => {
                Ok(self.read().await?.map_or(ticket, |stored| stored.ticket))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn release(&self, owner: &LeaseOwner) -> Result<(), StoreError> {
        release_lease_item(self.tokens.context(), &self.lease(), owner).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_url_is_signed_as_given_without_its_fragment() {
        assert_eq!(
            signed_page_url("http://mp.weixin.qq.com?params=value").unwrap(),
            "http://mp.weixin.qq.com?params=value"
        );
        assert_eq!(
            signed_page_url("https://shop.example.com/a/b?x=%E4%B8%AD#/cart").unwrap(),
            "https://shop.example.com/a/b?x=%E4%B8%AD"
        );
        for bad in [
            "",
            "/relative/path",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://exa mple.com/",
        ] {
            assert!(signed_page_url(bad).is_err(), "{bad}");
        }
        assert!(signed_page_url(&format!("https://e.com/{}", "a".repeat(2100))).is_err());
    }
}
