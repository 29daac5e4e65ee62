//! IVS's account-wide API rate quotas: each operation may be called so many times per second per
//! account and region, and beyond that IVS answers `ThrottlingException` (429). The quotas are
//! IVS's (IVS Low-Latency User Guide, "Service Quotas"; they cannot be raised), scaled by
//! [`RateQuotas::factor`] for fast runs.
//!
//! Each operation has its own token bucket: it holds at most one second of the operation's rate
//! (the burst), starts full, refills continuously at the rate, and each accepted request takes
//! one token. A refused request takes none.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;

use crate::ops::Operation;

/// The per-account PutMetadata rate (requests per second).
pub const PUT_METADATA_ACCOUNT_RATE: u32 = 155;

/// IVS's quota of `op`, in requests per second per account and region.
pub fn ivs_rate(op: Operation) -> u32 {
    use Operation as O;
    match op {
        // Channels, streams, stream keys: 5 each.
        O::BatchGetChannel
        | O::CreateChannel
        | O::DeleteChannel
        | O::GetChannel
        | O::ListChannels
        | O::UpdateChannel
        | O::GetStream
        | O::GetStreamSession
        | O::ListStreams
        | O::ListStreamSessions
        | O::StopStream
        | O::BatchGetStreamKey
        | O::CreateStreamKey
        | O::DeleteStreamKey
        | O::GetStreamKey
        | O::ListStreamKeys => 5,
        // Tags: 10 each.
        O::ListTagsForResource | O::TagResource | O::UntagResource => 10,
        // Playback key pairs, recording configurations: 3 each.
        O::DeletePlaybackKeyPair
        | O::GetPlaybackKeyPair
        | O::ImportPlaybackKeyPair
        | O::ListPlaybackKeyPairs
        | O::CreateRecordingConfiguration
        | O::DeleteRecordingConfiguration
        | O::GetRecordingConfiguration
        | O::ListRecordingConfigurations => 3,
        // Playback restriction policies: 5 each.
        O::CreatePlaybackRestrictionPolicy
        | O::DeletePlaybackRestrictionPolicy
        | O::GetPlaybackRestrictionPolicy
        | O::ListPlaybackRestrictionPolicies
        | O::UpdatePlaybackRestrictionPolicy => 5,
        // Ad configurations: IVS's quota table does not list them; 5 each here, as for the
        // other channel settings (a documented guess).
        O::CreateAdConfiguration
        | O::DeleteAdConfiguration
        | O::GetAdConfiguration
        | O::ListAdConfigurations
        | O::UpdateAdConfiguration => 5,
        // PutMetadata: 155 per account (besides its own limit per channel).
        O::PutMetadata => PUT_METADATA_ACCOUNT_RATE,
        O::StartViewerSessionRevocation => 10,
        O::BatchStartViewerSessionRevocation => 2,
    }
}

/// Whether and how the emulator enforces IVS's API rate quotas: every quota multiplied by
/// `factor`. `RateQuotas::default()` is IVS's own quotas (factor 1); factor 0 turns them off.
///
/// When the factor is not 1, the functions' own rate budgets must be given the same factor (the
/// functions do not have rate budgets yet; another change adds them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateQuotas {
    /// What every quota is multiplied by: 1 is IVS, 10 lets ten times as many requests through
    /// (for fast runs), 0 turns the quotas off. A negative or non-finite factor also means off.
    pub factor: f64,
}

impl Default for RateQuotas {
    fn default() -> Self {
        Self::ivs()
    }
}

impl RateQuotas {
    /// IVS's quotas (factor 1).
    pub const fn ivs() -> Self {
        Self { factor: 1.0 }
    }

    /// No rate quota at all (factor 0).
    pub const fn off() -> Self {
        Self { factor: 0.0 }
    }

    /// IVS's quotas multiplied by `factor` (0 = off).
    pub const fn scaled(factor: f64) -> Self {
        Self { factor }
    }

    /// Whether any quota applies.
    pub fn is_on(&self) -> bool {
        self.factor.is_finite() && self.factor > 0.0
    }

