//! The records the store keeps and the writes that change them: plain data, no behaviour
//! beyond a few helpers.

use serde::{Deserialize, Serialize};
use sluice_types::Arn;
pub use sluice_types::ExecutionStatus;

/// STANDARD (durable) or EXPRESS (in memory) state machine; serialized as AWS spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MachineType {
    Standard,
    Express,
}

impl MachineType {
    /// AWS's name: `STANDARD` or `EXPRESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Express => "EXPRESS",
        }
    }

    /// The inverse of [`MachineType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "STANDARD" => Some(Self::Standard),
            "EXPRESS" => Some(Self::Express),
            _ => None,
        }
    }
}

/// A state machine, or one of its published versions (`version` is `Some(n)` and `arn` is
/// `<machine arn>:<n>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    pub machine_type: MachineType,
    pub definition: String,
    pub role_arn: String,
    pub description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub revision_id: String,
    pub tags: Vec<(String, String)>,
    /// JSON owned by the caller: logging/tracing configuration and the like.
    pub extra: Option<String>,
    /// `None` for the machine itself, `Some(n)` for its published version `n`.
    pub version: Option<u64>,
}

impl StateMachineRecord {
    /// The machine this record belongs to: its own ARN for a machine, the ARN without the
    /// `:<n>` suffix for a version.
    pub fn machine_arn(&self) -> &str {
        match self.version {
            None => &self.arn,
            Some(_) => self
                .arn
                .rsplit_once(':')
                .map_or(&self.arn, |(machine, _)| machine),
        }
    }
}

/// What a state machine ARN names, told apart by its shape alone: an unqualified machine
/// (`arn:<p>:states:<r>:<a>:stateMachine:<name>`), one of its versions (a qualifier of digits)
/// or one of its aliases (a qualifier with a non-digit). Anything else counts as a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineArn<'a> {
    Machine(&'a str),
    /// The version ARN and its machine's.
    Version {
        arn: &'a str,
        machine: &'a str,
    },
    /// The alias ARN and its machine's.
    Alias {
        arn: &'a str,
        machine: &'a str,
    },
}

impl<'a> MachineArn<'a> {
    pub fn parse(arn: &'a str) -> Self {
        let qualifier = Arn::parse(arn)
            .ok()
            .and_then(|parsed| parsed.state_machine())
            .and_then(|machine| machine.qualifier);
        let Some(qualifier) = qualifier else {
            return Self::Machine(arn);
        };
        let machine = arn
            .strip_suffix(qualifier)
            .and_then(|rest| rest.strip_suffix(':'))
            .unwrap_or(arn);
        if qualifier.bytes().all(|b| b.is_ascii_digit()) {
            Self::Version { arn, machine }
        } else {
            Self::Alias { arn, machine }
        }
    }

    /// The unqualified machine ARN.
    pub fn machine(self) -> &'a str {
        match self {
            Self::Machine(machine)
            | Self::Version { machine, .. }
            | Self::Alias { machine, .. } => machine,
        }
    }
}

/// A state machine alias (`arn` is `<machine arn>:<name>`): a name that routes each new
/// execution to one of one or two versions of the machine by weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub arn: String,
    pub machine_arn: String,
    pub name: String,
    pub description: Option<String>,
    /// `(version ARN, weight)`, in the order given; the weights sum to 100.
    pub routing: Vec<(String, u32)>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl AliasRecord {
    /// The version a draw in `0..100` routes to: each version takes a band as wide as its
    /// weight, in order (a weight of 0 is never picked). Weights that do not sum to 100 (the
    /// API never stores them): the heaviest takes the rest.
    pub fn pick(&self, draw: u32) -> Option<&str> {
        let mut upper = 0;
        for (version, weight) in &self.routing {
            upper += weight;
            if draw < upper {
                return Some(version);
            }
        }
        self.routing
            .iter()
            .max_by_key(|(_, weight)| *weight)
            .map(|(version, _)| version.as_str())
    }
}

