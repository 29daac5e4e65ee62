//! A keep-alive relay in front of moto's server.
//!
//! moto's server (werkzeug) answers every request with `Connection: close`, so behind a
//! [`test_support::tls::TlsFront`] (which relays bytes) every call to its EventBridge would pay
//! a new TCP connection and TLS handshake, and a session a function opens during init would be
//! gone by its first `PutEvents`. AWS's endpoints keep connections open. This relay keeps the
//! client's connection: it reads each HTTP/1.1 request (head and `Content-Length` body), sends
//! it to moto on a connection of its own, reads the answer to its body's end and hands it back
//! without the `Connection: close` (and with a `Content-Length`), then waits for the next
//! request on the same connection.
//!
//! An unsigned `GET /` (the functions' warm-up during init, `ivs_adapter::https`) is answered
//! by the relay itself, `404` with an empty JSON error, as an AWS endpoint answers a request
//! that names no operation: moto would route it to its S3 (`ListBuckets`) and take 8-15 ms of
//! Python to answer, a wait no AWS endpoint adds.
//!
//! Each `PutEvents` relayed is kept (the request's body and moto's answer), so that the
//! benchmark can check what the functions published without a rule on moto's bus: moto
//! delivers to a rule's targets before it answers `PutEvents` (5-6 ms of Python more per call
//! here), where EventBridge answers once it has taken the events and delivers afterwards.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The largest request or answer head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A relay on 127.0.0.1 keeping its clients' connections open; stopped when dropped.
pub(crate) struct KeepAlive {
    addr: SocketAddr,
    task: JoinHandle<()>,
    /// Per request relayed: its method, and how long moto took (connection to the answer's
    /// end), in milliseconds.
    answers: Arc<Mutex<Vec<(String, f64)>>>,
    /// Per `PutEvents` relayed: the request's body and moto's answer's body.
    put_events: Arc<Mutex<Vec<(String, String)>>>,
}

/// What the relay keeps of the requests it relays.
#[derive(Clone, Default)]
struct Seen {
    answers: Arc<Mutex<Vec<(String, f64)>>>,
    put_events: Arc<Mutex<Vec<(String, String)>>>,
}

