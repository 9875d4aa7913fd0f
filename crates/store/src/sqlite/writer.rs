//! The single writer and its group commit.
//!
//! Commits from every task queue on one channel. The writer takes the first, then everything
//! else already pending (up to `max_group_commits` commits or `max_group_bytes`), and runs them
//! in ONE transaction. If a commit fails (a conflict, a missing execution), the group is rolled
//! back and run again with each commit inside its own savepoint: the failing one is rolled back
//! to its savepoint and answered with its error while the others go on. One `COMMIT` — one fsync of the WAL — makes the whole group durable, and only then is
//! every waiter answered. While that fsync runs, the next group queues up: the busier the
//! store, the more commits share an fsync.
//!
//! Checkpoints (copying the WAL into the database file): SQLite's automatic checkpoint is
//! replaced by a WAL hook that records the WAL's size. Past `checkpoint_pages` the writer asks a
//! checkpointer thread (its own connection) for a PASSIVE checkpoint, which runs beside the
//! writer's next groups instead of stalling them (inline, one took ~6 ms every ~25 groups of
//! the STANDARD bench). Frames appended meanwhile keep the WAL from restarting, so once it
//! holds `CATCH_UP` times as many pages the writer checkpoints the remainder itself, between
//! groups, and the WAL starts over.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::codec;
use super::recent::Recent;
use super::{Counters, SqliteOptions, storage, to_i64};
use crate::{
    AliasRecord, Error, EventRecord, ExecutionRecord, StateMachineRecord, TimerRecord, Write,
};

pub(super) enum Msg {
    Commit(Job),
    /// One batch of the retention's deletions, in a transaction of its own.
    Purge(Purge),
    /// Stop accepting commits, drain the queue, checkpoint, close; then answer.
    Close(oneshot::Sender<Result<(), Error>>),
}

pub(super) struct Job {
    pub(super) writes: Vec<Write>,
    /// The writes' large columns, compressed by the committer (see [`codec::pack_writes`]) so
    /// that the single writer thread does not spend its time compressing.
    pub(super) packed: Vec<rusqlite::types::Value>,
    pub(super) bytes: usize,
    /// A failed commit's writes come back with its error, for a caller that retries them.
    pub(super) reply: oneshot::Sender<Result<(), (Error, Vec<Write>)>>,
}

/// [`crate::Store::purge_closed`]: at most `limit` executions that stopped before
/// `stopped_before_ms`.
pub(super) struct Purge {
    pub(super) stopped_before_ms: i64,
    pub(super) limit: usize,
    pub(super) reply: oneshot::Sender<Result<Vec<String>, Error>>,
}

/// The WAL length, in multiples of `checkpoint_pages`, at which the writer checkpoints inline.
const CATCH_UP: u32 = 8;

pub(super) struct Writer {
    conn: Connection,
    checkpointer: Option<Checkpointer>,
    /// The WAL length at which the checkpointer is asked next.
    background_from: u32,
    /// The advisory lock on the data file, released when the writer exits.
    _lock: File,
    counters: Arc<Counters>,
    recent: Arc<Recent>,
    wal_pages: Arc<AtomicU32>,
    max_group_commits: usize,
    max_group_bytes: usize,
    checkpoint_pages: u32,
}

