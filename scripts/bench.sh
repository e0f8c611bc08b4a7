#!/usr/bin/env bash
# Benchmarks on this machine, in one run: our push path (criterion) next to wechatpy doing the same
# work, each function's start-up time and size next to a bare lambda_http hello world built the
# same way (release, this machine's architecture), and release campaigns over 2,000 simulated mini
# programs against DynamoDB Local (CAMPAIGN_BENCH_APPS to change the number).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_python_tools

log "criterion: verify + decrypt + parse one component_verify_ticket push"
cargo bench -p wxcomponent --bench push -- --noplot
ours=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
  target/criterion/component_verify_ticket_push_verify_decrypt_parse/new/estimates.json)

log "wechatpy: the same push"
theirs=$("$WXC_PYTHON" shared/benches/wechatpy_push.py | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ns"])')

python3 - "$ours" "$theirs" <<'PY'
import sys
ours, theirs = float(sys.argv[1]), float(sys.argv[2])
print()
print("| one component_verify_ticket push (verify + decrypt + parse) | median |")
print("|---|---|")
print(f"| this project (Rust, criterion) | {ours/1000:.1f} µs |")
print(f"| wechatpy 1.8.18 (Python, timeit) | {theirs/1000:.1f} µs |")
print(f"| ratio | {theirs/ours:.1f}x faster |")
PY

log "start-up and size: the four functions and a lambda_http hello world (release)"
cargo build --release --locked -p api -p ticket-callback -p auth-redirect -p token-refresher -p campaign-worker --bins
cargo build --release --locked -p wxcomponent-http --example hello
release="${CARGO_TARGET_DIR:-$PWD/target}/release"
python3 scripts/init_time.py "${INIT_RUNS:-20}" "$release/examples/hello" "$release/api" \
  "$release/ticket-callback" "$release/auth-redirect" "$release/token-refresher" "$release/campaign-worker" \
  > target/init_time.jsonl
python3 - target/init_time.jsonl <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
hello = rows[0]
print()
print("| binary | start-up to the first runtime-API poll (median) | vs hello world | stripped size |")
print("|---|---|---|---|")
for r in rows:
    ratio = r["init_median_ms"] / hello["init_median_ms"]
    print(f"| {r['binary']} | {r['init_median_ms']:.1f} ms | {ratio:.1f}x | {r['stripped_bytes'] / 1e6:.1f} MB |")
PY

log "release campaigns over ${CAMPAIGN_BENCH_APPS:-2000} simulated mini programs (release build, DynamoDB Local)"
ensure_dynamodb_local
start_dynamodb_local
cargo test --release --locked -p wxcomponent-tests --test campaign_bench -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -E '^campaign bench:|test result|panicked'
