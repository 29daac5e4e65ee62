#!/usr/bin/env python3
"""boto3 against the IVS emulator.

Usage: python3 tests/boto3_smoke.py <endpoint>   (e.g. http://127.0.0.1:4566)

Calls every IVS operation boto3 knows that the emulator implements, checks what boto3 parses
(members, types, timestamps, typed exceptions, pagination), drives ingest through the control
API, and ends with a line 'N passed, M failed'. Exits 0 only when every check passed.
Credentials and region come from the environment (any dummy values; the region must be the
emulator's).
"""

import datetime
import json
import sys
import time
import urllib.request

import boto3
from botocore.config import Config

P384_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEbVb8YGgdgI3bhXAgEoM8GPTQGaB4/MM+
EwosSAA2LVzZBf/2L+sKUMCHCD4rCjS2uVOoLbgjx90YZpsS0jsXMKth/lmlLUL5
8bCDVmSBEJv50eAxKJgZhQq1rEJDqyei
-----END PUBLIC KEY-----"""

MISSING_CHANNEL = "arn:aws:ivs:us-west-2:111122223333:channel/missing00000"


class Checks:
    """Counts checks and prints one line per failure."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, label, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {label} {detail}".rstrip())

    def raises(self, label, exception, call, /, **kwargs):
        """`call(**kwargs)` must raise the modelled `exception`; returns the error response."""
        try:
            call(**kwargs)
        except exception as err:
            self.passed += 1
            return err.response
        except Exception as err:  # noqa: BLE001 - report anything else as a failure
            self.failed += 1
            print(f"FAIL {label}: expected {exception.__name__}, got {type(err).__name__}: {err}")
            return None
        self.failed += 1
        print(f"FAIL {label}: expected {exception.__name__}, but the call succeeded")
        return None


