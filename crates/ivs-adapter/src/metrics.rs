//! The functions' metrics, in CloudWatch Embedded Metric Format (EMF): JSON lines on stdout
//! that CloudWatch Logs turns into metrics, with no API call and no extra latency.
//!
//! A function counts what it does during an invocation ([`Metrics::count`],
//! [`Metrics::value`]) and writes the figures once at its end ([`Metrics::flush`]): one EMF
//! document per dimension set, formatted by the `metrics_cloudwatch_embedded` crate (a
//! backend of the `metrics` facade, installed as the process's recorder on first use). The
//! figures are kept here until the flush, which hands them to that recorder and writes them
//! out under one lock: a flush writes exactly this object's figures, even when several
//! `Metrics` share a process (tests).
//!
//! Only what the catalog (`domain::metrics::METRICS`) names is written, with one of its
//! dimension sets: the template's alarms and dashboard read exactly these. The `Function`
//! dimension is added by the writer wherever the catalog has it.
//!
//! Settings: `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use metrics::Label;
use metrics_cloudwatch_embedded::{Builder, Collector};
use tracing::warn;

use domain::metrics::{self as catalog, Unit, DEFAULT_NAMESPACE, DIM_FUNCTION};

/// The namespace variable.
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

type Dims = Vec<(&'static str, String)>;

#[derive(Default)]
struct Figures {
    counts: BTreeMap<(&'static str, Dims), u64>,
    values: BTreeMap<(&'static str, Dims), Vec<f64>>,
}

/// One function's metrics (see the module's documentation).
pub struct Metrics {
    function: &'static str,
    namespace: String,
    figures: Mutex<Figures>,
}

/// The process's EMF recorder (`None` when another recorder was installed first), and the
/// lock every flush holds.
static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();
static FLUSH: Mutex<()> = Mutex::new(());

fn collector(namespace: &str) -> Option<&'static Collector> {
    *COLLECTOR.get_or_init(|| {
        Builder::new()
            .cloudwatch_namespace(namespace.to_owned())
            .init()
            .map_err(
                |e| warn!(error = %e, "the metrics recorder could not be installed: no metrics"),
            )
            .ok()
    })
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("function", &self.function)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics of `function` (the `Function` dimension) in `namespace`.
    pub fn new(function: &'static str, namespace: impl Into<String>) -> Self {
        Metrics {
            function,
            namespace: namespace.into(),
            figures: Mutex::new(Figures::default()),
        }
    }

    /// Metrics of `function` in `METRICS_NAMESPACE` (or [`DEFAULT_NAMESPACE`]).
    pub fn from_env(function: &'static str) -> Self {
        let namespace = std::env::var(METRICS_NAMESPACE)
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        Self::new(function, namespace)
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    /// The catalog's dimensions for `name` written with `dims`: `Function` added first when
    /// the catalog has it there; `None` (and a warning) when the catalog has neither.
    fn dimensions(&self, name: &'static str, dims: &[(&'static str, &str)]) -> Option<Dims> {
        let names: Vec<&str> = dims.iter().map(|(d, _)| *d).collect();
        let with_function: Vec<&str> = std::iter::once(DIM_FUNCTION)
            .chain(names.iter().copied())
            .collect();
        let own = |dims: &[(&'static str, &str)]| -> Dims {
            dims.iter().map(|(d, v)| (*d, (*v).to_owned())).collect()
        };
        if catalog::allows(name, &with_function) {
            let mut all = vec![(DIM_FUNCTION, self.function.to_owned())];
            all.extend(own(dims));
            Some(all)
        } else if catalog::allows(name, &names) {
            Some(own(dims))
        } else {
            warn!(
                metric = name,
                dimensions = ?names,
                "a metric the catalog does not name with these dimensions: not written"
            );
            None
        }
    }

    /// Adds `n` to the count `name` with `dims`.
    pub fn count(&self, name: &'static str, dims: &[(&'static str, &str)], n: u64) {
        let Some(dims) = self.dimensions(name, dims) else {
            return;
        };
        if let Ok(mut figures) = self.figures.lock() {
            *figures.counts.entry((name, dims)).or_default() += n;
        }
    }

    /// Records one value of `name` (a distribution: CloudWatch keeps its percentiles).
    pub fn value(&self, name: &'static str, dims: &[(&'static str, &str)], value: f64) {
        let Some(dims) = self.dimensions(name, dims) else {
            return;
        };
        if let Ok(mut figures) = self.figures.lock() {
            figures.values.entry((name, dims)).or_default().push(value);
        }
    }

    /// The EMF lines of everything counted since the last flush (empty when nothing was),
    /// and a fresh start.
    pub fn take_emf(&self) -> Vec<u8> {
        let figures = match self.figures.lock() {
            Ok(mut figures) => std::mem::take(&mut *figures),
            Err(_) => return Vec::new(),
        };
        if figures.counts.is_empty() && figures.values.is_empty() {
            return Vec::new();
        }
        let Some(collector) = collector(&self.namespace) else {
            return Vec::new();
        };
        let labels = |dims: &Dims| -> Vec<Label> {
            dims.iter()
                .map(|(d, v)| Label::new(*d, v.clone()))
                .collect()
        };
        let unit = |name: &str| match catalog::spec(name).map(|m| m.unit) {
            Some(Unit::Milliseconds) => metrics::Unit::Milliseconds,
            Some(Unit::Seconds) => metrics::Unit::Seconds,
            _ => metrics::Unit::Count,
        };
        let _flushing = FLUSH
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((name, dims), n) in &figures.counts {
            metrics::describe_counter!(*name, unit(name), "");
            metrics::counter!(*name, labels(dims)).increment(*n);
        }
        for ((name, dims), values) in &figures.values {
            metrics::describe_histogram!(*name, unit(name), "");
            let histogram = metrics::histogram!(*name, labels(dims));
            // EMF takes at most 100 values per metric and document.
            for value in values.iter().take(100) {
                histogram.record(*value);
            }
        }
        let mut out = Vec::new();
        if let Err(e) = collector.flush(&mut out) {
            warn!(error = %e, "the metrics could not be formatted");
        }
        out
    }

    /// Writes everything counted since the last flush to stdout, in one write (the lines
    /// never interleave with the log's).
    pub fn flush(&self) {
        let emf = self.take_emf();
        if emf.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(&emf).and_then(|()| stdout.flush()) {
            warn!(error = %e, "the metrics could not be written");
        }
    }
}

