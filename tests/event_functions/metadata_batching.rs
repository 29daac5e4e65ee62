//! Batched timed metadata (`ivs_adapter::ivs::batch`): how items are packed into payloads, and how
//! the payloads reach a channel: against the IVS emulator (its PutMetadata rate limit of 5 per
//! second per channel is on) and against a mocked IVS for the failures.

use std::time::Duration;

use aws_sdk_ivs::operation::put_metadata::PutMetadataOutput;
use aws_sdk_ivs::Client;
use domain::arn::{IvsArn, ResourceType};
use domain::metadata::MAX_METADATA_BYTES;
use ivs_adapter::error::IvsErrorKind;
use ivs_adapter::ivs::{
    pack, BatchError, BatchOutcome, BatchReport, Ivs, PackError, Packed, SendError,
    DEFAULT_METADATA_RATE,
};
use ivs_emulator::{Emulator, Server};
use serde_json::{json, Value};
use test_support::*;
use tracing::instrument::WithSubscriber;

// ---------------------------------------------------------------- helpers

/// The size of the payload `[items…]`, counted as IVS counts it.
fn run_bytes(items: &[Value]) -> usize {
    2 + items.iter().map(|i| i.to_string().len()).sum::<usize>() + items.len() - 1
}

/// The fewest payloads any order-keeping packing can use (dynamic programming over every
/// split, independent of `pack`'s greedy algorithm).
fn optimal_payloads(items: &[Value]) -> usize {
    let lens: Vec<usize> = items.iter().map(|i| i.to_string().len()).collect();
    // best[end]: the fewest payloads for items[..end].
    let mut best = vec![usize::MAX; items.len() + 1];
    best[0] = 0;
    for end in 1..=items.len() {
        // Runs items[start..end], longest last; `[a,b,…]` is 2 + lengths + commas.
        let mut bytes = 1;
        for start in (0..end).rev() {
            bytes += lens[start] + 1;
            if bytes > MAX_METADATA_BYTES {
                break;
            }
            if best[start] != usize::MAX {
                best[end] = best[end].min(best[start] + 1);
            }
        }
    }
    best[items.len()]
}

/// Checks what every packing must satisfy: payloads within the limit, consecutive item ranges
/// covering the list, each payload parsing back to exactly its items, and the fewest payloads.
fn assert_valid_and_minimal(items: &[Value], packed: &[Packed]) {
    let mut next = 0;
    let mut round_trip = Vec::new();
    for p in packed {
        assert!(
            p.payload.len() <= MAX_METADATA_BYTES,
            "{} bytes",
            p.payload.len()
        );
        assert_eq!(p.items.start, next, "ranges are consecutive");
        assert!(!p.items.is_empty());
        next = p.items.end;
        let parsed: Vec<Value> = serde_json::from_str(&p.payload).unwrap();
        assert_eq!(
            parsed,
            items[p.items.clone()],
            "a payload carries its items"
        );
        round_trip.extend(parsed);
    }
    assert_eq!(next, items.len(), "every item is packed");
    assert_eq!(round_trip, items, "in order");
    assert_eq!(packed.len(), optimal_payloads(items), "the fewest payloads");
}

/// A small deterministic generator (xorshift), so that shapes are varied but reproducible.
struct Shapes(u64);

impl Shapes {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// An item whose JSON is about `len` bytes, in one of several shapes.
    fn item(&mut self, len: usize) -> Value {
        let text = |c: &str, n: usize| c.repeat(n.max(1));
        match self.below(5) {
            0 => Value::String(text("a", len.saturating_sub(2))),
            1 => Value::String(text("é", len.saturating_sub(2) / 2)),
            2 => json!({"cue": text("🎥", len.saturating_sub(10) / 4)}),
            3 => json!([
                self.below(1000),
                text("€", len.saturating_sub(10) / 3),
                null
            ]),
            _ => json!({"n": self.below(u64::MAX), "t": text("z", len.saturating_sub(32))}),
        }
    }
}

fn text(len: usize) -> Value {
    Value::String("x".repeat(len))
}

fn channel_arn() -> IvsArn {
    IvsArn::parse_as(CHANNEL_ARN, ResourceType::Channel).unwrap()
}

