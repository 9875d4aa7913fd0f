//! Lambda functions end to end: the real `sluice serve`, Python handlers run by `awslambdaric`
//! from the project's venv, created and invoked with the `aws` CLI (zips built here), and the
//! seed state machine running on two real handlers (`examples/seed/handlers/`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

const LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/lambda";

fn python() -> String {
    venv().join("bin/python").display().to_string()
}

/// `sluice serve` running functions with the venv's Python, plus `extra` flags.
fn server(dir: &Path, extra: &[&str]) -> Server {
    let python = python();
    let mut args = vec!["--python", python.as_str()];
    args.extend_from_slice(extra);
    Server::start(dir, &args)
}

/// `aws lambda ARGS...` against `server`.
fn lambda(server: &Server, args: &[&str]) -> Output {
    let mut command = Command::new(venv().join("bin/aws"));
    client_env(&mut command)
        .arg("lambda")
        .args(args)
        .args(["--endpoint-url", &server.endpoint()])
        .args(["--output", "json"]);
    command.output().expect("run aws")
}

/// `aws stepfunctions ARGS...`.
fn sfn(server: &Server, args: &[&str]) -> Output {
    aws(server, args)
}

/// A zip of `(name, text)` files, written to `dir/name.zip`.
fn zip_file(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(format!("{name}.zip"));
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (file, text) in files {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        writer.start_file(*file, options).unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    path
}

fn create(server: &Server, name: &str, zip: &Path, handler: &str, extra: &[&str]) -> Value {
    let zip = format!("fileb://{}", zip.display());
    let mut args = vec![
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "python3.12",
        "--handler",
        handler,
        "--role",
        LAMBDA_ROLE,
        "--zip-file",
        &zip,
    ];
    args.extend_from_slice(extra);
    ok_json(&lambda(server, &args))
}

/// `aws lambda invoke`: (the CLI's JSON, the payload written to the outfile).
fn invoke(
    server: &Server,
    dir: &Path,
    name: &str,
    payload: &str,
    extra: &[&str],
) -> (Value, Value) {
    let out = dir.join(format!("out-{name}-{}.json", sluice_functions::uuid_v4()));
    let out_arg = out.display().to_string();
    let mut args = vec!["invoke", "--function-name", name, "--payload", payload];
    args.extend_from_slice(extra);
    args.push(&out_arg);
    let meta = ok_json(&lambda(server, &args));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let payload = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (meta, payload)
}

const HANDLER: &str = r#"
import os, time

class OrderRejected(Exception):
    pass

def handler(event, context):
    action = event.get("action")
    if action == "reject":
        raise OrderRejected("order " + str(event.get("order")) + " rejected")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "crash":
        os._exit(7)
    print("processing", event.get("order"))
    return {"order": event.get("order"), "greeting": os.environ.get("GREETING"), "pid": os.getpid()}
"#;

#[test]
fn the_lambda_api_manages_and_invokes_python_functions() {
    let dir = scratch("functions-api");
    let server = server(&dir, &[]);
    let zip = zip_file(&dir, "orders", &[("orders.py", HANDLER)]);
    let created = create(
        &server,
        "orders",
        &zip,
        "orders.handler",
        &[
            "--environment",
            "Variables={GREETING=hello}",
            "--timeout",
            "2",
        ],
    );
    assert_eq!(created["FunctionName"], "orders");
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:orders"
    );
    assert_eq!(created["State"], "Active");
    assert_eq!(created["Timeout"], 2);
    assert_eq!(created["MemorySize"], 128);
    assert_eq!(created["Environment"]["Variables"]["GREETING"], "hello");

    // Success: the handler's result, AWS's status and version.
    let (meta, out) = invoke(
        &server,
        &dir,
        "orders",
        r#"{"order": 1}"#,
        &["--log-type", "Tail"],
    );
    assert_eq!(meta["StatusCode"], 200);
    assert_eq!(meta["ExecutedVersion"], "$LATEST");
    assert!(meta.get("FunctionError").is_none(), "{meta}");
    assert_eq!(out["order"], 1);
    assert_eq!(out["greeting"], "hello");
    let log = String::from_utf8(base64_decode(
        meta["LogResult"].as_str().expect("LogResult"),
    ))
    .unwrap();
    assert!(log.contains("START RequestId: "), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");

    // A handler exception: FunctionError Unhandled, the error document as the payload.
    let (meta, out) = invoke(
        &server,
        &dir,
        "orders",
        r#"{"action": "reject", "order": 2}"#,
        &[],
    );
    assert_eq!(meta["StatusCode"], 200);
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(out["errorType"], "OrderRejected");
    assert_eq!(out["errorMessage"], "order 2 rejected");
    assert!(
        out["stackTrace"].as_array().is_some_and(|s| !s.is_empty()),
        "{out}"
    );

    // Timeout: the worker is killed, Sandbox.Timedout as AWS words it.
    let (meta, out) = invoke(
        &server,
        &dir,
        "orders",
        r#"{"action": "sleep", "seconds": 30}"#,
        &[],
    );
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(out["errorType"], "Sandbox.Timedout");
    assert!(
        out["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Task timed out after 2.00 seconds"),
        "{out}"
    );

    // A worker that dies mid-invocation: Runtime.ExitError; the next invocation gets a new one.
    let (_, before) = invoke(&server, &dir, "orders", r#"{"order": 3}"#, &[]);
    let (meta, out) = invoke(&server, &dir, "orders", r#"{"action": "crash"}"#, &[]);
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(out["errorType"], "Runtime.ExitError");
    assert!(
        out["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Runtime exited with error: exit status 7"),
        "{out}"
    );
    let (_, after) = invoke(&server, &dir, "orders", r#"{"order": 4}"#, &[]);
    assert_eq!(after["order"], 4);
    assert_ne!(after["pid"], before["pid"]);

    // Event and DryRun.
    let (meta, _) = invoke(
        &server,
        &dir,
        "orders",
        "{}",
        &["--invocation-type", "Event"],
    );
    assert_eq!(meta["StatusCode"], 202);
    let (meta, _) = invoke(
        &server,
        &dir,
        "orders",
        "{}",
        &["--invocation-type", "DryRun"],
    );
    assert_eq!(meta["StatusCode"], 204);

    // Reads, updates, list.
    let got = ok_json(&lambda(
        &server,
        &["get-function", "--function-name", "orders"],
    ));
    assert_eq!(got["Configuration"]["Handler"], "orders.handler");
    let updated = ok_json(&lambda(
        &server,
        &[
            "update-function-configuration",
            "--function-name",
            "arn:aws:lambda:us-east-1:000000000000:function:orders",
            "--environment",
            "Variables={GREETING=bonjour}",
        ],
    ));
    assert_eq!(updated["Environment"]["Variables"]["GREETING"], "bonjour");
    let (_, out) = invoke(&server, &dir, "orders", r#"{"order": 5}"#, &[]);
    assert_eq!(out["greeting"], "bonjour");
    let v2 = zip_file(
        &dir,
        "orders-v2",
        &[(
            "orders.py",
            "def handler(event, context):\n    return 'v2'\n",
        )],
    );
    let code = format!("fileb://{}", v2.display());
    let updated = ok_json(&lambda(
        &server,
        &[
            "update-function-code",
            "--function-name",
            "orders",
            "--zip-file",
            &code,
        ],
    ));
    assert_ne!(updated["CodeSha256"], created["CodeSha256"]);
    let (_, out) = invoke(&server, &dir, "orders", "{}", &[]);
    assert_eq!(out, "v2");
    let zip2 = zip_file(&dir, "other", &[("orders.py", HANDLER)]);
    create(&server, "other", &zip2, "orders.handler", &[]);
    let page = ok_json(&lambda(&server, &["list-functions"]));
    let names: Vec<&str> = page["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orders", "other"]);

    // AWS's errors.
    let output = lambda(&server, &["get-function", "--function-name", "nope"]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "GetFunction",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
    );
    let out = dir.join("nope.json").display().to_string();
    let output = lambda(&server, &["invoke", "--function-name", "nope", &out]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "Invoke",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST",
    );
    let zip_arg = format!("fileb://{}", zip.display());
    let output = lambda(
        &server,
        &[
            "create-function",
            "--function-name",
            "orders",
            "--runtime",
            "python3.12",
            "--handler",
            "orders.handler",
            "--role",
            LAMBDA_ROLE,
            "--zip-file",
            &zip_arg,
        ],
    );
    assert_cli_error(
        &output,
        "ResourceConflictException",
        "CreateFunction",
        "Function already exist: orders",
    );
    let output = lambda(
        &server,
        &[
            "create-function",
            "--function-name",
            "bad",
            "--runtime",
            "PYTHON3.9",
            "--handler",
            "orders.handler",
            "--role",
            LAMBDA_ROLE,
            "--zip-file",
            &zip_arg,
        ],
    );
    assert_cli_error(
        &output,
        "InvalidParameterValueException",
        "CreateFunction",
        "Value PYTHON3.9 at 'runtime' failed to satisfy constraint",
    );
    let slip = zip_file(&dir, "slip", &[("../../escape.py", "x = 1\n")]);
    let slip_arg = format!("fileb://{}", slip.display());
    let output = lambda(
        &server,
        &[
            "create-function",
            "--function-name",
            "slip",
            "--runtime",
            "python3.12",
            "--handler",
            "h.handler",
            "--role",
            LAMBDA_ROLE,
            "--zip-file",
            &slip_arg,
        ],
    );
    assert_cli_error(
        &output,
        "InvalidParameterValueException",
        "CreateFunction",
        "Could not unzip uploaded file. Please check your file, then try to upload again. \
         (entry '../../escape.py' escapes the function's folder",
    );
    // Not a zip (the CLI checks the magic bytes itself, so over plain HTTP).
    let body = json!({
        "FunctionName": "notzip", "Runtime": "python3.12", "Handler": "h.handler",
        "Role": LAMBDA_ROLE, "Code": {"ZipFile": "bm90IGEgemlwIGF0IGFsbA=="}
    });
    let (status, text) = raw_request(
        server.port,
        "POST",
        "/2015-03-31/functions",
        &body.to_string(),
    );
    assert_eq!(status, 400, "{text}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["Type"], "User");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not unzip uploaded file. Please check your file, then try to upload again. (not a zip archive"),
        "{error}"
    );

    // Delete; the function is gone, also after a restart.
    assert!(
        lambda(&server, &["delete-function", "--function-name", "other"])
            .status
            .success()
    );
    let output = lambda(
        &server,
        &["get-function-configuration", "--function-name", "other"],
    );
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "GetFunctionConfiguration",
        "Function not found",
    );
    drop(server);
    let server = self::server(&dir, &[]);
    let got = ok_json(&lambda(
        &server,
        &["get-function-configuration", "--function-name", "orders"],
    ));
    assert_eq!(got["Environment"]["Variables"]["GREETING"], "bonjour");
    let (_, out) = invoke(&server, &dir, "orders", "{}", &[]);
    assert_eq!(out, "v2");
    assert!(
        !lambda(&server, &["get-function", "--function-name", "other"])
            .status
            .success()
    );
}

#[test]
fn the_concurrency_limit_throttles_with_too_many_requests() {
    let dir = scratch("functions-throttle");
    let config = dir.join("sluice.toml");
    std::fs::write(&config, "[functions]\nmax-backlog = 0\n").unwrap();
    let config_arg = config.display().to_string();
    let server = server(&dir, &["--config", &config_arg]);
    let zip = zip_file(&dir, "slow", &[("orders.py", HANDLER)]);
    create(
        &server,
        "slow",
        &zip,
        "orders.handler",
        &["--timeout", "10"],
    );
    let reserved = ok_json(&lambda(
        &server,
        &[
            "put-function-concurrency",
            "--function-name",
            "slow",
            "--reserved-concurrent-executions",
            "1",
        ],
    ));
    assert_eq!(reserved["ReservedConcurrentExecutions"], 1);
    let got = ok_json(&lambda(
        &server,
        &["get-function-concurrency", "--function-name", "slow"],
    ));
    assert_eq!(got["ReservedConcurrentExecutions"], 1);

    // One slow invocation holds the only worker; a second is throttled as AWS does.
    let port = server.port;
    // Margins for a loaded 2-core box: the worker may take a second or two to start.
    let slow = std::thread::spawn(move || {
        raw_invoke(port, "slow", r#"{"action": "sleep", "seconds": 8}"#)
    });
    std::thread::sleep(Duration::from_millis(3000));
    let out = dir.join("throttled.json").display().to_string();
    let output = lambda(
        &server,
        &["invoke", "--function-name", "slow", "--payload", "{}", &out],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("An error occurred (TooManyRequestsException) when calling the Invoke")
            && stderr.contains("Rate Exceeded."),
        "{stderr}"
    );
    // The body as AWS sends it: the reason beside the message.
    let (status, body) = raw_request(port, "POST", "/2015-03-31/functions/slow/invocations", "{}");
    assert_eq!(status, 429, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert_eq!(body["Type"], "User");
    assert_eq!(body["message"], "Rate Exceeded.");
    let (status, _) = slow.join().unwrap();
    assert_eq!(status, 200);
    let (meta, _) = invoke(&server, &dir, "slow", "{}", &[]);
    assert_eq!(meta["StatusCode"], 200);

    assert!(
        lambda(
            &server,
            &["delete-function-concurrency", "--function-name", "slow"]
        )
        .status
        .success()
    );
    let output = lambda(
        &server,
        &["get-function-concurrency", "--function-name", "slow"],
    );
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("ReservedConcurrentExecutions"), "{text}");
}

/// POST .../invocations over a plain socket: (status, body).
fn raw_invoke(port: u16, name: &str, payload: &str) -> (u16, String) {
    raw_request(
        port,
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        payload,
    )
}

/// One HTTP request over a plain socket: (status, body).
fn raw_request(port: u16, method: &str, path: &str, payload: &str) -> (u16, String) {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(payload.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// The seed's two handlers as functions; `channels` configures TriggerNotifications.
fn seed_functions(server: &Server, dir: &Path, channels: &str) {
    let handlers = Path::new(SEED).join("handlers");
    let read = |file: &str| std::fs::read_to_string(handlers.join(file)).unwrap();
    let check = read("check_events_for_rule_match.py");
    let trigger = read("trigger_notifications.py");
    let zip = zip_file(dir, "check", &[("check_events_for_rule_match.py", &check)]);
    create(
        server,
        "CheckEventsForRuleMatch",
        &zip,
        "check_events_for_rule_match.handler",
        &[],
    );
    let zip = zip_file(dir, "trigger", &[("trigger_notifications.py", &trigger)]);
    let env = json!({"Variables": {"CHANNELS": channels}}).to_string();
    create(
        server,
        "TriggerNotifications",
        &zip,
        "trigger_notifications.handler",
        &["--environment", &env],
    );
}

fn create_machine(server: &Server, name: &str, definition: &Path, kind: &str) -> String {
    let definition = format!("file://{}", definition.display());
    let created = ok_json(&sfn(
        server,
        &[
            "create-state-machine",
            "--name",
            name,
            "--definition",
            &definition,
            "--role-arn",
            ROLE,
            "--type",
            kind,
        ],
    ));
    created["stateMachineArn"].as_str().unwrap().to_owned()
}

#[test]
fn the_seed_pipeline_runs_on_real_python_handlers() {
    let dir = scratch("functions-seed");
    let server = server(&dir, &[]);
    seed_functions(&server, &dir, "log,broken-webhook");
    let definition = PathBuf::from(seed("sec-pipeline-lambda.json"));
    let express = create_machine(&server, "sec-pipeline-lambda", &definition, "EXPRESS");
    let input = format!("file://{}", seed("event.json"));

    // The happy path: a rule matches, one of two channels delivers.
    let done = ok_json(&sfn(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &express,
            "--input",
            &input,
        ],
    ));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["notifications_sent"], 1, "{output}");

    // Every channel broken: AllNotificationsFailedException, caught, to the Fail state.
    assert!(
        lambda(
            &server,
            &[
                "update-function-configuration",
                "--function-name",
                "TriggerNotifications",
                "--environment",
                r#"{"Variables": {"CHANNELS": "broken-a,broken-b"}}"#,
            ],
        )
        .status
        .success()
    );
    let standard = create_machine(&server, "sec-pipeline-lambda-std", &definition, "STANDARD");
    let started = ok_json(&sfn(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &standard,
            "--input",
            &input,
        ],
    ));
    let arn = started["executionArn"].as_str().unwrap();
    let described = wait_done(server.port, arn, Duration::from_secs(60));
    assert_eq!(described["status"], "FAILED", "{described}");
    let events = history(server.port, arn);
    let failed = events
        .iter()
        .find(|e| e["type"] == "LambdaFunctionFailed" || e["type"] == "TaskFailed")
        .unwrap_or_else(|| panic!("no failure in {:?}", types(&events)));
    let details = failed
        .get("lambdaFunctionFailedEventDetails")
        .or_else(|| failed.get("taskFailedEventDetails"))
        .unwrap();
    assert_eq!(details["error"], "AllNotificationsFailedException");
    let cause: Value = serde_json::from_str(details["cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "AllNotificationsFailedException");
    assert!(
        cause["errorMessage"].as_str().unwrap().contains("broken-a"),
        "{cause}"
    );
    assert!(
        events.iter().any(|e| e["type"] == "FailStateEntered"),
        "the Catch routes to Fail: {:?}",
        types(&events)
    );
}

#[test]
fn handler_errors_are_retried_and_lambda_invoke_returns_aws_shape() {
    let dir = scratch("functions-retry");
    let server = server(&dir, &[]);
    // Fails twice per event with a transient error, then answers.
    let flaky = r#"
import os

class RuleStoreUnavailable(Exception):
    pass

def handler(event, context):
    marker = os.path.join("/tmp", "sluice-flaky-" + event["Payload"]["run"])
    attempts = int(open(marker).read()) if os.path.exists(marker) else 0
    open(marker, "w").write(str(attempts + 1))
    if attempts < 2:
        raise RuleStoreUnavailable("rule store is down (attempt %d)" % (attempts + 1))
    return {"trigger_payload_exists": False, "attempts": attempts + 1}
"#;
    let zip = zip_file(&dir, "flaky", &[("flaky.py", flaky)]);
    create(
        &server,
        "CheckEventsForRuleMatch",
        &zip,
        "flaky.handler",
        &[],
    );
    // The seed's machine, retrying the handler's own error too.
    let mut definition: Value =
        serde_json::from_str(&std::fs::read_to_string(seed("sec-pipeline-lambda.json")).unwrap())
            .unwrap();
    definition["States"]["CheckEventsForRuleMatch"]["Retry"] = json!([
        {"ErrorEquals": ["RuleStoreUnavailable"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1}
    ]);
    let path = dir.join("retry.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "retrying", &path, "STANDARD");
    let run = sluice_functions::uuid_v4();
    let input = json!({"run": run}).to_string();
    let started = ok_json(&sfn(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            &input,
        ],
    ));
    let arn = started["executionArn"].as_str().unwrap();
    let described = wait_done(server.port, arn, Duration::from_secs(60));
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let events = history(server.port, arn);
    let failures = events
        .iter()
        .filter(|e| e["type"] == "LambdaFunctionFailed" || e["type"] == "TaskFailed")
        .count();
    assert_eq!(failures, 2, "{:?}", types(&events));
    let _ = std::fs::remove_file(format!("/tmp/sluice-flaky-{run}"));

    // arn:aws:states:::lambda:invoke: AWS's result document around the payload.
    let echo = zip_file(
        &dir,
        "echo",
        &[(
            "echo.py",
            "def handler(event, context):\n    return {'got': event}\n",
        )],
    );
    create(&server, "echo", &echo, "echo.handler", &[]);
    let definition = json!({
        "StartAt": "Invoke",
        "States": {"Invoke": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:echo", "Payload.$": "$"},
            "End": true
        }}
    });
    let path = dir.join("invoke.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "invoker", &path, "EXPRESS");
    let done = ok_json(&sfn(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            r#"{"x": 1}"#,
        ],
    ));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["Payload"], json!({"got": {"x": 1}}));
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["ExecutedVersion"], "$LATEST");
    assert_eq!(output["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert!(
        output["SdkResponseMetadata"]["RequestId"].is_string(),
        "{output}"
    );

    // A function that does not exist: Lambda.ResourceNotFoundException.
    let definition = json!({
        "StartAt": "Invoke",
        "States": {"Invoke": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:missing",
            "End": true
        }}
    });
    let path = dir.join("missing.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "missing", &path, "EXPRESS");
    let done = ok_json(&sfn(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            "{}",
        ],
    ));
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "Lambda.ResourceNotFoundException");
    assert!(
        done["cause"].as_str().unwrap().starts_with(
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST \
             (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException;"
        ),
        "{done}"
    );
}

#[test]
fn a_mock_configuration_keeps_precedence_over_real_functions() {
    let dir = scratch("functions-mock");
    let mock = seed("sfn-mock-config.json");
    let server = server(&dir, &["--mock-config", &mock]);
    // Real functions that would fail, to tell who answered.
    let failing = zip_file(
        &dir,
        "failing",
        &[(
            "f.py",
            "def handler(event, context):\n    raise ValueError('real function ran')\n",
        )],
    );
    create(
        &server,
        "CheckEventsForRuleMatch",
        &failing,
        "f.handler",
        &[],
    );
    create(&server, "TriggerNotifications", &failing, "f.handler", &[]);
    let definition = PathBuf::from(seed("sec-pipeline-lambda.json"));
    let machine = create_machine(&server, "sec-pipeline-lambda", &definition, "EXPRESS");
    let input = format!("file://{}", seed("event.json"));
    let with_case = format!("{machine}#HappyPath");
    let done = ok_json(&sfn(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &with_case,
            "--input",
            &input,
        ],
    ));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    // Without a test case, the real function runs.
    let done = ok_json(&sfn(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            &input,
        ],
    ));
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "ValueError");
}

