//! Test harness: the WeChat simulator (and, later, DynamoDB Local helpers).

pub mod sim;
pub mod wechat;
