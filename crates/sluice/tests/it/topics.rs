//! SNS on `sluice serve`, through the real clients: a topic fanned out to queues (envelope and
//! raw, attribute and body filter policies), a Python function and an HTTP endpoint that
//! confirms its subscription and verifies every signature with `openssl`; AWS's errors through
//! the `aws` CLI; FIFO topics deduplicating across `kill -9`.

use std::process::Output;

use serde_json::Value;

use crate::common::*;

fn sns(server: &Server, args: &[&str]) -> Output {
    sluice_test_util::aws_cli(&server.endpoint(), "sns", args)
}

fn sqs(server: &Server, args: &[&str]) -> Output {
    sluice_test_util::aws_cli(&server.endpoint(), "sqs", args)
}

fn python_server(dir: &std::path::Path) -> Server {
    let python = venv().join("bin/python").display().to_string();
    Server::start(dir, &["--python", &python])
}

/// The fan-out of the seeds: one topic, three queues (everything as signed envelopes; raw
/// messages filtered on an attribute; messages filtered on their JSON body), a function and
/// an HTTP endpoint. The endpoint is a Python server in the script: it receives the
/// SubscriptionConfirmation, checks its signature with `openssl` against the certificate at
/// `SigningCertURL`, confirms by visiting `SubscribeURL`, then checks each notification.
const FAN_OUT: &str = r#"
import base64, http.server, io, json, os, subprocess, tempfile, threading, time, urllib.request, zipfile
endpoint = os.environ["ENDPOINT"]

sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
work = tempfile.mkdtemp()

def canonical(m):
    keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"] if m["Type"] == "Notification" else ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{k}\n{m[k]}\n" for k in keys if m.get(k) is not None)

certs = {}
def verify(m, cert_key="SigningCertURL"):
    url = m[cert_key]
    if url not in certs:
        pem = urllib.request.urlopen(url).read()
        path = os.path.join(work, f"cert{len(certs)}.pem")
        open(path, "wb").write(pem)
        pub = subprocess.run(["openssl", "x509", "-in", path, "-pubkey", "-noout"], check=True, capture_output=True).stdout
        certs[url] = os.path.join(work, f"pub{len(certs)}.pem")
        open(certs[url], "wb").write(pub)
    digest = "-sha256" if m["SignatureVersion"] == "2" else "-sha1"
    data = os.path.join(work, "data"); sig = os.path.join(work, "sig")
    open(data, "w").write(canonical(m))
    open(sig, "wb").write(base64.b64decode(m["Signature"]))
    out = subprocess.run(["openssl", "dgst", digest, "-verify", certs[url], "-signature", sig, data], capture_output=True, text=True)
    assert out.stdout.strip() == "Verified OK", (out.stdout, out.stderr, m)

received = []
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["x-amz-sns-message-type"] == body["Type"], dict(self.headers)
        assert self.headers["x-amz-sns-topic-arn"] == body["TopicArn"]
        verify(body)
        if body["Type"] == "SubscriptionConfirmation":
            urllib.request.urlopen(body["SubscribeURL"]).read()
        else:
            assert self.headers["x-amz-sns-subscription-arn"].startswith(body["TopicArn"] + ":")
            # The topic's delivery policy names the content type.
            assert self.headers["Content-Type"] == "application/json", dict(self.headers)
            received.append(body)
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()

topic = sns.create_topic(Name="detections", Attributes={"SignatureVersion": "2"})["TopicArn"]
assert sns.create_topic(Name="detections", Attributes={"SignatureVersion": "2"})["TopicArn"] == topic
sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy",
    AttributeValue=json.dumps({"http": {"defaultRequestPolicy": {"headerContentType": "application/json"}}}))
stored = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DeliveryPolicy"])
assert stored == {"http": {"defaultRequestPolicy": {"headerContentType": "application/json"}, "disableSubscriptionOverrides": False}}, stored
queues = {}
for name in ["all", "raw-high", "body-alerts"]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queues[name] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues["all"][1])
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues["raw-high"][1], Attributes={
    "RawMessageDelivery": "true", "FilterPolicy": json.dumps({"severity": ["high"], "score": [{"numeric": [">=", 80]}]})})
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues["body-alerts"][1], Attributes={
    "FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"kind": ["alert"], "host": {"os": [{"prefix": "win"}]}})})

code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("record.py", "import json, os\ndef handler(event, context):\n    open(os.environ['OUT'], 'a').write(json.dumps(event) + '\\n')\n")
out = os.path.join(work, "lambda.jsonl")
function = lam.create_function(FunctionName="recorder", Runtime="python3.12", Handler="record.handler",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()}, Environment={"Variables": {"OUT": out}})["FunctionArn"]
sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)

