//! Queues with SQS's semantics, durable in the store: a message acknowledged to its sender is
//! committed (group commit, one writer for the whole store), a receive's new visibility and
//! receive count are committed before the message is handed out, and an acknowledged delete is
//! committed before it is answered. Each queue's messages are also held in memory, loaded
//! from the store when the broker opens, so receives scan no files.
//!
//! Standard queues: at-least-once delivery, send order as far as it goes, visibility timeouts
//! (per queue, per receive, per message up to 12 hours), delays (per queue and per message),
//! retention, long polling that returns as soon as a message arrives, and dead-letter queues
//! after `maxReceiveCount` receives (`RedrivePolicy`). This crate knows no wire format: the
//! SQS API adapter maps AWS's shapes onto it.

mod md5;
pub mod message;
mod moves;
pub mod settings;
pub mod topics;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use sluice_clock::Clock;
use sluice_store::{DedupRecord, Delivery, MessageRecord, QueueRecord, Store, Write};
use sluice_types::Scope;
use tokio::sync::Notify;

pub use md5::of_attributes as attributes_digest;
pub use message::{Attribute, AttributeValue, Attributes, Received, Sent};
pub use moves::{MAX_RATE, MoveStatus, MoveTask};
pub use settings::{AttributeMap, Redrive, Settings};

/// The longest a message may stay invisible after its receive: 12 hours.
pub const MAX_VISIBILITY_SECONDS: i64 = 43_200;
/// How long a FIFO queue remembers a deduplication id: five minutes.
pub const DEDUPLICATION_WINDOW_MS: i64 = 5 * 60 * 1000;
/// The most tags a queue carries.
pub const MAX_TAGS: usize = 50;
/// The most messages one receive returns.
pub const MAX_RECEIVE: usize = 10;
/// The longest a receive waits for a message.
pub const MAX_WAIT_SECONDS: i64 = 20;

/// What goes wrong, by the error AWS names (the adapter adds AWS's codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    /// Same name, other attributes.
    #[error("{0}")]
    QueueNameExists(String),
    #[error("{0}")]
    InvalidAttributeName(String),
    #[error("{0}")]
    InvalidAttributeValue(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    #[error("Message does not exist or is not available for visibility timeout change.")]
    MessageNotInflight,
    /// A message move task's source, destination or handle that does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(&'static str),
    /// The store could not commit (a full disk): retryable.
    #[error("{0}")]
    Unavailable(String),
}

impl From<sluice_store::Error> for Error {
    fn from(error: sluice_store::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct Send {
    pub body: String,
    pub attributes: Attributes,
    /// `None`: the queue's `DelaySeconds`.
    pub delay_seconds: Option<i64>,
    pub trace_header: Option<String>,
    /// FIFO queues: required.
    pub group_id: Option<String>,
    /// FIFO queues: required unless the queue deduplicates by content.
    pub deduplication_id: Option<String>,
}

/// What SendMessage answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
    /// FIFO queues: the message's place in the queue.
    pub sequence_number: Option<String>,
}

/// A receive's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Receive {
    /// 1..=10.
    pub max_messages: usize,
    /// `None`: the queue's `VisibilityTimeout`.
    pub visibility_timeout: Option<i64>,
    /// `None`: the queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait_seconds: Option<i64>,
}

/// A queue's counts, as the `Approximate*` attributes show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub visible: usize,
    pub in_flight: usize,
    pub delayed: usize,
}

/// A queue's traffic since the server started, for metrics and `sluice queues`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages that arrived (sends, notifications, dead letters, moves).
    pub sent: std::sync::atomic::AtomicU64,
    /// Messages handed out by receives.
    pub received: std::sync::atomic::AtomicU64,
    pub deleted: std::sync::atomic::AtomicU64,
    /// Messages moved to the dead-letter queue after `maxReceiveCount` receives.
    pub dead_lettered: std::sync::atomic::AtomicU64,
}

/// A queue's state at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    pub name: String,
    pub arn: String,
    pub fifo: bool,
    pub counts: Counts,
    /// How long the oldest message has waited (ms), 0 when empty.
    pub oldest_age_ms: i64,
    pub sent: u64,
    pub received: u64,
    pub deleted: u64,
    pub dead_lettered: u64,
    /// Where its dead letters go.
    pub dead_letter_target: Option<String>,
}

