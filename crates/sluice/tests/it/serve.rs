//! Drives the real `sluice serve` binary with real clients (the harness is `common/mod.rs`):
//! the state machine and execution lifecycle, errors, pagination, crash recovery, time control.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// The seed Pass machine's history: Pass → Choice → Pass → Succeed.
const SEED_PASS_HISTORY: &[&str] = &[
    "ExecutionStarted",
    "PassStateEntered",
    "PassStateExited",
    "ChoiceStateEntered",
    "ChoiceStateExited",
    "PassStateEntered",
    "PassStateExited",
    "SucceedStateEntered",
    "SucceedStateExited",
    "ExecutionSucceeded",
];

// ---------------------------------------------------------------------------------------------
// The aws CLI

#[test]
fn aws_cli_state_machine_and_execution_lifecycle() {
    let dir = scratch("cli-lifecycle");
    let server = Server::start(&dir, &[]);
    let definition = std::fs::read_to_string(seed("sec-pipeline-pass.json")).unwrap();

    let created = ok_json(&aws(
        &server,
        &[
            "create-state-machine",
            "--name",
            "sec-pipeline-pass",
            "--definition",
            &definition,
            "--role-arn",
            ROLE,
        ],
    ));
    let machine = format!("{PREFIX}:stateMachine:sec-pipeline-pass");
    assert_eq!(created["stateMachineArn"], machine.as_str());
    assert!(
        created["creationDate"].as_f64().unwrap() > 1.6e9,
        "{created}"
    );

    let described = ok_json(&aws(
        &server,
        &["describe-state-machine", "--state-machine-arn", &machine],
    ));
    assert_eq!(described["name"], "sec-pipeline-pass");
    assert_eq!(described["type"], "STANDARD");
    assert_eq!(described["status"], "ACTIVE");
    assert_eq!(described["definition"], definition.as_str());
    assert_eq!(described["roleArn"], ROLE);

    let listed = ok_json(&aws(&server, &["list-state-machines"]));
    let names: Vec<&str> = listed["stateMachines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sec-pipeline-pass"]);

    let broken = r#"{"StartAt":"Missing","States":{"A":{"Type":"Pass"}}}"#;
    let validated = ok_json(&aws(
        &server,
        &["validate-state-machine-definition", "--definition", broken],
    ));
    assert_eq!(validated["result"], "FAIL");
    let diagnostics = validated["diagnostics"].as_array().unwrap();
    assert!(!diagnostics.is_empty());
    for d in diagnostics {
        assert_eq!(d["severity"], "ERROR");
        assert!(
            d["code"]
                .as_str()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
        );
        assert!(!d["message"].as_str().unwrap().is_empty());
        assert!(d["location"].as_str().unwrap().starts_with('/'), "{d}");
    }
    assert!(
        diagnostics
            .iter()
            .any(|d| d["code"] == "MISSING_TRANSITION_TARGET" && d["location"] == "/StartAt"),
        "{validated}"
    );
    let valid = ok_json(&aws(
        &server,
        &[
            "validate-state-machine-definition",
            "--definition",
            &definition,
        ],
    ));
    assert_eq!(valid["result"], "OK");

    let input = std::fs::read_to_string(seed("event.json")).unwrap();
    let started = ok_json(&aws(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "first",
            "--input",
            &input,
        ],
    ));
    let execution = format!("{PREFIX}:execution:sec-pipeline-pass:first");
    assert_eq!(started["executionArn"], execution.as_str());
    wait_done(server.port, &execution, Duration::from_secs(10));

    let described = ok_json(&aws(
        &server,
        &["describe-execution", "--execution-arn", &execution],
    ));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(described["stateMachineArn"], machine.as_str());
    assert_eq!(described["name"], "first");
    assert_eq!(described["input"], input.as_str());
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({ "notifications_sent": 1 }));
    assert!(described["stopDate"].as_f64().unwrap() >= described["startDate"].as_f64().unwrap());

    let history = ok_json(&aws(
        &server,
        &["get-execution-history", "--execution-arn", &execution],
    ));
    let events = history["events"].as_array().unwrap();
    assert_eq!(types(events), SEED_PASS_HISTORY);
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert!(events[0]["timestamp"].as_f64().unwrap() > 1.6e9);
    assert_eq!(
        events[0]["executionStartedEventDetails"]["input"],
        input.as_str()
    );
    assert_eq!(events[0]["executionStartedEventDetails"]["roleArn"], ROLE);

    let executions = ok_json(&aws(
        &server,
        &[
            "list-executions",
            "--state-machine-arn",
            &machine,
            "--status-filter",
            "SUCCEEDED",
        ],
    ));
    assert_eq!(
        executions["executions"][0]["executionArn"],
        execution.as_str()
    );
}

