s3.create_bucket(Bucket="audit")
definition = {
    "StartAt": "Write",
    "States": {
        "Write": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                  "Parameters": {"Bucket": "audit", "Key.$": "States.Format('trail/{}.json', $.id)", "Body.$": "$.event", "ContentType": "application/json"},
                  "ResultPath": "$.put", "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket": "audit", "Key.$": "States.Format('trail/{}.json', $.id)"},
                 "ResultSelector": {"body.$": "States.StringToJson($.Body)", "type.$": "$.ContentType", "etag.$": "$.ETag"},
                 "ResultPath": "$.read", "Next": "List"},
        "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                 "Parameters": {"Bucket": "audit", "Prefix": "trail/"},
                 "ResultSelector": {"keys.$": "$.Contents[*].Key", "count.$": "$.KeyCount"},
                 "ResultPath": "$.list", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": "audit", "Key": "no/such/key"},
                    "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.caught", "Next": "Done"}],
                    "End": True},
        "Done": {"Type": "Succeed"},
    },
}
arn = sfn.create_state_machine(name="audit", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"id": "e-1", "event": {"user": "alice", "action": "login"}}))["executionArn"]
for _ in range(200):
    d = sfn.describe_execution(executionArn=run)
    if d["status"] != "RUNNING":
        break
    time.sleep(0.05)
assert d["status"] == "SUCCEEDED", d
out = json.loads(d["output"])
assert out["put"]["ETag"].startswith('"'), out
assert out["read"]["body"] == {"user": "alice", "action": "login"} and out["read"]["type"] == "application/json", out
assert out["list"] == {"keys": ["trail/e-1.json"], "count": 1}, out
assert out["caught"]["Error"] == "S3.NoSuchKeyException", out
assert "Service: S3, Status Code: 404" in out["caught"]["Cause"], out
# The object the state machine wrote is an object like any other.
assert json.loads(s3.get_object(Bucket="audit", Key="trail/e-1.json")["Body"].read()) == {"user": "alice", "action": "login"}
print("OK")
