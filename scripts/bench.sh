#!/usr/bin/env bash
# The benchmark (README "Benchmarks"; the figures are in BENCHMARKS.md).
#
#   ./scripts/bench.sh          the full run: release build, the Node.js reference installed from
#                               npm (bench/node, pinned by its package-lock.json), the arm64 build
#                               with cargo-lambda, the floor built again with aws-lc's jitter
#                               entropy (target/bench/jitter, a what-if), then every measurement;
#                               prints the table and writes BENCHMARKS.md
#   ./scripts/bench.sh --smoke  the quick check CI runs: debug build, one run each, no Node.js,
#                               no arm64 build, no jitter build; writes
#                               target/bench/BENCHMARKS-smoke.md
#
# Needs what the README's two commands need (Rust, Python 3 with pip: moto's EventBridge and SQS,
# where the functions publish their lifecycle events), and Node.js 20+ with npm for the full
# run. Everything listens on 127.0.0.1 on ports the OS picks; nothing reaches AWS.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
    "") ;;
    --smoke) mode=smoke ;;
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--smoke]" >&2
        exit 2
        ;;
esac

step() { printf '\n=== bench: %s\n' "$*" >&2; }
mkdir -p target/bench

if [ "$mode" = smoke ]; then
    # moto (EventBridge and SQS for the functions' lifecycle events), pinned, into .venv.
    step "tools (moto and the others, pinned, into .venv)"
    source scripts/tools.sh
    ensure_tools
    # Same package selection as the tests (--workspace): nothing is recompiled after them.
    step "debug build"
    cargo build --locked --workspace --bins --quiet
    step "smoke run"
    exec target/debug/ivs-bench --smoke \
        --bin-dir target/debug --runs 1 --warm-runs 1 --warm-events 10 \
        --out target/bench/BENCHMARKS-smoke.md --command "./scripts/bench.sh --smoke"
fi

for tool in node npm; do
    command -v "$tool" >/dev/null || {
        echo "the full benchmark needs $tool (Node.js 20+); ./scripts/bench.sh --smoke runs without" >&2
        exit 1
    }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "the Node.js reference needs Node.js 20 or later (found $(node -v))" >&2
    exit 1
fi

step "tools (cargo-lambda, moto, pinned, into .venv)"
source scripts/tools.sh
ensure_tools

step "release build (cargo build --locked --release --workspace --bins)"
cargo build --locked --release --workspace --bins

step "Node.js reference (npm ci in bench/node, then npm audit --audit-level=high)"
# The install's own audit is off: it only reports; the audit that gates is the next command.
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
./scripts/npm-audit.sh bench/node

# Artifact sizes: name, target, bootstrap bytes, zip bytes; '#' lines are notes.
sizes=target/bench/sizes.tsv
bins=(stream-events recording-events admin-api bench-floor)
: >"$sizes"

# A zip of one bootstrap as Lambda takes it (deflate, level 9, as cargo-lambda writes it).
zip_size() {
    python3 - "$1" <<'EOF'
import io, os, sys, zipfile
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(sys.argv[1], "rb") as f:
        z.writestr(info, f.read(), compresslevel=9)
print(len(buffer.getvalue()))
EOF
}

arm64=aarch64-unknown-linux-gnu
arm64_reason=""
if ! rustup target list --installed 2>/dev/null | grep -qx "$arm64"; then
    step "rustup target add $arm64"
    if ! rustup target add "$arm64" >target/bench/rustup.log 2>&1; then
        arm64_reason="\`rustup target add $arm64\` failed: $(tail -n 1 target/bench/rustup.log)"
    fi
