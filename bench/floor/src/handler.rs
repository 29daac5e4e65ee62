//! The floor's handler: the IVS calls the project's functions make for the benchmark's events,
//! for one EventBridge event (the plain-HTTP section: `ListTagsForResource`) or an SQS batch
//! of them as the event source mapping delivers it (the HTTPS section, as production: one
//! `BatchGetChannel` per record for the channel's tags, answered with no failed record). No
//! lifecycle events: the floor has no EventBridge client.

use aws_sdk_ivs::Client;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};

pub async fn handle(client: &Client, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if payload.pointer("/requestContext/http").is_some() {
        // arn:aws:lambda:<region>:<account>:function:<name>
        let function_arn: Vec<&str> = context.invoked_function_arn.split(':').collect();
        let id = payload["rawPath"]
            .as_str()
            .and_then(|p| p.strip_prefix("/channels/"))
            .ok_or("the floor only answers GET /channels/{id}")?;
        let arn = format!(
            "arn:aws:ivs:{}:{}:channel/{id}",
            function_arn.get(3).copied().unwrap_or_default(),
            function_arn.get(4).copied().unwrap_or_default()
        );
        let channel = client.get_channel().arn(arn).send().await?;
        let channel = channel.channel().ok_or("no channel")?;
        let body = json!({"channel": {
            "arn": channel.arn(),
            "name": channel.name(),
            "latencyMode": channel.latency_mode().map(|m| m.as_str()),
            "type": channel.r#type().map(|t| t.as_str()),
            "ingestEndpoint": channel.ingest_endpoint(),
            "playbackUrl": channel.playback_url(),
        }});
        return Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": body.to_string(),
        }));
    }
    if let Some(records) = payload["Records"].as_array() {
        for record in records {
            let body = record["body"].as_str().ok_or("a record without a body")?;
            let event: Value = serde_json::from_str(body)?;
            let channel = channel_of(&event)?;
            let read = client.batch_get_channel().arns(&channel).send().await?;
            let tags = read
                .channels()
                .first()
                .ok_or("BatchGetChannel found no channel")?
                .tags()
                .map_or(0, |t| t.len());
            on_event(client, &event, &channel, tags).await?;
        }
        return Ok(json!({"batchItemFailures": []}));
    }
    let channel = channel_of(&payload)?;
    let tags = client
        .list_tags_for_resource()
        .resource_arn(&channel)
        .send()
        .await?;
    on_event(client, &payload, &channel, tags.tags().len()).await
}

fn channel_of(event: &Value) -> Result<String, Error> {
    Ok(event["resources"][0]
        .as_str()
        .ok_or("no resources[0]")?
        .to_owned())
}

/// What follows the tag read: `PutMetadata` for a `Stream Start`; the event's answer.
async fn on_event(
    client: &Client,
    payload: &Value,
    channel: &str,
    tags: usize,
) -> Result<Value, Error> {
    let mut actions = vec![json!({"action": "read_tags", "tags": tags})];
    if payload["detail"]["event_name"] == "Stream Start" {
        let detail = &payload["detail"];
        let metadata = json!({
            "type": "stream-start",
            "channel": detail["channel_name"],
            "streamId": detail["stream_id"],
            "startedAt": payload["time"],
        });
        client
            .put_metadata()
            .channel_arn(channel)
            .metadata(metadata.to_string())
            .send()
            .await?;
        actions.push(json!({"action": "put_metadata", "outcome": "delivered"}));
    }
    Ok(json!({"eventId": payload["id"], "actions": actions}))
}