pending = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"http://127.0.0.1:{hook.server_port}/hook")
assert pending["SubscriptionArn"] == "pending confirmation", pending
deadline = time.time() + 20
while time.time() < deadline:
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    if all(s["SubscriptionArn"] != "PendingConfirmation" for s in subs):
        break
    time.sleep(0.05)
else:
    raise AssertionError(f"the HTTP subscription was never confirmed: {subs}")
attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
assert attrs["SubscriptionsConfirmed"] == "5" and attrs["SubscriptionsPending"] == "0", attrs
http_sub = [x for x in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if x["Protocol"] == "http"][0]
effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=http_sub["SubscriptionArn"])["Attributes"]["EffectiveDeliveryPolicy"])
assert effective["requestPolicy"] == {"headerContentType": "application/json"} and effective["healthyRetryPolicy"]["numRetries"] == 3, effective

high = {"severity": {"DataType": "String", "StringValue": "high"}, "score": {"DataType": "Number", "StringValue": "91"}}
sns.publish(TopicArn=topic, Subject="EDR", Message=json.dumps({"kind": "alert", "host": {"os": "windows"}}), MessageAttributes=high)
sns.publish(TopicArn=topic, Message="not json", MessageAttributes={"severity": {"DataType": "String", "StringValue": "low"}})
batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
    {"Id": "a", "Message": json.dumps({"kind": "alert", "host": {"os": "linux"}}), "MessageAttributes": {**high, "score": {"DataType": "Number", "StringValue": "50"}}},
    {"Id": "b", "Message": json.dumps({"kind": "audit"})},
])
assert [e["Id"] for e in batch["Successful"]] == ["a", "b"] and batch["Failed"] == [], batch

def drain(url, want):
    got = []
    deadline = time.time() + 10
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got

envelopes = [json.loads(m["Body"]) for m in drain(queues["all"][0], 4)]
assert len(envelopes) == 4, envelopes
for e in envelopes:
    assert e["Type"] == "Notification" and e["TopicArn"] == topic and e["SignatureVersion"] == "2", e
    verify(e)
assert sorted(e.get("Subject", "") for e in envelopes) == ["", "", "", "EDR"]
assert {e["MessageAttributes"]["severity"]["Value"] for e in envelopes if "MessageAttributes" in e} == {"high", "low"}

raw = drain(queues["raw-high"][0], 1)
assert [json.loads(m["Body"])["host"]["os"] for m in raw] == ["windows"], raw
assert raw[0]["MessageAttributes"]["score"] == {"StringValue": "91", "DataType": "Number"}, raw[0]
body = drain(queues["body-alerts"][0], 1)
assert [json.loads(json.loads(m["Body"])["Message"])["host"]["os"] for m in body] == ["windows"], body
time.sleep(0.5)
assert drain(queues["raw-high"][0], 1) == [] and drain(queues["body-alerts"][0], 1) == []

deadline = time.time() + 30
while time.time() < deadline and (len(received) < 4 or not os.path.exists(out) or len(open(out).readlines()) < 4):
    time.sleep(0.1)
assert sorted(m["Message"] for m in received) == sorted(e["Message"] for e in envelopes), received
events = [json.loads(line) for line in open(out)]
assert len(events) == 4, events
for event in events:
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"].startswith(topic + ":"), record
    assert record["Sns"]["TopicArn"] == topic and "SigningCertUrl" in record["Sns"] and "Subject" in record["Sns"], record
    verify(record["Sns"], "SigningCertUrl")

# The unsubscribe link in every notification works, unsigned.
urllib.request.urlopen(envelopes[0]["UnsubscribeURL"]).read()
assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 4
print("OK")
"#;

#[test]
fn a_topic_fans_out_to_queues_a_function_and_an_http_endpoint_with_verified_signatures() {
    let dir = scratch("topics-fan-out");
    let server = python_server(&dir);
    run_boto3(&server, FAN_OUT, &[]);
}

