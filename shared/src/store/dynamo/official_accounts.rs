//! Official accounts' items: the `jsapi_ticket` of each (`C#<component>` / `JSAPI_TICKET#<appid>`,
//! versioned like the component token), and the profiles web authorization gave, a partition each
//! (`C#<component>#WEBUSER#<appid>#<openid>` / `WEBUSER`), read only by key and removed by TTL.

use super::{DynamoStore, Reader, home, key, n, s};
use crate::ids::{AuthorizerAppId, ComponentAppId};
use crate::store::schema::TTL;
use crate::store::{
    ExpiringToken, OfficialAccountStore, Result, StoreError, StoredJsapiTicket, WebUser,
};

const SK_WEB_USER: &str = "WEBUSER";
const PROFILE: &str = "profile";
const AUTHORIZED_AT: &str = "authorized_at";
const EXPIRES_AT: &str = "expires_at";
const APPID: &str = "appid";

fn jsapi_ticket_sk(appid: &AuthorizerAppId) -> String {
    format!("JSAPI_TICKET#{appid}")
}

fn web_user_pk(component: &ComponentAppId, appid: &AuthorizerAppId, openid: &str) -> String {
    format!("C#{component}#WEBUSER#{appid}#{openid}")
}

impl OfficialAccountStore for DynamoStore {
    async fn jsapi_ticket(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
    ) -> Result<Option<StoredJsapiTicket>> {
        let stored = self
            .versioned_token(key(home(component), jsapi_ticket_sk(appid)), "jsapi ticket")
            .await?;
        Ok(stored.map(|t| StoredJsapiTicket {
            ticket: t.token,
            version: t.version,
        }))
    }

    async fn replace_jsapi_ticket(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        ticket: &ExpiringToken,
        replaces: Option<u64>,
    ) -> Result<u64> {
        self.replace_versioned_token(
            key(home(component), jsapi_ticket_sk(appid)),
            ticket,
            replaces,
            "jsapi ticket",
        )
        .await
    }

    async fn put_web_user(&self, component: &ComponentAppId, user: &WebUser) -> Result<()> {
        let profile = serde_json::to_string(&user.profile).map_err(|_| StoreError::Corrupt {
            item: "web user",
            attribute: PROFILE,
        })?;
        let mut item = key(
            web_user_pk(component, &user.appid, &user.profile.openid),
            SK_WEB_USER,
        );
        item.extend([
            (APPID.to_owned(), s(user.appid.as_str())),
            (PROFILE.to_owned(), s(profile)),
            (AUTHORIZED_AT.to_owned(), n(user.authorized_at)),
            (EXPIRES_AT.to_owned(), n(user.expires_at)),
            (TTL.to_owned(), n(user.expires_at)),
        ]);
        self.put(item).await?;
        Ok(())
    }

    async fn web_user(
        &self,
        component: &ComponentAppId,
        appid: &AuthorizerAppId,
        openid: &str,
    ) -> Result<Option<WebUser>> {
        let Some(item) = self
            .get(key(web_user_pk(component, appid, openid), SK_WEB_USER))
            .await?
        else {
            return Ok(None);
        };
        let r = Reader::new(&item, "web user");
        let profile = serde_json::from_str(r.str(PROFILE)?).map_err(|_| StoreError::Corrupt {
            item: "web user",
            attribute: PROFILE,
        })?;
        let user = WebUser {
            appid: appid.clone(),
            profile,
            authorized_at: r.num(AUTHORIZED_AT)?,
            expires_at: r.num(EXPIRES_AT)?,
        };
        // DynamoDB removes expired items late, or (locally) never.
        Ok((user.expires_at > self.now()).then_some(user))
    }
}
