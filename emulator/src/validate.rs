//! Request input: typed access to the members of a JSON request body, and the constraints of the
//! IVS service model (lengths, patterns, ranges, enums, tags). Every failure is a
//! `ValidationException` naming the member, in the wording AWS services use
//! (`1 validation error detected: Value at 'name' failed to satisfy constraint: ...`).
//! Values are not echoed back: some members (metadata payloads, key material) are sensitive.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::IvsError;
use crate::ids::{Arn, ResourceKind};

/// Tags of a resource, ordered by key.
pub type Tags = BTreeMap<String, String>;

/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;

/// A `ValidationException` for a constraint that `field` does not satisfy.
pub fn constraint(field: &str, constraint: &str) -> IvsError {
    IvsError::validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

fn wrong_type(field: &str, expected: &str) -> IvsError {
    IvsError::validation(format!(
        "Value at '{field}' has the wrong type: expected {expected}"
    ))
}

/// The members of a JSON object of a request, with the path that leads to it (for messages).
#[derive(Clone, Debug, Default)]
pub struct Input {
    members: Map<String, Value>,
    path: String,
}

impl Input {
    /// Parses a request body: empty means no members; anything but a JSON object is refused.
    pub fn from_body(body: &[u8]) -> Result<Self, IvsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(members)) => Ok(Self {
                members,
                path: String::new(),
            }),
            Ok(_) => Err(IvsError::validation(
                "The request body must be a JSON object",
            )),
            Err(err) => Err(IvsError::validation(format!(
                "The request body is not valid JSON: {err}"
            ))),
        }
    }

    /// Sets a member (used for members bound to the URI path or query string).
    pub fn set(&mut self, name: &str, value: Value) {
        self.members.insert(name.to_owned(), value);
    }

    /// The full path of member `name`, as messages name it (`destinationConfiguration.s3.bucketName`).
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.members.get(name).filter(|value| !value.is_null())
    }

    fn missing(&self, name: &str) -> IvsError {
        IvsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            self.path_of(name)
        ))
    }

    /// An optional string member.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, IvsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(wrong_type(&self.path_of(name), "a string")),
        }
    }

    /// A required string member.
    pub fn req_str(&self, name: &str) -> Result<&str, IvsError> {
        self.opt_str(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, IvsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(wrong_type(&self.path_of(name), "a boolean")),
        }
    }

    /// A required boolean member.
    pub fn req_bool(&self, name: &str) -> Result<bool, IvsError> {
        self.opt_bool(name)?.ok_or_else(|| self.missing(name))
    }

    /// An optional integer member.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, IvsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(&self.path_of(name), "an integer")),
            Some(_) => Err(wrong_type(&self.path_of(name), "an integer")),
        }
    }

    /// An optional integer member that must lie in `min..=max`.
    pub fn opt_int_in(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, IvsError> {
        let value = self.opt_int(name)?;
        if let Some(value) = value {
            int_range(&self.path_of(name), value, min, max)?;
        }
        Ok(value)
    }

    /// A required integer member that must lie in `min..=max`.
    pub fn req_int_in(&self, name: &str, min: i64, max: i64) -> Result<i64, IvsError> {
        self.opt_int_in(name, min, max)?
            .ok_or_else(|| self.missing(name))
    }

    /// An optional structure member.
    pub fn opt_struct(&self, name: &str) -> Result<Option<Input>, IvsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(members)) => Ok(Some(Input {
                members: members.clone(),
                path: self.path_of(name),
            })),
            Some(_) => Err(wrong_type(&self.path_of(name), "a structure")),
        }
    }

    /// A required structure member.
    pub fn req_struct(&self, name: &str) -> Result<Input, IvsError> {
        self.opt_struct(name)?.ok_or_else(|| self.missing(name))
    }

    fn opt_list(&self, name: &str) -> Result<Option<&Vec<Value>>, IvsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(wrong_type(&self.path_of(name), "a list")),
        }
    }

    /// An optional list of strings.
    pub fn opt_str_list(&self, name: &str) -> Result<Option<Vec<String>>, IvsError> {
        let Some(items) = self.opt_list(name)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(value) => Ok(value.clone()),
                _ => Err(wrong_type(
                    &format!("{}.{}", self.path_of(name), index + 1),
                    "a string",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A required list of strings with `min..=max` members.
    pub fn req_str_list(
        &self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Vec<String>, IvsError> {
        let items = self.opt_str_list(name)?.ok_or_else(|| self.missing(name))?;
        list_length(&self.path_of(name), items.len(), min, max)?;
        Ok(items)
    }

    /// A required list of structures with `min..=max` members.
    pub fn req_struct_list(
        &self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Vec<Input>, IvsError> {
        self.opt_struct_list(name, min, max)?
            .ok_or_else(|| self.missing(name))
    }

    /// An optional list of structures with `min..=max` members (when present).
    pub fn opt_struct_list(
        &self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<Vec<Input>>, IvsError> {
        let Some(items) = self.opt_list(name)? else {
            return Ok(None);
        };
        list_length(&self.path_of(name), items.len(), min, max)?;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let path = format!("{}.{}", self.path_of(name), index + 1);
                match item {
                    Value::Object(members) => Ok(Input {
                        members: members.clone(),
                        path,
                    }),
                    _ => Err(wrong_type(&path, "a structure")),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An optional tag map, checked against the tag constraints.
    pub fn opt_tags(&self, name: &str) -> Result<Option<Tags>, IvsError> {
        let members = match self.get(name) {
            None => return Ok(None),
            Some(Value::Object(members)) => members,
            Some(_) => return Err(wrong_type(&self.path_of(name), "a map of strings")),
        };
        let mut tags = Tags::new();
        for (key, value) in members {
            match value {
                Value::String(value) => {
                    tags.insert(key.clone(), value.clone());
                }
                _ => {
                    return Err(wrong_type(
                        &format!("{}.{key}", self.path_of(name)),
                        "a string",
                    ))
                }
            }
        }
        check_tags(&self.path_of(name), &tags)?;
        Ok(Some(tags))
    }

    /// An optional string member that must be one of `allowed`.
    pub fn opt_enum(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, IvsError> {
        let value = self.opt_str(name)?;
        if let Some(value) = value {
            one_of(&self.path_of(name), value, allowed)?;
        }
        Ok(value.map(str::to_owned))
    }

    /// An optional list of strings, each one of `allowed`.
    pub fn opt_enum_list(
        &self,
        name: &str,
        allowed: &[&str],
    ) -> Result<Option<Vec<String>>, IvsError> {
        let values = self.opt_str_list(name)?;
        for (index, value) in values.iter().flatten().enumerate() {
            one_of(
                &format!("{}.{}", self.path_of(name), index + 1),
                value,
                allowed,
            )?;
        }
        Ok(values)
    }

    /// An optional resource name (`[a-zA-Z0-9-_]*`, at most 128 characters).
    pub fn opt_name(&self, name: &str) -> Result<Option<String>, IvsError> {
        let value = self.opt_str(name)?;
        if let Some(value) = value {
            resource_name(&self.path_of(name), value)?;
        }
        Ok(value.map(str::to_owned))
    }

    /// A required ARN of `kind`.
    pub fn req_arn(&self, name: &str, kind: ResourceKind) -> Result<String, IvsError> {
        let value = self.req_str(name)?;
        arn(&self.path_of(name), value, kind)?;
        Ok(value.to_owned())
    }

    /// An optional ARN of `kind` where the empty string means "none".
    pub fn opt_arn_or_empty(
        &self,
        name: &str,
        kind: ResourceKind,
    ) -> Result<Option<String>, IvsError> {
        let value = self.opt_str(name)?;
        if let Some(value) = value {
            if !value.is_empty() {
                arn(&self.path_of(name), value, kind)?;
            }
        }
        Ok(value.map(str::to_owned))
    }
}

/// `value` must have `min..=max` characters.
pub fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), IvsError> {
    list_length(field, value.chars().count(), min, max)
}

/// A list must have `min..=max` members (strings: characters).
pub fn list_length(field: &str, count: usize, min: usize, max: usize) -> Result<(), IvsError> {
    within(field, "length", count, min, max)
}

/// `value` must lie in `min..=max`.
pub fn int_range(field: &str, value: i64, min: i64, max: i64) -> Result<(), IvsError> {
    within(field, "value", value, min, max)
}

/// The member's `measure` (`length` or `value`) must lie in `min..=max`.
fn within<T: PartialOrd + std::fmt::Display>(
    field: &str,
    measure: &str,
    actual: T,
    min: T,
    max: T,
) -> Result<(), IvsError> {
    if actual < min {
        return Err(constraint(
            field,
            &format!("Member must have {measure} greater than or equal to {min}"),
        ));
    }
    if actual > max {
        return Err(constraint(
            field,
            &format!("Member must have {measure} less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `value` must be one of `allowed`.
pub fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), IvsError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(constraint(
            field,
            &format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ))
    }
}

/// A resource name: `[a-zA-Z0-9-_]*`, 0 to 128 characters.
pub fn resource_name(field: &str, value: &str) -> Result<(), IvsError> {
    length(field, value, 0, 128)?;
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(constraint(
            field,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]*",
        ))
    }
}

/// An ARN of `kind`: at most 128 characters, `arn:aws:ivs:[a-z0-9-]+:[0-9]+:<type>/[a-zA-Z0-9-]+`.
pub fn arn(field: &str, value: &str, kind: ResourceKind) -> Result<(), IvsError> {
    length(field, value, 1, 128)?;
    match Arn::parse(value) {
        Some(parsed) if parsed.kind == kind => Ok(()),
        _ => Err(constraint(
            field,
            &format!(
                "Member must satisfy regular expression pattern: arn:aws:ivs:[a-z0-9-]+:[0-9]+:{kind}/[a-zA-Z0-9-]+"
            ),
        )),
    }
}

/// An ARN of any taggable IVS resource.
pub fn resource_arn(field: &str, value: &str) -> Result<(), IvsError> {
    length(field, value, 1, 128)?;
    if Arn::parse(value).is_some() {
        Ok(())
    } else {
        Err(constraint(
            field,
            "Member must satisfy regular expression pattern: arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]+/[a-zA-Z0-9-]+",
        ))
    }
}

/// A stream id: 26 characters, `st-[a-zA-Z0-9]+`.
pub fn stream_id(field: &str, value: &str) -> Result<(), IvsError> {
    length(field, value, 26, 26)?;
    match value.strip_prefix("st-") {
        Some(rest) if rest.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(()),
        _ => Err(constraint(
            field,
            "Member must satisfy regular expression pattern: st-[a-zA-Z0-9]+",
        )),
    }
}

/// A pagination token: at most 1024 characters of `[a-zA-Z0-9+/=_-]`.
pub fn pagination_token(field: &str, value: &str) -> Result<(), IvsError> {
    length(field, value, 0, 1024)?;
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b))
    {
        Ok(())
    } else {
        Err(constraint(
            field,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9+/=_-]*",
        ))
    }
}

/// Characters of the tag patterns: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

/// A tag key: 1 to 128 characters of the tag pattern, not starting with the reserved `aws:`.
pub fn tag_key(field: &str, key: &str) -> Result<(), IvsError> {
    length(field, key, 1, 128)?;
    if !key.chars().all(is_tag_char) {
        return Err(constraint(
            field,
            "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(IvsError::validation(format!(
            "Value at '{field}' failed to satisfy constraint: the aws: prefix is reserved for AWS use"
        )));
    }
    Ok(())
}

/// Tags: at most 50, with valid keys and values (0 to 256 characters of the tag pattern).
pub fn check_tags(field: &str, tags: &Tags) -> Result<(), IvsError> {
    if tags.len() > MAX_TAGS {
        return Err(constraint(
            field,
            &format!("Member must have length less than or equal to {MAX_TAGS}"),
        ));
    }
    for (key, value) in tags {
        tag_key(&format!("{field}.key"), key)?;
        length(&format!("{field}.{key}"), value, 0, 256)?;
        if !value.chars().all(is_tag_char) {
            return Err(constraint(
                &format!("{field}.{key}"),
                "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn input(json: &str) -> Input {
        Input::from_body(json.as_bytes()).unwrap()
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(Input::from_body(b"").is_ok());
        assert!(Input::from_body(b"  \n").is_ok());
        for bad in ["[]", "\"x\"", "{", "{\"a\": }", "null"] {
            let err = Input::from_body(bad.as_bytes()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Validation, "{bad}");
        }
    }

    #[test]
    fn typed_access_names_the_member() {
        let body = input(
            r#"{"name": 5, "authorized": "yes", "tags": {"a": 1}, "n": 1.5, "s": {"x": {"y": true}}}"#,
        );
        assert!(body.opt_str("name").unwrap_err().message.contains("'name'"));
        assert!(body
            .opt_bool("authorized")
            .unwrap_err()
            .message
            .contains("'authorized'"));
        assert!(body
            .opt_tags("tags")
            .unwrap_err()
            .message
            .contains("'tags.a'"));
        assert!(body.opt_int("n").unwrap_err().message.contains("'n'"));
        let nested = body.req_struct("s").unwrap().req_struct("x").unwrap();
        assert!(nested.opt_str("y").unwrap_err().message.contains("'s.x.y'"));
        let missing = body.req_str("arn").unwrap_err();
        assert!(
            missing.message.contains("Value null at 'arn'"),
            "{}",
            missing.message
        );
        assert_eq!(input(r#"{"name": null}"#).opt_str("name").unwrap(), None);
    }

    #[test]
    fn names_arns_and_enums() {
        assert!(resource_name("name", "").is_ok());
        assert!(resource_name("name", "a-b_C9").is_ok());
        assert!(resource_name("name", "a b").is_err());
        assert!(resource_name("name", &"a".repeat(128)).is_ok());
        assert!(resource_name("name", &"a".repeat(129)).is_err());
        let channel = "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456";
        assert!(arn("arn", channel, ResourceKind::Channel).is_ok());
        assert!(arn("arn", channel, ResourceKind::StreamKey).is_err());
        let long = format!(
            "arn:aws:ivs:us-west-2:111122223333:channel/{}",
            "a".repeat(90)
        );
        assert!(arn("arn", &long, ResourceKind::Channel).is_err());
        assert!(one_of("latencyMode", "LOW", &["NORMAL", "LOW"]).is_ok());
        let err = one_of("latencyMode", "low", &["NORMAL", "LOW"]).unwrap_err();
        assert!(err.message.contains("enum value set: [NORMAL, LOW]"));
        assert!(stream_id("streamId", "st-1AbCdEfGhIjKlMnOpQrStUv").is_ok());
        assert!(stream_id("streamId", "st-1AbCdEfGhIjKlMnOpQrStU").is_err());
        assert!(stream_id("streamId", "xx-1AbCdEfGhIjKlMnOpQrStUv").is_err());
    }

    #[test]
    fn tag_constraints() {
        let ok: Tags = [
            ("team".to_owned(), "video ops".to_owned()),
            ("k".to_owned(), String::new()),
        ]
        .into();
        assert!(check_tags("tags", &ok).is_ok());
        let reserved: Tags = [("aws:owner".to_owned(), "x".to_owned())].into();
        assert!(check_tags("tags", &reserved).is_err());
        let long_key: Tags = [("k".repeat(129), "x".to_owned())].into();
        assert!(check_tags("tags", &long_key).is_err());
        let long_value: Tags = [("k".to_owned(), "v".repeat(257))].into();
        assert!(check_tags("tags", &long_value).is_err());
        let max_value: Tags = [("k".to_owned(), "v".repeat(256))].into();
        assert!(check_tags("tags", &max_value).is_ok());
        let bad_char: Tags = [("k#".to_owned(), "v".to_owned())].into();
        assert!(check_tags("tags", &bad_char).is_err());
        let too_many: Tags = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check_tags("tags", &too_many).is_err());
        let fifty: Tags = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check_tags("tags", &fifty).is_ok());
    }

    #[test]
    fn integer_ranges() {
        let body = input(r#"{"maxResults": 0, "ok": 50}"#);
        assert!(body.opt_int_in("maxResults", 1, 100).is_err());
        assert_eq!(body.opt_int_in("ok", 1, 50).unwrap(), Some(50));
        assert!(body.opt_int_in("ok", 1, 49).is_err());
    }
}