#[test]
fn bad_requests_get_snss_errors_through_the_cli() {
    let dir = scratch("topics-errors");
    let server = Server::start(&dir, &[]);
    let topic = ok_json(&sns(&server, &["create-topic", "--name", "t"]))["TopicArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let missing = topic.replace(":t", ":missing");
    let cases: Vec<(Vec<&str>, &str, &str, &str)> = vec![
        (
            vec!["get-topic-attributes", "--topic-arn", &missing],
            "NotFound",
            "GetTopicAttributes",
            "Topic does not exist",
        ),
        (
            vec!["get-topic-attributes", "--topic-arn", "nope"],
            "InvalidParameter",
            "GetTopicAttributes",
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
        ),
        (
            vec!["publish", "--topic-arn", &topic, "--message", ""],
            "InvalidParameter",
            "Publish",
            "Invalid parameter: Empty message",
        ),
        (
            vec![
                "publish",
                "--topic-arn",
                &topic,
                "--message",
                "{}",
                "--message-structure",
                "json",
            ],
            "InvalidParameter",
            "Publish",
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
        (
            vec![
                "publish",
                "--topic-arn",
                &topic,
                "--message",
                "m",
                "--message-deduplication-id",
                "d",
            ],
            "InvalidParameter",
            "Publish",
            "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
        ),
        (
            vec![
                "publish",
                "--topic-arn",
                &topic,
                "--message",
                "m",
                "--message-attributes",
                r#"{"a^b":{"DataType":"String","StringValue":"x"}}"#,
            ],
            "ParameterValueInvalid",
            "Publish",
            "Invalid non-alphanumeric character '#x5E' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
        ),
        (
            vec![
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "test-protocol",
                "--notification-endpoint",
                "x",
            ],
            "InvalidParameter",
            "Subscribe",
            "Invalid parameter: Amazon SNS does not support this protocol string: test-protocol",
        ),
        (
            vec![
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "sqs",
                "--notification-endpoint",
                "http://localhost/000000000000/q",
            ],
            "InvalidParameter",
            "Subscribe",
            "Invalid parameter: SQS endpoint ARN",
        ),
        (
            vec![
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "sqs",
                "--notification-endpoint",
                "arn:aws:sqs:us-east-1:000000000000:q.fifo",
            ],
            "InvalidParameter",
            "Subscribe",
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
        ),
        (
            vec![
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "sqs",
                "--notification-endpoint",
                "arn:aws:sqs:us-east-1:000000000000:q",
                "--attributes",
                r#"{"RawMessageDelivery":"wrongvalue"}"#,
            ],
            "InvalidParameter",
            "Subscribe",
            "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [wrongvalue]. Must be true or false.",
        ),
        (
            vec![
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "sqs",
                "--notification-endpoint",
                "arn:aws:sqs:us-east-1:000000000000:q",
                "--attributes",
                r#"{"FilterPolicy":"{\"a\":[{\"numeric\":[\">\",\"x\"]}]}"}"#,
            ],
            "InvalidParameter",
            "Subscribe",
            "Invalid parameter: Attributes Reason: FilterPolicy: Value of > must be numeric",
        ),
        (
            vec![
                "unsubscribe",
                "--subscription-arn",
                "arn:aws:sns:us-east-1:000000000000:t",
            ],
            "InvalidParameter",
            "Unsubscribe",
            "Invalid parameter: SubscriptionId",
        ),
        (
            vec!["create-topic", "--name", "bad name"],
            "InvalidParameter",
            "CreateTopic",
            "Invalid parameter: Topic Name",
        ),
        (
            vec![
                "create-topic",
                "--name",
                "t",
                "--attributes",
                r#"{"DisplayName":"other"}"#,
            ],
            "InvalidParameter",
            "CreateTopic",
            "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
        ),
    ];
    for (args, code, operation, message) in cases {
        assert_cli_error(&sns(&server, &args), code, operation, message);
    }
    // Batch rules.
    let entries: Vec<String> = (0..11).map(|i| format!("Id=m{i},Message=x")).collect();
    let mut args = vec![
        "publish-batch",
        "--topic-arn",
        &topic,
        "--publish-batch-request-entries",
    ];
    args.extend(entries.iter().map(String::as_str));
    assert_cli_error(
        &sns(&server, &args),
        "TooManyEntriesInBatchRequest",
        "PublishBatch",
        "The batch request contains more entries than permissible.",
    );
    assert_cli_error(
        &sns(
            &server,
            &[
                "publish-batch",
                "--topic-arn",
                &topic,
                "--publish-batch-request-entries",
                "Id=a,Message=x",
                "Id=a,Message=y",
            ],
        ),
        "BatchEntryIdsNotDistinct",
        "PublishBatch",
        "Two or more batch entries in the request have the same Id.",
    );
}

#[test]
fn a_fifo_topic_keeps_order_and_deduplicates_across_kill_9() {
    let dir = scratch("topics-fifo");
    let mut server = Server::start(&dir, &[]);
    let topic = ok_json(&sns(
        &server,
        &[
            "create-topic",
            "--name",
            "orders.fifo",
            "--attributes",
            r#"{"FifoTopic":"true","ContentBasedDeduplication":"true"}"#,
        ],
    ))["TopicArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = ok_json(&sqs(
        &server,
        &[
            "create-queue",
            "--queue-name",
            "orders.fifo",
            "--attributes",
            r#"{"FifoQueue":"true"}"#,
        ],
    ))["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_json(&sns(
        &server,
        &[
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "sqs",
            "--notification-endpoint",
            "arn:aws:sqs:us-east-1:000000000000:orders.fifo",
            "--attributes",
            r#"{"RawMessageDelivery":"true"}"#,
        ],
    ));
    assert_cli_error(
        &sns(
            &server,
            &["publish", "--topic-arn", &topic, "--message", "x"],
        ),
        "InvalidParameter",
        "Publish",
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
    );
    let publish = |server: &Server, message: &str| {
        ok_json(&sns(
            server,
            &[
                "publish",
                "--topic-arn",
                &topic,
                "--message",
                message,
                "--message-group-id",
                "g",
            ],
        ))
    };
    let first = publish(&server, "one");
    assert!(first["SequenceNumber"].as_str().is_some(), "{first}");
    let again = publish(&server, "one");
    assert_eq!(
        again["MessageId"], first["MessageId"],
        "deduplicated by content"
    );
    publish(&server, "two");
    server.kill9();
    let server = Server::start(&dir, &[]);
    let after = publish(&server, "one");
    assert_eq!(
        after["MessageId"], first["MessageId"],
        "the deduplication window outlives a kill -9"
    );
    publish(&server, "three");
    let mut bodies = Vec::new();
    while bodies.len() < 3 {
        let output = sqs(
            &server,
            &[
                "receive-message",
                "--queue-url",
                &url,
                "--max-number-of-messages",
                "10",
                "--wait-time-seconds",
                "2",
            ],
        );
        assert!(output.status.success(), "{output:?}");
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        let received = ok_json(&output);
        let Some(messages) = received["Messages"].as_array() else {
            break;
        };
        for m in messages {
            bodies.push(m["Body"].as_str().unwrap().to_owned());
            sqs(
                &server,
                &[
                    "delete-message",
                    "--queue-url",
                    &url,
                    "--receipt-handle",
                    m["ReceiptHandle"].as_str().unwrap(),
                ],
            );
        }
    }
    assert_eq!(bodies, ["one", "two", "three"]);
    let subscriptions: Value = ok_json(&sns(
        &server,
        &["list-subscriptions-by-topic", "--topic-arn", &topic],
    ));
    assert_eq!(
        subscriptions["Subscriptions"].as_array().unwrap().len(),
        1,
        "{subscriptions}"
    );
    // `sluice queues` shows the traffic since this start: two publications (one a
    // duplicate), one delivery, the queue drained.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["queues", "--endpoint", &server.endpoint()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    // QUEUE VISIBLE INFLIGHT DELAYED OLDEST SENT RECEIVED DELETED DLQ'D IN/S
    assert_eq!(
        row("orders.fifo")[1..9],
        ["0", "0", "0", "-", "1", "3", "3", "0"],
        "{table}"
    );
    assert!(
        table.contains("orders.fifo                      published 2"),
        "{table}"
    );
    let subscription = table
        .lines()
        .find(|line| line.contains(" sqs "))
        .unwrap_or_else(|| panic!("no subscription in\n{table}"));
    let cells: Vec<&str> = subscription.split_whitespace().collect();
    assert_eq!(cells[cells.len() - 3..], ["1", "0", "0"], "{table}");
}

