//! The lifecycle events against their JSON Schemas (`schemas/lifecycle/`): the schemas are
//! valid and documented, each kind has one schema and one fixture (`events/lifecycle/`), the
//! fixtures are exactly what the constructors of `domain::lifecycle` build, every variant of
//! every constructor validates in the envelope a rule's target receives, the schemas refuse
//! what they must (a missing id, a secret-looking field, the wrong detail-type…), and README
//! documents every event and every metric.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use domain::arn::IvsArn;
use domain::events::IvsEvent;
use domain::lifecycle::{
    announcements, channel_live, channel_offline, channel_resumed, channel_suspended,
    recording_ready, stream_key_rotated, stream_stopped, sweeper_repaired_rotation, Announcement,
    Lifecycle, LifecycleKind, RotationTrigger, StopRule, SuspendedBy, LIFECYCLE_SOURCE,
};
use domain::metrics::{DEFAULT_NAMESPACE, METRICS};
use serde_json::{json, Value};
use test_support::lifecycle::{
    envelope, schema, schema_path, schemas_dir, validate_lifecycle_event,
};
use test_support::*;

const REGION: &str = "us-west-2";
const SECOND_STREAM_ID: &str = "st-2AbCdEfGhIjKlMnOpQrStUv";
const RESUMED_KEY_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:stream-key/ReSuMeDkEy01";
const SWEEPER_KEY_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:stream-key/SwEePeRkEy01";
const PLAYBACK_URL: &str = "https://a1b2c3d4e5f6.us-west-2.playback.live-video.net/api/video/v1/us-west-2.111122223333.channel.AbCdEf123456.m3u8";
/// The admin API's request id (API Gateway's) that names an operator's suspension or resumption.
const REQUEST_ID: &str = "c4Y7ZgGcvHcEMdQ=";

