//! `kill -9` in the middle of group commits loses nothing acknowledged and leaves nothing half
//! done.
//!
//! The parent test re-runs this test binary as a child (`crash_writer_child`, selected by the
//! `SLUICE_STORE_CRASH_DB` environment variable), whose many tasks commit numbered batches and
//! print each id to stdout the moment its commit resolves. The parent kills the child with
//! SIGKILL at a random moment, reopens the store and checks that every printed id is there, and
//! that every batch in the store is whole. Five rounds on the same file, each under two seconds.
//! `SLUICE_CRASH_SEED=<n>` replays a run's kill times.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{TempDir, execution, timer};
use sluice_store::ExecutionStatus;
use sluice_store::{
    EventRecord, ExecutionFilter, SqliteOptions, SqliteStore, Store, TimerRecord, Write,
};

const CHILD_DB: &str = "SLUICE_STORE_CRASH_DB";
const CHILD_ROUND: &str = "SLUICE_STORE_CRASH_ROUND";
const ROUNDS: u64 = 5;
const TASKS: u64 = 32;

fn exec_name(id: u64) -> String {
    format!("b{id}")
}

fn event_body(id: u64, n: u64) -> String {
    format!(
        r#"{{"batch":{id},"event":{n},"pad":"{}"}}"#,
        "x".repeat(200)
    )
}

/// Batch `id`, first commit: the execution, events 1..=3 and a timer, together.
fn start_batch(id: u64) -> Vec<Write> {
    let mut record = execution("crash", &exec_name(id), id as i64);
    record.input = format!(r#"{{"batch":{id}}}"#);
    record.next_event_id = 4;
    let arn = record.arn.clone();
    vec![
        Write::InsertExecution(record),
        Write::AppendEvents(
            (1..=3)
                .map(|n| EventRecord {
                    execution_arn: arn.clone(),
                    id: n,
                    body: event_body(id, n),
                })
                .collect(),
        ),
        Write::PutTimer(TimerRecord {
            payload: format!(r#"{{"batch":{id}}}"#),
            ..timer(&arn, "wait", id as i64)
        }),
    ]
}

/// Batch `id`, second commit: SUCCEEDED, event 4, timer gone, together.
fn finish_batch(id: u64) -> Vec<Write> {
    let mut record = execution("crash", &exec_name(id), id as i64);
    record.input = format!(r#"{{"batch":{id}}}"#);
    record.status = ExecutionStatus::Succeeded;
    record.output = Some(format!(r#"{{"batch":{id}}}"#));
    record.next_event_id = 5;
    let arn = record.arn.clone();
    vec![
        Write::UpdateExecution(record),
        Write::AppendEvents(vec![EventRecord {
            execution_arn: arn.clone(),
            id: 4,
            body: event_body(id, 4),
        }]),
        Write::DeleteTimer {
            execution_arn: arn,
            key: "wait".into(),
        },
    ]
}

/// The child: commits batches from many tasks until it is killed, printing each acknowledged
/// commit. Does nothing when run as an ordinary test.
#[test]
fn crash_writer_child() {
    let Ok(db) = std::env::var(CHILD_DB) else {
        return;
    };
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(db.as_ref(), SqliteOptions::default()).unwrap();
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for seq in 0.. {
                    let id = round * 1_000_000_000 + task * 1_000_000 + seq;
                    store.commit(start_batch(id)).await.unwrap();
                    acknowledge("started", id);
                    if seq % 2 == 0 {
                        store.commit(finish_batch(id)).await.unwrap();
                        acknowledge("finished", id);
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn acknowledge(what: &str, id: u64) {
    let mut out = std::io::stdout().lock();
    // One write per line, well under PIPE_BUF: a kill cannot tear it.
    out.write_all(format!("{what} {id}\n").as_bytes()).unwrap();
    out.flush().unwrap();
}

#[test]
fn crash_kill_9_loses_nothing_acknowledged() {
    let dir = TempDir::new("crash");
    let db = dir.db();
    let exe = std::env::current_exe().unwrap();
    let seed = std::env::var("SLUICE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (SLUICE_CRASH_SEED={seed} replays the kill times)");
    let mut rng = seed;
    let mut started = BTreeSet::new();
    let mut finished = BTreeSet::new();

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &db)
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            while stdout.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                // Only whole lines count.
                if line.ends_with(b"\n") {
                    let _ = lines_tx.send(String::from_utf8_lossy(&line).trim().to_owned());
                }
                line.clear();
            }
        });

        // Wait until it commits, then let it run a random while (up to 1.5 s) and kill it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut early = Vec::new();
        loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the child acknowledges a commit");
            let acked = line.starts_with("started ");
            early.push(line);
            if acked {
                break;
            }
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let pause = Duration::from_millis(20 + rng % 1500);
        std::thread::sleep(pause);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();

        let (mut round_started, mut round_finished) = (0, 0);
        for line in early.into_iter().chain(lines.try_iter()) {
            if let Some(id) = line.strip_prefix("started ") {
                started.insert(id.parse::<u64>().unwrap());
                round_started += 1;
            } else if let Some(id) = line.strip_prefix("finished ") {
                finished.insert(id.parse::<u64>().unwrap());
                round_finished += 1;
            }
        }
        eprintln!(
            "round {round}: killed after {pause:?}; {round_started} batches started and \
             {round_finished} finished were acknowledged"
        );
        verify(&db, &started, &finished);
    }
    assert!(!started.is_empty() && !finished.is_empty());
}

/// Every acknowledged commit is there; every batch in the store is whole, in exactly one of
/// its two acknowledged shapes.
fn verify(db: &std::path::Path, started: &BTreeSet<u64>, finished: &BTreeSet<u64>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(db, SqliteOptions::default()).unwrap();
        let all_timers = store.timers().await.unwrap();
        let mut timers_of = std::collections::HashMap::<&str, usize>::new();
        for timer in &all_timers {
            *timers_of.entry(timer.execution_arn.as_str()).or_default() += 1;
        }
        let mut stored = BTreeSet::new();
        let mut token: Option<String> = None;
        let mut running = 0;
        loop {
            let page = store
                .executions(ExecutionFilter::default(), token.as_deref(), 500)
                .await
                .unwrap();
            for record in &page.items {
                let id: u64 = record.name[1..].parse().unwrap();
                stored.insert(id);
                assert_eq!(record.input, format!(r#"{{"batch":{id}}}"#));
                let events = store
                    .events(&record.arn, None, 100, false)
                    .await
                    .unwrap()
                    .items;
                let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
                for event in &events {
                    assert_eq!(event.body, event_body(id, event.id), "batch {id}");
                }
                let timers = timers_of.get(record.arn.as_str()).copied().unwrap_or(0);
                match record.status.as_str() {
                    "RUNNING" => {
                        running += 1;
                        assert_eq!(ids, [1, 2, 3], "batch {id}: a partial start");
                        assert_eq!(timers, 1, "batch {id}: a start without its timer");
                        assert!(
                            !finished.contains(&id),
                            "batch {id}: acknowledged finish lost"
                        );
                    }
                    "SUCCEEDED" => {
                        assert_eq!(ids, [1, 2, 3, 4], "batch {id}: a partial finish");
                        assert_eq!(timers, 0, "batch {id}: a finish kept its timer");
                        assert_eq!(record.next_event_id, 5);
                    }
                    other => panic!("batch {id}: status {other}"),
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let lost: Vec<_> = started.difference(&stored).collect();
        assert!(lost.is_empty(), "acknowledged batches lost: {lost:?}");
        assert_eq!(all_timers.len(), running, "timers of no running batch");
        store.close().await.unwrap();
    });
}
