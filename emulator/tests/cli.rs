//! The `ivs-emulator` binary: the endpoint is the first line of stdout (the gateway's the second),
//! events can go to stdout as JSON lines, bad flags are refused, and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn start(args: &[&str]) -> (Child, String, BufReader<std::process::ChildStdout>) {
    start_with_env(args, None)
}

/// [`start`], with `IVS_EMULATOR_RATE_FACTOR` set to `rate_factor` (or unset).
fn start_with_env(
    args: &[&str],
    rate_factor: Option<&str>,
) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ivs-emulator"));
    command.env_remove("IVS_EMULATOR_RATE_FACTOR");
    if let Some(factor) = rate_factor {
        command.env("IVS_EMULATOR_RATE_FACTOR", factor);
    }
    let mut child = command
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
    request_with(url, method, path, "", body)
}

/// One HTTP/1.1 request with `headers` (each ending with CRLF); the whole answer.
fn request_with(url: &str, method: &str, path: &str, headers: &str, body: &str) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

#[cfg(unix)]
#[test]
fn prints_the_gateway_second_and_fronts_the_function() {
    // A port nobody listens on: the gateway's invocations fail.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let lambda = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (mut child, url, mut stdout) = start(&[
        "--port",
        "0",
        "--lambda-endpoint",
        &lambda,
        "--gateway-port",
        "0",
        "--gateway-function",
        "admin-api",
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    let gateway = second
        .trim_end()
        .strip_prefix("gateway: ")
        .unwrap_or_else(|| panic!("{second:?}"))
        .to_owned();
    assert!(gateway.starts_with("http://127.0.0.1:"), "{gateway}");
    assert_ne!(gateway, url);

    let health = request(&url, "GET", "/_emulator/health", "");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let unsigned = request(&gateway, "GET", "/channels", "");
    assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
    assert!(
        unsigned.ends_with(r#"{"message":"Forbidden"}"#),
        "{unsigned}"
    );
    let signed = request_with(
        &gateway,
        "GET",
        "/channels",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260105/us-west-2/execute-api/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\r\n\
         X-Amz-Date: 20260105T100000Z\r\n",
        "",
    );
    assert!(signed.starts_with("HTTP/1.1 500"), "{signed}");
    assert!(
        signed.ends_with(r#"{"message":"Internal Server Error"}"#),
        "{signed}"
    );

    let status = terminate(&mut child);
    assert!(status.success(), "{status:?}");
}

#[test]
fn refuses_bad_flags() {
    // A gateway in front of `function`, with the `extra` flags.
    let gateway = |function: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "--gateway-port",
            "0",
            "--gateway-function",
            function,
            "--lambda-endpoint",
            "http://127.0.0.1:9",
        ];
        args.extend_from_slice(extra);
        args
    };
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
        vec!["--gateway-port", "0", "--gateway-function", "admin-api"],
        vec![
            "--gateway-port",
            "0",
            "--lambda-endpoint",
            "http://127.0.0.1:9",
        ],
        vec!["--gateway-function", "admin-api"],
        vec![
            "--lambda-endpoint",
            "http://127.0.0.1:9",
            "--gateway-function",
            "admin-api",
        ],
        gateway("admin-api", &["--gateway-auth", "basic"]),
        gateway("a/b", &[]),
        gateway("admin-api", &["--gateway-timeout", "0"]),
        vec!["--rate-factor", "-1"],
        vec!["--rate-factor", "fast"],
        vec!["--rate-factor", "inf"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_ivs-emulator"))
            .env_remove("IVS_EMULATOR_RATE_FACTOR")
            .args(["--port", "0"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[cfg(unix)]
#[test]
fn the_rate_factor_comes_from_the_flag_then_the_environment() {
    // (flag, environment, the factor reported, whether the quotas are on)
    for (flag, env, factor, enabled) in [
        (None, None, "1.0", true),
        (Some("0.5"), None, "0.5", true),
        (None, Some("20"), "20.0", true),
        (Some("off"), Some("20"), "0.0", false),
        (None, Some("0"), "0.0", false),
    ] {
        let mut args = vec!["--port", "0"];
        if let Some(flag) = flag {
            args.extend(["--rate-factor", flag]);
        }
        let (mut child, url, _stdout) = start_with_env(&args, env);
        let quotas = request(&url, "GET", "/_emulator/rate-quotas", "");
        assert!(quotas.starts_with("HTTP/1.1 200"), "{quotas}");
        assert!(
            quotas.contains(&format!("\"factor\":{factor},\"enabled\":{enabled}")),
            "{flag:?} {env:?}: {quotas}"
        );
        let status = terminate(&mut child);
        assert!(status.success(), "{status:?}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_ivs-emulator"))
        .args(["--port", "0"])
        .env("IVS_EMULATOR_RATE_FACTOR", "-2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "a negative factor was accepted");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("IVS_EMULATOR_RATE_FACTOR"), "{stderr}");
}
