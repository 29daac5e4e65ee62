#!/usr/bin/env bash
# The local stack: the IVS emulator, the event functions and the admin API wired to it, on
# 127.0.0.1.
#
#   ./scripts/local-stack.sh            runs until Ctrl-C, showing what the automation does
#   ./scripts/local-stack.sh --smoke    starts it on free ports, runs the README's commands as
#                                       written (scripts/readme-check.py: curl and AWS CLI
#                                       forms) and the walkthrough (scripts/walkthrough.sh,
#                                       twice) against it, and stops
#
# The emulator (ivs-emulator) serves the IVS API (and a minimal Secrets Manager) and emits
# IVS's EventBridge events; it delivers them as the template deploys them: to an SQS queue per
# event function (moto's SQS server, with the dead-letter queue `failed-events` and its
# redrive policy), then through its model of Lambda's SQS event source mapping (batches of up
# to 10 within 1 s, two containers at most, partial batch failures) to `cargo lambda watch`
# over the Lambda Invoke API, which runs the functions in the real Lambda runtime loop (and
# rebuilds them when you edit the code). Its local API Gateway serves the admin API: SigV4-signed requests
# (execute-api) become HTTP API events with an IAM identity. The functions call the emulator
# through AWS_ENDPOINT_URL_IVS / AWS_ENDPOINT_URL_SECRETS_MANAGER. Nothing reaches AWS.
#
# moto's server is also the EventBridge the functions publish their lifecycle events to
# (AWS_ENDPOINT_URL_EVENTBRIDGE, bus LIFECYCLE_EVENT_BUS, default `default`): a rule with the
# pattern {"source": ["ivs-automation"]} sends them to the SQS queue `lifecycle-events`, which
# the stack drains. It shows each event as it arrives and, at the end (Ctrl-C, or after the
# smoke run), every event received, checked against its JSON Schema, and a table of the
# metrics the functions wrote as EMF lines in their logs (target/debug/local-stack-report).
#
# Ports: IVS_PORT (default 4566), ADMIN_PORT (4567), LAMBDA_PORT (9000) and SQS_PORT (4568,
# moto: SQS and EventBridge).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

smoke=false
case "${1:-}" in
    --smoke) smoke=true ;;
    "") ;;
    *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac

ensure_tools
if $smoke; then
    ivs_port=$(free_port)
    admin_port=$(free_port)
    lambda_port=$(free_port)
    sqs_port=$(free_port)
else
    ivs_port=${IVS_PORT:-4566}
    admin_port=${ADMIN_PORT:-4567}
    lambda_port=${LAMBDA_PORT:-9000}
    sqs_port=${SQS_PORT:-4568}
fi

echo "building the emulator and the functions…"
cargo build --locked --workspace --bins --quiet

logs=$(mktemp -d)
pids=()
# What the session showed, printed when it stops (Ctrl-C): set once the stack is up.
report_on_exit=false
cleanup() {
    if $report_on_exit; then
        report_on_exit=false
        echo
        report || true
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# moto's SQS server (scripts/tools.sh installed it), in the fake account 111122223333.
MOTO_ACCOUNT_ID=111122223333 AWS_ACCESS_KEY_ID=AKIDLOCALONLY AWS_SECRET_ACCESS_KEY=local-only \
    .venv/bin/moto_server -H 127.0.0.1 -p "$sqs_port" >"$logs/sqs.log" 2>&1 &
pids+=($!)
wait_for_port "$sqs_port" 60
sqs_url="http://127.0.0.1:$sqs_port"

# moto as EventBridge: the lifecycle events' bus (created unless it is `default`) and a rule
# sending every event of source ivs-automation to the queue lifecycle-events, as a consumer
# subscribes (README, "Lifecycle events").
lifecycle_bus=${LIFECYCLE_EVENT_BUS:-default}
lifecycle_queue=$(.venv/bin/python - "$sqs_url" "$lifecycle_bus" <<'PY'
import json, sys, boto3
url, bus = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=url, region_name="us-west-2",
          aws_access_key_id="AKIDLOCALONLY", aws_secret_access_key="local-only")
sqs, events = boto3.client("sqs", **kw), boto3.client("events", **kw)
queue = sqs.create_queue(QueueName="lifecycle-events")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
if bus != "default":
    events.create_event_bus(Name=bus)
events.put_rule(Name="lifecycle-events", EventBusName=bus,
                EventPattern=json.dumps({"source": ["ivs-automation"]}))
events.put_targets(Rule="lifecycle-events", EventBusName=bus,
                   Targets=[{"Id": "lifecycle-events", "Arn": arn}])
print(queue)
PY
)

