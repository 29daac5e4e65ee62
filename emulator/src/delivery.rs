//! Event delivery: in-process subscribers, JSON lines (stdout or a file) and local Lambda functions.
//!
//! Emitting never blocks: every target is fed through an unbounded queue. Subscribers get every
//! event from the moment they subscribe. JSON lines are written by a dedicated thread. Each Lambda
//! function has its own background task that invokes it with one event at a time, in order;
//! a failed invocation (a connection error, no complete answer within `timeout`, a non-2xx status
//! or an `X-Amz-Function-Error` header) is retried `retries` times after `retry_delay`, then the
//! event is dead-lettered. Queue targets (`crate::queue`) send each event to an SQS queue per
//! function, polled by an event source mapping. Nothing is dropped silently: every event reaches its target or the dead
//! letters.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use hyper::Uri;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::config::{JsonLinesTarget, LambdaTarget, Target};
use crate::events::Event;
use crate::invoke::{self, HttpClient};
use crate::queue::{QueueSink, QueueUrls};
use crate::stats::DeliveryStats;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An event that could not be delivered to a target.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The target (`lambda:<function>`, `json-lines:<stdout|path>`).
    pub target: String,
    /// The event's id.
    pub event_id: String,
    /// The event's detail-type.
    pub detail_type: String,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// When it was given up on.
    pub at: DateTime<Utc>,
    /// The event itself.
    pub event: Value,
}

/// Dead letters and delivery counters, shared with the delivery tasks.
#[derive(Debug, Default)]
pub(crate) struct DeliveryLog {
    dead_letters: Mutex<Vec<DeadLetter>>,
    stats: Mutex<BTreeMap<String, DeliveryStats>>,
}

impl DeliveryLog {
    pub(crate) fn delivered(&self, target: &str) {
        lock(&self.stats)
            .entry(target.to_owned())
            .or_default()
            .delivered += 1;
    }

    pub(crate) fn failed_attempt(&self, target: &str) {
        lock(&self.stats)
            .entry(target.to_owned())
            .or_default()
            .failed_attempts += 1;
    }

    pub(crate) fn dead_letter(&self, target: &str, event: &Event, attempts: u32, error: String) {
        tracing::error!(target_name = target, event_id = %event.id, detail_type = event.detail_type, attempts, error = %error, "event dead-lettered");
        lock(&self.stats)
            .entry(target.to_owned())
            .or_default()
            .dead_lettered += 1;
        lock(&self.dead_letters).push(DeadLetter {
            target: target.to_owned(),
            event_id: event.id.clone(),
            detail_type: event.detail_type.to_owned(),
            attempts,
            error,
            at: Utc::now(),
            event: event.to_value(),
        });
    }

    pub(crate) fn dead_letters(&self) -> Vec<DeadLetter> {
        lock(&self.dead_letters).clone()
    }

    pub(crate) fn stats(&self) -> BTreeMap<String, DeliveryStats> {
        lock(&self.stats).clone()
    }
}

/// Events from the moment of subscribing, none lost (an unbounded queue).
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<Value>,
}

impl Subscription {
    /// The next event; `None` once the emulator is gone and every event has been received.
    pub async fn recv(&mut self) -> Option<Value> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Value> {
        self.rx.try_recv().ok()
    }

    /// The next event, waiting at most `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Value> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Every event waiting now.
    pub fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.try_recv()).collect()
    }
}

/// A JSON-lines target: a writer thread fed by a queue.
struct JsonLinesSink {
    name: String,
    tx: Result<std_mpsc::Sender<Event>, String>,
}

impl JsonLinesSink {
    fn new(target: &JsonLinesTarget, log: &Arc<DeliveryLog>) -> Self {
        let name = match target {
            JsonLinesTarget::Stdout => "json-lines:stdout".to_owned(),
            JsonLinesTarget::File(path) => format!("json-lines:{}", path.display()),
        };
        let tx = Self::spawn_writer(target, name.clone(), Arc::clone(log)).map_err(|err| {
            let error = format!("cannot write events to {name}: {err}");
            tracing::error!("{error}");
            error
        });
        Self { name, tx }
    }

