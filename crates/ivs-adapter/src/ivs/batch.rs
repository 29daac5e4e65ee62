//! Batched timed metadata: many small items delivered to one live channel as fast as IVS
//! allows.
//!
//! IVS takes at most [`MAX_METADATA_BYTES`] of UTF-8 per `PutMetadata` payload and at most
//! [`DEFAULT_METADATA_RATE`] calls per second per channel. Items are therefore packed several
//! to a payload ([`pack`]), and the payloads are sent in order, paced under the channel's rate
//! ([`Pacer`], [`Ivs::send_packed`]). [`Ivs::put_metadata_batch`] does both.
//!
//! # Errors
//!
//! Packing and sending fail in different ways and are reported separately, so that a caller
//! can tell "nothing was sent, the request is wrong" from "IVS failed part-way":
//! - [`pack`] is pure and fails with a [`PackError`] before any call is made (an HTTP API
//!   answers 400 naming the item);
//! - [`Ivs::send_packed`] fails with a [`SendError`] that carries the [`BatchReport`] of what
//!   was delivered before the failure (viewers already saw those items: the caller must know
//!   which ones, to report them or to resend only the rest);
//! - [`Ivs::put_metadata_batch`] returns either in a [`BatchError`].
//!
//! An offline channel is not an error: the batch stops and the report's outcome says so
//! ([`BatchOutcome::ChannelOffline`]), as [`Ivs::put_metadata`] does for one payload.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;
use tokio::time::Instant;
use tracing::info;

use crate::error::Error;
use domain::arn::IvsArn;

use domain::metadata::MAX_METADATA_BYTES;

use super::{Ivs, MetadataOutcome};

/// IVS's `PutMetadata` rate per channel, in calls per second (the account-wide limit is 155).
pub const DEFAULT_METADATA_RATE: u32 = 5;

/// The window IVS counts its per-second rate over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// A payload made by [`pack`]: a compact JSON array of consecutive items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    /// The payload as sent, at most [`MAX_METADATA_BYTES`] of UTF-8.
    pub payload: String,
    /// The indexes of the items it carries, in the list given to [`pack`].
    pub items: Range<usize>,
}

/// Why a list of items cannot be packed. Nothing is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// There is nothing to send.
    #[error("the list of timed metadata items is empty")]
    Empty,
    /// An item too large for a payload even on its own.
    #[error(
        "items[{index}] needs a payload of {bytes} bytes of UTF-8 (the item in a JSON array); \
         IVS accepts at most {MAX_METADATA_BYTES}"
    )]
    ItemTooLarge {
        /// The item's index in the list.
        index: usize,
        /// The UTF-8 size of the payload `[item]`: the item's compact JSON plus 2 bytes.
        bytes: usize,
    },
}

/// Packs `items` into as few payloads as possible, keeping their order.
///
/// Each payload is the compact JSON array of consecutive items (`["a",{"b":1}]`; an item
/// that is a JSON string is a text cue), at most [`MAX_METADATA_BYTES`] bytes of UTF-8 (the
/// bytes are counted, not the characters; JSON escapes count as written). Concatenating the
/// arrays of the payloads, in order, gives back `items`.
///
/// # Why greedy filling is optimal
///
/// Each payload is filled with as many of the next items as fit, then the next payload
/// starts. Viewers must see the items in order, so a packing is a split of the list into
/// consecutive runs, each fitting in one payload; and a run that fits still fits when items
/// are taken off either end (a payload only shrinks). Take any valid packing into `k`
/// payloads. By induction the `j`-th greedy payload ends at or after the `j`-th payload of
/// that packing: true for `j = 1`, since greedy takes the longest run that fits; and if the
/// greedy payload `j` ends at or after the other's, the other's payload `j + 1` (which ends
/// at index `e`) contains the items from greedy's next start up to `e`, a shorter run that
/// therefore fits, so greedy payload `j + 1` reaches at least `e`. Hence greedy has covered
/// every item after at most `k` payloads: no order-keeping packing uses fewer.
///
/// # Errors
///
/// [`PackError::Empty`] for an empty list; [`PackError::ItemTooLarge`] for the first item
/// that does not fit a payload on its own.
pub fn pack(items: &[Value]) -> Result<Vec<Packed>, PackError> {
    if items.is_empty() {
        return Err(PackError::Empty);
    }
    let mut packed = Vec::new();
    // The payload being filled, without its closing bracket.
    let mut payload = String::with_capacity(MAX_METADATA_BYTES);
    let mut start = 0;
    for (index, item) in items.iter().enumerate() {
        let json = encode(item);
        let alone = json.len() + 2;
        if alone > MAX_METADATA_BYTES {
            return Err(PackError::ItemTooLarge {
                index,
                bytes: alone,
            });
        }
        // With this item, after a comma, and the closing bracket.
        if index > start && payload.len() + 1 + json.len() + 1 > MAX_METADATA_BYTES {
            payload.push(']');
            let full = std::mem::replace(&mut payload, String::with_capacity(MAX_METADATA_BYTES));
            packed.push(Packed {
                payload: full,
                items: start..index,
            });
            start = index;
        }
        payload.push(if index == start { '[' } else { ',' });
        payload.push_str(&json);
    }
    payload.push(']');
    packed.push(Packed {
        payload,
        items: start..items.len(),
    });
    Ok(packed)
}

