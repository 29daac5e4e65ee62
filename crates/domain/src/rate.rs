//! IVS's account-wide API rate quotas, and the share of them one function container may use.
//!
//! IVS's rate quotas are per account and region, per operation, and cannot be raised
//! (IVS Low-Latency User Guide, "Service Quotas"). Every caller in the account draws on them:
//! the event functions, the sweeper, the admin API and the platform's own back end. So each
//! function is given a *share* of every quota, divided among the containers that may run it
//! at once (its *concurrency*), and paces its own calls to stay inside it
//! (`ivs_adapter::ivs::RateBudget`). What the shares leave is headroom for everyone else.
//!
//! Settings (environment variables, set by the template from its parameters):
//! - `IVS_RATE_SHARE`: the fraction of each quota this function may use, above 0 and at
//!   most 1 (the default depends on the function);
//! - `IVS_RATE_CONCURRENCY`: how many containers of the function may run at once (the event
//!   source's maximum concurrency, or 1 for the sweeper), 1 to 1000, default 1;
//! - `IVS_RATE_FACTOR`: a factor on every quota, default 1. Only for runs against an
//!   emulator whose quotas are scaled the same way (`ivs-emulator --rate-factor`); `0` turns
//!   the budgets off (the emulator's `--rate-factor off`).

use crate::config::ConfigError;

/// The share of each quota variable.
pub const IVS_RATE_SHARE: &str = "IVS_RATE_SHARE";
/// The concurrency variable.
pub const IVS_RATE_CONCURRENCY: &str = "IVS_RATE_CONCURRENCY";
/// The factor variable.
pub const IVS_RATE_FACTOR: &str = "IVS_RATE_FACTOR";

/// IVS's rate quota of `operation`, in requests per second per account, as the user guide
/// lists it (PutMetadata: its account-wide quota; it also has 5 per second per channel).
/// `None` for an operation this table does not know (no budget is applied to it).
pub fn ivs_quota(operation: &str) -> Option<f64> {
    let tps = match operation {
        "BatchGetChannel" | "CreateChannel" | "DeleteChannel" | "GetChannel" | "ListChannels"
        | "UpdateChannel" => 5.0,
        "GetStream" | "GetStreamSession" | "ListStreams" | "ListStreamSessions" | "StopStream" => {
            5.0
        }
        "BatchGetStreamKey" | "CreateStreamKey" | "DeleteStreamKey" | "GetStreamKey"
        | "ListStreamKeys" => 5.0,
        "ListTagsForResource" | "TagResource" | "UntagResource" => 10.0,
        "PutMetadata" => 155.0,
        "DeletePlaybackKeyPair"
        | "GetPlaybackKeyPair"
        | "ImportPlaybackKeyPair"
        | "ListPlaybackKeyPairs" => 3.0,
        "CreateRecordingConfiguration"
        | "DeleteRecordingConfiguration"
        | "GetRecordingConfiguration"
        | "ListRecordingConfigurations" => 3.0,
        "CreatePlaybackRestrictionPolicy"
        | "DeletePlaybackRestrictionPolicy"
        | "GetPlaybackRestrictionPolicy"
        | "ListPlaybackRestrictionPolicies"
        | "UpdatePlaybackRestrictionPolicy" => 5.0,
        "StartViewerSessionRevocation" => 10.0,
        "BatchStartViewerSessionRevocation" => 2.0,
        _ => return None,
    };
    Some(tps)
}

/// The default share of the `stream-events` function (the template's StreamEventsRateShare).
pub const STREAM_EVENTS_RATE_SHARE: f64 = 0.4;
/// The default share of the `recording-events` function (RecordingEventsRateShare): it reads
/// a channel's tags only for a recording that failed to start.
pub const RECORDING_EVENTS_RATE_SHARE: f64 = 0.1;
/// The default share of the admin API (AdminRateShare). With the sweeper's 0.2, the defaults
/// use 0.8 of every quota and leave 0.2 to the platform's own back end.
pub const ADMIN_RATE_SHARE: f64 = 0.1;

/// One container's part of the quotas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSettings {
    /// The fraction of each quota the function may use.
    pub share: f64,
    /// Containers of the function that may run at once.
    pub concurrency: u32,
    /// A factor on every quota (1 on AWS); 0 = no budget.
    pub factor: f64,
}