impl Writer {
    pub(super) fn new(
        mut conn: Connection,
        path: &Path,
        lock: File,
        options: &SqliteOptions,
        counters: Arc<Counters>,
        recent: Arc<Recent>,
    ) -> Result<Self, Error> {
        let wal_pages = Arc::new(AtomicU32::new(0));
        let hook_pages = Arc::clone(&wal_pages);
        let hook_counters = Arc::clone(&counters);
        let mut last = 0;
        // Replaces SQLite's automatic checkpoint, which would run inside COMMIT. `pages` is the
        // WAL's length after a commit; it shrinks when the WAL restarts from its beginning.
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            let pages = u32::try_from(pages).unwrap_or(0);
            let appended = if pages < last { pages } else { pages - last };
            last = pages;
            hook_pages.store(pages, Ordering::Relaxed);
            hook_counters
                .wal_pages
                .fetch_add(u64::from(appended), Ordering::Relaxed);
            Ok(())
        }))
        .map_err(storage)?;
        let checkpointer = Checkpointer::start(path, Arc::clone(&counters))?;
        Ok(Self {
            conn,
            checkpointer: Some(checkpointer),
            background_from: options.checkpoint_pages.max(1),
            _lock: lock,
            counters,
            recent,
            wal_pages,
            max_group_commits: options.max_group_commits.max(1),
            max_group_bytes: options.max_group_bytes.max(1),
            checkpoint_pages: options.checkpoint_pages.max(1),
        })
    }

    /// Runs until every sender is gone (or a `Close` arrives) and the queue is empty.
    pub(super) fn run(mut self, mut queue: mpsc::Receiver<Msg>) {
        let mut closing: Vec<oneshot::Sender<Result<(), Error>>> = Vec::new();
        let mut held: Option<Job> = None;
        loop {
            let first = match held.take() {
                Some(job) => job,
                None => match queue.blocking_recv() {
                    Some(Msg::Commit(job)) => job,
                    Some(Msg::Purge(purge)) => {
                        self.purge(purge);
                        self.checkpoint_if_due();
                        continue;
                    }
                    Some(Msg::Close(ack)) => {
                        // Senders now fail; what is queued is still received, then None.
                        queue.close();
                        closing.push(ack);
                        continue;
                    }
                    None => break,
                },
            };
            let mut bytes = first.bytes;
            let mut group = vec![first];
            // A purge queued behind commits runs after their group, before later commits.
            let mut purge = None;
            while group.len() < self.max_group_commits {
                match queue.try_recv() {
                    Ok(Msg::Commit(job))
                        if bytes.saturating_add(job.bytes) > self.max_group_bytes =>
                    {
                        held = Some(job);
                        break;
                    }
                    Ok(Msg::Commit(job)) => {
                        bytes = bytes.saturating_add(job.bytes);
                        group.push(job);
                    }
                    Ok(Msg::Purge(job)) => {
                        purge = Some(job);
                        break;
                    }
                    Ok(Msg::Close(ack)) => {
                        queue.close();
                        closing.push(ack);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
            self.checkpoint_if_due();
            if let Some(purge) = purge {
                self.purge(purge);
                self.checkpoint_if_due();
            }
        }
        let result = self.finish();
        for ack in closing {
            let _ = ack.send(result.clone());
        }
    }

    /// Applies a group in one transaction, one savepoint per commit, and answers every commit.
    fn commit_group(&mut self, group: Vec<Job>) {
        let mut results: Vec<Result<(), Error>> = Vec::with_capacity(group.len());
        let outcome = self.apply_group(&group, &mut results);
        let mut changed = false;
        if let Err(error) = outcome {
            tracing::error!(%error, commits = group.len(), "store group commit failed");
            // Nothing of the group is durable: whatever had succeeded inside it fails too.
            for result in &mut results {
                if result.is_ok() {
                    *result = Err(error.clone());
                }
            }
            results.resize(group.len(), Err(error));
        } else {
            changed = group
                .iter()
                .zip(&results)
                .any(|(job, result)| result.is_ok() && !job.writes.is_empty());
        }

        let ok = results.iter().filter(|result| result.is_ok()).count() as u64;
        let counters = &self.counters;
        counters.groups.fetch_add(1, Ordering::Relaxed);
        counters
            .largest_group
            .fetch_max(group.len() as u64, Ordering::Relaxed);
        counters.commits.fetch_add(ok, Ordering::Relaxed);
        counters
            .rejected
            .fetch_add(group.len() as u64 - ok, Ordering::Relaxed);
        if changed {
            counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        tracing::trace!(commits = group.len(), ok, "store group committed");

        for (job, result) in group.into_iter().zip(results) {
            // A waiter that gave up (its future was dropped) still had its commit applied.
            match result {
                Ok(()) => {
                    // Before the answer: whoever was answered reads what was committed.
                    self.recent.apply(job.writes);
                    let _ = job.reply.send(Ok(()));
                }
                Err(error) => {
                    let _ = job.reply.send(Err((error, job.writes)));
                }
            }
        }
    }

    /// Runs the group's transaction. `Err` means the transaction as a whole failed and nothing
    /// of it is durable; `results` then holds the answers of the commits applied so far.
    fn apply_group(
        &mut self,
        group: &[Job],
        results: &mut Vec<Result<(), Error>>,
    ) -> Result<(), Error> {
        let conn = &self.conn;
        let begun = Instant::now();
        // Most groups have no failing commit: apply them without savepoints (which cost the
        // writer a journal of every page each commit touched). If one fails, the group is
        // rolled back and applied again the careful way, one savepoint per commit.
        run(conn, "BEGIN IMMEDIATE")?;
        let mut failed = None;
        for (n, job) in group.iter().enumerate() {
            if let Err(error) = apply(conn, &job.writes, &mut job.packed.iter()) {
                failed = Some((n, error));
                break;
            }
        }
        match failed {
            None => {
                results.extend(group.iter().map(|_| Ok(())));
                return self.commit_transaction(begun);
            }
            Some((_, error)) if group.len() == 1 => {
                rollback(conn);
                results.push(Err(error));
                return Ok(());
            }
            Some(_) => rollback(conn),
        }
        run(conn, "BEGIN IMMEDIATE")?;
        for job in group {
            if let Err(error) = run(conn, "SAVEPOINT sluice_commit") {
                rollback(conn);
                return Err(error);
            }
            match apply(conn, &job.writes, &mut job.packed.iter()) {
                Ok(()) => {
                    if let Err(error) = run(conn, "RELEASE sluice_commit") {
                        rollback(conn);
                        return Err(error);
                    }
                    results.push(Ok(()));
                }
                Err(error) => {
                    // SQLite may have rolled the whole transaction back (I/O error, disk
                    // full): then the group is lost, and continuing would run the remaining
                    // commits outside of any transaction.
                    if conn.is_autocommit() {
                        return Err(Error::Storage(format!(
                            "the group's transaction was aborted: {error}"
                        )));
                    }
                    let undone = run(conn, "ROLLBACK TO sluice_commit")
                        .and_then(|()| run(conn, "RELEASE sluice_commit"));
                    if let Err(undo_error) = undone {
                        rollback(conn);
                        return Err(undo_error);
                    }
                    results.push(Err(error));
                }
            }
        }
        self.commit_transaction(begun)
    }

    /// Runs one purge batch in its own transaction and answers it. A batch that finds nothing
    /// to delete rolls back: no fsync.
    fn purge(&mut self, job: Purge) {
        let conn = &self.conn;
        let begun = Instant::now();
        let result = run(conn, "BEGIN IMMEDIATE").and_then(|()| {
            match purge_closed(conn, job.stopped_before_ms, job.limit) {
                Ok(purged) if purged.is_empty() => {
                    rollback(conn);
                    Ok(purged)
                }
                Ok(purged) => self.commit_transaction(begun).map(|()| purged),
                Err(error) => {
                    rollback(conn);
                    Err(error)
                }
            }
        });
        match &result {
            Ok(purged) if !purged.is_empty() => {
                let counters = &self.counters;
                counters.fsyncs.fetch_add(1, Ordering::Relaxed);
                counters
                    .purged
                    .fetch_add(purged.len() as u64, Ordering::Relaxed);
                // Before the answer, as after a commit: nobody reads a purged execution back.
                self.recent.forget(purged);
                tracing::debug!(executions = purged.len(), "store purged closed executions");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "store purge failed"),
        }
        let _ = job.reply.send(result);
    }

    /// `COMMIT`s the group's transaction (its fsync included).
    fn commit_transaction(&self, begun: Instant) -> Result<(), Error> {
        let conn = &self.conn;
        let applied = Instant::now();
        let committed = run(conn, "COMMIT");
        add_micros(&self.counters.apply_us, applied - begun);
        add_micros(&self.counters.sync_us, applied.elapsed());
        if let Err(error) = committed {
            rollback(conn);
            return Err(error);
        }
        Ok(())
    }

    fn checkpoint_if_due(&mut self) {
        let pages = self.wal_pages.load(Ordering::Relaxed);
        if pages < self.background_from.saturating_sub(self.checkpoint_pages) {
            // The WAL restarted.
            self.background_from = self.checkpoint_pages;
        }
        if pages >= self.checkpoint_pages.saturating_mul(CATCH_UP) {
            self.checkpoint();
            self.background_from = self.checkpoint_pages;
        } else if pages >= self.background_from {
            // Once per `checkpoint_pages` of growth: the WAL stays long until it restarts,
            // and asking after every group would keep the checkpointer (and the disk) busy
            // copying a few frames at a time.
            self.background_from = pages.saturating_add(self.checkpoint_pages);
            match &self.checkpointer {
                Some(checkpointer) => checkpointer.request(),
                None => self.checkpoint(),
            }
        }
    }

    fn checkpoint(&mut self) {
        if checkpoint_passive(&self.conn, &self.counters) {
            self.wal_pages.store(0, Ordering::Relaxed);
        }
    }

    /// The last checkpoint, then closes the connection (which checkpoints again and removes
    /// the WAL if no reader holds the file).
    fn finish(mut self) -> Result<(), Error> {
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
        self.checkpoint();
        let Self { conn, .. } = self;
        conn.close().map_err(|(_, e)| storage(e))
    }
}

/// The checkpointer thread: PASSIVE checkpoints on request, on its own connection.
struct Checkpointer {
    /// Capacity 1: requests made while one is pending coalesce.
    requests: std_mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    fn start(path: &Path, counters: Arc<Counters>) -> Result<Self, Error> {
        let conn = Connection::open(path).map_err(storage)?;
        // Never checkpoint on its own (it would run inside this connection's statements).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(storage)?;
        // A connection joins the WAL when it first reads the file; until then a checkpoint on
        // it does nothing (SQLite answers -1 frames).
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .map_err(storage)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Storage(format!(
                "the checkpointer's connection is in {mode} mode, not WAL"
            )));
        }
        let (requests, pending) = std_mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sluice-store-checkpointer".into())
            .spawn(move || {
                while pending.recv().is_ok() {
                    checkpoint_passive(&conn, &counters);
                }
            })
            .map_err(|e| Error::Storage(format!("starting the checkpointer thread: {e}")))?;
        Ok(Self { requests, thread })
    }

    fn request(&self) {
        let _ = self.requests.try_send(());
    }

    /// Lets a running checkpoint finish, then ends the thread.
    fn stop(self) {
        drop(self.requests);
        if self.thread.join().is_err() {
            tracing::error!("the store checkpointer thread panicked");
        }
    }
}

/// One PASSIVE checkpoint (copies what no reader still needs; never waits for locks).
fn checkpoint_passive(conn: &Connection, counters: &Counters) -> bool {
    let begun = Instant::now();
    let result = conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE);
    add_micros(&counters.checkpoint_us, begun.elapsed());
    match result {
        Ok((_, copied)) => {
            counters.checkpoints.fetch_add(1, Ordering::Relaxed);
            if copied > 0 {
                // The WAL, then the database file.
                counters.fsyncs.fetch_add(2, Ordering::Relaxed);
            }
            true
        }
        Err(error) => {
            tracing::warn!(%error, "store checkpoint failed");
            false
        }
    }
}

