//! `sluice bench --buckets`: S3 through `sluice serve` (and, with `--moto` and `--ministack`,
//! those servers on the same workloads, for the ratios). Closed-loop clients on keep-alive
//! connections, path-style requests with an unsigned payload:
//!
//! - `put-1k`, `put-1m`: PutObject of 1 KiB and 1 MiB, each durable before it is answered,
//!   to random keys;
//! - `get-1k`, `get-1m`: GetObject of objects the PUTs wrote;
//! - `list-objects`: ListObjectsV2 pages of 1,000 over a bucket of `--objects` keys (keys
//!   listed per second, and the time of one whole listing);
//! - `put-to-queue`: one producer at a steady 200 PUTs/s into a bucket whose notification
//!   configuration sends ObjectCreated events to a queue, one consumer long-polling it: the
//!   latency from the PUT's start until the consumer has the event.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http::{Connection, Endpoint};
use super::{Args, Scratch, Settings, percentile, process, progress, secs};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// Keys each GET workload reads from (written before it is measured).
const GET_KEYS: usize = 200;
/// The steady rate of `put-to-queue`.
const STEADY_RATE: u64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Put1k,
    Put1m,
    Get1k,
    Get1m,
    List,
    PutToQueue,
}

impl Load {
    const ALL: [Self; 6] = [
        Self::Put1k,
        Self::Put1m,
        Self::Get1k,
        Self::Get1m,
        Self::List,
        Self::PutToQueue,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Put1k => "put-1k",
            Self::Put1m => "put-1m",
            Self::Get1k => "get-1k",
            Self::Get1m => "get-1m",
            Self::List => "list-objects",
            Self::PutToQueue => "put-to-queue",
        }
    }
}

#[derive(Default)]
struct Measured {
    per_second: f64,
    mib_per_second: f64,
    p50: Duration,
    p99: Duration,
    /// `list-objects`: one whole listing.
    whole: Option<Duration>,
    errors: u64,
    first_error: Option<String>,
}

fn ok(response: std::io::Result<super::http::Response>, what: &str) -> Result<Vec<u8>, String> {
    match response {
        Ok(r) if (200..300).contains(&r.status) => Ok(r.body),
        Ok(r) => Err(format!(
            "{what}: HTTP {} {}",
            r.status,
            super::one_line(&r.body)
        )),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

fn sqs(connection: &mut Connection, operation: &str, body: &Value) -> Result<Value, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    connection.json_operation(
        "sqs",
        "AmazonSQS",
        "application/x-amz-json-1.0",
        operation,
        &body,
    )
}

/// Closed-loop clients doing `request(connection, i)` until the deadline: per-request
/// latencies measured after the warmup, and errors.
fn closed_loop(
    endpoint: &Endpoint,
    settings: &Settings,
    request: impl Fn(&mut Connection, u64) -> Result<(), String> + Sync,
) -> (Vec<u64>, u64, Option<String>) {
    let begin = Instant::now();
    let measure_from = begin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let runs: Vec<(Vec<u64>, u64, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..settings.clients)
            .map(|client| {
                let request = &request;
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    let (mut latencies, mut errors, mut first) = (Vec::new(), 0, None);
                    let mut i = u64::from(client) << 40;
                    loop {
                        let start = Instant::now();
                        if start >= deadline {
                            break;
                        }
                        let result = request(&mut connection, i);
                        i += 1;
                        if start < measure_from {
                            continue;
                        }
                        match result {
                            Ok(()) => latencies.push(start.elapsed().as_nanos() as u64),
                            Err(error) => {
                                errors += 1;
                                first.get_or_insert(error);
                            }
                        }
                    }
                    (latencies, errors, first)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut latencies = Vec::new();
    let (mut errors, mut first) = (0, None);
    for (l, e, f) in runs {
        latencies.extend(l);
        errors += e;
        if first.is_none() {
            first = f;
        }
    }
    latencies.sort_unstable();
    (latencies, errors, first)
}

fn measured(
    (latencies, errors, first_error): (Vec<u64>, u64, Option<String>),
    settings: &Settings,
    bytes: usize,
) -> Measured {
    let per_second = latencies.len() as f64 / settings.duration.as_secs_f64();
    Measured {
        per_second,
        mib_per_second: per_second * bytes as f64 / MIB as f64,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        errors,
        first_error,
        ..Measured::default()
    }
}

fn fill(endpoint: &Endpoint, bucket: &str, keys: usize, body: &[u8]) -> Result<(), String> {
    let clients = 8;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    for i in (client..keys).step_by(clients) {
                        let path = format!("/{bucket}/key-{i:07}");
                        ok(connection.s3("PUT", &path, body), "PutObject")?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|_| Err("a filler panicked".into())))
    })
}

