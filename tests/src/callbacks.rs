//! The two callback functions' real handlers on top of a [`TestApp`], driven with API Gateway
//! HTTP API (v2) events as Lambda would deliver them, and pushes signed and encrypted the way
//! WeChat sends them.

use std::sync::Arc;

use auth_redirect::AuthRedirect;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use ticket_callback::TicketCallback;
use wxcomponent::crypto::AesKey;
use wxcomponent::service::{AuthFlowSettings, PushService, PushSettings, WebOAuthSettings};
use wxcomponent::store::{DynamoPushLedger, DynamoStore, LedgerEntry, PushLedger};
use wxcomponent::{MessageCrypto, Secret};

use crate::app::TestApp;

/// The host API Gateway would give the functions.
pub const API_HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";
/// The provider's page host the tests' web authorization allows (`OAUTH_REDIRECT_HOSTS`).
pub const OAUTH_REDIRECT_HOST: &str = "h5.example.com";
/// The tests' `AUTH_SIGNING_SECRET` for web authorization results.
pub const OAUTH_SIGNING_SECRET: &str = "test-signing-secret-of-forty-characters!";

/// The signing key of [`OAUTH_SIGNING_SECRET`].
pub fn oauth_signing_key() -> wxcomponent::service::SigningKey {
    wxcomponent::service::SigningKey::new(Secret::new(OAUTH_SIGNING_SECRET))
        .expect("the test secret is long enough")
}

/// Both handlers, wired to the app's table, simulator and clock.
pub struct Callbacks {
    pub app: TestApp,
    pub ticket_callback: TicketCallback<DynamoStore, DynamoPushLedger>,
    pub auth_redirect: AuthRedirect,
    pub ledger: Arc<DynamoPushLedger>,
    /// The component's message crypto, as WeChat (the sim) has it.
    pub crypto: MessageCrypto,
}

/// The sim's message crypto for its component.
pub fn sim_crypto(app: &TestApp) -> MessageCrypto {
    let config = app.sim.config();
    MessageCrypto::new(
        Secret::new(config.token),
        config.component_appid,
        AesKey::from_encoding_aes_key(&config.encoding_aes_key).expect("the sim's key is valid"),
        None,
    )
}

