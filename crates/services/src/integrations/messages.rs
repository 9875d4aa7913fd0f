//! [`MessageIntegration`]: the optimized integrations that send one message —
//! `arn:aws:states:::sqs:sendMessage` and `arn:aws:states:::sns:publish`, each also with
//! `.waitForTaskToken` (the message carries `$$.Task.Token` for the consumer to call back
//! with) — through Sluice's own API for the service: AWS's parameters (the message as text or
//! any JSON value, sent as its JSON, attributes, group and deduplication ids, ...) and results
//! (`MessageId`, `MD5OfMessageBody`, `SequenceNumber`). Errors are named as for SDK
//! integrations (`Sqs.QueueDoesNotExistException`, `Sns.NotFoundException`), as AWS documents
//! for these integrations. Registered under the keys `sqs` and `sns`. `events:putEvents`
//! sends events the same way (`Entries`, each `Detail` as text or any JSON value; the result
//! `Entries` with their `EventId`s and `FailedEntryCount`), registered under `events`.

use std::sync::Arc;

use serde_json::{Map, Value};
use sluice_asl::Failure;
use sluice_engine::{Integration, Task, TaskFuture};
use sluice_types::Arn;

use super::aws_sdk::JsonService;

/// Runs one service's send-a-message tasks on its API.
pub struct MessageIntegration {
    service: Arc<dyn JsonService>,
    /// The SDK's name of the service, for error names (`Sqs`, `Sns`).
    name: &'static str,
    /// The resource's action (`sendMessage`) and the API operation it runs (`SendMessage`).
    action: &'static str,
    operation: &'static str,
    /// The parameter that holds the message.
    message: &'static str,
}

impl MessageIntegration {
    /// `sqs:sendMessage` on the SQS API.
    pub fn sqs(service: Arc<dyn JsonService>) -> Self {
        Self {
            service,
            name: "Sqs",
            action: "sendMessage",
            operation: "SendMessage",
            message: "MessageBody",
        }
    }

    /// `sns:publish` on the SNS API.
    pub fn sns(service: Arc<dyn JsonService>) -> Self {
        Self {
            service,
            name: "Sns",
            action: "publish",
            operation: "Publish",
            message: "Message",
        }
    }

    /// `events:putEvents` on the EventBridge API.
    pub fn events(service: Arc<dyn JsonService>) -> Self {
        Self {
            service,
            name: "EventBridge",
            action: "putEvents",
            operation: "PutEvents",
            message: "Entries",
        }
    }

    async fn send(&self, task: Task) -> Result<Value, Failure> {
        let action = Arn::parse(&task.call.resource)
            .map_or("", |arn| arn.last_segment())
            .trim_end_matches(".waitForTaskToken");
        if action != self.action {
            return Err(Failure::runtime(format!(
                "'{}' is not an integration Sluice runs ({}:{})",
                task.call.resource,
                self.name.to_ascii_lowercase(),
                self.action
            )));
        }
        let Value::Object(mut parameters) = task.call.input.clone() else {
            return Err(Failure::runtime(format!(
                "{}:{} takes an object of parameters",
                self.name.to_ascii_lowercase(),
                self.action
            )));
        };
        // A message (an event's detail) that is not text is sent as its JSON, as AWS does.
        let messages: Vec<&mut Value> = match parameters.get_mut(self.message) {
            Some(Value::Array(entries)) if self.operation == "PutEvents" => entries
                .iter_mut()
                .filter_map(|entry| entry.get_mut("Detail"))
                .collect(),
            Some(message) => vec![message],
            None => Vec::new(),
        };
        for message in messages {
            if !message.is_string() {
                *message = Value::String(message.to_string());
            }
        }
        let body = serde_json::to_vec(&Value::Object(parameters))
            .map_err(|e| Failure::runtime(e.to_string()))?;
        // As the state machine's own region's endpoint would answer.
        let call = self.service.call(self.operation.to_owned(), body);
        match sluice_api::gateway::signed_for(task.region().to_owned(), call).await {
            Ok(output) => {
                let output: Map<String, Value> = serde_json::from_slice(&output)
                    .map_err(|e| Failure::runtime(format!("unreadable response: {e}")))?;
                Ok(Value::Object(output))
            }
            Err(error) => Err(super::aws_sdk::sdk_failure(self.name, &error)),
        }
    }
}

impl Integration for MessageIntegration {
    fn run(&self, task: Task) -> TaskFuture<'_> {
        Box::pin(self.send(task))
    }

    fn waits_for_callback(&self, task: &Task) -> bool {
        task.call.resource.ends_with(".waitForTaskToken")
    }
}
