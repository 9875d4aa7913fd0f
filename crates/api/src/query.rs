//! The AWS query protocol (SNS; SQS's older wire), driven by the generated [`Shape`]s: no
//! service-specific code.
//!
//! - [`decode`]: a request's form parameters (`Action=SendMessage&QueueUrl=...&
//!   MessageAttribute.1.Name=...`) into one JSON object keyed by the model's member names, typed
//!   by the input shape, ready for [`crate::shape::validate`] and the generated structs. Wire
//!   names follow the model as botocore's `QuerySerializer` writes them: a member's
//!   `locationName`, lists as `A.member.N` (or `A.N` when flattened, where a flattened list's
//!   item name replaces the member's), maps as `A.entry.N.key/value` (or `A.N.<key>/<value>` with
//!   the key's and value's `locationName`s when flattened).
//! - [`encode`]: an output (the generated struct serialized to JSON) as the XML response
//!   botocore's `QueryParser` reads: `<OpResponse xmlns=...><OpResult>...</OpResult>
//!   <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>`.
//! - [`encode_error`] and [`query_error_header`]: an [`ApiError`] as the query protocol's
//!   `<ErrorResponse>`, and as the `x-amzn-query-error: <code>;<Sender|Receiver>` header that
//!   `awsQueryCompatible` services (SQS) add to their JSON errors, with the error's query code
//!   from the model (`AWS.SimpleQueueService.NonExistentQueue`).

use std::collections::{BTreeMap, HashMap};

use axum::http::{HeaderMap, HeaderValue};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Number, Value};

use crate::binding::ErrorShape;
use crate::error::ApiError;
use crate::shape::{Member, Shape, ShapeKind};

/// The content type of query protocol responses.
pub const CONTENT_TYPE: &str = "text/xml";
/// The header carrying an `awsQueryCompatible` service's query error code and fault over JSON.
pub const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";
/// The error of a parameter whose value does not parse as its shape's type.
pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
/// How deeply shapes may nest in a request or response. No query model nests near it; it bounds
/// the recursion (and so the stack) should a recursive shape meet a hostile key.
pub const MAX_DEPTH: usize = 32;

// ---------------------------------------------------------------------------------------------
// Requests

/// The parameters of a query request, in order: the query string's, then the form body's
/// (`application/x-www-form-urlencoded`), percent-decoded (`+` is a space).
pub fn params(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut params = crate::rest::pairs(query);
    if !body.is_empty() {
        params.extend(crate::rest::pairs(Some(&String::from_utf8_lossy(body))));
    }
    params
}

/// The `Action` parameter: the operation's name.
pub fn action(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str())
}

/// One parameter on its way down the shapes: the key's segments not consumed yet, the whole key
/// (for messages) and the value.
#[derive(Clone, Copy)]
struct Param<'a> {
    rest: &'a [&'a str],
    key: &'a str,
    value: &'a str,
}

