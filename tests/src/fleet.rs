//! A fleet of simulated mini programs for release campaigns: a [`TestApp`], the provider API, the
//! campaign worker, and the ticket-callback's real router served on loopback as the sim's message
//! URL, so audit results arrive as WeChat pushes them.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client as DynamoClient;
use serde_json::Value;
use ticket_callback::TicketCallback;
use wxcomponent::events::EventBus;
use wxcomponent::service::{CampaignWorker, PushSettings, WorkerSettings, WorkerSummary};
use wxcomponent::store::{
    AccountInfo, AccountKind, AuthorizationGrant, AuthorizerStore, ExpiringToken,
};
use wxcomponent::{AuthorizerAppId, Secret};

use crate::app::{TestApp, dynamodb_client, random_appid};
use crate::callbacks::sim_crypto;
use crate::provider_api::{ProviderApi, json_of};
use crate::sim::{PushTargets, SimConfig};

/// The sim's delays, in seconds of the manual clock.
pub const PRIVACY_DELAY: i64 = 60;
pub const AUDIT_DELAY: i64 = 3600;

pub struct Fleet {
    pub app: TestApp,
    pub api: ProviderApi,
    pub worker: CampaignWorker,
    pub template_id: i64,
    /// `http://<addr>` of the ticket-callback function serving the sim's pushes.
    pub callback_base: String,
    _server: tokio::task::JoinHandle<()>,
}

pub fn worker_settings() -> WorkerSettings {
    WorkerSettings {
        stop_before: Duration::from_millis(200),
        ..WorkerSettings::default()
    }
}

impl Fleet {
    pub async fn spawn() -> Self {
        Self::spawn_on(dynamodb_client().await, |_| {}).await
    }

    /// On the DynamoDB endpoint `dynamodb` reaches, with `tune` adjusting the sim.
    pub async fn spawn_on(dynamodb: DynamoClient, tune: impl FnOnce(&mut SimConfig)) -> Self {
        Self::spawn_with(dynamodb, tune, None).await
    }

    /// A fleet whose functions publish their events on `bus`.
    pub async fn spawn_with_bus(bus: EventBus) -> Self {
        Self::spawn_with(dynamodb_client().await, |_| {}, Some(bus)).await
    }

    async fn spawn_with(
        dynamodb: DynamoClient,
        tune: impl FnOnce(&mut SimConfig),
        bus: Option<EventBus>,
    ) -> Self {
        let mut config = SimConfig::random();
        config.privacy_check_delay = PRIVACY_DELAY;
        config.audit_delay = AUDIT_DELAY;
        tune(&mut config);
        let mut app = TestApp::spawn_on(dynamodb, config, |_| {}, |_| {}).await;
        if let Some(bus) = bus {
            app = app.with_event_bus(bus);
        }
        app.store_fresh_ticket().await;
        // The ticket-callback function's real router, on loopback, as the sim's message URL.
        let push = app
            .wiring
            .push_service(sim_crypto(&app), PushSettings::default());
        let router = TicketCallback::new(push).router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serving");
        });
        app.sim.set_push_targets(PushTargets {
            authorization_event_url: None,
            message_url: Some(format!("http://{addr}/wechat/message/$APPID$")),
        });
        let template_id = app.sim.add_template("2.0.0", "the campaign's template");
        let api = ProviderApi::on(&app);
        let worker = app.wiring.campaign_worker(worker_settings());
        Self {
            app,
            api,
            worker,
            template_id,
            callback_base: format!("http://{addr}"),
            _server: server,
        }
    }

    /// A mini program authorized with code management (18), stored with its profile.
    pub async fn mini_program(&self) -> AuthorizerAppId {
        self.account(vec![1, 17, 18], AccountKind::MiniProgram)
            .await
    }

    pub async fn account(&self, func_info: Vec<u32>, kind: AccountKind) -> AuthorizerAppId {
        let appid = random_appid();
        let grant = self.app.sim.add_authorizer(&appid);
        let user_name = self.app.sim.user_name_of(&appid).expect("the sim knows it");
        let id = AuthorizerAppId::parse(&appid).expect("an appid");
        self.app
            .store
            .record_authorization(
                &self.app.component,
                &AuthorizationGrant {
                    appid: id.clone(),
                    access_token: ExpiringToken {
                        value: Secret::new(grant.access_token),
                        expires_at: grant.expires_at,
                    },
                    refresh_token: Secret::new(grant.refresh_token),
                    func_info,
                    account: Some(AccountInfo {
                        nick_name: format!("Shop {appid}"),
                        user_name,
                        kind,
                        service_type: 0,
                        verify_type: 0,
                        principal_name: "Sim principal".into(),
                        head_img: String::new(),
                        qrcode_url: String::new(),
                    }),
                },
            )
            .await
            .expect("storing the authorizer");
        id
    }

    pub async fn mini_programs(&self, n: usize) -> Vec<AuthorizerAppId> {
        let mut appids = Vec::with_capacity(n);
        for _ in 0..n {
            appids.push(self.mini_program().await);
        }
        appids
    }

    pub async fn create(&self, body: Value) -> Value {
        let response = self.api.post("/campaigns", body).await;
        assert_eq!(response.status(), 201, "{}", json_of(&response));
        json_of(&response)
    }

    /// Creates the campaign `body` describes; answers its id.
    pub async fn start(&self, body: Value) -> String {
        self.create(body).await["id"]
            .as_str()
            .expect("the campaign's id")
            .to_owned()
    }

    pub async fn campaign(&self, id: &str) -> Value {
        let response = self.api.get(&format!("/campaigns/{id}")).await;
        assert_eq!(response.status(), 200);
        json_of(&response)
    }

    pub async fn run(&self) -> WorkerSummary {
        self.worker
            .run(Instant::now() + Duration::from_secs(30))
            .await
    }

    pub fn advance(&self, seconds: i64) {
        self.app.clock.advance(seconds);
    }

    /// Runs the worker, lets the privacy checks finish, runs it again (submissions), lets the
    /// audits be decided and pushed, and runs it once more (releases).
    pub async fn one_round(&self) {
        self.run().await;
        self.advance(PRIVACY_DELAY + 1);
        self.run().await;
        self.advance(AUDIT_DELAY + 1);
        for (appid, pushed) in self.app.sim.deliver_due_audits().await {
            let reply = pushed.unwrap_or_else(|e| panic!("push for {appid}: {e}"));
            assert_eq!(reply.status, 200, "push for {appid}: {reply:?}");
        }
        self.run().await;
    }

    pub fn calls(&self, path: &str, appid: &AuthorizerAppId) -> usize {
        self.app.sim.call_count_for(path, appid.as_str())
    }
}
