//! The IVS emulator (`emulator/`) as real IVS clients see it: the Rust SDK and boto3.

/// The real `aws-sdk-ivs` client: every operation, its typed errors, events, faults.
mod aws_sdk;
/// boto3 (`boto3_smoke.py`) against the emulator.
mod boto3;
/// Queued delivery: EventBridge's SQS target and the SQS event source mapping over moto.
mod queue_delivery;
/// IVS's API rate quotas through the real SDK, and seeding thousands of channels.
mod rate_quotas;
