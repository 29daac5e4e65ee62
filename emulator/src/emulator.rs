//! The [`Emulator`] handle: shared state, the IVS request pipeline (authentication, fault
//! injection, dispatch, statistics) and the library form of the control API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::http::HeaderMap;
use serde_json::Value;

use crate::auth;
use crate::config::Config;
use crate::delivery::{DeadLetter, Dispatcher, Subscription};
use crate::error::{ControlError, ErrorKind, IvsError};
use crate::faults::{FaultConfig, FaultState, ScriptedError};
use crate::ids::IdGen;
use crate::ingest::{Connected, LimitBreach, RecordingFailure};
use crate::metadata::RecordedMetadata;
use crate::ops::{self, Operation, Output};
use crate::rate::{format_rate, RateLimiter, RateQuotas, RateQuotasView};
use crate::seed::{SeedSpec, SeededChannel};
use crate::server::{self, Server};
use crate::state::{Revocation, State, Timer};
use crate::stats::{OperationStats, Stats};
use crate::validate::Input;

/// Mixed into the seed for request ids, so they do not shift resource ids.
const REQUEST_ID_SEED_SALT: u64 = 0x0DDB_A11C_AFE0_0001;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running emulated IVS account. Cheap to clone: every clone shares the same state.
#[derive(Clone, Debug)]
pub struct Emulator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    region: String,
    account: String,
    seed: u64,
    state: Mutex<State>,
    faults: Mutex<FaultState>,
    rates: Mutex<RateLimiter>,
    stats: Mutex<BTreeMap<String, OperationStats>>,
    request_ids: Mutex<IdGen>,
    secrets: crate::secrets::SecretStore,
    dispatcher: Dispatcher,
}

impl Emulator {
    /// A new emulator. A delivery target that cannot be set up (an events file that cannot be
    /// created) is logged, and every event meant for it goes to the dead letters.
    pub fn new(config: Config) -> Self {
        tracing::info!(region = %config.region, account = %config.account, seed = config.seed, rate_quotas = %config.rate_quotas, "IVS emulator created");
        if config.rate_quotas.validate().is_err() {
            tracing::warn!(
                factor = config.rate_quotas.factor,
                "rate quota factor is negative or not finite: the rate quotas are off"
            );
        }
        Self {
            inner: Arc::new(Inner {
                region: config.region.clone(),
                account: config.account.clone(),
                seed: config.seed,
                state: Mutex::new(State::new(&config)),
                faults: Mutex::new(FaultState::new(config.faults.clone(), config.seed)),
                rates: Mutex::new(RateLimiter::new(config.rate_quotas)),
                stats: Mutex::new(BTreeMap::new()),
                request_ids: Mutex::new(IdGen::new(config.seed ^ REQUEST_ID_SEED_SALT)),
                secrets: crate::secrets::SecretStore::new(config.seed),
                dispatcher: Dispatcher::new(&config.targets, &config.region),
            }),
        }
    }

    /// The minimal Secrets Manager served on `POST /`.
    pub(crate) fn secrets(&self) -> &crate::secrets::SecretStore {
        &self.inner.secrets
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account id.
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The seed of every random choice.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// The HTTP router: the IVS API and the control API under `/_emulator`.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Serves the router on `addr` (a loopback address; port 0 picks a free port).
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Server> {
        let server = Server::start(self.router(), addr).await?;
        tracing::info!(addr = %server.addr(), "IVS emulator listening");
        Ok(server)
    }

    /// Every event emitted from now on, none lost.
    pub fn subscribe(&self) -> Subscription {
        self.inner.dispatcher.subscribe()
    }

    /// Every event emitted so far, oldest first.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.inner.state)
            .events
            .iter()
            .map(crate::events::Event::to_value)
            .collect()
    }