    fn spawn_writer(
        target: &JsonLinesTarget,
        name: String,
        log: Arc<DeliveryLog>,
    ) -> io::Result<std_mpsc::Sender<Event>> {
        let mut writer: Box<dyn Write + Send> = match target {
            JsonLinesTarget::Stdout => Box::new(io::stdout()),
            JsonLinesTarget::File(path) => Box::new(File::create(path)?),
        };
        let (tx, rx) = std_mpsc::channel::<Event>();
        std::thread::Builder::new()
            .name("ivs-emulator-json-lines".to_owned())
            .spawn(move || {
                for event in rx {
                    let written =
                        writeln!(writer, "{}", event.to_json()).and_then(|()| writer.flush());
                    match written {
                        Ok(()) => log.delivered(&name),
                        Err(err) => {
                            log.failed_attempt(&name);
                            log.dead_letter(&name, &event, 1, err.to_string());
                        }
                    }
                }
            })?;
        Ok(tx)
    }

    fn send(&self, event: &Event, log: &DeliveryLog) {
        let result = match &self.tx {
            Ok(tx) => tx
                .send(event.clone())
                .map_err(|_| "the JSON-lines writer has stopped".to_owned()),
            Err(error) => Err(error.clone()),
        };
        if let Err(error) = result {
            log.dead_letter(&self.name, event, 0, error);
        }
    }
}

/// A Lambda target: routes, and one ordered worker per function.
struct LambdaSink {
    target: LambdaTarget,
    client: HttpClient,
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>,
}

impl LambdaSink {
    fn new(target: LambdaTarget) -> Self {
        Self {
            target,
            client: invoke::client(),
            workers: Mutex::new(HashMap::new()),
        }
    }

    fn functions_for(&self, detail_type: &str) -> Vec<&str> {
        let mut functions: Vec<&str> = Vec::new();
        for route in self
            .target
            .routes
            .iter()
            .filter(|route| route.matches(detail_type))
        {
            if !functions.contains(&route.function.as_str()) {
                functions.push(&route.function);
            }
        }
        functions
    }

    fn send(&self, event: &Event, log: &Arc<DeliveryLog>) {
        for function in self.functions_for(event.detail_type) {
            let target_name = format!("lambda:{function}");
            let mut workers = lock(&self.workers);
            // A worker whose runtime has shut down no longer receives: start a new one.
            if let Some(tx) = workers.get(function) {
                if tx.send(event.clone()).is_ok() {
                    continue;
                }
                workers.remove(function);
            }
            match self.spawn_worker(function, log) {
                Ok(tx) => {
                    if tx.send(event.clone()).is_err() {
                        log.dead_letter(
                            &target_name,
                            event,
                            0,
                            "the delivery task stopped".to_owned(),
                        );
                    }
                    workers.insert(function.to_owned(), tx);
                }
                Err(error) => log.dead_letter(&target_name, event, 0, error),
            }
        }
    }

    fn spawn_worker(
        &self,
        function: &str,
        log: &Arc<DeliveryLog>,
    ) -> Result<mpsc::UnboundedSender<Event>, String> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            "no tokio runtime to deliver from (emit events from within a runtime)".to_owned()
        })?;
        let uri = invoke::invocation_uri(&self.target.endpoint, function)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let worker = LambdaWorker {
            target_name: format!("lambda:{function}"),
            uri,
            client: self.client.clone(),
            retries: self.target.retries,
            retry_delay: self.target.retry_delay,
            timeout: self.target.timeout,
            log: Arc::clone(log),
        };
        runtime.spawn(worker.run(rx));
        Ok(tx)
    }
}

/// Delivers the events of one function, in order.
struct LambdaWorker {
    target_name: String,
    uri: Uri,
    client: HttpClient,
    retries: u32,
    retry_delay: Duration,
    timeout: Duration,
    log: Arc<DeliveryLog>,
}

impl LambdaWorker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Event>) {
        while let Some(event) = rx.recv().await {
            let body = Bytes::from(event.to_json());
            let mut attempts = 0;
            loop {
                attempts += 1;
                match self.invoke(body.clone()).await {
                    Ok(()) => {
                        tracing::debug!(target_name = %self.target_name, event_id = %event.id, attempts, "event delivered");
                        self.log.delivered(&self.target_name);
                        break;
                    }
                    Err(error) => {
                        self.log.failed_attempt(&self.target_name);
                        if attempts > self.retries {
                            self.log
                                .dead_letter(&self.target_name, &event, attempts, error);
                            break;
                        }
                        tracing::warn!(target_name = %self.target_name, event_id = %event.id, attempts, error = %error, "invocation failed; retrying");
                        tokio::time::sleep(self.retry_delay).await;
                    }
                }
            }
        }
    }

    async fn invoke(&self, body: Bytes) -> Result<(), String> {
        let invocation = invoke::invoke(&self.client, &self.uri, body, self.timeout)
            .await
            .map_err(|err| err.to_string())?;
        invocation.failure().map_or(Ok(()), Err)
    }
}

