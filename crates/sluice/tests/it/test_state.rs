//! TestState through the real `aws` CLI and boto3 against the real `sluice serve`: one state
//! run with its data flow shown, mocks, retries and catchers, and AWS's refusals.

use crate::common::*;
use serde_json::{Value, json};

/// A member of the CLI's answer that holds JSON text, parsed.
fn parsed(answer: &Value, pointer: &str) -> Value {
    let text = answer
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {answer}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{pointer} is not JSON ({e}): {text}"))
}

#[test]
fn aws_cli_tests_pass_choice_and_mocked_task_states() {
    let dir = scratch("test-state-cli");
    let server = Server::start(&dir, &[]);

    // A Pass state's data flow, step by step (AWS's IO_PASS_STATE).
    let pass = r#"{"Type": "Pass", "InputPath": "$.initialData",
        "Parameters": {"staticValue": "some value", "inputValue.$": "$.fieldFromInput"},
        "ResultPath": "$.modifiedData", "Next": "Done"}"#;
    let input = r#"{"initialData": {"fieldFromInput": "value from input", "otherField": "other"},
        "unrelatedData": {"someOtherField": 1234}}"#;
    let answer = ok_json(&aws(
        &server,
        &[
            "test-state",
            "--definition",
            pass,
            "--input",
            input,
            "--inspection-level",
            "DEBUG",
        ],
    ));
    assert_eq!(answer["status"], "SUCCEEDED");
    assert_eq!(answer["nextState"], "Done");
    let expected = json!({
        "initialData": {"fieldFromInput": "value from input", "otherField": "other"},
        "unrelatedData": {"someOtherField": 1234},
        "modifiedData": {"staticValue": "some value", "inputValue": "value from input"}
    });
    assert_eq!(parsed(&answer, "/output"), expected);
    assert_eq!(
        parsed(&answer, "/inspectionData/afterInputPath"),
        json!({"fieldFromInput": "value from input", "otherField": "other"})
    );
    assert_eq!(
        parsed(&answer, "/inspectionData/afterParameters"),
        json!({"staticValue": "some value", "inputValue": "value from input"})
    );
    assert_eq!(parsed(&answer, "/inspectionData/afterResultPath"), expected);
    assert_eq!(
        parsed(&answer, "/inspectionData/input"),
        serde_json::from_str::<Value>(input).unwrap()
    );
    // INFO (the default): no inspection data.
    let info = ok_json(&aws(
        &server,
        &["test-state", "--definition", pass, "--input", input],
    ));
    assert!(info.get("inspectionData").is_none(), "{info}");

    // A Choice state: where it goes.
    let choice = r#"{"Type": "Choice", "Default": "Small",
        "Choices": [{"Variable": "$.cost", "NumericGreaterThan": 9, "Next": "Ask"}]}"#;
    let answer = ok_json(&aws(
        &server,
        &[
            "test-state",
            "--definition",
            choice,
            "--input",
            r#"{"cost": 10}"#,
        ],
    ));
    assert_eq!(answer["status"], "SUCCEEDED");
    assert_eq!(answer["nextState"], "Ask");
    assert_eq!(parsed(&answer, "/output"), json!({"cost": 10}));

    // A Task with a mocked result and a Retry that handles a mocked error.
    let task = r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "price", "Payload.$": "$"},
        "ResultSelector": {"total.$": "$.Payload.total"}, "ResultPath": "$.priced", "End": true,
        "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2,
                   "MaxAttempts": 3, "BackoffRate": 3.0}]}"#;
    let answer = ok_json(&aws(
        &server,
        &[
            "test-state",
            "--definition",
            task,
            "--input",
            r#"{"id": 7}"#,
            "--inspection-level",
            "TRACE",
            "--mock",
            r#"{"result": "{\"Payload\": {\"total\": 42}, \"StatusCode\": 200}"}"#,
        ],
    ));
    assert_eq!(answer["status"], "SUCCEEDED");
    assert!(answer.get("nextState").is_none(), "{answer}");
    assert_eq!(
        parsed(&answer, "/output"),
        json!({"id": 7, "priced": {"total": 42}})
    );
    assert_eq!(
        parsed(&answer, "/inspectionData/afterParameters"),
        json!({"FunctionName": "price", "Payload": {"id": 7}})
    );
    assert_eq!(
        parsed(&answer, "/inspectionData/result"),
        json!({"Payload": {"total": 42}, "StatusCode": 200})
    );
    assert_eq!(
        parsed(&answer, "/inspectionData/afterResultSelector"),
        json!({"total": 42})
    );
    let retriable = ok_json(&aws(
        &server,
        &[
            "test-state",
            "--definition",
            task,
            "--inspection-level",
            "DEBUG",
            "--mock",
            r#"{"errorOutput": {"error": "Lambda.TooManyRequestsException", "cause": "slow down"}}"#,
            "--state-configuration",
            r#"{"retrierRetryCount": 2}"#,
        ],
    ));
    assert_eq!(retriable["status"], "RETRIABLE");
    assert_eq!(retriable["error"], "Lambda.TooManyRequestsException");
    assert_eq!(retriable["cause"], "slow down");
    assert_eq!(
        retriable["inspectionData"]["errorDetails"],
        json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 18})
    );
}

