//! The query protocol codec against botocore itself (`tests/fixtures/query_protocol.py`, run
//! with the project venv's Python): requests as botocore's `QuerySerializer` writes them decode
//! to what its JSON serializer writes for the same parameters (member names, base64 blobs), are
//! valid for the model and deserialize into the generated structs; responses and errors encode
//! to XML that botocore's `QueryParser` reads back to the same values; `awsQueryCompatible`
//! errors over JSON give botocore the query code through `x-amzn-query-error`.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use sluice_api::ApiError;
use sluice_api::query;
use sluice_api::shape::Shape;
use sluice_api::{sns, sqs};

/// Runs the botocore side with `command` (`{"serialize": [...]}`, ...) and returns its answers.
fn botocore(command: &Value) -> Vec<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/query_protocol.py"
    );
    let mut child = Command::new(sluice_test_util::venv().join("bin/python"))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(command.to_string().as_bytes())
        .expect("write the command");
    let output = child.wait_with_output().expect("python finished");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python printed JSON")
}

/// What the codec needs of one operation of either service.
struct Op {
    input: &'static Shape,
    output: Option<&'static Shape>,
    wrapper: Option<&'static str>,
    namespace: &'static str,
}

fn op(service: &str, name: &str) -> Op {
    match service {
        "sqs" => {
            let op = sqs::Operation::from_name(name).expect("an SQS operation");
            Op {
                input: op.input_shape(),
                output: op.output_shape(),
                wrapper: op.result_wrapper(),
                namespace: sqs::model::XML_NAMESPACE,
            }
        }
        _ => {
            let op = sns::Operation::from_name(name).expect("an SNS operation");
            Op {
                input: op.input_shape(),
                output: op.output_shape(),
                wrapper: op.result_wrapper(),
                namespace: sns::model::XML_NAMESPACE,
            }
        }
    }
}

fn typed(service: &str, name: &str, value: Value) -> Result<(), serde_json::Error> {
    match service {
        "sqs" => {
            sqs::Request::from_value(sqs::Operation::from_name(name).unwrap(), value).map(drop)
        }
        _ => sns::Request::from_value(sns::Operation::from_name(name).unwrap(), value).map(drop),
    }
}

