//! Decoding REST requests (`restJson1`) from the generated [`Binding`]s: the URI template's
//! labels, the query string, headers and the JSON body become one JSON object keyed by the
//! model's member names, typed by the input's [`Shape`], ready for the model's validation and
//! for the generated structs.

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use crate::binding::{Binding, Location};
use crate::error::ApiError;
use crate::shape::{Shape, ShapeKind};

/// Matches `path` (and `query`) against `binding`'s URI template: the labels' values,
/// percent-decoded, or `None` when the request is not this operation's. A `{label+}` takes the
/// rest of the path; a `?key[=value]` in the template must be in the query.
pub fn match_uri(binding: &Binding, path: &str, query: Option<&str>) -> Option<Vec<Label>> {
    let (template, required) = binding
        .uri
        .split_once('?')
        .map_or((binding.uri, None), |(t, q)| (t, Some(q)));
    if let Some(required) = required {
        let pairs = pairs(query);
        for part in required.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .map_or((part, None), |(k, v)| (k, Some(v)));
            if !pairs
                .iter()
                .any(|(k, v)| k == key && value.is_none_or(|value| v == value))
            {
                return None;
            }
        }
    }
    let mut labels = Vec::new();
    let mut rest = path.strip_prefix('/')?;
    let mut segments = template.strip_prefix('/')?.split('/').peekable();
    while let Some(segment) = segments.next() {
        let (value, after) = rest
            .split_once('/')
            .map_or((rest, None), |(v, a)| (v, Some(a)));
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(label) => {
                if let Some(label) = label.strip_suffix('+') {
                    if rest.is_empty() || segments.peek().is_some() {
                        return None;
                    }
                    labels.push(Label {
                        name: label.to_owned(),
                        value: percent_decode(rest, false),
                    });
                    return Some(labels);
                }
                if value.is_empty() {
                    return None;
                }
                labels.push(Label {
                    name: label.to_owned(),
                    value: percent_decode(value, false),
                });
            }
            None if segment == value => {}
            None => return None,
        }
        match after {
            Some(after) => rest = after,
            // The template may end with a `/` the request has too ("/functions/").
            None if segments.peek().is_none_or(|s| s.is_empty()) => {
                return segments.nth(1).is_none().then_some(labels);
            }
            None => return None,
        }
    }
    // The request's path is longer than the template, except for one trailing slash.
    rest.is_empty().then_some(labels)
}

/// A URI label's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The label as the template names it (its member's `locationName`).
    pub name: String,
    pub value: String,
}

