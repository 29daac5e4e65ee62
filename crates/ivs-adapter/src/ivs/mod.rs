//! IVS helpers over [`aws_sdk_ivs::Client`]: timed metadata, stopping streams, stream-key
//! rotation, suspending and resuming channels, reading channel tags.
//!
//! Every call goes through one retry loop ([`RetryPolicy`]) with bounded exponential backoff
//! and jitter. The SDK's own retries are switched off in [`client_from_env`] so that the
//! number of attempts and the time they take are decided here, once, and are the same for
//! every call (the SDK would retry a non-idempotent write such as `CreateChannel` on a 5xx).

mod batch;
mod keys;
mod metadata;
mod rate;
mod retry;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_ivs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::types::StreamSessionSummary;
use aws_sdk_ivs::Client;
use tracing::warn;

use aws_config::SdkConfig;
use aws_sdk_ivs::config::endpoint::ResolveEndpoint;

use crate::error::{Error, IvsErrorKind};
use crate::https::{HttpsClient, WarmedUp, WARM_UP_AT_INIT};
use crate::metrics::Metrics;
use crate::tls::TrustRoots;
use domain::arn::IvsArn;
use domain::config::parse_bool;
use domain::metrics::{DIM_OPERATION, IVS_CALLS, IVS_THROTTLED};

pub use batch::{
    pack, BatchError, BatchOutcome, BatchReport, Pacer, PackError, Packed, SendError, SentPayload,
    DEFAULT_METADATA_RATE,
};
pub use keys::{NewStreamKey, ResumeOutcome, RotateOutcome, SuspendOutcome};
pub use metadata::MetadataOutcome;
pub use rate::{RateBudget, RATE_BUDGET_CODE};
pub use retry::RetryPolicy;

/// Time allowed to open a connection to IVS.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for one attempt of one call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeouts of every SDK call: connecting, and one attempt of one call.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// What a function builds once per container: the AWS configuration and the HTTPS client
/// every SDK client built from it shares.
#[derive(Clone, Debug)]
pub struct AwsSetup {
    pub config: SdkConfig,
    pub https: HttpsClient,
}

/// The AWS configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL_IVS` / `AWS_ENDPOINT_URL` to point clients at a local endpoint), with the
/// SDK's retries off (the helpers retry), per-attempt timeouts on ([`timeouts`]), and the
/// HTTPS client trusting the roots [`TrustRoots::from_env`] chooses (only Amazon's by
/// default), its trust roots parsed now. Load it once per container and build every client
/// from it. Fails only for an invalid `TLS_TRUST_ROOTS`.
pub async fn aws_from_env() -> Result<AwsSetup, Error> {
    let roots = TrustRoots::from_env()?;
    tracing::debug!(trust_roots = roots.as_str(), "HTTPS trust roots");
    let https = HttpsClient::new(roots);
    https.prepare(&timeouts());
    let config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts())
        .http_client(https.shared())
        .load()
        .await;
    Ok(AwsSetup { config, https })
}

/// [`aws_from_env`]'s configuration alone.
pub async fn sdk_config_from_env() -> Result<SdkConfig, Error> {
    Ok(aws_from_env().await?.config)
}

impl AwsSetup {
    /// The endpoint an SDK client of this configuration calls when one is configured:
    /// `service_variable` (for example `AWS_ENDPOINT_URL_IVS`), then `AWS_ENDPOINT_URL`,
    /// unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
    pub fn endpoint_override(&self, service_variable: &str) -> Option<String> {
        let var = |name: &str| env_var(name).filter(|v| !v.trim().is_empty());
        if var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .as_deref()
            .and_then(parse_bool)
            == Some(true)
        {
            return None;
        }
        var(service_variable).or_else(|| self.config.endpoint_url().map(str::to_owned))
    }

    /// The IVS endpoint this configuration's clients call (the override, or the one the
    /// SDK's resolver gives for the region, FIPS and dual-stack settings).
    pub async fn ivs_endpoint(&self) -> Option<String> {
        if let Some(url) = self.endpoint_override("AWS_ENDPOINT_URL_IVS") {
            return Some(url);
        }
        let params = aws_sdk_ivs::config::endpoint::Params::builder()
            .set_region(self.config.region().map(|r| r.to_string()))
            .set_use_fips(self.config.use_fips())
            .set_use_dual_stack(self.config.use_dual_stack())
            .build()
            .ok()?;
        let endpoint = aws_sdk_ivs::config::endpoint::DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .ok()?;
        Some(endpoint.url().to_owned())
    }

