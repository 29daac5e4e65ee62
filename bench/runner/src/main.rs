//! The benchmark (`./scripts/bench.sh`; see BENCHMARKS.md). In one run, on one machine:
//!
//! - **cold start as Lambda runs it** (the headline, [`lambda`]): every AWS endpoint over HTTPS
//!   (a throwaway CA, a TLS front per endpoint; EventBridge and SQS are moto's), the event
//!   functions invoked with an SQS batch of one record as production's event source mapping
//!   does, the project's functions publishing their lifecycle events (checked to arrive), the
//!   function started with Lambda's environment
//!   only, the CPU of its init and of its first invocation measured apart, and Lambda's CPU
//!   share applied by a model: the estimated first answer at 128 MB and at the template's
//!   memory size, warm latency and cost per invocation at 128, 256 and 512 MB; arms: the
//!   project, the project without its init-time warm-up, the floors, the floor built with
//!   aws-lc's jitter entropy (full run), Node.js; plus the admin API's first playback token;
//! - **cold start, plain HTTP** (the earlier model, kept for comparison: a bare EventBridge
//!   event, lifecycle events off): from `exec` of a
//!   function binary to its first event answered through a Lambda Runtime API on 127.0.0.1
//!   (`test_support::lambda::LocalLambda`, the harness of the end-to-end tests), the
//!   function's IVS calls going to the IVS emulator on 127.0.0.1; for each workload (stream-events on a `Stream Start`, recording-events on a `Recording Start Failure`,
//!   admin-api on an API Gateway HTTP API `GET /channels/{id}`) and for three arms: the
//!   project's function, the floor (`bench/floor`: `lambda_runtime` + `aws-config` + the same
//!   SDK calls) and a Node.js 20 handler with `@aws-sdk/client-ivs` (`bench/node`);
//! - **peak resident memory** (`VmHWM` of the process, read before it is stopped);
//! - **warm latency**: one instance, then sequential events, each for another channel (so
//!   every arm does the same IVS calls for each event: no cache hit);
//! - **artifact sizes**, from the file `bench.sh` writes (`--sizes`);
//! - **metadata throughput**: 100 items at one channel through `ivs_adapter::ivs`'s batching helper
//!   against the emulator with IVS's 5 PutMetadata per second per channel on, beside a naive
//!   sender (one item per call, 3 retries 1 s apart).
//!
//! It prints the table and writes it as Markdown (`--out`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ivs::Client;
use clap::Parser;
use domain::arn::{IvsArn, ResourceType};
use domain::metadata::MAX_METADATA_BYTES;
use ivs_adapter::ivs::{pack, Ivs, DEFAULT_METADATA_RATE};
use ivs_emulator::{Config, Emulator, Quotas, RateQuotas, Server};
use serde_json::{json, Value};
use test_support::lambda::{Invoked, LocalLambda};

mod keep_alive;
mod lambda;

#[derive(Parser, Debug)]
#[command(
    about = "Cold start as Lambda runs it (HTTPS, its environment, its CPU share), and over plain HTTP; memory, warm latency, cost, sizes and metadata throughput"
)]
struct Args {
    /// Directory of the project's and the floor's binaries (target/release).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The Node.js reference (bench/node, with node_modules installed); omit to skip it.
    #[arg(long)]
    node_dir: Option<PathBuf>,
    /// Cold starts per function and arm.
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// Warm instances per function and arm.
    #[arg(long, default_value_t = 3)]
    warm_runs: usize,
    /// Sequential events per warm instance (after its first, cold, event).
    #[arg(long, default_value_t = 200)]
    warm_events: usize,
    /// Artifact sizes written by bench.sh (`name<TAB>target<TAB>bootstrap bytes<TAB>zip
    /// bytes`; `#` lines are notes).
    #[arg(long)]
    sizes: Option<PathBuf>,
    /// Where the Markdown report goes.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The command that reproduces this run, written into the report.
    #[arg(long, default_value = "./scripts/bench.sh")]
    command: String,
    /// A file appended to the report as is (the analysis of the gaps).
    #[arg(long)]
    append: Option<PathBuf>,
    /// Quick check: the caller asks for few runs; the report says it is a smoke run.
    #[arg(long)]
    smoke: bool,
    /// The SAM template, for each function's memory size (the HTTPS section's CPU model).
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// `bench-floor` built without `AWS_LC_SYS_NO_JITTER_ENTROPY` (bench.sh builds and
    /// checks it in a full run); omit to leave that what-if out.
    #[arg(long)]
    jitter_floor: Option<PathBuf>,
    /// A note on the jitter-entropy floor for the report (how it was built and checked, or
    /// why it is missing).
    #[arg(long)]
    jitter_note: Option<String>,
}

// ------------------------------------------------------------------ workloads and arms

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Workload {
    StreamStart,
    RecordingStartFailure,
    AdminGetChannel,
    /// The admin API's first playback token (`POST /channels/{id}/playback-token`), signed
    /// with the key from Secrets Manager: measured in the HTTPS section only.
    AdminPlaybackToken,
}

impl Workload {
    /// The workloads of the plain-HTTP sections.
    const ALL: [Workload; 3] = [
        Workload::StreamStart,
        Workload::RecordingStartFailure,
        Workload::AdminGetChannel,
    ];

    /// The workloads of the HTTPS section (as Lambda runs them).
    const LAMBDA: [Workload; 4] = [
        Workload::StreamStart,
        Workload::RecordingStartFailure,
        Workload::AdminGetChannel,
        Workload::AdminPlaybackToken,
    ];