# Moves what the lifecycle queue holds into $logs/lifecycle.jsonl (one event per line), until
# it stays empty for $1 polls of a second ("follow": forever, printing each event as it comes).
drain_lifecycle() {
    .venv/bin/python - "$sqs_url" "$lifecycle_queue" "$logs/lifecycle.jsonl" "$1" <<'PY'
import json, sys, boto3
url, queue, out, quiet = sys.argv[1:5]
follow = quiet == "follow"
sqs = boto3.client("sqs", endpoint_url=url, region_name="us-west-2",
                   aws_access_key_id="AKIDLOCALONLY", aws_secret_access_key="local-only")
empty = 0
while follow or empty < int(quiet):
    try:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
    except Exception:
        if follow:
            break
        raise
    empty = 0 if messages else empty + 1
    with open(out, "a") as f:
        for m in messages:
            f.write(m["Body"].replace("\n", " ") + "\n")
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            if follow:
                e = json.loads(m["Body"])
                print(f'── lifecycle event: {e.get("detail-type")}  {e.get("detail", {}).get("id")}', flush=True)
PY
}

# A channel that records to S3 goes live, then offline: IVS emits Recording End, and the
# recording-events function publishes Recording Ready (smoke run).
recorded_stream() {
    local sign=(--aws-sigv4 "aws:amz:us-west-2:ivs" --user "AKIDLOCALONLY:local-only"
        -H 'content-type: application/json')
    local field='import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)'
    local config config_arn state created channel key
    config=$(curl -sS --fail-with-body --retry 4 --retry-delay 1 "${sign[@]}" \
        "$ivs_url/CreateRecordingConfiguration" \
        -d '{"name":"smoke-recording","destinationConfiguration":{"s3":{"bucketName":"smoke-recordings-111122223333"}}}')
    config_arn=$(echo "$config" | python3 -c "$field" recordingConfiguration.arn)
    # CREATING, then ACTIVE (2 s in the emulator, as in IVS a moment later).
    for _ in $(seq 1 40); do
        state=$(curl -sS --retry 4 --retry-delay 1 "${sign[@]}" "$ivs_url/GetRecordingConfiguration" \
            -d "{\"arn\":\"$config_arn\"}" | python3 -c "$field" recordingConfiguration.state)
        [ "$state" = ACTIVE ] && break
        sleep 0.5
    done
    created=$(curl -sS --fail-with-body --retry 4 --retry-delay 1 "${sign[@]}" "$ivs_url/CreateChannel" \
        -d "{\"name\":\"smoke-recorded\",\"recordingConfigurationArn\":\"$config_arn\"}")
    channel=$(echo "$created" | python3 -c "$field" channel.arn)
    key=$(echo "$created" | python3 -c "$field" streamKey.value)
    echo "recording configuration $config_arn ($state), channel $channel"
    curl -sS --fail-with-body "$ivs_url/_emulator/ingest/connect" -d "{\"streamKey\":\"$key\"}" >/dev/null
    sleep 2
    curl -sS --fail-with-body "$ivs_url/_emulator/ingest/disconnect" -d "{\"channelArn\":\"$channel\"}" >/dev/null
    echo "live for 2 s, then offline"
}

# The lifecycle events received (checked against their schemas) and the table of the metrics
# the functions wrote since the warm-up below.
report() {
    touch "$logs/lifecycle.jsonl"
    target/debug/local-stack-report --events "$logs/lifecycle.jsonl" \
        --logs <(tail -n +$((${warmed_up_lines:-0} + 1)) "$logs/functions.log") "$@"
}

# The emulator prints its URL as the first line of stdout, the gateway's as the second, then
# the queues (`queue <name> <url>`, `dead-letter-queue <url>`).
# The gateway waits longer than API Gateway's 30 s: cargo lambda compiles a function on its
# first invocation.
target/debug/ivs-emulator --port "$ivs_port" \
    --lambda-endpoint "http://127.0.0.1:$lambda_port" --default-routes --sqs-endpoint "$sqs_url" \
    --gateway-port "$admin_port" --gateway-function admin-api --gateway-timeout 300 \
    --events-out "$logs/events.jsonl" \
    >"$logs/emulator.out" 2>"$logs/emulator.log" &
pids+=($!)
for _ in $(seq 1 300); do
    grep -q '^dead-letter-queue ' "$logs/emulator.out" 2>/dev/null && break
    sleep 0.1
