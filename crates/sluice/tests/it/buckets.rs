//! S3 buckets on `sluice serve`, through the `aws` CLI and boto3 with its 2025 default
//! checksums: objects and their headers, ranges, conditions, copies, listings, multipart uploads
//! with AWS's ETags and checksums, presigned URLs, virtual-hosted addressing, AWS's errors, and
//! acknowledged PUTs surviving `kill -9` whole.

use crate::common::*;

/// The S3 client and helpers every script shares.
const PRELUDE: &str = r#"
import os, io, json, hashlib, base64, time, urllib.request, urllib.error, zlib
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint = os.environ["ENDPOINT"]
def client(**config):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                        aws_secret_access_key="any-secret", config=Config(retries={"total_max_attempts": 1}, **config))
s3 = client()
def error(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message"), e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call} succeeded")
"#;

fn run(server: &Server, script: &str) {
    run_boto3(server, &format!("{PRELUDE}{script}"), &[]);
}

fn s3(server: &Server, args: &[&str]) -> std::process::Output {
    sluice_test_util::aws_cli(&server.endpoint(), "s3", args)
}

fn s3api(server: &Server, args: &[&str]) -> serde_json::Value {
    ok_json(&sluice_test_util::aws_cli(
        &server.endpoint(),
        "s3api",
        args,
    ))
}

fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "aws failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn default_checksums_are_verified_stored_and_returned() {
    let server = Server::start(&scratch("buckets-checksums"), &[]);
    run(&server, include_str!("buckets/checksums.py"));
}

#[test]
fn objects_keep_their_headers_and_answer_ranges_conditions_copies_and_listings() {
    let server = Server::start(&scratch("buckets-objects"), &[]);
    run(&server, include_str!("buckets/objects.py"));
}

#[test]
fn multipart_uploads_complete_with_aws_etags_and_checksums() {
    let server = Server::start(&scratch("buckets-multipart"), &[]);
    run(&server, include_str!("buckets/multipart.py"));
}

#[test]
fn notifications_reach_queues_topics_and_event_buses_filtered_in_aws_shape() {
    let server = Server::start(&scratch("buckets-notifications"), &[]);
    run(&server, include_str!("buckets/notifications.py"));
}

#[test]
fn state_machines_read_write_and_list_objects_through_sdk_tasks() {
    let server = Server::start(&scratch("buckets-sdk"), &[]);
    run(&server, include_str!("buckets/sdk_tasks.py"));
}

#[test]
fn functions_take_code_from_buckets_and_bucket_events_invoke_them() {
    let python = venv().join("bin/python").display().to_string();
    let server = Server::start(&scratch("buckets-functions"), &["--python", &python]);
    run(&server, include_str!("buckets/functions.py"));
}

#[test]
fn distributed_maps_read_csv_json_lines_and_listings_and_write_results() {
    let server = Server::start(&scratch("buckets-dmap"), &[]);
    run(&server, include_str!("buckets/distributed_map.py"));
}

#[test]
fn aws_chunked_bodies_decode_with_their_trailers_and_truncated_ones_store_nothing() {
    let server = Server::start(&scratch("buckets-chunked"), &[]);
    run(&server, include_str!("buckets/aws_chunked.py"));
}

/// The JavaScript SDK v3 with its default checksums (a stream body goes as aws-chunked with a
/// trailing checksum; reads are checked against the returned checksum).
#[test]
fn the_javascript_sdk_puts_streams_and_uploads_in_parts() {
    let server = Server::start(&scratch("buckets-js"), &[]);
    let clients = std::env::var_os("SLUICE_NODE_CLIENTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/sluice-node")
        });
    assert!(
        clients.join("node_modules/@aws-sdk/client-s3").is_dir(),
        "the JavaScript SDK is not installed in {}: run scripts/test",
        clients.display()
    );
    // Inside the clients' folder, so that its imports resolve.
    let script = clients.join(format!("buckets-{}.mjs", std::process::id()));
    std::fs::write(&script, include_str!("buckets/js_sdk.mjs")).unwrap();
    let output = std::process::Command::new("node")
        .arg(&script)
        .env("ENDPOINT", server.endpoint())
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&script);
    assert!(
        output.status.success(),
        "node failed:\n{}\n{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "OK");
}