    /// The project function that handles it.
    fn function(self) -> &'static str {
        match self {
            Workload::StreamStart => "stream-events",
            Workload::RecordingStartFailure => "recording-events",
            Workload::AdminGetChannel | Workload::AdminPlaybackToken => "admin-api",
        }
    }

    fn event_label(self) -> &'static str {
        match self {
            Workload::StreamStart => "EventBridge `Stream Start`",
            Workload::RecordingStartFailure => "EventBridge `Recording Start Failure`",
            Workload::AdminGetChannel => "HTTP API `GET /channels/{id}`",
            Workload::AdminPlaybackToken => "HTTP API `POST /channels/{id}/playback-token`",
        }
    }

    fn ivs_calls(self) -> &'static str {
        match self {
            Workload::StreamStart => "ListTagsForResource + PutMetadata",
            Workload::RecordingStartFailure => "ListTagsForResource",
            Workload::AdminGetChannel => "GetChannel",
            Workload::AdminPlaybackToken => {
                "GetChannel (+ Secrets Manager GetSecretValue, once per container)"
            }
        }
    }

    /// The event as the HTTPS section (production's shape) hands it over: the event
    /// functions get theirs in an SQS batch of one record, as the event source mapping of
    /// their queue delivers it (EventBridge → SQS → Lambda).
    fn lambda_event_label(self) -> &'static str {
        match self {
            Workload::StreamStart => "SQS batch of one `Stream Start`",
            Workload::RecordingStartFailure => "SQS batch of one `Recording Start Failure`",
            Workload::AdminGetChannel | Workload::AdminPlaybackToken => self.event_label(),
        }
    }

    /// The IVS operations one invocation of the HTTPS section costs, in every arm (checked
    /// per operation against the emulator's counters): the batch path reads the channel's
    /// tags, and the playback URL a `Channel Live` lifecycle event carries, with one
    /// `BatchGetChannel`.
    fn lambda_calls(self) -> &'static [(&'static str, u64)] {
        match self {
            Workload::StreamStart => &[("BatchGetChannel", 1), ("PutMetadata", 1)],
            Workload::RecordingStartFailure => &[("BatchGetChannel", 1)],
            Workload::AdminGetChannel | Workload::AdminPlaybackToken => &[("GetChannel", 1)],
        }
    }

    /// The HTTPS section's IVS calls, as the report names them.
    fn lambda_ivs_calls(self) -> &'static str {
        match self {
            Workload::StreamStart => "BatchGetChannel + PutMetadata",
            Workload::RecordingStartFailure => "BatchGetChannel",
            Workload::AdminGetChannel => "GetChannel",
            Workload::AdminPlaybackToken => {
                "GetChannel (+ Secrets Manager GetSecretValue, once per container, at init)"
            }
        }
    }

    /// Lifecycle events one invocation publishes when publishing is on: a `Stream Start`
    /// announces the channel live; a `Recording Start Failure` on a channel without the
    /// must-record tag and the admin API's reads announce nothing (the admin API publishes
    /// on suspend, resume and rotate only).
    fn lifecycle_events(self) -> u64 {
        match self {
            Workload::StreamStart => 1,
            Workload::RecordingStartFailure
            | Workload::AdminGetChannel
            | Workload::AdminPlaybackToken => 0,
        }
    }

    /// IVS requests one event costs (checked against the emulator's counters).
    fn expected_calls(self) -> u64 {
        match self {
            Workload::StreamStart => 2,
            Workload::RecordingStartFailure
            | Workload::AdminGetChannel
            | Workload::AdminPlaybackToken => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Arm {
    Project,
    Floor,
    Node,
    /// What-if: the project's binary trusting the whole system store again
    /// (`TLS_TRUST_ROOTS=system`), to show what trusting only Amazon's roots saves.
    ProjectSystemRoots,
    /// Like for like: the floor with the project's start-up choices (the Amazon roots only,
    /// a current-thread runtime): `bench-floor-lean`.
    FloorLean,
    /// What-if (HTTPS section): the project's binary with `WARM_UP_AT_INIT=false`, its
    /// connections opened (and, for the admin API, its signing key loaded) by the first
    /// invocation instead of the init.
    ProjectNoWarmUp,
    /// What-if (HTTPS section): the project's binary with lifecycle events off
    /// (`LifecycleEventBusName` empty: `LIFECYCLE_EVENT_BUS=""`), to show what publishing
    /// costs side by side.
    ProjectNoLifecycle,
    /// What-if (HTTPS section, full run): `bench-floor` built without
    /// `AWS_LC_SYS_NO_JITTER_ENTROPY`, aws-lc's CPU-jitter entropy source in.
    FloorJitter,
}

impl Arm {
    fn label(self) -> &'static str {
        match self {
            Arm::Project => "project",
            Arm::Floor => "Rust floor",
            Arm::Node => "Node.js 20",
            Arm::ProjectSystemRoots => "project, system trust store",
            Arm::FloorLean => "Rust floor, the project's start-up choices",
            Arm::ProjectNoWarmUp => "project, no warm-up at init",
            Arm::ProjectNoLifecycle => "project, lifecycle events off",
            Arm::FloorJitter => "Rust floor built with jitter entropy",
        }
    }

    fn what_if(self) -> bool {
        matches!(
            self,
            Arm::ProjectSystemRoots
                | Arm::FloorLean
                | Arm::ProjectNoWarmUp
                | Arm::ProjectNoLifecycle
                | Arm::FloorJitter
        )
    }
}

struct Arms {
    bin_dir: PathBuf,
    node: Option<PathBuf>,
    /// `bench-floor` built with aws-lc's jitter entropy (`--jitter-floor`), when bench.sh
    /// built and checked it.
    jitter_floor: Option<PathBuf>,
}

impl Arms {
    /// Every arm measured for cold start and memory.
    fn list(&self) -> Vec<Arm> {
        let mut arms = vec![Arm::Project, Arm::Floor];
        if self.node.is_some() {
            arms.push(Arm::Node);
        }
        arms.extend([Arm::ProjectSystemRoots, Arm::FloorLean]);
        arms
    }

    /// The arms measured warm (the what-ifs change only the start-up).
    fn warm_list(&self) -> Vec<Arm> {
        self.list().into_iter().filter(|a| !a.what_if()).collect()
    }

    fn binary(&self, arm: Arm, workload: Workload) -> PathBuf {
        match arm {
            Arm::Project
            | Arm::ProjectSystemRoots
            | Arm::ProjectNoWarmUp
            | Arm::ProjectNoLifecycle => self.bin_dir.join(workload.function()),
            Arm::Floor => self.bin_dir.join("bench-floor"),
            Arm::FloorLean => self.bin_dir.join("bench-floor-lean"),
            Arm::FloorJitter => self
                .jitter_floor
                .clone()
                .unwrap_or_else(|| self.bin_dir.join("bench-floor-jitter")),
            Arm::Node => self.node.as_ref().expect("node arm").join("bootstrap"),
        }
    }

    fn env(&self, arm: Arm, ivs: &Ivs0) -> Vec<(&'static str, String)> {
        let mut env = ivs.env();
        if arm == Arm::ProjectSystemRoots {
            env.push(("TLS_TRUST_ROOTS", "system".to_owned()));
        }
        env
    }
}

// ------------------------------------------------------------------ the IVS side

/// A live channel and the events that concern it.
struct Channel {
    arn: String,
    stream_start: Value,
}

struct Ivs0 {
    emulator: Emulator,
    server: Server,
    channels: Vec<Channel>,
}

impl Ivs0 {
    /// An emulator with `count` live channels. The PutMetadata rate limit and IVS's API rate
    /// quotas are off here: the latency runs measure the functions, not IVS's quotas (the
    /// throughput run has them on).
    async fn start(count: usize) -> Ivs0 {
        let (emulator, server) = test_support::start_emulator_with(Config {
            seed: 7,
            metadata_rate_limit: None,
            rate_quotas: RateQuotas::off(),
            quotas: Quotas {
                channels: count + 10,
                ..Quotas::default()
            },
            ..Config::default()
        })
        .await;
        let client = test_support::ivs_client(&server.url());
        let mut arns = Vec::with_capacity(count);
        for i in 0..count {
            let created = client
                .create_channel()
                .name(format!("bench-{i}"))
                .send()
                .await
                .expect("CreateChannel");
            let arn = created.channel().unwrap().arn().unwrap().to_owned();
            let key = created.stream_key().unwrap().value().unwrap().to_owned();
            emulator.connect(&key).expect("the channel goes live");
            arns.push(arn);
        }
        let mut starts: HashMap<String, Value> = HashMap::new();
        for event in emulator.events() {
            if event["detail"]["event_name"] == "Stream Start" {
                if let Some(arn) = event["resources"][0].as_str() {
                    starts.insert(arn.to_owned(), event.clone());
                }
            }
        }
        let channels = arns
            .into_iter()
            .map(|arn| Channel {
                stream_start: starts.remove(&arn).expect("a Stream Start per channel"),
                arn,
            })
            .collect();
        Ivs0 {
            emulator,
            server,
            channels,
        }
    }

    fn event(&self, workload: Workload, index: usize) -> Value {
        let channel = &self.channels[index % self.channels.len()];
        match workload {
            Workload::StreamStart => channel.stream_start.clone(),
            Workload::RecordingStartFailure => {
                // Its decision depends on the channel's policy (must-record): one tag read.
                // (Recording End needs none, and makes no IVS call at all.)
                let mut event =
                    test_support::fixture("recording-state-change/recording-start-failure.json");
                event["resources"][0] = json!(channel.arn);
                event["id"] = json!(format!("6f1c4d2a-0000-4000-8000-{index:012}"));
                event
            }
            Workload::AdminGetChannel => {
                let mut event = test_support::fixture("admin-api/get-channel.json");
                let id = channel.arn.rsplit('/').next().unwrap();
                let path = format!("/channels/{id}");
                event["rawPath"] = json!(path);
                event["requestContext"]["http"]["path"] = json!(path);
                event
            }
            Workload::AdminPlaybackToken => {
                // `{"viewerId": "viewer-42", "expiresInSeconds": 300}` for the channel.
                let mut event = test_support::fixture("admin-api/mint-playback-token.json");
                let id = channel.arn.rsplit('/').next().unwrap();
                let path = format!("/channels/{id}/playback-token");
                event["rawPath"] = json!(path);
                event["requestContext"]["http"]["path"] = json!(path);
                event
            }
        }
    }

    fn requests(&self) -> u64 {
        self.emulator
            .stats()
            .operations
            .values()
            .map(|o| o.requests)
            .sum()
    }

    /// Requests so far per IVS operation.
    fn operations(&self) -> BTreeMap<String, u64> {
        self.emulator
            .stats()
            .operations
            .into_iter()
            .map(|(name, o)| (name, o.requests))
            .collect()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_REGION", "us-west-2".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local-only".to_owned()),
            ("AWS_ENDPOINT_URL_IVS", self.server.url()),
            // IVS's quotas are off in this emulator: so are the functions' rate budgets.
            ("IVS_RATE_FACTOR", "0".to_owned()),
        ]
    }
}

