//! `sluice bench --mappings`: queue → event-source mapping → Python function, events per
//! second, with batch sizes 1 and 10.
//!
//! For each batch size: a queue is filled with `--messages` messages (SendMessageBatch from
//! `--clients` clients) while its mapping is disabled, then the mapping is enabled and the
//! bench times how long the pollers take to deliver and delete them (the mappings' counters,
//! `GET /sluice/mappings`), at most `--duration` seconds. The function is a Python no-op on
//! awslambdaric with `--pool` workers reserved: the mapping scales its pollers up to them.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};

use super::http::{Connection, Endpoint};
use super::{Args, Scratch, Settings, cpu_seconds, one_line, percentile, process, progress, secs};

const LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/sluice-bench";
const FUNCTION: &str = "bench-esm-sink";
/// Counts the records: what a consumer does least.
const SINK: &str = "def handler(event, context):\n    return {\"n\": len(event[\"Records\"])}\n";
const BODY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Measured {
    batch_size: u32,
    delivered: u64,
    elapsed: Duration,
    batches: u64,
    peak_pollers: u64,
    server_cpu: Option<f64>,
}

fn ok_json(response: std::io::Result<super::http::Response>, what: &str) -> anyhow::Result<Value> {
    let response = response.with_context(|| format!("{what}: no answer"))?;
    if !(200..300).contains(&response.status) {
        bail!(
            "{what}: HTTP {}: {}",
            response.status,
            one_line(&response.body)
        );
    }
    if response.body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&response.body).with_context(|| format!("{what}: not JSON"))
}

fn sqs(connection: &mut Connection, operation: &str, body: &Value) -> anyhow::Result<Value> {
    let bytes = serde_json::to_vec(body)?;
    ok_json(
        connection.call_service("sqs", &format!("AmazonSQS.{operation}"), &bytes),
        operation,
    )
}

fn lambda(
    connection: &mut Connection,
    method: &str,
    path: &str,
    body: &Value,
    what: &str,
) -> anyhow::Result<Value> {
    let bytes = serde_json::to_vec(body)?;
    ok_json(
        connection.request(method, path, "application/json", &bytes),
        what,
    )
}

fn create_function(connection: &mut Connection, workers: u32) -> anyhow::Result<()> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    writer.start_file("sink.py", options)?;
    writer.write_all(SINK.as_bytes())?;
    let zip = writer.finish()?.into_inner();
    lambda(
        connection,
        "POST",
        "/2015-03-31/functions",
        &json!({
            "FunctionName": FUNCTION,
            "Runtime": "python3.12",
            "Handler": "sink.handler",
            "Role": LAMBDA_ROLE,
            "Timeout": 30,
            "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
        }),
        "CreateFunction",
    )?;
    lambda(
        connection,
        "PUT",
        &format!("/2017-10-31/functions/{FUNCTION}/concurrency"),
        &json!({ "ReservedConcurrentExecutions": workers }),
        "PutFunctionConcurrency",
    )?;
    Ok(())
}

/// Fills `queue` with `messages` messages from `clients` clients in batches of ten.
fn fill(endpoint: &Endpoint, queue: &str, messages: u64, clients: u32) -> anyhow::Result<()> {
    let batches = messages.div_ceil(10);
    let per_client = batches.div_ceil(u64::from(clients));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..u64::from(clients))
            .map(|client| {
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut connection = Connection::new(endpoint);
                    let first = client * per_client;
                    for batch in first..(first + per_client).min(batches) {
                        let n = (messages - batch * 10).min(10);
                        let entries: Vec<Value> = (0..n)
                            .map(|i| json!({"Id": i.to_string(), "MessageBody": BODY}))
                            .collect();
                        sqs(
                            &mut connection,
                            "SendMessageBatch",
                            &json!({"QueueUrl": queue, "Entries": entries}),
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a filling client panicked"))??;
        }
        Ok(())
    })
}

/// The mapping's counters from `/sluice/mappings`.
fn counters(connection: &mut Connection, uuid: &str) -> anyhow::Result<Value> {
    let all = ok_json(
        connection.request("GET", "/sluice/mappings", "application/json", b""),
        "GET /sluice/mappings",
    )?;
    all["mappings"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["uuid"] == uuid))
        .cloned()
        .context("the mapping is not in /sluice/mappings")
}

