//! The admin HTTP API behind API Gateway. All logic lives in `shared::admin`; this builds it
//! once per container and runs it.

use lambda_http::{run, service_fn, Error, Request};
use shared::admin::AdminApi;
use shared::logging;

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
