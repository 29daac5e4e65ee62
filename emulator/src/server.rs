//! HTTP: the router (IVS restJson1 routes, the control API, unknown routes), the translation of
//! operation results into responses, and the [`Server`] handle.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::control;
use crate::emulator::Emulator;
use crate::error::{ErrorKind, IvsError};
use crate::ops::{Operation, Output, NOT_EMULATED};
use crate::validate::Input;

/// How long [`Server::shutdown`] waits for open requests before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub(crate) fn router(emulator: Emulator) -> Router {
    Router::new()
        .nest("/_emulator", control::router())
        // Secrets Manager's awsJson1_1 endpoint (X-Amz-Target dispatch), for local secrets.
        .route("/", post(secrets_manager))
        // Every method reaches `tags`, which answers the ones IVS does not define.
        .route("/tags/{*resource_arn}", any(tags))
        .route("/{operation}", post(operation).fallback(unknown_route))
        .fallback(unknown_route)
        .with_state(emulator)
}

async fn secrets_manager(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    emulator
        .secrets()
        .handle(emulator.region(), emulator.account(), &headers, &body)
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The wire form of an IVS error: the type in `X-Amzn-Errortype`, the message in the body.
pub(crate) fn error_response(error: &IvsError) -> Response {
    let body = if error.kind.is_front_end() {
        json!({ "message": error.message })
    } else {
        json!({ "exceptionMessage": error.message })
    };
    let mut response = json_response(error.kind.status(), &body);
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static(error.kind.type_name()),
    );
    response
}

fn success_response(op: Operation, output: Output) -> Response {
    let status = op.success_status();
    match output {
        Output::Json(body) if status != StatusCode::NO_CONTENT => json_response(status, &body),
        _ => (status, Body::empty()).into_response(),
    }
}

/// Runs `op` and answers, with a request id on every answer.
async fn respond(
    emulator: &Emulator,
    op: Operation,
    headers: &HeaderMap,
    input: Result<Input, IvsError>,
) -> Response {
    let request_id = emulator.next_request_id();
    let mut response = match emulator.execute(op, headers, input).await {
        Ok(output) => success_response(op, output),
        Err(error) => {
            tracing::debug!(operation = op.name(), error = %error, "request refused");
            error_response(&error)
        }
    };
    tracing::info!(operation = op.name(), status = response.status().as_u16(), request_id = %request_id, "IVS request");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// `POST /<Operation>`.
async fn operation(
    State(emulator): State<Emulator>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match Operation::from_name(&name).filter(|op| !op.is_tagging()) {
        Some(op) => respond(&emulator, op, &headers, Input::from_body(&body)).await,
        None => unknown_operation(&Method::POST, &format!("/{name}")),
    }
}

/// `GET|POST|DELETE /tags/{resourceArn}`.
async fn tags(
    State(emulator): State<Emulator>,
    method: Method,
    resource_arn: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = match method {
        Method::GET => Operation::ListTagsForResource,
        Method::POST => Operation::TagResource,
        Method::DELETE => Operation::UntagResource,
        _ => return unknown_operation(&method, "/tags/{resourceArn}"),
    };
    let input = tags_input(op, resource_arn, query.as_deref(), &body);
    respond(&emulator, op, &headers, input).await
}

fn tags_input(
    op: Operation,
    resource_arn: Result<Path<String>, PathRejection>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Input, IvsError> {
    let Path(resource_arn) = resource_arn
        .map_err(|err| IvsError::validation(format!("Invalid resourceArn in the path: {err}")))?;
    let mut input = match op {
        Operation::TagResource => Input::from_body(body)?,
        _ => Input::default(),
    };
    input.set("resourceArn", Value::String(resource_arn));
    if op == Operation::UntagResource {
        let keys: Vec<Value> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(name, _)| name == "tagKeys")
            .map(|(_, value)| Value::String(value.into_owned()))
            .collect();
        if !keys.is_empty() {
            input.set("tagKeys", Value::Array(keys));
        }
    }
    Ok(input)
}

fn unknown_operation(method: &Method, path: &str) -> Response {
    let name = path.trim_start_matches('/');
    let message = if NOT_EMULATED.contains(&name) {
        format!("{name} is an IVS operation that ivs-emulator does not implement")
    } else {
        format!("No IVS operation at {method} {path}")
    };
    error_response(&IvsError::new(ErrorKind::UnknownOperation, message))
}

async fn unknown_route(method: Method, uri: Uri) -> Response {
    unknown_operation(&method, uri.path())
}

/// A running HTTP server (the IVS emulator's or the API Gateway emulator's). It stops on
/// [`shutdown`](Self::shutdown) or when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub(crate) async fn start(router: Router, addr: SocketAddr) -> std::io::Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "ivs-emulator only listens on loopback addresses, not {}",
                    addr.ip()
                ),
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // The peer's address reaches handlers as `ConnectInfo<SocketAddr>`.
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    // Stop on a signal, or when the handle is gone.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`http://127.0.0.1:PORT`), the endpoint to give to clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits (a few seconds at most) for open requests to end.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(std::io::Error::other(join_error)),
            Err(_) => {
                task.abort();
                tracing::warn!("open requests did not finish in time; dropped them");
                Ok(())
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
