//! Shapes as data, and the generic request validator of the AWS JSON protocols.
//!
//! The generated `shapes` modules (e.g. [`crate::sfn::shapes`]) describe every shape a request
//! can reach with the constraints of AWS's model. [`validate`] walks a parsed JSON body against
//! its input shape the way AWS's front end does: a member of the wrong JSON type is a
//! `SerializationException`; every broken constraint (required member missing, length, pattern,
//! enum value, numeric range) is collected into one `ValidationException` worded as AWS words
//! it: `1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: Member
//! must have length less than or equal to 80`.
//!
//! Paths follow AWS: `name`, `loggingConfiguration.level`, `tags.1.member.key` (list indexes
//! start at 1). Values of sensitive shapes are not echoed (`Value at 'definition' ...`).
//! Lengths count UTF-16 code units, as AWS's (Java) front end does.

use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use regex::Regex;

use serde_json::Value;

use crate::error::ApiError;

/// One shape of a service model.
#[derive(Debug)]
pub struct Shape {
    /// The shape's name in the model (`CreateStateMachineInput`, `Name`, ...).
    pub name: &'static str,
    /// Whether the model marks the shape sensitive: its values are never echoed in messages.
    pub sensitive: bool,
    /// The shape's type and constraints.
    pub kind: ShapeKind,
}

/// A shape's type with its constraints. Lengths count UTF-16 code units (strings) or items
/// (lists, maps).
#[derive(Debug)]
pub enum ShapeKind {
    Structure {
        members: &'static [Member],
    },
    String {
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<Pattern>,
        /// The allowed values of an enum; empty for a free string.
        values: &'static [&'static str],
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Long {
        min: Option<i64>,
        max: Option<i64>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    /// Epoch seconds, a JSON number.
    Timestamp,
    /// Base64 text.
    Blob {
        min: Option<u64>,
        max: Option<u64>,
    },
    List {
        member: &'static Shape,
        min: Option<u64>,
        max: Option<u64>,
        /// XML/query: the items are repeated in place (`A.1`) rather than wrapped (`A.member.1`).
        flattened: bool,
        /// XML/query: the items' `locationName` (`member` when `None`).
        member_name: Option<&'static str>,
    },
    Map {
        key: &'static Shape,
        value: &'static Shape,
        min: Option<u64>,
        max: Option<u64>,
        /// XML/query: the entries are repeated in place (`A.1.key`) rather than wrapped
        /// (`A.entry.1.key`).
        flattened: bool,
        /// XML/query: the key's and the value's `locationName`s (`key`, `value` when `None`).
        key_name: Option<&'static str>,
        value_name: Option<&'static str>,
    },
}

/// A member of a structure.
#[derive(Debug)]
pub struct Member {
    /// The member's name in the model: its key in the JSON protocols and the generated structs.
    pub name: &'static str,
    pub shape: &'static Shape,
    pub required: bool,
    /// The model's `locationName`: the member's name in the query protocol and XML (else
    /// `name`); for REST members outside the body, their header, label or query key.
    pub location_name: Option<&'static str>,
    /// XML/query: the reference flattens its list or map (botocore ORs this with the shape's
    /// own `flattened`).
    pub flattened: bool,
}

impl Member {
    /// The member's name in the query protocol and XML documents.
    pub fn xml_name(&self) -> &'static str {
        self.location_name.unwrap_or(self.name)
    }
}

/// A pattern of the model: its regular expression (quoted in messages) and its matcher (Java
/// regex semantics, whole value): a `regex` crate pattern compiled on first use
/// ([`regex_matches`]), or a hand-written one from [`patterns`] where the `regex` crate cannot
/// run the model's pattern (lookaround).
#[derive(Clone, Copy)]
pub struct Pattern {
    pub regex: &'static str,
    pub matches: fn(&str) -> bool,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.regex).finish()
    }
}

/// Where a generated matcher keeps its compiled pattern (`None`: it did not compile).
pub type RegexCell = OnceLock<Option<Regex>>;

/// Compiles a pattern of the generated code. The generated modules test that each of theirs
/// compiles.
pub fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