fn channel() -> IvsArn {
    IvsArn::parse(CHANNEL_ARN).unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn lifecycle_fixture(kind: LifecycleKind) -> Value {
    fixture(&format!("lifecycle/{}.json", kind.slug()))
}

fn fixture_id(kind: LifecycleKind) -> String {
    lifecycle_fixture(kind)["id"].as_str().unwrap().to_owned()
}

/// The event each fixture shows, built by the constructor.
fn fixture_event(kind: LifecycleKind) -> Lifecycle {
    let ch = channel();
    match kind {
        LifecycleKind::ChannelLive => channel_live(
            &ch,
            Some("demo"),
            STREAM_ID,
            at("2026-01-05T10:00:00Z"),
            Some(PLAYBACK_URL),
        ),
        LifecycleKind::ChannelOffline => channel_offline(
            &ch,
            Some("demo"),
            STREAM_ID,
            at("2026-01-05T11:00:00Z"),
            Some(at("2026-01-05T09:59:58.250Z")),
        ),
        LifecycleKind::RecordingReady => {
            recording_ready(&event("recording-state-change/recording-end.json"), &ch).unwrap()
        }
        LifecycleKind::StreamKeyRotated => stream_key_rotated(
            &ch,
            NEW_KEY_ARN,
            &[KEY_ARN.to_owned()],
            Some(STREAM_ID),
            RotationTrigger::StreamEnd,
            at("2026-01-05T11:00:01.250Z"),
        ),
        LifecycleKind::ChannelSuspended => channel_suspended(
            &ch,
            SuspendedBy::Policy,
            SECOND_STREAM_ID,
            Some(SECOND_STREAM_ID),
            &[NEW_KEY_ARN.to_owned()],
            true,
            at("2026-01-05T12:00:00.480Z"),
        ),
        LifecycleKind::ChannelResumed => channel_resumed(
            &ch,
            REQUEST_ID,
            Some(RESUMED_KEY_ARN),
            true,
            at("2026-01-05T13:00:00.120Z"),
        ),
        LifecycleKind::StreamStopped => stream_stopped(
            &ch,
            Some(STREAM_ID),
            "6f1c4d2a-0000-4000-8000-000000000014",
            &StopRule::LimitBreach("Ingest Bitrate".to_owned()),
            None,
            true,
            at("2026-01-05T10:00:00.640Z"),
        ),
        LifecycleKind::SweeperRepair => sweeper_repaired_rotation(
            &ch,
            STREAM_ID,
            SWEEPER_KEY_ARN,
            at("2026-01-05T11:10:04.310Z"),
        ),
    }
}

/// `event` in its envelope, validated; the time also as `to_rfc3339` and with milliseconds
/// (any RFC 3339 form must pass).
fn assert_valid(event: &Lifecycle) {
    assert_eq!(event.detail["id"], event.id.as_str(), "{event:?}");
    assert_eq!(event.detail["channelArn"], event.channel.as_str());
    let mut full = envelope(
        event,
        "3e1b2c4d-0000-4000-8000-000000000001",
        ACCOUNT,
        REGION,
    );
    assert_eq!(full["source"], LIFECYCLE_SOURCE);
    if let Err(e) = validate_lifecycle_event(&full) {
        panic!("{e}\n{full:#}");
    }
    for time in [
        event.time.to_rfc3339(),
        event.time.to_rfc3339_opts(SecondsFormat::Millis, true),
    ] {
        full["time"] = json!(time);
        validate_lifecycle_event(&full).unwrap_or_else(|e| panic!("time {time}: {e}"));
    }
}

/// Every variant of every constructor of `domain::lifecycle`.
fn every_variant() -> Vec<Lifecycle> {
    let ch = channel();
    let t = at("2026-01-05T10:00:00Z");
    let keys = vec![KEY_ARN.to_owned(), NEW_KEY_ARN.to_owned()];
    let mut out = Vec::new();

    // Live and offline from the IVS events, as the event functions announce them.
    for name in ["stream-start.json", "stream-end.json"] {
        let ivs = event(&format!("stream-state-change/{name}"));
        for announcement in announcements(&ivs, Some(&ch), false) {
            match announcement {
                Announcement::Live {
                    channel,
                    stream_id,
                    start_time,
                } => {
                    out.push(channel_live(
                        &channel,
                        ivs.channel_name(),
                        &stream_id,
                        start_time,
                        Some(PLAYBACK_URL),
                    ));
                    out.push(channel_live(&channel, None, &stream_id, start_time, None));
                }
                Announcement::Offline {
                    channel,
                    stream_id,
                    end_time,
                } => {
                    let start = end_time - Duration::milliseconds(3_601_750);
                    out.push(channel_offline(
                        &channel,
                        ivs.channel_name(),
                        &stream_id,
                        end_time,
                        Some(start),
                    ));
                    out.push(channel_offline(&channel, None, &stream_id, end_time, None));
                    // A start after the end (clocks): duration 0, never negative.
                    out.push(channel_offline(
                        &channel,
                        None,
                        &stream_id,
                        end_time,
                        Some(end_time + Duration::seconds(1)),
                    ));
                }
                Announcement::Ready(ready) => out.push(ready),
            }
        }
    }

    // Recordings: the fixture (through announcements too), without the session's stream
    // list, without any stream id or channel name, and in China (amazonaws.com.cn).
    let end = fixture("recording-state-change/recording-end.json");
    for announcement in announcements(
        &IvsEvent::from_value(end.clone()).unwrap(),
        Some(&ch),
        false,
    ) {
        let Announcement::Ready(ready) = announcement else {
            panic!("a Recording End announces a recording: {announcement:?}");
        };
        out.push(ready);
    }
    let mut no_list = end.clone();
    no_list["detail"]
        .as_object_mut()
        .unwrap()
        .remove("recording_session_stream_ids");
    let no_list = recording_ready(&IvsEvent::from_value(no_list).unwrap(), &ch).unwrap();
    assert_eq!(no_list.detail["streamIds"], json!([STREAM_ID]));
    out.push(no_list);
    let mut bare = end.clone();
    bare["detail"]
        .as_object_mut()
        .unwrap()
        .remove("recording_session_stream_ids");
    bare["detail"]["stream_id"] = json!("");
    bare["detail"]["channel_name"] = json!("");
    bare["detail"]["recording_s3_key_prefix"] = json!("/ivs/v1/111122223333/AbCdEf123456/r1/");
    let bare = recording_ready(&IvsEvent::from_value(bare).unwrap(), &ch).unwrap();
    assert_eq!(bare.detail["streamIds"], json!([]));
    assert_eq!(bare.detail["channelName"], Value::Null);
    out.push(bare);
    let china =
        IvsArn::parse("arn:aws-cn:ivs:cn-north-1:111122223333:channel/AbCdEf123456").unwrap();
    let mut china_end = end.clone();
    china_end["region"] = json!("cn-north-1");
    china_end["resources"] = json!([china.as_str()]);
    let china_ready = recording_ready(&IvsEvent::from_value(china_end).unwrap(), &china).unwrap();
    assert!(
        china_ready.detail["masterPlaylistUrl"]
            .as_str()
            .unwrap()
            .contains(".s3.cn-north-1.amazonaws.com.cn/"),
        "{china_ready:?}"
    );
    out.push(china_ready);

    // Every rotation trigger, with and without a stream, with none to many revoked keys.
    for (trigger, stream, revoked) in [
        (RotationTrigger::StreamEnd, Some(STREAM_ID), &keys[..1]),
        (RotationTrigger::SessionEnded, Some(STREAM_ID), &keys[..1]),
        (
            RotationTrigger::SweeperMissedRotation,
            Some(STREAM_ID),
            &keys[..],
        ),
        (RotationTrigger::SweeperKeyAge, None, &keys[..1]),
        (RotationTrigger::AdminApi, None, &keys[..0]),
    ] {
        out.push(stream_key_rotated(
            &ch,
            RESUMED_KEY_ARN,
            revoked,
            stream,
            trigger,
            t,
        ));
    }

    // Suspended by policy (a suspended channel went live) and by an operator, live or not.
    out.push(channel_suspended(
        &ch,
        SuspendedBy::Policy,
        STREAM_ID,
        Some(STREAM_ID),
        &keys[..1],
        true,
        t,
    ));
    out.push(channel_suspended(
        &ch,
        SuspendedBy::AdminApi,
        REQUEST_ID,
        None,
        &keys,
        false,
        t,
    ));
    out.push(channel_suspended(
        &ch,
        SuspendedBy::AdminApi,
        REQUEST_ID,
        Some(STREAM_ID),
        &[],
        true,
        t,
    ));

    // Resumed with a new key, with the key it kept, without a key to name.
    out.push(channel_resumed(&ch, REQUEST_ID, Some(NEW_KEY_ARN), true, t));
    out.push(channel_resumed(&ch, REQUEST_ID, Some(KEY_ARN), false, t));
    out.push(channel_resumed(&ch, REQUEST_ID, None, false, t));

    // Every stop rule, with and without the stream, live or already ended.
    for (stream, rule, live_seconds, was_live) in [
        (Some(STREAM_ID), StopRule::MaxDuration, Some(7_260), true),
        (Some(STREAM_ID), StopRule::MaxDuration, Some(7_260), false),
        (
            Some(STREAM_ID),
            StopRule::LimitBreach("Ingest Bitrate".to_owned()),
            None,
            true,
        ),
        (
            None,
            StopRule::LimitBreach("Ingest Resolution".to_owned()),
            None,
            true,
        ),
        (Some(STREAM_ID), StopRule::RecordingStartFailure, None, true),
        (None, StopRule::RecordingStartFailure, None, false),
        (Some(STREAM_ID), StopRule::Suspended, None, true),
    ] {
        out.push(stream_stopped(
            &ch,
            stream,
            "6f1c4d2a-0000-4000-8000-000000000014",
            &rule,
            live_seconds,
            was_live,
            t,
        ));
    }

    out.push(sweeper_repaired_rotation(&ch, STREAM_ID, NEW_KEY_ARN, t));
    out.extend(LifecycleKind::ALL.map(fixture_event));
    out
}

#[test]
fn every_schema_is_valid_draft_2020_12_closed_and_documented() {
    fn described(path: &str, node: &Value, missing: &mut Vec<String>) {
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            for (name, sub) in properties {
                let at = format!("{path}/{name}");
                if sub
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    missing.push(at.clone());
                }
                described(&at, sub, missing);
            }
        }
        if let Some(items) = node.get("items") {
            if items.get("description").is_none() {
                missing.push(format!("{path}[]"));
            }
            described(&format!("{path}[]"), items, missing);
        }
    }

    let mut envelopes = BTreeSet::new();
    for kind in LifecycleKind::ALL {
        let schema = schema(kind);
        let path = schema_path(kind);
        jsonschema::draft202012::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        for key in ["title", "description"] {
            assert!(schema[key].is_string(), "{}: {key}", path.display());
        }
        let mut missing = Vec::new();
        described("", &schema, &mut missing);
        assert!(
            missing.is_empty(),
            "{}: no description on {missing:?}",
            path.display()
        );

        let props = &schema["properties"];
        assert_eq!(props["detail-type"]["const"], kind.detail_type());
        assert_eq!(props["source"]["const"], LIFECYCLE_SOURCE);
        let detail = &props["detail"];
        assert_eq!(detail["additionalProperties"], false, "{}", path.display());
        let fields: BTreeSet<&str> = detail["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let required: BTreeSet<&str> = detail["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        // The constructors write every field, null when unknown.
        assert_eq!(fields, required, "{}", path.display());
        assert!(fields.contains("id") && fields.contains("channelArn"));

        // The envelope is the same in every schema but for the detail-type, the time's meaning
        // and the detail.
        let mut common = schema.clone();
        let common_props = common["properties"].as_object_mut().unwrap();
        for key in ["detail-type", "time", "detail"] {
            common_props.remove(key);
        }
        for key in ["$id", "title", "description"] {
            common.as_object_mut().unwrap().remove(key);
        }
        envelopes.insert(common.to_string());
    }
    assert_eq!(envelopes.len(), 1, "the envelopes differ: {envelopes:#?}");
}

