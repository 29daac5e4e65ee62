//! Channel operations: CreateChannel, GetChannel, BatchGetChannel, ListChannels, UpdateChannel,
//! DeleteChannel.

use std::sync::Arc;

use serde::Serialize;

use super::{batch_lookup, check_quota, found, json, list_output, set, OpResult, Output};
use crate::error::{ErrorKind, IvsError};
use crate::ids::ResourceKind;
use crate::model::{
    BatchError, Channel, MultitrackInputConfiguration, Srt, StreamKey, StreamKeyView,
    CHANNEL_TYPES, CONTAINER_FORMATS, LATENCY_MODES, MULTITRACK_POLICIES, MULTITRACK_RESOLUTIONS,
    PRESETS,
};
use crate::pagination;
use crate::state::State;
use crate::validate::Input;

/// The channel settings a CreateChannel or UpdateChannel request gives (absent = unchanged or
/// default).
struct Changes {
    name: Option<String>,
    latency_mode: Option<String>,
    channel_type: Option<String>,
    authorized: Option<bool>,
    recording_configuration_arn: Option<String>,
    insecure_ingest: Option<bool>,
    preset: Option<String>,
    playback_restriction_policy_arn: Option<String>,
    multitrack: Option<MultitrackInputConfiguration>,
    container_format: Option<String>,
    ad_configuration_arn: Option<String>,
    failover_slate_configuration_arn: Option<String>,
}

impl Changes {
    fn parse(input: &Input) -> Result<Self, IvsError> {
        let multitrack = match input.opt_struct("multitrackInputConfiguration")? {
            None => None,
            Some(config) => {
                let defaults = MultitrackInputConfiguration::default();
                Some(MultitrackInputConfiguration {
                    enabled: config.opt_bool("enabled")?.unwrap_or(defaults.enabled),
                    policy: config
                        .opt_enum("policy", MULTITRACK_POLICIES)?
                        .unwrap_or(defaults.policy),
                    maximum_resolution: config
                        .opt_enum("maximumResolution", MULTITRACK_RESOLUTIONS)?
                        .unwrap_or(defaults.maximum_resolution),
                })
            }
        };
        Ok(Self {
            name: input.opt_name("name")?,
            latency_mode: input.opt_enum("latencyMode", LATENCY_MODES)?,
            channel_type: input.opt_enum("type", CHANNEL_TYPES)?,
            authorized: input.opt_bool("authorized")?,
            recording_configuration_arn: input.opt_arn_or_empty(
                "recordingConfigurationArn",
                ResourceKind::RecordingConfiguration,
            )?,
            insecure_ingest: input.opt_bool("insecureIngest")?,
            preset: input.opt_enum("preset", PRESETS)?,
            playback_restriction_policy_arn: input.opt_arn_or_empty(
                "playbackRestrictionPolicyArn",
                ResourceKind::PlaybackRestrictionPolicy,
            )?,
            multitrack,
            container_format: input.opt_enum("containerFormat", CONTAINER_FORMATS)?,
            ad_configuration_arn: input
                .opt_arn_or_empty("adConfigurationArn", ResourceKind::AdConfiguration)?,
            failover_slate_configuration_arn: input.opt_arn_or_empty(
                "failoverSlateConfigurationArn",
                ResourceKind::FailoverSlateConfiguration,
            )?,
        })
    }

