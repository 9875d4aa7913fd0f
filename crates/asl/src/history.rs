//! Execution history events, named and shaped as Step Functions' `GetExecutionHistory` returns
//! them (`type`, `id`, `previousEventId`, and one `<kind>EventDetails` member). Inputs and
//! outputs are JSON text, as on AWS.

use serde::Serialize;

/// `inputDetails` / `outputDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Truncation {
    pub truncated: bool,
}

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// ISO 8601 with milliseconds.
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    pub previous_event_id: u64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

/// The `<kind>EventDetails` member of an event; serialized under AWS's member name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Details {
    #[serde(rename = "executionStartedEventDetails")]
    ExecutionStarted {
        input: String,
        #[serde(rename = "inputDetails")]
        input_details: Truncation,
        #[serde(rename = "roleArn")]
        role_arn: String,
    },
    #[serde(rename = "executionSucceededEventDetails")]
    ExecutionSucceeded {
        output: String,
        #[serde(rename = "outputDetails")]
        output_details: Truncation,
    },
    #[serde(rename = "executionFailedEventDetails")]
    ExecutionFailed(ErrorDetails),
    #[serde(rename = "executionTimedOutEventDetails")]
    ExecutionTimedOut(ErrorDetails),
    #[serde(rename = "executionAbortedEventDetails")]
    ExecutionAborted(ErrorDetails),
    #[serde(rename = "executionRedrivenEventDetails")]
    ExecutionRedriven {
        #[serde(rename = "redriveCount")]
        redrive_count: u32,
    },
    #[serde(rename = "stateEnteredEventDetails")]
    StateEntered {
        name: String,
        input: String,
        #[serde(rename = "inputDetails")]
        input_details: Truncation,
    },
    #[serde(rename = "stateExitedEventDetails")]
    StateExited {
        name: String,
        output: String,
        #[serde(rename = "outputDetails")]
        output_details: Truncation,
        /// The variables the state assigned, each value as JSON text.
        #[serde(rename = "assignedVariables", skip_serializing_if = "Option::is_none")]
        assigned_variables: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(
            rename = "assignedVariablesDetails",
            skip_serializing_if = "Option::is_none"
        )]
        assigned_variables_details: Option<Truncation>,
    },
    /// A JSONata expression (or a field it computed) failed: recorded before the failure is
    /// handled.
    #[serde(rename = "evaluationFailedEventDetails")]
    EvaluationFailed {
        error: String,
        cause: String,
        /// The field that failed; AWS leaves it out when the failure is no field's (a Map's
        /// items that are not an array).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        location: String,
        state: String,
    },
    #[serde(rename = "taskScheduledEventDetails")]
    TaskScheduled {
        #[serde(rename = "resourceType")]
        resource_type: String,
        resource: String,
        region: String,
        parameters: String,
        #[serde(rename = "timeoutInSeconds", skip_serializing_if = "Option::is_none")]
        timeout_in_seconds: Option<u64>,
        #[serde(rename = "heartbeatInSeconds", skip_serializing_if = "Option::is_none")]
        heartbeat_in_seconds: Option<u64>,
        /// `{"roleArn": ...}` of a Task with `Credentials`.
        #[serde(rename = "taskCredentials", skip_serializing_if = "Option::is_none")]
        task_credentials: Option<serde_json::Value>,
    },
    #[serde(rename = "taskStartedEventDetails")]
    TaskStarted {
        #[serde(rename = "resourceType")]
        resource_type: String,
        resource: String,
    },
    #[serde(rename = "taskSucceededEventDetails")]
    TaskSucceeded {
        #[serde(rename = "resourceType")]
        resource_type: String,
        resource: String,
        output: String,
        #[serde(rename = "outputDetails")]
        output_details: Truncation,
    },
    #[serde(rename = "taskSubmittedEventDetails")]
    TaskSubmitted {
        #[serde(rename = "resourceType")]
        resource_type: String,
        resource: String,
        output: String,
        #[serde(rename = "outputDetails")]
        output_details: Truncation,
    },
    #[serde(rename = "taskFailedEventDetails")]
    TaskFailed {
        #[serde(rename = "resourceType")]
        resource_type: String,
        resource: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        error: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        cause: String,
    },
    /// `error` is `States.Timeout`: TimeoutSeconds, or HeartbeatSeconds, passed.
    #[serde(rename = "taskTimedOutEventDetails")]
    TaskTimedOut {
        #[serde(rename = "resourceType")]
        resource_type: String,
        resource: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        error: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        cause: String,
    },
    #[serde(rename = "activityScheduledEventDetails")]
    ActivityScheduled {
        resource: String,
        input: String,
        #[serde(rename = "inputDetails")]
        input_details: Truncation,
        #[serde(rename = "timeoutInSeconds", skip_serializing_if = "Option::is_none")]
        timeout_in_seconds: Option<u64>,
        #[serde(rename = "heartbeatInSeconds", skip_serializing_if = "Option::is_none")]
        heartbeat_in_seconds: Option<u64>,
    },
    #[serde(rename = "activityStartedEventDetails")]
    ActivityStarted {
        #[serde(rename = "workerName", skip_serializing_if = "Option::is_none")]
        worker_name: Option<String>,
    },
    #[serde(rename = "activitySucceededEventDetails")]
    ActivitySucceeded {
        output: String,
        #[serde(rename = "outputDetails")]
        output_details: Truncation,
    },
    #[serde(rename = "activityFailedEventDetails")]
    ActivityFailed(ErrorDetails),
    #[serde(rename = "activityTimedOutEventDetails")]
    ActivityTimedOut(ErrorDetails),
    #[serde(rename = "lambdaFunctionScheduledEventDetails")]
    LambdaFunctionScheduled {
        resource: String,
        input: String,
        #[serde(rename = "inputDetails")]
        input_details: Truncation,
        #[serde(rename = "timeoutInSeconds", skip_serializing_if = "Option::is_none")]
        timeout_in_seconds: Option<u64>,
        #[serde(rename = "taskCredentials", skip_serializing_if = "Option::is_none")]
        task_credentials: Option<serde_json::Value>,
    },
    #[serde(rename = "lambdaFunctionSucceededEventDetails")]
    LambdaFunctionSucceeded {
        output: String,
        #[serde(rename = "outputDetails")]
        output_details: Truncation,
    },
    #[serde(rename = "lambdaFunctionFailedEventDetails")]
    LambdaFunctionFailed(ErrorDetails),
    #[serde(rename = "lambdaFunctionTimedOutEventDetails")]
    LambdaFunctionTimedOut(ErrorDetails),
    #[serde(rename = "mapStateStartedEventDetails")]
    MapStateStarted { length: usize },
    #[serde(rename = "mapRunStartedEventDetails")]
    MapRunStarted {
        #[serde(rename = "mapRunArn")]
        map_run_arn: String,
    },
    #[serde(rename = "mapRunFailedEventDetails")]
    MapRunFailed(ErrorDetails),
    #[serde(rename = "mapRunRedrivenEventDetails")]
    MapRunRedriven {
        #[serde(rename = "mapRunArn")]
        map_run_arn: String,
        #[serde(rename = "redriveCount")]
        redrive_count: u32,
    },
    #[serde(rename = "mapIterationStartedEventDetails")]
    MapIterationStarted(Iteration),
    #[serde(rename = "mapIterationSucceededEventDetails")]
    MapIterationSucceeded(Iteration),
    #[serde(rename = "mapIterationFailedEventDetails")]
    MapIterationFailed(Iteration),
    #[serde(rename = "mapIterationAbortedEventDetails")]
    MapIterationAborted(Iteration),
}

