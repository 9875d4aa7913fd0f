//! Decoding REST requests (`restJson1`) from the generated [`Binding`]s: the URI template's
//! labels, the query string, headers and the JSON body become one JSON object keyed by the
//! model's member names, typed by the input's [`Shape`], ready for the model's validation and
//! for the generated structs.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::binding::{Binding, ErrorShape, Location};
use crate::error::{ApiError, protocol};
use crate::http::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER};
use crate::shape::{Shape, ShapeKind};

/// What a REST operation answers (the generated `dispatch`): the output's members, keyed by
/// member name, for [`encode_json`] to place by the operation's binding, and the output's raw
/// payload (a blob or string payload member), if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub members: Value,
    pub payload: Option<Bytes>,
}

/// The operation among `operations` that serves `method` on `path`, with its binding and the
/// URI's labels. Templates that need query keys (`?versionId`) are tried before the others.
pub fn route<O: Copy>(
    operations: impl IntoIterator<Item = (O, &'static Binding)>,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<(O, &'static Binding, Vec<Label>)> {
    let mut fallback = None;
    for (operation, binding) in operations {
        if binding.method != method.as_str() {
            continue;
        }
        if let Some(labels) = match_uri(binding, path, query) {
            if binding.uri.contains('?') {
                return Some((operation, binding, labels));
            }
            fallback.get_or_insert((operation, binding, labels));
        }
    }
    fallback
}

/// Serves one REST-JSON request with the operations of one service: the operation whose
/// binding matches the method and path (`None`: no operation serves it, for the caller to
/// answer), its members decoded from the URI, query string, headers and a body of at most
/// `max_body` bytes (`decode_error` renames a decoding failure as the service does), then
/// `handle(operation, members, body)` (the service's validation and dispatch), answered with
/// [`encode_json`] or, for an error, [`error_json`] over the service's `errors`.
pub async fn serve_json<O, F, Fut>(
    request: axum::extract::Request,
    operations: impl IntoIterator<Item = (O, &'static Binding)>,
    input_shape: impl Fn(O) -> &'static Shape,
    errors: &[ErrorShape],
    max_body: usize,
    decode_error: fn(ApiError) -> ApiError,
    handle: F,
) -> Option<Response>
where
    O: Copy,
    F: FnOnce(O, Value, Bytes) -> Fut,
    Fut: std::future::Future<Output = Result<Reply, ApiError>>,
{
    let (parts, body) = request.into_parts();
    let (operation, binding, labels) = route(
        operations,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
    )?;
    let request_id = crate::request_id::current();
    let result = async {
        let body = read_body(body, max_body).await?;
        let members = decode_json(
            binding,
            input_shape(operation),
            &labels,
            parts.uri.query(),
            &parts.headers,
            &body,
        )
        .map_err(decode_error)?;
        handle(operation, Value::Object(members), body).await
    };
    Some(match result.await {
        Ok(reply) => encode_json(binding, reply, &request_id),
        Err(error) => error_json(errors, &error, &request_id),
    })
}

/// The response to a REST-JSON request: the status (the output's `statusCode` member, else
/// the binding's), header members as headers, then the body: the raw payload, a structure
/// payload's document, or the body members as one JSON object (no body when the output has
/// no body members).
pub fn encode_json(binding: &Binding, reply: Reply, request_id: &str) -> Response {
    let members = match reply.members {
        Value::Object(members) => members,
        _ => Map::new(),
    };
    let mut status = binding.status;
    let mut headers = HeaderMap::new();
    let mut document = Map::new();
    let mut payload = reply.payload;
    let mut has_body_members = false;
    for member in binding.output {
        let value = members.get(member.member);
        match member.location {
            Location::StatusCode => {
                if let Some(code) = value.and_then(Value::as_u64) {
                    status = u16::try_from(code).unwrap_or(status);
                }
            }
            Location::Header => {
                if let Some(value) = value.and_then(header_value) {
                    insert(&mut headers, member.name, value);
                }
            }
            Location::Headers => {
                for (key, value) in value.and_then(Value::as_object).into_iter().flatten() {
                    if let Some(value) = header_value(value) {
                        insert(&mut headers, &format!("{}{key}", member.name), value);
                    }
                }
            }
            Location::Payload => {
                if payload.is_none()
                    && let Some(value) = value
                {
                    payload = Some(Bytes::from(value.to_string()));
                }
            }
            Location::Body => {
                has_body_members = true;
                if let Some(value) = value {
                    document.insert(member.name.to_owned(), value.clone());
                }
            }
            Location::Uri | Location::Querystring => {}
        }
    }
    let body = match payload {
        Some(payload) => payload,
        None if has_body_members => Bytes::from(Value::Object(document).to_string()),
        None => Bytes::new(),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, Body::from(body)).into_response();
    if status != StatusCode::NO_CONTENT {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    insert(&mut headers, REQUEST_ID_HEADER, request_id.to_owned());
    response.headers_mut().extend(headers);
    response
}

/// An error as REST-JSON services send it: the name in `x-amzn-ErrorType` (which botocore
/// reads first) and a body with the message in the member the model's error shape names
/// (`Message` or `message`), `"Type": "User"|"Service"` when the shape has a `Type`, and the
/// error's other fields.
pub fn error_json(errors: &[ErrorShape], error: &ApiError, request_id: &str) -> Response {
    let shape = errors.iter().find(|e| e.name == error.kind);
    let mut body = Map::new();
    if shape.is_some_and(|s| s.has_type) {
        let kind = if error.status >= 500 {
            "Service"
        } else {
            "User"
        };
        body.insert("Type".into(), Value::String(kind.into()));
    }
    let message_member = shape.map_or("message", |s| s.message_member);
    body.insert(message_member.into(), Value::String(error.message.clone()));
    for (name, value) in &error.fields {
        body.insert(name.clone(), value.clone());
    }
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, Value::Object(body).to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert(headers, ERROR_TYPE_HEADER, error.kind.clone());
    insert(headers, REQUEST_ID_HEADER, request_id.to_owned());
    response
}

/// Reads a request body of at most `limit` bytes: `RequestEntityTooLargeException` (413)
/// past it.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(
                protocol::REQUEST_ENTITY_TOO_LARGE,
                format!("Request must be smaller than {limit} bytes for the operation"),
            )
            .with_status(413)
        } else {
            ApiError::serialization(format!("Cannot read the request body: {error}"))
        }
    })
}

fn header_value(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: String) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(&value),
    ) {
        headers.insert(name, value);
    }
}

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
    if plus_is_space && text.contains('+') {
        return crate::classify::percent_decode(&text.replace('+', " "));
    }
    crate::classify::percent_decode(text)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;
    use crate::lambda::model::shapes;
    use crate::lambda::operations::bindings;

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