    /// Applies the changes to `channel` and checks the rules that tie settings together.
    fn apply(self, state: &mut State, channel: &mut Channel) -> Result<(), IvsError> {
        let type_changed = self
            .channel_type
            .as_ref()
            .is_some_and(|t| *t != channel.channel_type);
        set(&mut channel.name, self.name);
        set(&mut channel.latency_mode, self.latency_mode);
        set(&mut channel.channel_type, self.channel_type);
        set(&mut channel.authorized, self.authorized);
        if let Some(arn) = self.recording_configuration_arn {
            if !arn.is_empty() && !state.recording_configurations.contains_key(&arn) {
                return Err(IvsError::not_found(&arn));
            }
            channel.recording_configuration_arn = arn;
        }
        set(&mut channel.insecure_ingest, self.insecure_ingest);
        if let Some(arn) = self.playback_restriction_policy_arn {
            if !arn.is_empty() && !state.playback_restriction_policies.contains_key(&arn) {
                return Err(IvsError::not_found(&arn));
            }
            channel.playback_restriction_policy_arn = arn;
        }
        set(&mut channel.multitrack_input_configuration, self.multitrack);
        set(&mut channel.container_format, self.container_format);
        if let Some(arn) = self.ad_configuration_arn {
            if !arn.is_empty() && !state.ad_configurations.contains_key(&arn) {
                return Err(IvsError::not_found(&arn));
            }
            channel.ad_configuration_arn = arn;
        }
        // No failover slate configuration exists here (their operations are not emulated): any
        // ARN names a missing one.
        if let Some(arn) = self.failover_slate_configuration_arn {
            if !arn.is_empty() {
                return Err(IvsError::new(
                    ErrorKind::ResourceNotFound,
                    format!("Resource: {arn} not found (ivs-emulator does not implement failover slate configurations)"),
                ));
            }
        }

        let advanced = channel.channel_type.starts_with("ADVANCED_");
        match self.preset {
            Some(_) if !advanced => {
                return Err(IvsError::validation(
                    "preset is selectable only for ADVANCED_SD and ADVANCED_HD channels",
                ))
            }
            Some(preset) => channel.preset = preset,
            None if !advanced => channel.preset = String::new(),
            None if type_changed || channel.preset.is_empty() => {
                channel.preset = "HIGHER_BANDWIDTH_DELIVERY".to_owned();
            }
            None => {}
        }
        if channel.multitrack_input_configuration.enabled {
            if channel.channel_type != "STANDARD" {
                return Err(IvsError::validation(
                    "multitrack input requires a STANDARD channel",
                ));
            }
            if channel.container_format != "FRAGMENTED_MP4" {
                return Err(IvsError::validation(
                    "containerFormat must be FRAGMENTED_MP4 when multitrack input is enabled",
                ));
            }
        }
        channel.srt.passphrase = if channel.insecure_ingest {
            None
        } else {
            Some(
                channel
                    .srt
                    .passphrase
                    .take()
                    .unwrap_or_else(|| state.ids.alphanumeric(32)),
            )
        };
        Ok(())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateChannelResponse<'a> {
    channel: &'a Channel,
    stream_key: StreamKeyView<'a>,
}

/// CreateChannel: a channel and its stream key.
pub(super) fn create(state: &mut State, input: &Input) -> OpResult {
    let (arn, key_arn) = insert(state, input)?;
    tracing::info!(channel_arn = %arn, stream_key_arn = %key_arn, "channel created");
    let created = state
        .channels
        .get(&arn)
        .zip(state.stream_keys.get(&key_arn));
    let (channel, key) =
        created.ok_or_else(|| IvsError::internal("the channel just created is missing"))?;
    json(&CreateChannelResponse {
        channel,
        stream_key: key.with_value(),
    })
}

/// Creates the channel a CreateChannel request describes, and its stream key: their ARNs.
pub(crate) fn insert(state: &mut State, input: &Input) -> Result<(String, String), IvsError> {
    let changes = Changes::parse(input)?;
    let tags = input.opt_tags("tags")?.unwrap_or_default();
    check_quota(state.channels.len(), state.quotas.channels, "channels")?;
    let arn = state.new_arn(ResourceKind::Channel);
    let id = arn.rsplit('/').next().unwrap_or_default().to_owned();
    let (region, account) = (state.region.clone(), state.account.clone());
    let mut channel = Channel {
        arn: arn.clone(),
        name: String::new(),
        latency_mode: "LOW".to_owned(),
        channel_type: "STANDARD".to_owned(),
        recording_configuration_arn: String::new(),
        ingest_endpoint: format!("{}.global-contribute.live-video.net", state.hosts.ingest),
        playback_url: format!(
            "https://{}.{region}.playback.live-video.net/api/video/v1/{region}.{account}.channel.{id}.m3u8",
            state.hosts.playback
        ),
        authorized: false,
        tags,
        insecure_ingest: false,
        preset: String::new(),
        srt: Srt { endpoint: format!("{}.srt.live-video.net", state.hosts.srt), passphrase: None },
        playback_restriction_policy_arn: String::new(),
        multitrack_input_configuration: MultitrackInputConfiguration::default(),
        container_format: "TS".to_owned(),
        ad_configuration_arn: String::new(),
        failover_slate_configuration_arn: String::new(),
    };
    changes.apply(state, &mut channel)?;
    let key_arn = state.new_arn(ResourceKind::StreamKey);
    let key = StreamKey {
        arn: key_arn.clone(),
        value: state.ids.stream_key_value(&region),
        channel_arn: arn.clone(),
        tags: Default::default(),
    };
    state.channels.insert(arn.clone(), Arc::new(channel));
    state.stream_keys.insert(key_arn.clone(), key);
    Ok((arn, key_arn))
}

#[derive(Serialize)]
struct ChannelResponse<'a> {
    channel: &'a Channel,
}