/// `{error, cause}` of a failure event. An empty error or cause (a Fail state without `Error` or
/// `Cause`) is left out, as AWS does (`executionFailedEventDetails: {}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetails {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cause: String,
}

/// `{name, index}` of a Map iteration event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Iteration {
    pub name: String,
    pub index: usize,
}

/// How a Task's `Resource` shows in history: plain Lambda ARNs get the `LambdaFunction*`
/// events; activities (`arn:aws:states:<region>:<account>:activity:<name>`) the `Activity*`
/// events; service integrations get `Task*` events with `resourceType`/`resource` split out of
/// `arn:aws:states:::<type>:<resource>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResourceKind {
    Lambda,
    /// An activity: a worker takes the task (GetActivityTask) and answers with its token.
    Activity {
        arn: String,
    },
    Service {
        resource_type: String,
        resource: String,
    },
}

impl ResourceKind {
    pub fn of(arn: &str) -> ResourceKind {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "lambda", _, _, rest] if rest.starts_with("function:") => {
                ResourceKind::Lambda
            }
            &["arn", _, "states", _, _, rest] if rest.starts_with("activity:") => {
                ResourceKind::Activity {
                    arn: arn.to_owned(),
                }
            }
            &["arn", _, "states", _, _, rest] => {
                // `lambda:invoke`, `sqs:sendMessage`, `aws-sdk:s3:getObject`, `...:startExecution.sync`
                let split = if rest.starts_with("aws-sdk:") {
                    rest.match_indices(':').nth(1).map(|(i, _)| i)
                } else {
                    rest.find(':')
                };
                let (ty, res) = split.map_or(("", rest), |i| (&rest[..i], &rest[i + 1..]));
                ResourceKind::Service {
                    resource_type: ty.to_owned(),
                    resource: res.to_owned(),
                }
            }
            _ => ResourceKind::Service {
                resource_type: String::new(),
                resource: arn.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_kinds_follow_aws_history_naming() {
        assert_eq!(
            ResourceKind::of("arn:aws:lambda:us-east-1:000000000000:function:Check"),
            ResourceKind::Lambda
        );
        let activity = "arn:aws:states:us-east-1:000000000000:activity:review";
        assert_eq!(
            ResourceKind::of(activity),
            ResourceKind::Activity {
                arn: activity.into()
            }
        );
        assert_eq!(
            ResourceKind::of("arn:aws:states:::lambda:invoke"),
            ResourceKind::Service {
                resource_type: "lambda".into(),
                resource: "invoke".into()
            }
        );
        assert_eq!(
            ResourceKind::of("arn:aws:states:::aws-sdk:s3:getObject"),
            ResourceKind::Service {
                resource_type: "aws-sdk:s3".into(),
                resource: "getObject".into()
            }
        );
        assert_eq!(
            ResourceKind::of("arn:aws:states:::states:startExecution.sync:2"),
            ResourceKind::Service {
                resource_type: "states".into(),
                resource: "startExecution.sync:2".into()
            }
        );
    }

    #[test]
    fn events_serialize_with_aws_member_names() {
        let e = HistoryEvent {
            timestamp: "2026-11-23T00:00:00.000Z".into(),
            kind: "PassStateEntered",
            id: 2,
            previous_event_id: 0,
            details: Some(Details::StateEntered {
                name: "P".into(),
                input: "{}".into(),
                input_details: Truncation::default(),
            }),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "PassStateEntered");
        assert_eq!(v["previousEventId"], 0);
        assert_eq!(v["stateEnteredEventDetails"]["name"], "P");
        assert_eq!(
            v["stateEnteredEventDetails"]["inputDetails"]["truncated"],
            false
        );
        let started = HistoryEvent {
            details: None,
            kind: "ParallelStateStarted",
            ..e
        };
        let v = serde_json::to_value(&started).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 4, "no details member: {v}");
    }

    #[test]
    fn empty_error_and_cause_are_left_out() {
        // AWS, a Fail state without Error or Cause: `"executionFailedEventDetails": {}`.
        let failed = |error: &str, cause: &str| {
            serde_json::to_value(Details::ExecutionFailed(ErrorDetails {
                error: error.into(),
                cause: cause.into(),
            }))
            .unwrap()
        };
        assert_eq!(failed("", ""), json!({"executionFailedEventDetails": {}}));
        assert_eq!(
            failed("E", ""),
            json!({"executionFailedEventDetails": {"error": "E"}})
        );
    }
}
