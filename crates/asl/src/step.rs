//! The step core: given a state, its input and a context, decide what happens next.
//!
//! Every function here is pure. The caller (the in-process [`interpreter`](crate::interpreter)
//! or the durable engine) owns time, I/O and persistence: it runs the task an
//! [`Action::RunTask`] asks for, waits until an [`Action::Wait`] is due, runs the branches of an
//! [`Action::Parallel`], and feeds the outcome back through [`StateMachine::task_succeeded`],
//! [`StateMachine::branches_succeeded`] or [`StateMachine::recover`].
//!
//! Inputs are taken by value so that states which pass their data through (Pass, Choice, Wait,
//! Succeed with default paths) move it instead of cloning it.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value, json};

use crate::definition::{
    Catcher, DataPath, Kind, MapState, Percentage, ProcessorMode, QueryLanguage, ResultPath,
    Retrier, RuleCondition, Seconds, State, StateId, StateMachine, Text, Transition, WaitFor,
};
use crate::path::{self, Path};
use crate::query::{self, Assign};
use crate::{Failure, Random, Scope, Variables, names, timestamp};

mod items;
mod jsonata;

pub use items::{ReadRequest, ReadSource};

/// The variables a state assigns (applied when it exits).
pub type Assigned = Map<String, Value>;

/// The execution-wide part of the context object (`$$`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Execution {
    pub id: String,
    pub name: String,
    pub role_arn: String,
    /// ISO 8601 with milliseconds, e.g. `2026-11-23T04:12:55.123Z`.
    pub start_time: String,
    pub redrive_count: u32,
    pub input: Value,
    pub state_machine_id: String,
    pub state_machine_name: String,
}

/// What the context object says about the state being run.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    pub execution: &'a Execution,
    /// When the state was entered (ISO 8601).
    pub entered_time: &'a str,
    /// `$$.State.RetryCount`: how many retries of this state have happened so far.
    pub retry_count: u32,
    /// `$$.Task.Token` for `.waitForTaskToken` integrations.
    pub task_token: Option<&'a str>,
    /// The variables visible to the state.
    pub variables: &'a Variables,
    /// Now, for JSONata's `$now()` and `$millis()`.
    pub now_ms: i64,
}

impl Visit<'_> {
    /// Builds the context object of `state` as AWS does: `State.RetryCount` only for the states
    /// that can retry (Task, Parallel, Map); a Pass state's `$$.State` is just `Name` and
    /// `EnteredTime` (recorded against AWS).
    pub fn context_object(&self, state: &State, item: Option<(usize, &Value)>) -> Value {
        let e = self.execution;
        let mut ctx = json!({
            "Execution": {
                "Id": e.id,
                "Input": e.input,
                "StartTime": e.start_time,
                "Name": e.name,
                "RoleArn": e.role_arn,
                "RedriveCount": e.redrive_count,
            },
            "StateMachine": { "Id": e.state_machine_id, "Name": e.state_machine_name },
            "State": {
                "Name": state.name,
                "EnteredTime": self.entered_time,
            },
        });
        if matches!(state.kind, Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_)) {
            ctx["State"]["RetryCount"] = json!(self.retry_count);
        }
        if let Some(token) = self.task_token {
            ctx["Task"] = json!({ "Token": token });
        }
        if let Some((index, value)) = item {
            ctx["Map"] = json!({ "Item": { "Index": index, "Value": value } });
        }
        ctx
    }
}

/// A task the caller must run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskCall {
    pub resource: String,
    /// The effective input: after InputPath and Parameters.
    pub input: Value,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    /// `$$.Task.Token` of a `.waitForTaskToken` task: SendTaskSuccess/SendTaskFailure with it
    /// end the task (set by the driver, which draws it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<String>,
    /// The evaluated `Credentials` (`{"RoleArn": ...}`), recorded as `taskCredentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Box<Value>>,
    /// Which run of its state this is in the execution, 0-based: every run of a Task state
    /// counts, retries and runs in any Map iteration or Parallel branch included (what a Step
    /// Functions Local mocked response is keyed by). Set by the driver, whose snapshot keeps
    /// the count: a task performed again after a restart keeps its number.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invocation: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// When a Wait state is due.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitUntil {
    /// That many seconds after the state was entered.
    Seconds(u64),
    /// That absolute time.
    Timestamp(DateTime<FixedOffset>),
}

/// The longest wait AWS accepts, in seconds: it keeps wait delays as a signed 32-bit number of
/// seconds (recorded: a timestamp 24855 days ahead is accepted, 24856 days fails).
pub const MAX_WAIT_SECONDS: i64 = i32::MAX as i64;

