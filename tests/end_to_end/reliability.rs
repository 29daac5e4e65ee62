//! Reliability through the whole pipeline, on the event path the template deploys: the
//! emulator emits IVS's events and delivers them as EventBridge's SQS target and Lambda's
//! SQS event source mapping do (`ivs_emulator::QueueTarget` over moto's SQS: one queue per
//! function, batches of up to 10 gathered within 1 s, `ReportBatchItemFailures`, at most
//! [`CONTAINERS`] invocations at once, redrive to `failed-events` after 20 receives) to the
//! real `stream-events` and `recording-events` binaries, [`CONTAINERS`] containers each, in
//! the real runtime loop, which call the emulator with IVS's rate quotas on (factor
//! [`RATE_FACTOR`], the functions' budgets alike).
//!
//! - With 20 % of IVS's answers faulty (429, 500, 503) and added latency, every event ends
//!   either applied or dead-lettered: none is lost, and a stream's key is rotated at most
//!   once (exactly once when its end was applied). What is dead-lettered is only what cannot
//!   be applied: a transient failure goes back to the queue (the function's growing
//!   visibility timeout) until it is applied.
//! - With every event delivered twice in shuffled order (the test sends them to the queue
//!   itself, as EventBridge may: at least once, in any order): exactly one rotation per
//!   stream, suspensions idempotent, no error.
//!
//! Sizes and seed: `RELIABILITY_CHANNELS` (default 8), `RELIABILITY_SEED` (default 7) and
//! `RELIABILITY_FAULT_PERCENT` (default 20);
//! `scripts/reliability.sh` runs larger ones and records the figures each test prints.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ivs::types::StreamKeySummary;
use aws_sdk_ivs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::policy::tags;
use ivs_emulator::{
    Config, DeliveryStats, Emulator, FaultConfig, FaultRule, QueueTarget, RateQuotas, Route,
    SeedSpec, Server, Target,
};
use serde_json::{json, Value};
use test_support::lambda::{function_binaries, Invoked, LocalLambda};
use test_support::moto::Moto;
use test_support::*;

/// Containers of each event function: the event source mapping's `MaximumConcurrency` (the
/// template's `EventConcurrency` default) and the functions' `IVS_RATE_CONCURRENCY`.
const CONTAINERS: u32 = 2;
/// IVS's rate quotas at IVS's own values, in the emulator and in the functions' budgets
/// (`IVS_RATE_FACTOR`).
const RATE_FACTOR: f64 = 1.0;
/// How long the runs wait without any progress (a send, an invocation, a record deleted or
/// returned) before they give up and report what is missing: longer than a record's
/// back-off up to its 8th receive (the function doubles it from 2 s: at most 256 s).
const STALL_LIMIT: Duration = Duration::from_secs(300);

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Lambda's environment (`LocalLambda` clears the rest) and the template's settings, the
/// endpoints pointing at the emulator and at moto.
fn function_env(
    ivs_url: &str,
    sqs_url: &str,
    dead_letter_queue: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-west-2".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY".into()),
        ("AWS_SECRET_ACCESS_KEY", "local-only".into()),
        ("AWS_ENDPOINT_URL_IVS", ivs_url.to_owned()),
        ("AWS_ENDPOINT_URL_SQS", sqs_url.to_owned()),
        ("EVENT_DEAD_LETTER_QUEUE_URL", dead_letter_queue.to_owned()),
        ("IVS_RATE_FACTOR", RATE_FACTOR.to_string()),
        ("IVS_RATE_CONCURRENCY", CONTAINERS.to_string()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("POLICY_CACHE_SECONDS", "0".into()),
    ]
}

/// moto's SQS, the emulator delivering through it, and the functions' containers.
struct Stack {
    moto: Moto,
    lambda: Arc<LocalLambda>,
    /// The Invoke API the emulator calls, in front of `lambda`.
    recorder: Recorder,
    emulator: Emulator,
    server: Server,
    /// Each function's queue URL.
    queues: HashMap<String, String>,
    dead_letter_queue: String,
}

