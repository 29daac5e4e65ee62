#!/usr/bin/env bash
# The README's walkthrough, step by step, against a running local stack
# (./scripts/local-stack.sh). Each step prints the command it runs, so it doubles as a
# script you can read and copy from. Needs curl (with --aws-sigv4) and python3.
#
# Usage: ./scripts/walkthrough.sh [IVS_URL [ADMIN_URL]]
#        (defaults: $IVS_URL else http://127.0.0.1:4566; $ADMIN_URL else http://127.0.0.1:4567)
set -euo pipefail

IVS="${1:-${IVS_URL:-http://127.0.0.1:4566}}"
ADMIN="${2:-${ADMIN_URL:-http://127.0.0.1:4567}}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIDLOCALONLY}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local-only}"
REGION="${AWS_REGION:-us-west-2}"

step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
# Prints a command as it runs, stream key values masked (they are secrets; the answers that
# carry them are masked too).
show() { printf '$ %s\n' "$*" | sed -E 's/sk_[A-Za-z0-9_-]+/sk_… (secret)/g' >&2; }

# An IVS API call, signed with SigV4 as the AWS SDKs sign it.
ivs() {
    local op=$1 body=$2
    show "curl -s --aws-sigv4 'aws:amz:$REGION:ivs' --user \"\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY\" -H 'content-type: application/json' $IVS/$op -d '$body'"
    # A 429 (IVS's quota, shared with the functions) is tried again a second later: IVS
    # refused the request, so nothing happened.
    curl -sS --fail-with-body --retry 4 --retry-delay 1 --aws-sigv4 "aws:amz:$REGION:ivs" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H 'content-type: application/json' "$IVS/$op" -d "$body"
}

