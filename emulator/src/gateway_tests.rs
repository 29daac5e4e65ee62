//! Tests of the API Gateway emulator over loopback: a fake Lambda Invoke API records the events it
//! gets and answers as scripted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::gateway::{Gateway, GatewayAuth, GatewayConfig};
use crate::invoke::{self, HttpClient};
use crate::server::Server;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SIGNATURE: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

/// A SigV4 `Authorization` header scoped to `region` and `service`.
fn sigv4(region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260105/{region}/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
    )
}

/// What the fake Invoke API answers.
#[derive(Clone, Debug)]
struct Script {
    status: StatusCode,
    function_error: Option<&'static str>,
    payload: String,
    delay: Duration,
}

impl Script {
    fn result(payload: Value) -> Self {
        Self {
            status: StatusCode::OK,
            function_error: None,
            payload: payload.to_string(),
            delay: Duration::ZERO,
        }
    }
}

type Invocations = Arc<Mutex<Vec<(String, Value)>>>;

/// A stand-in for `cargo lambda watch`: records `(function, event)` and answers the script.
struct FakeLambda {
    server: Server,
    invocations: Invocations,
    script: Arc<Mutex<Script>>,
}

impl FakeLambda {
    async fn start() -> Self {
        let invocations: Invocations = Arc::default();
        let script = Arc::new(Mutex::new(Script::result(json!({"statusCode": 204}))));
        let app = axum::Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                post(
                    |State((invocations, script)): State<(Invocations, Arc<Mutex<Script>>)>,
                     Path(name): Path<String>,
                     body: Bytes| async move {
                        let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        invocations.lock().unwrap().push((name, event));
                        let script = script.lock().unwrap().clone();
                        tokio::time::sleep(script.delay).await;
                        let mut response = (script.status, script.payload).into_response();
                        if let Some(kind) = script.function_error {
                            response
                                .headers_mut()
                                .insert("x-amz-function-error", kind.parse().unwrap());
                        }
                        response
                    },
                ),
            )
            .with_state((invocations.clone(), script.clone()));
        let server = Server::start(app, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Self {
            server,
            invocations,
            script,
        }
    }

    fn answer(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }

    fn invocations(&self) -> Vec<(String, Value)> {
        self.invocations.lock().unwrap().clone()
    }

    /// The only event received so far.
    fn event(&self) -> Value {
        let invocations = self.invocations();
        assert_eq!(invocations.len(), 1, "{invocations:?}");
        let (function, event) = invocations.into_iter().next().unwrap();
        assert_eq!(function, "admin-api");
        event
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// API Gateway's own answer: `status` and `{"message": message}`.
    fn assert_gateway(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.json(), json!({ "message": message }));
        assert_eq!(self.header("content-type"), "application/json");
        assert_eq!(self.header("apigw-requestid").len(), 16);
    }
}

/// A gateway (configured by `tweak`) in front of a fake Invoke API.
struct Harness {
    lambda: FakeLambda,
    gateway: Server,
    client: HttpClient,
}

impl Harness {
    async fn start(tweak: impl FnOnce(&mut GatewayConfig)) -> Self {
        let lambda = FakeLambda::start().await;
        let mut config = GatewayConfig::new(lambda.server.url(), "admin-api");
        config.account = "123456789012".to_owned();
        tweak(&mut config);
        let gateway = Gateway::new(config)
            .unwrap()
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Self {
            lambda,
            gateway,
            client: invoke::client(),
        }
    }

    async fn iam() -> Self {
        Self::start(|_| {}).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.gateway.url()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into())).unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A request signed for us-west-2 and `execute-api`.
    async fn signed(&self, method: Method, path: &str, body: impl Into<Bytes>) -> Answer {
        let authorization = sigv4("us-west-2", "execute-api");
        let headers = [
            ("authorization", authorization.as_str()),
            ("x-amz-date", "20260105T100000Z"),
        ];
        self.send(method, path, &headers, body).await
    }

    async fn stop(self) {
        self.gateway.shutdown().await.unwrap();
        self.lambda.server.shutdown().await.unwrap();
    }
}

