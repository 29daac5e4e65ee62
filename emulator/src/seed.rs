//! Seeding: thousands of channels at once (with their stream keys and tags, a share of them
//! live, past stream sessions), straight into the state: no API rate quota, no statistics, no
//! per-channel log line. `POST /_emulator/seed` and [`Emulator::seed_channels`](crate::Emulator::seed_channels).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ControlError;
use crate::events::STREAM_STATE_CHANGE;
use crate::model::StreamEvent;
use crate::state::{format_time, Session, State};
use crate::validate::{self, Input, Tags};

/// The most channels one seed may ask for (and the highest channel quota it may set).
pub const MAX_SEED_CHANNELS: usize = 1_000_000;

/// The name prefix when the spec gives none.
pub const DEFAULT_NAME_PREFIX: &str = "seeded-";

/// How long each past session lasted, and the gap between two of them.
const PAST_SESSION_LENGTH: TimeDelta = TimeDelta::minutes(30);
const PAST_SESSION_SPACING: TimeDelta = TimeDelta::hours(1);

/// What to seed. In JSON (camelCase): `{"channels": 50000, "namePrefix": "show-", "tags":
/// {"team": "a"}, "live": 0.1, "liveStartedSecondsAgo": 0, "pastSessions": 2, "emitEvents":
/// false, "channelQuota": 60000, "channel": {"type": "BASIC"}}`; only `channels` is required.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedSpec {
    /// How many channels to create.
    pub channels: usize,
    /// Channel `i` (from 0) is named `<prefix><i>`, `i` zero-padded to the width of the largest
    /// index; empty means [`DEFAULT_NAME_PREFIX`].
    #[serde(default)]
    pub name_prefix: String,
    /// The tags of every seeded channel (IVS's tag rules apply).
    #[serde(default)]
    pub tags: Tags,
    /// How many of them are live: a count, or a share of them (spread evenly over the channels).
    #[serde(default)]
    pub live: Live,
    /// The live streams started this many seconds ago (0: now).
    #[serde(default)]
    pub live_started_seconds_ago: u64,
    /// Ended stream sessions per channel, before the live one: an hour apart, 30 minutes each,
    /// with their stream state events (`Session Created`, `Stream Start`, `Stream End`, `Session
    /// Ended`) as `truncatedEvents`.
    #[serde(default)]
    pub past_sessions: u32,
    /// Whether the live streams emit their events (`Session Created`, `Stream Start`, and the
    /// recording's) to the event log and the delivery targets, as a connect does. Off by default:
    /// the streams are live, their sessions list their events, and nothing is delivered.
    #[serde(default)]
    pub emit_events: bool,
    /// Sets the account's channel quota first (it must leave room for the existing channels and
    /// the seeded ones). Without it, the seed must fit in the quota in force
    /// ([`Quotas::channels`](crate::Quotas::channels), 5,000 by default).
    #[serde(default)]
    pub channel_quota: Option<usize>,
    /// CreateChannel members for every channel (`latencyMode`, `type`, `authorized`,
    /// `recordingConfigurationArn`…), validated as CreateChannel validates them; `name` and
    /// `tags` come from the fields above.
    #[serde(default)]
    pub channel: Option<Map<String, Value>>,
}

/// How many seeded channels are live. In JSON: an integer is a count (`250`, or `50000` for all
/// of 50,000); a number strictly between 0 and 1 is a share (`0.1`).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "serde_json::Number")]
pub enum Live {
    /// This many channels.
    Count(usize),
    /// This share of the channels (0 to 1), rounded to the nearest count.
    Fraction(f64),
}

impl Default for Live {
    fn default() -> Self {
        Live::Count(0)
    }
}

impl TryFrom<serde_json::Number> for Live {
    type Error = String;

    fn try_from(number: serde_json::Number) -> Result<Self, Self::Error> {
        if let Some(count) = number.as_u64() {
            return usize::try_from(count)
                .map(Live::Count)
                .map_err(|_| format!("live: {count} is too many"));
        }
        match number.as_f64() {
            Some(share) if share > 0.0 && share < 1.0 => Ok(Live::Fraction(share)),
            Some(count) if count >= 0.0 && count.fract() == 0.0 && count <= 1e15 => {
                // An integral float (1.0, as some JSON writers write 1): a count.
                Ok(Live::Count(count as usize))
            }
            _ => Err(format!(
                "live must be a count (an integer >= 0) or a share strictly between 0 and 1, not {number}"
            )),
        }
    }
}

