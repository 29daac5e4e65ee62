//! The event functions' handler: read the event, find the channel's policy, decide, execute.
//!
//! Outcomes:
//! - `Ok` for everything that is final: actions applied, nothing to do, an unknown event or
//!   value (logged and acknowledged, so a new AWS event never causes a retry storm);
//! - `Err` with a retryable [`Error`] when IVS failed transiently (throttling past the retries,
//!   5xx, timeouts): Lambda retries the event, then the dead-letter queue keeps it;
//! - `Err` with a permanent [`Error`] when the event cannot be read or acted upon (a malformed
//!   channel ARN, a detail of the wrong shape) or IVS refused for good: after Lambda's retries
//!   the event lands in the dead-letter queue, where an operator sees it. Nothing is dropped.
//!
//! The deployed functions get their events in SQS batches (EventBridge → SQS → the event
//! source mapping, template.yaml) and answer with the batch's failures
//! (`ReportBatchItemFailures`): each record is handled as one event is, and
//! - an applied record is done (the mapping deletes it);
//! - a record that failed for a transient reason is reported as failed and returned to the
//!   queue with a growing visibility timeout ([`crate::queue`]); the later records of the same
//!   channel in the batch are returned with it, so that one channel's events keep their order;
//! - a record that can never be applied goes to the dead-letter queue now, with the reason.
//!
//! Before the records are handled, the channel policies the batch needs are read together,
//! 50 channels per `BatchGetChannel` ([`PolicyCache::prefetch`]), and only for the events whose
//! decision depends on a policy ([`domain::policy::needs_policy`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, field, info, info_span, warn, Instrument, Span};

use crate::error::Error;
use crate::execute::{execute_for, ActionReport, Cause};
use crate::ivs::{
    aws_from_env, env_var, has_time_left, warm_up_wanted, with_deadline, Ivs, RateBudget,
};
use crate::metrics::Metrics;
use crate::policy_cache::PolicyCache;
use crate::publish::{Outbox, Publisher, LIFECYCLE_EVENT_BUS};
use crate::queue::{self, DeadLetter, EventQueue, ReturnLater, EVENT_DEAD_LETTER_QUEUE_URL};
use domain::events::{DetailType, IvsEvent, StreamEventName};
use domain::lifecycle::{self, announcements, Announcement, Lifecycle, RotationTrigger};
use domain::metrics::{EVENTS_DEAD_LETTERED, EVENTS_HANDLED, EVENTS_RETURNED, EVENT_AGE};
use domain::policy::{decide, needs_policy, ChannelPolicy, Settings};
use domain::rate::{RateSettings, RECORDING_EVENTS_RATE_SHARE, STREAM_EVENTS_RATE_SHARE};

/// Detail-types handled by the `stream-events` function.
pub const STREAM_EVENTS: &[DetailType] = &[
    DetailType::StreamStateChange,
    DetailType::StreamHealthChange,
    DetailType::LimitBreach,
];

/// Detail-types handled by the `recording-events` function.
pub const RECORDING_EVENTS: &[DetailType] = &[DetailType::RecordingStateChange];

/// What the handler did with one event (the function's response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerOutput {
    pub event_id: String,
    pub detail_type: String,
    pub name: String,
    pub actions: Vec<ActionReport>,
}

/// What the function answers: one event's output, or an SQS batch's failures.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Event(HandlerOutput),
    Batch(SqsBatchResponse),
}

/// Time kept at the end of a batch's invocation for returning records and dead-lettering
/// (SQS calls): the records' IVS work stops this long before the deadline, or a quarter of
/// the invocation's time when that is shorter (a function with a short timeout).
pub const QUEUE_MARGIN: Duration = Duration::from_secs(3);

/// The automation as one event function runs it: IVS helpers, cached channel policies, the
/// detail-types this function is deployed for and, for SQS batches, its queue.
#[derive(Debug)]
pub struct Automation {
    ivs: Ivs,
    policies: PolicyCache,
    accepts: &'static [DetailType],
    queue: Option<Queue>,
    publisher: Publisher,
    metrics: Arc<Metrics>,
}

#[derive(Debug)]
struct Queue {
    sqs: EventQueue,
    /// `AWS_ENDPOINT_URL_SQS` (or `AWS_ENDPOINT_URL`) when set: where the batch's queue is.
    endpoint: Option<String>,
}

