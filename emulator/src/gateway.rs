//! A local API Gateway HTTP API in front of one Lambda function: what API Gateway does for the
//! admin API in production, for functions run by `cargo lambda watch`.
//!
//! Every request, whatever its method and path (the `$default` route), is authorized, turned into
//! a payload format 2.0 event, sent to the function through the Lambda Invoke API, and the
//! function's result is turned back into the HTTP response.
//!
//! # Authorization
//!
//! - [`GatewayAuth::Iam`]: the request needs a SigV4 `Authorization` header scoped to the region
//!   and to the `execute-api` service. **Signatures are not verified**: any credentials work, and
//!   the identity is made up from the access key id of the credential scope.
//! - [`GatewayAuth::Jwt`]: the request needs `Authorization: Bearer <JWT>` (or the bare token, as
//!   API Gateway also takes it). **The token is decoded, never verified**: no signature, issuer,
//!   audience or expiry check. Anyone can mint a token this gateway accepts; it exists to run the
//!   template's JWT authorizer option locally, never to protect anything.
//!
//! # Answers of the gateway itself
//!
//! Bodies are JSON, `{"message": ...}`; every answer, the function's included, carries an
//! `apigw-requestid` header.
//!
//! | case | answer |
//! |---|---|
//! | IAM: no `Authorization` header | 403 `{"message":"Forbidden"}`, `x-amzn-ErrorType: ForbiddenException` |
//! | IAM: a malformed SigV4 header | 403 `IncompleteSignatureException` with the reason |
//! | IAM: a credential for another region or service | 403 `InvalidSignatureException` with the reason |
//! | JWT: no token | 401 `{"message":"Unauthorized"}` |
//! | JWT: a token that does not decode | 401 `{"message":"Unauthorized"}` with `www-authenticate: Bearer scope="" error="invalid_token" error_description="..."` |
//! | a body over the limit (10 MB) | 413 `{"message":"Request Entity Too Large"}` |
//! | a path that is not UTF-8 once percent-decoded | 400 `{"message":"Bad Request"}` |
//! | the function fails, the Invoke API answers non-2xx or cannot be reached, or the result is malformed | 500 `{"message":"Internal Server Error"}` |
//! | no complete answer within the timeout (30 s) | 503 `{"message":"Service Unavailable"}` |
//!
//! # The event
//!
//! As HTTP APIs send it: `version` `2.0`, `routeKey` and `stage` `$default`; `rawPath` and
//! `requestContext.http.path` percent-decoded (HTTP APIs deliver the path decoded);
//! `rawQueryString` as received; `queryStringParameters` decoded, repeated names joined with `,`
//! (absent when there are none); `headers` with lower-case names, repeated headers joined with
//! `,`, and `cookie` moved to `cookies` (one entry per cookie); `x-forwarded-for`,
//! `x-forwarded-port`, `x-forwarded-proto` (`http`) and `x-amzn-trace-id` added as API Gateway
//! adds them; `requestContext.domainName` is the API's default endpoint name
//! (`<apiId>.execute-api.<region>.amazonaws.com`), `time` looks like `05/Jan/2026:10:00:00 +0000`.
//! The body is text for `text/*`, `application/json`, `application/xml` and
//! `application/javascript` content that is UTF-8, and base64 (`isBase64Encoded: true`) otherwise,
//! including no content type and `application/x-www-form-urlencoded`, as HTTP APIs do; an empty
//! body leaves `body` out.
//!
//! The IAM identity (`requestContext.authorizer.iam`): `accessKey`, `callerId` and `userId` are the
//! access key id, `accountId` the configured account, `userArn`
//! `arn:aws:iam::<account>:user/<access key id>` (AWS would give the real principal: a user's
//! unique id, an assumed role's session ARN).
//!
//! The JWT identity (`requestContext.authorizer.jwt`): `claims` with every value a string, arrays
//! rendered `[a b]` as API Gateway renders them (numbers, booleans and objects as their JSON
//! text), and `scopes`, the `scope` claim split on spaces, or `null`.
//!
//! # The answer
//!
//! A result that is a JSON object with `statusCode` is a payload 2.0 response: `statusCode`,
//! `headers` (string values), `cookies` (each a `set-cookie` header), `body` and
//! `isBase64Encoded` (the body is then decoded). `multiValueHeaders` is ignored, as API Gateway
//! ignores it in payload format 2.0. Anything else valid JSON is answered 200 with
//! `content-type: application/json` and the result, unchanged, as the body.
//!
//! # Logs
//!
//! One line per request: method, path, status, duration, request id and, when the gateway answered
//! itself, why; never a credential, a token or a body.
//!
//! # Not emulated
//!
//! Routes other than `$default`, stages, path parameters, stage variables, CORS, throttling,
//! mutual TLS, custom domains; AWS's quirk of percent-decoding the path twice (`%2525` arrives as
//! `%`; here it arrives as `%25`); the 6 MB payload limit of a synchronous Lambda invocation.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Version};
use axum::response::Response;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::Uri;
use serde_json::{json, Map, Value};

