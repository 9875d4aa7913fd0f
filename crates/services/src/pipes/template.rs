//! Pipes' `InputTemplate`: text with placeholders that EventBridge Pipes fills from each event
//! (AWS's "input transformation"):
//! - `<$.path>`: a JSONPath into the event (an SQS record's JSON `body` is parsed for it, so
//!   `<$.body.orderId>` reads the body's field);
//! - the reserved variables `<aws.pipes.pipe-arn>`, `<aws.pipes.pipe-name>`,
//!   `<aws.pipes.source-arn>`, `<aws.pipes.enrichment-arn>`, `<aws.pipes.target-arn>`,
//!   `<aws.pipes.event.ingestion-time>`, `<aws.pipes.event>` (the event as received) and
//!   `<aws.pipes.event.json>` (the same with its encoded JSON fields decoded; a JSON value,
//!   so only outside quotes).
//!
//! A template whose text starts with `{` or `[` is JSON: a placeholder inside a string gets
//! the value's text, escaped for JSON (a missing value: nothing); outside one it gets the
//! value as JSON (a missing value: `null`), and the result must be JSON. Any other template is
//! text: strings go in as they are, other values as their JSON.

use serde_json::Value;
use sluice_asl::Scope;
use sluice_asl::path::Path;

/// What a template cannot be, as the `ValidationException` message says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("Unsupported variable <{0}> in InputTemplate.")]
    UnknownVariable(String),
    #[error("Invalid JSON path <{path}> in InputTemplate: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error(
        "<aws.pipes.event.json> can only be used as a JSON value, outside quotes, in InputTemplate."
    )]
    JsonVariableInText,
    #[error("InputTemplate is not valid JSON once its placeholders are filled: {0}")]
    NotJson(String),
}

/// A reserved variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variable {
    PipeArn,
    PipeName,
    SourceArn,
    EnrichmentArn,
    TargetArn,
    IngestionTime,
    Event,
    EventJson,
}

impl Variable {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "aws.pipes.pipe-arn" => Self::PipeArn,
            "aws.pipes.pipe-name" => Self::PipeName,
            "aws.pipes.source-arn" => Self::SourceArn,
            "aws.pipes.enrichment-arn" => Self::EnrichmentArn,
            "aws.pipes.target-arn" => Self::TargetArn,
            "aws.pipes.event.ingestion-time" => Self::IngestionTime,
            "aws.pipes.event" => Self::Event,
            "aws.pipes.event.json" => Self::EventJson,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
enum Fill {
    Path(Path),
    Variable(Variable),
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Placeholder { value: Fill, quoted: bool },
}

/// A parsed, validated template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    json: bool,
}

/// What the reserved variables stand for while one event is rendered.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub pipe_arn: &'a str,
    pub pipe_name: &'a str,
    pub source_arn: &'a str,
    pub enrichment_arn: &'a str,
    pub target_arn: &'a str,
    /// ISO 8601.
    pub ingestion_time: &'a str,
}

/// One event as the template sees it: as received (`<aws.pipes.event>`) and with its encoded
/// JSON fields decoded (paths and `<aws.pipes.event.json>`).
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub raw: &'a Value,
    pub decoded: &'a Value,
}

impl Template {
    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let json = matches!(text.trim_start().chars().next(), Some('{' | '['));
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut in_string = false;
        let mut escaped = false;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if c == '<'
                && let Some(end) = rest.find('>')
                && let inner = &rest[1..end]
                && (inner.starts_with('$') || inner.starts_with("aws."))
            {
                let value = if inner.starts_with('$') {
                    let path = Path::parse(inner).map_err(|e| TemplateError::InvalidPath {
                        path: inner.to_owned(),
                        reason: e.to_string(),
                    })?;
                    if path.variable().is_some() || inner.starts_with("$$") {
                        return Err(TemplateError::InvalidPath {
                            path: inner.to_owned(),
                            reason: "a path starts with $.".into(),
                        });
                    }
                    Fill::Path(path)
                } else {
                    let variable = Variable::parse(inner)
                        .ok_or_else(|| TemplateError::UnknownVariable(inner.to_owned()))?;
                    if variable == Variable::EventJson && (in_string || !json) {
                        return Err(TemplateError::JsonVariableInText);
                    }
                    Fill::Variable(variable)
                };
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Placeholder {
                    value,
                    quoted: in_string,
                });
                rest = &rest[end + 1..];
                escaped = false;
                continue;
            }
            if json {
                if escaped {
                    escaped = false;
                } else if in_string && c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = !in_string;
                }
            }
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        let template = Self { parts, json };
        if json {
            // The shape must be JSON whatever the values: checked with stand-ins.
            let sample = Value::Object(serde_json::Map::new());
            let context = Context {
                pipe_arn: "",
                pipe_name: "",
                source_arn: "",
                enrichment_arn: "",
                target_arn: "",
                ingestion_time: "",
            };
            let text = template.render(
                Event {
                    raw: &sample,
                    decoded: &sample,
                },
                &context,
            );
            serde_json::from_str::<Value>(&text)
                .map_err(|e| TemplateError::NotJson(e.to_string()))?;
        }
        Ok(template)
    }

    /// Whether the template's output is JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The text for `event`.
    pub fn render(&self, event: Event<'_>, context: &Context<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Placeholder { value, quoted } => {
                    let value: Option<Value> = match value {
                        Fill::Path(path) => path
                            .select(&Scope::new(event.decoded, &Value::Null))
                            .map(|v| v.into_owned()),
                        Fill::Variable(variable) => Some(match variable {
                            Variable::PipeArn => context.pipe_arn.into(),
                            Variable::PipeName => context.pipe_name.into(),
                            Variable::SourceArn => context.source_arn.into(),
                            Variable::EnrichmentArn => context.enrichment_arn.into(),
                            Variable::TargetArn => context.target_arn.into(),
                            Variable::IngestionTime => context.ingestion_time.into(),
                            Variable::Event => event.raw.clone(),
                            Variable::EventJson => event.decoded.clone(),
                        }),
                    };
                    insert(&mut out, value.as_ref(), self.json, *quoted);
                }
            }
        }
        out
    }
}

