#!/usr/bin/env bash
# The scale benchmark (README "Benchmarks"; its figures are BENCHMARKS.md's "Scale" section):
# bursts of Stream Starts and Stream Ends through the event path the template deploys
# (EventBridge -> SQS -> event source mapping -> the real stream-events binary), under IVS's
# account-wide rate quotas, over HTTPS, with the admin API read meanwhile.
#
#   ./scripts/bench-scale.sh          the full run: release build; bursts of 100, 1,000 and
#                                     5,000 at the quotas x10, the first size again with the
#                                     event path's share at 1, the alternative (asynchronous
#                                     invocation, one container) on 100, and the sweeper's pass
#                                     over 5,000 channels; then the sweeper's pass over 50,000
#                                     channels at the quotas x100; writes the section into
#                                     BENCHMARKS.md (between its scale markers)
#   ./scripts/bench-scale.sh --smoke  the quick check CI runs: debug build, bursts of 100, the
#                                     alternative on 20 and the sweeper's pass over 200
#                                     channels; writes target/bench/scale-smoke.md
#
# Extra arguments go to ivs-bench-scale (--help lists them), e.g. --counts 100 --rate-factor 1;
# the sweeper alone: --counts 0 --async-arm 0 --sweeper-channels 5000 (a --sweeper-channels
# given here replaces the run's own and the 50,000-channel pass; 0 skips the sweeper).
# Needs what the README's test command needs (Rust, Python 3 with pip: moto's SQS server).
# Everything listens on 127.0.0.1 on ports the OS picks; nothing reaches AWS.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
if [ "${1:-}" = --smoke ]; then
    mode=smoke
    shift
elif [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

# The sweeper's pass: the run's own size unless the arguments give one.
smoke_sweeper=(--sweeper-channels 200)
full_sweeper=(--sweeper-channels 5000)
for arg in "$@"; do
    case "$arg" in --sweeper-channels | --sweeper-channels=*) smoke_sweeper=() full_sweeper=() ;; esac
done

source scripts/tools.sh
ensure_tools
mkdir -p target/bench

if [ "$mode" = smoke ]; then
    cargo build --locked --workspace --bins --quiet
    exec target/debug/ivs-bench-scale --smoke --bin-dir target/debug --counts 100 \
        --async-arm 20 --burst-timeout 300 ${smoke_sweeper[@]+"${smoke_sweeper[@]}"} --sweeper-timeout 300 \
        --out target/bench/scale-smoke.md \
        --command "./scripts/bench-scale.sh --smoke" "$@"
fi

cargo build --locked --release --workspace --bins
target/release/ivs-bench-scale --bin-dir target/release --full-share ${full_sweeper[@]+"${full_sweeper[@]}"} \
    --out target/bench/scale.md "$@"
# The sweeper's pass over 50,000 channels, at the quotas x100 (at x10 its floor alone is 83
# minutes): its own run, its section appended to the first's. Skipped when the arguments
# choose the sweeper's sizes.
rm -f target/bench/scale-large.md
if [ ${#full_sweeper[@]} -gt 0 ]; then
    target/release/ivs-bench-scale --bin-dir target/release --counts 0 --async-arm 0 \
        --sweeper-channels 50000 --rate-factor 100 --sweeper-timeout 3600 \
        --out target/bench/scale-large.md
fi

# Into BENCHMARKS.md, between the markers (appended the first time).
python3 - target/bench/scale.md BENCHMARKS.md target/bench/scale-large.md <<'PY'
import os, sys
begin = "<!-- scale:begin (./scripts/bench-scale.sh writes this section) -->"
end = "<!-- scale:end -->"
section = open(sys.argv[1]).read().strip()
if os.path.exists(sys.argv[3]):
    # The large pass's sweeper section, its headings told apart from the first run's.
    large = open(sys.argv[3]).read()
    at = large.find("## Scale: the sweeper's pass")
    if at >= 0:
        large = large[at:].strip()
        large = large.replace("## Scale: the sweeper's pass", "## Scale: the sweeper's pass at 50,000 channels (its own run)", 1)
        large = large.replace("### The sweeper's IVS calls per channel, by operation", "### The sweeper's IVS calls per channel at 50,000 channels, by operation", 1)
        large = large.replace("### At IVS's quotas (factor 1)", "### At IVS's quotas (factor 1), from the pass over 50,000 channels", 1)
        section += "\n\n" + large
block = f"{begin}\n{section}\n{end}"
try:
    report = open(sys.argv[2]).read()
except FileNotFoundError:
    report = ""
if begin in report and end in report:
    head, rest = report.split(begin, 1)
    _, tail = rest.split(end, 1)
    report = head + block + tail
else:
    report = report.rstrip("\n") + "\n\n" + block + "\n"
open(sys.argv[2], "w").write(report)
print(f"bench-scale: wrote the scale section into {sys.argv[2]}", file=sys.stderr)
PY
