//! Every fixture in `events/` parses, and the policy decides the right actions for each one
//! under each policy combination that matters.

use std::collections::HashMap;

use domain::events::{DetailType, IvsEvent, LimitName, RecordingStatus};
use domain::policy::{
    decide, env, tags, Action, ChannelPolicy, MetadataPurpose, Notice, RotateOn, StopReason,
};
use test_support::*;

fn default_policy() -> ChannelPolicy {
    settings(&[]).defaults
}

fn with_tags(pairs: &[(&str, &str)]) -> ChannelPolicy {
    let tags: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (policy, warnings) = settings(&[]).policy_for(&tags);
    assert!(warnings.is_empty(), "{warnings:?}");
    policy
}

fn decide_fixture(name: &str, policy: &ChannelPolicy) -> Vec<Action> {
    let event = event(name);
    let channel = event
        .channel_arn()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    decide(&event, channel.as_ref(), policy)
}

/// A short name per action, to compare decisions at a glance.
fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::PutMetadata { purpose, .. } => format!("metadata:{}", purpose.as_str()),
            Action::RotateStreamKey { .. } => "rotate".into(),
            Action::SuspendChannel { .. } => "suspend".into(),
            Action::StopStream { reason, .. } => format!("stop:{}", reason.as_str()),
            Action::Log(n) => format!("log:{}", n.name()),
        })
        .collect()
}

/// Every policy switch on: rotation at stream end, stops on limit breaches, must-record,
/// starvation metadata.
fn everything_on() -> ChannelPolicy {
    settings(&[
        (env::ROTATE_KEY_ON, "stream-end"),
        (env::STOP_ON_LIMIT_BREACH, "true"),
        (env::MUST_RECORD, "true"),
        (env::STARVATION_METADATA, "true"),
    ])
    .defaults
}

/// The payload and purpose of the one action, a PutMetadata, `policy` takes for the fixture
/// `name`.
fn the_metadata(name: &str, policy: &ChannelPolicy) -> (String, MetadataPurpose) {
    let actions = decide_fixture(name, policy);
    let [Action::PutMetadata {
        payload, purpose, ..
    }] = actions.as_slice()
    else {
        panic!("{name}: {:?}", kinds(&actions))
    };
    (payload.to_string(), *purpose)
}

/// Asserts that `policy` does nothing disruptive for any of the fixtures `names`.
fn assert_not_disruptive(policy: &ChannelPolicy, names: &[&str]) {
    for name in names {
        assert!(
            !decide_fixture(name, policy).iter().any(is_disruptive),
            "{name}"
        );
    }
}

fn is_disruptive(a: &Action) -> bool {
    matches!(
        a,
        Action::RotateStreamKey { .. } | Action::SuspendChannel { .. } | Action::StopStream { .. }
    )
}

#[test]
fn every_fixture_parses_into_the_type_of_its_folder() {
    let fixtures = eventbridge_fixtures();
    assert!(fixtures.len() >= 25, "only {} fixtures", fixtures.len());
    for (name, json) in fixtures {
        let event = IvsEvent::from_value(json).unwrap_or_else(|e| panic!("{name}: {e}"));
        let folder = name.split('/').next().unwrap();
        let expected = match folder {
            "stream-state-change" => matches!(event, IvsEvent::StreamState(_)),
            "stream-health-change" => matches!(event, IvsEvent::StreamHealth(_)),
            "limit-breach" => matches!(event, IvsEvent::LimitBreach(_)),
            "recording-state-change" => matches!(event, IvsEvent::Recording(_)),
            _ => matches!(event, IvsEvent::Unknown(_)),
        };
        assert!(expected, "{name} parsed as {:?}", event.detail_type());
        assert_eq!(event.account(), Some(ACCOUNT), "{name}: fake account only");
    }
}

