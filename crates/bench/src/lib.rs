//! `sluice bench` (this crate is its load generator): throughput and latency of the seed pipeline over the Step Functions API.
//!
//! Starts `sluice serve` on a scratch data dir (or targets `--endpoint`), creates the seed's
//! 3-step machine in its Pass and mock-Task variants as EXPRESS and STANDARD machines, and runs
//! N closed-loop clients, each on one persistent HTTP/1.1 connection:
//!
//! - EXPRESS: `StartSyncExecution`; latency is the request's round trip;
//! - STANDARD: `StartExecution`, then `DescribeExecution` at once and every
//!   `--poll-interval-ms` after until the execution has ended; latency is from sending the
//!   start to observing the end, so it includes up to one poll interval.
//!
//! It also measures the fsync rate of the data dir (the bound on one durable commit at a
//! time, which group commit lifts) and, with `--moto`, runs moto's server on the same workload
//! with the same clients and prints the ratios.
//!
//! `--schedules` measures EventBridge Scheduler's fire precision (`schedules.rs`).
//!
//! `--mappings` benchmarks queue → event-source mapping → Python function (`mappings.rs`).
//!
//! `--functions` benchmarks Lambda functions instead (`functions.rs`): invocations through one
//! Python worker and a pool, the Runtime API's added latency, and the seed machine on its two
//! real Python handlers.

mod buckets;
mod events;
pub mod functions;
pub mod http;
mod mappings;
mod process;
mod queues;
mod schedules;
mod streams;

use std::fmt::Write as _;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{Value, json};

use self::http::{Connection, Endpoint};

const PASS_DEFINITION: &str = include_str!("../../../examples/seed/sec-pipeline-pass.json");
const PASS_JSONATA_DEFINITION: &str =
    include_str!("../../../examples/seed/sec-pipeline-pass-jsonata.json");
const LAMBDA_DEFINITION: &str = include_str!("../../../examples/seed/sec-pipeline-lambda.json");
const MOCK_CONFIG: &str = include_str!("../../../examples/seed/sfn-mock-config.json");
const EVENT: &str = include_str!("../../../examples/seed/event.json");

/// The state machine name the seed mock configuration stubs (test case `HappyPath`).
const MOCKED_MACHINE: &str = "sec-pipeline-lambda";
const TEST_CASE: &str = "HappyPath";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sluice-bench";
/// How long one STANDARD execution may run before the bench counts it as an error.
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(30);
const FSYNC_PROBE: Duration = Duration::from_millis(1500);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Benchmark a running server (http://host:port) instead of starting `sluice serve`. Its
    /// mock configuration must stub `sec-pipeline-lambda` with the seed's test case
    /// `HappyPath` (examples/seed/sfn-mock-config.json).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Closed-loop clients, each with one keep-alive connection.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    clients: u32,
    /// Seconds measured per workload.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    duration: f64,
    /// Seconds run before measuring, per workload (not counted).
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    warmup: f64,
    /// Also run moto's server (Python venv at $SLUICE_VENV or ~/.cache/sluice-venv; moto is
    /// installed there if missing) on the same workload and print the ratios.
    #[arg(long)]
    moto: bool,
    /// With --queues, --streams or --buckets: also run MiniStack's server (PyPI `ministack`, in its own venv at
    /// $SLUICE_MINISTACK_VENV or ~/.cache/sluice-ministack, installed if missing).
    #[arg(long)]
    ministack: bool,
    /// Run only the EXPRESS or only the STANDARD workloads.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Milliseconds between two DescribeExecution polls of a STANDARD execution (0: poll
    /// without pausing).
    #[arg(long, default_value_t = 1, value_name = "MS")]
    poll_interval_ms: u64,
    /// The data dir of the started server (default: a scratch directory, removed afterwards).
    /// With --endpoint, the directory whose fsync rate is measured (default: none).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Benchmark Lambda functions instead: invokes through one Python worker and a pool, the
    /// added latency of the Runtime API round trip, and the seed machine on its two real
    /// Python handlers (EXPRESS and STANDARD).
    #[arg(long)]
    functions: bool,
    /// Benchmark SQS queues instead: send, send in batches of ten, and send → receive →
    /// delete, messages per second (with --moto, moto's server too, and the ratios).
    #[arg(long, conflicts_with = "functions")]
    queues: bool,
    /// Benchmark event-source mappings instead: a queue filled with --messages messages,
    /// drained by a mapping into a Python function (--pool workers), batch sizes 1 and 10,
    /// events per second.
    #[arg(long, conflicts_with_all = ["functions", "queues"])]
    mappings: bool,
    /// Benchmark Kinesis streams instead: PutRecord, PutRecords of 500, GetRecords out, and
    /// the latency from a put to a polling reader at 1,000 records/s (with --moto and
    /// --ministack, those servers too).
    #[arg(long, conflicts_with_all = ["functions", "queues", "mappings"])]
    streams: bool,
    /// Benchmark EventBridge instead: PutEvents of one and of ten entries matched by a rule
    /// with a queue target, and PutEvents → rule → SQS target end to end (events/s, p50, p99).
    #[arg(long, conflicts_with_all = ["functions", "queues", "mappings", "streams", "schedules"])]
    events: bool,
    /// Benchmark EventBridge Scheduler instead: --fires one-time schedules due within a few
    /// seconds, delivered into a queue; the lateness of each fire (p50, p99, max).
    #[arg(long, conflicts_with_all = ["functions", "queues", "mappings", "streams"])]
    schedules: bool,
    /// Benchmark S3 buckets instead: PUT and GET of 1 KiB and 1 MiB objects, ListObjectsV2
    /// over --objects keys, and PUT → notification → queue latency (with --moto and
    /// --ministack, those servers too).
    #[arg(long, conflicts_with_all = ["functions", "queues", "mappings", "streams", "events", "schedules"])]
    buckets: bool,
    /// With --buckets: the keys of the bucket ListObjectsV2 pages through.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    objects: u64,
    /// With --schedules: how many schedules fire.
    #[arg(long, default_value_t = 500, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    fires: u64,
    /// With --mappings: the messages queued per batch size.
    #[arg(long, default_value_t = 20_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    messages: u64,
    /// With --functions: the workers of the pool (and of each seed handler); with --mappings,
    /// the function's reserved concurrency (the most pollers).
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pool: u32,
    /// With --functions: the Python (with awslambdaric) the started server runs functions with
    /// (default: the venv's, $SLUICE_VENV or ~/.cache/sluice-venv).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    Express,
    Standard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Express,
    Standard,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Express => "EXPRESS",
            Kind::Standard => "STANDARD",
        }
    }
}

