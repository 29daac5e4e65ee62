//! The scheduled sweeper: reconciles what events missed and enforces time-based policy.
//!
//! Each run lists the live streams and stops the overdue ones first (their channels' tags read
//! 50 at a time with BatchGetChannel), then checks the channels that were live at the last run
//! and are offline now (each ended a stream since: a missed rotation is repaired within one
//! schedule interval, not a whole pass; the live set is kept in the state table), then pages
//! through the channels from where the last
//! run stopped (IVS's rate quotas respected: the sweeper's own calls are paced, and every call
//! backs off on throttling; each operation's calls stay inside the sweeper's share of its
//! quota, [`SWEEPER_RATE_SHARE`], and all of them under `SWEEP_CALLS_PER_SECOND`) and, per
//! channel:
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
//! the timeout. The channels are listed and swept one page at a time; with a state table
//! ([`state`]) the position is saved after each page and the next run resumes there, and a
//! lease keeps a second run from sweeping at the same time.
//!
//! What to do is a pure function ([`plan`]) of a channel snapshot; executing it is separate.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ivs::primitives::DateTime as SdkDateTime;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tracing::{error, info, warn};

use domain::arn::{IvsArn, ResourceType};
use domain::policy::Settings;
use domain::rotation::TAG_CREATED_AT;
pub use domain::sweep::*;

use domain::lifecycle::{self, Lifecycle, RotationTrigger, StopRule};
use domain::metrics::{
    DIM_ACTION, SWEEP_CHANNELS_VISITED, SWEEP_PASS_COMPLETED, SWEEP_PASS_DURATION, SWEEP_REPAIRS,
    SWEEP_STREAMS_STOPPED,
};
use domain::rate::RateSettings;
use ivs_adapter::error::{Error, IvsErrorKind};
use ivs_adapter::handler::invocation_deadline;
use ivs_adapter::ivs::RotateOutcome;
use ivs_adapter::ivs::{aws_from_env, env_var, with_deadline, Ivs, Pacer, RateBudget, RetryOn};
use ivs_adapter::metrics::Metrics;
use ivs_adapter::publish::{KeptEvent, Publisher, LIFECYCLE_EVENT_BUS};

/// The sweeper's share of each of IVS's rate quotas when `IVS_RATE_SHARE` is unset (one
/// container: `IVS_RATE_CONCURRENCY` 1). The event functions and the platform's own back end
/// keep the rest; `SWEEP_CALLS_PER_SECOND` still caps the sweeper's calls of all operations
/// together.
pub const SWEEPER_RATE_SHARE: f64 = 0.2;

pub mod state;
use state::{lease_until, Lease, Position, StateError, StateStore, SWEEP_STATE_TABLE};

/// The most lifecycle events kept in the state item while EventBridge does not take them
/// (an item holds at most 400 KB): with this many waiting, a run stops before doing more.
pub const MAX_PENDING_EVENTS: usize = 200;

/// The most live channels remembered for the next run (about 16 bytes each in the state item,
/// which holds at most 400 KB with the pending lifecycle events).
pub const MAX_LIVE_TRACKED: usize = 10_000;

/// Lambda's longest timeout: how long a lease lasts when the run has no deadline.
const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// Time kept free before the invocation's deadline: no channel is started later than this
/// (at most; see [`deadline_margin`]). One channel is a few paced calls, each of which gives
/// up its retries [`ivs_adapter::ivs::RETRY_MARGIN`] before the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The margin for a run with `time_left` at its start: [`DEADLINE_MARGIN`], or a quarter of
/// the time left when that is shorter (a short timeout still leaves time to sweep), but never
/// less than [`MIN_DEADLINE_MARGIN`]: closer to the deadline than
/// [`ivs_adapter::ivs::RETRY_MARGIN`], IVS calls are refused, and a channel or a page started
/// there would fail instead of being left to the next run.
pub fn deadline_margin(time_left: Duration) -> Duration {
    DEADLINE_MARGIN.min(time_left / 4).max(MIN_DEADLINE_MARGIN)
}

