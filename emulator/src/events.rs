//! The EventBridge events IVS emits (source `aws.ivs`), with envelopes and details in IVS's field
//! order. Serializing an [`Event`] keeps that order; converting it to a `serde_json::Value` does
//! not (the map sorts its keys), which is why the JSON-lines output, the Lambda payloads and
//! `GET /_emulator/events` serialize the typed event directly.

use serde::Serialize;

/// `detail-type` of stream state changes.
pub const STREAM_STATE_CHANGE: &str = "IVS Stream State Change";
/// `detail-type` of stream health changes.
pub const STREAM_HEALTH_CHANGE: &str = "IVS Stream Health Change";
/// `detail-type` of limit breaches.
pub const LIMIT_BREACH: &str = "IVS Limit Breach";
/// `detail-type` of recording state changes.
pub const RECORDING_STATE_CHANGE: &str = "IVS Recording State Change";

/// Every detail-type the emulator emits.
pub const DETAIL_TYPES: [&str; 4] = [
    STREAM_STATE_CHANGE,
    STREAM_HEALTH_CHANGE,
    LIMIT_BREACH,
    RECORDING_STATE_CHANGE,
];

/// An EventBridge event: the envelope and its detail.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Always `"0"`.
    pub version: &'static str,
    /// A UUID.
    pub id: String,
    /// One of [`DETAIL_TYPES`].
    #[serde(rename = "detail-type")]
    pub detail_type: &'static str,
    /// Always `aws.ivs`.
    pub source: &'static str,
    /// The account id.
    pub account: String,
    /// When it happened, ISO-8601 to the second (`2026-01-05T10:00:00Z`).
    pub time: String,
    /// The region.
    pub region: String,
    /// `[channel ARN]`, or `[]` for account-level limit breaches.
    pub resources: Vec<String>,
    /// The detail.
    pub detail: Detail,
}

impl Event {
    /// The event as a JSON value (keys sorted).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The event as compact JSON in IVS's field order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The name of the event within its type (`event_name`, `limit_name` or `recording_status`).
    pub fn name(&self) -> &str {
        match &self.detail {
            Detail::StreamState(detail) => &detail.event_name,
            Detail::StreamHealth(detail) => &detail.event_name,
            Detail::LimitBreach(detail) => &detail.limit_name,
            Detail::Recording(detail) => &detail.recording_status,
        }
    }

    /// The `code` of the event, if it has one.
    pub fn code(&self) -> Option<&str> {
        match &self.detail {
            Detail::StreamState(detail) => detail.code.as_deref(),
            _ => None,
        }
    }
}

/// The `detail` of an event.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Detail {
    /// `IVS Stream State Change`.
    StreamState(StreamStateDetail),
    /// `IVS Stream Health Change`.
    StreamHealth(StreamHealthDetail),
    /// `IVS Limit Breach`.
    LimitBreach(LimitBreachDetail),
    /// `IVS Recording State Change`.
    Recording(RecordingDetail),
}

impl Detail {
    /// The `detail-type` that goes with this detail.
    pub fn detail_type(&self) -> &'static str {
        match self {
            Detail::StreamState(_) => STREAM_STATE_CHANGE,
            Detail::StreamHealth(_) => STREAM_HEALTH_CHANGE,
            Detail::LimitBreach(_) => LIMIT_BREACH,
            Detail::Recording(_) => RECORDING_STATE_CHANGE,
        }
    }
}

/// Detail of `IVS Stream State Change`.
#[derive(Clone, Debug, Serialize)]
pub struct StreamStateDetail {
    /// `Session Created`, `Stream Start`, `Stream End`, `Session Ended`, ...
    pub event_name: String,
    /// The channel's name (may be empty).
    pub channel_name: String,
    /// The stream id.
    pub stream_id: String,
    /// The failure reason (`Stream Failure` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An error code (abnormal `Session Ended`, `Stream Takeover Failure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Detail of `IVS Stream Health Change`.
#[derive(Clone, Debug, Serialize)]
pub struct StreamHealthDetail {
    /// `Starvation Start` or `Starvation End`.
    pub event_name: String,
    /// The channel's name.
    pub channel_name: String,
    /// The stream id.
    pub stream_id: String,
}

/// Detail of `IVS Limit Breach`.
#[derive(Clone, Debug, Serialize)]
pub struct LimitBreachDetail {
    /// `Ingest Bitrate`, `Ingest Resolution`, `Concurrent Broadcasts`, `Concurrent Viewers`, ...
    pub limit_name: String,
    /// The limit.
    pub limit_value: u64,
    /// By how much it was exceeded.
    pub exceeded_by: u64,
    /// The unit of both numbers.
    pub limit_unit: String,
    /// The channel's name (channel-level limits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    /// The stream id (channel-level limits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
}

/// Detail of `IVS Recording State Change`.
#[derive(Clone, Debug, Serialize)]
pub struct RecordingDetail {
    /// The channel's name.
    pub channel_name: String,
    /// The stream id.
    pub stream_id: String,
    /// `Recording Start`, `Recording End`, `Recording Start Failure`, `Recording End Failure`.
    pub recording_status: String,
    /// An exception name on failures, else `""`.
    pub recording_status_reason: String,
    /// The destination bucket.
    pub recording_s3_bucket_name: String,
    /// `ivs/v1/<account>/<channel id>/<y>/<m>/<d>/<h>/<min>/<recording id>`, `""` on Start Failure.
    pub recording_s3_key_prefix: String,
    /// Duration of the recording (0 on Start and on failures).
    pub recording_duration_ms: u64,
    /// The recording session (a UUID).
    pub recording_session_id: String,
    /// The streams merged into the recording (`Recording End` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_session_stream_ids: Option<Vec<String>>,
}

/// Whether an event counts as an error event of a stream session (`hasErrorEvent`).
pub fn is_error_event(name: &str, code: Option<&str>) -> bool {
    name.contains("Failure") || code.is_some()
}
