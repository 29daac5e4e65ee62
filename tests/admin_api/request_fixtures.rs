//! Every request fixture in `events/admin-api/` (API Gateway HTTP API payload 2.0, and one REST
//! API event) through the admin API's real handler, with the IVS emulator as IVS: the status,
//! the error code and the field named are as `events/admin-api/expected.json` says. Bad input
//! is always a 4xx, never a 5xx.

use std::collections::{BTreeMap, HashSet};

use admin_api::router::{route, ROUTES};
use admin_api::AdminApi;
use lambda_http::Body;
use serde::Deserialize;
use serde_json::Value;
use test_support::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expected {
    status: u16,
    code: Option<String>,
    message_starts_with: Option<String>,
}

fn fixtures() -> Vec<(String, String)> {
    let dir = events_dir().join("admin-api");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "expected.json")
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            (n.trim_end_matches(".json").to_owned(), text)
        })
        .collect()
}

fn api(endpoint: &str) -> AdminApi {
    admin_api_over(fast_ivs(ivs_client(endpoint), 3), None)
}

fn body_json(body: &Body) -> Value {
    match body {
        Body::Empty => Value::Null,
        other => serde_json::from_slice(other.as_ref()).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn every_fixture_gets_the_expected_answer() {
    let expected: BTreeMap<String, Expected> = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("admin-api/expected.json")).unwrap(),
    )
    .unwrap();
    // Every fixture, back to back: faster than IVS's rate quotas allow (not under test here).
    let (_emulator, server) = start_emulator_unthrottled(5).await;
    let api = api(&server.url());
    let fixtures = fixtures();
    assert_eq!(
        fixtures
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<HashSet<_>>(),
        expected.keys().cloned().collect::<HashSet<_>>(),
        "every fixture has an expectation and every expectation a fixture"
    );
    let mut failures = Vec::new();
    for (name, text) in &fixtures {
        let want = &expected[name];
        let request = lambda_http::request::from_str(text)
            .unwrap_or_else(|e| panic!("{name} is not an API Gateway event: {e}"));
        let response = api.handle(request).await;
        let status = response.status().as_u16();
        let body = body_json(response.body());
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{name}"
        );
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{name}"
        );
        let mut problems = Vec::new();
        if status != want.status {
            problems.push(format!("status {status}, expected {}", want.status));
        }
        if status >= 400 {
            let code = body["error"]["code"].as_str().unwrap_or("");
            let message = body["error"]["message"].as_str().unwrap_or("");
            if code.is_empty() || message.is_empty() {
                problems.push("error without code or message".to_owned());
            }
            if let Some(c) = &want.code {
                if code != c {
                    problems.push(format!("code {code}, expected {c}"));
                }
            }
            if let Some(prefix) = &want.message_starts_with {
                if !message.starts_with(prefix.as_str()) {
                    problems.push(format!(
                        "message {message:?} does not start with {prefix:?}"
                    ));
                }
            }
        }
        if name.starts_with("bad-") && !(400..500).contains(&status) {
            problems.push(format!("bad input answered {status}, not a 4xx"));
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {} ({body})", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_route_has_a_fixture() {
    let mut covered = HashSet::new();
    for (name, text) in fixtures() {
        let event: Value = serde_json::from_str(&text).unwrap();
        let (method, path) = match event["version"].as_str() {
            Some("2.0") => (
                event["requestContext"]["http"]["method"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                event["rawPath"].as_str().unwrap().to_owned(),
            ),
            _ => (
                event["httpMethod"].as_str().unwrap().to_owned(),
                event["path"].as_str().unwrap().to_owned(),
            ),
        };
        let stage = event["requestContext"]["stage"]
            .as_str()
            .unwrap_or("$default");
        let path = match path.strip_prefix(&format!("/{stage}")) {
            Some(rest) if stage != "$default" && event["version"] == "2.0" => rest.to_owned(),
            _ => path,
        };
        if let Ok((r, _)) = route(&method, &path) {
            covered.insert((r.method, r.path));
        } else {
            assert!(name.starts_with("bad-"), "{name} matches no route");
        }
    }
    for r in ROUTES {
        assert!(
            covered.contains(&(r.method, r.path)),
            "no fixture for {} {}",
            r.method,
            r.path
        );
    }
}