#[test]
fn one_schema_and_one_fixture_per_kind_and_nothing_else() {
    fn names(dir: &Path) -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
    let slugs = LifecycleKind::ALL.map(LifecycleKind::slug);
    let schemas: BTreeSet<String> = slugs.iter().map(|s| format!("{s}.schema.json")).collect();
    let fixtures: BTreeSet<String> = slugs.iter().map(|s| format!("{s}.json")).collect();
    assert_eq!(names(&schemas_dir()), schemas);
    assert_eq!(names(&events_dir().join("lifecycle")), fixtures);
    assert_eq!(schemas.len(), LifecycleKind::ALL.len());
}

#[test]
fn every_fixture_validates_and_is_what_the_constructors_build() {
    for kind in LifecycleKind::ALL {
        let fixture = lifecycle_fixture(kind);
        if let Err(e) = validate_lifecycle_event(&fixture) {
            panic!("events/lifecycle/{}.json: {e}", kind.slug());
        }
        assert_eq!(fixture["account"], ACCOUNT);
        assert_eq!(fixture["region"], REGION);
        let built = fixture_event(kind);
        assert_eq!(built.kind, kind);
        assert_eq!(
            envelope(&built, &fixture_id(kind), ACCOUNT, REGION),
            fixture,
            "events/lifecycle/{}.json is not what the constructor builds",
            kind.slug()
        );
    }
}

