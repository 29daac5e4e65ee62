//! The admin API's lifecycle events against the IVS emulator, EventBridge and SQS mocked: an
//! operator's suspension, resumption and rotation are published (never a key's value); what
//! EventBridge does not take goes to the outbox queue; when neither takes it, an idempotent
//! change answers 503 (repeat it) and a rotation still hands over its new key.

use std::sync::{Arc, Mutex};

use admin_api::AdminApi;
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use ivs_adapter::publish::Publisher;
use ivs_adapter::queue::EventQueue;
use ivs_emulator::{Emulator, Server};
use lambda_http::Body;
use serde_json::Value;
use test_support::lifecycle::{mocked_publisher, put_events_rule, PutEntries};
use test_support::*;

const OUTBOX_URL: &str = "https://sqs.us-west-2.amazonaws.com/111122223333/stream-events-queue";

type Seen = PutEntries;

fn eventbridge(refuse: bool, seen: &Seen) -> (Rule, Publisher) {
    let rule = put_events_rule(seen, refuse);
    let publisher = mocked_publisher(&[&rule], "platform-bus");
    (rule, publisher)
}

/// (detail-type, detail) of each entry `seen` was given.
fn entries(seen: &Seen) -> Vec<(String, Value)> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|e| (e.2.clone(), e.3.clone()))
        .collect()
}

fn outbox(fail: bool, bodies: &Arc<Mutex<Vec<String>>>) -> (Rule, EventQueue) {
    let bodies = Arc::clone(bodies);
    let rule = mock!(aws_sdk_sqs::Client::send_message).match_requests(move |r| {
        assert_eq!(r.queue_url(), Some(OUTBOX_URL));
        bodies
            .lock()
            .unwrap()
            .push(r.message_body().unwrap_or("").to_owned());
        true
    });
    let rule = if fail {
        rule.then_http_response(|| ivs_error(500, "InternalError"))
    } else {
        rule.then_output(|| SendMessageOutput::builder().build())
    };
    let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&rule], |c| c
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()));
    (rule, EventQueue::from_client(client, None))
}

async fn api(
    publisher: Publisher,
    queue: Option<EventQueue>,
) -> (AdminApi, Emulator, Server, String, String) {
    let (emulator, server) = start_emulator_unthrottled(23).await;
    let (channel, key) = create_channel(&ivs_client(&server.url()), "admin-events", &[]).await;
    let api = admin_api_over(fast_ivs(ivs_client(&server.url()), 3), None)
        .with_lifecycle(publisher, queue.map(|q| (q, OUTBOX_URL.to_owned())));
    (api, emulator, server, channel, key)
}

async fn send(api: &AdminApi, method: &str, path: &str) -> (u16, Value) {
    let response = api.handle(http_api_request(method, path, None)).await;
    let body = match response.body() {
        Body::Empty => Value::Null,
        b => serde_json::from_slice(b.as_ref()).unwrap(),
    };
    (response.status().as_u16(), body)
}

fn id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_changes_are_published_without_any_key_value() {
    let seen = Seen::default();
    let (_rule, publisher) = eventbridge(false, &seen);
    let (api, emulator, _server, channel, key) = api(publisher, None).await;
    let c = id(&channel);
    emulator.connect(&key).unwrap();

    let (status, _) = send(&api, "POST", &format!("/channels/{c}/suspend")).await;
    assert_eq!(status, 200);
    let (status, resumed) = send(&api, "POST", &format!("/channels/{c}/resume")).await;
    assert_eq!(status, 200);
    let (status, rotated) = send(&api, "POST", &format!("/channels/{c}/rotate-key")).await;
    assert_eq!(status, 200, "{rotated}");

    let seen = entries(&seen);
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Channel Suspended",
            "Stream Stopped",
            "Channel Resumed",
            "Stream Key Rotated"
        ]
    );
    assert_eq!(seen[0].1["by"], "admin_api");
    assert_eq!(seen[0].1["streamStopped"], true);
    assert_eq!(seen[1].1["rule"], "suspended");
    assert_eq!(seen[2].1["keyArn"], resumed["streamKey"]["arn"]);
    assert_eq!(seen[2].1["keyCreated"], true);
    assert_eq!(seen[3].1["keyArn"], rotated["streamKey"]["arn"]);
    assert_eq!(seen[3].1["trigger"], "admin_api");
    for (kind, detail) in &seen {
        assert_eq!(detail["channelArn"], channel.as_str(), "{kind}");
    }
    let all = format!("{seen:?}");
    for value in [
        &resumed["streamKey"]["value"],
        &rotated["streamKey"]["value"],
    ] {
        let value = value.as_str().unwrap();
        assert!(!value.is_empty());
        assert!(!all.contains(value), "a key's value in a lifecycle event");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_eventbridge_refuses_goes_to_the_outbox_and_else_a_repeatable_change_answers_503() {
    // Refused, kept in the outbox: the change succeeds.
    let seen = Seen::default();
    let (_rule, publisher) = eventbridge(true, &seen);
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (sent, queue) = outbox(false, &bodies);
    let (api_kept, _e1, _s1, channel, _) = api(publisher, Some(queue)).await;
    let (status, _) = send(
        &api_kept,
        "POST",
        &format!("/channels/{}/suspend", id(&channel)),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sent.num_calls(), 1);
    let kept: Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(kept["events"][0]["detailType"], "Channel Suspended");

    // Refused and the outbox fails: the suspension (repeatable) answers 503 with Retry-After,
    // the rotation (not repeatable) still hands over its key.
    let seen = Seen::default();
    let (_rule, publisher) = eventbridge(true, &seen);
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (_failing, queue) = outbox(true, &bodies);
    let (api_lost, _e2, _s2, channel, _) = api(publisher, Some(queue)).await;
    let c = id(&channel);
    let (status, body) = send(&api_lost, "POST", &format!("/channels/{c}/suspend")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "LifecycleEventNotPublished");
    let (status, body) = send(&api_lost, "POST", &format!("/channels/{c}/rotate-key")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["streamKey"]["value"].as_str().is_some());
}
