//! A minimal stand-in for WeChat's authorization pages, so the whole flow can be clicked through
//! locally (there is no mp.weixin.qq.com on loopback):
//!
//! | route | what |
//! |---|---|
//! | `GET /cgi-bin/componentloginpage`, `GET /wxaopen/safe/bindcomponent` | WeChat's PC and mobile pages: check the component, the pre-auth code and the referrer, then offer an "Authorize as test merchant" link |
//! | `GET /connect/oauth2/authorize` | WeChat's web authorization page for an official account's user: checks the component, the account, `response_type` and `scope`; the sim's user agrees at once, and the browser goes to `redirect_uri?code=..&state=..&appid=..` |
//! | `GET /__sim/landing` | a stand-in for the provider's own page: shows the query it was opened with (the signed result of a web authorization) |
//! | `GET /__sim/auth/confirm` | the merchant confirms: the pre-auth code is spent, the account (`biz_appid`, or a new random one) authorizes, and the browser goes to `redirect_uri?auth_code=..&expires_in=..` |
//!
//! Like WeChat, the page refuses to work when it was not reached by a click from another page
//! (no `Referer`): "授权入口页所在域名：空".

use super::Shared;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><p><small>wechat-sim: a stand-in for WeChat's authorization page</small></p>{body}</body></html>",
        escape(title)
    ))
}

/// WeChat's authorization page (PC or mobile; the sim treats them alike).
pub(crate) async fn login_page(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let get = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    if headers.get(header::REFERER).is_none() {
        return page(
            "授权入口页所在域名：空",
            "<h1>授权入口页所在域名：空</h1><p>Open this page by clicking a link on the \
             authorization launch page, not from the address bar.</p>",
        )
        .into_response();
    }
    let problem = {
        let state = shared.lock();
        if get("component_appid") != state.config.component_appid {
            Some("the component_appid is not this component's")
        } else if !state.pre_auth_code_valid(get("pre_auth_code")) {
            Some("the pre_auth_code is invalid, used or expired")
        } else if url::Url::parse(get("redirect_uri")).is_err() {
            Some("the redirect_uri is not a URL")
        } else {
            None
        }
    };
    if let Some(problem) = problem {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Authorization failed",
                &format!("<h1>Authorization failed</h1><p>{}</p>", escape(problem)),
            ),
        )
            .into_response();
    }
    let confirm = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("pre_auth_code", get("pre_auth_code"))
        .append_pair("redirect_uri", get("redirect_uri"))
        .append_pair("biz_appid", get("biz_appid"))
        .finish();
    page(
        "Authorize",
        &format!(
            "<h1>Authorize the platform {}</h1><p>auth_type {}</p>\
             <p><a id=\"confirm\" href=\"/__sim/auth/confirm?{}\">Authorize as test merchant</a></p>",
            escape(get("component_appid")),
            escape(get("auth_type")),
            escape(&confirm)
        ),
    )
    .into_response()
}

/// The merchant confirmed: spend the pre-auth code, authorize, go back to the platform.
pub(crate) async fn confirm(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let get = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let Ok(mut redirect) = url::Url::parse(get("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    let (code, expires_in) = {
        let mut state = shared.lock();
        if !state.take_pre_auth_code(get("pre_auth_code")) {
            return (
                StatusCode::BAD_REQUEST,
                "the pre_auth_code is invalid, used or expired",
            )
                .into_response();
        }
        let appid = match get("biz_appid") {
            "" => format!("wx{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            given => given.to_owned(),
        };
        (state.authorize(&appid), state.config.auth_code_expires_in)
    };
    redirect
        .query_pairs_mut()
        .append_pair("auth_code", &code)
        .append_pair("expires_in", &expires_in.to_string());
    (
        StatusCode::FOUND,
        [(header::LOCATION, redirect.to_string())],
        "",
    )
        .into_response()
}

/// WeChat's web authorization page (代公众号发起网页授权).
pub(crate) async fn oauth_page(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let answer = shared.lock().oauth_page(&query);
    match answer {
        super::state::OAuthPage::Redirect(location) => {
            (StatusCode::FOUND, [(header::LOCATION, location)], "").into_response()
        }
        super::state::OAuthPage::Refused(problem) => (
            StatusCode::BAD_REQUEST,
            page(
                "授权失败",
                &format!("<h1>授权失败</h1><p>{}</p>", escape(problem)),
            ),
        )
            .into_response(),
    }
}

/// A stand-in for the provider's page that a web authorization ends at: the parameters it got.
pub(crate) async fn landing(Query(query): Query<BTreeMap<String, String>>) -> Response {
    let rows: String = query
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><th>{}</th><td id=\"{}\">{}</td></tr>",
                escape(k),
                escape(k),
                escape(v)
            )
        })
        .collect();
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Provider page</title></head>\
         <body><p><small>wechat-sim: a stand-in for the provider's own page</small></p>\
         <h1>The provider's page was opened with</h1><table>{rows}</table></body></html>"
    ))
    .into_response()
}
