//! EventBridge on the real `sluice serve`, through boto3 and the `aws` CLI: buses, rules and
//! targets with AWS's shapes and errors; PutEvents' per-entry errors and limits; rules from
//! AWS's documented pattern examples routing to queues (FIFO too), topics, functions, state
//! machines, streams and another bus; Input, InputPath and InputTransformer; disabled rules;
//! retries ending in a dead-letter queue; Step Functions' status-change events; `events:putEvents`
//! from a state machine; acknowledged events across `kill -9`.

use crate::common::*;

fn python_server(dir: &std::path::Path) -> Server {
    let python = venv().join("bin/python").display().to_string();
    Server::start(dir, &["--python", &python])
}

/// Clients and helpers every script shares.
const PRELUDE: &str = r#"
import io, re, zipfile, base64
endpoint = os.environ["ENDPOINT"]
def client(name):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
events, sqs, sns, lam, kinesis = client("events"), client("sqs"), client("sns"), client("lambda"), client("kinesis")
account = "000000000000"
default_bus = f"arn:aws:events:us-east-1:{account}:event-bus/default"

def queue(name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

def drain(url, want, timeout=15, attributes=False):
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m if attributes else m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) == want, (want, got)
    return got

def nothing(url, seconds=1):
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=seconds)
    assert not r.get("Messages"), r["Messages"]

def put(*entries):
    r = events.put_events(Entries=list(entries))
    assert r["FailedEntryCount"] == 0, r
    return [e["EventId"] for e in r["Entries"]]

def entry(source, detail_type, detail, **more):
    return dict(Source=source, DetailType=detail_type, Detail=json.dumps(detail), **more)

def error(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call} succeeded")

def route(rule, pattern, target, bus="default", **target_fields):
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), EventBusName=bus)
    r = events.put_targets(Rule=rule, EventBusName=bus, Targets=[dict(Id="t", Arn=target, **target_fields)])
    assert r["FailedEntryCount"] == 0, r
"#;

fn events_cli(server: &Server, args: &[&str]) -> std::process::Output {
    sluice_test_util::aws_cli(&server.endpoint(), "events", args)
}

fn run(server: &Server, body: &str) {
    run_boto3(server, &format!("{PRELUDE}{body}"), &[]);
}

