//! EventBridge Pipes from SQS queues on the real `sluice serve`, through boto3: the API with
//! AWS's states and errors; a pipe to an EXPRESS state machine (filter, input template, one
//! execution per batch); pipes to a queue and to a topic; an enrichment function; stop and
//! start; a restart after kill -9; the seed's batches to a STANDARD state machine.

use crate::common::*;

fn python_server(dir: &std::path::Path) -> Server {
    let python = venv().join("bin/python").display().to_string();
    Server::start(dir, &["--python", &python])
}

/// Clients and helpers every pipe script shares.
const PRELUDE: &str = r#"
import io, zipfile
endpoint = os.environ["ENDPOINT"]
def client(name):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
pipes, sqs, sns, lam = client("pipes"), client("sqs"), client("sns"), client("lambda")
role = "arn:aws:iam::000000000000:role/pipes"

def queue(name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

def send(url, bodies):
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i:i + 10])]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")

def drain(url, want, timeout=15):
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) == want, (want, got)
    return got

def depth(url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

def wait(what, done, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")

def function(name, source, env={}):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("f.py", source)
    return lam.create_function(FunctionName=name, Runtime="python3.12", Handler="f.handler",
        Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()},
        Environment={"Variables": env})["FunctionArn"]

def machine(name, kind, definition):
    return sfn.create_state_machine(name=name, type=kind, roleArn=role, definition=json.dumps(definition))["stateMachineArn"]

def error(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call} succeeded")
"#;

fn run(server: &Server, body: &str) {
    run_boto3(server, &format!("{PRELUDE}{body}"), &[]);
}

#[test]
fn the_pipes_api_has_aws_states_shapes_and_errors() {
    let dir = scratch("pipes-api");
    let server = python_server(&dir);
    run(
        &server,
        r#"
src_url, src = queue("orders")
out_url, out = queue("out")
created = pipes.create_pipe(Name="p1", Source=src, Target=out, RoleArn=role, Description="first",
    SourceParameters={"SqsQueueParameters": {"BatchSize": 5}}, Tags={"team": "a"})
assert created["Arn"] == "arn:aws:pipes:us-east-1:000000000000:pipe/p1", created
assert created["CurrentState"] == "CREATING" and created["DesiredState"] == "RUNNING", created
assert isinstance(created["CreationTime"], datetime.datetime)
d = pipes.describe_pipe(Name="p1")
assert d["CurrentState"] == "RUNNING" and d["Source"] == src and d["Target"] == out, d
assert d["SourceParameters"]["SqsQueueParameters"] == {"BatchSize": 5, "MaximumBatchingWindowInSeconds": 0}, d
assert d["Tags"] == {"team": "a"} and d["Description"] == "first" and d["RoleArn"] == role, d

stopped = pipes.create_pipe(Name="p2", Source=src, Target=out, RoleArn=role, DesiredState="STOPPED")
assert stopped["CurrentState"] == "CREATING" and stopped["DesiredState"] == "STOPPED", stopped
assert pipes.describe_pipe(Name="p2")["CurrentState"] == "STOPPED"

assert error(pipes.create_pipe, Name="p1", Source=src, Target=out, RoleArn=role)[::2] == ("ConflictException", 409)
code, message, status = error(pipes.describe_pipe, Name="nope")
assert (code, status) == ("NotFoundException", 404) and "nope" in message, message
code, message, _ = error(pipes.create_pipe, Name="bad name", Source=src, Target=out, RoleArn=role)
assert code == "ValidationException" and "at 'name' failed to satisfy constraint" in message, message
code, message, _ = error(pipes.create_pipe, Name="k", Source="arn:aws:kinesis:us-east-1:000000000000:stream/s", Target=out, RoleArn=role,
    SourceParameters={"KinesisStreamParameters": {"StartingPosition": "LATEST"}})
assert code == "ValidationException" and "kinesis" in message, message
code, message, _ = error(pipes.create_pipe, Name="m", Source=src.replace("orders", "missing"), Target=out, RoleArn=role)
assert code == "ValidationException" and "does not exist" in message, message
code, message, _ = error(pipes.create_pipe, Name="n", Source=src, Target="arn:aws:sns:us-east-1:000000000000:none", RoleArn=role)
assert code == "ValidationException" and "does not exist" in message, message
code, message, _ = error(pipes.create_pipe, Name="t", Source=src, Target=out, RoleArn=role,
    TargetParameters={"InputTemplate": "{\"a\": <aws.pipes.what>}"})
assert code == "ValidationException" and "aws.pipes.what" in message, message
express = machine("std", "STANDARD", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
code, message, _ = error(pipes.create_pipe, Name="s", Source=src, Target=express, RoleArn=role)
assert code == "ValidationException" and "EXPRESS" in message, message

listed = pipes.list_pipes()["Pipes"]
assert [p["Name"] for p in listed] == ["p1", "p2"], listed
assert [p["Name"] for p in pipes.list_pipes(CurrentState="STOPPED")["Pipes"]] == ["p2"]
assert [p["Name"] for p in pipes.list_pipes(NamePrefix="p1")["Pipes"]] == ["p1"]
assert pipes.list_pipes(TargetPrefix="arn:aws:lambda")["Pipes"] == []
page = pipes.list_pipes(Limit=1)
assert [p["Name"] for p in page["Pipes"]] == ["p1"] and page["NextToken"], page
assert [p["Name"] for p in pipes.list_pipes(Limit=1, NextToken=page["NextToken"])["Pipes"]] == ["p2"]

assert pipes.stop_pipe(Name="p1")["CurrentState"] == "STOPPING"
assert pipes.describe_pipe(Name="p1")["CurrentState"] == "STOPPED"
assert pipes.start_pipe(Name="p1")["CurrentState"] == "STARTING"
assert pipes.describe_pipe(Name="p1")["CurrentState"] == "RUNNING"
updated = pipes.update_pipe(Name="p1", RoleArn=role, Description="second",
    SourceParameters={"SqsQueueParameters": {"BatchSize": 7}})
assert updated["CurrentState"] == "UPDATING", updated
d = pipes.describe_pipe(Name="p1")
assert d["Description"] == "second" and d["SourceParameters"]["SqsQueueParameters"]["BatchSize"] == 7, d

arn = created["Arn"]
pipes.tag_resource(resourceArn=arn, tags={"env": "test"})
pipes.untag_resource(resourceArn=arn, tagKeys=["team"])
assert pipes.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test"}

deleted = pipes.delete_pipe(Name="p1")
assert deleted["CurrentState"] == "DELETING" and deleted["DesiredState"] == "DELETED", deleted
assert error(pipes.describe_pipe, Name="p1")[0] == "NotFoundException"
assert error(pipes.delete_pipe, Name="p1")[0] == "NotFoundException"
print("OK")
"#,
    );
}

#[test]
fn a_pipe_runs_an_express_machine_per_batch_with_a_filter_and_a_template() {
    let dir = scratch("pipes-express");
    let server = python_server(&dir);
    run(
        &server,
        r#"
src_url, src = queue("detections")
seen_url, _ = queue("seen")
target = machine("per-batch", "EXPRESS", {"StartAt": "Record", "States": {"Record": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
    "Parameters": {"QueueUrl": seen_url, "MessageBody.$": "$"}, "End": True}}})
pipes.create_pipe(Name="alerts", Source=src, Target=target, RoleArn=role,
    SourceParameters={
        "SqsQueueParameters": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 1},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["alert"]}})}]}},
    TargetParameters={
        "InputTemplate": '{"id": <$.body.id>, "host": "<$.body.host>", "pipe": "<aws.pipes.pipe-name>", "message": "<$.messageId>"}',
        "StepFunctionStateMachineParameters": {"InvocationType": "REQUEST_RESPONSE"}})
