//! Performing a `driver::Execution`'s effects: tasks run concurrently through a [`Dispatch`],
//! timers (Wait, retry delays, task deadlines) wait on the engine's [`Clock`], and the execution
//! deadline is watched. Shared by the in-memory runner and the durable service.
//!
//! A `.waitForTaskToken` task ends with its callback (SendTaskSuccess, SendTaskFailure, which the
//! service applies to the execution), not with its dispatch: the dispatcher makes the
//! integration's call ([`Dispatch::waits_for_callback`]), or stands in for the whole task (a
//! mocked response), or has nothing to call (then nothing is dispatched). Every report names
//! the run of the task it is about (its `TaskScheduled` event): a late one — from a run that
//! timed out or ended by its callback — changes nothing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use sluice_asl::Failure;
use sluice_asl::driver::{Effect, Execution, ObjectCall, ThreadId};
use sluice_asl::history::ResourceKind;
use sluice_asl::step::TaskCall;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};

use crate::activities::{ActivityQueues, ActivityTask};
use crate::dispatch::{Submission, Submissions};
use crate::{Clock, Dispatch, Task};

/// A dispatch that returned.
pub(crate) struct Returned {
    thread: ThreadId,
    /// The run of the task: its `TaskScheduled` event.
    scheduled: u64,
    /// The integration's call of a task that waits for its callback: `Ok` submits it.
    submits: bool,
    result: Result<Value, Failure>,
}

/// Object-store calls of a distributed Map that returned: `(thread, effect id, results)`.
pub(crate) type ObjectsReturned = (ThreadId, u64, Result<Vec<Value>, Failure>);

/// What came back while the execution waited.
pub(crate) enum Outcome {
    Task(Returned),
    /// The object-store calls of an [`Effect::Objects`] returned.
    Objects(ObjectsReturned),
    /// A running task reported its submission ([`Task::submitted`]).
    Submitted(Submission),
    /// The clock reached the earliest timer (or the deadline) at this time.
    Time(i64),
    /// Nothing in flight and nothing scheduled.
    Idle,
    /// A task was cancelled: the runtime is going away (a shutdown, the end of the process).
    /// A durable execution stops without recording anything and resumes from its last
    /// committed step; elsewhere it is the task's failure.
    Cancelled(Returned),
}

/// The effects in flight for one execution.
pub(crate) struct Performer<D> {
    dispatcher: Arc<D>,
    tasks: JoinSet<Returned>,
    /// The run each dispatch in flight is for, should it panic.
    running: HashMap<Id, (ThreadId, u64)>,
    /// Object-store calls in flight ([`Effect::Objects`]), and the effect each is for.
    objects: JoinSet<ObjectsReturned>,
    objects_running: HashMap<Id, (ThreadId, u64)>,
    timers: BinaryHeap<Reverse<(i64, ThreadId)>>,
    /// Whether callbacks can reach the execution (the service routes them to durable ones).
    callbacks: bool,
    /// The tasks (thread, run) that wait for their callback: the execution is not idle.
    awaiting: HashMap<ThreadId, u64>,
    submissions: (
        mpsc::UnboundedSender<Submission>,
        mpsc::UnboundedReceiver<Submission>,
    ),
    execution: String,
    machine: String,
    test_case: Option<String>,
    /// Where activity tasks wait for a worker (none: they cannot run, as without callbacks).
    activities: Option<Arc<ActivityQueues>>,
}

impl<D: Dispatch> Performer<D> {
    /// `callbacks`: whether SendTaskSuccess and its kin reach the execution; without them a
    /// task that waits for its callback fails at once.
    pub(crate) fn new(
        dispatcher: Arc<D>,
        execution: String,
        machine: String,
        test_case: Option<String>,
        callbacks: bool,
    ) -> Self {
        Self {
            dispatcher,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            objects: JoinSet::new(),
            objects_running: HashMap::new(),
            timers: BinaryHeap::new(),
            callbacks,
            awaiting: HashMap::new(),
            submissions: mpsc::unbounded_channel(),
            execution,
            machine,
            test_case,
            activities: None,
        }
    }

