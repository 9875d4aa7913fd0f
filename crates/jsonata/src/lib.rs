//! JSONata, pure: the query and transformation language AWS Step Functions uses in
//! `"QueryLanguage": "JSONata"` states.
//!
//! This crate owns the whole language (docs.jsonata.org, measured against jsonata-js's test
//! suite): parsing an expression once into an [`Expression`] (immutable, `Send + Sync`, cheap
//! to share behind an `Arc`), evaluating it many times against borrowed `serde_json` input and
//! [`Bindings`], JSONata's error codes with positions, and a [`Budget`] so runaway recursion,
//! loops and huge ranges fail with an error instead of hanging or overflowing the stack.
//!
//! It must not do I/O and has no ambient clock or randomness when the caller provides them:
//! `$now()`/`$millis()` read the [`Clock`] in the bindings once per evaluation (JSONata
//! semantics: one instant per evaluation) and `$random()`/`$shuffle()` draw from a generator
//! seeded by [`Bindings::with_seed`]. [`aws`] adds the functions Step Functions provides
//! (`$partition`, `$range`, `$hash`, `$random(seed)`, `$uuid`, `$parse`).
//!
//! Start with [`Expression::parse`] and [`Expression::evaluate`].
//!
//! Attribution: the parser and evaluator follow the algorithms of the reference implementation,
//! jsonata-js (MIT licence, Copyright (c) 2016 Andrew Coleman and the JSONata contributors),
//! and the error messages in `error.rs` are its message catalogue's texts, so that causes read
//! as on AWS. No file of it is part of this repository.

mod ast;
pub mod aws;
mod datetime;
mod error;
mod eval;
mod format;
mod functions;
mod number;
mod parser;
mod signature;
mod stack;
mod url;
mod value;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;

pub use error::{Error, EvalError, ParseError};

use crate::eval::{Eval, Globals};
use crate::signature::Signature;
use crate::value::Value;

/// A parsed JSONata expression: parse once, evaluate many times, from any thread.
///
/// ```
/// use serde_json::json;
/// use sluice_jsonata::{Bindings, Expression};
///
/// let expr = Expression::parse("$sum(items.price) > 10")?;
/// let input = json!({ "items": [{ "price": 4 }, { "price": 7 }] });
/// assert_eq!(expr.evaluate(&input, &Bindings::new())?, Some(json!(true)));
/// # Ok::<(), sluice_jsonata::Error>(())
/// ```
pub struct Expression {
    root: ast::Node,
    labels: Vec<String>,
    source: String,
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Expression>();
    shareable::<Functions>();
};

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expression")
            .field("source", &self.source)
            .finish()
    }
}

impl Expression {
    /// Parses `source`. Errors carry JSONata's `S0xxx` codes and the offending position.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let (root, labels) = parser::parse(source)?;
        Ok(Self {
            root,
            labels,
            source: source.to_string(),
        })
    }

    /// The source text this expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `input`; `Ok(None)` is JSONata's `undefined`.
    pub fn evaluate(
        &self,
        input: &Json,
        bindings: &Bindings<'_>,
    ) -> Result<Option<Json>, EvalError> {
        self.evaluate_input(Some(input), bindings)
    }

    /// Evaluates with an optional input (`None`: the input is `undefined`).
    pub fn evaluate_input(
        &self,
        input: Option<&Json>,
        bindings: &Bindings<'_>,
    ) -> Result<Option<Json>, EvalError> {
        let now = bindings.now_millis();
        let seed = bindings.seed.unwrap_or(now as u64 ^ 0x5151_CE00_D15C_0DE5);
        let root = input.map(Value::from_json);
        let globals = BindingsGlobals { bindings };
        let ev = Eval::new(
            &self.labels,
            &globals,
            root.clone(),
            now,
            seed,
            bindings.budget,
        );
        let input = match root {
            Some(v) if v.is_array() && !v.is_sequence() => Some(Value::array(
                vec![v],
                value::SEQUENCE | value::OUTER_WRAPPER,
            )),
            other => other,
        };
        let result = ev.eval(&self.root, &input, 0)?;
        match result {
            None => Ok(None),
            Some(v) => value::to_json(&v, 0)
                .map(Some)
                .map_err(|what| Error::new("D1099").detail(what)),
        }
    }
}

