//! `sluice bench --streams`: Kinesis through `sluice serve` (and, with `--moto` and
//! `--ministack`, those servers on the same workloads, for the ratios). Closed-loop clients on
//! keep-alive connections, AWS JSON 1.1 as the SDKs speak it, one stream of four shards per
//! workload, records of 1 KiB with random partition keys:
//!
//! - `put-record`: PutRecord, each durable before it is answered;
//! - `put-records-500`: PutRecords of 500 (records and MiB per second);
//! - `get-records`: one reader per shard drains what `put-records-500` wrote with GetRecords
//!   of up to 10,000 (records per second out);
//! - `put-to-reader`: one producer at a steady 1,000 records/s, one reader per shard polling
//!   GetRecords (1 ms pause when empty): the latency from the put's start until a reader has
//!   the record.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::http::{Connection, Endpoint};
use super::{Args, Scratch, Settings, percentile, process, progress, secs};

const SHARDS: u32 = 4;
/// PutRecords bodies prepared per workload (each with its own random partition keys).
const BODIES: usize = 32;
const RECORD_BYTES: usize = 1024;
/// The steady rate of `put-to-reader`.
const STEADY_RATE: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    PutRecord,
    PutRecords500,
    GetRecords,
    PutToReader,
}

impl Load {
    const ALL: [Self; 4] = [
        Self::PutRecord,
        Self::PutRecords500,
        Self::GetRecords,
        Self::PutToReader,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::PutRecord => "put-record",
            Self::PutRecords500 => "put-records-500",
            Self::GetRecords => "get-records",
            Self::PutToReader => "put-to-reader",
        }
    }
}

#[derive(Default)]
struct Measured {
    records_per_second: f64,
    mib_per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    first_error: Option<String>,
}

fn call(connection: &mut Connection, operation: &str, body: &Value) -> Result<Value, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    call_raw(connection, operation, &body)
}

/// [`call`] with the request body already encoded.
fn call_raw(connection: &mut Connection, operation: &str, body: &[u8]) -> Result<Value, String> {
    connection.json_operation(
        "kinesis",
        "Kinesis_20131202",
        "application/x-amz-json-1.1",
        operation,
        body,
    )
}

fn create(connection: &mut Connection, name: &str) -> Result<(), String> {
    call(
        connection,
        "CreateStream",
        &json!({"StreamName": name, "ShardCount": SHARDS}),
    )?;
    // Peers answer CREATING for a while.
    for _ in 0..200 {
        let described = call(
            connection,
            "DescribeStreamSummary",
            &json!({"StreamName": name}),
        )?;
        if described["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{name} never became ACTIVE"))
}

fn data(stamp: Option<u128>) -> String {
    let mut bytes = vec![b'x'; RECORD_BYTES];
    if let Some(stamp) = stamp {
        bytes[..16].copy_from_slice(&stamp.to_be_bytes());
    }
    STANDARD.encode(bytes)
}

fn key() -> String {
    format!("k{}", fastrand::u64(..))
}

