//! The application's context, and the application made of it.
//!
//! [`Context`] is what every use case works with: the store, the WeChat client, the clock and
//! the settings, with the component appid (the client's, so the two never disagree).
//! [`Application`] is one context and one handle per use case, each in its own module with its
//! own error type:
//!
//! | use case | module | error |
//! |---|---|---|
//! | valid tokens, refreshed once | `token_service` | [`TokenError`](super::TokenError) |
//! | starting and completing authorizations | `authorization` | [`AuthorizationError`](super::AuthorizationError) |
//! | what is stored, as the provider reads it | `directory` | [`DirectoryError`](super::DirectoryError) |
//! | code audits | `audit` | [`AuditError`](super::AuditError) |
//! | the guarded passthrough | `passthrough` | [`PassthroughError`](super::passthrough::PassthroughError) |
//! | official accounts' JS-SDK signatures and web users | `official_accounts` | [`JssdkError`](super::JssdkError) |
//!
//! The push service, the merchant's authorization flow and the refresher are built on an
//! [`Application`] by the function that runs them.

use std::sync::Arc;
use std::time::Instant;

use super::audit::Audits;
use super::authorization::Authorizations;
use super::directory::Directory;
use super::official_accounts::OfficialAccounts;
use super::passthrough::Passthrough;
use super::publishing::EventPublisher;
use super::token_service::{TokenService, TokenSettings};
use crate::clock::{Clock, EpochSeconds};
use crate::events::{EventBus, ProductEvent};
use crate::ids::ComponentAppId;
use crate::store::Store;
use crate::wechat::WechatClient;

/// The store, the WeChat client, the clock and the settings. Cheap to clone.
pub struct Context<S> {
    parts: Arc<Parts<S>>,
}

pub(super) struct Parts<S> {
    pub(super) store: Arc<S>,
    pub(super) client: WechatClient,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) component: ComponentAppId,
    pub(super) settings: TokenSettings,
    pub(super) bus: Option<EventBus>,
}

impl<S> Clone for Context<S> {
    fn clone(&self) -> Self {
        Self {
            parts: self.parts.clone(),
        }
    }
}

impl<S: Store + 'static> Context<S> {
    /// The component appid is the client's.
    pub fn new(
        store: Arc<S>,
        client: WechatClient,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> Self {
        let component = client.component_appid().clone();
        Self {
            parts: Arc::new(Parts {
                store,
                client,
                clock,
                component,
                settings,
                bus: None,
            }),
        }
    }

    /// The same context, publishing its events on `bus` (none: they wait in the outbox).
    pub fn with_event_bus(self, bus: Option<EventBus>) -> Self {
        let p = &self.parts;
        Self {
            parts: Arc::new(Parts {
                store: p.store.clone(),
                client: p.client.clone(),
                clock: p.clock.clone(),
                component: p.component.clone(),
                settings: p.settings.clone(),
                bus,
            }),
        }
    }

    /// The event publishing use case on this context's store and bus.
    pub fn events(&self) -> EventPublisher<S> {
        EventPublisher::new(
            self.parts.store.clone(),
            self.parts.component.clone(),
            self.parts.bus.clone(),
        )
    }

    /// Publishes `events`, just recorded with the change they describe, and marks those the bus
    /// took, giving up at `by`: what is not published by then waits for the scheduled drain.
    pub async fn publish_recorded(&self, events: &[ProductEvent], by: Instant) {
        self.events().publish_recorded(events, by).await;
    }
}

impl<S> Context<S> {
    pub(super) fn parts(&self) -> &Parts<S> {
        &self.parts
    }

    pub fn component_appid(&self) -> &ComponentAppId {
        &self.parts.component
    }

    pub fn client(&self) -> &WechatClient {
        &self.parts.client
    }

    pub fn store(&self) -> &Arc<S> {
        &self.parts.store
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.parts.settings
    }

    /// The clock everything runs by.
    pub fn clock(&self) -> &dyn Clock {
        self.parts.clock.as_ref()
    }

    pub fn now(&self) -> EpochSeconds {
        self.parts.clock.now()
    }
}

/// One context and its use cases. Cheap to clone.
pub struct Application<S> {
    pub context: Context<S>,
    pub tokens: TokenService<S>,
    pub authorizations: Authorizations<S>,
    pub directory: Directory<S>,
    pub audits: Audits<S>,
    pub passthrough: Passthrough<S>,
    pub official_accounts: OfficialAccounts<S>,
}

impl<S> Clone for Application<S> {
    fn clone(&self) -> Self {
        Self {
            context: self.context.clone(),
            tokens: self.tokens.clone(),
            authorizations: self.authorizations.clone(),
            directory: self.directory.clone(),
            audits: self.audits.clone(),
            passthrough: self.passthrough.clone(),
            official_accounts: self.official_accounts.clone(),
        }
    }
}

impl<S: Store + 'static> Application<S> {
    pub fn new(context: Context<S>) -> Self {
        let tokens = TokenService::new(context.clone());
        Self {
            authorizations: Authorizations::new(tokens.clone()),
            directory: Directory::new(context.clone()),
            audits: Audits::new(tokens.clone()),
            passthrough: Passthrough::new(tokens.clone()),
            official_accounts: OfficialAccounts::new(tokens.clone()),
            tokens,
            context,
        }
    }

    /// The application on `store`, `client`, `clock` and `settings`.
    pub fn assemble(
        store: Arc<S>,
        client: WechatClient,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> Self {
        Self::new(Context::new(store, client, clock, settings))
    }
}
