//! Lambda event-source mappings from SQS queues on the real `sluice serve`, through the `aws`
//! CLI: the API with AWS's shapes and errors, delivery of every message to a Python function
//! (awslambdaric) that records the events it gets, partial batch failures and the dead-letter
//! queue, FilterCriteria, disabling, a restart, and scaling on a burst.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

const LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/lambda";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:000000000000";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

/// Appends each event it gets to `$OUT` (one JSON line per invocation, with its pid) and
/// answers by `$MODE`: `partial` reports the records whose body starts with `bad` as batch
/// item failures; `malformed` answers an unknown identifier; `raise` fails with an exception;
/// `$SLEEP` seconds of work first.
const RECORDER: &str = r#"
import json, os, time

def handler(event, context):
    sleep = float(os.environ.get("SLEEP", "0"))
    if sleep:
        time.sleep(sleep)
    line = json.dumps({"pid": os.getpid(), "event": event}) + "\n"
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    mode = os.environ.get("MODE", "")
    if mode == "partial":
        return {"batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("bad")
        ]}
    if mode == "malformed":
        return {"batchItemFailures": [{"itemIdentifier": "no-such-message"}]}
    if mode == "raise":
        raise RuntimeError("the batch failed")
    return None
"#;

fn server(dir: &Path, extra: &[&str]) -> Server {
    let python = venv().join("bin/python").display().to_string();
    let mut args = vec!["--python", python.as_str()];
    args.extend_from_slice(extra);
    Server::start(dir, &args)
}

fn cli(server: &Server, service: &str, args: &[&str]) -> Output {
    sluice_test_util::aws_cli(&server.endpoint(), service, args)
}

fn lambda(server: &Server, args: &[&str]) -> Value {
    ok_json(&cli(server, "lambda", args))
}

fn sqs(server: &Server, args: &[&str]) -> Value {
    ok_json(&cli(server, "sqs", args))
}

/// Creates a queue with `attributes` (JSON); its URL.
fn queue(server: &Server, name: &str, attributes: &Value) -> String {
    let mut args = vec!["create-queue", "--queue-name", name];
    let attributes = attributes.to_string();
    if attributes != "{}" {
        args.extend(["--attributes", &attributes]);
    }
    sqs(server, &args)["QueueUrl"].as_str().unwrap().to_owned()
}

fn zip_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.zip"));
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    writer.start_file("recorder.py", options).unwrap();
    writer.write_all(text.as_bytes()).unwrap();
    writer.finish().unwrap();
    path
}

/// Creates the recording function `name` writing to `dir/<name>.jsonl`; that path.
fn recorder(server: &Server, dir: &Path, name: &str, env: &[(&str, &str)]) -> PathBuf {
    let zip = zip_file(dir, name, RECORDER);
    let out = dir.join(format!("{name}.jsonl"));
    let mut variables = vec![format!("OUT={}", out.display())];
    variables.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    let environment = format!("Variables={{{}}}", variables.join(","));
    lambda(
        server,
        &[
            "create-function",
            "--function-name",
            name,
            "--runtime",
            "python3.12",
            "--handler",
            "recorder.handler",
            "--role",
            LAMBDA_ROLE,
            "--zip-file",
            &format!("fileb://{}", zip.display()),
            "--environment",
            &environment,
        ],
    );
    out
}