pub(crate) fn bump(counter: &std::sync::atomic::AtomicU64, by: usize) {
    counter.fetch_add(by as u64, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn read(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

/// The queues. Cheap to clone.
pub struct Broker<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Broker<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S> {
    store: S,
    clock: Clock,
    scope: Scope,
    /// By name.
    queues: Mutex<BTreeMap<String, Arc<Queue>>>,
    /// Message move tasks, newest first.
    moves: Mutex<Vec<Arc<MoveTask>>>,
    /// The broker's background work (message move tasks, topic deliveries), stopped first
    /// at shutdown.
    tasks: sluice_runtime::Tasks,
    topics: topics::Topics,
}

/// One queue: its settings, its messages and the waiters of its long polls.
pub struct Queue {
    pub arn: String,
    pub name: String,
    /// Messages in and out since the server started.
    pub counters: Counters,
    state: Mutex<QueueState>,
    /// Woken when a message is sent or made visible.
    arrived: Notify,
}

struct QueueState {
    attributes: AttributeMap,
    settings: Settings,
    created_ms: i64,
    modified_ms: i64,
    tags: Vec<(String, String)>,
    next_seq: u64,
    messages: BTreeMap<u64, Held>,
    deleted: bool,
    /// FIFO queues: a receive's `ReceiveRequestAttemptId` → what it returned, and until when
    /// a retry of it gets the same again.
    attempts: std::collections::HashMap<String, (Vec<Received>, i64)>,
    /// FIFO queues: deduplication key → (message id, sequence number, expiry).
    dedup: std::collections::HashMap<String, (String, u64, i64)>,
}

struct Held {
    sent: Arc<Sent>,
    delivery: Delivery,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: Store> Broker<S> {
    /// The broker over `store`: every queue and message it holds, loaded.
    pub async fn open(store: S, clock: Clock, scope: Scope) -> Result<Self, Error> {
        let mut queues = BTreeMap::new();
        for record in store.queues().await? {
            let attributes: AttributeMap =
                serde_json::from_str(&record.attributes).unwrap_or_default();
            let mut messages = BTreeMap::new();
            for message in store.messages(&record.arn).await? {
                let Some(sent) = Sent::decode(&message.body) else {
                    tracing::warn!(queue = %record.name, seq = message.seq, "unreadable message skipped");
                    continue;
                };
                messages.insert(
                    message.seq,
                    Held {
                        sent: Arc::new(sent),
                        delivery: message.delivery,
                    },
                );
            }
            let now = clock.now_ms();
            let dedup = store
                .dedup(&record.arn, now)
                .await?
                .into_iter()
                .map(|d| (d.key, (d.message_id, d.sequence, d.expires_ms)))
                .collect::<std::collections::HashMap<_, _>>();
            // Sequence numbers never go back, even past deleted messages.
            let last_sequence = dedup.values().map(|d| d.1).max().unwrap_or(0);
            let next_seq = messages
                .keys()
                .next_back()
                .map_or(1, |seq| seq + 1)
                .max(last_sequence + 1);
            let queue = Queue {
                arn: record.arn.clone(),
                name: record.name.clone(),
                counters: Counters::default(),
                state: Mutex::new(QueueState {
                    settings: Settings::of(&attributes),
                    attributes,
                    created_ms: record.created_ms,
                    modified_ms: record.modified_ms,
                    tags: record.tags,
                    next_seq,
                    messages,
                    deleted: false,
                    attempts: Default::default(),
                    dedup,
                }),
                arrived: Notify::new(),
            };
            queues.insert(record.name, Arc::new(queue));
        }
        let topics = topics::Topics::load(&store, clock.now_ms()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                scope,
                queues: Mutex::new(queues),
                moves: Mutex::default(),
                tasks: sluice_runtime::Tasks::new("broker"),
                topics,
            }),
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The broker's background tasks, for an orderly shutdown.
    pub fn tasks(&self) -> &sluice_runtime::Tasks {
        &self.inner.tasks
    }

    /// Moves the message `seq` of `source` to `target` in one commit (sent there, deleted
    /// here), keeping where it was dead-lettered from.
    async fn move_message(
        &self,
        source: &Arc<Queue>,
        seq: u64,
        target: &Arc<Queue>,
    ) -> Result<(), Error> {
        let now = self.inner.clock.now_ms();
        let Some(sent) = lock(&source.state)
            .messages
            .get(&seq)
            .map(|held| (*held.sent).clone())
        else {
            return Ok(());
        };
        let (write, target_seq, held) = arrival(target, sent, now);
        self.inner
            .store
            .commit(vec![
                write,
                Write::DeleteMessage {
                    queue: source.arn.clone(),
                    seq,
                },
            ])
            .await?;
        lock(&source.state).messages.remove(&seq);
        lock(&target.state).messages.insert(target_seq, held);
        bump(&target.counters.sent, 1);
        target.arrived.notify_waiters();
        Ok(())
    }

    /// A redrive policy's target must exist and be of the source's type (FIFO or standard).
    fn check_dead_letter_target(&self, settings: &Settings) -> Result<(), Error> {
        let Some(redrive) = &settings.redrive else {
            return Ok(());
        };
        let reason = match self.queue_by_arn(&redrive.dead_letter_target_arn) {
            None => "Dead letter target does not exist.",
            Some(target) if lock(&target.state).settings.fifo != settings.fifo => {
                "Dead-letter queue must be same type of queue as the source."
            }
            Some(_) => return Ok(()),
        };
        Err(Error::InvalidParameterValue(format!(
            "Value {{\"deadLetterTargetArn\":\"{}\",\"maxReceiveCount\":\"{}\"}} for parameter RedrivePolicy is invalid. Reason: {reason}",
            redrive.dead_letter_target_arn, redrive.max_receive_count
        )))
    }

    /// The queue named `name`.
    pub fn queue(&self, name: &str) -> Result<Arc<Queue>, Error> {
        lock(&self.inner.queues)
            .get(name)
            .cloned()
            .ok_or(Error::QueueDoesNotExist)
    }

    pub(crate) fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        lock(&self.inner.queues)
            .values()
            .find(|q| q.arn == arn)
            .cloned()
    }

    /// Names of the queues whose name starts with `prefix`, sorted.
    pub fn queue_names(&self, prefix: &str) -> Vec<String> {
        lock(&self.inner.queues)
            .keys()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Creates the queue, or returns the existing one when its attributes are the same
    /// (`QueueNameExists` when they differ), as CreateQueue does.
    pub async fn create_queue(
        &self,
        name: &str,
        given: &AttributeMap,
        tags: Vec<(String, String)>,
    ) -> Result<Arc<Queue>, Error> {
        let attributes = settings::apply(&settings::defaults(), given)?;
        validate_name(name, Settings::of(&attributes).fifo)?;
        self.check_dead_letter_target(&Settings::of(&attributes))?;
        if let Ok(existing) = self.queue(name) {
            // The attributes the request names must match; the ones it leaves out do not
            // count.
            let named = settings::apply(&AttributeMap::new(), given)?;
            let state = lock(&existing.state);
            for (key, value) in &named {
                if state.attributes.get(key) != Some(value) {
                    return Err(Error::QueueNameExists(format!(
                        "A queue already exists with the same name and a different value for attribute {key}"
                    )));
                }
            }
            drop(state);
            return Ok(existing);
        }
        let now = self.inner.clock.now_ms();
        let record = QueueRecord {
            arn: self.inner.scope.arn("sqs", name),
            name: name.to_owned(),
            created_ms: now,
            modified_ms: now,
            attributes: serde_json::to_string(&attributes).unwrap_or_default(),
            tags: tags.clone(),
        };
        self.inner
            .store
            .commit(vec![Write::PutQueue(record.clone())])
            .await?;
        let queue = Arc::new(Queue {
            arn: record.arn,
            name: record.name,
            counters: Counters::default(),
            state: Mutex::new(QueueState {
                settings: Settings::of(&attributes),
                attributes,
                created_ms: now,
                modified_ms: now,
                tags,
                next_seq: 1,
                messages: BTreeMap::new(),
                deleted: false,
                attempts: Default::default(),
                dedup: std::collections::HashMap::new(),
            }),
            arrived: Notify::new(),
        });
        // Two creates of one name may race: the first one in the map wins.
        let mut queues = lock(&self.inner.queues);
        Ok(Arc::clone(queues.entry(name.to_owned()).or_insert(queue)))
    }

    /// Deletes the queue and its messages.
    pub async fn delete_queue(&self, name: &str) -> Result<(), Error> {
        let queue = self.queue(name)?;
        self.inner
            .store
            .commit(vec![Write::DeleteQueue {
                arn: queue.arn.clone(),
            }])
            .await?;
        lock(&queue.state).deleted = true;
        lock(&self.inner.queues).remove(name);
        queue.arrived.notify_waiters();
        Ok(())
    }

    /// Deletes every message of the queue.
    pub async fn purge(&self, name: &str) -> Result<(), Error> {
        let queue = self.queue(name)?;
        self.inner
            .store
            .commit(vec![Write::PurgeQueue {
                queue: queue.arn.clone(),
            }])
            .await?;
        lock(&queue.state).messages.clear();
        Ok(())
    }

    /// The queue's attributes: its settings, `QueueArn`, timestamps (epoch seconds) and the
    /// `Approximate*` counts.
    pub fn attributes(&self, name: &str) -> Result<AttributeMap, Error> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        let state = lock(&queue.state);
        let mut out = state.attributes.clone();
        let counts = state.counts(now);
        out.insert("QueueArn".into(), queue.arn.clone());
        out.insert(
            "ApproximateNumberOfMessages".into(),
            counts.visible.to_string(),
        );
        out.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            counts.in_flight.to_string(),
        );
        out.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            counts.delayed.to_string(),
        );
        out.insert(
            "CreatedTimestamp".into(),
            (state.created_ms / 1000).to_string(),
        );
        out.insert(
            "LastModifiedTimestamp".into(),
            (state.modified_ms / 1000).to_string(),
        );
        Ok(out)
    }

    /// SetQueueAttributes.
    pub async fn set_attributes(&self, name: &str, given: &AttributeMap) -> Result<(), Error> {
        let queue = self.queue(name)?;
        let (attributes, record) = {
            let state = lock(&queue.state);
            let attributes = settings::apply(&state.attributes, given)?;
            let record = QueueRecord {
                arn: queue.arn.clone(),
                name: queue.name.clone(),
                created_ms: state.created_ms,
                modified_ms: self.inner.clock.now_ms(),
                attributes: serde_json::to_string(&attributes).unwrap_or_default(),
                tags: state.tags.clone(),
            };
            (attributes, record)
        };
        self.check_dead_letter_target(&Settings::of(&attributes))?;
        let modified_ms = record.modified_ms;
        self.inner
            .store
            .commit(vec![Write::PutQueue(record)])
            .await?;
        let mut state = lock(&queue.state);
        state.settings = Settings::of(&attributes);
        state.attributes = attributes;
        state.modified_ms = modified_ms;
        drop(state);
        // A shorter delay or visibility may make messages receivable sooner.
        queue.arrived.notify_waiters();
        Ok(())
    }

    /// Sends `messages` to the queue in one commit: each one's outcome, in order (a message
    /// that breaks a rule fails alone).
    pub async fn send(
        &self,
        name: &str,
        messages: Vec<Send>,
    ) -> Result<Vec<Result<SendOutcome, Error>>, Error> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        let mut staged = stage(&queue, messages, now);
        if !staged.writes.is_empty() {
            self.inner
                .store
                .commit(std::mem::take(&mut staged.writes))
                .await?;
            staged.apply();
        }
        Ok(staged.outcomes)
    }

    /// Receives up to `options.max_messages` messages, waiting up to the wait time for the
    /// first one; each is invisible for the visibility timeout.
    pub async fn receive(&self, name: &str, options: Receive) -> Result<Vec<Received>, Error> {
        let queue = self.queue(name)?;
        let wait = {
            let state = lock(&queue.state);
            options
                .wait_seconds
                .unwrap_or(state.settings.receive_wait_seconds)
                .clamp(0, MAX_WAIT_SECONDS)
        };
        let deadline = self.inner.clock.now_ms() + wait * 1000;
        loop {
            let notified = queue.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (received, next_visible) = self.take(&queue, options).await?;
            let now = self.inner.clock.now_ms();
            if !received.is_empty() || now >= deadline {
                return Ok(received);
            }
            if lock(&queue.state).deleted {
                return Err(Error::QueueDoesNotExist);
            }
            let wake = next_visible.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = &mut notified => {}
                () = self.inner.clock.sleep_until(wake) => {}
            }
        }
    }

    /// A FIFO queue's receive with a `ReceiveRequestAttemptId`: a retry of an attempt made
    /// in the last five minutes gets the same messages and receipt handles, as long as none
    /// was deleted or made visible since; otherwise a new receive.
    pub async fn receive_attempt(
        &self,
        name: &str,
        options: Receive,
        attempt: Option<&str>,
    ) -> Result<Vec<Received>, Error> {
        let queue = self.queue(name)?;
        let Some(attempt) = attempt.filter(|_| lock(&queue.state).settings.fifo) else {
            return self.receive(name, options).await;
        };
        let now = self.inner.clock.now_ms();
        {
            let mut state = lock(&queue.state);
            state.attempts.retain(|_, (_, until)| *until > now);
            if let Some((received, _)) = state.attempts.get(attempt) {
                let unchanged = received.iter().all(|r| {
                    parse_receipt(&queue.name, &r.receipt_handle)
                        .ok()
                        .and_then(|seq| state.messages.get(&seq))
                        .is_some_and(|held| {
                            held.delivery.receipt.as_deref() == Some(r.receipt_handle.as_str())
                                && held.delivery.visible_ms > now
                        })
                });
                if unchanged {
                    return Ok(received.clone());
                }
            }
        }
        let received = self.receive(name, options).await?;
        if !received.is_empty() {
            lock(&queue.state).attempts.insert(
                attempt.to_owned(),
                (received.clone(), now + DEDUPLICATION_WINDOW_MS),
            );
        }
        Ok(received)
    }

    /// One pass of a receive: the messages handed out (committed first), and when the next
    /// invisible message becomes visible. Expired messages are deleted and messages past
    /// their `maxReceiveCount` moved to the dead-letter queue on the way.
    async fn take(
        &self,
        queue: &Arc<Queue>,
        options: Receive,
    ) -> Result<(Vec<Received>, Option<i64>), Error> {
        let now = self.inner.clock.now_ms();
        let mut writes = Vec::new();
        let mut received = Vec::new();
        let mut next_visible: Option<i64> = None;
        let mut to_dead_letter = Vec::new();
        {
            let mut state = lock(&queue.state);
            let settings = state.settings.clone();
            let visibility = options
                .visibility_timeout
                .unwrap_or(settings.visibility_timeout_seconds);
            let max = options.max_messages.clamp(1, MAX_RECEIVE);
            let mut expired = Vec::new();
            // FIFO: a group with a message in flight (or not yet visible) gives nothing until
            // that message is deleted or visible again, so each group is received in order.
            let mut blocked: std::collections::HashSet<&str> = std::collections::HashSet::new();
            for (&seq, held) in state.messages.iter_mut() {
                if held.sent.sent_ms + settings.retention_ms <= now {
                    expired.push(seq);
                    continue;
                }
                let group = held.sent.group_id.as_deref();
                if group.is_some_and(|g| blocked.contains(g)) {
                    continue;
                }
                if held.delivery.visible_ms > now {
                    if let Some(group) = group {
                        blocked.insert(group);
                    }
                    next_visible = Some(next_visible.map_or(held.delivery.visible_ms, |at| {
                        at.min(held.delivery.visible_ms)
                    }));
                    continue;
                }
                // Enough: when something was received nobody needs the next visibility, and
                // expired messages sit at the front, before what was handed out.
                if received.len() >= max {
                    break;
                }
                if let Some(redrive) = &settings.redrive
                    && held.delivery.receive_count >= redrive.max_receive_count
                {
                    to_dead_letter.push((seq, Arc::clone(&held.sent), redrive.clone()));
                    continue;
                }
                let receipt = receipt_handle(&queue.name, seq);
                held.delivery = Delivery {
                    visible_ms: now + visibility * 1000,
                    receive_count: held.delivery.receive_count + 1,
                    first_receive_ms: Some(held.delivery.first_receive_ms.unwrap_or(now)),
                    receipt: Some(receipt.clone()),
                };
                writes.push(Write::ReceiveMessage {
                    queue: queue.arn.clone(),
                    seq,
                    delivery: held.delivery.clone(),
                });
                received.push(Received {
                    sent: (*held.sent).clone(),
                    receipt_handle: receipt,
                    receive_count: held.delivery.receive_count,
                    first_receive_ms: held.delivery.first_receive_ms.unwrap_or(now),
                });
            }
            for seq in expired {
                state.messages.remove(&seq);
                writes.push(Write::DeleteMessage {
                    queue: queue.arn.clone(),
                    seq,
                });
            }
            for (seq, ..) in &to_dead_letter {
                state.messages.remove(seq);
            }
        }
        // Each dead-lettered message: sent to its dead-letter queue and deleted here in one
        // commit with the receives.
        let mut moved = Vec::new();
        for (seq, sent, redrive) in to_dead_letter {
            writes.push(Write::DeleteMessage {
                queue: queue.arn.clone(),
                seq,
            });
            match self.queue_by_arn(&redrive.dead_letter_target_arn) {
                Some(target) => {
                    let mut sent = (*sent).clone();
                    sent.dead_letter_source
                        .get_or_insert_with(|| queue.arn.clone());
                    let (write, target_seq, held) = arrival(&target, sent, now);
                    writes.push(write);
                    moved.push((target, target_seq, held));
                }
                // The dead-letter queue is gone: the message is dropped, as AWS does.
                None => tracing::warn!(
                    queue = %queue.name,
                    target = %redrive.dead_letter_target_arn,
                    "dead-letter queue missing; message dropped"
                ),
            }
        }
        if !writes.is_empty() {
            self.inner.store.commit(writes).await?;
        }
        bump(&queue.counters.received, received.len());
        bump(&queue.counters.dead_lettered, moved.len());
        for (target, seq, held) in moved {
            lock(&target.state).messages.insert(seq, held);
            bump(&target.counters.sent, 1);
            target.arrived.notify_waiters();
        }
        Ok((received, next_visible))
    }

    /// Deletes the message `receipt_handle` names (a message already deleted is not an
    /// error, as on AWS).
    pub async fn delete(&self, name: &str, receipt_handle: &str) -> Result<(), Error> {
        let queue = self.queue(name)?;
        let seq = parse_receipt(&queue.name, receipt_handle)?;
        if !lock(&queue.state).messages.contains_key(&seq) {
            return Ok(());
        }
        self.inner
            .store
            .commit(vec![Write::DeleteMessage {
                queue: queue.arn.clone(),
                seq,
            }])
            .await?;
        if lock(&queue.state).messages.remove(&seq).is_some() {
            bump(&queue.counters.deleted, 1);
        }
        Ok(())
    }

    /// Changes how long the received message `receipt_handle` names stays invisible, counted
    /// from now (at most 12 hours from its receive).
    pub async fn change_visibility(
        &self,
        name: &str,
        receipt_handle: &str,
        timeout_seconds: i64,
    ) -> Result<(), Error> {
        let queue = self.queue(name)?;
        let seq = parse_receipt(&queue.name, receipt_handle)?;
        let now = self.inner.clock.now_ms();
        if !(0..=MAX_VISIBILITY_SECONDS).contains(&timeout_seconds) {
            return Err(Error::InvalidParameterValue(format!(
                "Value {timeout_seconds} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
            )));
        }
        let delivery = {
            let mut state = lock(&queue.state);
            let held = state
                .messages
                .get_mut(&seq)
                .filter(|held| {
                    held.delivery.visible_ms > now
                        && held.delivery.receipt.as_deref() == Some(receipt_handle)
                })
                .ok_or(Error::MessageNotInflight)?;
            let received_ms = held.delivery.first_receive_ms.unwrap_or(now);
            if now + timeout_seconds * 1000 > received_ms + MAX_VISIBILITY_SECONDS * 1000 {
                return Err(Error::InvalidParameterValue(format!(
                    "Value {timeout_seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
                )));
            }
            held.delivery.visible_ms = now + timeout_seconds * 1000;
            held.delivery.clone()
        };
        self.inner
            .store
            .commit(vec![Write::ReceiveMessage {
                queue: queue.arn.clone(),
                seq,
                delivery,
            }])
            .await?;
        if timeout_seconds == 0 {
            queue.arrived.notify_waiters();
        }
        Ok(())
    }

    /// The queue's tags, sorted by key.
    pub fn tags(&self, name: &str) -> Result<Vec<(String, String)>, Error> {
        let queue = self.queue(name)?;
        let mut tags = lock(&queue.state).tags.clone();
        tags.sort();
        Ok(tags)
    }

    /// Adds or replaces `add` and removes `remove` (TagQueue, UntagQueue): at most 50 tags.
    pub async fn change_tags(
        &self,
        name: &str,
        add: Vec<(String, String)>,
        remove: &[String],
    ) -> Result<(), Error> {
        let queue = self.queue(name)?;
        let record = {
            let state = lock(&queue.state);
            let mut tags: BTreeMap<String, String> = state.tags.iter().cloned().collect();
            tags.extend(add);
            for key in remove {
                tags.remove(key);
            }
            if tags.len() > MAX_TAGS {
                return Err(Error::InvalidParameterValue(format!(
                    "Too many tags added for queue {name}."
                )));
            }
            QueueRecord {
                arn: queue.arn.clone(),
                name: queue.name.clone(),
                created_ms: state.created_ms,
                modified_ms: state.modified_ms,
                attributes: serde_json::to_string(&state.attributes).unwrap_or_default(),
                tags: tags.into_iter().collect(),
            }
        };
        let tags = record.tags.clone();
        self.inner
            .store
            .commit(vec![Write::PutQueue(record)])
            .await?;
        lock(&queue.state).tags = tags;
        Ok(())
    }

    /// The names of the queues whose redrive policy names this queue, sorted.
    pub fn dead_letter_sources(&self, name: &str) -> Result<Vec<String>, Error> {
        let target = self.queue(name)?;
        let queues: Vec<Arc<Queue>> = lock(&self.inner.queues).values().cloned().collect();
        Ok(queues
            .iter()
            .filter(|q| {
                lock(&q.state)
                    .settings
                    .redrive
                    .as_ref()
                    .is_some_and(|r| r.dead_letter_target_arn == target.arn)
            })
            .map(|q| q.name.clone())
            .collect())
    }

    /// Every queue's state at a glance, by name.
    pub fn queue_stats(&self) -> Vec<QueueStats> {
        let now = self.inner.clock.now_ms();
        let queues: Vec<Arc<Queue>> = lock(&self.inner.queues).values().cloned().collect();
        queues
            .iter()
            .map(|queue| {
                let state = lock(&queue.state);
                QueueStats {
                    name: queue.name.clone(),
                    arn: queue.arn.clone(),
                    fifo: state.settings.fifo,
                    counts: state.counts(now),
                    // Messages are kept in arrival order.
                    oldest_age_ms: state
                        .messages
                        .values()
                        .next()
                        .map_or(0, |held| (now - held.sent.sent_ms).max(0)),
                    sent: read(&queue.counters.sent),
                    received: read(&queue.counters.received),
                    deleted: read(&queue.counters.deleted),
                    dead_lettered: read(&queue.counters.dead_lettered),
                    dead_letter_target: state
                        .settings
                        .redrive
                        .as_ref()
                        .map(|r| r.dead_letter_target_arn.clone()),
                }
            })
            .collect()
    }

    /// The queue's counts.
    pub fn counts(&self, name: &str) -> Result<Counts, Error> {
        let queue = self.queue(name)?;
        let now = self.inner.clock.now_ms();
        Ok(lock(&queue.state).counts(now))
    }
}

