//! [`RateBudget`]: one container's share of IVS's account-wide rate quotas
//! (`domain::rate`), enforced before every attempt of every call.
//!
//! Per operation, a generic cell rate algorithm: with `r` requests per second for this
//! container, slots are `1/r` apart and a burst of up to `max(1, r)` (one second's worth)
//! may go at once, as IVS's own one-second bucket allows. A call waits for its slot; if that
//! slot comes too late for the invocation's deadline ([`super::RETRY_MARGIN`]), the call is
//! not made and fails as throttled (retryable), so that the event goes back to its queue
//! instead of holding the invocation.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use domain::rate::RateSettings;

use super::time_left_for;
use crate::error::{Error, IvsErrorKind};

/// The error code of a call refused by the budget (no request was sent).
pub const RATE_BUDGET_CODE: &str = "RateBudgetExhausted";

/// One container's budget of IVS calls.
#[derive(Debug)]
pub struct RateBudget {
    settings: RateSettings,
    /// The longest a call waits for its slot (an interactive caller would rather be told to
    /// come back); `None`: as long as the deadline allows.
    max_wait: Option<Duration>,
    cells: Mutex<HashMap<&'static str, Cell>>,
}

#[derive(Debug)]
struct Cell {
    /// Time between slots.
    interval: Duration,
    /// How far ahead of its theoretical time a slot may be used (the burst).
    tolerance: Duration,
    /// The theoretical arrival time of the next slot.
    next: Instant,
}

impl Cell {
    fn new(rate: f64, now: Instant) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let burst = rate.max(1.0);
        Cell {
            interval,
            tolerance: interval.mul_f64(burst - 1.0),
            next: now,
        }
    }

    /// How long a call at `now` waits for its slot.
    fn wait(&self, now: Instant) -> Duration {
        let next = self.next.max(now);
        (next.checked_sub(self.tolerance).unwrap_or(now)).saturating_duration_since(now)
    }

    /// Takes the slot a call at `now` gets.
    fn take(&mut self, now: Instant) {
        self.next = self.next.max(now) + self.interval;
    }
}

