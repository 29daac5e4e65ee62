//! Channel policy: what the automation does on each channel.
//!
//! Deployment defaults come from environment variables ([`Settings::from_lookup`], given the
//! function's environment); each channel can override them with tags
//! ([`Settings::policy_for`]). With nothing set, the policy inserts
//! the stream-start metadata and does nothing disruptive: key rotation, suspension,
//! stop-on-breach and must-record are opt-in.
//!
//! [`decide`] turns an event and a policy into actions, as a pure function.

mod decide;
mod template;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use decide::{decide, needs_policy, Action, MetadataPurpose, Notice, StopReason};
pub use template::{Template, TemplateError, TemplateValues, PLACEHOLDERS};

use crate::config::parse_bool;
use crate::config::ConfigError;

/// Environment variables (deployment defaults).
pub mod env {
    /// `true`/`false`: insert timed metadata when a stream starts. Default `true`.
    pub const START_METADATA: &str = "START_METADATA";
    /// Template of the stream-start metadata. Default [`super::DEFAULT_START_TEMPLATE`].
    pub const START_METADATA_TEMPLATE: &str = "START_METADATA_TEMPLATE";
    /// `off`, `stream-end` or `session-ended`: when to rotate the stream key. Default `off`.
    pub const ROTATE_KEY_ON: &str = "ROTATE_KEY_ON";
    /// `true`/`false`: stop a stream that breaches an ingest limit. Default `false`.
    pub const STOP_ON_LIMIT_BREACH: &str = "STOP_ON_LIMIT_BREACH";
    /// `true`/`false`: stop a stream whose recording fails to start. Default `false`.
    pub const MUST_RECORD: &str = "MUST_RECORD";
    /// `true`/`false`: insert metadata when a stream starves and recovers. Default `false`.
    pub const STARVATION_METADATA: &str = "STARVATION_METADATA";
    /// Template of the starvation-start metadata.
    pub const STARVATION_START_METADATA_TEMPLATE: &str = "STARVATION_START_METADATA_TEMPLATE";
    /// Template of the starvation-end metadata.
    pub const STARVATION_END_METADATA_TEMPLATE: &str = "STARVATION_END_METADATA_TEMPLATE";
    /// Seconds a channel's tags are cached in a warm container (0 = no cache). Default 60.
    pub const POLICY_CACHE_SECONDS: &str = "POLICY_CACHE_SECONDS";
}

/// Channel tags that override the defaults.
pub mod tags {
    pub const START_METADATA: &str = "ivs-automation:start-metadata";
    pub const ROTATE_KEY_ON: &str = "ivs-automation:rotate-key-on";
    pub const STOP_ON_LIMIT_BREACH: &str = "ivs-automation:stop-on-limit-breach";
    pub const MUST_RECORD: &str = "ivs-automation:must-record";
    pub const STARVATION_METADATA: &str = "ivs-automation:starvation-metadata";
    /// `true`: the channel is suspended; a stream that starts is stopped and its key revoked.
    pub const SUSPENDED: &str = "ivs-automation:suspended";
}

pub const DEFAULT_START_TEMPLATE: &str = r#"{"type":"stream-start","channel":"{channel_name}","streamId":"{stream_id}","startedAt":"{event_time}"}"#;
pub const DEFAULT_STARVATION_START_TEMPLATE: &str =
    r#"{"type":"reconnecting","streamId":"{stream_id}","at":"{event_time}"}"#;
pub const DEFAULT_STARVATION_END_TEMPLATE: &str =
    r#"{"type":"reconnected","streamId":"{stream_id}","at":"{event_time}"}"#;
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
const MAX_CACHE_TTL: Duration = Duration::from_secs(3600);

/// When a channel's stream key is rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotateOn {
    Never,
    /// On `Stream End`.
    StreamEnd,
    /// On `Session Ended`.
    SessionEnded,
}

