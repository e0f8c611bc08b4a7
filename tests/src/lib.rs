//! Test harness: the WeChat simulator, and [`app::TestApp`] (DynamoDB Local + simulator + services).

pub mod app;
pub mod callbacks;
pub mod logs;
pub mod refresh;
pub mod sim;
pub mod wechat;