impl WaitUntil {
    /// The time the wait ends for a Wait state that starts waiting at `now`. A delay over
    /// [`MAX_WAIT_SECONDS`] fails with `States.Runtime` and AWS's cause; a timestamp in the past
    /// is due at once.
    pub fn due(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, Failure> {
        let too_long = || Failure::runtime("Wait state delay is too long.");
        match self {
            WaitUntil::Seconds(s) => i64::try_from(*s)
                .ok()
                .filter(|s| *s <= MAX_WAIT_SECONDS)
                .and_then(chrono::Duration::try_seconds)
                .and_then(|delay| now.checked_add_signed(delay))
                .ok_or_else(too_long),
            WaitUntil::Timestamp(t) => {
                let due = t.with_timezone(&Utc);
                if (due - now).num_seconds() > MAX_WAIT_SECONDS {
                    return Err(too_long());
                }
                Ok(due)
            }
        }
    }
}

/// Failure tolerance of a Map state.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Tolerance {
    pub count: Option<u64>,
    pub percentage: Option<f64>,
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Transition to `state` with `output` as its input, assigning `assign`.
    Next {
        state: StateId,
        output: Value,
        assign: Assigned,
    },
    /// The machine (or branch) succeeded with `output`, assigning `assign`.
    Succeed { output: Value, assign: Assigned },
    /// The machine (or branch) failed: a Fail state, or an error nothing caught.
    Fail(Failure),
    /// Run a task, then call [`StateMachine::task_succeeded`] or [`StateMachine::recover`]
    /// with `state_input`.
    RunTask { call: TaskCall, state_input: Value },
    /// Wait until due, then take `then` with `output`, assigning `assign`.
    Wait {
        until: WaitUntil,
        output: Value,
        then: Transition,
        assign: Assigned,
    },
    /// Run every branch of a Parallel state on `input`, then call
    /// [`StateMachine::branches_succeeded`] with the outputs in branch order.
    Parallel { input: Value, state_input: Value },
    /// Run the item processor once per item, at most `max_concurrency` at a time (0 = no
    /// limit), then call [`StateMachine::map_finished`].
    Map {
        items: Vec<Value>,
        max_concurrency: u64,
        tolerance: Tolerance,
        state_input: Value,
        /// The ItemReader's request: read the items first (`items` is then empty), then call
        /// [`StateMachine::items_read`] for the children's inputs.
        reader: Option<Box<ReadRequest>>,
        /// The ResultWriter's request: export the results when the children end.
        writer: Option<Box<crate::items::write::WriteRequest>>,
    },
}

impl Action {
    fn transition(then: Transition, output: Value, assign: Assigned) -> Action {
        match then {
            Transition::Next(state) => Action::Next {
                state,
                output,
                assign,
            },
            Transition::End => Action::Succeed { output, assign },
        }
    }

    /// Completes a [`Action::Wait`] once it is due.
    pub fn after_wait(then: Transition, output: Value, assign: Assigned) -> Action {
        Self::transition(then, output, assign)
    }
}

/// How a failed state recovers, per its Retry and Catch fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovery {
    /// Run the state again (same input) after `delay_seconds`.
    Retry { delay_seconds: f64 },
    /// A catcher matched: go to `state` with `output`, assigning `assign`.
    Catch {
        state: StateId,
        output: Value,
        assign: Assigned,
    },
    /// Nothing handles it: the machine (or branch) fails.
    Fail(Failure),
}

/// Per-visit retry bookkeeping: how many times each retrier has fired. Reset on every new
/// entry into the state (a transition, not a retry).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryState {
    pub attempts: Vec<u64>,
}

impl RetryState {
    /// Retries so far, all retriers together (`$$.State.RetryCount`).
    pub fn total(&self) -> u32 {
        self.attempts.iter().sum::<u64>().min(u32::MAX as u64) as u32
    }
}

/// The intermediate values of one state's data flow, as TestState's inspection data shows them:
/// recorded by [`StateMachine::enter_traced`] and [`StateMachine::task_succeeded_traced`], each
/// field only when the state computed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataFlow {
    /// The input after InputPath (a Fail state, which has none: its raw input).
    pub after_input_path: Option<Value>,
    /// The effective input after Parameters: a Task's task input, a Parallel's branch input,
    /// a Pass state's payload (when it has no `Result`).
    pub after_parameters: Option<Value>,
    /// A Map's items after ItemsPath.
    pub after_items_path: Option<Value>,
    /// A Map's items after ItemSelector, when it has one.
    pub after_item_selector: Option<Value>,
    /// The state's raw result (a task's, the branches' or iterations', a Pass state's).
    pub result: Option<Value>,
    /// The result after ResultSelector (the raw result when there is none).
    pub after_result_selector: Option<Value>,
    /// The result placed into the raw input by ResultPath.
    pub after_result_path: Option<Value>,
}

impl DataFlow {
    /// A Pass state's result: its `Result` field, else its Parameters' payload (or effective
    /// input), which is then also the state's "after Parameters".
    fn pass_result(&mut self, fixed: bool, result: &Value) {
        if !fixed {
            self.after_parameters = Some(result.clone());
        }
        self.result = Some(result.clone());
        self.after_result_selector = Some(result.clone());
    }
}

/// Where a state's context object (`$$`) comes from.
#[derive(Clone, Copy)]
enum Context<'a> {
    /// Built from the visit of an execution.
    Visit(&'a Visit<'a>),
    /// Given whole (TestState's `context` and `variables`); a Map's item selection adds
    /// `Map.Item` to it.
    Given(&'a Value, &'a Variables),
}

impl<'a> Context<'a> {
    fn variables(self) -> &'a Variables {
        match self {
            Context::Visit(visit) => visit.variables,
            Context::Given(_, variables) => variables,
        }
    }

    fn now_ms(self) -> i64 {
        match self {
            Context::Visit(visit) => visit.now_ms,
            Context::Given(..) => 0,
        }
    }

    fn object(self, state: &State, item: Option<(usize, &Value)>) -> Value {
        match self {
            Context::Visit(visit) => visit.context_object(state, item),
            Context::Given(given, _) => {
                let mut ctx = given.clone();
                if let (Some((index, value)), Some(fields)) = (item, ctx.as_object_mut()) {
                    fields.insert(
                        "Map".into(),
                        json!({ "Item": { "Index": index, "Value": value } }),
                    );
                }
                ctx
            }
        }
    }

    /// `$$` for the state's own fields; `null` (never read) when nothing in the state reads it.
    fn for_state(self, state: &State) -> Value {
        if state.uses_context {
            self.object(state, None)
        } else {
            Value::Null
        }
    }
}

