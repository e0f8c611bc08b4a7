#!/usr/bin/env bash
# `make deploy`: build the functions for Lambda (arm64) and deploy the stack of template.yaml with SAM.
# Installs the SAM CLI and cargo-lambda (with zig) into .tools/ first, like `make test` does. The first
# deploy is guided (SAM asks for every parameter and stores the answers in samconfig.toml); later ones
# reuse samconfig.toml. Extra arguments go to `sam deploy` (for example `--config-env prod`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust_components
ensure_python_tools
# sam and cargo-lambda live in the virtualenv; cargo-lambda finds zig only through its python3.
export PATH="$VENV/bin:$PATH"

log "sam build (cross-compiles every function for arm64)"
sam build
if [ -f samconfig.toml ]; then
  log "sam deploy (parameters from samconfig.toml)"
  sam deploy "$@"
else
  log "sam deploy --guided (first deploy: the answers are kept in samconfig.toml)"
  sam deploy --guided "$@"
fi