use crate::auth;
use crate::config::is_function_name;
use crate::error::{ErrorKind, IvsError};
use crate::invoke::{self, HttpClient, InvokeError};
use crate::server::{self, Server};

/// How the gateway authorizes requests, as the API's routes are configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GatewayAuth {
    /// IAM authorization (`AWS_IAM`): SigV4-signed requests. Signatures are not verified.
    #[default]
    Iam,
    /// A JWT authorizer: `Authorization: Bearer <JWT>`. Tokens are decoded, NEVER verified.
    Jwt,
}

impl GatewayAuth {
    /// The name the command line takes: `iam` or `jwt`.
    pub fn name(self) -> &'static str {
        match self {
            GatewayAuth::Iam => "iam",
            GatewayAuth::Jwt => "jwt",
        }
    }
}

impl fmt::Display for GatewayAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GatewayAuth {
    type Err = GatewayConfigError;

    /// `iam` or `jwt`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "iam" => Ok(GatewayAuth::Iam),
            "jwt" => Ok(GatewayAuth::Jwt),
            _ => Err(GatewayConfigError(format!(
                "the authorization is 'iam' or 'jwt', not '{name}'"
            ))),
        }
    }
}

/// A gateway configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid gateway configuration: {0}")]
pub struct GatewayConfigError(String);

/// What a [`Gateway`] fronts and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Base URL of the Lambda Invoke API (`cargo lambda watch`): `http://127.0.0.1:9000`.
    pub lambda_endpoint: String,
    /// The function every request goes to (`admin-api`).
    pub function: String,
    /// The region requests must be signed for (and the one in the event's domain name).
    pub region: String,
    /// The account id of the event and of the IAM identity.
    pub account: String,
    /// How requests are authorized.
    pub auth: GatewayAuth,
    /// How long the function may take (API Gateway's limit: 30 seconds). The first invocation
    /// under `cargo lambda watch` compiles the function, which can take longer.
    pub timeout: Duration,
    /// The largest request body, in bytes (API Gateway's limit: 10 MB).
    pub body_limit: usize,
    /// The API id in the event (`requestContext.apiId`): ten lower-case letters or digits.
    pub api_id: String,
}

impl GatewayConfig {
    /// API Gateway's integration timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// API Gateway's payload limit.
    pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;
    /// The API id of the event unless configured.
    pub const DEFAULT_API_ID: &'static str = "localapigw";

    /// A gateway to `function` through the Invoke API at `lambda_endpoint`: IAM authorization,
    /// us-west-2, account 111122223333, API Gateway's 30-second timeout and 10 MB body limit.
    pub fn new(lambda_endpoint: impl Into<String>, function: impl Into<String>) -> Self {
        Self {
            lambda_endpoint: lambda_endpoint.into(),
            function: function.into(),
            region: "us-west-2".to_owned(),
            account: "111122223333".to_owned(),
            auth: GatewayAuth::Iam,
            timeout: Self::DEFAULT_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            api_id: Self::DEFAULT_API_ID.to_owned(),
        }
    }

