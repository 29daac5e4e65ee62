//! Logs: `tracing` records written as one JSON object per line, as Lambda's JSON log format
//! expects (`timestamp`, `level`, `message`, then the record's fields and the current span,
//! which carries the invocation's `requestId`).
//!
//! Lambda's advanced logging controls are honoured: `AWS_LAMBDA_LOG_FORMAT=Text` switches to
//! plain text (JSON otherwise), `AWS_LAMBDA_LOG_LEVEL` sets the level (`TRACE` … `FATAL`),
//! falling back to `RUST_LOG` directives, then to `INFO`.
//!
//! **The level applies to this project's own code only** ([`OWN_TARGETS`]); every other crate
//! logs at most at [`DEPENDENCY_CAP`] (INFO), whatever is asked. Below INFO, dependencies
//! print credentials: `lambda_runtime` logs each raw event at TRACE (for the admin API, the
//! caller's `Authorization` header: a replayable JWT or SigV4 signature, and
//! `x-amz-security-token`), the AWS SDK logs each signed request (the function's own session
//! token) and `aws-sigv4` its signing inputs. The project's own records never carry a secret
//! ([`domain::secret::Secret`] prints `<redacted>`), at any level.

use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Crates (tracing targets) whose records follow the configured level: the project's library
/// crates and its function crates (`tests/deployment/architecture.rs` keeps it in step with the
/// workspace).
pub const OWN_TARGETS: &[&str] = &[
    "domain",
    "ivs_adapter",
    "stream_events",
    "recording_events",
    "admin_api",
    "sweeper",
];

/// The most verbose level any other crate may log at (see the module documentation).
pub const DEPENDENCY_CAP: LevelFilter = LevelFilter::INFO;

/// Logging settings read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    pub json: bool,
    /// `EnvFilter` directives (a level such as `info`, or `RUST_LOG`-style directives).
    pub filter: String,
}

impl LogConfig {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let json =
            !lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.trim().eq_ignore_ascii_case("text"));
        let filter = match lookup("AWS_LAMBDA_LOG_LEVEL").map(|l| l.trim().to_ascii_lowercase()) {
            // Lambda's FATAL has no tracing equivalent: ERROR is the closest.
            Some(level) if level == "fatal" => "error".to_owned(),
            Some(level) if !level.is_empty() => level,
            _ => lookup("RUST_LOG")
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| "info".to_owned()),
        };
        LogConfig { json, filter }
    }

    /// The `EnvFilter` directives actually applied: the configured level for
    /// [`OWN_TARGETS`], at most [`DEPENDENCY_CAP`] for everything else. A plain level `L`
    /// becomes `min(L, INFO)` plus `own=L` for each own target; a `target=level` directive
    /// naming another crate is capped the same way; one naming an own target is kept.
    pub fn directives(&self) -> String {
        let mut global: Option<LevelFilter> = None;
        let mut own: Vec<String> = Vec::new();
        let mut others: Vec<String> = Vec::new();
        for directive in self
            .filter
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            if let Ok(level) = directive.parse::<LevelFilter>() {
                global = Some(level);
                continue;
            }
            // `target[span{field}]=level`, or a bare `target` (which means TRACE).
            let (selector, level) = match directive.rsplit_once('=') {
                Some((selector, level)) if !selector.contains('[') || selector.ends_with(']') => {
                    match level.parse::<LevelFilter>() {
                        Ok(level) => (selector, level),
                        Err(_) => continue,
                    }
                }
                _ => (directive, LevelFilter::TRACE),
            };
            let target = selector.split(['[', ':']).next().unwrap_or(selector).trim();
            if OWN_TARGETS.contains(&target) {
                own.push(format!("{selector}={level}"));
            } else {
                let capped = level.min(DEPENDENCY_CAP);
                others.push(format!("{target}={capped}"));
            }
        }
        let global = global.unwrap_or(if own.is_empty() && others.is_empty() {
            LevelFilter::INFO
        } else {
            // Directives for some targets only: the others at INFO, as `EnvFilter`'s default.
            LevelFilter::INFO.min(DEPENDENCY_CAP)
        });
        let mut all = vec![global.min(DEPENDENCY_CAP).to_string()];
        all.extend(OWN_TARGETS.iter().map(|t| format!("{t}={global}")));
        all.extend(others);
        // Own-target directives last: they refine the defaults above.
        all.extend(own);
        all.join(",")
    }

    /// A subscriber writing to `writer`. Unreadable directives fall back to `INFO`.
    pub fn subscriber<W>(&self, writer: W) -> Box<dyn Subscriber + Send + Sync>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse(self.directives())
            .unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(false);
        if self.json {
            Box::new(
                builder
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .finish(),
            )
        } else {
            Box::new(builder.finish())
        }
    }
}

