//! JSONPath as Step Functions uses it (Jayway semantics): full paths for InputPath, OutputPath,
//! ItemsPath and `.$` parameters; reference paths (names and indices only, one node) for
//! ResultPath and Choice `Variable`; and ResultPath's write ([`set`]).

//!
//! Semantics follow Jayway JsonPath, the library AWS evaluates paths with, as observed against
//! AWS:
//!
//! - A *definite* path (only names and indices) selects one node or nothing; an *indefinite* one
//!   (wildcard, deep scan, union, slice, filter) selects an array of every match, possibly
//!   empty. A final `['a','b']` is Jayway's one exception: it merges the named members into one
//!   object and counts as definite.
//! - Negative indices count from the end; slices follow Jayway's rules (see [`eval`]).
//! - When a definite path does not resolve, [`Path::select_result`] says why in the words AWS
//!   puts in the `States.Runtime` cause (`Invalid path '$.x' : No results for path: $['x']`).
//!   An indefinite path that runs into a missing member yields `[]` instead, as on AWS.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::{Failure, Scope};

mod eval;
mod parse;

use eval::Miss;

/// Which root a path reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's data.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable (the name is the path's [`Path::variable`]).
    Variable,
}

/// A path that does not parse. `offset` is a byte offset into `text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath '{text}' at offset {offset}: {message}")]
pub struct PathError {
    pub text: String,
    pub offset: usize,
    pub message: String,
}

/// Why a path selected nothing. Its `Display` is the `States.Runtime` cause AWS reports for
/// InputPath, OutputPath and the like, minus the "An error occurred while executing the state
/// ..." prefix the step core adds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid path '{path}' : {detail}")]
pub struct NotFound {
    /// The path as written.
    pub path: String,
    pub kind: NotFoundKind,
    /// Jayway's message, e.g. `No results for path: $['x']` or `Missing property in path $['a']`.
    pub detail: String,
}

impl NotFound {
    /// The cause text: `Invalid path '<path>' : <detail>`.
    pub fn cause(&self) -> String {
        self.to_string()
    }
}

/// `States.Runtime`, which is how AWS fails an InputPath, OutputPath or ItemsPath that does not
/// resolve.
impl From<NotFound> for Failure {
    fn from(not_found: NotFound) -> Self {
        Failure::runtime(not_found.to_string())
    }
}

/// The kinds of Jayway path-not-found conditions, in the order a path can run into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFoundKind {
    /// The last name is missing or the last index is out of range: `No results for path: ...`.
    NoResults,
    /// A name before the last one is missing: `Missing property in path ...`.
    MissingProperty,
    /// A name applied to a non-object: `Expected to find an object with property ...`.
    NotAnObject,
    /// An index, union or slice applied to `null`: `The path ... is null`.
    NullArray,
    /// An index, union or slice applied to a non-array: `Filter: ... can only be applied to
    /// arrays ...`. Fails indefinite paths too.
    NotAnArray,
    /// A filter applied to a primitive: `Filter: ... can not be applied to primitives ...`.
    /// Fails indefinite paths too.
    FilterOnPrimitive,
}

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    /// `.name` or `['name']`: one member of an object.
    Name(Box<str>),
    /// `['a','b']`: several members (merged into one object when last, else each in turn).
    Names(Box<[Box<str>]>),
    /// `[3]` or `[-1]` (Jayway counts negative indices from the end).
    Index(i64),
    /// `[0,2]`: several elements, in the order written.
    Indices(Box<[i64]>),
    /// `[1:3]`, `[1:]`, `[:3]`, `[-2:]`.
    Slice(Slice),
    /// `.*` or `[*]`: every member value or element.
    Wildcard,
    /// `..`: the next segment applied to this node and every object and array below it. Always
    /// followed by that segment.
    Scan,
    /// `[?(...)]`.
    Filter(Box<FilterSegment>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slice {
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FilterSegment {
    pub(crate) expr: Filter,
    /// The expression as written between `[?(` and `)]`, for [`Path::normalized`].
    pub(crate) source: Box<str>,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Or(Box<[Filter]>),
    And(Box<[Filter]>),
    Not(Box<Filter>),
    /// `@.tag`: the path resolves (even to `null`).
    Exists(SubPath),
    Compare(Box<(Operand, CmpOp, Operand)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Path(SubPath),
    Literal(Value),
}

/// A path inside a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubPath {
    pub(crate) origin: Origin,
    pub(crate) segments: Box<[Segment]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `@`: the node being tested.
    Current,
    /// `$` or `$$`.
    Root(Root),
}

/// A compiled JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
    /// The variable a `$name` path reads.
    variable: Option<Box<str>>,
    segments: Box<[Segment]>,
    definite: bool,
    normalized: Box<str>,
}

impl Path {
    /// Parses a full JSONPath rooted at `$` or `$$`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        parse::parse(text, false)
    }

    /// Parses a reference path: `$`/`$$` followed by `.name`, `['name']` and `[index]` only.
    pub fn parse_reference(text: &str) -> Result<Self, PathError> {
        parse::parse(text, true)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn root(&self) -> Root {
        self.root
    }

    /// The variable a `$name…` path reads.
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    /// The root as written: `$`, `$$` or `$name`.
    fn root_text(&self) -> String {
        root_text(self.root, self.variable.as_deref())
    }

    /// Whether the path selects at most one node (Jayway's `isDefinite`): `select` then yields
    /// that node itself rather than an array of matches.
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// Whether the path is a reference path (names and indices only), usable as ResultPath or
    /// a Choice `Variable`.
    pub fn is_reference(&self) -> bool {
        self.segments
            .iter()
            .all(|segment| matches!(segment, Segment::Name(_) | Segment::Index(_)))
    }

    /// Whether the path is `$` or `$$` alone.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Jayway's bracket form, used in AWS error causes: `$.a.b[0]` is `$['a']['b'][0]`,
    /// `$..x[*]` is `$..['x'][*]`. Context paths keep `$$`; filters keep their expression
    /// (`[?(@.a > 1)]`), so the result parses back to an equivalent path.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// Selects from `scope`. A definite path yields its single node; an indefinite one
    /// (wildcards, slices, filters, unions, `..`) yields an array of the matches.
    ///
    /// A definite path selects by reference, without allocating. `None` means a definite path
    /// did not resolve, or array/filter syntax met the wrong kind of node; an indefinite path
    /// that runs into a missing member yields `[]`, as on AWS.
    pub fn select<'v>(&self, scope: &Scope<'v>) -> Option<Cow<'v, Value>> {
        match eval::select(self.start(scope)?, &self.segments, scope) {
            Ok(value) => Some(value),
            Err(miss) if !self.definite && !miss.is_hard() => {
                Some(Cow::Owned(Value::Array(Vec::new())))
            }
            Err(_) => None,
        }
    }

    /// Like [`select`](Self::select), but says why nothing was selected, in AWS's words.
    pub fn select_result<'v>(&self, scope: &Scope<'v>) -> Result<Cow<'v, Value>, NotFound> {
        let Some(start) = self.start(scope) else {
            return Err(NotFound {
                path: self.text.clone(),
                kind: NotFoundKind::NoResults,
                detail: format!(
                    "The variable '{}' is not defined",
                    self.variable.as_deref().unwrap_or_default()
                ),
            });
        };
        match eval::select(start, &self.segments, scope) {
            Ok(value) => Ok(value),
            Err(miss) if !self.definite && !miss.is_hard() => {
                Ok(Cow::Owned(Value::Array(Vec::new())))
            }
            Err(miss) => Err(self.not_found(miss)),
        }
    }

    /// The cause AWS gives when this path finds nothing and no better reason applies:
    /// `Invalid path '$.x' : No results for path: $['x']`.
    pub fn missing_cause(&self) -> String {
        format!(
            "Invalid path '{}' : No results for path: {}",
            self.text, self.normalized
        )
    }

    /// Where the path starts; `None` for an undefined variable.
    fn start<'v>(&self, scope: &Scope<'v>) -> Option<&'v Value> {
        match self.root {
            Root::Input => Some(scope.input),
            Root::Context => Some(scope.context),
            Root::Variable => scope.variable(self.variable.as_deref().unwrap_or_default()),
        }
    }

    fn not_found(&self, miss: Miss<'_>) -> NotFound {
        let prefix = |end: usize| {
            render(
                &self.root_text(),
                self.segments.get(..end).unwrap_or(&[]),
                Style::Jayway,
            )
        };
        let rest = |from: usize| {
            let mut out = String::new();
            render_segments(
                &mut out,
                self.segments.get(from..).unwrap_or(&[]),
                Style::Jayway,
            );
            out
        };
        let (kind, detail) = match miss {
            Miss::NoResults => (
                NotFoundKind::NoResults,
                format!("No results for path: {}", self.normalized),
            ),
            Miss::MissingProperty(i) => (
                NotFoundKind::MissingProperty,
                format!("Missing property in path {}", prefix(i + 1)),
            ),
            Miss::NotAnObject(i, found) => {
                let fragment = {
                    let mut out = String::new();
                    render_segments(
                        &mut out,
                        self.segments.get(i..=i).unwrap_or(&[]),
                        Style::Jayway,
                    );
                    out
                };
                (
                    NotFoundKind::NotAnObject,
                    format!(
                        "Expected to find an object with property {fragment} in path {} but found '{}'. \
                         This is not a json object according to the JsonProvider: '{JSON_PROVIDER}'.",
                        prefix(i),
                        java_class(found),
                    ),
                )
            }
            Miss::Null(i) => (
                NotFoundKind::NullArray,
                format!("The path {} is null", prefix(i)),
            ),
            Miss::NotAnArray(i, found) => (
                NotFoundKind::NotAnArray,
                format!(
                    "Filter: {} can only be applied to arrays. Current context is: {}",
                    rest(i),
                    context_text(found)
                ),
            ),
            Miss::FilterOnPrimitive(i, found) => (
                NotFoundKind::FilterOnPrimitive,
                format!(
                    "Filter: {} can not be applied to primitives. Current context is: {}",
                    rest(i),
                    context_text(found)
                ),
            ),
        };
        NotFound {
            path: self.text.clone(),
            kind,
            detail,
        }
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The JSON provider class Jayway names in "not a json object" messages. AWS's configuration is
/// not documented; Jackson is the likeliest for an AWS Java service.
const JSON_PROVIDER: &str = "com.jayway.jsonpath.spi.json.JacksonJsonProvider";

/// The Java class Jayway (with Jackson) would report for `value`.
fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::String(_) => "java.lang.String",
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "java.lang.Integer",
            Some(_) => "java.lang.Long",
            None if n.is_u64() => "java.math.BigInteger",
            None => "java.lang.Double",
        },
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

