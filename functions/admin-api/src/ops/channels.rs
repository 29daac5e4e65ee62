//! Channels: create, list, batch get, get, update, delete, and a channel's status in one
//! answer.

use std::collections::HashMap;

use aws_sdk_ivs::types::{ChannelLatencyMode, ChannelType, TranscodePreset};
use serde::Deserialize;
use serde_json::{json, Value};

use super::streams::fetch_stream_session;
use super::{arns, list_query, name, one_of, page_reply, tags, Ids, Result};
use crate::error::ApiError;
use crate::input::json_body;
use crate::views;
use crate::{AdminApi, Call, Reply};
use domain::arn::{IvsArn, ResourceType};
use ivs_adapter::error::IvsErrorKind;
use ivs_adapter::ivs::RetryOn;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChannelFields {
    name: Option<String>,
    latency_mode: Option<String>,
    #[serde(rename = "type")]
    channel_type: Option<String>,
    authorized: Option<bool>,
    recording_configuration_arn: Option<String>,
    insecure_ingest: Option<bool>,
    preset: Option<String>,
    playback_restriction_policy_arn: Option<String>,
    /// Only on create.
    tags: Option<HashMap<String, String>>,
}

impl ChannelFields {
    fn validate(&self, allow_tags: bool, call: &Call<'_>) -> std::result::Result<(), ApiError> {
        if let Some(n) = &self.name {
            name("name", n)?;
        }
        if let Some(m) = &self.latency_mode {
            one_of("latencyMode", m, ChannelLatencyMode::values())?;
        }
        if let Some(t) = &self.channel_type {
            one_of("type", t, ChannelType::values())?;
        }
        if let Some(p) = self.preset.as_deref().filter(|p| !p.is_empty()) {
            one_of("preset", p, TranscodePreset::values())?;
        }
        for (field, arn, kind) in [
            (
                "recordingConfigurationArn",
                &self.recording_configuration_arn,
                ResourceType::RecordingConfiguration,
            ),
            (
                "playbackRestrictionPolicyArn",
                &self.playback_restriction_policy_arn,
                ResourceType::PlaybackRestrictionPolicy,
            ),
        ] {
            // "" removes the reference (IVS's convention).
            if let Some(arn) = arn.as_deref().filter(|a| !a.is_empty()) {
                if !arn.starts_with("arn:") {
                    IvsArn::parse_as(arn, kind)
                        .map_err(|e| ApiError::bad_field(field, e.problem))?;
                }
                // Parsed, and of this API's account and region.
                call.arn_of(field, arn, kind)?;
            }
        }
        match (&self.tags, allow_tags) {
            (Some(t), true) => tags("tags", t),
            (Some(_), false) => Err(ApiError::bad_field(
                "tags",
                "not accepted here: use POST /tags/{resourceArn}",
            )),
            (None, _) => Ok(()),
        }
    }
}

/// `request` (a CreateChannel or UpdateChannel builder: the SDK's two share their setters but
/// no trait) with the settings of `fields` (a [`ChannelFields`]), tags aside.
macro_rules! with_settings {
    ($request:expr, $fields:expr) => {{
        let f: &ChannelFields = $fields;
        $request
            .set_name(f.name.clone())
            .set_latency_mode(f.latency_mode.as_deref().map(ChannelLatencyMode::from))
            .set_type(f.channel_type.as_deref().map(ChannelType::from))
            .set_authorized(f.authorized)
            .set_recording_configuration_arn(f.recording_configuration_arn.clone())
            .set_insecure_ingest(f.insecure_ingest)
            .set_preset(f.preset.as_deref().map(TranscodePreset::from))
            .set_playback_restriction_policy_arn(f.playback_restriction_policy_arn.clone())
    }};
}

