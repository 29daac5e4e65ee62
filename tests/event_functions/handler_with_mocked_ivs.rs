//! The event functions' handler end to end over the fixtures, with IVS mocked: which IVS
//! calls are made, with what, and what the invocation returns (success, or a failure Lambda
//! retries and then dead-letters). Also: stream key values never reach the logs.

use std::collections::HashMap;

use aws_sdk_ivs::operation::delete_stream_key::DeleteStreamKeyOutput;
use aws_sdk_ivs::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_ivs::operation::put_metadata::PutMetadataOutput;
use aws_sdk_ivs::operation::stop_stream::StopStreamOutput;
use aws_sdk_ivs::types::StreamKeySummary;
use aws_sdk_ivs::Client;
use domain::policy::{env, tags};
use domain::rotation::TAG_ROTATED_AFTER_STREAM;
use ivs_adapter::error::Error;
use ivs_adapter::handler::Response;
use ivs_adapter::{Automation, HandlerOutput, RECORDING_EVENTS, STREAM_EVENTS};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use test_support::*;
use tracing::instrument::WithSubscriber;

fn tags_rule(pairs: &[(&str, &str)]) -> Rule {
    let tags: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(CHANNEL_ARN))
        .then_output(move || {
            ListTagsForResourceOutput::builder()
                .set_tags(Some(tags.clone()))
                .build()
                .unwrap()
        })
}

fn old_key() -> StreamKeySummary {
    StreamKeySummary::builder()
        .arn(KEY_ARN)
        .channel_arn(CHANNEL_ARN)
        .build()
}

fn rotated_key() -> StreamKeySummary {
    StreamKeySummary::builder()
        .arn(NEW_KEY_ARN)
        .channel_arn(CHANNEL_ARN)
        .tags(TAG_ROTATED_AFTER_STREAM, STREAM_ID)
        .build()
}

fn automation(client: Client, env_vars: &[(&str, &str)]) -> Automation {
    Automation::new(fast_ivs(client, 3), settings(env_vars), STREAM_EVENTS)
}

/// The (action, outcome) pairs `automation` answers the fixture `name` with.
async fn outcomes_of(automation: &Automation, name: &str) -> Vec<(String, String)> {
    outcomes(&automation.handle_value(fixture(name)).await.unwrap())
}

/// How `automation` fails on the fixture `name`.
async fn failure_of(automation: &Automation, name: &str) -> Error {
    automation.handle_value(fixture(name)).await.unwrap_err()
}

/// The recording function's automation over `client`, default settings.
fn recording_automation(client: Client) -> Automation {
    Automation::new(fast_ivs(client, 3), settings(&[]), RECORDING_EVENTS)
}