/// Compact JSON for a node named in an error message, cut off after a kilobyte: error causes
/// end up in history events and must not carry a whole payload. Iterative, so deep input
/// cannot exhaust the stack.
fn context_text(value: &Value) -> String {
    const LIMIT: usize = 1024;
    enum Item<'a> {
        Value(&'a Value),
        Key(&'a str),
        Text(&'static str),
    }
    let mut out = String::new();
    let mut stack = vec![Item::Value(value)];
    while let Some(item) = stack.pop() {
        if out.len() > LIMIT {
            out.push_str("...");
            break;
        }
        match item {
            Item::Text(text) => out.push_str(text),
            Item::Key(key) => {
                push_json_string(&mut out, key);
                out.push(':');
            }
            Item::Value(Value::String(s)) => push_json_string(&mut out, s),
            Item::Value(Value::Array(items)) => {
                out.push('[');
                stack.push(Item::Text("]"));
                let shown = items.len().min(LIMIT);
                for (i, item) in items.iter().take(shown).enumerate().rev() {
                    stack.push(Item::Value(item));
                    if i > 0 {
                        stack.push(Item::Text(","));
                    }
                }
            }
            Item::Value(Value::Object(map)) => {
                out.push('{');
                stack.push(Item::Text("}"));
                let entries: Vec<_> = map.iter().take(LIMIT).collect();
                for (i, (key, value)) in entries.into_iter().enumerate().rev() {
                    stack.push(Item::Value(value));
                    stack.push(Item::Key(key));
                    if i > 0 {
                        stack.push(Item::Text(","));
                    }
                }
            }
            Item::Value(scalar) => {
                let _ = write!(out, "{scalar}");
            }
        }
    }
    out
}

fn push_json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str(s),
    }
}

/// How to render segments.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// [`Path::normalized`]: filters with their expression.
    Normalized,
    /// Jayway's `toString`: filters as `[?]`.
    Jayway,
}

fn root_text(root: Root, variable: Option<&str>) -> String {
    match root {
        Root::Input => "$".to_owned(),
        Root::Context => "$$".to_owned(),
        Root::Variable => format!("${}", variable.unwrap_or_default()),
    }
}

fn render(root: &str, segments: &[Segment], style: Style) -> String {
    let mut out = String::with_capacity(16 * segments.len() + 2);
    out.push_str(root);
    render_segments(&mut out, segments, style);
    out
}

fn render_segments(out: &mut String, segments: &[Segment], style: Style) {
    for segment in segments {
        match segment {
            Segment::Name(name) => {
                out.push('[');
                push_quoted(out, name);
                out.push(']');
            }
            Segment::Names(names) => {
                out.push('[');
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_quoted(out, name);
                }
                out.push(']');
            }
            Segment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Indices(indices) => {
                out.push('[');
                for (i, index) in indices.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{index}");
                }
                out.push(']');
            }
            Segment::Slice(Slice { start, end }) => {
                out.push('[');
                if let Some(start) = start {
                    let _ = write!(out, "{start}");
                }
                out.push(':');
                if let Some(end) = end {
                    let _ = write!(out, "{end}");
                }
                out.push(']');
            }
            Segment::Wildcard => out.push_str("[*]"),
            Segment::Scan => out.push_str(".."),
            Segment::Filter(filter) => match style {
                Style::Normalized => {
                    let _ = write!(out, "[?({})]", filter.source);
                }
                Style::Jayway => out.push_str("[?]"),
            },
        }
    }
}