// ---------------------------------------------------------------- packing

#[test]
fn many_small_items_fill_each_payload_in_order() {
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"seq": i, "cue": format!("cue number {i:03}")}))
        .collect();
    let packed = pack(&items).unwrap();
    assert_valid_and_minimal(&items, &packed);
    // Every payload but the last is full: the next item would not have fitted.
    for pair in packed.windows(2) {
        let next = items[pair[1].items.start].to_string().len();
        assert!(pair[0].payload.len() + 1 + next > MAX_METADATA_BYTES);
    }
}

#[test]
fn mixed_sizes_pack_into_the_fewest_payloads() {
    let mut shapes = Shapes(0x9E37_79B9_7F4A_7C15);
    for (count, max_len) in [(50, 60), (40, 300), (30, 700), (25, 1000), (60, 1020)] {
        for _ in 0..5 {
            let items: Vec<Value> = (0..count)
                .map(|_| {
                    let len = 3 + shapes.below(max_len) as usize;
                    shapes.item(len)
                })
                .filter(|item| item.to_string().len() + 2 <= MAX_METADATA_BYTES)
                .collect();
            let packed = pack(&items).unwrap();
            assert_valid_and_minimal(&items, &packed);
        }
    }
}

#[test]
fn payloads_are_filled_up_to_exactly_1024_bytes() {
    // Three items whose array is exactly 1024 bytes: `["…","…","…"]` = 2 + 2 + 3 × 2 + text.
    let exact = vec![text(338), text(338), text(338)];
    assert_eq!(run_bytes(&exact), 1024);
    let packed = pack(&exact).unwrap();
    assert_eq!(packed.len(), 1);
    assert_eq!(packed[0].payload.len(), 1024);
    assert_valid_and_minimal(&exact, &packed);

    // One byte more: the last item moves to a second payload.
    let over = vec![text(338), text(338), text(339)];
    let packed = pack(&over).unwrap();
    assert_eq!(
        packed.iter().map(|p| p.items.clone()).collect::<Vec<_>>(),
        [0..2, 2..3]
    );
    assert_valid_and_minimal(&over, &packed);

    // Items that each take a whole payload.
    let whole = vec![text(1020), text(1020), json!(1)];
    let packed = pack(&whole).unwrap();
    assert_eq!(packed.len(), 3);
    assert!(packed[..2].iter().all(|p| p.payload.len() == 1024));
    assert_valid_and_minimal(&whole, &packed);
}

#[test]
fn multibyte_items_are_counted_in_bytes_not_characters() {
    // 'é' is 2 bytes, '€' 3, '🎥' 4. Each item is 172 characters of JSON but 342 bytes:
    // three fit in one payload counted in characters (520), not in bytes (1030).
    let items = vec![
        Value::String("é".repeat(170)),
        Value::String("é".repeat(170)),
        Value::String("é".repeat(170)),
    ];
    let chars: usize = items.iter().map(|i| i.to_string().chars().count()).sum();
    assert_eq!(chars + 4, 520);
    assert_eq!(run_bytes(&items), 1030);
    let packed = pack(&items).unwrap();
    assert_eq!(packed.len(), 2, "does not fit when counting bytes");
    assert_valid_and_minimal(&items, &packed);

    // Exactly 1024 bytes of mixed widths: `["€…","🎥…"]` = 2 + 1 + 4 quotes + 3 × 223 + 4 × 87.
    let exact = vec![
        Value::String("€".repeat(223)),
        Value::String("🎥".repeat(87)),
        json!(1),
    ];
    assert_eq!(run_bytes(&exact[..2]), 1024);
    let packed = pack(&exact).unwrap();
    assert_eq!(packed.len(), 2, "the third item does not fit");
    assert_eq!(packed[0].payload.len(), 1024);
    assert_valid_and_minimal(&exact, &packed);

    let all_widths: Vec<Value> = ["a", "é", "€", "🎥", "a\"b\\c\n", "\u{1}"]
        .iter()
        .cycle()
        .take(400)
        .enumerate()
        .map(|(i, s)| Value::String(s.repeat(1 + i % 37)))
        .collect();
    let packed = pack(&all_widths).unwrap();
    assert_valid_and_minimal(&all_widths, &packed);
}

