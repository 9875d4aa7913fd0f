//! Activities through the real `aws` CLI against the real `sluice serve`: create (idempotent by
//! name), describe, list with pagination, tag, delete (twice), kept across a `kill -9`, and
//! AWS's errors for bad names, bad ARNs and missing activities.

use crate::common::*;
use serde_json::json;

fn create(server: &Server, name: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["create-activity", "--name", name];
    args.extend_from_slice(extra);
    ok_json(&aws(server, &args))
}

#[test]
fn activities_are_created_once_described_listed_tagged_and_deleted() {
    let dir = scratch("activities");
    let mut server = Server::start(&dir, &[]);
    let first = create(&server, "approve", &["--tags", "key=team,value=sec"]);
    let arn = first["activityArn"].as_str().unwrap().to_owned();
    assert_eq!(arn, format!("{PREFIX}:activity:approve"));
    assert!(first["creationDate"].is_number(), "{first}");
    // Idempotent by name: the same activity, tags untouched.
    let again = create(&server, "approve", &["--tags", "key=team,value=other"]);
    assert_eq!(again, first);

    let described = ok_json(&aws(
        &server,
        &["describe-activity", "--activity-arn", &arn],
    ));
    assert_eq!(described["name"], "approve");
    assert_eq!(described["activityArn"], arn.as_str());
    assert_eq!(described["creationDate"], first["creationDate"]);
    assert_eq!(
        described["encryptionConfiguration"],
        json!({"type": "AWS_OWNED_KEY"})
    );

    let tags = |server: &Server| {
        ok_json(&aws(
            server,
            &["list-tags-for-resource", "--resource-arn", &arn],
        ))["tags"]
            .clone()
    };
    assert_eq!(tags(&server), json!([{"key": "team", "value": "sec"}]));
    ok_empty(
        &server,
        &[
            "tag-resource",
            "--resource-arn",
            &arn,
            "--tags",
            "key=tier,value=1",
        ],
    );
    ok_empty(
        &server,
        &[
            "untag-resource",
            "--resource-arn",
            &arn,
            "--tag-keys",
            "team",
        ],
    );
    assert_eq!(tags(&server), json!([{"key": "tier", "value": "1"}]));

    for name in ["beta", "alpha"] {
        create(&server, name, &[]);
    }
    // Durable.
    server.kill9();
    let server = Server::start(&dir, &[]);
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["activities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let page1 = call_ok(server.port, "ListActivities", json!({"maxResults": 2}));
    assert_eq!(names(&page1), ["alpha", "approve"]);
    let token = page1["nextToken"].as_str().expect("nextToken");
    let page2 = call_ok(
        server.port,
        "ListActivities",
        json!({"maxResults": 2, "nextToken": token}),
    );
    assert_eq!(names(&page2), ["beta"]);
    assert!(page2.get("nextToken").is_none(), "{page2}");
    assert_eq!(tags(&server), json!([{"key": "tier", "value": "1"}]));

    for _ in 0..2 {
        ok_empty(&server, &["delete-activity", "--activity-arn", &arn]);
    }
    assert_cli_error(
        &aws(&server, &["describe-activity", "--activity-arn", &arn]),
        "ActivityDoesNotExist",
        "DescribeActivity",
        &format!("Activity Does Not Exist: '{arn}'"),
    );
    assert_cli_error(
        &aws(
            &server,
            &["describe-activity", "--activity-arn", "no_an_activity_arn"],
        ),
        "InvalidArn",
        "DescribeActivity",
        "Invalid Arn: 'Invalid ARN prefix: no_an_activity_arn'",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "describe-activity",
                "--activity-arn",
                &format!("{PREFIX}:stateMachine:m"),
            ],
        ),
        "InvalidArn",
        "DescribeActivity",
        "Invalid Arn: 'Resource type not valid in this context: statemachine'",
    );
    for bad in [
        "activity name",
        "activity<name",
        "activity:name",
        "activity/name",
    ] {
        assert_cli_error(
            &aws(&server, &["create-activity", "--name", bad]),
            "InvalidName",
            "CreateActivity",
            &format!("Invalid Name: '{bad}'"),
        );
    }
    assert_cli_error(
        &aws(&server, &["list-tags-for-resource", "--resource-arn", &arn]),
        "ResourceNotFound",
        "ListTagsForResource",
        "",
    );
}

fn machine(server: &Server, name: &str, activity: &str) -> String {
    let definition = json!({"StartAt": "ActivityTask", "States": {"ActivityTask": {
        "Type": "Task", "Resource": activity, "HeartbeatSeconds": 600, "End": true}}});
    create_state_machine(server, name, &definition.to_string())
}

fn poll(server: &Server, activity: &str, worker: &str) -> serde_json::Value {
    ok_json(&aws(
        server,
        &[
            "get-activity-task",
            "--activity-arn",
            activity,
            "--worker-name",
            worker,
        ],
    ))
}

