//! The event functions' queue: what happens to a record of an SQS batch that was not applied.
//!
//! The event functions take their events from an SQS queue through a Lambda event source
//! mapping with `ReportBatchItemFailures` (template.yaml): a record the handler reports as
//! failed stays in the queue, every other record of the batch is deleted. Around that:
//! - a record that failed for a transient reason (IVS throttled it, or the function's share
//!   of IVS's quotas had no slot left before the deadline, a 5xx, a timeout) is returned
//!   with a visibility timeout that grows with its receive count ([`retry_delay`]), so that
//!   a burst spreads out instead of coming back at once and being throttled again;
//! - a record that can never be applied (it cannot be read, IVS refused it for good) is sent
//!   to the dead-letter queue now, with the reason, and deleted from the event queue: it does
//!   not wait through every receive of the redrive policy, and the redrive policy only ever
//!   takes records that kept failing for transient reasons.
//!
//! Settings: `EVENT_DEAD_LETTER_QUEUE_URL`, the dead-letter queue's URL (the template sets
//! it). Without it, a record that can never be applied is reported as failed and reaches the
//! dead-letter queue through the redrive policy.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue};
use tracing::{debug, warn};

/// The dead-letter queue's URL variable.
pub const EVENT_DEAD_LETTER_QUEUE_URL: &str = "EVENT_DEAD_LETTER_QUEUE_URL";

/// The delay before the first retry of a transient failure.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(2);
/// The longest delay between two receives of a record (the delay doubles per receive).
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);
/// The longest error text kept in a dead letter's attributes.
const MAX_REASON_CHARS: usize = 1024;
/// SQS's largest `ChangeMessageVisibilityBatch`.
const VISIBILITY_BATCH_MAX: usize = 10;

/// How long a record that failed for a transient reason stays invisible before its next
/// receive: [`FIRST_RETRY_DELAY`] doubled per earlier receive, at most [`MAX_RETRY_DELAY`],
/// then scaled by `jitter` (0 to 1) into its upper half, so that records of one burst do not
/// come back together. `receive_count` is SQS's `ApproximateReceiveCount` (1 on the first
/// receive). Whole seconds, as SQS takes them.
pub fn retry_delay(receive_count: u32, jitter: f64) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(16);
    let full = FIRST_RETRY_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let secs = (full.as_secs_f64() * (0.5 + jitter / 2.0)).round();
    Duration::from_secs(secs.max(1.0) as u64)
}

/// A record to return to the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnLater {
    pub message_id: String,
    pub receipt_handle: String,
    pub delay: Duration,
}

/// A record to dead-letter now.
#[derive(Clone, Debug)]
pub struct DeadLetter<'a> {
    pub message_id: &'a str,
    /// The record's body, as received.
    pub body: &'a str,
    /// The queue it came from.
    pub source_queue: &'a str,
    /// `Permanent.<Kind>` (`Error::error_type`).
    pub error_type: String,
    /// Why it cannot be applied (no secret: error messages never hold one).
    pub reason: String,
}

/// The SQS side of the event functions.
#[derive(Clone, Debug)]
pub struct EventQueue {
    client: aws_sdk_sqs::Client,
    dead_letter_url: Option<String>,
}

impl EventQueue {
    /// An SQS client from the function's configuration (`AWS_ENDPOINT_URL_SQS` locally), with
    /// the SDK's standard retries (3 attempts): these calls are idempotent or harmless to
    /// repeat, and they run after the batch's work.
    pub fn new(config: &SdkConfig, dead_letter_url: Option<String>) -> Self {
        let sqs = aws_sdk_sqs::config::Builder::from(config)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .build();
        EventQueue {
            client: aws_sdk_sqs::Client::from_conf(sqs),
            dead_letter_url: dead_letter_url.filter(|u| !u.trim().is_empty()),
        }
    }

    /// The same over a given SQS client (tests).
    pub fn from_client(client: aws_sdk_sqs::Client, dead_letter_url: Option<String>) -> Self {
        EventQueue {
            client,
            dead_letter_url: dead_letter_url.filter(|u| !u.trim().is_empty()),
        }
    }

    /// Whether records that can never be applied go to the dead-letter queue directly.
    pub fn dead_letters_directly(&self) -> bool {
        self.dead_letter_url.is_some()
    }

