//! A minimal AWS Secrets Manager, so that the admin API's playback key can be stored and read
//! locally through the real SDK (`AWS_ENDPOINT_URL_SECRETS_MANAGER` pointing here).
//!
//! The awsJson1_1 protocol as the SDKs speak it: `POST /` with
//! `X-Amz-Target: secretsmanager.<Operation>` and a JSON body; errors are 400 with the type in
//! `__type` (and `X-Amzn-Errortype`). Operations: `CreateSecret`, `PutSecretValue`,
//! `GetSecretValue`, `DeleteSecret` (string secrets only, the current version only). Requests
//! must be SigV4-signed for the emulator's region and the `secretsmanager` service
//! (signatures are not verified). Secret values are never logged.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth;
use crate::ids::IdGen;

const TARGET_PREFIX: &str = "secretsmanager.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The secrets, by name.
#[derive(Debug)]
pub(crate) struct SecretStore {
    secrets: Mutex<BTreeMap<String, Secret>>,
    ids: Mutex<IdGen>,
}

#[derive(Clone, Debug)]
struct Secret {
    arn: String,
    name: String,
    value: String,
    version_id: String,
    created: f64,
}

#[derive(Debug)]
struct Failure {
    kind: &'static str,
    message: String,
}

fn failure(kind: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

impl SecretStore {
    pub(crate) fn new(seed: u64) -> Self {
        SecretStore {
            secrets: Mutex::new(BTreeMap::new()),
            ids: Mutex::new(IdGen::new(seed ^ 0x5ec7_e75e_c7e7_5ec7)),
        }
    }

    /// Answers one Secrets Manager request.
    pub(crate) fn handle(
        &self,
        region: &str,
        account: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response {
        let result = auth::authenticate(headers, region, "secretsmanager")
            .map_err(|e| failure("AccessDeniedException", e.message))
            .and_then(|_| self.dispatch(region, account, headers, body));
        match result {
            Ok(value) => respond(StatusCode::OK, &value, None),
            Err(f) => {
                let status = if f.kind == "AccessDeniedException" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_REQUEST
                };
                respond(
                    status,
                    &json!({"__type": f.kind, "message": f.message}),
                    Some(f.kind),
                )
            }
        }
    }

    fn dispatch(
        &self,
        region: &str,
        account: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, Failure> {
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(TARGET_PREFIX))
            .ok_or_else(|| {
                failure(
                    "UnknownOperationException",
                    "X-Amz-Target must name a secretsmanager operation",
                )
            })?;
        match target {
            "CreateSecret" => self.create(region, account, parse(body)?),
            "PutSecretValue" => self.put(parse(body)?),
            "GetSecretValue" => self.get(parse(body)?),
            "DeleteSecret" => self.delete(parse(body)?),
            other => Err(failure(
                "UnknownOperationException",
                format!("{other} is not emulated (CreateSecret, PutSecretValue, GetSecretValue, DeleteSecret are)"),
            )),
        }
    }

    fn create(&self, region: &str, account: &str, input: CreateInput) -> Result<Value, Failure> {
        let valid_name = !input.name.is_empty()
            && input.name.len() <= 512
            && input
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
        if !valid_name {
            return Err(failure(
                "InvalidParameterException",
                "Name must be 1-512 of letters, digits and /_+=.@-",
            ));
        }
        let value = input.secret_string.ok_or_else(|| {
            failure(
                "InvalidRequestException",
                "SecretString is required (binary secrets are not emulated)",
            )
        })?;
        let mut secrets = lock(&self.secrets);
        if secrets.contains_key(&input.name) {
            return Err(failure(
                "ResourceExistsException",
                format!(
                    "The operation failed because the secret {} already exists.",
                    input.name
                ),
            ));
        }
        let (suffix, version_id) = {
            let mut ids = lock(&self.ids);
            (ids.alphanumeric(6), ids.uuid())
        };
        let secret = Secret {
            arn: format!(
                "arn:aws:secretsmanager:{region}:{account}:secret:{}-{suffix}",
                input.name
            ),
            name: input.name.clone(),
            value,
            version_id,
            created: now(),
        };
        let answer =
            json!({"ARN": secret.arn, "Name": secret.name, "VersionId": secret.version_id});
        secrets.insert(input.name, secret);
        Ok(answer)
    }

    fn put(&self, input: PutInput) -> Result<Value, Failure> {
        let value = input.secret_string.ok_or_else(|| {
            failure(
                "InvalidRequestException",
                "SecretString is required (binary secrets are not emulated)",
            )
        })?;
        let version_id = lock(&self.ids).uuid();
        let mut secrets = lock(&self.secrets);
        let secret = find(&mut secrets, &input.secret_id)?;
        secret.value = value;
        secret.version_id = version_id;
        Ok(json!({
            "ARN": secret.arn, "Name": secret.name, "VersionId": secret.version_id,
            "VersionStages": ["AWSCURRENT"],
        }))
    }

    fn get(&self, input: SecretIdInput) -> Result<Value, Failure> {
        let mut secrets = lock(&self.secrets);
        let secret = find(&mut secrets, &input.secret_id)?;
        Ok(json!({
            "ARN": secret.arn, "Name": secret.name, "VersionId": secret.version_id,
            "SecretString": secret.value, "VersionStages": ["AWSCURRENT"],
            "CreatedDate": secret.created,
        }))
    }

    fn delete(&self, input: SecretIdInput) -> Result<Value, Failure> {
        let mut secrets = lock(&self.secrets);
        let name = find(&mut secrets, &input.secret_id)?.name.clone();
        let secret = secrets
            .remove(&name)
            .ok_or_else(|| not_found(&input.secret_id))?;
        Ok(json!({"ARN": secret.arn, "Name": secret.name, "DeletionDate": now()}))
    }
}

/// A secret by name or by full ARN.
fn find<'a>(
    secrets: &'a mut BTreeMap<String, Secret>,
    id: &str,
) -> Result<&'a mut Secret, Failure> {
    let name = secrets
        .values()
        .find(|s| s.name == id || s.arn == id)
        .map(|s| s.name.clone())
        .ok_or_else(|| not_found(id))?;
    secrets.get_mut(&name).ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> Failure {
    // Like Secrets Manager, the message names the secret id (never a value).
    failure(
        "ResourceNotFoundException",
        format!("Secrets Manager can't find the specified secret ({id})."),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    name: String,
    secret_string: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    secret_id: String,
    secret_string: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SecretIdInput {
    secret_id: String,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field, never echoes a value.
        failure("InvalidParameterException", format!("invalid request: {e}"))
    })
}

fn respond(status: StatusCode, body: &Value, error: Option<&'static str>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Some(kind) = error {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    }
    response
}

fn now() -> f64 {
    Utc::now().timestamp_millis() as f64 / 1000.0
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