fn run_put(
    endpoint: &Endpoint,
    stream: &str,
    batch: usize,
    settings: &Settings,
) -> Result<Measured, String> {
    let begin = Instant::now();
    let measure_from = begin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let payload = data(None);
    // PutRecords bodies are encoded once, so that the load generator (sharing the cores with
    // the server) spends its time sending rather than encoding 700 KB of JSON per request.
    let batches: Vec<Vec<u8>> = (0..BODIES)
        .map(|_| {
            let entries: Vec<Value> = (0..batch)
                .map(|_| json!({"Data": payload, "PartitionKey": key()}))
                .collect();
            serde_json::to_vec(&json!({"StreamName": stream, "Records": entries}))
                .unwrap_or_default()
        })
        .collect();
    let runs: Vec<(Vec<u64>, u64, u64, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..settings.clients)
            .map(|client| {
                let payload = &payload;
                let batches = &batches;
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    let mut next = client as usize;
                    let (mut latencies, mut records, mut errors, mut first) =
                        (Vec::new(), 0u64, 0u64, None);
                    loop {
                        let start = Instant::now();
                        if start >= deadline {
                            break;
                        }
                        let outcome = if batch == 1 {
                            call(
                                &mut connection,
                                "PutRecord",
                                &json!({"StreamName": stream, "Data": payload, "PartitionKey": key()}),
                            )
                        } else {
                            next = (next + 1) % batches.len();
                            call_raw(&mut connection, "PutRecords", &batches[next])
                            .and_then(|answer| match answer["FailedRecordCount"].as_u64() {
                                Some(0) | None => Ok(answer),
                                Some(n) => Err(format!("{n} records failed")),
                            })
                        };
                        let took = start.elapsed();
                        match outcome {
                            Ok(_) if start >= measure_from => {
                                latencies.push(took.as_nanos() as u64);
                                records += batch as u64;
                            }
                            Ok(_) => {}
                            Err(error) => {
                                errors += 1;
                                first.get_or_insert(error);
                                std::thread::sleep(Duration::from_millis(5));
                            }
                        }
                    }
                    (latencies, records, errors, first)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let elapsed = measure_from
        .elapsed()
        .as_secs_f64()
        .min(settings.duration.as_secs_f64() + 5.0);
    let mut latencies: Vec<u64> = runs.iter().flat_map(|r| r.0.iter().copied()).collect();
    latencies.sort_unstable();
    let records: u64 = runs.iter().map(|r| r.1).sum();
    Ok(Measured {
        records_per_second: records as f64 / elapsed,
        mib_per_second: records as f64 * RECORD_BYTES as f64 / elapsed / (1024.0 * 1024.0),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        errors: runs.iter().map(|r| r.2).sum(),
        first_error: runs.iter().find_map(|r| r.3.clone()),
    })
}

fn iterator(
    connection: &mut Connection,
    stream: &str,
    shard: u32,
    kind: &str,
) -> Result<String, String> {
    let answer = call(
        connection,
        "GetShardIterator",
        &json!({"StreamName": stream, "ShardId": format!("shardId-{shard:012}"), "ShardIteratorType": kind}),
    )?;
    answer["ShardIterator"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no ShardIterator".to_owned())
}

/// Every shard read from its start to its end, one reader per shard.
fn run_get(endpoint: &Endpoint, stream: &str) -> Result<Measured, String> {
    let start = Instant::now();
    let counts: Vec<Result<u64, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..SHARDS)
            .map(|shard| {
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    let mut it = iterator(&mut connection, stream, shard, "TRIM_HORIZON")?;
                    let mut count = 0u64;
                    loop {
                        let page = call(
                            &mut connection,
                            "GetRecords",
                            &json!({"ShardIterator": it, "Limit": 10000}),
                        )?;
                        let got = page["Records"].as_array().map_or(0, Vec::len) as u64;
                        count += got;
                        if got == 0 || page["MillisBehindLatest"].as_i64() == Some(0) && got < 10000
                        {
                            return Ok(count);
                        }
                        it = page["NextShardIterator"]
                            .as_str()
                            .ok_or("no NextShardIterator")?
                            .to_owned();
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a reader panicked".into())))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut total = 0;
    for count in counts {
        total += count?;
    }
    Ok(Measured {
        records_per_second: total as f64 / elapsed,
        mib_per_second: total as f64 * RECORD_BYTES as f64 / elapsed / (1024.0 * 1024.0),
        ..Measured::default()
    })
}

/// A steady producer and a polling reader per shard: put → read latency.
fn run_put_to_reader(
    endpoint: &Endpoint,
    stream: &str,
    settings: &Settings,
) -> Result<Measured, String> {
    let origin = Instant::now();
    let stop = AtomicBool::new(false);
    let measure_from = origin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let (latencies, errors) = std::thread::scope(|scope| -> Result<(Vec<u64>, u64), String> {
        let readers: Vec<_> = (0..SHARDS)
            .map(|shard| {
                let stop = &stop;
                scope.spawn(move || -> Result<Vec<u64>, String> {
                    let mut connection = Connection::new(endpoint);
                    let mut it = iterator(&mut connection, stream, shard, "LATEST")?;
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let page =
                            call(&mut connection, "GetRecords", &json!({"ShardIterator": it}))?;
                        let now = origin.elapsed().as_nanos();
                        let records = page["Records"].as_array().cloned().unwrap_or_default();
                        for record in &records {
                            let bytes = STANDARD
                                .decode(record["Data"].as_str().unwrap_or_default())
                                .unwrap_or_default();
                            if bytes.len() >= 16 {
                                let sent =
                                    u128::from_be_bytes(bytes[..16].try_into().unwrap_or_default());
                                seen.push((sent, now));
                            }
                        }
                        it = page["NextShardIterator"]
                            .as_str()
                            .ok_or("no NextShardIterator")?
                            .to_owned();
                        if records.is_empty() {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    let from = (measure_from - origin).as_nanos();
                    Ok(seen
                        .into_iter()
                        .filter(|(sent, _)| *sent >= from)
                        .map(|(sent, got)| (got - sent) as u64)
                        .collect())
                })
            })
            .collect();
        let mut connection = Connection::new(endpoint);
        let mut errors = 0;
        let interval = Duration::from_nanos(1_000_000_000 / STEADY_RATE);
        let mut next = Instant::now();
        while Instant::now() < deadline {
            let sent = origin.elapsed().as_nanos();
            if call(
                &mut connection,
                "PutRecord",
                &json!({"StreamName": stream, "Data": data(Some(sent)), "PartitionKey": key()}),
            )
            .is_err()
            {
                errors += 1;
            }
            next += interval;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for reader in readers {
            latencies.extend(
                reader
                    .join()
                    .unwrap_or_else(|_| Err("a reader panicked".into()))?,
            );
        }
        Ok((latencies, errors))
    })?;
    let mut latencies = latencies;
    latencies.sort_unstable();
    Ok(Measured {
        records_per_second: latencies.len() as f64 / settings.duration.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        errors,
        ..Measured::default()
    })
}

fn run(
    endpoint: &Endpoint,
    load: Load,
    settings: &Settings,
    run_id: &str,
) -> Result<Measured, String> {
    let mut setup = Connection::new(endpoint);
    let stream = format!("bench-{run_id}-{}", load.name());
    match load {
        Load::PutRecord => {
            create(&mut setup, &stream)?;
            run_put(endpoint, &stream, 1, settings)
        }
        Load::PutRecords500 => {
            create(&mut setup, &stream)?;
            run_put(endpoint, &stream, 500, settings)
        }
        // What put-records-500 wrote.
        Load::GetRecords => run_get(endpoint, &format!("bench-{run_id}-put-records-500")),
        Load::PutToReader => {
            create(&mut setup, &stream)?;
            run_put_to_reader(endpoint, &stream, settings)
        }
    }
}

pub fn main(args: &Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let scratch = Scratch::new()?;
    let data_dir = scratch.path.join("data");
    std::fs::create_dir_all(&data_dir)?;
    progress(format_args!(
        "starting sluice serve --data-dir {}",
        data_dir.display()
    ));
    let sluice = process::start_sluice_with(&data_dir, &[] as &[&OsStr])?;
    let run_id = format!("{}", std::process::id());
    let (peers, notes) = super::queues::start_peers(args);
    let mut rows = Vec::new();
    for load in Load::ALL {
        progress(format_args!("sluice: {}", load.name()));
        let ours =
            run(&sluice.endpoint, load, settings, &run_id).unwrap_or_else(|error| Measured {
                errors: 1,
                first_error: Some(error),
                ..Measured::default()
            });
        let mut theirs = Vec::new();
        for (name, server) in &peers {
            theirs.push(server.as_ref().ok().and_then(|server| {
                progress(format_args!("{name}: {}", load.name()));
                match run(&server.endpoint, load, settings, &run_id) {
                    Ok(measured) => Some(measured),
                    Err(error) => {
                        progress(format_args!("{name}: {} failed: {error}", load.name()));
                        None
                    }
                }
            }));
        }
        rows.push((load, ours, theirs));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Kinesis: {} clients, {SHARDS} shards, {RECORD_BYTES}-byte records, {} warmup + {} per workload{}",
        settings.clients,
        secs(settings.warmup),
        secs(settings.duration),
        if notes.is_empty() {
            String::new()
        } else {
            format!("; {}", notes.join("; "))
        }
    );
    let _ = write!(
        out,
        "{:<16} {:>11} {:>8} {:>9} {:>9} {:>7}",
        "workload", "records/s", "MiB/s", "p50", "p99", "errors"
    );
    for (name, _) in &peers {
        let _ = write!(
            out,
            " {:>15} {:>10}",
            format!("{name} rec/s"),
            format!("×{name}")
        );
    }
    let _ = writeln!(out);
    for (load, ours, theirs) in &rows {
        let _ = write!(
            out,
            "{:<16} {:>11.0} {:>8.1} {:>7.2}ms {:>7.2}ms {:>7}",
            load.name(),
            ours.records_per_second,
            ours.mib_per_second,
            ours.p50.as_secs_f64() * 1e3,
            ours.p99.as_secs_f64() * 1e3,
            ours.errors
        );
        for measured in theirs {
            let (rate, ratio) = match measured {
                Some(t) if t.records_per_second > 0.0 => (
                    format!("{:.0}", t.records_per_second),
                    if *load == Load::PutToReader {
                        format!("p99 {:.0}ms", t.p99.as_secs_f64() * 1e3)
                    } else {
                        format!("{:.0}×", ours.records_per_second / t.records_per_second)
                    },
                ),
                _ => ("-".into(), "-".into()),
            };
            let _ = write!(out, " {rate:>15} {ratio:>10}");
        }
        let _ = writeln!(out);
        if let Some(error) = &ours.first_error {
            let _ = writeln!(out, "  first error: {error}");
        }
    }
    print!("{out}");
    drop(sluice);
    Ok(ExitCode::SUCCESS)
}
