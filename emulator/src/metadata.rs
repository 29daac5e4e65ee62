//! Timed metadata (PutMetadata): the per-channel rate limit and the record of accepted payloads.
//! (The per-account limit, 155 per second, is an API rate quota: see `crate::rate`.)

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The PutMetadata payload limit, in UTF-8 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024;
/// The default per-channel PutMetadata rate (requests per second).
pub const DEFAULT_CHANNEL_RATE: u32 = 5;

/// A metadata payload IVS accepted, as viewers of the stream would receive it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedMetadata {
    /// When it was accepted.
    pub at: DateTime<Utc>,
    /// The channel.
    pub channel_arn: String,
    /// The stream it was inserted into.
    pub stream_id: String,
    /// The payload.
    pub payload: String,
}

/// A sliding one-second window: at most `limit` acquisitions in any second.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    accepted: VecDeque<Instant>,
}

const WINDOW: Duration = Duration::from_secs(1);

impl RateWindow {
    /// Whether one more request fits at `now`; if it does, it is counted.
    pub(crate) fn try_acquire(&mut self, now: Instant, limit: u32) -> bool {
        while let Some(oldest) = self.accepted.front() {
            if now.saturating_duration_since(*oldest) >= WINDOW {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        if self.accepted.len() < limit as usize {
            self.accepted.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_per_second_in_a_sliding_window() {
        let start = Instant::now();
        let mut window = RateWindow::default();
        for i in 0..5 {
            assert!(
                window.try_acquire(start + Duration::from_millis(i * 100), 5),
                "request {i}"
            );
        }
        assert!(!window.try_acquire(start + Duration::from_millis(500), 5));
        assert!(!window.try_acquire(start + Duration::from_millis(999), 5));
        // The first request leaves the window one second after it was accepted.
        assert!(window.try_acquire(start + Duration::from_millis(1000), 5));
        assert!(!window.try_acquire(start + Duration::from_millis(1050), 5));
        assert!(window.try_acquire(start + Duration::from_millis(1100), 5));
        // A quiet second empties the window.
        for i in 0..5 {
            assert!(window.try_acquire(start + Duration::from_millis(3000 + i), 5));
        }
    }

    #[test]
    fn refused_requests_do_not_count() {
        let start = Instant::now();
        let mut window = RateWindow::default();
        assert!(window.try_acquire(start, 1));
        for i in 1..10 {
            assert!(!window.try_acquire(start + Duration::from_millis(i * 90), 1));
        }
        assert!(window.try_acquire(start + Duration::from_millis(1000), 1));
    }
}
