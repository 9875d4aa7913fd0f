//! EventBridge Scheduler on the real `sluice serve`, through boto3 and the `aws` CLI: the API
//! with AWS's errors; expressions AWS accepts and refuses; fires on a `--time-scale` server
//! into a queue (standard and FIFO), a Python function, a state machine, a stream and a
//! universal `aws-sdk` target; a state machine creating a schedule (`aws-sdk:scheduler`); a one-time schedule that deletes itself; a fire missed while the server
//! was down (kill -9) happening once on restart; a failing target ending in the dead-letter
//! queue.

use crate::common::*;

/// Clients and helpers every schedule script shares. Times are the server's clock.
const PRELUDE: &str = r#"
import io, urllib.request, zipfile
endpoint = os.environ["ENDPOINT"]
def client(name):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
scheduler, sqs, lam = client("scheduler"), client("sqs"), client("lambda")
role = "arn:aws:iam::000000000000:role/scheduler"
off = {"Mode": "OFF"}

def now_ms():
    with urllib.request.urlopen(endpoint + "/sluice/clock") as r:
        return json.load(r)["nowMs"]

def view():
    with urllib.request.urlopen(endpoint + "/sluice/schedules") as r:
        return json.load(r)

def queue(name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

def drain(url, want, timeout=15, at_least=False):
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["All"], MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) >= want if at_least else len(got) == want, (want, [m["Body"] for m in got])
    return got

def wait(what, done, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")

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

/// `aws scheduler <args...>` against `server`.
fn cli(server: &Server, args: &[&str]) -> std::process::Output {
    sluice_test_util::aws_cli(&server.endpoint(), "scheduler", args)
}

#[test]
fn the_scheduler_api_has_aws_shapes_and_errors() {
    let dir = scratch("schedules-api");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": role}
# The default group always exists.
group = scheduler.get_schedule_group(Name="default")
assert group["Arn"] == "arn:aws:scheduler:us-east-1:000000000000:schedule-group/default", group
assert group["State"] == "ACTIVE"
assert error(scheduler.delete_schedule_group, Name="default")[0] == "ValidationException"

arn = scheduler.create_schedule_group(Name="ops", Tags=[{"Key": "team", "Value": "sec"}])["ScheduleGroupArn"]
assert arn == "arn:aws:scheduler:us-east-1:000000000000:schedule-group/ops", arn
assert error(scheduler.create_schedule_group, Name="ops") == ("ConflictException", "Schedule group ops already exists.", 409)
assert error(scheduler.get_schedule_group, Name="nope") == ("ResourceNotFoundException", "Schedule group nope does not exist.", 404)
scheduler.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
scheduler.untag_resource(ResourceArn=arn, TagKeys=["team"])
assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
names = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
assert names == ["default", "ops"], names
assert [g["Name"] for g in scheduler.list_schedule_groups(NamePrefix="o")["ScheduleGroups"]] == ["ops"]

created = scheduler.create_schedule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)",
    ScheduleExpressionTimezone="Europe/Paris", FlexibleTimeWindow=off, Target=target,
    Description="d", ClientToken="t1")
assert created["ScheduleArn"] == "arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly", created
# The same request again (same ClientToken) answers as the first did; another one conflicts.
again = scheduler.create_schedule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)",
    FlexibleTimeWindow=off, Target=target, ClientToken="t1")
assert again["ScheduleArn"] == created["ScheduleArn"]
assert error(scheduler.create_schedule, Name="nightly", ScheduleExpression="rate(5 minutes)",
    FlexibleTimeWindow=off, Target=target) == ("ConflictException", "Schedule nightly already exists.", 409)
got = scheduler.get_schedule(Name="nightly")
assert got["GroupName"] == "default" and got["State"] == "ENABLED", got
assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
assert got["ActionAfterCompletion"] == "NONE"
assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}, got
assert isinstance(got["CreationDate"], datetime.datetime)

scheduler.update_schedule(Name="nightly", ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow=
    {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10}, Target=target, State="DISABLED")
got = scheduler.get_schedule(Name="nightly")
assert got["ScheduleExpression"] == "rate(5 minutes)" and got["State"] == "DISABLED", got
assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10}
assert "Description" not in got

