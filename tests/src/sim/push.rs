//! Pushes from WeChat to the platform: signed, encrypted events sent to the callback URLs.
//!
//! Not implemented yet: it needs the message crypto (`wxcomponent::crypto`), which lands separately.
//! Once it does, this module will build the envelope (PROTOCOL.md §2) for
//! - `component_verify_ticket` to `authorization_event_url` (also after `api_start_push_ticket`),
//! - `authorized` / `updateauthorized` / `unauthorized` when a test calls `authorize` / `revoke`,
//! - messages to `message_url` with `$APPID$` replaced (the full-network release test, §6),
//!
//! and `WechatSim` will gain `push_ticket()`, `push_event(..)` and `push_message(..)` plus a
//! `POST /__sim/push/{kind}` control route. Until then that route answers 501.

/// Where the simulated WeChat sends pushes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushTargets {
    /// 授权事件接收URL: component events (tickets, authorizations).
    pub authorization_event_url: Option<String>,
    /// 消息与事件接收URL, with `$APPID$` where the authorizer's appid goes.
    pub message_url: Option<String>,
}