#[test]
fn every_variant_of_every_constructor_validates_in_its_envelope() {
    let events = every_variant();
    let mut kinds = BTreeSet::new();
    for event in &events {
        assert_valid(event);
        kinds.insert(event.kind);
        assert!(
            event.id.starts_with(&format!("{}:", event.kind.slug())),
            "{}",
            event.id
        );
    }
    assert_eq!(kinds, LifecycleKind::ALL.into_iter().collect());
    // Every enum value of every schema is reached by some constructor.
    for (kind, field) in [
        (LifecycleKind::StreamKeyRotated, "trigger"),
        (LifecycleKind::ChannelSuspended, "by"),
        (LifecycleKind::StreamStopped, "rule"),
        (LifecycleKind::SweeperRepair, "repair"),
    ] {
        let schema = schema(kind);
        let allowed: BTreeSet<&str> = schema["properties"]["detail"]["properties"][field]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let built: BTreeSet<&str> = events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.detail[field].as_str().unwrap())
            .collect();
        assert_eq!(built, allowed, "{} {field}", kind.detail_type());
    }
}

/// `kind`'s fixture changed by `change`: the validator must refuse it, saying `expected`.
fn refused(kind: LifecycleKind, change: impl FnOnce(&mut Value), expected: &str) {
    let mut event = lifecycle_fixture(kind);
    change(&mut event);
    match validate_lifecycle_event(&event) {
        Ok(()) => panic!("accepted: {event:#}"),
        Err(e) => assert!(e.contains(expected), "{expected:?} not in: {e}"),
    }
}