#[test]
fn fixtures_cover_every_known_name_status_and_limit() {
    let events: Vec<IvsEvent> = eventbridge_fixtures()
        .into_iter()
        .map(|(_, v)| IvsEvent::from_value(v).unwrap())
        .collect();
    let names: Vec<String> = events.iter().map(|e| e.name().to_owned()).collect();
    let known = domain::events::StreamEventName::KNOWN
        .iter()
        .map(|n| n.to_string())
        .chain(
            domain::events::HealthEventName::KNOWN
                .iter()
                .map(|n| n.to_string()),
        )
        .chain(LimitName::KNOWN.iter().map(|n| n.to_string()))
        .chain(RecordingStatus::KNOWN.iter().map(|n| n.to_string()));
    for name in known {
        assert!(names.contains(&name), "no fixture for {name}");
    }
    for dt in DetailType::KNOWN {
        assert!(
            events.iter().any(|e| &e.detail_type() == dt),
            "no fixture for {dt}"
        );
    }
}

#[test]
fn quirks_parse_and_the_malformed_arn_is_rejected_clearly() {
    let empty_name = event("stream-state-change/stream-start-empty-channel-name.json");
    assert_eq!(empty_name.channel_name(), None);
    let account_level = event("limit-breach/concurrent-viewers.json");
    assert!(account_level.resources().is_empty());
    assert_eq!(account_level.channel_arn().unwrap(), None);
    let malformed = event("recording-state-change/recording-end-failure-malformed-arn.json");
    let err = malformed.channel_arn().unwrap_err();
    assert!(err.to_string().contains("invalid IVS ARN"), "{err}");
    // The channel comes from resources[0], not from the envelope's region.
    let mismatch = event("stream-state-change/stream-end-region-mismatch.json");
    assert_eq!(mismatch.region(), Some("us-east-1"));
    assert_eq!(
        mismatch.channel_arn().unwrap().unwrap().region(),
        "us-west-2"
    );
}

#[test]
fn default_policy_inserts_start_metadata_and_nothing_disruptive() {
    let policy = default_policy();
    for (name, json) in eventbridge_fixtures() {
        let event = IvsEvent::from_value(json).unwrap();
        let Ok(channel) = event.channel_arn() else {
            continue; // the malformed-ARN fixture is rejected before any decision
        };
        let actions = decide(&event, channel.as_ref(), &policy);
        assert!(
            !actions.is_empty(),
            "{name}: every event gets at least a log record"
        );
        assert!(
            !actions.iter().any(is_disruptive),
            "{name}: the default policy did {:?}",
            kinds(&actions)
        );
        let metadata = actions
            .iter()
            .filter(|a| matches!(a, Action::PutMetadata { .. }))
            .count();
        let is_start = matches!(&event, IvsEvent::StreamState(e) if e.detail.event_name.as_str() == "Stream Start");
        assert_eq!(metadata, usize::from(is_start), "{name}");
    }
}

#[test]
fn stream_start_metadata_is_rendered_from_the_template() {
    let actions = decide_fixture("stream-state-change/stream-start.json", &default_policy());
    let [Action::PutMetadata {
        channel,
        stream_id,
        purpose,
        payload,
    }] = actions.as_slice()
    else {
        panic!("{:?}", kinds(&actions))
    };
    assert_eq!(channel.as_str(), CHANNEL_ARN);
    assert_eq!(stream_id.as_deref(), Some(STREAM_ID));
    assert_eq!(*purpose, MetadataPurpose::StreamStart);
    let v: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(v["type"], "stream-start");
    assert_eq!(v["channel"], "demo");
    assert_eq!(v["streamId"], STREAM_ID);
    assert_eq!(v["startedAt"], "2026-01-05T10:00:00Z");

    let custom = settings(&[(
        env::START_METADATA_TEMPLATE,
        "{channel_id}|{channel_arn}|{stream_id}|{event_time}|{channel_name}",
    )])
    .defaults;
    let actions = decide_fixture(
        "stream-state-change/stream-start-empty-channel-name.json",
        &custom,
    );
    let [Action::PutMetadata { payload, .. }] = actions.as_slice() else {
        panic!("{:?}", kinds(&actions))
    };
    assert_eq!(
        payload,
        &format!("AbCdEf123456|{CHANNEL_ARN}|{STREAM_ID}|2026-01-05T10:00:00Z|")
    );

    let off = with_tags(&[(tags::START_METADATA, "false")]);
    assert_eq!(
        kinds(&decide_fixture(
            "stream-state-change/stream-start.json",
            &off
        )),
        ["log:no_action"]
    );
}

