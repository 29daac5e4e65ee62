//! The real function binaries in the real `lambda_runtime` loop, against the local Runtime
//! API of `test_support::lambda`: responses and failures travel the way they do in Lambda.

use serde_json::Value;
use test_support::lambda::{function_binaries, Invoked, LocalLambda};
use test_support::*;

/// Environment of a function whose IVS endpoint is a closed loopback port: these events must
/// be settled without any IVS call.
fn offline_env() -> Vec<(&'static str, String)> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    vec![
        ("AWS_REGION", "us-west-2".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY".into()),
        ("AWS_SECRET_ACCESS_KEY", "local-only".into()),
        ("AWS_ENDPOINT_URL_IVS", format!("http://127.0.0.1:{closed}")),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG".into()),
    ]
}

#[tokio::test]
async fn responses_and_failures_travel_through_the_runtime_api() {
    let bins = function_binaries();
    let lambda = LocalLambda::start().await;
    lambda.spawn("stream-events", &bins.join("stream-events"), &offline_env());
    lambda.spawn(
        "recording-events",
        &bins.join("recording-events"),
        &offline_env(),
    );

    let output = lambda
        .invoke(
            "stream-events",
            &fixture("limit-breach/concurrent-viewers.json"),
        )
        .await
        .ok();
    assert_eq!(output["name"], "Concurrent Viewers");
    assert_eq!(output["actions"][0]["outcome"], "limit_breach");

    let failed = lambda
        .invoke(
            "recording-events",
            &fixture("recording-state-change/recording-end-failure-malformed-arn.json"),
        )
        .await;
    let Invoked::Err {
        error_type,
        error_message,
    } = failed
    else {
        panic!("the malformed event was accepted: {failed:?}")
    };
    assert_eq!(error_type, "Permanent.InvalidEvent");
    assert!(error_message.contains("invalid IVS ARN"), "{error_message}");

    // The function stays up after a failed invocation.
    let output = lambda
        .invoke(
            "recording-events",
            &fixture("other/unknown-detail-type.json"),
        )
        .await
        .ok();
    assert_eq!(output["actions"][0]["outcome"], "unrecognised");
    assert_eq!(lambda.invocations("recording-events"), 2);

    // Logs are JSON lines carrying the invocation's request id.
    let logs = lambda.logs("stream-events");
    let breach: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "IVS limit breached")
        .collect();
    assert_eq!(breach.len(), 1, "{logs:#?}");
    assert_eq!(breach[0]["level"], "WARN");
    assert!(breach[0]["spans"][0]["requestId"]
        .as_str()
        .is_some_and(|id| id.starts_with("00000000-0000-4000-8000-")));
}