#[test]
fn the_events_api_has_aws_shapes_and_errors() {
    let dir = scratch("events-api");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
# Buses: the default one always exists and cannot be deleted.
buses = events.list_event_buses()["EventBuses"]
assert [b["Name"] for b in buses] == ["default"] and buses[0]["Arn"] == default_bus, buses
assert events.describe_event_bus()["Arn"] == default_bus
created = events.create_event_bus(Name="orders", Description="the orders", Tags=[{"Key": "team", "Value": "a"}])
orders_bus = f"arn:aws:events:us-east-1:{account}:event-bus/orders"
assert created["EventBusArn"] == orders_bus, created
for name in ["orders-2", "orders-3"]:
    events.create_event_bus(Name=name)
d = events.describe_event_bus(Name="orders")
assert d["Name"] == "orders" and d["Description"] == "the orders" and isinstance(d["CreationTime"], datetime.datetime), d
assert events.describe_event_bus(Name=orders_bus)["Name"] == "orders"
assert error(events.create_event_bus, Name="orders") == ("ResourceAlreadyExistsException", "Event bus orders already exists.")
assert error(events.describe_event_bus, Name="nope") == ("ResourceNotFoundException", "Event bus nope does not exist.")
assert error(events.delete_event_bus, Name="default") == ("ValidationException", "Cannot delete event bus default.")
page = events.list_event_buses(NamePrefix="orders", Limit=2)
assert [b["Name"] for b in page["EventBuses"]] == ["orders", "orders-2"] and page["NextToken"], page
rest = events.list_event_buses(NamePrefix="orders", Limit=2, NextToken=page["NextToken"])
assert [b["Name"] for b in rest["EventBuses"]] == ["orders-3"] and "NextToken" not in rest, rest
events.delete_event_bus(Name="orders-3")
assert error(events.delete_event_bus, Name="orders-3")[0] == "ResourceNotFoundException"
assert events.list_tags_for_resource(ResourceARN=orders_bus)["Tags"] == [{"Key": "team", "Value": "a"}]

# Every region has its own default bus, and its own buses.
eu = boto3.client("events", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="x",
                  aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
assert [b["Arn"] for b in eu.list_event_buses()["EventBuses"]] == [f"arn:aws:events:eu-west-1:{account}:event-bus/default"]
assert error(eu.describe_event_bus, Name="orders")[0] == "ResourceNotFoundException"
too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
assert error(events.tag_resource, ResourceARN=orders_bus, Tags=too_many) == ("ValidationException", "A resource cannot have more than 50 tags.")
assert events.list_tags_for_resource(ResourceARN=orders_bus)["Tags"] == [{"Key": "team", "Value": "a"}]

# Rules.
pattern = {"source": ["my.app"], "detail": {"state": ["running"]}}
arn = events.put_rule(Name="r1", EventPattern=json.dumps(pattern), EventBusName="orders", Description="d")["RuleArn"]
assert arn == f"arn:aws:events:us-east-1:{account}:rule/orders/r1", arn
assert events.put_rule(Name="r0", EventPattern=json.dumps(pattern))["RuleArn"] == f"arn:aws:events:us-east-1:{account}:rule/r0"
d = events.describe_rule(Name="r1", EventBusName="orders")
assert d["State"] == "ENABLED" and d["EventBusName"] == "orders" and json.loads(d["EventPattern"]) == pattern, d
assert d["Description"] == "d" and d["Arn"] == arn and d["CreatedBy"] == account, d
assert error(events.describe_rule, Name="r1") == ("ResourceNotFoundException", "Rule r1 does not exist on EventBus default.")
assert error(events.describe_rule, Name="r1", EventBusName="nope") == ("ResourceNotFoundException", "Event bus nope does not exist.")
events.disable_rule(Name="r1", EventBusName="orders")
assert events.describe_rule(Name="r1", EventBusName="orders")["State"] == "DISABLED"
events.enable_rule(Name="r1", EventBusName=orders_bus)
assert events.describe_rule(Name="r1", EventBusName="orders")["State"] == "ENABLED"
for i in range(2, 5):
    events.put_rule(Name=f"r{i}", EventPattern=json.dumps(pattern), EventBusName="orders", State="DISABLED")
page = events.list_rules(EventBusName="orders", Limit=3)
assert [r["Name"] for r in page["Rules"]] == ["r1", "r2", "r3"] and page["NextToken"], page
assert [r["Name"] for r in events.list_rules(EventBusName="orders", NextToken=page["NextToken"])["Rules"]] == ["r4"]
assert [r["Name"] for r in events.list_rules(NamePrefix="r")["Rules"]] == ["r0"]
assert error(events.put_rule, Name="x", EventPattern="{\"source\": \"my.app\"}")[0] == "InvalidEventPatternException"
code, message = error(events.put_rule, Name="x", EventPattern="{\"source\": [{\"prefix\": 1}]}")
assert code == "InvalidEventPatternException" and message.startswith("Event pattern is not valid. Reason: "), message
assert error(events.put_rule, Name="x") == ("ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
assert error(events.put_rule, Name="x", ScheduleExpression="rate(5 minute)") == ("ValidationException", "Parameter ScheduleExpression is not valid.")
assert error(events.put_rule, Name="x", ScheduleExpression="cron(0 12 * * * *)") == ("ValidationException", "Parameter ScheduleExpression is not valid.")
assert error(events.put_rule, Name="x", ScheduleExpression="at(2026-12-07T20:00:00)") == ("ValidationException", "Parameter ScheduleExpression is not valid.")
assert events.put_rule(Name="cron", ScheduleExpression="cron(0/15 8-17 ? * MON-FRI *)")["RuleArn"].endswith(":rule/cron")
events.delete_rule(Name="cron")
assert error(events.put_rule, Name="x", ScheduleExpression="rate(5 minutes)", EventBusName="orders") == ("ValidationException", "ScheduleExpression is supported only on the default event bus.")
code, message = error(events.put_rule, Name="bad name", EventPattern=json.dumps(pattern))
assert code == "ValidationException" and "at 'name' failed to satisfy constraint" in message, message

# Targets.
_, q = queue("q")
_, fifo = queue("q.fifo", FifoQueue="true", ContentBasedDeduplication="true")
r = events.put_targets(Rule="r1", EventBusName="orders", Targets=[{"Id": f"t{i}", "Arn": q} for i in range(5)])
assert r == {"FailedEntryCount": 0, "FailedEntries": [], "ResponseMetadata": r["ResponseMetadata"]}, r
assert error(events.put_targets, Rule="r1", EventBusName="orders", Targets=[{"Id": "t5", "Arn": q}]) == (
    "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
page = events.list_targets_by_rule(Rule="r1", EventBusName="orders", Limit=3)
assert [t["Id"] for t in page["Targets"]] == ["t0", "t1", "t2"] and page["NextToken"], page
assert [t["Id"] for t in events.list_targets_by_rule(Rule="r1", EventBusName="orders", NextToken=page["NextToken"])["Targets"]] == ["t3", "t4"]
assert events.list_rule_names_by_target(TargetArn=q, EventBusName="orders")["RuleNames"] == ["r1"]
assert error(events.delete_rule, Name="r1", EventBusName="orders") == ("ValidationException", "Rule can't be deleted since it has targets.")
events.remove_targets(Rule="r1", EventBusName="orders", Ids=["t1", "t2", "t3", "t4"])
assert [t["Id"] for t in events.list_targets_by_rule(Rule="r1", EventBusName="orders")["Targets"]] == ["t0"]
assert error(events.put_targets, Rule="r1", EventBusName="orders", Targets=[{"Id": "f", "Arn": fifo}]) == (
    "ValidationException", "Parameter(s) SqsParameters must be specified for target: f.")
assert error(events.put_targets, Rule="r1", EventBusName="orders", Targets=[{"Id": "i", "Arn": q, "Input": "{}", "InputPath": "$.detail"}]) == (
    "ValidationException", "Only one of Input, InputPath, or InputTransformer must be provided for target i.")
assert error(events.put_targets, Rule="r1", EventBusName="orders", Targets=[{"Id": "i", "Arn": q,
    "InputTransformer": {"InputPathsMap": {"a": "$.detail"}, "InputTemplate": "\"<a> <notdefinedkey>\""}}]) == (
    "ValidationException", "InputTemplate for target i contains invalid placeholder notdefinedkey.")
code, message = error(events.put_targets, Rule="r1", EventBusName="orders", Targets=[{"Id": "!@#$@!#$", "Arn": q}])
assert code == "ValidationException" and "at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+" in message, message
assert error(events.put_targets, Rule="nope", Targets=[{"Id": "a", "Arn": q}]) == ("ResourceNotFoundException", "Rule nope does not exist on EventBus default.")
events.remove_targets(Rule="r1", EventBusName="orders", Ids=["t0"])
events.delete_rule(Name="r1", EventBusName="orders")
assert error(events.describe_rule, Name="r1", EventBusName="orders")[0] == "ResourceNotFoundException"
events.delete_rule(Name="r1", EventBusName="orders")  # a missing rule: no error, as AWS

# Tags of rules.
events.tag_resource(ResourceARN=arn.replace("r1", "r2"), Tags=[{"Key": "k", "Value": "v"}, {"Key": "j", "Value": "w"}])
events.untag_resource(ResourceARN=arn.replace("r1", "r2"), TagKeys=["j"])
assert events.list_tags_for_resource(ResourceARN=arn.replace("r1", "r2"))["Tags"] == [{"Key": "k", "Value": "v"}]
assert error(events.list_tags_for_resource, ResourceARN=arn)[0] == "ResourceNotFoundException"
# Deleting a bus deletes its rules.
events.delete_event_bus(Name="orders")
assert events.list_rules(EventBusName="orders-2")["Rules"] == []

# TestEventPattern.
event = {"id": "1", "account": account, "source": "my.app", "time": "2026-12-07T20:00:00Z", "region": "us-east-1",
         "detail-type": "x", "resources": [], "detail": {"state": "running"}}
assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"] is True
event["detail"]["state"] = "stopped"
assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"] is False
assert error(events.test_event_pattern, EventPattern=json.dumps(pattern), Event="{\"source\": \"x\"}") == ("ValidationException", "Parameter Event is not valid.")
assert error(events.test_event_pattern, EventPattern="[]", Event=json.dumps(event))[0] == "InvalidEventPatternException"

# PutEvents: per-entry errors, limits.
r = events.put_events(Entries=[
    {"Source": "s", "DetailType": "t", "Detail": "{}"},
    {"DetailType": "t", "Detail": "{}"},
    {"Source": "s", "Detail": "{}"},
    {"Source": "s", "DetailType": "t"},
    {"Source": "s", "DetailType": "t", "Detail": "[1]"},
    {"Source": "s", "DetailType": "t", "Detail": "{nope"},
    {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "does-not-exist"},
])
assert r["FailedEntryCount"] == 5, r
e = r["Entries"]
assert "EventId" in e[0] and "EventId" in e[6], e
assert e[1] == {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}, e
assert e[2] == {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument."}, e
assert e[3] == {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument."}, e
assert e[4] == e[5] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}, e
code, message = error(events.put_events, Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 11)
assert code == "ValidationException" and "at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10" in message, message
big = json.dumps({"x": "a" * (256 * 1024)})
assert error(events.put_events, Entries=[{"Source": "s", "DetailType": "t", "Detail": big}]) == (
    "ValidationException", "Total size of the entries in the request is over the limit.")
print("OK")
"#,
    );
}

#[test]
fn the_aws_cli_manages_rules_and_puts_events() {
    let dir = scratch("events-cli");
    let server = Server::start(&dir, &[]);
    let output = events_cli(
        &server,
        &[
            "put-rule",
            "--name",
            "cli",
            "--event-pattern",
            r#"{"source":["cli.app"]}"#,
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let arn: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        arn["RuleArn"],
        "arn:aws:events:us-east-1:000000000000:rule/cli"
    );
    let output = events_cli(
        &server,
        &[
            "put-events",
            "--entries",
            r#"[{"Source":"cli.app","DetailType":"t","Detail":"{\"a\":1}"}]"#,
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let put: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let output = events_cli(&server, &["describe-rule", "--name", "missing"]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "DescribeRule",
        "Rule missing does not exist on EventBus default.",
    );
}

#[test]
fn rules_route_events_to_every_kind_of_target() {
    let dir = scratch("events-targets");
    let server = python_server(&dir);
    run(
        &server,
        r#"
# AWS's documented pattern examples (eb-event-patterns, eb-create-pattern-operators).
ec2 = {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
       "detail": {"state": ["running"]}}
ec2_event = dict(Source="aws.ec2", DetailType="EC2 Instance State-change Notification",
                 Detail=json.dumps({"instance-id": "i-1234567890abcdef0", "state": "running"}),
                 Resources=["arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0"])
std_url, std_q = queue("std")
route("ec2-running", ec2, std_q)

# A FIFO queue, its message group from SqsParameters.
fifo_url, fifo_q = queue("orders.fifo", FifoQueue="true")
route("fifo", {"source": ["my.orders"], "detail": {"amount": [{"numeric": [">", 100]}]}}, fifo_q,
      SqsParameters={"MessageGroupId": "orders"})

# A topic with a queue subscribed.
topic = sns.create_topic(Name="alerts")["TopicArn"]
sub_url, sub_q = queue("from-topic")
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sub_q, Attributes={"RawMessageDelivery": "true"})
route("topic", {"source": ["my.alerts"], "detail": {"severity": [{"anything-but": ["low"]}]}}, topic)

# A function: its async invocation record reaches a queue (Lambda destinations).
fn_url, fn_q = queue("from-function")
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("h.py", "def handler(event, context):\n    return {'got': event}\n")
function = lam.create_function(FunctionName="handler", Runtime="python3.12", Handler="h.handler",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()})["FunctionArn"]
lam.put_function_event_invoke_config(FunctionName="handler", DestinationConfig={"OnSuccess": {"Destination": fn_q}})
route("function", {"source": [{"prefix": "my.fun"}]}, function)

# A state machine.
machine = sfn.create_state_machine(name="m", roleArn=role, definition=json.dumps(
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
route("machine", {"detail-type": ["start"], "detail": {"go": [True]}}, machine)

# A stream, partitioned by a path of the event.
kinesis.create_stream(StreamName="s", ShardCount=1)
stream = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
route("stream", {"source": ["my.stream"]}, stream, KinesisParameters={"PartitionKeyPath": "$.detail.key"})

# Another bus, whose own rule sends to a queue.
events.create_event_bus(Name="other")
other = f"arn:aws:events:us-east-1:{account}:event-bus/other"
route("to-other", {"source": ["my.forward"]}, other)
fwd_url, fwd_q = queue("forwarded")
route("on-other", {"source": ["my.forward"]}, fwd_q, bus="other")

# A disabled rule fires nothing.
off_url, off_q = queue("disabled")
route("off", {"source": ["aws.ec2"]}, off_q)
events.disable_rule(Name="off")

ids = put(ec2_event,
    entry("my.orders", "Order", {"amount": 150}), entry("my.orders", "Order", {"amount": 50}),
    entry("my.alerts", "Alert", {"severity": "high"}), entry("my.alerts", "Alert", {"severity": "low"}),
    entry("my.functions", "Call", {"n": 1}),
    entry("my.machine", "start", {"go": True}),
    entry("my.stream", "Record", {"key": "k1"}),
    entry("my.forward", "Fwd", {"f": 1}, Time=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)))

got = json.loads(drain(std_url, 1)[0])
assert list(got) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"], got
assert got["version"] == "0" and got["id"] == ids[0] and got["account"] == account and got["region"] == "us-east-1", got
assert got["detail-type"] == "EC2 Instance State-change Notification" and got["source"] == "aws.ec2", got
assert got["resources"] == ["arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0"], got
assert got["detail"] == {"instance-id": "i-1234567890abcdef0", "state": "running"}, got
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["time"]), got

fifo_got = sqs.receive_message(QueueUrl=fifo_url, WaitTimeSeconds=5, AttributeNames=["All"])["Messages"]
assert len(fifo_got) == 1 and json.loads(fifo_got[0]["Body"])["detail"] == {"amount": 150}, fifo_got
assert fifo_got[0]["Attributes"]["MessageGroupId"] == "orders", fifo_got

assert json.loads(drain(sub_url, 1)[0])["detail"] == {"severity": "high"}
record = json.loads(drain(fn_url, 1, timeout=30)[0])
assert record["requestPayload"]["id"] == ids[5] and record["requestPayload"]["detail"] == {"n": 1}, record

deadline = time.time() + 15
while time.time() < deadline:
    runs = sfn.list_executions(stateMachineArn=machine)["executions"]
    if runs:
        break
    time.sleep(0.1)
assert len(runs) == 1, runs
started = sfn.describe_execution(executionArn=runs[0]["executionArn"])
assert json.loads(started["input"])["id"] == ids[6], started

shard = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
deadline = time.time() + 15
records = []
while not records and time.time() < deadline:
    records = kinesis.get_records(ShardIterator=shard)["Records"]
    time.sleep(0.1)
assert len(records) == 1 and records[0]["PartitionKey"] == "k1", records
assert json.loads(records[0]["Data"])["id"] == ids[7], records

forwarded = json.loads(drain(fwd_url, 1)[0])
assert forwarded["detail"] == {"f": 1} and forwarded["source"] == "my.forward", forwarded
assert forwarded["time"] == "2026-01-02T03:04:05Z", forwarded
nothing(off_url)
nothing(std_url, 0)
nothing(fifo_url, 0)
nothing(sub_url, 0)
print("OK")
"#,
    );
}

#[test]
fn targets_receive_input_input_path_and_transformed_input_as_aws_documents() {
    let dir = scratch("events-inputs");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
url, q = queue("inputs")
pattern = {"source": ["core.update-account-command"]}
events.put_rule(Name="r", EventPattern=json.dumps(pattern))
paths = {"detail-type": "$.detail-type", "timestamp": "$.time", "command": "$.detail.command",
         "userId": "$.detail.payload.acc_id", "payload": "$.detail.payload", "list": "$.detail.list",
         "missing": "$.detail.nothing"}
targets = [
    {"Id": "input", "Arn": q, "Input": "{\"constant\": true}"},
    {"Id": "path", "Arn": q, "InputPath": "$.detail.payload"},
    {"Id": "text", "Arn": q, "InputTransformer": {"InputPathsMap": paths,
        "InputTemplate": "\"Event of <detail-type> type, command <command>, payload <payload>, list <list>, missing <missing>.\""}},
    {"Id": "json", "Arn": q, "InputTransformer": {"InputPathsMap": paths,
        "InputTemplate": "{\"detailType\": <detail-type>, \"path\": \"users/<userId>\", \"body\": <payload>, \"list\": <list>, \"missing\": <missing>, \"rule\": \"<aws.events.rule-name>\"}"}},
    {"Id": "invalid", "Arn": q, "InputTransformer": {"InputPathsMap": paths,
        "InputTemplate": "{\"payload\": \"<payload>\"}"}},
]
events.put_targets(Rule="r", Targets=targets)
[event_id] = put(entry("core.update-account-command", "core.update-account-command",
    {"command": "update-account", "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}, "list": ["a", "b"]}))
bodies = sorted(drain(url, 4))
assert bodies[0] == '"Event of core.update-account-command type, command update-account, payload {acc_id:0a787ecb-4015,sf_id:baz}, list [a,b], missing ."', bodies
assert json.loads(bodies[1]) == {"acc_id": "0a787ecb-4015", "sf_id": "baz"}, bodies
assert json.loads(bodies[2]) == {"constant": True}, bodies
assert json.loads(bodies[3]) == {"detailType": "core.update-account-command", "path": "users/0a787ecb-4015",
    "body": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}, "list": ["a", "b"], "missing": "", "rule": "r"}, bodies
nothing(url)
print("OK")
"#,
    );
}

#[test]
fn a_failing_target_ends_in_the_dead_letter_queue_after_its_retries() {
    let dir = scratch("events-dlq");
    let server = Server::start(&dir, &[]);
    let port = server.port.to_string();
    run_boto3(
        &server,
        &format!(
            "{PRELUDE}{}",
            r#"
import urllib.request
def advance(seconds):
    request = urllib.request.Request(endpoint + "/sluice/clock", data=json.dumps({"advanceSeconds": seconds}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request).read()

gone_url, gone = queue("gone")
dlq_url, dlq = queue("dlq")
events.put_rule(Name="r", EventPattern=json.dumps({"source": ["my.app"]}))
events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": gone, "RetryPolicy": {"MaximumRetryAttempts": 2},
                                       "DeadLetterConfig": {"Arn": dlq}}])
sqs.delete_queue(QueueUrl=gone_url)
[event_id] = put(entry("my.app", "T", {"n": 1}))
# Retries wait on the server's clock: a second, then two (with jitter).
time.sleep(0.5)
nothing(dlq_url, 0)
for _ in range(3):
    advance(3)
    time.sleep(0.3)
[message] = drain(dlq_url, 1, attributes=True)
assert json.loads(message["Body"])["id"] == event_id, message
attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
assert attributes["RULE_ARN"] == f"arn:aws:events:us-east-1:{account}:rule/r", attributes
assert attributes["TARGET_ARN"] == gone, attributes
assert attributes["ERROR_CODE"] == "QueueDoesNotExist", attributes
assert attributes["ERROR_MESSAGE"], attributes
assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts", attributes
assert attributes["RETRY_ATTEMPTS"] == "2", attributes
print("OK")
"#
        ),
        &[("PORT", &port)],
    );
}

/// Every acknowledged PutEvents reaches the target queue across a `kill -9` in the middle of
/// a loop of them: none lost, duplicates counted.
#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = scratch("events-kill");
    let mut server = Server::start(&dir, &[]);
    let setup = r#"
url, q = queue("sink")
events.put_rule(Name="all", EventPattern=json.dumps({"source": ["load"]}))
events.put_targets(Rule="all", Targets=[{"Id": "sink", "Arn": q}])
print("OK")
"#;
    run(&server, setup);
    // PutEvents in a loop from a separate process, killed with the server mid-way: the ids
    // acknowledged are written to a file as they are answered.
    let acked = dir.join("acked.txt");
    let script = dir.join("load.py");
    std::fs::write(
        &script,
        format!(
            "{}{PRELUDE}{}",
            BOTO3_PRELUDE,
            r#"
import sys
with open(sys.argv[1], "a") as out:
    n = 0
    while True:
        try:
            r = events.put_events(Entries=[entry("load", "n", {"n": n + i}) for i in range(10)])
        except Exception:
            break
        for e in r["Entries"]:
            out.write(e["EventId"] + "\n")
        out.flush()
        n += 10
"#
        ),
    )
    .unwrap();
    let mut load = std::process::Command::new(venv().join("bin/python"));
    sluice_test_util::client_env(&mut load)
        .arg(&script)
        .arg(&acked)
        .env("ENDPOINT", server.endpoint());
    let mut load = load.spawn().expect("run the load");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&acked)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 300
    {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill9();
    let _ = load.wait();
    let acked_ids = std::fs::read_to_string(&acked).unwrap();
    let server = Server::start(&dir, &[]);
    run_boto3(
        &server,
        &format!(
            "{PRELUDE}{}",
            r#"
acked = set(open(os.environ["ACKED"]).read().split())
url = sqs.get_queue_url(QueueName="sink")["QueueUrl"]
seen, duplicates = set(), 0
deadline = time.time() + 60
quiet = 0
while time.time() < deadline and quiet < 3:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    quiet = 0 if got else quiet + 1
    for m in got:
        event_id = json.loads(m["Body"])["id"]
        duplicates += event_id in seen
        seen.add(event_id)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
lost = acked - seen
with open(os.environ["STATS"], "w") as stats:
    stats.write(f"acknowledged {len(acked)}, delivered {len(seen)}, lost {len(lost)}, duplicates {duplicates}")
assert not lost, sorted(lost)[:5]
print("OK")
"#
        ),
        &[
            ("ACKED", acked.to_str().unwrap()),
            ("STATS", dir.join("stats.txt").to_str().unwrap()),
        ],
    );
    assert!(acked_ids.lines().count() >= 300);
    // Printed for the record (nextest shows it with --no-capture or on failure).
    eprintln!(
        "events across kill -9: {}",
        std::fs::read_to_string(dir.join("stats.txt")).unwrap()
    );
}

#[test]
fn state_machines_raise_status_events_and_put_events() {
    let dir = scratch("events-states");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
# A failed execution raises an event a rule routes to a queue; successes do not match.
alerts_url, alerts = queue("alerts")
route("failures", {"source": ["aws.states"], "detail": {"status": ["FAILED"]}}, alerts)
failing = sfn.create_state_machine(name="failing", roleArn=role, definition=json.dumps(
    {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}))["stateMachineArn"]
passing = sfn.create_state_machine(name="passing", roleArn=role, definition=json.dumps(
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
sfn.start_execution(stateMachineArn=passing, input="{}")
failed = sfn.start_execution(stateMachineArn=failing, name="run-1", input=json.dumps({"order": 7}))["executionArn"]
[body] = drain(alerts_url, 1)
event = json.loads(body)
assert event["source"] == "aws.states" and event["detail-type"] == "Step Functions Execution Status Change", event
assert event["resources"] == [failed], event
d = event["detail"]
assert d["executionArn"] == failed and d["stateMachineArn"] == failing and d["name"] == "run-1", d
assert d["status"] == "FAILED" and d["error"] == "Boom" and d["cause"] == "it broke", d
assert json.loads(d["input"]) == {"order": 7} and d["inputDetails"] == {"included": True}, d
assert isinstance(d["startDate"], int) and isinstance(d["stopDate"], int) and d["output"] is None, d
nothing(alerts_url)

# Every status of an execution (EventBridge, like AWS's, does not promise their order).
all_url, all_q = queue("all-statuses")
route("all", {"source": ["aws.states"], "resources": [{"prefix": passing.replace(":stateMachine:", ":execution:")}]}, all_q)
sfn.start_execution(stateMachineArn=passing, input="{}")
statuses = sorted(json.loads(b)["detail"]["status"] for b in drain(all_url, 2))
assert statuses == ["RUNNING", "SUCCEEDED"], statuses

# events:putEvents (and aws-sdk:eventbridge) from a state machine.
out_url, out_q = queue("from-machine")
route("from-machine", {"source": ["my.workflow"]}, out_q)
putter = sfn.create_state_machine(name="putter", roleArn=role, definition=json.dumps({
    "StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [{"Source": "my.workflow", "DetailType": "Done",
                                            "Detail": {"order.$": "$.order"}}]},
                "ResultPath": "$.put", "Next": "Sdk"},
        "Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:eventbridge:putEvents",
                "Parameters": {"Entries": [{"Source": "my.workflow", "DetailType": "Sdk", "Detail": "{\"sdk\": true}"}]},
                "ResultPath": "$.sdk", "End": True}}}))["stateMachineArn"]
