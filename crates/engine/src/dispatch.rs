//! Task dispatch: who runs a Task state's work. [`Dispatch`] is what the engine calls; a server
//! gives it an [`crate::Integrations`] registry, tests give it the Step Functions Local mock
//! configuration ([`MockDispatcher`]) or "no tasks" ([`NoDispatcher`]).

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use sluice_asl::Failure;
use sluice_asl::driver::ThreadId;
use sluice_asl::mock::MockConfig;
use sluice_asl::step::TaskCall;
use tokio::sync::mpsc;

/// One task to run.
#[derive(Debug, Clone)]
pub struct Task {
    /// The execution's ARN.
    pub execution: String,
    /// The state machine's name (mock configs are keyed by it).
    pub machine: String,
    /// The Task state's name.
    pub state: String,
    /// What to run; for a `.waitForTaskToken` task its `task_token` (see
    /// [`Dispatch::waits_for_callback`]).
    pub call: TaskCall,
    /// Test case of a mock configuration (`stateMachineArn#TestCase`), if any.
    pub test_case: Option<String>,
    /// The id of the task's `TaskScheduled` event: with `execution`, names this run of the task,
    /// the same when it is dispatched again after a restart.
    pub scheduled_event_id: u64,
    /// What this run of the task reported with [`Task::submitted`] before a restart, if it did:
    /// a `.sync` integration finds the job it started there.
    pub submitted: Option<Value>,
    /// Where [`Task::submitted`] reports to.
    pub(crate) submissions: Option<Submissions>,
}

/// A task's submission report: `(thread, scheduled event id, output)`.
pub(crate) type Submission = (ThreadId, u64, Value);

/// The channel a running task reports its submission on.
#[derive(Debug, Clone)]
pub(crate) struct Submissions {
    pub(crate) sender: mpsc::UnboundedSender<Submission>,
    pub(crate) thread: ThreadId,
}

impl Task {
    /// Reports that the task was submitted (a `.sync` integration started its job and now waits
    /// for it to end): the execution records `TaskSubmitted` with `output`, durably, and a
    /// dispatch of this task after a restart sees `output` in [`Task::submitted`].
    pub fn submitted(&self, output: Value) {
        if let Some(s) = &self.submissions {
            let _ = s.sender.send((s.thread, self.scheduled_event_id, output));
        }
    }

    /// The region of the execution (its ARN's), where what the task names without a region
    /// lives.
    pub fn region(&self) -> &str {
        self.execution.split(':').nth(3).unwrap_or_default()
    }
}

/// Runs tasks. Tasks are at-least-once: the same task may be dispatched again after a crash.
pub trait Dispatch: Send + Sync + 'static {
    fn dispatch(&self, task: Task) -> impl Future<Output = Result<Value, Failure>> + Send;

    /// Whether this dispatcher answers `task` itself. When it does not, the engine runs the
    /// Step Functions integrations it has built in (`states:startExecution`) itself; a
    /// `.waitForTaskToken` task is not dispatched at all (there is no call Sluice could make:
    /// it waits for its callback, its token in `TaskScheduled`'s parameters); other tasks are
    /// dispatched here anyway.
    fn answers(&self, task: &Task) -> bool {
        let _ = task;
        true
    }

    /// For a `.waitForTaskToken` task (`task.call.task_token` is set) this dispatcher answers:
    /// whether `dispatch` makes the integration's call (sends the message, invokes the function
    /// that carries the token), whose response the engine records as `TaskSubmitted`, the task
    /// then waiting for SendTaskSuccess or SendTaskFailure (an `Err` fails it). `false`, the
    /// default: what `dispatch` answers stands in for the whole task, callback included, as a
    /// Step Functions Local mocked response does.
    fn waits_for_callback(&self, task: &Task) -> bool {
        let _ = task;
        false
    }
}

/// Fails every task: for machines without Task states, or a clear error when one is reached.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDispatcher;

impl Dispatch for NoDispatcher {
    async fn dispatch(&self, task: Task) -> Result<Value, Failure> {
        Err(Failure::runtime(format!(
            "No task runner for state '{}' (resource {}): give a mock configuration",
            task.state, task.call.resource
        )))
    }

    fn answers(&self, _: &Task) -> bool {
        false
    }
}

/// Answers tasks from a Step Functions Local mock configuration: the execution's test case
/// names a mocked response per state, keyed by the task's invocation number
/// ([`TaskCall::invocation`](sluice_asl::step::TaskCall::invocation), counted by the driver and
/// kept with the execution, so nothing is kept here).
#[derive(Debug, Clone)]
pub struct MockDispatcher {
    config: Arc<MockConfig>,
}

impl MockDispatcher {
    pub fn new(config: MockConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    fn answer(&self, task: &Task) -> Result<Value, Failure> {
        let case_name = task.test_case.as_deref().unwrap_or("<none>");
        let no_mock = |why: String| {
            Failure::runtime(format!(
                "No mocked response for state '{}' (invocation #{}) in test case \
                 '{case_name}' of state machine '{}': {why}",
                task.state, task.call.invocation, task.machine
            ))
        };
        let Some(case) = &task.test_case else {
            return Err(no_mock("the execution names no test case".into()));
        };
        let case = self
            .config
            .test_case(&task.machine, case)
            .map_err(|e| no_mock(e.to_string()))?;
        case.answer(&task.state, &task.call)
            .unwrap_or_else(|| Err(no_mock("add it to MockedResponses".into())))
    }
}

impl Dispatch for MockDispatcher {
    async fn dispatch(&self, task: Task) -> Result<Value, Failure> {
        self.answer(&task)
    }

    /// Whether the execution's test case has a response for this invocation of the state (as
    /// Step Functions Local, which calls the real service for a state its test case leaves out).
    fn answers(&self, task: &Task) -> bool {
        let Some(case) = &task.test_case else {
            return false;
        };
        let Ok(case) = self.config.test_case(&task.machine, case) else {
            return false;
        };
        case.response(&task.state, task.call.invocation).is_some()
    }
}
