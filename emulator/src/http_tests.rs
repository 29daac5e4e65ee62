//! Tests of the HTTP surface (wire format, authentication, routing, the control API) and of event
//! delivery, against a server on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::config::{Config, JsonLinesTarget, LambdaTarget, Route, Target};
use crate::emulator::Emulator;
use crate::server::Server;

const AUTHORIZATION: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260105/us-west-2/ivs/aws4_request, \
    SignedHeaders=content-type;host;x-amz-date, \
    Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn error_type(&self) -> &str {
        self.headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

struct Harness {
    emulator: Emulator,
    server: Server,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Harness {
    async fn start(config: Config) -> Self {
        let emulator = Emulator::new(config);
        let server = emulator
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            emulator,
            server,
            client,
        }
    }

    async fn default() -> Self {
        Self::start(Config {
            seed: 3,
            ..Config::default()
        })
        .await
    }

    async fn send(&self, method: Method, path: &str, signed: bool, body: &str) -> Response {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server.url()));
        if signed {
            request = request
                .header("authorization", AUTHORIZATION)
                .header("x-amz-date", "20260105T100000Z");
        }
        let request = request
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Response {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn ivs(&self, operation: &str, body: Value) -> Response {
        self.send(
            Method::POST,
            &format!("/{operation}"),
            true,
            &body.to_string(),
        )
        .await
    }

    async fn control(&self, path: &str, body: Value) -> Response {
        self.send(
            Method::POST,
            &format!("/_emulator/{path}"),
            false,
            &body.to_string(),
        )
        .await
    }

    /// A new channel: (ARN, stream key value).
    async fn channel(&self) -> (String, String) {
        let created = self
            .ivs("CreateChannel", json!({"name": "demo"}))
            .await
            .json();
        (
            created["channel"]["arn"].as_str().unwrap().to_owned(),
            created["streamKey"]["value"].as_str().unwrap().to_owned(),
        )
    }
}

#[tokio::test]
async fn authentication_is_required_for_ivs_operations_only() {
    let h = Harness::default().await;
    let unsigned = h.send(Method::POST, "/ListChannels", false, "{}").await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
    assert_eq!(unsigned.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(
        unsigned.json(),
        json!({"message": "Missing Authentication Token"})
    );

    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/ListChannels", h.server.url()))
        .header("authorization", "AWS4-HMAC-SHA256 Credential=oops")
        .header("x-amz-date", "20260105T100000Z")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let malformed = h.client.request(request).await.unwrap();
    assert_eq!(malformed.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        malformed.headers()["x-amzn-errortype"],
        "IncompleteSignatureException"
    );

    let health = h.send(Method::GET, "/_emulator/health", false, "").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["region"], "us-west-2");
    assert_eq!(
        h.emulator.stats().operations["ListChannels"].errors["MissingAuthenticationTokenException"],
        1
    );
}

#[tokio::test]
async fn wire_format_of_successes_and_errors() {
    let h = Harness::default().await;
    let created = h.ivs("CreateChannel", json!({"name": "demo"})).await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.headers["content-type"], "application/json");
    assert_eq!(created.headers["x-amzn-requestid"].len(), 36);
    let arn = created.json()["channel"]["arn"].clone();

    let invalid = h.ivs("CreateChannel", json!({"name": "not valid!"})).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.error_type(), "ValidationException");
    assert!(invalid.json()["exceptionMessage"]
        .as_str()
        .unwrap()
        .contains("'name'"));

    let malformed = h
        .send(Method::POST, "/GetChannel", true, "{\"arn\": ")
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.error_type(), "ValidationException");
    let wrong_type = h.ivs("GetChannel", json!({"arn": 42})).await;
    assert_eq!(wrong_type.error_type(), "ValidationException");
    assert!(wrong_type.json()["exceptionMessage"]
        .as_str()
        .unwrap()
        .contains("'arn'"));

    let offline = h.ivs("GetStream", json!({"channelArn": arn})).await;
    assert_eq!(offline.status, StatusCode::NOT_FOUND);
    assert_eq!(offline.error_type(), "ChannelNotBroadcasting");

    let deleted = h.ivs("DeleteChannel", json!({"arn": arn})).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, "");
    assert!(deleted.headers.get("content-type").is_none());
    let missing = h.ivs("DeleteChannel", json!({"arn": arn})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_type(), "ResourceNotFoundException");
}