/// Decodes `params` as `input` (a structure) says: one object keyed by the model's member names.
/// Parameters no member takes (`Action`, `Version`, unknown names, indexes that are not positive
/// integers) are ignored, as AWS does; list items and map entries are taken in index order, gaps
/// skipped. A value that does not parse as its shape's type (`MaxNumberOfMessages=ten`) is an
/// [`INVALID_PARAMETER_VALUE`] error naming the parameter.
pub fn decode(input: &Shape, params: &[(String, String)]) -> Result<Map<String, Value>, ApiError> {
    let segments: Vec<Vec<&str>> = params.iter().map(|(k, _)| k.split('.').collect()).collect();
    let entries: Vec<Param<'_>> = params
        .iter()
        .zip(&segments)
        .map(|((key, value), segments)| Param {
            rest: segments,
            key,
            value,
        })
        .collect();
    match decode_value(input, &entries, 0, false)? {
        Some(Value::Object(map)) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// The value of `shape` from the parameters at one position (`rest` relative to it); `None`
/// when none gives it one.
fn decode_value(
    shape: &Shape,
    params: &[Param<'_>],
    depth: usize,
    flat: bool,
) -> Result<Option<Value>, ApiError> {
    if depth > MAX_DEPTH {
        let key = params.first().map_or("", |p| p.key);
        return Err(ApiError::new(
            INVALID_PARAMETER_VALUE,
            format!("The parameter {key} is nested more than {MAX_DEPTH} levels deep."),
        ));
    }
    match &shape.kind {
        ShapeKind::Structure { members } => decode_structure(members, params, depth),
        ShapeKind::List {
            member,
            flattened,
            member_name,
            ..
        } => {
            let items = if *flattened || flat {
                indexed(params)
            } else {
                indexed(&strip(params, member_name.unwrap_or("member")))
            };
            decode_list(member, params, &items, depth)
        }
        ShapeKind::Map {
            key,
            value,
            flattened,
            key_name,
            value_name,
            ..
        } => {
            let entries = if *flattened || flat {
                indexed(params)
            } else {
                indexed(&strip(params, "entry"))
            };
            let names = (key_name.unwrap_or("key"), value_name.unwrap_or("value"));
            decode_map((key, value), names, params, &entries, depth)
        }
        _ => params
            .iter()
            .find(|p| p.rest.is_empty())
            .map(|p| scalar(shape, p))
            .transpose(),
    }
}

// The kinds are decoded in functions of their own so that each level of nesting costs the
// stack two small frames.

fn decode_structure(
    members: &[Member],
    params: &[Param<'_>],
    depth: usize,
) -> Result<Option<Value>, ApiError> {
    let groups = group_by_first(params);
    let mut out = Map::new();
    for member in members {
        let Some(group) = groups.get(query_name(member)) else {
            continue;
        };
        if let Some(value) = decode_value(member.shape, group, depth + 1, member.flattened)? {
            out.insert(member.name.to_owned(), value);
        }
    }
    Ok(Some(Value::Object(out)))
}

fn decode_list(
    member: &Shape,
    params: &[Param<'_>],
    items: &BTreeMap<u32, Vec<Param<'_>>>,
    depth: usize,
) -> Result<Option<Value>, ApiError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items.values() {
        if let Some(value) = decode_value(member, item, depth + 1, false)? {
            out.push(value);
        }
    }
    // `A=` with no items is how botocore sends an empty list.
    if out.is_empty() && !params.iter().any(|p| p.rest.is_empty()) {
        return Ok(None);
    }
    Ok(Some(Value::Array(out)))
}

fn decode_map(
    (key, value): (&Shape, &Shape),
    (key_name, value_name): (&str, &str),
    params: &[Param<'_>],
    entries: &BTreeMap<u32, Vec<Param<'_>>>,
    depth: usize,
) -> Result<Option<Value>, ApiError> {
    let mut out = Map::new();
    for entry in entries.values() {
        let parts = group_by_first(entry);
        let Some(Value::String(k)) = parts
            .get(key_name)
            .map(|p| decode_value(key, p, depth + 1, false))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let Some(v) = parts
            .get(value_name)
            .map(|p| decode_value(value, p, depth + 1, false))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        out.insert(k, v);
    }
    if out.is_empty() && !params.iter().any(|p| p.rest.is_empty()) {
        return Ok(None);
    }
    Ok(Some(Value::Object(out)))
}

/// The parameters whose next segment is `name` (a list's `member`, a map's `entry`), past it.
fn strip<'a>(params: &[Param<'a>], name: &str) -> Vec<Param<'a>> {
    params
        .iter()
        .filter_map(|p| match p.rest.split_first() {
            Some((first, rest)) if *first == name => Some(Param { rest, ..*p }),
            _ => None,
        })
        .collect()
}

/// The name a member travels under in a query request or XML response: a flattened list's item
/// name when it has one (botocore's `QuerySerializer` and `_member_key_name`), else the
/// member's `locationName`, else its name.
fn query_name(member: &Member) -> &'static str {
    match member.shape.kind {
        ShapeKind::List {
            flattened,
            member_name: Some(name),
            ..
        } if flattened || member.flattened => name,
        _ => member.xml_name(),
    }
}

/// The parameters by their first segment, each with that segment consumed.
fn group_by_first<'a>(params: &[Param<'a>]) -> HashMap<&'a str, Vec<Param<'a>>> {
    let mut groups: HashMap<&str, Vec<Param<'_>>> = HashMap::new();
    for p in params {
        if let Some((first, rest)) = p.rest.split_first() {
            groups.entry(first).or_default().push(Param { rest, ..*p });
        }
    }
    groups
}

