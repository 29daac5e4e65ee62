//! The scheduled sweeper: missed rotations, streams past their maximum duration, old keys.
//! The loop is this crate's library, the plan `domain::sweep`; this builds it once per
//! container and runs it.

use ivs_adapter::logging;
use lambda_runtime::{run, service_fn, Error};
use sweeper::Sweeper;

// One thread: an instance answers one invocation at a time, and a multi-threaded runtime
// costs start-up time (its worker threads) for nothing (BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let sweeper = Sweeper::from_env().await?;
    run(service_fn(|event| sweeper.handle(event))).await
}
