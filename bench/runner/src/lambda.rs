//! The headline section: cold starts as Lambda runs them.
//!
//! - **HTTPS to every AWS endpoint**: IVS (and, for the admin API, Secrets Manager) behind a
//!   TLS terminator on 127.0.0.1 each (`test_support::tls::TlsFront`), with a certificate from
//!   a certificate authority made for this run, so that a first request pays a real
//!   handshake, certificate check and random-number set-up; EventBridge and SQS are moto's
//!   server (`test_support::moto::Moto`) behind one more;
//! - **production's inputs and publishing**: the event functions get an SQS batch of one
//!   record (EventBridge → SQS → the event source mapping) and answer
//!   `{"batchItemFailures": []}`; the project's functions publish their lifecycle events
//!   (`LIFECYCLE_EVENT_BUS=default`, the template's default) to moto's default bus, and the
//!   relay in front of moto keeps each `PutEvents` and its answer, checked after the run;
//! - **Lambda's environment only**: the variables Lambda sets, the endpoint overrides, and the
//!   throwaway authority trusted on purpose (`SSL_CERT_FILE` for the Rust arms,
//!   `NODE_EXTRA_CA_CERTS` for Node.js);
//! - **Lambda's CPU share, by a model**: the CPU of the init phase and of the first
//!   invocation, measured apart ([`test_support::lambda::Phases`]); Lambda runs the init at
//!   full speed and an invocation at memory/1769 of a vCPU, which gives the estimated first
//!   answer at a memory size, the warm latency and the cost per invocation.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use domain::lifecycle::{LifecycleKind, LIFECYCLE_SOURCE};
use serde_json::{json, Value};
use test_support::lambda::{alive, settled_cpu, Invoked};
use test_support::moto::Moto;
use test_support::tls::{TestAuthority, TlsFront};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::keep_alive::KeepAlive;
use crate::{
    check_answer, measurement_failure, ms, verdict, Arm, Arms, Instance, Ivs0, Sample, Workload,
};

/// Memory (MB) at which Lambda gives a function one full vCPU.
pub(crate) const FULL_VCPU_MB: f64 = 1769.0;
/// The memory sizes of the latency and cost table.
pub(crate) const MEMORY_SIZES: [u32; 3] = [128, 256, 512];
/// Lambda's arm64 price per GB-second of duration (us-east-1, first tier).
const USD_PER_GB_S: f64 = 0.000_013_333_4;
/// Lambda's price per request.
const USD_PER_MILLION_REQUESTS: f64 = 0.20;
/// How long a function may take to ask for its first event.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Fake credentials in the shape Lambda gives a function (temporary: a session token too).
const ACCESS_KEY_ID: &str = "ASIAIOSFODNN7EXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

// ------------------------------------------------------------------ the template's sizes

/// `MemorySize` of each function in template.yaml (the `Globals` value where a function sets
/// none), by binary name.
pub(crate) struct TemplateMemory {
    global: u32,
    functions: BTreeMap<String, u32>,
}

impl TemplateMemory {
    /// Reads `path` with a plain scan of its lines: the `MemorySize` under `Globals:`, and in
    /// each resource under `Resources:` that names a `Binary:` (the cargo-lambda build
    /// property), its own `MemorySize` if it has one. Only literal integers are accepted.
    pub(crate) fn read(path: &Path) -> Result<TemplateMemory, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut section = String::new();
        // The resource being read: its binary and its own memory size, when it names them.
        let mut resource: Option<(Option<String>, Option<u32>)> = None;
        let mut global = None;
        let mut functions = BTreeMap::new();
        let mut finish = |resource: &mut Option<(Option<String>, Option<u32>)>| {
            if let Some((Some(binary), memory)) = resource.take() {
                functions.insert(binary, memory);
            }
        };
        for (number, raw) in text.lines().enumerate() {
            let line = raw.split(" #").next().unwrap_or("").trim_end();
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let indent = line.len() - content.len();
            if indent == 0 {
                finish(&mut resource);
                section = content.trim_end_matches(':').to_owned();
                continue;
            }
            if section == "Resources" && indent == 2 {
                finish(&mut resource);
                resource = Some((None, None));
                continue;
            }
            let value = |key: &str| content.strip_prefix(key).map(str::trim);
            let memory = |v: &str| {
                v.parse::<u32>().map_err(|_| {
                    format!(
                        "{}:{}: MemorySize {v:?} is not a literal number of MB",
                        path.display(),
                        number + 1
                    )
                })
            };
            match (section.as_str(), &mut resource) {
                ("Globals", _) => {
                    if let Some(v) = value("MemorySize:") {
                        global = Some(memory(v)?);
                    }
                }
                ("Resources", Some((binary, size))) => {
                    if let Some(v) = value("Binary:") {
                        *binary = Some(v.trim_matches(['"', '\'']).to_owned());
                    } else if let Some(v) = value("MemorySize:") {
                        *size = Some(memory(v)?);
                    }
                }
                _ => {}
            }
        }
        finish(&mut resource);
        let global = global.ok_or_else(|| format!("{}: no Globals MemorySize", path.display()))?;
        Ok(TemplateMemory {
            global,
            functions: functions
                .into_iter()
                .map(|(name, size)| (name, size.unwrap_or(global)))
                .collect(),
        })
    }

    /// The memory size the template gives `function` (a binary name).
    pub(crate) fn of(&self, function: &str) -> u32 {
        self.functions.get(function).copied().unwrap_or(self.global)
    }
}

// ------------------------------------------------------------------ the CPU model

/// An invocation of `wall` ms that used `cpu` ms of CPU, at `memory_mb`: the time it waited
/// (wall − CPU) is unchanged, its CPU runs at memory/1769 of a vCPU (never faster than one).
pub(crate) fn invocation_at(wall: f64, cpu: f64, memory_mb: u32) -> f64 {
    (wall - cpu).max(0.0) + cpu * (FULL_VCPU_MB / f64::from(memory_mb)).max(1.0)
}

/// GB-seconds Lambda bills for `ms` (rounded up to the millisecond) at `memory_mb`.
pub(crate) fn gb_seconds(ms: f64, memory_mb: u32) -> f64 {
    f64::from(memory_mb) / 1024.0 * ms.ceil() / 1000.0
}

/// What a million invocations of `gb_s` each cost (duration and requests), in USD.
pub(crate) fn usd_per_million(gb_s: f64) -> f64 {
    gb_s * 1e6 * USD_PER_GB_S + USD_PER_MILLION_REQUESTS
}

// ------------------------------------------------------------------ the endpoints

