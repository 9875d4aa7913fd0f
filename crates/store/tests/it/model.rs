//! Random sequences of commits against SQLite and against an in-memory model (BTreeMaps with the
//! contract's semantics): every commit gets the same verdict and every read the same answer.
//! Keys come from small pools so that replacements, conflicts, ties and deletions are common.

use std::collections::BTreeMap;

use crate::common::{TempDir, machine_arn};
use proptest::prelude::*;
use sluice_store::ExecutionStatus;
use sluice_store::{
    AliasRecord, Error, EventRecord, ExecutionFilter, ExecutionRecord, MachineType, MapRunRecord,
    Page, SqliteOptions, SqliteStore, StateMachineRecord, Store, TimerRecord, Write,
};

const MACHINES: &[&str] = &["m1", "m2", "m3"];
const EXECUTION_NAMES: &[&str] = &["e0", "e1", "e2"];
const STATUSES: &[&str] = &[
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "ABORTED",
    "PENDING_REDRIVE",
];
/// What [`Store::purge_closed`] may delete.
const CLOSED: &[&str] = &["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
const TIMER_KEYS: &[&str] = &["wait", "retry"];
const MAP_RUNS: &[&str] = &["run-1", "run-2", "run-3"];
const ALIASES: &[&str] = &["live", "beta"];
const REVISIONS: &[&str] = &["r0", "r1", "r2", "r3", "r4"];

fn exec_arn(machine: &str, name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:{machine}:{name}")
}

fn machine_strategy() -> impl Strategy<Value = StateMachineRecord> {
    (
        prop::sample::select(MACHINES),
        prop::option::of(1u64..=3),
        any::<bool>(),
        "[a-z]{0,6}",
        prop::option::of("[a-z ]{0,8}"),
        0i64..5,
        prop::collection::vec(("[a-z]{1,3}", "[a-z]{0,3}"), 0..3),
    )
        .prop_map(
            |(name, version, express, definition, description, time, tags)| {
                let base = machine_arn(name);
                StateMachineRecord {
                    arn: match version {
                        Some(n) => format!("{base}:{n}"),
                        None => base,
                    },
                    name: name.to_owned(),
                    machine_type: if express {
                        MachineType::Express
                    } else {
                        MachineType::Standard
                    },
                    definition,
                    role_arn: "arn:aws:iam::123456789012:role/r".into(),
                    description,
                    created_ms: time,
                    updated_ms: time + 1,
                    revision_id: format!("r{}", time % 2),
                    tags,
                    extra: (time % 2 == 0).then(|| format!("{{\"t\":{time}}}")),
                    version,
                }
            },
        )
}

fn execution_strategy() -> impl Strategy<Value = ExecutionRecord> {
    (
        prop::sample::select(&MACHINES[..2]),
        prop::sample::select(EXECUTION_NAMES),
        prop::sample::select(STATUSES),
        0i64..4,
        prop::option::of("[a-z]{0,4}"),
        0u64..10,
        0u32..3,
        (
            prop::option::of(1u64..=2),
            prop::option::of(prop::sample::select(ALIASES)),
            // Few revisions, so that executions often share one (the purge drops a revision
            // only with the last execution that ran it).
            prop::sample::select(&REVISIONS[..2]),
        ),
    )
        .prop_map(
            |(
                machine,
                name,
                status,
                start_ms,
                output,
                next_event_id,
                redrive_count,
                (version, alias, revision),
            )| {
                ExecutionRecord {
                    arn: exec_arn(machine, name),
                    state_machine_arn: match version {
                        Some(n) => format!("{}:{n}", machine_arn(machine)),
                        None => machine_arn(machine),
                    },
                    name: name.to_owned(),
                    status: status.parse().unwrap(),
                    input: "{}".into(),
                    output,
                    error: None,
                    cause: None,
                    start_ms,
                    // Open executions too may carry a stop time (one redriven, say): the
                    // purge must go by status.
                    stop_ms: (status != "RUNNING" || next_event_id % 2 == 0)
                        .then_some(start_ms + 1),
                    redrive_count,
                    snapshot: Some(format!("{{\"n\":{next_event_id}}}")),
                    next_event_id,
                    revision_id: revision.to_owned(),
                    alias_arn: alias.map(|a| format!("{}:{a}", machine_arn(machine))),
                    redrive_ms: (redrive_count > 0).then_some(start_ms + 2),
                }
            },
        )
}

fn execution_arn_strategy() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&MACHINES[..2]),
        prop::sample::select(EXECUTION_NAMES),
    )
        .prop_map(|(machine, name)| exec_arn(machine, name))
}

