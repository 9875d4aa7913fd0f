//! One place that delivers a JSON payload to a target ARN, the way EventBridge rules and
//! EventBridge Scheduler deliver to their targets: a Lambda function (an `Event` invocation,
//! journaled by the functions before it counts as delivered), a Step Functions state machine
//! (StartExecution), an SQS queue (SendMessage; a FIFO queue needs a message group), an SNS
//! topic (Publish), a Kinesis stream (PutRecord) or an event bus (PutEvents).
//!
//! Every service but Lambda is reached through its API in process (a [`JsonService`], as if
//! signed for the target's region), so the target's own checks and errors apply: a missing
//! queue fails with the SQS API's `AWS.SimpleQueueService.NonExistentQueue`, and so on. A
//! failure carries the service's error code and message ([`TargetError`]), which is what
//! EventBridge writes into a dead-letter message's `ERROR_CODE` and `ERROR_MESSAGE`.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use sluice_api::ApiError;
use sluice_functions::{FunctionName, Functions, InvokeOptions};
use sluice_types::Arn;

use crate::integrations::aws_sdk::{JsonService, Slot};

/// Why a delivery failed: the target service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TargetError {
    pub code: String,
    pub message: String,
}

impl TargetError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    fn from_api(error: ApiError) -> Self {
        // Query-protocol codes arrive as `AWS.SimpleQueueService.NonExistentQueue`; JSON ones
        // may carry a namespace (`com.amazonaws...#ResourceNotFoundException`).
        let code = error.kind.rsplit('#').next().unwrap_or(&error.kind);
        Self::new(code, error.message)
    }

    /// A target the dispatcher cannot reach at all (its ARN names no supported service).
    fn unsupported(arn: &str) -> Self {
        Self::new(
            "UnsupportedTarget",
            format!("Sluice cannot deliver to the target {arn}"),
        )
    }
}

/// `PutEvents`' event fields for an event-bus target that receives a payload which is not
/// itself an event (EventBridge Scheduler's `EventBridgeParameters`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFields {
    pub source: String,
    pub detail_type: String,
    /// The event's `resources` (a schedule's ARN).
    pub resources: Vec<String>,
}

/// What to deliver where: the target's ARN, the payload (JSON or text, as the target shapes
/// it), and the parameters the target kinds need.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub arn: String,
    pub payload: String,
    /// An SQS FIFO queue's `MessageGroupId` (required by FIFO queues).
    pub message_group_id: Option<String>,
    /// An SQS FIFO queue's `MessageDeduplicationId` (else the queue's content-based one, if
    /// enabled; else the `idempotency_key`).
    pub message_deduplication_id: Option<String>,
    /// A Kinesis stream's partition key (else the `idempotency_key`).
    pub partition_key: Option<String>,
    /// An event-bus target: `None` when the payload is an EventBridge event to forward as is
    /// (a rule's target), else the fields that wrap the payload as the event's detail.
    pub event_fields: Option<EventFields>,
    /// What makes this delivery unique across retries (an event id and a target id): a
    /// Lambda invocation's idempotency key, the default FIFO deduplication id and partition
    /// key.
    pub idempotency_key: String,
    /// String message attributes of an SQS message (a dead-letter message's `RULE_ARN`,
    /// `ERROR_CODE`, ...).
    pub attributes: Vec<(String, String)>,
}

/// The services targets are delivered to. Clones share them.
#[derive(Clone)]
pub struct Targets {
    functions: Functions,
    sqs: Arc<dyn JsonService>,
    sns: Arc<dyn JsonService>,
    kinesis: Arc<dyn JsonService>,
    /// Set once the Step Functions API exists (it runs on the engine, built after).
    step_functions: Slot,
    /// Set once the EventBridge API exists (it delivers through these targets).
    events: Slot,
}