impl Live {
    /// How many of `channels` channels are live (at most all of them).
    pub fn count_of(self, channels: usize) -> usize {
        match self {
            Live::Count(count) => count.min(channels),
            Live::Fraction(share) => {
                let share = if share.is_finite() {
                    share.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                // `channels` is at most MAX_SEED_CHANNELS: exact in an f64.
                ((channels as f64 * share).round() as usize).min(channels)
            }
        }
    }
}

/// A seeded channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeededChannel {
    /// The channel's ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Its stream key's ARN.
    pub stream_key_arn: String,
    /// Its stream key's value (a secret, as CreateChannel returns it).
    pub stream_key: String,
    /// The live stream's id, when the channel is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
}

fn invalid(message: impl Into<String>) -> ControlError {
    ControlError::InvalidRequest(message.into())
}

/// Whether channel `index` of `total` is one of the `live` live ones (spread evenly).
fn is_live(index: usize, total: usize, live: usize) -> bool {
    let (index, total, live) = (index as u128, total as u128, live as u128);
    total > 0 && (index + 1) * live / total > index * live / total
}

/// The CreateChannel request of every channel, without its name.
fn template(spec: &SeedSpec) -> Result<Input, ControlError> {
    validate::check_tags("tags", &spec.tags).map_err(|err| invalid(err.message))?;
    let mut input = Input::default();
    for (name, value) in spec.channel.iter().flatten() {
        if name == "name" || name == "tags" {
            return Err(invalid(format!(
                "channel.{name}: give it as the seed's namePrefix or tags"
            )));
        }
        input.set(name, value.clone());
    }
    let tags = spec
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    input.set("tags", Value::Object(tags));
    Ok(input)
}

impl State {
    /// Seeds the channels `spec` describes: all of them, or none when the spec is refused.
    pub(crate) fn seed(&mut self, spec: &SeedSpec) -> Result<Vec<SeededChannel>, ControlError> {
        if spec.channels > MAX_SEED_CHANNELS {
            return Err(invalid(format!(
                "channels: at most {MAX_SEED_CHANNELS} per seed"
            )));
        }
        let prefix = if spec.name_prefix.is_empty() {
            DEFAULT_NAME_PREFIX
        } else {
            spec.name_prefix.as_str()
        };
        let width = spec.channels.saturating_sub(1).to_string().len();
        let longest = format!("{prefix}{:0width$}", spec.channels.saturating_sub(1));
        validate::resource_name("namePrefix", &longest).map_err(|err| invalid(err.message))?;
        let template = template(spec)?;
        let quota = spec.channel_quota.unwrap_or(self.quotas.channels);
        if quota > MAX_SEED_CHANNELS {
            return Err(invalid(format!(
                "channelQuota: at most {MAX_SEED_CHANNELS}"
            )));
        }
        let needed = self.channels.len() + spec.channels;
        if needed > quota {
            return Err(invalid(format!(
                "{} channels exist and {} more would exceed the channel quota of {quota}; raise it with channelQuota (or Config.quotas.channels)",
                self.channels.len(),
                spec.channels
            )));
        }
        let live_started_ago =
            TimeDelta::from_std(Duration::from_secs(spec.live_started_seconds_ago))
                .ok()
                .filter(|ago| *ago <= TimeDelta::days(3650))
                .ok_or_else(|| invalid("liveStartedSecondsAgo: at most ten years"))?;
        if spec.past_sessions > 1_000 {
            return Err(invalid("pastSessions: at most 1000 per channel"));
        }

        let previous_quota = std::mem::replace(&mut self.quotas.channels, quota);
        let live = spec.live.count_of(spec.channels);
        let now = self.now();
        let live_start = now - live_started_ago;
        let mut seeded = Vec::with_capacity(spec.channels);
        for index in 0..spec.channels {
            let mut input = template.clone();
            let name = format!("{prefix}{index:0width$}");
            input.set("name", Value::String(name.clone()));
            let (arn, key_arn) = match crate::ops::channels::insert(self, &input) {
                Ok(created) => created,
                Err(err) if index == 0 => {
                    self.quotas.channels = previous_quota;
                    return Err(invalid(format!("channel: {}", err.message)));
                }
                Err(err) => {
                    // Every channel has the same settings: only the first can be refused.
                    return Err(invalid(format!(
                        "channel {index} refused after {index} were created: {}",
                        err.message
                    )));
                }
            };
            self.seed_past_sessions(&arn, spec.past_sessions, live_start);
            let stream_id = if is_live(index, spec.channels, live) {
                Some(self.seed_live(&arn, live_start, spec.emit_events)?)
            } else {
                None
            };
            let stream_key = self
                .stream_keys
                .get(&key_arn)
                .map(|key| key.value.clone())
                .unwrap_or_default();
            seeded.push(SeededChannel {
                arn,
                name,
                stream_key_arn: key_arn,
                stream_key,
                stream_id,
            });
        }
        tracing::info!(
            channels = spec.channels,
            live,
            past_sessions = spec.past_sessions,
            emit_events = spec.emit_events,
            "channels seeded"
        );
        Ok(seeded)
    }