fn run_list(
    endpoint: &Endpoint,
    bucket: &str,
    objects: usize,
    settings: &Settings,
) -> Result<Measured, String> {
    progress(format_args!("  writing {objects} keys"));
    fill(endpoint, bucket, objects, b"x")?;
    let mut connection = Connection::new(endpoint);
    // One whole listing, page by page.
    let start = Instant::now();
    let mut listed = 0;
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!(
                "/{bucket}?list-type=2&max-keys=1000&continuation-token={}",
                percent_encode(t)
            ),
            None => format!("/{bucket}?list-type=2&max-keys=1000"),
        };
        let body = ok(connection.s3("GET", &path, b""), "ListObjectsV2")?;
        let text = String::from_utf8_lossy(&body);
        listed += text.matches("<Key>").count();
        token = field(&text, "NextContinuationToken");
        if token.is_none() {
            break;
        }
    }
    let whole = start.elapsed();
    if listed != objects {
        return Err(format!("listed {listed} keys of {objects}"));
    }
    // Pages from random places of the bucket, as many clients.
    let mut result = measured(
        closed_loop(endpoint, settings, |connection, i| {
            let after = format!(
                "key-{:07}",
                (i.wrapping_mul(2_654_435_761)) as usize % objects
            );
            let path = format!("/{bucket}?list-type=2&max-keys=1000&start-after={after}");
            ok(connection.s3("GET", &path, b""), "ListObjectsV2").map(|_| ())
        }),
        settings,
        0,
    );
    // Keys per second: pages of up to 1,000.
    result.per_second *= 1000.0;
    result.whole = Some(whole);
    Ok(result)
}

