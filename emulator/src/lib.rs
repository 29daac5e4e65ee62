//! A local Amazon IVS (low-latency streaming) emulator that speaks the real IVS wire protocol,
//! simulates broadcasters, and emits the EventBridge events IVS emits.
//!
//! Point any IVS client at it (`endpoint_url` in the SDKs, `AWS_ENDPOINT_URL_IVS` in the
//! environment) with any credentials, signed for the emulator's region.
//!
//! # The IVS API
//!
//! restJson1 as the SDKs expect it: `POST /<Operation>` with a JSON body; tagging on
//! `GET|POST|DELETE /tags/{resourceArn}`. Successes answer 200 with JSON, or an empty 204 for
//! DeleteChannel, DeleteStreamKey, DeleteRecordingConfiguration, DeletePlaybackRestrictionPolicy,
//! DeleteAdConfiguration and PutMetadata. Errors carry their type in `X-Amzn-Errortype` and `{"exceptionMessage": ...}`
//! in the body, at the status the service model gives. Requests need a SigV4 `Authorization`
//! header scoped to the region and the `ivs` service (signatures are not verified).
//!
//! Implemented: channels, stream keys, streams and stream sessions, PutMetadata, playback key
//! pairs, recording configurations, playback restriction policies, ad configurations, tags,
//! viewer session revocations. Validation follows the service model (lengths, patterns, ranges,
//! enums); pagination uses opaque tokens; the quotas of IVS apply (one stream key per channel,
//! three playback key pairs, 50 tags, 1 KB and 5 requests per second per channel for
//! PutMetadata). Not implemented: InsertAdBreak and the failover slate configuration operations
//! ([`NOT_EMULATED`]), which answer `UnknownOperationException` saying so.
//!
//! A new recording configuration is `CREATING`, as IVS answers, and `ACTIVE` once
//! [`Config::recording_configuration_delay`] has passed (2 seconds by default; zero makes it
//! `ACTIVE` at once; `--recording-configuration-delay-ms` on the command line).
//!
//! # Where the emulator differs from IVS
//!
//! One list, in `emulator/README.md`, section "Where the emulator differs from IVS", says what
//! the emulator knowingly does differently and what to expect: among others, signatures and JWTs
//! are parsed but never verified; events are delivered at once, exactly once and in order where
//! EventBridge is at least once, late and unordered; queued delivery ([`QueueTarget`]) runs on
//! moto's SQS, with moto's flaws, and a fixed number of pollers; recording configurations never
//! fail and no recording reaches S3; ad configurations are a record (MediaTailor is never
//! consulted) and InsertAdBreak is not implemented; playback key pair fingerprints are the
//! emulator's own (SHA-256 of the key); ingest and playback are simulated; state lives in
//! memory only.
//!
//! # API rate quotas
//!
//! IVS's account-wide rate quotas apply by default, per operation as IVS lists them ([`ivs_rate`]):
//! 5 requests per second for each channel, stream and stream key operation, 10 for the tag
//! operations, 3 for the playback key pair and recording configuration operations, 5 for the
//! playback restriction policy operations, 10 for StartViewerSessionRevocation, 2 for
//! BatchStartViewerSessionRevocation, and 155 for PutMetadata (besides its 5 per channel); 5 for
//! the ad configuration operations, which IVS's table does not list (a guess). Each
//! operation has a token bucket holding one second of its rate (the burst), refilled
//! continuously; a request beyond it is answered `ThrottlingException` (429), as IVS answers, and
//! counted in [`OperationStats::rate_throttled`] and `errors["ThrottlingException"]`.
//! Authentication comes first (an unsigned request takes no token); fault injection comes after.
//!
//! [`Config::rate_quotas`] scales every quota by a factor for fast runs ([`RateQuotas::scaled`]),
//! or turns them off ([`RateQuotas::off`], factor 0); so do `--rate-factor` and
//! `IVS_EMULATOR_RATE_FACTOR` on the command line, and `POST /_emulator/rate-quotas` while it
//! runs. **With a factor other than 1, set the functions' own rate budgets to the same factor**
//! (the functions have no rate budgets yet; another change adds them), or they pace themselves
//! for quotas that are not the ones in force.
//!
//! # The control API
//!
//! Under `/_emulator` (no authentication, never subject to fault injection), JSON in and out;
//! errors answer `{"error": "<code>", "message": "..."}`. Each route has an [`Emulator`] method.
//!
//! | route | body / query | effect |
//! |---|---|---|
//! | `POST /_emulator/ingest/connect` | `{"streamKey"}` | goes live: `{"channelArn", "streamId"}`; unknown or deleted key 403, live channel 409 |
//! | `POST /_emulator/ingest/disconnect` | `{"channelArn"}` | ends the stream (as StopStream does): `{"channelArn", "streamId"}` |
//! | `POST /_emulator/ingest/starve` / `recover` | `{"channelArn"}` | `Starvation Start` / `Starvation End` |
//! | `POST /_emulator/ingest/viewers` | `{"channelArn", "viewerCount"}` | sets the reported viewer count |
//! | `POST /_emulator/limit-breach` | `{"limitName", "channelArn"?, "limitValue"?, "exceededBy"?, "limitUnit"?}` | an `IVS Limit Breach` |
//! | `POST /_emulator/recording/fail-next` | `{"channelArn", "phase": "start"\|"end", "reason"?}` | the next recording start or end fails |
//! | `POST /_emulator/recording/flush` | | ends the recordings waiting for their reconnect window |
//! | `GET /_emulator/metadata` | `?channelArn=` | accepted PutMetadata payloads `[{"at", "channelArn", "streamId", "payload"}]` |
//! | `GET /_emulator/events` | | every event so far, in order, fields in IVS's order |
//! | `GET\|POST /_emulator/faults` | `{"rules": [{"operation", "throttle", "error500", "unavailable", "latencyMs"}]}` | fault injection |
//! | `POST /_emulator/faults/next` | `{"operation", "error", "count"?}` | the next calls of an operation fail with a modelled error |
//! | `POST /_emulator/seed` | [`SeedSpec`]: `{"channels", "namePrefix"?, "tags"?, "live"?, "liveStartedSecondsAgo"?, "pastSessions"?, "emitEvents"?, "channelQuota"?, "channel"?}` | creates the channels at once, outside the rate quotas: `{"created", "live", "channels"}`, a [`SeededChannel`] each |
//! | `GET\|POST /_emulator/rate-quotas` | `{"factor"}` | the rate quotas in force: `{"factor", "enabled", "operations": {"GetChannel": 5.0, ...}, "putMetadataPerChannel"}`; POST sets the factor (0 = off) and refills every bucket |
//! | `GET /_emulator/queues` | | the queue targets' queues: `{"queues": {"<function>": url}, "deadLetterQueue": url}` ([`QueueUrls`]; sets them up if needed); 404 without a queue target |
//! | `GET /_emulator/stats` | | [`Stats`] |
//! | `GET /_emulator/dead-letters` | | [`DeadLetter`]s |
//! | `GET /_emulator/revocations` | | accepted viewer-session revocations |
//! | `GET /_emulator/health` | | `{"status": "ok", "region", "account", "seed"}` |
//!
//! # Secrets Manager (minimal)
//!
//! `POST /` with `X-Amz-Target: secretsmanager.<Operation>` serves `CreateSecret`,
//! `PutSecretValue`, `GetSecretValue` and `DeleteSecret` (string secrets, current version) on
//! the awsJson1_1 protocol, SigV4-signed for the `secretsmanager` service: enough for the
//! admin API to load its playback key locally through the real SDK
//! (`AWS_ENDPOINT_URL_SECRETS_MANAGER`). Values are never logged.
//!
//! # Events
//!
//! Connecting emits `Session Created`, `Stream Start` (and `Recording Start` or `Recording Start
//! Failure` when the channel records); disconnecting or StopStream emits `Stream End`, `Session
//! Ended` (and `Recording End` or `Recording End Failure`). Events go, in order, to in-process
//! [`Subscription`]s, to the event log ([`Emulator::events`]), and to the configured [`Target`]s:
//! JSON lines (stdout or a file) and local Lambda functions through the Lambda Invoke API, with
//! retries and dead letters, either directly ([`LambdaTarget`]) or through SQS queues on
//! moto's server polled by an event source mapping ([`QueueTarget`]: batches, partial batch
//! failures, visibility timeouts, redrive to `failed-events`; see
//! [`Emulator::start_queues`]).
//!
//! # The API Gateway emulator
//!
//! A [`Gateway`] is what API Gateway is to the admin API in production, for functions run locally
//! by `cargo lambda watch`: an HTTP API (payload format 2.0, the `$default` route) in front of one
//! Lambda function. It authorizes each request ([`GatewayAuth::Iam`]: a SigV4 header for
//! `execute-api`; [`GatewayAuth::Jwt`]: a bearer token), builds the event with the caller's
//! identity in `requestContext.authorizer`, invokes the function through the Lambda Invoke API and
//! turns its result into the HTTP response, with API Gateway's own answers (403, 401, 413, 500,
//! 503) where API Gateway gives them.
//!
//! **It authenticates nobody**: SigV4 signatures are not verified and JWTs are decoded without
//! any verification, so any caller can claim any identity. It listens on loopback only; it
//! exists to run the stack locally, never to protect anything.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::net::{Ipv4Addr, SocketAddr};
//!
//! use ivs_emulator::{Gateway, GatewayConfig};
//!
//! let gateway = Gateway::new(GatewayConfig::new("http://127.0.0.1:9000", "admin-api"))?;
//! let server = gateway.serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
//! // ... send SigV4-signed requests (service `execute-api`) to `server.url()`, then:
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Command line
//!
//! `ivs-emulator --port 0` listens on 127.0.0.1 and prints `http://127.0.0.1:PORT` as the first
//! line of stdout; logs go to stderr. `--region`, `--account`, `--seed`, `--events-out
//! <stdout|PATH>`, `--lambda-endpoint URL` with `--route "<detail-type>=<function>"` or
//! `--default-routes`, `--fault "<Operation|*>:throttle=0.1,error500=0.05,unavailable=0.05,latency_ms=50"`,
//! `--rate-factor <FACTOR|off>` (default: `IVS_EMULATOR_RATE_FACTOR`, else 1),
//! `--recording-configuration-delay-ms MS` (default 2000) and `--no-metadata-rate-limit`
//! configure it (`--help` lists them all). `--sqs-endpoint URL` (with `--lambda-endpoint` and
//! routes) delivers through queues instead, with `--batch-size`, `--batching-window-ms`,
//! `--max-concurrency`, `--visibility-timeout-seconds` and `--max-receive-count`; it prints
//! `queue <function>-events <url>` per function and `dead-letter-queue <url>` after the
//! endpoint (and gateway) lines.
//!
//! `--gateway-port N --gateway-function admin-api` (with `--lambda-endpoint`) also runs a
//! [`Gateway`] on 127.0.0.1, and prints `gateway: http://127.0.0.1:PORT` as the second line of
//! stdout; `--gateway-auth iam|jwt` (default `iam`) and `--gateway-timeout SECONDS` (default 30)
//! configure it.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use std::net::{Ipv4Addr, SocketAddr};
//!
//! use ivs_emulator::{Config, Emulator};
//!
//! let emulator = Emulator::new(Config { seed: 7, ..Config::default() });
//! let server = emulator.serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
//! let mut events = emulator.subscribe();
//! // ... create a channel through `server.url()` with the IVS SDK, then:
//! // let live = emulator.connect(&stream_key_value)?;
//! # let _ = &mut events;
//! server.shutdown().await
//! # }
//! ```

