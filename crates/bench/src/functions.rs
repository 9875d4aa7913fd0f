//! `sluice bench --functions`: Lambda functions through `sluice serve`.
//!
//! Starts `sluice serve --python <venv python>` on a scratch data dir (or targets `--endpoint`,
//! which must run Python functions), creates the functions with the Lambda API, and runs
//! closed-loop clients on keep-alive HTTP/1.1 connections:
//!
//! - `api-baseline`: GetFunctionConfiguration — the HTTP round trip through the same server and
//!   router, nothing run;
//! - `native-1c`: Invoke of a `provided` function whose `bootstrap` is this executable's own
//!   Runtime API loop in Rust (`sluice bench-runtime`, an echo with no work), one client, so
//!   that `native-1c − api-baseline` is what Sluice's Runtime API round trip adds to a call
//!   (queue → `next` → the runtime's `response` → reply: two loopback HTTP exchanges);
//! - `native-1w`: the same function, one worker, `--clients` clients (the Runtime API's bound);
//! - `python-1c`, `python-1w`: a no-op Python handler (`return event`) run by `awslambdaric`,
//!   one worker, one client then `--clients`;
//! - `python-pool`: the same handler with `--pool` workers;
//! - `seed-express`, `seed-standard`: the seed's 3-step machine (`sec-pipeline-lambda.json`) on
//!   its two real Python handlers (`examples/seed/handlers/`, `--pool` workers each), as
//!   EXPRESS (StartSyncExecution) and STANDARD (StartExecution + DescribeExecution polls).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};

use super::http::{Connection, Endpoint};
use super::{
    Args, Kind, LAMBDA_DEFINITION, Outcome, Scratch, Settings, Stats, Workload, cpu_seconds,
    millis, one_line, percent, percentile, process, progress, run_workload, secs,
};

const CHECK: &str = include_str!("../../../examples/seed/handlers/check_events_for_rule_match.py");
const TRIGGER: &str = include_str!("../../../examples/seed/handlers/trigger_notifications.py");
const NOOP: &str = "def handler(event, context):\n    return event\n";
/// The `provided` function's bootstrap: this executable's Runtime API loop.
const BOOTSTRAP: &str = "#!/bin/sh\nexec \"$SLUICE_BENCH_EXE\" bench-runtime\n";
const LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/sluice-bench";
/// What the invoke workloads send (and the echo functions answer).
const PAYLOAD: &[u8] = br#"{"ping":1}"#;

/// The seed machine on real handlers: no mock test case.
static SEED_WORKLOADS: [Workload; 2] = [
    Workload {
        name: "seed-express",
        kind: Kind::Express,
        machine: "sluice-bench-seed-express",
        definition: LAMBDA_DEFINITION,
        test_case: None,
    },
    Workload {
        name: "seed-standard",
        kind: Kind::Standard,
        machine: "sluice-bench-seed-standard",
        definition: LAMBDA_DEFINITION,
        test_case: None,
    },
];

/// One row of the report.
struct Row {
    name: &'static str,
    clients: u32,
    /// Workers of the function (or of each of the seed's functions).
    workers: u32,
    outcome: Outcome,
    /// Cores kept busy by the server's worker processes, where /proc tells.
    workers_cpu: Option<f64>,
}

/// CPU seconds so far of the processes whose parent is `pid` (the server's workers), from
/// /proc (Linux).
fn children_cpu(pid: Option<u32>) -> Option<f64> {
    let pid = pid?;
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // state ppid ... utime (11) stime (12), in USER_HZ ticks (100 per second).
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            let ticks = |i: usize| fields.get(i).and_then(|t| t.parse::<f64>().ok());
            total += ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0);
        }
    }
    Some(total / 100.0)
}

/// What an invoke workload calls.
struct Call {
    method: &'static str,
    path: String,
    body: &'static [u8],
}