    fn check(&self) -> Result<Uri, GatewayConfigError> {
        let lower_alphanumeric = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        // Each text member: whether it is acceptable, what it must be, and its value.
        let members = [
            (
                self.lambda_endpoint.starts_with("http://"),
                "the Lambda endpoint must be an http:// URL",
                &self.lambda_endpoint,
            ),
            (
                is_function_name(&self.function),
                "the function name must be letters, digits, '-' and '_'",
                &self.function,
            ),
            (
                lower_alphanumeric(&self.region.replace('-', "")),
                "the region must match [a-z0-9-]+",
                &self.region,
            ),
            (
                !self.account.is_empty() && self.account.bytes().all(|b| b.is_ascii_digit()),
                "the account must be digits",
                &self.account,
            ),
            (
                lower_alphanumeric(&self.api_id),
                "the API id must be lower-case letters and digits",
                &self.api_id,
            ),
        ];
        if let Some((_, rule, value)) = members.iter().find(|(valid, _, _)| !valid) {
            return Err(GatewayConfigError(format!("{rule}, not '{value}'")));
        }
        if self.timeout.is_zero() {
            return Err(GatewayConfigError(
                "the timeout must not be zero".to_owned(),
            ));
        }
        invoke::invocation_uri(&self.lambda_endpoint, &self.function).map_err(GatewayConfigError)
    }
}

/// A local API Gateway HTTP API (payload format 2.0) in front of one Lambda function. Cheap to
/// clone: clones share their configuration and connections.
#[derive(Clone, Debug)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: GatewayConfig,
    invoke_uri: Uri,
    client: HttpClient,
}

impl Gateway {
    /// A gateway as `config` describes it.
    pub fn new(config: GatewayConfig) -> Result<Self, GatewayConfigError> {
        let invoke_uri = config.check()?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                invoke_uri,
                client: invoke::client(),
            }),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// The HTTP router: every method and path goes to the function.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// Serves the router on `addr` (a loopback address; port 0 picks a free port).
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Server> {
        let server = Server::start(self.router(), addr).await?;
        let config = self.config();
        tracing::info!(addr = %server.addr(), function = %config.function, auth = %config.auth, "API Gateway emulator listening");
        Ok(server)
    }

    /// Authorizes, invokes the function and answers as API Gateway would.
    async fn proxy(&self, request: Request, request_id: &str) -> Result<Response, Failure> {
        let config = self.config();
        let authorizer = authorize(config, request.headers())?;
        let (parts, body) = request.into_parts();
        let body = read_body(body, &parts.headers, config.body_limit).await?;
        let source_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |info| info.0.ip());
        let request = HttpRequest {
            parts: &parts,
            body: &body,
            source_ip,
        };
        let event = build_event(config, &request, authorizer, request_id, Utc::now())?;
        let invocation = invoke::invoke(
            &self.inner.client,
            &self.inner.invoke_uri,
            Bytes::from(event.to_string()),
            config.timeout,
        )
        .await
        .map_err(|err| match err {
            InvokeError::Timeout(_) => Failure::Unavailable(err.to_string()),
            InvokeError::Failed(error) => Failure::Internal(error),
        })?;
        if let Some(failure) = invocation.failure() {
            return Err(Failure::Internal(failure));
        }
        function_response(&invocation.payload).map_err(Failure::Internal)
    }
}

/// Every request: proxied, with a request id on the answer and one log line.
async fn handle(State(gateway): State<Gateway>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request_id();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let (mut response, error) = match gateway.proxy(request, &request_id).await {
        Ok(response) => (response, None),
        Err(failure) => (failure.response(), Some(failure.to_string())),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    let status = response.status().as_u16();
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if response.status().is_server_error() {
        tracing::warn!(%method, %path, status, duration_ms, %request_id, error = error.as_deref(), "gateway request");
    } else {
        tracing::info!(%method, %path, status, duration_ms, %request_id, error = error.as_deref(), "gateway request");
    }
    response
}

/// Why the gateway answers itself instead of the function.
#[derive(Debug)]
enum Failure {
    /// IAM: no `Authorization` header.
    MissingAuthentication,
    /// IAM: a malformed or mis-scoped SigV4 header.
    Signature(IvsError),
    /// JWT: no token (`None`), or one that does not decode (why).
    Unauthorized(Option<&'static str>),
    /// The request cannot be turned into an event.
    BadRequest(String),
    /// The body is over the limit.
    TooLarge,
    /// The invocation failed or its result is malformed.
    Internal(String),
    /// No answer in time.
    Unavailable(String),
}

impl fmt::Display for Failure {
    /// The reason, for the log (never a credential or a body).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::MissingAuthentication => f.write_str("no Authorization header"),
            Failure::Signature(error) => write!(f, "{error}"),
            Failure::Unauthorized(None) => f.write_str("no bearer token"),
            Failure::Unauthorized(Some(why)) => f.write_str(why),
            Failure::BadRequest(why) | Failure::Internal(why) | Failure::Unavailable(why) => {
                f.write_str(why)
            }
            Failure::TooLarge => f.write_str("the body is over the limit"),
        }
    }
}

