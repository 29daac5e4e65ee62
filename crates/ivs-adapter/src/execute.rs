//! Carrying out the actions of a decision, one structured log line per action.
//!
//! Actions run in order; the first failure stops the run and is returned, so that the event is
//! retried as a whole. Every action is idempotent (rotation is once per stream id, stopping and
//! suspending an offline channel succeed), so a retry redoes nothing harmful.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{error, info, warn};

use crate::error::Error;
use crate::ivs::{Ivs, RotateOutcome, StopOutcome};
use domain::lifecycle::{self, Lifecycle, RotationTrigger, StopRule, SuspendedBy};
use domain::metrics::{ACTIONS, DIM_ACTION, DIM_OUTCOME};
use domain::policy::{Action, Notice, StopReason};

/// What one action did, for the function's response and for tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    pub action: &'static str,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
}

/// What the actions are executed for: the lifecycle events they cause are built from it.
#[derive(Clone, Copy, Debug)]
pub struct Cause<'a> {
    /// The IVS event's id (makes a fact's id stable when it has no stream id).
    pub event_id: &'a str,
    /// When the IVS event happened.
    pub at: DateTime<Utc>,
    /// What a rotation among the actions follows.
    pub trigger: RotationTrigger,
}

/// Executes `actions` in order. Returns a report per action, or the first failure.
pub async fn execute(ivs: &Ivs, actions: &[Action]) -> Result<Vec<ActionReport>, Error> {
    let cause = Cause {
        event_id: "",
        at: Utc::now(),
        trigger: RotationTrigger::StreamEnd,
    };
    let mut facts = Vec::new();
    execute_for(ivs, actions, &cause, &mut facts).await
}

/// Executes `actions` in order for `cause`, adding the lifecycle events they cause to
/// `facts` (a key rotated, a channel suspended, a stream stopped). Returns a report per
/// action, or the first failure. Each action is counted in the `Actions` metric by outcome
/// (`failed` for a failure).
pub async fn execute_for(
    ivs: &Ivs,
    actions: &[Action],
    cause: &Cause<'_>,
    facts: &mut Vec<Lifecycle>,
) -> Result<Vec<ActionReport>, Error> {
    let mut reports = Vec::with_capacity(actions.len());
    for action in actions {
        let result = execute_one(ivs, action, cause, facts).await;
        if let Some(m) = ivs.metrics() {
            let outcome = match &result {
                Ok(report) => report.outcome.as_str(),
                Err(_) => "failed",
            };
            let name = match (action, &result) {
                (_, Ok(report)) => report.action,
                (action, Err(_)) => action_name(action),
            };
            m.count(ACTIONS, &[(DIM_ACTION, name), (DIM_OUTCOME, outcome)], 1);
        }
        reports.push(result?);
    }
    Ok(reports)
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::PutMetadata { .. } => "put_metadata",
        Action::RotateStreamKey { .. } => "rotate_stream_key",
        Action::SuspendChannel { .. } => "suspend_channel",
        Action::StopStream { .. } => "stop_stream",
        Action::Log(_) => "log",
    }
}

