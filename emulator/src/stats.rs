//! Counters of what the emulator did: requests and errors per operation, injected faults,
//! requests refused by the API rate quotas and the PutMetadata limits, event deliveries and dead
//! letters.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::faults::FaultCause;

/// A snapshot of the counters (`GET /_emulator/stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Per IVS operation name.
    pub operations: BTreeMap<String, OperationStats>,
    /// Events emitted so far.
    pub events_emitted: u64,
    /// Per delivery target (`lambda:<function>`, `json-lines:<stdout|path>`).
    pub deliveries: BTreeMap<String, DeliveryStats>,
    /// Events that could not be delivered to a target (see `GET /_emulator/dead-letters`).
    pub dead_letters: u64,
}

/// Counters of one operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStats {
    /// Requests received (authenticated or not).
    pub requests: u64,
    /// Error answers by error type (injected ones included).
    pub errors: BTreeMap<String, u64>,
    /// Injected faults.
    pub faults: FaultCounts,
    /// PutMetadata requests refused by its rate limits: per channel, and per account (155 per
    /// second, also counted in `rate_throttled`).
    pub metadata_throttled: u64,
    /// Requests refused by the operation's account-wide API rate quota (each is also counted in
    /// `errors["ThrottlingException"]`).
    pub rate_throttled: u64,
}

/// Injected faults by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    /// Random `ThrottlingException`s.
    pub throttle: u64,
    /// Random `InternalServerException`s.
    pub error500: u64,
    /// Random 503s.
    pub unavailable: u64,
    /// Requests delayed by injected latency.
    pub latency: u64,
    /// Scripted errors.
    pub scripted: u64,
}

impl FaultCounts {
    pub(crate) fn count(&mut self, cause: FaultCause) {
        match cause {
            FaultCause::Throttle => self.throttle += 1,
            FaultCause::Error500 => self.error500 += 1,
            FaultCause::Unavailable => self.unavailable += 1,
            FaultCause::Scripted => self.scripted += 1,
        }
    }
}

/// Counters of one delivery target. A queue target (`queue:<function>`) counts in
/// `delivered` the records deleted after a successful invocation, in `failed_attempts` the
/// failed SendMessage attempts and in `dead_lettered` the events it could not send; the
/// other counters are its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStats {
    /// Events delivered.
    pub delivered: u64,
    /// Failed attempts (each retry that failed counts).
    pub failed_attempts: u64,
    /// Events given up on.
    pub dead_lettered: u64,
    /// Queue targets: messages sent to the function's queue.
    pub sent: u64,
    /// Queue targets: invocations (one per batch).
    pub invocations: u64,
    /// Queue targets: records the function returned as failures (`batchItemFailures`).
    pub records_failed: u64,
    /// Queue targets: batches that failed whole (a function error, no answer, an invalid
    /// partial batch response): none of their records was deleted.
    pub batches_failed: u64,
}
