//! Buckets with S3's semantics, durable on the local disk.
//!
//! **What it owns.** Buckets, their objects and multipart uploads. An object's bytes are
//! one or more *segments* (one for a PUT, one per part for a completed multipart upload):
//! small segments live in the store, next to the metadata, so that many small PUTs share one
//! group commit; larger ones are files under `<data>/buckets/segments`, named by a random id
//! and never by the key, written and fsynced before the metadata that makes them visible is
//! committed. A crash therefore never shows a partial object: the object is there whole, with
//! its old bytes, or not at all. ETags and checksums are computed as AWS computes them
//! ([`checksum`]).
//!
//! **How writes stay ordered.** Metadata is kept in memory (listings walk a `BTreeMap` per
//! bucket) and in the store. A bucket's writes are queued to the store in the order of their
//! sequence numbers and applied to memory, once durable, only over an older version, so the
//! memory and the store agree on the last write of a key. Conditional writes hold the bucket's
//! queue until they are durable, so two `If-None-Match: *` PUTs of a key never both succeed.
//!
//! This crate knows no wire format: the S3 API's adapter maps it to AWS's shapes.

pub mod blobs;
pub mod checksum;
pub mod list;
pub mod names;
pub mod notify;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use sluice_clock::Clock;
use sluice_store::{ResourceRecord, Store, Write};

pub use checksum::{Algorithm, Checksum, ChecksumType};
pub use list::{Page, Query};
pub use notify::{Notice, Origin};

const BUCKET_KIND: &str = "s3-bucket";
const OBJECT_KIND: &str = "s3-object";
const UPLOAD_KIND: &str = "s3-upload";
/// Segments kept in the store.
const DATA_KIND: &str = "s3-data";
/// Notifications not yet delivered.
const NOTICE_KIND: &str = "s3-notice";
/// Noncurrent versions of a versioned bucket's objects.
const VERSION_KIND: &str = "s3-version";
/// The bucket setting that holds the versioning status.
pub const VERSIONING: &str = "versioning";

/// Parts of a multipart upload (AWS: 1 to 10,000) and their least size but the last's.
pub const MAX_PARTS: u32 = 10_000;
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Largest object one PUT may carry (AWS: 5 GiB).
pub const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// How the buckets store what they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Options {
    /// Segments up to this size live in the store (one group commit for many small PUTs);
    /// larger ones are files of their own.
    pub inline_max_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            inline_max_bytes: 64 * 1024,
        }
    }
}

/// What went wrong, one variant per answer S3 gives.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("The specified bucket does not exist")]
    NoSuchBucket(String),
    #[error("The specified key does not exist.")]
    NoSuchKey(String),
    #[error("The specified version does not exist.")]
    NoSuchVersion(String),
    /// A read of a version that is a delete marker.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload(String),
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou(String),
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty(String),
    #[error("{1}")]
    InvalidBucketName(String, &'static str),
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    #[error("{0}")]
    BadDigest(String),
    /// A checksum header or value that is malformed (S3's `InvalidRequest`).
    #[error("{0}")]
    InvalidRequest(String),
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed(&'static str),
    #[error(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("Your key is too long")]
    KeyTooLong,
    /// The client's body stream failed while it was read.
    #[error("the request body could not be read: {0}")]
    Body(String),
    #[error("storage failed: {0}")]
    Storage(String),
}

impl From<sluice_store::Error> for Error {
    fn from(error: sluice_store::Error) -> Self {
        Error::Storage(error.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Storage(error.to_string())
    }
}

/// An object's standard headers, stored and returned as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Content {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
}

/// Where a segment's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub id: String,
    pub size: u64,
    /// In the store rather than a file.
    pub inline: bool,
}

/// A part of a multipart object, as GetObjectAttributes and `partNumber` reads see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    pub size: u64,
    /// Quoted hex MD5 of the part.
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Quoted, as on the wire: `"<hex md5>"`, `"<hex>-<parts>"` for a multipart object.
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(default)]
    pub content: Content,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartInfo>,
    pub segments: Vec<Segment>,
    /// The bucket's write that made this version: orders writes of a key.
    pub seq: u64,
    /// The version's id in a versioned bucket; `None` is the `null` version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: the key's current version says the object was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
}

impl Object {
    /// The version id as S3 shows it (`null` for the null version).
    pub fn version(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }
}

/// A version in a listing, and whether it is its key's current one.
pub type Version = (Arc<Object>, bool);

/// A bucket's versioning status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    Enabled,
    Suspended,
}

impl Versioning {
    fn of(info: &BucketInfo) -> Option<Versioning> {
        match info.settings.get(VERSIONING).and_then(|v| v.as_str()) {
            Some("Enabled") => Some(Versioning::Enabled),
            Some("Suspended") => Some(Versioning::Suspended),
            _ => None,
        }
    }
}

/// A bucket's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: String,
    pub region: String,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Subresources the API keeps whole (notification configuration, versioning, policy,
    /// CORS, ...), by name, as the API's adapter shapes them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, serde_json::Value>,
}

/// Conditions a write checks atomically against the key's current version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`: the current ETag must be one of these (`*`: any object).
    pub if_match: Option<Vec<String>>,
    /// `If-None-Match`: only `*` (no object) is allowed on writes.
    pub if_none_match: bool,
}

/// Trailing checksums of an aws-chunked body, known once the body is read.
pub type Trailer = Box<dyn FnOnce() -> Vec<(Algorithm, String)> + Send>;

/// How to check a body's bytes as they arrive.
#[derive(Default)]
pub struct Integrity {
    /// `Content-MD5`, base64.
    pub content_md5: Option<String>,
    /// `x-amz-checksum-<algorithm>` headers, base64.
    pub checksums: Vec<(Algorithm, String)>,
    /// `x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm`: compute and store this one.
    pub algorithm: Option<Algorithm>,
    pub trailer: Option<Trailer>,
    /// `Content-Length` (or the decoded length of an aws-chunked body).
    pub length: Option<u64>,
}

impl fmt::Debug for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integrity")
            .field("content_md5", &self.content_md5)
            .field("checksums", &self.checksums)
            .field("algorithm", &self.algorithm)
            .field("trailer", &self.trailer.is_some())
            .field("length", &self.length)
            .finish()
    }
}

/// A new object's attributes.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    pub content: Content,
    pub metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub storage_class: Option<String>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content: Content,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
    /// By part number.
    #[serde(default)]
    pub parts: BTreeMap<u32, UploadedPart>,
}

/// A part uploaded to a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    pub etag: String,
    pub size: u64,
    pub last_modified_ms: i64,
    /// The part's digest of the upload's algorithm (CRC64NVME when it names none), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    pub segment: Segment,
}

/// A boxed stream of an object's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A [`ByteStream`] that is `Sync` (HTTP bodies must be): it is only ever polled through
/// `&mut`, so the lock is never contended.
pub struct SyncStream(Mutex<ByteStream>);

impl SyncStream {
    pub fn new(stream: ByteStream) -> Self {
        SyncStream(Mutex::new(stream))
    }
}

impl Stream for SyncStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.as_mut().poll_next(cx)
    }
}