#[test]
fn the_schemas_refuse_what_they_must() {
    use LifecycleKind::*;

    // No stable id: nothing to de-duplicate on.
    for kind in LifecycleKind::ALL {
        refused(
            kind,
            |e| {
                e["detail"].as_object_mut().unwrap().remove("id");
            },
            "\"id\" is a required property",
        );
    }
    // A secret-looking field never slips in, whatever its name.
    for field in ["value", "streamKeyValue", "privateKey"] {
        for kind in LifecycleKind::ALL {
            refused(kind, |e| e["detail"][field] = json!(NEW_KEY_VALUE), field);
        }
    }
    // The wrong detail-type: another kind's schema, or none.
    refused(
        ChannelLive,
        |e| e["detail-type"] = json!("Channel Offline"),
        "'playbackUrl' was unexpected",
    );
    refused(
        RecordingReady,
        |e| e["detail-type"] = json!("recording ready"),
        "no lifecycle schema for detail-type \"recording ready\"",
    );
    refused(
        RecordingReady,
        |e| {
            e.as_object_mut().unwrap().remove("detail-type");
        },
        "no string detail-type",
    );
    // The envelope.
    refused(ChannelLive, |e| e["source"] = json!("aws.ivs"), "/source");
    refused(ChannelLive, |e| e["version"] = json!("1"), "/version");
    refused(ChannelLive, |e| e["account"] = json!("1111"), "/account");
    refused(ChannelLive, |e| e["resources"] = json!([]), "/resources");
    refused(
        ChannelLive,
        |e| e["resources"] = json!([CHANNEL_ARN, CHANNEL_ARN]),
        "/resources",
    );
    refused(
        ChannelLive,
        |e| e["resources"] = json!(["arn:aws:ivs:us-west-2:111122223333:channel/OtHeRcHaNnEl"]),
        "is not [detail.channelArn]",
    );
    // Formats are asserted, not just annotations.
    refused(
        ChannelLive,
        |e| e["time"] = json!("2026-01-05 10:00:00"),
        "/time",
    );
    refused(
        ChannelOffline,
        |e| e["detail"]["endTime"] = json!("2026-13-05T11:00:00Z"),
        "/detail/endTime",
    );
    refused(
        ChannelLive,
        |e| e["detail"]["playbackUrl"] = json!("http://insecure.example/p.m3u8"),
        "/detail/playbackUrl",
    );
    // ARNs of the right kind.
    refused(
        ChannelLive,
        |e| e["detail"]["channelArn"] = json!(NEW_KEY_ARN),
        "/detail/channelArn",
    );
    refused(
        StreamKeyRotated,
        |e| e["detail"]["keyArn"] = json!(CHANNEL_ARN),
        "/detail/keyArn",
    );
    refused(
        StreamKeyRotated,
        |e| e["detail"]["revokedKeyArns"] = json!([NEW_KEY_VALUE]),
        "/detail/revokedKeyArns/0",
    );
    refused(
        StreamKeyRotated,
        |e| e["detail"]["id"] = json!(format!("channel-live:{CHANNEL_ARN}:{STREAM_ID}")),
        "/detail/id",
    );
    // Enums.
    refused(
        StreamKeyRotated,
        |e| e["detail"]["trigger"] = json!("cron"),
        "/detail/trigger",
    );
    refused(
        ChannelSuspended,
        |e| e["detail"]["by"] = json!("root"),
        "/detail/by",
    );
    refused(
        StreamStopped,
        |e| e["detail"]["rule"] = json!("bored"),
        "/detail/rule",
    );
    refused(
        SweeperRepair,
        |e| e["detail"]["repair"] = json!("everything"),
        "/detail/repair",
    );
    // Nulls only where the constructors write them, and consistently.
    refused(
        RecordingReady,
        |e| e["detail"]["masterPlaylistUrl"] = Value::Null,
        "/detail/masterPlaylistUrl",
    );
    refused(
        ChannelOffline,
        |e| e["detail"]["startTime"] = Value::Null,
        "/detail/durationSeconds",
    );
    refused(
        ChannelOffline,
        |e| e["detail"]["durationSeconds"] = json!(-1.0),
        "/detail/durationSeconds",
    );
    refused(
        StreamStopped,
        |e| e["detail"]["limit"] = Value::Null,
        "/detail/limit",
    );
    refused(
        StreamStopped,
        |e| e["detail"]["rule"] = json!("max_duration"),
        "/detail/limit",
    );
    refused(
        ChannelResumed,
        |e| e["detail"]["keyArn"] = Value::Null,
        "/detail/keyArn",
    );
    // Every field is always there.
    for kind in LifecycleKind::ALL {
        let probe = lifecycle_fixture(kind);
        for field in probe["detail"].as_object().unwrap().keys() {
            refused(
                kind,
                |e| {
                    e["detail"].as_object_mut().unwrap().remove(field);
                },
                &format!("\"{field}\" is a required property"),
            );
        }
    }
}