/// Starts moto, the emulator (IVS's quotas on, `routes` delivered through queues with the
/// template's mapping and queue settings) and [`CONTAINERS`] containers of each of
/// `functions`.
async fn queued_stack(seed: u64, routes: Vec<Route>, functions: &[&str]) -> Stack {
    let moto = Moto::start();
    let lambda = Arc::new(LocalLambda::start().await);
    let recorder = Recorder::start(Arc::clone(&lambda)).await;
    let mut target = QueueTarget::new(moto.url(), &recorder.url, routes);
    // The template's: batches of 10 within 1 s, visibility timeout 180 s, redrive after 20
    // receives (QueueTarget's defaults); its stream-events timeout of 30 s, which is also the
    // deadline LocalLambda gives each invocation.
    target.max_concurrency = CONTAINERS;
    target.invocation_timeout = Duration::from_secs(30);
    assert_eq!(
        (
            target.batch_size,
            target.batching_window,
            target.visibility_timeout,
            target.max_receive_count
        ),
        (10, Duration::from_secs(1), Duration::from_secs(180), 20)
    );
    let (emulator, server) = start_emulator_with(Config {
        seed,
        rate_quotas: RateQuotas::scaled(RATE_FACTOR),
        targets: vec![Target::Queue(target)],
        ..Config::default()
    })
    .await;
    let urls = emulator
        .start_queues()
        .await
        .expect("the queues are set up in moto");
    let env = function_env(&server.url(), moto.url(), &urls.dead_letter_queue);
    for name in functions {
        lambda.spawn_instances(
            name,
            &function_binaries().join(name),
            &env,
            CONTAINERS as usize,
        );
    }
    Stack {
        queues: urls.queues.into_iter().collect(),
        dead_letter_queue: urls.dead_letter_queue,
        moto,
        lambda,
        recorder,
        emulator,
        server,
    }
}

/// One invocation of a function by the event source mapping: its records (message id, the
/// event id in the body) and the message ids the function answered as failed (`None`: the
/// invocation failed whole).
struct Invocation {
    records: Vec<(String, String)>,
    failed: Option<HashSet<String>>,
}

impl Invocation {
    /// The records the function acknowledged (the mapping deletes them).
    fn acknowledged(&self) -> impl Iterator<Item = &(String, String)> {
        self.records.iter().filter(|(message_id, _)| {
            self.failed
                .as_ref()
                .is_some_and(|f| !f.contains(message_id))
        })
    }
}

