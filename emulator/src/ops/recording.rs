//! Recording configuration operations: CreateRecordingConfiguration, GetRecordingConfiguration,
//! ListRecordingConfigurations, DeleteRecordingConfiguration. As in IVS, a new configuration is
//! `CREATING`, and `ACTIVE` once the configured delay has passed (at once when it is zero); it
//! never becomes `CREATE_FAILED`, since there is no S3 destination to fail to reach.

use std::time::Instant;

use serde::Serialize;

use super::{check_quota, found, json, list_output, OpResult, Output};
use crate::error::IvsError;
use crate::ids::ResourceKind;
use crate::model::{
    DestinationConfiguration, RecordingConfiguration, RenditionConfiguration,
    S3DestinationConfiguration, ThumbnailConfiguration, RECORDING_CONFIGURATION_ACTIVE,
    RECORDING_CONFIGURATION_CREATING, RECORDING_MODES, RENDITION_SELECTIONS, RESOLUTIONS,
    THUMBNAIL_STORAGES,
};
use crate::pagination;
use crate::state::State;
use crate::validate::{self, Input};

fn destination(input: &Input) -> Result<DestinationConfiguration, IvsError> {
    let destination = input.req_struct("destinationConfiguration")?;
    let s3 = destination.opt_struct("s3")?.ok_or_else(|| {
        IvsError::validation(
            "destinationConfiguration must specify s3, the only supported destination",
        )
    })?;
    let bucket = s3.req_str("bucketName")?;
    let field = s3.path_of("bucketName");
    validate::length(&field, bucket, 3, 63)?;
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(validate::constraint(
            &field,
            "Member must satisfy regular expression pattern: [a-z0-9-.]+",
        ));
    }
    Ok(DestinationConfiguration {
        s3: S3DestinationConfiguration {
            bucket_name: bucket.to_owned(),
        },
    })
}

fn thumbnails(input: &Input) -> Result<ThumbnailConfiguration, IvsError> {
    let Some(config) = input.opt_struct("thumbnailConfiguration")? else {
        return Ok(ThumbnailConfiguration::default());
    };
    let defaults = ThumbnailConfiguration::default();
    let recording_mode = config
        .opt_enum("recordingMode", RECORDING_MODES)?
        .unwrap_or(defaults.recording_mode);
    let interval = config.opt_int_in("targetIntervalSeconds", 1, 60)?;
    let resolution = config.opt_enum("resolution", RESOLUTIONS)?;
    let storage = config
        .opt_enum_list("storage", THUMBNAIL_STORAGES)?
        .unwrap_or(defaults.storage);
    let target_interval_seconds = if recording_mode == "INTERVAL" {
        Some(interval.unwrap_or(60))
    } else {
        None
    };
    Ok(ThumbnailConfiguration {
        recording_mode,
        target_interval_seconds,
        resolution,
        storage,
    })
}