impl QueueState {
    /// The delay of `message`, or why it cannot be sent.
    fn check(&self, message: &Send) -> Result<i64, Error> {
        let size = message.body.len()
            + message
                .attributes
                .iter()
                .map(|(name, attribute)| {
                    name.len()
                        + attribute.data_type.len()
                        + match &attribute.value {
                            AttributeValue::String(s) => s.len(),
                            AttributeValue::Binary(b) => b.len(),
                        }
                })
                .sum::<usize>();
        if size > self.settings.maximum_message_size {
            return Err(Error::InvalidParameterValue(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                self.settings.maximum_message_size
            )));
        }
        if message.body.is_empty() {
            return Err(Error::InvalidParameterValue(
                "The request must contain the parameter MessageBody.".into(),
            ));
        }
        if let Some(c) = message.body.chars().find(|c| !allowed(*c)) {
            return Err(Error::InvalidParameterValue(format!(
                "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF (found #x{:X})",
                u32::from(c)
            )));
        }
        if self.settings.fifo {
            if message.group_id.is_none() {
                return Err(Error::MissingParameter("MessageGroupId"));
            }
            if message.deduplication_id.is_none() && !self.settings.content_based_deduplication {
                return Err(Error::InvalidParameterValue(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
                ));
            }
            if let Some(delay) = message.delay_seconds {
                return Err(Error::InvalidParameterValue(format!(
                    "Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
                )));
            }
        }
        match message.delay_seconds {
            None => Ok(self.settings.delay_seconds),
            Some(delay) if (0..=900).contains(&delay) => Ok(delay),
            Some(delay) => Err(Error::InvalidParameterValue(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
            ))),
        }
    }

    fn counts(&self, now: i64) -> Counts {
        let mut counts = Counts::default();
        for held in self.messages.values() {
            if held.delivery.visible_ms <= now {
                counts.visible += 1;
            } else if held.delivery.receive_count == 0 {
                counts.delayed += 1;
            } else {
                counts.in_flight += 1;
            }
        }
        counts
    }
}

