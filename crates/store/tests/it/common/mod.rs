//! Fixtures shared by the store's test suites: temporary directories and record builders.
#![allow(dead_code)] // each suite uses its own subset

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_store::ExecutionStatus;
use sluice_store::{
    EventRecord, ExecutionRecord, MachineType, SqliteOptions, SqliteStore, StateMachineRecord,
    TimerRecord,
};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "sluice-store-{tag}-{}-{nanos}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("data").join("sluice.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.db(), SqliteOptions::default()).expect("opening the store")
}

pub const REGION: &str = "arn:aws:states:us-east-1:123456789012";

pub fn machine_arn(name: &str) -> String {
    format!("{REGION}:stateMachine:{name}")
}

pub fn machine(name: &str) -> StateMachineRecord {
    StateMachineRecord {
        arn: machine_arn(name),
        name: name.to_owned(),
        machine_type: MachineType::Standard,
        definition: r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#.to_owned(),
        role_arn: "arn:aws:iam::123456789012:role/r".to_owned(),
        description: None,
        created_ms: 1_700_000_000_000,
        updated_ms: 1_700_000_000_000,
        revision_id: format!("rev-{name}"),
        tags: vec![("team".to_owned(), "edr".to_owned())],
        extra: Some(r#"{"loggingConfiguration":{"level":"OFF"}}"#.to_owned()),
        version: None,
    }
}

pub fn version(name: &str, n: u64) -> StateMachineRecord {
    let mut record = machine(name);
    record.arn = format!("{}:{n}", machine_arn(name));
    record.version = Some(n);
    record.description = Some(format!("version {n}"));
    record.machine_type = MachineType::Express;
    record
}

pub fn execution_arn(machine: &str, name: &str) -> String {
    format!("{REGION}:execution:{machine}:{name}")
}

pub fn execution(machine: &str, name: &str, start_ms: i64) -> ExecutionRecord {
    ExecutionRecord {
        arn: execution_arn(machine, name),
        state_machine_arn: machine_arn(machine),
        name: name.to_owned(),
        status: ExecutionStatus::Running,
        input: r#"{"vendor":"crowdstrike"}"#.to_owned(),
        output: None,
        error: None,
        cause: None,
        start_ms,
        stop_ms: None,
        redrive_count: 0,
        snapshot: Some(r#"{"state":"P"}"#.to_owned()),
        next_event_id: 1,
        revision_id: format!("rev-{machine}"),
        alias_arn: None,
        redrive_ms: None,
    }
}

pub fn event(execution_arn: &str, id: u64) -> EventRecord {
    EventRecord {
        execution_arn: execution_arn.to_owned(),
        id,
        body: format!(r#"{{"id":{id},"type":"PassStateEntered"}}"#),
    }
}

pub fn events(execution_arn: &str, ids: impl IntoIterator<Item = u64>) -> Vec<EventRecord> {
    ids.into_iter().map(|id| event(execution_arn, id)).collect()
}

pub fn timer(execution_arn: &str, key: &str, due_ms: i64) -> TimerRecord {
    TimerRecord {
        execution_arn: execution_arn.to_owned(),
        key: key.to_owned(),
        due_ms,
        payload: format!(r#"{{"key":"{key}"}}"#),
    }
}