/// Installs the process-wide subscriber (stdout, settings from the environment). Call once,
/// first thing in `main`. A second call leaves the first subscriber in place.
pub fn init() {
    let subscriber = LogConfig::from_env().subscriber(std::io::stdout);
    // Fails only when a subscriber is already installed, which is then kept.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> LogConfig {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        LogConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn honours_lambda_log_controls() {
        assert_eq!(
            config(&[]),
            LogConfig {
                json: true,
                filter: "info".into()
            }
        );
        assert!(!config(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
        assert!(config(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        assert_eq!(config(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).filter, "debug");
        assert_eq!(config(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter, "error");
        assert_eq!(
            config(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "trace")]).filter,
            "warn",
            "Lambda's level wins over RUST_LOG"
        );
        assert_eq!(
            config(&[("RUST_LOG", "ivs_adapter=debug")]).filter,
            "ivs_adapter=debug"
        );
    }

    #[test]
    fn dependencies_never_log_below_info_whatever_is_asked() {
        let own = OWN_TARGETS
            .iter()
            .map(|t| format!("{t}=trace"))
            .collect::<Vec<_>>();
        assert_eq!(
            config(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).directives(),
            format!("info,{}", own.join(","))
        );
        let warn = config(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]).directives();
        assert!(
            warn.starts_with("warn,domain=warn,ivs_adapter=warn,"),
            "{warn}"
        );
        // RUST_LOG directives naming dependencies are capped; own targets keep theirs.
        let directives = config(&[(
            "RUST_LOG",
            "debug,lambda_runtime=trace,aws_sigv4,hyper=warn,ivs_adapter::ivs=trace,admin_api[invoke]=debug",
        )])
        .directives();
        for expected in [
            "lambda_runtime=info",
            "aws_sigv4=info",
            "hyper=warn",
            "ivs_adapter::ivs=trace",
            "admin_api[invoke]=debug",
            "ivs_adapter=debug",
        ] {
            assert!(
                directives.split(',').any(|d| d == expected),
                "{expected} in {directives}"
            );
        }
        assert!(directives.starts_with("info,"), "{directives}");
    }

    #[test]
    fn at_trace_the_runtime_event_and_sdk_requests_are_not_logged() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber =
            config(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).subscriber(move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            // What these crates log below INFO (their own targets), with credentials.
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "Bearer eyJ.secret", "raw JSON event received from Lambda");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = "x-amz-security-token: FQoG", "transmitting request");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "calculated signing parameters");
            tracing::info!(target: "lambda_runtime", "an INFO record of a dependency");
            tracing::trace!(target: "admin_api::ops", "the project's own TRACE record");
        });
        let out = buf.text();
        assert!(!out.contains("eyJ.secret"), "{out}");
        assert!(!out.contains("FQoG"), "{out}");
        assert!(!out.contains("signing parameters"), "{out}");
        assert!(out.contains("an INFO record of a dependency"), "{out}");
        assert!(out.contains("the project's own TRACE record"), "{out}");
    }

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_level_message_and_fields() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = config(&[]).subscriber(move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invoke", requestId = "req-1");
            let _g = span.enter();
            tracing::info!(channel_arn = "arn:x", "hello");
            tracing::debug!("filtered out at INFO");
        });
        let out = buf.text();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "hello");
        assert_eq!(v["channel_arn"], "arn:x");
        assert_eq!(v["spans"][0]["requestId"], "req-1");
        assert!(v["timestamp"].is_string());
    }
}