/// The events the recorder got, in order.
fn events(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every record the recorder got, in order.
fn records(out: &Path) -> Vec<Value> {
    events(out)
        .iter()
        .flat_map(|e| e["event"]["Records"].as_array().unwrap().clone())
        .collect()
}

fn bodies(out: &Path) -> Vec<String> {
    let mut bodies: Vec<String> = records(out)
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    bodies
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get_json(port: u16, path: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
}

/// The `/sluice/mappings` entry of `uuid`.
fn stats(server: &Server, uuid: &str) -> Value {
    get_json(server.port, "/sluice/mappings")["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["uuid"] == uuid)
        .cloned()
        .unwrap_or(Value::Null)
}

/// SendMessageBatch in tens, over plain HTTP (AWS JSON 1.0, as the CLI sends it): the tests
/// send many messages and the CLI's start-up would dominate them.
fn send_batch(server: &Server, url: &str, bodies: &[String]) {
    for chunk in bodies.chunks(10) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| json!({"Id": format!("m{i}"), "MessageBody": body}))
            .collect();
        let (status, sent) = call_target(
            server.port,
            "AmazonSQS.SendMessageBatch",
            &json!({"QueueUrl": url, "Entries": entries}),
        )
        .unwrap();
        assert_eq!(status, 200, "{sent}");
        assert_eq!(sent["Successful"].as_array().unwrap().len(), chunk.len());
    }
}

fn create_mapping(server: &Server, function: &str, queue: &str, extra: &[&str]) -> Value {
    let source = format!("{QUEUE_ARN}:{queue}");
    let mut args = vec![
        "create-event-source-mapping",
        "--function-name",
        function,
        "--event-source-arn",
        &source,
    ];
    args.extend_from_slice(extra);
    lambda(server, &args)
}

/// The mapping's state (GetEventSourceMapping over plain HTTP: tests poll it).
fn mapping_state(server: &Server, uuid: &str) -> String {
    get_json(
        server.port,
        &format!("/2015-03-31/event-source-mappings/{uuid}"),
    )["State"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// (visible, in flight) of the queue `url` (GetQueueAttributes over plain HTTP: tests poll it).
fn queue_depth(server: &Server, url: &str) -> (u64, u64) {
    let (status, answer) = call_target(
        server.port,
        "AmazonSQS.GetQueueAttributes",
        &json!({
            "QueueUrl": url,
            "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let n = |key: &str| answer["Attributes"][key].as_str().unwrap().parse().unwrap();
    (
        n("ApproximateNumberOfMessages"),
        n("ApproximateNumberOfMessagesNotVisible"),
    )
}

fn assert_error(output: &Output, code: &str, operation: &str, message: &str) {
    assert_cli_error(output, code, operation, message);
}

#[test]
fn the_event_source_mapping_api_has_aws_shapes_defaults_and_errors() {
    let dir = scratch("mappings-api");
    let server = server(&dir, &[]);
    queue(&server, "orders", &json!({}));
    queue(&server, "orders.fifo", &json!({"FifoQueue": "true"}));
    recorder(&server, &dir, "work", &[]);
    lambda(&server, &["publish-version", "--function-name", "work"]);

    let created = create_mapping(&server, "work", "orders", &[]);
    let uuid = created["UUID"].as_str().unwrap().to_owned();
    assert_eq!(created["State"], "Creating");
    assert_eq!(created["StateTransitionReason"], "USER_INITIATED");
    assert_eq!(created["BatchSize"], 10);
    assert_eq!(created["MaximumBatchingWindowInSeconds"], 0);
    assert_eq!(created["FunctionResponseTypes"], json!([]));
    assert_eq!(created["FunctionArn"], format!("{FUNCTION_ARN}:work"));
    assert_eq!(created["EventSourceArn"], format!("{QUEUE_ARN}:orders"));
    assert_eq!(
        created["EventSourceMappingArn"],
        format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}")
    );
    assert!(created["LastModified"].is_number() || created["LastModified"].is_string());
    assert!(created.get("FilterCriteria").is_none(), "{created}");
    wait_for("Enabled", Duration::from_secs(5), || {
        mapping_state(&server, &uuid) == "Enabled"
    });

    // The same queue and function again: a conflict naming the mapping.
    assert_error(
        &cli(
            &server,
            "lambda",
            &[
                "create-event-source-mapping",
                "--function-name",
                "work",
                "--event-source-arn",
                &format!("{QUEUE_ARN}:orders"),
            ],
        ),
        "ResourceConflictException",
        "CreateEventSourceMapping",
        &format!(
            "An event source mapping with SQS arn (\" {QUEUE_ARN}:orders \") and function (\" work \") already exists. Please update or delete the existing mapping with UUID {uuid}"
        ),
    );
    // Qualified functions keep their qualifier; a partial ARN names the function too.
    let versioned = create_mapping(&server, "000000000000:function:work:1", "orders", &[]);
    assert_eq!(versioned["FunctionArn"], format!("{FUNCTION_ARN}:work:1"));
    let latest = create_mapping(
        &server,
        &format!("{FUNCTION_ARN}:work:$LATEST"),
        "orders",
        &[
            "--batch-size",
            "500",
            "--maximum-batching-window-in-seconds",
            "5",
            "--function-response-types",
            "ReportBatchItemFailures",
            "--scaling-config",
            "MaximumConcurrency=4",
            "--filter-criteria",
            r#"{"Filters": [{"Pattern": "{\"body\": {\"kind\": [\"order\"]}}"}]}"#,
            "--metrics-config",
            "Metrics=EventCount",
            "--no-enabled",
        ],
    );
    assert_eq!(
        latest["FunctionArn"],
        format!("{FUNCTION_ARN}:work:$LATEST")
    );
    assert_eq!(latest["MetricsConfig"], json!({"Metrics": ["EventCount"]}));
    assert_eq!(latest["State"], "Disabled");
    assert_eq!(latest["BatchSize"], 500);
    assert_eq!(latest["MaximumBatchingWindowInSeconds"], 5);
    assert_eq!(
        latest["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(latest["ScalingConfig"], json!({"MaximumConcurrency": 4}));
    assert_eq!(
        latest["FilterCriteria"],
        json!({"Filters": [{"Pattern": "{\"body\": {\"kind\": [\"order\"]}}"}]})
    );

    // Listing: filters and pages.
    let all = lambda(&server, &["list-event-source-mappings"]);
    assert_eq!(all["EventSourceMappings"].as_array().unwrap().len(), 3);
    let by_version = lambda(
        &server,
        &["list-event-source-mappings", "--function-name", "work:1"],
    );
    assert_eq!(
        by_version["EventSourceMappings"].as_array().unwrap().len(),
        1
    );
    let none = lambda(
        &server,
        &[
            "list-event-source-mappings",
            "--event-source-arn",
            &format!("{QUEUE_ARN}:orders.fifo"),
        ],
    );
    assert_eq!(none["EventSourceMappings"], json!([]));
    let first = lambda(
        &server,
        &[
            "list-event-source-mappings",
            "--max-items",
            "2",
            "--no-paginate",
        ],
    );
    assert_eq!(first["EventSourceMappings"].as_array().unwrap().len(), 2);
    let marker = first["NextMarker"].as_str().unwrap();
    let second = lambda(
        &server,
        &[
            "list-event-source-mappings",
            "--marker",
            marker,
            "--max-items",
            "2",
            "--no-paginate",
        ],
    );
    assert_eq!(second["EventSourceMappings"].as_array().unwrap().len(), 1);
    assert!(second.get("NextMarker").is_none(), "{second}");

    // AWS's refusals.
    let create = |function: &str, source: Option<&str>, extra: &[&str]| {
        let mut args = vec!["create-event-source-mapping", "--function-name", function];
        if let Some(source) = source {
            args.extend(["--event-source-arn", source]);
        }
        args.extend_from_slice(extra);
        cli(&server, "lambda", &args)
    };
    let orders = format!("{QUEUE_ARN}:orders");
    let fifo = format!("{QUEUE_ARN}:orders.fifo");
    for (output, code, message) in [
        (
            create("work", None, &[]),
            "InvalidParameterValueException",
            "Unrecognized event source.".to_owned(),
        ),
        (
            create("nope", Some(&orders), &[]),
            "InvalidParameterValueException",
            "Function does not exist".to_owned(),
        ),
        (
            create("work", Some(&format!("{QUEUE_ARN}:missing")), &[]),
            "InvalidParameterValueException",
            "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.".to_owned(),
        ),
        (
            create("work", Some(&fifo), &["--batch-size", "20"]),
            "InvalidParameterValueException",
            "Maximum batch size must be between 1 and 10 inclusive".to_owned(),
        ),
        (
            create("work", Some(&orders), &["--batch-size", "11"]),
            "InvalidParameterValueException",
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10".to_owned(),
        ),
        (
            create(
                "work",
                Some(&orders),
                &["--filter-criteria", r#"{"Filters": [{"Pattern": "simple string"}]}"#],
            ),
            "InvalidParameterValueException",
            "Invalid filter pattern definition.".to_owned(),
        ),
        (
            create(
                "work",
                Some(&orders),
                &["--destination-config", "OnSuccess={Destination=arn:aws:sqs:us-east-1:000000000000:x}"],
            ),
            "InvalidParameterValueException",
            "Unsupported DestinationConfig parameter for given event source mapping type.".to_owned(),
        ),
        (
            create("work", Some(&orders), &["--batch-size", "10001"]),
            "ValidationException",
            "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000".to_owned(),
        ),
    ] {
        assert_error(&output, code, "CreateEventSourceMapping", &message);
    }
    for operation in ["get-event-source-mapping", "delete-event-source-mapping"] {
        assert_error(
            &cli(
                &server,
                "lambda",
                &[operation, "--uuid", "8f6f5c3a-0b5e-4a59-9a0e-5d2b1d1f0c11"],
            ),
            "ResourceNotFoundException",
            if operation == "get-event-source-mapping" {
                "GetEventSourceMapping"
            } else {
                "DeleteEventSourceMapping"
            },
            "The resource you requested does not exist.",
        );
    }
    assert_error(
        &cli(
            &server,
            "lambda",
            &[
                "update-event-source-mapping",
                "--uuid",
                &uuid,
                "--batch-size",
                "50",
            ],
        ),
        "InvalidParameterValueException",
        "UpdateEventSourceMapping",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
    );

    // Moving a mapping onto a function the queue is already mapped to: the same conflict.
    assert_error(
        &cli(
            &server,
            "lambda",
            &[
                "update-event-source-mapping",
                "--uuid",
                &uuid,
                "--function-name",
                "work:1",
            ],
        ),
        "ResourceConflictException",
        "UpdateEventSourceMapping",
        &format!(
            "An event source mapping with SQS arn (\" {QUEUE_ARN}:orders \") and function (\" work \") already exists. Please update or delete the existing mapping with UUID {}",
            versioned["UUID"].as_str().unwrap()
        ),
    );

    // Updates answer the transition, then settle.
    let disabling = lambda(
        &server,
        &[
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--no-enabled",
        ],
    );
    assert_eq!(disabling["State"], "Disabling");
    wait_for("Disabled", Duration::from_secs(25), || {
        mapping_state(&server, &uuid) == "Disabled"
    });
    let enabling = lambda(
        &server,
        &["update-event-source-mapping", "--uuid", &uuid, "--enabled"],
    );
    assert_eq!(enabling["State"], "Enabling");
    let updating = lambda(
        &server,
        &[
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--batch-size",
            "3",
        ],
    );
    assert_eq!(updating["State"], "Updating");
    assert_eq!(updating["BatchSize"], 3);
    assert_eq!(mapping_state(&server, &uuid), "Enabled");
    let deleting = lambda(&server, &["delete-event-source-mapping", "--uuid", &uuid]);
    assert_eq!(deleting["State"], "Deleting");
    assert_error(
        &cli(
            &server,
            "lambda",
            &["get-event-source-mapping", "--uuid", &uuid],
        ),
        "ResourceNotFoundException",
        "GetEventSourceMapping",
        "The resource you requested does not exist.",
    );
}

#[test]
fn a_mapping_delivers_every_message_once_in_aws_event_shape() {
    let dir = scratch("mappings-deliver");
    let server = server(&dir, &[]);
    let url = queue(&server, "orders", &json!({}));
    let out = recorder(&server, &dir, "work", &[]);
    let mapping = create_mapping(&server, "work", "orders", &[]);
    let uuid = mapping["UUID"].as_str().unwrap();

    // One message with attributes: the record as AWS builds it.
    let sent = sqs(
        &server,
        &[
            "send-message",
            "--queue-url",
            &url,
            "--message-body",
            r#"{"order": 1}"#,
            "--message-attributes",
            r#"{"Author": {"DataType": "String", "StringValue": "John"}, "WeeksOn": {"DataType": "Number", "StringValue": "6"}}"#,
        ],
    );
    wait_for("the first event", Duration::from_secs(20), || {
        !events(&out).is_empty()
    });
    let record = &records(&out)[0];
    assert_eq!(record["messageId"], sent["MessageId"]);
    assert_eq!(record["body"], r#"{"order": 1}"#);
    assert_eq!(record["md5OfBody"], sent["MD5OfMessageBody"]);
    assert_eq!(
        record["md5OfMessageAttributes"],
        sent["MD5OfMessageAttributes"]
    );
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["eventSourceARN"], format!("{QUEUE_ARN}:orders"));
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "messageId",
            "receiptHandle",
            "body",
            "attributes",
            "messageAttributes",
            "md5OfMessageAttributes",
            "md5OfBody",
            "eventSource",
            "eventSourceARN",
            "awsRegion"
        ]
    );
    assert_eq!(
        record["messageAttributes"]["WeeksOn"],
        json!({"stringValue": "6", "stringListValues": [], "binaryListValues": [], "dataType": "Number"})
    );
    for key in [
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(record["attributes"][key].is_string(), "{key}: {record}");
    }

    // A stream of messages: each delivered once, in batches of up to 10, and deleted.
    let expected: Vec<String> = (0..60).map(|i| format!("m{i:02}")).collect();
    send_batch(&server, &url, &expected);
    wait_for("60 more records", Duration::from_secs(30), || {
        records(&out).len() >= 61
    });
    let mut got = bodies(&out);
    got.retain(|b| b.starts_with('m'));
    assert_eq!(got, expected);
    assert!(
        events(&out)
            .iter()
            .all(|e| e["event"]["Records"].as_array().unwrap().len() <= 10)
    );
    wait_for("the queue to drain", Duration::from_secs(10), || {
        queue_depth(&server, &url) == (0, 0)
    });
    assert_eq!(stats(&server, uuid)["deleted"], 61);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(records(&out).len(), 61, "no message delivered twice");

    // Disabled: nothing is delivered (the messages wait in the queue); enabled: they are.
    lambda(
        &server,
        &[
            "update-event-source-mapping",
            "--uuid",
            uuid,
            "--no-enabled",
        ],
    );
    wait_for("Disabled", Duration::from_secs(25), || {
        mapping_state(&server, uuid) == "Disabled"
    });
    send_batch(&server, &url, &["late-1".to_owned(), "late-2".to_owned()]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(records(&out).len(), 61);
    assert_eq!(queue_depth(&server, &url), (2, 0));
    lambda(
        &server,
        &["update-event-source-mapping", "--uuid", uuid, "--enabled"],
    );
    wait_for("the late messages", Duration::from_secs(20), || {
        records(&out).len() == 63
    });
    // Deleted: no more polling.
    lambda(&server, &["delete-event-source-mapping", "--uuid", uuid]);
    std::thread::sleep(Duration::from_millis(300));
    send_batch(&server, &url, &["after-delete".to_owned()]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(records(&out).len(), 63);
    assert_eq!(queue_depth(&server, &url), (1, 0));
}

#[test]
fn partial_batch_failures_redeliver_only_the_failed_messages_until_the_dead_letter_queue() {
    let dir = scratch("mappings-partial");
    let server = server(&dir, &[]);
    queue(&server, "dead", &json!({}));
    let dead_url = format!("{}/000000000000/dead", server.endpoint());
    let url = queue(
        &server,
        "orders",
        &json!({
            "VisibilityTimeout": "1",
            "RedrivePolicy": json!({"deadLetterTargetArn": format!("{QUEUE_ARN}:dead"), "maxReceiveCount": 2}).to_string(),
        }),
    );
    let out = recorder(&server, &dir, "work", &[("MODE", "partial")]);
    create_mapping(
        &server,
        "work",
        "orders",
        &["--function-response-types", "ReportBatchItemFailures"],
    );
    let sent: Vec<String> = ["good-1", "bad-1", "good-2", "bad-2", "good-3"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    send_batch(&server, &url, &sent);
    // Each bad message is received twice (maxReceiveCount), then moved to the DLQ.
    wait_for("the dead letters", Duration::from_secs(30), || {
        queue_depth(&server, &dead_url).0 == 2
    });
    let got = bodies(&out);
    assert_eq!(
        got,
        [
            "bad-1", "bad-1", "bad-2", "bad-2", "good-1", "good-2", "good-3"
        ],
        "only the failed messages come back"
    );
    let counts: Vec<(String, String)> = records(&out)
        .iter()
        .filter(|r| r["body"].as_str().unwrap().starts_with("bad"))
        .map(|r| {
            (
                r["body"].as_str().unwrap().to_owned(),
                r["attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert!(counts.contains(&("bad-1".into(), "2".into())), "{counts:?}");
    assert_eq!(queue_depth(&server, &url), (0, 0));
    let dead = sqs(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &dead_url,
            "--max-number-of-messages",
            "10",
        ],
    );
    let mut dead: Vec<&str> = dead["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Body"].as_str().unwrap())
        .collect();
    dead.sort_unstable();
    assert_eq!(dead, ["bad-1", "bad-2"]);
}

#[test]
fn a_malformed_batch_response_or_a_function_error_fails_the_whole_batch() {
    let dir = scratch("mappings-malformed");
    let server = server(&dir, &[]);
    // An unknown itemIdentifier; an exception in the handler.
    for mode in ["malformed", "raise"] {
        let dead = format!("dead-{mode}");
        queue(&server, &dead, &json!({}));
        let dead_url = format!("{}/000000000000/{dead}", server.endpoint());
        let source = format!("orders-{mode}");
        let url = queue(
            &server,
            &source,
            &json!({
                "VisibilityTimeout": "1",
                "RedrivePolicy": json!({"deadLetterTargetArn": format!("{QUEUE_ARN}:{dead}"), "maxReceiveCount": 1}).to_string(),
            }),
        );
        let function = format!("work-{mode}");
        let out = recorder(&server, &dir, &function, &[("MODE", mode)]);
        create_mapping(
            &server,
            &function,
            &source,
            &["--function-response-types", "ReportBatchItemFailures"],
        );
        send_batch(&server, &url, &["a".to_owned(), "b".to_owned()]);
        wait_for("the dead letters", Duration::from_secs(30), || {
            queue_depth(&server, &dead_url).0 == 2
        });
        assert_eq!(bodies(&out), ["a", "b"], "{mode}");
    }
}

#[test]
fn filter_criteria_drop_the_messages_no_pattern_matches() {
    let dir = scratch("mappings-filter");
    let server = server(&dir, &[]);
    let url = queue(&server, "orders", &json!({}));
    let out = recorder(&server, &dir, "work", &[]);
    let filters = json!({"Filters": [
        {"Pattern": json!({"body": {"kind": ["order"], "total": [{"numeric": [">", 100]}]}}).to_string()},
        {"Pattern": json!({"body": [{"prefix": "urgent"}]}).to_string()},
    ]})
    .to_string();
    let mapping = create_mapping(&server, "work", "orders", &["--filter-criteria", &filters]);
    let uuid = mapping["UUID"].as_str().unwrap();
    let messages: Vec<String> = [
        json!({"kind": "order", "total": 150}).to_string(),
        json!({"kind": "order", "total": 50}).to_string(),
        json!({"kind": "refund", "total": 500}).to_string(),
        "urgent: call".to_owned(),
        "later: call".to_owned(),
    ]
    .into_iter()
    .collect();
    send_batch(&server, &url, &messages);
    wait_for("the queue to drain", Duration::from_secs(20), || {
        queue_depth(&server, &url) == (0, 0)
    });
    assert_eq!(
        bodies(&out),
        [
            "urgent: call".to_owned(),
            json!({"kind": "order", "total": 150}).to_string(),
        ]
    );
    let stats = stats(&server, uuid);
    assert_eq!(stats["filtered"], 3, "{stats}");
    assert_eq!(stats["deleted"], 5, "{stats}");
    // `sluice queues` shows the mapping's counters.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["queues", "--endpoint", &server.endpoint()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    let row: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with(&uuid[..8]))
        .unwrap_or_else(|| panic!("no mapping row:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            &uuid[..8],
            "orders",
            "work",
            "Enabled",
            "1",
            "0",
            "1",
            "2",
            "5",
            "3",
            "0"
        ],
        "{table}"
    );
}

#[test]
fn mappings_survive_a_restart_and_resume_polling() {
    let dir = scratch("mappings-restart");
    let mut server = server(&dir, &[]);
    let url = queue(&server, "orders", &json!({}));
    let out = recorder(&server, &dir, "work", &[]);
    let mapping = create_mapping(&server, "work", "orders", &["--batch-size", "5"]);
    let uuid = mapping["UUID"].as_str().unwrap().to_owned();
    send_batch(&server, &url, &["before".to_owned()]);
    wait_for("the first record", Duration::from_secs(20), || {
        records(&out).len() == 1
    });
    // SIGTERM stops the long-polling pollers at once.
    let started = Instant::now();
    assert!(server.terminate().success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let mut server = self::server(&dir, &[]);
    let got = lambda(&server, &["get-event-source-mapping", "--uuid", &uuid]);
    assert_eq!(got["State"], "Enabled");
    assert_eq!(got["BatchSize"], 5);
    send_batch(&server, &url, &["after-term".to_owned()]);
    wait_for(
        "the record after the restart",
        Duration::from_secs(20),
        || records(&out).len() == 2,
    );
    server.kill9();

    let server = self::server(&dir, &[]);
    send_batch(&server, &url, &["after-kill".to_owned()]);
    wait_for("the record after kill -9", Duration::from_secs(20), || {
        records(&out).len() == 3
    });
    assert_eq!(bodies(&out), ["after-kill", "after-term", "before"]);
}

#[test]
fn a_burst_scales_concurrency_up_to_the_limit_and_back_to_zero() {
    let dir = scratch("mappings-scale");
    let config = dir.join("sluice.toml");
    std::fs::write(&config, "[functions]\nidle-timeout-seconds = 1\n").unwrap();
    let config = config.display().to_string();
    let server = server(&dir, &["--config", &config]);
    let url = queue(&server, "orders", &json!({}));
    let out = recorder(&server, &dir, "work", &[("SLEEP", "0.3")]);
    let mapping = create_mapping(
        &server,
        "work",
        "orders",
        &[
            "--batch-size",
            "1",
            "--scaling-config",
            "MaximumConcurrency=4",
        ],
    );
    let uuid = mapping["UUID"].as_str().unwrap();
    let burst: Vec<String> = (0..40).map(|i| format!("b{i:02}")).collect();
    send_batch(&server, &url, &burst);
    let mut peak_workers = 0;
    wait_for("the burst", Duration::from_secs(60), || {
        let stats = stats(&server, uuid);
        peak_workers = peak_workers.max(stats["functionWorkers"].as_u64().unwrap());
        records(&out).len() >= 40
    });
    let stats_after = stats(&server, uuid);
    let peak = stats_after["peakInvoking"].as_u64().unwrap();
    assert!(peak > 1, "concurrency grew with the backlog: {stats_after}");
    assert!(peak <= 4, "MaximumConcurrency holds: {stats_after}");
    assert!(stats_after["peakPollers"].as_u64().unwrap() <= 4);
    assert!(peak_workers > 1, "several function workers ran");
    let pids: std::collections::HashSet<u64> = events(&out)
        .iter()
        .map(|e| e["pid"].as_u64().unwrap())
        .collect();
    assert!(pids.len() > 1, "{pids:?}");
    assert_eq!(bodies(&out), burst);
    // Back down: one poller waits on the empty queue, nothing invokes, no worker is left.
    wait_for("the scale-down", Duration::from_secs(20), || {
        let stats = stats(&server, uuid);
        stats["pollers"] == 1 && stats["invoking"] == 0 && stats["functionWorkers"] == 0
    });
}

#[test]
fn fifo_mappings_keep_each_groups_order() {
    let dir = scratch("mappings-fifo");
    let server = server(&dir, &[]);
    let url = queue(
        &server,
        "orders.fifo",
        &json!({"FifoQueue": "true", "ContentBasedDeduplication": "true"}),
    );
    let out = recorder(&server, &dir, "work", &[("SLEEP", "0.05")]);
    create_mapping(&server, "work", "orders.fifo", &["--batch-size", "3"]);
    for chunk in 0..3 {
        let entries: Vec<Value> = (0..10)
            .map(|i| {
                let n = chunk * 10 + i;
                let group = format!("g{}", n % 3);
                json!({"Id": format!("m{i}"), "MessageBody": format!("{group}-{n:02}"), "MessageGroupId": group})
            })
            .collect();
        sqs(
            &server,
            &[
                "send-message-batch",
                "--queue-url",
                &url,
                "--entries",
                &Value::Array(entries).to_string(),
            ],
        );
    }
    wait_for("30 records", Duration::from_secs(30), || {
        records(&out).len() >= 30
    });
    let all = records(&out);
    assert_eq!(all.len(), 30);
    for group in ["g0", "g1", "g2"] {
        let seen: Vec<&str> = all
            .iter()
            .map(|r| r["body"].as_str().unwrap())
            .filter(|b| b.starts_with(group))
            .collect();
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(seen, sorted, "{group} in order");
        assert!(
            all.iter()
                .filter(|r| r["attributes"]["MessageGroupId"] == group)
                .all(|r| r["attributes"]["SequenceNumber"].is_string())
        );
    }
}

#[test]
fn a_batching_window_gathers_more_than_ten_messages_into_one_batch() {
    let dir = scratch("mappings-window");
    let server = server(&dir, &[]);
    let url = queue(&server, "orders", &json!({}));
    let out = recorder(&server, &dir, "work", &[]);
    // Disabled while the messages arrive, so the first receive finds them all.
    let mapping = create_mapping(
        &server,
        "work",
        "orders",
        &[
            "--batch-size",
            "25",
            "--maximum-batching-window-in-seconds",
            "1",
            "--no-enabled",
        ],
    );
    let uuid = mapping["UUID"].as_str().unwrap();
    let sent: Vec<String> = (0..25).map(|i| format!("w{i:02}")).collect();
    send_batch(&server, &url, &sent);
    lambda(
        &server,
        &["update-event-source-mapping", "--uuid", uuid, "--enabled"],
    );
    wait_for("the batch", Duration::from_secs(20), || {
        records(&out).len() >= 25
    });
    let sizes: Vec<usize> = events(&out)
        .iter()
        .map(|e| e["event"]["Records"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [25], "one batch of BatchSize within the window");
    assert_eq!(bodies(&out), sent);

    // A lone message waits out the window, then goes alone.
    send_batch(&server, &url, &["lone".to_owned()]);
    wait_for("the lone message", Duration::from_secs(20), || {
        records(&out).len() == 26
    });
    assert_eq!(events(&out).len(), 2);
}
