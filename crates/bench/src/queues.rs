//! `sluice bench --queues`: SQS through `sluice serve` (and, with `--moto` and `--ministack`,
//! those servers on the same workloads, for the ratios). Closed-loop clients on keep-alive connections, AWS JSON
//! 1.0 as current SDKs speak it:
//!
//! - `send`: SendMessage of a 256-byte body (each durable before it is answered);
//! - `send-batch-10`: SendMessageBatch of ten (messages per second counted);
//! - `send-receive-delete`: each client sends a message, receives it (up to ten at a time)
//!   and deletes it: the full life of a message, per second;
//! - `send-to-long-poll`: each client sends a message while a receiver of its own long-polls
//!   the queue; the latency is from the send's start until the receiver has the message (what
//!   a consumer waits), the rate one message at a time per client;
//! - `publish-3-queues`: SNS Publish (query protocol) to a topic with three subscribed queues
//!   (signed notification envelopes): publications per second, each durable in all three;
//! - `publish-3-queues-raw`: the same with raw message delivery (nothing to sign).
//!
//! Each client uses a queue (or a topic and its queues) of its own, so receives see their own
//! sends.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::http::{Connection, Endpoint};
use super::{Args, Scratch, Settings, percentile, process, progress, secs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Send,
    SendBatch,
    SendReceiveDelete,
    SendToLongPoll,
    Publish3,
    Publish3Raw,
}

impl Load {
    const ALL: [Self; 6] = [
        Self::Send,
        Self::SendBatch,
        Self::SendReceiveDelete,
        Self::SendToLongPoll,
        Self::Publish3,
        Self::Publish3Raw,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::SendBatch => "send-batch-10",
            Self::SendReceiveDelete => "send-receive-delete",
            Self::SendToLongPoll => "send-to-long-poll",
            Self::Publish3 => "publish-3-queues",
            Self::Publish3Raw => "publish-3-queues-raw",
        }
    }
}

/// What one client did in the measured window.
struct ClientRun {
    latencies: Vec<u64>,
    moved: u64,
    errors: u64,
    first_error: Option<String>,
    last_end: Instant,
}

struct Measured {
    messages_per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    first_error: Option<String>,
}

pub(super) fn call(
    connection: &mut Connection,
    operation: &str,
    body: &Value,
) -> Result<Value, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    connection.json_operation(
        "sqs",
        "AmazonSQS",
        "application/x-amz-json-1.0",
        operation,
        &body,
    )
}

/// One SNS query-protocol call: the response's XML.
fn sns(connection: &mut Connection, params: &[(&str, &str)]) -> Result<String, String> {
    let body: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let response = connection
        .call_form("sns", body.as_bytes())
        .map_err(|e| format!("{}: {e}", params[0].1))?;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    if response.status != 200 {
        return Err(format!(
            "{}: HTTP {} {}",
            params[0].1,
            response.status,
            super::one_line(&response.body)
        ));
    }
    Ok(text)
}

