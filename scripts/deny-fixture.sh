#!/usr/bin/env bash
# Proves the advisory gate bites (scripts/deny.sh runs it): `cargo deny check advisories`
# against a fixture advisory database (tests/deny-fixture/advisory-db: RUSTSEC-2021-0003,
# smallvec 1.6.0's buffer overflow, written from that advisory's public facts) must
#   - FAIL on tests/deny-fixture/vulnerable (smallvec =1.6.0) and name RUSTSEC-2021-0003,
#   - pass on tests/deny-fixture/patched (smallvec =1.6.1, the fixed release).
# Nothing is compiled: cargo-deny reads `cargo metadata` (which may download the two smallvec
# manifests from crates.io once) and the fixtures' checked-in Cargo.lock (--locked). No GitHub:
# the fixture database is a local git repository made here, reached through git's
# url.<base>.insteadOf in place of the fixture's .invalid URL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_cargo_deny

fixture=tests/deny-fixture
url=$(sed -n 's/^db-urls = \["\(.*\)"\]$/\1/p' "$fixture/deny.toml")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cargo-deny opens advisory databases as git clones (branch main; their freshness is the
# commit's date): commit the fixture database as one, dated now.
cp -r "$fixture/advisory-db" "$work/db"
git -C "$work/db" init --quiet --initial-branch=main
git -C "$work/db" add .
git -C "$work/db" -c user.name=deny-fixture -c user.email=deny-fixture@invalid \
    -c commit.gpgsign=false commit --quiet -m "fixture advisory database"

run() { # $1: fixture crate; prints cargo-deny's output, returns its status
    GIT_TERMINAL_PROMPT=0 GIT_CONFIG_COUNT=1 \
        GIT_CONFIG_KEY_0="url.file://$work/db.insteadOf" GIT_CONFIG_VALUE_0="$url" \
        DENY_ADVISORY_DB_ROOT="$work/dbs-$1" \
        cargo deny --color never --locked --config "$fixture/deny.toml" \
        --manifest-path "$fixture/$1/Cargo.toml" check advisories 2>&1
}

failed=0
if out=$(run vulnerable); then
    echo "deny fixture: FAILED: smallvec 1.6.0 passed the advisory check; cargo-deny said:" >&2
    echo "$out" >&2
    failed=1
elif ! grep -q 'ID: RUSTSEC-2021-0003' <<<"$out" || ! grep -q '^error\[vulnerability\]' <<<"$out"; then
    echo "deny fixture: FAILED: smallvec 1.6.0 failed, but not on RUSTSEC-2021-0003; cargo-deny said:" >&2
    echo "$out" >&2
    failed=1
else
    echo "deny fixture: smallvec 1.6.0 is refused: $(grep -m1 '^error\[vulnerability\]' <<<"$out"), ID RUSTSEC-2021-0003"
fi

if out=$(run patched); then
    echo "deny fixture: smallvec 1.6.1 (patched) passes: $(tail -n 1 <<<"$out")"
else
    echo "deny fixture: FAILED: smallvec 1.6.1 (patched) was refused; cargo-deny said:" >&2
    echo "$out" >&2
    failed=1
fi
exit "$failed"