fn field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn run_put_to_queue(
    endpoint: &Endpoint,
    bucket: &str,
    settings: &Settings,
) -> Result<Measured, String> {
    let mut setup = Connection::new(endpoint);
    let queue = format!("{bucket}-events");
    let created = sqs(&mut setup, "CreateQueue", &json!({"QueueName": queue}))?;
    let url = created["QueueUrl"]
        .as_str()
        .ok_or("no QueueUrl")?
        .to_owned();
    let attributes = sqs(
        &mut setup,
        "GetQueueAttributes",
        &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
    )?;
    let arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .ok_or("no QueueArn")?
        .to_owned();
    let config = format!(
        "<NotificationConfiguration><QueueConfiguration><Id>bench</Id><Queue>{arn}</Queue>\
         <Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>"
    );
    ok(
        setup.s3("PUT", &format!("/{bucket}?notification"), config.as_bytes()),
        "PutBucketNotificationConfiguration",
    )?;
    let origin = Instant::now();
    let measure_from = origin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let stop = AtomicBool::new(false);
    let (latencies, errors) = std::thread::scope(|scope| {
        let consumer = scope.spawn(|| {
            let mut connection = Connection::new(endpoint);
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let got = sqs(
                    &mut connection,
                    "ReceiveMessage",
                    &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
                );
                let now = origin.elapsed().as_nanos();
                let Ok(got) = got else { continue };
                let mut entries = Vec::new();
                for (n, message) in got["Messages"].as_array().into_iter().flatten().enumerate() {
                    let body: Value =
                        serde_json::from_str(message["Body"].as_str().unwrap_or("{}"))
                            .unwrap_or_default();
                    if let Some(key) = body["Records"][0]["s3"]["object"]["key"].as_str()
                        && let Some(sent) =
                            key.strip_prefix("t-").and_then(|k| k.parse::<u128>().ok())
                    {
                        seen.push((sent, now));
                    }
                    entries.push(
                        json!({"Id": n.to_string(), "ReceiptHandle": message["ReceiptHandle"]}),
                    );
                }
                if !entries.is_empty() {
                    let _ = sqs(
                        &mut connection,
                        "DeleteMessageBatch",
                        &json!({"QueueUrl": url, "Entries": entries}),
                    );
                }
            }
            seen
        });
        let mut connection = Connection::new(endpoint);
        let mut errors = 0;
        let interval = Duration::from_nanos(1_000_000_000 / STEADY_RATE);
        let mut next = Instant::now();
        while Instant::now() < deadline {
            let sent = origin.elapsed().as_nanos();
            if ok(
                connection.s3("PUT", &format!("/{bucket}/t-{sent}"), b"event"),
                "PutObject",
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
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        let seen = consumer.join().unwrap_or_default();
        let from = (measure_from - origin).as_nanos();
        let latencies: Vec<u64> = seen
            .into_iter()
            .filter(|(sent, _)| *sent >= from)
            .map(|(sent, got)| (got - sent) as u64)
            .collect();
        (latencies, errors)
    });
    let mut latencies = latencies;
    latencies.sort_unstable();
    Ok(Measured {
        per_second: latencies.len() as f64 / settings.duration.as_secs_f64(),
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
    objects: usize,
) -> Result<Measured, String> {
    let mut setup = Connection::new(endpoint);
    let bucket = format!("bench-{run_id}-{}", load.name());
    ok(setup.s3("PUT", &format!("/{bucket}"), b""), "CreateBucket")?;
    match load {
        Load::Put1k | Load::Put1m => {
            let size = if load == Load::Put1k { KIB } else { MIB };
            let body = vec![b'x'; size];
            Ok(measured(
                closed_loop(endpoint, settings, |connection, i| {
                    let path = format!("/{bucket}/k{i}");
                    ok(connection.s3("PUT", &path, &body), "PutObject").map(|_| ())
                }),
                settings,
                size,
            ))
        }
        Load::Get1k | Load::Get1m => {
            let size = if load == Load::Get1k { KIB } else { MIB };
            fill(endpoint, &bucket, GET_KEYS, &vec![b'y'; size])?;
            Ok(measured(
                closed_loop(endpoint, settings, |connection, i| {
                    let path = format!("/{bucket}/key-{:07}", i as usize % GET_KEYS);
                    let body = ok(connection.s3("GET", &path, b""), "GetObject")?;
                    if body.len() == size {
                        Ok(())
                    } else {
                        Err(format!("GetObject: {} bytes of {size}", body.len()))
                    }
                }),
                settings,
                size,
            ))
        }
        Load::List => run_list(endpoint, &bucket, objects, settings),
        Load::PutToQueue => run_put_to_queue(endpoint, &bucket, settings),
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
    let objects = usize::try_from(args.objects).unwrap_or(100_000);
    let (peers, notes) = super::queues::start_peers(args);
    let mut rows = Vec::new();
    for load in Load::ALL {
        progress(format_args!("sluice: {}", load.name()));
        let ours =
            run(&sluice.endpoint, load, settings, &run_id, objects).unwrap_or_else(|error| {
                Measured {
                    errors: 1,
                    first_error: Some(error),
                    ..Measured::default()
                }
            });
        let mut theirs = Vec::new();
        for (name, server) in &peers {
            theirs.push(server.as_ref().ok().and_then(|server| {
                progress(format_args!("{name}: {}", load.name()));
                match run(&server.endpoint, load, settings, &run_id, objects) {
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
        "S3: {} clients, {} warmup + {} per workload, list over {objects} keys, put-to-queue at {STEADY_RATE}/s{}",
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
        "{:<14} {:>10} {:>8} {:>9} {:>9} {:>7}",
        "workload", "ops/s", "MiB/s", "p50", "p99", "errors"
    );
    for (name, _) in &peers {
        let _ = write!(
            out,
            " {:>15} {:>10}",
            format!("{name} ops/s"),
            format!("×{name}")
        );
    }
    let _ = writeln!(out);
    for (load, ours, theirs) in &rows {
        let _ = write!(
            out,
            "{:<14} {:>10.0} {:>8.1} {:>7.2}ms {:>7.2}ms {:>7}",
            load.name(),
            ours.per_second,
            ours.mib_per_second,
            ours.p50.as_secs_f64() * 1e3,
            ours.p99.as_secs_f64() * 1e3,
            ours.errors
        );
        for measured in theirs {
            let (rate, ratio) = match measured {
                Some(t) if t.per_second > 0.0 => (
                    format!("{:.0}", t.per_second),
                    if *load == Load::PutToQueue {
                        format!("p99 {:.0}ms", t.p99.as_secs_f64() * 1e3)
                    } else {
                        format!("{:.1}×", ours.per_second / t.per_second)
                    },
                ),
                _ => ("-".into(), "-".into()),
            };
            let _ = write!(out, " {rate:>15} {ratio:>10}");
        }
        let _ = writeln!(out);
        if let Some(whole) = ours.whole {
            let _ = write!(
                out,
                "  one whole listing: sluice {:.2} s",
                whole.as_secs_f64()
            );
            for ((name, _), measured) in peers.iter().zip(theirs) {
                if let Some(w) = measured.as_ref().and_then(|m| m.whole) {
                    let _ = write!(out, ", {name} {:.2} s", w.as_secs_f64());
                }
            }
            let _ = writeln!(out);
        }
        if let Some(error) = &ours.first_error {
            let _ = writeln!(out, "  first error: {error}");
        }
    }
    print!("{out}");
    drop(sluice);
    Ok(ExitCode::SUCCESS)
}
