//! Errors: the IVS wire errors (what a client of the IVS API sees) and the control API's errors.

use axum::http::StatusCode;

/// An error type of the IVS API, with the HTTP status the service model gives it.
///
/// The first group are the exceptions of the IVS service model; the second group are the answers
/// of AWS's front end (authentication, unknown operations), which are not in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// `ValidationException` (400).
    Validation,
    /// `ServiceQuotaExceededException` (402).
    ServiceQuotaExceeded,
    /// `AccessDeniedException` (403).
    AccessDenied,
    /// `PendingVerification` (403).
    PendingVerification,
    /// `ResourceNotFoundException` (404).
    ResourceNotFound,
    /// `ChannelNotBroadcasting` (404).
    ChannelNotBroadcasting,
    /// `ConflictException` (409).
    Conflict,
    /// `ThrottlingException` (429).
    Throttling,
    /// `InternalServerException` (500).
    InternalServer,
    /// `StreamUnavailable` (503).
    StreamUnavailable,
    /// `ServiceUnavailable` (503).
    ServiceUnavailable,
    /// `MissingAuthenticationTokenException` (403): no `Authorization` header.
    MissingAuthenticationToken,
    /// `IncompleteSignatureException` (403): a malformed SigV4 `Authorization` header.
    IncompleteSignature,
    /// `InvalidSignatureException` (403): a well-formed signature scoped to the wrong region or service.
    InvalidSignature,
    /// `UnknownOperationException` (404): no IVS operation at this path.
    UnknownOperation,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::Validation,
        ErrorKind::ServiceQuotaExceeded,
        ErrorKind::AccessDenied,
        ErrorKind::PendingVerification,
        ErrorKind::ResourceNotFound,
        ErrorKind::ChannelNotBroadcasting,
        ErrorKind::Conflict,
        ErrorKind::Throttling,
        ErrorKind::InternalServer,
        ErrorKind::StreamUnavailable,
        ErrorKind::ServiceUnavailable,
        ErrorKind::MissingAuthenticationToken,
        ErrorKind::IncompleteSignature,
        ErrorKind::InvalidSignature,
        ErrorKind::UnknownOperation,
    ];

    /// The error type as it goes in the `X-Amzn-Errortype` header.
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::PendingVerification => "PendingVerification",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ChannelNotBroadcasting => "ChannelNotBroadcasting",
            ErrorKind::Conflict => "ConflictException",
            ErrorKind::Throttling => "ThrottlingException",
            ErrorKind::InternalServer => "InternalServerException",
            ErrorKind::StreamUnavailable => "StreamUnavailable",
            ErrorKind::ServiceUnavailable => "ServiceUnavailable",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
        }
    }

    /// The kind whose [`type_name`](Self::type_name) is `name`.
    pub fn from_type_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.type_name() == name)
    }

    /// The HTTP status of this error.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Validation => StatusCode::BAD_REQUEST,
            ErrorKind::ServiceQuotaExceeded => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::AccessDenied
            | ErrorKind::PendingVerification
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::IncompleteSignature
            | ErrorKind::InvalidSignature => StatusCode::FORBIDDEN,
            ErrorKind::ResourceNotFound
            | ErrorKind::ChannelNotBroadcasting
            | ErrorKind::UnknownOperation => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Throttling => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::StreamUnavailable | ErrorKind::ServiceUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// Whether AWS's front end answers this error (body `{"message": ...}`) rather than IVS itself
    /// (body `{"exceptionMessage": ...}`).
    pub fn is_front_end(self) -> bool {
        matches!(
            self,
            ErrorKind::MissingAuthenticationToken
                | ErrorKind::IncompleteSignature
                | ErrorKind::InvalidSignature
                | ErrorKind::UnknownOperation
        )
    }
}

/// An error answer of the IVS API: a type and a human-readable message.
///
/// Messages never contain stream key values or metadata payloads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.type_name())]
pub struct IvsError {
    /// The error type.
    pub kind: ErrorKind,
    /// The message (`exceptionMessage` in the body).
    pub message: String,
}

impl IvsError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// A `ResourceNotFoundException` naming the missing resource.
    pub fn not_found(arn: &str) -> Self {
        Self::new(
            ErrorKind::ResourceNotFound,
            format!("Resource: {arn} not found"),
        )
    }

    /// A `ConflictException`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A `ChannelNotBroadcasting` for `channel_arn`.
    pub fn not_broadcasting(channel_arn: &str) -> Self {
        Self::new(
            ErrorKind::ChannelNotBroadcasting,
            format!("Channel: {channel_arn} is not currently online"),
        )
    }

    /// A `ServiceQuotaExceededException`.
    pub fn quota(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ServiceQuotaExceeded, message)
    }

    /// An `InternalServerException`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InternalServer, message)
    }
}

/// An error of the control API (`/_emulator/...`) or of the matching [`Emulator`](crate::Emulator)
/// methods. Messages never contain stream key values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The request is malformed or names something that cannot be.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No channel accepts this stream key (unknown or deleted), as an ingest server refuses it.
    #[error("stream key refused: it belongs to no channel")]
    StreamKeyRefused,
    /// No channel has this ARN.
    #[error("channel not found: {0}")]
    ChannelNotFound(String),
    /// The channel is already live.
    #[error("channel is already live: {0}")]
    ChannelLive(String),
    /// The channel is not live.
    #[error("channel is not live: {0}")]
    ChannelNotLive(String),
    /// The live stream is already starving.
    #[error("the stream of channel {0} is already starving")]
    AlreadyStarving(String),
    /// The live stream is not starving.
    #[error("the stream of channel {0} is not starving")]
    NotStarving(String),
}

impl ControlError {
    /// The HTTP status the control API answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ControlError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::StreamKeyRefused => StatusCode::FORBIDDEN,
            ControlError::ChannelNotFound(_) => StatusCode::NOT_FOUND,
            ControlError::ChannelLive(_)
            | ControlError::ChannelNotLive(_)
            | ControlError::AlreadyStarving(_)
            | ControlError::NotStarving(_) => StatusCode::CONFLICT,
        }
    }

    /// A stable machine-readable code (`error` in the control API's error body).
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::InvalidRequest(_) => "InvalidRequest",
            ControlError::StreamKeyRefused => "StreamKeyRefused",
            ControlError::ChannelNotFound(_) => "ChannelNotFound",
            ControlError::ChannelLive(_) => "ChannelLive",
            ControlError::ChannelNotLive(_) => "ChannelNotLive",
            ControlError::AlreadyStarving(_) => "AlreadyStarving",
            ControlError::NotStarving(_) => "NotStarving",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_model() {
        assert_eq!(ErrorKind::Validation.status(), 400);
        assert_eq!(ErrorKind::ServiceQuotaExceeded.status(), 402);
        assert_eq!(ErrorKind::PendingVerification.status(), 403);
        assert_eq!(ErrorKind::ChannelNotBroadcasting.status(), 404);
        assert_eq!(ErrorKind::Conflict.status(), 409);
        assert_eq!(ErrorKind::Throttling.status(), 429);
        assert_eq!(ErrorKind::InternalServer.status(), 500);
        assert_eq!(ErrorKind::StreamUnavailable.status(), 503);
    }

    #[test]
    fn type_names_round_trip() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_type_name(kind.type_name()), Some(kind));
        }
        assert_eq!(ErrorKind::from_type_name("NoSuchError"), None);
    }
}
