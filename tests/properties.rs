//! Bad input, generated: event parsing, ARN parsing, admin requests and token claims never
//! panic, and every rejection is a clear error; the admin API answers malformed JSON, wrong
//! types, oversized bodies, path traversal and injection-looking ids with a 4xx, never a 5xx.
//!
//! A fixed seed and a moderate number of cases here (`PROPTEST_CASES` raises it:
//! `scripts/fuzz.sh` runs the long version).

use std::net::TcpListener;
use std::process::Command;
use std::sync::OnceLock;

use admin_api::token::{PlaybackSigner, TokenRequest};
use admin_api::AdminApi;
use domain::arn::{IvsArn, ResourceType};
use domain::events::IvsEvent;
use domain::policy::decide;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Value};
use test_support::*;

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256),
        rng_seed: RngSeed::Fixed(0x1f5_2026),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Envelopes that look like IVS's, with generated details and resources.
fn ivs_like_event() -> impl Strategy<Value = Value> {
    let detail_type = prop_oneof![
        Just("IVS Stream State Change".to_owned()),
        Just("IVS Stream Health Change".to_owned()),
        Just("IVS Limit Breach".to_owned()),
        Just("IVS Recording State Change".to_owned()),
        ".{0,30}",
    ];
    let resource = prop_oneof![
        Just(CHANNEL_ARN.to_owned()),
        "arn:aws:ivs:[a-z0-9-]{0,12}:[0-9]{0,14}:[a-z-]{0,20}/[A-Za-z0-9-]{0,14}",
        ".{0,60}",
    ];
    (
        detail_type,
        prop::collection::vec(resource, 0..3),
        any_json(),
        prop_oneof![
            Just("Stream Start".to_owned()),
            Just("Stream End".to_owned()),
            ".{0,20}"
        ],
        any_json(),
    )
        .prop_map(|(detail_type, resources, time, name, extra)| {
            json!({
                "version": "0", "id": "6f1c4d2a-0000-4000-8000-000000000001",
                "detail-type": detail_type, "source": "aws.ivs", "account": "111122223333",
                "time": time, "region": "us-west-2", "resources": resources,
                "detail": {
                    "event_name": name, "limit_name": name, "recording_status": name,
                    "channel_name": "x", "stream_id": "st-1", "limit_value": extra.clone(),
                    "recording_duration_ms": extra, "recording_session_stream_ids": ["st-1"],
                },
            })
        })
}

fn check_event(value: Value) {
    let policy = settings(&[
        ("ROTATE_KEY_ON", "stream-end"),
        ("STOP_ON_LIMIT_BREACH", "true"),
        ("MUST_RECORD", "true"),
        ("STARVATION_METADATA", "true"),
    ])
    .defaults;
    match IvsEvent::from_value(value) {
        Ok(event) => match event.channel_arn() {
            Ok(channel) => {
                let actions = decide(&event, channel.as_ref(), &policy);
                assert!(
                    !actions.is_empty(),
                    "every event gets at least a log record"
                );
            }
            Err(e) => assert!(e.to_string().contains("invalid IVS ARN")),
        },
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_json_is_read_or_refused_clearly(value in any_json()) {
        check_event(value);
    }

    #[test]
    fn ivs_like_events_are_read_or_refused_clearly(value in ivs_like_event()) {
        check_event(value);
    }

    #[test]
    fn any_string_is_parsed_or_refused_clearly(input in ".{0,200}") {
        match IvsArn::parse(&input) {
            Ok(arn) => prop_assert_eq!(arn.to_string(), input),
            Err(e) => prop_assert!(e.to_string().starts_with("invalid IVS ARN")),
        }
    }

    #[test]
    fn built_arns_round_trip(
        kind in prop::sample::select(ResourceType::ALL.to_vec()),
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        account in "[0-9]{12}",
        id in "[A-Za-z0-9]{1,24}",
    ) {
        let arn = IvsArn::build(kind, &region, &account, &id).unwrap();
        let parsed = IvsArn::parse_as(arn.as_str(), kind).unwrap();
        prop_assert_eq!(parsed.region(), region.as_str());
        prop_assert_eq!(parsed.account(), account.as_str());
        prop_assert_eq!(parsed.id(), id.as_str());
    }
}

// ---------------------------------------------------------------- admin requests

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// An admin API whose IVS is a closed loopback port: a request that reached IVS would fail
/// with a 5xx, so a 4xx proves it was refused before.
fn api() -> &'static AdminApi {
    static API: OnceLock<AdminApi> = OnceLock::new();
    API.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        admin_api_over(
            fast_ivs(ivs_client(&format!("http://127.0.0.1:{port}")), 1),
            None,
        )
    })
}

