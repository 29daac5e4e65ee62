//! Logs: `tracing` records written as one JSON object per line, as Lambda's JSON log format
//! expects (`timestamp`, `level`, `message`, then the record's fields and the current span,
//! which carries the invocation's `requestId`).
//!
//! Lambda's advanced logging controls are honoured: `AWS_LAMBDA_LOG_FORMAT=Text` switches to
//! plain text (JSON otherwise), `AWS_LAMBDA_LOG_LEVEL` sets the level (`TRACE` … `FATAL`),
//! falling back to `RUST_LOG` directives, then to `INFO`.

use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

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

    /// A subscriber writing to `writer`. Unreadable directives fall back to `INFO`.
    pub fn subscriber<W>(&self, writer: W) -> Box<dyn Subscriber + Send + Sync>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let filter = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse(&self.filter)
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
            config(&[("RUST_LOG", "shared=debug")]).filter,
            "shared=debug"
        );
    }

    #[test]
    fn json_lines_carry_level_message_and_fields() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = config(&[]).subscriber(move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invoke", requestId = "req-1");
            let _g = span.enter();
            tracing::info!(channel_arn = "arn:x", "hello");
            tracing::debug!("filtered out at INFO");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
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
