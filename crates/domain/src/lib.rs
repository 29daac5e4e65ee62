//! The IVS automation's domain: what the automation knows and decides, with no I/O.
//!
//! This crate may not do I/O: no tokio, no AWS SDK, no Lambda runtime, no HTTP (its
//! `Cargo.toml` says so, and `tests/deployment/architecture.rs` checks it). Everything here is data and
//! pure functions, tested without a network:
//!
//! - [`events`]: typed EventBridge events of source `aws.ivs`;
//! - [`arn`]: parsing, validating and building IVS ARNs;
//! - [`policy`]: deployment settings, channel tags, and [`policy::decide`], which turns an
//!   event and a channel's policy into actions;
//! - [`metadata`]: IVS's limits on a timed-metadata payload (templates live in `policy`);
//! - [`rotation`]: the key-rotation markers and the one rule that says a rotation is settled;
//! - [`sweep`]: the sweeper's plan for one channel;
//! - [`rate`]: IVS's account-wide rate quotas and one container's share of them;
//! - [`lifecycle`]: the lifecycle events the automation publishes, with stable ids;
//! - [`metrics`]: the catalog of the metrics the functions write;
//! - [`secret`]: a string that never reaches a log line;
//! - [`config`]: the settings error and how booleans read.

pub mod arn;
pub mod config;
pub mod events;
pub mod lifecycle;
pub mod metadata;
pub mod metrics;
pub mod policy;
pub mod rate;
pub mod rotation;
pub mod secret;
pub mod sweep;