bodies = [json.dumps({"kind": "alert", "id": i, "host": f"h{i}"}) for i in range(5)]
bodies += [json.dumps({"kind": "audit", "id": 100 + i}) for i in range(3)] + ["not json"]
send(src_url, bodies)
# A message leaves the source once its batch's execution succeeded (filtered ones at once).
wait("the source to empty", lambda: depth(src_url) == 0)
batches = [json.loads(b) for b in drain(seen_url, depth(seen_url))]
events = [e for batch in batches for e in batch]
assert all(isinstance(batch, list) for batch in batches), batches
assert sorted(e["id"] for e in events) == [0, 1, 2, 3, 4], batches
assert all(e["pipe"] == "alerts" and e["host"] == f"h{e['id']}" and e["message"] for e in events), events
print("OK")
"#,
    );
}

#[test]
fn pipes_deliver_to_a_queue_and_to_a_topic_and_stop_and_start() {
    let dir = scratch("pipes-queue-topic");
    let server = python_server(&dir);
    run(
        &server,
        r#"
a_url, a = queue("a")
b_url, b = queue("b")
pipes.create_pipe(Name="a-to-b", Source=a, Target=b, RoleArn=role)
send(a_url, ["one"])
record = json.loads(drain(b_url, 1)[0])
assert record["body"] == "one" and record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == a, record
assert record["awsRegion"] == "us-east-1" and record["messageId"] and record["md5OfBody"], record
assert "md5OfMessageAttributes" not in record and record["attributes"]["ApproximateReceiveCount"] == "1", record

pipes.stop_pipe(Name="a-to-b")
send(a_url, ["while stopped"])
time.sleep(1.5)
assert depth(b_url) == 0 and depth(a_url) == 1
pipes.start_pipe(Name="a-to-b")
assert json.loads(drain(b_url, 1)[0])["body"] == "while stopped"

c_url, c = queue("c")
d_url, d = queue("d")
topic = sns.create_topic(Name="t")["TopicArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=d, Attributes={"RawMessageDelivery": "true"})
pipes.create_pipe(Name="c-to-topic", Source=c, Target=topic, RoleArn=role,
    TargetParameters={"InputTemplate": "hello <$.body.name> from <aws.pipes.source-arn>"})
send(c_url, [json.dumps({"name": "ada"}), json.dumps({"name": "bob"})])
assert sorted(drain(d_url, 2)) == [f"hello ada from {c}", f"hello bob from {c}"]
print("OK")
"#,
    );
}

#[test]
fn enrichments_transform_the_batch_and_functions_get_it() {
    let dir = scratch("pipes-enrichment");
    let server = python_server(&dir);
    run(
        &server,
        r#"
src_url, src = queue("in")
out_url, out = queue("out")
enrich = function("enrich", "def handler(event, context):\n    return [{'shout': e['text'].upper(), 'n': len(event)} for e in event]\n")
pipes.create_pipe(Name="enriched", Source=src, Target=out, RoleArn=role, Enrichment=enrich,
    SourceParameters={"SqsQueueParameters": {"BatchSize": 3, "MaximumBatchingWindowInSeconds": 1}},
    EnrichmentParameters={"InputTemplate": '{"text": <$.body>}'},
    TargetParameters={"InputTemplate": '{"value": <$.shout>, "batch": <$.n>}'})
send(src_url, ["a", "b", "c"])
got = sorted((json.loads(b) for b in drain(out_url, 3)), key=lambda v: v["value"])
assert [v["value"] for v in got] == ["A", "B", "C"], got
assert all(v["batch"] == 3 for v in got), got

# An EXPRESS state machine as the enrichment: the batch in, what it answers out (one event).
count = machine("count", "EXPRESS", {"StartAt": "Count", "States": {"Count": {
    "Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($)"}, "End": True}}})
src2_url, src2 = queue("in2")
pipes.create_pipe(Name="counted", Source=src2, Target=out, RoleArn=role, Enrichment=count,
    SourceParameters={"SqsQueueParameters": {"BatchSize": 4, "MaximumBatchingWindowInSeconds": 1}})
send(src2_url, ["w", "x", "y", "z"])
counts = [json.loads(b)["count"] for b in drain(out_url, 1)]
wait("the source to empty", lambda: depth(src2_url) == 0)
counts += [json.loads(b)["count"] for b in drain(out_url, depth(out_url))]
assert sum(counts) == 4, counts

# A function as the target gets the batch as a JSON array of records.
import tempfile
record_to = os.path.join(tempfile.mkdtemp(), "events.jsonl")
recorder = function("recorder", "import json, os\ndef handler(event, context):\n    open(os.environ['OUT'], 'a').write(json.dumps(event) + '\\n')\n", {"OUT": record_to})
src3_url, src3 = queue("in3")
pipes.create_pipe(Name="to-function", Source=src3, Target=recorder, RoleArn=role,
    SourceParameters={"SqsQueueParameters": {"BatchSize": 2, "MaximumBatchingWindowInSeconds": 1}})
send(src3_url, ["p", "q"])
wait("the source to empty", lambda: depth(src3_url) == 0)
batches = [json.loads(line) for line in open(record_to)]
assert all(isinstance(b, list) for b in batches), batches
assert sorted(r["body"] for b in batches for r in b) == ["p", "q"], batches

# FIRE_AND_FORGET: the function runs as an event invocation.
src4_url, src4 = queue("in4")
pipes.create_pipe(Name="forget", Source=src4, Target=recorder, RoleArn=role,
    TargetParameters={"LambdaFunctionParameters": {"InvocationType": "FIRE_AND_FORGET"}})
send(src4_url, ["r"])
wait("the event invocation", lambda: len(open(record_to).readlines()) == len(batches) + 1)
assert json.loads(open(record_to).readlines()[-1])[0]["body"] == "r"
print("OK")
"#,
    );
}

