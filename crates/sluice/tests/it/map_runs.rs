//! Map Runs through the real `aws` CLI against the real `sluice serve`: ListMapRuns and
//! DescribeMapRun after a distributed Map ran (its counts, limits and dates, kept across a
//! `kill -9`), UpdateMapRun raising MaxConcurrency of a running Map (the queued items start
//! at once), StopExecution aborting the Map Run, and AWS's errors for bad requests.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

/// A distributed Map over the input: an item with `"fail": true` fails its child workflow,
/// any other waits `wait` seconds then passes.
fn definition(max_concurrency: u64, tolerated: u64, wait: u64) -> String {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "Label": "Fan", "End": true,
        "MaxConcurrency": max_concurrency, "ToleratedFailureCount": tolerated,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Default": "Hold",
                    "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Broke"}]},
                "Broke": {"Type": "Fail", "Error": "Broke", "Cause": "told to"},
                "Hold": {"Type": "Wait", "Seconds": wait, "Next": "Done"},
                "Done": {"Type": "Pass", "End": true}}}}}})
    .to_string()
}

fn counts(run: &Value, which: &str) -> [i64; 7] {
    let c = &run[which];
    [
        "pending",
        "running",
        "succeeded",
        "failed",
        "timedOut",
        "aborted",
        "total",
    ]
    .map(|k| {
        c[k].as_i64()
            .unwrap_or_else(|| panic!("{which}.{k} in {run}"))
    })
}

fn describe(server: &Server, map_run: &str) -> Value {
    ok_json(&aws(
        server,
        &["describe-map-run", "--map-run-arn", map_run],
    ))
}

#[test]
fn a_finished_map_run_is_listed_described_updated_and_kept_across_a_restart() {
    let dir = scratch("map-runs-finished");
    let mut server = Server::start(&dir, &[]);
    let machine = create_state_machine(&server, "fan", &definition(1, 1, 0));
    let items = json!([{"fail": false}, {"fail": true}, {"fail": false}]);
    let execution = start_execution(&server, &machine, &items.to_string());
    let done = wait_done(server.port, &execution, Duration::from_secs(20));
    assert_eq!(
        done["status"], "SUCCEEDED",
        "one failure is tolerated: {done}"
    );

    let listed = ok_json(&aws(
        &server,
        &["list-map-runs", "--execution-arn", &execution],
    ));
    let runs = listed["mapRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{listed}");
    let run = &runs[0];
    let map_run = run["mapRunArn"].as_str().unwrap().to_owned();
    assert!(
        map_run.starts_with(&format!("{PREFIX}:mapRun:fan/Fan:")),
        "{map_run}"
    );
    assert_eq!(run["executionArn"], execution.as_str());
    assert_eq!(
        run["stateMachineArn"],
        format!("{PREFIX}:stateMachine:fan/Fan")
    );
    assert!(
        run["startDate"].is_number() && run["stopDate"].is_number(),
        "{run}"
    );
    let started = history(server.port, &execution)
        .into_iter()
        .find(|e| e["type"] == "MapRunStarted")
        .expect("MapRunStarted");
    assert_eq!(
        started["mapRunStartedEventDetails"]["mapRunArn"],
        map_run.as_str()
    );

    let described = describe(&server, &map_run);
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["executionArn"], execution.as_str());
    assert_eq!(described["maxConcurrency"], 1);
    assert_eq!(described["toleratedFailureCount"], 1);
    assert_eq!(described["toleratedFailurePercentage"], 0.0);
    assert_eq!(described["redriveCount"], 0);
    // pending, running, succeeded, failed, timedOut, aborted, total
    assert_eq!(counts(&described, "itemCounts"), [0, 0, 2, 1, 0, 0, 3]);
    assert_eq!(counts(&described, "executionCounts"), [0, 0, 2, 1, 0, 0, 3]);
    assert_eq!(described["itemCounts"]["resultsWritten"], 2);
    assert!(described["stopDate"].as_f64() >= described["startDate"].as_f64());

    // An ended run takes new limits (its record only).
    ok_empty(
        &server,
        &[
            "update-map-run",
            "--map-run-arn",
            &map_run,
            "--max-concurrency",
            "5",
        ],
    );
    assert_eq!(describe(&server, &map_run)["maxConcurrency"], 5);

    // Durable: still there after kill -9.
    server.kill9();
    let server = Server::start(&dir, &[]);
    let again = describe(&server, &map_run);
    assert_eq!(
        (&again["status"], &again["maxConcurrency"]),
        (&json!("SUCCEEDED"), &json!(5))
    );
    assert_eq!(counts(&again, "itemCounts"), [0, 0, 2, 1, 0, 0, 3]);

    // Errors, as AWS names them.
    let missing = format!("{PREFIX}:mapRun:fan/Fan:00000000-0000-4000-8000-000000000000");
    assert_cli_error(
        &aws(&server, &["describe-map-run", "--map-run-arn", &missing]),
        "ResourceNotFound",
        "DescribeMapRun",
        "Request references a resource that does not exist.",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "update-map-run",
                "--map-run-arn",
                &missing,
                "--max-concurrency",
                "2",
            ],
        ),
        "ResourceNotFound",
        "UpdateMapRun",
        "",
    );
    assert_cli_error(
        &aws(&server, &["describe-map-run", "--map-run-arn", &execution]),
        "InvalidArn",
        "DescribeMapRun",
        "Invalid Arn: 'Resource type not valid in this context: execution'",
    );
    assert_cli_error(
        &aws(&server, &["update-map-run", "--map-run-arn", &map_run]),
        "ValidationException",
        "UpdateMapRun",
        "At least one of",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "update-map-run",
                "--map-run-arn",
                &map_run,
                "--tolerated-failure-percentage",
                "101",
            ],
        ),
        "ValidationException",
        "UpdateMapRun",
        "",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "list-map-runs",
                "--execution-arn",
                &format!("{PREFIX}:execution:fan:nope"),
            ],
        ),
        "ExecutionDoesNotExist",
        "ListMapRuns",
        "",
    );
}

