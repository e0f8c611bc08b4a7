//! Pushes from WeChat to the platform: signed, encrypted XML POSTed to the two callback URLs
//! exactly as WeChat sends them (docs/wechat-protocol.md), built with the library's
//! [`MessageCrypto::build_push`]:
//! - component events (`<AppId>` envelope) to `authorization_event_url`: the verify ticket (also
//!   after a successful `api_start_push_ticket`), `authorized` / `updateauthorized` with a real
//!   auth code, `unauthorized`;
//! - authorizer messages (`<ToUserName>` envelope) to `message_url` with `$APPID$` replaced.
//!
//! The platform's answer comes back as a [`PushReply`]; an encrypted passive reply is verified and
//! decrypted with [`MessageCrypto::decrypt_reply`].

use super::code::{AuditEvent, AuditPush};
use super::{Shared, WechatSim};
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;
use wxcomponent::Secret;
use wxcomponent::crypto::{AesKey, CryptoError, MessageCrypto, random_nonce, random16};

/// Where the simulated WeChat sends pushes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PushTargets {
    /// 授权事件接收URL: component events (tickets, authorizations).
    pub authorization_event_url: Option<String>,
    /// 消息与事件接收URL, with `$APPID$` where the authorizer's appid goes.
    pub message_url: Option<String>,
}

/// What the platform answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushReply {
    pub status: u16,
    pub body: String,
    /// The plaintext of an encrypted passive reply (its signature checked), if the body was one.
    pub decrypted: Option<String>,
}

/// A ticket push: the ticket (now known to the sim) and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketPush {
    pub ticket: String,
    pub reply: PushReply,
}

/// An `authorized` / `updateauthorized` push: the auth code it carried and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationPush {
    pub auth_code: String,
    pub reply: PushReply,
}

/// Why a push could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("no {0} is configured in the sim's push targets")]
    NoTarget(&'static str),
    #[error("the sim does not know authorizer {0}")]
    UnknownAuthorizer(String),
    #[error("the push target {0:?} is not a URL")]
    BadUrl(String),
    #[error("the sim's EncodingAESKey is invalid")]
    Key(#[source] wxcomponent::crypto::InvalidAesKey),
    #[error("encrypting the push failed")]
    Encrypt(#[source] CryptoError),
    #[error("the platform's encrypted reply did not verify")]
    Reply(#[source] CryptoError),
    #[error("sending the push failed")]
    Http(#[source] reqwest::Error),
}

/// The kinds of component push that name an authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationEvent {
    Authorized,
    UpdateAuthorized,
    Unauthorized,
}

impl AuthorizationEvent {
    pub fn info_type(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::UpdateAuthorized => "updateauthorized",
            Self::Unauthorized => "unauthorized",
        }
    }
}

fn cdata(out: &mut String, name: &str, value: &str) {
    let _ = write!(
        out,
        "<{name}><![CDATA[{}]]></{name}>",
        value.replace("]]>", "]]]]><![CDATA[>")
    );
}

fn number(out: &mut String, name: &str, value: i64) {
    let _ = write!(out, "<{name}>{value}</{name}>");
}

/// Sends `plaintext` encrypted to `url`: a component event when `to_user_name` is `None`.
async fn deliver(
    shared: &Shared,
    url: &str,
    to_user_name: Option<&str>,
    plaintext: &str,
) -> Result<PushReply, PushError> {
    let (crypto, now) = {
        let state = shared.lock();
        let key = AesKey::from_encoding_aes_key(&state.config.encoding_aes_key)
            .map_err(PushError::Key)?;
        let crypto = MessageCrypto::new(
            Secret::new(state.config.token.clone()),
            state.config.component_appid.clone(),
            key,
            None,
        );
        (crypto, shared.clock.clock.now())
    };
    let push = crypto
        .build_push(
            plaintext,
            &now.to_string(),
            &random_nonce(),
            &random16(),
            to_user_name,
        )
        .map_err(PushError::Encrypt)?;
    let mut target = url::Url::parse(url).map_err(|_| PushError::BadUrl(url.to_owned()))?;
    target
        .query_pairs_mut()
        .extend_pairs(push.query.iter().map(|(k, v)| (*k, v.as_str())));
    let response = reqwest::Client::new()
        .post(target)
        .header(reqwest::header::CONTENT_TYPE, "text/xml")
        .body(push.body)
        // WeChat gives up after 5 s.
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| PushError::Http(e.without_url()))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| PushError::Http(e.without_url()))?;
    let decrypted = if body.contains("<Encrypt>") {
        Some(
            crypto
                .decrypt_reply(body.as_bytes())
                .map_err(PushError::Reply)?,
        )
    } else {
        None
    };
    Ok(PushReply {
        status,
        body,
        decrypted,
    })
}