/// The share of IVS's quotas a function deployed for `accepts` uses when `IVS_RATE_SHARE`
/// is not set.
pub fn default_rate_share(accepts: &[DetailType]) -> f64 {
    if accepts == RECORDING_EVENTS {
        RECORDING_EVENTS_RATE_SHARE
    } else {
        STREAM_EVENTS_RATE_SHARE
    }
}

/// The `Function` metric dimension of a function deployed for `accepts`.
pub fn function_name(accepts: &[DetailType]) -> &'static str {
    if accepts == RECORDING_EVENTS {
        "recording-events"
    } else {
        "stream-events"
    }
}

impl Automation {
    /// The automation over `ivs`, its metrics in `METRICS_NAMESPACE`, publishing nothing
    /// ([`Automation::with_publisher`]).
    pub fn new(ivs: Ivs, settings: Settings, accepts: &'static [DetailType]) -> Self {
        let metrics = Arc::new(Metrics::from_env(function_name(accepts)));
        Automation {
            ivs: ivs.with_metrics(metrics.clone()),
            policies: PolicyCache::new(settings),
            accepts,
            queue: None,
            publisher: Publisher::off(),
            metrics,
        }
    }

    /// The same automation, publishing its lifecycle events with `publisher`.
    pub fn with_publisher(mut self, publisher: Publisher) -> Self {
        self.publisher = publisher;
        self
    }

    /// The figures counted since the last flush.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The same automation, handling SQS batches with `sqs` (dead letters, visibility) and
    /// finding the batch's queue under `endpoint` when the SQS endpoint is overridden.
    pub fn with_queue(mut self, sqs: EventQueue, endpoint: Option<String>) -> Self {
        self.queue = Some(Queue { sqs, endpoint });
        self
    }

    /// Builds everything from the environment, once per container.
    pub async fn from_env(accepts: &'static [DetailType]) -> Result<Self, Error> {
        let settings = Settings::from_lookup(env_var)?;
        let aws = aws_from_env().await?;
        let publisher = Publisher::new(&aws.config, env_var(LIFECYCLE_EVENT_BUS));
        if warm_up_wanted()? {
            // The TLS sessions to IVS and (when publishing) EventBridge are opened now, at
            // full speed (crate::https), not by the first invocation.
            let mut endpoints: Vec<String> = aws.ivs_endpoint().await.into_iter().collect();
            if publisher.is_on() {
                endpoints.extend(aws.events_endpoint().await);
            }
            aws.warm_up(&endpoints).await;
        }
        let rate = RateSettings::from_lookup(env_var, default_rate_share(accepts))?;
        let ivs = Ivs::new(aws_sdk_ivs::Client::new(&aws.config))
            .with_budget(Arc::new(RateBudget::new(rate)));
        let sqs = EventQueue::new(&aws.config, env_var(EVENT_DEAD_LETTER_QUEUE_URL));
        let endpoint = aws.endpoint_override("AWS_ENDPOINT_URL_SQS");
        Ok(Self::new(ivs, settings, accepts)
            .with_queue(sqs, endpoint)
            .with_publisher(publisher))
    }