fn answer(method: &str, raw_path: &str, body: Option<String>) -> u16 {
    // The raw path as generated, never split at a '?' (these are path segments under test).
    let mut event = http_api_event(method, "/", body.as_deref());
    event["rawPath"] = json!(raw_path);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    let Ok(request) = lambda_http::request::from_str(&event.to_string()) else {
        // lambda_http refuses the event itself (e.g. a path that is not a URI): it never
        // reaches the function.
        return 400;
    };
    runtime().block_on(api().handle(request)).status().as_u16()
}

/// A value of the wrong JSON type for a string field.
fn not_a_string() -> impl Strategy<Value = Value> {
    any_json().prop_filter("not a string or null", |v| !v.is_string() && !v.is_null())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn malformed_json_is_a_4xx(body in prop::collection::vec(any::<u8>(), 1..300)) {
        let body = String::from_utf8_lossy(&body).into_owned();
        prop_assume!(serde_json::from_str::<Value>(&body).is_err());
        let status = answer("POST", "/channels", Some(body));
        prop_assert!((400..500).contains(&status), "{}", status);
    }

    #[test]
    fn wrong_types_are_a_4xx(field in prop::sample::select(vec!["name", "latencyMode", "type", "preset", "recordingConfigurationArn"]), value in not_a_string()) {
        let status = answer("POST", "/channels", Some(json!({ field: value }).to_string()));
        prop_assert_eq!(status, 400);
    }

    #[test]
    fn oversized_bodies_are_a_413(extra in 1usize..4096) {
        let body = format!("{{\"metadata\":\"{}\"}}", "x".repeat(64 * 1024 + extra));
        prop_assert_eq!(answer("POST", "/channels/AbCdEf123456/metadata", Some(body)), 413);
    }

    #[test]
    fn traversal_and_injection_looking_ids_are_a_4xx(
        id in prop_oneof![
            "\\.\\./[a-z./]{0,20}",
            "[a-z]{0,5}['\";`$|&<>(){}\\\\ ]{1,3}[a-z0-9=' ]{0,10}",
            ".{1,30}",
        ],
        route in prop::sample::select(vec!["", "/status", "/stream", "/sessions", "/stream-keys"]),
        encoded in any::<bool>(),
    ) {
        prop_assume!(!id.bytes().all(|b| b.is_ascii_alphanumeric()));
        let segment = if encoded { url_encode(&id) } else { id.clone() };
        let status = answer("GET", &format!("/channels/{segment}{route}"), None);
        prop_assert!((400..500).contains(&status), "{} for {:?}", status, id);
    }
}

// ---------------------------------------------------------------- token claims

fn signer() -> &'static PlaybackSigner {
    static SIGNER: OnceLock<PlaybackSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = Command::new("openssl")
            .args(["ecparam", "-name", "secp384r1", "-genkey", "-noout"])
            .output()
            .unwrap();
        PlaybackSigner::from_pem(&String::from_utf8(key.stdout).unwrap()).unwrap()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_claims_are_built_or_refused_clearly(
        viewer_id in proptest::option::of(".{0,50}"),
        single_use in any::<bool>(),
        expires in proptest::option::of(-100i64..200_000),
        origins in proptest::option::of(prop::collection::vec(".{0,40}", 0..4)),
        strict in proptest::option::of(any::<bool>()),
        resolution in proptest::option::of(".{0,8}"),
        version in proptest::option::of(any::<i64>()),
    ) {
        let request = TokenRequest {
            viewer_id,
            single_use,
            expires_in_seconds: expires,
            allowed_origins: origins,
            strict_origin_enforcement: strict,
            maximum_resolution: resolution,
            viewer_session_version: version,
        };
        let now = chrono::Utc::now();
        match request.validate() {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(()) => {
                let minted = signer()
                    .mint(CHANNEL_ARN, "https://x.us-west-2.playback.live-video.net/api/video/v1/a.m3u8", &request, now)
                    .unwrap();
                let limit = if request.viewer_id.is_some() || request.single_use { 600 } else { 3_600 };
                prop_assert!(minted.claims.exp <= now.timestamp() + limit);
                prop_assert!(minted.claims.exp > now.timestamp());
            }
        }
    }
}
