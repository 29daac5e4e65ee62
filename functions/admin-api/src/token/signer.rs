//! [`PlaybackSigner`]: mints ES384 playback tokens with a P-384 private key.

use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::claims::MintedToken;
use super::error::{invalid, KeyProblem, TokenError};
use super::key::pkcs8_from_pem;
use super::request::TokenRequest;
use domain::arn::{IvsArn, ResourceType};
use domain::secret::Secret;

/// Longest playback URL [`PlaybackSigner::mint`] accepts.
pub const MAX_PLAYBACK_URL_LEN: usize = 2048;

/// The PEM form a signing key came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// `-----BEGIN EC PRIVATE KEY-----` (RFC 5915), what `openssl ecparam -genkey` writes.
    Sec1,
    /// `-----BEGIN PRIVATE KEY-----` (unencrypted PKCS#8, RFC 5208/5958).
    Pkcs8,
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFormat::Sec1 => "SEC1",
            KeyFormat::Pkcs8 => "PKCS#8",
        })
    }
}

/// Signs playback tokens with an ECDSA P-384 private key (ES384). Build it once per
/// container ([`SignerCell`](super::SignerCell)) and share it; `Debug` and `Display` never
/// show the key.
#[derive(Clone)]
pub struct PlaybackSigner {
    key: EncodingKey,
    format: KeyFormat,
}

impl PlaybackSigner {
    /// Reads an ECDSA P-384 private key from PEM text: SEC1 (`EC PRIVATE KEY`, optionally
    /// after the `EC PARAMETERS` block `openssl ecparam -genkey` writes) or unencrypted PKCS#8
    /// (`PRIVATE KEY`). Text around the PEM block is ignored, and so are line breaks and
    /// spaces inside it. Anything else (another curve, RSA, Ed25519, a public key or
    /// certificate, an encrypted key, several keys, malformed text) is
    /// [`TokenError::InvalidKey`], whose message describes the problem without quoting the
    /// input.
    pub fn from_pem(pem: &str) -> Result<Self, TokenError> {
        // `pkcs8` is wiped when this returns; `EncodingKey` keeps its own copy.
        let (pkcs8, format) = pkcs8_from_pem(pem).map_err(TokenError::InvalidKey)?;
        let key = EncodingKey::from_ec_der(&pkcs8);
        // aws-lc-rs has checked the key already (scalar in range, public half matching). The
        // backend parses it again only when signing: sign once now so that a key it refuses
        // fails here, at load time, not at the first request.
        jsonwebtoken::crypto::sign(b"playback-signer-self-test", &key, Algorithm::ES384)
            .map_err(|_| TokenError::InvalidKey(KeyProblem::Unusable))?;
        Ok(PlaybackSigner { key, format })
    }

    /// The PEM form the key came in.
    pub fn format(&self) -> KeyFormat {
        self.format
    }

    /// Mints a token for `channel_arn` (an IVS channel ARN) to be appended to
    /// `playback_url` (the channel's `playbackUrl`, `http://` or `https://`, without a
    /// fragment or a `token` parameter), valid from `now`.
    ///
    /// Validates `request` first. Given `now`, the claims are a pure function of the
    /// arguments except `aws:single-use-uuid`, drawn at random when `singleUse` is asked
    /// (the ECDSA signature is randomized too). A bad `channel_arn` or `playback_url` is
    /// [`TokenError::InvalidField`] (`channelArn`, `playbackUrl`), the caller's fault.
    pub fn mint(
        &self,
        channel_arn: &str,
        playback_url: &str,
        request: &TokenRequest,
        now: DateTime<Utc>,
    ) -> Result<MintedToken, TokenError> {
        request.validate()?;
        IvsArn::parse_as(channel_arn, ResourceType::Channel)
            .map_err(|e| invalid("channelArn", e.problem.to_string()))?;
        check_playback_url(playback_url).map_err(|reason| invalid("playbackUrl", reason))?;

        let single_use_uuid = request
            .single_use
            .then(|| uuid::Uuid::new_v4().hyphenated().to_string());
        let claims = request.claims(channel_arn, now, single_use_uuid)?;
        let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
            .ok_or_else(|| invalid("expiresInSeconds", "the expiry time is out of range"))?;

        // `Header::new` gives exactly {"alg":"ES384","typ":"JWT"}.
        let token = jsonwebtoken::encode(&Header::new(Algorithm::ES384), &claims, &self.key)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        let separator = match playback_url.split_once('?') {
            None => "?",
            Some((_, "")) => "",
            Some((_, query)) if query.ends_with('&') => "",
            Some(_) => "&",
        };
        let url = format!("{playback_url}{separator}token={token}");
        Ok(MintedToken {
            token: Secret::new(token),
            playback_url: Secret::new(url),
            expires_at,
            claims,
        })
    }
}

