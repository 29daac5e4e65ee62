//! Viewer session revocation: StartViewerSessionRevocation and BatchStartViewerSessionRevocation.
//! Accepted revocations are recorded (see [`Emulator::revocations`](crate::Emulator::revocations)).

use serde::Serialize;

use super::{empty_structure, found, json, OpResult};
use crate::error::IvsError;
use crate::ids::ResourceKind;
use crate::model::RevocationError;
use crate::state::{Revocation, State};
use crate::validate::{self, Input};

fn parse(input: &Input) -> Result<Revocation, IvsError> {
    let channel_arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let viewer_id = input.req_str("viewerId")?;
    validate::length(&input.path_of("viewerId"), viewer_id, 1, 40)?;
    let version = input.opt_int_in(
        "viewerSessionVersionsLessThanOrEqualTo",
        0,
        i64::from(i32::MAX),
    )?;
    Ok(Revocation {
        channel_arn,
        viewer_id: viewer_id.to_owned(),
        viewer_session_versions_less_than_or_equal_to: version.unwrap_or(0),
    })
}

/// StartViewerSessionRevocation.
pub(super) fn start(state: &mut State, input: &Input) -> OpResult {
    let revocation = parse(input)?;
    found(
        state.channels.get(&revocation.channel_arn),
        &revocation.channel_arn,
    )?;
    state.revocations.push(revocation);
    empty_structure()
}

#[derive(Serialize)]
struct BatchResponse {
    errors: Vec<RevocationError>,
}

/// BatchStartViewerSessionRevocation: 1 to 20 sessions; an error entry for each unknown channel.
pub(super) fn batch_start(state: &mut State, input: &Input) -> OpResult {
    let sessions = input
        .req_struct_list("viewerSessions", 1, 20)?
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    let mut errors = Vec::new();
    for revocation in sessions {
        if state.channels.contains_key(&revocation.channel_arn) {
            state.revocations.push(revocation);
        } else {
            errors.push(RevocationError {
                message: format!("Resource: {} not found", revocation.channel_arn),
                channel_arn: revocation.channel_arn,
                viewer_id: revocation.viewer_id,
                code: "ResourceNotFoundException".to_owned(),
            });
        }
    }
    json(&BatchResponse { errors })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    #[test]
    fn revocations_are_recorded_and_unknown_channels_reported() {
        let mut st = state();
        let created = call(
            &mut st,
            Operation::CreateChannel,
            json!({"authorized": true}),
        )
        .unwrap();
        let arn = created["channel"]["arn"].clone();
        let body = json!({"channelArn": arn, "viewerId": "viewer-1", "viewerSessionVersionsLessThanOrEqualTo": 2});
        assert_eq!(
            call(&mut st, Operation::StartViewerSessionRevocation, body).unwrap(),
            json!({})
        );
        let missing = "arn:aws:ivs:us-west-2:111122223333:channel/nope";
        let batch = json!({"viewerSessions": [
            {"channelArn": arn, "viewerId": "viewer-2"},
            {"channelArn": missing, "viewerId": "viewer-3"},
        ]});
        let out = call(&mut st, Operation::BatchStartViewerSessionRevocation, batch).unwrap();
        assert_eq!(out["errors"][0]["channelArn"], missing);
        assert_eq!(out["errors"][0]["viewerId"], "viewer-3");
        assert_eq!(st.revocations.len(), 2);
        let long_viewer = json!({"channelArn": arn, "viewerId": "v".repeat(41)});
        assert_eq!(
            error_kind(
                &mut st,
                Operation::StartViewerSessionRevocation,
                long_viewer
            ),
            ErrorKind::Validation
        );
        assert_eq!(
            error_kind(
                &mut st,
                Operation::BatchStartViewerSessionRevocation,
                json!({"viewerSessions": []})
            ),
            ErrorKind::Validation
        );
    }
}
