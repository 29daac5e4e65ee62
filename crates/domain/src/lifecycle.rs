//! Lifecycle events: what the automation tells the platform's apps, on EventBridge.
//!
//! Each fact the automation learns or causes (a channel went live, a recording is ready, a key
//! was rotated…) becomes one [`Lifecycle`] event with source [`LIFECYCLE_SOURCE`], a
//! `detail-type` per [`LifecycleKind`] and a `detail` whose `id` is stable: built from the
//! fact itself (the channel and stream, the recording session, the new key), never from the
//! time of handling, so that the same fact handled twice (IVS's events come at least once, a
//! failed batch is retried) carries the same `id` and consumers can de-duplicate on it.
//!
//! The JSON Schema of each `detail` is `schemas/lifecycle/<kind>.schema.json` in the
//! repository. Nothing here holds a secret: a rotated key is named by its ARN, never its value.
//!
//! Pure: the callers pass every time in (this crate has no clock).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::arn::IvsArn;
use crate::events::{IvsEvent, RecordingStatus, StreamEventName};

/// The `source` of every lifecycle event.
pub const LIFECYCLE_SOURCE: &str = "ivs-automation";

/// The kinds of lifecycle events, one `detail-type` each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleKind {
    ChannelLive,
    ChannelOffline,
    RecordingReady,
    StreamKeyRotated,
    ChannelSuspended,
    ChannelResumed,
    StreamStopped,
    SweeperRepair,
}

impl LifecycleKind {
    pub const ALL: [LifecycleKind; 8] = [
        LifecycleKind::ChannelLive,
        LifecycleKind::ChannelOffline,
        LifecycleKind::RecordingReady,
        LifecycleKind::StreamKeyRotated,
        LifecycleKind::ChannelSuspended,
        LifecycleKind::ChannelResumed,
        LifecycleKind::StreamStopped,
        LifecycleKind::SweeperRepair,
    ];

    /// The event's `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            LifecycleKind::ChannelLive => "Channel Live",
            LifecycleKind::ChannelOffline => "Channel Offline",
            LifecycleKind::RecordingReady => "Recording Ready",
            LifecycleKind::StreamKeyRotated => "Stream Key Rotated",
            LifecycleKind::ChannelSuspended => "Channel Suspended",
            LifecycleKind::ChannelResumed => "Channel Resumed",
            LifecycleKind::StreamStopped => "Stream Stopped",
            LifecycleKind::SweeperRepair => "Sweeper Repair",
        }
    }

    /// The kind's name in file names and ids: `schemas/lifecycle/<slug>.schema.json`.
    pub fn slug(self) -> &'static str {
        match self {
            LifecycleKind::ChannelLive => "channel-live",
            LifecycleKind::ChannelOffline => "channel-offline",
            LifecycleKind::RecordingReady => "recording-ready",
            LifecycleKind::StreamKeyRotated => "stream-key-rotated",
            LifecycleKind::ChannelSuspended => "channel-suspended",
            LifecycleKind::ChannelResumed => "channel-resumed",
            LifecycleKind::StreamStopped => "stream-stopped",
            LifecycleKind::SweeperRepair => "sweeper-repair",
        }
    }

    pub fn from_detail_type(detail_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.detail_type() == detail_type)
    }
}

/// One lifecycle event: its kind, the channel it is about, and its `detail`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lifecycle {
    pub kind: LifecycleKind,
    /// The stable id (also `detail.id`).
    pub id: String,
    /// The event's `resources` (the channel's ARN).
    pub channel: IvsArn,
    /// When the fact happened (the event's `time`).
    pub time: DateTime<Utc>,
    /// The `detail`, a JSON object.
    pub detail: Value,
}

/// What caused a key rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationTrigger {
    /// A `Stream End` event (`ROTATE_KEY_ON=stream-end`).
    StreamEnd,
    /// A `Session Ended` event (`ROTATE_KEY_ON=session-ended`).
    SessionEnded,
    /// The sweeper, for a stream whose end event was missed.
    SweeperMissedRotation,
    /// The sweeper, for an idle channel's key older than its rotation period.
    SweeperKeyAge,
    /// An operator, through the admin API.
    AdminApi,
}

/// Who suspended a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendedBy {
    /// An operator, through the admin API.
    AdminApi,
    /// A channel tagged suspended went live: the event function revoked its key and stopped it.
    Policy,
}

/// The policy rule that stopped a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopRule {
    /// Live longer than the channel's maximum stream duration (the sweeper).
    MaxDuration,
    /// An `IVS Limit Breach` (ingest bitrate or resolution), with the limit's name.
    LimitBreach(String),
    /// The recording failed to start on a channel that must record.
    RecordingStartFailure,
    /// The channel is suspended.
    Suspended,
}

