//! Lambda entry point. Filled in by a later issue; until then every invocation fails clearly.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

async fn handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Err("token-refresher: not implemented yet".into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}