fn run(
    endpoint: &Endpoint,
    pid: Option<u32>,
    batch_size: u32,
    messages: u64,
    settings: &Settings,
) -> anyhow::Result<Measured> {
    let mut admin = Connection::new(endpoint);
    let name = format!("bench-esm-{}-{batch_size}", std::process::id());
    let queue = sqs(&mut admin, "CreateQueue", &json!({"QueueName": name}))?["QueueUrl"]
        .as_str()
        .context("CreateQueue answered no QueueUrl")?
        .to_owned();
    let arn = sqs(
        &mut admin,
        "GetQueueAttributes",
        &json!({"QueueUrl": queue, "AttributeNames": ["QueueArn"]}),
    )?["Attributes"]["QueueArn"]
        .as_str()
        .context("no QueueArn")?
        .to_owned();
    let mapping = lambda(
        &mut admin,
        "POST",
        "/2015-03-31/event-source-mappings/",
        &json!({
            "FunctionName": FUNCTION,
            "EventSourceArn": arn,
            "BatchSize": batch_size,
            "Enabled": false,
        }),
        "CreateEventSourceMapping",
    )?;
    let uuid = mapping["UUID"].as_str().context("no UUID")?.to_owned();
    progress(format_args!(
        "batch {batch_size}: filling the queue with {messages} messages"
    ));
    fill(endpoint, &queue, messages, settings.clients)?;
    let cpu_before = cpu_seconds(pid);
    let begin = Instant::now();
    lambda(
        &mut admin,
        "PUT",
        &format!("/2015-03-31/event-source-mappings/{uuid}"),
        &json!({"Enabled": true}),
        "UpdateEventSourceMapping",
    )?;
    let deadline = begin + settings.duration;
    let mut stats;
    loop {
        stats = counters(&mut admin, &uuid)?;
        if stats["deleted"].as_u64().unwrap_or(0) >= messages || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = begin.elapsed();
    let server_cpu = match (cpu_before, cpu_seconds(pid)) {
        (Some(a), Some(b)) => Some((b - a) / elapsed.as_secs_f64()),
        _ => None,
    };
    lambda(
        &mut admin,
        "DELETE",
        &format!("/2015-03-31/event-source-mappings/{uuid}"),
        &json!({}),
        "DeleteEventSourceMapping",
    )?;
    Ok(Measured {
        batch_size,
        delivered: stats["deleted"].as_u64().unwrap_or(0),
        elapsed,
        batches: stats["batches"].as_u64().unwrap_or(0),
        peak_pollers: stats["peakPollers"].as_u64().unwrap_or(0),
        server_cpu,
    })
}

pub(super) fn main(args: &Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let scratch = Scratch::new()?;
    let python = match &args.python {
        Some(python) => python.clone(),
        None => process::venv_dir()?.join("bin").join("python"),
    };
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => scratch.path.join("data"),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let config = scratch.path.join("sluice.toml");
    // Workers stay up between the two workloads.
    std::fs::write(&config, "[functions]\nidle-timeout-seconds = 3600\n")
        .with_context(|| format!("cannot write {}", config.display()))?;
    progress(format_args!(
        "starting sluice serve --data-dir {} --python {}",
        data_dir.display(),
        python.display()
    ));
    let server = process::start_sluice_with(
        &data_dir,
        &[
            OsStr::new("--python"),
            python.as_os_str(),
            OsStr::new("--config"),
            config.as_os_str(),
        ],
    )?;
    let endpoint = server.endpoint.clone();
    let mut admin = Connection::new(&endpoint);
    create_function(&mut admin, args.pool)?;
    let mut rows = Vec::new();
    for batch_size in [1, 10] {
        progress(format_args!(
            "sluice: queue → mapping → function, batch {batch_size}"
        ));
        rows.push(run(
            &endpoint,
            Some(server.pid()),
            batch_size,
            args.messages,
            settings,
        )?);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "queue → event-source mapping → Python function ({} workers): {} messages per batch size, at most {}",
        args.pool,
        args.messages,
        secs(settings.duration)
    );
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>9} {:>10} {:>9} {:>8} {:>11}",
        "batch size", "events/s", "events", "time", "batches", "pollers", "server CPU"
    );
    for row in &rows {
        let rate = row.delivered as f64 / row.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "{:<12} {:>10.0} {:>9} {:>9.2}s {:>9} {:>8} {:>11}",
            row.batch_size,
            rate,
            row.delivered,
            row.elapsed.as_secs_f64(),
            row.batches,
            row.peak_pollers,
            row.server_cpu
                .map_or_else(|| "-".to_owned(), |c| format!("{:.0}%", c * 100.0)),
        );
        if row.delivered < args.messages {
            let _ = writeln!(
                out,
                "  only {} of {} messages delivered within {}",
                row.delivered,
                args.messages,
                secs(settings.duration)
            );
        }
    }
    progress(format_args!(
        "sluice: stream → mapping → function at {STREAM_RATE} records/s"
    ));
    let latency = stream_latency(&endpoint, &scratch.path, settings)?;
    let _ = writeln!(
        out,
        "stream (4 shards) → mapping (window 0) → Python function at {STREAM_RATE} records/s: \
         {} of {} records, put → handler p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latency.delivered,
        latency.sent,
        latency.p50.as_secs_f64() * 1e3,
        latency.p99.as_secs_f64() * 1e3,
        latency.max.as_secs_f64() * 1e3,
    );
    print!("{out}");
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// Records per second of the stream latency workload.
const STREAM_RATE: u64 = 1000;
const STREAM_FUNCTION: &str = "bench-stream-sink";
/// Writes each record's stamp (when it was put, ns since the epoch) and when the handler got
/// it.
const STREAM_SINK: &str = r#"import base64, os, time
def handler(event, context):
    now = time.time_ns()
    with open(os.environ['OUT'], 'a') as f:
        for r in event['Records']:
            f.write(base64.b64decode(r['kinesis']['data']).decode() + ' ' + str(now) + '\n')