# A call to the admin API, signed for execute-api as API Gateway's IAM authorization wants.
admin() {
    local method=$1 path=$2 body=${3:-}
    show "curl -s -X $method --aws-sigv4 'aws:amz:$REGION:execute-api' --user \"\$AWS_ACCESS_KEY_ID:\$AWS_SECRET_ACCESS_KEY\" -H 'content-type: application/json' $ADMIN$path${body:+ -d '$body'}"
    curl -sS --fail-with-body --retry 4 --retry-delay 1 -X "$method" --aws-sigv4 "aws:amz:$REGION:execute-api" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H 'content-type: application/json' "$ADMIN$path" ${body:+-d "$body"}
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

# Waits until the command's output contains a string (the functions act asynchronously),
# asking at most twice a second for 30 s: the IVS calls it repeats (ListStreamKeys, GetStream)
# share IVS's account-wide quota of 5 per second with the functions, which the emulator
# enforces as IVS does, so polling faster would throttle the automation it is watching.
await_output() {
    local want=$1; shift
    for _ in $(seq 1 60); do
        if "$@" 2>/dev/null | grep -q -- "$want"; then return 0; fi
        sleep 0.5
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

step "7. The admin API: the channel's status in one call (stream, key ARN, latest session)"
channel_id=${channel##*/}
admin GET "/channels/$channel_id/status" | python3 -m json.tool
step "   An unsigned request never reaches the function"
show "curl -s -o /dev/null -w '%{http_code}' $ADMIN/channels"
status=$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/channels")
echo "HTTP $status"
[ "$status" = 403 ] || { echo "an unsigned request was not refused" >&2; exit 1; }

step "8. A private channel, end to end"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "   a) generate a P-384 key pair"
show "openssl ecparam -name secp384r1 -genkey -noout -out playback-private.pem"
openssl ecparam -name secp384r1 -genkey -noout -out "$work/playback-private.pem"
show "openssl ec -in playback-private.pem -pubout -out playback-public.pem"
openssl ec -in "$work/playback-private.pem" -pubout -out "$work/playback-public.pem" 2>/dev/null
echo "   b) import the public half into IVS"
import_body=$(python3 -c 'import json,sys; print(json.dumps({"name":"walkthrough-viewers","publicKeyMaterial":open(sys.argv[1]).read()}))' "$work/playback-public.pem")
imported=$(admin POST /playback-key-pairs "$import_body")
echo "$imported" | python3 -m json.tool
key_pair_id=$(echo "$imported" | json .keyPair.arn)
key_pair_id=${key_pair_id##*/}
echo "   c) store the private half in Secrets Manager (the emulator's; in AWS: aws secretsmanager create-secret)"
secret_body=$(python3 -c 'import json,sys; print(json.dumps({"Name":"ivs-automation/playback-key","SecretString":open(sys.argv[1]).read()}))' "$work/playback-private.pem")
sm() {
    curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:secretsmanager" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'content-type: application/x-amz-json-1.1' \
        -H "x-amz-target: secretsmanager.$1" "$IVS/" -d "$2"
}
show "curl -s --aws-sigv4 'aws:amz:$REGION:secretsmanager' … -H 'x-amz-target: secretsmanager.CreateSecret' $IVS/ -d '{\"Name\":\"ivs-automation/playback-key\",\"SecretString\":\"<the PEM>\"}'"
if [ "$(sm CreateSecret "$secret_body")" != 200 ]; then
    # Walked through before against this stack: replace the value.
    put_body=$(python3 -c 'import json,sys; print(json.dumps({"SecretId":"ivs-automation/playback-key","SecretString":open(sys.argv[1]).read()}))' "$work/playback-private.pem")
    [ "$(sm PutSecretValue "$put_body")" = 200 ] || { echo "could not store the key" >&2; exit 1; }
fi
echo "stored"
echo "   d) a private channel, and a token for one viewer"
private=$(admin POST /channels '{"name":"walkthrough-members","authorized":true}')
private_id=$(echo "$private" | json .channel.arn)
private_id=${private_id##*/}
token_request='{"viewerId":"viewer-42","expiresInSeconds":300,"maximumResolution":"HD"}'
# Every token printed is first checked against the public key imported in b): its ES384
# signature (raw r||s) is converted to DER and verified by openssl. A walkthrough run again
# stores a new key; the admin function picks it up within PLAYBACK_KEY_REFRESH_SECONDS
# (2 s in the local stack), so a token still signed with the previous key is asked again.
verify_token() {
    python3 - "$1" "$work" <<'PY'
import base64, json, subprocess, sys
token, work = sys.argv[1], sys.argv[2]
pad = lambda s: s + "=" * (-len(s) % 4)
header, payload, signature = token.split(".")
raw = base64.urlsafe_b64decode(pad(signature))
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b
body = integer(raw[:48]) + integer(raw[48:])
der = b"\x30" + (bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])) + body
open(f"{work}/token.sig", "wb").write(der)
open(f"{work}/token.signed", "wb").write(f"{header}.{payload}".encode())
ok = subprocess.run(["openssl", "dgst", "-sha384", "-verify", f"{work}/playback-public.pem",
                     "-signature", f"{work}/token.sig", f"{work}/token.signed"],
                    capture_output=True).returncode == 0
sys.exit(0 if ok else 1)
PY
}
minted=""
for attempt in $(seq 1 20); do
    minted=$(admin POST "/channels/$private_id/playback-token" "$token_request")
    token=$(echo "$minted" | json .token)
    if verify_token "$token"; then
        break
    fi
    minted=""
    [ "$attempt" = 1 ] && echo "   (the admin function still signs with an earlier key: waiting for it to load the new one)"
    sleep 0.5
done
[ -n "$minted" ] || { echo "no token verified with the imported public key" >&2; exit 1; }
echo "   the token verifies with the public key imported in b) (openssl dgst -sha384 -verify)"
echo "$minted" | python3 -c 'import json,sys
m = json.load(sys.stdin)
print("   playbackUrl:", m["playbackUrl"][:90] + "…")
print("   expiresAt:  ", m["expiresAt"])'
echo "   the token's claims (exp in seconds):"
echo "$minted" | python3 -c 'import base64,json,sys
token = json.load(sys.stdin)["token"]
header, payload, _ = token.split(".")
pad = lambda s: s + "=" * (-len(s) % 4)
print("  ", json.loads(base64.urlsafe_b64decode(pad(header))))
print("  ", json.loads(base64.urlsafe_b64decode(pad(payload))))'
admin DELETE "/playback-key-pairs/$key_pair_id"
echo "(key pair deleted again: IVS allows 3 per account)"

step "Done. Every event IVS emitted, in order:"
show "curl -s $IVS/_emulator/events"
curl -sS "$IVS/_emulator/events" | python3 -c 'import json,sys
for e in json.load(sys.stdin):
    d = e["detail"]
    print(" ", e["time"], e["detail-type"], "·", d.get("event_name") or d.get("recording_status") or d.get("limit_name"))'
