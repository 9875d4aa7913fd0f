//! TestState: run exactly one state, as the Step Functions `TestState` API does.
//!
//! The definition is either one state's JSON (tested under AWS's name for it, `StateName`) or a
//! whole machine with the name of the state to test (found in branches and item processors
//! too). The state runs once through the step core ([`StateMachine::enter_traced`] and
//! [`StateMachine::task_succeeded_traced`], which record the data flow's intermediate values),
//! and the outcome is what AWS reports:
//!
//! - `SUCCEEDED` with the output and the next state (none after `End`, Succeed);
//! - `FAILED` with the error and cause (a Fail state, or an error nothing handles);
//! - `RETRIABLE` when a retrier would run the state again (its `MaxAttempts` not used up by
//!   `retrierRetryCount`); nothing is waited for;
//! - `CAUGHT_ERROR` when a catcher takes the error: its output and its `Next`.
//!
//! A Wait state is evaluated (its `SecondsPath`/`TimestampPath` must resolve) but not waited
//! for. Tasks, Parallel and Map states do not run their work: Sluice calls no AWS service, so a
//! Task is tested with a mock (as on AWS, the only way to test a Parallel or Map state, and a
//! Task without an IAM role); the mock's `result` is the task's result (for a plain Lambda
//! function ARN, an Invoke response's `Payload`, as the mock configuration has it), the branch
//! outputs in order, or the Map's iteration results; its `errorOutput` is the error the state
//! raises.
//!
//! Request-level problems are [`Rejection`]s with AWS's error names and messages (recorded
//! against AWS where the message is AWS's; Sluice's own otherwise, each saying so).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::definition::{Kind, State, StateId, StateMachine};
use crate::mock::MockedResponse;
use crate::step::{
    Action, Assigned, CatcherScope, DataFlow, Execution, Recovery, RetryState, Tolerance, Visit,
};
use crate::validate::validate;
use crate::{Failure, Random, SplitMix64, Variables, names};

/// The name AWS gives a state tested on its own (its context object's `State.Name`, and the
/// diagnostics' `/States/StateName/...`).
pub const SINGLE_STATE_NAME: &str = "StateName";

/// AWS's message when a Map or Parallel state comes without a mock (an `InvalidDefinition`).
pub const MAP_OR_PARALLEL_WITHOUT_MOCK: &str = "TestState API does not support Map or Parallel \
     states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]";

/// How much TestState reports. `TRACE` adds HTTP Task requests and responses on AWS, which
/// Sluice does not make: here it is `DEBUG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InspectionLevel {
    #[default]
    Info,
    Debug,
    Trace,
}

/// The `mock` of a request: `result` is JSON text, validated here as AWS does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mock {
    pub result: Option<String>,
    pub error_output: Option<MockError>,
}

/// A mock's `errorOutput`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockError {
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The request's `stateConfiguration`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    /// Retries already made by the retrier that handles the mocked error.
    pub retrier_retry_count: Option<u64>,
    /// How many of a Map's iterations failed (checked against its failure tolerance).
    pub map_iteration_failure_count: Option<u64>,
    /// The state in a Map's or Parallel's children that raised the mocked error (accepted; it
    /// changes nothing TestState reports).
    pub error_caused_by_state: Option<String>,
    /// The data a distributed Map's ItemReader would read (not supported yet).
    pub map_item_reader_data: Option<String>,
}

/// One TestState request.
#[derive(Debug, Clone)]
pub struct TestStateRequest<'a> {
    /// One state's definition, or a whole machine's when `state_name` is given.
    pub definition: &'a str,
    pub state_name: Option<&'a str>,
    pub input: Value,
    pub inspection_level: InspectionLevel,
    pub reveal_secrets: bool,
    pub role_arn: Option<&'a str>,
    /// JSON text of an object: the workflow variables.
    pub variables: Option<&'a str>,
    /// JSON text: the whole context object `$$` (only with a mock).
    pub context: Option<&'a str>,
    pub mock: Option<Mock>,
    pub configuration: Configuration,
    /// What the default context object (no `context` given) says of the execution and the
    /// state machine; its `input` is replaced by the request's.
    pub execution: Execution,
    /// `$$.State.EnteredTime` of the default context object.
    pub entered_time: &'a str,
    /// Entropy for intrinsics, retry jitter and task tokens.
    pub seed: u64,
}

/// The status TestState reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    Retriable,
    CaughtError,
}

impl Status {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Retriable => "RETRIABLE",
            Status::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// What TestState answers.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateResult {
    pub status: Status,
    pub output: Option<Value>,
    pub error: Option<Failure>,
    pub next_state: Option<String>,
    /// At `DEBUG` and `TRACE` only.
    pub inspection: Option<Inspection>,
}

/// `inspectionData`: the fields AWS shows for the tested state's type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspection {
    pub input: Option<Value>,
    pub after_input_path: Option<Value>,
    pub after_parameters: Option<Value>,
    /// A JSONata Task's or Parallel's input after `Arguments`.
    pub after_arguments: Option<Value>,
    pub result: Option<Value>,
    pub after_result_selector: Option<Value>,
    pub after_result_path: Option<Value>,
    pub after_items_path: Option<Value>,
    pub after_item_selector: Option<Value>,
    pub max_concurrency: Option<u64>,
    pub tolerated_failure_count: Option<u64>,
    pub tolerated_failure_percentage: Option<f64>,
    /// The variables after the state: those given, with what the state assigned.
    pub variables: Option<Value>,
    pub error_details: Option<ErrorDetails>,
}

/// `inspectionData.errorDetails`: which retrier or catcher handled the error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    pub retry_index: Option<usize>,
    pub retry_backoff_interval_seconds: Option<u64>,
    pub catch_index: Option<usize>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// `InvalidDefinition`, `Invalid State Machine Definition: '<detail>'`: the diagnostics,
    /// each as `CODE: message at /pointer`, joined by `, `.
    InvalidDefinition(String),
    /// `InvalidDefinition` with exactly this message.
    UnsupportedState(String),
    /// `ValidationException` with this message.
    Validation(String),
}

fn validation(message: impl Into<String>) -> Rejection {
    Rejection::Validation(message.into())
}

/// What a mock makes the state's work do.
enum Mocked {
    Result(Value),
    Error(Failure),
}

