//! The admin API end to end against the IVS emulator: every route with real resources,
//! successes and the main errors, playback tokens verified with the public key, and no
//! secret (stream key value, token, private key) in any log line.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use admin_api::token::SignerCell;
use admin_api::AdminApi;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use ivs_emulator::{Emulator, FaultConfig, FaultRule, Server};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use lambda_http::Body;
use serde_json::{json, Value};
use test_support::*;
use tracing::instrument::WithSubscriber;

struct Admin {
    api: AdminApi,
    emulator: Emulator,
    _server: Server,
    sent: AtomicUsize,
}

/// An answer: status, headers we care about, and the JSON body (Null when empty).
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Admin {
    async fn start(private_pem: &str) -> Admin {
        // Every route, back to back: faster than IVS's rate quotas allow (not under test here).
        let (emulator, server) = start_emulator_unthrottled(11).await;
        let pem = private_pem.to_owned();
        let secret = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some("ivs-automation/playback-key"))
            .then_output(move || {
                GetSecretValueOutput::builder()
                    .secret_string(pem.clone())
                    .build()
            });
        let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]);
        let api = admin_api_over(
            fast_ivs(ivs_client(&server.url()), 3),
            Some(SignerCell::new(secrets, "ivs-automation/playback-key")),
        );
        Admin {
            api,
            emulator,
            _server: server,
            sent: AtomicUsize::new(0),
        }
    }

    /// Sends `method path` (with an optional query) as an IAM-authorized HTTP API request.
    async fn send(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Answer {
        let body = body.map(|b| b.to_string());
        let request = http_api_request(method, path_and_query, body.as_deref());
        self.sent.fetch_add(1, Ordering::SeqCst);
        let response = self.api.handle(request).await;
        Answer {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: match response.body() {
                Body::Empty => Value::Null,
                b => serde_json::from_slice(b.as_ref()).unwrap(),
            },
        }
    }
}

fn id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

