//! Identifiers: ARNs, resource ids, stream ids, stream key values and UUIDs, all drawn from a
//! seeded random generator so that a run with the same seed and the same calls is reproducible.

use std::fmt;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// The kinds of IVS resources that have ARNs, with their ARN resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// `channel`
    Channel,
    /// `stream-key`
    StreamKey,
    /// `playback-key` (a playback key pair)
    PlaybackKeyPair,
    /// `recording-configuration`
    RecordingConfiguration,
    /// `playback-restriction-policy`
    PlaybackRestrictionPolicy,
    /// `ad-configuration`
    AdConfiguration,
    /// `failover-slate-configuration` (the emulator has none: their operations are not emulated)
    FailoverSlateConfiguration,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 7] = [
        ResourceKind::Channel,
        ResourceKind::StreamKey,
        ResourceKind::PlaybackKeyPair,
        ResourceKind::RecordingConfiguration,
        ResourceKind::PlaybackRestrictionPolicy,
        ResourceKind::AdConfiguration,
        ResourceKind::FailoverSlateConfiguration,
    ];

    /// The resource type as it appears in the ARN.
    pub fn arn_type(self) -> &'static str {
        match self {
            ResourceKind::Channel => "channel",
            ResourceKind::StreamKey => "stream-key",
            ResourceKind::PlaybackKeyPair => "playback-key",
            ResourceKind::RecordingConfiguration => "recording-configuration",
            ResourceKind::PlaybackRestrictionPolicy => "playback-restriction-policy",
            ResourceKind::AdConfiguration => "ad-configuration",
            ResourceKind::FailoverSlateConfiguration => "failover-slate-configuration",
        }
    }

    fn from_arn_type(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.arn_type() == value)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.arn_type())
    }
}

/// The parts of an IVS ARN `arn:aws:ivs:<region>:<account>:<type>/<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// The region.
    pub region: &'a str,
    /// The account id.
    pub account: &'a str,
    /// The resource type.
    pub kind: ResourceKind,
    /// The resource id.
    pub id: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses `input` as the model's ARN patterns do (`arn:aws:ivs:[a-z0-9-]+:[0-9]+:<type>/[a-zA-Z0-9-]+`),
    /// matching the whole string. `None` when it is not such an ARN.
    pub fn parse(input: &'a str) -> Option<Self> {
        let rest = input.strip_prefix("arn:aws:ivs:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, resource) = rest.split_once(':')?;
        let (kind, id) = resource.split_once('/')?;
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let account_ok = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
        let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !(region_ok && account_ok && id_ok) {
            return None;
        }
        Some(Self {
            region,
            account,
            kind: ResourceKind::from_arn_type(kind)?,
            id,
        })
    }
}

/// Builds the ARN of a resource.
pub fn arn(region: &str, account: &str, kind: ResourceKind, id: &str) -> String {
    format!("arn:aws:ivs:{region}:{account}:{}/{id}", kind.arn_type())
}

/// A seeded generator of identifiers.
#[derive(Debug)]
pub struct IdGen {
    rng: fastrand::Rng,
}

impl IdGen {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn draw_from(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.rng.usize(..alphabet.len())]))
            .collect()
    }

    /// `len` random characters of `[A-Za-z0-9]`.
    pub fn alphanumeric(&mut self, len: usize) -> String {
        self.draw_from(ALPHANUMERIC, len)
    }

    /// `len` random lowercase hexadecimal digits.
    pub fn hex(&mut self, len: usize) -> String {
        self.draw_from(HEX, len)
    }

    /// A 12-character resource id, as in IVS ARNs.
    pub fn resource_id(&mut self) -> String {
        self.alphanumeric(12)
    }

    /// A stream id: `st-` and 23 alphanumerics.
    pub fn stream_id(&mut self) -> String {
        format!("st-{}", self.alphanumeric(23))
    }

    /// A stream key value: `sk_<region>_` and 36 alphanumerics.
    pub fn stream_key_value(&mut self, region: &str) -> String {
        format!("sk_{region}_{}", self.alphanumeric(36))
    }

    /// A random (version 4) UUID in its canonical lowercase form.
    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        for byte in &mut bytes {
            *byte = self.rng.u8(..);
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_rejects_near_misses() {
        for kind in ResourceKind::ALL {
            let built = arn("us-west-2", "111122223333", kind, "AbCdEf123456");
            let parsed = Arn::parse(&built).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.id, "AbCdEf123456");
            assert_eq!(parsed.region, "us-west-2");
            assert_eq!(parsed.account, "111122223333");
        }
        for bad in [
            "",
            "arn:aws:ivs:us-west-2:111122223333:channel/",
            "arn:aws:ivs:us-west-2:111122223333:channel",
            "arn:aws:ivs:US-WEST-2:111122223333:channel/abc",
            "arn:aws:ivs:us-west-2:1111x2223333:channel/abc",
            "arn:aws:ivs:us-west-2:111122223333:stage/abc",
            "arn:aws:ivs:us-west-2:111122223333:channel/ab_c",
            "arn:aws:s3:us-west-2:111122223333:channel/abc",
            "arn:aws:ivs:us-west-2:111122223333:channel/abc/def",
        ] {
            assert!(Arn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ids_have_the_ivs_shapes_and_are_reproducible() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        let stream = a.stream_id();
        assert_eq!(stream, b.stream_id());
        assert_eq!(stream.len(), 26);
        assert!(
            stream.starts_with("st-") && stream[3..].bytes().all(|c| c.is_ascii_alphanumeric())
        );
        let key = a.stream_key_value("us-west-2");
        assert!(key.starts_with("sk_us-west-2_") && key.len() == "sk_us-west-2_".len() + 36);
        let id = a.resource_id();
        assert_eq!(id.len(), 12);
        let uuid = a.uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(IdGen::new(8).resource_id(), IdGen::new(7).resource_id());
    }
}
