//! [`Definitions`]: parsed state machines by (machine, revision), so that starting an
//! execution does not parse its definition again. Bounded: the oldest entry goes first once
//! it is full (a revision parsed again costs one parse; an unbounded map grows with every
//! revision ever run).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sluice_asl::definition::StateMachine;

/// `(machine ARN, revision id)`.
type Key = (String, String);

pub(crate) struct Definitions {
    capacity: usize,
    parsed: HashMap<Key, Arc<StateMachine>>,
    /// Insertion order, oldest first.
    order: VecDeque<Key>,
}

impl Definitions {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            parsed: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn get(&self, key: &Key) -> Option<Arc<StateMachine>> {
        self.parsed.get(key).cloned()
    }

    pub(crate) fn insert(&mut self, key: Key, machine: Arc<StateMachine>) {
        if self.parsed.insert(key.clone(), machine).is_some() {
            return;
        }
        self.order.push_back(key);
        while self.parsed.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.parsed.remove(&oldest);
                }
                None => break,
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.parsed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Arc<StateMachine> {
        let v = sluice_asl::validate::validate(
            r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#,
        );
        Arc::new(v.machine.expect("a valid definition"))
    }

    #[test]
    fn the_oldest_entries_go_once_it_is_full() {
        let mut definitions = Definitions::new(2);
        let m = machine();
        let key = |r: &str| ("arn:m".to_string(), r.to_string());
        definitions.insert(key("1"), Arc::clone(&m));
        definitions.insert(key("2"), Arc::clone(&m));
        definitions.insert(key("2"), Arc::clone(&m));
        assert_eq!(definitions.len(), 2);
        definitions.insert(key("3"), Arc::clone(&m));
        assert_eq!(definitions.len(), 2);
        assert!(definitions.get(&key("1")).is_none());
        assert!(definitions.get(&key("2")).is_some());
        assert!(definitions.get(&key("3")).is_some());
        for revision in 0..1_000 {
            definitions.insert(key(&format!("r{revision}")), Arc::clone(&m));
        }
        assert_eq!(definitions.len(), 2);
    }
}
