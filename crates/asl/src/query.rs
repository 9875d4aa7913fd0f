//! JSONata in state machines: `{% … %}` expressions in the fields of `"QueryLanguage":
//! "JSONata"` states, parsed once with the definition and evaluated with `$states` and the
//! workflow variables bound.
//!
//! A string is an expression when it starts with `{%` and ends with `%}` (whitespace around
//! the expression is ignored); any other string is a literal. Evaluation errors become
//! `States.QueryEvaluationError` with AWS's causes, which name the expression and the field
//! (`Arguments/FunctionName`, `Output`, `Assign/result`...).

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};
use sluice_jsonata::{Bindings, Expression, Functions};

use crate::variables::Variables;
use crate::{Diagnostics, Failure, Pointer, names};

/// A JSONata expression of a definition, parsed once, shared by every execution.
#[derive(Clone)]
pub struct Query {
    expr: Arc<Expression>,
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{% {} %}}", self.expr.source())
    }
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.expr.source() == other.expr.source()
    }
}

/// The expression inside `{% … %}`, if `text` is one.
pub fn expression_text(text: &str) -> Option<&str> {
    text.strip_prefix("{%")
        .and_then(|rest| rest.strip_suffix("%}"))
        .map(str::trim)
}

/// Whether `text` is a `{% … %}` expression.
pub fn is_expression(text: &str) -> bool {
    expression_text(text).is_some()
}

impl Query {
    /// Parses the expression of a `{% … %}` string found at `at`; a syntax error is recorded
    /// with JSONata's code and the position in the expression.
    pub fn parse(text: &str, at: &Pointer, diags: &mut Diagnostics) -> Option<Query> {
        let source = expression_text(text)?;
        if source.is_empty() {
            diags.schema(at, "The JSONata expression '{% %}' is empty");
            return None;
        }
        match Expression::parse(source) {
            Ok(expr) => Some(Query {
                expr: Arc::new(expr),
            }),
            Err(e) => {
                diags.schema(
                    at,
                    format!(
                        "The JSONata expression '{}' is invalid: {}: {}{}",
                        abbreviated(source),
                        e.code(),
                        e.message(),
                        e.position()
                            .map(|p| format!(" (at position {p})"))
                            .unwrap_or_default()
                    ),
                );
                None
            }
        }
    }

    pub fn source(&self) -> &str {
        self.expr.source()
    }

    /// Evaluates; `Ok(None)` is `undefined`.
    pub fn eval_opt(&self, env: &Env<'_>, field: &str) -> Result<Option<Value>, Failure> {
        let result = env.result.unwrap_or(&Value::Null);
        let error_output = env.error_output.unwrap_or(&Value::Null);
        let mut states = vec![("input", env.input), ("context", env.context)];
        if env.result.is_some() {
            states.push(("result", result));
        }
        if env.error_output.is_some() {
            states.push(("errorOutput", error_output));
        }
        let bindings = Bindings::new()
            .with_record("states", states)
            .with_variables(env.variables)
            .with_functions(functions())
            .with_now(env.now_ms)
            .with_seed(env.seed);
        self.expr
            .evaluate_input(Some(env.input), &bindings)
            .map_err(|e| {
                let cause = if e.code() == "D1099" {
                    format!(
                        "The JSONata expression '{}' specified for the field '{field}' returned \
                         an unsupported result type.",
                        self.source()
                    )
                } else {
                    format!(
                        "The JSONata expression '{}' specified for the field '{field}' threw an \
                         error during evaluation. {}: {}",
                        self.source(),
                        e.code(),
                        e.message()
                    )
                };
                Failure::new(names::QUERY_EVALUATION_ERROR, cause)
            })
    }

    /// Evaluates; `undefined` is an error.
    pub fn eval(&self, env: &Env<'_>, field: &str) -> Result<Value, Failure> {
        self.eval_opt(env, field)?
            .ok_or_else(|| self.error(field, "returned nothing (undefined)."))
    }

    /// A `States.QueryEvaluationError` about this expression in `field`.
    pub fn error(&self, field: &str, what: &str) -> Failure {
        Failure::new(
            names::QUERY_EVALUATION_ERROR,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' {what}",
                self.source()
            ),
        )
    }

    /// The error for a result of the wrong type (`Items` must be an array...).
    pub fn unexpected(&self, field: &str, expected: &str, value: &Value) -> Failure {
        self.error(
            field,
            &format!(
                "returned an unexpected result type. Expected '{expected}', but was '{}' for \
                 value: {value}",
                json_type(value)
            ),
        )
    }
}

/// Longest expression a definition diagnostic quotes whole, in characters.
const QUOTED_CHARS: usize = 200;

/// `source`, cut to its first [`QUOTED_CHARS`] characters and `...` when longer: a diagnostic
/// about a 100 KB expression quotes enough of it to find it.
fn abbreviated(source: &str) -> std::borrow::Cow<'_, str> {
    match source.char_indices().nth(QUOTED_CHARS) {
        None => source.into(),
        Some((cut, _)) => format!("{}...", &source[..cut]).into(),
    }
}

/// JSONata's (and AWS's) name for a value's type.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The Step Functions functions (`$partition`, `$uuid`...), registered once.
fn functions() -> &'static Functions {
    static FUNCTIONS: OnceLock<Functions> = OnceLock::new();
    FUNCTIONS.get_or_init(sluice_jsonata::aws::functions)
}

/// What the JSONata expressions of a state read: `$states` and the variables.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// `$states.input`: the state's raw input.
    pub input: &'a Value,
    /// `$states.context`.
    pub context: &'a Value,
    /// `$states.result`: a Task's, Parallel's or Map's result, in Output and Assign.
    pub result: Option<&'a Value>,
    /// `$states.errorOutput`: in a Catcher's Output and Assign.
    pub error_output: Option<&'a Value>,
    pub variables: &'a Variables,
    /// `$now()` and `$millis()`.
    pub now_ms: i64,
    /// Seeds `$random()` and `$uuid()`.
    pub seed: u64,
}