/// State machines publish (`sns:publish`, and with `.waitForTaskToken` a subscriber answers)
/// and call any SNS action (`aws-sdk:sns:*`), in process.
const TASKS: &str = r#"
endpoint = os.environ["ENDPOINT"]
sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
topic = sns.create_topic(Name="approvals")["TopicArn"]
url = sqs.create_queue(QueueName="approvers")["QueueUrl"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:approvers", Attributes={"RawMessageDelivery": "true"})
definition = {"StartAt": "Announce", "States": {
    "Announce": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic, "Message": {"order.$": "$.order"}, "Subject": "new order",
                       "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "order"}}},
        "ResultPath": "$.announced", "Next": "Ask"},
    "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
        "Parameters": {"TopicArn": topic, "Message": {"token.$": "$$.Task.Token"}},
        "ResultPath": "$.approval", "Next": "List"},
    "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sns:listSubscriptionsByTopic",
        "Parameters": {"TopicArn": topic}, "ResultSelector": {"n.$": "States.ArrayLength($.Subscriptions)"},
        "ResultPath": "$.subscriptions", "Next": "Missing"},
    "Missing": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic + "-nope", "Message": "x"},
        "Catch": [{"ErrorEquals": ["Sns.NotFoundException"], "ResultPath": "$.caught", "Next": "Done"}],
        "Next": "Done"},
    "Done": {"Type": "Pass", "End": True}}}
