//! The application, put together once: the clock, the DynamoDB client and store, the WeChat
//! client, and the [`Application`] (context and use cases) on them. The four functions' mains
//! build it with [`production`]; the test harness builds it with [`assemble`] on DynamoDB Local,
//! the simulator's client and a manual clock, so the tests run the wiring the functions run.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::crypto::MessageCrypto;
use crate::events::{EventBus, eventbridge_client};
use crate::service::{
    Application, AuthFlow, AuthFlowSettings, CampaignWorker, Campaigns, Context, PushService,
    PushSettings, TokenSettings, WebOAuth, WebOAuthSettings, WorkerSettings,
};
use crate::store::{DynamoPushLedger, DynamoStore, dynamodb_client};
use crate::wechat::{ClientConfig, WechatClient, WechatError};

/// The application's parts, shared by every use case of one function.
#[derive(Clone)]
pub struct App {
    pub clock: Arc<dyn Clock>,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub store: Arc<DynamoStore>,
    pub application: Application<DynamoStore>,
}

/// The parts on `dynamodb` and `table`, with `client` for WeChat and `bus` for the product's
/// events (none: they wait in the outbox).
pub fn assemble(
    dynamodb: aws_sdk_dynamodb::Client,
    table: &str,
    clock: Arc<dyn Clock>,
    client: WechatClient,
    settings: TokenSettings,
    bus: Option<EventBus>,
) -> App {
    let store = Arc::new(DynamoStore::new(dynamodb.clone(), table, clock.clone()));
    let context = Context::new(store.clone(), client, clock.clone(), settings).with_event_bus(bus);
    let application = Application::new(context);
    App {
        clock,
        dynamodb,
        store,
        application,
    }
}

/// The production parts: the system clock, the AWS SDK's configuration from the environment
/// (`AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL_EVENTBRIDGE` point DynamoDB and
/// EventBridge elsewhere), the WeChat client with `client`'s timeouts and retries, and the
/// event bus `EVENT_BUS_NAME` if set.
pub async fn production(
    config: &Config,
    client: ClientConfig,
    settings: TokenSettings,
) -> Result<App, WechatError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Read once, for both HTTPS clients (see `crate::tls`).
    let roots = crate::tls::TrustedRoots::system();
    let sdk = crate::tls::sdk_config(roots.as_ref()).await;
    let mut client = client;
    client.roots = roots;
    let wechat = WechatClient::new(
        client,
        config.component_appid.clone(),
        config.component_secret.clone(),
        clock.clone(),
    )?;
    let bus = config
        .event_bus_name
        .as_ref()
        .map(|name| EventBus::new(eventbridge_client(&sdk), name.clone()));
    Ok(assemble(
        dynamodb_client(&sdk),
        &config.table_name,
        clock,
        wechat,
        settings,
        bus,
    ))
}

impl App {
    /// The push ledger, in the same table.
    pub fn push_ledger(&self) -> Arc<DynamoPushLedger> {
        Arc::new(DynamoPushLedger::new(
            self.dynamodb.clone(),
            self.store.table_name(),
            self.clock.clone(),
        ))
    }

    /// The push service (the ticket-callback function's use case); audit results of release
    /// campaigns wake their apps.
    pub fn push_service(
        &self,
        crypto: MessageCrypto,
        settings: PushSettings,
    ) -> PushService<DynamoStore, DynamoPushLedger> {
        PushService::new(
            self.application.clone(),
            self.push_ledger(),
            crypto,
            settings,
        )
        .with_campaign_waker(self.store.clone())
    }

    /// The release campaigns of the provider API.
    pub fn campaigns(&self) -> Campaigns {
        Campaigns::new(self.application.clone())
    }

    /// The release campaign engine (the campaign-worker function's use case).
    pub fn campaign_worker(&self, settings: WorkerSettings) -> CampaignWorker {
        CampaignWorker::new(self.application.clone(), settings)
    }

    /// Web authorization of official accounts' users (auth-redirect's `/oauth` routes).
    pub fn web_oauth(&self, settings: WebOAuthSettings) -> WebOAuth<DynamoStore> {
        WebOAuth::new(self.application.tokens.clone(), settings)
    }

    /// The merchant's authorization flow (the auth-redirect function's use case).
    pub fn auth_flow(&self, settings: AuthFlowSettings) -> AuthFlow<DynamoStore> {
        AuthFlow::new(self.application.authorizations.clone(), settings)
    }
}
