//! Simulated ingest: a broadcaster connecting with a stream key, disconnecting, starving, breaching
//! limits, and the recordings that follow the streams. Each action changes what the stream
//! operations report and emits the events IVS would emit, in IVS's order:
//!
//! - connect: `Session Created`, `Stream Start`, then `Recording Start` (or `Recording Start
//!   Failure`) when the channel records;
//! - disconnect or StopStream: `Stream End`, `Session Ended`, then `Recording End` (or `Recording
//!   End Failure`), right away or, when the recording configuration has a reconnect window, once
//!   the window has passed without a reconnection (a reconnection within it joins the same
//!   recording session: no new `Recording Start`, and `recording_session_stream_ids` lists both
//!   streams);
//! - starve / recover: `Starvation Start` / `Starvation End`;
//! - limit breach: `IVS Limit Breach`.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ControlError;
use crate::events::{
    Detail, LimitBreachDetail, RecordingDetail, StreamHealthDetail, StreamStateDetail,
};
use crate::ids::Arn;
use crate::model::RecordingConfiguration;
use crate::state::{format_time, LiveStream, Recording, Session, State, Timer};

/// A broadcaster that went live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// The channel the stream key belongs to.
    pub channel_arn: String,
    /// The new stream's id.
    pub stream_id: String,
}

/// Which end of a recording fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingFailure {
    /// The next recording fails to start (`Recording Start Failure`; nothing is recorded).
    Start,
    /// The next recording to end fails (`Recording End Failure` instead of `Recording End`).
    End,
}

impl RecordingFailure {
    /// The reason reported by default (`recording_status_reason`).
    pub fn default_reason(self) -> &'static str {
        match self {
            RecordingFailure::Start => "AccessDeniedException",
            RecordingFailure::End => "InternalServerException",
        }
    }
}

/// A limit breach to emit. Known limits (`Ingest Bitrate`, `Ingest Resolution`, `Concurrent
/// Broadcasts`, `Concurrent Viewers`) have default values and units; other names need
/// `limit_value` and `limit_unit`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitBreach {
    /// The limit's name.
    pub limit_name: String,
    /// The live channel for channel-level limits; `None` for account-level ones.
    #[serde(default)]
    pub channel_arn: Option<String>,
    /// The limit (default: the known limit's).
    #[serde(default)]
    pub limit_value: Option<u64>,
    /// By how much it was exceeded (default: the known limit's typical excess).
    #[serde(default)]
    pub exceeded_by: Option<u64>,
    /// The unit (default: the known limit's).
    #[serde(default)]
    pub limit_unit: Option<String>,
}

struct KnownLimit {
    name: &'static str,
    unit: &'static str,
    account_level: bool,
    exceeded_by: u64,
}

const KNOWN_LIMITS: [KnownLimit; 4] = [
    KnownLimit {
        name: "Ingest Bitrate",
        unit: "bits per second",
        account_level: false,
        exceeded_by: 1_200_000,
    },
    KnownLimit {
        name: "Ingest Resolution",
        unit: "total pixels",
        account_level: false,
        exceeded_by: 1_612_800,
    },
    KnownLimit {
        name: "Concurrent Broadcasts",
        unit: "active streams",
        account_level: true,
        exceeded_by: 1,
    },
    KnownLimit {
        name: "Concurrent Viewers",
        unit: "viewers",
        account_level: true,
        exceeded_by: 250,
    },
];

/// The default limit value of a known limit, by channel type for the channel-level ones.
fn default_limit_value(name: &str, channel_type: &str) -> u64 {
    match (name, channel_type) {
        ("Ingest Bitrate", "BASIC") => 1_500_000,
        ("Ingest Bitrate", _) => 8_500_000,
        ("Ingest Resolution", "BASIC") => 409_920,
        ("Ingest Resolution", _) => 2_073_600,
        ("Concurrent Broadcasts", _) => 100,
        _ => 15_000,
    }
}