fn alias_strategy() -> impl Strategy<Value = AliasRecord> {
    (
        prop::sample::select(MACHINES),
        prop::sample::select(ALIASES),
        prop::option::of("[a-z]{0,4}"),
        prop::collection::vec((1u64..=3, 0u32..=100), 1..3),
        0i64..5,
    )
        .prop_map(|(machine, name, description, routing, time)| {
            let base = machine_arn(machine);
            AliasRecord {
                arn: format!("{base}:{name}"),
                routing: routing
                    .into_iter()
                    .map(|(v, w)| (format!("{base}:{v}"), w))
                    .collect(),
                machine_arn: base,
                name: name.to_owned(),
                description,
                created_ms: time,
                updated_ms: time + 1,
            }
        })
}

fn write_strategy() -> impl Strategy<Value = Write> {
    prop_oneof![
        2 => alias_strategy().prop_map(Write::PutAlias),
        1 => (prop::sample::select(MACHINES), prop::sample::select(ALIASES)).prop_map(
            |(machine, name)| Write::DeleteAlias { arn: format!("{}:{name}", machine_arn(machine)) }
        ),
        3 => machine_strategy().prop_map(Write::PutStateMachine),
        1 => (prop::sample::select(MACHINES), prop::option::of(1u64..=3)).prop_map(
            |(name, version)| Write::DeleteStateMachine {
                arn: match version {
                    Some(n) => format!("{}:{n}", machine_arn(name)),
                    None => machine_arn(name),
                },
            }
        ),
        4 => execution_strategy().prop_map(Write::InsertExecution),
        3 => execution_strategy().prop_map(Write::UpdateExecution),
        5 => (
            execution_arn_strategy(),
            prop::collection::vec((1u64..8, "[a-z]{0,5}"), 0..4)
        )
            .prop_map(|(arn, events)| Write::AppendEvents(
                events
                    .into_iter()
                    .map(|(id, body)| EventRecord { execution_arn: arn.clone(), id, body })
                    .collect()
            )),
        3 => (execution_arn_strategy(), prop::sample::select(TIMER_KEYS), 0i64..4, "[a-z]{0,4}")
            .prop_map(|(execution_arn, key, due_ms, payload)| Write::PutTimer(TimerRecord {
                execution_arn,
                key: key.to_owned(),
                due_ms,
                payload,
            })),
        1 => (execution_arn_strategy(), prop::sample::select(TIMER_KEYS)).prop_map(
            |(execution_arn, key)| Write::DeleteTimer { execution_arn, key: key.to_owned() }
        ),
        1 => execution_arn_strategy().prop_map(|arn| Write::DeleteExecution { arn }),
        2 => (execution_arn_strategy(), prop::sample::select(MAP_RUNS), 0i64..4, "[a-z]{0,4}")
            .prop_map(|(execution_arn, arn, start_ms, body)| Write::PutMapRun(MapRunRecord {
                arn: arn.to_owned(),
                execution_arn,
                start_ms,
                body,
            })),
    ]
}

/// One step of a test: a commit, or a purge batch (`stopped_before_ms`, `limit`).
#[derive(Debug, Clone)]
enum Op {
    Commit(Vec<Write>),
    Purge(i64, usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(write_strategy(), 0..5).prop_map(Op::Commit),
        2 => (0i64..7, 1usize..4).prop_map(|(before, limit)| Op::Purge(before, limit)),
    ]
}