run_arn = sfn.start_execution(stateMachineArn=putter, input=json.dumps({"order": 9}))["executionArn"]
deadline = time.time() + 15
while sfn.describe_execution(executionArn=run_arn)["status"] == "RUNNING" and time.time() < deadline:
    time.sleep(0.05)
done = sfn.describe_execution(executionArn=run_arn)
assert done["status"] == "SUCCEEDED", done
output = json.loads(done["output"])
assert output["put"]["FailedEntryCount"] == 0 and len(output["put"]["Entries"]) == 1, output
assert "EventId" in output["put"]["Entries"][0] and output["sdk"]["FailedEntryCount"] == 0, output
bodies = sorted((json.loads(b) for b in drain(out_url, 2)), key=lambda e: e["detail-type"])
assert bodies[0]["detail"] == {"order": 9} and bodies[0]["id"] == output["put"]["Entries"][0]["EventId"], bodies
assert bodies[1]["detail"] == {"sdk": True}, bodies

# events:putEvents.waitForTaskToken: the consumer of the event answers with the token.
waiter = sfn.create_state_machine(name="waiter", roleArn=role, definition=json.dumps({
    "StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                "Parameters": {"Entries": [{"Source": "my.workflow", "DetailType": "Approve",
                                            "Detail": {"token.$": "$$.Task.Token"}}]},
                "End": True}}}))["stateMachineArn"]
