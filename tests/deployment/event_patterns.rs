//! The template's EventBridge rules (each sends to its event function's queue) against the
//! sample events in `events/`, with a real
//! EventBridge pattern matcher: moto's (rules with SQS targets, PutEvents; in process, nothing
//! reaches AWS), driven by `event_patterns.py` (beside this file). Each rule delivers exactly
//! the events of its detail-types, none of the others, and the ChannelArns parameter limits
//! the rules to the channels it lists. Needs `python3` with moto and boto3 on the PATH (scripts/test.sh
//! installs them into .venv).

use crate::cfn;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ivs_adapter::{RECORDING_EVENTS, STREAM_EVENTS};
use serde_json::{json, Value};
use test_support::*;

use crate::cfn::Stack;

const STREAM_RULE: &str = "StreamEventsRule";
const RECORDING_RULE: &str = "RecordingEventsRule";
const OTHER_CHANNEL: &str = "arn:aws:ivs:us-west-2:111122223333:channel/OtHeRcHaNnEl";

/// The event patterns of the stack's rules (`AWS::Events::Rule` resources with a pattern, and
/// any `EventBridgeRule` event of a function, as `<Function>.<Event>`), by name.
fn rule_patterns(stack: &Stack) -> BTreeMap<String, Value> {
    let mut patterns = BTreeMap::new();
    for (name, resource) in stack.resources() {
        if resource["Type"] == "AWS::Events::Rule" {
            if let Some(pattern) = resource["Properties"].get("EventPattern") {
                patterns.insert(name.clone(), pattern.clone());
            }
            continue;
        }
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        if let Some(events) = resource["Properties"]["Events"].as_object() {
            for (event_name, event) in events {
                if event["Type"] == "EventBridgeRule" {
                    patterns.insert(
                        format!("{name}.{event_name}"),
                        event["Properties"]["Pattern"].clone(),
                    );
                }
            }
        }
    }
    patterns
}

/// The rule each fixture folder's events are for (`None`: no rule).
fn rule_for(folder: &str) -> Option<&'static str> {
    match folder {
        "stream-state-change" | "stream-health-change" | "limit-breach" => Some(STREAM_RULE),
        "recording-state-change" => Some(RECORDING_RULE),
        "other" => None,
        other => panic!("a new fixture folder {other}: say which rule its events are for"),
    }
}

/// Every EventBridge fixture, and a copy of each IVS channel event naming another channel.
fn sample_events() -> BTreeMap<String, Value> {
    let mut events = BTreeMap::new();
    for (name, event) in eventbridge_fixtures() {
        if event["resources"][0] == CHANNEL_ARN {
            let mut elsewhere = event.clone();
            elsewhere["resources"][0] = json!(OTHER_CHANNEL);
            events.insert(format!("{name}@other-channel"), elsewhere);
        }
        events.insert(name, event);
    }
    events
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Which events each rule delivers, by moto's EventBridge.
fn deliveries(
    rules: &BTreeMap<String, Value>,
    events: &BTreeMap<String, Value>,
) -> BTreeMap<String, BTreeSet<String>> {
    let probe = Command::new(python())
        .args(["-c", "import moto, boto3, jsonpath_ng"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs {} with moto[events] and boto3 (./scripts/test.sh installs them): {probe:?}",
        python()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deployment/event_patterns.py");
    let mut child = Command::new(python())
        .arg(&script)
        // Dummy credentials and the fixtures' account and region; nothing from the
        // developer's AWS setup, and moto keeps every call in process.
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTMOTO")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_DEFAULT_REGION", "us-west-2")
        .env("MOTO_ACCOUNT_ID", ACCOUNT)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    let input = json!({"rules": rules, "events": events}).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "event_patterns.py failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Which events each rule should deliver when the rules are limited to `channels` (`None`:
/// not limited).
fn expected(
    events: &BTreeMap<String, Value>,
    channels: Option<&[&str]>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut expected: BTreeMap<String, BTreeSet<String>> = [STREAM_RULE, RECORDING_RULE]
        .into_iter()
        .map(|r| (r.to_owned(), BTreeSet::new()))
        .collect();
    for (name, event) in events {
        let folder = name.split('/').next().unwrap();
        let Some(rule) = rule_for(folder) else {
            continue;
        };
        let in_scope = match channels {
            None => true,
            Some(channels) => event["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| channels.contains(&r.as_str().unwrap())),
        };
        if in_scope {
            expected.get_mut(rule).unwrap().insert(name.clone());
        }
    }
    expected
}

#[test]
fn each_rule_delivers_the_events_of_its_detail_types_and_no_other() {
    let template = cfn::template();
    let stack = Stack::new(&template, &[]);
    let rules = rule_patterns(&stack);
    assert_eq!(
        rules.keys().map(String::as_str).collect::<Vec<_>>(),
        [RECORDING_RULE, STREAM_RULE]
    );
    let events = sample_events();
    let delivered = deliveries(&rules, &events);
    let want = expected(&events, None);
    assert_eq!(delivered, want);
    // The matcher discriminates: each rule delivered some events and left others.
    for (rule, names) in &delivered {
        assert!(!names.is_empty() && names.len() < events.len(), "{rule}");
    }
    // Account-level events (no channel) reach the stream function too.
    assert!(delivered[STREAM_RULE].contains("limit-breach/concurrent-viewers.json"));
}

#[test]
fn the_channel_filter_limits_the_rules_to_its_channels() {
    let template = cfn::template();
    let filter = [
        CHANNEL_ARN,
        "arn:aws:ivs:us-west-2:111122223333:channel/NoEvEnTs1234",
    ];
    let stack = Stack::new(&template, &[("ChannelArns", &filter.join(","))]);
    let rules = rule_patterns(&stack);
    for pattern in rules.values() {
        assert_eq!(pattern["resources"], json!(filter));
    }
    let events = sample_events();
    let delivered = deliveries(&rules, &events);
    let want = expected(&events, Some(&filter));
    assert_eq!(delivered, want);
    assert!(!delivered[STREAM_RULE].is_empty() && !delivered[RECORDING_RULE].is_empty());
    // Another channel's events, and account-level ones, are not delivered.
    for names in delivered.values() {
        assert!(names.iter().all(|n| !n.ends_with("@other-channel")));
        assert!(!names.contains("limit-breach/concurrent-viewers.json"));
    }
    // Without a list, the patterns carry no resources filter at all.
    let unfiltered = rule_patterns(&Stack::new(&template, &[]));
    assert!(unfiltered.values().all(|p| p.get("resources").is_none()));
}

#[test]
fn the_patterns_name_exactly_the_detail_types_each_function_handles() {
    let template = cfn::template();
    let rules = rule_patterns(&Stack::new(&template, &[]));
    for (rule, handled) in [
        (STREAM_RULE, STREAM_EVENTS),
        (RECORDING_RULE, RECORDING_EVENTS),
    ] {
        let pattern = &rules[rule];
        assert_eq!(pattern["source"], json!(["aws.ivs"]), "{rule}");
        let names: Vec<&str> = handled.iter().map(|d| d.as_str()).collect();
        assert_eq!(pattern["detail-type"], json!(names), "{rule}");
        let keys: BTreeSet<&str> = pattern
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["detail-type", "source"]),
            "{rule}: nothing else filters"
        );
    }
}
