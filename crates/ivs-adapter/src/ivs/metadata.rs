//! Timed metadata (`PutMetadata`).

use domain::arn::IvsArn;
use domain::metadata::validate_metadata;

use crate::error::{Error, IvsErrorKind};

use super::{Ivs, RetryOn};

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
