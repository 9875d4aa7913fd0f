//! A resumable execution: the whole of one execution's progress as plain data, advanced by
//! events from outside and answering with [`Effect`]s — run this task, wake me at T.
//!
//! It owns what the step core does not: the execution's threads (the root machine, each
//! Parallel branch, each Map iteration, all concurrent), retry bookkeeping, failure tolerance,
//! and the history with AWS's event types and ids. It does no I/O and reads no clock: time
//! comes in as milliseconds with every call. A driver (the in-process
//! [`interpreter`](crate::interpreter), the durable engine) performs the effects, feeds the
//! outcomes back with [`Execution::task_finished`] and [`Execution::wake`], and persists
//! [`Execution::take_events`] as it goes.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{Kind, ProcessorMode, StateId, StateMachine, Transition};
use crate::history::{Details, ErrorDetails, HistoryEvent, Iteration, ResourceKind, Truncation};
use crate::map_run::{MapRun, MapRunMissing, MapRunStatus, MapRunUpdate};
use crate::step::{
    self, Action, Assigned, CatcherScope, Recovery, RetryState, TaskCall, Tolerance, Visit,
};
use crate::task_token::TaskToken;
use crate::variables::{self, Variables};
use crate::{Failure, Random, SplitMix64, names};

mod objects;

pub use objects::ObjectCall;
use objects::{AfterObjects, Exporting, PendingMap};

/// Index of a thread of an execution: `0` is the root machine.
pub type ThreadId = usize;

/// Settings of one execution.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Inputs and outputs over this many bytes fail with `States.DataLimitExceeded`.
    pub max_payload_bytes: Option<usize>,
    /// Seed of the randomness intrinsics, task tokens and retry jitter draw from.
    pub seed: u64,
    /// The `$$.Execution` / `$$.StateMachine` fields (`start_time` and `input` are set at start).
    pub context: step::Execution,
}

/// Something the driver must do for the execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run the task of `state` and report with [`Execution::task_finished`].
    RunTask {
        thread: ThreadId,
        state: String,
        call: TaskCall,
        /// The id of the task's `TaskScheduled` (`LambdaFunctionScheduled`) event: with the
        /// execution, names this run of the task, the same when it is performed again after a
        /// restart.
        scheduled: u64,
        /// What the task reported as submitted ([`Execution::task_submitted`]) before it was
        /// performed again after a restart, if it did.
        submitted: Option<Box<Value>>,
    },
    /// Call [`Execution::wake`] for `thread` once the time is `due_ms` or later.
    Sleep { thread: ThreadId, due_ms: i64 },
    /// Call [`Execution::wake`] for `thread` once the time is `due_ms` or later: the task it
    /// waits for times out then (`TimeoutSeconds`, `HeartbeatSeconds`) unless it ended first or
    /// a heartbeat moved its deadline (a heartbeat answers with the new `Deadline`). A stale
    /// deadline wakes nothing. A driver whose tasks run to their end synchronously may ignore it.
    Deadline { thread: ThreadId, due_ms: i64 },
    /// Make these object-store calls of a distributed Map (read its items, export its
    /// results) in order, through the task dispatcher, stopping at the first failure; report
    /// with [`Execution::objects_done`]. No Task state runs them: nothing is recorded in the
    /// history. `id` names this effect, the same when it is performed again after a restart.
    Objects {
        thread: ThreadId,
        id: u64,
        calls: Vec<ObjectCall>,
    },
}

/// Why SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat found no task for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The text is not a task token.
    #[error("Invalid Token: 'Invalid token'")]
    Invalid,
    /// The token's task is no longer waiting: it ended, timed out, or the execution did.
    #[error("Task Timed Out: 'Provided task does not exist anymore'")]
    Closed,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Status {
    /// As DescribeExecution spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// The end of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    pub status: Status,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
}

/// Why a thread stopped without succeeding, and its last event.
#[derive(Debug, Clone)]
struct Stop {
    failure: Failure,
    prev: u64,
}

/// Which machine a thread runs: the (state, branch) steps from the root machine down.
type MachinePath = Vec<(StateId, usize)>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Thread {
    parent: Option<(ThreadId, usize)>,
    path: MachinePath,
    state: StateId,
    /// The current state's raw input.
    input: Value,
    /// This thread's last event.
    prev: u64,
    /// The current state's `…StateEntered` event.
    entered: u64,
    entered_time: String,
    retries: RetryState,
    phase: Phase,
    /// The current state took `input` (a Pass, Choice, Wait...): a redrive reads it back from
    /// the state's `…StateEntered` event.
    #[serde(default)]
    input_lost: bool,
    /// A Parallel or Map state that failed: its branches or iterations as they ended, kept so
    /// that a redrive re-runs only the unsuccessful ones.
    #[serde(default)]
    failed_children: Option<Children>,
    /// The workflow variables this thread reads and assigns (persisted with the snapshot, so
    /// a STANDARD execution keeps them across a restart).
    #[serde(default)]
    variables: Variables,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Phase {
    /// About to enter `state`.
    Enter,
    /// Entered: run (or, after a retry delay, re-run) the state.
    Run,
    /// Waiting for the task of an [`Effect::RunTask`] (kept to re-issue it after a restart).
    Task {
        resource: ResourceKind,
        state_input: Value,
        state: String,
        call: TaskCall,
        /// The task's `…Scheduled` event.
        #[serde(default)]
        scheduled: u64,
        /// The output of its `TaskSubmitted` event, once recorded.
        #[serde(default)]
        submitted: Option<Value>,
        /// When the task times out (`TimeoutSeconds` after it started), if ever.
        #[serde(default)]
        timeout_ms: Option<i64>,
        /// When a `.waitForTaskToken` task with `HeartbeatSeconds` times out unless a heartbeat
        /// comes first; each heartbeat moves it.
        #[serde(default)]
        heartbeat_ms: Option<i64>,
    },
    /// The task ended. Never at rest (`advance` follows).
    #[serde(skip)]
    TaskDone {
        resource: ResourceKind,
        state_input: Value,
        result: Result<Value, Failure>,
        /// It ended by timing out (`result` is then `States.Timeout`).
        timed_out: Option<TimedOut>,
    },
    /// Waiting for a wake-up at `due_ms`.
    Sleep { due_ms: i64, then: AfterSleep },
    /// Woken up.
    Woken { then: AfterSleep },
    /// Waiting for branches or iterations.
    Children(Children),
    /// The thread ended without succeeding (its state failed, or the execution failed, timed
    /// out or was aborted around it). Kept for a redrive, which enters the state again.
    Stopped,
    /// Waiting for the object-store calls of an [`Effect::Objects`] (kept to make them again
    /// after a restart).
    Objects {
        id: u64,
        calls: Vec<ObjectCall>,
        then: Box<AfterObjects>,
    },
    /// They returned. Never at rest.
    #[serde(skip)]
    ObjectsDone {
        then: Box<AfterObjects>,
        result: Result<Vec<Value>, Failure>,
    },
    /// A Map's children ended: export their results with these calls. Never at rest.
    #[serde(skip)]
    Exporting {
        calls: Vec<ObjectCall>,
        then: Box<AfterObjects>,
    },
    /// All children ended: settle the state with this outcome. Never at rest.
    #[serde(skip)]
    Settle {
        outcome: Result<Action, Failure>,
        failed_event: Option<StateFailed>,
        propagated: bool,
    },
}

/// How a task timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimedOut {
    /// `TimeoutSeconds` passed.
    Timeout,
    /// `HeartbeatSeconds` passed without a heartbeat: also matched as `States.HeartbeatTimeout`.
    Heartbeat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum AfterSleep {
    /// A Wait state: leave with `output`, take `then` and assign `assign`.
    Leave {
        output: Value,
        then: Transition,
        #[serde(default)]
        assign: Assigned,
    },
    /// A retry delay: run the state again.
    Retry,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Children {
    map: bool,
    state_input: Value,
    results: Vec<Option<Result<Value, Failure>>>,
    /// Map items not started yet.
    queue: VecDeque<(usize, Value)>,
    running: usize,
    max_concurrency: usize,
    tolerance: Tolerance,
    inline: bool,
    /// A distributed Map's Map Run (`MapRunStarted`), redriven as a whole.
    #[serde(default)]
    map_run_arn: Option<String>,
    /// A distributed Map's ResultWriter and what it keeps of each child for the export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    export: Option<Box<Exporting>>,
    /// With an ItemBatcher: how many items each child's batch carries (Map Run counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sizes: Vec<u32>,
}

/// One execution in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Execution {
    threads: Vec<Option<Thread>>,
    ready: VecDeque<ThreadId>,
    /// Taken by the driver after every call; not part of a snapshot.
    #[serde(skip)]
    events: Vec<HistoryEvent>,
    last_event: u64,
    /// Events of a distributed Map's iterations: they belong to the iterations' child
    /// workflows, not to this history (AWS records MapRun events here instead). Counted so
    /// that every quiet event still has an id of its own ([`QUIET`]).
    #[serde(default)]
    quiet_events: u64,
    /// The input as the caller wrote it, until the first state's entered event takes it
    /// (recorded on AWS: `ExecutionStarted` and the first state's input are the text as given,
    /// spacing included; later events hold compact JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_text: Option<String>,
    /// The Map Runs of its distributed Maps, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    map_runs: Vec<MapRun>,
    /// Map Runs changed since the last [`Execution::take_map_runs`].
    #[serde(skip)]
    map_runs_changed: BTreeSet<usize>,
    /// Distributed Maps whose MaxConcurrency UpdateMapRun changed: the next
    /// [`Execution::advance`] starts what now has room.
    #[serde(skip)]
    topped_up: Vec<ThreadId>,
    /// Tasks scheduled so far per state name, across every thread ([`TaskCall::invocation`]).
    /// Part of the snapshot: the number a task is dispatched with survives a restart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    invocations: BTreeMap<String, u32>,
    /// [`Effect::Objects`] issued so far (their ids).
    #[serde(default)]
    object_calls: u64,
    random: SplitMix64,
    /// Shared, not cloned per state: it holds the execution input, which can be large.
    context: Arc<step::Execution>,
    max_payload: Option<usize>,
    deadline_ms: Option<i64>,
    now_ms: i64,
    end: Option<End>,
}

/// Why [`Execution::redrive`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    #[error("Execution is {0} and cannot be redriven")]
    NotRedrivable(&'static str),
    #[error("the input of the state entered at event #{0} is needed to redrive it")]
    MissingInput(u64),
}

/// Marks the id of an event that is not recorded: one of a distributed Map's iterations. An
/// event chained off a quiet event is quiet too, so everything an iteration does (its states,
/// tasks, nested Maps) stays out of the parent's history without each step knowing where it
/// runs; the id stays unique, as task runs are named after it.
const QUIET: u64 = 1 << 62;

/// A version-4 UUID drawn from the execution's own randomness (reproducible per execution).
fn uuid(random: &mut SplitMix64) -> String {
    let (high, low) = (random.next_u64(), random.next_u64());
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0xc << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The cause AWS gives errors raised by a state's own data processing.
fn in_state(state: &str, entered: u64, failure: Failure) -> Failure {
    // A quiet event's id counts the events of the child workflows (see `QUIET`).
    let entered = entered & !QUIET;
    Failure {
        cause: format!(
            "An error occurred while executing the state '{state}' (entered at the event id \
             #{entered}). {}",
            failure.cause
        ),
        ..failure
    }
}

/// The (sub-)machine at `path`.
fn machine_at<'m>(root: &'m StateMachine, path: &[(StateId, usize)]) -> &'m StateMachine {
    let mut m = root;
    for &(state, branch) in path {
        m = match &m.states[state].kind {
            Kind::Parallel(p) => &p.branches[branch],
            Kind::Map(map) => &map.processor,
            other => unreachable!("a thread path goes through a {} state", other.type_name()),
        };
    }
    m
}

impl Execution {
    /// Starts an execution of `machine` on `input` at `now_ms`.
    pub fn start(machine: &StateMachine, input: Value, settings: Settings, now_ms: i64) -> Self {
        let text = crate::json_text(&input);
        Self::start_with_text(machine, input, text, settings, now_ms)
    }

    /// [`Execution::start`] with the input's text as the caller sent it (`input` parsed from
    /// it): the history shows that text, as AWS's does.
    pub fn start_with_text(
        machine: &StateMachine,
        input: Value,
        input_text: String,
        settings: Settings,
        now_ms: i64,
    ) -> Self {
        let mut context = settings.context;
        context.start_time = iso(now_ms);
        context.input = input.clone();
        let mut ex = Execution {
            threads: Vec::new(),
            ready: VecDeque::new(),
            events: Vec::new(),
            last_event: 0,
            quiet_events: 0,
            input_text: None,
            map_runs: Vec::new(),
            map_runs_changed: BTreeSet::new(),
            topped_up: Vec::new(),
            invocations: BTreeMap::new(),
            object_calls: 0,
            random: SplitMix64(settings.seed),
            context: Arc::new(context),
            max_payload: settings.max_payload_bytes,
            deadline_ms: machine
                .timeout_seconds
                .map(|s| now_ms.saturating_add((s as i64).saturating_mul(1000))),
            now_ms,
            end: None,
        };
        let started = ex.event(
            "ExecutionStarted",
            0,
            Some(Details::ExecutionStarted {
                input: input_text.clone(),
                input_details: Truncation::default(),
                role_arn: ex.context.role_arn.clone(),
            }),
        );
        if let Err(failure) = ex.check_size(&input, "input") {
            ex.finish_execution(Err(Stop {
                failure,
                prev: started,
            }));
            return ex;
        }
        ex.input_text = Some(input_text);
        // AWS: the first state's entered event follows event 0, not ExecutionStarted.
        ex.spawn(
            None,
            Vec::new(),
            machine.start_at,
            input,
            0,
            Variables::default(),
        );
        ex
    }

