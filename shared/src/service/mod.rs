//! Use cases over the store and the WeChat client.
//!
//! [`TokenService`] hands out valid component and authorizer access tokens: it serves a stored one
//! while it has more than a margin left, refreshes single-flight under a store lease otherwise,
//! replaces a token WeChat rejected (40001 / 40014 / 42001) only if it is still the stored one, and
//! completes authorizations idempotently. Its errors ([`TokenError`]) are for callers to branch on;
//! mapping them to HTTP statuses is the function adapters' business.
//!
//! [`Refresher`] is the scheduled run over every due token; the `directory` module holds the
//! provider API's other use cases (listing, health, authorization links).

mod authorization;
mod directory;
mod error;
mod refresher;
mod tokens;

pub use authorization::{AuthLinks, AuthType, AuthorizationLinkRequest, authorization_links};
pub use directory::{
    AccountView, AuthLinksRequest, AuthLinksView, AuthorizerPage, AuthorizerView, Health,
    StatusCountsView, TICKET_HEALTHY_FOR_SECS,
};
pub use error::TokenError;
pub use refresher::{ComponentTokenStep, RefreshSummary, Refresher, RefresherSettings, Skipped};
pub use tokens::{RefreshOutcome, TokenService, TokenSettings};
