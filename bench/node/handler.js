// The Node.js reference: what a user would otherwise write, a handler doing the project's
// functions' IVS work with @aws-sdk/client-ivs (the same calls as the Rust floor, bench/floor):
// - API Gateway HTTP API `GET /channels/{id}`: GetChannel, answered as JSON;
// - EventBridge `Stream Start`: ListTagsForResource, then PutMetadata with the start metadata;
// - any other EventBridge event (`Recording Start Failure`): ListTagsForResource;
// - an SQS batch of such events (the event source mapping's shape, which the HTTPS section of
//   the benchmark sends as production does): per record, BatchGetChannel for the tags instead
//   of ListTagsForResource, then the same; answered `{"batchItemFailures": []}`.
// It publishes no lifecycle events (no EventBridge client), as the Rust floor.
// The client is created once per container, outside the handler, as AWS recommends.
"use strict";

const {
  IvsClient,
  BatchGetChannelCommand,
  GetChannelCommand,
  ListTagsForResourceCommand,
  PutMetadataCommand,
} = require("@aws-sdk/client-ivs");

const client = new IvsClient({});

exports.handler = async (event, context) => {
  if (event.requestContext && event.requestContext.http) {
    // arn:aws:lambda:<region>:<account>:function:<name>
    const [, , , region, account] = context.invokedFunctionArn.split(":");
    const id = event.rawPath.replace(/^\/channels\//, "");
    const out = await client.send(new GetChannelCommand({ arn: `arn:aws:ivs:${region}:${account}:channel/${id}` }));
    const c = out.channel;
    const body = {
      channel: {
        arn: c.arn,
        name: c.name,
        latencyMode: c.latencyMode,
        type: c.type,
        ingestEndpoint: c.ingestEndpoint,
        playbackUrl: c.playbackUrl,
      },
    };
    return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  }
  if (Array.isArray(event.Records)) {
    for (const record of event.Records) {
      const inner = JSON.parse(record.body);
      const channel = inner.resources[0];
      const read = await client.send(new BatchGetChannelCommand({ arns: [channel] }));
      const found = (read.channels || [])[0];
      if (!found) {
        throw new Error(`BatchGetChannel found no channel ${channel}`);
      }
      await onEvent(inner, channel, Object.keys(found.tags || {}).length);
    }
    return { batchItemFailures: [] };
  }
  const channel = event.resources[0];
  const tags = await client.send(new ListTagsForResourceCommand({ resourceArn: channel }));
  return onEvent(event, channel, Object.keys(tags.tags || {}).length);
};

// What follows the tag read: PutMetadata for a `Stream Start`; the event's answer.
async function onEvent(event, channel, tagCount) {
  const actions = [{ action: "read_tags", tags: tagCount }];
  if (event.detail && event.detail.event_name === "Stream Start") {
    const metadata = JSON.stringify({
      type: "stream-start",
      channel: event.detail.channel_name,
      streamId: event.detail.stream_id,
      startedAt: event.time,
    });
    await client.send(new PutMetadataCommand({ channelArn: channel, metadata }));
    actions.push({ action: "put_metadata", outcome: "delivered" });
  }
  return { eventId: event.id, actions };
}
