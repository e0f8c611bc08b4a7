#!/usr/bin/env bash
# The one test command: installs what is missing, then runs formatting, lints and every test against
# real DynamoDB Local (started here, stopped at the end) and the WeChat simulator on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust_components
ensure_python_tools
ensure_dynamodb_local

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

start_dynamodb_local
log "cargo test"
cargo test --workspace --locked
