//! `template.yaml` as the template tests read it: YAML with CloudFormation's short-form tags
//! (`!Ref`, `!Sub`, `!If`, `!GetAtt a.b`…) turned into their long JSON form (`{"Ref": …}`,
//! `{"Fn::Sub": …}`…), and a small evaluator of the intrinsics the template uses, so that a
//! test can look at the stack CloudFormation would create for given parameter values.
//!
//! What it evaluates: `Ref` to parameters and pseudo parameters (`AWS::NoValue` removes the
//! value, as in CloudFormation), `Fn::If` with the template's conditions, `Fn::Equals`,
//! `Fn::Not`, `Fn::And`, `Fn::Or`, `Fn::Join`, `Fn::Split`, and `Fn::Sub` of parameters and
//! pseudo parameters. References to resources (`Ref`, `Fn::GetAtt`, `${Resource}` in a
//! `Fn::Sub`) are left as they are: they are what a test checks.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::{Map, Value};

pub const REGION: &str = "us-west-2";
pub const ACCOUNT: &str = "111122223333";
pub const STACK: &str = "ivs-automation";

pub fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

/// The template, in long form.
pub fn template() -> Value {
    let text = std::fs::read_to_string(template_path()).expect("template.yaml is readable");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&text).expect("template.yaml is valid YAML");
    long_form(yaml)
}

/// YAML (tags included) to JSON, each CloudFormation tag as its long form.
pub fn long_form(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).expect("a YAML number is a JSON number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => n.to_string(),
                        other => panic!("unexpected mapping key {other:?}"),
                    };
                    (key, long_form(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = long_form(tagged.value);
            let (key, value) = match name {
                "Ref" | "Condition" => (name.to_owned(), value),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) = s
                            .split_once('.')
                            .unwrap_or_else(|| panic!("!GetAtt {s}: expected Resource.Attribute"));
                        (
                            "Fn::GetAtt".to_owned(),
                            Value::Array(vec![resource.into(), attribute.into()]),
                        )
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                other => (format!("Fn::{other}"), value),
            };
            let mut object = Map::new();
            object.insert(key, value);
            Value::Object(object)
        }
    }
}

/// The stack CloudFormation would create from the template with some parameter values.
pub struct Stack<'a> {
    pub template: &'a Value,
    pub parameters: HashMap<String, Value>,
    pub conditions: HashMap<String, bool>,
}