impl Callbacks {
    /// A fresh app; the auth pages point at the sim, the callback URL is derived from requests.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tune: impl FnOnce(&mut AuthFlowSettings)) -> Self {
        Self::on(TestApp::spawn().await, tune)
    }

    /// Handlers on an existing app.
    pub fn on(app: TestApp, tune: impl FnOnce(&mut AuthFlowSettings)) -> Self {
        Self::on_with(app, PushSettings::default(), tune)
    }

    /// Handlers on an existing app, the push handler with `push` settings.
    pub fn on_with(
        app: TestApp,
        push: PushSettings,
        tune: impl FnOnce(&mut AuthFlowSettings),
    ) -> Self {
        let crypto = sim_crypto(&app);
        let ledger = app.wiring.push_ledger();
        let push = app.wiring.push_service(crypto.clone(), push);
        let mut settings = AuthFlowSettings {
            pc_page_base: app.sim.base_url(),
            mobile_page_base: app.sim.base_url(),
            ..AuthFlowSettings::default()
        };
        tune(&mut settings);
        let flow = app.wiring.auth_flow(settings);
        let oauth = app.wiring.web_oauth(WebOAuthSettings {
            redirect_hosts: vec![OAUTH_REDIRECT_HOST.to_owned()],
            key: Some(oauth_signing_key()),
            page_base: app.sim.base_url(),
            callback_url: None,
        });
        Self {
            ticket_callback: TicketCallback::new(push),
            auth_redirect: AuthRedirect::new(flow, oauth),
            ledger,
            crypto,
            app,
        }
    }

    /// A push exactly as WeChat sends it, at the app's current time: to the authorization event
    /// URL (`to` = `None`) or to an authorizer's message URL.
    pub fn signed_push(&self, plaintext: &str, to: Option<&str>) -> SignedPush {
        let timestamp = self.app.now().to_string();
        let nonce = wxcomponent::crypto::random_nonce();
        let pushed = self
            .crypto
            .build_push(
                plaintext,
                &timestamp,
                &nonce,
                &wxcomponent::crypto::random16(),
                to,
            )
            .expect("the push encrypts");
        SignedPush {
            query: pushed
                .query
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            body: pushed.body,
        }
    }

    /// Sends a push to the ticket-callback handler at `path`.
    pub async fn push(&self, path: &str, push: &SignedPush) -> Response<Body> {
        self.ticket_callback
            .handle(apigw_request(
                "POST",
                path,
                &push.query_string(),
                &[],
                Some(&push.body),
            ))
            .await
    }

    /// A component event to `/wechat/component`.
    pub async fn push_component_event(&self, xml: &str) -> Response<Body> {
        let push = self.signed_push(xml, None);
        self.push("/wechat/component", &push).await
    }

    /// A message to `/wechat/message/{appid}`.
    pub async fn push_message(&self, appid: &str, to_user_name: &str, xml: &str) -> Response<Body> {
        let push = self.signed_push(xml, Some(to_user_name));
        self.push(&format!("/wechat/message/{appid}"), &push).await
    }

    /// A GET to the auth-redirect handler.
    pub async fn get_auth(
        &self,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        self.auth_redirect
            .handle(apigw_request("GET", path, query, headers, None))
            .await
    }

    /// A HEAD to the auth-redirect handler.
    pub async fn head_auth(
        &self,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        self.auth_redirect
            .handle(apigw_request("HEAD", path, query, headers, None))
            .await
    }

    /// The click on the launch page: `GET /auth/go?{query}`, which must answer 302; what the
    /// browser got.
    pub async fn start_flow(&self, query: &str, headers: &[(&str, &str)]) -> StartedFlow {
        let go = self.get_auth("/auth/go", query, headers).await;
        assert_eq!(go.status(), 302, "{}", body_text(&go));
        StartedFlow::from_response(&go)
    }

    /// WeChat sending the browser back after the merchant confirmed: the flow's callback URL with
    /// `auth_code` and `expires_in` appended, and the browser's state cookie.
    pub async fn callback(&self, flow: &StartedFlow, code: &str) -> Response<Body> {
        self.get_auth(
            flow.redirect_uri.path(),
            &flow.callback_query(code),
            &[("cookie", &flow.cookie)],
        )
        .await
    }

    /// The ledger entry of a push with this idempotency key.
    pub async fn ledger_entry(&self, idempotency_key: &str) -> Option<LedgerEntry> {
        let key = PushService::<DynamoStore, DynamoPushLedger>::ledger_key(idempotency_key);
        self.ledger
            .entry(&self.app.component, &key)
            .await
            .expect("reading the ledger")
    }
}

/// What `/auth/go` gave the browser.
#[derive(Debug, Clone)]
pub struct StartedFlow {
    /// WeChat's (the sim's) authorization page.
    pub location: url::Url,
    /// The `redirect_uri` in it: the callback URL with the flow's `state`.
    pub redirect_uri: url::Url,
    /// The `state` of the `redirect_uri`.
    pub state: String,
    /// The `Set-Cookie` header as sent.
    pub set_cookie: String,
    /// `name=value`, as the browser sends the cookie back in `Cookie`.
    pub cookie: String,
}

impl StartedFlow {
    /// Reads a 302 from `/auth/go`.
    pub fn from_response(go: &Response<Body>) -> Self {
        let location = url::Url::parse(&header(go, "location").expect("a location")).unwrap();
        let redirect_uri = location
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| url::Url::parse(&v).expect("redirect_uri is a URL"))
            .expect("a redirect_uri");
        let state = redirect_uri
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("the redirect_uri carries a state");
        let set_cookie = header(go, "set-cookie").expect("a state cookie");
        let cookie = set_cookie.split(';').next().unwrap().trim().to_owned();
        Self {
            location,
            redirect_uri,
            state,
            set_cookie,
            cookie,
        }
    }

    /// The callback's query as WeChat builds it: the `redirect_uri`'s own query, then `auth_code`
    /// and `expires_in`.
    pub fn callback_query(&self, code: &str) -> String {
        let mut url = self.redirect_uri.clone();
        url.query_pairs_mut()
            .append_pair("auth_code", code)
            .append_pair("expires_in", "600");
        url.query().unwrap_or("").to_owned()
    }
}