/// The parameters by their first segment read as a list index (1, 2, ...), in index order.
fn indexed<'a>(params: &[Param<'a>]) -> BTreeMap<u32, Vec<Param<'a>>> {
    let mut items: BTreeMap<u32, Vec<Param<'_>>> = BTreeMap::new();
    for p in params {
        let Some((first, rest)) = p.rest.split_first() else {
            continue;
        };
        if !first.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        match first.parse::<u32>() {
            Ok(index) if index > 0 => items.entry(index).or_default().push(Param { rest, ..*p }),
            _ => {}
        }
    }
    items
}

/// A scalar parameter as the JSON its shape expects.
fn scalar(shape: &Shape, param: &Param<'_>) -> Result<Value, ApiError> {
    let text = param.value;
    let invalid = |reason: &str| {
        ApiError::new(
            INVALID_PARAMETER_VALUE,
            format!(
                "Value {text} for parameter {} is invalid. Reason: {reason}.",
                param.key
            ),
        )
    };
    Ok(match &shape.kind {
        ShapeKind::Integer { .. } => text
            .trim()
            .parse::<i32>()
            .map(Value::from)
            .map_err(|_| invalid("Must be an integer"))?,
        ShapeKind::Long { .. } => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| invalid("Must be an integer"))?,
        ShapeKind::Float { .. } => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| invalid("Must be a number"))?,
        ShapeKind::Boolean => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            t if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(invalid("Must be true or false")),
        },
        ShapeKind::Timestamp => parse_timestamp(text.trim())
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| invalid("Must be an ISO 8601 date-time or epoch seconds"))?,
        _ => Value::String(text.to_owned()),
    })
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/// Epoch seconds of an ISO 8601 date-time (`2024-01-02T03:04:05Z`, `.123`, `+01:00`), or of a
/// number of epoch seconds (what some SDKs send).
pub fn parse_timestamp(text: &str) -> Option<f64> {
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut fraction = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        fraction = format!("0.{}", &text[start..i]).parse().ok()?;
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let hours = digits2(*h1, *h2)?;
            let minutes = digits2(*m1, *m2)?;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        [] => 0,
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(seconds as f64 + fraction)
}