impl Targets {
    pub fn new(
        functions: Functions,
        sqs: Arc<dyn JsonService>,
        sns: Arc<dyn JsonService>,
        kinesis: Arc<dyn JsonService>,
        step_functions: Slot,
        events: Slot,
    ) -> Self {
        Self {
            functions,
            sqs,
            sns,
            kinesis,
            step_functions,
            events,
        }
    }

    /// Delivers once: `Ok` once the target took the payload.
    pub async fn deliver(&self, delivery: &Delivery) -> Result<(), TargetError> {
        let arn = Arn::parse(&delivery.arn).map_err(|_| TargetError::unsupported(&delivery.arn))?;
        let region = arn.region.to_owned();
        match arn.service {
            "lambda" => self.invoke(delivery).await,
            "sqs" => {
                // The SQS API finds a queue by its URL's last segment.
                let url = format!("http://sluice/{}/{}", arn.account, arn.resource);
                let mut body = json!({"QueueUrl": url, "MessageBody": delivery.payload});
                if !delivery.attributes.is_empty() {
                    let attributes: serde_json::Map<String, Value> = delivery
                        .attributes
                        .iter()
                        .map(|(name, value)| {
                            let attribute = json!({"DataType": "String", "StringValue": value});
                            (name.clone(), attribute)
                        })
                        .collect();
                    body["MessageAttributes"] = Value::Object(attributes);
                }
                if arn.resource.ends_with(".fifo") {
                    let group = delivery.message_group_id.as_deref().ok_or_else(|| {
                        TargetError::new(
                            "InvalidParameterValue",
                            "The request must contain the parameter MessageGroupId.",
                        )
                    })?;
                    body["MessageGroupId"] = json!(group);
                    body["MessageDeduplicationId"] = json!(
                        delivery
                            .message_deduplication_id
                            .as_deref()
                            .unwrap_or(&delivery.idempotency_key)
                    );
                }
                call(&*self.sqs, region, "SendMessage", &body).await
            }
            "sns" => {
                let mut body = json!({"TopicArn": delivery.arn, "Message": delivery.payload});
                if arn.resource.ends_with(".fifo") {
                    body["MessageGroupId"] = json!(delivery.message_group_id);
                    body["MessageDeduplicationId"] = json!(
                        delivery
                            .message_deduplication_id
                            .as_deref()
                            .unwrap_or(&delivery.idempotency_key)
                    );
                }
                call(&*self.sns, region, "Publish", &body).await
            }
            "kinesis" => {
                let key = delivery
                    .partition_key
                    .as_deref()
                    .unwrap_or(&delivery.idempotency_key);
                let body = json!({
                    "StreamARN": delivery.arn,
                    "PartitionKey": key,
                    "Data": base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        delivery.payload.as_bytes(),
                    ),
                });
                call(&*self.kinesis, region, "PutRecord", &body).await
            }
            "states" if arn.resource.starts_with("stateMachine:") => {
                let service = self.step_functions.get().ok_or_else(not_ready)?;
                let body = json!({"stateMachineArn": delivery.arn, "input": delivery.payload});
                call(&*service, region, "StartExecution", &body).await
            }
            "events" if arn.resource.starts_with("event-bus/") => {
                let service = self.events.get().ok_or_else(not_ready)?;
                let entry = bus_entry(delivery)?;
                let body = json!({"Entries": [entry]});
                let answer = call_json(&*service, region, "PutEvents", &body).await?;
                match answer["Entries"].get(0) {
                    Some(entry) if entry.get("ErrorCode").is_some_and(|c| !c.is_null()) => {
                        Err(TargetError::new(
                            entry["ErrorCode"].as_str().unwrap_or_default(),
                            entry["ErrorMessage"].as_str().unwrap_or_default(),
                        ))
                    }
                    _ => Ok(()),
                }
            }
            _ => Err(TargetError::unsupported(&delivery.arn)),
        }
    }

    async fn invoke(&self, delivery: &Delivery) -> Result<(), TargetError> {
        let named = FunctionName::parse(&delivery.arn)
            .filter(|named| named.region.is_some())
            .ok_or_else(|| TargetError::unsupported(&delivery.arn))?;
        let options = InvokeOptions {
            qualifier: named.qualifier.clone(),
            idempotency_key: Some(delivery.idempotency_key.clone()),
            ..InvokeOptions::default()
        };
        self.functions
            .of(&named)
            .invoke_event(
                &named.name,
                Bytes::from(delivery.payload.clone().into_bytes()),
                options,
            )
            .await
            .map(|_| ())
            .map_err(|e| TargetError::new(e.code(), e.to_string()))
    }
}