fn component_url(shared: &Shared) -> Result<String, PushError> {
    shared
        .lock()
        .config
        .push
        .authorization_event_url
        .clone()
        .ok_or(PushError::NoTarget("authorization_event_url"))
}

/// Pushes `ticket` (already known to the sim) to the authorization event URL.
pub(crate) async fn push_ticket_value(
    shared: &Shared,
    ticket: &str,
) -> Result<PushReply, PushError> {
    let url = component_url(shared)?;
    let xml = {
        let state = shared.lock();
        let mut xml = String::from("<xml>");
        cdata(&mut xml, "AppId", &state.config.component_appid);
        number(&mut xml, "CreateTime", state.now());
        cdata(&mut xml, "InfoType", "component_verify_ticket");
        cdata(&mut xml, "ComponentVerifyTicket", ticket);
        xml.push_str("</xml>");
        xml
    };
    deliver(shared, &url, None, &xml).await
}

pub(crate) async fn push_ticket(shared: &Shared) -> Result<TicketPush, PushError> {
    component_url(shared)?;
    let ticket = shared.lock().issue_ticket();
    let reply = push_ticket_value(shared, &ticket).await?;
    Ok(TicketPush { ticket, reply })
}

/// `authorized` / `updateauthorized` (with a fresh auth code) or `unauthorized` (revoking).
pub(crate) async fn push_authorization(
    shared: &Shared,
    event: AuthorizationEvent,
    authorizer_appid: &str,
) -> Result<(Option<String>, PushReply), PushError> {
    let url = component_url(shared)?;
    let (code, xml) = {
        let mut state = shared.lock();
        let now = state.now();
        let code = match event {
            AuthorizationEvent::Unauthorized => {
                if state.user_name_of(authorizer_appid).is_none() {
                    return Err(PushError::UnknownAuthorizer(authorizer_appid.to_owned()));
                }
                state.revoke(authorizer_appid);
                None
            }
            _ => Some(state.authorize(authorizer_appid)),
        };
        let mut xml = String::from("<xml>");
        cdata(&mut xml, "AppId", &state.config.component_appid);
        number(&mut xml, "CreateTime", now);
        cdata(&mut xml, "InfoType", event.info_type());
        cdata(&mut xml, "AuthorizerAppid", authorizer_appid);
        if let Some(code) = &code {
            cdata(&mut xml, "AuthorizationCode", code);
            number(
                &mut xml,
                "AuthorizationCodeExpiredTime",
                now + state.config.auth_code_expires_in,
            );
            let pre_auth_code = format!("preauthcode@@@{}", uuid::Uuid::new_v4().simple());
            cdata(&mut xml, "PreAuthCode", &pre_auth_code);
        }
        xml.push_str("</xml>");
        (code, xml)
    };
    let reply = deliver(shared, &url, None, &xml).await?;
    Ok((code, reply))
}

