//! A synchronous, in-process driver of the step core: runs one execution to its end and records
//! its history with AWS's event types. It is what `sluice run`, the tests and the benches use.
//!
//! Effects go through [`Host`]: tasks, the clock and sleeping. Parallel branches and Map
//! iterations run one after the other (their history and outputs are the same as when they run
//! concurrently; only wall time differs).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::definition::{Kind, StateId, StateMachine, Transition};
use crate::history::{Details, ErrorDetails, HistoryEvent, Iteration, ResourceKind, Truncation};
use crate::step::{Action, Execution, Recovery, RetryState, TaskCall, Visit};
use crate::{Failure, SplitMix64, names};

/// AWS's payload limit for inputs, outputs and results: 256 KiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// What the interpreter needs from outside.
pub trait Host {
    /// Runs the task of state `state`; `Err` is the task's error (name and cause).
    fn run_task(&mut self, state: &str, call: &TaskCall) -> Result<Value, Failure>;
    /// The current time.
    fn now(&mut self) -> DateTime<Utc>;
    /// Blocks (or advances a virtual clock) until `until`.
    fn sleep_until(&mut self, until: DateTime<Utc>);
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Inputs and outputs over this many bytes fail with `States.DataLimitExceeded`.
    pub max_payload_bytes: Option<usize>,
    /// Seed of the randomness intrinsics and retry jitter draw from.
    pub seed: u64,
    /// The `$$.Execution` / `$$.StateMachine` fields.
    pub execution: Execution,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_payload_bytes: Some(DEFAULT_MAX_PAYLOAD_BYTES),
            seed: 0x5EED,
            execution: Execution {
                id: "arn:aws:states:us-east-1:000000000000:execution:machine:run".into(),
                name: "run".into(),
                role_arn: "arn:aws:iam::000000000000:role/sluice".into(),
                state_machine_id: "arn:aws:states:us-east-1:000000000000:stateMachine:machine"
                    .into(),
                state_machine_name: "machine".into(),
                ..Execution::default()
            },
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
    pub history: Vec<HistoryEvent>,
}

/// Why a (sub-)machine stopped without succeeding.
struct Stop {
    failure: Failure,
    prev: u64,
    timed_out: bool,
}

/// Runs `machine` on `input` to completion.
pub fn run(machine: &StateMachine, input: Value, host: &mut dyn Host, options: Options) -> Outcome {
    let mut execution = options.execution;
    let start = host.now();
    execution.start_time = iso(start);
    execution.input = input.clone();
    let mut run = Run {
        host,
        history: Vec::new(),
        random: SplitMix64(options.seed),
        deadline: machine
            .timeout_seconds
            .map(|s| start + chrono::Duration::seconds(s as i64)),
        max_payload: options.max_payload_bytes,
        execution: std::rc::Rc::new(execution),
    };
    let started = run.event(
        "ExecutionStarted",
        0,
        Some(Details::ExecutionStarted {
            input: input.to_string(),
            input_details: Truncation::default(),
            role_arn: run.execution.role_arn.clone(),
        }),
    );
    let _ = started;
    let result = run
        .check_size(&input, "input")
        .map_err(|failure| Stop {
            failure,
            prev: started,
            timed_out: false,
        })
        .and_then(|()| run.machine(machine, input, 0));
    match result {
        Ok((output, prev)) => {
            run.event(
                "ExecutionSucceeded",
                prev,
                Some(Details::ExecutionSucceeded {
                    output: output.to_string(),
                    output_details: Truncation::default(),
                }),
            );
            Outcome {
                status: Status::Succeeded,
                output: Some(output),
                failure: None,
                history: run.history,
            }
        }
        Err(stop) => {
            let details = ErrorDetails {
                error: stop.failure.error.clone(),
                cause: stop.failure.cause.clone(),
            };
            let (kind, details, status) = if stop.timed_out {
                (
                    "ExecutionTimedOut",
                    Details::ExecutionTimedOut(details),
                    Status::TimedOut,
                )
            } else {
                (
                    "ExecutionFailed",
                    Details::ExecutionFailed(details),
                    Status::Failed,
                )
            };
            run.event(kind, stop.prev, Some(details));
            Outcome {
                status,
                output: None,
                failure: Some(stop.failure),
                history: run.history,
            }
        }
    }
}

struct Run<'h> {
    host: &'h mut dyn Host,
    history: Vec<HistoryEvent>,
    random: SplitMix64,
    deadline: Option<DateTime<Utc>>,
    max_payload: Option<usize>,
    execution: std::rc::Rc<Execution>,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The cause AWS gives errors raised by a state's own data processing.
