//! The floor with the proposed start-up fix (see `trust.rs`) and a single-threaded tokio
//! runtime: Lambda gives an instance one event at a time, so no worker threads need to be
//! started (nor the CPU quota read from the cgroup to size them). Same handler as
//! `bench-floor`.

#[path = "handler.rs"]
mod handler;
#[path = "trust.rs"]
mod trust;

use aws_sdk_ivs::Client;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let client = Client::new(&trust::sdk_config().await?);
    let client = &client;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(client, event).await
    }))
    .await
}