#[test]
fn a_worker_takes_activity_tasks_and_ends_them_across_a_server_restart() {
    let dir = scratch("activity-tasks");
    let mut server = Server::start(&dir, &[]);
    let activity = create(&server, "review", &[])["activityArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let machine = machine(&server, "reviewed", &activity);

    // Scheduled before a kill -9: after the restart the task is queued again and taken.
    let first = start_execution(&server, &machine, r#"{"Value1": "HelloWorld"}"#);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !types(&history(server.port, &first)).contains(&"ActivityScheduled") {
        assert!(std::time::Instant::now() < deadline, "never scheduled");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill9();
    let server = Server::start(&dir, &[]);
    let task = poll(&server, &activity, "worker-1");
    assert_eq!(task["input"], r#"{"Value1":"HelloWorld"}"#);
    let token = task["taskToken"].as_str().expect("a task token").to_owned();
    ok_empty(&server, &["send-task-heartbeat", "--task-token", &token]);
    ok_empty(
        &server,
        &[
            "send-task-success",
            "--task-token",
            &token,
            "--task-output",
            r#"{"approved":true}"#,
        ],
    );
    let described = wait_done(server.port, &first, std::time::Duration::from_secs(20));
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["output"], r#"{"approved":true}"#);
    let events = history(server.port, &first);
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let chain: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap(),
                e["previousEventId"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        [(1, 0), (2, 0), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6)]
    );
    assert_eq!(
        events[2]["activityScheduledEventDetails"],
        json!({"resource": activity, "input": r#"{"Value1":"HelloWorld"}"#,
               "inputDetails": {"truncated": false}, "heartbeatInSeconds": 600})
    );
    assert_eq!(
        events[3]["activityStartedEventDetails"],
        json!({"workerName": "worker-1"})
    );
    assert_eq!(
        events[4]["activitySucceededEventDetails"]["output"],
        r#"{"approved":true}"#
    );
    // Handed out once: the token is spent.
    assert_cli_error(
        &aws(
            &server,
            &[
                "send-task-success",
                "--task-token",
                &token,
                "--task-output",
                "{}",
            ],
        ),
        "TaskTimedOut",
        "SendTaskSuccess",
        "",
    );

    // A worker's failure fails the task (uncaught: the execution).
    let second = start_execution(&server, &machine, "{}");
    let task = poll(&server, &activity, "worker-2");
    let token = task["taskToken"].as_str().unwrap();
    ok_empty(
        &server,
        &[
            "send-task-failure",
            "--task-token",
            token,
            "--error",
            "Rejected",
            "--cause",
            "no",
        ],
    );
    let described = wait_done(server.port, &second, std::time::Duration::from_secs(20));
    assert_eq!(
        (&described["status"], &described["error"]),
        (&json!("FAILED"), &json!("Rejected"))
    );
    let events = history(server.port, &second);
    let failed = events
        .iter()
        .find(|e| e["type"] == "ActivityFailed")
        .expect("ActivityFailed");
    assert_eq!(
        failed["activityFailedEventDetails"],
        json!({"error": "Rejected", "cause": "no"})
    );

    let missing = format!("{PREFIX}:activity:nope");
    assert_cli_error(
        &aws(&server, &["get-activity-task", "--activity-arn", &missing]),
        "ActivityDoesNotExist",
        "GetActivityTask",
        &format!("Activity Does Not Exist: '{missing}'"),
    );
    assert_cli_error(
        &aws(
            &server,
            &["get-activity-task", "--activity-arn", "no_an_activity_arn"],
        ),
        "InvalidArn",
        "GetActivityTask",
        "Invalid Arn: 'Invalid ARN prefix: no_an_activity_arn'",
    );
}

#[test]
fn a_task_that_timed_out_while_queued_is_skipped_and_records_activity_timed_out() {
    let dir = scratch("activity-timeout");
    let server = Server::start(&dir, &["--time-scale", "1000"]);
    let activity = create(&server, "triage", &[])["activityArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let hurried = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": activity, "TimeoutSeconds": 1, "End": true}}});
    let hurried = create_state_machine(&server, "hurried", &hurried.to_string());
    let patient = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": activity, "End": true}}});
    let patient = create_state_machine(&server, "patient", &patient.to_string());

    let late = start_execution(&server, &hurried, r#"{"who":"late"}"#);
    let described = wait_done(server.port, &late, std::time::Duration::from_secs(20));
    assert_eq!(
        (&described["status"], &described["error"]),
        (&json!("FAILED"), &json!("States.Timeout"))
    );
    let events = history(server.port, &late);
    assert!(
        types(&events).contains(&"ActivityTimedOut"),
        "{:?}",
        types(&events)
    );

    let waiting = start_execution(&server, &patient, r#"{"who":"waiting"}"#);
    let task = poll(&server, &activity, "w");
    assert_eq!(
        task["input"], r#"{"who":"waiting"}"#,
        "the timed-out task is not handed out"
    );
    ok_empty(
        &server,
        &[
            "send-task-success",
            "--task-token",
            task["taskToken"].as_str().unwrap(),
            "--task-output",
            "{}",
        ],
    );
    let described = wait_done(server.port, &waiting, std::time::Duration::from_secs(20));
    assert_eq!(described["status"], "SUCCEEDED");
}
