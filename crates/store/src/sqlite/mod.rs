//! [`SqliteStore`]: the embedded default. One database file in WAL mode; one writer thread that
//! group-commits (`writer.rs`); reader threads with read-only connections (`read.rs`); schema
//! migrations (`schema.rs`).

mod codec;
mod read;
mod recent;
mod schema;
mod writer;

use std::fmt;
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc as async_mpsc, oneshot};

use crate::{
    ActivityRecord, AliasRecord, Committing, DedupRecord, Error, EventRecord, ExecutionFilter,
    ExecutionRecord, MapRunRecord, MessageRecord, Page, QueueRecord, ResourceRecord, ShardHead,
    StateMachineRecord, Stats, Store, StreamRead, StreamRecord, TimerRecord, Write,
};

pub use schema::{MIGRATIONS, SCHEMA_VERSION};

/// Tuning of a [`SqliteStore`]. The defaults suit a server; tests may shrink them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct SqliteOptions {
    /// Most commits one group (one transaction, one fsync) holds. Default 1024.
    pub max_group_commits: usize,
    /// Most bytes (approximately) one group holds; a single larger commit still goes alone.
    /// Default 16 MiB.
    pub max_group_bytes: usize,
    /// Commits that may wait for the writer before `commit` itself waits (back-pressure).
    /// Default 8192.
    pub queue_depth: usize,
    /// Reader threads, each with its own read-only connection. Default 4.
    pub readers: usize,
    /// WAL size, in pages, past which the writer copies the WAL into the database file after a
    /// group. Default 1000 (about 4 MiB), SQLite's own default.
    pub checkpoint_pages: u32,
    /// How long a connection waits for a lock held by another process before failing, in
    /// milliseconds. Default 5000.
    pub busy_timeout_ms: u64,
    /// Page cache of the writer's connection, in MiB. Default 64.
    pub writer_cache_mib: u32,
    /// Page cache of each reader's connection, in MiB. Default 16.
    pub reader_cache_mib: u32,
    /// Recently written executions kept in memory for reads (0: none, and no state machines
    /// either: every read goes to the file). Default 4096.
    pub recent_executions: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_group_commits: 1024,
            max_group_bytes: 16 << 20,
            queue_depth: 8192,
            readers: 4,
            checkpoint_pages: 1000,
            busy_timeout_ms: 5000,
            writer_cache_mib: 64,
            reader_cache_mib: 16,
            recent_executions: 4096,
        }
    }
}

/// The embedded store: a SQLite database file, WAL, `synchronous=FULL`, group commit.
///
/// A handle is cheap to clone. The file is locked for the life of the store (a second
/// `open` of the same path fails). Dropping the last handle drains queued commits and waits
/// for the writer to finish (a few milliseconds); [`SqliteStore::close`] does the same
/// without blocking.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    closed: AtomicBool,
    counters: Arc<Counters>,
    recent: Arc<recent::Recent>,
    writer: Option<async_mpsc::Sender<writer::Msg>>,
    writer_thread: Option<JoinHandle<()>>,
    readers: Option<mpsc::Sender<read::Job>>,
    reader_threads: Vec<JoinHandle<()>>,
}

#[derive(Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    rejected: AtomicU64,
    groups: AtomicU64,
    largest_group: AtomicU64,
    fsyncs: AtomicU64,
    checkpoints: AtomicU64,
    wal_pages: AtomicU64,
    apply_us: AtomicU64,
    sync_us: AtomicU64,
    checkpoint_us: AtomicU64,
    purged: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        Stats {
            commits: self.commits.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            groups: self.groups.load(Ordering::Relaxed),
            largest_group: self.largest_group.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            checkpoints: self.checkpoints.load(Ordering::Relaxed),
            wal_pages: self.wal_pages.load(Ordering::Relaxed),
            apply_us: self.apply_us.load(Ordering::Relaxed),
            sync_us: self.sync_us.load(Ordering::Relaxed),
            checkpoint_us: self.checkpoint_us.load(Ordering::Relaxed),
            purged: self.purged.load(Ordering::Relaxed),
        }
    }
}

