//! Configuration of an [`Emulator`](crate::Emulator): identity, seed, limits, faults and event
//! delivery targets.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::events::{
    LIMIT_BREACH, RECORDING_STATE_CHANGE, STREAM_HEALTH_CHANGE, STREAM_STATE_CHANGE,
};
use crate::faults::FaultConfig;
use crate::metadata::DEFAULT_CHANNEL_RATE;
use crate::rate::RateQuotas;

/// How an emulator behaves. `Config::default()` is us-west-2, account 111122223333, a random seed,
/// IVS's API rate quotas and its PutMetadata limit per channel on, recording configurations
/// `CREATING` for 2 seconds, no faults and no delivery targets besides in-process subscribers.
#[derive(Clone, Debug)]
pub struct Config {
    /// The region in ARNs, URLs and events; requests must be signed for it.
    pub region: String,
    /// The account id in ARNs and events.
    pub account: String,
    /// Seed of every random choice (ids, fault draws): the same seed and the same calls give the
    /// same run.
    pub seed: u64,
    /// PutMetadata requests allowed per second per channel; `None` turns this limit off. (The
    /// per-account PutMetadata limit, 155 per second, is one of the [`rate_quotas`](Self::rate_quotas).)
    pub metadata_rate_limit: Option<u32>,
    /// IVS's account-wide API rate quotas (per operation: 5, 10, 3… requests per second), on at
    /// IVS's values by default; [`RateQuotas::scaled`] multiplies them for fast runs,
    /// [`RateQuotas::off`] turns them off. With a factor other than 1, give the functions' rate
    /// budgets the same factor.
    pub rate_quotas: RateQuotas,
    /// Fault injection (off by default).
    pub faults: FaultConfig,
    /// Where events go besides the in-process subscribers and the event log.
    pub targets: Vec<Target>,
    /// Resource quotas.
    pub quotas: Quotas,
    /// How long a new recording configuration stays `CREATING` before it is `ACTIVE`, as IVS
    /// answers CreateRecordingConfiguration with `CREATING` and activates the configuration
    /// shortly after ([`Config::DEFAULT_RECORDING_CONFIGURATION_DELAY`] by default).
    /// `Duration::ZERO` makes it `ACTIVE` at once. The change shows at the first request (or
    /// ingest action) after the delay.
    pub recording_configuration_delay: Duration,
}

impl Config {
    /// The default of [`recording_configuration_delay`](Self::recording_configuration_delay).
    pub const DEFAULT_RECORDING_CONFIGURATION_DELAY: Duration = Duration::from_secs(2);
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "us-west-2".to_owned(),
            account: "111122223333".to_owned(),
            seed: fastrand::u64(..),
            metadata_rate_limit: Some(DEFAULT_CHANNEL_RATE),
            rate_quotas: RateQuotas::default(),
            faults: FaultConfig::default(),
            targets: Vec::new(),
            quotas: Quotas::default(),
            recording_configuration_delay: Self::DEFAULT_RECORDING_CONFIGURATION_DELAY,
        }
    }
}

/// Resource quotas per account and region (IVS's defaults; lower them to test quota errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Channels (IVS default: 5,000). Raise it to seed more ([`crate::SeedSpec::channel_quota`]).
    pub channels: usize,
    /// Recording configurations (IVS default: 20).
    pub recording_configurations: usize,
    /// Playback key pairs (IVS: 3).
    pub playback_key_pairs: usize,
    /// Playback restriction policies (default here: 20).
    pub playback_restriction_policies: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            channels: 5_000,
            recording_configurations: 20,
            playback_key_pairs: 3,
            playback_restriction_policies: 20,
        }
    }
}

/// An event delivery target.
#[derive(Clone, Debug)]
pub enum Target {
    /// One JSON line per event.
    JsonLines(JsonLinesTarget),
    /// Invoke local Lambda functions through the Lambda Invoke API.
    Lambda(LambdaTarget),
    /// Send events to SQS queues (moto's server), one per function, which an event source
    /// mapping polls to invoke the function with batches (see [`QueueTarget`]).
    Queue(QueueTarget),
}