fn digits2(a: u8, b: u8) -> Option<i64> {
    (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from((a - b'0') * 10 + (b - b'0')))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Epoch seconds as ISO 8601 in UTC, with milliseconds when there are any
/// (`2024-01-02T03:04:05.120Z`), as AWS's query services write timestamps.
pub fn format_timestamp(seconds: f64) -> String {
    // Beyond ±10^11 s (years ±3000) dates stop being meaningful; clamp rather than overflow.
    let millis = (seconds.clamp(-1e11, 1e11) * 1000.0).round() as i64;
    let (days, in_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, ms) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    if ms == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

/// The XML response of `operation`: its output `value` (members by model name, as the
/// generated structs serialize) written as `output` describes, inside `result_wrapper` (the
/// operation's `resultWrapper`; members go straight under the response element without one),
/// then the `ResponseMetadata` with `request_id`. `output` is `None` for operations that return
/// nothing. An `InternalFailure` if `value` does not fit `output` (a backend's bug).
pub fn encode(
    operation: &str,
    result_wrapper: Option<&str>,
    xml_namespace: &str,
    output: Option<&Shape>,
    value: &Value,
    request_id: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut xml = Xml::new();
    let response = format!("{operation}Response");
    xml.start_with_namespace(&response, xml_namespace);
    if let Some(shape) = output {
        match result_wrapper {
            Some(wrapper) => {
                xml.start(wrapper);
                xml.members(shape, value, 0)?;
                xml.end(wrapper);
            }
            None => xml.members(shape, value, 0)?,
        }
    }
    xml.start("ResponseMetadata");
    xml.text_element("RequestId", request_id);
    xml.end("ResponseMetadata");
    xml.end(&response);
    Ok(xml.finish())
}

/// A query response under construction. Writing to a `Vec` cannot fail, so write errors are
/// not carried around.
struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Xml {
    fn new() -> Self {
        Self {
            writer: Writer::new(Vec::with_capacity(512)),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        // Infallible: the sink is a Vec.
        let _ = self.writer.write_event(event);
    }

    fn start(&mut self, name: &str) {
        self.event(Event::Start(BytesStart::new(name)));
    }

    fn start_with_namespace(&mut self, name: &str, namespace: &str) {
        let start = BytesStart::new(name);
        let start = if namespace.is_empty() {
            start
        } else {
            start.with_attributes([("xmlns", namespace)])
        };
        self.event(Event::Start(start));
    }

    fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    /// Escaped text. A carriage return is written as `&#xD;`: a parser turns a literal one
    /// (and `\r\n`) into `\n`, which would change message bodies.
    fn text(&mut self, text: &str) {
        let mut escaped = String::with_capacity(text.len());
        for (i, piece) in text.split('\r').enumerate() {
            if i > 0 {
                escaped.push_str("&#xD;");
            }
            escaped.push_str(&partial_escape(piece));
        }
        self.event(Event::Text(BytesText::from_escaped(escaped)));
    }

    fn text_element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end(name);
    }

    fn finish(self) -> Vec<u8> {
        self.writer.into_inner()
    }

    /// A structure's members (not wrapped in an element of its own).
    fn members(&mut self, shape: &Shape, value: &Value, depth: usize) -> Result<(), ApiError> {
        let ShapeKind::Structure { members } = &shape.kind else {
            return Err(mismatch(shape, value));
        };
        let Value::Object(object) = value else {
            return Err(mismatch(shape, value));
        };
        for member in *members {
            match object.get(member.name) {
                None | Some(Value::Null) => {}
                Some(value) => self.value(
                    query_name(member),
                    member.shape,
                    value,
                    depth + 1,
                    member.flattened,
                )?,
            }
        }
        Ok(())
    }

    /// `value` as element(s) named `name`.
    /// `flat`: the reference flattens the list or map whatever its shape says.
    fn value(
        &mut self,
        name: &str,
        shape: &Shape,
        value: &Value,
        depth: usize,
        flat: bool,
    ) -> Result<(), ApiError> {
        if depth > MAX_DEPTH {
            return Err(ApiError::internal(format!(
                "the response nests more than {MAX_DEPTH} levels deep"
            )));
        }
        match (&shape.kind, value) {
            (ShapeKind::Structure { .. }, _) => {
                self.start(name);
                self.members(shape, value, depth)?;
                self.end(name);
            }
            (
                ShapeKind::List {
                    member,
                    flattened,
                    member_name,
                    ..
                },
                Value::Array(items),
            ) => {
                if *flattened || flat {
                    // Each item is an element named like the member (its item name if any).
                    for item in items {
                        self.value(name, member, item, depth + 1, false)?;
                    }
                } else {
                    let item_name = member_name.unwrap_or("member");
                    self.start(name);
                    for item in items {
                        self.value(item_name, member, item, depth + 1, false)?;
                    }
                    self.end(name);
                }
            }
            (
                ShapeKind::Map {
                    key,
                    value: value_shape,
                    flattened,
                    key_name,
                    value_name,
                    ..
                },
                Value::Object(entries),
            ) => {
                let key_name = key_name.unwrap_or("key");
                let value_name = value_name.unwrap_or("value");
                let flattened = *flattened || flat;
                if !flattened {
                    self.start(name);
                }
                let entry_name = if flattened { name } else { "entry" };
                for (k, v) in entries {
                    self.start(entry_name);
                    self.value(key_name, key, &Value::String(k.clone()), depth + 1, false)?;
                    self.value(value_name, value_shape, v, depth + 1, false)?;
                    self.end(entry_name);
                }
                if !flattened {
                    self.end(name);
                }
            }
            (ShapeKind::Timestamp, Value::Number(n)) => {
                let seconds = n.as_f64().ok_or_else(|| mismatch(shape, value))?;
                self.text_element(name, &format_timestamp(seconds));
            }
            (ShapeKind::List { .. } | ShapeKind::Map { .. }, _) => {
                return Err(mismatch(shape, value));
            }
            (_, Value::String(text)) => self.text_element(name, text),
            (_, Value::Number(n)) => self.text_element(name, &n.to_string()),
            (_, Value::Bool(b)) => self.text_element(name, if *b { "true" } else { "false" }),
            (_, Value::Null) => {}
            (_, Value::Array(_) | Value::Object(_)) => return Err(mismatch(shape, value)),
        }
        Ok(())
    }
}

fn mismatch(shape: &Shape, value: &Value) -> ApiError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    ApiError::internal(format!(
        "cannot serialize the response: {found} for the shape {}",
        shape.name
    ))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Who is at fault, as the query protocol's `<Type>` and `x-amzn-query-error` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Sender,
    Receiver,
}

impl Fault {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sender => "Sender",
            Self::Receiver => "Receiver",
        }
    }
}