#[test]
fn an_item_too_large_alone_is_refused_with_its_index_and_size() {
    let mut items: Vec<Value> = (0..10).map(|i| json!(i)).collect();
    items[7] = text(1021);
    assert_eq!(
        pack(&items),
        Err(PackError::ItemTooLarge {
            index: 7,
            bytes: 1025
        })
    );
    // In bytes: 341 × '€' is 1023 bytes of text, 1027 as a payload.
    items[7] = Value::String("€".repeat(341));
    let err = pack(&items).unwrap_err();
    assert_eq!(
        err,
        PackError::ItemTooLarge {
            index: 7,
            bytes: 1027
        }
    );
    assert!(err
        .to_string()
        .starts_with("items[7] needs a payload of 1027 bytes"));
    // The first offending item is named.
    items[2] = json!({"big": "y".repeat(2000)});
    assert!(matches!(
        pack(&items),
        Err(PackError::ItemTooLarge { index: 2, .. })
    ));
}

#[test]
fn an_empty_list_is_refused() {
    assert_eq!(pack(&[]), Err(PackError::Empty));
}

// ---------------------------------------------------------------- the emulator

/// An emulator with IVS's PutMetadata limit on, a channel on it, and the IVS helpers.
struct Live {
    emulator: Emulator,
    server: Server,
    ivs: Ivs,
    channel: IvsArn,
    key: String,
}

impl Live {
    /// A new emulator and channel; the channel goes live if `connect`.
    async fn start(connect: bool) -> Live {
        let (emulator, server) = start_emulator(11).await;
        let client = ivs_client(&server.url());
        let created = client.create_channel().name("batch").send().await.unwrap();
        let channel = created.channel().unwrap().arn().unwrap();
        let channel = IvsArn::parse_as(channel, ResourceType::Channel).unwrap();
        let key = created.stream_key().unwrap().value().unwrap().to_owned();
        if connect {
            emulator.connect(&key).unwrap();
        }
        Live {
            emulator,
            server,
            ivs: Ivs::new(client),
            channel,
            key,
        }
    }

    /// Every item the channel's viewers received, in order.
    fn received(&self) -> Vec<Value> {
        self.emulator
            .metadata(self.channel.as_str())
            .iter()
            .flat_map(|m| serde_json::from_str::<Vec<Value>>(&m.payload).unwrap())
            .collect()
    }

    /// (requests, throttled requests) of PutMetadata as the emulator counted them.
    fn put_metadata_counts(&self) -> (u64, u64) {
        let stats = self.emulator.stats();
        let Some(op) = stats.operations.get("PutMetadata") else {
            return (0, 0);
        };
        let throttled = op.errors.get("ThrottlingException").copied().unwrap_or(0);
        assert_eq!(throttled, op.metadata_throttled);
        (op.requests, throttled)
    }

