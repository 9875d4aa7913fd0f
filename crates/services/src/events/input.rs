//! What a rule's target receives: the whole event, a constant `Input`, the part of the event an
//! `InputPath` selects, or an `InputTransformer`'s template filled from the event.
//!
//! The template's rules are AWS's, as recorded against EventBridge (LocalStack's
//! `test_events_inputs` snapshots):
//! - a template that starts with `"` is a text template: it is delivered as that JSON string,
//!   quotes included, every placeholder rendered as text — a string as it is, an object as its
//!   JSON without quotes (`{acc_id:0a78,sf_id:baz}`), a list as `[a,b]`;
//! - any other template is JSON: a placeholder outside quotes becomes the value's JSON (a
//!   string gains its quotes); inside quotes a string goes in as it is, and an object or list
//!   makes the result invalid JSON, so the event is not delivered;
//! - a path that selects nothing renders as the empty string;
//! - predefined placeholders: `<aws.events.rule-arn>`, `<aws.events.rule-name>`,
//!   `<aws.events.event.ingestion-time>`, `<aws.events.event>` (the envelope without its
//!   detail) and `<aws.events.event.json>` (the whole event).

use serde_json::{Map, Value};
use sluice_api::events::model::Target;
use sluice_asl::Scope;
use sluice_asl::path::Path;

const RULE_ARN: &str = "aws.events.rule-arn";
const RULE_NAME: &str = "aws.events.rule-name";
const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const EVENT: &str = "aws.events.event";
const EVENT_JSON: &str = "aws.events.event.json";
const PREDEFINED: [&str; 5] = [RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON];

/// Most entries of an `InputPathsMap` (AWS: 100).
const MAX_PATHS: usize = 100;

/// How a target's input is made from a matched event.
#[derive(Debug, Clone)]
pub enum Shaping {
    Event,
    Constant(String),
    Path(Path),
    Template(Template),
}

/// A parsed `InputTransformer`.
#[derive(Debug, Clone)]
pub struct Template {
    paths: Vec<(String, Path)>,
    text: String,
}

/// The rule a target belongs to, for the predefined placeholders.
#[derive(Debug, Clone, Copy)]
pub struct RuleRef<'a> {
    pub arn: &'a str,
    pub name: &'a str,
}

impl Shaping {
    /// The target's shaping, or PutTargets' reason to refuse it (a `ValidationException`).
    pub fn of(target: &Target) -> Result<Self, String> {
        let id = &target.id;
        let given = [
            target.input.is_some(),
            target.input_path.is_some(),
            target.input_transformer.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(format!(
                "Only one of Input, InputPath, or InputTransformer must be provided for target {id}."
            ));
        }
        if let Some(input) = &target.input {
            serde_json::from_str::<Value>(input)
                .map_err(|_| format!("Input for target {id} must be a valid JSON text."))?;
            return Ok(Self::Constant(input.clone()));
        }
        if let Some(path) = &target.input_path {
            let path = Path::parse(path)
                .map_err(|_| format!("InputPath for target {id} is not a valid JSON path."))?;
            return Ok(Self::Path(path));
        }
        let Some(transformer) = &target.input_transformer else {
            return Ok(Self::Event);
        };
        let map = transformer.input_paths_map.clone().unwrap_or_default();
        if map.len() > MAX_PATHS {
            return Err(format!(
                "InputPathsMap for target {id} has more than {MAX_PATHS} entries."
            ));
        }
        let mut paths = Vec::new();
        for (name, path) in map {
            if PREDEFINED.contains(&name.as_str()) {
                return Err(format!(
                    "InputTransformer for target {id} contains invalid key {name}: it is reserved."
                ));
            }
            let parsed = Path::parse(&path).map_err(|_| {
                format!("Invalid InputPathsMap value for key {name} of target {id}: {path}.")
            })?;
            paths.push((name, parsed));
        }
        let text = transformer.input_template.clone();
        for name in placeholders(&text).into_iter().map(|p| p.name) {
            if !PREDEFINED.contains(&name) && !paths.iter().any(|(n, _)| n == name) {
                return Err(format!(
                    "InputTemplate for target {id} contains invalid placeholder {name}."
                ));
            }
        }
        Ok(Self::Template(Template { paths, text }))
    }

    /// The payload for `event`, or why there is none (an invalid rendered template: AWS
    /// drops such an event for this target).
    pub fn apply(&self, event: &Value, rule: RuleRef<'_>) -> Result<String, String> {
        match self {
            Self::Event => Ok(event.to_string()),
            Self::Constant(input) => Ok(input.clone()),
            Self::Path(path) => Ok(path
                .select(&Scope::new(event, &Value::Null))
                .map_or_else(String::new, |v| v.to_string())),
            Self::Template(template) => template.render(event, rule),
        }
    }
}