/// Records into the trace, if there is one: the closure (and its clones) runs only then.
fn note(trace: &mut Option<&mut DataFlow>, record: impl FnOnce(&mut DataFlow)) {
    if let Some(trace) = trace.as_deref_mut() {
        record(trace);
    }
}

impl StateMachine {
    /// Enters state `id` with `input`. `Err` is an error raised by the state's own data
    /// processing (paths, parameters); pass it to [`Self::recover`] (it may be caught) unless it
    /// is `States.Runtime`, which fails the execution.
    pub fn enter(
        &self,
        id: StateId,
        input: Value,
        visit: &Visit<'_>,
        random: &mut dyn Random,
    ) -> Result<Action, Failure> {
        self.enter_in(id, input, Context::Visit(visit), random, None)
    }

    /// [`Self::enter`] as TestState runs it: the context object is `context`, given whole, and
    /// the intermediate values of the state's data flow are recorded into `trace`.
    pub fn enter_traced(
        &self,
        id: StateId,
        input: Value,
        context: &Value,
        variables: &Variables,
        random: &mut dyn Random,
        trace: &mut DataFlow,
    ) -> Result<Action, Failure> {
        self.enter_in(
            id,
            input,
            Context::Given(context, variables),
            random,
            Some(trace),
        )
    }

