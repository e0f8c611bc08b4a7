//! Harness for the store contract suite: a fresh store per test, a manual clock and a random
//! component appid; for DynamoDB, a uniquely named table created from template.yaml on the local
//! server that `make test` starts.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use wxcomponent::store::{DynamoPushLedger, DynamoStore, MemoryPushLedger, MemoryStore};
use wxcomponent::{AuthorizerAppId, ComponentAppId, EpochSeconds, ManualClock};
use wxcomponent_tests::app::{dynamodb_client, fresh_table, random_appid};

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

pub fn random_component() -> ComponentAppId {
    ComponentAppId::parse(random_appid()).unwrap()
}

pub fn random_authorizer() -> AuthorizerAppId {
    AuthorizerAppId::parse(random_appid()).unwrap()
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

pub async fn dynamo_fixture() -> Fixture<DynamoStore> {
    let client = dynamodb_client().await;
    let table = fresh_table(&client).await;
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
