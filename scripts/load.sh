#!/usr/bin/env bash
# The load run of docs/testing.md: 2,000 pushes from 50 concurrent senders through the ticket-callback
# handler against DynamoDB Local, in release mode, printing throughput and latency percentiles.
# (`make test` runs the same test in debug mode for its checks.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_dynamodb_local
start_dynamodb_local
log "load: cargo test --release --test load"
cargo test --release --locked -p wxcomponent-tests --test load -- --nocapture 2>&1 | grep -E '^load:|test result'
