//! Kinesis data streams on `sluice serve`, through boto3 and the `aws` CLI: shard routing by
//! AWS's hash-key ranges, every iterator type, expiry on the server's clock, AWS's errors,
//! retention and tags, and acknowledged records surviving `kill -9` in order.

use crate::common::*;

/// Clients and helpers every stream script shares.
const PRELUDE: &str = r#"
import base64, hashlib, urllib.request
endpoint = os.environ["ENDPOINT"]
kinesis = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))

# What botocore checks itself, sent anyway.
unchecked = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, parameter_validation=False))

def error(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call} succeeded")

def read_all(stream, shard, kind="TRIM_HORIZON", **more):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType=kind, **more)["ShardIterator"]
    records = []
    while True:
        page = kinesis.get_records(ShardIterator=it, Limit=1000)
        records += page["Records"]
        if not page["Records"]:
            return records, page
        it = page["NextShardIterator"]
"#;

fn run(server: &Server, body: &str) {
    run_boto3(server, &format!("{PRELUDE}{body}"), &[]);
}

#[test]
fn records_go_to_the_shard_that_owns_their_hash_and_read_back_by_every_iterator() {
    let dir = scratch("streams-iterators");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
kinesis.create_stream(StreamName="events", ShardCount=3)
kinesis.get_waiter("stream_exists").wait(StreamName="events", WaiterConfig={"Delay": 0.1})
shards = kinesis.describe_stream(StreamName="events")["StreamDescription"]["Shards"]
assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
# AWS's documented split of the 128-bit space into three.
assert [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in shards] == [
    (0, 2**128 // 3 - 1), (2**128 // 3, 2 * (2**128 // 3) - 1), (2 * (2**128 // 3), 2**128 - 1)]
owner = lambda h: next(s["ShardId"] for s in shards if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"]))

put = kinesis.put_records(StreamName="events", Records=[{"Data": f"r{i}".encode(), "PartitionKey": f"key-{i}"} for i in range(60)])
assert put["FailedRecordCount"] == 0
for i, r in enumerate(put["Records"]):
    assert r["ShardId"] == owner(int(hashlib.md5(f"key-{i}".encode()).hexdigest(), 16)), (i, r)
one = kinesis.put_record(StreamName="events", Data=b"explicit", PartitionKey="any", ExplicitHashKey=str(2**128 - 1))
assert one["ShardId"] == "shardId-000000000002", one

# Per shard: everything in put order with increasing sequence numbers.
by_shard = {}
for i, r in enumerate(put["Records"]):
    by_shard.setdefault(r["ShardId"], []).append((r["SequenceNumber"], f"r{i}".encode()))
by_shard["shardId-000000000002"].append((one["SequenceNumber"], b"explicit"))
for shard, want in by_shard.items():
    got, last = read_all("events", shard)
    assert [(r["SequenceNumber"], r["Data"]) for r in got] == want, shard
    assert [int(r["SequenceNumber"]) for r in got] == sorted(int(r["SequenceNumber"]) for r in got)
    assert last["MillisBehindLatest"] == 0

shard, records = "shardId-000000000000", by_shard["shardId-000000000000"]
seq = [s for s, _ in records]
at, _ = read_all("events", shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq[2])
assert [r["SequenceNumber"] for r in at] == seq[2:]
after, _ = read_all("events", shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seq[2])
assert [r["SequenceNumber"] for r in after] == seq[3:]
latest = kinesis.get_shard_iterator(StreamName="events", ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
assert kinesis.get_records(ShardIterator=latest)["Records"] == []
kinesis.put_record(StreamName="events", Data=b"later", PartitionKey="key-0", ExplicitHashKey="0")
assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == [b"later"]
stamp = kinesis.get_records(ShardIterator=latest)["Records"][0]["ApproximateArrivalTimestamp"]
timed, _ = read_all("events", shard, "AT_TIMESTAMP", Timestamp=stamp)
assert [r["Data"] for r in timed][-1] == b"later" and len(timed) >= 1
# A short limit pages through the shard.
it = kinesis.get_shard_iterator(StreamName="events", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
page = kinesis.get_records(ShardIterator=it, Limit=2)
assert [r["SequenceNumber"] for r in page["Records"]] == seq[:2]
assert page["MillisBehindLatest"] >= 0
page = kinesis.get_records(ShardIterator=page["NextShardIterator"], Limit=2)
assert [r["SequenceNumber"] for r in page["Records"]] == seq[2:4]

# Shard ids as AWS also accepts them, and by ARN.
arn = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamARN"]
assert arn == "arn:aws:kinesis:us-east-1:000000000000:stream/events"
it = kinesis.get_shard_iterator(StreamARN=arn, ShardId="shardId-0", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
assert kinesis.get_records(ShardIterator=it, Limit=1)["Records"][0]["SequenceNumber"] == seq[0]

# Expiry on the server's clock: five minutes.
urllib.request.urlopen(urllib.request.Request(endpoint + "/sluice/clock", data=json.dumps({"advanceSeconds": 301}).encode(), headers={"Content-Type": "application/json"})).read()
code, message = error(kinesis.get_records, ShardIterator=it)
assert code == "ExpiredIteratorException" and message.startswith("Iterator expired. The iterator was created at time ") and message.endswith("which is further in the future than the tolerated delay of 300000 milliseconds."), message
print("OK")
"#,
    );
}

#[test]
fn bad_requests_get_kinesis_errors() {
    let dir = scratch("streams-errors");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
kinesis.create_stream(StreamName="s", ShardCount=2)
assert error(kinesis.create_stream, StreamName="s", ShardCount=1) == ("ResourceInUseException", "Stream s under account 000000000000 already exists.")
assert error(kinesis.describe_stream, StreamName="nope") == ("ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
assert error(kinesis.put_record, StreamName="nope", Data=b"x", PartitionKey="k")[0] == "ResourceNotFoundException"
assert error(kinesis.get_records, ShardIterator="forged") == ("InvalidArgumentException", "Invalid ShardIterator.")
it = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="LATEST")["ShardIterator"]
forged = it[:-2] + ("AA" if it[-2:] != "AA" else "BB")
assert error(kinesis.get_records, ShardIterator=forged) == ("InvalidArgumentException", "Invalid ShardIterator.")
assert error(kinesis.get_shard_iterator, StreamName="s", ShardId="shardId-000000000009", ShardIteratorType="LATEST") == (
    "ResourceNotFoundException", "Shard shardId-000000000009 in stream s under account 000000000000 does not exist")
code, message = error(kinesis.get_shard_iterator, StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER")
assert code == "InvalidArgumentException", message
other = kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128 - 1))
assert other["ShardId"] == "shardId-000000000001"
code, message = error(kinesis.get_shard_iterator, StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=other["SequenceNumber"])
assert (code, message) == ("InvalidArgumentException", "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000"), message
code, message = error(kinesis.put_record, StreamName="s", Data=b"x", PartitionKey="k", ExplicitHashKey="340282366920938463463374607431768211456")
assert code == "InvalidArgumentException" and "ExplicitHashKey" in message, message
code, message = error(kinesis.put_record, StreamName="s", Data=b"x" * (1024 * 1024), PartitionKey="k")
assert code == "InvalidArgumentException", (code, message)
code, message = error(unchecked.put_records, StreamName="s", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
assert code == "ValidationException" and "Member must have length less than or equal to 500" in message, message
code, message = error(unchecked.put_record, StreamName="s", Data=b"x", PartitionKey="")
assert code == "ValidationException" and "partitionKey" in message, message
code, message = error(unchecked.create_stream, StreamName="bad name!", ShardCount=1)
assert code == "ValidationException" and "streamName" in message, message
code, message = error(kinesis.get_shard_iterator, StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="SIDEWAYS")
assert code == "ValidationException" and "shardIteratorType" in message, message

# Retention: within 24..8760 hours, increases only up, decreases only down.
assert kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24
kinesis.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
assert error(kinesis.increase_stream_retention_period, StreamName="s", RetentionPeriodHours=30)[0] == "InvalidArgumentException"
assert error(kinesis.decrease_stream_retention_period, StreamName="s", RetentionPeriodHours=72)[0] == "InvalidArgumentException"
assert error(kinesis.increase_stream_retention_period, StreamName="s", RetentionPeriodHours=9000)[0] == "InvalidArgumentException"
kinesis.decrease_stream_retention_period(StreamName="s", RetentionPeriodHours=24)
assert kinesis.describe_stream(StreamName="s")["StreamDescription"]["RetentionPeriodHours"] == 24

# Tags, both APIs.
kinesis.add_tags_to_stream(StreamName="s", Tags={"team": "sec", "env": "dev"})
assert kinesis.list_tags_for_stream(StreamName="s")["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "sec"}]
arn = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
kinesis.untag_resource(ResourceARN=arn, TagKeys=["env"])
assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "sec"}]
assert error(kinesis.add_tags_to_stream, StreamName="s", Tags={f"k{i}": "v" for i in range(50)})[0] == "InvalidArgumentException"

# Listing, paged.
for name in ["a", "b", "c"]:
    kinesis.create_stream(StreamName=name, ShardCount=1)
first = kinesis.list_streams(Limit=2)
assert first["StreamNames"] == ["a", "b"] and first["HasMoreStreams"], first
rest = kinesis.list_streams(NextToken=first["NextToken"])
assert rest["StreamNames"] == ["c", "s"] and not rest["HasMoreStreams"], rest
page = kinesis.list_shards(StreamName="s", MaxResults=1)
assert [x["ShardId"] for x in page["Shards"]] == ["shardId-000000000000"]
assert [x["ShardId"] for x in kinesis.list_shards(NextToken=page["NextToken"])["Shards"]] == ["shardId-000000000001"]

# Deleted: gone, and its records with it.
kinesis.delete_stream(StreamName="s")
assert error(kinesis.describe_stream, StreamName="s")[0] == "ResourceNotFoundException"
kinesis.create_stream(StreamName="s", ShardCount=2)
it = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000001", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
assert kinesis.get_records(ShardIterator=it)["Records"] == []
print("OK")
"#,
    );
    // The CLI (version 1 sends `--data` as the record's bytes).
    let put = sluice_test_util::aws_cli(
        &server.endpoint(),
        "kinesis",
        &[
            "put-record",
            "--stream-name",
            "a",
            "--partition-key",
            "k",
            "--data",
            "hello from the cli",
        ],
    );
    let put = ok_json(&put);
    assert_eq!(put["ShardId"], "shardId-000000000000");
    let missing = sluice_test_util::aws_cli(
        &server.endpoint(),
        "kinesis",
        &["describe-stream", "--stream-name", "missing"],
    );
    assert_cli_error(
        &missing,
        "ResourceNotFoundException",
        "DescribeStream",
        "Stream missing under account 000000000000 not found.",
    );
}

/// Producers put records while the server is killed at random points; after each restart
/// every acknowledged record is there, once, in sequence order per shard, and new records
/// follow the old ones.
#[test]
fn acknowledged_records_survive_kill_9_in_order() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = scratch("streams-crash");
    let mut server = Server::start(&dir, &[]);
    run(
        &server,
        r#"kinesis.create_stream(StreamName="durable", ShardCount=2)
print("OK")"#,
    );
    let producer = r#"
import sys
stream = "durable"
i = 0
while True:
    entries = [{"Data": f"{sys.argv[1]}-{i + j}".encode(), "PartitionKey": f"p{(i + j) % 7}"} for j in range(5)]
    try:
        put = kinesis.put_records(StreamName=stream, Records=entries)
    except Exception:
        break
    for e, r in zip(entries, put["Records"]):
        print(r["ShardId"], r["SequenceNumber"], e["Data"].decode(), flush=True)
    i += 5
"#;
    let script = dir.join("producer.py");
    std::fs::write(&script, format!("{BOTO3_PRELUDE}{PRELUDE}{producer}")).unwrap();
    let mut acknowledged: Vec<(String, String, String)> = Vec::new();
    for round in 0..3 {
        let mut command = Command::new(venv().join("bin/python"));
        sluice_test_util::client_env(&mut command)
            .arg(&script)
            .arg(format!("round{round}"))
            .env("ENDPOINT", server.endpoint())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, acked) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut parts = line.splitn(3, ' ');
                if let (Some(shard), Some(seq), Some(data)) =
                    (parts.next(), parts.next(), parts.next())
                    && lines
                        .send((shard.to_owned(), seq.to_owned(), data.to_owned()))
                        .is_err()
                {
                    break;
                }
            }
        });
        // Kill at a random point once the producer is under way.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut this_round = 0;
        while this_round < 20 && std::time::Instant::now() < deadline {
            if let Ok(line) = acked.recv_timeout(Duration::from_millis(100)) {
                acknowledged.push(line);
                this_round += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..600)));
        server.kill9();
        let _ = child.wait();
        reader.join().unwrap();
        acknowledged.extend(acked.try_iter());
        server = Server::start(&dir, &[]);
    }
    assert!(
        acknowledged.len() > 50,
        "too few records acknowledged: {}",
        acknowledged.len()
    );
    let expected = serde_json::to_string(&acknowledged).unwrap();
    let check = format!(
        r#"
acknowledged = json.loads({expected:?})
found = {{}}
for shard in ["shardId-000000000000", "shardId-000000000001"]:
    records, _ = read_all("durable", shard)
    seqs = [int(r["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), shard
    for r in records:
        found[r["SequenceNumber"]] = (shard, r["Data"].decode())
lost = [a for a in acknowledged if found.get(a[1]) != (a[0], a[2])]
assert lost == [], lost[:5]
datas = [d for _, d in found.values()]
assert len(datas) == len(set(datas)), "a record twice"
newest = max(int(a[1]) for a in acknowledged)
later = kinesis.put_record(StreamName="durable", Data=b"after", PartitionKey="p1")
assert int(later["SequenceNumber"]) > newest
print("acknowledged", len(acknowledged), "stored", len(found), file=sys.stderr)
print("OK")
"#
    );
    run(&server, &check);
}

fn python_server(dir: &std::path::Path) -> Server {
    let python = venv().join("bin/python").display().to_string();
    Server::start(dir, &["--python", &python])
}

/// Runs `body` after the stream and mapping preludes against a new server that runs Python
/// functions, with `out` a file of its scratch directory.
fn run_with_functions(name: &str, body: &str) {
    let dir = scratch(name);
    let server = python_server(&dir);
    let out = dir.join("delivered.jsonl").display().to_string();
    run_boto3(
        &server,
        &format!("{PRELUDE}{MAPPING_PRELUDE}out = os.environ[\"OUT\"]\n{body}"),
        &[("OUT", &out)],
    );
}

const MAPPING_PRELUDE: &str = r#"
import io, tempfile, zipfile
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                   aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
def function(name, source, env={}):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("f.py", source)
    return lam.create_function(FunctionName=name, Runtime="python3.12", Handler="f.handler",
        Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()},
        Environment={"Variables": env})["FunctionArn"]
RECORDER = """import base64, json, os
def handler(event, context):
    with open(os.environ['OUT'], 'a') as f:
        for r in event['Records']:
            f.write(json.dumps({'shard': r['eventID'].split(':')[0], 'seq': r['kinesis']['sequenceNumber'],
                'data': base64.b64decode(r['kinesis']['data']).decode(), 'source': r['eventSource'],
                'arn': r['eventSourceARN'], 'key': r['kinesis']['partitionKey']}) + '\\n')
"""
def delivered(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []
def wait_for(what, done, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
"#;

/// A stream → function mapping delivers every record once, in order per shard, as soon as it
/// is written; after `kill -9` it resumes from its checkpoint without skipping a record.
#[test]
fn a_stream_mapping_delivers_in_order_and_resumes_after_kill_9() {
    let dir = scratch("streams-mapping");
    let mut server = python_server(&dir);
    let out = dir.join("delivered.jsonl").display().to_string();
    let script = |body: &str| format!("{PRELUDE}{MAPPING_PRELUDE}{body}");
    run_boto3(
        &server,
        &script(
            r#"
out = os.environ["OUT"]
kinesis.create_stream(StreamName="detections", ShardCount=2)
arn = kinesis.describe_stream_summary(StreamName="detections")["StreamDescriptionSummary"]["StreamARN"]
# Written before the mapping: TRIM_HORIZON delivers them too.
kinesis.put_records(StreamName="detections", Records=[{"Data": f"early-{i}".encode(), "PartitionKey": f"host-{i % 4}"} for i in range(10)])
function("recorder", RECORDER, {"OUT": out})
m = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=10)
assert m["StartingPosition"] == "TRIM_HORIZON" and m["BatchSize"] == 10 and m["MaximumRetryAttempts"] == -1, m
for i in range(30):
    kinesis.put_record(StreamName="detections", Data=f"live-{i}".encode(), PartitionKey=f"host-{i % 4}")
wait_for("40 records", lambda: len(delivered(out)) >= 40)
got = delivered(out)
assert len(got) == 40 and len({g["seq"] for g in got}) == 40, len(got)
assert all(g["source"] == "aws:kinesis" and g["arn"] == arn for g in got)
for shard in {g["shard"] for g in got}:
    seqs = [int(g["seq"]) for g in got if g["shard"] == shard]
    assert seqs == sorted(seqs), shard
for host in range(4):
    datas = [g["data"] for g in got if g["key"] == f"host-{host}"]
    assert datas == [f"early-{i}" for i in range(10) if i % 4 == host] + [f"live-{i}" for i in range(30) if i % 4 == host], datas
# Window 0: a record written now reaches the function within a fraction of a second.
start = time.time()
kinesis.put_record(StreamName="detections", Data=b"timed", PartitionKey="host-0")
wait_for("the timed record", lambda: any(g["data"] == "timed" for g in delivered(out)), timeout=5)
print("latency", time.time() - start, file=sys.stderr)
print("OK")
"#,
        ),
        &[("OUT", &out)],
    );
    server.kill9();
    server = python_server(&dir);
    run_boto3(
        &server,
        &script(
            r#"
out = os.environ["OUT"]
for i in range(10):
    kinesis.put_record(StreamName="detections", Data=f"after-{i}".encode(), PartitionKey=f"host-{i % 4}")
wait_for("the records after the restart", lambda: sum(g["data"].startswith("after-") for g in delivered(out)) >= 10)
got = delivered(out)
datas = [g["data"] for g in got]
for want in [f"early-{i}" for i in range(10)] + [f"live-{i}" for i in range(30)] + ["timed"] + [f"after-{i}" for i in range(10)]:
    assert want in datas, want
print("redelivered", len(datas) - len(set(datas)), file=sys.stderr)
print("OK")
"#,
        ),
        &[("OUT", &out)],
    );
}

/// A poison record: the function fails any batch holding it. With bisection the batch is
/// halved until the record is alone; after its retries it is skipped (its record goes to the
/// on-failure queue), and everything around it is delivered.
#[test]
fn bisection_isolates_a_poison_record_and_retries_end() {
    run_with_functions(
        "streams-poison",
        r#"
kinesis.create_stream(StreamName="mixed", ShardCount=1)
arn = kinesis.describe_stream_summary(StreamName="mixed")["StreamDescriptionSummary"]["StreamARN"]
function("picky", """import base64, json, os
def handler(event, context):
    datas = [base64.b64decode(r['kinesis']['data']).decode() for r in event['Records']]
    if 'poison' in datas:
        raise RuntimeError('poison')
    with open(os.environ['OUT'], 'a') as f:
        for d in datas:
            f.write(json.dumps({'data': d}) + '\\n')
""", {"OUT": out})
put = kinesis.put_records(StreamName="mixed", Records=[{"Data": d.encode(), "PartitionKey": "k"} for d in ["a", "b", "poison", "c", "d", "e"]])
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
failures = sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
failures_arn = sqs.get_queue_attributes(QueueUrl=failures, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
code, message = error(lam.create_event_source_mapping, FunctionName="picky", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
    DestinationConfig={"OnFailure": {"Destination": failures_arn + "-missing"}})
assert code == "InvalidParameterValueException", (code, message)
m = lam.create_event_source_mapping(FunctionName="picky", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
    BatchSize=10, BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
    DestinationConfig={"OnFailure": {"Destination": failures_arn}})
assert m["DestinationConfig"]["OnFailure"]["Destination"] == failures_arn, m
wait_for("everything but the poison", lambda: [g["data"] for g in delivered(out)][-3:] == ["c", "d", "e"])
assert [g["data"] for g in delivered(out)] == ["a", "b", "c", "d", "e"], delivered(out)
# The poison's record, as AWS sends it to an on-failure destination.
got = sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=5)["Messages"]
record = json.loads(got[0]["Body"])
assert record["requestContext"]["condition"] == "RetryAttemptsExhausted" and record["requestContext"]["approximateInvokeCount"] == 3, record
assert record["requestContext"]["functionArn"].endswith(":function:picky"), record
info = record["KinesisBatchInfo"]
poison = put["Records"][2]["SequenceNumber"]
assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"], info["streamArn"]) == (
    "shardId-000000000000", poison, poison, 1, arn), info
print("OK")
"#,
    );
}

/// State machines write to streams through `aws-sdk:kinesis:*` in process; Kinesis's errors
/// arrive as `Kinesis.<Code>`.
#[test]
fn state_machines_put_records_through_the_sdk_integration() {
    let dir = scratch("streams-sdk");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                   aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
kinesis.create_stream(StreamName="audit", ShardCount=1)
definition = {"StartAt": "Put", "States": {
    "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:kinesis:putRecord",
            "Parameters": {"StreamName": "audit", "Data.$": "States.Base64Encode($.event)", "PartitionKey.$": "$.host"},
            "ResultPath": "$.put", "Next": "Missing"},
    "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:kinesis:putRecord",
                "Parameters": {"StreamName": "nope", "Data": "eA==", "PartitionKey": "k"},
                "Catch": [{"ErrorEquals": ["Kinesis.ResourceNotFoundException"], "ResultPath": "$.caught", "Next": "Done"}],
                "Next": "Done"},
    "Done": {"Type": "Pass", "End": True}}}