    /// Sends `packed` to the channel at IVS's default rate: the report.
    async fn send(&self, packed: &[Packed]) -> BatchReport {
        self.ivs
            .send_packed(&self.channel, packed, DEFAULT_METADATA_RATE)
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_small_items_arrive_in_order_without_throttling() {
    let live = Live::start(true).await;
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"seq": i, "cue": format!("audience question {i:03}")}))
        .collect();
    assert!(items
        .iter()
        .all(|i| (35..=45).contains(&i.to_string().len())));
    let packed = pack(&items).unwrap();
    assert!(packed.len() < 10, "{} payloads", packed.len());

    let report = live.send(&packed).await;

    assert_eq!(report.outcome, BatchOutcome::Delivered);
    assert_eq!(report.calls, packed.len());
    assert_eq!(report.sent.len(), packed.len());
    assert_eq!(report.items_sent(), 100);
    assert!(report.unsent.is_empty());
    for (sent, p) in report.sent.iter().zip(&packed) {
        assert_eq!(
            (sent.items.clone(), sent.bytes),
            (p.items.clone(), p.payload.len())
        );
    }
    assert_eq!(live.received(), items, "every item, in order");
    assert_eq!(
        live.put_metadata_counts(),
        (packed.len() as u64, 0),
        "one request per payload, none throttled"
    );
    live.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_items_are_paced_under_the_emulators_limit() {
    let live = Live::start(true).await;
    // 11 items of ~900 bytes: one payload each, so 5 + 5 + 1 calls over at least 2 seconds.
    let items: Vec<Value> = (0..11)
        .map(|i| Value::String(format!("{i:02}{}", "y".repeat(898))))
        .collect();

    let report = live
        .ivs
        .put_metadata_batch(&live.channel, &items, DEFAULT_METADATA_RATE)
        .await
        .unwrap();

    assert_eq!(report.outcome, BatchOutcome::Delivered);
    assert_eq!((report.calls, report.sent.len()), (11, 11));
    assert!(
        report.elapsed >= Duration::from_secs(2),
        "{:?}",
        report.elapsed
    );
    assert!(
        report.elapsed < Duration::from_secs(4),
        "{:?}",
        report.elapsed
    );
    assert_eq!(
        live.put_metadata_counts(),
        (11, 0),
        "paced under the limit: never throttled"
    );
    assert_eq!(live.received(), items);
    // The acceptance times the report gives: at most five in any second (on the wall clock,
    // read a few microseconds after the pacer's monotonic one: 10 ms of slack).
    for pair in report.sent.windows(6) {
        let gap = pair[5].at - pair[0].at;
        assert!(gap >= chrono::TimeDelta::milliseconds(990), "{gap:?}");
    }
    live.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_channel_gets_nothing_and_everything_is_reported_unsent() {
    let live = Live::start(false).await;
    let items: Vec<Value> = (0..40).map(|i| text(100 + i)).collect();
    let packed = pack(&items).unwrap();
    assert!(packed.len() > 1);

    let report = live.send(&packed).await;

    assert_eq!(report.outcome, BatchOutcome::ChannelOffline);
    assert!(report.sent.is_empty());
    assert_eq!(report.unsent, 0..40);
    assert_eq!(report.calls, 1, "the first answer stops the batch");
    assert!(live.received().is_empty());
    assert_eq!(live.put_metadata_counts(), (1, 0));

    // Once live, the same batch goes through.
    live.emulator.connect(&live.key).unwrap();
    let report = live.send(&packed).await;
    assert_eq!(report.outcome, BatchOutcome::Delivered);
    assert_eq!(live.received(), items);
    live.stop().await;
}

// ---------------------------------------------------------------- failures (mocked IVS)

fn put_ok() -> PutMetadataOutput {
    PutMetadataOutput::builder().build()
}

/// `send_packed` of `packed` to the test channel through `ivs`, at IVS's default rate.
async fn send(ivs: &Ivs, packed: &[Packed]) -> Result<BatchReport, SendError> {
    ivs.send_packed(&channel_arn(), packed, DEFAULT_METADATA_RATE)
        .await
}

/// `put_metadata_batch` of `items` to the test channel through `ivs`, at IVS's default rate.
async fn batch(ivs: &Ivs, items: &[Value]) -> Result<BatchReport, BatchError> {
    ivs.put_metadata_batch(&channel_arn(), items, DEFAULT_METADATA_RATE)
        .await
}

/// Three items of 600 bytes: three payloads.
fn three_payloads() -> (Vec<Value>, Vec<Packed>) {
    let items = vec![text(600), text(601), text(602)];
    let packed = pack(&items).unwrap();
    assert_eq!(packed.len(), 3);
    (items, packed)
}

#[tokio::test]
async fn a_channel_going_offline_mid_batch_stops_it_without_error() {
    let rule = mock!(Client::put_metadata)
        .sequence()
        .output(put_ok)
        .http_response(not_broadcasting)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 3);
    let (_, packed) = three_payloads();

    let report = send(&ivs, &packed).await.unwrap();

    assert_eq!(report.outcome, BatchOutcome::ChannelOffline);
    assert_eq!(report.sent.len(), 1);
    assert_eq!(report.sent[0].items, 0..1);
    assert_eq!(report.unsent, 1..3);
    assert_eq!(report.calls, 2);
    assert_eq!(rule.num_calls(), 2, "an offline channel is not retried");
}

