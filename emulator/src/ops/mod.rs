//! The IVS operations: their names, success statuses and modelled errors, and the dispatch of a
//! parsed request to the function that implements it (one module per resource).

mod ads;
pub(crate) mod channels;
mod playback_keys;
mod recording;
mod restriction_policies;
mod revocation;
mod stream_keys;
mod streams;
mod tags;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use crate::error::{ErrorKind, IvsError};
use crate::pagination::Page;
use crate::state::State;
use crate::validate::Input;

/// The result of an operation: a JSON body, or no body (204).
#[derive(Debug)]
pub(crate) enum Output {
    Json(Value),
    Empty,
}

pub(crate) type OpResult = Result<Output, IvsError>;

/// The BatchGet* pattern: 1-50 ARNs of `kind` (each validated), looked up once each; the
/// ones found, and a `ResourceNotFoundException` entry for each one not found.
pub(crate) fn batch_lookup<T>(
    input: &Input,
    kind: crate::ids::ResourceKind,
    mut find: impl FnMut(&str) -> Option<T>,
) -> Result<(Vec<T>, Vec<crate::model::BatchError>), IvsError> {
    let arns = input.req_str_list("arns", 1, 50)?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    for (index, arn) in arns.iter().enumerate() {
        crate::validate::arn(&format!("arns.{}", index + 1), arn, kind)?;
        if seen.contains(&arn) {
            continue;
        }
        seen.push(arn);
        match find(arn) {
            Some(item) => found.push(item),
            None => errors.push(crate::model::BatchError {
                arn: arn.clone(),
                code: "ResourceNotFoundException".to_owned(),
                message: format!("Resource: {arn} not found"),
            }),
        }
    }
    Ok((found, errors))
}

/// The resource a lookup by `arn` found, or `ResourceNotFoundException`.
pub(crate) fn found<T>(resource: Option<T>, arn: &str) -> Result<T, IvsError> {
    resource.ok_or_else(|| IvsError::not_found(arn))
}

/// Refuses to create one more `what` (plural) when the account already has `quota` of them.
pub(crate) fn check_quota(count: usize, quota: usize, what: &str) -> Result<(), IvsError> {
    if count >= quota {
        return Err(IvsError::quota(format!(
            "Exceeded the quota of {quota} {what} per account and region"
        )));
    }
    Ok(())
}

/// An Update* member: `member` takes the `given` value; absent, it stays as it is.
pub(crate) fn set<T>(member: &mut T, given: Option<T>) {
    if let Some(value) = given {
        *member = value;
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, IvsError> {
    serde_json::to_value(value)
        .map_err(|err| IvsError::internal(format!("could not serialize the response: {err}")))
}

/// Serializes an output shape.
pub(crate) fn json<T: Serialize>(value: &T) -> OpResult {
    to_value(value).map(Output::Json)
}

/// The output of a List* operation: the page's items under `member`, and `nextToken` when more
/// pages follow.
pub(crate) fn list_output<T: Serialize>(member: &str, page: Page<T>) -> OpResult {
    let mut output = serde_json::Map::new();
    output.insert(member.to_owned(), to_value(&page.items)?);
    if let Some(token) = page.next_token {
        output.insert("nextToken".to_owned(), Value::String(token));
    }
    Ok(Output::Json(Value::Object(output)))
}

/// An empty structure (`{}`), the output of operations with no output members.
pub(crate) fn empty_structure() -> OpResult {
    Ok(Output::Json(Value::Object(serde_json::Map::new())))
}

macro_rules! operations {
    ($($name:ident),+ $(,)?) => {
        /// An IVS operation the emulator implements.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )+
        }

        impl Operation {
            /// Every implemented operation, alphabetically.
            pub const ALL: &'static [Operation] = &[$(Operation::$name),+];

            /// The operation's name (`POST /<name>`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$name => stringify!($name),)+
                }
            }
        }
    };
}