for i in range(3):
    scheduler.create_schedule(Name=f"job-{i}", GroupName="ops", ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow=off, Target=target, State="DISABLED")
page = scheduler.list_schedules(GroupName="ops", MaxResults=2)
assert [s["Name"] for s in page["Schedules"]] == ["job-0", "job-1"], page
rest = scheduler.list_schedules(GroupName="ops", MaxResults=2, NextToken=page["NextToken"])
assert [s["Name"] for s in rest["Schedules"]] == ["job-2"] and "NextToken" not in rest, rest
summary = rest["Schedules"][0]
assert summary["GroupName"] == "ops" and summary["Target"] == {"Arn": target["Arn"]}, summary
assert [s["Name"] for s in scheduler.list_schedules(NamePrefix="night")["Schedules"]] == ["nightly"]
assert len(scheduler.list_schedules(State="DISABLED")["Schedules"]) == 4
assert error(scheduler.list_schedules, GroupName="nope")[0] == "ResourceNotFoundException"

assert error(scheduler.get_schedule, Name="nope") == ("ResourceNotFoundException", "Schedule nope does not exist.", 404)
assert error(scheduler.get_schedule, Name="nightly", GroupName="ops")[0] == "ResourceNotFoundException"
assert error(scheduler.delete_schedule, Name="nope")[0] == "ResourceNotFoundException"
assert error(scheduler.create_schedule, Name="x", GroupName="nope", ScheduleExpression="rate(1 hour)",
    FlexibleTimeWindow=off, Target=target) == ("ResourceNotFoundException", "Schedule group nope does not exist.", 404)
assert error(scheduler.create_schedule, Name="x", ScheduleExpression="rate(1 hour)",
    FlexibleTimeWindow={"Mode": "FLEXIBLE"}, Target=target)[0] == "ValidationException"
past = datetime.datetime.fromtimestamp(now_ms() / 1000 - 3600, datetime.timezone.utc)
assert error(scheduler.create_schedule, Name="x", ScheduleExpression="rate(1 hour)", StartDate=past,
    FlexibleTimeWindow=off, Target=target) == ("ValidationException",
    "The StartDate you specify cannot be earlier than 5 minutes ago.", 400)
code, message, status = error(scheduler.create_schedule, Name="bad name!", ScheduleExpression="rate(1 hour)",
    FlexibleTimeWindow=off, Target=target)
assert code == "ValidationException" and status == 400, (code, message)

scheduler.delete_schedule(Name="nightly", ClientToken="d1")
# A retried delete (same ClientToken) answers as the first did.
scheduler.delete_schedule(Name="nightly", ClientToken="d1")
assert error(scheduler.get_schedule, Name="nightly")[0] == "ResourceNotFoundException"
assert error(scheduler.delete_schedule, Name="nightly", ClientToken="d2")[0] == "ResourceNotFoundException"
assert scheduler.create_schedule_group(Name="ops2", ClientToken="g1")["ScheduleGroupArn"] == \
    scheduler.create_schedule_group(Name="ops2", ClientToken="g1")["ScheduleGroupArn"]
# Deleting a group deletes its schedules.
scheduler.delete_schedule_group(Name="ops")
assert error(scheduler.get_schedule_group, Name="ops")[0] == "ResourceNotFoundException"
assert scheduler.list_schedules()["Schedules"] == []
print("OK")
"#,
    );
}

/// Refused with AWS's message (LocalStack's snapshots of AWS, and EventBridge's rules).
const REFUSED: &[&str] = &[
    "cron(0 1 * * * *)",
    "cron(7 20 * * NOT *)",
    "cron(INVALID)",
    "cron(0 dummy ? * MON-FRI *)",
    "cron(71 8 1 * ? *)",
    "cron()",
    "rate(10 seconds)",
    "rate(10 years)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(-10 minutes)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    "rate(1 minutes)",
    "rate(0 minutes)",
    "at(2021-12-31T23:59:59Z)",
    "at(2021-12-31)",
    "cron(0 0 ? * 2#6 *)",
    "cron(0 0 * * ? 2200)",
];