impl<'a> Stack<'a> {
    /// Parameters take their defaults, then `overrides` (`Name`, value as `sam deploy
    /// --parameter-overrides` would give it).
    pub fn new(template: &'a Value, overrides: &[(&str, &str)]) -> Stack<'a> {
        let declared = template["Parameters"]
            .as_object()
            .expect("the template has parameters");
        for (name, _) in overrides {
            assert!(declared.contains_key(*name), "no parameter {name}");
        }
        let mut parameters = HashMap::new();
        for (name, spec) in declared {
            let raw = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| match &spec["Default"] {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("parameter {name} has no default and no value"));
            let value = match spec["Type"].as_str() {
                Some("CommaDelimitedList") => Value::Array(
                    raw.split(',')
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ),
                // A Ref to a Number parameter is a string in CloudFormation too.
                _ => Value::String(raw),
            };
            parameters.insert(name.clone(), value);
        }
        for (name, value) in [
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::Partition", "aws"),
            ("AWS::StackName", STACK),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            parameters.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        let mut stack = Stack {
            template,
            parameters,
            conditions: HashMap::new(),
        };
        let declared: BTreeMap<String, Value> = template["Conditions"]
            .as_object()
            .map(|c| c.clone().into_iter().collect())
            .unwrap_or_default();
        // Conditions may refer to one another: evaluate until all are known.
        while stack.conditions.len() < declared.len() {
            let before = stack.conditions.len();
            for (name, expr) in &declared {
                if !stack.conditions.contains_key(name) {
                    if let Some(b) = stack.try_condition(expr) {
                        stack.conditions.insert(name.clone(), b);
                    }
                }
            }
            assert!(
                stack.conditions.len() > before,
                "conditions cannot be evaluated"
            );
        }
        stack
    }

    fn try_condition(&self, expr: &Value) -> Option<bool> {
        if let Some(name) = expr.get("Condition").and_then(Value::as_str) {
            return self.conditions.get(name).copied();
        }
        let (function, args) = single(expr)?;
        let args = args.as_array()?;
        match function {
            "Fn::Equals" => Some(self.resolve(&args[0])? == self.resolve(&args[1])?),
            "Fn::Not" => Some(!self.try_condition(&args[0])?),
            "Fn::And" => args
                .iter()
                .map(|a| self.try_condition(a))
                .collect::<Option<Vec<bool>>>()
                .map(|v| v.into_iter().all(|b| b)),
            "Fn::Or" => args
                .iter()
                .map(|a| self.try_condition(a))
                .collect::<Option<Vec<bool>>>()
                .map(|v| v.into_iter().any(|b| b)),
            _ => None,
        }
    }

    pub fn condition(&self, name: &str) -> bool {
        *self
            .conditions
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"))
    }

    /// `value` with the intrinsics above evaluated; `None` when it is `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|v| self.resolve(v)).collect(),
            )),
            Value::Object(map) => {
                if let Some((function, args)) = single(value) {
                    if let Some(result) = self.intrinsic(function, args) {
                        return result;
                    }
                }
                Some(Value::Object(
                    map.iter()
                        .filter_map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
                        .collect(),
                ))
            }
            other => Some(other.clone()),
        }
    }

    /// `Some(result)` when `function` is one this evaluator knows, else `None`.
    fn intrinsic(&self, function: &str, args: &Value) -> Option<Option<Value>> {
        match function {
            "Ref" => {
                let name = args.as_str()?;
                if name == "AWS::NoValue" {
                    return Some(None);
                }
                // A resource: left as it is.
                self.parameters.get(name).map(|v| Some(v.clone()))
            }
            "Fn::If" => {
                let args = args.as_array()?;
                let chosen = if self.condition(args[0].as_str()?) {
                    &args[1]
                } else {
                    &args[2]
                };
                Some(self.resolve(chosen))
            }
            "Fn::Join" => {
                let args = args.as_array()?;
                let delimiter = args[0].as_str()?;
                let items = self.resolve(&args[1])?;
                let parts: Option<Vec<&str>> =
                    items.as_array()?.iter().map(Value::as_str).collect();
                Some(Some(Value::String(parts?.join(delimiter))))
            }
            "Fn::Split" => {
                let args = args.as_array()?;
                let delimiter = args[0].as_str()?;
                let source = self.resolve(&args[1])?;
                Some(Some(Value::Array(
                    source
                        .as_str()?
                        .split(delimiter)
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                )))
            }
            "Fn::Sub" => {
                let text = args.as_str()?;
                Some(Some(Value::String(self.substitute(text))))
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" | "Condition" => {
                let mut object = Map::new();
                object.insert(function.to_owned(), args.clone());
                self.try_condition(&Value::Object(object))
                    .map(|b| Some(Value::Bool(b)))
            }
            _ => None,
        }
    }

    /// `${Name}` of parameters and pseudo parameters replaced; other references kept.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("a closed ${…} in Fn::Sub");
            let name = &after[..end];
            match self.parameters.get(name).and_then(Value::as_str) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The resources of the stack (those whose `Condition` holds), intrinsics evaluated.
    pub fn resources(&self) -> BTreeMap<String, Value> {
        self.template["Resources"]
            .as_object()
            .expect("the template has resources")
            .iter()
            .filter(|(_, r)| {
                r.get("Condition")
                    .and_then(Value::as_str)
                    .is_none_or(|c| self.condition(c))
            })
            .map(|(name, r)| (name.clone(), self.resolve(r).expect("a resource")))
            .collect()
    }

    /// A function's property, from the function or else from `Globals.Function`.
    pub fn function_property(&self, function: &str, property: &str) -> Option<Value> {
        let own = &self.template["Resources"][function]["Properties"][property];
        let global = &self.template["Globals"]["Function"][property];
        let chosen = if own.is_null() { global } else { own };
        if chosen.is_null() {
            None
        } else {
            self.resolve(chosen)
        }
    }
}

/// The only key of an object and its value.
fn single(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// The resources of one type, by logical id.
pub fn of_type<'r>(
    resources: &'r BTreeMap<String, Value>,
    kind: &str,
) -> Vec<(&'r str, &'r Value)> {
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(n, r)| (n.as_str(), r))
        .collect()
}

/// `{"Fn::GetAtt": [resource, attribute]}` → (resource, attribute).
pub fn get_att(value: &Value) -> Option<(&str, &str)> {
    let args = value.get("Fn::GetAtt")?.as_array()?;
    Some((args.first()?.as_str()?, args.get(1)?.as_str()?))
}

/// `{"Ref": name}` → name.
pub fn reference(value: &Value) -> Option<&str> {
    value.get("Ref")?.as_str()
}

/// A value that may be one item or a list, as a list.
pub fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}
