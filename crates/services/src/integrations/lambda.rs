//! [`FunctionsDispatcher`]: Task states that name Lambda functions run them for real.
//!
//! Plain function ARNs (`arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]`),
//! `arn:aws:states:::lambda:invoke` and `arn:aws:states:::lambda:invoke.waitForTaskToken` go to
//! the functions service; results and failures take AWS's shapes (`sluice_functions::task`).
//! For `.waitForTaskToken` the invocation (its payload carries `$$.Task.Token`) only submits
//! the task, which then waits for SendTaskSuccess/SendTaskFailure; a handler error fails it. A mock configuration keeps precedence: when the
//! execution's test case has a response for the state, the mock answers, as in Step Functions
//! Local; every other task goes to the wrapped dispatcher too.
//!
//! Every invocation carries the run's idempotency key in its client context
//! (`custom["sluice-idempotency-key"]`, `sluice_functions::task::idempotency_key`): tasks are
//! at-least-once, and a handler that has side effects can dedupe by it.

use serde_json::Value;
use sluice_asl::Failure;
use sluice_engine::{Dispatch, Task};
use sluice_functions::Functions;
use sluice_functions::task::{Resource, idempotency_key, service_failure};

/// Runs Lambda tasks on [`Functions`]; everything else (and what `inner` answers itself, such
/// as a mock test case's responses) goes to `inner`.
pub struct FunctionsDispatcher<D> {
    functions: Functions,
    inner: D,
}

impl<D: Dispatch> FunctionsDispatcher<D> {
    pub fn new(functions: Functions, inner: D) -> Self {
        Self { functions, inner }
    }

    async fn invoke(&self, resource: Resource, task: &Task) -> Result<Value, Failure> {
        let mut call = resource
            .call(&task.call.input)
            .map_err(|(error, cause)| Failure::new(error, cause))?;
        call.options.idempotency_key = Some(idempotency_key(
            &task.execution,
            &task.state,
            task.scheduled_event_id,
        ));
        let invoked = self
            .functions
            .invoke(&call.name, call.payload.into(), call.options)
            .await
            .map_err(|error| {
                let (error, cause) = service_failure(&error);
                Failure::new(error, cause)
            })?;
        resource
            .result(&invoked, chrono::Utc::now())
            .map_err(|(error, cause)| Failure::new(error, cause))
    }
}

impl<D: Dispatch> Dispatch for FunctionsDispatcher<D> {
    async fn dispatch(&self, task: Task) -> Result<Value, Failure> {
        if !self.inner.answers(&task)
            && let Some(resource) = Resource::parse(&task.call.resource)
        {
            return self.invoke(resource, &task).await;
        }
        self.inner.dispatch(task).await
    }

    fn answers(&self, task: &Task) -> bool {
        self.inner.answers(task) || Resource::parse(&task.call.resource).is_some()
    }

    /// `lambda:invoke.waitForTaskToken` invokes the function, then waits for its callback;
    /// what `inner` answers, as `inner` says.
    fn waits_for_callback(&self, task: &Task) -> bool {
        if self.inner.answers(task) {
            return self.inner.waits_for_callback(task);
        }
        Resource::parse(&task.call.resource).is_some_and(|r| r.waits_for_callback())
    }
}
