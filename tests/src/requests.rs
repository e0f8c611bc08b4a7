//! Counting DynamoDB requests at the SDK: an interceptor on the real client records the operation
//! of every request it sends, retries included.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation;

use crate::app::TestApp;

/// The operations the product uses, by the name DynamoDB gives them.
fn operation_name(context: &BeforeSerializationInterceptorContextRef<'_>) -> &'static str {
    let input = context.input();
    macro_rules! name_of {
        ($($module:ident :: $input:ident => $name:literal),* $(,)?) => {
            $(if input.downcast_ref::<operation::$module::$input>().is_some() {
                return $name;
            })*
        };
    }
    name_of!(
        get_item::GetItemInput => "GetItem",
        put_item::PutItemInput => "PutItem",
        update_item::UpdateItemInput => "UpdateItem",
        delete_item::DeleteItemInput => "DeleteItem",
        query::QueryInput => "Query",
        batch_write_item::BatchWriteItemInput => "BatchWriteItem",
        transact_write_items::TransactWriteItemsInput => "TransactWriteItems",
    );
    "other"
}

/// The operations of the requests sent so far, in order.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<&'static str>>>);

impl RequestLog {
    /// The requests sent since the last call, and forgets them.
    pub fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// How many requests of `operation` were sent since the last [`RequestLog::take`].
    pub fn count(&self, operation: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|o| **o == operation)
            .count()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = operation_name(context);
        self.0.lock().unwrap().push(name);
        Ok(())
    }
}

/// The same app wired on a DynamoDB client that logs its requests.
pub fn counting(app: TestApp) -> (TestApp, RequestLog) {
    let log = RequestLog::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        app.dynamodb
            .config()
            .to_builder()
            .interceptor(log.clone())
            .build(),
    );
    (app.rewired_on(client), log)
}
