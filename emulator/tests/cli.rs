//! The `ivs-emulator` binary: the endpoint is the first line of stdout, events can go to stdout
//! as JSON lines, bad flags are refused, and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn start(args: &[&str]) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivs-emulator"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    (child, first.trim_end().to_owned(), stdout)
}

/// One HTTP/1.1 request without a signature; the whole answer.
fn request(url: &str, method: &str, path: &str, body: &str) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[cfg(unix)]
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

#[cfg(unix)]
#[test]
fn prints_the_endpoint_first_and_stops_on_sigterm() {
    let (mut child, url, mut stdout) =
        start(&["--port", "0", "--seed", "7", "--events-out", "stdout"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let health = request(&url, "GET", "/_emulator/health", "");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"seed\":7"), "{health}");
    let unsigned = request(&url, "POST", "/ListChannels", "{}");
    assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
    let breach = request(
        &url,
        "POST",
        "/_emulator/limit-breach",
        r#"{"limitName": "Concurrent Viewers"}"#,
    );
    assert!(breach.starts_with("HTTP/1.1 200"), "{breach}");
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with(r#"{"version":"0","id":""#), "{line}");
    assert!(
        line.contains(r#""detail-type":"IVS Limit Breach""#),
        "{line}"
    );
    let status = terminate(&mut child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn refuses_bad_flags() {
    for args in [
        vec!["--fault", "NoSuchOperation:throttle=0.5"],
        vec!["--fault", "*:throttle=2"],
        vec!["--route", "Stream State Change=stream-events"],
        vec!["--lambda-endpoint", "http://127.0.0.1:9"],
        vec![
            "--lambda-endpoint",
            "https://example.com",
            "--default-routes",
        ],
        vec!["--region", "US_WEST"],
        vec!["--account", "abc"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ivs-emulator"))
            .args(["--port", "0"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
