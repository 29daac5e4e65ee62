//! The event functions' handler: read the event, find the channel's policy, decide, execute.
//!
//! Outcomes:
//! - `Ok` for everything that is final: actions applied, nothing to do, an unknown event or
//!   value (logged and acknowledged, so a new AWS event never causes a retry storm);
//! - `Err` with a retryable [`Error`] when IVS failed transiently (throttling past the retries,
//!   5xx, timeouts): Lambda retries the event, then the dead-letter queue keeps it;
//! - `Err` with a permanent [`Error`] when the event cannot be read or acted upon (a malformed
//!   channel ARN, a detail of the wrong shape) or IVS refused for good: after Lambda's retries
//!   the event lands in the dead-letter queue, where an operator sees it. Nothing is dropped.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, field, info_span, warn, Instrument, Span};

use crate::error::Error;
use crate::execute::{execute, ActionReport};
use crate::ivs::{aws_from_env, env_var, warm_up_wanted, with_deadline, Ivs};
use crate::policy_cache::PolicyCache;
use domain::events::{DetailType, IvsEvent};
use domain::policy::{decide, Settings};

/// Detail-types handled by the `stream-events` function.
pub const STREAM_EVENTS: &[DetailType] = &[
    DetailType::StreamStateChange,
    DetailType::StreamHealthChange,
    DetailType::LimitBreach,
];

/// Detail-types handled by the `recording-events` function.
pub const RECORDING_EVENTS: &[DetailType] = &[DetailType::RecordingStateChange];

/// What the handler did with one event (the function's response).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerOutput {
    pub event_id: String,
    pub detail_type: String,
    pub name: String,
    pub actions: Vec<ActionReport>,
}

/// The automation as one event function runs it: IVS helpers, cached channel policies and
/// the detail-types this function is deployed for.
#[derive(Debug)]
pub struct Automation {
    ivs: Ivs,
    policies: PolicyCache,
    accepts: &'static [DetailType],
}

impl Automation {
    pub fn new(ivs: Ivs, settings: Settings, accepts: &'static [DetailType]) -> Self {
        Automation {
            ivs,
            policies: PolicyCache::new(settings),
            accepts,
        }
    }

    /// Builds everything from the environment, once per container.
    pub async fn from_env(accepts: &'static [DetailType]) -> Result<Self, Error> {
        let settings = Settings::from_lookup(env_var)?;
        let aws = aws_from_env().await?;
        if warm_up_wanted()? {
            // The TLS session to IVS is opened now, at full speed (crate::https).
            let endpoint = aws.ivs_endpoint().await;
            aws.warm_up(endpoint.as_slice()).await;
        }
        let ivs = Ivs::new(aws_sdk_ivs::Client::new(&aws.config));
        Ok(Self::new(ivs, settings, accepts))
    }

    /// The Lambda entry point. The future is boxed: the SDK's futures nest deeply, and a
    /// `main` that holds them unboxed overflows the compiler's layout query depth.
    pub fn handle(
        &self,
        event: LambdaEvent<Value>,
    ) -> Pin<Box<dyn Future<Output = Result<HandlerOutput, Error>> + Send + '_>> {
        let deadline = invocation_deadline(event.context.deadline);
        let work = self.handle_value(event.payload);
        Box::pin(async move {
            match deadline {
                Some(deadline) => with_deadline(deadline, work).await,
                None => work.await,
            }
        })
    }

    /// Handles one raw EventBridge event.
    pub async fn handle_value(&self, payload: Value) -> Result<HandlerOutput, Error> {
        let event = IvsEvent::from_value(payload).map_err(|e| {
            error!(error = %e, "event rejected: it cannot be read");
            Error::from(e)
        })?;
        let span = info_span!(
            "ivs_event",
            event_id = event.id(),
            detail_type = %event.detail_type(),
            event_name = event.name(),
            channel_arn = field::Empty,
            stream_id = event.stream_id(),
        );
        self.handle_event(&event, &span)
            .instrument(span.clone())
            .await
    }

    async fn handle_event(&self, event: &IvsEvent, span: &Span) -> Result<HandlerOutput, Error> {
        let mut output = HandlerOutput {
            event_id: event.id().to_owned(),
            detail_type: event.detail_type().to_string(),
            name: event.name().to_owned(),
            actions: Vec::new(),
        };
        if let IvsEvent::Unknown(_) = event {
            // Whatever its resources name (a stage, a bucket…), it is only logged.
            let actions = decide(event, None, self.policies.defaults());
            output.actions = execute(&self.ivs, &actions).await?;
            return Ok(output);
        }
        if !self.accepts.contains(&event.detail_type()) {
            warn!("event of a detail-type this function is not deployed for: acknowledged without action");
            return Ok(output);
        }
        let channel = event.channel_arn().map_err(|e| {
            error!(error = %e, "event rejected: its channel ARN is malformed");
            Error::from(e)
        })?;
        let policy = match &channel {
            Some(channel) => {
                span.record("channel_arn", channel.as_str());
                self.policies.policy(&self.ivs, channel).await?
            }
            None => self.policies.defaults().clone(),
        };
        let actions = decide(event, channel.as_ref(), &policy);
        output.actions = execute(&self.ivs, &actions).await?;
        Ok(output)
    }
}

/// The invocation's deadline (Unix milliseconds, as the Runtime API gives it) as an
/// `Instant`; `None` when unset (0).
pub fn invocation_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}