wait_arn = sfn.start_execution(stateMachineArn=waiter, input="{}")["executionArn"]
asked = json.loads(drain(out_url, 1)[0])
assert asked["detail-type"] == "Approve", asked
assert sfn.describe_execution(executionArn=wait_arn)["status"] == "RUNNING"
sfn.send_task_success(taskToken=asked["detail"]["token"], output=json.dumps({"approved": True}))
deadline = time.time() + 15
while sfn.describe_execution(executionArn=wait_arn)["status"] == "RUNNING" and time.time() < deadline:
    time.sleep(0.05)
done = sfn.describe_execution(executionArn=wait_arn)
assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"approved": True}, done
print("OK")
"#,
    );
}

/// A `rate` rule fires AWS's "Scheduled Event" on the server's clock; a fire missed while the
/// server was down happens once after the restart.
#[test]
fn scheduled_rules_fire_on_time_and_catch_up_once_after_a_restart() {
    let dir = scratch("events-schedule");
    // A minute of the server's clock passes in a second.
    let mut server = Server::start(&dir, &["--time-scale", "60"]);
    let script = r#"
url, q = queue("ticks")
arn = events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")["RuleArn"]
events.put_targets(Rule="tick", Targets=[{"Id": "q", "Arn": q}])
assert events.describe_rule(Name="tick")["ScheduleExpression"] == "rate(1 minute)"
[body] = drain(url, 1, timeout=5)
tick = json.loads(body)
assert tick["source"] == "aws.events" and tick["detail-type"] == "Scheduled Event", tick
assert tick["detail"] == {} and tick["resources"] == [arn], tick
# A cron rule, on its minutes.
cron_url, cron_q = queue("cron-ticks")
events.put_rule(Name="every-minute", ScheduleExpression="cron(* * * * ? *)")
events.put_targets(Rule="every-minute", Targets=[{"Id": "q", "Arn": cron_q}])
cron_tick = json.loads(drain(cron_url, 1, timeout=5)[0])
assert cron_tick["time"].endswith(":00Z") and cron_tick["detail-type"] == "Scheduled Event", cron_tick
events.remove_targets(Rule="every-minute", Ids=["q"])
events.delete_rule(Name="every-minute")
print("OK")
"#;
    run_boto3(&server, &format!("{PRELUDE}{script}"), &[]);
    server.kill9();
    // Five minutes of the server's clock go by while it is down.
    std::thread::sleep(std::time::Duration::from_millis(5_000));
    let server = Server::start(&dir, &["--time-scale", "60"]);
    let script = r#"
url = sqs.get_queue_url(QueueName="ticks")["QueueUrl"]
lateness = []
deadline = time.time() + 3
while time.time() < deadline:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"])
    for m in got.get("Messages", []):
        due = datetime.datetime.strptime(json.loads(m["Body"])["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp() * 1000
        lateness.append(int(m["Attributes"]["SentTimestamp"]) - due)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
# On time, a fire is delivered within moments of its minute; the fires due while the server
# was down (four or five of them) are one fire, made at the restart, minutes late.
late = [l for l in lateness if l > 150_000]
assert len(late) == 1, sorted(lateness)
assert len([l for l in lateness if l <= 150_000]) >= 1, sorted(lateness)
print("OK")
"#;
    run_boto3(&server, &format!("{PRELUDE}{script}"), &[]);
}
