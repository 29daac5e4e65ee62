//! The crate's one error type, and how it maps to a Lambda failure.
//!
//! A function returns `Err` only for what deserves a retry or a dead letter: a retryable
//! failure (throttling that outlived its retries, a 5xx, a timeout) so that Lambda retries the
//! event and, after that, the dead-letter queue keeps it; or a permanent one (an event that
//! cannot be acted upon, a denied call) so that the event lands in the dead-letter queue
//! instead of vanishing. Final outcomes (a channel already offline, an unknown event) are
//! successes with a log line, not errors.
//!
//! No message built here ever contains a secret: IVS error messages name resources, never
//! stream key values, and this crate never formats a key value into an error.

use std::fmt;

use lambda_runtime::Diagnostic;

use domain::arn::ArnError;
use domain::config::ConfigError;
use domain::events::EventError;
use domain::metadata::MetadataError;

/// What kind of failure an IVS call ended in, after any retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvsErrorKind {
    /// `ThrottlingException` or HTTP 429.
    Throttled,
    /// A 5xx answer (`InternalServerException`, `StreamUnavailable`, …).
    ServerError,
    /// No answer in time.
    Timeout,
    /// IVS could not be reached (connection refused or reset, DNS, TLS).
    Unreachable,
    /// `ResourceNotFoundException`.
    NotFound,
    /// `ChannelNotBroadcasting`.
    ChannelNotBroadcasting,
    /// `ConflictException`.
    Conflict,
    /// `ServiceQuotaExceededException`.
    QuotaExceeded,
    /// `AccessDeniedException` or `PendingVerification`.
    AccessDenied,
    /// `ValidationException` or another 4xx.
    Invalid,
    /// An answer the client could not read, or anything else.
    Other,
}

impl IvsErrorKind {
    /// Whether trying again later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            IvsErrorKind::Throttled
                | IvsErrorKind::ServerError
                | IvsErrorKind::Timeout
                | IvsErrorKind::Unreachable
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IvsErrorKind::Throttled => "Throttled",
            IvsErrorKind::ServerError => "ServerError",
            IvsErrorKind::Timeout => "Timeout",
            IvsErrorKind::Unreachable => "Unreachable",
            IvsErrorKind::NotFound => "NotFound",
            IvsErrorKind::ChannelNotBroadcasting => "ChannelNotBroadcasting",
            IvsErrorKind::Conflict => "Conflict",
            IvsErrorKind::QuotaExceeded => "QuotaExceeded",
            IvsErrorKind::AccessDenied => "AccessDenied",
            IvsErrorKind::Invalid => "Invalid",
            IvsErrorKind::Other => "Other",
        }
    }
}

impl fmt::Display for IvsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An IVS call failed for good (after the retries its kind allows).
    #[error("IVS {operation} failed ({kind}) after {attempts} attempt(s): {message}")]
    Ivs {
        operation: &'static str,
        kind: IvsErrorKind,
        /// The IVS error code, when the service sent one.
        code: Option<String>,
        message: String,
        attempts: u32,
    },
    /// The event cannot be read or acted upon; retrying will not help.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A timed-metadata payload was refused before any call.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// Deployment configuration (environment variables) is wrong.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Lifecycle events EventBridge did not take (the actions were applied); retryable.
    #[error("{events} lifecycle event(s) not published: {reason}")]
    Publish { events: usize, reason: String },
}

impl Error {
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Ivs { kind, .. } => kind.is_retryable(),
            Error::Publish { .. } => true,
            Error::InvalidEvent(_) | Error::Metadata(_) | Error::Config(_) => false,
        }
    }

    /// The IVS error kind, when this is an IVS failure.
    pub fn ivs_kind(&self) -> Option<IvsErrorKind> {
        match self {
            Error::Ivs { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// A stable name for dashboards and the Lambda `errorType`: `Retryable.<Kind>` or
    /// `Permanent.<Kind>`.
    pub fn error_type(&self) -> String {
        let class = if self.is_retryable() {
            "Retryable"
        } else {
            "Permanent"
        };
        let kind = match self {
            Error::Ivs { kind, .. } => kind.as_str(),
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::Metadata(_) => "InvalidMetadata",
            Error::Config(_) => "Configuration",
            Error::Publish { .. } => "LifecycleNotPublished",
        };
        format!("{class}.{kind}")
    }
}

impl From<EventError> for Error {
    fn from(e: EventError) -> Self {
        Error::InvalidEvent(e.to_string())
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e.0)
    }
}

impl From<ArnError> for Error {
    fn from(e: ArnError) -> Self {
        Error::InvalidEvent(e.to_string())
    }
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs(kind: IvsErrorKind) -> Error {
        Error::Ivs {
            operation: "PutMetadata",
            kind,
            code: None,
            message: "m".into(),
            attempts: 1,
        }
    }

    #[test]
    fn diagnostics_say_whether_a_retry_can_help() {
        for (kind, retryable) in [
            (IvsErrorKind::Throttled, true),
            (IvsErrorKind::ServerError, true),
            (IvsErrorKind::Timeout, true),
            (IvsErrorKind::Unreachable, true),
            (IvsErrorKind::NotFound, false),
            (IvsErrorKind::AccessDenied, false),
            (IvsErrorKind::Invalid, false),
        ] {
            let d = Diagnostic::from(ivs(kind));
            let prefix = if retryable {
                "Retryable."
            } else {
                "Permanent."
            };
            assert_eq!(d.error_type, format!("{prefix}{kind}"));
            assert!(d.error_message.contains("PutMetadata"));
        }
        let d = Diagnostic::from(Error::InvalidEvent("no channel".into()));
        assert_eq!(d.error_type, "Permanent.InvalidEvent");
    }
}
