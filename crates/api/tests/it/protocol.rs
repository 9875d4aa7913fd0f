//! The protocol as real clients see it: the router served on 127.0.0.1 with a small in-test
//! backend, driven by the real `aws` CLI and boto3 from the project's venv, and by raw HTTP
//! for what no SDK sends (malformed JSON, unknown operations).
//!
//! The venv is `$SLUICE_VENV` or `~/.cache/sluice-venv` (`.ci/run` creates it).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sluice_api::ApiError;
use sluice_api::sfn::model::{
    CreateStateMachineInput, CreateStateMachineOutput, DeleteStateMachineInput,
    DeleteStateMachineOutput, DescribeStateMachineInput, DescribeStateMachineOutput,
    ListStateMachinesInput, ListStateMachinesOutput, StateMachineListItem, StateMachineStatus,
    StateMachineType,
};
use sluice_api::sfn::{Arn, Page, Scope, StatesArns as _, StepFunctions, validate_name};

// ---------------------------------------------------------------------------------------------
// A small backend: state machines in a map.

struct Machines {
    scope: Scope,
    machines: Mutex<HashMap<String, DescribeStateMachineOutput>>,
}

impl Machines {
    fn new() -> Self {
        Self {
            scope: Scope::new("us-east-1", "123456789012"),
            machines: Mutex::new(HashMap::new()),
        }
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl StepFunctions for Machines {
    async fn create_state_machine(
        &self,
        input: CreateStateMachineInput,
    ) -> Result<CreateStateMachineOutput, ApiError> {
        validate_name(&input.name)?;
        let arn = self.scope.state_machine_arn(&input.name);
        let mut machines = self.machines.lock().unwrap();
        if machines.contains_key(&arn) {
            return Err(ApiError::state_machine_already_exists(&arn));
        }
        let creation_date = now();
        machines.insert(
            arn.clone(),
            DescribeStateMachineOutput {
                state_machine_arn: arn.clone(),
                name: input.name,
                status: Some(StateMachineStatus::Active),
                definition: input.definition,
                role_arn: input.role_arn,
                r#type: input.r#type.unwrap_or(StateMachineType::Standard),
                creation_date,
                ..Default::default()
            },
        );
        Ok(CreateStateMachineOutput {
            state_machine_arn: arn,
            creation_date,
            ..Default::default()
        })
    }

    async fn describe_state_machine(
        &self,
        input: DescribeStateMachineInput,
    ) -> Result<DescribeStateMachineOutput, ApiError> {
        Arn::parse_state_machine(&input.state_machine_arn)?;
        if input.state_machine_arn.ends_with(":panic") {
            panic!("the backend panicked on purpose");
        }
        let machines = self.machines.lock().unwrap();
        machines
            .get(&input.state_machine_arn)
            .cloned()
            .ok_or_else(|| ApiError::state_machine_does_not_exist(&input.state_machine_arn))
    }

    async fn list_state_machines(
        &self,
        input: ListStateMachinesInput,
    ) -> Result<ListStateMachinesOutput, ApiError> {
        let page = Page::from_request(input.next_token.as_deref(), input.max_results)?;
        let mut items: Vec<StateMachineListItem> = {
            let machines = self.machines.lock().unwrap();
            machines
                .values()
                .map(|m| StateMachineListItem {
                    state_machine_arn: m.state_machine_arn.clone(),
                    name: m.name.clone(),
                    r#type: m.r#type,
                    creation_date: m.creation_date,
                })
                .collect()
        };
        items.sort_by(|a, b| a.name.cmp(&b.name));
        let (state_machines, next_token) = page.take(items, |m| m.name.clone());
        Ok(ListStateMachinesOutput {
            state_machines,
            next_token,
        })
    }

    async fn delete_state_machine(
        &self,
        input: DeleteStateMachineInput,
    ) -> Result<DeleteStateMachineOutput, ApiError> {
        Arn::parse_state_machine(&input.state_machine_arn)?;
        self.machines
            .lock()
            .unwrap()
            .remove(&input.state_machine_arn);
        Ok(DeleteStateMachineOutput {})
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

/// Serves a fresh backend on a random port; the server lives until the test process exits.
fn serve() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr").port())
                .expect("send port");
            let router = sluice_api::router_with(
                Arc::new(Machines::new()),
                sluice_api::Options {
                    max_body_bytes: 4 * 1024 * 1024,
                },
            );
            axum::serve(listener, router).await.expect("serve");
        });
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("server did not start")
}

use sluice_test_util::{assert_cli_error, client_env, stdout_json, venv};

fn aws(port: u16, args: &[&str]) -> Output {
    sluice_test_util::aws_cli(&format!("http://127.0.0.1:{port}"), "stepfunctions", args)
}

struct RawResponse {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One HTTP/1.1 request over a plain socket (no client library between us and the server).
fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
    raw_declaring(port, method, path, headers, body, body.len())
}

/// [`raw`], declaring `content_length` whatever `body` holds (to send only the head).
fn raw_declaring(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    content_length: usize,
) -> RawResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {content_length}\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let mut body = response[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

fn sfn_call(port: u16, target: &str, body: &[u8]) -> RawResponse {
    raw(
        port,
        "POST",
        "/",
        &[
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.0"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/states/aws4_request, \
                 SignedHeaders=host, Signature=0",
            ),
        ],
        body,
    )
}

fn assert_aws_error(response: &RawResponse, status: u16, kind: &str) -> String {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body = response.json();
    assert_eq!(body["__type"], kind, "{body}");
    assert_eq!(
        response.headers.get("x-amzn-errortype").map(String::as_str),
        Some(kind)
    );
    assert_eq!(
        response.headers.get("content-type").map(String::as_str),
        Some("application/x-amz-json-1.0")
    );
    assert_request_id(response);
    body["message"].as_str().expect("message").to_string()
}

fn assert_request_id(response: &RawResponse) {
    let id = response
        .headers
        .get("x-amzn-requestid")
        .expect("x-amzn-RequestId header");
    assert_eq!(id.len(), 36, "{id}");
}

const DEFINITION: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
const ROLE: &str = "arn:aws:iam::123456789012:role/sfn";

// ---------------------------------------------------------------------------------------------
// The aws CLI

#[test]
fn aws_cli_lifecycle_and_errors() {
    let port = serve();

    let created = stdout_json(&aws(
        port,
        &[
            "create-state-machine",
            "--name",
            "orders",
            "--definition",
            DEFINITION,
            "--role-arn",
            ROLE,
            "--type",
            "EXPRESS",
        ],
    ));
    let arn = created["stateMachineArn"].as_str().unwrap().to_string();
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
    );
    // CLI v1 prints timestamps as the epoch seconds it received.
    assert!(
        created["creationDate"].as_f64().unwrap() > 1.6e9,
        "{created}"
    );