/// One execution of a state machine. `snapshot` is the engine's own JSON (where the execution
/// is); the store never looks inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub arn: String,
    /// The machine, or the version, the execution runs (never an alias: see `alias_arn`).
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub redrive_count: u32,
    pub snapshot: Option<String>,
    pub next_event_id: u64,
    /// The machine revision the execution runs ([`crate::Store::revision`]); empty when
    /// unknown (executions recorded before schema version 2).
    pub revision_id: String,
    /// The alias the execution was started through, if any.
    pub alias_arn: Option<String>,
    /// When the execution was last redriven.
    pub redrive_ms: Option<i64>,
}

impl ExecutionRecord {
    /// The unqualified ARN of the machine the execution belongs to, whether it was started
    /// from the machine, a version or an alias.
    pub fn machine_arn(&self) -> &str {
        MachineArn::parse(&self.state_machine_arn).machine()
    }
}

/// An activity: a named queue of tasks that workers poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub created_ms: i64,
    pub tags: Vec<(String, String)>,
}

/// A queue (SQS). `attributes` is the broker's JSON; the store never looks inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecord {
    pub arn: String,
    pub name: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub attributes: String,
    pub tags: Vec<(String, String)>,
}

/// A message of a queue until it is deleted. `body` is the broker's encoding of the message,
/// written once; a receive changes only the delivery state ([`Write::ReceiveMessage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The queue's ARN.
    pub queue: String,
    /// The message's place in its queue (send order), unique in the queue.
    pub seq: u64,
    pub delivery: Delivery,
    pub body: Vec<u8>,
}

/// Where a message stands in its deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delivery {
    /// When the message may be received (next): after its delay, or its visibility timeout.
    pub visible_ms: i64,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
    /// The receipt handle of the latest receive.
    pub receipt: Option<String>,
}

/// A FIFO queue's deduplication record: what a deduplication id answers until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupRecord {
    /// The queue's ARN.
    pub queue: String,
    /// The broker's key (the id, or the group and the id).
    pub key: String,
    pub message_id: String,
    pub sequence: u64,
    pub expires_ms: i64,
}

/// A distributed Map's Map Run. `body` is the engine's own JSON (its status, limits and
/// counts); the store never looks inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRunRecord {
    pub arn: String,
    /// The execution whose Map state started it.
    pub execution_arn: String,
    pub start_ms: i64,
    pub body: String,
}

/// One history event; `(execution_arn, id)` is unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub execution_arn: String,
    pub id: u64,
    /// The event's JSON.
    pub body: String,
}

/// A durable timer (Wait, retry backoff, timeout); `(execution_arn, key)` is unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerRecord {
    pub execution_arn: String,
    pub key: String,
    pub due_ms: i64,
    pub payload: String,
}