/// A `<name>` in a template: where it is and whether it sits inside a JSON string.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    quoted: bool,
}

/// The template's placeholders, in order: `<` + a name without whitespace or angle brackets
/// + `>`, anywhere (a text template quotes them all).
fn placeholders(template: &str) -> Vec<Placeholder<'_>> {
    let bytes = template.as_bytes();
    let mut found = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' => {
                let rest = &template[i + 1..];
                let len = rest
                    .find(|c: char| c == '>' || c == '<' || c.is_whitespace())
                    .unwrap_or(rest.len());
                if len > 0 && rest[len..].starts_with('>') {
                    found.push(Placeholder {
                        start: i,
                        end: i + len + 2,
                        name: &rest[..len],
                        quoted,
                    });
                    i += len + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

impl Template {
    fn render(&self, event: &Value, rule: RuleRef<'_>) -> Result<String, String> {
        let text_template = self.text.trim_start().starts_with('"');
        let mut out = String::with_capacity(self.text.len());
        let mut last = 0;
        for placeholder in placeholders(&self.text) {
            out.push_str(&self.text[last..placeholder.start]);
            last = placeholder.end;
            let value = self.value(placeholder.name, event, rule);
            let quoted = text_template || placeholder.quoted;
            match (&value, quoted) {
                (Value::String(s), true) => out.push_str(&escaped(s)),
                (Value::Object(_) | Value::Array(_), true) if !text_template => {
                    return Err(format!(
                        "the placeholder <{}> is an object or a list inside quotes",
                        placeholder.name
                    ));
                }
                (value, true) => out.push_str(&escaped(&as_text(value))),
                (value, false) => out.push_str(&value.to_string()),
            }
        }
        out.push_str(&self.text[last..]);
        if !text_template && serde_json::from_str::<Value>(&out).is_err() {
            return Err(format!("the transformed input is not valid JSON: {out}"));
        }
        Ok(out)
    }

    fn value(&self, name: &str, event: &Value, rule: RuleRef<'_>) -> Value {
        match name {
            RULE_ARN => Value::String(rule.arn.to_owned()),
            RULE_NAME => Value::String(rule.name.to_owned()),
            INGESTION_TIME => event["time"].clone(),
            EVENT => without_detail(event),
            EVENT_JSON => event.clone(),
            _ => self
                .paths
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, path)| path.select(&Scope::new(event, &Value::Null)))
                .map(|v| v.into_owned())
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| Value::String(String::new())),
        }
    }
}

