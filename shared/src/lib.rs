//! The library behind the WeChat third-party platform ("component") functions.
//!
//! Everything that is a rule lives here; the binaries in `functions/` only adapt Lambda events to it.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod event;
pub mod events;
pub mod ids;
pub mod logging;
pub mod sdk_http;
pub mod secret;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod wechat;
pub mod wiring;
mod xml;

pub use clock::{Clock, EpochSeconds, ManualClock, SystemClock};
pub use config::Config;
pub use crypto::{CryptoError, MessageCrypto};
pub use ids::{AuthorizerAppId, ComponentAppId};
pub use secret::Secret;
