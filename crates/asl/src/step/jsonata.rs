//! The step core of `"QueryLanguage": "JSONata"` states: `Arguments` instead of InputPath and
//! Parameters, `Output` instead of ResultSelector, ResultPath and OutputPath, expressions in
//! the fields that take them, and `$states` (`input`, `context`, `result`, `errorOutput`).
//! Errors of the state's own processing are `States.QueryEvaluationError`.

use serde_json::{Map, Value};

use super::{Action, Assigned, Context, DataFlow, Tolerance, WaitUntil, note};
use crate::definition::{
    Kind, Percentage, RuleCondition, Seconds, State, StateMachine, Text, WaitFor,
};
use crate::query::{self, Assign, Env, Query};
use crate::{Failure, Random, Variables, names, timestamp};

/// A JSONata state's Assign: every value evaluated with the variables from before the state.
pub(super) fn eval_assign(
    assign: &Option<Assign>,
    env: &Env<'_>,
    vars: &Variables,
) -> Result<Assigned, Failure> {
    let Some(Assign::Jsonata(fields)) = assign else {
        return Ok(Assigned::new());
    };
    let mut assigned = Map::with_capacity(fields.len());
    for (name, t) in fields {
        assigned.insert(name.clone(), t.eval(env, &format!("Assign/{name}"))?);
    }
    vars.check(&assigned)?;
    Ok(assigned)
}

/// A failure of the state's own evaluation.
fn evaluation_error(cause: impl Into<String>) -> Failure {
    Failure::new(names::QUERY_EVALUATION_ERROR, cause)
}

/// An integer field given as a literal or an expression (TimeoutSeconds, MaxConcurrency...).
fn integer(
    seconds: &Option<Seconds>,
    env: &Env<'_>,
    field: &str,
    min: u64,
) -> Result<Option<u64>, Failure> {
    match seconds {
        None => Ok(None),
        Some(Seconds::Fixed(n)) => Ok(Some(*n)),
        Some(Seconds::Path(p)) => Err(evaluation_error(format!(
            "The field '{field}Path' ({}) is not supported in JSONata states",
            p.text()
        ))),
        Some(Seconds::Expr(q)) => expr_integer(q, env, field, min).map(Some),
    }
}

fn expr_integer(q: &Query, env: &Env<'_>, field: &str, min: u64) -> Result<u64, Failure> {
    let v = q.eval(env, field)?;
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= u64::MAX as f64 => Ok(n as u64),
        Some(_) => Err(q.error(
            field,
            &format!(
                "returned an invalid value: {v}. Expected an integer greater than or equal to \
                 {min}."
            ),
        )),
        None => Err(q.unexpected(field, "number", &v)),
    }
}

