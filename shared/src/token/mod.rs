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

use std::fmt;
use std::str::FromStr;

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use simple_asn1::{ASN1Block, ASN1Class, BigInt, BigUint, OID};
use tokio::sync::OnceCell;
use zeroize::{Zeroize, Zeroizing};

use crate::arn::{IvsArn, ResourceType};
use crate::secret::Secret;

/// Expiry used when a request gives none: 10 minutes, which every kind of token allows.
pub const DEFAULT_EXPIRES_IN_SECONDS: i64 = 600;

/// Longest expiry of a token that carries `aws:viewer-id` or `aws:single-use-uuid`: IVS
/// refuses such tokens when `exp` is more than 10 minutes ahead.
pub const MAX_BOUND_EXPIRES_IN_SECONDS: i64 = 600;

/// Longest expiry of any other token: 1 hour. IVS sets no limit of its own. Such a token
/// names no viewer, so it cannot be revoked (only deleting its key pair stops it): this cap
/// is how long a leaked URL keeps starting playback. Give `viewerId` for a revocable token.
pub const MAX_EXPIRES_IN_SECONDS: i64 = 3_600;

/// Longest `viewerId`, as IVS allows it.
pub const MAX_VIEWER_ID_LEN: usize = 40;

/// Most entries in `allowedOrigins`.
pub const MAX_ORIGINS: usize = 100;

/// Longest `aws:access-control-allow-origin` claim (the origins joined by `,`): the token
/// travels in a URL, and URLs much longer than this are cut by proxies and players.
pub const MAX_ORIGINS_CLAIM_LEN: usize = 4096;

/// Longest playback URL [`PlaybackSigner::mint`] accepts.
pub const MAX_PLAYBACK_URL_LEN: usize = 2048;

// ------------------------------------------------------------------------------------------
// Request
// ------------------------------------------------------------------------------------------

/// What an admin API caller asks for, as the JSON body of its request (camelCase field
/// names; unknown fields are rejected). Every field is optional; an absent field leaves its
/// claim out of the token.
///
/// [`TokenRequest::validate`] applies these rules (every rejection names the field):
///
/// - `viewerId`: 1 to 40 characters, each a visible ASCII character (`!` to `~`, so no space
///   and no control character) other than `,`, `"`, `'`, `` ` `` and `\`. It becomes
///   `aws:viewer-id`; IVS uses it to revoke a viewer's sessions. It must be an opaque id, never
///   personal data (no e-mail address, no name).
/// - `singleUse`: `true` adds `aws:single-use-uuid` with a fresh random UUID (v4).
/// - `expiresInSeconds`: default [`DEFAULT_EXPIRES_IN_SECONDS`] (10 minutes); from 1 to
///   [`MAX_BOUND_EXPIRES_IN_SECONDS`] (10 minutes) when `viewerId` or `singleUse` is given,
///   else from 1 to [`MAX_EXPIRES_IN_SECONDS`] (1 hour: such a token cannot be revoked).
/// - `allowedOrigins`: 1 to [`MAX_ORIGINS`] origins, joined by `,` into
///   `aws:access-control-allow-origin` (at most [`MAX_ORIGINS_CLAIM_LEN`] characters in
///   all). Each is `*` alone (any origin) or `http(s)://host[:port]`: lowercase, no path (not
///   even `/`), query, fragment or user info; `host` is a DNS name or IPv4 address whose first
///   label may be `*` (`https://*.example.com`, at least two labels after the `*`); `port`
///   is 1 to 65535 and not the scheme's default (browsers leave it out of `Origin`). IPv6
///   literals are not supported.
/// - `strictOriginEnforcement`: `aws:strict-origin-enforcement`; `true` needs
///   `allowedOrigins` (say `["*"]` explicitly to enforce with any origin).
/// - `maximumResolution`: `SD`, `HD` or `FULL_HD` (exactly), `aws:maximum-resolution`.
/// - `viewerSessionVersion`: 0 to `i64::MAX`, `aws:viewer-session-version`; it needs
///   `viewerId`, since IVS revokes sessions per viewer id up to a version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// `aws:viewer-id`: an opaque id of the viewer, for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_id: Option<String>,
    /// Whether the token may be used once only (`aws:single-use-uuid`).
    #[serde(default)]
    pub single_use: bool,
    /// How long the token stays valid, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<i64>,
    /// Origins allowed to play (`aws:access-control-allow-origin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// `aws:strict-origin-enforcement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_origin_enforcement: Option<bool>,
    /// `SD`, `HD` or `FULL_HD` (`aws:maximum-resolution`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_resolution: Option<String>,
    /// `aws:viewer-session-version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer_session_version: Option<i64>,
}

impl TokenRequest {
    /// Parses and validates a JSON request body. A body that is not a JSON object of the
    /// expected shape (unknown field, wrong type) is [`TokenError::MalformedRequest`]; a
    /// well-formed one that breaks a rule is [`TokenError::InvalidField`]. Prefer this to
    /// deserializing with serde directly, which also accepts a JSON array of the fields.
    pub fn from_json(body: &[u8]) -> Result<Self, TokenError> {
        let malformed = |e: serde_json::Error| TokenError::MalformedRequest(e.to_string());
        let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
        // serde would also read a struct from a JSON array of its fields.
        if !value.is_object() {
            return Err(TokenError::MalformedRequest(
                "the body must be a JSON object".to_owned(),
            ));
        }
        let request: TokenRequest = serde_json::from_value(value).map_err(malformed)?;
        request.validate()?;
        Ok(request)
    }

    /// Checks every field against the rules listed on [`TokenRequest`]; the first broken rule
    /// is returned as [`TokenError::InvalidField`] naming the field (JSON name).
    pub fn validate(&self) -> Result<(), TokenError> {
        if let Some(viewer_id) = &self.viewer_id {
            check_viewer_id(viewer_id).map_err(|reason| invalid("viewerId", reason))?;
        }
        self.checked_expiry()?;
        if let Some(origins) = &self.allowed_origins {
            check_origins(origins).map_err(|reason| invalid("allowedOrigins", reason))?;
        }
        if self.strict_origin_enforcement == Some(true) && self.allowed_origins.is_none() {
            return Err(invalid(
                "strictOriginEnforcement",
                "true needs allowedOrigins (give [\"*\"] to enforce with any origin)",
            ));
        }
        if let Some(resolution) = &self.maximum_resolution {
            MaximumResolution::from_str(resolution)
                .map_err(|reason| invalid("maximumResolution", reason))?;
        }
        if let Some(version) = self.viewer_session_version {
            if version < 0 {
                return Err(invalid(
                    "viewerSessionVersion",
                    format!("must be 0 or more, found {version}"),
                ));
            }
            if self.viewer_id.is_none() {
                return Err(invalid(
                    "viewerSessionVersion",
                    "needs viewerId (IVS revokes sessions per viewer id)",
                ));
            }
        }
        Ok(())
    }

    /// The token's lifetime in seconds: the requested one, or the default, checked against
    /// the cap that applies.
    fn checked_expiry(&self) -> Result<i64, TokenError> {
        let seconds = self
            .expires_in_seconds
            .unwrap_or(DEFAULT_EXPIRES_IN_SECONDS);
        let bound = self.viewer_id.is_some() || self.single_use;
        let max = if bound {
            MAX_BOUND_EXPIRES_IN_SECONDS
        } else {
            MAX_EXPIRES_IN_SECONDS
        };
        if seconds < 1 {
            return Err(invalid(
                "expiresInSeconds",
                format!("must be at least 1, found {seconds}"),
            ));
        }
        if seconds > max {
            let reason = if bound {
                format!(
                    "must be at most {max} (10 minutes) when viewerId or singleUse is given, \
                     found {seconds}"
                )
            } else {
                format!(
                    "must be at most {max} (1 hour) for a token without viewerId, which cannot be \
                     revoked; found {seconds}"
                )
            };
            return Err(invalid("expiresInSeconds", reason));
        }
        Ok(seconds)
    }

