//! The floor with the project's start-up choices, so that the project can be compared like
//! for like: the HTTPS client the functions use (`ivs_adapter::tls`: only Amazon's roots trusted
//! unless the operator set SSL_CERT_FILE or SSL_CERT_DIR) and a single-threaded tokio runtime (Lambda
//! gives an instance one event at a time, so no worker threads are started). Same handler
//! as `bench-floor`; nothing else of the IVS adapter is used.

#[path = "handler.rs"]
mod handler;

use aws_config::BehaviorVersion;
use aws_sdk_ivs::Client;
use ivs_adapter::https::HttpsClient;
use ivs_adapter::tls::TrustRoots;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The project's choice of roots (Amazon's, or the system store where the operator set
    // SSL_CERT_FILE, as the HTTPS benchmark does to trust its throwaway authority).
    let roots = TrustRoots::from_env().unwrap_or(TrustRoots::Amazon);
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(HttpsClient::new(roots).shared());
    let client = Client::new(&loader.load().await);
    let client = &client;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(client, event).await
    }))
    .await
}
