//! [`SqsIntegration`]: `arn:aws:states:::sqs:sendMessage` (and `.waitForTaskToken`, whose
//! message carries `$$.Task.Token` for the consumer to call back with), through Sluice's own
//! SQS API: AWS's parameters (`QueueUrl`, `MessageBody` as text or any JSON value,
//! `DelaySeconds`, `MessageAttributes`, ...) and result (`MessageId`, `MD5OfMessageBody`).
//! Errors are named as for SDK integrations (`Sqs.QueueDoesNotExistException`... AWS
//! documents the optimized integration's errors the same way). Registered under the key
//! `sqs`.

use std::sync::Arc;

use serde_json::{Map, Value};
use sluice_api::sqs::Sqs;
use sluice_asl::Failure;
use sluice_engine::{Integration, Task, TaskFuture};

/// Runs SQS tasks on an SQS backend.
pub struct SqsIntegration<B> {
    backend: Arc<B>,
}

impl<B: Sqs> SqsIntegration<B> {
    pub fn new(backend: Arc<B>) -> Self {
        Self { backend }
    }

    async fn send(&self, task: Task) -> Result<Value, Failure> {
        let action = task
            .call
            .resource
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".waitForTaskToken");
        if action != "sendMessage" {
            return Err(Failure::runtime(format!(
                "'{}' is not an SQS integration Sluice runs (sqs:sendMessage)",
                task.call.resource
            )));
        }
        let Value::Object(mut parameters) = task.call.input.clone() else {
            return Err(Failure::runtime(
                "sqs:sendMessage takes an object of parameters",
            ));
        };
        // A body that is not text is sent as its JSON, as AWS does.
        if let Some(body) = parameters.get_mut("MessageBody")
            && !body.is_string()
        {
            *body = Value::String(body.to_string());
        }
        let body = serde_json::to_vec(&Value::Object(parameters))
            .map_err(|e| Failure::runtime(e.to_string()))?;
        match sluice_api::sqs_routes::handle(&*self.backend, "SendMessage", &body).await {
            Ok(output) => {
                let output: Map<String, Value> = serde_json::from_slice(&output)
                    .map_err(|e| Failure::runtime(format!("unreadable response: {e}")))?;
                Ok(Value::Object(output))
            }
            Err(error) => Err(super::aws_sdk::sdk_failure("Sqs", &error)),
        }
    }
}

impl<B: Sqs> Integration for SqsIntegration<B> {
    fn run(&self, task: Task) -> TaskFuture<'_> {
        Box::pin(self.send(task))
    }

    fn waits_for_callback(&self, task: &Task) -> bool {
        task.call.resource.ends_with(".waitForTaskToken")
    }
}
