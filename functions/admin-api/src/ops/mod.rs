//! One handler per route. Every IVS call goes through [`AdminApi::call`], with the retry rule
//! of its operation: reads, and writes that are idempotent, are retried on every transient
//! failure (`RetryOn::Transient`); writes that IVS would duplicate (creates, imports) only
//! when IVS throttled them, so that nothing happened (`RetryOn::Throttling`).

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ivs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::types::{
    ChannelLatencyMode, ChannelType, DestinationConfiguration, RecordingMode,
    RenditionConfiguration, RenditionConfigurationRendition,
    RenditionConfigurationRenditionSelection, S3DestinationConfiguration, StreamHealth,
    ThumbnailConfiguration, ThumbnailConfigurationResolution, ThumbnailConfigurationStorage,
    TranscodePreset,
};
use aws_sdk_ivs::Client;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::input::{check_size, json_body};
use super::router::Op;
use super::views;
use super::{AdminApi, Call, Failure, Reply};
use crate::token::{Fault, TokenRequest};
use domain::arn::{IvsArn, ResourceType};
use domain::policy::tags as policy_tags;
use ivs_adapter::error::{Error, IvsErrorKind};
use ivs_adapter::ivs::{
    pack, BatchOutcome, MetadataOutcome, PackError, ResumeOutcome, RetryOn, RotateOutcome,
    SendError, StopOutcome, DEFAULT_METADATA_RATE,
};

type Result<T> = std::result::Result<T, Failure>;

impl AdminApi {
    /// Runs one IVS call under the adapter's retry policy: `send` builds the request with
    /// the client and sends it, once per attempt.
    pub(crate) async fn call<'a, T, E, Fut>(
        &'a self,
        operation: &'static str,
        retry_on: RetryOn,
        mut send: impl FnMut(&'a Client) -> Fut,
    ) -> std::result::Result<T, Error>
    where
        Fut: Future<Output = std::result::Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let client = self.ivs().client();
        self.ivs().call(operation, retry_on, || send(client)).await
    }
}

/// Runs the handler of `op`.
pub(super) async fn dispatch(api: &AdminApi, op: Op, call: &Call<'_>) -> Result<Reply> {
    match op {
        Op::CreateChannel => create_channel(api, call).await,
        Op::ListChannels => list_channels(api, call).await,
        Op::BatchGetChannels => batch_get_channels(api, call).await,
        Op::GetChannel => get_channel(api, call).await,
        Op::UpdateChannel => update_channel(api, call).await,
        Op::DeleteChannel => delete_channel(api, call).await,
        Op::ChannelStatus => channel_status(api, call).await,
        Op::CreateStreamKey => create_stream_key(api, call).await,
        Op::ListStreamKeys => list_stream_keys(api, call).await,
        Op::BatchGetStreamKeys => batch_get_stream_keys(api, call).await,
        Op::GetStreamKey => get_stream_key(api, call).await,
        Op::DeleteStreamKey => delete_stream_key(api, call).await,
        Op::RotateStreamKey => rotate_stream_key(api, call).await,
        Op::SuspendChannel => suspend_channel(api, call).await,
        Op::ResumeChannel => resume_channel(api, call).await,
        Op::GetStream => get_stream(api, call).await,
        Op::ListStreams => list_streams(api, call).await,
        Op::ListStreamSessions => list_stream_sessions(api, call).await,
        Op::GetLatestStreamSession => get_stream_session(api, call, true).await,
        Op::GetStreamSession => get_stream_session(api, call, false).await,
        Op::StopStream => stop_stream(api, call).await,
        Op::PutMetadata => put_metadata(api, call).await,
        Op::PutMetadataBatch => put_metadata_batch(api, call).await,
        Op::ImportPlaybackKeyPair => import_playback_key_pair(api, call).await,
        Op::ListPlaybackKeyPairs => list_playback_key_pairs(api, call).await,
        Op::GetPlaybackKeyPair => get_playback_key_pair(api, call).await,
        Op::DeletePlaybackKeyPair => delete_playback_key_pair(api, call).await,
        Op::CreateRecordingConfiguration => create_recording_configuration(api, call).await,
        Op::ListRecordingConfigurations => list_recording_configurations(api, call).await,
        Op::GetRecordingConfiguration => get_recording_configuration(api, call).await,
        Op::DeleteRecordingConfiguration => delete_recording_configuration(api, call).await,
        Op::ListTags => list_tags(api, call).await,
        Op::TagResource => tag_resource(api, call).await,
        Op::UntagResource => untag_resource(api, call).await,
        Op::MintPlaybackToken => mint_playback_token(api, call).await,
        Op::RevokeViewerSession => revoke_viewer_session(api, call).await,
        Op::BatchRevokeViewerSessions => batch_revoke_viewer_sessions(api, call).await,
    }
}

