//! A synchronous, in-process driver: runs one [`driver::Execution`](crate::driver::Execution)
//! to its end, performing its effects through a [`Host`] (tasks, the clock, sleeping). It is
//! what `sluice run`, the tests and the benches use; the durable engine drives the same
//! `driver::Execution` asynchronously.
//!
//! Tasks run one at a time in the order the execution asks for them; when every thread waits
//! on a timer, the host sleeps until the earliest one (or the execution's deadline).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::Failure;
use crate::definition::StateMachine;
use crate::driver::{Effect, Execution, ObjectCall, Settings, ThreadId};
use crate::history::HistoryEvent;
use crate::step::{self, TaskCall};

pub use crate::driver::Status;

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
    /// Makes an object-store call of a distributed Map (its ItemReader, its ResultWriter).
    /// Without a store, the Map fails with `States.ItemReaderFailed` or
    /// `States.ResultWriterFailed` and this cause.
    fn call_object(&mut self, call: &ObjectCall) -> Result<Value, Failure> {
        Err(Failure::new(
            "Sluice.NoObjectStore",
            format!(
                "this runner has no object store for {} (run the machine on `sluice serve`)",
                call.resource
            ),
        ))
    }
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Inputs and outputs over this many bytes fail with `States.DataLimitExceeded`.
    pub max_payload_bytes: Option<usize>,
    /// Seed of the randomness intrinsics and retry jitter draw from.
    pub seed: u64,
    /// The `$$.Execution` / `$$.StateMachine` fields.
    pub execution: step::Execution,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_payload_bytes: Some(DEFAULT_MAX_PAYLOAD_BYTES),
            seed: 0x5EED,
            execution: step::Execution {
                id: "arn:aws:states:us-east-1:000000000000:execution:machine:run".into(),
                name: "run".into(),
                role_arn: "arn:aws:iam::000000000000:role/sluice".into(),
                state_machine_id: "arn:aws:states:us-east-1:000000000000:stateMachine:machine"
                    .into(),
                state_machine_name: "machine".into(),
                ..step::Execution::default()
            },
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

fn millis(host: &mut dyn Host) -> i64 {
    host.now().timestamp_millis()
}

/// Runs `machine` on `input` to completion.
pub fn run(machine: &StateMachine, input: Value, host: &mut dyn Host, options: Options) -> Outcome {
    let settings = Settings {
        max_payload_bytes: options.max_payload_bytes,
        seed: options.seed,
        context: options.execution,
    };
    let mut ex = Execution::start(machine, input, settings, millis(host));
    let mut history = Vec::new();
    let mut tasks = std::collections::VecDeque::new();
    let mut objects = std::collections::VecDeque::new();
    let mut sleeping: Vec<(i64, ThreadId)> = Vec::new();
    while ex.end().is_none() {
        for effect in ex.advance(machine, millis(host)) {
            match effect {
                Effect::RunTask {
                    thread,
                    state,
                    call,
                    ..
                } => tasks.push_back((thread, state, call)),
                Effect::Sleep { thread, due_ms } => sleeping.push((due_ms, thread)),
                // Tasks run here to their end before anything else happens: none outlives
                // its deadline.
                Effect::Deadline { .. } => {}
                Effect::Objects { thread, id, calls } => objects.push_back((thread, id, calls)),
            }
        }
        history.extend(ex.take_events());
        if ex.end().is_some() {
            break;
        }
        if let Some((thread, id, calls)) = objects.pop_front() {
            let results: Result<Vec<Value>, Failure> =
                calls.iter().map(|call| host.call_object(call)).collect();
            ex.objects_done(thread, id, results, millis(host));
            continue;
        }
        if let Some((thread, state, call)) = tasks.pop_front() {
            let result = host.run_task(&state, &call);
            ex.task_finished(thread, result, millis(host));
            continue;
        }
        // Every thread waits on a timer: sleep until the earliest, or time out.
        sleeping.retain(|&(_, thread)| ex.is_waiting(thread));
        let Some(&(due, thread)) = sleeping.iter().min() else {
            break;
        };
        if let Some(deadline) = ex.deadline_ms()
            && due > deadline
        {
            host.sleep_until(at(deadline));
            ex.time_out(millis(host));
            break;
        }
        host.sleep_until(at(due));
        sleeping.retain(|&s| s != (due, thread));
        // Slept until `due`: it is due, whatever a host that does not keep time says.
        ex.wake(thread, millis(host).max(due));
    }
    history.extend(ex.take_events());
    let end = ex.end().cloned();
    match end {
        Some(end) => Outcome {
            status: end.status,
            output: end.output,
            failure: end.failure,
            history,
        },
        // Unreachable while every effect is performed; report rather than hang.
        None => Outcome {
            status: Status::Failed,
            output: None,
            failure: Some(Failure::runtime(
                "the execution stopped with nothing left to run",
            )),
            history,
        },
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
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
