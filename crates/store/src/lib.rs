//! `sluice-store`: Sluice's durable state.
//!
//! **What it owns.** The [`Store`] trait — state machines, their published versions, aliases
//! and the revisions executions run, executions, history events and timers, changed only through atomic [`Store::commit`]s of
//! [`Write`]s (and the retention's [`Store::purge_closed`]) and read through a handful of
//! listings — and its embedded implementation,
//! [`SqliteStore`]: one SQLite file in WAL mode with `synchronous=FULL`, a single writer thread
//! that *group-commits* (every commit pending when the writer wakes shares one transaction and
//! one fsync; a failing commit is isolated by a savepoint so it does not sink the others),
//! read-only connections on reader threads, versioned schema migrations
//! (`migrations/sqlite/*.sql`, `PRAGMA user_version`) and counters ([`Stats`]).
//!
//! **The contract.** A commit resolves `Ok` only once it is durable: after a `kill -9` or a
//! power cut, every acknowledged commit is there, whole, and no failed or unacknowledged one is
//! there in part. A duplicate history event id is a [`Error::Conflict`], which is how the engine
//! makes a state transition exactly-once.
//!
//! **What it must not do.** Interpret what it stores (definitions, snapshots, event bodies are
//! opaque strings), read a clock, or block an async runtime (SQLite runs on the store's own
//! threads). The trait must stay free of SQLite-isms — a PostgreSQL implementation follows —
//! and pagination tokens are opaque.
//!
//! **Where to start.** [`Store`] for the contract, `sqlite/writer.rs` for group commit,
//! `tests/it/conformance.rs` for the behaviour every backend must show.

mod cursor;
mod error;
mod model;
mod sqlite;

use std::future::Future;

pub use error::Error;

/// A queued commit (see [`Store::queue_commit`]).
#[derive(Debug)]
pub struct Committing(tokio::sync::oneshot::Receiver<Result<(), (Error, Vec<Write>)>>);

impl Committing {
    /// Resolves once the commit is durable, or with why it was not applied.
    pub async fn done(self) -> Result<(), Error> {
        match self.0.await {
            Ok(result) => result.map_err(|(error, _)| error),
            Err(_) => Err(Error::Storage("the writer stopped before answering".into())),
        }
    }
}
pub use model::{
    ActivityRecord, AliasRecord, DedupRecord, Delivery, EventRecord, ExecutionFilter,
    ExecutionRecord, ExecutionStatus, MachineArn, MachineType, MapRunRecord, MessageRecord, Page,
    QueueRecord, ResourceRecord, ShardHead, StateMachineRecord, StreamRead, StreamRecord,
    TimerRecord, Write,
};
pub use sqlite::{MIGRATIONS, SCHEMA_VERSION, SqliteOptions, SqliteStore};