/// The template's queues, by the role they play here: the failed events' queue
/// (`EVENT_DEAD_LETTER_QUEUE_URL`) and the stream-events queue, the admin API's outbox
/// (`LIFECYCLE_OUTBOX_QUEUE_URL`). Both must stay empty.
const FAILED_EVENTS_QUEUE: &str = "bench-failed-events";
const STREAM_EVENTS_QUEUE: &str = "bench-stream-events";
const RECORDING_EVENTS_QUEUE: &str = "bench-recording-events";
/// The region of the functions' environment.
const REGION: &str = "us-west-2";

/// Whether an arm publishes lifecycle events: the project's function, as the template deploys
/// it. The references have no EventBridge client.
pub(crate) fn publishes(arm: Arm) -> bool {
    matches!(arm, Arm::Project | Arm::ProjectNoWarmUp)
}

/// The HTTPS side: a throwaway authority, a TLS terminator per endpoint in front of the
/// emulator, the playback key in the emulator's Secrets Manager, and moto (EventBridge, SQS)
/// behind a terminator of its own.
pub(crate) struct Endpoints {
    authority: TestAuthority,
    ivs: TlsFront,
    secrets: TlsFront,
    secret_arn: String,
    moto: Moto,
    /// moto's EventBridge and SQS (one server serves both), over HTTPS and keep-alive
    /// connections, as AWS's endpoints answer.
    aws: TlsFront,
    keep_alive: KeepAlive,
    failed_queue: String,
    outbox_queue: String,
    /// Lifecycle events the invocations so far should have published.
    expected_events: AtomicU64,
    /// The SQS records handed over so far (their message ids).
    records: AtomicU64,
}

impl Endpoints {
    pub(crate) async fn start(ivs: &Ivs0) -> Result<Endpoints, String> {
        let authority = TestAuthority::new(&[]);
        let upstream = ivs.server.url();
        // One terminator per endpoint: the SDK keeps a connection per endpoint, as on AWS
        // (one shared front would let Secrets Manager's client reuse IVS's connection).
        let front_ivs = TlsFront::start(&authority, &upstream).await;
        let front_secrets = TlsFront::start(&authority, &upstream).await;
        // moto's EventBridge, with no rule on its default bus: moto delivers to a rule's
        // targets before it answers `PutEvents` (EventBridge answers first, then delivers),
        // and that Python would be counted in every `Stream Start`'s invocation. The relay in
        // front of it keeps each `PutEvents` and its answer: checked after the run.
        let moto = Moto::start();
        let mut queues = Vec::new();
        for name in [
            FAILED_EVENTS_QUEUE,
            STREAM_EVENTS_QUEUE,
            RECORDING_EVENTS_QUEUE,
        ] {
            let url = moto
                .sqs()
                .create_queue()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| format!("moto's CreateQueue {name}: {e}"))?
                .queue_url()
                .map(str::to_owned)
                .ok_or_else(|| format!("moto's CreateQueue {name}: no URL"))?;
            queues.push(url);
        }
        let keep_alive = KeepAlive::start(moto.url()).await?;
        // moto loads a service's code on its first request: the first `PutEvents` would pay it
        // in the first cold start. One is made here (an event no rule matches).
        prime_moto(&keep_alive.url()).await?;
        keep_alive.forget();
        let front_aws = TlsFront::start(&authority, &keep_alive.url()).await;
        let (private_pem, _) = test_support::p384_key_pair();
        let secret_arn = create_secret(
            &upstream,
            "ivs-automation/playback-key",
            &private_pem,
            ivs.emulator.region(),
        )
        .await?;
        Ok(Endpoints {
            authority,
            ivs: front_ivs,
            secrets: front_secrets,
            secret_arn,
            moto,
            aws: front_aws,
            keep_alive,
            failed_queue: queues[0].clone(),
            outbox_queue: queues[1].clone(),
            expected_events: AtomicU64::new(0),
            records: AtomicU64::new(0),
        })
    }

    /// TLS handshakes completed so far, every endpoint.
    fn handshakes(&self) -> usize {
        self.ivs.handshakes() + self.secrets.handshakes() + self.aws.handshakes()
    }

    /// The input of one invocation: the admin API's HTTP API event as is; for an event
    /// function, an SQS batch of one record holding the EventBridge event, as the event
    /// source mapping of its queue hands it over (tests/event_functions/sqs_batches.rs).
    fn input(&self, ivs: &Ivs0, workload: Workload, index: usize) -> Value {
        let event = ivs.event(workload, index);
        let queue = match workload {
            Workload::StreamStart => STREAM_EVENTS_QUEUE,
            Workload::RecordingStartFailure => RECORDING_EVENTS_QUEUE,
            Workload::AdminGetChannel | Workload::AdminPlaybackToken => return event,
        };
        let n = self.records.fetch_add(1, Ordering::Relaxed) + 1;
        let sent_ms = chrono::Utc::now().timestamp_millis().to_string();
        json!({"Records": [{
            "messageId": format!("0b3e5f6a-7c8d-4e9f-8a0b-{n:012x}"),
            "receiptHandle": format!("bench-receipt-handle-{n}"),
            "body": event.to_string(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": sent_ms,
                "SenderId": "AIDAIBENCHEXAMPLE",
                "ApproximateFirstReceiveTimestamp": sent_ms,
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:{REGION}:{}:{queue}", test_support::ACCOUNT),
            "awsRegion": REGION,
        }]})
    }

    /// Counts the lifecycle events `invocations` answered invocations of `arm` published.
    fn published(&self, workload: Workload, arm: Arm, invocations: usize) {
        if publishes(arm) {
            self.expected_events.fetch_add(
                workload.lifecycle_events() * invocations as u64,
                Ordering::Relaxed,
            );
        }
    }

    /// Checks, once the runs are over, that moto took every lifecycle event the project's
    /// functions published (a `Channel Live` with the playback URL per `Stream Start`, on the
    /// default bus, nothing else: the `PutEvents` calls the relay carried, each answered with
    /// an event id per entry and no failed entry) and that nothing went to the failed events'
    /// queue or to the outbox; what was seen, for the report.
    pub(crate) async fn check_lifecycle(&self) -> Result<String, String> {
        let expected = self.expected_events.load(Ordering::Relaxed);
        let live = LifecycleKind::ChannelLive.detail_type();
        let calls = self.keep_alive.put_events();
        let mut taken = 0u64;
        let mut unexpected: Vec<String> = Vec::new();
        for (request, answer) in &calls {
            let request: Value = serde_json::from_str(request).unwrap_or(Value::Null);
            let answer: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
            let entries = request["Entries"].as_array().cloned().unwrap_or_default();
            let ids = answer["Entries"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|e| e["EventId"].is_string()).count());
            if answer["FailedEntryCount"] != 0 || ids != entries.len() {
                unexpected.push(format!("an answer not taking every entry: {answer}"));
            }
            for entry in entries {
                let detail: Value = entry["Detail"]
                    .as_str()
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or(Value::Null);
                let as_expected = entry["Source"] == LIFECYCLE_SOURCE
                    && entry["DetailType"] == live
                    && entry["EventBusName"] == "default"
                    && entry["Resources"][0]
                        .as_str()
                        .is_some_and(|r| r.contains(":channel/"))
                    && detail["playbackUrl"].is_string();
                if as_expected {
                    taken += 1;
                } else {
                    unexpected.push(entry.to_string());
                }
            }
        }
        let posts = Sample(self.keep_alive.answer_ms("POST"));
        let failed = self.moto.drain(&self.failed_queue).await;
        let outbox = self.moto.drain(&self.outbox_queue).await;
        if taken != expected || !unexpected.is_empty() || !failed.is_empty() || !outbox.is_empty() {
            return Err(format!(
                "lifecycle events: moto took {taken} through {} `PutEvents` calls, expected \
                 {expected} `{live}` events; not as expected: {unexpected:?}; failed events' \
                 queue: {failed:?}; outbox: {outbox:?}",
                calls.len()
            ));
        }
        Ok(format!(
            "{expected} lifecycle events published by the project's arms (one `{live}` per \
             `Stream Start`, with its playback URL, on the default bus) and all {taken} taken \
             by moto's EventBridge ({} `PutEvents` calls, each answered with an event id per \
             entry and no failed entry, as the relay in front of moto saw them); the failed \
             events' queue and the admin API's outbox stayed empty. moto answered the \
             `PutEvents` calls in {} ms ({} calls, median (min–max), from the relay's \
             connection to moto to the answer's end): waiting that a `Stream Start`'s \
             invocation includes. Its bus has no rule during the runs: moto delivers to a \
             rule's targets before it answers, EventBridge after, so a rule would have counted \
             a delivery in the function's wait that AWS does not; delivery through a rule is \
             what tests/end_to_end/lifecycle.rs checks. The warm-up's unsigned `GET /` to \
             EventBridge is answered by the relay in front of moto (404, as an AWS endpoint \
             answers a request naming no operation; moto would answer it as S3's \
             `ListBuckets`, in 8-15 ms of Python)",
            calls.len(),
            posts.spread(1),
            posts.len()
        ))
    }

    fn ca_file(&self) -> PathBuf {
        self.authority.ca_file()
    }

    /// The environment a function gets: what Lambda sets, the endpoints, the authority.
    pub(crate) fn env(
        &self,
        arm: Arm,
        workload: Workload,
        memory_mb: u32,
    ) -> Vec<(&'static str, String)> {
        let function = workload.function();
        let node = arm == Arm::Node;
        let mut env = vec![
            ("AWS_REGION", "us-west-2".to_owned()),
            ("AWS_DEFAULT_REGION", "us-west-2".to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_SESSION_TOKEN", fake_session_token()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/05/[$LATEST]0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            // The template's LoggingConfig (LogFormat JSON, ApplicationLogLevel INFO by
            // default), which Lambda passes as these two.
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
            (
                "_HANDLER",
                if node { "handler.handler" } else { "bootstrap" }.to_owned(),
            ),
            ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("AWS_ENDPOINT_URL_IVS", self.ivs.url()),
            // IVS's quotas are off in this emulator (Ivs0): so are the rate budgets. Not read
            // by the Node.js and floor arms, which have none.
            ("IVS_RATE_FACTOR", "0".to_owned()),
        ];
        if function == "admin-api" {
            env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.secrets.url()));
        }
        if arm == Arm::ProjectNoLifecycle {
            // LifecycleEventBusName empty: the template sets the variable empty, and gives no
            // outbox; the event functions keep their queue's SQS client and dead-letter queue.
            env.push(("LIFECYCLE_EVENT_BUS", String::new()));
            env.push(("AWS_ENDPOINT_URL_SQS", self.aws.url()));
            if function != "admin-api" {
                env.push(("EVENT_DEAD_LETTER_QUEUE_URL", self.failed_queue.clone()));
            }
        }
        if publishes(arm) {
            // Lifecycle events on, as the template deploys them (LifecycleEventBusName's
            // default), and the queues the template names for the function: moto, over HTTPS.
            env.push(("LIFECYCLE_EVENT_BUS", "default".to_owned()));
            env.push(("AWS_ENDPOINT_URL_EVENTBRIDGE", self.aws.url()));
            env.push(("AWS_ENDPOINT_URL_SQS", self.aws.url()));
            if function == "admin-api" {
                env.push(("LIFECYCLE_OUTBOX_QUEUE_URL", self.outbox_queue.clone()));
            } else {
                env.push(("EVENT_DEAD_LETTER_QUEUE_URL", self.failed_queue.clone()));
            }
        }
        if workload == Workload::AdminPlaybackToken {
            env.push(("PLAYBACK_KEY_SECRET_ID", self.secret_arn.clone()));
        }
        let ca = self.ca_file().display().to_string();
        if node {
            env.push(("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs20.x".to_owned()));
            env.push(("NODE_EXTRA_CA_CERTS", ca));
        } else {
            env.push(("SSL_CERT_FILE", ca));
        }
        if arm == Arm::ProjectNoWarmUp {
            env.push(("WARM_UP_AT_INIT", "false".to_owned()));
        }
        env
    }
}