    fn enter_in(
        &self,
        id: StateId,
        input: Value,
        context: Context<'_>,
        random: &mut dyn Random,
        mut trace: Option<&mut DataFlow>,
    ) -> Result<Action, Failure> {
        let state = &self.states[id];
        let ctx = context.for_state(state);
        if state.query_language == QueryLanguage::Jsonata {
            return self.enter_jsonata(state, input, &ctx, context, random, trace);
        }
        let vars = context.variables();
        match &state.kind {
            Kind::Pass(p) => {
                if p.result_path == ResultPath::Replace && state.assign.is_none() {
                    // The raw input is not needed afterwards: move it through.
                    let effective = apply_input_path(&state.input_path, input, &ctx, vars)?;
                    note(&mut trace, |t| t.after_input_path = Some(effective.clone()));
                    let result = match (&p.result, &p.parameters) {
                        (Some(r), _) => r.clone(),
                        (None, Some(t)) => t.eval(&scope(&effective, &ctx, vars), random)?,
                        (None, None) => effective,
                    };
                    note(&mut trace, |t| t.pass_result(p.result.is_some(), &result));
                    note(&mut trace, |t| t.after_result_path = Some(result.clone()));
                    let output = apply_output_path(&state.output_path, result, &ctx, vars)?;
                    return Ok(Action::transition(p.next, output, Assigned::new()));
                }
                // ResultPath merges into the raw input, not the effective one.
                let effective = select_input(&state.input_path, &input, &ctx, vars)?;
                note(&mut trace, |t| {
                    t.after_input_path = Some(effective.as_ref().clone())
                });
                let result = match (&p.result, &p.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(t)) => t.eval(&scope(&effective, &ctx, vars), random)?,
                    (None, None) => effective.into_owned(),
                };
                note(&mut trace, |t| t.pass_result(p.result.is_some(), &result));
                // Assign reads the state's result (`$`), with the variables from before.
                let assign = eval_jsonpath_assign(&state.assign, &result, &ctx, vars, random)?;
                self.finish(
                    state,
                    input,
                    result,
                    &p.result_path,
                    p.next,
                    &ctx,
                    vars,
                    assign,
                    trace,
                )
            }
            Kind::Task(t) => {
                let effective = select_input(&state.input_path, &input, &ctx, vars)?;
                note(&mut trace, |t| {
                    t.after_input_path = Some(effective.as_ref().clone())
                });
                let scope = scope(&effective, &ctx, vars);
                let timeout_seconds = resolve_seconds(&t.timeout, &scope, "TimeoutSecondsPath")?;
                let heartbeat_seconds =
                    resolve_seconds(&t.heartbeat, &scope, "HeartbeatSecondsPath")?;
                let credentials = match &t.credentials {
                    Some(crate::definition::Credentials::JsonPath(c)) => {
                        Some(Box::new(c.eval(&scope, random)?))
                    }
                    _ => None,
                };
                let task_input = match &t.parameters {
                    Some(params) => params.eval(&scope, random)?,
                    None => effective.into_owned(),
                };
                note(&mut trace, |t| {
                    t.after_parameters = Some(task_input.clone())
                });
                Ok(Action::RunTask {
                    call: TaskCall {
                        resource: t.resource.clone(),
                        input: task_input,
                        timeout_seconds,
                        heartbeat_seconds,
                        task_token: None,
                        credentials,
                        invocation: 0,
                    },
                    state_input: input,
                })
            }
            Kind::Choice(c) => {
                let effective = apply_input_path(&state.input_path, input, &ctx, vars)?;
                note(&mut trace, |t| t.after_input_path = Some(effective.clone()));
                let scope = scope(&effective, &ctx, vars);
                let mut target = None;
                for rule in &c.choices {
                    let RuleCondition::JsonPath(condition) = &rule.condition else {
                        continue;
                    };
                    if condition.eval(&scope)? {
                        target = Some((rule.next, &rule.assign));
                        break;
                    }
                }
                // The state's own Assign applies when Default is taken.
                let Some((next, assign)) = target.or_else(|| c.default.map(|d| (d, &state.assign)))
                else {
                    return Err(Failure::new(
                        names::NO_CHOICE_MATCHED,
                        "No Choice Rule matched the state input and the Choice state has no Default",
                    ));
                };
                let assign = eval_jsonpath_assign(assign, &effective, &ctx, vars, random)?;
                let output = apply_output_path(&state.output_path, effective, &ctx, vars)?;
                Ok(Action::Next {
                    state: next,
                    output,
                    assign,
                })
            }
            Kind::Wait(w) => {
                let effective = apply_input_path(&state.input_path, input, &ctx, vars)?;
                note(&mut trace, |t| t.after_input_path = Some(effective.clone()));
                let until = wait_until(&w.until, &scope(&effective, &ctx, vars))?;
                let assign = eval_jsonpath_assign(&state.assign, &effective, &ctx, vars, random)?;
                let output = apply_output_path(&state.output_path, effective, &ctx, vars)?;
                Ok(Action::Wait {
                    until,
                    output,
                    then: w.next,
                    assign,
                })
            }
            Kind::Succeed => {
                let effective = apply_input_path(&state.input_path, input, &ctx, vars)?;
                note(&mut trace, |t| t.after_input_path = Some(effective.clone()));
                let output = apply_output_path(&state.output_path, effective, &ctx, vars)?;
                Ok(Action::Succeed {
                    output,
                    assign: Assigned::new(),
                })
            }
            Kind::Fail(f) => {
                // A Fail state has no InputPath: its paths read the raw input.
                note(&mut trace, |t| t.after_input_path = Some(input.clone()));
                let scope = scope(&input, &ctx, vars);
                let error = resolve_text(&f.error, &scope, "ErrorPath", random)?;
                let cause = resolve_text(&f.cause, &scope, "CausePath", random)?;
                Ok(Action::Fail(Failure {
                    error: error.unwrap_or_default(),
                    cause: cause.unwrap_or_default(),
                }))
            }
            Kind::Parallel(p) => {
                let effective = select_input(&state.input_path, &input, &ctx, vars)?;
                note(&mut trace, |t| {
                    t.after_input_path = Some(effective.as_ref().clone())
                });
                let branch_input = match &p.parameters {
                    Some(params) => params.eval(&scope(&effective, &ctx, vars), random)?,
                    None => effective.into_owned(),
                };
                note(&mut trace, |t| {
                    t.after_parameters = Some(branch_input.clone())
                });
                Ok(Action::Parallel {
                    input: branch_input,
                    state_input: input,
                })
            }
            Kind::Map(m) => {
                let effective = select_input(&state.input_path, &input, &ctx, vars)?;
                note(&mut trace, |t| {
                    t.after_input_path = Some(effective.as_ref().clone())
                });
                let items = self.map_items(state, m, &effective, context, random, &mut trace)?;
                let scope = scope(&effective, &ctx, vars);
                let max_concurrency =
                    resolve_count(&m.max_concurrency, &scope, "MaxConcurrencyPath")?.unwrap_or(0);
                let tolerance = Tolerance {
                    count: resolve_count(
                        &m.tolerated_failure_count,
                        &scope,
                        "ToleratedFailureCountPath",
                    )?,
                    percentage: resolve_percentage(&m.tolerated_failure_percentage, &scope)?,
                };
                let eval = items::Eval::JsonPath(scope);
                let reader = match &m.item_reader {
                    Some(r) => Some(Box::new(items::read_request(r, eval, random)?)),
                    None => None,
                };
                let writer = match &m.result_writer {
                    Some(w) => Some(Box::new(items::write_request(w, eval, random)?)),
                    None => None,
                };
                Ok(Action::Map {
                    items,
                    max_concurrency,
                    tolerance,
                    state_input: input,
                    reader,
                    writer,
                })
            }
        }
    }

    /// The inputs of a Map state's iterations: ItemsPath, then ItemSelector per item with
    /// `$$.Map.Item.Index` and `$$.Map.Item.Value` set, then ItemBatcher. None yet for a Map
    /// with an ItemReader (which replaces ItemsPath, as recorded on AWS): its items are read
    /// first.
    fn map_items(
        &self,
        state: &State,
        m: &MapState,
        effective: &Value,
        context: Context<'_>,
        random: &mut dyn Random,
        trace: &mut Option<&mut DataFlow>,
    ) -> Result<Vec<Value>, Failure> {
        if m.item_reader.is_some() {
            return Ok(Vec::new());
        }
        let ctx = context.object(state, None);
        let vars = context.variables();
        let items = match &m.items_path {
            None => Cow::Borrowed(effective),
            Some(p) => select_or_fail(p, &scope(effective, &ctx, vars))?,
        };
        let Value::Array(items) = items.as_ref() else {
            return Err(Failure::runtime(format!(
                "Map state input must be an array but was: {items}"
            )));
        };
        note(trace, |t| {
            t.after_items_path = Some(Value::Array(items.clone()))
        });
        self.children(state, m, effective, items.clone(), context, random, trace)
    }

    /// A Task state's task returned `result`: apply ResultSelector, ResultPath and OutputPath
    /// to `state_input` and transition.
    pub fn task_succeeded(
        &self,
        id: StateId,
        state_input: Value,
        result: Value,
        visit: &Visit<'_>,
        random: &mut dyn Random,
    ) -> Result<Action, Failure> {
        self.task_succeeded_in(id, state_input, result, Context::Visit(visit), random, None)
    }

    /// [`Self::task_succeeded`] as TestState runs it (see [`Self::enter_traced`]); also takes a
    /// Parallel's branch outputs or a Map's iteration results as `result`.
    #[allow(clippy::too_many_arguments)] // task_succeeded's, plus what TestState gives
    pub fn task_succeeded_traced(
        &self,
        id: StateId,
        state_input: Value,
        result: Value,
        context: &Value,
        variables: &Variables,
        random: &mut dyn Random,
        trace: &mut DataFlow,
    ) -> Result<Action, Failure> {
        self.task_succeeded_in(
            id,
            state_input,
            result,
            Context::Given(context, variables),
            random,
            Some(trace),
        )
    }

    fn task_succeeded_in(
        &self,
        id: StateId,
        state_input: Value,
        result: Value,
        context: Context<'_>,
        random: &mut dyn Random,
        mut trace: Option<&mut DataFlow>,
    ) -> Result<Action, Failure> {
        let state = &self.states[id];
        let ctx = context.for_state(state);
        if state.query_language == QueryLanguage::Jsonata {
            return self.succeeded_jsonata(
                state,
                state_input,
                result,
                &ctx,
                context,
                random,
                trace,
            );
        }
        let vars = context.variables();
        let (selector, result_path, next) = match &state.kind {
            Kind::Task(t) => (&t.result_selector, &t.result_path, t.next),
            Kind::Parallel(p) => (&p.result_selector, &p.result_path, p.next),
            Kind::Map(m) => (&m.result_selector, &m.result_path, m.next),
            _ => return Err(runs_no_task(state)),
        };
        note(&mut trace, |t| t.result = Some(result.clone()));
        let result = match selector {
            Some(t) => t.eval(&scope(&result, &ctx, vars), random)?,
            None => result,
        };
        note(&mut trace, |t| {
            t.after_result_selector = Some(result.clone())
        });
        // Assign reads the result after ResultSelector (`$`), with the variables from before.
        let assign = eval_jsonpath_assign(&state.assign, &result, &ctx, vars, random)?;
        self.finish(
            state,
            state_input,
            result,
            result_path,
            next,
            &ctx,
            vars,
            assign,
            trace,
        )
    }

    /// Every branch of Parallel state `id` succeeded; `outputs` in branch order.
    pub fn branches_succeeded(
        &self,
        id: StateId,
        state_input: Value,
        outputs: Vec<Value>,
        visit: &Visit<'_>,
        random: &mut dyn Random,
    ) -> Result<Action, Failure> {
        self.task_succeeded(id, state_input, Value::Array(outputs), visit, random)
    }

    /// Every iteration of Map state `id` ended; `results` in item order. Fails with the first
    /// iteration's error unless the (distributed) failure tolerance allows it.
    pub fn map_finished(
        &self,
        id: StateId,
        state_input: Value,
        results: Vec<Result<Value, Failure>>,
        tolerance: Tolerance,
        visit: &Visit<'_>,
        random: &mut dyn Random,
    ) -> Result<Action, Failure> {
        self.map_tolerance(id, &results, tolerance)?;
        let outputs = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|f| json!({ "Error": f.error, "Cause": f.cause })))
            .collect();
        self.task_succeeded(id, state_input, Value::Array(outputs), visit, random)
    }

    /// Whether the failed iterations among `results` fail Map state `id`: any does in an inline
    /// Map (with the first one's error); a distributed Map fails over its tolerance.
    pub fn map_tolerance(
        &self,
        id: StateId,
        results: &[Result<Value, Failure>],
        tolerance: Tolerance,
    ) -> Result<(), Failure> {
        let total = results.len();
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed == 0 {
            return Ok(());
        }
        let distributed =
            matches!(&self.states[id].kind, Kind::Map(m) if m.mode == ProcessorMode::Distributed);
        let tolerated = distributed
            && (tolerance.count.is_some_and(|c| failed as u64 <= c)
                || tolerance
                    .percentage
                    .is_some_and(|p| (failed as f64) * 100.0 <= p * total as f64));
        if tolerated {
            return Ok(());
        }
        if distributed {
            return Err(Failure::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            ));
        }
        Err(results
            .iter()
            .find_map(|r| r.as_ref().err().cloned())
            .unwrap_or_else(|| Failure::runtime("a Map iteration failed without an error")))
    }

    /// State `id` failed with `failure`: retry it, catch it, or let it fail the machine.
    /// `States.Runtime` is never retried or caught (AWS: "A retry or catch on States.ALL won't
    /// catch States.Runtime errors").
    pub fn recover(
        &self,
        id: StateId,
        state_input: Value,
        failure: Failure,
        retries: &mut RetryState,
        random: &mut dyn Random,
    ) -> Recovery {
        let none = Variables::default();
        let catcher = CatcherScope {
            context: &Value::Null,
            variables: &none,
            now_ms: 0,
        };
        self.recover_as(id, state_input, failure, None, retries, &catcher, random)
    }

    /// [`Self::recover`] for a failure that Retry and Catch also match under the error name
    /// `alias`: a task whose heartbeat timed out fails with `States.Timeout`, which
    /// `States.HeartbeatTimeout` matches too.
    #[allow(clippy::too_many_arguments)] // recover's, plus the alias and the catcher's scope
    pub fn recover_as(
        &self,
        id: StateId,
        state_input: Value,
        failure: Failure,
        alias: Option<&str>,
        retries: &mut RetryState,
        catcher: &CatcherScope<'_>,
        random: &mut dyn Random,
    ) -> Recovery {
        let (retry, catch) = self.handlers(id);
        if failure.error == names::RUNTIME {
            return Recovery::Fail(failure);
        }
        if retries.attempts.len() < retry.len() {
            retries.attempts.resize(retry.len(), 0);
        }
        let matches = |error_equals: &[String]| {
            error_matches(error_equals, &failure.error)
                || alias.is_some_and(|a| error_matches(error_equals, a))
        };
        // The first retrier whose ErrorEquals matches decides; if its attempts are used up the
        // error goes on to the catchers.
        if let Some(i) = retry.iter().position(|r| matches(&r.error_equals)) {
            let r = &retry[i];
            let done = retries.attempts[i];
            if done < r.max_attempts {
                retries.attempts[i] += 1;
                return Recovery::Retry {
                    delay_seconds: retry_delay(r, done, random),
                };
            }
        }
        if let Some(c) = catch.iter().find(|c| matches(&c.error_equals)) {
            let error_output = json!({ "Error": failure.error, "Cause": failure.cause });
            let state = &self.states[id];
            return match self.caught(state, c, state_input, error_output, catcher, random) {
                Ok((output, assign)) => Recovery::Catch {
                    state: c.next,
                    output,
                    assign,
                },
                Err(f) => Recovery::Fail(f),
            };
        }
        Recovery::Fail(failure)
    }

    /// A catcher's output and assignments: JSONPath places the error output with ResultPath
    /// and Assign reads it as `$`; JSONata reads it as `$states.errorOutput` and outputs it
    /// unless the catcher has an Output.
    fn caught(
        &self,
        state: &State,
        c: &Catcher,
        state_input: Value,
        error_output: Value,
        catcher: &CatcherScope<'_>,
        random: &mut dyn Random,
    ) -> Result<(Value, Assigned), Failure> {
        let vars = catcher.variables;
        if state.query_language == QueryLanguage::Jsonata {
            let env = query::Env {
                input: &state_input,
                context: catcher.context,
                result: None,
                error_output: Some(&error_output),
                variables: vars,
                now_ms: catcher.now_ms,
                seed: random.next_u64(),
            };
            let assign = jsonata::eval_assign(&c.assign, &env, vars)?;
            let output = match &c.output {
                Some(t) => t.eval(&env, "Output")?,
                None => error_output,
            };
            return Ok((output, assign));
        }
        let assign = eval_jsonpath_assign(&c.assign, &error_output, catcher.context, vars, random)?;
        let output = apply_result_path(&c.result_path, state_input, error_output)?;
        Ok((output, assign))
    }

    /// The Retry and Catch fields of state `id` (empty for states that have none).
    fn handlers(&self, id: StateId) -> (&[Retrier], &[Catcher]) {
        match &self.states[id].kind {
            Kind::Task(t) => (&t.retry, &t.catch),
            Kind::Parallel(p) => (&p.retry, &p.catch),
            Kind::Map(m) => (&m.retry, &m.catch),
            _ => (&[], &[]),
        }
    }

    /// The index of the retrier of state `id` that decides on `error` in [`Self::recover`]: the
    /// first whose `ErrorEquals` matches (`None` for `States.Runtime`, never retried).
    pub fn retrier_for(&self, id: StateId, error: &str) -> Option<usize> {
        if error == names::RUNTIME {
            return None;
        }
        self.handlers(id)
            .0
            .iter()
            .position(|r| error_matches(&r.error_equals, error))
    }

    /// The index of the catcher of state `id` that catches `error` in [`Self::recover`] once no
    /// retry is left: the first whose `ErrorEquals` matches (`None` for `States.Runtime`).
    pub fn catcher_for(&self, id: StateId, error: &str) -> Option<usize> {
        if error == names::RUNTIME {
            return None;
        }
        self.handlers(id)
            .1
            .iter()
            .position(|c| error_matches(&c.error_equals, error))
    }

    /// ResultPath then OutputPath, then the transition.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        state: &State,
        state_input: Value,
        result: Value,
        result_path: &ResultPath,
        next: Transition,
        ctx: &Value,
        vars: &Variables,
        assign: Assigned,
        mut trace: Option<&mut DataFlow>,
    ) -> Result<Action, Failure> {
        let merged = apply_result_path(result_path, state_input, result)?;
        note(&mut trace, |t| t.after_result_path = Some(merged.clone()));
        let output = apply_output_path(&state.output_path, merged, ctx, vars)?;
        Ok(Action::transition(next, output, assign))
    }
}