    /// Every event emitted so far as a JSON array, with each event's fields in IVS's order.
    pub fn events_json(&self) -> String {
        let state = lock(&self.inner.state);
        serde_json::to_string(&state.events).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Runs `action` on the state, then hands the events it emitted to the delivery targets (under
    /// the lock, so every target sees the global order) and schedules the timers it asked for.
    /// Recording configurations whose `CREATING` time is over become `ACTIVE` first.
    pub(crate) fn with_state<R>(&self, action: impl FnOnce(&mut State) -> R) -> R {
        let (result, timers) = {
            let mut state = lock(&self.inner.state);
            state.settle_recording_configurations(Instant::now());
            let result = action(&mut state);
            let events = std::mem::take(&mut state.outbox);
            self.inner.dispatcher.dispatch(events);
            (result, std::mem::take(&mut state.timers))
        };
        for timer in timers {
            self.schedule(timer);
        }
        result
    }

    fn schedule(&self, timer: Timer) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let emulator = self.clone();
                runtime.spawn(async move {
                    tokio::time::sleep(timer.delay).await;
                    emulator.with_state(|state| {
                        state.reconnect_window_elapsed(&timer.channel_arn, timer.generation)
                    });
                });
            }
            Err(_) => {
                tracing::warn!(channel_arn = %timer.channel_arn, "no tokio runtime: ending the recording without waiting for its reconnect window");
                self.with_state(|state| {
                    state.reconnect_window_elapsed(&timer.channel_arn, timer.generation)
                });
            }
        }
    }

    /// A broadcaster connects with a stream key (`POST /_emulator/ingest/connect`).
    pub fn connect(&self, stream_key_value: &str) -> Result<Connected, ControlError> {
        self.with_state(|state| state.connect(stream_key_value))
    }

    /// The broadcaster of a channel disconnects (`POST /_emulator/ingest/disconnect`). Returns
    /// the id of the stream that ended.
    pub fn disconnect(&self, channel_arn: &str) -> Result<String, ControlError> {
        self.with_state(|state| state.end_stream(channel_arn))
    }

    /// Creates many channels at once (`POST /_emulator/seed`): with their stream keys and tags, a
    /// share of them live, past stream sessions; without going through the API rate quotas.
    /// All of them, or none when the spec is refused (a bad name prefix, tags or channel
    /// settings, or more channels than the channel quota allows: [`SeedSpec::channel_quota`]
    /// raises it). The state stays locked while it runs: 50,000 channels take about 0.6 s in a
    /// release build, 1.3 s with tags, a tenth of them live and a past session each (260 MB).
    pub fn seed_channels(&self, spec: &SeedSpec) -> Result<Vec<SeededChannel>, ControlError> {
        self.with_state(|state| state.seed(spec))
    }

    /// The live stream of a channel starts starving (`POST /_emulator/ingest/starve`).
    pub fn starve(&self, channel_arn: &str) -> Result<(), ControlError> {
        self.with_state(|state| state.starve(channel_arn))
    }

    /// The live stream of a channel recovers (`POST /_emulator/ingest/recover`).
    pub fn recover(&self, channel_arn: &str) -> Result<(), ControlError> {
        self.with_state(|state| state.recover(channel_arn))
    }

    /// Sets the viewer count of a live stream (`POST /_emulator/ingest/viewers`).
    pub fn set_viewer_count(&self, channel_arn: &str, viewers: u64) -> Result<(), ControlError> {
        self.with_state(|state| state.set_viewer_count(channel_arn, viewers))
    }

    /// Emits a limit breach with the limit's default numbers: on a live channel for the
    /// channel-level limits (`Ingest Bitrate`, `Ingest Resolution`), with `None` for the
    /// account-level ones (`Concurrent Broadcasts`, `Concurrent Viewers`).
    pub fn breach(&self, channel_arn: Option<&str>, limit_name: &str) -> Result<(), ControlError> {
        self.breach_with(&LimitBreach {
            limit_name: limit_name.to_owned(),
            channel_arn: channel_arn.map(str::to_owned),
            ..LimitBreach::default()
        })
    }

    /// Emits a limit breach with explicit numbers (`POST /_emulator/limit-breach`).
    pub fn breach_with(&self, breach: &LimitBreach) -> Result<(), ControlError> {
        self.with_state(|state| state.breach(breach))
    }

    /// Makes the next recording of a channel fail at `phase`, with the phase's default reason.
    pub fn fail_next_recording(
        &self,
        channel_arn: &str,
        phase: RecordingFailure,
    ) -> Result<(), ControlError> {
        self.fail_next_recording_with(channel_arn, phase, None)
    }

    /// Makes the next recording of a channel fail at `phase` with `reason` as
    /// `recording_status_reason` (`POST /_emulator/recording/fail-next`).
    pub fn fail_next_recording_with(
        &self,
        channel_arn: &str,
        phase: RecordingFailure,
        reason: Option<String>,
    ) -> Result<(), ControlError> {
        self.with_state(|state| state.fail_next_recording(channel_arn, phase, reason))
    }

    /// Ends every recording waiting for its reconnect window now (`POST /_emulator/recording/flush`).
    pub fn flush_recordings(&self) {
        self.with_state(State::flush_recordings);
    }

    /// The metadata payloads accepted for a channel, oldest first.
    pub fn metadata(&self, channel_arn: &str) -> Vec<RecordedMetadata> {
        lock(&self.inner.state)
            .metadata
            .iter()
            .filter(|m| m.channel_arn == channel_arn)
            .cloned()
            .collect()
    }

    /// Every metadata payload accepted, oldest first.
    pub fn all_metadata(&self) -> Vec<RecordedMetadata> {
        lock(&self.inner.state).metadata.clone()
    }

    /// The viewer-session revocations accepted, oldest first.
    pub fn revocations(&self) -> Vec<Revocation> {
        lock(&self.inner.state).revocations.clone()
    }

    /// Replaces the fault configuration; the fault draws restart from the seed.
    pub fn set_faults(&self, faults: FaultConfig) {
        lock(&self.inner.faults).set_config(faults);
    }

    /// The fault configuration.
    pub fn faults(&self) -> FaultConfig {
        lock(&self.inner.faults).config().clone()
    }

    /// The scripted errors still to come.
    pub fn scripted_errors(&self) -> Vec<ScriptedError> {
        lock(&self.inner.faults).scripted().to_vec()
    }

    /// Makes the next `count` calls of `operation` fail with the error type `error` (one of the
    /// operation's modelled errors, or a throttling, 500 or 503 error), whatever the random faults
    /// say (`POST /_emulator/faults/next`).
    pub fn fail_next(&self, operation: &str, error: &str, count: u32) -> Result<(), ControlError> {
        let op = Operation::from_name(operation).ok_or_else(|| {
            ControlError::InvalidRequest(format!("unknown operation: {operation}"))
        })?;
        let kind = ErrorKind::from_type_name(error)
            .filter(|kind| op.can_fail_with(*kind))
            .ok_or_else(|| {
                ControlError::InvalidRequest(format!("{operation} cannot fail with {error}"))
            })?;
        if count == 0 {
            return Err(ControlError::InvalidRequest(
                "count must be at least 1".to_owned(),
            ));
        }
        lock(&self.inner.faults).script(ScriptedError {
            operation: op.name().to_owned(),
            error: kind.type_name().to_owned(),
            remaining: count,
        });
        Ok(())
    }

    /// The API rate quotas in force.
    pub fn rate_quotas(&self) -> RateQuotas {
        lock(&self.inner.rates).quotas()
    }

    /// Replaces the API rate quotas (`POST /_emulator/rate-quotas`); every operation's bucket
    /// starts full again.
    pub fn set_rate_quotas(&self, quotas: RateQuotas) {
        tracing::info!(rate_quotas = %quotas, "rate quotas set");
        lock(&self.inner.rates).set_quotas(quotas);
    }

    /// The rate quotas as `GET /_emulator/rate-quotas` reports them.
    pub(crate) fn rate_quotas_view(&self) -> RateQuotasView {
        let quotas = self.rate_quotas();
        RateQuotasView {
            factor: quotas.factor,
            enabled: quotas.is_on(),
            operations: quotas.table(),
            put_metadata_per_channel: lock(&self.inner.state).metadata_rate_limit,
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        // One lock at a time: no lock order to get wrong.
        let operations = lock(&self.inner.stats).clone();
        let events_emitted = lock(&self.inner.state).events.len() as u64;
        let log = self.inner.dispatcher.log();
        let deliveries = self.inner.dispatcher.delivery_stats();
        let dead_letters = log.dead_letters().len() as u64;
        Stats {
            operations,
            events_emitted,
            deliveries,
            dead_letters,
        }
    }

    /// The events that could not be delivered.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.dispatcher.log().dead_letters()
    }

    /// Whether a queue target ([`crate::QueueTarget`]) is configured.
    pub fn has_queues(&self) -> bool {
        self.inner.dispatcher.has_queues()
    }

    /// Creates the queue targets' queues (once; later calls answer at once) and starts their
    /// event source mappings; the queue URLs. Without this call, the first event routed to a
    /// queue does it. An `Err` (no queue target, the SQS server unreachable, a queue refused)
    /// is also logged; the next call (or event) tries again.
    pub async fn start_queues(&self) -> Result<crate::QueueUrls, String> {
        if !self.has_queues() {
            return Err("no queue target is configured".to_owned());
        }
        self.inner.dispatcher.start_queues().await
    }

    /// The queue URLs (functions' queues by function, and the dead-letter queue), once the
    /// queues are set up; `None` before (or without a queue target).
    pub fn queue_urls(&self) -> Option<crate::QueueUrls> {
        self.inner.dispatcher.queue_urls()
    }

    /// The bodies of the messages in the dead-letter queue (`failed-events`), oldest first as
    /// the SQS server returns them; bodies that are JSON (the events) as JSON. They are read
    /// without being consumed: received with a 30 s visibility timeout until none is left,
    /// then made visible again at once. Each read counts as a receive of every message, and
    /// two reads at the same time hide messages from each other.
    pub async fn queue_dead_letters(&self) -> Result<Vec<Value>, String> {
        self.inner.dispatcher.queue_dead_letters().await
    }

    /// Whether every queue target is done: no event waits to be sent, and every function's
    /// queue is empty, counting messages in flight (being processed, or failed and waiting
    /// for their visibility timeout) and delayed ones. The dead-letter queue is not counted.
    /// `false` when the SQS server cannot say (the error is logged); `true` without a queue
    /// target.
    pub async fn queues_idle(&self) -> bool {
        match self.inner.dispatcher.queues_idle().await {
            Ok(idle) => idle,
            Err(error) => {
                tracing::warn!(error = %error, "cannot tell whether the event queues are idle");
                false
            }
        }
    }

    fn count(&self, op: Operation, update: impl FnOnce(&mut OperationStats)) {
        update(
            lock(&self.inner.stats)
                .entry(op.name().to_owned())
                .or_default(),
        );
    }

    pub(crate) fn next_request_id(&self) -> String {
        lock(&self.inner.request_ids).uuid()
    }

    /// Runs one IVS request: authentication, fault injection, then the operation.
    pub(crate) async fn execute(
        &self,
        op: Operation,
        headers: &HeaderMap,
        input: Result<Input, IvsError>,
    ) -> Result<Output, IvsError> {
        self.count(op, |stats| stats.requests += 1);
        let result = self.run(op, headers, input).await;
        if let Err(err) = &result {
            self.count(op, |stats| {
                *stats
                    .errors
                    .entry(err.kind.type_name().to_owned())
                    .or_default() += 1
            });
        }
        result
    }

    async fn run(
        &self,
        op: Operation,
        headers: &HeaderMap,
        input: Result<Input, IvsError>,
    ) -> Result<Output, IvsError> {
        auth::check(headers, &self.inner.region)?;
        let quota = lock(&self.inner.rates).try_acquire(op, Instant::now());
        if let Err(refused) = quota {
            self.count(op, |stats| {
                stats.rate_throttled += 1;
                if op == Operation::PutMetadata {
                    stats.metadata_throttled += 1;
                }
            });
            return Err(IvsError::new(
                ErrorKind::Throttling,
                format!(
                    "Rate exceeded: {} allows {} requests per second per account",
                    op.name(),
                    format_rate(refused.rate)
                ),
            ));
        }
        let decision = lock(&self.inner.faults).decide(op);
        if !decision.latency.is_zero() {
            self.count(op, |stats| stats.faults.latency += 1);
            tokio::time::sleep(decision.latency).await;
        }
        if let Some(injected) = decision.error {
            self.count(op, |stats| stats.faults.count(injected.cause));
            return Err(IvsError::new(
                injected.kind,
                format!("Injected fault: {}", injected.kind.type_name()),
            ));
        }
        let input = input?;
        let result = self.with_state(|state| ops::dispatch(op, state, &input));
        if op == Operation::PutMetadata
            && matches!(&result, Err(err) if err.kind == ErrorKind::Throttling)
        {
            self.count(op, |stats| stats.metadata_throttled += 1);
        }
        result
    }
}