fn add_micros(counter: &AtomicU64, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    counter.fetch_add(micros, Ordering::Relaxed);
}

fn run(conn: &Connection, sql: &str) -> Result<(), Error> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(drop)
        .map_err(storage)
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(error) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(%error, "store rollback failed");
    }
}

/// Applies one commit's writes; the caller's savepoint undoes them on error.
fn apply(
    conn: &Connection,
    writes: &[Write],
    packed: &mut std::slice::Iter<'_, rusqlite::types::Value>,
) -> Result<(), Error> {
    // The commit that starts an execution (the execution and its first events): one row.
    if let Some((execution, events)) = codec::starts_history(writes) {
        return insert_execution(conn, execution, Some(events), packed);
    }
    for write in writes {
        match write {
            Write::PutStateMachine(machine) => put_state_machine(conn, machine)?,
            Write::DeleteStateMachine { arn } => {
                // A version ARN matches no alias's machine: only a machine takes its aliases.
                for sql in [
                    "DELETE FROM state_machines WHERE arn = ?1 OR machine_arn = ?1",
                    "DELETE FROM aliases WHERE machine_arn = ?1",
                ] {
                    conn.prepare_cached(sql)
                        .and_then(|mut statement| statement.execute([arn]))
                        .map_err(storage)?;
                }
            }
            Write::PutAlias(alias) => put_alias(conn, alias)?,
            Write::DeleteAlias { arn } => {
                conn.prepare_cached("DELETE FROM aliases WHERE arn = ?1")
                    .and_then(|mut statement| statement.execute([arn]))
                    .map_err(storage)?;
            }
            Write::InsertExecution(execution) => insert_execution(conn, execution, None, packed)?,
            Write::UpdateExecution(execution) => update_execution(conn, execution, packed)?,
            Write::AppendEvents(events) => append_events(conn, events, packed)?,
            Write::PutTimer(timer) => put_timer(conn, timer)?,
            Write::PutActivity(activity) => {
                let tags = serde_json::to_string(&activity.tags)
                    .map_err(|e| Error::Storage(e.to_string()))?;
                conn.prepare_cached(
                    "INSERT INTO activities (arn, name, created_ms, tags) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (arn) DO UPDATE SET
                         name = excluded.name, created_ms = excluded.created_ms,
                         tags = excluded.tags",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        activity.arn,
                        activity.name,
                        activity.created_ms,
                        tags
                    ])
                })
                .map_err(storage)?;
            }
            Write::PutQueue(queue) => {
                let tags = serde_json::to_string(&queue.tags)
                    .map_err(|e| Error::Storage(e.to_string()))?;
                conn.prepare_cached(
                    "INSERT INTO queues (arn, name, created_ms, modified_ms, attributes, tags)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (arn) DO UPDATE SET
                         name = excluded.name, created_ms = excluded.created_ms,
                         modified_ms = excluded.modified_ms,
                         attributes = excluded.attributes, tags = excluded.tags",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        queue.arn,
                        queue.name,
                        queue.created_ms,
                        queue.modified_ms,
                        queue.attributes,
                        tags
                    ])
                })
                .map_err(storage)?;
            }
            Write::DeleteQueue { arn } => {
                for sql in [
                    "DELETE FROM dedup WHERE queue = ?1",
                    "DELETE FROM messages WHERE queue = ?1",
                    "DELETE FROM queues WHERE arn = ?1",
                ] {
                    conn.prepare_cached(sql)
                        .and_then(|mut statement| statement.execute([arn]))
                        .map_err(storage)?;
                }
            }
            Write::SendMessage(message) => {
                let seq = to_i64(message.seq, "message seq")?;
                let delivery = &message.delivery;
                conn.prepare_cached(
                    "INSERT INTO messages
                         (queue, seq, visible_ms, receive_count, first_receive_ms, receipt, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        message.queue,
                        seq,
                        delivery.visible_ms,
                        delivery.receive_count,
                        delivery.first_receive_ms,
                        delivery.receipt,
                        message.body
                    ])
                })
                .map_err(|e| {
                    if is_constraint(&e) {
                        Error::Conflict {
                            what: format!(
                                "message {} of {} already exists",
                                message.seq, message.queue
                            ),
                        }
                    } else {
                        storage(e)
                    }
                })?;
            }
            Write::ReceiveMessage {
                queue,
                seq,
                delivery,
            } => {
                let seq = to_i64(*seq, "message seq")?;
                conn.prepare_cached(
                    "UPDATE messages SET visible_ms = ?3, receive_count = ?4,
                         first_receive_ms = ?5, receipt = ?6
                     WHERE queue = ?1 AND seq = ?2",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        queue,
                        seq,
                        delivery.visible_ms,
                        delivery.receive_count,
                        delivery.first_receive_ms,
                        delivery.receipt
                    ])
                })
                .map_err(storage)?;
            }
            Write::DeleteMessage { queue, seq } => {
                let seq = to_i64(*seq, "message seq")?;
                conn.prepare_cached("DELETE FROM messages WHERE queue = ?1 AND seq = ?2")
                    .and_then(|mut statement| statement.execute(params![queue, seq]))
                    .map_err(storage)?;
            }
            Write::PutDedup { record, now_ms } => {
                let sequence = to_i64(record.sequence, "dedup sequence")?;
                for (sql, with_record) in [
                    (
                        "DELETE FROM dedup WHERE queue = ?1 AND expires_ms <= ?2",
                        false,
                    ),
                    (
                        "INSERT INTO dedup (queue, key, message_id, sequence, expires_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (queue, key) DO UPDATE SET
                             message_id = excluded.message_id, sequence = excluded.sequence,
                             expires_ms = excluded.expires_ms",
                        true,
                    ),
                ] {
                    let mut statement = conn.prepare_cached(sql).map_err(storage)?;
                    let done = if with_record {
                        statement.execute(params![
                            record.queue,
                            record.key,
                            record.message_id,
                            sequence,
                            record.expires_ms
                        ])
                    } else {
                        statement.execute(params![record.queue, now_ms])
                    };
                    done.map_err(storage)?;
                }
            }
            Write::PutResource(record) => {
                conn.prepare_cached(
                    "INSERT INTO resources (kind, key, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                )
                .and_then(|mut statement| {
                    statement.execute(params![record.kind, record.key, record.body])
                })
                .map_err(storage)?;
            }
            Write::DeleteResource { kind, key } => {
                conn.prepare_cached("DELETE FROM resources WHERE kind = ?1 AND key = ?2")
                    .and_then(|mut statement| statement.execute(params![kind, key]))
                    .map_err(storage)?;
            }
            Write::PutStreamRecords(records) => {
                let mut statement = conn
                    .prepare_cached(
                        "INSERT INTO stream_records
                             (stream, shard, seq, arrival_ms, partition_key, data)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )
                    .map_err(storage)?;
                for record in records {
                    let seq = to_i64(record.seq, "stream record seq")?;
                    statement
                        .execute(params![
                            record.stream,
                            record.shard,
                            seq,
                            record.arrival_ms,
                            record.partition_key,
                            record.data
                        ])
                        .map_err(|e| {
                            if is_constraint(&e) {
                                Error::Conflict {
                                    what: format!(
                                        "record {} of stream {} already exists",
                                        record.seq, record.stream
                                    ),
                                }
                            } else {
                                storage(e)
                            }
                        })?;
                }
            }
            Write::TrimStreamRecords { stream, before_ms } => {
                conn.prepare_cached(
                    "DELETE FROM stream_records WHERE stream = ?1 AND arrival_ms < ?2",
                )
                .and_then(|mut statement| statement.execute(params![stream, before_ms]))
                .map_err(storage)?;
            }
            Write::DeleteStreamRecords { stream } => {
                conn.prepare_cached("DELETE FROM stream_records WHERE stream = ?1")
                    .and_then(|mut statement| statement.execute([stream]))
                    .map_err(storage)?;
            }
            Write::PurgeQueue { queue } => {
                conn.prepare_cached("DELETE FROM messages WHERE queue = ?1")
                    .and_then(|mut statement| statement.execute([queue]))
                    .map_err(storage)?;
            }
            Write::DeleteActivity { arn } => {
                conn.prepare_cached("DELETE FROM activities WHERE arn = ?1")
                    .and_then(|mut statement| statement.execute([arn]))
                    .map_err(storage)?;
            }
            Write::PutMapRun(run) => {
                conn.prepare_cached(
                    "INSERT INTO map_runs (arn, execution_arn, start_ms, body)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (arn) DO UPDATE SET
                         execution_arn = excluded.execution_arn,
                         start_ms = excluded.start_ms, body = excluded.body",
                )
                .and_then(|mut statement| {
                    statement.execute(params![run.arn, run.execution_arn, run.start_ms, run.body])
                })
                .map_err(storage)?;
            }
            Write::DeleteTimer { execution_arn, key } => {
                conn.prepare_cached(
                    "DELETE FROM timers WHERE execution_arn = ?1 AND timer_key = ?2",
                )
                .and_then(|mut statement| statement.execute([execution_arn, key]))
                .map_err(storage)?;
            }
            Write::DeleteExecution { arn } => {
                for sql in [
                    "DELETE FROM event_batches
                     WHERE execution = (SELECT seq FROM executions WHERE arn = ?1)",
                    "DELETE FROM timers WHERE execution_arn = ?1",
                    "DELETE FROM map_runs WHERE execution_arn = ?1",
                    "DELETE FROM executions WHERE arn = ?1",
                ] {
                    conn.prepare_cached(sql)
                        .and_then(|mut statement| statement.execute([arn]))
                        .map_err(storage)?;
                }
            }
        }
    }
    Ok(())
}