    /// The requests per second allowed for `op` (`None` when the quotas are off).
    pub fn rate(&self, op: Operation) -> Option<f64> {
        self.is_on().then(|| f64::from(ivs_rate(op)) * self.factor)
    }

    /// Every operation's allowed requests per second (empty when the quotas are off).
    pub fn table(&self) -> BTreeMap<&'static str, f64> {
        Operation::ALL
            .iter()
            .filter_map(|op| Some((op.name(), self.rate(*op)?)))
            .collect()
    }
}

impl fmt::Display for RateQuotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_on() {
            write!(f, "{}", self.factor)
        } else {
            f.write_str("off")
        }
    }
}

/// A rate factor that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a rate factor is a finite number >= 0 (0 or 'off' turns the quotas off), not '{0}'")]
pub struct RateFactorError(String);

impl RateQuotas {
    /// Checks the factor: finite and at least 0.
    pub fn validate(&self) -> Result<(), RateFactorError> {
        if self.factor.is_finite() && self.factor >= 0.0 {
            Ok(())
        } else {
            Err(RateFactorError(self.factor.to_string()))
        }
    }
}

impl FromStr for RateQuotas {
    type Err = RateFactorError;

    /// A factor (`1`, `0.5`, `20`), or `off` (= 0).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        let quotas = value
            .parse::<f64>()
            .map(Self::scaled)
            .map_err(|_| RateFactorError(value.to_owned()))?;
        quotas.validate()?;
        Ok(quotas)
    }
}

/// A request the quota refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Refused {
    /// The operation's allowed requests per second.
    pub rate: f64,
}

/// One operation's token bucket.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Instant,
}

/// Below one token by at most this much still counts as a token (float rounding of the refill).
const EPSILON: f64 = 1e-9;

impl Bucket {
    /// A full bucket for `rate` requests per second: one second of burst, at least one request.
    fn full(rate: f64, now: Instant) -> Self {
        let capacity = rate.max(1.0);
        Self {
            rate,
            capacity,
            tokens: capacity,
            updated: now,
        }
    }

    fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = now.max(self.updated);
        if self.tokens >= 1.0 - EPSILON {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// The buckets of every operation called so far.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    quotas: RateQuotas,
    buckets: BTreeMap<Operation, Bucket>,
}

impl RateLimiter {
    pub(crate) fn new(quotas: RateQuotas) -> Self {
        Self {
            quotas,
            buckets: BTreeMap::new(),
        }
    }

    pub(crate) fn quotas(&self) -> RateQuotas {
        self.quotas
    }

    /// New quotas, every bucket full again.
    pub(crate) fn set_quotas(&mut self, quotas: RateQuotas) {
        self.quotas = quotas;
        self.buckets.clear();
    }