/// GetChannel.
pub(super) fn get(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::Channel)?;
    json(&ChannelResponse {
        channel: found(state.channels.get(&arn), &arn)?,
    })
}

#[derive(Serialize)]
struct BatchGetChannelResponse<'a> {
    channels: Vec<&'a Channel>,
    errors: Vec<BatchError>,
}

/// BatchGetChannel: the channels found, and an error entry for each ARN not found.
pub(super) fn batch_get(state: &mut State, input: &Input) -> OpResult {
    let (channels, errors) = batch_lookup(input, ResourceKind::Channel, |arn| {
        state.channels.get(arn).map(|c| &**c)
    })?;
    json(&BatchGetChannelResponse { channels, errors })
}

/// ListChannels, with at most one filter.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let by_name = input.opt_name("filterByName")?;
    let by_recording = input.opt_arn_or_empty(
        "filterByRecordingConfigurationArn",
        ResourceKind::RecordingConfiguration,
    )?;
    let by_policy = input.opt_arn_or_empty(
        "filterByPlaybackRestrictionPolicyArn",
        ResourceKind::PlaybackRestrictionPolicy,
    )?;
    let by_ads =
        input.opt_arn_or_empty("filterByAdConfigurationArn", ResourceKind::AdConfiguration)?;
    let by_slate = input.opt_arn_or_empty(
        "filterByFailoverSlateConfigurationArn",
        ResourceKind::FailoverSlateConfiguration,
    )?;
    let filters = [
        by_name.is_some(),
        by_recording.is_some(),
        by_policy.is_some(),
        by_ads.is_some(),
        by_slate.is_some(),
    ];
    if filters.iter().filter(|given| **given).count() > 1 {
        return Err(IvsError::conflict(
            "Only one filter can be specified in a ListChannels request",
        ));
    }
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let matching = state.channels.values().filter(|channel| {
        by_name.as_ref().is_none_or(|name| channel.name == *name)
            && by_recording
                .as_ref()
                .is_none_or(|arn| channel.recording_configuration_arn == *arn)
            && by_policy
                .as_ref()
                .is_none_or(|arn| channel.playback_restriction_policy_arn == *arn)
            && by_ads
                .as_ref()
                .is_none_or(|arn| channel.ad_configuration_arn == *arn)
            && by_slate
                .as_ref()
                .is_none_or(|arn| channel.failover_slate_configuration_arn == *arn)
    });
    let page = pagination::paginate(
        "ListChannels",
        matching.map(|channel| (channel.arn.clone(), channel.summary())),
        token.as_deref(),
        page_size,
    )?;
    list_output("channels", page)
}

/// UpdateChannel: refused while the channel is live.
pub(super) fn update(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::Channel)?;
    let changes = Changes::parse(input)?;
    let mut updated = Channel::clone(found(state.channels.get(&arn), &arn)?);
    if state.live.contains_key(&arn) {
        return Err(IvsError::conflict(format!(
            "Channel: {arn} is live and cannot be updated; stop the stream first"
        )));
    }
    changes.apply(state, &mut updated)?;
    let output = json(&ChannelResponse { channel: &updated });
    state.channels.insert(arn, Arc::new(updated));
    output
}