machine = sfn.create_state_machine(name="publisher", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"order": 7}))["executionArn"]
token = None
deadline = time.time() + 20
seen = []
while token is None and time.time() < deadline:
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        body = json.loads(m["Body"])
        seen.append(body)
        token = body.get("token", token)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
assert token and seen[0] == {"order": 7}, seen
sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
while time.time() < deadline:
    d = sfn.describe_execution(executionArn=execution)
    if d["status"] != "RUNNING":
        break
    time.sleep(0.1)
assert d["status"] == "SUCCEEDED", d
out = json.loads(d["output"])
assert len(out["announced"]["MessageId"]) == 36, out
assert out["approval"] == {"approved": True}, out
assert out["subscriptions"] == {"n": 1}, out
assert out["caught"]["Error"] == "Sns.NotFoundException", out
print("OK")
"#;

#[test]
fn state_machines_publish_to_topics_and_wait_for_their_subscribers() {
    let dir = scratch("topics-tasks");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, TASKS, &[]);
}

/// A function's asynchronous invocation records go to a queue on success and to a topic (and
/// through it to a queue) on failure, as Lambda destinations.
const DESTINATIONS: &str = r#"
import io, zipfile
endpoint = os.environ["ENDPOINT"]
clients = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
sns = boto3.client("sns", **clients)
sqs = boto3.client("sqs", **clients)
lam = boto3.client("lambda", **clients)
ok_url = sqs.create_queue(QueueName="succeeded")["QueueUrl"]
failed_url = sqs.create_queue(QueueName="failed")["QueueUrl"]
topic = sns.create_topic(Name="failures")["TopicArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:failed", Attributes={"RawMessageDelivery": "true"})
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("h.py", "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('no')\n    return {'echo': event}\n")
lam.create_function(FunctionName="worker", Runtime="python3.12", Handler="h.handler",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()})
lam.put_function_event_invoke_config(FunctionName="worker", MaximumRetryAttempts=0, DestinationConfig={
    "OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:succeeded"},
    "OnFailure": {"Destination": topic}})
lam.invoke(FunctionName="worker", InvocationType="Event", Payload=json.dumps({"n": 1}))
lam.invoke(FunctionName="worker", InvocationType="Event", Payload=json.dumps({"fail": True}))

def one(url):
    deadline = time.time() + 30
    while time.time() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if got:
            return json.loads(got[0]["Body"])
    raise AssertionError(f"nothing arrived in {url}")

success = one(ok_url)
assert success["requestContext"]["condition"] == "Success", success
assert success["requestPayload"] == {"n": 1} and success["responsePayload"] == {"echo": {"n": 1}}, success
failure = one(failed_url)
assert failure["requestContext"]["condition"] == "RetriesExhausted", failure
assert failure["responseContext"]["functionError"] == "Unhandled", failure
assert failure["requestPayload"] == {"fail": True}, failure
print("OK")
"#;

#[test]
fn invocation_records_go_to_queue_and_topic_destinations() {
    let dir = scratch("topics-destinations");
    let server = python_server(&dir);
    run_boto3(&server, DESTINATIONS, &[]);
}

/// One Publish over a plain socket, in the query protocol: the HTTP status.
fn publish_form(port: u16, topic: &str, message: &str) -> std::io::Result<u16> {
    use std::io::{Read as _, Write as _};
    let body = format!("Action=Publish&Version=2010-03-31&TopicArn={topic}&Message={message}");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| text.contains("</PublishResponse>") || !text.starts_with("HTTP/1.1 200"))
        .ok_or_else(|| std::io::Error::other("no complete answer"))
}

