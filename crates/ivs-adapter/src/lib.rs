//! The IVS automation's I/O to IVS, and the event path that runs on it. The decisions are the
//! domain's (`domain::policy::decide`, `domain::sweep::plan`); this crate carries them out.
//!
//! - [`ivs`]: the SDK configuration and client, one retry policy with deadlines, stream keys
//!   (rotation exactly once per stream, suspend, resume), timed metadata and its paced batches;
//! - [`tls`]: the certificate authorities the HTTPS client trusts (Amazon's by default);
//! - [`https`]: that HTTPS client, and opening its connections during init;
//! - [`policy_cache`]: channel policies (tags read through IVS), cached per warm container;
//! - [`execute`]: carrying out the actions a decision returns;
//! - [`handler`]: the event functions' handler (parse, decide, execute), for one event or an
//!   SQS batch;
//! - [`publish`]: lifecycle events on EventBridge, and the outbox that keeps what was not taken;
//! - [`metrics`]: the functions' metrics in CloudWatch Embedded Metric Format;
//! - [`queue`]: the batch's SQS side: records returned with a growing delay, dead letters;
//! - [`error`]: the typed error and its Lambda `Diagnostic` (retryable or permanent);
//! - [`logging`]: JSON logs, the level applying to the project's own targets only.

pub mod error;
pub mod execute;
pub mod handler;
pub mod https;
pub mod ivs;
pub mod logging;
pub mod metrics;
pub mod policy_cache;
pub mod publish;
pub mod queue;
pub mod tls;

pub use error::Error;

pub use handler::{Automation, HandlerOutput, RECORDING_EVENTS, STREAM_EVENTS};
