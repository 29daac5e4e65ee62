#!/usr/bin/env bash
# Builds the functions exactly as `sam deploy` ships them, offline, and reports their sizes.
#
#   ./scripts/sam-build.sh            # build into target/sam/build, then report
#
# `sam build` (SAM CLI, pinned, in .venv/sam: scripts/tools.sh ensure_check_tools) runs
# `cargo lambda build --release --arm64 --bin <function>` for each function of template.yaml
# (Metadata: BuildMethod rust-cargolambda). cargo-lambda and ziglang come from PyPI (pinned,
# .venv) and cross-compile and link for arm64: no Docker, no network once the crates are in
# Cargo's cache. Needs the Rust target aarch64-unknown-linux-gnu; the script adds it with
# rustup when it is missing (a machine that refuses that download cannot run this script).
#
# Output: target/sam/build/<Function>/bootstrap and target/sam/build/template.yaml (deploy
# it with `sam deploy --template-file target/sam/build/template.yaml --guided`); it stays under
# target/ so the work tree stays clean. Then one line per function: the bootstrap's size and
# the size of the zip Lambda receives (deflated as `sam deploy` packages it), the build's
# duration, a check that every bootstrap is an arm64 (aarch64) ELF executable, and one that the
# aws-lc they link was built without CPU-jitter entropy (scripts/tools.sh).
#
# Not in CI: a clean cross build of the workspace takes many minutes on 2 cores and needs the
# aarch64 target download (see README, Deploying with SAM).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_check_tools

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
    echo "adding the Rust target $target" >&2
    rustup target add "$target"
fi

export SAM_CLI_TELEMETRY=0
# sam build needs a region to resolve the template (nothing is sent to AWS).
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-west-2}"

# `sam build` cannot pass --locked: SAM CLI 1.170.0 hands cargo-lambda only the Binary build
# property (aws-lambda-builders has a cargo_lambda_flags option, but SAM never sets it). So
# check here that Cargo.lock is complete and current: the build then resolves to it as is.
cargo metadata --locked --format-version 1 >/dev/null

build_dir=target/sam/build
rm -rf "$build_dir"
started=$(date +%s)
sam build --no-cached --template-file template.yaml --build-dir "$build_dir"
elapsed=$(($(date +%s) - started))
check_no_jitter_entropy "$target"

python3 - "$build_dir" "$elapsed" <<'EOF'
import io, os, sys, zipfile

build_dir, elapsed = sys.argv[1], int(sys.argv[2])
rows, problems = [], []
for name in sorted(os.listdir(build_dir)):
    path = os.path.join(build_dir, name, "bootstrap")
    if not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        data = f.read()
    # ELF, 64-bit, little-endian, e_machine 0xB7 (AArch64).
    if data[:4] != b"\x7fELF" or data[4] != 2 or int.from_bytes(data[18:20], "little") != 0xB7:
        problems.append(f"{name}: bootstrap is not an arm64 ELF executable")
    if not os.access(path, os.X_OK):
        problems.append(f"{name}: bootstrap is not executable")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    rows.append((name, len(data), len(buf.getvalue())))
if not rows:
    problems.append(f"no bootstrap under {build_dir}")
mib = lambda n: f"{n / 1048576:.2f} MiB"
print(f"\n{'function':<26} {'bootstrap':>12} {'zip':>12}")
for name, raw, zipped in rows:
    print(f"{name:<26} {mib(raw):>12} {mib(zipped):>12}")
print(f"sam build took {elapsed} s")
for p in problems:
    print(f"error: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