/// The query code and fault of `error`: the model's `error.code` and `senderFault` when
/// `errors` (the service's `errors::ALL`) declares it, else its name and its status (5xx: the
/// receiver's fault).
pub fn error_code<'a>(error: &'a ApiError, errors: &'static [ErrorShape]) -> (&'a str, Fault) {
    match errors.iter().find(|e| e.name == error.kind) {
        Some(shape) => (
            shape.code,
            if shape.sender_fault {
                Fault::Sender
            } else {
                Fault::Receiver
            },
        ),
        None => (
            error.kind.as_str(),
            if error.status >= 500 {
                Fault::Receiver
            } else {
                Fault::Sender
            },
        ),
    }
}

/// The query protocol's error body: `<ErrorResponse xmlns=...><Error><Type>Sender</Type>
/// <Code>...</Code><Message>...</Message>...</Error><RequestId>...</RequestId></ErrorResponse>`.
/// The error's scalar fields follow `Message` inside `<Error>`. Send it with `error.status`.
pub fn encode_error(
    error: &ApiError,
    errors: &'static [ErrorShape],
    xml_namespace: &str,
    request_id: &str,
) -> Vec<u8> {
    let (code, fault) = error_code(error, errors);
    let mut xml = Xml::new();
    xml.start_with_namespace("ErrorResponse", xml_namespace);
    xml.start("Error");
    xml.text_element("Type", fault.as_str());
    xml.text_element("Code", code);
    xml.text_element("Message", &error.message);
    for (name, value) in &error.fields {
        let valid_name = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !matches!(name.as_str(), "Type" | "Code" | "Message");
        match value {
            _ if !valid_name => {}
            Value::String(text) => xml.text_element(name, text),
            Value::Number(n) => xml.text_element(name, &n.to_string()),
            Value::Bool(b) => xml.text_element(name, if *b { "true" } else { "false" }),
            _ => {}
        }
    }
    xml.end("Error");
    xml.text_element("RequestId", request_id);
    xml.end("ErrorResponse");
    xml.finish()
}

/// A query-protocol answer on the wire: the XML (200) or the error (`<ErrorResponse>` with its
/// status), as `text/xml` with the request id.
pub fn response(
    result: Result<Vec<u8>, ApiError>,
    errors: &'static [ErrorShape],
    xml_namespace: &str,
    request_id: &str,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    let (status, body) = match result {
        Ok(xml) => (StatusCode::OK, xml),
        Err(error) => (
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            encode_error(&error, errors, xml_namespace, request_id),
        ),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(crate::http::REQUEST_ID_HEADER, id);
    }
    response
}

/// `x-amzn-query-error: <code>;<Sender|Receiver>`, which an `awsQueryCompatible` service
/// (`AWS_QUERY_COMPATIBLE` of its model) sends with its JSON errors so that clients report the
/// query protocol's code (botocore's `_do_query_compatible_error_parse`). `None` if the code
/// cannot be a header value.
pub fn query_error_header(error: &ApiError, errors: &'static [ErrorShape]) -> Option<HeaderValue> {
    let (code, fault) = error_code(error, errors);
    HeaderValue::from_str(&format!("{code};{}", fault.as_str())).ok()
}