fn in_state(state: &str, entered: u64, failure: Failure) -> Failure {
    Failure {
        cause: format!(
            "An error occurred while executing the state '{state}' (entered at the event id \
             #{entered}). {}",
            failure.cause
        ),
        ..failure
    }
}

impl Run<'_> {
    fn event(&mut self, kind: &'static str, prev: u64, details: Option<Details>) -> u64 {
        let id = self.history.len() as u64 + 1;
        let timestamp = iso(self.host.now());
        self.history.push(HistoryEvent {
            timestamp,
            kind,
            id,
            previous_event_id: prev,
            details,
        });
        id
    }

    fn check_size(&self, value: &Value, what: &str) -> Result<(), Failure> {
        let Some(limit) = self.max_payload else {
            return Ok(());
        };
        let size = value.to_string().len();
        if size > limit {
            return Err(Failure::data_limit(format!(
                "The state/task returned a result with a size exceeding the maximum number of \
                 bytes service limit ({what}: {size} bytes, limit {limit} bytes)."
            )));
        }
        Ok(())
    }

    /// Sleeps until `until` unless the execution's deadline comes first.
    fn sleep(&mut self, until: DateTime<Utc>, prev: u64) -> Result<(), Stop> {
        if let Some(deadline) = self.deadline
            && until > deadline
        {
            self.host.sleep_until(deadline);
            return Err(Stop {
                failure: Failure::new(names::TIMEOUT, "The execution timed out"),
                prev,
                timed_out: true,
            });
        }
        self.host.sleep_until(until);
        Ok(())
    }

    /// Runs a machine or branch from its StartAt; `prev` is the event the first state follows.
    fn machine(&mut self, m: &StateMachine, input: Value, prev: u64) -> Result<(Value, u64), Stop> {
        let mut id = m.start_at;
        let mut input = input;
        let mut prev = prev;
        loop {
            let (next, output, last) = self.state(m, id, input, prev)?;
            prev = last;
            match next {
                Transition::Next(n) => {
                    id = n;
                    input = output;
                }
                Transition::End => return Ok((output, prev)),
            }
        }
    }

    /// Runs one state; returns where to go, the output, and the last event id.
    fn state(
        &mut self,
        m: &StateMachine,
        id: StateId,
        input: Value,
        prev: u64,
    ) -> Result<(Transition, Value, u64), Stop> {
        let state = m.state(id);
        let type_name = state.kind.type_name();
        let entered = self.event(
            entered_kind(type_name),
            prev,
            Some(Details::StateEntered {
                name: state.name.clone(),
                input: input.to_string(),
                input_details: Truncation::default(),
            }),
        );
        let entered_time = iso(self.host.now());
        let fail = |failure: Failure, prev: u64| Stop {
            failure: in_state(&state.name, entered, failure),
            prev,
            timed_out: false,
        };
        let keeps_input = matches!(state.kind, Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_));
        let mut retries = RetryState::default();
        let mut prev = entered;
        let mut input = input;
        loop {
            // Task, Parallel and Map may run again (Retry) or be caught: keep their input.
            let arg = if keeps_input {
                input.clone()
            } else {
                input.take()
            };
            // An Rc, not a clone: the execution input can be large.
            let execution = std::rc::Rc::clone(&self.execution);
            let token = waits_for_token(state).then(|| task_token(&mut self.random));
            let visit = Visit {
                execution: &execution,
                entered_time: &entered_time,
                retry_count: retries.total(),
                task_token: token.as_deref(),
            };
            let action = match m.enter(id, arg, &visit, &mut self.random) {
                Ok(a) => a,
                Err(failure) if failure.error == names::RUNTIME || !keeps_input => {
                    return Err(fail(failure, prev));
                }
                Err(failure) => {
                    let failure = in_state(&state.name, entered, failure);
                    match self.recover(m, id, input.clone(), failure, &mut retries, prev, None)? {
                        Some(done) => return Ok(done),
                        None => continue,
                    }
                }
            };
            // A Parallel or Map state whose branch or iteration failed: the `…StateFailed` event
            // AWS records once the failure is not retried, and whether the failure is the
            // branch's own (already carrying its state's "An error occurred ..." prefix).
            let mut failed_event: Option<&'static str> = None;
            let mut propagated = false;
            // Task, Parallel and Map report an outcome; the others are done.
            let outcome: Result<Action, Failure> = match action {
                Action::Next {
                    state: next,
                    output,
                } => {
                    let exited = self
                        .exited(type_name, &state.name, &output, prev)
                        .map_err(|f| fail(f, prev))?;
                    return Ok((Transition::Next(next), output, exited));
                }
                Action::Succeed { output } => {
                    let exited = self
                        .exited(type_name, &state.name, &output, prev)
                        .map_err(|f| fail(f, prev))?;
                    return Ok((Transition::End, output, exited));
                }
                Action::Fail(failure) => {
                    return Err(Stop {
                        failure,
                        prev,
                        timed_out: false,
                    });
                }
                Action::Wait {
                    until,
                    output,
                    then,
                } => {
                    let due = match until.due(self.host.now()) {
                        Ok(due) => due,
                        Err(failure) => return Err(fail(failure, prev)),
                    };
                    self.sleep(due, prev)?;
                    let exited = self
                        .exited(type_name, &state.name, &output, prev)
                        .map_err(|f| fail(f, prev))?;
                    return Ok((then, output, exited));
                }
                Action::RunTask { call, state_input } => {
                    let (result, last) = self.task(&state.name, &call, prev);
                    prev = last;
                    match result.and_then(|r| self.check_size(&r, "task result").map(|()| r)) {
                        Ok(r) => m.task_succeeded(id, state_input, r, &visit, &mut self.random),
                        Err(f) => Err(f),
                    }
                }
                Action::Parallel {
                    input: branch_input,
                    state_input,
                } => {
                    let Kind::Parallel(p) = &state.kind else {
                        unreachable!("Parallel action")
                    };
                    let started = self.event("ParallelStateStarted", prev, None);
                    let (outputs, failed, last) =
                        self.branches(&p.branches, &branch_input, started)?;
                    prev = last;
                    // AWS records no ParallelStateSucceeded event: ParallelStateExited follows
                    // the branches' last events.
                    match failed {
                        Some(failure) => {
                            failed_event = Some("ParallelStateFailed");
                            propagated = true;
                            Err(failure)
                        }
                        None => {
                            m.branches_succeeded(id, state_input, outputs, &visit, &mut self.random)
                        }
                    }
                }
                Action::Map {
                    items,
                    tolerance,
                    state_input,
                    ..
                } => {
                    let Kind::Map(map) = &state.kind else {
                        unreachable!("Map action")
                    };
                    let started = self.event(
                        "MapStateStarted",
                        prev,
                        Some(Details::MapStateStarted {
                            length: items.len(),
                        }),
                    );
                    let (results, last) = self.iterations(state, map, items, started)?;
                    prev = last;
                    let iteration_failed = results.iter().any(Result::is_err);
                    let done = m.map_finished(
                        id,
                        state_input,
                        results,
                        tolerance,
                        &visit,
                        &mut self.random,
                    );
                    match &done {
                        Ok(_) => prev = self.event("MapStateSucceeded", prev, None),
                        Err(f) => {
                            failed_event = Some("MapStateFailed");
                            propagated = iteration_failed
                                && f.error != names::EXCEED_TOLERATED_FAILURE_THRESHOLD;
                        }
                    }
                    done
                }
            };
            let failure = match outcome {
                Ok(Action::Next {
                    state: next,
                    output,
                }) => {
                    let exited = self
                        .exited(type_name, &state.name, &output, prev)
                        .map_err(|f| fail(f, prev))?;
                    return Ok((Transition::Next(next), output, exited));
                }
                Ok(Action::Succeed { output }) => {
                    let exited = self
                        .exited(type_name, &state.name, &output, prev)
                        .map_err(|f| fail(f, prev))?;
                    return Ok((Transition::End, output, exited));
                }
                Ok(other) => Failure::runtime(format!("unexpected action after a task: {other:?}")),
                Err(failure) => failure,
            };
            if failure.error == names::RUNTIME {
                if let Some(kind) = failed_event {
                    prev = self.event(kind, prev, None);
                }
                return Err(if propagated {
                    Stop {
                        failure,
                        prev,
                        timed_out: false,
                    }
                } else {
                    fail(failure, prev)
                });
            }
            match self.recover(
                m,
                id,
                input.clone(),
                failure,
                &mut retries,
                prev,
                failed_event,
            )? {
                Some(done) => return Ok(done),
                None => continue,
            }
        }
    }

    /// Runs a Parallel state's branches, one after the other, each on `input`; stops at the
    /// first failing branch. Returns the outputs, that failure, and the last event id.
    fn branches(
        &mut self,
        branches: &[StateMachine],
        input: &Value,
        started: u64,
    ) -> Result<(Vec<Value>, Option<Failure>, u64), Stop> {
        let mut outputs = Vec::with_capacity(branches.len());
        let mut prev = started;
        for branch in branches {
            match self.machine(branch, input.clone(), started) {
                Ok((out, last)) => {
                    outputs.push(out);
                    prev = last;
                }
                Err(stop) if stop.timed_out => return Err(stop),
                Err(stop) => return Ok((outputs, Some(stop.failure), stop.prev)),
            }
        }
        Ok((outputs, None, prev))
    }

    /// Runs a Map state's iterations in item order with their `MapIteration*` events. Inline
    /// mode stops at the first failure; distributed mode runs every item (failure tolerance).
    fn iterations(
        &mut self,
        state: &crate::definition::State,
        map: &crate::definition::MapState,
        items: Vec<Value>,
        started: u64,
    ) -> Result<(Vec<Result<Value, Failure>>, u64), Stop> {
        let inline = map.mode == crate::definition::ProcessorMode::Inline;
        let mut results = Vec::with_capacity(items.len());
        let mut prev = started;
        for (index, item) in items.into_iter().enumerate() {
            let it = || Iteration {
                name: state.name.clone(),
                index,
            };
            let s = self.event(
                "MapIterationStarted",
                prev,
                Some(Details::MapIterationStarted(it())),
            );
            match self.machine(&map.processor, item, s) {
                Ok((out, last)) => {
                    let details = Some(Details::MapIterationSucceeded(it()));
                    prev = self.event("MapIterationSucceeded", last, details);
                    results.push(Ok(out));
                }
                Err(stop) if stop.timed_out => return Err(stop),
                Err(stop) => {
                    let details = Some(Details::MapIterationFailed(it()));
                    prev = self.event("MapIterationFailed", stop.prev, details);
                    results.push(Err(stop.failure));
                    if inline {
                        break;
                    }
                }
            }
        }
        Ok((results, prev))
    }

    /// Retry (sleep, then `Ok(None)`: run the state again), catch (`Ok(Some(..))`: transition),
    /// or fail. `failed_event` (`ParallelStateFailed`, `MapStateFailed`) is recorded first when
    /// the failure is caught or fails the machine, not when the state is retried.
    #[allow(clippy::too_many_arguments)] // one call site per kind of failure; all are needed
    fn recover(
        &mut self,
        m: &StateMachine,
        id: StateId,
        state_input: Value,
        failure: Failure,
        retries: &mut RetryState,
        prev: u64,
        failed_event: Option<&'static str>,
    ) -> Result<Option<(Transition, Value, u64)>, Stop> {
        let state = m.state(id);
        match m.recover(id, state_input, failure, retries, &mut self.random) {
            Recovery::Retry { delay_seconds } => {
                // Backoff without MaxDelaySeconds grows without bound: a delay past the end of
                // representable time waits "forever" (until the execution's deadline, if any).
                let now = self.host.now();
                let due = chrono::Duration::try_milliseconds((delay_seconds * 1000.0) as i64)
                    .and_then(|delay| now.checked_add_signed(delay))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                self.sleep(due, prev)?;
                Ok(None)
            }
            Recovery::Catch {
                state: next,
                output,
            } => {
                let prev = match failed_event {
                    Some(kind) => self.event(kind, prev, None),
                    None => prev,
                };
                let exited = self
                    .exited(state.kind.type_name(), &state.name, &output, prev)
                    .map_err(|failure| Stop {
                        failure,
                        prev,
                        timed_out: false,
                    })?;
                Ok(Some((Transition::Next(next), output, exited)))
            }
            Recovery::Fail(failure) => Err(Stop {
                failure,
                prev: match failed_event {
                    Some(kind) => self.event(kind, prev, None),
                    None => prev,
                },
                timed_out: false,
            }),
        }
    }

    /// Scheduled/Started/Succeeded-or-Failed events around one task run.
    fn task(&mut self, state: &str, call: &TaskCall, prev: u64) -> (Result<Value, Failure>, u64) {
        let kind = ResourceKind::of(&call.resource);
        let scheduled = match &kind {
            ResourceKind::Lambda => self.event(
                "LambdaFunctionScheduled",
                prev,
                Some(Details::LambdaFunctionScheduled {
                    resource: call.resource.clone(),
                    input: call.input.to_string(),
                    input_details: Truncation::default(),
                    timeout_in_seconds: call.timeout_seconds,
                }),
            ),
            ResourceKind::Service {
                resource_type,
                resource,
            } => self.event(
                "TaskScheduled",
                prev,
                Some(Details::TaskScheduled {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                    region: "us-east-1".into(),
                    parameters: call.input.to_string(),
                    timeout_in_seconds: call.timeout_seconds,
                    heartbeat_in_seconds: call.heartbeat_seconds,
                }),
            ),
        };
        let started = match &kind {
            ResourceKind::Lambda => self.event("LambdaFunctionStarted", scheduled, None),
            ResourceKind::Service {
                resource_type,
                resource,
            } => self.event(
                "TaskStarted",
                scheduled,
                Some(Details::TaskStarted {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                }),
            ),
        };
        let result = self.host.run_task(state, call);
        let last = match (&result, &kind) {
            (Ok(out), ResourceKind::Lambda) => self.event(
                "LambdaFunctionSucceeded",
                started,
                Some(Details::LambdaFunctionSucceeded {
                    output: out.to_string(),
                    output_details: Truncation::default(),
                }),
            ),
            (
                Ok(out),
                ResourceKind::Service {
                    resource_type,
                    resource,
                },
            ) => self.event(
                "TaskSucceeded",
                started,
                Some(Details::TaskSucceeded {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                    output: out.to_string(),
                    output_details: Truncation::default(),
                }),
            ),
            (Err(f), ResourceKind::Lambda) => self.event(
                "LambdaFunctionFailed",
                started,
                Some(Details::LambdaFunctionFailed(ErrorDetails {
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                })),
            ),
            (
                Err(f),
                ResourceKind::Service {
                    resource_type,
                    resource,
                },
            ) => self.event(
                "TaskFailed",
                started,
                Some(Details::TaskFailed {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                }),
            ),
        };
        (result, last)
    }

    /// Records the state's exit; an output over the payload limit fails the state instead
    /// (`States.DataLimitExceeded`).
    fn exited(
        &mut self,
        type_name: &str,
        name: &str,
        output: &Value,
        prev: u64,
    ) -> Result<u64, Failure> {
        let output = output.to_string();
        if let Some(limit) = self.max_payload
            && output.len() > limit
        {
            return Err(Failure::data_limit(format!(
                "The state/task '{name}' returned a result with a size exceeding the maximum \
                 number of bytes service limit ({} bytes, limit {limit} bytes).",
                output.len()
            )));
        }
        Ok(self.event(
            exited_kind(type_name),
            prev,
            Some(Details::StateExited {
                name: name.to_owned(),
                output,
                output_details: Truncation::default(),
            }),
        ))
    }
}

