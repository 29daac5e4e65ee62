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
//! - HTTPS to every AWS endpoint the functions call (IVS, SQS) through TLS terminators with a
//!   throwaway CA on 127.0.0.1, and the functions get Lambda's environment only.
//!
//! The burst: N broadcasters connect (or disconnect) within one second. Figures: time to
//! drain (the burst's first event to every queue empty), the quota floor (for each IVS
//! operation, the calls made ÷ its quota × factor; the largest), throttled answers, events
//! dead-lettered and lost, what each channel got (start metadata, or exactly one new key),
//! the admin API's latency meanwhile, IVS calls and peak memory per container.
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
    let mut env = vec![
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "ASIAFUNCTIONEXAMPLE".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "fake-function-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "fake-session-token".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "WARN".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("SSL_CERT_FILE", authority.ca_file().display().to_string()),
        ("AWS_ENDPOINT_URL_IVS", ivs.url()),
        ("AWS_ENDPOINT_URL_SQS", sqs.url()),
        ("EVENT_DEAD_LETTER_QUEUE_URL", dead_letter_queue.to_owned()),
        ("IVS_RATE_FACTOR", args.rate_factor.to_string()),
        ("IVS_RATE_CONCURRENCY", concurrency.to_string()),
    ];
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
        let keys = client
            .list_stream_keys()
            .channel_arn(&channel.arn)
            .send()
            .await
            .map_err(|e| format!("ListStreamKeys: {e}"))?;
        let keys = keys.stream_keys();
        let expected = channel.stream_id.as_deref();
        if keys.len() == 1
            && keys[0].arn() != Some(channel.stream_key_arn.as_str())
            && keys[0]
                .tags()
                .and_then(|t| t.get(domain::rotation::TAG_ROTATED_AFTER_STREAM))
                .map(String::as_str)
                == expected
        {
            done += 1;
        }
    }
    Ok(done)
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
    for &n in &args.counts {
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
        if let Some(&n) = args.counts.first() {
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
    let section = report(args, &figures, &machine);
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
    Ok(())
}
