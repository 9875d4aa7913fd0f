//! Drives the real `sluice` binary: `validate` and `run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{Value, json};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed");

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .output()
        .expect("sluice runs")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> String {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn seed(file: &str) -> String {
    format!("{SEED}/{file}")
}

#[test]
fn validate_accepts_the_seed_definitions() {
    let out = sluice(&[
        "validate",
        &seed("sec-pipeline-lambda.json"),
        &seed("sec-pipeline-pass.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn validate_prints_file_line_column_path_and_message_for_every_problem() {
    let dir = scratch("validate");
    let file = write(
        &dir,
        "bad.json",
        "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\"Type\": \"Pass\", \"Next\": \"Nope\"},\n    \"B\": {\"Type\": \"Task\", \"Resource\": \"arn:aws:states:::lambda:invoke\", \"TimeoutSeconds\": \"5\", \"End\": true}\n  }\n}\n",
    );
    let out = sluice(&["validate", &file]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "{file}:4:27: /States/A/Next: MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{file}:5:73: /States/B/TimeoutSeconds: SCHEMA_VALIDATION_FAILED:"
        )),
        "{text}"
    );
    assert!(
        text.contains("/States/B: MISSING_TRANSITION_TARGET: State \"B\" is not reachable."),
        "{text}"
    );
}

#[test]
fn validate_json_format_and_invalid_json() {
    let dir = scratch("validate-json");
    let file = write(
        &dir,
        "broken.json",
        "{\"StartAt\": \"A\",\n \"States\": {]}",
    );
    let out = sluice(&["validate", "--format", "json", &file]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    let d = &v["files"][0]["diagnostics"][0];
    assert_eq!(v["files"][0]["result"], "FAIL");
    assert_eq!(d["code"], "INVALID_JSON_DESCRIPTION");
    assert_eq!(d["line"], 2);
}

#[test]
fn run_executes_the_seed_pipeline_with_its_mock_config() {
    let out = sluice(&[
        "run",
        &seed("sec-pipeline-lambda.json"),
        "--input",
        &format!("@{}", seed("event.json")),
        "--mock-config",
        &seed("sfn-mock-config.json"),
        "--test-case",
        "HappyPath",
        "--history",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["output"], json!({"notifications_sent": 1}));
    let types: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    assert!(types.contains(&"LambdaFunctionSucceeded") && types.contains(&"ChoiceStateExited"));
    let started = &v["history"][0]["executionStartedEventDetails"]["input"];
    assert!(
        started.as_str().unwrap().contains("DetectionSummaryEvent"),
        "input recorded as JSON text"
    );
}

#[test]
fn run_retries_and_catches_mocked_errors_by_attempt() {
    let dir = scratch("retry");
    let mock = write(
        &dir,
        "mock.json",
        r#"{"StateMachines":{"sec-pipeline-lambda":{"TestCases":{"Flaky":{
              "CheckEventsForRuleMatch":"FlakyThenMatch","TriggerNotifications":"AllFail"}}}},
            "MockedResponses":{
              "FlakyThenMatch":{"0-1":{"Throw":{"Error":"Lambda.ServiceException","Cause":"flaky"}},
                                 "2":{"Return":{"StatusCode":200,"Payload":{"trigger_payload_exists":true}}}},
              "AllFail":{"0":{"Throw":{"Error":"AllNotificationsFailedException","Cause":"smtp down"}}}}}"#,
    );
    let out = sluice(&[
        "run",
        &seed("sec-pipeline-lambda.json"),
        "--input",
        "{}",
        "--mock-config",
        &mock,
        "--test-case",
        "Flaky",
        "--no-wait",
        "--history",
    ]);
    assert_eq!(out.status.code(), Some(0), "the run itself succeeded");
    let v = stdout_json(&out);
    assert_eq!(v["status"], "FAILED");
    let types: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "LambdaFunctionFailed")
            .count(),
        3,
        "{types:?}"
    );
    assert!(
        types.ends_with(&["FailStateEntered", "ExecutionFailed"]),
        "{types:?}"
    );
}

#[test]
fn fail_on_error_makes_a_failed_execution_exit_1() {
    let dir = scratch("fail-on-error");
    let def = write(
        &dir,
        "f.json",
        r#"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E"}}}"#,
    );
    assert_eq!(sluice(&["run", &def]).status.code(), Some(0));
    let out = sluice(&["run", &def, "--fail-on-error"]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"], "E");
    assert!(v.get("cause").is_none(), "no Cause given, none shown: {v}");
}

#[test]
fn a_task_without_a_mocked_response_fails_with_a_clear_error() {
    let out = sluice(&["run", &seed("sec-pipeline-lambda.json"), "--input", "{}"]);
    let v = stdout_json(&out);
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["error"], "States.Runtime");
    let cause = v["cause"].as_str().unwrap();
    assert!(
        cause.contains("No mocked response for state 'CheckEventsForRuleMatch'"),
        "{cause}"
    );
}

#[test]
fn unknown_test_case_is_a_usage_error_listing_the_known_ones() {
    let out = sluice(&[
        "run",
        &seed("sec-pipeline-lambda.json"),
        "--mock-config",
        &seed("sfn-mock-config.json"),
        "--test-case",
        "Nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Nope") && err.contains("HappyPath"), "{err}");
}

#[test]
fn waits_really_wait_unless_no_wait() {
    let dir = scratch("wait");
    let def = write(
        &dir,
        "w.json",
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}"#,
    );
    let start = Instant::now();
    let out = sluice(&["run", &def, "--input", r#"{"a":1}"#]);
    assert!(start.elapsed().as_millis() >= 1000, "the Wait state slept");
    assert_eq!(stdout_json(&out)["output"], json!({"a":1}));
    let long = write(
        &dir,
        "long.json",
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"End":true}}}"#,
    );
    let out = sluice(&["run", &long, "--no-wait"]);
    assert_eq!(stdout_json(&out)["status"], "SUCCEEDED");
}

#[test]
fn oversized_input_fails_with_data_limit_exceeded_unless_the_limit_is_raised() {
    let dir = scratch("big");
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let input = write(&dir, "big.json", &big);
    let def = seed("sec-pipeline-pass.json");
    let out = sluice(&["run", &def, "--input", &format!("@{input}")]);
    let v = stdout_json(&out);
    assert_eq!(v["error"], "States.DataLimitExceeded");
    let out = sluice(&[
        "run",
        &def,
        "--input",
        &format!("@{input}"),
        "--max-payload-bytes",
        "0",
    ]);
    assert_eq!(stdout_json(&out)["status"], "SUCCEEDED");
}

#[test]
fn deeply_nested_input_runs_and_malformed_input_is_a_clean_error() {
    let dir = scratch("deep");
    let machine = write(
        &dir,
        "pass.json",
        r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"d.$":"$"},"End":true}}}"#,
    );
    // AWS documents no nesting limit: 100,000 levels run through.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let input = write(&dir, "deep.json", &deep);
    let out = sluice(&["run", &machine, "--input", &format!("@{input}")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("\"d\":{deep}")), "no deep output");
    // Deeper than any JSON the payload quota holds (131,072 levels) is refused.
    let deeper = format!("{}{}", "[".repeat(131_073), "]".repeat(131_073));
    let input = write(&dir, "deeper.json", &deeper);
    let out = sluice(&["run", &machine, "--input", &format!("@{input}")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    assert!(
        stderr.contains("nested more than 131072 levels"),
        "{stderr}"
    );
    let out = sluice(&["run", &seed("sec-pipeline-pass.json"), "--input", "{oops"]);
    assert_eq!(out.status.code(), Some(2));
}