/// Messages checked and numbered for a queue, with the writes that store them: committed,
/// possibly with other writes (a topic's fan-out), then [`Staged::apply`]ed.
pub(crate) struct Staged {
    queue: Arc<Queue>,
    pub(crate) outcomes: Vec<Result<SendOutcome, Error>>,
    pub(crate) writes: Vec<Write>,
    held: Vec<(u64, Held)>,
}

impl Staged {
    /// After the commit: the messages become receivable.
    pub(crate) fn apply(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        bump(&self.queue.counters.sent, held.len());
        let mut state = lock(&self.queue.state);
        if !state.deleted {
            state.messages.extend(held);
        }
        drop(state);
        self.queue.arrived.notify_waiters();
    }
}

/// Checks and numbers `messages` for `queue` (deduplicating FIFO ones) without committing.
pub(crate) fn stage(queue: &Arc<Queue>, messages: Vec<Send>, now: i64) -> Staged {
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut held = Vec::new();
    let mut writes = Vec::new();
    {
        let mut state = lock(&queue.state);
        for message in messages {
            match state.check(&message) {
                Err(error) => outcomes.push(Err(error)),
                Ok(delay) => {
                    // A FIFO queue answers a deduplication id seen in the last five
                    // minutes with the first message, and keeps no second one.
                    let dedup = if state.settings.fifo {
                        let id = match &message.deduplication_id {
                            Some(id) => id.clone(),
                            None => content_deduplication_id(&message.body),
                        };
                        let key = if state.settings.deduplication_per_group {
                            format!("{}\n{id}", message.group_id.as_deref().unwrap_or_default())
                        } else {
                            id.clone()
                        };
                        if let Some((message_id, sequence, expires_ms)) = state.dedup.get(&key)
                            && *expires_ms > now
                        {
                            outcomes.push(Ok(SendOutcome {
                                message_id: message_id.clone(),
                                md5_of_body: md5::hex(message.body.as_bytes()),
                                md5_of_attributes: md5::of_attributes(&message.attributes),
                                sequence_number: Some(sequence_number(*sequence)),
                            }));
                            continue;
                        }
                        Some((key, id))
                    } else {
                        None
                    };
                    let seq = state.next_seq;
                    state.next_seq += 1;
                    let fifo = dedup.is_some();
                    let sent = Sent {
                        id: uuid::Uuid::new_v4().to_string(),
                        md5_of_body: md5::hex(message.body.as_bytes()),
                        md5_of_attributes: md5::of_attributes(&message.attributes),
                        body: message.body,
                        attributes: message.attributes,
                        sent_ms: now,
                        trace_header: message.trace_header,
                        dead_letter_source: None,
                        group_id: message.group_id.filter(|_| fifo),
                        deduplication_id: dedup.as_ref().map(|(_, id)| id.clone()),
                        sequence_number: fifo.then(|| sequence_number(seq)),
                    };
                    outcomes.push(Ok(SendOutcome {
                        message_id: sent.id.clone(),
                        md5_of_body: sent.md5_of_body.clone(),
                        md5_of_attributes: sent.md5_of_attributes.clone(),
                        sequence_number: sent.sequence_number.clone(),
                    }));
                    if let Some((key, _)) = dedup {
                        let expires_ms = now + DEDUPLICATION_WINDOW_MS;
                        state
                            .dedup
                            .insert(key.clone(), (sent.id.clone(), seq, expires_ms));
                        writes.push(Write::PutDedup {
                            record: DedupRecord {
                                queue: queue.arn.clone(),
                                key,
                                message_id: sent.id.clone(),
                                sequence: seq,
                                expires_ms,
                            },
                            now_ms: now,
                        });
                    }
                    let delivery = Delivery {
                        visible_ms: now + delay * 1000,
                        ..Delivery::default()
                    };
                    writes.push(Write::SendMessage(MessageRecord {
                        queue: queue.arn.clone(),
                        seq,
                        delivery: delivery.clone(),
                        body: sent.encode(),
                    }));
                    held.push((
                        seq,
                        Held {
                            sent: Arc::new(sent),
                            delivery,
                        },
                    ));
                }
            }
        }
    }
    Staged {
        queue: Arc::clone(queue),
        outcomes,
        writes,
        held,
    }
}

