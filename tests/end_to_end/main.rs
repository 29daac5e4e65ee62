//! The automation end to end against the IVS emulator: events delivered through the Lambda
//! Invoke API to the real function binaries, reliability under faults and duplicates, and the
//! sweeper reconciling what events missed, and the binaries over HTTPS.

/// The emulator's events through the Lambda Invoke API to the real binaries.
mod event_pipeline;
/// The binaries over HTTPS: the TLS session opened during init, untrusted certificates
/// refused, unreachable endpoints survived, proxies followed.
mod https;
/// Lifecycle events on EventBridge (moto's, through a rule to SQS) and the EMF metrics of
/// a live → offline → recording-ready scenario on the queued path.
mod lifecycle;
/// No event lost under faulty IVS answers; one rotation per stream under duplicates.
mod reliability;
/// The sweeper against the emulator with event delivery off.
mod sweeper;