/// Runs the request's state once. See the module documentation.
pub fn test_state(request: &TestStateRequest<'_>) -> Result<TestStateResult, Rejection> {
    let machine = parse(request.definition, request.state_name.is_some())?;
    let name = request.state_name.unwrap_or(SINGLE_STATE_NAME);
    let (m, id) =
        find(&machine, name).ok_or_else(|| validation("State not found in definition"))?;
    let state = m.state(id);
    let mocked = check_mock(request, state)?;
    let mut random = SplitMix64(request.seed);
    let context = context_object(request, state, mocked.is_some(), &mut random)?;
    if let Kind::Task(t) = &state.kind
        && mocked.is_none()
    {
        return Err(match request.role_arn {
            None => validation("RoleArn must be specified when testing a Task state"),
            Some(_) => validation(format!(
                "Sluice calls no AWS service: test the Task state '{}' (resource {}) with a \
                 mock (mock.result or mock.errorOutput)",
                state.name, t.resource
            )),
        });
    }
    let variables = variables(request.variables)?;
    if request.configuration.map_item_reader_data.is_some() {
        return Err(validation(
            "Sluice's TestState does not support stateConfiguration.mapItemReaderData yet",
        ));
    }

    let given = Variables::from_map(variables.clone().unwrap_or_default());
    let mut run = Run {
        machine: m,
        id,
        context: &context,
        variables: &given,
        assigned: Assigned::new(),
        random: &mut random,
        trace: DataFlow::default(),
        retries_done: request.configuration.retrier_retry_count.unwrap_or(0),
        details: ErrorDetails::default(),
        map: None,
    };
    let outcome = run.run(request.input.clone(), mocked, &request.configuration);
    let inspection = match request.inspection_level {
        InspectionLevel::Info => None,
        InspectionLevel::Debug | InspectionLevel::Trace => {
            Some(run.inspection(state, request.input.clone(), variables))
        }
    };
    Ok(TestStateResult {
        inspection,
        ..outcome
    })
}

/// The machine to test in: the definition itself, or one state wrapped as AWS does, under the
/// name `StateName`, its transition targets standing in as Succeed states.
fn parse(definition: &str, whole: bool) -> Result<StateMachine, Rejection> {
    let text = if whole {
        Cow::Borrowed(definition)
    } else {
        match crate::source::parse_json(definition) {
            Ok(state) => Cow::Owned(wrap(definition, &state)),
            // The JSON syntax error, as for any definition.
            Err(_) => Cow::Borrowed(definition),
        }
    };
    let validation = validate(&text);
    if let Some(machine) = validation.machine {
        return Ok(machine);
    }
    Err(Rejection::InvalidDefinition(validation.errors()))
}

/// `{"StartAt": "StateName", "States": {"StateName": <text>, "<target>": {"Type": "Succeed"}...}}`
/// with the state's text as written, so that duplicate keys are still found and every
/// diagnostic points into `/States/StateName`.
fn wrap(text: &str, state: &Value) -> String {
    fn add<'v>(targets: &mut Vec<&'v str>, v: Option<&'v Value>) {
        if let Some(name) = v.and_then(Value::as_str)
            && name != SINGLE_STATE_NAME
            && !targets.contains(&name)
        {
            targets.push(name);
        }
    }
    let mut targets = Vec::new();
    add(&mut targets, state.get("Next"));
    add(&mut targets, state.get("Default"));
    for list in ["Choices", "Catch"] {
        for rule in state
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add(&mut targets, rule.get("Next"));
        }
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut wrapped = format!(
        "{{\"StartAt\":{name},\"States\":{{{name}:{text}",
        name = quote(SINGLE_STATE_NAME)
    );
    for t in targets {
        wrapped.push_str(&format!(",{}:{{\"Type\":\"Succeed\"}}", quote(t)));
    }
    wrapped.push_str("}}");
    wrapped
}

/// The state called `name` and the (sub-)machine it belongs to: the top level first, then
/// every Parallel branch and Map item processor.
fn find<'m>(m: &'m StateMachine, name: &str) -> Option<(&'m StateMachine, StateId)> {
    if let Some(id) = m.state_id(name) {
        return Some((m, id));
    }
    m.states.iter().find_map(|s| match &s.kind {
        Kind::Parallel(p) => p.branches.iter().find_map(|b| find(b, name)),
        Kind::Map(map) => find(&map.processor, name),
        _ => None,
    })
}

/// AWS's checks of the mock against the state, in AWS's order.
fn check_mock(request: &TestStateRequest<'_>, state: &State) -> Result<Option<Mocked>, Rejection> {
    let failures = request.configuration.map_iteration_failure_count;
    let Some(mock) = &request.mock else {
        if failures.is_some() {
            return Err(validation(
                "TestState does not support MapIterationFailureCount when a mock is not \
                 specified.",
            ));
        }
        if matches!(state.kind, Kind::Map(_) | Kind::Parallel(_)) {
            return Err(Rejection::UnsupportedState(
                MAP_OR_PARALLEL_WITHOUT_MOCK.to_string(),
            ));
        }
        return Ok(None);
    };
    if !matches!(state.kind, Kind::Task(_) | Kind::Map(_) | Kind::Parallel(_)) {
        return Err(validation(format!(
            "State type '{}' is not supported when a mock is specified",
            state.kind.type_name()
        )));
    }
    if request.reveal_secrets {
        return Err(validation(
            "TestState does not support RevealSecrets when a mock is specified.",
        ));
    }
    let text = match (&mock.result, &mock.error_output) {
        (Some(_), Some(_)) => {
            return Err(validation(
                "A test mock should have only one of the following fields: [result, errorOutput].",
            ));
        }
        (None, None) => {
            return Err(validation(
                "A test mock should have one of the following fields: [result, errorOutput].",
            ));
        }
        (None, Some(e)) => {
            return Ok(Some(Mocked::Error(Failure::new(
                e.error.clone().unwrap_or_default(),
                e.cause.clone().unwrap_or_default(),
            ))));
        }
        (Some(text), None) => text,
    };
    let result: Value =
        crate::json::parse(text).map_err(|_| validation("Mocked result must be valid JSON"))?;
    match &state.kind {
        Kind::Map(m) if m.result_writer.is_some() && !result.is_object() => {
            return Err(validation("Mocked result must be a JSON object."));
        }
        Kind::Map(m) if m.result_writer.is_none() && !result.is_array() => {
            return Err(validation("Mocked result must be an array."));
        }
        Kind::Parallel(_) if !result.is_array() => {
            return Err(validation("Mocked result must be an array."));
        }
        Kind::Parallel(p) if result.as_array().map(Vec::len) != Some(p.branches.len()) => {
            return Err(validation(
                "Mocked result must contain the same number of items as number of Parallel \
                 branches.",
            ));
        }
        _ => {}
    }
    if let (Some(failed), Some(items)) = (failures, result.as_array())
        && failed > items.len() as u64
    {
        return Err(validation(
            "Map iteration failure count must be less than or equal to the number of Map \
             iterations",
        ));
    }
    Ok(Some(Mocked::Result(result)))
}

