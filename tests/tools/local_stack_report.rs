//! What the local stack (`scripts/local-stack.sh`) shows of a run: the lifecycle events the
//! functions published (received through an EventBridge rule in moto, on the SQS queue
//! `lifecycle-events`), each checked against its JSON Schema (`schemas/lifecycle/`), and a
//! table of the metrics the functions wrote as EMF lines in their logs, summed as CloudWatch
//! would for the dashboard.
//!
//! ```text
//! local-stack-report --events FILE --logs FILE [--check]
//!                    [--expect "Channel Live,Channel Offline"] [--expect-metrics "Actions,IvsCalls"]
//! ```
//!
//! `--events`: one SQS message body per line (the events as the rule's target got them).
//! `--logs`: the functions' output (`cargo lambda watch`'s); lines that are not EMF are
//! skipped. With `--check` it fails (exit 1) when an event does not match its schema, holds
//! a stream key value, a kind of `--expect` was not received, a metric of `--expect-metrics`
//! was not written, or a metric has a channel ARN among its dimension values.

use std::collections::BTreeMap;
use std::process::ExitCode;

use domain::metrics as catalog;
use ivs_adapter::metrics::read_emf;
use serde_json::Value;
use test_support::lifecycle::validate_lifecycle_event;
use test_support::moto::delivered_event;
use test_support::ACCOUNT;

struct Args {
    events: String,
    logs: String,
    check: bool,
    expect: Vec<String>,
    expect_metrics: Vec<String>,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        events: String::new(),
        logs: String::new(),
        check: false,
        expect: Vec::new(),
        expect_metrics: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--events" => args.events = value()?,
            "--logs" => args.logs = value()?,
            "--check" => args.check = true,
            "--expect" => args.expect = list(&value()?),
            "--expect-metrics" => args.expect_metrics = list(&value()?),
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if args.events.is_empty() || args.logs.is_empty() {
        return Err("usage: local-stack-report --events FILE --logs FILE [--check] [--expect KINDS] [--expect-metrics NAMES]".into());
    }
    Ok(args)
}

/// The fields worth a glance, per kind (the rest is in the event).
fn key_fields(detail_type: &str) -> &'static [&'static str] {
    match detail_type {
        "Channel Live" => &["streamId", "playbackUrl"],
        "Channel Offline" => &["streamId", "durationSeconds"],
        "Recording Ready" => &[
            "recordingSessionId",
            "durationMs",
            "masterPlaylistS3Uri",
            "masterPlaylistUrl",
        ],
        "Stream Key Rotated" => &["keyArn", "trigger", "streamId"],
        "Channel Suspended" => &["by", "streamId", "streamStopped"],
        "Channel Resumed" => &["keyArn", "keyCreated"],
        "Stream Stopped" => &["rule", "limit", "streamId", "wasLive"],
        "Sweeper Repair" => &["repair", "streamId", "keyArn"],
        _ => &[],
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let mut problems: Vec<String> = Vec::new();

    // The lifecycle events.
    let bodies: Vec<String> = read(&args.events)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    println!(
        "lifecycle events received: {} (source ivs-automation, through an EventBridge rule to the queue lifecycle-events)",
        bodies.len()
    );
    let mut events: Vec<(Value, &str)> = Vec::new();
    for body in &bodies {
        match delivered_event(body, ACCOUNT) {
            Some(event) => events.push((event, body)),
            None => problems.push(format!("a message that is not an event: {body}")),
        }
    }
    // In the order the facts happened (the queue's order is not).
    events.sort_by(|(a, _), (b, _)| show(&a["time"]).cmp(&show(&b["time"])));
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (event, body) in &events {
        let detail_type = event["detail-type"].as_str().unwrap_or("?").to_owned();
        *kinds.entry(detail_type.clone()).or_default() += 1;
        let detail = &event["detail"];
        let verdict = match validate_lifecycle_event(event) {
            Ok(()) => "schema ok".to_owned(),
            Err(e) => {
                problems.push(e.clone());
                "DOES NOT MATCH ITS SCHEMA".to_owned()
            }
        };
        if body.contains("sk_") {
            problems.push(format!(
                "a stream key value in a lifecycle event: {detail_type}"
            ));
        }
        println!(
            "  {}  {:<18}  {}  ({verdict})",
            show(&event["time"]),
            detail_type,
            show(&detail["id"])
        );
        let fields: Vec<String> = key_fields(&detail_type)
            .iter()
            .filter_map(|f| detail.get(*f).map(|v| format!("{f}={}", show(v))))
            .collect();
        if !fields.is_empty() {
            println!("      {}", fields.join("  "));
        }
    }
    for kind in &args.expect {
        if !kinds.contains_key(kind) {
            problems.push(format!("no {kind} lifecycle event was received"));
        }
    }

    // The metrics: (name, dimensions) → values, over every EMF line of the logs. A line may
    // carry a prefix (a runner's): the document starts at its first `{`.
    let logs = read(&args.logs);
    let emf_lines: Vec<&str> = logs
        .lines()
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .filter(|l| l.contains("\"_aws\""))
        .collect();
    let mut namespaces: Vec<String> = emf_lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|d| {
            d.pointer("/_aws/CloudWatchMetrics/0/Namespace")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    namespaces.sort();
    namespaces.dedup();
    let mut table: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for figure in read_emf(&emf_lines.join("\n")) {
        let mut dims = figure.dimensions.clone();
        dims.sort();
        for (_, value) in &dims {
            if value.contains("arn:") {
                problems.push(format!(
                    "metric {} has an ARN among its dimensions: {value}",
                    figure.name
                ));
            }
        }
        let dims = dims
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        table
            .entry((figure.name.clone(), dims))
            .or_default()
            .extend(&figure.values);
    }
    println!();
    println!(
        "metrics: {} EMF documents in the functions' logs, namespace {} (what the dashboard would show)",
        emf_lines.len(),
        if namespaces.is_empty() {
            "-".to_owned()
        } else {
            namespaces.join(", ")
        }
    );
    let width = table
        .keys()
        .map(|(_, d)| d.len())
        .max()
        .unwrap_or(0)
        .max(10);
    println!(
        "  {:<26} {:<width$} {:>9} {:>6} {:>9}  unit",
        "metric", "dimensions", "sum", "count", "max"
    );
    for ((name, dims), values) in &table {
        let sum: f64 = values.iter().sum();
        let max = values.iter().copied().fold(f64::NAN, f64::max);
        let unit = catalog::spec(name).map_or("?", |m| m.unit.as_str());
        println!(
            "  {:<26} {:<width$} {:>9} {:>6} {:>9}  {unit}",
            name,
            if dims.is_empty() { "(none)" } else { dims },
            trim(sum),
            values.len(),
            trim(max),
        );
    }
    for name in &args.expect_metrics {
        if !table.keys().any(|(n, _)| n == name) {
            problems.push(format!("no {name} metric was written"));
        }
    }

    if !args.check {
        return ExitCode::SUCCESS;
    }
    if problems.is_empty() {
        println!();
        println!(
            "checked: every lifecycle event matches its schema and holds no stream key; expected kinds ({}) and metrics ({}) present",
            args.expect.join(", "),
            args.expect_metrics.join(", ")
        );
        ExitCode::SUCCESS
    } else {
        eprintln!();
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        ExitCode::FAILURE
    }
}

/// A figure without a useless fraction.
fn trim(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}