/// Publishers under load while the server is `kill -9`ed at random points (bounded rounds),
/// then every acknowledged publication reconciled in both subscribed queues: none lost;
/// duplicates counted and reported.
#[test]
fn no_acknowledged_publication_is_lost_across_kill_9() {
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let dir = scratch("topics-crash");
    let mut server = Server::start(&dir, &[]);
    let topic = ok_json(&sns(&server, &["create-topic", "--name", "crash"]))["TopicArn"]
        .as_str()
        .unwrap()
        .to_owned();
    for queue in ["a", "b"] {
        ok_json(&sqs(&server, &["create-queue", "--queue-name", queue]));
        ok_json(&sns(
            &server,
            &[
                "subscribe",
                "--topic-arn",
                &topic,
                "--protocol",
                "sqs",
                "--notification-endpoint",
                &format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
                "--attributes",
                r#"{"RawMessageDelivery":"true"}"#,
            ],
        ));
    }
    let port = Arc::new(AtomicU16::new(server.port));
    let published: Arc<Mutex<HashSet<String>>> = Arc::default();
    for round in 0..4 {
        let stop = Arc::new(AtomicBool::new(false));
        let publishers: Vec<_> = (0..2)
            .map(|publisher| {
                let (stop, published, port, topic) =
                    (stop.clone(), published.clone(), port.clone(), topic.clone());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let message = format!("m-{round}-{publisher}-{n}");
                        if let Ok(200) =
                            publish_form(port.load(Ordering::Relaxed), &topic, &message)
                        {
                            published.lock().unwrap().insert(message);
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + fastrand::u64(..600)));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for publisher in publishers {
            publisher.join().unwrap();
        }
        server = Server::start(&dir, &[]);
        port.store(server.port, Ordering::Relaxed);
    }
    let published = published.lock().unwrap();
    let mut report = Vec::new();
    for queue in ["a", "b"] {
        let url = format!("http://127.0.0.1/000000000000/{queue}");
        let mut times: HashMap<String, usize> = HashMap::new();
        loop {
            let request = serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1});
            let (status, got) =
                call_target(server.port, "AmazonSQS.ReceiveMessage", &request).unwrap();
            assert_eq!(status, 200, "{got}");
            let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
                break;
            };
            for message in messages {
                *times
                    .entry(message["Body"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                let request =
                    serde_json::json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]});
                let (status, _) =
                    call_target(server.port, "AmazonSQS.DeleteMessage", &request).unwrap();
                assert_eq!(status, 200);
            }
        }
        let lost: Vec<&String> = published
            .iter()
            .filter(|m| !times.contains_key(*m))
            .collect();
        let duplicates: usize = times.values().map(|n| n - 1).sum();
        report.push(format!(
            "queue {queue}: {} received, {duplicates} duplicates, {} lost",
            times.len(),
            lost.len()
        ));
        assert!(lost.is_empty(), "lost in {queue}: {lost:?}");
    }
    eprintln!(
        "topic crash test: {} acknowledged publications; {}",
        published.len(),
        report.join("; ")
    );
    assert!(published.len() > 50, "the load ran: {}", published.len());
}

/// The seeds' flow end to end with the real clients: publications to a topic fan out to a
/// queue, and an event-source mapping drives parallel importers (a Python function) that
/// acknowledge by returning; every publication is imported once the queue drains.
const IMPORTERS: &str = r#"
import io, zipfile
endpoint = os.environ["ENDPOINT"]
clients = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
sns = boto3.client("sns", **clients)
sqs = boto3.client("sqs", **clients)
lam = boto3.client("lambda", **clients)
out = os.environ["OUT"]
topic = sns.create_topic(Name="objects")["TopicArn"]
url = sqs.create_queue(QueueName="imports", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:imports")
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("importer.py", "import json, os\ndef handler(event, context):\n    with open(os.environ['OUT'], 'a') as f:\n        for r in event['Records']:\n            f.write(json.loads(r['body'])['Message'] + '\\n')\n")
lam.create_function(FunctionName="importer", Runtime="python3.12", Handler="importer.handler",
    Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code.getvalue()}, Environment={"Variables": {"OUT": out}})
lam.create_event_source_mapping(FunctionName="importer", EventSourceArn="arn:aws:sqs:us-east-1:000000000000:imports",
    BatchSize=10, ScalingConfig={"MaximumConcurrency": 4})
sent = set()
for batch in range(20):
    entries = [{"Id": str(i), "Message": f"object-{batch}-{i}"} for i in range(10)]
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    sent.update(e["Message"] for e in entries)
deadline = time.time() + 60
imported = set()
while time.time() < deadline:
    if os.path.exists(out):
        imported = set(open(out).read().split())
    if imported >= sent:
        break
    time.sleep(0.2)
assert imported == sent, (len(imported), len(sent))
deadline = time.time() + 10
while time.time() < deadline:
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    if left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0":
        break
    time.sleep(0.2)
