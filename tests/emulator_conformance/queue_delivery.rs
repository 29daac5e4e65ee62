//! Queued delivery (`ivs_emulator::QueueTarget`): EventBridge's SQS target and Lambda's SQS
//! event source mapping, over moto's SQS, invoking a fake Invoke API (an axum server in the
//! test that records every invocation and answers as each test says). Each test starts its own
//! moto, emulator and fake function on loopback ports the OS picks.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsEvent;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ivs_emulator::{Config, Emulator, QueueTarget, RateQuotas, Route, Server, Target};
use serde_json::{json, Value};
use test_support::moto::Moto;

const FUNCTION: &str = "fn-a";

/// One invocation the fake function got.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    /// Per record: the event id in its body, its message id, its ApproximateReceiveCount.
    records: Vec<(String, String, u32)>,
    event: Value,
}

/// What the fake function answers: status, `X-Amz-Function-Error`, body.
type Answer = (StatusCode, Option<&'static str>, String);
type Behaviour = dyn Fn(&[(String, String, u32)], usize) -> Answer + Send + Sync;
/// How long the fake function takes to answer its invocation of that index.
type Delay = dyn Fn(usize) -> Duration + Send + Sync;

/// A fake Lambda Invoke API: records invocations, counts the concurrent ones, answers with
/// `behaviour(records, invocation index)` after `delay(invocation index)`.
struct FakeFunction {
    seen: Arc<Mutex<Vec<Seen>>>,
    max_in_flight: Arc<AtomicUsize>,
    url: String,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeFunction {
    async fn start(delay: Arc<Delay>, behaviour: Arc<Behaviour>) -> FakeFunction {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let handler = {
            let seen = Arc::clone(&seen);
            let max_in_flight = Arc::clone(&max_in_flight);
            move |body: Bytes| {
                let seen = Arc::clone(&seen);
                let in_flight = Arc::clone(&in_flight);
                let max_in_flight = Arc::clone(&max_in_flight);
                let behaviour = Arc::clone(&behaviour);
                let delay = Arc::clone(&delay);
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_flight.fetch_max(now, Ordering::SeqCst);
                    let event: Value = serde_json::from_slice(&body).unwrap();
                    let parsed: SqsEvent = serde_json::from_value(event.clone())
                        .expect("the invocation is an SQS event as aws_lambda_events reads it");
                    let records: Vec<(String, String, u32)> = parsed
                        .records
                        .iter()
                        .map(|r| {
                            let body: Value =
                                serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
                            (
                                body["id"].as_str().unwrap().to_owned(),
                                r.message_id.clone().unwrap(),
                                r.attributes["ApproximateReceiveCount"].parse().unwrap(),
                            )
                        })
                        .collect();
                    let index = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(Seen {
                            at: Instant::now(),
                            records: records.clone(),
                            event,
                        });
                        seen.len() - 1
                    };
                    tokio::time::sleep(delay(index)).await;
                    let (status, function_error, body) = behaviour(&records, index);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let mut response: Response = (status, body).into_response();
                    if let Some(kind) = function_error {
                        response
                            .headers_mut()
                            .insert("x-amz-function-error", kind.parse().unwrap());
                    }
                    response
                }
            }
        };
        let app = axum::Router::new().fallback(axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeFunction {
            seen,
            max_in_flight,
            url,
            _task: task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many times each event id was in an invocation.
    fn deliveries(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for seen in self.seen() {
            for (id, _, _) in seen.records {
                *counts.entry(id).or_default() += 1;
            }
        }
        counts
    }
}

fn no_delay() -> Arc<Delay> {
    Arc::new(|_| Duration::ZERO)
}

fn ok(body: Value) -> Answer {
    (StatusCode::OK, None, body.to_string())
}

fn failures(ids: &[&str]) -> Answer {
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "itemIdentifier": id }))
        .collect();
    ok(json!({ "batchItemFailures": items }))
}

/// An emulator whose every event goes through the queue of [`FUNCTION`].
async fn emulator_with(
    moto: &Moto,
    function: &FakeFunction,
    tune: impl FnOnce(&mut QueueTarget),
) -> (Emulator, Server) {
    let mut target = QueueTarget::new(moto.url(), &function.url, vec![Route::new("*", FUNCTION)]);
    tune(&mut target);
    let emulator = Emulator::new(Config {
        seed: 11,
        rate_quotas: RateQuotas::off(),
        targets: vec![Target::Queue(target)],
        ..Config::default()
    });
    emulator
        .start_queues()
        .await
        .expect("the queues are set up");
    let server = emulator
        .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    (emulator, server)
}

