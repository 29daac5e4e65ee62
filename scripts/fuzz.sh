#!/usr/bin/env bash
# The long run of the property tests (tests/properties.rs): event parsing, ARN parsing,
# admin requests and token claims over many generated inputs, fixed seed.
#   ./scripts/fuzz.sh [CASES]      (default 100000 per property)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools
PROPTEST_CASES="${1:-100000}" cargo test --locked --workspace --release --test properties