/// Whether a retrier's or catcher's `ErrorEquals` matches `error`. `States.ALL` matches every
/// error but `States.Runtime`; `States.TaskFailed` every error but `States.Timeout`.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| {
        e == error
            || (e == names::ALL && error != names::RUNTIME && error != names::DATA_LIMIT_EXCEEDED)
            || (e == names::TASK_FAILED
                && error != names::TIMEOUT
                && error != names::RUNTIME
                && error != names::HEARTBEAT_TIMEOUT)
    })
}

/// `IntervalSeconds × BackoffRate^attempt`, capped by `MaxDelaySeconds`, then FULL jitter draws
/// uniformly from `[0, delay]`.
pub fn retry_delay(r: &Retrier, attempt: u64, random: &mut dyn Random) -> f64 {
    let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut delay = r.interval_seconds as f64 * r.backoff_rate.powi(exponent);
    if let Some(max) = r.max_delay_seconds {
        delay = delay.min(max as f64);
    }
    if !delay.is_finite() {
        delay = r.max_delay_seconds.map_or(f64::MAX, |m| m as f64);
    }
    match r.jitter {
        crate::definition::Jitter::None => delay,
        crate::definition::Jitter::Full => delay * random.next_f64(),
    }
}

/// A task outcome delivered to a state that runs none (a caller's mistake).
fn runs_no_task(state: &State) -> Failure {
    Failure::runtime(format!(
        "state '{}' is a {} state and runs no task",
        state.name,
        state.kind.type_name()
    ))
}