/// A machine tagged for large payloads carries a 1.4 MB object through a Task, a function, a
/// Choice and a Wait; a `kill -9` during the Wait resumes it from a snapshot kept in the payload
/// bucket; describe and history show the payloads whole. Untagged, the quota holds.
#[test]
fn large_payloads_pass_by_reference_through_a_restart() {
    let dir = scratch("buckets-large");
    let python = venv().join("bin/python").display().to_string();
    let args = ["--python", python.as_str()];
    let env = [("SLUICE__LARGE_PAYLOADS__ENABLED", "true")];
    let mut server = Server::start_with_env(&dir.join("data"), &args, &env);
    let marker = dir.join("execution");
    let marker = marker.to_str().unwrap();
    run_boto3(
        &server,
        &format!("{PRELUDE}{}", include_str!("buckets/large_payloads.py")),
        &[("MARKER", marker)],
    );
    server.kill9();
    let server = Server::start_with_env(&dir.join("data"), &args, &env);
    run_boto3(
        &server,
        &format!(
            "{PRELUDE}{}",
            include_str!("buckets/large_payloads_after.py")
        ),
        &[("MARKER", marker)],
    );
}

#[test]
fn versioned_buckets_keep_versions_and_delete_markers() {
    let server = Server::start(&scratch("buckets-versioning"), &[]);
    run(&server, include_str!("buckets/versioning.py"));
}

