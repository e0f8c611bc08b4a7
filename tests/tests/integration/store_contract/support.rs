//! Harness for the store contract suite: a fresh store per test, a manual clock and a random
//! component appid; for DynamoDB, a uniquely named table created from template.yaml on the local
//! server that `make test` starts.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use wxcomponent::store::schema::{TEMPLATE_YAML, create_table_from_template};
use wxcomponent::store::{DynamoPushLedger, DynamoStore, MemoryPushLedger, MemoryStore};
use wxcomponent::{AuthorizerAppId, ComponentAppId, EpochSeconds, ManualClock};

/// Where every test's clock starts.
pub const T0: EpochSeconds = 1_700_000_000;

pub struct Fixture<S> {
    pub store: Arc<S>,
    pub clock: ManualClock,
    pub component: ComponentAppId,
    table: Option<(Client, String)>,
}

impl<S> Fixture<S> {
    /// The same store and clock, acting for another component (the table is not shared ownership:
    /// only the original fixture deletes it).
    pub fn as_component(&self, component: ComponentAppId) -> Fixture<S> {
        Fixture {
            store: self.store.clone(),
            clock: self.clock.clone(),
            component,
            table: None,
        }
    }

    /// The push ledger beside this fixture's store: in the same DynamoDB table, or in memory on
    /// the same clock.
    pub fn push_ledger(&self) -> PushLedgers {
        match &self.table {
            Some((client, table)) => PushLedgers::Dynamo(DynamoPushLedger::new(
                client.clone(),
                table.clone(),
                Arc::new(self.clock.clone()),
            )),
            None => PushLedgers::Memory(MemoryPushLedger::new(Arc::new(self.clock.clone()))),
        }
    }

    /// Deletes the test's table (DynamoDB Local is in-memory and stopped after the run anyway, so
    /// a failed test that never gets here leaks nothing that outlives the run).
    pub async fn finish(self) {
        if let Some((client, table)) = self.table {
            client
                .delete_table()
                .table_name(&table)
                .send()
                .await
                .unwrap_or_else(|e| panic!("deleting table {table}: {e:?}"));
        }
    }
}

fn random_hex(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_owned()
}

pub fn random_component() -> ComponentAppId {
    ComponentAppId::parse(format!("wx{}", random_hex(16))).unwrap()
}

pub fn random_authorizer() -> AuthorizerAppId {
    AuthorizerAppId::parse(format!("wx{}", random_hex(16))).unwrap()
}

pub fn memory_fixture() -> Fixture<MemoryStore> {
    let clock = ManualClock::at(T0);
    Fixture {
        store: Arc::new(MemoryStore::new(Arc::new(clock.clone()))),
        clock,
        component: random_component(),
        table: None,
    }
}

/// A client for the DynamoDB endpoint of the environment. Fails loudly rather than skipping when
/// there is none.
pub async fn dynamodb_client() -> Client {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: these tests need DynamoDB Local. Run `make test`, \
             which starts DynamoDB Local (or `source scripts/lib.sh && start_dynamodb_local` first)."
        );
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Client::new(&config)
}

pub async fn dynamo_fixture() -> Fixture<DynamoStore> {
    let client = dynamodb_client().await;
    let table = format!("wxc-test-{}", random_hex(20));
    create_table_from_template(&client, TEMPLATE_YAML, &table)
        .await
        .unwrap_or_else(|e| panic!("creating table {table} from template.yaml: {e:?}"));
    let clock = ManualClock::at(T0);
    Fixture {
        store: Arc::new(DynamoStore::new(
            client.clone(),
            table.clone(),
            Arc::new(clock.clone()),
        )),
        clock,
        component: random_component(),
        table: Some((client, table)),
    }
}

/// Either push ledger adapter.
pub enum PushLedgers {
    Memory(MemoryPushLedger),
    Dynamo(DynamoPushLedger),
}