/// A session token of the length Lambda's are (about 1 KB), fake.
fn fake_session_token() -> String {
    let mut token = String::from("IQoJb3JpZ2luX2VjEXAMPLE");
    while token.len() < 1000 {
        token.push_str("FakeSessionTokenForTheBenchmarkOnly");
    }
    token
}

/// One HTTP/1.1 request to `endpoint` (`http://127.0.0.1:PORT`) on a connection of its own;
/// the answer's head and body.
async fn http_request(endpoint: &str, request: &str) -> Result<(String, String), String> {
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{endpoint}: no HTTP answer: {answer}"))?;
    Ok((head.to_owned(), body.to_owned()))
}

/// A `PutEvents` of an event no rule matches, to moto at `endpoint`.
async fn prime_moto(endpoint: &str) -> Result<(), String> {
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let entries = json!({"Entries": [{
        "Source": "ivs-bench.prime",
        "DetailType": "Prime",
        "Detail": "{}",
        "EventBusName": "default",
    }]})
    .to_string();
    let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let (head, body) = http_request(
        endpoint,
        &format!(
            "POST / HTTP/1.1\r\nhost: {authority}\r\nx-amz-target: AWSEvents.PutEvents\r\n\
             content-type: application/x-amz-json-1.1\r\nx-amz-date: {date}\r\n\
             authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{}/{REGION}/events/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{entries}",
            &date[..8],
            "0".repeat(64),
            entries.len()
        ),
    )
    .await?;
    if !head.starts_with("HTTP/1.1 200") || !body.contains("\"FailedEntryCount\": 0") {
        return Err(format!("moto's PutEvents: {head}\n{body}"));
    }
    Ok(())
}