impl Failure {
    /// API Gateway's answer.
    fn response(&self) -> Response {
        let answer = |status: StatusCode, message: &str| {
            server::json_response(status, &json!({ "message": message }))
        };
        match self {
            Failure::MissingAuthentication => {
                let mut response = answer(StatusCode::FORBIDDEN, "Forbidden");
                response.headers_mut().insert(
                    "x-amzn-errortype",
                    HeaderValue::from_static("ForbiddenException"),
                );
                response
            }
            Failure::Signature(error) => server::error_response(error),
            Failure::Unauthorized(why) => {
                let mut response = answer(StatusCode::UNAUTHORIZED, "Unauthorized");
                let challenge = why.map(|why| {
                    format!(r#"Bearer scope="" error="invalid_token" error_description="{why}""#)
                });
                if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                response
            }
            Failure::BadRequest(_) => answer(StatusCode::BAD_REQUEST, "Bad Request"),
            Failure::TooLarge => answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
            Failure::Internal(_) => {
                answer(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Failure::Unavailable(_) => {
                answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
        }
    }
}

/// A request id as API Gateway writes them (`ATfSmjLgPHcESJw=`): 11 random bytes in base64.
fn request_id() -> String {
    let bytes: [u8; 11] = std::array::from_fn(|_| fastrand::u8(..));
    STANDARD.encode(bytes)
}

/// `requestContext.authorizer`, or the refusal.
fn authorize(config: &GatewayConfig, headers: &HeaderMap) -> Result<Value, Failure> {
    match config.auth {
        GatewayAuth::Iam => {
            let access_key = auth::authenticate(headers, &config.region, auth::EXECUTE_API)
                .map_err(|error| match error.kind {
                    ErrorKind::MissingAuthenticationToken => Failure::MissingAuthentication,
                    _ => Failure::Signature(error),
                })?;
            Ok(iam_authorizer(&config.account, &access_key))
        }
        GatewayAuth::Jwt => {
            let value = headers
                .get(header::AUTHORIZATION)
                .ok_or(Failure::Unauthorized(None))?
                .to_str()
                .map_err(|_| Failure::Unauthorized(Some("the token is not valid ASCII")))?
                .trim();
            let token = match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                _ => value,
            };
            let claims = jwt_claims(token).map_err(|why| Failure::Unauthorized(Some(why)))?;
            Ok(jwt_authorizer(&claims))
        }
    }
}

fn iam_authorizer(account: &str, access_key: &str) -> Value {
    json!({
        "iam": {
            "accessKey": access_key,
            "accountId": account,
            "callerId": access_key,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{account}:user/{access_key}"),
            "userId": access_key,
        }
    })
}

/// The claims of a JWS in compact form, decoded WITHOUT any verification.
fn jwt_claims(token: &str) -> Result<Map<String, Value>, &'static str> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the token is not a JWT: three base64url parts separated by dots");
    };
    let decode = |part: &str| -> Option<Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(fields) => Some(fields),
            _ => None,
        }
    };
    decode(header).ok_or("the token's header is not a base64url-encoded JSON object")?;
    decode(payload).ok_or("the token's payload is not a base64url-encoded JSON object")
}

