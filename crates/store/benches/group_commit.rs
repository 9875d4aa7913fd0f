//! Group commit: how many durable commits per second one SQLite store takes from 1, 16 and 256
//! concurrent committers, and how many fsyncs that costs. Each commit is what a STANDARD
//! execution's transition writes: one execution update and two history events, about 1 KiB.
//!
//! First a closed-loop run per committer count (each committer commits again as soon as its
//! last commit is acknowledged), printed as a table with commits/s, fsyncs/s (from `stats()`),
//! commits per fsync and commit latency; then divan's per-round timings (a round = every
//! committer commits once, concurrently), whose throughput column reads as commits/s.
//!
//! `cargo bench -p sluice-store --bench group_commit`; `SLUICE_BENCH_DIR` puts the database
//! files on another disk (default: the system temp dir), `SLUICE_BENCH_SECS` sets the length of
//! each closed-loop run (default 3).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use divan::Bencher;
use divan::counter::ItemsCount;
use sluice_store::{EventRecord, ExecutionRecord, SqliteOptions, SqliteStore, Store, Write};

const COMMITTERS: &[usize] = &[1, 16, 256];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        closed_loop_report();
    }
    divan::main();
    let rounds = ROUNDS
        .lock()
        .map(|lines| lines.join("\n"))
        .unwrap_or_default();
    if !rounds.is_empty() {
        println!("\nfsyncs during the rounds above:\n{rounds}");
    }
}

/// What each divan bench saw of fsyncs, printed after divan's table.
static ROUNDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let base =
            std::env::var_os("SLUICE_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let path = base.join(format!(
            "sluice-store-bench-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime")
}

fn arn(committer: usize) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:bench:c{committer}")
}

fn execution(committer: usize, next_event_id: u64) -> ExecutionRecord {
    ExecutionRecord {
        arn: arn(committer),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:bench".into(),
        name: format!("c{committer}"),
        status: sluice_store::ExecutionStatus::Running,
        input: r#"{"tenant":"acme","vendor":"crowdstrike"}"#.into(),
        output: None,
        error: None,
        cause: None,
        start_ms: 1_700_000_000_000,
        stop_ms: None,
        redrive_count: 0,
        // Where the execution is: ~500 bytes of engine JSON.
        snapshot: Some(format!(
            r#"{{"state":"Enrich","visit":{next_event_id},"input":{{"event":"{}"}}}}"#,
            "e".repeat(440)
        )),
        next_event_id,
        revision_id: "rev-1".into(),
        alias_arn: None,
        redrive_ms: None,
    }
}

/// One transition of `committer`'s execution: the update and events `n`, `n + 1`.
fn transition(committer: usize, n: u64) -> Vec<Write> {
    let arn = arn(committer);
    let event = |id: u64| EventRecord {
        execution_arn: arn.clone(),
        id,
        body: format!(
            r#"{{"id":{id},"previousEventId":{},"type":"TaskStateEntered","stateEnteredEventDetails":{{"name":"Enrich","input":"{}"}}}}"#,
            id - 1,
            "i".repeat(120)
        ),
    };
    vec![
        Write::UpdateExecution(execution(committer, n + 2)),
        Write::AppendEvents(vec![event(n), event(n + 1)]),
    ]
}

/// A fresh store with one RUNNING execution per committer.
async fn prepared(scratch: &Scratch, committers: usize) -> SqliteStore {
    let mut options = SqliteOptions::default();
    if let Some(pages) = std::env::var("SLUICE_BENCH_CHECKPOINT_PAGES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        options.checkpoint_pages = pages;
    }
    let store =
        SqliteStore::open(&scratch.0.join("bench.db"), options).expect("opening the bench store");
    let writes = (0..committers)
        .map(|c| Write::InsertExecution(execution(c, 1)))
        .collect();
    store.commit(writes).await.expect("inserting executions");
    store
}

