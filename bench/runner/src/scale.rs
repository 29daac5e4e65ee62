//! The scale benchmark (`./scripts/bench-scale.sh`): bursts of go-lives and stream ends
//! through the event path the template deploys, against IVS's account-wide rate quotas.
//!
//! What runs, per burst (a fresh stack each time):
//! - the IVS emulator with IVS's rate quotas on, scaled by `--rate-factor` (the functions'
//!   budgets get the same factor, `IVS_RATE_FACTOR`), seeded with N channels;
//! - moto's SQS server, and the emulator's model of EventBridge's SQS target and of Lambda's
//!   event source mapping (batch size, batching window, maximum concurrency, partial batch
//!   failures, visibility timeouts; moto redrives to the dead-letter queue);
//! - the real `stream-events` binary, as many containers as the mapping's maximum
//!   concurrency, in the real `lambda_runtime` loop, and one `admin-api` container that is
//!   read every half second while the burst drains;
//! - HTTPS to every AWS endpoint the functions call (IVS, SQS, EventBridge) through TLS
//!   terminators with a throwaway CA on 127.0.0.1, and the functions get Lambda's environment
//!   only; lifecycle events on (`LIFECYCLE_EVENT_BUS=default`, moto's EventBridge), as the
//!   template deploys them: a Stream End also reads its session's start (`GetStreamSession`).
//!
//! The burst: N broadcasters connect (or disconnect) within one second. Figures: time to
//! drain (the burst's first event to every queue empty), the quota floor (for each IVS
//! operation, the calls made ÷ its quota × factor; the largest), throttled answers, events
//! dead-lettered and lost, what each channel got (start metadata, or exactly one new key),
//! the admin API's latency meanwhile, IVS calls and peak memory per container.
//!
//! The sweeper's pass (`--sweeper-channels C`, off unless asked): IVS's quotas × factor, C
//! seeded channels that rotate their key after each stream and may stream an hour (tags),
//! 10 % live for two hours (overdue), 1 % of the offline ones with a missed rotation (their
//! last stream ended, their key unmarked; every other key carries a rotation marker); the real
//! `sweeper` binary with its state table in moto's DynamoDB, invoked one run after another,
//! each with the template's Timeout ÷ factor as its deadline, until a run answers `complete`.
//! Figures: runs and their durations against their deadlines, channels visited, overdue
//! streams stopped and missed rotations repaired (when, in which run; checked in IVS after),
//! IVS calls per channel, throttled answers, the floor at the sweeper's share, peak memory,
//! and what that makes at factor 1 (C = 5,000's 30-minute repair target, C = 50,000).
//!
//! Lambda's CPU share is not modelled here: the time to drain is set by IVS's quotas, and the
//! functions' CPU per event is the cold-start benchmark's subject.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use domain::rate::{ivs_quota, STREAM_EVENTS_RATE_SHARE};
use ivs_emulator::{
    Config, Emulator, LambdaTarget, QueueTarget, Quotas, RateQuotas, Route, SeedSpec,
    SeededChannel, Server, Target,
};
use serde_json::{json, Value};
use test_support::lambda::LocalLambda;
use test_support::moto::Moto;
use test_support::tls::{TestAuthority, TlsFront};

#[derive(Parser, Debug)]
#[command(
    about = "Bursts of Stream Starts and Stream Ends through the queued event path, under IVS's quotas"
)]
struct Args {
    /// Directory of the function binaries (target/release).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Burst sizes (channels going live, or ending, within one second).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    counts: Vec<usize>,
    /// Factor on IVS's quotas, in the emulator and in the functions' budgets alike.
    #[arg(long, default_value_t = 10.0)]
    rate_factor: f64,
    /// The event source mapping's maximum concurrency (the template's EventConcurrency).
    #[arg(long, default_value_t = 2)]
    concurrency: u32,
    /// The mapping's batch size (EventBatchSize).
    #[arg(long, default_value_t = 10)]
    batch_size: u32,
    /// Also run the first burst size with the event path's share at 1 (a platform that keeps
    /// nothing for itself), to compare with the absolute floor.
    #[arg(long)]
    full_share: bool,
    /// The alternative weighed: direct asynchronous invocation, one container at a time
    /// (reserved concurrency 1), on a burst of this many Stream Starts; 0 skips it.
    #[arg(long, default_value_t = 100)]
    async_arm: usize,
    /// Give up on a burst after this many seconds.
    #[arg(long, default_value_t = 1800)]
    burst_timeout: u64,
    /// The sweeper section: a full pass of the real `sweeper` binary over this many channels
    /// (comma list; 0 or absent: no sweeper section), 10 % of them live past their maximum
    /// duration and 1 % with a missed rotation, invoked as the schedule would until the pass
    /// completes. A burst size of 0 (`--counts 0`) runs no burst.
    #[arg(long, value_delimiter = ',')]
    sweeper_channels: Vec<usize>,
    /// Give up on a sweeper pass after this many seconds (all its invocations together).
    #[arg(long, default_value_t = 7200)]
    sweeper_timeout: u64,
    /// Where the Markdown section goes.
    #[arg(long, default_value = "target/bench/scale.md")]
    out: PathBuf,
    /// The command that reproduces this run, written into the report.
    #[arg(long, default_value = "./scripts/bench-scale.sh")]
    command: String,
    /// A smoke run (CI): the report says so.
    #[arg(long)]
    smoke: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// N broadcasters connect: `Session Created` + `Stream Start` each; start metadata.
    Starts,
    /// N live streams end, rotation on: `Stream End` + `Session Ended` each; one new key.
    Ends,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Starts => "Stream Starts",
            Kind::Ends => "Stream Ends (ROTATE_KEY_ON=stream-end)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// EventBridge → SQS → event source mapping (what the template deploys).
    Queued,
    /// EventBridge → asynchronous invocation, one container (the alternative).
    Async,
}

/// One burst's settings.
#[derive(Clone, Copy, Debug)]
struct Burst {
    kind: Kind,
    n: usize,
    path: Path,
    /// `IVS_RATE_SHARE` of stream-events; `None`: its default.
    share: Option<f64>,
}

/// What one burst measured.
#[derive(Debug)]
struct Figures {
    burst: Burst,
    /// How long the N connects (disconnects) took.
    emitted_in: Duration,
    /// The burst's start to every queue empty (or the last delivery, for the async path).
    drain: Duration,
    /// The burst's start to the last of its events accepted by SQS (moto): the local
    /// stand-in's own pace, which AWS's SQS does not have.
    all_sent: Option<Duration>,
    drained: bool,
    /// IVS calls per operation (every request, throttled ones included) and throttled ones.
    calls: BTreeMap<String, (u64, u64)>,
    /// The least time those calls need at the quotas × factor (the largest operation's).
    floor: Duration,
    floor_op: String,
    /// The share the event path had, for its floor.
    share: f64,
    /// Channels that got what the event asked (start metadata, exactly one new key).
    done: usize,
    dead_lettered: usize,
    invocations: u64,
    records_returned: u64,
    /// The admin API's GET /channels/{id} during the burst: latencies (ms) and non-200s.
    admin_ms: Vec<f64>,
    admin_failed: usize,
    /// Peak RSS of the stream-events containers (KiB).
    peak_rss_kib: Vec<u64>,
}

impl Figures {
    fn ivs_calls(&self) -> u64 {
        self.calls.values().map(|(all, _)| all).sum()
    }

    fn throttled(&self) -> u64 {
        self.calls.values().map(|(_, t)| t).sum()
    }

    fn lost(&self) -> usize {
        self.burst.n.saturating_sub(self.done + self.dead_lettered)
    }

    fn ratio(&self) -> f64 {
        self.drain.as_secs_f64() / self.floor.as_secs_f64().max(1e-9)
    }

    fn ratio_at_share(&self) -> f64 {
        self.ratio() * self.share
    }
}

