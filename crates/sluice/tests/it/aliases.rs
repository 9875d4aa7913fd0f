//! State machine versions and aliases through the real `sluice serve`, driven by the real
//! `aws` CLI and boto3: alias CRUD and its errors, executions routed by weight, listings of a
//! machine's executions by machine, version and alias, and the definition an execution runs
//! after its machine changed.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

fn pass(result: &str) -> String {
    format!(
        r#"{{"StartAt":"P","States":{{"P":{{"Type":"Pass","Result":"{result}","End":true}}}}}}"#
    )
}

fn routing(entries: &[(&str, u32)]) -> String {
    let items: Vec<Value> = entries
        .iter()
        .map(|(version, weight)| json!({"stateMachineVersionArn": version, "weight": weight}))
        .collect();
    Value::Array(items).to_string()
}

/// A machine `name` with two published versions whose Pass states answer "one" and "two".
fn machine_with_two_versions(server: &Server, name: &str) -> (String, String, String) {
    let created = ok_json(&aws(
        server,
        &[
            "create-state-machine",
            "--name",
            name,
            "--definition",
            &pass("one"),
            "--role-arn",
            ROLE,
            "--publish",
        ],
    ));
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();
    let v1 = created["stateMachineVersionArn"]
        .as_str()
        .unwrap()
        .to_string();
    let updated = ok_json(&aws(
        server,
        &[
            "update-state-machine",
            "--state-machine-arn",
            &machine,
            "--definition",
            &pass("two"),
            "--publish",
        ],
    ));
    let v2 = updated["stateMachineVersionArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v1, format!("{machine}:1"));
    assert_eq!(v2, format!("{machine}:2"));
    (machine, v1, v2)
}

/// Starts `n` executions through `arn` and waits for each: (version ARN, output) of each.
fn run_through(server: &Server, arn: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let started = call_ok(
                server.port,
                "StartExecution",
                json!({ "stateMachineArn": arn }),
            );
            let execution = started["executionArn"].as_str().unwrap();
            let done = wait_done(server.port, execution, Duration::from_secs(10));
            assert_eq!(done["status"], "SUCCEEDED", "{done}");
            (
                done["stateMachineVersionArn"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                done["output"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn list_executions(server: &Server, request: Value) -> Vec<Value> {
    let mut items = Vec::new();
    let mut request = request;
    request["maxResults"] = json!(3);
    loop {
        let page = call_ok(server.port, "ListExecutions", request.clone());
        items.extend(page["executions"].as_array().unwrap().iter().cloned());
        match page["nextToken"].as_str() {
            Some(token) => request["nextToken"] = json!(token),
            None => return items,
        }
    }
}

#[test]
fn aws_cli_alias_lifecycle_and_routing() {
    let dir = scratch("aliases-cli");
    let server = Server::start(&dir, &[]);
    let (machine, v1, v2) = machine_with_two_versions(&server, "router");

    // Create: the ARN is `<machine>:<name>`; the same request again is the same alias.
    let create = |name: &str, entries: &[(&str, u32)], description: &str| {
        aws(
            &server,
            &[
                "create-state-machine-alias",
                "--name",
                name,
                "--description",
                description,
                "--routing-configuration",
                &routing(entries),
            ],
        )
    };
    let pinned = ok_json(&create("pinned", &[(&v1, 100), (&v2, 0)], "all on one"));
    let pinned_arn = format!("{machine}:pinned");
    assert_eq!(pinned["stateMachineAliasArn"], pinned_arn.as_str());
    assert!(pinned["creationDate"].as_f64().unwrap() > 1.6e9);
    let again = ok_json(&create("pinned", &[(&v1, 100), (&v2, 0)], "all on one"));
    assert_eq!(again, pinned);
    for (entries, description) in [
        (&[(v1.as_str(), 100)][..], "all on one"),
        (&[(v1.as_str(), 100), (v2.as_str(), 0)][..], "another"),
    ] {
        assert_cli_error(
            &create("pinned", entries, description),
            "ConflictException",
            "CreateStateMachineAlias",
            "Failed to create alias because an alias with the same name and a different \
             routing configuration already exists.",
        );
    }
    let split_arn =
        ok_json(&create("split", &[(&v1, 50), (&v2, 50)], "half and half"))["stateMachineAliasArn"]
            .as_str()
            .unwrap()
            .to_string();
    assert_eq!(split_arn, format!("{machine}:split"));

    let described = ok_json(&aws(
        &server,
        &[
            "describe-state-machine-alias",
            "--state-machine-alias-arn",
            &pinned_arn,
        ],
    ));
    assert_eq!(described["name"], "pinned");
    assert_eq!(described["description"], "all on one");
    assert_eq!(
        described["routingConfiguration"],
        json!([
            {"stateMachineVersionArn": v1, "weight": 100},
            {"stateMachineVersionArn": v2, "weight": 0},
        ])
    );
    assert_eq!(described["creationDate"], pinned["creationDate"]);

    // Listing: by name, paged; given a version, the aliases routing to it.
    let listed = ok_json(&aws(
        &server,
        &[
            "list-state-machine-aliases",
            "--state-machine-arn",
            &machine,
        ],
    ));
    let names = |listed: &Value| -> Vec<String> {
        listed["stateMachineAliases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["stateMachineAliasArn"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&listed), [pinned_arn.clone(), split_arn.clone()]);
    let first = call_ok(
        server.port,
        "ListStateMachineAliases",
        json!({"stateMachineArn": machine, "maxResults": 1}),
    );
    assert_eq!(names(&first), std::slice::from_ref(&pinned_arn));
    let second = call_ok(
        server.port,
        "ListStateMachineAliases",
        json!({"stateMachineArn": machine, "maxResults": 1, "nextToken": first["nextToken"]}),
    );
    assert_eq!(names(&second), std::slice::from_ref(&split_arn));
    assert!(second.get("nextToken").is_none(), "{second}");
    let v2_aliases = ok_json(&aws(
        &server,
        &["list-state-machine-aliases", "--state-machine-arn", &v2],
    ));
    assert_eq!(names(&v2_aliases), [pinned_arn.clone(), split_arn.clone()]);

    // Routing: 100/0 always lands on version 1; 50/50 on both.
    let pinned_runs = run_through(&server, &pinned_arn, 8);
    assert!(
        pinned_runs
            .iter()
            .all(|(version, output)| *version == v1 && output == "\"one\""),
        "{pinned_runs:?}"
    );
    let split_runs = run_through(&server, &split_arn, 40);
    let landed: HashSet<&str> = split_runs.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(landed, HashSet::from([v1.as_str(), v2.as_str()]));
    for (version, output) in &split_runs {
        let expected = if *version == v1 { "\"one\"" } else { "\"two\"" };
        assert_eq!(output, expected);
    }
    // A version directly, and the machine itself.
    let direct = run_through(&server, &v2, 1);
    assert_eq!(direct, [(v2.clone(), "\"two\"".to_string())]);
    let plain = run_through(&server, &machine, 1);
    assert_eq!(plain, [(String::new(), "\"two\"".to_string())]);

    // An execution started through an alias names the machine, the version and the alias.
    let via_cli = ok_json(&aws(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &pinned_arn,
            "--name",
            "through-the-alias",
        ],
    ));
    let execution = via_cli["executionArn"].as_str().unwrap();
    assert_eq!(
        execution,
        format!("{PREFIX}:execution:router:through-the-alias")
    );
    wait_done(server.port, execution, Duration::from_secs(10));
    let described = ok_json(&aws(
        &server,
        &["describe-execution", "--execution-arn", execution],
    ));
    assert_eq!(described["stateMachineArn"], machine.as_str());
    assert_eq!(described["stateMachineVersionArn"], v1.as_str());
    assert_eq!(described["stateMachineAliasArn"], pinned_arn.as_str());

    // ListExecutions by machine, version and alias, each item naming its version and alias.
    let all = list_executions(&server, json!({ "stateMachineArn": machine }));
    assert_eq!(all.len(), 8 + 40 + 1 + 1 + 1);
    let by_v1 = list_executions(&server, json!({ "stateMachineArn": v1 }));
    let v1_count = 8 + 1 + split_runs.iter().filter(|(v, _)| *v == v1).count();
    assert_eq!(by_v1.len(), v1_count);
    assert!(
        by_v1
            .iter()
            .all(|e| e["stateMachineVersionArn"] == v1.as_str())
    );
    let by_pinned = list_executions(&server, json!({ "stateMachineArn": pinned_arn }));
    assert_eq!(by_pinned.len(), 9);
    assert!(
        by_pinned
            .iter()
            .all(|e| e["stateMachineAliasArn"] == pinned_arn.as_str()
                && e["stateMachineArn"] == machine.as_str())
    );
    let by_split = list_executions(&server, json!({ "stateMachineArn": split_arn }));
    assert_eq!(by_split.len(), 40);
    let without_alias: Vec<&Value> = all
        .iter()
        .filter(|e| e.get("stateMachineAliasArn").is_none())
        .collect();
    assert_eq!(
        without_alias.len(),
        2,
        "the version's and the machine's own"
    );
    let cli_listed = ok_json(&aws(
        &server,
        &["list-executions", "--state-machine-arn", &pinned_arn],
    ));
    assert_eq!(cli_listed["executions"].as_array().unwrap().len(), 9);
    let not_redriven = list_executions(
        &server,
        json!({ "stateMachineArn": split_arn, "redriveFilter": "NOT_REDRIVEN" }),
    );
    assert_eq!(not_redriven.len(), 40);
    let redriven = list_executions(
        &server,
        json!({ "stateMachineArn": machine, "redriveFilter": "REDRIVEN" }),
    );
    assert!(redriven.is_empty());

    // Update: description and routing; new executions follow the new routing.
    let updated = ok_json(&aws(
        &server,
        &[
            "update-state-machine-alias",
            "--state-machine-alias-arn",
            &pinned_arn,
            "--description",
            "moved",
            "--routing-configuration",
            &routing(&[(&v2, 100)]),
        ],
    ));
    assert!(updated["updateDate"].as_f64().unwrap() >= described["startDate"].as_f64().unwrap());
    let after = ok_json(&aws(
        &server,
        &[
            "describe-state-machine-alias",
            "--state-machine-alias-arn",
            &pinned_arn,
        ],
    ));
    assert_eq!(after["description"], "moved");
    assert_eq!(
        after["routingConfiguration"],
        json!([{"stateMachineVersionArn": v2, "weight": 100}])
    );
    assert_eq!(after["creationDate"], pinned["creationDate"]);
    assert_eq!(
        run_through(&server, &pinned_arn, 3),
        vec![(v2.clone(), "\"two\"".to_string()); 3]
    );

    // A version an alias routes to cannot be deleted; once no alias does, it can.
    assert_cli_error(
        &aws(
            &server,
            &[
                "delete-state-machine-version",
                "--state-machine-version-arn",
                &v2,
            ],
        ),
        "ConflictException",
        "DeleteStateMachineVersion",
        "Version to be deleted must not be referenced by an alias. Current list of aliases \
         referencing this version: [pinned, split]",
    );
    ok_json(&aws(
        &server,
        &[
            "update-state-machine-alias",
            "--state-machine-alias-arn",
            &split_arn,
            "--routing-configuration",
            &routing(&[(&v1, 100)]),
        ],
    ));
    assert_cli_error(
        &aws(
            &server,
            &[
                "delete-state-machine-version",
                "--state-machine-version-arn",
                &v1,
            ],
        ),
        "ConflictException",
        "DeleteStateMachineVersion",
        "Version to be deleted must not be referenced by an alias. Current list of aliases \
         referencing this version: [split]",
    );
    let deleted = aws(
        &server,
        &[
            "delete-state-machine-alias",
            "--state-machine-alias-arn",
            &split_arn,
        ],
    );
    assert!(deleted.status.success(), "{deleted:?}");
    // Deleting an alias that is not there is fine, as on AWS.
    let deleted = aws(
        &server,
        &[
            "delete-state-machine-alias",
            "--state-machine-alias-arn",
            &split_arn,
        ],
    );
    assert!(deleted.status.success(), "{deleted:?}");
    assert_cli_error(
        &aws(
            &server,
            &[
                "describe-state-machine-alias",
                "--state-machine-alias-arn",
                &split_arn,
            ],
        ),
        "ResourceNotFound",
        "DescribeStateMachineAlias",
        "Request references a resource that does not exist.",
    );
    let deleted = aws(
        &server,
        &[
            "delete-state-machine-version",
            "--state-machine-version-arn",
            &v1,
        ],
    );
    assert!(deleted.status.success(), "{deleted:?}");
    // The executions of a deleted version and alias stay listed under their machine, still
    // naming them.
    let all = list_executions(&server, json!({ "stateMachineArn": machine }));
    assert_eq!(
        all.iter()
            .filter(|e| e["stateMachineAliasArn"] == split_arn.as_str())
            .count(),
        40
    );

    // Deleting the machine takes its aliases along.
    let deleted = aws(
        &server,
        &["delete-state-machine", "--state-machine-arn", &machine],
    );
    assert!(deleted.status.success(), "{deleted:?}");
    assert_cli_error(
        &aws(
            &server,
            &[
                "describe-state-machine-alias",
                "--state-machine-alias-arn",
                &pinned_arn,
            ],
        ),
        "ResourceNotFound",
        "DescribeStateMachineAlias",
        "Request references a resource that does not exist.",
    );
}

#[test]
fn aws_cli_alias_errors() {
    let dir = scratch("aliases-errors");
    let server = Server::start(&dir, &[]);
    let (machine, v1, v2) = machine_with_two_versions(&server, "strict");
    let (_, other_v1, _) = machine_with_two_versions(&server, "other");
    let create = |name: &str, routing_json: &str| {
        aws(
            &server,
            &[
                "create-state-machine-alias",
                "--name",
                name,
                "--routing-configuration",
                routing_json,
            ],
        )
    };
    let expect = |output, message: &str| {
        assert_cli_error(
            &output,
            "ValidationException",
            "CreateStateMachineAlias",
            message,
        )
    };
    expect(
        create("a", &routing(&[(&v1, 60), (&v2, 30)])),
        "Sum of routing configuration weights must equal 100. Received: [60, 30]",
    );
    expect(
        create("a", &routing(&[(&v1, 50)])),
        "Sum of routing configuration weights must equal 100. Received: [50]",
    );
    expect(
        create("a", &routing(&[(&v1, 101)])),
        "1 validation error detected: Value '101' at 'routingConfiguration.1.member.weight' \
         failed to satisfy constraint: Member must have value less than or equal to 100",
    );
    expect(
        create("a", &routing(&[(&v1, 50), (&v2, 25), (&v2, 25)])),
        "1 validation error detected: Value '",
    );
    expect(
        create("a", &routing(&[(&machine, 100)])),
        &format!(
            "Routing configuration must contain state machine version ARNs. Received: [{machine}]"
        ),
    );
    expect(
        create("a", &routing(&[(&v1, 50), (&v1, 50)])),
        &format!(
            "Routing configuration must contain distinct state machine version ARNs. \
             Received: [{v1}, {v1}]"
        ),
    );
    expect(
        create("a", &routing(&[(&v1, 50), (&other_v1, 50)])),
        "Routing configuration must contain versions of the same state machine.",
    );
    for name in ["123", "has space", "bad@"] {
        expect(
            create(name, &routing(&[(&v1, 100)])),
            &format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern"
            ),
        );
    }
    let unknown = format!("{machine}:9");
    let output = create("a", &routing(&[(&unknown, 100)]));
    assert_cli_error(
        &output,
        "ResourceNotFound",
        "CreateStateMachineAlias",
        "Request references a resource that does not exist.",
    );
    // Nothing was created by any of those.
    let listed = ok_json(&aws(
        &server,
        &[
            "list-state-machine-aliases",
            "--state-machine-arn",
            &machine,
        ],
    ));
    assert_eq!(listed["stateMachineAliases"], json!([]));

    // An alias routes within its own machine.
    ok_json(&create("live", &routing(&[(&v1, 100)])));
    let live = format!("{machine}:live");
    assert_cli_error(
        &aws(
            &server,
            &[
                "update-state-machine-alias",
                "--state-machine-alias-arn",
                &live,
                "--routing-configuration",
                &routing(&[(&other_v1, 100)]),
            ],
        ),
        "ValidationException",
        "UpdateStateMachineAlias",
        "Routing configuration must contain versions of the alias's state machine",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "update-state-machine-alias",
                "--state-machine-alias-arn",
                &live,
            ],
        ),
        "ValidationException",
        "UpdateStateMachineAlias",
        "Either the description or the RoutingConfiguration must be specified",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "update-state-machine-alias",
                "--state-machine-alias-arn",
                &format!("{machine}:nope"),
                "--description",
                "x",
            ],
        ),
        "ResourceNotFound",
        "UpdateStateMachineAlias",
        "Request references a resource that does not exist.",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "start-execution",
                "--state-machine-arn",
                &format!("{machine}:nope"),
            ],
        ),
        "StateMachineDoesNotExist",
        "StartExecution",
        &format!("State Machine Does Not Exist: '{machine}:nope'"),
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "describe-state-machine-alias",
                "--state-machine-alias-arn",
                &v1,
            ],
        ),
        "InvalidArn",
        "DescribeStateMachineAlias",
        "Invalid Arn: 'Invalid alias ARN: ",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "list-executions",
                "--state-machine-arn",
                &format!("{machine}:nope"),
            ],
        ),
        "ResourceNotFound",
        "ListExecutions",
        "Request references a resource that does not exist.",
    );
    assert_cli_error(
        &aws(
            &server,
            &[
                "list-executions",
                "--state-machine-arn",
                &format!("{machine}:7"),
            ],
        ),
        "StateMachineDoesNotExist",
        "ListExecutions",
        &format!("State Machine Does Not Exist: '{machine}:7'"),
    );
}