    /// The EventBridge endpoint this configuration's clients call (the override
    /// `AWS_ENDPOINT_URL_EVENTBRIDGE`, or the regional one the SDK's resolver gives).
    pub async fn events_endpoint(&self) -> Option<String> {
        use aws_sdk_eventbridge::config::endpoint::ResolveEndpoint as _;
        if let Some(url) = self.endpoint_override("AWS_ENDPOINT_URL_EVENTBRIDGE") {
            return Some(url);
        }
        let params = aws_sdk_eventbridge::config::endpoint::Params::builder()
            .set_region(self.config.region().map(|r| r.to_string()))
            .set_use_fips(self.config.use_fips())
            .set_use_dual_stack(self.config.use_dual_stack())
            .build()
            .ok()?;
        let endpoint = aws_sdk_eventbridge::config::endpoint::DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .ok()?;
        Some(endpoint.url().to_owned())
    }

    /// Opens a connection to each endpoint now ([`HttpsClient::warm_up`]); call it during
    /// init when [`warm_up_wanted`].
    pub async fn warm_up(&self, endpoints: &[String]) -> Vec<WarmedUp> {
        self.https.warm_up(&timeouts(), endpoints).await
    }
}

/// Whether init should do the start-up work ahead of the first call (open the TLS
/// connections, load keys): `WARM_UP_AT_INIT`, true unless set to false. Fails only for a
/// value that is not a boolean.
pub fn warm_up_wanted() -> Result<bool, Error> {
    match env_var(WARM_UP_AT_INIT).filter(|v| !v.trim().is_empty()) {
        None => Ok(true),
        Some(value) => parse_bool(&value).ok_or_else(|| {
            Error::Config(format!(
                "{WARM_UP_AT_INIT}={value:?}: expected true or false"
            ))
        }),
    }
}

/// One environment variable, as the domain's settings read them (`Settings::from_lookup`).
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The IVS client from [`sdk_config_from_env`].
pub async fn client_from_env() -> Result<Client, Error> {
    Ok(Client::new(&sdk_config_from_env().await?))
}

/// Time kept free before the invocation's deadline: a retry that would start later than
/// `deadline - RETRY_MARGIN` is not made, so that the failure is reported (and the event
/// retried by Lambda) instead of the invocation timing out with nothing said.
pub const RETRY_MARGIN: Duration = Duration::from_secs(2);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with a deadline that every IVS call's retry loop respects (see
/// [`RETRY_MARGIN`]). The handler sets it from the Lambda invocation's deadline.
pub async fn with_deadline<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// Whether the deadline [`with_deadline`] set (if any) leaves time for a call now: more
/// than [`RETRY_MARGIN`].
pub fn has_time_left() -> bool {
    time_left_for(Duration::ZERO)
}

fn time_left_for(delay: Duration) -> bool {
    DEADLINE
        .try_with(|deadline| Instant::now() + delay + RETRY_MARGIN < *deadline)
        .unwrap_or(true)
}

/// Which failures a call may be retried on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryOn {
    /// Throttling, 5xx and timeouts: for reads and for writes that are idempotent.
    Transient,
    /// Throttling only (IVS refused the request, so nothing happened): for writes that would
    /// be duplicated if a 5xx or a timeout hid a success.
    Throttling,
}

/// The IVS helpers: a client, the retry policy every call follows and, when given, the
/// container's share of IVS's rate quotas that every attempt waits for ([`RateBudget`]).
#[derive(Clone, Debug)]
pub struct Ivs {
    client: Client,
    retry: RetryPolicy,
    budget: Option<Arc<RateBudget>>,
    /// Where calls and throttled answers are counted, when given.
    metrics: Option<Arc<Metrics>>,
}

/// How `stop_stream` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    /// The channel was not broadcasting: nothing to stop.
    AlreadyStopped,
}

impl StopOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StopOutcome::Stopped => "stopped",
            StopOutcome::AlreadyStopped => "already_stopped",
        }
    }
}

impl Ivs {
    pub fn new(client: Client) -> Self {
        Self::with_retry(client, RetryPolicy::default())
    }

    pub fn with_retry(client: Client, retry: RetryPolicy) -> Self {
        Ivs {
            client,
            retry,
            budget: None,
            metrics: None,
        }
    }