#[test]
fn a_pipe_survives_kill_9_and_keeps_delivering() {
    let dir = scratch("pipes-restart");
    let mut server = python_server(&dir);
    run(
        &server,
        r#"
src_url, src = queue("in")
out_url, out = queue("out")
pipes.create_pipe(Name="durable", Source=src, Target=out, RoleArn=role)
idle_url, idle = queue("idle")
pipes.create_pipe(Name="idle", Source=idle, Target=out, RoleArn=role, DesiredState="STOPPED")
send(src_url, ["before"])
assert json.loads(drain(out_url, 1)[0])["body"] == "before"
print("OK")
"#,
    );
    server.kill9();
    let server = python_server(&dir);
    run(
        &server,
        r#"
assert pipes.describe_pipe(Name="durable")["CurrentState"] == "RUNNING"
src_url = sqs.get_queue_url(QueueName="in")["QueueUrl"]
out_url = sqs.get_queue_url(QueueName="out")["QueueUrl"]
idle_url = sqs.get_queue_url(QueueName="idle")["QueueUrl"]
send(idle_url, ["stays"])
send(src_url, ["after"])
assert json.loads(drain(out_url, 1)[0])["body"] == "after"
# A stopped pipe stays stopped.
assert pipes.describe_pipe(Name="idle")["CurrentState"] == "STOPPED"
assert depth(idle_url) == 1
print("OK")
"#,
    );
}

