//! Choice rules: the boolean expressions of a Choice state (`And`/`Or`/`Not`, the String*,
//! Numeric*, Boolean*, Timestamp* comparisons and their `Path` variants, the `Is*` tests and
//! `StringMatches`), parsed with diagnostics and evaluated against a [`Scope`].
//!
//! Semantics (AWS developer guide, "Choice state", "Choice Rules"; outcomes checked against
//! executions recorded on AWS):
//!
//! - A comparison whose `Variable` does not resolve fails with `States.Runtime` ("Invalid path
//!   '$.x': The choice state's condition path references an invalid value."), for every
//!   operator except `IsPresent`, which is how a rule tests for a missing field. The second
//!   path of a `…Path` operator fails the same way when it does not resolve.
//! - A value of the wrong type for the operator makes the comparison false, never an error
//!   (`NumericEquals` on a string, `StringEquals` on `null`, `TimestampEquals` on a string that
//!   is not a timestamp, a `…Path` operand of the wrong type).
//! - Numbers compare mathematically: `1 == 1.0`, and integers compare exactly with each other
//!   and with floats, beyond `f64` precision.
//! - Strings compare like Java's `String.compareTo` (the guide's reference): lexicographically
//!   by UTF-16 code unit.
//! - Timestamps compare as instants, so offsets are respected.
//! - `And` and `Or` evaluate left to right and short-circuit, so `IsPresent` can guard a later
//!   comparison on the same field.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use crate::path::{Path, Root};
use crate::{Diagnostics, Failure, Pointer, Scope, timestamp};

/// One entry of `Choices`: a condition and the state to go to when it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub condition: Condition,
    pub next: String,
}

/// A boolean expression over the state's input.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A data-test expression: `Variable` with one comparison operator.
    Compare(Comparison),
}

/// `Variable` and the operator that tests it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The reference path of the value under test.
    pub variable: Path,
    pub operator: Operator,
}

/// How two ordered values relate, the suffix of `StringLessThan`, `NumericEquals`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Relation {
    const ALL: [Relation; 5] = [
        Relation::Equals,
        Relation::LessThan,
        Relation::GreaterThan,
        Relation::LessThanEquals,
        Relation::GreaterThanEquals,
    ];

    /// The operator-name suffix, e.g. `LessThanEquals`.
    pub fn name(self) -> &'static str {
        match self {
            Relation::Equals => "Equals",
            Relation::LessThan => "LessThan",
            Relation::GreaterThan => "GreaterThan",
            Relation::LessThanEquals => "LessThanEquals",
            Relation::GreaterThanEquals => "GreaterThanEquals",
        }
    }

    /// Whether `variable <relation> operand` holds, given `variable.cmp(operand)`.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering == Ordering::Equal,
            Relation::LessThan => ordering == Ordering::Less,
            Relation::GreaterThan => ordering == Ordering::Greater,
            Relation::LessThanEquals => ordering != Ordering::Greater,
            Relation::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// The second operand of a comparison: a literal from the definition, or (for the `…Path`
/// operators) a reference path into the input or context.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand<T> {
    Literal(T),
    Path(Path),
}

/// The type tests `IsNull`, `IsPresent`, `IsNumeric`, `IsString`, `IsBoolean`, `IsTimestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

impl TypeTest {
    const ALL: [TypeTest; 6] = [
        TypeTest::Null,
        TypeTest::Present,
        TypeTest::Numeric,
        TypeTest::String,
        TypeTest::Boolean,
        TypeTest::Timestamp,
    ];

    /// The operator name, e.g. `IsNull`.
    pub fn name(self) -> &'static str {
        match self {
            TypeTest::Null => "IsNull",
            TypeTest::Present => "IsPresent",
            TypeTest::Numeric => "IsNumeric",
            TypeTest::String => "IsString",
            TypeTest::Boolean => "IsBoolean",
            TypeTest::Timestamp => "IsTimestamp",
        }
    }

    fn test(self, value: &Value) -> bool {
        match self {
            TypeTest::Null => value.is_null(),
            TypeTest::Present => true,
            TypeTest::Numeric => value.is_number(),
            TypeTest::String => value.is_string(),
            TypeTest::Boolean => value.is_boolean(),
            TypeTest::Timestamp => value.as_str().is_some_and(timestamp::is_timestamp),
        }
    }
}

/// A comparison operator with its operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `String<Relation>` / `String<Relation>Path`.
    String(Relation, Operand<String>),
    /// `StringMatches`: `*` wildcards, `\*` and `\\` escapes.
    StringMatches(Pattern),
    /// `Numeric<Relation>` / `Numeric<Relation>Path`.
    Numeric(Relation, Operand<Number>),
    /// `BooleanEquals` / `BooleanEqualsPath`.
    BooleanEquals(Operand<bool>),
    /// `Timestamp<Relation>` / `Timestamp<Relation>Path`.
    Timestamp(Relation, Operand<DateTime<FixedOffset>>),
    /// `Is*`: the test and the expected outcome.
    Is(TypeTest, bool),
}

impl Operator {
    /// The field name in the definition, e.g. `NumericLessThanEqualsPath`.
    pub fn name(&self) -> String {
        fn with_path<T>(base: String, operand: &Operand<T>) -> String {
            match operand {
                Operand::Literal(_) => base,
                Operand::Path(_) => base + "Path",
            }
        }
        match self {
            Operator::String(r, o) => with_path(format!("String{}", r.name()), o),
            Operator::StringMatches(_) => "StringMatches".to_owned(),
            Operator::Numeric(r, o) => with_path(format!("Numeric{}", r.name()), o),
            Operator::BooleanEquals(o) => with_path("BooleanEquals".to_owned(), o),
            Operator::Timestamp(r, o) => with_path(format!("Timestamp{}", r.name()), o),
            Operator::Is(t, _) => t.name().to_owned(),
        }
    }

    /// The second operand's path, for the `…Path` operators.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Operator::String(_, Operand::Path(p))
            | Operator::Numeric(_, Operand::Path(p))
            | Operator::BooleanEquals(Operand::Path(p))
            | Operator::Timestamp(_, Operand::Path(p)) => Some(p),
            _ => None,
        }
    }
}

