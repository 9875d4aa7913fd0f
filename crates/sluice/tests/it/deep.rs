//! Very long and very deeply nested data against the real server, through boto3: a definition
//! whose JSONata expression is a 30,000-step path or a 50,000-term sum is refused as invalid
//! (not a stack overflow that takes the server down), and execution data nested 100,000
//! levels deep (AWS documents no nesting limit) runs through STANDARD and EXPRESS executions,
//! TestState, an activity's input and SendTaskSuccess output, and a Lambda function's payload
//! and result, and is recorded in the history.

use crate::common::{Server, run_boto3, scratch};

#[test]
fn very_long_jsonata_expressions_are_invalid_definitions_and_the_server_stays_up() {
    let dir = scratch("deep-expressions");
    let server = Server::start(&dir, &[]);
    run_boto3(
        &server,
        r#"
def machine(expression):
    return json.dumps({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": expression, "End": True}}})

for expression in [
    "{% $states.input" + ".a" * 30000 + " %}",
    "{% " + "+".join(["1"] * 50000) + " %}",
]:
    checked = sfn.validate_state_machine_definition(definition=machine(expression))
    assert checked["result"] == "FAIL", checked
    [diagnostic] = checked["diagnostics"]
    assert diagnostic["code"] == "SCHEMA_VALIDATION_FAILED", diagnostic
    assert "S0299: The expression is nested too deeply to parse" in diagnostic["message"], diagnostic
    for call in [
        lambda: sfn.create_state_machine(name="long", definition=machine(expression), roleArn=role),
        lambda: sfn.test_state(roleArn=role, definition=json.dumps(
            {"Type": "Pass", "QueryLanguage": "JSONata", "Output": expression, "End": True})),
    ]:
        try:
            call()
            raise AssertionError("accepted")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidDefinition", e.response
            assert "S0299" in e.response["Error"]["Message"], e.response

assert sfn.list_state_machines()["stateMachines"] == []
print("OK")
"#,
        &[],
    );
}

#[test]
fn execution_data_100000_levels_deep_flows_end_to_end() {
    let dir = scratch("deep-data");
    let server = Server::start(&dir, &[]);
    let bootstrap = format!(
        "#!/bin/sh\nexec '{}' bench-runtime\n",
        env!("CARGO_BIN_EXE_sluice")
    );
    run_boto3(
        &server,
        r#"
import io, zipfile

deep = "[" * 100000 + "]" * 100000
wrapped = '{"d":' + deep + '}'

def done(arn):
    for _ in range(600):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")

def history(arn):
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]

# STANDARD: a Pass state copies the input through Parameters and OutputPath.
pass_definition = json.dumps({"StartAt": "P", "States": {"P": {
    "Type": "Pass", "Parameters": {"d.$": "$"}, "OutputPath": "$.d", "End": True}}})
machine = sfn.create_state_machine(name="pass", definition=pass_definition, roleArn=role)
arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=deep)["executionArn"]
described = done(arn)
assert described["status"] == "SUCCEEDED", described
assert described["input"] == deep and described["output"] == deep
events = history(arn)
assert [e["type"] for e in events] == [
    "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], events
assert events[0]["executionStartedEventDetails"]["input"] == deep
assert events[2]["stateExitedEventDetails"]["output"] == deep

# EXPRESS, synchronously.
express = sfn.create_state_machine(
    name="express", definition=pass_definition, roleArn=role, type="EXPRESS")
result = sfn.start_sync_execution(stateMachineArn=express["stateMachineArn"], input=deep)
assert result["status"] == "SUCCEEDED", result
assert result["output"] == deep

# TestState.
tested = sfn.test_state(
    definition=json.dumps({"Type": "Pass", "End": True}), roleArn=role, input=deep)
assert tested["status"] == "SUCCEEDED" and tested["output"] == deep, tested["status"]

# An activity's input, and SendTaskSuccess's output.
activity = sfn.create_activity(name="deep")["activityArn"]
waiting = sfn.create_state_machine(name="activity", roleArn=role, definition=json.dumps(
    {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": True}}}))
arn = sfn.start_execution(stateMachineArn=waiting["stateMachineArn"], input=deep)["executionArn"]
task = sfn.get_activity_task(activityArn=activity, workerName="w")
assert task["input"] == deep
sfn.send_task_success(taskToken=task["taskToken"], output=wrapped)
described = done(arn)
assert described["status"] == "SUCCEEDED", described
assert described["output"] == wrapped

# A Lambda function's payload and result: lambda:invoke with the input as Payload, echoed
# back by a `provided` function (sluice's own Runtime API echo loop).
archive = io.BytesIO()
with zipfile.ZipFile(archive, "w") as z:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o755 << 16
    z.writestr(info, os.environ["BOOTSTRAP"])
awslambda = boto3.client(
    "lambda", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    aws_access_key_id="x", aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1}))
function = awslambda.create_function(
    FunctionName="echo", Runtime="provided.al2023", Handler="echo",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": archive.getvalue()})
invoking = sfn.create_state_machine(name="lambda", roleArn=role, definition=json.dumps(
    {"StartAt": "L", "States": {"L": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function["FunctionArn"], "Payload.$": "$"},
        "OutputPath": "$.Payload", "End": True}}}))
arn = sfn.start_execution(
    stateMachineArn=invoking["stateMachineArn"], input=wrapped)["executionArn"]
described = done(arn)
assert described["status"] == "SUCCEEDED", described
assert described["output"] == wrapped

assert len(sfn.list_state_machines()["stateMachines"]) == 4
print("OK")
"#,
        &[("BOOTSTRAP", &bootstrap)],
    );
}
