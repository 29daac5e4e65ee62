//! `template.yaml`'s lifecycle events, metrics, alarms and dashboard (issue 15):
//! - every alarm and every dashboard widget reads the functions' metrics from the
//!   `MetricsNamespace` parameter, each metric one of the catalog the code writes
//!   (`domain::metrics::METRICS`) with a dimension set it is written with, `Function` one of
//!   the four functions' names; the dashboard's SEARCH expressions too;
//! - the alarms the issue asks for exist: every dead-letter queue not empty, each function's
//!   errors, IVS throttling above `IvsThrottleAlarmThreshold`, no sweeper pass completed for
//!   `SweepPassAlarmHours`, event age above `EventAgeAlarmSeconds` for both event functions,
//!   and lifecycle events not published; each within CloudWatch's evaluation limits;
//! - every alarm notifies the alarm topic (into ALARM and back to OK), which CloudWatch can
//!   publish to (a customer managed key, the topic policy), with the e-mail subscription only
//!   when `AlarmEmail` is set; the dashboard shows every alarm;
//! - each function's role may `events:PutEvents` on the one bus `LifecycleEventBusName`
//!   names, nothing else of EventBridge, nothing at all when it is empty;
//! - `LIFECYCLE_EVENT_BUS` and `METRICS_NAMESPACE` reach every function from the parameters.
//!
//! Each check is a function of the template, so that `each_check_fails_on_a_broken_copy`
//! can prove it fails on a copy broken the way it guards against.

use std::collections::BTreeSet;

use domain::metrics;
use serde_json::{json, Value};

use crate::cfn::{self, get_att, of_type, one_or_many, reference, Stack};

/// The functions: logical id, and the `Function` dimension value the code writes.
const FUNCTIONS: [(&str, &str); 4] = [
    ("StreamEventsFunction", "stream-events"),
    ("RecordingEventsFunction", "recording-events"),
    ("SweeperFunction", "sweeper"),
    ("AdminApiFunction", "admin-api"),
];
/// The event functions (event age is theirs).
const EVENT_FUNCTIONS: [(&str, &str); 2] = [FUNCTIONS[0], FUNCTIONS[1]];

/// The functions' environment variables of issue 15, as the code reads them.
const LIFECYCLE_EVENT_BUS: &str = ivs_adapter::publish::LIFECYCLE_EVENT_BUS;
const METRICS_NAMESPACE: &str = ivs_adapter::metrics::METRICS_NAMESPACE;

const TOPIC: &str = "AlarmTopic";
const DASHBOARD: &str = "Dashboard";
/// The AWS namespaces the alarms and the dashboard may read besides the functions' own.
const AWS_NAMESPACES: [&str; 2] = ["AWS/SQS", "AWS/Lambda"];
/// A namespace other than the default, to catch one written into the template by hand.
const OTHER_NAMESPACE: &str = "Acme/Video";

const BUS_ARN_PATTERN: &str =
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${LifecycleEventBusName}";

type Check = fn(&Value) -> Result<(), String>;

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// One metric an alarm or a dashboard widget reads.
#[derive(Debug)]
struct MetricRead {
    /// Where: the alarm or the widget.
    place: String,
    namespace: String,
    name: String,
    /// Name and value (a string, or a reference to a resource left as it is).
    dimensions: Vec<(String, Value)>,
}

impl MetricRead {
    fn dimension_names(&self) -> Vec<&str> {
        self.dimensions.iter().map(|(n, _)| n.as_str()).collect()
    }
}