/// An execution keeps the definition it started with: DescribeStateMachineForExecution after
/// UpdateStateMachine (and after a restart) returns the old definition and revision, while the
/// execution finishes per the old definition.
#[test]
fn an_execution_runs_and_describes_the_revision_it_started_with() {
    let dir = scratch("aliases-revision");
    let data = dir.join("data");
    let mut server = Server::start(&data, &[]);
    let waits = |result: &str| {
        format!(
            r#"{{"StartAt":"W","States":{{"W":{{"Type":"Wait","Seconds":3600,"Next":"P"}},
                "P":{{"Type":"Pass","Result":"{result}","End":true}}}}}}"#
        )
    };
    let created = ok_json(&aws(
        &server,
        &[
            "create-state-machine",
            "--name",
            "evolving",
            "--definition",
            &waits("old"),
            "--role-arn",
            ROLE,
        ],
    ));
    let machine = created["stateMachineArn"].as_str().unwrap().to_string();
    let old = ok_json(&aws(
        &server,
        &["describe-state-machine", "--state-machine-arn", &machine],
    ));
    let started = ok_json(&aws(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "e1",
        ],
    ));
    let execution = started["executionArn"].as_str().unwrap().to_string();
    let updated = ok_json(&aws(
        &server,
        &[
            "update-state-machine",
            "--state-machine-arn",
            &machine,
            "--definition",
            &waits("new"),
            "--publish",
        ],
    ));
    assert_ne!(updated["revisionId"], old["revisionId"]);
    let version = updated["stateMachineVersionArn"]
        .as_str()
        .unwrap()
        .to_string();

    let check = |server: &Server| {
        let ran = ok_json(&aws(
            server,
            &[
                "describe-state-machine-for-execution",
                "--execution-arn",
                &execution,
            ],
        ));
        assert_eq!(ran["definition"], old["definition"], "{ran}");
        assert_eq!(ran["revisionId"], old["revisionId"]);
        assert_eq!(ran["stateMachineArn"], machine.as_str());
        assert_eq!(ran["name"], "evolving");
        let now = ok_json(&aws(
            server,
            &["describe-state-machine", "--state-machine-arn", &machine],
        ));
        assert_eq!(now["definition"], waits("new").as_str());
        // DescribeStateMachine takes a version ARN too.
        let published = ok_json(&aws(
            server,
            &["describe-state-machine", "--state-machine-arn", &version],
        ));
        assert_eq!(published["stateMachineArn"], version.as_str());
        assert_eq!(published["definition"], waits("new").as_str());
        assert_eq!(published["revisionId"], updated["revisionId"]);
    };
    check(&server);
    // The revision is durable: a restart does not lose it.
    server.kill9();
    let server = Server::start(&data, &[]);
    check(&server);

    // The waiting execution goes on with the old definition.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let body = r#"{"advanceSeconds": 3600}"#;
    let request = format!(
        "POST /sluice/clock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let done = wait_done(server.port, &execution, Duration::from_secs(10));
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["output"], "\"old\"");
}