    /// The claims this request asks for, for `channel_arn`, valid from `now`. The request
    /// must have been validated.
    fn claims(
        &self,
        channel_arn: &str,
        now: DateTime<Utc>,
        single_use_uuid: Option<String>,
    ) -> Result<Claims, TokenError> {
        let lifetime = self.checked_expiry()?;
        let exp = now
            .timestamp()
            .checked_add(lifetime)
            .ok_or_else(|| invalid("expiresInSeconds", "the expiry time is out of range"))?;
        let maximum_resolution = self
            .maximum_resolution
            .as_deref()
            .map(MaximumResolution::from_str)
            .transpose()
            .map_err(|reason| invalid("maximumResolution", reason))?;
        Ok(Claims {
            channel_arn: channel_arn.to_owned(),
            access_control_allow_origin: self.allowed_origins.as_ref().map(|o| o.join(",")),
            strict_origin_enforcement: self.strict_origin_enforcement,
            single_use_uuid,
            viewer_id: self.viewer_id.clone(),
            viewer_session_version: self.viewer_session_version,
            maximum_resolution,
            exp,
        })
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> TokenError {
    TokenError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// Characters a viewer id may not contain, besides space and control characters.
const VIEWER_ID_FORBIDDEN: &[char] = &[',', '"', '\'', '`', '\\'];

fn check_viewer_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".to_owned());
    }
    let len = id.chars().count();
    if len > MAX_VIEWER_ID_LEN {
        return Err(format!(
            "must be at most {MAX_VIEWER_ID_LEN} characters, found {len}"
        ));
    }
    for (position, c) in id.chars().enumerate() {
        let visible = c.is_ascii_graphic();
        if !visible || VIEWER_ID_FORBIDDEN.contains(&c) {
            return Err(format!(
                "character {position} ('{}') is not allowed: use visible ASCII characters \
                 other than , \" ' ` and \\",
                c.escape_default()
            ));
        }
    }
    Ok(())
}

fn check_origins(origins: &[String]) -> Result<(), String> {
    if origins.is_empty() {
        return Err("must list at least one origin (leave it out to allow any origin)".to_owned());
    }
    if origins.len() > MAX_ORIGINS {
        return Err(format!(
            "must list at most {MAX_ORIGINS} origins, found {}",
            origins.len()
        ));
    }
    if origins.len() > 1 && origins.iter().any(|o| o == "*") {
        return Err("\"*\" (any origin) must be the only entry".to_owned());
    }
    for (index, origin) in origins.iter().enumerate() {
        check_origin(origin)
            .map_err(|reason| format!("entry {index} ({}) {reason}", shorten(origin)))?;
    }
    // Entries are ASCII once checked, so bytes are characters.
    let claim_len = origins.iter().map(String::len).sum::<usize>() + origins.len() - 1;
    if claim_len > MAX_ORIGINS_CLAIM_LEN {
        return Err(format!(
            "must be at most {MAX_ORIGINS_CLAIM_LEN} characters joined by ',', found {claim_len}"
        ));
    }
    Ok(())
}

/// An input, quoted and escaped, cut to a readable length for an error message.
fn shorten(input: &str) -> String {
    const MAX: usize = 80;
    if input.chars().count() <= MAX {
        format!("{input:?}")
    } else {
        let head: String = input.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

fn check_origin(origin: &str) -> Result<(), String> {
    if origin.is_empty() {
        return Err("is empty".to_owned());
    }
    if origin == "*" {
        return Ok(());
    }
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or("must be \"*\" or http(s)://host[:port]")?;
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return Err("must start with http:// or https:// (lowercase)".to_owned()),
    };
    if rest.contains('/') {
        return Err("must not have a path, not even a trailing '/'".to_owned());
    }
    if rest.contains(['?', '#']) {
        return Err("must not have a query or a fragment".to_owned());
    }
    if rest.contains('@') {
        return Err("must not have user information".to_owned());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && !port.starts_with('0');
        let number = if valid {
            port.parse::<u32>().ok()
        } else {
            None
        };
        match number {
            Some(n) if (1..=65535).contains(&n) => {
                if n == default_port {
                    return Err(format!(
                        "must leave out the default port {n} (browsers do in Origin)"
                    ));
                }
            }
            _ => return Err("has a port that is not a number from 1 to 65535".to_owned()),
        }
    }
    check_origin_host(host)
}

fn check_origin_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    if host.len() > 253 {
        return Err("has a host longer than 253 characters".to_owned());
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, host),
    };
    if name.contains('*') {
        return Err("may have a wildcard only as its whole first label (*.example.com)".to_owned());
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("must be lowercase (browsers send origins in lowercase)".to_owned());
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err("has an empty label or one longer than 63 characters".to_owned());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(
                "has a host with characters other than lowercase letters, digits, '-' and '.'"
                    .to_owned(),
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("has a host label that starts or ends with '-'".to_owned());
        }
    }
    if wildcard && labels.len() < 2 {
        return Err("has a wildcard that must be followed by at least two labels".to_owned());
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Claims
// ------------------------------------------------------------------------------------------

/// The highest rendition a token lets a viewer play (`aws:maximum-resolution`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MaximumResolution {
    /// `SD`.
    #[serde(rename = "SD")]
    Sd,
    /// `HD`.
    #[serde(rename = "HD")]
    Hd,
    /// `FULL_HD`.
    #[serde(rename = "FULL_HD")]
    FullHd,
}

impl MaximumResolution {
    /// The value as IVS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MaximumResolution::Sd => "SD",
            MaximumResolution::Hd => "HD",
            MaximumResolution::FullHd => "FULL_HD",
        }
    }
}

impl FromStr for MaximumResolution {
    type Err = String;

    /// Exactly `SD`, `HD` or `FULL_HD`; the error says so.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "SD" => Ok(MaximumResolution::Sd),
            "HD" => Ok(MaximumResolution::Hd),
            "FULL_HD" => Ok(MaximumResolution::FullHd),
            other => Err(format!(
                "must be SD, HD or FULL_HD, found {}",
                shorten(other)
            )),
        }
    }
}

impl fmt::Display for MaximumResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a playback token, with IVS's claim names; claims that were not asked for
/// are `None` and left out of the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `aws:channel-arn`: the channel the token plays.
    #[serde(rename = "aws:channel-arn")]
    pub channel_arn: String,
    /// `aws:access-control-allow-origin`: allowed origins, joined by `,`.
    #[serde(
        rename = "aws:access-control-allow-origin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_control_allow_origin: Option<String>,
    /// `aws:strict-origin-enforcement`.
    #[serde(
        rename = "aws:strict-origin-enforcement",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub strict_origin_enforcement: Option<bool>,
    /// `aws:single-use-uuid`: a random UUID (v4, hyphenated, lowercase).
    #[serde(
        rename = "aws:single-use-uuid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub single_use_uuid: Option<String>,
    /// `aws:viewer-id`.
    #[serde(
        rename = "aws:viewer-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub viewer_id: Option<String>,
    /// `aws:viewer-session-version`.
    #[serde(
        rename = "aws:viewer-session-version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub viewer_session_version: Option<i64>,
    /// `aws:maximum-resolution`.
    #[serde(
        rename = "aws:maximum-resolution",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub maximum_resolution: Option<MaximumResolution>,
    /// Expiry, Unix time in seconds.
    pub exp: i64,
}

/// A minted token. `token` and `playback_url` are [`Secret`]s (anyone holding them can
/// watch); `Debug` and `Display` never show them.
#[derive(Debug)]
pub struct MintedToken {
    /// The JWT.
    pub token: Secret,
    /// The channel's playback URL with the token in its query (`token=<JWT>`).
    pub playback_url: Secret,
    /// When the token expires (`exp`), to the second.
    pub expires_at: DateTime<Utc>,
    /// The claims the token carries.
    pub claims: Claims,
}

impl fmt::Display for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "playback token for {} expiring at {}",
            self.claims.channel_arn,
            self.expires_at.to_rfc3339()
        )
    }
}