fn str_of(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

fn dimensions_of(value: &Value) -> Vec<(String, Value)> {
    one_or_many(value)
        .iter()
        .map(|d| (str_of(&d["Name"]), d["Value"].clone()))
        .collect()
}

fn alarms(stack: &Stack) -> Vec<(String, Value)> {
    of_type(&stack.resources(), "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(n, r)| (n.to_owned(), r.clone()))
        .collect()
}

/// The metrics an alarm (resolved) reads: its own, or those of its metric-math queries.
fn alarm_metrics(name: &str, alarm: &Value) -> Vec<MetricRead> {
    let p = &alarm["Properties"];
    if p.get("MetricName").is_some() {
        return vec![MetricRead {
            place: format!("alarm {name}"),
            namespace: str_of(&p["Namespace"]),
            name: str_of(&p["MetricName"]),
            dimensions: dimensions_of(&p["Dimensions"]),
        }];
    }
    one_or_many(&p["Metrics"])
        .iter()
        .filter_map(|q| q.get("MetricStat"))
        .map(|stat| MetricRead {
            place: format!("alarm {name}"),
            namespace: str_of(&stat["Metric"]["Namespace"]),
            name: str_of(&stat["Metric"]["MetricName"]),
            dimensions: dimensions_of(&stat["Metric"]["Dimensions"]),
        })
        .collect()
}

/// The dashboard's body as CloudWatch receives it from this stack: parameters and pseudo
/// parameters substituted, each remaining `${Resource}` / `${Resource.Attribute}` replaced
/// by its own text (`Resource`, `Resource.Attribute`), so that a test can see what it names.
fn dashboard_body(stack: &Stack) -> Result<Value, String> {
    let resources = stack.resources();
    let dashboard = resources.get(DASHBOARD).ok_or("no Dashboard resource")?;
    ensure!(
        dashboard["Type"] == "AWS::CloudWatch::Dashboard",
        "{DASHBOARD} is a {}",
        dashboard["Type"]
    );
    let body = dashboard["Properties"]["DashboardBody"]
        .as_str()
        .ok_or("DashboardBody is not a !Sub of a string")?;
    let re = regex_lite::Regex::new(r"\$\{([A-Za-z0-9]+(?:\.[A-Za-z0-9]+)?)\}").unwrap();
    let body = re.replace_all(body, "$1");
    ensure!(!body.contains("${"), "DashboardBody: an unresolved ${{…}}");
    serde_json::from_str(&body).map_err(|e| format!("DashboardBody is not JSON: {e}"))
}

/// `SEARCH('{Namespace,Dim,…} MetricName="Name"', 'Stat', period)`, the only form of SEARCH
/// the dashboard may use: a schema (exact dimension set) and one metric name.
fn parse_search(expression: &str) -> Option<(String, Vec<String>, String)> {
    let re = regex_lite::Regex::new(
        r#"^SEARCH\('\{([^{}]+)\} MetricName="([A-Za-z0-9]+)"', '[A-Za-z0-9.]+', [0-9]+\)$"#,
    )
    .unwrap();
    let captures = re.captures(expression)?;
    let mut schema = captures[1].split(',').map(str::to_owned);
    let namespace = schema.next()?;
    Some((namespace, schema.collect(), captures[2].to_owned()))
}

/// Every metric the dashboard's widgets read, SEARCH expressions included.
fn dashboard_metrics(body: &Value) -> Result<Vec<MetricRead>, String> {
    let mut found = Vec::new();
    for widget in one_or_many(&body["widgets"]) {
        if widget["type"] != "metric" {
            continue;
        }
        let place = format!("widget {}", widget["properties"]["title"]);
        for row in one_or_many(&widget["properties"]["metrics"]) {
            let items = row
                .as_array()
                .ok_or_else(|| format!("{place}: a metric row {row} is not an array"))?;
            if let Some(expression) = items.first().and_then(|i| i.get("expression")) {
                let expression = expression.as_str().unwrap_or_default();
                if expression.contains("SEARCH") {
                    let (namespace, dimensions, name) = parse_search(expression)
                        .ok_or_else(|| format!("{place}: SEARCH of another form: {expression}"))?;
                    found.push(MetricRead {
                        place: place.clone(),
                        namespace,
                        name,
                        dimensions: dimensions.into_iter().map(|d| (d, Value::Null)).collect(),
                    });
                }
                continue;
            }
            // [namespace, name, dim, value, …, {options}?]: written out in full, no "." or
            // "..." shorthand (which would hide what a row reads).
            let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            let options = items.len() - strings.len();
            ensure!(
                options <= 1 && (options == 0 || items.last().is_some_and(Value::is_object)),
                "{place}: row {row}"
            );
            ensure!(
                strings.len() >= 2 && strings.len() % 2 == 0,
                "{place}: row {row} is not namespace, name, dimension pairs"
            );
            ensure!(
                !strings.iter().any(|s| *s == "." || *s == "..."),
                "{place}: row {row} uses the \".\"/\"...\" shorthand: write it out"
            );
            found.push(MetricRead {
                place: place.clone(),
                namespace: strings[0].to_owned(),
                name: strings[1].to_owned(),
                dimensions: strings[2..]
                    .chunks(2)
                    .map(|c| (c[0].to_owned(), json!(c[1])))
                    .collect(),
            });
        }
    }
    Ok(found)
}

/// A metric read from the functions' namespace is in the catalog with a dimension set the
/// code writes it with, `Function` naming one of the four; any other is an AWS metric.
fn check_metric(metric: &MetricRead, namespace: &str) -> Result<bool, String> {
    let place = &metric.place;
    if AWS_NAMESPACES.contains(&metric.namespace.as_str()) {
        return Ok(false);
    }
    ensure!(
        metric.namespace == namespace,
        "{place}: namespace {} is neither MetricsNamespace ({namespace}) nor one of {AWS_NAMESPACES:?}",
        metric.namespace
    );
    ensure!(
        metrics::spec(&metric.name).is_some(),
        "{place}: {} is not a metric the functions write (domain::metrics::METRICS)",
        metric.name
    );
    ensure!(
        metrics::allows(&metric.name, &metric.dimension_names()),
        "{place}: {} is not written with dimensions {:?}",
        metric.name,
        metric.dimension_names()
    );
    for (name, value) in &metric.dimensions {
        if name == metrics::DIM_FUNCTION && !value.is_null() {
            ensure!(
                FUNCTIONS.iter().any(|(_, f)| value == f),
                "{place}: {} with Function {value}: not one of the functions",
                metric.name
            );
        }
    }
    Ok(true)
}

fn check_catalog(template: &Value) -> Result<(), String> {
    for namespace in [metrics::DEFAULT_NAMESPACE, OTHER_NAMESPACE] {
        let stack = Stack::new(template, &[("MetricsNamespace", namespace)]);
        let (mut in_alarms, mut in_dashboard) = (0, 0);
        for (name, alarm) in alarms(&stack) {
            for metric in alarm_metrics(&name, &alarm) {
                in_alarms += usize::from(check_metric(&metric, namespace)?);
            }
        }
        for metric in dashboard_metrics(&dashboard_body(&stack)?)? {
            in_dashboard += usize::from(check_metric(&metric, namespace)?);
        }
        ensure!(
            in_alarms > 0 && in_dashboard > 0,
            "no alarm or no widget reads the functions' metrics ({namespace})"
        );
    }
    // The dashboard shows every metric of the catalog.
    let stack = Stack::new(template, &[]);
    let shown: BTreeSet<String> = dashboard_metrics(&dashboard_body(&stack)?)?
        .into_iter()
        .map(|m| m.name)
        .collect();
    for spec in metrics::METRICS {
        ensure!(
            shown.contains(spec.name),
            "the dashboard does not show {}",
            spec.name
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The alarms of each category.
// ---------------------------------------------------------------------------------------

/// The queues the template dead-letters to: rule targets' and schedules' dead-letter
/// configs, queues' redrive targets, on-failure destinations.
fn dead_letter_queues(template: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let target = match key.as_str() {
                        "DeadLetterConfig" => Some(&inner["Arn"]),
                        "RedrivePolicy" => Some(&inner["deadLetterTargetArn"]),
                        "OnFailure" => Some(&inner["Destination"]),
                        _ => None,
                    };
                    if let Some((queue, "Arn")) = target.and_then(get_att) {
                        found.insert(queue.to_owned());
                    }
                    walk(inner, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, found)),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    walk(&template["Resources"], &mut found);
    found
}

/// Whether the (resolved) alarm goes off from `n` and up: `>= n` or `> n - 1`.
fn fires_from(alarm: &Value, n: f64) -> bool {
    let p = &alarm["Properties"];
    let threshold = number(&p["Threshold"]);
    match p["ComparisonOperator"].as_str() {
        Some("GreaterThanOrEqualToThreshold") => threshold == Some(n),
        Some("GreaterThanThreshold") => threshold == Some(n - 1.0),
        _ => false,
    }
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// The one alarm reading exactly this metric (`None`: none; more than one is an error too).
fn alarm_on<'a>(
    alarms: &'a [(String, Value)],
    namespace: &str,
    name: &str,
    dimensions: &[(&str, Value)],
) -> Result<&'a (String, Value), String> {
    let matching: Vec<&(String, Value)> = alarms
        .iter()
        .filter(|(n, a)| {
            alarm_metrics(n, a).iter().any(|m| {
                m.namespace == namespace
                    && m.name == name
                    && m.dimensions.len() == dimensions.len()
                    && dimensions
                        .iter()
                        .all(|(d, v)| m.dimensions.contains(&((*d).to_owned(), v.clone())))
            })
        })
        .collect();
    ensure!(
        matching.len() == 1,
        "{} alarms on {namespace} {name} {dimensions:?}, expected one",
        matching.len()
    );
    Ok(matching[0])
}

fn raw_property<'a>(template: &'a Value, alarm: &str, property: &str) -> &'a Value {
    &template["Resources"][alarm]["Properties"][property]
}

fn check_categories(template: &Value) -> Result<(), String> {
    let stack = Stack::new(template, &[]);
    let namespace = metrics::DEFAULT_NAMESPACE;
    let alarms = alarms(&stack);

    // (a) Every dead-letter queue not empty.
    let queues = dead_letter_queues(template);
    ensure!(
        ["FailedEventsQueue", "EventDeliveryDeadLetterQueue"]
            .iter()
            .all(|q| queues.contains(*q)),
        "dead-letter queues found: {queues:?}"
    );
    for queue in &queues {
        let (name, alarm) = alarm_on(
            &alarms,
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            &[("QueueName", json!({"Fn::GetAtt": [queue, "QueueName"]}))],
        )
        .map_err(|e| format!("dead-letter queue {queue}: {e}"))?;
        ensure!(
            alarm["Properties"]["Statistic"] == "Maximum" && fires_from(alarm, 1.0),
            "{name}: not Maximum >= 1"
        );
    }

    // (b) Each function's errors.
    for (function, _) in FUNCTIONS {
        let (name, alarm) = alarm_on(
            &alarms,
            "AWS/Lambda",
            "Errors",
            &[("FunctionName", json!({"Ref": function}))],
        )
        .map_err(|e| format!("{function}: {e}"))?;
        ensure!(
            alarm["Properties"]["Statistic"] == "Sum" && fires_from(alarm, 1.0),
            "{name}: not Sum >= 1"
        );
    }

    // (c) IVS throttling above the threshold, all functions together, per 5 minutes.
    let (name, alarm) = alarm_on(&alarms, namespace, metrics::IVS_THROTTLED, &[])?;
    let p = &alarm["Properties"];
    ensure!(
        p["Statistic"] == "Sum" && number(&p["Period"]) == Some(300.0),
        "{name}: not a Sum over 300 s"
    );
    ensure!(
        *raw_property(template, name, "Threshold") == json!({"Ref": "IvsThrottleAlarmThreshold"})
            && p["ComparisonOperator"] == "GreaterThanThreshold",
        "{name}: not > IvsThrottleAlarmThreshold"
    );

    // (d) No sweeper pass completed for SweepPassAlarmHours: every hourly period of the
    // window without one, no data (no run at all) counting as none.
    let (name, alarm) = alarm_on(&alarms, namespace, metrics::SWEEP_PASS_COMPLETED, &[])?;
    let p = &alarm["Properties"];
    ensure!(
        p["Statistic"] == "Sum"
            && number(&p["Period"]) == Some(3600.0)
            && p["ComparisonOperator"] == "LessThanThreshold"
            && number(&p["Threshold"]) == Some(1.0),
        "{name}: not an hourly Sum < 1"
    );
    let hours = json!({"Ref": "SweepPassAlarmHours"});
    ensure!(
        *raw_property(template, name, "EvaluationPeriods") == hours
            && *raw_property(template, name, "DatapointsToAlarm") == hours,
        "{name}: not every one of SweepPassAlarmHours hourly periods"
    );
    ensure!(
        p["TreatMissingData"] == "breaching",
        "{name}: a sweeper that does not run at all must alarm (TreatMissingData breaching)"
    );

    // (e) Event age above EventAgeAlarmSeconds, per event function: the metric is in
    // milliseconds, the alarm divides it by 1000 and compares with the seconds.
    for (_, function) in EVENT_FUNCTIONS {
        let (name, alarm) = alarm_on(
            &alarms,
            namespace,
            metrics::EVENT_AGE,
            &[(metrics::DIM_FUNCTION, json!(function))],
        )?;
        let p = &alarm["Properties"];
        let queries = one_or_many(&p["Metrics"]);
        let age = queries
            .iter()
            .find(|q| q["MetricStat"]["Metric"]["MetricName"] == metrics::EVENT_AGE)
            .ok_or_else(|| format!("{name}: EventAge is not a metric-math query"))?;
        ensure!(
            ["p99", "Maximum"].contains(&age["MetricStat"]["Stat"].as_str().unwrap_or_default()),
            "{name}: EventAge statistic {}",
            age["MetricStat"]["Stat"]
        );
        let returned: Vec<&Value> = queries.iter().filter(|q| q["ReturnData"] == true).collect();
        let expected = format!("{}/1000", str_of(&age["Id"]));
        ensure!(
            returned.len() == 1 && str_of(&returned[0]["Expression"]).replace(' ', "") == expected,
            "{name}: the alarm does not compare {expected} (seconds)"
        );
        ensure!(
            *raw_property(template, name, "Threshold") == json!({"Ref": "EventAgeAlarmSeconds"})
                && p["ComparisonOperator"] == "GreaterThanThreshold",
            "{name}: not > EventAgeAlarmSeconds"
        );
    }
    ensure!(
        metrics::spec(metrics::EVENT_AGE).map(|s| s.unit) == Some(metrics::Unit::Milliseconds),
        "EventAge is no longer in milliseconds: the event age alarms divide by 1000"
    );

    // Lifecycle events not published, by any of the four functions.
    let not_published: Vec<&(String, Value)> = alarms
        .iter()
        .filter(|(n, a)| {
            alarm_metrics(n, a)
                .iter()
                .any(|m| m.name == metrics::LIFECYCLE_PUBLISH_FAILED)
        })
        .collect();
    ensure!(
        not_published.len() == 1,
        "{} alarms on LifecycleEventsNotPublished",
        not_published.len()
    );
    let (name, alarm) = not_published[0];
    let covered: BTreeSet<String> = alarm_metrics(name, alarm)
        .iter()
        .flat_map(|m| m.dimensions.iter().map(|(_, v)| str_of(v)))
        .collect();
    ensure!(
        FUNCTIONS.iter().all(|(_, f)| covered.contains(*f)),
        "{name}: covers {covered:?}"
    );
    ensure!(fires_from(alarm, 1.0), "{name}: not >= 1");

    // CloudWatch's limits on every alarm's window, at the parameters' largest values: at most
    // one day of periods shorter than an hour, seven days otherwise; M of N with M <= N.
    for (name, _) in &alarms {
        let raw = &template["Resources"][name.as_str()]["Properties"];
        let largest = |value: &Value| -> Option<f64> {
            match reference(value) {
                Some(parameter) => number(&template["Parameters"][parameter]["MaxValue"]),
                None => number(value),
            }
        };
        let periods: Vec<f64> = match raw.get("Period") {
            Some(period) => vec![largest(period).unwrap_or(0.0)],
            None => one_or_many(&raw["Metrics"])
                .iter()
                .filter_map(|q| q.get("MetricStat"))
                .map(|s| largest(&s["Period"]).unwrap_or(0.0))
                .collect(),
        };
        let evaluations = largest(&raw["EvaluationPeriods"])
            .ok_or_else(|| format!("{name}: EvaluationPeriods without a bound"))?;
        for period in periods {
            let limit = if period < 3600.0 { 86_400.0 } else { 604_800.0 };
            ensure!(
                period >= 60.0 && period * evaluations <= limit,
                "{name}: {evaluations} periods of {period} s exceed CloudWatch's {limit} s"
            );
        }
        if let Some(m) = raw.get("DatapointsToAlarm") {
            ensure!(
                m == &raw["EvaluationPeriods"] || largest(m) <= Some(evaluations),
                "{name}: DatapointsToAlarm above EvaluationPeriods"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Notifications.
// ---------------------------------------------------------------------------------------

/// `*` of an IAM ARN pattern (no `?` in these).
fn glob(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || !value[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// The statement of a policy document letting `service` do `action`.
fn service_statement<'a>(document: &'a Value, service: &str, action: &str) -> Option<&'a Value> {
    let statements: &[Value] = match &document["Statement"] {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    };
    statements.iter().find(|s| {
        s["Effect"] == "Allow"
            && s["Principal"]["Service"] == service
            && one_or_many(&s["Action"]).contains(&json!(action))
    })
}

fn check_notifications(template: &Value) -> Result<(), String> {
    let stack = Stack::new(template, &[]);
    let resources = stack.resources();
    let topic = json!([{"Ref": TOPIC}]);
    let alarms = alarms(&stack);
    ensure!(!alarms.is_empty(), "no alarms");
    for (name, alarm) in &alarms {
        let p = &alarm["Properties"];
        ensure!(
            p["AlarmActions"] == topic && p["OKActions"] == topic,
            "{name}: does not notify {TOPIC} into ALARM and back to OK"
        );
        ensure!(p["ActionsEnabled"] != false, "{name}: actions disabled");
    }
    ensure!(
        resources[TOPIC]["Type"] == "AWS::SNS::Topic",
        "{TOPIC} is not an SNS topic"
    );

    // CloudWatch can publish: the topic's key is the stack's own (the AWS managed
    // alias/aws/sns does not let CloudWatch use it), and both the key policy and the topic
    // policy let this stack's alarms in.
    let key = &resources[TOPIC]["Properties"]["KmsMasterKeyId"];
    let (key, _) = get_att(key)
        .or_else(|| reference(key).map(|k| (k, "")))
        .ok_or_else(|| format!("{TOPIC} is not encrypted with a key of the stack: {key}"))?;
    ensure!(
        resources[key]["Type"] == "AWS::KMS::Key"
            && resources[key]["Properties"]["EnableKeyRotation"] == true,
        "{key}: not a KMS key with rotation"
    );
    let key_policy = &resources[key]["Properties"]["KeyPolicy"];
    let topic_policy = of_type(&resources, "AWS::SNS::TopicPolicy")
        .into_iter()
        .find(|(_, p)| one_or_many(&p["Properties"]["Topics"]).contains(&json!({"Ref": TOPIC})))
        .map(|(_, p)| p["Properties"]["PolicyDocument"].clone())
        .ok_or("no topic policy on the alarm topic")?;
    for (what, statement) in [
        (
            "the key policy (kms:GenerateDataKey*)",
            service_statement(
                key_policy,
                "cloudwatch.amazonaws.com",
                "kms:GenerateDataKey*",
            ),
        ),
        (
            "the key policy (kms:Decrypt)",
            service_statement(key_policy, "cloudwatch.amazonaws.com", "kms:Decrypt"),
        ),
        (
            "the topic policy",
            service_statement(&topic_policy, "cloudwatch.amazonaws.com", "sns:Publish"),
        ),
    ] {
        let statement = statement.ok_or_else(|| format!("{what} does not let CloudWatch in"))?;
        let source = str_of(&statement["Condition"]["ArnLike"]["aws:SourceArn"]);
        for (name, alarm) in &alarms {
            let arn = format!(
                "arn:aws:cloudwatch:{}:{}:alarm:{}",
                cfn::REGION,
                cfn::ACCOUNT,
                str_of(&alarm["Properties"]["AlarmName"])
            );
            ensure!(
                glob(&source, &arn),
                "{what}: {source} does not admit {name} ({arn})"
            );
        }
    }

    // The e-mail subscription exists exactly when AlarmEmail is set.
    for email in ["", "ops@example.com"] {
        let stack = Stack::new(template, &[("AlarmEmail", email)]);
        let resources = stack.resources();
        let subscriptions = of_type(&resources, "AWS::SNS::Subscription");
        if email.is_empty() {
            ensure!(
                subscriptions.is_empty(),
                "a subscription without AlarmEmail"
            );
        } else {
            ensure!(
                subscriptions.len() == 1
                    && subscriptions[0].1["Properties"]
                        == json!({"TopicArn": {"Ref": TOPIC}, "Protocol": "email", "Endpoint": email}),
                "AlarmEmail={email}: subscriptions {subscriptions:?}"
            );
        }
    }

    // The dashboard shows every alarm.
    let body = dashboard_body(&stack)?;
    let shown: BTreeSet<String> = one_or_many(&body["widgets"])
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| one_or_many(&w["properties"]["alarms"]))
        .map(|a| str_of(&a))
        .collect();
    let expected: BTreeSet<String> = alarms.iter().map(|(n, _)| format!("{n}.Arn")).collect();
    ensure!(
        shown == expected,
        "the dashboard's alarm widget shows {shown:?}, the stack has {expected:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// PutEvents and the environment.
// ---------------------------------------------------------------------------------------

fn check_put_events(template: &Value) -> Result<(), String> {
    for bus in ["default", "platform-bus", ""] {
        let stack = Stack::new(template, &[("LifecycleEventBusName", bus)]);
        let resources = stack.resources();
        let arn = format!(
            "arn:aws:events:{}:{}:event-bus/{bus}",
            cfn::REGION,
            cfn::ACCOUNT
        );
        for (function, _) in FUNCTIONS {
            let statements: Vec<Value> =
                one_or_many(&resources[function]["Properties"]["Policies"])
                    .iter()
                    .flat_map(|p| one_or_many(&p["Statement"]))
                    .filter(|s| {
                        one_or_many(&s["Action"])
                            .iter()
                            .any(|a| a.as_str().is_some_and(|a| a.starts_with("events:")))
                    })
                    .collect();
            if bus.is_empty() {
                ensure!(
                    statements.is_empty(),
                    "{function}: EventBridge actions with no bus: {statements:?}"
                );
                continue;
            }
            ensure!(
                statements.len() == 1,
                "{function} (bus {bus}): {} EventBridge statements, expected one",
                statements.len()
            );
            let s = &statements[0];
            ensure!(
                s["Effect"] == "Allow"
                    && one_or_many(&s["Action"]) == [json!("events:PutEvents")]
                    && one_or_many(&s["Resource"]) == [json!(arn)]
                    && s.get("NotResource").is_none()
                    && s.get("NotAction").is_none(),
                "{function} (bus {bus}): {s} is not events:PutEvents on {arn} only"
            );
        }
    }
    // As written: the parameter, in the bus ARN of this account and region.
    for (function, _) in FUNCTIONS {
        let written = template["Resources"][function]["Properties"]["Policies"].to_string();
        ensure!(
            written.contains(&json!({"Fn::Sub": BUS_ARN_PATTERN}).to_string()),
            "{function}: PutEvents is not on {BUS_ARN_PATTERN}"
        );
    }
    Ok(())
}

fn check_environment(template: &Value) -> Result<(), String> {
    for (bus, namespace) in [
        (None, None),
        (Some("platform-bus"), Some(OTHER_NAMESPACE)),
        (Some(""), None),
    ] {
        let mut overrides = Vec::new();
        overrides.extend(bus.map(|b| ("LifecycleEventBusName", b)));
        overrides.extend(namespace.map(|n| ("MetricsNamespace", n)));
        let stack = Stack::new(template, &overrides);
        let expected_bus = bus.unwrap_or("default");
        let expected_namespace = namespace.unwrap_or(metrics::DEFAULT_NAMESPACE);
        let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
        for (function, _) in FUNCTIONS {
            // SAM merges the global variables into each function's, the function's winning.
            let own = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
            for (variable, expected) in [
                (LIFECYCLE_EVENT_BUS, expected_bus),
                (METRICS_NAMESPACE, expected_namespace),
            ] {
                let written = own
                    .get(variable)
                    .or_else(|| globals.get(variable))
                    .ok_or_else(|| format!("{function}: {variable} is not set"))?;
                let deployed = stack.resolve(written).unwrap_or_default();
                ensure!(
                    deployed == expected,
                    "{function}: {variable} = {deployed}, expected {expected:?} from the parameter"
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------

#[test]
fn alarm_and_dashboard_metrics_are_metrics_the_code_writes() {
    check_catalog(&cfn::template()).unwrap();
}

#[test]
fn the_alarms_of_issue_15_exist() {
    check_categories(&cfn::template()).unwrap();
}

#[test]
fn every_alarm_notifies_the_alarm_topic() {
    check_notifications(&cfn::template()).unwrap();
}

#[test]
fn each_function_may_put_events_on_the_lifecycle_bus_only() {
    check_put_events(&cfn::template()).unwrap();
}

#[test]
fn the_lifecycle_bus_and_the_metrics_namespace_reach_every_function() {
    check_environment(&cfn::template()).unwrap();
}

fn pattern(template: &Value, parameter: &str) -> regex_lite::Regex {
    let pattern = template["Parameters"][parameter]["AllowedPattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{parameter}: no AllowedPattern"));
    regex_lite::Regex::new(pattern).unwrap_or_else(|e| panic!("{parameter}: {e}"))
}

#[test]
fn the_new_parameters_admit_safe_values_only() {
    let template = cfn::template();
    // The bus name becomes an IAM resource: a name, no ARN, no wildcard.
    let bus = pattern(&template, "LifecycleEventBusName");
    for accepted in ["", "default", "platform-bus", "ivs.events_v2"] {
        assert!(bus.is_match(accepted), "rejected {accepted:?}");
    }
    let arn = format!(
        "arn:aws:events:{}:{}:event-bus/platform",
        cfn::REGION,
        cfn::ACCOUNT
    );
    for rejected in ["*", "platform-*", "bus?", arn.as_str(), "a/b", "a b", "a,b"] {
        assert!(!bus.is_match(rejected), "accepted {rejected:?}");
    }
    // The namespace goes unquoted into SEARCH expressions and JSON; AWS/ is AWS's.
    let namespace = pattern(&template, "MetricsNamespace");
    for accepted in [
        metrics::DEFAULT_NAMESPACE,
        OTHER_NAMESPACE,
        "A/B/C",
        "AWS",
        "AWSX/Ivs",
        "AW/Ivs",
        "Aws/Ivs",
        "My_Company.video-1",
    ] {
        assert!(namespace.is_match(accepted), "rejected {accepted:?}");
    }
    for rejected in [
        "",
        "AWS/Lambda",
        "AWS/",
        "/Ivs",
        "Ivs/",
        "A//B",
        "Ivs Automation",
        "Ivs,Automation",
        "Ivs\"Automation",
        "Ivs{x}",
        "${x}",
    ] {
        assert!(!namespace.is_match(rejected), "accepted {rejected:?}");
    }
    let email = pattern(&template, "AlarmEmail");
    assert!(email.is_match("") && email.is_match("ops@example.com"));
    assert!(!email.is_match("ops@example.com,other@example.com") && !email.is_match("ops"));
    // Every default passes its own pattern.
    for parameter in ["LifecycleEventBusName", "MetricsNamespace", "AlarmEmail"] {
        let default = template["Parameters"][parameter]["Default"]
            .as_str()
            .unwrap();
        assert!(
            pattern(&template, parameter).is_match(default),
            "{parameter}: {default:?}"
        );
    }
    assert_eq!(
        template["Parameters"]["MetricsNamespace"]["Default"],
        metrics::DEFAULT_NAMESPACE
    );
}

/// A copy of the template changed by `change`.
fn broken(template: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut copy = template.clone();
    change(&mut copy);
    copy
}

/// The DashboardBody text of a template (to break it).
fn body_text(template: &mut Value) -> &mut Value {
    &mut template["Resources"][DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
}

fn replace_in_body(template: &mut Value, from: &str, to: &str) {
    let text = body_text(template).as_str().unwrap().to_owned();
    assert_eq!(text.matches(from).count(), 1, "{from:?} in DashboardBody");
    *body_text(template) = json!(text.replacen(from, to, 1));
}

/// The LifecycleEvents statement of a function (inside its `Fn::If`).
fn lifecycle_statement<'a>(template: &'a mut Value, function: &str) -> &'a mut Value {
    let statements = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
        .as_array_mut()
        .unwrap();
    let i = statements
        .iter()
        .position(|s| s["Fn::If"][1]["Sid"] == "LifecycleEvents")
        .unwrap_or_else(|| panic!("{function}: no LifecycleEvents statement"));
    &mut statements[i]
}

/// Removes a resource, and the dashboard's mention of it (an alarm's ARN in the alarm
/// widget), so that the body still parses.
fn remove_resource(template: &mut Value, name: &str) {
    assert!(template["Resources"]
        .as_object_mut()
        .unwrap()
        .remove(name)
        .is_some());
    let text = body_text(template).as_str().unwrap().to_owned();
    let text = text.replace(&format!("\"${{{name}.Arn}}\""), "");
    let text = regex_lite::Regex::new(r",(\s*)([,\]])")
        .unwrap()
        .replace_all(&text, "$1$2")
        .into_owned();
    let text = regex_lite::Regex::new(r"\[(\s*),")
        .unwrap()
        .replace_all(&text, "[$1")
        .into_owned();
    *body_text(template) = json!(text);
}

/// A broken copy, the check that must fail on it, and the words its failure must contain.
struct Case {
    what: &'static str,
    check: Check,
    change: Box<dyn Fn(&mut Value)>,
    expected: &'static str,
}

fn case(
    what: &'static str,
    check: Check,
    change: impl Fn(&mut Value) + 'static,
    expected: &'static str,
) -> Case {
    Case {
        what,
        check,
        change: Box::new(change),
        expected,
    }
}

#[test]
fn each_check_fails_on_a_broken_copy() {
    let template = cfn::template();
    let cases = [
        case(
            "an alarm on a metric the code does not write",
            check_catalog,
            |t| {
                t["Resources"]["IvsThrottledAlarm"]["Properties"]["MetricName"] =
                    json!("IvsThrottles")
            },
            "IvsThrottles is not a metric",
        ),
        case(
            "an alarm with a dimension set the code does not write",
            check_catalog,
            |t| {
                t["Resources"]["SweepPassOverdueAlarm"]["Properties"]["Dimensions"] =
                    json!([{"Name": "Function", "Value": "sweeper"}])
            },
            "SweepPassCompleted is not written with dimensions",
        ),
        case(
            "an alarm on a function name the code does not write",
            check_catalog,
            |t| {
                t["Resources"]["StreamEventsEventAgeAlarm"]["Properties"]["Metrics"][1]
                    ["MetricStat"]["Metric"]["Dimensions"][0]["Value"] = json!("stream-event")
            },
            "not one of the functions",
        ),
        case(
            "an alarm whose namespace is written by hand",
            check_catalog,
            |t| {
                t["Resources"]["IvsThrottledAlarm"]["Properties"]["Namespace"] =
                    json!("IvsAutomation")
            },
            "is neither MetricsNamespace",
        ),
        case(
            "a dashboard SEARCH for a metric the code does not write",
            check_catalog,
            |t| replace_in_body(t, r#"MetricName=\"IvsCalls\""#, r#"MetricName=\"IvsCall\""#),
            "IvsCall is not a metric",
        ),
        case(
            "a dashboard row with a dimension the code does not write",
            check_catalog,
            |t| {
                replace_in_body(
                    t,
                    r#""EventsHandled", "Function", "stream-events""#,
                    r#""EventsHandled", "Operation", "stream-events""#,
                )
            },
            "EventsHandled is not written with dimensions",
        ),
        case(
            "a dashboard row in shorthand",
            check_catalog,
            |t| {
                replace_in_body(
                    t,
                    r#"["${MetricsNamespace}", "EventsReturned", "Function", "stream-events""#,
                    r#"[".", "EventsReturned", "Function", "stream-events""#,
                )
            },
            "shorthand",
        ),
        case(
            "a dead-letter queue without an alarm",
            check_categories,
            |t| remove_resource(t, "EventDeliveryDeadLettersAlarm"),
            "dead-letter queue EventDeliveryDeadLetterQueue: 0 alarms",
        ),
        case(
            "a function without an errors alarm",
            check_categories,
            |t| remove_resource(t, "SweeperErrorsAlarm"),
            "SweeperFunction: 0 alarms",
        ),
        case(
            "a throttling alarm with a fixed threshold",
            check_categories,
            |t| t["Resources"]["IvsThrottledAlarm"]["Properties"]["Threshold"] = json!(100),
            "not > IvsThrottleAlarmThreshold",
        ),
        case(
            "a sweep alarm that ignores a sweeper that never runs",
            check_categories,
            |t| {
                t["Resources"]["SweepPassOverdueAlarm"]["Properties"]["TreatMissingData"] =
                    json!("notBreaching")
            },
            "TreatMissingData breaching",
        ),
        case(
            "a sweep alarm over more hourly periods than CloudWatch allows",
            check_categories,
            |t| t["Parameters"]["SweepPassAlarmHours"]["MaxValue"] = json!(200),
            "exceed CloudWatch's",
        ),
        case(
            "an event age alarm in the wrong unit",
            check_categories,
            |t| {
                t["Resources"]["RecordingEventsEventAgeAlarm"]["Properties"]["Metrics"][0]
                    ["Expression"] = json!("age / 60")
            },
            "does not compare age/1000",
        ),
        case(
            "an alarm that does not say when it is OK again",
            check_notifications,
            |t| {
                t["Resources"]["FailedEventsAlarm"]["Properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("OKActions");
            },
            "FailedEventsAlarm: does not notify",
        ),
        case(
            "the alarm topic encrypted with the AWS managed key",
            check_notifications,
            |t| t["Resources"][TOPIC]["Properties"]["KmsMasterKeyId"] = json!("alias/aws/sns"),
            "not encrypted with a key of the stack",
        ),
        case(
            "a key policy that keeps CloudWatch out",
            check_notifications,
            |t| {
                t["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"][1]
                    ["Action"] = json!(["kms:Decrypt"])
            },
            "the key policy (kms:GenerateDataKey*) does not let CloudWatch in",
        ),
        case(
            "an alarm the dashboard does not show",
            check_notifications,
            |t| replace_in_body(t, "\"${IvsThrottledAlarm.Arn}\",", ""),
            "the dashboard's alarm widget shows",
        ),
        case(
            "PutEvents on every bus",
            check_put_events,
            |t| {
                lifecycle_statement(t, "SweeperFunction")["Fn::If"][1]["Resource"] = json!({
                    "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/*"
                })
            },
            "SweeperFunction (bus default)",
        ),
        case(
            "a function that may not put lifecycle events",
            check_put_events,
            |t| *lifecycle_statement(t, "AdminApiFunction") = json!({"Ref": "AWS::NoValue"}),
            "AdminApiFunction (bus default): 0 EventBridge statements",
        ),
        case(
            "a function whose namespace is written by hand",
            check_environment,
            |t| {
                t["Resources"]["StreamEventsFunction"]["Properties"]["Environment"]["Variables"]
                    [METRICS_NAMESPACE] = json!("IvsAutomation")
            },
            "StreamEventsFunction: METRICS_NAMESPACE",
        ),
    ];
    for Case {
        what,
        check,
        change,
        expected,
    } in cases
    {
        let copy = broken(&template, |t| change(t));
        match check(&copy) {
            Ok(()) => panic!("the check passed a template with {what}"),
            Err(e) => assert!(
                e.contains(expected),
                "a template with {what} failed, but not with {expected:?}: {e}"
            ),
        }
    }
}

#[test]
fn the_readme_names_every_parameter_and_the_new_outputs() {
    let template = cfn::template();
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .unwrap();
    let deploying = readme
        .split_once("## Deploying with SAM")
        .map(|(_, rest)| rest)
        .expect("README: Deploying with SAM");
    let (outputs, rest) = deploying
        .split_once("**Parameters**")
        .expect("README: Deploying with SAM: Parameters");
    let table: String = rest
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('|').nth(1).unwrap_or_default())
        .collect();
    for parameter in template["Parameters"].as_object().unwrap().keys() {
        assert!(
            table.contains(&format!("`{parameter}`")),
            "README's parameter table has no row for {parameter}"
        );
    }
    for output in ["AlarmTopicArn", "DashboardName", "DashboardUrl"] {
        assert!(template["Outputs"].get(output).is_some(), "{output}");
        assert!(
            outputs.contains(&format!("`{output}`")),
            "README does not list the {output} output"
        );
    }
    let alarms = readme
        .split_once("### Alarms and dashboard")
        .map(|(_, rest)| rest)
        .expect("README: Alarms and dashboard");
    let stack = Stack::new(&template, &[]);
    for (name, alarm) in self::alarms(&stack) {
        let suffix = str_of(&alarm["Properties"]["AlarmName"])
            .trim_start_matches(&format!("{}-", cfn::STACK))
            .to_owned();
        assert!(
            alarms.contains(&format!("`{suffix}`")),
            "README's Alarms and dashboard does not explain {name} ({suffix})"
        );
    }
}

/// Every metric of the catalog is written by the functions' code: its constant
/// (`domain::metrics::<NAME>`) is used in `crates/ivs-adapter/src` or `functions/*/src`
/// outside tests. With the writer refusing any metric the catalog does not name
/// (`ivs_adapter::metrics`), an alarm on a catalogued metric is an alarm on a metric the code
/// emits; the publishing, sweeper and end-to-end tests read the emitted figures themselves.
#[test]
fn every_catalogued_metric_is_written_by_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog = std::fs::read_to_string(root.join("crates/domain/src/metrics.rs")).unwrap();
    let constants: Vec<(String, String)> = catalog
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": &str = ")?;
            let value = value.trim_end_matches(';').trim_matches('"');
            metrics::spec(value).map(|_| (name.to_owned(), value.to_owned()))
        })
        .collect();
    assert_eq!(
        constants.len(),
        metrics::METRICS.len(),
        "one constant per catalogued metric"
    );
    let mut sources = String::new();
    let mut dirs = vec![root.join("crates/ivs-adapter/src")];
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        dirs.push(entry.unwrap().path().join("src"));
    }
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit tests do not count.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                sources.push_str(code);
            }
        }
    }
    for (constant, metric) in &constants {
        let used = sources.match_indices(constant.as_str()).any(|(i, _)| {
            let before = sources[..i].chars().last();
            let after = sources[i + constant.len()..].chars().next();
            let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !ident(before) && !ident(after)
        });
        assert!(
            used,
            "{metric} ({constant}) is never written by the functions"
        );
    }
}