#[test]
fn a_suspended_channel_that_goes_live_is_suspended_instead_of_greeted() {
    let policy = with_tags(&[(tags::SUSPENDED, "true")]);
    let actions = decide_fixture("stream-state-change/stream-start.json", &policy);
    assert_eq!(kinds(&actions), ["suspend"]);
    let Action::SuspendChannel { channel, stream_id } = &actions[0] else {
        unreachable!()
    };
    assert_eq!(channel.as_str(), CHANNEL_ARN);
    assert_eq!(stream_id.as_deref(), Some(STREAM_ID));
    // A suspended channel gets no new key when its (stopped) stream ends, whatever the
    // rotation policy says: the key would let its broadcaster back in.
    let suspended_rotating = with_tags(&[
        (tags::SUSPENDED, "true"),
        (tags::ROTATE_KEY_ON, "stream-end"),
    ]);
    for name in [
        "stream-state-change/stream-end.json",
        "stream-state-change/session-ended.json",
    ] {
        assert_eq!(
            kinds(&decide_fixture(name, &suspended_rotating)),
            ["log:no_action"],
            "{name}"
        );
    }
    // Only Stream Start triggers the suspension.
    assert_not_disruptive(
        &policy,
        &[
            "stream-state-change/session-created.json",
            "stream-health-change/starvation-start.json",
        ],
    );
}

#[test]
fn rotation_follows_the_configured_end_event() {
    let on_stream_end = with_tags(&[(tags::ROTATE_KEY_ON, "stream-end")]);
    let on_session_ended = settings(&[(env::ROTATE_KEY_ON, "session-ended")]).defaults;
    assert_eq!(on_session_ended.rotate_key_on, RotateOn::SessionEnded);

    let end = "stream-state-change/stream-end.json";
    let session = "stream-state-change/session-ended.json";
    assert_eq!(kinds(&decide_fixture(end, &on_stream_end)), ["rotate"]);
    assert_eq!(
        kinds(&decide_fixture(session, &on_stream_end)),
        ["log:no_action"]
    );
    assert_eq!(
        kinds(&decide_fixture(session, &on_session_ended)),
        ["rotate"]
    );
    assert_eq!(
        kinds(&decide_fixture(end, &on_session_ended)),
        ["log:no_action"]
    );

    let actions = decide_fixture(end, &on_stream_end);
    let Action::RotateStreamKey { channel, marker } = &actions[0] else {
        unreachable!()
    };
    assert_eq!(channel.as_str(), CHANNEL_ARN);
    assert_eq!(marker.stream_id, STREAM_ID);
    assert_eq!(
        marker.ended_at.map(|t| t.to_rfc3339()),
        Some("2026-01-05T11:00:00+00:00".to_owned())
    );
    // The channel is taken from resources[0] even when the envelope's region differs.
    let actions = decide_fixture(
        "stream-state-change/stream-end-region-mismatch.json",
        &on_stream_end,
    );
    let Action::RotateStreamKey { channel, .. } = &actions[0] else {
        panic!("{:?}", kinds(&actions))
    };
    assert_eq!(channel.region(), "us-west-2");
}

#[test]
fn starvation_metadata_is_opt_in() {
    let start = "stream-health-change/starvation-start.json";
    let end = "stream-health-change/starvation-end.json";
    assert_eq!(
        kinds(&decide_fixture(start, &default_policy())),
        ["log:no_action"]
    );
    let on = with_tags(&[(tags::STARVATION_METADATA, "true")]);
    let (payload, purpose) = the_metadata(start, &on);
    assert_eq!(purpose, MetadataPurpose::StarvationStart);
    assert!(
        payload.contains("reconnecting") && payload.contains(STREAM_ID),
        "{payload}"
    );
    let (payload, purpose) = the_metadata(end, &on);
    assert_eq!(purpose, MetadataPurpose::StarvationEnd);
    assert!(payload.contains("reconnected"), "{payload}");
}