/// A bucket in memory.
struct Bucket {
    info: BucketInfo,
    objects: BTreeMap<String, Slot>,
    uploads: HashMap<String, Upload>,
    /// Noncurrent versions by key, newest first.
    versions: BTreeMap<String, Vec<Arc<Object>>>,
    /// Orders the bucket's commits (see the crate's documentation).
    queue: Arc<tokio::sync::Mutex<u64>>,
    /// Commits queued and not yet applied; tombstones go when none is left.
    inflight: usize,
}

/// A key's latest applied version, or its deletion (kept while older writes may still land).
#[derive(Clone)]
enum Slot {
    Live(Arc<Object>),
    Deleted(u64),
}

impl Slot {
    fn seq(&self) -> u64 {
        match self {
            Slot::Live(object) => object.seq,
            Slot::Deleted(seq) => *seq,
        }
    }

    fn live(&self) -> Option<&Arc<Object>> {
        match self {
            Slot::Live(object) => Some(object),
            Slot::Deleted(_) => None,
        }
    }
}

/// The buckets. Cheap to clone.
pub struct Buckets<S: Store> {
    inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Buckets<S> {
    fn clone(&self) -> Self {
        Buckets {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S> {
    store: S,
    clock: Clock,
    blobs: blobs::Blobs,
    options: Options,
    buckets: Mutex<BTreeMap<String, Bucket>>,
    /// Where committed notices go for delivery; until someone takes them, they wait here.
    outbox: Mutex<Outbox>,
}

#[derive(Default)]
struct Outbox {
    sender: Option<tokio::sync::mpsc::UnboundedSender<Notice>>,
    waiting: Vec<Notice>,
}

/// The bytes of a body as read: where they went and what they hash to.
struct Ingested {
    segment: Segment,
    /// The segment's bytes when they go to the store.
    inline: Option<Bytes>,
    md5: [u8; 16],
    digests: Vec<(Algorithm, Vec<u8>)>,
}

impl<S: Store> Buckets<S> {
    /// Opens the buckets kept in `store`, their segment files under `dir`.
    pub async fn open(store: S, clock: Clock, dir: &Path, options: Options) -> Result<Self, Error> {
        let blobs = blobs::Blobs::open(&dir.join("segments"))?;
        let mut buckets = BTreeMap::new();
        for record in store.resources(BUCKET_KIND).await? {
            match serde_json::from_slice::<BucketInfo>(&record.body) {
                Ok(info) => {
                    buckets.insert(
                        info.name.clone(),
                        Bucket {
                            info,
                            objects: BTreeMap::new(),
                            uploads: HashMap::new(),
                            versions: BTreeMap::new(),
                            queue: Arc::default(),
                            inflight: 0,
                        },
                    );
                }
                Err(error) => {
                    tracing::error!(key = record.key, %error, "unreadable bucket: skipped")
                }
            }
        }
        let mut referenced = std::collections::HashSet::new();
        // Current versions, then the noncurrent ones of versioned buckets.
        for (kind, current) in [(OBJECT_KIND, true), (VERSION_KIND, false)] {
            for record in store.resources(kind).await? {
                let Ok(object) = serde_json::from_slice::<Object>(&record.body) else {
                    tracing::error!(key = record.key, kind, "unreadable object record: skipped");
                    continue;
                };
                let Some(bucket) = buckets.get_mut(&object.bucket) else {
                    continue;
                };
                let queue = Arc::clone(&bucket.queue);
                let mut next = queue.try_lock().expect("no writer yet");
                *next = (*next).max(object.seq + 1);
                referenced.extend(
                    object
                        .segments
                        .iter()
                        .filter(|s| !s.inline)
                        .map(|s| s.id.clone()),
                );
                let (key, object) = (object.key.clone(), Arc::new(object));
                if current {
                    bucket.objects.insert(key, Slot::Live(object));
                } else {
                    bucket.versions.entry(key).or_default().push(object);
                }
            }
        }
        for versions in buckets.values_mut().flat_map(|b| b.versions.values_mut()) {
            versions.sort_by_key(|o| std::cmp::Reverse(o.seq));
        }
        for record in store.resources(UPLOAD_KIND).await? {
            let Ok(upload) = serde_json::from_slice::<Upload>(&record.body) else {
                tracing::error!(key = record.key, "unreadable upload record: skipped");
                continue;
            };
            if let Some(bucket) = buckets.get_mut(&upload.bucket) {
                referenced.extend(
                    upload
                        .parts
                        .values()
                        .filter(|p| !p.segment.inline)
                        .map(|p| p.segment.id.clone()),
                );
                bucket.uploads.insert(upload.id.clone(), upload);
            }
        }
        let mut waiting = Vec::new();
        for record in store.resources(NOTICE_KIND).await? {
            match serde_json::from_slice::<Notice>(&record.body) {
                Ok(notice) => waiting.push(notice),
                Err(error) => {
                    tracing::error!(key = record.key, %error, "unreadable notification: skipped")
                }
            }
        }
        // Files no object or upload refers to: written before a crash that came before their
        // commit, or replaced by a write whose clean-up the crash cut short.
        for id in blobs.ids().await? {
            if !referenced.contains(&id) {
                blobs.remove(&id).await;
            }
        }
        Ok(Buckets {
            inner: Arc::new(Inner {
                store,
                clock,
                blobs,
                options,
                buckets: Mutex::new(buckets),
                outbox: Mutex::new(Outbox {
                    sender: None,
                    waiting,
                }),
            }),
        })
    }

    /// The notifications to deliver: those a crash left undelivered first, then each one as
    /// its write commits. Each stays in the store until [`Buckets::delivered`].
    pub fn notices(&self) -> tokio::sync::mpsc::UnboundedReceiver<Notice> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let mut outbox = self
            .inner
            .outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for notice in outbox.waiting.drain(..) {
            let _ = sender.send(notice);
        }
        outbox.sender = Some(sender);
        receiver
    }

    /// Forgets a delivered notification.
    pub async fn delivered(&self, id: &str) -> Result<(), Error> {
        self.inner
            .store
            .commit(vec![Write::DeleteResource {
                kind: NOTICE_KIND.into(),
                key: id.to_owned(),
            }])
            .await?;
        Ok(())
    }

    fn post(&self, notices: Vec<Notice>) {
        if notices.is_empty() {
            return;
        }
        let mut outbox = self
            .inner
            .outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &outbox.sender {
            Some(sender) => {
                for notice in notices {
                    let _ = sender.send(notice);
                }
            }
            None => outbox.waiting.extend(notices),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Bucket>> {
        self.inner
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    // ---- buckets -------------------------------------------------------------------------

    /// Creates a bucket in `region`. Creating one's own bucket again in its region is fine
    /// (us-east-1's legacy behaviour) or `BucketAlreadyOwnedByYou` elsewhere, as on AWS.
    pub async fn create_bucket(&self, name: &str, region: &str) -> Result<BucketInfo, Error> {
        if let Some(reason) = names::bucket_name_error(name) {
            return Err(Error::InvalidBucketName(name.to_owned(), reason));
        }
        let info = BucketInfo {
            name: name.to_owned(),
            region: region.to_owned(),
            created_ms: self.now_ms(),
            tags: BTreeMap::new(),
            settings: BTreeMap::new(),
        };
        {
            let buckets = self.lock();
            if let Some(existing) = buckets.get(name) {
                if existing.info.region == "us-east-1" && region == "us-east-1" {
                    return Ok(existing.info.clone());
                }
                return Err(Error::BucketAlreadyOwnedByYou(name.to_owned()));
            }
        }
        self.inner.store.commit(vec![bucket_write(&info)]).await?;
        let mut buckets = self.lock();
        if let Some(existing) = buckets.get(name) {
            return Err(Error::BucketAlreadyOwnedByYou(existing.info.name.clone()));
        }
        buckets.insert(
            name.to_owned(),
            Bucket {
                info: info.clone(),
                objects: BTreeMap::new(),
                uploads: HashMap::new(),
                versions: BTreeMap::new(),
                queue: Arc::default(),
                inflight: 0,
            },
        );
        Ok(info)
    }

    /// Deletes an empty bucket (in-progress multipart uploads are aborted with it).
    pub async fn delete_bucket(&self, name: &str) -> Result<(), Error> {
        let (queue, uploads) = {
            let buckets = self.lock();
            let bucket = buckets
                .get(name)
                .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))?;
            (Arc::clone(&bucket.queue), bucket.uploads.clone())
        };
        let _order = queue.lock().await;
        {
            let buckets = self.lock();
            let bucket = buckets
                .get(name)
                .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))?;
            if bucket.inflight > 0
                || bucket.objects.values().any(|s| s.live().is_some())
                || bucket.versions.values().any(|v| !v.is_empty())
            {
                return Err(Error::BucketNotEmpty(name.to_owned()));
            }
        }
        let mut writes = vec![Write::DeleteResource {
            kind: BUCKET_KIND.into(),
            key: name.to_owned(),
        }];
        writes.extend(uploads.keys().map(|id| Write::DeleteResource {
            kind: UPLOAD_KIND.into(),
            key: id.clone(),
        }));
        self.inner.store.commit(writes).await?;
        self.lock().remove(name);
        let garbage = uploads
            .into_values()
            .flat_map(|u| u.parts.into_values().map(|p| p.segment))
            .collect();
        self.collect(garbage).await;
        Ok(())
    }

    pub fn bucket(&self, name: &str) -> Result<BucketInfo, Error> {
        self.lock()
            .get(name)
            .map(|b| b.info.clone())
            .ok_or_else(|| Error::NoSuchBucket(name.to_owned()))
    }

    /// Every bucket, by name.
    pub fn buckets(&self) -> Vec<BucketInfo> {
        self.lock().values().map(|b| b.info.clone()).collect()
    }

    /// Changes a bucket's settings (tags, a subresource) with `change`.
    pub async fn update_bucket(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketInfo) -> Result<(), Error>,
    ) -> Result<BucketInfo, Error> {
        let queue = self.queue_of(name)?;
        let _order = queue.lock().await;
        let mut info = self.bucket(name)?;
        change(&mut info)?;
        self.inner.store.commit(vec![bucket_write(&info)]).await?;
        if let Some(bucket) = self.lock().get_mut(name) {
            bucket.info = info.clone();
        }
        Ok(info)
    }

    fn queue_of(&self, bucket: &str) -> Result<Arc<tokio::sync::Mutex<u64>>, Error> {
        self.lock()
            .get(bucket)
            .map(|b| Arc::clone(&b.queue))
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))
    }

    // ---- objects -------------------------------------------------------------------------

    /// An object's metadata.
    pub fn object(&self, bucket: &str, key: &str) -> Result<Arc<Object>, Error> {
        let buckets = self.lock();
        let b = buckets
            .get(bucket)
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        b.objects
            .get(key)
            .and_then(Slot::live)
            .filter(|o| !o.delete_marker)
            .cloned()
            .ok_or_else(|| Error::NoSuchKey(key.to_owned()))
    }

    /// One version of an object (`null` names the null version); a delete marker is
    /// `MethodNotAllowed`, as S3 answers a read of one.
    pub fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Arc<Object>, Error> {
        let found = self.find_version(bucket, key, version)?;
        if found.delete_marker {
            return Err(Error::MethodNotAllowed);
        }
        Ok(found)
    }

    fn find_version(&self, bucket: &str, key: &str, version: &str) -> Result<Arc<Object>, Error> {
        let buckets = self.lock();
        let b = buckets
            .get(bucket)
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        b.objects
            .get(key)
            .and_then(Slot::live)
            .into_iter()
            .chain(b.versions.get(key).into_iter().flatten())
            .find(|o| o.version() == version)
            .cloned()
            .ok_or_else(|| Error::NoSuchVersion(version.to_owned()))
    }

    /// Deletes one version of an object for good (a delete marker too); the key's newest
    /// other version becomes current if the current one goes. `None`: no such version.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        origin: &Origin,
    ) -> Result<Option<Arc<Object>>, Error> {
        let queue = self.queue_of(bucket)?;
        let _order = queue.lock().await;
        while self.lock().get(bucket).is_some_and(|b| b.inflight > 0) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let (gone, promoted, was_current, notices) = {
            let buckets = self.lock();
            let b = buckets
                .get(bucket)
                .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
            let current = b.objects.get(key).and_then(Slot::live);
            let noncurrent = b.versions.get(key).map(Vec::as_slice).unwrap_or_default();
            let (gone, was_current) = match current.filter(|o| o.version() == version) {
                Some(current) => (Arc::clone(current), true),
                None => match noncurrent.iter().find(|o| o.version() == version) {
                    Some(found) => (Arc::clone(found), false),
                    None => return Ok(None),
                },
            };
            let promoted = was_current.then(|| noncurrent.first().cloned()).flatten();
            let notices = if gone.delete_marker {
                Vec::new()
            } else {
                notify::notices(
                    &b.info,
                    &gone,
                    "ObjectRemoved:Delete",
                    self.now_ms(),
                    origin,
                )
            };
            (gone, promoted, was_current, notices)
        };
        let mut writes: Vec<Write> = notices.iter().map(notice_write).collect();
        if was_current {
            match &promoted {
                Some(next) => {
                    writes.push(Write::DeleteResource {
                        kind: VERSION_KIND.into(),
                        key: version_key(next),
                    });
                    writes.push(Write::PutResource(ResourceRecord {
                        kind: OBJECT_KIND.into(),
                        key: object_key(bucket, key),
                        body: serde_json::to_vec(&**next).expect("objects serialize"),
                    }));
                }
                None => writes.push(Write::DeleteResource {
                    kind: OBJECT_KIND.into(),
                    key: object_key(bucket, key),
                }),
            }
        } else {
            writes.push(Write::DeleteResource {
                kind: VERSION_KIND.into(),
                key: version_key(&gone),
            });
        }
        self.inner.store.commit(writes).await?;
        if let Some(b) = self.lock().get_mut(bucket) {
            let versions = b.versions.entry(key.to_owned()).or_default();
            if was_current {
                match promoted {
                    Some(next) => {
                        versions.retain(|o| o.version() != next.version());
                        b.objects.insert(key.to_owned(), Slot::Live(next));
                    }
                    None => {
                        b.objects.remove(key);
                    }
                }
            } else {
                versions.retain(|o| o.version() != version);
            }
            if b.versions.get(key).is_some_and(Vec::is_empty) {
                b.versions.remove(key);
            }
        }
        self.collect(gone.segments.clone()).await;
        self.post(notices);
        Ok(Some(gone))
    }

    /// A bucket's versioning status, `None` if it was never enabled.
    pub fn versioning(&self, bucket: &str) -> Result<Option<Versioning>, Error> {
        Ok(Versioning::of(&self.bucket(bucket)?))
    }

    /// Every version of the keys under `prefix` after (`key_marker`, `version_marker`), newest
    /// first per key, each with whether it is the key's current one: at most `max`, and
    /// whether more follow.
    pub fn versions_page(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        version_marker: Option<&str>,
        max: usize,
    ) -> Result<(Vec<Version>, bool), Error> {
        let buckets = self.lock();
        let b = buckets
            .get(bucket)
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        let mut keys: Vec<&String> = b
            .objects
            .iter()
            .filter(|(_, slot)| slot.live().is_some())
            .map(|(k, _)| k)
            .chain(
                b.versions
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, _)| k),
            )
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        keys.dedup();
        let mut out = Vec::new();
        for key in keys {
            if key_marker.is_some_and(|m| key.as_str() < m) {
                continue;
            }
            let current = b.objects.get(key).and_then(Slot::live);
            let all = current.into_iter().map(|o| (Arc::clone(o), true)).chain(
                b.versions
                    .get(key)
                    .into_iter()
                    .flatten()
                    .map(|o| (Arc::clone(o), false)),
            );
            let mut skipping = key_marker == Some(key.as_str());
            for (object, latest) in all {
                if skipping {
                    // Past the marker's key: after its version, or the whole key without one.
                    if version_marker.is_some_and(|v| v == object.version()) {
                        skipping = false;
                    }
                    continue;
                }
                if out.len() == max {
                    return Ok((out, true));
                }
                out.push((object, latest));
            }
        }
        Ok((out, false))
    }

    /// A page of a bucket's objects.
    pub fn list(&self, bucket: &str, query: &Query) -> Result<Page<Arc<Object>>, Error> {
        let buckets = self.lock();
        let b = buckets
            .get(bucket)
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        Ok(list::page(&b.objects, query, |slot| {
            slot.live().filter(|o| !o.delete_marker).cloned()
        }))
    }

    /// Stores an object from `body`, checking `integrity` as the bytes arrive and
    /// `conditions` against the key's version when the object is committed.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_object<B, E>(
        &self,
        bucket: &str,
        key: &str,
        attributes: Attributes,
        integrity: Integrity,
        conditions: Conditions,
        body: B,
        origin: &Origin,
    ) -> Result<Arc<Object>, Error>
    where
        B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: fmt::Display,
    {
        let event = ("ObjectCreated:Put", origin);
        self.put_object_as(bucket, key, attributes, integrity, conditions, body, event)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn put_object_as<B, E>(
        &self,
        bucket: &str,
        key: &str,
        attributes: Attributes,
        integrity: Integrity,
        conditions: Conditions,
        body: B,
        event: (&'static str, &Origin),
    ) -> Result<Arc<Object>, Error>
    where
        B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: fmt::Display,
    {
        self.check_key(bucket, key)?;
        // The checksum stored: the one asked for, else the first one given, else AWS's default.
        let stored = integrity
            .algorithm
            .or_else(|| integrity.checksums.first().map(|c| c.0))
            .unwrap_or(Algorithm::Crc64Nvme);
        let ingested = self.ingest(body, integrity, stored, MAX_PUT_BYTES).await?;
        let checksum = ingested
            .digests
            .first()
            .map(|(algorithm, digest)| Checksum {
                algorithm: *algorithm,
                value: checksum::encode(digest),
                kind: ChecksumType::FullObject,
            });
        let object = Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: ingested.segment.size,
            etag: format!("\"{}\"", checksum::hex(&ingested.md5)),
            last_modified_ms: self.now_ms(),
            content: attributes.content,
            metadata: attributes.metadata,
            tags: attributes.tags,
            storage_class: attributes
                .storage_class
                .unwrap_or_else(|| "STANDARD".into()),
            checksum,
            parts: Vec::new(),
            segments: vec![ingested.segment.clone()],
            seq: 0,
            version_id: None,
            delete_marker: false,
        };
        let data: Vec<Write> = ingested
            .inline
            .iter()
            .map(|bytes| data_write(&ingested.segment, bytes))
            .collect();
        self.commit_object(
            object,
            data,
            &conditions,
            vec![ingested.segment],
            Some(event),
        )
        .await
    }

    /// Replaces an object's tags (a new version of its metadata, same bytes).
    pub async fn put_object_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Arc<Object>, Error> {
        let current = self.object(bucket, key)?;
        let mut object = (*current).clone();
        object.tags = tags;
        let conditions = Conditions {
            if_match: Some(vec![current.etag.clone()]),
            if_none_match: false,
        };
        self.commit_object(object, Vec::new(), &conditions, Vec::new(), None)
            .await
            .map_err(|e| match e {
                Error::PreconditionFailed(_) => Error::NoSuchKey(key.to_owned()),
                other => other,
            })
    }

    /// Deletes an object; the deleted version, `None` when there was none (not an error).
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        origin: &Origin,
    ) -> Result<Option<Arc<Object>>, Error> {
        if self.versioning(bucket)?.is_some() {
            // A versioned bucket keeps the object: a delete marker becomes its current version.
            let marker = Object {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: 0,
                etag: String::new(),
                last_modified_ms: self.now_ms(),
                content: Content::default(),
                metadata: BTreeMap::new(),
                tags: BTreeMap::new(),
                storage_class: "STANDARD".into(),
                checksum: None,
                parts: Vec::new(),
                segments: Vec::new(),
                seq: 0,
                version_id: None,
                delete_marker: true,
            };
            let event = ("ObjectRemoved:DeleteMarkerCreated", origin);
            return self
                .commit_object(
                    marker,
                    Vec::new(),
                    &Conditions::default(),
                    Vec::new(),
                    Some(event),
                )
                .await
                .map(Some);
        }
        let queue = self.queue_of(bucket)?;
        let committing;
        let seq;
        let notices;
        {
            let mut next = queue.lock().await;
            seq = *next;
            *next += 1;
            {
                let mut buckets = self.lock();
                let b = buckets
                    .get_mut(bucket)
                    .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
                let current = b.objects.get(key).and_then(Slot::live);
                if current.is_none() && b.inflight == 0 {
                    return Ok(None);
                }
                // The event names the key (its sequencer this delete's), as AWS's does.
                notices = current
                    .map(|current| {
                        let gone = Object {
                            seq,
                            ..(**current).clone()
                        };
                        let now = self.inner.clock.now_ms();
                        notify::notices(&b.info, &gone, "ObjectRemoved:Delete", now, origin)
                    })
                    .unwrap_or_default();
                b.inflight += 1;
            }
            let mut writes = vec![Write::DeleteResource {
                kind: OBJECT_KIND.into(),
                key: object_key(bucket, key),
            }];
            writes.extend(notices.iter().map(notice_write));
            let queued = self.inner.store.queue_commit(writes).await;
            committing = match queued {
                Ok(committing) => committing,
                Err(error) => {
                    self.settle(bucket, |_| {});
                    return Err(error.into());
                }
            };
        }
        let done = committing.done().await;
        let mut previous = None;
        let garbage = self.settle(bucket, |b| {
            if done.is_err() {
                return Vec::new();
            }
            match b.objects.get(key) {
                Some(slot) if slot.seq() > seq => Vec::new(),
                _ => match b.objects.insert(key.to_owned(), Slot::Deleted(seq)) {
                    Some(Slot::Live(old)) => {
                        previous = Some(Arc::clone(&old));
                        old.segments.clone()
                    }
                    _ => Vec::new(),
                },
            }
        });
        done?;
        self.collect(garbage).await;
        self.post(notices);
        Ok(previous)
    }

    /// The bytes of `object` from `start` for `len` bytes (the whole object: `0, size`).
    pub async fn read(&self, object: &Object, start: u64, len: u64) -> Result<ByteStream, Error> {
        let mut pieces: Vec<ByteStream> = Vec::new();
        let mut offset = 0u64;
        let end = start + len;
        for segment in &object.segments {
            let (seg_start, seg_end) = (offset, offset + segment.size);
            offset = seg_end;
            if seg_end <= start || seg_start >= end {
                continue;
            }
            let from = start.max(seg_start) - seg_start;
            let to = end.min(seg_end) - seg_start;
            if segment.inline {
                let record = self
                    .inner
                    .store
                    .resource(DATA_KIND, &segment.id)
                    .await?
                    .ok_or_else(|| Error::NoSuchKey(object.key.clone()))?;
                let bytes = Bytes::from(record.body);
                let piece = bytes.slice(
                    usize::try_from(from).unwrap_or(0)
                        ..usize::try_from(to).unwrap_or(0).min(bytes.len()),
                );
                pieces.push(Box::pin(futures_util::stream::once(
                    async move { Ok(piece) },
                )));
            } else {
                match self.inner.blobs.read(&segment.id, from, to - from).await {
                    Ok(stream) => pieces.push(Box::pin(stream)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Err(Error::NoSuchKey(object.key.clone()));
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Ok(Box::pin(futures_util::stream::iter(pieces).flatten()))
    }

    /// An object's metadata and a stream of its bytes `[start, start + len)`, `range` choosing
    /// them from the object's size. A version replaced while it is opened is retried once.
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: impl Fn(u64) -> Result<(u64, u64), Error>,
    ) -> Result<(Arc<Object>, (u64, u64), ByteStream), Error> {
        let mut attempt = 0;
        loop {
            let object = self.object(bucket, key)?;
            let (start, len) = range(object.size)?;
            match self.read(&object, start, len).await {
                Ok(stream) => return Ok((object, (start, len), stream)),
                Err(Error::NoSuchKey(_)) if attempt == 0 => attempt += 1,
                Err(error) => return Err(error),
            }
        }
    }

    /// A given version's metadata and a stream of its bytes `[start, start + len)`, `range`
    /// choosing them from the size.
    pub async fn get_version(
        &self,
        object: &Arc<Object>,
        range: impl Fn(u64) -> Result<(u64, u64), Error>,
    ) -> Result<(Arc<Object>, (u64, u64), ByteStream), Error> {
        let (start, len) = range(object.size)?;
        let stream = self.read(object, start, len).await?;
        Ok((Arc::clone(object), (start, len), stream))
    }

    /// Copies an object's bytes into a new object (S3's CopyObject: the destination gets a
    /// checksum of `algorithm`, else the source's algorithm, else CRC64NVME).
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_object(
        &self,
        source: &Object,
        bucket: &str,
        key: &str,
        attributes: Attributes,
        algorithm: Option<Algorithm>,
        conditions: Conditions,
        origin: &Origin,
    ) -> Result<Arc<Object>, Error> {
        let body = self.read(source, 0, source.size).await?;
        let integrity = Integrity {
            algorithm: algorithm.or_else(|| source.checksum.as_ref().map(|c| c.algorithm)),
            length: Some(source.size),
            ..Integrity::default()
        };
        let event = ("ObjectCreated:Copy", origin);
        self.put_object_as(bucket, key, attributes, integrity, conditions, body, event)
            .await
    }

    fn check_key(&self, bucket: &str, key: &str) -> Result<(), Error> {
        if !self.lock().contains_key(bucket) {
            return Err(Error::NoSuchBucket(bucket.to_owned()));
        }
        if key.len() > names::MAX_KEY_BYTES {
            return Err(Error::KeyTooLong);
        }
        if let Some(reason) = names::key_error(key) {
            return Err(Error::InvalidArgument(reason.to_owned()));
        }
        Ok(())
    }

    /// Reads a body into a new segment, hashing it with MD5 and `algorithm` (plus any
    /// algorithm whose value the client sent), then checks every value the client gave.
    async fn ingest<B, E>(
        &self,
        mut body: B,
        integrity: Integrity,
        algorithm: Algorithm,
        max: u64,
    ) -> Result<Ingested, Error>
    where
        B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: fmt::Display,
    {
        let expected_md5 = match &integrity.content_md5 {
            Some(value) => Some(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value)
                    .ok()
                    .filter(|d| d.len() == 16)
                    .ok_or(Error::InvalidDigest)?,
            ),
            None => None,
        };
        let mut given = Vec::new();
        for (alg, value) in &integrity.checksums {
            let digest = checksum::decode(*alg, value).ok_or_else(|| {
                Error::InvalidRequest(format!("Value for {} header is invalid.", alg.header()))
            })?;
            given.push((*alg, digest));
        }
        let mut algorithms = vec![algorithm];
        for (alg, _) in &given {
            if !algorithms.contains(alg) {
                algorithms.push(*alg);
            }
        }
        let mut hashers: Vec<checksum::Hasher> = algorithms
            .iter()
            .map(|a| checksum::Hasher::new(*a))
            .collect();
        let mut md5 = <md5::Md5 as md5::Digest>::new();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut buffer = BytesMut::new();
        let mut file: Option<blobs::Writer> = None;
        let mut size = 0u64;
        let result: Result<(), Error> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| Error::Body(e.to_string()))?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(Error::EntityTooLarge);
                }
                md5::Digest::update(&mut md5, &chunk);
                for h in &mut hashers {
                    h.update(&chunk);
                }
                match &mut file {
                    Some(file) => file.write(&chunk).await?,
                    None if buffer.len() + chunk.len() <= self.inner.options.inline_max_bytes => {
                        buffer.extend_from_slice(&chunk);
                    }
                    None => {
                        let mut writer = self.inner.blobs.create(&id).await?;
                        writer.write(&buffer).await?;
                        writer.write(&chunk).await?;
                        buffer.clear();
                        file = Some(writer);
                    }
                }
            }
            Ok(())
        }
        .await;
        let fail = |file: Option<blobs::Writer>, error: Error| async move {
            if let Some(file) = file {
                file.discard().await;
            }
            Err(error)
        };
        if let Err(error) = result {
            return fail(file, error).await;
        }
        if integrity.length.is_some_and(|length| length != size) {
            return fail(file, Error::IncompleteBody).await;
        }
        let md5: [u8; 16] = md5::Digest::finalize(md5).into();
        let digests: Vec<(Algorithm, Vec<u8>)> = algorithms
            .iter()
            .copied()
            .zip(hashers.into_iter().map(checksum::Hasher::finish))
            .collect();
        if expected_md5.is_some_and(|expected| expected != md5) {
            return fail(
                file,
                Error::BadDigest(
                    "The Content-MD5 you specified did not match what we received.".into(),
                ),
            )
            .await;
        }
        let trailing: Vec<(Algorithm, String)> = integrity.trailer.map(|t| t()).unwrap_or_default();
        for (alg, value) in trailing {
            let Some(digest) = checksum::decode(alg, &value) else {
                return fail(
                    file,
                    Error::InvalidRequest(format!(
                        "Value for {} trailing header is invalid.",
                        alg.header()
                    )),
                )
                .await;
            };
            given.push((alg, digest));
        }
        for (alg, digest) in &given {
            let computed = match digests.iter().find(|(a, _)| a == alg) {
                Some((_, computed)) => computed.clone(),
                // A trailer of an algorithm not announced: hash again (rare).
                None => {
                    return fail(
                        file,
                        Error::InvalidRequest(format!(
                            "The {} trailer was not announced in x-amz-trailer.",
                            alg.name()
                        )),
                    )
                    .await;
                }
            };
            if &computed != digest {
                return fail(
                    file,
                    Error::BadDigest(format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.name()
                    )),
                )
                .await;
            }
        }
        let (inline, segment) = match file {
            Some(writer) => {
                if let Err(error) = writer.finish().await {
                    self.inner.blobs.remove(&id).await;
                    return Err(error.into());
                }
                (
                    None,
                    Segment {
                        id,
                        size,
                        inline: false,
                    },
                )
            }
            None => (
                Some(buffer.freeze()),
                Segment {
                    id,
                    size,
                    inline: true,
                },
            ),
        };
        Ok(Ingested {
            segment,
            inline,
            md5,
            digests,
        })
    }

    /// Commits a new version of an object (its `seq` assigned here) after `data` (the
    /// segments that go to the store), checking `conditions`; `fresh` are the segments this
    /// write created, forgotten if the write does not happen.
    async fn commit_object(
        &self,
        mut object: Object,
        data: Vec<Write>,
        conditions: &Conditions,
        fresh: Vec<Segment>,
        event: Option<(&'static str, &Origin)>,
    ) -> Result<Arc<Object>, Error> {
        let bucket = object.bucket.clone();
        let key = object.key.clone();
        let queue = match self.queue_of(&bucket) {
            Ok(queue) => queue,
            Err(error) => {
                self.collect(fresh).await;
                return Err(error);
            }
        };
        let mut order = queue.lock().await;
        // A versioned bucket's writes (which move the key's current version aside) and
        // conditional writes run one at a time, durable before the next.
        let versioned = self
            .lock()
            .get(&bucket)
            .and_then(|b| Versioning::of(&b.info));
        let conditional =
            conditions.if_match.is_some() || conditions.if_none_match || versioned.is_some();
        let mut notices = Vec::new();
        // What the write does to the key's other versions: whether the current one is kept as
        // noncurrent, and which null versions it replaces.
        let mut kept = false;
        let mut replaced_nulls: Vec<Arc<Object>> = Vec::new();
        let queued = async {
            let seq = *order;
            // A conditional write waits for every write before it, so that its check sees them.
            if conditional {
                while self.lock().get(&bucket).is_some_and(|b| b.inflight > 0) {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            {
                let mut buckets = self.lock();
                let b = buckets
                    .get_mut(&bucket)
                    .ok_or_else(|| Error::NoSuchBucket(bucket.clone()))?;
                let current = b.objects.get(&key).and_then(Slot::live).cloned();
                let visible = current.as_ref().filter(|o| !o.delete_marker);
                check(conditions, &key, visible.map(|o| o.etag.as_str()))?;
                b.inflight += 1;
                object.seq = seq;
                if let Some(mode) = versioned.filter(|_| event.is_some()) {
                    object.version_id = (mode == Versioning::Enabled).then(version_id);
                    // A new null version replaces the null one; any other current one stays.
                    if let Some(current) = current {
                        if object.version_id.is_none() && current.version_id.is_none() {
                            replaced_nulls.push(current);
                        } else {
                            kept = true;
                        }
                    }
                    if object.version_id.is_none() {
                        replaced_nulls.extend(
                            b.versions
                                .get(&key)
                                .into_iter()
                                .flatten()
                                .filter(|o| o.version_id.is_none())
                                .cloned(),
                        );
                    }
                }
                if let Some((name, origin)) = event {
                    notices =
                        notify::notices(&b.info, &object, name, object.last_modified_ms, origin);
                }
            }
            *order += 1;
            let mut writes = data;
            writes.extend(notices.iter().map(notice_write));
            if kept
                && let Some(current) = self
                    .lock()
                    .get(&bucket)
                    .and_then(|b| b.objects.get(&key))
                    .and_then(Slot::live)
            {
                writes.push(version_write(current));
            }
            for null in replaced_nulls.iter().filter(|o| o.seq != object.seq) {
                writes.push(Write::DeleteResource {
                    kind: VERSION_KIND.into(),
                    key: version_key(null),
                });
            }
            writes.push(Write::PutResource(ResourceRecord {
                kind: OBJECT_KIND.into(),
                key: object_key(&bucket, &key),
                body: serde_json::to_vec(&object).expect("objects serialize"),
            }));
            match self.inner.store.queue_commit(writes).await {
                Ok(committing) => Ok(committing),
                Err(error) => {
                    self.settle(&bucket, |_| {});
                    Err(Error::from(error))
                }
            }
        }
        .await;
        let committing = match queued {
            Ok(committing) => committing,
            Err(error) => {
                drop(order);
                self.collect(fresh).await;
                return Err(error);
            }
        };
        // Unconditional writes release the order once queued: their commits group.
        let held = if conditional {
            Some(order)
        } else {
            drop(order);
            None
        };
        let done = committing.done().await;
        let object = Arc::new(object);
        let garbage = self.settle(&bucket, |b| {
            if done.is_err() {
                return fresh.clone();
            }
            if versioned.is_some() {
                // Serialized: nothing else changed the key meanwhile.
                let old = b
                    .objects
                    .insert(key.clone(), Slot::Live(Arc::clone(&object)));
                let versions = b.versions.entry(key.clone()).or_default();
                if kept && let Some(Slot::Live(old)) = old {
                    versions.insert(0, old);
                }
                versions.retain(|o| o.version_id.is_some());
                if versions.is_empty() {
                    b.versions.remove(&key);
                }
                return replaced_nulls
                    .iter()
                    .flat_map(|o| o.segments.iter())
                    .filter(|s| !object.segments.contains(s))
                    .cloned()
                    .collect();
            }
            match b.objects.get(&key) {
                Some(slot) if slot.seq() > object.seq => fresh.clone(),
                _ => match b
                    .objects
                    .insert(key.clone(), Slot::Live(Arc::clone(&object)))
                {
                    Some(Slot::Live(old)) => old
                        .segments
                        .iter()
                        .filter(|s| !object.segments.contains(s))
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                },
            }
        });
        drop(held);
        self.collect(garbage).await;
        done?;
        self.post(notices);
        Ok(object)
    }

    /// Ends a queued commit of `bucket` (`apply` runs on the bucket unless it is gone) and
    /// forgets tombstones once no commit is in flight. Returns what `apply` returns.
    fn settle<T: Default>(&self, bucket: &str, apply: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut buckets = self.lock();
        let Some(b) = buckets.get_mut(bucket) else {
            return T::default();
        };
        let out = apply(b);
        b.inflight = b.inflight.saturating_sub(1);
        if b.inflight == 0 {
            b.objects.retain(|_, slot| slot.live().is_some());
        }
        out
    }

    /// Forgets segments nothing refers to anymore.
    async fn collect(&self, segments: Vec<Segment>) {
        let mut rows = Vec::new();
        for segment in segments {
            if segment.inline {
                rows.push(Write::DeleteResource {
                    kind: DATA_KIND.into(),
                    key: segment.id,
                });
            } else {
                self.inner.blobs.remove(&segment.id).await;
            }
        }
        if !rows.is_empty()
            && let Err(error) = self.inner.store.commit(rows).await
        {
            tracing::warn!(%error, "cannot forget replaced object segments");
        }
    }

    // ---- multipart uploads ---------------------------------------------------------------

    /// Starts a multipart upload.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        attributes: Attributes,
        algorithm: Option<Algorithm>,
        checksum_type: Option<ChecksumType>,
    ) -> Result<Upload, Error> {
        self.check_key(bucket, key)?;
        if checksum_type == Some(ChecksumType::FullObject)
            && algorithm.is_some_and(|a| !a.combines())
        {
            return Err(Error::InvalidRequest(format!(
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                algorithm.map(Algorithm::name).unwrap_or_default()
            )));
        }
        if checksum_type == Some(ChecksumType::Composite) && algorithm == Some(Algorithm::Crc64Nvme)
        {
            return Err(Error::InvalidRequest(
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm."
                    .into(),
            ));
        }
        let upload = Upload {
            id: upload_id(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            initiated_ms: self.now_ms(),
            content: attributes.content,
            metadata: attributes.metadata,
            tags: attributes.tags,
            storage_class: attributes
                .storage_class
                .unwrap_or_else(|| "STANDARD".into()),
            algorithm,
            checksum_type: algorithm.map(|a| {
                checksum_type.unwrap_or(if a == Algorithm::Crc64Nvme {
                    ChecksumType::FullObject
                } else {
                    ChecksumType::Composite
                })
            }),
            parts: BTreeMap::new(),
        };
        self.inner.store.commit(vec![upload_write(&upload)]).await?;
        if let Some(b) = self.lock().get_mut(bucket) {
            b.uploads.insert(upload.id.clone(), upload.clone());
        }
        Ok(upload)
    }

    /// The upload `id` of `bucket`/`key`.
    pub fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<Upload, Error> {
        let buckets = self.lock();
        let b = buckets
            .get(bucket)
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        b.uploads
            .get(id)
            .filter(|u| u.key == key)
            .cloned()
            .ok_or_else(|| Error::NoSuchUpload(id.to_owned()))
    }

    /// A bucket's uploads in progress, by key then initiation.
    pub fn uploads(&self, bucket: &str) -> Result<Vec<Upload>, Error> {
        let buckets = self.lock();
        let b = buckets
            .get(bucket)
            .ok_or_else(|| Error::NoSuchBucket(bucket.to_owned()))?;
        let mut uploads: Vec<Upload> = b.uploads.values().cloned().collect();
        uploads
            .sort_by(|a, b| (&a.key, a.initiated_ms, &a.id).cmp(&(&b.key, b.initiated_ms, &b.id)));
        Ok(uploads)
    }

    /// Stores a part of an upload (replacing a part of the same number).
    pub async fn upload_part<B, E>(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: u32,
        integrity: Integrity,
        body: B,
    ) -> Result<UploadedPart, Error>
    where
        B: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: fmt::Display,
    {
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(Error::InvalidArgument(format!(
                "Part number must be an integer between 1 and {MAX_PARTS}, inclusive"
            )));
        }
        let upload = self.upload(bucket, key, id)?;
        if let Some(algorithm) = upload.algorithm
            && let Some((given, _)) = integrity.checksums.iter().find(|(a, _)| *a != algorithm)
        {
            return Err(Error::InvalidRequest(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                algorithm.name().to_lowercase(),
                given.name().to_lowercase()
            )));
        }
        let algorithm = upload.algorithm.unwrap_or(Algorithm::Crc64Nvme);
        let ingested = self
            .ingest(body, integrity, algorithm, MAX_PUT_BYTES)
            .await?;
        let part = UploadedPart {
            etag: format!("\"{}\"", checksum::hex(&ingested.md5)),
            size: ingested.segment.size,
            last_modified_ms: self.now_ms(),
            checksum: ingested
                .digests
                .iter()
                .find(|(a, _)| *a == algorithm)
                .map(|(_, d)| checksum::encode(d)),
            segment: ingested.segment.clone(),
        };
        let data: Vec<Write> = ingested
            .inline
            .iter()
            .map(|bytes| data_write(&ingested.segment, bytes))
            .collect();
        let replaced = self
            .change_upload(bucket, key, id, data, |upload| {
                Ok(upload.parts.insert(number, part.clone()).map(|p| p.segment))
            })
            .await;
        match replaced {
            Ok(old) => {
                self.collect(old.into_iter().collect()).await;
                Ok(part)
            }
            Err(error) => {
                self.collect(vec![ingested.segment]).await;
                Err(error)
            }
        }
    }

    /// Changes an upload under its bucket's order and commits it (with `data` first).
    async fn change_upload<T>(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        data: Vec<Write>,
        change: impl FnOnce(&mut Upload) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let queue = self.queue_of(bucket)?;
        let _order = queue.lock().await;
        let mut upload = self.upload(bucket, key, id)?;
        let out = change(&mut upload)?;
        let mut writes = data;
        writes.push(upload_write(&upload));
        self.inner.store.commit(writes).await?;
        if let Some(b) = self.lock().get_mut(bucket) {
            b.uploads.insert(id.to_owned(), upload);
        }
        Ok(out)
    }

    /// Aborts an upload, forgetting its parts.
    pub async fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), Error> {
        let queue = self.queue_of(bucket)?;
        let upload = {
            let _order = queue.lock().await;
            let upload = self.upload(bucket, key, id)?;
            self.inner
                .store
                .commit(vec![Write::DeleteResource {
                    kind: UPLOAD_KIND.into(),
                    key: id.to_owned(),
                }])
                .await?;
            if let Some(b) = self.lock().get_mut(bucket) {
                b.uploads.remove(id);
            }
            upload
        };
        self.collect(upload.parts.into_values().map(|p| p.segment).collect())
            .await;
        Ok(())
    }

    /// Completes an upload from `parts` (number, ETag and the part's checksum if the client
    /// sent one), in ascending order; the object's ETag is the MD5 of the parts' MD5s with
    /// `-<count>`, its checksum composite or full-object as the upload was created. Parts not
    /// listed are forgotten.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        parts: &[(u32, String, Option<String>)],
        whole: Option<(Algorithm, String)>,
        conditions: Conditions,
        origin: &Origin,
    ) -> Result<Arc<Object>, Error> {
        let upload = self.upload(bucket, key, id)?;
        if parts.is_empty() {
            return Err(Error::InvalidRequest(
                "You must specify at least one part".into(),
            ));
        }
        let mut chosen = Vec::with_capacity(parts.len());
        let mut previous = 0;
        for (number, etag, checksum) in parts {
            if *number <= previous {
                return Err(Error::InvalidPartOrder);
            }
            previous = *number;
            let part = upload.parts.get(number).ok_or(Error::InvalidPart)?;
            if part.etag.trim_matches('"') != etag.trim_matches('"') {
                return Err(Error::InvalidPart);
            }
            if let (Some(given), Some(stored)) = (checksum, &part.checksum)
                && given != stored
            {
                return Err(Error::InvalidPart);
            }
            chosen.push(part);
        }
        if chosen[..chosen.len() - 1]
            .iter()
            .any(|p| p.size < MIN_PART_BYTES)
        {
            return Err(Error::EntityTooSmall);
        }
        let mut md5s = Vec::with_capacity(chosen.len() * 16);
        for part in &chosen {
            let hex = part.etag.trim_matches('"');
            md5s.extend(
                (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()),
            );
        }
        let etag = format!(
            "\"{}-{}\"",
            checksum::hex(&checksum::md5(&md5s)),
            chosen.len()
        );
        let algorithm = upload.algorithm.unwrap_or(Algorithm::Crc64Nvme);
        let kind = upload.checksum_type.unwrap_or(ChecksumType::FullObject);
        let digests: Vec<Vec<u8>> = chosen
            .iter()
            .filter_map(|p| {
                p.checksum
                    .as_deref()
                    .and_then(|c| checksum::decode(algorithm, c))
            })
            .collect();
        let checksum = (digests.len() == chosen.len()).then(|| match kind {
            ChecksumType::Composite => Checksum {
                algorithm,
                value: format!(
                    "{}-{}",
                    checksum::encode(&algorithm.digest(&digests.concat())),
                    chosen.len()
                ),
                kind,
            },
            ChecksumType::FullObject => {
                let mut whole = digests[0].clone();
                for (digest, part) in digests.iter().zip(&chosen).skip(1) {
                    whole = checksum::combine(algorithm, &whole, digest, part.size);
                }
                Checksum {
                    algorithm,
                    value: checksum::encode(&whole),
                    kind,
                }
            }
        });
        if let (Some((alg, value)), Some(stored)) = (&whole, &checksum)
            && (*alg != stored.algorithm
                || value.split('-').next() != stored.value.split('-').next())
        {
            return Err(Error::BadDigest(format!(
                "The {} you specified did not match the calculated checksum.",
                alg.name()
            )));
        }
        let object = Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: chosen.iter().map(|p| p.size).sum(),
            etag,
            last_modified_ms: self.now_ms(),
            content: upload.content.clone(),
            metadata: upload.metadata.clone(),
            tags: upload.tags.clone(),
            storage_class: upload.storage_class.clone(),
            checksum,
            parts: chosen
                .iter()
                .map(|p| PartInfo {
                    size: p.size,
                    etag: p.etag.clone(),
                    checksum: p.checksum.clone(),
                })
                .collect(),
            segments: chosen.iter().map(|p| p.segment.clone()).collect(),
            seq: 0,
            version_id: None,
            delete_marker: false,
        };
        let unused: Vec<Segment> = upload
            .parts
            .values()
            .filter(|p| !object.segments.contains(&p.segment))
            .map(|p| p.segment.clone())
            .collect();
        let done = Write::DeleteResource {
            kind: UPLOAD_KIND.into(),
            key: id.to_owned(),
        };
        // A failed completion leaves the upload and its parts as they were.
        let object = self
            .commit_object(
                object,
                vec![done],
                &conditions,
                Vec::new(),
                Some(("ObjectCreated:CompleteMultipartUpload", origin)),
            )
            .await?;
        if let Some(b) = self.lock().get_mut(bucket) {
            b.uploads.remove(id);
        }
        self.collect(unused).await;
        Ok(object)
    }
}