impl RateBudget {
    pub fn new(settings: RateSettings) -> Self {
        RateBudget {
            settings,
            max_wait: None,
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// The same budget, a call waiting at most `max_wait` for its slot; a later slot is
    /// refused as throttled (the admin API answers 429 with `Retry-After`).
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    pub fn settings(&self) -> &RateSettings {
        &self.settings
    }

    /// Reserves the next slot for `operation` and says how long to wait for it, if that wait
    /// `fits`; `None` (nothing reserved) otherwise. `Some(ZERO)` when no budget applies.
    fn reserve(
        &self,
        operation: &'static str,
        now: Instant,
        fits: impl Fn(Duration) -> bool,
    ) -> Option<Duration> {
        let Some(rate) = self.settings.per_container(operation) else {
            return Some(Duration::ZERO);
        };
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        let cell = cells
            .entry(operation)
            .or_insert_with(|| Cell::new(rate, now));
        let wait = cell.wait(now);
        if !fits(wait) {
            return None;
        }
        cell.take(now);
        Some(wait)
    }

    /// Waits for `operation`'s next slot. Fails (throttled, retryable, nothing sent) when the
    /// slot comes too late for the invocation's deadline.
    pub async fn acquire(&self, operation: &'static str, attempts: u32) -> Result<(), Error> {
        let max_wait = self.max_wait;
        let fits = |wait: Duration| max_wait.is_none_or(|m| wait <= m) && time_left_for(wait);
        match self.reserve(operation, Instant::now(), fits) {
            Some(wait) if wait.is_zero() => Ok(()),
            Some(wait) => {
                tracing::debug!(
                    operation,
                    wait_ms = wait.as_millis() as u64,
                    "waiting for a slot in the IVS rate budget"
                );
                tokio::time::sleep(wait).await;
                Ok(())
            }
            None => Err(Error::Ivs {
                operation,
                kind: IvsErrorKind::Throttled,
                code: Some(RATE_BUDGET_CODE.to_owned()),
                message: format!(
                    "no {operation} slot in this function's share of IVS's rate quota soon \
                     enough (before the invocation's deadline, or within its longest wait)"
                ),
                attempts,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(share: f64, concurrency: u32) -> RateBudget {
        RateBudget::new(RateSettings {
            share,
            concurrency,
            factor: 1.0,
        })
    }

    /// Slots granted to back-to-back calls at `now`, as waits in milliseconds.
    fn waits(
        budget: &RateBudget,
        operation: &'static str,
        calls: usize,
        now: Instant,
    ) -> Vec<u128> {
        (0..calls)
            .map(|_| {
                budget
                    .reserve(operation, now, |_| true)
                    .unwrap()
                    .as_millis()
            })
            .collect()
    }

    #[test]
    fn a_burst_of_one_second_then_one_slot_per_interval() {
        // ListTagsForResource: 10/s × 0.5 = 5/s: 5 at once, then every 200 ms.
        let b = budget(0.5, 1);
        let now = Instant::now();
        assert_eq!(
            waits(&b, "ListTagsForResource", 8, now),
            vec![0, 0, 0, 0, 0, 200, 400, 600]
        );
        // Per operation: GetChannel has its own cell (5/s × 0.5 = 2.5/s, a burst of 2.5: two
        // at once, the third when half a slot more has come, 200 ms later).
        assert_eq!(waits(&b, "GetChannel", 4, now), vec![0, 0, 200, 600]);
        // Unknown operations are not paced.
        assert_eq!(waits(&b, "Unknown", 3, now), vec![0, 0, 0]);
    }

    #[test]
    fn concurrency_divides_the_share_and_a_slow_rate_keeps_a_burst_of_one() {
        // CreateStreamKey: 5/s × 0.4 ÷ 4 containers = 0.5/s: one now, then every 2 s.
        let b = budget(0.4, 4);
        let now = Instant::now();
        assert_eq!(waits(&b, "CreateStreamKey", 3, now), vec![0, 2000, 4000]);
        // Time passing frees slots again (never more than the burst).
        let later = now + Duration::from_secs(60);
        assert_eq!(waits(&b, "CreateStreamKey", 2, later), vec![0, 2000]);
    }

    #[test]
    fn a_slot_past_the_deadline_is_not_reserved() {
        let b = budget(0.2, 1); // GetChannel: 1/s
        let now = Instant::now();
        assert_eq!(b.reserve("GetChannel", now, |_| true), Some(Duration::ZERO));
        // The next slot is 1 s away: refused, and nothing reserved...
        assert_eq!(
            b.reserve("GetChannel", now, |w| w < Duration::from_millis(500)),
            None
        );
        // ...so the following caller still gets that slot.
        assert_eq!(
            b.reserve("GetChannel", now, |_| true),
            Some(Duration::from_secs(1))
        );
    }

    #[tokio::test]
    async fn a_slot_beyond_the_longest_wait_is_refused_at_once() {
        let b = budget(0.2, 1).with_max_wait(Duration::from_millis(500)); // GetChannel: 1/s
        let started = Instant::now();
        assert!(b.acquire("GetChannel", 0).await.is_ok());
        let refused = b.acquire("GetChannel", 0).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(200));
        assert_eq!(refused.ivs_kind(), Some(IvsErrorKind::Throttled));
        assert!(refused.is_retryable());
        let Error::Ivs { code, .. } = refused else {
            unreachable!()
        };
        assert_eq!(code.as_deref(), Some(RATE_BUDGET_CODE));
        // Another operation has its own slots.
        assert!(b.acquire("ListChannels", 0).await.is_ok());
    }

    #[test]
    fn factor_zero_means_no_budget() {
        let b = RateBudget::new(RateSettings {
            share: 0.1,
            concurrency: 1,
            factor: 0.0,
        });
        assert_eq!(waits(&b, "GetChannel", 20, Instant::now()), vec![0; 20]);
    }
}