impl StateMachine {
    pub(super) fn enter_jsonata(
        &self,
        state: &State,
        input: Value,
        ctx: &Value,
        context: Context<'_>,
        random: &mut dyn Random,
        mut trace: Option<&mut DataFlow>,
    ) -> Result<Action, Failure> {
        let vars = context.variables();
        let env = Env {
            input: &input,
            context: ctx,
            result: None,
            error_output: None,
            variables: vars,
            now_ms: context.now_ms(),
            seed: random.next_u64(),
        };
        note(&mut trace, |t| t.after_input_path = Some(input.clone()));
        match &state.kind {
            Kind::Pass(p) => {
                let assign = eval_assign(&state.assign, &env, vars)?;
                let output = match &state.output {
                    Some(t) => t.eval(&env, "Output")?,
                    None => input.clone(),
                };
                note(&mut trace, |t| t.after_result_path = Some(output.clone()));
                Ok(Action::transition(p.next, output, assign))
            }
            Kind::Succeed => {
                let output = match &state.output {
                    Some(t) => t.eval(&env, "Output")?,
                    None => input.clone(),
                };
                Ok(Action::Succeed {
                    output,
                    assign: Assigned::new(),
                })
            }
            Kind::Choice(c) => {
                let mut matched = None;
                for (i, rule) in c.choices.iter().enumerate() {
                    let RuleCondition::Jsonata(condition) = &rule.condition else {
                        continue;
                    };
                    let field = "Condition";
                    let holds = match condition {
                        query::Template::Expr(q) => match q.eval(&env, field)? {
                            Value::Bool(b) => b,
                            other => return Err(q.unexpected(field, "boolean", &other)),
                        },
                        other => other.literal().and_then(Value::as_bool).unwrap_or(false),
                    };
                    if holds {
                        matched = Some(i);
                        break;
                    }
                }
                let (next, assign, output) = match matched {
                    Some(i) => {
                        let rule = &c.choices[i];
                        (rule.next, &rule.assign, &rule.output)
                    }
                    None => match c.default {
                        Some(d) => (d, &state.assign, &state.output),
                        None => {
                            return Err(Failure::new(
                                names::NO_CHOICE_MATCHED,
                                "No Choice Rule matched the state input and the Choice state has \
                                 no Default",
                            ));
                        }
                    },
                };
                let assigned = eval_assign(assign, &env, vars)?;
                let output = match output {
                    Some(t) => t.eval(&env, "Output")?,
                    None => input.clone(),
                };
                Ok(Action::Next {
                    state: next,
                    output,
                    assign: assigned,
                })
            }
            Kind::Wait(w) => {
                let until = match &w.until {
                    WaitFor::Seconds(n) => WaitUntil::Seconds(*n),
                    WaitFor::SecondsExpr(q) => {
                        WaitUntil::Seconds(expr_integer(q, &env, "Seconds", 0)?)
                    }
                    WaitFor::Timestamp(ts) => timestamp::parse(ts)
                        .map(WaitUntil::Timestamp)
                        .ok_or_else(|| bad_timestamp(ts))?,
                    WaitFor::TimestampExpr(q) => {
                        let v = q.eval(&env, "Timestamp")?;
                        let Value::String(ts) = &v else {
                            return Err(q.unexpected("Timestamp", "string", &v));
                        };
                        timestamp::parse(ts)
                            .map(WaitUntil::Timestamp)
                            .ok_or_else(|| bad_timestamp(ts))?
                    }
                    WaitFor::SecondsPath(_) | WaitFor::TimestampPath(_) => {
                        return Err(evaluation_error(
                            "SecondsPath and TimestampPath are not supported in JSONata states",
                        ));
                    }
                };
                let assign = eval_assign(&state.assign, &env, vars)?;
                let output = match &state.output {
                    Some(t) => t.eval(&env, "Output")?,
                    None => input.clone(),
                };
                Ok(Action::Wait {
                    until,
                    output,
                    then: w.next,
                    assign,
                })
            }
            Kind::Fail(f) => {
                let text = |t: &Option<Text>, field: &str| -> Result<String, Failure> {
                    Ok(match t {
                        None => String::new(),
                        Some(Text::Literal(s)) => s.clone(),
                        Some(Text::Expr(q)) => match q.eval(&env, field)? {
                            Value::String(s) => s,
                            other => other.to_string(),
                        },
                        Some(Text::Path(_) | Text::Intrinsic(_)) => {
                            return Err(evaluation_error(format!(
                                "The field '{field}Path' is not supported in JSONata states"
                            )));
                        }
                    })
                };
                Ok(Action::Fail(Failure {
                    error: text(&f.error, "Error")?,
                    cause: text(&f.cause, "Cause")?,
                }))
            }
            Kind::Task(t) => {
                let timeout_seconds = integer(&t.timeout, &env, "TimeoutSeconds", 1)?;
                let heartbeat_seconds = integer(&t.heartbeat, &env, "HeartbeatSeconds", 1)?;
                let arguments = match &t.arguments {
                    Some(args) => args.eval(&env, "Arguments")?,
                    None => input.clone(),
                };
                note(&mut trace, |t| t.after_parameters = Some(arguments.clone()));
                let credentials = match &t.credentials {
                    Some(crate::definition::Credentials::Jsonata(c)) => {
                        Some(Box::new(c.eval(&env, "Credentials")?))
                    }
                    _ => None,
                };
                Ok(Action::RunTask {
                    call: super::TaskCall {
                        resource: t.resource.clone(),
                        input: arguments,
                        timeout_seconds,
                        heartbeat_seconds,
                        task_token: None,
                        credentials,
                        invocation: 0,
                    },
                    state_input: input,
                })
            }
            Kind::Parallel(p) => {
                let arguments = match &p.arguments {
                    Some(args) => args.eval(&env, "Arguments")?,
                    None => input.clone(),
                };
                note(&mut trace, |t| t.after_parameters = Some(arguments.clone()));
                Ok(Action::Parallel {
                    input: arguments,
                    state_input: input,
                })
            }
            Kind::Map(m) => {
                let items = match &m.items {
                    // An ItemReader's items are read first.
                    _ if m.item_reader.is_some() => Vec::new(),
                    None => match &input {
                        Value::Array(items) => items.clone(),
                        other => {
                            return Err(evaluation_error(format!(
                                "Map state input must be an array but was: {other}"
                            )));
                        }
                    },
                    Some(query::Template::Expr(q)) => match q.eval(&env, "Items")? {
                        Value::Array(items) => items,
                        other => return Err(q.unexpected("Items", "array", &other)),
                    },
                    Some(t) => match t.eval(&env, "Items")? {
                        Value::Array(items) => items,
                        other => {
                            return Err(evaluation_error(format!(
                                "The field 'Items' must be an array but was: {other}"
                            )));
                        }
                    },
                };
                note(&mut trace, |t| {
                    t.after_items_path = Some(Value::Array(items.clone()))
                });
                let items = if m.item_reader.is_some() {
                    items
                } else {
                    self.jsonata_children(state, m, env, items, context, random, trace)?
                };
                let max_concurrency =
                    integer(&m.max_concurrency, &env, "MaxConcurrency", 0)?.unwrap_or(0);
                let count = integer(&m.tolerated_failure_count, &env, "ToleratedFailureCount", 0)?;
                let percentage = match &m.tolerated_failure_percentage {
                    None => None,
                    Some(Percentage::Fixed(p)) => Some(*p),
                    Some(Percentage::Path(_)) => {
                        return Err(evaluation_error(
                            "ToleratedFailurePercentagePath is not supported in JSONata states",
                        ));
                    }
                    Some(Percentage::Expr(q)) => {
                        let field = "ToleratedFailurePercentage";
                        let v = q.eval(&env, field)?;
                        match v.as_f64() {
                            Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                            Some(_) => {
                                return Err(q.error(
                                    field,
                                    &format!(
                                        "returned an invalid value: {v}. Expected a number \
                                         between 0 and 100."
                                    ),
                                ));
                            }
                            None => return Err(q.unexpected(field, "number", &v)),
                        }
                    }
                };
                let eval = super::items::Eval::Jsonata(env);
                let reader = match &m.item_reader {
                    Some(r) => Some(Box::new(super::items::read_request(r, eval, random)?)),
                    None => None,
                };
                let writer = match &m.result_writer {
                    Some(w) => Some(Box::new(super::items::write_request(w, eval, random)?)),
                    None => None,
                };
                Ok(Action::Map {
                    items,
                    max_concurrency,
                    tolerance: Tolerance { count, percentage },
                    state_input: input,
                    reader,
                    writer,
                })
            }
        }
    }

