//! Live streams and stream sessions: get, list, stop.

use aws_sdk_ivs::types::{StreamFilters, StreamHealth};
use serde_json::{json, Value};

use super::{channel_list_query, list_query, one_of, page_reply, stop_word, Result, TagsOnly};
use crate::error::ApiError;
use crate::input::json_body;
use crate::views;
use crate::{AdminApi, Call, Reply};
use domain::arn::{IvsArn, ResourceType};
use ivs_adapter::ivs::RetryOn;

pub(crate) async fn get_stream(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

pub(crate) async fn list_streams(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let page = list_query(call, &["health"], 100)?;
    let health = call.query.one("health")?.map(str::to_owned);
    if let Some(h) = &health {
        one_of("health", h, StreamHealth::values())?;
    }
    let filter = health.as_deref().map(|h| {
        StreamFilters::builder()
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
    Ok(page_reply(
        "streams",
        out.streams(),
        views::stream_summary,
        out.next_token(),
    ))
}

pub(crate) async fn list_stream_sessions(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let (channel, page) = channel_list_query(call, 100)?;
    let out = api
        .call("ListStreamSessions", RetryOn::Transient, |c| {
            c.list_stream_sessions()
                .channel_arn(channel.as_str())
                .set_next_token(page.next_token.clone())
                .set_max_results(page.max_results)
                .send()
        })
        .await?;
    Ok(page_reply(
        "streamSessions",
        out.stream_sessions(),
        views::stream_session_summary,
        out.next_token(),
    ))
}

/// The channel's latest stream session (live or ended).
pub(crate) async fn get_latest_stream_session(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let session = fetch_stream_session(api, &channel, None).await?;
    Ok(Reply::ok(json!({ "streamSession": session })))
}

pub(crate) async fn get_stream_session(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let id = call.params.get("streamId").unwrap_or_default();
    let valid = id.len() > 3
        && id.len() <= 26
        && id.starts_with("st-")
        && id[3..].bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid {
        return Err(ApiError::bad_field("streamId", "must be a stream id (st-…)").into());
    }
    let session = fetch_stream_session(api, &channel, Some(id)).await?;
    Ok(Reply::ok(json!({ "streamSession": session })))
}

/// The session `stream_id` of `channel` (its latest without one); `null` if IVS gives none.
pub(super) async fn fetch_stream_session(
    api: &AdminApi,
    channel: &IvsArn,
    stream_id: Option<&str>,
) -> Result<Value> {
    let out = api
        .call("GetStreamSession", RetryOn::Transient, |c| {
            c.get_stream_session()
                .channel_arn(channel.as_str())
                .set_stream_id(stream_id.map(str::to_owned))
                .send()
        })
        .await?;
    Ok(out
        .stream_session()
        .map(views::stream_session)
        .unwrap_or(Value::Null))
}

/// Stops the live stream; an offline channel is success ("alreadyStopped").
pub(crate) async fn stop_stream(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
    let channel = call.arn("channelId", ResourceType::Channel)?;
    let _: TagsOnly = json_body(call.body)?;
    let outcome = api.ivs().stop_stream(&channel).await?;
    Ok(Reply::ok(json!({ "stream": stop_word(outcome) })))
}