machine = sfn.create_state_machine(name="audit-writer", definition=json.dumps(definition), roleArn=role, type="EXPRESS")["stateMachineArn"]
result = sfn.start_sync_execution(stateMachineArn=machine, input=json.dumps({"event": "login failed", "host": "web-1"}))
assert result["status"] == "SUCCEEDED", result
output = json.loads(result["output"])
assert output["put"]["ShardId"] == "shardId-000000000000", output
assert "Stream nope under account 000000000000 not found." in output["caught"]["Cause"], output
records, _ = read_all("audit", "shardId-000000000000")
assert [(r["Data"], r["PartitionKey"], r["SequenceNumber"]) for r in records] == [(b"login failed", "web-1", output["put"]["SequenceNumber"])]
print("OK")
"#,
    );
}

/// Resharding: a split closes its parent after the records it holds (read to its end, then
/// no next iterator and the children named), a merge joins adjacent shards, UpdateShardCount
/// reopens the space evenly; new records go to the open shards only.
#[test]
fn splits_and_merges_keep_lineage_and_close_parents() {
    let dir = scratch("streams-reshard");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
kinesis.create_stream(StreamName="grow", ShardCount=1)
before = [kinesis.put_record(StreamName="grow", Data=f"old-{i}".encode(), PartitionKey=f"k{i}")["SequenceNumber"] for i in range(5)]
kinesis.split_shard(StreamName="grow", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
shards = {s["ShardId"]: s for s in kinesis.describe_stream(StreamName="grow")["StreamDescription"]["Shards"]}
assert set(shards) == {"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}, shards
assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
assert shards["shardId-000000000001"]["ParentShardId"] == "shardId-000000000000"
assert shards["shardId-000000000001"]["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**127 - 1)}
assert shards["shardId-000000000002"]["HashKeyRange"] == {"StartingHashKey": str(2**127), "EndingHashKey": str(2**128 - 1)}
low = kinesis.put_record(StreamName="grow", Data=b"low", PartitionKey="x", ExplicitHashKey="0")
high = kinesis.put_record(StreamName="grow", Data=b"high", PartitionKey="x", ExplicitHashKey=str(2**128 - 1))
assert (low["ShardId"], high["ShardId"]) == ("shardId-000000000001", "shardId-000000000002")
assert int(low["SequenceNumber"]) > max(int(s) for s in before)

# The parent: its records, then the end, with its children.
it = kinesis.get_shard_iterator(StreamName="grow", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
pages = []
while it:
    page = kinesis.get_records(ShardIterator=it)
    pages.append(page)
    it = page.get("NextShardIterator")
    assert len(pages) < 10, pages
assert [r["SequenceNumber"] for p in pages for r in p["Records"]] == before
assert sorted(c["ShardId"] for c in pages[-1]["ChildShards"]) == ["shardId-000000000001", "shardId-000000000002"]
assert pages[-1]["ChildShards"][0]["ParentShards"] == ["shardId-000000000000"]

code, message = error(kinesis.split_shard, StreamName="grow", ShardToSplit="shardId-000000000000", NewStartingHashKey="5")
assert code == "InvalidArgumentException" and "has already been merged or split" in message, message
code, message = error(kinesis.split_shard, StreamName="grow", ShardToSplit="shardId-000000000001", NewStartingHashKey=str(2**127))
assert code == "InvalidArgumentException" and "NewStartingHashKey" in message, message

kinesis.merge_shards(StreamName="grow", ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
merged = kinesis.list_shards(StreamName="grow", ShardFilter={"Type": "AT_LATEST"})["Shards"]
assert [(s["ShardId"], s["ParentShardId"], s["AdjacentParentShardId"]) for s in merged] == [("shardId-000000000003", "shardId-000000000001", "shardId-000000000002")], merged
assert kinesis.put_record(StreamName="grow", Data=b"m", PartitionKey="x")["ShardId"] == "shardId-000000000003"

answer = kinesis.update_shard_count(StreamName="grow", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (1, 2), answer
open_shards = kinesis.list_shards(StreamName="grow", ShardFilter={"Type": "AT_LATEST"})["Shards"]
assert [s["ShardId"] for s in open_shards] == ["shardId-000000000004", "shardId-000000000005"], open_shards
assert kinesis.describe_stream_summary(StreamName="grow")["StreamDescriptionSummary"]["OpenShardCount"] == 2
assert error(kinesis.update_shard_count, StreamName="grow", TargetShardCount=5, ScalingType="UNIFORM_SCALING")[0] == "InvalidArgumentException"
kinesis.create_stream(StreamName="pair", ShardCount=3)
code, message = error(kinesis.merge_shards, StreamName="pair", ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000002")
assert code == "InvalidArgumentException" and "not an adjacent pair" in message, message
print("OK")
"#,
    );
}

/// ParallelizationFactor: several pollers per shard, concurrent, each partition key's records
/// still in order and every record delivered once.
#[test]
fn parallel_pollers_keep_each_partition_key_in_order() {
    run_with_functions(
        "streams-parallel",
        r#"
kinesis.create_stream(StreamName="wide", ShardCount=1)
arn = kinesis.describe_stream_summary(StreamName="wide")["StreamDescriptionSummary"]["StreamARN"]
function("recorder", RECORDER, {"OUT": out})
lam.put_function_concurrency(FunctionName="recorder", ReservedConcurrentExecutions=4)
m = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
    BatchSize=5, ParallelizationFactor=4)
assert m["ParallelizationFactor"] == 4, m
for i in range(0, 200, 50):
    kinesis.put_records(StreamName="wide", Records=[{"Data": f"{j}".encode(), "PartitionKey": f"key-{j % 16}"} for j in range(i, i + 50)])
wait_for("200 records", lambda: len(delivered(out)) >= 200)
got = delivered(out)
assert sorted(int(g["data"]) for g in got) == list(range(200)), len(got)
for k in range(16):
    datas = [int(g["data"]) for g in got if g["key"] == f"key-{k}"]
    assert datas == sorted(datas), (k, datas)
stats = json.loads(urllib.request.urlopen(endpoint + "/sluice/mappings").read())
mine = [s for s in stats["mappings"] if s["uuid"] == m["UUID"]][0]
assert mine["peakPollers"] == 4, mine
print("OK")
"#,
    );
}

/// After a split the mapping reads the parent to its end, then its children from their
/// beginning: every record once, each partition key in order across the split.
#[test]
fn a_mapping_follows_a_split_parents_before_children() {
    run_with_functions(
        "streams-mapping-split",
        r#"
kinesis.create_stream(StreamName="split", ShardCount=1)
arn = kinesis.describe_stream_summary(StreamName="split")["StreamDescriptionSummary"]["StreamARN"]
function("recorder", RECORDER, {"OUT": out})
lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=7)
kinesis.put_records(StreamName="split", Records=[{"Data": f"{j}".encode(), "PartitionKey": f"key-{j % 8}"} for j in range(40)])
kinesis.split_shard(StreamName="split", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
kinesis.put_records(StreamName="split", Records=[{"Data": f"{j}".encode(), "PartitionKey": f"key-{j % 8}"} for j in range(40, 80)])
wait_for("80 records", lambda: len(delivered(out)) >= 80)
got = delivered(out)
assert sorted(int(g["data"]) for g in got) == list(range(80)), sorted(int(g["data"]) for g in got)
assert {g["shard"] for g in got if int(g["data"]) >= 40} <= {"shardId-000000000001", "shardId-000000000002"}
for k in range(8):
    datas = [int(g["data"]) for g in got if g["key"] == f"key-{k}"]
    assert datas == sorted(datas), (k, datas)
print("OK")
"#,
    );
}

/// A handler keeping windowed counts per partition key in its tumbling window's state, as the
/// email seed's history counts: it writes each invocation (and each window's final state) to
/// `OUT`.
const WINDOW_COUNTER: &str = r#"
out = os.environ["OUT"]
COUNTER = """import json, os
def handler(event, context):
    state = dict(event['state'])
    line = {'window': event['window'], 'final': event['isFinalInvokeForWindow'], 'early': event['isWindowTerminatedEarly'],
            'n': len(event['Records']), 'shard': event['shardId'], 'arn': event['eventSourceARN'], 'state': dict(state)}
    for r in event['Records']:
        state[r['kinesis']['partitionKey']] = state.get(r['kinesis']['partitionKey'], 0) + 1
    with open(os.environ['OUT'], 'a') as f:
        f.write(json.dumps(line) + '\\n')
    return {'state': state}
"""
def finals():
    return [g for g in delivered(out) if g["final"]]
def counted():
    # Every record counted once: the last state of each window plus its last batch.
    last = {}
    for g in delivered(out):
        if not g["final"]:
            last[g["window"]["start"]] = g
    return sum(sum(g["state"].values()) + g["n"] for g in last.values())
"#;

/// Tumbling windows: a function's state is carried from one batch to the next within a
/// window (kept with the checkpoint, so `kill -9` neither loses nor double-counts it), and a
/// final invocation per window hands over the window's totals once its time has passed.
#[test]
fn tumbling_windows_carry_state_across_batches_and_restarts() {
    let dir = scratch("streams-windows");
    let mut server = python_server(&dir);
    let out = dir.join("windows.jsonl").display().to_string();
    let script = |body: &str| format!("{PRELUDE}{MAPPING_PRELUDE}{WINDOW_COUNTER}{body}");
    run_boto3(
        &server,
        &script(
            r#"
# Windows are 15 minutes from the epoch: keep this test inside one.
left = 900 - time.time() % 900
if left < 15:
    time.sleep(left + 1)
function("counter", COUNTER, {"OUT": out})
kinesis.create_stream(StreamName="clicks", ShardCount=1)
arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
code, message = error(lam.create_event_source_mapping, FunctionName="counter", EventSourceArn=arn,
    StartingPosition="TRIM_HORIZON", TumblingWindowInSeconds=901)
assert code == "ValidationException" or code == "InvalidParameterValueException", (code, message)
m = lam.create_event_source_mapping(FunctionName="counter", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
    BatchSize=3, TumblingWindowInSeconds=900)
assert m["TumblingWindowInSeconds"] == 900, m
for i in range(7):
    kinesis.put_record(StreamName="clicks", Data=b"x", PartitionKey="alice" if i % 3 else "bob")
wait_for("7 records counted", lambda: counted() == 7)
got = delivered(out)
assert all(g["n"] <= 3 and g["shard"] == "shardId-000000000000" and g["arn"] == arn and not g["early"] for g in got), got
w = got[0]["window"]
start = datetime.datetime.fromisoformat(w["start"].replace("Z", "+00:00"))
end = datetime.datetime.fromisoformat(w["end"].replace("Z", "+00:00"))
assert (end - start).total_seconds() == 900 and start.timestamp() % 900 == 0, w
# The first batch of a window starts from an empty state.
assert got[0]["state"] == {}, got[0]
print("OK")
"#,
        ),
        &[("OUT", &out)],
    );
    server.kill9();
    server = python_server(&dir);
    run_boto3(
        &server,
        &script(
            r#"
for i in range(3):
    kinesis.put_record(StreamName="clicks", Data=b"x", PartitionKey="carol")
wait_for("10 records counted", lambda: counted() == 10)
assert not finals(), finals()
print("OK")
"#,
        ),
        &[("OUT", &out)],
    );
    // Past every window so far: each gets its final invocation with its totals.
    advance_clock(server.port, 1800);
    run_boto3(
        &server,
        &script(
            r#"
wait_for("the final invocations", lambda: sum(sum(g["state"].values()) for g in finals()) == 10)
totals = {}
for g in finals():
    assert g["n"] == 0 and not g["early"], g
    for k, v in g["state"].items():
        totals[k] = totals.get(k, 0) + v
assert totals == {"alice": 4, "bob": 3, "carol": 3}, totals
# A record now opens a new window with a fresh state.
before = len(finals())
kinesis.put_record(StreamName="clicks", Data=b"x", PartitionKey="dave")
wait_for("the new window", lambda: counted() >= 11 and any(g["state"] == {} and g["n"] == 1 for g in delivered(out)[-1:]))
print("OK")
"#,
        ),
        &[("OUT", &out)],
    );
    advance_clock(server.port, 900);
    run_boto3(
        &server,
        &script(
            r#"
wait_for("the new window's final invocation", lambda: any(g["state"] == {"dave": 1} for g in finals()))
print("OK")
"#,
        ),
        &[("OUT", &out)],
    );
}

/// `FilterCriteria` on a stream mapping: patterns see the record's `kinesis` members with its
/// JSON `data` parsed; what no pattern matches is passed over (and the checkpoint moves past it).
#[test]
fn stream_mapping_filters_see_the_records_json_data() {
    run_with_functions(
        "streams-filters",
        r#"
kinesis.create_stream(StreamName="alerts", ShardCount=1)
arn = kinesis.describe_stream_summary(StreamName="alerts")["StreamDescriptionSummary"]["StreamARN"]
function("recorder", RECORDER, {"OUT": out})
lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
    FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"severity": ["high"]}})},
                                {"Pattern": json.dumps({"partitionKey": ["vip"]})}]})