    /// Takes a token of `op`'s bucket at `now`, or says why not.
    pub(crate) fn try_acquire(&mut self, op: Operation, now: Instant) -> Result<(), Refused> {
        let Some(rate) = self.quotas.rate(op) else {
            return Ok(());
        };
        let bucket = self
            .buckets
            .entry(op)
            .or_insert_with(|| Bucket::full(rate, now));
        if bucket.try_take(now) {
            Ok(())
        } else {
            Err(Refused { rate })
        }
    }
}

/// The answer's wording of a rate as IVS states quotas: `5`, `0.5`.
pub(crate) fn format_rate(rate: f64) -> String {
    let rounded = (rate * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// The effective quotas as the control API reports them.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RateQuotasView {
    pub factor: f64,
    pub enabled: bool,
    /// Requests per second per operation (empty when off).
    pub operations: BTreeMap<&'static str, f64>,
    /// PutMetadata's own limit per channel (`null` when off).
    pub put_metadata_per_channel: Option<u32>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_operation_has_the_quota_ivs_lists() {
        let quotas = RateQuotas::default();
        let table = quotas.table();
        assert_eq!(table.len(), Operation::ALL.len());
        assert_eq!(table["GetChannel"], 5.0);
        assert_eq!(table["ListStreamKeys"], 5.0);
        assert_eq!(table["ListTagsForResource"], 10.0);
        assert_eq!(table["GetPlaybackKeyPair"], 3.0);
        assert_eq!(table["ListRecordingConfigurations"], 3.0);
        assert_eq!(table["UpdatePlaybackRestrictionPolicy"], 5.0);
        assert_eq!(table["PutMetadata"], 155.0);
        assert_eq!(table["StartViewerSessionRevocation"], 10.0);
        assert_eq!(table["BatchStartViewerSessionRevocation"], 2.0);
        assert_eq!(
            RateQuotas::scaled(4.0).rate(Operation::GetChannel),
            Some(20.0)
        );
        assert!(RateQuotas::off().table().is_empty());
        assert!(!RateQuotas::scaled(f64::NAN).is_on());
        assert!(!RateQuotas::scaled(-1.0).is_on());
    }

    #[test]
    fn factors_parse() {
        assert_eq!("1".parse::<RateQuotas>(), Ok(RateQuotas::ivs()));
        assert_eq!("0.5".parse::<RateQuotas>(), Ok(RateQuotas::scaled(0.5)));
        assert_eq!("off".parse::<RateQuotas>(), Ok(RateQuotas::off()));
        assert_eq!("0".parse::<RateQuotas>(), Ok(RateQuotas::off()));
        for bad in ["-1", "inf", "NaN", "fast", ""] {
            assert!(bad.parse::<RateQuotas>().is_err(), "{bad}");
        }
        assert_eq!(RateQuotas::off().to_string(), "off");
        assert_eq!(RateQuotas::scaled(2.5).to_string(), "2.5");
    }

    #[test]
    fn a_one_second_burst_then_the_rate() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(RateQuotas::default());
        let op = Operation::GetChannel;
        for i in 0..5 {
            assert!(limiter.try_acquire(op, start).is_ok(), "request {i}");
        }
        assert_eq!(limiter.try_acquire(op, start), Err(Refused { rate: 5.0 }));
        // Another operation has its own bucket.
        assert!(limiter.try_acquire(Operation::ListStreams, start).is_ok());
        // One token every 200 ms.
        let at = |ms| start + Duration::from_millis(ms);
        assert!(limiter.try_acquire(op, at(150)).is_err());
        assert!(limiter.try_acquire(op, at(200)).is_ok());
        assert!(limiter.try_acquire(op, at(300)).is_err());
        assert!(limiter.try_acquire(op, at(400)).is_ok());
        // A quiet second fills the bucket, no more.
        for i in 0..5 {
            assert!(limiter.try_acquire(op, at(5_000)).is_ok(), "request {i}");
        }
        assert!(limiter.try_acquire(op, at(5_000)).is_err());
    }

    #[test]
    fn refused_requests_take_no_token() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(RateQuotas::default());
        let op = Operation::BatchStartViewerSessionRevocation;
        assert!(limiter.try_acquire(op, start).is_ok());
        assert!(limiter.try_acquire(op, start).is_ok());
        for ms in [10, 100, 200, 300, 400] {
            assert!(limiter
                .try_acquire(op, start + Duration::from_millis(ms))
                .is_err());
        }
        assert!(limiter
            .try_acquire(op, start + Duration::from_millis(500))
            .is_ok());
    }

    #[test]
    fn factors_scale_and_zero_turns_off() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(RateQuotas::scaled(2.0));
        let op = Operation::GetPlaybackKeyPair;
        let accepted = (0..20)
            .filter(|_| limiter.try_acquire(op, start).is_ok())
            .count();
        assert_eq!(accepted, 6);
        // Below one request per second, the burst is still one request.
        limiter.set_quotas(RateQuotas::scaled(0.1));
        assert!(limiter.try_acquire(op, start).is_ok());
        assert!(limiter
            .try_acquire(op, start + Duration::from_secs(3))
            .is_err());
        assert!(limiter
            .try_acquire(op, start + Duration::from_millis(3_334))
            .is_ok());
        limiter.set_quotas(RateQuotas::off());
        assert!((0..1_000).all(|_| limiter.try_acquire(op, start).is_ok()));
    }
}