const ACCEPTED: &[&str] = &[
    "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)",
    "cron(30-30 13-13 ? * 2,4,6 *)",
    "cron(1-31/30 1-1 ? * 1,7 *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(*/15 * * * ? *)",
    "cron(0-59/10 0-23/2 ? * * *)",
    "cron(15 10 ? * 6L 2002-2005)",
    "cron(0 2 ? * SAT#3 *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 15W * ? *)",
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 day)",
    "at(2022-12-31T23:59:59)",
];

#[test]
fn expressions_aws_accepts_and_refuses() {
    let dir = scratch("schedules-expressions");
    let server = Server::start(&dir, &[]);
    let script = format!(
        r#"
refused = {REFUSED:?}
accepted = {ACCEPTED:?}
target = {{"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": role}}
for i, expression in enumerate(refused):
    got = error(scheduler.create_schedule, Name=f"r{{i}}", ScheduleExpression=expression,
                FlexibleTimeWindow=off, Target=target)
    assert got == ("ValidationException", f"Invalid Schedule Expression {{expression}}.", 400), (expression, got)
for i, expression in enumerate(accepted):
    scheduler.create_schedule(Name=f"a{{i}}", ScheduleExpression=expression, FlexibleTimeWindow=off,
                              Target=target, State="DISABLED")
assert len(scheduler.list_schedules()["Schedules"]) == len(accepted)
code, message, _ = error(scheduler.create_schedule, Name="tz", ScheduleExpression="rate(1 hour)",
    ScheduleExpressionTimezone="Mars/Olympus_Mons", FlexibleTimeWindow=off, Target=target)
assert code == "ValidationException" and "Mars/Olympus_Mons" in message, message
scheduler.create_schedule(Name="tz", ScheduleExpression="cron(0 9 ? * MON-FRI *)",
    ScheduleExpressionTimezone="America/New_York", FlexibleTimeWindow=off, Target=target)
print("OK")
"#
    );
    run(&server, &script);
    // The CLI sees the same errors.
    let output = cli(
        &server,
        &[
            "create-schedule",
            "--name",
            "cli",
            "--schedule-expression",
            "cron(0 1 * * * *)",
            "--flexible-time-window",
            "Mode=OFF",
            "--target",
            r#"{"Arn":"arn:aws:sqs:us-east-1:000000000000:q","RoleArn":"arn:aws:iam::000000000000:role/r"}"#,
        ],
    );
    assert_cli_error(
        &output,
        "ValidationException",
        "CreateSchedule",
        "Invalid Schedule Expression cron(0 1 * * * *).",
    );
    let output = cli(&server, &["get-schedule", "--name", "nope"]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "GetSchedule",
        "Schedule nope does not exist.",
    );
}

#[test]
fn a_rate_schedule_fires_into_queues_on_time() {
    let dir = scratch("schedules-rate");
    // A minute of the server's clock is a second.
    let server = Server::start(&dir, &["--time-scale", "60"]);
    run(
        &server,
        r#"
url, arn = queue("ticks")
fifo_url, fifo_arn = queue("ticks.fifo", FifoQueue="true")
start = (now_ms() // 60000 + 2) * 60000
scheduler.create_schedule(Name="tick", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=off,
    StartDate=datetime.datetime.fromtimestamp(start / 1000, datetime.timezone.utc),
    Target={"Arn": arn, "RoleArn": role,
            "Input": '{"at": "<aws.scheduler.scheduled-time>", "attempt": <aws.scheduler.attempt-number>, "schedule": "<aws.scheduler.schedule-arn>"}'})
scheduler.create_schedule(Name="fifo", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=off,
    Target={"Arn": fifo_arn, "RoleArn": role, "Input": "in order", "SqsParameters": {"MessageGroupId": "g1"}})
# It keeps firing meanwhile: the first three, by due time.
messages = sorted(drain(url, 3, timeout=20, at_least=True), key=lambda m: json.loads(m["Body"])["at"])[:3]
for i, m in enumerate(messages):
    body = json.loads(m["Body"])
    due = start + i * 60000
    assert body["at"] == datetime.datetime.fromtimestamp(due / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), (i, body)
    assert body["attempt"] == 1 and body["schedule"].endswith(":schedule/default/tick"), body
    assert m.get("MessageAttributes") is None, m
    # On time: sent within 30 s of the server's clock (half a second of real time, for a
    # loaded CI box; `sluice bench --schedules` measures the precision) after it was due.
    late = int(m["Attributes"]["SentTimestamp"]) - due
    assert 0 <= late < 30000, (i, late)
# It keeps firing meanwhile: at least two.
fifo = drain(fifo_url, 2, timeout=10, at_least=True)
assert all(m["Body"] == "in order" and m["Attributes"]["MessageGroupId"] == "g1" for m in fifo), fifo
# The view shows the next fire times.
tick = next(s for s in view()["schedules"] if s["name"] == "tick")
assert tick["nextFireMs"] > now_ms() - 60000 and tick["fired"] >= 3, tick
print("OK")
"#,
    );
    // `sluice schedules` draws the same.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["schedules", "--endpoint", &server.endpoint()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("tick") && text.contains("rate(1 minute)"),
        "{text}"
    );
}

