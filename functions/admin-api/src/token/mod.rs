//! Playback authorization tokens for Amazon IVS private channels.
//!
//! A channel created with `authorized: true` plays only with a token:
//! `<playbackUrl>?token=<JWT>`. The JWT is signed with the private half of an ECDSA P-384 key
//! pair whose public half was imported into IVS (`ImportPlaybackKeyPair`). This module:
//!
//! - checks what an admin API caller asks for ([`TokenRequest::validate`]);
//! - turns a private key in PEM form into a [`PlaybackSigner`] (SEC1 or PKCS#8, P-384 only);
//! - mints tokens ([`PlaybackSigner::mint`]): header `{"alg":"ES384","typ":"JWT"}`, the
//!   signature as raw `r||s` (JWS), claims as in [`Claims`], `exp` in seconds;
//! - loads the key from AWS Secrets Manager ([`load_signer`]), once per container
//!   ([`SignerCell`]);
//! - reports failures as [`TokenError`], each sorted by [`Fault`] (caller, configuration,
//!   transient) so that an HTTP API can pick 400, 500 or 503.
//!
//! No private key, PEM text or token ever reaches a log line or an error message: tokens and
//! the playback URLs that carry them are [`Secret`]s, and every key error is one of the fixed
//! descriptions of [`KeyProblem`].
//!
//! The sections: `request` (what a caller asks for and its rules), `claims` (the token's
//! claims, the minted token), `signer` ([`PlaybackSigner`]), `key` (PEM and DER decoding of
//! the key, with aws-lc-rs), `secrets` (Secrets Manager, [`SignerCell`]) and `error`.
//!
//! [`Secret`]: domain::secret::Secret

mod claims;
mod error;
mod key;
mod request;
mod secrets;
mod signer;

pub use claims::{Claims, MaximumResolution, MintedToken};
pub use error::{Fault, KeyProblem, TokenError};
pub use request::{
    TokenRequest, DEFAULT_EXPIRES_IN_SECONDS, MAX_BOUND_EXPIRES_IN_SECONDS, MAX_EXPIRES_IN_SECONDS,
    MAX_ORIGINS, MAX_ORIGINS_CLAIM_LEN, MAX_VIEWER_ID_LEN,
};
pub use secrets::{load_signer, SignerCell};
pub use signer::{KeyFormat, PlaybackSigner, MAX_PLAYBACK_URL_LEN};

/// Fixtures shared by the sections' unit tests.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    pub(crate) const CHANNEL_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456";

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    /// The field a request is rejected for.
    pub(crate) fn rejected_field(request: &TokenRequest) -> &'static str {
        match request.validate() {
            Err(e @ TokenError::InvalidField { .. }) => {
                assert_eq!(e.fault(), Fault::Caller);
                assert!(e
                    .to_string()
                    .starts_with(&format!("invalid {}:", e.field().unwrap())));
                e.field().unwrap()
            }
            other => panic!("expected a field rejection for {request:?}, got {other:?}"),
        }
    }

    pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir()
                .join(format!("admin-token-{tag}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs `openssl` in `dir` with `args` (split at spaces); its standard output.
    pub(crate) fn openssl(dir: &std::path::Path, args: &str) -> String {
        let out = std::process::Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(dir)
            .output()
            .expect("the openssl command is needed to generate test keys");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}