/// One row of the table: a machine variant run as one type.
#[derive(Debug)]
struct Workload {
    name: &'static str,
    kind: Kind,
    machine: &'static str,
    definition: &'static str,
    test_case: Option<&'static str>,
}

static WORKLOADS: [Workload; 5] = [
    Workload {
        name: "express-pass",
        kind: Kind::Express,
        machine: "sluice-bench-pass-express",
        definition: PASS_DEFINITION,
        test_case: None,
    },
    // The same machine written in JSONata (Output, Condition).
    Workload {
        name: "express-pass-jsonata",
        kind: Kind::Express,
        machine: "sluice-bench-pass-jsonata-express",
        definition: PASS_JSONATA_DEFINITION,
        test_case: None,
    },
    Workload {
        name: "express-task",
        kind: Kind::Express,
        machine: MOCKED_MACHINE,
        definition: LAMBDA_DEFINITION,
        test_case: Some(TEST_CASE),
    },
    Workload {
        name: "standard-pass",
        kind: Kind::Standard,
        machine: "sluice-bench-pass-standard",
        definition: PASS_DEFINITION,
        test_case: None,
    },
    Workload {
        name: "standard-task",
        kind: Kind::Standard,
        machine: MOCKED_MACHINE,
        definition: LAMBDA_DEFINITION,
        test_case: Some(TEST_CASE),
    },
];

struct Settings {
    clients: u32,
    warmup: Duration,
    duration: Duration,
    poll: Duration,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings {
        clients: args.clients,
        warmup: seconds("--warmup", args.warmup, true)?,
        duration: seconds("--duration", args.duration, false)?,
        poll: Duration::from_millis(args.poll_interval_ms),
    };
    if args.functions {
        return functions::main(&args, &settings);
    }
    if args.queues {
        return queues::main(&args, &settings);
    }
    if args.mappings {
        return mappings::main(&args, &settings);
    }
    if args.streams {
        return streams::main(&args, &settings);
    }
    if args.events {
        return events::main(&args, &settings);
    }
    if args.buckets {
        return buckets::main(&args, &settings);
    }
    if args.schedules {
        return schedules::main(&args);
    }
    let workloads: Vec<&'static Workload> = WORKLOADS
        .iter()
        .filter(|w| match args.only {
            None => true,
            Some(Only::Express) => w.kind == Kind::Express,
            Some(Only::Standard) => w.kind == Kind::Standard,
        })
        .collect();

