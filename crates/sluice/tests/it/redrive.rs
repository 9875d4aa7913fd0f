//! RedriveExecution through the real `aws` CLI against the real `sluice serve`.

use std::time::Duration;

use crate::common::*;
use serde_json::json;

const DEFINITION: &str = r#"{"StartAt": "Prep", "States": {
    "Prep": {"Type": "Pass", "Result": {"step": 1}, "Next": "Call"},
    "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done"},
    "Done": {"Type": "Pass", "End": true}}}"#;

/// `Call` throws on its first invocation and succeeds on its second.
const MOCKS: &str = r#"{
  "StateMachines": {"flaky": {"TestCases": {"FlakyOnce": {"Call": "FlakyOnce"}}}},
  "MockedResponses": {"FlakyOnce": {
    "0": {"Throw": {"Error": "Downstream.Unavailable", "Cause": "503"}},
    "1": {"Return": {"ok": true}}}}}"#;

#[test]
fn a_failed_execution_is_redriven_with_the_aws_cli() {
    let dir = scratch("redrive-cli");
    let mocks = dir.join("mocks.json");
    std::fs::write(&mocks, MOCKS).unwrap();
    let server = Server::start(
        &dir.join("data"),
        &["--mock-config", mocks.to_str().unwrap()],
    );
    let created = ok_json(&aws(
        &server,
        &[
            "create-state-machine",
            "--name",
            "flaky",
            "--role-arn",
            ROLE,
            "--definition",
            DEFINITION,
        ],
    ));
    let machine = created["stateMachineArn"].as_str().unwrap();
    let started = ok_json(&aws(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &format!("{machine}#FlakyOnce"),
            "--name",
            "run-1",
        ],
    ));
    let execution = started["executionArn"].as_str().unwrap().to_string();
    let failed = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["error"], "Downstream.Unavailable");
    assert_eq!(failed["redriveStatus"], "REDRIVABLE");
    assert_eq!(failed["redriveCount"], 0);
    assert!(failed.get("redriveStatusReason").is_none(), "{failed}");

    let redriven = ok_json(&aws(
        &server,
        &["redrive-execution", "--execution-arn", &execution],
    ));
    assert!(redriven["redriveDate"].is_number(), "{redriven}");

    let done = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], r#"{"ok":true}"#);
    assert_eq!(done["redriveCount"], 1);
    assert_eq!(done["redriveDate"], redriven["redriveDate"]);
    assert_eq!(done["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        done["redriveStatusReason"],
        "Execution is SUCCEEDED and cannot be redriven"
    );
    assert!(
        done.get("error").is_none(),
        "the old failure is cleared: {done}"
    );

    let events = history(server.port, &execution);
    let kinds = types(&events);
    let failed_at = kinds.iter().position(|k| *k == "ExecutionFailed").unwrap();
    assert_eq!(kinds[failed_at + 1], "ExecutionRedriven");
    assert_eq!(
        events[failed_at + 1]["executionRedrivenEventDetails"],
        json!({"redriveCount": 1})
    );
    assert_eq!(kinds[failed_at + 2], "TaskStateEntered");
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    assert_eq!(
        kinds.iter().filter(|k| **k == "PassStateEntered").count(),
        2,
        "Prep is not run again"
    );

    let again = aws(
        &server,
        &["redrive-execution", "--execution-arn", &execution],
    );
    assert_cli_error(
        &again,
        "ExecutionNotRedrivable",
        "RedriveExecution",
        "Execution is SUCCEEDED and cannot be redriven",
    );
    let missing = aws(
        &server,
        &[
            "redrive-execution",
            "--execution-arn",
            &format!("{PREFIX}:execution:flaky:nope"),
        ],
    );
    assert_cli_error(
        &missing,
        "ExecutionDoesNotExist",
        "RedriveExecution",
        "Execution Does Not Exist",
    );
}
