//! Channel policies, read from channel tags once per channel and kept for a short time inside
//! a warm container, so that a burst of events for one stream costs one tag read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use tracing::warn;

use crate::error::{Error, IvsErrorKind};
use crate::ivs::Ivs;
use domain::arn::IvsArn;

use domain::policy::{ChannelPolicy, Settings};

#[derive(Debug)]
pub struct PolicyCache {
    settings: Settings,
    entries: Mutex<HashMap<String, (Instant, ChannelPolicy)>>,
}

impl PolicyCache {
    pub fn new(settings: Settings) -> Self {
        PolicyCache {
            settings,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
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
        let (policy, warnings) = self.settings.policy_for(&tags);
        for warning in warnings {
            warn!(channel_arn = %channel, "{warning}");
        }
        if !self.settings.cache_ttl.is_zero() {
            if let Ok(mut entries) = self.entries.lock() {
                entries.retain(|_, (at, _)| now.duration_since(*at) < self.settings.cache_ttl);
                entries.insert(channel.to_string(), (now, policy.clone()));
            }
        }
        Ok(policy)
    }

    fn cached(&self, channel: &IvsArn, now: Instant) -> Option<ChannelPolicy> {
        let entries = self.entries.lock().ok()?;
        let (at, policy) = entries.get(channel.as_str())?;
        (now.duration_since(*at) < self.settings.cache_ttl).then(|| policy.clone())
    }
}
