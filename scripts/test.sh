#!/usr/bin/env bash
# The one test command: installs what is missing, then runs formatting, lints and every test against
# real DynamoDB Local (started here, stopped at the end) and the WeChat simulator on loopback; the
# console also in headless Chromium (Debian's, installed here).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust_components
ensure_python_tools
ensure_dynamodb_local
ensure_browser
export WXC_REQUIRE_BROWSER=1

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo_deny_check

# The SAM template: both linters, zero warnings (cfn-lint exits non-zero on warnings too). Offline; plain
# `sam validate` needs AWS_DEFAULT_REGION (it ignores AWS_REGION). `sam build` is not run here: it is a
# release cross-build of every function and takes many minutes.
log "sam validate --lint; cfn-lint"
AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0 \
  "$VENV/bin/sam" validate --lint --template template.yaml
"$VENV/bin/cfn-lint" template.yaml

start_dynamodb_local
log "cargo test"
cargo test --workspace --locked --no-fail-fast

# The refresher, a release campaign, the events and web authorization end to end through `cargo lambda watch` itself (wechat-sim,
# tables from template.yaml, overlapping invocations): a separate step, since watch builds through
# cargo and `cargo test` holds the target folder while its tests run. The binaries are built first,
# so the first invocations only start the functions. A few minutes.
log "the functions under cargo lambda watch"
cargo build --workspace --bins --locked
PATH="$VENV/bin:$PATH" "${CARGO_TARGET_DIR:-$PWD/target}/debug/under-watch"
# The fuzz crate is a workspace of its own; its unit tests check the seeds. Sharing the target
# folder reuses the workspace's compiled dependencies.
log "cargo test (tests/fuzz)"
CARGO_TARGET_DIR="$PWD/target" cargo test --manifest-path tests/fuzz/Cargo.toml --locked

# Every fuzz target for FUZZ_SECONDS (60 by default): about 4 minutes, plus about 7 minutes the first
# time for the AddressSanitizer build.
./scripts/fuzz.sh
