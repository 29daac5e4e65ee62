//! IVS's account-wide API rate quotas as the real `aws-sdk-ivs` client meets them (its own
//! retries off): a burst beyond an operation's quota is answered `ThrottlingException` (429), the
//! bucket refills in a second, each operation has its own, the factor scales them and 0 turns
//! them off; PutMetadata's 155 per second hold across channels. And seeding: thousands of
//! channels, outside the quotas, as the SDK then sees them.
//!
//! Timing: each bucket holds one second of its operation's rate and refills continuously, so a
//! burst of calls that took `elapsed` is accepted `quota` times at least (the bucket starts
//! full) and `quota + rate × elapsed` times at most. The tests assert both bounds with the
//! measured `elapsed`: exactly `quota` on any machine that makes the calls faster than one
//! token's refill (200 ms at 5 per second), and still sound on a slow one.

use std::time::{Duration, Instant};

use aws_sdk_ivs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::operation::put_metadata::PutMetadataError;
use aws_sdk_ivs::Client;
use ivs_emulator::{Config, Emulator, Live, RateQuotas, SeedSpec, Server};
use test_support::{ivs_client, start_emulator_with};

const P384_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEbVb8YGgdgI3bhXAgEoM8GPTQGaB4/MM+
EwosSAA2LVzZBf/2L+sKUMCHCD4rCjS2uVOoLbgjx90YZpsS0jsXMKth/lmlLUL5
8bCDVmSBEJv50eAxKJgZhQq1rEJDqyei
-----END PUBLIC KEY-----";

async fn emulator(rate_quotas: RateQuotas) -> (Emulator, Server, Client) {
    let (emulator, server) = start_emulator_with(Config {
        seed: 31,
        rate_quotas,
        ..Config::default()
    })
    .await;
    let client = ivs_client(&server.url());
    (emulator, server, client)
}

/// One seeded channel (outside the quotas): its ARN and its stream key's ARN.
fn one_channel(emulator: &Emulator, live: usize) -> (String, String) {
    let seeded = emulator
        .seed_channels(&SeedSpec {
            channels: 1,
            live: Live::Count(live),
            ..SeedSpec::default()
        })
        .unwrap();
    (seeded[0].arn.clone(), seeded[0].stream_key_arn.clone())
}

/// What a burst of calls got.
struct Burst {
    ok: usize,
    /// The error code and HTTP status of each refused call.
    refused: Vec<(String, u16)>,
    elapsed: Duration,
}

impl Burst {
    /// Asserts that `quota` calls (or the few more that `rate` refilled meanwhile) passed and
    /// every other one was a ThrottlingException (429).
    fn assert_quota(&self, what: &str, quota: usize, rate: f64) {
        let most = quota + (rate * self.elapsed.as_secs_f64()).floor() as usize;
        assert!(
            (quota..=most).contains(&self.ok),
            "{what}: {} accepted in {:?}, expected {quota}..={most}",
            self.ok,
            self.elapsed
        );
        assert!(
            self.refused
                .iter()
                .all(|(code, status)| code == "ThrottlingException" && *status == 429),
            "{what}: {:?}",
            self.refused
        );
    }
}

/// Runs `call` `count` times back to back.
async fn burst<T, E, F, Fut>(count: usize, mut call: F) -> Burst
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<
        Output = Result<T, SdkError<E, aws_sdk_ivs::config::http::HttpResponse>>,
    >,
{
    let start = Instant::now();
    let mut ok = 0;
    let mut refused = Vec::new();
    for _ in 0..count {
        match call().await {
            Ok(_) => ok += 1,
            Err(err) => {
                let status = err.raw_response().map_or(0, |r| r.status().as_u16());
                let code = err.code().unwrap_or("<none>").to_owned();
                refused.push((code, status));
            }
        }
    }
    Burst {
        ok,
        refused,
        elapsed: start.elapsed(),
    }
}