/// How many items the app's table holds (a scan; test tables are small).
pub async fn table_items(app: &TestApp) -> usize {
    let mut count = 0;
    let mut start = None;
    loop {
        let page = app
            .dynamodb
            .scan()
            .table_name(app.store.table_name())
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scanning the table");
        count += usize::try_from(page.count()).unwrap_or(0);
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return count;
        }
    }
}

/// A signed push: query pairs in WeChat's order and the XML envelope.
#[derive(Debug, Clone)]
pub struct SignedPush {
    pub query: Vec<(String, String)>,
    pub body: String,
}

impl SignedPush {
    pub fn query_string(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.query.iter())
            .finish()
    }

    /// The same push with one query parameter replaced.
    pub fn with_param(&self, name: &str, value: &str) -> Self {
        let mut changed = self.clone();
        for (k, v) in &mut changed.query {
            if k == name {
                *v = value.to_owned();
            }
        }
        changed
    }
}

/// An API Gateway HTTP API (payload 2.0) event on the `$default` stage, turned into a request
/// the way `lambda_http` does it for a deployed function.
pub fn apigw_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Request {
    apigw_request_on_stage("$default", method, path, query, headers, body)
}

/// As [`apigw_request`], on a named stage: API Gateway's `rawPath` then starts with `/<stage>`.
pub fn apigw_request_on_stage(
    stage: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Request {
    let raw_path = if stage == "$default" {
        path.to_owned()
    } else {
        format!("/{stage}{path}")
    };
    let mut header_map = serde_json::Map::new();
    header_map.insert("host".into(), json!(API_HOST));
    header_map.insert("x-forwarded-proto".into(), json!("https"));
    if let Some(body) = body {
        header_map.insert("content-type".into(), json!("text/xml"));
        header_map.insert("content-length".into(), json!(body.len().to_string()));
    }
    // API Gateway moves the Cookie header into `cookies`, one entry per cookie.
    let mut cookies = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("cookie") {
            cookies.extend(value.split(';').map(|c| json!(c.trim())));
        } else {
            header_map.insert(name.to_ascii_lowercase(), json!(value));
        }
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "cookies": if cookies.is_empty() { serde_json::Value::Null } else { json!(cookies) },
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": API_HOST,
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "101.226.103.10",
                "userAgent": "Mozilla/4.0"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": stage,
            "time": "21/Nov/2026:19:03:58 +0000",
            "timeEpoch": 1_795_287_838_000_i64
        },
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}

/// The response body as text.
pub fn body_text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// A header of the response.
pub fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

// ----- push payloads (decrypted XML, as WeChat writes it) ----------------------------------------

pub fn ticket_xml(component: &str, create_time: i64, ticket: &str) -> String {
    format!(
        "<xml><AppId><![CDATA[{component}]]></AppId><CreateTime>{create_time}</CreateTime>\
         <InfoType><![CDATA[component_verify_ticket]]></InfoType>\
         <ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
    )
}

pub fn authorized_xml(
    component: &str,
    info_type: &str,
    create_time: i64,
    authorizer: &str,
    code: &str,
) -> String {
    format!(
        "<xml><AppId><![CDATA[{component}]]></AppId><CreateTime>{create_time}</CreateTime>\
         <InfoType><![CDATA[{info_type}]]></InfoType>\
         <AuthorizerAppid><![CDATA[{authorizer}]]></AuthorizerAppid>\
         <AuthorizationCode><![CDATA[{code}]]></AuthorizationCode>\
         <AuthorizationCodeExpiredTime>{}</AuthorizationCodeExpiredTime>\
         <PreAuthCode><![CDATA[preauthcode@@@unused]]></PreAuthCode></xml>",
        create_time + 600
    )
}

pub fn unauthorized_xml(component: &str, create_time: i64, authorizer: &str) -> String {
    format!(
        "<xml><AppId><![CDATA[{component}]]></AppId><CreateTime>{create_time}</CreateTime>\
         <InfoType><![CDATA[unauthorized]]></InfoType>\
         <AuthorizerAppid><![CDATA[{authorizer}]]></AuthorizerAppid></xml>"
    )
}

pub fn text_xml(to: &str, from: &str, create_time: i64, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

pub fn event_xml(to: &str, create_time: i64, event: &str, fields: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_system]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[{event}]]></Event>{fields}</xml>"
    )
}