/// Whether a Task is of the `.sync` or `.waitForTaskToken` integration patterns.
fn is_sync_or_token(state: &State) -> bool {
    matches!(&state.kind, Kind::Task(t)
        if t.resource.ends_with(".sync")
            || t.resource.contains(".sync:")
            || t.resource.ends_with(".waitForTaskToken"))
}

/// `$$`: the request's, validated, or the default one AWS builds for a test.
fn context_object(
    request: &TestStateRequest<'_>,
    state: &State,
    mocked: bool,
    random: &mut dyn Random,
) -> Result<Value, Rejection> {
    if let Some(text) = request.context {
        if !mocked {
            return Err(validation(
                "TestState does not support Context when a mock is not specified.",
            ));
        }
        let invalid = |why: String| validation(format!("Invalid Context object provided: {why}"));
        let context: Value = crate::json::parse(text).map_err(|e| invalid(e.to_string()))?;
        check_context(&context, state).map_err(invalid)?;
        return Ok(context);
    }
    let execution = Execution {
        input: request.input.clone(),
        ..request.execution.clone()
    };
    let token = (matches!(&state.kind, Kind::Task(t) if t.resource.ends_with(".waitForTaskToken")))
        .then(|| format!("{:016x}{:016x}", random.next_u64(), random.next_u64()));
    let retries = request.configuration.retrier_retry_count.unwrap_or(0);
    let no_variables = Variables::default();
    let visit = Visit {
        execution: &execution,
        entered_time: request.entered_time,
        retry_count: u32::try_from(retries).unwrap_or(u32::MAX),
        task_token: token.as_deref(),
        variables: &no_variables,
        now_ms: 0,
    };
    let mut context = visit.context_object(state, None);
    if request.role_arn.is_none()
        && let Some(role) = context.pointer_mut("/Execution/RoleArn")
    {
        // AWS's context of a test without a role.
        *role = Value::Null;
    }
    Ok(context)
}

/// The fields a given context object may have, with their types (recorded against AWS:
/// unknown fields and `Map` are refused, `Execution.Id` must be a string).
fn check_context(context: &Value, state: &State) -> Result<(), String> {
    #[derive(Clone, Copy)]
    enum Type {
        Text,
        Integer,
        Any,
    }
    use Type::{Any, Integer, Text};
    const EXECUTION: &[(&str, Type)] = &[
        ("Id", Text),
        ("Input", Any),
        ("Name", Text),
        ("RoleArn", Text),
        ("StartTime", Text),
        ("RedriveCount", Integer),
    ];
    const STATE: &[(&str, Type)] = &[
        ("EnteredTime", Text),
        ("Name", Text),
        ("RetryCount", Integer),
    ];
    const STATE_MACHINE: &[(&str, Type)] = &[("Id", Text), ("Name", Text)];
    const TASK: &[(&str, Type)] = &[("Token", Text)];

    let Some(fields) = context.as_object() else {
        return Err("the Context object must be a JSON object".into());
    };
    for (key, value) in fields {
        let allowed = match key.as_str() {
            "Execution" => EXECUTION,
            "State" => STATE,
            "StateMachine" => STATE_MACHINE,
            "Task" => TASK,
            "Map" => {
                return Err("'Map' field is not supported when mocking a Context object".into());
            }
            _ => return Err(format!("Field '{key}' is not allowed")),
        };
        if value.is_null() {
            continue;
        }
        let Some(members) = value.as_object() else {
            return Err(format!("{key} must be an object"));
        };
        for (member, v) in members {
            let Some((_, ty)) = allowed.iter().find(|(name, _)| name == member) else {
                return Err(format!("Field '{member}' is not allowed"));
            };
            let expected = match ty {
                Text if !v.is_string() && !v.is_null() => "a string",
                Integer if !v.is_i64() && !v.is_u64() && !v.is_null() => "an integer",
                _ => continue,
            };
            return Err(format!("{key}.{member} must be {expected}"));
        }
    }
    if fields.contains_key("Task") && !is_sync_or_token(state) {
        return Err(
            "Context object contains 'Task' when state is not a Task state with a \
             '.sync' or '.waitForTaskToken' service integration pattern"
                .into(),
        );
    }
    Ok(())
}

/// The request's variables: a JSON object.
fn variables(text: Option<&str>) -> Result<Option<Map<String, Value>>, Rejection> {
    let Some(text) = text else { return Ok(None) };
    match crate::json::parse(text) {
        Ok(Value::Object(vars)) => Ok(Some(vars)),
        Ok(_) => Err(validation(
            "Invalid variables provided: variables must be a JSON object",
        )),
        Err(e) => Err(validation(format!("Invalid variables provided: {e}"))),
    }
}

/// One run of the tested state.
struct Run<'r> {
    machine: &'r StateMachine,
    id: StateId,
    context: &'r Value,
    variables: &'r Variables,
    /// What the state assigned.
    assigned: Assigned,
    random: &'r mut dyn Random,
    trace: DataFlow,
    /// `retrierRetryCount`.
    retries_done: u64,
    details: ErrorDetails,
    /// A Map's concurrency and tolerance, as evaluated.
    map: Option<(u64, Tolerance)>,
}