/// Whether entering `state` hands out a task token (`$$.Task.Token`).
fn waits_for_token(state: &crate::definition::State) -> bool {
    matches!(&state.kind, Kind::Task(t) if t.resource.ends_with(".waitForTaskToken"))
}

/// An opaque task token, drawn from the run's seeded randomness.
fn task_token(random: &mut SplitMix64) -> String {
    use crate::Random as _;
    format!("{:016x}{:016x}", random.next_u64(), random.next_u64())
}

fn entered_kind(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateEntered",
        "Task" => "TaskStateEntered",
        "Choice" => "ChoiceStateEntered",
        "Wait" => "WaitStateEntered",
        "Succeed" => "SucceedStateEntered",
        "Fail" => "FailStateEntered",
        "Parallel" => "ParallelStateEntered",
        _ => "MapStateEntered",
    }
}

fn exited_kind(type_name: &str) -> &'static str {
    match type_name {
        "Pass" => "PassStateExited",
        "Task" => "TaskStateExited",
        "Choice" => "ChoiceStateExited",
        "Wait" => "WaitStateExited",
        "Succeed" => "SucceedStateExited",
        "Parallel" => "ParallelStateExited",
        _ => "MapStateExited",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every task fails; the clock is virtual.
    struct FailingHost {
        now: DateTime<Utc>,
        calls: usize,
    }

    impl Host for FailingHost {
        fn run_task(&mut self, _: &str, _: &TaskCall) -> Result<Value, Failure> {
            self.calls += 1;
            Err(Failure::new("E", "always"))
        }
        fn now(&mut self) -> DateTime<Utc> {
            self.now
        }
        fn sleep_until(&mut self, until: DateTime<Utc>) {
            self.now = self.now.max(until);
        }
    }

    #[test]
    fn retry_backoff_past_the_end_of_time_does_not_panic() {
        // 99999999 s x 10^n overflows chrono's dates after a few retries.
        let machine = StateMachine::parse(&json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 99999999,
                       "BackoffRate": 10, "MaxAttempts": 12}],
            "End": true}}}))
        .unwrap();
        let mut host = FailingHost {
            now: "2026-11-23T00:00:00Z".parse().unwrap(),
            calls: 0,
        };
        let outcome = run(&machine, json!({}), &mut host, Options::default());
        assert_eq!(outcome.status, Status::Failed);
        assert_eq!(host.calls, 13);
    }
}