/// One metric of one EMF document, as [`read_emf`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct EmfFigure {
    pub name: String,
    /// `(dimension, value)` pairs, in the document's order.
    pub dimensions: Vec<(String, String)>,
    pub values: Vec<f64>,
}

impl EmfFigure {
    /// Whether this figure has exactly these dimensions (in any order).
    pub fn has_dimensions(&self, dims: &[(&str, &str)]) -> bool {
        self.dimensions.len() == dims.len()
            && dims
                .iter()
                .all(|(k, v)| self.dimensions.iter().any(|(dk, dv)| dk == k && dv == v))
    }
}

/// The figures of EMF lines (other lines are skipped), for tests and the local view.
pub fn read_emf(lines: &str) -> Vec<EmfFigure> {
    let mut out = Vec::new();
    for line in lines.lines() {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(directives) = doc
            .pointer("/_aws/CloudWatchMetrics")
            .and_then(|d| d.as_array())
        else {
            continue;
        };
        for directive in directives {
            let dims: Vec<(String, String)> = directive
                .pointer("/Dimensions/0")
                .and_then(|d| d.as_array())
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str())
                        .map(|n| {
                            let v = doc.get(n).and_then(|v| v.as_str()).unwrap_or("");
                            (n.to_owned(), v.to_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            for metric in directive
                .get("Metrics")
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
            {
                let Some(name) = metric.get("Name").and_then(|n| n.as_str()) else {
                    continue;
                };
                let values = match doc.get(name) {
                    Some(serde_json::Value::Array(vs)) => {
                        vs.iter().filter_map(|v| v.as_f64()).collect()
                    }
                    Some(v) => v.as_f64().into_iter().collect(),
                    None => Vec::new(),
                };
                out.push(EmfFigure {
                    name: name.to_owned(),
                    dimensions: dims.clone(),
                    values,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::metrics::{DIM_OPERATION, EVENT_AGE, IVS_CALLS, IVS_THROTTLED};

    #[test]
    fn writes_the_catalogs_metrics_with_function_where_it_belongs() {
        let m = Metrics::new("stream-events", "Test");
        m.count(IVS_CALLS, &[(DIM_OPERATION, "PutMetadata")], 2);
        m.count(IVS_CALLS, &[(DIM_OPERATION, "PutMetadata")], 1);
        m.count(IVS_CALLS, &[], 3);
        m.count(IVS_THROTTLED, &[(DIM_OPERATION, "PutMetadata")], 1);
        m.value(EVENT_AGE, &[], 120.0);
        m.value(EVENT_AGE, &[], 80.0);
        m.count("ChannelArn", &[], 1);
        let emf = String::from_utf8(m.take_emf()).unwrap();
        for line in emf.lines() {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"].is_string());
            assert!(doc["_aws"]["Timestamp"].as_u64().is_some());
        }
        let figures = read_emf(&emf);
        let find = |name: &str, dims: &[(&str, &str)]| {
            figures
                .iter()
                .find(|f| f.name == name && f.has_dimensions(dims))
                .map(|f| f.values.clone())
        };
        let op = [("Function", "stream-events"), ("Operation", "PutMetadata")];
        assert_eq!(find(IVS_CALLS, &op), Some(vec![3.0]));
        assert_eq!(find(IVS_CALLS, &[]), Some(vec![3.0]));
        assert_eq!(find(IVS_THROTTLED, &op), Some(vec![1.0]));
        assert_eq!(
            find(EVENT_AGE, &[("Function", "stream-events")]),
            Some(vec![120.0, 80.0])
        );
        assert!(figures.iter().all(|f| f.name != "ChannelArn"));
        assert!(emf.contains("\"Unit\":\"Milliseconds\""), "{emf}");
        // Flushed: nothing left.
        assert!(m.take_emf().is_empty());
    }
}
