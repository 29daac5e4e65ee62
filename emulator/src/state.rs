//! The emulated account: every resource, live stream, session, recording and event, behind one
//! lock. Operations and ingest actions mutate it synchronously; the events they emit and the
//! timers they need are queued in `outbox` and `timers`, which the [`Emulator`](crate::Emulator)
//! drains after each action (so this module needs no async runtime).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::{Config, Quotas};
use crate::events::{is_error_event, Detail, Event};
use crate::ids::{self, Arn, IdGen, ResourceKind};
use crate::metadata::{RateWindow, RecordedMetadata};
use crate::model::{
    AdConfiguration, Channel, PlaybackKeyPair, PlaybackRestrictionPolicy, RecordingConfiguration,
    StreamEvent, StreamKey,
};
use crate::validate::Tags;

/// The most recent events a stream session keeps (`truncatedEvents`).
pub const MAX_SESSION_EVENTS: usize = 500;

/// Formats a time as IVS does: ISO-8601 to the second, in UTC (`2026-01-05T10:00:00Z`).
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A channel that is live.
#[derive(Clone, Debug)]
pub(crate) struct LiveStream {
    pub stream_id: String,
    pub started_at: DateTime<Utc>,
    pub starving: bool,
    pub viewer_count: u64,
}

impl LiveStream {
    pub fn health(&self) -> &'static str {
        if self.starving {
            "STARVING"
        } else {
            "HEALTHY"
        }
    }
}

/// A stream session: one stream of a channel, live or ended.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// Creation order across the account (sessions list newest first).
    pub seq: u64,
    pub stream_id: String,
    pub start_time: String,
    pub end_time: Option<String>,
    /// The channel as it was when the stream started (shared with the channel until it changes).
    pub channel: Arc<Channel>,
    /// The recording configuration as it was when the stream started.
    pub recording_configuration: Option<RecordingConfiguration>,
    /// Oldest first; at most [`MAX_SESSION_EVENTS`].
    pub events: Vec<StreamEvent>,
    pub has_error_event: bool,
}

/// A recording session of a channel: started with a stream, possibly merging the streams that
/// reconnect within the configuration's reconnect window.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    pub session_id: String,
    pub configuration_arn: String,
    pub bucket: String,
    pub key_prefix: String,
    pub started_at: DateTime<Utc>,
    pub stream_ids: Vec<String>,
    /// The stream has ended and the reconnect window runs: `Some(generation)` of the timer that
    /// will end the recording.
    pub pending_end: Option<u64>,
}

/// Recording failures asked for with `fail_next_recording`, by phase (the reason to report).
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordingFailures {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A request to end a recording after its reconnect window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Timer {
    pub channel_arn: String,
    pub generation: u64,
    pub delay: Duration,
}

/// A viewer-session revocation IVS accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    /// The channel.
    pub channel_arn: String,
    /// The viewer.
    pub viewer_id: String,
    /// Sessions of this version and older are revoked.
    pub viewer_session_versions_less_than_or_equal_to: i64,
}

/// Prefixes IVS assigns per account for ingest and playback hosts.
#[derive(Clone, Debug)]
pub(crate) struct AccountHosts {
    pub ingest: String,
    pub playback: String,
    pub srt: String,
}

/// The emulated account.
#[derive(Debug)]
pub(crate) struct State {
    pub region: String,
    pub account: String,
    pub ids: IdGen,
    pub quotas: Quotas,
    pub metadata_rate_limit: Option<u32>,
    /// How long a new recording configuration stays `CREATING`.
    pub recording_configuration_delay: Duration,
    pub hosts: AccountHosts,
    /// Shared with the stream sessions that snapshot them; changed with `Arc::make_mut`.
    pub channels: BTreeMap<String, Arc<Channel>>,
    pub stream_keys: BTreeMap<String, StreamKey>,
    pub playback_key_pairs: BTreeMap<String, PlaybackKeyPair>,
    pub recording_configurations: BTreeMap<String, RecordingConfiguration>,
    pub playback_restriction_policies: BTreeMap<String, PlaybackRestrictionPolicy>,
    pub ad_configurations: BTreeMap<String, AdConfiguration>,
    pub live: BTreeMap<String, LiveStream>,
    /// Per channel, oldest first.
    pub sessions: BTreeMap<String, Vec<Session>>,
    pub session_seq: u64,
    pub recordings: BTreeMap<String, Recording>,
    pub recording_generation: u64,
    pub recording_failures: BTreeMap<String, RecordingFailures>,
    pub metadata: Vec<RecordedMetadata>,
    pub metadata_windows: BTreeMap<String, RateWindow>,
    pub revocations: Vec<Revocation>,
    pub events: Vec<Event>,
    pub outbox: Vec<Event>,
    pub timers: Vec<Timer>,
    /// While set (seeding without events), `emit` records events in their stream sessions only:
    /// not in the event log, not for delivery.
    pub silent: bool,
    /// While set (seeding streams that started in the past), the time `now` reports.
    pub clock: Option<DateTime<Utc>>,
}

