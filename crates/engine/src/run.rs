//! Runs one execution in memory to its end: tasks run concurrently, timers on the engine's
//! clock, the deadline enforced. EXPRESS executions are exactly this; STANDARD executions add a
//! durable commit of every step (next slice).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use serde_json::Value;
use sluice_asl::definition::StateMachine;
use sluice_asl::driver::{Effect, End, Execution, Settings, ThreadId};
use sluice_asl::history::HistoryEvent;
use tokio::task::JoinSet;

use crate::{Clock, Dispatch, Task};

/// An ended execution.
#[derive(Debug, Clone)]
pub struct Finished {
    pub end: End,
    pub history: Vec<HistoryEvent>,
}

/// Runs `machine` on `input` until it ends.
pub async fn run<D: Dispatch>(
    machine: Arc<StateMachine>,
    input: Value,
    settings: Settings,
    test_case: Option<String>,
    dispatcher: Arc<D>,
    clock: &Clock,
) -> Finished {
    let execution_arn = settings.context.id.clone();
    let machine_name = settings.context.state_machine_name.clone();
    let mut ex = Execution::start(&machine, input, settings, clock.now_ms());
    let mut history = ex.take_events();
    let mut tasks: JoinSet<(ThreadId, Result<Value, sluice_asl::Failure>)> = JoinSet::new();
    let mut timers: BinaryHeap<Reverse<(i64, ThreadId)>> = BinaryHeap::new();
    loop {
        for effect in ex.advance(&machine, clock.now_ms()) {
            match effect {
                Effect::RunTask {
                    thread,
                    state,
                    call,
                } => {
                    let task = Task {
                        execution: execution_arn.clone(),
                        machine: machine_name.clone(),
                        state,
                        call,
                        test_case: test_case.clone(),
                    };
                    let dispatcher = Arc::clone(&dispatcher);
                    tasks.spawn(async move { (thread, dispatcher.dispatch(task).await) });
                }
                Effect::Sleep { thread, due_ms } => timers.push(Reverse((due_ms, thread))),
            }
        }
        history.extend(ex.take_events());
        if let Some(end) = ex.end() {
            tasks.abort_all();
            return Finished {
                end: end.clone(),
                history,
            };
        }
        let next_timer = timers.peek().map(|Reverse((due, _))| *due);
        let deadline = ex.deadline_ms();
        let wake_at = match (next_timer, deadline) {
            (Some(t), Some(d)) => Some(t.min(d)),
            (t, d) => t.or(d),
        };
        if tasks.is_empty() && wake_at.is_none() {
            // Nothing in flight, nothing scheduled, not ended: cannot happen while effects are
            // performed; end the execution rather than hang.
            ex.time_out(clock.now_ms());
            continue;
        }
        tokio::select! {
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                let (thread, result) = joined.unwrap_or_else(|e| {
                    (usize::MAX, Err(sluice_asl::Failure::runtime(format!("task panicked: {e}"))))
                });
                ex.task_finished(thread, result, clock.now_ms());
            }
            () = async {
                match wake_at {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = clock.now_ms();
                if deadline.is_some_and(|d| now >= d) {
                    ex.time_out(now);
                } else {
                    while let Some(Reverse((due, thread))) = timers.peek().copied() {
                        if due > now {
                            break;
                        }
                        timers.pop();
                        ex.wake(thread, now);
                    }
                }
            }
        }
    }
}