fn not_ready() -> TargetError {
    TargetError::new("ServiceUnavailable", "The service is not ready yet")
}

/// The PutEvents entry that carries `delivery` to an event bus.
fn bus_entry(delivery: &Delivery) -> Result<Value, TargetError> {
    match &delivery.event_fields {
        Some(fields) => Ok(json!({
            "EventBusName": delivery.arn,
            "Source": fields.source,
            "DetailType": fields.detail_type,
            "Detail": delivery.payload,
            "Resources": fields.resources,
        })),
        None => {
            // A rule forwards the event itself: its fields become the entry's.
            let event: Value = serde_json::from_str(&delivery.payload).map_err(|_| {
                TargetError::new("MalformedDetail", "The event to forward is not JSON")
            })?;
            let mut entry = json!({
                "EventBusName": delivery.arn,
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": event["detail"].to_string(),
                "Resources": event.get("resources").cloned().unwrap_or(json!([])),
            });
            if let Some(time) = event["time"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            {
                entry["Time"] = json!(time.timestamp());
            }
            Ok(entry)
        }
    }
}

/// Calls `operation` of `service` as if signed for `region`.
async fn call(
    service: &dyn JsonService,
    region: String,
    operation: &str,
    body: &Value,
) -> Result<(), TargetError> {
    call_json(service, region, operation, body).await.map(drop)
}

async fn call_json(
    service: &dyn JsonService,
    region: String,
    operation: &str,
    body: &Value,
) -> Result<Value, TargetError> {
    let future = service.call(operation.to_owned(), body.to_string().into_bytes());
    let answer = sluice_api::gateway::signed_for(region, future)
        .await
        .map_err(TargetError::from_api)?;
    if answer.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&answer)
        .map_err(|e| TargetError::new("InternalException", format!("unreadable answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_event_keeps_its_fields() {
        let delivery = Delivery {
            arn: "arn:aws:events:us-east-1:000000000000:event-bus/other".into(),
            payload: json!({
                "version": "0", "id": "x", "detail-type": "T", "source": "s",
                "time": "2026-12-07T20:00:00Z", "resources": ["r"], "detail": {"a": 1}
            })
            .to_string(),
            ..Delivery::default()
        };
        let entry = bus_entry(&delivery).unwrap();
        assert_eq!(entry["Source"], "s");
        assert_eq!(entry["DetailType"], "T");
        assert_eq!(entry["Detail"], "{\"a\":1}");
        assert_eq!(entry["Resources"], json!(["r"]));
        assert_eq!(entry["Time"], 1_796_673_600);
    }

    #[test]
    fn a_payload_with_event_fields_becomes_the_detail() {
        let delivery = Delivery {
            arn: "arn:aws:events:us-east-1:000000000000:event-bus/default".into(),
            payload: "{\"k\":1}".into(),
            event_fields: Some(EventFields {
                source: "my.app".into(),
                detail_type: "Tick".into(),
                resources: vec![
                    "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s".into(),
                ],
            }),
            ..Delivery::default()
        };
        let entry = bus_entry(&delivery).unwrap();
        assert_eq!(entry["Detail"], "{\"k\":1}");
        assert_eq!(entry["Source"], "my.app");
        assert_eq!(
            entry["Resources"],
            json!(["arn:aws:scheduler:us-east-1:000000000000:schedule/default/s"])
        );
    }
}