/// Checks that an answer is what the workload should answer.
fn check_answer(workload: Workload, arm: Arm, answer: Invoked) -> Result<(), String> {
    let value = match answer {
        Invoked::Ok(v) => v,
        Invoked::Err {
            error_type,
            error_message,
        } => return Err(format!("{error_type}: {error_message}")),
    };
    match workload {
        Workload::AdminGetChannel => {
            let status = value["statusCode"].as_u64();
            if status != Some(200) {
                return Err(format!("{} answered {value}", arm.label()));
            }
        }
        Workload::AdminPlaybackToken => {
            let body: Value = value["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            if value["statusCode"].as_u64() != Some(200) || !body["token"].is_string() {
                return Err(format!("{} answered {value}", arm.label()));
            }
        }
        Workload::StreamStart | Workload::RecordingStartFailure => {
            if !value["actions"].is_array() {
                return Err(format!("{} answered {value}", arm.label()));
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ processes

/// Live (non-zombie) children of this process.
fn children() -> HashSet<u32> {
    let me = std::process::id();
    let mut pids = HashSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == me && state != "Z" && state != "X" {
            pids.insert(pid);
        }
    }
    pids
}

/// Peak resident set size of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Checks that `events` events of `workload` cost the IVS requests they should.
fn check_calls(workload: Workload, calls: u64, events: usize) -> Result<(), String> {
    if calls == workload.expected_calls() * events as u64 {
        Ok(())
    } else {
        Err(format!(
            "{calls} IVS requests for {events} events, expected {} each",
            workload.expected_calls()
        ))
    }
}

/// A failed measurement's message: the function, the arm, what was measured, the error and
/// everything the function logged.
fn measurement_failure(
    workload: Workload,
    arm: Arm,
    what: &str,
    error: &str,
    instance: &Instance,
) -> String {
    format!(
        "{} / {} ({what}): {error}\n{}",
        workload.function(),
        arm.label(),
        instance.logs().join("\n")
    )
}

/// One function instance under the harness.
struct Instance {
    lambda: LocalLambda,
    pid: u32,
    name: &'static str,
}

impl Instance {
    /// Starts the binary; returns the instance and when `exec` was asked for.
    async fn spawn(binary: &Path, env: &[(&str, String)]) -> (Instance, Instant) {
        let lambda = LocalLambda::start().await;
        let before = children();
        let name = "bench-fn";
        let started = Instant::now();
        lambda.spawn(name, binary, env);
        let pid = children()
            .difference(&before)
            .copied()
            .max()
            .expect("the function process runs");
        (Instance { lambda, pid, name }, started)
    }

    async fn invoke(&self, event: &Value) -> Invoked {
        self.lambda.invoke(self.name, event).await
    }

    fn peak_rss_kib(&self) -> u64 {
        peak_rss_kib(self.pid).unwrap_or(0)
    }

    fn logs(&self) -> Vec<String> {
        self.lambda.logs(self.name)
    }
}

// ------------------------------------------------------------------ statistics

#[derive(Clone, Debug, Default)]
struct Sample(Vec<f64>);

impl Sample {
    fn push(&mut self, v: f64) {
        self.0.push(v);
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    }
    fn quantile(&self, q: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    }
    fn median(&self) -> f64 {
        self.quantile(0.5)
    }
    fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }
    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    /// `median (min–max)`.
    fn spread(&self, decimals: usize) -> String {
        if self.0.is_empty() {
            return "n/a".into();
        }
        if self.len() == 1 {
            return format!("{:.*}", decimals, self.median());
        }
        format!(
            "{:.*} ({:.*}–{:.*})",
            decimals,
            self.median(),
            decimals,
            self.min(),
            decimals,
            self.max()
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ------------------------------------------------------------------ cold and warm runs

#[derive(Default)]
struct Figures {
    cold_ms: Sample,
    cold_rss_mib: Sample,
    warm_ms: Sample,
    warm_rate: Sample,
    warm_rss_mib: Sample,
    calls_per_event: Sample,
}

type Results = BTreeMap<(Workload, Arm), Figures>;

async fn cold_start(
    ivs: &Ivs0,
    arms: &Arms,
    workload: Workload,
    arm: Arm,
    index: usize,
    figures: &mut Figures,
) -> Result<(), String> {
    let event = ivs.event(workload, index);
    let requests = ivs.requests();
    let (instance, started) =
        Instance::spawn(&arms.binary(arm, workload), &arms.env(arm, ivs)).await;
    let answer = instance.invoke(&event).await;
    let elapsed = started.elapsed();
    let rss = instance.peak_rss_kib();
    check_answer(workload, arm, answer).map_err(|e| {
        format!(
            "{} / {}: {e}\n{}",
            workload.function(),
            arm.label(),
            instance.logs().join("\n")
        )
    })?;
    let calls = ivs.requests() - requests;
    figures.cold_ms.push(ms(elapsed));
    figures.cold_rss_mib.push(rss as f64 / 1024.0);
    figures.calls_per_event.push(calls as f64);
    drop(instance);
    Ok(())
}

async fn warm(
    ivs: &Ivs0,
    arms: &Arms,
    workload: Workload,
    arm: Arm,
    events: usize,
    figures: &mut Figures,
) -> Result<(), String> {
    let (instance, _) = Instance::spawn(&arms.binary(arm, workload), &arms.env(arm, ivs)).await;
    let fail =
        |e: String, instance: &Instance| measurement_failure(workload, arm, "warm", &e, instance);
    let first = instance.invoke(&ivs.event(workload, 0)).await;
    check_answer(workload, arm, first).map_err(|e| fail(e, &instance))?;
    let requests = ivs.requests();
    let loop_started = Instant::now();
    for i in 1..=events {
        let event = ivs.event(workload, i);
        let started = Instant::now();
        let answer = instance.invoke(&event).await;
        figures.warm_ms.push(ms(started.elapsed()));
        check_answer(workload, arm, answer).map_err(|e| fail(e, &instance))?;
    }
    let wall = loop_started.elapsed();
    figures
        .warm_rate
        .push(events as f64 / wall.as_secs_f64().max(1e-9));
    figures
        .warm_rss_mib
        .push(instance.peak_rss_kib() as f64 / 1024.0);
    let calls = ivs.requests() - requests;
    check_calls(workload, calls, events).map_err(|e| fail(e, &instance))?;
    Ok(())
}

// ------------------------------------------------------------------ metadata throughput

/// IVS's PutMetadata limit per channel (requests per second), as the emulator enforces it.
const IVS_METADATA_RATE: u32 = 5;

/// The 100 items: chat-like cues of 150 to 250 characters, deterministic.
fn metadata_items() -> Vec<Value> {
    (0..100u64)
        .map(|i| {
            let len = 150 + (i * 37 % 101) as usize;
            let text: String = (0..len)
                .map(|j| char::from(b'a' + ((i as usize + j) % 26) as u8))
                .collect();
            json!({"seq": i, "type": "chat", "text": text})
        })
        .collect()
}

/// Rate windows of one second a drain of `elapsed` occupies (the first opens at the first
/// call, the next one a second later…): IVS allows 5 calls in each.
fn windows(elapsed: Duration) -> u64 {
    elapsed.as_secs() + 1
}

/// The share of the channel's 5 × 1 KB per second capacity that `bytes` delivered over
/// `elapsed` used: bytes ÷ (1024 × 5 × windows occupied).
fn capacity_share(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64
        / (MAX_METADATA_BYTES as f64 * f64::from(IVS_METADATA_RATE) * windows(elapsed) as f64)
}

struct Throughput {
    sender: &'static str,
    items: usize,
    delivered: usize,
    lost: usize,
    in_order: bool,
    calls: u64,
    throttled: u64,
    elapsed: Duration,
    bytes: usize,
}

impl Throughput {
    fn share(&self) -> f64 {
        capacity_share(self.bytes, self.elapsed)
    }
}

async fn metadata_emulator() -> (Emulator, Server, Client, String) {
    let (emulator, server) = test_support::start_emulator_with(Config {
        seed: 11,
        metadata_rate_limit: Some(IVS_METADATA_RATE),
        ..Config::default()
    })
    .await;
    let client = test_support::ivs_client(&server.url());
    let created = client
        .create_channel()
        .name("throughput")
        .send()
        .await
        .expect("CreateChannel");
    let arn = created.channel().unwrap().arn().unwrap().to_owned();
    emulator
        .connect(created.stream_key().unwrap().value().unwrap())
        .expect("live");
    (emulator, server, client, arn)
}

fn put_stats(emulator: &Emulator) -> (u64, u64) {
    emulator
        .stats()
        .operations
        .get("PutMetadata")
        .map(|o| (o.requests, o.metadata_throttled))
        .unwrap_or((0, 0))
}

/// The items the emulator accepted for the channel, in order (each payload is an item, or
/// a JSON array of items).
fn received(emulator: &Emulator, arn: &str, batched: bool) -> Vec<Value> {
    let mut items = Vec::new();
    for m in emulator.metadata(arn) {
        let v: Value = serde_json::from_str(&m.payload).unwrap_or(Value::Null);
        match (batched, v) {
            (true, Value::Array(a)) => items.extend(a),
            (_, v) => items.push(v),
        }
    }
    items
}

/// Whether the items received keep the order they were given in (`seq` increasing).
fn in_sequence(got: &[Value]) -> bool {
    got.windows(2)
        .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
}

async fn batched_sender(items: &[Value]) -> Result<(Throughput, usize, usize), String> {
    let (emulator, server, client, arn) = metadata_emulator().await;
    let channel = IvsArn::parse_as(&arn, ResourceType::Channel).map_err(|e| e.to_string())?;
    let ivs = Ivs::new(client);
    let payloads = pack(items).map_err(|e| e.to_string())?.len();
    let report = ivs
        .put_metadata_batch(&channel, items, DEFAULT_METADATA_RATE)
        .await
        .map_err(|e| format!("the batch failed: {e}"))?;
    let (requests, throttled) = put_stats(&emulator);
    let got = received(&emulator, &arn, true);
    let result = Throughput {
        sender: "batching helper (`Ivs::put_metadata_batch`: `pack` + `Pacer` at 5/s)",
        items: items.len(),
        delivered: got.len(),
        lost: items.len() - report.items_sent(),
        in_order: got == items[..got.len().min(items.len())],
        calls: requests,
        throttled,
        elapsed: report.elapsed,
        bytes: report.sent.iter().map(|p| p.bytes).sum(),
    };
    let _ = server.shutdown().await;
    Ok((result, payloads, report.calls))
}

async fn naive_sender(items: &[Value]) -> Result<Throughput, String> {
    let (emulator, server, client, arn) = metadata_emulator().await;
    let client = Arc::new(client);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for item in items {
        let client = client.clone();
        let arn = arn.clone();
        let payload = item.to_string();
        tasks.push(tokio::spawn(async move {
            // One item per call, retried 3 times 1 s apart when refused.
            for attempt in 0..4 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let sent = client
                    .put_metadata()
                    .channel_arn(&arn)
                    .metadata(&payload)
                    .send()
                    .await;
                if sent.is_ok() {
                    return Some(payload.len());
                }
            }
            None
        }));
    }
    let mut bytes = 0;
    let mut delivered = 0;
    for task in tasks {
        if let Some(b) = task.await.map_err(|e| e.to_string())? {
            bytes += b;
            delivered += 1;
        }
    }
    let elapsed = started.elapsed();
    let (requests, throttled) = put_stats(&emulator);
    let got = received(&emulator, &arn, false);
    let result = Throughput {
        sender: "naive sender (one item per call, 3 retries 1 s apart)",
        items: items.len(),
        delivered: got.len(),
        lost: items.len() - delivered,
        in_order: in_sequence(&got),
        calls: requests,
        throttled,
        elapsed,
        bytes,
    };
    let _ = server.shutdown().await;
    Ok(result)
}

// ------------------------------------------------------------------ the report

struct Size {
    name: String,
    target: String,
    bootstrap: u64,
    zip: u64,
}

fn read_sizes(path: &Path) -> (Vec<Size>, Vec<String>) {
    let mut sizes = Vec::new();
    let mut notes = Vec::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return (sizes, vec![format!("no size file at {}", path.display())]);
    };
    for line in text.lines() {
        if let Some(note) = line.strip_prefix('#') {
            notes.push(note.trim().to_owned());
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 4 {
            sizes.push(Size {
                name: f[0].to_owned(),
                target: f[1].to_owned(),
                bootstrap: f[2].parse().unwrap_or(0),
                zip: f[3].parse().unwrap_or(0),
            });
        }
    }
    (sizes, notes)
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "n/a".into())
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "n/a".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    vec![
        ("CPU".into(), format!("{cpu}, {cores} cores available")),
        ("memory".into(), mem),
        (
            "kernel".into(),
            format!("Linux {kernel} ({})", std::env::consts::ARCH),
        ),
        ("load average at the end (1, 5, 15 min)".into(), load),
        ("rustc".into(), command_output("rustc", &["-V"])),
        ("node".into(), command_output("node", &["-v"])),
    ]
}

fn node_sdk_version(node_dir: &Path) -> String {
    std::fs::read_to_string(node_dir.join("node_modules/@aws-sdk/client-ivs/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "n/a".into())
}

fn verdict(ok: bool) -> &'static str {
    if SMOKE.load(std::sync::atomic::Ordering::Relaxed) {
        "not judged (smoke run)"
    } else if ok {
        "**met**"
    } else {
        "**missed**"
    }
}

/// A smoke run judges no target: its figures come from a debug build.
static SMOKE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct Report<'a> {
    args: &'a Args,
    arms: &'a Arms,
    results: &'a Results,
    /// The HTTPS section.
    lambda: lambda::Report<'a>,
    sizes: Vec<Size>,
    size_notes: Vec<String>,
    batched: &'a Throughput,
    batched_payloads: usize,
    naive: &'a Throughput,
    wall: Duration,
}

impl Report<'_> {
    fn get(&self, w: Workload, a: Arm) -> Option<&Figures> {
        self.results.get(&(w, a)).filter(|f| f.cold_ms.len() > 0)
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let args = self.args;
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        let _ = writeln!(out, "# Benchmarks\n");
        if args.smoke {
            let _ = writeln!(
                out,
                "**Smoke run** (one run each, debug build, no Node.js, no arm64 build): it checks \
                 that the benchmark works; its figures mean nothing. The real figures come from \
                 `./scripts/bench.sh`.\n"
            );
        }
        let _ = writeln!(
            out,
            "Measured on {now} by `{}` (the measurements took {:.0} s, after the builds). Rerun it to reproduce \
             this file; `./scripts/bench.sh --smoke` is the quick check CI runs.\n",
            args.command,
            self.wall.as_secs_f64()
        );
        let _ = writeln!(out, "| machine | |\n|---|---|");
        for (k, v) in machine() {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        if let Some(node) = &self.arms.node {
            let _ = writeln!(
                out,
                "| Node.js reference | `@aws-sdk/client-ivs` {} (bench/node, pinned by its package-lock.json) |",
                node_sdk_version(node)
            );
        }
        let _ = writeln!(
            out,
            "| runs | {} cold starts per function and arm, interleaved (plain HTTP and HTTPS); {} warm instances × {} events |\n",
            args.runs, args.warm_runs, args.warm_events
        );

        // Targets first: what the issue asks.
        let _ = writeln!(out, "## Targets\n");
        let _ = writeln!(out, "| target | measured | verdict |\n|---|---|---|");
        for line in self.lambda.target_lines() {
            let _ = writeln!(out, "{line}");
        }
        for line in self.target_lines() {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);

        out.push_str(&self.lambda.section(args.smoke));

        let _ = writeln!(
            out,
            "## Cold start and peak memory (plain HTTP, no TLS: the earlier model, kept for comparison)\n\n\
             No TLS, no CPU model, the machine's CPU: a cold start as earlier runs measured it, \
             kept to compare runs over time: the event functions get a bare EventBridge event \
             (a direct invocation: tags read with ListTagsForResource) and publish no \
             lifecycle events (`LIFECYCLE_EVENT_BUS` unset). Production's inputs and \
             publishing are the section above. From `exec` of the binary to the first event's answer through a Lambda Runtime \
             API on 127.0.0.1 (the tests' `LocalLambda` harness), the function's IVS calls \
             going to the IVS emulator on 127.0.0.1. Peak memory is the process's `VmHWM` \
             after that first event. Median (min–max) over the runs.\n"
        );
        let _ = writeln!(
            out,
            "| function (event) | IVS calls | arm | cold start ms | peak RSS MiB | IVS requests |\n|---|---|---|---|---|---|"
        );
        for w in Workload::ALL {
            for a in self.arms.list() {
                let Some(f) = self.get(w, a) else { continue };
                let name = match a {
                    Arm::Project => format!("`{}` ({})", w.function(), w.event_label()),
                    _ => String::new(),
                };
                let calls = if a == Arm::Project { w.ivs_calls() } else { "" };
                let _ = writeln!(
                    out,
                    "| {name} | {calls} | {} | {} | {} | {} |",
                    a.label(),
                    f.cold_ms.spread(1),
                    f.cold_rss_mib.spread(1),
                    f.calls_per_event.spread(0)
                );
            }
        }
        let _ = writeln!(
            out,
            "\nArms: **project** = the function's release binary; **Rust floor** = \
             `bench/floor`, `lambda_runtime` + `aws-config` + the same SDK calls and nothing \
             else; **Node.js 20** = `bench/node`, the same calls with `@aws-sdk/client-ivs`, run \
             by a minimal Runtime API client (lighter than the managed `nodejs20.x` runtime, so \
             the Node.js figures are a lower bound); **project, system trust store** = the \
             project's binary with `TLS_TRUST_ROOTS=system`, its HTTPS client loading the whole \
             system trust store as the SDK's default client does (what trusting only Amazon's \
             roots saves); **Rust floor, the project's start-up choices** = \
             `bench-floor-lean`, the floor with the project's HTTPS client \
             (`ivs_adapter::tls`, Amazon's roots only) and `#[tokio::main(flavor = \
             \"current_thread\")]`.\n"
        );

        let _ = writeln!(
            out,
            "## Warm latency (plain HTTP, no TLS: the earlier model, kept for comparison)\n\n\
             One instance per run: its first (cold) event, then {} events one after the \
             other, each for another live channel (no cache hit: every arm makes the same IVS \
             calls for every event). Latency is per event, invoke to answer, over all warm \
             events of all runs; events per second is per run.\n",
            args.warm_events
        );
        let _ = writeln!(
            out,
            "| function | arm | median ms | p90 ms | p99 ms | events/s | peak RSS MiB after |\n|---|---|---|---|---|---|---|"
        );
        for w in Workload::ALL {
            for a in self.arms.warm_list() {
                let Some(f) = self.get(w, a) else { continue };
                let name = if a == Arm::Project {
                    format!("`{}`", w.function())
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "| {name} | {} | {:.2} | {:.2} | {:.2} | {} | {} |",
                    a.label(),
                    f.warm_ms.median(),
                    f.warm_ms.quantile(0.9),
                    f.warm_ms.quantile(0.99),
                    f.warm_rate.spread(0),
                    f.warm_rss_mib.spread(1)
                );
            }
        }
        let _ = writeln!(out);

        let _ = writeln!(out, "## Artifact sizes\n");
        if self.sizes.is_empty() {
            let _ = writeln!(out, "Not measured in this run.\n");
        } else {
            let _ = writeln!(
                out,
                "| binary | target | `bootstrap` MiB | zip MiB |\n|---|---|---|---|"
            );
            for s in &self.sizes {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {:.2} | {:.2} |",
                    s.name,
                    s.target,
                    s.bootstrap as f64 / 1048576.0,
                    s.zip as f64 / 1048576.0
                );
            }
            let _ = writeln!(out);
        }
        for note in &self.size_notes {
            let _ = writeln!(out, "- {note}");
        }
        if !self.size_notes.is_empty() {
            let _ = writeln!(out);
        }

        let item_sizes: Vec<usize> = metadata_items()
            .iter()
            .map(|i| i.to_string().len())
            .collect();
        let _ = writeln!(
            out,
            "## Metadata throughput at IVS's limit\n\n\
             100 items (JSON cues of {} to {} bytes, {} bytes in all) handed over at once, \
             at one live channel of the emulator with IVS's limit on ({} PutMetadata per \
             second per channel, 1 KB each). Capacity used = payload bytes delivered ÷ \
             (1024 × 5 × the one-second rate windows the drain occupied: a drain of d seconds \
             occupies ⌊d⌋ + 1 of them, and IVS accepts 5 calls in each).\n",
            item_sizes.iter().min().unwrap_or(&0),
            item_sizes.iter().max().unwrap_or(&0),
            item_sizes.iter().sum::<usize>(),
            IVS_METADATA_RATE
        );
        let _ = writeln!(
            out,
            "| sender | delivered | lost | in order | PutMetadata calls (throttled) | time to drain s | capacity used |\n|---|---|---|---|---|---|---|"
        );
        for t in [self.batched, self.naive] {
            let _ = writeln!(
                out,
                "| {} | {}/{} | {} | {} | {} ({}) | {:.2} | {:.0}% |",
                t.sender,
                t.delivered,
                t.items,
                t.lost,
                if t.in_order { "yes" } else { "no" },
                t.calls,
                t.throttled,
                t.elapsed.as_secs_f64(),
                t.share() * 100.0
            );
        }
        let ideal_windows = self.batched_payloads.div_ceil(IVS_METADATA_RATE as usize);
        let ideal = self.batched.bytes as f64
            / (MAX_METADATA_BYTES as f64 * f64::from(IVS_METADATA_RATE) * ideal_windows as f64);
        let _ = writeln!(
            out,
            "\nThe helper packed the items into {} payloads (the fewest an order-keeping \
             packing allows) of {:.0} bytes on average; a perfect sender of those payloads \
             would occupy {} windows, i.e. {:.0}% of the capacity.\n",
            self.batched_payloads,
            self.batched.bytes as f64 / self.batched_payloads.max(1) as f64,
            ideal_windows,
            ideal * 100.0
        );
        out
    }

    fn target_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let node = self.arms.node.is_some();
        for w in Workload::ALL {
            let (Some(p), Some(fl)) = (self.get(w, Arm::Project), self.get(w, Arm::Floor)) else {
                continue;
            };
            let n = self.get(w, Arm::Node);
            let fnm = w.function();
            match n {
                Some(n) if node => {
                    let r = n.cold_ms.median() / p.cold_ms.median();
                    lines.push(format!(
                        "| `{fnm}` cold start ≥ 20× faster than Node.js (plain HTTP) | {:.1} ms vs {:.1} ms: {r:.1}× | {} |",
                        p.cold_ms.median(),
                        n.cold_ms.median(),
                        verdict(r >= 20.0)
                    ));
                }
                _ => lines.push(format!(
                    "| `{fnm}` cold start ≥ 20× faster than Node.js (plain HTTP) | Node.js not run | n/a |"
                )),
            }
            let r = p.cold_ms.median() / fl.cold_ms.median();
            lines.push(format!(
                "| `{fnm}` cold start ≤ 1.2× the Rust floor (plain HTTP) | {:.1} ms vs {:.1} ms: {r:.2}× | {} |",
                p.cold_ms.median(),
                fl.cold_ms.median(),
                verdict(r <= 1.2)
            ));
            if let Some(lean) = self.get(w, Arm::FloorLean) {
                let r = p.cold_ms.median() / lean.cold_ms.median();
                lines.push(format!(
                    "| `{fnm}` beside the floor with the same start-up choices (plain HTTP) | {:.1} ms vs {:.1} ms: {r:.2}× | the project's own start-up work |",
                    p.cold_ms.median(),
                    lean.cold_ms.median(),
                ));
            }
            if let Some(system) = self.get(w, Arm::ProjectSystemRoots) {
                lines.push(format!(
                    "| `{fnm}` trusting the whole system store instead (plain HTTP) | {:.1} ms: {:.1} ms more | what trusting only Amazon's roots saves |",
                    system.cold_ms.median(),
                    system.cold_ms.median() - p.cold_ms.median(),
                ));
            }
            let rss = p.cold_rss_mib.median();
            match n {
                Some(n) if node => {
                    let nr = n.cold_rss_mib.median();
                    lines.push(format!(
                        "| `{fnm}` peak memory ≤ 1/5 of Node.js and < 16 MB (plain HTTP) | {rss:.1} MiB vs {nr:.1} MiB: 1/{:.1} | {} |",
                        nr / rss,
                        verdict(rss * 5.0 <= nr && rss * 1048576.0 < 16e6)
                    ));
                }
                _ => lines.push(format!(
                    "| `{fnm}` peak memory < 16 MB (plain HTTP) | {rss:.1} MiB (Node.js not run) | {} |",
                    verdict(rss * 1048576.0 < 16e6)
                )),
            }
        }
        let arm64: Vec<&Size> = self
            .sizes
            .iter()
            .filter(|s| s.target.starts_with("aarch64") && s.name != "bench-floor")
            .collect();
        if arm64.is_empty() {
            let x86: Vec<&Size> = self
                .sizes
                .iter()
                .filter(|s| s.name != "bench-floor")
                .collect();
            if x86.is_empty() {
                lines.push("| each arm64 zip ≤ 4 MB | not measured | n/a |".into());
            } else {
                let max = x86.iter().map(|s| s.zip).max().unwrap_or(0);
                lines.push(format!(
                    "| each arm64 zip ≤ 4 MB | no arm64 build (see below); largest {} zip {:.2} MiB | {} (x86_64) |",
                    x86[0].target,
                    max as f64 / 1048576.0,
                    verdict(max as f64 <= 4e6)
                ));
            }
        } else {
            for s in arm64 {
                lines.push(format!(
                    "| `{}` arm64 zip ≤ 4 MB | {:.2} MiB ({} bytes) | {} |",
                    s.name,
                    s.zip as f64 / 1048576.0,
                    s.zip,
                    verdict(s.zip as f64 <= 4e6)
                ));
            }
        }
        let b = self.batched;
        lines.push(format!(
            "| metadata: all 100 delivered, none lost | {}/100 delivered in order: {}, {} lost, {} throttled | {} |",
            b.delivered,
            if b.in_order { "yes" } else { "no" },
            b.lost,
            b.throttled,
            verdict(b.delivered == 100 && b.lost == 0 && b.in_order)
        ));
        lines.push(format!(
            "| metadata: ≥ 90% of the 5 × 1 KB/s capacity | {:.0}% (naive sender: {:.0}%, {} of 100 lost) | {} |",
            b.share() * 100.0,
            self.naive.share() * 100.0,
            self.naive.lost,
            verdict(b.share() >= 0.9)
        ));
        lines
    }
}

// ------------------------------------------------------------------ main

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args).await {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

/// The markers around the scale benchmark's section of BENCHMARKS.md.
const SCALE_BEGIN: &str = "<!-- scale:begin (./scripts/bench-scale.sh writes this section) -->";
const SCALE_END: &str = "<!-- scale:end -->";

/// The scale section of a report, markers included.
fn scale_section(report: &str) -> Option<&str> {
    let start = report.find(SCALE_BEGIN)?;
    let end = report[start..].find(SCALE_END)? + start + SCALE_END.len();
    Some(&report[start..end])
}

async fn run(args: &Args) -> Result<(), String> {
    let wall = Instant::now();
    SMOKE.store(args.smoke, std::sync::atomic::Ordering::Relaxed);
    let node = match &args.node_dir {
        Some(dir) if dir.join("node_modules/@aws-sdk/client-ivs").is_dir() => {
            Some(std::fs::canonicalize(dir).map_err(|e| e.to_string())?)
        }
        Some(dir) => {
            return Err(format!(
                "{} has no node_modules/@aws-sdk/client-ivs: run `npm ci` there",
                dir.display()
            ))
        }
        None => None,
    };
    let arms = Arms {
        bin_dir: std::fs::canonicalize(&args.bin_dir)
            .map_err(|e| format!("{}: {e}", args.bin_dir.display()))?,
        node,
        jitter_floor: match &args.jitter_floor {
            Some(path) => {
                Some(std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            None => None,
        },
    };
    for w in Workload::ALL {
        for a in arms.list() {
            let bin = arms.binary(a, w);
            if !bin.is_file() {
                return Err(format!("missing binary {}", bin.display()));
            }
        }
    }
    for w in Workload::LAMBDA {
        for a in lambda::arms(&arms, w) {
            let bin = arms.binary(a, w);
            if !bin.is_file() {
                return Err(format!("missing binary {}", bin.display()));
            }
        }
    }
    let memory = lambda::TemplateMemory::read(&args.template)?;

    let channels = args.warm_events.max(args.runs) + 1;
    eprintln!("bench: starting the IVS emulator with {channels} live channels");
    let ivs = Ivs0::start(channels).await;
    eprintln!(
        "bench: HTTPS endpoints (a throwaway CA, a TLS front per endpoint, the playback key, moto's EventBridge and SQS)"
    );
    let endpoints = lambda::Endpoints::start(&ivs).await?;
    let mut results: Results = BTreeMap::new();
    let mut lambda_results = lambda::Results::new();

    let lambda_arms: usize = Workload::LAMBDA
        .iter()
        .map(|w| lambda::arms(&arms, *w).len())
        .sum();
    eprintln!(
        "bench: cold starts ({} runs × ({} plain-HTTP + {} HTTPS workload-arms), interleaved)",
        args.runs,
        Workload::ALL.len() * arms.list().len(),
        lambda_arms
    );
    for run in 0..args.runs {
        for w in Workload::ALL {
            for a in arms.list() {
                let figures = results.entry((w, a)).or_default();
                cold_start(&ivs, &arms, w, a, run + 1, figures).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        for w in Workload::LAMBDA {
            let mb = memory.of(w.function());
            for a in lambda::arms(&arms, w) {
                let cold = lambda::cold_start(&ivs, &endpoints, &arms, mb, w, a, run + 1).await?;
                lambda::record_cold(&mut lambda_results, w, a, cold);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    eprintln!(
        "bench: warm instances ({} runs × {} events)",
        args.warm_runs, args.warm_events
    );
    for _ in 0..args.warm_runs {
        for w in Workload::ALL {
            for a in arms.warm_list() {
                let figures = results.entry((w, a)).or_default();
                warm(&ivs, &arms, w, a, args.warm_events, figures).await?;
            }
        }
        for w in Workload::LAMBDA {
            let mb = memory.of(w.function());
            let run = lambda::warm(
                &ivs,
                &endpoints,
                &arms,
                mb,
                w,
                Arm::Project,
                args.warm_events,
            )
            .await?;
            lambda::record_warm(&mut lambda_results, w, Arm::Project, run);
        }
    }
    eprintln!("bench: lifecycle events (the PutEvents calls moto took)");
    let lifecycle = endpoints.check_lifecycle().await?;
    drop(endpoints);
    let _ = ivs.server.shutdown().await;

    eprintln!("bench: metadata throughput (the helper, then the naive sender)");
    let items = metadata_items();
    let (batched, batched_payloads, _) = batched_sender(&items).await?;
    let naive = naive_sender(&items).await?;

    let (sizes, size_notes) = match &args.sizes {
        Some(path) => read_sizes(path),
        None => (Vec::new(), Vec::new()),
    };
    let report = Report {
        args,
        arms: &arms,
        results: &results,
        lambda: lambda::Report {
            results: &lambda_results,
            arms: &arms,
            memory: &memory,
            template: &args.template,
            jitter_note: args.jitter_note.as_deref(),
            warm_events: args.warm_events,
            lifecycle: &lifecycle,
        },
        sizes,
        size_notes,
        batched: &batched,
        batched_payloads,
        naive: &naive,
        wall: wall.elapsed(),
    };
    let mut markdown = report.markdown();
    if let Some(path) = &args.append {
        let extra =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        markdown.push_str(&extra);
    }
    println!("{markdown}");
    // The scale benchmark's section (./scripts/bench-scale.sh) is its own run: kept as is.
    if let Ok(previous) = std::fs::read_to_string(&args.out) {
        if let Some(section) = scale_section(&previous) {
            markdown.push('\n');
            markdown.push_str(section);
            markdown.push('\n');
        }
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&args.out, &markdown).map_err(|e| format!("{}: {e}", args.out.display()))?;
    eprintln!("bench: wrote {}", args.out.display());
    Ok(())
}