#[track_caller]
fn expect(answer: &Answer, status: u16, code: Option<&str>) {
    assert_eq!(answer.status, status, "{}", answer.body);
    if let Some(code) = code {
        assert_eq!(answer.body["error"]["code"], code, "{}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_against_the_emulator() {
    let (private_pem, public_pem) = p384_key_pair();
    let admin = Admin::start(&private_pem).await;
    let capture = LogCapture::new();
    let mut secrets = async {
        let mut secrets: HashSet<String> = HashSet::new();
        let a = &admin;

        // ---- channels
        let created = a
            .send("POST", "/channels", Some(json!({"name": "e2e", "type": "STANDARD", "tags": {"team": "live"}})))
            .await;
        expect(&created, 201, None);
        let channel = created.body["channel"]["arn"].as_str().unwrap().to_owned();
        let first_key = created.body["streamKey"]["value"].as_str().unwrap().to_owned();
        let first_key_arn = created.body["streamKey"]["arn"].as_str().unwrap().to_owned();
        secrets.insert(first_key.clone());
        assert!(first_key.starts_with("sk_"));
        let c = id(&channel).to_owned();

        let got = a.send("GET", &format!("/channels/{c}"), None).await;
        expect(&got, 200, None);
        assert_eq!(got.body["channel"]["name"], "e2e");
        assert_eq!(got.body["channel"]["tags"]["team"], "live");
        assert!(got.body["channel"].get("srt").is_none(), "no SRT passphrase");
        let by_arn = a.send("GET", &format!("/channels/{}", url_encode(&channel)), None).await;
        assert_eq!(by_arn.body, got.body, "an ARN works wherever an id does");

        let updated = a
            .send("PATCH", &format!("/channels/{c}"), Some(json!({"latencyMode": "NORMAL"})))
            .await;
        expect(&updated, 200, None);
        assert_eq!(updated.body["channel"]["latencyMode"], "NORMAL");

        let listed = a.send("GET", "/channels?name=e2e", None).await;
        expect(&listed, 200, None);
        assert_eq!(listed.body["channels"].as_array().unwrap().len(), 1);
        let both = a
            .send("GET", &format!("/channels?name=e2e&recordingConfigurationArn={}", url_encode("arn:aws:ivs:us-west-2:111122223333:recording-configuration/AbCdEf123456")), None)
            .await;
        expect(&both, 409, Some("ConflictException"));

        let batch = a
            .send("POST", "/channels/batch-get", Some(json!({"ids": [c, "NoSuchChannel1"]})))
            .await;
        expect(&batch, 200, None);
        assert_eq!(batch.body["channels"].as_array().unwrap().len(), 1);
        assert_eq!(batch.body["errors"][0]["code"], "ResourceNotFoundException");

        let status = a.send("GET", &format!("/channels/{c}/status"), None).await;
        expect(&status, 200, None);
        assert_eq!(status.body["stream"], "offline");
        assert_eq!(status.body["streamKeyArn"], first_key_arn.as_str());
        assert!(status.body["latestSession"].is_null());
        assert!(!status.body.to_string().contains(&first_key), "status never shows the key");

        // ---- stream keys
        let keys = a.send("GET", &format!("/channels/{c}/stream-keys"), None).await;
        expect(&keys, 200, None);
        assert!(keys.body["streamKeys"][0].get("value").is_none(), "lists carry no values");
        let second = a.send("POST", &format!("/channels/{c}/stream-keys"), None).await;
        expect(&second, 409, Some("ServiceQuotaExceededException"));
        let key = a.send("GET", &format!("/stream-keys/{}", id(&first_key_arn)), None).await;
        expect(&key, 200, None);
        assert_eq!(key.body["streamKey"]["value"], first_key.as_str());
        let keys = a
            .send("POST", "/stream-keys/batch-get", Some(json!({"ids": [first_key_arn]})))
            .await;
        expect(&keys, 200, None);
        assert_eq!(keys.body["streamKeys"][0]["value"], first_key.as_str());

        let rotated = a.send("POST", &format!("/channels/{c}/rotate-key"), None).await;
        expect(&rotated, 200, None);
        let key = rotated.body["streamKey"]["value"].as_str().unwrap().to_owned();
        secrets.insert(key.clone());
        assert_ne!(key, first_key);
        assert_eq!(rotated.body["revokedStreamKeyArns"][0], first_key_arn.as_str());
        assert!(a.emulator.connect(&first_key).is_err(), "the old key is revoked");

        // ---- a live stream
        let live = a.emulator.connect(&key).unwrap();
        let stream = a.send("GET", &format!("/channels/{c}/stream"), None).await;
        expect(&stream, 200, None);
        assert_eq!(stream.body["stream"]["streamId"], live.stream_id.as_str());
        assert_eq!(stream.body["stream"]["state"], "LIVE");
        let streams = a.send("GET", "/streams?health=HEALTHY", None).await;
        expect(&streams, 200, None);
        assert_eq!(streams.body["streams"].as_array().unwrap().len(), 1);
        let status = a.send("GET", &format!("/channels/{c}/status"), None).await;
        assert_eq!(status.body["stream"]["streamId"], live.stream_id.as_str());
        assert_eq!(status.body["latestSession"]["streamId"], live.stream_id.as_str());
        let sessions = a.send("GET", &format!("/channels/{c}/sessions"), None).await;
        expect(&sessions, 200, None);
        assert_eq!(sessions.body["streamSessions"][0]["streamId"], live.stream_id.as_str());
        let latest = a.send("GET", &format!("/channels/{c}/sessions/latest"), None).await;
        expect(&latest, 200, None);
        let one = a
            .send("GET", &format!("/channels/{c}/sessions/{}", live.stream_id), None)
            .await;
        expect(&one, 200, None);
        assert_eq!(one.body, latest.body);
        let busy = a
            .send("PATCH", &format!("/channels/{c}"), Some(json!({"type": "BASIC"})))
            .await;
        expect(&busy, 409, Some("ConflictException"));
        expect(&a.send("DELETE", &format!("/channels/{c}"), None).await, 409, Some("ConflictException"));

        // ---- timed metadata
        let put = a
            .send("POST", &format!("/channels/{c}/metadata"), Some(json!({"metadata": "{\"q\":1}"})))
            .await;
        expect(&put, 200, None);
        let items: Vec<Value> = (0..30).map(|i| json!({"n": i, "text": "a cue of moderate length"})).collect();
        let batch = a
            .send("POST", &format!("/channels/{c}/metadata/batch"), Some(json!({"items": items})))
            .await;
        expect(&batch, 200, None);
        assert_eq!(batch.body["report"]["outcome"], "delivered");
        let received: Vec<Value> = a
            .emulator
            .metadata(&channel)
            .iter()
            .skip(1)
            .flat_map(|m| serde_json::from_str::<Vec<Value>>(&m.payload).unwrap())
            .collect();
        assert_eq!(received, items, "every item, in order");
        let too_big = a
            .send("POST", &format!("/channels/{c}/metadata/batch"), Some(json!({"items": ["x".repeat(1100)]})))
            .await;
        expect(&too_big, 400, Some("BadRequest"));
        assert!(too_big.body["error"]["message"].as_str().unwrap().starts_with("items[0]"));

        // ---- stop, then suspend and resume
        let stopped = a.send("POST", &format!("/channels/{c}/stop"), None).await;
        expect(&stopped, 200, None);
        assert_eq!(stopped.body["stream"], "stopped");
        let again = a.send("POST", &format!("/channels/{c}/stop"), None).await;
        assert_eq!(again.body["stream"], "alreadyStopped");
        let offline = a
            .send("POST", &format!("/channels/{c}/metadata"), Some(json!({"metadata": "late"})))
            .await;
        expect(&offline, 404, Some("ChannelNotBroadcasting"));

        a.emulator.connect(&key).unwrap();
        let suspended = a.send("POST", &format!("/channels/{c}/suspend"), None).await;
        expect(&suspended, 200, None);
        assert_eq!(suspended.body["stream"], "stopped");
        assert_eq!(suspended.body["revokedStreamKeyArns"].as_array().unwrap().len(), 1);
        assert!(a.emulator.connect(&key).is_err(), "a suspended channel's key is revoked");
        let tags = a.send("GET", &format!("/tags/{}", url_encode(&channel)), None).await;
        assert_eq!(tags.body["tags"]["ivs-automation:suspended"], "true");
        let twice = a.send("POST", &format!("/channels/{c}/suspend"), None).await;
        expect(&twice, 200, None);
        assert_eq!(twice.body["stream"], "alreadyStopped");
        let resumed = a.send("POST", &format!("/channels/{c}/resume"), None).await;
        expect(&resumed, 200, None);
        let fresh = resumed.body["streamKey"]["value"].as_str().unwrap().to_owned();
        secrets.insert(fresh.clone());
        a.emulator.connect(&fresh).unwrap();
        a.emulator.disconnect(&channel).unwrap();
        let tags = a.send("GET", &format!("/tags/{}", url_encode(&channel)), None).await;
        assert!(tags.body["tags"].get("ivs-automation:suspended").is_none());
        let resumed = a.send("POST", &format!("/channels/{c}/resume"), None).await;
        assert!(resumed.body["streamKey"].get("value").is_none(), "an existing key is not re-shown");

        // ---- tags
        let tagged = a
            .send("POST", &format!("/tags/{}", url_encode(&channel)), Some(json!({"tags": {"a": "1", "b": "2"}})))
            .await;
        expect(&tagged, 204, None);
        let untagged = a
            .send("DELETE", &format!("/tags/{}?tagKeys=a&tagKeys=b", url_encode(&channel)), None)
            .await;
        expect(&untagged, 204, None);
        let tags = a.send("GET", &format!("/tags/{}", url_encode(&channel)), None).await;
        assert_eq!(tags.body["tags"], json!({"team": "live"}));

        // ---- playback key pairs and tokens
        let imported = a
            .send("POST", "/playback-key-pairs", Some(json!({"name": "viewers", "publicKeyMaterial": public_pem})))
            .await;
        expect(&imported, 201, None);
        let pair = id(imported.body["keyPair"]["arn"].as_str().unwrap()).to_owned();
        expect(&a.send("GET", "/playback-key-pairs", None).await, 200, None);
        expect(&a.send("GET", &format!("/playback-key-pairs/{pair}"), None).await, 200, None);
        let private = a
            .send("POST", "/channels", Some(json!({"name": "e2e-private", "authorized": true})))
            .await;
        let private_id = id(private.body["channel"]["arn"].as_str().unwrap()).to_owned();
        secrets.insert(private.body["streamKey"]["value"].as_str().unwrap().to_owned());
        let minted = a
            .send(
                "POST",
                &format!("/channels/{private_id}/playback-token"),
                Some(json!({"viewerId": "viewer-42", "expiresInSeconds": 300, "maximumResolution": "HD"})),
            )
            .await;
        expect(&minted, 200, None);
        assert_eq!(minted.body["channelAuthorized"], true);
        let token = minted.body["token"].as_str().unwrap().to_owned();
        secrets.insert(token.clone());
        assert!(minted.body["playbackUrl"].as_str().unwrap().ends_with(&format!("?token={token}")));
        let mut validation = Validation::new(Algorithm::ES384);
        validation.validate_aud = false;
        let claims = decode::<Value>(
            &token,
            &DecodingKey::from_ec_pem(public_pem.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["aws:channel-arn"], private.body["channel"]["arn"]);
        assert_eq!(claims["aws:viewer-id"], "viewer-42");
        assert_eq!(claims["aws:maximum-resolution"], "HD");
        let exp = claims["exp"].as_i64().unwrap();
        let now = chrono::Utc::now().timestamp();
        assert!((now + 295..=now + 305).contains(&exp), "exp {exp} is seconds, 5 minutes ahead");
        let capped = a
            .send("POST", &format!("/channels/{private_id}/playback-token"), Some(json!({"singleUse": true, "expiresInSeconds": 3600})))
            .await;
        expect(&capped, 400, Some("BadRequest"));
        expect(&a.send("DELETE", &format!("/playback-key-pairs/{pair}"), None).await, 204, None);
        expect(&a.send("GET", &format!("/playback-key-pairs/{pair}"), None).await, 404, Some("ResourceNotFoundException"));

        // ---- viewer revocations
        let revoked = a
            .send("POST", &format!("/channels/{private_id}/revoke-viewer"), Some(json!({"viewerId": "viewer-42", "viewerSessionVersionsLessThanOrEqualTo": 1})))
            .await;
        expect(&revoked, 204, None);
        let batch = a
            .send(
                "POST",
                "/viewer-revocations/batch",
                Some(json!({"viewerSessions": [
                    {"channelId": private_id, "viewerId": "viewer-7"},
                    {"channelId": "NoSuchChannel1", "viewerId": "viewer-8"}
                ]})),
            )
            .await;
        expect(&batch, 200, None);
        assert_eq!(batch.body["errors"].as_array().unwrap().len(), 1);
        assert_eq!(a.emulator.revocations().len(), 2);

        // ---- recording configurations
        let recording = a
            .send("POST", "/recording-configurations", Some(json!({
                "name": "e2e-recording",
                "destinationConfiguration": {"s3": {"bucketName": "example-recordings-111122223333"}},
                "recordingReconnectWindowSeconds": 0,
                "thumbnailConfiguration": {"recordingMode": "INTERVAL", "targetIntervalSeconds": 30, "storage": ["SEQUENTIAL"]}
            })))
            .await;
        expect(&recording, 201, None);
        let recording_arn = recording.body["recordingConfiguration"]["arn"].as_str().unwrap().to_owned();
        let r = id(&recording_arn).to_owned();
        expect(&a.send("GET", "/recording-configurations", None).await, 200, None);
        expect(&a.send("GET", &format!("/recording-configurations/{r}"), None).await, 200, None);
        let recorded = a
            .send("POST", "/channels", Some(json!({"name": "e2e-recorded", "recordingConfigurationArn": recording_arn})))
            .await;
        secrets.insert(recorded.body["streamKey"]["value"].as_str().unwrap().to_owned());
        let recorded_id = id(recorded.body["channel"]["arn"].as_str().unwrap()).to_owned();
        let by_recording = a
            .send("GET", &format!("/channels?recordingConfigurationArn={}", url_encode(&recording_arn)), None)
            .await;
        assert_eq!(by_recording.body["channels"].as_array().unwrap().len(), 1);
        expect(&a.send("DELETE", &format!("/recording-configurations/{r}"), None).await, 409, Some("ConflictException"));
        expect(&a.send("DELETE", &format!("/channels/{recorded_id}"), None).await, 204, None);
        expect(&a.send("DELETE", &format!("/recording-configurations/{r}"), None).await, 204, None);

        // ---- deleting a key and a channel
        let keys = a.send("GET", &format!("/channels/{c}/stream-keys"), None).await;
        let key_arn = keys.body["streamKeys"][0]["arn"].as_str().unwrap().to_owned();
        expect(&a.send("DELETE", &format!("/stream-keys/{}", url_encode(&key_arn)), None).await, 204, None);
        expect(&a.send("DELETE", &format!("/channels/{c}"), None).await, 204, None);
        expect(&a.send("GET", &format!("/channels/{c}"), None).await, 404, Some("ResourceNotFoundException"));

        // ---- IVS throttling outlives the retries: 429 with Retry-After
        a.emulator.set_faults(FaultConfig {
            rules: vec!["ListChannels:throttle=1.0".parse::<FaultRule>().unwrap()],
        });
        let throttled = a.send("GET", "/channels", None).await;
        expect(&throttled, 429, Some("ThrottlingException"));
        assert_eq!(throttled.retry_after.as_deref(), Some("1"));
        a.emulator.set_faults(FaultConfig::default());
        secrets
    }
    .with_subscriber(capture.subscriber("trace"))
    .await;

    // Not one secret in the logs, at the most verbose level.
    secrets.insert(private_pem.trim().lines().nth(1).unwrap().to_owned());
    let logs = capture.text();
    assert!(
        logs.lines().count() > 50,
        "the run logged ({} lines)",
        logs.lines().count()
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
    let admin_lines = capture
        .records()
        .into_iter()
        .filter(|r| r["message"] == "admin request")
        .count();
    assert_eq!(
        admin_lines,
        admin.sent.load(Ordering::SeqCst),
        "one line per request"
    );
}

// ------------------------------------------------------------------------------------------
// Credentials and secrets at TRACE, through the real binaries and the real runtime loop
// ------------------------------------------------------------------------------------------

/// A caller's credentials and the function's own, as unique markers to search the logs for.
const CALLER_JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJvcGVyYXRvci0xIn0.Q2FsbGVySnd0U2lnbmF0dXJlTWFya2Vy";
const CALLER_SIGNATURE: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
const CALLER_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjECallerSessionTokenMarker0000";
const FUNCTION_SECRET_KEY: &str = "wJalrXUtnFEMIFunctionSecretKeyMarker00000";
const FUNCTION_SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEFunctionSessionTokenMarker00";

/// An HTTP API event as API Gateway sends it after a JWT authorizer accepted the bearer
/// token: the `Authorization` header still holds it.
fn jwt_event(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = http_api_event(method, path, body);
    event["headers"]["authorization"] = json!(format!("Bearer {CALLER_JWT}"));
    event["requestContext"]["authorizer"] = json!({"jwt": {
        "claims": {"sub": "operator-1", "scope": "ivs-automation/admin"},
        "scopes": ["ivs-automation/admin"]
    }});
    event
}

/// An HTTP API event of a SigV4-signed request (IAM authorization) made with temporary
/// credentials: its signature and session token travel in the headers.
fn sigv4_event(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = http_api_event(method, path, body);
    event["headers"]["authorization"] = json!(format!(
        "AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/20260105/us-west-2/execute-api/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={CALLER_SIGNATURE}"
    ));
    event["headers"]["x-amz-security-token"] = json!(CALLER_SESSION_TOKEN);
    event["headers"]["x-amz-date"] = json!("20260105T100000Z");
    event
}

fn answer_body(invoked: test_support::lambda::Invoked) -> Value {
    let response = invoked.ok();
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

/// The admin API and the sweeper at `AWS_LAMBDA_LOG_LEVEL=TRACE`, as Lambda runs them: JWT
/// and SigV4 callers, stream keys created, read and rotated, a playback token minted, a key
/// rotated by the sweeper. Not one credential or secret reaches a log line. Models: the real
/// binaries and runtime loop; plain HTTP to a loopback IVS (TLS plays no part in what is
/// logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_or_secret_reaches_the_logs_at_trace() {
    use test_support::lambda::{function_binaries, Invoked, LocalLambda};

    let (emulator, server) = start_emulator(29).await;
    let (private_pem, _) = p384_key_pair();
    let secret_arn = store_secret(&server.url(), "ivs-automation/playback-key", &private_pem).await;

    let lambda = LocalLambda::start().await;
    let env = vec![
        ("AWS_REGION", "us-west-2".to_owned()),
        ("AWS_ACCESS_KEY_ID", "ASIAFUNCTIONEXAMPLE".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", FUNCTION_SECRET_KEY.to_owned()),
        ("AWS_SESSION_TOKEN", FUNCTION_SESSION_TOKEN.to_owned()),
        ("AWS_ENDPOINT_URL_IVS", server.url()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", server.url()),
        ("PLAYBACK_KEY_SECRET_ID", secret_arn),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_owned()),
        ("SWEEP_CALLS_PER_SECOND", "50".to_owned()),
    ];
    let bins = function_binaries();
    lambda.spawn("admin-api", &bins.join("admin-api"), &env);
    lambda.spawn("sweeper", &bins.join("sweeper"), &env);

    let mut secrets: Vec<String> = vec![
        CALLER_JWT.to_owned(),
        CALLER_SIGNATURE.to_owned(),
        CALLER_SESSION_TOKEN.to_owned(),
        FUNCTION_SECRET_KEY.to_owned(),
        FUNCTION_SESSION_TOKEN.to_owned(),
    ];
    // The private key's base64 lines (each one is key material).
    secrets.extend(
        private_pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .map(str::to_owned),
    );

    // JWT caller: a channel (its key's value in the answer), the key read back, a token.
    let created = answer_body(
        lambda
            .invoke(
                "admin-api",
                &jwt_event(
                    "POST",
                    "/channels",
                    Some(r#"{"name":"trace-scan","tags":{"ivs-automation:rotate-key-on":"stream-end"}}"#),
                ),
            )
            .await,
    );
    let key_value = created["streamKey"]["value"].as_str().unwrap().to_owned();
    let key_arn = created["streamKey"]["arn"].as_str().unwrap().to_owned();
    let channel_arn = created["channel"]["arn"].as_str().unwrap().to_owned();
    let channel_id = channel_arn.rsplit('/').next().unwrap().to_owned();
    secrets.push(key_value.clone());
    let read = answer_body(
        lambda
            .invoke(
                "admin-api",
                &jwt_event(
                    "GET",
                    &format!("/stream-keys/{}", url_encode(&key_arn)),
                    None,
                ),
            )
            .await,
    );
    assert_eq!(read["streamKey"]["value"], key_value.as_str(), "{read}");
    let minted = answer_body(
        lambda
            .invoke(
                "admin-api",
                &jwt_event(
                    "POST",
                    &format!("/channels/{channel_id}/playback-token"),
                    Some(r#"{"viewerId":"viewer-1"}"#),
                ),
            )
            .await,
    );
    let token = minted["token"].as_str().unwrap().to_owned();
    // The signature part of the token: the header and claims parts are not secret alone.
    secrets.push(token.rsplit('.').next().unwrap().to_owned());
    secrets.push(token);

    // SigV4 caller: reads, and a rotation whose answer carries the new key's value.
    let listed = lambda
        .invoke("admin-api", &sigv4_event("GET", "/channels", None))
        .await;
    assert!(answer_body(listed)["channels"].is_array());
    let rotated = answer_body(
        lambda
            .invoke(
                "admin-api",
                &sigv4_event("POST", &format!("/channels/{channel_id}/rotate-key"), None),
            )
            .await,
    );
    let rotated_value = rotated["streamKey"]["value"].as_str().unwrap().to_owned();
    secrets.push(rotated_value.clone());

    // A stream whose end no event reported: the sweeper rotates its key (CreateStreamKey's
    // answer carries the value).
    emulator.connect(&rotated_value).unwrap();
    emulator.disconnect(&channel_arn).unwrap();
    let swept = lambda
        .invoke(
            "sweeper",
            &json!({"version": "0", "id": "sweep-1", "detail-type": "Scheduled Event",
                    "source": "aws.events", "account": ACCOUNT, "time": "2026-01-05T10:00:00Z",
                    "region": "us-west-2", "resources": [], "detail": {}}),
        )
        .await;
    assert!(matches!(swept, Invoked::Ok(_)), "{swept:?}");
    let keys = emulator_keys(&server.url(), &channel_arn).await;
    assert_eq!(keys.len(), 1, "the sweeper rotated the key");
    secrets.push(keys[0].clone());

    let mut logs = lambda.logs("admin-api");
    let admin_lines = logs.len();
    logs.extend(lambda.logs("sweeper"));
    assert!(
        admin_lines > 5 && logs.len() > admin_lines,
        "both functions logged"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("\"level\":\"TRACE\"") || l.contains("\"level\":\"DEBUG\"")),
        "the functions ran at TRACE"
    );
    for line in &logs {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a credential or secret was logged: {line}"
            );
        }
    }
    println!(
        "{}",
        json!({"figures": "secrets at TRACE", "logLinesScanned": logs.len(), "secretsLookedFor": secrets.len(), "found": 0})
    );
    server.shutdown().await.unwrap();
}

/// The values of a channel's stream keys, read straight from the emulator.
async fn emulator_keys(endpoint: &str, channel_arn: &str) -> Vec<String> {
    let ivs = ivs_client(endpoint);
    let listed = ivs
        .list_stream_keys()
        .channel_arn(channel_arn)
        .send()
        .await
        .unwrap();
    let mut values = Vec::new();
    for summary in listed.stream_keys() {
        let got = ivs
            .get_stream_key()
            .arn(summary.arn().unwrap())
            .send()
            .await
            .unwrap();
        values.push(got.stream_key().unwrap().value().unwrap().to_owned());
    }
    values
}

/// Rotating the playback key under a running admin function (README, "Rotating the playback
/// key"): once the secret holds a new key, tokens are signed with it from the first request
/// made more than `PLAYBACK_KEY_REFRESH_SECONDS` later whose background check has completed;
/// until then, with the old key. The real binary in the runtime loop, the emulator's Secrets
/// Manager (plain HTTP: TLS plays no part in this).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_switch_to_a_rotated_playback_key_within_the_refresh_interval() {
    use std::time::{Duration, Instant};
    use test_support::lambda::{function_binaries, LocalLambda};

    let (_emulator, server) = start_emulator(31).await;
    let ivs = ivs_client(&server.url());
    let (channel, _) = create_channel(&ivs, "rotation", &[]).await;
    let channel_id = channel.rsplit('/').next().unwrap().to_owned();
    let (old_private, old_public) = p384_key_pair();
    let (new_private, new_public) = p384_key_pair();
    let secrets_manager = secrets_client(&server.url());
    let secret = store_secret(&server.url(), "ivs-automation/playback-key", &old_private).await;

    let refresh = Duration::from_secs(1);
    let lambda = LocalLambda::start().await;
    let env = vec![
        ("AWS_REGION", "us-west-2".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        ),
        ("AWS_ENDPOINT_URL_IVS", server.url()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", server.url()),
        ("PLAYBACK_KEY_SECRET_ID", secret.clone()),
        (
            "PLAYBACK_KEY_REFRESH_SECONDS",
            refresh.as_secs().to_string(),
        ),
    ];
    lambda.spawn("admin-api", &function_binaries().join("admin-api"), &env);

    let path = format!("/channels/{channel_id}/playback-token");
    let event = http_api_event("POST", &path, Some(r#"{"viewerId":"viewer-1"}"#));
    let signed_by = |answer: Value| {
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap();
        let token = body["token"].as_str().unwrap_or_else(|| panic!("{answer}"));
        let verifies = |public: &str| {
            let key = DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
            decode::<Value>(token, &key, &Validation::new(Algorithm::ES384)).is_ok()
        };
        match (verifies(&old_public), verifies(&new_public)) {
            (true, false) => "old",
            (false, true) => "new",
            other => panic!("a token verifies with exactly one key: {other:?}"),
        }
    };
    assert_eq!(
        signed_by(lambda.invoke("admin-api", &event).await.ok()),
        "old"
    );

    secrets_manager
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(&new_private)
        .send()
        .await
        .unwrap();
    let stored = Instant::now();
    // Until one interval has passed the key in hand is fresh: still the old one.
    assert_eq!(
        signed_by(lambda.invoke("admin-api", &event).await.ok()),
        "old"
    );
    tokio::time::sleep(refresh).await;
    // A request after the interval starts the check; the key switches once it has loaded.
    let mut switched = None;
    for _ in 0..100 {
        if signed_by(lambda.invoke("admin-api", &event).await.ok()) == "new" {
            switched = Some(stored.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let switched = switched.expect("tokens switch to the new key");
    // The bound README documents: the interval, plus the Secrets Manager read (loopback here)
    // and one request; generous on a loaded 2-core machine.
    assert!(switched < refresh + Duration::from_secs(4), "{switched:?}");
    for _ in 0..3 {
        assert_eq!(
            signed_by(lambda.invoke("admin-api", &event).await.ok()),
            "new"
        );
    }
}
