#!/usr/bin/env bash
# Reruns the reliability runs and writes RELIABILITY.md with their figures:
# - the fault scenario (20 % of IVS answers faulty, and one run at 60 % where the function's
#   own retries run out and the queue's take over) and the duplicated, shuffled delivery
#   (tests/end_to_end/reliability.rs: the queued event path, EventBridge → SQS in moto → the
#   emulator's event source mapping → two containers of each event function, IVS's rate
#   quotas on) at RELIABILITY_CHANNELS channels for each seed of RELIABILITY_SEEDS;
# - the property tests (tests/properties.rs) at PROPTEST_CASES cases each;
# - the end-to-end secret scan (tests/end_to_end/event_pipeline.rs, every log line at TRACE).
#   ./scripts/reliability.sh        (defaults: 40 channels, seeds "7 11 23", 5000 cases)
# Needs moto's server (scripts/tools.sh installs it into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_tools

channels=${RELIABILITY_CHANNELS:-40}
seeds=${RELIABILITY_SEEDS:-"7 11 23"}
cases=${PROPTEST_CASES:-5000}
figures=$(mktemp)
trap 'rm -f "$figures"' EXIT

for seed in $seeds; do
    echo "reliability: $channels channels, seed $seed" >&2
    RELIABILITY_CHANNELS=$channels RELIABILITY_SEED=$seed \
        cargo test --locked --workspace --test end_to_end -- --nocapture --test-threads=1 reliability:: \
        | grep -o '{"figures".*}' >>"$figures"
done
echo "reliability: $channels channels, 60 % faults (the queue's retries at work)" >&2
RELIABILITY_CHANNELS=$channels RELIABILITY_SEED=5 RELIABILITY_FAULT_PERCENT=60 \
    cargo test --locked --workspace --test end_to_end -- --nocapture --test-threads=1 reliability::with_faulty_ivs_answers \
    | grep -o '{"figures".*}' >>"$figures"
echo "properties: $cases cases each" >&2
properties=$(PROPTEST_CASES=$cases cargo test --locked --workspace --test properties 2>&1 | grep -E '^test result')
echo "{\"figures\":\"properties\",\"cases\":$cases,\"result\":\"$properties\"}" >>"$figures"
echo "secret scan" >&2
cargo test --locked --workspace --test end_to_end -- --nocapture event_pipeline:: | grep -o '{"figures".*}' >>"$figures"

python3 - "$figures" <<'PY'
import json, platform, subprocess, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
faults = [r for r in rows if r["figures"] == "faults"]
dups = [r for r in rows if r["figures"] == "duplicates"]
props = [r for r in rows if r["figures"] == "properties"]
secrets = [r for r in rows if r["figures"] == "secrets"]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
out = []
out.append("# Reliability\n")
out.append(f"Produced by `./scripts/reliability.sh` on {datetime.date.today()} ({platform.machine()}, {cpu or 'unknown CPU'}, "
           f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores). Rerun it to refresh these figures; "
           "the fixed-seed versions of the same tests run in CI on every change.\n")
out.append("What the runs model of production: the queued event path with the template's settings (described below); two containers per "
           "event function (the mapping's `MaximumConcurrency`, and the functions' `IVS_RATE_CONCURRENCY`); IVS's API rate quotas "
           "on in the emulator at IVS's own values (factor 1), the functions pacing their calls within their default shares "
           "(`IVS_RATE_FACTOR` 1); Lambda's environment only (the local Lambda service clears the rest) with a 30 s deadline per "
           "invocation (the template's stream-events timeout; recording-events has 15 s). Not modelled: HTTPS (the functions reach the emulator and moto over plain HTTP on loopback), Lambda's "
           "CPU share and scaling (the containers run from the start, debug builds), AWS's SQS (moto's, with its timing) and "
           "EventBridge's own retries.\n")
out.append("## Faults: a share of IVS's answers are 429, 500 or 503\n")
out.append("The emulator injects the faults (seeded) into every IVS operation and delivers each event on the event path the "
           "template deploys: EventBridge's SQS target → one SQS queue per function (moto's server) → Lambda's event source "
           "mapping (the emulator's model: batches of up to 10 gathered within 1 s, `ReportBatchItemFailures`, "
           "`MaximumConcurrency` 2, queue visibility timeout 180 s, redrive to `failed-events` after 20 receives) → the real "
           "`stream-events` and `recording-events` binaries, two containers each. A record that failed transiently is returned by "
           "the function with a growing visibility timeout (2 s doubling, jittered) and comes back until it is applied; a record that "
           "can never be applied is sent by the function to `failed-events` with its reason. Every event must end applied or "
           "dead-lettered (dead-lettered: in `failed-events`, sent there by the function as permanent or redriven after 20 receives, "
           "or a send to the queue that failed); since every injected fault is transient, nothing may be dead-lettered; a stream's "
           "key is rotated at most once, and exactly once when its end was applied. *Records returned*: records the function "
           "handed back to the queue for a later retry. *Applied*: distinct events the function acknowledged (counted by event id "
           "from what each invocation carried and answered); *applied twice*: events it acknowledged again, when moto handed one "
           "message to both pollers at once (SQS standard queues may too, rarely).\n")
out.append("| faulty answers | seed | channels | events | IVS requests | faults injected | invocations | records returned | applied | applied twice | dead-lettered | lost | stream ends applied | rotations | seconds |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in faults:
    out.append(f"| {r['faultPercent']:.0f} % | {r['seed']} | {r['channels']} | {r['events']} | {r['ivsRequests']} | {r['faultsInjected']} | {r['invocations']} | {r['recordsReturned']} | {r['applied']} | {r['acknowledgedAgain']} | {r['deadLettered']} | **{r['lost']}** | {r['streamEndsApplied']} | {r['rotations']} | {r['seconds']:.1f} |")
out.append("\n## Every event delivered twice, in shuffled order\n")
out.append("The test sends every event twice, in a seeded random order, to `stream-events`' queue (as EventBridge may deliver: "
           "at least once, in any order); the same event source mapping and two containers take them. Each rotating stream's key "
           "must be rotated exactly once, suspended channels must stay without a key, no ERROR line.\n")
out.append("| seed | channels | deliveries | invocations | rotations | rotating streams | error lines | seconds |")
out.append("|---|---|---|---|---|---|---|---|")
for r in dups:
    out.append(f"| {r['seed']} | {r['channels']} | {r['deliveries']} | {r['invocations']} | {r['rotations']} | {r['streamsRotating']} | {r['errorLines']} | {r['seconds']:.1f} |")
out.append("\n## Bad input (property tests, fixed seed)\n")
for r in props:
    out.append(f"{r['cases']} generated cases per property, 9 properties (event parsing, ARN parsing and round trips, admin requests: malformed JSON, "
               f"wrong types, oversized bodies, traversal and injection-looking ids always a 4xx; token claims): `{r['result']}`\n")
out.append("## Secrets\n")
for r in secrets:
    out.append(f"The end-to-end scenario at log level TRACE (the project's own records at every level; dependencies, the SDK and the runtime, at most INFO, as deployed: README, \"Logs\"): {r['logLinesScanned']} log lines scanned for "
               f"{r['secretsLookedFor']} secrets (stream key values and SRT passphrases): {r['found']} found.\n")
out.append("Long runs: `./scripts/fuzz.sh [CASES]` (properties only, default 100000 cases each), "
           "`RELIABILITY_CHANNELS=200 RELIABILITY_SEEDS='1 2 3 4 5' ./scripts/reliability.sh`.")
open("RELIABILITY.md", "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