pub(crate) async fn create_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let f: ChannelFields = json_body(call.body)?;
    f.validate(true, call)?;
    let out = api
        .call("CreateChannel", RetryOn::Throttling, |c| {
            with_settings!(c.create_channel(), &f)
                .set_tags(f.tags.clone())
                .send()
        })
        .await?;
    Ok(Reply::created(json!({
        "channel": out.channel().map(views::channel),
        "streamKey": out.stream_key().map(|k| views::stream_key(k, true)),
    })))
}

pub(crate) async fn list_channels(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let page = list_query(call, &["name", "recordingConfigurationArn"], 100)?;
    let by_name = call.query.one("name")?.map(str::to_owned);
    if let Some(n) = &by_name {
        name("name", n)?;
    }
    let by_recording = call
        .query
        .one("recordingConfigurationArn")?
        .map(str::to_owned);
    // Both filters together: IVS answers 409 ConflictException, and so does this API.
    let out = api
        .call("ListChannels", RetryOn::Transient, |c| {
            c.list_channels()
                .set_filter_by_name(by_name.clone())
                .set_filter_by_recording_configuration_arn(by_recording.clone())
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    Ok(page_reply(
        "channels",
        out.channels(),
        views::channel_summary,
        out.next_token(),
    ))
}

pub(crate) async fn batch_get_channels(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let body: Ids = json_body(call.body)?;
    let arns = arns(call, "ids", &body.ids, ResourceType::Channel)?;
    let out = api
        .call("BatchGetChannel", RetryOn::Transient, |c| {
            c.batch_get_channel().set_arns(Some(arns.clone())).send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "channels": out.channels().iter().map(views::channel).collect::<Vec<_>>(),
        "errors": out.errors().iter().map(views::batch_error).collect::<Vec<_>>(),
    })))
}

async fn fetch_channel(api: &AdminApi, arn: &IvsArn) -> Result<Value> {
    let out = api
        .call("GetChannel", RetryOn::Transient, |c| {
            c.get_channel().arn(arn.as_str()).send()
        })
        .await?;
    Ok(out.channel().map(views::channel).unwrap_or(Value::Null))
}

pub(crate) async fn get_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    Ok(Reply::ok(
        json!({ "channel": fetch_channel(api, &arn).await? }),
    ))
}

pub(crate) async fn update_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    let f: ChannelFields = json_body(call.body)?;
    f.validate(false, call)?;
    let out = api
        .call("UpdateChannel", RetryOn::Transient, |c| {
            with_settings!(c.update_channel().arn(arn.as_str()), &f).send()
        })
        .await?;
    Ok(Reply::ok(
        json!({ "channel": out.channel().map(views::channel) }),
    ))
}

pub(crate) async fn delete_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    api.call("DeleteChannel", RetryOn::Transient, |c| {
        c.delete_channel().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}

/// The channel, its live stream (or `"offline"`), its stream key's ARN (never the value) and
/// its latest session, in one answer.
pub(crate) async fn channel_status(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    let channel = fetch_channel(api, &arn).await?;
    let stream = match api
        .call("GetStream", RetryOn::Transient, |c| {
            c.get_stream().channel_arn(arn.as_str()).send()
        })
        .await
    {
        Ok(out) => out.stream().map(views::stream).unwrap_or(Value::Null),
        Err(e) if e.ivs_kind() == Some(IvsErrorKind::ChannelNotBroadcasting) => json!("offline"),
        Err(e) => return Err(e.into()),
    };
    let keys = api.ivs().list_stream_keys(&arn).await?;
    let key_arn = keys.iter().find_map(|k| k.arn()).map(str::to_owned);
    let latest = latest_session(api, &arn).await?;
    Ok(Reply::ok(json!({
        "channel": channel,
        "stream": stream,
        "streamKeyArn": key_arn,
        "latestSession": latest,
    })))
}

async fn latest_session(api: &AdminApi, channel: &IvsArn) -> Result<Value> {
    let latest = api.ivs().latest_stream_session(channel).await?;
    let Some(stream_id) = latest.as_ref().and_then(|s| s.stream_id()) else {
        return Ok(Value::Null);
    };
    fetch_stream_session(api, channel, Some(stream_id)).await
}
