//! `template.yaml` holds what the issue asks of it:
//! - every function is a Rust `provided.al2023` arm64 function with JSON logs, explicit memory
//!   and timeout, tracing from a parameter and a log group with retention;
//! - every event has a dead-letter path: an event function's rule sends to the function's
//!   queue with a retry policy and an SQS dead-letter queue that lets the rule in, the queue
//!   lets only that rule in and redrives to FailedEventsQueue after EventMaxReceiveCount
//!   receives, and the function reads it through an event source mapping of its own
//!   (`AWS::Lambda::EventSourceMapping`, created after the function's role) with
//!   ReportBatchItemFailures, MaximumConcurrency EventConcurrency and a visibility timeout of
//!   at least 6 times its timeout; the sweeper's schedule rule has a retry policy and a
//!   dead-letter queue, and its async failures go to an SQS on-failure destination after two
//!   retries;
//! - no function has a SAM poll-based event (`Type: SQS`…), whose managed policy would let it
//!   read every queue of the account; the event functions' SQS permissions are scoped:
//!   ReceiveMessage, DeleteMessage, GetQueueAttributes and ChangeMessageVisibility on their
//!   own queue, SendMessage on FailedEventsQueue and, when they publish lifecycle events, on
//!   their own queue (outbox records), nothing else;
//! - the default shares of IVS's rate quotas sum to at most 0.8, each function's divided by
//!   its concurrency;
//! - every admin route requires authorization (IAM by default, JWT by parameter; never none),
//!   and under JWT exactly the routes of the router that change resources or answer with
//!   secrets (`Route::needs_admin`) require the admin scope, for every form of their path
//!   (ids, ARNs as an HTTP API routes them), routed as API Gateway routes HTTP APIs;
//! - the example identity policies of IAM callers (docs/iam), evaluated as IAM evaluates them,
//!   allow a read-only operator exactly the routes that need no admin scope, and an admin all;
//! - with ChannelArns, the event functions may act on those channels only; the ARN parameters
//!   that become policy resources admit no IAM wildcard;
//! - EventBridge: `events:PutEvents` on the lifecycle bus only (observability.rs checks it
//!   for every value of the parameter, with the alarms, the dashboard and the environment);
//! - no IVS wildcard action, `Resource: '*'` only for IVS's account-wide List* actions, IVS
//!   resources as `arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:…` patterns,
//!   Secrets Manager read on the playback key's secret only;
//! - each function's policy grants exactly the IVS actions its code calls: the real code runs
//!   against the IVS emulator (every event fixture with every policy switched on, the
//!   sweeper's every action, every admin route and fixture) and the emulator counts the
//!   operations it received;
//! - every deployment default of the code has a parameter.

use crate::cfn;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use admin_api::router::{route, ROUTES};
use admin_api::token::SignerCell;
use admin_api::{AdminAccess, AdminApi};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use chrono::{TimeDelta, Utc};
use domain::events::DetailType;
use domain::policy::{env, tags};
use domain::sweep::{env as sweep_env, tags as sweep_tags, SweepSettings};
use ivs_adapter::{Automation, RECORDING_EVENTS, STREAM_EVENTS};
use ivs_emulator::Emulator;
use serde_json::{json, Value};
use sweeper::Sweeper;
use test_support::*;

use crate::cfn::{get_att, of_type, one_or_many, reference, Stack};

const STREAM_EVENTS_FN: &str = "StreamEventsFunction";
const RECORDING_EVENTS_FN: &str = "RecordingEventsFunction";
const SWEEPER_FN: &str = "SweeperFunction";
const ADMIN_FN: &str = "AdminApiFunction";

/// IVS's List* operations over a whole account: they take no resource ARN, so IAM needs
/// `Resource: '*'` for them. Every other IVS action names its resources.
const ACCOUNT_WIDE_LISTS: &[&str] = &[
    "ListChannels",
    "ListStreams",
    "ListPlaybackKeyPairs",
    "ListRecordingConfigurations",
];

/// Creating a resource with tags needs `ivs:TagResource` beside the create action (IVS's
/// service authorization reference).
const CREATES_WITH_TAGS: &[&str] = &[
    "CreateStreamKey",
    "CreateChannel",
    "CreateRecordingConfiguration",
    "ImportPlaybackKeyPair",
];

/// The IVS resource types whose ARN patterns the policies may name.
const IVS_RESOURCE_TYPES: &[&str] = &[
    "channel",
    "stream-key",
    "playback-key",
    "recording-configuration",
    "playback-restriction-policy",
];

fn functions(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(n, r)| (n.clone(), r.clone()))
        .collect()
}

#[test]
fn the_template_has_the_four_functions_as_rust_arm64_functions() {
    let template = cfn::template();
    assert_eq!(template["Transform"], "AWS::Serverless-2016-10-31");
    let stack = Stack::new(&template, &[]);
    let functions = functions(&template);
    assert_eq!(
        functions.keys().map(String::as_str).collect::<Vec<_>>(),
        [ADMIN_FN, RECORDING_EVENTS_FN, STREAM_EVENTS_FN, SWEEPER_FN]
    );
    let resources = stack.resources();
    for (name, function) in &functions {
        // Built by cargo-lambda from a binary of this workspace.
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no Binary"));
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(binary)
            .join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("{name}: {}: {e}", manifest.display()));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{name}: functions/{binary} does not build a binary {binary}"
        );
        let property = |p: &str| stack.function_property(name, p);
        assert_eq!(
            property("Runtime"),
            Some(json!("provided.al2023")),
            "{name}"
        );
        assert_eq!(property("Architectures"), Some(json!(["arm64"])), "{name}");
        assert_eq!(property("Handler"), Some(json!("bootstrap")), "{name}");
        assert!(
            property("MemorySize").is_some_and(|m| m.as_u64().is_some_and(|m| m >= 128)),
            "{name}: memory"
        );
        let timeout = property("Timeout").and_then(|t| t.as_u64()).unwrap_or(0);
        assert!((1..=900).contains(&timeout), "{name}: timeout {timeout}");
        let logging = property("LoggingConfig").unwrap_or_default();
        assert_eq!(logging["LogFormat"], "JSON", "{name}: JSON logs");
        assert_eq!(
            logging["ApplicationLogLevel"], "INFO",
            "{name}: LogLevel default"
        );
        assert!(logging["SystemLogLevel"].is_string(), "{name}");
        assert_eq!(
            template["Globals"]["Function"]["Tracing"],
            json!({"Ref": "Tracing"}),
            "tracing is a parameter"
        );
        assert_eq!(property("Tracing"), Some(json!("Active")), "{name}");
        // Its log group: the one Lambda writes to, with a retention.
        let group = resources
            .values()
            .find(|r| {
                r["Type"] == "AWS::Logs::LogGroup"
                    && r["Properties"]["LogGroupName"] == format!("/aws/lambda/${{{name}}}")
            })
            .unwrap_or_else(|| panic!("{name}: no log group /aws/lambda/${{{name}}}"));
        assert_eq!(group["Properties"]["RetentionInDays"], "30", "{name}");
    }
    // The admin API answers before its integration's 30 s timeout.
    let admin_timeout = stack.function_property(ADMIN_FN, "Timeout").unwrap();
    assert!(admin_timeout.as_u64().unwrap() < 30);
}

/// The SQS queue a `{"Fn::GetAtt": [queue, "Arn"]}` names, checked to be a queue of the stack.
fn queue_of<'r>(resources: &'r BTreeMap<String, Value>, arn: &'r Value, what: &str) -> &'r str {
    let (queue, attribute) =
        get_att(arn).unwrap_or_else(|| panic!("{what}: {arn} is not a GetAtt"));
    assert_eq!(attribute, "Arn", "{what}");
    assert_eq!(
        resources.get(queue).map(|q| &q["Type"]),
        Some(&json!("AWS::SQS::Queue")),
        "{what}: {queue} is not an SQS queue of the stack"
    );
    queue
}

/// Each event function, its queue and the rule that sends to the queue.
const EVENT_PATHS: &[(&str, &str, &str)] = &[
    (
        RECORDING_EVENTS_FN,
        "RecordingEventsQueue",
        "RecordingEventsRule",
    ),
    (STREAM_EVENTS_FN, "StreamEventsQueue", "StreamEventsRule"),
];

/// Where the event functions send what they can never apply, and where the queues redrive.
const FAILED_EVENTS_QUEUE: &str = "FailedEventsQueue";

/// The event source mappings (`AWS::Lambda::EventSourceMapping` resources) that invoke
/// `function` (their FunctionName its `Ref` or its ARN).
fn mappings_of<'r>(
    resources: &'r BTreeMap<String, Value>,
    function: &str,
) -> Vec<(&'r str, &'r Value)> {
    of_type(resources, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .filter(|(_, m)| {
            let target = &m["Properties"]["FunctionName"];
            reference(target) == Some(function) || get_att(target) == Some((function, "Arn"))
        })
        .collect()
}

/// The one event source mapping of event function `function`, and its properties.
fn mapping_of<'r>(resources: &'r BTreeMap<String, Value>, function: &str) -> (&'r str, &'r Value) {
    let mappings = mappings_of(resources, function);
    assert_eq!(mappings.len(), 1, "{function}: one event source mapping");
    let (name, mapping) = mappings[0];
    (name, &mapping["Properties"])
}

/// SAM's poll-based event types: each makes SAM attach an AWS managed execution policy to the
/// function's role (for SQS, AWSLambdaSQSQueueExecutionRole: sqs:ReceiveMessage, DeleteMessage
/// and GetQueueAttributes on every queue of the account; aws/serverless-application-model#2118),
/// with no switch to turn it off.
const SAM_POLL_EVENT_TYPES: &[&str] = &[
    "SQS",
    "Kinesis",
    "DynamoDB",
    "MSK",
    "MQ",
    "SelfManagedKafka",
    "DocumentDB",
];

/// The statements of the queue policies that apply to `queue`.
fn queue_policy_statements(resources: &BTreeMap<String, Value>, queue: &str) -> Vec<Value> {
    of_type(resources, "AWS::SQS::QueuePolicy")
        .into_iter()
        .filter(|(_, qp)| {
            one_or_many(&qp["Properties"]["Queues"])
                .iter()
                .any(|q| reference(q) == Some(queue))
        })
        .flat_map(|(_, qp)| one_or_many(&qp["Properties"]["PolicyDocument"]["Statement"]))
        .collect()
}

/// Whether `queue`'s policy lets EventBridge rule `rule` send to it.
fn lets_rule_in(resources: &BTreeMap<String, Value>, queue: &str, rule: &str) -> bool {
    queue_policy_statements(resources, queue).iter().any(|s| {
        s["Effect"] == "Allow"
            && s["Principal"]["Service"] == "events.amazonaws.com"
            && one_or_many(&s["Action"]).contains(&json!("sqs:SendMessage"))
            && one_or_many(&s["Condition"]["ArnEquals"]["aws:SourceArn"])
                .iter()
                .any(|arn| get_att(arn) == Some((rule, "Arn")))
    })
}

