#!/usr/bin/env bash
# Benchmarks on this machine, in one run: our push path (criterion) next to wechatpy doing the same work.
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
