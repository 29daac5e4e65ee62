//! Errors: [`TokenError`], sorted by [`Fault`], and [`KeyProblem`], what is wrong with a
//! signing key.

/// Whose problem a [`TokenError`] is, and so which HTTP status an API answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The request is wrong: HTTP 400; retrying the same request fails again.
    Caller,
    /// The deployment is wrong (missing or unreadable secret, bad key, denied access):
    /// HTTP 500; an operator has to act.
    Configuration,
    /// A dependency failed for now (throttling, a 5xx, a timeout): HTTP 503; retry later.
    Transient,
}

impl Fault {
    /// The HTTP status an API answers with: 400, 500 or 503.
    pub fn http_status(self) -> u16 {
        match self {
            Fault::Caller => 400,
            Fault::Configuration => 500,
            Fault::Transient => 503,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(self) -> bool {
        self == Fault::Transient
    }
}

/// What is wrong with a signing key. Each message is a fixed description: none quotes the
/// key text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// No PEM block at all.
    #[error(
        "no PEM block found: expected the PEM text of an EC P-384 private key (label \
         \"EC PRIVATE KEY\" or \"PRIVATE KEY\"), with its line breaks"
    )]
    NoPem,
    /// A PEM block that is cut off, has a bad label or whose base64 does not decode.
    #[error(
        "the PEM text is malformed (unterminated block, bad label, or invalid base64 such as \
         literal \\n escapes instead of line breaks)"
    )]
    MalformedPem,
    /// The decoded key does not have the structure its label announces, or the crypto library
    /// cannot read it. aws-lc does not say why it refuses a key, so a key that fails its checks
    /// (a public half that does not match the private one) or that it does not know (Ed448, a
    /// SEC1 key on a curve other than P-256, P-384, P-521 and secp256k1) is reported here too.
    #[error("the key's DER structure is malformed")]
    MalformedDer,
    /// More than one private key.
    #[error("the PEM text holds more than one private key")]
    SeveralKeys,
    /// A password-protected key.
    #[error("the private key is encrypted: store it unencrypted (SEC1 or PKCS#8)")]
    Encrypted,
    /// Only a public key or a certificate.
    #[error(
        "the PEM text holds a public key or certificate, not the private key: IVS gets the \
         public key, the signer needs the private one"
    )]
    NotPrivate,
    /// Not an elliptic-curve key.
    #[error("the key is {0}, not an ECDSA P-384 key")]
    WrongAlgorithm(&'static str),
    /// An elliptic-curve key on another curve.
    #[error("the EC key's curve is {0}; IVS playback keys are P-384 (secp384r1)")]
    WrongCurve(&'static str),
    /// A PEM type this module does not read.
    #[error("the key is in {0} format; expected SEC1 (EC PRIVATE KEY) or PKCS#8 (PRIVATE KEY)")]
    UnsupportedFormat(&'static str),
    /// Read and checked as a P-384 key by aws-lc-rs, but jsonwebtoken's signing backend
    /// refused it. (A key that fails aws-lc's own checks is [`KeyProblem::MalformedDer`].)
    #[error("the crypto library refused the P-384 key (corrupt or inconsistent key)")]
    Unusable,
}

/// Why a token could not be minted or the signer loaded. Messages name fields, secrets'
/// ids and AWS error codes, never a key or a token; [`TokenError::fault`] says whose
/// problem it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A request field (JSON name), or an argument of
    /// [`PlaybackSigner::mint`](super::PlaybackSigner::mint) (`channelArn`, `playbackUrl`),
    /// breaks a rule. The caller's fault.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field, as the JSON body names it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The request body is not JSON of the expected shape (unknown field, wrong type).
    /// The caller's fault.
    #[error("invalid request body: {0}")]
    MalformedRequest(String),
    /// The key given to [`PlaybackSigner::from_pem`](super::PlaybackSigner::from_pem) is not
    /// usable. A configuration problem.
    #[error("invalid playback signing key: {0}")]
    InvalidKey(KeyProblem),
    /// The secret does not exist (or is not visible to this account). A configuration
    /// problem.
    #[error("secret {secret_id:?} not found in Secrets Manager ({message})")]
    SecretNotFound {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message.
        message: String,
    },
    /// The function's role may not read the secret (or use its KMS key). A configuration
    /// problem.
    #[error("access to secret {secret_id:?} denied ({message})")]
    SecretAccessDenied {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message.
        message: String,
    },
    /// The secret holds binary data, not a `SecretString`. A configuration problem.
    #[error("secret {secret_id:?} has no SecretString: store the PEM text as the secret string")]
    SecretNotString {
        /// The secret's name or ARN, as configured.
        secret_id: String,
    },
    /// The secret's string is not a usable key. A configuration problem.
    #[error("secret {secret_id:?} does not hold a usable playback signing key: {problem}")]
    SecretKeyInvalid {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// What is wrong with the key.
        problem: KeyProblem,
    },
    /// Reading the secret failed for a reason a retry does not fix (KMS decryption failure,
    /// secret scheduled for deletion, invalid request). A configuration problem.
    #[error("reading secret {secret_id:?} failed ({message})")]
    SecretUnreadable {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message, or the SDK's description.
        message: String,
    },
    /// Secrets Manager throttled, failed (5xx) or could not be reached in time. Transient:
    /// retry later.
    #[error("reading secret {secret_id:?} failed for now, retry later ({message})")]
    SecretUnavailable {
        /// The secret's name or ARN, as configured.
        secret_id: String,
        /// The service's error code and message, or the SDK's description.
        message: String,
    },
    /// Signing failed although the key was accepted when loaded. Treated as a configuration
    /// problem.
    #[error("signing the playback token failed: {0}")]
    Signing(String),
}

impl TokenError {
    /// Whose problem this is: [`Fault::Caller`] (HTTP 400), [`Fault::Configuration`] (500)
    /// or [`Fault::Transient`] (503, retry later).
    pub fn fault(&self) -> Fault {
        match self {
            TokenError::InvalidField { .. } | TokenError::MalformedRequest(_) => Fault::Caller,
            TokenError::SecretUnavailable { .. } => Fault::Transient,
            TokenError::InvalidKey(_)
            | TokenError::SecretNotFound { .. }
            | TokenError::SecretAccessDenied { .. }
            | TokenError::SecretNotString { .. }
            | TokenError::SecretKeyInvalid { .. }
            | TokenError::SecretUnreadable { .. }
            | TokenError::Signing(_) => Fault::Configuration,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.fault().is_retryable()
    }

    /// The offending field (JSON name) of an [`TokenError::InvalidField`].
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TokenError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The key problem of an [`TokenError::InvalidKey`] or [`TokenError::SecretKeyInvalid`].
    pub fn key_problem(&self) -> Option<KeyProblem> {
        match self {
            TokenError::InvalidKey(problem) | TokenError::SecretKeyInvalid { problem, .. } => {
                Some(*problem)
            }
            _ => None,
        }
    }
}

/// A [`TokenError::InvalidField`] for `field` (JSON name).
pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> TokenError {
    TokenError::InvalidField {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_map_to_http_statuses() {
        let caller = invalid("viewerId", "bad");
        assert_eq!(
            (caller.fault(), caller.fault().http_status()),
            (Fault::Caller, 400)
        );
        assert!(!caller.is_retryable());
        let config = TokenError::SecretNotFound {
            secret_id: "s".to_owned(),
            message: "m".to_owned(),
        };
        assert_eq!(
            (config.fault(), config.fault().http_status()),
            (Fault::Configuration, 500)
        );
        let key = TokenError::InvalidKey(KeyProblem::NoPem);
        assert_eq!(key.fault(), Fault::Configuration);
        assert_eq!(key.key_problem(), Some(KeyProblem::NoPem));
        let transient = TokenError::SecretUnavailable {
            secret_id: "s".to_owned(),
            message: "m".to_owned(),
        };
        assert_eq!(
            (transient.fault(), transient.fault().http_status()),
            (Fault::Transient, 503)
        );
        assert!(transient.is_retryable());
        assert!(transient.to_string().contains("retry later"));
    }
}