/// DeleteChannel: the channel and its stream keys; refused while the channel is live.
pub(super) fn delete(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::Channel)?;
    found(state.channels.get(&arn), &arn)?;
    if state.live.contains_key(&arn) {
        return Err(IvsError::conflict(format!(
            "Channel: {arn} is live and cannot be deleted; stop the stream and wait for Stream End first"
        )));
    }
    // A recording waiting for its reconnect window ends now.
    state.finish_recording(&arn);
    state.channels.remove(&arn);
    state.stream_keys.retain(|_, key| key.channel_arn != arn);
    state.sessions.remove(&arn);
    state.recording_failures.remove(&arn);
    state.metadata_windows.remove(&arn);
    tracing::info!(channel_arn = %arn, "channel deleted");
    Ok(Output::Empty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    #[test]
    fn create_applies_ivs_defaults() {
        let mut st = state();
        let out = call(&mut st, Operation::CreateChannel, json!({})).unwrap();
        let channel = &out["channel"];
        assert_eq!(channel["name"], "");
        assert_eq!(channel["latencyMode"], "LOW");
        assert_eq!(channel["type"], "STANDARD");
        assert_eq!(channel["authorized"], false);
        assert_eq!(channel["insecureIngest"], false);
        assert_eq!(channel["recordingConfigurationArn"], "");
        assert_eq!(channel["preset"], "");
        assert_eq!(channel["containerFormat"], "TS");
        let arn = channel["arn"].as_str().unwrap();
        let id = arn
            .strip_prefix("arn:aws:ivs:us-west-2:111122223333:channel/")
            .unwrap();
        assert_eq!(id.len(), 12);
        let ingest = channel["ingestEndpoint"].as_str().unwrap();
        let host = ingest
            .strip_suffix(".global-contribute.live-video.net")
            .unwrap();
        assert!(host.len() == 12 && host.bytes().all(|b| b.is_ascii_hexdigit()));
        let playback = channel["playbackUrl"].as_str().unwrap();
        assert!(playback.starts_with("https://"));
        assert!(playback.ends_with(&format!(
            ".us-west-2.playback.live-video.net/api/video/v1/us-west-2.111122223333.channel.{id}.m3u8"
        )));
        let key = &out["streamKey"];
        assert_eq!(key["channelArn"], channel["arn"]);
        assert!(key["value"].as_str().unwrap().starts_with("sk_us-west-2_"));
    }

    #[test]
    fn create_validates_members() {
        let mut st = state();
        for body in [
            json!({"name": "has space"}),
            json!({"name": "a".repeat(129)}),
            json!({"latencyMode": "FAST"}),
            json!({"type": "PREMIUM"}),
            json!({"preset": "HIGHER_BANDWIDTH_DELIVERY"}),
            json!({"recordingConfigurationArn": "arn:aws:ivs:us-west-2:1:channel/abc"}),
            json!({"tags": {"aws:reserved": "x"}}),
            json!({"authorized": "true"}),
            json!({"multitrackInputConfiguration": {"enabled": true}}),
        ] {
            assert_eq!(
                error_kind(&mut st, Operation::CreateChannel, body.clone()),
                ErrorKind::Validation,
                "{body}"
            );
        }
        let missing = json!({"recordingConfigurationArn": "arn:aws:ivs:us-west-2:111122223333:recording-configuration/nope"});
        assert_eq!(
            error_kind(&mut st, Operation::CreateChannel, missing),
            ErrorKind::ResourceNotFound
        );
        let advanced = call(
            &mut st,
            Operation::CreateChannel,
            json!({"type": "ADVANCED_HD"}),
        )
        .unwrap();
        assert_eq!(advanced["channel"]["preset"], "HIGHER_BANDWIDTH_DELIVERY");
        let multitrack = json!({"multitrackInputConfiguration": {"enabled": true, "policy": "REQUIRE"}, "containerFormat": "FRAGMENTED_MP4"});
        let out = call(&mut st, Operation::CreateChannel, multitrack).unwrap();
        assert_eq!(
            out["channel"]["multitrackInputConfiguration"]["policy"],
            "REQUIRE"
        );
    }

    #[test]
    fn quota_and_list_filters() {
        let mut st = state();
        st.quotas.channels = 2;
        call(&mut st, Operation::CreateChannel, json!({"name": "a"})).unwrap();
        call(&mut st, Operation::CreateChannel, json!({"name": "b"})).unwrap();
        assert_eq!(
            error_kind(&mut st, Operation::CreateChannel, json!({})),
            ErrorKind::ServiceQuotaExceeded
        );
        let out = call(
            &mut st,
            Operation::ListChannels,
            json!({"filterByName": "b"}),
        )
        .unwrap();
        assert_eq!(out["channels"].as_array().unwrap().len(), 1);
        let both = json!({"filterByName": "b", "filterByRecordingConfigurationArn": ""});
        assert_eq!(
            error_kind(&mut st, Operation::ListChannels, both),
            ErrorKind::Conflict
        );
    }

    #[test]
    fn update_changes_given_members_only() {
        let mut st = state();
        let out = call(
            &mut st,
            Operation::CreateChannel,
            json!({"name": "a", "authorized": true}),
        )
        .unwrap();
        let arn = out["channel"]["arn"].clone();
        let updated = call(
            &mut st,
            Operation::UpdateChannel,
            json!({"arn": arn, "latencyMode": "NORMAL"}),
        )
        .unwrap();
        assert_eq!(updated["channel"]["name"], "a");
        assert_eq!(updated["channel"]["authorized"], true);
        assert_eq!(updated["channel"]["latencyMode"], "NORMAL");
        let missing = json!({"arn": "arn:aws:ivs:us-west-2:111122223333:channel/nope"});
        assert_eq!(
            error_kind(&mut st, Operation::UpdateChannel, missing),
            ErrorKind::ResourceNotFound
        );
        assert_eq!(
            error_kind(&mut st, Operation::UpdateChannel, json!({})),
            ErrorKind::Validation
        );
    }
}
