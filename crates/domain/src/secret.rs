//! A string that must never reach a log line or an error message (stream key values, SRT
//! passphrases, private keys, tokens).

use std::fmt;

use zeroize::Zeroizing;

/// What `Debug` and `Display` print instead of the value.
pub const REDACTED: &str = "<redacted>";

/// A secret string. `Debug` and `Display` print [`REDACTED`]; the value comes out only
/// through [`Secret::expose`], so every place that reveals it is easy to find.
///
/// It has no `Serialize` impl on purpose: a response that must carry the value (creating or
/// rotating a key) puts `expose()` into its body explicitly. It is neither `Clone` (one copy,
/// wiped from memory when dropped) nor `PartialEq` (a comparison of secrets would not be
/// constant-time; compare `expose()` in tests).
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The value itself. Never log or format the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("sk_us-west-2_abcDEF123");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s:#?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "sk_us-west-2_abcDEF123");
    }
}
