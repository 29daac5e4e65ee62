//! The real function binaries in the real `lambda_runtime` loop, against the local Runtime
//! API of `test_support::lambda`: responses and failures travel the way they do in Lambda,
//! and several instances of one function take its invocations at once, one each at a time.

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

/// An IVS endpoint that holds every request until released, counting the requests it holds
/// at once; once released it answers at once (`ListTagsForResource`: no tags,
/// `PutMetadata`: done, anything else `{}`).
struct HeldIvs {
    held: std::sync::atomic::AtomicUsize,
    most_held: std::sync::atomic::AtomicUsize,
    released: tokio::sync::watch::Sender<bool>,
}

/// One held request: counted while it waits (a request the client gives up on is dropped).
struct Holding<'a>(&'a HeldIvs);

impl<'a> Holding<'a> {
    fn new(ivs: &'a HeldIvs) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let now = ivs.held.fetch_add(1, SeqCst) + 1;
        ivs.most_held.fetch_max(now, SeqCst);
        Holding(ivs)
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0
            .held
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn held_ivs(
    axum::extract::State(ivs): axum::extract::State<std::sync::Arc<HeldIvs>>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut released = ivs.released.subscribe();
    if !*released.borrow_and_update() {
        let _holding = Holding::new(&ivs);
        let _ = released.wait_for(|r| *r).await;
    }
    if uri.path().starts_with("/tags/") {
        axum::Json(serde_json::json!({"tags": {}})).into_response()
    } else if uri.path() == "/PutMetadata" {
        axum::http::StatusCode::NO_CONTENT.into_response()
    } else {
        axum::Json(serde_json::json!({})).into_response()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_a_function_run_two_invocations_at_once() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    // IVS holds every call until told otherwise.
    let (released, _) = tokio::sync::watch::channel(false);
    let ivs = Arc::new(HeldIvs {
        held: Default::default(),
        most_held: Default::default(),
        released,
    });
    let app = axum::Router::new()
        .fallback(held_ivs)
        .with_state(ivs.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ivs_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // Two instances of stream-events; a Stream Start reads the channel's tags (held), then
    // puts the start metadata.
    let mut env = offline_env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL_IVS");
    env.extend([
        ("AWS_ENDPOINT_URL_IVS", ivs_url),
        ("START_METADATA", "true".to_owned()),
        ("POLICY_CACHE_SECONDS", "0".to_owned()),
        ("IVS_RATE_FACTOR", "0".to_owned()),
        ("WARM_UP_AT_INIT", "false".to_owned()),
    ]);
    let lambda = Arc::new(LocalLambda::start().await);
    let name = "stream-events";
    let instances = lambda.spawn_instances(name, &function_binaries().join(name), &env, 2);
    assert_eq!(instances, 0..2);
    assert_eq!(lambda.instances(name), 2);
    let until = Instant::now() + Duration::from_secs(30);
    while (0..2).any(|i| lambda.instance_phases(name, i).init_done.is_none()) {
        assert!(Instant::now() < until, "{:#?}", lambda.logs(name));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pids = lambda.pids(name);
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1]);
    assert_eq!(lambda.pid(name), Some(pids[0]));

    // Three invocations at once.
    let calls: Vec<_> = (0..3)
        .map(|n| {
            let lambda = lambda.clone();
            let mut event = fixture("stream-state-change/stream-start.json");
            event["id"] = serde_json::json!(format!("start-{n}"));
            tokio::spawn(async move { lambda.invoke("stream-events", &event).await })
        })
        .collect();
    // Both instances are inside an invocation, each waiting on IVS, at the same time: two
    // invocations run at once. The third waits for a free instance (each takes one at a time).
    let until = Instant::now() + Duration::from_secs(20);
    while ivs.held.load(SeqCst) < 2 {
        assert!(
            Instant::now() < until,
            "IVS never held two calls at once (held {}, invocations {}): {:#?}",
            ivs.held.load(SeqCst),
            lambda.invocations(name),
            lambda.logs(name)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(lambda.invocations(name), 2);
    assert_eq!(lambda.instance_invocations(name, 0), 1);
    assert_eq!(lambda.instance_invocations(name, 1), 1);
    // Never more calls held than instances: one invocation per instance at a time.
    assert_eq!(ivs.most_held.load(SeqCst), 2);

    // Released, every invocation completes.
    ivs.released.send_replace(true);
    for call in calls {
        let output = call.await.unwrap().ok();
        assert_eq!(output["name"], "Stream Start");
    }
    assert_eq!(lambda.invocations(name), 3);
    assert_eq!(
        lambda.instance_invocations(name, 0) + lambda.instance_invocations(name, 1),
        3
    );
    // Each instance's log lines are its own; the function's are all of them.
    let own: usize = (0..2).map(|i| lambda.instance_logs(name, i).len()).sum();
    assert_eq!(lambda.logs(name).len(), own);
    assert!((0..2).all(|i| lambda.instance_phases(name, i).first_answer.is_some()));
    server.abort();
}