/// The contract, in memory.
#[derive(Debug, Clone, Default)]
struct Model {
    machines: BTreeMap<String, StateMachineRecord>,
    /// (machine, revision) → (type, definition, role, recorded at)
    revisions: BTreeMap<(String, String), (MachineType, String, String, i64)>,
    aliases: BTreeMap<String, AliasRecord>,
    executions: BTreeMap<String, ExecutionRecord>,
    events: BTreeMap<(String, u64), String>,
    timers: BTreeMap<(String, String), TimerRecord>,
    map_runs: BTreeMap<String, MapRunRecord>,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Conflict,
    NotFound,
}

impl Model {
    fn commit(&mut self, writes: &[Write]) -> Verdict {
        let mut next = self.clone();
        for write in writes {
            let verdict = next.apply(write);
            if verdict != Verdict::Ok {
                return verdict;
            }
        }
        *self = next;
        Verdict::Ok
    }

    fn apply(&mut self, write: &Write) -> Verdict {
        match write {
            Write::PutStateMachine(m) => {
                self.machines.insert(m.arn.clone(), m.clone());
                self.revisions
                    .entry((m.machine_arn().to_owned(), m.revision_id.clone()))
                    .or_insert_with(|| {
                        (
                            m.machine_type,
                            m.definition.clone(),
                            m.role_arn.clone(),
                            m.updated_ms,
                        )
                    });
            }
            Write::DeleteStateMachine { arn } => {
                self.machines
                    .retain(|key, m| key != arn && m.machine_arn() != arn);
                self.aliases.retain(|_, a| &a.machine_arn != arn);
            }
            Write::PutAlias(a) => {
                self.aliases.insert(a.arn.clone(), a.clone());
            }
            Write::DeleteAlias { arn } => {
                self.aliases.remove(arn);
            }
            Write::InsertExecution(e) => {
                if self.executions.contains_key(&e.arn) {
                    return Verdict::Conflict;
                }
                self.executions.insert(e.arn.clone(), e.clone());
            }
            Write::UpdateExecution(e) => match self.executions.get_mut(&e.arn) {
                Some(stored) => *stored = e.clone(),
                None => return Verdict::NotFound,
            },
            Write::AppendEvents(events) => {
                for e in events {
                    if !self.executions.contains_key(&e.execution_arn) {
                        return Verdict::NotFound;
                    }
                    let key = (e.execution_arn.clone(), e.id);
                    if self.events.contains_key(&key) {
                        return Verdict::Conflict;
                    }
                    self.events.insert(key, e.body.clone());
                }
            }
            Write::PutTimer(t) => {
                self.timers
                    .insert((t.execution_arn.clone(), t.key.clone()), t.clone());
            }
            Write::DeleteTimer { execution_arn, key } => {
                self.timers.remove(&(execution_arn.clone(), key.clone()));
            }
            Write::DeleteExecution { arn } => {
                self.executions.remove(arn);
                self.events.retain(|(execution, _), _| execution != arn);
                self.timers.retain(|(execution, _), _| execution != arn);
                self.map_runs.retain(|_, r| &r.execution_arn != arn);
            }
            Write::PutMapRun(r) => {
                self.map_runs.insert(r.arn.clone(), r.clone());
            }
            Write::PutActivity(_)
            | Write::DeleteActivity { .. }
            | Write::PutQueue(_)
            | Write::DeleteQueue { .. }
            | Write::SendMessage(_)
            | Write::ReceiveMessage { .. }
            | Write::DeleteMessage { .. }
            | Write::PurgeQueue { .. }
            | Write::PutDedup { .. }
            | Write::PutResource(_)
            | Write::DeleteResource { .. }
            | Write::PutStreamRecords(_)
            | Write::TrimStreamRecords { .. }
            | Write::DeleteStreamRecords { .. } => {
                unreachable!("activities, queues and resources are checked in conformance.rs")
            }
        }
        Verdict::Ok
    }