/// Checks an EventBridge retry policy and dead-letter queue (which must let `rule` in).
fn check_rule_target(
    resources: &BTreeMap<String, Value>,
    target: &Value,
    rule: &str,
    what: &str,
) -> String {
    let retry = &target["RetryPolicy"];
    assert!(
        retry["MaximumRetryAttempts"].as_u64().is_some(),
        "{what}: retries"
    );
    assert!(
        retry["MaximumEventAgeInSeconds"].as_u64().is_some(),
        "{what}: age"
    );
    let dlq = queue_of(resources, &target["DeadLetterConfig"]["Arn"], what);
    assert!(
        lets_rule_in(resources, dlq, rule),
        "{what}: {dlq}'s policy does not let rule {rule} in"
    );
    dlq.to_owned()
}

#[test]
fn every_event_has_a_dead_letter_path() {
    let template = cfn::template();
    let stack = Stack::new(&template, &[]);
    let resources = stack.resources();
    let mut event_functions = Vec::new();
    for (name, function) in &resources {
        if function["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let events = function["Properties"]["Events"].as_object();
        let events = events.filter(|e| !e.is_empty());
        if let Some((_, queue, rule)) = EVENT_PATHS.iter().find(|(f, _, _)| f == name) {
            event_functions.push(name.as_str());
            // Its one event source: its queue, through an event source mapping of its own,
            // not a SAM event (SAM's SQS event brings a managed policy on every queue:
            // the_event_functions_read_their_queues_without_sams_managed_policy).
            assert!(events.is_none(), "{name}: SAM events {events:?}");
            let (mapping, properties) = mapping_of(&resources, name);
            assert_eq!(
                queue_of(&resources, &properties["EventSourceArn"], mapping),
                *queue,
                "{mapping}"
            );
            assert_eq!(properties["Enabled"], true, "{mapping}");
            // Not invoked asynchronously: no async retries nor destinations to configure.
            assert!(
                function["Properties"].get("EventInvokeConfig").is_none(),
                "{name}: EventInvokeConfig on a function read from a queue"
            );
            // Its rule sends to its queue only, retried by EventBridge, then dead-lettered.
            let rule_resource = &resources[*rule];
            assert_eq!(rule_resource["Type"], "AWS::Events::Rule", "{rule}");
            let targets = one_or_many(&rule_resource["Properties"]["Targets"]);
            assert_eq!(targets.len(), 1, "{rule}: one target");
            assert_eq!(
                queue_of(&resources, &targets[0]["Arn"], rule),
                *queue,
                "{rule} sends to {queue}"
            );
            let dlq = check_rule_target(&resources, &targets[0], rule, rule);
            assert_eq!(dlq, "EventDeliveryDeadLetterQueue", "{rule}");
            // The queue lets its rule in; what keeps failing is redriven to FailedEventsQueue.
            assert!(
                lets_rule_in(&resources, queue, rule),
                "{queue}'s policy does not let {rule} in"
            );
            let redrive = &resources[*queue]["Properties"]["RedrivePolicy"];
            assert_eq!(
                queue_of(&resources, &redrive["deadLetterTargetArn"], queue),
                FAILED_EVENTS_QUEUE,
                "{queue}"
            );
            assert_eq!(
                template["Resources"][*queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"],
                json!({"Ref": "EventMaxReceiveCount"}),
                "{queue}"
            );
            continue;
        }
        let Some(events) = events else {
            assert_eq!(name, ADMIN_FN, "only the admin function has no events");
            continue;
        };
        event_functions.push(name.as_str());
        // No event source mapping invokes it.
        assert!(mappings_of(&resources, name).is_empty(), "{name}");
        // The sweeper: its schedule rule, then its own async failures.
        for (event_name, event) in events {
            let what = format!("{name}.{event_name}");
            assert_eq!(event["Type"], "Schedule", "{what}: an EventBridge schedule");
            // The rule SAM generates is <Function><Event>: the queue's policy names it.
            check_rule_target(
                &resources,
                &event["Properties"],
                &format!("{name}{event_name}"),
                &what,
            );
        }
        // Its async failures: two retries, then an SQS on-failure destination.
        let invoke = &function["Properties"]["EventInvokeConfig"];
        assert_eq!(invoke["MaximumRetryAttempts"], 2, "{name}");
        let on_failure = &invoke["DestinationConfig"]["OnFailure"];
        assert_eq!(on_failure["Type"], "SQS", "{name}");
        assert_eq!(
            queue_of(&resources, &on_failure["Destination"], name),
            FAILED_EVENTS_QUEUE,
            "{name}"
        );
    }
    assert_eq!(
        event_functions,
        [RECORDING_EVENTS_FN, STREAM_EVENTS_FN, SWEEPER_FN]
    );
    // The stack's event source mappings: one per event function, no other.
    assert_eq!(
        of_type(&resources, "AWS::Lambda::EventSourceMapping").len(),
        EVENT_PATHS.len(),
        "one event source mapping per event function"
    );
    // The queues keep messages as long as SQS allows, encrypted, and only over TLS.
    let queues = of_type(&resources, "AWS::SQS::Queue");
    assert_eq!(
        queues.len(),
        4,
        "two dead-letter queues and two event queues"
    );
    for (name, queue) in queues {
        assert_eq!(
            queue["Properties"]["MessageRetentionPeriod"], 1_209_600,
            "{name}"
        );
        assert_eq!(queue["Properties"]["SqsManagedSseEnabled"], true, "{name}");
        let tls_only = queue_policy_statements(&resources, name).iter().any(|s| {
            s["Effect"] == "Deny"
                && s["Principal"] == "*"
                && s["Action"] == "sqs:*"
                && get_att(&s["Resource"]) == Some((name, "Arn"))
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        });
        assert!(tls_only, "{name}: no TlsOnly deny");
    }
    // The queues are outputs (their URLs; the event queues' and FailedEventsQueue's ARNs too).
    let outputs = template["Outputs"].as_object().unwrap();
    let output = |pred: &dyn Fn(&Value) -> bool| outputs.values().any(|o| pred(&o["Value"]));
    for queue in [
        "EventDeliveryDeadLetterQueue",
        FAILED_EVENTS_QUEUE,
        "StreamEventsQueue",
        "RecordingEventsQueue",
    ] {
        assert!(
            output(&|v| reference(v) == Some(queue)),
            "no output of {queue}'s URL"
        );
        if queue != "EventDeliveryDeadLetterQueue" {
            assert!(
                output(&|v| get_att(v) == Some((queue, "Arn"))),
                "no output of {queue}'s ARN"
            );
        }
    }
}

#[test]
fn each_event_queue_feeds_its_function_as_lambda_advises() {
    let template = cfn::template();
    let parameters = &template["Parameters"];
    // The parameters' bounds: Lambda's (MaximumConcurrency 2 to 1000, BatchSize up to 10000
    // with a batching window), and a redrive that leaves the function's back-off its time.
    for (parameter, min, max, default) in [
        ("EventConcurrency", 2, 1000, 2),
        ("EventBatchSize", 1, 100, 10),
        ("EventMaxReceiveCount", 5, 1000, 20),
    ] {
        let p = &parameters[parameter];
        assert_eq!(p["Type"], "Number", "{parameter}");
        assert_eq!(p["MinValue"], min, "{parameter}");
        assert_eq!(p["MaxValue"], max, "{parameter}");
        assert_eq!(p["Default"], default, "{parameter}");
    }
    // Whatever the parameters, not only their defaults.
    for overrides in [
        vec![],
        vec![
            ("EventConcurrency", "7"),
            ("EventBatchSize", "100"),
            ("EventMaxReceiveCount", "9"),
        ],
    ] {
        let stack = Stack::new(&template, &overrides);
        let resources = stack.resources();
        let value = |p: &str| stack.parameters[p].clone();
        for (function, queue, rule) in EVENT_PATHS {
            let (mapping_name, mapping) = mapping_of(&resources, function);
            let what = format!("{mapping_name} of {function} {overrides:?}");
            assert_eq!(
                get_att(&mapping["EventSourceArn"]),
                Some((*queue, "Arn")),
                "{what}"
            );
            assert_eq!(mapping["Enabled"], true, "{what}");
            // Partial batch failures: only the failed records come back.
            assert_eq!(
                mapping["FunctionResponseTypes"],
                json!(["ReportBatchItemFailures"]),
                "{what}"
            );
            assert_eq!(
                mapping["ScalingConfig"]["MaximumConcurrency"],
                value("EventConcurrency"),
                "{what}"
            );
            assert_eq!(mapping["BatchSize"], value("EventBatchSize"), "{what}");
            // Lambda needs a batching window of at least 1 s for batches above 10.
            assert!(
                mapping["MaximumBatchingWindowInSeconds"]
                    .as_u64()
                    .is_some_and(|w| w >= 1),
                "{what}"
            );
            // The function's rate budget is divided by the mapping's concurrency.
            let variables = &resources[*function]["Properties"]["Environment"]["Variables"];
            assert_eq!(
                variables[domain::rate::IVS_RATE_CONCURRENCY],
                value("EventConcurrency"),
                "{what}"
            );
            // Dead letters go to FailedEventsQueue, by its URL (a queue's Ref).
            assert_eq!(
                variables[ivs_adapter::queue::EVENT_DEAD_LETTER_QUEUE_URL],
                json!({"Ref": FAILED_EVENTS_QUEUE}),
                "{what}"
            );
            let properties = &resources[*queue]["Properties"];
            assert_eq!(
                properties["RedrivePolicy"]["maxReceiveCount"],
                value("EventMaxReceiveCount"),
                "{what}"
            );
            // Lambda's guidance: a visibility timeout of at least 6 times the function's
            // timeout, so that the mapping's retries of a throttled batch fit in.
            let timeout = stack
                .function_property(function, "Timeout")
                .and_then(|t| t.as_u64())
                .unwrap();
            let visibility = properties["VisibilityTimeout"].as_u64().unwrap_or(0);
            assert!(
                visibility >= 6 * timeout,
                "{queue}: visibility timeout {visibility} s < 6 x {function}'s {timeout} s"
            );
            // Only its rule sends to the queue: no other Allow, no other principal.
            let allows: Vec<Value> = queue_policy_statements(&resources, queue)
                .into_iter()
                .filter(|s| s["Effect"] == "Allow")
                .collect();
            assert_eq!(allows.len(), 1, "{queue}: {allows:?}");
            let allow = &allows[0];
            assert_eq!(
                allow["Principal"],
                json!({"Service": "events.amazonaws.com"}),
                "{queue}"
            );
            assert_eq!(allow["Action"], "sqs:SendMessage", "{queue}");
            assert_eq!(
                get_att(&allow["Resource"]),
                Some((*queue, "Arn")),
                "{queue}"
            );
            assert_eq!(
                one_or_many(&allow["Condition"]["ArnEquals"]["aws:SourceArn"]),
                [json!({"Fn::GetAtt": [rule, "Arn"]})],
                "{queue}"
            );
            assert_eq!(
                allow["Condition"].as_object().map(|c| c.len()),
                Some(1),
                "{queue}"
            );
            // The rule listens on the default bus (where IVS sends its events).
            let bus = &resources[*rule]["Properties"]["EventBusName"];
            assert!(bus.is_null() || *bus == "default", "{rule}: {bus}");
        }
    }
}

#[test]
fn the_event_functions_sqs_permissions_are_scoped_to_their_queues() {
    let template = cfn::template();
    for (name, function) in functions(&template) {
        let sqs: Vec<(String, Value)> = statements(&function, &name)
            .into_iter()
            .flat_map(|s| {
                one_or_many(&s["Action"])
                    .into_iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .filter(|a| a.starts_with("sqs:"))
                    .map(|a| (a, s["Resource"].clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        if name == ADMIN_FN {
            // The admin API keeps the lifecycle events EventBridge did not take on the
            // stream-events queue (an outbox record): SendMessage there, nothing else.
            assert_eq!(
                sqs,
                [(
                    "sqs:SendMessage".to_owned(),
                    json!({"Fn::GetAtt": ["StreamEventsQueue", "Arn"]})
                )],
                "{name}"
            );
            continue;
        }
        let Some((_, queue, _)) = EVENT_PATHS.iter().find(|(f, _, _)| *f == name) else {
            // The sweeper's on-failure destination is granted by SAM, from EventInvokeConfig.
            assert!(sqs.is_empty(), "{name}: {sqs:?}");
            continue;
        };
        let mut sqs = sqs;
        sqs.sort_by(|a, b| a.0.cmp(&b.0));
        let own_queue = json!({"Fn::GetAtt": [queue, "Arn"]});
        assert_eq!(
            sqs,
            [
                // Returning a record later: its own queue only.
                ("sqs:ChangeMessageVisibility".to_owned(), own_queue.clone()),
                // What its event source mapping needs to read the queue: its own queue only.
                ("sqs:DeleteMessage".to_owned(), own_queue.clone()),
                ("sqs:GetQueueAttributes".to_owned(), own_queue.clone()),
                ("sqs:ReceiveMessage".to_owned(), own_queue.clone()),
                // Dead-lettering at once: FailedEventsQueue only.
                (
                    "sqs:SendMessage".to_owned(),
                    json!({"Fn::GetAtt": [FAILED_EVENTS_QUEUE, "Arn"]})
                ),
                // Lifecycle events EventBridge did not take, kept as an outbox record: its own
                // queue only (and only when it publishes: below).
                ("sqs:SendMessage".to_owned(), own_queue.clone()),
            ],
            "{name}"
        );
        // Without a lifecycle bus there is no outbox: SendMessage on FailedEventsQueue only.
        for (bus, outbox) in [("default", true), ("", false)] {
            let stack = Stack::new(&template, &[("LifecycleEventBusName", bus)]);
            let sends: Vec<Value> =
                one_or_many(&stack.resources()[&name]["Properties"]["Policies"])
                    .iter()
                    .flat_map(|p| one_or_many(&p["Statement"]))
                    .filter(|s| one_or_many(&s["Action"]).contains(&json!("sqs:SendMessage")))
                    .map(|s| s["Resource"].clone())
                    .collect();
            let mut expected = vec![json!({"Fn::GetAtt": [FAILED_EVENTS_QUEUE, "Arn"]})];
            if outbox {
                expected.push(own_queue.clone());
            }
            assert_eq!(sends, expected, "{name}: LifecycleEventBusName={bus:?}");
        }
    }
}

#[test]
fn the_event_functions_read_their_queues_without_sams_managed_policy() {
    let template = cfn::template();
    let resources = template["Resources"].as_object().unwrap();
    for (name, function) in functions(&template) {
        // No SAM poll-based event on any function: SAM would attach its managed execution
        // policy (for SQS, every queue of the account) beside the function's own policy.
        for (event_name, event) in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert!(
                !SAM_POLL_EVENT_TYPES.contains(&event["Type"].as_str().unwrap_or_default()),
                "{name}.{event_name}: a SAM {} event attaches a managed policy",
                event["Type"]
            );
        }
        // Nor any managed policy or role from elsewhere (statements() also refuses managed
        // policy names and SAM policy templates in Policies).
        for property in ["Role", "ManagedPolicyArns", "PermissionsBoundary"] {
            assert!(
                function["Properties"].get(property).is_none(),
                "{name}: {property}"
            );
        }
    }
    let resources: BTreeMap<String, Value> = resources
        .iter()
        .map(|(n, r)| (n.clone(), r.clone()))
        .collect();
    for (function, queue, _) in EVENT_PATHS {
        let mappings = mappings_of(&resources, function);
        assert_eq!(mappings.len(), 1, "{function}: one event source mapping");
        let (mapping, resource) = mappings[0];
        // The logical ID SAM gave the mapping of the SQS event this replaces
        // (<Function><Event>): a stack deployed with that event updates its mapping in place,
        // where a new one would be refused by Lambda (one mapping per queue and function).
        assert_eq!(mapping, format!("{function}Queue"), "{function}");
        assert_eq!(
            get_att(&resource["Properties"]["EventSourceArn"]),
            Some((*queue, "Arn")),
            "{mapping}"
        );
        // CloudFormation checks the role's permissions on the queue when it creates the
        // mapping: the mapping waits for the role SAM generates (<Function>Role), whose
        // inline policy grants them.
        let role = format!("{function}Role");
        assert!(
            one_or_many(&resource["DependsOn"]).contains(&json!(role)),
            "{mapping}: DependsOn {role} missing ({})",
            resource["DependsOn"]
        );
        // The receive, delete and attribute reads the mapping makes: granted on its queue.
        let granted: BTreeSet<String> = statements(&resources[*function], function)
            .iter()
            .filter(|s| s["Effect"] == "Allow" && get_att(&s["Resource"]) == Some((*queue, "Arn")))
            .flat_map(|s| one_or_many(&s["Action"]))
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        for action in [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ] {
            assert!(
                granted.contains(action),
                "{function}: {action} on {queue} not granted (its mapping needs it)"
            );
        }
    }
}

/// The parameters that give a function its share of IVS's rate quotas.
const RATE_SHARES: &[(&str, &str)] = &[
    (STREAM_EVENTS_FN, "StreamEventsRateShare"),
    (RECORDING_EVENTS_FN, "RecordingEventsRateShare"),
    (SWEEPER_FN, "SweeperRateShare"),
    (ADMIN_FN, "AdminRateShare"),
];

#[test]
fn the_default_rate_shares_leave_a_fifth_of_every_quota_to_the_platform() {
    let template = cfn::template();
    let parameters = &template["Parameters"];
    let number = |v: &Value| -> f64 {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| panic!("{v} is not a number"))
    };
    let mut sum = 0.0;
    for (function, parameter) in RATE_SHARES {
        // Every function draws on IVS's quotas through its share parameter: none escapes the sum.
        let variables = &template["Resources"][*function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            variables[domain::rate::IVS_RATE_SHARE],
            json!({"Ref": parameter}),
            "{function}"
        );
        let p = &parameters[*parameter];
        assert_eq!(p["Type"], "Number", "{parameter}");
        assert!(number(&p["MinValue"]) > 0.0, "{parameter}");
        assert!(number(&p["MaxValue"]) <= 1.0, "{parameter}");
        sum += number(&p["Default"]);
    }
    assert_eq!(functions(&template).len(), RATE_SHARES.len());
    assert!(sum <= 0.8 + 1e-9, "the default shares sum to {sum}");
    // Each share is divided among the containers that may run at once: the event functions'
    // mapping concurrency, the admin API's reserved concurrency, one sweeper.
    for function in [STREAM_EVENTS_FN, RECORDING_EVENTS_FN] {
        let variables = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            variables[domain::rate::IVS_RATE_CONCURRENCY],
            json!({"Ref": "EventConcurrency"}),
            "{function}"
        );
    }
    let admin = &template["Resources"][ADMIN_FN]["Properties"];
    assert_eq!(
        admin["Environment"]["Variables"][domain::rate::IVS_RATE_CONCURRENCY],
        json!({"Ref": "AdminConcurrency"})
    );
    assert_eq!(
        admin["ReservedConcurrentExecutions"],
        json!({"Ref": "AdminConcurrency"})
    );
    let sweeper = &template["Resources"][SWEEPER_FN]["Properties"];
    assert_eq!(sweeper["ReservedConcurrentExecutions"], json!(1));
    assert!(sweeper["Environment"]["Variables"]
        .get(domain::rate::IVS_RATE_CONCURRENCY)
        .is_none());
}

/// How well a route's path matches a request path, by API Gateway's priorities for HTTP APIs
/// (greater is better): a path with path variables (`{name}`, exactly one segment each; the
/// all-literal, exact path the best of them) over a greedy `{proxy+}` (one or more
/// segments), the greedy path with the longest matching prefix first; between two paths of
/// the same kind, the first segment where one has a literal and the other a variable decides
/// (`/channels/batch-get` over `/channels/{channelId}`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PathMatch {
    /// A `…/{proxy+}` route: the number of segments before `{proxy+}`, then which of them are
    /// literals.
    Greedy { prefix: usize, literals: Vec<bool> },
    /// A route without a greedy variable: which of its segments are literals.
    Variables(Vec<bool>),
}

fn segments(path: &str) -> Vec<&str> {
    let path = path
        .strip_prefix('/')
        .unwrap_or_else(|| panic!("{path}: no leading /"));
    if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    }
}

/// How the route path `template` matches the request path `path` (already decoded, as an HTTP
/// API routes it), if it does.
fn path_match(template: &str, path: &str) -> Option<PathMatch> {
    let (template, request) = (segments(template), segments(path));
    let variable = |t: &str| t.starts_with('{') && t.ends_with('}');
    let (prefix, greedy) = match template.split_last() {
        Some((last, prefix)) if variable(last) && last.ends_with("+}") => (prefix, true),
        _ => (&template[..], false),
    };
    let fits = if greedy {
        request.len() > prefix.len()
    } else {
        request.len() == prefix.len()
    };
    if !fits {
        return None;
    }
    let mut literals = Vec::with_capacity(prefix.len());
    for (t, s) in prefix.iter().zip(&request) {
        assert!(
            !t.ends_with("+}"),
            "{t}: a greedy variable must end the path"
        );
        if variable(t) {
            if s.is_empty() {
                return None;
            }
            literals.push(false);
        } else if t == s {
            literals.push(true);
        } else {
            return None;
        }
    }
    Some(if greedy {
        PathMatch::Greedy {
            prefix: prefix.len(),
            literals,
        }
    } else {
        PathMatch::Variables(literals)
    })
}

/// The route an HTTP API picks for a request (its decoded path), as API Gateway documents it
/// (Developer Guide, "Routing API requests" for HTTP APIs): the exact route key first, then
/// the best path match ([`PathMatch`]); for equally good paths, the route of the request's
/// method over an `ANY` route (which takes the methods not defined for the resource). No
/// match: the `$default` route, else none (API Gateway answers 404 itself). Two routes equally
/// good for one request would be a template error.
fn gateway_route<'r>(routes: &'r [(String, Value)], method: &str, path: &str) -> Option<&'r Value> {
    let mut best: Option<((PathMatch, bool), &'r str, &'r Value)> = None;
    for (key, route) in routes {
        if key == "$default" {
            continue;
        }
        let (route_method, route_path) = key
            .split_once(' ')
            .unwrap_or_else(|| panic!("{key}: not METHOD /path"));
        if route_method != method && route_method != "ANY" {
            continue;
        }
        let Some(matched) = path_match(route_path, path) else {
            continue;
        };
        let rank = (matched, route_method == method);
        match &best {
            Some((b, other, _)) if *b == rank => {
                panic!("{method} {path}: {key} and {other} match equally")
            }
            Some((b, _, _)) if *b > rank => {}
            _ => best = Some((rank, key, route)),
        }
    }
    best.map(|(_, _, route)| route).or_else(|| {
        routes
            .iter()
            .find(|(key, _)| key == "$default")
            .map(|(_, route)| route)
    })
}

