//! `ivs-emulator`: runs the IVS emulator on 127.0.0.1, and with `--gateway-port` a local API
//! Gateway HTTP API in front of a Lambda function.
//!
//! The first line of standard output is the endpoint (`http://127.0.0.1:PORT`), so scripts can
//! start it with `--port 0` and read where it listens; with a gateway, the second line is
//! `gateway: http://127.0.0.1:PORT`. With `--sqs-endpoint`, one line per function queue
//! follows (`queue <function>-events <url>`), then `dead-letter-queue <url>`. Logs go to standard error (`RUST_LOG` filters them, default
//! `info`). Ctrl-C or SIGTERM stops it.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ivs_emulator::{
    Config, Emulator, FaultConfig, FaultRule, Gateway, GatewayAuth, GatewayConfig, JsonLinesTarget,
    LambdaTarget, QueueTarget, RateQuotas, Route, Target,
};
use tracing_subscriber::EnvFilter;

/// The environment variable that gives the rate factor when `--rate-factor` does not.
const RATE_FACTOR_VAR: &str = "IVS_EMULATOR_RATE_FACTOR";

/// A local Amazon IVS emulator: the IVS API on the real wire protocol, simulated ingest under
/// /_emulator, and the EventBridge events IVS emits.
#[derive(Debug, Parser)]
#[command(name = "ivs-emulator", version)]
struct Cli {
    /// Port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 4566)]
    port: u16,

    /// Region of the emulated account (requests must be signed for it).
    #[arg(long, default_value = "us-west-2")]
    region: String,

    /// Account id of the emulated account.
    #[arg(long, default_value = "111122223333")]
    account: String,

    /// Seed of every random choice (ids, fault draws); random when absent (and logged).
    #[arg(long)]
    seed: Option<u64>,

    /// Write every event as a JSON line to `stdout` or to a file.
    #[arg(long, value_name = "stdout|PATH")]
    events_out: Option<JsonLinesTarget>,

    /// Base URL of a Lambda Invoke API (e.g. `cargo lambda watch`): http://127.0.0.1:9000.
    #[arg(long, value_name = "URL")]
    lambda_endpoint: Option<String>,

    /// Route a detail-type to a function: "Stream State Change=stream-events" (repeatable).
    #[arg(
        long = "route",
        value_name = "DETAIL-TYPE=FUNCTION",
        requires = "lambda_endpoint"
    )]
    routes: Vec<Route>,

    /// Route stream state, stream health and limit breach events to `stream-events`, recording
    /// state changes to `recording-events`.
    #[arg(long, requires = "lambda_endpoint")]
    default_routes: bool,

    /// Time limit of one event delivery to a Lambda function, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    lambda_timeout: u64,

    /// Pause before retrying a failed Lambda invocation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    lambda_retry_delay: u64,

    /// Deliver routed events through SQS queues on this SQS server (moto's server mode,
    /// http://127.0.0.1:PORT) instead of invoking the functions directly: EventBridge's SQS
    /// target sends each event to the queue `<function>-events` (dead-letter queue
    /// `failed-events`), and an event source mapping per function invokes it through
    /// --lambda-endpoint with batches, reading partial batch failures (ReportBatchItemFailures).
    /// The queue URLs are printed on start (`queue <name> <url>`, `dead-letter-queue <url>`).
    #[arg(long, value_name = "URL", requires = "lambda_endpoint")]
    sqs_endpoint: Option<String>,

    /// Queued delivery: the event source mapping's BatchSize (1 to 10000).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        requires = "sqs_endpoint"
    )]
    batch_size: u32,

    /// Queued delivery: the event source mapping's MaximumBatchingWindowInSeconds, in
    /// milliseconds (0 to 300000).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        requires = "sqs_endpoint"
    )]
    batching_window_ms: u64,

    /// Queued delivery: the event source mapping's ScalingConfig.MaximumConcurrency, the
    /// concurrent invocations per function (AWS: 2 to 1000; 1 allowed here).
    #[arg(long, value_name = "N", default_value_t = 2, requires = "sqs_endpoint")]
    max_concurrency: u32,

    /// Queued delivery: the function queues' VisibilityTimeout, in seconds (0 to 43200).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 180,
        requires = "sqs_endpoint"
    )]
    visibility_timeout_seconds: u64,

    /// Queued delivery: the function queues' RedrivePolicy maxReceiveCount (1 to 1000), after
    /// which the SQS server moves a message to `failed-events`.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        requires = "sqs_endpoint"
    )]
    max_receive_count: u32,

    /// Inject faults: "<Operation|*>:throttle=0.1,error500=0.05,unavailable=0.05,latency_ms=50" (repeatable).
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<FaultRule>,

    /// Turn off PutMetadata's limit per channel (5 per second). Its limit per account (155 per
    /// second) is one of the API rate quotas (--rate-factor).
    #[arg(long)]
    no_metadata_rate_limit: bool,

    /// Multiply IVS's account-wide API rate quotas (GetChannel 5 per second, ListTagsForResource
    /// 10…) by this factor: 1 is IVS (the default), 10 for fast runs, 0 or `off` turns them off.
    /// Default: $IVS_EMULATOR_RATE_FACTOR, else 1. With a factor other than 1, give the
    /// functions' rate budgets the same factor.
    #[arg(long, value_name = "FACTOR")]
    rate_factor: Option<RateQuotas>,

    /// How long a new recording configuration stays CREATING before it is ACTIVE, in
    /// milliseconds (IVS activates it shortly after creating it); 0 makes it ACTIVE at once.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    recording_configuration_delay_ms: u64,

    /// Also run a local API Gateway HTTP API (payload format 2.0) on this port of 127.0.0.1 (0
    /// picks a free port), in front of --gateway-function through --lambda-endpoint.
    #[arg(
        long,
        value_name = "PORT",
        requires = "lambda_endpoint",
        requires = "gateway_function"
    )]
    gateway_port: Option<u16>,

    /// The Lambda function behind the gateway (the project's: admin-api).
    #[arg(long, value_name = "FUNCTION", requires = "gateway_port")]
    gateway_function: Option<String>,

    /// How the gateway authorizes requests: iam (SigV4 for execute-api; signatures are not
    /// verified) or jwt (a bearer token, decoded but NOT verified).
    #[arg(
        long,
        value_name = "iam|jwt",
        default_value_t = GatewayAuth::Iam,
        requires = "gateway_port"
    )]
    gateway_auth: GatewayAuth,

    /// Time limit of one invocation through the gateway, in seconds (API Gateway's limit: 30).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        requires = "gateway_port"
    )]
    gateway_timeout: u64,
}