/// What a catcher's Assign and Output read besides the error output: the context object and
/// the variables from before the state.
#[derive(Clone, Copy)]
pub struct CatcherScope<'a> {
    pub context: &'a Value,
    pub variables: &'a Variables,
    pub now_ms: i64,
}

/// The scope paths read: `$`, `$$` and the variables.
fn scope<'v>(input: &'v Value, ctx: &'v Value, vars: &'v Variables) -> Scope<'v> {
    Scope::new(input, ctx).with_variables(vars)
}

/// A JSONPath state's Assign: paths and intrinsics read `dollar` as `$`.
fn eval_jsonpath_assign(
    assign: &Option<Assign>,
    dollar: &Value,
    ctx: &Value,
    vars: &Variables,
    random: &mut dyn Random,
) -> Result<Assigned, Failure> {
    let Some(Assign::JsonPath(template)) = assign else {
        return Ok(Assigned::new());
    };
    let assigned = match template.eval(&scope(dollar, ctx, vars), random)? {
        Value::Object(map) => map,
        _ => Assigned::new(),
    };
    vars.check(&assigned)?;
    Ok(assigned)
}

fn select_or_fail<'v>(p: &Path, scope: &Scope<'v>) -> Result<Cow<'v, Value>, Failure> {
    p.select_result(scope).map_err(Failure::from)
}