/// The least margin: [`ivs_adapter::ivs::RETRY_MARGIN`] and a second for the channel's calls.
pub const MIN_DEADLINE_MARGIN: Duration =
    Duration::from_secs(ivs_adapter::ivs::RETRY_MARGIN.as_secs() + 1);

/// One run's figures: the summary line, and the function's response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    pub channels_seen: usize,
    pub live_streams_seen: usize,
    pub streams_stopped: usize,
    pub missed_rotations: usize,
    /// Channels live at the last run and offline at this one's start, checked first.
    pub ended_checked: usize,
    pub idle_keys_rotated: usize,
    pub keys_dated: usize,
    pub failures: usize,
    pub calls: usize,
    /// Every channel was visited (false: the run stopped before its deadline).
    pub complete: bool,
    /// The last channel this run swept, when it stopped before the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_after: Option<String>,
    /// When the pass this run worked on started (a pass may take several runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_started_at: Option<String>,
    /// Channels swept in that pass so far, over every run.
    pub pass_channels_seen: u64,
    /// This run went on from where the last one stopped.
    pub resumed: bool,
    /// IVS no longer accepted the saved page token: the pass started again from the first page.
    pub pass_restarted: bool,
    /// Another run held the lease: this one did nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_held_by: Option<String>,
}

/// The sweeper as the scheduled function runs it.
pub struct Sweeper {
    ivs: Ivs,
    policy: Settings,
    settings: SweepSettings,
    state: Option<StateStore>,
    publisher: Publisher,
    metrics: Arc<Metrics>,
    /// The lifecycle events of the run's actions since the last save.
    facts: Mutex<Vec<Lifecycle>>,
    /// How many lifecycle events wait in the state item (see [`MAX_PENDING_EVENTS`]).
    backlog: AtomicUsize,
    /// The channels whose stream this run stopped (their end is the event path's to handle,
    /// not the next run's to check).
    stopped: Mutex<HashSet<String>>,
}

impl Sweeper {
    pub fn new(ivs: Ivs, policy: Settings, settings: SweepSettings) -> Self {
        let metrics = Arc::new(Metrics::from_env("sweeper"));
        Sweeper {
            ivs: ivs.with_metrics(metrics.clone()),
            policy,
            settings,
            state: None,
            publisher: Publisher::off(),
            metrics,
            facts: Mutex::new(Vec::new()),
            backlog: AtomicUsize::new(0),
            stopped: Mutex::new(HashSet::new()),
        }
    }

    /// The same sweeper, publishing its lifecycle events (streams stopped, keys rotated,
    /// missed rotations repaired) with `publisher`. What EventBridge does not take is kept in
    /// the state table and published by the next run.
    pub fn with_publisher(mut self, publisher: Publisher) -> Self {
        self.publisher = publisher;
        self
    }

    /// The figures counted since the last flush.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The same sweeper, saving its position and taking its lease in `store`.
    pub fn with_state(mut self, store: StateStore) -> Self {
        self.state = Some(store);
        self
    }

    /// The sweeper from the environment: IVS (every call inside the sweeper's share of each
    /// quota, [`SWEEPER_RATE_SHARE`] by default: `domain::rate`), the policy, the sweep
    /// settings, and the state
    /// table `SWEEP_STATE_TABLE` when set (DynamoDB, reached at `AWS_ENDPOINT_URL_DYNAMODB` when
    /// set; the SDK retries its calls up to three times).
    pub async fn from_env() -> Result<Self, Error> {
        let aws = aws_from_env().await?;
        let budget = RateBudget::new(RateSettings::from_lookup(env_var, SWEEPER_RATE_SHARE)?);
        let sweeper = Self::new(
            Ivs::new(aws_sdk_ivs::Client::new(&aws.config)).with_budget(Arc::new(budget)),
            Settings::from_lookup(env_var)?,
            SweepSettings::from_lookup(env_var)?,
        )
        .with_publisher(Publisher::new(&aws.config, env_var(LIFECYCLE_EVENT_BUS)));
        Ok(
            match env_var(SWEEP_STATE_TABLE).filter(|t| !t.trim().is_empty()) {
                None => sweeper,
                Some(table) => {
                    let config = aws_sdk_dynamodb::config::Builder::from(&aws.config)
                        .retry_config(
                            aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                                .with_max_attempts(3),
                        )
                        .build();
                    sweeper.with_state(StateStore::new(
                        aws_sdk_dynamodb::Client::from_conf(config),
                        table,
                    ))
                }
            },
        )
    }

