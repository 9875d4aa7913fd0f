//! SQS on `sluice serve`, through the real clients: the `aws` CLI and boto3 (AWS JSON 1.0, as
//! current SDKs speak it) and raw query-protocol requests (as older SDKs send them); what an
//! acknowledged send or delete leaves after `kill -9`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

fn sqs(server: &Server, args: &[&str]) -> Output {
    sluice_test_util::aws_cli(&server.endpoint(), "sqs", args)
}

fn sqs_json(server: &Server, args: &[&str]) -> Value {
    ok_json(&sqs(server, args))
}

fn bodies(received: &Value) -> Vec<String> {
    let mut bodies: Vec<String> = received["Messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| m["Body"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    bodies.sort();
    bodies
}

#[test]
fn acknowledged_sends_and_deletes_survive_kill_9_through_the_aws_cli() {
    let dir = scratch("queues-kill9");
    let mut server = Server::start(&dir, &[]);
    let url = sqs_json(&server, &["create-queue", "--queue-name", "orders"])["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(url, format!("{}/000000000000/orders", server.endpoint()));
    for body in ["a", "b", "c"] {
        let sent = sqs_json(
            &server,
            &["send-message", "--queue-url", &url, "--message-body", body],
        );
        // MD5 of the body, as AWS computes it (and the SDKs check).
        assert_eq!(
            sent["MD5OfMessageBody"].as_str().unwrap().len(),
            32,
            "{sent}"
        );
    }
    let first = sqs_json(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &url,
            "--max-number-of-messages",
            "2",
            "--visibility-timeout",
            "30",
        ],
    );
    assert_eq!(bodies(&first), ["a", "b"]);
    let receipt = first["Messages"][0]["ReceiptHandle"].as_str().unwrap();
    let deleted = first["Messages"][0]["Body"].as_str().unwrap().to_owned();
    let output = sqs(
        &server,
        &[
            "delete-message",
            "--queue-url",
            &url,
            "--receipt-handle",
            receipt,
        ],
    );
    assert!(output.status.success(), "{output:?}");

    server.kill9();
    let server = Server::start(&dir, &[]);
    // The restarted server listens on another port: the same queue, through its address.
    let url = format!("{}/000000000000/orders", server.endpoint());
    // The one never received is there at once; the undeleted received one after its timeout.
    let now = sqs_json(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &url,
            "--max-number-of-messages",
            "10",
            "--visibility-timeout",
            "60",
        ],
    );
    assert_eq!(bodies(&now), ["c"]);
    // Past the 30 s timeout on the server's clock, without waiting for it.
    advance_clock(server.port, 31);
    let later = sqs_json(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &url,
            "--max-number-of-messages",
            "10",
            "--attribute-names",
            "ApproximateReceiveCount",
        ],
    );
    let expected: Vec<String> = ["a", "b"]
        .into_iter()
        .filter(|b| *b != deleted)
        .map(str::to_owned)
        .collect();
    assert_eq!(
        bodies(&later),
        expected,
        "the deleted message stays deleted"
    );
    assert_eq!(
        later["Messages"][0]["Attributes"]["ApproximateReceiveCount"],
        "2"
    );

    let missing = sqs(&server, &["get-queue-url", "--queue-name", "nope"]);
    assert_cli_error(
        &missing,
        "AWS.SimpleQueueService.NonExistentQueue",
        "GetQueueUrl",
        "The specified queue does not exist.",
    );
}

const BOTO3_SQS: &str = r#"
import threading, time
from botocore.exceptions import ClientError
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"max_attempts": 1}))