/// The seed's flow: events batched by ten (within a second) into one STANDARD execution each,
/// fired and forgotten, the batch as the execution's input.
#[test]
fn the_seed_batches_run_a_standard_machine_fire_and_forget() {
    let dir = scratch("pipes-seed");
    let server = python_server(&dir);
    run(
        &server,
        r#"
src_url, src = queue("events")
target = machine("per-batch", "STANDARD", {"StartAt": "Count", "States": {"Count": {
    "Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($)"}, "End": True}}})
pipes.create_pipe(Name="seed", Source=src, Target=target, RoleArn=role,
    SourceParameters={"SqsQueueParameters": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 1}},
    TargetParameters={"StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}})
send(src_url, [json.dumps({"event": i}) for i in range(25)])
def inputs():
    executions = sfn.list_executions(stateMachineArn=target)["executions"]
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]
wait("every event in an execution", lambda: sum(len(i) for i in inputs()) == 25, timeout=20)
batches = inputs()
assert all(1 <= len(b) <= 10 for b in batches) and len(batches) >= 3, [len(b) for b in batches]
events = sorted(json.loads(r["body"])["event"] for b in batches for r in b)
assert events == list(range(25)), events
assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == src for b in batches for r in b)
wait("the source to empty", lambda: depth(src_url) == 0)
# The pipe's counters agree.
import urllib.request
counted = [p for p in json.load(urllib.request.urlopen(endpoint + "/sluice/pipes"))["pipes"] if p["name"] == "seed"][0]
assert counted["delivered"] == 25 and counted["batches"] == len(batches) and counted["failedBatches"] == 0, counted
print("OK")
"#,
    );
}

