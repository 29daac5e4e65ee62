//! The event functions' SQS batches (EventBridge → SQS → event source mapping with
//! `ReportBatchItemFailures`), IVS and SQS mocked: one tag read per batch, records applied,
//! returned with a growing visibility timeout, or dead-lettered with their reason; a channel's
//! later records wait with its returned one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ivs::operation::batch_get_channel::BatchGetChannelOutput;
use aws_sdk_ivs::operation::put_metadata::PutMetadataOutput;
use aws_sdk_ivs::types::{BatchError, Channel};
use aws_sdk_ivs::Client;
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput;
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use domain::policy::tags;
use ivs_adapter::queue::EventQueue;
use ivs_adapter::{Automation, STREAM_EVENTS};
use serde_json::{json, Value};
use test_support::*;

const QUEUE_ARN: &str = "arn:aws:sqs:us-west-2:111122223333:stream-events-queue";
const QUEUE_URL: &str = "https://sqs.us-west-2.amazonaws.com/111122223333/stream-events-queue";
const DLQ_URL: &str = "https://sqs.us-west-2.amazonaws.com/111122223333/failed-events";

fn channel(n: usize) -> String {
    format!("arn:aws:ivs:us-west-2:111122223333:channel/BaTcH{n:07}")
}

/// The Stream Start fixture on channel `n`.
fn start_on(n: usize) -> Value {
    let mut event = fixture("stream-state-change/stream-start.json");
    event["id"] = json!(format!("start-{n}"));
    event["resources"] = json!([channel(n)]);
    event
}

/// An SQS record as the event source mapping sends it, `body` its text.
fn record(id: &str, body: &str, receive_count: u32) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": receive_count.to_string(),
            "SentTimestamp": "1767607200000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1767607200001"
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-west-2"
    })
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// BatchGetChannel answering every requested channel, with `tags` on each.
fn batch_get_rule(tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(Client::batch_get_channel)
        .match_requests(|r| !r.arns().is_empty() && r.arns().len() <= 50)
        .then_output(move || {
            // The request is not visible here: answer channels 0..60 (only asked ones matter).
            let mut out = BatchGetChannelOutput::builder();
            for n in 0..60 {
                let mut c = Channel::builder().arn(channel(n));
                for (k, v) in tags {
                    c = c.tags(*k, *v);
                }
                out = out.channels(c.build());
            }
            out.build()
        })
}

fn put_ok() -> Rule {
    mock!(Client::put_metadata).then_output(|| PutMetadataOutput::builder().build())
}

/// The visibility changes and dead letters the function sent.
#[derive(Clone, Default)]
struct Sent {
    visibility: Arc<Mutex<Vec<(String, String, i32)>>>,
    dead_letters: Arc<Mutex<Vec<(String, String, String)>>>,
}

fn sqs_rules(sent: &Sent, dead_letters_fail: bool) -> Vec<Rule> {
    let visibility = Arc::clone(&sent.visibility);
    let change = mock!(aws_sdk_sqs::Client::change_message_visibility_batch)
        .match_requests(move |r| {
            for e in r.entries() {
                visibility.lock().unwrap().push((
                    r.queue_url().unwrap_or("").to_owned(),
                    e.receipt_handle().to_owned(),
                    e.visibility_timeout().unwrap_or(-1),
                ));
            }
            true
        })
        .then_output(|| {
            ChangeMessageVisibilityBatchOutput::builder()
                .set_successful(Some(vec![]))
                .set_failed(Some(vec![]))
                .build()
                .unwrap()
        });
    let letters = Arc::clone(&sent.dead_letters);
    let send = mock!(aws_sdk_sqs::Client::send_message).match_requests(move |r| {
        let attr = |name: &str| {
            r.message_attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(r.queue_url(), Some(DLQ_URL));
        letters.lock().unwrap().push((
            r.message_body().unwrap_or("").to_owned(),
            attr("ErrorType"),
            attr("SourceMessageId"),
        ));
        true
    });
    let send = if dead_letters_fail {
        send.then_http_response(|| ivs_error(500, "InternalError"))
    } else {
        send.then_output(|| SendMessageOutput::builder().build())
    };
    vec![change, send]
}

fn automation(ivs_rules: &[&Rule], sent: &Sent, dead_letter_queue: Option<&str>) -> Automation {
    automation_with(ivs_rules, sent, dead_letter_queue, false)
}

fn automation_with(
    ivs_rules: &[&Rule],
    sent: &Sent,
    dead_letter_queue: Option<&str>,
    dead_letters_fail: bool,
) -> Automation {
    let rules = sqs_rules(sent, dead_letters_fail);
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &rules, |c| c
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()));
    Automation::new(
        fast_ivs(mocked_client!(ivs_rules), 3),
        settings(&[]),
        STREAM_EVENTS,
    )
    .with_queue(
        EventQueue::from_client(sqs, dead_letter_queue.map(str::to_owned)),
        None,
    )
}

