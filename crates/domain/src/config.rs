//! Reading deployment settings: the one error, and the one way booleans read.

/// A deployment setting (an environment variable) with an invalid value; the message names
/// the variable and what it expects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, any case: how every boolean variable and
/// tag reads.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}