#[test]
fn update_map_run_starts_queued_items_and_stop_execution_aborts_the_run() {
    let dir = scratch("map-runs-running");
    let server = Server::start(&dir, &[]);
    let machine = create_state_machine(&server, "slow", &definition(1, 0, 3600));
    let item = json!({"fail": false});
    let execution = start_execution(&server, &machine, &json!([item, item, item]).to_string());
    let map_run = loop {
        let listed = call_ok(
            server.port,
            "ListMapRuns",
            json!({"executionArn": execution}),
        );
        if let Some(arn) = listed["mapRuns"][0]["mapRunArn"].as_str() {
            break arn.to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let described = describe(&server, &map_run);
    assert_eq!(described["status"], "RUNNING");
    assert!(described.get("stopDate").is_none(), "{described}");
    assert_eq!(counts(&described, "itemCounts"), [2, 1, 0, 0, 0, 0, 3]);

    ok_empty(
        &server,
        &[
            "update-map-run",
            "--map-run-arn",
            &map_run,
            "--max-concurrency",
            "3",
        ],
    );
    // Answered once the step that started the queued items is committed.
    let described = describe(&server, &map_run);
    assert_eq!(described["maxConcurrency"], 3);
    assert_eq!(counts(&described, "itemCounts"), [0, 3, 0, 0, 0, 0, 3]);

    ok_json(&aws(
        &server,
        &["stop-execution", "--execution-arn", &execution],
    ));
    let described = describe(&server, &map_run);
    assert_eq!(described["status"], "ABORTED");
    assert!(described["stopDate"].is_number(), "{described}");
    assert_eq!(counts(&described, "executionCounts"), [0, 0, 0, 0, 0, 3, 3]);
}