fn closed_loop_report() {
    let secs: f64 = std::env::var("SLUICE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let runtime = runtime();
    println!(
        "group commit, closed loop, {secs} s per row (commit = 1 execution update + 2 events, \
         ~1 KiB; WAL, synchronous=FULL)"
    );
    println!(
        "group = commits per transaction; apply/sync/ckpt = share of wall time the writer \
         spends in SQL, in COMMIT (WAL write + fsync), in checkpoints"
    );
    println!(
        "{:>10} {:>10} {:>9} {:>13} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7}",
        "committers",
        "commits/s",
        "fsyncs/s",
        "commits/fsync",
        "p50 ms",
        "p99 ms",
        "group",
        "KiB/group",
        "apply%",
        "sync%",
        "ckpt%"
    );
    for &committers in COMMITTERS {
        let scratch = Scratch::new("loop");
        runtime.block_on(async {
            let store = prepared(&scratch, committers).await;
            let before = store.stats();
            let start = Instant::now();
            let deadline = start + Duration::from_secs_f64(secs);
            let mut tasks = Vec::new();
            for committer in 0..committers {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut n = 1;
                    while Instant::now() < deadline {
                        let begun = Instant::now();
                        store
                            .commit(transition(committer, n))
                            .await
                            .expect("a commit");
                        latencies.push(begun.elapsed());
                        n += 2;
                    }
                    latencies
                }));
            }
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.expect("a committer"));
            }
            let elapsed = start.elapsed().as_secs_f64();
            let stats = store.stats();
            let commits = (stats.commits - before.commits) as f64;
            let fsyncs = (stats.fsyncs - before.fsyncs) as f64;
            let groups = (stats.groups - before.groups) as f64;
            latencies.sort();
            let quantile = |q: f64| {
                let index = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
                latencies[index].as_secs_f64() * 1000.0
            };
            let busy = |us: u64| us as f64 / 1e6 / elapsed * 100.0;
            println!(
                "{committers:>10} {:>10.0} {:>9.0} {:>13.1} {:>7.2} {:>7.2} {:>7.1} {:>9.0} {:>7.0} {:>7.0} {:>7.0}",
                commits / elapsed,
                fsyncs / elapsed,
                commits / fsyncs.max(1.0),
                quantile(0.5),
                quantile(0.99),
                commits / groups.max(1.0),
                (stats.wal_pages - before.wal_pages) as f64 * 4.0 / groups.max(1.0),
                busy(stats.apply_us - before.apply_us),
                busy(stats.sync_us - before.sync_us),
                busy(stats.checkpoint_us - before.checkpoint_us),
            );
            store.close().await.expect("closing");
        });
    }
    println!();
}

/// One round: every committer commits one transition, concurrently.
#[divan::bench(args = COMMITTERS, sample_count = 30, sample_size = 1)]
fn round(bencher: Bencher, committers: usize) {
    let runtime = runtime();
    let scratch = Scratch::new("round");
    let store = runtime.block_on(prepared(&scratch, committers));
    let next = Arc::new(AtomicU64::new(1));
    let before = store.stats();
    let start = Instant::now();
    bencher
        .counter(ItemsCount::new(committers))
        .bench_local(|| {
            let n = next.fetch_add(2, Ordering::Relaxed);
            runtime.block_on(async {
                let tasks: Vec<_> = (0..committers)
                    .map(|committer| {
                        let store = store.clone();
                        tokio::spawn(async move { store.commit(transition(committer, n)).await })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("a committer").expect("a commit");
                }
            });
        });
    let elapsed = start.elapsed().as_secs_f64();
    let stats = store.stats();
    let line = format!(
        "  rounds of {committers:>3}: {:.0} fsyncs/s, {:.1} commits per fsync",
        (stats.fsyncs - before.fsyncs) as f64 / elapsed,
        (stats.commits - before.commits) as f64 / (stats.fsyncs - before.fsyncs).max(1) as f64,
    );
    if let Ok(mut lines) = ROUNDS.lock() {
        lines.push(line);
    }
    runtime.block_on(store.close()).expect("closing");
}