impl State {
    pub fn new(config: &Config) -> Self {
        let mut ids = IdGen::new(config.seed);
        let hosts = AccountHosts {
            ingest: ids.hex(12),
            playback: ids.hex(12),
            srt: ids.hex(12),
        };
        Self {
            region: config.region.clone(),
            account: config.account.clone(),
            ids,
            quotas: config.quotas.clone(),
            metadata_rate_limit: config.metadata_rate_limit,
            recording_configuration_delay: config.recording_configuration_delay,
            hosts,
            channels: BTreeMap::new(),
            stream_keys: BTreeMap::new(),
            playback_key_pairs: BTreeMap::new(),
            recording_configurations: BTreeMap::new(),
            playback_restriction_policies: BTreeMap::new(),
            ad_configurations: BTreeMap::new(),
            live: BTreeMap::new(),
            sessions: BTreeMap::new(),
            session_seq: 0,
            recordings: BTreeMap::new(),
            recording_generation: 0,
            recording_failures: BTreeMap::new(),
            metadata: Vec::new(),
            metadata_windows: BTreeMap::new(),
            revocations: Vec::new(),
            events: Vec::new(),
            outbox: Vec::new(),
            timers: Vec::new(),
            silent: false,
            clock: None,
        }
    }

    /// The current time (or the time `clock` holds).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    /// A new ARN of `kind` in this account and region.
    pub fn new_arn(&mut self, kind: ResourceKind) -> String {
        let id = self.ids.resource_id();
        ids::arn(&self.region, &self.account, kind, &id)
    }

    /// The tags of the resource `arn`, if it exists.
    pub fn tags_mut(&mut self, arn: &str) -> Option<&mut Tags> {
        match Arn::parse(arn)?.kind {
            ResourceKind::Channel => self
                .channels
                .get_mut(arn)
                .map(|r| &mut Arc::make_mut(r).tags),
            ResourceKind::StreamKey => self.stream_keys.get_mut(arn).map(|r| &mut r.tags),
            ResourceKind::PlaybackKeyPair => {
                self.playback_key_pairs.get_mut(arn).map(|r| &mut r.tags)
            }
            ResourceKind::RecordingConfiguration => self
                .recording_configurations
                .get_mut(arn)
                .map(|r| &mut r.tags),
            ResourceKind::PlaybackRestrictionPolicy => self
                .playback_restriction_policies
                .get_mut(arn)
                .map(|r| &mut r.tags),
            ResourceKind::AdConfiguration => {
                self.ad_configurations.get_mut(arn).map(|r| &mut r.tags)
            }
            ResourceKind::FailoverSlateConfiguration => None,
        }
    }

    /// Makes `ACTIVE` the recording configurations whose `CREATING` time is over. Runs before
    /// every action on the state, so that whoever looks next sees the configuration as IVS would
    /// show it then.
    pub fn settle_recording_configurations(&mut self, now: Instant) {
        for configuration in self.recording_configurations.values_mut() {
            configuration.settle(now);
        }
    }

    /// The session of `channel_arn` with `stream_id`.
    pub fn session_mut(&mut self, channel_arn: &str, stream_id: &str) -> Option<&mut Session> {
        self.sessions
            .get_mut(channel_arn)?
            .iter_mut()
            .rev()
            .find(|session| session.stream_id == stream_id)
    }

    /// Emits an event about `channel_arn` (or about the account when `None`): appends it to the
    /// event log, to the stream session it concerns, and to the outbox for delivery.
    pub fn emit(&mut self, channel_arn: Option<&str>, detail: Detail) {
        let time = self.now();
        let event = Event {
            version: "0",
            id: self.ids.uuid(),
            detail_type: detail.detail_type(),
            source: "aws.ivs",
            account: self.account.clone(),
            time: format_time(time),
            region: self.region.clone(),
            resources: channel_arn
                .map(|arn| vec![arn.to_owned()])
                .unwrap_or_default(),
            detail,
        };
        let stream_id = match &event.detail {
            Detail::StreamState(d) => Some(d.stream_id.clone()),
            Detail::StreamHealth(d) => Some(d.stream_id.clone()),
            Detail::LimitBreach(d) => d.stream_id.clone(),
            Detail::Recording(d) => Some(d.stream_id.clone()),
        };
        if let (Some(arn), Some(stream_id)) = (channel_arn, stream_id) {
            let entry = StreamEvent {
                name: event.name().to_owned(),
                event_type: event.detail_type.to_owned(),
                event_time: event.time.clone(),
                code: event.code().map(str::to_owned),
            };
            if let Some(session) = self.session_mut(arn, &stream_id) {
                session.has_error_event |= is_error_event(&entry.name, entry.code.as_deref());
                session.events.push(entry);
                if session.events.len() > MAX_SESSION_EVENTS {
                    let excess = session.events.len() - MAX_SESSION_EVENTS;
                    session.events.drain(..excess);
                }
            }
        }
        if self.silent {
            return;
        }
        tracing::debug!(detail_type = event.detail_type, name = event.name(), id = %event.id, "event emitted");
        self.events.push(event.clone());
        self.outbox.push(event);
    }
}
