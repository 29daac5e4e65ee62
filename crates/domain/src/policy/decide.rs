//! The decision: what to do for one event under one channel policy. Pure: no I/O, no clock.

use chrono::SecondsFormat;

use crate::arn::IvsArn;
use crate::events::{
    HealthEventName, IvsEvent, LimitName, LimitUnit, RecordingStatus, StreamEventName,
};
use crate::rotation::RotationMarker;

use super::{ChannelPolicy, RotateOn, Template, TemplateValues};

/// Something to do. Executing it is the IVS adapter's job (`ivs_adapter::execute`).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Insert timed metadata into the live stream.
    PutMetadata {
        channel: IvsArn,
        stream_id: Option<String>,
        purpose: MetadataPurpose,
        payload: String,
    },
    /// Rotate the channel's stream key, at most once for this stream.
    RotateStreamKey {
        channel: IvsArn,
        marker: RotationMarker,
    },
    /// Revoke the channel's key, then stop its stream.
    SuspendChannel {
        channel: IvsArn,
        stream_id: Option<String>,
    },
    /// Stop the channel's stream.
    StopStream {
        channel: IvsArn,
        stream_id: Option<String>,
        reason: StopReason,
    },
    /// Write one structured log record (and do nothing else).
    Log(Notice),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataPurpose {
    StreamStart,
    StarvationStart,
    StarvationEnd,
}

impl MetadataPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataPurpose::StreamStart => "stream_start",
            MetadataPurpose::StarvationStart => "starvation_start",
            MetadataPurpose::StarvationEnd => "starvation_end",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    LimitBreach(LimitName),
    RecordingStartFailure,
}

impl StopReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::LimitBreach(_) => "limit_breach",
            StopReason::RecordingStartFailure => "recording_start_failure",
        }
    }
}

/// A log-only outcome of a decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A known event for which this channel's policy asks nothing.
    NoAction {
        why: &'static str,
    },
    /// An event or value this version does not know: acknowledged, not acted upon.
    Unrecognised {
        detail_type: String,
        name: String,
    },
    /// The event should lead to an action but lacks what the action needs.
    CannotAct {
        why: &'static str,
    },
    StreamFailure {
        reason: String,
    },
    LimitBreach {
        limit: LimitName,
        limit_value: Option<f64>,
        exceeded_by: Option<f64>,
        unit: Option<LimitUnit>,
        account_level: bool,
    },
    /// A recording finished and can be processed.
    RecordingReady {
        stream_ids: Vec<String>,
        recording_session_id: String,
        duration_ms: u64,
        /// `s3://<bucket>/<prefix>/media/hls/master.m3u8`.
        location: Option<String>,
    },
    RecordingStarted {
        recording_session_id: String,
    },
    RecordingFailure {
        status: RecordingStatus,
        reason: String,
        /// The channel must record: the stream is being stopped.
        must_record: bool,
    },
}

impl Notice {
    /// A stable name for the notice (`outcome` of a log action).
    pub fn name(&self) -> &'static str {
        match self {
            Notice::NoAction { .. } => "no_action",
            Notice::Unrecognised { .. } => "unrecognised",
            Notice::CannotAct { .. } => "cannot_act",
            Notice::StreamFailure { .. } => "stream_failure",
            Notice::LimitBreach { .. } => "limit_breach",
            Notice::RecordingReady { .. } => "recording_ready",
            Notice::RecordingStarted { .. } => "recording_started",
            Notice::RecordingFailure { .. } => "recording_failure",
        }
    }
}

