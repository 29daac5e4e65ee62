//! The function binaries over HTTPS, in the real runtime loop, against the IVS emulator behind
//! a TLS front whose certificate a throwaway authority issued (`test_support::tls`), each
//! process given exactly Lambda's kind of environment:
//! - the TLS session to IVS is opened during init (no IVS operation called then) and the
//!   first call reuses it; `WARM_UP_AT_INIT=false` leaves it to the first call;
//! - an untrusted certificate is refused, by the warm-up and by the call, without failing the
//!   init, and nothing reaches IVS; an endpoint that refuses or never answers does not fail
//!   the init either;
//! - through an HTTPS proxy (`HTTPS_PROXY`), IVS's own endpoint is reached by a `CONNECT`
//!   tunnel, once.
//!
//! Which roots the adapter's client trusts is `tls_trust.rs`.

use std::time::Duration;

use ivs_emulator::{Emulator, Server};
use serde_json::Value;
use test_support::lambda::{function_binaries, Invoked, LocalLambda};
use test_support::tls::{ConnectProxy, TestAuthority, TlsFront};

/// IVS's endpoint in the region the emulator serves.
const IVS_HOST: &str = "ivs.us-west-2.amazonaws.com";

/// The emulator with one live channel, its `Stream Start` event, and a TLS front whose
/// certificate (for 127.0.0.1 and [`IVS_HOST`]) `authority` issued.
struct HttpsIvs {
    emulator: Emulator,
    server: Server,
    authority: TestAuthority,
    front: TlsFront,
    stream_start: Value,
    /// The live channel's id.
    channel_id: String,
    /// IVS operations asked for while setting up (CreateChannel).
    setup_requests: u64,
}

impl HttpsIvs {
    async fn start(seed: u64) -> Self {
        let (emulator, server) = test_support::start_emulator(seed).await;
        let ivs = test_support::ivs_client(&server.url());
        let (channel, key) = test_support::create_channel(&ivs, "tls", &[]).await;
        let channel_id = channel.rsplit('/').next().unwrap_or_default().to_owned();
        emulator.connect(&key).expect("the channel goes live");
        let stream_start = emulator
            .events()
            .into_iter()
            .find(|e| e["detail"]["event_name"] == "Stream Start")
            .expect("a Stream Start event");
        let authority = TestAuthority::new(&[IVS_HOST]);
        let front = TlsFront::start(&authority, &server.url()).await;
        let mut ivs = HttpsIvs {
            emulator,
            server,
            authority,
            front,
            stream_start,
            channel_id,
            setup_requests: 0,
        };
        ivs.setup_requests = ivs.ivs_requests();
        ivs
    }

    /// IVS operations the emulator has been asked for since the set-up.
    fn ivs_requests(&self) -> u64 {
        let all: u64 = self
            .emulator
            .stats()
            .operations
            .values()
            .map(|o| o.requests)
            .sum();
        all - self.setup_requests
    }

    /// Lambda's variables for a function reaching this IVS at `endpoint` (none: IVS's
    /// own endpoint) and trusting the throwaway authority when `trusted`.
    fn env(&self, endpoint: Option<String>, trusted: bool) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AWS_REGION", "us-west-2".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".to_owned()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
            ),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG".to_owned()),
        ];
        if let Some(endpoint) = endpoint {
            env.push(("AWS_ENDPOINT_URL_IVS", endpoint));
        }
        if trusted {
            env.push((
                "SSL_CERT_FILE",
                self.authority.ca_file().display().to_string(),
            ));
        }
        env
    }
}

/// Starts `stream-events` with `env` and waits for the end of its init (its first `next`).
async fn started(env: &[(&str, String)]) -> LocalLambda {
    started_function("stream-events", env).await
}

