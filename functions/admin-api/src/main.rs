//! The admin HTTP API behind API Gateway. Its logic is this crate's library; this builds it
//! once per container and runs it.

use admin_api::AdminApi;
use ivs_adapter::logging;
use lambda_http::{run, service_fn, Error, Request};

// One thread: an instance answers one invocation at a time, and a multi-threaded runtime
// costs start-up time (its worker threads) for nothing (BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let api = AdminApi::from_env().await?;
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(api.handle(request).await)
    }))
    .await
}