/// The input of `binding` from a request's parts: one object keyed by member name. Labels,
/// query parameters and headers are typed by `input`'s member shapes (integers, booleans,
/// lists of repeated query keys, `headers` prefixes as maps); the body's JSON object gives the
/// body members (a structure payload, its member). A blob or string payload is left to the
/// caller (it is the raw body). `SerializationException` for a body that is not a JSON object
/// or a number or boolean that does not parse.
pub fn decode_json(
    binding: &Binding,
    input: &Shape,
    labels: &[Label],
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let members = match &input.kind {
        ShapeKind::Structure { members } => *members,
        _ => &[],
    };
    let shape_of = |member: &str| members.iter().find(|m| m.name == member).map(|m| m.shape);
    let mut out = Map::new();
    let payload = binding.input_at(Location::Payload).next();
    let raw_payload = payload.is_some_and(|p| {
        !matches!(
            shape_of(p.member).map(|s| &s.kind),
            Some(ShapeKind::Structure { .. })
        )
    });
    if !raw_payload && !body.iter().all(u8::is_ascii_whitespace) {
        let document = match serde_json::from_slice(body) {
            Ok(Value::Object(document)) => document,
            Ok(_) => {
                return Err(ApiError::serialization("the body is not a JSON object"));
            }
            Err(error) => return Err(ApiError::serialization(error.to_string())),
        };
        match payload {
            Some(payload) => {
                out.insert(payload.member.to_owned(), Value::Object(document));
            }
            None => {
                for member in binding.input_at(Location::Body) {
                    if let Some(value) = document.get(member.name) {
                        out.insert(member.member.to_owned(), value.clone());
                    }
                }
            }
        }
    }
    let query = pairs(query);
    for member in binding.input {
        let shape = shape_of(member.member);
        let value = match member.location {
            Location::Uri => labels
                .iter()
                .find(|l| l.name == member.name)
                .map(|l| typed(member.name, &l.value, shape))
                .transpose()?,
            Location::Querystring => querystring(member.name, &query, shape, binding)?,
            Location::Header => headers
                .get(member.name)
                .and_then(|v| v.to_str().ok())
                .map(|v| typed(member.name, v, shape))
                .transpose()?,
            Location::Headers => {
                let prefix = member.name.to_ascii_lowercase();
                let map: Map<String, Value> = headers
                    .iter()
                    .filter_map(|(name, value)| {
                        let key = name.as_str().strip_prefix(prefix.as_str())?;
                        Some((
                            key.to_owned(),
                            Value::String(value.to_str().ok()?.to_owned()),
                        ))
                    })
                    .collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Location::StatusCode | Location::Payload | Location::Body => None,
        };
        if let Some(value) = value {
            out.insert(member.member.to_owned(), value);
        }
    }
    Ok(out)
}

/// A query member: a scalar (the key's first value), a list (every value of the key), or a map
/// (every parameter no other member takes).
fn querystring(
    name: &str,
    query: &[(String, String)],
    shape: Option<&Shape>,
    binding: &Binding,
) -> Result<Option<Value>, ApiError> {
    match shape.map(|s| &s.kind) {
        Some(ShapeKind::List { member, .. }) => {
            let items = query
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| typed(name, v, Some(member)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((!items.is_empty()).then_some(Value::Array(items)))
        }
        Some(ShapeKind::Map { .. }) => {
            let bound = |key: &str| {
                binding
                    .input_at(Location::Querystring)
                    .any(|m| m.name == key)
            };
            let map: Map<String, Value> = query
                .iter()
                .filter(|(k, _)| !bound(k))
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            Ok((!map.is_empty()).then_some(Value::Object(map)))
        }
        _ => query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| typed(name, v, shape))
            .transpose(),
    }
}

/// A text value as the JSON its shape expects: numbers and booleans parsed, the rest strings.
fn typed(name: &str, text: &str, shape: Option<&Shape>) -> Result<Value, ApiError> {
    let bad = |expected: &str| {
        ApiError::serialization(format!("Expected {expected} for '{name}', found '{text}'"))
    };
    Ok(match shape.map(|s| &s.kind) {
        Some(ShapeKind::Integer { .. } | ShapeKind::Long { .. }) => {
            Value::from(text.parse::<i64>().map_err(|_| bad("an integer"))?)
        }
        Some(ShapeKind::Float { .. }) => {
            let n: f64 = text.parse().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| bad("a number"))?
        }
        Some(ShapeKind::Boolean) => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("a boolean")),
        },
        _ => Value::String(text.to_owned()),
    })
}