/// Asks for approval with boto3 from inside the handler: SendTaskSuccess or SendTaskFailure to
/// Sluice (`SLUICE_ENDPOINT`), a handler error, or no callback at all.
const APPROVER: &str = r#"
import json, os
import boto3
from botocore.config import Config

sfn = boto3.client("stepfunctions", endpoint_url=os.environ["SLUICE_ENDPOINT"],
                   config=Config(retries={"max_attempts": 1}))

class OrderRejected(Exception):
    pass

def handler(event, context):
    action, token, order = event["action"], event["token"], event["order"]
    if action == "approve":
        sfn.send_task_success(taskToken=token, output=json.dumps(
            {"approved": True, "order": order, "by": context.function_name}))
    elif action == "deny":
        sfn.send_task_failure(taskToken=token, error="OrderDenied", cause="order %d denied" % order)
    elif action == "raise":
        raise OrderRejected("no approver for order %d" % order)
    return {"asked": order}
"#;

#[test]
fn lambda_invoke_wait_for_task_token_calls_back_from_the_handler() {
    let dir = scratch("functions-wait-token");
    let server = server(&dir, &[]);
    let zip = zip_file(&dir, "approver", &[("approver.py", APPROVER)]);
    let env = json!({"Variables": {"SLUICE_ENDPOINT": server.endpoint()}}).to_string();
    create(
        &server,
        "approver",
        &zip,
        "approver.handler",
        &["--environment", &env, "--timeout", "30"],
    );
    let definition = json!({
        "StartAt": "Approve",
        "States": {"Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "approver",
                "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order", "action.$": "$.action"}
            },
            "ResultPath": "$.approval",
            "End": true
        }}
    });
    let path = dir.join("approve.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "approve", &path, "STANDARD");
    let start = |action: &str, order: u32| {
        let input = json!({"action": action, "order": order}).to_string();
        let started = ok_json(&sfn(
            &server,
            &[
                "start-execution",
                "--state-machine-arn",
                &machine,
                "--input",
                &input,
            ],
        ));
        started["executionArn"].as_str().unwrap().to_owned()
    };

    // The handler calls SendTaskSuccess itself: the callback's output is the task's result.
    let arn = start("approve", 1);
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}\n{}", server.log());
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output["approval"],
        json!({"approved": true, "order": 1, "by": "approver"})
    );

    // SendTaskFailure from the handler: the task fails with its error.
    let arn = start("deny", 2);
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "OrderDenied");
    assert_eq!(done["cause"], "order 2 denied");

    // A handler error fails the task as for lambda:invoke, without waiting.
    let arn = start("raise", 3);
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "OrderRejected");
    let cause: Value = serde_json::from_str(done["cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "no approver for order 3");

    // No callback: the invocation's result submits the task, which waits for one.
    let arn = start("wait", 4);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (events, submitted) = loop {
        let events = history(server.port, &arn);
        if let Some(s) = events.iter().find(|e| e["type"] == "TaskSubmitted") {
            let s = s.clone();
            break (events, s);
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", types(&events));
        std::thread::sleep(Duration::from_millis(50));
    };
    let details = &submitted["taskSubmittedEventDetails"];
    assert_eq!(details["resourceType"], "lambda");
    assert_eq!(details["resource"], "invoke.waitForTaskToken");
    let result: Value = serde_json::from_str(details["output"].as_str().unwrap()).unwrap();
    assert_eq!(result["StatusCode"], 200);
    assert_eq!(result["Payload"], json!({"asked": 4}));
    let scheduled = events
        .iter()
        .find(|e| e["type"] == "TaskScheduled")
        .unwrap();
    let parameters: Value = serde_json::from_str(
        scheduled["taskScheduledEventDetails"]["parameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let token = parameters["Payload"]["token"].as_str().unwrap();
    let described = call_ok(
        server.port,
        "DescribeExecution",
        json!({"executionArn": arn}),
    );
    assert_eq!(described["status"], "RUNNING");
    let sent = sfn(
        &server,
        &[
            "send-task-success",
            "--task-token",
            token,
            "--task-output",
            r#"{"approved": false}"#,
        ],
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let done = wait_done(server.port, &arn, Duration::from_secs(30));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["approval"], json!({"approved": false}));
}

/// Logs the idempotency key of every delivery to `event["log"]`; the first delivery of a
/// `slow` event waits for `event["release"]` to exist (the test kills the server meanwhile),
/// the first of a `flaky` one fails.
const KEYED: &str = r#"
import json, os, time

class Flaky(Exception):
    pass

def handler(event, context):
    custom = (context.client_context.custom or {}) if context.client_context else {}
    key = custom.get("sluice-idempotency-key")
    if event.get("mode") == "context":
        return custom
    log = event["log"]
    seen = open(log).read().split() if os.path.exists(log) else []
    with open(log, "a") as f:
        f.write(key + "\n")
    if event["mode"] == "slow" and not seen:
        deadline = time.time() + 30
        while not os.path.exists(event["release"]) and time.time() < deadline:
            time.sleep(0.05)
    if event["mode"] == "flaky" and not seen:
        raise Flaky("first delivery fails")
    return {"key": key, "deliveries": len(seen) + 1}
"#;

#[test]
fn each_task_run_carries_an_idempotency_key_in_the_client_context() {
    use base64::Engine as _;
    let dir = scratch("functions-idempotency");
    let data = dir.join("data");
    let mut server = server(&data, &[]);
    let zip = zip_file(&dir, "keyed", &[("keyed.py", KEYED)]);
    create(
        &server,
        "keyed",
        &zip,
        "keyed.handler",
        &["--timeout", "60"],
    );
    let definition = json!({
        "StartAt": "Work",
        "States": {"Work": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:keyed",
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
            "End": true
        }}
    });
    let path = dir.join("keyed.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "keyed", &path, "STANDARD");
    let start = |server: &Server, input: Value| {
        let input = input.to_string();
        let started = ok_json(&sfn(
            server,
            &[
                "start-execution",
                "--state-machine-arn",
                &machine,
                "--input",
                &input,
            ],
        ));
        started["executionArn"].as_str().unwrap().to_owned()
    };
    let keys_in = |log: &Path| -> Vec<String> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };

    // Delivered again after a kill -9 of the server: the same key.
    let log = dir.join("slow.log");
    let release = dir.join("release");
    let arn = start(
        &server,
        json!({"mode": "slow", "log": log, "release": release}),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while keys_in(&log).is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9();
    let server = self::server(&data, &[]);
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    std::fs::write(&release, "").unwrap();
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let keys = keys_in(&log);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], keys[1]);
    let scheduled = history(server.port, &arn)
        .iter()
        .find(|e| e["type"] == "LambdaFunctionScheduled")
        .map(|e| e["id"].as_u64().unwrap())
        .unwrap();
    assert_eq!(keys[0], format!("{arn}/Work/{scheduled}"));
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"key": keys[0], "deliveries": 2}));

    // A Retry is another run of the task: another key.
    let log = dir.join("flaky.log");
    let arn = start(&server, json!({"mode": "flaky", "log": log}));
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let keys = keys_in(&log);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(keys[0], keys[1]);
    assert!(
        keys.iter().all(|k| k.starts_with(&format!("{arn}/Work/"))),
        "{keys:?}"
    );

    // The Lambda API's client context reaches the handler decoded (and no key is added).
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom": {"a": "b"}}"#);
    let (_, out) = invoke(
        &server,
        &dir,
        "keyed",
        r#"{"mode": "context"}"#,
        &["--client-context", &context],
    );
    assert_eq!(out, json!({"a": "b"}));
    let out_file = dir.join("bad-context.json").display().to_string();
    let output = lambda(
        &server,
        &[
            "invoke",
            "--function-name",
            "keyed",
            "--client-context",
            "bm90IGpzb24=",
            &out_file,
        ],
    );
    assert_cli_error(
        &output,
        "InvalidRequestContentException",
        "Invoke",
        "Client context must be a valid Base64-encoded JSON object.",
    );
}

