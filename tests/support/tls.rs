//! HTTPS on loopback for tests and the benchmark, as AWS endpoints are reached on Lambda:
//! - [`TestAuthority`]: a throwaway certificate authority made by `openssl` for this run, and
//!   a server certificate it issued for 127.0.0.1, `localhost` and any extra names (for
//!   example an AWS endpoint's host name, reached through [`ConnectProxy`]);
//! - [`TlsFront`]: a TLS terminator in front of a plain-HTTP server (the IVS emulator, its
//!   Secrets Manager), relaying bytes both ways and counting handshakes, so that a client's
//!   first request pays a real handshake and certificate check;
//! - [`ConnectProxy`]: an HTTP `CONNECT` proxy that records the authorities it was asked for
//!   and tunnels every one of them to one local address.
//!
//! Everything listens on 127.0.0.1 on ports the OS picks and stops when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::{openssl, TempDir};

/// A certificate authority made for this run, and a server certificate it issued. The files
/// live in a temporary directory removed when this is dropped.
pub struct TestAuthority {
    dir: TempDir,
}

impl TestAuthority {
    /// A new authority (P-256, valid two days) and a server certificate for 127.0.0.1,
    /// `localhost` and `extra_names` (DNS names).
    pub fn new(extra_names: &[&str]) -> Self {
        let dir = TempDir::new("test-authority");
        let path = dir.path();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(
            path,
            &format!("req -x509 -days 2 -subj /CN=throwaway-test-authority {ec} -keyout ca.key -out ca.pem"),
        );
        openssl(
            path,
            &format!("req -subj /CN=127.0.0.1 {ec} -keyout server.key -out server.csr"),
        );
        let mut names = vec!["IP:127.0.0.1".to_owned(), "DNS:localhost".to_owned()];
        names.extend(extra_names.iter().map(|n| format!("DNS:{n}")));
        std::fs::write(
            path.join("server.ext"),
            format!(
                "basicConstraints=CA:FALSE\nsubjectAltName={}\nextendedKeyUsage=serverAuth\n",
                names.join(",")
            ),
        )
        .expect("the temp dir is writable");
        openssl(
            path,
            "x509 -req -days 1 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -extfile server.ext -out server.pem",
        );
        TestAuthority { dir }
    }

    /// The authority's certificate (PEM): what `SSL_CERT_FILE` or `NODE_EXTRA_CA_CERTS` names
    /// to trust it.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let path: &Path = self.dir.path();
        let certs = CertificateDer::pem_file_iter(path.join("server.pem"))
            .expect("server.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("server.pem holds certificates");
        let key = PrivateKeyDer::from_pem_file(path.join("server.key")).expect("server.key");
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the certificate matches its key");
        Arc::new(config)
    }
}

/// What a [`TlsFront`] saw.
#[derive(Debug, Default)]
pub struct FrontStats {
    handshakes: AtomicUsize,
    refused: AtomicUsize,
}

/// A TLS terminator on 127.0.0.1 in front of a plain-TCP server.
pub struct TlsFront {
    addr: SocketAddr,
    stats: Arc<FrontStats>,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Terminates TLS with `authority`'s server certificate and relays each connection to
    /// `upstream` (an `http://host:port` URL or `host:port`).
    pub async fn start(authority: &TestAuthority, upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let acceptor = TlsAcceptor::from(authority.server_config());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a local address");
        let stats = Arc::new(FrontStats::default());
        let seen = Arc::clone(&stats);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        seen.refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    seen.handshakes.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut plain) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = plain.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsFront { addr, stats, task }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.stats.handshakes.load(Ordering::SeqCst)
    }

    /// Handshakes that failed (the client refused the certificate, or went away).
    pub fn refused(&self) -> usize {
        self.stats.refused.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP `CONNECT` proxy on 127.0.0.1: every tunnel, whatever authority it names, goes to
/// one target address; the authorities asked for are recorded.
pub struct ConnectProxy {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl ConnectProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("a local address");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&asked);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match client.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                        if head.len() > 16 * 1024 {
                            return;
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let mut words = head.split_whitespace();
                    let (Some("CONNECT"), Some(authority)) = (words.next(), words.next()) else {
                        let _ = client
                            .write_all(
                                b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n",
                            )
                            .await;
                        return;
                    };
                    if let Ok(mut asked) = record.lock() {
                        asked.push(authority.to_owned());
                    }
                    let Ok(mut upstream) = TcpStream::connect(target).await else {
                        let _ = client
                            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    };
                    if client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        ConnectProxy { addr, asked, task }
    }

    /// `http://127.0.0.1:<port>`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The authorities (`host:port`) tunnels were asked for, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
