//! Queued delivery: EventBridge's SQS target and Lambda's SQS event source mapping, over an
//! SQS server the emulator does not implement (moto's server mode).
//!
//! - **Set-up** (once, on [`Emulator::start_queues`](crate::Emulator::start_queues) or the
//!   first event): the dead-letter queue `failed-events`, then one queue `<function>-events` per
//!   function of the routes, with `VisibilityTimeout` and a `RedrivePolicy` to the dead-letter
//!   queue (CreateQueue is idempotent for the same attributes). A failed set-up is logged as an
//!   error, returned by `start_queues`, and every event meant for the queues is dead-lettered
//!   (`queue:<function>`); the next event tries again.
//! - **The SQS target**: emitting feeds an unbounded channel (never the state lock's business);
//!   one task sends the routed events (`SendMessage`, the event's JSON as the body; up to 8
//!   at a time, so not in order), retrying a failed send twice, then dead-letters it in the
//!   emulator's own dead letters.
//! - **The event source mapping**: `max_concurrency` pollers per function. Each long-polls
//!   (`WaitTimeSeconds` 1) until it holds `batch_size` records or `batching_window` has passed
//!   since the first, invokes the function once with an SQS event as Lambda builds it, and
//!   applies the answer as Lambda does with `ReportBatchItemFailures` ([`records_to_keep`]).
//!   Records not deleted come back after their visibility timeout; redrive to the dead-letter
//!   queue after `maxReceiveCount` receives is the SQS server's.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, QueueAttributeName,
};
use axum::body::Bytes;
use base64::Engine as _;
use hyper::Uri;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch, OnceCell, Semaphore};

use crate::config::QueueTarget;
use crate::delivery::DeliveryLog;
use crate::events::Event;
use crate::invoke::{self, HttpClient};
use crate::stats::DeliveryStats;

/// The dead-letter queue every function queue redrives to.
pub const DEAD_LETTER_QUEUE: &str = "failed-events";

/// Attempts of one SendMessage before the event is dead-lettered (EventBridge retries).
const SEND_ATTEMPTS: u32 = 3;
/// Events being sent at once.
const SEND_CONCURRENCY: usize = 8;
/// Pause between two SendMessage attempts.
const SEND_RETRY_DELAY: Duration = Duration::from_millis(200);
/// A poller's pause after a failed ReceiveMessage.
const RECEIVE_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Time limit of one SQS call (a long poll takes 1 s).
const SQS_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Records per ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch (SQS's limit).
const SQS_BATCH: usize = 10;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The name of a function's queue: `<function>-events`.
pub fn queue_name(function: &str) -> String {
    format!("{function}-events")
}

/// The queues of the queue targets (`GET /_emulator/queues`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueUrls {
    /// Each function's queue URL, by function name.
    pub queues: BTreeMap<String, String>,
    /// The dead-letter queue's URL (`failed-events`).
    pub dead_letter_queue: String,
}

/// A queue as set up.
#[derive(Clone, Debug)]
struct QueueInfo {
    function: String,
    url: String,
    arn: String,
    /// Held around this emulator's SendMessage and DeleteMessageBatch calls to the queue: moto
    /// 5.2.5 rebuilds a queue's message list on delete without its lock, so a message sent
    /// meanwhile is lost (see the README's differences).
    writes: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Setup {
    queues: Vec<QueueInfo>,
    dead_letter_url: String,
}

impl Setup {
    fn urls(&self) -> QueueUrls {
        QueueUrls {
            queues: self
                .queues
                .iter()
                .map(|q| (q.function.clone(), q.url.clone()))
                .collect(),
            dead_letter_queue: self.dead_letter_url.clone(),
        }
    }
}

/// One function's counters: atomics, so that 5,000-event bursts take no lock.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    invocations: AtomicU64,
    delivered: AtomicU64,
    records_failed: AtomicU64,
    batches_failed: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// What the sink, the sender and the pollers share.
struct Shared {
    target: QueueTarget,
    region: String,
    functions: Vec<String>,
    counters: BTreeMap<String, Counters>,
    sqs: aws_sdk_sqs::Client,
    http: HttpClient,
    setup: OnceCell<Setup>,
    /// Events handed to the sender and not yet sent (or dead-lettered).
    pending: AtomicU64,
    /// Closed when the sink (so the emulator) is dropped.
    stop: watch::Receiver<()>,
    log: Arc<DeliveryLog>,
}

/// A queue target: the SQS target and one event source mapping per function.
pub(crate) struct QueueSink {
    shared: Arc<Shared>,
    sender: Mutex<Option<mpsc::UnboundedSender<Event>>>,
    /// Dropping it stops the sender and the pollers.
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for QueueSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueSink")
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

fn sqs_client(endpoint: &str, region: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version_latest()
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            "AKIDIVSEMULATOR",
            "ivs-emulator-fake-secret",
            None,
            None,
            "ivs-emulator",
        ))
        .endpoint_url(endpoint)
        // Retries are the emulator's own (sends) or the pollers' loop (receives).
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                .operation_timeout(SQS_CALL_TIMEOUT)
                .build(),
        )
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

