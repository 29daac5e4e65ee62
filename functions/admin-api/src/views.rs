//! The JSON the admin API answers with, from the IVS SDK's types: camelCase fields as IVS
//! names them. Secrets are explicit: a stream key's value appears only through
//! [`stream_key`] with `with_value = true`, and a channel's SRT passphrase never appears.

use aws_sdk_ivs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ivs::types::{
    BatchError, Channel, ChannelSummary, IngestConfiguration, PlaybackKeyPair,
    PlaybackKeyPairSummary, RecordingConfiguration, RecordingConfigurationSummary, Stream,
    StreamKey, StreamKeySummary, StreamSession, StreamSessionSummary, StreamSummary,
};
use serde_json::{json, Map, Value};

/// Drops `null` fields, so that absent optional members are absent, as in IVS's answers.
fn object(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

pub fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

fn tags(t: Option<&std::collections::HashMap<String, String>>) -> Value {
    json!(t.cloned().unwrap_or_default())
}

pub fn channel(c: &Channel) -> Value {
    object(json!({
        "arn": c.arn(),
        "name": c.name(),
        "latencyMode": c.latency_mode().map(|v| v.as_str()),
        "type": c.r#type().map(|v| v.as_str()),
        "recordingConfigurationArn": c.recording_configuration_arn(),
        "ingestEndpoint": c.ingest_endpoint(),
        "playbackUrl": c.playback_url(),
        "authorized": c.authorized(),
        "insecureIngest": c.insecure_ingest(),
        "preset": c.preset().map(|v| v.as_str()),
        "playbackRestrictionPolicyArn": c.playback_restriction_policy_arn(),
        "srtEndpoint": c.srt().and_then(|s| s.endpoint()),
        "containerFormat": c.container_format().map(|v| v.as_str()),
        "tags": tags(c.tags()),
    }))
}

pub fn channel_summary(c: &ChannelSummary) -> Value {
    object(json!({
        "arn": c.arn(),
        "name": c.name(),
        "latencyMode": c.latency_mode().map(|v| v.as_str()),
        "type": c.r#type().map(|v| v.as_str()),
        "authorized": c.authorized(),
        "recordingConfigurationArn": c.recording_configuration_arn(),
        "insecureIngest": c.insecure_ingest(),
        "preset": c.preset().map(|v| v.as_str()),
        "playbackRestrictionPolicyArn": c.playback_restriction_policy_arn(),
        "tags": tags(c.tags()),
    }))
}

/// A stream key; its value only when `with_value` (create, rotate and get-key answers).
pub fn stream_key(k: &StreamKey, with_value: bool) -> Value {
    object(json!({
        "arn": k.arn(),
        "channelArn": k.channel_arn(),
        "value": if with_value { k.value() } else { None },
        "tags": tags(k.tags()),
    }))
}

pub fn stream_key_summary(k: &StreamKeySummary) -> Value {
    object(json!({
        "arn": k.arn(),
        "channelArn": k.channel_arn(),
        "tags": tags(k.tags()),
    }))
}

pub fn stream(s: &Stream) -> Value {
    object(json!({
        "channelArn": s.channel_arn(),
        "streamId": s.stream_id(),
        "playbackUrl": s.playback_url(),
        "startTime": time(s.start_time()),
        "state": s.state().map(|v| v.as_str()),
        "health": s.health().map(|v| v.as_str()),
        "viewerCount": s.viewer_count(),
    }))
}

pub fn stream_summary(s: &StreamSummary) -> Value {
    object(json!({
        "channelArn": s.channel_arn(),
        "streamId": s.stream_id(),
        "state": s.state().map(|v| v.as_str()),
        "health": s.health().map(|v| v.as_str()),
        "viewerCount": s.viewer_count(),
        "startTime": time(s.start_time()),
    }))
}

fn ingest(i: &IngestConfiguration) -> Value {
    object(json!({
        "video": i.video().map(|v| object(json!({
            "codec": v.codec(),
            "encoder": v.encoder(),
            "targetBitrate": v.target_bitrate(),
            "targetFramerate": v.target_framerate(),
            "videoHeight": v.video_height(),
            "videoWidth": v.video_width(),
        }))),
        "audio": i.audio().map(|a| object(json!({
            "codec": a.codec(),
            "targetBitrate": a.target_bitrate(),
            "sampleRate": a.sample_rate(),
            "channels": a.channels(),
        }))),
    }))
}

pub fn stream_session(s: &StreamSession) -> Value {
    object(json!({
        "streamId": s.stream_id(),
        "startTime": time(s.start_time()),
        "endTime": time(s.end_time()),
        "channel": s.channel().map(channel),
        "ingestConfiguration": s.ingest_configuration().map(ingest),
        "recordingConfiguration": s.recording_configuration().map(recording_configuration),
        "truncatedEvents": s.truncated_events().iter().map(|e| object(json!({
            "name": e.name(),
            "type": e.r#type(),
            "eventTime": time(e.event_time()),
            "code": e.code(),
        }))).collect::<Vec<_>>(),
    }))
}

pub fn stream_session_summary(s: &StreamSessionSummary) -> Value {
    object(json!({
        "streamId": s.stream_id(),
        "startTime": time(s.start_time()),
        "endTime": time(s.end_time()),
        "hasErrorEvent": s.has_error_event(),
    }))
}

pub fn playback_key_pair(k: &PlaybackKeyPair) -> Value {
    object(json!({
        "arn": k.arn(),
        "name": k.name(),
        "fingerprint": k.fingerprint(),
        "tags": tags(k.tags()),
    }))
}

pub fn playback_key_pair_summary(k: &PlaybackKeyPairSummary) -> Value {
    object(json!({
        "arn": k.arn(),
        "name": k.name(),
        "tags": tags(k.tags()),
    }))
}

pub fn recording_configuration(r: &RecordingConfiguration) -> Value {
    object(json!({
        "arn": r.arn(),
        "name": r.name(),
        "destinationConfiguration": destination(r.destination_configuration()),
        "state": r.state().as_str(),
        "recordingReconnectWindowSeconds": r.recording_reconnect_window_seconds(),
        "thumbnailConfiguration": r.thumbnail_configuration().map(|t| object(json!({
            "recordingMode": t.recording_mode().map(|v| v.as_str()),
            "targetIntervalSeconds": t.target_interval_seconds(),
            "resolution": t.resolution().map(|v| v.as_str()),
            "storage": t.storage().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        }))),
        "renditionConfiguration": r.rendition_configuration().map(|c| object(json!({
            "renditionSelection": c.rendition_selection().map(|v| v.as_str()),
            "renditions": c.renditions().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        }))),
        "tags": tags(r.tags()),
    }))
}

pub fn recording_configuration_summary(r: &RecordingConfigurationSummary) -> Value {
    object(json!({
        "arn": r.arn(),
        "name": r.name(),
        "destinationConfiguration": destination(r.destination_configuration()),
        "state": r.state().as_str(),
        "tags": tags(r.tags()),
    }))
}

fn destination(d: Option<&aws_sdk_ivs::types::DestinationConfiguration>) -> Value {
    match d.and_then(|d| d.s3()) {
        Some(s3) => json!({"s3": {"bucketName": s3.bucket_name()}}),
        None => Value::Null,
    }
}

pub fn batch_error(e: &BatchError) -> Value {
    object(json!({"arn": e.arn(), "code": e.code(), "message": e.message()}))
}