    /// Activity tasks go to `queues`, for GetActivityTask.
    pub(crate) fn with_activities(mut self, queues: Arc<ActivityQueues>) -> Self {
        self.activities = Some(queues);
        self
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
                    let mut submits = false;
                    if task.call.task_token.is_some() {
                        let answered = self.dispatcher.answers(&task);
                        submits = answered && self.dispatcher.waits_for_callback(&task);
                        if !answered || submits {
                            if !self.callbacks {
                                self.fail(thread, scheduled, Failure::runtime(NO_CALLBACKS));
                                continue;
                            }
                            self.awaiting.insert(thread, scheduled);
                            if let (false, Some(queues), ResourceKind::Activity { arn }) = (
                                answered,
                                &self.activities,
                                ResourceKind::of(&task.call.resource),
                            ) {
                                queues.push(
                                    &arn,
                                    ActivityTask {
                                        token: task.call.task_token.clone().unwrap_or_default(),
                                        input: sluice_asl::json_text(&task.call.input),
                                    },
                                );
                            }
                            // Nothing to call, or called before a restart: wait.
                            if !answered || task.submitted.is_some() {
                                continue;
                            }
                        }
                    }
                    let dispatcher = Arc::clone(&self.dispatcher);
                    let handle = self.tasks.spawn(async move {
                        let result = dispatcher.dispatch(task).await;
                        Returned {
                            thread,
                            scheduled,
                            submits,
                            result,
                        }
                    });
                    self.running.insert(handle.id(), (thread, scheduled));
                }
                Effect::Sleep { thread, due_ms } | Effect::Deadline { thread, due_ms } => {
                    self.timers.push(Reverse((due_ms, thread)));
                }
                Effect::Objects { thread, id, calls } => {
                    let dispatcher = Arc::clone(&self.dispatcher);
                    let (execution, machine) = (self.execution.clone(), self.machine.clone());
                    let handle = self.objects.spawn(async move {
                        let result = object_calls(&*dispatcher, execution, machine, calls).await;
                        (thread, id, result)
                    });
                    self.objects_running.insert(handle.id(), (thread, id));
                }
            }
        }
    }

    /// Ends the run `scheduled` of `thread`'s task with `failure`, as if dispatched.
    fn fail(&mut self, thread: ThreadId, scheduled: u64, failure: Failure) {
        let handle = self.tasks.spawn(std::future::ready(Returned {
            thread,
            scheduled,
            submits: false,
            result: Err(failure),
        }));
        self.running.insert(handle.id(), (thread, scheduled));
    }

    /// Waits for the next task result, or for the earliest timer or the execution's deadline.
    /// While a task of `ex` waits for its callback this waits too, for as long as it takes.
    pub(crate) async fn next(&mut self, ex: &Execution, clock: &Clock) -> Outcome {
        let next_timer = self.timers.peek().map(|Reverse((due, _))| *due);
        let wake_at = match (next_timer, ex.deadline_ms()) {
            (Some(t), Some(d)) => Some(t.min(d)),
            (t, d) => t.or(d),
        };
        if let Ok(submission) = self.submissions.1.try_recv() {
            return Outcome::Submitted(submission);
        }
        self.awaiting
            .retain(|thread, scheduled| ex.current_task(*thread) == Some(*scheduled));
        if self.tasks.is_empty()
            && self.objects.is_empty()
            && wake_at.is_none()
            && self.awaiting.is_empty()
        {
            return Outcome::Idle;
        }
        tokio::select! {
            // A task reports its submission before it ends: record that first.
            biased;
            Some(submission) = self.submissions.1.recv() => Outcome::Submitted(submission),
            Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                match joined {
                    Ok((id, returned)) => {
                        self.running.remove(&id);
                        Outcome::Task(returned)
                    }
                    Err(e) => {
                        let (thread, scheduled) =
                            self.running.remove(&e.id()).unwrap_or((usize::MAX, 0));
                        let what = if e.is_cancelled() { "was cancelled" } else { "panicked" };
                        let result = Err(Failure::runtime(format!("task {what}: {e}")));
                        let returned = Returned { thread, scheduled, submits: false, result };
                        if e.is_cancelled() {
                            Outcome::Cancelled(returned)
                        } else {
                            Outcome::Task(returned)
                        }
                    }
                }
            }
            Some(joined) = self.objects.join_next_with_id(), if !self.objects.is_empty() => {
                match joined {
                    Ok((id, returned)) => {
                        self.objects_running.remove(&id);
                        Outcome::Objects(returned)
                    }
                    Err(e) => {
                        let (thread, id) =
                            self.objects_running.remove(&e.id()).unwrap_or((usize::MAX, 0));
                        if e.is_cancelled() {
                            // As a cancelled task: the runtime is going away.
                            Outcome::Cancelled(Returned {
                                thread: usize::MAX,
                                scheduled: 0,
                                submits: false,
                                result: Err(Failure::runtime("cancelled")),
                            })
                        } else {
                            let failure = Failure::runtime(format!("object call panicked: {e}"));
                            Outcome::Objects((thread, id, Err(failure)))
                        }
                    }
                }
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
            // A late report: that run of the task timed out, or its callback ended it.
            Outcome::Task(r) | Outcome::Cancelled(r)
                if ex.current_task(r.thread) != Some(r.scheduled) => {}
            Outcome::Task(Returned {
                thread,
                scheduled,
                submits: true,
                result: Ok(output),
            }) => ex.task_submitted(thread, scheduled, output, now_ms),
            Outcome::Task(r) | Outcome::Cancelled(r) => {
                ex.task_finished(r.thread, r.result, now_ms)
            }
            Outcome::Objects((thread, id, result)) => ex.objects_done(thread, id, result, now_ms),
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
        self.objects.abort_all();
    }
}

