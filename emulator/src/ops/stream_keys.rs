//! Stream key operations: CreateStreamKey, GetStreamKey, BatchGetStreamKey, ListStreamKeys,
//! DeleteStreamKey. A channel has at most one stream key.

use serde::Serialize;

use super::{batch_lookup, found, json, list_output, OpResult, Output};
use crate::error::IvsError;
use crate::ids::ResourceKind;
use crate::model::{BatchError, StreamKey, StreamKeyView};
use crate::pagination;
use crate::state::State;
use crate::validate::Input;

/// Stream keys per channel.
const KEYS_PER_CHANNEL: usize = 1;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamKeyResponse<'a> {
    stream_key: StreamKeyView<'a>,
}

/// CreateStreamKey: refused while the channel still has its key.
pub(super) fn create(state: &mut State, input: &Input) -> OpResult {
    let channel_arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let tags = input.opt_tags("tags")?.unwrap_or_default();
    found(state.channels.get(&channel_arn), &channel_arn)?;
    let existing = state
        .stream_keys
        .values()
        .filter(|key| key.channel_arn == channel_arn)
        .count();
    if existing >= KEYS_PER_CHANNEL {
        return Err(IvsError::quota(format!(
            "Channel: {channel_arn} already has {KEYS_PER_CHANNEL} stream key; delete it before creating another"
        )));
    }
    let arn = state.new_arn(ResourceKind::StreamKey);
    let value = state.ids.stream_key_value(&state.region);
    let key = StreamKey {
        arn: arn.clone(),
        value,
        channel_arn: channel_arn.clone(),
        tags,
    };
    tracing::info!(channel_arn = %channel_arn, stream_key_arn = %arn, "stream key created");
    let output = json(&StreamKeyResponse {
        stream_key: key.with_value(),
    });
    state.stream_keys.insert(arn, key);
    output
}

/// GetStreamKey (with the value).
pub(super) fn get(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::StreamKey)?;
    let key = found(state.stream_keys.get(&arn), &arn)?;
    json(&StreamKeyResponse {
        stream_key: key.with_value(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchGetStreamKeyResponse<'a> {
    stream_keys: Vec<StreamKeyView<'a>>,
    errors: Vec<BatchError>,
}

/// BatchGetStreamKey (with the values).
pub(super) fn batch_get(state: &mut State, input: &Input) -> OpResult {
    let (stream_keys, errors) = batch_lookup(input, ResourceKind::StreamKey, |arn| {
        state.stream_keys.get(arn).map(StreamKey::with_value)
    })?;
    json(&BatchGetStreamKeyResponse {
        stream_keys,
        errors,
    })
}

/// ListStreamKeys: summaries (no values); one per page unless `maxResults` says otherwise.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let channel_arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let (token, page_size) = pagination::request(input, 1, 50)?;
    found(state.channels.get(&channel_arn), &channel_arn)?;
    let keys = state
        .stream_keys
        .values()
        .filter(|key| key.channel_arn == channel_arn)
        .map(|key| (key.arn.clone(), key.summary()));
    let page = pagination::paginate("ListStreamKeys", keys, token.as_deref(), page_size)?;
    list_output("streamKeys", page)
}

/// DeleteStreamKey: immediate; a stream already running with the key goes on.
pub(super) fn delete(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::StreamKey)?;
    found(state.stream_keys.remove(&arn), &arn)?;
    tracing::info!(stream_key_arn = %arn, "stream key deleted");
    Ok(Output::Empty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    #[test]
    fn one_key_per_channel_and_rotation() {
        let mut st = state();
        let created = call(&mut st, Operation::CreateChannel, json!({})).unwrap();
        let channel = created["channel"]["arn"].clone();
        let old_key = created["streamKey"]["arn"].clone();
        assert_eq!(
            error_kind(
                &mut st,
                Operation::CreateStreamKey,
                json!({"channelArn": channel})
            ),
            ErrorKind::ServiceQuotaExceeded
        );
        call(&mut st, Operation::DeleteStreamKey, json!({"arn": old_key})).unwrap();
        let new_key = call(
            &mut st,
            Operation::CreateStreamKey,
            json!({"channelArn": channel}),
        )
        .unwrap();
        assert_ne!(new_key["streamKey"]["value"], created["streamKey"]["value"]);
        let listed = call(
            &mut st,
            Operation::ListStreamKeys,
            json!({"channelArn": channel}),
        )
        .unwrap();
        let keys = listed["streamKeys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].get("value").is_none(), "summaries carry no value");
        assert_eq!(
            error_kind(&mut st, Operation::GetStreamKey, json!({"arn": old_key})),
            ErrorKind::ResourceNotFound
        );
    }

    #[test]
    fn batch_get_reports_missing_keys() {
        let mut st = state();
        let created = call(&mut st, Operation::CreateChannel, json!({})).unwrap();
        let key = created["streamKey"]["arn"].clone();
        let missing = "arn:aws:ivs:us-west-2:111122223333:stream-key/missing";
        let out = call(
            &mut st,
            Operation::BatchGetStreamKey,
            json!({"arns": [key, missing]}),
        )
        .unwrap();
        assert_eq!(out["streamKeys"][0]["value"], created["streamKey"]["value"]);
        assert_eq!(out["errors"][0]["arn"], missing);
        assert_eq!(out["errors"][0]["code"], "ResourceNotFoundException");
        assert_eq!(
            error_kind(&mut st, Operation::BatchGetStreamKey, json!({"arns": []})),
            ErrorKind::Validation
        );
        let too_many: Vec<_> = (0..51).map(|_| missing).collect();
        assert_eq!(
            error_kind(
                &mut st,
                Operation::BatchGetStreamKey,
                json!({"arns": too_many})
            ),
            ErrorKind::Validation
        );
    }
}