/// Checks write conditions against the current ETag (`None`: no object).
fn check(conditions: &Conditions, key: &str, current: Option<&str>) -> Result<(), Error> {
    if conditions.if_none_match && current.is_some() {
        return Err(Error::PreconditionFailed("If-None-Match"));
    }
    if let Some(wanted) = &conditions.if_match {
        let Some(current) = current else {
            return Err(Error::NoSuchKey(key.to_owned()));
        };
        if !wanted
            .iter()
            .any(|w| w == "*" || w.trim_matches('"') == current.trim_matches('"'))
        {
            return Err(Error::PreconditionFailed("If-Match"));
        }
    }
    Ok(())
}

fn object_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

fn bucket_write(info: &BucketInfo) -> Write {
    Write::PutResource(ResourceRecord {
        kind: BUCKET_KIND.into(),
        key: info.name.clone(),
        body: serde_json::to_vec(info).expect("buckets serialize"),
    })
}

fn upload_write(upload: &Upload) -> Write {
    Write::PutResource(ResourceRecord {
        kind: UPLOAD_KIND.into(),
        key: upload.id.clone(),
        body: serde_json::to_vec(upload).expect("uploads serialize"),
    })
}

fn version_key(object: &Object) -> String {
    format!("{}/{}\u{0}{}", object.bucket, object.key, object.version())
}

fn version_write(object: &Object) -> Write {
    Write::PutResource(ResourceRecord {
        kind: VERSION_KIND.into(),
        key: version_key(object),
        body: serde_json::to_vec(object).expect("objects serialize"),
    })
}

/// A version id as long and opaque as AWS's.
fn version_id() -> String {
    (0..32).map(|_| fastrand::alphanumeric()).collect()
}

fn notice_write(notice: &Notice) -> Write {
    Write::PutResource(ResourceRecord {
        kind: NOTICE_KIND.into(),
        key: notice.id.clone(),
        body: serde_json::to_vec(notice).expect("notices serialize"),
    })
}

fn data_write(segment: &Segment, bytes: &Bytes) -> Write {
    Write::PutResource(ResourceRecord {
        kind: DATA_KIND.into(),
        key: segment.id.clone(),
        body: bytes.to_vec(),
    })
}

/// An upload id as long and opaque as AWS's.
fn upload_id() -> String {
    use base64::Engine as _;
    let bytes: [u8; 48] = std::array::from_fn(|_| fastrand::u8(..));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