/// A compact JWS with `claims` and a signature nobody checks.
fn jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.bm90LWNoZWNrZWQ")
}

#[tokio::test]
async fn requests_without_a_valid_signature_are_refused_before_any_invocation() {
    let h = Harness::iam().await;

    let unsigned = h.send(Method::GET, "/channels", &[], "").await;
    unsigned.assert_gateway(403, "Forbidden");
    assert_eq!(unsigned.header("x-amzn-errortype"), "ForbiddenException");

    let bearer = h
        .send(
            Method::GET,
            "/channels",
            &[("authorization", "Bearer abc")],
            "",
        )
        .await;
    assert_eq!(bearer.status, 403);
    assert_eq!(
        bearer.header("x-amzn-errortype"),
        "IncompleteSignatureException"
    );
    assert!(bearer.json()["message"]
        .as_str()
        .unwrap()
        .contains("Credential"));
    assert!(!String::from_utf8_lossy(&bearer.body).contains("abc"));

    for (region, service, expected) in [
        ("eu-west-1", "execute-api", "region"),
        ("us-west-2", "ivs", "'execute-api'"),
    ] {
        let authorization = sigv4(region, service);
        let headers = [
            ("authorization", authorization.as_str()),
            ("x-amz-date", "20260105T100000Z"),
        ];
        let refused = h.send(Method::GET, "/channels", &headers, "").await;
        assert_eq!(refused.status, 403);
        assert_eq!(
            refused.header("x-amzn-errortype"),
            "InvalidSignatureException"
        );
        let message = refused.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{message}");
        assert_eq!(refused.header("apigw-requestid").len(), 16);
    }

    assert!(h.lambda.invocations().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn signed_requests_become_payload_2_0_events_that_lambda_http_reads() {
    let h = Harness::iam().await;
    let authorization = sigv4("us-west-2", "execute-api");
    let headers = [
        ("authorization", authorization.as_str()),
        ("x-amz-date", "20260105T100000Z"),
        ("content-type", "application/json"),
        ("user-agent", "gateway-test/1.0"),
        ("x-probe", "first"),
        ("x-probe", "second"),
        ("cookie", "session=abc123; theme=dark"),
        ("cookie", "lang=fr"),
    ];
    let answer = h
        .send(
            Method::POST,
            "/channels/space%20value?repeat=one&repeat=two&plus=a+b&encoded=a%2Bb&empty=",
            &headers,
            r#"{"name":"démo"}"#,
        )
        .await;
    assert_eq!(answer.status, 204, "{:?}", answer.body);
    let request_id = answer.header("apigw-requestid").to_owned();

    let event = h.lambda.event();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/channels/space value");
    assert_eq!(
        event["rawQueryString"],
        "repeat=one&repeat=two&plus=a+b&encoded=a%2Bb&empty="
    );
    assert_eq!(
        event["queryStringParameters"],
        json!({"repeat": "one,two", "plus": "a b", "encoded": "a+b", "empty": ""})
    );
    assert_eq!(
        event["cookies"],
        json!(["session=abc123", "theme=dark", "lang=fr"])
    );
    let event_headers = &event["headers"];
    assert_eq!(event_headers["x-probe"], "first,second");
    assert_eq!(event_headers["content-type"], "application/json");
    assert_eq!(event_headers["authorization"], authorization);
    assert_eq!(event_headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        event_headers["x-forwarded-port"],
        h.gateway.addr().port().to_string()
    );
    assert_eq!(event_headers["x-forwarded-proto"], "http");
    assert!(event_headers["x-amzn-trace-id"]
        .as_str()
        .unwrap()
        .starts_with("Root=1-"));
    assert!(event_headers.get("cookie").is_none());
    assert_eq!(event["body"], r#"{"name":"démo"}"#);
    assert_eq!(event["isBase64Encoded"], false);

    let context = &event["requestContext"];
    assert_eq!(context["accountId"], "123456789012");
    assert_eq!(context["apiId"], "localapigw");
    assert_eq!(
        context["domainName"],
        "localapigw.execute-api.us-west-2.amazonaws.com"
    );
    assert_eq!(context["domainPrefix"], "localapigw");
    assert_eq!(
        context["http"],
        json!({
            "method": "POST",
            "path": "/channels/space value",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "gateway-test/1.0",
        })
    );
    assert_eq!(context["requestId"], request_id.as_str());
    assert_eq!(context["routeKey"], "$default");
    assert_eq!(context["stage"], "$default");
    let time = context["time"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z").unwrap();
    let epoch_ms = context["timeEpoch"].as_i64().unwrap();
    assert_eq!(parsed.timestamp(), epoch_ms / 1000, "{time}");
    assert_eq!(
        context["authorizer"],
        json!({"iam": {
            "accessKey": ACCESS_KEY,
            "accountId": "123456789012",
            "callerId": ACCESS_KEY,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::123456789012:user/{ACCESS_KEY}"),
            "userId": ACCESS_KEY,
        }})
    );

    // What the admin API's runtime makes of it.
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri().path(), "/channels/space%20value");
    assert_eq!(request.uri().host(), Some("127.0.0.1"), "{}", request.uri());
    assert_eq!(request.uri().scheme_str(), Some("http"));
    let query = request.query_string_parameters();
    assert_eq!(query.all("repeat"), Some(vec!["one", "two"]));
    assert_eq!(query.first("plus"), Some("a b"));
    assert_eq!(request.headers()["x-probe"], "first,second");
    assert_eq!(
        request.headers()["cookie"],
        "session=abc123; theme=dark; lang=fr"
    );
    assert_eq!(request.body().as_ref(), r#"{"name":"démo"}"#.as_bytes());
    let RequestContext::ApiGatewayV2(context) = request.request_context() else {
        panic!("not an HTTP API event: {:?}", request.request_context());
    };
    let iam = context.authorizer.unwrap().iam.unwrap();
    assert_eq!(
        iam.user_arn.as_deref(),
        Some("arn:aws:iam::123456789012:user/AKIDEXAMPLE")
    );
    assert_eq!(iam.access_key.as_deref(), Some(ACCESS_KEY));
    h.stop().await;
}

#[tokio::test]
async fn requests_without_query_or_body_leave_them_out() {
    let h = Harness::iam().await;
    h.signed(Method::GET, "/health", "").await;
    let event = h.lambda.event();
    assert_eq!(event["rawPath"], "/health");
    assert_eq!(event["rawQueryString"], "");
    assert!(event.get("queryStringParameters").is_none(), "{event}");
    assert!(event.get("cookies").is_none(), "{event}");
    assert!(event.get("body").is_none(), "{event}");
    assert_eq!(event["isBase64Encoded"], false);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(request.method(), Method::GET);
    assert!(request.query_string_parameters().is_empty());
    assert!(request.body().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn binary_bodies_travel_in_base64_both_ways() {
    let h = Harness::iam().await;
    let png: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00];
    h.lambda.answer(Script::result(json!({
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "body": STANDARD.encode(png),
        "isBase64Encoded": true,
    })));
    let authorization = sigv4("us-west-2", "execute-api");
    let headers = [
        ("authorization", authorization.as_str()),
        ("x-amz-date", "20260105T100000Z"),
        ("content-type", "application/octet-stream"),
    ];
    let answer = h
        .send(Method::PUT, "/upload", &headers, Bytes::from_static(png))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), "image/png");
    assert_eq!(answer.body.as_ref(), png);

    // Form posts are base64 too, as HTTP APIs send them; lambda_http decodes them.
    let headers = [
        ("authorization", authorization.as_str()),
        ("x-amz-date", "20260105T100000Z"),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    h.send(Method::POST, "/form", &headers, "a=1&b=2").await;

    let invocations = h.lambda.invocations();
    let upload = &invocations[0].1;
    assert_eq!(upload["isBase64Encoded"], true);
    assert_eq!(upload["body"], STANDARD.encode(png));
    let form = &invocations[1].1;
    assert_eq!(form["isBase64Encoded"], true);
    assert_eq!(form["body"], STANDARD.encode("a=1&b=2"));
    let request = lambda_http::request::from_str(&upload.to_string()).unwrap();
    assert_eq!(request.body().as_ref(), png);
    h.stop().await;
}

#[tokio::test]
async fn payload_2_0_responses_map_to_http_responses() {
    let h = Harness::iam().await;
    h.lambda.answer(Script::result(json!({
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "x-request": "a,b", "content-length": "999"},
        "multiValueHeaders": {"x-ignored": ["1", "2"]},
        "cookies": ["session=new; HttpOnly", "theme=light"],
        "body": "{\"created\":true}",
        "isBase64Encoded": false,
    })));
    let answer = h.signed(Method::POST, "/channels", "{}").await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("x-request"), "a,b");
    assert_eq!(answer.header("content-length"), "16");
    assert!(answer.headers.get("x-ignored").is_none());
    let cookies: Vec<&str> = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["session=new; HttpOnly", "theme=light"]);
    assert_eq!(answer.json(), json!({"created": true}));
    assert_eq!(answer.header("apigw-requestid").len(), 16);

    // What lambda_http's responses look like: multiValueHeaders empty, headers joined.
    h.lambda.answer(Script::result(json!({
        "statusCode": 404,
        "headers": {"content-type": "text/plain"},
        "multiValueHeaders": {},
        "body": "no such channel",
        "isBase64Encoded": false,
        "cookies": [],
    })));
    let answer = h.signed(Method::GET, "/channels/x", "").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.header("content-type"), "text/plain");
    assert_eq!(answer.body.as_ref(), b"no such channel");
    assert!(answer.headers.get("set-cookie").is_none());

    // No body at all.
    h.lambda.answer(Script::result(json!({"statusCode": 204})));
    let answer = h.signed(Method::DELETE, "/channels/x", "").await;
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn other_json_results_are_200_json_bodies() {
    let h = Harness::iam().await;
    for result in [
        json!({"message": "Hello from Lambda!"}),
        json!("Hello from Lambda!"),
        json!([1, 2, 3]),
        json!(null),
    ] {
        h.lambda.answer(Script::result(result.clone()));
        let answer = h.signed(Method::GET, "/hello", "").await;
        assert_eq!(answer.status, 200, "{result}");
        assert_eq!(answer.header("content-type"), "application/json");
        assert_eq!(answer.body.as_ref(), result.to_string().as_bytes());
    }
    h.stop().await;
}

#[tokio::test]
async fn failed_invocations_and_malformed_results_are_500() {
    let h = Harness::iam().await;
    let scripts = [
        Script {
            function_error: Some("Unhandled"),
            ..Script::result(json!({"errorType": "Panic", "errorMessage": "boom"}))
        },
        Script {
            status: StatusCode::BAD_GATEWAY,
            ..Script::result(json!({"message": "runtime not ready"}))
        },
        Script::result(json!({"statusCode": "two hundred"})),
        Script::result(json!({"statusCode": 200, "body": {"not": "a string"}})),
        Script {
            payload: "not json".to_owned(),
            ..Script::result(Value::Null)
        },
    ];
    for script in scripts {
        h.lambda.answer(script.clone());
        let answer = h.signed(Method::GET, "/channels", "").await;
        answer.assert_gateway(500, "Internal Server Error");
        assert!(answer.header("x-amzn-errortype").is_empty(), "{script:?}");
    }
    assert_eq!(h.lambda.invocations().len(), 5);
    h.stop().await;
}

#[tokio::test]
async fn an_unreachable_invoke_api_is_500() {
    // A port nobody listens on: bind one, note it, free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let h = Harness::start(|config| config.lambda_endpoint = endpoint).await;
    let answer = h.signed(Method::GET, "/channels", "").await;
    answer.assert_gateway(500, "Internal Server Error");
    h.stop().await;
}

#[tokio::test]
async fn slow_functions_are_503() {
    let h = Harness::start(|config| config.timeout = Duration::from_millis(100)).await;
    h.lambda.answer(Script {
        delay: Duration::from_millis(1_500),
        ..Script::result(json!({"statusCode": 200}))
    });
    let started = std::time::Instant::now();
    let answer = h.signed(Method::GET, "/slow", "").await;
    answer.assert_gateway(503, "Service Unavailable");
    assert!(started.elapsed() < Duration::from_millis(1_000));
    assert_eq!(h.lambda.invocations().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let h = Harness::start(|config| config.body_limit = 1024).await;
    let answer = h.signed(Method::POST, "/upload", vec![b'x'; 1025]).await;
    answer.assert_gateway(413, "Request Entity Too Large");
    let at_limit = h.signed(Method::POST, "/upload", vec![b'x'; 1024]).await;
    assert_eq!(at_limit.status, 204);

    // A chunked body announces no length: the limit applies while reading it.
    let mut stream = tokio::net::TcpStream::connect(h.gateway.addr())
        .await
        .unwrap();
    let chunk = "x".repeat(800);
    let request = format!(
        "POST /upload HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nX-Amz-Date: 20260105T100000Z\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n",
        h.gateway.addr(),
        sigv4("us-west-2", "execute-api"),
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(
        raw.ends_with(r#"{"message":"Request Entity Too Large"}"#),
        "{raw}"
    );

    assert_eq!(h.lambda.invocations().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn jwt_mode_decodes_claims_and_scopes_without_verifying() {
    let h = Harness::start(|config| config.auth = GatewayAuth::Jwt).await;
    let token = jwt(&json!({
        "sub": "user-1",
        "scope": "ivs-automation/admin openid",
        "cognito:groups": ["ivs-admins", "ops"],
        "exp": 1_767_607_200,
        "email_verified": true,
    }));
    let bearer = format!("Bearer {token}");
    let answer = h
        .send(Method::GET, "/channels", &[("authorization", &bearer)], "")
        .await;
    assert_eq!(answer.status, 204);
    let event = h.lambda.event();
    assert_eq!(
        event["requestContext"]["authorizer"],
        json!({"jwt": {
            "claims": {
                "sub": "user-1",
                "scope": "ivs-automation/admin openid",
                "cognito:groups": "[ivs-admins ops]",
                "exp": "1767607200",
                "email_verified": "true",
            },
            "scopes": ["ivs-automation/admin", "openid"],
        }})
    );
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let RequestContext::ApiGatewayV2(context) = request.request_context() else {
        panic!("not an HTTP API event");
    };
    let authorizer = context.authorizer.unwrap();
    assert!(authorizer.iam.is_none());
    let jwt_context = authorizer.jwt.unwrap();
    assert_eq!(jwt_context.claims["sub"], "user-1");
    assert_eq!(
        jwt_context.scopes,
        Some(vec!["ivs-automation/admin".to_owned(), "openid".to_owned()])
    );

    // The bare token works too; no scope claim leaves scopes null.
    let bare = jwt(&json!({"sub": "user-2"}));
    let answer = h
        .send(Method::GET, "/channels", &[("authorization", &bare)], "")
        .await;
    assert_eq!(answer.status, 204);
    let invocations = h.lambda.invocations();
    let jwt_context = &invocations[1].1["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt_context["claims"], json!({"sub": "user-2"}));
    assert_eq!(jwt_context["scopes"], Value::Null);

    let missing = h.send(Method::GET, "/channels", &[], "").await;
    missing.assert_gateway(401, "Unauthorized");
    assert!(missing.headers.get("www-authenticate").is_none());
    for broken in [
        "Bearer not-a-jwt".to_owned(),
        format!("Bearer {}", token.replace('.', "")),
        sigv4("us-west-2", "execute-api"),
    ] {
        let refused = h
            .send(Method::GET, "/channels", &[("authorization", &broken)], "")
            .await;
        refused.assert_gateway(401, "Unauthorized");
        let challenge = refused.header("www-authenticate");
        assert!(
            challenge.starts_with(r#"Bearer scope="" error="invalid_token" error_description=""#),
            "{challenge}"
        );
    }
    assert_eq!(h.lambda.invocations().len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn gateways_refuse_non_loopback_addresses_and_stop() {
    let gateway = Gateway::new(GatewayConfig::new("http://127.0.0.1:9", "admin-api")).unwrap();
    let err = gateway
        .serve("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let server = gateway.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.addr();
    server.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
