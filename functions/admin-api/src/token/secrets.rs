//! Loading the signing key from AWS Secrets Manager ([`load_signer`]), and keeping it fresh
//! in a container ([`SignerCell`]).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use tokio::sync::Mutex;
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
    Ok(load_version(client, secret_id).await?.0)
}

/// [`load_signer`], with the secret version the key came from.
async fn load_version(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<(PlaybackSigner, Option<String>), TokenError> {
    let result = read_signer(client, secret_id).await;
    match &result {
        Ok((signer, version)) => tracing::info!(
            secret_id,
            version = version.as_deref().unwrap_or("unknown"),
            key_format = %signer.format(),
            "loaded the playback signing key"
        ),
        // A secret not created yet is a normal state while a deployment is being set up
        // (README: the key is stored after the stack exists): said, not warned about.
        Err(error @ TokenError::SecretNotFound { .. }) => tracing::info!(
            secret_id,
            fault = ?error.fault(),
            %error,
            "could not load the playback signing key: tokens are refused (503) until the secret exists"
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
) -> Result<(PlaybackSigner, Option<String>), TokenError> {
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
    let signer = PlaybackSigner::from_pem(&pem).map_err(|e| match e {
        TokenError::InvalidKey(problem) => TokenError::SecretKeyInvalid {
            secret_id: secret_id.to_owned(),
            problem,
        },
        other => other,
    })?;
    Ok((signer, output.version_id.take()))
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

/// The environment variable giving how often, in seconds, a container checks its playback
/// key secret for a new version ([`SignerCell`]); default [`DEFAULT_REFRESH`].
pub const PLAYBACK_KEY_REFRESH_SECONDS: &str = "PLAYBACK_KEY_REFRESH_SECONDS";

/// How often a container checks its playback key secret for a new version, by default.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);

/// The range [`PLAYBACK_KEY_REFRESH_SECONDS`] accepts.
pub const REFRESH_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

/// The signer of a container, loaded from Secrets Manager during init
/// ([`SignerCell::preload`]) or on first use, and kept fresh: once the loaded key is older
/// than the refresh interval, the next request starts a check in the background (off the
/// request path: that request is still signed with the key in hand) which reads the secret's
/// current version and swaps the key in if the version changed. The previous key stays in
/// use until the new one has loaded; a check that fails keeps it and is tried again one
/// interval later. So a new secret version signs every token requested more than one interval
/// plus one Secrets Manager read after it was stored (README, "Rotating the playback key").
///
/// A failed first load is not kept: the next [`SignerCell::get`] tries again. Concurrent first
/// calls wait for one load instead of each starting their own.
#[derive(Clone)]
pub struct SignerCell {
    inner: Arc<Inner>,
}

struct Inner {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    refresh: Duration,
    /// The key in hand, its secret version, and when that version was last confirmed.
    current: RwLock<Option<Loaded>>,
    /// Held by whoever is loading (the first load, or a background check).
    loading: Arc<Mutex<()>>,
}

#[derive(Clone)]
struct Loaded {
    signer: Arc<PlaybackSigner>,
    version: Option<String>,
    checked: Instant,
}

impl SignerCell {
    /// A cell that will load the key from `secret_id` with `client` when first asked, and
    /// check for a new version every [`DEFAULT_REFRESH`].
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self::with_refresh(client, secret_id, DEFAULT_REFRESH)
    }

    /// [`SignerCell::new`] checking for a new version every `refresh`.
    pub fn with_refresh(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
        refresh: Duration,
    ) -> Self {
        SignerCell {
            inner: Arc::new(Inner {
                client,
                secret_id: secret_id.into(),
                refresh,
                current: RwLock::new(None),
                loading: Arc::new(Mutex::new(())),
            }),
        }
    }

    /// The refresh interval from [`PLAYBACK_KEY_REFRESH_SECONDS`] as `lookup` reads it.
    pub fn refresh_from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Duration, String> {
        let Some(value) = lookup(PLAYBACK_KEY_REFRESH_SECONDS).filter(|v| !v.trim().is_empty())
        else {
            return Ok(DEFAULT_REFRESH);
        };
        match value.trim().parse::<u64>() {
            Ok(seconds) if REFRESH_RANGE.contains(&seconds) => Ok(Duration::from_secs(seconds)),
            _ => Err(format!(
                "{PLAYBACK_KEY_REFRESH_SECONDS}={value:?}: expected whole seconds from {} to {}",
                REFRESH_RANGE.start(),
                REFRESH_RANGE.end()
            )),
        }
    }

    fn current(&self) -> Option<Loaded> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, loaded: Loaded) {
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(loaded);
    }

    /// The signer: the one in hand (starting a background check for a new version when it is
    /// older than the refresh interval), or, before any load succeeded, one loaded now (see
    /// [`load_signer`] for the errors).
    pub async fn get(&self) -> Result<Arc<PlaybackSigner>, TokenError> {
        if let Some(loaded) = self.current() {
            if loaded.checked.elapsed() >= self.inner.refresh {
                self.check_in_background();
            }
            return Ok(loaded.signer);
        }
        let _loading = self.inner.loading.lock().await;
        // Someone else may have loaded it while this call waited.
        if let Some(loaded) = self.current() {
            return Ok(loaded.signer);
        }
        let (signer, version) = load_version(&self.inner.client, &self.inner.secret_id).await?;
        let signer = Arc::new(signer);
        self.store(Loaded {
            signer: Arc::clone(&signer),
            version,
            checked: Instant::now(),
        });
        Ok(signer)
    }

    /// Starts a check for a new version unless one is running.
    fn check_in_background(&self) {
        let Ok(loading) = Arc::clone(&self.inner.loading).try_lock_owned() else {
            return;
        };
        let cell = self.clone();
        tokio::spawn(async move {
            let _loading = loading;
            cell.check().await;
        });
    }

    /// Reads the secret's current version; swaps the key in if it changed. On failure, keeps
    /// the key in hand and tries again one interval later.
    async fn check(&self) {
        let Some(mut loaded) = self.current() else {
            return;
        };
        if loaded.checked.elapsed() < self.inner.refresh {
            return;
        }
        match load_version(&self.inner.client, &self.inner.secret_id).await {
            Ok((signer, version)) => {
                if version.is_none() || version != loaded.version {
                    tracing::info!(
                        secret_id = %self.inner.secret_id,
                        "the playback signing key changed: new tokens are signed with the new key"
                    );
                    loaded.signer = Arc::new(signer);
                    loaded.version = version;
                }
            }
            Err(error) => tracing::warn!(
                secret_id = %self.inner.secret_id,
                %error,
                "could not check the playback signing key for a new version; keeping the key in hand"
            ),
        }
        loaded.checked = Instant::now();
        self.store(loaded);
    }

    /// Loads the signer now if it is not loaded yet, waiting at most `within`: for the init
    /// phase, so that the first token costs no key parsing. A failure or a timeout is left
    /// for the first [`SignerCell::get`] to retry (a failure is logged by [`load_signer`]).
    pub async fn preload(&self, within: Duration) {
        if tokio::time::timeout(within, self.get()).await.is_err() {
            tracing::warn!(
                secret_id = %self.inner.secret_id,
                "the playback signing key did not load during init; the first token request will load it"
            );
        }
    }

    /// Whether a signer has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.current().is_some()
    }

    /// The secret the key is read from.
    pub fn secret_id(&self) -> &str {
        &self.inner.secret_id
    }

    /// How often the secret is checked for a new version.
    pub fn refresh(&self) -> Duration {
        self.inner.refresh
    }
}

impl fmt::Debug for SignerCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerCell")
            .field("secret_id", &self.inner.secret_id)
            .field("refresh", &self.inner.refresh)
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}
