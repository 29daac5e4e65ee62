//! The start-up fix proposed in BENCHMARKS.md: the SDK's HTTPS client trusts only the Amazon
//! Trust Services roots compiled into the binary (`amazon-roots.pem`), instead of loading and
//! parsing every certificate of the system's trust store (the CA bundle and each file of
//! `/etc/ssl/certs`) before the first request.

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use lambda_runtime::Error;

/// Amazon Root CA 1-4 and Starfield Services Root CA G2: the roots of every AWS endpoint's
/// certificate (Amazon Trust Services).
const AMAZON_ROOTS: &str = include_str!("../amazon-roots.pem");

/// `aws_config::load_defaults`, with an HTTPS client trusting only [`AMAZON_ROOTS`].
pub async fn sdk_config() -> Result<aws_config::SdkConfig, Error> {
    let trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS.as_bytes());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(TlsContext::builder().with_trust_store(trust).build()?)
        .build_https();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await)
}