#[tokio::test]
async fn unknown_routes_answer_an_error_body() {
    let h = Harness::default().await;
    for (method, path) in [
        (Method::POST, "/NoSuchOperation"),
        (Method::GET, "/CreateChannel"),
        (Method::POST, "/deeper/path"),
        (
            Method::PUT,
            "/tags/arn:aws:ivs:us-west-2:111122223333:channel/abc",
        ),
        (Method::POST, "/TagResource"),
    ] {
        let response = h.send(method.clone(), path, true, "{}").await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            response.error_type(),
            "UnknownOperationException",
            "{method} {path}"
        );
        assert!(response.json()["message"].is_string());
    }
    for name in crate::NOT_EMULATED {
        let answer = h.ivs(name, json!({})).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(answer.error_type(), "UnknownOperationException", "{name}");
        assert_eq!(
            answer.json()["message"],
            format!("{name} is an IVS operation that ivs-emulator does not implement")
        );
    }
    let control = h.send(Method::GET, "/_emulator/nope", false, "").await;
    assert_eq!(control.status, StatusCode::NOT_FOUND);
    assert_eq!(control.json()["error"], "NotFound");
}

#[tokio::test]
async fn tagging_routes_take_the_arn_in_the_path() {
    let h = Harness::default().await;
    let (arn, _) = h.channel().await;
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let tagged = h
        .send(
            Method::POST,
            &format!("/tags/{encoded}"),
            true,
            r#"{"tags": {"team": "video", "env": "dev"}}"#,
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);
    assert_eq!(tagged.json(), json!({}));
    let untagged = h
        .send(
            Method::DELETE,
            &format!("/tags/{encoded}?tagKeys=env&tagKeys=nope"),
            true,
            "",
        )
        .await;
    assert_eq!(untagged.status, StatusCode::OK);
    // Unencoded ARNs work too.
    let listed = h.send(Method::GET, &format!("/tags/{arn}"), true, "").await;
    assert_eq!(listed.json(), json!({"tags": {"team": "video"}}));
    let no_keys = h
        .send(Method::DELETE, &format!("/tags/{encoded}"), true, "")
        .await;
    assert_eq!(no_keys.error_type(), "ValidationException");
    let missing = h
        .send(
            Method::GET,
            "/tags/arn%3Aaws%3Aivs%3Aus-west-2%3A111122223333%3Achannel%2Fnope",
            true,
            "",
        )
        .await;
    assert_eq!(missing.error_type(), "ResourceNotFoundException");
}