const BOTO3_ALIASES: &str = r#"
definition = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}'

arn = sfn.create_state_machine(name="boto-alias", definition=definition, roleArn=role, publish=True)["stateMachineArn"]
v1 = arn + ":1"
aliases = []
for n in range(3):
    aliases.append(sfn.create_state_machine_alias(
        name=f"a{n}", description=f"alias {n}",
        routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}],
    )["stateMachineAliasArn"])
assert aliases == [f"{arn}:a{n}" for n in range(3)], aliases

# boto3 has no paginator for it: page by hand.
first = sfn.list_state_machine_aliases(stateMachineArn=arn, maxResults=2)
assert len(first["stateMachineAliases"]) == 2 and "nextToken" in first, first
rest = sfn.list_state_machine_aliases(stateMachineArn=arn, maxResults=2, nextToken=first["nextToken"])
assert "nextToken" not in rest, rest
listed = [a["stateMachineAliasArn"] for p in (first, rest) for a in p["stateMachineAliases"]]
assert listed == aliases, listed
assert all(a["creationDate"].year > 2000 for a in first["stateMachineAliases"]), first

d = sfn.describe_state_machine_alias(stateMachineAliasArn=aliases[1])
assert d["name"] == "a1" and d["description"] == "alias 1", d
assert d["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}], d

e = sfn.start_execution(stateMachineArn=aliases[1], name="via-alias")["executionArn"]
described = sfn.describe_execution(executionArn=e)
assert described["stateMachineAliasArn"] == aliases[1], described
assert described["stateMachineVersionArn"] == v1, described
assert described["stateMachineArn"] == arn, described
items = sfn.list_executions(stateMachineArn=aliases[1])["executions"]
assert [i["executionArn"] for i in items] == [e], items
assert items[0]["stateMachineAliasArn"] == aliases[1], items

try:
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    raise AssertionError("deleted a version an alias routes to")
except ClientError as error:
    assert error.response["Error"]["Code"] == "ConflictException", error.response
    assert "[a0, a1, a2]" in error.response["Error"]["Message"], error.response

for a in aliases:
    sfn.delete_state_machine_alias(stateMachineAliasArn=a)
assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []
sfn.delete_state_machine_version(stateMachineVersionArn=v1)
print("OK")
"#;

#[test]
fn boto3_aliases() {
    let dir = scratch("aliases-boto3");
    let server = Server::start(&dir, &[]);
    run_boto3(&server, BOTO3_ALIASES, &[]);
}
