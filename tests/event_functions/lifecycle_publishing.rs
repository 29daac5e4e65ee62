//! Lifecycle events from the event functions, IVS, EventBridge and SQS mocked: what each IVS
//! event publishes (with what IVS adds: the playback URL, the session's start), stable ids,
//! no key value ever, what happens when EventBridge does not take them (an outbox record in
//! the queue, not a repeat of the actions), and the metrics an invocation writes.

use std::sync::{Arc, Mutex};

use aws_sdk_ivs::operation::batch_get_channel::BatchGetChannelOutput;
use aws_sdk_ivs::operation::delete_stream_key::DeleteStreamKeyOutput;
use aws_sdk_ivs::operation::get_stream_session::GetStreamSessionOutput;
use aws_sdk_ivs::operation::put_metadata::PutMetadataOutput;
use aws_sdk_ivs::primitives::DateTime;
use aws_sdk_ivs::types::{Channel, StreamSession};
use aws_sdk_ivs::Client;
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use domain::policy::tags;
use ivs_adapter::metrics::read_emf;
use ivs_adapter::publish::Publisher;
use ivs_adapter::queue::EventQueue;
use ivs_adapter::{Automation, STREAM_EVENTS};
use serde_json::{json, Value};
use test_support::lifecycle::{mocked_publisher, put_events_rule, PutEntries};
use test_support::*;

const QUEUE_ARN: &str = "arn:aws:sqs:us-west-2:111122223333:stream-events-queue";
const QUEUE_URL: &str = "https://sqs.us-west-2.amazonaws.com/111122223333/stream-events-queue";
const PLAYBACK_URL: &str =
    "https://a1b2c3d4e5f6.us-west-2.playback.live-video.net/api/video/v1/us-west-2.111122223333.channel.AbCdEf123456.m3u8";
const BUS: &str = "platform-bus";

type Entries = PutEntries;

/// Each entry PutEvents was given, in the envelope a rule's target receives, validates
/// against its schema (`schemas/lifecycle/`).
fn assert_valid(seen: &[(String, String, String, Value, Vec<String>)]) {
    for (_, source, detail_type, detail, resources) in seen {
        let event = json!({
            "version": "0", "id": "eb-1", "detail-type": detail_type, "source": source,
            "account": "111122223333", "time": "2026-01-05T10:00:00Z", "region": "us-west-2",
            "resources": resources, "detail": detail,
        });
        test_support::lifecycle::validate_lifecycle_event(&event)
            .unwrap_or_else(|e| panic!("{detail_type}: {e}"));
    }
}

fn publisher(rules: &[&Rule]) -> Publisher {
    mocked_publisher(rules, BUS)
}

/// SendMessage to the event queue (the outbox), recording the bodies; failing when `fail`.
fn outbox_rule(bodies: &Arc<Mutex<Vec<String>>>, fail: bool) -> Rule {
    let bodies = Arc::clone(bodies);
    let rule = mock!(aws_sdk_sqs::Client::send_message).match_requests(move |r| {
        assert_eq!(r.queue_url(), Some(QUEUE_URL));
        bodies
            .lock()
            .unwrap()
            .push(r.message_body().unwrap_or("").to_owned());
        true
    });
    if fail {
        rule.then_http_response(|| ivs_error(500, "InternalError"))
    } else {
        rule.then_output(|| SendMessageOutput::builder().build())
    }
}

fn automation(ivs_rules: &[&Rule], events: &[&Rule], sqs_rules: &[&Rule]) -> Automation {
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, sqs_rules, |c| c
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()));
    Automation::new(
        fast_ivs(mocked_client!(ivs_rules), 3),
        settings(&[]),
        STREAM_EVENTS,
    )
    .with_queue(EventQueue::from_client(sqs, None), None)
    .with_publisher(publisher(events))
}