// ------------------------------------------------------------------ validation helpers

/// A value of one of IVS's enums; `allowed` comes from the SDK's list of values.
fn one_of(field: &str, value: &str, allowed: &[&str]) -> std::result::Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::bad_field(
            field,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }
}

/// A resource name as IVS allows it: 0-128 of `[a-zA-Z0-9-_]`.
fn name(field: &str, value: &str) -> std::result::Result<(), ApiError> {
    if value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(ApiError::bad_field(
            field,
            "must be at most 128 letters, digits, '-' or '_'",
        ))
    }
}

/// Tags as IVS allows them: at most 50; keys 1-128 characters, not starting with `aws:`;
/// values at most 256.
fn tags(field: &str, tags: &HashMap<String, String>) -> std::result::Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::bad_field(field, "at most 50 tags"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(ApiError::bad_field(
                &format!("{field}.{k}"),
                "tag keys are 1-128 characters and do not start with aws:",
            ));
        }
        if v.chars().count() > 256 {
            return Err(ApiError::bad_field(
                &format!("{field}.{k}"),
                "tag values are at most 256 characters",
            ));
        }
    }
    Ok(())
}

/// 1-50 ids or ARNs of `kind` in a body field.
fn arns(call: &Call<'_>, field: &str, ids: &[String], kind: ResourceType) -> Result<Vec<String>> {
    if ids.is_empty() || ids.len() > 50 {
        return Err(ApiError::bad_field(field, "give 1 to 50 ids or ARNs").into());
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            call.arn_of(&format!("{field}[{i}]"), id, kind)
                .map(|a| a.to_string())
                .map_err(Failure::from)
        })
        .collect()
}

fn page_json(key: &str, items: Vec<Value>, next_token: Option<&str>) -> Value {
    let mut body = json!({ key: items });
    if let Some(token) = next_token.filter(|t| !t.is_empty()) {
        body["nextToken"] = json!(token);
    }
    body
}

// ------------------------------------------------------------------ channels

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

async fn create_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let f: ChannelFields = json_body(call.body)?;
    f.validate(true, call)?;
    let out = api
        .call("CreateChannel", RetryOn::Throttling, |c| {
            c.create_channel()
                .set_name(f.name.clone())
                .set_latency_mode(f.latency_mode.as_deref().map(ChannelLatencyMode::from))
                .set_type(f.channel_type.as_deref().map(ChannelType::from))
                .set_authorized(f.authorized)
                .set_recording_configuration_arn(f.recording_configuration_arn.clone())
                .set_insecure_ingest(f.insecure_ingest)
                .set_preset(f.preset.as_deref().map(TranscodePreset::from))
                .set_playback_restriction_policy_arn(f.playback_restriction_policy_arn.clone())
                .set_tags(f.tags.clone())
                .send()
        })
        .await?;
    Ok(Reply::created(json!({
        "channel": out.channel().map(views::channel),
        "streamKey": out.stream_key().map(|k| views::stream_key(k, true)),
    })))
}