#[test]
fn aws_cli_express_sync_execution_with_the_mock_config() {
    let dir = scratch("cli-express");
    let server = Server::start(&dir, &["--mock-config", &seed("sfn-mock-config.json")]);
    let definition = std::fs::read_to_string(seed("sec-pipeline-lambda.json")).unwrap();
    let created = ok_json(&aws(
        &server,
        &[
            "create-state-machine",
            "--name",
            "sec-pipeline-lambda",
            "--definition",
            &definition,
            "--role-arn",
            ROLE,
            "--type",
            "EXPRESS",
        ],
    ));
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();

    let input = std::fs::read_to_string(seed("event.json")).unwrap();
    let result = ok_json(&aws(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &format!("{machine}#HappyPath"),
            "--input",
            &input,
        ],
    ));
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    let output: Value = serde_json::from_str(result["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({ "notifications_sent": 1 }));
    let execution = result["executionArn"].as_str().unwrap();
    assert!(
        execution.starts_with(&format!("{PREFIX}:express:sec-pipeline-lambda:")),
        "{execution}"
    );
    assert_eq!(result["stateMachineArn"], machine.as_str());
    assert!(result["stopDate"].as_f64().unwrap() >= result["startDate"].as_f64().unwrap());

    // Beyond AWS: recent EXPRESS executions can be described and their history read.
    let described = call_ok(
        server.port,
        "DescribeExecution",
        json!({ "executionArn": execution }),
    );
    assert_eq!(described["status"], "SUCCEEDED");
    let events = history(server.port, execution);
    // A Lambda function ARN as the resource: AWS's LambdaFunction* events.
    let task = [
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
    ];
    let mut expected = vec!["ExecutionStarted"];
    expected.extend(task);
    expected.extend(["ChoiceStateEntered", "ChoiceStateExited"]);
    expected.extend(task);
    expected.extend([
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]);
    assert_eq!(types(&events), expected);

    // A test case the mock config does not have fails the execution, not the call.
    let failed = ok_json(&aws(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &format!("{machine}#NoSuchCase"),
        ],
    ));
    assert_eq!(failed["status"], "FAILED", "{failed}");

    // StartSyncExecution is for EXPRESS machines only.
    let pass = std::fs::read_to_string(seed("sec-pipeline-pass.json")).unwrap();
    let standard = call_ok(
        server.port,
        "CreateStateMachine",
        json!({ "name": "standard", "definition": pass, "roleArn": ROLE }),
    );
    let error = aws(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            standard["stateMachineArn"].as_str().unwrap(),
        ],
    );
    assert_cli_error(
        &error,
        "StateMachineTypeNotSupported",
        "StartSyncExecution",
        "This operation is not supported by this type of state machine",
    );
}

#[test]
fn aws_cli_errors_have_aws_names_and_wording() {
    let dir = scratch("cli-errors");
    let server = Server::start(&dir, &[]);
    let missing = format!("{PREFIX}:stateMachine:nope");
    assert_cli_error(
        &aws(
            &server,
            &["describe-state-machine", "--state-machine-arn", &missing],
        ),
        "StateMachineDoesNotExist",
        "DescribeStateMachine",
        &format!("State Machine Does Not Exist: '{missing}'"),
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "create-state-machine",
                "--name",
                "bad",
                "--definition",
                r#"{"StartAt":"A","States":{"A":{"Type":"Nope","End":true}}}"#,
                "--role-arn",
                ROLE,
            ],
        ),
        "InvalidDefinition",
        "CreateStateMachine",
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "describe-state-machine",
                "--state-machine-arn",
                "not-an-arn",
            ],
        ),
        "InvalidArn",
        "DescribeStateMachine",
        "Invalid Arn: 'Invalid ARN prefix: not-an-arn'",
    );

    // A machine that waits, so that an execution stays RUNNING for the idempotency checks.
    let waiting = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}"#;
    let machine = call_ok(
        server.port,
        "CreateStateMachine",
        json!({ "name": "waits", "definition": waiting, "roleArn": ROLE }),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_cli_error(
        &aws(
            &server,
            &[
                "create-state-machine",
                "--name",
                "waits",
                "--definition",
                r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#,
                "--role-arn",
                ROLE,
            ],
        ),
        "StateMachineAlreadyExists",
        "CreateStateMachine",
        &format!("State Machine Already Exists: '{machine}'"),
    );
    let start = |name: &str, input: &str| {
        aws(
            &server,
            &[
                "start-execution",
                "--state-machine-arn",
                &machine,
                "--name",
                name,
                "--input",
                input,
            ],
        )
    };
    let first = ok_json(&start("once", r#"{"a":1}"#));
    // Same name and input while RUNNING: the same execution (AWS's idempotency).
    let again = call_ok(
        server.port,
        "StartExecution",
        json!({ "stateMachineArn": machine, "name": "once", "input": r#"{"a":1}"# }),
    );
    assert_eq!(again, first);
    let execution = first["executionArn"].as_str().unwrap();
    assert_cli_error(
        &start("once", r#"{"a":2}"#),
        "ExecutionAlreadyExists",
        "StartExecution",
        &format!("Execution Already Exists: '{execution}'"),
    );
    assert_cli_error(
        &start("has space", "{}"),
        "InvalidName",
        "StartExecution",
        "Invalid Name: 'has space'",
    );
    assert_cli_error(
        &start("badinput", "{nope"),
        "InvalidExecutionInput",
        "StartExecution",
        "Invalid State Machine Execution Input: '",
    );

    let stopped = call_ok(
        server.port,
        "StopExecution",
        json!({ "executionArn": execution, "error": "Stop", "cause": "test" }),
    );
    assert!(stopped["stopDate"].as_f64().unwrap() > 1.6e9);
    let described = call_ok(
        server.port,
        "DescribeExecution",
        json!({ "executionArn": execution }),
    );
    assert_eq!(described["status"], "ABORTED", "{described}");
    // Closed: the same name and input no longer return it.
    let (status, body) = call(
        server.port,
        "StartExecution",
        &json!({ "stateMachineArn": machine, "name": "once", "input": r#"{"a":1}"# }),
    )
    .unwrap();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("ExecutionAlreadyExists"))
    );
    let events = history(server.port, execution);
    assert_eq!(types(&events).last(), Some(&"ExecutionAborted"));

    let unknown = format!("{PREFIX}:execution:waits:unknown");
    let (status, body) = call(
        server.port,
        "DescribeExecution",
        &json!({ "executionArn": unknown }),
    )
    .unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "ExecutionDoesNotExist");
    assert_eq!(
        body["message"],
        format!("Execution Does Not Exist: '{unknown}'")
    );
}

// ---------------------------------------------------------------------------------------------
// boto3

const BOTO3_LIFECYCLE: &str = r#"
definition = open(os.environ["DEFINITION"]).read()

def error_code(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} succeeded")

arn = sfn.create_state_machine(
    name="boto", definition=definition, roleArn=role, tags=[{"key": "team", "value": "sec"}]
)["stateMachineArn"]
# Idempotent: the same name and definition return the same machine.
assert sfn.create_state_machine(name="boto", definition=definition, roleArn=role)["stateMachineArn"] == arn
d = sfn.describe_state_machine(stateMachineArn=arn)
assert d["status"] == "ACTIVE" and d["type"] == "STANDARD" and d["definition"] == definition, d
assert isinstance(d["creationDate"], datetime.datetime), d

tags = sfn.list_tags_for_resource(resourceArn=arn)["tags"]
assert tags == [{"key": "team", "value": "sec"}], tags
sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "test"}])
sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "test"}]

