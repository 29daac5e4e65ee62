//! Lifecycle events (`domain::lifecycle`) against their JSON Schemas in
//! `schemas/lifecycle/<slug>.schema.json` (draft 2020-12, `format` asserted): the events the
//! tests build here and the ones the end-to-end tests capture from the local stack.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use domain::lifecycle::{Lifecycle, LifecycleKind, LIFECYCLE_SOURCE};
use jsonschema::Validator;
use serde_json::{json, Value};

/// `schemas/lifecycle/` in the repository.
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/lifecycle")
}

/// The schema file of `kind`.
pub fn schema_path(kind: LifecycleKind) -> PathBuf {
    schemas_dir().join(format!("{}.schema.json", kind.slug()))
}

/// The schema of `kind`, as JSON.
pub fn schema(kind: LifecycleKind) -> Value {
    let path = schema_path(kind);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The validator of `kind`'s schema: draft 2020-12 whatever `$schema` says, `format` asserted
/// (`date-time`, `uri`), nothing fetched (the `jsonschema` crate is built without resolvers).
pub fn validator(kind: LifecycleKind) -> Result<Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema(kind))
        .map_err(|e| format!("{}: not a valid schema: {e}", schema_path(kind).display()))
}

/// The compiled validators, one per kind, built once per process.
fn validators() -> &'static HashMap<LifecycleKind, Result<Validator, String>> {
    static VALIDATORS: OnceLock<HashMap<LifecycleKind, Result<Validator, String>>> =
        OnceLock::new();
    VALIDATORS.get_or_init(|| {
        LifecycleKind::ALL
            .into_iter()
            .map(|kind| (kind, validator(kind)))
            .collect()
    })
}

/// Checks a full EventBridge event, as a rule's target receives it, against the schema its
/// `detail-type` names; and that `resources` is exactly `[detail.channelArn]` (what a schema
/// cannot say). `Err` lists every failure, each with its JSON pointer.
pub fn validate_lifecycle_event(value: &Value) -> Result<(), String> {
    let detail_type = value
        .get("detail-type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no string detail-type in {value}"))?;
    let kind = LifecycleKind::from_detail_type(detail_type)
        .ok_or_else(|| format!("no lifecycle schema for detail-type {detail_type:?}"))?;
    let validator = validators()[&kind].as_ref().map_err(Clone::clone)?;
    let mut problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    let channel = value.pointer("/detail/channelArn");
    if let (Some(resources), Some(channel)) = (value.get("resources"), channel) {
        if resources != &json!([channel]) {
            problems.push(format!(
                "/resources: {resources} is not [detail.channelArn] ({channel})"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} event does not match {}:\n  {}",
            detail_type,
            schema_path(kind).display(),
            problems.join("\n  ")
        ))
    }
}

/// `event` as a rule's target receives it: what `ivs_adapter` puts (source
/// [`LIFECYCLE_SOURCE`], `detail-type` the kind's, `detail`, `resources` the channel's ARN,
/// `time` when the fact happened) in EventBridge's envelope (`version`, its own `id`, the bus's
/// account and region, `time` in whole seconds as EventBridge renders it).
pub fn envelope(event: &Lifecycle, eventbridge_id: &str, account: &str, region: &str) -> Value {
    json!({
        "version": "0",
        "id": eventbridge_id,
        "detail-type": event.kind.detail_type(),
        "source": LIFECYCLE_SOURCE,
        "account": account,
        "time": event.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": region,
        "resources": [event.channel.as_str()],
        "detail": event.detail,
    })
}

/// What a mocked `PutEvents` was given, one entry each: (bus, source, detail-type, detail,
/// resources).
pub type PutEntries =
    std::sync::Arc<std::sync::Mutex<Vec<(String, String, String, Value, Vec<String>)>>>;

/// A mocked `PutEvents` that takes every entry (`refuse` false) or refuses every one, keeping
/// what it was given in `seen`.
pub fn put_events_rule(seen: &PutEntries, refuse: bool) -> aws_smithy_mocks::Rule {
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    let seen = std::sync::Arc::clone(seen);
    let rule =
        aws_smithy_mocks::mock!(aws_sdk_eventbridge::Client::put_events).match_requests(move |r| {
            for e in r.entries() {
                seen.lock().unwrap().push((
                    e.event_bus_name().unwrap_or("").to_owned(),
                    e.source().unwrap_or("").to_owned(),
                    e.detail_type().unwrap_or("").to_owned(),
                    serde_json::from_str(e.detail().unwrap_or("null")).unwrap(),
                    e.resources().to_vec(),
                ));
            }
            true
        });
    rule.then_output(move || {
        let entry = if refuse {
            PutEventsResultEntry::builder()
                .error_code("InternalFailure")
                .error_message("try again")
        } else {
            PutEventsResultEntry::builder().event_id("eb-1")
        };
        PutEventsOutput::builder()
            .failed_entry_count(i32::from(refuse))
            .entries(entry.build())
            .build()
    })
}

/// A publisher to `bus` over a mocked EventBridge answering from `rules` (the SDK's own
/// retries off).
pub fn mocked_publisher(
    rules: &[&aws_smithy_mocks::Rule],
    bus: &str,
) -> ivs_adapter::publish::Publisher {
    let client = aws_smithy_mocks::mock_client!(
        aws_sdk_eventbridge,
        aws_smithy_mocks::RuleMode::MatchAny,
        rules,
        |c| c.retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
    );
    ivs_adapter::publish::Publisher::from_client(client, bus)
}
