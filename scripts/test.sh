#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run runs it too).
# Installs the pinned test tools first (boto3, for the boto3 conformance test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
cargo test --locked --workspace "$@"