#[test]
fn an_event_from_elsewhere_has_no_lifecycle_schema() {
    let ivs = fixture("stream-state-change/stream-start.json");
    let e = validate_lifecycle_event(&ivs).unwrap_err();
    assert!(e.contains("IVS Stream State Change"), "{e}");
}

/// README's `## <title>` section.
fn readme_section(title: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let heading = format!("\n## {title}\n");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let body = &readme[start + heading.len()..];
    body[..body.find("\n## ").unwrap_or(body.len())].to_owned()
}

#[test]
fn readme_documents_every_lifecycle_event_and_its_fields() {
    let section = readme_section("Lifecycle events");
    for kind in LifecycleKind::ALL {
        let link = format!("(schemas/lifecycle/{}.schema.json)", kind.slug());
        assert!(section.contains(&link), "README does not link {link}");
        // The kind's row of the events table names the detail-type and every detail field.
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| [`{}`]", kind.detail_type())))
            .unwrap_or_else(|| panic!("README has no row for {:?}", kind.detail_type()));
        for field in schema(kind)["properties"]["detail"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|f| !matches!(f.as_str(), "id" | "channelArn"))
        {
            assert!(
                row.contains(&format!("`{field}`")),
                "README's {} row does not name `{field}`",
                kind.detail_type()
            );
        }
    }
    for words in ["detail.id", "at least once", LIFECYCLE_SOURCE, "never in a"] {
        assert!(
            section.contains(words),
            "README's lifecycle section: {words:?}"
        );
    }
    // The sample events are valid, and the fixtures themselves.
    let samples: Vec<Value> = section
        .split("```json\n")
        .skip(1)
        .map(|block| serde_json::from_str(&block[..block.find("```").unwrap()]).unwrap())
        .collect();
    assert!(!samples.is_empty(), "README shows no sample event");
    for sample in samples {
        validate_lifecycle_event(&sample).unwrap_or_else(|e| panic!("README's sample: {e}"));
        let kind = LifecycleKind::from_detail_type(sample["detail-type"].as_str().unwrap());
        assert_eq!(
            sample,
            lifecycle_fixture(kind.unwrap()),
            "README's sample is its fixture"
        );
    }
}

