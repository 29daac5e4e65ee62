//! Stream keys: create, list, batch get, get, delete, and an operator's rotation, suspension
//! and resumption of a channel.

use serde_json::json;

use super::{arns, channel_list_query, page_reply, stop_word, tags, Ids, Result, TagsOnly};
use crate::input::json_body;
use crate::views;
use crate::{AdminApi, Call, Failure, Reply};
use chrono::Utc;
use domain::arn::{IvsArn, ResourceType};
use domain::lifecycle::{self, RotationTrigger, StopRule, SuspendedBy};
use domain::policy::tags as policy_tags;
use ivs_adapter::ivs::{ResumeOutcome, RetryOn, RotateOutcome, StopOutcome};

pub(crate) async fn create_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

pub(crate) async fn list_stream_keys(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let (channel, page) = channel_list_query(call, 50)?;
    let out = api
        .call("ListStreamKeys", RetryOn::Transient, |c| {
            c.list_stream_keys()
                .channel_arn(channel.as_str())
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    Ok(page_reply(
        "streamKeys",
        out.stream_keys(),
        views::stream_key_summary,
        out.next_token(),
    ))
}

pub(crate) async fn batch_get_stream_keys(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

pub(crate) async fn get_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

pub(crate) async fn delete_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let arn = call.arn("streamKeyId", ResourceType::StreamKey)?;
    api.call("DeleteStreamKey", RetryOn::Transient, |c| {
        c.delete_stream_key().arn(arn.as_str()).send()
    })
    .await?;
    Ok(Reply::no_content())
}

/// An operator's rotation: old keys deleted, a new one created and returned (with its value).
pub(crate) async fn rotate_stream_key(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    match api.ivs().rotate_stream_key(&channel, None).await? {
        RotateOutcome::Rotated { new_key, revoked } => {
            let fact = lifecycle::stream_key_rotated(
                &channel,
                &new_key.arn,
                &revoked,
                None,
                RotationTrigger::AdminApi,
                Utc::now(),
            );
            // Not repeatable: the new key must reach the operator whatever happens to its
            // lifecycle event.
            api.announce(&[fact], false).await?;
            Ok(Reply::ok(json!({
                "streamKey": {
                    "arn": new_key.arn,
                    "channelArn": new_key.channel_arn,
                    "value": new_key.value.expose(),
                },
                "revokedStreamKeyArns": revoked,
            })))
        }
        // Without a marker, a rotation always happens; these cannot be returned.
        other => Err(Failure::Internal(format!(
            "an unmarked rotation ended as {}",
            other.as_str()
        ))),
    }
}

/// Suspends a channel: tags it suspended (so that the event automation keeps it so and gives
/// it no new key), revokes its keys, then stops its stream. Idempotent.
pub(crate) async fn suspend_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    set_suspended_tag(api, &channel, true).await?;
    let outcome = api.ivs().suspend_channel(&channel).await?;
    let now = Utc::now();
    let stopped = outcome.stream == StopOutcome::Stopped;
    let mut facts = vec![lifecycle::channel_suspended(
        &channel,
        SuspendedBy::AdminApi,
        &call.request_id,
        None,
        &outcome.revoked,
        stopped,
        now,
    )];
    if stopped {
        facts.push(lifecycle::stream_stopped(
            &channel,
            None,
            &call.request_id,
            &StopRule::Suspended,
            None,
            true,
            now,
        ));
    }
    api.announce(&facts, true).await?;
    Ok(Reply::ok(json!({
        "suspended": true,
        "revokedStreamKeyArns": outcome.revoked,
        "stream": stop_word(outcome.stream),
    })))
}

/// Resumes a suspended channel: removes the suspended tag and creates a fresh key (returned
/// with its value) if it has none.
pub(crate) async fn resume_channel(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    set_suspended_tag(api, &channel, false).await?;
    let outcome = api.ivs().resume_channel(&channel).await?;
    let fact = match &outcome {
        ResumeOutcome::Created(key) => {
            lifecycle::channel_resumed(&channel, &call.request_id, Some(&key.arn), true, Utc::now())
        }
        ResumeOutcome::KeyExists { key_arn } => {
            lifecycle::channel_resumed(&channel, &call.request_id, Some(key_arn), false, Utc::now())
        }
    };
    api.announce(&[fact], true).await?;
    match outcome {
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
