//! Data streams with Kinesis's semantics, durable in the store.
//!
//! A stream is a set of shards, each owning a range of the 128-bit hash-key space; a record
//! goes to the open shard whose range holds its partition key's MD5 (or its explicit hash
//! key). Records are committed to the store before PutRecord(s) answers, so an acknowledged
//! record survives `kill -9`; they are read back from the store by shard iterators, in
//! sequence-number order, until retention trims them. A stream's records are queued to the
//! store in the order of their sequence numbers, so a reader never sees a later record before
//! an earlier one of the same shard (nothing is skipped).
//!
//! This crate knows no wire format: the Kinesis API's adapter turns its answers into AWS's
//! shapes.

pub mod iterator;
pub mod keys;
pub mod throughput;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sluice_clock::Clock;
use sluice_runtime::Tasks;
use sluice_store::{ResourceRecord, Store, StreamRead, StreamRecord, Write};
use sluice_types::Scope;

pub use iterator::Position;

/// The store's kind of stream records.
const KIND: &str = "kinesis-stream";
/// The store's kind (and key) of the iterators' secret.
const SECRET_KIND: &str = "kinesis-secret";
/// Default and bounds of retention, in hours (AWS: 24 to 8,760).
pub const DEFAULT_RETENTION_HOURS: u32 = 24;
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;
/// A new record's maximum size (data and partition key), by default (AWS: 1 MiB).
pub const DEFAULT_MAX_RECORD_KIB: u32 = 1024;
/// Most bytes one GetRecords answers (AWS: 10 MiB).
const MAX_GET_BYTES: usize = 10 * 1024 * 1024;
/// Shards of an on-demand stream when it is created (AWS starts at 4).
const ON_DEMAND_SHARDS: u32 = 4;
/// Bits of a record's place below its arrival millisecond: a stream's places grow with time,
/// so they keep growing across restarts without being stored.
const PLACE_BITS: u32 = 20;
/// How often retention trims old records.
const TRIM_EVERY_MS: i64 = 60_000;

/// How the streams behave where AWS's service has quotas an engine need not keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Options {
    /// Enforce AWS's per-shard throughput ([`throughput`]): writes past 1,000 records or 1 MiB
    /// per second and shard, and reads past five GetRecords calls or 2 MiB per second and
    /// shard, fail with `ProvisionedThroughputExceededException` as on AWS, so that a
    /// producer's and a consumer's backoff can be tested. Default off: a shard takes what the
    /// machine can write.
    pub throughput_limits: bool,
}

/// What a stream operation can fail with, each one of Kinesis's errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `ResourceInUseException`.
    #[error("{0}")]
    InUse(String),
    /// `InvalidArgumentException`.
    #[error("{0}")]
    InvalidArgument(String),
    /// `ExpiredIteratorException`.
    #[error("{0}")]
    ExpiredIterator(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `ProvisionedThroughputExceededException`.
    #[error("{0}")]
    ThroughputExceeded(String),
    /// The store failed (a full disk, a closed store): nothing was written.
    #[error("{0}")]
    Storage(String),
}

impl From<sluice_store::Error> for Error {
    fn from(error: sluice_store::Error) -> Self {
        Error::Storage(error.to_string())
    }
}

/// Provisioned or on-demand capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "PROVISIONED")]
    Provisioned,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Provisioned => "PROVISIONED",
            Mode::OnDemand => "ON_DEMAND",
        }
    }
}

/// A shard as the stream keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    #[serde(with = "decimal")]
    pub start_hash: u128,
    #[serde(with = "decimal")]
    pub end_hash: u128,
    /// The place of the shard's first record (a sequence number's lower bound).
    pub starting_seq: u64,
    /// Set once the shard is closed by resharding: its last place.
    #[serde(default)]
    pub ending_seq: Option<u64>,
    #[serde(default)]
    pub parent: Option<u32>,
    #[serde(default)]
    pub adjacent_parent: Option<u32>,
}

impl Shard {
    pub fn id(&self) -> String {
        keys::shard_id(self.index)
    }

    pub fn is_open(&self) -> bool {
        self.ending_seq.is_none()
    }
}

mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A stream's settings and shards: what is stored, and what DescribeStream shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// Unique per stream created (a stream created again under its name gets a new one).
    pub id: i64,
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
    pub mode: Mode,
    pub retention_hours: u32,
    pub max_record_kib: u32,
    pub shards: Vec<Shard>,
    pub tags: BTreeMap<String, String>,
    /// The KMS key of server-side encryption (`StartStreamEncryption`); none: unencrypted.
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// Enhanced monitoring's shard-level metrics.
    #[serde(default)]
    pub shard_level_metrics: std::collections::BTreeSet<String>,
    /// Registered enhanced fan-out consumers, oldest first.
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    /// The stream's resource policy (JSON text).
    #[serde(default)]
    pub policy: Option<String>,
}

/// An enhanced fan-out consumer of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    pub name: String,
    /// `<stream ARN>/consumer/<name>:<creation epoch seconds>`.
    pub arn: String,
    pub created_ms: i64,
    /// The consumer's resource policy (JSON text).
    #[serde(default)]
    pub policy: Option<String>,
}

impl Description {
    pub fn open_shards(&self) -> usize {
        self.shards.iter().filter(|s| s.is_open()).count()
    }
}

/// One record to put.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub data: Vec<u8>,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
}

/// Where a put record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub shard_id: String,
    pub sequence_number: String,
}

/// Where a new shard iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    AtSequenceNumber(String),
    AfterSequenceNumber(String),
    TrimHorizon,
    Latest,
    AtTimestamp(i64),
}

/// A record as GetRecords answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// Its place in the stream (what a reader resumes after).
    pub seq: u64,
    pub sequence_number: String,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl From<StreamRecord> for ReadRecord {
    fn from(row: StreamRecord) -> Self {
        ReadRecord {
            seq: row.seq,
            sequence_number: keys::sequence_number(row.seq, row.shard),
            arrival_ms: row.arrival_ms,
            partition_key: row.partition_key,
            data: row.data,
        }
    }
}

/// What GetRecords answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub records: Vec<ReadRecord>,
    /// `None` once a closed shard was read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: i64,
    /// A closed shard read to its end: its children.
    pub child_shards: Vec<Shard>,
}

/// A stream in memory: its description and where its shards stand.
struct Live {
    description: Description,
    /// The last place handed out.
    last_seq: u64,
    /// The last arrival time handed out (arrivals never go back within a stream).
    last_arrival_ms: i64,
    /// Per shard index: the newest record's arrival, for `MillisBehindLatest`.
    newest_arrival_ms: HashMap<u32, i64>,
    /// Serializes queuing this stream's commits, so the store applies them in place order.
    order: Arc<tokio::sync::Mutex<()>>,
    /// The last place committed: pollers wake on it.
    committed: tokio::sync::watch::Sender<u64>,
    /// Per shard index, with [`Options::throughput_limits`]: what it may still take.
    write_buckets: HashMap<u32, throughput::Bucket>,
    read_buckets: HashMap<u32, throughput::Bucket>,
}

struct Inner<S> {
    store: S,
    options: Options,
    clock: Clock,
    scope: Scope,
    secret: [u8; 32],
    streams: Mutex<BTreeMap<String, Live>>,
    tasks: Tasks,
}

/// Every stream of a server. Cheap to clone.
pub struct Streams<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Streams<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

fn not_found(name: &str, account: &str) -> Error {
    Error::NotFound(format!("Stream {name} under account {account} not found."))
}

