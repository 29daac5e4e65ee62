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
//! - logs one summary line (channels seen, actions taken, failures, whether the pass
//!   completed).
//!
//! It knows its invocation's deadline ([`Sweeper::run_until`], set from the Lambda context):
//! it stops starting channels when less than [`deadline_margin`] is left, and returns
//! success with `complete: false` and the last channel it swept, instead of being killed by
//! the timeout. The channels are listed and swept one page at a time.
//!
//! What to do is a pure function ([`plan`]) of a channel snapshot; executing it is separate.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_ivs::primitives::DateTime as SdkDateTime;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tracing::{error, info, warn};

use domain::arn::{IvsArn, ResourceType};
use domain::policy::Settings;
use domain::rotation::TAG_CREATED_AT;
pub use domain::sweep::*;

use ivs_adapter::error::Error;
use ivs_adapter::ivs::{client_from_env, env_var, with_deadline, Ivs, Pacer, RetryOn};

/// Time kept free before the invocation's deadline: no channel is started later than this
/// (at most; see [`deadline_margin`]). One channel is a few paced calls, each of which gives
/// up its retries [`ivs_adapter::ivs::RETRY_MARGIN`] before the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The margin for a run with `time_left` at its start: [`DEADLINE_MARGIN`], or a quarter of
/// the time left when that is shorter (a short timeout still leaves time to sweep).
pub fn deadline_margin(time_left: Duration) -> Duration {
    DEADLINE_MARGIN.min(time_left / 4)
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
    /// Every channel was visited (false: the run stopped before its deadline).
    pub complete: bool,
    /// The last channel this run swept, when it stopped before the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_after: Option<String>,
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
            Settings::from_lookup(env_var)?,
            SweepSettings::from_lookup(env_var)?,
        ))
    }

    /// One sweep at `now`, to the end whatever it takes. Fails only when the account cannot
    /// be listed (nothing could be swept; the scheduled invocation is retried); a failure on
    /// one channel is counted, logged and left for the next run.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<SweepSummary, Error> {
        self.run_until(now, None).await
    }

    /// One sweep at `now` that starts no channel once less than [`deadline_margin`] is left
    /// before `deadline` (`None`: no deadline), and whose IVS calls give up their retries
    /// before it. Stopping early is success: `complete` is false and `stopped_after` names
    /// the last channel swept.
    pub async fn run_until(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SweepSummary, Error> {
        let work = self.sweep(now, deadline);
        let summary = match deadline {
            Some(deadline) => with_deadline(deadline, work).await?,
            None => work.await?,
        };
        info!(
            channels_seen = summary.channels_seen,
            live_streams_seen = summary.live_streams_seen,
            streams_stopped = summary.streams_stopped,
            missed_rotations = summary.missed_rotations,
            idle_keys_rotated = summary.idle_keys_rotated,
            keys_dated = summary.keys_dated,
            failures = summary.failures,
            calls = summary.calls,
            complete = summary.complete,
            stopped_after = summary.stopped_after.as_deref().unwrap_or(""),
            "sweep summary"
        );
        Ok(summary)
    }

    async fn sweep(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SweepSummary, Error> {
        let margin = deadline.map(|d| deadline_margin(d.saturating_duration_since(Instant::now())));
        let out_of_time = || match (deadline, margin) {
            (Some(deadline), Some(margin)) => {
                deadline.saturating_duration_since(Instant::now()) < margin
            }
            _ => false,
        };
        let mut pacer = Pacer::new(self.settings.calls_per_second);
        let mut summary = SweepSummary::default();
        let live = self.live_streams(&mut pacer, &mut summary).await?;
        summary.live_streams_seen = live.len();
        let mut next: Option<String> = None;
        let mut last: Option<String> = None;
        loop {
            if out_of_time() {
                return Ok(stopped(summary, last));
            }
            let (channels, token) = self
                .channel_page(next.take(), &mut pacer, &mut summary)
                .await?;
            for (arn, channel_tags) in channels {
                if out_of_time() {
                    return Ok(stopped(summary, last));
                }
                summary.channels_seen += 1;
                last = Some(arn.clone());
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
            match token {
                Some(t) => next = Some(t),
                None => {
                    summary.complete = true;
                    return Ok(summary);
                }
            }
        }
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

    /// One page of channels with their tags, and the token of the next page (`None`: the last).
    async fn channel_page(
        &self,
        token: Option<String>,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<(Vec<(String, HashMap<String, String>)>, Option<String>), Error> {
        let client = self.ivs.client();
        summary.calls += 1;
        let page = pacer
            .pace(self.ivs.call("ListChannels", RetryOn::Transient, || {
                client
                    .list_channels()
                    .max_results(100)
                    .set_next_token(token.clone())
                    .send()
            }))
            .await?;
        let channels = page
            .channels()
            .iter()
            .filter_map(|c| Some((c.arn()?.to_owned(), c.tags().cloned().unwrap_or_default())))
            .collect();
        let next = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok((channels, next))
    }

    /// The latest stream of an offline channel, if it ended.
    async fn latest_ended(
        &self,
        channel: &IvsArn,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<Option<EndedStream>, Error> {
        summary.calls += 1;
        let latest = pacer.pace(self.ivs.latest_stream_session(channel)).await?;
        Ok(latest.and_then(|s| {
            Some(EndedStream {
                stream_id: s.stream_id()?.to_owned(),
                ended_at: to_chrono(s.end_time())?,
            })
        }))
    }
}

/// The summary of a run that stopped before its deadline, after `last`.
fn stopped(mut summary: SweepSummary, last: Option<String>) -> SweepSummary {
    warn!(
        channels_seen = summary.channels_seen,
        stopped_after = last.as_deref().unwrap_or(""),
        "the invocation's deadline is near: sweep stopped before the end"
    );
    summary.complete = false;
    summary.stopped_after = last;
    summary
}

/// The Lambda context's deadline (milliseconds since the epoch) as an instant; `None` for 0
/// (no deadline given).
pub fn invocation_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

fn to_chrono(t: Option<&SdkDateTime>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

impl Sweeper {
    /// The Lambda entry point (any scheduled event): one sweep now, until the invocation's
    /// deadline. Boxed like the event functions' handler, for the same reason (deeply nested
    /// SDK futures).
    pub fn handle(
        &self,
        event: lambda_runtime::LambdaEvent<serde_json::Value>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SweepSummary, Error>> + Send + '_>>
    {
        let deadline = invocation_deadline(event.context.deadline);
        Box::pin(self.run_until(Utc::now(), deadline))
    }
}
