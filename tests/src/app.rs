//! The whole back end on loopback in one call: a fresh DynamoDB Local table created from
//! template.yaml, the WeChat simulator, a WeChat client and the token service, all on one manual
//! clock. Later end-to-end tests build their handlers on top of a [`TestApp`].

use std::sync::Arc;
use std::time::Duration;

use crate::schema::{SchemaError, TEMPLATE_YAML, create_table_from_template};
use aws_sdk_dynamodb::Client as DynamoClient;
use wxcomponent::events::EventBus;
use wxcomponent::service::{Application, Authorizations, TokenService, TokenSettings};
use wxcomponent::store::{
    AccountInfo, AccountKind, AuthorizationGrant, Authorizer, AuthorizerStore, ComponentTokenStore,
    DynamoStore, ExpiringToken, Ticket, TicketStore,
};
use wxcomponent::wechat::{ClientConfig, WechatClient};
use wxcomponent::{AuthorizerAppId, ComponentAppId, ManualClock, Secret};

use crate::sim::{AuthorizerGrant, SimConfig, WechatSim};
use crate::wechat::WechatHarness;

pub use crate::wechat::START;

/// A running test back end. The table is left to DynamoDB Local, which runs in memory and is
/// stopped after the test run.
pub struct TestApp {
    pub sim: WechatSim,
    pub clock: ManualClock,
    pub client: WechatClient,
    pub store: Arc<DynamoStore>,
    /// The token use case of [`TestApp::application`].
    pub service: TokenService<DynamoStore>,
    pub component: ComponentAppId,
    pub dynamodb: DynamoClient,
    /// What the functions are built from ([`wxcomponent::wiring::assemble`]).
    pub wiring: wxcomponent::wiring::App,
    /// The bus the app publishes its events on, if any.
    pub bus: Option<EventBus>,
}

/// Settings for tests: the production margin and intervals, quicker polling, a generous wait.
pub fn test_settings() -> TokenSettings {
    TokenSettings {
        poll_interval: Duration::from_millis(20),
        wait_for_refresh: Duration::from_secs(10),
        wait_for_authorization: Duration::from_secs(5),
        ..TokenSettings::default()
    }
}

/// A client for the DynamoDB endpoint of the environment; fails loudly when there is none.
pub async fn dynamodb_client() -> DynamoClient {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: these tests need DynamoDB Local. Run `make test` \
             (or `source scripts/lib.sh && start_dynamodb_local` first)."
        );
    }
    let config = wxcomponent::tls::sdk_config(None).await;
    DynamoClient::new(&config)
}

