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
pub use secrets::{
    load_signer, SignerCell, DEFAULT_REFRESH, PLAYBACK_KEY_REFRESH_SECONDS, REFRESH_RANGE,
};
pub use signer::{KeyFormat, PlaybackSigner, MAX_PLAYBACK_URL_LEN};

/// Fixtures shared by the sections' unit tests: the test channel and clock, field rejections,
/// keys made by aws-lc and DER and PEM writing.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, EcdsaSigningAlgorithm, ECDSA_P384_SHA384_ASN1_SIGNING,
    };
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

    /// A key of `alg`'s curve made by aws-lc for this run (no key is committed anywhere): its
    /// SEC1 `ECPrivateKey` DER (curve named, public key included: what `openssl ecparam
    /// -genkey -noout` writes) and its PKCS#8 DER (the curve in the algorithm only, public key
    /// included: what `openssl pkcs8 -topk8 -nocrypt` writes).
    pub(crate) fn ec_key(alg: &'static EcdsaSigningAlgorithm) -> (Vec<u8>, Vec<u8>) {
        let key = EcdsaKeyPair::generate(alg).unwrap();
        let sec1 = key.private_key().as_der().unwrap().as_ref().to_vec();
        let pkcs8 = key.to_pkcs8v1().unwrap().as_ref().to_vec();
        (sec1, pkcs8)
    }

    /// [`ec_key`] on P-384, the curve playback keys use.
    pub(crate) fn p384_key() -> (Vec<u8>, Vec<u8>) {
        ec_key(&ECDSA_P384_SHA384_ASN1_SIGNING)
    }

    /// `der` as PEM text labelled `label`: 64 base64 characters a line, LF line ends.
    pub(crate) fn pem_text(label: &str, der: &[u8]) -> String {
        let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
        pem::encode_config(&pem::Pem::new(label, der.to_vec()), config)
    }

    /// A DER element: `tag`, the length (short or long form), then `content`.
    pub(crate) fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let length = match content.len() {
            n @ 0..=0x7F => vec![n as u8],
            n @ 0x80..=0xFF => vec![0x81, n as u8],
            n => [&[0x82][..], &u16::try_from(n).unwrap().to_be_bytes()].concat(),
        };
        [&[tag][..], &length, content].concat()
    }
}
