//! `variableReferences` of DescribeStateMachine: for each state (branches and item processors
//! included, state names being unique), the workflow variables its JSONPath fields read, sorted.
//!
//! AWS lists the `$name` references of JSONPath paths and intrinsic calls (`.$` values,
//! `InputPath`, `OutputPath`, the `…Path` fields, Choice `Variable`s, `Assign`), not those
//! inside JSONata expressions (recorded against AWS).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// State name → the variables it references; empty when no state references any.
pub fn variable_references(definition: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    if let Some(states) = definition.get("States").and_then(Value::as_object) {
        machine(states, &mut out);
    }
    out
}

fn machine(states: &Map<String, Value>, out: &mut BTreeMap<String, Vec<String>>) {
    for (name, state) in states {
        let Some(fields) = state.as_object() else {
            continue;
        };
        if fields.get("QueryLanguage").and_then(Value::as_str) != Some("JSONata") {
            let mut found = BTreeSet::new();
            for (key, value) in fields {
                if !matches!(key.as_str(), "Branches" | "ItemProcessor" | "Iterator") {
                    collect(key, value, &mut found);
                }
            }
            if !found.is_empty() {
                out.insert(name.clone(), found.into_iter().collect());
            }
        }
        for nested in nested_machines(fields) {
            if let Some(states) = nested.get("States").and_then(Value::as_object) {
                machine(states, out);
            }
        }
    }
}

fn nested_machines(fields: &Map<String, Value>) -> Vec<&Value> {
    let mut out: Vec<&Value> = fields
        .get("Branches")
        .and_then(Value::as_array)
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    out.extend(
        ["ItemProcessor", "Iterator"]
            .iter()
            .filter_map(|k| fields.get(*k)),
    );
    out
}

/// Collects the references of `value`, found under `key`.
fn collect(key: &str, value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            let reads_path = key.ends_with(".$")
                || key == "Variable"
                || (key.ends_with("Path") && key != "ResultPath");
            if reads_path {
                scan(s, found);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect(k, v, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(key, item, found);
            }
        }
        _ => {}
    }
}

/// The `$name` tokens of a path or intrinsic call, outside its quoted strings.
fn scan(text: &str, found: &mut BTreeSet<String>) {
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') => {
                let rest = &text[i + 1..];
                if rest.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    found.insert(rest[..end].to_owned());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_come_from_jsonpath_fields_only_sorted_per_state() {
        let definition = json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Parameters": {"x.$": "$b.c", "f.$": "States.Format('{} $notVar', $a)",
                      "lit": "$literal"}, "ResultPath": "$.r", "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$guess", "StringEqualsPath": "$answer"}], "Next": "M"}]},
                "M": {"Type": "Map", "ItemsPath": "$items", "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "InputPath": "$outer", "End": true}}}, "Next": "J"},
                "J": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $x %}", "End": true}
            }
        });
        let refs = variable_references(&definition);
        assert_eq!(
            serde_json::to_value(&refs).unwrap(),
            json!({"A": ["a", "b"], "C": ["answer", "guess"], "M": ["items"], "I": ["outer"]})
        );
    }
}
