//! The admin API's errors: `{"error": {"code", "message"}}` at the right status.
//!
//! - bad input → 400 naming the field; no identity → 401; not allowed → 403;
//! - IVS errors keep their meaning: not found (and channel not broadcasting) → 404, conflict
//!   and quota → 409 with the IVS code, throttling → 429 with `Retry-After`, IVS unavailable →
//!   503 with `Retry-After`; a change made whose lifecycle event EventBridge did not take →
//!   503 `LifecycleEventNotPublished` with `Retry-After` (repeating the request publishes it);
//! - anything unexpected (including IVS refusing the function's own role) → 500 with the
//!   request id and no internals; the details go to the log only.

use serde_json::json;

use crate::ADMIN_MAX_RATE_WAIT;
use ivs_adapter::error::{Error, IvsErrorKind};
use ivs_adapter::ivs::RATE_BUDGET_CODE;

/// An error the API answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Seconds, for `Retry-After`.
    pub retry_after: Option<u32>,
    /// More to tell beside the error (e.g. what a batch delivered before failing), under
    /// `details` in the body.
    pub details: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }

    /// 400: a field of the request is missing or invalid; `field` names it.
    pub fn bad_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(400, "BadRequest", format!("{field}: {problem}"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 500 without internals: the caller gets the request id to quote.
    pub fn internal(request_id: &str) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("the request failed; quote request id {request_id} when reporting it"),
        )
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(details) = &self.details {
            body["details"] = (**details).clone();
        }
        body
    }

    /// Maps a failure of the IVS adapter's helpers to the answer. `None` means "unexpected": the
    /// caller logs it and answers [`ApiError::internal`].
    pub fn from_error(err: &Error) -> Option<ApiError> {
        match err {
            Error::Ivs {
                kind,
                code,
                message,
                ..
            } => {
                let code = code.as_deref();
                let with_code = |status: u16, fallback: &str| {
                    ApiError::new(status, code.unwrap_or(fallback), message.clone())
                };
                match kind {
                    IvsErrorKind::NotFound => Some(with_code(404, "ResourceNotFoundException")),
                    IvsErrorKind::ChannelNotBroadcasting => {
                        Some(with_code(404, "ChannelNotBroadcasting"))
                    }
                    IvsErrorKind::Conflict => Some(with_code(409, "ConflictException")),
                    IvsErrorKind::QuotaExceeded => {
                        Some(with_code(409, "ServiceQuotaExceededException"))
                    }
                    IvsErrorKind::Invalid => Some(with_code(400, "ValidationException")),
                    IvsErrorKind::Throttled if code == Some(RATE_BUDGET_CODE) => Some(ApiError {
                        retry_after: Some(ADMIN_MAX_RATE_WAIT.as_secs() as u32),
                        ..ApiError::new(
                            429,
                            RATE_BUDGET_CODE,
                            "the admin API's share of IVS's rate quota for this operation is in \
                             use (AdminRateShare); retry after the pause given in Retry-After",
                        )
                    }),
                    IvsErrorKind::Throttled => Some(ApiError {
                        retry_after: Some(1),
                        ..ApiError::new(
                            429,
                            "ThrottlingException",
                            "IVS is throttling requests; retry after the pause given in Retry-After",
                        )
                    }),
                    IvsErrorKind::ServerError
                    | IvsErrorKind::Timeout
                    | IvsErrorKind::Unreachable => Some(ApiError {
                        retry_after: Some(2),
                        ..ApiError::new(
                            503,
                            "ServiceUnavailable",
                            "IVS did not answer successfully; retry after the pause given in Retry-After",
                        )
                    }),
                    // The function's own role lacks a permission, or something unknown: not
                    // the caller's fault, and not for the caller to see.
                    IvsErrorKind::AccessDenied | IvsErrorKind::Other => None,
                }
            }
            Error::Metadata(e) => Some(ApiError::bad_field("metadata", e)),
            // The change was made; its lifecycle event was not published. The operations
            // that publish are idempotent: repeating the request publishes it.
            Error::Publish { .. } => Some(ApiError {
                retry_after: Some(2),
                ..ApiError::new(
                    503,
                    "LifecycleEventNotPublished",
                    "the change was made but its lifecycle event could not be published; \
                     repeat the request (it is safe to) after the pause given in Retry-After",
                )
            }),
            Error::InvalidEvent(_) | Error::Config(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs(kind: IvsErrorKind, code: Option<&str>) -> Error {
        Error::Ivs {
            operation: "GetChannel",
            kind,
            code: code.map(str::to_owned),
            message: "details".into(),
            attempts: 1,
        }
    }

    #[test]
    fn ivs_errors_keep_their_meaning() {
        let cases = [
            (
                IvsErrorKind::NotFound,
                Some("ResourceNotFoundException"),
                404,
            ),
            (
                IvsErrorKind::ChannelNotBroadcasting,
                Some("ChannelNotBroadcasting"),
                404,
            ),
            (IvsErrorKind::Conflict, Some("ConflictException"), 409),
            (
                IvsErrorKind::QuotaExceeded,
                Some("ServiceQuotaExceededException"),
                409,
            ),
            (IvsErrorKind::Invalid, Some("ValidationException"), 400),
            (IvsErrorKind::Throttled, Some("ThrottlingException"), 429),
            (IvsErrorKind::Throttled, Some(RATE_BUDGET_CODE), 429),
            (
                IvsErrorKind::ServerError,
                Some("InternalServerException"),
                503,
            ),
            (IvsErrorKind::Timeout, None, 503),
        ];
        for (kind, code, status) in cases {
            let e = ApiError::from_error(&ivs(kind, code)).unwrap();
            assert_eq!(e.status, status, "{kind}");
            if status != 503 {
                assert_eq!(Some(e.code.as_str()), code);
            }
            assert_eq!(e.retry_after.is_some(), status == 429 || status == 503);
        }
        assert_eq!(
            ApiError::from_error(&ivs(IvsErrorKind::AccessDenied, None)),
            None
        );
        let body = ApiError::bad_field("name", "too long").body();
        assert_eq!(body["error"]["code"], "BadRequest");
        assert_eq!(body["error"]["message"], "name: too long");
    }
}
