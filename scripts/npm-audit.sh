#!/usr/bin/env bash
# `npm audit --audit-level=high` over an npm project's package-lock.json (default bench/node,
# the benchmark's Node.js reference). scripts/bench.sh runs it after `npm ci`, scripts/deny.sh
# on the lockfile alone (npm audit needs no node_modules).
#
# Gates: a high or critical advisory fails (exit 1). Moderate and low ones are printed, not
# fatal: the Node.js reference is never deployed, it only runs in the benchmark against
# 127.0.0.1, so a moderate advisory there is not worth a red build; a high one is still a
# reason to move the pinned SDK.
#
# When the registry has no audit endpoint (the registry this project's machines reach answers
# npm's bulk advisory request with "405 Method Not Allowed", Allow: GET, HEAD), nothing is
# checked: the script says so loudly with the registry's answer and passes, unless
# DENY_REQUIRE_ADVISORIES=1 (as for cargo-deny's advisories, scripts/deny.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-bench/node}
level=high

# The machine's ~/.npmrc may say audit=false; that only turns off install-time audits, an
# explicit `npm audit` still runs. The lockfile is what is audited.
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
(cd "$dir" && npm audit --json --audit-level="$level" 2>/dev/null) >"$report" || status=$?

python3 - "$dir" "$level" "$status" "${DENY_REQUIRE_ADVISORIES:-0}" "$report" <<'EOF'
import json, sys

dir, level, status, require = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
try:
    with open(sys.argv[5]) as f:
        report = json.load(f)
except ValueError:
    report = {}
if "metadata" in report and "vulnerabilities" in report:
    counts = report["metadata"].get("vulnerabilities", {})
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("critical", "high", "moderate", "low"))
    for name, v in sorted(report["vulnerabilities"].items()):
        via = [x.get("url", x.get("title", "")) for x in v.get("via", []) if isinstance(x, dict)]
        print(f"  {v.get('severity')}: {name} {v.get('range', '')} {' '.join(via)}".rstrip())
    if status != 0:
        print(f"npm audit ({dir}): FAILED at --audit-level={level}: {summary}")
        sys.exit(1)
    print(f"npm audit ({dir}): ok at --audit-level={level} ({summary})")
    sys.exit(0)
answer = report.get("message") or report.get("error", {}).get("summary") or "no answer"
allow = report.get("headers", {}).get("allow")
if allow:
    answer += f" (Allow: {', '.join(allow)})"
print(f"WARNING: npm audit NOT checked ({dir}): the registry has no audit endpoint")
print(f"         it answered: {answer}")
if require:
    print("DENY_REQUIRE_ADVISORIES=1: failing", file=sys.stderr)
    sys.exit(1)
EOF