    // Declared before the servers so that they are dropped (killed) before it is removed.
    let scratch = Scratch::new()?;
    let mut report = Report::default();

    let mut sluice = None;
    let endpoint = match &args.endpoint {
        Some(url) => {
            report.target = "endpoint";
            report.fsync = match &args.data_dir {
                Some(dir) => Some(measure_fsync(dir)?),
                None => None,
            };
            let endpoint = Endpoint::parse(url)?;
            std::net::TcpStream::connect_timeout(&endpoint.addr, Duration::from_secs(5))
                .with_context(|| format!("cannot connect to --endpoint {url}"))?;
            endpoint
        }
        None => {
            report.target = "sluice";
            let data_dir = match &args.data_dir {
                Some(dir) => dir.clone(),
                None => scratch.path.join("data"),
            };
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            // Measured before the server runs, so that nothing competes with it.
            report.fsync = Some(measure_fsync(&data_dir)?);
            let mock_config = scratch.path.join("sfn-mock-config.json");
            std::fs::write(&mock_config, MOCK_CONFIG)
                .with_context(|| format!("cannot write {}", mock_config.display()))?;
            progress(format_args!(
                "starting sluice serve --data-dir {}",
                data_dir.display()
            ));
            let server = process::start_sluice(&data_dir, &mock_config)?;
            let endpoint = server.endpoint.clone();
            sluice = Some(server);
            endpoint
        }
    };
    progress(format_args!(
        "{} at {}: {} workload(s), {} clients, {} warmup + {} each",
        report.target,
        endpoint.url(),
        workloads.len(),
        settings.clients,
        secs(settings.warmup),
        secs(settings.duration)
    ));
    for workload in &workloads {
        let pid = sluice.as_ref().map(process::Server::pid);
        let outcome = run_workload(report.target, &endpoint, pid, workload, &settings, false);
        if let Some(server) = sluice.as_mut() {
            server.check_running()?;
        }
        report.rows.push(Row {
            target: report.target,
            workload,
            outcome,
        });
    }
    drop(sluice);

    if args.moto {
        report.moto = Some(run_moto(&workloads, &settings, &mut report.rows));
    }

    let text = report.render(&settings);
    print!("{text}");
    let failed = report
        .rows
        .iter()
        .filter(|row| row.target == report.target)
        .any(|row| match &row.outcome {
            Outcome::Measured(stats) => stats.errors > 0 || stats.executions == 0,
            Outcome::Unavailable(_) => true,
        });
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn seconds(flag: &str, value: f64, zero_ok: bool) -> anyhow::Result<Duration> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value < 1e6;
    anyhow::ensure!(ok, "{flag} {value}: expected a positive number of seconds");
    Ok(Duration::from_secs_f64(value))
}

fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("bench: {message}");
}

/// A scratch directory, removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("sluice-bench-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// fsync rate

struct Fsync {
    dir: PathBuf,
    filesystem: Option<String>,
    per_second: f64,
}

/// Overwrites one 4 KiB block of a file in `dir` and `fdatasync`s it, in a tight loop.
fn measure_fsync(dir: &Path) -> anyhow::Result<Fsync> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    progress(format_args!(
        "measuring the fsync rate of {} ({})",
        dir.display(),
        secs(FSYNC_PROBE)
    ));
    let path = dir.join(".sluice-bench-fsync-probe");
    let result = (|| -> std::io::Result<f64> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        let block = [0x5a_u8; 4096];
        file.write_all(&block)?;
        file.sync_all()?;
        let start = Instant::now();
        let mut count = 0_u64;
        while start.elapsed() < FSYNC_PROBE {
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&block)?;
            file.sync_data()?;
            count += 1;
        }
        Ok(count as f64 / start.elapsed().as_secs_f64())
    })();
    let _ = std::fs::remove_file(&path);
    let per_second = result.with_context(|| format!("fsync probe in {}", dir.display()))?;
    Ok(Fsync {
        dir: dir.to_path_buf(),
        filesystem: filesystem_of(dir),
        per_second,
    })
}