/// Whether `value` matches `anchored` (the model's pattern as `^(?:...)$`), compiled into `cell`
/// on first use. A pattern that does not compile accepts everything: a check left out, never a
/// request refused that AWS accepts (the generated tests catch it first).
pub fn regex_matches(cell: &RegexCell, anchored: &str, value: &str) -> bool {
    cell.get_or_init(|| compile(anchored))
        .as_ref()
        .is_none_or(|re| re.is_match(value))
}

/// Matchers for the patterns the `regex` crate cannot run, whole-value (Java
/// `Matcher.matches`). The code generator maps each such model pattern to one of these and
/// refuses unknown ones.
pub mod patterns {
    use std::sync::OnceLock;

    use regex::Regex;

    /// `^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$`: alias names; at least one non-digit.
    pub fn alias_name(value: &str) -> bool {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        !value.is_empty()
            && value.bytes().all(allowed)
            && value.bytes().any(|b| !b.is_ascii_digit())
    }

    /// `[!-~]+`: one or more printable ASCII characters, no space.
    pub fn printable_ascii(value: &str) -> bool {
        !value.is_empty() && value.bytes().all(|b| (b'!'..=b'~').contains(&b))
    }

    /// `\p{ASCII}*`: ASCII only.
    pub fn ascii(value: &str) -> bool {
        value.is_ascii()
    }

    /// `(?!^[0-9]+$)([a-zA-Z0-9-_]+)` and `((?!^\d+$)^[0-9a-zA-Z-_]+$)`: Lambda alias names;
    /// not all digits (those are versions).
    pub fn lambda_alias_name(value: &str) -> bool {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
        !value.is_empty()
            && value.bytes().all(allowed)
            && value.bytes().any(|b| !b.is_ascii_digit())
    }

    /// `(^(?!(system\x2e)))(^[_a-zA-Z0-9])([^$]*)`: not starting with `system.`, a first
    /// character of `[_a-zA-Z0-9]`, no `$`.
    pub fn lambda_tenancy_config_key(value: &str) -> bool {
        let first = value.bytes().next();
        !value.starts_with("system.")
            && first.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !value.contains('$')
    }

    /// `[0-9A-Za-z\.\-_]*(?<!\.)`: no trailing dot.
    pub fn lambda_no_trailing_dot(value: &str) -> bool {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
        value.bytes().all(allowed) && !value.ends_with('.')
    }