fi
if [ -z "$arm64_reason" ]; then
    step "arm64 build (cargo lambda build --locked --release --arm64)"
    bin_args=()
    for b in "${bins[@]}"; do bin_args+=(--bin "$b"); done
    if cargo lambda build --locked --release --arm64 --output-format zip \
        --lambda-dir target/bench/lambda "${bin_args[@]}" 2>&1 | tee target/bench/arm64.log >&2; then
        for b in "${bins[@]}"; do
            printf '%s\t%s\t%s\t%s\n' "$b" "$arm64" \
                "$(stat -c %s "target/$arm64/release/$b")" \
                "$(stat -c %s "target/bench/lambda/$b/bootstrap.zip")" >>"$sizes"
        done
        echo "# Built by \`cargo lambda build --release --arm64 --output-format zip\` ($(cargo lambda -V)); the zip is the one cargo-lambda (and so \`sam build\`) deploys." >>"$sizes"
        # The deployed build must not link aws-lc's jitter-entropy source (scripts/tools.sh).
        jitter_check=$(check_no_jitter_entropy "$arm64")
        echo "$jitter_check" >&2
        echo "# $jitter_check." >>"$sizes"
    else
        arm64_reason="\`cargo lambda build --release --arm64\` failed (target/bench/arm64.log)"
    fi
fi
if [ -n "$arm64_reason" ]; then
    echo "no arm64 build: $arm64_reason; measuring the x86_64 release binaries instead" >&2
    for b in "${bins[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$b" "x86_64-unknown-linux-gnu" \
            "$(stat -c %s "target/release/$b")" "$(zip_size "target/release/$b")" >>"$sizes"
    done
    echo "# No arm64 build: $arm64_reason. These are the x86_64 release binaries (cargo build --release), zipped at deflate level 9." >>"$sizes"
fi

# What-if: the floor built WITHOUT AWS_LC_SYS_NO_JITTER_ENTROPY (which .cargo/config.toml sets
# for every build), to show what the flag buys. An explicitly set variable beats [env] without
# `force`, and aws-lc-sys reads "0" as false. Its own target dir, so that nothing else is
# rebuilt; built alone (-p), unstripped so that nm can show the jitter-entropy source is in, then
# stripped as the release profile strips the other binaries.
jitter_args=()
jitter_dir=target/bench/jitter
step "what-if build: bench-floor with aws-lc's jitter entropy ($jitter_dir)"
jitter_reason=""
if AWS_LC_SYS_NO_JITTER_ENTROPY=0 cargo build --locked --release -p bench-floor --bin bench-floor \
    --target-dir "$jitter_dir" --config 'profile.release.strip=false' \
    >"$jitter_dir.log" 2>&1; then
    with_jitter=$(nm "$jitter_dir/release/bench-floor" 2>/dev/null | grep -c ' jent_' || true)
    normal_lib=$(ls -t target/release/build/aws-lc-sys-*/out/libaws_lc_*_crypto.a 2>/dev/null | head -n 1)
    without_jitter=$( (nm "$normal_lib" 2>/dev/null || true) | grep -c ' jent_' || true)
    if [ "$with_jitter" -gt 0 ] && [ -n "$normal_lib" ] && [ "$without_jitter" -eq 0 ]; then
        strip -o "$jitter_dir/bench-floor-jitter" "$jitter_dir/release/bench-floor"
        jitter_args=(--jitter-floor "$jitter_dir/bench-floor-jitter" --jitter-note \
            "Built by \`AWS_LC_SYS_NO_JITTER_ENTROPY=0 cargo build --release -p bench-floor\` into $jitter_dir (alone, so its dependencies' features are bench-floor's own rather than unified with the workspace's), then stripped; \`nm\` finds $with_jitter jitter-entropy (\`jent_\`) symbols in it and none in the aws-lc library of the other release binaries.")
    else
        jitter_reason="the jitter check failed (jent_ symbols: $with_jitter in the what-if build, $without_jitter in ${normal_lib:-no aws-lc library found})"
    fi
else
    jitter_reason="its build failed ($jitter_dir.log)"
fi
if [ -n "$jitter_reason" ]; then
    echo "no jitter-entropy floor: $jitter_reason" >&2
    jitter_args=(--jitter-note "$jitter_reason.")
fi

step "measuring"
target/release/ivs-bench \
    --bin-dir target/release --node-dir bench/node --sizes "$sizes" "${jitter_args[@]}" \
    --append bench/analysis.md --out BENCHMARKS.md --command "./scripts/bench.sh"