/// The sum of the figures of `name` with exactly `dims` that `automation` wrote since its
/// last flush.
fn metric(automation: &Automation, name: &str, dims: &[(&str, &str)]) -> f64 {
    let emf = String::from_utf8(automation.metrics().take_emf()).unwrap();
    ivs_adapter::metrics::read_emf(&emf)
        .iter()
        .filter(|f| f.name == name && f.has_dimensions(dims))
        .flat_map(|f| f.values.clone())
        .sum()
}

fn failures(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn a_batch_reads_its_channels_tags_in_one_call_and_skips_events_that_need_none() {
    let get = batch_get_rule(&[]);
    let put = put_ok();
    let list_tags = mock!(Client::list_tags_for_resource).then_http_response(throttled);
    let sent = Sent::default();
    let automation = automation(&[&get, &put, &list_tags], &sent, Some(DLQ_URL));
    let mut records: Vec<Value> = (0..10)
        .map(|n| record(&format!("m{n}"), &start_on(n).to_string(), 1))
        .collect();
    // Informational: no policy, no tag read, nothing done.
    let created = fixture("stream-state-change/session-created.json");
    records.push(record("created", &created.to_string(), 1));
    let response = automation.handle_batch(batch(records), None).await.unwrap();
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(get.num_calls(), 1, "one BatchGetChannel for ten channels");
    assert_eq!(list_tags.num_calls(), 0, "no ListTagsForResource");
    assert_eq!(put.num_calls(), 10, "every channel got its start metadata");
    assert!(sent.visibility.lock().unwrap().is_empty());
    assert!(sent.dead_letters.lock().unwrap().is_empty());
    // The answer is exactly what the event source mapping reads.
    assert_eq!(
        serde_json::to_value(ivs_adapter::handler::Response::Batch(response)).unwrap(),
        json!({ "batchItemFailures": [] })
    );
}

#[tokio::test]
async fn the_tags_of_a_batch_give_each_channel_its_policy() {
    // Every channel has start metadata off by tag: nothing is put.
    let get = batch_get_rule(&[(tags::START_METADATA, "false")]);
    let put = put_ok();
    let sent = Sent::default();
    let automation = automation(&[&get, &put], &sent, Some(DLQ_URL));
    let records = (0..3)
        .map(|n| record(&format!("m{n}"), &start_on(n).to_string(), 1))
        .collect();
    let response = automation.handle_batch(batch(records), None).await.unwrap();
    assert!(failures(&response).is_empty());
    assert_eq!((get.num_calls(), put.num_calls()), (1, 0));
}

#[tokio::test]
async fn a_channel_ivs_does_not_know_gets_the_defaults_and_a_failed_read_falls_back() {
    // BatchGetChannel: channel 0 not found, channel 1 failed; each then handled alone.
    let get = mock!(Client::batch_get_channel).then_output(|| {
        BatchGetChannelOutput::builder()
            .errors(
                BatchError::builder()
                    .arn(channel(0))
                    .code("ResourceNotFoundException")
                    .build(),
            )
            .errors(
                BatchError::builder()
                    .arn(channel(1))
                    .code("InternalServerException")
                    .build(),
            )
            .build()
    });
    let list_tags = mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(channel(1).as_str()))
        .then_output(|| {
            aws_sdk_ivs::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .set_tags(Some(Default::default()))
                .build()
                .unwrap()
        });
    let put = put_ok();
    let sent = Sent::default();
    let automation = automation(&[&get, &list_tags, &put], &sent, Some(DLQ_URL));
    let records = (0..2)
        .map(|n| record(&format!("m{n}"), &start_on(n).to_string(), 1))
        .collect();
    let response = automation.handle_batch(batch(records), None).await.unwrap();
    assert!(failures(&response).is_empty());
    assert_eq!(
        (get.num_calls(), list_tags.num_calls(), put.num_calls()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn a_throttled_record_goes_back_with_a_growing_delay_and_its_channel_waits_with_it() {
    let get = batch_get_rule(&[]);
    // Channel 1 is throttled on every attempt; the others are fine.
    let throttled_put = mock!(Client::put_metadata)
        .match_requests(|r| r.channel_arn() == Some(channel(1).as_str()))
        .then_http_response(throttled);
    let put = put_ok();
    let sent = Sent::default();
    let automation = automation(&[&get, &throttled_put, &put], &sent, Some(DLQ_URL));
    let mut second_on_1 = start_on(1);
    second_on_1["id"] = json!("start-1-again");
    let records = vec![
        record("m0", &start_on(0).to_string(), 1),
        record("m1", &start_on(1).to_string(), 4),
        record("m2", &start_on(2).to_string(), 1),
        record("m1-again", &second_on_1.to_string(), 1),
    ];
    let response = automation.handle_batch(batch(records), None).await.unwrap();
    assert_eq!(failures(&response), ["m1", "m1-again"]);
    assert_eq!(
        throttled_put.num_calls(),
        3,
        "the first record of channel 1 used its attempts; the second was not tried"
    );
    assert_eq!(put.num_calls(), 2);
    let visibility = sent.visibility.lock().unwrap().clone();
    assert_eq!(visibility.len(), 2, "{visibility:?}");
    for (url, handle, seconds) in &visibility {
        assert_eq!(url, QUEUE_URL);
        assert!(handle == "handle-m1" || handle == "handle-m1-again");
        // Fourth receive: 2 s doubled three times = 16 s, jittered into 8–16 s.
        assert!((8..=16).contains(seconds), "{handle}: {seconds}");
    }
    assert!(sent.dead_letters.lock().unwrap().is_empty());
    // The metrics say so: three throttled answers, two records returned, two applied.
    let emf = String::from_utf8(automation.metrics().take_emf()).unwrap();
    let figures = ivs_adapter::metrics::read_emf(&emf);
    let sum = |name: &str, dims: &[(&str, &str)]| -> f64 {
        figures
            .iter()
            .filter(|f| f.name == name && f.has_dimensions(dims))
            .flat_map(|f| f.values.clone())
            .sum()
    };
    let f = ("Function", "stream-events");
    assert_eq!(sum("IvsThrottled", &[f, ("Operation", "PutMetadata")]), 3.0);
    assert_eq!(sum("IvsThrottled", &[]), 3.0);
    assert_eq!(sum("EventsReturned", &[f]), 2.0);
    assert_eq!(sum("EventsHandled", &[f]), 2.0);
    assert_eq!(
        sum(
            "Actions",
            &[f, ("Action", "put_metadata"), ("Outcome", "failed")]
        ),
        1.0
    );
}

#[tokio::test]
async fn what_can_never_be_applied_is_dead_lettered_with_its_reason_and_acknowledged() {
    let get = batch_get_rule(&[]);
    let put = put_ok();
    let sent = Sent::default();
    let automation = automation(&[&get, &put], &sent, Some(DLQ_URL));
    let mut bad_arn = start_on(0);
    bad_arn["resources"] = json!(["arn:aws:ivs:us-west-2:111122223333:channel/"]);
    let records = vec![
        record("not-json", "{not json", 1),
        record("bad-arn", &bad_arn.to_string(), 1),
        record("good", &start_on(3).to_string(), 1),
    ];
    let response = automation.handle_batch(batch(records), None).await.unwrap();
    assert!(failures(&response).is_empty(), "{:?}", failures(&response));
    assert_eq!(put.num_calls(), 1);
    let letters = sent.dead_letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert_eq!(letters[0].0, "{not json", "the body is kept as received");
    assert_eq!(letters[0].1, "Permanent.InvalidEvent");
    assert_eq!(letters[0].2, "not-json");
    assert_eq!(letters[1].0, bad_arn.to_string());
    assert_eq!(letters[1].2, "bad-arn");
    assert!(sent.visibility.lock().unwrap().is_empty());
    let f = ("Function", "stream-events");
    assert_eq!(metric(&automation, "EventsDeadLettered", &[f]), 2.0);
}

#[tokio::test]
async fn a_dead_letter_that_cannot_be_sent_keeps_the_record_in_the_queue() {
    let sent = Sent::default();
    let failing = automation_with(&[], &sent, Some(DLQ_URL), true);
    let response = failing
        .handle_batch(batch(vec![record("not-json", "[", 2)]), None)
        .await
        .unwrap();
    assert_eq!(failures(&response), ["not-json"]);
    assert_eq!(sent.dead_letters.lock().unwrap().len(), 1, "it was tried");
    assert_eq!(sent.visibility.lock().unwrap().len(), 1);
    // Without a dead-letter queue configured, the redrive policy takes it: reported failed.
    let sent = Sent::default();
    let automation = automation(&[], &sent, None);
    let response = automation
        .handle_batch(batch(vec![record("not-json", "[", 1)]), None)
        .await
        .unwrap();
    assert_eq!(failures(&response), ["not-json"]);
    assert!(sent.dead_letters.lock().unwrap().is_empty());
}

#[tokio::test]
async fn records_left_when_the_deadline_nears_are_returned_untried() {
    let get = batch_get_rule(&[]);
    let put = put_ok();
    let sent = Sent::default();
    let automation = automation(&[&get, &put], &sent, Some(DLQ_URL));
    let records = (0..5)
        .map(|n| record(&format!("m{n}"), &start_on(n).to_string(), 1))
        .collect();
    // 2 s left: a quarter (0.5 s) is kept for the SQS calls, and what remains is less than
    // the retry margin (2 s) a call needs: nothing is tried.
    let deadline = Instant::now() + Duration::from_secs(2);
    let started = Instant::now();
    let response = automation
        .handle_batch(batch(records), Some(deadline))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(failures(&response), ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(put.num_calls(), 0);
    assert_eq!(sent.visibility.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn a_record_without_a_message_id_fails_the_whole_batch() {
    let sent = Sent::default();
    let automation = automation(&[], &sent, Some(DLQ_URL));
    let mut bad = record("x", &start_on(0).to_string(), 1);
    bad.as_object_mut().unwrap().remove("messageId");
    let err = automation
        .handle_batch(batch(vec![bad]), None)
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
}