impl StopRule {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopRule::MaxDuration => "max_duration",
            StopRule::LimitBreach(_) => "limit_breach",
            StopRule::RecordingStartFailure => "recording_start_failure",
            StopRule::Suspended => "suspended",
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn id(kind: LifecycleKind, parts: &[&str]) -> String {
    let mut id = kind.slug().to_owned();
    for part in parts {
        id.push(':');
        id.push_str(part);
    }
    id
}

fn build<T: Serialize>(
    kind: LifecycleKind,
    id: String,
    channel: &IvsArn,
    time: DateTime<Utc>,
    detail: &T,
) -> Lifecycle {
    // The detail types below serialize to objects of strings, numbers and lists: no error.
    let mut value = serde_json::to_value(detail).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("id".to_owned(), Value::String(id.clone()));
        map.insert(
            "channelArn".to_owned(),
            Value::String(channel.as_str().to_owned()),
        );
    }
    Lifecycle {
        kind,
        id,
        channel: channel.clone(),
        time,
        detail: value,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelLiveDetail<'a> {
    channel_name: Option<&'a str>,
    stream_id: &'a str,
    start_time: String,
    playback_url: Option<&'a str>,
}

/// A channel went live: `stream_id` started at `start_time`; `playback_url` is the channel's
/// (`None` when it could not be read).
pub fn channel_live(
    channel: &IvsArn,
    channel_name: Option<&str>,
    stream_id: &str,
    start_time: DateTime<Utc>,
    playback_url: Option<&str>,
) -> Lifecycle {
    let kind = LifecycleKind::ChannelLive;
    let detail = ChannelLiveDetail {
        channel_name,
        stream_id,
        start_time: rfc3339(start_time),
        playback_url,
    };
    build(
        kind,
        id(kind, &[channel.as_str(), stream_id]),
        channel,
        start_time,
        &detail,
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelOfflineDetail<'a> {
    channel_name: Option<&'a str>,
    stream_id: &'a str,
    end_time: String,
    start_time: Option<String>,
    duration_seconds: Option<f64>,
}

/// A channel went offline: `stream_id` ended at `end_time`; it had started at `start_time`
/// when IVS still knows the stream session (`None` otherwise, and then no duration).
pub fn channel_offline(
    channel: &IvsArn,
    channel_name: Option<&str>,
    stream_id: &str,
    end_time: DateTime<Utc>,
    start_time: Option<DateTime<Utc>>,
) -> Lifecycle {
    let kind = LifecycleKind::ChannelOffline;
    let duration_seconds = start_time.map(|start| {
        let ms = (end_time - start).num_milliseconds().max(0);
        ms as f64 / 1000.0
    });
    let detail = ChannelOfflineDetail {
        channel_name,
        stream_id,
        end_time: rfc3339(end_time),
        start_time: start_time.map(rfc3339),
        duration_seconds,
    };
    build(
        kind,
        id(kind, &[channel.as_str(), stream_id]),
        channel,
        end_time,
        &detail,
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordingReadyDetail<'a> {
    channel_name: Option<&'a str>,
    stream_ids: &'a [String],
    recording_session_id: &'a str,
    duration_ms: u64,
    end_time: String,
    s3_bucket: &'a str,
    s3_key_prefix: &'a str,
    master_playlist_s3_uri: String,
    master_playlist_url: String,
}

/// A recording is ready, from a `Recording End` event on `channel`; `None` for any other
/// event, or one without the bucket, the prefix or the recording session id.
///
/// The playlist's HTTPS form is the bucket's regional virtual-hosted address in the
/// channel's region (`https://<bucket>.s3.<region>.amazonaws.com/<prefix>/media/hls/master.m3u8`).
pub fn recording_ready(event: &IvsEvent, channel: &IvsArn) -> Option<Lifecycle> {
    let IvsEvent::Recording(e) = event else {
        return None;
    };
    let d = &e.detail;
    if d.recording_status != RecordingStatus::RecordingEnd {
        return None;
    }
    let bucket = d.recording_s3_bucket_name.trim();
    let prefix = d.recording_s3_key_prefix.trim().trim_matches('/');
    let session = d.recording_session_id.trim();
    if bucket.is_empty() || prefix.is_empty() || session.is_empty() {
        return None;
    }
    let key = format!("{prefix}/media/hls/master.m3u8");
    let suffix = if channel.partition() == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let stream_ids = match &d.recording_session_stream_ids {
        Some(ids) if !ids.is_empty() => ids.clone(),
        _ if !d.stream_id.is_empty() => vec![d.stream_id.clone()],
        _ => Vec::new(),
    };
    let end_time = event.time().unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let detail = RecordingReadyDetail {
        channel_name: event.channel_name(),
        stream_ids: &stream_ids,
        recording_session_id: session,
        duration_ms: d.recording_duration_ms,
        end_time: rfc3339(end_time),
        s3_bucket: bucket,
        s3_key_prefix: prefix,
        master_playlist_s3_uri: format!("s3://{bucket}/{key}"),
        master_playlist_url: format!(
            "https://{bucket}.s3.{region}.{suffix}/{key}",
            region = channel.region()
        ),
    };
    let kind = LifecycleKind::RecordingReady;
    Some(build(
        kind,
        id(kind, &[channel.as_str(), session]),
        channel,
        end_time,
        &detail,
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyRotatedDetail<'a> {
    key_arn: &'a str,
    revoked_key_arns: &'a [String],
    stream_id: Option<&'a str>,
    trigger: RotationTrigger,
    rotated_at: String,
}

/// The channel's stream key was rotated: `key_arn` is the new key (its ARN only), `revoked`
/// the keys deleted, `stream_id` the stream whose end asked for it (when one did). The id is
/// the new key's: a retried rotation that finds its key already made names the same key.
pub fn stream_key_rotated(
    channel: &IvsArn,
    key_arn: &str,
    revoked: &[String],
    stream_id: Option<&str>,
    trigger: RotationTrigger,
    at: DateTime<Utc>,
) -> Lifecycle {
    let kind = LifecycleKind::StreamKeyRotated;
    let detail = KeyRotatedDetail {
        key_arn,
        revoked_key_arns: revoked,
        stream_id,
        trigger,
        rotated_at: rfc3339(at),
    };
    build(kind, id(kind, &[key_arn]), channel, at, &detail)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SuspendedDetail<'a> {
    by: SuspendedBy,
    stream_id: Option<&'a str>,
    revoked_key_arns: &'a [String],
    stream_stopped: bool,
    suspended_at: String,
}

/// The channel was suspended (its keys revoked, its stream stopped). `cause` makes the id
/// stable: the stream id when a suspended channel went live, the request id for an operator.
#[allow(clippy::too_many_arguments)]
pub fn channel_suspended(
    channel: &IvsArn,
    by: SuspendedBy,
    cause: &str,
    stream_id: Option<&str>,
    revoked: &[String],
    stream_stopped: bool,
    at: DateTime<Utc>,
) -> Lifecycle {
    let kind = LifecycleKind::ChannelSuspended;
    let detail = SuspendedDetail {
        by,
        stream_id,
        revoked_key_arns: revoked,
        stream_stopped,
        suspended_at: rfc3339(at),
    };
    build(
        kind,
        id(kind, &[channel.as_str(), cause]),
        channel,
        at,
        &detail,
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResumedDetail<'a> {
    key_arn: Option<&'a str>,
    key_created: bool,
    resumed_at: String,
}

/// The channel was resumed by an operator (`request_id`): `key_arn` is its key (new when
/// `key_created`).
pub fn channel_resumed(
    channel: &IvsArn,
    request_id: &str,
    key_arn: Option<&str>,
    key_created: bool,
    at: DateTime<Utc>,
) -> Lifecycle {
    let kind = LifecycleKind::ChannelResumed;
    let detail = ResumedDetail {
        key_arn,
        key_created,
        resumed_at: rfc3339(at),
    };
    build(
        kind,
        id(kind, &[channel.as_str(), request_id]),
        channel,
        at,
        &detail,
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoppedDetail<'a> {
    stream_id: Option<&'a str>,
    rule: &'static str,
    limit: Option<&'a str>,
    live_seconds: Option<u64>,
    was_live: bool,
    stopped_at: String,
}

/// A stream was stopped by a policy `rule`. `cause` makes the id stable when the stream id is
/// unknown (the IVS event's id). `was_live`: IVS still had it live (false: it had already
/// ended, the stop found nothing to stop).
pub fn stream_stopped(
    channel: &IvsArn,
    stream_id: Option<&str>,
    cause: &str,
    rule: &StopRule,
    live_seconds: Option<u64>,
    was_live: bool,
    at: DateTime<Utc>,
) -> Lifecycle {
    let kind = LifecycleKind::StreamStopped;
    let limit = match rule {
        StopRule::LimitBreach(limit) => Some(limit.as_str()),
        _ => None,
    };
    let detail = StoppedDetail {
        stream_id,
        rule: rule.as_str(),
        limit,
        live_seconds,
        was_live,
        stopped_at: rfc3339(at),
    };
    let stream = stream_id.unwrap_or(cause);
    build(
        kind,
        id(kind, &[channel.as_str(), stream, rule.as_str()]),
        channel,
        at,
        &detail,
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RepairDetail<'a> {
    repair: &'static str,
    stream_id: &'a str,
    key_arn: &'a str,
    repaired_at: String,
}

/// The sweeper gave `stream_id`'s channel the key rotation its end event missed.
pub fn sweeper_repaired_rotation(
    channel: &IvsArn,
    stream_id: &str,
    key_arn: &str,
    at: DateTime<Utc>,
) -> Lifecycle {
    let kind = LifecycleKind::SweeperRepair;
    let detail = RepairDetail {
        repair: "missed_rotation",
        stream_id,
        key_arn,
        repaired_at: rfc3339(at),
    };
    build(
        kind,
        id(kind, &[channel.as_str(), stream_id, "missed_rotation"]),
        channel,
        at,
        &detail,
    )
}

/// What an IVS event announces by itself, whatever the channel's policy: its stream went
/// live or offline, its recording is ready. The facts that need I/O first (the playback URL,
/// the session's start) are [`Announcement`]s the adapter completes; a recording is complete
/// as the event gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Announcement {
    /// A `Stream Start`: complete with the channel's playback URL ([`channel_live`]).
    Live {
        channel: IvsArn,
        stream_id: String,
        start_time: DateTime<Utc>,
    },
    /// A `Stream End`: complete with the stream session's start ([`channel_offline`]).
    Offline {
        channel: IvsArn,
        stream_id: String,
        end_time: DateTime<Utc>,
    },
    /// A `Recording End`: nothing to add.
    Ready(Lifecycle),
}

/// What `event` announces. A suspended channel's `Stream Start` and `Stream End` announce
/// nothing (the channel is being stopped: its suspension is the fact, and a consumer never
/// sees an offline without its live). Events without a channel, a stream id or a time
/// announce nothing.
pub fn announcements(
    event: &IvsEvent,
    channel: Option<&IvsArn>,
    suspended: bool,
) -> Vec<Announcement> {
    let Some(channel) = channel else {
        return Vec::new();
    };
    if let Some(ready) = recording_ready(event, channel) {
        return vec![Announcement::Ready(ready)];
    }
    let (IvsEvent::StreamState(e), Some(stream_id), Some(time)) =
        (event, event.stream_id(), event.time())
    else {
        return Vec::new();
    };
    match e.detail.event_name {
        StreamEventName::StreamStart if !suspended => vec![Announcement::Live {
            channel: channel.clone(),
            stream_id: stream_id.to_owned(),
            start_time: time,
        }],
        StreamEventName::StreamEnd if !suspended => vec![Announcement::Offline {
            channel: channel.clone(),
            stream_id: stream_id.to_owned(),
            end_time: time,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channel() -> IvsArn {
        IvsArn::parse("arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456").unwrap()
    }

    fn event(value: Value) -> IvsEvent {
        IvsEvent::from_value(value).unwrap()
    }

    fn stream(name: &str) -> IvsEvent {
        event(json!({
            "version": "0", "id": "e-1", "detail-type": "IVS Stream State Change",
            "source": "aws.ivs", "account": "111122223333", "time": "2026-01-05T10:00:00Z",
            "region": "us-west-2", "resources": [channel().as_str()],
            "detail": {"event_name": name, "channel_name": "demo", "stream_id": "st-1AbCdEfGhIjKlMnOpQrStUv"}
        }))
    }

    fn recording_end() -> IvsEvent {
        event(json!({
            "version": "0", "id": "e-2", "detail-type": "IVS Recording State Change",
            "source": "aws.ivs", "account": "111122223333", "time": "2026-01-05T11:00:00Z",
            "region": "us-west-2", "resources": [channel().as_str()],
            "detail": {"recording_status": "Recording End", "channel_name": "demo",
                "stream_id": "st-1AbCdEfGhIjKlMnOpQrStUv", "recording_status_reason": "",
                "recording_s3_bucket_name": "demo-recordings",
                "recording_s3_key_prefix": "ivs/v1/111122223333/AbCdEf123456/2026/1/5/10/0/rec1",
                "recording_duration_ms": 3_600_000, "recording_session_id": "rs-1",
                "recording_session_stream_ids": ["st-1AbCdEfGhIjKlMnOpQrStUv"]}
        }))
    }

    #[test]
    fn detail_types_and_slugs_are_distinct_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for kind in LifecycleKind::ALL {
            assert!(seen.insert(kind.detail_type()));
            assert!(seen.insert(kind.slug()));
            assert_eq!(
                LifecycleKind::from_detail_type(kind.detail_type()),
                Some(kind)
            );
        }
        assert_eq!(
            LifecycleKind::from_detail_type("IVS Stream State Change"),
            None
        );
    }

    #[test]
    fn a_start_announces_live_and_an_end_offline_with_the_same_stable_ids() {
        let start = stream("Stream Start");
        let ann = announcements(&start, Some(&channel()), false);
        let [Announcement::Live {
            stream_id,
            start_time,
            ..
        }] = ann.as_slice()
        else {
            panic!("{ann:?}");
        };
        let live = channel_live(
            &channel(),
            Some("demo"),
            stream_id,
            *start_time,
            Some("https://x/p.m3u8"),
        );
        assert_eq!(live.detail["id"], live.id);
        assert_eq!(live.detail["startTime"], "2026-01-05T10:00:00.000Z");
        assert_eq!(live.detail["channelArn"], channel().as_str());
        assert_eq!(
            live.id,
            channel_live(&channel(), None, stream_id, *start_time, None).id
        );
        assert!(announcements(&start, Some(&channel()), true).is_empty());
        assert!(announcements(&start, None, false).is_empty());

        let end = stream("Stream End");
        let [Announcement::Offline { end_time, .. }] = announcements(&end, Some(&channel()), false)
            .as_slice()
            .to_owned()[..]
        else {
            panic!("no offline");
        };
        let start_time = end_time - chrono::Duration::seconds(90);
        let offline = channel_offline(&channel(), None, "st-1", end_time, Some(start_time));
        assert_eq!(offline.detail["durationSeconds"], 90.0);
        assert_eq!(
            channel_offline(&channel(), None, "st-1", end_time, None).detail["durationSeconds"],
            Value::Null
        );
        assert!(announcements(&stream("Session Ended"), Some(&channel()), false).is_empty());
        assert!(
            announcements(&end, Some(&channel()), true).is_empty(),
            "suspended"
        );
    }

    #[test]
    fn a_recording_end_is_ready_with_both_playlist_forms() {
        let ann = announcements(&recording_end(), Some(&channel()), false);
        let [Announcement::Ready(ready)] = ann.as_slice() else {
            panic!("{ann:?}");
        };
        let prefix = "ivs/v1/111122223333/AbCdEf123456/2026/1/5/10/0/rec1";
        assert_eq!(
            ready.detail["masterPlaylistS3Uri"],
            format!("s3://demo-recordings/{prefix}/media/hls/master.m3u8")
        );
        assert_eq!(
            ready.detail["masterPlaylistUrl"],
            format!(
                "https://demo-recordings.s3.us-west-2.amazonaws.com/{prefix}/media/hls/master.m3u8"
            )
        );
        assert_eq!(ready.detail["durationMs"], 3_600_000);
        assert_eq!(
            ready.id,
            format!("recording-ready:{}:rs-1", channel().as_str())
        );
    }

    #[test]
    fn a_rotation_is_named_by_its_new_key_and_carries_no_value() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let key = "arn:aws:ivs:us-west-2:111122223333:stream-key/k2";
        let a = stream_key_rotated(
            &channel(),
            key,
            &["k1".to_owned()],
            Some("st-1"),
            RotationTrigger::StreamEnd,
            at,
        );
        let b = stream_key_rotated(
            &channel(),
            key,
            &[],
            Some("st-1"),
            RotationTrigger::StreamEnd,
            at,
        );
        assert_eq!(a.id, b.id);
        assert_eq!(a.detail["trigger"], "stream_end");
        assert!(a.detail.get("value").is_none());
    }

    #[test]
    fn stops_are_named_by_stream_and_rule() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let breach = StopRule::LimitBreach("Ingest Bitrate".to_owned());
        let a = stream_stopped(&channel(), Some("st-1"), "e-1", &breach, None, true, at);
        assert_eq!(a.detail["rule"], "limit_breach");
        assert_eq!(a.detail["limit"], "Ingest Bitrate");
        let b = stream_stopped(
            &channel(),
            None,
            "e-1",
            &StopRule::MaxDuration,
            Some(7200),
            true,
            at,
        );
        assert!(b.id.ends_with(":e-1:max_duration"), "{}", b.id);
        assert_ne!(a.id, b.id);
    }
}
