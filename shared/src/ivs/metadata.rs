//! Timed metadata (`PutMetadata`).

use crate::arn::IvsArn;
use crate::error::{Error, IvsErrorKind};

use super::{Ivs, RetryOn};

/// IVS's limit on one metadata payload, in UTF-8 bytes.
pub const MAX_METADATA_BYTES: usize = 1024;

/// A payload refused before any call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("timed metadata must not be empty")]
    Empty,
    #[error("timed metadata is {bytes} bytes of UTF-8; IVS accepts at most {MAX_METADATA_BYTES}")]
    TooLarge { bytes: usize },
}

/// Checks a payload against IVS's rules: not empty, at most 1 KB of UTF-8.
pub fn validate_metadata(payload: &str) -> Result<(), MetadataError> {
    // `str::len` is the UTF-8 byte length, which is what IVS counts.
    let bytes = payload.len();
    if bytes == 0 {
        Err(MetadataError::Empty)
    } else if bytes > MAX_METADATA_BYTES {
        Err(MetadataError::TooLarge { bytes })
    } else {
        Ok(())
    }
}

/// How `put_metadata` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataOutcome {
    Delivered,
    /// The channel is not live (`ChannelNotBroadcasting`): there is no viewer to tell.
    ChannelOffline,
}

impl MetadataOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataOutcome::Delivered => "delivered",
            MetadataOutcome::ChannelOffline => "channel_offline",
        }
    }
}

impl Ivs {
    /// Inserts timed metadata into the channel's live stream.
    ///
    /// Refuses empty and over-1 KB payloads before any call; retries throttling (and other
    /// transient failures: a duplicate cue is harmless, a lost one is not) with backoff;
    /// reports an offline channel as [`MetadataOutcome::ChannelOffline`].
    pub async fn put_metadata(
        &self,
        channel: &IvsArn,
        payload: &str,
    ) -> Result<MetadataOutcome, Error> {
        validate_metadata(payload)?;
        let result = self
            .call("PutMetadata", RetryOn::Transient, || {
                self.client
                    .put_metadata()
                    .channel_arn(channel.as_str())
                    .metadata(payload)
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(MetadataOutcome::Delivered),
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::ChannelNotBroadcasting) => {
                Ok(MetadataOutcome::ChannelOffline)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_utf8_bytes() {
        assert_eq!(validate_metadata(""), Err(MetadataError::Empty));
        assert_eq!(validate_metadata(&"a".repeat(1024)), Ok(()));
        assert_eq!(
            validate_metadata(&"a".repeat(1025)),
            Err(MetadataError::TooLarge { bytes: 1025 })
        );
        // 'é' is 2 bytes, '€' 3, '🎥' 4: 512 chars of 'é' = 1024 bytes.
        assert_eq!(validate_metadata(&"é".repeat(512)), Ok(()));
        assert_eq!(
            validate_metadata(&format!("{}a", "é".repeat(512))),
            Err(MetadataError::TooLarge { bytes: 1025 })
        );
        assert_eq!(
            validate_metadata(&"🎥".repeat(257)),
            Err(MetadataError::TooLarge { bytes: 1028 })
        );
        assert_eq!(validate_metadata(&"🎥".repeat(256)), Ok(()));
        assert_eq!(
            validate_metadata(&"€".repeat(342)),
            Err(MetadataError::TooLarge { bytes: 1026 })
        );
    }
}
