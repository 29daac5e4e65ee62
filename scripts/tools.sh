# shellcheck shell=bash
# Installs the project's command-line tools (cargo-lambda, boto3, cfn-lint), pinned, into
# .venv/ (git-ignored) and puts them on PATH. Source it: `source scripts/tools.sh && ensure_tools`. Needs only python3 + pip.

CARGO_LAMBDA_VERSION="1.9.2"
BOTO3_VERSION="1.43.11"

ensure_tools() {
    local root venv
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/cargo-lambda" lambda -V 2>/dev/null | grep -q "cargo-lambda $CARGO_LAMBDA_VERSION"; then
        echo "installing cargo-lambda $CARGO_LAMBDA_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
    fi
    # boto3 drives the emulator in the boto3 conformance test.
    if ! "$venv/bin/python" -c "import boto3, sys; sys.exit(boto3.__version__ != '$BOTO3_VERSION')" 2>/dev/null; then
        echo "installing boto3 $BOTO3_VERSION into .venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "boto3==$BOTO3_VERSION"
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

# Tools only the checks need (template lint), pinned, in the same .venv.
ensure_check_tools() {
    ensure_tools
    if ! cfn-lint --version 2>/dev/null | grep -q "cfn-lint $CFN_LINT_VERSION"; then
        echo "installing cfn-lint $CFN_LINT_VERSION into .venv" >&2
        pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
    fi
}
