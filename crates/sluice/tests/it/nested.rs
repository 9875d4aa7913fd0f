//! Nested workflows (`arn:aws:states:::states:startExecution.sync:2`) through the real `aws`
//! CLI against the real `sluice serve`, the server killed and restarted while the parent waits.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

/// Waits (scaled) a while, then echoes its input.
const CHILD: &str = r#"{"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 30, "Next": "Echo"},
    "Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": true}}}"#;

fn parent(child_arn: &str) -> String {
    json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                 "Parameters": {"StateMachineArn": child_arn, "Input": {"order.$": "$.order"}},
                 "ResultSelector": {"child.$": "$.ExecutionArn", "output.$": "$.Output"},
                 "End": true}}})
    .to_string()
}

#[test]
fn a_parent_runs_its_child_to_completion_across_a_server_crash() {
    let dir = scratch("nested-cli");
    let data = dir.join("data");
    let scale = ["--time-scale", "20"];
    let mut server = Server::start(&data, &scale);
    let child = create_state_machine(&server, "child", CHILD);
    let parent_machine = create_state_machine(&server, "parent", &parent(&child));
    let started = ok_json(&aws(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &parent_machine,
            "--name",
            "order-1",
            "--input",
            r#"{"order": 42}"#,
        ],
    ));
    let execution = started["executionArn"].as_str().unwrap().to_string();

    // Once the parent has recorded the child it waits for, the server dies.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !types(&history(server.port, &execution)).contains(&"TaskSubmitted") {
        assert!(Instant::now() < deadline, "no TaskSubmitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    let server = Server::start(&data, &scale);

    let done = wait_done(server.port, &execution, Duration::from_secs(30));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["output"], json!({"got": {"order": 42}}), "{output}");
    let child_execution = output["child"].as_str().unwrap();
    assert!(
        child_execution.starts_with(&format!("{PREFIX}:execution:child:")),
        "{child_execution}"
    );

    let described = ok_json(&aws(
        &server,
        &["describe-execution", "--execution-arn", child_execution],
    ));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["input"], r#"{"order":42}"#);
    assert_eq!(described["output"], r#"{"got":{"order":42}}"#);
    assert_eq!(described["stateMachineArn"], child);

    let listed = ok_json(&aws(
        &server,
        &["list-executions", "--state-machine-arn", &child],
    ));
    let executions = listed["executions"].as_array().unwrap();
    assert_eq!(executions.len(), 1, "one child despite the crash: {listed}");
    assert_eq!(executions[0]["executionArn"], child_execution);

    let events = ok_json(&aws(
        &server,
        &["get-execution-history", "--execution-arn", &execution],
    ))["events"]
        .as_array()
        .unwrap()
        .clone();
    let kinds = types(&events);
    assert_eq!(
        kinds.iter().filter(|k| **k == "TaskSubmitted").count(),
        1,
        "{kinds:?}"
    );
    let submitted = events
        .iter()
        .find(|e| e["type"] == "TaskSubmitted")
        .unwrap();
    assert_eq!(
        submitted["taskSubmittedEventDetails"]["resource"],
        "startExecution.sync:2"
    );
    assert_eq!(
        submitted["taskSubmittedEventDetails"]["resourceType"],
        "states"
    );
    let succeeded = events
        .iter()
        .find(|e| e["type"] == "TaskSucceeded")
        .unwrap();
    assert_eq!(succeeded["previousEventId"], submitted["id"]);
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
}

#[test]
fn sluice_run_says_nested_executions_need_the_server() {
    let dir = scratch("nested-run");
    let definition = dir.join("parent.json");
    std::fs::write(&definition, parent(&format!("{PREFIX}:stateMachine:child"))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("run")
        .arg(&definition)
        .args(["--input", r#"{"order": 1}"#])
        .output()
        .expect("run sluice");
    assert!(out.status.success(), "{out:?}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "FAILED");
    assert_eq!(result["error"], "States.Runtime");
    assert!(
        result["cause"].as_str().unwrap().contains("`sluice serve`"),
        "{result}"
    );
}

/// Calls Step Functions through the generic AWS SDK integration: PascalCase in and out, and
/// a missing machine caught by its SDK error name.
#[test]
fn aws_sdk_integrations_call_sluices_own_step_functions_api() {
    let dir = scratch("aws-sdk-sfn");
    let server = Server::start(&dir, &[]);
    let child = create_state_machine(
        &server,
        "sdk-child",
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#,
    );
    let parent = json!({"StartAt": "Describe", "States": {
        "Describe": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
                     "Parameters": {"StateMachineArn.$": "$.child"},
                     "ResultSelector": {"name.$": "$.Name", "type.$": "$.Type"},
                     "ResultPath": "$.described", "Next": "Start"},
        "Start": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                  "Parameters": {"StateMachineArn.$": "$.child", "Input": "{\"from\":\"sdk\"}",
                                 "Name": "by-sdk"},
                  "ResultSelector": {"arn.$": "$.ExecutionArn"},
                  "ResultPath": "$.started", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
                    "Parameters": {"StateMachineArn.$": "States.Format('{}-nope', $.child)"},
                    "Catch": [{"ErrorEquals": ["Sfn.StateMachineDoesNotExistException"],
                               "ResultPath": "$.caught", "Next": "Done"}],
                    "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}}})
    .to_string();
    let parent = create_state_machine(&server, "sdk-parent", &parent);
    let execution = start_execution(&server, &parent, &json!({"child": child}).to_string());
    let done = wait_done(server.port, &execution, Duration::from_secs(30));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output["described"],
        json!({"name": "sdk-child", "type": "STANDARD"})
    );
    assert_eq!(
        output["started"]["arn"],
        format!("{PREFIX}:execution:sdk-child:by-sdk")
    );
    assert_eq!(
        output["caught"]["Error"],
        "Sfn.StateMachineDoesNotExistException"
    );
    let cause = output["caught"]["Cause"].as_str().unwrap();
    assert!(
        cause.contains("(Service: Sfn, Status Code: 400, Request ID: "),
        "{cause}"
    );
    let child_run = wait_done(
        server.port,
        &format!("{PREFIX}:execution:sdk-child:by-sdk"),
        Duration::from_secs(30),
    );
    assert_eq!(child_run["input"], r#"{"from":"sdk"}"#);
}