/// `sent` arriving in `target` from another queue (a dead-letter or message move): its place
/// there, the write that stores it, and what the target holds once that is committed.
fn arrival(target: &Queue, sent: Sent, now: i64) -> (Write, u64, Held) {
    let seq = {
        let mut state = lock(&target.state);
        state.next_seq += 1;
        state.next_seq - 1
    };
    let delivery = Delivery {
        visible_ms: now,
        ..Delivery::default()
    };
    let write = Write::SendMessage(MessageRecord {
        queue: target.arn.clone(),
        seq,
        delivery: delivery.clone(),
        body: sent.encode(),
    });
    let held = Held {
        sent: Arc::new(sent),
        delivery,
    };
    (write, seq, held)
}

/// A FIFO queue's sequence number: increasing per queue, 20 digits as AWS shows them.
pub(crate) fn sequence_number(seq: u64) -> String {
    format!("{:020}", 18_000_000_000_000_000_000u128 + u128::from(seq))
}

/// `ContentBasedDeduplication`: the SHA-256 of the body, hex.
pub(crate) fn content_deduplication_id(body: &str) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(body.as_bytes()))
}

/// The characters SQS accepts in a body (XML's).
fn allowed(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Queue names: 1 to 80 of `[A-Za-z0-9_-]`; a FIFO queue's ends with `.fifo` (counted).
fn validate_name(name: &str, fifo: bool) -> Result<(), Error> {
    let base = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let ok = base.is_some_and(|base| {
        !base.is_empty()
            && name.len() <= 80
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    match (ok, fifo) {
        (true, _) => Ok(()),
        (false, true) => Err(Error::InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into(),
        )),
        (false, false) => Err(Error::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
        )),
    }
}

/// A receipt handle: opaque to clients; names the queue, the message and this receive.
fn receipt_handle(queue: &str, seq: u64) -> String {
    let nonce = fastrand::u64(..);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{queue}\n{seq}\n{nonce:016x}"))
}

/// The message `handle` names in `queue`.
fn parse_receipt(queue: &str, handle: &str) -> Result<u64, Error> {
    let invalid = || Error::ReceiptHandleIsInvalid(handle.to_owned());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(handle)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.split('\n');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(seq), Some(nonce), None) if name == queue && nonce.len() == 16 => {
            seq.parse().map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_name_their_queue_and_message() {
        let handle = receipt_handle("q", 42);
        assert_eq!(parse_receipt("q", &handle), Ok(42));
        assert!(parse_receipt("other", &handle).is_err());
        for bad in ["", "x", "!!!", &handle[..handle.len() - 2]] {
            assert!(parse_receipt("q", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_follow_awss_rules() {
        assert!(validate_name("orders-1_a", false).is_ok());
        assert!(validate_name(&"a".repeat(80), false).is_ok());
        for bad in ["", "a b", "a.b", "a.fifo", &"a".repeat(81)] {
            assert!(validate_name(bad, false).is_err(), "{bad}");
        }
        assert!(validate_name("orders.fifo", true).is_ok());
        assert!(validate_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        for bad in ["orders", ".fifo", &format!("{}.fifo", "a".repeat(76))] {
            assert!(validate_name(bad, true).is_err(), "{bad}");
        }
    }
}
