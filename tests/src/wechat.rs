//! A WeChat client wired to a fresh simulator, the way tests want it: random component appid,
//! a manual clock shared by both, tiny retry delays.

use crate::sim::{SimConfig, WechatSim};
use std::sync::Arc;
use std::time::Duration;
use wxcomponent::wechat::{ClientConfig, ComponentAccessToken, RetryPolicy, WechatClient};
use wxcomponent::{ComponentAppId, ManualClock, Secret};

/// Where the manual clock starts (2026-01-01T00:00:00Z).
pub const START: i64 = 1_767_225_600;

pub struct WechatHarness {
    pub sim: WechatSim,
    pub clock: ManualClock,
    pub client: WechatClient,
}

/// Three attempts with millisecond backoffs and a 2 s per-attempt timeout.
pub fn fast_client_config(sim: &WechatSim) -> ClientConfig {
    let mut config = ClientConfig::new(sim.base_url());
    config.connect_timeout = Duration::from_millis(500);
    config.timeout = Duration::from_secs(2);
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        max_elapsed: Duration::from_secs(10),
    };
    config
}

impl WechatHarness {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::random(), |_| {}).await
    }

    /// A sim with `sim_config`, and a client whose defaults `tune` may change.
    pub async fn start_with(sim_config: SimConfig, tune: impl FnOnce(&mut ClientConfig)) -> Self {
        let clock = ManualClock::at(START);
        let sim = WechatSim::start(sim_config.clone(), clock.clone())
            .await
            .expect("the simulator starts on 127.0.0.1");
        let mut config = fast_client_config(&sim);
        tune(&mut config);
        let client = WechatClient::new(
            config,
            ComponentAppId::parse(sim_config.component_appid).expect("the sim appid is valid"),
            Secret::new(sim_config.component_secret),
            Arc::new(clock.clone()),
        )
        .expect("the client builds");
        Self { sim, clock, client }
    }

    /// A component token for a ticket the sim just issued.
    pub async fn component_token(&self) -> ComponentAccessToken {
        let ticket = Secret::new(self.sim.issue_ticket());
        self.client
            .api_component_token(&ticket)
            .await
            .expect("api_component_token succeeds")
    }

    /// Fails the test if any call went to a path the sim does not know.
    pub fn assert_no_unmatched_calls(&self) {
        let unmatched = self.sim.unmatched();
        assert!(unmatched.is_empty(), "unmatched calls: {unmatched:?}");
    }
}