/// One change inside a [`crate::Store::commit`]. A commit applies all of its writes or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Inserts the machine (or version), or replaces the record with the same ARN. Also
    /// records the record's revision (definition and role) if its machine does not have it
    /// yet, so that it stays readable through [`crate::Store::revision`] after the machine
    /// changes or is deleted.
    PutStateMachine(StateMachineRecord),
    /// Deletes a machine with all its versions and aliases, or, given a version ARN, that
    /// version only. Deleting what does not exist is not an error. Executions and revisions
    /// stay (a running execution may still need its revision).
    DeleteStateMachine { arn: String },
    /// Inserts the alias, or replaces the one with the same ARN.
    PutAlias(AliasRecord),
    /// Deletes an alias; deleting a missing alias is not an error.
    DeleteAlias { arn: String },
    /// Fails with [`crate::Error::Conflict`] if an execution with that ARN exists.
    InsertExecution(ExecutionRecord),
    /// Replaces an existing execution; [`crate::Error::NotFound`] if there is none.
    UpdateExecution(ExecutionRecord),
    /// Appends history events to executions that exist (inserted by an earlier commit or
    /// earlier in this one; otherwise [`crate::Error::NotFound`]). An `(execution_arn, id)`
    /// already recorded (or repeated in the same write) is [`crate::Error::Conflict`]: the
    /// exactly-once guard of a transition.
    AppendEvents(Vec<EventRecord>),
    /// Inserts the timer or replaces the one with the same `(execution_arn, key)`.
    PutTimer(TimerRecord),
    /// Deletes one timer; deleting a missing timer is not an error.
    DeleteTimer { execution_arn: String, key: String },
    /// Deletes an execution with its events, timers and Map Runs; missing is not an error.
    DeleteExecution { arn: String },
    /// Inserts the Map Run or replaces the one with the same ARN.
    PutMapRun(MapRunRecord),
    /// Inserts the activity or replaces the one with the same ARN.
    PutActivity(ActivityRecord),
    /// Deletes an activity; deleting a missing activity is not an error.
    DeleteActivity { arn: String },
    /// Inserts the queue or replaces the one with the same ARN (its messages stay).
    PutQueue(QueueRecord),
    /// Deletes a queue and its messages; deleting a missing queue is not an error.
    DeleteQueue { arn: String },
    /// Inserts a message (its `(queue, seq)` must be new: a conflict otherwise).
    SendMessage(MessageRecord),
    /// A message's delivery state after a receive or a visibility change; a message that is no
    /// longer there (deleted meanwhile) is not an error.
    ReceiveMessage {
        queue: String,
        seq: u64,
        delivery: Delivery,
    },
    /// Deletes a message; deleting a missing message is not an error.
    DeleteMessage { queue: String, seq: u64 },
    /// Deletes every message of a queue.
    PurgeQueue { queue: String },
    /// Records a deduplication id (replacing an expired one) and forgets the queue's records
    /// that expired before `now_ms`.
    PutDedup { record: DedupRecord, now_ms: i64 },
    /// Inserts the record or replaces the one with the same `(kind, key)`.
    PutResource(ResourceRecord),
    /// Deletes one record; deleting a missing record is not an error.
    DeleteResource { kind: String, key: String },
    /// Appends records to a stream (each `(stream, shard, seq)` must be new: a conflict
    /// otherwise).
    PutStreamRecords(Vec<StreamRecord>),
    /// Forgets a stream's records that arrived before `before_ms` (retention).
    TrimStreamRecords { stream: i64, before_ms: i64 },
    /// Forgets every record of a stream.
    DeleteStreamRecords { stream: i64 },
}

impl Write {
    /// Roughly how many bytes this write carries; bounds the size of a commit group.
    pub fn approx_bytes(&self) -> usize {
        const ROW: usize = 64;
        match self {
            Self::PutStateMachine(m) => {
                ROW + m.arn.len()
                    + m.name.len()
                    + m.definition.len()
                    + m.role_arn.len()
                    + m.description.as_ref().map_or(0, String::len)
                    + m.revision_id.len()
                    + m.tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
                    + m.extra.as_ref().map_or(0, String::len)
            }
            Self::PutAlias(a) => {
                ROW + a.arn.len()
                    + a.machine_arn.len()
                    + a.name.len()
                    + a.description.as_ref().map_or(0, String::len)
                    + a.routing.iter().map(|(v, _)| v.len() + 8).sum::<usize>()
            }
            Self::InsertExecution(e) | Self::UpdateExecution(e) => {
                ROW + e.arn.len()
                    + 2 * e.state_machine_arn.len()
                    + e.name.len()
                    + e.input.len()
                    + e.revision_id.len()
                    + e.alias_arn.as_ref().map_or(0, String::len)
                    + [&e.output, &e.error, &e.cause, &e.snapshot]
                        .iter()
                        .map(|s| s.as_ref().map_or(0, String::len))
                        .sum::<usize>()
            }
            Self::AppendEvents(events) => events
                .iter()
                .map(|e| ROW + e.execution_arn.len() + e.body.len())
                .sum(),
            Self::PutTimer(t) => ROW + t.execution_arn.len() + t.key.len() + t.payload.len(),
            Self::PutMapRun(r) => ROW + r.arn.len() + r.execution_arn.len() + r.body.len(),
            Self::PutActivity(a) => {
                ROW + a.arn.len()
                    + a.name.len()
                    + a.tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            }
            Self::PutQueue(q) => {
                ROW + q.arn.len()
                    + q.name.len()
                    + q.attributes.len()
                    + q.tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            }
            Self::SendMessage(m) => ROW + m.queue.len() + m.body.len(),
            Self::ReceiveMessage {
                queue, delivery, ..
            } => ROW + queue.len() + delivery.receipt.as_ref().map_or(0, String::len),
            Self::DeleteMessage { queue, .. } | Self::PurgeQueue { queue } => ROW + queue.len(),
            Self::PutResource(r) => ROW + r.kind.len() + r.key.len() + r.body.len(),
            Self::DeleteResource { kind, key } => ROW + kind.len() + key.len(),
            Self::PutStreamRecords(records) => records
                .iter()
                .map(|r| ROW + r.partition_key.len() + r.data.len())
                .sum(),
            Self::TrimStreamRecords { .. } | Self::DeleteStreamRecords { .. } => ROW,
            Self::PutDedup { record, .. } => {
                ROW + record.queue.len() + record.key.len() + record.message_id.len()
            }
            Self::DeleteStateMachine { arn }
            | Self::DeleteAlias { arn }
            | Self::DeleteExecution { arn }
            | Self::DeleteActivity { arn }
            | Self::DeleteQueue { arn } => ROW + arn.len(),
            Self::DeleteTimer { execution_arn, key } => ROW + execution_arn.len() + key.len(),
        }
    }
}