impl RateSettings {
    /// The settings `lookup` gives, `default_share` when `IVS_RATE_SHARE` is unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_share: f64,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number =
            |name: &str, default: f64, ok: &dyn Fn(f64) -> bool, expected: &str| match get(name) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && ok(*v))
                    .ok_or_else(|| ConfigError(format!("{name}={value:?}: expected {expected}"))),
            };
        let share = number(
            IVS_RATE_SHARE,
            default_share,
            &|v| v > 0.0 && v <= 1.0,
            "a fraction above 0 and at most 1",
        )?;
        let concurrency = number(
            IVS_RATE_CONCURRENCY,
            1.0,
            &|v| v.fract() == 0.0 && (1.0..=1000.0).contains(&v),
            "a whole number from 1 to 1000",
        )? as u32;
        let factor = number(IVS_RATE_FACTOR, 1.0, &|v| v >= 0.0, "a number, 0 or more")?;
        Ok(RateSettings {
            share,
            concurrency,
            factor,
        })
    }

    /// Requests per second one container may send for `operation`: the quota × factor ×
    /// share ÷ concurrency. `None` when no budget applies (an unknown operation, factor 0).
    pub fn per_container(&self, operation: &str) -> Option<f64> {
        if self.factor == 0.0 {
            return None;
        }
        let quota = ivs_quota(operation)?;
        Some(quota * self.factor * self.share / f64::from(self.concurrency.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)], default_share: f64) -> Result<RateSettings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RateSettings::from_lookup(|name| vars.get(name).cloned(), default_share)
    }

    #[test]
    fn the_quotas_are_ivs_s() {
        assert_eq!(ivs_quota("GetChannel"), Some(5.0));
        assert_eq!(ivs_quota("BatchGetChannel"), Some(5.0));
        assert_eq!(ivs_quota("CreateStreamKey"), Some(5.0));
        assert_eq!(ivs_quota("ListTagsForResource"), Some(10.0));
        assert_eq!(ivs_quota("PutMetadata"), Some(155.0));
        assert_eq!(ivs_quota("ImportPlaybackKeyPair"), Some(3.0));
        assert_eq!(ivs_quota("ListRecordingConfigurations"), Some(3.0));
        assert_eq!(ivs_quota("BatchStartViewerSessionRevocation"), Some(2.0));
        assert_eq!(ivs_quota("NoSuchOperation"), None);
    }

    #[test]
    fn one_container_gets_its_share_divided_by_the_concurrency() {
        let settings = read(&[(IVS_RATE_SHARE, "0.5"), (IVS_RATE_CONCURRENCY, "2")], 0.1).unwrap();
        assert_eq!(settings.per_container("ListTagsForResource"), Some(2.5));
        assert_eq!(settings.per_container("CreateStreamKey"), Some(1.25));
        assert_eq!(settings.per_container("Unknown"), None);
        let defaults = read(&[], 0.25).unwrap();
        assert_eq!(
            defaults,
            RateSettings {
                share: 0.25,
                concurrency: 1,
                factor: 1.0
            }
        );
        let scaled = read(&[(IVS_RATE_FACTOR, "10")], 0.5).unwrap();
        assert_eq!(scaled.per_container("GetChannel"), Some(25.0));
        let off = read(&[(IVS_RATE_FACTOR, "0")], 0.5).unwrap();
        assert_eq!(off.per_container("GetChannel"), None);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            (IVS_RATE_SHARE, "0"),
            (IVS_RATE_SHARE, "1.5"),
            (IVS_RATE_SHARE, "half"),
            (IVS_RATE_CONCURRENCY, "0"),
            (IVS_RATE_CONCURRENCY, "2.5"),
            (IVS_RATE_CONCURRENCY, "1001"),
            (IVS_RATE_FACTOR, "-1"),
            (IVS_RATE_FACTOR, "NaN"),
            (IVS_RATE_FACTOR, "inf"),
        ] {
            let error = read(&[(name, value)], 0.5).unwrap_err();
            assert!(error.0.contains(name), "{error}");
            assert!(error.0.contains("expected"), "{error}");
        }
    }
}
