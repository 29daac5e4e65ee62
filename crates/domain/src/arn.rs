//! IVS resource ARNs: `arn:<partition>:ivs:<region>:<account>:<resource-type>/<id>`.
//!
//! Parsing is strict (every part is checked against the pattern the IVS API model gives) and
//! never panics; a rejection names the part that is wrong.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest ARN IVS accepts (the API model's `maxLength` for every IVS ARN shape).
pub const MAX_ARN_LEN: usize = 128;

/// The kinds of IVS resource that have an ARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    Channel,
    StreamKey,
    PlaybackKey,
    RecordingConfiguration,
    PlaybackRestrictionPolicy,
}

impl ResourceType {
    pub const ALL: [ResourceType; 5] = [
        ResourceType::Channel,
        ResourceType::StreamKey,
        ResourceType::PlaybackKey,
        ResourceType::RecordingConfiguration,
        ResourceType::PlaybackRestrictionPolicy,
    ];

    /// The resource-type segment as it appears in the ARN.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Channel => "channel",
            ResourceType::StreamKey => "stream-key",
            ResourceType::PlaybackKey => "playback-key",
            ResourceType::RecordingConfiguration => "recording-configuration",
            ResourceType::PlaybackRestrictionPolicy => "playback-restriction-policy",
        }
    }

    fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == segment)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an ARN was rejected. The message names the offending part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid IVS ARN {input:?}: {problem}")]
pub struct ArnError {
    /// The rejected input, shortened to a readable length.
    pub input: String,
    pub problem: ArnProblem,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArnProblem {
    #[error("it is empty")]
    Empty,
    #[error("it is {0} characters long; IVS ARNs are at most {MAX_ARN_LEN}")]
    TooLong(usize),
    #[error(
        "expected 6 ':'-separated parts (arn:partition:ivs:region:account:type/id), found {0}"
    )]
    WrongPartCount(usize),
    #[error("it must start with \"arn:\"")]
    NotAnArn,
    #[error("unknown partition {0:?} (expected aws, aws-cn or aws-us-gov)")]
    Partition(String),
    #[error("service is {0:?}, not \"ivs\"")]
    Service(String),
    #[error("region {0:?} is not a region name (lowercase letters, digits and '-')")]
    Region(String),
    #[error("account {0:?} is not a 12-digit AWS account id")]
    Account(String),
    #[error("resource {0:?} must be <type>/<id>")]
    Resource(String),
    #[error("unknown resource type {0:?} (expected channel, stream-key, playback-key, recording-configuration or playback-restriction-policy)")]
    UnknownType(String),
    #[error("resource id {0:?} must be 1 or more letters, digits or '-'")]
    Id(String),
    #[error("expected a {expected} ARN, found a {found} ARN")]
    WrongType {
        expected: ResourceType,
        found: ResourceType,
    },
}

/// A validated IVS ARN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IvsArn {
    raw: String,
    partition_len: usize,
    region: (usize, usize),
    account: (usize, usize),
    resource_type: ResourceType,
    id_start: usize,
}

impl IvsArn {
    /// Parses any IVS ARN.
    pub fn parse(input: &str) -> Result<Self, ArnError> {
        parse(input).map_err(|problem| ArnError {
            input: shorten(input),
            problem,
        })
    }

    /// Parses an ARN that must be of the given resource type.
    pub fn parse_as(input: &str, expected: ResourceType) -> Result<Self, ArnError> {
        let arn = Self::parse(input)?;
        if arn.resource_type != expected {
            return Err(ArnError {
                input: shorten(input),
                problem: ArnProblem::WrongType {
                    expected,
                    found: arn.resource_type,
                },
            });
        }
        Ok(arn)
    }

    /// Builds an ARN from its parts; the partition follows from the region.
    pub fn build(
        resource_type: ResourceType,
        region: &str,
        account: &str,
        id: &str,
    ) -> Result<Self, ArnError> {
        let partition = partition_for_region(region);
        let raw = format!("arn:{partition}:ivs:{region}:{account}:{resource_type}/{id}");
        Self::parse(&raw)
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn partition(&self) -> &str {
        &self.raw[4..4 + self.partition_len]
    }

    pub fn region(&self) -> &str {
        &self.raw[self.region.0..self.region.1]
    }

    pub fn account(&self) -> &str {
        &self.raw[self.account.0..self.account.1]
    }

    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }

    /// The resource id (the part after `<type>/`).
    pub fn id(&self) -> &str {
        &self.raw[self.id_start..]
    }
}

/// `aws-cn` for China regions, `aws-us-gov` for GovCloud, `aws` elsewhere.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn parse(input: &str) -> Result<IvsArn, ArnProblem> {
    if input.is_empty() {
        return Err(ArnProblem::Empty);
    }
    let chars = input.chars().count();
    if chars > MAX_ARN_LEN {
        return Err(ArnProblem::TooLong(chars));
    }
    let parts: Vec<&str> = input.splitn(6, ':').collect();
    if parts.len() != 6 {
        return Err(ArnProblem::WrongPartCount(parts.len()));
    }
    let [prefix, partition, service, region, account, resource] =
        [parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]];
    if prefix != "arn" {
        return Err(ArnProblem::NotAnArn);
    }
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(ArnProblem::Partition(partition.to_owned()));
    }
    if service != "ivs" {
        return Err(ArnProblem::Service(service.to_owned()));
    }
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ArnProblem::Region(region.to_owned()));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ArnProblem::Account(account.to_owned()));
    }
    let Some((type_segment, id)) = resource.split_once('/') else {
        return Err(ArnProblem::Resource(resource.to_owned()));
    };
    let resource_type = ResourceType::from_segment(type_segment)
        .ok_or_else(|| ArnProblem::UnknownType(type_segment.to_owned()))?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(ArnProblem::Id(id.to_owned()));
    }
    let region_start = 4 + partition.len() + 1 + service.len() + 1;
    let account_start = region_start + region.len() + 1;
    let id_start = account_start + account.len() + 1 + type_segment.len() + 1;
    Ok(IvsArn {
        raw: input.to_owned(),
        partition_len: partition.len(),
        region: (region_start, region_start + region.len()),
        account: (account_start, account_start + account.len()),
        resource_type,
        id_start,
    })
}

fn shorten(input: &str) -> String {
    const KEEP: usize = 160;
    if input.chars().count() <= KEEP {
        input.to_owned()
    } else {
        let mut s: String = input.chars().take(KEEP).collect();
        s.push('…');
        s
    }
}

impl fmt::Display for IvsArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for IvsArn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for IvsArn {
    fn as_ref(&self) -> &str {
        &self.raw
    }
}