/// Limits on one evaluation. Exceeding them is an error, never a hang or a stack overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Deepest nesting of sub-expression evaluations (JSONata's stack depth); `D1011` beyond.
    /// Tail calls do not nest. The default fits a 2 MiB thread stack in debug builds.
    pub max_depth: usize,
    /// Evaluation steps (sub-expression evaluations, plus native work such as building
    /// ranges); `D1012` beyond.
    pub max_steps: u64,
    /// Longest sequence a range, path or constructor may build; `D2014` beyond.
    pub max_sequence: usize,
    /// Native stack the evaluator may use below where it started, in bytes; `D1011` beyond.
    /// Keep it well under the smallest stack evaluations run on (2 MiB for spawned threads
    /// and tokio workers).
    pub max_stack: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_depth: 1000,
            max_steps: 1_000_000,
            max_sequence: 10_000_000,
            max_stack: 1 << 20,
        }
    }
}

/// The source of `$now()` and `$millis()`: read once per evaluation.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// The host's wall clock (the default when the bindings name no clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A source of variables looked up by name when an expression reads them (e.g. a workflow's
/// variable scopes), so binding many large variables costs nothing until one is read.
pub trait Variables {
    /// The value of `$name`, if defined.
    fn variable(&self, name: &str) -> Option<&Json>;
}

/// Variables, extra functions, clock, seed and budget for one evaluation. Variables are
/// borrowed where possible, so binding a large `$states` costs nothing.
#[derive(Default)]
pub struct Bindings<'j> {
    variables: Vec<(Cow<'j, str>, Cow<'j, Json>)>,
    records: Vec<(&'j str, Vec<(&'j str, &'j Json)>)>,
    source: Option<&'j dyn Variables>,
    functions: Option<&'j Functions>,
    now: Option<i64>,
    clock: Option<&'j dyn Clock>,
    seed: Option<u64>,
    budget: Budget,
}

impl<'j> Bindings<'j> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `$name` to an owned value.
    pub fn with_value(self, name: impl Into<Cow<'j, str>>, value: Json) -> Self {
        self.bind(name.into(), Cow::Owned(value))
    }

    /// Binds `$name` to a borrowed value (no copy).
    pub fn with_ref(self, name: impl Into<Cow<'j, str>>, value: &'j Json) -> Self {
        self.bind(name.into(), Cow::Borrowed(value))
    }

    /// Binds `$name` to an object whose fields are borrowed values (no copy): Step Functions'
    /// `$states` is `{input, context, result, errorOutput}`, each owned elsewhere.
    pub fn with_record(mut self, name: &'j str, fields: Vec<(&'j str, &'j Json)>) -> Self {
        self.records.retain(|(n, _)| *n != name);
        self.records.push((name, fields));
        self
    }

    /// Resolves variables not bound otherwise from `source` (looked up only when read).
    pub fn with_variables(mut self, source: &'j dyn Variables) -> Self {
        self.source = Some(source);
        self
    }

    fn bind(mut self, name: Cow<'j, str>, value: Cow<'j, Json>) -> Self {
        match self.variables.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.variables.push((name, value)),
        }
        self
    }

    /// Makes registered native functions callable (e.g. [`aws::functions`]).
    pub fn with_functions(mut self, functions: &'j Functions) -> Self {
        self.functions = Some(functions);
        self
    }

    /// Fixes `$now()`/`$millis()` to this instant.
    pub fn with_now(mut self, millis: i64) -> Self {
        self.now = Some(millis);
        self
    }

    /// Reads `$now()`/`$millis()` from `clock` (once per evaluation).
    pub fn with_clock(mut self, clock: &'j dyn Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Seeds `$random()`, `$shuffle()` and [`aws`]'s `$uuid()`; without a seed the generator
    /// is seeded from the evaluation's instant.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    fn now_millis(&self) -> i64 {
        match (self.now, self.clock) {
            (Some(n), _) => n,
            (None, Some(c)) => c.now_millis(),
            (None, None) => SystemClock.now_millis(),
        }
    }
}