impl<S: Store> Streams<S> {
    /// Loads the streams and the iterators' secret (made on first use) from the store.
    pub async fn open(
        store: S,
        clock: Clock,
        scope: Scope,
        options: Options,
    ) -> Result<Self, Error> {
        let secret = match store.resources(SECRET_KIND).await?.into_iter().next() {
            Some(record) if record.body.len() == 32 => {
                let mut secret = [0; 32];
                secret.copy_from_slice(&record.body);
                secret
            }
            _ => {
                let secret: [u8; 32] = std::array::from_fn(|_| fastrand::u8(..));
                store
                    .commit(vec![Write::PutResource(ResourceRecord {
                        kind: SECRET_KIND.into(),
                        key: "iterators".into(),
                        body: secret.to_vec(),
                    })])
                    .await?;
                secret
            }
        };
        let mut streams = BTreeMap::new();
        for record in store.resources(KIND).await? {
            let description: Description = match serde_json::from_slice(&record.body) {
                Ok(description) => description,
                Err(error) => {
                    tracing::error!(key = record.key, %error, "unreadable stream record: skipped");
                    continue;
                }
            };
            let heads = store.stream_heads(description.id).await?;
            let last_seq = heads.iter().map(|h| h.last_seq).max().unwrap_or(0);
            let last_arrival_ms = heads.iter().map(|h| h.last_arrival_ms).max().unwrap_or(0);
            let newest_arrival_ms = heads.iter().map(|h| (h.shard, h.last_arrival_ms)).collect();
            streams.insert(
                description.name.clone(),
                Live {
                    description,
                    last_seq,
                    last_arrival_ms,
                    newest_arrival_ms,
                    order: Arc::default(),
                    committed: tokio::sync::watch::Sender::new(last_seq),
                    write_buckets: HashMap::new(),
                    read_buckets: HashMap::new(),
                },
            );
        }
        let streams = Self {
            inner: Arc::new(Inner {
                store,
                options,
                clock,
                scope,
                secret,
                streams: Mutex::new(streams),
                tasks: Tasks::new("streams"),
            }),
        };
        streams.start_trimming();
        Ok(streams)
    }