assert left["ApproximateNumberOfMessages"] == "0" and left["ApproximateNumberOfMessagesNotVisible"] == "0", left
print("OK")
"#;

#[test]
fn publications_reach_parallel_importers_through_a_queue_and_a_mapping() {
    let dir = scratch("topics-importers");
    let server = python_server(&dir);
    let out = dir.join("imported.txt");
    run_boto3(&server, IMPORTERS, &[("OUT", out.to_str().unwrap())]);
}

/// An HTTP endpoint that confirms its subscription, then fails every notification: SNS retries
/// per the subscription's delivery policy, then moves the notification to the subscription's
/// dead-letter queue.
const HTTP_DEAD_LETTERS: &str = r#"
import http.server, threading, urllib.request
endpoint = os.environ["ENDPOINT"]
clients = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
sns = boto3.client("sns", **clients)
sqs = boto3.client("sqs", **clients)
attempts = []
class Failing(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["Type"] == "SubscriptionConfirmation":
            urllib.request.urlopen(body["SubscribeURL"]).read()
            self.send_response(200)
        else:
            attempts.append(time.time())
            self.send_response(500)
        self.end_headers()
    def log_message(self, *args):
        pass
hook = http.server.HTTPServer(("127.0.0.1", 0), Failing)
threading.Thread(target=hook.serve_forever, daemon=True).start()
topic = sns.create_topic(Name="alerts")["TopicArn"]
dlq = sqs.create_queue(QueueName="undeliverable")["QueueUrl"]
sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=f"http://127.0.0.1:{hook.server_port}/", ReturnSubscriptionArn=True, Attributes={
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:undeliverable"}),
    "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1}})})["SubscriptionArn"]
deadline = time.time() + 20
while sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "true":
    assert time.time() < deadline, "never confirmed"
    time.sleep(0.05)
sns.publish(TopicArn=topic, Message="cannot be delivered")
got = []
while not got and time.time() < deadline:
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
assert got, "nothing reached the dead-letter queue"
assert json.loads(got[0]["Body"])["Message"] == "cannot be delivered", got
assert len(attempts) == 3, attempts
print("OK")
"#;

#[test]
fn undeliverable_http_notifications_reach_the_subscriptions_dead_letter_queue() {
    let dir = scratch("topics-http-dlq");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, HTTP_DEAD_LETTERS, &[]);
}

/// A minimal HTTP endpoint on `listener`: each request's body goes to the channel, answered
/// 200.
fn http_endpoint(listener: std::net::TcpListener) -> std::sync::mpsc::Receiver<String> {
    use std::io::{BufRead as _, Read as _, Write as _};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

/// A notification whose HTTP endpoint is down when the server is killed is delivered after the
/// restart, once the endpoint is back: pending deliveries are durable.
#[test]
fn a_pending_http_delivery_survives_kill_9() {
    use std::time::Duration;
    let dir = scratch("topics-http-restart");
    let mut server = Server::start(&dir, &[]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let received = http_endpoint(listener);
    let topic = ok_json(&sns(&server, &["create-topic", "--name", "hooks"]))["TopicArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("http://{address}/hook");
    ok_json(&sns(
        &server,
        &[
            "subscribe",
            "--topic-arn",
            &topic,
            "--protocol",
            "http",
            "--notification-endpoint",
            &url,
        ],
    ));
    let confirmation: Value =
        serde_json::from_str(&received.recv_timeout(Duration::from_secs(20)).unwrap()).unwrap();
    assert_eq!(confirmation["Type"], "SubscriptionConfirmation");
    ok_json(&sns(
        &server,
        &[
            "confirm-subscription",
            "--topic-arn",
            &topic,
            "--token",
            confirmation["Token"].as_str().unwrap(),
        ],
    ));
    // The endpoint goes away: the first attempt fails and the next waits 20 s.
    drop(received);
    let _ = std::net::TcpStream::connect(address);
    std::thread::sleep(Duration::from_millis(200));
    ok_json(&sns(
        &server,
        &["publish", "--topic-arn", &topic, "--message", "kept"],
    ));
    std::thread::sleep(Duration::from_millis(300));
    server.kill9();
    let listener = std::net::TcpListener::bind(address).expect("the endpoint's port again");
    let received = http_endpoint(listener);
    let _server = Server::start(&dir, &[]);
    let notification: Value =
        serde_json::from_str(&received.recv_timeout(Duration::from_secs(15)).unwrap()).unwrap();
    assert_eq!(notification["Type"], "Notification", "{notification}");
    assert_eq!(notification["Message"], "kept", "{notification}");
}

/// HTTPS endpoints: one whose certificate chains to an authority the server trusts (named by
/// `SSL_CERT_FILE`) confirms and receives a verified notification; one whose certificate comes
/// from an unknown authority never gets a request, as SNS refuses untrusted endpoints.
const HTTPS: &str = r#"
import http.server, ssl, threading, urllib.request
endpoint = os.environ["ENDPOINT"]
sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))

def serve(cert, key):
    received = []
    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if body["Type"] == "SubscriptionConfirmation":
                urllib.request.urlopen(body["SubscribeURL"]).read()
            received.append(body)
            self.send_response(200); self.end_headers()
        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_port, received

trusted_port, trusted = serve(os.environ["TRUSTED_CERT"], os.environ["TRUSTED_KEY"])
stranger_port, stranger = serve(os.environ["STRANGER_CERT"], os.environ["STRANGER_KEY"])
topic = sns.create_topic(Name="secure")["TopicArn"]
sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=f"https://127.0.0.1:{trusted_port}/hook")
sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=f"https://127.0.0.1:{stranger_port}/hook")
deadline = time.time() + 20
while time.time() < deadline and not any(m["Type"] == "SubscriptionConfirmation" for m in trusted):
    time.sleep(0.05)