#[test]
fn botocore_requests_decode_to_the_models_members() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:123456789012:q & more"}]}"#;
    let url = "http://localhost:4566/123456789012/q";
    let attributes = json!({
        "s": {"DataType": "String", "StringValue": "a=b&c d+é"},
        "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": "\u{0}\u{1}bytes"},
    });
    let cases = json!([
        {"service": "sqs", "operation": "SendMessage", "params": {
            "QueueUrl": url, "MessageBody": "<body>\r\n&amp;</body>", "DelaySeconds": 5,
            "MessageAttributes": attributes,
            "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-x"}},
            "MessageGroupId": "g", "MessageDeduplicationId": "d",
        }},
        {"service": "sqs", "operation": "SendMessageBatch", "params": {
            "QueueUrl": url,
            "Entries": [
                {"Id": "1", "MessageBody": "one", "DelaySeconds": 0, "MessageAttributes": attributes},
                {"Id": "2", "MessageBody": "two"},
            ],
        }},
        {"service": "sqs", "operation": "ReceiveMessage", "params": {
            "QueueUrl": url, "AttributeNames": ["All", "Policy"],
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
            "MessageAttributeNames": ["All", "foo.*"], "MaxNumberOfMessages": 10,
            "VisibilityTimeout": 30, "WaitTimeSeconds": 20, "ReceiveRequestAttemptId": "r",
        }},
        {"service": "sqs", "operation": "CreateQueue", "params": {
            "QueueName": "q.fifo",
            "Attributes": {"FifoQueue": "true", "DelaySeconds": "0", "Policy": policy},
            "tags": {"team": "a b", "env": "dev"},
        }},
        {"service": "sqs", "operation": "SetQueueAttributes", "params": {
            "QueueUrl": url,
            "Attributes": {"RedrivePolicy": "{\"deadLetterTargetArn\":\"arn\",\"maxReceiveCount\":\"5\"}", "VisibilityTimeout": "60"},
        }},
        {"service": "sqs", "operation": "GetQueueAttributes", "params": {
            "QueueUrl": url, "AttributeNames": ["Policy", "QueueArn"],
        }},
        {"service": "sqs", "operation": "DeleteMessageBatch", "params": {
            "QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": "r+/="}, {"Id": "b", "ReceiptHandle": "s"}],
        }},
        {"service": "sqs", "operation": "ChangeMessageVisibilityBatch", "params": {
            "QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": "r", "VisibilityTimeout": 0}],
        }},
        {"service": "sqs", "operation": "AddPermission", "params": {
            "QueueUrl": url, "Label": "l", "AWSAccountIds": ["111122223333", "444455556666"],
            "Actions": ["SendMessage", "ReceiveMessage"],
        }},
        {"service": "sqs", "operation": "TagQueue", "params": {"QueueUrl": url, "Tags": {"k": "v"}}},
        {"service": "sqs", "operation": "UntagQueue", "params": {"QueueUrl": url, "TagKeys": ["k", "l"]}},
        {"service": "sqs", "operation": "ListQueues", "params": {"QueueNamePrefix": "q", "MaxResults": 3}},
        {"service": "sqs", "operation": "ListQueues", "params": {}},
        {"service": "sns", "operation": "Publish", "params": {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "{\"default\":\"m & n\"}",
            "Subject": "s", "MessageStructure": "json",
            "MessageAttributes": {
                "s": {"DataType": "String", "StringValue": "v"},
                "b": {"DataType": "Binary", "BinaryValue": "\u{ff}bin"},
                "l": {"DataType": "String.Array", "StringValue": "[\"a\",1]"},
            },
            "MessageGroupId": "g",
        }},
        {"service": "sns", "operation": "Subscribe", "params": {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Protocol": "sqs",
            "Endpoint": "arn:aws:sqs:us-east-1:123456789012:q",
            "Attributes": {"RawMessageDelivery": "true", "FilterPolicy": "{\"a\":[\"b\"]}"},
            "ReturnSubscriptionArn": true,
        }},
        {"service": "sns", "operation": "PublishBatch", "params": {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "PublishBatchRequestEntries": [
                {"Id": "1", "Message": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                {"Id": "2", "Message": "two", "Subject": "s"},
            ],
        }},
        {"service": "sns", "operation": "CreateTopic", "params": {
            "Name": "t.fifo", "Attributes": {"FifoTopic": "true", "DisplayName": "T"},
            "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k2", "Value": ""}],
            "DataProtectionPolicy": "{}",
        }},
        {"service": "sns", "operation": "SetSMSAttributes", "params": {"attributes": {"DefaultSMSType": "Promotional"}}},
        {"service": "sns", "operation": "UntagResource", "params": {
            "ResourceArn": "arn:aws:sns:us-east-1:123456789012:t", "TagKeys": ["k"],
        }},
        {"service": "sns", "operation": "AddPermission", "params": {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Label": "l",
            "AWSAccountId": ["111122223333"], "ActionName": ["Publish"],
        }},
    ]);
    let answers = botocore(&json!({"serialize": cases}));
    for (case, answer) in cases.as_array().unwrap().iter().zip(&answers) {
        let service = case["service"].as_str().unwrap();
        let name = case["operation"].as_str().unwrap();
        let body = answer["body"].as_str().unwrap();
        let params = query::params(None, body.as_bytes());
        assert_eq!(query::action(&params), Some(name));
        let op = op(service, name);
        let decoded = Value::Object(
            query::decode(op.input, &params).unwrap_or_else(|e| panic!("{name}: {e}\n{body}")),
        );
        assert_eq!(decoded, answer["expected"], "{service} {name}: {body}");
        sluice_api::shape::validate(op.input, &decoded)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{decoded}"));
        typed(service, name, decoded).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn encoded_outputs_parse_back_with_botocore() {
    let cases = [
        (
            "sqs",
            "ReceiveMessage",
            json!({"Messages": [
                {
                    "MessageId": "m1", "ReceiptHandle": "r+/=", "MD5OfBody": "5d41", "Body": "<b>&\r\n\"q\"</b> é",
                    "Attributes": {"SentTimestamp": "1700000000000", "ApproximateReceiveCount": "2"},
                    "MD5OfMessageAttributes": "abc",
                    "MessageAttributes": {
                        "s": {"DataType": "String", "StringValue": "v"},
                        "b": {"DataType": "Binary", "BinaryValue": "AAEC"},
                        "l": {"DataType": "String", "StringListValues": ["a", "b"]},
                    },
                },
                {"MessageId": "m2", "ReceiptHandle": "r2", "Body": ""},
            ]}),
        ),
        (
            "sqs",
            "ReceiveMessage",
            json!({"Messages": [{"MessageId": "only"}]}),
        ),
        ("sqs", "ReceiveMessage", json!({})),
        (
            "sqs",
            "SendMessage",
            json!({"MessageId": "m", "MD5OfMessageBody": "x", "MD5OfMessageAttributes": "y", "SequenceNumber": "1"}),
        ),
        (
            "sqs",
            "SendMessageBatch",
            json!({
                "Successful": [{"Id": "1", "MessageId": "m", "MD5OfMessageBody": "x"}],
                "Failed": [{"Id": "2", "SenderFault": true, "Code": "InvalidParameterValue", "Message": "bad"}],
            }),
        ),
        (
            "sqs",
            "GetQueueAttributes",
            json!({"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:1:q", "Policy": "{\"a\":\"<&>\"}"}}),
        ),
        (
            "sqs",
            "ListQueues",
            json!({"QueueUrls": ["http://h/1/a", "http://h/1/b"], "NextToken": "t"}),
        ),
        ("sqs", "ListQueueTags", json!({"Tags": {"k": "v", "e": ""}})),
        ("sqs", "CreateQueue", json!({"QueueUrl": "http://h/1/q"})),
        (
            "sqs",
            "ListMessageMoveTasks",
            json!({"Results": [{"TaskHandle": "h", "Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 3, "StartedTimestamp": 1_700_000_000_000_i64}]}),
        ),
        ("sqs", "DeleteQueue", json!({})),
        (
            "sns",
            "Publish",
            json!({"MessageId": "m", "SequenceNumber": "10000000000000000000"}),
        ),
        (
            "sns",
            "ListTopics",
            json!({"Topics": [{"TopicArn": "a"}, {"TopicArn": "b"}], "NextToken": "n"}),
        ),
        (
            "sns",
            "GetTopicAttributes",
            json!({"Attributes": {"Policy": "{\"a\":1}", "DisplayName": "d & e"}}),
        ),
        (
            "sns",
            "PublishBatch",
            json!({
                "Successful": [{"Id": "1", "MessageId": "m"}],
                "Failed": [{"Id": "2", "Code": "c", "Message": "m", "SenderFault": false}],
            }),
        ),
        (
            "sns",
            "ListTagsForResource",
            json!({"Tags": [{"Key": "k", "Value": "v"}]}),
        ),
        (
            "sns",
            "CheckIfPhoneNumberIsOptedOut",
            json!({"isOptedOut": true}),
        ),
        (
            "sns",
            "ListOriginationNumbers",
            json!({"PhoneNumbers": [
                {"CreatedAt": 1_700_000_000.5, "PhoneNumber": "+15555550100", "NumberCapabilities": ["SMS", "VOICE"]},
            ]}),
        ),
        (
            "sns",
            "CreateTopic",
            json!({"TopicArn": "arn:aws:sns:us-east-1:1:t"}),
        ),
        ("sns", "DeleteTopic", json!({})),
    ];
    let mut requests = Vec::new();
    for (service, name, value) in &cases {
        let op = op(service, name);
        let xml = query::encode(name, op.wrapper, op.namespace, op.output, value, "req-1")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        requests.push(json!({
            "service": service, "operation": name, "xml": String::from_utf8(xml).unwrap(),
        }));
    }
    let parsed = botocore(&json!({"parse": requests}));
    for ((service, name, value), parsed) in cases.iter().zip(&parsed) {
        assert_eq!(parsed, value, "{service} {name}");
    }
}

#[test]
fn errors_reach_botocore_with_the_query_codes() {
    let missing = ApiError::new("QueueDoesNotExist", "The specified queue does not exist.");
    let not_found = ApiError::new("NotFoundException", "Topic does not exist").with_status(404);
    let internal = ApiError::internal("We encountered an internal error.");
    let query_errors = [
        (&missing, sqs::errors::ALL, sqs::model::XML_NAMESPACE),
        (&not_found, sns::errors::ALL, sns::model::XML_NAMESPACE),
        (&internal, sns::errors::ALL, sns::model::XML_NAMESPACE),
    ];
    let mut cases: Vec<Value> = query_errors
        .iter()
        .map(|(error, errors, namespace)| {
            let body = query::encode_error(error, errors, namespace, "req-2");
            json!({
                "protocol": "query", "status": error.status,
                "body": String::from_utf8(body).unwrap(),
            })
        })
        .collect();
    // SQS over JSON: `__type` and the query code in `x-amzn-query-error`.
    let header = query::query_error_header(&missing, sqs::errors::ALL).unwrap();
    cases.push(json!({
        "protocol": "json", "status": 400,
        "body": String::from_utf8(missing.to_body()).unwrap(),
        "headers": {"x-amzn-query-error": header.to_str().unwrap(), "x-amzn-requestid": "req-3"},
    }));
    let parsed = botocore(&json!({"parse_error": cases}));
    assert_eq!(
        parsed,
        [
            json!({"Error": {"Type": "Sender", "Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "The specified queue does not exist."}, "ResponseMetadata": {"RequestId": "req-2"}}),
            json!({"Error": {"Type": "Sender", "Code": "NotFound", "Message": "Topic does not exist"}, "ResponseMetadata": {"RequestId": "req-2"}}),
            json!({"Error": {"Type": "Receiver", "Code": "InternalFailure", "Message": "We encountered an internal error."}, "ResponseMetadata": {"RequestId": "req-2"}}),
            json!({"Error": {"Type": "Sender", "Code": "AWS.SimpleQueueService.NonExistentQueue", "QueryErrorCode": "QueueDoesNotExist", "Message": "The specified queue does not exist."}, "ResponseMetadata": {"RequestId": "req-3"}}),
        ]
    );
}