impl QueueSink {
    pub(crate) fn new(target: QueueTarget, region: &str, log: &Arc<DeliveryLog>) -> Self {
        let functions = target.functions();
        let counters = functions
            .iter()
            .map(|f| (f.clone(), Counters::default()))
            .collect();
        let (stop_tx, stop_rx) = watch::channel(());
        let shared = Shared {
            sqs: sqs_client(&target.sqs_endpoint, region),
            region: region.to_owned(),
            functions,
            counters,
            http: invoke::client(),
            setup: OnceCell::new(),
            pending: AtomicU64::new(0),
            stop: stop_rx,
            log: Arc::clone(log),
            target,
        };
        Self {
            shared: Arc::new(shared),
            sender: Mutex::new(None),
            _stop: stop_tx,
        }
    }

    pub(crate) fn target(&self) -> &QueueTarget {
        &self.shared.target
    }

    /// Hands `event` to the sender task (started on first use); never blocks.
    pub(crate) fn send(&self, event: &Event) {
        let functions = self.shared.functions_for(event.detail_type);
        if functions.is_empty() {
            return;
        }
        let mut sender = lock(&self.sender);
        if let Some(tx) = sender.as_ref() {
            self.shared.pending.fetch_add(1, Ordering::SeqCst);
            if tx.send(event.clone()).is_ok() {
                return;
            }
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
            *sender = None;
        }
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime,
            Err(_) => {
                for function in functions {
                    self.shared.log.dead_letter(
                        &target_name(function),
                        event,
                        0,
                        "no tokio runtime to deliver from (emit events from within a runtime)"
                            .to_owned(),
                    );
                }
                return;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(Arc::clone(&self.shared).send_loop(rx));
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        if tx.send(event.clone()).is_err() {
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
        }
        *sender = Some(tx);
    }

    /// Creates the queues (once) and starts the pollers; the queue URLs.
    pub(crate) async fn start(&self) -> Result<QueueUrls, String> {
        Shared::set_up(&self.shared).await.map(Setup::urls)
    }

    /// The queue URLs, once set up.
    pub(crate) fn urls(&self) -> Option<QueueUrls> {
        self.shared.setup.get().map(Setup::urls)
    }

    /// The counters, by target name (`queue:<function>`).
    pub(crate) fn add_stats(&self, stats: &mut BTreeMap<String, DeliveryStats>) {
        for (function, counters) in &self.shared.counters {
            let entry = stats.entry(target_name(function)).or_default();
            entry.sent += counters.sent.load(Ordering::Relaxed);
            entry.invocations += counters.invocations.load(Ordering::Relaxed);
            entry.delivered += counters.delivered.load(Ordering::Relaxed);
            entry.records_failed += counters.records_failed.load(Ordering::Relaxed);
            entry.batches_failed += counters.batches_failed.load(Ordering::Relaxed);
        }
    }

    /// Whether no event waits to be sent and every function queue is empty (visible, in flight
    /// and delayed messages); the dead-letter queue is not looked at.
    pub(crate) async fn idle(&self) -> Result<bool, String> {
        if self.shared.pending.load(Ordering::SeqCst) > 0 {
            return Ok(false);
        }
        let setup = Shared::set_up(&self.shared).await?;
        for queue in &setup.queues {
            let attributes = self
                .shared
                .sqs
                .get_queue_attributes()
                .queue_url(&queue.url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                .send()
                .await
                .map_err(|err| sdk_error("GetQueueAttributes", &queue.url, err))?;
            let count: u64 = attributes
                .attributes()
                .map(|map| {
                    map.values()
                        .map(|v| v.parse::<u64>().unwrap_or(1))
                        .sum::<u64>()
                })
                .unwrap_or(0);
            if count > 0 {
                return Ok(false);
            }
        }
        Ok(self.shared.pending.load(Ordering::SeqCst) == 0)
    }

    /// The dead-letter queue's message bodies (as JSON; a body that is not JSON as a string).
    /// Reads without consuming: receives with a 30 s visibility timeout until the queue answers
    /// no more, then makes every received message visible again at once
    /// (ChangeMessageVisibilityBatch to 0). Each read adds one to the messages'
    /// `ApproximateReceiveCount`; two reads at the same time see each other's hidden messages
    /// as missing.
    pub(crate) async fn dead_letters(&self) -> Result<Vec<Value>, String> {
        let setup = Shared::set_up(&self.shared).await?;
        let sqs = &self.shared.sqs;
        let url = &setup.dead_letter_url;
        let mut bodies = Vec::new();
        let mut handles = Vec::new();
        let mut seen = HashSet::new();
        let result = async {
            loop {
                let out = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(SQS_BATCH as i32)
                    .visibility_timeout(30)
                    .wait_time_seconds(0)
                    .send()
                    .await
                    .map_err(|err| sdk_error("ReceiveMessage", url, err))?;
                let messages = out.messages.unwrap_or_default();
                if messages.is_empty() {
                    return Ok::<(), String>(());
                }
                for message in messages {
                    if let Some(handle) = message.receipt_handle {
                        handles.push(handle);
                    }
                    let id = message.message_id.unwrap_or_default();
                    if seen.insert(id) {
                        let body = message.body.unwrap_or_default();
                        bodies.push(serde_json::from_str(&body).unwrap_or(Value::String(body)));
                    }
                }
            }
        }
        .await;
        for chunk in handles.chunks(SQS_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .build()
                        .map_err(|err| err.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            sqs.change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| sdk_error("ChangeMessageVisibilityBatch", url, err))?;
        }
        result.map(|()| bodies)
    }
}

fn target_name(function: &str) -> String {
    format!("queue:{function}")
}

fn sdk_error<E, R>(operation: &str, queue: &str, err: aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    format!(
        "{operation} on {queue} failed: {}",
        aws_sdk_sqs::error::DisplayErrorContext(err)
    )
}

impl Shared {
    fn functions_for(&self, detail_type: &str) -> Vec<&str> {
        let mut functions: Vec<&str> = Vec::new();
        for route in self.target.routes.iter().filter(|r| r.matches(detail_type)) {
            if !functions.contains(&route.function.as_str()) {
                functions.push(&route.function);
            }
        }
        functions
    }

    /// The queues, created on first success; the pollers start then.
    async fn set_up(shared: &Arc<Shared>) -> Result<&Setup, String> {
        shared
            .setup
            .get_or_try_init(|| async {
                let setup = shared.create_queues().await.map_err(|error| {
                    tracing::error!(sqs_endpoint = %shared.target.sqs_endpoint, error = %error, "cannot set up the event queues");
                    error
                })?;
                tracing::info!(queues = ?setup.urls(), "event queues ready");
                for queue in &setup.queues {
                    let uri = invoke::invocation_uri(&shared.target.lambda_endpoint, &queue.function)?;
                    for _ in 0..shared.target.max_concurrency.max(1) {
                        tokio::spawn(Arc::clone(shared).poll(queue.clone(), uri.clone()));
                    }
                }
                Ok(setup)
            })
            .await
    }

    async fn create_queue(
        &self,
        name: &str,
        attributes: &[(QueueAttributeName, String)],
    ) -> Result<(String, String), String> {
        let mut request = self.sqs.create_queue().queue_name(name);
        for (key, value) in attributes {
            request = request.attributes(key.clone(), value);
        }
        let url = request
            .send()
            .await
            .map_err(|err| sdk_error("CreateQueue", name, err))?
            .queue_url
            .ok_or_else(|| format!("CreateQueue {name} answered no QueueUrl"))?;
        let arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|err| sdk_error("GetQueueAttributes", &url, err))?
            .attributes
            .and_then(|mut map| map.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| format!("GetQueueAttributes on {url} answered no QueueArn"))?;
        Ok((url, arn))
    }

    async fn create_queues(&self) -> Result<Setup, String> {
        let (dead_letter_url, dead_letter_arn) = self.create_queue(DEAD_LETTER_QUEUE, &[]).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dead_letter_arn,
            "maxReceiveCount": self.target.max_receive_count,
        })
        .to_string();
        let attributes = [
            (
                QueueAttributeName::VisibilityTimeout,
                self.target.visibility_timeout.as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive),
        ];
        let mut queues = Vec::new();
        for function in &self.functions {
            let (url, arn) = self
                .create_queue(&queue_name(function), &attributes)
                .await?;
            queues.push(QueueInfo {
                function: function.clone(),
                url,
                arn,
                writes: Arc::default(),
            });
        }
        Ok(Setup {
            queues,
            dead_letter_url,
        })
    }

    /// EventBridge's SQS target: sends each event to its functions' queues, up to
    /// [`SEND_CONCURRENCY`] events at a time (EventBridge keeps no order either).
    async fn send_loop(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Event>) {
        let mut stop = self.stop.clone();
        let permits = Arc::new(Semaphore::new(SEND_CONCURRENCY));
        loop {
            let event = tokio::select! {
                _ = stop.changed() => return,
                event = rx.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let shared = Arc::clone(&self);
            tokio::spawn(async move {
                let body = event.to_json();
                for function in shared.functions_for(event.detail_type) {
                    shared.send_one(function, &event, &body).await;
                }
                shared.pending.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
            });
        }
    }

    async fn send_one(self: &Arc<Self>, function: &str, event: &Event, body: &str) {
        let target = target_name(function);
        let queue = match Shared::set_up(self).await {
            Ok(setup) => setup.queues.iter().find(|q| q.function == function),
            Err(error) => {
                self.log.failed_attempt(&target);
                self.log.dead_letter(&target, event, 1, error);
                return;
            }
        };
        let Some(queue) = queue else {
            self.log
                .dead_letter(&target, event, 0, format!("no queue for {function}"));
            return;
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let sent = {
                let _writing = queue.writes.lock().await;
                self.sqs
                    .send_message()
                    .queue_url(&queue.url)
                    .message_body(body)
                    .send()
                    .await
            };
            match sent {
                Ok(_) => {
                    bump(&self.counters[function].sent, 1);
                    return;
                }
                Err(err) => {
                    let error = sdk_error("SendMessage", &queue.url, err);
                    self.log.failed_attempt(&target);
                    if attempts >= SEND_ATTEMPTS {
                        self.log.dead_letter(&target, event, attempts, error);
                        return;
                    }
                    tracing::warn!(target_name = %target, event_id = %event.id, attempts, error = %error, "SendMessage failed; retrying");
                    tokio::time::sleep(SEND_RETRY_DELAY).await;
                }
            }
        }
    }

    /// One poller of a function's event source mapping.
    async fn poll(self: Arc<Self>, queue: QueueInfo, uri: Uri) {
        let mut stop = self.stop.clone();
        loop {
            let batch = tokio::select! {
                _ = stop.changed() => return,
                batch = self.gather(&queue) => batch,
            };
            if batch.is_empty() {
                continue;
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = self.deliver(&queue, &uri, batch) => {}
            }
        }
    }

    /// Receives until `batch_size` records or `batching_window` after the first one.
    async fn gather(&self, queue: &QueueInfo) -> Vec<Message> {
        let batch_size = self.target.batch_size.max(1) as usize;
        let window = self.target.batching_window;
        let mut batch: Vec<Message> = Vec::new();
        let mut first_at: Option<Instant> = None;
        loop {
            let room = batch_size - batch.len();
            if room == 0 {
                return batch;
            }
            let left = first_at.map(|at| window.saturating_sub(at.elapsed()));
            let wait_seconds = match left {
                None => 1,
                Some(left) if left.is_zero() => return batch,
                Some(left) if left >= Duration::from_secs(1) => 1,
                Some(_) => 0,
            };
            let received = self
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(room.min(SQS_BATCH) as i32)
                .wait_time_seconds(wait_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await;
            match received {
                Ok(out) => {
                    let messages = out.messages.unwrap_or_default();
                    if messages.is_empty() {
                        if let Some(left) = left {
                            // A short poll found nothing: look again shortly, within the window.
                            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
                        }
                    } else {
                        first_at.get_or_insert_with(Instant::now);
                        batch.extend(messages);
                    }
                }
                Err(err) => {
                    let error = sdk_error("ReceiveMessage", &queue.url, err);
                    tracing::warn!(function = %queue.function, error = %error, "the event source mapping cannot receive");
                    if !batch.is_empty() {
                        return batch;
                    }
                    tokio::time::sleep(RECEIVE_RETRY_DELAY).await;
                }
            }
        }
    }

    /// Invokes the function with `batch` and deletes what Lambda would delete.
    async fn deliver(&self, queue: &QueueInfo, uri: &Uri, batch: Vec<Message>) {
        let counters = &self.counters[&queue.function];
        bump(&counters.invocations, 1);
        let payload = Bytes::from(sqs_event(&batch, &queue.arn, &self.region).to_string());
        let ids: Vec<&str> = batch
            .iter()
            .map(|m| m.message_id().unwrap_or_default())
            .collect();
        let outcome =
            match invoke::invoke(&self.http, uri, payload, self.target.invocation_timeout).await {
                Err(err) => Err(err.to_string()),
                Ok(invocation) => match invocation.failure() {
                    Some(failure) => Err(failure),
                    None => records_to_keep(&invocation.payload, &ids),
                },
            };
        let keep = match outcome {
            Ok(keep) => keep,
            Err(error) => {
                bump(&counters.batches_failed, 1);
                tracing::warn!(function = %queue.function, records = batch.len(), error = %error, "the batch failed: every record stays in the queue");
                return;
            }
        };
        if !keep.is_empty() {
            bump(&counters.records_failed, keep.len() as u64);
            tracing::info!(function = %queue.function, records = batch.len(), failed = keep.len(), "partial batch failure");
        }
        let delete: Vec<&Message> = batch
            .iter()
            .filter(|m| !keep.contains(m.message_id().unwrap_or_default()))
            .collect();
        for chunk in delete.chunks(SQS_BATCH) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .ok()
                })
                .collect();
            let deleted = {
                let _writing = queue.writes.lock().await;
                self.sqs
                    .delete_message_batch()
                    .queue_url(&queue.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
            };
            match deleted {
                Ok(out) => {
                    bump(&counters.delivered, out.successful().len() as u64);
                    for failed in out.failed() {
                        tracing::warn!(function = %queue.function, code = failed.code(), message = ?failed.message(), "a processed record could not be deleted: it will come back");
                    }
                }
                Err(err) => {
                    let error = sdk_error("DeleteMessageBatch", &queue.url, err);
                    tracing::warn!(function = %queue.function, error = %error, "processed records could not be deleted: they will come back");
                }
            }
        }
    }
}

