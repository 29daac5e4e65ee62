//! Loading the signing key from AWS Secrets Manager ([`load_signer`]), once per container
//! ([`SignerCell`]).

use std::fmt;

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use tokio::sync::OnceCell;
use zeroize::{Zeroize, Zeroizing};

use super::error::TokenError;
use super::signer::PlaybackSigner;

/// Reads the signing key from the Secrets Manager secret `secret_id` (name or ARN), whose
/// `SecretString` must be the PEM text itself (see [`PlaybackSigner::from_pem`]).
///
/// Failures: [`TokenError::SecretNotFound`], [`TokenError::SecretAccessDenied`],
/// [`TokenError::SecretNotString`], [`TokenError::SecretKeyInvalid`] and
/// [`TokenError::SecretUnreadable`] are configuration problems;
/// [`TokenError::SecretUnavailable`] (throttling, a 5xx, a timeout, a network failure) is
/// transient and worth retrying. None of them carries the secret's value. The client's own
/// retry configuration applies before any of these is returned.
pub async fn load_signer(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<PlaybackSigner, TokenError> {
    let result = read_signer(client, secret_id).await;
    match &result {
        Ok(signer) => tracing::info!(
            secret_id,
            key_format = %signer.format(),
            "loaded the playback signing key"
        ),
        Err(error) => tracing::warn!(
            secret_id,
            fault = ?error.fault(),
            %error,
            "could not load the playback signing key"
        ),
    }
    result
}

async fn read_signer(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<PlaybackSigner, TokenError> {
    let mut output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| secret_error(secret_id, &e))?;
    // Taken out of the answer, and wiped from memory once the key is parsed.
    let pem =
        Zeroizing::new(
            output
                .secret_string
                .take()
                .ok_or_else(|| TokenError::SecretNotString {
                    secret_id: secret_id.to_owned(),
                })?,
        );
    if let Some(binary) = output.secret_binary.take() {
        binary.into_inner().zeroize();
    }
    PlaybackSigner::from_pem(&pem).map_err(|e| match e {
        TokenError::InvalidKey(problem) => TokenError::SecretKeyInvalid {
            secret_id: secret_id.to_owned(),
            problem,
        },
        other => other,
    })
}

/// Error codes Secrets Manager (and AWS in general) uses for throttling.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
];

/// Sorts a GetSecretValue failure: the service's code first, then the HTTP status.
fn secret_error(secret_id: &str, err: &SdkError<GetSecretValueError, HttpResponse>) -> TokenError {
    let secret_id = secret_id.to_owned();
    match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let code = service.code();
            let message = match (code, service.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                (None, Some(message)) => message.to_owned(),
                (None, None) => "no error code in the answer".to_owned(),
            };
            let status = context.raw().status().as_u16();
            match service {
                GetSecretValueError::ResourceNotFoundException(_) => {
                    TokenError::SecretNotFound { secret_id, message }
                }
                GetSecretValueError::InternalServiceError(_) => {
                    TokenError::SecretUnavailable { secret_id, message }
                }
                // KMS refused to decrypt, the secret is scheduled for deletion, the request is
                // wrong: nothing a retry fixes.
                GetSecretValueError::DecryptionFailure(_)
                | GetSecretValueError::InvalidParameterException(_)
                | GetSecretValueError::InvalidRequestException(_) => {
                    TokenError::SecretUnreadable { secret_id, message }
                }
                _ => match code {
                    Some("AccessDeniedException") => {
                        TokenError::SecretAccessDenied { secret_id, message }
                    }
                    Some(code) if THROTTLING_CODES.contains(&code) => {
                        TokenError::SecretUnavailable { secret_id, message }
                    }
                    _ => match status {
                        429 | 500..=599 => TokenError::SecretUnavailable { secret_id, message },
                        401 | 403 => TokenError::SecretAccessDenied { secret_id, message },
                        404 => TokenError::SecretNotFound { secret_id, message },
                        _ => TokenError::SecretUnreadable { secret_id, message },
                    },
                },
            }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => TokenError::SecretUnavailable {
            secret_id,
            message: DisplayErrorContext(err).to_string(),
        },
        SdkError::DispatchFailure(failure) if !failure.is_user() => TokenError::SecretUnavailable {
            secret_id,
            message: DisplayErrorContext(err).to_string(),
        },
        _ => TokenError::SecretUnreadable {
            secret_id,
            message: DisplayErrorContext(err).to_string(),
        },
    }
}

/// The signer of a container: loaded from Secrets Manager during init
/// ([`SignerCell::preload`]) or on first use, then kept for the container's life. A failed load is not kept: the next [`SignerCell::get`] tries again.
/// Concurrent first calls wait for one load instead of each starting their own.
///
/// A key rotated in Secrets Manager reaches a container only when it starts, so keep the old
/// public key imported in IVS until every container has been replaced.
pub struct SignerCell {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    signer: OnceCell<PlaybackSigner>,
}

impl SignerCell {
    /// A cell that will load the key from `secret_id` with `client` when first asked.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SignerCell {
            client,
            secret_id: secret_id.into(),
            signer: OnceCell::new(),
        }
    }

    /// The signer, loading it first if no earlier call succeeded (see [`load_signer`] for
    /// the errors).
    pub async fn get(&self) -> Result<&PlaybackSigner, TokenError> {
        self.signer
            .get_or_try_init(|| load_signer(&self.client, &self.secret_id))
            .await
    }

    /// Loads the signer now if it is not loaded yet, waiting at most `within`: for the init
    /// phase, so that the first token costs no key parsing. A failure or a timeout is left
    /// for the first [`SignerCell::get`] to retry (a failure is logged by [`load_signer`]).
    pub async fn preload(&self, within: std::time::Duration) {
        if tokio::time::timeout(within, self.get()).await.is_err() {
            tracing::warn!(
                secret_id = %self.secret_id,
                "the playback signing key did not load during init; the first token request will load it"
            );
        }
    }

    /// Whether the signer has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.signer.initialized()
    }

    /// The secret the key is read from.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }
}

impl fmt::Debug for SignerCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerCell")
            .field("secret_id", &self.secret_id)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}
