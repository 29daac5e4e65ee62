//! Stream keys: rotation exactly once per stream, suspending and resuming a channel.
//!
//! Exactly-once without a database: the key created by a rotation carries two tags, the id of
//! the stream it was rotated after and that stream's end time. A second request for the same
//! stream id finds the tag and does nothing; a late request for an older stream finds a key
//! rotated after a later one and does nothing either. Two requests racing each other are
//! settled by IVS's one-key-per-channel quota: the loser's `CreateStreamKey` fails with
//! `ServiceQuotaExceededException`, it looks again and finds the winner's tag.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_ivs::types::StreamKeySummary;
use chrono::{SecondsFormat, Utc};
use domain::arn::IvsArn;
use domain::rotation::{
    RotationMarker, Settled, TAG_CREATED_AT, TAG_ROTATED_AFTER_STREAM, TAG_ROTATED_AFTER_TIME,
};
use domain::secret::Secret;

use crate::error::{Error, IvsErrorKind};

use super::{Ivs, RetryOn, StopOutcome};

/// A key just created. `Debug` and `Display` never show its value.
// Not `Clone` or `PartialEq`: its value is a [`Secret`].
pub struct NewStreamKey {
    pub arn: String,
    pub channel_arn: String,
    pub value: Secret,
}

impl fmt::Debug for NewStreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewStreamKey")
            .field("arn", &self.arn)
            .field("channel_arn", &self.channel_arn)
            .field("value", &self.value)
            .finish()
    }
}

impl fmt::Display for NewStreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream key {} (value {})", self.arn, self.value)
    }
}

/// How `rotate_stream_key` ended.
#[derive(Debug)]
pub enum RotateOutcome {
    /// Old keys deleted, a new one created.
    Rotated {
        new_key: NewStreamKey,
        revoked: Vec<String>,
    },
    /// A key rotated after this very stream exists already: nothing done.
    AlreadyRotated { key_arn: String },
    /// The current key was rotated after a stream that ended later than this one: this
    /// request is stale (a late or reordered event) and nothing was done.
    Stale {
        key_arn: String,
        rotated_after_stream: String,
    },
}

impl RotateOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            RotateOutcome::Rotated { .. } => "rotated",
            RotateOutcome::AlreadyRotated { .. } => "already_rotated",
            RotateOutcome::Stale { .. } => "stale",
        }
    }
}

/// How `suspend_channel` ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuspendOutcome {
    /// ARNs of the keys deleted (empty when the channel had none left).
    pub revoked: Vec<String>,
    pub stream: StopOutcome,
}

/// How `resume_channel` ended.
#[derive(Debug)]
pub enum ResumeOutcome {
    Created(NewStreamKey),
    /// The channel has a key already: nothing done.
    KeyExists {
        key_arn: String,
    },
}