/// The S3 key prefix of a recording: `ivs/v1/<account>/<channel id>/<y>/<m>/<d>/<h>/<min>/<id>`,
/// without zero padding.
pub(crate) fn recording_key_prefix(
    account: &str,
    channel_id: &str,
    at: DateTime<Utc>,
    recording_id: &str,
) -> String {
    format!(
        "ivs/v1/{account}/{channel_id}/{}/{}/{}/{}/{}/{recording_id}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute()
    )
}

impl State {
    fn channel_name(&self, channel_arn: &str) -> String {
        self.channels
            .get(channel_arn)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    fn live_stream(&self, channel_arn: &str) -> Result<&LiveStream, ControlError> {
        if !self.channels.contains_key(channel_arn) {
            return Err(ControlError::ChannelNotFound(channel_arn.to_owned()));
        }
        self.live
            .get(channel_arn)
            .ok_or_else(|| ControlError::ChannelNotLive(channel_arn.to_owned()))
    }

    fn stream_state(&mut self, channel_arn: &str, event_name: &str, stream_id: &str) {
        let detail = StreamStateDetail {
            event_name: event_name.to_owned(),
            channel_name: self.channel_name(channel_arn),
            stream_id: stream_id.to_owned(),
            reason: None,
            code: None,
        };
        self.emit(Some(channel_arn), Detail::StreamState(detail));
    }

    /// A broadcaster connects with the stream key `key_value`.
    pub fn connect(&mut self, key_value: &str) -> Result<Connected, ControlError> {
        let channel_arn = self
            .stream_keys
            .values()
            .find(|key| key.value == key_value)
            .map(|key| key.channel_arn.clone())
            .ok_or(ControlError::StreamKeyRefused)?;
        if !self.channels.contains_key(&channel_arn) {
            return Err(ControlError::StreamKeyRefused);
        }
        self.go_live(channel_arn)
    }

    /// The channel `channel_arn` goes live, as when its broadcaster connects: a new stream and
    /// session, its events, its recording.
    pub(crate) fn go_live(&mut self, channel_arn: String) -> Result<Connected, ControlError> {
        let channel = self
            .channels
            .get(&channel_arn)
            .cloned()
            .ok_or_else(|| ControlError::ChannelNotFound(channel_arn.clone()))?;
        if self.live.contains_key(&channel_arn) {
            return Err(ControlError::ChannelLive(channel_arn));
        }
        let now = self.now();
        let stream_id = self.ids.stream_id();
        self.live.insert(
            channel_arn.clone(),
            LiveStream {
                stream_id: stream_id.clone(),
                started_at: now,
                starving: false,
                viewer_count: 0,
            },
        );
        let recording_configuration = (!channel.recording_configuration_arn.is_empty())
            .then(|| {
                self.recording_configurations
                    .get(&channel.recording_configuration_arn)
                    .cloned()
            })
            .flatten();
        self.session_seq += 1;
        let session = Session {
            seq: self.session_seq,
            stream_id: stream_id.clone(),
            start_time: format_time(now),
            end_time: None,
            channel,
            recording_configuration: recording_configuration.clone(),
            events: Vec::new(),
            has_error_event: false,
        };
        self.sessions
            .entry(channel_arn.clone())
            .or_default()
            .push(session);
        if self.silent {
            tracing::debug!(channel_arn = %channel_arn, stream_id = %stream_id, "seeded live stream");
        } else {
            tracing::info!(channel_arn = %channel_arn, stream_id = %stream_id, "broadcaster connected");
        }
        self.stream_state(&channel_arn, "Session Created", &stream_id);
        self.stream_state(&channel_arn, "Stream Start", &stream_id);
        self.start_recording(
            &channel_arn,
            recording_configuration.as_ref(),
            &stream_id,
            now,
        );
        Ok(Connected {
            channel_arn,
            stream_id,
        })
    }

    fn start_recording(
        &mut self,
        channel_arn: &str,
        configuration: Option<&RecordingConfiguration>,
        stream_id: &str,
        now: DateTime<Utc>,
    ) {
        if let Some(recording) = self.recordings.get_mut(channel_arn) {
            let same_configuration =
                configuration.is_some_and(|c| c.arn == recording.configuration_arn);
            if recording.pending_end.is_some() && same_configuration {
                // Reconnected within the reconnect window: the same recording session goes on.
                recording.pending_end = None;
                recording.stream_ids.push(stream_id.to_owned());
                return;
            }
            self.finish_recording(channel_arn);
        }
        let Some(configuration) = configuration else {
            return;
        };
        let channel_name = self.channel_name(channel_arn);
        let session_id = self.ids.uuid();
        let failure = self
            .recording_failures
            .get_mut(channel_arn)
            .and_then(|f| f.start.take());
        if let Some(reason) = failure {
            let detail = RecordingDetail {
                channel_name,
                stream_id: stream_id.to_owned(),
                recording_status: "Recording Start Failure".to_owned(),
                recording_status_reason: reason,
                recording_s3_bucket_name: configuration.bucket().to_owned(),
                recording_s3_key_prefix: String::new(),
                recording_duration_ms: 0,
                recording_session_id: session_id,
                recording_session_stream_ids: None,
            };
            self.emit(Some(channel_arn), Detail::Recording(detail));
            return;
        }
        let channel_id = Arn::parse(channel_arn)
            .map(|arn| arn.id.to_owned())
            .unwrap_or_default();
        let recording_id = self.ids.resource_id();
        let key_prefix = recording_key_prefix(&self.account, &channel_id, now, &recording_id);
        let recording = Recording {
            session_id: session_id.clone(),
            configuration_arn: configuration.arn.clone(),
            bucket: configuration.bucket().to_owned(),
            key_prefix: key_prefix.clone(),
            started_at: now,
            stream_ids: vec![stream_id.to_owned()],
            pending_end: None,
        };
        self.recordings.insert(channel_arn.to_owned(), recording);
        let detail = RecordingDetail {
            channel_name,
            stream_id: stream_id.to_owned(),
            recording_status: "Recording Start".to_owned(),
            recording_status_reason: String::new(),
            recording_s3_bucket_name: configuration.bucket().to_owned(),
            recording_s3_key_prefix: key_prefix,
            recording_duration_ms: 0,
            recording_session_id: session_id,
            recording_session_stream_ids: None,
        };
        self.emit(Some(channel_arn), Detail::Recording(detail));
    }

    /// Ends the live stream of `channel_arn` (a disconnect, or StopStream). Returns its stream id.
    pub fn end_stream(&mut self, channel_arn: &str) -> Result<String, ControlError> {
        self.live_stream(channel_arn)?;
        let Some(live) = self.live.remove(channel_arn) else {
            return Err(ControlError::ChannelNotLive(channel_arn.to_owned()));
        };
        let now = self.now();
        self.stream_state(channel_arn, "Stream End", &live.stream_id);
        if let Some(session) = self.session_mut(channel_arn, &live.stream_id) {
            session.end_time = Some(format_time(now));
        }
        self.stream_state(channel_arn, "Session Ended", &live.stream_id);
        tracing::info!(channel_arn = %channel_arn, stream_id = %live.stream_id, "stream ended");
        if let Some(recording) = self.recordings.get(channel_arn) {
            let window = self
                .recording_configurations
                .get(&recording.configuration_arn)
                .map_or(0, |c| c.recording_reconnect_window_seconds);
            let window = u64::try_from(window).unwrap_or(0);
            if window > 0 {
                self.recording_generation += 1;
                let generation = self.recording_generation;
                if let Some(recording) = self.recordings.get_mut(channel_arn) {
                    recording.pending_end = Some(generation);
                }
                self.timers.push(Timer {
                    channel_arn: channel_arn.to_owned(),
                    generation,
                    delay: Duration::from_secs(window),
                });
            } else {
                self.finish_recording(channel_arn);
            }
        }
        Ok(live.stream_id)
    }

    /// Ends the recording of `channel_arn` now: `Recording End`, or `Recording End Failure` when
    /// one was asked for.
    pub fn finish_recording(&mut self, channel_arn: &str) {
        let Some(recording) = self.recordings.remove(channel_arn) else {
            return;
        };
        let now = self.now();
        let failure = self
            .recording_failures
            .get_mut(channel_arn)
            .and_then(|f| f.end.take());
        let duration = u64::try_from((now - recording.started_at).num_milliseconds()).unwrap_or(0);
        let stream_id = recording.stream_ids.last().cloned().unwrap_or_default();
        let detail = match failure {
            None => RecordingDetail {
                channel_name: self.channel_name(channel_arn),
                stream_id,
                recording_status: "Recording End".to_owned(),
                recording_status_reason: String::new(),
                recording_s3_bucket_name: recording.bucket,
                recording_s3_key_prefix: recording.key_prefix,
                recording_duration_ms: duration,
                recording_session_id: recording.session_id,
                recording_session_stream_ids: Some(recording.stream_ids),
            },
            Some(reason) => RecordingDetail {
                channel_name: self.channel_name(channel_arn),
                stream_id,
                recording_status: "Recording End Failure".to_owned(),
                recording_status_reason: reason,
                recording_s3_bucket_name: recording.bucket,
                recording_s3_key_prefix: recording.key_prefix,
                recording_duration_ms: 0,
                recording_session_id: recording.session_id,
                recording_session_stream_ids: None,
            },
        };
        self.emit(Some(channel_arn), Detail::Recording(detail));
    }

    /// The reconnect window of a recording has passed: ends it unless the channel reconnected.
    pub fn reconnect_window_elapsed(&mut self, channel_arn: &str, generation: u64) {
        let still_pending = self
            .recordings
            .get(channel_arn)
            .is_some_and(|r| r.pending_end == Some(generation));
        if still_pending {
            self.finish_recording(channel_arn);
        }
    }

    /// Ends every recording waiting for its reconnect window now.
    pub fn flush_recordings(&mut self) {
        let pending: Vec<String> = self
            .recordings
            .iter()
            .filter(|(_, r)| r.pending_end.is_some())
            .map(|(arn, _)| arn.clone())
            .collect();
        for channel_arn in pending {
            self.finish_recording(&channel_arn);
        }
    }

    /// The live stream of `channel_arn` starts starving (`Starvation Start`).
    pub fn starve(&mut self, channel_arn: &str) -> Result<(), ControlError> {
        self.set_starving(channel_arn, true)
    }

    /// The live stream of `channel_arn` recovers (`Starvation End`).
    pub fn recover(&mut self, channel_arn: &str) -> Result<(), ControlError> {
        self.set_starving(channel_arn, false)
    }

    fn set_starving(&mut self, channel_arn: &str, starving: bool) -> Result<(), ControlError> {
        let live = self.live_stream(channel_arn)?;
        if live.starving == starving {
            return Err(if starving {
                ControlError::AlreadyStarving(channel_arn.to_owned())
            } else {
                ControlError::NotStarving(channel_arn.to_owned())
            });
        }
        let stream_id = live.stream_id.clone();
        if let Some(live) = self.live.get_mut(channel_arn) {
            live.starving = starving;
        }
        let detail = StreamHealthDetail {
            event_name: if starving {
                "Starvation Start"
            } else {
                "Starvation End"
            }
            .to_owned(),
            channel_name: self.channel_name(channel_arn),
            stream_id,
        };
        self.emit(Some(channel_arn), Detail::StreamHealth(detail));
        Ok(())
    }

    /// Sets the viewer count the stream operations report for a live channel.
    pub fn set_viewer_count(
        &mut self,
        channel_arn: &str,
        viewers: u64,
    ) -> Result<(), ControlError> {
        self.live_stream(channel_arn)?;
        if let Some(live) = self.live.get_mut(channel_arn) {
            live.viewer_count = viewers;
        }
        Ok(())
    }

    /// Emits a limit breach.
    pub fn breach(&mut self, breach: &LimitBreach) -> Result<(), ControlError> {
        let name = breach.limit_name.trim();
        if name.is_empty() {
            return Err(ControlError::InvalidRequest(
                "limitName must not be empty".to_owned(),
            ));
        }
        let known = KNOWN_LIMITS.iter().find(|limit| limit.name == name);
        let account_level = match known {
            Some(limit) => limit.account_level,
            None => breach.channel_arn.is_none(),
        };
        if account_level && breach.channel_arn.is_some() {
            return Err(ControlError::InvalidRequest(format!(
                "'{name}' is an account-level limit: give no channelArn"
            )));
        }
        if !account_level && breach.channel_arn.is_none() {
            return Err(ControlError::InvalidRequest(format!(
                "'{name}' is a channel-level limit: give a channelArn"
            )));
        }
        let stream = match &breach.channel_arn {
            Some(arn) => Some((arn.clone(), self.live_stream(arn)?.stream_id.clone())),
            None => None,
        };
        let channel_type = stream
            .as_ref()
            .and_then(|(arn, _)| self.channels.get(arn))
            .map(|c| c.channel_type.clone())
            .unwrap_or_default();
        let (limit_value, exceeded_by, limit_unit) = match known {
            Some(limit) => (
                breach
                    .limit_value
                    .unwrap_or_else(|| default_limit_value(limit.name, &channel_type)),
                breach.exceeded_by.unwrap_or(limit.exceeded_by),
                breach
                    .limit_unit
                    .clone()
                    .unwrap_or_else(|| limit.unit.to_owned()),
            ),
            None => match (breach.limit_value, &breach.limit_unit) {
                (Some(value), Some(unit)) => (value, breach.exceeded_by.unwrap_or(1), unit.clone()),
                _ => {
                    return Err(ControlError::InvalidRequest(format!(
                        "'{name}' is not a known limit: give limitValue and limitUnit"
                    )))
                }
            },
        };
        let detail = LimitBreachDetail {
            limit_name: name.to_owned(),
            limit_value,
            exceeded_by,
            limit_unit,
            channel_name: stream.as_ref().map(|(arn, _)| self.channel_name(arn)),
            stream_id: stream.as_ref().map(|(_, id)| id.clone()),
        };
        self.emit(
            stream.as_ref().map(|(arn, _)| arn.as_str()),
            Detail::LimitBreach(detail),
        );
        Ok(())
    }

    /// The next recording of `channel_arn` fails at `phase`, reporting `reason`.
    pub fn fail_next_recording(
        &mut self,
        channel_arn: &str,
        phase: RecordingFailure,
        reason: Option<String>,
    ) -> Result<(), ControlError> {
        if !self.channels.contains_key(channel_arn) {
            return Err(ControlError::ChannelNotFound(channel_arn.to_owned()));
        }
        let reason = reason.unwrap_or_else(|| phase.default_reason().to_owned());
        let failures = self
            .recording_failures
            .entry(channel_arn.to_owned())
            .or_default();
        match phase {
            RecordingFailure::Start => failures.start = Some(reason),
            RecordingFailure::End => failures.end = Some(reason),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use crate::ops::test_support::{call, state};
    use crate::ops::Operation;
    use chrono::TimeZone;
    use serde_json::{json, Value};

    /// A channel named `demo` (recording to `bucket` with `window` seconds of reconnect window
    /// when given): (channel ARN, stream key value).
    fn channel(st: &mut State, recording: Option<i64>) -> (String, String) {
        let mut body = json!({"name": "demo"});
        if let Some(window) = recording {
            let config = call(
                st,
                Operation::CreateRecordingConfiguration,
                json!({"destinationConfiguration": {"s3": {"bucketName": "bucket"}}, "recordingReconnectWindowSeconds": window}),
            )
            .unwrap();
            body["recordingConfigurationArn"] = config["recordingConfiguration"]["arn"].clone();
        }
        let created = call(st, Operation::CreateChannel, body).unwrap();
        let arn = created["channel"]["arn"].as_str().unwrap().to_owned();
        let key = created["streamKey"]["value"].as_str().unwrap().to_owned();
        (arn, key)
    }

    fn names(events: &[Event]) -> Vec<String> {
        events.iter().map(|e| e.name().to_owned()).collect()
    }

    fn take_events(st: &mut State) -> Vec<Event> {
        st.outbox.clear();
        std::mem::take(&mut st.events)
    }

    #[test]
    fn connect_and_disconnect_emit_ivs_sequences_with_full_envelopes() {
        let mut st = state();
        let (arn, key) = channel(&mut st, Some(0));
        let connected = st.connect(&key).unwrap();
        assert_eq!(connected.channel_arn, arn);
        let events = take_events(&mut st);
        assert_eq!(
            names(&events),
            ["Session Created", "Stream Start", "Recording Start"]
        );
        let first = events[0].to_json();
        let keys = [
            "\"version\"",
            "\"id\"",
            "\"detail-type\"",
            "\"source\"",
            "\"account\"",
            "\"time\"",
            "\"region\"",
            "\"resources\"",
            "\"detail\"",
        ];
        let in_order = |keys: &[&str]| {
            let positions: Vec<usize> = keys.iter().map(|k| first.find(k).unwrap()).collect();
            positions.windows(2).all(|w| w[0] < w[1])
        };
        assert!(in_order(&keys), "envelope fields out of order: {first}");
        let detail_keys = ["\"event_name\"", "\"channel_name\"", "\"stream_id\""];
        assert!(
            in_order(&detail_keys),
            "detail fields out of order: {first}"
        );
        let value: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(value["version"], "0");
        assert_eq!(value["source"], "aws.ivs");
        assert_eq!(value["detail-type"], "IVS Stream State Change");
        assert_eq!(value["account"], "111122223333");
        assert_eq!(value["region"], "us-west-2");
        assert_eq!(value["resources"], json!([arn]));
        assert_eq!(
            value["detail"],
            json!({"event_name": "Session Created", "channel_name": "demo", "stream_id": connected.stream_id})
        );
        assert_eq!(value["id"].as_str().unwrap().len(), 36);
        assert!(chrono::DateTime::parse_from_rfc3339(value["time"].as_str().unwrap()).is_ok());
        assert!(value["time"].as_str().unwrap().ends_with('Z'));

        let start = events[2].to_value();
        assert_eq!(start["detail-type"], "IVS Recording State Change");
        let detail = &start["detail"];
        assert_eq!(detail["recording_status"], "Recording Start");
        assert_eq!(detail["recording_status_reason"], "");
        assert_eq!(detail["recording_s3_bucket_name"], "bucket");
        assert_eq!(detail["recording_duration_ms"], 0);
        assert!(detail.get("recording_session_stream_ids").is_none());
        let prefix = detail["recording_s3_key_prefix"].as_str().unwrap();
        let channel_id = arn.rsplit('/').next().unwrap();
        assert!(
            prefix.starts_with(&format!("ivs/v1/111122223333/{channel_id}/")),
            "{prefix}"
        );
        assert_eq!(prefix.split('/').count(), 10);

        st.end_stream(&arn).unwrap();
        let events = take_events(&mut st);
        assert_eq!(
            names(&events),
            ["Stream End", "Session Ended", "Recording End"]
        );
        assert!(events[1].code().is_none());
        let end = events[2].to_value();
        assert_eq!(
            end["detail"]["recording_session_id"],
            detail["recording_session_id"]
        );
        assert_eq!(
            end["detail"]["recording_s3_key_prefix"],
            detail["recording_s3_key_prefix"]
        );
        assert_eq!(
            end["detail"]["recording_session_stream_ids"],
            json!([connected.stream_id])
        );
        let recording_keys = [
            "channel_name",
            "stream_id",
            "recording_status",
            "recording_status_reason",
            "recording_s3_bucket_name",
            "recording_s3_key_prefix",
            "recording_duration_ms",
            "recording_session_id",
            "recording_session_stream_ids",
        ];
        let text = events[2].to_json();
        let positions: Vec<usize> = recording_keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "recording fields out of order: {text}"
        );
        assert!(st.live.is_empty());
        assert!(st.recordings.is_empty());
    }

    #[test]
    fn refused_connections() {
        let mut st = state();
        let (arn, key) = channel(&mut st, None);
        assert_eq!(
            st.connect("sk_us-west-2_unknown"),
            Err(ControlError::StreamKeyRefused)
        );
        st.connect(&key).unwrap();
        assert_eq!(
            st.connect(&key),
            Err(ControlError::ChannelLive(arn.clone()))
        );
        // Deleting the key leaves the running stream alone but admits no new connection.
        st.stream_keys.clear();
        assert!(st.live.contains_key(&arn));
        st.end_stream(&arn).unwrap();
        assert_eq!(st.connect(&key), Err(ControlError::StreamKeyRefused));
        assert_eq!(
            st.end_stream(&arn),
            Err(ControlError::ChannelNotLive(arn.clone()))
        );
        assert!(matches!(
            st.end_stream("arn:aws:ivs:us-west-2:111122223333:channel/nope"),
            Err(ControlError::ChannelNotFound(_))
        ));
    }

    #[test]
    fn starvation_events_and_state() {
        let mut st = state();
        let (arn, key) = channel(&mut st, None);
        assert_eq!(
            st.starve(&arn),
            Err(ControlError::ChannelNotLive(arn.clone()))
        );
        let stream_id = st.connect(&key).unwrap().stream_id;
        take_events(&mut st);
        st.starve(&arn).unwrap();
        assert_eq!(
            st.starve(&arn),
            Err(ControlError::AlreadyStarving(arn.clone()))
        );
        assert_eq!(st.live[&arn].health(), "STARVING");
        st.recover(&arn).unwrap();
        assert_eq!(
            st.recover(&arn),
            Err(ControlError::NotStarving(arn.clone()))
        );
        let events = take_events(&mut st);
        assert_eq!(names(&events), ["Starvation Start", "Starvation End"]);
        let value = events[0].to_value();
        assert_eq!(value["detail-type"], "IVS Stream Health Change");
        assert_eq!(
            value["detail"],
            json!({"event_name": "Starvation Start", "channel_name": "demo", "stream_id": stream_id})
        );
    }

    #[test]
    fn limit_breaches_at_channel_and_account_level() {
        let mut st = state();
        let (arn, key) = channel(&mut st, None);
        let bitrate = LimitBreach {
            limit_name: "Ingest Bitrate".to_owned(),
            channel_arn: Some(arn.clone()),
            ..Default::default()
        };
        assert_eq!(
            st.breach(&bitrate),
            Err(ControlError::ChannelNotLive(arn.clone()))
        );
        let stream_id = st.connect(&key).unwrap().stream_id;
        take_events(&mut st);
        st.breach(&bitrate).unwrap();
        let viewers = LimitBreach {
            limit_name: "Concurrent Viewers".to_owned(),
            ..Default::default()
        };
        st.breach(&viewers).unwrap();
        let events = take_events(&mut st);
        let channel_level = events[0].to_value();
        assert_eq!(channel_level["detail-type"], "IVS Limit Breach");
        assert_eq!(channel_level["resources"], json!([arn]));
        assert_eq!(
            channel_level["detail"],
            json!({"limit_name": "Ingest Bitrate", "limit_value": 8_500_000, "exceeded_by": 1_200_000,
                   "limit_unit": "bits per second", "channel_name": "demo", "stream_id": stream_id})
        );
        let account_level = events[1].to_value();
        assert_eq!(account_level["resources"], json!([]));
        assert_eq!(
            account_level["detail"],
            json!({"limit_name": "Concurrent Viewers", "limit_value": 15_000, "exceeded_by": 250, "limit_unit": "viewers"})
        );
        let misplaced = LimitBreach {
            channel_arn: Some(arn.clone()),
            ..viewers
        };
        assert!(matches!(
            st.breach(&misplaced),
            Err(ControlError::InvalidRequest(_))
        ));
        let unknown = LimitBreach {
            limit_name: "Ingest Framerate".to_owned(),
            channel_arn: Some(arn.clone()),
            ..Default::default()
        };
        assert!(matches!(
            st.breach(&unknown),
            Err(ControlError::InvalidRequest(_))
        ));
        let explained = LimitBreach {
            limit_value: Some(60),
            limit_unit: Some("frames per second".to_owned()),
            ..unknown
        };
        st.breach(&explained).unwrap();
        let session = st.sessions[&arn].last().unwrap();
        assert_eq!(
            session.events.last().unwrap().event_type,
            "IVS Limit Breach"
        );
    }

    #[test]
    fn recording_failures() {
        let mut st = state();
        let (arn, key) = channel(&mut st, Some(0));
        st.fail_next_recording(&arn, RecordingFailure::Start, None)
            .unwrap();
        st.connect(&key).unwrap();
        st.end_stream(&arn).unwrap();
        let events = take_events(&mut st);
        assert_eq!(
            names(&events),
            [
                "Session Created",
                "Stream Start",
                "Recording Start Failure",
                "Stream End",
                "Session Ended"
            ]
        );
        let failure = events[2].to_value();
        assert_eq!(
            failure["detail"]["recording_status_reason"],
            "AccessDeniedException"
        );
        assert_eq!(failure["detail"]["recording_s3_key_prefix"], "");
        assert!(st.sessions[&arn][0].has_error_event);

        st.fail_next_recording(&arn, RecordingFailure::End, Some("S3Throttled".to_owned()))
            .unwrap();
        st.connect(&key).unwrap();
        st.end_stream(&arn).unwrap();
        let events = take_events(&mut st);
        assert_eq!(names(&events).last().unwrap(), "Recording End Failure");
        let failure = events.last().unwrap().to_value();
        assert_eq!(failure["detail"]["recording_status_reason"], "S3Throttled");
        assert!(failure["detail"]
            .get("recording_session_stream_ids")
            .is_none());
        assert!(matches!(
            st.fail_next_recording(
                "arn:aws:ivs:us-west-2:111122223333:channel/nope",
                RecordingFailure::End,
                None
            ),
            Err(ControlError::ChannelNotFound(_))
        ));
    }

    #[test]
    fn reconnect_window_merges_streams_into_one_recording() {
        let mut st = state();
        let (arn, key) = channel(&mut st, Some(30));
        let first = st.connect(&key).unwrap().stream_id;
        st.end_stream(&arn).unwrap();
        let timer = st.timers.pop().unwrap();
        assert_eq!(timer.delay, std::time::Duration::from_secs(30));
        let second = st.connect(&key).unwrap().stream_id;
        // The first window's timer fires after the reconnection: nothing happens.
        st.reconnect_window_elapsed(&arn, timer.generation);
        st.end_stream(&arn).unwrap();
        let timer = st.timers.pop().unwrap();
        let events = take_events(&mut st);
        assert_eq!(
            names(&events),
            [
                "Session Created",
                "Stream Start",
                "Recording Start",
                "Stream End",
                "Session Ended",
                "Session Created",
                "Stream Start",
                "Stream End",
                "Session Ended"
            ]
        );
        st.reconnect_window_elapsed(&arn, timer.generation);
        let events = take_events(&mut st);
        assert_eq!(names(&events), ["Recording End"]);
        let end = events[0].to_value();
        assert_eq!(end["detail"]["stream_id"], second.as_str());
        assert_eq!(
            end["detail"]["recording_session_stream_ids"],
            json!([first, second])
        );
    }

    #[test]
    fn flush_and_delete_end_pending_recordings() {
        let mut st = state();
        let (arn, key) = channel(&mut st, Some(300));
        st.connect(&key).unwrap();
        st.end_stream(&arn).unwrap();
        take_events(&mut st);
        st.flush_recordings();
        assert_eq!(names(&take_events(&mut st)), ["Recording End"]);
        st.connect(&key).unwrap();
        st.end_stream(&arn).unwrap();
        take_events(&mut st);
        call(&mut st, Operation::DeleteChannel, json!({"arn": arn})).unwrap();
        let events = take_events(&mut st);
        assert_eq!(names(&events), ["Recording End"]);
        assert_eq!(events[0].to_value()["detail"]["channel_name"], "demo");
    }

    #[test]
    fn key_prefixes_are_not_zero_padded() {
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 7, 3).single().unwrap();
        assert_eq!(
            recording_key_prefix("111122223333", "AbCdEf123456", at, "R1cOrDiNg2Ab"),
            "ivs/v1/111122223333/AbCdEf123456/2026/1/5/9/7/R1cOrDiNg2Ab"
        );
    }
}
