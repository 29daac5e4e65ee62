//! The functions' HTTPS client, and opening its connections during init.
//!
//! On Lambda, init runs at full speed but an invocation at the memory size's share of a vCPU
//! (128 MB: 128/1769). The first TLS handshake of a process is its costliest CPU work
//! (aws-lc's random-number setup, the key exchange, the certificate chain's check), so
//! [`HttpsClient::warm_up`] does it during init: one unsigned `GET /` per endpoint, whose
//! answer (an authentication error) is read and dropped, so that the connection waits in the
//! pool for the first signed call. No API operation is called: it costs no IVS quota and
//! leaves nothing in CloudTrail. It is bounded in time and never fails the init: if AWS is
//! unreachable, the first call pays for the connection as it would have anyway.
//! BENCHMARKS.md measures what it buys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_ivs::config::http::HttpRequest;
use aws_sdk_ivs::config::{RuntimeComponents, SharedAsyncSleep, SharedHttpClient};
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::ConnectorBuilder;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::task::JoinSet;

use crate::tls::{TrustRoots, AMAZON_ROOTS};

/// The environment variable that switches the init-time warm-up off (`false`); on by default.
pub const WARM_UP_AT_INIT: &str = "WARM_UP_AT_INIT";

/// The longest the warm-up may hold the init (all endpoints together).
pub const WARM_UP_BUDGET: Duration = Duration::from_secs(1);

/// The SDK's default HTTPS client (rustls with aws-lc, proxies from `HTTPS_PROXY` and
/// `NO_PROXY`, the SDK's connect and read timeouts) trusting the roots [`TrustRoots`] chose,
/// with one connector, and so one connection pool, per timeout setting, shared by every SDK
/// client built from the same configuration and by [`HttpsClient::warm_up`].
#[derive(Clone)]
pub struct HttpsClient {
    inner: Arc<Inner>,
}

struct Inner {
    roots: TrustRoots,
    context: TlsContext,
    sleep: Option<SharedAsyncSleep>,
    connectors: Mutex<HashMap<ConnectorKey, SharedHttpConnector>>,
}

/// What tells connectors apart: the connect and read timeouts they were built with.
type ConnectorKey = (Option<Duration>, Option<Duration>);

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("roots", &self.inner.roots)
            .finish_non_exhaustive()
    }
}

/// How one endpoint's warm-up ended (for the log line; nothing depends on it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarmedUp {
    /// The endpoint answered (any status): the connection is in the pool.
    Connected { status: u16 },
    /// Plain HTTP: no TLS, nothing worth doing ahead of time.
    NotTls,
    /// The connection or the answer failed (the reason, which holds no secret).
    Failed(String),
    /// No answer within the budget.
    TimedOut,
}

impl HttpsClient {
    /// A client trusting `roots`; the SDK's default sleep implementation (tokio's) drives its
    /// connect timeout.
    pub fn new(roots: TrustRoots) -> Self {
        let context = match roots {
            // The system store, as the SDK's default client loads it.
            TrustRoots::System => TlsContext::default(),
            TrustRoots::Amazon => amazon_roots_context(),
        };
        let sleep = default_async_sleep();
        HttpsClient {
            inner: Arc::new(Inner {
                roots,
                context,
                sleep,
                connectors: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The same client as the SDK takes it.
    pub fn shared(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }

    /// The connector for `settings` (built the first time: the trust roots are parsed then).
    fn connector(&self, settings: &HttpConnectorSettings) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .inner
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| {
                let mut builder = ConnectorBuilder::default()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                    .tls_context(self.inner.context.clone());
                builder.set_connector_settings(Some(settings.clone()));
                builder.set_sleep_impl(self.inner.sleep.clone());
                // As the SDK's default client does for the latest behaviour version.
                builder.set_proxy_config(Some(ProxyConfig::from_env()));
                SharedHttpConnector::new(builder.build())
            })
            .clone()
    }

    /// Builds the connector the SDK will ask for under `timeouts` (parsing the trust roots),
    /// so that this happens during init; no I/O.
    pub fn prepare(&self, timeouts: &TimeoutConfig) {
        self.connector(&settings_for(timeouts));
    }

    /// Opens a connection to each `https://` URL in `endpoints` for the SDK clients built
    /// with `timeouts`, all at once, within [`WARM_UP_BUDGET`]: see the module's
    /// documentation. Plain-HTTP endpoints are skipped. Never fails; says how each ended.
    pub async fn warm_up(&self, timeouts: &TimeoutConfig, endpoints: &[String]) -> Vec<WarmedUp> {
        let settings = settings_for(timeouts);
        let connector = self.connector(&settings);
        let started = Instant::now();
        let mut outcomes = vec![WarmedUp::NotTls; endpoints.len()];
        let mut attempts = JoinSet::new();
        for (index, url) in endpoints.iter().enumerate() {
            if url
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
            {
                outcomes[index] = WarmedUp::TimedOut;
                let (connector, url) = (connector.clone(), url.clone());
                attempts.spawn(async move { (index, open(connector, &url).await) });
            }
        }
        // Whatever has not answered within the budget stays `TimedOut` and is dropped (the
        // set aborts its tasks).
        let _ = tokio::time::timeout(WARM_UP_BUDGET, async {
            while let Some(joined) = attempts.join_next().await {
                if let Ok((index, outcome)) = joined {
                    outcomes[index] = outcome;
                }
            }
        })
        .await;
        for (url, outcome) in endpoints.iter().zip(&outcomes) {
            tracing::debug!(
                endpoint = %url,
                outcome = ?outcome,
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "connection opened during init"
            );
        }
        outcomes
    }
}

/// A TLS context trusting only [`AMAZON_ROOTS`].
fn amazon_roots_context() -> TlsContext {
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(AMAZON_ROOTS.as_bytes()))
        .build();
    // Building a context from a trust store alone does not fail (the certificates are parsed
    // when the first connector is built: see the tests); the fallback is the default client's.
    context.unwrap_or_default()
}

/// The connector settings the SDK derives from `timeouts` for every request (its
/// orchestrator does the same), so that [`HttpsClient::prepare`] and
/// [`HttpsClient::warm_up`] build the connector the SDK's calls will use.
fn settings_for(timeouts: &TimeoutConfig) -> HttpConnectorSettings {
    let mut builder = HttpConnectorSettings::builder();
    builder.set_connect_timeout(timeouts.connect_timeout());
    builder.set_read_timeout(timeouts.read_timeout());
    builder.build()
}

/// One unsigned `GET /` to the endpoint, its answer read to the end so that the connection
/// goes back to the pool.
async fn open(connector: SharedHttpConnector, url: &str) -> WarmedUp {
    let request = match HttpRequest::get(format!("{}/", url.trim_end_matches('/'))) {
        Ok(request) => request,
        Err(e) => return WarmedUp::Failed(format!("not a URL: {e}")),
    };
    match connector.call(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            match ByteStream::new(response.into_body()).collect().await {
                Ok(_) => WarmedUp::Connected { status },
                Err(e) => WarmedUp::Failed(format!("reading the answer: {e}")),
            }
        }
        Err(e) => WarmedUp::Failed(DisplayErrorContext(&e).to_string()),
    }
}

impl HttpClient for HttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(settings)
    }
}