/// A control-plane record of a service that keeps no table of its own (a topic, a
/// subscription, an event-source mapping...): its body is the owning crate's encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    /// What the record is, e.g. `sns-topic`; one namespace per owner.
    pub kind: String,
    /// Unique within the kind, usually an ARN.
    pub key: String,
    pub body: Vec<u8>,
}

/// One record of a data stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// The stream's id (unique per stream created, never reused).
    pub stream: i64,
    /// The shard's index in its stream.
    pub shard: u32,
    /// Increasing within the stream.
    pub seq: u64,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// What [`crate::Store::stream_records`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRead {
    pub stream: i64,
    pub shard: u32,
    pub from_seq: u64,
    pub min_arrival_ms: i64,
    pub limit: usize,
    pub max_bytes: usize,
}

/// The newest record of one shard, as a stream resumes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardHead {
    pub shard: u32,
    pub last_seq: u64,
    pub last_arrival_ms: i64,
}

/// Which executions [`crate::Store::executions`] lists; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// An unqualified machine ARN: every execution of the machine, whether started from the
    /// machine, one of its versions or one of its aliases. A version ARN: the executions
    /// started from that version (directly or through an alias). An alias ARN: the executions
    /// started through that alias. (Told apart by [`MachineArn::parse`].)
    pub state_machine_arn: Option<String>,
    pub status: Option<ExecutionStatus>,
    /// `Some(true)`: only executions redriven at least once; `Some(false)`: only the others.
    pub redriven: Option<bool>,
}

/// One page of a listing. `next` is an opaque token for the following page, `None` on the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(routing: &[(&str, u32)]) -> AliasRecord {
        AliasRecord {
            arn: "m:live".into(),
            machine_arn: "m".into(),
            name: "live".into(),
            description: None,
            routing: routing.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect(),
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn alias_draws_land_in_weight_bands() {
        let split = alias(&[("v1", 30), ("v2", 70)]);
        assert_eq!(split.pick(0), Some("v1"));
        assert_eq!(split.pick(29), Some("v1"));
        assert_eq!(split.pick(30), Some("v2"));
        assert_eq!(split.pick(99), Some("v2"));
        let all_or_nothing = alias(&[("v1", 100), ("v2", 0)]);
        assert!((0..100).all(|draw| all_or_nothing.pick(draw) == Some("v1")));
        assert_eq!(alias(&[]).pick(5), None);
    }

    #[test]
    fn machine_arns_are_told_apart_by_their_qualifier() {
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
        assert_eq!(MachineArn::parse(machine), MachineArn::Machine(machine));
        let version = "arn:aws:states:us-east-1:123456789012:stateMachine:m:12";
        assert_eq!(
            MachineArn::parse(version),
            MachineArn::Version {
                arn: version,
                machine
            }
        );
        let alias = "arn:aws:states:us-east-1:123456789012:stateMachine:m:prod";
        assert_eq!(
            MachineArn::parse(alias),
            MachineArn::Alias {
                arn: alias,
                machine
            }
        );
        for other in [
            "arn:aws:states:us-east-1:123456789012:stateMachine:m:",
            "arn:aws:states:us-east-1:123456789012:execution:m:e",
            "m",
        ] {
            assert_eq!(MachineArn::parse(other), MachineArn::Machine(other));
        }
    }
}
