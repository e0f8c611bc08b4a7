//! Official accounts: the web authorization page stand-in (`/connect/oauth2/authorize`), the code
//! exchange (`/sns/oauth2/component/access_token`: single use, 5 minutes), `/sns/userinfo`, and
//! `/cgi-bin/ticket/getticket`.
//!
//! The sim has one WeChat user; its openid differs per account, its unionid does not.

use super::{Authorizer, State, err};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use wxcomponent::EpochSeconds;

/// How long a web authorization code may be exchanged.
pub const OAUTH_CODE_LIFETIME_SECS: i64 = 300;
/// The unionid of the sim's one user.
pub const WEB_USER_UNIONID: &str = "oUnionSimWebUser0000000001";

/// The sim user's openid for the account `appid`.
pub fn web_user_openid(appid: &str) -> String {
    format!("oSim{}", appid.trim_start_matches("wx"))
}

pub(crate) struct OAuthCode {
    appid: String,
    scope: String,
    issued_at: EpochSeconds,
    used: bool,
}

pub(crate) struct UserToken {
    openid: String,
    scope: String,
    valid_until: EpochSeconds,
}

#[derive(Default)]
pub(crate) struct WebModel {
    codes: HashMap<String, OAuthCode>,
    user_tokens: HashMap<String, UserToken>,
}

/// Where the stand-in page sends the browser, or why it refuses.
pub(crate) enum OAuthPage {
    Redirect(String),
    Refused(&'static str),
}

impl State {
    fn official_account(&self, appid: &str) -> Option<&Authorizer> {
        self.authorizer(appid)
            .filter(|a| a.authorized && a.official_account)
    }

    /// WeChat's web authorization page: the user agrees at once (the sim's user always does),
    /// and goes back with a fresh code.
    pub(crate) fn oauth_page(&mut self, query: &BTreeMap<String, String>) -> OAuthPage {
        let get = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
        if get("component_appid") != self.config.component_appid {
            return OAuthPage::Refused("the component_appid is not this component's");
        }
        if self.official_account(get("appid")).is_none() {
            return OAuthPage::Refused(
                "the appid is not an official account that authorizes the component",
            );
        }
        if get("response_type") != "code" {
            return OAuthPage::Refused("response_type must be code");
        }
        let scope = get("scope").to_owned();
        if !matches!(scope.as_str(), "snsapi_base" | "snsapi_userinfo") {
            return OAuthPage::Refused("scope must be snsapi_base or snsapi_userinfo");
        }
        let Ok(mut redirect) = url::Url::parse(get("redirect_uri")) else {
            return OAuthPage::Refused("redirect_uri is not a URL");
        };
        let code = self.mint("webcode");
        let now = self.now();
        self.web.codes.insert(
            code.clone(),
            OAuthCode {
                appid: get("appid").to_owned(),
                scope,
                issued_at: now,
                used: false,
            },
        );
        redirect
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", get("state"))
            .append_pair("appid", get("appid"));
        OAuthPage::Redirect(redirect.into())
    }

    pub(super) fn sns_oauth_access_token(
        &mut self,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, Value> {
        self.component_token(query)?;
        let get = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
        if get("component_appid") != self.config.component_appid {
            return Err(err(40013, "invalid appid"));
        }
        if get("grant_type") != "authorization_code" {
            return Err(err(40002, "invalid grant_type"));
        }
        let appid = get("appid").to_owned();
        if self.official_account(&appid).is_none() {
            return Err(err(61003, "component is not authorized by this account"));
        }
        let now = self.now();
        let Some(code) = self.web.codes.get_mut(get("code")) else {
            return Err(err(40029, "invalid code"));
        };
        if code.used {
            return Err(err(40163, "code been used"));
        }
        if code.appid != appid || now - code.issued_at > OAUTH_CODE_LIFETIME_SECS {
            return Err(err(40029, "invalid code"));
        }
        code.used = true;
        let scope = code.scope.clone();
        let openid = web_user_openid(&appid);
        let access_token = self.mint("webtoken");
        let refresh_token = self.mint("webrefresh");
        self.web.user_tokens.insert(
            access_token.clone(),
            UserToken {
                openid: openid.clone(),
                scope: scope.clone(),
                valid_until: now + 7200,
            },
        );
        let mut answer = json!({
            "access_token": access_token,
            "expires_in": 7200,
            "refresh_token": refresh_token,
            "openid": openid,
            "scope": scope,
        });
        if scope == "snsapi_userinfo" {
            answer["unionid"] = json!(WEB_USER_UNIONID);
        }
        Ok(answer)
    }

    pub(super) fn sns_userinfo(&self, query: &BTreeMap<String, String>) -> Result<Value, Value> {
        let get = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
        let Some(token) = self.web.user_tokens.get(get("access_token")) else {
            return Err(err(
                40001,
                "invalid credential, access_token is invalid or not latest",
            ));
        };
        if token.valid_until <= self.now() {
            return Err(err(42001, "access_token expired"));
        }
        if token.scope != "snsapi_userinfo" {
            return Err(err(48001, "api unauthorized"));
        }
        if token.openid != get("openid") {
            return Err(err(40003, "invalid openid"));
        }
        Ok(json!({
            "openid": token.openid,
            "nickname": "模拟用户",
            "sex": 0,
            "province": "",
            "city": "",
            "country": "",
            "headimgurl": "https://thirdwx.qlogo.cn/mmopen/sim/132",
            "privilege": [],
            "unionid": WEB_USER_UNIONID,
        }))
    }

    pub(super) fn getticket(&mut self, query: &BTreeMap<String, String>) -> Result<Value, Value> {
        let appid = self.authorizer_token(query)?;
        if self.official_account(&appid).is_none() {
            return Err(err(
                40001,
                "invalid credential, not an official account's token",
            ));
        }
        if query.get("type").map(String::as_str) != Some("jsapi") {
            return Err(err(40097, "invalid args"));
        }
        let ticket = self.mint("jsapi");
        Ok(json!({ "errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": 7200 }))
    }
}