fn insert(out: &mut String, value: Option<&Value>, json: bool, quoted: bool) {
    match (value, json, quoted) {
        (None, true, false) => out.push_str("null"),
        (None, _, _) => {}
        (Some(value), true, false) => out.push_str(&value.to_string()),
        (Some(value), true, true) => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let quoted = Value::String(text).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        (Some(Value::String(s)), false, _) => out.push_str(s),
        (Some(other), false, _) => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CONTEXT: Context<'static> = Context {
        pipe_arn: "arn:aws:pipes:us-east-1:000000000000:pipe/p",
        pipe_name: "p",
        source_arn: "arn:aws:sqs:us-east-1:000000000000:in",
        enrichment_arn: "",
        target_arn: "arn:aws:sqs:us-east-1:000000000000:out",
        ingestion_time: "2026-12-07T15:00:00Z",
    };

    fn render(template: &str, raw: &Value, decoded: &Value) -> String {
        Template::parse(template)
            .unwrap()
            .render(Event { raw, decoded }, &CONTEXT)
    }

    #[test]
    fn json_templates_insert_values_as_json_outside_quotes_and_as_text_inside() {
        let raw =
            json!({"messageId": "m1", "body": "{\"order\":{\"id\":7,\"item\":\"a \\\"b\\\"\"}}"});
        let decoded = json!({"messageId": "m1", "body": {"order": {"id": 7, "item": "a \"b\""}}});
        let text = render(
            r#"{"id": <$.body.order.id>, "order": <$.body.order>, "label": "item <$.body.order.item> of <aws.pipes.pipe-name>", "missing": <$.body.nope>, "quotedMissing": "<$.nope>"}"#,
            &raw,
            &decoded,
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"id": 7, "order": {"id": 7, "item": "a \"b\""},
                   "label": "item a \"b\" of p", "missing": null, "quotedMissing": ""})
        );
    }

    #[test]
    fn reserved_variables_are_filled() {
        let raw = json!({"body": "{\"a\":1}"});
        let decoded = json!({"body": {"a": 1}});
        let text = render(
            r#"{"arn": "<aws.pipes.pipe-arn>", "source": "<aws.pipes.source-arn>", "target": "<aws.pipes.target-arn>", "at": "<aws.pipes.event.ingestion-time>", "event": <aws.pipes.event>, "json": <aws.pipes.event.json>}"#,
            &raw,
            &decoded,
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["arn"], CONTEXT.pipe_arn);
        assert_eq!(value["source"], CONTEXT.source_arn);
        assert_eq!(value["target"], CONTEXT.target_arn);
        assert_eq!(value["at"], CONTEXT.ingestion_time);
        assert_eq!(value["event"], raw);
        assert_eq!(value["json"], decoded);
    }

    #[test]
    fn text_templates_insert_strings_as_they_are() {
        let event = json!({"body": {"name": "Ada", "n": 3}});
        assert_eq!(
            render(
                "Hello <$.body.name> (<$.body.n>) via <aws.pipes.pipe-name><$.none>!",
                &event,
                &event
            ),
            "Hello Ada (3) via p!"
        );
        // `<` that opens no placeholder is text.
        assert_eq!(render("a < b <br>", &event, &event), "a < b <br>");
    }

    #[test]
    fn bad_templates_are_refused_with_reasons() {
        assert_eq!(
            Template::parse("<aws.pipes.nope>").unwrap_err(),
            TemplateError::UnknownVariable("aws.pipes.nope".into())
        );
        assert!(matches!(
            Template::parse("{\"a\": <$.a[>}").unwrap_err(),
            TemplateError::InvalidPath { .. }
        ));
        assert!(matches!(
            Template::parse("{\"a\": <$.a>,}").unwrap_err(),
            TemplateError::NotJson(_)
        ));
        assert_eq!(
            Template::parse("{\"a\": \"<aws.pipes.event.json>\"}").unwrap_err(),
            TemplateError::JsonVariableInText
        );
        assert_eq!(
            Template::parse("text <aws.pipes.event.json>").unwrap_err(),
            TemplateError::JsonVariableInText
        );
        assert!(Template::parse("{\"escaped \\\" <$.a>\": 1}").is_ok());
    }
}