async fn list_channels(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&[
        "name",
        "recordingConfigurationArn",
        "nextToken",
        "maxResults",
    ])?;
    let page = call.query.page(100)?;
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
    let items = out.channels().iter().map(views::channel_summary).collect();
    Ok(Reply::ok(page_json("channels", items, out.next_token())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ids {
    ids: Vec<String>,
}

async fn batch_get_channels(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

async fn get_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    Ok(Reply::ok(
        json!({ "channel": fetch_channel(api, &arn).await? }),
    ))
}

async fn update_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    let f: ChannelFields = json_body(call.body)?;
    f.validate(false, call)?;
    let out = api
        .call("UpdateChannel", RetryOn::Transient, |c| {
            c.update_channel()
                .arn(arn.as_str())
                .set_name(f.name.clone())
                .set_latency_mode(f.latency_mode.as_deref().map(ChannelLatencyMode::from))
                .set_type(f.channel_type.as_deref().map(ChannelType::from))
                .set_authorized(f.authorized)
                .set_recording_configuration_arn(f.recording_configuration_arn.clone())
                .set_insecure_ingest(f.insecure_ingest)
                .set_preset(f.preset.as_deref().map(TranscodePreset::from))
                .set_playback_restriction_policy_arn(f.playback_restriction_policy_arn.clone())
                .send()
        })
        .await?;
    Ok(Reply::ok(
        json!({ "channel": out.channel().map(views::channel) }),
    ))
}

async fn delete_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("channelId", ResourceType::Channel)?;
    api.call("DeleteChannel", RetryOn::Transient, |c| {
        c.delete_channel().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}

/// The channel, its live stream (or `"offline"`), its stream key's ARN (never the value) and
/// its latest session, in one answer.
async fn channel_status(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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
    let out = api
        .call("GetStreamSession", RetryOn::Transient, |c| {
            c.get_stream_session()
                .channel_arn(channel.as_str())
                .stream_id(stream_id)
                .send()
        })
        .await?;
    Ok(out
        .stream_session()
        .map(views::stream_session)
        .unwrap_or(Value::Null))
}

// ------------------------------------------------------------------ stream keys

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TagsOnly {
    tags: Option<HashMap<String, String>>,
}

async fn create_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let body: TagsOnly = json_body(call.body)?;
    if let Some(t) = &body.tags {
        tags("tags", t)?;
    }
    let out = api
        .call("CreateStreamKey", RetryOn::Throttling, |c| {
            c.create_stream_key()
                .channel_arn(channel.as_str())
                .set_tags(body.tags.clone())
                .send()
        })
        .await?;
    Ok(Reply::created(json!({
        "streamKey": out.stream_key().map(|k| views::stream_key(k, true)),
    })))
}

async fn list_stream_keys(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["nextToken", "maxResults"])?;
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let page = call.query.page(50)?;
    let out = api
        .call("ListStreamKeys", RetryOn::Transient, |c| {
            c.list_stream_keys()
                .channel_arn(channel.as_str())
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    let items = out
        .stream_keys()
        .iter()
        .map(views::stream_key_summary)
        .collect();
    Ok(Reply::ok(page_json("streamKeys", items, out.next_token())))
}

async fn batch_get_stream_keys(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let body: Ids = json_body(call.body)?;
    let arns = arns(call, "ids", &body.ids, ResourceType::StreamKey)?;
    let out = api
        .call("BatchGetStreamKey", RetryOn::Transient, |c| {
            c.batch_get_stream_key().set_arns(Some(arns.clone())).send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "streamKeys": out.stream_keys().iter().map(|k| views::stream_key(k, true)).collect::<Vec<_>>(),
        "errors": out.errors().iter().map(views::batch_error).collect::<Vec<_>>(),
    })))
}

async fn get_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("streamKeyId", ResourceType::StreamKey)?;
    let out = api
        .call("GetStreamKey", RetryOn::Transient, |c| {
            c.get_stream_key().arn(arn.as_str()).send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "streamKey": out.stream_key().map(|k| views::stream_key(k, true)),
    })))
}

async fn delete_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("streamKeyId", ResourceType::StreamKey)?;
    api.call("DeleteStreamKey", RetryOn::Transient, |c| {
        c.delete_stream_key().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}

/// An operator's rotation: old keys deleted, a new one created and returned (with its value).
async fn rotate_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    match api.ivs().rotate_stream_key(&channel, None).await? {
        RotateOutcome::Rotated { new_key, revoked } => Ok(Reply::ok(json!({
            "streamKey": {
                "arn": new_key.arn,
                "channelArn": new_key.channel_arn,
                "value": new_key.value.expose(),
            },
            "revokedStreamKeyArns": revoked,
        }))),
        // Without a marker, a rotation always happens; these cannot be returned.
        other => Err(Failure::Internal(format!(
            "an unmarked rotation ended as {}",
            other.as_str()
        ))),
    }
}