fn record(id: &str, body: &Value) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-west-2"
    })
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn channel_with(tags: &[(&str, &str)]) -> Rule {
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    mock!(Client::batch_get_channel).then_output(move || {
        let mut c = Channel::builder()
            .arn(CHANNEL_ARN)
            .playback_url(PLAYBACK_URL);
        for (k, v) in &tags {
            c = c.tags(k, v);
        }
        BatchGetChannelOutput::builder().channels(c.build()).build()
    })
}

fn put_ok() -> Rule {
    mock!(Client::put_metadata).then_output(|| PutMetadataOutput::builder().build())
}

fn failures(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn a_stream_start_publishes_channel_live_with_the_playback_url_of_the_batch_read() {
    let get = channel_with(&[]);
    let put = put_ok();
    let get_channel = mock!(Client::get_channel).then_http_response(throttled);
    let seen = Entries::default();
    let events = put_events_rule(&seen, false);
    let automation = automation(&[&get, &put, &get_channel], &[&events], &[]);
    let start = fixture("stream-state-change/stream-start.json");
    let response = automation
        .handle_batch(batch(vec![record("m1", &start)]), None)
        .await
        .unwrap();
    assert!(failures(&response).is_empty());
    assert_eq!(
        get_channel.num_calls(),
        0,
        "the URL came with BatchGetChannel"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_valid(&seen);
    let (bus, source, detail_type, detail, resources) = &seen[0];
    assert_eq!(
        (bus.as_str(), source.as_str(), detail_type.as_str()),
        (BUS, "ivs-automation", "Channel Live")
    );
    assert_eq!(resources, &vec![CHANNEL_ARN.to_owned()]);
    assert_eq!(detail["playbackUrl"], PLAYBACK_URL);
    assert_eq!(detail["streamId"], STREAM_ID);
    assert_eq!(detail["startTime"], "2026-01-05T10:00:00.000Z");
    assert_eq!(
        detail["id"],
        format!("channel-live:{CHANNEL_ARN}:{STREAM_ID}")
    );
    assert_eq!(put.num_calls(), 1);

    // The invocation's metrics, as `handle` would flush them.
    let figures = read_emf(&String::from_utf8(automation.metrics().take_emf()).unwrap());
    let value = |name: &str, dims: &[(&str, &str)]| -> Vec<f64> {
        figures
            .iter()
            .filter(|f| f.name == name && f.has_dimensions(dims))
            .flat_map(|f| f.values.clone())
            .collect()
    };
    let f = ("Function", "stream-events");
    assert_eq!(
        value("IvsCalls", &[f, ("Operation", "BatchGetChannel")]),
        vec![1.0]
    );
    assert_eq!(
        value("IvsCalls", &[f, ("Operation", "PutMetadata")]),
        vec![1.0]
    );
    assert_eq!(value("IvsCalls", &[]), vec![2.0]);
    assert_eq!(
        value(
            "Actions",
            &[f, ("Action", "put_metadata"), ("Outcome", "delivered")]
        ),
        vec![1.0],
        "{figures:?}"
    );
    assert_eq!(value("EventsHandled", &[f]), vec![1.0]);
    assert_eq!(value("EventAge", &[f]).len(), 1, "one age per event");
    assert_eq!(
        value("LifecycleEventsPublished", &[f, ("Kind", "Channel Live")]),
        vec![1.0]
    );
    // No channel ARN in any dimension.
    assert!(figures
        .iter()
        .all(|f| f.dimensions.iter().all(|(_, v)| !v.contains("arn:"))));
}

#[tokio::test]
async fn a_stream_end_publishes_offline_with_its_duration_and_the_rotation_without_the_key() {
    let get = channel_with(&[(tags::ROTATE_KEY_ON, "stream-end")]);
    let session = mock!(Client::get_stream_session)
        .match_requests(|r| r.stream_id() == Some(STREAM_ID))
        .then_output(|| {
            GetStreamSessionOutput::builder()
                .stream_session(
                    StreamSession::builder()
                        .stream_id(STREAM_ID)
                        .start_time(DateTime::from_secs(1_767_605_400)) // 09:30:00
                        .build(),
                )
                .build()
        });
    let list =
        mock!(Client::list_stream_keys).then_output(|| key_list(vec![key_summary(KEY_ARN, &[])]));
    let delete =
        mock!(Client::delete_stream_key).then_output(|| DeleteStreamKeyOutput::builder().build());
    let create = mock!(Client::create_stream_key).then_output(created_key);
    let seen = Entries::default();
    let events = put_events_rule(&seen, false);
    let automation = automation(&[&get, &session, &list, &delete, &create], &[&events], &[]);
    let mut end = fixture("stream-state-change/stream-end.json");
    end["time"] = json!("2026-01-05T10:00:00Z");
    let response = automation
        .handle_batch(batch(vec![record("m1", &end)]), None)
        .await
        .unwrap();
    assert!(failures(&response).is_empty());
    let seen = seen.lock().unwrap().clone();
    let kinds: Vec<&str> = seen.iter().map(|e| e.2.as_str()).collect();
    assert_eq!(kinds, ["Channel Offline", "Stream Key Rotated"]);
    assert_valid(&seen);
    let offline = &seen[0].3;
    assert_eq!(offline["durationSeconds"], 1800.0);
    assert_eq!(offline["startTime"], "2026-01-05T09:30:00.000Z");
    let rotated = &seen[1].3;
    assert_eq!(rotated["keyArn"], NEW_KEY_ARN);
    assert_eq!(rotated["revokedKeyArns"], json!([KEY_ARN]));
    assert_eq!(rotated["trigger"], "stream_end");
    assert_eq!(rotated["id"], format!("stream-key-rotated:{NEW_KEY_ARN}"));
    let all = format!("{seen:?}");
    assert!(
        !all.contains(NEW_KEY_VALUE),
        "a lifecycle event never carries a key's value"
    );
}

#[tokio::test]
async fn events_eventbridge_refuses_go_to_the_queue_as_an_outbox_and_the_actions_are_not_repeated()
{
    let get = channel_with(&[]);
    let put = put_ok();
    let seen = Entries::default();
    let refusing = put_events_rule(&seen, true);
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let outbox = outbox_rule(&bodies, false);
    let automation = automation(&[&get, &put], &[&refusing], &[&outbox]);
    let start = fixture("stream-state-change/stream-start.json");
    let response = automation
        .handle_batch(batch(vec![record("m1", &start)]), None)
        .await
        .unwrap();
    assert!(
        failures(&response).is_empty(),
        "the record is done: its facts are kept in the outbox"
    );
    assert_eq!(
        refusing.num_calls(),
        5,
        "a try beside the actions, then one after them and three resends"
    );
    assert_eq!(put.num_calls(), 1);
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let kept: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(kept["ivsAutomationOutbox"], 1);
    assert_eq!(kept["events"][0]["detailType"], "Channel Live");
    assert_eq!(kept["events"][0]["detail"]["playbackUrl"], PLAYBACK_URL);

    // The outbox record, received later: published now, with the same id, and nothing else
    // is done.
    let seen_later = Entries::default();
    let taking = put_events_rule(&seen_later, false);
    let later = automation_for_outbox(&[&taking]);
    let response = later
        .handle_batch(batch(vec![record("m2", &kept)]), None)
        .await
        .unwrap();
    assert!(failures(&response).is_empty());
    let seen_later = seen_later.lock().unwrap().clone();
    assert_eq!(seen_later.len(), 1);
    assert_valid(&seen_later);
    assert_eq!(seen_later[0].2, "Channel Live");
    assert_eq!(seen_later[0].3, kept["events"][0]["detail"]);
    assert_eq!(seen_later[0].4, vec![CHANNEL_ARN.to_owned()]);
}

/// An automation whose IVS answers nothing: handling an outbox record calls no IVS.
fn automation_for_outbox(events: &[&Rule]) -> Automation {
    let none = mock!(Client::get_channel).then_http_response(throttled);
    automation(&[&none], events, &[])
}

#[tokio::test]
async fn when_neither_eventbridge_nor_the_queue_takes_them_the_record_goes_back() {
    let get = channel_with(&[]);
    let put = put_ok();
    let seen = Entries::default();
    let refusing = put_events_rule(&seen, true);
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let outbox = outbox_rule(&bodies, true);
    let visibility = mock!(aws_sdk_sqs::Client::change_message_visibility_batch).then_output(|| {
        aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput::builder()
            .set_successful(Some(vec![]))
            .set_failed(Some(vec![]))
            .build()
            .unwrap()
    });
    let automation = automation(&[&get, &put], &[&refusing], &[&outbox, &visibility]);
    let start = fixture("stream-state-change/stream-start.json");
    let response = automation
        .handle_batch(batch(vec![record("m1", &start)]), None)
        .await
        .unwrap();
    assert_eq!(failures(&response), vec!["m1".to_owned()]);
    // An outbox record still refused goes back too.
    let kept = json!({"ivsAutomationOutbox": 1, "events": [{
        "detailType": "Channel Live", "channelArn": CHANNEL_ARN,
        "time": "2026-01-05T10:00:00.000Z",
        "detail": {"id": "channel-live:x", "channelArn": CHANNEL_ARN}
    }]});
    let response = automation
        .handle_batch(batch(vec![record("m2", &kept)]), None)
        .await
        .unwrap();
    assert_eq!(failures(&response), vec!["m2".to_owned()]);
    assert_eq!(visibility.num_calls(), 2, "each returned with a delay");
    let emf = String::from_utf8(automation.metrics().take_emf()).unwrap();
    let not_published: f64 = read_emf(&emf)
        .iter()
        .filter(|f| {
            f.name == "LifecycleEventsNotPublished"
                && f.has_dimensions(&[("Function", "stream-events")])
        })
        .flat_map(|f| f.values.clone())
        .sum();
    assert_eq!(not_published, 2.0, "one event per batch, each counted");
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn a_direct_event_whose_facts_are_not_published_fails_as_retryable() {
    let tags = mock!(Client::list_tags_for_resource).then_output(|| {
        aws_sdk_ivs::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
            .set_tags(Some(Default::default()))
            .build()
            .unwrap()
    });
    let get_channel = mock!(Client::get_channel).then_output(|| {
        aws_sdk_ivs::operation::get_channel::GetChannelOutput::builder()
            .channel(
                Channel::builder()
                    .arn(CHANNEL_ARN)
                    .playback_url(PLAYBACK_URL)
                    .build(),
            )
            .build()
    });
    let put = put_ok();
    let seen = Entries::default();
    let refusing = put_events_rule(&seen, true);
    let automation = automation(&[&tags, &get_channel, &put], &[&refusing], &[]);
    let err = automation
        .handle_value(fixture("stream-state-change/stream-start.json"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.error_type(), "Retryable.LifecycleNotPublished");
    assert_eq!(
        get_channel.num_calls(),
        1,
        "the URL read alone, without a batch"
    );
    assert_eq!(seen.lock().unwrap()[0].3["playbackUrl"], PLAYBACK_URL);
}

#[tokio::test]
async fn with_publishing_off_nothing_more_is_read_from_ivs() {
    let get = channel_with(&[(tags::ROTATE_KEY_ON, "never")]);
    let session = mock!(Client::get_stream_session).then_http_response(throttled);
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[], |c| c);
    let automation = Automation::new(
        fast_ivs(mocked_client!(&[&get, &session]), 3),
        settings(&[]),
        STREAM_EVENTS,
    )
    .with_queue(EventQueue::from_client(sqs, None), None);
    let end = fixture("stream-state-change/stream-end.json");
    let response = automation
        .handle_batch(batch(vec![record("m1", &end)]), None)
        .await
        .unwrap();
    assert!(failures(&response).is_empty());
    assert_eq!(session.num_calls(), 0);
}