    /// Checks what a purge batch deleted against the contract (closed, stopped before the
    /// cutoff, oldest stop first, `limit` unless fewer are eligible), then deletes the same.
    fn purge(&mut self, before: i64, limit: usize, purged: &[String]) {
        let eligible: Vec<&ExecutionRecord> = self
            .executions
            .values()
            .filter(|e| {
                CLOSED.contains(&e.status.as_str()) && e.stop_ms.is_some_and(|s| s < before)
            })
            .collect();
        assert_eq!(purged.len(), eligible.len().min(limit), "{purged:?}");
        let stops: Vec<i64> = purged
            .iter()
            .map(|arn| {
                let e = eligible
                    .iter()
                    .find(|e| &e.arn == arn)
                    .unwrap_or_else(|| panic!("{arn} was not eligible"));
                e.stop_ms.unwrap_or_default()
            })
            .collect();
        assert!(stops.is_sorted(), "oldest stop first: {stops:?}");
        let newest_purged = stops.last().copied().unwrap_or(i64::MIN);
        for e in &eligible {
            assert!(
                purged.contains(&e.arn) || e.stop_ms.unwrap_or_default() >= newest_purged,
                "{} stopped before {purged:?} but was kept",
                e.arn
            );
        }
        let mut revisions = Vec::new();
        for arn in purged {
            if let Some(e) = self.executions.get(arn) {
                revisions.push((e.machine_arn().to_owned(), e.revision_id.clone()));
            }
            self.apply(&Write::DeleteExecution { arn: arn.clone() });
        }
        for (machine, revision) in revisions {
            let held = self
                .machines
                .values()
                .any(|m| m.machine_arn() == machine && m.revision_id == revision)
                || self
                    .executions
                    .values()
                    .any(|e| e.machine_arn() == machine && e.revision_id == revision);
            if !held && !revision.is_empty() {
                self.revisions.remove(&(machine, revision));
            }
        }
    }

    fn state_machines(&self) -> Vec<StateMachineRecord> {
        let mut machines: Vec<_> = self
            .machines
            .values()
            .filter(|m| m.version.is_none())
            .cloned()
            .collect();
        machines.sort_by(|a, b| (&a.name, &a.arn).cmp(&(&b.name, &b.arn)));
        machines
    }

    fn versions(&self, machine_arn: &str) -> Vec<StateMachineRecord> {
        let mut versions: Vec<_> = self
            .machines
            .values()
            .filter(|m| m.version.is_some() && m.machine_arn() == machine_arn)
            .cloned()
            .collect();
        versions.sort_by_key(|m| std::cmp::Reverse(m.version));
        versions
    }

    fn revision(&self, machine_arn: &str, revision_id: &str) -> Option<StateMachineRecord> {
        let (machine_type, definition, role_arn, recorded) = self
            .revisions
            .get(&(machine_arn.to_owned(), revision_id.to_owned()))?
            .clone();
        let current = self.machines.get(machine_arn);
        Some(StateMachineRecord {
            arn: machine_arn.to_owned(),
            name: machine_arn.rsplit_once(':').unwrap().1.to_owned(),
            machine_type,
            definition,
            role_arn,
            description: current.and_then(|m| m.description.clone()),
            created_ms: current.map_or(recorded, |m| m.created_ms),
            updated_ms: recorded,
            revision_id: revision_id.to_owned(),
            tags: current.map(|m| m.tags.clone()).unwrap_or_default(),
            extra: current.and_then(|m| m.extra.clone()),
            version: None,
        })
    }

    fn aliases(&self, machine_arn: &str) -> Vec<AliasRecord> {
        // Keyed by ARN, which is `<machine>:<name>`: name order within a machine.
        self.aliases
            .values()
            .filter(|a| a.machine_arn == machine_arn)
            .cloned()
            .collect()
    }

    fn executions(&self, filter: &ExecutionFilter) -> Vec<ExecutionRecord> {
        let in_scope = |e: &ExecutionRecord, arn: &String| {
            if MACHINES.iter().any(|m| &machine_arn(m) == arn) {
                e.machine_arn() == arn
            } else if arn.ends_with(|c: char| c.is_ascii_digit()) {
                &e.state_machine_arn == arn
            } else {
                e.alias_arn.as_ref() == Some(arn)
            }
        };
        let mut executions: Vec<_> = self
            .executions
            .values()
            .filter(|e| {
                filter
                    .state_machine_arn
                    .as_ref()
                    .is_none_or(|m| in_scope(e, m))
                    && filter.status.as_ref().is_none_or(|s| &e.status == s)
                    && filter
                        .redriven
                        .is_none_or(|redriven| (e.redrive_count > 0) == redriven)
            })
            .cloned()
            .collect();
        executions.sort_by(|a, b| (b.start_ms, &b.arn).cmp(&(a.start_ms, &a.arn)));
        executions
    }