    /// How the execution ended, once it has.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// When the execution times out (`TimeoutSeconds`), if ever.
    pub fn deadline_ms(&self) -> Option<i64> {
        self.deadline_ms
    }

    /// The history events recorded since the last call.
    pub fn take_events(&mut self) -> Vec<HistoryEvent> {
        std::mem::take(&mut self.events)
    }

    /// Every Map Run of the execution, oldest first.
    pub fn map_runs(&self) -> &[MapRun] {
        &self.map_runs
    }

    /// The Map Runs started or changed since the last call (a snapshot of each).
    pub fn take_map_runs(&mut self) -> Vec<MapRun> {
        std::mem::take(&mut self.map_runs_changed)
            .into_iter()
            .filter_map(|i| self.map_runs.get(i).cloned())
            .collect()
    }

    /// UpdateMapRun: new limits for a Map Run. A RUNNING run applies them to what it has not
    /// decided yet (more room starts queued items on the next [`Execution::advance`]; a
    /// tolerance counts when the run ends); an ended run only records them.
    pub fn update_map_run(&mut self, arn: &str, update: MapRunUpdate) -> Result<(), MapRunMissing> {
        let index = self
            .map_runs
            .iter()
            .position(|r| r.arn == arn)
            .ok_or(MapRunMissing)?;
        self.map_runs[index].apply(update);
        self.map_runs_changed.insert(index);
        for (tid, t) in self.threads.iter_mut().enumerate() {
            let Some(Thread {
                phase: Phase::Children(c),
                ..
            }) = t
            else {
                continue;
            };
            if c.map_run_arn.as_deref() != Some(arn) {
                continue;
            }
            if let Some(n) = update.max_concurrency {
                c.max_concurrency = n as usize;
                self.topped_up.push(tid);
            }
            if let Some(p) = update.tolerated_failure_percentage {
                c.tolerance.percentage = Some(p);
            }
            if let Some(n) = update.tolerated_failure_count {
                c.tolerance.count = Some(n);
            }
        }
        Ok(())
    }

    /// Whether `thread` is still waiting for something (a task or a wake-up).
    pub fn is_waiting(&self, thread: ThreadId) -> bool {
        matches!(
            self.threads.get(thread),
            Some(Some(Thread {
                phase: Phase::Task { .. } | Phase::Sleep { .. },
                ..
            }))
        )
    }

    /// What the execution is waiting for, as effects: after a restart from a snapshot the
    /// driver performs these again (tasks are at-least-once; timers keep their due time).
    pub fn pending_effects(&self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (thread, t) in self.threads.iter().enumerate() {
            match t.as_ref().map(|t| &t.phase) {
                Some(Phase::Task {
                    state,
                    call,
                    scheduled,
                    submitted,
                    timeout_ms,
                    heartbeat_ms,
                    ..
                }) => {
                    effects.push(Effect::RunTask {
                        thread,
                        state: state.clone(),
                        call: call.clone(),
                        scheduled: *scheduled,
                        submitted: submitted.clone().map(Box::new),
                    });
                    if let Some(due_ms) = earliest(*timeout_ms, *heartbeat_ms) {
                        effects.push(Effect::Deadline { thread, due_ms });
                    }
                }
                Some(Phase::Sleep { due_ms, .. }) => {
                    effects.push(Effect::Sleep {
                        thread,
                        due_ms: *due_ms,
                    });
                }
                Some(Phase::Objects { id, calls, .. }) => {
                    effects.push(Effect::Objects {
                        thread,
                        id: *id,
                        calls: calls.clone(),
                    });
                }
                _ => {}
            }
        }
        effects
    }

    /// Runs every thread that can make progress until each waits; returns the new effects.
    pub fn advance(&mut self, machine: &StateMachine, now_ms: i64) -> Vec<Effect> {
        self.now_ms = now_ms;
        let mut effects = Vec::new();
        for tid in std::mem::take(&mut self.topped_up) {
            if let Some(mut t) = self.threads.get_mut(tid).and_then(Option::take) {
                let prev = t.prev;
                self.start_iterations(machine, tid, &mut t, prev);
                self.threads[tid] = Some(t);
            }
        }
        while let Some(tid) = self.ready.pop_front() {
            if self.end.is_some() {
                break;
            }
            self.run_thread(machine, tid, &mut effects);
        }
        effects
    }

    /// The task of `thread` ended. Ignored if the thread is gone (its branch was abandoned).
    pub fn task_finished(&mut self, thread: ThreadId, result: Result<Value, Failure>, now_ms: i64) {
        self.now_ms = now_ms;
        let Some(Some(t)) = self.threads.get_mut(thread) else {
            return;
        };
        if !matches!(t.phase, Phase::Task { .. }) {
            return; // stopped or abandoned: a late report changes nothing
        }
        if let Phase::Task {
            resource,
            state_input,
            ..
        } = std::mem::replace(&mut t.phase, Phase::Run)
        {
            t.phase = Phase::TaskDone {
                resource,
                state_input,
                result,
                timed_out: None,
            };
            self.ready.push_back(thread);
        }
    }

    /// The id of the `…Scheduled` event of the task `thread` waits for, if it waits for one: a
    /// report about another run of the task (one that timed out, or ended by a callback) is
    /// stale.
    pub fn current_task(&self, thread: ThreadId) -> Option<u64> {
        match self.threads.get(thread) {
            Some(Some(Thread {
                phase: Phase::Task { scheduled, .. },
                ..
            })) => Some(*scheduled),
            _ => None,
        }
    }

    /// SendTaskSuccess (`Ok` with its output) or SendTaskFailure (`Err` with its error and
    /// cause) for `token`: ends the `.waitForTaskToken` task that waits with it, whether or not
    /// its integration's call has returned. Call [`Execution::advance`] next.
    pub fn task_callback(
        &mut self,
        token: &str,
        outcome: Result<Value, Failure>,
        now_ms: i64,
    ) -> Result<(), TokenError> {
        let thread = self.waiting_with(token)?;
        self.task_finished(thread, outcome, now_ms);
        Ok(())
    }

    /// SendTaskHeartbeat for `token`: the task's `HeartbeatSeconds` count again from now. Returns
    /// the task's new [`Effect::Deadline`] (none without `HeartbeatSeconds`). Records no event,
    /// as on AWS; the snapshot changes.
    pub fn task_heartbeat(&mut self, token: &str, now_ms: i64) -> Result<Vec<Effect>, TokenError> {
        let thread = self.waiting_with(token)?;
        self.now_ms = now_ms;
        let Some(Some(Thread {
            phase:
                Phase::Task {
                    call,
                    timeout_ms,
                    heartbeat_ms,
                    ..
                },
            ..
        })) = self.threads.get_mut(thread)
        else {
            return Err(TokenError::Closed);
        };
        let Some(seconds) = call.heartbeat_seconds else {
            return Ok(Vec::new());
        };
        *heartbeat_ms = Some(after_seconds(now_ms, seconds));
        Ok(earliest(*timeout_ms, *heartbeat_ms)
            .map(|due_ms| Effect::Deadline { thread, due_ms })
            .into_iter()
            .collect())
    }

    /// GetActivityTask handed the activity task waiting with `token` to a worker: records
    /// `ActivityStarted` (with the worker's name, if it gave one), which its result follows.
    pub fn activity_started(
        &mut self,
        token: &str,
        worker_name: Option<String>,
        now_ms: i64,
    ) -> Result<(), TokenError> {
        let thread = self.waiting_with(token)?;
        let Some(Thread {
            phase:
                Phase::Task {
                    resource: ResourceKind::Activity { .. },
                    ..
                },
            prev,
            ..
        }) = self.threads[thread]
        else {
            return Err(TokenError::Closed);
        };
        self.now_ms = now_ms;
        let started = self.event(
            "ActivityStarted",
            prev,
            Some(Details::ActivityStarted { worker_name }),
        );
        if let Some(t) = &mut self.threads[thread] {
            t.prev = started;
        }
        Ok(())
    }

    /// The thread whose task waits with `token`.
    fn waiting_with(&self, token: &str) -> Result<ThreadId, TokenError> {
        let named = TaskToken::decode(token).ok_or(TokenError::Invalid)?;
        match self.threads.get(named.thread) {
            Some(Some(Thread {
                phase: Phase::Task {
                    scheduled, call, ..
                },
                ..
            })) if *scheduled == named.scheduled
                && call.task_token.as_deref() == Some(token)
                && self.end.is_none() =>
            {
                Ok(named.thread)
            }
            _ => Err(TokenError::Closed),
        }
    }

    /// The task of `thread` scheduled at event `scheduled` was submitted (a `.sync` integration
    /// started its job and now waits for it): records `TaskSubmitted` with `output`, once. Ignored
    /// for a task that is no longer the thread's current one, and for Lambda functions.
    pub fn task_submitted(&mut self, thread: ThreadId, scheduled: u64, output: Value, now_ms: i64) {
        self.now_ms = now_ms;
        let Some(Some(t)) = self.threads.get_mut(thread) else {
            return;
        };
        let Phase::Task {
            resource:
                ResourceKind::Service {
                    resource_type,
                    resource,
                },
            scheduled: current,
            submitted: submitted @ None,
            ..
        } = &mut t.phase
        else {
            return;
        };
        if *current != scheduled {
            return;
        }
        let details = Details::TaskSubmitted {
            resource_type: resource_type.clone(),
            resource: resource.clone(),
            output: crate::json_text(&output),
            output_details: Truncation::default(),
        };
        *submitted = Some(output);
        let prev = t.prev;
        let id = self.event("TaskSubmitted", prev, Some(details));
        if let Some(Some(t)) = self.threads.get_mut(thread) {
            t.prev = id;
        }
    }

    /// A timer of `thread` ([`Effect::Sleep`], [`Effect::Deadline`]) is due: its sleep is over,
    /// or its task times out. Nothing happens unless something of the thread is due at
    /// `now_ms` (a stale timer wakes nothing).
    pub fn wake(&mut self, thread: ThreadId, now_ms: i64) {
        self.now_ms = now_ms;
        let Some(Some(t)) = self.threads.get_mut(thread) else {
            return;
        };
        match &t.phase {
            Phase::Sleep { due_ms, .. } if *due_ms <= now_ms => {
                if let Phase::Sleep { then, .. } = std::mem::replace(&mut t.phase, Phase::Run) {
                    t.phase = Phase::Woken { then };
                    self.ready.push_back(thread);
                }
            }
            Phase::Task {
                timeout_ms,
                heartbeat_ms,
                ..
            } => {
                let due = |at: &Option<i64>| at.is_some_and(|at| at <= now_ms);
                let kind = if due(timeout_ms) {
                    TimedOut::Timeout
                } else if due(heartbeat_ms) {
                    TimedOut::Heartbeat
                } else {
                    return;
                };
                if let Phase::Task {
                    resource,
                    state_input,
                    ..
                } = std::mem::replace(&mut t.phase, Phase::Run)
                {
                    t.phase = Phase::TaskDone {
                        resource,
                        state_input,
                        // AWS: `{"Error": "States.Timeout", "Cause": ""}` to a catcher.
                        result: Err(Failure::new(names::TIMEOUT, "")),
                        timed_out: Some(kind),
                    };
                    self.ready.push_back(thread);
                }
            }
            _ => {}
        }
    }

    /// The execution's `TimeoutSeconds` have passed: it ends `TIMED_OUT`.
    pub fn time_out(&mut self, now_ms: i64) {
        let failure = Failure::new(names::TIMEOUT, "The execution timed out");
        self.end_now(Status::TimedOut, failure, now_ms);
    }

    /// StopExecution: the execution ends `ABORTED` with an `ExecutionAborted` event.
    pub fn abort(&mut self, error: Option<String>, cause: Option<String>, now_ms: i64) {
        let failure = Failure::new(error.unwrap_or_default(), cause.unwrap_or_default());
        self.end_now(Status::Aborted, failure, now_ms);
    }

    /// The history events whose input a redrive needs: the `…StateEntered` events of stopped
    /// states that took their input (see [`Execution::redrive`]).
    pub fn redrive_inputs(&self) -> Vec<u64> {
        self.threads
            .iter()
            .flatten()
            .filter(|t| t.input_lost && !matches!(t.phase, Phase::Children(_)))
            .filter(|t| t.failed_children.is_none())
            .map(|t| t.entered)
            .collect()
    }

