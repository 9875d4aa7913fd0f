//! Task tokens through the real `aws` CLI against the real `sluice serve`: a
//! `.waitForTaskToken` task waits for SendTaskSuccess / SendTaskFailure (across a `kill -9` of
//! the server too), heartbeats, AWS's errors for bad and spent tokens, task timeouts under
//! `--time-scale`, and EXPRESS machines refusing callbacks as AWS does.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

/// The task sends its token to the `approvals` queue ([`with_queue`]) and waits; the tests
/// read the token from TaskScheduled's parameters, as a worker would from the message.
fn definition(extra: Value) -> String {
    let mut ask = json!({"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/000000000000/approvals",
                       "MessageBody": {"TaskToken.$": "$$.Task.Token", "Order.$": "$.order"}},
        "ResultPath": "$.approval", "End": true});
    for (k, v) in extra.as_object().unwrap() {
        ask[k] = v.clone();
    }
    json!({"StartAt": "Ask", "States": {"Ask": ask}}).to_string()
}

/// `server`, with the `approvals` queue the tasks send to.
fn with_queue(server: Server) -> Server {
    let output = sluice_test_util::aws_cli(
        &server.endpoint(),
        "sqs",
        &["create-queue", "--queue-name", "approvals"],
    );
    assert!(output.status.success(), "{output:?}");
    server
}

fn start(server: &Server, machine: &str, name: &str) -> String {
    let started = ok_json(&aws(
        server,
        &[
            "start-execution",
            "--state-machine-arn",
            machine,
            "--name",
            name,
            "--input",
            r#"{"order": 7}"#,
        ],
    ));
    started["executionArn"].as_str().unwrap().to_owned()
}

