//! Acting for mini programs (and the component's own mini-program settings): every API group of
//! the wechat3rd Go SDK's list (docs/api-coverage.md) beyond the component APIs, one module per
//! group.
//!
//! Each method takes the token its endpoint needs: [`ComponentAccessToken`] for the component's own
//! settings (third-party domains, code templates, fast registration), [`AuthorizerAccessToken`] for
//! everything done for one account:
//!
//! ```no_run
//! # use wxcomponent::wechat::{AuthorizerAccessToken, ComponentAccessToken, WechatClient};
//! # async fn f(client: &WechatClient, account: &AuthorizerAccessToken, component: &ComponentAccessToken) {
//! let _ = client.release(account).await;
//! let _ = client.get_template_draft_list(component).await;
//! # }
//! ```
//!
//! Passing the other kind does not compile:
//!
//! ```compile_fail
//! # use wxcomponent::wechat::{ComponentAccessToken, WechatClient};
//! # async fn f(client: &WechatClient, token: &ComponentAccessToken) {
//! // Committing code acts for one mini program: it needs that account's authorizer token.
//! let _ = client.release(token).await;
//! # }
//! ```
//!
//! ```compile_fail
//! # use wxcomponent::wechat::{AuthorizerAccessToken, WechatClient};
//! # async fn f(client: &WechatClient, token: &AuthorizerAccessToken) {
//! // Code templates belong to the component: an authorizer token is refused at compile time.
//! let _ = client.get_template_draft_list(token).await;
//! # }
//! ```
//!
//! [`ComponentAccessToken`]: super::ComponentAccessToken
//! [`AuthorizerAccessToken`]: super::AuthorizerAccessToken

pub mod basic_info;
pub mod beta;
pub mod category;
pub mod code;
pub mod domain;
pub mod login;
pub mod media;
pub mod open_account;
pub mod plugin;
pub mod privacy;
pub mod register;
pub mod rid;
pub mod subscribe;
pub mod template;
pub mod tester;
pub mod unionid;
pub mod violation;
pub mod wxacode;

use serde::{Deserialize, Serialize};

/// The `add` / `delete` / `set` / `get` actions of WeChat's domain endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainAction {
    Add,
    Delete,
    Set,
    Get,
}

/// `{}`: the body of POST endpoints that take no parameters.
#[derive(Serialize)]
pub(crate) struct Empty {}