    /// RedriveExecution: continues a FAILED, TIMED_OUT or ABORTED execution from its
    /// unsuccessful states with the inputs they had, keeping what succeeded (the outputs of
    /// finished Parallel branches and Map iterations are not run again). Records
    /// `ExecutionRedriven` with `redrive_count` (the count after this redrive); retry counts
    /// start over and `TimeoutSeconds` counts from now. `inputs` maps the events
    /// [`Execution::redrive_inputs`] names to their state input. Call [`Execution::advance`]
    /// next.
    pub fn redrive(
        &mut self,
        machine: &StateMachine,
        redrive_count: u32,
        inputs: &HashMap<u64, Value>,
        now_ms: i64,
    ) -> Result<(), RedriveError> {
        match self.end.as_ref().map(|e| e.status) {
            None => return Err(RedriveError::NotRedrivable("RUNNING")),
            Some(Status::Succeeded) => return Err(RedriveError::NotRedrivable("SUCCEEDED")),
            Some(_) => {}
        }
        if let Some(missing) = self
            .redrive_inputs()
            .into_iter()
            .find(|id| !inputs.contains_key(id))
        {
            return Err(RedriveError::MissingInput(missing));
        }
        self.now_ms = now_ms;
        self.end = None;
        self.ready.clear();
        self.deadline_ms = machine
            .timeout_seconds
            .map(|s| now_ms.saturating_add((s as i64).saturating_mul(1000)));
        let redriven = self.event(
            "ExecutionRedriven",
            self.last_event,
            Some(Details::ExecutionRedriven { redrive_count }),
        );
        if self.threads.iter().all(Option::is_none) {
            // It failed before its first state (its input was refused): start over.
            let input = self.context.input.clone();
            self.spawn(
                None,
                Vec::new(),
                machine.start_at,
                input,
                redriven,
                Variables::default(),
            );
            return Ok(());
        }
        let mut parents = Vec::new();
        for tid in 0..self.threads.len() {
            let Some(t) = self.threads[tid].as_mut() else {
                continue;
            };
            if let Some(mut children) = t.failed_children.take() {
                for result in &mut children.results {
                    if matches!(result, Some(Err(_))) {
                        *result = None;
                    }
                }
                t.phase = Phase::Children(children);
            }
            if matches!(t.phase, Phase::Children(_)) {
                parents.push(tid);
                continue;
            }
            if t.input_lost {
                t.input = inputs.get(&t.entered).cloned().unwrap_or(Value::Null);
                t.input_lost = false;
            }
            if t.prev & QUIET == 0 {
                t.prev = redriven;
            }
            t.phase = Phase::Enter;
            self.ready.push_back(tid);
        }
        // Each waiting parent counts its children again; a Map also starts what it queued.
        for tid in parents {
            let running = self
                .threads
                .iter()
                .flatten()
                .filter(|c| c.parent.map(|(p, _)| p) == Some(tid))
                .count();
            let Some(mut t) = self.threads[tid].take() else {
                continue;
            };
            let mut map_run = None;
            let mut queued = 0;
            if let Phase::Children(c) = &mut t.phase {
                c.running = running;
                map_run = c.map_run_arn.clone();
                queued = c.queue.len();
            }
            // Recorded on AWS: the Map Run is redriven (its unsuccessful child workflows run
            // again) and its end chains off that.
            if let Some(map_run_arn) = map_run {
                if let Some(run) = self.map_run_mut(Some(&map_run_arn)) {
                    run.redriven(redrive_count, running as u64, queued as u64, now_ms);
                }
                t.prev = self.event(
                    "MapRunRedriven",
                    redriven,
                    Some(Details::MapRunRedriven {
                        map_run_arn,
                        redrive_count,
                    }),
                );
            }
            let prev = t.prev;
            self.start_iterations(machine, tid, &mut t, prev);
            let done =
                matches!(&t.phase, Phase::Children(c) if c.running == 0 && c.queue.is_empty());
            if done {
                let m = machine_at(machine, &t.path);
                self.children_done(m, &mut t);
                self.ready.push_back(tid);
            }
            self.threads[tid] = Some(t);
        }
        Ok(())
    }

    /// Ends the execution from outside (timeout, stop), whatever its threads are doing.
    fn end_now(&mut self, status: Status, failure: Failure, now_ms: i64) {
        if self.end.is_some() {
            return;
        }
        self.now_ms = now_ms;
        self.halt_all();
        let details = ErrorDetails {
            error: failure.error.clone(),
            cause: failure.cause.clone(),
        };
        let (kind, details) = match status {
            Status::TimedOut => ("ExecutionTimedOut", Details::ExecutionTimedOut(details)),
            _ => ("ExecutionAborted", Details::ExecutionAborted(details)),
        };
        self.event(kind, self.last_event, Some(details));
        self.end = Some(End {
            status,
            output: None,
            failure: Some(failure),
        });
    }

    /// The id the next history event will get.
    pub fn next_event_id(&self) -> u64 {
        self.last_event + 1
    }

    // ---- threads ------------------------------------------------------------------------

    fn spawn(
        &mut self,
        parent: Option<(ThreadId, usize)>,
        path: MachinePath,
        state: StateId,
        input: Value,
        prev: u64,
        variables: Variables,
    ) -> ThreadId {
        let thread = Thread {
            parent,
            path,
            state,
            input,
            prev,
            entered: 0,
            entered_time: String::new(),
            retries: RetryState::default(),
            phase: Phase::Enter,
            input_lost: false,
            failed_children: None,
            variables,
        };
        let id = self.threads.len();
        self.threads.push(Some(thread));
        self.ready.push_back(id);
        id
    }

    fn run_thread(&mut self, root: &StateMachine, tid: ThreadId, effects: &mut Vec<Effect>) {
        // Take the thread out while working on it; put it back unless it finished.
        let Some(mut t) = self.threads.get_mut(tid).and_then(Option::take) else {
            return;
        };
        let m = machine_at(root, &t.path);
        loop {
            match self.step_thread(root, m, tid, &mut t, effects) {
                Flow::Continue => continue,
                Flow::Wait => {
                    self.threads[tid] = Some(t);
                    return;
                }
                Flow::Finished(result) => {
                    let parent = t.parent;
                    if result.is_err() {
                        // Kept: a redrive enters this state again.
                        t.phase = Phase::Stopped;
                        self.threads[tid] = Some(t);
                    }
                    self.finish_thread(root, tid, parent, result);
                    return;
                }
            }
        }
    }

    fn step_thread(
        &mut self,
        root: &StateMachine,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        let state = m.state(t.state);
        let type_name = state.kind.type_name();
        match std::mem::replace(&mut t.phase, Phase::Run) {
            Phase::Enter => {
                // The first state (its entered event follows event 0) shows the input as given.
                let given = if tid == 0 && t.prev == 0 {
                    self.input_text.take()
                } else {
                    None
                };
                t.entered = self.event(
                    entered_kind(type_name),
                    t.prev,
                    Some(Details::StateEntered {
                        name: state.name.clone(),
                        input: given.unwrap_or_else(|| crate::json_text(&t.input)),
                        input_details: Truncation::default(),
                    }),
                );
                t.prev = t.entered;
                t.entered_time = iso(self.now_ms);
                t.retries = RetryState::default();
                Flow::Continue
            }
            Phase::Run => self.run_state(root, m, tid, t, effects),
            Phase::TaskDone {
                resource,
                state_input: _,
                result,
                timed_out: Some(kind),
            } => {
                let failure = result
                    .err()
                    .unwrap_or_else(|| Failure::new(names::TIMEOUT, ""));
                t.prev = self.task_timed_out_event(&resource, &failure, t.prev);
                let alias = (kind == TimedOut::Heartbeat).then_some(names::HEARTBEAT_TIMEOUT);
                self.recover_as(m, tid, t, failure, None, alias, effects)
            }
            Phase::TaskDone {
                resource,
                state_input,
                result,
                timed_out: None,
            } => {
                t.prev = self.task_result_event(&resource, &result, t.prev);
                let result = result.and_then(|r| self.check_size(&r, "task result").map(|()| r));
                let outcome = match result {
                    Ok(r) => {
                        let ctx = Arc::clone(&self.context);
                        let visit = visit(&ctx, t, None, self.now_ms);
                        let outcome =
                            m.task_succeeded(t.state, state_input, r, &visit, &mut self.random);
                        self.evaluation_outcome(t, &state.name, outcome)
                    }
                    Err(f) => Err(f),
                };
                self.settle(m, tid, t, outcome, None, false, effects)
            }
            Phase::Woken {
                then:
                    AfterSleep::Leave {
                        output,
                        then,
                        assign,
                    },
            } => self.leave(m, t, output, then, assign),
            Phase::Woken {
                then: AfterSleep::Retry,
            } => Flow::Continue,
            Phase::Settle {
                outcome,
                failed_event,
                propagated,
            } => self.settle(m, tid, t, outcome, failed_event, propagated, effects),
            Phase::ObjectsDone { then, result } => {
                self.objects_returned(root, m, tid, t, *then, result, effects)
            }
            Phase::Exporting { calls, then } => self.call_objects(tid, t, calls, *then, effects),
            waiting @ (Phase::Task { .. }
            | Phase::Objects { .. }
            | Phase::Sleep { .. }
            | Phase::Children(_)
            | Phase::Stopped) => {
                t.phase = waiting;
                Flow::Wait
            }
        }
    }

    /// The number of the task `state` schedules now ([`TaskCall::invocation`]), counted.
    fn next_invocation(&mut self, state: &str) -> u32 {
        let count = match self.invocations.get_mut(state) {
            Some(count) => count,
            None => self.invocations.entry(state.to_owned()).or_insert(0),
        };
        let this = *count;
        *count = count.saturating_add(1);
        this
    }