operations!(
    BatchGetChannel,
    BatchGetStreamKey,
    BatchStartViewerSessionRevocation,
    CreateAdConfiguration,
    CreateChannel,
    CreatePlaybackRestrictionPolicy,
    CreateRecordingConfiguration,
    CreateStreamKey,
    DeleteAdConfiguration,
    DeleteChannel,
    DeletePlaybackKeyPair,
    DeletePlaybackRestrictionPolicy,
    DeleteRecordingConfiguration,
    DeleteStreamKey,
    GetAdConfiguration,
    GetChannel,
    GetPlaybackKeyPair,
    GetPlaybackRestrictionPolicy,
    GetRecordingConfiguration,
    GetStream,
    GetStreamKey,
    GetStreamSession,
    ImportPlaybackKeyPair,
    ListAdConfigurations,
    ListChannels,
    ListPlaybackKeyPairs,
    ListPlaybackRestrictionPolicies,
    ListRecordingConfigurations,
    ListStreamKeys,
    ListStreamSessions,
    ListStreams,
    ListTagsForResource,
    PutMetadata,
    StartViewerSessionRevocation,
    StopStream,
    TagResource,
    UntagResource,
    UpdateAdConfiguration,
    UpdateChannel,
    UpdatePlaybackRestrictionPolicy,
);

/// IVS operations of the service model that the emulator does not implement: they answer
/// `UnknownOperationException` with a message saying so.
pub const NOT_EMULATED: &[&str] = &[
    "InsertAdBreak",
    "CreateFailoverSlateConfiguration",
    "DeleteFailoverSlateConfiguration",
    "GetFailoverSlateConfiguration",
    "ListFailoverSlateConfigurations",
    "UpdateFailoverSlateConfiguration",
];

impl Operation {
    /// The operation named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// Whether the operation is one of the tagging operations (`/tags/{resourceArn}`).
    pub fn is_tagging(self) -> bool {
        matches!(
            self,
            Operation::ListTagsForResource | Operation::TagResource | Operation::UntagResource
        )
    }

    /// The status of a successful answer.
    pub fn success_status(self) -> StatusCode {
        match self {
            Operation::DeleteAdConfiguration
            | Operation::DeleteChannel
            | Operation::DeleteStreamKey
            | Operation::DeleteRecordingConfiguration
            | Operation::DeletePlaybackRestrictionPolicy
            | Operation::PutMetadata => StatusCode::NO_CONTENT,
            _ => StatusCode::OK,
        }
    }

    /// The 503 error type of this operation: `StreamUnavailable` where the model has it (StopStream),
    /// else `ServiceUnavailable`.
    pub fn unavailable_error(self) -> ErrorKind {
        if self == Operation::StopStream {
            ErrorKind::StreamUnavailable
        } else {
            ErrorKind::ServiceUnavailable
        }
    }