fn outcomes(output: &HandlerOutput) -> Vec<(String, String)> {
    output
        .actions
        .iter()
        .map(|a| (a.action.to_owned(), a.outcome.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn stream_start_puts_the_start_metadata() {
    let tags = tags_rule(&[]);
    let put = mock!(Client::put_metadata)
        .match_requests(|r| {
            r.channel_arn() == Some(CHANNEL_ARN)
                && r.metadata().is_some_and(|m| {
                    let v: serde_json::Value = serde_json::from_str(m).unwrap();
                    v["streamId"] == STREAM_ID && v["channel"] == "demo"
                })
        })
        .then_output(|| PutMetadataOutput::builder().build());
    let automation = automation(mocked_client!(&[&tags, &put]), &[]);
    let event = LambdaEvent::new(
        fixture("stream-state-change/stream-start.json"),
        Context::default(),
    );
    let Response::Event(output) = automation.handle(event).await.unwrap() else {
        panic!("one event gets one event's output");
    };
    assert_eq!(outcomes(&output), pairs(&[("put_metadata", "delivered")]));
    assert_eq!(output.detail_type, "IVS Stream State Change");
    assert_eq!(output.name, "Stream Start");
    assert_eq!(output.actions[0].channel_arn.as_deref(), Some(CHANNEL_ARN));
    assert_eq!(output.actions[0].stream_id.as_deref(), Some(STREAM_ID));
    assert_eq!((tags.num_calls(), put.num_calls()), (1, 1));
}

#[tokio::test]
async fn stream_start_on_an_offline_channel_is_acknowledged() {
    let tags = tags_rule(&[]);
    let put = mock!(Client::put_metadata).then_http_response(not_broadcasting);
    let automation = automation(mocked_client!(&[&tags, &put]), &[]);
    assert_eq!(
        outcomes_of(&automation, "stream-state-change/stream-start.json").await,
        pairs(&[("put_metadata", "channel_offline")])
    );
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn a_suspended_channel_going_live_has_its_key_revoked_then_its_stream_stopped() {
    let tags = tags_rule(&[(tags::SUSPENDED, "true")]);
    let list = mock!(Client::list_stream_keys).then_output(|| key_list(vec![old_key()]));
    let delete = mock!(Client::delete_stream_key)
        .match_requests(|r| r.arn() == Some(KEY_ARN))
        .then_output(|| DeleteStreamKeyOutput::builder().build());
    let stop = mock!(Client::stop_stream)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN))
        .then_output(|| StopStreamOutput::builder().build());
    let put = mock!(Client::put_metadata).then_output(|| PutMetadataOutput::builder().build());
    let automation = automation(mocked_client!(&[&tags, &list, &delete, &stop, &put]), &[]);
    assert_eq!(
        outcomes_of(&automation, "stream-state-change/stream-start.json").await,
        pairs(&[("suspend_channel", "stopped")])
    );
    assert_eq!((delete.num_calls(), stop.num_calls()), (1, 1));
    assert_eq!(put.num_calls(), 0, "a suspended channel gets no greeting");
}

#[tokio::test]
async fn stream_end_rotates_once_even_when_the_event_is_delivered_twice() {
    let tags = tags_rule(&[(tags::ROTATE_KEY_ON, "stream-end")]);
    let list = mock!(Client::list_stream_keys)
        .sequence()
        .output(|| key_list(vec![old_key()]))
        .output(|| key_list(vec![rotated_key()]))
        .build();
    let delete =
        mock!(Client::delete_stream_key).then_output(|| DeleteStreamKeyOutput::builder().build());
    let create = mock!(Client::create_stream_key)
        .match_requests(|r| {
            r.channel_arn() == Some(CHANNEL_ARN)
                && r.tags()
                    .and_then(|t| t.get(TAG_ROTATED_AFTER_STREAM))
                    .map(String::as_str)
                    == Some(STREAM_ID)
        })
        .then_output(created_key);
    let automation = automation(mocked_client!(&[&tags, &list, &delete, &create]), &[]);
    let end = fixture("stream-state-change/stream-end.json");
    let first = automation.handle_value(end.clone()).await.unwrap();
    let second = automation.handle_value(end).await.unwrap();
    assert_eq!(outcomes(&first), pairs(&[("rotate_stream_key", "rotated")]));
    assert_eq!(
        outcomes(&second),
        pairs(&[("rotate_stream_key", "already_rotated")])
    );
    assert_eq!(
        (delete.num_calls(), create.num_calls()),
        (1, 1),
        "one rotation in all"
    );
    assert_eq!(
        tags.num_calls(),
        1,
        "the policy was cached between the two events"
    );
    let json = serde_json::to_string(&first).unwrap();
    assert!(
        !json.contains(NEW_KEY_VALUE),
        "the function's response never carries the key"
    );
}

#[tokio::test]
async fn the_policy_cache_can_be_turned_off() {
    let tags = tags_rule(&[]);
    let automation = automation(
        mocked_client!(&[&tags]),
        &[(env::POLICY_CACHE_SECONDS, "0")],
    );
    for _ in 0..2 {
        // Stream End: its decision depends on the policy (rotation), so the tags are read.
        assert_eq!(
            outcomes_of(&automation, "stream-state-change/stream-end.json").await,
            pairs(&[("log", "no_action")])
        );
    }
    assert_eq!(tags.num_calls(), 2);
}

#[tokio::test]
async fn limit_breaches_stop_the_stream_under_stop_on_breach_and_account_breaches_call_nothing() {
    let tags = tags_rule(&[]);
    let stop = mock!(Client::stop_stream)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN))
        .sequence()
        .output(|| StopStreamOutput::builder().build())
        .http_response(not_broadcasting)
        .build();
    let automation = automation(
        mocked_client!(&[&tags, &stop]),
        &[(env::STOP_ON_LIMIT_BREACH, "true")],
    );
    assert_eq!(
        outcomes_of(&automation, "limit-breach/ingest-bitrate.json").await,
        pairs(&[("log", "limit_breach"), ("stop_stream", "stopped")])
    );
    assert_eq!(
        outcomes_of(&automation, "limit-breach/ingest-resolution.json").await,
        pairs(&[("log", "limit_breach"), ("stop_stream", "already_stopped")])
    );
    assert_eq!(
        outcomes_of(&automation, "limit-breach/concurrent-broadcasts.json").await,
        pairs(&[("log", "limit_breach")])
    );
    assert_eq!(stop.num_calls(), 2);
    assert_eq!(tags.num_calls(), 1, "no channel, no tag lookup");
}