/// A message from `from_user` to the authorizer's account: `body` are the fields after
/// `CreateTime` (`MsgType` and the rest).
pub(crate) async fn push_message(
    shared: &Shared,
    authorizer_appid: &str,
    from_user: &str,
    body: &[(&str, MessageField<'_>)],
) -> Result<PushReply, PushError> {
    let (url, user_name, xml) = {
        let state = shared.lock();
        let url = state
            .config
            .push
            .message_url
            .clone()
            .ok_or(PushError::NoTarget("message_url"))?
            .replace("$APPID$", authorizer_appid);
        let user_name = state
            .user_name_of(authorizer_appid)
            .ok_or_else(|| PushError::UnknownAuthorizer(authorizer_appid.to_owned()))?;
        let mut xml = String::from("<xml>");
        cdata(&mut xml, "ToUserName", &user_name);
        cdata(&mut xml, "FromUserName", from_user);
        number(&mut xml, "CreateTime", state.now());
        for (name, value) in body {
            match value {
                MessageField::Text(v) => cdata(&mut xml, name, v),
                MessageField::Number(n) => number(&mut xml, name, *n),
            }
        }
        xml.push_str("</xml>");
        (url, user_name, xml)
    };
    deliver(shared, &url, Some(&user_name), &xml).await
}

/// A field of a pushed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageField<'a> {
    Text(&'a str),
    Number(i64),
}

/// Who WeChat names as the sender of audit events.
const AUDIT_FROM_USER: &str = "oSimWeChatAudit000000000000";

/// Whether the platform took a push: WeChat counts HTTP 200 with `success` (or an empty body,
/// which its documentation allows too) as delivered and retries anything else.
fn accepted(result: &Result<PushReply, PushError>) -> bool {
    matches!(result, Ok(r) if r.status == 200 && (r.body == "success" || r.body.is_empty()))
}

/// Whether another delivery could change anything (a missing target or account will not).
fn retryable(result: &Result<PushReply, PushError>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => matches!(e, PushError::Http(_) | PushError::Reply(_)),
    }
}

/// How many deliveries WeChat makes of one push.
const DELIVERIES: usize = 3;

/// One decided audit to the account's message URL, delivered up to [`DELIVERIES`] times.
async fn push_audit(shared: &Shared, push: &AuditPush) -> Result<PushReply, PushError> {
    let mut body = vec![("MsgType", MessageField::Text("event"))];
    match &push.event {
        AuditEvent::Success { succ_time } => {
            body.push(("Event", MessageField::Text("weapp_audit_success")));
            body.push(("SuccTime", MessageField::Number(*succ_time)));
        }
        AuditEvent::Fail {
            reason,
            fail_time,
            screenshot,
        } => {
            body.push(("Event", MessageField::Text("weapp_audit_fail")));
            body.push(("Reason", MessageField::Text(reason)));
            body.push(("FailTime", MessageField::Number(*fail_time)));
            body.push(("ScreenShot", MessageField::Text(screenshot)));
        }
        AuditEvent::Delay { reason, delay_time } => {
            body.push(("Event", MessageField::Text("weapp_audit_delay")));
            body.push(("Reason", MessageField::Text(reason)));
            body.push(("DelayTime", MessageField::Number(*delay_time)));
        }
    }
    let mut result = push_message(shared, &push.appid, AUDIT_FROM_USER, &body).await;
    for _ in 1..DELIVERIES {
        if accepted(&result) || !retryable(&result) {
            break;
        }
        // WeChat waits a little between deliveries.
        tokio::time::sleep(Duration::from_millis(50)).await;
        result = push_message(shared, &push.appid, AUDIT_FROM_USER, &body).await;
    }
    result
}

/// Decides the audits due and pushes each decision: taken off the queue under the lock, so no
/// decision is pushed twice however many callers run at once.
pub(crate) async fn deliver_due_audits(
    shared: &Shared,
) -> Vec<(String, Result<PushReply, PushError>)> {
    let pushes = {
        let mut state = shared.lock();
        state.settle_audits();
        std::mem::take(&mut state.code.pending_pushes)
    };
    let mut results = Vec::with_capacity(pushes.len());
    for push in pushes {
        let result = push_audit(shared, &push).await;
        results.push((push.appid, result));
    }
    results
}

fn msg_id() -> i64 {
    rand::random_range(1_000_000_000_000_000..i64::MAX)
}

impl WechatSim {
    /// Where pushes go from now on.
    pub fn set_push_targets(&self, targets: PushTargets) {
        self.shared.lock().config.push = targets;
    }

    /// WeChat's ten-minute ticket push: a fresh ticket (which `api_component_token` then
    /// accepts) sent to the authorization event URL.
    pub async fn push_ticket(&self) -> Result<TicketPush, PushError> {
        push_ticket(&self.shared).await
    }

    /// A merchant authorizes: the `authorized` push with a real auth code.
    pub async fn push_authorized(
        &self,
        authorizer_appid: &str,
    ) -> Result<AuthorizationPush, PushError> {
        self.push_grant(AuthorizationEvent::Authorized, authorizer_appid)
            .await
    }

    /// A merchant changes the permissions granted: `updateauthorized` with a real auth code.
    pub async fn push_update_authorized(
        &self,
        authorizer_appid: &str,
    ) -> Result<AuthorizationPush, PushError> {
        self.push_grant(AuthorizationEvent::UpdateAuthorized, authorizer_appid)
            .await
    }

    async fn push_grant(
        &self,
        event: AuthorizationEvent,
        authorizer_appid: &str,
    ) -> Result<AuthorizationPush, PushError> {
        let (code, reply) = push_authorization(&self.shared, event, authorizer_appid).await?;
        Ok(AuthorizationPush {
            auth_code: code.unwrap_or_default(),
            reply,
        })
    }

    /// A merchant revokes the authorization (its tokens stop working) and WeChat says so.
    pub async fn push_unauthorized(&self, authorizer_appid: &str) -> Result<PushReply, PushError> {
        push_authorization(
            &self.shared,
            AuthorizationEvent::Unauthorized,
            authorizer_appid,
        )
        .await
        .map(|(_, reply)| reply)
    }

    /// A user sends a text message to the authorizer's account.
    pub async fn push_text(
        &self,
        authorizer_appid: &str,
        from_user: &str,
        content: &str,
    ) -> Result<PushReply, PushError> {
        push_message(
            &self.shared,
            authorizer_appid,
            from_user,
            &[
                ("MsgType", MessageField::Text("text")),
                ("Content", MessageField::Text(content)),
                ("MsgId", MessageField::Number(msg_id())),
            ],
        )
        .await
    }

    /// An event on the authorizer's message URL (`weapp_audit_success`, `subscribe`, ...) with
    /// its own fields after `Event`.
    pub async fn push_event(
        &self,
        authorizer_appid: &str,
        from_user: &str,
        event: &str,
        fields: &[(&str, MessageField<'_>)],
    ) -> Result<PushReply, PushError> {
        let mut body = vec![
            ("MsgType", MessageField::Text("event")),
            ("Event", MessageField::Text(event)),
        ];
        body.extend_from_slice(fields);
        push_message(&self.shared, authorizer_appid, from_user, &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{Path, Query, State};
    use axum::routing::post;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use wxcomponent::ManualClock;
    use wxcomponent::crypto::PushQuery;
    use wxcomponent::event::{AuthorizerMessage, ComponentEvent, ComponentEventKind, MessageKind};

    /// What the tiny platform received: (path, plaintext, envelope AppId, envelope ToUserName).
    type Received = Arc<Mutex<Vec<(String, String, Option<String>, Option<String>)>>>;

    /// A platform on 127.0.0.1 that checks every push with the library's crypto, answers
    /// component events `success` and echoes text messages as an encrypted passive reply.
    async fn tiny_platform(config: &SimConfig) -> (String, Received) {
        let crypto = MessageCrypto::new(
            Secret::new(config.token.clone()),
            config.component_appid.clone(),
            AesKey::from_encoding_aes_key(&config.encoding_aes_key).unwrap(),
            None,
        );
        let received: Received = Arc::default();
        let state = (crypto, received.clone());
        type St = (MessageCrypto, Received);

        async fn component(
            State((crypto, received)): State<St>,
            Query(query): Query<HashMap<String, String>>,
            body: Bytes,
        ) -> (axum::http::StatusCode, String) {
            match crypto.open_push(&PushQuery::from_pairs(query), &body) {
                Ok(push) => {
                    received.lock().unwrap().push((
                        "component".into(),
                        push.plaintext,
                        push.envelope_app_id,
                        push.envelope_to_user_name,
                    ));
                    (axum::http::StatusCode::OK, "success".into())
                }
                Err(e) => (axum::http::StatusCode::FORBIDDEN, e.to_string()),
            }
        }

        async fn message(
            State((crypto, received)): State<St>,
            Path(appid): Path<String>,
            Query(query): Query<HashMap<String, String>>,
            body: Bytes,
        ) -> (axum::http::StatusCode, String) {
            let push = match crypto.open_push(&PushQuery::from_pairs(query), &body) {
                Ok(push) => push,
                Err(e) => return (axum::http::StatusCode::FORBIDDEN, e.to_string()),
            };
            received.lock().unwrap().push((
                format!("message/{appid}"),
                push.plaintext.clone(),
                push.envelope_app_id,
                push.envelope_to_user_name,
            ));
            let message = AuthorizerMessage::parse(&push.plaintext).unwrap();
            match &message.kind {
                MessageKind::Text { content, .. } => {
                    let reply = message.text_reply(&format!("{content}_callback"), 1);
                    let envelope = crypto
                        .encrypt_reply(&reply, "1700000000", "nonce1", &random16())
                        .unwrap();
                    (axum::http::StatusCode::OK, envelope)
                }
                _ => (axum::http::StatusCode::OK, String::new()),
            }
        }

        let router = Router::new()
            .route("/component", post(component))
            .route("/message/{appid}", post(message))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (base, received)
    }

    async fn sim_with_platform() -> (WechatSim, Received) {
        let config = SimConfig::random();
        let (base, received) = tiny_platform(&config).await;
        let sim = WechatSim::start(config, ManualClock::at(1_767_225_600))
            .await
            .unwrap();
        sim.set_push_targets(PushTargets {
            authorization_event_url: Some(format!("{base}/component")),
            message_url: Some(format!("{base}/message/$APPID$")),
        });
        (sim, received)
    }

    #[tokio::test]
    async fn a_ticket_push_is_signed_encrypted_and_carries_a_ticket_the_sim_accepts() {
        let (sim, received) = sim_with_platform().await;

        let push = sim.push_ticket().await.unwrap();

        assert_eq!(push.reply.status, 200);
        assert_eq!(push.reply.body, "success");
        assert_eq!(push.reply.decrypted, None);
        assert_eq!(sim.current_ticket(), Some(push.ticket.clone()));
        let (path, plaintext, app_id, to) = received.lock().unwrap()[0].clone();
        assert_eq!(path, "component");
        assert_eq!(app_id, Some(sim.config().component_appid));
        assert_eq!(to, None);
        let event = ComponentEvent::parse(&plaintext).unwrap();
        match event.kind {
            ComponentEventKind::VerifyTicket { ticket } => {
                assert_eq!(ticket.expose(), push.ticket)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(event.create_time, 1_767_225_600);
    }

    #[tokio::test]
    async fn authorization_pushes_carry_a_real_code_and_unauthorized_revokes() {
        let (sim, received) = sim_with_platform().await;

        let authorized = sim.push_authorized("wxauthorizer0000001").await.unwrap();
        let updated = sim
            .push_update_authorized("wxauthorizer0000001")
            .await
            .unwrap();
        let revoked = sim.push_unauthorized("wxauthorizer0000001").await.unwrap();

        assert_eq!(authorized.reply.body, "success");
        assert_eq!(revoked.status, 200);
        assert_ne!(authorized.auth_code, updated.auth_code);
        let received = received.lock().unwrap().clone();
        let kinds: Vec<_> = received
            .iter()
            .map(|(_, xml, _, _)| ComponentEvent::parse(xml).unwrap().kind)
            .collect();
        match &kinds[0] {
            ComponentEventKind::Authorized(a) => {
                assert_eq!(a.authorizer_appid.as_str(), "wxauthorizer0000001");
                assert_eq!(a.authorization_code.expose(), authorized.auth_code);
                assert_eq!(a.authorization_code_expires_at, 1_767_225_600 + 600);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&kinds[1], ComponentEventKind::UpdateAuthorized(a) if a.authorization_code.expose() == updated.auth_code)
        );
        assert!(matches!(&kinds[2], ComponentEventKind::Unauthorized { .. }));
        assert!(matches!(
            sim.push_unauthorized("wxnobody").await,
            Err(PushError::UnknownAuthorizer(_))
        ));
    }

    #[tokio::test]
    async fn a_text_message_goes_to_the_authorizers_url_and_the_encrypted_reply_is_decrypted() {
        let (sim, received) = sim_with_platform().await;
        sim.add_authorizer("wxauthorizer0000002");
        let user_name = sim.user_name_of("wxauthorizer0000002").unwrap();

        let reply = sim
            .push_text(
                "wxauthorizer0000002",
                "oUser123",
                "TESTCOMPONENT_MSG_TYPE_TEXT",
            )
            .await
            .unwrap();

        assert_eq!(reply.status, 200);
        let decrypted = AuthorizerMessage::parse(reply.decrypted.as_deref().unwrap()).unwrap();
        assert_eq!(decrypted.to_user_name, "oUser123");
        assert_eq!(decrypted.from_user_name, user_name);
        assert!(
            matches!(&decrypted.kind, MessageKind::Text { content, .. } if content == "TESTCOMPONENT_MSG_TYPE_TEXT_callback")
        );
        let (path, _, app_id, to) = received.lock().unwrap()[0].clone();
        assert_eq!(path, "message/wxauthorizer0000002");
        assert_eq!(to, Some(user_name));
        assert_eq!(app_id, None);

        let event = sim
            .push_event(
                "wxauthorizer0000002",
                "oSystem",
                "weapp_audit_success",
                &[("SuccTime", MessageField::Number(1_767_225_600))],
            )
            .await
            .unwrap();
        assert_eq!(event.body, "");
        let (_, xml, _, _) = received.lock().unwrap()[1].clone();
        assert!(matches!(
            AuthorizerMessage::parse(&xml).unwrap().kind,
            MessageKind::WeappAuditSuccess {
                succ_time: 1_767_225_600
            }
        ));
    }

    #[tokio::test]
    async fn without_a_target_a_push_is_refused_and_a_platform_with_another_token_rejects_it() {
        let sim = WechatSim::start(SimConfig::random(), ManualClock::at(1))
            .await
            .unwrap();
        assert!(matches!(
            sim.push_ticket().await,
            Err(PushError::NoTarget("authorization_event_url"))
        ));

        // A platform with another token: its reply envelope does not verify.
        let mut other = sim.config();
        other.token = "another-token".into();
        let (base, _) = tiny_platform(&other).await;
        sim.add_authorizer("wxauthorizer0000003");
        sim.set_push_targets(PushTargets {
            authorization_event_url: None,
            message_url: Some(format!("{base}/message/$APPID$")),
        });
        let reply = sim
            .push_text("wxauthorizer0000003", "oUser", "hi")
            .await
            .unwrap();
        // The platform itself refused the push: its signature check failed.
        assert_eq!(reply.status, 403);
    }
}
