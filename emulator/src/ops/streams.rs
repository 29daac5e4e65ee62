//! Stream operations: GetStream, ListStreams, GetStreamSession, ListStreamSessions, StopStream,
//! PutMetadata.

use std::time::Instant;

use serde::Serialize;

use super::{empty_structure, found, json, list_output, OpResult, Output};
use crate::error::{ErrorKind, IvsError};
use crate::ids::ResourceKind;
use crate::metadata::{RecordedMetadata, MAX_PAYLOAD_BYTES};
use crate::model::{
    IngestConfiguration, IngestConfigurations, StreamSessionSummary, StreamSessionView,
    StreamSummary, StreamView, STREAM_HEALTHS,
};
use crate::pagination;
use crate::state::{format_time, LiveStream, Session, State};
use crate::validate::{self, Input};

/// The channel `arn` and its live stream: ResourceNotFound, or ChannelNotBroadcasting when offline.
fn live<'a>(state: &'a State, arn: &str) -> Result<&'a LiveStream, IvsError> {
    found(state.channels.get(arn), arn)?;
    state
        .live
        .get(arn)
        .ok_or_else(|| IvsError::not_broadcasting(arn))
}

/// The stream sessions of channel `arn`, oldest first: ResourceNotFound when there is no such channel.
fn sessions<'a>(state: &'a State, arn: &str) -> Result<&'a [Session], IvsError> {
    found(state.channels.get(arn), arn)?;
    Ok(state
        .sessions
        .get(arn)
        .map(Vec::as_slice)
        .unwrap_or_default())
}

#[derive(Serialize)]
struct GetStreamResponse<'a> {
    stream: StreamView<'a>,
}

/// GetStream: the live stream of a channel.
pub(super) fn get_stream(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let stream = live(state, &arn)?;
    let playback_url = state
        .channels
        .get(&arn)
        .map(|c| c.playback_url.as_str())
        .unwrap_or_default();
    json(&GetStreamResponse {
        stream: StreamView {
            channel_arn: &arn,
            stream_id: &stream.stream_id,
            playback_url,
            start_time: format_time(stream.started_at),
            state: "LIVE",
            health: stream.health(),
            viewer_count: stream.viewer_count,
        },
    })
}

/// ListStreams: the live streams, optionally filtered by health.
pub(super) fn list_streams(state: &mut State, input: &Input) -> OpResult {
    let health = match input.opt_struct("filterBy")? {
        Some(filter) => filter.opt_enum("health", STREAM_HEALTHS)?,
        None => None,
    };
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let summaries = state
        .live
        .iter()
        .filter(|(_, stream)| health.as_deref().is_none_or(|h| h == stream.health()))
        .map(|(arn, stream)| {
            let summary = StreamSummary {
                channel_arn: arn,
                stream_id: &stream.stream_id,
                state: "LIVE",
                health: stream.health(),
                viewer_count: stream.viewer_count,
                start_time: format_time(stream.started_at),
            };
            (arn.clone(), summary)
        });
    let page = pagination::paginate("ListStreams", summaries, token.as_deref(), page_size)?;
    list_output("streams", page)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetStreamSessionResponse<'a> {
    stream_session: StreamSessionView<'a>,
}

/// GetStreamSession: the given stream's session, or the channel's latest one.
pub(super) fn get_stream_session(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let stream_id = input.opt_str("streamId")?;
    if let Some(stream_id) = stream_id {
        validate::stream_id("streamId", stream_id)?;
    }
    let sessions = sessions(state, &arn)?;
    let session = match stream_id {
        Some(stream_id) => sessions.iter().rev().find(|s| s.stream_id == stream_id),
        None => sessions.last(),
    };
    let Some(session) = session else {
        return Err(IvsError::new(
            ErrorKind::ResourceNotFound,
            match stream_id {
                Some(stream_id) => {
                    format!("Stream session: {stream_id} not found for channel {arn}")
                }
                None => format!("Channel: {arn} has no stream sessions"),
            },
        ));
    };
    let ingest = IngestConfiguration::default();
    let ingest_configurations = IngestConfigurations {
        video_configurations: vec![ingest.video.clone()],
        audio_configurations: vec![ingest.audio.clone()],
    };
    json(&GetStreamSessionResponse {
        stream_session: StreamSessionView {
            stream_id: &session.stream_id,
            start_time: &session.start_time,
            end_time: session.end_time.as_deref(),
            channel: &session.channel,
            ingest_configuration: ingest,
            ingest_configurations,
            recording_configuration: session.recording_configuration.as_ref(),
            truncated_events: session.events.iter().rev().collect(),
        },
    })
}