impl SqliteStore {
    /// Opens (creating the directory and the file if needed) the database at `path`, migrates
    /// its schema to [`SCHEMA_VERSION`] and starts the writer and reader threads.
    ///
    /// Fails with [`Error::Storage`] if the file is in use by another store, is not a SQLite
    /// database, or carries a schema newer than this build knows.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore, Error> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
            && !dir.is_dir()
        {
            fs::create_dir_all(dir)
                .map_err(|e| Error::Storage(format!("creating {}: {e}", dir.display())))?;
            // SQLite syncs the directory holding its files; a directory it sits in that did
            // not exist before must reach the disk too, or a power cut could take it back.
            for created in [Some(dir), dir.parent()].into_iter().flatten() {
                if let Ok(handle) = File::open(created) {
                    let _ = handle.sync_all();
                }
            }
        }
        let lock = lock_file(path)?;
        let busy = Duration::from_millis(options.busy_timeout_ms);

        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| storage_at(path, e))?;
        conn.busy_timeout(busy).map_err(storage)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| storage_at(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Storage(format!(
                "{}: cannot switch to WAL journal mode (got {mode})",
                path.display()
            )));
        }
        // A commit is acknowledged only once the WAL is fsync'd.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        // Keep an idle WAL from holding more than 64 MiB of disk after a burst.
        conn.pragma_update(None, "journal_size_limit", 64i64 << 20)
            .map_err(storage)?;
        // Savepoints journal the pages they change; keep that journal (and other temporary
        // files) in memory rather than spilling to disk.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(storage)?;
        // The writer's hot pages (open executions, the tails of their histories, indexes).
        conn.pragma_update(
            None,
            "cache_size",
            -i64::from(options.writer_cache_mib) * 1024,
        )
        .map_err(storage)?;
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn, path)?;

        let counters = Arc::new(Counters::default());
        let recent = Arc::new(recent::Recent::new(options.recent_executions));
        let writer = writer::Writer::new(
            conn,
            path,
            lock,
            &options,
            Arc::clone(&counters),
            Arc::clone(&recent),
        )?;

        let (read_tx, read_rx) = mpsc::channel::<read::Job>();
        let read_rx = Arc::new(Mutex::new(read_rx));
        let mut reader_threads = Vec::new();
        for n in 0..options.readers.max(1) {
            let conn = read::open(path, busy, options.reader_cache_mib)?;
            let jobs = Arc::clone(&read_rx);
            let thread = std::thread::Builder::new()
                .name(format!("sluice-store-reader-{n}"))
                .spawn(move || read::run(conn, &jobs))
                .map_err(|e| Error::Storage(format!("starting a reader thread: {e}")))?;
            reader_threads.push(thread);
        }

        let (write_tx, write_rx) = async_mpsc::channel(options.queue_depth.max(1));
        let writer_thread = std::thread::Builder::new()
            .name("sluice-store-writer".into())
            .spawn(move || writer.run(write_rx))
            .map_err(|e| Error::Storage(format!("starting the writer thread: {e}")))?;

        tracing::debug!(path = %path.display(), schema = SCHEMA_VERSION, "store opened");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                closed: AtomicBool::new(false),
                counters,
                recent,
                writer: Some(write_tx),
                writer_thread: Some(writer_thread),
                readers: Some(read_tx),
                reader_threads,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Counters since the store was opened.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// Stops accepting commits and reads (from every handle: they get [`Error::Closed`]),
    /// commits what is already queued, checkpoints the WAL and closes the writer's connection,
    /// then returns. Dropping the last handle afterwards releases the file lock.
    pub async fn close(self) -> Result<(), Error> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let Some(writer) = &self.inner.writer else {
            return Ok(());
        };
        let (ack, done) = oneshot::channel();
        if writer.send(writer::Msg::Close(ack)).await.is_err() {
            // Already closing: the writer is draining for another handle.
            return Ok(());
        }
        done.await.unwrap_or(Err(Error::Closed))
    }

    async fn read<T, F>(&self, query: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        let readers = self.inner.readers.as_ref().ok_or(Error::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job: read::Job = Box::new(move |conn| {
            // The asker may have gone away; then nobody wants the answer.
            let _ = reply.send(query(conn));
        });
        readers.send(job).map_err(|_| Error::Closed)?;
        answer
            .await
            .unwrap_or_else(|_| Err(Error::Storage("a read was abandoned by its thread".into())))
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channels lets the threads finish what is queued, then exit.
        self.readers.take();
        self.writer.take();
        if let Some(thread) = self.writer_thread.take()
            && thread.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "the store writer thread panicked");
        }
        for thread in self.reader_threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl SqliteStore {
    /// Hands a commit to the writer, which applies commits in the order they are handed over.
    async fn enqueue(
        &self,
        writes: Vec<Write>,
        reply: oneshot::Sender<Result<(), (Error, Vec<Write>)>>,
    ) -> Result<(), (Error, Vec<Write>)> {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err((Error::Closed, writes));
        }
        let Some(writer) = self.inner.writer.as_ref() else {
            return Err((Error::Closed, writes));
        };
        let bytes = writes.iter().map(Write::approx_bytes).sum();
        let packed = codec::pack_writes(&writes);
        let job = writer::Job {
            writes,
            packed,
            bytes,
            reply,
        };
        if let Err(refused) = writer.send(writer::Msg::Commit(job)).await {
            let writes = match refused.0 {
                writer::Msg::Commit(job) => job.writes,
                _ => Vec::new(),
            };
            return Err((Error::Closed, writes));
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    async fn commit(&self, writes: Vec<Write>) -> Result<(), Error> {
        self.commit_or_return(writes)
            .await
            .map_err(|(error, _)| error)
    }

    async fn commit_or_return(&self, writes: Vec<Write>) -> Result<(), (Error, Vec<Write>)> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(writes, reply).await?;
        // A dropped reply means the writer died before answering: the commit may or may not
        // be durable, so it must not be reported as done (nor retried: the writes are gone).
        answer.await.unwrap_or_else(|_| {
            Err((
                Error::Storage("the writer stopped before answering".into()),
                Vec::new(),
            ))
        })
    }

    async fn queue_commit(&self, writes: Vec<Write>) -> Result<Committing, Error> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(writes, reply)
            .await
            .map_err(|(error, _)| error)?;
        Ok(Committing(answer))
    }

    async fn state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, Error> {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        if let Some(record) = self.inner.recent.machine(arn) {
            return Ok(Some(record));
        }
        let generation = self.inner.recent.machines_generation();
        let arn = arn.to_owned();
        let found = self
            .read(move |conn| read::state_machine(conn, &arn))
            .await?;
        if let Some(record) = &found {
            self.inner.recent.fill_machine(generation, record.clone());
        }
        Ok(found)
    }

    async fn state_machines(
        &self,
        prefix: &str,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>, Error> {
        let after = crate::cursor::machines_after(token)?;
        let prefix = prefix.to_owned();
        self.read(move |conn| read::state_machines(conn, &prefix, after, limit))
            .await
    }

    async fn versions(&self, machine_arn: &str) -> Result<Vec<StateMachineRecord>, Error> {
        let arn = machine_arn.to_owned();
        self.read(move |conn| read::versions(conn, &arn)).await
    }

    async fn revision(
        &self,
        machine_arn: &str,
        revision_id: &str,
    ) -> Result<Option<StateMachineRecord>, Error> {
        let (arn, revision) = (machine_arn.to_owned(), revision_id.to_owned());
        self.read(move |conn| read::revision(conn, &arn, &revision))
            .await
    }

    async fn alias(&self, arn: &str) -> Result<Option<AliasRecord>, Error> {
        let arn = arn.to_owned();
        self.read(move |conn| read::alias(conn, &arn)).await
    }

    async fn aliases(&self, machine_arn: &str) -> Result<Vec<AliasRecord>, Error> {
        let arn = machine_arn.to_owned();
        self.read(move |conn| read::aliases(conn, &arn)).await
    }

    async fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, Error> {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        if let Some(record) = self.inner.recent.get(arn) {
            return Ok(Some(record));
        }
        let arn = arn.to_owned();
        self.read(move |conn| read::execution(conn, &arn)).await
    }

    async fn executions(
        &self,
        filter: ExecutionFilter,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Page<ExecutionRecord>, Error> {
        let after = crate::cursor::executions_after(&filter, token)?;
        self.read(move |conn| read::executions(conn, &filter, after, limit))
            .await
    }

    async fn events(
        &self,
        execution_arn: &str,
        after: Option<u64>,
        limit: usize,
        reverse: bool,
    ) -> Result<Page<EventRecord>, Error> {
        let arn = execution_arn.to_owned();
        self.read(move |conn| read::events(conn, &arn, after, limit, reverse))
            .await
    }

    async fn activity(&self, arn: &str) -> Result<Option<ActivityRecord>, Error> {
        let arn = arn.to_owned();
        self.read(move |conn| read::activity(conn, &arn)).await
    }

    async fn activities(&self) -> Result<Vec<ActivityRecord>, Error> {
        self.read(read::activities).await
    }

    async fn queues(&self) -> Result<Vec<QueueRecord>, Error> {
        self.read(read::queues).await
    }

    async fn resources(&self, kind: &str) -> Result<Vec<ResourceRecord>, Error> {
        let kind = kind.to_owned();
        self.read(move |conn| read::resources(conn, &kind)).await
    }

    async fn resource(&self, kind: &str, key: &str) -> Result<Option<ResourceRecord>, Error> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        self.read(move |conn| read::resource(conn, &kind, &key))
            .await
    }

    async fn dedup(&self, queue: &str, now_ms: i64) -> Result<Vec<DedupRecord>, Error> {
        let queue = queue.to_owned();
        self.read(move |conn| read::dedup(conn, &queue, now_ms))
            .await
    }

    async fn stream_records(&self, read: StreamRead) -> Result<Vec<StreamRecord>, Error> {
        self.read(move |conn| read::stream_records(conn, read))
            .await
    }

    async fn stream_seq_at(
        &self,
        stream: i64,
        shard: u32,
        at_ms: i64,
    ) -> Result<Option<u64>, Error> {
        self.read(move |conn| read::stream_seq_at(conn, stream, shard, at_ms))
            .await
    }

    async fn stream_heads(&self, stream: i64) -> Result<Vec<ShardHead>, Error> {
        self.read(move |conn| read::stream_heads(conn, stream))
            .await
    }

    async fn messages(&self, queue: &str) -> Result<Vec<MessageRecord>, Error> {
        let queue = queue.to_owned();
        self.read(move |conn| read::messages(conn, &queue)).await
    }

    async fn map_run(&self, arn: &str) -> Result<Option<MapRunRecord>, Error> {
        let arn = arn.to_owned();
        self.read(move |conn| read::map_run(conn, &arn)).await
    }

    async fn map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, Error> {
        let arn = execution_arn.to_owned();
        self.read(move |conn| read::map_runs(conn, &arn)).await
    }

    async fn running(&self) -> Result<Vec<ExecutionRecord>, Error> {
        self.read(read::running).await
    }

    async fn timers(&self) -> Result<Vec<TimerRecord>, Error> {
        self.read(read::timers).await
    }

    async fn purge_closed(
        &self,
        stopped_before_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>, Error> {
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        let writer = self.inner.writer.as_ref().ok_or(Error::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job = writer::Purge {
            stopped_before_ms,
            limit: limit.max(1),
            reply,
        };
        writer
            .send(writer::Msg::Purge(job))
            .await
            .map_err(|_| Error::Closed)?;
        answer
            .await
            .unwrap_or_else(|_| Err(Error::Storage("the writer stopped before answering".into())))
    }

    fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }
}

/// Takes an exclusive advisory lock on `<path>-lock`, held by the writer thread for the life
/// of the store: two servers on one data dir would both recover the same executions.
fn lock_file(path: &Path) -> Result<File, Error> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push("-lock");
    let lock_path = PathBuf::from(lock_path);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::Storage(format!("opening {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Storage(format!(
            "{} is in use by another store (lock {} is held)",
            path.display(),
            lock_path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(Error::Storage(format!(
            "locking {}: {e}",
            lock_path.display()
        ))),
    }
}

fn storage(e: rusqlite::Error) -> Error {
    Error::Storage(e.to_string())
}

fn storage_at(path: &Path, e: rusqlite::Error) -> Error {
    Error::Storage(format!("{}: {e}", path.display()))
}

/// SQLite stores integers as i64; ids and counters beyond i64::MAX are refused, not wrapped.
fn to_i64(value: u64, what: &str) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| Error::Storage(format!("{what} {value} is out of range")))
}

fn from_i64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}
