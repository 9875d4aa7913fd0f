//! Recently written executions, kept in memory for reads: the common read (DescribeExecution
//! of an execution that just moved) then neither waits for a reader thread nor touches SQLite.
//! The writer updates it after each group's `COMMIT` (the group is durable by then) and before
//! answering its commits, so it never holds what the file does not, and a reader that misses it
//! reads the file.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::{ExecutionRecord, Write};

/// Executions as last committed, the least recently written dropped first; bounded.
pub(super) struct Recent {
    items: Mutex<RecentItems>,
    capacity: usize,
}

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
        }
    }

    pub(super) fn get(&self, arn: &str) -> Option<ExecutionRecord> {
        self.lock().records.get(arn).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecentItems> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies the writes of a commit that is durable.
    pub(super) fn apply(&self, writes: Vec<Write>) {
        if self.capacity == 0 {
            return;
        }
        let mut items = self.lock();
        for write in writes {
            match write {
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
        ExecutionRecord {
            arn: arn.into(),
            state_machine_arn: "m".into(),
            name: arn.into(),
            status: status.into(),
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
        assert_eq!(recent.get("a").unwrap().status, "SUCCEEDED");
        // `a` was touched last: `b` is the oldest and goes first.
        recent.apply(vec![Write::InsertExecution(record("c", "RUNNING"))]);
        assert!(recent.get("b").is_none());
        assert_eq!(recent.get("a").unwrap().status, "SUCCEEDED");
        assert!(recent.get("c").is_some());
        recent.apply(vec![Write::DeleteExecution { arn: "a".into() }]);
        assert!(recent.get("a").is_none());
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