/// The compact JSON of one item. `Value`'s `Display` writes compact JSON and cannot fail:
/// every `Value` is serializable (object keys are strings, numbers are finite) and writing
/// to a `String` does not fail. Non-ASCII characters are written as UTF-8, not escaped, so
/// `len()` is the size IVS counts.
fn encode(item: &Value) -> String {
    item.to_string()
}

/// Paces calls to at most `per_second` in any rolling second, for one channel.
///
/// Each call is counted from the moment [`ready`](Self::ready) lets it start; a call
/// wrapped in [`pace`](Self::pace) (or followed by [`completed`](Self::completed)) is then
/// counted from the moment its answer arrived instead. IVS counts a request at some moment
/// between the two, which the client cannot observe, and the next request reaches IVS after
/// it is sent: spacing the start of call `n + per_second` at least a second after the answer
/// to call `n` keeps IVS's count within the limit whatever the network delay, at the price
/// of one round trip per `per_second` calls.
///
/// One pacer knows only the calls made through it: two batches to the same channel at the
/// same time, or other `PutMetadata` calls to it meanwhile, can still be throttled (and are
/// then retried by [`Ivs::put_metadata`]).
///
/// Time is [`tokio::time::Instant`], so a paused tokio clock (tokio's `test-util` feature)
/// drives it as it drives `tokio::time::sleep`.
#[derive(Clone, Debug)]
pub struct Pacer {
    per_second: u32,
    /// When the most recent calls (at most `per_second` of them) were counted, oldest first.
    recent: VecDeque<Instant>,
}

impl Default for Pacer {
    /// A pacer at IVS's rate, [`DEFAULT_METADATA_RATE`].
    fn default() -> Self {
        Pacer::new(DEFAULT_METADATA_RATE)
    }
}

impl Pacer {
    /// A pacer allowing `per_second` calls in any rolling second (0 is taken as 1).
    pub fn new(per_second: u32) -> Self {
        Pacer {
            per_second: per_second.max(1),
            recent: VecDeque::new(),
        }
    }

    /// The calls allowed in any rolling second.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Waits until the next call is allowed, then counts it as made now.
    ///
    /// Cancel-safe: dropped while waiting, it counts nothing.
    pub async fn ready(&mut self) {
        tokio::time::sleep_until(self.next_allowed(Instant::now())).await;
        self.record(Instant::now());
    }

    /// Moves the count of the last call made after [`ready`](Self::ready) to now: call it
    /// when the call's answer arrives.
    pub fn completed(&mut self) {
        self.restamp_last(Instant::now());
    }

    /// Waits until the next call is allowed, makes it (`call` is a future, which does
    /// nothing until awaited) and counts it as made when it finished.
    pub async fn pace<F: Future>(&mut self, call: F) -> F::Output {
        self.ready().await;
        let output = call.await;
        self.completed();
        output
    }

    /// The earliest instant, `now` or later, at which one more call keeps at most
    /// `per_second` calls in any window of one second.
    fn next_allowed(&self, now: Instant) -> Instant {
        if self.recent.len() < self.window_len() {
            return now;
        }
        // The window is full: the next call must come a second after the oldest one in it.
        match self.recent.front() {
            Some(oldest) => now.max(*oldest + RATE_WINDOW),
            None => now,
        }
    }

    /// Counts a call made at `at` (never earlier than the calls already counted).
    fn record(&mut self, at: Instant) {
        self.recent.push_back(at);
        while self.recent.len() > self.window_len() {
            self.recent.pop_front();
        }
    }

