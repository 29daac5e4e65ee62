//! Which certificate authorities the functions' HTTPS client trusts (ivs_adapter::tls), against
//! the IVS emulator behind a TLS front on loopback whose certificate comes from a test
//! authority made by openssl for this run (`test_support::tls`):
//! - with the Amazon roots (the default), the handshake fails: the client trusts nothing but
//!   Amazon Trust Services, and no request reaches the server;
//! - with `SSL_CERT_FILE` naming the test authority (what an operator behind a TLS-inspecting
//!   proxy sets), the automatic choice keeps the system store, honours the file, and the same
//!   call succeeds.
//!
//! One test in its own binary: it sets process environment variables, which the SDK reads,
//! and the SDK caches the system store once per process. The function binaries' HTTPS
//! behaviour is tested in `end_to_end/https.rs`.

use aws_sdk_ivs::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use ivs_adapter::tls::{TrustRoots, TLS_TRUST_ROOTS};
use test_support::tls::{TestAuthority, TlsFront};

#[tokio::test]
async fn amazon_roots_reject_other_authorities_and_ssl_cert_file_keeps_the_system_store() {
    let authority = TestAuthority::new(&[]);
    let (emulator, server) = test_support::start_emulator(3).await;
    let front = TlsFront::start(&authority, &server.url()).await;
    let list_channels = || {
        emulator
            .stats()
            .operations
            .get("ListChannels")
            .map_or(0, |o| o.requests)
    };

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
    std::env::set_var("AWS_ENDPOINT_URL_IVS", front.url());

    // The Amazon roots only, asked for explicitly (the https:// override or SSL_CERT_FILE
    // alone would keep the system store): the test authority, although SSL_CERT_FILE names
    // it, is not trusted, and nothing is sent.
    std::env::set_var("SSL_CERT_FILE", authority.ca_file());
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
        if front.refused() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(front.refused() >= 1);
    assert_eq!(front.handshakes(), 0);
    assert_eq!(list_channels(), 0);

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
    assert_eq!(list_channels(), 1);

    // An invalid choice fails before any client exists.
    std::env::set_var(TLS_TRUST_ROOTS, "insecure");
    let err = ivs_adapter::ivs::client_from_env().await.unwrap_err();
    assert!(err.to_string().contains("TLS_TRUST_ROOTS"), "{err}");
}