#[test]
fn the_gateway_model_routes_as_api_gateway_documents() {
    // The Developer Guide's example, a greedy route beside ours, and `ANY`.
    let keys = [
        "GET /pets/dog/1",
        "GET /pets/dog/{id}",
        "GET /pets/{proxy+}",
        "ANY /{proxy+}",
        "GET /{proxy+}",
        "POST /pets/{id}",
        "ANY /pets/{id}",
        "GET /channels/batch-get",
        "GET /channels/{channelId}",
    ];
    let routes: Vec<(String, Value)> = keys.iter().map(|k| (k.to_string(), json!(k))).collect();
    let chosen = |method, path| gateway_route(&routes, method, path).map(|r| r.as_str().unwrap());
    assert_eq!(chosen("GET", "/pets/dog/1"), Some("GET /pets/dog/1"));
    assert_eq!(chosen("GET", "/pets/dog/2"), Some("GET /pets/dog/{id}"));
    assert_eq!(chosen("GET", "/pets/cat/1"), Some("GET /pets/{proxy+}"));
    assert_eq!(
        chosen("GET", "/pets/dog/1/toys"),
        Some("GET /pets/{proxy+}")
    );
    assert_eq!(chosen("GET", "/pets"), Some("GET /{proxy+}"));
    assert_eq!(chosen("PUT", "/pets/dog/1"), Some("ANY /{proxy+}"));
    assert_eq!(chosen("POST", "/pets/7"), Some("POST /pets/{id}"));
    assert_eq!(chosen("PUT", "/pets/7"), Some("ANY /pets/{id}"));
    assert_eq!(
        chosen("GET", "/channels/batch-get"),
        Some("GET /channels/batch-get")
    );
    assert_eq!(
        chosen(
            "GET",
            "/channels/arn:aws:ivs:us-west-2:111122223333:channel/AbCd"
        ),
        Some("GET /{proxy+}")
    );
    // `{proxy+}` takes one segment at least; without `$default` nothing is left.
    let only_greedy = vec![("GET /pets/{proxy+}".to_owned(), json!("greedy"))];
    assert_eq!(gateway_route(&only_greedy, "GET", "/pets"), None);
    assert_eq!(
        gateway_route(&only_greedy, "GET", "/pets/a/b"),
        Some(&json!("greedy"))
    );
}