done
ivs_url=$(sed -n 1p "$logs/emulator.out")
admin_url=$(sed -n 2p "$logs/emulator.out" | sed 's/^gateway: //')
dead_letter_queue=$(sed -n 's/^dead-letter-queue //p' "$logs/emulator.out")
# The admin API keeps lifecycle events EventBridge did not take on the stream-events queue.
outbox_queue=$(sed -n 's/^queue stream-events-events //p' "$logs/emulator.out")
case "$ivs_url $admin_url $dead_letter_queue" in
    "http://127.0.0.1:"*" http://127.0.0.1:"*" http://127.0.0.1:"*) ;;
    *) echo "the emulator did not start:" >&2; cat "$logs/emulator.log" >&2; exit 1 ;;
esac

# The functions, with dummy credentials and IVS (and Secrets Manager) pointed at the
# emulator. Tags are read for every event (POLICY_CACHE_SECONDS=0) so that tagging a channel
# takes effect at once. The admin API builds ARNs in the emulator's account and region, and
# reads its playback key from the secret the walkthrough stores, checking it for a new version
# every 2 s (300 s by default) so that a walkthrough run again, which stores a new key, is
# signed with that key within seconds. The event functions return throttled records to their
# queue and send what can never be applied to the dead-letter queue, on moto's SQS. The
# emulator enforces IVS's quotas (factor 1), and the functions' rate budgets are IVS's too
# (each function's default share; cargo lambda watch gives every function the same
# environment, so the budgets are not divided by the mapping's concurrency here).
AWS_REGION=us-west-2 AWS_ACCESS_KEY_ID=AKIDLOCALONLY AWS_SECRET_ACCESS_KEY=local-only \
AWS_ENDPOINT_URL_IVS="$ivs_url" AWS_ENDPOINT_URL_SECRETS_MANAGER="$ivs_url" \
AWS_ENDPOINT_URL_SQS="$sqs_url" EVENT_DEAD_LETTER_QUEUE_URL="$dead_letter_queue" \
AWS_ENDPOINT_URL_EVENTBRIDGE="$sqs_url" LIFECYCLE_EVENT_BUS="$lifecycle_bus" \
LIFECYCLE_OUTBOX_QUEUE_URL="$outbox_queue" \
AWS_LAMBDA_LOG_FORMAT=JSON AWS_LAMBDA_LOG_LEVEL=INFO \
POLICY_CACHE_SECONDS=0 IVS_ACCOUNT_ID=111122223333 IVS_REGION=us-west-2 \
PLAYBACK_KEY_SECRET_ID=ivs-automation/playback-key PLAYBACK_KEY_REFRESH_SECONDS=2 \
    cargo lambda watch --locked --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
    >"$logs/functions.log" 2>&1 &
pids+=($!)
wait_for_port "$lambda_port"

# cargo lambda starts a function on its first invocation: start both now, with an event they
# acknowledge without calling IVS, so that the first real event is handled at once.
for function in stream-events recording-events; do
    cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$lambda_port" \
        --data-file events/other/unknown-detail-type.json >/dev/null
done
# The admin API, through the gateway, with a signed read.
curl -sS -o /dev/null --aws-sigv4 "aws:amz:us-west-2:execute-api" \
    --user "AKIDLOCALONLY:local-only" "$admin_url/streams"
# What the warm-up logged (the unrecognised event's warning, for one) is not shown below.
warmed_up_lines=$(grep -c '' "$logs/functions.log" || true)

if $smoke; then
    echo "The local stack is up: IVS emulator $ivs_url, admin API $admin_url, functions on 127.0.0.1:$lambda_port."
else
cat <<EOF

The local stack is up.
  IVS emulator     $ivs_url   (IVS API, signed requests; control API under /_emulator)
  Admin API        $admin_url   (local API Gateway, IAM: sign for execute-api)
  Lambda functions http://127.0.0.1:$lambda_port   (stream-events, recording-events, admin-api; cargo lambda watch)
  SQS, EventBridge $sqs_url   (moto: the event queues, dead letters: $dead_letter_queue;
                   lifecycle events on bus $lifecycle_bus, a rule to the queue lifecycle-events)

