//! The Lambda Invoke API client shared by event delivery and the API Gateway emulator:
//! `POST {endpoint}/2015-03-31/functions/{name}/invocations`, a synchronous (`RequestResponse`)
//! invocation, as `cargo lambda watch` serves it.

use std::fmt;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters escaped in a function name in the invoke URL.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The longest text kept from a failed invocation's answer.
const MAX_ERROR_TEXT: usize = 512;

/// A plain-HTTP client of the Invoke API (cheap to clone: clones share their connections).
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A new client.
pub(crate) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// The invoke URL of `function` under the Invoke API at `endpoint` (a base URL).
pub(crate) fn invocation_uri(endpoint: &str, function: &str) -> Result<Uri, String> {
    let endpoint = endpoint.trim_end_matches('/');
    let name = utf8_percent_encode(function, PATH_SEGMENT);
    format!("{endpoint}/2015-03-31/functions/{name}/invocations")
        .parse()
        .map_err(|err| format!("invalid Lambda endpoint {endpoint}: {err}"))
}

/// The Invoke API's answer to an invocation.
#[derive(Debug)]
pub(crate) struct Invocation {
    /// The status of the Invoke API's answer (200 when the function ran).
    pub status: StatusCode,
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`): the function failed, and the payload
    /// describes the error.
    pub function_error: Option<String>,
    /// The function's result (or the error's description).
    pub payload: Bytes,
}

impl Invocation {
    /// Why the invocation failed (a non-2xx answer or a function error), for logs and dead
    /// letters, with at most 512 characters of the answer; `None` when the function succeeded.
    pub(crate) fn failure(&self) -> Option<String> {
        let text = || -> String {
            String::from_utf8_lossy(&self.payload)
                .chars()
                .take(MAX_ERROR_TEXT)
                .collect()
        };
        if !self.status.is_success() {
            return Some(format!("HTTP {}: {}", self.status, text()));
        }
        self.function_error
            .as_ref()
            .map(|kind| format!("function error ({kind}): {}", text()))
    }
}

/// An invocation that got no complete answer.
#[derive(Debug)]
pub(crate) enum InvokeError {
    /// No complete answer within the time limit.
    Timeout(Duration),
    /// The Invoke API could not be reached, or its answer could not be read.
    Failed(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Timeout(limit) => write!(f, "no answer within {limit:?}"),
            InvokeError::Failed(error) => f.write_str(error),
        }
    }
}

/// Invokes the function at `uri` with `payload` and waits, at most `timeout`, for its whole
/// answer.
pub(crate) async fn invoke(
    client: &HttpClient,
    uri: &Uri,
    payload: Bytes,
    timeout: Duration,
) -> Result<Invocation, InvokeError> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri.clone())
        .header("content-type", "application/json")
        .header("x-amz-invocation-type", "RequestResponse")
        .body(Full::new(payload))
        .map_err(|err| InvokeError::Failed(format!("cannot build the invocation: {err}")))?;
    let answer = async {
        let response = client
            .request(request)
            .await
            .map_err(|err| InvokeError::Failed(format!("invocation failed: {err}")))?;
        let status = response.status();
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let payload = response
            .into_body()
            .collect()
            .await
            .map_err(|err| {
                InvokeError::Failed(format!("cannot read the invocation's answer: {err}"))
            })?
            .to_bytes();
        Ok(Invocation {
            status,
            function_error,
            payload,
        })
    };
    tokio::time::timeout(timeout, answer)
        .await
        .map_err(|_| InvokeError::Timeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_escaped_in_the_path() {
        let uri = invocation_uri("http://127.0.0.1:9000/", "admin api").unwrap();
        assert_eq!(
            uri.to_string(),
            "http://127.0.0.1:9000/2015-03-31/functions/admin%20api/invocations"
        );
        assert!(invocation_uri("not a url", "f").is_err());
    }

    #[test]
    fn failures_name_the_status_or_the_function_error() {
        let answer = |status: u16, function_error: Option<&str>| Invocation {
            status: StatusCode::from_u16(status).unwrap(),
            function_error: function_error.map(str::to_owned),
            payload: Bytes::from("x".repeat(600)),
        };
        assert_eq!(answer(200, None).failure(), None);
        let failure = answer(502, None).failure().unwrap();
        assert!(failure.starts_with("HTTP 502 Bad Gateway: x"), "{failure}");
        assert_eq!(
            failure.len(),
            "HTTP 502 Bad Gateway: ".len() + MAX_ERROR_TEXT
        );
        let failure = answer(200, Some("Unhandled")).failure().unwrap();
        assert!(
            failure.starts_with("function error (Unhandled): "),
            "{failure}"
        );
    }
}