/// The executions one purge batch deletes: oldest stop first, through the partial index
/// `executions_closed` (whose condition the query repeats, or SQLite would not use it).
pub(super) const EXPIRED_SQL: &str = "SELECT seq, arn, machine_arn, revision_id FROM executions
     WHERE (status = 'SUCCEEDED' OR status = 'FAILED' OR status = 'TIMED_OUT'
         OR status = 'ABORTED')
         AND stop_ms < ?1
     ORDER BY stop_ms LIMIT ?2";

/// Drops a revision nothing refers to anymore: no machine or version holds it, no execution
/// runs it (`executions_by_revision`).
pub(super) const DROP_REVISION_SQL: &str = "DELETE FROM machine_revisions
     WHERE machine_arn = ?1 AND revision_id = ?2
         AND NOT EXISTS (SELECT 1 FROM state_machines WHERE machine_arn = ?1 AND revision_id = ?2)
         AND NOT EXISTS (SELECT 1 FROM executions WHERE revision_id = ?2 AND machine_arn = ?1)";

/// One purge batch, inside the caller's transaction: see [`crate::Store::purge_closed`].
fn purge_closed(
    conn: &Connection,
    stopped_before_ms: i64,
    limit: usize,
) -> Result<Vec<String>, Error> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    type Expired = (i64, String, Option<String>, Option<String>);
    let expired: Vec<Expired> = conn
        .prepare_cached(EXPIRED_SQL)
        .and_then(|mut statement| {
            statement
                .query_map(params![stopped_before_ms, limit], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
        })
        .map_err(storage)?;
    let mut revisions = std::collections::BTreeSet::new();
    let mut purged = Vec::with_capacity(expired.len());
    for (seq, arn, machine, revision) in expired {
        conn.prepare_cached("DELETE FROM event_batches WHERE execution = ?1")
            .and_then(|mut statement| statement.execute([seq]))
            .map_err(storage)?;
        for sql in [
            "DELETE FROM timers WHERE execution_arn = ?1",
            "DELETE FROM map_runs WHERE execution_arn = ?1",
        ] {
            conn.prepare_cached(sql)
                .and_then(|mut statement| statement.execute([&arn]))
                .map_err(storage)?;
        }
        conn.prepare_cached("DELETE FROM executions WHERE seq = ?1")
            .and_then(|mut statement| statement.execute([seq]))
            .map_err(storage)?;
        if let (Some(machine), Some(revision)) = (machine, revision)
            && !revision.is_empty()
        {
            revisions.insert((machine, revision));
        }
        purged.push(arn);
    }
    for (machine, revision) in revisions {
        conn.prepare_cached(DROP_REVISION_SQL)
            .and_then(|mut statement| statement.execute([&machine, &revision]))
            .map_err(storage)?;
    }
    Ok(purged)
}