#[test]
fn the_aws_cli_copies_syncs_lists_and_removes() {
    let dir = scratch("buckets-cli");
    let server = Server::start(&dir.join("data"), &[]);
    let local = dir.join("local");
    std::fs::create_dir_all(local.join("nested/deeper")).unwrap();
    // 20 MB: above the CLI's 8 MB threshold, so `cp` uploads it in parts.
    let big: Vec<u8> = (0..20_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(local.join("big.bin"), &big).unwrap();
    std::fs::write(local.join("a.txt"), "alpha").unwrap();
    std::fs::write(local.join("nested/b.txt"), "beta").unwrap();
    std::fs::write(local.join("nested/deeper/c.txt"), "gamma").unwrap();

    ok(s3(&server, &["mb", "s3://cli-bucket"]));
    let local_str = local.to_str().unwrap();
    ok(s3(
        &server,
        &[
            "cp",
            &format!("{local_str}/big.bin"),
            "s3://cli-bucket/big.bin",
        ],
    ));
    let head = s3api(
        &server,
        &["head-object", "--bucket", "cli-bucket", "--key", "big.bin"],
    );
    assert_eq!(head["ContentLength"], 20_000_000);
    assert!(
        head["ETag"].as_str().unwrap().ends_with("-3\""),
        "the CLI uploads 20 MB in three 8 MB parts: {head}"
    );
    let back = dir.join("big.back");
    ok(s3(
        &server,
        &["cp", "s3://cli-bucket/big.bin", back.to_str().unwrap()],
    ));
    assert!(std::fs::read(&back).unwrap() == big, "the download differs");

    let synced = ok(s3(&server, &["sync", local_str, "s3://cli-bucket/tree"]));
    assert_eq!(synced.matches("upload:").count(), 4, "{synced}");
    // A second sync has nothing to do: sizes and times match.
    let again = ok(s3(&server, &["sync", local_str, "s3://cli-bucket/tree"]));
    assert!(!again.contains("upload:"), "{again}");
    let listed = ok(s3(&server, &["ls", "--recursive", "s3://cli-bucket/tree/"]));
    for key in [
        "tree/a.txt",
        "tree/big.bin",
        "tree/nested/b.txt",
        "tree/nested/deeper/c.txt",
    ] {
        assert!(listed.contains(key), "{key} missing from:\n{listed}");
    }
    let top = ok(s3(&server, &["ls", "s3://cli-bucket/tree/"]));
    assert!(
        top.contains("PRE nested/") && top.contains("a.txt"),
        "{top}"
    );
    let down = dir.join("down");
    ok(s3(
        &server,
        &["sync", "s3://cli-bucket/tree", down.to_str().unwrap()],
    ));
    assert_eq!(
        std::fs::read_to_string(down.join("nested/deeper/c.txt")).unwrap(),
        "gamma"
    );

    let v2 = s3api(
        &server,
        &[
            "list-objects-v2",
            "--no-paginate",
            "--bucket",
            "cli-bucket",
            "--prefix",
            "tree/",
            "--delimiter",
            "/",
        ],
    );
    assert_eq!(v2["CommonPrefixes"][0]["Prefix"], "tree/nested/");
    assert_eq!(v2["KeyCount"], 3);

    let failed = s3(&server, &["rb", "s3://cli-bucket"]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("BucketNotEmpty"));
    let removed = ok(s3(&server, &["rm", "--recursive", "s3://cli-bucket"]));
    assert_eq!(removed.matches("delete:").count(), 5, "{removed}");
    ok(s3(&server, &["rb", "s3://cli-bucket"]));
    let missing = sluice_test_util::aws_cli(
        &server.endpoint(),
        "s3api",
        &["head-bucket", "--bucket", "cli-bucket"],
    );
    assert!(!missing.status.success());
}

/// PUTs from several clients while the server is killed at random points: every PUT that
/// was acknowledged is there after the restart, whole, with its ETag; none is half there; and
/// each one's notification reached the queue (at least once: duplicates are counted).
#[test]
fn acknowledged_puts_survive_kill_9_whole() {
    let dir = scratch("buckets-crash");
    let acked = dir.join("acked.jsonl");
    let mut server = Server::start(&dir.join("data"), &[]);
    run(
        &server,
        r#"s3.create_bucket(Bucket="crash")
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="created")["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(Bucket="crash", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
print("OK")"#,
    );
    let writer = r#"
import threading, sys
acked = open(os.environ["ACKED"], "a")
lock = threading.Lock()
def put(worker):
    c = client()
    i = 0
    while True:
        # Small objects live in the store, large ones in files: both kinds are written.
        size = 200 if i % 3 else 300_000
        key = f"w{worker}-{os.getpid()}-{i}"
        body = hashlib.sha256(key.encode()).digest() * (size // 32)
        try:
            etag = c.put_object(Bucket="crash", Key=key, Body=body)["ETag"]
        except Exception:
            return
        with lock:
            acked.write(json.dumps({"key": key, "size": len(body), "etag": etag}) + "\n")
            acked.flush()
        i += 1
threads = [threading.Thread(target=put, args=(w,)) for w in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("OK")
"#;
    for round in 0..4u64 {
        let script =
            std::env::temp_dir().join(format!("sluice-s3-crash-{}-{round}.py", std::process::id()));
        std::fs::write(&script, format!("{PRELUDE}{writer}")).unwrap();
        let mut command = std::process::Command::new(venv().join("bin/python"));
        client_env(&mut command)
            .arg(&script)
            .env("ENDPOINT", server.endpoint())
            .env("ACKED", &acked)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = command.spawn().expect("run the writers");
        std::thread::sleep(std::time::Duration::from_millis(800 + fastrand::u64(..700)));
        server.kill9();
        let _ = child.wait();
        let _ = std::fs::remove_file(&script);
        server = Server::start(&dir.join("data"), &[]);
    }
    let lines = std::fs::read_to_string(&acked).unwrap();
    let count = lines.lines().count();
    assert!(
        count > 20,
        "too few PUTs were acknowledged to test anything: {count}"
    );
    let check = r#"
import sys
lost, wrong = [], []
for line in open(os.environ["ACKED"]):
    want = json.loads(line)
    try:
        got = s3.get_object(Bucket="crash", Key=want["key"])
    except ClientError:
        lost.append(want["key"])
        continue
    body = got["Body"].read()
    expected = hashlib.sha256(want["key"].encode()).digest() * (want["size"] // 32)
    if body != expected or got["ETag"] != want["etag"]:
        wrong.append(want["key"])
# Every object listed is whole too (unacknowledged ones may or may not be there).
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
    for o in page.get("Contents", []):
        body = s3.get_object(Bucket="crash", Key=o["Key"])["Body"].read()
        if hashlib.md5(body).hexdigest() != o["ETag"].strip('"'):
            wrong.append(o["Key"])
assert not lost and not wrong, (lost[:5], wrong[:5])
# Every acknowledged PUT was notified (its notice is committed with the object).
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
url = sqs.get_queue_url(QueueName="created")["QueueUrl"]
seen, deadline = {}, time.time() + 30
acked_keys = {json.loads(line)["key"] for line in open(os.environ["ACKED"])}
while time.time() < deadline and not acked_keys <= seen.keys():
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        body = json.loads(m["Body"])
        for r in body.get("Records", []):
            seen[r["s3"]["object"]["key"]] = seen.get(r["s3"]["object"]["key"], 0) + 1
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
missing = acked_keys - seen.keys()
assert not missing, sorted(missing)[:5]
print("notified", len(acked_keys), "duplicates", sum(n - 1 for n in seen.values()), file=sys.stderr)
print("OK")
"#;
    let acked_str = acked.to_str().unwrap().to_owned();
    run_boto3(
        &server,
        &format!("{PRELUDE}{check}"),
        &[("ACKED", &acked_str)],
    );
    eprintln!("{count} acknowledged PUTs checked after 4 kills: 0 lost");
}
