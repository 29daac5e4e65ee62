//! The sweep plan: what the scheduled sweeper does for one channel, as a pure function of a
//! snapshot of it ([`plan`]). The sweeper function (`functions/sweeper`) pages through the
//! channels, takes the snapshots and executes the actions.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::arn::IvsArn;
use crate::config::{parse_bool, ConfigError};
use crate::policy::{ChannelPolicy, RotateOn};
use crate::rotation::{
    time_tag, RotationMarker, TAG_CREATED_AT, TAG_ROTATED_AFTER_STREAM, TAG_ROTATED_AFTER_TIME,
};

/// Environment variables of the sweeper (beside the policy's).
pub mod env {
    /// Minutes a stream may stay live (0 or unset: no limit).
    pub const MAX_STREAM_MINUTES: &str = "MAX_STREAM_MINUTES";
    /// `true`: revoke the key before stopping an overdue stream (the encoder cannot return).
    pub const REVOKE_KEY_ON_MAX_DURATION: &str = "REVOKE_KEY_ON_MAX_DURATION";
    /// Days after which an idle channel's key is rotated (0 or unset: never).
    pub const KEY_ROTATION_DAYS: &str = "KEY_ROTATION_DAYS";
    /// IVS calls per second the sweeper allows itself, all operations together (default 4, below
    /// IVS's 5 TPS quotas); each operation is also kept to the sweeper's share of its quota
    /// (`domain::rate`, `IVS_RATE_SHARE`).
    pub const SWEEP_CALLS_PER_SECOND: &str = "SWEEP_CALLS_PER_SECOND";
}

/// The most `SWEEP_CALLS_PER_SECOND` may be (the template's SweepCallsPerSecond too), at IVS's
/// own quotas; with `IVS_RATE_FACTOR` (an emulator's scaled quotas) that many times more.
pub const MAX_CALLS_PER_SECOND: f64 = 50.0;

/// Channel tags overriding the sweeper's defaults.
pub mod tags {
    pub const MAX_STREAM_MINUTES: &str = "ivs-automation:max-stream-minutes";
    pub const KEY_ROTATION_DAYS: &str = "ivs-automation:key-rotation-days";
}

/// The sweeper's deployment defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSettings {
    pub max_stream: Option<Duration>,
    pub revoke_on_max_duration: bool,
    pub key_rotation: Option<Duration>,
    pub calls_per_second: u32,
}

impl SweepSettings {
    /// The settings from any variable source (the sweeper passes its environment). An
    /// invalid value is an error naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str, max: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(0),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| ConfigError(format!("{name}={v:?}: expected 0 to {max}"))),
            }
        };
        let minutes = number(env::MAX_STREAM_MINUTES, 60 * 24 * 366)?;
        let days = number(env::KEY_ROTATION_DAYS, 3660)?;
        // At most 50, as the template's parameter; × IVS_RATE_FACTOR when IVS's quotas are
        // scaled (an emulator's fast runs: crate::rate), as every budget is. An invalid factor
        // is reported by the rate settings.
        let factor = get(crate::rate::IVS_RATE_FACTOR)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f >= 1.0)
            .unwrap_or(1.0);
        let rate = match get(env::SWEEP_CALLS_PER_SECOND) {
            None => 4,
            Some(_) => number(
                env::SWEEP_CALLS_PER_SECOND,
                (MAX_CALLS_PER_SECOND * factor) as u64,
            )?
            .max(1) as u32,
        };
        let revoke = match get(env::REVOKE_KEY_ON_MAX_DURATION) {
            None => false,
            Some(v) => parse_bool(&v).ok_or_else(|| {
                ConfigError(format!(
                    "{}={v:?}: expected true or false",
                    env::REVOKE_KEY_ON_MAX_DURATION
                ))
            })?,
        };
        Ok(SweepSettings {
            max_stream: (minutes > 0).then(|| Duration::from_secs(minutes * 60)),
            revoke_on_max_duration: revoke,
            key_rotation: (days > 0).then(|| Duration::from_secs(days * 86_400)),
            calls_per_second: rate,
        })
    }
}

/// A live stream, as ListStreams reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveStream {
    pub stream_id: String,
    pub started_at: DateTime<Utc>,
}

/// The latest stream of an offline channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedStream {
    pub stream_id: String,
    pub ended_at: DateTime<Utc>,
}

/// A stream key and the automation's tags on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySnapshot {
    pub arn: String,
    pub tags: HashMap<String, String>,
}

impl KeySnapshot {
    fn time_tag(&self, name: &str) -> Option<DateTime<Utc>> {
        time_tag(&self.tags, name)
    }
}

