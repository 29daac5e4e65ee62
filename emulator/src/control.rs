//! The control API under `/_emulator`: simulated ingest, limit breaches, recording failures, and a
//! look at what the emulator recorded. JSON in and out, no authentication, no fault injection.
//! Errors answer `{"error": "<code>", "message": "..."}` with the status of the
//! [`ControlError`].

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::emulator::Emulator;
use crate::error::ControlError;
use crate::faults::FaultConfig;
use crate::ingest::{LimitBreach, RecordingFailure};
use crate::rate::RateQuotas;
use crate::seed::{SeedSpec, SeededChannel};

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code(), "message": self.to_string() });
        (self.status(), Json(body)).into_response()
    }
}

type ControlResult = Result<Response, ControlError>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|err| ControlError::InvalidRequest(format!("invalid JSON body: {err}")))
}

fn ok(value: Value) -> ControlResult {
    Ok(Json(value).into_response())
}

pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/health", get(health))
        .route("/ingest/connect", post(connect))
        .route("/ingest/disconnect", post(disconnect))
        .route("/ingest/starve", post(starve))
        .route("/ingest/recover", post(recover))
        .route("/ingest/viewers", post(viewers))
        .route("/limit-breach", post(limit_breach))
        .route("/recording/fail-next", post(fail_next_recording))
        .route("/recording/flush", post(flush_recordings))
        .route("/metadata", get(metadata))
        .route("/events", get(events))
        .route("/faults", get(get_faults).post(set_faults))
        .route("/faults/next", post(fail_next))
        .route("/rate-quotas", get(get_rate_quotas).post(set_rate_quotas))
        .route("/seed", post(seed))
        .route("/queues", get(queues))
        .route("/stats", get(stats))
        .route("/dead-letters", get(dead_letters))
        .route("/revocations", get(revocations))
        .fallback(not_found)
}

async fn not_found() -> Response {
    let body = json!({ "error": "NotFound", "message": "no such control route" });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn health(State(emulator): State<Emulator>) -> ControlResult {
    ok(
        json!({ "status": "ok", "region": emulator.region(), "account": emulator.account(), "seed": emulator.seed() }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectRequest {
    stream_key: String,
}

async fn connect(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: ConnectRequest = parse(&body)?;
    let connected = emulator.connect(&request.stream_key)?;
    Ok(Json(connected).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChannelRequest {
    channel_arn: String,
}

async fn disconnect(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: ChannelRequest = parse(&body)?;
    let stream_id = emulator.disconnect(&request.channel_arn)?;
    ok(json!({ "channelArn": request.channel_arn, "streamId": stream_id }))
}

async fn starve(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: ChannelRequest = parse(&body)?;
    emulator.starve(&request.channel_arn)?;
    ok(json!({}))
}

async fn recover(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: ChannelRequest = parse(&body)?;
    emulator.recover(&request.channel_arn)?;
    ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ViewersRequest {
    channel_arn: String,
    viewer_count: u64,
}

async fn viewers(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: ViewersRequest = parse(&body)?;
    emulator.set_viewer_count(&request.channel_arn, request.viewer_count)?;
    ok(json!({}))
}

async fn limit_breach(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let breach: LimitBreach = parse(&body)?;
    emulator.breach_with(&breach)?;
    ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailNextRecordingRequest {
    channel_arn: String,
    phase: RecordingFailure,
    #[serde(default)]
    reason: Option<String>,
}

async fn fail_next_recording(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: FailNextRecordingRequest = parse(&body)?;
    emulator.fail_next_recording_with(&request.channel_arn, request.phase, request.reason)?;
    ok(json!({}))
}

async fn flush_recordings(State(emulator): State<Emulator>) -> ControlResult {
    emulator.flush_recordings();
    ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataQuery {
    channel_arn: Option<String>,
}

async fn metadata(
    State(emulator): State<Emulator>,
    Query(query): Query<MetadataQuery>,
) -> ControlResult {
    let records = match query.channel_arn {
        Some(arn) => emulator.metadata(&arn),
        None => emulator.all_metadata(),
    };
    Ok(Json(records).into_response())
}

async fn events(State(emulator): State<Emulator>) -> ControlResult {
    let mut response = emulator.events_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn get_faults(State(emulator): State<Emulator>) -> ControlResult {
    ok(json!({ "rules": emulator.faults().rules, "scripted": emulator.scripted_errors() }))
}

async fn set_faults(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let config: FaultConfig = parse(&body)?;
    config
        .validate()
        .map_err(|err| ControlError::InvalidRequest(err.to_string()))?;
    emulator.set_faults(config);
    get_faults(State(emulator)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailNextRequest {
    operation: String,
    error: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

async fn fail_next(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: FailNextRequest = parse(&body)?;
    emulator.fail_next(&request.operation, &request.error, request.count)?;
    get_faults(State(emulator)).await
}

async fn get_rate_quotas(State(emulator): State<Emulator>) -> ControlResult {
    Ok(Json(emulator.rate_quotas_view()).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateQuotasRequest {
    factor: f64,
}

async fn set_rate_quotas(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let request: RateQuotasRequest = parse(&body)?;
    let quotas = RateQuotas::scaled(request.factor);
    quotas
        .validate()
        .map_err(|err| ControlError::InvalidRequest(err.to_string()))?;
    emulator.set_rate_quotas(quotas);
    get_rate_quotas(State(emulator)).await
}

#[derive(Serialize)]
struct SeedResponse {
    created: usize,
    live: usize,
    channels: Vec<SeededChannel>,
}

async fn seed(State(emulator): State<Emulator>, body: Bytes) -> ControlResult {
    let spec: SeedSpec = parse(&body)?;
    let channels = emulator.seed_channels(&spec)?;
    let live = channels.iter().filter(|c| c.stream_id.is_some()).count();
    let response = SeedResponse {
        created: channels.len(),
        live,
        channels,
    };
    Ok(Json(response).into_response())
}

async fn stats(State(emulator): State<Emulator>) -> ControlResult {
    Ok(Json(emulator.stats()).into_response())
}

async fn dead_letters(State(emulator): State<Emulator>) -> ControlResult {
    Ok(Json(emulator.dead_letters()).into_response())
}

async fn revocations(State(emulator): State<Emulator>) -> ControlResult {
    Ok(Json(emulator.revocations()).into_response())
}

/// The queue targets' queues: `{"queues": {"<function>": url}, "deadLetterQueue": url}`;
/// sets them up first if no event has yet. 404 without a queue target, 502 when the SQS
/// server refuses or cannot be reached.
async fn queues(State(emulator): State<Emulator>) -> ControlResult {
    if !emulator.has_queues() {
        let body = json!({ "error": "not_found", "message": "no queue target is configured (--sqs-endpoint)" });
        return Ok((StatusCode::NOT_FOUND, Json(body)).into_response());
    }
    match emulator.start_queues().await {
        Ok(urls) => Ok(Json(urls).into_response()),
        Err(error) => {
            let body = json!({ "error": "queues_unavailable", "message": error });
            Ok((StatusCode::BAD_GATEWAY, Json(body)).into_response())
        }
    }
}
