//! The floor with the project's start-up choices, so that the project can be compared like
//! for like: the HTTPS client the functions use (`ivs_adapter::tls`: only Amazon's roots trusted,
//! nothing read from the system trust store) and a single-threaded tokio runtime (Lambda
//! gives an instance one event at a time, so no worker threads are started). Same handler
//! as `bench-floor`; nothing else of the IVS adapter is used.

#[path = "handler.rs"]
mod handler;

use aws_config::BehaviorVersion;
use aws_sdk_ivs::Client;
use ivs_adapter::tls::TrustRoots;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(http) = TrustRoots::Amazon.http_client() {
        loader = loader.http_client(http);
    }
    let client = Client::new(&loader.load().await);
    let client = &client;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(client, event).await
    }))
    .await
}