/// InputPath, borrowing when the whole input is selected (states that must keep their raw
/// input for ResultPath).
fn select_input<'v>(
    input_path: &DataPath,
    input: &'v Value,
    ctx: &'v Value,
    vars: &'v Variables,
) -> Result<Cow<'v, Value>, Failure> {
    match input_path {
        DataPath::Whole => Ok(Cow::Borrowed(input)),
        DataPath::Discard => Ok(Cow::Owned(Value::Object(Map::new()))),
        DataPath::Path(p) => select_or_fail(p, &scope(input, ctx, vars)),
    }
}

/// InputPath on an owned input (moves it when the whole input is selected).
fn apply_input_path(
    input_path: &DataPath,
    input: Value,
    ctx: &Value,
    vars: &Variables,
) -> Result<Value, Failure> {
    match input_path {
        DataPath::Whole => Ok(input),
        _ => select_input(input_path, &input, ctx, vars).map(Cow::into_owned),
    }
}

fn apply_output_path(
    output_path: &DataPath,
    value: Value,
    ctx: &Value,
    vars: &Variables,
) -> Result<Value, Failure> {
    match output_path {
        DataPath::Whole => Ok(value),
        DataPath::Discard => Ok(Value::Object(Map::new())),
        DataPath::Path(p) => select_or_fail(p, &scope(&value, ctx, vars)).map(Cow::into_owned),
    }
}

/// Applies ResultPath: the result replaces, is discarded, or is placed into the input.
pub fn apply_result_path(
    result_path: &ResultPath,
    state_input: Value,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(state_input),
        ResultPath::Path(p) => path::set(state_input, p, result),
    }
}

fn resolve_seconds(
    seconds: &Option<Seconds>,
    scope: &Scope<'_>,
    field: &str,
) -> Result<Option<u64>, Failure> {
    match seconds {
        None => Ok(None),
        Some(Seconds::Fixed(n)) => Ok(Some(*n)),
        Some(Seconds::Expr(_)) => Err(jsonata_in_jsonpath(field)),
        Some(Seconds::Path(p)) => {
            let v = select_or_fail(p, scope)?;
            match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(Failure::runtime(format!(
                    "The {field} field refers to value \"{}\" which is not a valid positive \
                     integer: {}",
                    shown(&v),
                    p.text()
                ))),
            }
        }
    }
}

fn resolve_count(
    count: &Option<Seconds>,
    scope: &Scope<'_>,
    field: &str,
) -> Result<Option<u64>, Failure> {
    match count {
        None => Ok(None),
        Some(Seconds::Fixed(n)) => Ok(Some(*n)),
        Some(Seconds::Expr(_)) => Err(jsonata_in_jsonpath(field)),
        Some(Seconds::Path(p)) => {
            let v = select_or_fail(p, scope)?;
            // AWS takes a number or a string holding one (`"1"`, e.g. from a variable).
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse::<i64>().ok()));
            match n {
                Some(n) if n >= 0 => Ok(Some(n as u64)),
                Some(_) if field == "ToleratedFailureCountPath" => Err(Failure::runtime(
                    "ToleratedFailureCount cannot be negative.",
                )),
                _ => Err(Failure::runtime(format!(
                    "The {field} field refers to value \"{}\" which is not a valid integer: {}",
                    shown(&v),
                    p.text()
                ))),
            }
        }
    }
}