/// ListStreamSessions: the channel's sessions, newest first.
pub(super) fn list_stream_sessions(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let sessions = sessions(state, &arn)?;
    // Sort key: newest first in ascending key order.
    let summaries = sessions.iter().rev().map(|session| {
        let key = format!("{:020}", u64::MAX - session.seq);
        let summary = StreamSessionSummary {
            stream_id: &session.stream_id,
            start_time: &session.start_time,
            end_time: session.end_time.as_deref(),
            has_error_event: session.has_error_event,
        };
        (key, summary)
    });
    let page = pagination::paginate("ListStreamSessions", summaries, token.as_deref(), page_size)?;
    list_output("streamSessions", page)
}

/// StopStream: ends the live stream as a disconnect does.
pub(super) fn stop_stream(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    live(state, &arn)?;
    state
        .end_stream(&arn)
        .map_err(|err| IvsError::internal(format!("could not stop the stream: {err}")))?;
    empty_structure()
}

/// PutMetadata: at most 1 KB, at most `metadata_rate_limit` per second per channel (the limit of
/// 155 per second per account is an API rate quota, enforced before the operation runs: see
/// `crate::rate`); every accepted payload is recorded.
pub(super) fn put_metadata(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("channelArn", ResourceKind::Channel)?;
    let payload = input.req_str("metadata")?;
    if payload.is_empty() {
        return Err(validate::constraint(
            "metadata",
            "Member must have length greater than or equal to 1",
        ));
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(IvsError::validation(format!(
            "The metadata payload is {} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes",
            payload.len()
        )));
    }
    let stream_id = live(state, &arn)?.stream_id.clone();
    if let Some(limit) = state.metadata_rate_limit {
        let now = Instant::now();
        let window = state.metadata_windows.entry(arn.clone()).or_default();
        if !window.try_acquire(now, limit) {
            return Err(IvsError::new(
                ErrorKind::Throttling,
                format!("Channel: {arn} exceeded {limit} PutMetadata requests per second"),
            ));
        }
    }
    let at = state.now();
    state.metadata.push(RecordedMetadata {
        at,
        channel_arn: arn,
        stream_id,
        payload: payload.to_owned(),
    });
    Ok(Output::Empty)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;
    use crate::state::State;

    fn live_channel(st: &mut State) -> (Value, String) {
        let created = call(st, Operation::CreateChannel, json!({"name": "demo"})).unwrap();
        let key = created["streamKey"]["value"].as_str().unwrap().to_owned();
        let connected = st.connect(&key).unwrap();
        (created["channel"]["arn"].clone(), connected.stream_id)
    }

    #[test]
    fn offline_channels_are_not_broadcasting() {
        let mut st = state();
        let created = call(&mut st, Operation::CreateChannel, json!({})).unwrap();
        let arn = created["channel"]["arn"].clone();
        for op in [Operation::GetStream, Operation::StopStream] {
            assert_eq!(
                error_kind(&mut st, op, json!({"channelArn": arn})),
                ErrorKind::ChannelNotBroadcasting
            );
        }
        let put = json!({"channelArn": arn, "metadata": "x"});
        assert_eq!(
            error_kind(&mut st, Operation::PutMetadata, put),
            ErrorKind::ChannelNotBroadcasting
        );
        let missing = json!({"channelArn": "arn:aws:ivs:us-west-2:111122223333:channel/nope"});
        assert_eq!(
            error_kind(&mut st, Operation::GetStream, missing),
            ErrorKind::ResourceNotFound
        );
        assert_eq!(
            error_kind(
                &mut st,
                Operation::GetStreamSession,
                json!({"channelArn": arn})
            ),
            ErrorKind::ResourceNotFound
        );
    }

    #[test]
    fn live_stream_is_reported_everywhere() {
        let mut st = state();
        let (arn, stream_id) = live_channel(&mut st);
        let stream = call(&mut st, Operation::GetStream, json!({"channelArn": arn})).unwrap();
        assert_eq!(stream["stream"]["streamId"], stream_id.as_str());
        assert_eq!(stream["stream"]["state"], "LIVE");
        assert_eq!(stream["stream"]["health"], "HEALTHY");
        st.starve(arn.as_str().unwrap()).unwrap();
        let streams_with = |st: &mut State, health: &str| {
            let filter = json!({"filterBy": {"health": health}});
            let listed = call(st, Operation::ListStreams, filter).unwrap();
            listed["streams"].as_array().unwrap().len()
        };
        assert_eq!(streams_with(&mut st, "STARVING"), 1);
        assert_eq!(streams_with(&mut st, "HEALTHY"), 0);
        let session = call(
            &mut st,
            Operation::GetStreamSession,
            json!({"channelArn": arn}),
        )
        .unwrap();
        let session = &session["streamSession"];
        assert_eq!(session["streamId"], stream_id.as_str());
        assert!(session.get("endTime").is_none());
        assert_eq!(session["channel"]["name"], "demo");
        let names: Vec<_> = session["truncatedEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].clone())
            .collect();
        assert_eq!(
            names,
            vec![
                json!("Starvation Start"),
                json!("Stream Start"),
                json!("Session Created")
            ]
        );
    }

    #[test]
    fn stop_stream_ends_the_session() {
        let mut st = state();
        let (arn, stream_id) = live_channel(&mut st);
        let out = call(&mut st, Operation::StopStream, json!({"channelArn": arn})).unwrap();
        assert_eq!(out, json!({}));
        let sessions = call(
            &mut st,
            Operation::ListStreamSessions,
            json!({"channelArn": arn}),
        )
        .unwrap();
        let first = &sessions["streamSessions"][0];
        assert_eq!(first["streamId"], stream_id.as_str());
        assert!(first["endTime"].is_string());
        assert_eq!(first["hasErrorEvent"], false);
        let names: Vec<_> = st.events.iter().map(|e| e.name().to_owned()).collect();
        assert_eq!(
            names,
            [
                "Session Created",
                "Stream Start",
                "Stream End",
                "Session Ended"
            ]
        );
    }

    #[test]
    fn sessions_list_newest_first_across_pages() {
        let mut st = state();
        let (arn, first) = live_channel(&mut st);
        let channel = arn.as_str().unwrap().to_owned();
        st.end_stream(&channel).unwrap();
        let key = st.stream_keys.values().next().unwrap().value.clone();
        let second = st.connect(&key).unwrap().stream_id;
        let page1 = call(
            &mut st,
            Operation::ListStreamSessions,
            json!({"channelArn": arn, "maxResults": 1}),
        )
        .unwrap();
        assert_eq!(page1["streamSessions"][0]["streamId"], second.as_str());
        let token = page1["nextToken"].clone();
        let body = json!({"channelArn": arn, "maxResults": 1, "nextToken": token});
        let page2 = call(&mut st, Operation::ListStreamSessions, body).unwrap();
        assert_eq!(page2["streamSessions"][0]["streamId"], first.as_str());
        assert!(page2.get("nextToken").is_none());
        let by_id = call(
            &mut st,
            Operation::GetStreamSession,
            json!({"channelArn": arn, "streamId": first}),
        )
        .unwrap();
        assert!(by_id["streamSession"]["endTime"].is_string());
    }

    #[test]
    fn metadata_size_and_rate_limits() {
        let mut st = state();
        let (arn, stream_id) = live_channel(&mut st);
        let put = |st: &mut State, payload: String| {
            call(
                st,
                Operation::PutMetadata,
                json!({"channelArn": arn, "metadata": payload}),
            )
        };
        assert_eq!(
            put(&mut st, "é".repeat(512)).unwrap(),
            Value::Null,
            "1024 bytes fit"
        );
        assert_eq!(
            put(&mut st, format!("{}x", "é".repeat(512)))
                .unwrap_err()
                .kind,
            ErrorKind::Validation
        );
        assert_eq!(
            put(&mut st, String::new()).unwrap_err().kind,
            ErrorKind::Validation
        );
        for i in 0..4 {
            put(&mut st, format!("m{i}")).unwrap();
        }
        assert_eq!(
            put(&mut st, "sixth".to_owned()).unwrap_err().kind,
            ErrorKind::Throttling
        );
        assert_eq!(st.metadata.len(), 5);
        assert!(st.metadata.iter().all(|m| m.stream_id == stream_id));
        st.metadata_rate_limit = None;
        put(&mut st, "unlimited".to_owned()).unwrap();
        assert_eq!(st.metadata.len(), 6);
    }
}