def code(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
assert dlq_arn == "arn:aws:sqs:us-east-1:000000000000:dead", dlq_arn
work = sqs.create_queue(QueueName="work", Attributes={
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
# The same create again is the same queue; other attributes are refused.
assert sqs.create_queue(QueueName="work")["QueueUrl"] == work
assert code(sqs.create_queue, QueueName="work", Attributes={"VisibilityTimeout": "7"}) == "QueueAlreadyExists"
assert code(sqs.create_queue, QueueName="bad", Attributes={"VisibilityTimeout": "43201"}) == "InvalidAttributeValue"

# Batches: per-entry outcomes, AWS's batch errors.
out = sqs.send_message_batch(QueueUrl=work, Entries=[
    {"Id": "1", "MessageBody": "one", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "7"}}},
    {"Id": "2", "MessageBody": "two", "DelaySeconds": 901},
])
assert [e["Id"] for e in out["Successful"]] == ["1"], out
assert out["Successful"][0]["MD5OfMessageAttributes"], out
assert [e["Id"] for e in out.get("Failed", [])] == ["2"], out
assert code(sqs.send_message_batch, QueueUrl=work, Entries=[
    {"Id": "x", "MessageBody": "a"}, {"Id": "x", "MessageBody": "b"}]) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
assert code(sqs.receive_message, QueueUrl=work, MaxNumberOfMessages=11) == "InvalidParameterValue"

# Received once (maxReceiveCount 1), not deleted: the next receive moves it to the DLQ.
got = sqs.receive_message(QueueUrl=work, VisibilityTimeout=0, MessageAttributeNames=["All"])["Messages"]
assert got[0]["Body"] == "one" and got[0]["MessageAttributes"]["n"]["StringValue"] == "7", got
assert "Messages" not in sqs.receive_message(QueueUrl=work)
dead = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
assert dead[0]["Body"] == "one", dead
assert dead[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(":work"), dead

# A long poll returns as soon as a message arrives (on a queue without a redrive policy).
plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
result = {}
def poll():
    started = time.time()
    result["messages"] = sqs.receive_message(QueueUrl=plain, WaitTimeSeconds=10).get("Messages", [])
    result["seconds"] = time.time() - started
poller = threading.Thread(target=poll)
poller.start()
time.sleep(0.5)
sqs.send_message(QueueUrl=plain, MessageBody="late")
poller.join()
assert [m["Body"] for m in result["messages"]] == ["late"], result
assert result["seconds"] < 5, result

# Visibility: back at once, and a stale receipt is no longer in flight.
m = result["messages"][0]
sqs.change_message_visibility(QueueUrl=plain, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
again = sqs.receive_message(QueueUrl=plain)["Messages"][0]
assert code(sqs.change_message_visibility, QueueUrl=plain, ReceiptHandle=m["ReceiptHandle"],
            VisibilityTimeout=5) == "AWS.SimpleQueueService.MessageNotInflight"
deleted = sqs.delete_message_batch(QueueUrl=plain, Entries=[{"Id": "a", "ReceiptHandle": again["ReceiptHandle"]}])
assert [e["Id"] for e in deleted["Successful"]] == ["a"], deleted
assert code(sqs.get_queue_attributes, QueueUrl=plain, AttributeNames=["Nope"]) == "InvalidAttributeName"
attributes = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
assert attributes["ApproximateNumberOfMessages"] == "0", attributes
assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0", attributes

# Tags, and which queues send to a dead-letter queue.
sqs.tag_queue(QueueUrl=work, Tags={"team": "sec", "tier": "1"})
sqs.untag_queue(QueueUrl=work, TagKeys=["tier"])
assert sqs.list_queue_tags(QueueUrl=work)["Tags"] == {"team": "sec"}
assert code(sqs.tag_queue, QueueUrl=work, Tags={f"k{i}": "v" for i in range(50)}) == "InvalidParameterValue"
assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [work]

sqs.set_queue_attributes(QueueUrl=work, Attributes={"VisibilityTimeout": "45"})
assert sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["VisibilityTimeout"])["Attributes"] == {"VisibilityTimeout": "45"}
assert sqs.list_queues(QueueNamePrefix="wo")["QueueUrls"] == [work]
first = sqs.list_queues(MaxResults=2)
assert len(first["QueueUrls"]) == 2 and "NextToken" in first, first
rest = sqs.list_queues(MaxResults=2, NextToken=first["NextToken"])
assert first["QueueUrls"] + rest["QueueUrls"] == [dlq, plain, work], (first, rest)
assert "NextToken" not in rest, rest
sqs.purge_queue(QueueUrl=work)
sqs.delete_queue(QueueUrl=work)
assert code(sqs.get_queue_url, QueueName="work") == "AWS.SimpleQueueService.NonExistentQueue"
print("OK")
"#;

#[test]
fn boto3_batches_long_polls_and_dead_letters() {
    let dir = scratch("queues-boto3");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, BOTO3_SQS, &[]);
}

/// One raw HTTP/1.1 exchange: (status, body).
fn post_form(port: u16, path: &str, form: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=x/20261207/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

#[test]
fn the_query_protocol_answers_in_xml() {
    let dir = scratch("queues-query");
    let server = Server::start(&dir, &[]);
    let port = server.port;
    let (status, body) = post_form(
        port,
        "/",
        "Action=CreateQueue&QueueName=legacy&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40&Version=2012-11-05",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<CreateQueueResponse"), "{body}");
    assert!(body.contains("/000000000000/legacy</QueueUrl>"), "{body}");
    // Sent to the queue's URL, without a QueueUrl parameter, as older SDKs do.
    let (status, body) = post_form(
        port,
        "/000000000000/legacy",
        "Action=SendMessage&MessageBody=hello+query&MessageAttribute.1.Name=k&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=v&Version=2012-11-05",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<MD5OfMessageBody>"), "{body}");
    assert!(body.contains("<MD5OfMessageAttributes>"), "{body}");
    let (status, body) = post_form(
        port,
        "/",
        &format!(
            "Action=ReceiveMessage&QueueUrl=http%3A%2F%2F127.0.0.1%3A{port}%2F000000000000%2Flegacy&MessageAttributeName.1=All&AttributeName.1=All&Version=2012-11-05"
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Body>hello query</Body>"), "{body}");
    assert!(body.contains("<Name>k</Name>"), "{body}");
    let (status, body) = post_form(
        port,
        "/",
        "Action=GetQueueUrl&QueueName=nope&Version=2012-11-05",
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
        "{body}"
    );
    assert!(body.contains("<Type>Sender</Type>"), "{body}");
}

/// State machines send to queues (`sqs:sendMessage`, with `.waitForTaskToken` a consumer
/// answers) and call any SQS action (`aws-sdk:sqs:*`), in process.
#[test]
fn state_machines_send_to_queues_and_wait_for_their_consumers() {
    let dir = scratch("queues-tasks");
    let server = Server::start(&dir, &[]);
    let url = sqs_json(&server, &["create-queue", "--queue-name", "jobs"])["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let definition = serde_json::json!({"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": {"order.$": "$.order"}},
                 "ResultPath": "$.sent", "Next": "Wait"},
        "Wait": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                 "Parameters": {"QueueUrl": url,
                                "MessageBody": {"token.$": "$$.Task.Token", "step": "approve"}},
                 "ResultPath": "$.approval", "Next": "Count"},
        "Count": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueAttributes",
                  "Parameters": {"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]},
                  "ResultSelector": {"left.$": "$.Attributes.ApproximateNumberOfMessages"},
                  "ResultPath": "$.count", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Parameters": {"QueueUrl": format!("{url}-nope"), "MessageBody": "x"},
                    "Catch": [{"ErrorEquals": ["Sqs.QueueDoesNotExistException"],
                               "ResultPath": "$.caught", "Next": "Done"}],
                    "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}}})
    .to_string();
    let machine = create_state_machine(&server, "queue-tasks", &definition);
    let execution = start_execution(&server, &machine, r#"{"order": 7}"#);
    // The consumer: the first message is the order, the second carries the task token.
    let mut token = None;
    for _ in 0..50 {
        let got = sqs_json(
            &server,
            &[
                "receive-message",
                "--queue-url",
                &url,
                "--max-number-of-messages",
                "10",
                "--wait-time-seconds",
                "1",
            ],
        );
        for message in got["Messages"].as_array().into_iter().flatten() {
            let body: Value = serde_json::from_str(message["Body"].as_str().unwrap()).unwrap();
            if let Some(t) = body["token"].as_str() {
                token = Some(t.to_owned());
            } else {
                assert_eq!(body, serde_json::json!({"order": 7}));
            }
            let receipt = message["ReceiptHandle"].as_str().unwrap();
            assert!(
                sqs(
                    &server,
                    &[
                        "delete-message",
                        "--queue-url",
                        &url,
                        "--receipt-handle",
                        receipt
                    ]
                )
                .status
                .success()
            );
        }
        if token.is_some() {
            break;
        }
    }
    let token = token.expect("the waiting task's message arrived");
    let output = aws(
        &server,
        &[
            "send-task-success",
            "--task-token",
            &token,
            "--task-output",
            r#"{"approved":true}"#,
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let done = wait_done(server.port, &execution, Duration::from_secs(30));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let out: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        out["sent"]["MD5OfMessageBody"].as_str().unwrap().len(),
        32,
        "{out}"
    );
    assert!(out["sent"]["MessageId"].is_string(), "{out}");
    assert_eq!(out["approval"], serde_json::json!({"approved": true}));
    assert_eq!(out["count"]["left"], "0", "{out}");
    assert_eq!(
        out["caught"]["Error"], "Sqs.QueueDoesNotExistException",
        "{out}"
    );
}

/// Producers and a consumer under load while the server is `kill -9`ed at random points
/// (bounded rounds), then every acknowledged message reconciled: none lost, none delivered
/// again after its delete was acknowledged; duplicates (at-least-once) counted and reported.
#[test]
fn no_acknowledged_message_is_lost_across_kill_9() {
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = scratch("queues-crash");
    let mut server = Server::start(&dir, &[]);
    let port = Arc::new(AtomicU16::new(server.port));
    let url = "http://127.0.0.1/000000000000/crash";
    let sqs_call = |port: u16, operation: &str, body: Value| {
        call_target(port, &format!("AmazonSQS.{operation}"), &body)
    };
    let (status, _) = sqs_call(
        server.port,
        "CreateQueue",
        serde_json::json!({"QueueName": "crash", "Attributes": {"VisibilityTimeout": "1"}}),
    )
    .unwrap();
    assert_eq!(status, 200);

    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let deleted: Arc<Mutex<HashSet<String>>> = Arc::default();
    // (body, was its delete acknowledged before this receive?)
    let received: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let mut next = 0u64;
    for round in 0..5 {
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..2)
            .map(|producer| {
                let (stop, sent, port) = (stop.clone(), sent.clone(), port.clone());
                let start = next + producer * 1_000_000;
                std::thread::spawn(move || {
                    let mut n = start;
                    while !stop.load(Ordering::Relaxed) {
                        let body = format!("m-{round}-{n}");
                        let request = serde_json::json!({"QueueUrl": url, "MessageBody": body});
                        if let Ok((200, _)) = call_target(
                            port.load(Ordering::Relaxed),
                            "AmazonSQS.SendMessage",
                            &request,
                        ) {
                            sent.lock().unwrap().insert(body);
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        next += 10_000;
        let consumer = {
            let (stop, deleted, received, port) = (
                stop.clone(),
                deleted.clone(),
                received.clone(),
                port.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let port = port.load(Ordering::Relaxed);
                    let request = serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 10});
                    let Ok((200, got)) = call_target(port, "AmazonSQS.ReceiveMessage", &request)
                    else {
                        continue;
                    };
                    for message in got["Messages"].as_array().into_iter().flatten() {
                        let body = message["Body"].as_str().unwrap().to_owned();
                        let was_deleted = deleted.lock().unwrap().contains(&body);
                        received.lock().unwrap().push((body.clone(), was_deleted));
                        let request = serde_json::json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]});
                        if let Ok((200, _)) = call_target(port, "AmazonSQS.DeleteMessage", &request)
                        {
                            deleted.lock().unwrap().insert(body);
                        }
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(200 + fastrand::u64(..600)));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for producer in producers {
            producer.join().unwrap();
        }
        consumer.join().unwrap();
        server = Server::start(&dir, &[]);
        port.store(server.port, Ordering::Relaxed);
    }

    // Drain: whatever is left, including received-but-undeleted messages after their timeout.
    std::thread::sleep(Duration::from_millis(1100));
    loop {
        let request =
            serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 2});
        let (status, got) = sqs_call(server.port, "ReceiveMessage", request).unwrap();
        assert_eq!(status, 200, "{got}");
        let Some(messages) = got["Messages"].as_array().filter(|m| !m.is_empty()) else {
            break;
        };
        for message in messages {
            let body = message["Body"].as_str().unwrap().to_owned();
            let was_deleted = deleted.lock().unwrap().contains(&body);
            received.lock().unwrap().push((body.clone(), was_deleted));
            let request =
                serde_json::json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]});
            let (status, _) = sqs_call(server.port, "DeleteMessage", request).unwrap();
            assert_eq!(status, 200);
            deleted.lock().unwrap().insert(body);
        }
    }
    let sent = sent.lock().unwrap();
    let received = received.lock().unwrap();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for (body, _) in received.iter() {
        *times.entry(body.as_str()).or_default() += 1;
    }
    let lost: Vec<&String> = sent
        .iter()
        .filter(|b| !times.contains_key(b.as_str()))
        .collect();
    let after_delete = received
        .iter()
        .filter(|(_, was_deleted)| *was_deleted)
        .count();
    let duplicates: usize = times.values().map(|n| n - 1).sum();
    eprintln!(
        "crash test: {} acknowledged sends, {} receives, {} duplicates (at-least-once), {} lost, {} after an acknowledged delete",
        sent.len(),
        received.len(),
        duplicates,
        lost.len(),
        after_delete
    );
    assert!(sent.len() > 50, "the load ran: {} sends", sent.len());
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(after_delete, 0, "redelivered after an acknowledged delete");
}

const BOTO3_MOVES: &str = r#"
import time
from botocore.exceptions import ClientError
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"max_attempts": 1}))

def code(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

def arn(url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
policy = json.dumps({"deadLetterTargetArn": arn(dlq), "maxReceiveCount": 1})
sources = [sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
           for name in ["orders", "payments"]]
other = sqs.create_queue(QueueName="other")["QueueUrl"]
# Two messages from each source end up in the DLQ.
for url in sources:
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"{url.rsplit('/', 1)[1]}-{i}")
    for _ in range(2):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
for url in sources:
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "4"

# Only a dead-letter queue can be a source; the source must exist.
assert code(sqs.start_message_move_task, SourceArn=arn(other)) == "InvalidParameterValue"
assert code(sqs.start_message_move_task, SourceArn=arn(dlq).replace("dlq", "nope")) == "ResourceNotFoundException"

# Without a destination, each message goes back to the queue it came from.
handle = sqs.start_message_move_task(SourceArn=arn(dlq))["TaskHandle"]
assert handle
for _ in range(100):
    task = sqs.list_message_move_tasks(SourceArn=arn(dlq))["Results"][0]
    if task["Status"] != "RUNNING":
        break
    time.sleep(0.05)
assert task["Status"] == "COMPLETED", task
assert task["ApproximateNumberOfMessagesMoved"] == 4, task
for url in sources:
    name = url.rsplit("/", 1)[1]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert sorted(m["Body"] for m in got) == [f"{name}-0", f"{name}-1"], got

# A rate-limited move to a destination can be cancelled; what moved stays moved.
for i in range(20):
    sqs.send_message(QueueUrl=sources[0], MessageBody=f"again-{i}")
sqs.receive_message(QueueUrl=sources[0], MaxNumberOfMessages=10, VisibilityTimeout=0)
sqs.receive_message(QueueUrl=sources[0], MaxNumberOfMessages=10, VisibilityTimeout=0)
sqs.receive_message(QueueUrl=sources[0], MaxNumberOfMessages=10, VisibilityTimeout=0)
handle = sqs.start_message_move_task(SourceArn=arn(dlq), DestinationArn=arn(other),
                                     MaxNumberOfMessagesPerSecond=5)["TaskHandle"]
assert code(sqs.start_message_move_task, SourceArn=arn(dlq)) == "InvalidParameterValue"
time.sleep(0.5)
moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
assert 0 < moved < 20, moved
time.sleep(0.5)
tasks = sqs.list_message_move_tasks(SourceArn=arn(dlq), MaxResults=10)["Results"]
assert [t["Status"] for t in tasks] == ["CANCELLED", "COMPLETED"], tasks
assert code(sqs.cancel_message_move_task, TaskHandle=handle) == "ResourceNotFoundException"
print("OK")
"#;

#[test]
fn message_move_tasks_return_dead_letters_to_their_queues() {
    let dir = scratch("queues-moves");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, BOTO3_MOVES, &[]);
}

const BOTO3_FIFO: &str = r#"
from botocore.exceptions import ClientError
sqs = boto3.client("sqs", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"max_attempts": 1}))