#[tokio::test]
async fn a_burst_beyond_the_quota_is_throttled_per_operation() {
    let (emulator, server, c) = emulator(RateQuotas::default()).await;
    let (channel, _) = one_channel(&emulator, 0);
    let pair = c
        .import_playback_key_pair()
        .public_key_material(P384_PUBLIC_KEY)
        .send()
        .await
        .unwrap();
    let pair = pair.key_pair().unwrap().arn().unwrap().to_owned();

    // A few more calls than the quota, so that some are refused even on a slow machine.
    let get_channel = burst(10, || c.get_channel().arn(&channel).send()).await;
    get_channel.assert_quota("GetChannel", 5, 5.0);
    let tags = burst(16, || {
        c.list_tags_for_resource().resource_arn(&channel).send()
    })
    .await;
    tags.assert_quota("ListTagsForResource", 10, 10.0);
    let pairs = burst(7, || c.get_playback_key_pair().arn(&pair).send()).await;
    pairs.assert_quota("GetPlaybackKeyPair", 3, 3.0);

    // Every refusal is counted, per operation.
    let stats = emulator.stats();
    for (operation, burst, calls) in [
        ("GetChannel", &get_channel, 10),
        ("ListTagsForResource", &tags, 16),
        ("GetPlaybackKeyPair", &pairs, 7),
    ] {
        let counted = &stats.operations[operation];
        let refused = burst.refused.len() as u64;
        assert!(refused > 0, "{operation}: nothing throttled");
        assert_eq!(counted.requests, calls, "{operation}");
        assert_eq!(counted.rate_throttled, refused, "{operation}");
        assert_eq!(
            counted.errors["ThrottlingException"], refused,
            "{operation}"
        );
    }
    assert_eq!(stats.operations["ImportPlaybackKeyPair"].rate_throttled, 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn operations_that_model_throttling_get_the_typed_variant() {
    let (emulator, server, c) = emulator(RateQuotas::default()).await;
    let (channel, _) = one_channel(&emulator, 1);
    // Calls back to back until the first refusal (the 11th on any machine that makes 10 calls
    // in less than 100 ms; a few more on a slow one).
    let mut accepted = 0;
    let refused = loop {
        let call = c
            .start_viewer_session_revocation()
            .channel_arn(&channel)
            .viewer_id(format!("viewer-{accepted}"))
            .send()
            .await;
        match call {
            Ok(_) if accepted < 100 => accepted += 1,
            Ok(_) => panic!("100 revocations back to back, none throttled"),
            Err(err) => break err,
        }
    };
    assert!(accepted >= 10, "{accepted} accepted");
    assert!(
        refused
            .as_service_error()
            .is_some_and(|e| e.is_throttling_exception()),
        "{refused:?}"
    );
    // GetChannel's model has no ThrottlingException: the SDK reports its code.
    let mut accepted = 0;
    let refused = loop {
        match c.get_channel().arn(&channel).send().await {
            Ok(_) if accepted < 100 => accepted += 1,
            Ok(_) => panic!("100 GetChannel calls back to back, none throttled"),
            Err(err) => break err,
        }
    };
    assert!(accepted >= 5, "{accepted} accepted");
    assert_eq!(refused.code(), Some("ThrottlingException"));
    let raw = refused.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    let body = std::str::from_utf8(raw.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        r#"{"exceptionMessage":"Rate exceeded: GetChannel allows 5 requests per second per account"}"#
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_bucket_refills_in_a_second() {
    let (emulator, server, c) = emulator(RateQuotas::default()).await;
    let (_, key) = one_channel(&emulator, 0);
    let first = burst(9, || c.get_stream_key().arn(&key).send()).await;
    first.assert_quota("GetStreamKey", 5, 5.0);
    assert!(!first.refused.is_empty());
    // A second after the last token was taken, the bucket is full again (no more).
    tokio::time::sleep(Duration::from_millis(1_010)).await;
    let second = burst(7, || c.get_stream_key().arn(&key).send()).await;
    second.assert_quota("GetStreamKey after a second", 5, 5.0);
    // One token flows back every 200 ms.
    tokio::time::sleep(Duration::from_millis(210)).await;
    let third = burst(1, || c.get_stream_key().arn(&key).send()).await;
    assert_eq!(third.ok, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_operation_has_its_own_quota() {
    let (emulator, server, c) = emulator(RateQuotas::default()).await;
    let (channel, _) = one_channel(&emulator, 1);
    let get_channel = burst(10, || c.get_channel().arn(&channel).send()).await;
    get_channel.assert_quota("GetChannel", 5, 5.0);
    assert!(!get_channel.refused.is_empty());
    // GetChannel is out of tokens; ListStreams and GetStream still have all theirs.
    let list = burst(5, || c.list_streams().send()).await;
    assert_eq!(list.ok, 5, "{:?}", list.refused);
    let get = burst(5, || c.get_stream().channel_arn(&channel).send()).await;
    assert_eq!(get.ok, 5, "{:?}", get.refused);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_factor_scales_every_quota_and_zero_turns_them_off() {
    let (emulator, server, c) = emulator(RateQuotas::scaled(3.0)).await;
    let (channel, _) = one_channel(&emulator, 0);
    let scaled = burst(18, || c.get_channel().arn(&channel).send()).await;
    scaled.assert_quota("GetChannel at factor 3", 15, 15.0);
    let tags = burst(33, || {
        c.list_tags_for_resource().resource_arn(&channel).send()
    })
    .await;
    tags.assert_quota("ListTagsForResource at factor 3", 30, 30.0);

    emulator.set_rate_quotas(RateQuotas::off());
    let off = burst(60, || c.get_channel().arn(&channel).send()).await;
    assert_eq!(off.ok, 60, "{:?}", off.refused);
    server.shutdown().await.unwrap();

    let (emulator, server, c) = emulator_off().await;
    let (channel, _) = one_channel(&emulator, 0);
    let off = burst(40, || {
        c.list_tags_for_resource().resource_arn(&channel).send()
    })
    .await;
    assert_eq!(off.ok, 40, "{:?}", off.refused);
    assert!(emulator
        .stats()
        .operations
        .values()
        .all(|op| op.rate_throttled == 0));
    server.shutdown().await.unwrap();
}

async fn emulator_off() -> (Emulator, Server, Client) {
    emulator(RateQuotas::off()).await
}

#[tokio::test]
async fn put_metadata_holds_155_per_second_across_channels() {
    let (emulator, server, c) = emulator(RateQuotas::default()).await;
    // 80 live channels, five payloads each: never more than a channel's 5 per second, and
    // 400 in all, far beyond the account's 155.
    let channels: Vec<String> = emulator
        .seed_channels(&SeedSpec {
            channels: 80,
            live: Live::Count(80),
            ..SeedSpec::default()
        })
        .unwrap()
        .into_iter()
        .map(|channel| channel.arn)
        .collect();
    let start = Instant::now();
    // Eight senders in parallel, ten channels each, to make the burst short.
    let mut senders = tokio::task::JoinSet::new();
    for group in channels.chunks(10) {
        let (c, group) = (c.clone(), group.to_vec());
        senders.spawn(async move {
            let mut answers = Vec::new();
            for round in 0..5 {
                for channel in &group {
                    let put = c
                        .put_metadata()
                        .channel_arn(channel)
                        .metadata(format!("{{\"round\":{round}}}"))
                        .send()
                        .await;
                    answers.push(put.map_err(|err| match err.into_service_error() {
                        PutMetadataError::ThrottlingException(e) => {
                            (true, e.exception_message().unwrap_or_default().to_owned())
                        }
                        other => (false, format!("{other:?}")),
                    }));
                }
            }
            answers
        });
    }
    let answers: Vec<_> = senders.join_all().await.into_iter().flatten().collect();
    let elapsed = start.elapsed();
    let ok = answers.iter().filter(|a| a.is_ok()).count();
    let most = 155 + (155.0 * elapsed.as_secs_f64()).floor() as usize;
    assert!(
        (155..=most.min(400)).contains(&ok),
        "{ok} accepted in {elapsed:?}"
    );
    for refused in answers.iter().filter_map(|a| a.as_ref().err()) {
        assert!(refused.0, "{refused:?}");
        assert!(
            refused.1.contains("PutMetadata allows 155"),
            "an account-wide refusal, not a channel's: {refused:?}"
        );
    }
    let stats = &emulator.stats().operations["PutMetadata"];
    let refused = (400 - ok) as u64;
    assert_eq!(stats.requests, 400);
    assert_eq!(stats.rate_throttled, refused);
    assert_eq!(stats.metadata_throttled, refused);
    assert_eq!(
        stats
            .errors
            .get("ThrottlingException")
            .copied()
            .unwrap_or(0),
        refused
    );
    assert_eq!(emulator.all_metadata().len(), ok);

    // A channel's own limit still applies, below the account's.
    let busy = &channels[0];
    tokio::time::sleep(Duration::from_millis(1_010)).await;
    let one_channel = burst(7, || {
        c.put_metadata().channel_arn(busy).metadata("x").send()
    })
    .await;
    // At most 5 in any second (a sliding window): exactly 5 when the burst took less.
    if one_channel.elapsed < Duration::from_secs(1) {
        assert_eq!(one_channel.ok, 5, "{:?}", one_channel.refused);
    }
    assert!(one_channel.ok >= 5);
    let refused = &emulator.stats().operations["PutMetadata"];
    assert_eq!(
        refused.rate_throttled,
        (400 - ok) as u64,
        "the account had room"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn seeded_channels_are_what_the_sdk_sees() {
    let (emulator, server, c) = emulator(RateQuotas::default()).await;
    let spec = SeedSpec {
        channels: 6_000,
        name_prefix: "show-".to_owned(),
        tags: [("team".to_owned(), "live".to_owned())].into(),
        live: Live::Fraction(0.05),
        past_sessions: 2,
        channel_quota: Some(6_000),
        ..SeedSpec::default()
    };
    let seeded = emulator.seed_channels(&spec).unwrap();
    assert_eq!(seeded.len(), 6_000);
    let live: Vec<_> = seeded.iter().filter(|s| s.stream_id.is_some()).collect();
    assert_eq!(live.len(), 300);
    // Seeding went around the quotas and emitted nothing.
    let stats = emulator.stats();
    assert!(stats.operations.is_empty());
    assert_eq!(stats.events_emitted, 0);
    // Beyond the quota it raised: refused, nothing created.
    let refused = emulator.seed_channels(&SeedSpec {
        channels: 1,
        ..SeedSpec::default()
    });
    assert!(refused.is_err());

    // Within the quotas: 50 channels per BatchGetChannel, their tags included.
    let arns: Vec<String> = seeded[..50].iter().map(|s| s.arn.clone()).collect();
    let batch = c
        .batch_get_channel()
        .set_arns(Some(arns.clone()))
        .send()
        .await
        .unwrap();
    let channels = batch.channels();
    assert_eq!(channels.len(), 50);
    for channel in channels {
        assert!(channel.name().unwrap().starts_with("show-"));
        assert_eq!(channel.tags().unwrap()["team"], "live");
    }
    let last = c
        .get_channel()
        .arn(&seeded[5_999].arn)
        .send()
        .await
        .unwrap();
    assert_eq!(last.channel().unwrap().name(), Some("show-5999"));
    let key = c
        .get_stream_key()
        .arn(&seeded[5_999].stream_key_arn)
        .send()
        .await
        .unwrap();
    let key = key.stream_key().unwrap();
    assert_eq!(key.channel_arn(), Some(seeded[5_999].arn.as_str()));
    assert_eq!(key.value(), Some(seeded[5_999].stream_key.as_str()));
    let keys = c
        .list_stream_keys()
        .channel_arn(&seeded[17].arn)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.stream_keys().len(), 1);
    assert_eq!(
        keys.stream_keys()[0].arn(),
        Some(seeded[17].stream_key_arn.as_str())
    );

    // The live ones, three pages of ListStreams.
    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_streams()
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        listed.extend(page.streams().iter().map(|s| {
            (
                s.channel_arn().unwrap().to_owned(),
                s.stream_id().unwrap().to_owned(),
            )
        }));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    listed.sort();
    let mut expected: Vec<_> = live
        .iter()
        .map(|s| (s.arn.clone(), s.stream_id.clone().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    // A live channel's sessions: the live one, then its two past ones.
    let sessions = c
        .list_stream_sessions()
        .channel_arn(&live[0].arn)
        .send()
        .await
        .unwrap();
    let sessions = sessions.stream_sessions();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0].stream_id(), live[0].stream_id.as_deref());
    assert!(sessions[0].end_time().is_none());
    assert!(sessions[1].end_time().is_some() && sessions[2].end_time().is_some());
    assert!(sessions[1].start_time() > sessions[2].start_time());
    // An offline one: two past sessions.
    let offline = seeded.iter().find(|s| s.stream_id.is_none()).unwrap();
    let sessions = c
        .list_stream_sessions()
        .channel_arn(&offline.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(sessions.stream_sessions().len(), 2);
    server.shutdown().await.unwrap();
}
