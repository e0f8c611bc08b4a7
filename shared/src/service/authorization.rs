//! Starting and completing an authorization (PROTOCOL.md §5).
//!
//! One authorization reaches the platform twice: as the `authorized` push and as the browser's
//! redirect, possibly at the same moment, with the same single-use code. Whichever exchanges the
//! code first stores the authorizer and remembers the code's digest; the other finds the digest
//! (before calling WeChat, or after WeChat answers 61009) and returns the same record.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tracing::Instrument;

use super::error::TokenError;
use super::tokens::{TokenService, error_chain};
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::secret::Secret;
use crate::store::{
    AccountInfo, AccountKind, AuthCodeDigest, AuthorizationGrant, Authorizer, ExpiringToken, Store,
};
use crate::wechat::{AuthorizerInfo, FuncInfo, PreAuthCode};

impl<S: Store + 'static> TokenService<S> {
    /// A fresh pre-auth code for one authorization link (single use: one per link).
    pub async fn create_pre_auth_code(&self) -> Result<PreAuthCode, TokenError> {
        let span = tracing::info_span!("create_pre_auth_code", component = %self.component_appid());
        self.with_component_token(|client, token| async move {
            client.api_create_preauthcode(&token).await
        })
        .instrument(span)
        .await
    }

    /// Exchanges an auth code (api_query_auth), fetches the account's profile and stores the
    /// authorizer with its refresh token (version 1, or the next version on re-authorization).
    /// Idempotent per code: a second call, concurrent or later, returns the stored authorizer.
    pub async fn complete_authorization(
        &self,
        auth_code: &Secret,
    ) -> Result<Authorizer, TokenError> {
        let span = tracing::info_span!(
            "complete_authorization",
            component = %self.component_appid(),
            authorizer = tracing::field::Empty
        );
        self.complete(auth_code).instrument(span).await
    }

    async fn complete(&self, auth_code: &Secret) -> Result<Authorizer, TokenError> {
        let digest = AuthCodeDigest::of(auth_code);
        if let Some(done) = self.completed(&digest).await? {
            tracing::info!(authorizer = %done.appid, "the code was already exchanged");
            return Ok(done);
        }
        let exchanged = self
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
                let wait = self.settings().wait_for_authorization;
                return match self
                    .wait_for("completed authorization", wait, || self.completed(&digest))
                    .await
                {
                    Ok(done) => Ok(done),
                    Err(TokenError::Busy { .. }) => Err(TokenError::AuthCodeRejected { source: e }),
                    Err(other) => Err(other),
                };
            }
            Err(e) => return Err(e),
        };
        let appid = authorization.authorizer_appid.clone();
        tracing::Span::current().record("authorizer", tracing::field::display(&appid));

        // The code is spent and the refresh token is in hand: a failed profile lookup must not
        // lose it, so the authorizer is stored without a profile then.
        let account = match self
            .with_component_token(|client, token| {
                let appid = &appid;
                async move { client.api_get_authorizer_info(&token, appid).await }
            })
            .await
        {
            Ok(info) => Some(account_info(&info.authorizer_info)),
            Err(e) => {
                tracing::warn!(errcode = e.errcode(), error = %error_chain(&e), "could not fetch the account profile; storing the authorization without it");
                None
            }
        };
        let grant = AuthorizationGrant {
            appid: appid.clone(),
            access_token: ExpiringToken {
                value: authorization.access_token.secret().clone(),
                expires_at: authorization.access_token.expires_at(),
            },
            refresh_token: authorization.refresh_token,
            func_info: func_ids(&authorization.func_info),
            account,
        };
        let authorizer = self.store_grant(&digest, &grant).await?;
        tracing::info!(
            refresh_token_version = authorizer.refresh_token_version,
            "authorization completed"
        );
        Ok(authorizer)
    }

    /// Stores the authorizer of a spent code, then remembers the code's digest.
    async fn store_grant(
        &self,
        digest: &AuthCodeDigest,
        grant: &AuthorizationGrant,
    ) -> Result<Authorizer, TokenError> {
        let store = self.store();
        let component = self.component_appid();
        let authorizer = store
            .record_authorization(component, grant)
            .await
            .inspect_err(|e| {
                // The code is spent: the `authorized` event's retry recovers the refresh token
                // ([`TokenService::recover_authorization`]).
                tracing::error!(error = %error_chain(e), "could not store the authorization");
            })?;
        store
            .remember_completed_authorization(component, digest, &grant.appid)
            .await?;
        Ok(authorizer)
    }

    /// Recovers an authorization whose code WeChat refuses although this platform never stored
    /// it: an earlier `api_query_auth` was acted on by WeChat but its answer was lost (a timeout, a
    /// dropped connection), or the store failed right after it. The push names the authorizer, and
    /// `api_get_authorizer_info` still carries its refresh token; one `api_authorizer_token` with it
    /// gives the access token and the refresh token to keep. `None` when WeChat holds no
    /// authorization for the account (revoked since).
    pub async fn recover_authorization(
        &self,
        auth_code: &Secret,
        appid: &AuthorizerAppId,
    ) -> Result<Option<Authorizer>, TokenError> {
        let span = tracing::info_span!(
            "recover_authorization",
            component = %self.component_appid(),
            authorizer = %appid
        );
        async {
            let digest = AuthCodeDigest::of(auth_code);
            if let Some(done) = self.completed(&digest).await? {
                return Ok(Some(done));
            }
            let info = match self
                .with_component_token(|client, token| async move {
                    client.api_get_authorizer_info(&token, appid).await
                })
                .await
            {
                Ok(info) => info,
                Err(TokenError::Wechat(e)) if e.is_not_authorized() => return Ok(None),
                Err(e) => return Err(e),
            };
            let Some(refresh_token) = info
                .authorization_info
                .authorizer_refresh_token
                .clone()
                .filter(|t| !t.expose().is_empty())
            else {
                return Ok(None);
            };
            let tokens = self
                .with_component_token(|client, token| {
                    let refresh_token = &refresh_token;
                    async move {
                        client
                            .api_authorizer_token(&token, appid, refresh_token)
                            .await
                    }
                })
                .await?;
            let grant = AuthorizationGrant {
                appid: appid.clone(),
                access_token: ExpiringToken {
                    value: tokens.access_token.secret().clone(),
                    expires_at: tokens.access_token.expires_at(),
                },
                refresh_token: tokens.refresh_token,
                func_info: func_ids(&info.authorization_info.func_info),
                account: Some(account_info(&info.authorizer_info)),
            };
            let authorizer = self.store_grant(&digest, &grant).await?;
            tracing::warn!(
                refresh_token_version = authorizer.refresh_token_version,
                "authorization recovered: the code had been spent without an answer"
            );
            Ok(Some(authorizer))
        }
        .instrument(span)
        .await
    }

    /// The authorizer a code was already exchanged for, if any.
    async fn completed(&self, digest: &AuthCodeDigest) -> Result<Option<Authorizer>, TokenError> {
        let store = self.store();
        let component = self.component_appid();
        let Some(appid) = store.completed_authorization(component, digest).await? else {
            return Ok(None);
        };
        match store.authorizer(component, &appid).await? {
            Some(authorizer) => Ok(Some(authorizer)),
            None => Err(TokenError::NotFound { appid }),
        }
    }
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

/// The PC and mobile authorization links (PROTOCOL.md §5). Serve them as links the merchant
/// clicks on a page of the launch domain: opened any other way, WeChat refuses them.
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