/// Suspends a channel: tags it suspended (so that the event automation keeps it so and gives
/// it no new key), revokes its keys, then stops its stream. Idempotent.
async fn suspend_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    set_suspended_tag(api, &channel, true).await?;
    let outcome = api.ivs().suspend_channel(&channel).await?;
    Ok(Reply::ok(json!({
        "suspended": true,
        "revokedStreamKeyArns": outcome.revoked,
        "stream": stop_word(outcome.stream),
    })))
}

/// Resumes a suspended channel: removes the suspended tag and creates a fresh key (returned
/// with its value) if it has none.
async fn resume_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    set_suspended_tag(api, &channel, false).await?;
    match api.ivs().resume_channel(&channel).await? {
        ResumeOutcome::Created(key) => Ok(Reply::ok(json!({
            "suspended": false,
            "streamKey": {"arn": key.arn, "channelArn": key.channel_arn, "value": key.value.expose()},
        }))),
        ResumeOutcome::KeyExists { key_arn } => Ok(Reply::ok(json!({
            "suspended": false,
            "streamKey": {"arn": key_arn},
        }))),
    }
}

async fn set_suspended_tag(api: &AdminApi, channel: &IvsArn, on: bool) -> Result<()> {
    if on {
        api.call("TagResource", RetryOn::Transient, |c| {
            c.tag_resource()
                .resource_arn(channel.as_str())
                .tags(policy_tags::SUSPENDED, "true")
                .send()
        })
        .await?;
    } else {
        api.call("UntagResource", RetryOn::Transient, |c| {
            c.untag_resource()
                .resource_arn(channel.as_str())
                .tag_keys(policy_tags::SUSPENDED)
                .send()
        })
        .await?;
    }
    Ok(())
}

fn stop_word(outcome: StopOutcome) -> &'static str {
    match outcome {
        StopOutcome::Stopped => "stopped",
        StopOutcome::AlreadyStopped => "alreadyStopped",
    }
}

// ------------------------------------------------------------------ streams

async fn get_stream(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let out = api
        .call("GetStream", RetryOn::Transient, |c| {
            c.get_stream().channel_arn(channel.as_str()).send()
        })
        .await?;
    Ok(Reply::ok(
        json!({ "stream": out.stream().map(views::stream) }),
    ))
}

async fn list_streams(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["health", "nextToken", "maxResults"])?;
    let page = call.query.page(100)?;
    let health = call.query.one("health")?.map(str::to_owned);
    if let Some(h) = &health {
        one_of("health", h, StreamHealth::values())?;
    }
    let filter = health.as_deref().map(|h| {
        aws_sdk_ivs::types::StreamFilters::builder()
            .health(StreamHealth::from(h))
            .build()
    });
    let out = api
        .call("ListStreams", RetryOn::Transient, |c| {
            c.list_streams()
                .set_filter_by(filter.clone())
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    let items = out.streams().iter().map(views::stream_summary).collect();
    Ok(Reply::ok(page_json("streams", items, out.next_token())))
}

async fn list_stream_sessions(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["nextToken", "maxResults"])?;
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let page = call.query.page(100)?;
    let out = api
        .call("ListStreamSessions", RetryOn::Transient, |c| {
            c.list_stream_sessions()
                .channel_arn(channel.as_str())
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    let items = out
        .stream_sessions()
        .iter()
        .map(views::stream_session_summary)
        .collect();
    Ok(Reply::ok(page_json(
        "streamSessions",
        items,
        out.next_token(),
    )))
}

async fn get_stream_session(api: &AdminApi, call: &Call<'_>, latest: bool) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let stream_id = if latest {
        None
    } else {
        let id = call.params.get("streamId").unwrap_or_default();
        let valid = id.len() > 3
            && id.len() <= 26
            && id.starts_with("st-")
            && id[3..].bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(ApiError::bad_field("streamId", "must be a stream id (st-…)").into());
        }
        Some(id.to_owned())
    };
    let out = api
        .call("GetStreamSession", RetryOn::Transient, |c| {
            c.get_stream_session()
                .channel_arn(channel.as_str())
                .set_stream_id(stream_id.clone())
                .send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "streamSession": out.stream_session().map(views::stream_session),
    })))
}