sent = [("a", {"severity": "low"}), ("b", {"severity": "high"}), ("vip", {"severity": "low"}),
        ("c", "not json"), ("d", {"severity": "high", "n": 2})]
for key, data in sent:
    kinesis.put_record(StreamName="alerts", PartitionKey=key, Data=(json.dumps(data) if isinstance(data, dict) else data).encode())
kinesis.put_record(StreamName="alerts", PartitionKey="z", Data=json.dumps({"severity": "high", "last": True}).encode())
wait_for("the last match", lambda: any("last" in g["data"] for g in delivered(out)))
assert [g["key"] for g in delivered(out)] == ["b", "vip", "d", "z"], delivered(out)
print("OK")
"#,
    );
}

/// The control plane around a stream: enhanced fan-out consumers (and a mapping reading
/// through one), server-side encryption, enhanced monitoring, the stream's mode and record
/// size, resource policies, the account's limits.
#[test]
fn consumers_encryption_monitoring_and_policies() {
    run_with_functions(
        "streams-control",
        r#"
kinesis.create_stream(StreamName="fan", ShardCount=2)
arn = kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["StreamARN"]

c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="audit")["Consumer"]
assert c["ConsumerName"] == "audit" and c["ConsumerARN"].startswith(arn + "/consumer/audit:") and c["ConsumerStatus"] == "CREATING", c
code, _ = error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="audit")
assert code == "ResourceInUseException", code
kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="search")
d = kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]
assert d["ConsumerStatus"] == "ACTIVE" and d["StreamARN"] == arn and d["ConsumerName"] == "audit", d
assert kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="search")["ConsumerDescription"]["ConsumerName"] == "search"
code, _ = error(unchecked.describe_stream_consumer, StreamARN=arn)
assert code == "InvalidArgumentException", code
code, _ = error(kinesis.describe_stream_consumer, StreamARN=arn, ConsumerName="nobody")
assert code == "ResourceNotFoundException", code
page = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=1)
assert [x["ConsumerName"] for x in page["Consumers"]] == ["audit"] and page["NextToken"], page
rest = kinesis.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"])
assert [x["ConsumerName"] for x in rest["Consumers"]] == ["search"] and "NextToken" not in rest, rest
assert kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["ConsumerCount"] == 2
kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="search")
assert [x["ConsumerName"] for x in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["audit"]

# A mapping on the consumer (enhanced fan-out) gets the stream's records, named by the stream.
function("recorder", RECORDER, {"OUT": out})
m = lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=c["ConsumerARN"], StartingPosition="LATEST")
assert m["EventSourceArn"] == c["ConsumerARN"], m
code, _ = error(lam.create_event_source_mapping, FunctionName="recorder", EventSourceArn=arn + "/consumer/gone:1", StartingPosition="LATEST")
assert code == "InvalidParameterValueException", code
time.sleep(0.5)
kinesis.put_record(StreamName="fan", Data=b"fanned", PartitionKey="k")
wait_for("the fanned record", lambda: len(delivered(out)) == 1)
assert delivered(out)[0]["arn"] == arn and delivered(out)[0]["data"] == "fanned", delivered(out)