# Versions: update with publish, publish again without a change (same version).
updated_definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 2}, "End": True}}})
u = sfn.update_state_machine(stateMachineArn=arn, definition=updated_definition, publish=True, versionDescription="second")
assert u["stateMachineVersionArn"] == arn + ":1", u
assert isinstance(u["updateDate"], datetime.datetime)
assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == arn + ":1"
v = sfn.describe_state_machine(stateMachineArn=arn + ":1")
assert v["description"] == "second" and v["definition"] == updated_definition, v
versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
assert [x["stateMachineVersionArn"] for x in versions] == [arn + ":1"], versions

# Executions, paginated listings.
arns = [
    sfn.start_execution(stateMachineArn=arn, name=f"e{i}", input=json.dumps({"i": i}))["executionArn"]
    for i in range(5)
]
deadline = time.time() + 10
for a in arns:
    while sfn.describe_execution(executionArn=a)["status"] == "RUNNING":
        assert time.time() < deadline, a
        time.sleep(0.05)
for a in arns:
    e = sfn.describe_execution(executionArn=a)
    assert e["status"] == "SUCCEEDED" and json.loads(e["output"]) == {"v": 2}, e
    assert isinstance(e["startDate"], datetime.datetime) and e["stopDate"] >= e["startDate"]
assert error_code(sfn.start_execution, stateMachineArn=arn, name="e0", input='{"i": 0}') == "ExecutionAlreadyExists"

pages = list(sfn.get_paginator("list_executions").paginate(
    stateMachineArn=arn, PaginationConfig={"PageSize": 2}))
names = sorted(e["name"] for p in pages for e in p["executions"])
assert names == [f"e{i}" for i in range(5)], names
assert len(pages) == 3, len(pages)
assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []

events = [e for p in sfn.get_paginator("get_execution_history").paginate(
    executionArn=arns[0], PaginationConfig={"PageSize": 3}) for e in p["events"]]
assert [e["id"] for e in events] == list(range(1, len(events) + 1)), events
assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
assert isinstance(events[0]["timestamp"], datetime.datetime)
backwards = sfn.get_execution_history(executionArn=arns[0], reverseOrder=True, maxResults=1)
assert backwards["events"][0]["type"] == "ExecutionSucceeded" and "nextToken" in backwards
lean = sfn.get_execution_history(executionArn=arns[0], includeExecutionData=False)["events"]
assert "input" not in lean[0]["executionStartedEventDetails"], lean[0]

# An execution of a version names it.
va = sfn.start_execution(stateMachineArn=arn + ":1", name="from-version")["executionArn"]
ve = sfn.describe_execution(executionArn=va)
assert ve["stateMachineArn"] == arn and ve["stateMachineVersionArn"] == arn + ":1", ve
forx = sfn.describe_state_machine_for_execution(executionArn=arns[0])
assert forx["definition"] == updated_definition, forx

# Errors.
assert error_code(sfn.describe_state_machine, stateMachineArn=arn + "-nope") == "StateMachineDoesNotExist"
assert error_code(sfn.describe_execution, executionArn=arn.replace("stateMachine", "execution") + ":nope") == "ExecutionDoesNotExist"
assert error_code(sfn.describe_execution, executionArn="arn:aws:lambda:us-east-1:000000000000:function:f") == "InvalidArn"
assert error_code(sfn.list_executions, stateMachineArn=arn, nextToken="garbage") == "InvalidToken"
assert error_code(sfn.create_state_machine, name="bad/name", definition=definition, roleArn=role) == "InvalidName"

sfn.delete_state_machine(stateMachineArn=arn)
assert error_code(sfn.describe_state_machine, stateMachineArn=arn) == "StateMachineDoesNotExist"
assert sfn.list_state_machines()["stateMachines"] == []
print("OK")
"#;

#[test]
fn boto3_lifecycle() {
    let dir = scratch("boto3");
    let server = Server::start(&dir, &[]);
    run_boto3(
        &server,
        BOTO3_LIFECYCLE,
        &[("DEFINITION", &seed("sec-pipeline-pass.json"))],
    );
}

// ---------------------------------------------------------------------------------------------
// Server behaviour: health, time scale, graceful shutdown, crash recovery

#[test]
fn health_time_scale_and_graceful_shutdown() {
    let dir = scratch("shutdown");
    let mut server = Server::start(&dir, &["--time-scale", "100"]);

    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");

    // A 60-second Wait takes about 0.6 s at --time-scale 100.
    let waiting = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}"#;
    let machine = call_ok(
        server.port,
        "CreateStateMachine",
        json!({ "name": "minute", "definition": waiting, "roleArn": ROLE }),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let began = Instant::now();
    let execution = call_ok(
        server.port,
        "StartExecution",
        json!({ "stateMachineArn": machine, "name": "fast" }),
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(done["status"], "SUCCEEDED");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );

    let status = server.terminate();
    assert!(status.success(), "{status:?}\n{}", server.log());

    // What was acknowledged before SIGTERM is there after a restart.
    let server = Server::start(&dir, &[]);
    let described = call_ok(
        server.port,
        "DescribeExecution",
        json!({ "executionArn": execution }),
    );
    assert_eq!(described["status"], "SUCCEEDED");
}