/// Stops the live stream; an offline channel is success ("alreadyStopped").
async fn stop_stream(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    let outcome = api.ivs().stop_stream(&channel).await?;
    Ok(Reply::ok(json!({ "stream": stop_word(outcome) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataBody {
    metadata: String,
}

async fn put_metadata(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let body: MetadataBody = json_body(call.body)?;
    match api.ivs().put_metadata(&channel, &body.metadata).await? {
        MetadataOutcome::Delivered => Ok(Reply::ok(json!({"outcome": "delivered"}))),
        MetadataOutcome::ChannelOffline => Err(ApiError::new(
            404,
            "ChannelNotBroadcasting",
            "the channel is not live: there is no stream to put metadata in",
        )
        .into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    items: Vec<Value>,
}

/// Most items one request may carry: at 5 payloads per second, the worst case (one item per
/// payload) still ends within API Gateway's 30 s.
pub const MAX_BATCH_ITEMS: usize = 100;

async fn put_metadata_batch(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let body: BatchBody = json_body(call.body)?;
    if body.items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::bad_field(
            "items",
            format!("at most {MAX_BATCH_ITEMS} items per request"),
        )
        .into());
    }
    let packed = pack(&body.items).map_err(|e| match e {
        PackError::Empty => ApiError::bad_field("items", "give at least one item"),
        PackError::ItemTooLarge { index, .. } => ApiError::bad_field(&format!("items[{index}]"), e),
    })?;
    match api
        .ivs()
        .send_packed(&channel, &packed, DEFAULT_METADATA_RATE)
        .await
    {
        Ok(report) if report.outcome == BatchOutcome::ChannelOffline && report.sent.is_empty() => {
            Err(ApiError {
                details: Some(Box::new(json!({ "report": report }))),
                ..ApiError::new(
                    404,
                    "ChannelNotBroadcasting",
                    "the channel is not live: nothing was sent",
                )
            }
            .into())
        }
        // Delivered, or the channel went offline part-way: the report says what was sent.
        Ok(report) => Ok(Reply::ok(json!({ "report": report }))),
        // A failure part-way: the error, and what viewers already received.
        Err(SendError { report, error }) => match ApiError::from_error(&error) {
            Some(api_error) => Err(ApiError {
                details: Some(Box::new(json!({ "report": report }))),
                ..api_error
            }
            .into()),
            None => Err(Failure::Internal(format!(
                "metadata batch failed after {} of {} payloads: {error}",
                report.sent.len(),
                packed.len()
            ))),
        },
    }
}

// ------------------------------------------------------------------ playback key pairs

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportKeyBody {
    name: Option<String>,
    public_key_material: String,
    tags: Option<HashMap<String, String>>,
}

/// The one `PUBLIC KEY` block of `material`, re-encoded: nothing else of the body reaches
/// IVS. A body holding a private key is refused without a word of it in the answer (the
/// key should then be treated as exposed and replaced).
fn public_key_only(material: &str) -> std::result::Result<String, ApiError> {
    const FIELD: &str = "publicKeyMaterial";
    // Any private key PEM label (`PRIVATE KEY`, `EC PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, …).
    if material.contains("PRIVATE KEY") {
        return Err(ApiError::bad_field(
            FIELD,
            "holds a private key: send only the public half (-----BEGIN PUBLIC KEY-----), and \
             replace the private key, which has now left where it was kept",
        ));
    }
    match pem::parse_many(material).as_deref() {
        Ok([only]) if only.tag() == "PUBLIC KEY" => Ok(pem::encode_config(
            only,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )),
        _ => Err(ApiError::bad_field(
            FIELD,
            "must be exactly one PEM public key (-----BEGIN PUBLIC KEY-----), the P-384 public half",
        )),
    }
}

async fn import_playback_key_pair(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let body: ImportKeyBody = json_body(call.body)?;
    if let Some(n) = &body.name {
        name("name", n)?;
    }
    let public_key = public_key_only(&body.public_key_material)?;
    if let Some(t) = &body.tags {
        tags("tags", t)?;
    }
    let out = api
        .call("ImportPlaybackKeyPair", RetryOn::Throttling, |c| {
            c.import_playback_key_pair()
                .set_name(body.name.clone())
                .public_key_material(&public_key)
                .set_tags(body.tags.clone())
                .send()
        })
        .await?;
    Ok(Reply::created(json!({
        "keyPair": out.key_pair().map(views::playback_key_pair),
    })))
}

async fn list_playback_key_pairs(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["nextToken", "maxResults"])?;
    let page = call.query.page(100)?;
    let out = api
        .call("ListPlaybackKeyPairs", RetryOn::Transient, |c| {
            c.list_playback_key_pairs()
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    let items = out
        .key_pairs()
        .iter()
        .map(views::playback_key_pair_summary)
        .collect();
    Ok(Reply::ok(page_json("keyPairs", items, out.next_token())))
}

async fn get_playback_key_pair(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("keyPairId", ResourceType::PlaybackKey)?;
    let out = api
        .call("GetPlaybackKeyPair", RetryOn::Transient, |c| {
            c.get_playback_key_pair().arn(arn.as_str()).send()
        })
        .await?;
    Ok(Reply::ok(json!({
        "keyPair": out.key_pair().map(views::playback_key_pair),
    })))
}

async fn delete_playback_key_pair(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("keyPairId", ResourceType::PlaybackKey)?;
    api.call("DeletePlaybackKeyPair", RetryOn::Transient, |c| {
        c.delete_playback_key_pair().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}

// ------------------------------------------------------------------ recording configurations

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

async fn create_recording_configuration(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

async fn list_recording_configurations(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["nextToken", "maxResults"])?;
    let page = call.query.page(100)?;
    let out = api
        .call("ListRecordingConfigurations", RetryOn::Transient, |c| {
            c.list_recording_configurations()
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    let items = out
        .recording_configurations()
        .iter()
        .map(views::recording_configuration_summary)
        .collect();
    Ok(Reply::ok(page_json(
        "recordingConfigurations",
        items,
        out.next_token(),
    )))
}

async fn get_recording_configuration(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

async fn delete_recording_configuration(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

// ------------------------------------------------------------------ tags

/// The resource of a tag route: any IVS ARN (every IVS resource type is taggable).
fn taggable(call: &Call<'_>) -> Result<IvsArn> {
    let raw = call.params.get("resourceArn").unwrap_or_default();
    IvsArn::parse(raw).map_err(|e| ApiError::bad_field("resourceArn", e.problem).into())
}

async fn list_tags(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&[])?;
    let arn = taggable(call)?;
    Ok(Reply::ok(json!({ "tags": api.ivs().tags(&arn).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    tags: HashMap<String, String>,
}

async fn tag_resource(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = taggable(call)?;
    let body: TagBody = json_body(call.body)?;
    if body.tags.is_empty() {
        return Err(ApiError::bad_field("tags", "give at least one tag").into());
    }
    tags("tags", &body.tags)?;
    api.call("TagResource", RetryOn::Transient, |c| {
        c.tag_resource()
            .resource_arn(arn.as_str())
            .set_tags(Some(body.tags.clone()))
            .send()
    })
    .await?;
    Ok(Reply::no_content())
}

async fn untag_resource(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    call.query.only(&["tagKeys"])?;
    let arn = taggable(call)?;
    let keys: Vec<String> = call
        .query
        .all("tagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if keys.is_empty() || keys.len() > 50 {
        return Err(ApiError::bad_field("tagKeys", "give 1 to 50 tagKeys query parameters").into());
    }
    api.call("UntagResource", RetryOn::Transient, |c| {
        c.untag_resource()
            .resource_arn(arn.as_str())
            .set_tag_keys(Some(keys.clone()))
            .send()
    })
    .await?;
    Ok(Reply::no_content())
}

// ------------------------------------------------------------------ viewers of private channels

/// A playback token for one viewer of a private channel, and the ready playback URL.
async fn mint_playback_token(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    check_size(call.body)?;
    let request = TokenRequest::from_json(if call.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        call.body
    })
    .map_err(token_failure)?;
    request.validate().map_err(token_failure)?;
    let out = api
        .call("GetChannel", RetryOn::Transient, |c| {
            c.get_channel().arn(channel.as_str()).send()
        })
        .await?;
    let found = out.channel();
    let playback_url = found.and_then(|c| c.playback_url()).unwrap_or_default();
    let authorized = found.is_some_and(|c| c.authorized());
    let Some(cell) = api.signer() else {
        return Err(ApiError::new(
            501,
            "NotConfigured",
            "playback tokens are not set up in this deployment (no playback key secret)",
        )
        .into());
    };
    let signer = cell.get().await.map_err(token_failure)?;
    let minted = signer
        .mint(channel.as_str(), playback_url, &request, Utc::now())
        .map_err(token_failure)?;
    Ok(Reply::ok(json!({
        "token": minted.token.expose(),
        "playbackUrl": minted.playback_url.expose(),
        "expiresAt": minted.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        // A token is only checked on private channels: say so when this one is public.
        "channelAuthorized": authorized,
    })))
}

fn token_failure(e: crate::token::TokenError) -> Failure {
    match e.fault() {
        Fault::Caller => ApiError::bad_request(e.to_string()).into(),
        Fault::Transient => ApiError {
            retry_after: Some(2),
            ..ApiError::new(
                503,
                "ServiceUnavailable",
                "the playback key could not be loaded; retry after the pause given in Retry-After",
            )
        }
        .into(),
        Fault::Configuration => Failure::Internal(format!("playback tokens: {e}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RevokeBody {
    viewer_id: String,
    viewer_session_versions_less_than_or_equal_to: Option<i32>,
}

fn viewer_id(field: &str, id: &str) -> std::result::Result<(), ApiError> {
    if (1..=40).contains(&id.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::bad_field(field, "must be 1 to 40 characters"))
    }
}

async fn revoke_viewer_session(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let body: RevokeBody = json_body(call.body)?;
    viewer_id("viewerId", &body.viewer_id)?;
    api.call("StartViewerSessionRevocation", RetryOn::Transient, |c| {
        c.start_viewer_session_revocation()
            .channel_arn(channel.as_str())
            .viewer_id(&body.viewer_id)
            .set_viewer_session_versions_less_than_or_equal_to(
                body.viewer_session_versions_less_than_or_equal_to,
            )
            .send()
    })
    .await?;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchRevokeItem {
    channel_id: String,
    viewer_id: String,
    viewer_session_versions_less_than_or_equal_to: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchRevokeBody {
    viewer_sessions: Vec<BatchRevokeItem>,
}

async fn batch_revoke_viewer_sessions(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let body: BatchRevokeBody = json_body(call.body)?;
    if body.viewer_sessions.is_empty() || body.viewer_sessions.len() > 20 {
        return Err(ApiError::bad_field("viewerSessions", "give 1 to 20 viewer sessions").into());
    }
    let mut sessions = Vec::with_capacity(body.viewer_sessions.len());
    for (i, s) in body.viewer_sessions.iter().enumerate() {
        let channel = call.arn_of(
            &format!("viewerSessions[{i}].channelId"),
            &s.channel_id,
            ResourceType::Channel,
        )?;
        viewer_id(&format!("viewerSessions[{i}].viewerId"), &s.viewer_id)?;
        let session = aws_sdk_ivs::types::BatchStartViewerSessionRevocationViewerSession::builder()
            .channel_arn(channel.as_str())
            .viewer_id(&s.viewer_id)
            .set_viewer_session_versions_less_than_or_equal_to(
                s.viewer_session_versions_less_than_or_equal_to,
            )
            .build()
            .map_err(|e| ApiError::bad_field(&format!("viewerSessions[{i}]"), e))?;
        sessions.push(session);
    }
    let out = api
        .call(
            "BatchStartViewerSessionRevocation",
            RetryOn::Transient,
            |c| {
                c.batch_start_viewer_session_revocation()
                    .set_viewer_sessions(Some(sessions.clone()))
                    .send()
            },
        )
        .await?;
    let errors: Vec<Value> = out
        .errors()
        .iter()
        .map(|e| {
            json!({
                "channelArn": e.channel_arn(),
                "viewerId": e.viewer_id(),
                "code": e.code(),
                "message": e.message(),
            })
        })
        .collect();
    Ok(Reply::ok(json!({ "errors": errors })))
}