#[test]
fn a_one_time_schedule_fires_once_and_deletes_itself() {
    let dir = scratch("schedules-at");
    let server = Server::start(&dir, &[]);
    run(
        &server,
        r#"
url, arn = queue("once")
at = datetime.datetime.fromtimestamp(now_ms() / 1000 + 3600, datetime.timezone.utc)
expression = "at(" + at.strftime("%Y-%m-%dT%H:%M:%S") + ")"
scheduler.create_schedule(Name="once", ScheduleExpression=expression, FlexibleTimeWindow=off,
    ActionAfterCompletion="DELETE", Target={"Arn": arn, "RoleArn": role, "Input": "once"})
assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
print("OK")
"#,
    );
    advance_clock(server.port, 3700);
    run(
        &server,
        r#"
url = sqs.get_queue_url(QueueName="once")["QueueUrl"]
assert [m["Body"] for m in drain(url, 1)] == ["once"]
wait("the schedule's deletion", lambda: error(scheduler.get_schedule, Name="once")[0] == "ResourceNotFoundException")
assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages") is None
print("OK")
"#,
    );
}

#[test]
fn schedules_start_functions_state_machines_and_universal_targets() {
    let dir = scratch("schedules-targets");
    let out = dir.join("events.jsonl");
    let python = venv().join("bin/python").display().to_string();
    let server = Server::start(&dir.join("data"), &["--python", &python]);
    let script = r#"
out = os.environ["OUT"]
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("f.py", "import json, os\ndef handler(event, context):\n    open(os.environ['OUT'], 'a').write(json.dumps(event) + '\\n')\n")
fn = lam.create_function(FunctionName="tick", Runtime="python3.12", Handler="f.handler",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()},
    Environment={"Variables": {"OUT": out}})["FunctionArn"]