/// A JSON value whose `{% … %}` strings are expressions (Arguments, Output, Assign,
/// ItemSelector, and the fields that take an expression or a literal).
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Literal(Value),
    Expr(Query),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

impl Template {
    /// Compiles the template found at `at`; subtrees without expressions stay plain values.
    pub fn parse(value: &Value, at: &Pointer, diags: &mut Diagnostics) -> Template {
        match value {
            Value::String(s) if is_expression(s) => match Query::parse(s, at, diags) {
                Some(q) => Template::Expr(q),
                None => Template::Literal(Value::Null),
            },
            Value::Object(map) => {
                let fields: Vec<(String, Template)> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), Template::parse(v, &at.child(k), diags)))
                    .collect();
                if fields
                    .iter()
                    .all(|(_, t)| matches!(t, Template::Literal(_)))
                {
                    Template::Literal(value.clone())
                } else {
                    Template::Object(fields)
                }
            }
            Value::Array(items) => {
                let items: Vec<Template> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Template::parse(v, &at.child(i), diags))
                    .collect();
                if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(items)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// Evaluates; `field` names the template in causes (`Arguments`, `Output`...).
    pub fn eval(&self, env: &Env<'_>, field: &str) -> Result<Value, Failure> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Expr(q) => q.eval(env, field),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, t) in fields {
                    let here = format!("{field}/{key}");
                    out.insert(key.clone(), t.eval(env, &here)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| t.eval(env, &format!("{field}/{i}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }

    /// Whether any expression of the template mentions `word` in its source.
    pub fn mentions(&self, word: &str) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Expr(q) => q.source().contains(word),
            Template::Object(fields) => fields.iter().any(|(_, t)| t.mentions(word)),
            Template::Array(items) => items.iter().any(|t| t.mentions(word)),
        }
    }

    /// Whether the template is a plain value.
    pub fn literal(&self) -> Option<&Value> {
        match self {
            Template::Literal(v) => Some(v),
            _ => None,
        }
    }
}

/// An `Assign` field: each value a template of its state's query language.
#[derive(Debug, Clone, PartialEq)]
pub enum Assign {
    /// JSONPath: keys ending in `.$` take a path (which may read variables) or an intrinsic.
    JsonPath(crate::template::Template),
    /// JSONata: `{% … %}` values are expressions.
    Jsonata(Vec<(String, Template)>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env<'a>(input: &'a Value, vars: &'a Variables) -> Env<'a> {
        Env {
            input,
            context: &Value::Null,
            result: None,
            error_output: None,
            variables: vars,
            now_ms: 0,
            seed: 7,
        }
    }

    fn template(v: Value) -> Template {
        let mut diags = Diagnostics::new();
        let t = Template::parse(&v, &Pointer::root(), &mut diags);
        assert!(!diags.has_errors(), "{diags:?}");
        t
    }

    #[test]
    fn only_whole_strings_in_percent_braces_are_expressions() {
        assert_eq!(expression_text("{% $x %}"), Some("$x"));
        assert_eq!(expression_text("{%$x%}"), Some("$x"));
        assert_eq!(expression_text("a {% $x %}"), None);
        assert_eq!(expression_text("{% $x"), None);
        let t = template(json!({"lit": "$.a", "n": 1, "nested": {"e": "{% $states.input.a %}"}}));
        let input = json!({"a": [1, 2]});
        let vars = Variables::default();
        assert_eq!(
            t.eval(&env(&input, &vars), "Arguments").unwrap(),
            json!({"lit": "$.a", "n": 1, "nested": {"e": [1, 2]}})
        );
    }

    #[test]
    fn undefined_and_failing_expressions_name_the_field_as_aws_does() {
        let t = template(json!({"result": "{% $doesNotExist %}"}));
        let vars = Variables::default();
        let failure = t.eval(&env(&Value::Null, &vars), "Output").unwrap_err();
        assert_eq!(failure.error, "States.QueryEvaluationError");
        assert_eq!(
            failure.cause,
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' \
             returned nothing (undefined)."
        );
        let t = template(json!("{% $x() %}"));
        let failure = t.eval(&env(&Value::Null, &vars), "Output").unwrap_err();
        assert_eq!(
            failure.cause,
            "The JSONata expression '$x()' specified for the field 'Output' threw an error \
             during evaluation. T1006: Attempted to invoke a non-function"
        );
        let t = template(json!("{% function($x){$x} %}"));
        let failure = t.eval(&env(&Value::Null, &vars), "Items").unwrap_err();
        assert!(
            failure
                .cause
                .ends_with("returned an unsupported result type."),
            "{failure:?}"
        );
    }

    #[test]
    fn syntax_errors_are_reported_with_code_and_position_at_definition_time() {
        let mut diags = Diagnostics::new();
        Template::parse(
            &json!({"a": "{% 1 + %}"}),
            &Pointer::root().child("Output"),
            &mut diags,
        );
        let text = format!("{diags:?}");
        assert!(diags.has_errors());
        assert!(text.contains("/Output/a"), "{text}");
        assert!(text.contains("S0"), "{text}");
    }

    #[test]
    fn variables_and_aws_functions_are_available() {
        let vars = Variables::from_map(json!({"limit": 3}).as_object().unwrap().clone());
        let t = template(json!("{% $partition([1,2,3,4], $limit) %}"));
        assert_eq!(
            t.eval(&env(&Value::Null, &vars), "Output").unwrap(),
            json!([[1, 2, 3], [4]])
        );
    }
}