impl fmt::Debug for PlaybackSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaybackSigner")
            .field("algorithm", &"ES384")
            .field("format", &self.format)
            .field("key", &domain::secret::REDACTED)
            .finish()
    }
}

impl fmt::Display for PlaybackSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ES384 playback signer (P-384 key, {} PEM)", self.format)
    }
}

fn check_playback_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if url.len() > MAX_PLAYBACK_URL_LEN {
        return Err(format!(
            "must be at most {MAX_PLAYBACK_URL_LEN} characters, found {}",
            url.len()
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with https:// or http://")?;
    if rest.is_empty() || rest.starts_with(['/', '?', ':']) {
        return Err("has no host".to_owned());
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must contain only visible ASCII characters (no spaces)".to_owned());
    }
    if url.contains('#') {
        return Err("must not have a fragment".to_owned());
    }
    if let Some((_, query)) = url.split_once('?') {
        if query
            .split('&')
            .any(|p| p == "token" || p.starts_with("token="))
        {
            return Err("already has a token parameter".to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::{now, p384_key, pem_text, CHANNEL_ARN};

    #[test]
    fn playback_url_rules() {
        for url in [
            "https://abc.us-west-2.playback.live-video.net/api/video/v1/x.m3u8",
            "http://127.0.0.1:9000/x.m3u8?player=1",
        ] {
            check_playback_url(url).unwrap();
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_PLAYBACK_URL_LEN));
        for url in [
            "",
            "abc.example.com/x.m3u8",
            "ftp://example.com/x.m3u8",
            "https://",
            "https:///x.m3u8",
            "https://example.com/x y.m3u8",
            "https://example.com/x.m3u8#t=1",
            "https://example.com/x.m3u8?token=abc",
            "https://example.com/x.m3u8?a=1&token",
            "https://example.com/é.m3u8",
            &long,
        ] {
            assert!(check_playback_url(url).is_err(), "{url:?}");
        }
        // `token` as part of another parameter name is fine.
        check_playback_url("https://example.com/x.m3u8?mytoken=1").unwrap();
    }

    #[test]
    fn mint_separator_follows_the_url() {
        let pem = pem_text("EC PRIVATE KEY", &p384_key().0);
        let signer = PlaybackSigner::from_pem(&pem).unwrap();
        for (url, expected) in [
            (
                "https://example.com/x.m3u8",
                "https://example.com/x.m3u8?token=",
            ),
            (
                "https://example.com/x.m3u8?a=1",
                "https://example.com/x.m3u8?a=1&token=",
            ),
            (
                "https://example.com/x.m3u8?",
                "https://example.com/x.m3u8?token=",
            ),
            (
                "https://example.com/x.m3u8?a=1&",
                "https://example.com/x.m3u8?a=1&token=",
            ),
        ] {
            let minted = signer
                .mint(CHANNEL_ARN, url, &TokenRequest::default(), now())
                .unwrap();
            let full = minted.playback_url.expose();
            assert_eq!(
                full,
                format!("{expected}{}", minted.token.expose()),
                "{url}"
            );
        }
    }
}