/// Stand-ins for a route's path parameters: ids, or decoded ARNs (what an HTTP API routes on:
/// it decodes `%2F` before routing, so an ARN's `/` splits it in two segments).
fn parameter_value(name: &str, as_arn: bool) -> String {
    let arn =
        |kind: &str, id: &str| format!("arn:aws:ivs:{}:{}:{kind}/{id}", cfn::REGION, cfn::ACCOUNT);
    let (kind, id) = match name {
        "channelId" => ("channel", "AbCdEf123456"),
        "streamKeyId" => ("stream-key", "AbCd1234"),
        "keyPairId" => ("playback-key", "KpAbCd1234"),
        "recordingConfigurationId" => ("recording-configuration", "RcAbCd1234"),
        // Always an ARN: a channel's, or a stream key's.
        "resourceArn" if as_arn => return arn("stream-key", "AbCd1234"),
        "resourceArn" => return arn("channel", "AbCdEf123456"),
        // Stream sessions are addressed by id only.
        "streamId" => return "st-1AbCdEf".to_owned(),
        other => panic!("no stand-in for path parameter {other}"),
    };
    if as_arn {
        arn(kind, id)
    } else {
        id.to_owned()
    }
}

/// A router route's path with its parameters filled in, each form a request may take: ids
/// (`/stream-keys/AbCd1234`) and decoded ARNs
/// (`/stream-keys/arn:aws:ivs:us-west-2:111122223333:stream-key/AbCd1234`), each checked to
/// reach that route through the function's router.
fn request_paths(r: &admin_api::Route) -> Vec<(&'static str, String)> {
    let mut forms = Vec::new();
    for (form, as_arn) in [("id", false), ("ARN", true)] {
        let path: Vec<String> = r
            .path
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => parameter_value(name, as_arn),
                    None => s.to_owned(),
                },
            )
            .collect();
        let path = path.join("/");
        let (routed, _) = route(r.method, &path)
            .unwrap_or_else(|e| panic!("{} {path}: the router says {e}", r.method));
        assert_eq!(routed, r, "{} {path}", r.method);
        if !forms.iter().any(|(_, p)| *p == path) {
            forms.push((form, path));
        }
    }
    forms
}

/// The admin API's route keys, in the order of the template.
const GATEWAY_ROUTE_KEYS: &[&str] = &[
    "GET /{proxy+}",
    "GET /stream-keys/{proxy+}",
    "POST /channels/batch-get",
    "POST /stream-keys/batch-get",
    "POST /{proxy+}",
    "PATCH /{proxy+}",
    "DELETE /{proxy+}",
];