/// `'name'`. Jayway prints names raw; a quote or backslash in a name is escaped here so that
/// the normalized form parses back.
fn push_quoted(out: &mut String, name: &str) {
    out.push('\'');
    for c in name.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
}

/// Applies a ResultPath: returns `input` with `value` placed at `path` (`$` replaces the input).
///
/// Per the AWS guide, missing members along the path are created as objects and an existing
/// member is overwritten. An index must name an existing element (negative counts from the
/// end): there is nothing sensible to pad a short array with. Anything else that stands in the
/// way (a string where an object is needed, `$$`, a non-reference path) fails with
/// `States.ResultPathMatchFailure`. `input` is modified in place.
pub fn set(mut input: Value, path: &Path, value: Value) -> Result<Value, Failure> {
    let fail = |reason: String| {
        Failure::result_path(format!(
            "Unable to apply ResultPath '{}' to the state input: {reason}",
            path.text
        ))
    };
    if path.root == Root::Context {
        return Err(fail("the context object ($$) is read-only".to_owned()));
    }
    if path.root == Root::Variable {
        return Err(fail(
            "variables are assigned with Assign, not ResultPath".to_owned(),
        ));
    }
    let Some((last, parents)) = path.segments.split_last() else {
        return Ok(value);
    };
    let mut node = &mut input;
    for (i, segment) in parents.iter().enumerate() {
        node = match (segment, node) {
            (Segment::Name(name), Value::Object(map)) => {
                if !map.contains_key(&**name) {
                    map.insert((**name).to_owned(), Value::Object(Map::new()));
                }
                match map.get_mut(&**name) {
                    Some(child) => child,
                    None => {
                        return Err(fail(format!(
                            "cannot create {}",
                            render(&path.root_text(), &path.segments[..=i], Style::Jayway)
                        )));
                    }
                }
            }
            (Segment::Index(index), Value::Array(items)) => {
                let len = items.len();
                match eval::resolve_index(*index, len).and_then(|j| items.get_mut(j)) {
                    Some(child) => child,
                    None => return Err(fail(out_of_range(path, i, len))),
                }
            }
            (segment, node) => return Err(fail(mismatch(path, i, segment, node))),
        };
    }
    match (last, node) {
        (Segment::Name(name), Value::Object(map)) => {
            // Overwrite in place when present so the member keeps its position.
            match map.get_mut(&**name) {
                Some(slot) => *slot = value,
                None => {
                    map.insert((**name).to_owned(), value);
                }
            }
        }
        (Segment::Index(index), Value::Array(items)) => {
            let len = items.len();
            match eval::resolve_index(*index, len).and_then(|j| items.get_mut(j)) {
                Some(slot) => *slot = value,
                None => return Err(fail(out_of_range(path, parents.len(), len))),
            }
        }
        (segment, node) => return Err(fail(mismatch(path, parents.len(), segment, node))),
    }
    Ok(input)
}

fn out_of_range(path: &Path, i: usize, len: usize) -> String {
    format!(
        "{} is out of range for an array of {len} element{}",
        render(&path.root_text(), &path.segments[..=i], Style::Jayway),
        if len == 1 { "" } else { "s" }
    )
}