fn put_state_machine(conn: &Connection, machine: &StateMachineRecord) -> Result<(), Error> {
    let tags = serde_json::to_string(&machine.tags).map_err(|e| Error::Storage(e.to_string()))?;
    let version = machine.version.map(|v| to_i64(v, "version")).transpose()?;
    let mut statement = conn
        .prepare_cached(
            "INSERT INTO state_machines (arn, machine_arn, version, name, machine_type, definition,
                 role_arn, description, created_ms, updated_ms, revision_id, tags, extra)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (arn) DO UPDATE SET
                 machine_arn = excluded.machine_arn, version = excluded.version,
                 name = excluded.name, machine_type = excluded.machine_type,
                 definition = excluded.definition, role_arn = excluded.role_arn,
                 description = excluded.description, created_ms = excluded.created_ms,
                 updated_ms = excluded.updated_ms, revision_id = excluded.revision_id,
                 tags = excluded.tags, extra = excluded.extra",
        )
        .map_err(storage)?;
    statement
        .execute(params![
            machine.arn,
            machine.machine_arn(),
            version,
            machine.name,
            machine.machine_type.as_str(),
            machine.definition,
            machine.role_arn,
            machine.description,
            machine.created_ms,
            machine.updated_ms,
            machine.revision_id,
            tags,
            machine.extra,
        ])
        .map_err(storage)?;
    // The revision stays readable after the machine moves on (or is deleted).
    conn.prepare_cached(
        "INSERT OR IGNORE INTO machine_revisions
             (machine_arn, revision_id, machine_type, definition, role_arn, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            machine.machine_arn(),
            machine.revision_id,
            machine.machine_type.as_str(),
            machine.definition,
            machine.role_arn,
            machine.updated_ms,
        ])
    })
    .map_err(storage)?;
    Ok(())
}