    /// Counts the most recent call at `at` instead (`at` is later: the order is kept).
    fn restamp_last(&mut self, at: Instant) {
        if let Some(last) = self.recent.back_mut() {
            *last = (*last).max(at);
        }
    }

    fn window_len(&self) -> usize {
        usize::try_from(self.per_second).unwrap_or(usize::MAX)
    }
}

/// How a batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOutcome {
    /// Every payload was delivered.
    Delivered,
    /// The channel was (or went) offline: the payloads from there on were not sent.
    ChannelOffline,
    /// A call failed for good; only in the report of a [`SendError`].
    Failed,
}

impl BatchOutcome {
    /// The outcome as logged and serialized: `delivered`, `channel_offline`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchOutcome::Delivered => "delivered",
            BatchOutcome::ChannelOffline => "channel_offline",
            BatchOutcome::Failed => "failed",
        }
    }
}

/// One payload IVS accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentPayload {
    /// The indexes of the items it carried.
    pub items: Range<usize>,
    /// Its size in UTF-8 bytes.
    pub bytes: usize,
    /// When IVS's answer arrived (IVS inserted the payload into the stream shortly before).
    pub at: DateTime<Utc>,
}

/// What a batch did. Serialized in camelCase, with `elapsed` as `elapsedMs` (milliseconds):
/// `{"sent": [{"items": {"start": 0, "end": 24}, "bytes": 1015, "at": "…"}], "unsent":
/// {"start": 24, "end": 30}, "calls": 2, "elapsedMs": 212, "outcome": "channel_offline"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    /// The payloads IVS accepted, in order.
    pub sent: Vec<SentPayload>,
    /// The items not delivered (from the first payload not accepted to the end; empty when
    /// all were). After a failure, IVS may still have received the failed payload if its
    /// answer was lost (a timeout or a 5xx).
    pub unsent: Range<usize>,
    /// `PutMetadata` calls made: one per payload tried. The retries of a throttled or failed
    /// call (by [`Ivs::put_metadata`]) are not counted; they are logged.
    pub calls: usize,
    /// Time from the first call's start to the last call's end, pauses included.
    #[serde(rename = "elapsedMs", serialize_with = "serialize_millis")]
    pub elapsed: Duration,
    /// How the batch ended.
    pub outcome: BatchOutcome,
}

impl BatchReport {
    /// The number of items delivered.
    pub fn items_sent(&self) -> usize {
        self.sent.iter().map(|p| p.items.len()).sum()
    }
}

fn serialize_millis<S: Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// A batch that stopped on a failed call (after [`Ivs::put_metadata`]'s own retries).
///
/// The report says what was delivered before the failure (those items reached viewers and
/// must not be resent as if nothing happened); its outcome is [`BatchOutcome::Failed`].
#[derive(Debug, thiserror::Error)]
#[error(
    "timed metadata batch stopped at items[{}] after {} payload(s) were delivered: {error}",
    report.unsent.start,
    report.sent.len()
)]
pub struct SendError {
    /// What the batch did before the failure.
    pub report: BatchReport,
    /// The failure (the crate's error type: its kind says whether a retry may help).
    pub error: Box<Error>,
}

/// Why [`Ivs::put_metadata_batch`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The items cannot be packed: nothing was sent.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// A call failed part-way: the report says what was delivered.
    #[error(transparent)]
    Send(#[from] SendError),
}

impl Ivs {
    /// Packs `items` ([`pack`]) and sends the payloads ([`send_packed`](Self::send_packed)).
    ///
    /// # Errors
    ///
    /// [`BatchError::Pack`] before any call; [`BatchError::Send`] with the partial report
    /// when a call fails for good.
    pub async fn put_metadata_batch(
        &self,
        channel: &IvsArn,
        items: &[Value],
        per_second: u32,
    ) -> Result<BatchReport, BatchError> {
        let packed = pack(items)?;
        Ok(self.send_packed(channel, &packed, per_second).await?)
    }