/// Makes a distributed Map's object-store calls in order through `dispatcher`, as tasks of no
/// state (`Task::state` is empty; no mock configuration answers them), stopping at the first
/// failure.
async fn object_calls<D: Dispatch>(
    dispatcher: &D,
    execution: String,
    machine: String,
    calls: Vec<ObjectCall>,
) -> Result<Vec<Value>, Failure> {
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        let task = Task {
            execution: execution.clone(),
            machine: machine.clone(),
            state: String::new(),
            call: TaskCall {
                resource: call.resource,
                input: call.parameters,
                timeout_seconds: None,
                heartbeat_seconds: None,
                task_token: None,
                credentials: None,
                invocation: 0,
            },
            test_case: None,
            scheduled_event_id: 0,
            submitted: None,
            submissions: None,
        };
        results.push(dispatcher.dispatch(task).await?);
    }
    Ok(results)
}

/// Why a task that waits for its callback fails where no callback can reach it.
const NO_CALLBACKS: &str = "Express state machine does not support '.waitForTaskToken' service \
                            integration: no callback can reach an EXPRESS execution";

#[cfg(test)]
mod tests {
    use sluice_asl::definition::StateMachine;
    use sluice_asl::driver::Settings;

    use super::*;

    /// Answers no task: each stays in flight until it is aborted.
    struct Never;

    impl Dispatch for Never {
        async fn dispatch(&self, _: Task) -> Result<Value, Failure> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_task_cancelled_by_the_runtime_is_a_cancellation_not_the_tasks_failure() {
        let machine = StateMachine::parse_str(
            r#"{"StartAt":"T","States":{"T":{"Type":"Task",
                "Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","End":true}}}"#,
        )
        .unwrap();
        let settings = Settings {
            max_payload_bytes: None,
            seed: 1,
            context: sluice_asl::step::Execution::default(),
        };
        let mut ex = Execution::start(&machine, serde_json::json!({}), settings, 0);
        let mut performer = Performer::new(Arc::new(Never), "e".into(), "m".into(), None, true);
        performer.perform(ex.advance(&machine, 0));
        // As when the runtime goes away: the task is cancelled, not finished.
        performer.abort();
        let clock = Clock::system();
        match performer.next(&ex, &clock).await {
            Outcome::Cancelled(returned) => assert!(returned.result.is_err()),
            _ => panic!("a cancelled task must not read as its result"),
        }
    }
}
