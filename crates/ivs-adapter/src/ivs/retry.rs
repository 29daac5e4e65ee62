//! Bounded exponential backoff with jitter.

use std::time::Duration;

/// How often and how patiently a failed IVS call is tried again.
///
/// Attempt `n` (1-based) that fails is followed by a pause drawn uniformly from
/// `[d/2, d]` where `d = min(max_delay, base_delay * 2^(n-1))` ("equal jitter": never zero,
/// never in lock-step with other clients). With the defaults the pauses add up to at most
/// 0.1 + 0.2 + 0.4 + 0.8 = 1.5 s over 5 attempts, well inside a Lambda timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1 = no retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy with tiny pauses, for tests.
    pub fn fast(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    /// The pause after failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_micros() as u64;
        half + Duration::from_micros(fastrand::u64(0..=spread))
    }

    /// The longest pause after failed attempt `attempt`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The longest total pause a call can spend waiting between its attempts.
    pub fn max_total_delay(&self) -> Duration {
        (1..self.max_attempts).map(|a| self.ceiling(a)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_bounds_and_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(10), Duration::from_secs(2), "capped");
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(2), "no overflow");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = p.delay(3);
            assert!(
                d >= Duration::from_millis(200) && d <= Duration::from_millis(400),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter spreads the pauses");
        assert_eq!(p.max_total_delay(), Duration::from_millis(1500));
    }
}