"#;

struct StreamLatency {
    sent: u64,
    delivered: u64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn epoch_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn kinesis(connection: &mut Connection, operation: &str, body: &Value) -> anyhow::Result<Value> {
    let bytes = serde_json::to_vec(body)?;
    ok_json(
        connection.call_json(
            "kinesis",
            &format!("Kinesis_20131202.{operation}"),
            "application/x-amz-json-1.1",
            &bytes,
        ),
        operation,
    )
}

/// PutRecord at a steady rate into a stream whose mapping (window 0) feeds a Python function
/// that notes when each record reached it: the latency from the put to the handler.
fn stream_latency(
    endpoint: &Endpoint,
    scratch: &std::path::Path,
    settings: &Settings,
) -> anyhow::Result<StreamLatency> {
    let out = scratch.join("stream-latency.txt");
    let mut admin = Connection::new(endpoint);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
    writer.start_file("sink.py", options)?;
    writer.write_all(STREAM_SINK.as_bytes())?;
    let zip = writer.finish()?.into_inner();
    lambda(
        &mut admin,
        "POST",
        "/2015-03-31/functions",
        &json!({
            "FunctionName": STREAM_FUNCTION,
            "Runtime": "python3.12",
            "Handler": "sink.handler",
            "Role": LAMBDA_ROLE,
            "Environment": {"Variables": {"OUT": out.display().to_string()}},
            "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
        }),
        "CreateFunction",
    )?;
    kinesis(
        &mut admin,
        "CreateStream",
        &json!({"StreamName": "bench-latency", "ShardCount": 4}),
    )?;
    let described = kinesis(
        &mut admin,
        "DescribeStreamSummary",
        &json!({"StreamName": "bench-latency"}),
    )?;
    let arn = described["StreamDescriptionSummary"]["StreamARN"]
        .as_str()
        .context("no StreamARN")?
        .to_owned();
    lambda(
        &mut admin,
        "POST",
        "/2015-03-31/event-source-mappings/",
        &json!({"FunctionName": STREAM_FUNCTION, "EventSourceArn": arn,
                "StartingPosition": "TRIM_HORIZON", "BatchSize": 100}),
        "CreateEventSourceMapping",
    )?;
    let interval = Duration::from_nanos(1_000_000_000 / STREAM_RATE);
    let warm_until = Instant::now() + settings.warmup;
    let deadline = warm_until + settings.duration;
    let mut next = Instant::now();
    let mut sent = 0u64;
    let mut measured_from = None;
    while Instant::now() < deadline {
        let stamp = epoch_ns();
        if Instant::now() >= warm_until {
            measured_from.get_or_insert(stamp);
        }
        let data = base64::engine::general_purpose::STANDARD.encode(stamp.to_string());
        kinesis(
            &mut admin,
            "PutRecord",
            &json!({"StreamName": "bench-latency", "Data": data, "PartitionKey": format!("k{}", fastrand::u32(..))}),
        )?;
        sent += 1;
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let measured_from = measured_from.unwrap_or(0);
    let read = || -> Vec<(u128, u128)> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (put, got) = line.split_once(' ')?;
                Some((put.parse().ok()?, got.parse().ok()?))
            })
            .collect()
    };
    let settle = Instant::now() + Duration::from_secs(10);
    while (read().len() as u64) < sent && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = read();
    let mut latencies: Vec<u64> = all
        .iter()
        .filter(|(put, _)| *put >= measured_from)
        .map(|(put, got)| got.saturating_sub(*put) as u64)
        .collect();
    latencies.sort_unstable();
    Ok(StreamLatency {
        sent,
        delivered: all.len() as u64,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        max: Duration::from_nanos(latencies.last().copied().unwrap_or_default()),
    })
}