Try it (or run: ./scripts/walkthrough.sh $ivs_url $admin_url):

  export AWS_ACCESS_KEY_ID=AKIDLOCALONLY AWS_SECRET_ACCESS_KEY=local-only AWS_REGION=us-west-2 AWS_DEFAULT_REGION=us-west-2
  # create a channel whose key is rotated after each stream
  curl -s --aws-sigv4 'aws:amz:us-west-2:ivs' --user "\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY" \\
    -H 'content-type: application/json' $ivs_url/CreateChannel \\
    -d '{"name":"demo","tags":{"ivs-automation:rotate-key-on":"stream-end"}}'
  # or, with the AWS CLI:
  #   aws ivs create-channel --endpoint-url $ivs_url --region us-west-2 --name demo --tags ivs-automation:rotate-key-on=stream-end
  # a broadcaster goes live with the stream key from the answer
  curl -s $ivs_url/_emulator/ingest/connect -d '{"streamKey":"sk_us-west-2_…"}'
  # what viewers received
  curl -s -G $ivs_url/_emulator/metadata --data-urlencode 'channelArn=arn:aws:ivs:…'
  # the broadcaster leaves: watch the key being rotated below
  curl -s $ivs_url/_emulator/ingest/disconnect -d '{"channelArn":"arn:aws:ivs:…"}'
  # the admin API (README: "The admin API" lists every route)
  curl -s --aws-sigv4 'aws:amz:us-west-2:execute-api' --user "\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY" $admin_url/channels

Lifecycle events show below as they arrive (── lifecycle event: …); Ctrl-C stops everything and
prints them all, checked against their schemas, with a table of the metrics the functions wrote.

EOF
fi

if $smoke; then
    # The README's own commands, as written, in both forms (curl and the AWS CLI), first: as a
    # reader runs them on a fresh stack (their create-secret succeeds once per stack).
    ./scripts/readme-check.py "$ivs_url" "$admin_url"
    echo
    echo "── the walkthrough script"
    ./scripts/walkthrough.sh "$ivs_url" "$admin_url"
    # Again, against the same stack: it stores a new playback key, and its token must verify
    # with the new public key (the admin function refreshes its key; README, "Rotating the
    # playback key").
    echo
    echo "── the walkthrough again, against the same stack"
    ./scripts/walkthrough.sh "$ivs_url" "$admin_url"
    echo
    echo "── a recorded stream (the walkthrough does not record): live, offline, its recording ready"
    recorded_stream
    echo
    echo "── the dead-letter queue (it must be empty: every event was applied)"
    dead=$(.venv/bin/python - "$sqs_url" "$dead_letter_queue" <<'PY'
import sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-west-2",
                   aws_access_key_id="AKIDLOCALONLY", aws_secret_access_key="local-only")
a = sqs.get_queue_attributes(QueueUrl=sys.argv[2], AttributeNames=["All"])["Attributes"]
print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
PY
)
    echo "messages in failed-events: $dead"
    [ "$dead" = 0 ] || { echo "events were dead-lettered" >&2; exit 1; }
    echo
    echo "── the lifecycle events and the metrics (what a subscriber and the dashboard would see)"
    # Until the queue stays empty for 5 s: the last events may still be in handling.
    drain_lifecycle 5
    # The walkthrough (README's and the script's) drives, per run: a stream (live, offline,
    # its key rotated), then a suspended channel going live (suspended, its stream stopped);
    # the recorded stream a Recording Ready.
    report --check \
        --expect "Channel Live,Channel Offline,Stream Key Rotated,Channel Suspended,Stream Stopped,Recording Ready" \
        --expect-metrics "Actions,IvsCalls,EventAge,EventsHandled,LifecycleEventsPublished"
    echo
    echo "── what the functions logged (actions)"
    grep '"action"' "$logs/functions.log" || true
    if grep -q '"level":"ERROR"' "$logs/functions.log"; then
        echo "the functions logged errors:" >&2
        grep '"level":"ERROR"' "$logs/functions.log" >&2
        exit 1
    fi
    exit 0
fi

echo "Events and function logs follow (Ctrl-C stops everything)."
# In the background, so that a signal reaches the traps at once (bash runs traps only when
# the foreground command ends, and `wait` returns on a signal).
# From after the warm-up; without the metrics' EMF lines (the table at the end sums them) nor
# lambda_runtime's notice that cargo lambda watch sets
# AWS_LAMBDA_MAX_CONCURRENCY (Lambda does not, except on managed instances), repeated at every
# function start.
tail -n +1 -F "$logs/events.jsonl" 2>/dev/null &
pids+=($!)
drain_lifecycle follow &
pids+=($!)
report_on_exit=true
# tail is the background job (the one cleanup kills); grep ends when tail's output closes.
tail -n +$((warmed_up_lines + 1)) -F "$logs/functions.log" 2>/dev/null \
    > >(grep --line-buffered -v -e 'AWS_LAMBDA_MAX_CONCURRENCY is set' -e '"CloudWatchMetrics"') &
pids+=($!)
wait "$!"
