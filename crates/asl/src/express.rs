//! What an EXPRESS state machine may not contain. AWS's EXPRESS workflows support only the
//! Request Response integration pattern: CreateStateMachine (and UpdateStateMachine,
//! ValidateStateMachineDefinition with `type: EXPRESS`) refuses a Task anywhere in the machine
//! that waits for a callback (`.waitForTaskToken`), runs a job (`.sync`, `.sync:2`) or names an
//! activity, with these diagnostics (wording and spacing as AWS answers them).

use serde_json::Value;

use crate::diagnostics::{Diagnostic, Pointer, Severity, codes};

const WAIT_FOR_TASK_TOKEN: &str =
    "Express state machine does not support '.waitForTaskToken' service integration ";
const SYNC: &str = "Express state machine does not support '.sync' service integration";
const ACTIVITY: &str = "Express state machine does not support Activity ARN";

/// The diagnostics of the Task states of `definition` (a parsed definition's JSON) that an
/// EXPRESS machine cannot run, each located at the state's `Resource`, in document order.
pub fn express_diagnostics(definition: &Value) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    visit(definition, &Pointer::root(), &mut found);
    found
}

fn visit(machine: &Value, at: &Pointer, found: &mut Vec<Diagnostic>) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    let at = at.child("States");
    for (name, state) in states {
        let at = at.child(name);
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => {
                if let Some(message) = state
                    .get("Resource")
                    .and_then(Value::as_str)
                    .and_then(unsupported)
                {
                    found.push(Diagnostic {
                        severity: Severity::Error,
                        code: codes::SCHEMA_VALIDATION_FAILED,
                        location: at.child("Resource"),
                        message: message.to_owned(),
                    });
                }
            }
            Some("Parallel") => {
                let branches = state.get("Branches").and_then(Value::as_array);
                for (i, branch) in branches.into_iter().flatten().enumerate() {
                    visit(branch, &at.child("Branches").child(i), found);
                }
            }
            Some("Map") => {
                for key in ["ItemProcessor", "Iterator"] {
                    if let Some(processor) = state.get(key) {
                        visit(processor, &at.child(key), found);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Why a Task's `Resource` cannot run in an EXPRESS machine, if it cannot.
fn unsupported(resource: &str) -> Option<&'static str> {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    let ["arn", _, "states", _, _, rest] = parts.as_slice() else {
        return None;
    };
    if rest.starts_with("activity:") {
        return Some(ACTIVITY);
    }
    if rest.ends_with(".waitForTaskToken") {
        return Some(WAIT_FOR_TASK_TOKEN);
    }
    let api = rest.rsplit_once(':').map_or(*rest, |(api, version)| {
        if version.chars().all(|c| c.is_ascii_digit()) {
            api
        } else {
            rest
        }
    });
    api.ends_with(".sync").then_some(SYNC)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn callbacks_jobs_and_activities_are_refused_where_they_are() {
        let definition = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "M", "Branches": [
                {"StartAt": "Ok", "States": {"Ok": {"Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "End": true}}}]},
            "M": {"Type": "Map", "Next": "Job", "ItemProcessor": {"StartAt": "A", "States": {
                "A": {"Type": "Task", "End": true,
                      "Resource": "arn:aws:states:us-east-1:1:activity:work"}}}},
            "Job": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Next": "Fn"},
            "Fn": {"Type": "Task", "End": true,
                   "Resource": "arn:aws:lambda:us-east-1:1:function:sync"}}});
        let shown: Vec<String> = express_diagnostics(&definition)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "SCHEMA_VALIDATION_FAILED: Express state machine does not support \
                 '.waitForTaskToken' service integration  at \
                 /States/P/Branches/1/States/Wait/Resource",
                "SCHEMA_VALIDATION_FAILED: Express state machine does not support Activity ARN \
                 at /States/M/ItemProcessor/States/A/Resource",
                "SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' \
                 service integration at /States/Job/Resource",
            ]
        );
    }

    #[test]
    fn request_response_integrations_are_fine() {
        for resource in [
            "arn:aws:states:::lambda:invoke",
            "arn:aws:states:::states:startExecution",
            "arn:aws:states:::aws-sdk:s3:getObject",
            "arn:aws:lambda:us-east-1:1:function:f",
        ] {
            assert_eq!(unsupported(resource), None, "{resource}");
        }
        assert_eq!(unsupported("arn:aws:states:::ecs:runTask.sync"), Some(SYNC));
    }
}