#[test]
fn ingest_breaches_stop_the_stream_only_when_asked_and_account_breaches_only_warn() {
    let stop = with_tags(&[(tags::STOP_ON_LIMIT_BREACH, "true")]);
    for name in [
        "limit-breach/ingest-bitrate.json",
        "limit-breach/ingest-resolution.json",
        "limit-breach/ingest-resolution-pixels-per-edge.json",
    ] {
        assert_eq!(
            kinds(&decide_fixture(name, &default_policy())),
            ["log:limit_breach"],
            "{name}"
        );
        let actions = decide_fixture(name, &stop);
        assert_eq!(
            kinds(&actions),
            ["log:limit_breach", "stop:limit_breach"],
            "{name}"
        );
        let Action::StopStream {
            channel,
            stream_id,
            reason,
        } = &actions[1]
        else {
            unreachable!()
        };
        assert_eq!(channel.as_str(), CHANNEL_ARN);
        assert_eq!(stream_id.as_deref(), Some(STREAM_ID));
        assert!(matches!(reason, StopReason::LimitBreach(l) if l.is_channel_level()));
    }
    for name in [
        "limit-breach/concurrent-broadcasts.json",
        "limit-breach/concurrent-viewers.json",
    ] {
        let actions = decide_fixture(name, &stop);
        assert_eq!(kinds(&actions), ["log:limit_breach"], "{name}");
        assert!(matches!(
            &actions[0],
            Action::Log(Notice::LimitBreach {
                account_level: true,
                ..
            })
        ));
    }
}

#[test]
fn a_must_record_channel_whose_recording_fails_to_start_is_stopped() {
    let name = "recording-state-change/recording-start-failure.json";
    let must = with_tags(&[(tags::MUST_RECORD, "true")]);
    let actions = decide_fixture(name, &must);
    assert_eq!(
        kinds(&actions),
        ["log:recording_failure", "stop:recording_start_failure"]
    );
    assert!(matches!(
        &actions[0],
        Action::Log(Notice::RecordingFailure { must_record: true, reason, .. }) if reason == "AccessDeniedException"
    ));
    assert_eq!(
        kinds(&decide_fixture(name, &default_policy())),
        ["log:recording_failure"]
    );
    // Other recording events never stop a must-record channel.
    assert_not_disruptive(
        &must,
        &[
            "recording-state-change/recording-start.json",
            "recording-state-change/recording-end.json",
            "recording-state-change/recording-end-failure.json",
        ],
    );
}

#[test]
fn recording_end_gives_one_recording_ready_record() {
    let actions = decide_fixture(
        "recording-state-change/recording-end.json",
        &default_policy(),
    );
    let [Action::Log(Notice::RecordingReady {
        stream_ids,
        recording_session_id,
        duration_ms,
        location,
    })] = actions.as_slice()
    else {
        panic!("{:?}", kinds(&actions))
    };
    assert_eq!(
        stream_ids,
        &vec!["st-0PrEvIoUsStReAmIdAbCdE".to_owned(), STREAM_ID.to_owned()]
    );
    assert_eq!(recording_session_id, "9c4d2e7f-0000-4000-8000-00000000a001");
    assert_eq!(*duration_ms, 3_598_000);
    assert_eq!(
        location.as_deref(),
        Some("s3://example-recordings-111122223333/ivs/v1/111122223333/AbCdEf123456/2026/1/5/10/0/R1cOrDiNg2Ab/media/hls/master.m3u8")
    );
}

#[test]
fn unknown_events_and_values_are_only_logged() {
    let everything_on = everything_on();
    for name in [
        "stream-state-change/unknown-event-name.json",
        "stream-health-change/unknown-event-name.json",
        "limit-breach/unknown-limit-name.json",
        "recording-state-change/unknown-recording-status.json",
        "other/unknown-detail-type.json",
        "other/other-source.json",
    ] {
        let event = event(name);
        let actions = decide(&event, None, &everything_on);
        assert_eq!(kinds(&actions), ["log:unrecognised"], "{name}");
    }
}

