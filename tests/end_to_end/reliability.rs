//! Reliability through the whole pipeline: the emulator emits IVS's events and delivers them
//! through the Lambda Invoke API (in order, a failed invocation retried twice, then
//! dead-lettered, as Lambda's async invocation does) to the real `stream-events` binary in
//! the real runtime loop, which calls the emulator.
//!
//! - With 20 % of IVS's answers faulty (429, 500, 503) and added latency, every event ends
//!   either applied or dead-lettered: none is lost, and a stream's key is rotated at most
//!   once (exactly once when its end was applied).
//! - With every event delivered twice in shuffled order: exactly one rotation per stream,
//!   suspensions idempotent, no error.
//!
//! Sizes and seed: `RELIABILITY_CHANNELS` (default 8), `RELIABILITY_SEED` (default 7) and
//! `RELIABILITY_FAULT_PERCENT` (default 20);
//! `scripts/reliability.sh` runs larger ones and records the figures each test prints.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_ivs::types::StreamKeySummary;
use aws_sdk_ivs::Client;
use domain::policy::tags;
use ivs_emulator::{
    Config, Emulator, FaultConfig, FaultRule, LambdaTarget, RateQuotas, Route, SeedSpec, Target,
};
use serde_json::{json, Value};
use test_support::lambda::{function_binaries, LocalLambda};
use test_support::*;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn function_env(ivs_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-west-2".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY".into()),
        ("AWS_SECRET_ACCESS_KEY", "local-only".into()),
        ("AWS_ENDPOINT_URL_IVS", ivs_url.to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("POLICY_CACHE_SECONDS", "0".into()),
    ]
}

/// Runs the function `name` (a workspace binary) in `lambda`, calling IVS at `ivs_url`.
fn spawn(lambda: &LocalLambda, name: &str, ivs_url: &str) {
    lambda.spawn(
        name,
        &function_binaries().join(name),
        &function_env(ivs_url),
    );
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
    let lambda = LocalLambda::start().await;
    let mut target = LambdaTarget::new(lambda.url(), Route::default_routes());
    target.retry_delay = Duration::from_millis(20);
    let (emulator, server) = start_emulator_with(Config {
        seed,
        targets: vec![Target::Lambda(target)],
        ..Config::default()
    })
    .await;
    spawn(&lambda, "stream-events", &server.url());
    spawn(&lambda, "recording-events", &server.url());
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
    let ivs = ivs_client(&server.url());
    let streams = live_and_end(&emulator, channels, ROTATING).await;

    // Wait until every routed event is settled (delivered or dead-lettered).
    let routed = |e: &Emulator| e.events().len() as u64;
    let settled = |e: &Emulator| {
        e.stats()
            .deliveries
            .values()
            .map(|d| d.delivered + d.dead_lettered)
            .sum::<u64>()
    };
    // Until all are settled, or nothing has moved for a minute (then the check below fails).
    let mut last = (settled(&emulator), Instant::now());
    while settled(&emulator) < routed(&emulator) && last.1.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = settled(&emulator);
        if now > last.0 {
            last = (now, Instant::now());
        }
    }
    emulator.set_faults(FaultConfig::default());
    // The checks below read IVS back to back: beside its rate quotas, as beside the faults.
    emulator.set_rate_quotas(RateQuotas::off());
    let stats = emulator.stats();
    let events = routed(&emulator);
    let delivered: u64 = stats.deliveries.values().map(|d| d.delivered).sum();
    let dead: u64 = stats.deliveries.values().map(|d| d.dead_lettered).sum();
    let failed_attempts: u64 = stats.deliveries.values().map(|d| d.failed_attempts).sum();
    let faults_injected: u64 = stats
        .operations
        .values()
        .map(|o| o.faults.throttle + o.faults.error500 + o.faults.unavailable)
        .sum();
    let requests: u64 = stats.operations.values().map(|o| o.requests).sum();
    let lost = events - delivered - dead;
    assert_eq!(lost, 0, "events neither applied nor dead-lettered");

    // Applied means applied: every stream whose Stream End was delivered has its key rotated
    // after it; no stream's key was rotated twice.
    let dead_ids: HashSet<String> = emulator
        .dead_letters()
        .iter()
        .map(|d| d.event_id.clone())
        .collect();
    let records = records(&lambda.logs("stream-events"));
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
    // Retries are bounded: no invocation ran into its deadline.
    for d in emulator.dead_letters() {
        assert!(
            !d.error.contains("Timedout"),
            "an invocation timed out: {}",
            d.error
        );
    }
    println!(
        "{}",
        json!({
            "figures": "faults",
            "faultPercent": (rate * 100.0).round(),
            "seed": seed,
            "channels": channels,
            "events": events,
            "ivsRequests": requests,
            "faultsInjected": faults_injected,
            "invocationRetries": failed_attempts,
            "applied": delivered,
            "deadLettered": dead,
            "lost": lost,
            "streamEndsApplied": applied_ends,
            "rotations": rotated.values().sum::<usize>(),
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_twice_in_shuffled_order_rotates_once_per_stream() {
    let channels = knob("RELIABILITY_CHANNELS", 8);
    let seed = knob("RELIABILITY_SEED", 7);
    let (emulator, server) = start_emulator(seed).await;
    let ivs = ivs_client(&server.url());
    let rotating = live_and_end(&emulator, channels, ROTATING).await;
    let suspended = live_and_end(
        &emulator,
        channels.div_ceil(4),
        &[
            (tags::SUSPENDED, "true"),
            (tags::ROTATE_KEY_ON, "stream-end"),
        ],
    )
    .await;
    let lambda = LocalLambda::start().await;
    spawn(&lambda, "stream-events", &server.url());

    let mut events = emulator.events();
    events.extend(emulator.events());
    let mut rng = fastrand::Rng::with_seed(seed);
    rng.shuffle(&mut events);
    let started = Instant::now();
    for event in &events {
        lambda.invoke("stream-events", event).await.ok();
    }
    let records = records(&lambda.logs("stream-events"));
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
    println!(
        "{}",
        json!({
            "figures": "duplicates",
            "seed": seed,
            "channels": rotating.len() + suspended.len(),
            "deliveries": events.len(),
            "rotations": rotated.values().sum::<usize>(),
            "streamsRotating": rotating.len(),
            "errorLines": errors,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
}
