//! Everything the IVS automation functions share: typed IVS events, IVS ARNs, the IVS
//! helpers, the policy (what to do for an event, as a pure function) and its execution.
//!
//! Where to find each concern:
//! - [`events`]: typed EventBridge events of source `aws.ivs`;
//! - [`arn`]: parsing, validating and building IVS ARNs;
//! - [`ivs`]: helpers over the IVS client (metadata, stop, key rotation, suspend/resume),
//!   with one retry policy;
//! - [`policy`]: channel policy (deployment defaults overridden by channel tags) and the
//!   pure decision function [`policy::decide`];
//! - [`execute`]: carrying out the actions a decision returns;
//! - [`handler`]: the event functions' handler, tying the above together;
//! - [`admin`]: the admin HTTP API (routes, validation, answers);
//! - [`token`]: playback tokens for private channels;
//! - [`sweeper`]: the scheduled sweep (missed rotations, overdue streams, old keys);
//! - [`tls`]: the certificate authorities the HTTPS client trusts (Amazon's by default);
//! - [`error`], [`secret`], [`logging`]: the error type, redacted secrets, JSON logs.

pub mod admin;
pub mod arn;
pub mod error;
pub mod events;
pub mod execute;
pub mod handler;
pub mod ivs;
pub mod logging;
pub mod policy;
pub mod secret;
pub mod sweeper;
pub mod tls;
pub mod token;

pub use error::Error;

pub use handler::{Automation, HandlerOutput, RECORDING_EVENTS, STREAM_EVENTS};