/// Stores `value` as secret `name` in the emulator's Secrets Manager at `endpoint`
/// (`http://127.0.0.1:PORT`); its ARN. One awsJson1_1 request, as the SDK sends it (the
/// emulator checks the SigV4 header's form and scope, not its signature).
async fn create_secret(
    endpoint: &str,
    name: &str,
    value: &str,
    region: &str,
) -> Result<String, String> {
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = json!({"Name": name, "SecretString": value}).to_string();
    let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {authority}\r\nx-amz-target: secretsmanager.CreateSecret\r\n\
         content-type: application/x-amz-json-1.1\r\nx-amz-date: {date}\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{}/{region}/secretsmanager/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        &date[..8],
        "0".repeat(64),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("Secrets Manager at {endpoint}: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("CreateSecret: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| format!("CreateSecret: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("CreateSecret: no HTTP answer: {answer}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("CreateSecret: {head}\n{body}"));
    }
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["ARN"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("CreateSecret answered {body}"))
}

// ------------------------------------------------------------------ the arms

/// The arms of the HTTPS section for `workload`, in the order of the table.
pub(crate) fn arms(arms: &Arms, workload: Workload) -> Vec<Arm> {
    let mut list = vec![Arm::Project, Arm::ProjectNoWarmUp, Arm::ProjectNoLifecycle];
    if workload == Workload::AdminPlaybackToken {
        // Neither the floor nor the Node.js handler mints tokens.
        return list;
    }
    list.extend([Arm::Floor, Arm::FloorLean]);
    if arms.jitter_floor.is_some() {
        list.push(Arm::FloorJitter);
    }
    if arms.node.is_some() {
        list.push(Arm::Node);
    }
    list
}

// ------------------------------------------------------------------ the runs

/// One cold start, its phases apart (milliseconds).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColdRun {
    /// Spawn → the first `next` (Lambda's init phase).
    init_wall: f64,
    init_cpu: f64,
    /// The first invocation: handed over → answered.
    invocation_wall: f64,
    invocation_cpu: f64,
    /// TLS handshakes the endpoints completed during the init and during the invocation.
    handshakes_init: usize,
    handshakes_invocation: usize,
    /// How long moto took to answer the invocation's `PutEvents` (part of its wall time).
    put_events_wait: f64,
}

impl ColdRun {
    fn first_answer(&self) -> f64 {
        self.init_wall + self.invocation_wall
    }

    /// The first answer at `memory_mb`: init at full speed, the invocation's CPU at the
    /// memory's share.
    fn estimate(&self, memory_mb: u32) -> f64 {
        self.init_wall + invocation_at(self.invocation_wall, self.invocation_cpu, memory_mb)
    }

    /// The same without the time moto took to answer `PutEvents` (waiting, in the model):
    /// what EventBridge's own answer time replaces on AWS.
    fn estimate_without_put_events(&self, memory_mb: u32) -> f64 {
        self.estimate(memory_mb) - self.put_events_wait
    }
}

/// One warm instance: per event, the median wall time and the mean CPU (milliseconds).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WarmRun {
    wall: f64,
    cpu: f64,
    /// The mean time per event moto took to answer `PutEvents` (part of the wall time).
    put_events_wait: f64,
}

impl WarmRun {
    fn estimate(&self, memory_mb: u32) -> f64 {
        invocation_at(self.wall, self.cpu, memory_mb)
    }
}

#[derive(Default)]
pub(crate) struct Figures {
    cold: Vec<ColdRun>,
    warm: Vec<WarmRun>,
}

impl Figures {
    fn cold(&self, f: impl Fn(&ColdRun) -> f64) -> Sample {
        Sample(self.cold.iter().map(f).collect())
    }

    fn warm(&self, f: impl Fn(&WarmRun) -> f64) -> Sample {
        Sample(self.warm.iter().map(f).collect())
    }
}

pub(crate) type Results = BTreeMap<(Workload, Arm), Figures>;