impl KeepAlive {
    /// Relays to `upstream` (`http://host:port`).
    pub(crate) async fn start(upstream: &str) -> Result<KeepAlive, String> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the keep-alive relay cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let kept = Seen::default();
        let seen = kept.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let _ = serve(client, &upstream, &seen).await;
                });
            }
        });
        Ok(KeepAlive {
            addr,
            task,
            answers: kept.answers,
            put_events: kept.put_events,
        })
    }

    /// Forgets the requests relayed so far.
    pub(crate) fn forget(&self) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.clear();
        }
        if let Ok(mut put_events) = self.put_events.lock() {
            put_events.clear();
        }
    }

    /// The `PutEvents` calls relayed so far: (request body, moto's answer body).
    pub(crate) fn put_events(&self) -> Vec<(String, String)> {
        self.put_events
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// How long moto took to answer the requests relayed so far with `method`, in ms.
    pub(crate) fn answer_ms(&self, method: &str) -> Vec<f64> {
        self.answers
            .lock()
            .map(|a| {
                a.iter()
                    .filter(|(m, _)| m == method)
                    .map(|(_, ms)| *ms)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The head's header lines (after the start line), as (lower-case name, value).
fn headers(head: &str) -> Vec<(String, String)> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Serves one client connection, request after request, until it closes.
async fn serve(client: TcpStream, upstream: &str, seen: &Seen) -> Result<(), String> {
    let (read, mut write) = client.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let n = reader
                .read_until(b'\n', &mut head)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 || head.len() > MAX_HEAD {
                return Ok(());
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let request_headers = headers(head.trim_end());
        if header(&request_headers, "transfer-encoding").is_some() {
            return Err("a chunked request: not relayed".into());
        }
        let length: usize = header(&request_headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader
            .read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        let client_closes =
            header(&request_headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head_request = head.starts_with("HEAD ");
        if head.starts_with("GET / ") && header(&request_headers, "authorization").is_none() {
            let body = r#"{"__type":"UnknownOperationException"}"#;
            let close = if client_closes {
                "connection: close\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/x-amz-json-1.1\r\n\
                 content-length: {}\r\n{close}\r\n{body}",
                body.len()
            );
            write
                .write_all(answer.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            if client_closes {
                return Ok(());
            }
            continue;
        }

        // To moto: the same request, on a connection of its own that it may close.
        let mut forwarded = String::new();
        for line in head.trim_end().split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
                continue;
            }
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
        forwarded.push_str("connection: close\r\n\r\n");
        let started = Instant::now();
        let mut up = TcpStream::connect(upstream)
            .await
            .map_err(|e| format!("{upstream}: {e}"))?;
        let _ = up.set_nodelay(true);
        up.write_all(forwarded.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        up.write_all(&body).await.map_err(|e| e.to_string())?;
        let answer = read_answer(&mut up, head_request).await?;
        if let Ok(mut answers) = seen.answers.lock() {
            let method = head.split(' ').next().unwrap_or_default().to_owned();
            answers.push((method, started.elapsed().as_secs_f64() * 1000.0));
        }
        let put_events = header(&request_headers, "x-amz-target")
            .is_some_and(|t| t.eq_ignore_ascii_case("AWSEvents.PutEvents"));

        // Back to the client: the answer without `Connection: close`, its body whole.
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("moto's answer has no head")?;
        let answer_head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let mut answer_body = answer[split + 4..].to_vec();
        let answer_headers = headers(&answer_head);
        let chunked = header(&answer_headers, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            answer_body = dechunk(&answer_body)?;
        }
        if put_events {
            if let Ok(mut kept) = seen.put_events.lock() {
                kept.push((
                    String::from_utf8_lossy(&body).into_owned(),
                    String::from_utf8_lossy(&answer_body).into_owned(),
                ));
            }
        }
        let mut back = String::new();
        for line in answer_head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:")
                || lower.starts_with("keep-alive:")
                || lower.starts_with("transfer-encoding:")
                || lower.starts_with("content-length:")
            {
                continue;
            }
            back.push_str(line);
            back.push_str("\r\n");
        }
        let status: u16 = answer_head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let bodiless = head_request || status < 200 || status == 204 || status == 304;
        if head_request {
            // The length moto gave for the body a GET would have had.
            if let Some(length) = header(&answer_headers, "content-length") {
                back.push_str(&format!("content-length: {length}\r\n"));
            }
        } else if !bodiless {
            back.push_str(&format!("content-length: {}\r\n", answer_body.len()));
        }
        if client_closes {
            back.push_str("connection: close\r\n");
        }
        back.push_str("\r\n");
        write
            .write_all(back.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if !bodiless {
            write
                .write_all(&answer_body)
                .await
                .map_err(|e| e.to_string())?;
        }
        if client_closes {
            return Ok(());
        }
    }
}

/// moto's answer, head and body, read to the body's end (its `Content-Length`, or the last
/// chunk), not to the connection's end: werkzeug closes the connection about 11 ms after its
/// answer (measured on this machine: a `PutEvents` read to the close took 13.1 ms, read to its
/// length 2.3 ms), a wait that is no part of the answer.
async fn read_answer(up: &mut TcpStream, head_request: bool) -> Result<Vec<u8>, String> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if answer.len() > MAX_HEAD {
            return Err("moto's answer head is too long".into());
        }
        let n = up.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("moto closed the connection before its answer's head".into());
        }
        answer.extend_from_slice(&buf[..n]);
    };
    let answer_headers = headers(&String::from_utf8_lossy(&answer[..split]));
    let status: u16 = String::from_utf8_lossy(&answer[..split])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if head_request || status < 200 || status == 204 || status == 304 {
        return Ok(answer);
    }
    let length: Option<usize> =
        header(&answer_headers, "content-length").and_then(|v| v.trim().parse().ok());
    let chunked = header(&answer_headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let complete = |answer: &[u8]| match (length, chunked) {
        (Some(length), false) => answer.len() >= split + length,
        (_, true) => answer[split..].ends_with(b"0\r\n\r\n"),
        (None, false) => false,
    };
    while !complete(&answer) {
        let n = up.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            // Read to the close: an answer whose end only the close tells.
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    Ok(answer)
}

/// A chunked body, decoded.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size_line = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("a chunk size {size_line:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if data.len() < size + 2 {
            return Err("a chunk cut short".into());
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n").unwrap(),
            b"hello world"
        );
        assert!(dechunk(b"5\r\nhel").is_err());
    }

    /// One connection, two requests: both answered by a server that closes after each.
    #[tokio::test]
    async fn the_client_connection_stays_open() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = format!("http://{}", server.local_addr().unwrap());
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut socket, _)) = server.accept().await {
                n += 1;
                let mut buf = vec![0; 4096];
                let _ = socket.read(&mut buf).await;
                let body = format!("answer {n}");
                let _ = socket
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        let relay = KeepAlive::start(&upstream).await.unwrap();
        let mut client = TcpStream::connect(relay.addr).await.unwrap();
        for n in 1..=2 {
            client
                .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
                .await
                .unwrap();
            let mut buf = vec![0; 4096];
            let mut got = String::new();
            while !got.ends_with(&format!("answer {n}")) {
                let read = client.read(&mut buf).await.unwrap();
                assert!(read > 0, "the relay closed the connection: {got:?}");
                got.push_str(&String::from_utf8_lossy(&buf[..read]));
            }
            assert!(
                !got.to_ascii_lowercase().contains("connection: close"),
                "{got}"
            );
        }
        // The warm-up's unsigned `GET /`: answered by the relay, on the same connection.
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0; 4096];
        let mut got = String::new();
        while !got.ends_with("Exception\"}") {
            let read = client.read(&mut buf).await.unwrap();
            assert!(read > 0, "the relay closed the connection: {got:?}");
            got.push_str(&String::from_utf8_lossy(&buf[..read]));
        }
        assert!(got.starts_with("HTTP/1.1 404 "), "{got}");
        assert_eq!(relay.answer_ms("POST").len(), 2);
        assert!(relay.answer_ms("GET").is_empty());
    }
}