/// The Lambda Invoke API in front of the local Lambda service: it invokes the function as
/// the service's own Invoke API does, and records what each invocation carried and what the
/// function answered, so that the runs count applied events by id (the emulator counts
/// deletions, and moto may hand one message to both pollers). While closed
/// ([`Recorder::hold`]), it holds the invocations: nothing is deleted meanwhile.
struct Recorder {
    url: String,
    invocations: Arc<Mutex<Vec<Invocation>>>,
    open: tokio::sync::watch::Sender<bool>,
    _task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start(lambda: Arc<LocalLambda>) -> Recorder {
        let invocations: Arc<Mutex<Vec<Invocation>>> = Arc::default();
        let (open, gate) = tokio::sync::watch::channel(true);
        let handler = {
            let invocations = Arc::clone(&invocations);
            move |Path(name): Path<String>, body: Bytes| {
                let (lambda, invocations, mut gate) =
                    (Arc::clone(&lambda), Arc::clone(&invocations), gate.clone());
                async move {
                    let _ = gate.wait_for(|open| *open).await;
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let records = event["Records"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|r| {
                            let body: Value =
                                serde_json::from_str(r["body"].as_str().unwrap_or("null"))
                                    .unwrap_or(Value::Null);
                            (
                                r["messageId"].as_str().unwrap_or_default().to_owned(),
                                body["id"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    let (failed, response) = match lambda.invoke(&name, &event).await {
                        Invoked::Ok(answer) => {
                            let failed = answer["batchItemFailures"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                                .collect();
                            (Some(failed), axum::Json(answer).into_response())
                        }
                        Invoked::Err {
                            error_type,
                            error_message,
                        } => {
                            let document =
                                json!({"errorType": error_type, "errorMessage": error_message});
                            let response: Response = (
                                StatusCode::OK,
                                [("x-amz-function-error", "Unhandled")],
                                axum::Json(document),
                            )
                                .into_response();
                            (None, response)
                        }
                    };
                    invocations
                        .lock()
                        .unwrap()
                        .push(Invocation { records, failed });
                    response
                }
            }
        };
        let app = axum::Router::new().route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(handler),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder {
            url,
            invocations,
            open,
            _task: task,
        }
    }

    /// Holds the invocations from now on (`false`), or lets them through (`true`).
    fn hold(&self, held: bool) {
        self.open.send_replace(!held);
    }

    /// How many times the function acknowledged each event id.
    fn acknowledged_events(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for invocation in self.invocations.lock().unwrap().iter() {
            for (_, event_id) in invocation.acknowledged() {
                *counts.entry(event_id.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The message ids the function acknowledged.
    fn acknowledged_messages(&self) -> HashSet<String> {
        self.invocations
            .lock()
            .unwrap()
            .iter()
            .flat_map(|i| i.acknowledged().map(|(m, _)| m.clone()).collect::<Vec<_>>())
            .collect()
    }
}

/// The queue targets' counters, summed over the functions.
fn queued(emulator: &Emulator) -> DeliveryStats {
    let mut sum = DeliveryStats::default();
    for (target, d) in emulator.stats().deliveries {
        if target.starts_with("queue:") {
            sum.sent += d.sent;
            sum.delivered += d.delivered;
            sum.invocations += d.invocations;
            sum.records_failed += d.records_failed;
            sum.batches_failed += d.batches_failed;
            sum.dead_lettered += d.dead_lettered;
            sum.failed_attempts += d.failed_attempts;
        }
    }
    sum
}

/// Waits until `done` or until nothing has moved for [`STALL_LIMIT`] (the checks that
/// follow then fail and say what is missing).
async fn settle(emulator: &Emulator, mut done: impl AsyncFnMut() -> bool) {
    let progress = |e: &Emulator| {
        let d = queued(e);
        d.sent + d.dead_lettered + d.invocations + d.delivered + d.records_failed
    };
    let mut last = (progress(emulator), Instant::now());
    while !done().await && last.1.elapsed() < STALL_LIMIT {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = progress(emulator);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
}

/// One message of the dead-letter queue: the event (its body), and the `ErrorType` and
/// `ErrorMessage` attributes the function sets on what it dead-letters itself (a message
/// moto redrove after `maxReceiveCount` receives has none).
struct FailedEvent {
    event: Value,
    error_type: Option<String>,
    error_message: Option<String>,
}

/// Everything in `failed-events`, read once at the end of a run (received with a long
/// visibility timeout: what is read stays hidden for the rest of the test).
async fn failed_events(moto: &Moto, url: &str) -> Vec<FailedEvent> {
    let sqs = moto.sqs();
    let mut seen = HashSet::new();
    let mut letters = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .expect("failed-events can be read");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return letters;
        }
        for message in messages {
            if !seen.insert(message.message_id.clone().unwrap_or_default()) {
                continue;
            }
            let attribute = |name: &str| {
                message
                    .message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned)
            };
            letters.push(FailedEvent {
                event: serde_json::from_str(message.body().unwrap_or_default())
                    .unwrap_or(Value::Null),
                error_type: attribute("ErrorType"),
                error_message: attribute("ErrorMessage"),
            });
        }
    }
}

/// The tags of a channel whose key is rotated at stream end.
const ROTATING: &[(&str, &str)] = &[(tags::ROTATE_KEY_ON, "stream-end")];

/// The channel's stream keys, as IVS lists them.
async fn keys_of(ivs: &Client, channel: &str) -> Vec<StreamKeySummary> {
    let keys = ivs
        .list_stream_keys()
        .channel_arn(channel)
        .send()
        .await
        .unwrap();
    keys.stream_keys().to_vec()
}

fn records(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Rotations the function reported, per stream id.
fn rotations(records: &[Value]) -> HashMap<String, usize> {
    let mut per_stream = HashMap::new();
    for r in records {
        if r["action"] == "rotate_stream_key" && r["outcome"] == "rotated" {
            *per_stream
                .entry(r["stream_id"].as_str().unwrap_or("").to_owned())
                .or_insert(0) += 1;
        }
    }
    per_stream
}

async fn live_and_end(
    emulator: &Emulator,
    n: u64,
    channel_tags: &[(&str, &str)],
) -> Vec<(String, String)> {
    // The setup itself is not under test: the channels are seeded, beside IVS's rate quotas
    // and any injected fault.
    let seeded = emulator
        .seed_channels(&SeedSpec {
            channels: n as usize,
            name_prefix: "reliability-".to_owned(),
            tags: channel_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..SeedSpec::default()
        })
        .unwrap();
    let mut streams = Vec::new();
    for channel in seeded {
        let live = emulator.connect(&channel.stream_key).unwrap();
        emulator.disconnect(&channel.arn).unwrap();
        streams.push((channel.arn, live.stream_id));
    }
    streams
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_faulty_ivs_answers_no_event_is_lost() {
    let channels = knob("RELIABILITY_CHANNELS", 8);
    let seed = knob("RELIABILITY_SEED", 7);
    let stack = queued_stack(
        seed,
        Route::default_routes(),
        &["stream-events", "recording-events"],
    )
    .await;
    let emulator = &stack.emulator;
    // RELIABILITY_FAULT_PERCENT of the answers are faulty: half throttling, a quarter 500, a
    // quarter 503.
    let rate = knob("RELIABILITY_FAULT_PERCENT", 20) as f64 / 100.0;
    let faults: FaultRule = format!(
        "*:throttle={},error500={},unavailable={},latency_ms=2",
        rate / 2.0,
        rate / 4.0,
        rate / 4.0
    )
    .parse()
    .unwrap();
    emulator.set_faults(FaultConfig {
        rules: vec![faults],
    });
    let started = Instant::now();
    let ivs = ivs_client(&stack.server.url());
    let streams = live_and_end(emulator, channels, ROTATING).await;

    // Wait until every routed event is settled: sent to its queue (or dead-lettered by the
    // emulator after its send failed), and every function queue empty, in-flight and delayed
    // records counted (each record has then been deleted after its invocation, or redriven).
    let routed = emulator.events().len() as u64;
    settle(emulator, async || {
        let d = queued(emulator);
        d.sent + d.dead_lettered >= routed && emulator.queues_idle().await
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    emulator.set_faults(FaultConfig::default());
    // The checks below read IVS back to back: beside its rate quotas, as beside the faults.
    emulator.set_rate_quotas(RateQuotas::off());
    assert!(
        emulator.queues_idle().await,
        "records still in the queues after {STALL_LIMIT:?} without progress"
    );
    let stats = emulator.stats();
    let queue = queued(emulator);
    let events = emulator.events().len() as u64;
    let faults_injected: u64 = stats
        .operations
        .values()
        .map(|o| o.faults.throttle + o.faults.error500 + o.faults.unavailable)
        .sum();
    let requests: u64 = stats.operations.values().map(|o| o.requests).sum();
    let throttled_by_quota: u64 = stats.operations.values().map(|o| o.rate_throttled).sum();

    // Dead-lettered: in failed-events (sent there by the function as permanent, or redriven
    // by moto after maxReceiveCount receives), or the emulator's own (sends that failed).
    let letters = failed_events(&stack.moto, &stack.dead_letter_queue).await;
    let (by_function, redriven): (Vec<&FailedEvent>, Vec<&FailedEvent>) =
        letters.iter().partition(|l| l.error_type.is_some());
    let unsent = emulator.dead_letters();
    let id_of = |event: &Value| event["id"].as_str().unwrap_or_default().to_owned();
    let dead_ids: HashSet<String> = letters
        .iter()
        .map(|l| id_of(&l.event))
        .chain(unsent.iter().map(|d| d.event_id.clone()))
        .collect();
    assert_eq!(
        dead_ids.len(),
        letters.len() + unsent.len(),
        "an event dead-lettered twice"
    );
    // Applied: acknowledged by the function after a successful invocation (the mapping
    // deletes those records), less what it dead-lettered itself (it acknowledges those too).
    // By event id: moto may hand one message to both pollers, and both may be deleted.
    let acknowledged = stack.recorder.acknowledged_events();
    let permanent_ids: HashSet<String> = by_function.iter().map(|l| id_of(&l.event)).collect();
    let applied_ids: HashSet<&String> = acknowledged
        .keys()
        .filter(|id| !permanent_ids.contains(*id))
        .collect();
    let emitted_ids: HashSet<String> = emulator.events().iter().map(id_of).collect();
    assert_eq!(emitted_ids.len() as u64, events);
    assert!(
        applied_ids
            .iter()
            .all(|id| emitted_ids.contains(*id) && !dead_ids.contains(*id)),
        "an event applied that was not emitted, or applied and dead-lettered"
    );
    assert!(dead_ids.is_subset(&emitted_ids));
    let (applied, dead) = (applied_ids.len() as u64, dead_ids.len() as u64);
    let lost = emitted_ids
        .iter()
        .filter(|id| !applied_ids.contains(id) && !dead_ids.contains(*id))
        .count() as u64;
    assert_eq!(
        lost, 0,
        "events neither applied nor dead-lettered: {queue:?}"
    );
    assert_eq!(applied + dead, events);
    assert_eq!(queue.sent + queue.dead_lettered, events, "{queue:?}");
    // Events the function acknowledged more than once (a message both pollers received).
    let acknowledged_again: usize = acknowledged.values().map(|n| n - 1).sum();

    // Only what cannot be applied is dead-lettered. The function dead-letters only permanent
    // failures, with their reason; every fault injected here is transient (429, 500, 503), so
    // nothing may be: a transient failure goes back to the queue until it is applied.
    for letter in &by_function {
        let error_type = letter.error_type.as_deref().unwrap_or_default();
        assert!(
            error_type.starts_with("Permanent."),
            "dead-lettered as {error_type}: {:?}",
            letter.error_message
        );
    }
    assert!(
        by_function.is_empty(),
        "transient faults only, yet dead-lettered as permanent: {:?}",
        by_function
            .iter()
            .map(|l| (&l.error_type, &l.error_message))
            .collect::<Vec<_>>()
    );
    // Redrive takes a record after 20 receives, which the function's back-off (2 s doubling,
    // at most 600 s) spreads over an hour at the least: a record redriven within this run
    // means the back-off did not apply.
    assert!(
        redriven.is_empty(),
        "{} records redriven after maxReceiveCount receives",
        redriven.len()
    );
    // No event was lost before the queue either: moto took every send.
    assert!(unsent.is_empty(), "sends that failed: {unsent:?}");
    // Retries are bounded: no invocation failed whole (no timeout, no crash, no invalid
    // answer); every transient failure was a record returned with its back-off.
    assert_eq!(queue.batches_failed, 0, "{queue:?}");

    // Applied means applied: every stream whose Stream End was applied has its key rotated
    // after it; no stream's key was rotated twice.
    let records = records(&stack.lambda.logs("stream-events"));
    let rotated = rotations(&records);
    let mut applied_ends = 0;
    for (channel, stream_id) in &streams {
        assert!(
            rotated.get(stream_id).copied().unwrap_or(0) <= 1,
            "{stream_id} rotated twice"
        );
        let end = emulator
            .events()
            .into_iter()
            .find(|e| {
                e["resources"][0] == channel.as_str() && e["detail"]["event_name"] == "Stream End"
            })
            .unwrap();
        if dead_ids.contains(end["id"].as_str().unwrap()) {
            continue;
        }
        applied_ends += 1;
        let keys = keys_of(&ivs, channel).await;
        let marker = keys[0]
            .tags()
            .and_then(|t| t.get(domain::rotation::TAG_ROTATED_AFTER_STREAM).cloned());
        assert_eq!(
            marker.as_deref(),
            Some(stream_id.as_str()),
            "{channel}: end applied, key not rotated"
        );
    }
    println!(
        "{}",
        json!({
            "figures": "faults",
            "faultPercent": (rate * 100.0).round(),
            "seed": seed,
            "channels": channels,
            "containers": CONTAINERS,
            "rateFactor": RATE_FACTOR,
            "events": events,
            "ivsRequests": requests,
            "faultsInjected": faults_injected,
            "quotaThrottled": throttled_by_quota,
            "invocations": queue.invocations,
            "recordsReturned": queue.records_failed,
            "batchesFailed": queue.batches_failed,
            "applied": applied,
            "acknowledgedAgain": acknowledged_again,
            "deadLettered": dead,
            "deadLetteredPermanent": by_function.len(),
            "redriven": redriven.len(),
            "unsent": unsent.len(),
            "lost": lost,
            "streamEndsApplied": applied_ends,
            "rotations": rotated.values().sum::<usize>(),
            "seconds": seconds,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_twice_in_shuffled_order_rotates_once_per_stream() {
    let channels = knob("RELIABILITY_CHANNELS", 8);
    let seed = knob("RELIABILITY_SEED", 7);
    // The test is EventBridge here: it sends each event to the queue twice itself, so the
    // emulator routes none of its own events (no event has this detail-type), and only runs
    // the queue and the event source mapping of stream-events.
    let stack = queued_stack(
        seed,
        vec![Route::new("IVS Delivered By The Test", "stream-events")],
        &["stream-events"],
    )
    .await;
    let emulator = &stack.emulator;
    let ivs = ivs_client(&stack.server.url());
    let rotating = live_and_end(emulator, channels, ROTATING).await;
    let suspended = live_and_end(
        emulator,
        channels.div_ceil(4),
        &[
            (tags::SUSPENDED, "true"),
            (tags::ROTATE_KEY_ON, "stream-end"),
        ],
    )
    .await;

    let mut events = emulator.events();
    events.extend(emulator.events());
    let mut rng = fastrand::Rng::with_seed(seed);
    rng.shuffle(&mut events);
    let started = Instant::now();
    // Sent in that order, 10 per SendMessageBatch, while the invocations are held: moto
    // (5.2.5) loses a message sent while it deletes another from the same queue
    // (emulator/README.md), and the mapping deletes records only after their invocation.
    // The pollers receive meanwhile; the held invocations go on once every message is sent.
    stack.recorder.hold(true);
    let sqs = stack.moto.sqs();
    let queue_url = &stack.queues["stream-events"];
    let mut sent_ids = HashSet::new();
    for (batch, chunk) in events.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, event)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("{batch}-{i}"))
                    .message_body(event.to_string())
                    .build()
                    .unwrap()
            })
            .collect();
        let sent = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(sent.failed().is_empty(), "{:?}", sent.failed());
        sent_ids.extend(sent.successful().iter().map(|s| s.message_id().to_owned()));
    }
    stack.recorder.hold(false);
    assert_eq!(sent_ids.len(), events.len());
    settle(emulator, async || {
        sent_ids.is_subset(&stack.recorder.acknowledged_messages()) && emulator.queues_idle().await
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let queue = queued(emulator);
    // Every message sent was acknowledged by the function, and is gone from the queue.
    let missing = sent_ids
        .difference(&stack.recorder.acknowledged_messages())
        .count();
    assert_eq!(missing, 0, "messages never acknowledged: {queue:?}");
    assert!(emulator.queues_idle().await, "{queue:?}");

    let records = records(&stack.lambda.logs("stream-events"));
    let rotated = rotations(&records);
    for (_, stream_id) in &rotating {
        assert_eq!(
            rotated.get(stream_id).copied(),
            Some(1),
            "{stream_id}: rotations"
        );
    }
    // The checks below read IVS back to back: beside its rate quotas.
    emulator.set_rate_quotas(RateQuotas::off());
    for (channel, stream_id) in &suspended {
        assert_eq!(
            rotated.get(stream_id),
            None,
            "a suspended channel got a key"
        );
        let keys = keys_of(&ivs, channel).await;
        assert!(keys.is_empty(), "{channel}: suspended, yet it has a key");
    }
    let errors = records.iter().filter(|r| r["level"] == "ERROR").count();
    assert_eq!(errors, 0, "no error storm");
    let letters = failed_events(&stack.moto, &stack.dead_letter_queue).await;
    assert!(
        letters.is_empty(),
        "nothing here cannot be applied: {:?}",
        letters
            .iter()
            .map(|l| (&l.error_type, &l.error_message))
            .collect::<Vec<_>>()
    );
    println!(
        "{}",
        json!({
            "figures": "duplicates",
            "seed": seed,
            "channels": rotating.len() + suspended.len(),
            "containers": CONTAINERS,
            "rateFactor": RATE_FACTOR,
            "deliveries": events.len(),
            "invocations": queue.invocations,
            "recordsReturned": queue.records_failed,
            "rotations": rotated.values().sum::<usize>(),
            "streamsRotating": rotating.len(),
            "errorLines": errors,
            "seconds": seconds,
        })
    );
}
