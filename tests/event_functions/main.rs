//! The event functions (`stream-events`, `recording-events`) and the IVS adapter they run on:
//! the policy over every fixture, the adapter's IVS helpers and its handler against a mocked
//! IVS, timed metadata batching (mocked IVS and the emulator), and the real binaries in the
//! real `lambda_runtime` loop.

/// Every fixture in `events/` parses, and the policy decides the right actions for each.
mod fixture_decisions;
/// The handler (parse → decide → execute) over the fixtures, with IVS mocked.
mod handler_with_mocked_ivs;
/// The IVS helpers (`ivs_adapter::ivs`) against a mocked IVS.
mod ivs_helpers;
/// Publishing the lifecycle events (IVS, EventBridge and SQS mocked): what each event
/// publishes, the outbox when EventBridge does not take them, the invocation's metrics.
mod lifecycle_publishing;
/// The lifecycle events (`domain::lifecycle`) against their JSON Schemas (`schemas/lifecycle/`),
/// their fixtures (`events/lifecycle/`) and README.
mod lifecycle_schemas;
/// Batched timed metadata (`ivs_adapter::ivs::batch`).
mod metadata_batching;
/// The function binaries in the real runtime loop, against a local Runtime API.
mod runtime_loop;
/// SQS batches: partial failures, visibility back-off, dead letters, one tag read per batch.
mod sqs_batches;