/// `<aws.events.event>`: the envelope without its detail, `detail-type` as `detailType` (as
/// AWS renders it).
fn without_detail(event: &Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(fields) = event {
        for (key, value) in fields {
            match key.as_str() {
                "detail" => {}
                "detail-type" => {
                    out.insert("detailType".into(), value.clone());
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Value::Object(out)
}

/// A value inside a text: strings as they are, objects as their JSON without quotes, lists as
/// `[a,b]` of their items as text.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(as_text).collect::<Vec<_>>().join(",")
        ),
        Value::Object(_) => value.to_string().replace('"', ""),
        other => other.to_string(),
    }
}

/// `text` as it may stand inside a JSON string.
fn escaped(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_api::events::model::InputTransformer;

    use super::*;

    const RULE: RuleRef<'static> = RuleRef {
        arn: "arn:aws:events:us-east-1:000000000000:rule/bus/r",
        name: "r",
    };

    fn event() -> Value {
        json!({
            "version": "0", "id": "e1", "detail-type": "core.update-account-command",
            "source": "core.update-account-command", "account": "000000000000",
            "time": "2026-12-07T20:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {
                "command": "update-account",
                "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
                "listsingle": ["HIGH"], "listmulti": ["ACTIVE", "INACTIVE"], "valid": true
            }
        })
    }

    fn target(template: &str) -> Target {
        let map = [
            ("userId", "$.detail.payload.acc_id"),
            ("payload", "$.detail.payload"),
            ("systemstring", "$.detail.awsAccountId"),
            ("listsingle", "$.detail.listsingle"),
            ("listmulti", "$.detail.listmulti"),
            ("valid", "$.detail.valid"),
            ("detail-type", "$.detail-type"),
        ];
        Target {
            id: "t".into(),
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            input_transformer: Some(InputTransformer {
                input_paths_map: Some(
                    map.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                input_template: template.into(),
            }),
            ..Target::default()
        }
    }

    fn render(template: &str) -> Result<String, String> {
        Shaping::of(&target(template))
            .unwrap()
            .apply(&event(), RULE)
    }

    fn render_json(template: &str) -> Value {
        serde_json::from_str(&render(template).unwrap()).unwrap()
    }

    #[test]
    fn json_templates_quote_strings_outside_quotes_and_embed_objects() {
        assert_eq!(
            render_json(
                r#"{"method": "PUT", "path": "users-service/users/<userId>", "id": <userId>, "body": <payload>}"#
            ),
            json!({"method": "PUT", "path": "users-service/users/0a787ecb-4015",
                   "id": "0a787ecb-4015", "body": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}})
        );
        assert_eq!(
            render_json(r#"{"id" : "<userId>"}"#),
            json!({"id": "0a787ecb-4015"})
        );
        assert_eq!(
            render_json(r#"{"singlelistitem": <listsingle>}"#),
            json!({"singlelistitem": ["HIGH"]})
        );
        assert_eq!(
            render_json(r#"{"bod": [<userId>, "hardcoded"]}"#),
            json!({"bod": ["0a787ecb-4015", "hardcoded"]})
        );
        assert_eq!(
            render_json(r#"{"multi": "users/<userId>/second/<userId>"}"#),
            json!({"multi": "users/0a787ecb-4015/second/0a787ecb-4015"})
        );
    }

    #[test]
    fn objects_and_lists_inside_quotes_of_a_json_template_are_not_delivered() {
        assert!(render(r#"{"payload": "<payload>"}"#).is_err());
        assert!(render(r#"{"singlelistitem": "<listsingle>"}"#).is_err());
        assert!(
            render(r#"{"not_valid": "users-service/users/<payload>", "bod": <payload>}"#).is_err()
        );
    }

    #[test]
    fn text_templates_render_values_as_text_and_keep_their_quotes() {
        assert_eq!(
            render(
                r#""<listsingle> single list item <listmulti> multiple list items <systemstring> system account id <payload> payload <userId> user id""#
            )
            .unwrap(),
            r#""[HIGH] single list item [ACTIVE,INACTIVE] multiple list items  system account id {acc_id:0a787ecb-4015,sf_id:baz} payload 0a787ecb-4015 user id""#
        );
        assert_eq!(
            render(r#""Command is <valid>!""#).unwrap(),
            r#""Command is true!""#
        );
        assert_eq!(
            render(
                r#""{[/Check with special starting characters for event of <detail-type> type""#
            )
            .unwrap(),
            r#""{[/Check with special starting characters for event of core.update-account-command type""#
        );
    }

    #[test]
    fn predefined_placeholders_name_the_rule_and_the_event() {
        let text = Shaping::of(&target(
            r#""Message <aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>""#,
        ))
        .unwrap()
        .apply(&event(), RULE)
        .unwrap();
        assert_eq!(
            text,
            r#""Message arn:aws:events:us-east-1:000000000000:rule/bus/r r 2026-12-07T20:00:00Z""#
        );
        let value = render_json(
            r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}"#,
        );
        assert_eq!(
            value["originalEvent"]["detailType"],
            "core.update-account-command"
        );
        assert!(value["originalEvent"].get("detail").is_none());
        assert_eq!(value["originalEventJson"], event());
    }

    #[test]
    fn put_targets_refuses_what_aws_refuses() {
        let error = Shaping::of(&target(r#""with <notdefinedkey>""#)).unwrap_err();
        assert_eq!(
            error,
            "InputTemplate for target t contains invalid placeholder notdefinedkey."
        );
        let mut both = target(r#""x""#);
        both.input = Some("{}".into());
        assert_eq!(
            Shaping::of(&both).unwrap_err(),
            "Only one of Input, InputPath, or InputTransformer must be provided for target t."
        );
    }

    #[test]
    fn input_path_selects_part_of_the_event_and_input_is_constant() {
        let path = Target {
            id: "t".into(),
            input_path: Some("$.detail.payload".into()),
            ..Target::default()
        };
        assert_eq!(
            Shaping::of(&path).unwrap().apply(&event(), RULE).unwrap(),
            r#"{"acc_id":"0a787ecb-4015","sf_id":"baz"}"#
        );
        let constant = Target {
            id: "t".into(),
            input: Some(r#"{"k": 1}"#.into()),
            ..Target::default()
        };
        assert_eq!(
            Shaping::of(&constant)
                .unwrap()
                .apply(&event(), RULE)
                .unwrap(),
            r#"{"k": 1}"#
        );
    }
}