async fn execute_one(
    ivs: &Ivs,
    action: &Action,
    cause: &Cause<'_>,
    facts: &mut Vec<Lifecycle>,
) -> Result<ActionReport, Error> {
    let report =
        |action: &'static str, outcome: &str, channel: &dyn ToString, stream: &Option<String>| {
            ActionReport {
                action,
                outcome: outcome.to_owned(),
                channel_arn: Some(channel.to_string()),
                stream_id: stream.clone(),
            }
        };
    match action {
        Action::PutMetadata {
            channel,
            stream_id,
            purpose,
            payload,
        } => {
            let outcome = ivs.put_metadata(channel, payload).await.inspect_err(|e| {
                error!(action = "put_metadata", channel_arn = %channel, stream_id = stream_id.as_deref().unwrap_or(""), purpose = purpose.as_str(), error = %e, "timed metadata failed");
            })?;
            info!(
                action = "put_metadata",
                channel_arn = %channel,
                stream_id = stream_id.as_deref().unwrap_or(""),
                purpose = purpose.as_str(),
                outcome = outcome.as_str(),
                bytes = payload.len(),
                "timed metadata"
            );
            Ok(report("put_metadata", outcome.as_str(), channel, stream_id))
        }
        Action::RotateStreamKey { channel, marker } => {
            let stream_id = Some(marker.stream_id.clone());
            let outcome = ivs
                .rotate_stream_key(channel, Some(marker))
                .await
                .inspect_err(|e| {
                    error!(action = "rotate_stream_key", channel_arn = %channel, stream_id = %marker.stream_id, error = %e, "stream key rotation failed");
                })?;
            match &outcome {
                RotateOutcome::Rotated { new_key, revoked } => {
                    facts.push(lifecycle::stream_key_rotated(
                        channel,
                        &new_key.arn,
                        revoked,
                        Some(&marker.stream_id),
                        cause.trigger,
                        cause.at,
                    ))
                }
                // The key a retry finds made: the same fact, the same id.
                RotateOutcome::AlreadyRotated { key_arn } => {
                    facts.push(lifecycle::stream_key_rotated(
                        channel,
                        key_arn,
                        &[],
                        Some(&marker.stream_id),
                        cause.trigger,
                        cause.at,
                    ))
                }
                RotateOutcome::Stale { .. } => {}
            }
            match &outcome {
                RotateOutcome::Rotated { new_key, revoked } => info!(
                    action = "rotate_stream_key",
                    channel_arn = %channel,
                    stream_id = %marker.stream_id,
                    outcome = outcome.as_str(),
                    new_key_arn = %new_key.arn,
                    revoked = %revoked.join(","),
                    "stream key rotated"
                ),
                RotateOutcome::AlreadyRotated { key_arn } => info!(
                    action = "rotate_stream_key",
                    channel_arn = %channel,
                    stream_id = %marker.stream_id,
                    outcome = outcome.as_str(),
                    key_arn = %key_arn,
                    "stream key already rotated after this stream"
                ),
                RotateOutcome::Stale {
                    key_arn,
                    rotated_after_stream,
                } => info!(
                    action = "rotate_stream_key",
                    channel_arn = %channel,
                    stream_id = %marker.stream_id,
                    outcome = outcome.as_str(),
                    key_arn = %key_arn,
                    rotated_after_stream = %rotated_after_stream,
                    "stream key already rotated after a later stream; late event ignored"
                ),
            }
            Ok(report(
                "rotate_stream_key",
                outcome.as_str(),
                channel,
                &stream_id,
            ))
        }
        Action::SuspendChannel { channel, stream_id } => {
            let outcome = ivs.suspend_channel(channel).await.inspect_err(|e| {
                error!(action = "suspend_channel", channel_arn = %channel, stream_id = stream_id.as_deref().unwrap_or(""), error = %e, "suspending the channel failed");
            })?;
            let stream = stream_id.as_deref();
            facts.push(lifecycle::channel_suspended(
                channel,
                SuspendedBy::Policy,
                stream.unwrap_or(cause.event_id),
                stream,
                &outcome.revoked,
                outcome.stream == StopOutcome::Stopped,
                cause.at,
            ));
            facts.push(lifecycle::stream_stopped(
                channel,
                stream,
                cause.event_id,
                &StopRule::Suspended,
                None,
                outcome.stream == StopOutcome::Stopped,
                cause.at,
            ));
            warn!(
                action = "suspend_channel",
                channel_arn = %channel,
                stream_id = stream_id.as_deref().unwrap_or(""),
                outcome = outcome.stream.as_str(),
                revoked = %outcome.revoked.join(","),
                "suspended channel went live: key revoked, stream stopped"
            );
            Ok(report(
                "suspend_channel",
                outcome.stream.as_str(),
                channel,
                stream_id,
            ))
        }
        Action::StopStream {
            channel,
            stream_id,
            reason,
        } => {
            let outcome = ivs.stop_stream(channel).await.inspect_err(|e| {
                error!(action = "stop_stream", channel_arn = %channel, stream_id = stream_id.as_deref().unwrap_or(""), reason = reason.as_str(), error = %e, "stopping the stream failed");
            })?;
            let rule = match reason {
                StopReason::LimitBreach(limit) => StopRule::LimitBreach(limit.to_string()),
                StopReason::RecordingStartFailure => StopRule::RecordingStartFailure,
            };
            facts.push(lifecycle::stream_stopped(
                channel,
                stream_id.as_deref(),
                cause.event_id,
                &rule,
                None,
                outcome == StopOutcome::Stopped,
                cause.at,
            ));
            warn!(
                action = "stop_stream",
                channel_arn = %channel,
                stream_id = stream_id.as_deref().unwrap_or(""),
                reason = reason.as_str(),
                outcome = outcome.as_str(),
                "stream stopped"
            );
            Ok(report("stop_stream", outcome.as_str(), channel, stream_id))
        }
        Action::Log(notice) => {
            log_notice(notice);
            Ok(ActionReport {
                action: "log",
                outcome: notice.name().to_owned(),
                channel_arn: None,
                stream_id: None,
            })
        }
    }
}

/// The event's identity (channel, stream, id) is on the handler's span, so the records here
/// carry only what the notice adds.
fn log_notice(notice: &Notice) {
    let notice_kind = notice.name();
    match notice {
        Notice::NoAction { why } => info!(notice = notice_kind, why, "no action"),
        Notice::Unrecognised { detail_type, name } => warn!(
            notice = notice_kind,
            detail_type = %detail_type,
            name = %name,
            "unrecognised event acknowledged without action"
        ),
        Notice::CannotAct { why } => {
            error!(notice = notice_kind, why, "event cannot be acted upon")
        }
        Notice::StreamFailure { reason } => {
            warn!(notice = notice_kind, reason = %reason, "stream failure")
        }
        Notice::LimitBreach {
            limit,
            limit_value,
            exceeded_by,
            unit,
            account_level,
        } => warn!(
            notice = notice_kind,
            limit = %limit,
            limit_value = *limit_value,
            exceeded_by = *exceeded_by,
            unit = unit.as_ref().map(|u| u.as_str()).unwrap_or(""),
            account_level,
            "IVS limit breached"
        ),
        Notice::RecordingReady {
            stream_ids,
            recording_session_id,
            duration_ms,
            location,
        } => info!(
            notice = notice_kind,
            stream_ids = ?stream_ids,
            recording_session_id = %recording_session_id,
            duration_ms,
            location = location.as_deref().unwrap_or(""),
            "recording ready"
        ),
        Notice::RecordingStarted {
            recording_session_id,
        } => info!(
            notice = notice_kind,
            recording_session_id = %recording_session_id,
            "recording started"
        ),
        Notice::RecordingFailure {
            status,
            reason,
            must_record,
        } => error!(
            notice = notice_kind,
            status = %status,
            reason = %reason,
            must_record,
            "recording failed"
        ),
    }
}