impl Serialize for IvsArn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for IvsArn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        IvsArn::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: &str = "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456";

    #[test]
    fn parses_each_resource_type() {
        for t in ResourceType::ALL {
            let raw = format!("arn:aws:ivs:eu-west-1:111122223333:{}/Xy12-ab", t.as_str());
            let arn = IvsArn::parse(&raw).unwrap();
            assert_eq!(arn.resource_type(), t);
            assert_eq!(arn.id(), "Xy12-ab");
            assert_eq!(arn.region(), "eu-west-1");
            assert_eq!(arn.account(), "111122223333");
            assert_eq!(arn.partition(), "aws");
            assert_eq!(arn.to_string(), raw);
        }
    }

    #[test]
    fn builds_from_parts_with_the_right_partition() {
        let arn = IvsArn::build(
            ResourceType::Channel,
            "us-west-2",
            "111122223333",
            "AbCdEf123456",
        )
        .unwrap();
        assert_eq!(arn.as_str(), CHANNEL);
        let cn =
            IvsArn::build(ResourceType::StreamKey, "cn-north-1", "111122223333", "k1").unwrap();
        assert_eq!(cn.partition(), "aws-cn");
        let gov =
            IvsArn::build(ResourceType::Channel, "us-gov-west-1", "111122223333", "c1").unwrap();
        assert_eq!(gov.partition(), "aws-us-gov");
        assert!(IvsArn::build(ResourceType::Channel, "us-west-2", "1234", "c1").is_err());
        assert!(IvsArn::build(ResourceType::Channel, "us-west-2", "111122223333", "a/b").is_err());
    }

    #[test]
    fn parse_as_checks_the_type() {
        assert!(IvsArn::parse_as(CHANNEL, ResourceType::Channel).is_ok());
        let err = IvsArn::parse_as(CHANNEL, ResourceType::StreamKey).unwrap_err();
        assert_eq!(
            err.problem,
            ArnProblem::WrongType {
                expected: ResourceType::StreamKey,
                found: ResourceType::Channel
            }
        );
        assert!(err.to_string().contains("expected a stream-key ARN"));
    }

    #[test]
    fn rejections_name_the_wrong_part() {
        type Check = fn(&ArnProblem) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |p| matches!(p, ArnProblem::Empty)),
            ("channel/abc", |p| {
                matches!(p, ArnProblem::WrongPartCount(1))
            }),
            ("urn:aws:ivs:us-west-2:111122223333:channel/a", |p| {
                matches!(p, ArnProblem::NotAnArn)
            }),
            ("arn:aws-xx:ivs:us-west-2:111122223333:channel/a", |p| {
                matches!(p, ArnProblem::Partition(_))
            }),
            (
                "arn:aws:s3:us-west-2:111122223333:channel/a",
                |p| matches!(p, ArnProblem::Service(s) if s == "s3"),
            ),
            ("arn:aws:ivs:US-WEST-2:111122223333:channel/a", |p| {
                matches!(p, ArnProblem::Region(_))
            }),
            ("arn:aws:ivs::111122223333:channel/a", |p| {
                matches!(p, ArnProblem::Region(_))
            }),
            (
                "arn:aws:ivs:us-west-2:1111:channel/a",
                |p| matches!(p, ArnProblem::Account(a) if a == "1111"),
            ),
            ("arn:aws:ivs:us-west-2:111122223333:channel", |p| {
                matches!(p, ArnProblem::Resource(_))
            }),
            (
                "arn:aws:ivs:us-west-2:111122223333:stage/a",
                |p| matches!(p, ArnProblem::UnknownType(t) if t == "stage"),
            ),
            ("arn:aws:ivs:us-west-2:111122223333:channel/", |p| {
                matches!(p, ArnProblem::Id(_))
            }),
            ("arn:aws:ivs:us-west-2:111122223333:channel/a/b", |p| {
                matches!(p, ArnProblem::Id(_))
            }),
            ("arn:aws:ivs:us-west-2:111122223333:channel/ab:cd", |p| {
                matches!(p, ArnProblem::Id(_))
            }),
        ];
        for (input, check) in cases {
            let err = IvsArn::parse(input).unwrap_err();
            assert!(check(&err.problem), "{input:?} gave {:?}", err.problem);
            assert!(err.to_string().contains("invalid IVS ARN"));
        }
    }

    #[test]
    fn too_long_and_non_ascii_input_is_rejected_without_panicking() {
        let long = format!("{CHANNEL}{}", "a".repeat(200));
        let err = IvsArn::parse(&long).unwrap_err();
        assert!(matches!(err.problem, ArnProblem::TooLong(_)));
        assert!(
            err.input.ends_with('…'),
            "long input is shortened in errors"
        );
        for weird in [
            "arn:aws:ivs:us-west-2:111122223333:channel/ü",
            "arn:aws:ivs:ü:111122223333:channel/a",
            "arn:aws:ivs:us-west-2:11112222333ü:channel/a",
            "::::::",
            "arn:aws:ivs:us-west-2:111122223333:/",
        ] {
            assert!(IvsArn::parse(weird).is_err(), "{weird}");
        }
    }

    #[test]
    fn serde_round_trip_validates() {
        let arn: IvsArn = serde_json::from_str(&format!("\"{CHANNEL}\"")).unwrap();
        assert_eq!(
            serde_json::to_string(&arn).unwrap(),
            format!("\"{CHANNEL}\"")
        );
        assert!(serde_json::from_str::<IvsArn>("\"arn:nope\"").is_err());
    }
}