// ------------------------------------------------------------------------------------------
// Signer
// ------------------------------------------------------------------------------------------

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
/// container ([`SignerCell`]) and share it; `Debug` and `Display` never show the key.
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
        let (pkcs8, format) = pkcs8_from_pem(pem).map_err(TokenError::InvalidKey)?;
        // Wiped when this returns; `EncodingKey` keeps its own copy.
        let pkcs8 = Zeroizing::new(pkcs8);
        let key = EncodingKey::from_ec_der(&pkcs8);
        // The backend parses the key only when signing: sign once now so that a key it
        // refuses (inconsistent public half, scalar out of range) fails here, at load time.
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
            .field("key", &crate::secret::REDACTED)
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

// ------------------------------------------------------------------------------------------
// Key decoding: the `pem` crate reads the PEM text (framing, labels, headers, base64) and
// `simple_asn1` the DER inside, just enough to check the key type and to wrap SEC1 in PKCS#8.
// jsonwebtoken's `EncodingKey::from_ec_pem` accepts PKCS#8 only (it refuses the
// `EC PRIVATE KEY` label), so both forms are decoded here and handed over as PKCS#8 DER.
// ------------------------------------------------------------------------------------------

/// 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
/// 1.3.132.0.34 (secp384r1, P-384).
const OID_P384: &[u64] = &[1, 3, 132, 0, 34];
/// 1.2.840.10045.3.1.7 (prime256v1, P-256).
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
/// 1.3.132.0.35 (secp521r1, P-521).
const OID_P521: &[u64] = &[1, 3, 132, 0, 35];
/// 1.3.132.0.10 (secp256k1).
const OID_SECP256K1: &[u64] = &[1, 3, 132, 0, 10];
/// 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA: &[u64] = &[1, 2, 840, 113_549, 1, 1, 1];
/// 1.2.840.113549.1.1.10 (RSASSA-PSS).
const OID_RSA_PSS: &[u64] = &[1, 2, 840, 113_549, 1, 1, 10];
/// 1.3.101.112 (Ed25519).
const OID_ED25519: &[u64] = &[1, 3, 101, 112];
/// 1.3.101.113 (Ed448).
const OID_ED448: &[u64] = &[1, 3, 101, 113];

/// Length of a P-384 private scalar.
const P384_SCALAR_LEN: usize = 48;

/// Longest PEM label read (`ENCRYPTED PRIVATE KEY`, the longest one expected, has 21).
const MAX_PEM_LABEL_LEN: usize = 64;

/// Longest private key DER that is decoded. A P-384 key takes under 200 bytes (about 510 with
/// explicit curve parameters); the largest key commonly met, a 4096-bit RSA key in PKCS#8,
/// about 2,400. `simple_asn1` decodes nested elements recursively, one stack frame per
/// level: this bound (at most 1,536 levels) keeps a crafted key from overflowing a 2 MiB
/// thread stack (a tokio worker's) in release builds.
const MAX_KEY_DER_LEN: usize = 3 * 1024;

/// Finds the one private key in `pem` and returns it as PKCS#8 DER.
fn pkcs8_from_pem(pem: &str) -> Result<(Vec<u8>, KeyFormat), KeyProblem> {
    let blocks = WipedBlocks(pem_blocks(pem)?);
    if blocks.0.is_empty() {
        return Err(KeyProblem::NoPem);
    }
    let mut private: Option<(KeyFormat, &[u8])> = None;
    let mut saw_public = false;
    for block in blocks.0.iter() {
        let format = match block.tag() {
            "EC PRIVATE KEY" => KeyFormat::Sec1,
            "PRIVATE KEY" => KeyFormat::Pkcs8,
            // `openssl ecparam -genkey` without `-noout` writes the curve first; the key
            // names its curve itself.
            "EC PARAMETERS" => continue,
            "PUBLIC KEY" | "EC PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => {
                saw_public = true;
                continue;
            }
            "ENCRYPTED PRIVATE KEY" => return Err(KeyProblem::Encrypted),
            "RSA PRIVATE KEY" => return Err(KeyProblem::WrongAlgorithm("RSA")),
            "OPENSSH PRIVATE KEY" => return Err(KeyProblem::UnsupportedFormat("OpenSSH")),
            _ => return Err(KeyProblem::UnsupportedFormat("an unknown PEM label")),
        };
        if private.is_some() {
            return Err(KeyProblem::SeveralKeys);
        }
        private = Some((format, block.contents()));
    }
    match private {
        Some((KeyFormat::Sec1, der)) => Ok((sec1_to_pkcs8(der)?, KeyFormat::Sec1)),
        Some((KeyFormat::Pkcs8, der)) => {
            check_pkcs8(der)?;
            Ok((der.to_vec(), KeyFormat::Pkcs8))
        }
        None if saw_public => Err(KeyProblem::NotPrivate),
        None => Err(KeyProblem::NoPem),
    }
}

/// Every `-----BEGIN <label>-----` … `-----END <label>-----` block of `text`, decoded by the
/// `pem` crate (strict, padded standard base64). Text between blocks is ignored (RFC 7468
/// allows it); whitespace inside a block is ignored. A block with RFC 1421 headers (legacy
/// OpenSSL encryption, `Proc-Type: 4,ENCRYPTED`) is refused. The crate's errors are never
/// passed on: some of them quote the input.
fn pem_blocks(text: &str) -> Result<Vec<pem::Pem>, KeyProblem> {
    let blocks = pem::parse_many(text)
        // `pem` takes everything before the first blank line of a block as its headers, so
        // a blank line among the base64 lines (or before the END line) fails the block. Such
        // a line is only whitespace: try again without it. (Headers keep their blank line in
        // the first attempt, which is the one that succeeds when they are present.)
        .or_else(|_| pem::parse_many(without_blank_lines(text).as_str()))
        .map_err(|_| {
            // A legacy encrypted key whose headers lost the blank line after them, or
            // whose base64 got damaged, still says what it is.
            if text.lines().any(|line| {
                line.trim_start().starts_with("Proc-Type:") && line.contains("ENCRYPTED")
            }) {
                KeyProblem::Encrypted
            } else {
                KeyProblem::MalformedPem
            }
        })?;
    // `parse_many` stops, without an error, at a block that is never closed: every BEGIN
    // line must have given a block. (A label cannot hold `-----`, and text between blocks
    // that held a BEGIN line would start a block itself.)
    if text.matches("-----BEGIN ").count() != blocks.len() {
        return Err(KeyProblem::MalformedPem);
    }
    for block in &blocks {
        let label = block.tag();
        if label.len() > MAX_PEM_LABEL_LEN
            || !label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        {
            return Err(KeyProblem::MalformedPem);
        }
        let mut headers = block.headers().iter().peekable();
        if headers.peek().is_some() {
            let encrypted = headers
                .any(|(name, value)| name.contains("ENCRYPTED") || value.contains("ENCRYPTED"));
            return Err(if encrypted {
                KeyProblem::Encrypted
            } else {
                KeyProblem::MalformedPem
            });
        }
        if block.contents().is_empty() {
            return Err(KeyProblem::MalformedPem);
        }
    }
    Ok(blocks)
}