    /// A JSONata Task, Parallel or Map succeeded with `result`: Output (default: the result)
    /// and Assign read it as `$states.result`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn succeeded_jsonata(
        &self,
        state: &State,
        state_input: Value,
        result: Value,
        ctx: &Value,
        context: Context<'_>,
        random: &mut dyn Random,
        mut trace: Option<&mut DataFlow>,
    ) -> Result<Action, Failure> {
        let next = match &state.kind {
            Kind::Task(t) => t.next,
            Kind::Parallel(p) => p.next,
            Kind::Map(m) => m.next,
            _ => return Err(super::runs_no_task(state)),
        };
        note(&mut trace, |t| t.result = Some(result.clone()));
        let vars = context.variables();
        let env = Env {
            input: &state_input,
            context: ctx,
            result: Some(&result),
            error_output: None,
            variables: vars,
            now_ms: context.now_ms(),
            seed: random.next_u64(),
        };
        let assign = eval_assign(&state.assign, &env, vars)?;
        let output = match &state.output {
            Some(t) => t.eval(&env, "Output")?,
            None => result.clone(),
        };
        note(&mut trace, |t| t.after_result_path = Some(output.clone()));
        Ok(Action::transition(next, output, assign))
    }
}

fn bad_timestamp(ts: &str) -> Failure {
    evaluation_error(format!(
        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format \
         string: {ts}"
    ))
}