#[tokio::test]
async fn a_must_record_channel_whose_recording_fails_is_stopped_by_the_recording_function() {
    let tags = tags_rule(&[(tags::MUST_RECORD, "true")]);
    let stop = mock!(Client::stop_stream)
        .match_requests(|r| r.channel_arn() == Some(CHANNEL_ARN))
        .then_output(|| StopStreamOutput::builder().build());
    let automation = recording_automation(mocked_client!(&[&tags, &stop]));
    assert_eq!(
        outcomes_of(
            &automation,
            "recording-state-change/recording-start-failure.json"
        )
        .await,
        pairs(&[("log", "recording_failure"), ("stop_stream", "stopped")])
    );
    assert_eq!(
        outcomes_of(&automation, "recording-state-change/recording-end.json").await,
        pairs(&[("log", "recording_ready")])
    );
    assert_eq!(stop.num_calls(), 1);
}

#[tokio::test]
async fn events_of_another_function_and_unknown_events_are_acknowledged_without_calls() {
    let tags = tags_rule(&[]);
    let automation = automation(mocked_client!(&[&tags]), &[]);
    let output = automation
        .handle_value(fixture(
            "recording-state-change/recording-start-failure.json",
        ))
        .await
        .unwrap();
    assert!(output.actions.is_empty(), "not routed to stream-events");
    for name in ["other/unknown-detail-type.json", "other/other-source.json"] {
        let output = automation.handle_value(fixture(name)).await.unwrap();
        assert_eq!(
            outcomes(&output),
            pairs(&[("log", "unrecognised")]),
            "{name}"
        );
    }
    assert_eq!(
        outcomes_of(&automation, "stream-state-change/unknown-event-name.json").await,
        pairs(&[("log", "unrecognised")])
    );
}

#[tokio::test]
async fn transient_failures_fail_the_invocation_as_retryable() {
    let tags = tags_rule(&[]);
    let put = mock!(Client::put_metadata)
        .sequence()
        .http_response(throttled)
        .times(3)
        .build();
    let automation = automation(mocked_client!(&[&tags, &put]), &[]);
    let err = failure_of(&automation, "stream-state-change/stream-start.json").await;
    assert!(err.is_retryable());
    assert_eq!(put.num_calls(), 3, "bounded by the retry policy");
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "Retryable.Throttled");
    assert!(diagnostic.error_message.contains("PutMetadata"));
}

#[tokio::test]
async fn a_failed_tag_read_fails_the_event_instead_of_using_the_wrong_policy() {
    let tags = mock!(Client::list_tags_for_resource)
        .sequence()
        .http_response(|| ivs_error(500, "InternalServerException"))
        .times(3)
        .build();
    let put = mock!(Client::put_metadata).then_output(|| PutMetadataOutput::builder().build());
    let automation = automation(mocked_client!(&[&tags, &put]), &[]);
    let err = failure_of(&automation, "stream-state-change/stream-start.json").await;
    assert!(err.is_retryable());
    assert_eq!(put.num_calls(), 0);
}