    /// Runs the state's step-core `enter` and acts on the action.
    fn run_state(
        &mut self,
        root: &StateMachine,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        let state = m.state(t.state);
        let keeps_input = matches!(state.kind, Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_));
        // Task, Parallel and Map may run again (Retry) or be caught: keep their input. So does
        // every state of a distributed Map's iteration: its entered event, where a redrive
        // would find the input, is not in this history.
        let arg = if keeps_input || t.prev & QUIET != 0 {
            t.input.clone()
        } else {
            t.input_lost = true;
            t.input.take()
        };
        let token = waits_for_token(&state.kind).then(|| {
            let task = TaskToken {
                execution: self.context.id.clone(),
                thread: tid,
                // The task's `TaskScheduled` event, should the state schedule it.
                scheduled: self.id_after(t.prev),
            };
            task.encode(&mut self.random)
        });
        let ctx = Arc::clone(&self.context);
        let visit = visit(&ctx, t, token.as_deref(), self.now_ms);
        let action = match m.enter(t.state, arg, &visit, &mut self.random) {
            Ok(a) => a,
            Err(failure) if failure.error == names::RUNTIME || !keeps_input => {
                let failure = in_state(&state.name, t.entered, failure);
                self.evaluation_failed(t, &state.name, &failure);
                return Flow::Finished(Err(Stop {
                    failure,
                    prev: t.prev,
                }));
            }
            Err(failure) => {
                let failure = in_state(&state.name, t.entered, failure);
                self.evaluation_failed(t, &state.name, &failure);
                // Recorded on AWS: a JSONata Map whose Items (or other fields) fail to
                // evaluate records `MapStateFailed` after `EvaluationFailed`.
                let failed_event = (matches!(state.kind, Kind::Map(_))
                    && failure.error == names::QUERY_EVALUATION_ERROR)
                    .then_some(StateFailed::Map);
                return self.recover(m, tid, t, failure, failed_event, effects);
            }
        };
        match action {
            Action::Next { .. } | Action::Succeed { .. } | Action::Fail(_) => {
                self.settle(m, tid, t, Ok(action), None, false, effects)
            }
            Action::Wait {
                until,
                output,
                then,
                assign,
            } => match until.due(self.now_utc()) {
                Ok(due) => {
                    let due_ms = due.timestamp_millis();
                    t.phase = Phase::Sleep {
                        due_ms,
                        then: AfterSleep::Leave {
                            output,
                            then,
                            assign,
                        },
                    };
                    effects.push(Effect::Sleep {
                        thread: tid,
                        due_ms,
                    });
                    Flow::Wait
                }
                Err(failure) => {
                    let failure = in_state(&state.name, t.entered, failure);
                    Flow::Finished(Err(Stop {
                        failure,
                        prev: t.prev,
                    }))
                }
            },
            Action::RunTask {
                mut call,
                state_input,
            } => {
                let resource = ResourceKind::of(&call.resource);
                call.invocation = self.next_invocation(&state.name);
                let scheduled = self.id_after(t.prev);
                t.prev = self.task_scheduled_events(&resource, &call, t.prev);
                // Both count from the task's start (TaskStarted, recorded now). Without
                // TimeoutSeconds AWS allows 99999999 s, longer than an execution may run: no
                // deadline. Heartbeats come with a task token only.
                let timeout_ms = call.timeout_seconds.map(|s| after_seconds(self.now_ms, s));
                let heartbeat_ms = call
                    .heartbeat_seconds
                    .filter(|_| token.is_some())
                    .map(|s| after_seconds(self.now_ms, s));
                call.task_token = token;
                effects.push(Effect::RunTask {
                    thread: tid,
                    state: state.name.clone(),
                    call: call.clone(),
                    scheduled,
                    submitted: None,
                });
                if let Some(due_ms) = earliest(timeout_ms, heartbeat_ms) {
                    effects.push(Effect::Deadline {
                        thread: tid,
                        due_ms,
                    });
                }
                t.phase = Phase::Task {
                    resource,
                    state_input,
                    state: state.name.clone(),
                    call,
                    scheduled,
                    submitted: None,
                    timeout_ms,
                    heartbeat_ms,
                };
                Flow::Wait
            }
            Action::Parallel { input, state_input } => {
                let Kind::Parallel(p) = &state.kind else {
                    unreachable!("Parallel action")
                };
                t.prev = self.event("ParallelStateStarted", t.prev, None);
                let n = p.branches.len();
                t.phase = Phase::Children(Children {
                    map: false,
                    state_input,
                    results: vec![None; n],
                    queue: VecDeque::new(),
                    running: n,
                    max_concurrency: 0,
                    tolerance: Tolerance::default(),
                    inline: true,
                    map_run_arn: None,
                    export: None,
                    sizes: Vec::new(),
                });
                for (i, branch) in p.branches.iter().enumerate() {
                    let mut path = t.path.clone();
                    path.push((t.state, i));
                    let scope = t.variables.inner_scope();
                    self.spawn(
                        Some((tid, i)),
                        path,
                        branch.start_at,
                        input.clone(),
                        t.prev,
                        scope,
                    );
                }
                if n == 0 {
                    self.children_done(m, t);
                    return Flow::Continue;
                }
                Flow::Wait
            }
            Action::Map {
                items,
                max_concurrency,
                tolerance,
                state_input,
                reader,
                writer,
            } => {
                let map = PendingMap {
                    state_input,
                    max_concurrency,
                    tolerance,
                    map_run_arn: None,
                    writer,
                };
                self.begin_map(root, m, tid, t, items, map, reader, effects)
            }
        }
    }

    /// Starts Map iterations up to MaxConcurrency (0 = no limit). Their `MapIterationStarted`
    /// events all chain off `prev` (recorded on AWS: off MapStateStarted, or off the last
    /// event of the iteration whose end made room), without moving the Map's own chain.
    fn start_iterations(&mut self, root: &StateMachine, tid: ThreadId, t: &mut Thread, prev: u64) {
        let m = machine_at(root, &t.path);
        let Kind::Map(map) = &m.state(t.state).kind else {
            return;
        };
        let name = m.state(t.state).name.clone();
        let Phase::Children(c) = &mut t.phase else {
            return;
        };
        let mut starts = Vec::new();
        while c.max_concurrency == 0 || c.running < c.max_concurrency {
            let Some((index, item)) = c.queue.pop_front() else {
                break;
            };
            c.running += 1;
            starts.push((index, item));
        }
        let items: u64 = starts
            .iter()
            .map(|(i, _)| c.sizes.get(*i).map_or(1, |&n| u64::from(n)))
            .sum();
        if let Some(export) = &mut c.export {
            for (i, _) in &starts {
                if let Some(at) = export.started_ms.get_mut(*i) {
                    *at = self.now_ms;
                }
            }
        }
        if let Some(run) = self.map_run_mut(c.map_run_arn.as_deref()) {
            run.started(starts.len() as u64, items);
        }
        for (index, item) in starts {
            let it = Iteration {
                name: name.clone(),
                index,
            };
            // A distributed Map's iterations run as child workflows: quiet here.
            let quiet = if map.mode == ProcessorMode::Distributed {
                QUIET
            } else {
                0
            };
            let started = self.event(
                "MapIterationStarted",
                prev | quiet,
                Some(Details::MapIterationStarted(it)),
            );
            let mut path = t.path.clone();
            path.push((t.state, 0));
            // A distributed Map's iterations are child workflows: no outer variables.
            let scope = if map.mode == ProcessorMode::Distributed {
                Variables::default()
            } else {
                t.variables.inner_scope()
            };
            self.spawn(
                Some((tid, index)),
                path,
                map.processor.start_at,
                item,
                started,
                scope,
            );
        }
    }

    /// A child thread (branch or iteration) of `parent` ended.
    fn child_finished(
        &mut self,
        root: &StateMachine,
        parent: ThreadId,
        slot: usize,
        result: Result<(Value, u64), Stop>,
    ) {
        let Some(mut t) = self.threads.get_mut(parent).and_then(Option::take) else {
            return;
        };
        let m = machine_at(root, &t.path);
        let name = m.state(t.state).name.clone();
        let Phase::Children(c) = &mut t.phase else {
            self.threads[parent] = Some(t);
            return;
        };
        c.running = c.running.saturating_sub(1);
        let map = c.map;
        let (result, last) = match result {
            Ok((out, last)) => (Ok(out), last),
            Err(stop) => (Err(stop.failure), stop.prev),
        };
        let failed = result.is_err();
        c.results[slot] = Some(result);
        let stop_early = failed && c.inline;
        let distributed = map && !c.inline;
        let items = c.sizes.get(slot).map_or(1, |&n| u64::from(n));
        if let Some(at) = c.export.as_mut().and_then(|e| e.stopped_ms.get_mut(slot)) {
            *at = self.now_ms;
        }
        if let Some(run) = self.map_run_mut(c.map_run_arn.as_deref()) {
            run.item_ended(!failed, items);
        }
        t.prev = if distributed {
            // Recorded in the iteration's own history, not here.
            t.prev
        } else if map {
            let it = Iteration {
                name: name.clone(),
                index: slot,
            };
            let (kind, details) = if failed {
                ("MapIterationFailed", Details::MapIterationFailed(it))
            } else {
                ("MapIterationSucceeded", Details::MapIterationSucceeded(it))
            };
            let recorded = self.event(kind, last, Some(details));
            // Recorded on AWS: what follows a failed iteration (MapStateFailed, a retry's
            // MapStateStarted) chains off the iteration's failing event, not this one.
            if failed { last } else { recorded }
        } else {
            last
        };
        if stop_early {
            // AWS aborts the other branches/iterations (recording it) and abandons them.
            self.record_aborted_children(root, parent, slot, map, &name, last);
            self.abandon_children(parent);
        } else if map {
            self.start_iterations(root, parent, &mut t, last);
        }
        let Phase::Children(c) = &t.phase else {
            unreachable!("children phase")
        };
        if stop_early || (c.running == 0 && c.queue.is_empty()) {
            self.children_done(m, &mut t);
            self.ready.push_back(parent);
        }
        self.threads[parent] = Some(t);
    }

    /// The events AWS records when a failing branch or iteration ends its Parallel or Map
    /// state (recorded): the failing Task's `TaskStateAborted`, then for every other branch
    /// or iteration still running its `MapIterationAborted` (Map) and its current state's
    /// `…StateAborted`; all chain off the failing event, which the state's failure follows.
    fn record_aborted_children(
        &mut self,
        root: &StateMachine,
        parent: ThreadId,
        failed_slot: usize,
        map: bool,
        name: &str,
        failing_event: u64,
    ) {
        let mut children: Vec<(usize, ThreadId)> = self
            .threads
            .iter()
            .enumerate()
            .filter_map(|(id, t)| match t.as_ref()?.parent {
                Some((p, slot)) if p == parent => Some((slot, id)),
                _ => None,
            })
            .collect();
        children.sort_unstable();
        let aborted_kind = |ex: &Self, id: ThreadId| -> Option<&'static str> {
            let t = ex.threads[id].as_ref()?;
            if matches!(t.phase, Phase::Enter) {
                return None;
            }
            match machine_at(root, &t.path).state(t.state).kind {
                Kind::Task(_) => Some("TaskStateAborted"),
                Kind::Wait(_) => Some("WaitStateAborted"),
                Kind::Parallel(_) => Some("ParallelStateAborted"),
                Kind::Map(_) => Some("MapStateAborted"),
                _ => None,
            }
        };
        if let Some(&(_, id)) = children.iter().find(|(slot, _)| *slot == failed_slot)
            && aborted_kind(self, id) == Some("TaskStateAborted")
        {
            self.event("TaskStateAborted", failing_event, None);
        }
        for (slot, id) in children {
            let running = self.threads[id]
                .as_ref()
                .is_some_and(|t| !matches!(t.phase, Phase::Stopped));
            if slot == failed_slot || !running {
                continue;
            }
            if map {
                let it = Iteration {
                    name: name.to_owned(),
                    index: slot,
                };
                self.event(
                    "MapIterationAborted",
                    failing_event,
                    Some(Details::MapIterationAborted(it)),
                );
            }
            if let Some(kind) = aborted_kind(self, id) {
                self.event(kind, failing_event, None);
            }
        }
    }

    /// Stops every branch or iteration below `parent` (they are kept, `Stopped`, for a
    /// redrive; a task that still reports for one of them is ignored).
    fn abandon_children(&mut self, parent: ThreadId) {
        let mut map_runs = Vec::new();
        for id in self.descendants(parent) {
            if let Some(t) = &mut self.threads[id] {
                if let Phase::Children(Children {
                    map_run_arn: Some(arn),
                    ..
                }) = &t.phase
                {
                    map_runs.push(arn.clone());
                }
                halt(t);
            }
        }
        if !map_runs.is_empty() {
            self.abort_map_runs(|arn| map_runs.iter().any(|a| a == arn));
        }
        self.ready.retain(|id| {
            self.threads
                .get(*id)
                .is_some_and(|t| t.as_ref().is_some_and(runnable))
        });
    }

    /// Forgets every thread below `parent`: its Parallel or Map state succeeded, was caught or
    /// is retried, so nothing of the earlier attempt is redriven.
    fn drop_descendants(&mut self, parent: ThreadId) {
        for id in self.descendants(parent) {
            self.threads[id] = None;
        }
        self.ready
            .retain(|id| self.threads.get(*id).is_some_and(Option::is_some));
    }

    /// The threads below `parent`, parents before their children (one pass over the threads:
    /// a Map can have thousands).
    fn descendants(&self, parent: ThreadId) -> Vec<ThreadId> {
        let mut children: HashMap<ThreadId, Vec<ThreadId>> = HashMap::new();
        for (id, t) in self.threads.iter().enumerate() {
            if let Some((p, _)) = t.as_ref().and_then(|t| t.parent) {
                children.entry(p).or_default().push(id);
            }
        }
        let mut found = Vec::new();
        let mut stack = vec![parent];
        while let Some(p) = stack.pop() {
            if let Some(ids) = children.remove(&p) {
                found.extend_from_slice(&ids);
                stack.extend(ids);
            }
        }
        found
    }

    /// The state of `t` succeeded, was caught or is retried: what its branches or iterations
    /// left behind is no longer needed for a redrive.
    fn forget_children(&mut self, m: &StateMachine, tid: ThreadId, t: &mut Thread) {
        t.failed_children = None;
        if matches!(m.state(t.state).kind, Kind::Parallel(_) | Kind::Map(_)) {
            self.drop_descendants(tid);
        }
    }

    /// Stops every thread (timeout, StopExecution): kept for a redrive.
    fn halt_all(&mut self) {
        for t in self.threads.iter_mut().flatten() {
            halt(t);
        }
        self.ready.clear();
        self.abort_map_runs(|_| true);
    }

    /// Running Map Runs that `stopped` names end ABORTED (their Map state will not settle).
    fn abort_map_runs(&mut self, stopped: impl Fn(&str) -> bool) {
        let now = self.now_ms;
        for (i, run) in self.map_runs.iter_mut().enumerate() {
            if run.status == MapRunStatus::Running && stopped(&run.arn) {
                run.ended(MapRunStatus::Aborted, now);
                self.map_runs_changed.insert(i);
            }
        }
    }

    /// The Map Run `arn` names (none for `None`), marked changed.
    fn map_run_mut(&mut self, arn: Option<&str>) -> Option<&mut MapRun> {
        let i = self
            .map_runs
            .iter()
            .position(|r| Some(r.arn.as_str()) == arn)?;
        self.map_runs_changed.insert(i);
        Some(&mut self.map_runs[i])
    }

    /// Every child ended (or one failed where that ends them all): the state settles next.
    fn children_done(&mut self, m: &StateMachine, t: &mut Thread) {
        if let Phase::Children(c) = std::mem::replace(&mut t.phase, Phase::Run) {
            t.phase = self.settle_children(m, t, c);
        }
    }

    /// Turns finished children into the state's outcome (Parallel: outputs in branch order;
    /// Map: results in item order with failure tolerance).
    fn settle_children(&mut self, m: &StateMachine, t: &mut Thread, mut c: Children) -> Phase {
        // Where the state may fail, keep its children as they ended for a redrive.
        let unsuccessful = c.running > 0 || c.results.iter().any(|r| matches!(r, Some(Err(_))));
        t.failed_children = unsuccessful.then(|| c.clone());
        let ctx = Arc::clone(&self.context);
        let visit = visit(&ctx, t, None, self.now_ms);
        let iteration_failed = c.results.iter().any(|r| matches!(r, Some(Err(_))));
        if let Some(export) = c.export.take().filter(|_| c.map && !c.inline) {
            return self.export_results(m, t, c, *export, iteration_failed);
        }
        let results: Vec<Result<Value, Failure>> = c.results.into_iter().flatten().collect();
        if !c.map {
            if let Some(failure) = results.iter().find_map(|r| r.as_ref().err()).cloned() {
                return Phase::Settle {
                    outcome: Err(failure),
                    failed_event: Some(StateFailed::Parallel),
                    propagated: true,
                };
            }
            let outputs = results.into_iter().flatten().collect();
            let outcome =
                m.branches_succeeded(t.state, c.state_input, outputs, &visit, &mut self.random);
            let outcome = self.evaluation_outcome(t, &m.state(t.state).name, outcome);
            return Phase::Settle {
                outcome,
                failed_event: None,
                propagated: false,
            };
        }
        let done = m.map_finished(
            t.state,
            c.state_input,
            results,
            c.tolerance,
            &visit,
            &mut self.random,
        );
        let done = if iteration_failed {
            done
        } else {
            self.evaluation_outcome(t, &m.state(t.state).name, done)
        };
        self.map_settled(t, c.map_run_arn, c.inline, done, iteration_failed)
    }

    /// Acts on a state's outcome: leave it, fail, or recover (Retry/Catch).
    #[allow(clippy::too_many_arguments)] // the outcome's three parts travel together
    fn settle(
        &mut self,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        outcome: Result<Action, Failure>,
        failed_event: Option<StateFailed>,
        propagated: bool,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        let state = m.state(t.state);
        if outcome.is_ok() {
            self.forget_children(m, tid, t);
        }
        let failure = match outcome {
            Ok(Action::Next {
                state: next,
                output,
                assign,
            }) => {
                return self.leave(m, t, output, Transition::Next(next), assign);
            }
            Ok(Action::Succeed { output, assign }) => {
                return self.leave(m, t, output, Transition::End, assign);
            }
            Ok(Action::Fail(failure)) => {
                return Flow::Finished(Err(Stop {
                    failure,
                    prev: t.prev,
                }));
            }
            Ok(other) => Failure::runtime(format!("unexpected action after a task: {other:?}")),
            Err(failure) => failure,
        };
        if failure.error == names::RUNTIME {
            if let Some(kind) = failed_event {
                t.prev = self.event(kind.event(), t.prev, None);
            }
            let failure = if propagated {
                failure
            } else {
                in_state(&state.name, t.entered, failure)
            };
            return Flow::Finished(Err(Stop {
                failure,
                prev: t.prev,
            }));
        }
        self.recover(m, tid, t, failure, failed_event, effects)
    }

    /// Retry (sleep, then run again), catch (leave to the catcher's state), or fail.
    /// `failed_event` (`ParallelStateFailed`, `MapStateFailed`) is recorded first when the
    /// failure is caught or fails the machine, not when the state is retried.
    fn recover(
        &mut self,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        failure: Failure,
        failed_event: Option<StateFailed>,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        self.recover_as(m, tid, t, failure, failed_event, None, effects)
    }

    /// [`Self::recover`], Retry and Catch matching the failure under `alias` too.
    #[allow(clippy::too_many_arguments)] // recover's arguments and the alias
    fn recover_as(
        &mut self,
        m: &StateMachine,
        tid: ThreadId,
        t: &mut Thread,
        failure: Failure,
        failed_event: Option<StateFailed>,
        alias: Option<&str>,
        effects: &mut Vec<Effect>,
    ) -> Flow {
        let input = t.input.clone();
        let state = m.state(t.state);
        let ctx = Arc::clone(&self.context);
        let context = if state.uses_context {
            visit(&ctx, t, None, self.now_ms).context_object(state, None)
        } else {
            Value::Null
        };
        let variables = t.variables.clone();
        let catcher = CatcherScope {
            context: &context,
            variables: &variables,
            now_ms: self.now_ms,
        };
        let recovery = m.recover_as(
            t.state,
            input,
            failure,
            alias,
            &mut t.retries,
            &catcher,
            &mut self.random,
        );
        match recovery {
            Recovery::Retry { delay_seconds } => {
                self.forget_children(m, tid, t);
                // Backoff without MaxDelaySeconds grows without bound: saturate ("forever",
                // until the execution's deadline if any).
                let delay_ms = (delay_seconds * 1000.0).min(i64::MAX as f64) as i64;
                let due_ms = self.now_ms.saturating_add(delay_ms);
                t.phase = Phase::Sleep {
                    due_ms,
                    then: AfterSleep::Retry,
                };
                effects.push(Effect::Sleep {
                    thread: tid,
                    due_ms,
                });
                Flow::Wait
            }
            Recovery::Catch {
                state: next,
                output,
                assign,
            } => {
                self.forget_children(m, tid, t);
                if let Some(kind) = failed_event {
                    t.prev = self.event(kind.event(), t.prev, None);
                }
                self.leave(m, t, output, Transition::Next(next), assign)
            }
            Recovery::Fail(failure) => {
                if let Some(kind) = failed_event {
                    t.prev = self.event(kind.event(), t.prev, None);
                }
                Flow::Finished(Err(Stop {
                    failure,
                    prev: t.prev,
                }))
            }
        }
    }

    /// A `States.QueryEvaluationError` of the state's own processing is recorded as an
    /// `EvaluationFailed` event (with the field it came from) before it is handled.
    fn evaluation_failed(&mut self, t: &mut Thread, state: &str, failure: &Failure) {
        if failure.error != names::QUERY_EVALUATION_ERROR {
            return;
        }
        let location = failure
            .cause
            .split_once("specified for the field '")
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(field, _)| field.to_owned())
            .or_else(|| {
                // Recorded on AWS: a Wait's unparsable Timestamp names its field.
                let timestamp = failure
                    .cause
                    .contains("The Timestamp field cannot be parsed");
                timestamp.then(|| "Timestamp".to_owned())
            })
            .unwrap_or_default();
        t.prev = self.event(
            "EvaluationFailed",
            t.prev,
            Some(Details::EvaluationFailed {
                error: failure.error.clone(),
                cause: failure.cause.clone(),
                location,
                state: state.to_owned(),
            }),
        );
    }

    /// The outcome of evaluating a state's Output and Assign after its work: an evaluation
    /// error gets AWS's state prefix and its `EvaluationFailed` event.
    fn evaluation_outcome(
        &mut self,
        t: &mut Thread,
        state: &str,
        outcome: Result<Action, Failure>,
    ) -> Result<Action, Failure> {
        match outcome {
            Err(failure) if failure.error == names::QUERY_EVALUATION_ERROR => {
                let failure = in_state(state, t.entered, failure);
                self.evaluation_failed(t, state, &failure);
                Err(failure)
            }
            other => other,
        }
    }

    /// Records the state's exit (an output over the payload limit fails it instead) and
    /// transitions.
    fn leave(
        &mut self,
        m: &StateMachine,
        t: &mut Thread,
        output: Value,
        then: Transition,
        assign: Assigned,
    ) -> Flow {
        let state = m.state(t.state);
        let text = crate::json_text(&output);
        if let Some(limit) = self.max_payload
            && text.len() > limit
        {
            let failure = Failure::data_limit(format!(
                "The state/task '{}' returned a result with a size exceeding the maximum number \
                 of bytes service limit ({} bytes, limit {limit} bytes).",
                state.name,
                text.len()
            ));
            let failure = in_state(&state.name, t.entered, failure);
            return Flow::Finished(Err(Stop {
                failure,
                prev: t.prev,
            }));
        }
        let (assigned_variables, assigned_variables_details) = if assign.is_empty() {
            (None, None)
        } else {
            (
                Some(variables::assigned_variables(&assign)),
                Some(Truncation::default()),
            )
        };
        t.variables.assign(assign);
        t.prev = self.event(
            exited_kind(state.kind.type_name()),
            t.prev,
            Some(Details::StateExited {
                name: state.name.clone(),
                output: text,
                output_details: Truncation::default(),
                assigned_variables,
                assigned_variables_details,
            }),
        );
        match then {
            Transition::Next(next) => {
                t.state = next;
                t.input = output;
                t.input_lost = false;
                t.phase = Phase::Enter;
                Flow::Continue
            }
            Transition::End => Flow::Finished(Ok((output, t.prev))),
        }
    }

    fn finish_thread(
        &mut self,
        root: &StateMachine,
        tid: ThreadId,
        parent: Option<(ThreadId, usize)>,
        result: Result<(Value, u64), Stop>,
    ) {
        if result.is_ok() {
            self.threads[tid] = None;
        }
        match parent {
            None => self.finish_execution(result),
            Some((p, slot)) => self.child_finished(root, p, slot, result),
        }
    }

    fn finish_execution(&mut self, result: Result<(Value, u64), Stop>) {
        match result {
            Ok((output, prev)) => {
                self.threads.clear();
                self.ready.clear();
                self.event(
                    "ExecutionSucceeded",
                    prev,
                    Some(Details::ExecutionSucceeded {
                        output: crate::json_text(&output),
                        output_details: Truncation::default(),
                    }),
                );
                self.end = Some(End {
                    status: Status::Succeeded,
                    output: Some(output),
                    failure: None,
                });
            }
            Err(stop) => {
                // Threads stay (stopped) for a redrive.
                self.halt_all();
                let details = ErrorDetails {
                    error: stop.failure.error.clone(),
                    cause: stop.failure.cause.clone(),
                };
                self.event(
                    "ExecutionFailed",
                    stop.prev,
                    Some(Details::ExecutionFailed(details)),
                );
                self.end = Some(End {
                    status: Status::Failed,
                    output: None,
                    failure: Some(stop.failure),
                });
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------

    fn now_utc(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(self.now_ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn event(&mut self, kind: &'static str, prev: u64, details: Option<Details>) -> u64 {
        if prev & QUIET != 0 {
            self.quiet_events += 1;
            return QUIET | self.quiet_events;
        }
        self.last_event += 1;
        let id = self.last_event;
        self.events.push(HistoryEvent {
            timestamp: iso(self.now_ms),
            kind,
            id,
            previous_event_id: prev,
            details,
        });
        id
    }

    /// A new Map Run's ARN, as AWS forms it:
    /// `arn:aws:states:<region>:<account>:mapRun:<machine name>/<Label or id>:<id>`.
    fn map_run_arn(&mut self, label: Option<&str>) -> String {
        let machine = &self.context.state_machine_id;
        let prefix = machine
            .find(":stateMachine:")
            .map_or("arn:aws:states:us-east-1:123456789012", |at| &machine[..at]);
        let name = self.context.state_machine_name.clone();
        let prefix = prefix.to_owned();
        let part = match label {
            Some(label) => label.to_owned(),
            None => uuid(&mut self.random),
        };
        let id = uuid(&mut self.random);
        format!("{prefix}:mapRun:{name}/{part}:{id}")
    }

    /// The id the next event chained off `prev` gets.
    fn id_after(&self, prev: u64) -> u64 {
        if prev & QUIET != 0 {
            QUIET | (self.quiet_events + 1)
        } else {
            self.last_event + 1
        }
    }

    fn check_size(&self, value: &Value, what: &str) -> Result<(), Failure> {
        let Some(limit) = self.max_payload else {
            return Ok(());
        };
        let size = crate::json_len(value);
        if size > limit {
            return Err(Failure::data_limit(format!(
                "The state/task returned a result with a size exceeding the maximum number of \
                 bytes service limit ({what}: {size} bytes, limit {limit} bytes)."
            )));
        }
        Ok(())
    }

    /// `…Scheduled` and `…Started` events of a task; returns the last id.
    fn task_scheduled_events(&mut self, kind: &ResourceKind, call: &TaskCall, prev: u64) -> u64 {
        match kind {
            // `ActivityStarted` waits for a worker to take the task (`activity_started`).
            ResourceKind::Activity { arn } => self.event(
                "ActivityScheduled",
                prev,
                Some(Details::ActivityScheduled {
                    resource: arn.clone(),
                    input: crate::json_text(&call.input),
                    input_details: Truncation::default(),
                    timeout_in_seconds: call.timeout_seconds,
                    heartbeat_in_seconds: call.heartbeat_seconds,
                }),
            ),
            ResourceKind::Lambda => {
                let scheduled = self.event(
                    "LambdaFunctionScheduled",
                    prev,
                    Some(Details::LambdaFunctionScheduled {
                        resource: call.resource.clone(),
                        input: crate::json_text(&call.input),
                        input_details: Truncation::default(),
                        timeout_in_seconds: call.timeout_seconds,
                        task_credentials: task_credentials(call),
                    }),
                );
                self.event("LambdaFunctionStarted", scheduled, None)
            }
            ResourceKind::Service {
                resource_type,
                resource,
            } => {
                let scheduled = self.event(
                    "TaskScheduled",
                    prev,
                    Some(Details::TaskScheduled {
                        resource_type: resource_type.clone(),
                        resource: resource.clone(),
                        region: "us-east-1".into(),
                        parameters: crate::json_text(&call.input),
                        timeout_in_seconds: call.timeout_seconds,
                        heartbeat_in_seconds: call.heartbeat_seconds,
                        task_credentials: task_credentials(call),
                    }),
                );
                self.event(
                    "TaskStarted",
                    scheduled,
                    Some(Details::TaskStarted {
                        resource_type: resource_type.clone(),
                        resource: resource.clone(),
                    }),
                )
            }
        }
    }

    /// `TaskTimedOut` / `LambdaFunctionTimedOut` event of a task; returns its id.
    fn task_timed_out_event(&mut self, kind: &ResourceKind, failure: &Failure, prev: u64) -> u64 {
        let (name, details) = match kind {
            ResourceKind::Activity { .. } => (
                "ActivityTimedOut",
                Details::ActivityTimedOut(ErrorDetails {
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                }),
            ),
            ResourceKind::Lambda => (
                "LambdaFunctionTimedOut",
                Details::LambdaFunctionTimedOut(ErrorDetails {
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                }),
            ),
            ResourceKind::Service {
                resource_type,
                resource,
            } => (
                "TaskTimedOut",
                Details::TaskTimedOut {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                    error: failure.error.clone(),
                    cause: failure.cause.clone(),
                },
            ),
        };
        self.event(name, prev, Some(details))
    }

    /// `…Succeeded` / `…Failed` event of a task; returns its id.
    fn task_result_event(
        &mut self,
        kind: &ResourceKind,
        result: &Result<Value, Failure>,
        prev: u64,
    ) -> u64 {
        let (name, details) = match (result, kind) {
            (Ok(out), ResourceKind::Activity { .. }) => (
                "ActivitySucceeded",
                Details::ActivitySucceeded {
                    output: crate::json_text(out),
                    output_details: Truncation::default(),
                },
            ),
            (Err(f), ResourceKind::Activity { .. }) => (
                "ActivityFailed",
                Details::ActivityFailed(ErrorDetails {
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                }),
            ),
            (Ok(out), ResourceKind::Lambda) => (
                "LambdaFunctionSucceeded",
                Details::LambdaFunctionSucceeded {
                    output: crate::json_text(out),
                    output_details: Truncation::default(),
                },
            ),
            (
                Ok(out),
                ResourceKind::Service {
                    resource_type,
                    resource,
                },
            ) => (
                "TaskSucceeded",
                Details::TaskSucceeded {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                    output: crate::json_text(out),
                    output_details: Truncation::default(),
                },
            ),
            (Err(f), ResourceKind::Lambda) => (
                "LambdaFunctionFailed",
                Details::LambdaFunctionFailed(ErrorDetails {
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                }),
            ),
            (
                Err(f),
                ResourceKind::Service {
                    resource_type,
                    resource,
                },
            ) => (
                "TaskFailed",
                Details::TaskFailed {
                    resource_type: resource_type.clone(),
                    resource: resource.clone(),
                    error: f.error.clone(),
                    cause: f.cause.clone(),
                },
            ),
        };
        self.event(name, prev, Some(details))
    }
}

/// `taskCredentials` of a scheduled task: `{"roleArn": ...}` from its evaluated Credentials.
fn task_credentials(call: &TaskCall) -> Option<Value> {
    let role = call.credentials.as_ref()?.get("RoleArn")?;
    Some(serde_json::json!({ "roleArn": role }))
}

/// Stops a thread for good unless it only waits for children (those are stopped themselves).
fn halt(t: &mut Thread) {
    if !matches!(t.phase, Phase::Children(_)) {
        t.phase = Phase::Stopped;
    }
}

/// Whether a thread may be in the ready queue.
fn runnable(t: &Thread) -> bool {
    !matches!(t.phase, Phase::Stopped)
}

fn visit<'a>(
    context: &'a step::Execution,
    t: &'a Thread,
    token: Option<&'a str>,
    now_ms: i64,
) -> Visit<'a> {
    Visit {
        execution: context,
        entered_time: &t.entered_time,
        retry_count: t.retries.total(),
        task_token: token,
        variables: &t.variables,
        now_ms,
    }
}

/// The `…StateFailed` event a Parallel or Map state records when its failure is not retried.
#[derive(Debug, Clone, Copy)]
enum StateFailed {
    Parallel,
    Map,
}

impl StateFailed {
    fn event(self) -> &'static str {
        match self {
            StateFailed::Parallel => "ParallelStateFailed",
            StateFailed::Map => "MapStateFailed",
        }
    }
}

enum Flow {
    Continue,
    Wait,
    Finished(Result<(Value, u64), Stop>),
}

/// Whether entering a state of this kind hands out a task token (`$$.Task.Token`).
fn waits_for_token(kind: &Kind) -> bool {
    matches!(kind, Kind::Task(t) if t.resource.ends_with(".waitForTaskToken")
        || matches!(ResourceKind::of(&t.resource), ResourceKind::Activity { .. }))
}

/// `seconds` after `now_ms`, saturating.
fn after_seconds(now_ms: i64, seconds: u64) -> i64 {
    now_ms.saturating_add(
        i64::try_from(seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000),
    )
}

/// The earlier of two optional times.
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
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
    use serde_json::json;

    use super::*;

    const T0: i64 = 1_795_000_000_000;

    fn settings() -> Settings {
        Settings {
            max_payload_bytes: Some(256 * 1024),
            seed: 1,
            context: step::Execution::default(),
        }
    }

    fn machine(v: Value) -> StateMachine {
        StateMachine::parse(&v).unwrap_or_else(|d| panic!("{:?}", d.into_vec()))
    }

    fn tasks(effects: &[Effect]) -> Vec<(ThreadId, String)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::RunTask { thread, state, .. } => Some((*thread, state.clone())),
                _ => None,
            })
            .collect()
    }

    fn task_state(name: &str) -> Value {
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true, "Comment": name})
    }

    #[test]
    fn an_execution_can_move_between_threads() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<Execution>();
    }

    #[test]
    fn parallel_branches_run_concurrently() {
        let m = machine(
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [
                {"StartAt": "A", "States": {"A": task_state("a")}},
                {"StartAt": "B", "States": {"B": task_state("b")}}]}}}),
        );
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let effects = ex.advance(&m, T0);
        let running = tasks(&effects);
        assert_eq!(
            running.len(),
            2,
            "both branches' tasks are out at once: {effects:?}"
        );
        // Finish them in reverse order: outputs still come in branch order.
        ex.task_finished(running[1].0, Ok(json!("b")), T0 + 5);
        ex.task_finished(running[0].0, Ok(json!("a")), T0 + 9);
        assert!(ex.advance(&m, T0 + 9).is_empty());
        let end = ex.end().expect("ended");
        assert_eq!(end.output, Some(json!(["a", "b"])));
    }

    #[test]
    fn map_max_concurrency_bounds_the_iterations_in_flight() {
        let m = machine(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "MaxConcurrency": 2,
            "ItemProcessor": {"StartAt": "T", "States": {"T": task_state("t")}}}}}),
        );
        let mut ex = Execution::start(&m, json!([1, 2, 3, 4, 5]), settings(), T0);
        let mut in_flight = tasks(&ex.advance(&m, T0));
        assert_eq!(in_flight.len(), 2);
        let mut done = 0;
        while let Some((thread, _)) = in_flight.pop() {
            ex.task_finished(thread, Ok(json!(done)), T0);
            done += 1;
            in_flight.extend(tasks(&ex.advance(&m, T0)));
            assert!(
                in_flight.len() <= 2,
                "never more than MaxConcurrency in flight"
            );
        }
        assert_eq!(done, 5);
        let output = ex.end().unwrap().output.clone().unwrap();
        assert_eq!(output.as_array().unwrap().len(), 5);
    }

    #[test]
    fn an_inline_map_failure_abandons_the_other_iterations() {
        let m = machine(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "T", "States": {"T": task_state("t")}}}}}),
        );
        let mut ex = Execution::start(&m, json!([1, 2, 3]), settings(), T0);
        let running = tasks(&ex.advance(&m, T0));
        assert_eq!(running.len(), 3);
        ex.task_finished(running[1].0, Err(Failure::new("Boom", "item 2")), T0);
        ex.advance(&m, T0);
        let end = ex.end().expect("the Map failed the execution");
        assert_eq!(end.status, Status::Failed);
        assert_eq!(end.failure.as_ref().unwrap().error, "Boom");
        // Late results of abandoned iterations change nothing.
        ex.task_finished(running[0].0, Ok(json!(1)), T0);
        assert!(ex.advance(&m, T0).is_empty());
        assert_eq!(ex.end().unwrap().status, Status::Failed);
    }

    #[test]
    fn waits_and_retries_are_sleep_effects_with_due_times() {
        let m = machine(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 10, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3}]}}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        assert_eq!(
            ex.advance(&m, T0),
            vec![Effect::Sleep {
                thread: 0,
                due_ms: T0 + 10_000
            }]
        );
        ex.wake(0, T0 + 10_000);
        let t = tasks(&ex.advance(&m, T0 + 10_000));
        ex.task_finished(t[0].0, Err(Failure::new("E", "")), T0 + 10_001);
        assert_eq!(
            ex.advance(&m, T0 + 10_001),
            vec![Effect::Sleep {
                thread: 0,
                due_ms: T0 + 13_001
            }]
        );
    }

    #[test]
    fn timing_out_ends_the_execution_and_records_execution_timed_out() {
        let m = machine(json!({"StartAt": "W", "TimeoutSeconds": 1,
            "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        ex.advance(&m, T0);
        assert_eq!(ex.deadline_ms(), Some(T0 + 1000));
        ex.time_out(T0 + 1000);
        assert_eq!(ex.end().unwrap().status, Status::TimedOut);
        let events = ex.take_events();
        assert_eq!(events.last().unwrap().kind, "ExecutionTimedOut");
    }

    #[test]
    fn a_snapshot_taken_mid_execution_resumes_where_it_was() {
        // Parallel: one branch waits on a task, the other sleeps; snapshot, restore, finish.
        let m = machine(
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [
                {"StartAt": "A", "States": {"A": task_state("a")}},
                {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": true}}}]}}}),
        );
        let mut ex = Execution::start(&m, json!({"x": 1}), settings(), T0);
        let effects = ex.advance(&m, T0);
        let before = ex.take_events();
        let snapshot = serde_json::to_string(&ex).expect("serializable at rest");
        drop(ex);
        let mut ex: Execution = serde_json::from_str(&snapshot).expect("restorable");
        assert_eq!(
            ex.pending_effects(),
            effects,
            "the same effects are pending after a restart"
        );
        let task = tasks(&effects)[0].0;
        ex.task_finished(task, Ok(json!("a")), T0 + 1);
        ex.advance(&m, T0 + 1);
        ex.wake(
            effects
                .iter()
                .find_map(|e| match e {
                    Effect::Sleep { thread, .. } => Some(*thread),
                    _ => None,
                })
                .unwrap(),
            T0 + 5000,
        );
        ex.advance(&m, T0 + 5000);
        assert_eq!(ex.end().unwrap().output, Some(json!(["a", {"x": 1}])));
        let after = ex.take_events();
        assert_eq!(
            after[0].id,
            before.last().unwrap().id + 1,
            "event ids continue"
        );
    }

    /// Runs `ex` to rest, answering every task with `answer(state, input)`.
    fn run_tasks(
        ex: &mut Execution,
        m: &StateMachine,
        mut effects: Vec<Effect>,
        answer: &mut dyn FnMut(&str) -> Result<Value, Failure>,
    ) -> Vec<String> {
        let mut ran = Vec::new();
        while !effects.is_empty() {
            for effect in std::mem::take(&mut effects) {
                match effect {
                    Effect::RunTask { thread, state, .. } => {
                        let result = answer(&state);
                        ran.push(state);
                        ex.task_finished(thread, result, T0);
                    }
                    Effect::Sleep { thread, due_ms } => ex.wake(thread, due_ms),
                    Effect::Deadline { .. } | Effect::Objects { .. } => {}
                }
            }
            effects = ex.advance(m, T0);
        }
        ran
    }

    fn kinds(events: &[HistoryEvent]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn redrive_reruns_the_failed_task_with_its_input_and_keeps_what_came_before() {
        let m = machine(json!({"StartAt": "Prep", "States": {
            "Prep": {"Type": "Pass", "Result": {"step": 1}, "Next": "Call"},
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done",
                     "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1, "IntervalSeconds": 1}]},
            "Done": {"Type": "Pass", "End": true}}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let effects = ex.advance(&m, T0);
        let ran = run_tasks(&mut ex, &m, effects, &mut |_| {
            Err(Failure::new("Flaky", "down"))
        });
        assert_eq!(ran.len(), 2, "first attempt and its one retry");
        assert_eq!(ex.end().unwrap().status, Status::Failed);
        let failed_at = ex.take_events().last().unwrap().id;

        // Through a snapshot, as the engine does.
        let mut ex: Execution = serde_json::from_str(&serde_json::to_string(&ex).unwrap()).unwrap();
        assert!(ex.redrive_inputs().is_empty(), "a Task keeps its input");
        ex.redrive(&m, 1, &HashMap::new(), T0 + 60_000).unwrap();
        let effects = ex.advance(&m, T0 + 60_000);
        let mut calls = 0;
        let ran = run_tasks(&mut ex, &m, effects, &mut |_| {
            calls += 1;
            if calls == 1 {
                Err(Failure::new("Flaky", "still down"))
            } else {
                Ok(json!({"ok": true}))
            }
        });
        assert_eq!(
            ran,
            ["Call", "Call"],
            "only Call runs again, with its retry reset"
        );
        let end = ex.end().unwrap();
        assert_eq!(end.status, Status::Succeeded);
        assert_eq!(end.output, Some(json!({"ok": true})));
        let events = ex.take_events();
        assert_eq!(events[0].kind, "ExecutionRedriven");
        assert_eq!(events[0].id, failed_at + 1, "ids continue");
        assert_eq!(events[0].previous_event_id, failed_at);
        assert_eq!(events[1].kind, "TaskStateEntered");
        assert_eq!(events[1].previous_event_id, events[0].id);
        let entered = serde_json::to_value(&events[1]).unwrap();
        assert_eq!(
            entered["stateEnteredEventDetails"]["input"], "{\"step\":1}",
            "the state's own input, not the execution's"
        );
        assert!(
            !kinds(&events).contains(&"PassStateEntered")
                || events.iter().any(|e| {
                    serde_json::to_value(e).unwrap()["stateEnteredEventDetails"]["name"] == "Done"
                })
        );
    }

    #[test]
    fn redrive_reruns_only_the_failed_parallel_branch() {
        let m = machine(
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [
                {"StartAt": "A", "States": {"A": task_state("a")}},
                {"StartAt": "B", "States": {"B": task_state("b")}}]}}}),
        );
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let effects = ex.advance(&m, T0);
        let running = tasks(&effects);
        ex.task_finished(running[0].0, Ok(json!("a-out")), T0);
        ex.advance(&m, T0);
        ex.task_finished(running[1].0, Err(Failure::new("Boom", "b broke")), T0);
        ex.advance(&m, T0);
        assert_eq!(ex.end().unwrap().status, Status::Failed);
        ex.redrive(&m, 1, &HashMap::new(), T0 + 1).unwrap();
        let effects = ex.advance(&m, T0 + 1);
        let again = tasks(&effects);
        assert_eq!(
            again.len(),
            1,
            "branch A succeeded and is not run again: {effects:?}"
        );
        ex.task_finished(again[0].0, Ok(json!("b-out")), T0 + 2);
        ex.advance(&m, T0 + 2);
        assert_eq!(ex.end().unwrap().output, Some(json!(["a-out", "b-out"])));
    }

    #[test]
    fn redrive_reruns_failed_and_abandoned_map_iterations_only() {
        let m = machine(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "MaxConcurrency": 2,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
                "Parameters": {"item.$": "$"}}}}}}}),
        );
        let mut ex = Execution::start(&m, json!([0, 1, 2, 3]), settings(), T0);
        let first = tasks(&ex.advance(&m, T0));
        assert_eq!(first.len(), 2);
        ex.task_finished(first[0].0, Ok(json!("r0")), T0);
        let next = tasks(&ex.advance(&m, T0));
        assert_eq!(next.len(), 1, "item 2 starts as item 0 ends");
        ex.task_finished(first[1].0, Err(Failure::new("Boom", "item 1")), T0);
        ex.advance(&m, T0);
        assert_eq!(ex.end().unwrap().status, Status::Failed);

        ex.redrive(&m, 1, &HashMap::new(), T0 + 1).unwrap();
        let mut effects = ex.advance(&m, T0 + 1);
        let mut items = Vec::new();
        while !effects.is_empty() {
            for effect in std::mem::take(&mut effects) {
                if let Effect::RunTask { thread, call, .. } = effect {
                    let item = call.input["item"].as_i64().unwrap();
                    items.push(item);
                    ex.task_finished(thread, Ok(json!(format!("r{item}"))), T0 + 2);
                }
            }
            effects = ex.advance(&m, T0 + 2);
        }
        items.sort();
        assert_eq!(
            items,
            [1, 2, 3],
            "item 0 succeeded before and is not run again"
        );
        assert_eq!(
            ex.end().unwrap().output,
            Some(json!(["r0", "r1", "r2", "r3"]))
        );
    }

    #[test]
    fn redrive_of_a_distributed_map_redrives_its_map_run_and_stays_out_of_the_history() {
        let m = machine(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {
                    "P": {"Type": "Pass", "Next": "T"},
                    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "End": true, "Parameters": {"item.$": "$"}}}}}}}),
        );
        let mut ex = Execution::start(&m, json!([0, 1]), settings(), T0);
        let first = tasks(&ex.advance(&m, T0));
        assert_eq!(first.len(), 2);
        ex.task_finished(first[0].0, Ok(json!("r0")), T0);
        ex.task_finished(first[1].0, Err(Failure::new("Boom", "item 1")), T0);
        ex.advance(&m, T0);
        assert_eq!(ex.end().unwrap().status, Status::Failed);
        let before = ex.take_events();
        let map_run = before
            .iter()
            .find_map(|e| match &e.details {
                Some(Details::MapRunStarted { map_run_arn }) => Some(map_run_arn.clone()),
                _ => None,
            })
            .expect("MapRunStarted");
        // The iterations' Pass states kept their input: nothing is needed from history.
        assert!(ex.redrive_inputs().is_empty());

        ex.redrive(&m, 1, &HashMap::new(), T0 + 1).unwrap();
        let again = tasks(&ex.advance(&m, T0 + 1));
        assert_eq!(again.len(), 1, "only the failed item runs again");
        ex.task_finished(again[0].0, Ok(json!("r1")), T0 + 2);
        ex.advance(&m, T0 + 2);
        assert_eq!(ex.end().unwrap().output, Some(json!(["r0", "r1"])));
        let events = ex.take_events();
        let after: Vec<(u64, u64, &str)> = events
            .iter()
            .map(|e| (e.id, e.previous_event_id, e.kind))
            .collect();
        let n = before.len() as u64;
        assert_eq!(
            after,
            [
                (n + 1, n, "ExecutionRedriven"),
                (n + 2, n + 1, "MapRunRedriven"),
                (n + 3, n + 2, "MapRunSucceeded"),
                (n + 4, n + 3, "MapStateSucceeded"),
                (n + 5, n + 3, "MapStateExited"),
                (n + 6, n + 5, "ExecutionSucceeded"),
            ]
        );
        let redriven = serde_json::to_value(&events[1]).unwrap();
        assert_eq!(
            redriven["mapRunRedrivenEventDetails"],
            json!({"mapRunArn": map_run, "redriveCount": 1})
        );
    }

    fn distributed(max_concurrency: u64, tolerated: u64) -> StateMachine {
        machine(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "Label": "Fan", "MaxConcurrency": max_concurrency,
            "ToleratedFailureCount": tolerated,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {
                    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "End": true, "Parameters": {"item.$": "$"}}}}}}}),
        )
    }

    fn counts(run: &MapRun) -> (u64, u64, u64, u64, u64, u64) {
        let c = run.counts;
        (
            c.pending,
            c.running,
            c.succeeded,
            c.failed,
            c.aborted,
            c.total,
        )
    }

    #[test]
    fn a_map_run_counts_its_items_as_they_start_and_end() {
        let m = distributed(2, 1);
        let mut ex = Execution::start(&m, json!([0, 1, 2]), settings(), T0);
        let first = tasks(&ex.advance(&m, T0));
        assert_eq!(first.len(), 2);
        let runs = ex.take_map_runs();
        assert_eq!(runs.len(), 1, "started: reported once");
        let run = &runs[0];
        assert!(
            run.arn.contains(":mapRun:") && run.arn.contains("/Fan:"),
            "{}",
            run.arn
        );
        assert_eq!(
            (run.status, run.start_ms, run.stop_ms),
            (MapRunStatus::Running, T0, None)
        );
        assert_eq!((run.max_concurrency, run.tolerated_failure_count), (2, 1));
        assert_eq!(counts(run), (1, 2, 0, 0, 0, 3));
        assert!(ex.take_map_runs().is_empty(), "nothing changed since");

        ex.task_finished(first[0].0, Err(Failure::new("Boom", "item 0")), T0 + 1);
        let next = tasks(&ex.advance(&m, T0 + 1));
        assert_eq!(next.len(), 1);
        assert_eq!(counts(&ex.take_map_runs()[0]), (0, 2, 0, 1, 0, 3));
        ex.task_finished(first[1].0, Ok(json!(1)), T0 + 2);
        ex.task_finished(next[0].0, Ok(json!(2)), T0 + 2);
        ex.advance(&m, T0 + 2);
        assert_eq!(
            ex.end().unwrap().status,
            Status::Succeeded,
            "one failure tolerated"
        );
        let run = &ex.take_map_runs()[0];
        assert_eq!(
            (run.status, run.stop_ms),
            (MapRunStatus::Succeeded, Some(T0 + 2))
        );
        assert_eq!(counts(run), (0, 0, 2, 1, 0, 3));
        assert_eq!(ex.map_runs().len(), 1);
    }

    #[test]
    fn a_map_run_over_its_tolerance_fails_and_a_redrive_runs_its_failures_again() {
        let m = distributed(0, 0);
        let mut ex = Execution::start(&m, json!([0, 1]), settings(), T0);
        let first = tasks(&ex.advance(&m, T0));
        ex.task_finished(first[0].0, Ok(json!(0)), T0);
        ex.task_finished(first[1].0, Err(Failure::new("Boom", "item 1")), T0);
        ex.advance(&m, T0);
        assert_eq!(ex.end().unwrap().status, Status::Failed);
        let run = ex.take_map_runs().pop().unwrap();
        assert_eq!(run.status, MapRunStatus::Failed);
        assert_eq!(counts(&run), (0, 0, 1, 1, 0, 2));

        ex.redrive(&m, 1, &HashMap::new(), T0 + 5).unwrap();
        let again = tasks(&ex.advance(&m, T0 + 5));
        assert_eq!(again.len(), 1);
        let run = ex.take_map_runs().pop().unwrap();
        assert_eq!(
            (run.status, run.redrive_count, run.redrive_ms),
            (MapRunStatus::Running, 1, Some(T0 + 5))
        );
        assert_eq!(counts(&run), (0, 1, 1, 0, 0, 2));
        ex.task_finished(again[0].0, Ok(json!(1)), T0 + 6);
        ex.advance(&m, T0 + 6);
        let run = ex.take_map_runs().pop().unwrap();
        assert_eq!(run.status, MapRunStatus::Succeeded);
        assert_eq!(counts(&run), (0, 0, 2, 0, 0, 2));
    }

    #[test]
    fn stopping_the_execution_aborts_its_running_map_run() {
        let m = distributed(1, 0);
        let mut ex = Execution::start(&m, json!([0, 1, 2]), settings(), T0);
        ex.advance(&m, T0);
        ex.abort(None, None, T0 + 3);
        let run = ex.take_map_runs().pop().unwrap();
        assert_eq!(
            (run.status, run.stop_ms),
            (MapRunStatus::Aborted, Some(T0 + 3))
        );
        assert_eq!(
            counts(&run),
            (2, 0, 0, 0, 1, 3),
            "the running item is aborted"
        );
    }

    #[test]
    fn update_map_run_raises_max_concurrency_and_tolerance_of_a_running_map() {
        let m = distributed(1, 0);
        let mut ex = Execution::start(&m, json!([0, 1, 2]), settings(), T0);
        let first = tasks(&ex.advance(&m, T0));
        assert_eq!(first.len(), 1);
        let arn = ex.take_map_runs()[0].arn.clone();
        assert_eq!(
            ex.update_map_run(
                "arn:aws:states:us-east-1:1:mapRun:x/y:z",
                MapRunUpdate::default()
            ),
            Err(MapRunMissing)
        );
        let update = MapRunUpdate {
            max_concurrency: Some(3),
            tolerated_failure_count: Some(1),
            ..MapRunUpdate::default()
        };
        ex.update_map_run(&arn, update).unwrap();
        let more = tasks(&ex.advance(&m, T0 + 1));
        assert_eq!(more.len(), 2, "room for two more items");
        let run = ex.take_map_runs().pop().unwrap();
        assert_eq!((run.max_concurrency, run.tolerated_failure_count), (3, 1));
        ex.task_finished(first[0].0, Err(Failure::new("Boom", "item 0")), T0 + 2);
        for (thread, _) in more {
            ex.task_finished(thread, Ok(json!("ok")), T0 + 2);
        }
        ex.advance(&m, T0 + 2);
        assert_eq!(
            ex.end().unwrap().status,
            Status::Succeeded,
            "the raised tolerance lets one failure through"
        );
    }

    #[test]
    fn the_input_shows_as_given_in_execution_started_and_the_first_state_only() {
        // Recorded on AWS: input `["Hello", "World"]` shows with its spaces in
        // ExecutionStarted and the first state's entered event; outputs are compact.
        let m = machine(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "End": true}}}));
        let text = r#"["Hello", "World"]"#;
        let mut ex = Execution::start_with_text(
            &m,
            serde_json::from_str(text).unwrap(),
            text.to_owned(),
            settings(),
            T0,
        );
        ex.advance(&m, T0);
        let events: Vec<Value> = ex
            .take_events()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(events[0]["executionStartedEventDetails"]["input"], text);
        assert_eq!(events[1]["stateEnteredEventDetails"]["input"], text);
        assert_eq!(
            events[2]["stateExitedEventDetails"]["output"],
            r#"["Hello","World"]"#
        );
        assert_eq!(
            events[3]["stateEnteredEventDetails"]["input"],
            r#"["Hello","World"]"#
        );
    }

    #[test]
    fn redrive_of_an_aborted_wait_needs_the_input_from_history() {
        let m = machine(json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 60, "End": true}}}));
        let mut ex = Execution::start(&m, json!({"x": 1}), settings(), T0);
        ex.advance(&m, T0);
        ex.abort(None, None, T0 + 5);
        assert_eq!(ex.end().unwrap().status, Status::Aborted);
        let events = ex.take_events();
        let entered = events
            .iter()
            .find(|e| e.kind == "WaitStateEntered")
            .unwrap()
            .id;
        assert_eq!(ex.redrive_inputs(), [entered]);
        assert_eq!(
            ex.redrive(&m, 1, &HashMap::new(), T0 + 10),
            Err(RedriveError::MissingInput(entered))
        );
        let inputs = HashMap::from([(entered, json!({"x": 1}))]);
        ex.redrive(&m, 1, &inputs, T0 + 10).unwrap();
        let effects = ex.advance(&m, T0 + 10);
        assert_eq!(
            effects,
            [Effect::Sleep {
                thread: 0,
                due_ms: T0 + 60_010
            }],
            "waits in full again"
        );
        ex.wake(0, T0 + 60_010);
        ex.advance(&m, T0 + 60_010);
        assert_eq!(ex.end().unwrap().output, Some(json!({"x": 1})));
    }

    #[test]
    fn redrive_restarts_the_execution_timeout_and_refuses_running_or_succeeded() {
        let m = machine(json!({"StartAt": "T", "TimeoutSeconds": 10,
            "States": {"T": task_state("t")}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let t = tasks(&ex.advance(&m, T0));
        assert_eq!(
            ex.redrive(&m, 1, &HashMap::new(), T0),
            Err(RedriveError::NotRedrivable("RUNNING"))
        );
        ex.time_out(T0 + 10_000);
        // The task of the timed-out attempt reports late: ignored.
        ex.task_finished(t[0].0, Ok(json!(1)), T0 + 10_001);
        assert!(ex.advance(&m, T0 + 10_001).is_empty());
        ex.redrive(&m, 1, &HashMap::new(), T0 + 50_000).unwrap();
        assert_eq!(
            ex.deadline_ms(),
            Some(T0 + 60_000),
            "TimeoutSeconds counts from the redrive"
        );
        let t = tasks(&ex.advance(&m, T0 + 50_000));
        ex.task_finished(t[0].0, Ok(json!("done")), T0 + 50_001);
        ex.advance(&m, T0 + 50_001);
        assert_eq!(ex.end().unwrap().status, Status::Succeeded);
        assert_eq!(
            ex.redrive(&m, 2, &HashMap::new(), T0 + 60_000),
            Err(RedriveError::NotRedrivable("SUCCEEDED"))
        );
    }

    #[test]
    fn a_caught_parallel_leaves_nothing_to_redrive_behind() {
        let m = machine(json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "F",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                  "Branches": [{"StartAt": "A", "States": {"A": task_state("a")}}]},
            "F": {"Type": "Fail", "Error": "Final"}}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let t = tasks(&ex.advance(&m, T0));
        ex.task_finished(t[0].0, Err(Failure::new("Boom", "")), T0);
        ex.advance(&m, T0);
        assert_eq!(ex.end().unwrap().failure.as_ref().unwrap().error, "Final");
        let fail_entered = ex
            .take_events()
            .iter()
            .find(|e| e.kind == "FailStateEntered")
            .unwrap()
            .id;
        assert_eq!(
            ex.redrive_inputs(),
            [fail_entered],
            "the Parallel's branch is gone"
        );
        let inputs = HashMap::from([(fail_entered, json!({}))]);
        ex.redrive(&m, 1, &inputs, T0 + 1).unwrap();
        let effects = ex.advance(&m, T0 + 1);
        assert!(
            effects.is_empty(),
            "only the Fail state is entered again: {effects:?}"
        );
        assert_eq!(ex.end().unwrap().failure.as_ref().unwrap().error, "Final");
    }

    #[test]
    fn a_submitted_task_records_task_submitted_once_and_keeps_it_across_a_snapshot() {
        let m = machine(json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
            "End": true}}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let effects = ex.advance(&m, T0);
        let Some(Effect::RunTask {
            thread,
            scheduled,
            submitted: None,
            ..
        }) = effects.first().cloned()
        else {
            panic!("{effects:?}");
        };
        let events = ex.take_events();
        assert_eq!(
            events.iter().find(|e| e.id == scheduled).unwrap().kind,
            "TaskScheduled"
        );
        ex.task_submitted(thread, scheduled + 7, json!({"stale": true}), T0);
        assert!(
            ex.take_events().is_empty(),
            "another run of the task: ignored"
        );
        ex.task_submitted(thread, scheduled, json!({"ExecutionArn": "child"}), T0);
        ex.task_submitted(thread, scheduled, json!({"ExecutionArn": "again"}), T0);
        let submitted = ex.take_events();
        assert_eq!(submitted.len(), 1, "once: {submitted:?}");
        assert_eq!(submitted[0].kind, "TaskSubmitted");
        assert_eq!(submitted[0].previous_event_id, events.last().unwrap().id);
        // After a restart the task is performed again, knowing what it submitted.
        let restored: Execution =
            serde_json::from_str(&serde_json::to_string(&ex).unwrap()).unwrap();
        match restored.pending_effects().as_slice() {
            [
                Effect::RunTask {
                    scheduled: s,
                    submitted: Some(out),
                    ..
                },
            ] => {
                assert_eq!(*s, scheduled);
                assert_eq!(out["ExecutionArn"], "child");
            }
            other => panic!("{other:?}"),
        }
        let mut ex = restored;
        ex.task_finished(thread, Ok(json!("done")), T0);
        ex.advance(&m, T0);
        let events = ex.take_events();
        assert_eq!(events[0].kind, "TaskSucceeded");
        assert_eq!(events[0].previous_event_id, submitted[0].id);
    }

    /// The invocation numbers of the tasks among `effects`, with their state names.
    fn invocations(effects: &[Effect]) -> Vec<(String, u32)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::RunTask { state, call, .. } => Some((state.clone(), call.invocation)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn tasks_are_numbered_per_state_across_retries_and_restarts() {
        let m = machine(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "U",
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                             "MaxAttempts": 2}]},
            "U": task_state("u")}}));
        let mut ex = Execution::start(&m, json!({}), settings(), T0);
        let effects = ex.advance(&m, T0);
        assert_eq!(invocations(&effects), [("T".to_string(), 0)]);
        // In flight at a restart: performed again with the same number.
        let mut ex = restored(&ex);
        assert_eq!(invocations(&ex.pending_effects()), [("T".to_string(), 0)]);
        ex.task_finished(0, Err(Failure::new("E", "first")), T0);
        assert!(
            ex.advance(&m, T0)
                .iter()
                .all(|e| matches!(e, Effect::Sleep { .. }))
        );
        // Waiting for the retry at a restart: the retry is the next invocation.
        let mut ex = restored(&ex);
        ex.wake(0, T0 + 1_000);
        let effects = ex.advance(&m, T0 + 1_000);
        assert_eq!(invocations(&effects), [("T".to_string(), 1)]);
        let mut ex = restored(&ex);
        assert_eq!(invocations(&ex.pending_effects()), [("T".to_string(), 1)]);
        ex.task_finished(0, Ok(json!({})), T0 + 1_001);
        let effects = ex.advance(&m, T0 + 1_001);
        assert_eq!(
            invocations(&effects),
            [("U".to_string(), 0)],
            "counted per state"
        );
    }

    #[test]
    fn tasks_in_map_iterations_count_on_across_iterations() {
        let m = machine(json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "MaxConcurrency": 1, "End": true,
            "Iterator": {"StartAt": "T", "States": {"T": task_state("t")}}}}}));
        let mut ex = Execution::start(&m, json!([1, 2, 3]), settings(), T0);
        let mut seen = Vec::new();
        let mut effects = ex.advance(&m, T0);
        while let Some(Effect::RunTask { thread, call, .. }) = effects.first().cloned() {
            seen.push(call.invocation);
            ex = restored(&ex);
            ex.task_finished(thread, Ok(json!(null)), T0);
            effects = ex.advance(&m, T0);
        }
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!(ex.end().unwrap().status, Status::Succeeded);
    }

    /// Restores `ex` from its snapshot, as a restarted engine does.
    fn restored(ex: &Execution) -> Execution {
        serde_json::from_str(&serde_json::to_string(ex).unwrap()).unwrap()
    }

    fn details(event: &HistoryEvent) -> Value {
        serde_json::to_value(event).unwrap()
    }

    #[test]
    fn timeout_seconds_is_a_deadline_effect_and_a_late_result_is_ignored() {
        let m = machine(json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
            "TimeoutSecondsPath": "$.limit",
            "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1,
                       "MaxAttempts": 1}]}}}));
        let mut ex = Execution::start(&m, json!({"limit": 5}), settings(), T0);
        let effects = ex.advance(&m, T0);
        let Some(Effect::RunTask {
            thread, scheduled, ..
        }) = effects.first().cloned()
        else {
            panic!("{effects:?}")
        };
        assert_eq!(
            effects[1],
            Effect::Deadline {
                thread,
                due_ms: T0 + 5000
            }
        );
        assert_eq!(
            restored(&ex).pending_effects(),
            effects,
            "the deadline survives a restart"
        );
        ex.take_events();
        ex.wake(thread, T0 + 4999);
        assert!(ex.advance(&m, T0 + 4999).is_empty(), "not yet");
        ex.wake(thread, T0 + 5000);
        assert_eq!(
            ex.advance(&m, T0 + 5000),
            vec![Effect::Sleep {
                thread,
                due_ms: T0 + 6000
            }],
            "retried on States.Timeout"
        );
        let timed_out = ex.take_events();
        assert_eq!(kinds(&timed_out), ["TaskTimedOut"]);
        assert_eq!(
            details(&timed_out[0])["taskTimedOutEventDetails"],
            json!({"resourceType": "lambda", "resource": "invoke", "error": "States.Timeout"})
        );
        // The first attempt's result comes in late: not the task the thread waits for now.
        ex.wake(thread, T0 + 6000);
        let again = ex.advance(&m, T0 + 6000);
        let Some(Effect::RunTask {
            scheduled: second, ..
        }) = again.first()
        else {
            panic!("{again:?}")
        };
        assert_ne!(*second, scheduled);
        assert_eq!(ex.current_task(thread), Some(*second));
        // The second attempt times out too: no retry left.
        ex.wake(thread, T0 + 11_000);
        ex.advance(&m, T0 + 11_000);
        let end = ex.end().unwrap();
        assert_eq!(end.status, Status::Failed);
        assert_eq!(end.failure, Some(Failure::new("States.Timeout", "")));
        let plain = machine(json!({"StartAt": "F", "States": {"F": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f", "End": true,
            "TimeoutSeconds": 1}}}));
        let mut ex = Execution::start(&plain, json!({}), settings(), T0);
        ex.advance(&plain, T0);
        ex.wake(0, T0 + 1000);
        ex.advance(&plain, T0 + 1000);
        let events = ex.take_events();
        let timed_out = events
            .iter()
            .find(|e| e.kind == "LambdaFunctionTimedOut")
            .expect("a Lambda function times out with its own event");
        assert_eq!(
            details(timed_out)["lambdaFunctionTimedOutEventDetails"],
            json!({"error": "States.Timeout"})
        );
    }

    fn callback_machine() -> StateMachine {
        machine(json!({"StartAt": "Ask", "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 600, "HeartbeatSeconds": 5, "Next": "Done",
                    "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Late"}]},
            "Done": {"Type": "Pass", "End": true},
            "Late": {"Type": "Pass", "End": true}}}))
    }

    /// Starts the callback machine: its task, thread, scheduled event id and token.
    fn asking(m: &StateMachine) -> (Execution, ThreadId, u64, String) {
        let mut ex = Execution::start(m, json!({}), settings(), T0);
        let effects = ex.advance(m, T0);
        let Some(Effect::RunTask {
            thread,
            scheduled,
            call,
            ..
        }) = effects.first().cloned()
        else {
            panic!("{effects:?}")
        };
        let token = call
            .task_token
            .clone()
            .expect("a token for .waitForTaskToken");
        assert_eq!(
            call.input["MessageBody"]["token"],
            json!(token),
            "$$.Task.Token"
        );
        assert_eq!(
            effects[1],
            Effect::Deadline {
                thread,
                due_ms: T0 + 5000
            },
            "the heartbeat comes due first"
        );
        (ex, thread, scheduled, token)
    }

    #[test]
    fn heartbeats_move_the_deadline_and_a_missed_one_is_caught_as_a_heartbeat_timeout() {
        let m = callback_machine();
        let (mut ex, thread, _, token) = asking(&m);
        assert_eq!(
            ex.task_heartbeat(&token, T0 + 3000),
            Ok(vec![Effect::Deadline {
                thread,
                due_ms: T0 + 8000
            }])
        );
        assert!(ex.take_events().iter().all(|e| e.kind != "TaskTimedOut"));
        let after_restart = restored(&ex);
        assert!(
            after_restart.pending_effects().contains(&Effect::Deadline {
                thread,
                due_ms: T0 + 8000
            }),
            "the moved deadline is in the snapshot"
        );
        let mut ex = after_restart;
        ex.wake(thread, T0 + 5000);
        assert!(
            ex.advance(&m, T0 + 5000).is_empty(),
            "the old deadline is stale"
        );
        assert!(ex.take_events().is_empty());
        ex.wake(thread, T0 + 8000);
        ex.advance(&m, T0 + 8000);
        let events = ex.take_events();
        assert_eq!(
            kinds(&events),
            [
                "TaskTimedOut",
                "TaskStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_eq!(
            details(&events[0])["taskTimedOutEventDetails"]["error"],
            "States.Timeout",
            "AWS records a heartbeat timeout as States.Timeout"
        );
        assert_eq!(
            ex.end().unwrap().output,
            Some(json!({"Error": "States.Timeout", "Cause": ""})),
            "caught by States.HeartbeatTimeout"
        );
        assert_eq!(
            ex.task_callback(&token, Ok(json!(1)), T0 + 9000),
            Err(TokenError::Closed)
        );
        assert_eq!(
            ex.task_heartbeat(&token, T0 + 9000),
            Err(TokenError::Closed)
        );
    }

    #[test]
    fn a_callback_ends_the_waiting_task_after_a_restart() {
        let m = callback_machine();
        let (mut ex, thread, scheduled, token) = asking(&m);
        assert_eq!(
            ex.task_callback("NoSuchTaskToken", Ok(json!(1)), T0),
            Err(TokenError::Invalid)
        );
        // The integration's call returned: submitted, still waiting.
        ex.task_submitted(thread, scheduled, json!({"MessageId": "m-1"}), T0 + 10);
        assert!(ex.advance(&m, T0 + 10).is_empty());
        let before = ex.take_events();
        assert_eq!(kinds(&before).last(), Some(&"TaskSubmitted"));
        let mut ex = restored(&ex);
        match ex.pending_effects().as_slice() {
            [
                Effect::RunTask {
                    call, submitted, ..
                },
                Effect::Deadline { .. },
            ] => {
                assert_eq!(call.task_token.as_deref(), Some(token.as_str()));
                assert!(submitted.is_some(), "no second call after a restart");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ex.task_callback(&token, Ok(json!({"approved": true})), T0 + 20),
            Ok(())
        );
        ex.advance(&m, T0 + 20);
        let events = ex.take_events();
        assert_eq!(events[0].kind, "TaskSucceeded");
        assert_eq!(
            details(&events[0])["taskSucceededEventDetails"]["output"],
            r#"{"approved":true}"#
        );
        assert_eq!(events[0].previous_event_id, before.last().unwrap().id);
        assert_eq!(ex.end().unwrap().output, Some(json!({"approved": true})));
        assert_eq!(
            ex.task_callback(&token, Ok(json!(2)), T0 + 30),
            Err(TokenError::Closed),
            "a token answers once"
        );
        // SendTaskFailure: the task fails with the caller's error and cause.
        let (mut ex, _, _, token) = asking(&m);
        ex.task_callback(&token, Err(Failure::new("Denied", "by a human")), T0 + 5)
            .unwrap();
        ex.advance(&m, T0 + 5);
        let events = ex.take_events();
        let failed = events.iter().find(|e| e.kind == "TaskFailed").unwrap();
        assert_eq!(
            details(failed)["taskFailedEventDetails"],
            json!({"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken",
                   "error": "Denied", "cause": "by a human"})
        );
        assert_eq!(ex.end().unwrap().status, Status::Failed);
    }
}