    /// The errors the service model lists for this operation.
    pub fn modelled_errors(self) -> &'static [ErrorKind] {
        use ErrorKind as K;
        match self {
            Operation::BatchGetChannel => &[K::AccessDenied, K::ServiceUnavailable, K::Validation],
            Operation::BatchGetStreamKey => {
                &[K::AccessDenied, K::ServiceUnavailable, K::Validation]
            }
            Operation::BatchStartViewerSessionRevocation => &[
                K::AccessDenied,
                K::PendingVerification,
                K::Throttling,
                K::Validation,
            ],
            Operation::CreateAdConfiguration | Operation::UpdateAdConfiguration => &[
                K::AccessDenied,
                K::Conflict,
                K::InternalServer,
                K::PendingVerification,
                K::ResourceNotFound,
                K::ServiceQuotaExceeded,
                K::Throttling,
                K::Validation,
            ],
            Operation::DeleteAdConfiguration => &[
                K::AccessDenied,
                K::Conflict,
                K::InternalServer,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::GetAdConfiguration => &[
                K::AccessDenied,
                K::InternalServer,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::ListAdConfigurations => &[K::AccessDenied, K::InternalServer, K::Validation],
            Operation::CreateChannel => &[
                K::AccessDenied,
                K::PendingVerification,
                K::ResourceNotFound,
                K::ServiceQuotaExceeded,
                K::Validation,
            ],
            Operation::CreatePlaybackRestrictionPolicy => &[
                K::AccessDenied,
                K::PendingVerification,
                K::ServiceQuotaExceeded,
                K::Throttling,
                K::Validation,
            ],
            Operation::CreateRecordingConfiguration => &[
                K::AccessDenied,
                K::Conflict,
                K::InternalServer,
                K::PendingVerification,
                K::ServiceQuotaExceeded,
                K::Validation,
            ],
            Operation::CreateStreamKey => &[
                K::AccessDenied,
                K::PendingVerification,
                K::ResourceNotFound,
                K::ServiceQuotaExceeded,
                K::Validation,
            ],
            Operation::DeleteChannel => &[
                K::AccessDenied,
                K::Conflict,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::DeletePlaybackKeyPair => &[
                K::AccessDenied,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::DeletePlaybackRestrictionPolicy => &[
                K::AccessDenied,
                K::Conflict,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::DeleteRecordingConfiguration => &[
                K::AccessDenied,
                K::Conflict,
                K::InternalServer,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::DeleteStreamKey => &[
                K::AccessDenied,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::GetChannel => &[K::AccessDenied, K::ResourceNotFound, K::Validation],
            Operation::GetPlaybackKeyPair => &[K::AccessDenied, K::ResourceNotFound, K::Validation],
            Operation::GetPlaybackRestrictionPolicy => &[
                K::AccessDenied,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::GetRecordingConfiguration => &[
                K::AccessDenied,
                K::InternalServer,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::GetStream => &[
                K::AccessDenied,
                K::ChannelNotBroadcasting,
                K::ResourceNotFound,
                K::Validation,
            ],
            Operation::GetStreamKey => &[K::AccessDenied, K::ResourceNotFound, K::Validation],
            Operation::GetStreamSession => &[K::AccessDenied, K::ResourceNotFound, K::Validation],
            Operation::ImportPlaybackKeyPair => &[
                K::AccessDenied,
                K::Conflict,
                K::PendingVerification,
                K::ServiceQuotaExceeded,
                K::Validation,
            ],
            Operation::ListChannels => &[K::AccessDenied, K::Conflict, K::Validation],
            Operation::ListPlaybackKeyPairs => &[K::AccessDenied, K::Validation],
            Operation::ListPlaybackRestrictionPolicies => &[
                K::AccessDenied,
                K::Conflict,
                K::PendingVerification,
                K::Validation,
            ],
            Operation::ListRecordingConfigurations => {
                &[K::AccessDenied, K::InternalServer, K::Validation]
            }
            Operation::ListStreamKeys => &[K::AccessDenied, K::ResourceNotFound, K::Validation],
            Operation::ListStreamSessions => &[K::AccessDenied, K::ResourceNotFound, K::Validation],
            Operation::ListStreams => &[K::AccessDenied, K::Validation],
            Operation::ListTagsForResource => {
                &[K::InternalServer, K::ResourceNotFound, K::Validation]
            }
            Operation::PutMetadata => &[
                K::AccessDenied,
                K::ChannelNotBroadcasting,
                K::ResourceNotFound,
                K::Throttling,
                K::Validation,
            ],
            Operation::StartViewerSessionRevocation => &[
                K::AccessDenied,
                K::InternalServer,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Throttling,
                K::Validation,
            ],
            Operation::StopStream => &[
                K::AccessDenied,
                K::ChannelNotBroadcasting,
                K::ResourceNotFound,
                K::StreamUnavailable,
                K::Validation,
            ],
            Operation::TagResource => &[K::InternalServer, K::ResourceNotFound, K::Validation],
            Operation::UntagResource => &[K::InternalServer, K::ResourceNotFound, K::Validation],
            Operation::UpdateChannel => &[
                K::AccessDenied,
                K::Conflict,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Throttling,
                K::Validation,
            ],
            Operation::UpdatePlaybackRestrictionPolicy => &[
                K::AccessDenied,
                K::Conflict,
                K::PendingVerification,
                K::ResourceNotFound,
                K::Validation,
            ],
        }
    }

    /// Whether `kind` may be scripted for this operation: a modelled error, or one of the transient
    /// errors any AWS operation can answer (throttling, 500, 503).
    pub fn can_fail_with(self, kind: ErrorKind) -> bool {
        self.modelled_errors().contains(&kind)
            || matches!(kind, ErrorKind::Throttling | ErrorKind::InternalServer)
            || kind == self.unavailable_error()
    }
}

/// Runs `op` on `state` with `input`.
pub(crate) fn dispatch(op: Operation, state: &mut State, input: &Input) -> OpResult {
    match op {
        Operation::BatchGetChannel => channels::batch_get(state, input),
        Operation::CreateChannel => channels::create(state, input),
        Operation::DeleteChannel => channels::delete(state, input),
        Operation::GetChannel => channels::get(state, input),
        Operation::ListChannels => channels::list(state, input),
        Operation::UpdateChannel => channels::update(state, input),
        Operation::BatchGetStreamKey => stream_keys::batch_get(state, input),
        Operation::CreateStreamKey => stream_keys::create(state, input),
        Operation::DeleteStreamKey => stream_keys::delete(state, input),
        Operation::GetStreamKey => stream_keys::get(state, input),
        Operation::ListStreamKeys => stream_keys::list(state, input),
        Operation::GetStream => streams::get_stream(state, input),
        Operation::GetStreamSession => streams::get_stream_session(state, input),
        Operation::ListStreams => streams::list_streams(state, input),
        Operation::ListStreamSessions => streams::list_stream_sessions(state, input),
        Operation::PutMetadata => streams::put_metadata(state, input),
        Operation::StopStream => streams::stop_stream(state, input),
        Operation::DeletePlaybackKeyPair => playback_keys::delete(state, input),
        Operation::GetPlaybackKeyPair => playback_keys::get(state, input),
        Operation::ImportPlaybackKeyPair => playback_keys::import(state, input),
        Operation::ListPlaybackKeyPairs => playback_keys::list(state, input),
        Operation::CreateRecordingConfiguration => recording::create(state, input),
        Operation::DeleteRecordingConfiguration => recording::delete(state, input),
        Operation::GetRecordingConfiguration => recording::get(state, input),
        Operation::ListRecordingConfigurations => recording::list(state, input),
        Operation::CreatePlaybackRestrictionPolicy => restriction_policies::create(state, input),
        Operation::DeletePlaybackRestrictionPolicy => restriction_policies::delete(state, input),
        Operation::GetPlaybackRestrictionPolicy => restriction_policies::get(state, input),
        Operation::ListPlaybackRestrictionPolicies => restriction_policies::list(state, input),
        Operation::UpdatePlaybackRestrictionPolicy => restriction_policies::update(state, input),
        Operation::ListTagsForResource => tags::list(state, input),
        Operation::TagResource => tags::tag(state, input),
        Operation::UntagResource => tags::untag(state, input),
        Operation::StartViewerSessionRevocation => revocation::start(state, input),
        Operation::BatchStartViewerSessionRevocation => revocation::batch_start(state, input),
        Operation::CreateAdConfiguration => ads::create(state, input),
        Operation::DeleteAdConfiguration => ads::delete(state, input),
        Operation::GetAdConfiguration => ads::get(state, input),
        Operation::ListAdConfigurations => ads::list(state, input),
        Operation::UpdateAdConfiguration => ads::update(state, input),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Calling operations directly on a [`State`] in unit tests.

    use super::*;
    use crate::config::Config;

    pub fn state() -> State {
        State::new(&Config {
            seed: 1,
            ..Config::default()
        })
    }

    pub fn call(state: &mut State, op: Operation, body: Value) -> Result<Value, IvsError> {
        let input = Input::from_body(body.to_string().as_bytes())?;
        match dispatch(op, state, &input)? {
            Output::Json(value) => Ok(value),
            Output::Empty => Ok(Value::Null),
        }
    }

    pub fn error_kind(state: &mut State, op: Operation, body: Value) -> ErrorKind {
        match call(state, op, body) {
            Ok(value) => panic!("{} succeeded: {value}", op.name()),
            Err(err) => err.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_statuses_follow_the_model() {
        assert_eq!(Operation::ALL.len(), 40);
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
            assert!(op.modelled_errors().contains(&ErrorKind::Validation) || op.is_tagging());
        }
        assert_eq!(
            Operation::PutMetadata.success_status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            Operation::DeletePlaybackKeyPair.success_status(),
            StatusCode::OK
        );
        assert_eq!(Operation::StopStream.success_status(), StatusCode::OK);
        assert!(Operation::from_name("InsertAdBreak").is_none());
        for name in NOT_EMULATED {
            assert!(Operation::from_name(name).is_none(), "{name}");
        }
        assert_eq!(
            Operation::DeleteAdConfiguration.success_status(),
            StatusCode::NO_CONTENT
        );
        assert!(Operation::CreateChannel.can_fail_with(ErrorKind::PendingVerification));
        assert!(!Operation::GetChannel.can_fail_with(ErrorKind::Conflict));
        assert!(Operation::StopStream.can_fail_with(ErrorKind::StreamUnavailable));
    }
}