/// Emits `count` account-level limit breaches (one event each, no channel needed): their ids.
fn emit(emulator: &Emulator, count: usize) -> Vec<String> {
    let before = emulator.events().len();
    for _ in 0..count {
        emulator.breach(None, "Concurrent Broadcasts").unwrap();
    }
    emulator.events()[before..]
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_failure_leaves_exactly_the_listed_records() {
    let moto = Moto::start();
    // Fails, on their first receive, the records whose event is one of the odd ones emitted.
    let odd: Arc<Mutex<Vec<String>>> = Arc::default();
    let behaviour: Arc<Behaviour> = {
        let odd = Arc::clone(&odd);
        Arc::new(move |records, _| {
            let odd = odd.lock().unwrap();
            let failed: Vec<&str> = records
                .iter()
                .filter(|(id, _, count)| *count == 1 && odd.contains(id))
                .map(|(_, message_id, _)| message_id.as_str())
                .collect();
            if failed.is_empty() {
                // Null: every record succeeded.
                (StatusCode::OK, None, "null".to_owned())
            } else {
                failures(&failed)
            }
        })
    };
    let function = FakeFunction::start(no_delay(), behaviour).await;
    let (emulator, _server) = emulator_with(&moto, &function, |t| {
        t.visibility_timeout = Duration::from_secs(2);
        t.batching_window = Duration::from_millis(300);
        t.max_concurrency = 1;
    })
    .await;
    let urls = emulator.queue_urls().unwrap();
    assert_eq!(
        urls.queues[FUNCTION],
        format!("{}/111122223333/fn-a-events", moto.url())
    );
    assert_eq!(
        urls.dead_letter_queue,
        format!("{}/111122223333/failed-events", moto.url())
    );

    *odd.lock().unwrap() = Vec::new();
    let ids = emit(&emulator, 6);
    let failing: Vec<String> = ids.iter().skip(1).step_by(2).cloned().collect();
    *odd.lock().unwrap() = failing.clone();

    // The failed records come back after their visibility timeout (2 s), once.
    wait_until(
        "every record delivered",
        Duration::from_secs(20),
        async || emulator.stats().deliveries[&format!("queue:{FUNCTION}")].delivered == 6,
    )
    .await;
    assert!(emulator.queues_idle().await);
    let deliveries = function.deliveries();
    for id in &ids {
        let expected = if failing.contains(id) { 2 } else { 1 };
        assert_eq!(deliveries[id], expected, "{id}: {deliveries:?}");
    }
    // A record listed as failed came back with a second receive, no sooner than its
    // visibility timeout.
    let seen = function.seen();
    let first_at = seen[0].at;
    for invocation in &seen {
        for (id, _, count) in &invocation.records {
            if *count == 2 {
                assert!(failing.contains(id));
                assert!(invocation.at - first_at >= Duration::from_millis(1500));
            }
        }
    }
    let stats = &emulator.stats().deliveries[&format!("queue:{FUNCTION}")];
    assert_eq!(stats.sent, 6);
    assert_eq!(stats.records_failed, 3);
    assert_eq!(stats.batches_failed, 0);
    assert_eq!(stats.invocations, seen.len() as u64);

    // The invocation is the SQS event Lambda builds, its bodies the events as emitted.
    let record = &seen[0].event["Records"][0];
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(
        record["eventSourceARN"],
        format!("arn:aws:sqs:us-west-2:111122223333:{FUNCTION}-events")
    );
    assert_eq!(record["awsRegion"], "us-west-2");
    assert_eq!(record["messageAttributes"], json!({}));
    for key in [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(record["attributes"][key].is_string(), "{key}: {record}");
    }
    let body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
    let emitted = emulator
        .events()
        .into_iter()
        .find(|e| e["id"] == body["id"])
        .unwrap();
    assert_eq!(body, emitted);
    assert!(emulator.queue_dead_letters().await.unwrap().is_empty());
    assert!(emulator.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_partial_batch_response_fails_the_whole_batch() {
    let moto = Moto::start();
    // First invocation: an itemIdentifier that names no record; second: an empty one; then
    // success.
    let behaviour: Arc<Behaviour> = Arc::new(|_, index| match index {
        0 => failures(&["not-a-message-id"]),
        1 => failures(&[""]),
        _ => ok(json!({ "batchItemFailures": [] })),
    });
    let function = FakeFunction::start(no_delay(), behaviour).await;
    let (emulator, _server) = emulator_with(&moto, &function, |t| {
        t.visibility_timeout = Duration::from_secs(1);
        t.batching_window = Duration::from_millis(500);
        t.max_concurrency = 1;
    })
    .await;
    let ids = emit(&emulator, 3);
    wait_until(
        "every record delivered",
        Duration::from_secs(20),
        async || emulator.stats().deliveries[&format!("queue:{FUNCTION}")].delivered == 3,
    )
    .await;
    let seen = function.seen();
    // Nothing was deleted after the invalid answers: every record came back each time.
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (index, invocation) in seen.iter().enumerate() {
        let mut got: Vec<&String> = invocation.records.iter().map(|(id, _, _)| id).collect();
        got.sort();
        let mut want: Vec<&String> = ids.iter().collect();
        want.sort();
        assert_eq!(got, want);
        assert!(invocation
            .records
            .iter()
            .all(|(_, _, count)| *count == index as u32 + 1));
    }
    let stats = &emulator.stats().deliveries[&format!("queue:{FUNCTION}")];
    assert_eq!(stats.batches_failed, 2);
    assert_eq!(stats.records_failed, 0);
    assert_eq!(stats.invocations, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_invocations_delete_nothing_and_moto_redrives_after_max_receive_count() {
    let moto = Moto::start();
    // A 502, a function error, then an answer too late (the time limit is 300 ms): each fails
    // the whole batch. The SQS server moves the records to failed-events at the 4th receive.
    let behaviour: Arc<Behaviour> = Arc::new(|_, index| match index {
        0 => (StatusCode::BAD_GATEWAY, None, "no function".to_owned()),
        _ => (
            StatusCode::OK,
            Some("Unhandled"),
            json!({"errorType": "Boom", "errorMessage": "boom"}).to_string(),
        ),
    });
    let function = FakeFunction::start(
        Arc::new(|index| {
            if index == 2 {
                Duration::from_millis(800)
            } else {
                Duration::ZERO
            }
        }),
        behaviour,
    )
    .await;
    let (emulator, _server) = emulator_with(&moto, &function, |t| {
        t.visibility_timeout = Duration::from_secs(1);
        t.batching_window = Duration::from_millis(300);
        t.max_concurrency = 1;
        t.max_receive_count = 3;
        t.invocation_timeout = Duration::from_millis(300);
    })
    .await;
    let ids = emit(&emulator, 2);
    let mut dead = Vec::new();
    wait_until(
        "both records in failed-events",
        Duration::from_secs(30),
        async || {
            dead = emulator.queue_dead_letters().await.unwrap();
            dead.len() == 2
        },
    )
    .await;
    let mut dead_ids: Vec<String> = dead
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    dead_ids.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(dead_ids, want);
    // Read without consuming: still there.
    assert_eq!(emulator.queue_dead_letters().await.unwrap().len(), 2);
    wait_until(
        "the function queue idle",
        Duration::from_secs(10),
        async || emulator.queues_idle().await,
    )
    .await;
    // Each record was received (and invoked with) exactly max_receive_count times.
    let deliveries = function.deliveries();
    for id in &ids {
        assert_eq!(deliveries[id], 3, "{deliveries:?}");
    }
    let stats = &emulator.stats().deliveries[&format!("queue:{FUNCTION}")];
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.batches_failed, stats.invocations);
    assert!(stats.invocations >= 3);
    // The emulator's own dead letters are for events it could not send: none here.
    assert!(emulator.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_and_batching_window_are_respected() {
    let moto = Moto::start();
    let function = FakeFunction::start(
        no_delay(),
        Arc::new(|_, _| (StatusCode::OK, None, String::new())),
    )
    .await;

    // At most 4 records per invocation.
    let (emulator, _server) = emulator_with(&moto, &function, |t| {
        t.batch_size = 4;
        t.batching_window = Duration::from_millis(300);
        t.max_concurrency = 1;
    })
    .await;
    emit(&emulator, 10);
    wait_until(
        "10 records delivered",
        Duration::from_secs(20),
        async || emulator.stats().deliveries[&format!("queue:{FUNCTION}")].delivered == 10,
    )
    .await;
    let sizes: Vec<usize> = function.seen().iter().map(|s| s.records.len()).collect();
    assert!(sizes.iter().all(|&n| (1..=4).contains(&n)), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 10);
    assert!(sizes.contains(&4), "{sizes:?}");
    drop(emulator);

    // A 1.5 s window gathers what arrives within it into one invocation of 25 records (more
    // than one ReceiveMessage can return).
    let moto = Moto::start();
    let function = FakeFunction::start(
        no_delay(),
        Arc::new(|_, _| (StatusCode::OK, None, "{}".to_owned())),
    )
    .await;
    let (emulator, _server) = emulator_with(&moto, &function, |t| {
        t.batch_size = 100;
        t.batching_window = Duration::from_millis(1500);
        t.max_concurrency = 1;
    })
    .await;
    let start = Instant::now();
    emit(&emulator, 15);
    tokio::time::sleep(Duration::from_millis(400)).await;
    emit(&emulator, 10);
    wait_until(
        "25 records delivered",
        Duration::from_secs(20),
        async || emulator.stats().deliveries[&format!("queue:{FUNCTION}")].delivered == 25,
    )
    .await;
    let seen = function.seen();
    assert_eq!(
        seen.len(),
        1,
        "{:?}",
        seen.iter().map(|s| s.records.len()).collect::<Vec<_>>()
    );
    assert_eq!(seen[0].records.len(), 25);
    let waited = seen[0].at - start;
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_bounds_the_concurrent_invocations_and_pollers_stop_with_the_emulator() {
    let moto = Moto::start();
    let function = FakeFunction::start(
        Arc::new(|_| Duration::from_millis(300)),
        Arc::new(|_, _| (StatusCode::OK, None, String::new())),
    )
    .await;
    let (emulator, server) = emulator_with(&moto, &function, |t| {
        t.batch_size = 1;
        t.batching_window = Duration::ZERO;
        t.max_concurrency = 3;
    })
    .await;
    emit(&emulator, 12);
    wait_until(
        "12 records delivered",
        Duration::from_secs(20),
        async || emulator.stats().deliveries[&format!("queue:{FUNCTION}")].delivered == 12,
    )
    .await;
    assert_eq!(function.max_in_flight.load(Ordering::SeqCst), 3);
    assert!(function.seen().iter().all(|s| s.records.len() == 1));
    assert!(emulator.queues_idle().await);

    // The control API names the queues.
    let answer = http_get(&server.url(), "/_emulator/queues").await;
    let urls = emulator.queue_urls().unwrap();
    assert_eq!(
        answer,
        json!({ "queues": { FUNCTION: urls.queues[FUNCTION] }, "deadLetterQueue": urls.dead_letter_queue })
    );

    // Once the emulator is gone, its pollers are: a message sent now stays in the queue. (A
    // long poll already waiting in moto when the emulator went still takes a message: wait
    // for those to end first.)
    server.shutdown().await.unwrap();
    drop(emulator);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let invocations = function.seen().len();
    let sqs = moto.sqs();
    sqs.send_message()
        .queue_url(&urls.queues[FUNCTION])
        .message_body(json!({ "id": "after" }).to_string())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(function.seen().len(), invocations);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&urls.queues[FUNCTION])
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attributes.attributes().unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages],
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_sqs_server_events_are_dead_lettered_and_set_up_fails_loudly() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let target = QueueTarget::new(&closed, &closed, vec![Route::new("*", FUNCTION)]);
    let emulator = Emulator::new(Config {
        seed: 3,
        targets: vec![Target::Queue(target)],
        ..Config::default()
    });
    let error = emulator.start_queues().await.unwrap_err();
    assert!(error.contains("CreateQueue"), "{error}");
    assert!(emulator.queue_urls().is_none());
    emit(&emulator, 1);
    wait_until(
        "the event dead-lettered",
        Duration::from_secs(20),
        async || !emulator.dead_letters().is_empty(),
    )
    .await;
    let dead = &emulator.dead_letters()[0];
    assert_eq!(dead.target, format!("queue:{FUNCTION}"));
    assert!(!emulator.queues_idle().await);
}

/// A burst of 300 events sent, received in batches of 10 and deleted through moto, every one
/// delivered, timed (printed: `--nocapture`). moto takes about 10 ms per SendMessage, so
/// 1,000 events take about 13 s (emulator/README.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_events_goes_through_moto() {
    const BURST: u64 = 300;
    let moto = Moto::start();
    let function = FakeFunction::start(
        no_delay(),
        Arc::new(|_, _| (StatusCode::OK, None, String::new())),
    )
    .await;
    let (emulator, _server) = emulator_with(&moto, &function, |t| {
        t.batching_window = Duration::from_millis(100);
    })
    .await;
    let start = Instant::now();
    emit(&emulator, BURST as usize);
    wait_until("the burst sent", Duration::from_secs(60), async || {
        emulator.stats().deliveries[&format!("queue:{FUNCTION}")].sent == BURST
    })
    .await;
    let sent = start.elapsed();
    wait_until("the burst delivered", Duration::from_secs(60), async || {
        emulator.stats().deliveries[&format!("queue:{FUNCTION}")].delivered == BURST
    })
    .await;
    let elapsed = start.elapsed();
    let stats = &emulator.stats().deliveries[&format!("queue:{FUNCTION}")];
    println!(
        "{BURST} events through moto's SQS: {elapsed:?} ({sent:?} to send them), {} invocations",
        stats.invocations
    );
    assert_eq!(stats.sent, BURST);
    let deliveries = function.deliveries();
    assert_eq!(deliveries.len() as u64, BURST);
    // At least once: two pollers' receives at the same moment can both get a message in
    // moto (as, rarely, in SQS).
    let duplicates = deliveries.values().filter(|&&n| n > 1).count();
    println!("{duplicates} events delivered more than once");
}

/// A GET on the emulator's control API, as JSON.
async fn http_get(base: &str, path: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap()
}