/// The task token, read from the task's TaskScheduled event as a worker would get it.
fn token_of(server: &Server, execution: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = history(server.port, execution);
        if let Some(scheduled) = events.iter().find(|e| e["type"] == "TaskScheduled") {
            let parameters: Value = serde_json::from_str(
                scheduled["taskScheduledEventDetails"]["parameters"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            return parameters["MessageBody"]["TaskToken"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert!(Instant::now() < deadline, "no TaskScheduled: {events:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn send_task_success_completes_a_waiting_task_across_a_server_restart() {
    let dir = scratch("callbacks-success");
    let data = dir.join("data");
    let mut server = with_queue(Server::start(&data, &[]));
    let machine = create_state_machine(
        &server,
        "approve",
        &definition(json!({"HeartbeatSeconds": 3600})),
    );
    let execution = start(&server, &machine, "order-7");
    let token = token_of(&server, &execution);
    assert_eq!(
        call_ok(
            server.port,
            "DescribeExecution",
            json!({"executionArn": execution})
        )["status"],
        "RUNNING"
    );
    server.kill9();

    let server = with_queue(Server::start(&data, &[]));
    ok_empty(&server, &["send-task-heartbeat", "--task-token", &token]);
    ok_empty(
        &server,
        &[
            "send-task-success",
            "--task-token",
            &token,
            "--task-output",
            r#"{"approved": true, "by": "ops"}"#,
        ],
    );
    let done = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"order": 7, "approval": {"approved": true, "by": "ops"}})
    );
    let events = history(server.port, &execution);
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            // The message was sent: AWS records the SendMessage answer, then waits.
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        events[2]["taskScheduledEventDetails"]["heartbeatInSeconds"],
        3600
    );
    let submitted: Value = serde_json::from_str(
        events[4]["taskSubmittedEventDetails"]["output"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(submitted["MD5OfMessageBody"].as_str().unwrap().len(), 32);
    assert_eq!(
        events[5]["taskSucceededEventDetails"]["output"],
        r#"{"approved":true,"by":"ops"}"#
    );

    // A token answers once; a text that is no token; an output that is no JSON.
    for operation in [
        vec!["send-task-success", "--task-output", "{}"],
        vec!["send-task-failure"],
        vec!["send-task-heartbeat"],
    ] {
        let mut args = operation.clone();
        args.extend(["--task-token", &token]);
        let name = match operation[0] {
            "send-task-success" => "SendTaskSuccess",
            "send-task-failure" => "SendTaskFailure",
            _ => "SendTaskHeartbeat",
        };
        assert_cli_error(
            &aws(&server, &args),
            "TaskTimedOut",
            name,
            "Task Timed Out: 'Provided task does not exist anymore'",
        );
        let mut args = operation.clone();
        args.extend(["--task-token", "NoSuchTaskToken"]);
        assert_cli_error(
            &aws(&server, &args),
            "InvalidToken",
            name,
            "Invalid Token: 'Invalid token'",
        );
    }
    let other = start(&server, &machine, "order-8");
    let other_token = token_of(&server, &other);
    assert_cli_error(
        &aws(
            &server,
            &[
                "send-task-success",
                "--task-token",
                &other_token,
                "--task-output",
                "not json",
            ],
        ),
        "InvalidOutput",
        "SendTaskSuccess",
        "",
    );
}

#[test]
fn send_task_failure_fails_the_execution_with_the_callers_error_and_cause() {
    let dir = scratch("callbacks-failure");
    let server = with_queue(Server::start(&dir.join("data"), &[]));
    let machine = create_state_machine(&server, "approve", &definition(json!({})));
    let execution = start(&server, &machine, "order-7");
    let token = token_of(&server, &execution);
    ok_empty(
        &server,
        &[
            "send-task-failure",
            "--task-token",
            &token,
            "--error",
            "Rejected",
            "--cause",
            "not in stock",
        ],
    );
    let done = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Rejected");
    assert_eq!(done["cause"], "not in stock");
    let events = history(server.port, &execution);
    let failed = events.iter().find(|e| e["type"] == "TaskFailed").unwrap();
    assert_eq!(
        failed["taskFailedEventDetails"],
        json!({"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken",
               "error": "Rejected", "cause": "not in stock"})
    );
}

#[test]
fn a_task_times_out_under_time_scale_and_catch_takes_states_timeout() {
    let dir = scratch("callbacks-timeout");
    // An hour's TimeoutSeconds passes in 3.6 s of wall time.
    let server = with_queue(Server::start(&dir.join("data"), &["--time-scale", "1000"]));
    let definition = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "approvals", "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3600, "Next": "Approved",
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Expired"}]},
        "Approved": {"Type": "Succeed"},
        "Expired": {"Type": "Fail", "Error": "Expired", "Cause": "nobody answered"}}})
    .to_string();
    let machine = create_state_machine(&server, "expiring", &definition);
    let execution = start(&server, &machine, "order-7");
    let token = token_of(&server, &execution);
    let done = wait_done(server.port, &execution, Duration::from_secs(30));
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Expired");
    let events = history(server.port, &execution);
    let kinds = types(&events);
    let timed_out = kinds.iter().position(|k| *k == "TaskTimedOut").unwrap();
    assert_eq!(
        events[timed_out]["taskTimedOutEventDetails"],
        json!({"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken",
               "error": "States.Timeout"})
    );
    assert_eq!(kinds[timed_out + 1], "TaskStateExited");
    assert_eq!(
        events[timed_out + 1]["stateExitedEventDetails"]["output"],
        r#"{"Error":"States.Timeout","Cause":""}"#
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "send-task-success",
                "--task-token",
                &token,
                "--task-output",
                "{}",
            ],
        ),
        "TaskTimedOut",
        "SendTaskSuccess",
        "Task Timed Out: 'Provided task does not exist anymore'",
    );
}

#[test]
fn express_machines_refuse_callback_tasks_as_aws_does() {
    let dir = scratch("callbacks-express");
    let server = with_queue(Server::start(&dir.join("data"), &[]));
    let definition = definition(json!({}));
    let refused = aws(
        &server,
        &[
            "create-state-machine",
            "--name",
            "fast",
            "--type",
            "EXPRESS",
            "--role-arn",
            ROLE,
            "--definition",
            &definition,
        ],
    );
    assert_cli_error(
        &refused,
        "InvalidDefinition",
        "CreateStateMachine",
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine \
         does not support '.waitForTaskToken' service integration  at /States/Ask/Resource'",
    );
    let validated = ok_json(&aws(
        &server,
        &[
            "validate-state-machine-definition",
            "--type",
            "EXPRESS",
            "--definition",
            &definition,
        ],
    ));
    assert_eq!(validated["result"], "FAIL");
    assert_eq!(
        validated["diagnostics"],
        json!([{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                "message": "Express state machine does not support '.waitForTaskToken' \
                            service integration ",
                "location": "/States/Ask/Resource"}])
    );
    // STANDARD takes it.
    create_state_machine(&server, "slow", &definition);
}