/// `text` without its empty and whitespace-only lines.
fn without_blank_lines(text: &str) -> Zeroizing<String> {
    Zeroizing::new(
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// PEM blocks whose decoded contents (private key material) are wiped when dropped.
struct WipedBlocks(Vec<pem::Pem>);

impl Drop for WipedBlocks {
    fn drop(&mut self) {
        for block in std::mem::take(&mut self.0) {
            block.into_contents().zeroize();
        }
    }
}

/// Decodes `der`, which must be exactly one DER element. `simple_asn1` also reads BER
/// (non-minimal and indefinite lengths, non-minimal integers and tags, …) and encodes DER,
/// so the element must encode back to the very bytes it was read from.
fn decode_der(der: &[u8]) -> Result<ASN1Block, KeyProblem> {
    if der.len() > MAX_KEY_DER_LEN {
        return Err(KeyProblem::MalformedDer);
    }
    let mut elements = simple_asn1::from_der(der).map_err(|_| KeyProblem::MalformedDer)?;
    let element = match elements.pop() {
        Some(element) if elements.is_empty() => element,
        _ => return Err(KeyProblem::MalformedDer),
    };
    if simple_asn1::to_der(&element).ok().as_deref() != Some(der) {
        return Err(KeyProblem::MalformedDer);
    }
    Ok(element)
}

/// Encodes a DER element built here.
fn encode_der(element: &ASN1Block) -> Result<Vec<u8>, KeyProblem> {
    // Only an OID with fewer than two arcs or an out-of-range first arc fails to encode,
    // and the OIDs used here are constants.
    simple_asn1::to_der(element).map_err(|_| KeyProblem::MalformedDer)
}

/// The arcs of an OID, if each fits in a `u64`.
fn arcs(oid: &OID) -> Option<Vec<u64>> {
    oid.as_vec::<u64>().ok()
}

/// The OID with these arcs.
fn oid(arcs: &[u64]) -> OID {
    OID::new(arcs.iter().map(|&arc| BigUint::from(arc)).collect())
}

/// The tag number of a context-specific element (`[0]`, `[1]`, …).
fn context_tag(element: &ASN1Block) -> Option<&BigUint> {
    match element {
        ASN1Block::Explicit(ASN1Class::ContextSpecific, _, tag, _)
        | ASN1Block::Unknown(ASN1Class::ContextSpecific, _, _, tag, _) => Some(tag),
        _ => None,
    }
}

/// Whether `element` is the INTEGER `value`.
fn is_integer(element: &ASN1Block, value: u8) -> bool {
    matches!(element, ASN1Block::Integer(_, n) if *n == BigInt::from(value))
}

/// Checks that a named-curve OID is P-384.
fn check_curve(oid: &OID) -> Result<(), KeyProblem> {
    match arcs(oid).as_deref() {
        Some(OID_P384) => Ok(()),
        Some(OID_P256) => Err(KeyProblem::WrongCurve("P-256")),
        Some(OID_P521) => Err(KeyProblem::WrongCurve("P-521")),
        Some(OID_SECP256K1) => Err(KeyProblem::WrongCurve("secp256k1")),
        _ => Err(KeyProblem::WrongCurve("an unsupported curve")),
    }
}

/// Checks the curve parameters of an EC key: a named curve, P-384. Explicit curve
/// parameters (a SEQUENCE instead of an OID) are refused.
fn check_curve_parameters(parameters: &ASN1Block) -> Result<(), KeyProblem> {
    match parameters {
        ASN1Block::ObjectIdentifier(_, oid) => check_curve(oid),
        _ => Err(KeyProblem::WrongCurve(
            "explicit curve parameters (use a named curve)",
        )),
    }
}

/// Wraps a SEC1 `ECPrivateKey` (RFC 5915) in PKCS#8 (RFC 5208), after checking that it is a
/// P-384 key. The inner key is re-encoded without its curve parameters (PKCS#8 names the
/// curve in the algorithm identifier), as `openssl pkcs8 -topk8` does.
///
/// ```text
/// ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING,
///                             parameters [0] ECParameters OPTIONAL,
///                             publicKey [1] BIT STRING OPTIONAL }
/// PrivateKeyInfo ::= SEQUENCE { version INTEGER (0),
///                               algorithm SEQUENCE { id-ecPublicKey, secp384r1 },
///                               privateKey OCTET STRING (ECPrivateKey) }
/// ```
fn sec1_to_pkcs8(der: &[u8]) -> Result<Vec<u8>, KeyProblem> {
    let ASN1Block::Sequence(_, fields) = decode_der(der)? else {
        return Err(KeyProblem::MalformedDer);
    };
    let mut fields = fields.into_iter().peekable();
    if !fields.next().is_some_and(|version| is_integer(&version, 1)) {
        return Err(KeyProblem::MalformedDer);
    }
    let Some(ASN1Block::OctetString(_, scalar)) = fields.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    let is_context =
        |element: &ASN1Block, tag: u8| context_tag(element) == Some(&BigUint::from(tag));
    // `Explicit`: a constructed `[n]` holding exactly one element.
    let has_parameters = match fields.next_if(|field| is_context(field, 0)) {
        Some(ASN1Block::Explicit(_, _, _, parameters)) => {
            check_curve_parameters(&parameters)?;
            true
        }
        Some(_) => return Err(KeyProblem::MalformedDer),
        None => false,
    };
    let public = fields.next_if(|field| is_context(field, 1));
    if let Some(public) = &public {
        if !matches!(public, ASN1Block::Explicit(_, _, _, key)
            if matches!(**key, ASN1Block::BitString(..)))
        {
            return Err(KeyProblem::MalformedDer);
        }
    }
    if fields.next().is_some() {
        return Err(KeyProblem::MalformedDer);
    }
    // Without parameters the key does not name its curve: its length must fit P-384.
    if !has_parameters && scalar.len() != P384_SCALAR_LEN {
        return Err(KeyProblem::WrongCurve(
            "not P-384 (wrong private key length)",
        ));
    }

    let mut inner = vec![
        ASN1Block::Integer(0, BigInt::from(1u8)),
        ASN1Block::OctetString(0, scalar),
    ];
    inner.extend(public);
    let inner = encode_der(&ASN1Block::Sequence(0, inner))?;
    encode_der(&ASN1Block::Sequence(
        0,
        vec![
            ASN1Block::Integer(0, BigInt::from(0u8)),
            ASN1Block::Sequence(
                0,
                vec![
                    ASN1Block::ObjectIdentifier(0, oid(OID_EC_PUBLIC_KEY)),
                    ASN1Block::ObjectIdentifier(0, oid(OID_P384)),
                ],
            ),
            ASN1Block::OctetString(0, inner),
        ],
    ))
}

/// Checks that a PKCS#8 `PrivateKeyInfo` (or v2 `OneAsymmetricKey`) holds an EC P-384 key.
fn check_pkcs8(der: &[u8]) -> Result<(), KeyProblem> {
    let ASN1Block::Sequence(_, fields) = decode_der(der)? else {
        return Err(KeyProblem::MalformedDer);
    };
    let mut fields = fields.iter();
    if !fields
        .next()
        .is_some_and(|version| is_integer(version, 0) || is_integer(version, 1))
    {
        return Err(KeyProblem::MalformedDer);
    }
    let Some(ASN1Block::Sequence(_, algorithm)) = fields.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    let mut algorithm = algorithm.iter();
    let Some(ASN1Block::ObjectIdentifier(_, algorithm_oid)) = algorithm.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    match arcs(algorithm_oid).as_deref() {
        Some(OID_EC_PUBLIC_KEY) => {}
        Some(OID_RSA | OID_RSA_PSS) => return Err(KeyProblem::WrongAlgorithm("RSA")),
        Some(OID_ED25519) => return Err(KeyProblem::WrongAlgorithm("Ed25519")),
        Some(OID_ED448) => return Err(KeyProblem::WrongAlgorithm("Ed448")),
        _ => return Err(KeyProblem::WrongAlgorithm("an unsupported algorithm")),
    }
    let parameters = algorithm.next().ok_or(KeyProblem::MalformedDer)?;
    check_curve_parameters(parameters)?;
    if algorithm.next().is_some() {
        return Err(KeyProblem::MalformedDer);
    }
    // The private key itself (and any attributes or public key after it) is the crypto
    // library's to read.
    let Some(ASN1Block::OctetString(..)) = fields.next() else {
        return Err(KeyProblem::MalformedDer);
    };
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Secrets Manager
// ------------------------------------------------------------------------------------------

/// Reads the signing key from the Secrets Manager secret `secret_id` (name or ARN), whose
/// `SecretString` must be the PEM text itself (see [`PlaybackSigner::from_pem`]).
///
/// Failures: [`TokenError::SecretNotFound`], [`TokenError::SecretAccessDenied`],
/// [`TokenError::SecretNotString`], [`TokenError::SecretKeyInvalid`] and
/// [`TokenError::SecretUnreadable`] are configuration problems;
/// [`TokenError::SecretUnavailable`] (throttling, a 5xx, a timeout, a network failure) is
/// transient and worth retrying. None of them carries the secret's value. The client's own
/// retry configuration applies before any of these is returned.
pub async fn load_signer(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<PlaybackSigner, TokenError> {
    let result = read_signer(client, secret_id).await;
    match &result {
        Ok(signer) => tracing::info!(
            secret_id,
            key_format = %signer.format(),
            "loaded the playback signing key"
        ),
        Err(error) => tracing::warn!(
            secret_id,
            fault = ?error.fault(),
            %error,
            "could not load the playback signing key"
        ),
    }
    result
}

async fn read_signer(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<PlaybackSigner, TokenError> {
    let mut output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| secret_error(secret_id, &e))?;
    // Taken out of the answer, and wiped from memory once the key is parsed.
    let pem =
        Zeroizing::new(
            output
                .secret_string
                .take()
                .ok_or_else(|| TokenError::SecretNotString {
                    secret_id: secret_id.to_owned(),
                })?,
        );
    if let Some(binary) = output.secret_binary.take() {
        binary.into_inner().zeroize();
    }
    PlaybackSigner::from_pem(&pem).map_err(|e| match e {
        TokenError::InvalidKey(problem) => TokenError::SecretKeyInvalid {
            secret_id: secret_id.to_owned(),
            problem,
        },
        other => other,
    })
}

/// Error codes Secrets Manager (and AWS in general) uses for throttling.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// Sorts a GetSecretValue failure: the service's code first, then the HTTP status.
fn secret_error(secret_id: &str, err: &SdkError<GetSecretValueError, HttpResponse>) -> TokenError {
    let secret_id = secret_id.to_owned();
    match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let code = service.code();
            let message = match (code, service.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                (None, Some(message)) => message.to_owned(),
                (None, None) => "no error code in the answer".to_owned(),
            };
            let status = context.raw().status().as_u16();
            match service {
                GetSecretValueError::ResourceNotFoundException(_) => {
                    TokenError::SecretNotFound { secret_id, message }
                }
                GetSecretValueError::InternalServiceError(_) => {
                    TokenError::SecretUnavailable { secret_id, message }
                }
                // KMS refused to decrypt, the secret is scheduled for deletion, the request is
                // wrong: nothing a retry fixes.
                GetSecretValueError::DecryptionFailure(_)
                | GetSecretValueError::InvalidParameterException(_)
                | GetSecretValueError::InvalidRequestException(_) => {
                    TokenError::SecretUnreadable { secret_id, message }
                }
                _ => match code {
                    Some("AccessDeniedException") => {
                        TokenError::SecretAccessDenied { secret_id, message }
                    }
                    Some(code) if THROTTLING_CODES.contains(&code) => {
                        TokenError::SecretUnavailable { secret_id, message }
                    }
                    _ => match status {
                        429 | 500..=599 => TokenError::SecretUnavailable { secret_id, message },
                        401 | 403 => TokenError::SecretAccessDenied { secret_id, message },
                        404 => TokenError::SecretNotFound { secret_id, message },
                        _ => TokenError::SecretUnreadable { secret_id, message },
                    },
                },
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => TokenError::SecretUnavailable {
            secret_id,
            message: DisplayErrorContext(err).to_string(),
        },
        SdkError::DispatchFailure(failure) if !failure.is_user() => TokenError::SecretUnavailable {
            secret_id,
            message: DisplayErrorContext(err).to_string(),
        },
        _ => TokenError::SecretUnreadable {
            secret_id,
            message: DisplayErrorContext(err).to_string(),
        },
    }
}

/// The signer of a container: loaded from Secrets Manager on first use, then kept for the
/// container's life. A failed load is not kept: the next [`SignerCell::get`] tries again.
/// Concurrent first calls wait for one load instead of each starting their own.
///
/// A key rotated in Secrets Manager reaches a container only when it starts, so keep the old
/// public key imported in IVS until every container has been replaced.
pub struct SignerCell {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    signer: OnceCell<PlaybackSigner>,
}

impl SignerCell {
    /// A cell that will load the key from `secret_id` with `client` when first asked.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SignerCell {
            client,
            secret_id: secret_id.into(),
            signer: OnceCell::new(),
        }
    }

    /// The signer, loading it first if no earlier call succeeded (see [`load_signer`] for
    /// the errors).
    pub async fn get(&self) -> Result<&PlaybackSigner, TokenError> {
        self.signer
            .get_or_try_init(|| load_signer(&self.client, &self.secret_id))
            .await
    }

    /// Whether the signer has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.signer.initialized()
    }

    /// The secret the key is read from.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }
}

impl fmt::Debug for SignerCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerCell")
            .field("secret_id", &self.secret_id)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

/// Whose problem a [`TokenError`] is, and so which HTTP status an API answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The request is wrong: HTTP 400; retrying the same request fails again.
    Caller,
    /// The deployment is wrong (missing or unreadable secret, bad key, denied access):
    /// HTTP 500; an operator has to act.
    Configuration,
    /// A dependency failed for now (throttling, a 5xx, a timeout): HTTP 503; retry later.
    Transient,
}

