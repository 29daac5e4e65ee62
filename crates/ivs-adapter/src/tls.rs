//! Which certificate authorities the functions' HTTPS client trusts.
//!
//! The SDK's default HTTPS client loads and parses every certificate of the system trust
//! store (about 440 on Amazon Linux 2023) before its first request: about half of a
//! function's cold start (BENCHMARKS.md). Every AWS endpoint the functions call (IVS, Secrets
//! Manager) presents a certificate from Amazon Trust Services, so by default the client
//! trusts only those roots, compiled into the binary ([`AMAZON_ROOTS`]). The system store is
//! kept wherever the endpoint may not be Amazon's or the operator configured trust
//! themselves; see [`TrustRoots::from_lookup`].

use crate::error::Error;

/// The environment variable choosing the trusted roots: `amazon`, `system` or `auto` (the
/// default, see [`TrustRoots::from_lookup`]).
pub const TLS_TRUST_ROOTS: &str = "TLS_TRUST_ROOTS";

/// Amazon Root CA 1-4 and Starfield Services Root CA G2 (the roots of Amazon Trust Services,
/// which issues every AWS service endpoint's certificate), PEM. Fingerprints in the file.
pub const AMAZON_ROOTS: &str = include_str!("../amazon-roots.pem");

/// Environment variables that point SDK clients at another endpoint.
const ENDPOINT_VARIABLES: [&str; 6] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IVS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_DYNAMODB",
];

/// The certificate authorities the HTTPS client trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustRoots {
    /// Only [`AMAZON_ROOTS`]: nothing is read from disk before the first request.
    Amazon,
    /// The system trust store (the SDK's default client, unchanged).
    System,
}

impl TrustRoots {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustRoots::Amazon => "amazon",
            TrustRoots::System => "system",
        }
    }

    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The choice over any variable source. `TLS_TRUST_ROOTS=amazon` or `system` decides;
    /// unset, empty or `auto`, the Amazon roots are trusted unless one of these says the
    /// endpoint or the trust may be someone else's, when the system store is kept:
    /// - `SSL_CERT_FILE` or `SSL_CERT_DIR` is set (trust configured by the operator, for
    ///   example a TLS-inspecting proxy's authority);
    /// - an `https://` endpoint override (`AWS_ENDPOINT_URL`, or the IVS, Secrets Manager,
    ///   SQS, EventBridge or DynamoDB one), which may be any server;
    /// - a China region (`cn-*`, whose endpoints are not certified by Amazon Trust Services).
    ///
    /// `http://` overrides (the local emulator) use no TLS and change nothing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match get(TLS_TRUST_ROOTS)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("auto") => {}
            Some("amazon") => return Ok(TrustRoots::Amazon),
            Some("system") => return Ok(TrustRoots::System),
            Some(other) => {
                return Err(Error::Config(format!(
                    "{TLS_TRUST_ROOTS}={other:?}: expected auto, amazon or system"
                )))
            }
        }
        let operator_trust = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .iter()
            .any(|name| get(name).is_some());
        let https_override = ENDPOINT_VARIABLES.iter().any(|name| {
            get(name).is_some_and(|url| {
                url.get(..8)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
            })
        });
        let china = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .filter_map(|name| get(name))
            .next()
            .is_some_and(|region| region.to_ascii_lowercase().starts_with("cn-"));
        Ok(if operator_trust || https_override || china {
            TrustRoots::System
        } else {
            TrustRoots::Amazon
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn choose(vars: &[(&str, &str)]) -> Result<TrustRoots, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TrustRoots::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn amazon_roots_by_default_and_for_plain_http_overrides() {
        assert_eq!(choose(&[]).unwrap(), TrustRoots::Amazon);
        assert_eq!(
            choose(&[
                ("AWS_REGION", "us-west-2"),
                ("AWS_ENDPOINT_URL_IVS", "http://127.0.0.1:4510"),
                ("AWS_ENDPOINT_URL", "HTTP://localhost:1"),
                ("SSL_CERT_FILE", "  "),
                (TLS_TRUST_ROOTS, "auto"),
            ])
            .unwrap(),
            TrustRoots::Amazon
        );
    }

    #[test]
    fn system_store_where_the_endpoint_or_trust_may_not_be_amazons() {
        for vars in [
            vec![("AWS_ENDPOINT_URL_IVS", "https://ivs.example.internal")],
            vec![("AWS_ENDPOINT_URL", "HTTPS://proxy.example.internal:8443")],
            vec![(
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                "https://secrets.example.internal",
            )],
            vec![("AWS_ENDPOINT_URL_SQS", "https://sqs.example.internal")],
            vec![(
                "AWS_ENDPOINT_URL_EVENTBRIDGE",
                "https://events.example.internal",
            )],
            vec![(
                "AWS_ENDPOINT_URL_DYNAMODB",
                "https://dynamodb.example.internal",
            )],
            vec![("SSL_CERT_FILE", "/opt/ca.pem")],
            vec![("SSL_CERT_DIR", "/opt/certs")],
            vec![("AWS_REGION", "cn-north-1")],
            vec![("AWS_DEFAULT_REGION", "cn-northwest-1")],
            vec![(TLS_TRUST_ROOTS, "System")],
        ] {
            assert_eq!(choose(&vars).unwrap(), TrustRoots::System, "{vars:?}");
        }
    }

    #[test]
    fn the_explicit_choice_wins() {
        let vars = [
            (TLS_TRUST_ROOTS, " amazon "),
            ("SSL_CERT_FILE", "/opt/ca.pem"),
            ("AWS_ENDPOINT_URL_IVS", "https://ivs.example.internal"),
        ];
        assert_eq!(choose(&vars).unwrap(), TrustRoots::Amazon);
        // AWS_REGION is the region; AWS_DEFAULT_REGION only counts without it.
        let vars = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "cn-north-1"),
        ];
        assert_eq!(choose(&vars).unwrap(), TrustRoots::Amazon);
    }

    #[test]
    fn an_unknown_choice_is_a_configuration_error_naming_the_variable() {
        let err = choose(&[(TLS_TRUST_ROOTS, "none")]).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        let message = err.to_string();
        assert!(message.contains("TLS_TRUST_ROOTS=\"none\""), "{message}");
        assert!(message.contains("auto, amazon or system"), "{message}");
    }

    #[test]
    fn the_compiled_roots_are_the_five_amazon_trust_services_roots() {
        let certs = pem::parse_many(AMAZON_ROOTS).unwrap();
        assert_eq!(certs.len(), 5);
        assert!(certs.iter().all(|c| c.tag() == "CERTIFICATE"));
        let subjects = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        for (cert, subject) in certs.iter().zip(subjects) {
            let der = cert.contents();
            assert!(
                der.windows(subject.len()).any(|w| w == subject.as_bytes()),
                "{subject}"
            );
        }
    }
}