    let described = stdout_json(&aws(
        port,
        &["describe-state-machine", "--state-machine-arn", &arn],
    ));
    assert_eq!(described["name"], "orders");
    assert_eq!(described["type"], "EXPRESS");
    assert_eq!(described["status"], "ACTIVE");
    assert_eq!(described["definition"], DEFINITION);
    assert_eq!(described["roleArn"], ROLE);

    for name in ["billing", "audit"] {
        stdout_json(&aws(
            port,
            &[
                "create-state-machine",
                "--name",
                name,
                "--definition",
                DEFINITION,
                "--role-arn",
                ROLE,
            ],
        ));
    }
    // The CLI follows nextToken across pages of one.
    let listed = stdout_json(&aws(port, &["list-state-machines", "--page-size", "1"]));
    let names: Vec<&str> = listed["stateMachines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "billing", "orders"]);

    // AWS errors, shown by name.
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope";
    assert_cli_error(
        &aws(
            port,
            &["describe-state-machine", "--state-machine-arn", missing],
        ),
        "StateMachineDoesNotExist",
        "DescribeStateMachine",
        &format!("State Machine Does Not Exist: '{missing}'"),
    );
    assert_cli_error(
        &aws(
            port,
            &[
                "create-state-machine",
                "--name",
                "orders",
                "--definition",
                DEFINITION,
                "--role-arn",
                ROLE,
            ],
        ),
        "StateMachineAlreadyExists",
        "CreateStateMachine",
        &format!("State Machine Already Exists: '{arn}'"),
    );
    assert_cli_error(
        &aws(
            port,
            &[
                "describe-state-machine",
                "--state-machine-arn",
                "not_a_valid_arn",
            ],
        ),
        "InvalidArn",
        "DescribeStateMachine",
        "Invalid Arn: 'Invalid ARN prefix: not_a_valid_arn'",
    );
    assert_cli_error(
        &aws(
            port,
            &[
                "create-state-machine",
                "--name",
                "a b",
                "--definition",
                DEFINITION,
                "--role-arn",
                ROLE,
            ],
        ),
        "InvalidName",
        "CreateStateMachine",
        "Invalid Name: 'a b'",
    );

    // ValidationExceptions from the model's constraints (botocore checks only minimums).
    let long = "n".repeat(100);
    assert_cli_error(
        &aws(
            port,
            &[
                "create-state-machine",
                "--name",
                &long,
                "--definition",
                DEFINITION,
                "--role-arn",
                ROLE,
            ],
        ),
        "ValidationException",
        "CreateStateMachine",
        &format!(
            "1 validation error detected: Value '{long}' at 'name' failed to satisfy constraint: \
             Member must have length less than or equal to 80"
        ),
    );
    assert_cli_error(
        &aws(port, &["list-state-machines", "--max-results", "1001"]),
        "ValidationException",
        "ListStateMachines",
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: \
         Member must have value less than or equal to 1000",
    );

    // An operation the backend does not implement.
    assert_cli_error(
        &aws(port, &["list-activities"]),
        "UnsupportedOperation",
        "ListActivities",
        "Operation ListActivities is not supported by Sluice yet",
    );

    // An empty output structure: the CLI prints nothing.
    let deleted = aws(port, &["delete-state-machine", "--state-machine-arn", &arn]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(deleted.stdout.is_empty());
    assert_cli_error(
        &aws(
            port,
            &["describe-state-machine", "--state-machine-arn", &arn],
        ),
        "StateMachineDoesNotExist",
        "DescribeStateMachine",
        "State Machine Does Not Exist",
    );
}

// ---------------------------------------------------------------------------------------------
// boto3

const BOTO3_SCRIPT: &str = r#"
import datetime, json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sfn = boto3.client(
    "stepfunctions",
    endpoint_url=sys.argv[1],
    region_name="us-east-1",
    aws_access_key_id="x",
    aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1, "mode": "standard"}),
)
out = {}
created = sfn.create_state_machine(name="etl", definition=sys.argv[2], roleArn=sys.argv[3])
out["arn"] = created["stateMachineArn"]
out["created_is_datetime"] = isinstance(created["creationDate"], datetime.datetime)
out["request_id_len"] = len(created["ResponseMetadata"]["RequestId"])
described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
out["type"] = described["type"]
out["definition"] = described["definition"]
listed = sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 1})
out["names"] = [m["name"] for page in listed for m in page["stateMachines"]]