    /// The background tasks (retention), for an ordered shutdown.
    pub fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    /// The clock the streams stamp arrivals with.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn scope(&self) -> &Scope {
        &self.inner.scope
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Live>> {
        self.inner
            .streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn account(&self) -> &str {
        &self.inner.scope.account
    }

    /// A stream's name from a name or an ARN (AWS accepts either; an ARN of another account
    /// or region names no stream here).
    pub fn resolve(&self, name: Option<&str>, arn: Option<&str>) -> Result<String, Error> {
        match (name, arn) {
            (Some(name), _) => Ok(name.to_owned()),
            (None, Some(arn)) => {
                let prefix = self.inner.scope.arn("kinesis", "stream/");
                arn.strip_prefix(&prefix)
                    .filter(|name| !name.is_empty() && !name.contains('/'))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        let name = arn.rsplit('/').next().unwrap_or(arn);
                        not_found(name, self.account())
                    })
            }
            (None, None) => Err(Error::InvalidArgument(
                "Either StreamName or StreamARN should be provided.".into(),
            )),
        }
    }

    /// Creates a stream of `shards` shards (on-demand: four to start with).
    pub async fn create(
        &self,
        name: &str,
        shards: Option<u32>,
        mode: Mode,
        max_record_kib: Option<u32>,
        tags: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let count = match (mode, shards) {
            (Mode::OnDemand, _) => ON_DEMAND_SHARDS,
            (Mode::Provisioned, Some(count)) if count >= 1 => count,
            (Mode::Provisioned, _) => {
                return Err(Error::InvalidArgument(
                    "ShardCount is required for a PROVISIONED stream.".into(),
                ));
            }
        };
        if count > 10_000 {
            return Err(Error::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current \
                 shard count for the account: 0. Limit: 10000. Number of additional shards \
                 that would have resulted from this request: {count}.",
                self.account(),
                self.inner.scope.region
            )));
        }
        let now = self.inner.clock.now_ms();
        let description = Description {
            id: now << 16 | i64::from(fastrand::u16(..)),
            name: name.to_owned(),
            arn: self.inner.scope.arn("kinesis", &format!("stream/{name}")),
            created_ms: now,
            mode,
            retention_hours: DEFAULT_RETENTION_HOURS,
            max_record_kib: max_record_kib.unwrap_or(DEFAULT_MAX_RECORD_KIB),
            encryption_key: None,
            shard_level_metrics: Default::default(),
            consumers: Vec::new(),
            policy: None,
            shards: keys::even_ranges(count)
                .into_iter()
                .zip(0..)
                .map(|((start_hash, end_hash), index)| Shard {
                    index,
                    start_hash,
                    end_hash,
                    starting_seq: 0,
                    ending_seq: None,
                    parent: None,
                    adjacent_parent: None,
                })
                .collect(),
            tags,
        };
        if self.lock().contains_key(name) {
            return Err(Error::InUse(format!(
                "Stream {name} under account {} already exists.",
                self.account()
            )));
        }
        self.inner.store.commit(vec![put(&description)?]).await?;
        let mut streams = self.lock();
        if streams.contains_key(name) {
            return Err(Error::InUse(format!(
                "Stream {name} under account {} already exists.",
                self.account()
            )));
        }
        streams.insert(
            name.to_owned(),
            Live {
                description,
                last_seq: 0,
                last_arrival_ms: 0,
                newest_arrival_ms: HashMap::new(),
                order: Arc::default(),
                committed: tokio::sync::watch::Sender::new(0),
                write_buckets: HashMap::new(),
                read_buckets: HashMap::new(),
            },
        );
        Ok(())
    }

    /// Deletes a stream and its records.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        let (arn, id) = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            (live.description.arn.clone(), live.description.id)
        };
        self.inner
            .store
            .commit(vec![
                Write::DeleteResource {
                    kind: KIND.into(),
                    key: arn,
                },
                Write::DeleteStreamRecords { stream: id },
            ])
            .await?;
        self.lock().remove(name);
        Ok(())
    }

    /// A stream's description.
    pub fn describe(&self, name: &str) -> Result<Description, Error> {
        self.lock()
            .get(name)
            .map(|live| live.description.clone())
            .ok_or_else(|| not_found(name, self.account()))
    }

    /// Whether the stream's records are encrypted at rest (`StartStreamEncryption`).
    pub fn encrypted(&self, name: &str) -> bool {
        self.lock()
            .get(name)
            .is_some_and(|live| live.description.encryption_key.is_some())
    }

    /// Every stream's description, by name.
    pub fn list(&self) -> Vec<Description> {
        self.lock()
            .values()
            .map(|live| live.description.clone())
            .collect()
    }

    /// Changes a stream's settings (retention, tags) with `change`, which may refuse.
    pub async fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut Description) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let updated = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            let mut description = live.description.clone();
            change(&mut description)?;
            description
        };
        self.inner.store.commit(vec![put(&updated)?]).await?;
        if let Some(live) = self.lock().get_mut(name) {
            live.description = updated;
        }
        Ok(())
    }

    /// Puts records into a stream, all in one commit: each gets its shard and sequence
    /// number, or the whole call fails with nothing written. With
    /// [`Options::throughput_limits`], a record its shard has no room for this second is not
    /// written and answers [`Error::ThroughputExceeded`] in its place.
    pub async fn put(
        &self,
        name: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Result<Placed, Error>>, Error> {
        let now = self.inner.clock.now_ms();
        let (order, committed) = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            (Arc::clone(&live.order), live.committed.clone())
        };
        let _queuing = order.lock().await;
        let (rows, placed, last) = {
            let mut streams = self.lock();
            let live = streams
                .get_mut(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            let description = &live.description;
            let limit = description.max_record_kib as usize * 1024;
            let mut targets = Vec::with_capacity(records.len());
            for record in &records {
                let size = record.data.len() + record.partition_key.len();
                if size > limit {
                    return Err(Error::InvalidArgument(format!(
                        "The record size ({size} bytes) exceeds the stream's maximum record \
                         size of {} KiB.",
                        description.max_record_kib
                    )));
                }
                let hash = match &record.explicit_hash_key {
                    Some(text) => keys::parse_hash_key(text).ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: \
                             [0, 2^128-1]. Specified value was {text}"
                        ))
                    })?,
                    None => keys::hash_of(&record.partition_key),
                };
                let shard = description
                    .shards
                    .iter()
                    .find(|s| s.is_open() && s.start_hash <= hash && hash <= s.end_hash)
                    .map(|s| s.index)
                    .ok_or_else(|| Error::Storage(format!("no open shard holds {hash}")))?;
                targets.push(shard);
            }
            let admitted: Vec<bool> = if self.inner.options.throughput_limits {
                records
                    .iter()
                    .zip(&targets)
                    .map(|(record, shard)| {
                        let size = (record.data.len() + record.partition_key.len()) as f64;
                        live.write_buckets
                            .entry(*shard)
                            .or_insert_with(|| throughput::Bucket::write(now))
                            .take(now, 1.0, size)
                    })
                    .collect()
            } else {
                vec![true; records.len()]
            };
            let description = &live.description;
            let throttled = |shard: u32| {
                Error::ThroughputExceeded(format!(
                    "Rate exceeded for shard {} in stream {} under account {}.",
                    keys::shard_id(shard),
                    description.name,
                    self.account()
                ))
            };
            let arrival = now.max(live.last_arrival_ms);
            let floor = u64::try_from(arrival).unwrap_or_default() << PLACE_BITS;
            let mut seq = live.last_seq.max(floor.saturating_sub(1));
            let stream_id = description.id;
            let mut rows = Vec::with_capacity(records.len());
            let mut placed = Vec::with_capacity(records.len());
            let mut arrivals = Vec::new();
            for ((record, shard), admitted) in records.into_iter().zip(targets).zip(admitted) {
                if !admitted {
                    placed.push(Err(throttled(shard)));
                    continue;
                }
                seq += 1;
                placed.push(Ok(Placed {
                    shard_id: keys::shard_id(shard),
                    sequence_number: keys::sequence_number(seq, shard),
                }));
                arrivals.push(shard);
                rows.push(StreamRecord {
                    stream: stream_id,
                    shard,
                    seq,
                    arrival_ms: arrival,
                    partition_key: record.partition_key,
                    data: record.data,
                });
            }
            for shard in arrivals {
                live.newest_arrival_ms.insert(shard, arrival);
            }
            if rows.is_empty() {
                return Ok(placed);
            }
            live.last_seq = seq;
            live.last_arrival_ms = arrival;
            (rows, placed, seq)
        };
        let committing = self
            .inner
            .store
            .queue_commit(vec![Write::PutStreamRecords(rows)])
            .await?;
        drop(_queuing);
        committing.done().await?;
        committed.send_if_modified(|at| {
            let newer = *at < last;
            *at = (*at).max(last);
            newer
        });
        Ok(placed)
    }

    fn shard_of<'a>(&self, live: &'a Live, shard_id: &str) -> Result<&'a Shard, Error> {
        let missing = || {
            Error::NotFound(format!(
                "Shard {shard_id} in stream {} under account {} does not exist",
                live.description.name,
                self.account()
            ))
        };
        let index = keys::parse_shard_id(shard_id).ok_or_else(missing)?;
        live.description
            .shards
            .iter()
            .find(|s| s.index == index)
            .ok_or_else(missing)
    }

    /// A new shard iterator.
    pub async fn iterator(
        &self,
        name: &str,
        shard_id: &str,
        start: Start,
    ) -> Result<String, Error> {
        let now = self.inner.clock.now_ms();
        let (stream, shard) = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            (live.description.id, self.shard_of(live, shard_id)?.clone())
        };
        let given = |text: &str| -> Result<u64, Error> {
            let (seq, owner) = keys::parse_sequence_number(text).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "StartingSequenceNumber {text} used in GetShardIterator on shard {} in \
                     stream {name} under account {} is invalid.",
                    shard.id(),
                    self.account()
                ))
            })?;
            if owner != shard.index {
                return Err(Error::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call \
                     to a shard with {}",
                    keys::shard_id(owner),
                    shard.id()
                )));
            }
            Ok(seq)
        };
        let from_seq = match start {
            Start::AtSequenceNumber(text) => given(&text)?,
            Start::AfterSequenceNumber(text) => given(&text)? + 1,
            start => self.start_of(name, shard.index, &start).await?,
        };
        Ok(iterator::encode(
            &self.inner.secret,
            Position {
                stream,
                shard: shard.index,
                from_seq,
                issued_ms: now,
            },
        ))
    }

    /// Reads up to `limit` records from where `token` stands.
    pub async fn read(&self, token: &str, limit: usize) -> Result<Batch, Error> {
        let position = iterator::decode(&self.inner.secret, token)
            .ok_or_else(|| Error::InvalidArgument("Invalid ShardIterator.".into()))?;
        let now = self.inner.clock.now_ms();
        if now - position.issued_ms > iterator::LIFETIME_MS {
            return Err(Error::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} \
                 which is further in the future than the tolerated delay of {} milliseconds.",
                unix_date(position.issued_ms),
                unix_date(now),
                iterator::LIFETIME_MS
            )));
        }
        let (shard, retention_ms, newest_ms, children) = {
            let streams = self.lock();
            let live = streams
                .values()
                .find(|live| live.description.id == position.stream)
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "Shard {} in stream under account {} does not exist",
                        keys::shard_id(position.shard),
                        self.account()
                    ))
                })?;
            let shard = self
                .shard_of(live, &keys::shard_id(position.shard))?
                .clone();
            let children: Vec<Shard> = live
                .description
                .shards
                .iter()
                .filter(|s| s.parent == Some(shard.index) || s.adjacent_parent == Some(shard.index))
                .cloned()
                .collect();
            (
                shard,
                i64::from(live.description.retention_hours) * 3_600_000,
                live.newest_arrival_ms.get(&position.shard).copied(),
                children,
            )
        };
        if self.inner.options.throughput_limits {
            self.admit_read(position.stream, position.shard, now)?;
        }
        let rows = self
            .inner
            .store
            .stream_records(StreamRead {
                stream: position.stream,
                shard: position.shard,
                from_seq: position.from_seq,
                min_arrival_ms: now - retention_ms,
                limit,
                max_bytes: MAX_GET_BYTES,
            })
            .await?;
        if self.inner.options.throughput_limits {
            let bytes: usize = rows
                .iter()
                .map(|r| r.data.len() + r.partition_key.len())
                .sum();
            let mut streams = self.lock();
            if let Some(bucket) = streams
                .values_mut()
                .find(|live| live.description.id == position.stream)
                .and_then(|live| live.read_buckets.get_mut(&position.shard))
            {
                bucket.charge(now, bytes as f64);
            }
        }
        let next_seq = rows.last().map_or(position.from_seq, |r| r.seq + 1);
        let millis_behind_latest = match (rows.last(), newest_ms) {
            (Some(last), Some(newest)) if newest > last.arrival_ms => newest - last.arrival_ms,
            _ => 0,
        };
        // A closed shard gets no more records: once read to its end there is no next page.
        let at_end = shard
            .ending_seq
            .is_some_and(|end| next_seq > end || rows.is_empty());
        let records = rows.into_iter().map(ReadRecord::from).collect();
        Ok(Batch {
            records,
            next_iterator: (!at_end).then(|| {
                iterator::encode(
                    &self.inner.secret,
                    Position {
                        from_seq: next_seq,
                        issued_ms: now,
                        ..position
                    },
                )
            }),
            millis_behind_latest,
            child_shards: if at_end { children } else { Vec::new() },
        })
    }

    /// A GetRecords call's room on its shard this second (five calls and 2 MiB).
    fn admit_read(&self, stream: i64, shard: u32, now: i64) -> Result<(), Error> {
        let mut streams = self.lock();
        let Some(live) = streams.values_mut().find(|l| l.description.id == stream) else {
            return Ok(());
        };
        let admitted = live
            .read_buckets
            .entry(shard)
            .or_insert_with(|| throughput::Bucket::read(now))
            .take(now, 1.0, 0.0);
        if admitted {
            return Ok(());
        }
        Err(Error::ThroughputExceeded(format!(
            "Rate exceeded for Shard - {} in stream {} under account {}.",
            keys::shard_id(shard),
            live.description.name,
            self.account()
        )))
    }

    /// Splits an open shard at `new_start` (a hash key inside its range, above its start):
    /// the shard closes after the records it holds and two children take its range.
    pub async fn split_shard(
        &self,
        name: &str,
        shard_id: &str,
        new_start: &str,
    ) -> Result<(), Error> {
        let account = self.account().to_owned();
        self.reshard(name, |description, last_seq| {
            let parent = open_shard(description, shard_id, &account)?;
            let at = keys::parse_hash_key(new_start)
                .filter(|at| *at > parent.start_hash && *at <= parent.end_hash)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "NewStartingHashKey {new_start} used in SplitShard() on shard {shard_id} in \
                         stream {name} under account {account} is not both greater than one plus \
                         the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                        parent.start_hash, parent.end_hash
                    ))
                })?;
            let (index, start, end) = (parent.index, parent.start_hash, parent.end_hash);
            close(description, index, last_seq);
            add_child(description, (start, at - 1), index, None, last_seq);
            add_child(description, (at, end), index, None, last_seq);
            Ok(())
        })
        .await
    }

    /// Merges two open shards with adjacent ranges into one child.
    pub async fn merge_shards(
        &self,
        name: &str,
        shard_id: &str,
        adjacent_id: &str,
    ) -> Result<(), Error> {
        let account = self.account().to_owned();
        self.reshard(name, |description, last_seq| {
            let first = open_shard(description, shard_id, &account)?.clone();
            let second = open_shard(description, adjacent_id, &account)?.clone();
            if first.end_hash.checked_add(1) != Some(second.start_hash)
                && second.end_hash.checked_add(1) != Some(first.start_hash)
            {
                return Err(Error::InvalidArgument(format!(
                    "Shards {shard_id} and {adjacent_id} in stream {name} under account {account} \
                     are not an adjacent pair of shards eligible for merging"
                )));
            }
            close(description, first.index, last_seq);
            close(description, second.index, last_seq);
            let range = (
                first.start_hash.min(second.start_hash),
                first.end_hash.max(second.end_hash),
            );
            add_child(
                description,
                range,
                first.index,
                Some(second.index),
                last_seq,
            );
            Ok(())
        })
        .await
    }

    /// Closes every open shard and opens `target` new ones over the hash-key space, each
    /// child of the old shards its range starts and ends in (AWS's UNIFORM_SCALING): the
    /// shard count before.
    pub async fn update_shard_count(&self, name: &str, target: u32) -> Result<u32, Error> {
        let mut before = 0;
        let account = self.account().to_owned();
        self.reshard(name, |description, last_seq| {
            let open: Vec<Shard> = description
                .shards
                .iter()
                .filter(|s| s.is_open())
                .cloned()
                .collect();
            before = open.len() as u32;
            if target == 0 || target > before * 2 || target * 2 < before || target > 10_000 {
                return Err(Error::InvalidArgument(format!(
                    "UpdateShardCount on stream {name} under account {account}: TargetShardCount \
                     {target} must be at least half and at most double the current count {before}."
                )));
            }
            for shard in &open {
                close(description, shard.index, last_seq);
            }
            let owner = |hash: u128| {
                open.iter()
                    .find(|s| s.start_hash <= hash && hash <= s.end_hash)
                    .map(|s| s.index)
            };
            for range in keys::even_ranges(target) {
                let parent = owner(range.0).unwrap_or_default();
                let adjacent = owner(range.1).filter(|other| *other != parent);
                add_child(description, range, parent, adjacent, last_seq);
            }
            Ok(())
        })
        .await?;
        Ok(before)
    }

    /// Changes a stream's shards with no put in between: `change` gets the description and
    /// the last place handed out (where closed shards end).
    async fn reshard(
        &self,
        name: &str,
        change: impl FnOnce(&mut Description, u64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let order = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            Arc::clone(&live.order)
        };
        let _no_puts = order.lock().await;
        let updated = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            let mut description = live.description.clone();
            change(&mut description, live.last_seq)?;
            description
        };
        self.inner.store.commit(vec![put(&updated)?]).await?;
        if let Some(live) = self.lock().get_mut(name) {
            live.description = updated;
        }
        Ok(())
    }

    /// Where a closed shard of a stream ends (its last place); `None` while it is open or when
    /// there is no such shard.
    pub fn shard_end(&self, name: &str, shard: u32) -> Option<u64> {
        self.lock()
            .get(name)?
            .description
            .shards
            .iter()
            .find(|s| s.index == shard)?
            .ending_seq
    }

    /// The last place committed to a stream, watched: pollers wait on it for new records.
    pub fn watch(&self, name: &str) -> Result<tokio::sync::watch::Receiver<u64>, Error> {
        self.lock()
            .get(name)
            .map(|live| live.committed.subscribe())
            .ok_or_else(|| not_found(name, self.account()))
    }

    /// Up to `limit` records of a shard from place `from_seq` on, within retention: what a
    /// poller reads, without an iterator.
    pub async fn read_from(
        &self,
        name: &str,
        shard: u32,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<ReadRecord>, Error> {
        let (stream, retention_ms) = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            (
                live.description.id,
                i64::from(live.description.retention_hours) * 3_600_000,
            )
        };
        let now = self.inner.clock.now_ms();
        let rows = self
            .inner
            .store
            .stream_records(StreamRead {
                stream,
                shard,
                from_seq,
                min_arrival_ms: now - retention_ms,
                limit,
                max_bytes: MAX_GET_BYTES,
            })
            .await?;
        Ok(rows.into_iter().map(ReadRecord::from).collect())
    }

    /// Where a reader starting at `start` in a shard begins: the place of its first record
    /// (`TRIM_HORIZON`, `LATEST`, `AT_TIMESTAMP` within retention; a sequence-number start
    /// is its own place).
    pub async fn start_of(&self, name: &str, shard: u32, start: &Start) -> Result<u64, Error> {
        let (stream, latest, oldest_ms) = {
            let streams = self.lock();
            let live = streams
                .get(name)
                .ok_or_else(|| not_found(name, self.account()))?;
            let oldest =
                self.inner.clock.now_ms() - i64::from(live.description.retention_hours) * 3_600_000;
            (live.description.id, live.last_seq + 1, oldest)
        };
        Ok(match start {
            Start::TrimHorizon => 0,
            Start::AtTimestamp(at_ms) => self
                .inner
                .store
                .stream_seq_at(stream, shard, (*at_ms).max(oldest_ms))
                .await?
                .unwrap_or(latest),
            Start::AtSequenceNumber(text) | Start::AfterSequenceNumber(text) => {
                let (seq, _) = keys::parse_sequence_number(text).ok_or_else(|| {
                    Error::InvalidArgument(format!("Invalid sequence number {text}."))
                })?;
                seq + u64::from(matches!(start, Start::AfterSequenceNumber(_)))
            }
            Start::Latest => latest,
        })
    }

    /// Trims every stream's records older than its retention, now and every minute.
    fn start_trimming(&self) {
        let streams = self.clone();
        let tasks = self.inner.tasks.clone();
        tasks.spawn("retention", async move {
            let stopping = streams.inner.tasks.cancelled();
            tokio::pin!(stopping);
            loop {
                let now = streams.inner.clock.now_ms();
                let trims: Vec<Write> = streams
                    .lock()
                    .values()
                    .map(|live| Write::TrimStreamRecords {
                        stream: live.description.id,
                        before_ms: now - i64::from(live.description.retention_hours) * 3_600_000,
                    })
                    .collect();
                if !trims.is_empty()
                    && let Err(error) = streams.inner.store.commit(trims).await
                {
                    tracing::warn!(%error, "cannot trim streams");
                }
                tokio::select! {
                    () = streams.inner.clock.sleep_until(now + TRIM_EVERY_MS) => {}
                    () = &mut stopping => break,
                }
            }
        });
    }
}