def code(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")

def bodies(url, **kwargs):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **kwargs).get("Messages", [])
    return [m["Body"] for m in got], got

if os.environ["PHASE"] == "before":
    assert code(sqs.create_queue, QueueName="jobs", Attributes={"FifoQueue": "true"}) == "InvalidParameterValue"
    assert code(sqs.create_queue, QueueName="jobs.fifo") == "InvalidParameterValue"
    assert code(sqs.create_queue, QueueName="std", Attributes={"ContentBasedDeduplication": "true"}) == "InvalidAttributeName"
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="d") == "MissingParameter"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="a") == "InvalidParameterValue"
    assert code(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="a",
                MessageDeduplicationId="d", DelaySeconds=5) == "InvalidParameterValue"
    sent = [sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                             MessageDeduplicationId=body)
            for body, group in [("a1", "a"), ("a2", "a"), ("b1", "b")]]
    numbers = [int(s["SequenceNumber"]) for s in sent]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3, numbers
    # The same deduplication id within five minutes: the first message's id, no second message.
    again = sqs.send_message(QueueUrl=url, MessageBody="a1 again", MessageGroupId="a",
                             MessageDeduplicationId="a1")
    assert again["MessageId"] == sent[0]["MessageId"], (again, sent[0])
    got, messages = bodies(url, MessageSystemAttributeNames=["All"])
    assert got == ["a1", "a2", "b1"], got
    assert messages[0]["Attributes"]["MessageGroupId"] == "a", messages[0]
    assert messages[0]["Attributes"]["SequenceNumber"] == sent[0]["SequenceNumber"], messages[0]
    # Group a is in flight: its next message waits until a1 and a2 are deleted.
    sqs.send_message(QueueUrl=url, MessageBody="a3", MessageGroupId="a", MessageDeduplicationId="a3")
    sqs.send_message(QueueUrl=url, MessageBody="c1", MessageGroupId="c", MessageDeduplicationId="c1")
    assert bodies(url)[0] == ["c1"]
    for m in messages[:2]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert bodies(url)[0] == ["a3"]
    # Content-based deduplication: the body's SHA-256.
    cb = sqs.create_queue(QueueName="cb.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=cb, MessageBody="same", MessageGroupId="g")
    assert sqs.send_message(QueueUrl=cb, MessageBody="same", MessageGroupId="g")["MessageId"] == first["MessageId"]
    assert bodies(cb)[0] == ["same"]
    open(os.environ["STATE"], "w").write(sent[0]["MessageId"])
else:
    url = sqs.get_queue_url(QueueName="jobs.fifo")["QueueUrl"]
    # Deduplication survives the deletion of the message and a kill -9.
    again = sqs.send_message(QueueUrl=url, MessageBody="a1 after restart", MessageGroupId="a",
                             MessageDeduplicationId="a1")
    assert again["MessageId"] == open(os.environ["STATE"]).read(), again
    new = sqs.send_message(QueueUrl=url, MessageBody="d1", MessageGroupId="d", MessageDeduplicationId="d1")
    assert int(new["SequenceNumber"]) > int(again["SequenceNumber"]), (new, again)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    assert "a1 after restart" not in [m["Body"] for m in got], got
print("OK")
"#;

#[test]
fn fifo_queues_keep_group_order_and_deduplicate_across_kill_9() {
    let dir = scratch("queues-fifo");
    let state = dir.join("first-message-id");
    let state = state.to_str().unwrap();
    let mut server = Server::start(&dir, &[]);
    run_boto3(
        &server,
        BOTO3_FIFO,
        &[("PHASE", "before"), ("STATE", state)],
    );
    server.kill9();
    let server = Server::start(&dir, &[]);
    run_boto3(&server, BOTO3_FIFO, &[("PHASE", "after"), ("STATE", state)]);
}

/// A receive that selects some attributes answers the digest of those (what AWS recorded for
/// these attributes), so SDKs that check it accept the message.
#[test]
fn a_selection_of_attributes_carries_its_own_digest() {
    let dir = scratch("queues-md5-selection");
    let server = Server::start(&dir, &[]);
    let url = sqs_json(&server, &["create-queue", "--queue-name", "md5"])["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = sqs_json(
        &server,
        &[
            "send-message",
            "--queue-url",
            &url,
            "--message-body",
            "x",
            "--message-attributes",
            r#"{"General":{"DataType":"String","StringValue":"Kenobi"},"Hello":{"DataType":"String","StringValue":"There"},"Help.Me":{"DataType":"String","StringValue":"Me"}}"#,
        ],
    );
    assert_eq!(
        sent["MD5OfMessageAttributes"],
        "4c360f3fdafd970e05fae2f149d997f5"
    );
    let got = sqs_json(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &url,
            "--message-attribute-names",
            "Hello",
            "Help.*",
            "--visibility-timeout",
            "0",
        ],
    );
    assert_eq!(
        got["Messages"][0]["MD5OfMessageAttributes"], "83fee93c1bcd8b9a5a923ffacdc636c7",
        "{got}"
    );
    let got = sqs_json(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &url,
            "--message-attribute-names",
            "All",
        ],
    );
    assert_eq!(
        got["Messages"][0]["MD5OfMessageAttributes"], "4c360f3fdafd970e05fae2f149d997f5",
        "{got}"
    );
}