#[test]
fn print_config_shows_the_effective_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "serve",
            "--print-config",
            "--port",
            "0",
            "--time-scale",
            "5",
        ])
        .env("SLUICE__REGION", "eu-west-1")
        .env_remove("SFN_MOCK_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    for line in [
        "listen = \"127.0.0.1:0\"",
        "region = \"eu-west-1\"",
        "time-scale = 5.0",
        "data-dir = \"./.sluice\"",
        "[store]",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--print-config"])
        .env("SLUICE__LISTN", "x")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("listn"));
}

/// A small deterministic generator (xorshift64*), so the crash points are reproducible.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const WAITING_MACHINE: &str = r#"{"StartAt":"Begin","States":{
  "Begin":{"Type":"Pass","Result":1,"ResultPath":"$.begin","Next":"Wait1"},
  "Wait1":{"Type":"Wait","Seconds":1,"Next":"Middle"},
  "Middle":{"Type":"Pass","Result":2,"ResultPath":"$.middle","Next":"Wait2"},
  "Wait2":{"Type":"Wait","Seconds":1,"Next":"Done"},
  "Done":{"Type":"Pass","Parameters":{"n.$":"$.n","begin.$":"$.begin","middle.$":"$.middle"},"End":true}}}"#;

const WAITING_HISTORY: &[&str] = &[
    "ExecutionStarted",
    "PassStateEntered",
    "PassStateExited",
    "WaitStateEntered",
    "WaitStateExited",
    "PassStateEntered",
    "PassStateExited",
    "WaitStateEntered",
    "WaitStateExited",
    "PassStateEntered",
    "PassStateExited",
    "ExecutionSucceeded",
];

