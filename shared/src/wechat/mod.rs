//! The WeChat API client: the component APIs and the machinery later API groups share.
//!
//! One [`WechatClient`] per process, built from a base URL (a simulator's in tests), with connect and
//! per-attempt timeouts and a bounded, jittered [`RetryPolicy`]. Endpoints that need the component's
//! token take a [`ComponentAccessToken`]; those that act for an authorizer take an
//! [`AuthorizerAccessToken`]. Errors ([`WechatError`]) and logs carry API paths, never URLs, bodies,
//! tokens, tickets, codes or secrets.

mod access_tokens;
mod client;
mod component;
#[cfg(feature = "coverage")]
pub mod coverage;
pub mod deadline;
mod error;
mod message;
pub mod miniprogram;
mod multipart;
pub mod official_account;
mod openapi;
mod retry;
pub mod user_data;

pub use access_tokens::{AuthorizerAccessToken, ComponentAccessToken};
pub use client::{
    ClientConfig, Credential, Endpoint, NoToken, RAW_PATH_LABEL, RawResponse, WechatClient,
};
pub use component::{
    AUTHORIZER_LIST_MAX_PAGE, Authorization, AuthorizationSummary, AuthorizerInfo,
    AuthorizerInfoResponse, AuthorizerListItem, AuthorizerListPage, AuthorizerOption,
    AuthorizerOptionName, AuthorizerTokens, FuncInfo, IdOnly, PreAuthCode,
};
pub use error::{DecodeDetail, WechatError, errcode, fix_for};
pub use message::{CustomMessage, CustomMessageBody, TextContent};
pub use multipart::FilePart;
pub use official_account::{JsapiTicket, OAuthScope, UserGrant, UserInfo, jssdk_signature};
pub use openapi::ApiQuota;
pub use retry::RetryPolicy;
