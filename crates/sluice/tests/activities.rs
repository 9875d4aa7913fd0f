//! Activities through the real `aws` CLI against the real `sluice serve`: create (idempotent by
//! name), describe, list with pagination, tag, delete (twice), kept across a `kill -9`, and
//! AWS's errors for bad names, bad ARNs and missing activities.

mod common;

use common::*;
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
    let tagged = aws(
        &server,
        &[
            "tag-resource",
            "--resource-arn",
            &arn,
            "--tags",
            "key=tier,value=1",
        ],
    );
    assert!(
        tagged.status.success(),
        "{}",
        String::from_utf8_lossy(&tagged.stderr)
    );
    let untagged = aws(
        &server,
        &[
            "untag-resource",
            "--resource-arn",
            &arn,
            "--tag-keys",
            "team",
        ],
    );
    assert!(
        untagged.status.success(),
        "{}",
        String::from_utf8_lossy(&untagged.stderr)
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
        let deleted = aws(&server, &["delete-activity", "--activity-arn", &arn]);
        assert!(
            deleted.status.success(),
            "{}",
            String::from_utf8_lossy(&deleted.stderr)
        );
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