impl Cli {
    fn config(&self) -> Result<Config, String> {
        let region_ok = !self.region.is_empty()
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(format!(
                "--region must match [a-z0-9-]+, not '{}'",
                self.region
            ));
        }
        if self.account.is_empty() || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("--account must be digits, not '{}'", self.account));
        }
        let rate_quotas = match &self.rate_factor {
            Some(quotas) => *quotas,
            None => match std::env::var(RATE_FACTOR_VAR) {
                Ok(value) => value
                    .parse()
                    .map_err(|err| format!("{RATE_FACTOR_VAR}: {err}"))?,
                Err(std::env::VarError::NotPresent) => RateQuotas::default(),
                Err(err) => return Err(format!("{RATE_FACTOR_VAR}: {err}")),
            },
        };
        let mut config = Config {
            region: self.region.clone(),
            rate_quotas,
            account: self.account.clone(),
            metadata_rate_limit: if self.no_metadata_rate_limit {
                None
            } else {
                Config::default().metadata_rate_limit
            },
            faults: FaultConfig {
                rules: self.faults.clone(),
            },
            recording_configuration_delay: Duration::from_millis(
                self.recording_configuration_delay_ms,
            ),
            ..Config::default()
        };
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(target) = &self.events_out {
            config.targets.push(Target::JsonLines(target.clone()));
        }
        if let Some(endpoint) = &self.lambda_endpoint {
            if !endpoint.starts_with("http://") {
                return Err(format!(
                    "--lambda-endpoint must be an http:// URL, not '{endpoint}'"
                ));
            }
            let mut routes = self.routes.clone();
            if self.default_routes {
                routes.extend(Route::default_routes());
            }
            if routes.is_empty() && self.gateway_port.is_none() {
                return Err(
                    "--lambda-endpoint needs --route, --default-routes or --gateway-port"
                        .to_owned(),
                );
            }
            if let Some(sqs_endpoint) = &self.sqs_endpoint {
                config.targets.push(Target::Queue(self.queue_target(
                    sqs_endpoint,
                    endpoint,
                    routes,
                )?));
            } else if !routes.is_empty() {
                let mut target = LambdaTarget::new(endpoint.clone(), routes);
                target.timeout = Duration::from_secs(self.lambda_timeout);
                target.retry_delay = Duration::from_millis(self.lambda_retry_delay);
                config.targets.push(Target::Lambda(target));
            }
        }
        Ok(config)
    }

    /// The queue target --sqs-endpoint asks for.
    fn queue_target(
        &self,
        sqs_endpoint: &str,
        lambda_endpoint: &str,
        routes: Vec<Route>,
    ) -> Result<QueueTarget, String> {
        if !sqs_endpoint.starts_with("http://") {
            return Err(format!(
                "--sqs-endpoint must be an http:// URL, not '{sqs_endpoint}'"
            ));
        }
        if routes.is_empty() {
            return Err("--sqs-endpoint needs --route or --default-routes".to_owned());
        }
        let in_range = |name: &str, value: u64, low: u64, high: u64| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("--{name} must be {low} to {high}, not {value}"))
            }
        };
        in_range("batch-size", self.batch_size.into(), 1, 10_000)?;
        in_range("batching-window-ms", self.batching_window_ms, 0, 300_000)?;
        in_range("max-concurrency", self.max_concurrency.into(), 1, 1_000)?;
        in_range(
            "visibility-timeout-seconds",
            self.visibility_timeout_seconds,
            0,
            43_200,
        )?;
        in_range("max-receive-count", self.max_receive_count.into(), 1, 1_000)?;
        Ok(QueueTarget {
            batch_size: self.batch_size,
            batching_window: Duration::from_millis(self.batching_window_ms),
            max_concurrency: self.max_concurrency,
            visibility_timeout: Duration::from_secs(self.visibility_timeout_seconds),
            max_receive_count: self.max_receive_count,
            invocation_timeout: Duration::from_secs(self.lambda_timeout),
            ..QueueTarget::new(sqs_endpoint, lambda_endpoint, routes)
        })
    }

    /// The gateway and its port, when --gateway-port asks for one.
    fn gateway(&self) -> Result<Option<(Gateway, u16)>, String> {
        let Some(port) = self.gateway_port else {
            return Ok(None);
        };
        let (Some(endpoint), Some(function)) = (&self.lambda_endpoint, &self.gateway_function)
        else {
            return Err("--gateway-port needs --lambda-endpoint and --gateway-function".to_owned());
        };
        if self.gateway_timeout == 0 {
            return Err("--gateway-timeout must be at least 1 second".to_owned());
        }
        let config = GatewayConfig {
            region: self.region.clone(),
            account: self.account.clone(),
            auth: self.gateway_auth,
            timeout: Duration::from_secs(self.gateway_timeout),
            ..GatewayConfig::new(endpoint.clone(), function.clone())
        };
        let gateway = Gateway::new(config).map_err(|err| format!("--gateway-*: {err}"))?;
        Ok(Some((gateway, port)))
    }
}