#[tokio::test]
async fn a_failed_call_returns_the_error_with_what_was_delivered() {
    let rule = mock!(Client::put_metadata)
        .sequence()
        .output(put_ok)
        .output(put_ok)
        .http_response(|| ivs_error(403, "AccessDeniedException"))
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 3);
    let (_, packed) = three_payloads();

    let err = send(&ivs, &packed).await.unwrap_err();

    assert_eq!(err.error.ivs_kind(), Some(IvsErrorKind::AccessDenied));
    assert!(!err.error.is_retryable());
    assert_eq!(err.report.outcome, BatchOutcome::Failed);
    assert_eq!(err.report.items_sent(), 2);
    assert_eq!(err.report.unsent, 2..3);
    assert_eq!(err.report.calls, 3);
    assert_eq!(rule.num_calls(), 3, "a denied call is not retried");
    let message = err.to_string();
    assert!(
        message.starts_with("timed metadata batch stopped at items[2] after 2 payload(s)"),
        "{message}"
    );
    assert!(message.contains("AccessDeniedException"), "{message}");
    assert_eq!(
        serde_json::to_value(&err.report).unwrap()["outcome"],
        "failed"
    );
}

#[tokio::test]
async fn throttling_that_outlives_the_retries_fails_with_the_partial_report() {
    let rule = mock!(Client::put_metadata)
        .sequence()
        .output(put_ok)
        .http_response(throttled)
        .times(3)
        .build();
    let ivs = fast_ivs(mocked_client!(&[&rule]), 3);
    let (items, _) = three_payloads();

    let err = batch(&ivs, &items).await.unwrap_err();

    let BatchError::Send(err) = err else {
        panic!("expected a send failure, got {err:?}");
    };
    assert_eq!(err.error.ivs_kind(), Some(IvsErrorKind::Throttled));
    assert!(err.error.is_retryable());
    assert_eq!(err.report.sent.len(), 1);
    assert_eq!(err.report.unsent, 1..3);
    assert_eq!(
        err.report.calls, 2,
        "one call per payload, retries not counted"
    );
    assert_eq!(rule.num_calls(), 4, "1 + put_metadata's 3 attempts");
}

#[tokio::test]
async fn items_that_cannot_be_packed_are_refused_before_any_call() {
    let rule = mock!(Client::put_metadata).then_output(put_ok);
    let ivs = fast_ivs(mocked_client!(&[&rule]), 3);
    let items = vec![json!("ok"), text(5000)];

    let err = batch(&ivs, &items).await.unwrap_err();

    assert!(matches!(
        err,
        BatchError::Pack(PackError::ItemTooLarge {
            index: 1,
            bytes: 5004
        })
    ));
    let err = batch(&ivs, &[]).await.unwrap_err();
    assert!(matches!(err, BatchError::Pack(PackError::Empty)));
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn one_info_line_per_batch_and_never_the_payload_text() {
    let rule = mock!(Client::put_metadata).then_output(put_ok);
    let ivs = fast_ivs(mocked_client!(&[&rule]), 3);
    let items: Vec<Value> = (0..30)
        .map(|i| json!({"cue": format!("SECRET-CUE-{i}-{}", "q".repeat(90))}))
        .collect();
    let packed = pack(&items).unwrap();
    let capture = LogCapture::new();

    let report = send(&ivs, &packed)
        .with_subscriber(capture.subscriber("trace"))
        .await
        .unwrap();

    assert_eq!(report.items_sent(), 30);
    assert!(
        !capture.text().contains("SECRET-CUE"),
        "a payload reached the logs"
    );
    let records = capture.records();
    let batch: Vec<_> = records
        .iter()
        .filter(|r| r["message"] == "timed metadata batch")
        .collect();
    assert_eq!(batch.len(), 1, "one line per batch");
    let line = batch[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["channel_arn"], CHANNEL_ARN);
    assert_eq!(line["items"], 30);
    assert_eq!(line["items_sent"], 30);
    assert_eq!(line["payloads"], packed.len());
    assert_eq!(line["calls"], packed.len());
    assert_eq!(line["outcome"], "delivered");
    assert!(line["elapsed_ms"].is_u64());
    assert!(line.get("error_type").is_none());
}
