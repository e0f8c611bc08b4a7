//! Signing in and the session: the operator key, checked in constant time against
//! `CONSOLE_KEY_SHA256`; a session kept in the table (its id's SHA-256) and named by a signed,
//! expiring cookie; a CSRF token on every form; and a limit on failed sign-ins per client.
//!
//! - The session cookie is `<id>.<expiry>.<sig>`: a random 256-bit id, the expiry (epoch
//!   seconds) and the HMAC-SHA256 of both with `AUTH_SIGNING_SECRET`. A cookie whose signature
//!   or expiry is wrong is refused without a table read; one whose session was ended (signed out)
//!   is refused by the read. `HttpOnly`, `SameSite=Strict`, `Secure` unless the host is a
//!   loopback address (a local run over plain HTTP); no `Path`, so the browser scopes it to the
//!   console's own path, behind whatever prefix.
//! - A form's CSRF token is the HMAC of the session's id digest: a page of another site can
//!   neither read it nor (`SameSite=Strict`) send the cookie along.
//! - The sign-in form carries the HMAC of a nonce that a cookie of its own holds (double submit).
//! - After [`MAX_FAILED_SIGN_INS`] failures from one client address in a window of
//!   [`SIGN_IN_WINDOW_SECS`], sign-ins from it are refused with a 429 before the key is looked at.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use wxcomponent::crypto::ct_eq;
use wxcomponent::store::{ConsoleSession, ConsoleStore};

use crate::{AppState, Here, html, see_other, views};

/// The session cookie.
pub const SESSION_COOKIE: &str = "wxc_console";
/// The sign-in form's nonce cookie.
pub const SIGN_IN_COOKIE: &str = "wxc_console_signin";
/// How long a session lasts.
pub const SESSION_SECS: i64 = 8 * 3600;
/// How long a sign-in form may be left open.
pub const SIGN_IN_FORM_SECS: i64 = 3600;
/// The window failed sign-ins are counted in.
pub const SIGN_IN_WINDOW_SECS: i64 = 15 * 60;
/// Failed sign-ins a client may make in one window.
pub const MAX_FAILED_SIGN_INS: u32 = 5;

/// The signed-in operator, put in the request's extensions by [`require_session`].
#[derive(Debug, Clone)]
pub struct Operator {
    pub(crate) id_digest: String,
    /// The CSRF token every form of this session carries.
    pub(crate) csrf: String,
}

fn digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn session_message(id: &str, expires_at: i64) -> String {
    format!("console-session\n{id}\n{expires_at}")
}

fn csrf_of(state: &AppState, id_digest: &str) -> String {
    state
        .settings
        .signing
        .sign(&format!("console-csrf\n{id_digest}"))
}

fn sign_in_token(state: &AppState, nonce: &str) -> String {
    state
        .settings
        .signing
        .sign(&format!("console-signin\n{nonce}"))
}