#[tokio::test]
async fn control_api_drives_ingest() {
    let h = Harness::default().await;
    let (arn, key) = h.channel().await;
    let refused = h
        .control("ingest/connect", json!({"streamKey": "sk_us-west-2_nope"}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"], "StreamKeyRefused");
    assert!(
        !refused.body.contains("sk_us-west-2_nope"),
        "key values never appear in errors"
    );

    let connected = h.control("ingest/connect", json!({"streamKey": key})).await;
    assert_eq!(connected.status, StatusCode::OK);
    let stream_id = connected.json()["streamId"].as_str().unwrap().to_owned();
    assert_eq!(connected.json()["channelArn"], arn.as_str());
    let again = h.control("ingest/connect", json!({"streamKey": key})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    assert_eq!(
        h.control("ingest/starve", json!({"channelArn": arn}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        h.control(
            "ingest/viewers",
            json!({"channelArn": arn, "viewerCount": 12})
        )
        .await
        .status,
        StatusCode::OK
    );
    let stream = h.ivs("GetStream", json!({"channelArn": arn})).await.json();
    assert_eq!(stream["stream"]["health"], "STARVING");
    assert_eq!(stream["stream"]["viewerCount"], 12);
    assert_eq!(
        h.control("ingest/recover", json!({"channelArn": arn}))
            .await
            .status,
        StatusCode::OK
    );
    let breach = h
        .control(
            "limit-breach",
            json!({"limitName": "Concurrent Broadcasts"}),
        )
        .await;
    assert_eq!(breach.status, StatusCode::OK);
    let bad_breach = h
        .control("limit-breach", json!({"limitName": "Ingest Bitrate"}))
        .await;
    assert_eq!(bad_breach.status, StatusCode::BAD_REQUEST);
    let typo = h.control("ingest/starve", json!({"channel": arn})).await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);

    let put = h
        .ivs(
            "PutMetadata",
            json!({"channelArn": arn, "metadata": "{\"q\":1}"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT);
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let metadata = h
        .send(
            Method::GET,
            &format!("/_emulator/metadata?channelArn={encoded}"),
            false,
            "",
        )
        .await
        .json();
    assert_eq!(metadata[0]["payload"], "{\"q\":1}");
    assert_eq!(metadata[0]["streamId"], stream_id.as_str());

    let disconnected = h
        .control("ingest/disconnect", json!({"channelArn": arn}))
        .await;
    assert_eq!(disconnected.json()["streamId"], stream_id.as_str());
    let events = h.send(Method::GET, "/_emulator/events", false, "").await;
    assert!(
        events.body.starts_with("[{\"version\":\"0\",\"id\":"),
        "{}",
        events.body
    );
    let names: Vec<String> = events
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["detail"]["event_name"]
                .as_str()
                .or(e["detail"]["limit_name"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "Session Created",
            "Stream Start",
            "Starvation Start",
            "Starvation End",
            "Concurrent Broadcasts",
            "Stream End",
            "Session Ended"
        ]
    );
}

#[tokio::test]
async fn faults_hit_ivs_operations_and_spare_the_control_api() {
    let h = Harness::default().await;
    let set = h
        .control(
            "faults",
            json!({"rules": [{"operation": "*", "throttle": 1.0, "latencyMs": 1}]}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.json()["rules"][0]["latencyMs"], 1);
    let throttled = h.ivs("ListChannels", json!({})).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.error_type(), "ThrottlingException");
    assert_eq!(
        h.send(Method::GET, "/_emulator/health", false, "")
            .await
            .status,
        StatusCode::OK
    );
    let bad = h
        .control(
            "faults",
            json!({"rules": [{"operation": "*", "throttle": 2.0}]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    h.control("faults", json!({"rules": []})).await;
    let scripted = h
        .control(
            "faults/next",
            json!({"operation": "GetChannel", "error": "AccessDeniedException"}),
        )
        .await;
    assert_eq!(scripted.status, StatusCode::OK);
    let denied = h
        .ivs(
            "GetChannel",
            json!({"arn": "arn:aws:ivs:us-west-2:111122223333:channel/abc"}),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.error_type(), "AccessDeniedException");
    let unmodelled = h
        .control(
            "faults/next",
            json!({"operation": "GetChannel", "error": "ConflictException"}),
        )
        .await;
    assert_eq!(unmodelled.status, StatusCode::BAD_REQUEST);

    let stats = h
        .send(Method::GET, "/_emulator/stats", false, "")
        .await
        .json();
    assert_eq!(stats["operations"]["ListChannels"]["faults"]["throttle"], 1);
    assert_eq!(stats["operations"]["ListChannels"]["faults"]["latency"], 1);
    assert_eq!(stats["operations"]["GetChannel"]["faults"]["scripted"], 1);
}

#[tokio::test]
async fn metadata_throttling_is_counted() {
    let h = Harness::default().await;
    let (arn, key) = h.channel().await;
    h.emulator.connect(&key).unwrap();
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(
            h.ivs(
                "PutMetadata",
                json!({"channelArn": arn, "metadata": format!("m{i}")}),
            )
            .await
            .status,
        );
    }
    assert_eq!(&statuses[..5], &[StatusCode::NO_CONTENT; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        h.emulator.stats().operations["PutMetadata"].metadata_throttled,
        1
    );
    assert_eq!(h.emulator.metadata(&arn).len(), 5);
}

#[tokio::test]
async fn rate_quotas_answer_throttling_exception_and_are_set_by_the_control_api() {
    let h = Harness::default().await;
    let quotas = h
        .send(Method::GET, "/_emulator/rate-quotas", false, "")
        .await
        .json();
    assert_eq!(quotas["factor"], 1.0);
    assert_eq!(quotas["enabled"], true);
    assert_eq!(quotas["operations"]["ListChannels"], 5.0);
    assert_eq!(quotas["operations"]["PutMetadata"], 155.0);
    assert_eq!(quotas["putMetadataPerChannel"], 5);

    // Eight calls back to back: the first five pass (a full bucket), and no more than the
    // tokens that flowed in meanwhile (one per 200 ms) let another one through.
    let (answers, elapsed) = burst(&h, "ListChannels", 8).await;
    assert!(answers[..5].iter().all(|a| a.status == StatusCode::OK));
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert!(
        ok <= most_accepted(5.0, 5.0, elapsed),
        "{ok} in {elapsed:?}"
    );
    let throttled = answers
        .iter()
        .find(|a| a.status != StatusCode::OK)
        .expect("some calls were throttled");
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.error_type(), "ThrottlingException");
    let message = throttled.json()["exceptionMessage"].clone();
    assert_eq!(
        message,
        "Rate exceeded: ListChannels allows 5 requests per second per account"
    );
    // Unauthenticated requests take no token; the control API is never throttled.
    assert_eq!(
        h.send(Method::POST, "/ListStreams", false, "{}")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    for _ in 0..20 {
        let health = h.send(Method::GET, "/_emulator/health", false, "").await;
        assert_eq!(health.status, StatusCode::OK);
    }
    let stats = h.emulator.stats();
    let list = &stats.operations["ListChannels"];
    let refused = 8 - ok as u64;
    assert_eq!((list.requests, list.rate_throttled), (8, refused));
    assert_eq!(list.errors["ThrottlingException"], refused);
    assert_eq!(list.faults, crate::stats::FaultCounts::default());

    let bad = h.control("rate-quotas", json!({"factor": -1})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let off = h.control("rate-quotas", json!({"factor": 0})).await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.json()["enabled"], false);
    assert_eq!(off.json()["operations"], json!({}));
    for _ in 0..20 {
        assert_eq!(
            h.ivs("ListChannels", json!({})).await.status,
            StatusCode::OK
        );
    }
    let scaled = h.control("rate-quotas", json!({"factor": 0.5})).await;
    assert_eq!(scaled.json()["operations"]["ListChannels"], 2.5);
    let (answers, elapsed) = burst(&h, "ListStreams", 5).await;
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert!(answers[..2].iter().all(|a| a.status == StatusCode::OK));
    assert!(
        ok <= most_accepted(2.5, 2.5, elapsed),
        "{ok} in {elapsed:?}"
    );
}

/// `count` calls of `operation` back to back: the answers, and how long they took.
async fn burst(h: &Harness, operation: &str, count: usize) -> (Vec<Response>, Duration) {
    let start = std::time::Instant::now();
    let mut answers = Vec::new();
    for _ in 0..count {
        answers.push(h.ivs(operation, json!({})).await);
    }
    (answers, start.elapsed())
}

/// The most requests a full token bucket of `capacity` refilled at `rate` per second can accept
/// within `elapsed`.
fn most_accepted(capacity: f64, rate: f64, elapsed: Duration) -> usize {
    (capacity + rate * elapsed.as_secs_f64()).floor() as usize
}

#[tokio::test]
async fn seeding_goes_around_the_quotas() {
    let h = Harness::default().await;
    let seeded = h
        .control(
            "seed",
            json!({"channels": 120, "namePrefix": "s-", "tags": {"team": "a"}, "live": 30, "pastSessions": 1}),
        )
        .await;
    assert_eq!(seeded.status, StatusCode::OK, "{}", seeded.body);
    let seeded = seeded.json();
    assert_eq!(seeded["created"], 120);
    assert_eq!(seeded["live"], 30);
    let channels = seeded["channels"].as_array().unwrap();
    assert_eq!(channels[0]["name"], "s-000");
    assert!(channels[0]["streamKey"]
        .as_str()
        .unwrap()
        .starts_with("sk_us-west-2_"));
    let live = channels
        .iter()
        .filter(|c| c["streamId"].is_string())
        .count();
    assert_eq!(live, 30);
    // No IVS request was counted, no event emitted.
    let stats = h.emulator.stats();
    assert!(stats.operations.is_empty(), "{:?}", stats.operations);
    assert_eq!(stats.events_emitted, 0);
    let streams = h.ivs("ListStreams", json!({})).await.json();
    assert_eq!(streams["streams"].as_array().unwrap().len(), 30);

    let over = h.control("seed", json!({"channels": 4_881})).await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    assert_eq!(over.json()["error"], "InvalidRequest");
    assert!(over.body.contains("channelQuota"), "{}", over.body);
    let bad = h
        .control("seed", json!({"channels": 1, "live": "half"}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn subscribers_get_every_event_in_order() {
    let h = Harness::default().await;
    let (arn, key) = h.channel().await;
    let mut subscription = h.emulator.subscribe();
    h.emulator.connect(&key).unwrap();
    h.ivs("StopStream", json!({"channelArn": arn})).await;
    let first = subscription
        .recv_timeout(Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(first["detail"]["event_name"], "Session Created");
    let rest: Vec<_> = subscription
        .drain()
        .iter()
        .map(|e| e["detail"]["event_name"].clone())
        .collect();
    assert_eq!(
        rest,
        [
            json!("Stream Start"),
            json!("Stream End"),
            json!("Session Ended")
        ]
    );
    assert!(subscription.try_recv().is_none());
    assert_eq!(h.emulator.events().len(), 4);
}

#[tokio::test]
async fn reconnect_window_ends_the_recording_later() {
    let h = Harness::default().await;
    let config = h
        .ivs(
            "CreateRecordingConfiguration",
            json!({"destinationConfiguration": {"s3": {"bucketName": "bucket"}}, "recordingReconnectWindowSeconds": 1}),
        )
        .await
        .json();
    let created = h
        .ivs(
            "CreateChannel",
            json!({"recordingConfigurationArn": config["recordingConfiguration"]["arn"]}),
        )
        .await
        .json();
    let arn = created["channel"]["arn"].as_str().unwrap().to_owned();
    let key = created["streamKey"]["value"].as_str().unwrap().to_owned();
    let mut subscription = h.emulator.subscribe();
    h.emulator.connect(&key).unwrap();
    h.emulator.disconnect(&arn).unwrap();
    let names = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                e["detail"]["event_name"]
                    .as_str()
                    .or(e["detail"]["recording_status"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        names(subscription.drain()),
        [
            "Session Created",
            "Stream Start",
            "Recording Start",
            "Stream End",
            "Session Ended"
        ]
    );
    let end = subscription
        .recv_timeout(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(end["detail"]["recording_status"], "Recording End");
}

/// A stand-in for the Lambda Invoke API: records the events each function receives; `flaky`
/// fails its first two invocations, `broken` always reports a function error.
async fn fake_lambda() -> (Server, Arc<Mutex<Vec<(String, Value)>>>) {
    use axum::extract::{Path, State};
    use axum::response::IntoResponse;
    use axum::routing::post;

    type Received = Arc<Mutex<Vec<(String, Value)>>>;
    let received: Received = Arc::default();
    let attempts: Arc<Mutex<u32>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(
                |State((received, attempts)): State<(Received, Arc<Mutex<u32>>)>,
                 Path(name): Path<String>,
                 body: Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    match name.as_str() {
                        "flaky" => {
                            let mut count = attempts.lock().unwrap();
                            *count += 1;
                            if *count <= 2 {
                                return (StatusCode::INTERNAL_SERVER_ERROR, "try again")
                                    .into_response();
                            }
                        }
                        "broken" => {
                            return (
                                [("x-amz-function-error", "Unhandled")],
                                "{\"errorMessage\":\"boom\"}",
                            )
                                .into_response();
                        }
                        _ => {}
                    }
                    received.lock().unwrap().push((name, event));
                    "null".into_response()
                },
            ),
        )
        .with_state((received.clone(), attempts));
    let server = Server::start(app, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (server, received)
}

#[tokio::test]
async fn lambda_delivery_routes_retries_and_dead_letters() {
    let (lambda, received) = fake_lambda().await;
    let mut target = LambdaTarget::new(
        lambda.url(),
        vec![
            Route::new("Stream State Change", "stream-events"),
            Route::new("Stream Health Change", "flaky"),
            Route::new("Limit Breach", "broken"),
        ],
    );
    target.retry_delay = Duration::from_millis(10);
    let events_file =
        std::env::temp_dir().join(format!("ivs-emulator-events-{}.jsonl", std::process::id()));
    let config = Config {
        seed: 5,
        targets: vec![
            Target::Lambda(target),
            Target::JsonLines(JsonLinesTarget::File(events_file.clone())),
        ],
        ..Config::default()
    };
    let h = Harness::start(config).await;
    let (arn, key) = h.channel().await;
    h.emulator.connect(&key).unwrap();
    h.emulator.starve(&arn).unwrap();
    h.emulator.breach(None, "Concurrent Viewers").unwrap();
    h.emulator.disconnect(&arn).unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = h.emulator.stats();
        let lines_written = stats
            .deliveries
            .get(&format!("json-lines:{}", events_file.display()))
            .map(|d| d.delivered);
        let done = received.lock().unwrap().len() == 5
            && stats.dead_letters == 1
            && lines_written == Some(6);
        if done || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = received.lock().unwrap().clone();
    let stream_events: Vec<_> = received
        .iter()
        .filter(|(name, _)| name == "stream-events")
        .map(|(_, e)| e["detail"]["event_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stream_events,
        [
            "Session Created",
            "Stream Start",
            "Stream End",
            "Session Ended"
        ]
    );
    assert!(received
        .iter()
        .any(|(name, e)| name == "flaky" && e["detail"]["event_name"] == "Starvation Start"));

    let stats = h.emulator.stats();
    assert_eq!(stats.deliveries["lambda:flaky"].failed_attempts, 2);
    assert_eq!(stats.deliveries["lambda:flaky"].delivered, 1);
    assert_eq!(stats.deliveries["lambda:broken"].failed_attempts, 3);
    assert_eq!(stats.deliveries["lambda:broken"].dead_lettered, 1);
    let dead = h.emulator.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].target, "lambda:broken");
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].error.contains("Unhandled"));
    assert_eq!(dead[0].event["detail"]["limit_name"], "Concurrent Viewers");
    let listed = h
        .send(Method::GET, "/_emulator/dead-letters", false, "")
        .await
        .json();
    assert_eq!(listed[0]["target"], "lambda:broken");

    let lines = std::fs::read_to_string(&events_file).unwrap();
    let _ = std::fs::remove_file(&events_file);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(lines
        .iter()
        .all(|line| line.starts_with("{\"version\":\"0\",\"id\":\"")));
    assert_eq!(
        stats.deliveries[&format!("json-lines:{}", events_file.display())].delivered,
        6
    );
}

#[tokio::test]
async fn unreachable_lambda_endpoints_dead_letter_after_retries() {
    // A port nobody listens on: bind one, note it, free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut target = LambdaTarget::new(
        format!("http://127.0.0.1:{port}"),
        vec![Route::new("*", "anything")],
    );
    target.retry_delay = Duration::from_millis(5);
    let h = Harness::start(Config {
        seed: 9,
        targets: vec![Target::Lambda(target)],
        ..Config::default()
    })
    .await;
    h.emulator.breach(None, "Concurrent Broadcasts").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.emulator.dead_letters().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dead = h.emulator.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
}

#[tokio::test]
async fn servers_refuse_non_loopback_addresses_and_stop() {
    let emulator = Emulator::new(Config::default());
    let err = emulator
        .serve("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let server = emulator
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.addr();
    server.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