/// Waits for Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: `run` calls it before printing the endpoint, so that a script (or
/// a test) that signals as soon as it has read the endpoint never meets the default action
/// (death by the signal, exit status 143) instead of a clean shutdown.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let installed = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match installed {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM or Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config()?;
    let gateway = cli.gateway()?;
    let emulator = Emulator::new(config);
    let queues = if emulator.has_queues() {
        Some(
            emulator
                .start_queues()
                .await
                .map_err(|err| format!("cannot set up the event queues: {err}"))?,
        )
    } else {
        None
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, cli.port));
    let server = emulator
        .serve(addr)
        .await
        .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
    let gateway_server = match gateway {
        Some((gateway, port)) => {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let served = gateway
                .serve(addr)
                .await
                .map_err(|err| format!("cannot listen on {addr} (gateway): {err}"))?;
            Some(served)
        }
        None => None,
    };
    let stop = shutdown_signal();
    {
        // Every line at once, before any event line: scripts read them by position.
        let mut stdout = std::io::stdout().lock();
        let mut lines = format!("{}\n", server.url());
        if let Some(gateway_server) = &gateway_server {
            lines.push_str(&format!("gateway: {}\n", gateway_server.url()));
        }
        if let Some(queues) = &queues {
            for (function, url) in &queues.queues {
                lines.push_str(&format!(
                    "queue {} {url}\n",
                    ivs_emulator::queue_name(function)
                ));
            }
            lines.push_str(&format!("dead-letter-queue {}\n", queues.dead_letter_queue));
        }
        stdout
            .write_all(lines.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|err| format!("cannot write to stdout: {err}"))?;
    }
    stop.await;
    tracing::info!("shutting down");
    let gateway_stopped = match gateway_server {
        Some(gateway_server) => gateway_server.shutdown().await,
        None => Ok(()),
    };
    let stopped = server.shutdown().await;
    stopped
        .and(gateway_stopped)
        .map_err(|err| format!("server error: {err}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ivs-emulator: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("ivs-emulator: {err}");
            ExitCode::FAILURE
        }
    }
}