impl Ivs {
    /// Every stream key of a channel (IVS allows one, but all pages are read).
    pub async fn list_stream_keys(&self, channel: &IvsArn) -> Result<Vec<StreamKeySummary>, Error> {
        let mut keys = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .call("ListStreamKeys", RetryOn::Transient, || {
                    self.client
                        .list_stream_keys()
                        .channel_arn(channel.as_str())
                        .max_results(50)
                        .set_next_token(next_token.clone())
                        .send()
                })
                .await?;
            keys.extend_from_slice(output.stream_keys());
            match output.next_token() {
                Some(t) if !t.is_empty() => next_token = Some(t.to_owned()),
                _ => return Ok(keys),
            }
        }
    }

    /// Deletes a stream key; one already gone counts as deleted.
    pub async fn delete_stream_key(&self, key_arn: &str) -> Result<(), Error> {
        let result = self
            .call("DeleteStreamKey", RetryOn::Transient, || {
                self.client.delete_stream_key().arn(key_arn).send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Rotates the channel's stream key: list → delete → create.
    ///
    /// With a marker the rotation happens at most once per stream id (see the module docs)
    /// and the new key is tagged with it; without one (an operator's manual rotation) it
    /// always happens.
    pub async fn rotate_stream_key(
        &self,
        channel: &IvsArn,
        marker: Option<&RotationMarker>,
    ) -> Result<RotateOutcome, Error> {
        let tags = marker.map(marker_tags).unwrap_or_default();
        self.rotate(channel, marker, tags).await
    }

    /// Replaces the channel's stream key whatever its tags say, carrying `carry` (e.g. the
    /// rotation marker of the key replaced, so that exactly-once rotation still holds) to the
    /// new key. For the sweeper's rotation of idle keys.
    pub async fn replace_stream_key(
        &self,
        channel: &IvsArn,
        carry: HashMap<String, String>,
    ) -> Result<RotateOutcome, Error> {
        self.rotate(channel, None, carry).await
    }

    async fn rotate(
        &self,
        channel: &IvsArn,
        marker: Option<&RotationMarker>,
        mut tags: HashMap<String, String>,
    ) -> Result<RotateOutcome, Error> {
        tags.entry(TAG_CREATED_AT.to_owned())
            .or_insert_with(|| Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true));
        let keys = self.list_stream_keys(channel).await?;
        if let Some(marker) = marker {
            if let Some(done) = already_done(&keys, marker) {
                return Ok(done);
            }
        }
        let mut revoked = Vec::with_capacity(keys.len());
        for key in &keys {
            if let Some(arn) = key.arn() {
                self.delete_stream_key(arn).await?;
                revoked.push(arn.to_owned());
            }
        }
        let tags = Some(tags);
        // With a marker a repeated create is harmless: a duplicate fails on the quota and is
        // recognised below. Without one, only a throttled (refused) create may be repeated.
        let retry_on = if marker.is_some() {
            RetryOn::Transient
        } else {
            RetryOn::Throttling
        };
        let created = self
            .call("CreateStreamKey", retry_on, || {
                self.client
                    .create_stream_key()
                    .channel_arn(channel.as_str())
                    .set_tags(tags.clone())
                    .send()
            })
            .await;
        match created {
            Ok(output) => Ok(RotateOutcome::Rotated {
                new_key: new_key(channel, output.stream_key())?,
                revoked,
            }),
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::QuotaExceeded) && marker.is_some() => {
                // Someone else created a key between our delete and our create. If it was a
                // rotation for the same stream, the work is done.
                let keys = self.list_stream_keys(channel).await?;
                match marker.and_then(|m| already_done(&keys, m)) {
                    Some(done) => Ok(done),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Suspends a channel: revokes (deletes) its stream keys, then stops its stream, in that
    /// order, so that the encoder cannot reconnect. Idempotent.
    pub async fn suspend_channel(&self, channel: &IvsArn) -> Result<SuspendOutcome, Error> {
        let keys = self.list_stream_keys(channel).await?;
        let mut revoked = Vec::with_capacity(keys.len());
        for key in &keys {
            if let Some(arn) = key.arn() {
                self.delete_stream_key(arn).await?;
                revoked.push(arn.to_owned());
            }
        }
        let stream = self.stop_stream(channel).await?;
        Ok(SuspendOutcome { revoked, stream })
    }

    /// Resumes a suspended channel: creates a fresh stream key if it has none.
    pub async fn resume_channel(&self, channel: &IvsArn) -> Result<ResumeOutcome, Error> {
        let keys = self.list_stream_keys(channel).await?;
        if let Some(arn) = keys.iter().find_map(|k| k.arn()) {
            return Ok(ResumeOutcome::KeyExists {
                key_arn: arn.to_owned(),
            });
        }
        let output = self
            .call("CreateStreamKey", RetryOn::Throttling, || {
                self.client
                    .create_stream_key()
                    .channel_arn(channel.as_str())
                    .tags(
                        TAG_CREATED_AT,
                        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                    )
                    .send()
            })
            .await?;
        Ok(ResumeOutcome::Created(new_key(
            channel,
            output.stream_key(),
        )?))
    }
}

fn marker_tags(marker: &RotationMarker) -> HashMap<String, String> {
    let mut tags = HashMap::from([(
        TAG_ROTATED_AFTER_STREAM.to_owned(),
        marker.stream_id.clone(),
    )]);
    if let Some(t) = marker.ended_at {
        tags.insert(
            TAG_ROTATED_AFTER_TIME.to_owned(),
            t.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
    }
    tags
}

/// Whether the keys show that the rotation for `marker` is done or superseded (the rule:
/// [`RotationMarker::settled_by`]).
fn already_done(keys: &[StreamKeySummary], marker: &RotationMarker) -> Option<RotateOutcome> {
    keys.iter().find_map(|key| {
        let key_arn = key.arn().unwrap_or_default().to_owned();
        match marker.settled_by(key.tags()?)? {
            Settled::Done => Some(RotateOutcome::AlreadyRotated { key_arn }),
            Settled::Superseded {
                rotated_after_stream,
            } => Some(RotateOutcome::Stale {
                key_arn,
                rotated_after_stream: rotated_after_stream.unwrap_or_default(),
            }),
        }
    })
}

fn new_key(
    channel: &IvsArn,
    key: Option<&aws_sdk_ivs::types::StreamKey>,
) -> Result<NewStreamKey, Error> {
    let incomplete = || Error::Ivs {
        operation: "CreateStreamKey",
        kind: IvsErrorKind::Other,
        code: None,
        message: "the answer carries no stream key ARN or value".to_owned(),
        attempts: 1,
    };
    let key = key.ok_or_else(incomplete)?;
    let (Some(arn), Some(value)) = (key.arn(), key.value()) else {
        return Err(incomplete());
    };
    Ok(NewStreamKey {
        arn: arn.to_owned(),
        channel_arn: key
            .channel_arn()
            .map(str::to_owned)
            .unwrap_or_else(|| channel.to_string()),
        value: Secret::new(value),
    })
}
