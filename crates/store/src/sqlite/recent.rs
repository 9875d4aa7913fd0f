//! Records kept in memory for reads: recently written executions (the common read,
//! DescribeExecution of an execution that just moved) and state machines (read by every
//! StartExecution). Such a read then neither waits for a reader thread nor touches SQLite. The
//! writer updates them after each group's `COMMIT` (the group is durable by then) and before
//! answering its commits, so they never hold what the file does not, and a read that misses
//! reads the file.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::{ExecutionRecord, StateMachineRecord, Write};

/// Executions as last committed, the least recently written dropped first; bounded.
pub(super) struct Recent {
    items: Mutex<RecentItems>,
    capacity: usize,
    machines: Mutex<Machines>,
}

/// State machines and versions by ARN. Filled by the writer, and by readers that missed, but
/// only if no machine was written meanwhile (`generation`): a reader's copy may predate a
/// commit that the writer already applied here.
#[derive(Default)]
struct Machines {
    records: HashMap<String, StateMachineRecord>,
    generation: u64,
}

/// At most this many machines are kept (a server holds far fewer).
const MAX_MACHINES: usize = 4096;

#[derive(Default)]
struct RecentItems {
    records: HashMap<String, ExecutionRecord>,
    /// Insertion order; an ARN may appear more than once (updated since): only its last
    /// appearance counts, older ones are skipped when evicting.
    order: VecDeque<(String, u64)>,
    /// Per ARN, the stamp of its last appearance in `order`.
    stamps: HashMap<String, u64>,
    next_stamp: u64,
}

/// Records larger than this (big outputs, snapshots) are read from SQLite instead.
const MAX_RECENT_BYTES: usize = 64 * 1024;

impl Recent {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(RecentItems::default()),
            capacity,
            machines: Mutex::new(Machines::default()),
        }
    }

    pub(super) fn machine(&self, arn: &str) -> Option<StateMachineRecord> {
        self.machines().records.get(arn).cloned()
    }

    /// Sampled by a reader before it reads a machine from the file.
    pub(super) fn machines_generation(&self) -> u64 {
        self.machines().generation
    }

    /// Keeps a machine a reader read from the file, unless one was written since `generation`.
    pub(super) fn fill_machine(&self, generation: u64, record: StateMachineRecord) {
        let mut machines = self.machines();
        if self.capacity > 0
            && machines.generation == generation
            && machines.records.len() < MAX_MACHINES
        {
            machines.records.insert(record.arn.clone(), record);
        }
    }

    fn machines(&self) -> std::sync::MutexGuard<'_, Machines> {
        self.machines.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, arn: &str) -> Option<ExecutionRecord> {
        self.lock().records.get(arn).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecentItems> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets executions a durable purge deleted.
    pub(super) fn forget(&self, arns: &[String]) {
        if self.capacity == 0 {
            return;
        }
        let mut items = self.lock();
        for arn in arns {
            items.remove(arn);
        }
    }

    /// Applies the writes of a commit that is durable.
    pub(super) fn apply(&self, writes: Vec<Write>) {
        if self.capacity == 0 {
            return;
        }
        let mut items = self.lock();
        for write in writes {
            match write {
                Write::PutStateMachine(record) => {
                    let mut machines = self.machines();
                    machines.generation += 1;
                    if machines.records.len() < MAX_MACHINES {
                        machines.records.insert(record.arn.clone(), record);
                    } else {
                        machines.records.remove(&record.arn);
                    }
                }
                Write::DeleteStateMachine { arn } => {
                    // The machine and its versions, as the file does.
                    let mut machines = self.machines();
                    machines.generation += 1;
                    machines
                        .records
                        .retain(|key, record| key != &arn && record.machine_arn() != arn);
                }
                Write::InsertExecution(record) | Write::UpdateExecution(record) => {
                    if record_bytes(&record) > MAX_RECENT_BYTES {
                        items.remove(&record.arn);
                    } else {
                        items.put(record, self.capacity);
                    }
                }
                Write::DeleteExecution { arn } => items.remove(&arn),
                _ => {}
            }
        }
    }
}

