//! [`LambdaIntegration`]: Task states that name Lambda functions run them for real.
//!
//! Plain function ARNs (`arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]`),
//! `arn:aws:states:::lambda:invoke` and `arn:aws:states:::lambda:invoke.waitForTaskToken` go to
//! the functions service; results and failures take AWS's shapes (`sluice_functions::task`).
//! A function named by ARN runs in the ARN's region, one named by name alone in the state
//! machine's.
//! For `.waitForTaskToken` the invocation (its payload carries `$$.Task.Token`) only submits
//! the task, which then waits for SendTaskSuccess/SendTaskFailure; a handler error fails it.
//! Registered under the key `lambda` of [`sluice_engine::Integrations`], behind any mock
//! configuration.
//!
//! Every invocation carries the run's idempotency key in its client context
//! (`custom["sluice-idempotency-key"]`, `sluice_functions::task::idempotency_key`): tasks are
//! at-least-once, and a handler that has side effects can dedupe by it.

use serde_json::Value;
use sluice_asl::Failure;
use sluice_engine::{Integration, Task, TaskFuture};
use sluice_functions::Functions;
use sluice_functions::task::{Resource, idempotency_key, service_failure};

/// Runs Lambda tasks on [`Functions`].
pub struct LambdaIntegration {
    functions: Functions,
}

impl LambdaIntegration {
    pub fn new(functions: Functions) -> Self {
        Self { functions }
    }

    async fn invoke(&self, task: Task) -> Result<Value, Failure> {
        let resource = Resource::parse(&task.call.resource).ok_or_else(|| {
            Failure::runtime(format!(
                "'{}' is not a Lambda function or lambda:invoke resource",
                task.call.resource
            ))
        })?;
        let mut call = resource
            .call(&task.call.input)
            .map_err(|(error, cause)| Failure::new(error, cause))?;
        call.options.idempotency_key = Some(idempotency_key(
            &task.execution,
            &task.state,
            task.scheduled_event_id,
        ));
        // A function ARN's region, else the state machine's.
        let region = call.region.as_deref().unwrap_or_else(|| task.region());
        let invoked = self
            .functions
            .in_region(region)
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

impl Integration for LambdaIntegration {
    fn run(&self, task: Task) -> TaskFuture<'_> {
        Box::pin(self.invoke(task))
    }

    /// `lambda:invoke.waitForTaskToken` invokes the function, then waits for its callback.
    fn waits_for_callback(&self, task: &Task) -> bool {
        Resource::parse(&task.call.resource).is_some_and(|r| r.waits_for_callback())
    }
}
