//! What an admin API caller asks for ([`TokenRequest`]) and its validation rules.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::claims::{Claims, MaximumResolution};
use super::error::{invalid, TokenError};

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
    pub(super) fn claims(
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
pub(super) fn shorten(input: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::{now, rejected_field, CHANNEL_ARN};
    use crate::token::Fault;
    use chrono::TimeZone;

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
}