/// A batch the target fails stays in the queue: it comes back after the visibility timeout
/// and reaches the queue's dead-letter queue after `maxReceiveCount`.
#[test]
fn failed_batches_come_back_and_reach_the_dead_letter_queue() {
    let dir = scratch("pipes-failures");
    let server = python_server(&dir);
    run(
        &server,
        r#"
dlq_url, dlq = queue("dlq")
src_url, src = queue("failing", VisibilityTimeout="1",
    RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": "2"}))
broken = function("broken", "def handler(event, context):\n    raise RuntimeError('refused')\n")
pipes.create_pipe(Name="failing", Source=src, Target=broken, RoleArn=role)
send(src_url, ["refused twice"])
assert drain(dlq_url, 1, timeout=20) == ["refused twice"]
assert depth(src_url) == 0
print("OK")
"#,
    );
}

/// Partial batch failures: a function target names the messages it could not take in
/// `batchItemFailures` (by message id) and only those come back (then reach the dead-letter
/// queue); a target queue that refuses one entry of a batch (too large for it) gets the rest
/// once, and only the refused message is retried.
#[test]
fn only_the_failed_messages_of_a_batch_are_retried() {
    let dir = scratch("pipes-partial");
    let server = python_server(&dir);
    run(
        &server,
        r#"
import tempfile
out = os.path.join(tempfile.mkdtemp(), "seen.txt")
dlq_url, dlq = queue("partial-dlq")
redrive = json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": "2"})
src_url, src = queue("partial", VisibilityTimeout="4", RedrivePolicy=redrive)
picky = function("picky", """import json, os
def handler(event, context):
    with open(os.environ['OUT'], 'a') as f:
        for e in event:
            f.write(e['body'] + '\\n')
    return {'batchItemFailures': [{'itemIdentifier': e['messageId']} for e in event if e['body'].startswith('bad')]}
""", {"OUT": out})
pipes.create_pipe(Name="partial", Source=src, Target=picky, RoleArn=role,
    SourceParameters={"SqsQueueParameters": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 1}})
send(src_url, ["good-1", "bad-1", "good-2", "bad-2"])
assert sorted(drain(dlq_url, 2, timeout=30)) == ["bad-1", "bad-2"]
wait("the source queue to empty", lambda: depth(src_url) == 0)
seen = sorted(open(out).read().split())
assert seen == ["bad-1", "bad-1", "bad-2", "bad-2", "good-1", "good-2"], seen

# (The visibility timeout outlasts the batching window and the function's cold start.)
# A target queue that refuses one entry: the other arrives once, the refused one is retried.
small_url, small = queue("small-target", MaximumMessageSize="1024")
src2_url, src2 = queue("partial-to-queue", VisibilityTimeout="4", RedrivePolicy=redrive)
pipes.create_pipe(Name="partial-to-queue", Source=src2, Target=small, RoleArn=role,
    SourceParameters={"SqsQueueParameters": {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 1}})
big = "x" * 2000
send(src2_url, ["fits", big])
assert drain(dlq_url, 1, timeout=30) == [big]
# Without an input template the target gets each source record as JSON.
assert [json.loads(m)["body"] for m in drain(small_url, 1)] == ["fits"]
time.sleep(4.5)
assert depth(small_url) == 0 and depth(src2_url) == 0
print("OK")
"#,
    );
}