    /// Sends payloads made by [`pack`] to the channel, in order, one [`Ivs::put_metadata`]
    /// call each (validation, retries with backoff), at most `per_second` calls in any
    /// rolling second ([`Pacer`]; use [`DEFAULT_METADATA_RATE`]: above it IVS throttles and
    /// the calls are retried, which is slower, not faster).
    ///
    /// An offline channel stops the batch: the report's outcome is
    /// [`BatchOutcome::ChannelOffline`] and the remaining items are in `unsent`. One `info`
    /// line is logged per batch (channel, counts, elapsed time; never the payloads).
    ///
    /// Dropping the future stops the batch between or during calls, with no report.
    ///
    /// # Errors
    ///
    /// A call that fails for good stops the batch: [`SendError`] carries the error and the
    /// report of what was delivered before it.
    pub async fn send_packed(
        &self,
        channel: &IvsArn,
        packed: &[Packed],
        per_second: u32,
    ) -> Result<BatchReport, SendError> {
        let started = Instant::now();
        let mut pacer = Pacer::new(per_second);
        let mut sent = Vec::with_capacity(packed.len());
        let mut outcome = BatchOutcome::Delivered;
        let mut failure = None;
        let mut calls = 0;
        for payload in packed {
            calls += 1;
            match pacer
                .pace(self.put_metadata(channel, &payload.payload))
                .await
            {
                Ok(MetadataOutcome::Delivered) => sent.push(SentPayload {
                    items: payload.items.clone(),
                    bytes: payload.payload.len(),
                    at: Utc::now(),
                }),
                Ok(MetadataOutcome::ChannelOffline) => {
                    outcome = BatchOutcome::ChannelOffline;
                    break;
                }
                Err(error) => {
                    outcome = BatchOutcome::Failed;
                    failure = Some(error);
                    break;
                }
            }
        }
        let first = packed.first().map_or(0, |p| p.items.start);
        let end = packed.last().map_or(first, |p| p.items.end);
        let unsent = packed
            .get(sent.len())
            .map_or(end..end, |p| p.items.start..end);
        let report = BatchReport {
            sent,
            unsent,
            calls,
            elapsed: started.elapsed(),
            outcome,
        };
        info!(
            channel_arn = %channel,
            items = end.saturating_sub(first),
            items_sent = report.items_sent(),
            payloads = packed.len(),
            payloads_sent = report.sent.len(),
            calls = report.calls,
            per_second = pacer.per_second(),
            elapsed_ms = u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
            outcome = outcome.as_str(),
            error_type = failure.as_ref().map(Error::error_type).as_deref(),
            "timed metadata batch"
        );
        match failure {
            None => Ok(report),
            Some(error) => Err(SendError {
                report,
                error: Box::new(error),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(len: usize) -> Value {
        Value::String("x".repeat(len))
    }

    fn payloads(packed: &[Packed]) -> Vec<&str> {
        packed.iter().map(|p| p.payload.as_str()).collect()
    }

    #[test]
    fn small_items_share_one_compact_array_in_order() {
        let items = vec![json!("a"), json!({"b": 1}), json!([1, 2]), json!(null)];
        let packed = pack(&items).unwrap();
        assert_eq!(payloads(&packed), [r#"["a",{"b":1},[1,2],null]"#]);
        assert_eq!(packed[0].items, 0..4);
    }

    #[test]
    fn a_payload_is_filled_to_exactly_the_limit_and_no_further() {
        // `["…","…"]`: 2 brackets + 1 comma + 2 × (len + 2 quotes).
        let exact = vec![text(508), text(509)];
        assert_eq!(
            exact[0].to_string().len() + exact[1].to_string().len() + 3,
            1024
        );
        let packed = pack(&exact).unwrap();
        assert_eq!(packed.len(), 1);
        assert_eq!(packed[0].payload.len(), 1024);

        let over = vec![text(509), text(509)];
        let packed = pack(&over).unwrap();
        assert_eq!(packed.len(), 2);
        assert_eq!(
            (packed[0].items.clone(), packed[1].items.clone()),
            (0..1, 1..2)
        );
    }

    #[test]
    fn an_item_alone_may_take_the_whole_payload() {
        // `["x…x"]` with 1020 x: 1024 bytes.
        let packed = pack(&[text(1020)]).unwrap();
        assert_eq!(packed[0].payload.len(), 1024);
        assert_eq!(
            pack(&[json!(1), text(1021)]),
            Err(PackError::ItemTooLarge {
                index: 1,
                bytes: 1025
            })
        );
    }

    #[test]
    fn bytes_are_counted_in_utf8_with_escapes_as_written() {
        // 'é' is 2 bytes: `["é…é"]` with 510 of them is 2 + 2 + 1020 = 1024 bytes.
        let packed = pack(&[Value::String("é".repeat(510))]).unwrap();
        assert_eq!(packed[0].payload.len(), 1024);
        assert_eq!(
            pack(&[Value::String("🎥".repeat(256))]),
            Err(PackError::ItemTooLarge {
                index: 0,
                bytes: 1028
            })
        );
        // A control character is written `\u0001`: 6 bytes for one char.
        let escaped = Value::String("\u{1}".repeat(169));
        assert_eq!(escaped.to_string().len(), 169 * 6 + 2);
        assert_eq!(pack(&[escaped]).unwrap()[0].payload.len(), 1018);
    }

    #[test]
    fn an_empty_list_is_refused() {
        assert_eq!(pack(&[]), Err(PackError::Empty));
    }

    #[test]
    fn pack_errors_name_the_item() {
        let e = PackError::ItemTooLarge {
            index: 3,
            bytes: 1100,
        };
        assert_eq!(
            e.to_string(),
            "items[3] needs a payload of 1100 bytes of UTF-8 (the item in a JSON array); IVS \
             accepts at most 1024"
        );
    }

    /// Runs `calls` calls through the pacer's arithmetic on a virtual clock, each taking
    /// `latency`; returns when each call started.
    fn simulate(per_second: u32, calls: usize, latency: Duration) -> Vec<Instant> {
        let origin = Instant::now();
        let mut pacer = Pacer::new(per_second);
        let mut now = origin;
        let mut starts = Vec::new();
        for _ in 0..calls {
            now = pacer.next_allowed(now);
            pacer.record(now);
            starts.push(now);
            now += latency;
            pacer.restamp_last(now);
        }
        starts
    }

    fn most_in_any_second(starts: &[Instant]) -> usize {
        starts
            .iter()
            .map(|first| {
                starts
                    .iter()
                    .filter(|t| **t >= *first && **t - *first < RATE_WINDOW)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn the_pacer_allows_a_burst_then_one_call_per_freed_slot() {
        let starts = simulate(5, 12, Duration::ZERO);
        let origin = starts[0];
        let offsets: Vec<u128> = starts.iter().map(|t| (*t - origin).as_millis()).collect();
        assert_eq!(
            offsets,
            [0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000, 2000]
        );
        assert_eq!(most_in_any_second(&starts), 5);
    }

    #[test]
    fn the_pacer_counts_a_call_from_its_answer() {
        // 100 ms per call: the sixth call starts a second after the first one's answer.
        let starts = simulate(5, 12, Duration::from_millis(100));
        let origin = starts[0];
        let offsets: Vec<u128> = starts.iter().map(|t| (*t - origin).as_millis()).collect();
        assert_eq!(
            offsets,
            [0, 100, 200, 300, 400, 1100, 1200, 1300, 1400, 1500, 2200, 2300]
        );
        assert!(most_in_any_second(&starts) <= 5);
        // IVS counts each request somewhere within its round trip: any such choice keeps
        // at most 5 in a second, e.g. the latest possible for call n, the earliest for n + 5.
        for pair in starts.windows(6) {
            assert!(pair[5] - (pair[0] + Duration::from_millis(100)) >= RATE_WINDOW);
        }
    }

    #[test]
    fn the_pacer_takes_zero_as_one_per_second() {
        let pacer = Pacer::new(0);
        assert_eq!(pacer.per_second(), 1);
        let starts = simulate(0, 3, Duration::ZERO);
        assert_eq!(starts[2] - starts[0], Duration::from_secs(2));
        assert_eq!(Pacer::default().per_second(), DEFAULT_METADATA_RATE);
    }

    #[tokio::test]
    async fn the_pacer_waits_on_the_tokio_clock() {
        // Real time (tokio's test-util, which pauses the clock, is not enabled in this
        // workspace): 6 calls at 5 per second take one second, no more.
        let mut pacer = Pacer::new(5);
        let started = Instant::now();
        for _ in 0..6 {
            pacer.pace(async {}).await;
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= RATE_WINDOW, "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    }

    #[test]
    fn the_report_serializes_in_camel_case_with_milliseconds() {
        let report = BatchReport {
            sent: vec![SentPayload {
                items: 0..2,
                bytes: 11,
                at: "2026-01-05T10:00:00Z".parse().unwrap(),
            }],
            unsent: 2..3,
            calls: 2,
            elapsed: Duration::from_micros(1_234_567),
            outcome: BatchOutcome::ChannelOffline,
        };
        assert_eq!(report.items_sent(), 2);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({
                "sent": [{"items": {"start": 0, "end": 2}, "bytes": 11, "at": "2026-01-05T10:00:00Z"}],
                "unsent": {"start": 2, "end": 3},
                "calls": 2,
                "elapsedMs": 1234,
                "outcome": "channel_offline"
            })
        );
    }
}