#![warn(missing_docs)]

mod auth;
mod config;
mod control;
mod delivery;
mod emulator;
mod error;
mod events;
mod faults;
mod gateway;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod http_tests;
mod ids;
mod ingest;
mod invoke;
mod keys;
mod metadata;
mod model;
mod ops;
mod pagination;
mod queue;
mod rate;
mod secrets;
mod seed;
mod server;
mod state;
mod stats;
mod validate;

pub use config::{
    Config, JsonLinesTarget, LambdaTarget, QueueTarget, Quotas, Route, RouteSpecError, Target,
};
pub use delivery::{DeadLetter, Subscription};
pub use emulator::Emulator;
pub use error::{ControlError, ErrorKind, IvsError};
pub use events::{
    DETAIL_TYPES, LIMIT_BREACH, RECORDING_STATE_CHANGE, STREAM_HEALTH_CHANGE, STREAM_STATE_CHANGE,
};
pub use faults::{FaultConfig, FaultRule, FaultSpecError, ScriptedError};
pub use gateway::{Gateway, GatewayAuth, GatewayConfig, GatewayConfigError};
pub use ingest::{Connected, LimitBreach, RecordingFailure};
pub use metadata::RecordedMetadata;
pub use ops::{Operation, NOT_EMULATED};
pub use queue::{queue_name, QueueUrls, DEAD_LETTER_QUEUE};
pub use rate::{ivs_rate, RateFactorError, RateQuotas, PUT_METADATA_ACCOUNT_RATE};
pub use seed::{Live, SeedSpec, SeededChannel, DEFAULT_NAME_PREFIX, MAX_SEED_CHANNELS};
pub use server::Server;
pub use state::Revocation;
pub use stats::{DeliveryStats, FaultCounts, OperationStats, Stats};
