//! The claims of a playback token, with IVS's names, and the minted token.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::shorten;
use domain::secret::Secret;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::rejected_field;
    use crate::token::TokenRequest;

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
}
