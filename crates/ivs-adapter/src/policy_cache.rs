//! Channel policies, read from channel tags once per channel and kept for a short time inside
//! a warm container, so that a burst of events for one stream costs one tag read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use tracing::warn;

use crate::error::{Error, IvsErrorKind};
use crate::ivs::{Ivs, BATCH_GET_CHANNEL_MAX};
use domain::arn::IvsArn;

use domain::policy::{ChannelPolicy, Settings};

#[derive(Debug)]
pub struct PolicyCache {
    settings: Settings,
    entries: Mutex<HashMap<String, (Instant, ChannelPolicy)>>,
    /// Channels' playback URLs, as `BatchGetChannel` gave them (a channel's never changes).
    playback_urls: Mutex<HashMap<String, String>>,
}

/// The most playback URLs kept (then the map starts again).
const PLAYBACK_URLS_MAX: usize = 10_000;

impl PolicyCache {
    pub fn new(settings: Settings) -> Self {
        PolicyCache {
            settings,
            entries: Mutex::new(HashMap::new()),
            playback_urls: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The channel's playback URL, if a `BatchGetChannel` of this container read it.
    pub fn playback_url(&self, channel: &IvsArn) -> Option<String> {
        self.playback_urls
            .lock()
            .ok()?
            .get(channel.as_str())
            .cloned()
    }

    /// The policy for events without a channel: the deployment defaults.
    pub fn defaults(&self) -> &ChannelPolicy {
        &self.settings.defaults
    }

    /// The channel's policy: from the cache while fresh, else from its tags. A channel that
    /// no longer exists gets the defaults (whatever is done to it will fail visibly anyway);
    /// any other failure to read the tags is returned, so the event is retried rather than
    /// handled under the wrong policy.
    pub async fn policy(&self, ivs: &Ivs, channel: &IvsArn) -> Result<ChannelPolicy, Error> {
        let now = Instant::now();
        if let Some(policy) = self.cached(channel, now) {
            return Ok(policy);
        }
        let tags = match ivs.tags(channel).await {
            Ok(tags) => tags,
            Err(e) if e.ivs_kind() == Some(IvsErrorKind::NotFound) => {
                warn!(channel_arn = %channel, "channel not found while reading its tags; using the default policy");
                HashMap::new()
            }
            Err(e) => return Err(e),
        };
        Ok(self.remember(channel.as_str(), &tags, now))
    }

    /// Reads the policies of `channels` that are not cached, [`BATCH_GET_CHANNEL_MAX`] per
    /// `BatchGetChannel` call, and caches them: a batch of events then costs one tag read
    /// per 50 channels. Returns every policy found (cached or read), by channel ARN; a channel
    /// IVS does not know gets the defaults, as in [`PolicyCache::policy`]. What could not be
    /// read is left out and logged: [`PolicyCache::policy`] reads it on its own later.
    pub async fn prefetch(&self, ivs: &Ivs, channels: &[IvsArn]) -> HashMap<String, ChannelPolicy> {
        let now = Instant::now();
        let mut found = HashMap::new();
        let mut missing: Vec<IvsArn> = Vec::new();
        for channel in channels {
            if found.contains_key(channel.as_str())
                || missing.iter().any(|m| m.as_str() == channel.as_str())
            {
                continue;
            }
            match self.cached(channel, now) {
                Some(policy) => {
                    found.insert(channel.to_string(), policy);
                }
                None => missing.push(channel.clone()),
            }
        }
        for chunk in missing.chunks(BATCH_GET_CHANNEL_MAX) {
            let read = match ivs.channels_tags(chunk).await {
                Ok(read) => read,
                Err(e) => {
                    warn!(error = %e, channels = chunk.len(), "reading the batch's channel tags failed; each event reads its own");
                    continue;
                }
            };
            if let Ok(mut urls) = self.playback_urls.lock() {
                if urls.len() + read.playback_urls.len() > PLAYBACK_URLS_MAX {
                    urls.clear();
                }
                urls.extend(read.playback_urls.clone());
            }
            for (arn, code) in &read.failed {
                warn!(channel_arn = %arn, error_code = %code, "BatchGetChannel could not read this channel; its event reads it alone");
            }
            let no_tags = HashMap::new();
            let read_tags = read.tags.iter();
            let unknown = read.not_found.iter().map(|arn| (arn, &no_tags));
            for (arn, tags) in read_tags.chain(unknown) {
                let policy = self.remember(arn, tags, now);
                found.insert(arn.clone(), policy);
            }
        }
        found
    }

    /// The policy `tags` give, cached for `channel` as read at `now`.
    fn remember(
        &self,
        channel: &str,
        tags: &HashMap<String, String>,
        now: Instant,
    ) -> ChannelPolicy {
        let (policy, warnings) = self.settings.policy_for(tags);
        for warning in warnings {
            warn!(channel_arn = %channel, "{warning}");
        }
        if !self.settings.cache_ttl.is_zero() {
            if let Ok(mut entries) = self.entries.lock() {
                entries.retain(|_, (at, _)| now.duration_since(*at) < self.settings.cache_ttl);
                entries.insert(channel.to_owned(), (now, policy.clone()));
            }
        }
        policy
    }

    fn cached(&self, channel: &IvsArn, now: Instant) -> Option<ChannelPolicy> {
        let entries = self.entries.lock().ok()?;
        let (at, policy) = entries.get(channel.as_str())?;
        (now.duration_since(*at) < self.settings.cache_ttl).then(|| policy.clone())
    }
}