/// What to do for `event` on a channel with `policy`.
///
/// `channel` is the event's channel (`resources[0]`), already validated; `None` when the
/// event names none. Unknown events and values give a single [`Notice::Unrecognised`].
pub fn decide(event: &IvsEvent, channel: Option<&IvsArn>, policy: &ChannelPolicy) -> Vec<Action> {
    let stream_id = event.stream_id().map(str::to_owned);
    let metadata = |template: &Template, purpose: MetadataPurpose| -> Action {
        match channel {
            None => Action::Log(Notice::CannotAct {
                why: "timed metadata needs the channel ARN in resources[0]",
            }),
            Some(channel) => Action::PutMetadata {
                channel: channel.clone(),
                stream_id: stream_id.clone(),
                purpose,
                payload: render(template, event, channel),
            },
        }
    };
    let unrecognised = || {
        vec![Action::Log(Notice::Unrecognised {
            detail_type: event.detail_type().to_string(),
            name: event.name().to_owned(),
        })]
    };
    let nothing = |why| vec![Action::Log(Notice::NoAction { why })];

    match event {
        IvsEvent::Unknown(_) => unrecognised(),

        IvsEvent::StreamState(e) => match &e.detail.event_name {
            StreamEventName::StreamStart => {
                if policy.suspended {
                    match channel {
                        Some(c) => vec![Action::SuspendChannel {
                            channel: c.clone(),
                            stream_id,
                        }],
                        None => vec![Action::Log(Notice::CannotAct {
                            why: "suspending needs the channel ARN in resources[0]",
                        })],
                    }
                } else if policy.start_metadata {
                    vec![metadata(
                        &policy.templates.stream_start,
                        MetadataPurpose::StreamStart,
                    )]
                } else {
                    nothing("start metadata is off for this channel")
                }
            }
            StreamEventName::StreamEnd | StreamEventName::SessionEnded if policy.suspended => {
                // A new key would let a suspended channel's broadcaster back in.
                nothing("the channel is suspended: it gets no new key")
            }
            StreamEventName::StreamEnd if policy.rotate_key_on == RotateOn::StreamEnd => {
                rotation(event, channel)
            }
            StreamEventName::SessionEnded if policy.rotate_key_on == RotateOn::SessionEnded => {
                rotation(event, channel)
            }
            StreamEventName::StreamEnd | StreamEventName::SessionEnded => {
                nothing("key rotation is not asked for on this event")
            }
            StreamEventName::StreamFailure => vec![Action::Log(Notice::StreamFailure {
                reason: e.detail.reason.clone().unwrap_or_default(),
            })],
            StreamEventName::SessionCreated
            | StreamEventName::StreamTakeover
            | StreamEventName::StreamTakeoverFailure => nothing("informational stream event"),
            StreamEventName::Other(_) => unrecognised(),
        },

        IvsEvent::StreamHealth(e) => {
            let (template, purpose) = match &e.detail.event_name {
                HealthEventName::StarvationStart => (
                    &policy.templates.starvation_start,
                    MetadataPurpose::StarvationStart,
                ),
                HealthEventName::StarvationEnd => (
                    &policy.templates.starvation_end,
                    MetadataPurpose::StarvationEnd,
                ),
                HealthEventName::Other(_) => return unrecognised(),
            };
            if policy.starvation_metadata {
                vec![metadata(template, purpose)]
            } else {
                nothing("starvation metadata is off for this channel")
            }
        }

        IvsEvent::LimitBreach(e) => {
            let d = &e.detail;
            if let LimitName::Other(_) = d.limit_name {
                return unrecognised();
            }
            let account_level = !d.limit_name.is_channel_level();
            let mut actions = vec![Action::Log(Notice::LimitBreach {
                limit: d.limit_name.clone(),
                limit_value: d.limit_value,
                exceeded_by: d.exceeded_by,
                unit: d.limit_unit.clone(),
                account_level,
            })];
            if !account_level && policy.stop_on_limit_breach {
                match channel {
                    Some(c) => actions.push(Action::StopStream {
                        channel: c.clone(),
                        stream_id,
                        reason: StopReason::LimitBreach(d.limit_name.clone()),
                    }),
                    None => actions.push(Action::Log(Notice::CannotAct {
                        why: "stopping needs the channel ARN in resources[0]",
                    })),
                }
            }
            actions
        }

        IvsEvent::Recording(e) => {
            let d = &e.detail;
            match &d.recording_status {
                RecordingStatus::RecordingStart => vec![Action::Log(Notice::RecordingStarted {
                    recording_session_id: d.recording_session_id.clone(),
                })],
                RecordingStatus::RecordingEnd => {
                    let stream_ids = match &d.recording_session_stream_ids {
                        Some(ids) if !ids.is_empty() => ids.clone(),
                        _ => stream_id.into_iter().collect(),
                    };
                    vec![Action::Log(Notice::RecordingReady {
                        stream_ids,
                        recording_session_id: d.recording_session_id.clone(),
                        duration_ms: d.recording_duration_ms,
                        location: d.hls_master_playlist(),
                    })]
                }
                RecordingStatus::RecordingStartFailure => {
                    let must_record = policy.must_record;
                    let mut actions = vec![Action::Log(Notice::RecordingFailure {
                        status: d.recording_status.clone(),
                        reason: d.recording_status_reason.clone(),
                        must_record,
                    })];
                    if must_record {
                        match channel {
                            Some(c) => actions.push(Action::StopStream {
                                channel: c.clone(),
                                stream_id,
                                reason: StopReason::RecordingStartFailure,
                            }),
                            None => actions.push(Action::Log(Notice::CannotAct {
                                why: "stopping needs the channel ARN in resources[0]",
                            })),
                        }
                    }
                    actions
                }
                RecordingStatus::RecordingEndFailure => {
                    vec![Action::Log(Notice::RecordingFailure {
                        status: d.recording_status.clone(),
                        reason: d.recording_status_reason.clone(),
                        must_record: false,
                    })]
                }
                RecordingStatus::Other(_) => unrecognised(),
            }
        }
    }
}

