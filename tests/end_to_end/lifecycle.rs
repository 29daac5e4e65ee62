//! Lifecycle events and metrics end to end, on the event path the template deploys: the
//! emulator emits IVS's events for one channel going live, offline (its key rotated on stream
//! end) and its recording becoming ready, and delivers them as EventBridge's SQS target and
//! Lambda's SQS event source mapping do (`ivs_emulator::QueueTarget` over moto's SQS: one queue
//! per function, batches of up to 10 gathered within 1 s, `ReportBatchItemFailures`, at most
//! [`CONTAINERS`] invocations at once) to the real `stream-events` and `recording-events`
//! binaries, [`CONTAINERS`] containers each, in the real `lambda_runtime` loop. They call the
//! emulator with IVS's rate quotas on at IVS's own values (their budgets alike), and publish
//! their lifecycle events with the real `aws-sdk-eventbridge` client to moto's EventBridge
//! (`AWS_ENDPOINT_URL_EVENTBRIDGE`, bus `default` by `LIFECYCLE_EVENT_BUS`), where a rule
//! with the pattern `{"source": ["ivs-automation"]}` sends them to the SQS queue
//! `lifecycle-events`, as a consumer subscribes (README, "Lifecycle events").
//!
//! What it models of production: Lambda's environment (the binaries get only Lambda's
//! variables and the template's settings, `LocalLambda` clears the rest), the mapping's
//! concurrency and batching, IVS's quotas, at-least-once delivery (the Stream End is delivered
//! a second time). Not modelled: HTTPS (every endpoint is plain HTTP on 127.0.0.1;
//! `https.rs` covers the TLS side) and EventBridge's own failures (the publishing tests with
//! a mocked EventBridge cover refused entries and the outbox). moto's SQS target leaves out
//! the envelope's `account`, which is put back ([`test_support::moto::delivered_event`]).
//!
//! Asserted: every publication arrives through the rule, once; each fact is published once
//! (the re-delivered Stream End's two facts twice, with the same `detail.id`; when moto's SQS
//! hands a record to both pollers, as SQS may, its facts come twice too, and the exact counts
//! become minimums); every event validates against its JSON Schema (`schemas/lifecycle/`),
//! carries its stable id and what the README promises (a playback URL, an offline duration,
//! the new key's ARN, both forms of the recording's playlist) and no stream key value; and the
//! EMF metrics the binaries wrote on stdout (`Actions` by action and outcome, `IvsCalls` by
//! operation against the calls the emulator served, `EventAge`, `EventsHandled` against the
//! records the mapping deleted, `LifecycleEventsPublished` by kind) add up to what happened,
//! in the namespace set, with no channel ARN in any dimension.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_ivs::types::{DestinationConfiguration, S3DestinationConfiguration};
use chrono::{DateTime, Utc};
use domain::metrics::{
    self as catalog, ACTIONS, EVENTS_DEAD_LETTERED, EVENTS_HANDLED, EVENT_AGE, IVS_CALLS,
    LIFECYCLE_PUBLISHED, LIFECYCLE_PUBLISH_FAILED,
};
use domain::policy::tags;
use ivs_adapter::metrics::{read_emf, EmfFigure};
use ivs_emulator::{Config, Emulator, QueueTarget, RateQuotas, Route, Server, Target};
use serde_json::Value;
use test_support::lambda::{function_binaries, LocalLambda};
use test_support::lifecycle::validate_lifecycle_event;
use test_support::moto::{delivered_event, Moto};
use test_support::{channel_request, ivs_client, start_emulator_with, ACCOUNT};

/// Containers of each event function: the event source mapping's `MaximumConcurrency` (the
/// template's `EventConcurrency` default) and the functions' `IVS_RATE_CONCURRENCY`.
const CONTAINERS: u32 = 2;
/// The metrics namespace the functions are given (the template sets `METRICS_NAMESPACE`).
const NAMESPACE: &str = "IvsAutomationEndToEnd";
/// The queue the consumer's rule sends the lifecycle events to.
const LIFECYCLE_QUEUE: &str = "lifecycle-events";
const FUNCTIONS: [&str; 2] = ["stream-events", "recording-events"];

