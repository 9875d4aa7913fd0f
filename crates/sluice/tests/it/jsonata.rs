//! JSONata state machines and workflow variables through the real server, driven by boto3:
//! EXPRESS results, history with `assignedVariables` and `EvaluationFailed`, validation
//! errors in AWS's shape, and variables of a STANDARD execution surviving `kill -9`.

use std::time::Duration;

use crate::common::{Server, call_ok, history, run_boto3, scratch, types, wait_done};
use serde_json::{Value, json};

#[test]
fn jsonata_machines_run_through_the_api_with_variables_in_their_history() {
    let dir = scratch("jsonata-api");
    let server = Server::start(&dir, &[]);
    run_boto3(
        &server,
        r#"
definition = {
    "QueryLanguage": "JSONata",
    "StartAt": "Normalize",
    "States": {
        "Normalize": {
            "Type": "Pass",
            "Assign": {"tenant": "{% $states.input.tenant_id %}", "threshold": 5},
            "Output": {"severity": "{% $number($states.input.severity) %}", "vendor": "{% $uppercase($states.input.vendor) %}"},
            "Next": "Route"
        },
        "Route": {
            "Type": "Choice",
            "Choices": [{"Condition": "{% $states.input.severity >= $threshold %}", "Next": "Alert",
                         "Assign": {"route": "alert"}}],
            "Default": "Drop",
            "Assign": {"route": "drop"}
        },
        "Alert": {"Type": "Pass", "Output": {"tenant": "{% $tenant %}", "route": "{% $route %}", "vendor": "{% $states.input.vendor %}"}, "End": True},
        "Drop": {"Type": "Succeed", "Output": {"route": "{% $route %}"}}
    }
}
arn = sfn.create_state_machine(name="jsonata-express", definition=json.dumps(definition),
                               roleArn=role, type="EXPRESS")["stateMachineArn"]
out = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(
    {"tenant_id": "t-42", "severity": "7", "vendor": "crowdstrike"}))
assert out["status"] == "SUCCEEDED", out
assert json.loads(out["output"]) == {"tenant": "t-42", "route": "alert", "vendor": "CROWDSTRIKE"}, out
out = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(
    {"tenant_id": "t-42", "severity": 2, "vendor": "zscaler"}))
assert json.loads(out["output"]) == {"route": "drop"}, out

# EXPRESS history (Sluice keeps recent ones) shows what each state assigned, as AWS does.
events = sfn.get_execution_history(executionArn=out["executionArn"])["events"]
exited = {e["stateExitedEventDetails"]["name"]: e["stateExitedEventDetails"]
          for e in events if "stateExitedEventDetails" in e}
assert exited["Normalize"]["assignedVariables"] == {"tenant": '"t-42"', "threshold": "5"}, exited
assert exited["Normalize"]["assignedVariablesDetails"] == {"truncated": False}
assert exited["Route"]["assignedVariables"] == {"route": '"drop"'}, exited

# An expression that yields nothing fails with AWS's error, cause and EvaluationFailed event.
bad = {"QueryLanguage": "JSONata", "StartAt": "S",
       "States": {"S": {"Type": "Pass", "Output": {"x": "{% $nope %}"}, "End": True}}}
arn = sfn.create_state_machine(name="jsonata-bad", definition=json.dumps(bad), roleArn=role,
                               type="EXPRESS")["stateMachineArn"]
out = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
assert out["status"] == "FAILED", out
assert out["error"] == "States.QueryEvaluationError", out
assert "The JSONata expression '$nope' specified for the field 'Output/x' returned nothing (undefined)." in out["cause"], out
events = sfn.get_execution_history(executionArn=out["executionArn"])["events"]
failed = [e for e in events if e["type"] == "EvaluationFailed"]
assert failed and failed[0]["evaluationFailedEventDetails"]["location"] == "Output/x", events

# variableReferences lists what JSONPath fields read (not JSONata expressions), as AWS does.
described = sfn.describe_state_machine(stateMachineArn=arn)
assert "variableReferences" not in described, described
mixed = {"StartAt": "Set", "States": {
    "Set": {"Type": "Pass", "Assign": {"x": 1, "items": [1]}, "Next": "Read"},
    "Read": {"Type": "Pass", "Parameters": {"v.$": "$x", "f.$": "States.Format('{}', $items[0])"}, "Next": "J"},
    "J": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $x %}", "End": True}}}
arn = sfn.create_state_machine(name="references", definition=json.dumps(mixed), roleArn=role)["stateMachineArn"]
described = sfn.describe_state_machine(stateMachineArn=arn)
assert described["variableReferences"] == {"Read": ["items", "x"]}, described

# JSONPath fields in a JSONata state, and expressions that do not parse, are refused.
try:
    sfn.create_state_machine(name="jsonata-invalid", roleArn=role, definition=json.dumps(
        {"QueryLanguage": "JSONata", "StartAt": "S",
         "States": {"S": {"Type": "Pass", "Parameters": {"a": 1}, "Output": "{% 1 + %}", "End": True}}}))
    raise SystemExit("accepted an invalid definition")
except ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidDefinition", e.response
    message = e.response["Error"]["Message"]
    assert "/States/S/Parameters" in message and "/States/S/Output" in message, message
print("OK")
"#,
        &[],
    );
}

#[test]
fn a_standard_execution_keeps_its_variables_across_kill_9() {
    let dir = scratch("jsonata-restart");
    let mut server = Server::start(&dir, &[]);
    let definition = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Remember",
        "States": {
            "Remember": {
                "Type": "Pass",
                "Assign": {"secret": "{% $states.input.secret %}", "count": 41},
                "Output": {},
                "Next": "Wait"
            },
            "Wait": {"Type": "Wait", "Seconds": 2, "Next": "Use"},
            "Use": {
                "Type": "Pass",
                "Output": {"secret": "{% $secret %}", "count": "{% $count + 1 %}"},
                "End": true
            }
        }
    });
    let machine = call_ok(
        server.port,
        "CreateStateMachine",
        json!({"name": "jsonata-restart", "definition": definition.to_string(), "roleArn": crate::common::ROLE}),
    );
    let arn = machine["stateMachineArn"].as_str().unwrap().to_owned();
    let started = call_ok(
        server.port,
        "StartExecution",
        json!({"stateMachineArn": arn, "input": json!({"secret": "s3cr3t"}).to_string()}),
    );
    let execution = started["executionArn"].as_str().unwrap().to_owned();
    // Wait until the execution is in its Wait state: the variables are then only on disk.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !types(&history(server.port, &execution)).contains(&"WaitStateEntered") {
        assert!(
            std::time::Instant::now() < deadline,
            "never reached the Wait state"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    let server = Server::start(&dir, &[]);
    let done = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"secret": "s3cr3t", "count": 42}));
}