impl Run<'_> {
    fn run(
        &mut self,
        input: Value,
        mocked: Option<Mocked>,
        config: &Configuration,
    ) -> TestStateResult {
        let action = self.machine.enter_traced(
            self.id,
            input.clone(),
            self.context,
            self.variables,
            &mut *self.random,
            &mut self.trace,
        );
        let action = match action {
            Ok(action) => action,
            Err(failure) => return self.failed(failure, input),
        };
        // What the state's work (a task, the branches, the iterations) came to.
        let (work, state_input) = match action {
            Action::Next { .. } | Action::Succeed { .. } | Action::Fail(_) => {
                return self.settled(action);
            }
            Action::Wait {
                output,
                then,
                assign,
                ..
            } => {
                // Not waited for: the test reports where the state goes next.
                return self.settled(Action::after_wait(then, output, assign));
            }
            Action::RunTask { call, state_input } => {
                let work = match mocked {
                    Some(Mocked::Result(v)) => MockedResponse::Return(v).outcome(&call.resource),
                    Some(Mocked::Error(f)) => Err(f),
                    None => Err(Failure::runtime("a Task state is tested only with a mock")),
                };
                (work, state_input)
            }
            Action::Parallel { state_input, .. } => (mocked_work(mocked), state_input),
            Action::Map {
                items,
                max_concurrency,
                tolerance,
                state_input,
                ..
            } => {
                self.map = Some((max_concurrency, tolerance));
                let mut work = mocked_work(mocked);
                if let (Ok(results), Some(failed)) = (&work, config.map_iteration_failure_count) {
                    let total = results.as_array().map_or(items.len(), Vec::len);
                    if exceeds_tolerance(failed, tolerance, total) {
                        work = Err(Failure::new(
                            names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ));
                    }
                }
                (work, state_input)
            }
        };
        let result = match work {
            Ok(result) => result,
            Err(failure) => return self.failed(failure, state_input),
        };
        match self.machine.task_succeeded_traced(
            self.id,
            state_input.clone(),
            result,
            self.context,
            self.variables,
            &mut *self.random,
            &mut self.trace,
        ) {
            Ok(action) => self.settled(action),
            Err(failure) => self.failed(failure, state_input),
        }
    }

    /// A transition, success or Fail state.
    fn settled(&mut self, action: Action) -> TestStateResult {
        let (status, output, error, next) = match action {
            Action::Next {
                state,
                output,
                assign,
            } => {
                self.assigned = assign;
                (Status::Succeeded, Some(output), None, Some(state))
            }
            Action::Succeed { output, assign } => {
                self.assigned = assign;
                (Status::Succeeded, Some(output), None, None)
            }
            Action::Fail(failure) => (Status::Failed, None, Some(failure), None),
            // `run` settles nothing else.
            _ => (
                Status::Failed,
                None,
                Some(Failure::runtime("the state did not settle")),
                None,
            ),
        };
        TestStateResult {
            status,
            output,
            error,
            next_state: next.map(|id| self.machine.state(id).name.clone()),
            inspection: None,
        }
    }

    /// The state raised `failure`: would it be retried, caught, or fail the execution?
    fn failed(&mut self, failure: Failure, state_input: Value) -> TestStateResult {
        let retry_index = self.machine.retrier_for(self.id, &failure.error);
        let mut retries = RetryState::default();
        if let Some(i) = retry_index {
            retries.attempts = vec![0; i + 1];
            retries.attempts[i] = self.retries_done;
        }
        self.details.retry_index = retry_index;
        let catcher = CatcherScope {
            context: self.context,
            variables: self.variables,
            now_ms: 0,
        };
        let recovery = self.machine.recover_as(
            self.id,
            state_input,
            failure.clone(),
            None,
            &mut retries,
            &catcher,
            &mut *self.random,
        );
        let (status, output, error, next) = match recovery {
            Recovery::Retry { delay_seconds } => {
                self.details.retry_backoff_interval_seconds = Some(delay_seconds.round() as u64);
                (Status::Retriable, None, failure, None)
            }
            Recovery::Catch {
                state,
                output,
                assign,
            } => {
                self.assigned = assign;
                self.details.catch_index = self.machine.catcher_for(self.id, &failure.error);
                (Status::CaughtError, Some(output), failure, Some(state))
            }
            Recovery::Fail(failure) => (Status::Failed, None, failure, None),
        };
        TestStateResult {
            status,
            output,
            error: Some(error),
            next_state: next.map(|id| self.machine.state(id).name.clone()),
            inspection: None,
        }
    }

    /// The inspection data AWS shows for the state's type (recorded against AWS).
    fn inspection(
        &mut self,
        state: &State,
        input: Value,
        variables: Option<Map<String, Value>>,
    ) -> Inspection {
        let t = std::mem::take(&mut self.trace);
        let variables = match variables {
            Some(mut given) => {
                given.extend(std::mem::take(&mut self.assigned));
                Some(given)
            }
            None if !self.assigned.is_empty() => Some(std::mem::take(&mut self.assigned)),
            None => None,
        };
        let mut shown = Inspection {
            input: Some(input),
            variables: variables.filter(|v| !v.is_empty()).map(Value::Object),
            error_details: (self.details != ErrorDetails::default()).then_some(self.details),
            ..Inspection::default()
        };
        if state.query_language == crate::definition::QueryLanguage::Jsonata {
            // JSONata states have no paths: AWS shows the arguments and the result only.
            if matches!(state.kind, Kind::Task(_) | Kind::Parallel(_)) {
                shown.after_arguments = t.after_parameters;
            }
            if matches!(state.kind, Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_)) {
                shown.result = t.result;
            }
            return shown;
        }
        match &state.kind {
            // A Pass state with a Result shows neither its InputPath nor its Parameters.
            Kind::Pass(p) if p.result.is_some() => {
                shown.result = t.result;
                shown.after_result_selector = t.after_result_selector;
                shown.after_result_path = t.after_result_path;
            }
            Kind::Pass(_) => {
                shown.after_input_path = t.after_input_path;
                shown.after_parameters = t.after_parameters;
                shown.after_result_selector = t.after_result_selector;
                shown.after_result_path = t.after_result_path;
            }
            Kind::Task(_) => {
                shown.after_input_path = t.after_input_path;
                shown.after_parameters = t.after_parameters;
                shown.result = t.result;
                shown.after_result_selector = t.after_result_selector;
                shown.after_result_path = t.after_result_path;
            }
            Kind::Choice(_) | Kind::Wait(_) | Kind::Succeed | Kind::Fail(_) => {
                shown.after_input_path = t.after_input_path;
            }
            Kind::Parallel(_) => {
                shown.after_result_selector = t.after_result_selector;
                shown.after_result_path = t.after_result_path;
            }
            Kind::Map(_) => {
                shown.after_input_path = t.after_input_path;
                shown.after_items_path = t.after_items_path;
                shown.after_item_selector = t.after_item_selector;
                shown.after_result_selector = t.after_result_selector;
                shown.after_result_path = t.after_result_path;
                if let Some((max_concurrency, tolerance)) = self.map {
                    shown.max_concurrency = Some(max_concurrency);
                    shown.tolerated_failure_count = tolerance.count;
                    shown.tolerated_failure_percentage = tolerance.percentage;
                }
            }
        }
        shown
    }
}