struct Stack {
    moto: Moto,
    lambda: LocalLambda,
    emulator: Emulator,
    server: Server,
    ivs: aws_sdk_ivs::Client,
    /// Each function's event queue URL.
    queues: BTreeMap<String, String>,
    lifecycle_queue: String,
    /// Every lifecycle event received so far, as the rule's target got it (raw bodies).
    received: Vec<String>,
}

impl Stack {
    async fn start() -> Stack {
        let moto = Moto::start();
        let lifecycle_queue = moto
            .subscribe_queue(
                "default",
                r#"{"source": ["ivs-automation"]}"#,
                LIFECYCLE_QUEUE,
            )
            .await;
        let lambda = LocalLambda::start().await;
        let mut target = QueueTarget::new(moto.url(), lambda.url(), Route::default_routes());
        // The template's mapping: batches of 10 within 1 s (the defaults), CONTAINERS at once,
        // the functions' 30 s timeout (also the deadline LocalLambda gives each invocation).
        target.max_concurrency = CONTAINERS;
        target.invocation_timeout = Duration::from_secs(30);
        let (emulator, server) = start_emulator_with(Config {
            seed: 15,
            rate_quotas: RateQuotas::scaled(1.0),
            // The recording configuration is ACTIVE at once: the scenario is about what
            // follows.
            recording_configuration_delay: Duration::ZERO,
            targets: vec![Target::Queue(target)],
            ..Config::default()
        })
        .await;
        let urls = emulator
            .start_queues()
            .await
            .expect("the queues are set up in moto");
        let env: Vec<(&str, String)> = vec![
            ("AWS_REGION", "us-west-2".into()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY".into()),
            ("AWS_SECRET_ACCESS_KEY", "local-only".into()),
            ("AWS_ENDPOINT_URL_IVS", server.url()),
            ("AWS_ENDPOINT_URL_SQS", moto.url().to_owned()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.url().to_owned()),
            (
                "EVENT_DEAD_LETTER_QUEUE_URL",
                urls.dead_letter_queue.clone(),
            ),
            ("LIFECYCLE_EVENT_BUS", "default".into()),
            ("METRICS_NAMESPACE", NAMESPACE.into()),
            ("IVS_RATE_FACTOR", "1".into()),
            ("IVS_RATE_CONCURRENCY", CONTAINERS.to_string()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ("POLICY_CACHE_SECONDS", "0".into()),
        ];
        for name in FUNCTIONS {
            lambda.spawn_instances(
                name,
                &function_binaries().join(name),
                &env,
                CONTAINERS as usize,
            );
        }
        let ivs = ivs_client(&server.url());
        Stack {
            moto,
            lambda,
            emulator,
            ivs,
            queues: urls.queues,
            lifecycle_queue,
            received: Vec::new(),
            server,
        }
    }

    /// Takes what the lifecycle queue holds into `received`, until `done` holds of the events
    /// received so far (60 s at most).
    async fn receive_until(&mut self, what: &str, done: impl Fn(&[Value]) -> bool) {
        for _ in 0..60 {
            let bodies = self.moto.drain(&self.lifecycle_queue).await;
            self.received.extend(bodies);
            if done(&self.events()) {
                return;
            }
        }
        panic!(
            "timed out waiting for {what}; received:\n{}",
            self.received.join("\n")
        );
    }

    /// The lifecycle events received so far, as EventBridge delivers them.
    fn events(&self) -> Vec<Value> {
        self.received
            .iter()
            .map(|body| {
                delivered_event(body, ACCOUNT)
                    .unwrap_or_else(|| panic!("a lifecycle message that is not an event: {body}"))
            })
            .collect()
    }

    /// The metrics every instance of `function` wrote on stdout so far.
    fn figures(&self, function: &str) -> Vec<EmfFigure> {
        read_emf(&self.lambda.stdout(function).join("\n"))
    }

    /// The IVS events the emulator routed to `function` so far.
    fn routed(&self, function: &str) -> usize {
        let routes = Route::default_routes();
        self.emulator
            .events()
            .iter()
            .filter(|e| {
                let detail_type = e["detail-type"].as_str().unwrap_or("");
                routes
                    .iter()
                    .any(|r| r.function == function && r.matches(detail_type))
            })
            .count()
    }
}

/// Polls `check` until it holds (60 s at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn of_kind<'a>(events: &'a [Value], detail_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["detail-type"] == detail_type)
        .collect()
}

fn count(events: &[Value], detail_type: &str) -> usize {
    of_kind(events, detail_type).len()
}

/// How many events of each kind.
fn kinds(events: &[Value]) -> BTreeMap<&str, usize> {
    let mut kinds = BTreeMap::new();
    for event in events {
        *kinds
            .entry(event["detail-type"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    kinds
}

fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// The envelope's `time`: the fact's time in whole seconds, as EventBridge renders it.
fn whole_seconds(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The sum of the values of `name` written with exactly `dims`, over every EMF document
/// (`None`: never written).
fn total(figures: &[EmfFigure], name: &str, dims: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<&EmfFigure> = figures
        .iter()
        .filter(|f| f.name == name && f.has_dimensions(dims))
        .collect();
    (!matching.is_empty()).then(|| matching.iter().flat_map(|f| &f.values).sum())
}

/// Every value of `name` written with exactly `dims`.
fn values(figures: &[EmfFigure], name: &str, dims: &[(&str, &str)]) -> Vec<f64> {
    figures
        .iter()
        .filter(|f| f.name == name && f.has_dimensions(dims))
        .flat_map(|f| f.values.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_and_its_recording_become_lifecycle_events_and_metrics() {
    let mut stack = Stack::start().await;
    let mut secrets: HashSet<String> = HashSet::new();

    // A channel that records to S3 and rotates its key after each stream.
    let recording = stack
        .ivs
        .create_recording_configuration()
        .name("e2e-lifecycle-recording")
        .destination_configuration(
            DestinationConfiguration::builder()
                .s3(S3DestinationConfiguration::builder()
                    .bucket_name("example-recordings-111122223333")
                    .build()
                    .unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let recording_arn = recording
        .recording_configuration()
        .unwrap()
        .arn()
        .to_owned();
    let created = channel_request(
        &stack.ivs,
        "e2e-lifecycle",
        &[(tags::ROTATE_KEY_ON, "stream-end")],
    )
    .recording_configuration_arn(&recording_arn)
    .send()
    .await
    .unwrap();
    let channel = created.channel().unwrap().arn().unwrap().to_owned();
    let playback_url = created
        .channel()
        .unwrap()
        .playback_url()
        .unwrap()
        .to_owned();
    if let Some(passphrase) = created
        .channel()
        .and_then(|c| c.srt())
        .and_then(|s| s.passphrase())
    {
        secrets.insert(passphrase.to_owned());
    }
    let first_key = created.stream_key().unwrap();
    let first_key_arn = first_key.arn().unwrap().to_owned();
    let first_key_value = first_key.value().unwrap().to_owned();
    secrets.insert(first_key_value.clone());

    // 1. Live: a Channel Live, with the channel's playback URL.
    let live = stack.emulator.connect(&first_key_value).unwrap();
    let stream_id = live.stream_id.clone();
    stack
        .receive_until("Channel Live", |events| count(events, "Channel Live") >= 1)
        .await;

    // 2. Offline: the Stream End brings a Channel Offline and, the key being rotated, a
    //    Stream Key Rotated; the recording ends with it (no reconnect window): Recording Ready.
    stack.emulator.disconnect(&channel).unwrap();
    stack
        .receive_until(
            "Channel Offline, Stream Key Rotated and Recording Ready",
            |events| {
                ["Channel Offline", "Stream Key Rotated", "Recording Ready"]
                    .iter()
                    .all(|kind| count(events, kind) >= 1)
            },
        )
        .await;
    // Anything else that would come has come by now (the drain waits for a quiet second).
    let quiet = stack.moto.drain(&stack.lifecycle_queue).await;
    stack.received.extend(quiet);

    let ivs_events = stack.emulator.events();
    let ivs_event = |name: &str| -> Value {
        ivs_events
            .iter()
            .find(|e| {
                e["resources"][0] == channel.as_str()
                    && (e["detail"]["event_name"] == name
                        || e["detail"]["recording_status"] == name)
            })
            .unwrap_or_else(|| panic!("the emulator emitted no {name}"))
            .clone()
    };
    let stream_start = ivs_event("Stream Start");
    let stream_end = ivs_event("Stream End");
    let recording_end = ivs_event("Recording End");

    let events = stack.events();
    for event in &events {
        if let Err(problems) = validate_lifecycle_event(event) {
            panic!("{problems}\n{event:#}");
        }
        assert_eq!(event["source"], "ivs-automation");
        assert_eq!(event["account"], ACCOUNT);
        assert_eq!(event["region"], "us-west-2");
        assert_eq!(event["resources"], serde_json::json!([channel]), "{event}");
    }
    // These four facts and nothing else (how many times each: at the end, when every record
    // has been handled).
    assert_eq!(
        kinds(&events).keys().copied().collect::<Vec<_>>(),
        [
            "Channel Live",
            "Channel Offline",
            "Recording Ready",
            "Stream Key Rotated"
        ],
        "{events:#?}"
    );

    let live_event = of_kind(&events, "Channel Live")[0];
    let d = &live_event["detail"];
    assert_eq!(d["id"], format!("channel-live:{channel}:{stream_id}"));
    assert_eq!(d["channelArn"], channel.as_str());
    assert_eq!(d["channelName"], "e2e-lifecycle");
    assert_eq!(d["streamId"], stream_id.as_str());
    assert_eq!(d["playbackUrl"], playback_url.as_str());
    assert_eq!(time(&d["startTime"]), time(&stream_start["time"]));
    assert_eq!(
        live_event["time"],
        whole_seconds(time(&d["startTime"])),
        "the event's time is when the stream started"
    );

    let offline_event = of_kind(&events, "Channel Offline")[0];
    let d = &offline_event["detail"];
    assert_eq!(d["id"], format!("channel-offline:{channel}:{stream_id}"));
    assert_eq!(d["streamId"], stream_id.as_str());
    assert_eq!(time(&d["endTime"]), time(&stream_end["time"]));
    assert!(
        !d["startTime"].is_null(),
        "IVS still knows the session: {d}"
    );
    let (start, end) = (time(&d["startTime"]), time(&d["endTime"]));
    assert!(
        (start - time(&stream_start["time"]))
            .num_milliseconds()
            .abs()
            < 1000,
        "the session's start is the stream's: {d}"
    );
    let duration = d["durationSeconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("Channel Offline without a duration: {d}"));
    assert_eq!(duration, (end - start).num_milliseconds() as f64 / 1000.0);
    assert!(
        duration > 0.5,
        "the stream was live for over a second: {duration}"
    );
    assert_eq!(offline_event["time"], whole_seconds(end));

    let keys = stack
        .ivs
        .list_stream_keys()
        .channel_arn(&channel)
        .send()
        .await
        .unwrap();
    let new_key_arn = keys.stream_keys()[0].arn().unwrap().to_owned();
    assert_eq!(keys.stream_keys().len(), 1);
    assert_ne!(new_key_arn, first_key_arn, "the key was rotated");
    let new_key_value = stack
        .ivs
        .get_stream_key()
        .arn(&new_key_arn)
        .send()
        .await
        .unwrap()
        .stream_key()
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    secrets.insert(new_key_value);
    let rotated_event = of_kind(&events, "Stream Key Rotated")[0];
    let d = &rotated_event["detail"];
    assert_eq!(d["id"], format!("stream-key-rotated:{new_key_arn}"));
    assert_eq!(d["keyArn"], new_key_arn.as_str());
    assert_eq!(d["revokedKeyArns"], serde_json::json!([first_key_arn]));
    assert_eq!(d["streamId"], stream_id.as_str());
    assert_eq!(d["trigger"], "stream_end");

    let ready_event = of_kind(&events, "Recording Ready")[0];
    let d = &ready_event["detail"];
    let r = &recording_end["detail"];
    let session = r["recording_session_id"].as_str().unwrap();
    let bucket = r["recording_s3_bucket_name"].as_str().unwrap();
    let prefix = r["recording_s3_key_prefix"].as_str().unwrap();
    assert_eq!(bucket, "example-recordings-111122223333");
    assert_eq!(d["id"], format!("recording-ready:{channel}:{session}"));
    assert_eq!(d["recordingSessionId"], session);
    assert_eq!(d["streamIds"], serde_json::json!([stream_id]));
    assert_eq!(d["durationMs"], r["recording_duration_ms"]);
    assert_eq!(
        d["masterPlaylistS3Uri"],
        format!("s3://{bucket}/{prefix}/media/hls/master.m3u8")
    );
    assert_eq!(
        d["masterPlaylistUrl"],
        format!("https://{bucket}.s3.us-west-2.amazonaws.com/{prefix}/media/hls/master.m3u8")
    );
    assert_eq!(
        ready_event["time"],
        whole_seconds(time(&recording_end["time"]))
    );

    // 3. EventBridge delivers at least once: the Stream End again (as its SQS target may send
    //    it twice) gives the same facts again, under the same ids; the key is not rotated
    //    again (the second Stream Key Rotated names the key the first one made).
    let sent = stack
        .moto
        .sqs()
        .send_message()
        .queue_url(&stack.queues["stream-events"])
        .message_body(stream_end.to_string())
        .send()
        .await
        .unwrap();
    assert!(sent.message_id().is_some());
    stack
        .receive_until("the Stream End's facts again", |events| {
            count(events, "Channel Offline") >= 2 && count(events, "Stream Key Rotated") >= 2
        })
        .await;
    let quiet = stack.moto.drain(&stack.lifecycle_queue).await;
    stack.received.extend(quiet);
    let events = stack.events();
    for event in &events {
        if let Err(problems) = validate_lifecycle_event(event) {
            panic!("{problems}\n{event:#}");
        }
    }
    let offline = of_kind(&events, "Channel Offline");
    for copy in &offline[1..] {
        assert_eq!(
            copy["detail"], offline[0]["detail"],
            "the same fact, the same detail"
        );
    }
    let envelope_ids: HashSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(
        envelope_ids.len(),
        events.len(),
        "EventBridge's own id is per publication"
    );
    for copy in of_kind(&events, "Stream Key Rotated") {
        assert_eq!(
            copy["detail"]["id"],
            format!("stream-key-rotated:{new_key_arn}")
        );
        assert_eq!(copy["detail"]["keyArn"], new_key_arn.as_str());
    }
    let keys_now = stack
        .ivs
        .list_stream_keys()
        .channel_arn(&channel)
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_now
            .stream_keys()
            .iter()
            .filter_map(|k| k.arn())
            .collect::<Vec<_>>(),
        vec![new_key_arn.as_str()],
        "not rotated again"
    );
    // No stream key value (nor the SRT passphrase) anywhere in what the consumer got.
    assert!(secrets.len() >= 2);
    for body in &stack.received {
        assert!(!body.contains("sk_"), "a stream key in {body}");
        for secret in &secrets {
            assert!(!body.contains(secret.as_str()), "a secret in {body}");
        }
    }

    // 4. Once the functions have handled every IVS event and the duplicate: the mapping
    //    deleted every record the emulator sent (each one applied), and the figures, written
    //    at the end of each invocation, count them all.
    assert!(stack.routed("stream-events") >= 4 && stack.routed("recording-events") >= 2);
    let handled = |stack: &Stack, function: &str| {
        total(
            &stack.figures(function),
            EVENTS_HANDLED,
            &[("Function", function)],
        )
        .unwrap_or(0.0) as u64
    };
    let delivery = |stack: &Stack, function: &str| {
        stack
            .emulator
            .stats()
            .deliveries
            .get(&format!("queue:{function}"))
            .cloned()
            .unwrap_or_default()
    };
    // The Stream End the test sent itself.
    let resent = |function: &str| u64::from(function == "stream-events");
    eventually("every record applied and counted", || {
        let done = FUNCTIONS.iter().all(|f| {
            let d = delivery(&stack, f);
            d.sent == stack.routed(f) as u64
                && d.delivered >= d.sent + resent(f)
                && handled(&stack, f) == d.delivered
        });
        async move { done }
    })
    .await;
    // moto's SQS may hand one message to both pollers (SQS delivers at least once too): the
    // facts of such a record are published twice, under the same ids. The exact counts
    // below hold when no record was delivered twice; otherwise they are minimums.
    let twice: u64 = FUNCTIONS
        .iter()
        .map(|f| {
            let d = delivery(&stack, f);
            d.delivered - d.sent - resent(f)
        })
        .sum();
    let once = twice == 0;
    if !once {
        eprintln!("moto handed {twice} record(s) to both pollers: the counts are minimums");
    }
    let expect = |what: &str, actual: Option<f64>, expected: f64| {
        let actual = actual.unwrap_or(0.0);
        if once {
            assert_eq!(actual, expected, "{what}");
        } else {
            assert!(actual >= expected, "{what}: {actual} < {expected}");
        }
    };

    // Every publication reached the consumer's queue, once: as many copies of each fact as
    // the functions logged publishing it; four facts, each once (the re-sent Stream End's
    // two facts twice).
    let quiet = stack.moto.drain(&stack.lifecycle_queue).await;
    stack.received.extend(quiet);
    let events = stack.events();
    let mut published_ids: BTreeMap<String, usize> = BTreeMap::new();
    for function in FUNCTIONS {
        for line in stack.lambda.logs(function) {
            let record: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if record["message"] == "lifecycle event published" {
                let id = record["lifecycle_id"].as_str().unwrap_or_default();
                *published_ids.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    let mut received_ids: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        let id = event["detail"]["id"].as_str().unwrap_or_default();
        *received_ids.entry(id.to_owned()).or_default() += 1;
    }
    assert_eq!(received_ids, published_ids, "published vs received");
    assert_eq!(received_ids.len(), 4, "{received_ids:#?}");
    for (kind, n) in [
        ("Channel Live", 1.0),
        ("Channel Offline", 2.0),
        ("Recording Ready", 1.0),
        ("Stream Key Rotated", 2.0),
    ] {
        expect(kind, kinds(&events).get(kind).map(|n| *n as f64), n);
    }

    let stream_figures = stack.figures("stream-events");
    let recording_figures = stack.figures("recording-events");
    let fs = [("Function", "stream-events")];
    let fr = [("Function", "recording-events")];
    let action = |figures: &[EmfFigure], function: &str, action: &str, outcome: &str| {
        total(
            figures,
            ACTIONS,
            &[
                ("Function", function),
                ("Action", action),
                ("Outcome", outcome),
            ],
        )
    };
    expect(
        "put_metadata delivered",
        action(
            &stream_figures,
            "stream-events",
            "put_metadata",
            "delivered",
        ),
        1.0,
    );
    assert_eq!(
        action(
            &stream_figures,
            "stream-events",
            "rotate_stream_key",
            "rotated"
        ),
        Some(1.0),
        "one rotation"
    );
    expect(
        "rotate_stream_key already_rotated (the duplicate's)",
        action(
            &stream_figures,
            "stream-events",
            "rotate_stream_key",
            "already_rotated",
        ),
        1.0,
    );
    assert!(
        values(&stream_figures, ACTIONS, &[]).is_empty()
            && stream_figures
                .iter()
                .filter(|f| f.name == ACTIONS)
                .all(|f| f.dimensions.iter().all(|(_, v)| v != "failed")),
        "no action failed"
    );

    // IVS calls by operation, against what the emulator served (operations the test itself
    // does not call); and the dimensionless total is the sum of the per-operation counts.
    let stats = stack.emulator.stats();
    for operation in [
        "PutMetadata",
        "CreateStreamKey",
        "DeleteStreamKey",
        "GetStreamSession",
    ] {
        let counted: f64 = FUNCTIONS
            .iter()
            .filter_map(|function| {
                total(
                    &stack.figures(function),
                    IVS_CALLS,
                    &[("Function", function), ("Operation", operation)],
                )
            })
            .sum();
        let served = stats
            .operations
            .get(operation)
            .map(|o| o.requests)
            .unwrap_or(0);
        assert!(served > 0, "the functions called {operation}");
        assert_eq!(counted, served as f64, "IvsCalls of {operation}");
    }
    for (function, figures) in [
        ("stream-events", &stream_figures),
        ("recording-events", &recording_figures),
    ] {
        let by_operation: f64 = figures
            .iter()
            .filter(|f| {
                f.name == IVS_CALLS
                    && f.dimensions.len() == 2
                    && f.dimensions.contains(&("Function".into(), function.into()))
            })
            .flat_map(|f| &f.values)
            .sum();
        assert_eq!(
            total(figures, IVS_CALLS, &[]).unwrap_or(0.0),
            by_operation,
            "{function}: IvsCalls without dimensions"
        );
    }

    // Event age: one value per event handled, from the event's time to its handling's end.
    for (function, figures, dims) in [
        ("stream-events", &stream_figures, &fs),
        ("recording-events", &recording_figures, &fr),
    ] {
        let ages = values(figures, EVENT_AGE, dims);
        assert_eq!(
            ages.len() as u64,
            handled(&stack, function),
            "{function}: {ages:?}"
        );
        assert!(
            ages.iter().all(|age| (0.0..120_000.0).contains(age)),
            "{function}: {ages:?}"
        );
        assert_eq!(total(figures, EVENTS_DEAD_LETTERED, dims), None);
        assert_eq!(total(figures, LIFECYCLE_PUBLISH_FAILED, dims), None);
    }
    let published = |figures: &[EmfFigure], function: &str, kind: &str| {
        total(
            figures,
            LIFECYCLE_PUBLISHED,
            &[("Function", function), ("Kind", kind)],
        )
    };
    // As many as were received.
    for (function, figures, kind) in [
        ("stream-events", &stream_figures, "Channel Live"),
        ("stream-events", &stream_figures, "Channel Offline"),
        ("stream-events", &stream_figures, "Stream Key Rotated"),
        ("recording-events", &recording_figures, "Recording Ready"),
    ] {
        assert_eq!(
            published(figures, function, kind),
            Some(count(&events, kind) as f64),
            "LifecycleEventsPublished of {kind}"
        );
    }

    // Only the catalog's metrics, with its dimension sets, low-cardinality: no ARN, no id.
    let channel_id = channel.rsplit('/').next().unwrap();
    for (function, figures) in [
        ("stream-events", &stream_figures),
        ("recording-events", &recording_figures),
    ] {
        assert!(!figures.is_empty(), "{function} wrote no metrics");
        for f in figures.iter() {
            let names: Vec<&str> = f.dimensions.iter().map(|(n, _)| n.as_str()).collect();
            assert!(catalog::allows(&f.name, &names), "{function}: {f:?}");
            for (_, value) in &f.dimensions {
                assert!(
                    !value.contains("arn:")
                        && !value.contains(channel_id)
                        && !value.contains("st-"),
                    "{function}: a high-cardinality dimension in {f:?}"
                );
            }
        }
    }
    // Every EMF document in the namespace set, on stdout only.
    for function in FUNCTIONS {
        let emf: Vec<Value> = stack
            .lambda
            .stdout(function)
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.pointer("/_aws/CloudWatchMetrics").is_some())
            .collect();
        assert!(!emf.is_empty());
        for doc in &emf {
            assert_eq!(
                doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE,
                "{doc}"
            );
        }
        let everywhere = stack
            .lambda
            .logs(function)
            .iter()
            .filter(|l| l.contains("\"CloudWatchMetrics\""))
            .count();
        assert_eq!(everywhere, emf.len(), "{function}: EMF lines on stderr");
    }

    // Nothing was dead-lettered.
    let dead = stack.emulator.queue_dead_letters().await.unwrap();
    assert!(dead.is_empty(), "{dead:#?}");
    println!(
        "{}",
        serde_json::json!({
            "figures": "lifecycle",
            "lifecycleEvents": stack.received.len(),
            "emfFigures": stream_figures.len() + recording_figures.len(),
        })
    );
    stack.server.shutdown().await.unwrap();
}