/// A Kinesis stream as a pipe's source: the stream mappings' pollers read it (in order per
/// shard, from a durable checkpoint), filters and templates see the record's JSON `data`
/// (implicit body parsing), and each batch runs an EXPRESS state machine; a stopped pipe
/// resumes where it stopped; AWS's rules for the source parameters.
#[test]
fn a_pipe_reads_a_kinesis_stream_into_a_state_machine() {
    let dir = scratch("pipes-stream");
    let server = python_server(&dir);
    run(
        &server,
        r#"
kinesis = client("kinesis")
sfn = client("stepfunctions")
kinesis.create_stream(StreamName="clicks", ShardCount=2)
stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
seen_url, _ = queue("seen")
target = machine("per-batch", "EXPRESS", {"StartAt": "Record", "States": {"Record": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
    "Parameters": {"QueueUrl": seen_url, "MessageBody.$": "$"}, "End": True}}})
code, message, _ = error(pipes.create_pipe, Name="bad", Source=stream, Target=target, RoleArn=role)
assert code == "ValidationException" and "KinesisStreamParameters" in message, message
code, message, _ = error(pipes.create_pipe, Name="bad", Source=stream + "-missing", Target=target, RoleArn=role,
    SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON"}})
assert code == "ValidationException" and "does not exist" in message, message
code, message, _ = error(pipes.create_pipe, Name="bad", Source=stream, Target=target, RoleArn=role,
    SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON"}, "SqsQueueParameters": {"BatchSize": 1}})
assert code == "ValidationException" and "SqsQueueParameters" in message, message

for i in range(6):
    kinesis.put_record(StreamName="clicks", PartitionKey=f"user-{i % 3}", Data=json.dumps({"user": f"u{i % 3}", "n": i, "kind": "click"}).encode())
kinesis.put_record(StreamName="clicks", PartitionKey="user-0", Data=json.dumps({"user": "u0", "kind": "view"}).encode())
kinesis.put_record(StreamName="clicks", PartitionKey="user-1", Data=b"not json")
pipes.create_pipe(Name="clicks", Source=stream, Target=target, RoleArn=role,
    SourceParameters={
        "KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["click"]}})}]}},
    TargetParameters={
        "InputTemplate": '{"user": "<$.data.user>", "n": <$.data.n>, "key": "<$.partitionKey>", "source": "<$.eventSource>"}',
        "StepFunctionStateMachineParameters": {"InvocationType": "REQUEST_RESPONSE"}})
described = pipes.describe_pipe(Name="clicks")
assert described["SourceParameters"]["KinesisStreamParameters"]["BatchSize"] == 10, described
def events():
    # Whatever batches are there now (one may arrive between a depth and a receive).
    out = []
    for m in sqs.receive_message(QueueUrl=seen_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        out.extend(json.loads(m["Body"]))
        sqs.delete_message(QueueUrl=seen_url, ReceiptHandle=m["ReceiptHandle"])
    return out
got = []
wait("six clicks", lambda: got.extend(events()) or len(got) >= 6)
assert len(got) == 6, got
assert all(e["source"] == "aws:kinesis" and e["key"] == "user-" + e["user"][1:] for e in got), got
for user in ["u0", "u1", "u2"]:
    ns = [e["n"] for e in got if e["user"] == user]
    assert ns == sorted(ns) and len(ns) == 2, (user, got)

pipes.stop_pipe(Name="clicks")
wait("the pipe to stop", lambda: pipes.describe_pipe(Name="clicks")["CurrentState"] == "STOPPED")
time.sleep(0.5)
kinesis.put_record(StreamName="clicks", PartitionKey="user-2", Data=json.dumps({"user": "u2", "n": 6, "kind": "click"}).encode())
time.sleep(1)
assert depth(seen_url) == 0
pipes.start_pipe(Name="clicks")
later = []
wait("the click written while stopped", lambda: later.extend(events()) or len(later) >= 1)
assert [e["n"] for e in later] == [6], later
print("OK")
"#,
    );
}
