//! Use cases over the store and the WeChat client, put together as one [`Application`] on one
//! [`Context`] (see `context.rs` for the table of use cases and their error types). The errors
//! are for callers to branch on; mapping them to HTTP statuses is the function adapters' business.
//!
//! [`TokenService`] hands out valid component and authorizer access tokens: it serves a stored one
//! while it has more than a margin left, refreshes single-flight under a store lease otherwise,
//! and replaces a token WeChat rejected (40001 / 40014 / 42001) only if it is still the stored one.
//! [`Authorizations`] starts authorizations and completes them idempotently; [`Directory`] reads
//! what is stored; [`Audits`] keeps code audits in step with WeChat.
//!
//! [`PushService`] handles WeChat's pushes (tickets, authorization events, the message URL and the
//! full-network release test), acting on each push once through the [`PushLedger`].
//! [`AuthFlow`] is the merchant's side of authorization: launch page, jump to WeChat, callback.
//! [`Refresher`] is the scheduled run over every due token.

mod audit;
mod auth_flow;
pub mod auth_state;
mod authorization;
mod campaign;
mod campaign_worker;
mod context;
mod directory;
mod error;
mod official_accounts;
mod pages;
pub mod passthrough;
mod publishing;
mod push_handling;
mod refresher;
mod single_flight;
mod token_service;
pub mod web_oauth;

pub use audit::{AuditOverview, AuditView, Audits, ReleaseKind, ReleaseOutcome, WithdrawalsView};
pub use auth_flow::{
    AuthFlow, AuthFlowSettings, AuthStart, AuthStartError, CALLBACK_PATH, CallbackError,
    CallbackOutcome, CallbackResponse, DEFAULT_MOBILE_AUTH_PAGE_BASE, DEFAULT_PC_AUTH_PAGE_BASE,
    Device, NoCallbackUrl, RequestOrigin, StartError, StartedAuthorization,
};
pub use auth_state::{ProviderState, SigningKey, SuccessRedirect};
pub use authorization::{
    AuthLinks, AuthLinksRequest, AuthLinksView, AuthType, AuthorizationLinkRequest, Authorizations,
    DEFAULT_COMPLETION_BUDGET, WhenRefused, authorization_links,
};
pub use campaign::{
    CampaignAppPage, CampaignAppView, CampaignError, CampaignPage, CampaignRequest, CampaignView,
    CampaignWaker, Campaigns, InvalidCampaign, MAX_COHORT, MAX_WAVES, render_ext_json,
};
pub use campaign_worker::{
    CODE_MANAGEMENT_PERMISSION, CampaignWorker, Disposition, WorkerSettings, WorkerSummary,
    classify, hint_for,
};
pub use context::{Application, Context};
pub use directory::{
    AccountView, AuthorizerPage, AuthorizerSearch, AuthorizerView, Directory, Health,
    StatusCountsView, TICKET_HEALTHY_FOR_SECS,
};
pub use error::{AuditError, AuthorizationError, DirectoryError, TokenError, WithdrawError};
pub use official_accounts::{
    JssdkConfig, JssdkError, MAX_JSSDK_URL_LEN, OfficialAccounts, signed_page_url,
};
pub use pages::{Lang, Notice, Pages};
pub use publishing::{DRAIN_BATCH, DrainSummary, EventPublisher, PUBLISH_BUDGET};
pub use push_handling::{
    OsRandomness, PushError, PushReply, PushService, PushSettings, RELEASE_TEST_ACCOUNTS,
    RELEASE_TEST_API_SUFFIX, RELEASE_TEST_QUERY_AUTH_CODE, RELEASE_TEST_TEXT,
    RELEASE_TEST_TEXT_REPLY, ReplyRandomness, release_test_user_name,
};
pub use refresher::{ComponentTokenStep, RefreshSummary, Refresher, RefresherSettings, Skipped};
pub use token_service::{RefreshOutcome, TokenService, TokenSettings};
pub use web_oauth::{
    OAUTH_CALLBACK_PATH, WebOAuth, WebOAuthAnswer, WebOAuthCallbackError, WebOAuthRequest,
    WebOAuthRequestError, WebOAuthSettings, WebOAuthStartError, verify_oauth_query,
};