/// Starts STANDARD executions that wait on timers, `kill -9`s the server at seeded random
/// points (three times, each time while a new batch is being started and earlier ones are
/// being recovered), restarts it on the same data dir, and checks that every execution whose
/// StartExecution was acknowledged — and every other one the store holds — completes exactly
/// once: SUCCEEDED with the right output, history ids 1..n without a gap or duplicate, one
/// ExecutionStarted, ending in ExecutionSucceeded.
#[test]
fn kill_9_and_restart_completes_every_execution_exactly_once() {
    const ROUNDS: u64 = 3;
    const PER_ROUND: u64 = 20;
    let seed = std::env::var("SLUICE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_C0DE_u64);
    eprintln!("crash test seed {seed:#x} (set SLUICE_CRASH_SEED to replay another)");
    let mut rng = Rng(seed | 1);
    let dir = scratch("crash");
    let machine = format!("{PREFIX}:stateMachine:waits");
    let acknowledged: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();

    for round in 0..ROUNDS {
        let mut server = Server::start(&dir, &[]);
        if round == 0 {
            call_ok(
                server.port,
                "CreateStateMachine",
                json!({ "name": "waits", "definition": WAITING_MACHINE, "roleArn": ROLE }),
            );
        }
        let port = server.port;
        let pace = Duration::from_millis(10 + rng.below(40));
        let submitter = {
            let acknowledged = Arc::clone(&acknowledged);
            let machine = machine.clone();
            std::thread::spawn(move || {
                for i in 0..PER_ROUND {
                    let n = round * 100 + i;
                    let request = json!({
                        "stateMachineArn": machine,
                        "name": format!("r{round}-{i}"),
                        "input": json!({ "n": n }).to_string(),
                    });
                    match call(port, "StartExecution", &request) {
                        Ok((200, body)) => acknowledged
                            .lock()
                            .unwrap()
                            .push((body["executionArn"].as_str().unwrap().to_string(), n)),
                        Ok((status, body)) => panic!("StartExecution: HTTP {status}: {body}"),
                        // Killed mid-request or before it: not acknowledged.
                        Err(_) => return,
                    }
                    std::thread::sleep(pace);
                }
            })
        };
        let kill_after = Duration::from_millis(rng.below(2_000));
        std::thread::sleep(kill_after);
        server.kill9();
        submitter.join().expect("submitter");
        eprintln!(
            "round {round}: killed after {kill_after:?}; {} starts acknowledged so far",
            acknowledged.lock().unwrap().len()
        );
    }

    let server = Server::start(&dir, &[]);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "no StartExecution was acknowledged"
    );

    // Everything the store holds, acknowledged or not, must finish.
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let listed = call_ok(
            server.port,
            "ListExecutions",
            json!({ "stateMachineArn": machine, "maxResults": 1000 }),
        );
        let executions = listed["executions"].as_array().unwrap().clone();
        if executions.iter().all(|e| e["status"] != "RUNNING") {
            break executions;
        }
        assert!(
            Instant::now() < deadline,
            "executions still RUNNING after recovery: {}\nserver:\n{}",
            executions
                .iter()
                .filter(|e| e["status"] == "RUNNING")
                .map(|e| e["name"].as_str().unwrap())
                .collect::<Vec<_>>()
                .join(", "),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let listed_arns: HashSet<&str> = listed
        .iter()
        .map(|e| e["executionArn"].as_str().unwrap())
        .collect();
    for (arn, _) in &acknowledged {
        assert!(
            listed_arns.contains(arn.as_str()),
            "acknowledged {arn} is gone"
        );
    }
    assert_eq!(
        listed_arns.len(),
        listed.len(),
        "an execution is listed twice"
    );

    for execution in &listed {
        let arn = execution["executionArn"].as_str().unwrap();
        let name = execution["name"].as_str().unwrap();
        let (round, i) = name[1..].split_once('-').unwrap();
        let n: u64 = round.parse::<u64>().unwrap() * 100 + i.parse::<u64>().unwrap();
        let described = call_ok(
            server.port,
            "DescribeExecution",
            json!({ "executionArn": arn }),
        );
        assert_eq!(described["status"], "SUCCEEDED", "{described}");
        let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
        assert_eq!(output, json!({ "n": n, "begin": 1, "middle": 2 }), "{arn}");

        let events = history(server.port, arn);
        let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
        assert_eq!(
            ids,
            (1..=events.len() as u64).collect::<Vec<_>>(),
            "{arn}: ids not contiguous from 1"
        );
        assert_eq!(types(&events), WAITING_HISTORY, "{arn}");
        assert_eq!(
            types(&events)
                .iter()
                .filter(|t| **t == "ExecutionStarted")
                .count(),
            1
        );
        for pair in events.windows(2) {
            assert!(
                pair[1]["timestamp"].as_f64() >= pair[0]["timestamp"].as_f64(),
                "{arn}: time goes backwards: {} then {}",
                pair[0],
                pair[1]
            );
        }
    }
    eprintln!(
        "{} executions ({} acknowledged) completed exactly once",
        listed.len(),
        acknowledged.len()
    );
}

#[test]
fn the_clock_can_be_advanced_through_the_api() {
    let dir = scratch("clock");
    let server = Server::start(&dir, &[]);
    let hour = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#;
    let machine = call_ok(
        server.port,
        "CreateStateMachine",
        json!({ "name": "hour", "definition": hour, "roleArn": ROLE }),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let execution = call_ok(
        server.port,
        "StartExecution",
        json!({ "stateMachineArn": machine, "name": "h", "input": "{\"k\":1}" }),
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    let post = |body: &str| {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let request = format!(
            "POST /sluice/clock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    assert!(post(r#"{"advanceSeconds": -1}"#).starts_with("HTTP/1.1 400"));
    let described = call_ok(
        server.port,
        "DescribeExecution",
        json!({ "executionArn": execution }),
    );
    assert_eq!(described["status"], "RUNNING", "an hour has not passed yet");
    assert!(post(r#"{"advanceSeconds": 3600}"#).starts_with("HTTP/1.1 200"));
    let done = wait_done(server.port, &execution, Duration::from_secs(10));
    assert_eq!(done["status"], "SUCCEEDED");
    assert_eq!(done["output"], "{\"k\":1}");
}

// ---------------------------------------------------------------------------------------------
// One port for every service: regions, request ids, errors of unknown routes

const BOTO3_REGIONS: &str = r#"
import urllib.request
endpoint = os.environ["ENDPOINT"]
definition = open(os.environ["DEFINITION"]).read()
for region, partition in [("us-west-2", "aws"), ("cn-northwest-1", "aws-cn")]:
    client = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=region,
                          aws_access_key_id="x", aws_secret_access_key="x",
                          config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
    name = "regional-" + region
    arn = client.create_state_machine(name=name, definition=definition, roleArn=role)["stateMachineArn"]
    assert arn == f"arn:{partition}:states:{region}:000000000000:stateMachine:{name}", arn
    version = client.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    assert version == arn + ":1", version
    execution = client.start_execution(stateMachineArn=arn, name="e", input="{}")["executionArn"]
    assert execution == f"arn:{partition}:states:{region}:000000000000:execution:{name}:e", execution
    described = client.describe_execution(executionArn=execution)
    assert described["stateMachineArn"] == arn, described
    activity = client.create_activity(name="a-" + region)["activityArn"]
    assert activity == f"arn:{partition}:states:{region}:000000000000:activity:a-{region}", activity
# Each region lists its own machines and activities only.
for region in ["us-west-2", "cn-northwest-1"]:
    client = boto3.client("stepfunctions", endpoint_url=endpoint, region_name=region,
                          aws_access_key_id="x", aws_secret_access_key="x",
                          config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
    names = [m["name"] for m in client.list_state_machines()["stateMachines"]]
    assert names == ["regional-" + region], names
    names = [a["name"] for a in client.list_activities()["activities"]]
    assert names == ["a-" + region], names
# Unsigned requests live in the configured region.
body = json.dumps({"name": "unsigned", "definition": definition, "roleArn": role}).encode()
request = urllib.request.Request(endpoint, data=body, headers={
    "X-Amz-Target": "AWSStepFunctions.CreateStateMachine",
    "Content-Type": "application/x-amz-json-1.0"})
created = json.loads(urllib.request.urlopen(request).read())
assert created["stateMachineArn"].startswith("arn:aws:states:us-east-1:000000000000:"), created
client = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x",
                      config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
assert [m["name"] for m in client.list_state_machines()["stateMachines"]] == ["unsigned"]
print("OK")
"#;

#[test]
fn arns_name_the_region_and_partition_the_client_signed_for() {
    let dir = scratch("regions");
    let server = Server::start(&dir, &[]);
    run_boto3(
        &server,
        BOTO3_REGIONS,
        &[("DEFINITION", &seed("sec-pipeline-pass.json"))],
    );
}

/// `(status, headers in lower case, body)` of a raw HTTP/1.1 exchange.
fn raw(port: u16, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn every_route_has_a_request_id_and_unknown_routes_answer_in_their_protocol() {
    let dir = scratch("gateway");
    let server = Server::start(&dir, &[]);
    let port = server.port;
    // A Lambda path no operation has: REST-JSON's error, not an empty 404.
    let (status, head, _) = raw(
        port,
        "GET /2015-03-31/functions/f/no-such-thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404, "{head}");
    assert!(
        head.contains("x-amzn-errortype: unknownoperationexception"),
        "{head}"
    );
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    // A query-protocol action the service does not have.
    let body = "Action=NoSuchAction&Version=2010-03-31";
    let (status, head, text) = raw(
        port,
        &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, 400, "{head}");
    assert!(text.contains("<Code>InvalidAction</Code>"), "{text}");
    // S3 REST-XML: a bucket that does not exist, in S3's error shape.
    let (status, head, text) = raw(
        port,
        "GET /no-such-bucket/key HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404, "{head}");
    assert!(text.contains("<Code>NoSuchBucket</Code>"), "{text}");
    assert!(head.contains("x-amz-request-id: "), "{head}");
    // An S3 operation Sluice does not serve.
    let (status, _, text) = raw(
        port,
        "GET /no-such-bucket?acl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 501, "{text}");
    assert!(text.contains("<Code>NotImplemented</Code>"), "{text}");
    // Sluice's own routes and a Lambda call carry a request id too.
    for path in ["/sluice/stats", "/2015-03-31/functions"] {
        let (status, head, _) = raw(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(status, 200, "{path}: {head}");
        assert!(head.contains("x-amzn-requestid: "), "{path}: {head}");
    }
}

// ---------------------------------------------------------------------------------------------
// A full disk

/// A tmpfs mounted on `dir` for the test's life (unmounted on drop, even when the test fails).
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    /// `None` where mounting needs privileges this process lacks.
    fn mount(dir: &std::path::Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes a ballast file until the disk is full; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.dir.join("ballast");
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 512] {
            let block = vec![0u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[test]
fn a_full_disk_pauses_executions_and_they_carry_on_when_space_returns() {
    let dir = scratch("disk-full");
    let Some(disk) = SmallDisk::mount(&dir, "64m") else {
        // Mounting a tmpfs needs root, which CI has.
        assert!(!is_root(), "running as root but cannot mount a tmpfs");
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let data = dir.join("data");
    let mut server = Server::start(&data, &["--time-scale", "10"]);
    // Each execution waits 20 scaled seconds (2 s), so its next step comes while the disk is full.
    let waiting = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":20,"Next":"P"},"P":{"Type":"Pass","End":true}}}"#;
    let machine = call_ok(
        server.port,
        "CreateStateMachine",
        json!({ "name": "patient", "definition": waiting, "roleArn": ROLE }),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let start = |n: usize| {
        call(
            server.port,
            "StartExecution",
            &json!({ "stateMachineArn": machine, "name": format!("e{n}") }),
        )
        .unwrap()
    };
    let mut acknowledged = Vec::new();
    for n in 0..20 {
        let (status, body) = start(n);
        assert_eq!(status, 200, "{body}");
        acknowledged.push(body["executionArn"].as_str().unwrap().to_string());
    }
    let ballast = disk.fill();
    // Starts succeed while SQLite still has room in its log, then fail with a retryable error.
    let mut refused = None;
    for n in 20..2_000 {
        let (status, body) = start(n);
        match status {
            200 => acknowledged.push(body["executionArn"].as_str().unwrap().to_string()),
            _ => {
                refused = Some((status, body));
                break;
            }
        }
    }
    let (status, body) = refused.expect("a start is refused while the disk is full");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["__type"], "ServiceUnavailable", "{body}");
    // Let the waits end while the disk is still full: their steps cannot be committed.
    std::thread::sleep(Duration::from_secs(3));
    std::fs::remove_file(&ballast).unwrap();
    // Without a restart, every acknowledged execution ends as it would have.
    let deadline = Instant::now() + Duration::from_secs(60);
    for arn in &acknowledged {
        let left = deadline.saturating_duration_since(Instant::now());
        let described = wait_done(server.port, arn, left);
        assert_eq!(described["status"], "SUCCEEDED", "{arn}: {described}");
    }
    // New work is accepted again.
    let (status, body) = start(5_000);
    assert_eq!(status, 200, "{body}");
    assert!(
        server
            .log()
            .contains("retrying until the store writes again"),
        "{}",
        server.log()
    );
    server.kill9();
    drop(disk);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `GET <path>` over a plain socket: the JSON body.
fn get_json(port: u16, path: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_, body) = response.split_once("\r\n\r\n").expect("a response");
    serde_json::from_str(body).expect("a JSON body")
}

/// Bytes of `sluice.db` and its WAL in `dir`.
fn store_size(dir: &std::path::Path) -> (u64, u64) {
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    (size("sluice.db"), size("sluice.db-wal"))
}

/// Closed STANDARD executions expire 90 days (the default retention) after they stop, on the
/// engine's clock: rounds of executions of the seed Pass machine, the clock advanced 91 days
/// after each; every round's executions are then gone (DescribeExecution and
/// GetExecutionHistory answer ExecutionDoesNotExist, ListExecutions no longer lists them)
/// while a RUNNING execution (a long Wait) survives every purge and completes. The data dir
/// stays bounded: SQLite reuses the pages the purge freed (sizes printed per round).
#[test]
fn closed_executions_expire_and_the_data_dir_stays_bounded() {
    const ROUNDS: u64 = 5;
    const PER_ROUND: u64 = 500;
    const THREADS: u64 = 4;
    const DAY: u64 = 24 * 3600;
    let dir = scratch("retention");
    let server = Server::start(&dir, &[]);
    let port = server.port;
    let definition = std::fs::read_to_string(seed("sec-pipeline-pass.json")).unwrap();
    let input = std::fs::read_to_string(seed("event.json")).unwrap();
    let pass = create_state_machine(&server, "pass", &definition);
    // Waits through every round, then one more day.
    let wait = format!(
        r#"{{"StartAt":"W","States":{{"W":{{"Type":"Wait","Seconds":{},"End":true}}}}}}"#,
        (ROUNDS * 91 + 1) * DAY
    );
    let waiting_machine = create_state_machine(&server, "long-wait", &wait);
    let waiting = call_ok(
        port,
        "StartExecution",
        json!({ "stateMachineArn": waiting_machine, "name": "waiting" }),
    )["executionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let describe = |arn: &str| call(port, "DescribeExecution", &json!({ "executionArn": arn }));

    let mut sizes = Vec::new();
    for round in 0..ROUNDS {
        let started: Vec<String> = (0..THREADS)
            .map(|thread| {
                let (pass, input) = (pass.clone(), input.clone());
                std::thread::spawn(move || {
                    (0..PER_ROUND / THREADS)
                        .map(|i| {
                            let started = call_ok(
                                port,
                                "StartExecution",
                                json!({
                                    "stateMachineArn": pass,
                                    "name": format!("r{round}-t{thread}-{i}"),
                                    "input": input,
                                }),
                            );
                            started["executionArn"].as_str().unwrap().to_owned()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect();
        // The Pass machine has no wait: each execution ends in the commit that starts it.
        let listed = call_ok(
            port,
            "ListExecutions",
            json!({ "stateMachineArn": pass, "maxResults": 1000 }),
        );
        let listed = listed["executions"].as_array().unwrap();
        assert_eq!(listed.len() as u64, PER_ROUND, "only this round's are left");
        assert!(listed.iter().all(|e| e["status"] == "SUCCEEDED"));
        let (db, wal) = store_size(&dir);
        eprintln!(
            "round {round}: {PER_ROUND} closed executions kept: sluice.db {:.2} MiB, WAL {:.2} MiB",
            db as f64 / f64::from(1 << 20),
            wal as f64 / f64::from(1 << 20)
        );
        sizes.push((db, wal));

        advance_clock(port, 91 * DAY);
        let began = Instant::now();
        let deadline = began + Duration::from_secs(60);
        while get_json(port, "/sluice/stats")["store"]["purged"].as_u64()
            != Some((round + 1) * PER_ROUND)
        {
            assert!(
                Instant::now() < deadline,
                "round {round} not purged: {}\n{}",
                get_json(port, "/sluice/stats"),
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "round {round}: purged {PER_ROUND} within {:?} of the clock's advance",
            began.elapsed()
        );
        for arn in started.iter().step_by(50) {
            let (status, body) = describe(arn).unwrap();
            assert_eq!(
                (status, body["__type"].as_str()),
                (400, Some("ExecutionDoesNotExist")),
                "{arn}: {body}"
            );
            let (status, body) =
                call(port, "GetExecutionHistory", &json!({ "executionArn": arn })).unwrap();
            assert_eq!(
                (status, body["__type"].as_str()),
                (400, Some("ExecutionDoesNotExist")),
                "{arn}: {body}"
            );
        }
        let listed = call_ok(port, "ListExecutions", json!({ "stateMachineArn": pass }));
        assert_eq!(listed["executions"], json!([]), "round {round}");
        let (status, body) = describe(&waiting).unwrap();
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("RUNNING")),
            "{body}"
        );
    }

    // The Wait ends a day after the last round; then it is an ordinary closed execution.
    advance_clock(port, 2 * DAY);
    let done = wait_done(port, &waiting, Duration::from_secs(20));
    assert_eq!(done["status"], "SUCCEEDED");
    advance_clock(port, 91 * DAY);
    let deadline = Instant::now() + Duration::from_secs(60);
    while describe(&waiting).unwrap().0 != 400 {
        assert!(
            Instant::now() < deadline,
            "the Wait's execution is never purged"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Without the purge the file grows by a round's worth each round (to about ROUNDS times
    // round 0's size); with it, the pages it frees are reused. The WAL's size is the store's
    // own checkpoint policy (it restarts once checkpointed, never beyond `journal_size_limit`).
    let first = sizes[0].0;
    let largest = sizes.iter().map(|(db, _)| *db).max().unwrap_or(0);
    eprintln!(
        "largest sluice.db: {:.2} x round 0's",
        largest as f64 / first as f64
    );
    assert!(largest <= first * 2, "{sizes:?}");
    assert!(sizes.iter().all(|(_, wal)| *wal <= 64 << 20), "{sizes:?}");
}

/// `POST /sluice/clock` with `body`; the response's status line.
fn post_clock(port: u16, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "POST /sluice/clock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

/// Polls the history of `execution` until it holds an event of type `kind`.
fn wait_for_event(server: &Server, execution: &str, kind: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !types(&history(server.port, execution)).contains(&kind) {
        assert!(
            Instant::now() < deadline,
            "no {kind} in {execution}; server:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A history without its timestamps, to compare two executions' histories.
fn timeless(events: Vec<Value>) -> Vec<Value> {
    events
        .into_iter()
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("timestamp");
            e
        })
        .collect()
}

/// A mocked task whose first invocation throws and whose retry returns: the server is killed
/// (-9) while the retry waits, and after the restart the retry gets the second mocked response
/// (the invocation count is the execution's, kept with its snapshot), so the execution ends
/// with the history of one that never crashed.
#[test]
fn a_mocked_retry_after_kill_9_gets_the_next_mocked_response() {
    let dir = scratch("mock-retry");
    let mocks = dir.join("mocks.json");
    let config = json!({
        "StateMachines": {"retrying": {"TestCases": {"FailThenSucceed": {"Call": "FailThenSucceed"}}}},
        "MockedResponses": {"FailThenSucceed": {
            "0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "the first call fails"}},
            "1": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}
        }}
    });
    std::fs::write(&mocks, config.to_string()).unwrap();
    let mocks = mocks.to_str().unwrap();
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3600, "MaxAttempts": 1}],
        "OutputPath": "$.Payload", "End": true}}});

    let mut server = Server::start(&dir, &["--mock-config", mocks]);
    let machine = create_state_machine(&server, "retrying", &definition.to_string());
    let case = format!("{machine}#FailThenSucceed");
    let crashed = start_execution(&server, &case, r#"{"n":1}"#);
    // TaskFailed is committed with the retry's timer: the execution now waits an hour.
    wait_for_event(&server, &crashed, "TaskFailed");
    server.kill9();

    let server = Server::start(&dir, &["--mock-config", mocks]);
    let reference = start_execution(&server, &case, r#"{"n":1}"#);
    wait_for_event(&server, &reference, "TaskFailed");
    assert_eq!(
        post_clock(server.port, r#"{"advanceSeconds": 3600}"#),
        "HTTP/1.1 200 OK"
    );
    for execution in [&crashed, &reference] {
        let done = wait_done(server.port, execution, Duration::from_secs(20));
        assert_eq!(
            done["status"],
            "SUCCEEDED",
            "{done}\nserver:\n{}",
            server.log()
        );
        assert_eq!(done["output"], r#"{"ok":true}"#);
    }
    let events = history(server.port, &crashed);
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded",
        ]
    );
    assert_eq!(
        timeless(events),
        timeless(history(server.port, &reference)),
        "the crash left a trace"
    );
}

/// `--tags` for the aws CLI: `n` tags `k0=v0`, `k1=v1`... as JSON.
fn cli_tags(range: std::ops::Range<usize>) -> String {
    let tags: Vec<Value> = range
        .map(|i| json!({"key": format!("k{i}"), "value": format!("v{i}")}))
        .collect();
    Value::from(tags).to_string()
}

/// A state machine's role must be an IAM role ARN (on create and update); a tag needs a key;
/// a state machine or an activity holds at most 50 tags, those it has counted; a version has
/// no tags of its own.
#[test]
fn aws_cli_roles_and_tags_are_checked_as_on_aws() {
    let dir = scratch("roles-tags");
    let server = Server::start(&dir, &[]);
    let pass = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let create = |name: &str, role: &str, extra: &[&str]| {
        let mut args = vec![
            "create-state-machine",
            "--name",
            name,
            "--definition",
            pass,
            "--role-arn",
            role,
        ];
        args.extend_from_slice(extra);
        aws(&server, &args)
    };
    assert_cli_error(
        &create("m", "arn", &[]),
        "InvalidArn",
        "CreateStateMachine",
        "Invalid Role Arn: 'arn'",
    );
    let user = "arn:aws:iam::000000000000:user/sfn";
    assert_cli_error(
        &create("m", user, &[]),
        "InvalidArn",
        "CreateStateMachine",
        &format!("Invalid Role Arn: '{user}'"),
    );
    let machine = ok_json(&create("m", ROLE, &["--tags", &cli_tags(0..50)]))["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_cli_error(
        &aws(
            &server,
            &[
                "update-state-machine",
                "--state-machine-arn",
                &machine,
                "--role-arn",
                "arn",
            ],
        ),
        "InvalidArn",
        "UpdateStateMachine",
        "Invalid Role Arn: 'arn'",
    );
    let described = ok_json(&aws(
        &server,
        &["describe-state-machine", "--state-machine-arn", &machine],
    ));
    assert_eq!(
        described["roleArn"], ROLE,
        "the refused update changed nothing"
    );

    // A tag without a key (the CLI's shorthand leaves `key` out).
    assert_cli_error(
        &create("keyless", ROLE, &["--tags", "value=v"]),
        "ValidationException",
        "CreateStateMachine",
        "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy \
         constraint: Member must not be null",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "tag-resource",
                "--resource-arn",
                &machine,
                "--tags",
                "key=k,value=v",
                "value=w",
            ],
        ),
        "ValidationException",
        "TagResource",
        "1 validation error detected: Value null at 'tags.2.member.key' failed to satisfy \
         constraint: Member must not be null",
    );

    // 51 tags at once, or one more than the 50 a resource has.
    run_boto3(
        &server,
        r#"
def code(call, **args):
    try:
        call(**args)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], e.response.get("resourceName")
    raise AssertionError(f"{call.__name__} succeeded")

def tags(first, end):
    return [{"key": f"k{i}", "value": f"v{i}"} for i in range(first, end)]

machine = os.environ["MACHINE"]
many = machine.rsplit(":", 1)[0] + ":many"
too_many = "Too many tags: a resource has at most 50"
definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
assert code(sfn.create_state_machine, name="many", definition=definition, roleArn=role,
            tags=tags(0, 1001)) == ("TooManyTags", too_many, many)
assert code(sfn.describe_state_machine, stateMachineArn=many)[0] == "StateMachineDoesNotExist"
assert code(sfn.tag_resource, resourceArn=machine, tags=tags(50, 51)) == ("TooManyTags", too_many, machine)
sfn.tag_resource(resourceArn=machine, tags=tags(0, 50))  # keys it has: no more tags
assert len(sfn.list_tags_for_resource(resourceArn=machine)["tags"]) == 50

assert code(sfn.create_activity, name="a", tags=tags(0, 51))[:2] == ("TooManyTags", too_many)
assert code(sfn.create_activity, name="a", tags=[{"value": "v"}])[:2] == ("ValidationException",
    "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: "
    "Member must not be null")
activity = sfn.create_activity(name="a", tags=tags(0, 49))["activityArn"]
assert code(sfn.tag_resource, resourceArn=activity, tags=tags(49, 51)) == ("TooManyTags", too_many, activity)
assert len(sfn.list_tags_for_resource(resourceArn=activity)["tags"]) == 49

# A version has no tags of its own; nor has a machine or activity that is not there.
version = sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"]
gone = activity.rsplit(":", 1)[0] + ":gone"
for arn in [version, many, gone]:
    assert code(sfn.tag_resource, resourceArn=arn, tags=tags(0, 1)) == (
        "ResourceNotFound", f"Resource not found: '{arn}'", arn), arn
print("OK")
"#,
        &[("MACHINE", &machine)],
    );
}