struct BindingsGlobals<'b, 'j> {
    bindings: &'b Bindings<'j>,
}

impl<'a, 'j: 'a> Globals<'a> for BindingsGlobals<'a, 'j> {
    fn variable(&self, name: &str) -> Option<Value<'a>> {
        let bindings = self.bindings;
        if let Some((_, v)) = bindings.variables.iter().find(|(n, _)| n == name) {
            return Some(Value::from_json(v.as_ref()));
        }
        if let Some((_, fields)) = bindings.records.iter().find(|(n, _)| *n == name) {
            let mut record = value::Object::with_capacity(fields.len());
            for (key, field) in fields {
                record.insert(value::Key::Lit(key), Value::from_json(field));
            }
            return Some(Value::object(record));
        }
        bindings
            .source
            .and_then(|s| s.variable(name))
            .map(Value::from_json)
    }

    fn native(&self, name: &str) -> Option<&'a NativeFunction> {
        self.bindings.functions.and_then(|f| f.map.get(name))
    }
}

/// What a native function receives: its arguments (after signature validation; `None` is
/// `undefined`) and the evaluation's instant and random generator.
pub struct NativeCall<'c, 'a> {
    args: &'c [Option<Json>],
    eval: &'c Eval<'a>,
}

impl NativeCall<'_, '_> {
    pub fn args(&self) -> &[Option<Json>] {
        self.args
    }

    /// The `i`th argument, `None` when missing or undefined.
    pub fn arg(&self, i: usize) -> Option<&Json> {
        self.args.get(i).and_then(Option::as_ref)
    }

    /// The evaluation's instant (`$millis()`).
    pub fn now_millis(&self) -> i64 {
        self.eval.now
    }

    /// A uniform draw in [0, 1) from the evaluation's generator.
    pub fn random(&self) -> f64 {
        functions::next_random(self.eval)
    }

    /// 64 random bits from the evaluation's generator.
    pub fn random_u64(&self) -> u64 {
        functions::next_u64(self.eval)
    }
}

type NativeImpl =
    dyn for<'c, 'a> Fn(&NativeCall<'c, 'a>) -> Result<Option<Json>, EvalError> + Send + Sync;

/// A function implemented in Rust, callable from expressions as `$name(...)`.
pub struct NativeFunction {
    name: String,
    signature: Option<Signature>,
    arity: usize,
    implementation: Arc<NativeImpl>,
}

impl fmt::Debug for NativeFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeFunction")
            .field("name", &self.name)
            .finish()
    }
}

/// A registry of native functions, built once and shared by reference through [`Bindings`].
#[derive(Debug, Default)]
pub struct Functions {
    map: HashMap<String, NativeFunction>,
}

impl Functions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `$name`. `signature` is a JSONata signature such as `"<a<n>n:a>"` (arguments
    /// are validated and coerced against it before the call) or `None` to accept anything.
    /// Function values cannot cross into Rust: an argument that is a function arrives as
    /// `None`.
    pub fn register<F>(
        &mut self,
        name: &str,
        signature: Option<&str>,
        implementation: F,
    ) -> Result<(), ParseError>
    where
        F: for<'c, 'a> Fn(&NativeCall<'c, 'a>) -> Result<Option<Json>, EvalError>
            + Send
            + Sync
            + 'static,
    {
        let signature = match signature {
            Some(s) => {
                Some(Signature::parse(s).map_err(|(code, offset)| Error::new(code).at(offset))?)
            }
            None => None,
        };
        let arity = signature.as_ref().map_or(0, Signature::arity);
        self.map.insert(
            name.to_string(),
            NativeFunction {
                name: name.to_string(),
                signature,
                arity,
                implementation: Arc::new(implementation),
            },
        );
        Ok(())
    }

    /// Whether `$name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

impl Error {
    /// An error raised by a native function: `code` should be a JSONata-style code.
    pub fn custom(code: &'static str, message: impl Into<String>) -> Self {
        Error::new(code).detail(message)
    }
}

pub(crate) fn call_native<'a>(
    ev: &Eval<'a>,
    native: &NativeFunction,
    args: &[Option<Value<'a>>],
) -> Result<Option<Value<'a>>, Error> {
    let converted: Vec<Option<Json>> = args
        .iter()
        .map(|a| a.as_ref().and_then(|v| value::to_json(v, 0).ok()))
        .collect();
    let call = NativeCall {
        args: &converted,
        eval: ev,
    };
    let result = (native.implementation)(&call).map_err(|e| e.or_token(native.name.clone()))?;
    Ok(result.map(|j| Value::from_json_owned(&j)))
}