/// The decoded `key=value` pairs of a query string, in order.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Percent-decoding; `+` is a space in query strings only.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;
    use crate::lambda::model::{bindings, shapes};

    fn labels(binding: &Binding, path: &str) -> Option<Vec<(String, String)>> {
        match_uri(binding, path, None).map(|l| l.into_iter().map(|l| (l.name, l.value)).collect())
    }

    #[test]
    fn uri_templates_match_and_give_labels() {
        assert_eq!(
            labels(
                &bindings::GET_ALIAS,
                "/2015-03-31/functions/f%3A1/aliases/live"
            ),
            Some(vec![
                ("FunctionName".into(), "f:1".into()),
                ("Name".into(), "live".into())
            ])
        );
        assert_eq!(
            labels(&bindings::LIST_FUNCTIONS, "/2015-03-31/functions"),
            Some(vec![])
        );
        assert_eq!(
            labels(&bindings::LIST_FUNCTIONS, "/2015-03-31/functions/"),
            Some(vec![])
        );
        assert_eq!(
            labels(&bindings::GET_ALIAS, "/2015-03-31/functions/f/aliases"),
            None
        );
        assert_eq!(
            labels(&bindings::GET_ALIAS, "/2015-03-31/functions/f/aliases/a/b"),
            None
        );
        assert_eq!(
            labels(&bindings::GET_FUNCTION, "/2015-03-31/functions//"),
            None
        );
        assert_eq!(
            labels(&bindings::GET_FUNCTION, "/2015-03-31/functionz/f"),
            None
        );
        let greedy = Binding {
            operation: "GetObject",
            method: "GET",
            uri: "/{Bucket}/{Key+}?x-id=GetObject",
            status: 200,
            input: &[],
            output: &[],
        };
        let got = match_uri(&greedy, "/b/a/b%20c", Some("x-id=GetObject")).unwrap();
        assert_eq!(got[1].value, "a/b c");
        assert!(match_uri(&greedy, "/b/k", None).is_none());
        assert!(match_uri(&greedy, "/b/k", Some("x-id=Other")).is_none());
    }

    #[test]
    fn members_come_from_every_part_typed_by_the_model() {
        let binding = &bindings::LIST_ALIASES;
        let labels = match_uri(binding, "/2015-03-31/functions/f/aliases", None).unwrap();
        let members = decode_json(
            binding,
            &shapes::LIST_ALIASES_REQUEST,
            &labels,
            Some("MaxItems=5&Marker=a+b&FunctionVersion=%24LATEST"),
            &HeaderMap::new(),
            b"",
        )
        .unwrap();
        assert_eq!(
            Value::Object(members),
            json!({"FunctionName": "f", "FunctionVersion": "$LATEST", "Marker": "a b", "MaxItems": 5})
        );
        let error = decode_json(
            binding,
            &shapes::LIST_ALIASES_REQUEST,
            &labels,
            Some("MaxItems=x"),
            &HeaderMap::new(),
            b"",
        )
        .unwrap_err();
        assert_eq!(error.kind, "SerializationException");

        let binding = &bindings::INVOKE;
        let labels = match_uri(binding, "/2015-03-31/functions/f/invocations", None).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-invocation-type", HeaderValue::from_static("Event"));
        let members = decode_json(
            binding,
            &shapes::INVOCATION_REQUEST,
            &labels,
            Some("Qualifier=live"),
            &headers,
            b"not json: the payload is the caller's",
        )
        .unwrap();
        assert_eq!(
            Value::Object(members),
            json!({"FunctionName": "f", "InvocationType": "Event", "Qualifier": "live"})
        );

        // Body members by name; a label wins over the body.
        let binding = &bindings::UPDATE_ALIAS;
        let labels = match_uri(binding, "/2015-03-31/functions/f/aliases/live", None).unwrap();
        let members = decode_json(
            binding,
            &shapes::UPDATE_ALIAS_REQUEST,
            &labels,
            None,
            &HeaderMap::new(),
            br#"{"FunctionVersion": "2", "Name": "other", "Unknown": 1}"#,
        )
        .unwrap();
        assert_eq!(
            Value::Object(members),
            json!({"FunctionVersion": "2", "FunctionName": "f", "Name": "live"})
        );
        assert!(
            crate::shape::validate(
                &shapes::UPDATE_ALIAS_REQUEST,
                &json!({"FunctionName": "f", "Name": "live", "FunctionVersion": "2"})
            )
            .is_ok()
        );
        let error = decode_json(
            binding,
            &shapes::UPDATE_ALIAS_REQUEST,
            &labels,
            None,
            &HeaderMap::new(),
            b"[1]",
        )
        .unwrap_err();
        assert_eq!(error.kind, "SerializationException");
    }

    #[test]
    fn percent_decoding_keeps_broken_escapes() {
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%zz", true), "%zz");
        assert_eq!(percent_decode("a+b%2B", true), "a b+");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }
}