    /// The same helpers, counting every attempt and every throttled answer in `metrics`
    /// (`IvsCalls`, `IvsThrottled`, by operation and in total).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The metrics the calls are counted in, if any.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    /// The same helpers, every attempt paced by `budget` (shared by every clone).
    pub fn with_budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The rate budget every attempt waits for, if any.
    pub fn budget(&self) -> Option<&RateBudget> {
        self.budget.as_deref()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Runs one IVS call under the retry policy. `send` is called once per attempt.
    pub async fn call<T, E, F, Fut>(
        &self,
        operation: &'static str,
        retry_on: RetryOn,
        mut send: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut attempt = 1;
        loop {
            if let Some(budget) = &self.budget {
                budget.acquire(operation, attempt - 1).await?;
            }
            let result = send().await;
            if let Some(m) = &self.metrics {
                m.count(IVS_CALLS, &[(DIM_OPERATION, operation)], 1);
                m.count(IVS_CALLS, &[], 1);
            }
            let err = match result {
                Ok(output) => return Ok(output),
                Err(err) => err,
            };
            let (kind, code, message) = classify(&err);
            if let (Some(m), IvsErrorKind::Throttled) = (&self.metrics, kind) {
                m.count(IVS_THROTTLED, &[(DIM_OPERATION, operation)], 1);
                m.count(IVS_THROTTLED, &[], 1);
            }
            let may_retry = match retry_on {
                RetryOn::Transient => kind.is_retryable(),
                RetryOn::Throttling => kind == IvsErrorKind::Throttled,
            };
            let delay = self.retry.delay(attempt);
            if !may_retry || attempt >= self.retry.max_attempts || !time_left_for(delay) {
                return Err(Error::Ivs {
                    operation,
                    kind,
                    code,
                    message,
                    attempts: attempt,
                });
            }
            warn!(
                operation,
                attempt,
                error_kind = kind.as_str(),
                delay_ms = delay.as_millis() as u64,
                "IVS call failed, retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Stops the channel's live stream. An offline channel is success ("already stopped").
    pub async fn stop_stream(&self, channel: &IvsArn) -> Result<StopOutcome, Error> {
        let result = self
            .call("StopStream", RetryOn::Transient, || {
                self.client
                    .stop_stream()
                    .channel_arn(channel.as_str())
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(StopOutcome::Stopped),
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::ChannelNotBroadcasting) => {
                Ok(StopOutcome::AlreadyStopped)
            }
            Err(e) => Err(e),
        }
    }

    /// The channel's latest stream session (the first of IVS's list, newest first), if it has
    /// had one.
    pub async fn latest_stream_session(
        &self,
        channel: &IvsArn,
    ) -> Result<Option<StreamSessionSummary>, Error> {
        let output = self
            .call("ListStreamSessions", RetryOn::Transient, || {
                self.client
                    .list_stream_sessions()
                    .channel_arn(channel.as_str())
                    .max_results(1)
                    .send()
            })
            .await?;
        Ok(output.stream_sessions().first().cloned())
    }

    /// When the stream session of `stream_id` started, if IVS still knows it (`None` for a
    /// session it does not: `ResourceNotFoundException`).
    pub async fn stream_start_time(
        &self,
        channel: &IvsArn,
        stream_id: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
        let result = self
            .call("GetStreamSession", RetryOn::Transient, || {
                self.client
                    .get_stream_session()
                    .channel_arn(channel.as_str())
                    .stream_id(stream_id)
                    .send()
            })
            .await;
        match result {
            Ok(output) => Ok(output
                .stream_session()
                .and_then(|s| s.start_time())
                .and_then(|t| chrono::DateTime::from_timestamp_millis(t.to_millis().ok()?))),
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The channel's playback URL (`None` for a channel IVS does not know).
    pub async fn playback_url(&self, channel: &IvsArn) -> Result<Option<String>, Error> {
        let result = self
            .call("GetChannel", RetryOn::Transient, || {
                self.client.get_channel().arn(channel.as_str()).send()
            })
            .await;
        match result {
            Ok(output) => Ok(output
                .channel()
                .and_then(|c| c.playback_url())
                .filter(|u| !u.is_empty())
                .map(str::to_owned)),
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tags of any IVS resource.
    pub async fn tags(&self, resource: &IvsArn) -> Result<HashMap<String, String>, Error> {
        let output = self
            .call("ListTagsForResource", RetryOn::Transient, || {
                self.client
                    .list_tags_for_resource()
                    .resource_arn(resource.as_str())
                    .send()
            })
            .await?;
        Ok(output.tags().clone())
    }
}

/// The most channels one `BatchGetChannel` reads.
pub const BATCH_GET_CHANNEL_MAX: usize = 50;

/// What [`Ivs::channels_tags`] read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelsTags {
    /// Each channel read, by ARN: its tags.
    pub tags: HashMap<String, HashMap<String, String>>,
    /// The channels IVS says do not exist.
    pub not_found: Vec<String>,
    /// The channels IVS could not read this time, with its error code.
    pub failed: Vec<(String, String)>,
    /// Each channel read, by ARN: its playback URL.
    pub playback_urls: HashMap<String, String>,
}

impl Ivs {
    /// The tags of up to [`BATCH_GET_CHANNEL_MAX`] channels in one `BatchGetChannel` call
    /// (a channel-operation quota, 5 TPS, instead of one `ListTagsForResource` call each
    /// from the 10 TPS tag quota).
    pub async fn channels_tags(&self, channels: &[IvsArn]) -> Result<ChannelsTags, Error> {
        let arns: Vec<String> = channels
            .iter()
            .take(BATCH_GET_CHANNEL_MAX)
            .map(|c| c.as_str().to_owned())
            .collect();
        let output = self
            .call("BatchGetChannel", RetryOn::Transient, || {
                self.client
                    .batch_get_channel()
                    .set_arns(Some(arns.clone()))
                    .send()
            })
            .await?;
        let mut read = ChannelsTags::default();
        for channel in output.channels() {
            if let Some(arn) = channel.arn() {
                read.tags
                    .insert(arn.to_owned(), channel.tags().cloned().unwrap_or_default());
                if let Some(url) = channel.playback_url().filter(|u| !u.is_empty()) {
                    read.playback_urls.insert(arn.to_owned(), url.to_owned());
                }
            }
        }
        for error in output.errors() {
            let (Some(arn), Some(code)) = (error.arn(), error.code()) else {
                continue;
            };
            if code == "ResourceNotFoundException" {
                read.not_found.push(arn.to_owned());
            } else {
                read.failed.push((arn.to_owned(), code.to_owned()));
            }
        }
        Ok(read)
    }
}

/// Sorts an SDK failure into an [`IvsErrorKind`], keeping the service's code and message.
/// Dispatch on the error code first (IVS answers both `ResourceNotFoundException` and
/// `ChannelNotBroadcasting` with 404), then on the HTTP status.
pub fn classify<E>(err: &SdkError<E>) -> (IvsErrorKind, Option<String>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_ivs::error::DisplayErrorContext;
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().map(str::to_owned);
            let status = service.raw().status().as_u16();
            let kind = match code.as_deref() {
                Some("ThrottlingException") => IvsErrorKind::Throttled,
                Some("ResourceNotFoundException") => IvsErrorKind::NotFound,
                Some("ChannelNotBroadcasting") => IvsErrorKind::ChannelNotBroadcasting,
                Some("ConflictException") => IvsErrorKind::Conflict,
                Some("ServiceQuotaExceededException") => IvsErrorKind::QuotaExceeded,
                Some("AccessDeniedException" | "PendingVerification") => IvsErrorKind::AccessDenied,
                Some("ValidationException") => IvsErrorKind::Invalid,
                Some("InternalServerException" | "StreamUnavailable") => IvsErrorKind::ServerError,
                _ => match status {
                    429 => IvsErrorKind::Throttled,
                    500..=599 => IvsErrorKind::ServerError,
                    404 => IvsErrorKind::NotFound,
                    409 => IvsErrorKind::Conflict,
                    401 | 403 => IvsErrorKind::AccessDenied,
                    400..=499 => IvsErrorKind::Invalid,
                    _ => IvsErrorKind::Other,
                },
            };
            let message = match (code.as_deref(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_owned(),
                (None, Some(m)) => format!("HTTP {status}: {m}"),
                (None, None) => format!("HTTP {status}"),
            };
            (kind, code, message)
        }
        SdkError::TimeoutError(_) => (IvsErrorKind::Timeout, None, "timed out".to_owned()),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                IvsErrorKind::Timeout
            } else if failure.is_user() {
                IvsErrorKind::Other
            } else {
                IvsErrorKind::Unreachable
            };
            (kind, None, DisplayErrorContext(err).to_string())
        }
        // The response could not be read (cut off, not JSON): the service may be recovering.
        SdkError::ResponseError(_) => (
            IvsErrorKind::ServerError,
            None,
            DisplayErrorContext(err).to_string(),
        ),
        _ => (
            IvsErrorKind::Other,
            None,
            DisplayErrorContext(err).to_string(),
        ),
    }
}
