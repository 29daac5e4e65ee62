//! The layout ARCHITECTURE.md describes, checked: the domain crate does no I/O, the event
//! functions do not link what only the admin API needs, and no crate's modules import each
//! other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every package `package` depends on, transitively (normal dependencies only), by name.
fn dependencies(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(workspace())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_domain_crate_depends_on_no_io_crate() {
    let deps = dependencies("automation-domain");
    let io = [
        "tokio",
        "mio",
        "hyper",
        "h2",
        "reqwest",
        "rustls",
        "aws-lc-rs",
        "aws-config",
        "aws-smithy-runtime",
        "aws-smithy-http-client",
        "aws-sdk-ivs",
        "aws-sdk-secretsmanager",
        "aws-sdk-dynamodb",
        "lambda_runtime",
        "lambda_http",
        "tracing-subscriber",
    ];
    let found: Vec<&&str> = io.iter().filter(|c| deps.contains(**c)).collect();
    assert!(found.is_empty(), "the domain crate links {found:?}");
    assert!(deps.contains("serde"), "the tree was read: {deps:?}");
}

#[test]
fn the_event_functions_do_not_link_what_only_the_admin_api_needs() {
    for function in ["stream-events", "recording-events", "sweeper"] {
        let deps = dependencies(function);
        assert!(
            deps.contains("aws-sdk-ivs"),
            "{function}: the tree was read"
        );
        for admin_only in [
            "lambda_http",
            "jsonwebtoken",
            "aws-sdk-secretsmanager",
            "pem",
        ] {
            assert!(
                !deps.contains(admin_only),
                "{function} links {admin_only}, which only the admin API needs"
            );
        }
    }
    let admin = dependencies("admin-api");
    for needed in ["lambda_http", "jsonwebtoken", "aws-sdk-secretsmanager"] {
        assert!(admin.contains(needed), "admin-api: {needed}");
    }
    // The sweeper's saved position (DynamoDB) is the sweeper's alone: the event functions and
    // the admin API do not carry its SDK.
    for function in [
        "stream-events",
        "recording-events",
        "admin-api",
        "ivs-adapter",
    ] {
        assert!(
            !dependencies(function).contains("aws-sdk-dynamodb"),
            "{function} links aws-sdk-dynamodb, which only the sweeper needs"
        );
    }
    assert!(dependencies("sweeper").contains("aws-sdk-dynamodb"));
}

/// The crate-level module a `crate::a::b` path names, if any.
fn crate_modules(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in source.match_indices("crate::") {
        let rest = &source[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// For each top-level module of the crate in `src`, the other top-level modules it names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut all = Vec::new();
    files(src, &mut all);
    for file in all {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may use anything.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let named = crate_modules(text);
        let entry = graph.entry(top.clone()).or_default();
        entry.extend(named.into_iter().filter(|m| *m != top));
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_modules_that_import_each_other_in_a_circle() {
    let root = workspace();
    // (The sweeper and the event functions are one module each.)
    let crates = [
        "crates/domain/src",
        "crates/ivs-adapter/src",
        "functions/admin-api/src",
    ];
    for src in crates {
        let graph = module_graph(&root.join(src));
        assert!(graph.len() > 1, "{src}: modules read");
        assert_eq!(cycle(&graph), None, "{src}: {graph:#?}");
    }
    // The check itself finds a cycle when there is one.
    let mut looped = BTreeMap::new();
    looped.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    looped.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(cycle(&looped).is_some());
}

/// The workspace's cargo configuration builds aws-lc without CPU-jitter entropy (about 60 ms
/// of CPU at a function's first TLS handshake), and the function binaries the tests build
/// with it carry none of that source's symbols (`jent_…`). The deployed builds (`cargo lambda
/// build`, `sam build`) read the same `.cargo/config.toml`.
#[test]
fn the_functions_are_built_without_aws_lc_jitter_entropy() {
    let config = std::fs::read_to_string(workspace().join(".cargo/config.toml")).unwrap();
    assert!(
        config
            .lines()
            .any(|l| l.trim().replace(' ', "") == "AWS_LC_SYS_NO_JITTER_ENTROPY=\"1\""),
        "{config}"
    );
    let bins = test_support::lambda::function_binaries();
    for function in ["stream-events", "recording-events", "admin-api", "sweeper"] {
        let out = Command::new("nm")
            .arg(bins.join(function))
            .output()
            .expect("nm (binutils) lists the symbols of a debug binary");
        assert!(out.status.success(), "nm {function}");
        let symbols = String::from_utf8_lossy(&out.stdout);
        assert!(
            symbols.lines().count() > 1000,
            "{function}: a binary with its symbols"
        );
        let jitter: Vec<&str> = symbols.lines().filter(|l| l.contains("jent_")).collect();
        assert!(
            jitter.is_empty(),
            "{function} links aws-lc's jitter entropy: {:?}",
            &jitter[..jitter.len().min(3)]
        );
    }
}
