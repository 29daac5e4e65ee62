//! What the workspace-level tests share: fixtures from `events/`, IVS answers as the service
//! sends them on the wire, mocked IVS clients, the emulator fixture ([`start_emulator`]), the
//! local Lambda service ([`lambda`]), moto's server ([`moto`]), the lifecycle events' schemas
//! ([`lifecycle`]) and log capture.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use admin_api::token::SignerCell;
use admin_api::{AdminAccess, AdminApi, Scope};
use aws_sdk_ivs::config::http::HttpResponse;
use aws_sdk_ivs::operation::create_stream_key::CreateStreamKeyOutput;
use aws_sdk_ivs::operation::list_stream_keys::ListStreamKeysOutput;
use aws_sdk_ivs::types::{StreamKey, StreamKeySummary};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use domain::events::IvsEvent;
use domain::policy::Settings;
use ivs_adapter::ivs::{Ivs, RetryPolicy};
use serde_json::Value;

pub use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

pub mod emulator;
pub mod lambda;
pub mod lifecycle;
pub mod moto;
pub mod tls;

pub use emulator::{
    channel_request, create_channel, start_emulator, start_emulator_unthrottled,
    start_emulator_with,
};

/// The fake account and channel every fixture uses.
pub const ACCOUNT: &str = "111122223333";
pub const CHANNEL_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456";
pub const STREAM_ID: &str = "st-1AbCdEfGhIjKlMnOpQrStUv";
pub const KEY_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:stream-key/OlDkEy123456";
pub const NEW_KEY_ARN: &str = "arn:aws:ivs:us-west-2:111122223333:stream-key/NeWkEy654321";
/// A stream key value as IVS shapes them; tests assert it never reaches a log.
pub const NEW_KEY_VALUE: &str = "sk_us-west-2_Zq8XwV7uT6sR5qP4oN3mL2kJ1iH0gF9eD";

/// The folders of `events/` that hold EventBridge events (others hold other payloads).
pub const EVENTBRIDGE_FOLDERS: &[&str] = &[
    "stream-state-change",
    "stream-health-change",
    "limit-breach",
    "recording-state-change",
    "other",
];

pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// A fixture as JSON, by its path under `events/` (e.g. `stream-state-change/stream-start.json`).
pub fn fixture(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// A fixture, typed.
pub fn event(name: &str) -> IvsEvent {
    IvsEvent::from_value(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Every EventBridge fixture: (path under `events/`, JSON).
pub fn eventbridge_fixtures() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for folder in EVENTBRIDGE_FOLDERS {
        let dir = events_dir().join(folder);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        for n in names {
            let name = format!("{folder}/{n}");
            let json = fixture(&name);
            out.push((name, json));
        }
    }
    out
}

/// Settings as the given environment variables would make them.
pub fn settings(vars: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// An IVS error answer exactly as the service sends it: the type in `X-Amzn-Errortype`, the
/// message in `{"exceptionMessage": …}`.
pub fn ivs_error(status: u16, error_type: &str) -> HttpResponse {
    let body = format!(r#"{{"exceptionMessage":"{error_type} (mocked)"}}"#);
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", error_type.to_owned());
    response
        .headers_mut()
        .insert("content-type", "application/json".to_owned());
    response
}

pub fn throttled() -> HttpResponse {
    ivs_error(429, "ThrottlingException")
}

pub fn not_broadcasting() -> HttpResponse {
    ivs_error(404, "ChannelNotBroadcasting")
}

/// A stream key of the test channel, as ListStreamKeys lists it.
pub fn key_summary(arn: &str, tags: &[(&str, &str)]) -> StreamKeySummary {
    let tags: HashMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    StreamKeySummary::builder()
        .arn(arn)
        .channel_arn(CHANNEL_ARN)
        .set_tags(Some(tags))
        .build()
}

/// A ListStreamKeys answer (one page).
pub fn key_list(keys: Vec<StreamKeySummary>) -> ListStreamKeysOutput {
    ListStreamKeysOutput::builder()
        .set_stream_keys(Some(keys))
        .build()
        .expect("stream_keys is set")
}

/// A CreateStreamKey answer: [`NEW_KEY_ARN`] with the value [`NEW_KEY_VALUE`].
pub fn created_key() -> CreateStreamKeyOutput {
    CreateStreamKeyOutput::builder()
        .stream_key(
            StreamKey::builder()
                .arn(NEW_KEY_ARN)
                .channel_arn(CHANNEL_ARN)
                .value(NEW_KEY_VALUE)
                .build(),
        )
        .build()
}

/// An IVS client answering from `rules` (any matching rule, in order), with the SDK's own
/// retries off as in production.
#[macro_export]
macro_rules! mocked_client {
    ($rules:expr) => {
        $crate::mock_client!(aws_sdk_ivs, $crate::RuleMode::MatchAny, $rules, |c| c
            .retry_config(aws_sdk_ivs::config::retry::RetryConfig::disabled()))
    };
}

/// A real IVS client for an IVS endpoint on loopback (the emulator), with test credentials,
/// region us-west-2 and the SDK's own retries off, as in production.
pub fn ivs_client(endpoint: &str) -> aws_sdk_ivs::Client {
    aws_sdk_ivs::Client::from_conf(
        aws_sdk_ivs::Config::builder()
            .behavior_version(aws_sdk_ivs::config::BehaviorVersion::latest())
            .region(aws_sdk_ivs::config::Region::new("us-west-2"))
            .credentials_provider(aws_sdk_ivs::config::Credentials::for_tests())
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_ivs::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// IVS helpers over `client` with the given number of attempts and millisecond pauses.
pub fn fast_ivs(client: aws_sdk_ivs::Client, max_attempts: u32) -> Ivs {
    Ivs::with_retry(client, RetryPolicy::fast(max_attempts))
}

/// The admin API over `ivs`, with `signer` (the playback key), the default admin access, and
/// resources given by id in [`ACCOUNT`] and us-west-2.
pub fn admin_api_over(ivs: Ivs, signer: Option<SignerCell>) -> AdminApi {
    AdminApi::new(
        ivs,
        signer,
        AdminAccess::default(),
        Scope {
            account: Some(ACCOUNT.to_owned()),
            region: Some("us-west-2".to_owned()),
        },
    )
}

/// A Secrets Manager client for the emulator's Secrets Manager at `endpoint` (test
/// credentials, us-west-2).
pub fn secrets_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .credentials_provider(Credentials::for_tests())
            .endpoint_url(endpoint)
            .build(),
    )
}

/// Creates the secret `name` holding `value` in the emulator's Secrets Manager at
/// `endpoint`; its ARN.
pub async fn store_secret(endpoint: &str, name: &str, value: &str) -> String {
    secrets_client(endpoint)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("the new secret's ARN")
        .to_owned()
}

/// A directory under the system temp dir, unique to this process and moment, removed when
/// dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the temp dir is writable");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl` in `dir` with `args` (split at spaces); its standard output.
pub fn openssl(dir: &Path, args: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("the openssl command is needed to generate test keys");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("openssl prints text")
}

/// A P-384 key pair made by openssl for this test run: (SEC1 private PEM, SPKI public PEM).
/// Nothing is written to disk; no private key is committed anywhere.
pub fn p384_key_pair() -> (String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let private = Command::new("openssl")
        .args(["ecparam", "-name", "secp384r1", "-genkey", "-noout"])
        .output()
        .expect("openssl runs");
    assert!(private.status.success());
    let mut public = Command::new("openssl")
        .args(["ec", "-pubout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    public
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(&private.stdout)
        .expect("openssl reads the key");
    let public = public.wait_with_output().expect("openssl answers");
    assert!(public.status.success());
    (
        String::from_utf8(private.stdout).expect("PEM is text"),
        String::from_utf8(public.stdout).expect("PEM is text"),
    )
}

/// An API Gateway HTTP API (payload 2.0) event for `method path?query` from an IAM-authorized
/// caller, as API Gateway would send it to the admin function: repeated query names joined
/// with `,`, the body as text.
pub fn http_api_event(method: &str, path_and_query: &str, body: Option<&str>) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut event = serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "a1b2c3d4e5", "domainName": "a1b2c3d4e5.execute-api.us-west-2.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5", "requestId": "req-test", "routeKey": "$default", "stage": "$default",
            "time": "05/Jan/2026:10:00:00 +0000", "timeEpoch": 1767607200000i64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": "tests"},
            "authorizer": {"iam": {"accessKey": "AKIAIOSFODNN7EXAMPLE", "accountId": ACCOUNT, "callerId": "AIDAEXAMPLE",
                                   "userArn": "arn:aws:iam::111122223333:user/ivs-operator", "userId": "AIDAEXAMPLE"}}
        },
        "isBase64Encoded": false
    });
    if !query.is_empty() {
        let mut params = serde_json::Map::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let joined = match params.get(k.as_ref()).and_then(Value::as_str) {
                Some(old) => format!("{old},{v}"),
                None => v.into_owned(),
            };
            params.insert(k.into_owned(), Value::String(joined));
        }
        event["queryStringParameters"] = Value::Object(params);
    }
    if let Some(body) = body {
        event["body"] = Value::String(body.to_owned());
    }
    event
}

/// [`http_api_event`] as the request `lambda_http` hands the function.
pub fn http_api_request(
    method: &str,
    path_and_query: &str,
    body: Option<&str>,
) -> lambda_http::Request {
    lambda_http::request::from_str(&http_api_event(method, path_and_query, body).to_string())
        .expect("a valid API Gateway event")
}

/// Percent-encodes everything but letters, digits, `-`, `_` and `.` (a whole path segment,
/// e.g. an ARN).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Collects what a subscriber writes, to assert on log output.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn new() -> Self {
        keep_call_sites_interested();
        Self::default()
    }

    /// A JSON subscriber (the production format) writing here, at `filter`
    /// (`trace` captures everything, the SDK's own records included).
    pub fn subscriber(&self, filter: &str) -> Box<dyn tracing::Subscriber + Send + Sync> {
        keep_call_sites_interested();
        let writer = self.clone();
        ivs_adapter::logging::LogConfig {
            json: true,
            filter: filter.to_owned(),
        }
        .subscriber(move || writer.clone())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Every line, parsed (each must be JSON).
    pub fn records(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("log line not JSON: {e}: {l}"))
            })
            .collect()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs [`KeepInterest`] as the process's global subscriber, once; a no-op when another
/// global subscriber is there already.
fn keep_call_sites_interested() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(KeepInterest);
    });
}

/// A global subscriber that records nothing and keeps every call site's interest at
/// "sometimes". Tracing caches per call site whether any subscriber listens, computed when the
/// call site is first hit: without this, a test with no subscriber hitting a call site first
/// (while at most one capturing subscriber exists) caches "never", and a test capturing logs in
/// the same process misses that record. With it, each record asks the current subscriber.
struct KeepInterest;

impl tracing::Subscriber for KeepInterest {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {}

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