impl RecentItems {
    fn put(&mut self, record: ExecutionRecord, capacity: usize) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.stamps.insert(record.arn.clone(), stamp);
        self.order.push_back((record.arn.clone(), stamp));
        self.records.insert(record.arn.clone(), record);
        while self.records.len() > capacity || self.order.len() > capacity.saturating_mul(2) {
            let Some((arn, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.stamps.get(&arn) == Some(&stamp) {
                self.stamps.remove(&arn);
                self.records.remove(&arn);
            }
        }
    }

    fn remove(&mut self, arn: &str) {
        self.records.remove(arn);
        self.stamps.remove(arn);
    }
}

fn record_bytes(record: &ExecutionRecord) -> usize {
    record.input.len()
        + record.output.as_ref().map_or(0, String::len)
        + record.snapshot.as_ref().map_or(0, String::len)
        + record.cause.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(arn: &str, status: &str) -> ExecutionRecord {
        let status = status.parse().unwrap();
        ExecutionRecord {
            arn: arn.into(),
            state_machine_arn: "m".into(),
            name: arn.into(),
            status,
            input: "{}".into(),
            output: None,
            error: None,
            cause: None,
            start_ms: 0,
            stop_ms: None,
            redrive_count: 0,
            snapshot: None,
            next_event_id: 1,
            revision_id: String::new(),
            alias_arn: None,
            redrive_ms: None,
        }
    }

    #[test]
    fn recent_keeps_the_last_version_and_evicts_the_oldest() {
        let recent = Recent::new(2);
        recent.apply(vec![Write::InsertExecution(record("a", "RUNNING"))]);
        recent.apply(vec![Write::InsertExecution(record("b", "RUNNING"))]);
        recent.apply(vec![Write::UpdateExecution(record("a", "SUCCEEDED"))]);
        assert_eq!(recent.get("a").unwrap().status.as_str(), "SUCCEEDED");
        // `a` was touched last: `b` is the oldest and goes first.
        recent.apply(vec![Write::InsertExecution(record("c", "RUNNING"))]);
        assert!(recent.get("b").is_none());
        assert_eq!(recent.get("a").unwrap().status.as_str(), "SUCCEEDED");
        assert!(recent.get("c").is_some());
        recent.apply(vec![Write::DeleteExecution { arn: "a".into() }]);
        assert!(recent.get("a").is_none());
        recent.forget(&["c".to_owned(), "gone".to_owned()]);
        assert!(recent.get("c").is_none());
    }

    fn machine(arn: &str, revision: &str, version: Option<u64>) -> StateMachineRecord {
        StateMachineRecord {
            arn: arn.into(),
            name: "m".into(),
            machine_type: crate::MachineType::Standard,
            definition: "{}".into(),
            role_arn: "r".into(),
            description: None,
            created_ms: 0,
            updated_ms: 0,
            revision_id: revision.into(),
            tags: Vec::new(),
            extra: None,
            version,
        }
    }

    #[test]
    fn a_reader_s_copy_of_a_machine_is_kept_only_if_none_was_written_since() {
        let recent = Recent::new(8);
        let before = recent.machines_generation();
        // The writer commits a new revision while a reader still holds the old one.
        recent.apply(vec![Write::PutStateMachine(machine("m", "rev-2", None))]);
        recent.fill_machine(before, machine("m", "rev-1", None));
        assert_eq!(recent.machine("m").unwrap().revision_id, "rev-2");
        // Deleting a machine forgets its versions too.
        recent.apply(vec![Write::PutStateMachine(machine(
            "m:1",
            "rev-2",
            Some(1),
        ))]);
        let now = recent.machines_generation();
        recent.fill_machine(now, machine("other", "rev-1", None));
        recent.apply(vec![Write::DeleteStateMachine { arn: "m".into() }]);
        assert!(recent.machine("m").is_none() && recent.machine("m:1").is_none());
        assert!(recent.machine("other").is_some());
    }

    #[test]
    fn recent_skips_large_records_and_forgets_their_older_versions() {
        let recent = Recent::new(8);
        recent.apply(vec![Write::InsertExecution(record("a", "RUNNING"))]);
        let mut big = record("a", "SUCCEEDED");
        big.output = Some("x".repeat(MAX_RECENT_BYTES + 1));
        recent.apply(vec![Write::UpdateExecution(big)]);
        assert!(
            recent.get("a").is_none(),
            "a stale RUNNING copy must not be served"
        );
    }
}