/// YAML (CloudFormation's short-form tags included, `!Ref x` as `{"!Ref": "x"}`) as JSON.
fn yaml_to_json(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap(),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_owned(), yaml_to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => json!({ tagged.tag.to_string(): yaml_to_json(tagged.value) }),
    }
}

/// The YAML snippets of README's lifecycle section read as CloudFormation, and each rule's
/// pattern is the lifecycle source with known detail-types, matching their fixtures.
#[test]
fn readme_subscription_examples_match_the_events() {
    let section = readme_section("Lifecycle events");
    let mut patterns = Vec::new();
    for block in section.split("```yaml\n").skip(1) {
        let yaml = &block[..block.find("```").unwrap()];
        let doc = yaml_to_json(
            serde_norway::from_str(yaml)
                .unwrap_or_else(|e| panic!("README YAML does not parse: {e}\n{yaml}")),
        );
        fn find(node: &Value, out: &mut Vec<Value>) {
            match node {
                Value::Object(map) => {
                    for (k, v) in map {
                        if k == "EventPattern" || k == "Pattern" {
                            out.push(v.clone());
                        } else {
                            find(v, out);
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| find(v, out)),
                _ => {}
            }
        }
        find(&doc, &mut patterns);
    }
    assert!(
        patterns.len() >= 2,
        "an SNS and a Lambda example: {patterns:?}"
    );
    assert!(patterns
        .contains(&json!({"source": ["ivs-automation"], "detail-type": ["Recording Ready"]})));
    for pattern in &patterns {
        assert_eq!(pattern["source"], json!([LIFECYCLE_SOURCE]), "{pattern}");
        for detail_type in pattern["detail-type"].as_array().unwrap() {
            let kind = LifecycleKind::from_detail_type(detail_type.as_str().unwrap())
                .unwrap_or_else(|| panic!("README's pattern names {detail_type}"));
            // The pattern matches the kind's fixture (each key's value is one of those listed).
            let fixture = lifecycle_fixture(kind);
            for (key, allowed) in pattern.as_object().unwrap() {
                assert!(
                    allowed.as_array().unwrap().contains(&fixture[key]),
                    "{pattern} does not match {} on {key}",
                    kind.detail_type()
                );
            }
        }
    }
}

#[test]
fn readme_documents_every_metric() {
    let section = readme_section("Metrics");
    assert!(section.contains(&format!("`{DEFAULT_NAMESPACE}`")));
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    for metric in METRICS {
        let row = rows
            .iter()
            .find(|l| l.starts_with(&format!("| `{}` |", metric.name)))
            .unwrap_or_else(|| panic!("README's metrics table has no row for {}", metric.name));
        let cells: Vec<&str> = row.split(" | ").collect();
        assert!(cells.len() >= 4, "{row}");
        assert_eq!(cells[1], metric.unit.as_str(), "{row}");
        let sets: Vec<String> = metric
            .dimension_sets
            .iter()
            .map(|set| {
                if set.is_empty() {
                    "none".to_owned()
                } else {
                    set.iter()
                        .map(|d| format!("`{d}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            })
            .collect();
        assert_eq!(cells[2], sets.join("; "), "{row}");
        assert!(
            cells[3].starts_with(metric.meaning),
            "README's meaning of {} is not the catalog's: {row}",
            metric.name
        );
    }
    assert_eq!(
        rows.len(),
        METRICS.len(),
        "README names a metric the catalog does not have: {rows:#?}"
    );
}