impl RotateOn {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" | "never" | "false" | "none" => Some(RotateOn::Never),
            "stream-end" => Some(RotateOn::StreamEnd),
            "session-ended" => Some(RotateOn::SessionEnded),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RotateOn::Never => "off",
            RotateOn::StreamEnd => "stream-end",
            RotateOn::SessionEnded => "session-ended",
        }
    }
}

/// The metadata templates (deployment-wide: tag values cannot hold JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Templates {
    pub stream_start: Template,
    pub starvation_start: Template,
    pub starvation_end: Template,
}

/// What the automation does on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPolicy {
    pub start_metadata: bool,
    pub rotate_key_on: RotateOn,
    pub stop_on_limit_breach: bool,
    pub must_record: bool,
    pub starvation_metadata: bool,
    pub suspended: bool,
    pub templates: Arc<Templates>,
}

/// Deployment settings: the default policy and how long channel policies are cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub defaults: ChannelPolicy,
    pub cache_ttl: Duration,
}

impl Settings {
    /// Reads the deployment defaults from a variable source (the function's environment).
    /// Empty values count as unset. An invalid value is an error naming the variable (the
    /// function then fails to start, visibly).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let bool_var = |name: &str, default: bool| -> Result<bool, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => parse_bool(&v)
                    .ok_or_else(|| ConfigError(format!("{name}={v:?}: expected true or false"))),
            }
        };
        let template_var = |name: &str, default: &str| -> Result<Template, ConfigError> {
            let source = get(name).unwrap_or_else(|| default.to_owned());
            Template::parse(&source).map_err(|e| ConfigError(format!("{name}: {e}")))
        };
        let rotate_key_on = match get(env::ROTATE_KEY_ON) {
            None => RotateOn::Never,
            Some(v) => RotateOn::parse(&v).ok_or_else(|| {
                ConfigError(format!(
                    "{}={v:?}: expected off, stream-end or session-ended",
                    env::ROTATE_KEY_ON
                ))
            })?,
        };
        let cache_ttl = match get(env::POLICY_CACHE_SECONDS) {
            None => DEFAULT_CACHE_TTL,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
                .filter(|d| *d <= MAX_CACHE_TTL)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{}={v:?}: expected whole seconds from 0 to {}",
                        env::POLICY_CACHE_SECONDS,
                        MAX_CACHE_TTL.as_secs()
                    ))
                })?,
        };
        let templates = Templates {
            stream_start: template_var(env::START_METADATA_TEMPLATE, DEFAULT_START_TEMPLATE)?,
            starvation_start: template_var(
                env::STARVATION_START_METADATA_TEMPLATE,
                DEFAULT_STARVATION_START_TEMPLATE,
            )?,
            starvation_end: template_var(
                env::STARVATION_END_METADATA_TEMPLATE,
                DEFAULT_STARVATION_END_TEMPLATE,
            )?,
        };
        Ok(Settings {
            defaults: ChannelPolicy {
                start_metadata: bool_var(env::START_METADATA, true)?,
                rotate_key_on,
                stop_on_limit_breach: bool_var(env::STOP_ON_LIMIT_BREACH, false)?,
                must_record: bool_var(env::MUST_RECORD, false)?,
                starvation_metadata: bool_var(env::STARVATION_METADATA, false)?,
                suspended: false,
                templates: Arc::new(templates),
            },
            cache_ttl,
        })
    }

    /// The policy of a channel with these tags: the defaults, each overridden by its tag.
    /// A tag with an invalid value is ignored (the default stands) and reported in the
    /// returned warnings, so that a typo in one tag does not stop the automation.
    pub fn policy_for(
        &self,
        channel_tags: &HashMap<String, String>,
    ) -> (ChannelPolicy, Vec<String>) {
        let mut policy = self.defaults.clone();
        let mut warnings = Vec::new();
        let mut flag = |key: &str, field: &mut bool| {
            if let Some(v) = channel_tags.get(key) {
                match parse_bool(v) {
                    Some(b) => *field = b,
                    None => {
                        warnings.push(format!("tag {key}={v:?} ignored: expected true or false"))
                    }
                }
            }
        };
        flag(tags::START_METADATA, &mut policy.start_metadata);
        flag(tags::STOP_ON_LIMIT_BREACH, &mut policy.stop_on_limit_breach);
        flag(tags::MUST_RECORD, &mut policy.must_record);
        flag(tags::STARVATION_METADATA, &mut policy.starvation_metadata);
        flag(tags::SUSPENDED, &mut policy.suspended);
        if let Some(v) = channel_tags.get(tags::ROTATE_KEY_ON) {
            match RotateOn::parse(v) {
                Some(r) => policy.rotate_key_on = r,
                None => warnings.push(format!(
                    "tag {}={v:?} ignored: expected off, stream-end or session-ended",
                    tags::ROTATE_KEY_ON
                )),
            }
        }
        (policy, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_insert_start_metadata_and_nothing_disruptive() {
        let s = settings(&[]).unwrap();
        let p = &s.defaults;
        assert!(p.start_metadata);
        assert_eq!(p.rotate_key_on, RotateOn::Never);
        assert!(!p.stop_on_limit_breach && !p.must_record && !p.suspended);
        assert!(!p.starvation_metadata);
        assert_eq!(s.cache_ttl, DEFAULT_CACHE_TTL);
        assert_eq!(p.templates.stream_start.source(), DEFAULT_START_TEMPLATE);
    }

    #[test]
    fn environment_sets_the_defaults() {
        let s = settings(&[
            (env::START_METADATA, "false"),
            (env::ROTATE_KEY_ON, "session-ended"),
            (env::STOP_ON_LIMIT_BREACH, "TRUE"),
            (env::MUST_RECORD, "yes"),
            (env::STARVATION_METADATA, "1"),
            (env::START_METADATA_TEMPLATE, "live {stream_id}"),
            (env::POLICY_CACHE_SECONDS, "0"),
        ])
        .unwrap();
        let p = &s.defaults;
        assert!(!p.start_metadata && p.stop_on_limit_breach && p.must_record);
        assert!(p.starvation_metadata);
        assert_eq!(p.rotate_key_on, RotateOn::SessionEnded);
        assert_eq!(p.templates.stream_start.source(), "live {stream_id}");
        assert_eq!(s.cache_ttl, Duration::ZERO);
        // Empty values (as SAM passes unset parameters) are unset.
        assert_eq!(
            settings(&[(env::ROTATE_KEY_ON, "")])
                .unwrap()
                .defaults
                .rotate_key_on,
            RotateOn::Never
        );
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        for (name, value) in [
            (env::MUST_RECORD, "maybe"),
            (env::ROTATE_KEY_ON, "always"),
            (env::POLICY_CACHE_SECONDS, "-1"),
            (env::POLICY_CACHE_SECONDS, "99999"),
            (env::START_METADATA_TEMPLATE, "{stream}"),
            (env::STARVATION_END_METADATA_TEMPLATE, "{nope}"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(matches!(err, ConfigError(_)));
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn tags_override_defaults_and_bad_tags_are_reported() {
        let s = settings(&[(env::STOP_ON_LIMIT_BREACH, "true")]).unwrap();
        let tags: HashMap<String, String> = [
            (tags::SUSPENDED, "true"),
            (tags::ROTATE_KEY_ON, "stream-end"),
            (tags::STOP_ON_LIMIT_BREACH, "false"),
            (tags::START_METADATA, "off"),
            (tags::MUST_RECORD, "perhaps"),
            ("unrelated", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (p, warnings) = s.policy_for(&tags);
        assert!(p.suspended);
        assert_eq!(p.rotate_key_on, RotateOn::StreamEnd);
        assert!(!p.stop_on_limit_breach, "the tag beats the environment");
        assert!(!p.start_metadata);
        assert!(!p.must_record, "invalid tag leaves the default");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains(tags::MUST_RECORD));
        let (p, warnings) = s.policy_for(&HashMap::new());
        assert_eq!(p, s.defaults);
        assert!(warnings.is_empty());
    }
}