const REGION: &str = "us-west-2";

/// Lambda's environment (a function's temporary credentials, JSON logs at `log_level`), the
/// test authority trusted, IVS at `ivs`.
fn lambda_env(
    authority: &TestAuthority,
    ivs: &TlsFront,
    log_level: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "ASIAFUNCTIONEXAMPLE".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "fake-function-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "fake-session-token".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", log_level.to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("SSL_CERT_FILE", authority.ca_file().display().to_string()),
        ("AWS_ENDPOINT_URL_IVS", ivs.url()),
    ]
}

/// The environment a function container gets: Lambda's, and the endpoints.
fn function_env(
    authority: &TestAuthority,
    ivs: &TlsFront,
    sqs: &TlsFront,
    dead_letter_queue: &str,
    args: &Args,
    burst: &Burst,
    concurrency: u32,
) -> Vec<(&'static str, String)> {
    let mut env = lambda_env(authority, ivs, "WARN");
    env.extend([
        ("AWS_ENDPOINT_URL_SQS", sqs.url()),
        ("EVENT_DEAD_LETTER_QUEUE_URL", dead_letter_queue.to_owned()),
        // Lifecycle events on, as the template deploys them (the default bus): moto's
        // EventBridge, behind the same front as its SQS (one moto server serves both).
        ("LIFECYCLE_EVENT_BUS", "default".to_owned()),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", sqs.url()),
        ("IVS_RATE_FACTOR", args.rate_factor.to_string()),
        ("IVS_RATE_CONCURRENCY", concurrency.to_string()),
    ]);
    if let Some(share) = burst.share {
        env.push(("IVS_RATE_SHARE", share.to_string()));
    }
    if burst.kind == Kind::Ends {
        env.push(("ROTATE_KEY_ON", "stream-end".to_owned()));
    }
    env
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The admin API's `GET /channels/{id}` for `arn`, as API Gateway sends it.
fn get_channel_event(arn: &str) -> Value {
    let mut event = test_support::fixture("admin-api/get-channel.json");
    let id = arn.rsplit('/').next().unwrap_or_default();
    let path = format!("/channels/{id}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event
}

async fn run_burst(args: &Args, burst: Burst) -> Result<Figures, String> {
    let n = burst.n;
    let moto = Moto::start();
    let lambda = LocalLambda::start().await;
    let concurrency = match burst.path {
        Path::Queued => args.concurrency,
        Path::Async => 1,
    };
    let target = match burst.path {
        Path::Queued => {
            let mut target = QueueTarget::new(moto.url(), lambda.url(), vec![stream_route()]);
            target.batch_size = args.batch_size;
            target.batching_window = Duration::from_secs(1);
            target.max_concurrency = concurrency;
            target.visibility_timeout = Duration::from_secs(180);
            target.max_receive_count = 20;
            target.invocation_timeout = Duration::from_secs(30);
            Target::Queue(target)
        }
        Path::Async => {
            let mut target = LambdaTarget::new(lambda.url(), vec![stream_route()]);
            target.timeout = Duration::from_secs(30);
            Target::Lambda(target)
        }
    };
    let emulator = Emulator::new(Config {
        seed: 17,
        rate_quotas: RateQuotas::scaled(args.rate_factor),
        quotas: Quotas {
            channels: n + 10,
            ..Quotas::default()
        },
        targets: vec![target],
        ..Config::default()
    });
    let server: Server = emulator
        .serve(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("the emulator cannot listen: {e}"))?;
    let dead_letter_queue = match burst.path {
        Path::Queued => emulator.start_queues().await?.dead_letter_queue,
        Path::Async => String::new(),
    };
    let channels: Vec<SeededChannel> = emulator
        .seed_channels(&SeedSpec {
            channels: n,
            name_prefix: "scale-".to_owned(),
            live: ivs_emulator::Live::Count(if burst.kind == Kind::Ends { n } else { 0 }),
            ..SeedSpec::default()
        })
        .map_err(|e| format!("seeding: {e}"))?;

    let authority = TestAuthority::new(&[]);
    let ivs_front = TlsFront::start(&authority, &server.url()).await;
    let sqs_front = TlsFront::start(&authority, moto.url()).await;
    let env = function_env(
        &authority,
        &ivs_front,
        &sqs_front,
        &dead_letter_queue,
        args,
        &burst,
        concurrency,
    );
    let bin = args.bin_dir.join("stream-events");
    for _ in 0..concurrency {
        lambda.spawn("stream-events", &bin, &env);
    }
    let mut admin_env = function_env(
        &authority,
        &ivs_front,
        &sqs_front,
        &dead_letter_queue,
        args,
        &Burst {
            share: None,
            ..burst
        },
        1,
    );
    admin_env.retain(|(k, _)| !k.starts_with("EVENT_") && *k != "AWS_ENDPOINT_URL_SQS");
    lambda.spawn("admin-api", &args.bin_dir.join("admin-api"), &admin_env);
    // Let the containers finish their init before the burst (as warm-ish mapping pollers).
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The burst.
    let started = Instant::now();
    for channel in &channels {
        let done = match burst.kind {
            Kind::Starts => emulator.connect(&channel.stream_key).map(|_| ()),
            Kind::Ends => emulator.disconnect(&channel.arn).map(|_| ()),
        };
        done.map_err(|e| format!("{}: {e}", channel.name))?;
    }
    let emitted_in = started.elapsed();

    // Admin reads while it drains, and the drain itself.
    let admin_arn = channels.first().map(|c| c.arn.clone()).unwrap_or_default();
    let mut admin_ms = Vec::new();
    let mut admin_failed = 0;
    let deadline = started + Duration::from_secs(args.burst_timeout);
    let expected_events = 2 * n as u64;
    let mut last_admin = Instant::now() - Duration::from_secs(1);
    let mut all_sent: Option<Duration> = None;
    let drained = loop {
        if Instant::now() > deadline {
            break false;
        }
        if last_admin.elapsed() >= Duration::from_millis(500) {
            last_admin = Instant::now();
            let answer = lambda
                .invoke("admin-api", &get_channel_event(&admin_arn))
                .await;
            admin_ms.push(last_admin.elapsed().as_secs_f64() * 1000.0);
            let ok = matches!(&answer, test_support::lambda::Invoked::Ok(v)
                if v.get("statusCode").and_then(Value::as_u64) == Some(200));
            if !ok {
                admin_failed += 1;
            }
        }
        let stats = emulator.stats();
        let delivery = stats
            .deliveries
            .get("queue:stream-events")
            .or(stats.deliveries.get("lambda:stream-events"));
        let handled = delivery.map_or(0, |d| d.delivered + d.dead_lettered);
        if all_sent.is_none()
            && (burst.path == Path::Async || delivery.is_some_and(|d| d.sent >= expected_events))
        {
            all_sent = Some(started.elapsed());
        }
        let settled = match burst.path {
            Path::Queued => handled >= expected_events && emulator.queues_idle().await,
            Path::Async => handled >= expected_events,
        };
        if settled {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let drain = started.elapsed();

    // What happened.
    let stats = emulator.stats();
    let calls: BTreeMap<String, (u64, u64)> = stats
        .operations
        .iter()
        .filter(|(_, o)| o.requests > 0)
        .map(|(op, o)| {
            (
                op.clone(),
                (o.requests, o.rate_throttled + o.metadata_throttled),
            )
        })
        .collect();
    let (floor, floor_op) = quota_floor(&calls, args.rate_factor);
    let delivery = stats
        .deliveries
        .get("queue:stream-events")
        .or(stats.deliveries.get("lambda:stream-events"))
        .cloned()
        .unwrap_or_default();
    let mut dead_lettered = emulator.dead_letters().len();
    if burst.path == Path::Queued {
        dead_lettered += emulator.queue_dead_letters().await?.len();
    }
    // Reading the result must not be throttled.
    emulator.set_rate_quotas(RateQuotas::off());
    let done = match burst.kind {
        Kind::Starts => started_metadata(&emulator, &channels),
        Kind::Ends => rotated_once(&server.url(), &channels).await?,
    };
    let peak_rss_kib = lambda
        .pids("stream-events")
        .into_iter()
        .filter_map(peak_rss_kib)
        .collect();
    let share = burst.share.unwrap_or(STREAM_EVENTS_RATE_SHARE);
    Ok(Figures {
        burst,
        emitted_in,
        drain,
        all_sent,
        drained,
        calls,
        floor,
        floor_op,
        share,
        done,
        dead_lettered,
        invocations: delivery.invocations.max(delivery.delivered.min(1)),
        records_returned: delivery.records_failed,
        admin_ms,
        admin_failed,
        peak_rss_kib,
    })
}

fn stream_route() -> Route {
    Route::new("IVS Stream State Change", "stream-events")
}

/// The least time `calls` need at IVS's quotas × `factor`: for each operation, its
/// successful calls ÷ its quota; the largest, and which operation it is. PutMetadata also
/// has 5 per second per channel, which a burst over distinct channels never binds.
fn quota_floor(calls: &BTreeMap<String, (u64, u64)>, factor: f64) -> (Duration, String) {
    let mut floor = (Duration::ZERO, String::from("none"));
    for (op, (all, throttled)) in calls {
        let Some(quota) = ivs_quota(op) else { continue };
        let needed = (all - throttled) as f64 / (quota * factor);
        if needed > floor.0.as_secs_f64() {
            floor = (Duration::from_secs_f64(needed), op.clone());
        }
    }
    floor
}

/// Channels whose stream got its start metadata (exactly one stream-start item).
fn started_metadata(emulator: &Emulator, channels: &[SeededChannel]) -> usize {
    let mut per_channel: HashMap<String, usize> = HashMap::new();
    for item in emulator.all_metadata() {
        *per_channel.entry(item.channel_arn.clone()).or_default() += 1;
    }
    channels
        .iter()
        .filter(|c| per_channel.get(&c.arn) == Some(&1))
        .count()
}

/// Channels with exactly one stream key, not the seeded one, marked as rotated after the
/// stream that ended.
async fn rotated_once(ivs_url: &str, channels: &[SeededChannel]) -> Result<usize, String> {
    let client = test_support::ivs_client(ivs_url);
    let mut done = 0;
    for channel in channels {
        if has_one_new_key(&client, channel, channel.stream_id.as_deref()).await? {
            done += 1;
        }
    }
    Ok(done)
}

/// Whether `channel` holds exactly one stream key, not its seeded one, marked as rotated
/// after `stream_id`.
async fn has_one_new_key(
    client: &aws_sdk_ivs::Client,
    channel: &SeededChannel,
    stream_id: Option<&str>,
) -> Result<bool, String> {
    let keys = client
        .list_stream_keys()
        .channel_arn(&channel.arn)
        .send()
        .await
        .map_err(|e| format!("ListStreamKeys: {e}"))?;
    let keys = keys.stream_keys();
    Ok(keys.len() == 1
        && keys[0].arn() != Some(channel.stream_key_arn.as_str())
        && keys[0]
            .tags()
            .and_then(|t| t.get(domain::rotation::TAG_ROTATED_AFTER_STREAM))
            .map(String::as_str)
            == stream_id)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

fn report(args: &Args, figures: &[Figures], machine: &str) -> String {
    let mut out = String::new();
    if figures.is_empty() {
        let _ = writeln!(
            out,
            "## Scale\n\nReproduce with `{}`. {machine}. No bursts in this run.",
            args.command
        );
        return out;
    }
    let _ = writeln!(out, "## Scale: bursts through the queued event path\n");
    if args.smoke {
        let _ = writeln!(out, "**Smoke run** (CI): small bursts, debug binaries; the figures only show that the benchmark works.\n");
    }
    let _ = writeln!(
        out,
        "Reproduce with `{}`. {machine}. IVS's quotas ×{} in the emulator and in the functions' budgets; \
         event source mapping: batch size {}, batching window 1 s, maximum concurrency {}; \
         stream-events' share of each quota {} unless a row says otherwise.\n",
        args.command, args.rate_factor, args.batch_size, args.concurrency, STREAM_EVENTS_RATE_SHARE
    );
    let _ = writeln!(
        out,
        "Models: HTTPS to IVS and SQS (a throwaway CA on loopback), Lambda's environment only, \
         IVS's account quotas on every operation, N containers at once (the mapping's maximum \
         concurrency) and an admin API container reading meanwhile. Not modelled: Lambda's CPU \
         share (the drain is set by the quotas; CPU per event is the cold-start section's), \
         SQS's and EventBridge's own latency (moto and the emulator on loopback). moto's SQS \
         takes about 10 ms per SendMessage, one at a time: \"in SQS by\" is when the burst's \
         last event was in the queue, a floor of its own that AWS's SQS does not have.\n"
    );
    let _ = writeln!(
        out,
        "The floor is the least time the calls made need at the quotas × factor (for each \
         operation, its successful calls ÷ its quota; the largest). The event path uses its \
         share of each quota, so its own floor is the floor ÷ share: the target 1.25× applies \
         to that.\n"
    );
    let _ = writeln!(out, "| burst | path | share | N | emitted in | in SQS by | drain | floor (op) | drain ÷ floor | ÷ (floor ÷ share) | done | dead-lettered | lost | IVS calls | throttled | invocations | returned records | admin p50 / p95 / max ms (failed) | peak RSS per container |");
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for f in figures {
        let mut admin = f.admin_ms.clone();
        admin.sort_by(f64::total_cmp);
        let rss = f
            .peak_rss_kib
            .iter()
            .map(|k| format!("{:.1} MB", *k as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} s | {} | {:.1} s{} | {:.1} s ({}) | {:.2}× | {:.2}× | {}/{} | {} | {} | {} | {} ({:.2} %) | {} | {} | {:.0} / {:.0} / {:.0} ({}) | {} |",
            f.burst.kind.label(),
            match f.burst.path {
                Path::Queued => "SQS + mapping",
                Path::Async => "async invoke, 1 container",
            },
            f.share,
            f.burst.n,
            f.emitted_in.as_secs_f64(),
            f.all_sent
                .map_or("n/a".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())),
            f.drain.as_secs_f64(),
            if f.drained { "" } else { " (timed out)" },
            f.floor.as_secs_f64(),
            f.floor_op,
            f.ratio(),
            f.ratio_at_share(),
            f.done,
            f.burst.n,
            f.dead_lettered,
            f.lost(),
            f.ivs_calls(),
            f.throttled(),
            100.0 * f.throttled() as f64 / f.ivs_calls().max(1) as f64,
            f.invocations,
            f.records_returned,
            percentile(&admin, 50.0),
            percentile(&admin, 95.0),
            admin.last().copied().unwrap_or(f64::NAN),
            f.admin_failed,
            rss,
        );
    }
    let _ = writeln!(out, "\n### IVS calls per channel, by operation\n");
    let _ = writeln!(out, "| burst | path | N | calls per channel |");
    let _ = writeln!(out, "|---|---|---|---|");
    for f in figures {
        let per = f
            .calls
            .iter()
            .map(|(op, (all, t))| {
                format!(
                    "{op} {:.3}{}",
                    *all as f64 / f.burst.n as f64,
                    if *t > 0 {
                        format!(" ({t} throttled)")
                    } else {
                        String::new()
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| {} | {:?} | {} | {per} |",
            f.burst.kind.label(),
            f.burst.path,
            f.burst.n
        );
    }
    let _ = writeln!(out, "\n### Targets\n");
    for f in figures.iter().filter(|f| f.burst.path == Path::Queued) {
        let _ = writeln!(
            out,
            "- {} × {} (share {}): done {}/{} {}; dead-lettered 0 {}; lost 0 {}; throttled ≤ 1 % {}; drain ≤ 1.25 × (floor ÷ share) {} ({:.2}×)",
            f.burst.n,
            f.burst.kind.label(),
            f.share,
            f.done,
            f.burst.n,
            verdict(f.done == f.burst.n),
            verdict(f.dead_lettered == 0),
            verdict(f.lost() == 0),
            verdict(f.throttled() * 100 <= f.ivs_calls()),
            verdict(f.ratio_at_share() <= 1.25),
            f.ratio_at_share(),
        );
    }
    out
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "Run {} on {cores} cores (load average {load})",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    )
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => {}
        Err(e) => {
            eprintln!("bench-scale: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let machine = machine();
    let mut bursts = Vec::new();
    for &n in args.counts.iter().filter(|n| **n > 0) {
        for kind in [Kind::Starts, Kind::Ends] {
            bursts.push(Burst {
                kind,
                n,
                path: Path::Queued,
                share: None,
            });
        }
    }
    if args.full_share {
        if let Some(&n) = args.counts.iter().find(|n| **n > 0) {
            for kind in [Kind::Starts, Kind::Ends] {
                bursts.push(Burst {
                    kind,
                    n,
                    path: Path::Queued,
                    share: Some(1.0),
                });
            }
        }
    }
    if args.async_arm > 0 {
        bursts.push(Burst {
            kind: Kind::Starts,
            n: args.async_arm,
            path: Path::Async,
            share: None,
        });
    }
    let mut figures = Vec::new();
    for burst in bursts {
        eprintln!(
            "bench-scale: {} × {} ({:?}, share {:?})",
            burst.n,
            burst.kind.label(),
            burst.path,
            burst.share
        );
        let f = run_burst(args, burst).await?;
        eprintln!(
            "bench-scale:   drain {:.1} s, floor {:.1} s ({}), done {}/{}, dead-lettered {}, throttled {}/{}",
            f.drain.as_secs_f64(),
            f.floor.as_secs_f64(),
            f.floor_op,
            f.done,
            f.burst.n,
            f.dead_lettered,
            f.throttled(),
            f.ivs_calls()
        );
        figures.push(f);
    }
    let mut sweeps = Vec::new();
    for &c in args.sweeper_channels.iter().filter(|c| **c > 0) {
        eprintln!("bench-scale: sweeper pass over {c} channels");
        let f = run_sweep(args, c).await?;
        eprintln!(
            "bench-scale:   {} invocations, {:.1} s (sum), visited {}/{}, overdue stopped {}/{}, planted rotations repaired {}/{}, throttled {}",
            f.runs.len(),
            f.sweep_time().as_secs_f64(),
            f.visited(),
            c,
            f.stopped_verified,
            f.live,
            f.repaired_verified,
            f.planted,
            f.throttled()
        );
        sweeps.push(f);
    }
    let mut section = report(args, &figures, &machine);
    section.push_str(&sweep_report(args, &sweeps));
    println!("{section}");
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&args.out, &section).map_err(|e| format!("{}: {e}", args.out.display()))?;
    eprintln!("bench-scale: wrote {}", args.out.display());
    let failed = figures
        .iter()
        .filter(|f| f.burst.path == Path::Queued)
        .any(|f| f.lost() > 0 || f.dead_lettered > 0 || f.done != f.burst.n);
    if failed {
        return Err("events were lost, dead-lettered or not applied (see the report)".to_owned());
    }
    if let Some(f) = sweeps.iter().find(|f| !f.correct()) {
        return Err(format!(
            "the sweeper's pass over {} channels did not complete, visit every channel, stop every overdue stream or repair every planted rotation (see the report)",
            f.channels
        ));
    }
    Ok(())
}

// ---- The sweeper: one full pass over C channels, as the schedule runs it.

/// The template's sweeper Timeout (s): each invocation's deadline is this ÷ the rate factor.
const SWEEPER_TIMEOUT_S: f64 = 540.0;
/// The template's default SweepSchedule, rate(10 minutes): a run starts this often.
const SWEEP_INTERVAL_S: f64 = 600.0;
/// The sweeper keeps this much of a full-length run free before its deadline
/// (`sweeper::DEADLINE_MARGIN`).
const SWEEP_MARGIN_S: f64 = 30.0;
/// The sweeper's share of each quota (the template's SweeperRateShare, `IVS_RATE_SHARE`).
const SWEEPER_SHARE: f64 = 0.2;
/// The target weighed: a missed rotation repaired within this long.
const REPAIR_TARGET_S: f64 = 1800.0;
/// The channel count the target is stated for, and the larger one projected.
const TARGET_CHANNELS: usize = 5_000;
const LARGE_CHANNELS: usize = 50_000;
/// The seeded channels' maximum stream duration (tag), and how long ago their live streams
/// started (longer: every live stream is overdue).
const MAX_STREAM_MINUTES: u64 = 60;
const LIVE_STARTED_AGO_S: u64 = 2 * 3600;
/// `SWEEP_CALLS_PER_SECOND`: high enough not to bind (the shares do): at least 50, and half
/// as much again as two operations' budgets (5 TPS × factor × share each; a channel needs
/// about one call of each); the sweeper accepts up to 50 × the factor
/// (`domain::sweep::MAX_CALLS_PER_SECOND`).
fn sweep_calls_per_second(factor: f64) -> u32 {
    (2.0 * 5.0 * factor * SWEEPER_SHARE * 1.5)
        .ceil()
        .clamp(50.0, 50.0 * factor.max(1.0)) as u32
}
const SWEEP_STATE_TABLE: &str = "ivs-automation-sweeper-state";

/// One invocation of the sweeper.
#[derive(Debug)]
struct SweepRun {
    started: chrono::DateTime<chrono::Utc>,
    took: Duration,
    deadline: Duration,
    /// The response (`SweepSummary` as JSON), or the error.
    response: Result<Value, String>,
}

impl SweepRun {
    fn field(&self, name: &str) -> u64 {
        self.response
            .as_ref()
            .ok()
            .and_then(|v| v.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn complete(&self) -> bool {
        self.response
            .as_ref()
            .is_ok_and(|v| v.get("complete") == Some(&Value::Bool(true)))
    }

    fn lease_held(&self) -> bool {
        self.response
            .as_ref()
            .is_ok_and(|v| v.get("leaseHeldBy").is_some_and(|h| !h.is_null()))
    }
}

/// What one pass measured.
#[derive(Debug)]
struct SweepFigures {
    channels: usize,
    /// Seeded live streams, all past their maximum duration.
    live: usize,
    /// Offline channels planted with a missed rotation.
    planted: usize,
    runs: Vec<SweepRun>,
    /// The first invocation's start to the last one's answer.
    wall: Duration,
    timed_out: bool,
    /// Each overdue stream stopped: seconds after the pass started, and in which invocation
    /// (from 1); from the sweeper's log lines.
    stops: Vec<(f64, usize)>,
    /// Each missed rotation made on a planted channel: the same.
    repairs: Vec<(f64, usize)>,
    /// Missed rotations made on channels not planted (expected: none).
    unplanned_repairs: usize,
    /// Checked in IVS after the pass: overdue streams no longer live, planted channels whose
    /// only key is a new one marked as rotated after their last stream.
    stopped_verified: usize,
    repaired_verified: usize,
    /// Channels live at the first run (not overdue) whose streams then ended, end events lost.
    ending: usize,
    /// Each of their rotations: seconds after the streams ended, seconds into its run, the run.
    ended_repairs: Vec<(f64, f64, usize)>,
    /// Checked in IVS after the pass: those whose only key is a new one marked after the stream.
    ended_verified: usize,
    /// The pass's IVS calls per operation (every request) and throttled answers.
    calls: BTreeMap<String, (u64, u64)>,
    peak_rss_kib: Option<u64>,
    factor: f64,
}

impl SweepFigures {
    fn sweep_time(&self) -> Duration {
        self.runs.iter().map(|r| r.took).sum()
    }

    fn visited(&self) -> u64 {
        self.runs.iter().map(|r| r.field("channelsSeen")).sum()
    }

    fn failures(&self) -> u64 {
        self.runs.iter().map(|r| r.field("failures")).sum::<u64>()
            + self.runs.iter().filter(|r| r.response.is_err()).count() as u64
    }

    fn complete(&self) -> bool {
        self.runs.last().is_some_and(SweepRun::complete)
    }

    fn ivs_calls(&self) -> u64 {
        self.calls.values().map(|(all, _)| all).sum()
    }

    fn throttled(&self) -> u64 {
        self.calls.values().map(|(_, t)| t).sum()
    }

    fn timeouts_reached(&self) -> usize {
        self.runs.iter().filter(|r| r.took >= r.deadline).count()
    }

    fn correct(&self) -> bool {
        self.complete()
            && !self.timed_out
            && self.visited() == self.channels as u64
            && self.stopped_verified == self.live
            && self.repaired_verified == self.planted
            && self.ended_verified == self.ending
    }

    /// The least time the pass's calls need inside the sweeper's share of the quotas × the
    /// factor (for each operation, its successful calls ÷ (quota × factor × share); the
    /// largest), and which operation.
    fn floor(&self) -> (Duration, String) {
        let (floor, op) = quota_floor(&self.calls, self.factor);
        (floor.div_f64(SWEEPER_SHARE), op)
    }

    /// Calls per channel, by operation.
    fn per_channel(&self, op: &str) -> f64 {
        self.calls.get(op).map_or(0.0, |(all, _)| *all as f64) / self.channels as f64
    }

    /// At factor 1 and share `share`: seconds of sweeping per channel, from the calls per
    /// channel measured (the floor's operation binds) and the pass time ÷ floor measured.
    fn seconds_per_channel(&self, share: f64) -> f64 {
        let (floor, _) = self.floor();
        let overhead = self.sweep_time().as_secs_f64() / floor.as_secs_f64().max(1e-9);
        let per_channel_floor = self
            .calls
            .iter()
            .filter_map(|(op, (all, throttled))| {
                let quota = ivs_quota(op)?;
                Some((all - throttled) as f64 / self.channels as f64 / (quota * share))
            })
            .fold(0.0, f64::max);
        per_channel_floor * overhead
    }

    /// IVS calls per channel, all operations (for `SWEEP_CALLS_PER_SECOND`).
    fn calls_per_channel(&self) -> f64 {
        self.ivs_calls() as f64 / self.channels as f64
    }
}

/// At factor 1: the runs a pass of `sweep_s` seconds of sweeping takes (each run sweeps
/// until 30 s before its 540 s timeout), and how long the pass lasts on the calendar (a run
/// every 10 minutes: a missed rotation just behind the pass waits about that long).
fn calendar(sweep_s: f64) -> (u64, f64) {
    let per_run = SWEEPER_TIMEOUT_S - SWEEP_MARGIN_S;
    let runs = (sweep_s / per_run).ceil().max(1.0) as u64;
    (runs, runs as f64 * SWEEP_INTERVAL_S)
}

/// Creates the sweeper's state table in moto's DynamoDB (DynamoDB's JSON protocol over plain
/// HTTP: the benchmark links no DynamoDB SDK), as the template deploys it: key `id` (S), on
/// demand.
async fn create_state_table(moto_url: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = moto_url.trim_start_matches("http://").trim_end_matches('/');
    let body = json!({
        "TableName": SWEEP_STATE_TABLE,
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST"
    })
    .to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.CreateTable\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/{REGION}/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("moto: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("moto: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| format!("moto: {e}"))?;
    if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!(
            "moto's CreateTable: {}",
            answer.lines().next().unwrap_or("no answer")
        ))
    }
}

/// The pass's IVS calls: the counters now less those at `before`.
fn calls_since(
    before: &ivs_emulator::Stats,
    after: &ivs_emulator::Stats,
) -> BTreeMap<String, (u64, u64)> {
    after
        .operations
        .iter()
        .filter_map(|(op, o)| {
            let base = before.operations.get(op).cloned().unwrap_or_default();
            let all = o.requests - base.requests;
            let throttled = (o.rate_throttled + o.metadata_throttled)
                - (base.rate_throttled + base.metadata_throttled);
            (all > 0).then(|| (op.clone(), (all, throttled)))
        })
        .collect()
}

/// A stream key's ARN and the tags to put on it.
type KeyTags = (String, Vec<(&'static str, String)>);

/// Tags the keys (with quotas off), 8 requests at a time.
async fn tag_keys(client: &aws_sdk_ivs::Client, keys: Vec<KeyTags>) -> Result<(), String> {
    let mut tasks = tokio::task::JoinSet::new();
    let lanes = 8;
    let mut chunks: Vec<Vec<KeyTags>> = vec![Vec::new(); lanes];
    for (i, key) in keys.into_iter().enumerate() {
        chunks[i % lanes].push(key);
    }
    for chunk in chunks {
        let client = client.clone();
        tasks.spawn(async move {
            for (arn, tags) in chunk {
                let mut request = client.tag_resource().resource_arn(&arn);
                for (k, v) in tags {
                    request = request.tags(k, v);
                }
                request
                    .send()
                    .await
                    .map_err(|e| format!("TagResource {arn}: {e}"))?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(())
}

async fn run_sweep(args: &Args, c: usize) -> Result<SweepFigures, String> {
    use domain::rotation::{TAG_ROTATED_AFTER_STREAM, TAG_ROTATED_AFTER_TIME};
    use std::collections::HashSet;

    let factor = args.rate_factor;
    let moto = Moto::start();
    create_state_table(moto.url()).await?;
    // Quotas off while the account is set up; IVS's quotas × factor for the pass.
    let emulator = Emulator::new(Config {
        seed: 23,
        rate_quotas: RateQuotas::off(),
        quotas: Quotas {
            channels: c + 10,
            ..Quotas::default()
        },
        ..Config::default()
    });
    let server: Server = emulator
        .serve(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("the emulator cannot listen: {e}"))?;
    // Every channel rotates its key after each stream and may stream an hour; 10 % are live,
    // for two hours now; each has one past session (ended 2.5 hours ago) and a key that no
    // rotation marked yet.
    // 1 % of the channels (at least one) are live now and not overdue, and end right after
    // the first run with their end events lost: the next run must give them their rotation.
    let ending_count = ((c as f64 / 100.0).round() as usize).clamp(1, c.max(2) - 1);
    let channels: Vec<SeededChannel> = emulator
        .seed_channels(&SeedSpec {
            channels: c - ending_count,
            name_prefix: "sweep-".to_owned(),
            tags: [
                (
                    domain::policy::tags::ROTATE_KEY_ON.to_owned(),
                    "stream-end".to_owned(),
                ),
                (
                    domain::sweep::tags::MAX_STREAM_MINUTES.to_owned(),
                    MAX_STREAM_MINUTES.to_string(),
                ),
            ]
            .into_iter()
            .collect(),
            live: ivs_emulator::Live::Fraction(0.1),
            live_started_seconds_ago: LIVE_STARTED_AGO_S,
            past_sessions: 1,
            ..SeedSpec::default()
        })
        .map_err(|e| format!("seeding: {e}"))?;
    let ending: Vec<SeededChannel> = emulator
        .seed_channels(&SeedSpec {
            channels: ending_count,
            name_prefix: "ending-".to_owned(),
            tags: [(
                domain::policy::tags::ROTATE_KEY_ON.to_owned(),
                "stream-end".to_owned(),
            )]
            .into_iter()
            .collect(),
            live: ivs_emulator::Live::Fraction(1.0),
            live_started_seconds_ago: 600,
            past_sessions: 1,
            ..SeedSpec::default()
        })
        .map_err(|e| format!("seeding: {e}"))?;
    let ending_arns: HashSet<String> = ending.iter().map(|ch| ch.arn.clone()).collect();
    // Their keys are marked as rotated after their past session: nothing to do while live.
    let past_rotation = (chrono::Utc::now() - chrono::TimeDelta::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    tag_keys(
        &test_support::ivs_client(&server.url()),
        ending
            .iter()
            .map(|ch| {
                (
                    ch.stream_key_arn.clone(),
                    vec![(TAG_ROTATED_AFTER_TIME, past_rotation.clone())],
                )
            })
            .collect(),
    )
    .await?;
    // The planted missed rotations: 1 % of the channels (at least one), offline ones spread
    // evenly over the seeding order; their key stays unmarked. Every other key is marked as
    // the event path leaves it: the offline channels' as rotated after their last stream
    // (a rotation time later than its end), the live ones' as rotated after their live stream
    // (what the event path's rotation on the Stream End the sweeper's stop causes would
    // leave; the benchmark runs no event path), so that the pass finds nothing else to rotate.
    let offline: Vec<&SeededChannel> = channels.iter().filter(|c| c.stream_id.is_none()).collect();
    let planted_count = ((c as f64 / 100.0).round() as usize).clamp(1, offline.len().max(1));
    let planted: HashSet<String> = (0..planted_count.min(offline.len()))
        .map(|i| {
            offline[(2 * i + 1) * offline.len() / (2 * planted_count)]
                .arn
                .clone()
        })
        .collect();
    let client = test_support::ivs_client(&server.url());
    let rotated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let marks = channels
        .iter()
        .filter(|ch| !planted.contains(&ch.arn))
        .map(|ch| {
            let tags = match &ch.stream_id {
                Some(live) => vec![(TAG_ROTATED_AFTER_STREAM, live.clone())],
                None => vec![(TAG_ROTATED_AFTER_TIME, rotated_at.clone())],
            };
            (ch.stream_key_arn.clone(), tags)
        })
        .collect();
    tag_keys(&client, marks).await?;
    // The planted channels' last stream (what their new key must be marked with).
    let mut planted_streams: HashMap<String, String> = HashMap::new();
    for arn in &planted {
        let sessions = client
            .list_stream_sessions()
            .channel_arn(arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| format!("ListStreamSessions: {e}"))?;
        let id = sessions
            .stream_sessions()
            .first()
            .and_then(|s| s.stream_id())
            .ok_or("a planted channel has no past session")?;
        planted_streams.insert(arn.clone(), id.to_owned());
    }
    let live: Vec<&SeededChannel> = channels.iter().filter(|c| c.stream_id.is_some()).collect();

    let authority = TestAuthority::new(&[]);
    let ivs_front = TlsFront::start(&authority, &server.url()).await;
    let dynamodb_front = TlsFront::start(&authority, moto.url()).await;
    let mut env = lambda_env(&authority, &ivs_front, "INFO");
    env.extend([
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_front.url()),
        ("SWEEP_STATE_TABLE", SWEEP_STATE_TABLE.to_owned()),
        ("IVS_RATE_FACTOR", factor.to_string()),
        (
            "SWEEP_CALLS_PER_SECOND",
            sweep_calls_per_second(factor).to_string(),
        ),
    ]);
    let lambda = LocalLambda::start().await;
    lambda.spawn("sweeper", &args.bin_dir.join("sweeper"), &env);

    // The pass: invocations one after the other (the schedule's, without the wait between
    // them), each with the template's timeout ÷ factor, until one answers `complete`.
    emulator.set_rate_quotas(RateQuotas::scaled(factor));
    let before = emulator.stats();
    let deadline = Duration::from_secs_f64(SWEEPER_TIMEOUT_S / factor);
    let pass_started = chrono::Utc::now();
    let started = Instant::now();
    let give_up = started + Duration::from_secs(args.sweeper_timeout);
    let mut runs: Vec<SweepRun> = Vec::new();
    let mut ended_at: Option<chrono::DateTime<chrono::Utc>> = None;
    let mut errors_in_a_row = 0;
    let timed_out = loop {
        if Instant::now() > give_up {
            break true;
        }
        let event = json!({
            "version": "0",
            "id": format!("00000000-0000-4000-8000-{:012}", runs.len()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": test_support::ACCOUNT,
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": REGION,
            "resources": [format!("arn:aws:events:{REGION}:{}:rule/ivs-automation-SweeperFunctionSweepSchedule", test_support::ACCOUNT)],
            "detail": {}
        });
        let run_started = chrono::Utc::now();
        let at = Instant::now();
        let answer = lambda
            .invoke_with_deadline("sweeper", &event, deadline)
            .await;
        let run = SweepRun {
            started: run_started,
            took: at.elapsed(),
            deadline,
            response: match answer {
                test_support::lambda::Invoked::Ok(v) => Ok(v),
                test_support::lambda::Invoked::Err {
                    error_type,
                    error_message,
                } => Err(format!("{error_type}: {error_message}")),
            },
        };
        eprintln!(
            "bench-scale:   invocation {}: {:.1} s of {:.1} s, {}",
            runs.len() + 1,
            run.took.as_secs_f64(),
            deadline.as_secs_f64(),
            match &run.response {
                Ok(v) => format!(
                    "channels {}, stopped {}, missed rotations {}, calls {}, failures {}, complete {}",
                    v["channelsSeen"], v["streamsStopped"], v["missedRotations"], v["calls"], v["failures"], v["complete"]
                ),
                Err(e) => e.clone(),
            }
        );
        let (complete, failed, held) = (run.complete(), run.response.is_err(), run.lease_held());
        if failed {
            // What the sweeper said last, to see why.
            let logs = lambda.logs("sweeper");
            for line in logs.iter().skip(logs.len().saturating_sub(5)) {
                eprintln!("bench-scale:     sweeper: {line}");
            }
        }
        runs.push(run);
        if runs.len() == 1 {
            for ch in &ending {
                emulator
                    .disconnect(&ch.arn)
                    .map_err(|e| format!("ending a stream: {e:?}"))?;
            }
            ended_at = Some(chrono::Utc::now());
        }
        if complete {
            break false;
        }
        errors_in_a_row = if failed { errors_in_a_row + 1 } else { 0 };
        if errors_in_a_row >= 3 {
            break true;
        }
        if held {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let wall = started.elapsed();
    let calls = calls_since(&before, &emulator.stats());
    // The pass completed in its first run: one more run (a new pass's start) checks the
    // channels that went offline; it is not counted in the pass's figures.
    let mut after_pass: Option<(chrono::DateTime<chrono::Utc>, Duration)> = None;
    if runs.len() == 1 && !ending.is_empty() {
        let at = chrono::Utc::now();
        let clock = Instant::now();
        let event = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        let _ = lambda
            .invoke_with_deadline("sweeper", &event, deadline)
            .await;
        after_pass = Some((at, clock.elapsed()));
    }

    // When each overdue stream was stopped and each missed rotation made, from the log lines.
    let run_of = |at: chrono::DateTime<chrono::Utc>| {
        runs.iter()
            .rposition(|r| r.started <= at)
            .map_or(1, |i| i + 1)
    };
    let (mut stops, mut repairs, mut unplanned_repairs) = (Vec::new(), Vec::new(), 0);
    // Each ended stream's rotation: seconds after the streams ended, seconds into the run
    // that made it, and that run (from 1; the run after the pass counts as the next).
    let mut run_starts: Vec<chrono::DateTime<chrono::Utc>> =
        runs.iter().map(|r| r.started).collect();
    run_starts.extend(after_pass.map(|(at, _)| at));
    let mut ended_repairs: Vec<(f64, f64, usize)> = Vec::new();
    for line in lambda.logs("sweeper") {
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let message = record["message"].as_str().unwrap_or_default();
        let Some(at) = record["timestamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
        else {
            continue;
        };
        let after = (at - pass_started).num_milliseconds() as f64 / 1000.0;
        if message.starts_with("stream live past its maximum duration stopped") {
            stops.push((after, run_of(at)));
        } else if message.starts_with("rotation the end event missed")
            && record["outcome"] == "rotated"
        {
            let arn = record["channel_arn"].as_str().unwrap_or_default();
            if planted.contains(arn) {
                repairs.push((after, run_of(at)));
            } else if ending_arns.contains(arn) {
                let run = run_starts.iter().rposition(|s| *s <= at).unwrap_or(0);
                let since_end =
                    ended_at.map_or(0.0, |e| (at - e).num_milliseconds() as f64 / 1000.0);
                let into_run = (at - run_starts[run]).num_milliseconds() as f64 / 1000.0;
                ended_repairs.push((since_end, into_run, run + 1));
            } else {
                unplanned_repairs += 1;
            }
        }
    }

    // What IVS holds now (quotas off: reading it is not the pass's).
    emulator.set_rate_quotas(RateQuotas::off());
    let mut still_live = HashSet::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_streams()
            .max_results(100)
            .set_next_token(next.clone())
            .send()
            .await
            .map_err(|e| format!("ListStreams: {e}"))?;
        still_live.extend(
            page.streams()
                .iter()
                .filter_map(|s| s.channel_arn().map(str::to_owned)),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => break,
        }
    }
    let stopped_verified = live.iter().filter(|c| !still_live.contains(&c.arn)).count();
    let mut repaired_verified = 0;
    for channel in channels.iter().filter(|ch| planted.contains(&ch.arn)) {
        let stream_id = planted_streams.get(&channel.arn).map(String::as_str);
        if has_one_new_key(&client, channel, stream_id).await? {
            repaired_verified += 1;
        }
    }
    let mut ended_verified = 0;
    for channel in &ending {
        if has_one_new_key(&client, channel, channel.stream_id.as_deref()).await? {
            ended_verified += 1;
        }
    }
    let peak_rss_kib = lambda.pid("sweeper").and_then(peak_rss_kib);
    drop(lambda);
    drop(moto);
    Ok(SweepFigures {
        channels: c,
        live: live.len(),
        planted: planted.len(),
        runs,
        wall,
        timed_out,
        stops,
        repairs,
        unplanned_repairs,
        stopped_verified,
        repaired_verified,
        ending: ending.len(),
        ended_repairs,
        ended_verified,
        calls,
        peak_rss_kib,
        factor,
    })
}

fn seconds(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// The latest of `times` (seconds after the pass started, invocation), as text.
fn last_of(times: &[(f64, usize)]) -> String {
    match times
        .iter()
        .copied()
        .fold(None, |m: Option<(f64, usize)>, t| match m {
            Some(m) if m.0 >= t.0 => Some(m),
            _ => Some(t),
        }) {
        Some((s, run)) => format!("{} (invocation {run})", seconds(s)),
        None => "n/a".to_owned(),
    }
}

fn sweep_report(args: &Args, sweeps: &[SweepFigures]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Scale: the sweeper's pass\n");
    let factor = args.rate_factor;
    let _ = writeln!(
        out,
        "The real `sweeper` binary in the Lambda runtime loop, Lambda's environment only, IVS and its \
         state table (moto's DynamoDB) over HTTPS; IVS's quotas ×{factor} in the emulator and in its \
         budget (`IVS_RATE_FACTOR`), its share {SWEEPER_SHARE} (the template's SweeperRateShare), \
         `SWEEP_CALLS_PER_SECOND` {} ({}). Each of C channels rotates its \
         key after each stream (tag) and may stream {MAX_STREAM_MINUTES} minutes (tag); 10 % are live \
         for {} hours (overdue), 1 % of the offline ones have a missed rotation (their last stream \
         ended, their key carries no rotation marker), every other key is marked; another 1 % of the C are live \
         and not overdue at the first run and end right after it, their end events lost. Invoked as the \
         schedule would, one run after the other (without the schedule's wait between runs), each \
         with the template's Timeout ÷ factor ({:.0} s) as its deadline, until a run answers \
         `complete`.\n",
        sweep_calls_per_second(factor),
        // Each operation's budget is 5 TPS × factor × share; a channel needs about two calls.
        if 2.0 * 5.0 * factor * SWEEPER_SHARE > f64::from(sweep_calls_per_second(factor)) {
            "**binding at this factor**"
        } else {
            "not binding"
        },
        LIVE_STARTED_AGO_S / 3600,
        SWEEPER_TIMEOUT_S / factor
    );
    if sweeps.is_empty() {
        let _ = writeln!(
            out,
            "Not run in this session (`--sweeper-channels` absent).\n"
        );
        return out;
    }
    let _ = writeln!(out, "| C | invocations | pass time (sum; wall) | each invocation ÷ its deadline (max) | reached timeout | visited | overdue stopped (last after) | planted rotations repaired (last after) | other rotations | failures | IVS calls per channel | throttled | floor at share {SWEEPER_SHARE} (op) | pass ÷ floor | peak RSS |");
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for f in sweeps {
        let (floor, floor_op) = f.floor();
        let max_ratio = f
            .runs
            .iter()
            .map(|r| r.took.as_secs_f64() / r.deadline.as_secs_f64())
            .fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {}{} | {:.1} s; {:.1} s | {:.2} | {} | {}/{} | {}/{} ({}) | {}/{} ({}) | {} | {} | {:.2} | {} ({:.2} %) | {:.1} s ({}) | {:.2}× | {} |",
            f.channels,
            f.runs.len(),
            if f.complete() { "" } else { " (**incomplete**)" },
            f.sweep_time().as_secs_f64(),
            f.wall.as_secs_f64(),
            max_ratio,
            f.timeouts_reached(),
            f.visited(),
            f.channels,
            f.stopped_verified,
            f.live,
            last_of(&f.stops),
            f.repaired_verified,
            f.planted,
            last_of(&f.repairs),
            f.unplanned_repairs,
            f.failures(),
            f.calls_per_channel(),
            f.throttled(),
            100.0 * f.throttled() as f64 / f.ivs_calls().max(1) as f64,
            floor.as_secs_f64(),
            floor_op,
            f.sweep_time().as_secs_f64() / floor.as_secs_f64().max(1e-9),
            f.peak_rss_kib
                .map_or("n/a".to_owned(), |k| format!("{:.1} MB", k as f64 / 1024.0)),
        );
    }
    let _ = writeln!(
        out,
        "\n### The sweeper's IVS calls per channel, by operation\n"
    );
    let _ = writeln!(
        out,
        "| C | calls per channel (throttled) | invocations: duration ÷ deadline |"
    );
    let _ = writeln!(out, "|---|---|---|");
    for f in sweeps {
        let per = f
            .calls
            .iter()
            .map(|(op, (_, t))| format!("{op} {:.3} ({t})", f.per_channel(op)))
            .collect::<Vec<_>>()
            .join(", ");
        let runs = f
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{:.1}/{:.0} s",
                    r.took.as_secs_f64(),
                    r.deadline.as_secs_f64()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "| {} | {per} | {runs} |", f.channels);
    }
    let _ = writeln!(out, "\n### At IVS's quotas (factor 1)\n");
    let _ = writeln!(
        out,
        "Times × {factor}. A run sweeps until {SWEEP_MARGIN_S:.0} s before its {SWEEPER_TIMEOUT_S:.0} s timeout and \
         runs start every {:.0} minutes (the default SweepSchedule), so a pass of S seconds of sweeping \
         takes ⌈S ÷ {:.0}⌉ runs and as many schedule intervals; a missed rotation just behind the pass \
         waits about that long (a pass's period), the planted ones less (their place in the listing). \
         Below factor 1's 540 s a run keeps a quarter of its time free, not 30 s, and at least 3 s, \
         the 2 s before a deadline in which IVS calls are refused and one more (`sweeper::deadline_margin`): \
         how the measured runs split the work does not carry over to factor 1, the sweeping time does.\n",
        SWEEP_INTERVAL_S / 60.0,
        SWEEPER_TIMEOUT_S - SWEEP_MARGIN_S
    );
    for f in sweeps {
        let sweep_1 = f.sweep_time().as_secs_f64() * factor;
        let (runs, period) = calendar(sweep_1);
        let first_run_1 = f.runs.first().map_or(0.0, |r| r.took.as_secs_f64()) * factor;
        let stops_in_first = f.stops.iter().all(|(_, run)| *run == 1) && f.stops.len() == f.live;
        let _ = writeln!(
            out,
            "- C = {}: {} of sweeping, {runs} runs, a pass every {}; overdue streams stopped {} \
             (the last {} after the pass started, at factor 1); the last planted rotation repaired {} after.",
            f.channels,
            seconds(sweep_1),
            seconds(period),
            if stops_in_first {
                "all in the first run".to_owned()
            } else {
                format!(
                    "**not all in the first run** ({} of {} in it; at factor 1 the first run lasts {})",
                    f.stops.iter().filter(|(_, run)| *run == 1).count(),
                    f.live,
                    seconds(first_run_1)
                )
            },
            seconds(f.stops.iter().map(|s| s.0).fold(0.0, f64::max) * factor),
            seconds(f.repairs.iter().map(|s| s.0).fold(0.0, f64::max) * factor),
        );
    }
    // Streams seen live by a run whose end events are lost: the next run checks them first.
    for f in sweeps.iter().filter(|f| f.ending > 0) {
        let last = f
            .ended_repairs
            .iter()
            .copied()
            .fold(None, |m: Option<(f64, f64, usize)>, t| match m {
                Some(m) if m.0 >= t.0 => Some(m),
                _ => Some(t),
            });
        let Some((since_end, into_run, run)) = last else {
            let _ = writeln!(
                out,
                "- C = {}: {} streams live at the first run ended after it with their end events lost: **none repaired** ({}/{} checked in IVS).",
                f.channels, f.ending, f.ended_verified, f.ending
            );
            continue;
        };
        let at_factor_1 = SWEEP_INTERVAL_S + into_run * factor;
        let _ = writeln!(
            out,
            "- C = {}: {} streams live at the first run (not overdue) ended right after it, their end events lost: {}/{} repaired (checked in IVS), the last {} after they ended, {} into invocation {run}. At factor 1 the next scheduled run starts at most {:.0} minutes after an end and checks these channels first: a missed rotation of a stream some run saw live is repaired within {} at this C (30-minute target: {}).",
            f.channels,
            f.ending,
            f.ended_verified,
            f.ending,
            seconds(since_end),
            seconds(into_run),
            SWEEP_INTERVAL_S / 60.0,
            seconds(at_factor_1),
            if at_factor_1 <= REPAIR_TARGET_S { "met" } else { "**not met**" },
        );
    }
    // The target, from the largest pass measured.
    let Some(f) = sweeps.iter().max_by_key(|f| f.channels) else {
        return out;
    };
    let per_channel = f.seconds_per_channel(SWEEPER_SHARE);
    let measured_per_channel = f.sweep_time().as_secs_f64() * factor / f.channels as f64;
    let (floor, floor_op) = f.floor();
    let overhead = f.sweep_time().as_secs_f64() / floor.as_secs_f64().max(1e-9);
    let project = |c: usize, per: f64| calendar(per * c as f64);
    let (runs_5k, period_5k) = project(TARGET_CHANNELS, measured_per_channel);
    let holds = period_5k <= REPAIR_TARGET_S;
    // Within 30 minutes: at most this many runs, each sweeping 510 s.
    let runs_allowed = (REPAIR_TARGET_S / SWEEP_INTERVAL_S).floor();
    let per_channel_needed =
        runs_allowed * (SWEEPER_TIMEOUT_S - SWEEP_MARGIN_S) / TARGET_CHANNELS as f64;
    let share_needed = SWEEPER_SHARE * per_channel / per_channel_needed;
    let cps_needed = (f.calls_per_channel() / per_channel_needed).ceil();
    let _ = writeln!(
        out,
        "- \"A missed rotation repaired within 30 minutes at C = {TARGET_CHANNELS}\" at share {SWEEPER_SHARE}, for a stream \
         no run saw live (it started and ended between two runs: shorter than the schedule's interval), which only \
         the pass finds: {}. \
         From the pass over {} channels: {:.3} s of sweeping per channel at factor 1 (the floor from the \
         calls per channel, {:.3} s, {floor_op} binding, × the pass ÷ floor measured, {overhead:.2}); {TARGET_CHANNELS} channels: \
         {} of sweeping, {runs_5k} runs, a pass every {}. It holds when a pass fits in {runs_allowed:.0} runs \
         ({:.3} s per channel): at share ≈ {share_needed:.2} (with `SWEEP_CALLS_PER_SECOND` ≥ {cps_needed:.0}: \
         {:.2} calls per channel; the default 4 binds above share {:.2}), and at that share the other callers \
         keep {:.2} of each quota.",
        if holds { "holds" } else { "**does not hold**" },
        f.channels,
        measured_per_channel,
        per_channel / overhead,
        seconds(measured_per_channel * TARGET_CHANNELS as f64),
        seconds(period_5k),
        per_channel_needed,
        f.calls_per_channel(),
        SWEEPER_SHARE * per_channel / (f.calls_per_channel() / 4.0),
        (1.0 - share_needed).max(0.0),
    );
    // Overdue streams first: one StopStream each (and a BatchGetChannel per 50), inside the
    // sweeper's share of StopStream's quota, before the run's channel pass.
    let stop_calls = f
        .calls
        .get("StopStream")
        .map_or(1.0, |(all, _)| *all as f64)
        / f.live.max(1) as f64;
    let stop_rate = ivs_quota("StopStream").unwrap_or(5.0) * SWEEPER_SHARE;
    for c in [TARGET_CHANNELS, LARGE_CHANNELS] {
        let stopping = c as f64 / 10.0 * stop_calls / stop_rate;
        let _ = writeln!(
            out,
            "- Overdue first at C = {c} with 10 % overdue: {:.0} StopStream at {stop_rate:.1} per second (StopStream's 5 TPS × {SWEEPER_SHARE}) take {}: {}.",
            c as f64 / 10.0 * stop_calls,
            seconds(stopping),
            if stopping <= SWEEPER_TIMEOUT_S - SWEEP_MARGIN_S {
                "within the first run".to_owned()
            } else {
                format!("**{} runs**, the rest of the pass waiting behind them", (stopping / (SWEEPER_TIMEOUT_S - SWEEP_MARGIN_S)).ceil())
            }
        );
    }
    let ran_large = sweeps.iter().any(|s| s.channels >= LARGE_CHANNELS);
    let (runs_50k, period_50k) = project(LARGE_CHANNELS, measured_per_channel);
    let _ = writeln!(
        out,
        "- C = {LARGE_CHANNELS}: {}; projected from the calls per channel measured: {} of sweeping, \
         {runs_50k} runs, a pass every {} at share {SWEEPER_SHARE}.",
        if ran_large {
            "measured above"
        } else {
            "not run in this session"
        },
        seconds(measured_per_channel * LARGE_CHANNELS as f64),
        seconds(period_50k),
    );
    out
}