/// The filesystem type of `dir` from /proc/mounts (Linux; `None` elsewhere).
fn filesystem_of(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount_point = fields.next()?;
            let kind = fields.next()?;
            dir.starts_with(mount_point)
                .then(|| (mount_point.len(), kind.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

// ---------------------------------------------------------------------------------------------
// Workloads

#[derive(Debug)]
enum Outcome {
    Measured(Stats),
    /// The target cannot run this workload (why).
    Unavailable(String),
}

#[derive(Debug, Default)]
struct Stats {
    executions: u64,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    errors: u64,
    first_error: Option<String>,
    reconnects: u64,
    /// CPU used by the server and by the bench's clients over the run (warmup included), in
    /// cores (1.0 = one core busy), where /proc tells.
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
}

/// CPU seconds (user + system, all threads) of a process so far, from /proc (Linux).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // In USER_HZ ticks, 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

/// A workload ready to run: its machine and the request bodies.
struct Prepared {
    kind: Kind,
    /// The start request: complete for EXPRESS; for STANDARD without its closing `}`, so that
    /// each execution appends its `name`.
    start_body: Vec<u8>,
    /// Makes execution names unique across runs against the same server.
    nonce: String,
}

impl Prepared {
    /// The StartExecution body with a unique execution name (AWS names are optional, but
    /// pipelines name executions for idempotency, and moto's server names unnamed executions
    /// `None`, so that the second one already exists).
    fn named_start(&self, client: u32, sequence: u64) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.start_body.len() + 64);
        body.extend_from_slice(&self.start_body);
        let _ = write!(body, r#","name":"{}-{client}-{sequence}"}}"#, self.nonce);
        body
    }
}

/// Creates the workload's machine and runs it; `asynchronous` runs an EXPRESS machine through
/// StartExecution and DescribeExecution polling instead of StartSyncExecution.
fn run_workload(
    target: &str,
    endpoint: &Endpoint,
    server_pid: Option<u32>,
    workload: &Workload,
    settings: &Settings,
    asynchronous: bool,
) -> Outcome {
    let mut admin = Connection::new(endpoint);
    let arn = match create_machine(&mut admin, workload) {
        Ok(arn) => arn,
        Err(error) => {
            progress(format_args!(
                "[{target}] {}: cannot create the machine: {error}",
                workload.name
            ));
            return Outcome::Unavailable(error);
        }
    };
    let outcome = run_machine(
        target,
        endpoint,
        server_pid,
        workload,
        &arn,
        settings,
        asynchronous,
    );
    if let Err(error) = call(
        &mut admin,
        "DeleteStateMachine",
        &json!({ "stateMachineArn": arn }),
    ) {
        progress(format_args!(
            "[{target}] {}: DeleteStateMachine failed: {error}",
            workload.name
        ));
    }
    outcome
}

fn run_machine(
    target: &str,
    endpoint: &Endpoint,
    server_pid: Option<u32>,
    workload: &Workload,
    arn: &str,
    settings: &Settings,
    asynchronous: bool,
) -> Outcome {
    // How executions are started and awaited (not the machine's type).
    let kind = if asynchronous {
        Kind::Standard
    } else {
        workload.kind
    };
    let start_arn = match workload.test_case {
        Some(case) => format!("{arn}#{case}"),
        None => arn.to_string(),
    };
    let start_body = json!({ "stateMachineArn": start_arn, "input": EVENT });
    let mut start_body = serde_json::to_vec(&start_body).unwrap_or_default();
    if kind == Kind::Standard {
        start_body.pop(); // the closing brace: `named_start` appends the name
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let prepared = Prepared {
        kind,
        start_body,
        nonce: format!("bench-{nanos:x}"),
    };
    // One execution first: a target that cannot run the workload says why here, instead of
    // producing a table of errors.
    let mut probe = Connection::new(endpoint);
    if let Err(error) = execute(&mut probe, &prepared, settings.poll, u32::MAX, 0) {
        progress(format_args!(
            "[{target}] {}: cannot execute: {error}",
            workload.name
        ));
        return Outcome::Unavailable(error);
    }
    drop(probe);
    progress(format_args!(
        "[{target}] {}: running {} clients for {} + {}",
        workload.name,
        settings.clients,
        secs(settings.warmup),
        secs(settings.duration)
    ));
    let cpu_before = (cpu_seconds(server_pid), cpu_seconds(None));
    let began = Instant::now();
    let mut stats = run_clients(endpoint, &prepared, settings);
    let wall = began.elapsed().as_secs_f64();
    let cpu_after = (cpu_seconds(server_pid), cpu_seconds(None));
    if server_pid.is_some()
        && let (Some(before), Some(after)) = (cpu_before.0, cpu_after.0)
    {
        stats.server_cpu = Some((after - before) / wall);
    }
    if let (Some(before), Some(after)) = (cpu_before.1, cpu_after.1) {
        stats.client_cpu = Some((after - before) / wall);
    }
    progress(format_args!(
        "[{target}] {}: {:.0} executions/s, p50 {} ms, p99 {} ms, {} errors",
        workload.name,
        stats.per_second,
        millis(stats.p50),
        millis(stats.p99),
        stats.errors
    ));
    Outcome::Measured(stats)
}

fn create_machine(connection: &mut Connection, workload: &Workload) -> Result<String, String> {
    let request = json!({
        "name": workload.machine,
        "definition": workload.definition,
        "roleArn": ROLE_ARN,
        "type": workload.kind.type_name(),
    });
    // The previous workload may have deleted a machine of the same name a moment ago, and
    // deletion may take a moment to finish.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match call(connection, "CreateStateMachine", &request) {
            Ok(output) => {
                return output
                    .get("stateMachineArn")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("no stateMachineArn in {output}"));
            }
            Err(error)
                if (error.contains("StateMachineAlreadyExists")
                    || error.contains("StateMachineDeleting"))
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => return Err(error),
        }
    }
}