pub(super) fn main(args: &Args, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = args.pool;
    // Declared before the server so that it is dropped (killed) before it is removed.
    let scratch = Scratch::new()?;
    let mut server = None;
    let endpoint = match &args.endpoint {
        Some(url) => Endpoint::parse(url)?,
        None => {
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
            // Every client may wait for the one worker; workers stay up between workloads.
            std::fs::write(
                &config,
                "[functions]\nmax-backlog = 100000\nidle-timeout-seconds = 3600\n",
            )
            .with_context(|| format!("cannot write {}", config.display()))?;
            progress(format_args!(
                "starting sluice serve --data-dir {} --python {}",
                data_dir.display(),
                python.display()
            ));
            let started = process::start_sluice_with(
                &data_dir,
                &[
                    OsStr::new("--python"),
                    python.as_os_str(),
                    OsStr::new("--config"),
                    config.as_os_str(),
                ],
            )?;
            let endpoint = started.endpoint.clone();
            server = Some(started);
            endpoint
        }
    };
    let pid = server.as_ref().map(process::Server::pid);
    let mut admin = Connection::new(&endpoint);
    let exe = std::env::current_exe().context("cannot find the sluice executable")?;
    let exe = exe.display().to_string();
    let python_zip = zip(&[("noop.py", NOOP, 0o644)])?;
    let native_zip = zip(&[("bootstrap", BOOTSTRAP, 0o755)])?;
    let check_zip = zip(&[("check_events_for_rule_match.py", CHECK, 0o644)])?;
    let trigger_zip = zip(&[("trigger_notifications.py", TRIGGER, 0o644)])?;
    let no_env = json!({});
    let functions = [
        (
            "bench-native",
            "provided.al2023",
            "bootstrap",
            &native_zip,
            json!({"SLUICE_BENCH_EXE": exe}),
            1,
        ),
        (
            "bench-python",
            "python3.12",
            "noop.handler",
            &python_zip,
            no_env.clone(),
            1,
        ),
        (
            "bench-python-pool",
            "python3.12",
            "noop.handler",
            &python_zip,
            no_env.clone(),
            pool,
        ),
        (
            "CheckEventsForRuleMatch",
            "python3.12",
            "check_events_for_rule_match.handler",
            &check_zip,
            no_env,
            pool,
        ),
        (
            "TriggerNotifications",
            "python3.12",
            "trigger_notifications.handler",
            &trigger_zip,
            json!({"CHANNELS": "log"}),
            pool,
        ),
    ];
    for (name, runtime, handler, zip, env, workers) in &functions {
        create_function(&mut admin, name, runtime, handler, zip, env, *workers)
            .with_context(|| format!("cannot create the function {name}"))?;
    }
    progress(format_args!(
        "sluice at {}: functions created; {} clients, pool of {pool}, {} warmup + {} each",
        endpoint.url(),
        settings.clients,
        secs(settings.warmup),
        secs(settings.duration)
    ));

    let invocations = |name: &str| Call {
        method: "POST",
        path: format!("/2015-03-31/functions/{name}/invocations"),
        body: PAYLOAD,
    };
    let rows_spec: [(&'static str, Call, u32, u32); 6] = [
        (
            "api-baseline",
            Call {
                method: "GET",
                path: "/2015-03-31/functions/bench-native/configuration".into(),
                body: b"",
            },
            1,
            1,
        ),
        ("native-1c", invocations("bench-native"), 1, 1),
        (
            "native-1w",
            invocations("bench-native"),
            settings.clients,
            1,
        ),
        ("python-1c", invocations("bench-python"), 1, 1),
        (
            "python-1w",
            invocations("bench-python"),
            settings.clients,
            1,
        ),
        (
            "python-pool",
            invocations("bench-python-pool"),
            settings.clients,
            pool,
        ),
    ];
    let mut rows = Vec::new();
    for (name, call, clients, workers) in &rows_spec {
        let (before, began) = (children_cpu(pid), Instant::now());
        let outcome = run_calls(&endpoint, pid, name, call, *clients, settings);
        let workers_cpu = cores(before, children_cpu(pid), began);
        if let Some(server) = server.as_mut() {
            server.check_running()?;
        }
        rows.push(Row {
            name,
            clients: *clients,
            workers: *workers,
            outcome,
            workers_cpu,
        });
    }
    for workload in &SEED_WORKLOADS {
        let (before, began) = (children_cpu(pid), Instant::now());
        let outcome = run_workload("sluice", &endpoint, pid, workload, settings, false);
        let workers_cpu = cores(before, children_cpu(pid), began);
        if let Some(server) = server.as_mut() {
            server.check_running()?;
        }
        rows.push(Row {
            name: workload.name,
            clients: settings.clients,
            workers: pool,
            outcome,
            workers_cpu,
        });
    }
    drop(server);

    print!("{}", render(&rows, settings, pool));
    let failed = rows.iter().any(|row| match &row.outcome {
        Outcome::Measured(stats) => stats.errors > 0 || stats.executions == 0,
        Outcome::Unavailable(_) => true,
    });
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Cores kept busy between two CPU readings.
fn cores(before: Option<f64>, after: Option<f64>, since: Instant) -> Option<f64> {
    let wall = since.elapsed().as_secs_f64();
    match (before, after) {
        (Some(before), Some(after)) if wall > 0.0 => Some((after - before).max(0.0) / wall),
        _ => None,
    }
}

/// A deployment package of `(name, text, mode)` files.
fn zip(files: &[(&str, &str, u32)]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text, mode) in files {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        writer.start_file(*name, options)?;
        writer.write_all(text.as_bytes())?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Creates (or re-creates) a function and reserves `workers` concurrency for it.
fn create_function(
    connection: &mut Connection,
    name: &str,
    runtime: &str,
    handler: &str,
    zip: &[u8],
    environment: &Value,
    workers: u32,
) -> anyhow::Result<()> {
    let path = format!("/2015-03-31/functions/{name}");
    let deleted = connection.request("DELETE", &path, "application/json", b"")?;
    if !matches!(deleted.status, 204 | 404) {
        bail!(
            "DeleteFunction: HTTP {}: {}",
            deleted.status,
            one_line(&deleted.body)
        );
    }
    let body = json!({
        "FunctionName": name,
        "Runtime": runtime,
        "Handler": handler,
        "Role": LAMBDA_ROLE,
        "Timeout": 30,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
        "Environment": {"Variables": environment},
    });
    let created = connection.request(
        "POST",
        "/2015-03-31/functions",
        "application/json",
        body.to_string().as_bytes(),
    )?;
    if created.status != 201 {
        bail!(
            "CreateFunction: HTTP {}: {}",
            created.status,
            one_line(&created.body)
        );
    }
    let reserved = json!({ "ReservedConcurrentExecutions": workers });
    let put = connection.request(
        "PUT",
        &format!("/2017-10-31/functions/{name}/concurrency"),
        "application/json",
        reserved.to_string().as_bytes(),
    )?;
    if put.status != 200 {
        bail!(
            "PutFunctionConcurrency: HTTP {}: {}",
            put.status,
            one_line(&put.body)
        );
    }
    Ok(())
}

/// One call; `Err` says why it did not succeed (an HTTP error, or a function error).
fn perform(connection: &mut Connection, call: &Call) -> Result<(), String> {
    let response = connection
        .request(call.method, &call.path, "application/json", call.body)
        .map_err(|e| format!("{} {}: {e}", call.method, call.path))?;
    if response.status != 200 {
        return Err(format!(
            "{} {}: HTTP {}: {}",
            call.method,
            call.path,
            response.status,
            one_line(&response.body)
        ));
    }
    // A function error is answered 200 with the error document.
    if call.method == "POST" && response.body.windows(11).any(|w| w == b"\"errorType\"") {
        return Err(format!("function error: {}", one_line(&response.body)));
    }
    Ok(())
}

/// Runs `call` in a closed loop from `clients` connections; measured after the warmup.
fn run_calls(
    endpoint: &Endpoint,
    server_pid: Option<u32>,
    name: &str,
    call: &Call,
    clients: u32,
    settings: &Settings,
) -> Outcome {
    let mut probe = Connection::new(endpoint);
    // The first call starts the worker (a cold start): not measured.
    if let Err(error) = perform(&mut probe, call) {
        progress(format_args!("{name}: cannot call: {error}"));
        return Outcome::Unavailable(error);
    }
    drop(probe);
    progress(format_args!(
        "{name}: running {clients} clients for {} + {}",
        secs(settings.warmup),
        secs(settings.duration)
    ));
    let server_cpu = || server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    let cpu_before = (server_cpu(), cpu_seconds(None));
    let began = Instant::now();
    let measure_from = began + settings.warmup;
    let deadline = measure_from + settings.duration;
    let results: Vec<(Vec<u64>, u64, Option<String>, Instant)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(move || {
                    let mut connection = Connection::new(endpoint);
                    let mut latencies = Vec::with_capacity(64 * 1024);
                    let (mut errors, mut first_error, mut last_end) = (0, None, measure_from);
                    loop {
                        let start = Instant::now();
                        if start >= deadline {
                            break;
                        }
                        let outcome = perform(&mut connection, call);
                        let end = Instant::now();
                        match outcome {
                            Ok(()) if start >= measure_from => {
                                let nanos = end.duration_since(start).as_nanos();
                                latencies.push(u64::try_from(nanos).unwrap_or(u64::MAX));
                                last_end = end;
                            }
                            Ok(()) => {}
                            Err(error) => {
                                errors += 1;
                                first_error.get_or_insert(error);
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    }
                    (latencies, errors, first_error, last_end)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    });
    let wall = began.elapsed().as_secs_f64();
    let cpu_after = (server_cpu(), cpu_seconds(None));
    let end = results
        .iter()
        .map(|r| r.3)
        .max()
        .unwrap_or(deadline)
        .max(measure_from);
    let mut latencies: Vec<u64> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    latencies.sort_unstable();
    let elapsed = end.duration_since(measure_from).as_secs_f64();
    let executions = latencies.len() as u64;
    let stats = Stats {
        executions,
        per_second: if elapsed > 0.0 {
            executions as f64 / elapsed
        } else {
            0.0
        },
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        errors: results.iter().map(|r| r.1).sum(),
        first_error: results.iter().find_map(|r| r.2.clone()),
        reconnects: 0,
        server_cpu: match (cpu_before.0, cpu_after.0) {
            (Some(before), Some(after)) => Some((after - before) / wall),
            _ => None,
        },
        client_cpu: match (cpu_before.1, cpu_after.1) {
            (Some(before), Some(after)) => Some((after - before) / wall),
            _ => None,
        },
    };
    progress(format_args!(
        "{name}: {:.0}/s, p50 {} ms, p99 {} ms, {} errors",
        stats.per_second,
        millis(stats.p50),
        millis(stats.p99),
        stats.errors
    ));
    Outcome::Measured(stats)
}

fn micros(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn render(rows: &[Row], settings: &Settings, pool: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sluice bench --functions: Lambda invocations through sluice serve over keep-alive \
         HTTP/1.1 ({} measured after {} warmup per workload; latencies in microseconds).",
        secs(settings.duration),
        secs(settings.warmup)
    );
    let _ = writeln!(
        out,
        "api-baseline: GetFunctionConfiguration (HTTP and routing, nothing run). native: a \
         `provided` function whose bootstrap is a Rust Runtime API loop (echo). python: \
         `return event` under awslambdaric. seed: sec-pipeline-lambda.json on its two real \
         Python handlers ({pool} workers each). 1c: one client; 1w: one worker. cpu: cores \
         kept busy by the server process, by its workers, and by the bench's clients (warmup \
         included)."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<14} {:>7} {:>7} {:>10} {:>9} {:>9} {:>9} {:>7} {:>10} {:>11} {:>10}",
        "workload",
        "clients",
        "workers",
        "per second",
        "p50 us",
        "p99 us",
        "p999 us",
        "errors",
        "server cpu",
        "workers cpu",
        "bench cpu"
    );
    for row in rows {
        match &row.outcome {
            Outcome::Measured(stats) => {
                let _ = writeln!(
                    out,
                    "{:<14} {:>7} {:>7} {:>10.1} {:>9} {:>9} {:>9} {:>7} {:>10} {:>11} {:>10}",
                    row.name,
                    row.clients,
                    row.workers,
                    stats.per_second,
                    micros(stats.p50),
                    micros(stats.p99),
                    micros(stats.p999),
                    stats.errors,
                    percent(stats.server_cpu),
                    percent(row.workers_cpu),
                    percent(stats.client_cpu)
                );
            }
            Outcome::Unavailable(why) => {
                let _ = writeln!(out, "{:<14} cannot run: {why}", row.name);
            }
        }
    }
    let measured = |name: &str| {
        rows.iter().find_map(|r| match &r.outcome {
            Outcome::Measured(stats) if r.name == name => Some(stats),
            _ => None,
        })
    };
    if let (Some(base), Some(native)) = (measured("api-baseline"), measured("native-1c")) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Runtime API round trip (native-1c - api-baseline): p50 {} us, p99 {} us added to \
             a call.",
            micros(native.p50.saturating_sub(base.p50)),
            micros(native.p99.saturating_sub(base.p99))
        );
    }
    let mut notes = Vec::new();
    for row in rows {
        if let Outcome::Measured(stats) = &row.outcome
            && let Some(error) = &stats.first_error
        {
            notes.push(format!(
                "{}: {} errors, the first: {error}",
                row.name, stats.errors
            ));
        }
    }
    for note in notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// `sluice bench-runtime`: the native function's bootstrap

/// A Lambda runtime that answers every invocation with its payload, over one keep-alive
/// connection to `AWS_LAMBDA_RUNTIME_API`: the least a runtime can do, so that what is measured
/// is Sluice's side of the Runtime API.
pub fn runtime_main() -> anyhow::Result<ExitCode> {
    let api =
        std::env::var("AWS_LAMBDA_RUNTIME_API").context("AWS_LAMBDA_RUNTIME_API is not set")?;
    let stream = TcpStream::connect(&api).with_context(|| format!("cannot connect to {api}"))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut request = Vec::with_capacity(4096);
    let mut line = String::new();
    loop {
        request.clear();
        write!(
            request,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n"
        )?;
        reader.get_mut().write_all(&request)?;
        let (status, request_id, body) = read_response(&mut reader, &mut line)?;
        if status != 200 {
            // Sluice is stopping this worker.
            return Ok(ExitCode::SUCCESS);
        }
        let Some(request_id) = request_id else {
            bail!("no Lambda-Runtime-Aws-Request-Id in the invocation");
        };
        request.clear();
        write!(
            request,
            "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nHost: \
             {api}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        request.extend_from_slice(&body);
        reader.get_mut().write_all(&request)?;
        read_response(&mut reader, &mut line)?;
    }
}

/// Reads one response with a `Content-Length`: (status, `Lambda-Runtime-Aws-Request-Id`, body).
fn read_response(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
) -> anyhow::Result<(u16, Option<String>, Vec<u8>)> {
    line.clear();
    if reader.read_line(line)? == 0 {
        bail!("the Runtime API closed the connection");
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let (mut length, mut request_id) = (0usize, None);
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            bail!("the Runtime API closed the connection");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().context("bad Content-Length")?;
            } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                request_id = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not expected from the Runtime API");
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((status, request_id, body))
}