fn put_alias(conn: &Connection, alias: &AliasRecord) -> Result<(), Error> {
    let routing =
        serde_json::to_string(&alias.routing).map_err(|e| Error::Storage(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO aliases (arn, machine_arn, name, description, routing, created_ms,
             updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (arn) DO UPDATE SET
             machine_arn = excluded.machine_arn, name = excluded.name,
             description = excluded.description, routing = excluded.routing,
             created_ms = excluded.created_ms, updated_ms = excluded.updated_ms",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            alias.arn,
            alias.machine_arn,
            alias.name,
            alias.description,
            routing,
            alias.created_ms,
            alias.updated_ms,
        ])
    })
    .map_err(storage)?;
    Ok(())
}

/// Inserts an execution and, if given, its first events (one batch, see
/// [`codec::starts_history`]).
fn insert_execution(
    conn: &Connection,
    execution: &ExecutionRecord,
    first_events: Option<&[EventRecord]>,
    packed: &mut std::slice::Iter<'_, rusqlite::types::Value>,
) -> Result<(), Error> {
    let [input, output, snapshot] = codec::take(packed)?;
    let (first_events, first_events_last) = match first_events {
        Some(events) => {
            let [body] = codec::take(packed)?;
            let last = events.last().map_or(0, |e| e.id);
            (body, Some(to_i64(last, "event id")?))
        }
        None => (&rusqlite::types::Value::Null, None),
    };
    let mut statement = conn
        .prepare_cached(
            "INSERT INTO executions (arn, state_machine_arn, name, status, input, output, error,
                 cause, start_ms, stop_ms, redrive_count, snapshot, next_event_id, machine_arn,
                 revision_id, alias_arn, redrive_ms, first_events, first_events_last)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19)",
        )
        .map_err(storage)?;
    let next_event_id = to_i64(execution.next_event_id, "next_event_id")?;
    match statement.execute(params![
        execution.arn,
        execution.state_machine_arn,
        execution.name,
        execution.status.as_str(),
        input,
        output,
        execution.error,
        execution.cause,
        execution.start_ms,
        execution.stop_ms,
        execution.redrive_count,
        snapshot,
        next_event_id,
        execution.machine_arn(),
        execution.revision_id,
        execution.alias_arn,
        execution.redrive_ms,
        first_events,
        first_events_last,
    ]) {
        Ok(_) => Ok(()),
        Err(e) if is_constraint(&e) => Err(Error::Conflict {
            what: format!("execution {} already exists", execution.arn),
        }),
        Err(e) => Err(storage(e)),
    }
}