/// One record of an SQS event, in the order and spelling Lambda uses.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SqsRecord<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: BTreeMap<&'a str, &'a str>,
    message_attributes: Map<String, Value>,
    md5_of_body: &'a str,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

/// The event Lambda's SQS event source mapping invokes a function with.
fn sqs_event(batch: &[Message], queue_arn: &str, region: &str) -> Value {
    let b64 = |blob: &aws_sdk_sqs::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
    };
    let records: Vec<SqsRecord<'_>> = batch
        .iter()
        .map(|m| SqsRecord {
            message_id: m.message_id().unwrap_or_default(),
            receipt_handle: m.receipt_handle().unwrap_or_default(),
            body: m.body().unwrap_or_default(),
            attributes: m
                .attributes()
                .map(|map| map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                .unwrap_or_default(),
            message_attributes: m
                .message_attributes()
                .map(|map| {
                    map.iter()
                        .map(|(name, value)| {
                            let mut attribute = Map::new();
                            if let Some(s) = value.string_value() {
                                attribute.insert("stringValue".into(), Value::String(s.into()));
                            }
                            if let Some(blob) = value.binary_value() {
                                attribute.insert("binaryValue".into(), b64(blob));
                            }
                            attribute.insert(
                                "stringListValues".into(),
                                value
                                    .string_list_values()
                                    .iter()
                                    .map(|s| Value::String(s.clone()))
                                    .collect(),
                            );
                            attribute.insert(
                                "binaryListValues".into(),
                                value.binary_list_values().iter().map(b64).collect(),
                            );
                            attribute.insert(
                                "dataType".into(),
                                Value::String(value.data_type().to_owned()),
                            );
                            (name.clone(), Value::Object(attribute))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            md5_of_body: m.md5_of_body().unwrap_or_default(),
            event_source: "aws:sqs",
            event_source_arn: queue_arn,
            aws_region: region,
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// Lambda's reading of a successful invocation's answer with `ReportBatchItemFailures`: the
/// message ids to keep in the queue (empty: delete the whole batch), or why the whole batch
/// failed.
///
/// Success of every record: an empty or `null` answer, an object without `batchItemFailures`
/// or with `null` or `[]`. Failure of the listed records: `{"batchItemFailures":
/// [{"itemIdentifier": "<messageId>"}, ...]}`. Failure of the whole batch: an answer that is
/// not JSON, JSON that is neither an object nor `null`, `batchItemFailures` that is not a list,
/// an item without a string `itemIdentifier` (missing, `null`, another key), an empty one, or
/// one that names no record of the batch.
pub(crate) fn records_to_keep(
    payload: &[u8],
    batch_ids: &[&str],
) -> Result<HashSet<String>, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(HashSet::new());
    }
    let answer: Value = serde_json::from_slice(payload)
        .map_err(|err| format!("the function's answer is not JSON: {err}"))?;
    let failures = match &answer {
        Value::Null => return Ok(HashSet::new()),
        Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(HashSet::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(format!("batchItemFailures is not a list: {other}"));
            }
        },
        other => return Err(format!("the function's answer is not an object: {other}")),
    };
    let mut keep = HashSet::new();
    for item in failures {
        let id = item
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a batch item failure without an itemIdentifier: {item}"))?;
        if id.is_empty() {
            return Err("a batch item failure with an empty itemIdentifier".to_owned());
        }
        if !batch_ids.contains(&id) {
            return Err(format!(
                "a batch item failure names no record of the batch: {id}"
            ));
        }
        keep.insert(id.to_owned());
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(payload: &str) -> Result<Vec<String>, String> {
        let mut ids: Vec<String> = records_to_keep(payload.as_bytes(), &["a", "b", "c"])?
            .into_iter()
            .collect();
        ids.sort();
        Ok(ids)
    }

    #[test]
    fn answers_that_delete_the_whole_batch() {
        for payload in [
            "",
            " ",
            "null",
            "{}",
            r#"{"batchItemFailures": null}"#,
            r#"{"batchItemFailures": []}"#,
        ] {
            assert_eq!(keep(payload), Ok(vec![]), "{payload:?}");
        }
    }

    #[test]
    fn listed_records_stay() {
        assert_eq!(
            keep(r#"{"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}"#),
            Ok(vec!["b".to_owned(), "c".to_owned()])
        );
    }

    #[test]
    fn invalid_answers_fail_the_whole_batch() {
        for payload in [
            "not json",
            r#""ok""#,
            "42",
            r#"{"batchItemFailures": "a"}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
            r#"{"batchItemFailures": [{"id": "a"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "z"}]}"#,
            r#"{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "z"}]}"#,
        ] {
            assert!(keep(payload).is_err(), "{payload:?}");
        }
    }

    #[test]
    fn the_sqs_event_has_lambdas_shape() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh-1")
            .body(r#"{"a":1}"#)
            .md5_of_body("md5")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "1")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000")
            .build();
        let event = sqs_event(
            &[message],
            "arn:aws:sqs:us-west-2:111122223333:f-events",
            "us-west-2",
        );
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "rh-1");
        assert_eq!(record["body"], r#"{"a":1}"#);
        assert_eq!(record["md5OfBody"], "md5");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:us-west-2:111122223333:f-events"
        );
        assert_eq!(record["awsRegion"], "us-west-2");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
        assert_eq!(record["messageAttributes"], serde_json::json!({}));
    }
}
