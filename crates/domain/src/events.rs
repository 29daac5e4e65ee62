//! Typed IVS EventBridge events (source `aws.ivs`, the four low-latency detail-types).
//!
//! Each detail type is used through [`aws_lambda_events::eventbridge::EventBridgeEvent`].
//! Every discriminating value (event name, recording status, limit name, limit unit) is an
//! enum with an `Other(String)` fallback, because AWS adds values without notice. AWS's own
//! quirks parse: an empty `channel_name`, `"resources": []` on account-level limit
//! breaches, and a malformed ARN in `resources` (rejected later, clearly, by
//! [`IvsEvent::channel_arn`]).

use std::fmt;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::arn::{ArnError, IvsArn, ResourceType};

/// The event source of every IVS event.
pub const IVS_SOURCE: &str = "aws.ivs";

/// Declares a string-valued enum whose unknown values are kept in `Other(String)`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this version does not know (AWS adds values without notice).
            Other(String),
        }

        impl $name {
            /// Every value this version knows.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

open_enum!(
    /// The `detail-type` of an IVS event.
    DetailType {
        StreamStateChange => "IVS Stream State Change",
        StreamHealthChange => "IVS Stream Health Change",
        LimitBreach => "IVS Limit Breach",
        RecordingStateChange => "IVS Recording State Change",
    }
);

open_enum!(
    /// `event_name` of an `IVS Stream State Change`.
    StreamEventName {
        SessionCreated => "Session Created",
        SessionEnded => "Session Ended",
        StreamStart => "Stream Start",
        StreamEnd => "Stream End",
        StreamFailure => "Stream Failure",
        StreamTakeover => "Stream Takeover",
        StreamTakeoverFailure => "Stream Takeover Failure",
    }
);

open_enum!(
    /// `event_name` of an `IVS Stream Health Change`.
    HealthEventName {
        StarvationStart => "Starvation Start",
        StarvationEnd => "Starvation End",
    }
);

open_enum!(
    /// `limit_name` of an `IVS Limit Breach`.
    LimitName {
        IngestBitrate => "Ingest Bitrate",
        IngestResolution => "Ingest Resolution",
        ConcurrentBroadcasts => "Concurrent Broadcasts",
        ConcurrentViewers => "Concurrent Viewers",
    }
);

open_enum!(
    /// `limit_unit` of an `IVS Limit Breach`.
    LimitUnit {
        BitsPerSecond => "bits per second",
        TotalPixels => "total pixels",
        PixelsPerEdge => "pixels per edge",
        ActiveStreams => "active streams",
        Viewers => "viewers",
    }
);

open_enum!(
    /// `recording_status` of an `IVS Recording State Change`.
    RecordingStatus {
        RecordingStart => "Recording Start",
        RecordingEnd => "Recording End",
        RecordingStartFailure => "Recording Start Failure",
        RecordingEndFailure => "Recording End Failure",
    }
);

impl LimitName {
    /// Whether the limit belongs to one channel's ingest (as opposed to the account).
    pub fn is_channel_level(&self) -> bool {
        matches!(self, LimitName::IngestBitrate | LimitName::IngestResolution)
    }
}

/// `detail` of `IVS Stream State Change`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamStateChange {
    pub event_name: StreamEventName,
    #[serde(default)]
    pub channel_name: String,
    #[serde(default)]
    pub stream_id: String,
    /// Set on `Stream Failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set on `Session Ended` and `Stream Takeover Failure` (a free string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `detail` of `IVS Stream Health Change`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamHealthChange {
    pub event_name: HealthEventName,
    #[serde(default)]
    pub channel_name: String,
    #[serde(default)]
    pub stream_id: String,
}

/// `detail` of `IVS Limit Breach`. Account-level breaches carry no channel or stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitBreach {
    pub limit_name: LimitName,
    #[serde(default, deserialize_with = "lenient_number")]
    pub limit_value: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    pub exceeded_by: Option<f64>,
    #[serde(default)]
    pub limit_unit: Option<LimitUnit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
}

/// `detail` of `IVS Recording State Change`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingStateChange {
    pub recording_status: RecordingStatus,
    #[serde(default)]
    pub channel_name: String,
    #[serde(default)]
    pub stream_id: String,
    /// An exception name on failures, else `""`.
    #[serde(default)]
    pub recording_status_reason: String,
    #[serde(default)]
    pub recording_s3_bucket_name: String,
    /// `ivs/v1/<account>/<channel_id>/<y>/<m>/<d>/<h>/<min>/<recording_id>`; `""` on Start Failure.
    #[serde(default)]
    pub recording_s3_key_prefix: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub recording_duration_ms: u64,
    #[serde(default)]
    pub recording_session_id: String,
    /// Present on `Recording End` only: a recording session can merge several streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_session_stream_ids: Option<Vec<String>>,
}