/// Replaces an execution. Three statements so that an ordinary transition rewrites the row
/// only: SQLite rewrites the index entries of every indexed column an UPDATE sets, changed or
/// not, and status, machine, alias, revision and start time are indexed but rarely change
/// (`stop_ms` is indexed too, but only for closed executions, which transitions do not update).
fn update_execution(
    conn: &Connection,
    execution: &ExecutionRecord,
    packed: &mut std::slice::Iter<'_, rusqlite::types::Value>,
) -> Result<(), Error> {
    let [input, output, snapshot] = codec::take(packed)?;
    let next_event_id = to_i64(execution.next_event_id, "next_event_id")?;
    let changed = conn
        .prepare_cached(
            "UPDATE executions SET output = ?2, error = ?3, cause = ?4, stop_ms = ?5,
                 redrive_count = ?6, snapshot = ?7, next_event_id = ?8, redrive_ms = ?9
             WHERE arn = ?1",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                execution.arn,
                output,
                execution.error,
                execution.cause,
                execution.stop_ms,
                execution.redrive_count,
                snapshot,
                next_event_id,
                execution.redrive_ms,
            ])
        })
        .map_err(storage)?;
    if changed == 0 {
        return Err(Error::NotFound {
            what: format!("execution {}", execution.arn),
        });
    }
    conn.prepare_cached("UPDATE executions SET status = ?2 WHERE arn = ?1 AND status <> ?2")
        .and_then(|mut statement| {
            statement.execute(params![execution.arn, execution.status.as_str()])
        })
        .map_err(storage)?;
    // An input kept in the ExecutionStarted event of the row (stored as '') stays there.
    conn.prepare_cached(
        "UPDATE executions SET state_machine_arn = ?2, name = ?3,
             input = CASE WHEN input = '' THEN input ELSE ?4 END, start_ms = ?5,
             machine_arn = ?6, alias_arn = ?7, revision_id = ?8
         WHERE arn = ?1 AND (state_machine_arn <> ?2 OR name <> ?3
             OR (input <> ?4 AND input <> '') OR start_ms <> ?5 OR machine_arn IS NOT ?6
             OR alias_arn IS NOT ?7 OR revision_id IS NOT ?8)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            execution.arn,
            execution.state_machine_arn,
            execution.name,
            input,
            execution.start_ms,
            execution.machine_arn(),
            execution.alias_arn,
            execution.revision_id,
        ])
    })
    .map_err(storage)?;
    Ok(())
}

