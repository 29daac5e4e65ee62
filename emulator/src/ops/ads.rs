//! Ad configuration operations: CreateAdConfiguration, GetAdConfiguration, ListAdConfigurations,
//! UpdateAdConfiguration, DeleteAdConfiguration. A minimal record of what the caller gave:
//! members are validated as the service model says, but the MediaTailor playback configurations
//! they name are not looked up (there is no MediaTailor here), and nothing inserts ads
//! (InsertAdBreak is not emulated). A channel refers to one with `adConfigurationArn`.

use serde::Serialize;

use super::{found, json, list_output, set, OpResult, Output};
use crate::error::IvsError;
use crate::ids::ResourceKind;
use crate::model::{AdConfiguration, MediaTailorPlaybackConfiguration, PostRollConfiguration};
use crate::pagination;
use crate::state::State;
use crate::validate::{self, Input};

/// `MediaTailorPlaybackConfigurationArn`: at most 128 characters of
/// `arn:aws:mediatailor:[a-z0-9-]+:[0-9]+:playbackConfiguration/[a-zA-Z0-9-]+`.
fn media_tailor_arn(field: &str, value: &str) -> Result<(), IvsError> {
    validate::length(field, value, 0, 128)?;
    let well_formed = value
        .strip_prefix("arn:aws:mediatailor:")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(region, rest)| {
            let (account, id) = rest.split_once(":playbackConfiguration/")?;
            Some((region, account, id))
        })
        .is_some_and(|(region, account, id)| {
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !account.is_empty()
                && account.bytes().all(|b| b.is_ascii_digit())
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if well_formed {
        Ok(())
    } else {
        Err(validate::constraint(
            field,
            "Member must satisfy regular expression pattern: arn:aws:mediatailor:[a-z0-9-]+:[0-9]+:playbackConfiguration/[a-zA-Z0-9-]+",
        ))
    }
}

/// `mediaTailorPlaybackConfigurations`: 1 to 3 entries.
fn playback_configurations(
    input: &Input,
) -> Result<Option<Vec<MediaTailorPlaybackConfiguration>>, IvsError> {
    let Some(entries) = input.opt_struct_list("mediaTailorPlaybackConfigurations", 1, 3)? else {
        return Ok(None);
    };
    entries
        .iter()
        .map(|entry| {
            let arn = entry.opt_str("playbackConfigurationArn")?;
            if let Some(arn) = arn {
                media_tailor_arn(&entry.path_of("playbackConfigurationArn"), arn)?;
            }
            Ok(MediaTailorPlaybackConfiguration {
                playback_configuration_arn: arn.map(str::to_owned),
            })
        })
        .collect::<Result<Vec<_>, IvsError>>()
        .map(Some)
}

/// `postRollConfiguration`: `durationSeconds` (1-300) and `enabled`, both required.
fn post_roll(input: &Input) -> Result<Option<PostRollConfiguration>, IvsError> {
    let Some(config) = input.opt_struct("postRollConfiguration")? else {
        return Ok(None);
    };
    Ok(Some(PostRollConfiguration {
        duration_seconds: config.req_int_in("durationSeconds", 1, 300)?,
        enabled: config.req_bool("enabled")?,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdConfigurationResponse<'a> {
    ad_configuration: &'a AdConfiguration,
}

/// CreateAdConfiguration.
pub(super) fn create(state: &mut State, input: &Input) -> OpResult {
    let name = input.opt_name("name")?.unwrap_or_default();
    let media_tailor_playback_configurations = playback_configurations(input)?.ok_or_else(|| {
        IvsError::validation("1 validation error detected: Value null at 'mediaTailorPlaybackConfigurations' failed to satisfy constraint: Member must not be null")
    })?;
    let post_roll_configuration = post_roll(input)?;
    let tags = input.opt_tags("tags")?.unwrap_or_default();
    let arn = state.new_arn(ResourceKind::AdConfiguration);
    let configuration = AdConfiguration {
        arn: arn.clone(),
        name,
        media_tailor_playback_configurations,
        post_roll_configuration,
        tags,
    };
    let output = json(&AdConfigurationResponse {
        ad_configuration: &configuration,
    });
    state.ad_configurations.insert(arn, configuration);
    output
}

/// GetAdConfiguration.
pub(super) fn get(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::AdConfiguration)?;
    json(&AdConfigurationResponse {
        ad_configuration: found(state.ad_configurations.get(&arn), &arn)?,
    })
}

/// ListAdConfigurations.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let configurations = state.ad_configurations.values().map(|c| (c.arn.clone(), c));
    let page = pagination::paginate(
        "ListAdConfigurations",
        configurations,
        token.as_deref(),
        page_size,
    )?;
    list_output("adConfigurations", page)
}

/// UpdateAdConfiguration: changes the given members.
pub(super) fn update(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::AdConfiguration)?;
    let name = input.opt_name("name")?;
    let playback = playback_configurations(input)?;
    let post_roll = post_roll(input)?;
    let configuration = found(state.ad_configurations.get_mut(&arn), &arn)?;
    set(&mut configuration.name, name);
    set(
        &mut configuration.media_tailor_playback_configurations,
        playback,
    );
    if post_roll.is_some() {
        configuration.post_roll_configuration = post_roll;
    }
    json(&AdConfigurationResponse {
        ad_configuration: configuration,
    })
}

/// DeleteAdConfiguration (204): refused while a channel uses it.
pub(super) fn delete(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::AdConfiguration)?;
    found(state.ad_configurations.get(&arn), &arn)?;
    if let Some(channel) = state
        .channels
        .values()
        .find(|c| c.ad_configuration_arn == arn)
    {
        return Err(IvsError::conflict(format!(
            "Ad configuration: {arn} is used by channel {}; remove it from every channel first",
            channel.arn
        )));
    }
    state.ad_configurations.remove(&arn);
    Ok(Output::Empty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    const PLAYBACK: &str =
        "arn:aws:mediatailor:us-west-2:111122223333:playbackConfiguration/ivs-ads";

    fn create_body() -> serde_json::Value {
        json!({"name": "ads", "mediaTailorPlaybackConfigurations": [{"playbackConfigurationArn": PLAYBACK}]})
    }

    #[test]
    fn create_get_list_update() {
        let mut st = state();
        let created = call(&mut st, Operation::CreateAdConfiguration, create_body()).unwrap();
        let config = &created["adConfiguration"];
        let arn = config["arn"].as_str().unwrap().to_owned();
        assert!(arn.starts_with("arn:aws:ivs:us-west-2:111122223333:ad-configuration/"));
        assert_eq!(config["name"], "ads");
        assert_eq!(
            config["mediaTailorPlaybackConfigurations"][0]["playbackConfigurationArn"],
            PLAYBACK
        );
        assert!(config.get("postRollConfiguration").is_none());
        assert_eq!(config["tags"], json!({}));
        let got = call(&mut st, Operation::GetAdConfiguration, json!({"arn": arn})).unwrap();
        assert_eq!(got["adConfiguration"], *config);
        let listed = call(&mut st, Operation::ListAdConfigurations, json!({})).unwrap();
        assert_eq!(listed["adConfigurations"][0]["arn"], arn.as_str());
        let updated = call(
            &mut st,
            Operation::UpdateAdConfiguration,
            json!({"arn": arn, "postRollConfiguration": {"durationSeconds": 30, "enabled": true}}),
        )
        .unwrap();
        assert_eq!(updated["adConfiguration"]["name"], "ads");
        assert_eq!(
            updated["adConfiguration"]["postRollConfiguration"],
            json!({"durationSeconds": 30, "enabled": true})
        );
        let tags = call(
            &mut st,
            Operation::ListTagsForResource,
            json!({"resourceArn": arn}),
        )
        .unwrap();
        assert_eq!(tags["tags"], json!({}));
    }

    #[test]
    fn validation_follows_the_model() {
        let mut st = state();
        let three = json!([{}, {}, {}]);
        assert!(call(
            &mut st,
            Operation::CreateAdConfiguration,
            json!({"mediaTailorPlaybackConfigurations": three})
        )
        .is_ok());
        for body in [
            json!({}),
            json!({"mediaTailorPlaybackConfigurations": []}),
            json!({"mediaTailorPlaybackConfigurations": [{}, {}, {}, {}]}),
            json!({"mediaTailorPlaybackConfigurations": [{"playbackConfigurationArn": "arn:aws:ivs:us-west-2:1:channel/a"}]}),
            json!({"mediaTailorPlaybackConfigurations": [{}], "name": "bad name"}),
            json!({"mediaTailorPlaybackConfigurations": [{}], "postRollConfiguration": {"enabled": true}}),
            json!({"mediaTailorPlaybackConfigurations": [{}], "postRollConfiguration": {"enabled": true, "durationSeconds": 301}}),
            json!({"mediaTailorPlaybackConfigurations": "x"}),
        ] {
            assert_eq!(
                error_kind(&mut st, Operation::CreateAdConfiguration, body.clone()),
                ErrorKind::Validation,
                "{body}"
            );
        }
        for op in [
            Operation::GetAdConfiguration,
            Operation::UpdateAdConfiguration,
            Operation::DeleteAdConfiguration,
        ] {
            let missing =
                json!({"arn": "arn:aws:ivs:us-west-2:111122223333:ad-configuration/nope"});
            assert_eq!(
                error_kind(&mut st, op, missing),
                ErrorKind::ResourceNotFound
            );
            let wrong_kind = json!({"arn": "arn:aws:ivs:us-west-2:111122223333:channel/nope"});
            assert_eq!(error_kind(&mut st, op, wrong_kind), ErrorKind::Validation);
        }
    }

    #[test]
    fn channels_refer_to_existing_configurations_and_keep_them() {
        let mut st = state();
        let created = call(&mut st, Operation::CreateAdConfiguration, create_body()).unwrap();
        let arn = created["adConfiguration"]["arn"]
            .as_str()
            .unwrap()
            .to_owned();
        let missing = "arn:aws:ivs:us-west-2:111122223333:ad-configuration/nope";
        assert_eq!(
            error_kind(
                &mut st,
                Operation::CreateChannel,
                json!({"adConfigurationArn": missing})
            ),
            ErrorKind::ResourceNotFound
        );
        assert_eq!(
            error_kind(
                &mut st,
                Operation::CreateChannel,
                json!({"adConfigurationArn": "arn:aws:ivs:us-west-2:111122223333:channel/x"})
            ),
            ErrorKind::Validation
        );
        let channel = call(
            &mut st,
            Operation::CreateChannel,
            json!({"adConfigurationArn": arn}),
        )
        .unwrap();
        assert_eq!(channel["channel"]["adConfigurationArn"], arn.as_str());
        assert_eq!(channel["channel"]["failoverSlateConfigurationArn"], "");
        let channel_arn = channel["channel"]["arn"].clone();
        let listed = call(
            &mut st,
            Operation::ListChannels,
            json!({"filterByAdConfigurationArn": arn}),
        )
        .unwrap();
        assert_eq!(listed["channels"][0]["adConfigurationArn"], arn.as_str());
        assert_eq!(
            error_kind(
                &mut st,
                Operation::DeleteAdConfiguration,
                json!({"arn": arn})
            ),
            ErrorKind::Conflict
        );
        let detached = call(
            &mut st,
            Operation::UpdateChannel,
            json!({"arn": channel_arn, "adConfigurationArn": ""}),
        )
        .unwrap();
        assert_eq!(detached["channel"]["adConfigurationArn"], "");
        assert_eq!(
            call(
                &mut st,
                Operation::DeleteAdConfiguration,
                json!({"arn": arn})
            )
            .unwrap(),
            serde_json::Value::Null
        );
        let slate = json!({"failoverSlateConfigurationArn": "arn:aws:ivs:us-west-2:111122223333:failover-slate-configuration/x"});
        assert_eq!(
            error_kind(&mut st, Operation::CreateChannel, slate),
            ErrorKind::ResourceNotFound
        );
    }
}