/// A Parallel's or Map's mocked outcome.
fn mocked_work(mocked: Option<Mocked>) -> Result<Value, Failure> {
    match mocked {
        Some(Mocked::Result(v)) => Ok(v),
        Some(Mocked::Error(f)) => Err(f),
        None => Err(Failure::runtime(MAP_OR_PARALLEL_WITHOUT_MOCK)),
    }
}

/// Whether `failed` of `total` iterations exceed a Map's tolerance. A Map that sets no
/// tolerance reports its mocked result whatever `mapIterationFailureCount` says (recorded
/// against AWS).
fn exceeds_tolerance(failed: u64, tolerance: Tolerance, total: usize) -> bool {
    if failed == 0 || (tolerance.count.is_none() && tolerance.percentage.is_none()) {
        return false;
    }
    let within = tolerance.count.is_some_and(|c| failed <= c)
        || tolerance
            .percentage
            .is_some_and(|p| failed as f64 * 100.0 <= p * total as f64);
    !within
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ROLE: &str = "arn:aws:iam::000000000000:role/sfn";
    const LAMBDA: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    fn request(definition: &str) -> TestStateRequest<'_> {
        TestStateRequest {
            definition,
            state_name: None,
            input: json!({}),
            inspection_level: InspectionLevel::Debug,
            reveal_secrets: false,
            role_arn: Some(ROLE),
            variables: None,
            context: None,
            mock: None,
            configuration: Configuration::default(),
            execution: Execution {
                id: "arn:aws:states:us-east-1:000000000000:express:TestState-1:1".into(),
                name: "1".into(),
                role_arn: ROLE.into(),
                start_time: "2026-11-23T00:00:00.000Z".into(),
                state_machine_id: "arn:aws:states:us-east-1:000000000000:stateMachine:TestState-1"
                    .into(),
                state_machine_name: "TestState-1".into(),
                ..Execution::default()
            },
            entered_time: "2026-11-23T00:00:00.000Z",
            seed: 7,
        }
    }

    fn result(value: Value) -> Option<Mock> {
        Some(Mock {
            result: Some(value.to_string()),
            error_output: None,
        })
    }

    fn error(error: &str, cause: &str) -> Option<Mock> {
        Some(Mock {
            result: None,
            error_output: Some(MockError {
                error: Some(error.into()),
                cause: Some(cause.into()),
            }),
        })
    }

    fn run(r: &TestStateRequest<'_>) -> TestStateResult {
        test_state(r).unwrap_or_else(|e| panic!("rejected: {e:?}"))
    }

    fn inspection(r: &TestStateResult) -> &Inspection {
        r.inspection.as_ref().expect("inspection data at DEBUG")
    }

    fn rejected(r: &TestStateRequest<'_>) -> Rejection {
        test_state(r).expect_err("the request should be rejected")
    }

    // Recorded against AWS: IO_PASS_STATE.
    #[test]
    fn pass_shows_input_path_parameters_and_result_path() {
        let mut r = request(
            r#"{"Type": "Pass", "InputPath": "$.initialData",
                "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"},
                "ResultPath": "$.modifiedData", "End": true}"#,
        );
        r.input = json!({"initialData": {"fieldFromInput": "value from input", "otherField": "other"},
                         "unrelatedData": {"someOtherField": 1234}});
        let out = run(&r);
        let expected = json!({
            "initialData": {"fieldFromInput": "value from input", "otherField": "other"},
            "unrelatedData": {"someOtherField": 1234},
            "modifiedData": {"staticValue": "some value", "inputValue": "value from input"}
        });
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.output, Some(expected.clone()));
        assert_eq!(out.next_state, None);
        let i = inspection(&out);
        assert_eq!(i.input, Some(r.input.clone()));
        assert_eq!(
            i.after_input_path,
            Some(json!({"fieldFromInput": "value from input", "otherField": "other"}))
        );
        let payload = json!({"staticValue": "some value", "inputValue": "value from input"});
        assert_eq!(i.after_parameters, Some(payload.clone()));
        assert_eq!(i.after_result_selector, Some(payload));
        assert_eq!(i.after_result_path, Some(expected));
        assert_eq!(
            i.result, None,
            "a Pass state without Result shows no result"
        );

        r.inspection_level = InspectionLevel::Info;
        assert_eq!(run(&r).inspection, None, "INFO shows no inspection data");
    }

    // Recorded against AWS: BASE_RESULT_PASS_STATE.
    #[test]
    fn pass_with_result_shows_the_result_but_not_input_path_or_parameters() {
        let mut r = request(
            r#"{"Type": "Pass", "Result": {"resultKey": "result value"}, "Next": "After"}"#,
        );
        r.input = json!({"Value": "HelloWorld"});
        let out = run(&r);
        assert_eq!(out.output, Some(json!({"resultKey": "result value"})));
        assert_eq!(out.next_state.as_deref(), Some("After"));
        let i = inspection(&out);
        assert_eq!(i.result, Some(json!({"resultKey": "result value"})));
        assert_eq!(
            i.after_result_path,
            Some(json!({"resultKey": "result value"}))
        );
        assert_eq!((&i.after_input_path, &i.after_parameters), (&None, &None));
    }

    // Recorded against AWS: BASE_CHOICE_STATE.
    #[test]
    fn choice_reports_the_next_state_or_fails_when_nothing_matches() {
        let definition = r#"{"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
            {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
                     {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"}]}"#;
        let mut r = request(definition);
        r.input = json!({"type": "Private", "value": 22});
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.next_state.as_deref(), Some("ValueInTwenties"));
        assert_eq!(out.output, Some(r.input.clone()));
        let i = inspection(&out);
        assert_eq!(i.after_input_path, Some(r.input.clone()));
        assert_eq!(i.after_parameters, None);

        r.input = json!({"type": "Private", "value": 99});
        let out = run(&r);
        assert_eq!(out.status, Status::Failed);
        assert_eq!(out.error.unwrap().error, names::NO_CHOICE_MATCHED);
        assert_eq!((out.output, out.next_state), (None, None));
    }

    #[test]
    fn wait_is_evaluated_but_not_waited_for() {
        // Three years: a test that waited would never end.
        let mut r = request(r#"{"Type": "Wait", "SecondsPath": "$.delay", "Next": "Later"}"#);
        r.input = json!({"delay": 99_999_999});
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.next_state.as_deref(), Some("Later"));
        assert_eq!(out.output, Some(r.input.clone()));

        r.input = json!({});
        let out = run(&r);
        assert_eq!(out.status, Status::Failed);
        let failure = out.error.unwrap();
        assert_eq!(failure.error, names::RUNTIME);
        assert!(failure.cause.contains("SecondsPath"), "{}", failure.cause);
    }

    // Recorded against AWS: BASE_FAIL_STATE, BASE_SUCCEED_STATE.
    #[test]
    fn fail_and_succeed() {
        let mut r = request(
            r#"{"Type": "Fail", "Error": "SomeFailure",
                "Cause": "This state machines raises a 'SomeFailure' failure."}"#,
        );
        r.input = json!({"Value": "HelloWorld"});
        let out = run(&r);
        assert_eq!(out.status, Status::Failed);
        assert_eq!(
            out.error,
            Some(Failure::new(
                "SomeFailure",
                "This state machines raises a 'SomeFailure' failure."
            ))
        );
        assert_eq!(out.output, None);
        assert_eq!(inspection(&out).after_input_path, Some(r.input));

        let mut r = request(r#"{"Type": "Succeed", "OutputPath": "$.Value"}"#);
        r.input = json!({"Value": "HelloWorld"});
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.output, Some(json!("HelloWorld")));
        assert_eq!(out.next_state, None);
    }

    #[test]
    fn task_with_a_mocked_result_shows_every_step_of_its_data_flow() {
        let mut r = request(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "InputPath": "$.order",
                "Parameters": {"FunctionName": "price", "Payload.$": "$"},
                "ResultSelector": {"total.$": "$.Payload.total"},
                "ResultPath": "$.priced", "Next": "Ship"}"#,
        );
        r.input = json!({"order": {"id": 7}});
        r.mock = result(json!({"Payload": {"total": 42}, "StatusCode": 200}));
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.next_state.as_deref(), Some("Ship"));
        assert_eq!(
            out.output,
            Some(json!({"order": {"id": 7}, "priced": {"total": 42}}))
        );
        let i = inspection(&out);
        assert_eq!(i.after_input_path, Some(json!({"id": 7})));
        assert_eq!(
            i.after_parameters,
            Some(json!({"FunctionName": "price", "Payload": {"id": 7}}))
        );
        assert_eq!(
            i.result,
            Some(json!({"Payload": {"total": 42}, "StatusCode": 200}))
        );
        assert_eq!(i.after_result_selector, Some(json!({"total": 42})));
        assert_eq!(out.output, i.after_result_path);
        assert_eq!(i.error_details, None);
    }

    #[test]
    fn a_plain_lambda_arn_takes_the_payload_of_a_mocked_invoke_response() {
        let definition = format!(r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true}}"#);
        let mut r = request(&definition);
        r.mock = result(json!({"StatusCode": 200, "Payload": {"ok": true}}));
        assert_eq!(run(&r).output, Some(json!({"ok": true})));
        // A plain result is the function's output.
        r.mock = result(json!([1, 2]));
        assert_eq!(run(&r).output, Some(json!([1, 2])));
    }

    // Recorded against AWS: BASE_TASK_STATE_RETRY with retrierRetryCount 4 and 5.
    #[test]
    fn a_mocked_error_a_retrier_handles_is_retriable_until_its_attempts_are_used_up() {
        let definition = format!(
            r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true, "Retry": [
                {{"ErrorEquals": ["Other"], "MaxAttempts": 1}},
                {{"ErrorEquals": ["MockException"], "IntervalSeconds": 1, "MaxAttempts": 5,
                  "BackoffRate": 2.0}}]}}"#
        );
        let mut r = request(&definition);
        r.mock = error("MockException", "Mock the cause of the error.");
        r.configuration.retrier_retry_count = Some(4);
        let out = run(&r);
        assert_eq!(out.status, Status::Retriable);
        assert_eq!(
            out.error,
            Some(Failure::new(
                "MockException",
                "Mock the cause of the error."
            ))
        );
        assert_eq!((&out.output, &out.next_state), (&None, &None));
        assert_eq!(
            inspection(&out).error_details,
            Some(ErrorDetails {
                retry_index: Some(1),
                retry_backoff_interval_seconds: Some(16),
                catch_index: None,
            })
        );

        r.configuration.retrier_retry_count = Some(5);
        let out = run(&r);
        assert_eq!(out.status, Status::Failed);
        assert_eq!(
            inspection(&out).error_details,
            Some(ErrorDetails {
                retry_index: Some(1),
                ..ErrorDetails::default()
            })
        );

        // No retry count given: the first retry.
        r.configuration.retrier_retry_count = None;
        let out = run(&r);
        assert_eq!(out.status, Status::Retriable);
        assert_eq!(
            inspection(&out)
                .error_details
                .unwrap()
                .retry_backoff_interval_seconds,
            Some(1)
        );
    }

    // Recorded against AWS: BASE_TASK_STATE_CATCH (there in JSONata).
    #[test]
    fn a_mocked_error_a_catcher_takes_is_a_caught_error_with_the_catchers_output() {
        let definition = format!(
            r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true, "Catch": [
                {{"ErrorEquals": ["MockException"], "Next": "HandleMockError"}},
                {{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                  "Next": "HandleThreshold"}}]}}"#
        );
        let mut r = request(&definition);
        r.input = json!({"Value": "HelloWorld"});
        r.mock = error("States.TaskFailed", "The task failed.");
        let out = run(&r);
        assert_eq!(out.status, Status::CaughtError);
        assert_eq!(out.next_state.as_deref(), Some("HandleThreshold"));
        assert_eq!(
            out.error,
            Some(Failure::new("States.TaskFailed", "The task failed."))
        );
        assert_eq!(
            out.output,
            Some(json!({"Value": "HelloWorld",
                        "error": {"Error": "States.TaskFailed", "Cause": "The task failed."}}))
        );
        assert_eq!(
            inspection(&out).error_details,
            Some(ErrorDetails {
                catch_index: Some(1),
                ..ErrorDetails::default()
            })
        );

        // An error in the state's own data flow is caught the same way.
        let definition = format!(
            r#"{{"Type": "Task", "Resource": "{LAMBDA}", "Parameters": {{"x.$": "States.StringToJson($.s)"}},
                "End": true, "Catch": [{{"ErrorEquals": ["States.ALL"], "Next": "Handler"}}]}}"#
        );
        let mut r = request(&definition);
        r.input = json!({"s": "{"});
        r.mock = result(json!({}));
        let out = run(&r);
        assert_eq!(out.status, Status::CaughtError);
        assert_eq!(out.error.unwrap().error, names::INTRINSIC_FAILURE);
        assert_eq!(out.next_state.as_deref(), Some("Handler"));
    }

    #[test]
    fn states_runtime_is_neither_retried_nor_caught() {
        let definition = format!(
            r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true,
                "Retry": [{{"ErrorEquals": ["States.ALL"]}}],
                "Catch": [{{"ErrorEquals": ["States.ALL"], "Next": "Handler"}}]}}"#
        );
        let mut r = request(&definition);
        r.mock = error("States.Runtime", "broken");
        let out = run(&r);
        assert_eq!(out.status, Status::Failed);
        assert_eq!(inspection(&out).error_details, None);
    }

    // Recorded against AWS: IO_PARALLEL_STATE.
    #[test]
    fn parallel_takes_its_branch_outputs_from_the_mock() {
        let mut r = request(
            r#"{"Type": "Parallel", "InputPath": "$.parallelInput", "ResultPath": "$.parallelResult",
                "Branches": [
                    {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
                    {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": true}}}],
                "End": true}"#,
        );
        r.input = json!({"parallelInput": {"data": "input_value"}});
        let branches = json!([{"branch1": "result"}, {"branch2": "result"}]);
        r.mock = result(branches.clone());
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded);
        let expected =
            json!({"parallelInput": {"data": "input_value"}, "parallelResult": branches});
        assert_eq!(out.output, Some(expected.clone()));
        let i = inspection(&out);
        assert_eq!(i.after_result_selector, Some(branches));
        assert_eq!(i.after_result_path, Some(expected));
        assert_eq!((&i.after_input_path, &i.result), (&None, &None));

        r.mock = result(json!([1]));
        assert_eq!(
            rejected(&r),
            validation(
                "Mocked result must contain the same number of items as number of Parallel \
                 branches."
            )
        );
        r.mock = result(json!({}));
        assert_eq!(rejected(&r), validation("Mocked result must be an array."));
        r.mock = None;
        assert_eq!(
            rejected(&r),
            Rejection::UnsupportedState(MAP_OR_PARALLEL_WITHOUT_MOCK.into())
        );
    }

    #[test]
    fn map_reports_its_items_and_tolerance_and_checks_the_failure_count() {
        let mut r = request(
            r#"{"Type": "Map", "ItemsPath": "$.Values", "ToleratedFailureCount": 1,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
                           "Next": "HandleThreshold"}],
                "End": true}"#,
        );
        r.input = json!({"Values": ["first", "second", "third"]});
        r.mock = result(json!([1, 1, 1]));
        r.configuration.map_iteration_failure_count = Some(1);
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded);
        assert_eq!(out.output, Some(json!([1, 1, 1])));
        let i = inspection(&out);
        assert_eq!(
            i.after_items_path,
            Some(json!(["first", "second", "third"]))
        );
        assert_eq!(i.max_concurrency, Some(0));
        assert_eq!(i.tolerated_failure_count, Some(1));

        r.configuration.map_iteration_failure_count = Some(2);
        let out = run(&r);
        assert_eq!(out.status, Status::CaughtError);
        assert_eq!(
            out.error.unwrap().error,
            names::EXCEED_TOLERATED_FAILURE_THRESHOLD
        );
        assert_eq!(out.next_state.as_deref(), Some("HandleThreshold"));

        r.configuration.map_iteration_failure_count = Some(4);
        assert_eq!(
            rejected(&r),
            validation(
                "Map iteration failure count must be less than or equal to the number of Map \
                 iterations"
            )
        );
        r.mock = None;
        assert_eq!(
            rejected(&r),
            validation(
                "TestState does not support MapIterationFailureCount when a mock is not \
                 specified."
            )
        );
    }

    // Recorded against AWS (test_state_mock_validation).
    #[test]
    fn mocks_are_checked_as_aws_checks_them() {
        for kind in ["Pass", "Choice"] {
            let definition = match kind {
                "Pass" => r#"{"Type": "Pass", "End": true}"#,
                _ => {
                    r#"{"Type": "Choice", "Default": "D",
                        "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "X"}]}"#
                }
            };
            let mut r = request(definition);
            r.mock = result(json!({"mock": "the unmockable"}));
            assert_eq!(
                rejected(&r),
                validation(format!(
                    "State type '{kind}' is not supported when a mock is specified"
                ))
            );
        }
        let definition = format!(r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true}}"#);
        let mut r = request(&definition);
        r.mock = Some(Mock {
            result: Some("{}".into()),
            error_output: Some(MockError::default()),
        });
        assert_eq!(
            rejected(&r),
            validation(
                "A test mock should have only one of the following fields: [result, errorOutput]."
            )
        );
        r.mock = Some(Mock {
            result: Some("not JSON string".into()),
            error_output: None,
        });
        assert_eq!(rejected(&r), validation("Mocked result must be valid JSON"));
        r.mock = result(json!({}));
        r.reveal_secrets = true;
        assert_eq!(
            rejected(&r),
            validation("TestState does not support RevealSecrets when a mock is specified.")
        );
    }

    #[test]
    fn a_task_without_a_mock_is_refused() {
        let definition = format!(r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true}}"#);
        let mut r = request(&definition);
        r.role_arn = None;
        // Recorded against AWS.
        assert_eq!(
            rejected(&r),
            validation("RoleArn must be specified when testing a Task state")
        );
        r.role_arn = Some(ROLE);
        let Rejection::Validation(message) = rejected(&r) else {
            panic!("expected a ValidationException");
        };
        assert!(message.contains("with a mock"), "{message}");
        assert!(message.contains(LAMBDA), "{message}");
    }

    #[test]
    fn definitions_are_validated_with_aws_pointers() {
        // Recorded against AWS: an empty Branches list.
        let mut r = request(r#"{"Type": "Parallel", "Branches": [], "End": true}"#);
        r.mock = result(json!([]));
        assert_eq!(
            rejected(&r),
            Rejection::InvalidDefinition(
                "SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/StateName/Branches"
                    .into()
            )
        );
        let r = request(r#"{"Type": "Pass", "Assign": {"1x": 1}, "End": true}"#);
        let Rejection::InvalidDefinition(detail) = rejected(&r) else {
            panic!("expected InvalidDefinition");
        };
        assert!(
            detail.contains("variable name '1x' is invalid") && detail.contains("/Assign/1x"),
            "{detail}"
        );
        let r = request(r#"{"Type": "Pass", "End": true, "End": true}"#);
        let Rejection::InvalidDefinition(detail) = rejected(&r) else {
            panic!("expected InvalidDefinition");
        };
        assert!(detail.contains("/States/StateName/End"), "{detail}");
        let Rejection::InvalidDefinition(detail) = rejected(&request("{")) else {
            panic!("expected InvalidDefinition");
        };
        assert!(detail.starts_with("INVALID_JSON_DESCRIPTION"), "{detail}");
    }

    // Recorded against AWS: BASE_MULTI_STATE_MACHINE (there in JSONata), unknown names.
    #[test]
    fn a_state_of_a_whole_machine_is_tested_by_name_even_inside_a_branch() {
        let definition = r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Next": "Fork"},
            "Fork": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Inner", "States": {
                    "Inner": {"Type": "Pass", "Result": "in", "Next": "Last"},
                    "Last": {"Type": "Succeed"}}}]}}}"#;
        let mut r = request(definition);
        r.input = json!({"Value": "HelloWorld"});
        r.state_name = Some("State0");
        let out = run(&r);
        assert_eq!(out.next_state.as_deref(), Some("Fork"));
        assert_eq!(out.output, Some(json!({"Value": "HelloWorld"})));
        r.state_name = Some("Inner");
        let out = run(&r);
        assert_eq!(
            (out.output, out.next_state.as_deref()),
            (Some(json!("in")), Some("Last"))
        );
        r.state_name = Some("dne");
        assert_eq!(rejected(&r), validation("State not found in definition"));
        // The whole machine is validated.
        r.definition = r#"{"StartAt": "S", "States": {"S": {"Type": "Nope", "End": true}}}"#;
        r.state_name = Some("S");
        let Rejection::InvalidDefinition(detail) = rejected(&r) else {
            panic!("expected InvalidDefinition");
        };
        assert!(detail.contains("at /States/S/Type"), "{detail}");
    }

    #[test]
    fn the_context_object_is_the_given_one_or_aws_default() {
        let definition = format!(
            r#"{{"Type": "Task", "Resource": "{LAMBDA}", "End": true,
                "Parameters": {{"ctx.$": "$$"}}}}"#
        );
        let mut r = request(&definition);
        r.mock = result(json!({}));
        r.role_arn = None;
        let out = run(&r);
        let ctx = &inspection(&out).after_parameters.as_ref().unwrap()["ctx"];
        assert_eq!(ctx["State"]["Name"], "StateName");
        assert_eq!(ctx["State"]["RetryCount"], 0);
        assert_eq!(ctx["Execution"]["RoleArn"], Value::Null, "no role given");
        assert_eq!(ctx["Execution"]["Input"], json!({}));
        assert_eq!(ctx["StateMachine"]["Name"], "TestState-1");

        // Given: it is `$$` as it is (recorded: `{}` stays `{}`).
        let given = r#"{"Execution": {"Name": "e1"}, "State": {"RetryCount": 3}}"#;
        r.context = Some(given);
        let out = run(&r);
        assert_eq!(
            inspection(&out).after_parameters,
            Some(json!({"ctx": {"Execution": {"Name": "e1"}, "State": {"RetryCount": 3}}}))
        );
        r.context = Some("{}");
        let out = run(&r);
        assert_eq!(inspection(&out).after_parameters, Some(json!({"ctx": {}})));

        // Recorded against AWS.
        for (context, why) in [
            (
                r#"{"Execution": {"Id": 1}}"#,
                "Execution.Id must be a string",
            ),
            (
                r#"{"Map": {}}"#,
                "'Map' field is not supported when mocking a Context object",
            ),
            (
                r#"{"Execution": {"pokemon": "squirtle"}}"#,
                "Field 'pokemon' is not allowed",
            ),
            (r#"{"Pokedex": {}}"#, "Field 'Pokedex' is not allowed"),
            (
                r#"{"Task": {"Token": "abc"}}"#,
                "Context object contains 'Task' when state is not a Task state with a '.sync' \
                 or '.waitForTaskToken' service integration pattern",
            ),
        ] {
            r.context = Some(context);
            assert_eq!(
                rejected(&r),
                validation(format!("Invalid Context object provided: {why}")),
                "{context}"
            );
        }
        // Only with a mock (the API reference).
        r.mock = None;
        r.context = Some("{}");
        assert!(matches!(rejected(&r), Rejection::Validation(m) if m.contains("Context")));
    }

    #[test]
    fn a_jsonata_task_shows_its_arguments_and_assigns_variables() {
        let mut r = request(
            r#"{"Type": "Task", "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "foo", "Payload": "{% $states.input.Value %}"},
                "Assign": {"last": "{% $states.result.Payload %}"},
                "Output": {"got": "{% $states.result.Payload %}", "prefix": "{% $prefix %}"},
                "End": true}"#,
        );
        r.input = json!({"Value": "HelloWorld"});
        r.variables = Some(r#"{"prefix": "p-"}"#);
        r.mock = result(json!({"Payload": "done"}));
        let out = run(&r);
        assert_eq!(out.status, Status::Succeeded, "{out:?}");
        assert_eq!(out.output, Some(json!({"got": "done", "prefix": "p-"})));
        let i = inspection(&out);
        assert_eq!(
            i.after_arguments,
            Some(json!({"FunctionName": "foo", "Payload": "HelloWorld"}))
        );
        assert_eq!(i.result, Some(json!({"Payload": "done"})));
        assert_eq!(i.after_input_path, None, "no paths in JSONata states");
        assert_eq!(i.variables, Some(json!({"prefix": "p-", "last": "done"})));
    }

    #[test]
    fn variables_are_shown_unchanged_and_must_be_an_object() {
        let mut r = request(r#"{"Type": "Pass", "End": true}"#);
        r.variables = Some(r#"{"var_input_value": "test_value", "var_constant_1": 10}"#);
        let out = run(&r);
        assert_eq!(
            inspection(&out).variables,
            Some(json!({"var_input_value": "test_value", "var_constant_1": 10}))
        );
        // Recorded: no variables, no `variables`.
        r.variables = Some("{}");
        assert_eq!(inspection(&run(&r)).variables, None);
        r.variables = Some("[1]");
        assert!(matches!(rejected(&r), Rejection::Validation(_)));
    }
}
