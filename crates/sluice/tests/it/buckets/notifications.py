sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
def queue(name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
def receive(url, count, wait=10):
    got, deadline = [], time.time() + wait
    while len(got) < count and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got
created_url, created_arn = queue("created")
removed_url, removed_arn = queue("removed")
bus_url, bus_arn = queue("from-bus")
topic = sns.create_topic(Name="removals")["TopicArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=removed_arn)
s3.create_bucket(Bucket="ingest")

# Refused: an event S3 does not know, a destination that does not exist, overlapping rules.
code = error(s3.put_bucket_notification_configuration, Bucket="ingest", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": created_arn, "Events": ["s3:ObjectMade:*"]}]})
assert code[0] == "InvalidArgument", code
code = error(s3.put_bucket_notification_configuration, Bucket="ingest", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:nope", "Events": ["s3:ObjectCreated:*"]}]})
assert code[0] == "InvalidArgument" and "Unable to validate" in code[1], code
code = error(s3.put_bucket_notification_configuration, Bucket="ingest", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": created_arn, "Events": ["s3:ObjectCreated:*"]},
                            {"QueueArn": removed_arn, "Events": ["s3:ObjectCreated:Put"]}]})
assert code[0] == "InvalidArgument" and "overlap" in code[1], code
assert s3.get_bucket_notification_configuration(Bucket="ingest").get("QueueConfigurations") is None

config = {
    "QueueConfigurations": [{"Id": "csv-in", "QueueArn": created_arn, "Events": ["s3:ObjectCreated:*"],
                             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}]}}}],
    "TopicConfigurations": [{"Id": "gone", "TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}],
    "EventBridgeConfiguration": {},
}
s3.put_bucket_notification_configuration(Bucket="ingest", NotificationConfiguration=config)
got = s3.get_bucket_notification_configuration(Bucket="ingest")
assert got["QueueConfigurations"][0]["Id"] == "csv-in" and got["QueueConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"], got
rules = {r["Name"]: r["Value"] for r in got["QueueConfigurations"][0]["Filter"]["Key"]["FilterRules"]}
assert rules == {"Prefix": "in/", "Suffix": ".csv"}, rules
assert "EventBridgeConfiguration" in got and got["TopicConfigurations"][0]["TopicArn"] == topic
# The test event goes to the queue when the configuration is put.
test = receive(created_url, 1)
assert test[0]["Event"] == "s3:TestEvent" and test[0]["Bucket"] == "ingest" and test[0]["Service"] == "Amazon S3", test

events.put_rule(Name="s3-created", EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": ["ingest"]}}}))
events.put_targets(Rule="s3-created", Targets=[{"Id": "q", "Arn": bus_arn}])

s3.put_object(Bucket="ingest", Key="in/day one.csv", Body=b"a,b\n1,2\n")
s3.put_object(Bucket="ingest", Key="in/skip.json", Body=b"{}")
s3.put_object(Bucket="ingest", Key="other/x.csv", Body=b"x")
s3.copy_object(Bucket="ingest", Key="in/copy.csv", CopySource="ingest/in/day one.csv")
up = s3.create_multipart_upload(Bucket="ingest", Key="in/big.csv")["UploadId"]
etag = s3.upload_part(Bucket="ingest", Key="in/big.csv", UploadId=up, PartNumber=1, Body=b"big")["ETag"]
s3.complete_multipart_upload(Bucket="ingest", Key="in/big.csv", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
records = [m["Records"][0] for m in receive(created_url, 3)]
assert sorted(r["eventName"] for r in records) == ["ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Copy", "ObjectCreated:Put"], records
put = next(r for r in records if r["eventName"] == "ObjectCreated:Put")
assert put["eventVersion"] == "2.1" and put["eventSource"] == "aws:s3" and put["awsRegion"] == "us-east-1", put
assert put["s3"]["configurationId"] == "csv-in" and put["s3"]["bucket"]["name"] == "ingest" and put["s3"]["bucket"]["arn"] == "arn:aws:s3:::ingest"
assert put["s3"]["object"]["key"] == "in/day+one.csv" and put["s3"]["object"]["size"] == 8, put
assert put["s3"]["object"]["eTag"] == hashlib.md5(b"a,b\n1,2\n").hexdigest() and len(put["s3"]["object"]["sequencer"]) == 16
assert put["userIdentity"]["principalId"] == "AWS:AKIDEXAMPLE" and put["responseElements"]["x-amz-request-id"], put
assert put["eventTime"].endswith("Z") and "T" in put["eventTime"]
assert receive(created_url, 1, wait=1.5) == [], "only keys under in/ ending in .csv are sent"

s3.delete_object(Bucket="ingest", Key="in/skip.json")
# The topic had the test event too, when the configuration was put.
test, envelope = receive(removed_url, 2)
assert json.loads(test["Message"])["Event"] == "s3:TestEvent", test
assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic, envelope
removed = json.loads(envelope["Message"])["Records"][0]
assert removed["eventName"] == "ObjectRemoved:Delete" and removed["s3"]["object"]["key"] == "in/skip.json"
assert "size" not in removed["s3"]["object"] and "eTag" not in removed["s3"]["object"], "deletes carry no size or ETag, as on AWS"

bus = receive(bus_url, 5)
assert len(bus) == 5 and {e["detail"]["object"]["key"] for e in bus} == {"in/day one.csv", "in/skip.json", "other/x.csv", "in/copy.csv", "in/big.csv"}, bus
first = next(e for e in bus if e["detail"]["object"]["key"] == "other/x.csv")
assert first["source"] == "aws.s3" and first["detail-type"] == "Object Created" and first["resources"] == ["arn:aws:s3:::ingest"], first
assert first["detail"]["reason"] == "PutObject" and first["detail"]["object"]["size"] == 1

# Removing the configuration stops the events.
s3.put_bucket_notification_configuration(Bucket="ingest", NotificationConfiguration={})
assert s3.get_bucket_notification_configuration(Bucket="ingest").get("QueueConfigurations") is None
s3.put_object(Bucket="ingest", Key="in/after.csv", Body=b"x")
assert receive(created_url, 1, wait=1.5) == []
print("OK")