    /// One sweep at `now`, to the end whatever it takes. Fails only when the account cannot
    /// be listed (nothing could be swept; the scheduled invocation is retried); a failure on
    /// one channel is counted, logged and left for the next run.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<SweepSummary, SweepError> {
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
    ) -> Result<SweepSummary, SweepError> {
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
            ended_checked = summary.ended_checked,
            idle_keys_rotated = summary.idle_keys_rotated,
            keys_dated = summary.keys_dated,
            failures = summary.failures,
            calls = summary.calls,
            complete = summary.complete,
            stopped_after = summary.stopped_after.as_deref().unwrap_or(""),
            pass_started_at = summary.pass_started_at.as_deref().unwrap_or(""),
            pass_channels_seen = summary.pass_channels_seen,
            resumed = summary.resumed,
            pass_restarted = summary.pass_restarted,
            lease_held_by = summary.lease_held_by.as_deref().unwrap_or(""),
            "sweep summary"
        );
        self.count(&summary, now);
        Ok(summary)
    }

    /// Counts the run's figures (written at the end of the invocation).
    fn count(&self, summary: &SweepSummary, now: DateTime<Utc>) {
        let m = &self.metrics;
        m.count(SWEEP_CHANNELS_VISITED, &[], summary.channels_seen as u64);
        m.count(SWEEP_STREAMS_STOPPED, &[], summary.streams_stopped as u64);
        for (action, n) in [
            ("missed_rotation", summary.missed_rotations),
            ("rotate_idle_key", summary.idle_keys_rotated),
            ("date_key", summary.keys_dated),
        ] {
            if n > 0 {
                m.count(SWEEP_REPAIRS, &[(DIM_ACTION, action)], n as u64);
            }
        }
        if summary.complete {
            m.count(SWEEP_PASS_COMPLETED, &[], 1);
            let started = summary
                .pass_started_at
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            if let Some(started) = started {
                let took = (Utc::now().max(now) - started.with_timezone(&Utc)).num_seconds();
                m.value(SWEEP_PASS_DURATION, &[], took.max(0) as f64);
            }
        }
    }

    async fn sweep(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SweepSummary, SweepError> {
        let time_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let margin = time_left.map(deadline_margin);
        let out_of_time = || {
            let backlog_full = self.backlog.load(Ordering::Relaxed) >= MAX_PENDING_EVENTS;
            if backlog_full {
                warn!(pending = MAX_PENDING_EVENTS, "EventBridge has not taken this many lifecycle events: the run stops until it does");
            }
            backlog_full
                || match (deadline, margin) {
                    (Some(deadline), Some(margin)) => {
                        deadline.saturating_duration_since(Instant::now()) < margin
                    }
                    _ => false,
                }
        };
        let mut summary = SweepSummary::default();
        // The saved position, and the lease on it (when a state table is configured).
        let (mut position, mut version, lease) = match &self.state {
            None => (Position::new_pass(now), 0, None),
            Some(store) => match self.take_lease(store, now, time_left).await? {
                Taken::Yes {
                    position,
                    version,
                    lease,
                    resumed,
                } => {
                    summary.resumed = resumed;
                    (position, version, Some(lease))
                }
                Taken::No { holder } => {
                    info!(lease_owner = %holder.owner, lease_expires = %holder.expires, "another sweep run holds the lease: this one exits");
                    summary.lease_held_by = Some(holder.owner);
                    return Ok(summary);
                }
            },
        };
        // What earlier runs could not publish goes first.
        self.backlog
            .store(position.pending_events.len(), Ordering::Relaxed);
        let mut state = Saving {
            version: &mut version,
            lease: lease.as_ref(),
        };
        if !position.pending_events.is_empty() {
            self.save(&mut state, &mut position, true).await?;
        }
        let mut pacer = Pacer::new(self.settings.calls_per_second);
        let result = self
            .pass(
                now,
                &out_of_time,
                &mut position,
                &mut state,
                &mut pacer,
                &mut summary,
            )
            .await;
        summary.pass_started_at = Some(
            position
                .pass_started
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        summary.pass_channels_seen = position.pass_channels;
        match result {
            Ok(()) => Ok(summary),
            Err(SweepError::State(StateError::Conflict)) => {
                warn!("another run wrote the sweep state since this one read it: this one stops");
                summary.complete = false;
                summary.stopped_after = summary.stopped_after.take().or(position.after);
                Ok(summary)
            }
            Err(e) => {
                // Free the lease at once (best effort; it expires anyway), keeping the position.
                if let (Some(store), Some(_)) = (&self.state, state.lease) {
                    if let Ok(mut facts) = self.facts.lock() {
                        position.pending_events.extend(
                            facts
                                .drain(..)
                                .filter_map(|f| serde_json::to_string(&KeptEvent::from(&f)).ok()),
                        );
                    }
                    if let Err(release) = store.save(*state.version, &position, None).await {
                        warn!(error = %release, "the sweep lease could not be released; it expires on its own");
                    }
                }
                Err(e)
            }
        }
    }

    /// Reads the saved state and takes the lease, unless another run holds it.
    async fn take_lease(
        &self,
        store: &StateStore,
        now: DateTime<Utc>,
        time_left: Option<Duration>,
    ) -> Result<Taken, SweepError> {
        let saved = store.load().await?;
        let wall = Utc::now();
        if let Some(holder) = saved.lease.filter(|l| l.expires > wall) {
            return Ok(Taken::No { holder });
        }
        let (position, resumed) = match saved.position {
            Some(p) if !p.complete => (p, true),
            Some(p) => (
                Position {
                    pending_events: p.pending_events,
                    live_seen: p.live_seen,
                    ..Position::new_pass(now)
                },
                false,
            ),
            None => (Position::new_pass(now), false),
        };
        let lease = Lease {
            owner: uuid::Uuid::new_v4().to_string(),
            expires: lease_until(wall, time_left.unwrap_or(LAMBDA_MAX_TIMEOUT)),
        };
        match store.save(saved.version, &position, Some(&lease)).await {
            Ok(version) => Ok(Taken::Yes {
                position,
                version,
                lease,
                resumed,
            }),
            Err(StateError::Conflict) => {
                // Another run wrote the item between the read and this write: it holds it.
                let holder = store.load().await?.lease.unwrap_or(Lease {
                    owner: "another run".to_owned(),
                    expires: wall,
                });
                Ok(Taken::No { holder })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The pass from `position` on, page by page, saving the position after each page and
    /// when stopping for the deadline.
    async fn pass(
        &self,
        now: DateTime<Utc>,
        out_of_time: &(dyn Fn() -> bool + Send + Sync),
        position: &mut Position,
        state: &mut Saving<'_>,
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> Result<(), SweepError> {
        let live = self.live_streams(pacer, summary).await?;
        summary.live_streams_seen = live.len();
        // Overdue live streams first, whatever page the pass is on.
        let mut judged = self
            .stop_overdue(&live, now, out_of_time, pacer, summary)
            .await;
        // Then the channels live at the last run and offline now: each ended a stream since,
        // whose rotation the event path may have missed. Checked now rather than when the
        // pass reaches them (a pass over thousands of channels takes hours).
        let ended: Vec<String> = position
            .live_seen
            .iter()
            .filter(|arn| !live.contains_key(*arn) && !judged.contains(*arn))
            .cloned()
            .collect();
        let stopped_now = self
            .stopped
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        let mut seen: Vec<String> = live
            .keys()
            .filter(|arn| !stopped_now.contains(*arn))
            .cloned()
            .collect();
        if !ended.is_empty() {
            let checked = self
                .sweep_ended(&ended, &live, now, out_of_time, pacer, summary)
                .await;
            // What the deadline left unchecked stays for the next run.
            seen.extend(ended.iter().filter(|a| !checked.contains(*a)).cloned());
            judged.extend(checked);
        }
        seen.sort();
        if seen.len() > MAX_LIVE_TRACKED {
            // The state item holds at most 400 KB: past this many, the pass finds the rest.
            warn!(
                live = seen.len(),
                kept = MAX_LIVE_TRACKED,
                "more live channels than the sweep state keeps: the others' ends are left to the pass"
            );
            seen.truncate(MAX_LIVE_TRACKED);
        }
        position.live_seen = seen;
        let mut last: Option<String> = None;
        loop {
            if out_of_time() {
                self.save(state, position, false).await?;
                stopped(summary, last);
                return Ok(());
            }
            let token = position.page_token.clone();
            let (channels, next) = match self.channel_page(token.clone(), pacer, summary).await {
                Ok(page) => page,
                Err(e) if token.is_some() && e.ivs_kind() == Some(IvsErrorKind::Invalid) => {
                    warn!(error = %e, "IVS no longer accepts the saved ListChannels page token: the pass restarts from the first channel");
                    summary.pass_restarted = true;
                    *position = Position::new_pass(now);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // Resuming inside a page: skip what the last run swept (all of it when the channel
            // it stopped after is gone).
            let skip = position
                .after
                .as_ref()
                .and_then(|after| channels.iter().position(|(arn, _)| arn == after))
                .map_or(0, |i| i + 1);
            for (arn, channel_tags) in channels.into_iter().skip(skip) {
                if out_of_time() {
                    self.save(state, position, false).await?;
                    stopped(summary, last);
                    return Ok(());
                }
                summary.channels_seen += 1;
                position.pass_channels += 1;
                position.after = Some(arn.clone());
                last = Some(arn.clone());
                if judged.contains(&arn) {
                    // Its live stream was judged at the start of this run.
                    continue;
                }
                let Ok(channel) = IvsArn::parse_as(&arn, ResourceType::Channel) else {
                    warn!(channel_arn = %arn, "IVS listed a channel ARN that does not parse; skipped");
                    summary.failures += 1;
                    continue;
                };
                if let Err(e) = self
                    .sweep_channel(channel, channel_tags, &live, now, pacer, summary)
                    .await
                {
                    summary.failures += 1;
                    error!(channel_arn = %arn, error = %e, "sweeping the channel failed; the next run tries again");
                }
            }
            position.page_token = next;
            position.after = None;
            if position.page_token.is_none() {
                position.complete = true;
                self.save(state, position, false).await?;
                summary.complete = true;
                return Ok(());
            }
            self.save(state, position, true).await?;
        }
    }

    /// Stops the overdue live streams before the channel pass: the channels of the streams
    /// live longer than a minute (the shortest limit a tag can set) are swept now
    /// ([`Sweeper::sweep_first`]). Returns the channels swept so (the pass skips them).
    async fn stop_overdue(
        &self,
        live: &HashMap<String, LiveStream>,
        now: DateTime<Utc>,
        out_of_time: &(dyn Fn() -> bool + Send + Sync),
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> HashSet<String> {
        let mut candidates: Vec<String> = live
            .iter()
            .filter(|(_, stream)| now - stream.started_at > chrono::TimeDelta::minutes(1))
            .map(|(arn, _)| arn.clone())
            .collect();
        candidates.sort();
        self.sweep_first(
            First::Overdue,
            &candidates,
            live,
            now,
            out_of_time,
            pacer,
            summary,
        )
        .await
    }

    /// Sweeps the channels that ended a stream since the last run (`ended`), each as the pass
    /// would (a missed rotation given), before the pass ([`Sweeper::sweep_first`]). Returns
    /// the channels swept so (the pass skips them in this run).
    async fn sweep_ended(
        &self,
        ended: &[String],
        live: &HashMap<String, LiveStream>,
        now: DateTime<Utc>,
        out_of_time: &(dyn Fn() -> bool + Send + Sync),
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> HashSet<String> {
        self.sweep_first(First::Ended, ended, live, now, out_of_time, pacer, summary)
            .await
    }

    /// Sweeps `channels` ahead of the pass: their tags read 50 at a time (BatchGetChannel),
    /// then each swept as the pass would. Returns the channels swept so. A failure is counted
    /// and left to the pass.
    #[allow(clippy::too_many_arguments)]
    async fn sweep_first(
        &self,
        why: First,
        channels: &[String],
        live: &HashMap<String, LiveStream>,
        now: DateTime<Utc>,
        out_of_time: &(dyn Fn() -> bool + Send + Sync),
        pacer: &mut Pacer,
        summary: &mut SweepSummary,
    ) -> HashSet<String> {
        let mut swept = HashSet::new();
        let client = self.ivs.client();
        for batch in channels.chunks(50) {
            if out_of_time() {
                break;
            }
            summary.calls += 1;
            let read = pacer
                .pace(self.ivs.call("BatchGetChannel", RetryOn::Transient, || {
                    client
                        .batch_get_channel()
                        .set_arns(Some(batch.to_vec()))
                        .send()
                }))
                .await;
            let output = match read {
                Ok(output) => output,
                Err(e) => {
                    summary.failures += 1;
                    error!(error = %e, channels = batch.len(), "reading {} failed; the pass sweeps them", why.channels());
                    continue;
                }
            };
            for c in output.channels() {
                // An overdue stream's stop is not put off; a check of an ended one may be.
                if why == First::Ended && out_of_time() {
                    break;
                }
                let Some(arn) = c.arn() else { continue };
                let Ok(channel) = IvsArn::parse_as(arn, ResourceType::Channel) else {
                    continue;
                };
                swept.insert(arn.to_owned());
                if why == First::Ended {
                    summary.ended_checked += 1;
                }
                let channel_tags = c.tags().cloned().unwrap_or_default();
                if let Err(e) = self
                    .sweep_channel(channel, channel_tags, live, now, pacer, summary)
                    .await
                {
                    summary.failures += 1;
                    error!(channel_arn = %arn, error = %e, "{} failed; the pass or the next run tries again", why.action());
                }
            }
        }
        swept
    }

    /// Publishes the lifecycle events of the actions since the last save and those still
    /// pending, then saves the position (when a state table is configured) with what
    /// EventBridge did not take, keeping the lease when the run goes on, releasing it
    /// otherwise. Without a state table, what is not taken is logged (by id) and counted.
    async fn save(
        &self,
        state: &mut Saving<'_>,
        position: &mut Position,
        keep_lease: bool,
    ) -> Result<(), SweepError> {
        let mut events: Vec<Lifecycle> = Vec::new();
        for kept in position.pending_events.drain(..) {
            match serde_json::from_str::<KeptEvent>(&kept)
                .map_err(|e| e.to_string())
                .and_then(|k| k.to_lifecycle())
            {
                Ok(event) => events.push(event),
                Err(e) => {
                    error!(error = %e, "a kept lifecycle event does not read: dropped");
                }
            }
        }
        if let Ok(mut facts) = self.facts.lock() {
            events.append(&mut facts);
        }
        if let Err(e) = self.publisher.publish(&events, Some(&self.metrics)).await {
            let ids: Vec<&str> = e.unpublished.iter().map(|u| u.id.as_str()).collect();
            if self.state.is_some() {
                warn!(error = %e, ids = ?ids, "lifecycle events not published: kept in the sweep state for the next run");
            } else {
                error!(error = %e, ids = ?ids, "lifecycle events not published, and no state table to keep them");
            }
            position.pending_events = e
                .unpublished
                .iter()
                .filter_map(|u| serde_json::to_string(&KeptEvent::from(u)).ok())
                .collect();
        }
        self.backlog
            .store(position.pending_events.len(), Ordering::Relaxed);
        let Some(store) = &self.state else {
            return Ok(());
        };
        let lease = if keep_lease { state.lease } else { None };
        *state.version = store.save(*state.version, position, lease).await?;
        Ok(())
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
                if let Ok(mut stopped) = self.stopped.lock() {
                    stopped.insert(channel.as_str().to_owned());
                }
                self.fact(lifecycle::stream_stopped(
                    channel,
                    Some(stream_id),
                    stream_id,
                    &StopRule::MaxDuration,
                    Some(live_for.as_secs()),
                    outcome == ivs_adapter::ivs::StopOutcome::Stopped,
                    now,
                ));
                warn!(action = action.name(), channel_arn = %channel, stream_id = %stream_id, live_minutes = live_for.as_secs() / 60, revoke_key, outcome = outcome.as_str(), "stream live past its maximum duration stopped");
            }
            SweepAction::MissedRotation { marker } => {
                let outcome = pacer
                    .pace(self.ivs.rotate_stream_key(channel, Some(marker)))
                    .await?;
                if let RotateOutcome::Rotated { new_key, revoked } = &outcome {
                    summary.missed_rotations += 1;
                    self.fact(lifecycle::stream_key_rotated(
                        channel,
                        &new_key.arn,
                        revoked,
                        Some(&marker.stream_id),
                        RotationTrigger::SweeperMissedRotation,
                        now,
                    ));
                    self.fact(lifecycle::sweeper_repaired_rotation(
                        channel,
                        &marker.stream_id,
                        &new_key.arn,
                        now,
                    ));
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
                if let RotateOutcome::Rotated { new_key, revoked } = &outcome {
                    self.fact(lifecycle::stream_key_rotated(
                        channel,
                        &new_key.arn,
                        revoked,
                        None,
                        RotationTrigger::SweeperKeyAge,
                        now,
                    ));
                }
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

    /// Keeps a lifecycle event of this run's actions for the next save.
    fn fact(&self, event: Lifecycle) {
        if let Ok(mut facts) = self.facts.lock() {
            facts.push(event);
        }
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

/// Marks the summary of a run that stopped before its deadline, after `last`.
fn stopped(summary: &mut SweepSummary, last: Option<String>) {
    warn!(
        channels_seen = summary.channels_seen,
        stopped_after = last.as_deref().unwrap_or(""),
        "the invocation's deadline is near: sweep stopped before the end"
    );
    summary.complete = false;
    summary.stopped_after = last;
}

/// Why channels are swept ahead of the pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    /// Their live stream may be past its maximum duration.
    Overdue,
    /// They were live at the last run and are offline now.
    Ended,
}

impl First {
    fn channels(self) -> &'static str {
        match self {
            First::Overdue => "live channels",
            First::Ended => "the channels that went offline",
        }
    }

    fn action(self) -> &'static str {
        match self {
            First::Overdue => "stopping an overdue stream",
            First::Ended => "checking a channel that went offline",
        }
    }
}

/// What taking the lease gave.
enum Taken {
    Yes {
        position: Position,
        version: u64,
        lease: Lease,
        resumed: bool,
    },
    No {
        holder: Lease,
    },
}

/// The state item's version this run last wrote, and its lease.
struct Saving<'a> {
    version: &'a mut u64,
    lease: Option<&'a Lease>,
}

/// A failed sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Ivs(#[from] Error),
    #[error("sweep state ({SWEEP_STATE_TABLE}): {0}")]
    State(#[from] StateError),
}

impl SweepError {
    pub fn is_retryable(&self) -> bool {
        match self {
            SweepError::Ivs(e) => e.is_retryable(),
            SweepError::State(e) => e.is_retryable(),
        }
    }

    /// The Lambda `errorType`: the IVS error's, or `Retryable.SweepState` /
    /// `Permanent.SweepState`.
    pub fn error_type(&self) -> String {
        match self {
            SweepError::Ivs(e) => e.error_type(),
            SweepError::State(e) if e.is_retryable() => "Retryable.SweepState".to_owned(),
            SweepError::State(_) => "Permanent.SweepState".to_owned(),
        }
    }
}

impl From<SweepError> for lambda_runtime::Diagnostic {
    fn from(e: SweepError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
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
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<SweepSummary, SweepError>> + Send + '_>,
    > {
        let deadline = invocation_deadline(event.context.deadline);
        Box::pin(async move {
            let result = self.run_until(Utc::now(), deadline).await;
            // The invocation's figures, once, at its end (EMF lines on stdout).
            self.metrics.flush();
            result
        })
    }
}
