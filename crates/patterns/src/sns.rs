//! What an SNS filter policy is matched against.

use serde_json::{Map, Value};

/// The value an attribute-scope policy ([`crate::Dialect::SnsAttributes`]) sees for a
/// message's `MessageAttributes`: `{"name": {"DataType": "String", "StringValue": "v"}}`
/// becomes `{"name": "v"}`. `Number` attributes become JSON numbers (a value that does not
/// parse as one stays a string), `String.Array` its JSON array (a value that is not a JSON
/// array stays a string), and `Binary` ones are left out: SNS filters only on the first three.
/// The notification form (`Type`/`Value`) is read too.
pub fn message_attributes(attributes: &Value) -> Value {
    let mut out = Map::new();
    let Some(attributes) = attributes.as_object() else {
        return Value::Object(out);
    };
    for (name, attribute) in attributes {
        let field = |a: &str, b: &str| {
            attribute
                .get(a)
                .or_else(|| attribute.get(b))
                .and_then(Value::as_str)
        };
        let (Some(data_type), Some(text)) =
            (field("DataType", "Type"), field("StringValue", "Value"))
        else {
            continue;
        };
        // Custom types ride after a dot: `Number.float`, `String.custom`.
        let base = match data_type {
            "String.Array" => "String.Array",
            t => t.split('.').next().unwrap_or(t),
        };
        let value = match base {
            "String" => Value::String(text.to_string()),
            "Number" => match text.trim().parse::<serde_json::Number>() {
                Ok(n) => Value::Number(n),
                Err(_) => Value::String(text.to_string()),
            },
            "String.Array" => match serde_json::from_str::<Value>(text) {
                Ok(array @ Value::Array(_)) => array,
                _ => Value::String(text.to_string()),
            },
            _ => continue,
        };
        out.insert(name.clone(), value);
    }
    Value::Object(out)
}

/// The value a body-scope policy ([`crate::Dialect::SnsBody`]) sees: the message parsed as
/// JSON, or `None` when it is not a JSON object (such messages match no body policy).
pub fn parse_body(message: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(message) {
        Ok(body @ Value::Object(_)) => Some(body),
        _ => None,
    }
}