/// A value as AWS quotes it in a cause: strings without their JSON quotes, anything else as
/// JSON (`"NoNumber"` shows as `NoNumber`, `{}` as `{}`).
fn shown(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

fn resolve_percentage(
    percentage: &Option<Percentage>,
    scope: &Scope<'_>,
) -> Result<Option<f64>, Failure> {
    match percentage {
        None => Ok(None),
        Some(Percentage::Fixed(p)) => Ok(Some(*p)),
        Some(Percentage::Expr(_)) => Err(jsonata_in_jsonpath("ToleratedFailurePercentage")),
        Some(Percentage::Path(path)) => {
            let v = select_or_fail(path, scope)?;
            let p = v.as_f64().or_else(|| {
                v.as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|p| p.is_finite())
            });
            match p {
                Some(p) if (0.0..=100.0).contains(&p) => Ok(Some(p)),
                Some(_) => Err(Failure::runtime(
                    "ToleratedFailurePercentage must be between 0 and 100.",
                )),
                None => Err(Failure::runtime(format!(
                    "The ToleratedFailurePercentagePath field refers to value \"{}\" which is \
                     not a valid float: {}",
                    shown(&v),
                    path.text()
                ))),
            }
        }
    }
}

fn resolve_text(
    text: &Option<Text>,
    scope: &Scope<'_>,
    field: &str,
    random: &mut dyn Random,
) -> Result<Option<String>, Failure> {
    let value = match text {
        None => return Ok(None),
        Some(Text::Literal(s)) => return Ok(Some(s.clone())),
        Some(Text::Path(p)) => p.select(scope).map(Cow::into_owned).ok_or_else(|| {
            Failure::runtime(format!(
                "The JSONPath '{}' specified for the field '{field}' could not be found in the \
                 input '{}'",
                p.text(),
                scope.input
            ))
        })?,
        Some(Text::Intrinsic(call)) => call.eval(scope, random)?,
        Some(Text::Expr(_)) => return Err(jsonata_in_jsonpath(field)),
    };
    Ok(Some(match value {
        Value::String(s) => s,
        other => other.to_string(),
    }))
}

/// The definition parser only reads expressions in JSONata states.
fn jsonata_in_jsonpath(field: &str) -> Failure {
    Failure::runtime(format!(
        "the field '{field}' holds a JSONata expression in a JSONPath state"
    ))
}

fn wait_until(wait: &WaitFor, scope: &Scope<'_>) -> Result<WaitUntil, Failure> {
    match wait {
        WaitFor::SecondsExpr(_) | WaitFor::TimestampExpr(_) => Err(jsonata_in_jsonpath("Seconds")),
        WaitFor::Seconds(n) => Ok(WaitUntil::Seconds(*n)),
        WaitFor::Timestamp(ts) => timestamp::parse(ts)
            .map(WaitUntil::Timestamp)
            .ok_or_else(|| {
                Failure::runtime(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time \
                 format string: {ts}"
                ))
            }),
        WaitFor::SecondsPath(p) => {
            let Some(v) = p.select(scope) else {
                return Err(Failure::runtime(format!(
                    "The SecondsPath parameter does not reference an input value: {}",
                    p.text()
                )));
            };
            if let Some(n) = v.as_u64() {
                return Ok(WaitUntil::Seconds(n));
            }
            let cause = if v.as_i64().is_some_and(|n| n < 0) {
                "references a negative value"
            } else {
                "cannot be parsed as a long value"
            };
            Err(Failure::runtime(format!(
                "The SecondsPath parameter {cause}: {} == {v}",
                p.text()
            )))
        }
        WaitFor::TimestampPath(p) => {
            let v = p.select(scope).ok_or_else(|| {
                Failure::runtime(format!(
                    "The TimestampPath parameter does not reference an input value: {}",
                    p.text()
                ))
            })?;
            v.as_str()
                .and_then(timestamp::parse)
                .map(WaitUntil::Timestamp)
                .ok_or_else(|| {
                    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended \
                     offset date-time format string: {} == {shown}",
                        p.text()
                    ))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_delays_over_the_32_bit_limit_fail_as_on_aws() {
        let now: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let at = |s: &str| WaitUntil::Timestamp(DateTime::parse_from_rfc3339(s).unwrap());
        // Recorded on AWS: 24855 days ahead is accepted, 24856 days is "too long".
        assert!(at("2094-12-11T00:00:00Z").due(now).is_ok());
        let failure = at("2094-12-12T00:00:00Z").due(now).unwrap_err();
        assert_eq!(failure, Failure::runtime("Wait state delay is too long."));
        assert_eq!(
            at("2020-01-01T00:00:00Z").due(now).unwrap(),
            "2020-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            "a past timestamp is due at once"
        );
        let max = MAX_WAIT_SECONDS as u64;
        assert!(WaitUntil::Seconds(max).due(now).is_ok());
        // Also no panic for seconds chrono cannot represent.
        for s in [max + 1, i64::MAX as u64, u64::MAX] {
            assert!(WaitUntil::Seconds(s).due(now).is_err(), "{s}");
        }
    }

    #[test]
    fn only_states_that_can_retry_have_a_retry_count() {
        let machine = StateMachine::parse(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}
        }}))
        .unwrap();
        let execution = Execution::default();
        let variables = Variables::default();
        let visit = Visit {
            execution: &execution,
            entered_time: "2026-11-23T00:00:00.000Z",
            retry_count: 2,
            task_token: None,
            variables: &variables,
            now_ms: 0,
        };
        let pass = visit.context_object(machine.state(machine.state_id("P").unwrap()), None);
        assert_eq!(
            pass["State"],
            json!({"Name": "P", "EnteredTime": "2026-11-23T00:00:00.000Z"})
        );
        let task = visit.context_object(machine.state(machine.state_id("T").unwrap()), None);
        assert_eq!(task["State"]["RetryCount"], 2);
        let keys: Vec<&str> = task["State"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["Name", "EnteredTime", "RetryCount"], "AWS's order");
    }
}