/// Whether [`decide`] can give different actions for `event` under different channel
/// policies: `false` for events whose decision is the same under every policy (informational
/// stream events, stream failures, account-level limit breaches, recordings that started,
/// ended or failed to end, and events this version does not know). For those the event
/// functions read no channel tags: IVS's tag quota is the tightest of the event path.
pub fn needs_policy(event: &IvsEvent) -> bool {
    match event {
        IvsEvent::Unknown(_) => false,
        IvsEvent::StreamState(e) => matches!(
            e.detail.event_name,
            StreamEventName::StreamStart
                | StreamEventName::StreamEnd
                | StreamEventName::SessionEnded
        ),
        IvsEvent::StreamHealth(e) => !matches!(e.detail.event_name, HealthEventName::Other(_)),
        IvsEvent::LimitBreach(e) => {
            !matches!(e.detail.limit_name, LimitName::Other(_))
                && e.detail.limit_name.is_channel_level()
        }
        IvsEvent::Recording(e) => {
            e.detail.recording_status == RecordingStatus::RecordingStartFailure
        }
    }
}

fn rotation(event: &IvsEvent, channel: Option<&IvsArn>) -> Vec<Action> {
    match (channel, event.stream_id()) {
        (Some(channel), Some(stream_id)) => vec![Action::RotateStreamKey {
            channel: channel.clone(),
            marker: RotationMarker {
                stream_id: stream_id.to_owned(),
                ended_at: event.time(),
            },
        }],
        (None, _) => vec![Action::Log(Notice::CannotAct {
            why: "key rotation needs the channel ARN in resources[0]",
        })],
        (Some(_), None) => vec![Action::Log(Notice::CannotAct {
            why: "key rotation needs the stream id to happen exactly once",
        })],
    }
}

fn render(template: &Template, event: &IvsEvent, channel: &IvsArn) -> String {
    let time = event
        .time()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default();
    template.render(&TemplateValues {
        channel_name: event.channel_name().unwrap_or(""),
        channel_arn: channel.as_str(),
        channel_id: channel.id(),
        stream_id: event.stream_id().unwrap_or(""),
        event_time: &time,
    })
}