/// The value of cookie `name` among the request's `Cookie` headers.
fn cookie<'r>(request: &'r axum::http::request::Parts, name: &str) -> Option<&'r str> {
    request
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn set_cookie(response: &mut Response, here: &Here, name: &str, value: &str, max_age: i64) {
    let secure = if here.local { "" } else { "; Secure" };
    let cookie = format!("{name}={value}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The session the request's cookie names, if it is validly signed, unexpired and not ended.
async fn session_of(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<Option<Operator>, wxcomponent::store::StoreError> {
    let Some(value) = cookie(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    let mut fields = value.split('.');
    let (Some(id), Some(expires), Some(sig), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Ok(None);
    };
    let Ok(expires_at) = expires.parse::<i64>() else {
        return Ok(None);
    };
    if !state
        .settings
        .signing
        .verify(&session_message(id, expires_at), sig)
    {
        return Ok(None);
    }
    let context = &state.app.context;
    if expires_at <= context.now() {
        return Ok(None);
    }
    let id_digest = digest(id);
    let stored = context
        .store()
        .console_session(context.component_appid(), &id_digest)
        .await?;
    Ok(stored.map(|_| Operator {
        csrf: csrf_of(state, &id_digest),
        id_digest,
    }))
}

/// Lets the request through with its [`Operator`], or sends the browser to the sign-in form.
pub(crate) async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let here = Here::of(&parts);
    match session_of(&state, &parts).await {
        Ok(Some(operator)) => {
            parts.extensions.insert(operator);
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(None) => {
            let mut response = see_other(&here.root);
            if cookie(&parts, SESSION_COOKIE).is_some() {
                set_cookie(&mut response, &here, SESSION_COOKIE, "", 0);
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not read the session");
            views::message(
                &here,
                StatusCode::SERVICE_UNAVAILABLE,
                here.texts().unavailable,
            )
        }
    }
}

/// The sign-in form with a fresh nonce, and `notice` above it.
fn sign_in_page(
    state: &AppState,
    here: &Here,
    status: StatusCode,
    notice: Option<&str>,
) -> Response {
    let nonce = random_hex();
    let token = sign_in_token(state, &nonce);
    let mut response = html(status, views::sign_in(state, here, &token, notice));
    set_cookie(
        &mut response,
        here,
        SIGN_IN_COOKIE,
        &nonce,
        SIGN_IN_FORM_SECS,
    );
    response
}

/// `GET /console/`: the form, or the authorizers for a signed-in operator.
pub(crate) async fn sign_in_form(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let here = Here::of(&parts);
    if let Ok(Some(_)) = session_of(&state, &parts).await {
        return see_other(&format!("{}authorizers", here.root));
    }
    let notice = parts
        .uri
        .query()
        .is_some_and(|q| q == "signed_out")
        .then_some(here.texts().signed_out);
    sign_in_page(&state, &here, StatusCode::OK, notice)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

/// The client's address: API Gateway's (or `cargo lambda watch`'s) source IP, else the
/// connection's, else one shared bucket.
fn client_of(parts: &axum::http::request::Parts) -> String {
    let from_gateway = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    };
    from_gateway
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// `POST /console/login`.
pub(crate) async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let here = Here::of(&parts);
    let t = here.texts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await else {
        return sign_in_page(
            &state,
            &here,
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(t.invalid_input),
        );
    };
    let form: SignInForm = match serde_urlencoded::from_bytes(&bytes) {
        Ok(form) => form,
        Err(_) => {
            return sign_in_page(
                &state,
                &here,
                StatusCode::BAD_REQUEST,
                Some(t.invalid_input),
            );
        }
    };
    let fresh_form = cookie(&parts, SIGN_IN_COOKIE).is_some_and(|nonce| {
        ct_eq(
            sign_in_token(&state, nonce).as_bytes(),
            form.csrf.as_bytes(),
        )
    });
    if !fresh_form {
        tracing::info!("sign-in refused: the form's token does not match its cookie");
        return sign_in_page(&state, &here, StatusCode::FORBIDDEN, Some(t.form_expired));
    }
    let context = &state.app.context;
    let store = context.store();
    let component = context.component_appid();
    let now = context.now();
    let client = client_of(&parts);
    let window = now - now.rem_euclid(SIGN_IN_WINDOW_SECS);
    let unavailable = |e: wxcomponent::store::StoreError| {
        tracing::error!(error = %wxcomponent::logging::error_chain(&e), "sign-in could not be checked");
        views::message(&here, StatusCode::SERVICE_UNAVAILABLE, t.unavailable)
    };
    match store.failed_sign_ins(component, &client, window).await {
        Ok(failed) if failed >= MAX_FAILED_SIGN_INS => {
            tracing::warn!(client, "sign-in refused: too many failures");
            return sign_in_page(
                &state,
                &here,
                StatusCode::TOO_MANY_REQUESTS,
                Some(t.too_many_attempts),
            );
        }
        Ok(_) => {}
        Err(e) => return unavailable(e),
    }
    if !state.settings.key.matches(form.key.trim()) {
        if let Err(e) = store
            .add_failed_sign_in(component, &client, window, window + 2 * SIGN_IN_WINDOW_SECS)
            .await
        {
            return unavailable(e);
        }
        tracing::warn!(client, "sign-in refused: wrong key");
        return sign_in_page(&state, &here, StatusCode::UNAUTHORIZED, Some(t.wrong_key));
    }
    let id = random_hex();
    let expires_at = now + SESSION_SECS;
    let session = ConsoleSession {
        id_digest: digest(&id),
        created_at: now,
        expires_at,
    };
    if let Err(e) = store.put_console_session(component, &session).await {
        return unavailable(e);
    }
    tracing::info!(client, "signed in");
    let sig = state
        .settings
        .signing
        .sign(&session_message(&id, expires_at));
    let mut response = see_other(&format!("{}authorizers", here.root));
    set_cookie(
        &mut response,
        &here,
        SESSION_COOKIE,
        &format!("{id}.{expires_at}.{sig}"),
        SESSION_SECS,
    );
    set_cookie(&mut response, &here, SIGN_IN_COOKIE, "", 0);
    response
}

/// `POST /console/logout`: ends the session in the table and clears the cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    here: Here,
    Checked(operator, Nothing {}): Checked<Nothing>,
) -> Response {
    let context = &state.app.context;
    if let Err(e) = context
        .store()
        .delete_console_session(context.component_appid(), &operator.id_digest)
        .await
    {
        tracing::error!(error = %wxcomponent::logging::error_chain(&e), "could not end the session");
        return views::message(
            &here,
            StatusCode::SERVICE_UNAVAILABLE,
            here.texts().unavailable,
        );
    }
    let mut response = see_other(&format!("{}?signed_out", here.root));
    set_cookie(&mut response, &here, SESSION_COOKIE, "", 0);
    response
}

/// A form with no field but its CSRF token.
#[derive(Deserialize)]
pub(crate) struct Nothing {}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form of a signed-in page: the [`Operator`] and the form's fields, once its CSRF token is
/// the session's. A wrong or missing token is a 403 and the handler does not run.
pub(crate) struct Checked<T>(pub Operator, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Checked<T> {
    type Rejection = Response;

    async fn from_request(request: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let here = Here::of(&parts);
        let t = here.texts();
        let Some(operator) = parts.extensions.get::<Operator>().cloned() else {
            return Err(see_other(&here.root));
        };
        let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
            .await
            .map_err(|_| views::message(&here, StatusCode::PAYLOAD_TOO_LARGE, t.invalid_input))?;
        let presented: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField {
            csrf: String::new(),
        });
        if !ct_eq(presented.csrf.as_bytes(), operator.csrf.as_bytes()) {
            tracing::warn!("form refused: its CSRF token is not the session's");
            return Err(views::message(&here, StatusCode::FORBIDDEN, t.form_expired));
        }
        let value = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            views::message(
                &here,
                StatusCode::BAD_REQUEST,
                &format!("{}{e}", t.invalid_input),
            )
        })?;
        Ok(Self(operator, value))
    }
}
