//! Timed-metadata templates: text with `{placeholder}`s filled from the event.

use std::fmt;

use crate::arn::MAX_ARN_LEN;
use crate::metadata::MAX_METADATA_BYTES;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "channel_name",
    "channel_arn",
    "channel_id",
    "stream_id",
    "event_time",
];

/// Values for a template's placeholders. Values are inserted JSON-string-escaped, so a
/// template that puts a placeholder inside a JSON string stays valid JSON whatever the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateValues<'a> {
    pub channel_name: &'a str,
    pub channel_arn: &'a str,
    pub channel_id: &'a str,
    pub stream_id: &'a str,
    pub event_time: &'a str,
}

impl TemplateValues<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "channel_name" => self.channel_name,
            "channel_arn" => self.channel_arn,
            "channel_id" => self.channel_id,
            "stream_id" => self.stream_id,
            "event_time" => self.event_time,
            _ => return None,
        })
    }
}

/// A validated template.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is empty")]
    Empty,
    #[error("unknown placeholder {{{0}}} (known: {{channel_name}}, {{channel_arn}}, {{channel_id}}, {{stream_id}}, {{event_time}})")]
    UnknownPlaceholder(String),
    #[error("with the longest values IVS allows, the template renders to {0} bytes; timed metadata is at most {MAX_METADATA_BYTES}")]
    TooLong(usize),
}

impl Template {
    /// Validates a template: it is not empty, every `{identifier}` is a known placeholder
    /// (other braces, as in JSON, are left alone), and it renders within IVS's 1 KB limit
    /// even with the longest values IVS allows.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if source.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        for segment in segments(source) {
            if let Segment::Placeholder(name) = segment {
                if !PLACEHOLDERS.contains(&name) {
                    return Err(TemplateError::UnknownPlaceholder(name.to_owned()));
                }
            }
        }
        let template = Template {
            source: source.to_owned(),
        };
        let longest_name = "n".repeat(128);
        let longest_arn = "a".repeat(MAX_ARN_LEN);
        let worst = template.render(&TemplateValues {
            channel_name: &longest_name,
            channel_arn: &longest_arn,
            channel_id: "AbCdEf123456",
            stream_id: "st-1AbCdEfGhIjKlMnOpQrStUv",
            event_time: "2026-01-05T10:00:00.000Z",
        });
        if worst.len() > MAX_METADATA_BYTES {
            return Err(TemplateError::TooLong(worst.len()));
        }
        Ok(template)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn render(&self, values: &TemplateValues<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 64);
        for segment in segments(&self.source) {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Placeholder(name) => match values.get(name) {
                    Some(v) => push_json_escaped(&mut out, v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
        out
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

enum Segment<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into text and `{identifier}` placeholders (identifier = lowercase
/// letters, digits, '_', starting with a letter).
fn segments(source: &str) -> impl Iterator<Item = Segment<'_>> {
    let mut rest = source;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut search_from = 0;
        while let Some(open) = rest[search_from..].find('{').map(|i| i + search_from) {
            let after = &rest[open + 1..];
            let ident_len = after
                .bytes()
                .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
                .count();
            let is_placeholder = ident_len > 0
                && after.as_bytes()[0].is_ascii_lowercase()
                && after.as_bytes().get(ident_len) == Some(&b'}');
            if is_placeholder {
                if open > 0 {
                    let text = &rest[..open];
                    rest = &rest[open..];
                    return Some(Segment::Text(text));
                }
                let name = &after[..ident_len];
                rest = &after[ident_len + 1..];
                return Some(Segment::Placeholder(name));
            }
            search_from = open + 1;
        }
        let text = rest;
        rest = "";
        Some(Segment::Text(text))
    })
}

fn push_json_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues<'static> {
        TemplateValues {
            channel_name: "demo",
            channel_arn: "arn:aws:ivs:us-west-2:111122223333:channel/AbCdEf123456",
            channel_id: "AbCdEf123456",
            stream_id: "st-1AbCdEfGhIjKlMnOpQrStUv",
            event_time: "2026-01-05T10:00:00.000Z",
        }
    }

    #[test]
    fn renders_every_placeholder_and_leaves_json_braces() {
        let t = Template::parse(
            r#"{"n":"{channel_name}","a":"{channel_arn}","i":"{channel_id}","s":"{stream_id}","t":"{event_time}"}"#,
        )
        .unwrap();
        let out = t.render(&values());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["n"], "demo");
        assert_eq!(v["a"], values().channel_arn);
        assert_eq!(v["i"], "AbCdEf123456");
        assert_eq!(v["s"], "st-1AbCdEfGhIjKlMnOpQrStUv");
        assert_eq!(v["t"], "2026-01-05T10:00:00.000Z");
    }

    #[test]
    fn values_are_json_escaped() {
        let t = Template::parse(r#"{"n":"{channel_name}"}"#).unwrap();
        let out = t.render(&TemplateValues {
            channel_name: "a\"b\\c\n\u{1}",
            ..values()
        });
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["n"], "a\"b\\c\n\u{1}");
    }

    #[test]
    fn rejects_bad_templates_clearly() {
        assert_eq!(Template::parse("  "), Err(TemplateError::Empty));
        let err = Template::parse("live: {streamid}").unwrap_err();
        assert_eq!(err, TemplateError::UnknownPlaceholder("streamid".into()));
        assert!(err.to_string().contains("{streamid}"));
        assert!(matches!(
            Template::parse(&format!("{}{{channel_arn}}", "x".repeat(900))),
            Err(TemplateError::TooLong(_))
        ));
        // Not placeholders: left as they are.
        let t = Template::parse("{} {A} {1x} {a-b} {unclosed").unwrap();
        assert_eq!(t.render(&values()), "{} {A} {1x} {a-b} {unclosed");
        let t = Template::parse("{{stream_id}}").unwrap();
        assert_eq!(t.render(&values()), "{st-1AbCdEfGhIjKlMnOpQrStUv}");
    }

    #[test]
    fn multibyte_text_survives() {
        let t = Template::parse("é{stream_id}🎥").unwrap();
        assert_eq!(t.render(&values()), "ést-1AbCdEfGhIjKlMnOpQrStUv🎥");
    }
}