/// The text between `<tag>` and `</tag>`.
fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// A topic named `name` with three queues subscribed (`raw`: with raw message delivery): the
/// topic's ARN.
fn topic_with_queues(connection: &mut Connection, name: &str, raw: bool) -> Result<String, String> {
    let created = sns(connection, &[("Action", "CreateTopic"), ("Name", name)])?;
    let topic = xml_field(&created, "TopicArn")
        .ok_or("CreateTopic answered no TopicArn")?
        .to_owned();
    for i in 0..3 {
        let queue = format!("{name}-{i}");
        let created = call(connection, "CreateQueue", &json!({"QueueName": queue}))?;
        let url = created["QueueUrl"].as_str().ok_or("no QueueUrl")?;
        let attributes = call(
            connection,
            "GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )?;
        let arn = attributes["Attributes"]["QueueArn"]
            .as_str()
            .ok_or("no QueueArn")?;
        sns(
            connection,
            &[
                ("Action", "Subscribe"),
                ("TopicArn", &topic),
                ("Protocol", "sqs"),
                ("Endpoint", arn),
                ("Attributes.entry.1.key", "RawMessageDelivery"),
                (
                    "Attributes.entry.1.value",
                    if raw { "true" } else { "false" },
                ),
            ],
        )?;
    }
    Ok(topic)
}

const BODY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One unit of work of `load` on `queue`: the messages it moved. `arrivals` tells when the
/// client's long-polling receiver got a message (`send-to-long-poll`).
fn step(
    connection: &mut Connection,
    load: Load,
    queue: &str,
    arrivals: Option<&std::sync::mpsc::Receiver<()>>,
) -> Result<u64, String> {
    match load {
        Load::SendToLongPoll => {
            call(
                connection,
                "SendMessage",
                &json!({"QueueUrl": queue, "MessageBody": BODY}),
            )?;
            arrivals
                .ok_or("no receiver")?
                .recv_timeout(Duration::from_secs(20))
                .map_err(|_| "the receiver got nothing within 20 s".to_owned())?;
            Ok(1)
        }
        Load::Send => {
            call(
                connection,
                "SendMessage",
                &json!({"QueueUrl": queue, "MessageBody": BODY}),
            )?;
            Ok(1)
        }
        Load::SendBatch => {
            let entries: Vec<Value> = (0..10)
                .map(|i| json!({"Id": i.to_string(), "MessageBody": BODY}))
                .collect();
            let out = call(
                connection,
                "SendMessageBatch",
                &json!({"QueueUrl": queue, "Entries": entries}),
            )?;
            Ok(out["Successful"].as_array().map_or(0, |s| s.len() as u64))
        }
        Load::SendReceiveDelete => {
            call(
                connection,
                "SendMessage",
                &json!({"QueueUrl": queue, "MessageBody": BODY}),
            )?;
            let got = call(
                connection,
                "ReceiveMessage",
                &json!({"QueueUrl": queue, "MaxNumberOfMessages": 10, "VisibilityTimeout": 30}),
            )?;
            let mut moved = 0;
            for message in got["Messages"].as_array().into_iter().flatten() {
                call(
                    connection,
                    "DeleteMessage",
                    &json!({"QueueUrl": queue, "ReceiptHandle": message["ReceiptHandle"]}),
                )?;
                moved += 1;
            }
            Ok(moved)
        }
        Load::Publish3 | Load::Publish3Raw => {
            sns(
                connection,
                &[
                    ("Action", "Publish"),
                    ("TopicArn", queue),
                    ("Message", BODY),
                ],
            )?;
            Ok(1)
        }
    }
}

/// A receiver that long-polls `queue` until its client is gone (or a little past `deadline`,
/// so the last send is received), deletes what it gets and reports each arrival.
pub(super) fn long_poll(
    endpoint: &Endpoint,
    queue: String,
    deadline: Instant,
) -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let endpoint = endpoint.clone();
    std::thread::spawn(move || {
        let mut connection = Connection::new(&endpoint);
        let end = deadline + Duration::from_secs(3);
        while Instant::now() < end {
            let request =
                json!({"QueueUrl": queue, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1});
            let Ok(got) = call(&mut connection, "ReceiveMessage", &request) else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            for message in got["Messages"].as_array().into_iter().flatten() {
                if tx.send(()).is_err() {
                    return;
                }
                let _ = call(
                    &mut connection,
                    "DeleteMessage",
                    &json!({"QueueUrl": queue, "ReceiptHandle": message["ReceiptHandle"]}),
                );
            }
        }
    });
    rx
}

