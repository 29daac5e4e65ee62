#!/usr/bin/env bash
# The README's walkthrough, step by step, against a running local stack
# (./scripts/local-stack.sh). Each step prints the command it runs, so it doubles as a
# script you can read and copy from. Needs curl (with --aws-sigv4) and python3.
#
# Usage: ./scripts/walkthrough.sh [IVS_URL]     (default: $IVS_URL, else http://127.0.0.1:4566)
set -euo pipefail

IVS="${1:-${IVS_URL:-http://127.0.0.1:4566}}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIDLOCALONLY}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local-only}"
REGION="${AWS_REGION:-us-west-2}"

step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*" >&2; }

# An IVS API call, signed with SigV4 as the AWS SDKs sign it.
ivs() {
    local op=$1 body=$2
    show "curl -s --aws-sigv4 'aws:amz:$REGION:ivs' --user \"\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY\" -H 'content-type: application/json' $IVS/$op -d '$body'"
    curl -sS --fail-with-body --aws-sigv4 "aws:amz:$REGION:ivs" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H 'content-type: application/json' "$IVS/$op" -d "$body"
}

# A call to the emulator's control API (simulated broadcasters; no signature needed).
control() {
    local path=$1 body=$2
    show "curl -s $IVS/_emulator/$path -H 'content-type: application/json' -d '$body'"
    curl -sS --fail-with-body -H 'content-type: application/json' "$IVS/_emulator/$path" -d "$body"
}

# Prints a field of a JSON document read from stdin: json .a.b
json() {
    python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].strip(".").split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# Waits until the command's output contains a string (the functions act asynchronously).
await_output() {
    local want=$1; shift
    for _ in $(seq 1 100); do
        if "$@" 2>/dev/null | grep -q -- "$want"; then return 0; fi
        sleep 0.2
    done
    echo "gave up waiting for '$want'" >&2
    return 1
}

step "1. Create a channel whose stream key is rotated after every stream (a channel tag)"
created=$(ivs CreateChannel '{"name":"walkthrough","tags":{"ivs-automation:rotate-key-on":"stream-end"}}')
echo "$created" | python3 -m json.tool \
    | sed -e 's/"value": ".*"/"value": "sk_… (secret)"/' -e 's/"passphrase": ".*"/"passphrase": "… (secret)"/'
channel=$(echo "$created" | json .channel.arn)
key=$(echo "$created" | json .streamKey.value)
old_key_arn=$(echo "$created" | json .streamKey.arn)

step "2. A broadcaster connects with the stream key: IVS emits Session Created and Stream Start"
control ingest/connect "{\"streamKey\":\"$key\"}" | python3 -m json.tool

step "3. The stream-events function reacted: the start metadata viewers received"
metadata() { curl -sS -G "$IVS/_emulator/metadata" --data-urlencode "channelArn=$channel"; }
show "curl -s -G $IVS/_emulator/metadata --data-urlencode 'channelArn=$channel'"
await_output stream-start metadata
metadata | python3 -m json.tool

step "4. The broadcaster leaves: IVS emits Stream End, and the function rotates the key"
control ingest/disconnect "{\"channelArn\":\"$channel\"}"
echo
keys() { ivs ListStreamKeys "{\"channelArn\":\"$channel\"}" 2>/dev/null; }
await_output "ivs-automation:rotated-after-stream" keys
ivs ListStreamKeys "{\"channelArn\":\"$channel\"}" | python3 -m json.tool
new_key_arn=$(keys | json .streamKeys.0.arn)
[ "$new_key_arn" != "$old_key_arn" ] || { echo "the key was not rotated" >&2; exit 1; }

step "5. The old key is refused now"
show "curl -s $IVS/_emulator/ingest/connect -d '{\"streamKey\":\"<old key>\"}'"
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    "$IVS/_emulator/ingest/connect" -d "{\"streamKey\":\"$key\"}")
echo "HTTP $status"
[ "$status" -ge 400 ] || { echo "the old key was accepted" >&2; exit 1; }

step "6. Suspend the channel with a tag; when its broadcaster comes back with the new key, the"
echo "   automation revokes the key and stops the stream"
new_key=$(ivs GetStreamKey "{\"arn\":\"$new_key_arn\"}" | json .streamKey.value)
echo
encoded=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$channel")
ivs "tags/$encoded" '{"tags":{"ivs-automation:suspended":"true"}}'
echo
echo "(the functions cache a channel's tags for POLICY_CACHE_SECONDS; the local stack sets it to 0)"
control ingest/connect "{\"streamKey\":\"$new_key\"}"
echo
# The error type of an IVS error is in the X-Amzn-Errortype header.
stream_state() {
    curl -sS -D - -o /dev/null --aws-sigv4 "aws:amz:$REGION:ivs" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'content-type: application/json' \
        "$IVS/GetStream" -d "{\"channelArn\":\"$channel\"}"
}
show "curl -s -D - -o /dev/null --aws-sigv4 … $IVS/GetStream -d '{\"channelArn\":\"$channel\"}'"
await_output "ChannelNotBroadcasting" stream_state
stream_state | grep -i '^x-amzn-errortype'
echo "GetStream → ChannelNotBroadcasting: the stream was stopped"
ivs ListStreamKeys "{\"channelArn\":\"$channel\"}" | python3 -m json.tool

step "Done. Every event IVS emitted, in order:"
show "curl -s $IVS/_emulator/events"
curl -sS "$IVS/_emulator/events" | python3 -c 'import json,sys
for e in json.load(sys.stdin):
    d = e["detail"]
    print(" ", e["time"], e["detail-type"], "·", d.get("event_name") or d.get("recording_status") or d.get("limit_name"))'
