//! The benchmark's floor: the smallest Rust Lambda that makes the same IVS calls as the
//! project's functions, and nothing else (no logging set-up, no policy, no retries of its own,
//! no typed events). `lambda_runtime` + `aws-config` + `aws-sdk-ivs`, with the workspace's
//! features, so that the difference to a project function is the project's own start-up work.
//!
//! What it does per event (the calls the functions make for the benchmark's events):
//! - an API Gateway HTTP API event (`GET /channels/{id}`): `GetChannel`, answered as JSON;
//! - an EventBridge `Stream Start`: `ListTagsForResource` on `resources[0]`, then
//!   `PutMetadata` with the default start metadata;
//! - any other EventBridge event (`Recording Start Failure`): `ListTagsForResource`;
//! - an SQS batch of such events (the event source mapping's shape, which the HTTPS section
//!   sends as production does): per record, `BatchGetChannel` for the tags instead of
//!   `ListTagsForResource`, then the same; answered `{"batchItemFailures": []}`.
//!
//! It publishes no lifecycle events (no EventBridge client): the project's functions do.

mod handler;

use aws_config::BehaviorVersion;
use aws_sdk_ivs::Client;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = Client::new(&config);
    let client = &client;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(client, event).await
    }))
    .await
}