    /// The Lambda entry point: an SQS batch, or one EventBridge event (a direct invocation).
    /// The future is boxed: the SDK's futures nest deeply, and a `main` that holds them
    /// unboxed overflows the compiler's layout query depth.
    pub fn handle(
        &self,
        event: LambdaEvent<Value>,
    ) -> Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + '_>> {
        let deadline = invocation_deadline(event.context.deadline);
        let payload = event.payload;
        Box::pin(async move {
            let response = if is_sqs_batch(&payload) {
                self.handle_batch(payload, deadline)
                    .await
                    .map(Response::Batch)
            } else {
                let work = self.handle_value(payload);
                match deadline {
                    Some(deadline) => with_deadline(deadline, work).await,
                    None => work.await,
                }
                .map(Response::Event)
            };
            // The invocation's figures, once, at its end (EMF lines on stdout).
            self.metrics.flush();
            response
        })
    }

    /// Handles one raw EventBridge event, and publishes the lifecycle events it causes: an
    /// `Err` when EventBridge did not take them (retryable: the actions are idempotent).
    pub async fn handle_value(&self, payload: Value) -> Result<HandlerOutput, Error> {
        let event = read_event(payload)?;
        let (output, facts) = self.handle_read(&event, None).await?;
        self.publisher
            .publish(&facts, Some(&self.metrics))
            .await
            .inspect_err(|e| error!(error = %e, "lifecycle events not published: the event fails, to be retried"))?;
        self.count_done(&event, EVENTS_HANDLED);
        Ok(output)
    }

    /// Counts one event done (applied or dead-lettered) and its age.
    fn count_done(&self, event: &IvsEvent, what: &'static str) {
        self.metrics.count(what, &[], 1);
        if let Some(time) = event.time() {
            let age_ms = (Utc::now() - time).num_milliseconds().max(0);
            self.metrics.value(EVENT_AGE, &[], age_ms as f64);
        }
    }

    /// Handles one event in its span, with its channel's policy if already read.
    async fn handle_read(
        &self,
        event: &IvsEvent,
        policy: Option<&ChannelPolicy>,
    ) -> Result<(HandlerOutput, Vec<Lifecycle>), Error> {
        let span = info_span!(
            "ivs_event",
            event_id = event.id(),
            detail_type = %event.detail_type(),
            event_name = event.name(),
            channel_arn = field::Empty,
            stream_id = event.stream_id(),
        );
        self.handle_event(event, policy, &span)
            .instrument(span.clone())
            .await
    }

    /// Handles an SQS batch: the records in order, each as one event, and answers with the
    /// records to return to the queue (see the module's documentation). The records' IVS
    /// work stops [`QUEUE_MARGIN`] before `deadline`; what is left then is returned untried.
    pub async fn handle_batch(
        &self,
        payload: Value,
        deadline: Option<Instant>,
    ) -> Result<SqsBatchResponse, Error> {
        let batch: SqsEvent = serde_json::from_value(payload)
            .map_err(|e| Error::InvalidEvent(format!("SQS batch: {e}")))?;
        let records = batch
            .records
            .into_iter()
            .map(Record::read)
            .collect::<Result<Vec<_>, _>>()?;
        let now = Instant::now();
        let time_left_ms = deadline.map(|d| d.saturating_duration_since(now).as_millis() as u64);
        let work_deadline = deadline.map(|d| {
            let margin = QUEUE_MARGIN.min(d.saturating_duration_since(now) / 4);
            d.checked_sub(margin).unwrap_or(d)
        });
        let work = self.handle_records(&records, work_deadline);
        let outcomes = match work_deadline {
            Some(deadline) => with_deadline(deadline, work).await,
            None => work.await,
        };
        Ok(self.settle(&records, outcomes, time_left_ms).await)
    }

    /// Each record's outcome, in order.
    async fn handle_records(&self, records: &[Record], until: Option<Instant>) -> Vec<Outcome> {
        // A record is started only before `until` (its IVS calls then respect the deadline
        // that `with_deadline` set: no retry past it, no rate-budget slot past it).
        let time_left = || until.is_none_or(|until| Instant::now() < until) && has_time_left();
        let channels: Vec<_> = records
            .iter()
            .filter_map(|r| r.event.as_ref().ok())
            .filter(|e| needs_policy(e) && self.accepts.contains(&e.detail_type()))
            .filter_map(|e| e.channel_arn().ok().flatten())
            .collect();
        let policies = if channels.is_empty() || !time_left() {
            HashMap::new()
        } else {
            self.policies.prefetch(&self.ivs, &channels).await
        };
        // Channels with a record returned to the queue: their later records wait with it.
        let mut held: HashMap<String, u32> = HashMap::new();
        let mut outcomes = Vec::with_capacity(records.len());
        for record in records {
            if !time_left() {
                // Not tried: back to the queue for the next invocation.
                outcomes.push(Outcome::Later(record.receive_count));
                continue;
            }
            if let Some(kept) = &record.outbox {
                outcomes.push(match kept {
                    Ok(events) => match self.publisher.publish(events, Some(&self.metrics)).await {
                        Ok(()) => Outcome::Applied,
                        Err(e) => {
                            warn!(message_id = %record.message_id, error = %e, "the outbox's lifecycle events are still not published: back to the queue");
                            Outcome::Later(record.receive_count)
                        }
                    },
                    Err(reason) => Outcome::Permanent(reason.clone()),
                });
                continue;
            }
            let event = match &record.event {
                Ok(event) => event,
                Err(reason) => {
                    outcomes.push(Outcome::Permanent(reason.clone()));
                    continue;
                }
            };
            let channel = event.channel_arn().ok().flatten().map(|c| c.to_string());
            if let Some(receives) = channel.as_ref().and_then(|c| held.get(c)) {
                outcomes.push(Outcome::Later(*receives));
                continue;
            }
            let policy = channel.as_ref().and_then(|c| policies.get(c));
            let outcome = match self.handle_read(event, policy).await {
                Ok((_, facts)) => self.publish_or_keep(record, &facts).await,
                Err(e) if e.is_retryable() => Outcome::Later(record.receive_count),
                Err(e) => Outcome::Permanent(PermanentFailure {
                    error_type: e.error_type(),
                    reason: e.to_string(),
                }),
            };
            if let (Outcome::Later(receives), Some(channel)) = (&outcome, channel) {
                held.insert(channel, *receives);
            }
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Publishes a record's lifecycle events. What EventBridge does not take goes back to the
    /// record's queue as an outbox record (handling it publishes them): the record itself is
    /// then done, and its actions are not repeated. Only when that fails too is the record
    /// returned (its actions are idempotent).
    async fn publish_or_keep(&self, record: &Record, facts: &[Lifecycle]) -> Outcome {
        let Err(e) = self.publisher.publish(facts, Some(&self.metrics)).await else {
            return Outcome::Applied;
        };
        let queue_url = self.queue.as_ref().and_then(|q| {
            let url = record
                .source_arn
                .as_deref()
                .and_then(|arn| queue::queue_url(arn, q.endpoint.as_deref()))?;
            Some((q, url))
        });
        let body = serde_json::to_string(&Outbox::new(&e.unpublished)).unwrap_or_default();
        let kept = match queue_url {
            Some((q, url)) => q.sqs.send_outbox(&url, &body).await,
            None => Err("the record's queue is unknown".to_owned()),
        };
        match kept {
            Ok(()) => {
                warn!(message_id = %record.message_id, events = e.unpublished.len(), reason = %e.reason, "lifecycle events not published: kept in the queue as an outbox record");
                Outcome::Applied
            }
            Err(why) => {
                error!(message_id = %record.message_id, error = %e, outbox_error = %why, "lifecycle events not published nor kept: the record goes back to the queue");
                Outcome::Later(record.receive_count)
            }
        }
    }

    /// Dead-letters and returns what must be, and answers with the failed records.
    /// `time_left_ms`: the invocation's time when the batch started (logged).
    async fn settle(
        &self,
        records: &[Record],
        outcomes: Vec<Outcome>,
        time_left_ms: Option<u64>,
    ) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut later: HashMap<Option<String>, Vec<ReturnLater>> = HashMap::new();
        let (mut applied, mut dead_lettered) = (0usize, 0usize);
        for (record, outcome) in records.iter().zip(outcomes) {
            let event = record.event.as_ref().ok();
            let receives = match outcome {
                Outcome::Applied => {
                    applied += 1;
                    if let Some(event) = event {
                        self.count_done(event, EVENTS_HANDLED);
                    }
                    continue;
                }
                Outcome::Later(receives) => receives,
                Outcome::Permanent(failure) => match self.dead_letter(record, &failure).await {
                    Ok(()) => {
                        dead_lettered += 1;
                        match event {
                            Some(event) => self.count_done(event, EVENTS_DEAD_LETTERED),
                            None => self.metrics.count(EVENTS_DEAD_LETTERED, &[], 1),
                        }
                        continue;
                    }
                    Err(why) => {
                        warn!(message_id = %record.message_id, reason = %why, "the record cannot be applied and could not be dead-lettered now; it stays in the queue");
                        record.receive_count
                    }
                },
            };
            response.add_failure(record.message_id.clone());
            let queue_url = self.queue.as_ref().and_then(|q| {
                record
                    .source_arn
                    .as_deref()
                    .and_then(|arn| queue::queue_url(arn, q.endpoint.as_deref()))
            });
            later.entry(queue_url).or_default().push(ReturnLater {
                message_id: record.message_id.clone(),
                receipt_handle: record.receipt_handle.clone(),
                delay: queue::retry_delay(receives, fastrand::f64()),
            });
        }
        if let Some(q) = &self.queue {
            for (url, records) in &later {
                if let Some(url) = url {
                    q.sqs.return_later(url, records).await;
                }
            }
        }
        self.metrics.count(
            EVENTS_RETURNED,
            &[],
            response.batch_item_failures.len() as u64,
        );
        info!(
            records = records.len(),
            applied,
            returned = response.batch_item_failures.len(),
            dead_lettered,
            time_left_ms,
            "batch handled"
        );
        response
    }

    async fn dead_letter(&self, record: &Record, failure: &PermanentFailure) -> Result<(), String> {
        let Some(q) = self
            .queue
            .as_ref()
            .filter(|q| q.sqs.dead_letters_directly())
        else {
            return Err(format!(
                "{EVENT_DEAD_LETTER_QUEUE_URL} is not set: the redrive policy will take it"
            ));
        };
        q.sqs
            .dead_letter(&DeadLetter {
                message_id: &record.message_id,
                body: &record.body,
                source_queue: record.source_arn.as_deref().unwrap_or(""),
                error_type: failure.error_type.clone(),
                reason: failure.reason.clone(),
            })
            .await?;
        error!(message_id = %record.message_id, error_type = %failure.error_type, error = %failure.reason, "event dead-lettered: it cannot be applied");
        Ok(())
    }

    async fn handle_event(
        &self,
        event: &IvsEvent,
        prefetched: Option<&ChannelPolicy>,
        span: &Span,
    ) -> Result<(HandlerOutput, Vec<Lifecycle>), Error> {
        let mut output = HandlerOutput {
            event_id: event.id().to_owned(),
            detail_type: event.detail_type().to_string(),
            name: event.name().to_owned(),
            actions: Vec::new(),
        };
        let cause = Cause {
            event_id: event.id(),
            at: event.time().unwrap_or_else(Utc::now),
            trigger: match event {
                IvsEvent::StreamState(e)
                    if e.detail.event_name == StreamEventName::SessionEnded =>
                {
                    RotationTrigger::SessionEnded
                }
                _ => RotationTrigger::StreamEnd,
            },
        };
        let mut facts = Vec::new();
        if let IvsEvent::Unknown(_) = event {
            // Whatever its resources name (a stage, a bucket…), it is only logged.
            let actions = decide(event, None, self.policies.defaults());
            output.actions = execute_for(&self.ivs, &actions, &cause, &mut facts).await?;
            return Ok((output, facts));
        }
        if !self.accepts.contains(&event.detail_type()) {
            warn!("event of a detail-type this function is not deployed for: acknowledged without action");
            return Ok((output, facts));
        }
        let channel = event.channel_arn().map_err(|e| {
            error!(error = %e, "event rejected: its channel ARN is malformed");
            Error::from(e)
        })?;
        if let Some(channel) = &channel {
            span.record("channel_arn", channel.as_str());
        }
        let policy = match (&channel, prefetched) {
            // Every policy decides the same: no tag read.
            _ if !needs_policy(event) => self.policies.defaults().clone(),
            (Some(_), Some(policy)) => policy.clone(),
            (Some(channel), None) => self.policies.policy(&self.ivs, channel).await?,
            (None, _) => self.policies.defaults().clone(),
        };
        // What the event announces is read before any action: a failure to read it then
        // retries the event with nothing done yet. With publishing off, nothing is read.
        let mut announced = Vec::new();
        if self.publisher.is_on() {
            for announcement in announcements(event, channel.as_ref(), policy.suspended) {
                announced.push(self.complete(event, announcement).await?);
            }
        }
        let actions = decide(event, channel.as_ref(), &policy);
        // The announcements go out while the actions run: the answer waits for the longer of
        // the two, not for both. What EventBridge refuses here is published again with the
        // actions' own facts (and kept if still refused).
        let (refused, executed) = tokio::join!(
            self.publisher.try_once(&announced, Some(&self.metrics)),
            execute_for(&self.ivs, &actions, &cause, &mut facts),
        );
        output.actions = executed?;
        if !refused.is_empty() {
            warn!(
                events = refused.len(),
                "lifecycle events not taken yet: tried again after the actions"
            );
            facts.splice(0..0, refused);
        }
        Ok((output, facts))
    }

    /// A lifecycle event from what `event` announces, with what IVS adds: the channel's
    /// playback URL (cached from the batch's `BatchGetChannel`, else `GetChannel`), the stream
    /// session's start (`GetStreamSession`).
    async fn complete(
        &self,
        event: &IvsEvent,
        announcement: Announcement,
    ) -> Result<Lifecycle, Error> {
        Ok(match announcement {
            Announcement::Ready(ready) => ready,
            Announcement::Live {
                channel,
                stream_id,
                start_time,
            } => {
                let url = match self.policies.playback_url(&channel) {
                    Some(url) => Some(url),
                    None => self.ivs.playback_url(&channel).await?,
                };
                lifecycle::channel_live(
                    &channel,
                    event.channel_name(),
                    &stream_id,
                    start_time,
                    url.as_deref(),
                )
            }
            Announcement::Offline {
                channel,
                stream_id,
                end_time,
            } => {
                let started = self.ivs.stream_start_time(&channel, &stream_id).await?;
                lifecycle::channel_offline(
                    &channel,
                    event.channel_name(),
                    &stream_id,
                    end_time,
                    started,
                )
            }
        })
    }
}