# Encryption at rest, as the stream and its puts report it.
kinesis.start_stream_encryption(StreamName="fan", EncryptionType="KMS", KeyId="alias/aws/kinesis")
s = kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]
assert s["EncryptionType"] == "KMS" and s["KeyId"] == "alias/aws/kinesis", s
assert kinesis.put_record(StreamName="fan", Data=b"x", PartitionKey="k")["EncryptionType"] == "KMS"
kinesis.stop_stream_encryption(StreamName="fan", EncryptionType="KMS", KeyId="alias/aws/kinesis")
assert kinesis.describe_stream(StreamName="fan")["StreamDescription"]["EncryptionType"] == "NONE"

# Enhanced monitoring: the metrics before and after.
r = kinesis.enable_enhanced_monitoring(StreamName="fan", ShardLevelMetrics=["IncomingBytes"])
assert r["CurrentShardLevelMetrics"] == [] and r["DesiredShardLevelMetrics"] == ["IncomingBytes"], r
r = kinesis.enable_enhanced_monitoring(StreamName="fan", ShardLevelMetrics=["ALL"])
assert len(r["DesiredShardLevelMetrics"]) == 7 and "ALL" not in r["DesiredShardLevelMetrics"], r
r = kinesis.disable_enhanced_monitoring(StreamName="fan", ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"])
assert "IncomingBytes" not in r["DesiredShardLevelMetrics"] and len(r["DesiredShardLevelMetrics"]) == 5, r
assert kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["EnhancedMonitoring"][0]["ShardLevelMetrics"] == r["DesiredShardLevelMetrics"]

# Mode and record size.
kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
assert kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
code, _ = error(kinesis.update_stream_mode, StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
assert code == "InvalidArgumentException", code
limits = kinesis.describe_limits()
assert limits["OpenShardCount"] == 2 and limits["OnDemandStreamCount"] == 1 and limits["ShardLimit"] > 0, limits
kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
assert kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["MaxRecordSizeInKiB"] == 2048
kinesis.put_record(StreamName="fan", Data=b"x" * (1536 * 1024), PartitionKey="k")

# Resource policies on the stream and on a consumer.
policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kinesis:GetRecords", "Resource": arn}]})
kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == json.loads(policy)
kinesis.put_resource_policy(ResourceARN=c["ConsumerARN"], Policy=policy)
kinesis.delete_resource_policy(ResourceARN=arn)
assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
assert json.loads(kinesis.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"]) == json.loads(policy)
code, _ = error(kinesis.put_resource_policy, ResourceARN=arn, Policy="not json")
assert code == "InvalidArgumentException", code
print("OK")
"#,
    );
}

/// With `streams.throughput-limits`, a shard takes 1,000 records a second and five
/// GetRecords calls a second, as AWS's shards; past that PutRecords fails the records it has
/// no room for (and only those), PutRecord and GetRecords fail whole. Off by default.
#[test]
fn throughput_limits_throttle_per_shard_when_enabled() {
    let dir = scratch("streams-throughput");
    let server =
        Server::start_with_env(&dir, &[], &[("SLUICE__STREAMS__THROUGHPUT_LIMITS", "true")]);
    run(
        &server,
        r#"
kinesis.create_stream(StreamName="narrow", ShardCount=1)
# botocore retries throttling errors unless told to make one attempt in all.
once = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                    aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
start, results, counted = time.time(), [], 0
put = kinesis.put_records(StreamName="narrow", Records=[{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(500)])
assert put["FailedRecordCount"] == 0, put["FailedRecordCount"]
for _ in range(50):
    put = kinesis.put_records(StreamName="narrow", Records=[{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(500)])
    results += put["Records"]
    counted += put["FailedRecordCount"]
    if put["FailedRecordCount"]:
        break
elapsed = time.time() - start
failed = [r for r in results if "ErrorCode" in r]
accepted = 500 + len(results) - len(failed)
# A thousand a second (and a second's burst): the rest is refused, record by record.
assert failed and counted == len(failed), counted
assert accepted <= 1000 + 1000 * elapsed + 1, (accepted, elapsed)
assert all(r["ErrorCode"] == "ProvisionedThroughputExceededException" and "SequenceNumber" not in r for r in failed), failed[0]
assert failed[0]["ErrorMessage"] == "Rate exceeded for shard shardId-000000000000 in stream narrow under account 000000000000.", failed[0]
# A mebibyte a second: a second large record right after the first is refused whole.
time.sleep(1.1)
kinesis.put_record(StreamName="narrow", Data=b"x" * 1_000_000, PartitionKey="k")
code, message = error(once.put_record, StreamName="narrow", Data=b"x" * 1_000_000, PartitionKey="k")
assert code == "ProvisionedThroughputExceededException", (code, message)
# Only the accepted records were written.
shard = "shardId-000000000000"
it = kinesis.get_shard_iterator(StreamName="narrow", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
got = kinesis.get_records(ShardIterator=it, Limit=10000)
assert len(got["Records"]) == accepted + 1, (len(got["Records"]), accepted)
time.sleep(1.1)
codes, start = [], time.time()
for _ in range(30):
    try:
        once.get_records(ShardIterator=got["NextShardIterator"])
        codes.append("ok")
    except ClientError as e:
        codes.append(e.response["Error"]["Code"])
        break
# Five calls a second (and a second's burst).
assert codes[-1] == "ProvisionedThroughputExceededException", codes
assert 5 <= codes.count("ok") <= 5 + 5 * (time.time() - start) + 1, codes
print("OK")
"#,
    );
    // The default: a shard takes what the machine can write.
    let dir = scratch("streams-unthrottled");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
kinesis.create_stream(StreamName="wide", ShardCount=1)
for _ in range(4):
    assert kinesis.put_records(StreamName="wide", Records=[{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(500)])["FailedRecordCount"] == 0
print("OK")
"#,
    );
}
