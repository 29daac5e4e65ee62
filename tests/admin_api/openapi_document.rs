//! The OpenAPI document (`functions/admin-api/openapi.json`) says what the router does: the
//! same routes, the same path parameters, the same write routes and routes that answer with
//! secrets, the admin scope (and its 403) on exactly the routes that need it, and every
//! request body schema it names exists.

use std::collections::BTreeSet;

use admin_api::router::ROUTES;
use serde_json::{json, Value};

/// The scope the admin routes need under a JWT authorizer (the template's default).
const ADMIN_SCOPE: &str = "ivs-automation/admin";

fn document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../functions/admin-api/openapi.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn parameters_of(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_document_and_the_router_have_the_same_routes() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented routes the router lacks: {unrouted:?}"
    );
}

#[test]
fn parameters_write_flags_and_schemas_agree() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut operation_ids = BTreeSet::new();
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(declared, parameters_of(r.path), "{} {}", r.method, r.path);
        assert_eq!(op["x-write"], r.write, "{} {}: x-write", r.method, r.path);
        assert_eq!(
            op["x-secret"], r.secret,
            "{} {}: x-secret",
            r.method, r.path
        );
        assert_eq!(
            op["operationId"].as_str(),
            Some(format!("{:?}", r.op).as_str()),
            "{} {}: operationId",
            r.method,
            r.path
        );
        assert!(
            operation_ids.insert(op["operationId"].to_string()),
            "duplicate operationId"
        );
        assert!(
            !op["security"].as_array().unwrap().is_empty(),
            "{}: no security",
            r.path
        );
        if let Some(reference) =
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                schemas.contains_key(name),
                "{} {}: no schema {name}",
                r.method,
                r.path
            );
        }
        for status in ["400", "401", "500"] {
            assert!(
                op["responses"][status].is_object(),
                "{} {}: no {status}",
                r.method,
                r.path
            );
        }
        // Under JWT, the routes that change resources or answer with secrets need the admin
        // scope (403 without it); the others need a token only.
        let jwt: Vec<&Value> = op["security"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|requirement| requirement.get("jwt"))
            .collect();
        let expected = if r.needs_admin() {
            json!([ADMIN_SCOPE])
        } else {
            json!([])
        };
        assert_eq!(jwt, [&expected], "{} {}: jwt scopes", r.method, r.path);
        assert_eq!(
            op["responses"]["403"].is_object(),
            r.needs_admin(),
            "{} {}: a 403 exactly when the route needs the admin scope",
            r.method,
            r.path
        );
        // A secret answer says so, and what it takes.
        if r.secret {
            let text = format!(
                "{} {}",
                op["summary"].as_str().unwrap_or_default(),
                op["description"].as_str().unwrap_or_default()
            );
            for needed in ["carries a secret", ADMIN_SCOPE] {
                assert!(
                    text.contains(needed),
                    "{} {}: its summary or description does not say {needed:?}",
                    r.method,
                    r.path
                );
            }
        }
    }
}

#[test]
fn the_document_says_which_routes_answer_with_secrets_and_what_they_need() {
    let doc = document();
    let jwt = doc["components"]["securitySchemes"]["jwt"]["description"]
        .as_str()
        .unwrap();
    assert!(
        jwt.contains(&format!(
            "routes that change resources or answer with secrets need the {ADMIN_SCOPE} scope"
        )),
        "{jwt}"
    );
    // No Cognito group any more: the gateway's JWT authorizer checks scopes only.
    let text = doc.to_string();
    for group in ["ivs-admins", "scope or group", "or the group"] {
        assert!(
            !text.contains(group),
            "the document still mentions {group:?}"
        );
    }
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(info.contains("x-secret"), "{info}");
    for r in ROUTES {
        let named = info.contains(&format!("{} {},", r.method, r.path))
            || info.contains(&format!("{} {}.", r.method, r.path));
        assert_eq!(
            named, r.secret,
            "{} {}: info.description lists the routes whose answer carries a secret",
            r.method, r.path
        );
    }
}