fn append_events(
    conn: &Connection,
    events: &[EventRecord],
    packed: &mut std::slice::Iter<'_, rusqlite::types::Value>,
) -> Result<(), Error> {
    for batch in codec::batches(events) {
        let batch = &events[batch];
        let [body] = codec::take(packed)?;
        let (first, last) = match batch {
            [first, .., last] => (first, last),
            [one] => (one, one),
            [] => continue,
        };
        let arn = &first.execution_arn;
        let first_id = to_i64(first.id, "event id")?;
        let last_id = to_i64(last.id, "event id")?;
        let execution: Option<(i64, Option<i64>)> = conn
            .prepare_cached("SELECT seq, first_events_last FROM executions WHERE arn = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([arn], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(storage)?;
        let Some((execution, inline_last)) = execution else {
            return Err(Error::NotFound {
                what: format!("execution {arn} (history is appended to an execution that exists)"),
            });
        };
        // The events stored in the execution's row hold ids 1..=inline_last.
        if let Some(inline_last) = inline_last.filter(|last| *last >= first_id) {
            return Err(Error::Conflict {
                what: format!(
                    "event {} of execution {arn} is already recorded",
                    inline_last.clamp(first_id, last_id)
                ),
            });
        }
        // Batches never overlap: the one starting last at or before `last_id` is the only
        // one that could.
        let overlapping: Option<i64> = conn
            .prepare_cached(
                "SELECT last_id FROM event_batches WHERE execution = ?1 AND first_id <= ?2
                 ORDER BY first_id DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![execution, last_id], |row| row.get(0))
                    .optional()
            })
            .map_err(storage)?;
        if let Some(end) = overlapping.filter(|end| *end >= first_id) {
            return Err(Error::Conflict {
                what: format!(
                    "event {} of execution {arn} is already recorded",
                    end.clamp(first_id, last_id)
                ),
            });
        }
        conn.prepare_cached(
            "INSERT INTO event_batches (execution, first_id, last_id, body)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut statement| statement.execute(params![execution, first_id, last_id, body]))
        .map_err(storage)?;
    }
    Ok(())
}

fn put_timer(conn: &Connection, timer: &TimerRecord) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT INTO timers (execution_arn, timer_key, due_ms, payload) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (execution_arn, timer_key)
         DO UPDATE SET due_ms = excluded.due_ms, payload = excluded.payload",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            timer.execution_arn,
            timer.key,
            timer.due_ms,
            timer.payload
        ])
    })
    .map_err(storage)?;
    Ok(())
}

fn is_constraint(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation)
}