fn jwt_authorizer(claims: &Map<String, Value>) -> Value {
    let rendered: Map<String, Value> = claims
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(claim_text(value))))
        .collect();
    let scopes: Vec<&str> = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|scope| scope.split_whitespace().collect())
        .unwrap_or_default();
    json!({
        "jwt": {
            "claims": rendered,
            "scopes": if scopes.is_empty() { Value::Null } else { json!(scopes) },
        }
    })
}

/// A claim as API Gateway puts it in the event: a string; arrays as `[a b]`.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(claim_text).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

/// The whole body, within `limit` bytes.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Failure> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(Failure::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(Failure::TooLarge),
        Err(err) => Err(Failure::BadRequest(format!(
            "cannot read the request body: {err}"
        ))),
    }
}

/// What the event is made of.
struct HttpRequest<'a> {
    parts: &'a Parts,
    body: &'a [u8],
    source_ip: IpAddr,
}

/// The payload format 2.0 event of `request`.
fn build_event(
    config: &GatewayConfig,
    request: &HttpRequest<'_>,
    authorizer: Value,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Value, Failure> {
    let parts = request.parts;
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8()
        .map_err(|_| {
            Failure::BadRequest("the path is not UTF-8 once percent-decoded".to_owned())
        })?;
    let raw_query = parts.uri.query().unwrap_or_default();
    let (headers, cookies) = event_headers(&parts.headers, request.source_ip, now);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let api_id = &config.api_id;
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": config.account,
            "apiId": api_id,
            "authorizer": authorizer,
            "domainName": format!("{api_id}.execute-api.{}.amazonaws.com", config.region),
            "domainPrefix": api_id,
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": protocol(parts.version),
                "sourceIp": request.source_ip.to_string(),
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    let parameters = query_parameters(raw_query);
    if !parameters.is_empty() {
        event["queryStringParameters"] = json!(parameters);
    }
    if !request.body.is_empty() {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let text = is_text(content_type)
            .then(|| std::str::from_utf8(request.body).ok())
            .flatten();
        match text {
            Some(text) => event["body"] = json!(text),
            None => {
                event["body"] = json!(STANDARD.encode(request.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    Ok(event)
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Whether API Gateway passes a body of this content type as text (when it is UTF-8).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type.starts_with("text/")
        || matches!(
            media_type.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// The event's `headers` (repeated headers joined with `,`, what API Gateway adds) and `cookies`.
fn event_headers(
    headers: &HeaderMap,
    source_ip: IpAddr,
    now: DateTime<Utc>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut joined = BTreeMap::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if name == header::COOKIE {
            for value in values {
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
        } else {
            joined.insert(
                name.as_str().to_owned(),
                values.collect::<Vec<_>>().join(","),
            );
        }
    }
    let port = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|host| host.rsplit_once(':'))
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .unwrap_or(80);
    let forwarded_for = match joined.remove("x-forwarded-for") {
        Some(earlier) => format!("{earlier}, {source_ip}"),
        None => source_ip.to_string(),
    };
    joined.insert("x-forwarded-for".to_owned(), forwarded_for);
    joined.insert("x-forwarded-port".to_owned(), port.to_string());
    joined.insert("x-forwarded-proto".to_owned(), "http".to_owned());
    joined
        .entry("x-amzn-trace-id".to_owned())
        .or_insert_with(|| trace_id(now));
    (joined, cookies)
}

/// An X-Ray trace header: `Root=1-<epoch seconds, 8 hex digits>-<96 random bits>`.
fn trace_id(now: DateTime<Utc>) -> String {
    let seconds = u32::try_from(now.timestamp()).unwrap_or_default();
    format!("Root=1-{seconds:08x}-{:024x}", fastrand::u128(..) >> 32)
}

/// Decoded query parameters, repeated names joined with `,`.
fn query_parameters(raw_query: &str) -> BTreeMap<String, String> {
    let mut parameters: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        parameters
            .entry(name.into_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    parameters
}

/// The HTTP answer of the function's result; why it is malformed otherwise.
fn function_response(result: &[u8]) -> Result<Response, String> {
    let value: Value = serde_json::from_slice(result)
        .map_err(|err| format!("the function's result is not JSON: {err}"))?;
    match value {
        Value::Object(fields) if fields.contains_key("statusCode") => structured_response(&fields),
        // Payload 2.0 infers a response from any other JSON: 200, JSON, the result as the body.
        _ => {
            let mut response = Response::new(Body::from(result.to_vec()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(response)
        }
    }
}

/// A payload 2.0 response: `{statusCode, headers, cookies, body, isBase64Encoded}`.
fn structured_response(fields: &Map<String, Value>) -> Result<Response, String> {
    let status = fields
        .get("statusCode")
        .and_then(Value::as_u64)
        .filter(|code| (100..600).contains(code))
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            format!(
                "malformed response: statusCode must be an HTTP status code, not {}",
                fields["statusCode"]
            )
        })?;
    let is_base64 = match fields.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            return Err(format!(
                "malformed response: isBase64Encoded must be a boolean, not {other}"
            ))
        }
    };
    let body = match fields.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if is_base64 => STANDARD
            .decode(text)
            .map_err(|err| format!("malformed response: the body is not base64: {err}"))?,
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => {
            return Err(format!(
                "malformed response: body must be a string, not {}",
                json_type(other)
            ))
        }
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    match fields.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let Value::String(value) = value else {
                    return Err(format!(
                        "malformed response: header '{name}' must be a string, not {}",
                        json_type(value)
                    ));
                };
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("malformed response: invalid header name '{name}'"))?;
                // The framing is the gateway's own.
                if matches!(
                    name,
                    header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION
                ) {
                    continue;
                }
                let value = HeaderValue::from_str(value)
                    .map_err(|_| format!("malformed response: invalid value of header '{name}'"))?;
                headers.insert(name, value);
            }
        }
        Some(other) => {
            return Err(format!(
                "malformed response: headers must be an object, not {}",
                json_type(other)
            ))
        }
    }
    match fields.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for cookie in cookies {
                let value = cookie
                    .as_str()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                    .ok_or_else(|| format!("malformed response: invalid cookie {cookie}"))?;
                headers.append(header::SET_COOKIE, value);
            }
        }
        Some(other) => {
            return Err(format!(
                "malformed response: cookies must be an array, not {}",
                json_type(other)
            ))
        }
    }
    if fields
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .is_some_and(|map| !map.is_empty())
    {
        tracing::debug!("multiValueHeaders ignored: API Gateway ignores it in payload format 2.0");
    }
    Ok(response)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn defaults_are_api_gateways_limits() {
        let config = GatewayConfig::new("http://127.0.0.1:9000", "admin-api");
        assert_eq!(config.timeout, Duration::from_secs(30));
        assert_eq!(config.body_limit, 10_485_760);
        assert_eq!(config.auth, GatewayAuth::Iam);
        assert!(Gateway::new(config.clone()).is_ok());
        for broken in [
            GatewayConfig {
                lambda_endpoint: "https://lambda.example.com".to_owned(),
                ..config.clone()
            },
            GatewayConfig {
                function: "a/b".to_owned(),
                ..config.clone()
            },
            GatewayConfig {
                region: "US_WEST".to_owned(),
                ..config.clone()
            },
            GatewayConfig {
                account: "abc".to_owned(),
                ..config.clone()
            },
            GatewayConfig {
                api_id: "Not.An.Id".to_owned(),
                ..config.clone()
            },
            GatewayConfig {
                timeout: Duration::ZERO,
                ..config.clone()
            },
        ] {
            assert!(Gateway::new(broken.clone()).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn auth_modes_parse_and_print() {
        assert_eq!("iam".parse::<GatewayAuth>(), Ok(GatewayAuth::Iam));
        assert_eq!("jwt".parse::<GatewayAuth>(), Ok(GatewayAuth::Jwt));
        assert!("basic".parse::<GatewayAuth>().is_err());
        assert_eq!(GatewayAuth::Jwt.to_string(), "jwt");
    }

    #[test]
    fn request_and_trace_ids_look_like_aws_ones() {
        let id = request_id();
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.ends_with('='), "{id}");
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
        let trace = trace_id(now);
        assert!(trace.starts_with("Root=1-695b8ba0-"), "{trace}");
        assert_eq!(trace.len(), "Root=1-".len() + 8 + 1 + 24, "{trace}");
    }

    #[test]
    fn claims_are_rendered_as_strings() {
        let claims = json!({
            "sub": "user-1",
            "exp": 1_767_607_200,
            "email_verified": true,
            "cognito:groups": ["admins", "ops"],
            "scope": "ivs-automation/admin openid",
            "address": {"country": "FR"},
        });
        let authorizer = jwt_authorizer(claims.as_object().unwrap());
        let jwt = &authorizer["jwt"];
        assert_eq!(jwt["claims"]["sub"], "user-1");
        assert_eq!(jwt["claims"]["exp"], "1767607200");
        assert_eq!(jwt["claims"]["email_verified"], "true");
        assert_eq!(jwt["claims"]["cognito:groups"], "[admins ops]");
        assert_eq!(jwt["claims"]["address"], r#"{"country":"FR"}"#);
        assert_eq!(jwt["scopes"], json!(["ivs-automation/admin", "openid"]));
        let no_scope = jwt_authorizer(json!({"sub": "x"}).as_object().unwrap());
        assert_eq!(no_scope["jwt"]["scopes"], Value::Null);
    }

    #[test]
    fn tokens_decode_without_verification() {
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let header = encode(&json!({"alg": "RS256", "kid": "k"}));
        let payload = encode(&json!({"sub": "abc"}));
        let claims = jwt_claims(&format!("{header}.{payload}.c2ln")).unwrap();
        assert_eq!(claims["sub"], "abc");
        // Padding is tolerated; an empty signature is not checked either.
        assert!(jwt_claims(&format!("{header}==.{payload}.")).is_ok());
        for broken in [
            String::new(),
            "abc".to_owned(),
            format!("{header}.{payload}"),
            format!("{header}.{payload}.sig.extra"),
            format!("{header}.!!!.sig"),
            format!("{header}.{}.sig", encode(&json!(["not", "an", "object"]))),
            format!("{}.{payload}.sig", URL_SAFE_NO_PAD.encode("not json")),
        ] {
            assert!(jwt_claims(&broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn text_content_types() {
        for text in [
            "application/json",
            "application/json; charset=utf-8",
            "Text/Plain",
            "text/html;charset=UTF-8",
            "application/xml",
            "application/javascript",
        ] {
            assert!(is_text(Some(text)), "{text}");
        }
        for binary in [
            None,
            Some("application/octet-stream"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("image/png"),
        ] {
            assert!(!is_text(binary), "{binary:?}");
        }
    }

    #[test]
    fn query_parameters_are_decoded_and_joined() {
        let parameters = query_parameters(
            "repeat=one&repeat=two&redirect=https%3A%2F%2Fx.com%2Fa&plus=a+b&encoded=a%2Bb&empty=",
        );
        assert_eq!(parameters["repeat"], "one,two");
        assert_eq!(parameters["redirect"], "https://x.com/a");
        assert_eq!(parameters["plus"], "a b");
        assert_eq!(parameters["encoded"], "a+b");
        assert_eq!(parameters["empty"], "");
        assert!(query_parameters("").is_empty());
    }

    #[test]
    fn malformed_responses_are_refused() {
        for broken in [
            json!({"statusCode": "200"}),
            json!({"statusCode": 99}),
            json!({"statusCode": 600}),
            json!({"statusCode": null}),
            json!({"statusCode": 200, "body": {"a": 1}}),
            json!({"statusCode": 200, "headers": {"x-count": 1}}),
            json!({"statusCode": 200, "headers": ["a"]}),
            json!({"statusCode": 200, "headers": {"bad name": "x"}}),
            json!({"statusCode": 200, "cookies": "a=b"}),
            json!({"statusCode": 200, "cookies": [1]}),
            json!({"statusCode": 200, "isBase64Encoded": "yes"}),
            json!({"statusCode": 200, "isBase64Encoded": true, "body": "not base64!"}),
        ] {
            let result = function_response(broken.to_string().as_bytes());
            assert!(result.is_err(), "{broken}");
        }
        assert!(function_response(b"not json").is_err());
    }
}
