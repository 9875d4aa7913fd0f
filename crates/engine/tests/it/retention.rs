//! The retention of closed STANDARD executions: once stopped longer ago than the retention (on
//! the engine's clock), an execution is gone with its history; open ones stay and finish.

use std::path::Path;
use std::time::Duration;

use sluice_asl::mock::MockConfig;
use sluice_engine::{Clock, Engine, EngineError, EngineOptions, MockDispatcher};
use sluice_store::ExecutionStatus;
use sluice_store::{MachineType, SqliteOptions, SqliteStore, StateMachineRecord, Store, Write};

use crate::common::{execution_arn, machine_record, wait_for_status};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// `Call` throws on its first invocation and succeeds on its second (for a redrive).
const MOCKS: &str = r#"{
  "StateMachines": {"flaky": {"TestCases": {"FlakyOnce": {"Call": "FlakyOnce"}}}},
  "MockedResponses": {"FlakyOnce": {
    "0": {"Throw": {"Error": "Downstream.Unavailable", "Cause": "503"}},
    "1": {"Return": {"ok": true}}}}}"#;

type TestEngine = Engine<SqliteStore, MockDispatcher>;

fn machines() -> [StateMachineRecord; 3] {
    [
        machine_record(
            "pass",
            r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#,
            MachineType::Standard,
        ),
        // 100 days.
        machine_record(
            "wait",
            r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":8640000,"End":true}}}"#,
            MachineType::Standard,
        ),
        machine_record(
            "flaky",
            r#"{"StartAt":"Call","States":{"Call":{"Type":"Task",
                "Resource":"arn:aws:states:::lambda:invoke","End":true}}}"#,
            MachineType::Standard,
        ),
    ]
}

async fn engine(dir: &Path, retention: Option<Duration>) -> TestEngine {
    let store = SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()).unwrap();
    let mocks = MockDispatcher::new(MockConfig::parse(MOCKS).unwrap());
    let options = EngineOptions {
        execution_retention: retention,
        ..EngineOptions::default()
    };
    let e = Engine::new(store, mocks, Clock::system(), options);
    let writes = machines().into_iter().map(Write::PutStateMachine).collect();
    e.store().commit(writes).await.unwrap();
    e
}

async fn start(e: &TestEngine, machine: usize, name: &str, test_case: Option<&str>) -> String {
    let machine = &machines()[machine];
    let arn = execution_arn(&machine.name, name);
    e.start(
        machine,
        arn.clone(),
        name.into(),
        "{}".into(),
        test_case.map(str::to_owned),
        None,
    )
    .await
    .unwrap();
    arn
}

async fn gone(e: &TestEngine, arn: &str) -> bool {
    let missing = e.execution(arn).await.unwrap().is_none();
    let history = e.history(arn, None, 10, false).await;
    assert_eq!(
        missing,
        matches!(history, Err(EngineError::ExecutionDoesNotExist(_))),
        "{arn}: the record and its history go together"
    );
    missing
}

#[tokio::test]
async fn closed_executions_expire_after_the_retention_and_open_ones_never() {
    let dir = crate::common::data_dir("retention", "expire");
    let e = engine(&dir, Some(Duration::from_secs(90 * 24 * 3600))).await;
    let clock = e.clock().clone();
    let mut old = Vec::new();
    for n in 0..3 {
        let arn = start(&e, 0, &format!("old-{n}"), None).await;
        wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
        old.push(arn);
    }
    let waiting = start(&e, 1, "waiting", None).await;
    // Failed, then redriven 13 days later: its stop time is the redriven run's.
    let flaky = start(&e, 2, "flaky", Some("FlakyOnce")).await;
    wait_for_status(&e, &flaky, ExecutionStatus::Failed).await;
    assert_eq!(e.purge_expired().await.unwrap(), 0, "nothing is old yet");

    clock.advance(13 * DAY_MS);
    e.redrive(&flaky, None).await.unwrap();
    wait_for_status(&e, &flaky, ExecutionStatus::Succeeded).await;
    clock.advance(78 * DAY_MS);
    let young = start(&e, 0, "young", None).await;
    wait_for_status(&e, &young, ExecutionStatus::Succeeded).await;

    // 91 days on: the first three stopped longer ago than the retention.
    assert_eq!(e.purge_expired().await.unwrap(), 3);
    for arn in &old {
        assert!(gone(&e, arn).await, "{arn}");
    }
    for arn in [&waiting, &flaky, &young] {
        assert!(!gone(&e, arn).await, "{arn}");
    }
    assert_eq!(
        e.execution(&waiting).await.unwrap().unwrap().status,
        ExecutionStatus::Running
    );

    // The Wait ends at 100 days, and its execution is kept 90 days from then.
    clock.advance(9 * DAY_MS + 1000);
    wait_for_status(&e, &waiting, ExecutionStatus::Succeeded).await;
    assert_eq!(e.purge_expired().await.unwrap(), 0);
    clock.advance(90 * DAY_MS);
    assert_eq!(e.purge_expired().await.unwrap(), 3);
    for arn in [&waiting, &flaky, &young] {
        assert!(gone(&e, arn).await, "{arn}");
    }
}

#[tokio::test]
async fn without_a_retention_nothing_expires() {
    let dir = crate::common::data_dir("retention", "forever");
    let e = engine(&dir, None).await;
    let arn = start(&e, 0, "kept", None).await;
    wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
    e.clock().advance(3650 * DAY_MS);
    assert_eq!(e.purge_expired().await.unwrap(), 0);
    assert!(e.start_purge().is_none());
    assert!(!gone(&e, &arn).await);
}

#[tokio::test]
async fn the_background_purge_follows_the_engine_clock() {
    let dir = crate::common::data_dir("retention", "background");
    let e = engine(&dir, Some(Duration::from_secs(30 * 24 * 3600))).await;
    let task = e.start_purge().expect("a retention is set");
    let arn = start(&e, 0, "old", None).await;
    wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
    e.clock().advance(31 * DAY_MS);
    for _ in 0..1000 {
        if gone(&e, &arn).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone(&e, &arn).await, "purged in the background");
    assert_eq!(e.store().stats().purged, 1);
    // The task does not keep the engine alive: at its next pass after the engine is dropped,
    // it ends.
    let clock = e.clock().clone();
    drop(e);
    clock.advance(DAY_MS);
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the purge task ended after the engine was dropped")
        .unwrap();
}
