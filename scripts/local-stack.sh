#!/usr/bin/env bash
# Runs the event functions locally through the real Lambda runtime loop (cargo-lambda's
# Runtime and Invoke APIs on 127.0.0.1) and invokes each with sample events from events/.
#
# IVS is pointed at a closed loopback port: nothing here ever reaches AWS. The samples used
# are the ones the functions settle without calling IVS (account-level limit breaches,
# unknown events).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools

port=$(free_port)
closed_port=$(free_port)
export AWS_REGION=us-west-2 AWS_ACCESS_KEY_ID=AKIDLOCALONLY AWS_SECRET_ACCESS_KEY=local-only
export AWS_ENDPOINT_URL_IVS="http://127.0.0.1:${closed_port}"
export AWS_LAMBDA_LOG_FORMAT=JSON AWS_LAMBDA_LOG_LEVEL=INFO

echo "building the functions…"
cargo build --workspace --bins --quiet

log=$(mktemp)
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" >"$log" 2>&1 &
watch_pid=$!
trap 'kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; rm -f "$log"' EXIT
wait_for_port "$port"

invoke() {
    local function=$1 event=$2
    echo
    echo "── $function ← $event"
    cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$event"
}
invoke stream-events events/limit-breach/concurrent-viewers.json
invoke stream-events events/other/unknown-detail-type.json
invoke recording-events events/other/other-source.json
echo
echo "── function logs (JSON, as Lambda writes them)"
grep '^{' "$log" | grep -v 'AWS_LAMBDA_MAX_CONCURRENCY' || true