impl Fault {
    /// The HTTP status an API answers with: 400, 500 or 503.
    pub fn http_status(self) -> u16 {
        match self {
            Fault::Caller => 400,
            Fault::Configuration => 500,
            Fault::Transient => 503,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(self) -> bool {
        self == Fault::Transient
    }
}

/// What is wrong with a signing key. Each message is a fixed description: none quotes the
/// key text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// No PEM block at all.
    #[error(
        "no PEM block found: expected the PEM text of an EC P-384 private key (label \
         \"EC PRIVATE KEY\" or \"PRIVATE KEY\"), with its line breaks"
    )]
    NoPem,
    /// A PEM block that is cut off, has a bad label or whose base64 does not decode.
    #[error(
        "the PEM text is malformed (unterminated block, bad label, or invalid base64 such as \
         literal \\n escapes instead of line breaks)"
    )]
    MalformedPem,
    /// The decoded key does not have the structure its label announces.
    #[error("the key's DER structure is malformed")]
    MalformedDer,
    /// More than one private key.
    #[error("the PEM text holds more than one private key")]
    SeveralKeys,
    /// A password-protected key.
    #[error("the private key is encrypted: store it unencrypted (SEC1 or PKCS#8)")]
    Encrypted,
    /// Only a public key or a certificate.
    #[error(
        "the PEM text holds a public key or certificate, not the private key: IVS gets the \
         public key, the signer needs the private one"
    )]
    NotPrivate,
    /// Not an elliptic-curve key.
    #[error("the key is {0}, not an ECDSA P-384 key")]
    WrongAlgorithm(&'static str),
    /// An elliptic-curve key on another curve.
    #[error("the EC key's curve is {0}; IVS playback keys are P-384 (secp384r1)")]
    WrongCurve(&'static str),
    /// A PEM type this module does not read.
    #[error("the key is in {0} format; expected SEC1 (EC PRIVATE KEY) or PKCS#8 (PRIVATE KEY)")]
    UnsupportedFormat(&'static str),
    /// Well formed, but the crypto library refused it (for example its public half does not
    /// match its private half).
    #[error("the crypto library refused the P-384 key (corrupt or inconsistent key)")]
    Unusable,
}

/// Why a token could not be minted or the signer loaded. Messages name fields, secrets'
/// ids and AWS error codes, never a key or a token; [`TokenError::fault`] says whose
/// problem it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A request field (JSON name), or an argument of [`PlaybackSigner::mint`]
    /// (`channelArn`, `playbackUrl`), breaks a rule. The caller's fault.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field, as the JSON body names it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The request body is not JSON of the expected shape (unknown field, wrong type).
    /// The caller's fault.
    #[error("invalid request body: {0}")]
    MalformedRequest(String),
    /// The key given to [`PlaybackSigner::from_pem`] is not usable. A configuration problem.
    #[error("invalid playback signing key: {0}")]
    InvalidKey(KeyProblem),
    /// The secret does not exist (or is not visible to this account). A configuration
    /// problem.
    #[error("secret {secret_id:?} not found in Secrets Manager ({message})")]
    SecretNotFound {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message.
        message: String,
    },
    /// The function's role may not read the secret (or use its KMS key). A configuration
    /// problem.
    #[error("access to secret {secret_id:?} denied ({message})")]
    SecretAccessDenied {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message.
        message: String,
    },
    /// The secret holds binary data, not a `SecretString`. A configuration problem.
    #[error("secret {secret_id:?} has no SecretString: store the PEM text as the secret string")]
    SecretNotString {
        /// The secret's name or ARN, as configured.
        secret_id: String,
    },
    /// The secret's string is not a usable key. A configuration problem.
    #[error("secret {secret_id:?} does not hold a usable playback signing key: {problem}")]
    SecretKeyInvalid {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// What is wrong with the key.
        problem: KeyProblem,
    },
    /// Reading the secret failed for a reason a retry does not fix (KMS decryption failure,
    /// secret scheduled for deletion, invalid request). A configuration problem.
    #[error("reading secret {secret_id:?} failed ({message})")]
    SecretUnreadable {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message, or the SDK's description.
        message: String,
    },
    /// Secrets Manager throttled, failed (5xx) or could not be reached in time. Transient:
    /// retry later.
    #[error("reading secret {secret_id:?} failed for now, retry later ({message})")]
    SecretUnavailable {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message, or the SDK's description.
        message: String,
    },
    /// Signing failed although the key was accepted when loaded. Treated as a configuration
    /// problem.
    #[error("signing the playback token failed: {0}")]
    Signing(String),
}

impl TokenError {
    /// Whose problem this is: [`Fault::Caller`] (HTTP 400), [`Fault::Configuration`] (500)
    /// or [`Fault::Transient`] (503, retry later).
    pub fn fault(&self) -> Fault {
        match self {
            TokenError::InvalidField { .. } | TokenError::MalformedRequest(_) => Fault::Caller,
            TokenError::SecretUnavailable { .. } => Fault::Transient,
            TokenError::InvalidKey(_)
            | TokenError::SecretNotFound { .. }
            | TokenError::SecretAccessDenied { .. }
            | TokenError::SecretNotString { .. }
            | TokenError::SecretKeyInvalid { .. }
            | TokenError::SecretUnreadable { .. }
            | TokenError::Signing(_) => Fault::Configuration,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.fault().is_retryable()
    }

    /// The offending field (JSON name) of an [`TokenError::InvalidField`].
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TokenError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The key problem of an [`TokenError::InvalidKey`] or [`TokenError::SecretKeyInvalid`].
    pub fn key_problem(&self) -> Option<KeyProblem> {
        match self {
            TokenError::InvalidKey(problem) | TokenError::SecretKeyInvalid { problem, .. } => {
                Some(*problem)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const CHANNEL_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    /// The field a request is rejected for.
    fn rejected_field(request: &TokenRequest) -> &'static str {
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

    fn with_viewer(id: &str) -> TokenRequest {
        TokenRequest {
            viewer_id: Some(id.to_owned()),
            ..Default::default()
        }
    }

    fn with_origins(origins: &[&str]) -> TokenRequest {
        TokenRequest {
            allowed_origins: Some(origins.iter().map(|o| o.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn empty_request_is_valid_and_defaults_to_ten_minutes() {
        let request = TokenRequest::default();
        request.validate().unwrap();
        let claims = request.claims(CHANNEL_ARN, now(), None).unwrap();
        assert_eq!(claims.exp, now().timestamp() + 600);
    }

    #[test]
    fn viewer_id_accepts_visible_ascii_up_to_40() {
        for id in [
            "v",
            "viewer-1",
            "A_b.c:d/e+f=g~h!#$%&()*;<>?@[]^{|}",
            &"x".repeat(40),
        ] {
            with_viewer(id).validate().unwrap();
        }
    }

    #[test]
    fn viewer_id_rejections_name_the_field() {
        let long = "x".repeat(41);
        for id in [
            "", &long, "a b", "a,b", "a\"b", "a'b", "a`b", "a\\b", "a\nb", "a\tb", "a\u{7f}b", "é",
        ] {
            assert_eq!(rejected_field(&with_viewer(id)), "viewerId", "{id:?}");
        }
        let message = with_viewer("a\nb").validate().unwrap_err().to_string();
        assert!(message.contains("character 1 ('\\n')"), "{message}");
        assert!(
            !message.contains('\n'),
            "control characters are escaped: {message}"
        );
    }

    #[test]
    fn expiry_bounds() {
        let request = |seconds: i64, viewer: bool, single_use: bool| TokenRequest {
            viewer_id: viewer.then(|| "viewer-1".to_owned()),
            single_use,
            expires_in_seconds: Some(seconds),
            ..Default::default()
        };
        for (seconds, viewer, single_use) in [
            (1, false, false),
            (600, true, false),
            (600, false, true),
            (600, true, true),
            (601, false, false),
            (3_600, false, false),
        ] {
            request(seconds, viewer, single_use).validate().unwrap();
        }
        for (seconds, viewer, single_use) in [
            (0, false, false),
            (-1, false, false),
            (i64::MIN, false, false),
            (601, true, false),
            (601, false, true),
            (86_400, true, false),
            (3_601, false, false),
            (86_400, false, false),
            (i64::MAX, false, false),
        ] {
            let r = request(seconds, viewer, single_use);
            assert_eq!(rejected_field(&r), "expiresInSeconds", "{r:?}");
        }
        let message = request(601, true, false)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(message.contains("10 minutes"), "{message}");
    }

    #[test]
    fn origins_accepted() {
        for origins in [
            &["*"][..],
            &["https://example.com"],
            &["http://localhost:8080", "https://app.example.com"],
            &["https://*.example.com"],
            &["https://*.cdn.example.co.uk:8443"],
            &["http://127.0.0.1:3000"],
            &["https://xn--bcher-kva.example"],
        ] {
            with_origins(origins)
                .validate()
                .unwrap_or_else(|e| panic!("{origins:?}: {e}"));
        }
        let hundred: Vec<String> = (0..MAX_ORIGINS)
            .map(|i| format!("https://s{i}.example.com"))
            .collect();
        let refs: Vec<&str> = hundred.iter().map(String::as_str).collect();
        with_origins(&refs).validate().unwrap();
    }

    #[test]
    fn origin_rejections_name_the_field() {
        for origin in [
            "",
            "example.com",
            "ftp://example.com",
            "HTTPS://example.com",
            "https://",
            "https://example.com/",
            "https://example.com/path",
            "https://example.com?x=1",
            "https://example.com#top",
            "https://user@example.com",
            "https://Example.com",
            "https://exa mple.com",
            "https://a,b.example.com",
            "https://example..com",
            "https://.example.com",
            "https://example.com.",
            "https://-example.com",
            "https://example-.com",
            "https://*.com",
            "https://*",
            "https://a.*.example.com",
            "https://*example.com",
            "https://**.example.com",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:08080",
            "https://example.com:http",
            "https://example.com:443",
            "http://example.com:80",
            "https://[::1]:8443",
            "https://bücher.example",
        ] {
            assert_eq!(
                rejected_field(&with_origins(&[origin])),
                "allowedOrigins",
                "{origin:?}"
            );
        }
        let long_label = format!("https://{}.example.com", "a".repeat(64));
        let long_host = format!("https://{}.com", vec!["a".repeat(60); 5].join("."));
        for origin in [long_label.as_str(), long_host.as_str()] {
            assert_eq!(rejected_field(&with_origins(&[origin])), "allowedOrigins");
        }
    }

    #[test]
    fn origin_list_rejections_name_the_field() {
        assert_eq!(rejected_field(&with_origins(&[])), "allowedOrigins");
        assert_eq!(
            rejected_field(&with_origins(&["*", "https://example.com"])),
            "allowedOrigins"
        );
        let too_many: Vec<String> = (0..=MAX_ORIGINS)
            .map(|i| format!("https://s{i}.example.com"))
            .collect();
        let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
        assert_eq!(rejected_field(&with_origins(&refs)), "allowedOrigins");
        // 40 origins of about 200 characters: fewer than 100, but too long together.
        let long: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "https://{}.s{i}.example.com",
                    "a".repeat(60) + "." + &"b".repeat(60) + "." + &"c".repeat(60)
                )
            })
            .collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let error = with_origins(&refs).validate().unwrap_err();
        assert_eq!(error.field(), Some("allowedOrigins"));
        assert!(error.to_string().contains("joined"), "{error}");
        // The rejected entry is named by index and value.
        let error = with_origins(&["https://ok.example.com", "https://bad.example.com/"])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("entry 1 (\"https://bad.example.com/\")"),
            "{error}"
        );
    }

    #[test]
    fn strict_origin_enforcement_needs_origins() {
        let strict = |origins: Option<Vec<String>>| TokenRequest {
            strict_origin_enforcement: Some(true),
            allowed_origins: origins,
            ..Default::default()
        };
        assert_eq!(rejected_field(&strict(None)), "strictOriginEnforcement");
        strict(Some(vec!["*".to_owned()])).validate().unwrap();
        TokenRequest {
            strict_origin_enforcement: Some(false),
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn maximum_resolution_is_one_of_three() {
        for (text, value) in [
            ("SD", MaximumResolution::Sd),
            ("HD", MaximumResolution::Hd),
            ("FULL_HD", MaximumResolution::FullHd),
        ] {
            assert_eq!(text.parse::<MaximumResolution>().unwrap(), value);
            assert_eq!(value.as_str(), text);
            assert_eq!(serde_json::to_value(value).unwrap(), text);
        }
        for text in ["", "sd", "FullHd", "FULL HD", "4K", "UHD"] {
            let request = TokenRequest {
                maximum_resolution: Some(text.to_owned()),
                ..Default::default()
            };
            assert_eq!(rejected_field(&request), "maximumResolution", "{text:?}");
        }
    }

    #[test]
    fn viewer_session_version_rules() {
        let request = |viewer: bool, version: i64| TokenRequest {
            viewer_id: viewer.then(|| "viewer-1".to_owned()),
            viewer_session_version: Some(version),
            ..Default::default()
        };
        request(true, 0).validate().unwrap();
        request(true, i64::MAX).validate().unwrap();
        assert_eq!(rejected_field(&request(true, -1)), "viewerSessionVersion");
        assert_eq!(rejected_field(&request(false, 1)), "viewerSessionVersion");
    }

    #[test]
    fn json_body_is_camel_case_and_closed() {
        let body = br#"{"viewerId":"viewer-1","singleUse":true,"expiresInSeconds":300,
            "allowedOrigins":["https://example.com"],"strictOriginEnforcement":true,
            "maximumResolution":"HD","viewerSessionVersion":3}"#;
        let request = TokenRequest::from_json(body).unwrap();
        assert_eq!(
            request,
            TokenRequest {
                viewer_id: Some("viewer-1".to_owned()),
                single_use: true,
                expires_in_seconds: Some(300),
                allowed_origins: Some(vec!["https://example.com".to_owned()]),
                strict_origin_enforcement: Some(true),
                maximum_resolution: Some("HD".to_owned()),
                viewer_session_version: Some(3),
            }
        );
        assert_eq!(
            TokenRequest::from_json(b"{}").unwrap(),
            TokenRequest::default()
        );
        assert_eq!(
            TokenRequest::from_json(br#"{"viewerId":null}"#).unwrap(),
            TokenRequest::default()
        );

        for body in [
            &br#"{"viewer_id":"v"}"#[..],
            br#"{"channelArn":"x"}"#,
            br#"{"expiresInSeconds":"600"}"#,
            br#"{"expiresInSeconds":1.5}"#,
            br#"{"singleUse":"yes"}"#,
            br#"[]"#,
            b"",
            b"not json",
        ] {
            let error = TokenRequest::from_json(body).unwrap_err();
            assert!(
                matches!(error, TokenError::MalformedRequest(_)),
                "{body:?}: {error:?}"
            );
            assert_eq!(error.fault(), Fault::Caller);
        }
        let error = TokenRequest::from_json(br#"{"viewerID":"v"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `viewerID`"),
            "{error}"
        );
        // Well-formed but invalid: the field is named.
        let error = TokenRequest::from_json(br#"{"expiresInSeconds":-5}"#).unwrap_err();
        assert_eq!(error.field(), Some("expiresInSeconds"));
    }

    #[test]
    fn claims_use_ivs_names_and_leave_out_what_was_not_asked() {
        let request = TokenRequest {
            viewer_id: Some("viewer-1".to_owned()),
            single_use: true,
            expires_in_seconds: Some(120),
            allowed_origins: Some(vec![
                "https://a.example.com".to_owned(),
                "https://*.b.example.com".to_owned(),
            ]),
            strict_origin_enforcement: Some(false),
            maximum_resolution: Some("FULL_HD".to_owned()),
            viewer_session_version: Some(7),
        };
        let uuid = uuid::Uuid::new_v4().hyphenated().to_string();
        let claims = request
            .claims(CHANNEL_ARN, now(), Some(uuid.clone()))
            .unwrap();
        assert_eq!(
            serde_json::to_value(&claims).unwrap(),
            serde_json::json!({
                "aws:channel-arn": CHANNEL_ARN,
                "aws:access-control-allow-origin": "https://a.example.com,https://*.b.example.com",
                "aws:strict-origin-enforcement": false,
                "aws:single-use-uuid": uuid,
                "aws:viewer-id": "viewer-1",
                "aws:viewer-session-version": 7,
                "aws:maximum-resolution": "FULL_HD",
                "exp": now().timestamp() + 120,
            })
        );

        let minimal = TokenRequest::default()
            .claims(CHANNEL_ARN, now(), None)
            .unwrap();
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            serde_json::json!({"aws:channel-arn": CHANNEL_ARN, "exp": now().timestamp() + 600})
        );
    }

    #[test]
    fn exp_is_whole_seconds_after_now() {
        let now = Utc.timestamp_opt(1_740_830_400, 999_999_999).unwrap();
        let claims = TokenRequest::default()
            .claims(CHANNEL_ARN, now, None)
            .unwrap();
        assert_eq!(claims.exp, 1_740_830_400 + 600);
    }

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
    fn base64_inside_pem_is_strict() {
        let problem = |body: &str| {
            pkcs8_from_pem(&format!(
                "-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n"
            ))
            .map(|_| ())
            .unwrap_err()
        };
        // Valid base64, whitespace and blank lines included: it decodes, then the DER (which
        // is no key) is refused.
        for good in ["TWFu", "TWE=", "TQ==", " TW\r\nFu\n", "TW\n\nFu", "+/+/"] {
            assert_eq!(problem(good), KeyProblem::MalformedDer, "{good:?}");
        }
        for bad in [
            "", "TWF", "TQ=", "T===", "TWE=TWFu", "TW-u", "TW_u", "TR==", "TWF=", "====",
        ] {
            assert_eq!(problem(bad), KeyProblem::MalformedPem, "{bad:?}");
        }
    }

    #[test]
    fn pem_layout() {
        let problem = |pem: &str| pkcs8_from_pem(pem).map(|_| ()).unwrap_err();
        let dir = TempDir::new("unit-layout");
        let pem = openssl(&dir.0, "ecparam -name secp384r1 -genkey -noout");
        let expected = pkcs8_from_pem(&pem).unwrap();

        // Blank lines among the base64 lines and before the END line are whitespace too.
        let mut lines: Vec<&str> = pem.lines().collect();
        lines.insert(2, "");
        lines.insert(lines.len() - 1, "");
        let spaced = lines.join("\n");
        assert_eq!(pkcs8_from_pem(&spaced).unwrap(), expected);
        assert_eq!(
            pkcs8_from_pem(&spaced.replace('\n', "\r\n")).unwrap(),
            expected
        );

        // A block left open after the key, or a BEGIN line in the text after it.
        assert_eq!(
            problem(&format!("{pem}-----BEGIN PUBLIC KEY-----\nTWFu\n")),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem(&format!("{pem}\nsee -----BEGIN PUBLIC KEY-----\n")),
            KeyProblem::MalformedPem
        );
        // A legacy encrypted key is recognised even without the blank line after its
        // headers.
        assert_eq!(
            problem(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\
                 TWFu\n-----END EC PRIVATE KEY-----\n"
            ),
            KeyProblem::Encrypted
        );
        // Headers that do not announce encryption are refused as well.
        assert_eq!(
            problem(
                "-----BEGIN EC PRIVATE KEY-----\nComment: x\n\nTWFu\n-----END EC PRIVATE KEY-----\n"
            ),
            KeyProblem::MalformedPem
        );
        // Labels are uppercase letters, digits and spaces.
        assert_eq!(
            problem("-----BEGIN ec private key-----\nTWFu\n-----END ec private key-----\n"),
            KeyProblem::MalformedPem
        );
        let long = "A".repeat(65);
        assert_eq!(
            problem(&format!(
                "-----BEGIN {long}-----\nTWFu\n-----END {long}-----\n"
            )),
            KeyProblem::MalformedPem
        );
    }

    /// `der` with its outer length (one byte, long form: `0x81 n`) rewritten as `head`.
    fn with_outer_length(der: &[u8], head: &[u8]) -> Vec<u8> {
        assert_eq!(der[1], 0x81, "expected a 128 to 255 byte key");
        [&[der[0]], head, &der[3..]].concat()
    }

    #[test]
    fn keys_must_be_der() {
        let dir = TempDir::new("unit-der");
        let sec1_pem = openssl(&dir.0, "ecparam -name secp384r1 -genkey -noout");
        let sec1 = pem::parse(&sec1_pem).unwrap().into_contents();
        let (pkcs8, _) = pkcs8_from_pem(&sec1_pem).unwrap();
        let as_pem = |label: &str, der: &[u8]| pem::encode(&pem::Pem::new(label, der.to_vec()));
        // Re-encoded unchanged, both are accepted.
        assert_eq!(
            pkcs8_from_pem(&as_pem("EC PRIVATE KEY", &sec1)).unwrap(),
            (pkcs8.clone(), KeyFormat::Sec1)
        );
        assert_eq!(
            pkcs8_from_pem(&as_pem("PRIVATE KEY", &pkcs8)).unwrap(),
            (pkcs8.clone(), KeyFormat::Pkcs8)
        );

        for (label, der) in [("EC PRIVATE KEY", &sec1), ("PRIVATE KEY", &pkcs8)] {
            let n = der[2];
            // Both start with `SEQUENCE (0x81 n) { INTEGER (1) v, … }`.
            assert_eq!(der[3..5], [0x02, 0x01], "{label}");
            let indefinite = [&with_outer_length(der, &[0x80])[..], &[0, 0]].concat();
            let non_minimal_integer = [
                &with_outer_length(der, &[0x81, n + 1])[..3],
                &[0x02, 0x02, 0x00, der[5]],
                &der[6..],
            ]
            .concat();
            let bad: [(&str, Vec<u8>); 8] = [
                ("non-minimal length", with_outer_length(der, &[0x82, 0, n])),
                (
                    "leading zero length",
                    with_outer_length(der, &[0x83, 0, 0, n]),
                ),
                ("indefinite length", indefinite),
                ("non-minimal integer", non_minimal_integer),
                ("trailing element", [&der[..], &[0x05, 0x00]].concat()),
                ("truncated", der[..der.len() - 1].to_vec()),
                ("multi-byte tag", [&[0x3F, 0x10], &der[1..]].concat()),
                ("primitive sequence", [&[0x10], &der[1..]].concat()),
            ];
            for (what, bad) in bad {
                assert_eq!(
                    pkcs8_from_pem(&as_pem(label, &bad))
                        .map(|_| ())
                        .unwrap_err(),
                    KeyProblem::MalformedDer,
                    "{label}: {what}"
                );
            }
        }

        // Deep nesting is refused by size before it reaches the (recursive) decoder.
        let mut nested = vec![0x05, 0x00];
        for _ in 0..2_000 {
            let len = u16::try_from(nested.len()).unwrap().to_be_bytes();
            nested = [&[0x30, 0x82][..], &len, &nested].concat();
        }
        assert!(nested.len() > MAX_KEY_DER_LEN);
        for label in ["EC PRIVATE KEY", "PRIVATE KEY"] {
            assert_eq!(
                pkcs8_from_pem(&as_pem(label, &nested))
                    .map(|_| ())
                    .unwrap_err(),
                KeyProblem::MalformedDer
            );
        }
    }

    #[test]
    fn key_text_problems() {
        let problem = |pem: &str| pkcs8_from_pem(pem).map(|_| ()).unwrap_err();
        assert_eq!(problem(""), KeyProblem::NoPem);
        assert_eq!(problem("just some text"), KeyProblem::NoPem);
        assert_eq!(
            problem("{\"key\":\"-----BEGIN EC PRIVATE KEY-----\\nTWFu\\n-----END EC PRIVATE KEY-----\"}"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTWFu\n"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTWFu\n-----END PRIVATE KEY-----\n"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTW!u\n-----END EC PRIVATE KEY-----\n"),
            KeyProblem::MalformedPem
        );
        assert_eq!(
            problem("-----BEGIN EC PRIVATE KEY-----\nTWFu\n-----END EC PRIVATE KEY-----\n"),
            KeyProblem::MalformedDer
        );
        assert_eq!(
            problem("-----BEGIN PRIVATE KEY-----\nTWFu\n-----END PRIVATE KEY-----\n"),
            KeyProblem::MalformedDer
        );
        assert_eq!(
            problem(
                "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n\
                 TWFu\n-----END EC PRIVATE KEY-----\n"
            ),
            KeyProblem::Encrypted
        );
        assert_eq!(
            problem(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nTWFu\n-----END OPENSSH PRIVATE KEY-----\n"
            ),
            KeyProblem::UnsupportedFormat("OpenSSH")
        );
        assert_eq!(
            problem("-----BEGIN SOMETHING-----\nTWFu\n-----END SOMETHING-----\n"),
            KeyProblem::UnsupportedFormat("an unknown PEM label")
        );
    }

    #[test]
    fn faults_map_to_http_statuses() {
        let caller = invalid("viewerId", "bad");
        assert_eq!(
            (caller.fault(), caller.fault().http_status()),
            (Fault::Caller, 400)
        );
        assert!(!caller.is_retryable());
        let config = TokenError::SecretNotFound {
            secret_id: "s".to_owned(),
            message: "m".to_owned(),
        };
        assert_eq!(
            (config.fault(), config.fault().http_status()),
            (Fault::Configuration, 500)
        );
        let key = TokenError::InvalidKey(KeyProblem::NoPem);
        assert_eq!(key.fault(), Fault::Configuration);
        assert_eq!(key.key_problem(), Some(KeyProblem::NoPem));
        let transient = TokenError::SecretUnavailable {
            secret_id: "s".to_owned(),
            message: "m".to_owned(),
        };
        assert_eq!(
            (transient.fault(), transient.fault().http_status()),
            (Fault::Transient, 503)
        );
        assert!(transient.is_retryable());
        assert!(transient.to_string().contains("retry later"));
    }

    // ---- With real keys (generated by openssl at test time, never committed) ----

    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir()
                .join(format!("shared-token-{tag}-{}-{nanos}", std::process::id()));
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
    fn openssl(dir: &std::path::Path, args: &str) -> String {
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

    #[test]
    fn sec1_is_wrapped_exactly_as_openssl_does() {
        let dir = TempDir::new("unit");
        openssl(
            &dir.0,
            "ecparam -name secp384r1 -genkey -noout -out sec1.pem",
        );
        let sec1 = std::fs::read_to_string(dir.0.join("sec1.pem")).unwrap();
        let pkcs8 = openssl(&dir.0, "pkcs8 -topk8 -nocrypt -in sec1.pem");

        let (ours, format) = pkcs8_from_pem(&sec1).unwrap();
        assert_eq!(format, KeyFormat::Sec1);
        let (theirs, format) = pkcs8_from_pem(&pkcs8).unwrap();
        assert_eq!(format, KeyFormat::Pkcs8);
        assert_eq!(ours, theirs);

        // A SEC1 key without its public half still converts and signs.
        let no_public = openssl(&dir.0, "ec -in sec1.pem -no_public");
        let signer = PlaybackSigner::from_pem(&no_public).unwrap();
        assert_eq!(signer.format(), KeyFormat::Sec1);
    }

    #[test]
    fn mint_separator_follows_the_url() {
        let dir = TempDir::new("unit-url");
        let pem = openssl(&dir.0, "ecparam -name secp384r1 -genkey -noout");
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