impl RecordingStateChange {
    /// `s3://<bucket>/<prefix>/media/hls/master.m3u8`, when bucket and prefix are known.
    pub fn hls_master_playlist(&self) -> Option<String> {
        let bucket = self.recording_s3_bucket_name.trim();
        let prefix = self.recording_s3_key_prefix.trim().trim_matches('/');
        if bucket.is_empty() || prefix.is_empty() {
            return None;
        }
        Some(format!("s3://{bucket}/{prefix}/media/hls/master.m3u8"))
    }
}

/// An event as the functions receive it, typed by its `detail-type`.
#[derive(Clone, Debug, PartialEq)]
pub enum IvsEvent {
    StreamState(EventBridgeEvent<StreamStateChange>),
    StreamHealth(EventBridgeEvent<StreamHealthChange>),
    LimitBreach(EventBridgeEvent<LimitBreach>),
    Recording(EventBridgeEvent<RecordingStateChange>),
    /// Any other source or detail-type: acknowledged and logged, never acted upon.
    Unknown(EventBridgeEvent<Value>),
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event is not an EventBridge envelope: {0}")]
    Envelope(String),
    #[error("the detail of an {detail_type:?} event does not match its shape: {message}")]
    Detail {
        detail_type: String,
        message: String,
    },
}

impl IvsEvent {
    /// Types a raw EventBridge event. Unknown sources and detail-types become
    /// [`IvsEvent::Unknown`]; a known detail-type whose detail has the wrong shape is an error.
    pub fn from_value(value: Value) -> Result<Self, EventError> {
        let source = value.get("source").and_then(Value::as_str).unwrap_or("");
        let detail_type = value
            .get("detail-type")
            .and_then(Value::as_str)
            .map(DetailType::from);
        let detail_type = match detail_type {
            Some(dt) if source == IVS_SOURCE => dt,
            _ => return typed(value).map(IvsEvent::Unknown),
        };
        match detail_type {
            DetailType::StreamStateChange => typed(value).map(IvsEvent::StreamState),
            DetailType::StreamHealthChange => typed(value).map(IvsEvent::StreamHealth),
            DetailType::LimitBreach => typed(value).map(IvsEvent::LimitBreach),
            DetailType::RecordingStateChange => typed(value).map(IvsEvent::Recording),
            DetailType::Other(_) => typed(value).map(IvsEvent::Unknown),
        }
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::Envelope(e.to_string()))?;
        Self::from_value(value)
    }

    pub fn detail_type(&self) -> DetailType {
        DetailType::from(self.envelope().detail_type.as_str())
    }

    pub fn id(&self) -> &str {
        self.envelope().id.as_deref().unwrap_or("")
    }

    pub fn time(&self) -> Option<DateTime<Utc>> {
        self.envelope().time
    }

    pub fn account(&self) -> Option<&str> {
        self.envelope().account.as_deref()
    }

    pub fn region(&self) -> Option<&str> {
        self.envelope().region.as_deref()
    }

    pub fn resources(&self) -> &[String] {
        self.envelope().resources.as_deref().unwrap_or(&[])
    }

    /// The channel the event is about: `resources[0]`, never `region`. `Ok(None)` when the
    /// event names no resource (account-level limit breaches); an error when it names
    /// something that is not a valid channel ARN.
    pub fn channel_arn(&self) -> Result<Option<IvsArn>, ArnError> {
        match self.resources().first() {
            None => Ok(None),
            Some(raw) => IvsArn::parse_as(raw, ResourceType::Channel).map(Some),
        }
    }

    /// The stream id, when the event carries a non-empty one.
    pub fn stream_id(&self) -> Option<&str> {
        let id = match self {
            IvsEvent::StreamState(e) => e.detail.stream_id.as_str(),
            IvsEvent::StreamHealth(e) => e.detail.stream_id.as_str(),
            IvsEvent::LimitBreach(e) => e.detail.stream_id.as_deref().unwrap_or(""),
            IvsEvent::Recording(e) => e.detail.stream_id.as_str(),
            IvsEvent::Unknown(_) => "",
        };
        (!id.is_empty()).then_some(id)
    }

    /// The channel name, when the event carries a non-empty one.
    pub fn channel_name(&self) -> Option<&str> {
        let name = match self {
            IvsEvent::StreamState(e) => e.detail.channel_name.as_str(),
            IvsEvent::StreamHealth(e) => e.detail.channel_name.as_str(),
            IvsEvent::LimitBreach(e) => e.detail.channel_name.as_deref().unwrap_or(""),
            IvsEvent::Recording(e) => e.detail.channel_name.as_str(),
            IvsEvent::Unknown(_) => "",
        };
        (!name.is_empty()).then_some(name)
    }

    /// The discriminating value inside `detail` (event name, limit name or recording
    /// status), for logs.
    pub fn name(&self) -> &str {
        match self {
            IvsEvent::StreamState(e) => e.detail.event_name.as_str(),
            IvsEvent::StreamHealth(e) => e.detail.event_name.as_str(),
            IvsEvent::LimitBreach(e) => e.detail.limit_name.as_str(),
            IvsEvent::Recording(e) => e.detail.recording_status.as_str(),
            IvsEvent::Unknown(e) => e
                .detail
                .get("event_name")
                .and_then(Value::as_str)
                .unwrap_or(""),
        }
    }

    fn envelope(&self) -> Envelope<'_> {
        match self {
            IvsEvent::StreamState(e) => Envelope::of(e),
            IvsEvent::StreamHealth(e) => Envelope::of(e),
            IvsEvent::LimitBreach(e) => Envelope::of(e),
            IvsEvent::Recording(e) => Envelope::of(e),
            IvsEvent::Unknown(e) => Envelope::of(e),
        }
    }
}