    /// Sends a record to the dead-letter queue, its body unchanged and the reason in message
    /// attributes. `Err` (with the reason) when it could not: the record must then stay in
    /// the event queue.
    pub async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), String> {
        let Some(url) = &self.dead_letter_url else {
            return Err(format!("{EVENT_DEAD_LETTER_QUEUE_URL} is not set"));
        };
        let text = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())
        };
        let reason: String = letter.reason.chars().take(MAX_REASON_CHARS).collect();
        self.client
            .send_message()
            .queue_url(url)
            .message_body(letter.body)
            .message_attributes("ErrorType", text(&letter.error_type)?)
            .message_attributes("ErrorMessage", text(&reason)?)
            .message_attributes("SourceQueue", text(letter.source_queue)?)
            .message_attributes("SourceMessageId", text(letter.message_id)?)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(())
    }

    /// Puts an outbox record (lifecycle events EventBridge did not take, `crate::publish::Outbox`)
    /// in the queue at `queue_url`, visible after [`FIRST_RETRY_DELAY`]: handling it publishes
    /// them. `Err` (with the reason) when it could not.
    pub async fn send_outbox(&self, queue_url: &str, body: &str) -> Result<(), String> {
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .delay_seconds(FIRST_RETRY_DELAY.as_secs() as i32)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(())
    }

    /// Sets each record's visibility timeout to its delay. A record whose change fails comes
    /// back after the queue's own visibility timeout instead (logged).
    pub async fn return_later(&self, queue_url: &str, records: &[ReturnLater]) {
        for chunk in records.chunks(VISIBILITY_BATCH_MAX) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&r.receipt_handle)
                        .visibility_timeout(r.delay.as_secs().min(43_200) as i32)
                        .build()
                        .ok()
                })
                .collect();
            let result = self
                .client
                .change_message_visibility_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
            match result {
                Ok(output) => {
                    for failed in output.failed() {
                        let message_id = failed
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| chunk.get(i))
                            .map_or("", |r| r.message_id.as_str());
                        warn!(message_id, code = failed.code(), "could not delay the record's next receive; it comes back after the queue's visibility timeout");
                    }
                    debug!(records = chunk.len(), "records returned to the queue");
                }
                Err(e) => warn!(
                    error = %aws_sdk_sqs::error::DisplayErrorContext(e),
                    records = chunk.len(),
                    "could not delay the records' next receive; they come back after the queue's visibility timeout"
                ),
            }
        }
    }
}

/// An SQS queue's URL from its ARN (`arn:aws:sqs:<region>:<account>:<name>`), for the
/// visibility changes of a batch's records: `https://sqs.<region>.amazonaws.com/<account>/<name>`,
/// or under `endpoint` when the function's SQS endpoint is overridden (a local stack).
pub fn queue_url(queue_arn: &str, endpoint: Option<&str>) -> Option<String> {
    let mut parts = queue_arn.split(':');
    let (Some("arn"), Some(partition), Some("sqs"), Some(region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if parts.next().is_some() || region.is_empty() || account.is_empty() || name.is_empty() {
        return None;
    }
    Some(match endpoint {
        Some(endpoint) => format!("{}/{account}/{name}", endpoint.trim_end_matches('/')),
        None => {
            let domain = match partition {
                "aws-cn" => "amazonaws.com.cn",
                _ => "amazonaws.com",
            };
            format!("https://sqs.{region}.{domain}/{account}/{name}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_per_receive_up_to_ten_minutes() {
        let full: Vec<u64> = (1..=11).map(|n| retry_delay(n, 1.0).as_secs()).collect();
        assert_eq!(full, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        let half: Vec<u64> = (1..=11).map(|n| retry_delay(n, 0.0).as_secs()).collect();
        assert_eq!(half, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_delay(0, 1.0), Duration::from_secs(2));
        assert_eq!(retry_delay(u32::MAX, 1.0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(3, f64::NAN), Duration::from_secs(4));
        assert_eq!(retry_delay(3, 7.0), Duration::from_secs(8));
    }

    #[test]
    fn twenty_receives_take_about_an_hour_at_the_least() {
        // The template's default maxReceiveCount (20): what a record waits, at the least and
        // at the most, before the redrive policy takes it.
        let least: u64 = (1..20).map(|n| retry_delay(n, 0.0).as_secs()).sum();
        let most: u64 = (1..20).map(|n| retry_delay(n, 1.0).as_secs()).sum();
        assert_eq!((least, most), (3511, 7022));
    }

    #[test]
    fn queue_urls_come_from_arns() {
        let arn = "arn:aws:sqs:us-west-2:111122223333:stream-events-queue";
        assert_eq!(
            queue_url(arn, None).as_deref(),
            Some("https://sqs.us-west-2.amazonaws.com/111122223333/stream-events-queue")
        );
        assert_eq!(
            queue_url(arn, Some("http://127.0.0.1:5000/")).as_deref(),
            Some("http://127.0.0.1:5000/111122223333/stream-events-queue")
        );
        assert_eq!(
            queue_url("arn:aws-cn:sqs:cn-north-1:111122223333:q", None).as_deref(),
            Some("https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q")
        );
        for bad in [
            "",
            "arn:aws:sqs:us-west-2:111122223333",
            "arn:aws:sns:r:a:n",
            "x:y",
        ] {
            assert_eq!(queue_url(bad, None), None, "{bad}");
        }
    }
}