/// `$eval(expr, context)`: parses and evaluates `source` in a nested evaluation that shares the
/// budget's limits, the bindings and the instant (not the caller's local variables).
pub(crate) fn eval_nested<'a>(
    ev: &Eval<'a>,
    source: &str,
    focus: Option<Value<'a>>,
) -> Result<Option<Value<'a>>, Error> {
    let expr = Expression::parse(source)
        .map_err(|e| Error::new("D3120").detail(e.message()).token("eval"))?;
    let input = match &focus {
        Some(v) => value::to_json(v, 0).ok(),
        None => None,
    };
    let root = input.as_ref().map(Value::from_json);
    let nested_input = match root.clone() {
        Some(v) if v.is_array() => Some(Value::array(
            vec![v],
            value::SEQUENCE | value::OUTER_WRAPPER,
        )),
        other => other,
    };
    let narrow = Narrow(ev.globals);
    let nested = Eval::new(
        &expr.labels,
        &narrow,
        root,
        ev.now,
        functions::next_u64(ev),
        ev.budget,
    );
    let result = nested
        .eval(&expr.root, &nested_input, 0)
        .map_err(|e| Error::new("D3121").detail(e.message()).token("eval"))?;
    Ok(match result {
        None => None,
        Some(v) => match value::to_json(&v, 0) {
            Ok(j) => Some(Value::from_json_owned(&j)),
            Err(_) => None,
        },
    })
}

/// Lends the outer evaluation's globals to a nested, shorter-lived one.
struct Narrow<'a>(&'a dyn Globals<'a>);

impl<'a: 'x, 'x> Globals<'x> for Narrow<'a> {
    fn variable(&self, name: &str) -> Option<Value<'x>> {
        self.0.variable(name)
    }

    fn native(&self, name: &str) -> Option<&'x NativeFunction> {
        self.0.native(name)
    }
}

#[cfg(test)]
mod bindings_tests {
    use super::*;
    use serde_json::json;

    struct Scope(serde_json::Map<String, Json>);

    impl Variables for Scope {
        fn variable(&self, name: &str) -> Option<&Json> {
            self.0.get(name)
        }
    }

    #[test]
    fn records_and_variable_sources_are_read_without_copying_the_callers_values() {
        let input = json!({"detail": {"severity": 7}});
        let context = json!({"Execution": {"Name": "e1"}});
        let scope = Scope(
            json!({"limit": 5, "states": "shadowed"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let bindings = Bindings::new()
            .with_record("states", vec![("input", &input), ("context", &context)])
            .with_variables(&scope);
        let expr = Expression::parse(
            "$states.input.detail.severity > $limit ? $states.context.Execution.Name : 'low'",
        )
        .unwrap();
        assert_eq!(
            expr.evaluate(&Json::Null, &bindings).unwrap(),
            Some(json!("e1"))
        );
        // Explicit bindings and records win over the source; unknown names are undefined.
        let expr = Expression::parse("[$type($states), $missing]").unwrap();
        assert_eq!(
            expr.evaluate(&Json::Null, &bindings).unwrap(),
            Some(json!(["object"]))
        );
    }
}