/// The detail-independent fields of any typed event.
struct Envelope<'a> {
    id: &'a Option<String>,
    detail_type: &'a String,
    account: &'a Option<String>,
    time: Option<DateTime<Utc>>,
    region: &'a Option<String>,
    resources: &'a Option<Vec<String>>,
}

impl<'a> Envelope<'a> {
    fn of<T: Serialize + serde::de::DeserializeOwned>(e: &'a EventBridgeEvent<T>) -> Self {
        Envelope {
            id: &e.id,
            detail_type: &e.detail_type,
            account: &e.account,
            time: e.time,
            region: &e.region,
            resources: &e.resources,
        }
    }
}

fn typed<T: Serialize + serde::de::DeserializeOwned>(
    value: Value,
) -> Result<EventBridgeEvent<T>, EventError> {
    EventBridgeEvent::<T>::deserialize(&value).map_err(|detail_error| {
        // Tell a broken envelope from a detail of the wrong shape.
        match EventBridgeEvent::<Value>::deserialize(&value) {
            Err(envelope_error) => EventError::Envelope(envelope_error.to_string()),
            Ok(envelope) => EventError::Detail {
                detail_type: envelope.detail_type,
                message: detail_error.to_string(),
            },
        }
    })
}

/// A number that AWS may one day send as a string; anything else reads as absent.
fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(detail_type: &str, resources: Value, detail: Value) -> Value {
        json!({
            "version": "0",
            "id": "6f1c4d2a-0000-4000-8000-000000000001",
            "detail-type": detail_type,
            "source": "aws.ivs",
            "account": "111122223333",
            "time": "2026-01-05T10:00:00Z",
            "region": "us-west-2",
            "resources": resources,
            "detail": detail,
        })
    }

    #[test]
    fn open_enums_keep_unknown_values() {
        assert_eq!(
            StreamEventName::from("Stream Start"),
            StreamEventName::StreamStart
        );
        let later = StreamEventName::from("Stream Paused");
        assert_eq!(later, StreamEventName::Other("Stream Paused".into()));
        assert_eq!(later.as_str(), "Stream Paused");
        let json = serde_json::to_string(&RecordingStatus::from("Recording Paused")).unwrap();
        assert_eq!(json, "\"Recording Paused\"");
        for known in LimitName::KNOWN {
            assert_eq!(&LimitName::from(known.as_str()), known);
        }
    }

    #[test]
    fn stream_start_with_empty_channel_name_parses() {
        let v = envelope(
            "IVS Stream State Change",
            json!(["arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456"]),
            json!({"event_name": "Stream Start", "channel_name": "", "stream_id": "st-1AbCdEfGhIjKlMnOpQrStUv"}),
        );
        let event = IvsEvent::from_value(v).unwrap();
        assert!(matches!(event, IvsEvent::StreamState(_)));
        assert_eq!(event.channel_name(), None);
        assert_eq!(event.stream_id(), Some("st-1AbCdEfGhIjKlMnOpQrStUv"));
        assert_eq!(event.channel_arn().unwrap().unwrap().id(), "AbCdEf123456");
    }

    #[test]
    fn account_level_breach_has_no_channel() {
        let v = envelope(
            "IVS Limit Breach",
            json!([]),
            json!({"limit_name": "Concurrent Viewers", "limit_value": 15000, "exceeded_by": 1, "limit_unit": "viewers"}),
        );
        let event = IvsEvent::from_value(v).unwrap();
        let IvsEvent::LimitBreach(e) = &event else {
            panic!("not a limit breach")
        };
        assert_eq!(e.detail.limit_value, Some(15000.0));
        assert_eq!(e.detail.limit_unit, Some(LimitUnit::Viewers));
        assert!(!e.detail.limit_name.is_channel_level());
        assert_eq!(event.channel_arn().unwrap(), None);
        assert_eq!(event.stream_id(), None);
    }

    #[test]
    fn malformed_arn_parses_but_channel_is_rejected_clearly() {
        let v = envelope(
            "IVS Recording State Change",
            json!(["arn:aws:ivs:us-west-2:123456789012:channel/"]),
            json!({"recording_status": "Recording End Failure", "recording_status_reason": "InternalServerException"}),
        );
        let event = IvsEvent::from_value(v).unwrap();
        let err = event.channel_arn().unwrap_err();
        assert!(err.to_string().contains("resource id"), "{err}");
    }

    #[test]
    fn unknown_detail_type_and_source_are_unknown_events() {
        let v = envelope("IVS Something New", json!([]), json!({"x": 1}));
        assert!(matches!(
            IvsEvent::from_value(v).unwrap(),
            IvsEvent::Unknown(_)
        ));
        let mut v = envelope(
            "IVS Stream State Change",
            json!([]),
            json!({"event_name": "Stream Start"}),
        );
        v["source"] = json!("aws.s3");
        let event = IvsEvent::from_value(v).unwrap();
        assert!(matches!(event, IvsEvent::Unknown(_)));
        assert_eq!(event.name(), "Stream Start");
    }

    #[test]
    fn broken_envelope_and_broken_detail_are_told_apart() {
        let err = IvsEvent::from_value(json!({"detail": {}})).unwrap_err();
        assert!(matches!(err, EventError::Envelope(_)), "{err}");
        let err = IvsEvent::from_value(json!([1, 2])).unwrap_err();
        assert!(matches!(err, EventError::Envelope(_)), "{err}");
        let v = envelope(
            "IVS Stream State Change",
            json!([]),
            json!({"channel_name": "x"}),
        );
        let err = IvsEvent::from_value(v).unwrap_err();
        assert!(
            matches!(&err, EventError::Detail { detail_type, .. } if detail_type == "IVS Stream State Change"),
            "{err}"
        );
        assert!(err.to_string().contains("event_name"), "{err}");
        let err = IvsEvent::from_slice(b"not json").unwrap_err();
        assert!(matches!(err, EventError::Envelope(_)));
    }

    #[test]
    fn lenient_numbers() {
        let v = envelope(
            "IVS Limit Breach",
            json!(["arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456"]),
            json!({"limit_name": "Ingest Bitrate", "limit_value": "8500000", "exceeded_by": null, "limit_unit": "bits per second"}),
        );
        let IvsEvent::LimitBreach(e) = IvsEvent::from_value(v).unwrap() else {
            panic!("not a limit breach")
        };
        assert_eq!(e.detail.limit_value, Some(8_500_000.0));
        assert_eq!(e.detail.exceeded_by, None);
    }

    #[test]
    fn hls_location_of_a_recording() {
        let rec = RecordingStateChange {
            recording_status: RecordingStatus::RecordingEnd,
            channel_name: "demo".into(),
            stream_id: "st-1".into(),
            recording_status_reason: String::new(),
            recording_s3_bucket_name: "my-bucket".into(),
            recording_s3_key_prefix: "ivs/v1/111122223333/AbCd/2026/1/5/10/0/xyz/".into(),
            recording_duration_ms: 1,
            recording_session_id: "r".into(),
            recording_session_stream_ids: None,
        };
        assert_eq!(
            rec.hls_master_playlist().as_deref(),
            Some("s3://my-bucket/ivs/v1/111122223333/AbCd/2026/1/5/10/0/xyz/media/hls/master.m3u8")
        );
        let none = RecordingStateChange {
            recording_s3_key_prefix: String::new(),
            ..rec
        };
        assert_eq!(none.hls_master_playlist(), None);
    }
}