fn run(
    endpoint: &Endpoint,
    load: Load,
    settings: &Settings,
    run_id: &str,
) -> anyhow::Result<Measured> {
    let mut setup = Connection::new(endpoint);
    let mut queues = Vec::new();
    for client in 0..settings.clients {
        let name = format!("bench-{run_id}-{}-{client}", load.name());
        if matches!(load, Load::Publish3 | Load::Publish3Raw) {
            let raw = load == Load::Publish3Raw;
            queues.push(topic_with_queues(&mut setup, &name, raw).map_err(anyhow::Error::msg)?);
            continue;
        }
        let created = call(&mut setup, "CreateQueue", &json!({"QueueName": name}))
            .map_err(anyhow::Error::msg)?;
        queues.push(
            created["QueueUrl"]
                .as_str()
                .context("CreateQueue answered no QueueUrl")?
                .to_owned(),
        );
    }
    let begin = Instant::now();
    let measure_from = begin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let results: Vec<ClientRun> = std::thread::scope(|scope| {
        let handles: Vec<_> = queues
            .iter()
            .map(|queue| {
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    let arrivals = (load == Load::SendToLongPoll)
                        .then(|| long_poll(endpoint, queue.clone(), deadline));
                    let (mut latencies, mut moved, mut errors, mut first_error) =
                        (Vec::new(), 0u64, 0u64, None);
                    let mut last_end = measure_from;
                    loop {
                        let start = Instant::now();
                        if start >= deadline {
                            break;
                        }
                        let outcome = step(&mut connection, load, queue, arrivals.as_ref());
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
                    }
                    ClientRun {
                        latencies,
                        moved,
                        errors,
                        first_error,
                        last_end,
                    }
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let end = results
        .iter()
        .map(|r| r.last_end)
        .max()
        .unwrap_or(deadline)
        .max(measure_from);
    let elapsed = end.duration_since(measure_from).as_secs_f64();
    let mut latencies: Vec<u64> = results
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let moved: u64 = results.iter().map(|r| r.moved).sum();
    Ok(Measured {
        messages_per_second: if elapsed > 0.0 {
            moved as f64 / elapsed
        } else {
            0.0
        },
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        errors: results.iter().map(|r| r.errors).sum(),
        first_error: results.iter().find_map(|r| r.first_error.clone()),
    })
}

/// The peers `args` asks for, started, for the same workloads and the ratios: (name, server
/// or why not), and their lines for the header.
pub(super) type Peers = Vec<(&'static str, Result<process::Server, String>)>;

pub(super) fn start_peers(args: &Args) -> (Peers, Vec<String>) {
    let mut peers: Peers = Vec::new();
    let mut notes = Vec::new();
    if args.moto {
        let started = process::venv_dir()
            .and_then(|venv| process::ensure_moto(&venv))
            .and_then(|(python, version)| Ok((process::start_moto(&python)?, version)));
        peers.push(("moto", peer(started, "moto", &mut notes)));
    }
    if args.ministack {
        let started = process::ministack_venv_dir()
            .and_then(|venv| process::ensure_ministack(&venv))
            .and_then(|(python, version)| Ok((process::start_ministack(&python)?, version)));
        peers.push(("ministack", peer(started, "MiniStack", &mut notes)));
    }
    (peers, notes)
}

/// A started peer and its line in the header, or why it did not run.
fn peer(
    started: anyhow::Result<(process::Server, String)>,
    name: &str,
    notes: &mut Vec<String>,
) -> Result<process::Server, String> {
    match started {
        Ok((server, version)) => {
            notes.push(format!("{name} {version}"));
            Ok(server)
        }
        Err(error) => {
            let why = format!("{name} not run: {error:#}");
            progress(format_args!("{why}"));
            notes.push(why.clone());
            Err(why)
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
    let (peers, notes) = start_peers(args);
    let mut rows: Vec<(Load, Measured, Vec<Option<Measured>>)> = Vec::new();
    for load in Load::ALL {
        progress(format_args!("sluice: {}", load.name()));
        let ours = run(&sluice.endpoint, load, settings, &run_id)?;
        let mut theirs = Vec::new();
        for (name, server) in &peers {
            theirs.push(match server {
                Ok(server) => {
                    progress(format_args!("{name}: {}", load.name()));
                    match run(&server.endpoint, load, settings, &run_id) {
                        Ok(measured) => Some(measured),
                        Err(error) => {
                            progress(format_args!("{name}: {} failed: {error:#}", load.name()));
                            None
                        }
                    }
                }
                Err(_) => None,
            });
        }
        rows.push((load, ours, theirs));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SQS and SNS: {} clients, {} warmup + {} per workload{}",
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
        "{:<22} {:>12} {:>9} {:>9} {:>7}",
        "workload", "messages/s", "p50", "p99", "errors"
    );
    for (name, _) in &peers {
        let _ = write!(
            out,
            " {:>14} {:>10}",
            format!("{name} msg/s"),
            format!("×{name}")
        );
    }
    let _ = writeln!(out);
    for (load, ours, theirs) in &rows {
        let _ = write!(
            out,
            "{:<22} {:>12.0} {:>7.2}ms {:>7.2}ms {:>7}",
            load.name(),
            ours.messages_per_second,
            ours.p50.as_secs_f64() * 1e3,
            ours.p99.as_secs_f64() * 1e3,
            ours.errors,
        );
        for measured in theirs {
            let (rate, ratio) = match measured {
                Some(t) if t.messages_per_second > 0.0 && t.errors == 0 => (
                    format!("{:.0}", t.messages_per_second),
                    format!("{:.0}×", ours.messages_per_second / t.messages_per_second),
                ),
                Some(t) if t.messages_per_second > 0.0 => (
                    format!("{:.0}", t.messages_per_second),
                    format!("({} err)", t.errors),
                ),
                _ => ("-".into(), "-".into()),
            };
            let _ = write!(out, " {rate:>14} {ratio:>10}");
        }
        let _ = writeln!(out);
        if let Some(error) = &ours.first_error {
            let _ = writeln!(out, "  first error: {error}");
        }
        for ((name, _), measured) in peers.iter().zip(theirs) {
            if let Some(error) = measured.as_ref().and_then(|m| m.first_error.as_ref()) {
                let _ = writeln!(out, "  {name}'s first error: {error}");
            }
        }
    }
    print!("{out}");
    drop(sluice);
    Ok(ExitCode::SUCCESS)
}
