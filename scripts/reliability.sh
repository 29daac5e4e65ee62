#!/usr/bin/env bash
# Reruns the reliability runs and writes RELIABILITY.md with their figures:
# - the fault scenario (20 % of IVS answers faulty, and one run at 60 % where the function's
#   own retries run out and Lambda's take over) and the duplicated, shuffled delivery
#   (tests/end_to_end/reliability.rs) at RELIABILITY_CHANNELS channels for each seed of RELIABILITY_SEEDS;
# - the property tests (tests/properties.rs) at PROPTEST_CASES cases each;
# - the end-to-end secret scan (tests/end_to_end/event_pipeline.rs, every log line at TRACE).
#   ./scripts/reliability.sh        (defaults: 40 channels, seeds "7 11 23", 5000 cases)
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
echo "reliability: $channels channels, 60 % faults (Lambda-level retries at work)" >&2
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
out.append("## Faults: a share of IVS's answers are 429, 500 or 503\n")
out.append("The emulator injects the faults (seeded) into every IVS operation and delivers each event through the Lambda Invoke API "
           "to the real `stream-events` binary; a failed invocation is retried twice, then dead-lettered, as Lambda's async invocation does. "
           "Every event must end applied or dead-lettered; a stream's key is rotated at most once, and exactly once when its end was applied.\n")
out.append("| faulty answers | seed | channels | events | IVS requests | faults injected | invocation retries | applied | dead-lettered | lost | stream ends applied | rotations | seconds |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in faults:
    out.append(f"| {r['faultPercent']:.0f} % | {r['seed']} | {r['channels']} | {r['events']} | {r['ivsRequests']} | {r['faultsInjected']} | {r['invocationRetries']} | {r['applied']} | {r['deadLettered']} | **{r['lost']}** | {r['streamEndsApplied']} | {r['rotations']} | {r['seconds']:.1f} |")
out.append("\n## Every event delivered twice, in shuffled order\n")
out.append("| seed | channels | deliveries | rotations | rotating streams | error lines | seconds |")
out.append("|---|---|---|---|---|---|---|")
for r in dups:
    out.append(f"| {r['seed']} | {r['channels']} | {r['deliveries']} | {r['rotations']} | {r['streamsRotating']} | {r['errorLines']} | {r['seconds']:.1f} |")
out.append("\n## Bad input (property tests, fixed seed)\n")
for r in props:
    out.append(f"{r['cases']} generated cases per property, 9 properties (event parsing, ARN parsing and round trips, admin requests: malformed JSON, "
               f"wrong types, oversized bodies, traversal and injection-looking ids always a 4xx; token claims): `{r['result']}`\n")
out.append("## Secrets\n")
for r in secrets:
    out.append(f"The end-to-end scenario at log level TRACE (the SDK's own records included): {r['logLinesScanned']} log lines scanned for "
               f"{r['secretsLookedFor']} secrets (stream key values and SRT passphrases): {r['found']} found.\n")
out.append("Long runs: `./scripts/fuzz.sh [CASES]` (properties only, default 100000 cases each), "
           "`RELIABILITY_CHANNELS=200 RELIABILITY_SEEDS='1 2 3 4 5' ./scripts/reliability.sh`.")
open("RELIABILITY.md", "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
