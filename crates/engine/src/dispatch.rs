//! Task dispatch: who runs a Task state's work. Functions (issue 5) and service integrations
//! implement [`Dispatch`]; today there are the Step Functions Local mock configuration and
//! "no tasks".

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sluice_asl::Failure;
use sluice_asl::mock::MockConfig;
use sluice_asl::step::TaskCall;

/// One task to run.
#[derive(Debug, Clone)]
pub struct Task {
    /// The execution's ARN.
    pub execution: String,
    /// The state machine's name (mock configs are keyed by it).
    pub machine: String,
    /// The Task state's name.
    pub state: String,
    pub call: TaskCall,
    /// Test case of a mock configuration (`stateMachineArn#TestCase`), if any.
    pub test_case: Option<String>,
}

/// Runs tasks. Tasks are at-least-once: the same task may be dispatched again after a crash.
pub trait Dispatch: Send + Sync + 'static {
    fn dispatch(&self, task: Task) -> impl Future<Output = Result<Value, Failure>> + Send;
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
}

/// Answers tasks from a Step Functions Local mock configuration: the execution's test case
/// names a mocked response per state, keyed by the state's invocation number.
#[derive(Debug, Clone)]
pub struct MockDispatcher {
    config: Arc<MockConfig>,
    /// Invocations so far per (execution, state).
    invocations: Arc<Mutex<HashMap<(String, String), u32>>>,
}

impl MockDispatcher {
    pub fn new(config: MockConfig) -> Self {
        Self {
            config: Arc::new(config),
            invocations: Arc::default(),
        }
    }

    fn answer(&self, task: &Task) -> Result<Value, Failure> {
        let attempt = {
            let mut counts = self.invocations.lock().unwrap_or_else(|e| e.into_inner());
            let n = counts
                .entry((task.execution.clone(), task.state.clone()))
                .or_insert(0);
            *n += 1;
            *n - 1
        };
        let case_name = task.test_case.as_deref().unwrap_or("<none>");
        let no_mock = |why: String| {
            Failure::runtime(format!(
                "No mocked response for state '{}' (invocation #{attempt}) in test case \
                 '{case_name}' of state machine '{}': {why}",
                task.state, task.machine
            ))
        };
        let Some(case) = &task.test_case else {
            return Err(no_mock("the execution names no test case".into()));
        };
        let case = self
            .config
            .test_case(&task.machine, case)
            .map_err(|e| no_mock(e.to_string()))?;
        match case.response(&task.state, attempt) {
            Some(response) => response.outcome(&task.call.resource),
            None => Err(no_mock("add it to MockedResponses".into())),
        }
    }
}

impl Dispatch for MockDispatcher {
    async fn dispatch(&self, task: Task) -> Result<Value, Failure> {
        self.answer(&task)
    }
}
