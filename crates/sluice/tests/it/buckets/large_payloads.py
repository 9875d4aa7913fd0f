import zipfile
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"total_max_attempts": 1}))
s3.create_bucket(Bucket="raw")
big = "".join(f"line {i:07} of a large vendor export\n" for i in range(40_000))  # ~1.4 MB
s3.put_object(Bucket="raw", Key="export.txt", Body=big.encode())
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("h.py", "def handler(event, context):\n    return {'lines': event['Body'].count('\\n'), 'echo': event['Body']}\n")
fn = lam.create_function(FunctionName="counter", Runtime="python3.12", Handler="h.handler",
                         Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()})["FunctionArn"]
lam.get_waiter("function_active_v2").wait(FunctionName="counter")
definition = json.dumps({
    "StartAt": "Fetch",
    "States": {
        "Fetch": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                  "Parameters": {"Bucket": "raw", "Key": "export.txt"}, "ResultSelector": {"Body.$": "$.Body"}, "Next": "Count"},
        "Count": {"Type": "Task", "Resource": fn, "Next": "Big?"},
        "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.lines", "NumericGreaterThan": 1000, "Next": "Pause"}], "Default": "Small"},
        "Pause": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
        "Small": {"Type": "Fail", "Error": "TooSmall"},
    },
})
tagged = sfn.create_state_machine(name="large", definition=definition, roleArn=role,
                                  tags=[{"key": "sluice:large-payloads", "value": "true"}])["stateMachineArn"]
plain = sfn.create_state_machine(name="plain", definition=definition, roleArn=role)["stateMachineArn"]
def wait(ex, timeout=60):
    for _ in range(timeout * 20):
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.05)
    raise AssertionError("still running")
# Without the tag, AWS's quota holds.
d = wait(sfn.start_execution(stateMachineArn=plain)["executionArn"])
assert d["status"] == "FAILED" and d["error"] == "States.DataLimitExceeded", d
ex = sfn.start_execution(stateMachineArn=tagged)["executionArn"]
# Running (in the Wait state) with payloads past the quota.
for _ in range(400):
    history = sfn.get_execution_history(executionArn=ex)["events"]
    if any(e["type"] == "WaitStateEntered" for e in history):
        break
    time.sleep(0.05)
with open(os.environ["MARKER"], "w") as f:
    f.write(ex)
print("OK")
