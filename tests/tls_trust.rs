//! Which certificate authorities the functions' HTTPS client trusts (ivs_adapter::tls), against a
//! real TLS server on loopback whose certificate comes from a test authority made by openssl
//! for this run:
//! - with the Amazon roots (the default), the handshake fails: the client trusts nothing but
//!   Amazon Trust Services, and no request reaches the server;
//! - with `SSL_CERT_FILE` naming the test authority (what an operator behind a TLS-inspecting
//!   proxy sets), the automatic choice keeps the system store, honours the file, and the same
//!   call succeeds.
//!
//!
//! One test in its own binary: it sets process environment variables, which the SDK reads,
//! and the SDK caches the system store once per process. The function binaries' HTTPS
//! behaviour is tested in `end_to_end/https.rs`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_ivs::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use ivs_adapter::tls::{TrustRoots, TLS_TRUST_ROOTS};
use test_support::{openssl, TempDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto::aws_lc_rs, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A test certificate authority and a server certificate it issued for 127.0.0.1.
fn make_certificates(dir: &Path) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    openssl(
        dir,
        &format!(
            "req -x509 -days 2 -subj /CN=tls-trust-test-authority {ec} -keyout ca.key -out ca.pem"
        ),
    );
    openssl(
        dir,
        &format!("req -subj /CN=127.0.0.1 {ec} -keyout server.key -out server.csr"),
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        "x509 -req -days 1 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
         -extfile server.ext -out server.pem",
    );
}

#[derive(Default)]
struct Seen {
    handshakes_failed: AtomicUsize,
    requests: AtomicUsize,
}

/// An HTTPS server answering every request with IVS's answer to an empty ListChannels.
async fn serve(dir: &Path) -> (u16, Arc<Seen>) {
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counts = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&counts);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    seen.handshakes_failed.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                // Read the request head; ListChannels' body is small and follows it.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                seen.requests.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"channels":[]}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn amazon_roots_reject_other_authorities_and_ssl_cert_file_keeps_the_system_store() {
    let dir = TempDir::new("tls-trust-test");
    make_certificates(dir.path());
    let (port, seen) = serve(dir.path()).await;

    for (name, value) in [
        ("AWS_REGION", "us-west-2"),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ] {
        std::env::set_var(name, value);
    }
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "SSL_CERT_DIR",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("AWS_ENDPOINT_URL_IVS", format!("https://127.0.0.1:{port}"));

    // The Amazon roots only, asked for explicitly (the https:// override or SSL_CERT_FILE
    // alone would keep the system store): the test authority, although SSL_CERT_FILE names
    // it, is not trusted, and nothing is sent.
    std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
    std::env::set_var(TLS_TRUST_ROOTS, "amazon");
    assert_eq!(TrustRoots::from_env().unwrap(), TrustRoots::Amazon);
    let client = ivs_adapter::ivs::client_from_env().await.unwrap();
    let err = client
        .list_channels()
        .send()
        .await
        .expect_err("a server outside Amazon Trust Services is refused");
    let message = format!("{}", DisplayErrorContext(&err));
    assert!(
        matches!(err, SdkError::DispatchFailure(_)),
        "a connection failure: {message}"
    );
    assert!(
        message.contains("UnknownIssuer") || message.contains("certificate"),
        "the certificate is refused: {message}"
    );
    // The server notices the refused handshake when the client's alert arrives.
    for _ in 0..200 {
        if seen.handshakes_failed.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(seen.handshakes_failed.load(Ordering::SeqCst) >= 1);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);

    // The operator's trust: SSL_CERT_FILE makes the automatic choice keep the system store,
    // which loads that file; the same call now reaches the server.
    std::env::remove_var(TLS_TRUST_ROOTS);
    assert_eq!(TrustRoots::from_env().unwrap(), TrustRoots::System);
    let client = ivs_adapter::ivs::client_from_env().await.unwrap();
    let channels =
        client.list_channels().send().await.unwrap_or_else(|e| {
            panic!("trusted through SSL_CERT_FILE: {}", DisplayErrorContext(&e))
        });
    assert!(channels.channels().is_empty());
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);

    // An invalid choice fails before any client exists.
    std::env::set_var(TLS_TRUST_ROOTS, "insecure");
    let err = ivs_adapter::ivs::client_from_env().await.unwrap_err();
    assert!(err.to_string().contains("TLS_TRUST_ROOTS"), "{err}");
}