/// Fans events out to every target.
pub(crate) struct Dispatcher {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Value>>>,
    json_lines: Vec<JsonLinesSink>,
    lambdas: Vec<LambdaSink>,
    queues: Vec<QueueSink>,
    log: Arc<DeliveryLog>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field(
                "json_lines",
                &self.json_lines.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field(
                "lambdas",
                &self.lambdas.iter().map(|l| &l.target).collect::<Vec<_>>(),
            )
            .field(
                "queues",
                &self
                    .queues
                    .iter()
                    .map(QueueSink::target)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub(crate) fn new(targets: &[Target], region: &str) -> Self {
        let log = Arc::new(DeliveryLog::default());
        let mut json_lines = Vec::new();
        let mut lambdas = Vec::new();
        let mut queues = Vec::new();
        for target in targets {
            match target {
                Target::JsonLines(target) => json_lines.push(JsonLinesSink::new(target, &log)),
                Target::Lambda(target) => lambdas.push(LambdaSink::new(target.clone())),
                Target::Queue(target) => {
                    queues.push(QueueSink::new(target.clone(), region, &log));
                }
            }
        }
        Self {
            subscribers: Mutex::new(Vec::new()),
            json_lines,
            lambdas,
            queues,
            log,
        }
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.subscribers).push(tx);
        Subscription { rx }
    }

    /// Hands `events` to every target without waiting for any delivery.
    pub(crate) fn dispatch(&self, events: Vec<Event>) {
        for event in events {
            let value = event.to_value();
            lock(&self.subscribers).retain(|tx| tx.send(value.clone()).is_ok());
            for sink in &self.json_lines {
                sink.send(&event, &self.log);
            }
            for sink in &self.lambdas {
                sink.send(&event, &self.log);
            }
            for sink in &self.queues {
                sink.send(&event);
            }
        }
    }

    /// The delivery counters of every target, the queue targets' included.
    pub(crate) fn delivery_stats(&self) -> BTreeMap<String, DeliveryStats> {
        let mut stats = self.log.stats();
        for sink in &self.queues {
            sink.add_stats(&mut stats);
        }
        stats
    }

    /// Whether a queue target is configured.
    pub(crate) fn has_queues(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Sets up every queue target (once) and starts its pollers: the queue URLs of all.
    pub(crate) async fn start_queues(&self) -> Result<QueueUrls, String> {
        let mut urls = QueueUrls::default();
        for sink in &self.queues {
            merge(&mut urls, sink.start().await?);
        }
        Ok(urls)
    }

    /// The queue URLs, once every queue target is set up.
    pub(crate) fn queue_urls(&self) -> Option<QueueUrls> {
        let mut urls = QueueUrls::default();
        for sink in &self.queues {
            merge(&mut urls, sink.urls()?);
        }
        (!self.queues.is_empty()).then_some(urls)
    }

    /// Whether every queue target is idle (nothing to send, every function queue empty).
    pub(crate) async fn queues_idle(&self) -> Result<bool, String> {
        for sink in &self.queues {
            if !sink.idle().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The dead-letter queues' message bodies (see `QueueSink::dead_letters`).
    pub(crate) async fn queue_dead_letters(&self) -> Result<Vec<Value>, String> {
        let mut bodies = Vec::new();
        let mut seen = Vec::new();
        for sink in &self.queues {
            let url = sink.start().await?.dead_letter_queue;
            // Two targets on one SQS server share the dead-letter queue: read it once.
            if !seen.contains(&url) {
                bodies.extend(sink.dead_letters().await?);
                seen.push(url);
            }
        }
        Ok(bodies)
    }

    pub(crate) fn log(&self) -> &DeliveryLog {
        &self.log
    }
}

fn merge(into: &mut QueueUrls, from: QueueUrls) {
    into.queues.extend(from.queues);
    if into.dead_letter_queue.is_empty() {
        into.dead_letter_queue = from.dead_letter_queue;
    }
}