    fn events(&self, arn: &str) -> Vec<EventRecord> {
        self.events
            .iter()
            .filter(|((execution, _), _)| execution == arn)
            .map(|((execution, id), body)| EventRecord {
                execution_arn: execution.clone(),
                id: *id,
                body: body.clone(),
            })
            .collect()
    }

    fn running(&self) -> Vec<ExecutionRecord> {
        let mut running: Vec<_> = self
            .executions
            .values()
            .filter(|e| e.status == ExecutionStatus::Running)
            .cloned()
            .collect();
        running.sort_by(|a, b| (a.start_ms, &a.arn).cmp(&(b.start_ms, &b.arn)));
        running
    }

    fn timers(&self) -> Vec<TimerRecord> {
        let mut timers: Vec<_> = self.timers.values().cloned().collect();
        timers.sort_by(|a, b| {
            (a.due_ms, &a.execution_arn, &a.key).cmp(&(b.due_ms, &b.execution_arn, &b.key))
        });
        timers
    }
}

async fn collect<T, F, Fut>(mut page: F) -> Vec<T>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, Error>>,
{
    let mut items = Vec::new();
    let mut token = None;
    for _ in 0..1000 {
        let next = page(token).await.unwrap();
        items.extend(next.items);
        match next.next {
            Some(next) => token = Some(next),
            None => return items,
        }
    }
    panic!("pagination does not end");
}

/// Every read of the store equals the model's.
async fn compare(store: &SqliteStore, model: &Model, page: usize) {
    let machines =
        collect(|token| async move { store.state_machines("", token.as_deref(), page).await })
            .await;
    assert_eq!(machines, model.state_machines());
    for name in MACHINES {
        let arn = machine_arn(name);
        assert_eq!(store.versions(&arn).await.unwrap(), model.versions(&arn));
        for version in [None, Some(1), Some(2), Some(3)] {
            let arn = match version {
                Some(n) => format!("{arn}:{n}"),
                None => arn.clone(),
            };
            assert_eq!(
                store.state_machine(&arn).await.unwrap().as_ref(),
                model.machines.get(&arn)
            );
        }
    }

    for name in MACHINES {
        let arn = machine_arn(name);
        assert_eq!(store.aliases(&arn).await.unwrap(), model.aliases(&arn));
        for alias in ALIASES {
            let alias = format!("{arn}:{alias}");
            assert_eq!(
                store.alias(&alias).await.unwrap().as_ref(),
                model.aliases.get(&alias)
            );
        }
        for revision in REVISIONS {
            assert_eq!(
                store.revision(&arn, revision).await.unwrap(),
                model.revision(&arn, revision),
                "{arn} {revision}"
            );
        }
    }

    let mut filters = Vec::new();
    let scopes = [
        None,
        Some(machine_arn("m1")),
        Some(machine_arn("m2")),
        Some(format!("{}:1", machine_arn("m1"))),
        Some(format!("{}:live", machine_arn("m1"))),
    ];
    for machine in scopes {
        for status in [None, Some("RUNNING"), Some("FAILED")] {
            for redriven in [None, Some(true), Some(false)] {
                filters.push(ExecutionFilter {
                    state_machine_arn: machine.clone(),
                    status: status.map(|s| s.parse().unwrap()),
                    redriven,
                });
            }
        }
    }
    for filter in filters {
        let listed = collect(|token| {
            let filter = filter.clone();
            async move { store.executions(filter, token.as_deref(), page).await }
        })
        .await;
        assert_eq!(listed, model.executions(&filter), "{filter:?}");
    }

    for machine in &MACHINES[..2] {
        for name in EXECUTION_NAMES {
            let arn = exec_arn(machine, name);
            assert_eq!(
                store.execution(&arn).await.unwrap().as_ref(),
                model.executions.get(&arn)
            );
            let expected = model.events(&arn);
            let forward = collect(|token| {
                let arn = arn.clone();
                async move { store.events_page(&arn, token.as_deref(), page, false).await }
            })
            .await;
            assert_eq!(forward, expected);
            let backward = collect(|token| {
                let arn = arn.clone();
                async move { store.events_page(&arn, token.as_deref(), page, true).await }
            })
            .await;
            let mut reversed = expected.clone();
            reversed.reverse();
            assert_eq!(backward, reversed);
            // Paging by id from the middle.
            if let Some(middle) = expected.get(expected.len() / 2) {
                let after = store
                    .events(&arn, Some(middle.id), 100, false)
                    .await
                    .unwrap();
                let tail: Vec<_> = expected
                    .iter()
                    .filter(|e| e.id > middle.id)
                    .cloned()
                    .collect();
                assert_eq!(after.items, tail);
            }
        }
    }

    assert_eq!(store.running().await.unwrap(), model.running());
    assert_eq!(store.timers().await.unwrap(), model.timers());
    for arn in MAP_RUNS {
        assert_eq!(
            store.map_run(arn).await.unwrap().as_ref(),
            model.map_runs.get(*arn)
        );
    }
    for arn in model.executions.keys() {
        let mut expected: Vec<_> = model
            .map_runs
            .values()
            .filter(|r| &r.execution_arn == arn)
            .cloned()
            .collect();
        expected.sort_by(|a, b| (b.start_ms, &b.arn).cmp(&(a.start_ms, &a.arn)));
        assert_eq!(store.map_runs(arn).await.unwrap(), expected);
    }
}