const NODE_HANDLER: &str = r#"
class OrderRejected extends Error {
  constructor(message) { super(message); this.name = 'OrderRejected'; }
}
exports.handler = async (event, context) => {
  console.log('processing order', event.order);
  if (event.action === 'reject') throw new OrderRejected(`order ${event.order} rejected`);
  const custom = (context.clientContext && context.clientContext.custom) || {};
  return {
    order: event.order,
    runtime: process.env.AWS_EXECUTION_ENV,
    greeting: process.env.GREETING,
    key: custom['sluice-idempotency-key'] || null,
    remaining: context.getRemainingTimeInMillis() > 0,
  };
};
exports.legacy = (event, context, callback) => {
  setTimeout(() => callback(null, { legacy: event.order, fn: context.functionName }), 5);
};
"#;

const NODE_ESM: &str = "export const handler = async (event) => ({ esm: event.order });\n";

fn create_node(server: &Server, name: &str, zip: &Path, runtime: &str, handler: &str) -> Value {
    let zip = format!("fileb://{}", zip.display());
    ok_json(&lambda(
        server,
        &[
            "create-function",
            "--function-name",
            name,
            "--runtime",
            runtime,
            "--handler",
            handler,
            "--role",
            LAMBDA_ROLE,
            "--zip-file",
            &zip,
            "--environment",
            "Variables={GREETING=hej}",
        ],
    ))
}