def error(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return {
            "code": e.response["Error"]["Code"],
            "message": e.response["Error"]["Message"],
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return None

out["missing"] = error(sfn.describe_state_machine,
    stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:nope")
out["too_long"] = error(sfn.create_state_machine, name="x" * 100, definition="{}", roleArn=sys.argv[3])
out["bad_token"] = error(sfn.list_state_machines, nextToken="forged")
out["execution_arn"] = error(sfn.describe_state_machine,
    stateMachineArn="arn:aws:states:us-east-1:123456789012:express:m:e:id")
print(json.dumps(out))
"#;

#[test]
fn boto3_round_trips_and_errors() {
    let port = serve();
    let mut command = Command::new(venv().join("bin/python"));
    client_env(&mut command).args([
        "-c",
        BOTO3_SCRIPT,
        &format!("http://127.0.0.1:{port}"),
        DEFINITION,
        ROLE,
    ]);
    let output = command.output().expect("run python");
    let out = stdout_json(&output);
    assert_eq!(
        out["arn"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:etl"
    );
    assert_eq!(out["created_is_datetime"], true);
    assert_eq!(out["request_id_len"], 36);
    assert_eq!(out["type"], "STANDARD");
    assert_eq!(out["definition"], DEFINITION);
    assert_eq!(out["names"], json!(["etl"]));
    assert_eq!(
        out["missing"],
        json!({
            "code": "StateMachineDoesNotExist",
            "message": "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:nope'",
            "status": 400,
        })
    );
    assert_eq!(out["too_long"]["code"], "ValidationException");
    assert_eq!(
        out["too_long"]["message"],
        format!(
            "1 validation error detected: Value '{}' at 'name' failed to satisfy constraint: \
             Member must have length less than or equal to 80",
            "x".repeat(100)
        )
    );
    assert_eq!(
        out["bad_token"],
        json!({"code": "InvalidToken", "message": "Invalid Token: 'Invalid token'", "status": 400})
    );
    assert_eq!(
        out["execution_arn"]["message"],
        "Invalid Arn: 'Resource type not valid in this context: express'"
    );
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP: what no SDK sends

#[test]
fn raw_http_bad_requests_get_aws_errors() {
    let port = serve();

    // Malformed JSON, and members of the wrong type.
    for body in [
        &b"{not json"[..],
        b"{\"maxResults\": \"ten\"}",
        b"[1,2]",
        b"\xff\xfe",
        b"null",
    ] {
        let response = sfn_call(port, "AWSStepFunctions.ListStateMachines", body);
        assert_aws_error(&response, 400, "SerializationException");
    }

    // Unknown operations and services, missing or odd targets.
    let response = sfn_call(port, "AWSStepFunctions.LaunchRockets", b"{}");
    let message = assert_aws_error(&response, 400, "UnknownOperationException");
    assert!(
        message.contains("AWSStepFunctions.LaunchRockets"),
        "{message}"
    );
    for target in ["DynamoDB_20120810.ListTables", "ListStateMachines", ""] {
        let response = sfn_call(port, target, b"{}");
        assert_aws_error(&response, 400, "UnknownOperationException");
    }
    let response = raw(port, "POST", "/", &[], b"{}");
    assert_aws_error(&response, 400, "UnknownOperationException");

    // Missing required members.
    let response = sfn_call(port, "AWSStepFunctions.DescribeStateMachine", b"{}");
    let message = assert_aws_error(&response, 400, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy \
         constraint: Member must not be null"
    );

    // An empty body is an empty structure.
    let response = sfn_call(port, "AWSStepFunctions.ListStateMachines", b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"stateMachines": []}));
    assert_request_id(&response);

    // A body over the limit is refused from its declared length, before it is sent.
    let response = raw_declaring(
        port,
        "POST",
        "/",
        &[("X-Amz-Target", "AWSStepFunctions.ListStateMachines")],
        b"",
        4 * 1024 * 1024 + 1,
    );
    assert_aws_error(&response, 413, "RequestEntityTooLargeException");
    // A large body under the limit is read whole (a 1 MB definition, escaped).
    let definition = format!("{{\"Comment\":\"{}\"}}", "x".repeat(1_000_000));
    let body = json!({"name": "big", "definition": definition, "roleArn": ROLE}).to_string();
    let response = sfn_call(port, "AWSStepFunctions.CreateStateMachine", body.as_bytes());
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );

    // A panicking backend is an InternalFailure, and the server keeps serving.
    let body = br#"{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:panic"}"#;
    let response = sfn_call(port, "AWSStepFunctions.DescribeStateMachine", body);
    assert_aws_error(&response, 500, "InternalFailure");
    let response = sfn_call(port, "AWSStepFunctions.ListStateMachines", b"{}");
    assert_eq!(response.status, 200);
}

#[test]
fn health_and_request_ids() {
    let port = serve();
    let response = raw(port, "GET", "/health", &[], b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"status": "ok"}));
    assert_request_id(&response);

    let response = raw(port, "GET", "/nowhere", &[], b"");
    assert_eq!(response.status, 404);
    assert_request_id(&response);

    let a = sfn_call(port, "AWSStepFunctions.ListStateMachines", b"{}");
    let b = sfn_call(port, "AWSStepFunctions.ListStateMachines", b"{}");
    assert_ne!(a.headers["x-amzn-requestid"], b.headers["x-amzn-requestid"]);
    assert_eq!(
        a.headers.get("content-type").map(String::as_str),
        Some("application/x-amz-json-1.0")
    );
}