#[test]
fn every_admin_route_requires_authorization_and_admin_routes_need_the_scope_under_jwt() {
    let template = cfn::template();
    // The scope the gateway requires by default: the function's own default.
    let admin_scope = template["Parameters"]["AdminScope"]["Default"].clone();
    assert_eq!(admin_scope, "ivs-automation/admin");
    assert_eq!(admin_scope, AdminAccess::default().scope.as_str());
    for auth in ["IAM", "JWT"] {
        let overrides: &[(&str, &str)] = if auth == "JWT" {
            &[
                ("AdminAuth", "JWT"),
                (
                    "JwtIssuer",
                    "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_Example",
                ),
                ("JwtAudience", "example-client"),
            ]
        } else {
            &[]
        };
        let stack = Stack::new(&template, overrides);
        let resources = stack.resources();
        let routes: Vec<(String, Value)> = of_type(&resources, "AWS::ApiGatewayV2::Route")
            .into_iter()
            .map(|(_, r)| {
                (
                    r["Properties"]["RouteKey"].as_str().unwrap().to_owned(),
                    r["Properties"].clone(),
                )
            })
            .collect();
        assert_eq!(routes.len(), GATEWAY_ROUTE_KEYS.len(), "{auth}");
        assert_eq!(
            routes
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<BTreeSet<_>>(),
            GATEWAY_ROUTE_KEYS.iter().copied().collect::<BTreeSet<_>>(),
            "{auth}"
        );
        for (key, route) in &routes {
            assert!(
                !key.starts_with("ANY ") && key != "$default",
                "{key}: a catch-all route"
            );
            let expected = if auth == "JWT" { "JWT" } else { "AWS_IAM" };
            assert_eq!(route["AuthorizationType"], expected, "{auth} {key}");
            if auth == "JWT" {
                assert_eq!(
                    route["AuthorizerId"],
                    json!({"Ref": "AdminJwtAuthorizer"}),
                    "{key}"
                );
            } else {
                assert!(route.get("AuthorizerId").is_none(), "{key}");
                assert!(route.get("AuthorizationScopes").is_none(), "{key}");
            }
        }
        assert_eq!(
            of_type(&resources, "AWS::ApiGatewayV2::Authorizer").len(),
            usize::from(auth == "JWT")
        );
        // Every route of the router, in each form a request may take, as API Gateway would
        // route it: under JWT the routes that change resources or answer with secrets
        // (needs_admin) need the admin scope, and the others do not (readers can read).
        let mut scoped_gateway_routes = BTreeSet::new();
        for r in ROUTES {
            for (form, path) in request_paths(r) {
                let what = format!("{auth}: {} {} ({form} form: {path})", r.method, r.path);
                let chosen = gateway_route(&routes, r.method, &path)
                    .unwrap_or_else(|| panic!("{what}: no gateway route"));
                let scopes = chosen
                    .get("AuthorizationScopes")
                    .cloned()
                    .unwrap_or(json!([]));
                if auth == "JWT" && r.needs_admin() {
                    assert_eq!(
                        scopes,
                        json!([admin_scope]),
                        "{what}: its answer carries a secret or it changes something \
                         (write {}, secret {}), yet the gateway route {} lets any token in",
                        r.write,
                        r.secret,
                        chosen["RouteKey"]
                    );
                    scoped_gateway_routes.insert(chosen["RouteKey"].as_str().unwrap().to_owned());
                } else {
                    assert_eq!(scopes, json!([]), "{what} needs no scope");
                }
            }
        }
        if auth == "JWT" {
            // The stream-key reads have routes of their own.
            for key in ["GET /stream-keys/{proxy+}", "POST /stream-keys/batch-get"] {
                assert!(scoped_gateway_routes.contains(key), "{key}");
            }
        }
        // The gateway may invoke the function, from this API only.
        let permission = &resources["AdminInvokePermission"]["Properties"];
        assert_eq!(permission["Principal"], "apigateway.amazonaws.com");
        assert!(permission["SourceArn"]
            .as_str()
            .unwrap()
            .contains("${AdminHttpApi}"));
        // Throttled and logged, with who called (the IAM caller, the JWT subject).
        let stage = &resources["AdminStage"]["Properties"];
        assert!(stage["DefaultRouteSettings"]["ThrottlingRateLimit"].is_string());
        assert!(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"].is_string());
        assert!(get_att(&stage["AccessLogSettings"]["DestinationArn"]).is_some());
        let format: Value =
            serde_json::from_str(stage["AccessLogSettings"]["Format"].as_str().unwrap())
                .expect("the access log format is JSON");
        assert_eq!(format["caller"], "$context.identity.userArn");
        assert_eq!(format["subject"], "$context.authorizer.claims.sub");
    }
    // No Cognito group: the gateway checks scopes only, so access is by the admin scope alone.
    assert!(template["Parameters"].get("AdminGroup").is_none());
}

/// Each function's policy statements, as written (both branches of an `Fn::If`).
fn statements(function: &Value, name: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for policy in one_or_many(&function["Properties"]["Policies"]) {
        // Inline documents only: no managed policy or SAM policy template grants anything
        // these checks do not see.
        let document = policy
            .as_object()
            .filter(|p| p.contains_key("Statement"))
            .unwrap_or_else(|| panic!("{name}: {policy} is not an inline policy document"));
        for statement in one_or_many(&document["Statement"]) {
            match statement.get("Fn::If").and_then(Value::as_array) {
                Some(branches) => out.extend(
                    branches[1..]
                        .iter()
                        .filter(|b| reference(b) != Some("AWS::NoValue"))
                        .cloned(),
                ),
                None => out.push(statement),
            }
        }
    }
    out
}

/// The IVS actions a function's policy grants (without the `ivs:` prefix).
fn granted_ivs_actions(template: &Value, function: &str) -> BTreeSet<String> {
    statements(&template["Resources"][function], function)
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| one_or_many(&s["Action"]))
        .filter_map(|a| {
            a.as_str()
                .and_then(|a| a.strip_prefix("ivs:"))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn no_ivs_wildcards_and_star_only_for_account_wide_lists() {
    let template = cfn::template();
    for (name, function) in functions(&template) {
        for statement in statements(&function, &name) {
            assert_eq!(statement["Effect"], "Allow", "{name}: {statement}");
            assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
            let actions: Vec<String> = one_or_many(&statement["Action"])
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            for action in &actions {
                assert!(
                    !action.contains('*') && !action.contains('?'),
                    "{name}: {action}"
                );
                let (service, _) = action.split_once(':').unwrap();
                assert!(
                    ["ivs", "secretsmanager", "dynamodb", "sqs", "events"].contains(&service),
                    "{name}: {action}"
                );
            }
            let resources = one_or_many(&statement["Resource"]);
            assert!(!resources.is_empty(), "{name}: {statement}");
            if actions[0].starts_with("sqs:") {
                // The stack's own queues, by the event functions only, nothing else of SQS
                // (which queue for which action:
                // the_event_functions_sqs_permissions_are_scoped_to_their_queues).
                assert!(
                    [STREAM_EVENTS_FN, RECORDING_EVENTS_FN, ADMIN_FN].contains(&name.as_str()),
                    "{name}: {statement}"
                );
                assert!(actions.iter().all(|a| a.starts_with("sqs:")));
                for resource in &resources {
                    let (queue, attribute) = get_att(resource)
                        .unwrap_or_else(|| panic!("{name}: {resource} is not a queue's ARN"));
                    assert_eq!(attribute, "Arn", "{name}");
                    assert_eq!(
                        template["Resources"][queue]["Type"], "AWS::SQS::Queue",
                        "{name}: {queue}"
                    );
                }
                continue;
            }
            if actions[0].starts_with("dynamodb:") {
                // The sweeper's state table, by the sweeper only, nothing else of DynamoDB
                // (the actions: each_function_policy_grants_exactly_the_ivs_calls_of_its_code).
                assert_eq!(name, SWEEPER_FN);
                assert!(actions.iter().all(|a| a.starts_with("dynamodb:")));
                assert_eq!(
                    resources,
                    [json!({"Fn::GetAtt": ["SweeperStateTable", "Arn"]})]
                );
                continue;
            }
            if actions[0].starts_with("events:") {
                // Its lifecycle events, on the one bus LifecycleEventBusName names (for every
                // value: observability::each_function_may_put_events_on_the_lifecycle_bus_only).
                assert_eq!(actions, ["events:PutEvents"], "{name}");
                assert_eq!(
                    resources,
                    [
                        json!({"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${LifecycleEventBusName}"})
                    ],
                    "{name}"
                );
                continue;
            }
            if actions[0].starts_with("secretsmanager:") {
                // The playback key's secret, read only, by the admin function only.
                assert_eq!(name, ADMIN_FN);
                assert_eq!(actions, ["secretsmanager:GetSecretValue"]);
                assert_eq!(resources, [json!({"Ref": "PlaybackKeySecretArn"})]);
                continue;
            }
            // A resource chosen by a condition: both branches are checked. Only the event
            // functions' channel statements may name the ChannelArns parameter (its
            // AllowedPattern admits whole channel ARNs only: the parameters test).
            let resources: Vec<Value> = resources
                .iter()
                .flat_map(
                    |resource| match resource.get("Fn::If").and_then(Value::as_array) {
                        Some(branches) => branches[1..].to_vec(),
                        None => vec![resource.clone()],
                    },
                )
                .collect();
            for resource in &resources {
                if reference(resource) == Some("ChannelArns") {
                    assert!(
                        [STREAM_EVENTS_FN, RECORDING_EVENTS_FN].contains(&name.as_str())
                            && statement["Sid"] == "IvsOnChannels",
                        "{name}: {statement}"
                    );
                    continue;
                }
                if resource == "*" {
                    for action in &actions {
                        let op = action.strip_prefix("ivs:").unwrap();
                        assert!(
                            ACCOUNT_WIDE_LISTS.contains(&op),
                            "{name}: {action} on '*' (an ARN pattern works for it)"
                        );
                    }
                    continue;
                }
                let pattern = resource["Fn::Sub"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: resource {resource}"));
                let kind = pattern
                    .strip_prefix("arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:")
                    .and_then(|rest| rest.strip_suffix("/*"))
                    .unwrap_or_else(|| panic!("{name}: {pattern} is not an IVS ARN pattern"));
                assert!(IVS_RESOURCE_TYPES.contains(&kind), "{name}: {pattern}");
            }
        }
    }
    // The secret statement exists only with a secret, and names exactly it.
    let secret =
        "arn:aws:secretsmanager:us-west-2:111122223333:secret:ivs-automation/playback-key-AbCdEf";
    for (value, present) in [("", false), (secret, true)] {
        let stack = Stack::new(&template, &[("PlaybackKeySecretArn", value)]);
        let admin = &stack.resources()[ADMIN_FN];
        let reads: Vec<Value> = one_or_many(&admin["Properties"]["Policies"])
            .iter()
            .flat_map(|p| one_or_many(&p["Statement"]))
            .filter(|s| one_or_many(&s["Action"]).contains(&json!("secretsmanager:GetSecretValue")))
            .collect();
        assert_eq!(reads.len(), usize::from(present), "{value:?}");
        if present {
            assert_eq!(reads[0]["Resource"], secret);
        }
    }
}

/// The statements of a function with this Sid, in the stack.
fn statements_with_sid(stack: &Stack, function: &str, sid: &str) -> Vec<Value> {
    let resources = stack.resources();
    one_or_many(&resources[function]["Properties"]["Policies"])
        .iter()
        .flat_map(|p| one_or_many(&p["Statement"]))
        .filter(|s| s["Sid"] == sid)
        .collect()
}

#[test]
fn with_channel_arns_the_event_functions_may_act_on_those_channels_only() {
    let template = cfn::template();
    let listed = [
        format!(
            "arn:aws:ivs:{}:{}:channel/AbCdEf123456",
            cfn::REGION,
            cfn::ACCOUNT
        ),
        format!(
            "arn:aws:ivs:{}:{}:channel/GhIjKl789012",
            cfn::REGION,
            cfn::ACCOUNT
        ),
    ];
    let every_channel = format!("arn:aws:ivs:{}:{}:channel/*", cfn::REGION, cfn::ACCOUNT);
    let every_key = format!("arn:aws:ivs:{}:{}:stream-key/*", cfn::REGION, cfn::ACCOUNT);
    let joined = listed.join(",");
    for (overrides, channels) in [
        (vec![], vec![every_channel.clone()]),
        (vec![("ChannelArns", joined.as_str())], listed.to_vec()),
    ] {
        let stack = Stack::new(&template, &overrides);
        let what = format!("ChannelArns={:?}", overrides.first().map(|(_, v)| v));
        for function in [STREAM_EVENTS_FN, RECORDING_EVENTS_FN] {
            let on_channels = statements_with_sid(&stack, function, "IvsOnChannels");
            assert_eq!(on_channels.len(), 1, "{function}");
            assert_eq!(
                one_or_many(&on_channels[0]["Resource"]),
                channels.iter().map(|c| json!(c)).collect::<Vec<_>>(),
                "{what}: {function}"
            );
            // No other statement names channels; stream keys cannot be narrowed by channel.
            for statement in statements(&stack.resources()[function], function) {
                if statement["Sid"] == "IvsOnChannels" {
                    continue;
                }
                let resources = stack.resolve(&statement["Resource"]).unwrap();
                for resource in one_or_many(&resources) {
                    // A string, or a GetAtt of the stack's own resources (its queues).
                    let names_channels = match resource.as_str() {
                        Some(arn) => arn.contains(":channel/"),
                        None => get_att(&resource).is_none(),
                    };
                    assert!(!names_channels, "{what}: {function}: {statement}");
                }
            }
        }
        for on_keys in statements_with_sid(&stack, STREAM_EVENTS_FN, "IvsOnStreamKeys") {
            assert_eq!(on_keys["Resource"], every_key, "{what}");
        }
        // The sweeper does not honour ChannelArns: it keeps every channel.
        let sweeper = statements_with_sid(&stack, SWEEPER_FN, "IvsOnChannels");
        assert_eq!(sweeper.len(), 1);
        assert_eq!(sweeper[0]["Resource"], every_channel, "{what}");
    }
}

/// A parameter's AllowedPattern, compiled. CloudFormation matches it against the whole value
/// (each item of a CommaDelimitedList); the patterns are anchored anyway.
fn allowed_pattern(template: &Value, parameter: &str) -> regex_lite::Regex {
    let pattern = template["Parameters"][parameter]["AllowedPattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{parameter}: no AllowedPattern"));
    regex_lite::Regex::new(pattern).unwrap_or_else(|e| panic!("{parameter}: {e}"))
}

#[test]
fn arn_parameters_that_become_policy_resources_admit_no_wildcards() {
    let template = cfn::template();
    let secret = allowed_pattern(&template, "PlaybackKeySecretArn");
    let prefix = format!(
        "arn:aws:secretsmanager:{}:{}:secret:",
        cfn::REGION,
        cfn::ACCOUNT
    );
    for accepted in [
        String::new(),
        // A secret's full ARN ends with the 6-character suffix Secrets Manager adds.
        format!("{prefix}ivs-automation/playback-key-AbCdEf"),
        format!("{prefix}ops_keys+v2=a.b@team-x1Y2z3"),
        format!(
            "arn:aws-us-gov:secretsmanager:us-gov-west-1:{}:secret:k-AbCdEf",
            cfn::ACCOUNT
        ),
    ] {
        assert!(secret.is_match(&accepted), "rejected {accepted:?}");
    }
    for rejected in [
        format!("{prefix}*"),
        format!("{prefix}prod-*"),
        format!("{prefix}a?b"),
        prefix.clone(),
        format!("{prefix}playback key-AbCdEf"),
        format!("arn:aws:secretsmanager:*:{}:secret:k-AbCdEf", cfn::ACCOUNT),
        format!("arn:aws:secretsmanager:{}:*:secret:k-AbCdEf", cfn::REGION),
        format!(
            "arn:aws:ssm:{}:{}:parameter/playback-key",
            cfn::REGION,
            cfn::ACCOUNT
        ),
        "arn:aws:s3:::bucket/secret:k-AbCdEf".to_owned(),
        "*".to_owned(),
    ] {
        assert!(!secret.is_match(&rejected), "accepted {rejected:?}");
    }

    let channel = allowed_pattern(&template, "ChannelArns");
    let channel_prefix = format!("arn:aws:ivs:{}:{}:channel/", cfn::REGION, cfn::ACCOUNT);
    for accepted in [String::new(), format!("{channel_prefix}AbCdEf123456")] {
        assert!(channel.is_match(&accepted), "rejected {accepted:?}");
    }
    for rejected in [
        format!("{channel_prefix}*"),
        format!("{channel_prefix}AbCd?f123456"),
        format!(
            "arn:aws:ivs:{}:{}:stream-key/AbCdEf123456",
            cfn::REGION,
            cfn::ACCOUNT
        ),
        format!("arn:aws:ivs:*:{}:channel/AbCdEf123456", cfn::ACCOUNT),
        format!("{channel_prefix}AbCd Ef123456"),
        "*".to_owned(),
    ] {
        assert!(!channel.is_match(&rejected), "accepted {rejected:?}");
    }
    // The defaults pass their own patterns.
    for (parameter, pattern) in [("PlaybackKeySecretArn", &secret), ("ChannelArns", &channel)] {
        let default = template["Parameters"][parameter]["Default"]
            .as_str()
            .unwrap();
        assert!(
            pattern.is_match(default),
            "{parameter}: default {default:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// docs/iam: identity policies of IAM callers, evaluated as IAM does for execute-api.
// ---------------------------------------------------------------------------------------

/// The API of the example policies (placeholders).
const EXAMPLE_API: &str = "arn:aws:execute-api:us-west-2:111122223333:a1b2c3d4e5/$default";

/// IAM's ARN wildcards: `*` any run of characters (`/` included, none at all too), `?` one.
fn iam_glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // matched[j]: the pattern so far matches value[..j].
    let mut matched = vec![false; v.len() + 1];
    matched[0] = true;
    for &c in &p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            next[j] = match c {
                '*' => matched[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matched[j - 1],
                c => j > 0 && matched[j - 1] && v[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[v.len()]
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

/// How IAM decides `execute-api:Invoke` on `resource` under one identity policy: an explicit
/// Deny wins, else an Allow, else denied.
fn invoke_decision(policy: &Value, resource: &str) -> Decision {
    let mut allowed = false;
    for statement in one_or_many(&policy["Statement"]) {
        for key in ["NotAction", "NotResource", "Principal", "Condition"] {
            assert!(statement.get(key).is_none(), "{key} in {statement}");
        }
        let applies = one_or_many(&statement["Action"])
            .iter()
            .any(|a| iam_glob(&a.as_str().unwrap().to_lowercase(), "execute-api:invoke"))
            && one_or_many(&statement["Resource"])
                .iter()
                .any(|r| iam_glob(r.as_str().unwrap(), resource));
        match (applies, statement["Effect"].as_str()) {
            (false, _) => {}
            (true, Some("Deny")) => return Decision::ExplicitDeny,
            (true, Some("Allow")) => allowed = true,
            (true, other) => panic!("Effect {other:?}"),
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

fn iam_example(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/iam")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let policy: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(policy["Version"], "2012-10-17", "{name}");
    for statement in one_or_many(&policy["Statement"]) {
        assert_eq!(statement["Action"], "execute-api:Invoke", "{name}");
        for resource in one_or_many(&statement["Resource"]) {
            let resource = resource.as_str().unwrap();
            assert!(
                resource.starts_with(&format!("{EXAMPLE_API}/")),
                "{name}: {resource} is not of the example API's stage"
            );
        }
    }
    policy
}

#[test]
fn the_iam_examples_keep_read_only_operators_from_secrets() {
    let (read_only, admin) = (
        iam_example("read-only-operator.json"),
        iam_example("admin.json"),
    );
    assert!(iam_glob("a/*/c", "a/b/x/c") && iam_glob("a?c", "abc") && !iam_glob("a?c", "ac"));
    assert!(iam_glob("GET/*", "GET/") && !iam_glob("GET/*", "POST/x"));
    let mut denied_explicitly = 0;
    for r in ROUTES {
        let mut forms = request_paths(r);
        // ARNs still URL-encoded, should the path IAM sees keep the encoding.
        let encoded: String = r
            .path
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => url_encode(&parameter_value(name, true)),
                    None => s.to_owned(),
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        if !forms.iter().any(|(_, p)| *p == encoded) {
            forms.push(("URL-encoded ARN", encoded));
        }
        for (form, path) in forms {
            let resource = format!("{EXAMPLE_API}/{}{path}", r.method);
            let what = format!("{} {} ({form} form): {resource}", r.method, r.path);
            let decision = invoke_decision(&read_only, &resource);
            if r.needs_admin() {
                assert_ne!(decision, Decision::Allowed, "read-only operator: {what}");
                denied_explicitly += usize::from(decision == Decision::ExplicitDeny);
            } else {
                assert_eq!(decision, Decision::Allowed, "read-only operator: {what}");
            }
            assert_eq!(
                invoke_decision(&admin, &resource),
                Decision::Allowed,
                "admin: {what}"
            );
        }
    }
    // The secret reads are what the Deny is for (GET /stream-keys/… in three forms, the batch
    // get in one).
    assert!(denied_explicitly >= 4, "{denied_explicitly}");
}

#[test]
fn every_deployment_default_of_the_code_has_a_parameter() {
    let template = cfn::template();
    let stack = Stack::new(&template, &[]);
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    let sweeper = &template["Resources"][SWEEPER_FN]["Properties"]["Environment"]["Variables"];
    let admin = &template["Resources"][ADMIN_FN]["Properties"]["Environment"]["Variables"];
    let declared = template["Parameters"].as_object().unwrap();
    let policy = [
        env::START_METADATA,
        env::START_METADATA_TEMPLATE,
        env::ROTATE_KEY_ON,
        env::STOP_ON_LIMIT_BREACH,
        env::MUST_RECORD,
        env::STARVATION_METADATA,
        env::STARVATION_START_METADATA_TEMPLATE,
        env::STARVATION_END_METADATA_TEMPLATE,
        env::POLICY_CACHE_SECONDS,
        // Every function, the admin API's included (Globals are merged into each).
        ivs_adapter::tls::TLS_TRUST_ROOTS,
    ];
    let sweep = [
        sweep_env::MAX_STREAM_MINUTES,
        sweep_env::REVOKE_KEY_ON_MAX_DURATION,
        sweep_env::KEY_ROTATION_DAYS,
        sweep_env::SWEEP_CALLS_PER_SECOND,
        domain::rate::IVS_RATE_SHARE,
    ];
    let admin_vars = [
        admin_api::env::PLAYBACK_KEY_SECRET_ID,
        admin_api::env::PLAYBACK_KEY_REFRESH_SECONDS,
        admin_api::env::ADMIN_SCOPE,
        domain::rate::IVS_RATE_SHARE,
        domain::rate::IVS_RATE_CONCURRENCY,
    ];
    // The Cognito group alternative is gone (the gateway's JWT authorizer checks scopes only).
    assert!(admin.get("ADMIN_GROUP").is_none(), "ADMIN_GROUP is set");
    for (variables, names) in [
        (globals, &policy[..]),
        (sweeper, &sweep[..]),
        (admin, &admin_vars[..]),
    ] {
        for variable in names {
            let parameter = reference(&variables[*variable])
                .unwrap_or_else(|| panic!("{variable} is not set from a parameter"));
            assert!(declared.contains_key(parameter), "{variable}: {parameter}");
        }
    }
    // The defaults deploy the code's own defaults: the settings parse, and equal the code's.
    let environment = |variables: &Value| -> Vec<(String, String)> {
        stack
            .resolve(variables)
            .unwrap()
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    };
    let deployed = environment(globals);
    let lookup = |vars: &[(String, String)], k: &str| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    let from_template = domain::policy::Settings::from_lookup(|k| lookup(&deployed, k)).unwrap();
    assert_eq!(
        from_template,
        settings(&[]),
        "template defaults = code defaults"
    );
    let trust = |k: &str| lookup(&deployed, k);
    assert_eq!(
        ivs_adapter::tls::TrustRoots::from_lookup(trust).unwrap(),
        ivs_adapter::tls::TrustRoots::from_lookup(|_| None).unwrap(),
        "the template's TLS_TRUST_ROOTS default is the code's"
    );
    // The admin API's outbox is the stack's stream-events queue when it publishes (not a
    // parameter).
    let mut admin = admin.clone();
    let outbox = admin
        .as_object_mut()
        .unwrap()
        .remove(admin_api::env::LIFECYCLE_OUTBOX_QUEUE_URL);
    assert_eq!(
        outbox,
        Some(json!({"Fn::If": ["PublishesLifecycleEvents", {"Ref": "StreamEventsQueue"}, ""]}))
    );
    let admin_deployed = environment(&admin);
    assert_eq!(
        admin_api::token::SignerCell::refresh_from_lookup(|k| lookup(&admin_deployed, k)),
        Ok(admin_api::token::DEFAULT_REFRESH),
        "the template's PLAYBACK_KEY_REFRESH_SECONDS default is the code's"
    );
    let admin_rate = domain::rate::RateSettings::from_lookup(
        |k| lookup(&admin_deployed, k),
        domain::rate::ADMIN_RATE_SHARE,
    )
    .unwrap();
    assert_eq!(
        admin_rate.share,
        domain::rate::ADMIN_RATE_SHARE,
        "the template's AdminRateShare default is the code's"
    );
    // The event functions' own variables: their rate budget from parameters, the code's
    // default shares by default; their dead-letter queue is the stack's (not a parameter).
    for (function, default_share) in [
        (STREAM_EVENTS_FN, domain::rate::STREAM_EVENTS_RATE_SHARE),
        (
            RECORDING_EVENTS_FN,
            domain::rate::RECORDING_EVENTS_RATE_SHARE,
        ),
    ] {
        let mut variables =
            template["Resources"][function]["Properties"]["Environment"]["Variables"].clone();
        for variable in [
            domain::rate::IVS_RATE_SHARE,
            domain::rate::IVS_RATE_CONCURRENCY,
        ] {
            let parameter = reference(&variables[variable])
                .unwrap_or_else(|| panic!("{function}: {variable} is not set from a parameter"));
            assert!(
                declared.contains_key(parameter),
                "{function}: {variable}: {parameter}"
            );
        }
        let dead_letters = variables
            .as_object_mut()
            .unwrap()
            .remove(ivs_adapter::queue::EVENT_DEAD_LETTER_QUEUE_URL);
        assert_eq!(dead_letters, Some(json!({"Ref": "FailedEventsQueue"})));
        let deployed = environment(&variables);
        let rate = domain::rate::RateSettings::from_lookup(|k| lookup(&deployed, k), default_share)
            .unwrap();
        assert_eq!(
            rate.share, default_share,
            "{function}: the template's default share is the code's"
        );
        assert_eq!(
            rate.concurrency, 2,
            "{function}: EventConcurrency's default"
        );
    }
    // The state table is the stack's own (not a parameter), with the key the code uses.
    assert_eq!(
        sweeper[sweeper::state::SWEEP_STATE_TABLE],
        json!({"Ref": "SweeperStateTable"})
    );
    let table = &template["Resources"]["SweeperStateTable"];
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["Properties"]["KeySchema"],
        json!([{"AttributeName": sweeper::state::KEY_ATTRIBUTE, "KeyType": "HASH"}])
    );
    assert_eq!(
        table["Properties"]["AttributeDefinitions"],
        json!([{"AttributeName": sweeper::state::KEY_ATTRIBUTE, "AttributeType": "S"}])
    );
    // One run at a time (its lease does the rest).
    assert_eq!(
        template["Resources"][SWEEPER_FN]["Properties"]["ReservedConcurrentExecutions"],
        json!(1)
    );
    let mut sweeper = sweeper.clone();
    sweeper
        .as_object_mut()
        .unwrap()
        .remove(sweeper::state::SWEEP_STATE_TABLE);
    let sweep_deployed = environment(&sweeper);
    assert_eq!(
        domain::rate::RateSettings::from_lookup(
            |k| lookup(&sweep_deployed, k),
            sweeper::SWEEPER_RATE_SHARE
        )
        .unwrap(),
        domain::rate::RateSettings::from_lookup(|_| None, sweeper::SWEEPER_RATE_SHARE).unwrap(),
        "the template's SweeperRateShare default is the code's"
    );
    let sweep_settings = SweepSettings::from_lookup(|k| lookup(&sweep_deployed, k)).unwrap();
    assert_eq!(
        sweep_settings,
        SweepSettings::from_lookup(|_| None).unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// Each function's policy against the IVS operations its code makes.
// ---------------------------------------------------------------------------------------

fn requests(emulator: &Emulator) -> BTreeMap<String, u64> {
    emulator
        .stats()
        .operations
        .into_iter()
        .map(|(op, s)| (op, s.requests))
        .collect()
}

/// The operations the emulator received since `before`.
fn called_since(emulator: &Emulator, before: &BTreeMap<String, u64>) -> BTreeSet<String> {
    requests(emulator)
        .into_iter()
        .filter(|(op, n)| *n > before.get(op).copied().unwrap_or(0))
        .map(|(op, _)| op)
        .collect()
}

/// A channel with tags and (optionally) a live stream; its ARN and its key's value.
async fn channel(
    client: &aws_sdk_ivs::Client,
    emulator: &Emulator,
    name: &str,
    channel_tags: &[(&str, &str)],
    live: bool,
) -> (String, String) {
    let (arn, key) = create_channel(client, name, channel_tags).await;
    if live {
        emulator.connect(&key).unwrap();
    }
    (arn, key)
}

/// Every policy switched on (tags then add suspension and the other rotation moment).
const EVERYTHING_ON: &[(&str, &str)] = &[
    (env::START_METADATA, "true"),
    (env::ROTATE_KEY_ON, "stream-end"),
    (env::STOP_ON_LIMIT_BREACH, "true"),
    (env::MUST_RECORD, "true"),
    (env::STARVATION_METADATA, "true"),
    (env::POLICY_CACHE_SECONDS, "0"),
];

/// The IVS operations an event function makes over every EventBridge fixture, for channels
/// with every policy on, rotation on `Session Ended`, and suspended: live and offline.
async fn ivs_calls_of_event_function(accepts: &'static [DetailType]) -> BTreeSet<String> {
    // An inventory of calls, made back to back: the rate quotas would only refuse some of them.
    let (emulator, server) = start_emulator_unthrottled(31).await;
    let client = ivs_client(&server.url());
    let mut channels = Vec::new();
    for live in [true, false] {
        for (name, channel_tags) in [
            ("everything-on", vec![]),
            (
                "session-ended",
                vec![(tags::ROTATE_KEY_ON, "session-ended")],
            ),
            ("suspended", vec![(tags::SUSPENDED, "true")]),
        ] {
            let name = format!("{name}-{live}");
            channels.push(
                channel(&client, &emulator, &name, &channel_tags, live)
                    .await
                    .0,
            );
        }
    }
    let before = requests(&emulator);
    let automation = Automation::new(
        fast_ivs(ivs_client(&server.url()), 3),
        settings(EVERYTHING_ON),
        accepts,
    );
    let fixtures = eventbridge_fixtures();
    assert!(fixtures.len() >= 25);
    for (_, event) in &fixtures {
        for channel in &channels {
            let mut event = event.clone();
            // Fixtures name the test channel; point them at the emulator's.
            if event["resources"][0] == CHANNEL_ARN {
                event["resources"][0] = json!(channel);
            }
            // Failures (a malformed ARN, an event for another function…) are fine here:
            // only the calls made count.
            let _ = automation.handle_value(event).await;
        }
    }
    // Then as deployed: every fixture again, in one SQS batch per channel (the batch's
    // channel tags are read together).
    for channel in &channels {
        let records: Vec<Value> = fixtures
            .iter()
            .enumerate()
            .map(|(i, (_, event))| {
                let mut event = event.clone();
                if event["resources"][0] == CHANNEL_ARN {
                    event["resources"][0] = json!(channel);
                }
                json!({
                    "messageId": format!("m-{i}"),
                    "receiptHandle": format!("r-{i}"),
                    "body": event.to_string(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": format!(
                        "arn:aws:sqs:{}:{}:events-queue",
                        cfn::REGION,
                        cfn::ACCOUNT
                    ),
                    "awsRegion": cfn::REGION
                })
            })
            .collect();
        automation
            .handle_batch(json!({ "Records": records }), None)
            .await
            .expect("the batch is read");
    }
    called_since(&emulator, &before)
}

/// The IVS operations the sweeper makes: missed rotations, overdue streams stopped with and
/// without revoking the key, idle keys dated then rotated, suspended channels.
async fn ivs_calls_of_sweeper() -> BTreeSet<String> {
    // An inventory of calls, made back to back: the rate quotas would only refuse some of them.
    let (emulator, server) = start_emulator_unthrottled(37).await;
    let client = ivs_client(&server.url());
    let (rotating, key) = channel(
        &client,
        &emulator,
        "rotating",
        &[(tags::ROTATE_KEY_ON, "stream-end")],
        false,
    )
    .await;
    emulator.connect(&key).unwrap();
    emulator.disconnect(&rotating).unwrap();
    channel(
        &client,
        &emulator,
        "overdue",
        &[(sweep_tags::MAX_STREAM_MINUTES, "30")],
        true,
    )
    .await;
    channel(
        &client,
        &emulator,
        "revoked",
        &[(sweep_tags::MAX_STREAM_MINUTES, "10")],
        true,
    )
    .await;
    channel(
        &client,
        &emulator,
        "idle",
        &[(sweep_tags::KEY_ROTATION_DAYS, "1")],
        false,
    )
    .await;
    channel(
        &client,
        &emulator,
        "suspended",
        &[
            (tags::SUSPENDED, "true"),
            (sweep_tags::KEY_ROTATION_DAYS, "1"),
        ],
        true,
    )
    .await;
    let before = requests(&emulator);
    let sweeper = |revoke| {
        Sweeper::new(
            fast_ivs(ivs_client(&server.url()), 3),
            settings(EVERYTHING_ON),
            SweepSettings {
                max_stream: None,
                revoke_on_max_duration: revoke,
                key_rotation: None,
                calls_per_second: 50,
            },
        )
    };
    let now = Utc::now();
    let mut summaries = Vec::new();
    for (revoke, at) in [
        (false, now),
        (true, now + TimeDelta::minutes(20)),
        (false, now + TimeDelta::minutes(31)),
        (false, now + TimeDelta::days(2)),
    ] {
        summaries.push(sweeper(revoke).run(at).await.unwrap());
    }
    // Every kind of action happened.
    assert!(
        summaries.iter().any(|s| s.missed_rotations > 0),
        "{summaries:?}"
    );
    assert!(
        summaries.iter().filter(|s| s.streams_stopped > 0).count() >= 2,
        "{summaries:?}"
    );
    assert!(summaries.iter().any(|s| s.keys_dated > 0), "{summaries:?}");
    assert!(
        summaries.iter().any(|s| s.idle_keys_rotated > 0),
        "{summaries:?}"
    );
    called_since(&emulator, &before)
}

fn last_segment(arn: &str) -> String {
    arn.rsplit('/').next().unwrap().to_owned()
}

/// The admin API driven through every route with real resources (each route must succeed at
/// least once), then every request fixture of `events/admin-api`.
struct AdminDriver {
    api: AdminApi,
    succeeded: BTreeSet<(&'static str, &'static str)>,
}

impl AdminDriver {
    async fn send(&mut self, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let request = http_api_request(method, path_and_query, body.as_deref());
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(p, _)| p);
        let response = self.api.handle(request).await;
        let status = response.status().as_u16();
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
        assert!(status < 300, "{method} {path_and_query}: {status} {body}");
        let (r, _) = route(method, path).unwrap();
        self.succeeded.insert((r.method, r.path));
        body
    }
}

async fn ivs_calls_of_admin_api() -> BTreeSet<String> {
    // An inventory of calls, made back to back: the rate quotas would only refuse some of them.
    let (emulator, server) = start_emulator_unthrottled(41).await;
    let (private_pem, public_pem) = p384_key_pair();
    let secret = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(move || {
        GetSecretValueOutput::builder()
            .secret_string(private_pem.clone())
            .build()
    });
    let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&secret]);
    let before = requests(&emulator);
    let mut a = AdminDriver {
        api: admin_api_over(
            fast_ivs(ivs_client(&server.url()), 3),
            Some(SignerCell::new(secrets, "ivs-automation/playback-key")),
        ),
        succeeded: BTreeSet::new(),
    };

    // Channels and keys.
    let created = a
        .send(
            "POST",
            "/channels",
            Some(json!({"name": "t", "tags": {"team": "live"}})),
        )
        .await;
    let channel = created["channel"]["arn"].as_str().unwrap().to_owned();
    let c = last_segment(&channel);
    let key_arn = created["streamKey"]["arn"].as_str().unwrap().to_owned();
    a.send("GET", &format!("/channels/{c}"), None).await;
    a.send(
        "PATCH",
        &format!("/channels/{c}"),
        Some(json!({"latencyMode": "NORMAL"})),
    )
    .await;
    a.send("GET", "/channels?name=t", None).await;
    a.send("POST", "/channels/batch-get", Some(json!({"ids": [c]})))
        .await;
    a.send("GET", &format!("/channels/{c}/status"), None).await;
    a.send("GET", &format!("/channels/{c}/stream-keys"), None)
        .await;
    a.send(
        "GET",
        &format!("/stream-keys/{}", last_segment(&key_arn)),
        None,
    )
    .await;
    a.send(
        "POST",
        "/stream-keys/batch-get",
        Some(json!({"ids": [key_arn]})),
    )
    .await;
    let rotated = a
        .send("POST", &format!("/channels/{c}/rotate-key"), None)
        .await;
    let key = rotated["streamKey"]["value"].as_str().unwrap().to_owned();

    // A live stream.
    let live = emulator.connect(&key).unwrap();
    a.send("GET", &format!("/channels/{c}/stream"), None).await;
    a.send("GET", "/streams", None).await;
    a.send("GET", &format!("/channels/{c}/status"), None).await;
    a.send("GET", &format!("/channels/{c}/sessions"), None)
        .await;
    a.send("GET", &format!("/channels/{c}/sessions/latest"), None)
        .await;
    a.send(
        "GET",
        &format!("/channels/{c}/sessions/{}", live.stream_id),
        None,
    )
    .await;
    a.send(
        "POST",
        &format!("/channels/{c}/metadata"),
        Some(json!({"metadata": "{\"q\":1}"})),
    )
    .await;
    a.send(
        "POST",
        &format!("/channels/{c}/metadata/batch"),
        Some(json!({"items": [{"n": 1}, {"n": 2}]})),
    )
    .await;
    a.send("POST", &format!("/channels/{c}/stop"), None).await;
    emulator.connect(&key).unwrap();
    a.send("POST", &format!("/channels/{c}/suspend"), None)
        .await;
    a.send("POST", &format!("/channels/{c}/resume"), None).await;

    // Tags.
    let arn = url_encode(&channel);
    a.send(
        "POST",
        &format!("/tags/{arn}"),
        Some(json!({"tags": {"a": "1"}})),
    )
    .await;
    a.send("GET", &format!("/tags/{arn}"), None).await;
    a.send("DELETE", &format!("/tags/{arn}?tagKeys=a"), None)
        .await;

    // Playback keys, tokens and revocations.
    let imported = a
        .send("POST", "/playback-key-pairs", Some(json!({"name": "viewers", "publicKeyMaterial": public_pem, "tags": {"team": "live"}})))
        .await;
    let pair = last_segment(imported["keyPair"]["arn"].as_str().unwrap());
    a.send("GET", "/playback-key-pairs", None).await;
    a.send("GET", &format!("/playback-key-pairs/{pair}"), None)
        .await;
    let private = a
        .send(
            "POST",
            "/channels",
            Some(json!({"name": "members", "authorized": true})),
        )
        .await;
    let pc = last_segment(private["channel"]["arn"].as_str().unwrap());
    a.send(
        "POST",
        &format!("/channels/{pc}/playback-token"),
        Some(json!({"viewerId": "v-1", "expiresInSeconds": 300})),
    )
    .await;
    a.send(
        "POST",
        &format!("/channels/{pc}/revoke-viewer"),
        Some(json!({"viewerId": "v-1"})),
    )
    .await;
    a.send(
        "POST",
        "/viewer-revocations/batch",
        Some(json!({"viewerSessions": [{"channelId": pc, "viewerId": "v-2"}]})),
    )
    .await;
    a.send("DELETE", &format!("/playback-key-pairs/{pair}"), None)
        .await;

    // Recording configurations.
    let recording = a
        .send("POST", "/recording-configurations", Some(json!({
            "name": "rec",
            "destinationConfiguration": {"s3": {"bucketName": "example-recordings-111122223333"}},
            "tags": {"team": "live"}
        })))
        .await;
    let r = last_segment(recording["recordingConfiguration"]["arn"].as_str().unwrap());
    a.send("GET", "/recording-configurations", None).await;
    a.send("GET", &format!("/recording-configurations/{r}"), None)
        .await;
    a.send("DELETE", &format!("/recording-configurations/{r}"), None)
        .await;

    // A key deleted, a new one created, then the channel deleted.
    let keys = a
        .send("GET", &format!("/channels/{c}/stream-keys"), None)
        .await;
    let key_arn = keys["streamKeys"][0]["arn"].as_str().unwrap().to_owned();
    a.send(
        "DELETE",
        &format!("/stream-keys/{}", url_encode(&key_arn)),
        None,
    )
    .await;
    a.send("POST", &format!("/channels/{c}/stream-keys"), None)
        .await;
    a.send("DELETE", &format!("/channels/{c}"), None).await;

    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|r| !a.succeeded.contains(&(r.method, r.path)))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(missing.is_empty(), "routes not exercised: {missing:?}");

    // Then every request fixture, as it is (most name resources that do not exist here).
    let dir = events_dir().join("admin-api");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("expected.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 50);
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let request = lambda_http::request::from_str(&text).unwrap();
        a.api.handle(request).await;
    }
    called_since(&emulator, &before)
}

/// What a function's policy must grant: the operations its code made, and `TagResource` when
/// it created something (its creates carry tags).
fn needed(called: &BTreeSet<String>) -> BTreeSet<String> {
    let mut needed = called.clone();
    if called
        .iter()
        .any(|op| CREATES_WITH_TAGS.contains(&op.as_str()))
    {
        needed.insert("TagResource".to_owned());
    }
    needed
}

fn compare(function: &str, template: &Value, called: &BTreeSet<String>) -> Option<String> {
    let granted = granted_ivs_actions(template, function);
    let needed = needed(called);
    if granted == needed {
        return None;
    }
    Some(format!(
        "{function}: missing {:?}, not used {:?} (the code calls {:?})",
        needed.difference(&granted).collect::<Vec<_>>(),
        granted.difference(&needed).collect::<Vec<_>>(),
        called
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_policy_grants_exactly_the_ivs_calls_of_its_code() {
    let template = cfn::template();
    let stream = ivs_calls_of_event_function(STREAM_EVENTS).await;
    let recording = ivs_calls_of_event_function(RECORDING_EVENTS).await;
    let sweeper = ivs_calls_of_sweeper().await;
    let admin = ivs_calls_of_admin_api().await;
    // The runs did reach IVS (a run that called nothing would prove nothing).
    for (calls, op) in [
        (&stream, "CreateStreamKey"),
        (&recording, "StopStream"),
        (&sweeper, "ListChannels"),
        (&admin, "BatchStartViewerSessionRevocation"),
    ] {
        assert!(calls.contains(op), "{op} not in {calls:?}");
    }
    let problems: Vec<String> = [
        (STREAM_EVENTS_FN, &stream),
        (RECORDING_EVENTS_FN, &recording),
        (SWEEPER_FN, &sweeper),
        (ADMIN_FN, &admin),
    ]
    .into_iter()
    .filter_map(|(function, called)| compare(function, &template, called))
    .collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The DynamoDB actions a function's policy grants (without the `dynamodb:` prefix).
fn granted_dynamodb_actions(template: &Value, function: &str) -> BTreeSet<String> {
    statements(&template["Resources"][function], function)
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| one_or_many(&s["Action"]))
        .filter_map(|a| {
            a.as_str()
                .and_then(|a| a.strip_prefix("dynamodb:"))
                .map(str::to_owned)
        })
        .collect()
}

/// The DynamoDB operations a crate's sources make on a client (`.get_item()`, `.put_item()`…:
/// the SDK's fluent builders, one per operation), as action names.
fn dynamodb_operations_in(dir: &str) -> BTreeSet<String> {
    const OPERATIONS: &[(&str, &str)] = &[
        ("get_item", "GetItem"),
        ("put_item", "PutItem"),
        ("update_item", "UpdateItem"),
        ("delete_item", "DeleteItem"),
        ("query", "Query"),
        ("scan", "Scan"),
        ("batch_get_item", "BatchGetItem"),
        ("batch_write_item", "BatchWriteItem"),
        ("transact_get_items", "TransactGetItems"),
        ("transact_write_items", "TransactWriteItems"),
    ];
    let mut found = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.contains("aws_sdk_dynamodb") {
                continue;
            }
            for (method, action) in OPERATIONS {
                if text.contains(&format!(".{method}()")) {
                    found.insert((*action).to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn the_sweeper_policy_grants_exactly_the_dynamodb_calls_of_its_code() {
    let template = cfn::template();
    let called = dynamodb_operations_in("functions/sweeper/src");
    assert!(
        called.contains("GetItem"),
        "the sources were read: {called:?}"
    );
    assert_eq!(granted_dynamodb_actions(&template, SWEEPER_FN), called);
    for (function, _) in functions(&template) {
        if function != SWEEPER_FN {
            assert!(
                granted_dynamodb_actions(&template, &function).is_empty(),
                "{function}"
            );
        }
    }
}

/// Every `.call("<Operation>"` of the IVS adapter and the function crates (the places IVS is
/// called from).
fn operations_in_the_code() -> BTreeSet<String> {
    fn scan(dir: &Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices(".call(") {
                    let rest = text[i + ".call(".len()..].trim_start();
                    if let Some(rest) = rest.strip_prefix('"') {
                        let op: String = rest.chars().take_while(|c| *c != '"').collect();
                        if op.chars().all(|c| c.is_ascii_alphanumeric()) && !op.is_empty() {
                            found.insert(op);
                        }
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for src in ["crates/ivs-adapter/src", "functions"] {
        scan(&root.join(src), &mut found);
    }
    assert!(
        found.contains("PutMetadata") && found.contains("ImportPlaybackKeyPair"),
        "{found:?}"
    );
    found
}

#[test]
fn every_ivs_operation_in_the_code_is_granted_to_a_function() {
    let template = cfn::template();
    let granted: BTreeSet<String> = functions(&template)
        .keys()
        .flat_map(|f| granted_ivs_actions(&template, f))
        .collect();
    let in_code = operations_in_the_code();
    assert!(in_code.len() >= 25, "{in_code:?}");
    assert_eq!(
        granted,
        needed(&in_code),
        "template vs the operations the code names"
    );
}