#[test]
fn aws_cli_gets_aws_refusals() {
    let dir = scratch("test-state-cli-errors");
    let server = Server::start(&dir, &[]);

    let parallel = r#"{"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]}"#;
    assert_cli_error(
        &aws(&server, &["test-state", "--definition", parallel]),
        "InvalidDefinition",
        "TestState",
        "TestState API does not support Map or Parallel states. Supported state types include: \
         [Task, Wait, Pass, Succeed, Fail, Choice]",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "test-state",
                "--definition",
                r#"{"Type": "Pass", "Next": "X", "End": true}"#,
            ],
        ),
        "InvalidDefinition",
        "TestState",
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED:",
    );
    let task = r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}"#;
    assert_cli_error(
        &aws(&server, &["test-state", "--definition", task]),
        "ValidationException",
        "TestState",
        "RoleArn must be specified when testing a Task state",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "test-state",
                "--definition",
                r#"{"Type": "Pass", "End": true}"#,
                "--mock",
                r#"{"result": "{}"}"#,
            ],
        ),
        "ValidationException",
        "TestState",
        "State type 'Pass' is not supported when a mock is specified",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "test-state",
                "--definition",
                task,
                "--mock",
                r#"{"result": "not JSON"}"#,
            ],
        ),
        "ValidationException",
        "TestState",
        "Mocked result must be valid JSON",
    );
}

const BOTO3_TEST_STATE: &str = r#"

def error(**kwargs):
    try:
        sfn.test_state(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"test_state succeeded: {kwargs}")

machine = json.dumps({"StartAt": "Charge", "States": {
    "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:charge",
               "ResultPath": "$.charge", "Next": "Fanout",
               "Catch": [{"ErrorEquals": ["Card.Declined"], "ResultPath": "$.error", "Next": "Declined"}]},
    "Fanout": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Done", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 600, "End": True}}}]},
    "Declined": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    "Done": {"Type": "Succeed"}}})

# A state of a whole machine, by name; a plain Lambda ARN takes the mocked Invoke response's Payload.
r = sfn.test_state(definition=machine, stateName="Charge", input='{"amount": 5}',
                   mock={"result": json.dumps({"StatusCode": 200, "Payload": {"id": "ch_1"}})})
assert r["status"] == "SUCCEEDED" and r["nextState"] == "Fanout", r
assert json.loads(r["output"]) == {"amount": 5, "charge": {"id": "ch_1"}}, r

# A mocked error a catcher takes.
r = sfn.test_state(definition=machine, stateName="Charge", input='{"amount": 5}',
                   inspectionLevel="DEBUG",
                   mock={"errorOutput": {"error": "Card.Declined", "cause": "insufficient funds"}})
assert r["status"] == "CAUGHT_ERROR" and r["nextState"] == "Declined", r
assert r["error"] == "Card.Declined" and r["cause"] == "insufficient funds", r
assert json.loads(r["output"]) == {"amount": 5, "error": {"Error": "Card.Declined", "Cause": "insufficient funds"}}, r
assert r["inspectionData"]["errorDetails"] == {"catchIndex": 0}, r

# The next state, tested with the caught output: a Fail state.
r = sfn.test_state(definition=machine, stateName="Declined",
                   input=json.dumps({"error": {"Error": "Card.Declined", "Cause": "insufficient funds"}}))
assert r["status"] == "FAILED" and r["error"] == "Card.Declined" and r["cause"] == "insufficient funds", r
assert "output" not in r, r

# A Parallel state takes its branch outputs from the mock (its Wait branch is never run).
r = sfn.test_state(definition=machine, stateName="Fanout", input='{"k": 1}',
                   mock={"result": json.dumps([{"a": 1}, {"b": 2}])})
assert r["status"] == "SUCCEEDED", r
assert json.loads(r["output"]) == {"k": 1, "both": [{"a": 1}, {"b": 2}]}, r
assert error(definition=machine, stateName="Fanout", mock={"result": "[1]"}) == (
    "ValidationException",
    "Mocked result must contain the same number of items as number of Parallel branches.")

# A given context object is `$$` as it is.
task = json.dumps({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                   "Parameters": {"execution.$": "$$.Execution.Name", "retry.$": "$$.State.RetryCount"}})
r = sfn.test_state(definition=task, inspectionLevel="TRACE", mock={"result": "{}"},
                   context=json.dumps({"Execution": {"Name": "given"}, "State": {"RetryCount": 2}}))
assert json.loads(r["inspectionData"]["afterParameters"]) == {"execution": "given", "retry": 2}, r
assert error(definition=task, mock={"result": "{}"}, context='{"Map": {}}') == (
    "ValidationException",
    "Invalid Context object provided: 'Map' field is not supported when mocking a Context object")

# AWS's refusals.
assert error(definition=machine, stateName="Nope") == ("ValidationException", "State not found in definition")
assert error(definition=task, mock={"result": "{}", "errorOutput": {"error": "E", "cause": "C"}}) == (
    "ValidationException",
    "A test mock should have only one of the following fields: [result, errorOutput].")
code, message = error(definition=json.dumps({"Type": "Map", "End": True}), mock={"result": "[]"})
assert code == "InvalidDefinition" and "/States/StateName" in message, message
print("OK")
"#;

#[test]
fn boto3_tests_states_of_a_machine_with_mocks_and_contexts() {
    let dir = scratch("test-state-boto3");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, BOTO3_TEST_STATE, &[]);
}
