//! Test harness: the WeChat simulator, and [`app::TestApp`] (DynamoDB Local + simulator + services).

pub mod app;
pub mod callbacks;
pub mod dynamodb_local;
pub mod event_schemas;
pub mod fake_bus;
pub mod fleet;
pub mod logs;
pub mod operator;
pub mod provider_api;
pub mod refresh;
pub mod requests;
pub mod schema;
pub mod sim;
pub mod store_faults;
pub mod wechat;