fn verdict(result: &Result<(), Error>) -> Verdict {
    match result {
        Ok(()) => Verdict::Ok,
        Err(Error::Conflict { .. }) => Verdict::Conflict,
        Err(Error::NotFound { .. }) => Verdict::NotFound,
        Err(other) => panic!("unexpected store error: {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_matches_the_model(
        ops in prop::collection::vec(op_strategy(), 1..30),
        page in 1usize..4,
        concurrent in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        runtime.block_on(async {
            let dir = TempDir::new("model");
            let store = SqliteStore::open(&dir.db(), SqliteOptions::default()).unwrap();
            let mut model = Model::default();
            if concurrent {
                // All operations at once, in order: commits land in shared groups and purges
                // between them, applied in queue order, so the verdicts are still those of the
                // sequential model.
                let pending: Vec<_> = ops.iter().map(|op| perform(&store, op)).collect();
                let outcomes = futures_join_all(pending).await;
                for (op, outcome) in ops.iter().zip(&outcomes) {
                    check(&mut model, op, outcome);
                }
            } else {
                for (n, op) in ops.iter().enumerate() {
                    let outcome = perform(&store, op).await;
                    check(&mut model, op, &outcome);
                    if n == ops.len() / 2 {
                        compare(&store, &model, page).await;
                    }
                }
            }
            compare(&store, &model, page).await;
            store.close().await.unwrap();
        });
    }
}

enum Outcome {
    Committed(Result<(), Error>),
    Purged(Result<Vec<String>, Error>),
}

/// Issues `op` to the store; the first poll queues it.
fn perform<'a>(
    store: &'a SqliteStore,
    op: &Op,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
    match op.clone() {
        Op::Commit(writes) => {
            Box::pin(async move { Outcome::Committed(store.commit(writes).await) })
        }
        Op::Purge(before, limit) => {
            Box::pin(async move { Outcome::Purged(store.purge_closed(before, limit).await) })
        }
    }
}

/// The store's answer to `op` is the model's.
fn check(model: &mut Model, op: &Op, outcome: &Outcome) {
    match (op, outcome) {
        (Op::Commit(writes), Outcome::Committed(result)) => {
            assert_eq!(verdict(result), model.commit(writes), "{writes:?}");
        }
        (Op::Purge(before, limit), Outcome::Purged(result)) => {
            let purged = result
                .as_ref()
                .unwrap_or_else(|e| panic!("purge failed: {e}"));
            model.purge(*before, *limit, purged);
        }
        _ => unreachable!("an outcome answers its own operation"),
    }
}

/// Polls the futures in order so that their commits are queued in order (each one's first poll
/// sends its commit), then awaits them all.
async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}