    /// The channel goes live as a connect makes it, at `started_at`, with or without events.
    fn seed_live(
        &mut self,
        channel_arn: &str,
        started_at: DateTime<Utc>,
        emit_events: bool,
    ) -> Result<String, ControlError> {
        self.clock = Some(started_at);
        self.silent = !emit_events;
        let connected = self.go_live(channel_arn.to_owned());
        self.clock = None;
        self.silent = false;
        Ok(connected?.stream_id)
    }

    /// `count` ended sessions of `channel_arn`, the last one ending 30 minutes before `before`.
    fn seed_past_sessions(&mut self, channel_arn: &str, count: u32, before: DateTime<Utc>) {
        let Some(channel) = self.channels.get(channel_arn).cloned() else {
            return;
        };
        let recording_configuration = self
            .recording_configurations
            .get(&channel.recording_configuration_arn)
            .cloned();
        for ago in (1..=count).rev() {
            let start = before - PAST_SESSION_SPACING * i32::try_from(ago).unwrap_or(i32::MAX);
            let end = start + PAST_SESSION_LENGTH;
            let (start, end) = (format_time(start), format_time(end));
            let event = |name: &str, at: &str| StreamEvent {
                name: name.to_owned(),
                event_type: STREAM_STATE_CHANGE.to_owned(),
                event_time: at.to_owned(),
                code: None,
            };
            let events = vec![
                event("Session Created", &start),
                event("Stream Start", &start),
                event("Stream End", &end),
                event("Session Ended", &end),
            ];
            self.session_seq += 1;
            let session = Session {
                seq: self.session_seq,
                stream_id: self.ids.stream_id(),
                start_time: start,
                end_time: Some(end),
                channel: channel.clone(),
                recording_configuration: recording_configuration.clone(),
                events,
                has_error_event: false,
            };
            self.sessions
                .entry(channel_arn.to_owned())
                .or_default()
                .push(session);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ops::test_support::{call, state};
    use crate::ops::Operation;

    fn spec(value: Value) -> SeedSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn live_counts_and_shares() {
        assert_eq!(
            spec(json!({"channels": 10, "live": 3})).live,
            Live::Count(3)
        );
        assert_eq!(
            spec(json!({"channels": 10, "live": 0.25})).live,
            Live::Fraction(0.25)
        );
        assert_eq!(
            spec(json!({"channels": 10, "live": 1.0})).live,
            Live::Count(1)
        );
        for bad in [json!(-1), json!(1.5), json!("all")] {
            let parsed = serde_json::from_value::<SeedSpec>(json!({"channels": 1, "live": bad}));
            assert!(parsed.is_err(), "{bad}");
        }
        assert_eq!(Live::Fraction(0.1).count_of(50_000), 5_000);
        assert_eq!(Live::Count(7).count_of(5), 5);
        let spread: Vec<usize> = (0..10).filter(|i| is_live(*i, 10, 3)).collect();
        assert_eq!(spread.len(), 3);
        assert_eq!((0..10).filter(|i| is_live(*i, 10, 10)).count(), 10);
        assert_eq!((0..10).filter(|i| is_live(*i, 10, 0)).count(), 0);
    }

    #[test]
    fn seeds_channels_keys_tags_live_streams_and_sessions() {
        let mut st = state();
        let spec = spec(json!({
            "channels": 12,
            "namePrefix": "show-",
            "tags": {"team": "a"},
            "live": 0.25,
            "pastSessions": 2,
            "channel": {"type": "BASIC", "latencyMode": "NORMAL"}
        }));
        let seeded = st.seed(&spec).unwrap();
        assert_eq!(seeded.len(), 12);
        assert_eq!(seeded[0].name, "show-00");
        assert_eq!(seeded[11].name, "show-11");
        assert_eq!(st.channels.len(), 12);
        assert_eq!(st.stream_keys.len(), 12);
        let live: Vec<_> = seeded.iter().filter(|c| c.stream_id.is_some()).collect();
        assert_eq!(live.len(), 3);
        assert_eq!(st.live.len(), 3);
        assert!(
            st.events.is_empty() && st.outbox.is_empty(),
            "no events by default"
        );
        for channel in &seeded {
            let stored = &st.channels[&channel.arn];
            assert_eq!(stored.channel_type, "BASIC");
            assert_eq!(stored.latency_mode, "NORMAL");
            assert_eq!(stored.tags["team"], "a");
            let key = &st.stream_keys[&channel.stream_key_arn];
            assert_eq!(key.channel_arn, channel.arn);
            assert_eq!(key.value, channel.stream_key);
            let sessions = &st.sessions[&channel.arn];
            let expected = if channel.stream_id.is_some() { 3 } else { 2 };
            assert_eq!(sessions.len(), expected);
        }
        let arn = &live[0].arn;
        let listed = call(
            &mut st,
            Operation::ListStreamSessions,
            json!({"channelArn": arn}),
        )
        .unwrap();
        let sessions = listed["streamSessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 3);
        assert_eq!(
            sessions[0]["streamId"],
            live[0].stream_id.clone().unwrap().as_str()
        );
        assert!(sessions[0].get("endTime").is_none());
        assert!(sessions[1]["endTime"].is_string() && sessions[2]["endTime"].is_string());
        let past = call(
            &mut st,
            Operation::GetStreamSession,
            json!({"channelArn": arn, "streamId": sessions[2]["streamId"]}),
        )
        .unwrap();
        let names: Vec<_> = past["streamSession"]["truncatedEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "Session Ended",
                "Stream End",
                "Stream Start",
                "Session Created"
            ]
        );
        // A seeded live stream ends like any other.
        st.end_stream(arn).unwrap();
        assert_eq!(st.live.len(), 2);
    }

    #[test]
    fn events_when_asked_and_a_start_in_the_past() {
        let mut st = state();
        let spec = spec(json!({
            "channels": 2, "live": 2, "emitEvents": true, "liveStartedSecondsAgo": 7200
        }));
        st.seed(&spec).unwrap();
        let names: Vec<_> = st.events.iter().map(|e| e.name().to_owned()).collect();
        assert_eq!(
            names,
            [
                "Session Created",
                "Stream Start",
                "Session Created",
                "Stream Start"
            ]
        );
        let started = st.live.values().next().unwrap().started_at;
        let ago = Utc::now() - started;
        assert!(
            ago >= TimeDelta::seconds(7199) && ago < TimeDelta::seconds(7300),
            "{ago}"
        );
        assert!(st.clock.is_none() && !st.silent);
    }

    #[test]
    fn the_channel_quota_holds_unless_the_seed_raises_it() {
        let mut st = state();
        st.quotas.channels = 10;
        call(&mut st, Operation::CreateChannel, json!({})).unwrap();
        let err = st.seed(&spec(json!({"channels": 10}))).unwrap_err();
        assert!(err.to_string().contains("channelQuota"), "{err}");
        assert_eq!(st.channels.len(), 1, "nothing seeded");
        st.seed(&spec(json!({"channels": 10, "channelQuota": 11})))
            .unwrap();
        assert_eq!(st.channels.len(), 11);
        assert_eq!(st.quotas.channels, 11);
    }

    #[test]
    fn bad_specs_change_nothing() {
        let mut st = state();
        for bad in [
            json!({"channels": 3, "namePrefix": "bad name"}),
            json!({"channels": 3, "tags": {"aws:x": "y"}}),
            json!({"channels": 3, "channel": {"type": "HUGE"}}),
            json!({"channels": 3, "channel": {"name": "x"}}),
            json!({"channels": 3, "channel": {"recordingConfigurationArn":
                "arn:aws:ivs:us-west-2:111122223333:recording-configuration/missing0000"}}),
            json!({"channels": 3, "channelQuota": 2}),
        ] {
            let err = st.seed(&spec(bad.clone())).unwrap_err();
            assert!(
                matches!(err, ControlError::InvalidRequest(_)),
                "{bad}: {err}"
            );
            assert!(st.channels.is_empty(), "{bad}");
            assert_eq!(st.quotas.channels, 5_000, "{bad}");
        }
        assert!(serde_json::from_value::<SeedSpec>(json!({"channels": 1, "other": 1})).is_err());
    }
}