/// Starts function `name` with `env` and waits for the end of its init.
async fn started_function(name: &str, env: &[(&str, String)]) -> LocalLambda {
    let lambda = LocalLambda::start().await;
    lambda.spawn(name, &function_binaries().join(name), env);
    for _ in 0..1000 {
        if lambda.phases(name).init_done.is_some() {
            return lambda;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the init did not finish:\n{}", lambda.logs(name).join("\n"));
}

fn delivered(answer: Invoked) -> Value {
    let output = answer.ok();
    let actions = output["actions"].as_array().cloned().unwrap_or_default();
    assert!(
        actions
            .iter()
            .any(|a| a["action"] == "put_metadata" && a["outcome"] == "delivered"),
        "{output}"
    );
    output
}

fn no_init_error(lambda: &LocalLambda) {
    let logs = lambda.logs("stream-events");
    assert!(
        !logs.iter().any(|l| l.contains("INIT ERROR")),
        "{}",
        logs.join("\n")
    );
}

#[tokio::test]
async fn the_tls_session_to_ivs_is_opened_during_init_and_reused_by_the_first_call() {
    let ivs = HttpsIvs::start(11).await;
    let lambda = started(&ivs.env(Some(ivs.front.url()), true)).await;
    assert_eq!(ivs.front.handshakes(), 1, "one handshake during init");
    assert_eq!(ivs.ivs_requests(), 0, "no IVS operation during init");
    let logs = lambda.logs("stream-events").join("\n");
    assert!(logs.contains("connection opened during init"), "{logs}");

    delivered(lambda.invoke("stream-events", &ivs.stream_start).await);
    assert_eq!(ivs.ivs_requests(), 2, "ListTagsForResource and PutMetadata");
    assert_eq!(
        ivs.front.handshakes(),
        1,
        "the first call used the connection opened during init"
    );
    drop(lambda);

    // Switched off: nothing happens during init; the first call opens the connection.
    let ivs = HttpsIvs::start(12).await;
    let mut env = ivs.env(Some(ivs.front.url()), true);
    env.push(("WARM_UP_AT_INIT", "false".to_owned()));
    let lambda = started(&env).await;
    assert_eq!(ivs.front.handshakes(), 0);
    delivered(lambda.invoke("stream-events", &ivs.stream_start).await);
    assert_eq!(ivs.front.handshakes(), 1);

    // Not a boolean: a configuration error that ends the process before its first `next`,
    // naming the variable.
    let lambda = LocalLambda::start().await;
    let mut env = ivs.env(Some(ivs.front.url()), true);
    env.push(("WARM_UP_AT_INIT", "sometimes".to_owned()));
    lambda.spawn(
        "stream-events",
        &function_binaries().join("stream-events"),
        &env,
    );
    let mut logs = Vec::new();
    for _ in 0..1000 {
        logs = lambda.logs("stream-events");
        if logs.iter().any(|l| l.contains("WARM_UP_AT_INIT")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = logs.join("\n");
    assert!(
        logs.contains("WARM_UP_AT_INIT=") && logs.contains("expected true or false"),
        "{logs}"
    );
    assert!(lambda.phases("stream-events").init_done.is_none());
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_without_failing_the_init() {
    let ivs = HttpsIvs::start(13).await;
    // No SSL_CERT_FILE: the https:// override keeps the system store, which does not hold
    // the throwaway authority; then the Amazon roots alone, explicitly.
    for extra in [None, Some(("TLS_TRUST_ROOTS", "amazon".to_owned()))] {
        let mut env = ivs.env(Some(ivs.front.url()), false);
        env.extend(extra);
        let refused_before = ivs.front.refused();
        let lambda = started(&env).await;
        no_init_error(&lambda);
        let answer = lambda.invoke("stream-events", &ivs.stream_start).await;
        let Invoked::Err { error_type, .. } = answer else {
            panic!("the call must fail: {answer:?}");
        };
        assert_eq!(error_type, "Retryable.Unreachable");
        assert_eq!(ivs.front.handshakes(), 0, "no handshake completed");
        assert_eq!(ivs.ivs_requests(), 0, "nothing reached IVS");
        // The warm-up's handshake and the call's were both refused.
        for _ in 0..200 {
            if ivs.front.refused() >= refused_before + 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(ivs.front.refused() >= refused_before + 2);
    }
}

#[tokio::test]
async fn an_endpoint_that_refuses_or_never_answers_does_not_fail_the_init() {
    let ivs = HttpsIvs::start(14).await;
    // A port nobody listens on: the connection is refused at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let lambda = started(&ivs.env(Some(format!("https://{closed}")), true)).await;
    no_init_error(&lambda);
    let answer = lambda.invoke("stream-events", &ivs.stream_start).await;
    assert!(
        matches!(&answer, Invoked::Err { error_type, .. } if error_type == "Retryable.Unreachable"),
        "{answer:?}"
    );
    // A server that accepts the connection and never answers the TLS hello: the
    // warm-up gives up within its budget and the init goes on.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lambda = started(&ivs.env(
        Some(format!("https://{}", silent.local_addr().unwrap())),
        true,
    ))
    .await;
    no_init_error(&lambda);
    drop(silent);
}

#[tokio::test]
async fn ivs_is_reached_through_an_https_proxy() {
    let ivs = HttpsIvs::start(15).await;
    let proxy = ConnectProxy::start(ivs.front.addr()).await;
    // No endpoint override: the SDK calls IVS's own endpoint, which the proxy tunnels to
    // the front (the throwaway authority issued its certificate for that name too).
    let mut env = ivs.env(None, true);
    env.push(("HTTPS_PROXY", proxy.url()));
    let lambda = started(&env).await;
    delivered(lambda.invoke("stream-events", &ivs.stream_start).await);
    assert_eq!(proxy.asked(), vec![format!("{IVS_HOST}:443")]);
    assert_eq!(ivs.front.handshakes(), 1);
    assert_eq!(ivs.ivs_requests(), 2);
}

#[tokio::test]
async fn the_admin_api_loads_its_signing_key_during_init_and_survives_a_missing_one() {
    let ivs = HttpsIvs::start(16).await;
    let (private_pem, _) = test_support::p384_key_pair();
    let secret_arn = test_support::store_secret(
        &ivs.server.url(),
        "ivs-automation/playback-key",
        &private_pem,
    )
    .await;
    let loaded = "loaded the playback signing key";

    let mut env = ivs.env(Some(ivs.front.url()), true);
    env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", ivs.front.url()));
    env.push(("PLAYBACK_KEY_SECRET_ID", secret_arn));
    let lambda = started_function("admin-api", &env).await;
    let logs = lambda.logs("admin-api");
    assert_eq!(
        logs.iter().filter(|l| l.contains(loaded)).count(),
        1,
        "loaded during init:\n{}",
        logs.join("\n")
    );
    let path = format!("/channels/{}/playback-token", ivs.channel_id);
    let event = test_support::http_api_event("POST", &path, Some(r#"{"viewerId":"viewer-1"}"#));
    let answer = lambda.invoke("admin-api", &event).await.ok();
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap();
    assert!(
        body["token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{answer}"
    );
    let logs = lambda.logs("admin-api");
    assert_eq!(
        logs.iter().filter(|l| l.contains(loaded)).count(),
        1,
        "the first token used the key loaded during init"
    );
    drop(lambda);

    // A secret that does not exist (yet): the init goes on, and says why the key is missing;
    // requests that need no key are answered.
    let mut env = ivs.env(Some(ivs.front.url()), true);
    env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", ivs.front.url()));
    env.push((
        "PLAYBACK_KEY_SECRET_ID",
        "ivs-automation/not-there".to_owned(),
    ));
    let lambda = started_function("admin-api", &env).await;
    let logs = lambda.logs("admin-api").join("\n");
    assert!(
        logs.contains("could not load the playback signing key"),
        "{logs}"
    );
    assert!(!logs.contains("INIT ERROR"), "{logs}");
    let event = test_support::http_api_event("GET", &format!("/channels/{}", ivs.channel_id), None);
    let answer = lambda.invoke("admin-api", &event).await.ok();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    // A token cannot be signed: 503 with the reason, not a bare 500.
    let event = test_support::http_api_event("POST", &path, Some(r#"{"viewerId":"viewer-1"}"#));
    let answer = lambda.invoke("admin-api", &event).await.ok();
    assert_eq!(answer["statusCode"], 503, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(body["error"]["code"], "PlaybackKeyUnavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("ivs-automation/not-there") && message.contains("not found"),
        "{message}"
    );
}