fn renditions(input: &Input) -> Result<RenditionConfiguration, IvsError> {
    let Some(config) = input.opt_struct("renditionConfiguration")? else {
        return Ok(RenditionConfiguration::default());
    };
    let selection = config
        .opt_enum("renditionSelection", RENDITION_SELECTIONS)?
        .unwrap_or_else(|| "ALL".to_owned());
    let renditions = config
        .opt_enum_list("renditions", RESOLUTIONS)?
        .unwrap_or_default();
    if selection == "CUSTOM" && renditions.is_empty() {
        return Err(IvsError::validation(
            "renditions must be specified when renditionSelection is CUSTOM",
        ));
    }
    Ok(RenditionConfiguration {
        rendition_selection: selection,
        renditions,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigurationResponse<'a> {
    recording_configuration: &'a RecordingConfiguration,
}

/// CreateRecordingConfiguration.
pub(super) fn create(state: &mut State, input: &Input) -> OpResult {
    let name = input.opt_name("name")?.unwrap_or_default();
    let destination_configuration = destination(input)?;
    let tags = input.opt_tags("tags")?.unwrap_or_default();
    let thumbnail_configuration = thumbnails(input)?;
    let window = input
        .opt_int_in("recordingReconnectWindowSeconds", 0, 300)?
        .unwrap_or(0);
    let rendition_configuration = renditions(input)?;
    check_quota(
        state.recording_configurations.len(),
        state.quotas.recording_configurations,
        "recording configurations",
    )?;
    let arn = state.new_arn(ResourceKind::RecordingConfiguration);
    let delay = state.recording_configuration_delay;
    // A delay too long to add to the clock never ends: the configuration stays CREATING.
    let (initial_state, active_at) = if delay.is_zero() {
        (RECORDING_CONFIGURATION_ACTIVE, None)
    } else {
        (
            RECORDING_CONFIGURATION_CREATING,
            Instant::now().checked_add(delay),
        )
    };
    let configuration = RecordingConfiguration {
        arn: arn.clone(),
        name,
        destination_configuration,
        state: initial_state.to_owned(),
        tags,
        thumbnail_configuration,
        recording_reconnect_window_seconds: window,
        rendition_configuration,
        active_at,
    };
    let output = json(&ConfigurationResponse {
        recording_configuration: &configuration,
    });
    state.recording_configurations.insert(arn, configuration);
    output
}

/// GetRecordingConfiguration.
pub(super) fn get(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::RecordingConfiguration)?;
    let configuration = found(state.recording_configurations.get(&arn), &arn)?;
    json(&ConfigurationResponse {
        recording_configuration: configuration,
    })
}

/// ListRecordingConfigurations.
pub(super) fn list(state: &mut State, input: &Input) -> OpResult {
    let (token, page_size) = pagination::request(input, 100, 100)?;
    let configurations = state
        .recording_configurations
        .values()
        .map(|c| (c.arn.clone(), c.summary()));
    let page = pagination::paginate(
        "ListRecordingConfigurations",
        configurations,
        token.as_deref(),
        page_size,
    )?;
    list_output("recordingConfigurations", page)
}

/// DeleteRecordingConfiguration: refused while a channel uses it.
pub(super) fn delete(state: &mut State, input: &Input) -> OpResult {
    let arn = input.req_arn("arn", ResourceKind::RecordingConfiguration)?;
    found(state.recording_configurations.get(&arn), &arn)?;
    if let Some(channel) = state
        .channels
        .values()
        .find(|c| c.recording_configuration_arn == arn)
    {
        return Err(IvsError::conflict(format!(
            "Recording configuration: {arn} is used by channel {}; remove it from every channel first",
            channel.arn
        )));
    }
    state.recording_configurations.remove(&arn);
    Ok(Output::Empty)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use crate::error::ErrorKind;
    use crate::ops::test_support::{call, error_kind, state};
    use crate::ops::Operation;

    #[test]
    fn create_defaults_and_validation() {
        let mut st = state();
        let out = call(
            &mut st,
            Operation::CreateRecordingConfiguration,
            json!({"destinationConfiguration": {"s3": {"bucketName": "my-bucket"}}}),
        )
        .unwrap();
        let config = &out["recordingConfiguration"];
        assert_eq!(config["state"], "CREATING");
        assert_eq!(config["recordingReconnectWindowSeconds"], 0);
        assert_eq!(
            config["thumbnailConfiguration"]["recordingMode"],
            "INTERVAL"
        );
        assert_eq!(
            config["thumbnailConfiguration"]["targetIntervalSeconds"],
            60
        );
        assert_eq!(
            config["renditionConfiguration"]["renditionSelection"],
            "ALL"
        );
        for body in [
            json!({}),
            json!({"destinationConfiguration": {}}),
            json!({"destinationConfiguration": {"s3": {"bucketName": "Upper"}}}),
            json!({"destinationConfiguration": {"s3": {"bucketName": "ab"}}}),
            json!({"destinationConfiguration": {"s3": {"bucketName": "ok-bucket"}}, "recordingReconnectWindowSeconds": 301}),
            json!({"destinationConfiguration": {"s3": {"bucketName": "ok-bucket"}}, "renditionConfiguration": {"renditionSelection": "CUSTOM"}}),
            json!({"destinationConfiguration": {"s3": {"bucketName": "ok-bucket"}}, "thumbnailConfiguration": {"targetIntervalSeconds": 61}}),
        ] {
            assert_eq!(
                error_kind(
                    &mut st,
                    Operation::CreateRecordingConfiguration,
                    body.clone()
                ),
                ErrorKind::Validation,
                "{body}"
            );
        }
    }

    #[test]
    fn configurations_are_creating_then_active_after_the_delay() {
        let mut st = state();
        assert_eq!(st.recording_configuration_delay, Duration::from_secs(2));
        let body = json!({"destinationConfiguration": {"s3": {"bucketName": "my-bucket"}}});
        let created = call(
            &mut st,
            Operation::CreateRecordingConfiguration,
            body.clone(),
        )
        .unwrap();
        let arn = created["recordingConfiguration"]["arn"].clone();
        let state_now = |st: &mut crate::state::State| {
            let got = call(
                st,
                Operation::GetRecordingConfiguration,
                json!({"arn": arn}),
            )
            .unwrap();
            let listed = call(st, Operation::ListRecordingConfigurations, json!({})).unwrap();
            assert_eq!(
                listed["recordingConfigurations"][0]["state"],
                got["recordingConfiguration"]["state"]
            );
            got["recordingConfiguration"]["state"].clone()
        };
        st.settle_recording_configurations(Instant::now());
        assert_eq!(state_now(&mut st), "CREATING");
        // A channel may use it at once (what IVS does then is not documented).
        call(
            &mut st,
            Operation::CreateChannel,
            json!({"recordingConfigurationArn": arn}),
        )
        .unwrap();
        st.settle_recording_configurations(Instant::now() + Duration::from_secs(3));
        assert_eq!(state_now(&mut st), "ACTIVE");

        st.recording_configuration_delay = Duration::ZERO;
        let at_once = call(&mut st, Operation::CreateRecordingConfiguration, body).unwrap();
        assert_eq!(at_once["recordingConfiguration"]["state"], "ACTIVE");
    }

    #[test]
    fn delete_refuses_configurations_in_use() {
        let mut st = state();
        let config = call(
            &mut st,
            Operation::CreateRecordingConfiguration,
            json!({"destinationConfiguration": {"s3": {"bucketName": "my-bucket"}}}),
        )
        .unwrap();
        let arn = config["recordingConfiguration"]["arn"].clone();
        let channel = call(
            &mut st,
            Operation::CreateChannel,
            json!({"recordingConfigurationArn": arn}),
        )
        .unwrap();
        assert_eq!(
            error_kind(
                &mut st,
                Operation::DeleteRecordingConfiguration,
                json!({"arn": arn})
            ),
            ErrorKind::Conflict
        );
        let listed = call(
            &mut st,
            Operation::ListChannels,
            json!({"filterByRecordingConfigurationArn": arn}),
        )
        .unwrap();
        assert_eq!(listed["channels"].as_array().unwrap().len(), 1);
        let detach = json!({"arn": channel["channel"]["arn"], "recordingConfigurationArn": ""});
        call(&mut st, Operation::UpdateChannel, detach).unwrap();
        call(
            &mut st,
            Operation::DeleteRecordingConfiguration,
            json!({"arn": arn}),
        )
        .unwrap();
        assert_eq!(
            error_kind(
                &mut st,
                Operation::GetRecordingConfiguration,
                json!({"arn": arn})
            ),
            ErrorKind::ResourceNotFound
        );
    }
}
