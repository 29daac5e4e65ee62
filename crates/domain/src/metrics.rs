//! The metrics the functions write (CloudWatch Embedded Metric Format, `ivs_adapter::metrics`):
//! one catalog, read by the writer (it writes nothing that is not here), the template's tests
//! (every alarm's and every dashboard widget's metric is here) and the README.
//!
//! Dimensions stay few and low-cardinality: a function, an IVS operation, an action and its
//! outcome, a repair kind. A channel's ARN is never a dimension; it stays in the log line.

/// The namespace when `METRICS_NAMESPACE` is not set (the template sets it).
pub const DEFAULT_NAMESPACE: &str = "IvsAutomation";

/// `Function`: which of the four functions wrote it (`stream-events`, `recording-events`,
/// `sweeper`, `admin-api`).
pub const DIM_FUNCTION: &str = "Function";
/// `Operation`: an IVS API operation (`CreateStreamKey`…).
pub const DIM_OPERATION: &str = "Operation";
/// `Action`: what the automation did (`rotate_stream_key`, `put_metadata`…).
pub const DIM_ACTION: &str = "Action";
/// `Outcome`: how it ended (`rotated`, `already_rotated`, `failed`…).
pub const DIM_OUTCOME: &str = "Outcome";
/// `Kind`: a lifecycle event's kind (its detail-type).
pub const DIM_KIND: &str = "Kind";

pub const ACTIONS: &str = "Actions";
pub const IVS_CALLS: &str = "IvsCalls";
pub const IVS_THROTTLED: &str = "IvsThrottled";
pub const EVENT_AGE: &str = "EventAge";
pub const EVENTS_HANDLED: &str = "EventsHandled";
pub const EVENTS_RETURNED: &str = "EventsReturned";
pub const EVENTS_DEAD_LETTERED: &str = "EventsDeadLettered";
pub const LIFECYCLE_PUBLISHED: &str = "LifecycleEventsPublished";
pub const LIFECYCLE_PUBLISH_FAILED: &str = "LifecycleEventsNotPublished";
pub const SWEEP_CHANNELS_VISITED: &str = "SweepChannelsVisited";
pub const SWEEP_REPAIRS: &str = "SweepRepairs";
pub const SWEEP_STREAMS_STOPPED: &str = "SweepStreamsStopped";
pub const SWEEP_PASS_COMPLETED: &str = "SweepPassCompleted";
pub const SWEEP_PASS_DURATION: &str = "SweepPassDuration";

/// A metric's unit, as EMF names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One metric: its name, unit, the dimension sets it is written with (each one an EMF
/// document; `[]` is the metric without dimensions, for account-wide alarms) and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: Unit,
    pub dimension_sets: &'static [&'static [&'static str]],
    pub meaning: &'static str,
}

/// Every metric the functions write.
pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: ACTIONS,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION, DIM_ACTION, DIM_OUTCOME]],
        meaning: "actions taken (timed metadata, rotations, suspensions, stops), by kind and outcome; `failed` when the action failed",
    },
    MetricSpec {
        name: IVS_CALLS,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION, DIM_OPERATION], &[]],
        meaning: "IVS API calls made, retries included",
    },
    MetricSpec {
        name: IVS_THROTTLED,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION, DIM_OPERATION], &[]],
        meaning: "IVS answers ThrottlingException (each one is retried or returned to the queue)",
    },
    MetricSpec {
        name: EVENT_AGE,
        unit: Unit::Milliseconds,
        dimension_sets: &[&[DIM_FUNCTION]],
        meaning: "from the IVS event's time to the end of its handling (applied or dead-lettered)",
    },
    MetricSpec {
        name: EVENTS_HANDLED,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION]],
        meaning: "IVS events applied (every action done)",
    },
    MetricSpec {
        name: EVENTS_RETURNED,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION]],
        meaning: "SQS records returned to the queue for a later try (throttled, no rate-budget slot, deadline)",
    },
    MetricSpec {
        name: EVENTS_DEAD_LETTERED,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION]],
        meaning: "events sent to the dead-letter queue because they can never be applied",
    },
    MetricSpec {
        name: LIFECYCLE_PUBLISHED,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION, DIM_KIND]],
        meaning: "lifecycle events put on the event bus",
    },
    MetricSpec {
        name: LIFECYCLE_PUBLISH_FAILED,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_FUNCTION]],
        meaning: "lifecycle events EventBridge did not take this time (each one is tried again: its record goes back to the queue, the sweeper keeps it in its state table)",
    },
    MetricSpec {
        name: SWEEP_CHANNELS_VISITED,
        unit: Unit::Count,
        dimension_sets: &[&[]],
        meaning: "channels the sweeper visited in a run",
    },
    MetricSpec {
        name: SWEEP_REPAIRS,
        unit: Unit::Count,
        dimension_sets: &[&[DIM_ACTION]],
        meaning: "what the sweeper did: missed rotations given, idle keys rotated, keys dated",
    },
    MetricSpec {
        name: SWEEP_STREAMS_STOPPED,
        unit: Unit::Count,
        dimension_sets: &[&[]],
        meaning: "streams the sweeper stopped for running past their maximum duration",
    },
    MetricSpec {
        name: SWEEP_PASS_COMPLETED,
        unit: Unit::Count,
        dimension_sets: &[&[]],
        meaning: "1 when a run completed a pass over every channel",
    },
    MetricSpec {
        name: SWEEP_PASS_DURATION,
        unit: Unit::Seconds,
        dimension_sets: &[&[]],
        meaning: "how long the completed pass took, from its first run's start to its end",
    },
];

/// The catalog's entry for `name`.
pub fn spec(name: &str) -> Option<&'static MetricSpec> {
    METRICS.iter().find(|m| m.name == name)
}

/// Whether `name` may be written with exactly these dimension names (in any order).
pub fn allows(name: &str, dimensions: &[&str]) -> bool {
    spec(name).is_some_and(|m| {
        m.dimension_sets
            .iter()
            .any(|set| set.len() == dimensions.len() && set.iter().all(|d| dimensions.contains(d)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dimensions_known() {
        let known = [
            DIM_FUNCTION,
            DIM_OPERATION,
            DIM_ACTION,
            DIM_OUTCOME,
            DIM_KIND,
        ];
        for (i, m) in METRICS.iter().enumerate() {
            assert!(
                METRICS[i + 1..].iter().all(|o| o.name != m.name),
                "{}",
                m.name
            );
            for set in m.dimension_sets {
                assert!(set.iter().all(|d| known.contains(d)), "{}", m.name);
            }
        }
        assert!(allows(IVS_CALLS, &[DIM_OPERATION, DIM_FUNCTION]));
        assert!(allows(IVS_CALLS, &[]));
        assert!(!allows(IVS_CALLS, &[DIM_ACTION]));
        assert!(!allows("ChannelArn", &[]));
    }
}
