//! Performing a `driver::Execution`'s effects: tasks run concurrently through a [`Dispatch`],
//! timers wait on the engine's [`Clock`], and the execution deadline is watched. Shared by the
//! in-memory runner and the durable service.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use serde_json::Value;
use sluice_asl::Failure;
use sluice_asl::driver::{Effect, Execution, ThreadId};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::dispatch::{Submission, Submissions};
use crate::{Clock, Dispatch, Task};

/// What came back while the execution waited.
pub(crate) enum Outcome {
    Task(ThreadId, Result<Value, Failure>),
    /// A running task reported its submission ([`Task::submitted`]).
    Submitted(Submission),
    /// The clock reached the earliest timer (or the deadline) at this time.
    Time(i64),
    /// Nothing in flight and nothing scheduled.
    Idle,
}

/// The effects in flight for one execution.
pub(crate) struct Performer<D> {
    dispatcher: Arc<D>,
    tasks: JoinSet<(ThreadId, Result<Value, Failure>)>,
    timers: BinaryHeap<Reverse<(i64, ThreadId)>>,
    submissions: (
        mpsc::UnboundedSender<Submission>,
        mpsc::UnboundedReceiver<Submission>,
    ),
    execution: String,
    machine: String,
    test_case: Option<String>,
}

impl<D: Dispatch> Performer<D> {
    pub(crate) fn new(
        dispatcher: Arc<D>,
        execution: String,
        machine: String,
        test_case: Option<String>,
    ) -> Self {
        Self {
            dispatcher,
            tasks: JoinSet::new(),
            timers: BinaryHeap::new(),
            submissions: mpsc::unbounded_channel(),
            execution,
            machine,
            test_case,
        }
    }

    /// Starts the tasks and arms the timers.
    pub(crate) fn perform(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::RunTask {
                    thread,
                    state,
                    call,
                    scheduled,
                    submitted,
                } => {
                    let task = Task {
                        execution: self.execution.clone(),
                        machine: self.machine.clone(),
                        state,
                        call,
                        test_case: self.test_case.clone(),
                        scheduled_event_id: scheduled,
                        submitted: submitted.map(|s| *s),
                        submissions: Some(Submissions {
                            sender: self.submissions.0.clone(),
                            thread,
                        }),
                    };
                    let dispatcher = Arc::clone(&self.dispatcher);
                    self.tasks
                        .spawn(async move { (thread, dispatcher.dispatch(task).await) });
                }
                Effect::Sleep { thread, due_ms } => self.timers.push(Reverse((due_ms, thread))),
            }
        }
    }

    /// Waits for the next task result, or for the earliest timer or `deadline_ms`.
    pub(crate) async fn next(&mut self, deadline_ms: Option<i64>, clock: &Clock) -> Outcome {
        let next_timer = self.timers.peek().map(|Reverse((due, _))| *due);
        let wake_at = match (next_timer, deadline_ms) {
            (Some(t), Some(d)) => Some(t.min(d)),
            (t, d) => t.or(d),
        };
        if let Ok(submission) = self.submissions.1.try_recv() {
            return Outcome::Submitted(submission);
        }
        if self.tasks.is_empty() && wake_at.is_none() {
            return Outcome::Idle;
        }
        tokio::select! {
            // A task reports its submission before it ends: record that first.
            biased;
            Some(submission) = self.submissions.1.recv() => Outcome::Submitted(submission),
            Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                let (thread, result) = joined.unwrap_or_else(|e| {
                    (usize::MAX, Err(Failure::runtime(format!("task panicked: {e}"))))
                });
                Outcome::Task(thread, result)
            }
            () = async {
                match wake_at {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => Outcome::Time(clock.now_ms()),
        }
    }

    /// Applies an outcome to the execution: a task result, due timers, or the deadline.
    pub(crate) fn apply(&mut self, outcome: Outcome, ex: &mut Execution, now_ms: i64) {
        match outcome {
            Outcome::Task(thread, result) => ex.task_finished(thread, result, now_ms),
            Outcome::Submitted((thread, scheduled, output)) => {
                ex.task_submitted(thread, scheduled, output, now_ms);
            }
            Outcome::Time(now) if ex.deadline_ms().is_some_and(|d| now >= d) => ex.time_out(now),
            Outcome::Time(now) => {
                while let Some(Reverse((due, thread))) = self.timers.peek().copied() {
                    if due > now {
                        break;
                    }
                    self.timers.pop();
                    ex.wake(thread, now);
                }
            }
            // Cannot happen while effects are performed; end rather than hang.
            Outcome::Idle => ex.time_out(now_ms),
        }
    }

    /// Drops every task in flight (the execution ended).
    pub(crate) fn abort(&mut self) {
        self.tasks.abort_all();
    }
}
