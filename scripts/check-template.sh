#!/usr/bin/env bash
# Checks template.yaml (CI runs it: .ci/run). Offline: nothing here talks to AWS.
#
# 1. cfn-lint (pinned, scripts/tools.sh) with the serverless rules of cfn-lint-serverless,
#    informational findings included: nothing may be reported. A finding the template accepts
#    is ignored on its resource (Metadata cfn-lint ignore_checks) with a comment saying why.
# 2. `sam validate --lint` (SAM CLI, pinned), with dummy credentials and region.
# 3. The lint is real: broken copies of the template must fail it with the expected rule
#    (an invalid runtime, an invalid architecture, an event rule target without a
#    dead-letter queue for the serverless rules, an event source mapping that depends on a
#    role SAM does not generate).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_check_tools

template=template.yaml
lint() { cfn-lint --include-checks I --append-rules cfn_lint_serverless.rules -- "$@"; }

echo "cfn-lint $(cfn-lint --version | awk '{print $2}') + cfn-lint-serverless $CFN_LINT_SERVERLESS_VERSION: $template"
lint "$template"

echo "sam validate --lint (SAM CLI $AWS_SAM_CLI_VERSION)"
(
    export AWS_ACCESS_KEY_ID=AKIDCHECKONLY AWS_SECRET_ACCESS_KEY=check-only
    export AWS_DEFAULT_REGION=us-west-2 AWS_REGION=us-west-2
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_SESSION_TOKEN
    export SAM_CLI_TELEMETRY=0
    sam validate --lint --template-file "$template"
)

# Each broken copy must fail the lint, naming the rule that catches it.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
must_fail() {
    local what=$1 rule=$2 broken=$3 output
    if output="$(lint "$broken" 2>&1)"; then
        echo "the lint passed a template with $what: it checks nothing" >&2
        exit 1
    fi
    if ! grep -q "^$rule " <<<"$output"; then
        echo "the lint failed a template with $what, but not with $rule:" >&2
        echo "$output" >&2
        exit 1
    fi
    echo "ok: $what fails the lint ($rule)"
}
# Replaces exactly one occurrence of $2 by $3 in the template, into $1.
broken_copy() {
    python3 - "$template" "$@" <<'EOF'
import sys
source, out, old, new = sys.argv[1:]
text = open(source).read()
if text.count(old) != 1:
    sys.exit(f"{old!r} occurs {text.count(old)} times in {source}, expected once")
open(out, "w").write(text.replace(old, new))
EOF
}

broken_copy "$scratch/runtime.yaml" "Runtime: provided.al2023" "Runtime: provided.al2099"
must_fail "Runtime: provided.al2099" E3030 "$scratch/runtime.yaml"

broken_copy "$scratch/arch.yaml" "Architectures: [arm64]" "Architectures: [arm65]"
must_fail "Architectures: [arm65]" E3030 "$scratch/arch.yaml"

rule_with_dlq="          - IVS Recording State Change
        resources: !If [HasChannelFilter, !Ref ChannelArns, !Ref AWS::NoValue]
      Targets:
        - Id: RecordingEventsQueue
          Arn: !GetAtt RecordingEventsQueue.Arn
          RetryPolicy:
            MaximumEventAgeInSeconds: 3600
            MaximumRetryAttempts: 24
          DeadLetterConfig:
            Arn: !GetAtt EventDeliveryDeadLetterQueue.Arn
"
broken_copy "$scratch/dlq.yaml" "$rule_with_dlq" "$(sed '/DeadLetterConfig:/,$d' <<<"$rule_with_dlq")
"
must_fail "an event rule target without a dead-letter queue" ES4000 "$scratch/dlq.yaml"

# The event source mappings wait for their function's role, which SAM generates as
# <Function>Role: the lint sees the transformed template, so a name SAM does not generate fails.
broken_copy "$scratch/depends.yaml" "DependsOn: StreamEventsFunctionRole" "DependsOn: StreamEventsRole"
must_fail "an event source mapping depending on a role SAM does not generate" E3005 "$scratch/depends.yaml"

echo "template checks passed"