def control(endpoint, path, body):
    request = urllib.request.Request(
        f"{endpoint}/_emulator/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def run(endpoint):
    ivs = boto3.client("ivs", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1}))
    errors = ivs.exceptions
    t = Checks()

    # Channels.
    created = ivs.create_channel(name="boto3", latencyMode="NORMAL", tags={"team": "video"})
    channel = created["channel"]
    arn = channel["arn"]
    t.check("CreateChannel status", created["ResponseMetadata"]["HTTPStatusCode"] == 200)
    t.check("CreateChannel arn", arn.startswith("arn:aws:ivs:us-west-2:111122223333:channel/"), arn)
    t.check("CreateChannel defaults", channel["type"] == "STANDARD" and channel["authorized"] is False)
    t.check("CreateChannel latencyMode", channel["latencyMode"] == "NORMAL")
    t.check("CreateChannel stream key", created["streamKey"]["value"].startswith("sk_us-west-2_"))
    key_value = created["streamKey"]["value"]
    key_arn = created["streamKey"]["arn"]
    t.check("GetChannel", ivs.get_channel(arn=arn)["channel"]["name"] == "boto3")
    batch = ivs.batch_get_channel(arns=[arn, MISSING_CHANNEL])
    t.check("BatchGetChannel channels", [c["arn"] for c in batch["channels"]] == [arn])
    t.check("BatchGetChannel errors", batch["errors"][0]["code"] == "ResourceNotFoundException")
    t.check("ListChannels", [c["arn"] for c in ivs.list_channels(filterByName="boto3")["channels"]] == [arn])
    updated = ivs.update_channel(arn=arn, authorized=True)["channel"]
    t.check("UpdateChannel", updated["authorized"] is True and updated["name"] == "boto3")
    response = t.raises("GetChannel missing", errors.ResourceNotFoundException, ivs.get_channel, arn=MISSING_CHANNEL)
    if response:
        t.check("error status", response["ResponseMetadata"]["HTTPStatusCode"] == 404)
        t.check("error code", response["Error"]["Code"] == "ResourceNotFoundException")
        t.check("exceptionMessage", MISSING_CHANNEL in response.get("exceptionMessage", ""), str(response))
    t.raises("CreateChannel bad name", errors.ValidationException, ivs.create_channel, name="bad name!")
    t.raises(
        "ListChannels two filters",
        errors.ConflictException,
        ivs.list_channels,
        filterByName="boto3",
        filterByRecordingConfigurationArn="arn:aws:ivs:us-west-2:111122223333:recording-configuration/abc",
    )

    # Stream keys.
    t.raises("CreateStreamKey second key", errors.ServiceQuotaExceededException, ivs.create_stream_key, channelArn=arn)
    t.check("GetStreamKey", ivs.get_stream_key(arn=key_arn)["streamKey"]["value"] == key_value)
    t.check("BatchGetStreamKey", ivs.batch_get_stream_key(arns=[key_arn])["streamKeys"][0]["value"] == key_value)
    summaries = ivs.list_stream_keys(channelArn=arn)["streamKeys"]
    t.check("ListStreamKeys", len(summaries) == 1 and "value" not in summaries[0])

    # Streams, metadata, sessions.
    t.raises("GetStream offline", errors.ChannelNotBroadcasting, ivs.get_stream, channelArn=arn)
    live = control(endpoint, "ingest/connect", {"streamKey": key_value})
    stream = ivs.get_stream(channelArn=arn)["stream"]
    t.check("GetStream", stream["streamId"] == live["streamId"] and stream["state"] == "LIVE")
    t.check("GetStream startTime", isinstance(stream["startTime"], datetime.datetime))
    t.check("ListStreams", [s["channelArn"] for s in ivs.list_streams()["streams"]] == [arn])
    put = ivs.put_metadata(channelArn=arn, metadata='{"poll": 1}')
    t.check("PutMetadata 204", put["ResponseMetadata"]["HTTPStatusCode"] == 204)
    for i in range(4):
        ivs.put_metadata(channelArn=arn, metadata=f"m{i}")
    t.raises("PutMetadata rate", errors.ThrottlingException, ivs.put_metadata, channelArn=arn, metadata="sixth")
    stop = ivs.stop_stream(channelArn=arn)
    t.check("StopStream", stop["ResponseMetadata"]["HTTPStatusCode"] == 200)
    t.raises("StopStream offline", errors.ChannelNotBroadcasting, ivs.stop_stream, channelArn=arn)
    session = ivs.get_stream_session(channelArn=arn)["streamSession"]
    t.check("GetStreamSession", session["streamId"] == live["streamId"])
    t.check("GetStreamSession endTime", isinstance(session.get("endTime"), datetime.datetime))
    names = [e["name"] for e in session["truncatedEvents"]]
    t.check("truncatedEvents", names == ["Session Ended", "Stream End", "Stream Start", "Session Created"], str(names))
    sessions = ivs.list_stream_sessions(channelArn=arn)["streamSessions"]
    t.check("ListStreamSessions", [s["streamId"] for s in sessions] == [live["streamId"]])

    # Playback key pairs.
    pair = ivs.import_playback_key_pair(publicKeyMaterial=P384_PUBLIC_KEY, name="signer")["keyPair"]
    t.check("ImportPlaybackKeyPair", len(pair["fingerprint"].split(":")) == 16)
    t.raises("ImportPlaybackKeyPair twice", errors.ConflictException, ivs.import_playback_key_pair, publicKeyMaterial=P384_PUBLIC_KEY)
    t.check("GetPlaybackKeyPair", ivs.get_playback_key_pair(arn=pair["arn"])["keyPair"]["name"] == "signer")
    t.check("ListPlaybackKeyPairs", [p["arn"] for p in ivs.list_playback_key_pairs()["keyPairs"]] == [pair["arn"]])
    t.check("DeletePlaybackKeyPair", ivs.delete_playback_key_pair(arn=pair["arn"])["ResponseMetadata"]["HTTPStatusCode"] == 200)

    # Recording configurations.
    config = ivs.create_recording_configuration(
        name="archive", destinationConfiguration={"s3": {"bucketName": "archive-bucket"}}
    )["recordingConfiguration"]
    # CREATING at first, as IVS answers; a client waits for ACTIVE by polling (the emulator's
    # default delay is 2 seconds).
    t.check("CreateRecordingConfiguration", config["state"] == "CREATING", config["state"])
    deadline = time.monotonic() + 10
    states = []
    while True:
        got = ivs.get_recording_configuration(arn=config["arn"])["recordingConfiguration"]
        states.append(got["state"])
        if got["state"] != "CREATING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    t.check("GetRecordingConfiguration", got["name"] == "archive")
    t.check("RecordingConfiguration becomes ACTIVE", states[-1] == "ACTIVE", str(states))
    listed = ivs.list_recording_configurations()["recordingConfigurations"]
    t.check("ListRecordingConfigurations", len(listed) == 1 and listed[0]["state"] == "ACTIVE", str(listed))
    recorded = ivs.create_channel(recordingConfigurationArn=config["arn"])["channel"]["arn"]
    t.raises("DeleteRecordingConfiguration in use", errors.ConflictException, ivs.delete_recording_configuration, arn=config["arn"])
    ivs.delete_channel(arn=recorded)
    deleted = ivs.delete_recording_configuration(arn=config["arn"])
    t.check("DeleteRecordingConfiguration", deleted["ResponseMetadata"]["HTTPStatusCode"] == 204)

    # Ad configurations, and a channel's adConfigurationArn.
    playback = "arn:aws:mediatailor:us-west-2:111122223333:playbackConfiguration/ads"
    ads = ivs.create_ad_configuration(name="ads", mediaTailorPlaybackConfigurations=[{"playbackConfigurationArn": playback}])["adConfiguration"]
    t.check("CreateAdConfiguration", ads["arn"].startswith("arn:aws:ivs:us-west-2:111122223333:ad-configuration/"), ads["arn"])
    t.check("GetAdConfiguration", ivs.get_ad_configuration(arn=ads["arn"])["adConfiguration"]["name"] == "ads")
    t.check("ListAdConfigurations", [a["arn"] for a in ivs.list_ad_configurations()["adConfigurations"]] == [ads["arn"]])
    if "UpdateAdConfiguration" in ivs.meta.service_model.operation_names:  # in newer botocore models only
        post_roll = {"durationSeconds": 30, "enabled": True}
        changed = ivs.update_ad_configuration(arn=ads["arn"], postRollConfiguration=post_roll)["adConfiguration"]
        t.check("UpdateAdConfiguration", changed["postRollConfiguration"] == post_roll, str(changed))
    with_ads = ivs.create_channel(adConfigurationArn=ads["arn"])["channel"]
    t.check("CreateChannel adConfigurationArn", with_ads["adConfigurationArn"] == ads["arn"], str(with_ads))
    t.raises("DeleteAdConfiguration in use", errors.ConflictException, ivs.delete_ad_configuration, arn=ads["arn"])
    t.raises(
        "CreateChannel missing ad configuration",
        errors.ResourceNotFoundException,
        ivs.create_channel,
        adConfigurationArn="arn:aws:ivs:us-west-2:111122223333:ad-configuration/missing00000",
    )
    ivs.delete_channel(arn=with_ads["arn"])
    deleted = ivs.delete_ad_configuration(arn=ads["arn"])
    t.check("DeleteAdConfiguration", deleted["ResponseMetadata"]["HTTPStatusCode"] == 204)
    try:
        ivs.insert_ad_break(channelArn=arn, durationSeconds=30)
        t.check("InsertAdBreak not emulated", False, "the call succeeded")
    except ivs.exceptions.ClientError as err:
        t.check("InsertAdBreak not emulated", err.response["Error"]["Code"] == "UnknownOperationException", str(err.response))

    # Playback restriction policies.
    policy = ivs.create_playback_restriction_policy(allowedCountries=["US"], name="geo")["playbackRestrictionPolicy"]
    t.check("CreatePlaybackRestrictionPolicy", policy["allowedCountries"] == ["US"])
    t.check("GetPlaybackRestrictionPolicy", ivs.get_playback_restriction_policy(arn=policy["arn"])["playbackRestrictionPolicy"]["name"] == "geo")
    t.check("ListPlaybackRestrictionPolicies", len(ivs.list_playback_restriction_policies()["playbackRestrictionPolicies"]) == 1)
    strict = ivs.update_playback_restriction_policy(arn=policy["arn"], enableStrictOriginEnforcement=True)
    t.check("UpdatePlaybackRestrictionPolicy", strict["playbackRestrictionPolicy"]["enableStrictOriginEnforcement"] is True)
    gone = ivs.delete_playback_restriction_policy(arn=policy["arn"])
    t.check("DeletePlaybackRestrictionPolicy", gone["ResponseMetadata"]["HTTPStatusCode"] == 204)

    # Tags.
    ivs.tag_resource(resourceArn=arn, tags={"env": "dev", "tmp": "x"})
    ivs.untag_resource(resourceArn=arn, tagKeys=["tmp"])
    tags = ivs.list_tags_for_resource(resourceArn=arn)["tags"]
    t.check("Tag/Untag/ListTagsForResource", tags == {"team": "video", "env": "dev"}, str(tags))
    t.raises("ListTagsForResource missing", errors.ResourceNotFoundException, ivs.list_tags_for_resource, resourceArn=MISSING_CHANNEL)

    # Viewer session revocation.
    revoked = ivs.start_viewer_session_revocation(channelArn=arn, viewerId="viewer-1")
    t.check("StartViewerSessionRevocation", revoked["ResponseMetadata"]["HTTPStatusCode"] == 200)
    batch = ivs.batch_start_viewer_session_revocation(
        viewerSessions=[{"channelArn": arn, "viewerId": "viewer-2"}, {"channelArn": MISSING_CHANNEL, "viewerId": "viewer-3"}]
    )
    t.check("BatchStartViewerSessionRevocation", [e["viewerId"] for e in batch["errors"]] == ["viewer-3"])

    # Pagination: boto3's paginator walks the opaque tokens.
    for i in range(4):
        ivs.create_channel(name=f"page-{i}")
    pages = list(ivs.get_paginator("list_channels").paginate(PaginationConfig={"PageSize": 2}))
    arns = [c["arn"] for page in pages for c in page["channels"]]
    t.check("ListChannels paginator", len(pages) == 3 and len(arns) == 5 and len(set(arns)) == 5, f"{len(pages)} pages")
    t.raises("ListChannels bad token", errors.ValidationException, ivs.list_channels, nextToken="bm90LWEtdG9rZW4")

    # DeleteStreamKey, DeleteChannel.
    t.check("DeleteStreamKey", ivs.delete_stream_key(arn=key_arn)["ResponseMetadata"]["HTTPStatusCode"] == 204)
    t.check("DeleteChannel", ivs.delete_channel(arn=arn)["ResponseMetadata"]["HTTPStatusCode"] == 204)
    t.raises("DeleteChannel again", errors.ResourceNotFoundException, ivs.delete_channel, arn=arn)

    # Rate quotas (the test starts the emulator with them off): at IVS's values, a burst of
    # GetChannel calls beyond 5 per second is refused with ThrottlingException (429).
    quotas = control(endpoint, "rate-quotas", {"factor": 1})
    t.check("rate quotas on", quotas["enabled"] is True and quotas["operations"]["GetChannel"] == 5, str(quotas))
    channel_arn = ivs.list_channels(maxResults=1)["channels"][0]["arn"]
    throttled = []
    for _ in range(12):
        try:
            ivs.get_channel(arn=channel_arn)
        except Exception as err:  # noqa: BLE001 - anything but a throttle fails the checks below
            throttled.append(err)
    t.check("GetChannel burst throttled", 2 <= len(throttled) <= 7, f"{len(throttled)} of 12 refused")
    t.check(
        "ThrottlingException",
        all(isinstance(err, errors.ThrottlingException) for err in throttled),
        str([type(err).__name__ for err in throttled]),
    )
    if throttled:
        response = throttled[0].response
        t.check("ThrottlingException status", response["ResponseMetadata"]["HTTPStatusCode"] == 429, str(response))
        t.check("ThrottlingException code", response["Error"]["Code"] == "ThrottlingException", str(response))

    print(f"{t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    return run(sys.argv[1].rstrip("/"))


if __name__ == "__main__":
    sys.exit(main())