/// A control-plane call; the error is `__type: message` (or the HTTP status and body).
fn call(connection: &mut Connection, operation: &str, body: &Value) -> Result<Value, String> {
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let response = connection
        .call(operation, &body)
        .map_err(|e| format!("{operation}: {e}"))?;
    if response.status != 200 {
        return Err(api_error(operation, response.status, &response.body));
    }
    serde_json::from_slice(&response.body).map_err(|e| format!("{operation}: bad JSON ({e})"))
}

fn api_error(operation: &str, status: u16, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            kind: Some(kind),
            message,
        }) => {
            let kind = kind.rsplit('#').next().unwrap_or(&kind).to_string();
            format!(
                "{operation}: HTTP {status} {kind}: {}",
                message.unwrap_or_default()
            )
        }
        _ => format!("{operation}: HTTP {status}: {}", one_line(body)),
    }
}

/// A response body that is not an AWS error, on one line: the `<title>` of an HTML page,
/// else the text with its whitespace collapsed, shortened.
fn one_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let title = text
        .find("<title>")
        .and_then(|start| {
            let rest = &text[start + "<title>".len()..];
            rest.find("</title>").map(|end| &rest[..end])
        })
        .map(|title| format!("HTML page \"{}\"", title.trim()));
    let text = title.unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    if text.chars().count() > 300 {
        let mut short: String = text.chars().take(300).collect();
        short.push_str("...");
        short
    } else {
        text
    }
}

#[derive(Deserialize)]
struct ExecutionStatus {
    status: String,
    error: Option<String>,
    cause: Option<String>,
}