/// A `StringMatches` pattern: `*` matches any run of characters (including none), `\*` a
/// literal `*`, `\\` a literal `\`; every other character, a backslash before any other
/// character included, matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Star,
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        let mut tokens = Vec::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    // Consecutive stars match the same as one.
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '\\' => match chars.peek() {
                    Some(&e @ ('*' | '\\')) => {
                        chars.next();
                        tokens.push(Token::Char(e));
                    }
                    _ => tokens.push(Token::Char('\\')),
                },
                c => tokens.push(Token::Char(c)),
            }
        }
        Self {
            text: text.to_owned(),
            tokens,
        }
    }

    /// The pattern as written in the definition.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `input` matches the pattern.
    pub fn matches(&self, input: &str) -> bool {
        let input: Vec<char> = input.chars().collect();
        let pattern = &self.tokens;
        let (mut i, mut j) = (0usize, 0usize);
        // After the last star seen: (token index after it, input index it currently absorbs to).
        let mut backtrack: Option<(usize, usize)> = None;
        while i < input.len() {
            match pattern.get(j) {
                Some(Token::Star) => {
                    j += 1;
                    backtrack = Some((j, i));
                }
                Some(Token::Char(c)) if *c == input[i] => {
                    i += 1;
                    j += 1;
                }
                _ => match backtrack {
                    Some((after_star, absorbed)) => {
                        j = after_star;
                        i = absorbed + 1;
                        backtrack = Some((after_star, absorbed + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[j.min(pattern.len())..]
            .iter()
            .all(|t| *t == Token::Star)
    }
}

/// Parses a Choice state's `Choices` array (at `at`), recording every problem in `diags`.
///
/// Every element must be a top-level rule with a string `Next`. Rules with problems are
/// reported and left out of the result.
pub fn parse_choices(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Vec<Choice> {
    let Some(rules) = value.as_array() else {
        diags.schema(at, "Expected value of type Array");
        return Vec::new();
    };
    if rules.is_empty() {
        diags.schema(at, "Value cannot be empty");
    }
    let mut choices = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        if let Some((condition, Some(next))) = parse_rule(rule, &at.child(i), diags, true) {
            choices.push(Choice { condition, next });
        }
    }
    choices
}

/// Parses one top-level rule of `Choices` (with its `Next`) found at `at`.
pub fn parse_choice(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Option<Choice> {
    match parse_rule(value, at, diags, true) {
        Some((condition, Some(next))) => Some(Choice { condition, next }),
        _ => None,
    }
}

/// Parses one choice rule as it appears inside `And`/`Or`/`Not` (so without `Next`), at `at`.
/// Returns `None` if it has any problem; every problem is recorded in `diags`.
pub fn parse_condition(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Option<Condition> {
    parse_rule(value, at, diags, false).map(|(condition, _)| condition)
}

/// Evaluates `choices` in order and returns the first whose condition holds.
pub fn first_match<'c>(
    choices: &'c [Choice],
    scope: &Scope<'_>,
) -> Result<Option<&'c Choice>, Failure> {
    for choice in choices {
        if choice.condition.eval(scope)? {
            return Ok(Some(choice));
        }
    }
    Ok(None)
}

impl Condition {
    /// Evaluates the condition. A comparison whose `Variable` does not resolve fails with
    /// `States.Runtime`, as on AWS; a value of the wrong type is simply not equal.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, Failure> {
        match self {
            Condition::And(rules) => {
                for rule in rules {
                    if !rule.eval(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for rule in rules {
                    if rule.eval(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(rule) => Ok(!rule.eval(scope)?),
            Condition::Compare(comparison) => comparison.eval(scope),
        }
    }

    /// Whether any path in the condition reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        match self {
            Condition::And(rules) | Condition::Or(rules) => rules.iter().any(Self::uses_context),
            Condition::Not(rule) => rule.uses_context(),
            Condition::Compare(c) => {
                c.variable.root() == Root::Context
                    || c.operator.path().is_some_and(|p| p.root() == Root::Context)
            }
        }
    }
}

impl Comparison {
    /// Evaluates the comparison; see [`Condition::eval`].
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, Failure> {
        let selected = self.variable.select(scope);
        if let Operator::Is(TypeTest::Present, expected) = self.operator {
            return Ok(selected.is_some() == expected);
        }
        let Some(value) = selected else {
            return Err(invalid_path(&self.variable));
        };
        let value: &Value = &value;
        Ok(match &self.operator {
            Operator::String(relation, operand) => {
                let other = resolve(operand, scope, |v| v.as_str().map(str::to_owned))?;
                match (value, other) {
                    (Value::String(a), Some(b)) => relation.holds(compare_strings(a, &b)),
                    _ => false,
                }
            }
            Operator::StringMatches(pattern) => value.as_str().is_some_and(|s| pattern.matches(s)),
            Operator::Numeric(relation, operand) => {
                let other = resolve(operand, scope, |v| match v {
                    Value::Number(n) => Some(n.clone()),
                    _ => None,
                })?;
                match (value, other) {
                    (Value::Number(a), Some(b)) => {
                        compare_numbers(a, &b).is_some_and(|o| relation.holds(o))
                    }
                    _ => false,
                }
            }
            Operator::BooleanEquals(operand) => {
                let other = resolve(operand, scope, Value::as_bool)?;
                matches!((value, other), (Value::Bool(a), Some(b)) if *a == b)
            }
            Operator::Timestamp(relation, operand) => {
                let other = resolve(operand, scope, |v| v.as_str().and_then(timestamp::parse))?;
                match (value.as_str().and_then(timestamp::parse), other) {
                    (Some(a), Some(b)) => relation.holds(a.cmp(&b)),
                    _ => false,
                }
            }
            Operator::Is(test, expected) => test.test(value) == *expected,
        })
    }
}

/// The cause AWS gives when a Choice rule's path does not resolve.
fn invalid_path(path: &Path) -> Failure {
    Failure::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.text()
    ))
}

/// The second operand as a `T`: the literal, or the value at the path converted by `convert`
/// (`None` if it has the wrong type). A path that does not resolve is a runtime failure.
fn resolve<T: Clone>(
    operand: &Operand<T>,
    scope: &Scope<'_>,
    convert: impl FnOnce(&Value) -> Option<T>,
) -> Result<Option<T>, Failure> {
    match operand {
        Operand::Literal(value) => Ok(Some(value.clone())),
        Operand::Path(path) => {
            let selected: Cow<'_, Value> = path.select(scope).ok_or_else(|| invalid_path(path))?;
            Ok(convert(&selected))
        }
    }
}

/// Java `String.compareTo` order: lexicographic by UTF-16 code unit.
pub fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Compares two JSON numbers mathematically: integers exactly, an integer and a float exactly,
/// two floats as `f64`. `None` only for NaN, which JSON cannot carry.
pub fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => compare_integer_float(x, b.as_f64()?),
        (None, Some(y)) => compare_integer_float(y, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn compare_integer_float(i: i128, f: f64) -> Option<Ordering> {
    // 2^127: every f64 below it in magnitude truncates to an i128 exactly.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f.is_nan() {
        return None;
    }
    if f >= LIMIT {
        return Some(Ordering::Less);
    }
    if f < -LIMIT {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // Exact: `whole` is integral and within the i128 range.
    let whole_int = whole as i128;
    Some(match i.cmp(&whole_int) {
        Ordering::Equal => {
            let fraction = f - whole;
            if fraction > 0.0 {
                Ordering::Less
            } else if fraction < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        other => other,
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// What a field of a choice rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Variable,
    Next,
    Comment,
    Logical(Logical),
    Operator(OperatorKind, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logical {
    And,
    Or,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OperatorKind {
    String(Relation),
    StringMatches,
    Numeric(Relation),
    BooleanEquals,
    Timestamp(Relation),
    Is(TypeTest),
}

fn classify(key: &str) -> Option<Field> {
    match key {
        "Variable" => return Some(Field::Variable),
        "Next" => return Some(Field::Next),
        "Comment" => return Some(Field::Comment),
        "And" => return Some(Field::Logical(Logical::And)),
        "Or" => return Some(Field::Logical(Logical::Or)),
        "Not" => return Some(Field::Logical(Logical::Not)),
        "StringMatches" => return Some(Field::Operator(OperatorKind::StringMatches, false)),
        _ => {}
    }
    if let Some(test) = TypeTest::ALL.into_iter().find(|t| t.name() == key) {
        return Some(Field::Operator(OperatorKind::Is(test), false));
    }
    let (base, is_path) = match key.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (key, false),
    };
    if base == "BooleanEquals" {
        return Some(Field::Operator(OperatorKind::BooleanEquals, is_path));
    }
    let relation = |prefix: &str| {
        let suffix = base.strip_prefix(prefix)?;
        Relation::ALL.into_iter().find(|r| r.name() == suffix)
    };
    let kind = if let Some(r) = relation("String") {
        OperatorKind::String(r)
    } else if let Some(r) = relation("Numeric") {
        OperatorKind::Numeric(r)
    } else if let Some(r) = relation("Timestamp") {
        OperatorKind::Timestamp(r)
    } else {
        return None;
    };
    Some(Field::Operator(kind, is_path))
}

/// Parses one rule. Returns the condition and, for a top-level rule, its `Next`; `None` if the
/// rule has any problem.
fn parse_rule(
    value: &Value,
    at: &Pointer,
    diags: &mut Diagnostics,
    top_level: bool,
) -> Option<(Condition, Option<String>)> {
    let Some(rule) = value.as_object() else {
        diags.schema(at, "Expected value of type Object");
        return None;
    };
    let mut ok = true;
    let mut variable_field: Option<&Value> = None;
    let mut next_field: Option<&Value> = None;
    let mut operators: Vec<(&str, Field, &Value)> = Vec::new();

    for (key, field_value) in rule {
        match classify(key) {
            Some(Field::Variable) => variable_field = Some(field_value),
            Some(Field::Next) => next_field = Some(field_value),
            Some(Field::Comment) => {
                if !field_value.is_string() {
                    diags.schema(&at.child(key), "Expected value of type String");
                    ok = false;
                }
            }
            Some(field @ (Field::Logical(_) | Field::Operator(..))) => {
                operators.push((key, field, field_value));
            }
            None => {
                diags.schema(
                    &at.child(key),
                    format!("The field \"{key}\" is not supported by Step Functions"),
                );
                ok = false;
            }
        }
    }

    // Next: required at the top level, forbidden in nested rules.
    let next = match (top_level, next_field) {
        (true, None) => {
            diags.schema(at, "These fields are required: [Next]");
            ok = false;
            None
        }
        (true, Some(Value::String(next))) => Some(next.clone()),
        (true, Some(_)) => {
            diags.schema(&at.child("Next"), "Expected value of type String");
            ok = false;
            None
        }
        (false, Some(_)) => {
            diags.schema(
                &at.child("Next"),
                "The field \"Next\" is not allowed in a nested choice rule: only the top-level \
                 rules of Choices have Next",
            );
            ok = false;
            None
        }
        (false, None) => None,
    };

    // Exactly one operator.
    match operators.len() {
        0 => {
            diags.schema(
                at,
                "A choice rule must have exactly one comparison operator (with Variable), or one \
                 of And, Or, Not",
            );
            ok = false;
        }
        1 => {}
        _ => {
            let names: Vec<&str> = operators.iter().map(|(k, _, _)| *k).collect();
            diags.schema(
                at,
                format!(
                    "A choice rule must have exactly one operator, but has {}: [{}]",
                    names.len(),
                    names.join(", ")
                ),
            );
            ok = false;
        }
    }

    // Variable: required with a comparison, not allowed with a logical operator alone.
    let has_comparison = operators
        .iter()
        .any(|(_, f, _)| matches!(f, Field::Operator(..)));
    let variable = match variable_field {
        None => {
            if has_comparison {
                diags.schema(at, "These fields are required: [Variable]");
                ok = false;
            }
            None
        }
        Some(v) => {
            let path = parse_path(v, "Variable", &at.child("Variable"), diags);
            if path.is_none() {
                ok = false;
            }
            if !has_comparison && let Some((key, _, _)) = operators.first() {
                diags.schema(
                    &at.child("Variable"),
                    format!("The field \"Variable\" is not allowed with \"{key}\""),
                );
                ok = false;
            }
            path
        }
    };

    // Parse every operator, so that each one's problems are reported.
    let mut conditions: Vec<Option<Condition>> = Vec::with_capacity(operators.len());
    for (key, field, field_value) in &operators {
        let field_at = at.child(key);
        let condition = match field {
            Field::Logical(logical) => parse_logical(*logical, field_value, &field_at, diags),
            Field::Operator(kind, is_path) => {
                parse_operator(*kind, *is_path, key, field_value, &field_at, diags).and_then(
                    |operator| {
                        variable
                            .clone()
                            .map(|variable| Condition::Compare(Comparison { variable, operator }))
                    },
                )
            }
            _ => None,
        };
        conditions.push(condition);
    }

    if !ok || conditions.len() != 1 {
        return None;
    }
    let condition = conditions.pop().flatten()?;
    Some((condition, next))
}

fn parse_logical(
    logical: Logical,
    value: &Value,
    at: &Pointer,
    diags: &mut Diagnostics,
) -> Option<Condition> {
    match logical {
        Logical::Not => {
            if value.is_object() {
                parse_condition(value, at, diags).map(|c| Condition::Not(Box::new(c)))
            } else {
                diags.schema(at, "Expected value of type Object");
                None
            }
        }
        Logical::And | Logical::Or => {
            let Some(rules) = value.as_array() else {
                diags.schema(at, "Expected value of type Array");
                return None;
            };
            if rules.is_empty() {
                diags.schema(at, "Value cannot be empty");
                return None;
            }
            let mut parsed = Vec::with_capacity(rules.len());
            let mut ok = true;
            for (i, rule) in rules.iter().enumerate() {
                match parse_condition(rule, &at.child(i), diags) {
                    Some(c) => parsed.push(c),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Some(if logical == Logical::And {
                Condition::And(parsed)
            } else {
                Condition::Or(parsed)
            })
        }
    }
}

fn parse_path(value: &Value, key: &str, at: &Pointer, diags: &mut Diagnostics) -> Option<Path> {
    let Some(text) = value.as_str() else {
        diags.schema(at, "Expected value of type String");
        return None;
    };
    match Path::parse_reference(text) {
        Ok(path) => Some(path),
        Err(e) => {
            diags.schema(
                at,
                format!(
                    "The value for the field '{key}' must be a valid reference path: {}",
                    e.message
                ),
            );
            None
        }
    }
}

fn parse_operator(
    kind: OperatorKind,
    is_path: bool,
    key: &str,
    value: &Value,
    at: &Pointer,
    diags: &mut Diagnostics,
) -> Option<Operator> {
    fn operand<T>(
        is_path: bool,
        key: &str,
        value: &Value,
        at: &Pointer,
        diags: &mut Diagnostics,
        literal: impl FnOnce(&Value, &Pointer, &mut Diagnostics) -> Option<T>,
    ) -> Option<Operand<T>> {
        if is_path {
            parse_path(value, key, at, diags).map(Operand::Path)
        } else {
            literal(value, at, diags).map(Operand::Literal)
        }
    }
    fn string(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Option<String> {
        let s = value.as_str().map(str::to_owned);
        if s.is_none() {
            diags.schema(at, "Expected value of type String");
        }
        s
    }
    fn number(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Option<Number> {
        match value {
            Value::Number(n) => Some(n.clone()),
            _ => {
                diags.schema(at, "Expected value of type Number");
                None
            }
        }
    }
    fn boolean(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Option<bool> {
        let b = value.as_bool();
        if b.is_none() {
            diags.schema(at, "Expected value of type Boolean");
        }
        b
    }
    fn time(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Option<DateTime<FixedOffset>> {
        let Some(text) = value.as_str() else {
            diags.schema(at, "Expected value of type String");
            return None;
        };
        let parsed = timestamp::parse(text);
        if parsed.is_none() {
            diags.schema(at, "String does not match RFC3339 timestamp");
        }
        parsed
    }

    match kind {
        OperatorKind::String(relation) => {
            operand(is_path, key, value, at, diags, string).map(|o| Operator::String(relation, o))
        }
        OperatorKind::StringMatches => {
            string(value, at, diags).map(|text| Operator::StringMatches(Pattern::new(&text)))
        }
        OperatorKind::Numeric(relation) => {
            operand(is_path, key, value, at, diags, number).map(|o| Operator::Numeric(relation, o))
        }
        OperatorKind::BooleanEquals => {
            operand(is_path, key, value, at, diags, boolean).map(Operator::BooleanEquals)
        }
        OperatorKind::Timestamp(relation) => {
            operand(is_path, key, value, at, diags, time).map(|o| Operator::Timestamp(relation, o))
        }
        OperatorKind::Is(test) => boolean(value, at, diags).map(|b| Operator::Is(test, b)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const CAUSE_SUFFIX: &str = "': The choice state's condition path references an invalid value.";

    fn parse_ok(rule: Value) -> Condition {
        let mut diags = Diagnostics::new();
        let condition = parse_condition(&rule, &Pointer::root(), &mut diags);
        assert!(
            diags.is_empty(),
            "unexpected diagnostics for {rule}: {:?}",
            diags.into_vec()
        );
        condition.expect("a condition")
    }

    fn eval_with(rule: Value, input: Value, context: Value) -> Result<bool, Failure> {
        parse_ok(rule).eval(&Scope::new(&input, &context))
    }

    fn eval(rule: Value, input: Value) -> Result<bool, Failure> {
        eval_with(rule, input, json!({}))
    }

    /// `{"Variable": "$.v", op: operand}` against `{"v": variable}`.
    fn holds(op: &str, operand: Value, variable: Value) -> bool {
        eval(
            json!({"Variable": "$.v", op: operand}),
            json!({"v": variable}),
        )
        .unwrap_or_else(|f| panic!("{op} {operand} on {variable}: {f}"))
    }

    /// `{"Variable": "$.v", opPath: "$.w"}` against `{"v": variable, "w": other}`.
    fn holds_path(op: &str, variable: Value, other: Value) -> bool {
        let key = format!("{op}Path");
        eval(
            json!({"Variable": "$.v", key: "$.w"}),
            json!({"v": variable, "w": other}),
        )
        .unwrap_or_else(|f| panic!("{op}Path {variable} vs {other}: {f}"))
    }

    fn runtime_cause(path: &str) -> Failure {
        Failure::runtime(format!("Invalid path '{path}{CAUSE_SUFFIX}"))
    }

    /// The diagnostics of parsing `choices` at `/States/Route/Choices`, as (pointer, message).
    fn choice_errors(choices: Value) -> Vec<(String, String)> {
        let at = Pointer::root()
            .child("States")
            .child("Route")
            .child("Choices");
        let mut diags = Diagnostics::new();
        let _ = parse_choices(&choices, &at, &mut diags);
        diags
            .into_iter()
            .inspect(|d| assert_eq!(d.code, crate::diagnostics::codes::SCHEMA_VALIDATION_FAILED))
            .map(|d| (d.location.as_str().to_owned(), d.message))
            .collect()
    }

    fn pointers(errors: &[(String, String)]) -> Vec<&str> {
        errors.iter().map(|(p, _)| p.as_str()).collect()
    }

    /// The values a type-mismatch table walks (AWS records all of these as `false` for the
    /// comparison operators of another type).
    fn assorted() -> Vec<Value> {
        vec![
            json!(null),
            json!(0),
            json!(0.0),
            json!(1),
            json!(1.1),
            json!(""),
            json!(" "),
            json!("HelloWorld"),
            json!("2012-10-09T19:00:55Z"),
            json!([]),
            json!([""]),
            json!({}),
            json!({"A": 0}),
            json!(true),
            json!(false),
        ]
    }

    // ---- parse_choices ------------------------------------------------------------------

    #[test]
    fn parses_the_aws_guide_example() {
        let choices = json!([
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
            {
                "And": [
                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.value", "NumericLessThan": 30}
                ],
                "Next": "ValueInTwenties",
                "Comment": "twenties"
            }
        ]);
        let mut diags = Diagnostics::new();
        let parsed = parse_choices(&choices, &Pointer::root().child("Choices"), &mut diags);
        assert!(diags.is_empty(), "{:?}", diags.into_vec());
        let nexts: Vec<&str> = parsed.iter().map(|c| c.next.as_str()).collect();
        assert_eq!(nexts, ["Public", "ValueIsZero", "ValueInTwenties"]);
        assert!(matches!(parsed[0].condition, Condition::Not(_)));
        assert!(matches!(&parsed[2].condition, Condition::And(rules) if rules.len() == 2));

        let input = json!({"type": "Private", "value": 22});
        let context = json!({});
        let scope = Scope::new(&input, &context);
        let chosen = first_match(&parsed, &scope)
            .unwrap()
            .map(|c| c.next.as_str());
        assert_eq!(chosen, Some("ValueInTwenties"));

        let input = json!({"type": "Private", "value": 3});
        let scope = Scope::new(&input, &context);
        assert_eq!(first_match(&parsed, &scope).unwrap(), None);

        // The first rule reads $.type, which must exist.
        let input = json!({"value": 22});
        let scope = Scope::new(&input, &context);
        assert_eq!(first_match(&parsed, &scope), Err(runtime_cause("$.type")));
    }

    #[test]
    fn first_match_stops_at_the_first_true_rule() {
        let choices = json!([
            {"Variable": "$.a", "IsPresent": true, "Next": "A"},
            {"Variable": "$.missing", "IsNull": true, "Next": "B"}
        ]);
        let mut diags = Diagnostics::new();
        let parsed = parse_choices(&choices, &Pointer::root(), &mut diags);
        assert!(diags.is_empty());
        let input = json!({"a": 1});
        let context = json!({});
        let scope = Scope::new(&input, &context);
        // The second rule would fail; it is never evaluated.
        assert_eq!(
            first_match(&parsed, &scope)
                .unwrap()
                .map(|c| c.next.as_str()),
            Some("A")
        );
    }

    #[test]
    fn operator_names_round_trip() {
        let cases = [
            (
                json!({"Variable": "$.v", "StringEquals": "x"}),
                "StringEquals",
            ),
            (
                json!({"Variable": "$.v", "StringLessThanEqualsPath": "$.w"}),
                "StringLessThanEqualsPath",
            ),
            (
                json!({"Variable": "$.v", "StringMatches": "x*"}),
                "StringMatches",
            ),
            (
                json!({"Variable": "$.v", "NumericGreaterThan": 1}),
                "NumericGreaterThan",
            ),
            (
                json!({"Variable": "$.v", "NumericEqualsPath": "$.w"}),
                "NumericEqualsPath",
            ),
            (
                json!({"Variable": "$.v", "BooleanEquals": true}),
                "BooleanEquals",
            ),
            (
                json!({"Variable": "$.v", "BooleanEqualsPath": "$.w"}),
                "BooleanEqualsPath",
            ),
            (
                json!({"Variable": "$.v", "TimestampGreaterThanEquals": "2016-03-14T01:59:00Z"}),
                "TimestampGreaterThanEquals",
            ),
            (
                json!({"Variable": "$.v", "TimestampLessThanPath": "$.w"}),
                "TimestampLessThanPath",
            ),
            (
                json!({"Variable": "$.v", "IsTimestamp": false}),
                "IsTimestamp",
            ),
        ];
        for (rule, name) in cases {
            let Condition::Compare(c) = parse_ok(rule) else {
                panic!("{name}: not a comparison")
            };
            assert_eq!(c.operator.name(), name);
            assert_eq!(c.operator.path().is_some(), name.ends_with("Path"));
            assert_eq!(c.variable.text(), "$.v");
        }
    }

    // ---- string operators ---------------------------------------------------------------

    #[test]
    fn string_equals() {
        assert!(holds("StringEquals", json!("Hello"), json!("Hello")));
        assert!(!holds("StringEquals", json!("     "), json!(" ")));
        assert!(!holds("StringEquals", json!("\t\r\n"), json!("\t\n")));
        assert!(!holds("StringEquals", json!("hello"), json!("Hello")));
        assert!(holds("StringEquals", json!(""), json!("")));
        assert!(holds("StringEquals", json!("ünï😀"), json!("ünï😀")));
    }

    #[test]
    fn string_equals_path() {
        assert!(holds_path("StringEquals", json!("Hello"), json!("Hello")));
        assert!(!holds_path("StringEquals", json!(" "), json!("     ")));
        assert!(!holds_path("StringEquals", json!("\t\n"), json!("\t\r\n")));
        // Wrong type on either side: false.
        assert!(!holds_path("StringEquals", json!("1"), json!(1)));
        assert!(!holds_path("StringEquals", json!(1), json!("1")));
        assert!(!holds_path("StringEquals", json!(null), json!(null)));
    }

    #[test]
    fn string_less_than() {
        assert!(!holds("StringLessThan", json!(""), json!("")));
        assert!(holds("StringLessThan", json!("AB"), json!("A")));
        assert!(!holds("StringLessThan", json!("A"), json!("AB")));
        // Uppercase sorts before lowercase.
        assert!(holds("StringLessThan", json!("a"), json!("B")));
        assert!(holds_path("StringLessThan", json!("A"), json!("AB")));
        assert!(!holds_path("StringLessThan", json!("AB"), json!("A")));
        assert!(!holds_path("StringLessThan", json!(""), json!("")));
    }

    #[test]
    fn string_greater_than() {
        assert!(!holds("StringGreaterThan", json!(""), json!("")));
        assert!(!holds("StringGreaterThan", json!("A "), json!("A")));
        assert!(!holds("StringGreaterThan", json!("A\t\n\r"), json!("A")));
        assert!(!holds("StringGreaterThan", json!("ABC"), json!("AB")));
        assert!(holds("StringGreaterThan", json!("AB"), json!("ABC")));
        assert!(holds_path("StringGreaterThan", json!("B"), json!("A")));
        assert!(!holds_path("StringGreaterThan", json!("A"), json!("A ")));
    }

    #[test]
    fn string_less_than_equals() {
        assert!(holds("StringLessThanEquals", json!(""), json!("")));
        assert!(holds("StringLessThanEquals", json!("AB"), json!("A")));
        assert!(!holds("StringLessThanEquals", json!("A"), json!("AB")));
        assert!(holds_path("StringLessThanEquals", json!(""), json!("")));
        assert!(holds_path("StringLessThanEquals", json!("A"), json!("AB")));
        assert!(!holds_path("StringLessThanEquals", json!("AB"), json!("A")));
    }

    #[test]
    fn string_greater_than_equals() {
        assert!(holds("StringGreaterThanEquals", json!(""), json!("")));
        assert!(!holds("StringGreaterThanEquals", json!("AB"), json!("A")));
        assert!(holds("StringGreaterThanEquals", json!("A"), json!("AB")));
        assert!(holds_path("StringGreaterThanEquals", json!(""), json!("")));
        assert!(!holds_path(
            "StringGreaterThanEquals",
            json!("A"),
            json!("AB")
        ));
        assert!(holds_path(
            "StringGreaterThanEquals",
            json!("AB"),
            json!("A")
        ));
    }

    #[test]
    fn strings_order_by_utf16_code_unit_like_java() {
        // U+1F600 is encoded as the surrogates 0xD83D 0xDE00, which sort *below* U+FF61 in
        // UTF-16 (Java) order, although by code point U+1F600 > U+FF61.
        assert_eq!(compare_strings("😀", "\u{FF61}"), Ordering::Less);
        assert!(holds("StringLessThan", json!("\u{FF61}"), json!("😀")));
        assert!(!holds("StringGreaterThan", json!("\u{FF61}"), json!("😀")));
        // Plain ASCII and BMP behave as usual.
        assert_eq!(compare_strings("B", "a"), Ordering::Less);
        assert_eq!(compare_strings("é", "z"), Ordering::Greater);
        assert_eq!(compare_strings("", "a"), Ordering::Less);
    }

    #[test]
    fn string_operators_on_other_types_are_false() {
        for op in [
            "StringEquals",
            "StringLessThan",
            "StringGreaterThan",
            "StringLessThanEquals",
            "StringGreaterThanEquals",
            "StringMatches",
        ] {
            for v in assorted().into_iter().filter(|v| !v.is_string()) {
                assert!(!holds(op, json!("HelloWorld"), v.clone()), "{op} on {v}");
                assert!(!holds(op, json!("*"), v.clone()), "{op} on {v}");
            }
        }
    }

    // ---- StringMatches ------------------------------------------------------------------

    #[test]
    fn string_matches_operator() {
        assert!(holds(
            "StringMatches",
            json!("log-*.txt"),
            json!("log-2024.txt")
        ));
        assert!(!holds(
            "StringMatches",
            json!("log-*.txt"),
            json!("log-2024.txt.gz")
        ));
        assert!(holds("StringMatches", json!("*"), json!("")));
        assert!(!holds("StringMatches", json!("a"), json!(1)));
    }

    #[test]
    fn string_matches_table() {
        // (pattern as the decoded JSON string, input, matches)
        let table: &[(&str, &str, bool)] = &[
            ("foo*.log", "foo23.log", true),
            ("*.log", "zebra.log", true),
            ("foo*.*", "foobar.zebra", true),
            ("foo*.log", "foo.log", true),
            ("foo*.log", "fo.log", false),
            ("*", "", true),
            ("*", "anything at all", true),
            ("**", "", true),
            ("a**b", "ab", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("a*a*a", "aaa", true),
            ("a*a*a", "aa", false),
            ("*a", "bbba", true),
            ("*a", "bbab", false),
            ("a*", "abc", true),
            ("a*", "ba", false),
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("abc", "ab", false),
            ("ABC", "abc", false),
            // `?`, `[`, `.` have no special meaning.
            ("a?c", "abc", false),
            ("a?c", "a?c", true),
            ("[ab]", "a", false),
            ("[ab]", "[ab]", true),
            ("a.c", "abc", false),
            // Escapes: `\*` is a literal star, `\\` a literal backslash.
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("\\*", "", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("\\\\", "\\", true),
            ("\\\\", "\\\\", false),
            ("\\\\*", "\\anything", true),
            ("\\\\*", "anything", false),
            ("\\\\\\*", "\\*", true),
            ("*\\**", "a*b", true),
            ("*\\**", "ab", false),
            // A backslash before anything else, or at the end, is itself.
            ("a\\b", "a\\b", true),
            ("a\\", "a\\", true),
            ("a\\", "a", false),
            // Unicode, matched by character.
            ("ü*ß", "üxyzß", true),
            ("*😀", "hi😀", true),
            ("😀*", "😀", true),
            ("日本*", "日本語", true),
            ("日*語", "日本", false),
        ];
        for (pattern, input, expected) in table {
            assert_eq!(
                Pattern::new(pattern).matches(input),
                *expected,
                "pattern {pattern:?} on {input:?}"
            );
        }
        assert_eq!(Pattern::new("a\\*").text(), "a\\*");
    }

    #[test]
    fn string_matches_escapes_through_json() {
        // In the definition's JSON text a literal star is written "\\*".
        let rule: Value =
            serde_json::from_str(r#"{"Variable": "$.v", "StringMatches": "a\\*"}"#).expect("json");
        let condition = parse_ok(rule);
        let context = json!({});
        let literal = json!({"v": "a*"});
        let other = json!({"v": "ab"});
        assert!(condition.eval(&Scope::new(&literal, &context)).unwrap());
        assert!(!condition.eval(&Scope::new(&other, &context)).unwrap());
    }

    // ---- numeric operators --------------------------------------------------------------

    #[test]
    fn numeric_equals() {
        assert!(holds("NumericEquals", json!(0), json!(0)));
        assert!(holds("NumericEquals", json!(0.0), json!(0)));
        assert!(holds("NumericEquals", json!(0), json!(0.0)));
        assert!(holds("NumericEquals", json!(1.0), json!(1)));
        assert!(holds("NumericEquals", json!(2.22), json!(2.22)));
        assert!(!holds("NumericEquals", json!(1), json!(1.1)));
        assert!(!holds("NumericEquals", json!(0), json!(1)));
        assert!(holds("NumericEquals", json!(-5), json!(-5.0)));
    }

    #[test]
    fn numeric_equals_path() {
        assert!(holds_path("NumericEquals", json!(0), json!(0.0)));
        assert!(holds_path("NumericEquals", json!(1), json!(1.0)));
        assert!(holds_path("NumericEquals", json!(2.22), json!(2.22)));
        assert!(!holds_path("NumericEquals", json!(1.1), json!(1)));
        assert!(!holds_path("NumericEquals", json!(1), json!("1")));
        assert!(!holds_path("NumericEquals", json!("1"), json!(1)));
        assert!(!holds_path("NumericEquals", json!(true), json!(1)));
    }

    #[test]
    fn numeric_less_than() {
        assert!(!holds("NumericLessThan", json!(0), json!(0)));
        assert!(!holds("NumericLessThan", json!(0), json!(0.0)));
        assert!(holds("NumericLessThan", json!(1), json!(0)));
        assert!(!holds("NumericLessThan", json!(0), json!(1)));
        assert!(holds_path("NumericLessThan", json!(0), json!(1)));
        assert!(!holds_path("NumericLessThan", json!(1), json!(1)));
    }

    #[test]
    fn numeric_greater_than() {
        assert!(!holds("NumericGreaterThan", json!(0), json!(0)));
        assert!(!holds("NumericGreaterThan", json!(0), json!(0.0)));
        assert!(!holds("NumericGreaterThan", json!(1), json!(0)));
        assert!(holds("NumericGreaterThan", json!(0), json!(1)));
        assert!(holds_path("NumericGreaterThan", json!(1), json!(0)));
        assert!(!holds_path("NumericGreaterThan", json!(0), json!(1)));
    }

    #[test]
    fn numeric_less_than_equals() {
        assert!(holds("NumericLessThanEquals", json!(0), json!(0)));
        assert!(holds("NumericLessThanEquals", json!(0), json!(0.0)));
        assert!(holds("NumericLessThanEquals", json!(1), json!(0)));
        assert!(!holds("NumericLessThanEquals", json!(0), json!(1)));
        assert!(holds_path("NumericLessThanEquals", json!(1), json!(1)));
        assert!(!holds_path("NumericLessThanEquals", json!(1), json!(0)));
    }

    #[test]
    fn numeric_greater_than_equals() {
        assert!(holds("NumericGreaterThanEquals", json!(0), json!(0)));
        assert!(holds("NumericGreaterThanEquals", json!(0), json!(0.0)));
        assert!(!holds("NumericGreaterThanEquals", json!(1), json!(0)));
        assert!(holds("NumericGreaterThanEquals", json!(0), json!(1)));
        assert!(holds_path("NumericGreaterThanEquals", json!(1), json!(0)));
        assert!(!holds_path("NumericGreaterThanEquals", json!(0), json!(1)));
    }

    #[test]
    fn numeric_int_float_table() {
        let n = |text: &str| -> Number { serde_json::from_str(text).expect(text) };
        let table: &[(&str, &str, Ordering)] = &[
            ("1", "1.0", Ordering::Equal),
            ("0", "-0.0", Ordering::Equal),
            ("1", "1.5", Ordering::Less),
            ("2", "1.5", Ordering::Greater),
            ("-2", "-1.5", Ordering::Less),
            ("-1", "-1.5", Ordering::Greater),
            ("-3", "-2.5", Ordering::Less),
            ("1e2", "100", Ordering::Equal),
            ("0.1", "0.2", Ordering::Less),
            ("2.5", "2.5", Ordering::Equal),
            // Beyond f64 precision: 2^53 + 1 is not 2^53 as a float would say.
            ("9007199254740993", "9007199254740992", Ordering::Greater),
            ("9007199254740993", "9007199254740992.0", Ordering::Greater),
            ("9007199254740992", "9007199254740992.0", Ordering::Equal),
            // u64 above i64::MAX against i64 and floats.
            ("18446744073709551615", "-1", Ordering::Greater),
            (
                "18446744073709551615",
                "18446744073709551614",
                Ordering::Greater,
            ),
            (
                "18446744073709551615",
                "1.8446744073709552e19",
                Ordering::Less,
            ),
            (
                "-9223372036854775808",
                "-9.223372036854775808e18",
                Ordering::Equal,
            ),
            (
                "-9223372036854775808",
                "9223372036854775807",
                Ordering::Less,
            ),
            // Floats far beyond any integer.
            ("18446744073709551615", "1e300", Ordering::Less),
            ("-9223372036854775808", "-1e300", Ordering::Greater),
            ("5", "1e-300", Ordering::Greater),
            ("0", "1e-300", Ordering::Less),
        ];
        for (a, b, expected) in table {
            assert_eq!(compare_numbers(&n(a), &n(b)), Some(*expected), "{a} vs {b}");
            assert_eq!(
                compare_numbers(&n(b), &n(a)),
                Some(expected.reverse()),
                "{b} vs {a}"
            );
        }
        assert_eq!(compare_integer_float(0, f64::NAN), None);
        assert_eq!(
            compare_integer_float(i128::MAX, f64::INFINITY),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_integer_float(i128::MIN, f64::NEG_INFINITY),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn numeric_operators_on_other_types_are_false() {
        for op in [
            "NumericEquals",
            "NumericLessThan",
            "NumericGreaterThan",
            "NumericLessThanEquals",
            "NumericGreaterThanEquals",
        ] {
            for v in assorted().into_iter().filter(|v| !v.is_number()) {
                for operand in [json!(0), json!(1), json!(0.0), json!(1.0)] {
                    assert!(
                        !holds(op, operand.clone(), v.clone()),
                        "{op} {operand} on {v}"
                    );
                }
            }
        }
    }

    // ---- BooleanEquals ------------------------------------------------------------------

    #[test]
    fn boolean_equals() {
        assert!(holds("BooleanEquals", json!(true), json!(true)));
        assert!(holds("BooleanEquals", json!(false), json!(false)));
        assert!(!holds("BooleanEquals", json!(true), json!(false)));
        assert!(!holds("BooleanEquals", json!(false), json!(true)));
        for v in assorted().into_iter().filter(|v| !v.is_boolean()) {
            assert!(!holds("BooleanEquals", json!(true), v.clone()), "{v}");
            assert!(!holds("BooleanEquals", json!(false), v.clone()), "{v}");
        }
    }

    #[test]
    fn boolean_equals_path() {
        assert!(holds_path("BooleanEquals", json!(true), json!(true)));
        assert!(holds_path("BooleanEquals", json!(false), json!(false)));
        assert!(!holds_path("BooleanEquals", json!(false), json!(true)));
        assert!(!holds_path("BooleanEquals", json!(0), json!(false)));
        assert!(!holds_path("BooleanEquals", json!(false), json!(0)));
        assert!(!holds_path("BooleanEquals", json!(null), json!(false)));
    }

    // ---- timestamp operators ------------------------------------------------------------

    const T0: &str = "2012-10-09T19:00:55Z";
    const T1: &str = "2012-10-09T19:00:56Z";

    #[test]
    fn timestamp_equals() {
        assert!(holds("TimestampEquals", json!(T0), json!(T0)));
        assert!(!holds("TimestampEquals", json!(T1), json!(T0)));
        assert!(!holds("TimestampEquals", json!(T0), json!(T1)));
        // Same instant, other offset.
        assert!(holds(
            "TimestampEquals",
            json!("2016-03-14T01:59:00Z"),
            json!("2016-03-14T02:59:00+01:00")
        ));
        assert!(holds(
            "TimestampEquals",
            json!("2016-03-14T01:59:00Z"),
            json!("2016-03-14T01:59:00.000Z")
        ));
        // Not timestamps (or not strings): false.
        for v in [
            json!("2023-02-24 12:15:56.832957"),
            json!("2012-10-09T19:00:55"),
            json!("2012-10-09t19:00:55z"),
            json!("2023-02-24"),
            json!(""),
        ]
        .into_iter()
        .chain(assorted().into_iter().filter(|v| !v.is_string()))
        {
            assert!(!holds("TimestampEquals", json!(T0), v.clone()), "{v}");
        }
    }

    #[test]
    fn timestamp_equals_path() {
        assert!(holds_path("TimestampEquals", json!(T0), json!(T0)));
        assert!(!holds_path("TimestampEquals", json!(T0), json!(T1)));
        assert!(holds_path(
            "TimestampEquals",
            json!("2016-03-14T01:59:00Z"),
            json!("2016-03-14T00:59:00-01:00")
        ));
        // The path operand must itself be a timestamp.
        assert!(!holds_path(
            "TimestampEquals",
            json!(T0),
            json!("yesterday")
        ));
        assert!(!holds_path("TimestampEquals", json!(T0), json!(1)));
    }

    #[test]
    fn timestamp_less_than() {
        assert!(!holds("TimestampLessThan", json!(T0), json!(T0)));
        assert!(holds("TimestampLessThan", json!(T1), json!(T0)));
        assert!(!holds("TimestampLessThan", json!(T0), json!(T1)));
        // 02:30+01:00 is 01:30Z, before 01:59Z, though its text sorts after.
        assert!(holds(
            "TimestampLessThan",
            json!("2016-03-14T01:59:00Z"),
            json!("2016-03-14T02:30:00+01:00")
        ));
        assert!(holds_path("TimestampLessThan", json!(T0), json!(T1)));
        assert!(!holds_path("TimestampLessThan", json!(T1), json!(T0)));
    }

    #[test]
    fn timestamp_greater_than() {
        assert!(!holds("TimestampGreaterThan", json!(T0), json!(T0)));
        assert!(!holds("TimestampGreaterThan", json!(T1), json!(T0)));
        assert!(holds("TimestampGreaterThan", json!(T0), json!(T1)));
        assert!(holds(
            "TimestampGreaterThan",
            json!(T0),
            json!("2012-10-09T19:00:55.001Z")
        ));
        assert!(!holds_path("TimestampGreaterThan", json!(T0), json!(T1)));
        assert!(holds_path("TimestampGreaterThan", json!(T1), json!(T0)));
    }

    #[test]
    fn timestamp_less_than_equals() {
        assert!(holds("TimestampLessThanEquals", json!(T0), json!(T0)));
        assert!(holds("TimestampLessThanEquals", json!(T1), json!(T0)));
        assert!(!holds("TimestampLessThanEquals", json!(T0), json!(T1)));
        assert!(!holds_path("TimestampLessThanEquals", json!(T1), json!(T0)));
        assert!(holds_path("TimestampLessThanEquals", json!(T0), json!(T0)));
    }

    #[test]
    fn timestamp_greater_than_equals() {
        assert!(holds("TimestampGreaterThanEquals", json!(T0), json!(T0)));
        assert!(!holds("TimestampGreaterThanEquals", json!(T1), json!(T0)));
        assert!(holds("TimestampGreaterThanEquals", json!(T0), json!(T1)));
        assert!(!holds_path(
            "TimestampGreaterThanEquals",
            json!(T0),
            json!(T1)
        ));
        assert!(holds_path(
            "TimestampGreaterThanEquals",
            json!(T1),
            json!(T1)
        ));
    }

    #[test]
    fn timestamp_fractional_seconds_compare() {
        assert!(holds(
            "TimestampLessThan",
            json!("2016-03-14T01:59:00.5Z"),
            json!("2016-03-14T01:59:00.25Z")
        ));
        assert!(holds(
            "TimestampEquals",
            json!("2016-03-14T01:59:00.5Z"),
            json!("2016-03-14T02:59:00.500+01:00")
        ));
    }

    // ---- Is* ----------------------------------------------------------------------------

    /// Every value of `assorted()` against an `Is*` test: the expected `true`-outcome.
    fn is_table(op: &str, expected: impl Fn(&Value) -> bool) {
        for v in assorted() {
            let want = expected(&v);
            assert_eq!(holds(op, json!(true), v.clone()), want, "{op}: true on {v}");
            assert_eq!(
                holds(op, json!(false), v.clone()),
                !want,
                "{op}: false on {v}"
            );
        }
    }

    #[test]
    fn is_null() {
        is_table("IsNull", Value::is_null);
    }

    #[test]
    fn is_present() {
        is_table("IsPresent", |_| true);
        // Missing: no error, just absent.
        assert!(!eval(json!({"Variable": "$.nope", "IsPresent": true}), json!({})).unwrap());
        assert!(eval(json!({"Variable": "$.nope", "IsPresent": false}), json!({})).unwrap());
        assert!(
            !eval(
                json!({"Variable": "$.a.b", "IsPresent": true}),
                json!({"a": 1})
            )
            .unwrap()
        );
        assert!(
            !eval(
                json!({"Variable": "$.a[3]", "IsPresent": true}),
                json!({"a": [1]})
            )
            .unwrap()
        );
        assert!(
            eval(
                json!({"Variable": "$.a[0]", "IsPresent": true}),
                json!({"a": [null]})
            )
            .unwrap()
        );
    }

    #[test]
    fn is_numeric() {
        is_table("IsNumeric", Value::is_number);
    }

    #[test]
    fn is_string() {
        is_table("IsString", Value::is_string);
    }

    #[test]
    fn is_boolean() {
        is_table("IsBoolean", Value::is_boolean);
    }

    #[test]
    fn is_timestamp() {
        is_table("IsTimestamp", |v| v == &json!("2012-10-09T19:00:55Z"));
        for (text, want) in [
            ("2012-10-09T19:00:55+01:00", true),
            ("2012-10-09T19:00:55.123Z", true),
            ("2012-10-09T19:00:55", false),
            ("2012-10-09t19:00:55Z", false),
            ("2012-10-09T19:00:55z", false),
            ("2012-10-09 19:00:55Z", false),
            ("2023-02-24", false),
            ("2012-13-09T19:00:55Z", false),
        ] {
            assert_eq!(
                holds("IsTimestamp", json!(true), json!(text)),
                want,
                "{text}"
            );
        }
    }

    // ---- And / Or / Not -----------------------------------------------------------------

    #[test]
    fn and_or_not() {
        let input = json!({"a": 1, "b": "x", "c": true});
        let a1 = json!({"Variable": "$.a", "NumericEquals": 1});
        let a2 = json!({"Variable": "$.a", "NumericEquals": 2});
        let bx = json!({"Variable": "$.b", "StringEquals": "x"});

        assert!(eval(json!({"And": [a1, bx]}), input.clone()).unwrap());
        assert!(!eval(json!({"And": [a1, a2]}), input.clone()).unwrap());
        assert!(eval(json!({"And": [a1]}), input.clone()).unwrap());
        assert!(eval(json!({"Or": [a2, bx]}), input.clone()).unwrap());
        assert!(!eval(json!({"Or": [a2]}), input.clone()).unwrap());
        assert!(eval(json!({"Not": a2}), input.clone()).unwrap());
        assert!(!eval(json!({"Not": a1}), input.clone()).unwrap());
        assert!(eval(json!({"Not": {"Not": a1}}), input.clone()).unwrap());

        // Deep nesting: Or[ And[ a1, Not(a2) ], ... ].
        let nested = json!({
            "Or": [
                {"And": [a1, {"Not": a2}, {"Or": [a2, {"Variable": "$.c", "BooleanEquals": true}]}]},
                {"Variable": "$.missing", "IsNull": true}
            ]
        });
        assert!(eval(nested, input).unwrap());
    }

    #[test]
    fn and_or_short_circuit_like_the_guide() {
        // The guide's guard: StringEquals is only evaluated when the key exists.
        let guarded = json!({
            "And": [
                {"Variable": "$.keyThatMightNotExist", "IsPresent": true},
                {"Variable": "$.keyThatMightNotExist", "StringEquals": "foo"}
            ]
        });
        assert!(!eval(guarded.clone(), json!({})).unwrap());
        assert!(eval(guarded, json!({"keyThatMightNotExist": "foo"})).unwrap());

        let or = json!({
            "Or": [
                {"Variable": "$.k", "IsPresent": false},
                {"Variable": "$.k", "NumericGreaterThan": 3}
            ]
        });
        assert!(eval(or.clone(), json!({})).unwrap());
        assert!(eval(or.clone(), json!({"k": 4})).unwrap());
        assert!(!eval(or, json!({"k": 2})).unwrap());

        // Without the guard the missing path fails.
        let unguarded = json!({
            "And": [
                {"Variable": "$.k", "IsPresent": true},
                {"Variable": "$.other", "StringEquals": "foo"}
            ]
        });
        assert_eq!(
            eval(unguarded, json!({"k": 1})),
            Err(runtime_cause("$.other"))
        );
    }

    // ---- runtime failures ---------------------------------------------------------------

    #[test]
    fn missing_variable_fails_with_states_runtime() {
        let operators = [
            ("StringEquals", json!("x")),
            ("StringLessThan", json!("x")),
            ("StringGreaterThan", json!("x")),
            ("StringLessThanEquals", json!("x")),
            ("StringGreaterThanEquals", json!("x")),
            ("StringMatches", json!("*")),
            ("NumericEquals", json!(1)),
            ("NumericLessThan", json!(1)),
            ("NumericGreaterThan", json!(1)),
            ("NumericLessThanEquals", json!(1)),
            ("NumericGreaterThanEquals", json!(1)),
            ("BooleanEquals", json!(true)),
            ("TimestampEquals", json!(T0)),
            ("TimestampLessThan", json!(T0)),
            ("TimestampGreaterThan", json!(T0)),
            ("TimestampLessThanEquals", json!(T0)),
            ("TimestampGreaterThanEquals", json!(T0)),
            ("IsNull", json!(true)),
            ("IsNull", json!(false)),
            ("IsNumeric", json!(false)),
            ("IsString", json!(false)),
            ("IsBoolean", json!(false)),
            ("IsTimestamp", json!(false)),
            ("StringEqualsPath", json!("$.w")),
            ("NumericEqualsPath", json!("$.w")),
            ("BooleanEqualsPath", json!("$.w")),
            ("TimestampEqualsPath", json!("$.w")),
        ];
        for (op, operand) in operators {
            let result = eval(json!({"Variable": "$.x", op: operand}), json!({"w": 1}));
            let failure = result.expect_err(op);
            assert_eq!(failure, runtime_cause("$.x"), "{op}");
            assert_eq!(failure.error, "States.Runtime");
            assert_eq!(
                failure.cause,
                "Invalid path '$.x': The choice state's condition path references an invalid value."
            );
            assert!(failure.is_terminal());
        }
        // Nested missing fields and indices too; a present null is not missing.
        let rule = json!({"Variable": "$.a.b", "StringEquals": "x"});
        assert_eq!(
            eval(rule.clone(), json!({"a": {}})),
            Err(runtime_cause("$.a.b"))
        );
        assert_eq!(
            eval(rule.clone(), json!({"a": "str"})),
            Err(runtime_cause("$.a.b"))
        );
        assert_eq!(eval(rule, json!({"a": {"b": null}})), Ok(false));
        let rule = json!({"Variable": "$.list[2]", "NumericEquals": 1});
        assert_eq!(
            eval(rule, json!({"list": [1]})),
            Err(runtime_cause("$.list[2]"))
        );
    }

    #[test]
    fn missing_second_path_fails_with_states_runtime() {
        for op in [
            "StringEqualsPath",
            "StringLessThanPath",
            "StringGreaterThanPath",
            "StringLessThanEqualsPath",
            "StringGreaterThanEqualsPath",
            "NumericEqualsPath",
            "NumericLessThanPath",
            "NumericGreaterThanPath",
            "NumericLessThanEqualsPath",
            "NumericGreaterThanEqualsPath",
            "BooleanEqualsPath",
            "TimestampEqualsPath",
            "TimestampLessThanPath",
            "TimestampGreaterThanPath",
            "TimestampLessThanEqualsPath",
            "TimestampGreaterThanEqualsPath",
        ] {
            let rule = json!({"Variable": "$.v", op: "$.right"});
            assert_eq!(
                eval(rule.clone(), json!({"v": 8})),
                Err(runtime_cause("$.right")),
                "{op}"
            );
            // Even when the variable has the wrong type for the operator.
            assert_eq!(
                eval(rule, json!({"v": [8]})),
                Err(runtime_cause("$.right")),
                "{op}"
            );
        }
    }

    // ---- context ------------------------------------------------------------------------

    #[test]
    fn context_paths() {
        let rule = json!({"Variable": "$$.Execution.Name", "StringEqualsPath": "$.name"});
        let condition = parse_ok(rule);
        assert!(condition.uses_context());
        let input = json!({"name": "run-1"});
        let context = json!({"Execution": {"Name": "run-1"}});
        assert!(condition.eval(&Scope::new(&input, &context)).unwrap());

        let rule = json!({"Variable": "$.n", "NumericLessThanPath": "$$.Map.Item.Index"});
        let condition = parse_ok(rule);
        assert!(condition.uses_context());
        let context = json!({"Map": {"Item": {"Index": 3}}});
        assert!(
            condition
                .eval(&Scope::new(&json!({"n": 2}), &context))
                .unwrap()
        );
        assert_eq!(
            condition.eval(&Scope::new(&json!({"n": 2}), &json!({}))),
            Err(runtime_cause("$$.Map.Item.Index"))
        );

        assert!(!parse_ok(json!({"Variable": "$.a", "IsNull": true})).uses_context());
        assert!(!parse_ok(json!({"Variable": "$.a", "StringEqualsPath": "$.b"})).uses_context());
        let nested = json!({"And": [
            {"Variable": "$.a", "IsNull": true},
            {"Not": {"Variable": "$$.State.Name", "StringEquals": "x"}}
        ]});
        assert!(parse_ok(nested).uses_context());
        let nested = json!({"Or": [{"Variable": "$.a", "IsNull": true}]});
        assert!(!parse_ok(nested).uses_context());
    }

    #[test]
    fn variable_may_be_the_whole_input() {
        assert!(eval(json!({"Variable": "$", "NumericEquals": 3}), json!(3)).unwrap());
        assert!(eval(json!({"Variable": "$", "IsString": true}), json!("s")).unwrap());
    }

    // ---- validation ---------------------------------------------------------------------

    const AT: &str = "/States/Route/Choices";

    fn at(rest: &str) -> String {
        format!("{AT}{rest}")
    }

    #[test]
    fn choices_must_be_a_non_empty_array() {
        let errors = choice_errors(json!([]));
        assert_eq!(errors, [(at(""), "Value cannot be empty".to_owned())]);
        let errors = choice_errors(json!({"Variable": "$.a"}));
        assert_eq!(
            errors,
            [(at(""), "Expected value of type Array".to_owned())]
        );
        let errors = choice_errors(json!(["rule", 3]));
        assert_eq!(pointers(&errors), [at("/0"), at("/1")]);
        assert!(
            errors
                .iter()
                .all(|(_, m)| m == "Expected value of type Object")
        );
    }

    #[test]
    fn top_level_rules_need_a_string_next() {
        let errors = choice_errors(json!([{"Variable": "$.a", "IsNull": true}]));
        assert_eq!(
            errors,
            [(at("/0"), "These fields are required: [Next]".to_owned())]
        );
        let errors = choice_errors(json!([{"Variable": "$.a", "IsNull": true, "Next": 3}]));
        assert_eq!(
            errors,
            [(at("/0/Next"), "Expected value of type String".to_owned())]
        );
    }

    #[test]
    fn nested_rules_must_not_have_next() {
        let errors = choice_errors(json!([{
            "And": [{"Variable": "$.a", "IsNull": true, "Next": "X"}],
            "Not": {"Variable": "$.a", "IsNull": true, "Next": "Y"},
            "Next": "Z"
        }]));
        let ps = pointers(&errors);
        assert!(ps.contains(&at("/0/And/0/Next").as_str()), "{errors:?}");
        assert!(ps.contains(&at("/0/Not/Next").as_str()), "{errors:?}");
        // And two operators on one rule.
        assert!(ps.contains(&at("/0").as_str()), "{errors:?}");

        let mut diags = Diagnostics::new();
        let single = json!({"Variable": "$.a", "IsNull": true, "Next": "X"});
        assert!(parse_condition(&single, &Pointer::root(), &mut diags).is_none());
        assert_eq!(
            diags
                .iter()
                .map(|d| d.location.as_str())
                .collect::<Vec<_>>(),
            ["/Next"]
        );
    }

    #[test]
    fn and_or_need_non_empty_arrays_and_not_an_object() {
        let errors = choice_errors(json!([
            {"And": [], "Next": "X"},
            {"Or": {"Variable": "$.a", "IsNull": true}, "Next": "X"},
            {"Not": [{"Variable": "$.a", "IsNull": true}], "Next": "X"},
            {"Or": [], "Next": "X"}
        ]));
        assert_eq!(
            errors,
            [
                (at("/0/And"), "Value cannot be empty".to_owned()),
                (at("/1/Or"), "Expected value of type Array".to_owned()),
                (at("/2/Not"), "Expected value of type Object".to_owned()),
                (at("/3/Or"), "Value cannot be empty".to_owned()),
            ]
        );
    }

    #[test]
    fn a_rule_needs_exactly_one_operator() {
        let errors = choice_errors(json!([
            {"Variable": "$.a", "Next": "X"},
            {"Variable": "$.a", "IsNull": true, "IsString": true, "Next": "X"},
            {"Next": "X"},
            {"Comment": "only a comment", "Next": "X"}
        ]));
        assert_eq!(pointers(&errors), [at("/0"), at("/1"), at("/2"), at("/3")]);
        assert!(
            errors[1].1.contains("[IsNull, IsString]"),
            "{}",
            errors[1].1
        );
    }

    #[test]
    fn comparisons_need_a_valid_variable() {
        let errors = choice_errors(json!([
            {"StringEquals": "x", "Next": "X"},
            {"Variable": 3, "StringEquals": "x", "Next": "X"},
            {"Variable": "a.b", "StringEquals": "x", "Next": "X"},
            {"Variable": "$.a", "StringEquals": "x", "Next": "X"}
        ]));
        assert_eq!(
            pointers(&errors),
            [at("/0"), at("/1/Variable"), at("/2/Variable")],
            "{errors:?}"
        );
        assert_eq!(errors[0].1, "These fields are required: [Variable]");
        assert_eq!(errors[1].1, "Expected value of type String");
        assert!(
            errors[2]
                .1
                .starts_with("The value for the field 'Variable' must be a valid")
        );
    }

    #[test]
    fn logical_operators_take_no_variable() {
        let errors = choice_errors(json!([{
            "Variable": "$.a",
            "Not": {"Variable": "$.a", "IsNull": true},
            "Next": "X"
        }]));
        assert_eq!(
            errors,
            [(
                at("/0/Variable"),
                "The field \"Variable\" is not allowed with \"Not\"".to_owned()
            )]
        );
    }

    #[test]
    fn unknown_fields_are_reported() {
        let errors = choice_errors(json!([{
            "Variable": "$.a",
            "StringEqual": "x",
            "StringMatchesPath": "$.b",
            "IsNullPath": "$.b",
            "Condition": "{% true %}",
            "IsPresent": true,
            "Next": "X"
        }]));
        assert_eq!(
            pointers(&errors),
            [
                at("/0/StringEqual"),
                at("/0/StringMatchesPath"),
                at("/0/IsNullPath"),
                at("/0/Condition")
            ]
        );
        assert_eq!(
            errors[0].1,
            "The field \"StringEqual\" is not supported by Step Functions"
        );
    }

    #[test]
    fn comment_must_be_a_string() {
        let errors =
            choice_errors(json!([{"Variable": "$.a", "IsNull": true, "Comment": 1, "Next": "X"}]));
        assert_eq!(
            errors,
            [(at("/0/Comment"), "Expected value of type String".to_owned())]
        );
    }

    #[test]
    fn operand_types_are_checked() {
        let errors = choice_errors(json!([
            {"Variable": "$.a", "StringEquals": 1, "Next": "X"},
            {"Variable": "$.a", "StringLessThan": null, "Next": "X"},
            {"Variable": "$.a", "StringMatches": 1, "Next": "X"},
            {"Variable": "$.a", "NumericEquals": "1", "Next": "X"},
            {"Variable": "$.a", "NumericGreaterThanEquals": true, "Next": "X"},
            {"Variable": "$.a", "BooleanEquals": "true", "Next": "X"},
            {"Variable": "$.a", "TimestampEquals": 1, "Next": "X"},
            {"Variable": "$.a", "TimestampLessThan": "2016-03-14T01:59:00", "Next": "X"},
            {"Variable": "$.a", "TimestampGreaterThan": "2016-03-14t01:59:00z", "Next": "X"},
            {"Variable": "$.a", "IsNull": "true", "Next": "X"},
            {"Variable": "$.a", "IsPresent": 1, "Next": "X"},
            {"Variable": "$.a", "IsTimestamp": null, "Next": "X"},
            {"Variable": "$.a", "StringEqualsPath": "not a path", "Next": "X"},
            {"Variable": "$.a", "NumericLessThanPath": 3, "Next": "X"},
            {"Variable": "$.a", "BooleanEqualsPath": true, "Next": "X"},
            {"Variable": "$.a", "TimestampEqualsPath": "2016-03-14T01:59:00Z", "Next": "X"}
        ]));
        let expected: Vec<(String, &str)> = vec![
            (at("/0/StringEquals"), "Expected value of type String"),
            (at("/1/StringLessThan"), "Expected value of type String"),
            (at("/2/StringMatches"), "Expected value of type String"),
            (at("/3/NumericEquals"), "Expected value of type Number"),
            (
                at("/4/NumericGreaterThanEquals"),
                "Expected value of type Number",
            ),
            (at("/5/BooleanEquals"), "Expected value of type Boolean"),
            (at("/6/TimestampEquals"), "Expected value of type String"),
            (
                at("/7/TimestampLessThan"),
                "String does not match RFC3339 timestamp",
            ),
            (
                at("/8/TimestampGreaterThan"),
                "String does not match RFC3339 timestamp",
            ),
            (at("/9/IsNull"), "Expected value of type Boolean"),
            (at("/10/IsPresent"), "Expected value of type Boolean"),
            (at("/11/IsTimestamp"), "Expected value of type Boolean"),
            (
                at("/12/StringEqualsPath"),
                "The value for the field 'StringEqualsPath' must be a valid",
            ),
            (
                at("/13/NumericLessThanPath"),
                "Expected value of type String",
            ),
            (at("/14/BooleanEqualsPath"), "Expected value of type String"),
            (
                at("/15/TimestampEqualsPath"),
                "The value for the field 'TimestampEqualsPath' must be a valid",
            ),
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for ((pointer, message), (want_pointer, want_message)) in errors.iter().zip(&expected) {
            assert_eq!(pointer, want_pointer);
            assert!(message.starts_with(want_message), "{pointer}: {message}");
        }
    }

    #[test]
    fn all_problems_are_collected() {
        let errors = choice_errors(json!([
            {"Variable": "bad", "NumericEquals": "1", "Extra": 1},
            {
                "And": [
                    {"Variable": "$.a", "NumericEquals": "x"},
                    {"Or": [{"Variable": "$.a", "BooleanEquals": 1, "Next": "N"}, {}]},
                    {"Not": {"IsNull": true}}
                ],
                "Next": "X"
            }
        ]));
        let ps = pointers(&errors);
        assert_eq!(
            ps,
            [
                at("/0/Extra"),
                at("/0"),
                at("/0/Variable"),
                at("/0/NumericEquals"),
                at("/1/And/0/NumericEquals"),
                at("/1/And/1/Or/0/Next"),
                at("/1/And/1/Or/0/BooleanEquals"),
                at("/1/And/1/Or/1"),
                at("/1/And/2/Not"),
            ],
            "{errors:#?}"
        );
    }

    #[test]
    fn valid_rules_survive_next_to_invalid_ones() {
        let mut diags = Diagnostics::new();
        let choices = json!([
            {"Variable": "$.a", "NumericEquals": "1", "Next": "Bad"},
            {"Variable": "$.a", "NumericEquals": 1, "Next": "Good"}
        ]);
        let parsed = parse_choices(&choices, &Pointer::root(), &mut diags);
        assert!(diags.has_errors());
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].next, "Good");
    }

    #[test]
    fn pointers_escape_odd_keys() {
        let errors =
            choice_errors(json!([{"Variable": "$.a", "IsNull": true, "a/b~c": 1, "Next": "X"}]));
        assert_eq!(pointers(&errors), [at("/0/a~1b~0c")]);
    }

    // ---- properties ---------------------------------------------------------------------

    proptest! {
        #[test]
        fn string_matches_never_panics(pattern in "\\PC{0,20}", input in "\\PC{0,20}") {
            let _ = Pattern::new(&pattern).matches(&input);
        }

        #[test]
        fn string_matches_never_panics_on_wildcard_heavy_text(
            pattern in "[ab*\\\\]{0,16}",
            input in "[ab*\\\\]{0,16}",
        ) {
            let _ = Pattern::new(&pattern).matches(&input);
        }

        #[test]
        fn a_pattern_without_wildcards_matches_exactly_itself(
            pattern in "[^*\\\\]{0,20}",
            other in "[^*\\\\]{0,20}",
        ) {
            let p = Pattern::new(&pattern);
            prop_assert!(p.matches(&pattern));
            prop_assert_eq!(p.matches(&other), other == pattern);
        }

        #[test]
        fn escaping_everything_matches_exactly_the_literal(text in "\\PC{0,20}", other in "\\PC{0,20}") {
            let escaped: String = text
                .chars()
                .flat_map(|c| match c {
                    '*' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            let p = Pattern::new(&escaped);
            prop_assert!(p.matches(&text));
            prop_assert_eq!(p.matches(&other), other == text);
        }

        #[test]
        fn a_star_matches_any_infix(prefix in "[^*\\\\]{0,8}", middle in "\\PC{0,8}", suffix in "[^*\\\\]{0,8}") {
            let p = Pattern::new(&format!("{prefix}*{suffix}"));
            let input = format!("{prefix}{middle}{suffix}");
            prop_assert!(p.matches(&input));
        }

        #[test]
        fn integer_comparison_agrees_with_i64(a: i64, b: i64) {
            prop_assert_eq!(compare_numbers(&Number::from(a), &Number::from(b)), Some(a.cmp(&b)));
        }

        #[test]
        fn integer_float_comparison_agrees_when_exact(a in -(1i64 << 52)..(1i64 << 52), b in -1.0e16f64..1.0e16) {
            let float = Number::from_f64(b).expect("finite");
            prop_assert_eq!(compare_numbers(&Number::from(a), &float), (a as f64).partial_cmp(&b));
        }
    }
}