/// Where JSON lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonLinesTarget {
    /// The process's standard output.
    Stdout,
    /// A file (created or truncated when the emulator starts).
    File(PathBuf),
}

impl FromStr for JsonLinesTarget {
    type Err = std::convert::Infallible;

    /// `stdout` or a path.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(if value == "stdout" || value == "-" {
            Self::Stdout
        } else {
            Self::File(PathBuf::from(value))
        })
    }
}

/// Delivery to local Lambda functions: `POST {endpoint}/2015-03-31/functions/{name}/invocations`
/// with the event as the body, as `cargo lambda watch` serves it.
#[derive(Clone, Debug)]
pub struct LambdaTarget {
    /// Base URL of the Lambda Invoke API (`http://127.0.0.1:9000`).
    pub endpoint: String,
    /// Which functions get which detail-types.
    pub routes: Vec<Route>,
    /// Retries after a failed invocation before the event is dead-lettered (Lambda's async
    /// invocation retries twice).
    pub retries: u32,
    /// Pause before each retry.
    pub retry_delay: Duration,
    /// Time limit of one invocation (the first invocation under `cargo lambda watch` compiles the
    /// function, so keep it generous).
    pub timeout: Duration,
}

impl LambdaTarget {
    /// A target at `endpoint` with `routes`, two retries 500 ms apart and a 15-minute timeout.
    pub fn new(endpoint: impl Into<String>, routes: Vec<Route>) -> Self {
        Self {
            endpoint: endpoint.into(),
            routes,
            retries: 2,
            retry_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(900),
        }
    }
}

/// EventBridge's SQS target and Lambda's SQS event source mapping: each event routed to a
/// function is sent (SendMessage) to the queue `<function>-events` on the SQS server at
/// `sqs_endpoint` (moto's server mode), and `max_concurrency` pollers per function receive
/// batches from it and invoke the function through the Invoke API at `lambda_endpoint`, with
/// partial batch responses (`ReportBatchItemFailures`). Every function queue redrives to one
/// dead-letter queue, `failed-events`, after `max_receive_count` receives.
#[derive(Clone, Debug)]
pub struct QueueTarget {
    /// Base URL of the SQS server (moto's server: `http://127.0.0.1:PORT`).
    pub sqs_endpoint: String,
    /// Base URL of the Lambda Invoke API (as [`LambdaTarget::endpoint`]).
    pub lambda_endpoint: String,
    /// Which functions get which detail-types.
    pub routes: Vec<Route>,
    /// The event source mapping's `BatchSize`: the most records in one invocation (1 to 10,000;
    /// default 10).
    pub batch_size: u32,
    /// The event source mapping's `MaximumBatchingWindowInSeconds`: how long a poller gathers
    /// records after the first one before it invokes (default 1 s; zero invokes with what one
    /// ReceiveMessage returned).
    pub batching_window: Duration,
    /// The event source mapping's `ScalingConfig.MaximumConcurrency`: pollers (and so concurrent
    /// invocations) per function (AWS allows 2 to 1,000; 1 is allowed here for tests; default 2).
    pub max_concurrency: u32,
    /// The function queues' `VisibilityTimeout` (default 180 s).
    pub visibility_timeout: Duration,
    /// The function queues' `RedrivePolicy.maxReceiveCount` (default 20).
    pub max_receive_count: u32,
    /// Time limit of one invocation (default 900 s: the first invocation under
    /// `cargo lambda watch` compiles the function).
    pub invocation_timeout: Duration,
}