fn mismatch(path: &Path, i: usize, segment: &Segment, node: &Value) -> String {
    let at = render(&path.root_text(), &path.segments[..i], Style::Jayway);
    let found = match node {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    match segment {
        Segment::Name(_) => format!("{at} is {found}, not an object"),
        Segment::Index(_) => format!("{at} is {found}, not an array"),
        _ => "ResultPath must be a reference path (names and indices only)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn select(path: &str, input: &Value) -> Option<Value> {
        let context =
            json!({"Execution": {"Id": "arn:exec", "Input": {"k": 1}}, "State": {"Name": "S"}});
        let path = Path::parse(path).unwrap_or_else(|e| panic!("{e}"));
        path.select(&Scope::new(input, &context))
            .map(Cow::into_owned)
    }

    fn cause(path: &str, input: &Value) -> String {
        let path = Path::parse(path).unwrap_or_else(|e| panic!("{e}"));
        match path.select_result(&Scope::new(input, &Value::Null)) {
            Ok(value) => panic!("{path} selected {value}"),
            Err(not_found) => not_found.cause(),
        }
    }

    fn parse_error(path: &str) -> PathError {
        match Path::parse(path) {
            Ok(parsed) => panic!("{path} parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    fn reference_error(path: &str) -> PathError {
        match Path::parse_reference(path) {
            Ok(parsed) => panic!("{path} parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    fn apply(input: Value, path: &str, value: Value) -> Result<Value, Failure> {
        set(
            input,
            &Path::parse(path).unwrap_or_else(|e| panic!("{e}")),
            value,
        )
    }

    /// Nested `{"a": {"a": ... {"b": 1}}}`, `depth` objects deep.
    fn deep_object(depth: usize) -> Value {
        let mut value = json!({"b": 1});
        for _ in 0..depth {
            let mut map = Map::new();
            map.insert("a".to_owned(), value);
            value = Value::Object(map);
        }
        value
    }

    /// serde_json drops recursively; take deep test values apart iteratively instead.
    fn dismantle(value: Value) {
        let mut stack = vec![value];
        while let Some(mut value) = stack.pop() {
            match &mut value {
                Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
                Value::Array(items) => stack.append(items),
                _ => {}
            }
        }
    }

    fn store() -> Value {
        json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                    {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553", "price": 8.99},
                    {"category": "fiction", "author": "J. R. R. Tolkien", "title": "Rings", "isbn": "0-395", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "expensive": 10
        })
    }

    // --- Roots and definite paths -------------------------------------------------------------

    /// AWS guide, "Paths": `$` is the state input, `$$` the context object.
    #[test]
    fn dollar_selects_the_input_and_double_dollar_the_context() {
        let input = json!({"a": 1});
        assert_eq!(select("$", &input), Some(input.clone()));
        assert_eq!(select("$$.Execution.Id", &input), Some(json!("arn:exec")));
        assert_eq!(
            select("$$", &input).and_then(|c| c.get("State").cloned()),
            Some(json!({"Name": "S"}))
        );
        assert_eq!(
            Path::parse("$$.Execution.Id").map(|p| p.root()),
            Ok(Root::Context)
        );
        assert_eq!(Path::parse("$.a").map(|p| p.root()), Ok(Root::Input));
    }

    /// Performance contract: `$` and definite paths borrow the selected node.
    #[test]
    fn definite_paths_select_by_reference() {
        let input = json!({"a": {"b": [10, {"c": true}]}});
        let scope = Scope::new(&input, &Value::Null);
        for (text, expected) in [
            ("$", &input),
            ("$.a.b[1]", &input["a"]["b"][1]),
            ("$['a']['b'][-1].c", &input["a"]["b"][1]["c"]),
        ] {
            match Path::parse(text).ok().and_then(|p| p.select(&scope)) {
                Some(Cow::Borrowed(found)) => assert!(std::ptr::eq(found, expected), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    /// Dot notation, single- and double-quoted bracket notation all name a member.
    #[test]
    fn dot_and_bracket_notation_name_members() {
        let input = json!({"a": {"b": 1, "my key": 2, "dash-ed": 3, "ünï": 4, "0x": 5, "it's": 6, "q\"": 7}});
        assert_eq!(select("$.a.b", &input), Some(json!(1)));
        assert_eq!(select("$['a']['b']", &input), Some(json!(1)));
        assert_eq!(select("$[\"a\"][\"b\"]", &input), Some(json!(1)));
        assert_eq!(select("$.a['my key']", &input), Some(json!(2)));
        assert_eq!(select("$.a.dash-ed", &input), Some(json!(3)));
        assert_eq!(select("$.a.ünï", &input), Some(json!(4)));
        assert_eq!(select("$.a.0x", &input), Some(json!(5)));
        assert_eq!(select(r"$.a['it\'s']", &input), Some(json!(6)));
        // Recorded against AWS: the backslash before the other quote character is kept.
        let odd = json!({"Test\\\"\"Name\"": "v", "Test\"\"Name\"": "w"});
        assert_eq!(select(r#"$['Test\""Name"']"#, &odd), Some(json!("v")));
        assert_eq!(
            select(r#"$["it\'s"]"#, &json!({"it\\'s": 1})),
            Some(json!(1))
        );
        assert_eq!(select(r#"$.a["it's"]"#, &input), Some(json!(6)));
        assert_eq!(select(r#"$.a['q"']"#, &input), Some(json!(7)));
        assert_eq!(select(r"$.a['\u00fcn\u00ef']", &input), Some(json!(4)));
        assert_eq!(select("$[ 'a' ][ \"b\" ]", &input), Some(json!(1)));
        // Jayway accepts a bracket right after a dot.
        assert_eq!(select("$.['a'].b", &input), Some(json!(1)));
    }

    /// Jayway: "a negative index counts from the end of the array".
    #[test]
    fn indices_and_negative_indices() {
        let input = json!({"l": [1, 2, 3]});
        assert_eq!(select("$.l[0]", &input), Some(json!(1)));
        assert_eq!(select("$.l[2]", &input), Some(json!(3)));
        assert_eq!(select("$.l[-1]", &input), Some(json!(3)));
        assert_eq!(select("$.l[-3]", &input), Some(json!(1)));
        assert_eq!(select("$.l[-4]", &input), None);
        assert_eq!(select("$.l[3]", &input), None);
        assert_eq!(select("$.l[9223372036854775807]", &input), None);
        assert_eq!(select("$.l[-9223372036854775808]", &input), None);
        assert_eq!(select("$[1]", &json!(["x", "y"])), Some(json!("y")));
    }

    /// A member whose value is `null` exists: the path selects `null`.
    #[test]
    fn null_members_are_selected() {
        assert_eq!(select("$.a", &json!({"a": null})), Some(Value::Null));
    }

    // --- Causes ------------------------------------------------------------------------------

    /// Recorded against AWS (InputPath/OutputPath): "Invalid path '$.NoSuchInputPath' : No
    /// results for path: $['NoSuchInputPath']".
    #[test]
    fn missing_leaf_cause_matches_aws() {
        assert_eq!(
            cause("$.NoSuchInputPath", &json!({})),
            "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
        );
        let path = Path::parse("$.NoSuchOutputPath").unwrap();
        assert_eq!(
            path.missing_cause(),
            "Invalid path '$.NoSuchOutputPath' : No results for path: $['NoSuchOutputPath']"
        );
        let not_found = path
            .select_result(&Scope::new(&json!({}), &Value::Null))
            .unwrap_err();
        assert_eq!(not_found.kind, NotFoundKind::NoResults);
        assert_eq!(
            Failure::from(not_found),
            Failure::runtime(path.missing_cause())
        );
    }

    /// Recorded against AWS (OutputPath on `{}`): "Invalid path '$.no.such.result.path' :
    /// Missing property in path $['no']".
    #[test]
    fn missing_intermediate_cause_matches_aws() {
        assert_eq!(
            cause("$.no.such.result.path", &json!({})),
            "Invalid path '$.no.such.result.path' : Missing property in path $['no']"
        );
        assert_eq!(
            cause("$.a.b.c", &json!({"a": {}})),
            "Invalid path '$.a.b.c' : Missing property in path $['a']['b']"
        );
        assert_eq!(
            cause("$.a[1].c", &json!({"a": [0]})),
            "Invalid path '$.a[1].c' : No results for path: $['a'][1]['c']"
        );
    }

    /// Jayway's remaining PathNotFound/InvalidPath messages for definite paths.
    #[test]
    fn wrong_kind_causes_follow_jayway() {
        assert_eq!(
            cause("$.a.b", &json!({"a": 5})),
            "Invalid path '$.a.b' : Expected to find an object with property ['b'] in path $['a'] but found \
             'java.lang.Integer'. This is not a json object according to the JsonProvider: \
             'com.jayway.jsonpath.spi.json.JacksonJsonProvider'."
        );
        assert!(
            cause("$.a", &json!("text"))
                .contains("property ['a'] in path $ but found 'java.lang.String'")
        );
        assert!(cause("$.a.b", &json!({"a": null})).contains("but found 'null'"));
        assert_eq!(
            cause("$.a[0]", &json!({"a": null})),
            "Invalid path '$.a[0]' : The path $['a'] is null"
        );
        assert_eq!(
            cause("$.a[0].b", &json!({"a": {"x": [1, "y"]}})),
            "Invalid path '$.a[0].b' : Filter: [0]['b'] can only be applied to arrays. Current context is: {\"x\":[1,\"y\"]}"
        );
        assert_eq!(
            cause("$.a[?(@.b)]", &json!({"a": 3})),
            "Invalid path '$.a[?(@.b)]' : Filter: [?] can not be applied to primitives. Current context is: 3"
        );
    }

    // --- Indefinite paths ---------------------------------------------------------------------

    /// Jayway returns a list for indefinite paths; recorded against AWS with input `{}`, each
    /// of these gives `[]` rather than an error.
    #[test]
    fn indefinite_paths_over_missing_members_give_empty_arrays() {
        for path in [
            "$[*]",
            "$.items[*]",
            "$.items[1:]",
            "$.items[:1]",
            "$.item.items[*]",
            "$.item.items[1:]",
            "$.item.items[:1]",
            "$.item.items[1:5]",
            "$.items[*].itemValue",
            "$.items[1:].itemValue",
            "$.items[:1].itemValue",
            "$.item.items[1:5].itemValue",
        ] {
            assert_eq!(select(path, &json!({})), Some(json!([])), "{path}");
        }
        assert_eq!(select("$.a.b[*]", &json!({"a": 5})), Some(json!([])));
        assert_eq!(select("$.a[1:]", &json!({"a": null})), Some(json!([])));
    }

    /// Array syntax on an object is Jayway's InvalidPathException, which fails even an
    /// indefinite path (LocalStack notes `$[1:5]` on `{}` as an AWS exception).
    #[test]
    fn slices_of_non_arrays_fail() {
        assert_eq!(select("$[1:5]", &json!({})), None);
        let path = Path::parse("$[1:]").unwrap();
        let not_found = path
            .select_result(&Scope::new(&json!({}), &Value::Null))
            .unwrap_err();
        assert_eq!(not_found.kind, NotFoundKind::NotAnArray);
        assert_eq!(
            not_found.detail,
            "Filter: [1:] can only be applied to arrays. Current context is: {}"
        );
        // Further down an indefinite path, mismatches are skipped.
        assert_eq!(
            select("$[*][0]", &json!({"a": {}, "b": [7]})),
            Some(json!([7]))
        );
    }

    #[test]
    fn wildcards_select_member_values_and_elements_in_order() {
        let input = json!({"o": {"x": 1, "y": [2]}, "l": [3, 4]});
        assert_eq!(select("$.o.*", &input), Some(json!([1, [2]])));
        assert_eq!(select("$.o[*]", &input), Some(json!([1, [2]])));
        assert_eq!(select("$.l[*]", &input), Some(json!([3, 4])));
        assert_eq!(
            select("$.*", &input),
            Some(json!([{"x": 1, "y": [2]}, [3, 4]]))
        );
        assert_eq!(select("$.l.*", &input), Some(json!([3, 4])));
        assert_eq!(select("$.o.x.*", &input), Some(json!([])));
        assert_eq!(select("$[*].x", &input), Some(json!([1])));
        assert_eq!(select("$.l[*].x", &input), Some(json!([])));
    }

    /// Jayway's deep scan applies the next segment to a node, then walks into each member in
    /// order, depth first: the root's own `b` comes before those nested under `a`.
    #[test]
    fn deep_scan_is_preorder() {
        let input = json!({"a": {"b": 1, "c": {"b": 2}}, "b": 3, "d": [{"b": 4}, {"e": {"b": 5}}]});
        assert_eq!(select("$..b", &input), Some(json!([3, 1, 2, 4, 5])));
        assert_eq!(select("$..['b']", &input), Some(json!([3, 1, 2, 4, 5])));
        assert_eq!(select("$.d..b", &input), Some(json!([4, 5])));
        assert_eq!(select("$..c.b", &input), Some(json!([2])));
        assert_eq!(select("$..[0]", &input), Some(json!([{"b": 4}])));
        assert_eq!(select("$..nothing", &input), Some(json!([])));
        let small = json!({"a": {"b": 1}, "c": [2]});
        assert_eq!(select("$..*", &small), Some(json!([{"b": 1}, [2], 1, 2])));
        assert_eq!(select("$..*", &json!(5)), Some(json!([])));
    }

    #[test]
    fn deep_scan_over_the_bookstore() {
        let input = store();
        assert_eq!(
            select("$..author", &input),
            Some(json!([
                "Nigel Rees",
                "Evelyn Waugh",
                "Herman Melville",
                "J. R. R. Tolkien"
            ]))
        );
        assert_eq!(
            select("$.store..price", &input),
            Some(json!([8.95, 12.99, 8.99, 22.99, 19.95]))
        );
        assert_eq!(
            select("$..book[2].title", &input),
            Some(json!(["Moby Dick"]))
        );
        assert_eq!(select("$..book[-1:].title", &input), Some(json!(["Rings"])));
        assert_eq!(
            select("$..book[?(@.isbn)].title", &input),
            Some(json!(["Moby Dick", "Rings"]))
        );
        assert_eq!(
            select("$..[?(@.price < 10)].title", &input),
            Some(json!(["Sayings", "Moby Dick"]))
        );
    }

    /// Jayway: `['a','b']` as the last segment merges the members into one object (and is
    /// definite); elsewhere it visits each member.
    #[test]
    fn name_unions_merge_when_last_and_iterate_otherwise() {
        let input = json!({"a": {"x": 1}, "b": {"x": 2}, "c": 3});
        let merged = Path::parse("$['a','c','missing']").unwrap();
        assert!(merged.is_definite());
        assert_eq!(
            select("$['a','c','missing']", &input),
            Some(json!({"a": {"x": 1}, "c": 3}))
        );
        assert_eq!(select("$['a','b'].x", &input), Some(json!([1, 2])));
        assert_eq!(
            select("$[*]['x','y']", &input),
            Some(json!([{"x": 1}, {"x": 2}]))
        );
        assert_eq!(
            select("$..['x','y']", &json!({"x": 1, "y": 2, "z": {"x": 3}})),
            Some(json!([{"x": 1, "y": 2}]))
        );
        assert_eq!(select("$['a','b']", &json!([1])), None);
    }

    #[test]
    fn index_unions_keep_the_written_order() {
        let input = json!([10, 11, 12, 13]);
        assert_eq!(select("$[2,0]", &input), Some(json!([12, 10])));
        assert_eq!(select("$[0, -1, 9, 0]", &input), Some(json!([10, 13, 10])));
        assert!(!Path::parse("$[0,1]").unwrap().is_definite());
    }

    /// Jayway's slices: `[from:]` and `[:to]` count negatives from the end and clamp;
    /// `[from:to]` clamps only `to` (a quirk kept for fidelity).
    #[test]
    fn slices_follow_jayway() {
        let input = json!([0, 1, 2, 3, 4]);
        let cases = [
            ("$[1:3]", json!([1, 2])),
            ("$[1:]", json!([1, 2, 3, 4])),
            ("$[:2]", json!([0, 1])),
            ("$[-2:]", json!([3, 4])),
            ("$[:-2]", json!([0, 1, 2])),
            ("$[-3:-1]", json!([2, 3])),
            ("$[3:1]", json!([])),
            ("$[1:-1]", json!([])),
            ("$[2:100]", json!([2, 3, 4])),
            ("$[9:]", json!([])),
            ("$[-9:]", json!([0, 1, 2, 3, 4])),
            ("$[:-9]", json!([])),
            ("$[-2:2]", json!([3, 4, 0, 1])),
            ("$[-9223372036854775808:1]", json!([0, 1, 2, 3, 4, 0])),
        ];
        for (path, expected) in cases {
            assert_eq!(select(path, &input), Some(expected), "{path}");
        }
        assert_eq!(select("$[1:]", &json!([])), Some(json!([])));
    }

    // --- Filters ------------------------------------------------------------------------------

    #[test]
    fn filters_compare_numbers_strings_booleans_and_null() {
        let input = store();
        let titles = |filter: &str| select(&format!("$.store.book[?({filter})].title"), &input);
        assert_eq!(
            titles("@.price < 10"),
            Some(json!(["Sayings", "Moby Dick"]))
        );
        assert_eq!(titles("@.price <= 8.95"), Some(json!(["Sayings"])));
        assert_eq!(titles("@.price > 20"), Some(json!(["Rings"])));
        assert_eq!(titles("@.price >= 22.99"), Some(json!(["Rings"])));
        assert_eq!(
            titles("@.category == 'reference'"),
            Some(json!(["Sayings"]))
        );
        assert_eq!(
            titles("@.category == \"reference\""),
            Some(json!(["Sayings"]))
        );
        assert_eq!(titles("@.category != 'fiction'"), Some(json!(["Sayings"])));
        assert_eq!(titles("@.author > 'I'"), Some(json!(["Sayings", "Rings"])));
        assert_eq!(
            titles("@.price < $.expensive"),
            Some(json!(["Sayings", "Moby Dick"]))
        );
        assert_eq!(titles("@.price === 8.95"), Some(json!(["Sayings"])));
        let flags = json!([{"f": true, "n": null}, {"f": false, "n": 0}, {"g": 1}]);
        assert_eq!(
            select("$[?(@.f == true)]", &flags),
            Some(json!([{"f": true, "n": null}]))
        );
        assert_eq!(select("$[?(@.n == null)].f", &flags), Some(json!([true])));
        assert_eq!(select("$[?(@.f == 'true')]", &flags), Some(json!([])));
        assert_eq!(select("$[?(1 == 1.0)].g", &flags), Some(json!([1])));
    }

    /// Jayway: a missing operand is UNDEFINED, equal to nothing, so `!=` holds and ordering
    /// fails; numbers and strings never order against each other.
    #[test]
    fn filters_on_missing_or_mismatched_values() {
        let input = json!([{"a": 1}, {"b": 2}, {"a": "1"}]);
        assert_eq!(
            select("$[?(@.a != 1)]", &input),
            Some(json!([{"b": 2}, {"a": "1"}]))
        );
        assert_eq!(select("$[?(@.a < 5)]", &input), Some(json!([{"a": 1}])));
        assert_eq!(select("$[?(@.a == 1)]", &input), Some(json!([{"a": 1}])));
    }

    #[test]
    fn filters_test_existence_and_combine() {
        let input = store();
        let titles = |filter: &str| select(&format!("$.store.book[?({filter})].title"), &input);
        assert_eq!(titles("@.isbn"), Some(json!(["Moby Dick", "Rings"])));
        assert_eq!(titles("!@.isbn"), Some(json!(["Sayings", "Sword"])));
        assert_eq!(titles("@.isbn && @.price < 10"), Some(json!(["Moby Dick"])));
        assert_eq!(titles("@.price<10&&@.isbn"), Some(json!(["Moby Dick"])));
        assert_eq!(
            titles("@.price > 20 || @.category == 'reference'"),
            Some(json!(["Sayings", "Rings"]))
        );
        assert_eq!(
            titles("!(@.price > 10)"),
            Some(json!(["Sayings", "Moby Dick"]))
        );
        assert_eq!(
            titles("(@.price > 10 || @.isbn) && @.category == 'fiction'"),
            Some(json!(["Sword", "Moby Dick", "Rings"]))
        );
        assert_eq!(titles("@['price'] > 20"), Some(json!(["Rings"])));
        // A member holding null exists.
        assert_eq!(
            select("$[?(@.n)]", &json!([{"n": null}, {}])),
            Some(json!([{"n": null}]))
        );
    }

    /// Jayway applies a filter to an object as a whole: the object itself passes or not.
    #[test]
    fn filters_on_objects_test_the_object() {
        let input = json!({"o": {"a": 1}});
        assert_eq!(select("$.o[?(@.a == 1)]", &input), Some(json!([{"a": 1}])));
        assert_eq!(select("$.o[?(@.a == 2)]", &input), Some(json!([])));
    }

    /// Recorded against AWS (LocalStack snapshot `test_state_pass_regex_json_path_base`).
    #[test]
    fn filter_from_aws_snapshot() {
        let input = json!({"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]});
        assert_eq!(
            select("$.users[?(@.status == 0)]", &input),
            Some(json!([{"year": 1997, "status": 0}]))
        );
        let users =
            json!([{"year": 1997, "name": "A"}, {"year": 1999, "last": "B"}, {"year": 2000}]);
        assert_eq!(
            select("$[?(@.year <= 1999)]", &users),
            Some(json!([{"year": 1997, "name": "A"}, {"year": 1999, "last": "B"}]))
        );
        assert_eq!(
            select("$.[?(@.year < 1999)].name", &users),
            Some(json!(["A"]))
        );
    }

    #[test]
    fn filters_nest_and_reach_the_context() {
        let input = json!([{"tags": [{"k": "a"}]}, {"tags": [{"k": "b"}]}, {"tags": []}, {}]);
        // Jayway's existence test asks whether the path resolves, and an indefinite path that
        // matches nothing still resolves (to an empty list); only the missing member fails.
        assert_eq!(
            select("$[?(@.tags[?(@.k == 'b')])].tags", &input),
            Some(json!([[{"k": "a"}], [{"k": "b"}], []]))
        );
        assert_eq!(
            select("$[?(@.tags[0].k == 'a')]", &input),
            Some(json!([{"tags": [{"k": "a"}]}]))
        );
        let jobs = json!([{"state": "S"}, {"state": "T"}]);
        assert_eq!(
            select("$[?(@.state == $$.State.Name)]", &jobs),
            Some(json!([{"state": "S"}]))
        );
    }

    /// Numbers compare exactly across integer and float representations.
    #[test]
    fn numbers_compare_exactly() {
        use eval::compare_numbers;
        let n = |v: Value| match v {
            Value::Number(n) => n,
            _ => unreachable!(),
        };
        assert_eq!(
            compare_numbers(&n(json!(1)), &n(json!(1.0))),
            Some(std::cmp::Ordering::Equal)
        );
        assert_eq!(
            compare_numbers(
                &n(json!(9007199254740993_i64)),
                &n(json!(9007199254740992.0))
            ),
            Some(std::cmp::Ordering::Greater)
        );
        assert_eq!(
            compare_numbers(&n(json!(u64::MAX)), &n(json!(-1))),
            Some(std::cmp::Ordering::Greater)
        );
        assert_eq!(
            compare_numbers(&n(json!(0.5)), &n(json!(1))),
            Some(std::cmp::Ordering::Less)
        );
        assert_eq!(
            compare_numbers(&n(json!(1e300)), &n(json!(i64::MAX))),
            Some(std::cmp::Ordering::Greater)
        );
        assert!(eval::json_eq(
            &json!({"a": [1, {"b": 2.0}]}),
            &json!({"a": [1.0, {"b": 2}]})
        ));
        assert!(!eval::json_eq(&json!({"a": 1}), &json!({"b": 1})));
    }

    // --- Reference paths ----------------------------------------------------------------------

    /// ASL: "A Reference Path is a Path with syntax limited in such a way that it can only
    /// identify a single node".
    #[test]
    fn reference_paths_accept_names_and_indices() {
        for text in [
            "$",
            "$$",
            "$.a",
            "$['a b']",
            "$.a[0]",
            "$.a[-1].b",
            "$$.Execution.Input",
            "$[\"x\"][2]",
        ] {
            let path = Path::parse_reference(text).unwrap_or_else(|e| panic!("{e}"));
            assert!(path.is_reference() && path.is_definite(), "{text}");
        }
        assert!(!Path::parse("$.a[*]").unwrap().is_reference());
        // A quoted name may contain anything.
        assert!(Path::parse_reference("$['a*b,c:d?e@f']").is_ok());
    }

    #[test]
    fn reference_paths_reject_operators() {
        let cases = [
            ("$.a[*]", 3, "wildcard"),
            ("$.*", 1, "wildcard"),
            ("$..a", 1, "deep scan"),
            ("$.a[?(@.b)]", 3, "filter"),
            ("$['a','b']", 1, "union"),
            ("$[0,1]", 1, "union"),
            ("$[1:]", 1, "slice"),
            ("$.a@b", 1, "cannot contain '@'"),
            ("$.a:b", 1, "cannot contain ':'"),
        ];
        for (text, offset, needle) in cases {
            let error = reference_error(text);
            assert_eq!(error.offset, offset, "{text}: {error}");
            assert!(error.message.contains(needle), "{text}: {error}");
        }
        assert!(reference_error("@.a").message.contains("'@'"));
    }

    // --- Parse errors -------------------------------------------------------------------------

    #[test]
    fn parse_errors_say_where_and_why() {
        let cases = [
            ("", 0, "must start with '$'"),
            ("a.b", 0, "must start with '$'"),
            ("$a b", 2, "expected '.' or '['"),
            ("$$$", 2, "expected '.' or '['"),
            ("$.", 1, "cannot end with '.'"),
            ("$.a.", 3, "cannot end with '.'"),
            ("$..", 1, "cannot end with '..'"),
            ("$...a", 3, "unexpected '.'"),
            ("$.my key", 4, "bracket notation"),
            ("$.a.length()", 10, "functions"),
            ("$['a'", 5, "expected ']'"),
            ("$['a", 2, "unterminated"),
            ("$[", 1, "unclosed"),
            ("$[]", 2, "expected a quoted name"),
            ("$[a]", 2, "expected a quoted name"),
            ("$['a'b]", 5, "expected ']'"),
            ("$['a',]", 6, "another quoted name"),
            ("$[0:4:2]", 5, "slice steps"),
            ("$[:]", 3, "needs a start"),
            ("$[-]", 2, "digits"),
            ("$[1,]", 4, "expected an index"),
            ("$[99999999999999999999]", 2, "out of range"),
            ("$['a']b", 6, "expected '.' or '['"),
            ("$.*a", 3, "expected '.' or '['"),
            ("$[?]", 3, "expected '('"),
            ("$[?(@.a]", 7, "expected ')'"),
            ("$[?(@.a =~ /x/)]", 8, "regular expressions"),
            ("$[?(@.a in ['x'])]", 8, "'in' is not supported"),
            ("$[?(@.a == [1])]", 11, "JSON object and array literals"),
            ("$[?(@.a == x)]", 11, "expected a path"),
            ("$[?(1)]", 4, "expected a comparison"),
            ("$[?(!@.a == 1)]", 4, "'!' negates"),
            ("$[?(@.a == 1) ]x", 15, "expected '.' or '['"),
            (r"$['\u12']", 3, "hex digits"),
            (r"$['\ud800']", 3, "surrogate"),
        ];
        for (text, offset, needle) in cases {
            let error = parse_error(text);
            assert_eq!(
                (error.offset, error.text.as_str()),
                (offset, text),
                "{text}: {error}"
            );
            assert!(error.message.contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn filter_nesting_is_bounded() {
        let deep = format!("$[?({}@.a{})]", "(".repeat(100), ")".repeat(100));
        assert!(parse_error(&deep).message.contains("nest"));
        let nots = format!("$[?({}(@.a))]", "!".repeat(100));
        assert!(parse_error(&nots).message.contains("nest"));
        let ok = format!("$[?({}@.a{})]", "(".repeat(20), ")".repeat(20));
        assert!(Path::parse(&ok).is_ok());
    }

    // --- Normalized form ----------------------------------------------------------------------

    /// Jayway's `toString`, as it appears in AWS causes.
    #[test]
    fn normalized_is_jayways_bracket_form() {
        let cases = [
            ("$", "$"),
            ("$$.Execution.Id", "$$['Execution']['Id']"),
            ("$.a.b[0]", "$['a']['b'][0]"),
            ("$[\"a\"][-1]", "$['a'][-1]"),
            ("$..x[*]", "$..['x'][*]"),
            ("$.*", "$[*]"),
            (
                "$['a' , 'b'][0, 1][1:][:2][-2:3]",
                "$['a','b'][0,1][1:][:2][-2:3]",
            ),
            ("$.a[?( @.b > 1 )]", "$['a'][?(@.b > 1)]"),
            (r"$['it\'s']", r"$['it\'s']"),
        ];
        for (text, normalized) in cases {
            assert_eq!(
                Path::parse(text).unwrap().normalized(),
                normalized,
                "{text}"
            );
        }
    }

    // --- ResultPath ---------------------------------------------------------------------------

    /// AWS guide, "ResultPath": `$` replaces the input with the result.
    #[test]
    fn result_path_dollar_replaces_the_input() {
        assert_eq!(
            apply(json!({"a": 1}), "$", json!("Hello")),
            Ok(json!("Hello"))
        );
    }

    /// AWS guide: "If the path does not exist it is created"; existing members are overwritten
    /// in place.
    #[test]
    fn result_path_creates_and_overwrites() {
        let input = json!({"comment": "test", "details": "x", "who": "AWS"});
        assert_eq!(
            apply(input.clone(), "$.taskresult", json!("Hello")),
            Ok(json!({"comment": "test", "details": "x", "who": "AWS", "taskresult": "Hello"}))
        );
        assert_eq!(
            apply(json!({}), "$.a.b['c d']", json!(1)),
            Ok(json!({"a": {"b": {"c d": 1}}}))
        );
        let overwritten = apply(input, "$.details", json!([1])).unwrap();
        assert_eq!(
            overwritten,
            json!({"comment": "test", "details": [1], "who": "AWS"})
        );
        assert_eq!(
            overwritten
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["comment".into(), "details".into(), "who".into()])
        );
        assert_eq!(
            apply(json!({"a": {"x": 1}}), "$.a.y", json!(2)),
            Ok(json!({"a": {"x": 1, "y": 2}}))
        );
        assert_eq!(
            apply(json!({"a": 5}), "$.a", json!({"b": 1})),
            Ok(json!({"a": {"b": 1}}))
        );
    }

    #[test]
    fn result_path_into_arrays() {
        let input = json!({"list": [1, {"x": 0}, 3]});
        assert_eq!(
            apply(input.clone(), "$.list[1]", json!("r")),
            Ok(json!({"list": [1, "r", 3]}))
        );
        assert_eq!(
            apply(input.clone(), "$.list[-1]", json!("r")),
            Ok(json!({"list": [1, {"x": 0}, "r"]}))
        );
        assert_eq!(
            apply(input.clone(), "$.list[1].y", json!(2)),
            Ok(json!({"list": [1, {"x": 0, "y": 2}, 3]}))
        );
        assert_eq!(apply(json!([0]), "$[0]", json!(9)), Ok(json!([9])));
        let failure = apply(input, "$.list[3]", json!(0)).unwrap_err();
        assert_eq!(failure.error, crate::names::RESULT_PATH_MATCH_FAILURE);
        assert_eq!(
            failure.cause,
            "Unable to apply ResultPath '$.list[3]' to the state input: $['list'][3] is out of range for an array of 3 elements"
        );
        assert!(apply(json!({}), "$.list[0]", json!(0)).is_err());
    }

    #[test]
    fn result_path_fails_where_an_object_is_needed() {
        let failure = apply(json!("text"), "$.x", json!(1)).unwrap_err();
        assert_eq!(
            failure,
            Failure::result_path(
                "Unable to apply ResultPath '$.x' to the state input: $ is a string, not an object"
            )
        );
        let failure = apply(json!({"a": 5}), "$.a.b", json!(1)).unwrap_err();
        assert_eq!(
            failure.cause,
            "Unable to apply ResultPath '$.a.b' to the state input: $['a'] is a number, not an object"
        );
        assert!(apply(json!({"a": null}), "$.a.b", json!(1)).is_err());
        assert!(
            apply(json!({"a": {}}), "$.a[0]", json!(1))
                .unwrap_err()
                .cause
                .contains("not an array")
        );
        assert!(
            apply(json!({}), "$$.Execution", json!(1))
                .unwrap_err()
                .cause
                .contains("read-only")
        );
        assert!(
            apply(json!({"a": [1]}), "$.a[*]", json!(1))
                .unwrap_err()
                .cause
                .contains("reference path")
        );
    }

    // --- Robustness ---------------------------------------------------------------------------

    /// 10,000 segments and 10,000 levels of input: parse, select and set iterate.
    #[test]
    fn deep_paths_and_deep_input_do_not_exhaust_the_stack() {
        const DEPTH: usize = 10_000;
        let text = format!("${}.b", ".a".repeat(DEPTH));
        let path = Path::parse(&text).unwrap();
        let input = deep_object(DEPTH);
        let scope = Scope::new(&input, &Value::Null);
        assert_eq!(path.select(&scope).as_deref(), Some(&json!(1)));
        assert_eq!(
            Path::parse("$..b").unwrap().select(&scope).as_deref(),
            Some(&json!([1]))
        );
        assert_eq!(
            Path::parse("$..[?(@.b == 1)].b")
                .unwrap()
                .select(&scope)
                .as_deref(),
            Some(&json!([1]))
        );
        assert!(eval::json_eq(&input, &input));
        let missing = Path::parse(&format!("${}.c", ".a".repeat(DEPTH))).unwrap();
        assert_eq!(
            missing.select_result(&scope).unwrap_err().kind,
            NotFoundKind::NoResults
        );
        assert!(context_text(&input).ends_with("..."));
        let built = set(json!({}), &path, json!(2)).unwrap();
        assert_eq!(
            path.select(&Scope::new(&built, &Value::Null)).as_deref(),
            Some(&json!(2))
        );
        dismantle(built);
        dismantle(input);
        assert!(Path::parse(&"$".repeat(DEPTH)).is_err());
        assert!(Path::parse(&format!("$[?({})]", "@.a && ".repeat(DEPTH) + "@.a")).is_ok());
    }

    fn segment_strategy() -> impl Strategy<Value = (String, Segment)> {
        let name = prop_oneof![
            "[a-zA-Z_][a-zA-Z0-9_-]{0,6}",
            "[a-z '\"\\\\.\\[\\]()*?@,:$ü-]{0,6}",
        ];
        prop_oneof![
            name.clone().prop_map(|name| {
                let dotted = !name.is_empty()
                    && !name.starts_with('*')
                    && !name.contains(|c: char| {
                        c.is_whitespace()
                            || matches!(c, '.' | '[' | '(' | '@' | ',' | ':' | '?' | '*')
                    });
                let text = if dotted {
                    format!(".{name}")
                } else {
                    let mut quoted = String::from("[");
                    push_quoted(&mut quoted, &name);
                    quoted.push(']');
                    quoted
                };
                (text, Segment::Name(name.into()))
            }),
            (name.clone(), name).prop_map(|(a, b)| {
                let mut text = String::from("[");
                push_quoted(&mut text, &a);
                text.push_str(", ");
                push_quoted(&mut text, &b);
                text.push(']');
                (
                    text,
                    Segment::Names(vec![a.into(), b.into()].into_boxed_slice()),
                )
            }),
            any::<i64>().prop_map(|i| (format!("[{i}]"), Segment::Index(i))),
            (any::<i32>(), any::<i32>()).prop_map(|(a, b)| (
                format!("[{a},{b}]"),
                Segment::Indices(vec![a.into(), b.into()].into_boxed_slice())
            )),
            (proptest::option::of(-9i64..9), -9i64..9).prop_map(|(start, end)| {
                let text = format!(
                    "[{}:{end}]",
                    start.map(|s| s.to_string()).unwrap_or_default()
                );
                (
                    text,
                    Segment::Slice(Slice {
                        start,
                        end: Some(end),
                    }),
                )
            }),
            Just((".*".to_owned(), Segment::Wildcard)),
            Just(("[*]".to_owned(), Segment::Wildcard)),
        ]
    }

    fn path_strategy() -> impl Strategy<Value = (String, Vec<Segment>)> {
        (
            any::<bool>(),
            proptest::collection::vec((any::<bool>(), segment_strategy()), 0..8),
        )
            .prop_map(|(context, parts)| {
                let mut text = String::from(if context { "$$" } else { "$" });
                let mut segments = Vec::new();
                for (scan, (part, segment)) in parts {
                    if scan {
                        // `..` takes the place of the leading dot of a dotted segment.
                        text.push('.');
                        if !part.starts_with('.') {
                            text.push('.');
                        }
                        segments.push(Segment::Scan);
                    }
                    text.push_str(&part);
                    segments.push(segment);
                }
                (text, segments)
            })
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = Path::parse(&text);
            let _ = Path::parse_reference(&text);
        }

        #[test]
        fn parsing_path_like_text_never_panics(text in "\\$[$.\\[\\]'\"*?@()<>=!&|,:0-9a-c \\\\-]{0,30}") {
            if let Ok(path) = Path::parse(&text) {
                let input = json!({"a": [1, {"b": null}], "b": {"c": "x"}, "c": [[1], []]});
                let _ = path.select_result(&Scope::new(&input, &input));
                let _ = set(input, &path, json!(1));
            }
        }

        #[test]
        fn generated_paths_round_trip((text, segments) in path_strategy()) {
            let path = Path::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&path.segments[..], &segments[..]);
            let reparsed = Path::parse(path.text());
            prop_assert_eq!(reparsed.as_ref(), Ok(&path));
            let normalized = Path::parse(path.normalized()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&normalized.segments, &path.segments);
            prop_assert_eq!(normalized.normalized(), path.normalized());
            prop_assert_eq!(normalized.is_definite(), path.is_definite());
        }
    }
}
