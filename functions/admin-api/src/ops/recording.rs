//! Recording configurations: create, list, get, delete.

use std::collections::HashMap;

use aws_sdk_ivs::types::{
    DestinationConfiguration, RecordingMode, RenditionConfiguration,
    RenditionConfigurationRendition, RenditionConfigurationRenditionSelection,
    S3DestinationConfiguration, ThumbnailConfiguration, ThumbnailConfigurationResolution,
    ThumbnailConfigurationStorage,
};
use serde::Deserialize;
use serde_json::json;

use super::{list_query, name, one_of, page_reply, tags, Result};
use crate::error::ApiError;
use crate::input::json_body;
use crate::views;
use crate::{AdminApi, Call, Reply};
use domain::arn::ResourceType;
use ivs_adapter::ivs::RetryOn;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct S3Body {
    bucket_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationBody {
    s3: S3Body,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ThumbnailBody {
    recording_mode: Option<String>,
    target_interval_seconds: Option<i64>,
    resolution: Option<String>,
    storage: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RenditionBody {
    rendition_selection: Option<String>,
    renditions: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RecordingBody {
    name: Option<String>,
    destination_configuration: DestinationBody,
    recording_reconnect_window_seconds: Option<i32>,
    thumbnail_configuration: Option<ThumbnailBody>,
    rendition_configuration: Option<RenditionBody>,
    tags: Option<HashMap<String, String>>,
}

impl RecordingBody {
    fn validate(&self) -> std::result::Result<(), ApiError> {
        if let Some(n) = &self.name {
            name("name", n)?;
        }
        let bucket = &self.destination_configuration.s3.bucket_name;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(ApiError::bad_field(
                "destinationConfiguration.s3.bucketName",
                "must be an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')",
            ));
        }
        if let Some(w) = self.recording_reconnect_window_seconds {
            if !(0..=300).contains(&w) {
                return Err(ApiError::bad_field(
                    "recordingReconnectWindowSeconds",
                    "must be 0 to 300",
                ));
            }
        }
        if let Some(t) = &self.thumbnail_configuration {
            if let Some(m) = &t.recording_mode {
                one_of(
                    "thumbnailConfiguration.recordingMode",
                    m,
                    RecordingMode::values(),
                )?;
            }
            if let Some(r) = &t.resolution {
                one_of(
                    "thumbnailConfiguration.resolution",
                    r,
                    ThumbnailConfigurationResolution::values(),
                )?;
            }
            if let Some(i) = t.target_interval_seconds {
                if !(1..=60).contains(&i) {
                    return Err(ApiError::bad_field(
                        "thumbnailConfiguration.targetIntervalSeconds",
                        "must be 1 to 60",
                    ));
                }
            }
            for (i, s) in t.storage.iter().flatten().enumerate() {
                one_of(
                    &format!("thumbnailConfiguration.storage[{i}]"),
                    s,
                    ThumbnailConfigurationStorage::values(),
                )?;
            }
        }
        if let Some(r) = &self.rendition_configuration {
            if let Some(s) = &r.rendition_selection {
                one_of(
                    "renditionConfiguration.renditionSelection",
                    s,
                    RenditionConfigurationRenditionSelection::values(),
                )?;
            }
            for (i, s) in r.renditions.iter().flatten().enumerate() {
                one_of(
                    &format!("renditionConfiguration.renditions[{i}]"),
                    s,
                    RenditionConfigurationRendition::values(),
                )?;
            }
        }
        if let Some(t) = &self.tags {
            tags("tags", t)?;
        }
        Ok(())
    }
}

pub(crate) async fn create_recording_configuration(
    api: &AdminApi,
    call: &Call<'_>,
) -> Result<Reply> {
    let body: RecordingBody = json_body(call.body)?;
    body.validate()?;
    let s3 = S3DestinationConfiguration::builder()
        .bucket_name(&body.destination_configuration.s3.bucket_name)
        .build()
        .map_err(|e| ApiError::bad_field("destinationConfiguration.s3", e))?;
    let destination = DestinationConfiguration::builder().s3(s3).build();
    let thumbnails = body.thumbnail_configuration.as_ref().map(|t| {
        ThumbnailConfiguration::builder()
            .set_recording_mode(t.recording_mode.as_deref().map(RecordingMode::from))
            .set_target_interval_seconds(t.target_interval_seconds)
            .set_resolution(
                t.resolution
                    .as_deref()
                    .map(ThumbnailConfigurationResolution::from),
            )
            .set_storage(t.storage.as_ref().map(|s| {
                s.iter()
                    .map(|v| ThumbnailConfigurationStorage::from(v.as_str()))
                    .collect()
            }))
            .build()
    });
    let renditions = body.rendition_configuration.as_ref().map(|r| {
        RenditionConfiguration::builder()
            .set_rendition_selection(
                r.rendition_selection
                    .as_deref()
                    .map(RenditionConfigurationRenditionSelection::from),
            )
            .set_renditions(r.renditions.as_ref().map(|s| {
                s.iter()
                    .map(|v| RenditionConfigurationRendition::from(v.as_str()))
                    .collect()
            }))
            .build()
    });
    let out = api
        .call("CreateRecordingConfiguration", RetryOn::Throttling, |c| {
            c.create_recording_configuration()
                .set_name(body.name.clone())
                .destination_configuration(destination.clone())
                .set_recording_reconnect_window_seconds(body.recording_reconnect_window_seconds)
                .set_thumbnail_configuration(thumbnails.clone())
                .set_rendition_configuration(renditions.clone())
                .set_tags(body.tags.clone())
                .send()
        })
        .await?;
    Ok(Reply::created(json!({
        "recordingConfiguration": out.recording_configuration().map(views::recording_configuration),
    })))
}

pub(crate) async fn list_recording_configurations(
    api: &AdminApi,
    call: &Call<'_>,
) -> Result<Reply> {
    let page = list_query(call, &[], 100)?;
    let out = api
        .call("ListRecordingConfigurations", RetryOn::Transient, |c| {
            c.list_recording_configurations()
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    Ok(page_reply(
        "recordingConfigurations",
        out.recording_configurations(),
        views::recording_configuration_summary,
        out.next_token(),
    ))
}

pub(crate) async fn get_recording_configuration(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn(
        "recordingConfigurationId",
        ResourceType::RecordingConfiguration,
    )?;
    let out = api
        .call("GetRecordingConfiguration", RetryOn::Transient, |c| {
            c.get_recording_configuration().arn(arn.as_str()).send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "recordingConfiguration": out.recording_configuration().map(views::recording_configuration),
    })))
}

pub(crate) async fn delete_recording_configuration(
    api: &AdminApi,
    call: &Call<'_>,
) -> Result<Reply> {
    let arn = call.arn(
        "recordingConfigurationId",
        ResourceType::RecordingConfiguration,
    )?;
    api.call("DeleteRecordingConfiguration", RetryOn::Transient, |c| {
        c.delete_recording_configuration().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}