impl ExecutionStatus {
    fn failure(self) -> String {
        let mut text = format!("execution {}", self.status);
        if let Some(error) = self.error {
            let _ = write!(text, ": {error}");
        }
        if let Some(cause) = self.cause {
            let _ = write!(text, ": {}", one_line(cause.as_bytes()));
        }
        text
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Started {
    execution_arn: String,
}

/// Runs one execution to its end; `Err` says why it did not succeed.
fn execute(
    connection: &mut Connection,
    prepared: &Prepared,
    poll: Duration,
    client: u32,
    sequence: u64,
) -> Result<(), String> {
    match prepared.kind {
        Kind::Express => {
            let output: ExecutionStatus =
                hot_call(connection, "StartSyncExecution", &prepared.start_body)?;
            if output.status == "SUCCEEDED" {
                Ok(())
            } else {
                Err(output.failure())
            }
        }
        Kind::Standard => {
            let start = prepared.named_start(client, sequence);
            let started: Started = hot_call(connection, "StartExecution", &start)?;
            let describe = serde_json::to_vec(&json!({ "executionArn": started.execution_arn }))
                .map_err(|e| e.to_string())?;
            let deadline = Instant::now() + EXECUTION_TIMEOUT;
            // The first poll at once: an execution may end within its StartExecution.
            let mut first = true;
            loop {
                if !first && !poll.is_zero() {
                    std::thread::sleep(poll);
                }
                first = false;
                let output: ExecutionStatus = hot_call(connection, "DescribeExecution", &describe)?;
                match output.status.as_str() {
                    "SUCCEEDED" => return Ok(()),
                    "RUNNING" | "PENDING_REDRIVE" if Instant::now() < deadline => {}
                    "RUNNING" | "PENDING_REDRIVE" => {
                        return Err(format!(
                            "execution still RUNNING after {}",
                            secs(EXECUTION_TIMEOUT)
                        ));
                    }
                    _ => return Err(output.failure()),
                }
            }
        }
    }
}

fn hot_call<T: for<'de> Deserialize<'de>>(
    connection: &mut Connection,
    operation: &str,
    body: &[u8],
) -> Result<T, String> {
    let response = connection
        .call(operation, body)
        .map_err(|e| format!("{operation}: {e}"))?;
    if response.status != 200 {
        return Err(api_error(operation, response.status, &response.body));
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        format!(
            "{operation}: unexpected response ({e}): {}",
            one_line(&response.body)
        )
    })
}

struct ClientResult {
    latencies: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    last_end: Instant,
    reconnects: u64,
}

/// Runs the closed loop: every client starts executions back to back until the deadline;
/// executions started after the warmup are measured.
fn run_clients(endpoint: &Endpoint, prepared: &Prepared, settings: &Settings) -> Stats {
    let begin = Instant::now();
    let measure_from = begin + settings.warmup;
    let deadline = measure_from + settings.duration;
    let results: Vec<ClientResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..settings.clients)
            .map(|index| {
                scope.spawn(move || {
                    client(
                        index,
                        endpoint,
                        prepared,
                        settings.poll,
                        measure_from,
                        deadline,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    });
    let end = results
        .iter()
        .map(|r| r.last_end)
        .max()
        .unwrap_or(deadline)
        .max(measure_from);
    let mut latencies: Vec<u64> = results
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let elapsed = end.duration_since(measure_from).as_secs_f64();
    let executions = latencies.len() as u64;
    Stats {
        executions,
        per_second: if elapsed > 0.0 {
            executions as f64 / elapsed
        } else {
            0.0
        },
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        errors: results.iter().map(|r| r.errors).sum(),
        first_error: results.iter().find_map(|r| r.first_error.clone()),
        reconnects: results.iter().map(|r| r.reconnects).sum(),
        server_cpu: None,
        client_cpu: None,
    }
}

fn client(
    index: u32,
    endpoint: &Endpoint,
    prepared: &Prepared,
    poll: Duration,
    measure_from: Instant,
    deadline: Instant,
) -> ClientResult {
    let mut connection = Connection::new(endpoint);
    let mut result = ClientResult {
        latencies: Vec::with_capacity(16 * 1024),
        errors: 0,
        first_error: None,
        last_end: measure_from,
        reconnects: 0,
    };
    for sequence in 0.. {
        let start = Instant::now();
        if start >= deadline {
            break;
        }
        let outcome = execute(&mut connection, prepared, poll, index, sequence);
        let end = Instant::now();
        match outcome {
            Ok(()) => {
                if start >= measure_from {
                    let nanos = end.duration_since(start).as_nanos();
                    result
                        .latencies
                        .push(u64::try_from(nanos).unwrap_or(u64::MAX));
                    result.last_end = end;
                }
            }
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert(error);
                result.last_end = result.last_end.max(end);
                // Do not spin on a failing server.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    result.reconnects = connection.reconnects;
    result
}

/// Nearest-rank percentile of sorted nanoseconds.
fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    Duration::from_nanos(sorted[index])
}

fn percent(cores: Option<f64>) -> String {
    cores.map_or_else(|| "-".to_string(), |c| format!("{:.0}%", c * 100.0))
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

// ---------------------------------------------------------------------------------------------
// moto

/// What became of the moto run: its version, or why it did not run.
enum Moto {
    Ran {
        version: String,
        /// EXPRESS workloads measured through StartExecution (moto has no StartSyncExecution).
        polled: Vec<&'static str>,
    },
    NotRun(String),
}

fn run_moto(workloads: &[&'static Workload], settings: &Settings, rows: &mut Vec<Row>) -> Moto {
    let started = process::venv_dir().and_then(|venv| {
        progress(format_args!(
            "starting moto's server (venv {})",
            venv.display()
        ));
        let (python, version) = process::ensure_moto(&venv)?;
        Ok((process::start_moto(&python)?, version))
    });
    let (mut server, version) = match started {
        Ok(started) => started,
        Err(error) => {
            progress(format_args!("moto not run: {error:#}"));
            return Moto::NotRun(format!("{error:#}"));
        }
    };
    progress(format_args!(
        "moto {version} at {} (Step Functions execution on)",
        server.endpoint.url()
    ));
    let endpoint = server.endpoint.clone();
    let mut polled = Vec::new();
    for workload in workloads {
        let pid = Some(server.pid());
        let mut outcome = run_workload("moto", &endpoint, pid, workload, settings, false);
        if let Outcome::Unavailable(why) = &outcome
            && workload.kind == Kind::Express
            && why.contains("StartSyncExecution: HTTP 500")
        {
            // moto's closest equivalent: StartExecution of the EXPRESS machine, polled to
            // its end with DescribeExecution (which moto answers for EXPRESS executions).
            progress(format_args!(
                "[moto] {}: no StartSyncExecution; StartExecution of the EXPRESS machine instead",
                workload.name
            ));
            outcome = run_workload("moto", &endpoint, pid, workload, settings, true);
            if matches!(outcome, Outcome::Measured(_)) {
                polled.push(workload.name);
            }
        }
        if let Outcome::Unavailable(why) = &mut outcome {
            why.push_str(moto_hint(workload, why));
        }
        if let Err(error) = server.check_running() {
            progress(format_args!("{error:#}"));
            rows.push(Row {
                target: "moto",
                workload,
                outcome: Outcome::Unavailable(format!("moto's server died: {error:#}")),
            });
            break;
        }
        rows.push(Row {
            target: "moto",
            workload,
            outcome,
        });
    }
    Moto::Ran { version, polled }
}

/// What moto 5.x is known to lack, for the errors it answers with.
fn moto_hint(workload: &Workload, error: &str) -> &'static str {
    if workload.kind == Kind::Express && error.contains("StartSyncExecution: HTTP 500") {
        " (moto's server has no StartSyncExecution handler)"
    } else if workload.test_case.is_some() && error.contains("StateMachineDoesNotExist") {
        " (moto's server neither strips `#TestCase` from the ARN nor loads a Step Functions \
         Local mock config, and its Lambda tasks need Docker and deployed functions)"
    } else {
        ""
    }
}

// ---------------------------------------------------------------------------------------------
// Report

struct Row {
    target: &'static str,
    workload: &'static Workload,
    outcome: Outcome,
}

#[derive(Default)]
struct Report {
    target: &'static str,
    fsync: Option<Fsync>,
    rows: Vec<Row>,
    moto: Option<Moto>,
}

impl Report {
    fn render(&self, settings: &Settings) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "sluice bench: the seed 3-step machine (Pass and mock-Task variants) on a {} B event; \
             {} closed-loop clients, one keep-alive HTTP/1.1 connection each; {} measured after \
             {} warmup per workload.",
            EVENT.len(),
            settings.clients,
            secs(settings.duration),
            secs(settings.warmup)
        );
        let _ = writeln!(
            out,
            "EXPRESS latency: StartSyncExecution round trip. STANDARD latency: StartExecution \
             sent -> DescribeExecution sees the end, polled at once and every {} ms after (up to \
             one poll interval included).",
            settings.poll.as_millis()
        );
        let _ = writeln!(
            out,
            "pass: sec-pipeline-pass.json (-jsonata: sec-pipeline-pass-jsonata.json); task: \
             sec-pipeline-lambda.json, its two Lambda Tasks \
             answered by the seed mock config (`#HappyPath`). STANDARD executions are named. \
             cpu: cores kept busy by the server process and by this one (the clients), warmup \
             included."
        );
        match &self.fsync {
            Some(fsync) => {
                let _ = writeln!(
                    out,
                    "fsync rate of {}{}: {:.0} fsyncs/s (4 KiB overwrite + fdatasync, {}): the \
                     bound on one durable commit at a time, which group commit lifts.",
                    fsync.dir.display(),
                    fsync
                        .filesystem
                        .as_deref()
                        .map(|fs| format!(" ({fs})"))
                        .unwrap_or_default(),
                    fsync.per_second,
                    secs(FSYNC_PROBE)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "fsync rate: not measured (pass --data-dir with --endpoint to measure it)."
                );
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<8} {:<20} {:>7} {:>13} {:>9} {:>9} {:>9} {:>7} {:>10} {:>10}",
            "target",
            "workload",
            "clients",
            "executions/s",
            "p50 ms",
            "p99 ms",
            "p999 ms",
            "errors",
            "server cpu",
            "bench cpu"
        );
        for row in &self.rows {
            match &row.outcome {
                Outcome::Measured(stats) => {
                    let _ = writeln!(
                        out,
                        "{:<8} {:<20} {:>7} {:>13.1} {:>9} {:>9} {:>9} {:>7} {:>10} {:>10}",
                        row.target,
                        row.workload.name,
                        settings.clients,
                        stats.per_second,
                        millis(stats.p50),
                        millis(stats.p99),
                        millis(stats.p999),
                        stats.errors,
                        percent(stats.server_cpu),
                        percent(stats.client_cpu)
                    );
                }
                Outcome::Unavailable(why) => {
                    let _ = writeln!(
                        out,
                        "{:<8} {:<20} {:>7} cannot execute this workload: {why}",
                        row.target, row.workload.name, "-"
                    );
                }
            }
        }
        let mut notes = Vec::new();
        for row in &self.rows {
            let Outcome::Measured(stats) = &row.outcome else {
                continue;
            };
            if let Some(error) = &stats.first_error {
                notes.push(format!(
                    "{} {}: {} errors, the first: {error}",
                    row.target, row.workload.name, stats.errors
                ));
            }
            if stats.reconnects > 0 {
                notes.push(format!(
                    "{} {}: the server closed connections {} times (reconnected; {} does not \
                     keep connections alive)",
                    row.target,
                    row.workload.name,
                    stats.reconnects,
                    if row.target == "moto" {
                        "werkzeug's server, moto's, sends `Connection: close` and"
                    } else {
                        "it"
                    }
                ));
            }
            if let (Kind::Standard, Some(fsync)) = (row.workload.kind, &self.fsync)
                && row.target == self.target
                && fsync.per_second > 0.0
            {
                notes.push(format!(
                    "{} {}: {:.2} executions per fsync of the data dir's rate",
                    row.target,
                    row.workload.name,
                    stats.per_second / fsync.per_second
                ));
            }
        }
        if !notes.is_empty() {
            let _ = writeln!(out);
            for note in notes {
                let _ = writeln!(out, "note: {note}");
            }
        }
        match &self.moto {
            None => {}
            Some(Moto::NotRun(why)) => {
                let _ = writeln!(out);
                let _ = writeln!(out, "moto: not run: {why}");
            }
            Some(Moto::Ran { version, polled }) => {
                let _ = writeln!(out);
                let _ = writeln!(
                    out,
                    "{} / moto {version} (Step Functions execution on):",
                    self.target
                );
                for row in self.rows.iter().filter(|r| r.target == self.target) {
                    let moto = self
                        .rows
                        .iter()
                        .find(|r| r.target == "moto" && r.workload.name == row.workload.name);
                    let line = match (&row.outcome, moto.map(|m| &m.outcome)) {
                        (Outcome::Measured(ours), Some(Outcome::Measured(theirs)))
                            if theirs.per_second > 0.0 && ours.p50 > Duration::ZERO =>
                        {
                            format!(
                                "throughput x{:.1} ({:.0}/s vs {:.1}/s), p50 latency x{:.1} lower \
                                 ({} ms vs {} ms)",
                                ours.per_second / theirs.per_second,
                                ours.per_second,
                                theirs.per_second,
                                theirs.p50.as_secs_f64() / ours.p50.as_secs_f64(),
                                millis(ours.p50),
                                millis(theirs.p50)
                            )
                        }
                        (_, Some(Outcome::Unavailable(_))) => {
                            "n/a: moto cannot execute this workload (see above)".to_string()
                        }
                        (_, Some(Outcome::Measured(_))) => {
                            "n/a: no successful executions to compare".to_string()
                        }
                        (_, None) => "n/a: not run on moto".to_string(),
                    };
                    let _ = writeln!(out, "  {:<20} {line}", row.workload.name);
                }
                for name in polled {
                    let _ = writeln!(
                        out,
                        "  ({name} on moto: StartExecution of the EXPRESS machine, then \
                         DescribeExecution until its end: moto has no StartSyncExecution)"
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_nanos(500));
        assert_eq!(percentile(&v, 0.99), Duration::from_nanos(990));
        assert_eq!(percentile(&v, 0.999), Duration::from_nanos(999));
        assert_eq!(percentile(&[7], 0.999), Duration::from_nanos(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn the_seed_files_are_embedded_and_the_mock_config_stubs_the_task_machine() {
        let mock: Value = serde_json::from_str(MOCK_CONFIG).unwrap();
        assert!(mock["StateMachines"][MOCKED_MACHINE]["TestCases"][TEST_CASE].is_object());
        for text in [PASS_DEFINITION, LAMBDA_DEFINITION, EVENT] {
            serde_json::from_str::<Value>(text).unwrap();
        }
        assert!((900..=1200).contains(&EVENT.len()));
    }

    #[test]
    fn the_fsync_probe_counts_and_cleans_up() {
        let scratch = Scratch::new().unwrap();
        let fsync = measure_fsync(&scratch.path).unwrap();
        assert!(fsync.per_second > 0.0);
        assert_eq!(std::fs::read_dir(&scratch.path).unwrap().count(), 0);
    }
}