/// The invocation's deadline (Unix milliseconds, as the Runtime API gives it) as an
/// `Instant`; `None` when unset (0) or not in the future: Lambda never starts an invocation
/// past its deadline, but local runtimes may send one (`cargo lambda watch` sends the time of
/// the invocation itself), and a past deadline would leave no time for any work.
pub fn invocation_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if deadline_ms <= now_ms {
        tracing::debug!(
            deadline_ms,
            now_ms,
            "the invocation's deadline is not in the future: ignored"
        );
        return None;
    }
    Some(Instant::now() + Duration::from_millis(deadline_ms - now_ms))
}

/// Whether `payload` is an SQS batch (`Records` from `aws:sqs`) rather than one EventBridge
/// event (which has no `Records`).
fn is_sqs_batch(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .is_some_and(|records| {
            records
                .iter()
                .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
        })
}

fn read_event(payload: Value) -> Result<IvsEvent, Error> {
    IvsEvent::from_value(payload).map_err(|e| {
        error!(error = %e, "event rejected: it cannot be read");
        Error::from(e)
    })
}

/// Why a record can never be applied.
#[derive(Clone, Debug)]
struct PermanentFailure {
    error_type: String,
    reason: String,
}

/// What became of one record.
#[derive(Debug)]
enum Outcome {
    Applied,
    /// Back to the queue; the delay grows with this receive count.
    Later(u32),
    Permanent(PermanentFailure),
}

