//! The scheduled sweeper: reconciles what events missed and enforces time-based policy.
//!
//! Each run pages through the live streams and the channels (IVS's rate quotas respected: the
//! sweeper's own calls are paced, and every call backs off on throttling) and, per channel:
//! - stops a stream live longer than the channel's maximum duration (revoking the key first
//!   when asked);
//! - gives a channel whose last stream ended without its key being rotated (a missed end
//!   event) its rotation, still exactly once per stream (the same marker tags as the event
//!   function: a late end event then finds it done);
//! - rotates a key older than the rotation period on an idle channel, carrying the rotation
//!   marker forward (keys without a creation time are dated on first sight);
//! - logs one summary line (channels seen, actions taken, failures).
//!
//! What to do is a pure function ([`plan`]) of a channel snapshot; executing it is separate.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_ivs::primitives::DateTime as SdkDateTime;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::arn::{IvsArn, ResourceType};
use crate::error::Error;
use crate::ivs::{
    client_from_env, Ivs, Pacer, RetryOn, RotationMarker, TAG_CREATED_AT, TAG_ROTATED_AFTER_STREAM,
    TAG_ROTATED_AFTER_TIME,
};
use crate::policy::{ChannelPolicy, RotateOn, Settings};

/// Environment variables of the sweeper (beside the policy's).
pub mod env {
    /// Minutes a stream may stay live (0 or unset: no limit).
    pub const MAX_STREAM_MINUTES: &str = "MAX_STREAM_MINUTES";
    /// `true`: revoke the key before stopping an overdue stream (the encoder cannot return).
    pub const REVOKE_KEY_ON_MAX_DURATION: &str = "REVOKE_KEY_ON_MAX_DURATION";
    /// Days after which an idle channel's key is rotated (0 or unset: never).
    pub const KEY_ROTATION_DAYS: &str = "KEY_ROTATION_DAYS";
    /// IVS calls per second the sweeper allows itself (default 4, below IVS's 5 TPS quotas).
    pub const SWEEP_CALLS_PER_SECOND: &str = "SWEEP_CALLS_PER_SECOND";
}

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
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str, max: u64| -> Result<u64, Error> {
            match get(name) {
                None => Ok(0),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| Error::Config(format!("{name}={v:?}: expected 0 to {max}"))),
            }
        };
        let minutes = number(env::MAX_STREAM_MINUTES, 60 * 24 * 366)?;
        let days = number(env::KEY_ROTATION_DAYS, 3660)?;
        let rate = match get(env::SWEEP_CALLS_PER_SECOND) {
            None => 4,
            Some(_) => number(env::SWEEP_CALLS_PER_SECOND, 50)?.max(1) as u32,
        };
        let revoke = match get(env::REVOKE_KEY_ON_MAX_DURATION) {
            None => false,
            Some(v) => crate::policy::parse_bool(&v).ok_or_else(|| {
                Error::Config(format!(
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
        self.tags
            .get(name)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
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
            let done = snapshot.keys.iter().any(|k| {
                k.tags.get(TAG_ROTATED_AFTER_STREAM) == Some(&latest.stream_id)
                    || k.time_tag(TAG_ROTATED_AFTER_TIME)
                        .is_some_and(|t| t >= latest.ended_at)
            });
            if !done {
                return vec![SweepAction::MissedRotation {
                    marker: RotationMarker {
                        stream_id: latest.stream_id.clone(),
                        ended_at: Some(latest.ended_at),
                    },
                }];
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

/// One run's figures: the summary line, and the function's response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    pub channels_seen: usize,
    pub live_streams_seen: usize,
    pub streams_stopped: usize,
    pub missed_rotations: usize,
    pub idle_keys_rotated: usize,
    pub keys_dated: usize,
    pub failures: usize,
    pub calls: usize,
}

/// The sweeper as the scheduled function runs it.
pub struct Sweeper {
    ivs: Ivs,
    policy: Settings,
    settings: SweepSettings,
}

impl Sweeper {
    pub fn new(ivs: Ivs, policy: Settings, settings: SweepSettings) -> Self {
        Sweeper {
            ivs,
            policy,
            settings,
        }
    }

    pub async fn from_env() -> Result<Self, Error> {
        Ok(Self::new(
            Ivs::new(client_from_env().await?),
            Settings::from_env()?,
            SweepSettings::from_env()?,
        ))
    }

    /// One sweep at `now`. Fails only when the account cannot be listed (nothing could be
    /// swept; the scheduled invocation is retried); a failure on one channel is counted,
    /// logged and left for the next run.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<SweepSummary, Error> {
        let mut pacer = Pacer::new(self.settings.calls_per_second);
        let mut summary = SweepSummary::default();
        let live = self.live_streams(&mut pacer, &mut summary).await?;
        summary.live_streams_seen = live.len();
        let channels = self.channels(&mut pacer, &mut summary).await?;
        summary.channels_seen = channels.len();
        for (arn, channel_tags) in channels {
            let Ok(channel) = IvsArn::parse_as(&arn, ResourceType::Channel) else {
                warn!(channel_arn = %arn, "IVS listed a channel ARN that does not parse; skipped");
                summary.failures += 1;
                continue;
            };
            if let Err(e) = self
                .sweep_channel(channel, channel_tags, &live, now, &mut pacer, &mut summary)
                .await
            {
                summary.failures += 1;
                error!(channel_arn = %arn, error = %e, "sweeping the channel failed; the next run tries again");
            }
        }
        info!(
            channels_seen = summary.channels_seen,
            live_streams_seen = summary.live_streams_seen,
            streams_stopped = summary.streams_stopped,
            missed_rotations = summary.missed_rotations,
            idle_keys_rotated = summary.idle_keys_rotated,
            keys_dated = summary.keys_dated,
            failures = summary.failures,
            calls = summary.calls,
            "sweep summary"
        );
        Ok(summary)
    }

    async fn sweep_channel(
        &self,
        channel: IvsArn,
        channel_tags: HashMap<String, String>,
        live: &HashMap<String, LiveStream>,
        now: DateTime<Utc>,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<(), Error> {
        let (policy, warnings) = self.policy.policy_for(&channel_tags);
        for warning in warnings {
            warn!(channel_arn = %channel, "{warning}");
        }
        let mut snapshot = ChannelSnapshot {
            live: live.get(channel.as_str()).cloned(),
            arn: channel,
            tags: channel_tags,
            latest: None,
            keys: Vec::new(),
        };
        if needs_keys(&snapshot, &policy, &self.settings) {
            snapshot.latest = self.latest_ended(&snapshot.arn, pacer, summary).await?;
            summary.calls += 1;
            let keys = pacer.pace(self.ivs.list_stream_keys(&snapshot.arn)).await?;
            snapshot.keys = keys
                .iter()
                .filter_map(|k| {
                    Some(KeySnapshot {
                        arn: k.arn()?.to_owned(),
                        tags: k.tags().cloned().unwrap_or_default(),
                    })
                })
                .collect();
        }
        for action in plan(&snapshot, &policy, &self.settings, now) {
            self.apply(&snapshot.arn, &action, now, pacer, summary)
                .await?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        channel: &IvsArn,
        action: &SweepAction,
        now: DateTime<Utc>,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<(), Error> {
        summary.calls += 1;
        match action {
            SweepAction::StopOverdue {
                stream_id,
                live_for,
                revoke_key,
            } => {
                let outcome = if *revoke_key {
                    pacer.pace(self.ivs.suspend_channel(channel)).await?.stream
                } else {
                    pacer.pace(self.ivs.stop_stream(channel)).await?
                };
                summary.streams_stopped += 1;
                warn!(action = action.name(), channel_arn = %channel, stream_id = %stream_id, live_minutes = live_for.as_secs() / 60, revoke_key, outcome = outcome.as_str(), "stream live past its maximum duration stopped");
            }
            SweepAction::MissedRotation { marker } => {
                let outcome = pacer
                    .pace(self.ivs.rotate_stream_key(channel, Some(marker)))
                    .await?;
                if outcome.as_str() == "rotated" {
                    summary.missed_rotations += 1;
                }
                info!(action = action.name(), channel_arn = %channel, stream_id = %marker.stream_id, outcome = outcome.as_str(), "rotation the end event missed");
            }
            SweepAction::RotateIdleKey {
                key_arn,
                age,
                carry,
            } => {
                let outcome = pacer
                    .pace(self.ivs.replace_stream_key(channel, carry.clone()))
                    .await?;
                summary.idle_keys_rotated += 1;
                info!(action = action.name(), channel_arn = %channel, key_arn = %key_arn, age_days = age.as_secs() / 86_400, outcome = outcome.as_str(), "idle channel's old key rotated");
            }
            SweepAction::DateKey { key_arn } => {
                let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
                let client = self.ivs.client();
                pacer
                    .pace(self.ivs.call("TagResource", RetryOn::Transient, || {
                        client
                            .tag_resource()
                            .resource_arn(key_arn)
                            .tags(TAG_CREATED_AT, &stamp)
                            .send()
                    }))
                    .await?;
                summary.keys_dated += 1;
                info!(action = action.name(), channel_arn = %channel, key_arn = %key_arn, "key dated for rotation by age");
            }
        }
        Ok(())
    }

    /// Every live stream, by channel ARN.
    async fn live_streams(
        &self,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<HashMap<String, LiveStream>, Error> {
        let mut live = HashMap::new();
        let mut next: Option<String> = None;
        let client = self.ivs.client();
        loop {
            summary.calls += 1;
            let page = pacer
                .pace(self.ivs.call("ListStreams", RetryOn::Transient, || {
                    client
                        .list_streams()
                        .max_results(100)
                        .set_next_token(next.clone())
                        .send()
                }))
                .await?;
            for s in page.streams() {
                if let (Some(channel), Some(id)) = (s.channel_arn(), s.stream_id()) {
                    live.insert(
                        channel.to_owned(),
                        LiveStream {
                            stream_id: id.to_owned(),
                            started_at: to_chrono(s.start_time()).unwrap_or_else(Utc::now),
                        },
                    );
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => return Ok(live),
            }
        }
    }

    /// Every channel with its tags.
    async fn channels(
        &self,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<Vec<(String, HashMap<String, String>)>, Error> {
        let mut channels = Vec::new();
        let mut next: Option<String> = None;
        let client = self.ivs.client();
        loop {
            summary.calls += 1;
            let page = pacer
                .pace(self.ivs.call("ListChannels", RetryOn::Transient, || {
                    client
                        .list_channels()
                        .max_results(100)
                        .set_next_token(next.clone())
                        .send()
                }))
                .await?;
            for c in page.channels() {
                if let Some(arn) = c.arn() {
                    channels.push((arn.to_owned(), c.tags().cloned().unwrap_or_default()));
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => return Ok(channels),
            }
        }
    }

    /// The latest stream of an offline channel, if it ended.
    async fn latest_ended(
        &self,
        channel: &IvsArn,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<Option<EndedStream>, Error> {
        summary.calls += 1;
        let client = self.ivs.client();
        let sessions = pacer
            .pace(self.ivs.call("ListStreamSessions", RetryOn::Transient, || {
                client
                    .list_stream_sessions()
                    .channel_arn(channel.as_str())
                    .max_results(1)
                    .send()
            }))
            .await?;
        Ok(sessions.stream_sessions().first().and_then(|s| {
            Some(EndedStream {
                stream_id: s.stream_id()?.to_owned(),
                ended_at: to_chrono(s.end_time())?,
            })
        }))
    }
}

fn to_chrono(t: Option<&SdkDateTime>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl Sweeper {
    /// The Lambda entry point (any scheduled event): one sweep now. Boxed like the event
    /// functions' handler, for the same reason (deeply nested SDK futures).
    pub fn handle(
        &self,
        _event: lambda_runtime::LambdaEvent<serde_json::Value>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SweepSummary, Error>> + Send + '_>>
    {
        Box::pin(self.run(Utc::now()))
    }
}