#[tokio::test]
async fn unreadable_events_fail_as_permanent_so_they_reach_the_dead_letter_queue() {
    let tags = tags_rule(&[]);
    let recording = recording_automation(mocked_client!(&[&tags]));
    let err = failure_of(
        &recording,
        "recording-state-change/recording-end-failure-malformed-arn.json",
    )
    .await;
    assert!(matches!(err, Error::InvalidEvent(_)));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("invalid IVS ARN"), "{err}");
    assert_eq!(Diagnostic::from(err).error_type, "Permanent.InvalidEvent");

    let mut wrong_shape = fixture("stream-state-change/stream-start.json");
    wrong_shape["detail"] = serde_json::json!({"channel_name": "demo"});
    let automation = automation(mocked_client!(&[&tags]), &[]);
    let err = automation.handle_value(wrong_shape).await.unwrap_err();
    assert!(err.to_string().contains("event_name"), "{err}");
    assert_eq!(
        tags.num_calls(),
        0,
        "nothing is called for an unreadable event"
    );
}

#[tokio::test]
async fn a_key_rotation_logs_one_line_per_action_and_never_the_key_value() {
    let tags = tags_rule(&[(tags::ROTATE_KEY_ON, "stream-end")]);
    let list = mock!(Client::list_stream_keys).then_output(|| key_list(vec![old_key()]));
    let delete =
        mock!(Client::delete_stream_key).then_output(|| DeleteStreamKeyOutput::builder().build());
    let create = mock!(Client::create_stream_key).then_output(created_key);
    let automation = automation(mocked_client!(&[&tags, &list, &delete, &create]), &[]);
    let capture = LogCapture::new();
    let output = automation
        .handle_value(fixture("stream-state-change/stream-end.json"))
        .with_subscriber(capture.subscriber("trace"))
        .await
        .unwrap();
    assert_eq!(
        outcomes(&output),
        pairs(&[("rotate_stream_key", "rotated")])
    );
    assert_eq!(create.num_calls(), 1);

    let text = capture.text();
    assert!(
        !text.contains(NEW_KEY_VALUE),
        "the key value reached the logs"
    );
    let records = capture.records();
    // At TRACE the project's own records are all there; the SDK's stop at INFO (below it, it
    // logs signed requests with credentials).
    for record in &records {
        let target = record["target"].as_str().unwrap_or("");
        let own = ivs_adapter::logging::OWN_TARGETS
            .iter()
            .any(|t| target == *t || target.starts_with(&format!("{t}::")));
        assert!(
            own || ["INFO", "WARN", "ERROR"].contains(&record["level"].as_str().unwrap_or("")),
            "a dependency's record below INFO: {record}"
        );
    }
    let rotation: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "rotate_stream_key")
        .collect();
    assert_eq!(rotation.len(), 1, "one line per action");
    assert_eq!(rotation[0]["channel_arn"], CHANNEL_ARN);
    assert_eq!(rotation[0]["stream_id"], STREAM_ID);
    assert_eq!(rotation[0]["new_key_arn"], NEW_KEY_ARN);
    assert_eq!(rotation[0]["level"], "INFO");
}

#[tokio::test]
async fn retries_stop_in_time_for_the_invocation_deadline() {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let tags = tags_rule(&[]);
    let put = mock!(Client::put_metadata)
        .sequence()
        .http_response(throttled)
        .times(50)
        .build();
    // 50 attempts with pauses of 400-800 ms (equal jitter of 800 ms) would take half a
    // minute; the invocation has 2.5 s, of which RETRY_MARGIN (2 s) stays free: 0.5 s holds
    // at most one pause, whatever the jitter draws, so one or two attempts are made.
    let retry = ivs_adapter::ivs::RetryPolicy {
        max_attempts: 50,
        base_delay: Duration::from_millis(800),
        max_delay: Duration::from_millis(800),
    };
    let automation = Automation::new(
        ivs_adapter::ivs::Ivs::with_retry(mocked_client!(&[&tags, &put]), retry),
        settings(&[]),
        STREAM_EVENTS,
    );
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = Context::default();
    context.deadline = now_ms + 2_500;
    let started = Instant::now();
    let err = automation
        .handle(LambdaEvent::new(
            fixture("stream-state-change/stream-start.json"),
            context,
        ))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.is_retryable(),
        "reported as retryable, for Lambda to retry"
    );
    assert!(
        (1..=2).contains(&put.num_calls()),
        "{} calls",
        put.num_calls()
    );
}