/// Adds [`query_error_header`] to the headers of an `awsQueryCompatible` service's JSON error.
pub fn insert_query_error_header(
    headers: &mut HeaderMap,
    error: &ApiError,
    errors: &'static [ErrorShape],
) {
    if let Some(value) = query_error_header(error, errors) {
        headers.insert(QUERY_ERROR_HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    // A small model of every wire form, by hand, so these tests need no service feature.
    static STRING: Shape = Shape {
        name: "String",
        sensitive: false,
        kind: ShapeKind::String {
            min: None,
            max: None,
            pattern: None,
            values: &[],
        },
    };
    static INT: Shape = Shape {
        name: "Integer",
        sensitive: false,
        kind: ShapeKind::Integer {
            min: None,
            max: None,
        },
    };
    static LONG: Shape = Shape {
        name: "Long",
        sensitive: false,
        kind: ShapeKind::Long {
            min: None,
            max: None,
        },
    };
    static DOUBLE: Shape = Shape {
        name: "Double",
        sensitive: false,
        kind: ShapeKind::Float {
            min: None,
            max: None,
        },
    };
    static BOOL: Shape = Shape {
        name: "Boolean",
        sensitive: false,
        kind: ShapeKind::Boolean,
    };
    static TIME: Shape = Shape {
        name: "Timestamp",
        sensitive: false,
        kind: ShapeKind::Timestamp,
    };
    static BLOB: Shape = Shape {
        name: "Blob",
        sensitive: false,
        kind: ShapeKind::Blob {
            min: None,
            max: None,
        },
    };
    static STRINGS: Shape = Shape {
        name: "Strings",
        sensitive: false,
        kind: ShapeKind::List {
            member: &STRING,
            min: None,
            max: None,
            flattened: false,
            member_name: None,
        },
    };
    static FLAT_NAMED: Shape = Shape {
        name: "FlatNamed",
        sensitive: false,
        kind: ShapeKind::List {
            member: &STRING,
            min: None,
            max: None,
            flattened: true,
            member_name: Some("Item"),
        },
    };
    static FLAT: Shape = Shape {
        name: "Flat",
        sensitive: false,
        kind: ShapeKind::List {
            member: &INT,
            min: None,
            max: None,
            flattened: true,
            member_name: None,
        },
    };
    static MAP: Shape = Shape {
        name: "Map",
        sensitive: false,
        kind: ShapeKind::Map {
            key: &STRING,
            value: &STRING,
            min: None,
            max: None,
            flattened: false,
            key_name: None,
            value_name: None,
        },
    };
    static FLAT_MAP: Shape = Shape {
        name: "FlatMap",
        sensitive: false,
        kind: ShapeKind::Map {
            key: &STRING,
            value: &INNER,
            min: None,
            max: None,
            flattened: true,
            key_name: Some("Name"),
            value_name: Some("Value"),
        },
    };
    static INNER: Shape = Shape {
        name: "Inner",
        sensitive: false,
        kind: ShapeKind::Structure {
            members: &[
                member("S", &STRING, None),
                member("Blob", &BLOB, None),
                member("Nested", &INNER, None),
            ],
        },
    };
    static TOP: Shape = Shape {
        name: "Top",
        sensitive: false,
        kind: ShapeKind::Structure {
            members: &[
                member("Name", &STRING, None),
                member("Count", &INT, None),
                member("Big", &LONG, None),
                member("Ratio", &DOUBLE, None),
                member("On", &BOOL, None),
                member("At", &TIME, None),
                member("Strings", &STRINGS, None),
                member("Items", &FLAT_NAMED, None),
                member("Numbers", &FLAT, None),
                member("Map", &MAP, None),
                member("Attributes", &FLAT_MAP, Some("Attribute")),
                member("Inner", &INNER, None),
                // A reference that flattens a list whose shape does not.
                Member {
                    name: "Refs",
                    shape: &STRINGS,
                    required: false,
                    location_name: Some("Ref"),
                    flattened: true,
                },
            ],
        },
    };

    const fn member(
        name: &'static str,
        shape: &'static Shape,
        location_name: Option<&'static str>,
    ) -> Member {
        Member {
            name,
            shape,
            required: false,
            location_name,
            flattened: false,
        }
    }

    fn form(body: &str) -> Vec<(String, String)> {
        params(None, body.as_bytes())
    }

    fn decoded(body: &str) -> Value {
        Value::Object(decode(&TOP, &form(body)).unwrap())
    }

    #[test]
    fn every_wire_form_decodes_to_member_names() {
        let body = "Action=Op&Version=1&Name=a+b%26c&Count=-3&Big=9007199254740993&Ratio=1.5\
                    &On=true&At=2024-02-29T12:00:00.5Z\
                    &Strings.member.2=second&Strings.member.1=first\
                    &Item.1=x&Item.3=z\
                    &Numbers.1=7\
                    &Map.entry.1.key=k&Map.entry.1.value=v\
                    &Attribute.1.Name=n&Attribute.1.Value.S=s&Attribute.1.Value.Blob=AAE%3D\
                    &Inner.Nested.Nested.S=deep&Unknown.Key=1&Ref.2=b&Ref.1=a";
        assert_eq!(
            decoded(body),
            json!({
                "Name": "a b&c",
                "Count": -3,
                "Big": 9_007_199_254_740_993_i64,
                "Ratio": 1.5,
                "On": true,
                "At": 1_709_208_000.5,
                "Strings": ["first", "second"],
                "Items": ["x", "z"],
                "Numbers": [7],
                "Map": {"k": "v"},
                "Attributes": {"n": {"S": "s", "Blob": "AAE="}},
                "Inner": {"Nested": {"Nested": {"S": "deep"}}},
                "Refs": ["a", "b"],
            })
        );
    }

    #[test]
    fn empty_lists_and_unusable_indexes() {
        assert_eq!(decoded("Strings="), json!({"Strings": []}));
        // Index 0, signs and words are no items; a map entry without its key is skipped.
        assert_eq!(
            decoded(
                "Strings.member.0=a&Strings.member.x=b&Strings.member.+1=c&Map.entry.1.value=v"
            ),
            json!({})
        );
        // The first of repeated parameters wins.
        assert_eq!(decoded("Name=a&Name=b"), json!({"Name": "a"}));
    }

    #[test]
    fn values_that_do_not_parse_are_invalid_parameter_values() {
        for (body, reason) in [
            (
                "Count=ten",
                "Value ten for parameter Count is invalid. Reason: Must be an integer.",
            ),
            (
                "Count=2147483648",
                "Value 2147483648 for parameter Count is invalid. Reason: Must be an integer.",
            ),
            (
                "Ratio=NaN",
                "Value NaN for parameter Ratio is invalid. Reason: Must be a number.",
            ),
            (
                "On=yes",
                "Value yes for parameter On is invalid. Reason: Must be true or false.",
            ),
            (
                "At=2024-02-30T00:00:00Z",
                "Value 2024-02-30T00:00:00Z for parameter At is invalid. Reason: Must be an ISO 8601 date-time or epoch seconds.",
            ),
            (
                "Numbers.2=x",
                "Value x for parameter Numbers.2 is invalid. Reason: Must be an integer.",
            ),
        ] {
            let error = decode(&TOP, &form(body)).unwrap_err();
            assert_eq!(error.kind, INVALID_PARAMETER_VALUE, "{body}");
            assert_eq!(error.message, reason);
            assert_eq!(error.status, 400);
        }
    }

    #[test]
    fn deep_keys_stop_at_the_depth_limit() {
        let key = vec!["Nested"; 200].join(".");
        let error = decode(&TOP, &form(&format!("Inner.{key}.S=x"))).unwrap_err();
        assert_eq!(error.kind, INVALID_PARAMETER_VALUE);
        // Deep keys the shapes do not follow are ignored.
        let key = vec!["A"; 100_000].join(".");
        assert_eq!(decoded(&format!("{key}=x")), json!({}));
    }

    #[test]
    fn timestamps_round_trip() {
        for (text, seconds) in [
            ("1970-01-01T00:00:00Z", 0.0),
            ("2024-02-29T12:00:00.5Z", 1_709_208_000.5),
            ("2024-02-29T13:00:00+01:00", 1_709_208_000.0),
            ("1969-12-31T23:59:59Z", -1.0),
            ("1700000000", 1_700_000_000.0),
        ] {
            assert_eq!(parse_timestamp(text), Some(seconds), "{text}");
        }
        for text in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00Q",
            "2024-01-01T00:00:00.",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
        assert_eq!(format_timestamp(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(1_709_208_000.5),
            "2024-02-29T12:00:00.500Z"
        );
        assert_eq!(format_timestamp(-1.0), "1969-12-31T23:59:59Z");
        assert_eq!(format_timestamp(f64::NAN), "1970-01-01T00:00:00Z");
        for seconds in [0.0, 951_782_400.0, 4_102_444_799.999, -2_208_988_800.0] {
            assert_eq!(parse_timestamp(&format_timestamp(seconds)), Some(seconds));
        }
    }

    #[test]
    fn outputs_encode_as_botocore_reads_them() {
        let value = json!({
            "Name": "<a & \"b\">\r\n",
            "Count": 3,
            "On": false,
            "At": 1_709_208_000.5,
            "Strings": ["s1", "s2"],
            "Items": ["i1"],
            "Map": {"k": "v"},
            "Attributes": {"n": {"S": "s"}},
            "Inner": {"Nested": {"S": "deep"}},
            "Ratio": null,
            "Refs": ["r"],
        });
        let xml = encode(
            "Op",
            Some("OpResult"),
            "http://ns/",
            Some(&TOP),
            &value,
            "rid",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(xml).unwrap(),
            "<OpResponse xmlns=\"http://ns/\"><OpResult><Name>&lt;a &amp; \"b\"&gt;&#xD;\n</Name>\
             <Count>3</Count><On>false</On><At>2024-02-29T12:00:00.500Z</At>\
             <Strings><member>s1</member><member>s2</member></Strings><Item>i1</Item>\
             <Map><entry><key>k</key><value>v</value></entry></Map>\
             <Attribute><Name>n</Name><Value><S>s</S></Value></Attribute>\
             <Inner><Nested><S>deep</S></Nested></Inner><Ref>r</Ref></OpResult>\
             <ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></OpResponse>"
        );
        let xml = encode("Op", None, "", None, &json!({}), "rid").unwrap();
        assert_eq!(
            String::from_utf8(xml).unwrap(),
            "<OpResponse><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></OpResponse>"
        );
        let error = encode("Op", None, "", Some(&TOP), &json!({"Strings": "x"}), "r").unwrap_err();
        assert_eq!(error.status, 500);
    }

    #[test]
    fn errors_carry_the_models_code_and_fault() {
        static ERRORS: &[ErrorShape] = &[ErrorShape {
            name: "QueueDoesNotExist",
            code: "AWS.SimpleQueueService.NonExistentQueue",
            status: 400,
            sender_fault: true,
            message_member: "message",
            has_type: false,
        }];
        let error = ApiError::new("QueueDoesNotExist", "The queue <q> does not exist.");
        assert_eq!(
            String::from_utf8(encode_error(&error, ERRORS, "http://ns/", "rid")).unwrap(),
            "<ErrorResponse xmlns=\"http://ns/\"><Error><Type>Sender</Type>\
             <Code>AWS.SimpleQueueService.NonExistentQueue</Code>\
             <Message>The queue &lt;q&gt; does not exist.</Message></Error>\
             <RequestId>rid</RequestId></ErrorResponse>"
        );
        let mut headers = HeaderMap::new();
        insert_query_error_header(&mut headers, &error, ERRORS);
        assert_eq!(
            headers[QUERY_ERROR_HEADER],
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        let internal = ApiError::internal("boom");
        assert_eq!(
            error_code(&internal, ERRORS),
            ("InternalFailure", Fault::Receiver)
        );
        let undeclared = ApiError::new("InvalidParameterValue", "m").with_field("Detail", "d");
        let body = String::from_utf8(encode_error(&undeclared, ERRORS, "", "r")).unwrap();
        assert!(
            body.contains(
                "<Code>InvalidParameterValue</Code><Message>m</Message><Detail>d</Detail>"
            ),
            "{body}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn decode_never_panics(body in "[A-Za-z0-9.=&%+_-]{0,400}") {
            let _ = decode(&TOP, &form(&body));
        }

        #[test]
        fn decode_never_panics_on_shaped_keys(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "Inner", "Nested", "S", "Attribute", "Name", "Value", "Strings", "member",
                    "Items", "Item", "Map", "entry", "key", "value", "Numbers", "1", "2", "0",
                    "99999999999", "At", "Count", "",
                ]),
                1..12,
            ),
            value in "[^&=]{0,20}",
        ) {
            let key = parts.join(".");
            let params = vec![(key, value)];
            let _ = decode(&TOP, &params);
        }
    }

    #[test]
    fn decode_survives_long_deep_keys_on_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(|| {
                for prefix in ["Inner", "Attribute.1.Value", "A", "Strings.member.1"] {
                    let key = format!("{prefix}.{}", vec!["Nested"; 50_000].join("."));
                    let _ = decode(&TOP, &[(key, "x".to_owned())]);
                }
                let body = format!("{}=1", "Inner.".repeat(20_000));
                let _ = decode(&TOP, &form(&body));
            })
            .unwrap();
        handle.join().unwrap();
    }
}