assert [m["Type"] for m in trusted] == ["SubscriptionConfirmation"], trusted
subs = {s["Endpoint"]: s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
assert subs[f"https://127.0.0.1:{trusted_port}/hook"].startswith(topic + ":"), subs
assert subs[f"https://127.0.0.1:{stranger_port}/hook"] == "PendingConfirmation", subs
sns.publish(TopicArn=topic, Message="over tls")
deadline = time.time() + 20
while time.time() < deadline and len(trusted) < 2:
    time.sleep(0.05)
assert trusted[1]["Type"] == "Notification" and trusted[1]["Message"] == "over tls", trusted
assert stranger == [], stranger
print("OK")
"#;

/// An authority and a leaf certificate for 127.0.0.1 signed by it, made with `openssl`:
/// (authority's certificate, leaf's certificate, leaf's key).
fn certificate_chain(dir: &std::path::Path, name: &str) -> [String; 3] {
    let path = |file: &str| dir.join(format!("{name}-{file}")).display().to_string();
    let openssl = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let (ca, ca_key, key, csr, cert, ext) = (
        path("ca.pem"),
        path("ca.key"),
        path("leaf.key"),
        path("leaf.csr"),
        path("leaf.pem"),
        path("leaf.ext"),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-subj",
        &format!("/CN={name} authority"),
        "-days",
        "2",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    [ca, cert, key]
}

#[test]
fn https_endpoints_are_reached_only_when_their_certificate_is_trusted() {
    let dir = scratch("topics-https");
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let [trusted_ca, trusted_cert, trusted_key] = certificate_chain(&certs, "trusted");
    let [_, stranger_cert, stranger_key] = certificate_chain(&certs, "stranger");
    let server = Server::start_with_env(
        &dir.join("data"),
        &[],
        &[
            ("SSL_CERT_FILE", &trusted_ca),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    run_boto3(
        &server,
        HTTPS,
        &[
            ("TRUSTED_CERT", &trusted_cert),
            ("TRUSTED_KEY", &trusted_key),
            ("STRANGER_CERT", &stranger_cert),
            ("STRANGER_KEY", &stranger_key),
        ],
    );
}

/// The X-Ray header a publisher sends reaches the subscribed queue's message as its
/// `AWSTraceHeader`, as AWS propagates it.
const TRACE: &str = r#"
endpoint = os.environ["ENDPOINT"]
clients = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
sns = boto3.client("sns", **clients)
sqs = boto3.client("sqs", **clients)
trace = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"
sns.meta.events.register("before-send.sns.Publish", lambda request, **kwargs: request.headers.__setitem__("X-Amzn-Trace-Id", trace))
topic = sns.create_topic(Name="traced")["TopicArn"]
url = sqs.create_queue(QueueName="traced")["QueueUrl"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:traced")
sns.publish(TopicArn=topic, Message="followed")
got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
assert got[0]["Attributes"]["AWSTraceHeader"] == trace, got
assert json.loads(got[0]["Body"])["Message"] == "followed", got
print("OK")
"#;

#[test]
fn the_publishers_trace_header_reaches_the_queue() {
    let dir = scratch("topics-trace");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, TRACE, &[]);
}