/// What the sweeper knows of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSnapshot {
    pub arn: IvsArn,
    pub tags: HashMap<String, String>,
    pub live: Option<LiveStream>,
    /// Only read for offline channels whose policy may need it.
    pub latest: Option<EndedStream>,
    pub keys: Vec<KeySnapshot>,
}

/// Something the sweeper does.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepAction {
    StopOverdue {
        stream_id: String,
        live_for: Duration,
        revoke_key: bool,
    },
    MissedRotation {
        marker: RotationMarker,
    },
    RotateIdleKey {
        key_arn: String,
        age: Duration,
        carry: HashMap<String, String>,
    },
    DateKey {
        key_arn: String,
    },
}

impl SweepAction {
    pub fn name(&self) -> &'static str {
        match self {
            SweepAction::StopOverdue { .. } => "stop_overdue_stream",
            SweepAction::MissedRotation { .. } => "missed_rotation",
            SweepAction::RotateIdleKey { .. } => "rotate_idle_key",
            SweepAction::DateKey { .. } => "date_key",
        }
    }
}

/// The channel's maximum stream duration and key rotation period: its tags, else the defaults.
/// A tag that does not read as whole minutes/days is ignored (with a warning at execution).
fn limits(
    snapshot: &ChannelSnapshot,
    settings: &SweepSettings,
) -> (Option<Duration>, Option<Duration>) {
    let tag = |name: &str, unit: u64| -> Option<Option<Duration>> {
        let value = snapshot.tags.get(name)?.trim().parse::<u64>().ok()?;
        Some((value > 0).then(|| Duration::from_secs(value.saturating_mul(unit))))
    };
    (
        tag(tags::MAX_STREAM_MINUTES, 60).unwrap_or(settings.max_stream),
        tag(tags::KEY_ROTATION_DAYS, 86_400).unwrap_or(settings.key_rotation),
    )
}

/// Whether a snapshot of this channel needs its latest session and keys (offline, and a
/// rotation policy that could act).
pub fn needs_keys(
    snapshot: &ChannelSnapshot,
    policy: &ChannelPolicy,
    settings: &SweepSettings,
) -> bool {
    snapshot.live.is_none()
        && !policy.suspended
        && (policy.rotate_key_on != RotateOn::Never || limits(snapshot, settings).1.is_some())
}

/// What to do for one channel at `now`. Pure.
pub fn plan(
    snapshot: &ChannelSnapshot,
    policy: &ChannelPolicy,
    settings: &SweepSettings,
    now: DateTime<Utc>,
) -> Vec<SweepAction> {
    let (max_stream, key_rotation) = limits(snapshot, settings);
    if let Some(live) = &snapshot.live {
        let live_for = (now - live.started_at).to_std().unwrap_or_default();
        return match max_stream {
            Some(max) if live_for > max => vec![SweepAction::StopOverdue {
                stream_id: live.stream_id.clone(),
                live_for,
                revoke_key: settings.revoke_on_max_duration,
            }],
            _ => Vec::new(),
        };
    }
    if policy.suspended {
        // A suspended channel keeps no key: nothing to rotate or date.
        return Vec::new();
    }
    if policy.rotate_key_on != RotateOn::Never {
        if let Some(latest) = &snapshot.latest {
            let marker = RotationMarker {
                stream_id: latest.stream_id.clone(),
                ended_at: Some(latest.ended_at),
            };
            // The same rule as the event path's (domain::rotation).
            if !snapshot
                .keys
                .iter()
                .any(|k| marker.settled_by(&k.tags).is_some())
            {
                return vec![SweepAction::MissedRotation { marker }];
            }
        }
    }
    let Some(period) = key_rotation else {
        return Vec::new();
    };
    snapshot
        .keys
        .iter()
        .filter_map(|key| match key.time_tag(TAG_CREATED_AT) {
            None => Some(SweepAction::DateKey {
                key_arn: key.arn.clone(),
            }),
            Some(created) => {
                let age = (now - created).to_std().unwrap_or_default();
                (age > period).then(|| SweepAction::RotateIdleKey {
                    key_arn: key.arn.clone(),
                    age,
                    carry: key
                        .tags
                        .iter()
                        .filter(|(k, _)| {
                            *k == TAG_ROTATED_AFTER_STREAM || *k == TAG_ROTATED_AFTER_TIME
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .chain([(
                            TAG_CREATED_AT.to_owned(),
                            now.to_rfc3339_opts(SecondsFormat::Secs, true),
                        )])
                        .collect(),
                })
            }
        })
        .collect()
}
