//! The end-to-end tests that share one set-up (DynamoDB Local, the simulator, the functions'
//! handlers) in one test binary: each binary links the AWS SDK, and on two cores the links are a
//! good part of `make test`. Tests that install a global log subscriber keep binaries of their own.
//! Run one module with `cargo test -p wxcomponent-tests --test integration <module>::`.

mod api;
mod callbacks;
mod campaigns;
mod client;
mod client_miniprogram;
mod console;
mod dynamodb_costs;
mod event_bus;
mod events;
mod faults;
mod iam;
mod official_accounts;
mod push_deadlines;
mod refresh_token_safety;
mod refresher;
mod refresher_scale;
mod sim_code_release;
mod sim_control;
mod store_contract;
mod template;
mod tokens;
