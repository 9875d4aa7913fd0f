//! `sluice bench --events`: EventBridge through `sluice serve`. Closed-loop clients on
//! keep-alive connections, AWS JSON 1.1; each client has a rule of its own (matching its own
//! `source`) whose target is a queue of its own:
//!
//! - `put-events`: PutEvents of one entry (matched, its delivery durable before the answer),
//!   events per second;
//! - `put-events-10`: PutEvents of ten entries, events per second;
//! - `put-to-queue`: each client puts one event while a receiver of its own long-polls the
//!   target queue; the latency is from the put's start until the receiver has the message
//!   (PutEvents → rule → SQS target, end to end), one event at a time per client.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::{Connection, Endpoint};
use super::queues::{call as sqs, long_poll};
use super::{Args, Scratch, Settings, percentile, process, progress, secs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Put,
    Put10,
    PutToQueue,
}

impl Load {
    const ALL: [Self; 3] = [Self::Put, Self::Put10, Self::PutToQueue];

    fn name(self) -> &'static str {
        match self {
            Self::Put => "put-events",
            Self::Put10 => "put-events-10",
            Self::PutToQueue => "put-to-queue",
        }
    }
}

/// What one client did in the measured window: latencies, events, errors, the first error,
/// when its last measured step ended.
type ClientRun = (Vec<u64>, u64, u64, Option<String>, Instant);

struct Measured {
    events_per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    first_error: Option<String>,
}

/// One EventBridge call: the answer's JSON.
fn call(connection: &mut Connection, operation: &str, body: &Value) -> Result<Value, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    connection.json_operation(
        "events",
        "AWSEvents",
        "application/x-amz-json-1.1",
        operation,
        &body,
    )
}

/// A detail of about 256 bytes.
fn entry(source: &str, n: u64) -> Value {
    let detail = json!({"n": n, "tenant": "acme", "payload": "x".repeat(200)});
    json!({"Source": source, "DetailType": "bench", "Detail": detail.to_string()})
}

fn put(connection: &mut Connection, source: &str, count: u64) -> Result<u64, String> {
    let entries: Vec<Value> = (0..count).map(|n| entry(source, n)).collect();
    let out = call(connection, "PutEvents", &json!({"Entries": entries}))?;
    match out["FailedEntryCount"].as_u64() {
        Some(0) => Ok(count),
        _ => Err(format!("PutEvents failed entries: {out}")),
    }
}

/// A client's rule (matching `source`) with a queue of its own as the target: the queue's URL.
fn setup(connection: &mut Connection, name: &str, source: &str) -> Result<String, String> {
    let created = sqs(connection, "CreateQueue", &json!({"QueueName": name}))?;
    let url = created["QueueUrl"]
        .as_str()
        .ok_or("CreateQueue answered no QueueUrl")?
        .to_owned();
    let arn = format!("arn:aws:sqs:us-east-1:000000000000:{name}");
    let pattern = json!({"source": [source]}).to_string();
    call(
        connection,
        "PutRule",
        &json!({"Name": name, "EventPattern": pattern}),
    )?;
    call(
        connection,
        "PutTargets",
        &json!({"Rule": name, "Targets": [{"Id": "queue", "Arn": arn}]}),
    )?;
    Ok(url)
}

fn run(
    endpoint: &Endpoint,
    load: Load,
    settings: &Settings,
    run_id: &str,
) -> anyhow::Result<Measured> {
    let mut connection = Connection::new(endpoint);
    let mut clients = Vec::new();
    for client in 0..settings.clients {
        let name = format!("bench-{run_id}-{}-{client}", load.name());
        let source = format!("bench.{name}");
        let url = setup(&mut connection, &name, &source).map_err(anyhow::Error::msg)?;
        clients.push((source, url));
    }
    let begin = Instant::now();
    let measure_from = begin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let results: Vec<ClientRun> = std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .iter()
            .map(|(source, url)| {
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    // Targets of the puts-only loads fill up: a receiver drains them too.
                    let arrivals = long_poll(endpoint, url.clone(), deadline);
                    let (mut latencies, mut moved, mut errors, mut first_error) =
                        (Vec::new(), 0u64, 0u64, None);
                    let mut last_end = measure_from;
                    loop {
                        let start = Instant::now();
                        if start >= deadline {
                            break;
                        }
                        let outcome =
                            match load {
                                Load::Put => put(&mut connection, source, 1),
                                Load::Put10 => put(&mut connection, source, 10),
                                Load::PutToQueue => put(&mut connection, source, 1).and_then(|n| {
                                    arrivals.recv_timeout(Duration::from_secs(20)).map_err(
                                        |_| "the receiver got nothing within 20 s".to_owned(),
                                    )?;
                                    Ok(n)
                                }),
                            };
                        let end = Instant::now();
                        match outcome {
                            Ok(n) if start >= measure_from => {
                                latencies.push(end.duration_since(start).as_nanos() as u64);
                                moved += n;
                                last_end = end;
                            }
                            Ok(_) => {}
                            Err(error) => {
                                errors += 1;
                                first_error.get_or_insert(error);
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        if load != Load::PutToQueue {
                            // Only the end-to-end load waits for its arrivals.
                            while arrivals.try_recv().is_ok() {}
                        }
                    }
                    (latencies, moved, errors, first_error, last_end)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let end = results
        .iter()
        .map(|r| r.4)
        .max()
        .unwrap_or(deadline)
        .max(measure_from);
    let elapsed = end.duration_since(measure_from).as_secs_f64();
    let mut latencies: Vec<u64> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    latencies.sort_unstable();
    let moved: u64 = results.iter().map(|r| r.1).sum();
    Ok(Measured {
        events_per_second: if elapsed > 0.0 {
            moved as f64 / elapsed
        } else {
            0.0
        },
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        errors: results.iter().map(|r| r.2).sum(),
        first_error: results.iter().find_map(|r| r.3.clone()),
    })
}

pub fn main(_args: &Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let scratch = Scratch::new()?;
    let data_dir = scratch.path.join("data");
    std::fs::create_dir_all(&data_dir)?;
    progress(format_args!(
        "starting sluice serve --data-dir {}",
        data_dir.display()
    ));
    let sluice = process::start_sluice_with(&data_dir, &[] as &[&std::ffi::OsStr])?;
    let run_id = format!("{}", std::process::id());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "EventBridge: {} clients, {} warmup + {} per workload",
        settings.clients,
        secs(settings.warmup),
        secs(settings.duration),
    );
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>9} {:>9} {:>7}",
        "workload", "events/s", "p50", "p99", "errors"
    );
    for load in Load::ALL {
        progress(format_args!("sluice: {}", load.name()));
        let measured = run(&sluice.endpoint, load, settings, &run_id)?;
        let _ = writeln!(
            out,
            "{:<16} {:>10.0} {:>7.2}ms {:>7.2}ms {:>7}",
            load.name(),
            measured.events_per_second,
            measured.p50.as_secs_f64() * 1e3,
            measured.p99.as_secs_f64() * 1e3,
            measured.errors,
        );
        if let Some(error) = &measured.first_error {
            let _ = writeln!(out, "  first error: {error}");
        }
    }
    print!("{out}");
    drop(sluice);
    Ok(ExitCode::SUCCESS)
}
