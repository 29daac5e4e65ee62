#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run runs it too).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
