import zipfile
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"total_max_attempts": 1}))
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
s3.create_bucket(Bucket="code")
s3.create_bucket(Bucket="uploads")
def archive(source):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("h.py", source)
    return code.getvalue()
s3.put_object(Bucket="code", Key="importer/v1.zip", Body=archive(
    "def handler(event, context):\n    r = event['Records'][0]\n    return {'v': 1, 'key': r['s3']['object']['key'], 'event': r['eventName']}\n"))
role = "arn:aws:iam::000000000000:role/lambda"
# Code from a bucket; a missing object is AWS's error.
code = error(lam.create_function, FunctionName="importer", Runtime="python3.12", Handler="h.handler", Role=role,
             Code={"S3Bucket": "code", "S3Key": "importer/missing.zip"})
assert code[0] == "InvalidParameterValueException" and "NoSuchKey" in code[1], code
function = lam.create_function(FunctionName="importer", Runtime="python3.12", Handler="h.handler", Role=role,
                               Code={"S3Bucket": "code", "S3Key": "importer/v1.zip"})["FunctionArn"]
lam.get_waiter("function_active_v2").wait(FunctionName="importer")
done_url = sqs.create_queue(QueueName="imported")["QueueUrl"]
done_arn = sqs.get_queue_attributes(QueueUrl=done_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
lam.put_function_event_invoke_config(FunctionName="importer", DestinationConfig={"OnSuccess": {"Destination": done_arn}})
# Objects written to the bucket invoke the function (asynchronously, as S3 does).
s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"Id": "import", "LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"],
                                      "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".log"}]}}}]})
s3.put_object(Bucket="uploads", Key="batch 1.log", Body=b"line\n")
s3.put_object(Bucket="uploads", Key="ignored.txt", Body=b"x")
results, deadline = [], time.time() + 30
while not results and time.time() < deadline:
    for m in sqs.receive_message(QueueUrl=done_url, WaitTimeSeconds=1).get("Messages", []):
        results.append(json.loads(m["Body"])["responsePayload"])
assert results == [{"v": 1, "key": "batch+1.log", "event": "ObjectCreated:Put"}], results
# New code from the bucket.
s3.put_object(Bucket="code", Key="importer/v2.zip", Body=archive("def handler(event, context):\n    return {'v': 2}\n"))
lam.update_function_code(FunctionName="importer", S3Bucket="code", S3Key="importer/v2.zip")
lam.get_waiter("function_updated_v2").wait(FunctionName="importer")
assert json.loads(lam.invoke(FunctionName="importer", Payload=b"{}")["Payload"].read()) == {"v": 2}
print("OK")