/// One SQS record, its body read as an event.
#[derive(Debug)]
struct Record {
    message_id: String,
    receipt_handle: String,
    body: String,
    receive_count: u32,
    source_arn: Option<String>,
    event: Result<IvsEvent, PermanentFailure>,
    /// Set for an outbox record (lifecycle events kept for publishing), whose `event` is
    /// then an error never looked at.
    outbox: Option<Result<Vec<Lifecycle>, PermanentFailure>>,
}

impl Record {
    /// Fails only for a record without a message id (the batch cannot name it as failed).
    fn read(message: aws_lambda_events::sqs::SqsMessage) -> Result<Record, Error> {
        let message_id = message
            .message_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::InvalidEvent("an SQS record without a messageId".to_owned()))?;
        let body = message.body.unwrap_or_default();
        let value = serde_json::from_str::<Value>(&body)
            .map_err(|e| Error::InvalidEvent(format!("the record's body is not JSON: {e}")));
        let outbox = value.as_ref().ok().and_then(Outbox::read).map(|kept| {
            kept.map_err(|reason| PermanentFailure {
                error_type: "Permanent.InvalidOutbox".to_owned(),
                reason,
            })
        });
        let event = match outbox {
            Some(_) => Err(Error::InvalidEvent("an outbox record".to_owned())),
            None => value,
        };
        let event = event.and_then(read_event).map_err(|e| PermanentFailure {
            error_type: e.error_type(),
            reason: e.to_string(),
        });
        let receive_count = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        Ok(Record {
            message_id,
            receipt_handle: message.receipt_handle.unwrap_or_default(),
            body,
            receive_count,
            source_arn: message.event_source_arn,
            event,
            outbox,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    #[test]
    fn only_a_future_deadline_counts() {
        assert_eq!(invocation_deadline(0), None);
        assert_eq!(invocation_deadline(now_ms() - 1), None);
        let left = invocation_deadline(now_ms() + 30_000)
            .unwrap()
            .saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(29) && left <= Duration::from_secs(30),
            "{left:?}"
        );
    }
}