/// An open shard of the stream by id, or AWS's refusal.
fn open_shard<'a>(
    description: &'a Description,
    shard_id: &str,
    account: &str,
) -> Result<&'a Shard, Error> {
    let shard = keys::parse_shard_id(shard_id)
        .and_then(|index| description.shards.iter().find(|s| s.index == index))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "Could not find shard {shard_id} in stream {} under account {account}.",
                description.name
            ))
        })?;
    if !shard.is_open() {
        return Err(Error::InvalidArgument(format!(
            "Shard {shard_id} in stream {} under account {account} has already been merged or \
             split, and thus is not eligible for merging or splitting.",
            description.name
        )));
    }
    Ok(shard)
}

fn close(description: &mut Description, index: u32, last_seq: u64) {
    if let Some(shard) = description.shards.iter_mut().find(|s| s.index == index) {
        shard.ending_seq = Some(last_seq);
    }
}

fn add_child(
    description: &mut Description,
    (start_hash, end_hash): (u128, u128),
    parent: u32,
    adjacent_parent: Option<u32>,
    last_seq: u64,
) {
    let index = description
        .shards
        .iter()
        .map(|s| s.index + 1)
        .max()
        .unwrap_or(0);
    description.shards.push(Shard {
        index,
        start_hash,
        end_hash,
        starting_seq: last_seq + 1,
        ending_seq: None,
        parent: Some(parent),
        adjacent_parent,
    });
}

fn put(description: &Description) -> Result<Write, Error> {
    Ok(Write::PutResource(ResourceRecord {
        kind: KIND.into(),
        key: description.arn.clone(),
        body: serde_json::to_vec(description).map_err(|e| Error::Storage(e.to_string()))?,
    }))
}

/// A time as Kinesis words it in messages: `Mon Dec 07 17:10:51 UTC 2026`.
fn unix_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a %b %d %H:%M:%S UTC %Y")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_worded_as_kinesis_words_them() {
        assert_eq!(unix_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(unix_date(1_796_663_451_000), "Mon Dec 07 17:10:51 UTC 2026");
    }
}
