//! Reacts to IVS Recording State Change events.
//! The logic is `ivs_adapter::Automation` (deciding is the domain's); this builds it once per
//! container and runs it.

use ivs_adapter::{logging, Automation, RECORDING_EVENTS};
use lambda_runtime::{run, service_fn, Error};

// One thread: an instance answers one invocation at a time, and a multi-threaded runtime
// costs start-up time (its worker threads) for nothing (BENCHMARKS.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let automation = Automation::from_env(RECORDING_EVENTS).await?;
    run(service_fn(|event| automation.handle(event))).await
}