/// A random appid in WeChat's shape.
pub fn random_appid() -> String {
    format!("wx{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// Creates a uniquely named table from template.yaml's definition and returns its name.
pub async fn fresh_table(dynamodb: &DynamoClient) -> String {
    let table = format!(
        "wxc-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    );
    // A freshly started DynamoDB Local on a loaded machine can be slower than the functions'
    // SDK timeouts: a timed-out creation is tried again, and the name is random, so finding
    // it already there means an earlier attempt created it.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match create_table_from_template(dynamodb, TEMPLATE_YAML, &table).await {
            Ok(_) | Err(SchemaError::AlreadyExists(_)) => break,
            Err(e @ SchemaError::Create { .. }) if attempts < 5 => {
                eprintln!("creating table {table}: {e:?}; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("creating table {table} from template.yaml: {e:?}"),
        }
    }
    table
}

impl TestApp {
    /// A random component, default sim, test settings, fast client retries.
    pub async fn spawn() -> Self {
        Self::spawn_with(SimConfig::random(), |_| {}, |_| {}).await
    }

    /// A sim with `sim_config`; `settings` and `client` may tune the defaults.
    pub async fn spawn_with(
        sim_config: SimConfig,
        settings: impl FnOnce(&mut TokenSettings),
        client: impl FnOnce(&mut ClientConfig),
    ) -> Self {
        Self::spawn_on(dynamodb_client().await, sim_config, settings, client).await
    }

    /// As [`TestApp::spawn_with`], on the DynamoDB endpoint `dynamodb` reaches.
    pub async fn spawn_on(
        dynamodb: DynamoClient,
        sim_config: SimConfig,
        settings: impl FnOnce(&mut TokenSettings),
        client: impl FnOnce(&mut ClientConfig),
    ) -> Self {
        let WechatHarness { sim, clock, client } =
            WechatHarness::start_with(sim_config, client).await;
        let table = fresh_table(&dynamodb).await;
        let mut tuned = test_settings();
        settings(&mut tuned);
        // The functions' own wiring, on DynamoDB Local, the simulator and the manual clock.
        let wiring = wxcomponent::wiring::assemble(
            dynamodb.clone(),
            &table,
            Arc::new(clock.clone()),
            client.clone(),
            tuned,
            None,
        );
        let component = client.component_appid().clone();
        Self {
            sim,
            clock,
            client,
            store: wiring.store.clone(),
            service: wiring.application.tokens.clone(),
            component,
            dynamodb,
            wiring,
            bus: None,
        }
    }

    /// The same app (table, clock, simulator, settings) wired on another DynamoDB client, for
    /// example one that counts or records its requests.
    pub fn rewired_on(self, dynamodb: DynamoClient) -> Self {
        let bus = self.bus.clone();
        self.rewired(dynamodb, bus)
    }

    /// The same app publishing its events on `bus` (a [`crate::fake_bus::FakeBus`]'s, say).
    pub fn with_event_bus(self, bus: EventBus) -> Self {
        let dynamodb = self.dynamodb.clone();
        self.rewired(dynamodb, Some(bus))
    }

    fn rewired(mut self, dynamodb: DynamoClient, bus: Option<EventBus>) -> Self {
        self.wiring = wxcomponent::wiring::assemble(
            dynamodb.clone(),
            self.store.table_name(),
            Arc::new(self.clock.clone()),
            self.client.clone(),
            self.service.context().settings().clone(),
            bus.clone(),
        );
        self.store = self.wiring.store.clone();
        self.service = self.wiring.application.tokens.clone();
        self.dynamodb = dynamodb;
        self.bus = bus;
        self
    }

    pub fn now(&self) -> i64 {
        wxcomponent::Clock::now(&self.clock)
    }

    /// The application the functions are built on.
    pub fn application(&self) -> &Application<DynamoStore> {
        &self.wiring.application
    }

    /// Its authorization use case.
    pub fn authorizations(&self) -> &Authorizations<DynamoStore> {
        &self.wiring.application.authorizations
    }

    /// WeChat pushes a ticket and the platform stores it (as the ticket callback would).
    pub async fn store_fresh_ticket(&self) -> String {
        let ticket = self.sim.issue_ticket();
        self.store
            .put_ticket(
                &self.component,
                &Ticket {
                    value: Secret::new(ticket.clone()),
                    received_at: self.now(),
                },
            )
            .await
            .expect("storing the ticket");
        ticket
    }

    /// Stores a component token as if a worker had refreshed it (no WeChat call).
    pub async fn store_component_token(&self, value: &str, expires_at: i64) {
        self.store
            .replace_component_token(
                &self.component,
                &ExpiringToken {
                    value: Secret::new(value),
                    expires_at,
                },
                self.store
                    .component_token(&self.component)
                    .await
                    .expect("reading the component token")
                    .map(|t| t.version),
            )
            .await
            .expect("storing the component token");
    }

    /// An account authorizes the component in the sim, and the platform stores the grant as
    /// given (bypassing api_query_auth). Returns the sim's grant.
    pub async fn authorized_account(&self) -> (AuthorizerAppId, AuthorizerGrant) {
        let appid = random_appid();
        let grant = self.sim.add_authorizer(&appid);
        let id = AuthorizerAppId::parse(&appid).expect("a valid appid");
        self.store_authorizer(
            &id,
            &grant.access_token,
            grant.expires_at,
            &grant.refresh_token,
        )
        .await;
        (id, grant)
    }

    /// As [`TestApp::authorized_account`], with the account's profile stored as the sim has it
    /// (its original id is what its messages are addressed to). Returns the appid and that id.
    pub async fn authorized_account_with_profile(&self) -> (AuthorizerAppId, String) {
        let (appid, _) = self.authorized_account().await;
        let user_name = self
            .sim
            .user_name_of(appid.as_str())
            .expect("the sim knows the account");
        self.store
            .set_account_info(
                &self.component,
                &appid,
                &AccountInfo {
                    nick_name: format!("Sim account {appid}"),
                    user_name: user_name.clone(),
                    kind: AccountKind::MiniProgram,
                    service_type: 0,
                    verify_type: 0,
                    principal_name: "Sim principal".into(),
                    head_img: String::new(),
                    qrcode_url: String::new(),
                },
            )
            .await
            .expect("storing the profile");
        (appid, user_name)
    }

    /// An official account authorizes the component in the sim and is stored with its profile,
    /// as a merchant's service account would be.
    pub async fn authorized_official_account(&self) -> AuthorizerAppId {
        let (appid, _) = self.authorized_account().await;
        self.sim.make_official_account(appid.as_str());
        self.store
            .set_account_info(
                &self.component,
                &appid,
                &AccountInfo {
                    nick_name: format!("Sim service account {appid}"),
                    user_name: self.sim.user_name_of(appid.as_str()).unwrap_or_default(),
                    kind: AccountKind::OfficialAccount,
                    service_type: 2,
                    verify_type: 0,
                    principal_name: "Sim principal".into(),
                    head_img: String::new(),
                    qrcode_url: String::new(),
                },
            )
            .await
            .expect("storing the profile");
        appid
    }

    /// Stores an authorizer record with these tokens (version 1 for a new one).
    pub async fn store_authorizer(
        &self,
        appid: &AuthorizerAppId,
        access_token: &str,
        expires_at: i64,
        refresh_token: &str,
    ) -> Authorizer {
        self.store
            .record_authorization(
                &self.component,
                &AuthorizationGrant {
                    appid: appid.clone(),
                    access_token: ExpiringToken {
                        value: Secret::new(access_token),
                        expires_at,
                    },
                    refresh_token: Secret::new(refresh_token),
                    func_info: vec![1],
                    account: None,
                },
            )
            .await
            .expect("storing the authorizer")
    }

    /// The stored authorizer, which must exist.
    pub async fn stored_authorizer(&self, appid: &AuthorizerAppId) -> Authorizer {
        self.store
            .authorizer(&self.component, appid)
            .await
            .expect("reading the authorizer")
            .expect("the authorizer is stored")
    }

    /// Fails the test if any call went to a path the sim does not know.
    pub fn assert_no_unmatched_calls(&self) {
        let unmatched = self.sim.unmatched();
        assert!(unmatched.is_empty(), "unmatched calls: {unmatched:?}");
    }
}