machine = sfn.create_state_machine(name="tick", roleArn=role, definition=json.dumps(
    {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
url, arn = queue("universal")
hourly = lambda name, target: scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 hour)",
    FlexibleTimeWindow=off, Target=dict(target, RoleArn=role))
# Rates without a StartDate fire at once.
hourly("function", {"Arn": fn, "Input": '{"job": "function"}'})
hourly("machine", {"Arn": machine, "Input": '{"job": "machine"}'})
kinesis = client("kinesis")
kinesis.create_stream(StreamName="ticks", ShardCount=1)
stream = kinesis.describe_stream_summary(StreamName="ticks")["StreamDescriptionSummary"]["StreamARN"]
hourly("stream", {"Arn": stream, "Input": "to the stream", "KinesisParameters": {"PartitionKey": "k"}})
hourly("sdk", {"Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage",
               "Input": json.dumps({"QueueUrl": url, "MessageBody": "from the universal target"})})
wait("the function's event", lambda: os.path.exists(out) and open(out).read().strip() != "", timeout=30)
assert [json.loads(l) for l in open(out).read().splitlines()] == [{"job": "function"}]
def executions():
    return sfn.list_executions(stateMachineArn=machine)["executions"]
wait("the execution", lambda: len(executions()) == 1)
execution = sfn.describe_execution(executionArn=executions()[0]["executionArn"])
assert json.loads(execution["input"]) == {"job": "machine"}, execution
assert [m["Body"] for m in drain(url, 1)] == ["from the universal target"]
iterator = kinesis.get_shard_iterator(StreamName="ticks", ShardId="shardId-000000000000",
    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
records = kinesis.get_records(ShardIterator=iterator)["Records"]
assert [(r["Data"], r["PartitionKey"]) for r in records] == [(b"to the stream", "k")], records
# And the other way round: a state machine schedules a follow-up through aws-sdk:scheduler.
planner = sfn.create_state_machine(name="planner", roleArn=role, type="EXPRESS", definition=json.dumps(
    {"StartAt": "Plan", "States": {"Plan": {"Type": "Task", "End": True,
     "Resource": "arn:aws:states:::aws-sdk:scheduler:createSchedule",
     "Parameters": {"Name": "follow-up", "ScheduleExpression": "rate(1 day)", "State": "DISABLED",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"Arn": machine, "RoleArn": role}}}}}))["stateMachineArn"]
result = sfn.start_sync_execution(stateMachineArn=planner, input="{}")
assert result["status"] == "SUCCEEDED", result
assert json.loads(result["output"])["ScheduleArn"].endswith(":schedule/default/follow-up"), result
assert scheduler.get_schedule(Name="follow-up")["State"] == "DISABLED"
print("OK")
"#;
    let out = out.display().to_string();
    run_boto3(&server, &format!("{PRELUDE}{script}"), &[("OUT", &out)]);
}

#[test]
fn a_fire_missed_while_the_server_was_down_happens_once_on_restart() {
    let dir = scratch("schedules-restart");
    // Ten minutes of the server's clock per second: a rate(1 minute) schedule starting an
    // hour from now and ending 3 minutes later is due 6 s after this, for 0.3 s.
    let args = ["--time-scale", "600"];
    let mut server = Server::start(&dir, &args);
    run(
        &server,
        r#"
url, arn = queue("missed")
start = now_ms() + 60 * 60000
date = lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
scheduler.create_schedule(Name="missed", ScheduleExpression="rate(1 minute)", FlexibleTimeWindow=off,
    StartDate=date(start), EndDate=date(start + 3 * 60000),
    Target={"Arn": arn, "RoleArn": role, "Input": "<aws.scheduler.scheduled-time>"})
print("OK")
"#,
    );
    server.kill9();
    // Past the start and the end: four fires missed.
    std::thread::sleep(std::time::Duration::from_millis(7500));
    let server = Server::start(&dir, &args);
    run(
        &server,
        r#"
url = sqs.get_queue_url(QueueName="missed")["QueueUrl"]
missed = drain(url, 1)
assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages") is None
assert view()["schedules"][0]["nextFireMs"] is None, view()
print("OK")
"#,
    );
}

#[test]
fn a_failing_target_ends_in_the_dead_letter_queue() {
    let dir = scratch("schedules-dlq");
    let server = Server::start(&dir, &["--time-scale", "60"]);
    run(
        &server,
        r#"
dlq_url, dlq_arn = queue("dlq")
scheduler.create_schedule(Name="broken", ScheduleExpression="rate(1 day)", FlexibleTimeWindow=off,
    Target={"Arn": "arn:aws:sqs:us-east-1:000000000000:missing", "RoleArn": role, "Input": "lost?",
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": dlq_arn}})
[m] = drain(dlq_url, 1)
assert m["Body"] == "lost?", m
attributes = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts", attributes
assert attributes["RETRY_ATTEMPTS"] == "2", attributes
assert attributes["ERROR_CODE"] == "AWS.SimpleQueueService.NonExistentQueue" or "NonExistentQueue" in attributes["ERROR_CODE"] or "QueueDoesNotExist" in attributes["ERROR_CODE"], attributes
assert attributes["SCHEDULE_ARN"].endswith(":schedule/default/broken"), attributes
assert attributes["TARGET_ARN"] == "arn:aws:sqs:us-east-1:000000000000:missing", attributes
tick = view()["schedules"][0]
assert tick["failedAttempts"] == 3 and tick["deadLettered"] == 1, tick
print("OK")
"#,
    );
}