#[test]
fn node_handlers_run_directly_and_in_state_machines() {
    let dir = scratch("functions-node");
    let server = server(&dir, &[]);
    let zip = zip_file(
        &dir,
        "node",
        &[("index.js", NODE_HANDLER), ("esm.mjs", NODE_ESM)],
    );
    let created = create_node(&server, "orders-node", &zip, "nodejs20.x", "index.handler");
    assert_eq!(created["Runtime"], "nodejs20.x");

    // Async handler: its result, console lines in the log as AWS formats them.
    let (meta, out) = invoke(
        &server,
        &dir,
        "orders-node",
        r#"{"order": 1}"#,
        &["--log-type", "Tail"],
    );
    assert!(meta.get("FunctionError").is_none(), "{meta} {out}");
    assert_eq!(
        out,
        json!({"order": 1, "runtime": "AWS_Lambda_nodejs20.x", "greeting": "hej",
               "key": null, "remaining": true})
    );
    let log = String::from_utf8(base64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
    let request_id = log
        .lines()
        .find_map(|l| l.strip_prefix("START RequestId: "))
        .and_then(|l| l.split(' ').next())
        .unwrap();
    assert!(
        log.contains(&format!("\t{request_id}\tINFO\tprocessing order 1")),
        "{log}"
    );

    // A thrown error: its name is the errorType, AWS's Node error document.
    let (meta, out) = invoke(
        &server,
        &dir,
        "orders-node",
        r#"{"action": "reject", "order": 2}"#,
        &[],
    );
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(out["errorType"], "OrderRejected");
    assert_eq!(out["errorMessage"], "order 2 rejected");
    assert!(
        out["trace"][0]
            .as_str()
            .is_some_and(|t| t.starts_with("OrderRejected: order 2 rejected")),
        "{out}"
    );

    // Callback-style handlers, ES modules, a handler that is not exported.
    create_node(&server, "legacy-node", &zip, "nodejs18.x", "index.legacy");
    let (_, out) = invoke(&server, &dir, "legacy-node", r#"{"order": 3}"#, &[]);
    assert_eq!(out, json!({"legacy": 3, "fn": "legacy-node"}));
    create_node(&server, "esm-node", &zip, "nodejs22.x", "esm.handler");
    let (_, out) = invoke(&server, &dir, "esm-node", r#"{"order": 4}"#, &[]);
    assert_eq!(out, json!({"esm": 4}));
    create_node(&server, "missing-node", &zip, "nodejs20.x", "index.nope");
    let (meta, out) = invoke(&server, &dir, "missing-node", "{}", &[]);
    assert_eq!(meta["FunctionError"], "Unhandled");
    assert_eq!(out["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        out["errorMessage"],
        "index.nope is undefined or not exported"
    );

    // From a state machine: the result, with the task's idempotency key; a thrown error is
    // the Task error that Retry and Catch match.
    let definition = json!({
        "StartAt": "Process",
        "States": {
            "Process": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:orders-node",
                "Retry": [{"ErrorEquals": ["OrderRejected"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["OrderRejected"], "ResultPath": "$.error", "Next": "Rejected"}],
                "End": true
            },
            "Rejected": {"Type": "Pass", "End": true}
        }
    });
    let path = dir.join("node.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "node-orders", &path, "STANDARD");
    let start = |input: &str| {
        let started = ok_json(&sfn(
            &server,
            &[
                "start-execution",
                "--state-machine-arn",
                &machine,
                "--input",
                input,
            ],
        ));
        started["executionArn"].as_str().unwrap().to_owned()
    };
    let arn = start(r#"{"order": 5}"#);
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["order"], 5);
    assert!(
        output["key"]
            .as_str()
            .is_some_and(|k| k.starts_with(&format!("{arn}/Process/"))),
        "{output}"
    );
    let arn = start(r#"{"order": 6, "action": "reject"}"#);
    let done = wait_done(server.port, &arn, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["error"]["Error"], "OrderRejected");
    let cause: Value = serde_json::from_str(output["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "order 6 rejected");
    let events = history(server.port, &arn);
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "LambdaFunctionFailed")
        .collect();
    assert_eq!(failures.len(), 2, "one retry: {:?}", types(&events));
    assert_eq!(
        failures[0]["lambdaFunctionFailedEventDetails"]["error"],
        "OrderRejected"
    );
}

/// Logs each run (request id, `n`) to `event["log"]`; `slow` waits for `event["release"]`,
/// `flaky` fails its first two runs, `broken` every run.
const EVENTS: &str = r#"
import json, os, time

class Flaky(Exception):
    pass

def handler(event, context):
    log = event["log"]
    with open(log, "a") as f:
        f.write(json.dumps({"id": context.aws_request_id, "n": event.get("n")}) + "\n")
    mode = event.get("mode")
    if mode == "slow":
        deadline = time.time() + 30
        while not os.path.exists(event["release"]) and time.time() < deadline:
            time.sleep(0.05)
    runs = sum(1 for line in open(log) if json.loads(line)["id"] == context.aws_request_id)
    if mode == "flaky" and runs < 3:
        raise Flaky("run %d" % runs)
    if mode == "broken":
        raise Flaky("always")
    return "ok"
"#;

/// The runs an [`EVENTS`] handler logged.
fn runs(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn event_invocations_are_durable_and_retried() {
    let dir = scratch("functions-events");
    let data = dir.join("data");
    let config = dir.join("sluice.toml");
    std::fs::write(&config, "[functions]\nevent-retry-delay-seconds = 0.3\n").unwrap();
    let config_arg = config.display().to_string();
    let mut server = server(&data, &["--config", &config_arg]);
    let zip = zip_file(&dir, "events", &[("events.py", EVENTS)]);
    create(
        &server,
        "events",
        &zip,
        "events.handler",
        &["--timeout", "60"],
    );
    let reserved = lambda(
        &server,
        &[
            "put-function-concurrency",
            "--function-name",
            "events",
            "--reserved-concurrent-executions",
            "1",
        ],
    );
    assert!(reserved.status.success());
    let event = |server: &Server, payload: Value| {
        let (meta, _) = invoke(
            server,
            &dir,
            "events",
            &payload.to_string(),
            &["--invocation-type", "Event"],
        );
        assert_eq!(meta["StatusCode"], 202);
    };

    // Two events accepted; the first holds the only worker when the server is killed, the
    // second has not run. After the restart both run, the first again with its request id.
    let slow = dir.join("slow.log");
    let quick = dir.join("quick.log");
    let release = dir.join("release");
    event(
        &server,
        json!({"mode": "slow", "log": slow, "release": release}),
    );
    event(&server, json!({"log": quick, "n": 2}));
    wait_for("the first event runs", Duration::from_secs(30), || {
        !runs(&slow).is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(runs(&quick).is_empty(), "the second event waits");
    server.kill9();
    std::fs::write(&release, "").unwrap();
    let server = self::server(&data, &["--config", &config_arg]);
    wait_for("both events run", Duration::from_secs(30), || {
        runs(&slow).len() == 2 && runs(&quick).len() == 1
    });
    let slow_runs = runs(&slow);
    assert_eq!(slow_runs[0]["id"], slow_runs[1]["id"]);
    assert_eq!(runs(&quick)[0]["n"], 2);

    // A function error is retried twice, with the same request id.
    let flaky = dir.join("flaky.log");
    event(&server, json!({"mode": "flaky", "log": flaky}));
    let broken = dir.join("broken.log");
    event(&server, json!({"mode": "broken", "log": broken}));
    wait_for("three runs each", Duration::from_secs(30), || {
        runs(&flaky).len() == 3 && runs(&broken).len() == 3
    });
    std::thread::sleep(Duration::from_secs(2));
    for log in [&flaky, &broken] {
        let all = runs(log);
        assert_eq!(all.len(), 3, "no more runs: {all:?}");
        assert!(all.iter().all(|r| r["id"] == all[0]["id"]), "{all:?}");
    }
    // Nothing is left to run after another restart.
    drop(server);
    let _server = self::server(&data, &["--config", &config_arg]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(runs(&flaky).len(), 3);
    assert_eq!(runs(&broken).len(), 3);
    assert_eq!(runs(&slow).len(), 2);
}

/// `sluice logs ARGS... --endpoint <server>`: (exit status, stdout, stderr).
fn sluice_logs(server: &Server, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("logs")
        .args(args)
        .args(["--endpoint", &server.endpoint()])
        .output()
        .expect("run sluice logs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sluice_logs_prints_each_invocations_output_by_request_id() {
    let dir = scratch("functions-logs");
    let server = server(&dir, &[]);
    let zip = zip_file(&dir, "orders", &[("orders.py", HANDLER)]);
    create(&server, "orders", &zip, "orders.handler", &[]);
    let request_ids: Vec<String> = (1..=2)
        .map(|order| {
            let (meta, _) = invoke(
                &server,
                &dir,
                "orders",
                &json!({"order": order}).to_string(),
                &["--log-type", "Tail"],
            );
            let log =
                String::from_utf8(base64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
            log.lines()
                .find_map(|l| l.strip_prefix("START RequestId: "))
                .and_then(|l| l.split(' ').next())
                .unwrap()
                .to_owned()
        })
        .collect();

    let (ok, out, err) = sluice_logs(&server, &["orders"]);
    assert!(ok, "{err}");
    for (order, id) in request_ids.iter().enumerate() {
        let group = format!(
            "== RequestId: {id}\nSTART RequestId: {id} Version: $LATEST\nprocessing {}\n\
             END RequestId: {id}\nREPORT RequestId: {id}\t",
            order + 1
        );
        assert!(out.contains(&group), "{out}");
    }
    let (ok, out, _) = sluice_logs(&server, &["orders", "--request-id", &request_ids[1]]);
    assert!(ok);
    assert!(out.starts_with(&format!("== RequestId: {}\n", request_ids[1])));
    assert!(
        out.contains("processing 2") && !out.contains("processing 1"),
        "{out}"
    );
    let (ok, out, _) = sluice_logs(&server, &["orders", "--json"]);
    assert!(ok);
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["requestId"], request_ids[0].as_str());
    assert!(first["seq"].is_u64(), "{first}");

    // --follow prints what comes next.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "logs",
            "orders",
            "--follow",
            "--endpoint",
            &server.endpoint(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    invoke(&server, &dir, "orders", r#"{"order": 3}"#, &[]);
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l == "processing 3") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("--follow did not print the new invocation: {seen:?}"),
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();

    // An unknown function: AWS's message, exit status 2.
    let (ok, _, err) = sluice_logs(&server, &["nope"]);
    assert!(!ok);
    assert!(
        err.contains("Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Versions and aliases

/// A handler that says which code it is, the version Lambda says it runs and the ARN it was
/// invoked by.
fn versioned_handler(code: &str) -> String {
    format!(
        "import os\n\
         def handler(event, context):\n    \
         return {{'code': '{code}', 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], \
         'arn': context.invoked_function_arn}}\n"
    )
}

const GREET: &str = "arn:aws:lambda:us-east-1:000000000000:function:greet";

/// The `Version`s of a ListVersionsByFunction page.
fn version_names(page: &Value, key: &str) -> Vec<String> {
    page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn versions_and_aliases_run_their_own_code_and_survive_a_restart() {
    let dir = scratch("functions-versions");
    let server = server(&dir, &[]);
    let one = zip_file(&dir, "one", &[("greet.py", &versioned_handler("one"))]);
    let two = zip_file(&dir, "two", &[("greet.py", &versioned_handler("two"))]);
    let three = zip_file(&dir, "three", &[("greet.py", &versioned_handler("three"))]);
    let created = create(&server, "greet", &one, "greet.handler", &[]);
    assert_eq!(created["Version"], "$LATEST");

    // Version 1: a snapshot of $LATEST, with its qualified ARN; again without a change, the
    // same version.
    let v1 = ok_json(&lambda(
        &server,
        &[
            "publish-version",
            "--function-name",
            "greet",
            "--description",
            "first",
        ],
    ));
    assert_eq!(v1["Version"], "1");
    assert_eq!(v1["FunctionArn"], format!("{GREET}:1"));
    assert_eq!(v1["Description"], "first");
    assert_eq!(v1["CodeSha256"], created["CodeSha256"]);
    let again = ok_json(&lambda(
        &server,
        &["publish-version", "--function-name", "greet"],
    ));
    assert_eq!(again["Version"], "1");
    assert_eq!(again["RevisionId"], v1["RevisionId"]);
    // UpdateFunctionCode with Publish: version 2 of the new code.
    let code = format!("fileb://{}", two.display());
    let v2 = ok_json(&lambda(
        &server,
        &[
            "update-function-code",
            "--function-name",
            "greet",
            "--zip-file",
            &code,
            "--publish",
        ],
    ));
    assert_eq!(v2["Version"], "2");
    assert_eq!(v2["FunctionArn"], format!("{GREET}:2"));
    assert_ne!(v2["CodeSha256"], v1["CodeSha256"]);
    // $LATEST moves on, unpublished.
    let code = format!("fileb://{}", three.display());
    ok_json(&lambda(
        &server,
        &[
            "update-function-code",
            "--function-name",
            "greet",
            "--zip-file",
            &code,
        ],
    ));

    // Each version runs its own code, whatever form the name takes.
    let cases: [(&str, &[&str], &str, &str, String); 6] = [
        (
            "greet",
            &["--qualifier", "1"],
            "one",
            "1",
            format!("{GREET}:1"),
        ),
        ("greet:2", &[], "two", "2", format!("{GREET}:2")),
        (&format!("{GREET}:1"), &[], "one", "1", format!("{GREET}:1")),
        (
            "000000000000:function:greet:2",
            &[],
            "two",
            "2",
            format!("{GREET}:2"),
        ),
        ("greet", &[], "three", "$LATEST", GREET.to_owned()),
        (
            "greet:$LATEST",
            &[],
            "three",
            "$LATEST",
            format!("{GREET}:$LATEST"),
        ),
    ];
    for (name, extra, code, version, arn) in cases {
        let (meta, out) = invoke(&server, &dir, name, "{}", extra);
        assert_eq!(meta["ExecutedVersion"], version, "{name} {extra:?}: {meta}");
        assert_eq!(out["code"], code, "{name} {extra:?}: {out}");
        assert_eq!(out["version"], version, "{name} {extra:?}: {out}");
        assert_eq!(out["arn"], arn, "{name} {extra:?}: {out}");
    }

    // Reads of a version: the version's configuration under its qualified ARN.
    let got = ok_json(&lambda(
        &server,
        &[
            "get-function",
            "--function-name",
            "greet",
            "--qualifier",
            "1",
        ],
    ));
    assert_eq!(got["Configuration"]["Version"], "1");
    assert_eq!(got["Configuration"]["FunctionArn"], format!("{GREET}:1"));
    assert_eq!(got["Configuration"]["Description"], "first");
    assert_eq!(got["Configuration"]["CodeSha256"], v1["CodeSha256"]);
    let got = ok_json(&lambda(
        &server,
        &["get-function-configuration", "--function-name", "greet:2"],
    ));
    assert_eq!(
        (got["Version"].as_str(), got["Description"].as_str()),
        (Some("2"), Some(""))
    );
    let latest = ok_json(&lambda(
        &server,
        &["get-function-configuration", "--function-name", "greet"],
    ));
    assert_eq!(latest["Version"], "$LATEST");
    assert_eq!(latest["FunctionArn"], GREET);

    // ListVersionsByFunction: $LATEST first, qualified ARNs; Marker/MaxItems pages.
    let listed = ok_json(&lambda(
        &server,
        &["list-versions-by-function", "--function-name", "greet"],
    ));
    assert_eq!(version_names(&listed, "Versions"), ["$LATEST", "1", "2"]);
    assert_eq!(
        listed["Versions"][0]["FunctionArn"],
        format!("{GREET}:$LATEST")
    );
    assert_eq!(listed["Versions"][2]["FunctionArn"], format!("{GREET}:2"));
    assert!(listed["Versions"][1].get("State").is_none(), "{listed}");
    let (status, body) = raw_request(
        server.port,
        "GET",
        "/2015-03-31/functions/greet/versions?MaxItems=2",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(version_names(&first, "Versions"), ["$LATEST", "1"]);
    let marker = first["NextMarker"].as_str().expect("NextMarker");
    let (_, body) = raw_request(
        server.port,
        "GET",
        &format!("/2015-03-31/functions/greet/versions?MaxItems=2&Marker={marker}"),
        "",
    );
    let second: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(version_names(&second, "Versions"), ["2"]);
    assert!(second.get("NextMarker").is_none(), "{second}");
    let everything = ok_json(&lambda(
        &server,
        &["list-functions", "--function-version", "ALL"],
    ));
    assert_eq!(
        version_names(&everything, "Functions"),
        ["$LATEST", "1", "2"]
    );
    assert_eq!(
        everything["Functions"][1]["FunctionArn"],
        format!("{GREET}:1")
    );

    // Aliases.
    let live = ok_json(&lambda(
        &server,
        &[
            "create-alias",
            "--function-name",
            "greet",
            "--name",
            "live",
            "--function-version",
            "1",
            "--description",
            "production",
        ],
    ));
    assert_eq!(
        live,
        json!({
            "AliasArn": format!("{GREET}:live"), "Name": "live", "FunctionVersion": "1",
            "Description": "production", "RevisionId": live["RevisionId"],
        })
    );
    assert!(live["RevisionId"].is_string());
    let (meta, out) = invoke(&server, &dir, "greet:live", "{}", &[]);
    assert_eq!(
        (meta["ExecutedVersion"].as_str(), out["code"].as_str()),
        (Some("1"), Some("one"))
    );
    assert_eq!(out["arn"], format!("{GREET}:live"));
    let got = ok_json(&lambda(
        &server,
        &["get-function", "--function-name", &format!("{GREET}:live")],
    ));
    assert_eq!(got["Configuration"]["Version"], "1");
    assert_eq!(got["Configuration"]["FunctionArn"], format!("{GREET}:live"));
    ok_json(&lambda(
        &server,
        &[
            "create-alias",
            "--function-name",
            "greet",
            "--name",
            "edge",
            "--function-version",
            "$LATEST",
        ],
    ));
    let listed = ok_json(&lambda(
        &server,
        &["list-aliases", "--function-name", "greet"],
    ));
    let names: Vec<&str> = listed["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["edge", "live"]);
    assert_eq!(listed["Aliases"][0]["Description"], "");
    let listed = ok_json(&lambda(
        &server,
        &[
            "list-aliases",
            "--function-name",
            "greet",
            "--function-version",
            "1",
        ],
    ));
    assert_eq!(listed["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(listed["Aliases"][0]["AliasArn"], format!("{GREET}:live"));

    // Weighted routing: half of live's invocations run version 2 (boto3: 200 invocations,
    // each reporting the version that ran).
    let updated = ok_json(&lambda(
        &server,
        &[
            "update-alias",
            "--function-name",
            "greet",
            "--name",
            "live",
            "--routing-config",
            r#"{"AdditionalVersionWeights": {"2": 0.5}}"#,
        ],
    ));
    assert_eq!(
        updated["RoutingConfig"],
        json!({"AdditionalVersionWeights": {"2": 0.5}})
    );
    assert_ne!(updated["RevisionId"], live["RevisionId"]);
    run_boto3(
        &server,
        r#"
lam = boto3.client("lambda", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="x",
                   config=Config(retries={"max_attempts": 1}))
seen = {}
for _ in range(200):
    r = lam.invoke(FunctionName="greet", Qualifier="live", Payload=b"{}")
    out = json.loads(r["Payload"].read())
    assert r["ExecutedVersion"] == out["version"], (r["ExecutedVersion"], out)
    assert out["code"] == {"1": "one", "2": "two"}[out["version"]], out
    seen[out["version"]] = seen.get(out["version"], 0) + 1
assert sorted(seen) == ["1", "2"], seen
assert min(seen.values()) >= 60, seen
print("OK")
"#,
        &[],
    );

    // AWS's errors.
    let out = dir.join("err.json").display().to_string();
    let output = lambda(&server, &["invoke", "--function-name", "greet:7", &out]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "Invoke",
        &format!("Function not found: {GREET}:7"),
    );
    let output = lambda(&server, &["invoke", "--function-name", "greet:nope", &out]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "Invoke",
        &format!("Function not found: {GREET}:nope"),
    );
    let output = lambda(
        &server,
        &[
            "get-function",
            "--function-name",
            "greet",
            "--qualifier",
            "nope",
        ],
    );
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "GetFunction",
        &format!("Function not found: {GREET}:nope"),
    );
    let output = lambda(
        &server,
        &[
            "invoke",
            "--function-name",
            "greet:1",
            "--qualifier",
            "2",
            &out,
        ],
    );
    assert_cli_error(
        &output,
        "InvalidParameterValueException",
        "Invoke",
        "The derived qualifier from the function name does not match the specified qualifier.",
    );
    let alias_to = |name: &str, version: &str| {
        lambda(
            &server,
            &[
                "create-alias",
                "--function-name",
                "greet",
                "--name",
                name,
                "--function-version",
                version,
            ],
        )
    };
    assert_cli_error(
        &alias_to("beta", "9"),
        "ResourceNotFoundException",
        "CreateAlias",
        &format!("Function not found: {GREET}:9"),
    );
    assert_cli_error(
        &alias_to("live", "2"),
        "ResourceConflictException",
        "CreateAlias",
        &format!("Alias already exists: {GREET}:live"),
    );
    assert_cli_error(
        &alias_to("2024", "1"),
        "ValidationException",
        "CreateAlias",
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
    );
    let output = lambda(
        &server,
        &[
            "create-alias",
            "--function-name",
            "greet",
            "--name",
            "beta",
            "--function-version",
            "1",
            "--routing-config",
            r#"{"AdditionalVersionWeights": {"1": 0.5}}"#,
        ],
    );
    assert_cli_error(
        &output,
        "InvalidParameterValueException",
        "CreateAlias",
        "Invalid function version 1. Function version 1 is already included in routing \
         configuration.",
    );
    let output = lambda(
        &server,
        &["get-alias", "--function-name", "greet", "--name", "beta"],
    );
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "GetAlias",
        &format!("Cannot find alias arn: {GREET}:beta"),
    );
    let output = lambda(
        &server,
        &[
            "update-alias",
            "--function-name",
            "greet",
            "--name",
            "beta",
            "--function-version",
            "1",
        ],
    );
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "UpdateAlias",
        &format!("Alias not found: {GREET}:beta"),
    );
    for (version, users) in [("1", "[live]"), ("2", "[live]")] {
        let output = lambda(
            &server,
            &[
                "delete-function",
                "--function-name",
                "greet",
                "--qualifier",
                version,
            ],
        );
        assert_cli_error(
            &output,
            "ResourceConflictException",
            "DeleteFunction",
            &format!(
                "Unable to delete version because the following aliases reference it: {users}"
            ),
        );
    }
    let output = lambda(
        &server,
        &["delete-function", "--function-name", "greet:$LATEST"],
    );
    assert_cli_error(
        &output,
        "InvalidParameterValueException",
        "DeleteFunction",
        "$LATEST version cannot be deleted without deleting the function.",
    );
    let output = lambda(
        &server,
        &[
            "publish-version",
            "--function-name",
            "greet",
            "--revision-id",
            "not-the-revision",
        ],
    );
    assert_cli_error(
        &output,
        "PreconditionFailedException",
        "PublishVersion",
        "The Revision Id provided does not match the latest Revision Id.",
    );
    let output = lambda(
        &server,
        &[
            "publish-version",
            "--function-name",
            "greet",
            "--code-sha256",
            "abc",
        ],
    );
    assert_cli_error(
        &output,
        "InvalidParameterValueException",
        "PublishVersion",
        "CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST (",
    );
    let output = lambda(&server, &["list-aliases", "--function-name", "nope"]);
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "ListAliases",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope",
    );

    // After a restart: the versions, their code and the aliases are all there.
    drop(server);
    let server = self::server(&dir, &[]);
    let listed = ok_json(&lambda(
        &server,
        &["list-versions-by-function", "--function-name", "greet"],
    ));
    assert_eq!(version_names(&listed, "Versions"), ["$LATEST", "1", "2"]);
    for (qualifier, code) in [("1", "one"), ("2", "two"), ("$LATEST", "three")] {
        let (meta, out) = invoke(&server, &dir, "greet", "{}", &["--qualifier", qualifier]);
        assert_eq!(meta["ExecutedVersion"], qualifier);
        assert_eq!(out["code"], code);
    }
    let got = ok_json(&lambda(
        &server,
        &["get-alias", "--function-name", "greet", "--name", "live"],
    ));
    assert_eq!(got["RevisionId"], updated["RevisionId"]);
    assert_eq!(
        got["RoutingConfig"],
        json!({"AdditionalVersionWeights": {"2": 0.5}})
    );
    // Version numbers go on; an alias moved off a version lets it be deleted.
    let v3 = ok_json(&lambda(
        &server,
        &["publish-version", "--function-name", "greet"],
    ));
    assert_eq!(v3["Version"], "3");
    let moved = ok_json(&lambda(
        &server,
        &[
            "update-alias",
            "--function-name",
            "greet",
            "--name",
            "live",
            "--function-version",
            "3",
            "--routing-config",
            "{}",
        ],
    ));
    assert_eq!(moved["FunctionVersion"], "3");
    assert!(moved.get("RoutingConfig").is_none(), "{moved}");
    let (meta, out) = invoke(&server, &dir, "greet:live", "{}", &[]);
    assert_eq!(
        (meta["ExecutedVersion"].as_str(), out["code"].as_str()),
        (Some("3"), Some("three"))
    );
    for version in ["1", "1", "2"] {
        assert!(
            lambda(
                &server,
                &[
                    "delete-function",
                    "--function-name",
                    "greet",
                    "--qualifier",
                    version
                ],
            )
            .status
            .success()
        );
    }
    let output = lambda(
        &server,
        &["invoke", "--function-name", "greet:1", &out_path(&dir)],
    );
    assert_cli_error(
        &output,
        "ResourceNotFoundException",
        "Invoke",
        &format!("Function not found: {GREET}:1"),
    );
    assert!(
        lambda(
            &server,
            &["delete-alias", "--function-name", "greet", "--name", "edge"]
        )
        .status
        .success()
    );
    let listed = ok_json(&lambda(
        &server,
        &["list-versions-by-function", "--function-name", "greet"],
    ));
    assert_eq!(version_names(&listed, "Versions"), ["$LATEST", "3"]);
}

fn out_path(dir: &Path) -> String {
    dir.join(format!("out-{}.json", sluice_functions::uuid_v4()))
        .display()
        .to_string()
}

#[test]
fn state_machine_tasks_invoke_aliases_and_versions() {
    let dir = scratch("functions-versions-sfn");
    let server = server(&dir, &[]);
    let one = zip_file(&dir, "one", &[("greet.py", &versioned_handler("one"))]);
    let two = zip_file(&dir, "two", &[("greet.py", &versioned_handler("two"))]);
    create(&server, "greet", &one, "greet.handler", &["--publish"]);
    let code = format!("fileb://{}", two.display());
    ok_json(&lambda(
        &server,
        &[
            "update-function-code",
            "--function-name",
            "greet",
            "--zip-file",
            &code,
            "--publish",
        ],
    ));
    ok_json(&lambda(
        &server,
        &[
            "create-alias",
            "--function-name",
            "greet",
            "--name",
            "prod",
            "--function-version",
            "1",
        ],
    ));
    let definition = json!({
        "StartAt": "Plain",
        "States": {
            "Plain": {
                "Type": "Task",
                "Resource": format!("{GREET}:prod"),
                "ResultPath": "$.plain",
                "Next": "Invoke"
            },
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": format!("{GREET}:2"), "Payload": {}},
                "ResultSelector": {"version.$": "$.ExecutedVersion", "code.$": "$.Payload.code"},
                "ResultPath": "$.invoke",
                "Next": "Qualifier"
            },
            "Qualifier": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "greet", "Qualifier": "prod", "Payload": {}},
                "ResultSelector": {"version.$": "$.ExecutedVersion", "code.$": "$.Payload.code"},
                "ResultPath": "$.qualifier",
                "Next": "Missing"
            },
            "Missing": {
                "Type": "Task",
                "Resource": format!("{GREET}:staging"),
                "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.missing", "Next": "Done"}],
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let path = dir.join("aliases.json");
    std::fs::write(&path, definition.to_string()).unwrap();
    let machine = create_machine(&server, "aliases", &path, "EXPRESS");
    let done = ok_json(&sfn(
        &server,
        &[
            "start-sync-execution",
            "--state-machine-arn",
            &machine,
            "--input",
            "{}",
        ],
    ));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["plain"]["code"], "one", "{output}");
    assert_eq!(output["plain"]["version"], "1");
    assert_eq!(output["plain"]["arn"], format!("{GREET}:prod"));
    assert_eq!(output["invoke"], json!({"version": "2", "code": "two"}));
    assert_eq!(output["qualifier"], json!({"version": "1", "code": "one"}));
    assert_eq!(
        output["missing"]["Error"],
        "Lambda.ResourceNotFoundException"
    );
    assert!(
        output["missing"]["Cause"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "Function not found: {GREET}:staging (Service: AWSLambda;"
            )),
        "{output}"
    );
}

// ---------------------------------------------------------------------------------------------
// Event invoke configs, destinations, and logs on disk

const FN_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function";

/// Logs each run (request id, wall time) to `$COUNT_DIR/<key>.log`; fails while it has run
/// `event["fail"]` times or fewer for that key, then returns the number of runs.
const ATTEMPTS: &str = r#"
import json, os, time

def handler(event, context):
    path = os.path.join(os.environ["COUNT_DIR"], event["key"] + ".log")
    with open(path, "a") as f:
        f.write(json.dumps({"id": context.aws_request_id, "t": time.time()}) + "\n")
    attempts = sum(1 for _ in open(path))
    if attempts <= event.get("fail", 0):
        raise RuntimeError("attempt %d failed" % attempts)
    return {"attempts": attempts, "key": event["key"]}
"#;

/// Appends every event it gets (an invocation record) to `$RECORD_DIR/records.jsonl`.
const RECORDER: &str = r#"
import json, os

def handler(event, context):
    with open(os.path.join(os.environ["RECORD_DIR"], "records.jsonl"), "a") as f:
        f.write(json.dumps(event) + "\n")
    return "recorded"
"#;

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `put-function-event-invoke-config` (or `update-`) of `name` with `args`.
fn event_config(server: &Server, verb: &str, name: &str, args: &[&str]) -> Output {
    let operation = format!("{verb}-function-event-invoke-config");
    let mut all = vec![operation.as_str(), "--function-name", name];
    all.extend_from_slice(args);
    lambda(server, &all)
}

/// Creates `name` running [`ATTEMPTS`] with its runs counted in `count_dir`.
fn create_attempts(server: &Server, dir: &Path, name: &str, count_dir: &Path) {
    let zip = zip_file(dir, "attempts", &[("attempts.py", ATTEMPTS)]);
    let env = json!({"Variables": {"COUNT_DIR": count_dir}}).to_string();
    create(
        server,
        name,
        &zip,
        "attempts.handler",
        &["--environment", &env, "--timeout", "30"],
    );
}

fn event(server: &Server, dir: &Path, name: &str, payload: &Value) {
    let (meta, _) = invoke(
        server,
        dir,
        name,
        &payload.to_string(),
        &["--invocation-type", "Event"],
    );
    assert_eq!(meta["StatusCode"], 202);
}

#[test]
fn event_retries_run_on_the_scaled_clock_and_records_reach_destinations() {
    let dir = scratch("functions-destinations");
    let data = dir.join("data");
    let counts = dir.join("counts");
    let records_dir = dir.join("records");
    std::fs::create_dir_all(&counts).unwrap();
    std::fs::create_dir_all(&records_dir).unwrap();
    let records = records_dir.join("records.jsonl");
    // AWS's retry delays (1 minute, then 2) take 60 and 120 ms.
    let mut server = server(&data, &["--time-scale", "1000"]);
    create_attempts(&server, &dir, "flaky", &counts);
    create_attempts(&server, &dir, "doomed", &counts);
    create_attempts(&server, &dir, "stale", &counts);
    let zip = zip_file(&dir, "recorder", &[("recorder.py", RECORDER)]);
    let env = json!({"Variables": {"RECORD_DIR": records_dir}}).to_string();
    create(
        &server,
        "recorder",
        &zip,
        "recorder.handler",
        &["--environment", &env],
    );
    let recorder = format!("{FN_ARN}:recorder");
    let on_success = json!({"OnSuccess": {"Destination": recorder}}).to_string();
    let on_failure = json!({"OnFailure": {"Destination": recorder}}).to_string();
    ok_json(&event_config(
        &server,
        "put",
        "flaky",
        &["--destination-config", &on_success],
    ));
    ok_json(&event_config(
        &server,
        "put",
        "doomed",
        &[
            "--maximum-retry-attempts",
            "0",
            "--destination-config",
            &on_failure,
        ],
    ));
    ok_json(&event_config(
        &server,
        "put",
        "stale",
        &[
            "--maximum-event-age-in-seconds",
            "60",
            "--destination-config",
            &on_failure,
        ],
    ));

    // Fails twice, then succeeds: three runs with one request id, the retries 1 and 2
    // (scaled) minutes after the failures, then a Success record.
    let started = std::time::Instant::now();
    event(&server, &dir, "flaky", &json!({"key": "flaky", "fail": 2}));
    // Never succeeds, no retries: one run, then a RetriesExhausted record.
    event(
        &server,
        &dir,
        "doomed",
        &json!({"key": "doomed", "fail": 99}),
    );
    // Fails; its retry would come after its 60 s maximum age: an EventAgeExceeded record.
    event(&server, &dir, "stale", &json!({"key": "stale", "fail": 99}));
    wait_for("three records", Duration::from_secs(60), || {
        jsonl(&records).len() == 3
    });
    let runs = jsonl(&counts.join("flaky.log"));
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|r| r["id"] == runs[0]["id"]), "{runs:?}");
    let gap = |i: usize| runs[i + 1]["t"].as_f64().unwrap() - runs[i]["t"].as_f64().unwrap();
    assert!(
        gap(0) >= 0.05 && gap(0) < 1.0,
        "first retry after {}s",
        gap(0)
    );
    assert!(
        gap(1) >= 0.1 && gap(1) < 1.0,
        "second retry after {}s",
        gap(1)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(jsonl(&counts.join("doomed.log")).len(), 1);
    assert_eq!(jsonl(&counts.join("stale.log")).len(), 1);

    let all = jsonl(&records);
    let record = |condition: &str| {
        all.iter()
            .find(|r| r["requestContext"]["condition"] == condition)
            .unwrap_or_else(|| panic!("no {condition} record in {all:?}"))
            .clone()
    };
    let success = record("Success");
    assert_eq!(success["version"], "1.0");
    assert!(
        success["timestamp"].as_str().unwrap().ends_with('Z'),
        "{success}"
    );
    assert_eq!(
        success["requestContext"],
        json!({
            "requestId": runs[0]["id"],
            "functionArn": format!("{FN_ARN}:flaky:$LATEST"),
            "condition": "Success",
            "approximateInvokeCount": 3,
        })
    );
    assert_eq!(
        success["requestPayload"],
        json!({"key": "flaky", "fail": 2})
    );
    assert_eq!(
        success["responseContext"],
        json!({"statusCode": 200, "executedVersion": "$LATEST"})
    );
    assert_eq!(
        success["responsePayload"],
        json!({"attempts": 3, "key": "flaky"})
    );

    let exhausted = record("RetriesExhausted");
    assert_eq!(
        exhausted["requestContext"]["functionArn"],
        format!("{FN_ARN}:doomed:$LATEST")
    );
    assert_eq!(exhausted["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        exhausted["requestPayload"],
        json!({"key": "doomed", "fail": 99})
    );
    assert_eq!(
        exhausted["responseContext"],
        json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
    );
    assert_eq!(exhausted["responsePayload"]["errorType"], "RuntimeError");
    assert_eq!(
        exhausted["responsePayload"]["errorMessage"],
        "attempt 1 failed"
    );

    let expired = record("EventAgeExceeded");
    assert_eq!(
        expired["requestContext"]["functionArn"],
        format!("{FN_ARN}:stale:$LATEST")
    );
    assert_eq!(expired["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(expired["requestPayload"]["key"], "stale");
    assert_eq!(expired["responseContext"]["functionError"], "Unhandled");

    // Their success and the records were journaled: nothing runs again after a kill -9.
    std::thread::sleep(Duration::from_millis(300));
    server.kill9();
    let _server = self::server(&data, &["--time-scale", "1000"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(jsonl(&records).len(), 3);
    assert_eq!(jsonl(&counts.join("flaky.log")).len(), 3);
    assert_eq!(jsonl(&counts.join("doomed.log")).len(), 1);
    assert_eq!(jsonl(&counts.join("stale.log")).len(), 1);
}

#[test]
fn event_invoke_configs_have_aws_shapes_and_errors() {
    let dir = scratch("functions-event-configs");
    let data = dir.join("data");
    let mut server = server(&data, &[]);
    let zip = zip_file(&dir, "orders", &[("orders.py", HANDLER)]);
    create(&server, "orders", &zip, "orders.handler", &[]);
    create(&server, "other", &zip, "orders.handler", &[]);
    let other = format!("{FN_ARN}:other");
    let put = |args: &[&str]| event_config(&server, "put", "orders", args);

    // Put: what is set, both destination members, the qualified ARN.
    let config = ok_json(&put(&["--maximum-retry-attempts", "1"]));
    assert_eq!(config["FunctionArn"], format!("{FN_ARN}:orders:$LATEST"));
    assert_eq!(config["MaximumRetryAttempts"], 1);
    assert!(config.get("MaximumEventAgeInSeconds").is_none(), "{config}");
    assert_eq!(
        config["DestinationConfig"],
        json!({"OnSuccess": {}, "OnFailure": {}})
    );
    assert!(config["LastModified"].is_number(), "{config}");
    let destinations = json!({"OnFailure": {"Destination": other}}).to_string();
    let config = ok_json(&put(&[
        "--maximum-event-age-in-seconds",
        "3600",
        "--destination-config",
        &destinations,
    ]));
    // A put replaces the whole config.
    assert!(config.get("MaximumRetryAttempts").is_none(), "{config}");
    assert_eq!(config["MaximumEventAgeInSeconds"], 3600);
    assert_eq!(
        config["DestinationConfig"],
        json!({"OnSuccess": {}, "OnFailure": {"Destination": other}})
    );
    // An update changes only what it gives.
    let updated = ok_json(&event_config(
        &server,
        "update",
        "orders",
        &["--maximum-retry-attempts", "0"],
    ));
    assert_eq!(updated["MaximumRetryAttempts"], 0);
    assert_eq!(updated["MaximumEventAgeInSeconds"], 3600);
    assert_eq!(
        updated["DestinationConfig"]["OnFailure"]["Destination"],
        other
    );
    let got = ok_json(&lambda(
        &server,
        &[
            "get-function-event-invoke-config",
            "--function-name",
            "orders",
        ],
    ));
    assert_eq!(got, updated);

    // Per qualifier: a version has its own.
    ok_json(&lambda(
        &server,
        &["publish-version", "--function-name", "orders"],
    ));
    let versioned = ok_json(&event_config(
        &server,
        "put",
        "orders:1",
        &["--maximum-retry-attempts", "2"],
    ));
    assert_eq!(versioned["FunctionArn"], format!("{FN_ARN}:orders:1"));
    let listed = ok_json(&lambda(
        &server,
        &[
            "list-function-event-invoke-configs",
            "--function-name",
            "orders",
        ],
    ));
    let arns: Vec<&str> = listed["FunctionEventInvokeConfigs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["FunctionArn"].as_str().unwrap())
        .collect();
    assert_eq!(
        arns,
        [
            format!("{FN_ARN}:orders:$LATEST"),
            format!("{FN_ARN}:orders:1")
        ]
    );
    let (status, page) = raw_request(
        server.port,
        "GET",
        "/2019-09-25/functions/orders/event-invoke-config/list?MaxItems=1",
        "",
    );
    assert_eq!(status, 200, "{page}");
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(
        page["FunctionEventInvokeConfigs"].as_array().unwrap().len(),
        1
    );
    assert!(page["NextMarker"].is_string(), "{page}");
    assert!(
        page["FunctionEventInvokeConfigs"][0]["LastModified"].is_f64(),
        "{page}"
    );

    // Errors, as AWS words them.
    let missing = |qualifier: &str| {
        format!("The function {FN_ARN}:orders:{qualifier} doesn't have an EventInvokeConfig")
    };
    assert_cli_error(
        &put(&[]),
        "InvalidParameterValueException",
        "PutFunctionEventInvokeConfig",
        "You must specify at least one of error handling or destination setting.",
    );
    assert_cli_error(
        &event_config(&server, "put", "nope", &["--maximum-retry-attempts", "1"]),
        "ResourceNotFoundException",
        "PutFunctionEventInvokeConfig",
        "The function doesn't exist.",
    );
    assert_cli_error(
        &event_config(
            &server,
            "put",
            "orders:7",
            &["--maximum-retry-attempts", "1"],
        ),
        "ResourceNotFoundException",
        "PutFunctionEventInvokeConfig",
        "The function doesn't exist.",
    );
    assert_cli_error(
        &put(&["--maximum-retry-attempts", "3"]),
        "ValidationException",
        "PutFunctionEventInvokeConfig",
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy \
         constraint: Member must have value less than or equal to 2",
    );
    assert_cli_error(
        &put(&["--maximum-event-age-in-seconds", "21601"]),
        "ValidationException",
        "PutFunctionEventInvokeConfig",
        "1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to \
         satisfy constraint: Member must have value less than or equal to 21600",
    );
    let with_destination = |arn: &str| {
        let config = json!({"OnSuccess": {"Destination": arn}}).to_string();
        put(&["--destination-config", &config])
    };
    assert_cli_error(
        &with_destination(&format!("{FN_ARN}:doesnotexist")),
        "InvalidParameterValueException",
        "PutFunctionEventInvokeConfig",
        &format!("The destination ARN {FN_ARN}:doesnotexist is invalid."),
    );
    assert_cli_error(
        &with_destination(&format!("{FN_ARN}:orders")),
        "InvalidParameterValueException",
        "PutFunctionEventInvokeConfig",
        "You can't specify the function as a destination for itself.",
    );
    let iam = format!("{}:orders", FN_ARN.replace(":lambda:", ":iam:"));
    assert_cli_error(
        &with_destination(&iam),
        "InvalidParameterValueException",
        "PutFunctionEventInvokeConfig",
        &format!(
            "The provided destination config DestinationConfig(onSuccess=OnSuccess(\
             destination={iam}), onFailure=null) is invalid."
        ),
    );
    assert_cli_error(
        &with_destination("arn:aws:events:us-east-1:000000000000:event-bus/b"),
        "InvalidParameterValueException",
        "PutFunctionEventInvokeConfig",
        "Sluice cannot send invocation records to Amazon EventBridge event bus destinations \
         (arn:aws:events:us-east-1:000000000000:event-bus/b)",
    );
    assert_cli_error(
        &with_destination("arn:aws:_-/!lambda:us-east-1:000000000000:function:x"),
        "ValidationException",
        "PutFunctionEventInvokeConfig",
        "1 validation error detected: Value 'arn:aws:_-/!lambda:us-east-1:000000000000:\
         function:x' at 'destinationConfig.onSuccess.destination' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: ",
    );
    assert_cli_error(
        &event_config(
            &server,
            "put",
            "orders:1",
            &["--qualifier", "$LATEST", "--maximum-retry-attempts", "1"],
        ),
        "InvalidParameterValueException",
        "PutFunctionEventInvokeConfig",
        "The derived qualifier from the function name does not match the specified qualifier.",
    );
    assert_cli_error(
        &lambda(
            &server,
            &[
                "get-function-event-invoke-config",
                "--function-name",
                "nope",
            ],
        ),
        "ResourceNotFoundException",
        "GetFunctionEventInvokeConfig",
        &format!("The function {FN_ARN}:nope:$LATEST doesn't have an EventInvokeConfig"),
    );
    assert_cli_error(
        &lambda(
            &server,
            &[
                "list-function-event-invoke-configs",
                "--function-name",
                "nope",
            ],
        ),
        "ResourceNotFoundException",
        "ListFunctionEventInvokeConfigs",
        "The function doesn't exist.",
    );
    assert_cli_error(
        &event_config(
            &server,
            "update",
            "nope",
            &["--maximum-retry-attempts", "1"],
        ),
        "ResourceNotFoundException",
        "UpdateFunctionEventInvokeConfig",
        "The function doesn't exist.",
    );

    // Configs are kept in the function's folder: still there after a restart.
    server.kill9();
    let server = self::server(&data, &[]);
    let got = ok_json(&lambda(
        &server,
        &[
            "get-function-event-invoke-config",
            "--function-name",
            "orders",
        ],
    ));
    assert_eq!(got, updated);

    let delete = |qualifier: &str| {
        lambda(
            &server,
            &[
                "delete-function-event-invoke-config",
                "--function-name",
                "orders",
                "--qualifier",
                qualifier,
            ],
        )
    };
    assert!(delete("$LATEST").status.success());
    assert_cli_error(
        &delete("$LATEST"),
        "ResourceNotFoundException",
        "DeleteFunctionEventInvokeConfig",
        &missing("$LATEST"),
    );
    assert_cli_error(
        &event_config(
            &server,
            "update",
            "orders",
            &["--maximum-retry-attempts", "1"],
        ),
        "ResourceNotFoundException",
        "UpdateFunctionEventInvokeConfig",
        &missing("$LATEST"),
    );
    // A version's config goes with the version.
    assert!(
        lambda(
            &server,
            &[
                "delete-function",
                "--function-name",
                "orders",
                "--qualifier",
                "1"
            ]
        )
        .status
        .success()
    );
    let listed = ok_json(&lambda(
        &server,
        &[
            "list-function-event-invoke-configs",
            "--function-name",
            "orders",
        ],
    ));
    assert_eq!(listed["FunctionEventInvokeConfigs"], json!([]));
}

#[test]
fn function_logs_survive_a_restart() {
    let dir = scratch("functions-logs-restart");
    let data = dir.join("data");
    let mut server = server(&data, &[]);
    let zip = zip_file(&dir, "orders", &[("orders.py", HANDLER)]);
    create(&server, "orders", &zip, "orders.handler", &[]);
    let request_id = |meta: &Value| -> String {
        let log = String::from_utf8(base64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
        log.lines()
            .find_map(|l| l.strip_prefix("START RequestId: "))
            .and_then(|l| l.split(' ').next())
            .unwrap()
            .to_owned()
    };
    let (meta, _) = invoke(
        &server,
        &dir,
        "orders",
        r#"{"order": 1}"#,
        &["--log-type", "Tail"],
    );
    let first = request_id(&meta);
    let (_, before, _) = sluice_logs(&server, &["orders", "--json"]);
    let last_seq = |out: &str| -> u64 {
        let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        last["seq"].as_u64().unwrap()
    };
    let seq_before = last_seq(&before);

    // kill -9: every line was appended as it came.
    server.kill9();
    let server = self::server(&data, &[]);
    let (ok, out, err) = sluice_logs(&server, &["orders"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "== RequestId: {first}\nSTART RequestId: {first} Version: $LATEST\nprocessing 1\n\
             END RequestId: {first}\nREPORT RequestId: {first}\t"
        )),
        "{out}"
    );
    let (ok, out, _) = sluice_logs(&server, &["orders", "--request-id", &first]);
    assert!(ok && out.contains("processing 1"), "{out}");

    // New lines follow with their own numbers; Tail still works.
    let (meta, _) = invoke(
        &server,
        &dir,
        "orders",
        r#"{"order": 2}"#,
        &["--log-type", "Tail"],
    );
    let second = request_id(&meta);
    let tail = String::from_utf8(base64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
    assert!(
        tail.contains("processing 2") && !tail.contains("processing 1"),
        "{tail}"
    );
    let (_, after, _) = sluice_logs(&server, &["orders", "--json"]);
    assert!(last_seq(&after) > seq_before, "{after}");
    assert!(after.contains(&first) && after.contains(&second), "{after}");
    let on_disk = data.join("functions/us-east-1/orders/logs/current.log");
    assert!(std::fs::metadata(&on_disk).unwrap().len() > 0);
}

/// Makes `lambda` (boto3, the server's endpoint) and `novalidate` (the same, without botocore's
/// own checks, so that the server's answer to what botocore refuses shows) and `zipped(files)`.
const BOTO3_LAMBDA: &str = r#"
import io, zipfile
lam = boto3.client(
    "lambda", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    aws_access_key_id="x", aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1}),
)
novalidate = boto3.client(
    "lambda", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    aws_access_key_id="x", aws_secret_access_key="x",
    config=Config(retries={"max_attempts": 1}, parameter_validation=False),
)
lambda_role = "arn:aws:iam::000000000000:role/lambda"

def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buffer.getvalue()

def refused(call, code, message, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        assert e.response["Error"]["Message"] == message, e.response["Error"]["Message"]
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        return
    raise AssertionError(f"expected {code}: {message}")
"#;

#[test]
fn function_configuration_is_validated_as_aws_does() {
    let dir = scratch("functions-validation");
    let server = server(&dir, &[]);
    let script = r#"
pattern = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
code = {"ZipFile": zipped({"h.py": "def handler(e, c):\n    return e\n"})}
base = dict(FunctionName="v", Runtime="python3.12", Handler="h.handler", Code=code)

# AWS's words, as recorded against AWS (LocalStack's snapshots).
refused(lam.create_function, "ValidationException",
        "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: " + pattern,
        Role="r1", **base)
refused(lam.create_function, "ValidationException",
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to "
        "satisfy constraint: Member must have length less than or equal to 1",
        Role=lambda_role, Architectures=["x86_64", "arm64"], **base)
refused(lam.create_function, "ValidationException",
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[x86_64, arm64], Member must not be null]",
        Role=lambda_role, Architectures=["X86_64"], **base)
# botocore refuses these before sending; the server answers them the same way.
refused(novalidate.create_function, "ValidationException",
        "1 validation error detected: Value '[]' at 'architectures' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
        Role=lambda_role, Architectures=[], **base)
refused(novalidate.create_function, "ValidationException",
        "1 validation error detected: Value '511' at 'ephemeralStorage.size' failed to "
        "satisfy constraint: Member must have value greater than or equal to 512",
        Role=lambda_role, EphemeralStorage={"Size": 511}, **base)
# The current model's bound (32 GB); LocalStack's older recordings show AWS's earlier 10240.
refused(lam.create_function, "ValidationException",
        "1 validation error detected: Value '32769' at 'ephemeralStorage.size' failed to "
        "satisfy constraint: Member must have value less than or equal to 32768",
        Role=lambda_role, EphemeralStorage={"Size": 32769}, **base)
# Every broken constraint in one answer.
try:
    novalidate.create_function(Role="r1", Timeout=0, **base)
    raise AssertionError("created")
except ClientError as e:
    message = e.response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: "), message
    assert "Value '0' at 'timeout' failed to satisfy constraint: Member must have value " \
        "greater than or equal to 1" in message, message
    assert "Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular " \
        "expression pattern: " + pattern in message, message
try:
    lam.get_function(FunctionName="v")
    raise AssertionError("a refused function was created")
except lam.exceptions.ResourceNotFoundException:
    pass

# The limits themselves are accepted.
for arch, size in [("x86_64", 512), ("arm64", 32768)]:
    lam.create_function(Role="arn:aws-us-gov:iam::123456789012:role/path/to/r",
                        Architectures=[arch], EphemeralStorage={"Size": size}, **base)
    lam.delete_function(FunctionName="v")
lam.create_function(Role=lambda_role, **base)

refused(lam.update_function_configuration, "ValidationException",
        "1 validation error detected: Value 'arn:aws:iam::000000000000:user/u' at 'role' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: " + pattern,
        FunctionName="v", Role="arn:aws:iam::000000000000:user/u")
refused(lam.update_function_configuration, "ValidationException",
        "1 validation error detected: Value '40000' at 'ephemeralStorage.size' failed to "
        "satisfy constraint: Member must have value less than or equal to 32768",
        FunctionName="v", EphemeralStorage={"Size": 40000})
refused(lam.update_function_code, "ValidationException",
        "1 validation error detected: Value '[sparc]' at 'architectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[x86_64, arm64], Member must not be null]",
        FunctionName="v", ZipFile=code["ZipFile"], Architectures=["sparc"])
assert lam.get_function_configuration(FunctionName="v")["Role"] == lambda_role
lam.update_function_configuration(FunctionName="v", Role="arn:aws:iam::000000000000:role/other",
                                  EphemeralStorage={"Size": 1024})
assert lam.get_function_configuration(FunctionName="v")["Role"] == \
    "arn:aws:iam::000000000000:role/other"
print("OK")
"#;
    run_boto3(&server, &format!("{BOTO3_LAMBDA}{script}"), &[]);

    // The CLI shows the same answer.
    let zip = zip_file(
        &dir,
        "v2",
        &[("h.py", "def handler(e, c):\n    return e\n")],
    );
    let zip = format!("fileb://{}", zip.display());
    let output = lambda(
        &server,
        &[
            "create-function",
            "--function-name",
            "v2",
            "--runtime",
            "python3.12",
            "--handler",
            "h.handler",
            "--role",
            "lambda-role",
            "--zip-file",
            &zip,
        ],
    );
    assert_cli_error(
        &output,
        "ValidationException",
        "CreateFunction",
        "1 validation error detected: Value 'lambda-role' at 'role' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: \
         arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
    );
}

#[test]
fn get_function_code_location_downloads_the_versions_package() {
    let dir = scratch("functions-code-location");
    let server = server(&dir, &[]);
    let script = r#"
import base64, hashlib, urllib.request

def download(qualifier=None):
    args = {"FunctionName": "pkg"}
    if qualifier:
        args["Qualifier"] = qualifier
    got = lam.get_function(**args)
    code = got["Code"]
    assert code["RepositoryType"] == "S3", code
    location = code["Location"]
    # Through the address the client used (its --endpoint-url).
    assert location.startswith(os.environ["ENDPOINT"] + "/"), location
    with urllib.request.urlopen(location) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/zip"
        body = response.read()
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert sha == got["Configuration"]["CodeSha256"], (sha, got["Configuration"])
    assert len(body) == got["Configuration"]["CodeSize"]
    return body

def files(package):
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {name: z.read(name).decode() for name in z.namelist()}

first = {"h.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n"}
second = {"h.py": "def handler(e, c):\n    return 2\n", "README": "two\n"}
one, two = zipped(first), zipped(second)
lam.create_function(FunctionName="pkg", Runtime="python3.12", Handler="h.handler",
                    Role=lambda_role, Code={"ZipFile": one}, Publish=True)
assert download() == one
assert files(download("$LATEST")) == first

lam.update_function_code(FunctionName="pkg", ZipFile=two)
assert lam.publish_version(FunctionName="pkg")["Version"] == "2"
lam.create_alias(FunctionName="pkg", Name="live", FunctionVersion="1")
assert download() == two
assert files(download("2")) == second
# The published version from before the update keeps its own package.
assert download("1") == one
assert files(download("live")) == first
assert "version=1" in lam.get_function(FunctionName="pkg", Qualifier="live")["Code"]["Location"]

# Unknown functions and versions are 404s.
for path in ["/sluice/functions/nope/code", "/sluice/functions/pkg/code?version=9"]:
    try:
        urllib.request.urlopen(os.environ["ENDPOINT"] + path)
        raise AssertionError(path)
    except urllib.error.HTTPError as e:
        assert e.code == 404, (path, e.code)
print("OK")
"#;
    run_boto3(&server, &format!("{BOTO3_LAMBDA}{script}"), &[]);
}

/// Allocates (and touches) `mib` MiB: for the invocation only, or kept across invocations
/// (`hold`), as a leak does.
const MEMORY_HOG: &str = r#"
import os
held = []

def handler(event, context):
    data = b"x" * (event.get("mib", 0) << 20)
    if event.get("hold"):
        held.append(data)
    return {"pid": os.getpid(), "mib": len(data) >> 20, "memory": int(context.memory_limit_in_mb)}
"#;

#[test]
fn memory_size_is_enforced_and_an_oom_worker_is_replaced() {
    let dir = scratch("functions-memory");
    let server = server(&dir, &[]);
    let zip = zip_file(&dir, "hog", &[("hog.py", MEMORY_HOG)]);
    // Long timeouts: a loaded machine may take seconds to fill 300 MiB.
    create(
        &server,
        "hog",
        &zip,
        "hog.handler",
        &["--memory-size", "128", "--timeout", "60"],
    );
    create(
        &server,
        "roomy",
        &zip,
        "hog.handler",
        &["--memory-size", "512", "--timeout", "60"],
    );

    let (_, first) = invoke(&server, &dir, "hog", r#"{"mib": 1}"#, &[]);
    assert_eq!(first["memory"], 128, "{first}");
    let pid = first["pid"].clone();

    // 300 MiB under 128: the worker is killed and the invocation fails as on AWS.
    let (meta, error) = invoke(
        &server,
        &dir,
        "hog",
        r#"{"mib": 300}"#,
        &["--log-type", "Tail"],
    );
    assert_eq!(meta["FunctionError"], "Unhandled", "{meta} {error}");
    assert_eq!(error["errorType"], "Runtime.OutOfMemory", "{error}");
    let message = error["errorMessage"].as_str().unwrap();
    let request_id = message
        .strip_prefix("RequestId: ")
        .and_then(|m| m.strip_suffix(" Error: Runtime exited with error: signal: killed"))
        .unwrap_or_else(|| panic!("{message}"));
    assert_eq!(request_id.len(), 36, "{message}");
    assert_eq!(error.as_object().unwrap().len(), 2, "{error}");
    let tail = String::from_utf8(base64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
    assert!(
        tail.contains(&format!(
            "RequestId: {request_id} Error: Runtime exited with error: signal: killed\n\
             Runtime.OutOfMemory\nEND RequestId: {request_id}\n"
        )),
        "{tail}"
    );

    // The next invocation runs on a fresh worker.
    let (meta, after) = invoke(&server, &dir, "hog", r#"{"mib": 1}"#, &[]);
    assert!(meta.get("FunctionError").is_none(), "{meta} {after}");
    assert_eq!(after["mib"], 1);
    assert_ne!(
        after["pid"], pid,
        "the worker that went over its memory still runs"
    );

    // A leak: each invocation keeps 48 MiB; the one that crosses 128 MiB fails.
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let (meta, result) = invoke(&server, &dir, "hog", r#"{"mib": 48, "hold": true}"#, &[]);
        outcomes.push(if meta.get("FunctionError").is_some() {
            result["errorType"].as_str().unwrap_or_default().to_owned()
        } else {
            "ok".to_owned()
        });
    }
    let failed = outcomes.iter().position(|o| o != "ok");
    assert!(
        matches!(failed, Some(1 | 2)) && outcomes[failed.unwrap()] == "Runtime.OutOfMemory",
        "{outcomes:?}"
    );

    // Within its limit, the same allocation is untouched, on the same worker.
    let (meta, big) = invoke(&server, &dir, "roomy", r#"{"mib": 300}"#, &[]);
    assert!(meta.get("FunctionError").is_none(), "{meta} {big}");
    assert_eq!(
        (big["mib"].as_u64(), big["memory"].as_u64()),
        (Some(300), Some(512))
    );
    let (_, again) = invoke(&server, &dir, "roomy", r#"{"mib": 300}"#, &[]);
    assert_eq!(again["pid"], big["pid"], "{again}");
}

/// Calls Lambda through the generic AWS SDK integration (`aws-sdk:lambda:*`): the same
/// handlers as the API, PascalCase in and out, the payload as JSON text, and a missing
/// function caught by its SDK error name.
#[test]
fn aws_sdk_integrations_call_sluices_own_lambda_api() {
    let dir = scratch("functions-aws-sdk");
    let server = server(&dir, &[]);
    let zip = zip_file(&dir, "sdk", &[("h.py", HANDLER)]);
    create(&server, "sdk-fn", &zip, "h.handler", &[]);
    let definition = dir.join("sdk.json");
    std::fs::write(
        &definition,
        json!({"StartAt": "Config", "States": {
            "Config": {"Type": "Task",
                       "Resource": "arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration",
                       "Parameters": {"FunctionName": "sdk-fn"},
                       "ResultSelector": {"runtime.$": "$.Runtime", "handler.$": "$.Handler"},
                       "ResultPath": "$.config", "Next": "Invoke"},
            "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
                       "Parameters": {"FunctionName": "sdk-fn", "Payload": {"order.$": "$.order"}},
                       "ResultSelector": {"status.$": "$.StatusCode",
                                          "version.$": "$.ExecutedVersion",
                                          "payload.$": "States.StringToJson($.Payload)"},
                       "ResultPath": "$.invoked", "Next": "Missing"},
            "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:invoke",
                        "Parameters": {"FunctionName": "no-such-fn"},
                        "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"],
                                   "ResultPath": "$.caught", "Next": "Done"}],
                        "Next": "Done"},
            "Done": {"Type": "Pass", "End": true}}})
        .to_string(),
    )
    .unwrap();
    let machine = create_machine(&server, "sdk-lambda", &definition, "STANDARD");
    let execution = start_execution(&server, &machine, r#"{"order": 42}"#);
    let done = wait_done(server.port, &execution, Duration::from_secs(60));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        output["config"],
        json!({"runtime": "python3.12", "handler": "h.handler"})
    );
    assert_eq!(output["invoked"]["status"], 200, "{output}");
    assert_eq!(output["invoked"]["version"], "$LATEST", "{output}");
    assert_eq!(output["invoked"]["payload"]["order"], 42, "{output}");
    assert_eq!(
        output["caught"]["Error"], "Lambda.ResourceNotFoundException",
        "{output}"
    );
    let cause = output["caught"]["Cause"].as_str().unwrap();
    assert!(
        cause.contains("(Service: Lambda, Status Code: 404, Request ID: "),
        "{cause}"
    );
}

// ---------------------------------------------------------------------------------------------
// Regions: each client's functions live in the region it signed for

/// Clients in three regions each create `f` (code that names its region), see only their own,
/// with their region's ARNs, and invoke it in its region; a us-west-2 state machine invokes
/// us-west-2's `f` by ARN, by name through `lambda:invoke`, and through the SDK integration.
const BOTO3_REGIONAL_FUNCTIONS: &str = r#"
import io, urllib.request, zipfile
endpoint = os.environ["ENDPOINT"]
regions = [("us-east-1", "aws"), ("us-west-2", "aws"), ("cn-northwest-1", "aws-cn")]

def client(service, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))

def code(region):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("h.py", f'''import os
MARKER = "{region}"
def handler(event, context):
    return {{"region": os.environ["AWS_REGION"], "marker": MARKER,
             "arn": context.invoked_function_arn}}
''')
    return buffer.getvalue()

def arn(region, partition):
    return f"arn:{partition}:lambda:{region}:000000000000:function:f"

def check(region, partition):
    lam = client("lambda", region)
    listed = lam.list_functions()["Functions"]
    assert [(f["FunctionName"], f["FunctionArn"]) for f in listed] == [("f", arn(region, partition))], listed
    got = lam.get_function(FunctionName="f")
    assert got["Configuration"]["FunctionArn"] == arn(region, partition), got
    package = urllib.request.urlopen(got["Code"]["Location"]).read()
    assert f'MARKER = "{region}"' in zipfile.ZipFile(io.BytesIO(package)).read("h.py").decode()
    answer = json.loads(lam.invoke(FunctionName="f", Payload=b"{}")["Payload"].read())
    assert answer == {"region": region, "marker": region, "arn": arn(region, partition)}, answer

if os.environ["PHASE"] == "create":
    for region, partition in regions:
        created = client("lambda", region).create_function(
            FunctionName="f", Runtime="python3.12", Handler="h.handler",
            Role="arn:aws:iam::000000000000:role/lambda", Code={"ZipFile": code(region)})
        assert created["FunctionArn"] == arn(region, partition), created
        client("lambda", region).create_alias(FunctionName="f", Name="live", FunctionVersion="$LATEST")
    # A full ARN names its region whatever the client signed for; other regions do not know it.
    east = client("lambda", "us-east-1")
    china = east.get_function_configuration(FunctionName=arn("cn-northwest-1", "aws-cn"))
    assert china["FunctionArn"] == arn("cn-northwest-1", "aws-cn"), china
    try:
        client("lambda", "eu-west-1").get_function(FunctionName="f")
        raise AssertionError("found in eu-west-1")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
        assert e.response["Error"]["Message"] == "Function not found: " + arn("eu-west-1", "aws"), e.response
    # A us-west-2 state machine: its function by ARN, by name, and through the SDK integration.
    west_arn = arn("us-west-2", "aws")
    definition = {"StartAt": "ByArn", "States": {
        "ByArn": {"Type": "Task", "Resource": west_arn, "ResultPath": "$.byArn", "Next": "ByName"},
        "ByName": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "f:live", "Payload": {}},
                   "ResultSelector": {"region.$": "$.Payload.region"},
                   "ResultPath": "$.byName", "Next": "BySdk"},
        "BySdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:getFunction",
                  "Parameters": {"FunctionName": "f"},
                  "ResultSelector": {"arn.$": "$.Configuration.FunctionArn"},
                  "ResultPath": "$.bySdk", "End": True}}}
    sfn_west = client("stepfunctions", "us-west-2")
    machine = sfn_west.create_state_machine(name="regional", definition=json.dumps(definition),
                                            roleArn=role, type="EXPRESS")["stateMachineArn"]
    done = sfn_west.start_sync_execution(stateMachineArn=machine, input="{}")
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["byArn"] == {"region": "us-west-2", "marker": "us-west-2", "arn": west_arn}, output
    assert output["byName"] == {"region": "us-west-2"}, output
    assert output["bySdk"] == {"arn": west_arn}, output
for region, partition in regions:
    check(region, partition)
print("OK")
"#;

#[test]
fn functions_live_in_the_region_their_client_signed_for_and_stay_there() {
    let dir = scratch("functions-regions");
    let mut server = server(&dir, &[]);
    run_boto3(&server, BOTO3_REGIONAL_FUNCTIONS, &[("PHASE", "create")]);
    // Each region's logs, by `sluice logs --region`.
    let (ok, out, err) = sluice_logs(&server, &["f", "--region", "cn-northwest-1", "--json"]);
    assert!(ok, "{err}");
    assert!(out.contains("START RequestId"), "{out}");
    assert!(server.terminate().success());
    let server = self::server(&dir, &[]);
    run_boto3(&server, BOTO3_REGIONAL_FUNCTIONS, &[("PHASE", "check")]);
    assert!(dir.join("functions/us-west-2/f/function.json").is_file());
}
