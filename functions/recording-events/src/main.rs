//! Reacts to IVS Recording State Change events.
//! All logic lives in the `shared` crate; this builds it once per container and runs it.

use lambda_runtime::{run, service_fn, Error};
use shared::{logging, Automation, RECORDING_EVENTS};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let automation = Automation::from_env(RECORDING_EVENTS).await?;
    run(service_fn(|event| automation.handle(event))).await
}