impl QueueTarget {
    /// A target with `routes`, SQS at `sqs_endpoint`, the Invoke API at `lambda_endpoint`, and
    /// the defaults: batches of 10, a 1 s batching window, 2 concurrent invocations per function,
    /// a 180 s visibility timeout, redrive after 20 receives, 900 s per invocation.
    pub fn new(
        sqs_endpoint: impl Into<String>,
        lambda_endpoint: impl Into<String>,
        routes: Vec<Route>,
    ) -> Self {
        Self {
            sqs_endpoint: sqs_endpoint.into(),
            lambda_endpoint: lambda_endpoint.into(),
            routes,
            batch_size: 10,
            batching_window: Duration::from_secs(1),
            max_concurrency: 2,
            visibility_timeout: Duration::from_secs(180),
            max_receive_count: 20,
            invocation_timeout: Duration::from_secs(900),
        }
    }

    /// The distinct functions of the routes, in route order.
    pub fn functions(&self) -> Vec<String> {
        let mut functions: Vec<String> = Vec::new();
        for route in &self.routes {
            if !functions.contains(&route.function) {
                functions.push(route.function.clone());
            }
        }
        functions
    }
}

/// A routing rule: events of `detail_type` go to the Lambda function `function`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// A full detail-type (`IVS Stream State Change`), or `*` for every event.
    pub detail_type: String,
    /// The function name.
    pub function: String,
}

impl Route {
    /// A route of `detail_type` (with or without its `IVS ` prefix) to `function`.
    pub fn new(detail_type: &str, function: &str) -> Self {
        let detail_type = detail_type.trim();
        let detail_type = if detail_type == "*" || detail_type.starts_with("IVS ") {
            detail_type.to_owned()
        } else {
            format!("IVS {detail_type}")
        };
        Self {
            detail_type,
            function: function.trim().to_owned(),
        }
    }

    /// The project's routes: stream state, stream health and limit breaches to `stream-events`,
    /// recording state changes to `recording-events`.
    pub fn default_routes() -> Vec<Route> {
        vec![
            Route::new(STREAM_STATE_CHANGE, "stream-events"),
            Route::new(STREAM_HEALTH_CHANGE, "stream-events"),
            Route::new(LIMIT_BREACH, "stream-events"),
            Route::new(RECORDING_STATE_CHANGE, "recording-events"),
        ]
    }

    /// Whether events of `detail_type` take this route.
    pub fn matches(&self, detail_type: &str) -> bool {
        self.detail_type == "*" || self.detail_type == detail_type
    }
}

/// Whether `name` is a function name as routes and the API Gateway emulator take it: letters,
/// digits, `-` and `_` (an unqualified Lambda function name).
pub(crate) fn is_function_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A route that cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a route looks like '<detail-type>=<function-name>', e.g. 'Stream State Change=stream-events': {0}")]
pub struct RouteSpecError(String);

impl FromStr for Route {
    type Err = RouteSpecError;

    /// Parses `<detail-type>=<function-name>`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (detail_type, function) = spec
            .split_once('=')
            .ok_or_else(|| RouteSpecError(spec.to_owned()))?;
        if detail_type.trim().is_empty() || !is_function_name(function.trim()) {
            return Err(RouteSpecError(spec.to_owned()));
        }
        Ok(Route::new(detail_type, function))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_with_or_without_the_prefix() {
        let route: Route = "Stream State Change=stream-events".parse().unwrap();
        assert_eq!(
            route,
            Route::new("IVS Stream State Change", "stream-events")
        );
        assert!(route.matches("IVS Stream State Change"));
        assert!(!route.matches("IVS Limit Breach"));
        let all: Route = "*=audit".parse().unwrap();
        assert!(all.matches("IVS Limit Breach"));
        for bad in ["no-equals", "=fn", "Limit Breach=", "Limit Breach=a/b"] {
            assert!(bad.parse::<Route>().is_err(), "{bad}");
        }
        assert_eq!(Route::default_routes().len(), 4);
    }

    #[test]
    fn json_lines_targets() {
        assert_eq!(
            "stdout".parse::<JsonLinesTarget>().unwrap(),
            JsonLinesTarget::Stdout
        );
        assert_eq!(
            "/tmp/e.jsonl".parse::<JsonLinesTarget>().unwrap(),
            JsonLinesTarget::File("/tmp/e.jsonl".into())
        );
    }
}