/// Waits for the function's first `next` (the end of its init): when the process started,
/// when it asked, and its CPU time then (read once it waits).
async fn init_done(instance: &Instance) -> Result<(Instant, Instant, Duration), String> {
    let deadline = Instant::now() + INIT_TIMEOUT;
    loop {
        let phases = instance.lambda.phases(instance.name);
        if let (Some(spawned), Some(at)) = (phases.spawned, phases.init_done) {
            return Ok((spawned, at, settled_cpu(instance.pid).await));
        }
        if !alive(instance.pid) {
            return Err("the process exited during its init".into());
        }
        if Instant::now() > deadline {
            return Err(format!("no first `next` within {INIT_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One cold start over HTTPS. The event is handed over once the function has asked for it
/// (its first `next`), so that the handshakes of the init and of the invocation are told
/// apart; the first answer is init + invocation.
pub(crate) async fn cold_start(
    ivs: &Ivs0,
    endpoints: &Endpoints,
    arms: &Arms,
    memory_mb: u32,
    workload: Workload,
    arm: Arm,
    index: usize,
) -> Result<ColdRun, String> {
    let event = endpoints.input(ivs, workload, index);
    let operations = ivs.operations();
    let handshakes = endpoints.handshakes();
    let (instance, _) = Instance::spawn(
        &arms.binary(arm, workload),
        &endpoints.env(arm, workload, memory_mb),
    )
    .await;
    let fail =
        |e: String, instance: &Instance| measurement_failure(workload, arm, "HTTPS", &e, instance);
    let (spawned, init_at, init_cpu) =
        init_done(&instance).await.map_err(|e| fail(e, &instance))?;
    let handshakes_init = endpoints.handshakes() - handshakes;
    let put_events_before = endpoints.keep_alive.answer_ms("POST").len();
    let handed_over = Instant::now();
    let answer = instance.invoke(&event).await;
    let put_events_wait: f64 = endpoints.keep_alive.answer_ms("POST")[put_events_before..]
        .iter()
        .sum();
    let answer_cpu = settled_cpu(instance.pid).await;
    let phases = instance.lambda.phases(instance.name);
    let handshakes_invocation = endpoints.handshakes() - handshakes - handshakes_init;
    check_lambda_answer(workload, arm, answer).map_err(|e| fail(e, &instance))?;
    let Some(answered) = phases.first_answer else {
        return Err(fail("no first answer recorded".into(), &instance));
    };
    check_operations(workload, &operations, &ivs.operations(), 1)
        .map_err(|e| fail(e, &instance))?;
    endpoints.published(workload, arm, 1);
    if publishes(arm) {
        // The invocation's metrics: EMF documents (a JSON line with `_aws`) on stdout,
        // written before the answer (the harness reads the pipe a little later).
        let deadline = Instant::now() + Duration::from_secs(2);
        while !instance.logs().iter().any(|l| l.contains("\"_aws\"")) {
            if Instant::now() > deadline {
                return Err(fail(
                    "no EMF metrics line (`_aws`) written by the invocation".into(),
                    &instance,
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(ColdRun {
        init_wall: ms(init_at.duration_since(spawned)),
        init_cpu: ms(init_cpu),
        invocation_wall: ms(answered.duration_since(handed_over)),
        invocation_cpu: ms(answer_cpu.saturating_sub(init_cpu)),
        handshakes_init,
        handshakes_invocation,
        put_events_wait,
    })
}

/// One warm instance over HTTPS: its first (cold) event, then `events` events one after
/// the other; per event the median wall time and the mean CPU.
pub(crate) async fn warm(
    ivs: &Ivs0,
    endpoints: &Endpoints,
    arms: &Arms,
    memory_mb: u32,
    workload: Workload,
    arm: Arm,
    events: usize,
) -> Result<WarmRun, String> {
    let (instance, _) = Instance::spawn(
        &arms.binary(arm, workload),
        &endpoints.env(arm, workload, memory_mb),
    )
    .await;
    let fail = |e: String, instance: &Instance| {
        measurement_failure(workload, arm, "HTTPS, warm", &e, instance)
    };
    let first = instance.invoke(&endpoints.input(ivs, workload, 0)).await;
    check_lambda_answer(workload, arm, first).map_err(|e| fail(e, &instance))?;
    endpoints.published(workload, arm, 1);
    let operations = ivs.operations();
    let cpu_before = settled_cpu(instance.pid).await;
    let put_events_before = endpoints.keep_alive.answer_ms("POST").len();
    let mut walls = Sample::default();
    for i in 1..=events {
        let event = endpoints.input(ivs, workload, i);
        let started = Instant::now();
        let answer = instance.invoke(&event).await;
        walls.push(ms(started.elapsed()));
        check_lambda_answer(workload, arm, answer).map_err(|e| fail(e, &instance))?;
    }
    let cpu = settled_cpu(instance.pid).await.saturating_sub(cpu_before);
    let put_events_wait: f64 = endpoints.keep_alive.answer_ms("POST")[put_events_before..]
        .iter()
        .sum();
    check_operations(workload, &operations, &ivs.operations(), events)
        .map_err(|e| fail(e, &instance))?;
    endpoints.published(workload, arm, events);
    Ok(WarmRun {
        wall: walls.median(),
        cpu: ms(cpu) / events.max(1) as f64,
        put_events_wait: put_events_wait / events.max(1) as f64,
    })
}

/// Checks an answer of the HTTPS section: an event function answers its SQS batch with no
/// failed record; the admin API as in the plain-HTTP section.
fn check_lambda_answer(workload: Workload, arm: Arm, answer: Invoked) -> Result<(), String> {
    match workload {
        Workload::StreamStart | Workload::RecordingStartFailure => match answer {
            Invoked::Ok(value)
                if value.as_object().is_some_and(|o| o.len() == 1)
                    && value["batchItemFailures"]
                        .as_array()
                        .is_some_and(|f| f.is_empty()) =>
            {
                Ok(())
            }
            Invoked::Ok(value) => Err(format!(
                "{} answered {value}, expected {{\"batchItemFailures\": []}}",
                arm.label()
            )),
            Invoked::Err {
                error_type,
                error_message,
            } => Err(format!("{error_type}: {error_message}")),
        },
        Workload::AdminGetChannel | Workload::AdminPlaybackToken => {
            check_answer(workload, arm, answer)
        }
    }
}

/// Checks that `invocations` invocations of `workload` made the IVS requests they should,
/// operation by operation (`before` and `after`: the emulator's counters).
fn check_operations(
    workload: Workload,
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    invocations: usize,
) -> Result<(), String> {
    let made: BTreeMap<&str, u64> = after
        .iter()
        .map(|(op, n)| (op.as_str(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let expected: BTreeMap<&str, u64> = workload
        .lambda_calls()
        .iter()
        .map(|(op, n)| (*op, n * invocations as u64))
        .collect();
    if made == expected {
        Ok(())
    } else {
        Err(format!(
            "IVS requests for {invocations} invocation(s): {made:?}, expected {expected:?}"
        ))
    }
}

/// Records a cold start.
pub(crate) fn record_cold(results: &mut Results, workload: Workload, arm: Arm, run: ColdRun) {
    results.entry((workload, arm)).or_default().cold.push(run);
}

/// Records a warm instance.
pub(crate) fn record_warm(results: &mut Results, workload: Workload, arm: Arm, run: WarmRun) {
    results.entry((workload, arm)).or_default().warm.push(run);
}

// ------------------------------------------------------------------ the report

pub(crate) struct Report<'a> {
    pub(crate) results: &'a Results,
    pub(crate) arms: &'a Arms,
    pub(crate) memory: &'a TemplateMemory,
    pub(crate) template: &'a Path,
    pub(crate) jitter_note: Option<&'a str>,
    pub(crate) warm_events: usize,
    /// What the lifecycle check found ([`Endpoints::check_lifecycle`]).
    pub(crate) lifecycle: &'a str,
}

/// `median` alone when every run gave the same, else `median (min–max)`.
fn compact(sample: &Sample, decimals: usize) -> String {
    if sample.len() > 1 && sample.min() != sample.max() {
        sample.spread(decimals)
    } else {
        format!("{:.*}", decimals, sample.median())
    }
}

impl Report<'_> {
    fn get(&self, w: Workload, a: Arm) -> Option<&Figures> {
        self.results.get(&(w, a)).filter(|f| !f.cold.is_empty())
    }

    fn estimate(&self, w: Workload, a: Arm, memory_mb: u32) -> Option<f64> {
        self.get(w, a)
            .map(|f| f.cold(|r| r.estimate(memory_mb)).median())
    }

    /// The rows of the Targets table for the HTTPS section.
    pub(crate) fn target_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for w in Workload::LAMBDA {
            let Some(p) = self.get(w, Arm::Project) else {
                continue;
            };
            let fnm = w.function();
            let what = match w {
                Workload::AdminGetChannel => format!("`{fnm}` (`GET /channels/{{id}}`)"),
                Workload::AdminPlaybackToken => format!("`{fnm}` (first playback token)"),
                _ => format!("`{fnm}`"),
            };
            let limit = match w {
                Workload::StreamStart | Workload::RecordingStartFailure => 5.0,
                Workload::AdminGetChannel | Workload::AdminPlaybackToken => 8.0,
            };
            let cpu = p.cold(|r| r.invocation_cpu);
            lines.push(format!(
                "| {what} first invocation CPU ≤ {limit:.0} ms (HTTPS) | {} ms | {} |",
                compact(&cpu, 2),
                verdict(cpu.median() <= limit)
            ));
            let mb = self.memory.of(fnm);
            let est = p.cold(|r| r.estimate(mb)).median();
            if w != Workload::AdminPlaybackToken {
                match self.estimate(w, Arm::Node, mb) {
                    Some(node) => {
                        let r = node / est;
                        lines.push(format!(
                            "| {what} estimated first answer at {mb} MB (the template's) ≥ 20× faster than Node.js (HTTPS, CPU model) | {est:.1} ms vs {node:.1} ms: {r:.1}× | {} |",
                            verdict(r >= 20.0)
                        ));
                    }
                    None => lines.push(format!(
                        "| {what} estimated first answer at {mb} MB (the template's) ≥ 20× faster than Node.js (HTTPS, CPU model) | Node.js not run | n/a |"
                    )),
                }
                if w.lifecycle_events() > 0 {
                    let without = p.cold(|r| r.estimate_without_put_events(mb)).median();
                    let wait = p.cold(|r| r.put_events_wait).median();
                    let node = match self.estimate(w, Arm::Node, mb) {
                        Some(node) => format!("; vs Node.js {node:.1} ms: {:.1}×", node / without),
                        None => String::new(),
                    };
                    lines.push(format!(
                        "| {what} estimated first answer at {mb} MB without moto's `PutEvents` answer time (HTTPS, CPU model) | {without:.1} ms (moto's `PutEvents`: {wait:.1} ms){node} | EventBridge's own answer time takes its place on AWS |"
                    ));
                }
                if let Some(floor) = self.estimate(w, Arm::Floor, mb) {
                    let r = est / floor;
                    lines.push(format!(
                        "| {what} estimated first answer at {mb} MB ≤ 1.2× the Rust floor with the same build flag (HTTPS, CPU model) | {est:.1} ms vs {floor:.1} ms: {r:.2}× | {} |",
                        verdict(r <= 1.2)
                    ));
                }
                if let Some(lean) = self.estimate(w, Arm::FloorLean, mb) {
                    lines.push(format!(
                        "| {what} beside the floor with the project's start-up choices (HTTPS, CPU model, {mb} MB) | {est:.1} ms vs {lean:.1} ms: {:.2}× | the project's own start-up work |",
                        est / lean
                    ));
                }
            }
            if let Some(off) = self.estimate(w, Arm::ProjectNoLifecycle, mb) {
                lines.push(format!(
                    "| {what} with lifecycle events off (`LifecycleEventBusName` empty; HTTPS, CPU model, {mb} MB) | {off:.1} ms: {:+.1} ms with them on | what publishing costs this event's first answer, side by side |",
                    est - off
                ));
            }
            if let Some(cold) = self.estimate(w, Arm::ProjectNoWarmUp, mb) {
                lines.push(format!(
                    "| {what} without the warm-up at init (HTTPS, CPU model, {mb} MB) | {cold:.1} ms: {:+.1} ms | what opening the connections during init buys |",
                    cold - est
                ));
            }
            if let (Some(floor), Some(jitter)) = (
                self.estimate(w, Arm::Floor, mb),
                self.estimate(w, Arm::FloorJitter, mb),
            ) {
                lines.push(format!(
                    "| {what}: the Rust floor built with jitter entropy (HTTPS, CPU model, {mb} MB) | {jitter:.1} ms vs {floor:.1} ms: {:+.1} ms | what `AWS_LC_SYS_NO_JITTER_ENTROPY=1` buys |",
                    jitter - floor
                ));
            }
        }
        lines
    }

    /// The section itself (Markdown).
    pub(crate) fn section(&self, smoke: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Cold start as Lambda runs it: HTTPS, Lambda's environment, Lambda's CPU share\n"
        );
        let _ = writeln!(
            out,
            "What this section models of production:\n\n\
             - **HTTPS to every AWS endpoint.** IVS and, for the admin API, Secrets Manager are \
             reached over HTTPS: each through its own TLS terminator on 127.0.0.1 \
             (`test_support::tls::TlsFront`, rustls) in front of the emulator, with a \
             certificate issued by a certificate authority `openssl` made for this run (a \
             throwaway CA, P-256); so are EventBridge and SQS, moto's server \
             (`test_support::moto::Moto`) behind a terminator of its own and a keep-alive \
             relay (moto closes every connection, AWS's endpoints keep them open; the relay \
             also answers the warm-up's unsigned `GET /` itself, which moto would hand to its \
             S3). Every first request \
             pays a real TLS handshake, the certificate chain's check and the random-number \
             generator's set-up.\n\
             - **Production's inputs, lifecycle events on.** The event functions get what the \
             event source mapping of their queue hands over in production (EventBridge → SQS \
             → Lambda): an SQS batch of one record whose body is the EventBridge event, and \
             must answer `{{\"batchItemFailures\": []}}`; the batch path reads the channel's \
             tags (and the playback URL of a `Channel Live` event) with one \
             `BatchGetChannel`. The admin API gets its HTTP API event. The project's arms \
             publish as the template deploys them (`LIFECYCLE_EVENT_BUS=default`, \
             LifecycleEventBusName's default): each builds its EventBridge and SQS clients and \
             opens the TLS session to EventBridge beside IVS's during init, a `Stream Start` \
             publishes a `Channel Live` event with `PutEvents` in the invocation, before it \
             answers, and every invocation writes its EMF metric lines to stdout (checked \
             after each cold start). A `Recording Start Failure` on a channel without the must-record tag and the admin API's `GET /channels/{{id}}` \
             and playback token announce nothing (the admin API publishes on suspend, resume \
             and rotate only): their publishing cost is the init's. After the runs, the \
             benchmark fails unless moto's EventBridge took each expected event, and nothing \
             else (the `PutEvents` calls and answers the relay in front of moto carried), and \
             unless the failed events' queue and the admin API's outbox stayed empty. moto's \
             bus has no rule meanwhile: moto delivers to a rule's targets before it answers \
             `PutEvents`, EventBridge after it has answered. IVS calls per invocation \
             (checked per operation, every arm): {calls}.\n\
             - **Lambda's environment only.** Each function starts with an empty environment \
             and what Lambda sets: `AWS_REGION`, `AWS_DEFAULT_REGION`, fake temporary \
             credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, a 1 KB \
             `AWS_SESSION_TOKEN`), `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (the template's size), \
             `AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_STREAM_NAME`, \
             `AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`, `AWS_LAMBDA_LOG_FORMAT=JSON` and \
             `AWS_LAMBDA_LOG_LEVEL=INFO` (the template's logging configuration), `_HANDLER`, \
             `LAMBDA_TASK_ROOT`, `LAMBDA_RUNTIME_DIR`, `TZ=:UTC`, `LANG=en_US.UTF-8`, and \
             the harness's `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, \
             `AWS_LAMBDA_FUNCTION_VERSION`; plus the endpoint overrides \
             (`AWS_ENDPOINT_URL_IVS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER` for the admin API, \
             and for the project's arms `AWS_ENDPOINT_URL_EVENTBRIDGE` and \
             `AWS_ENDPOINT_URL_SQS`) and the throwaway CA, trusted on purpose and per arm: `SSL_CERT_FILE=<ca>` \
             for the Rust arms, `NODE_EXTRA_CA_CERTS=<ca>` (and \
             `AWS_EXECUTION_ENV=AWS_Lambda_nodejs20.x`) for Node.js. Nothing else comes from \
             the machine (no `SSL_CERT_DIR`, no proxy variables), except `PATH` (for `node` \
             to be found) and the harness's `AWS_EC2_METADATA_DISABLED=true`, which Lambda \
             does not set and which changes nothing here (credentials and region come from \
             the environment). The first playback token's admin API also gets \
             `PLAYBACK_KEY_SECRET_ID`, the ARN of a secret in the emulator's Secrets Manager \
             holding a P-384 private key made for this run; `GET /channels/{{id}}` runs \
             without it (the template's default: no playback tokens). Of the template's own \
             variables, the project's arms get those that name its bus and queues: \
             `LIFECYCLE_EVENT_BUS=default`, `EVENT_DEAD_LETTER_QUEUE_URL` (the event \
             functions) and `LIFECYCLE_OUTBOX_QUEUE_URL` (the admin API), queues in moto; the \
             others (`START_METADATA`, `TLS_TRUST_ROOTS`, `ADMIN_SCOPE`, \
             `METRICS_NAMESPACE`…) are not set: each function's built-in default applies, and \
             the IVS calls per event are checked.\n\
             - **Lambda's CPU share, from the CPU measured per phase.** Lambda runs the init \
             phase (process start to the first `next`) at full speed, and an invocation at \
             memory/{FULL_VCPU_MB:.0} of a vCPU. The CPU time of every thread of the process \
             (`/proc/<pid>/task/*/schedstat`) is read at the first `next` (end of init) and \
             after the first answer, each time once the process waits in `next` (a running \
             thread's figure can lag by a scheduler tick; the reading after the answer \
             includes the microseconds it takes to ask for the next event). **Estimated first answer at M MB** = init wall + \
             (invocation wall − invocation CPU) + invocation CPU × max(1, {FULL_VCPU_MB:.0}/M).\n\
             - **One container at a time.** Concurrency (many cold starts at once) and IVS's \
             API quotas are not modelled here.\n\n\
             Limits of the model:\n\n\
             - Loopback: a round trip costs next to nothing here, about 1 ms in a region \
             (TCP and TLS 1.3 set-up take two, each call one more), the same for every arm. \
             moto (Python) takes a few milliseconds to answer a `PutEvents`: waiting, not the \
             function's CPU, in the model.\n\
             - Only the project publishes: the Rust floors and Node.js take the same SQS batch \
             and make the same IVS calls, but have no EventBridge client, so the project's \
             figures carry publishing (a client, a TLS session at init, a `PutEvents` per \
             `Stream Start`) that theirs do not.\n\
             - CPU of this machine ({arch}), not of Lambda's Graviton (arm64): absolute CPU \
             times differ; ratios between arms carry over better.\n\
             - CPU of threads that have exited before a reading is not counted (the Rust \
             functions keep theirs; Node.js's and the multi-threaded floor's short-lived \
             threads may be missed).\n\
             - The init is assumed to run at full speed; Lambda does not promise it.\n\
             - The CA is trusted through `SSL_CERT_FILE`, so the project's functions take \
             their system-store path (`TLS_TRUST_ROOTS=auto` keeps the store the operator \
             configured: here one file with one certificate) where on Lambda they use the \
             compiled Amazon roots.\n\
             - The event is handed over when the function asks for it (its first `next`), so \
             that the handshakes of each phase are counted apart; the first answer is init + \
             invocation, without the ≤ 1 ms the benchmark takes to see that `next`. Lambda \
             has the event waiting.\n",
            arch = std::env::consts::ARCH,
            calls = Workload::LAMBDA
                .iter()
                .map(|w| format!(
                    "`{}` ({}): {}",
                    w.function(),
                    w.lambda_event_label(),
                    w.lambda_ivs_calls()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let _ = writeln!(
            out,
            "Median (min–max) over the runs, milliseconds. *Init* = spawn → first `next`; \
             *1st invocation* = event handed over → answer; *of which moto's `PutEvents`* = \
             the part of it that moto took to answer the lifecycle event's `PutEvents`, timed \
             by the relay in front of it; *first \
             answer* = init + 1st invocation, wall time on this machine; *handshakes* = TLS handshakes the \
             endpoints completed during the init + during the invocation (per cold start, \
             IVS, Secrets Manager and EventBridge together).\n"
        );
        let _ = writeln!(
            out,
            "| function (event), template memory | arm | first answer | init | init CPU | 1st invocation CPU | 1st invocation | of which moto's `PutEvents` | handshakes init + invocation | est. first answer at 128 MB | est. first answer at the template's size |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for w in Workload::LAMBDA {
            let mb = self.memory.of(w.function());
            let mut first = true;
            for a in arms(self.arms, w) {
                let Some(f) = self.get(w, a) else { continue };
                let name = if first {
                    let what = if w == Workload::AdminPlaybackToken {
                        ": the first token"
                    } else {
                        ""
                    };
                    format!(
                        "`{}` ({}{what}), {mb} MB",
                        w.function(),
                        w.lambda_event_label()
                    )
                } else {
                    String::new()
                };
                first = false;
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} | {} | {} | {} | {} | {} | {} + {} | {} | {} |",
                    a.label(),
                    f.cold(ColdRun::first_answer).spread(1),
                    f.cold(|r| r.init_wall).spread(1),
                    f.cold(|r| r.init_cpu).spread(1),
                    f.cold(|r| r.invocation_cpu).spread(2),
                    f.cold(|r| r.invocation_wall).spread(1),
                    compact(&f.cold(|r| r.put_events_wait), 1),
                    compact(&f.cold(|r| r.handshakes_init as f64), 0),
                    compact(&f.cold(|r| r.handshakes_invocation as f64), 0),
                    f.cold(|r| r.estimate(128)).spread(1),
                    f.cold(|r| r.estimate(mb)).spread(1),
                );
            }
        }
        let jitter = match (self.arms.jitter_floor.is_some(), self.jitter_note) {
            (true, Some(note)) => format!(" {note}"),
            (true, None) => String::new(),
            (false, Some(note)) => format!(" Not measured in this run: {note}"),
            (false, None) => " Not measured in this run.".to_owned(),
        };
        let _ = writeln!(
            out,
            "\nArms: **project** = the function's binary (as deployed: publishing its \
             lifecycle events, its HTTPS connections to IVS and EventBridge, and for the admin \
             API with `PLAYBACK_KEY_SECRET_ID` the signing key, opened and loaded during init); \
             **project, no warm-up at init** = the same binary with \
             `WARM_UP_AT_INIT=false` (what-if: all of that left to the first invocation); \
             **project, lifecycle events off** = the same binary as the template deploys it \
             with `LifecycleEventBusName` empty (`LIFECYCLE_EVENT_BUS=\"\"`: no EventBridge \
             client, no TLS session to it, no `PutEvents`; side by side with **project**, what \
             publishing costs); \
             **Rust floor** = `bench-floor` (`lambda_runtime` + `aws-config` + the same IVS \
             calls for the same SQS batch, no lifecycle events, the SDK's defaults, built with \
             the same `AWS_LC_SYS_NO_JITTER_ENTROPY=1` \
             as every cargo build of the workspace); **Rust floor, the project's start-up \
             choices** = `bench-floor-lean` (the project's HTTPS client and trust choice, a \
             current-thread runtime; no warm-up); **Rust floor built with jitter entropy** = \
             `bench-floor` built without the flag (what-if: what the flag buys).{jitter} \
             **Node.js 20** = `bench/node` with `@aws-sdk/client-ivs`, the same SQS batch and \
             IVS calls, no lifecycle events, under a minimal Runtime API client (a lower bound \
             of the managed runtime; full runs only). The first \
             playback token is measured for the project's arms only (neither reference mints \
             tokens).\n"
        );
        let _ = writeln!(out, "Lifecycle events: {}.\n", self.lifecycle);
        if smoke {
            let _ = writeln!(
                out,
                "A smoke run builds no jitter-entropy floor and runs no Node.js.\n"
            );
        }

        // Warm and the memory table.
        let _ = writeln!(
            out,
            "### Memory size: latency and cost per invocation (the project, CPU model)\n\n\
             Memory sizes from `{}`. Warm: one instance per run, its first event, then {} \
             events one after the other over the same HTTPS connections, each an SQS batch of \
             one record for another channel (the event functions) or a request (the admin \
             API), publishing on as above; per event, the median wall time, the mean CPU time \
             (the process's CPU over the events ÷ their number) and the mean time moto took to \
             answer `PutEvents` (a `Stream Start`'s wait, counted in its wall time). Estimated invocation at M MB = (wall − CPU) + CPU × max(1, {:.0}/M); \
             the cold first answer as above. Billed GB-s = M/1024 × duration rounded up to \
             the millisecond; for a `provided.al2023` function Lambda bills the init too, so \
             a cold invocation is billed init + invocation, a warm one its invocation. Price: \
             arm64, ${USD_PER_GB_S} per GB-s and ${USD_PER_MILLION_REQUESTS:.2} per million \
             requests. Median over the runs.\n",
            self.template.display(),
            self.warm_events,
            FULL_VCPU_MB
        );
        let _ = writeln!(
            out,
            "| function (event) | warm wall per event | warm CPU per event | of which moto's `PutEvents` (mean per event) |\n|---|---|---|---|"
        );
        for w in Workload::LAMBDA {
            let Some(f) = self.results.get(&(w, Arm::Project)) else {
                continue;
            };
            if f.warm.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "| `{}` ({}) | {} ms | {} ms | {} ms |",
                w.function(),
                w.lambda_event_label(),
                f.warm(|r| r.wall).spread(2),
                f.warm(|r| r.cpu).spread(3),
                f.warm(|r| r.put_events_wait).spread(2)
            );
        }
        let _ = writeln!(
            out,
            "\n| function (event) | memory MB | est. cold first answer ms | est. warm invocation ms | GB-s, cold (init + invocation) | GB-s, warm | USD per million warm invocations |\n|---|---|---|---|---|---|---|"
        );
        for w in Workload::LAMBDA {
            let Some(f) = self.results.get(&(w, Arm::Project)) else {
                continue;
            };
            if f.cold.is_empty() || f.warm.is_empty() {
                continue;
            }
            let template = self.memory.of(w.function());
            let mut sizes: Vec<u32> = MEMORY_SIZES.to_vec();
            if !sizes.contains(&template) {
                sizes.push(template);
                sizes.sort_unstable();
            }
            for (i, mb) in sizes.into_iter().enumerate() {
                let name = if i == 0 {
                    format!("`{}` ({})", w.function(), w.lambda_event_label())
                } else {
                    String::new()
                };
                let mark = if mb == template { " (template)" } else { "" };
                let cold = f.cold(|r| r.estimate(mb)).median();
                let cold_gb_s = f.cold(|r| gb_seconds(r.estimate(mb), mb)).median();
                let warm = f.warm(|r| r.estimate(mb)).median();
                let warm_gb_s = f.warm(|r| gb_seconds(r.estimate(mb), mb)).median();
                let _ = writeln!(
                    out,
                    "| {name} | {mb}{mark} | {cold:.1} | {warm:.2} | {cold_gb_s:.6} | {warm_gb_s:.6} | {:.2} |",
                    usd_per_million(warm_gb_s)
                );
            }
        }
        let _ = writeln!(out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_slows_only_the_invocation_cpu() {
        // 128 MB: 1769/128 = 13.82× slower CPU; the waiting is unchanged.
        let at_128 = invocation_at(10.0, 4.0, 128);
        assert!((at_128 - (6.0 + 4.0 * 1769.0 / 128.0)).abs() < 1e-9);
        // Above a full vCPU, never faster than measured.
        assert_eq!(invocation_at(10.0, 4.0, 3008), 10.0);
        // More CPU than wall (several threads): no negative waiting.
        assert_eq!(invocation_at(2.0, 3.0, 1769), 3.0);
    }

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        assert!((gb_seconds(10.2, 128) - 0.125 * 0.011).abs() < 1e-12);
        assert!((usd_per_million(0.0) - 0.20).abs() < 1e-12);
    }

    #[test]
    fn the_template_sizes_are_read() {
        let dir = std::env::temp_dir().join(format!("ivs-bench-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("template.yaml");
        std::fs::write(
            &path,
            "Globals:\n  Function:\n    # comment\n    MemorySize: 128 # the default\n\
             Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: stream-events\n\
             \x20 B:\n    Metadata:\n      BuildProperties:\n        Binary: admin-api\n    Properties:\n      MemorySize: 256\n\
             \x20 Queue:\n    Type: AWS::SQS::Queue\n",
        )
        .unwrap();
        let sizes = TemplateMemory::read(&path).unwrap();
        assert_eq!(sizes.of("stream-events"), 128);
        assert_eq!(sizes.of("admin-api"), 256);
        assert_eq!(sizes.of("recording-events"), 128);
        std::fs::write(&path, "Globals:\n  Function:\n    MemorySize: !Ref Size\n").unwrap();
        assert!(TemplateMemory::read(&path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
