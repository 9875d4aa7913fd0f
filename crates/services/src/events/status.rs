//! Step Functions' "Step Functions Execution Status Change" events: each status change of a
//! STANDARD execution the engine reports ([`StatusObserver`]) is put on the default bus of the
//! execution's region, source `aws.states`, with AWS's detail (executionArn, stateMachineArn,
//! name, status, startDate, stopDate, input, output and their details, error, cause, redrive
//! fields), so a rule on `{"source": ["aws.states"], "detail": {"status": ["FAILED"]}}` can
//! route failed executions to an alert.
//!
//! Events are put in the order the changes happened, one at a time, by one task: an
//! execution's RUNNING event comes before its end. They are not part of the execution's own
//! commit (the engine knows no bus), so a crash between the two loses the event, as AWS only
//! promises best-effort delivery of service events.

use serde_json::{Value, json};
use sluice_api::events::model::PutEventsRequestEntry;
use sluice_engine::StatusObserver;
use sluice_store::{ExecutionRecord, Store};
use sluice_types::Arn;
use tokio::sync::mpsc;

use super::EventsBackend;

pub const SOURCE: &str = "aws.states";
pub const DETAIL_TYPE: &str = "Step Functions Execution Status Change";

/// The engine's observer that turns status changes into events.
pub struct StatusEvents {
    changes: mpsc::UnboundedSender<ExecutionRecord>,
}

impl StatusEvents {
    /// Starts the task that puts the events on `events`' buses (from within the runtime).
    pub fn new<S: Store>(events: EventsBackend<S>) -> Self {
        let (changes, mut received) = mpsc::unbounded_channel::<ExecutionRecord>();
        let tasks = events.tasks().clone();
        let stopping = tasks.cancelled();
        tasks.spawn("status-events", async move {
            tokio::pin!(stopping);
            loop {
                let record = tokio::select! {
                    received = received.recv() => match received {
                        Some(record) => record,
                        None => return,
                    },
                    // Shutting down: the events of changes still queued are lost.
                    () = &mut stopping => return,
                };
                let Ok(arn) = Arn::parse(&record.arn) else {
                    continue;
                };
                let region = arn.region.to_owned();
                let entry = entry(&record);
                let put = sluice_api::gateway::signed_for(region, events.put(vec![entry])).await;
                if let Err(error) = put {
                    tracing::warn!(execution = %record.arn, %error, "status change event not put");
                }
            }
        });
        Self { changes }
    }
}

impl StatusObserver for StatusEvents {
    fn status_changed(&self, record: &ExecutionRecord) {
        let _ = self.changes.send(record.clone());
    }
}

/// The PutEvents entry of `record`'s current status.
fn entry(record: &ExecutionRecord) -> PutEventsRequestEntry {
    PutEventsRequestEntry {
        source: Some(SOURCE.into()),
        detail_type: Some(DETAIL_TYPE.into()),
        detail: Some(detail(record).to_string()),
        resources: Some(vec![record.arn.clone()]),
        time: Some(record.stop_ms.unwrap_or(record.start_ms) as f64 / 1000.0),
        ..PutEventsRequestEntry::default()
    }
}

/// AWS's detail of the event.
fn detail(record: &ExecutionRecord) -> Value {
    let status = record.status.as_str();
    let included = |given: bool| given.then(|| json!({"included": true}));
    let (redrive_status, reason) = match status {
        "RUNNING" | "SUCCEEDED" => (
            "NOT_REDRIVABLE",
            format!("Execution is {status} and cannot be redriven"),
        ),
        _ => (
            "REDRIVABLE",
            format!("Execution is {status} and can be redriven"),
        ),
    };
    json!({
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": status,
        "startDate": record.start_ms,
        "stopDate": record.stop_ms,
        "input": record.input,
        "output": record.output,
        "stateMachineVersionArn": Value::Null,
        "stateMachineAliasArn": record.alias_arn,
        "redriveCount": record.redrive_count,
        "redriveDate": record.redrive_ms,
        "redriveStatus": redrive_status,
        "redriveStatusReason": reason,
        "inputDetails": included(true),
        "outputDetails": included(record.output.is_some()),
        "error": record.error,
        "cause": record.cause,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_execution_has_aws_detail() {
        let record = ExecutionRecord {
            arn: "arn:aws:states:us-east-1:000000000000:execution:m:e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:m".into(),
            name: "e".into(),
            status: "FAILED".parse().unwrap(),
            input: "{}".into(),
            output: None,
            error: Some("Boom".into()),
            cause: Some("why".into()),
            start_ms: 1_000,
            stop_ms: Some(2_000),
            redrive_count: 0,
            snapshot: None,
            next_event_id: 5,
            revision_id: String::new(),
            alias_arn: None,
            redrive_ms: None,
        };
        let detail = detail(&record);
        assert_eq!(detail["status"], "FAILED");
        assert_eq!(detail["startDate"], 1_000);
        assert_eq!(detail["stopDate"], 2_000);
        assert_eq!(detail["inputDetails"], json!({"included": true}));
        assert_eq!(detail["outputDetails"], Value::Null);
        assert_eq!(detail["error"], "Boom");
        assert_eq!(detail["redriveStatus"], "REDRIVABLE");
        let entry = entry(&record);
        assert_eq!(entry.resources.unwrap(), vec![record.arn]);
        assert_eq!(entry.detail_type.as_deref(), Some(DETAIL_TYPE));
    }
}
