//! What the engine's integration tests share: scratch data dirs, state machine records in the
//! test account, and waiting for an execution to end.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use sluice_engine::{Dispatch, Engine};
use sluice_store::ExecutionStatus;
use sluice_store::{ExecutionRecord, MachineType, StateMachineRecord, Store};

pub const PREFIX: &str = "arn:aws:states:us-east-1:000000000000";

/// A fresh, empty directory for one test of one suite.
pub fn data_dir(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn machine_arn(name: &str) -> String {
    format!("{PREFIX}:stateMachine:{name}")
}

pub fn execution_arn(machine: &str, name: &str) -> String {
    format!("{PREFIX}:execution:{machine}:{name}")
}

/// State machine `name` (revision "1") with `definition`.
pub fn machine_record(
    name: &str,
    definition: impl Into<String>,
    machine_type: MachineType,
) -> StateMachineRecord {
    StateMachineRecord {
        arn: machine_arn(name),
        name: name.into(),
        machine_type,
        definition: definition.into(),
        role_arn: "arn:aws:iam::000000000000:role/r".into(),
        description: None,
        created_ms: 0,
        updated_ms: 0,
        revision_id: "1".into(),
        tags: Vec::new(),
        extra: None,
        version: None,
    }
}

/// Polls until the execution has `status` (5 s at most).
pub async fn wait_for_status<S: Store, D: Dispatch>(
    engine: &Engine<S, D>,
    arn: &str,
    status: ExecutionStatus,
) -> ExecutionRecord {
    for _ in 0..1000 {
        let r = engine.execution(arn).await.unwrap().unwrap();
        if r.status == status {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{arn} never reached {status}");
}

/// Every history event of an execution, as JSON.
pub async fn history<S: Store, D: Dispatch>(engine: &Engine<S, D>, arn: &str) -> Vec<Value> {
    let page = engine.history(arn, None, 1000, false).await.unwrap();
    page.items
        .iter()
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect()
}