#[test]
fn informational_events_do_nothing_under_any_policy() {
    let everything_on = everything_on();
    for name in [
        "stream-state-change/session-created.json",
        "stream-state-change/stream-takeover.json",
        "stream-state-change/stream-takeover-failure.json",
        "recording-state-change/recording-start.json",
    ] {
        let actions = decide_fixture(name, &everything_on);
        assert!(
            actions.iter().all(|a| matches!(a, Action::Log(_))),
            "{name}: {:?}",
            kinds(&actions)
        );
    }
    assert_eq!(
        kinds(&decide_fixture(
            "stream-state-change/stream-failure.json",
            &everything_on
        )),
        ["log:stream_failure"]
    );
}

#[test]
fn events_that_lack_what_an_action_needs_are_reported_not_guessed() {
    let rotate = with_tags(&[(tags::ROTATE_KEY_ON, "stream-end")]);
    let mut json = fixture("stream-state-change/stream-end.json");
    json["detail"]["stream_id"] = serde_json::json!("");
    let event = IvsEvent::from_value(json).unwrap();
    let channel = event.channel_arn().unwrap();
    assert_eq!(
        kinds(&decide(&event, channel.as_ref(), &rotate)),
        ["log:cannot_act"]
    );

    let mut json = fixture("limit-breach/ingest-bitrate.json");
    json["resources"] = serde_json::json!([]);
    let event = IvsEvent::from_value(json).unwrap();
    let stop = with_tags(&[(tags::STOP_ON_LIMIT_BREACH, "true")]);
    assert_eq!(
        kinds(&decide(&event, None, &stop)),
        ["log:limit_breach", "log:cannot_act"]
    );
}

/// Every policy the tags and variables can give, as far as `decide` looks at it: each switch
/// on and off, each rotation moment, suspended or not, built-in or other templates.
fn every_policy() -> Vec<ChannelPolicy> {
    let base = default_policy();
    let mut policies = Vec::new();
    for bits in 0u32..64 {
        for rotate in [RotateOn::Never, RotateOn::StreamEnd, RotateOn::SessionEnded] {
            let mut p = base.clone();
            p.start_metadata = bits & 1 != 0;
            p.stop_on_limit_breach = bits & 2 != 0;
            p.must_record = bits & 4 != 0;
            p.starvation_metadata = bits & 8 != 0;
            p.suspended = bits & 16 != 0;
            p.rotate_key_on = rotate;
            if bits & 32 != 0 {
                p.templates = settings(&[
                    (env::START_METADATA_TEMPLATE, r#"{"other":"{stream_id}"}"#),
                    (
                        env::STARVATION_START_METADATA_TEMPLATE,
                        r#"{"s":"{channel_id}"}"#,
                    ),
                    (
                        env::STARVATION_END_METADATA_TEMPLATE,
                        r#"{"e":"{channel_id}"}"#,
                    ),
                ])
                .defaults
                .templates;
            }
            policies.push(p);
        }
    }
    policies
}

/// `needs_policy` is exact on every fixture: an event said not to need a policy gets the same
/// actions under every policy (so the event functions may skip reading its channel's tags),
/// and an event said to need one gets different actions under some two policies (so no tag
/// read is spent for nothing).
#[test]
fn needs_policy_is_exact_on_every_fixture() {
    let policies = every_policy();
    let (mut with, mut without) = (0, 0);
    for (name, value) in eventbridge_fixtures() {
        let Ok(event) = IvsEvent::from_value(value) else {
            continue;
        };
        let Ok(channel) = event.channel_arn() else {
            continue;
        };
        let decisions: Vec<Vec<Action>> = policies
            .iter()
            .map(|p| decide(&event, channel.as_ref(), p))
            .collect();
        let all_same = decisions.iter().all(|d| d == &decisions[0]);
        if domain::policy::needs_policy(&event) {
            with += 1;
            assert!(
                !all_same || channel.is_none(),
                "{name}: said to need a policy, but every policy decides {:?}",
                kinds(&decisions[0])
            );
        } else {
            without += 1;
            assert!(
                all_same,
                "{name}: said to need no policy, but policies decide differently"
            );
        }
    }
    // Both sides are exercised by the fixtures.
    assert!(
        with >= 10 && without >= 10,
        "with {with}, without {without}"
    );
}
