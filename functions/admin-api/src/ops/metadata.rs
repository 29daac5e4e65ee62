//! Timed metadata: one payload, or a batch of items packed into payloads and sent at IVS's
//! pace.

use serde::Deserialize;
use serde_json::{json, Value};

use super::Result;
use crate::error::ApiError;
use crate::input::json_body;
use crate::{AdminApi, Call, Failure, Reply};
use domain::arn::ResourceType;
use ivs_adapter::ivs::{
    pack, BatchOutcome, MetadataOutcome, PackError, SendError, DEFAULT_METADATA_RATE,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataBody {
    metadata: String,
}

pub(crate) async fn put_metadata(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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

pub(crate) async fn put_metadata_batch(api: &AdminApi, call: &Call<'_>) -> Result<Reply> {
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