    /// A function name, partial or full ARN with an optional qualifier that is not all digits
    /// (an alias): `(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-
    /// [a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\d+$)[0-9a-zA-Z-_]+))?`.
    pub fn lambda_function_alias_arn(value: &str) -> bool {
        static RE: OnceLock<Option<Regex>> = OnceLock::new();
        let re = RE.get_or_init(|| {
            Regex::new(
                "^(?:(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?\
                 -[a-z]+-[0-9]:)?([0-9]{12}:)?(function:)?([a-zA-Z0-9_-]{1,64})\
                 (:(?P<qualifier>[0-9a-zA-Z_-]+))?)$",
            )
            .ok()
        });
        let Some(re) = re else { return true };
        re.captures(value).is_some_and(|captures| {
            captures
                .name("qualifier")
                .is_none_or(|q| !q.as_str().bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// Java's `.`: anything but a line terminator.
    fn is_line_terminator(c: char) -> bool {
        matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
    }

    /// `^(?!\s*$).+`: one line, not only whitespace.
    pub fn not_blank(value: &str) -> bool {
        !value.is_empty()
            && !value.chars().any(is_line_terminator)
            && !value
                .chars()
                .all(|c| matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}'))
    }

    /// `\$(\.[\w/_-]+(\[(\d+|\*)\])*)*`: a JSON path into an event (`$.detail.items[0]`).
    fn json_path(value: &str, slash: bool) -> bool {
        static WITH_SLASH: OnceLock<Option<Regex>> = OnceLock::new();
        static WITHOUT: OnceLock<Option<Regex>> = OnceLock::new();
        let (cell, pattern) = if slash {
            (&WITH_SLASH, r"^\$(\.[a-zA-Z0-9_/-]+(\[([0-9]+|\*)\])*)*$")
        } else {
            (&WITHOUT, r"^\$(\.[a-zA-Z0-9_-]+(\[([0-9]+|\*)\])*)*$")
        };
        cell.get_or_init(|| Regex::new(pattern).ok())
            .as_ref()
            .is_none_or(|re| re.is_match(value))
    }

    fn source_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_')
    }

    /// `(?=[/\.\-_A-Za-z0-9]+)((?!aws\.).*)|(\$(\.[\w_-]+(\[(\d+|\*)\])*)*)`: an event
    /// source that is not AWS's own (`aws.`), or a JSON path.
    pub fn scheduler_source(value: &str) -> bool {
        let own = value.chars().next().is_some_and(source_char)
            && !value.starts_with("aws.")
            && !value.chars().any(is_line_terminator);
        own || json_path(value, false)
    }

    /// `.*(?=[/\.\-_A-Za-z0-9]+)((?!aws\.).*)|(\$(\.[\w/_-]+(\[(\d+|\*)\])*)*).*`: one
    /// line that somewhere has a source character not starting `aws.`, or starts with `$`.
    pub fn pipes_source(value: &str) -> bool {
        if value.chars().any(is_line_terminator) {
            return false;
        }
        value.starts_with('$')
            || value
                .char_indices()
                .any(|(i, c)| source_char(c) && !value[i..].starts_with("aws."))
    }

    /// `(?!\s*$).+|(\$(\.[\w/_-]+(\[(\d+|\*)\])*)*)`: one line, not only whitespace, or a
    /// JSON path.
    pub fn not_blank_or_json_path(value: &str) -> bool {
        not_blank(value) || json_path(value, true)
    }
}

/// One broken constraint: `Value 'x' at 'name' failed to satisfy constraint: <constraint>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The member's path (`name`, `tags.1.member.key`).
    pub path: String,
    /// The value as AWS echoes it (`'x'`, `null`), or `None` for sensitive members.
    pub value: Option<String>,
    /// `Member must ...`.
    pub constraint: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "Value {value} at '{}'", self.path)?,
            None => write!(f, "Value at '{}'", self.path)?,
        }
        write!(f, " failed to satisfy constraint: {}", self.constraint)
    }
}

/// Checks `value` (a parsed request body) against `shape`: `SerializationException` for a
/// member of the wrong JSON type, else `ValidationException` listing every broken constraint.
pub fn validate(shape: &Shape, value: &Value) -> Result<(), ApiError> {
    let violations = violations(shape, value)?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::violations(&violations))
    }
}

/// The constraints `value` breaks, in member order; `Err` (`SerializationException`) if a
/// member has the wrong JSON type.
pub fn violations(shape: &Shape, value: &Value) -> Result<Vec<Violation>, ApiError> {
    violations_with(shape, value, true)
}

/// [`violations`], without the enum value sets when `enums` is false: for services that check
/// their enum values themselves, with their own errors (SQS's attribute names).
pub fn violations_with(
    shape: &Shape,
    value: &Value,
    enums: bool,
) -> Result<Vec<Violation>, ApiError> {
    if !value.is_object() || !matches!(shape.kind, ShapeKind::Structure { .. }) {
        return Err(ApiError::serialization(format!(
            "Expected a JSON object as the request body, found {}",
            json_kind(value)
        )));
    }
    let mut checker = Checker {
        violations: Vec::new(),
        path: String::new(),
        enums,
    };
    checker.check(shape, value)?;
    Ok(checker.violations)
}

struct Checker {
    violations: Vec<Violation>,
    /// The path of the value being checked; empty at the top level.
    path: String,
    /// Whether enum value sets are checked.
    enums: bool,
}