/// Durable state. Handles are cheap to clone and shared by every task of the server.
///
/// Reads see every commit that has resolved before they were issued (read-your-writes).
pub trait Store: Clone + Send + Sync + 'static {
    /// Applies `writes` atomically (all or nothing) and resolves only once they are durable
    /// (fsync'd). On error nothing of this commit is applied; other commits are unaffected.
    /// Writes apply in order, so a commit may insert an execution and append its events.
    /// Dropping the future does not withdraw a commit already handed to the store: it may
    /// still be applied.
    fn commit(&self, writes: Vec<Write>) -> impl Future<Output = Result<(), Error>> + Send;

    /// [`Store::commit`], giving the writes back with the error when the commit failed, so a
    /// caller that retries (a step waiting out a full disk) keeps no copy of its own. The
    /// writes come back empty when they are lost (the writer died mid-commit).
    fn commit_or_return(
        &self,
        writes: Vec<Write>,
    ) -> impl Future<Output = Result<(), (Error, Vec<Write>)>> + Send;

    /// The machine or version with this ARN.
    fn state_machine(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<StateMachineRecord>, Error>> + Send;

    /// Machines (not versions) whose ARN starts with `prefix` (one region's and account's:
    /// `arn:aws:states:us-east-1:123456789012:stateMachine:`; empty for all), ordered by
    /// name, `limit` (at least 1) per page.
    fn state_machines(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<StateMachineRecord>, Error>> + Send;

    /// The published versions of a machine, newest (highest version) first.
    fn versions(
        &self,
        machine_arn: &str,
    ) -> impl Future<Output = Result<Vec<StateMachineRecord>, Error>> + Send;

    /// The machine `machine_arn` (unqualified) as it was at revision `revision_id`, as long as
    /// any put of the machine or of one of its versions carried that revision (revisions
    /// outlive the machine). `arn` is `machine_arn`, `version` is `None`; `revision_id`,
    /// `definition` and `role_arn` are the revision's, `updated_ms` is when the revision was
    /// first recorded; `name`, `machine_type` are the revision's too, while `description`,
    /// `created_ms`, `tags` and `extra` are the machine's current ones if it still exists
    /// (else empty, and `created_ms` is the revision's time).
    fn revision(
        &self,
        machine_arn: &str,
        revision_id: &str,
    ) -> impl Future<Output = Result<Option<StateMachineRecord>, Error>> + Send;

    /// The alias with this ARN.
    fn alias(&self, arn: &str) -> impl Future<Output = Result<Option<AliasRecord>, Error>> + Send;

    /// The aliases of a machine (its unqualified ARN), by name.
    fn aliases(
        &self,
        machine_arn: &str,
    ) -> impl Future<Output = Result<Vec<AliasRecord>, Error>> + Send;

    /// The execution with this ARN.
    fn execution(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, Error>> + Send;

    /// Executions matching `filter`, newest start first (ties by ARN, descending), `limit`
    /// (at least 1) per page.
    fn executions(
        &self,
        filter: ExecutionFilter,
        token: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<ExecutionRecord>, Error>> + Send;

    /// History events of an execution in id order (descending if `reverse`), starting after
    /// event `after` in that order (ids above it, or below it when `reverse`), `limit` (at
    /// least 1) per page. `next` is a token for [`Store::events_page`]; a caller that pages by
    /// id can use the last item's id as the next `after` instead.
    fn events(
        &self,
        execution_arn: &str,
        after: Option<u64>,
        limit: usize,
        reverse: bool,
    ) -> impl Future<Output = Result<Page<EventRecord>, Error>> + Send;

    /// [`Store::events`] paged by the opaque token a previous page returned (what
    /// GetExecutionHistory's `nextToken` carries). A token from another execution, direction or
    /// listing is [`Error::InvalidToken`].
    fn events_page(
        &self,
        execution_arn: &str,
        token: Option<&str>,
        limit: usize,
        reverse: bool,
    ) -> impl Future<Output = Result<Page<EventRecord>, Error>> + Send {
        let after = cursor::events_after(execution_arn, reverse, token);
        async move { self.events(execution_arn, after?, limit, reverse).await }
    }

    /// The activity with this ARN.
    fn activity(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ActivityRecord>, Error>> + Send;

    /// Every activity, by name.
    fn activities(&self) -> impl Future<Output = Result<Vec<ActivityRecord>, Error>> + Send;

    /// Every queue, by name.
    fn queues(&self) -> impl Future<Output = Result<Vec<QueueRecord>, Error>> + Send;

    /// Every record of a kind, by key.
    fn resources(
        &self,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<ResourceRecord>, Error>> + Send;

    /// The record of a kind with this key, if any.
    fn resource(
        &self,
        kind: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<ResourceRecord>, Error>> + Send;

    /// [`Store::commit`] in two steps: resolves once the commit is queued (it applies after
    /// every commit queued before it and before every one queued after it), then
    /// [`Committing::done`] resolves once it is durable. What must become visible in the order
    /// it was decided (a stream's sequence numbers) is queued in that order.
    fn queue_commit(
        &self,
        writes: Vec<Write>,
    ) -> impl Future<Output = Result<Committing, Error>> + Send;

    /// Up to `limit` records of a stream's shard from `from_seq` on (in `seq` order) that
    /// arrived at or after `min_arrival_ms`, stopping before `max_bytes` of data once at
    /// least one record is read.
    fn stream_records(
        &self,
        read: StreamRead,
    ) -> impl Future<Output = Result<Vec<StreamRecord>, Error>> + Send;

    /// The `seq` of a shard's first record that arrived at or after `at_ms`, if any.
    fn stream_seq_at(
        &self,
        stream: i64,
        shard: u32,
        at_ms: i64,
    ) -> impl Future<Output = Result<Option<u64>, Error>> + Send;

    /// The newest record of each shard of a stream that has any.
    fn stream_heads(
        &self,
        stream: i64,
    ) -> impl Future<Output = Result<Vec<ShardHead>, Error>> + Send;

    /// Every message of a queue, in `seq` order: what the broker loads when it starts.
    fn messages(
        &self,
        queue: &str,
    ) -> impl Future<Output = Result<Vec<MessageRecord>, Error>> + Send;

    /// A FIFO queue's deduplication records that have not expired at `now_ms`.
    fn dedup(
        &self,
        queue: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<Vec<DedupRecord>, Error>> + Send;

    /// The Map Run with this ARN.
    fn map_run(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<MapRunRecord>, Error>> + Send;

    /// The Map Runs of an execution, newest start first.
    fn map_runs(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = Result<Vec<MapRunRecord>, Error>> + Send;

    /// Every execution whose status is `RUNNING`, oldest start first: what crash recovery
    /// resumes.
    fn running(&self) -> impl Future<Output = Result<Vec<ExecutionRecord>, Error>> + Send;

    /// Every timer, soonest due first: what crash recovery re-arms.
    fn timers(&self) -> impl Future<Output = Result<Vec<TimerRecord>, Error>> + Send;

    /// Deletes up to `limit` (at least 1) closed executions — SUCCEEDED, FAILED, TIMED_OUT or
    /// ABORTED — whose `stop_ms` is before `stopped_before_ms`, oldest stop first, each with its
    /// history, timers and Map Runs; then the machine revisions those executions ran that no
    /// machine, version or remaining execution refers to anymore. Any other execution (RUNNING,
    /// PENDING_REDRIVE, no stop time) is never touched. Returns the ARNs deleted: fewer than
    /// `limit` means no such execution is left.
    ///
    /// Atomic and durable like a [`Store::commit`], and ordered with commits: it sees every
    /// commit that resolved before it was issued. Its work is bounded by `limit`, so that a
    /// caller draining a backlog in batches leaves room for commits in between.
    fn purge_closed(
        &self,
        stopped_before_ms: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;

    /// Counters since the store was opened (all zero for a backend that keeps none).
    fn stats(&self) -> Stats {
        Stats::default()
    }
}

/// Counters of a store since it was opened, for `/metrics` and benches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Commits acknowledged `Ok`.
    pub commits: u64,
    /// Commits answered with an error (conflict, not found, storage).
    pub rejected: u64,
    /// Transactions the writer ran: each holds one or more commits.
    pub groups: u64,
    /// The largest number of commits one group held.
    pub largest_group: u64,
    /// fsyncs issued: one per group that changed something, two per checkpoint that copied
    /// pages into the database file. Counted, not measured at the system call.
    pub fsyncs: u64,
    /// WAL checkpoints run.
    pub checkpoints: u64,
    /// Pages (4 KiB) appended to the write-ahead log: the bytes behind the fsyncs.
    pub wal_pages: u64,
    /// Microseconds the writer spent applying commits (SQL, in memory).
    pub apply_us: u64,
    /// Microseconds the writer spent in `COMMIT`, i.e. writing and fsyncing the WAL.
    pub sync_us: u64,
    /// Microseconds the writer spent checkpointing.
    pub checkpoint_us: u64,
    /// Closed executions deleted by [`Store::purge_closed`].
    pub purged: u64,
}