impl Checker {
    fn check(&mut self, shape: &Shape, value: &Value) -> Result<(), ApiError> {
        match &shape.kind {
            ShapeKind::Structure { members } => {
                let Value::Object(object) = value else {
                    return Err(self.type_error("a structure", value));
                };
                for member in *members {
                    let len = self.path.len();
                    if !self.path.is_empty() {
                        self.path.push('.');
                    }
                    // AWS's front end names members in lowerCamelCase whatever the model's
                    // casing ('functionName' for Lambda's `FunctionName`).
                    let mut chars = member.name.chars();
                    if let Some(first) = chars.next() {
                        self.path.push(first.to_ascii_lowercase());
                        self.path.push_str(chars.as_str());
                    }
                    match object.get(member.name) {
                        None | Some(Value::Null) => {
                            if member.required {
                                self.null_violation(member.shape);
                            }
                        }
                        Some(value) => self.check(member.shape, value)?,
                    }
                    self.path.truncate(len);
                }
            }
            ShapeKind::String {
                min,
                max,
                pattern,
                values,
            } => {
                let Value::String(s) = value else {
                    return Err(self.type_error("a string", value));
                };
                self.check_string(shape, s, value, *min, *max);
                if let Some(pattern) = pattern
                    && !(pattern.matches)(s)
                {
                    self.violation(
                        shape,
                        value,
                        format!(
                            "Member must satisfy regular expression pattern: {}",
                            pattern.regex
                        ),
                    );
                }
                if self.enums && !values.is_empty() && !values.contains(&s.as_str()) {
                    self.violation(
                        shape,
                        value,
                        format!(
                            "Member must satisfy enum value set: [{}]",
                            values.join(", ")
                        ),
                    );
                }
            }
            ShapeKind::Blob { min, max } => {
                let Value::String(s) = value else {
                    return Err(self.type_error("a blob (base64 string)", value));
                };
                self.check_string(shape, s, value, *min, *max);
            }
            ShapeKind::Integer { min, max } | ShapeKind::Long { min, max } => {
                let (expected, range) = match shape.kind {
                    ShapeKind::Integer { .. } => {
                        ("an integer", i64::from(i32::MIN)..=i64::from(i32::MAX))
                    }
                    _ => ("a long", i64::MIN..=i64::MAX),
                };
                let Some(n) = value.as_i64().filter(|n| range.contains(n)) else {
                    return Err(self.type_error(expected, value));
                };
                if let Some(min) = min
                    && n < *min
                {
                    self.violation(
                        shape,
                        value,
                        format!("Member must have value greater than or equal to {min}"),
                    );
                }
                if let Some(max) = max
                    && n > *max
                {
                    self.violation(
                        shape,
                        value,
                        format!("Member must have value less than or equal to {max}"),
                    );
                }
            }
            ShapeKind::Float { min, max } => {
                let Some(n) = value.as_f64() else {
                    return Err(self.type_error("a number", value));
                };
                if let Some(min) = min
                    && n < *min
                {
                    self.violation(
                        shape,
                        value,
                        format!("Member must have value greater than or equal to {min}"),
                    );
                }
                if let Some(max) = max
                    && n > *max
                {
                    self.violation(
                        shape,
                        value,
                        format!("Member must have value less than or equal to {max}"),
                    );
                }
            }
            ShapeKind::Boolean => {
                if !value.is_boolean() {
                    return Err(self.type_error("a boolean", value));
                }
            }
            ShapeKind::Timestamp => {
                if !value.is_number() {
                    return Err(self.type_error("a timestamp (epoch seconds)", value));
                }
            }
            ShapeKind::List {
                member, min, max, ..
            } => {
                let Value::Array(items) = value else {
                    return Err(self.type_error("a list", value));
                };
                self.check_len(shape, value, items.len() as u64, *min, *max);
                for (i, item) in items.iter().enumerate() {
                    let len = self.path.len();
                    // Writing to a String cannot fail.
                    let _ = write!(self.path, ".{}.member", i + 1);
                    if item.is_null() {
                        self.null_violation(member);
                    } else {
                        self.check(member, item)?;
                    }
                    self.path.truncate(len);
                }
            }
            ShapeKind::Map {
                key,
                value: value_shape,
                min,
                max,
                ..
            } => {
                let Value::Object(entries) = value else {
                    return Err(self.type_error("a map", value));
                };
                self.check_len(shape, value, entries.len() as u64, *min, *max);
                for (k, v) in entries {
                    let len = self.path.len();
                    self.path.push('.');
                    self.path.push_str(k);
                    self.check(key, &Value::String(k.clone()))?;
                    if v.is_null() {
                        self.null_violation(value_shape);
                    } else {
                        self.check(value_shape, v)?;
                    }
                    self.path.truncate(len);
                }
            }
        }
        Ok(())
    }

    /// Length constraints of a string, in UTF-16 code units as AWS counts them.
    fn check_string(
        &mut self,
        shape: &Shape,
        s: &str,
        value: &Value,
        min: Option<u64>,
        max: Option<u64>,
    ) {
        // UTF-16 units lie in [bytes / 3, bytes]: count them only when the bounds cannot decide.
        let bytes = s.len() as u64;
        if max.is_none_or(|max| bytes <= max) && min.is_none_or(|min| bytes / 3 >= min) {
            return;
        }
        let units = s.encode_utf16().count() as u64;
        self.check_len(shape, value, units, min, max);
    }

    fn check_len(
        &mut self,
        shape: &Shape,
        value: &Value,
        len: u64,
        min: Option<u64>,
        max: Option<u64>,
    ) {
        if let Some(min) = min
            && len < min
        {
            self.violation(
                shape,
                value,
                format!("Member must have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = max
            && len > max
        {
            self.violation(
                shape,
                value,
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    fn violation(&mut self, shape: &Shape, value: &Value, constraint: String) {
        let value = (!shape.sensitive).then(|| {
            let mut out = String::from("'");
            render(shape, value, &mut out);
            out.push('\'');
            out
        });
        self.violations.push(Violation {
            path: self.path.clone(),
            value,
            constraint,
        });
    }

    fn null_violation(&mut self, shape: &Shape) {
        self.violations.push(Violation {
            path: self.path.clone(),
            value: (!shape.sensitive).then(|| "null".to_string()),
            constraint: "Member must not be null".to_string(),
        });
    }

    fn type_error(&self, expected: &str, found: &Value) -> ApiError {
        ApiError::serialization(format!(
            "Expected {expected} at '{}', found {}",
            self.path,
            json_kind(found)
        ))
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Renders a value as AWS echoes it inside `Value '...'`: scalars as text, lists as
/// `[a, b]`, structures as `Shape(member=value, other=null)`.
fn render(shape: &Shape, value: &Value, out: &mut String) {
    if shape.sensitive {
        out.push_str("***Sensitive Data Redacted***");
        return;
    }
    match (&shape.kind, value) {
        (_, Value::String(s)) => out.push_str(s),
        (_, Value::Null) => out.push_str("null"),
        (_, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Value::Number(n)) => out.push_str(&n.to_string()),
        (ShapeKind::List { member, .. }, Value::Array(items)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render(member, item, out);
            }
            out.push(']');
        }
        (ShapeKind::Structure { members }, Value::Object(object)) => {
            out.push_str(shape.name);
            out.push('(');
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(member.name);
                out.push('=');
                render(
                    member.shape,
                    object.get(member.name).unwrap_or(&Value::Null),
                    out,
                );
            }
            out.push(')');
        }
        (ShapeKind::Map { value: v, .. }, Value::Object(object)) => {
            out.push('{');
            for (i, (k, item)) in object.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render(v, item, out);
            }
            out.push('}');
        }
        (_, other) => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sfn::shapes;

    fn message(shape: &Shape, value: Value) -> String {
        let error = validate(shape, &value).unwrap_err();
        assert_eq!(error.kind, "ValidationException", "{error}");
        error.message
    }

    #[test]
    fn too_long_name_is_reported_like_aws() {
        let name = "a".repeat(81);
        let value = json!({"name": name, "definition": "{}", "roleArn": "arn:aws:iam::1:role/r"});
        assert_eq!(
            message(&shapes::CREATE_STATE_MACHINE_INPUT, value),
            format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy \
                 constraint: Member must have length less than or equal to 80"
            )
        );
    }

    #[test]
    fn missing_required_members_are_null() {
        assert_eq!(
            message(&shapes::DESCRIBE_STATE_MACHINE_INPUT, json!({})),
            "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy \
             constraint: Member must not be null"
        );
        assert_eq!(
            message(
                &shapes::CREATE_STATE_MACHINE_INPUT,
                json!({"name": "n", "definition": null})
            ),
            "2 validation errors detected: Value at 'definition' failed to satisfy constraint: \
             Member must not be null; Value null at 'roleArn' failed to satisfy constraint: \
             Member must not be null"
        );
    }

    #[test]
    fn numeric_ranges_and_enums() {
        assert_eq!(
            message(
                &shapes::LIST_EXECUTIONS_INPUT,
                json!({"maxResults": 1001, "statusFilter": "succeeded"})
            ),
            "2 validation errors detected: Value 'succeeded' at 'statusFilter' failed to satisfy \
             constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, \
             TIMED_OUT, ABORTED, PENDING_REDRIVE]; Value '1001' at 'maxResults' failed to \
             satisfy constraint: Member must have value less than or equal to 1000"
        );
        assert!(validate(&shapes::LIST_EXECUTIONS_INPUT, &json!({"maxResults": 0})).is_ok());
    }

    #[test]
    fn nested_paths_and_list_values() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m:1";
        let value = json!({
            "name": "alias",
            "routingConfiguration": [
                {"stateMachineVersionArn": arn, "weight": 50},
                {"stateMachineVersionArn": arn, "weight": 101},
            ],
        });
        assert_eq!(
            message(&shapes::CREATE_STATE_MACHINE_ALIAS_INPUT, value),
            "1 validation error detected: Value '101' at 'routingConfiguration.2.member.weight' \
             failed to satisfy constraint: Member must have value less than or equal to 100"
        );
        let item = json!({"stateMachineVersionArn": arn, "weight": 30});
        let value = json!({"name": "alias", "routingConfiguration": [item, item, item]});
        assert_eq!(
            message(&shapes::CREATE_STATE_MACHINE_ALIAS_INPUT, value),
            format!(
                "1 validation error detected: Value '[RoutingConfigurationListItem(\
                 stateMachineVersionArn={arn}, weight=30), RoutingConfigurationListItem(\
                 stateMachineVersionArn={arn}, weight=30), RoutingConfigurationListItem(\
                 stateMachineVersionArn={arn}, weight=30)]' at 'routingConfiguration' failed to \
                 satisfy constraint: Member must have length less than or equal to 2"
            )
        );
    }

    #[test]
    fn patterns_are_checked() {
        let value = json!({"name": "123", "routingConfiguration": []});
        assert_eq!(
            message(&shapes::CREATE_STATE_MACHINE_ALIAS_INPUT, value),
            "2 validation errors detected: Value '123' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$; \
             Value '[]' at 'routingConfiguration' failed to satisfy constraint: Member must have \
             length greater than or equal to 1"
        );
        assert!(patterns::alias_name("PROD-1"));
        assert!(!patterns::alias_name("INVALID ALIAS"));
        assert!(!patterns::alias_name("ALIAS@"));
        assert!(patterns::printable_ascii("a!~"));
        assert!(!patterns::printable_ascii("a b"));
        assert!(!patterns::printable_ascii(""));
        assert!(patterns::ascii(""));
        assert!(!patterns::ascii("é"));
    }

    #[test]
    fn hand_written_matchers_follow_the_java_patterns() {
        assert!(patterns::lambda_alias_name("prod-1"));
        assert!(!patterns::lambda_alias_name("123"));
        assert!(!patterns::lambda_alias_name("a.b"));
        assert!(patterns::lambda_tenancy_config_key("_k"));
        assert!(!patterns::lambda_tenancy_config_key("system.k"));
        assert!(!patterns::lambda_tenancy_config_key("a$b"));
        assert!(patterns::lambda_no_trailing_dot("a.b"));
        assert!(patterns::lambda_no_trailing_dot(""));
        assert!(!patterns::lambda_no_trailing_dot("a."));
        assert!(patterns::lambda_function_alias_arn("f"));
        assert!(patterns::lambda_function_alias_arn("f:live"));
        assert!(!patterns::lambda_function_alias_arn("f:12"));
        assert!(patterns::lambda_function_alias_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        ));
        assert!(!patterns::lambda_function_alias_arn("f g"));
        assert!(patterns::not_blank(" a "));
        assert!(!patterns::not_blank(" \t"));
        assert!(!patterns::not_blank("a\nb"));
        assert!(patterns::scheduler_source("my.app"));
        assert!(!patterns::scheduler_source("aws.s3"));
        assert!(patterns::scheduler_source("$.detail.items[0]"));
        assert!(!patterns::scheduler_source(""));
        assert!(patterns::pipes_source("aws.x"));
        // Java finds a later position ("ws.") that does not start with `aws.`.
        assert!(patterns::pipes_source("aws."));
        assert!(!patterns::pipes_source(""));
        assert!(!patterns::pipes_source("a\nb"));
        assert!(patterns::pipes_source("$anything"));
        assert!(patterns::not_blank_or_json_path("$.a/b[*]"));
        assert!(!patterns::not_blank_or_json_path(""));
    }

    #[test]
    fn sensitive_values_are_not_echoed_and_lengths_count_utf16_units() {
        let input = "é".repeat(262_145); // 2 bytes, 1 UTF-16 unit each
        let value = json!({"stateMachineArn": "arn", "input": input});
        assert_eq!(
            message(&shapes::START_EXECUTION_INPUT, value),
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member \
             must have length less than or equal to 262144"
        );
        let input = "é".repeat(262_144);
        let value = json!({"stateMachineArn": "arn", "input": input});
        assert!(validate(&shapes::START_EXECUTION_INPUT, &value).is_ok());
        // Too short, non-sensitive, multibyte: the value is echoed.
        let value = json!({"stateMachineArn": ""});
        assert_eq!(
            message(&shapes::DESCRIBE_STATE_MACHINE_INPUT, value),
            "1 validation error detected: Value '' at 'stateMachineArn' failed to satisfy \
             constraint: Member must have length greater than or equal to 1"
        );
        let name = "😀".repeat(41); // 82 UTF-16 units, 41 chars
        let value = json!({"stateMachineArn": "a", "name": name});
        assert!(
            message(&shapes::START_EXECUTION_INPUT, value)
                .contains(&format!("Value '{name}' at 'name'"))
        );
    }

    #[test]
    fn wrong_types_are_serialization_errors() {
        for value in [
            json!({"stateMachineArn": 5}),
            json!({"stateMachineArn": ["a"]}),
            json!({"stateMachineArn": {}}),
            json!({"stateMachineArn": true}),
        ] {
            let error = validate(&shapes::DESCRIBE_STATE_MACHINE_INPUT, &value).unwrap_err();
            assert_eq!(error.kind, "SerializationException", "{value}");
            assert!(
                error.message.contains("'stateMachineArn'"),
                "{}",
                error.message
            );
        }
        for value in [
            json!({"maxResults": "1"}),
            json!({"maxResults": 1.5}),
            json!({"maxResults": 1e12}),
        ] {
            let error = validate(&shapes::LIST_STATE_MACHINES_INPUT, &value).unwrap_err();
            assert_eq!(error.kind, "SerializationException", "{value}");
        }
        for value in [json!([]), json!("x"), json!(null), json!(1)] {
            let error = validate(&shapes::LIST_STATE_MACHINES_INPUT, &value).unwrap_err();
            assert_eq!(error.kind, "SerializationException", "{value}");
        }
        let error = validate(
            &shapes::TAG_RESOURCE_INPUT,
            &json!({"resourceArn": "a", "tags": [{"key": 1}]}),
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "Expected a string at 'tags.1.member.key', found a number"
        );
    }

    #[test]
    fn unknown_members_are_ignored_and_null_optionals_are_absent() {
        let value = json!({"stateMachineArn": "a", "bogus": [1, 2], "includedData": null});
        assert!(validate(&shapes::DESCRIBE_STATE_MACHINE_INPUT, &value).is_ok());
    }

    #[test]
    fn null_list_items_are_violations() {
        let value = json!({"resourceArn": "a", "tags": [null]});
        assert_eq!(
            message(&shapes::TAG_RESOURCE_INPUT, value),
            "1 validation error detected: Value null at 'tags.1.member' failed to satisfy \
             constraint: Member must not be null"
        );
    }
}
