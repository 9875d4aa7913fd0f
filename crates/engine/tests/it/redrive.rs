//! RedriveExecution on the durable engine: a failed STANDARD execution continues from the
//! failed state, once, after a restart too.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_asl::mock::MockConfig;
use sluice_engine::{Clock, Engine, EngineError, EngineOptions, MockDispatcher, redrivable};
use sluice_store::ExecutionStatus;
use sluice_store::{MachineType, SqliteOptions, SqliteStore, StateMachineRecord, Store, Write};

use crate::common::{execution_arn, history, machine_record, wait_for_status};

const DEFINITION: &str = r#"{"StartAt": "Prep", "States": {
    "Prep": {"Type": "Pass", "Result": {"step": 1}, "Next": "Call"},
    "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done"},
    "Done": {"Type": "Pass", "End": true}}}"#;

/// `Call` throws on its first invocation and succeeds on its second.
const MOCKS: &str = r#"{
  "StateMachines": {"m": {"TestCases": {"FlakyOnce": {"Call": "FlakyOnce"}}}},
  "MockedResponses": {"FlakyOnce": {
    "0": {"Throw": {"Error": "Downstream.Unavailable", "Cause": "503"}},
    "1": {"Return": {"ok": true}}}}}"#;

type TestEngine = Engine<SqliteStore, MockDispatcher>;

fn data_dir(name: &str) -> PathBuf {
    crate::common::data_dir("redrive", name)
}

fn machine() -> StateMachineRecord {
    machine_record("m", DEFINITION, MachineType::Standard)
}

fn exec_arn(name: &str) -> String {
    execution_arn("m", name)
}

async fn engine(dir: &Path) -> TestEngine {
    let store = SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()).unwrap();
    let mocks = MockDispatcher::new(MockConfig::parse(MOCKS).unwrap());
    let e = Engine::new(store, mocks, Clock::system(), EngineOptions::default());
    e.store()
        .commit(vec![Write::PutStateMachine(machine())])
        .await
        .unwrap();
    e
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

async fn failed_execution(e: &TestEngine, name: &str) -> sluice_store::ExecutionRecord {
    let arn = exec_arn(name);
    e.start(
        &machine(),
        arn.clone(),
        name.into(),
        "{}".into(),
        Some("FlakyOnce".into()),
        None,
    )
    .await
    .unwrap();
    wait_for_status(e, &arn, ExecutionStatus::Failed).await
}

#[tokio::test]
async fn a_failed_execution_redrives_from_the_failed_task_and_succeeds() {
    let dir = data_dir("basic");
    let e = engine(&dir).await;
    let failed = failed_execution(&e, "a").await;
    assert_eq!(failed.error.as_deref(), Some("Downstream.Unavailable"));
    assert_eq!(redrivable(&failed, e.clock().now_ms()), Ok(()));
    let before = history(&e, &failed.arn).await;

    let redrive_ms = e.redrive(&failed.arn, None).await.unwrap();
    let done = wait_for_status(&e, &failed.arn, ExecutionStatus::Succeeded).await;
    assert_eq!(done.output.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(done.redrive_count, 1);
    assert_eq!(done.redrive_ms, Some(redrive_ms));
    assert!(done.error.is_none(), "the old failure is gone");

    let events = history(&e, &failed.arn).await;
    assert_eq!(
        &events[..before.len()],
        &before[..],
        "the first attempt's history stays"
    );
    let redriven = &events[before.len()];
    assert_eq!(redriven["type"], "ExecutionRedriven");
    assert_eq!(redriven["executionRedrivenEventDetails"]["redriveCount"], 1);
    assert_eq!(redriven["previousEventId"], before.last().unwrap()["id"]);
    let again = &events[before.len() + 1];
    assert_eq!(again["type"], "TaskStateEntered");
    assert_eq!(
        again["stateEnteredEventDetails"]["input"], r#"{"step":1}"#,
        "the failed state's own input"
    );
    assert_eq!(
        count(&events, "PassStateEntered"),
        2,
        "Prep once, Done once"
    );
    assert_eq!(count(&events, "TaskScheduled"), 2);
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());

    let refused = e.redrive(&failed.arn, None).await;
    match refused {
        Err(EngineError::ExecutionNotRedrivable(reason)) => {
            assert_eq!(reason, "Execution is SUCCEEDED and cannot be redriven");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_same_client_token_redrives_once() {
    let dir = data_dir("token");
    let e = engine(&dir).await;
    let failed = failed_execution(&e, "t").await;
    let first = e.redrive(&failed.arn, Some("token-1")).await.unwrap();
    wait_for_status(&e, &failed.arn, ExecutionStatus::Succeeded).await;
    let second = e.redrive(&failed.arn, Some("token-1")).await.unwrap();
    assert_eq!(first, second, "the same redrive answers again");
    assert_eq!(
        count(&history(&e, &failed.arn).await, "ExecutionRedriven"),
        1
    );
}

#[tokio::test]
async fn concurrent_redrives_of_one_execution_take_effect_once() {
    let dir = data_dir("race");
    let e = engine(&dir).await;
    let failed = failed_execution(&e, "r").await;
    let (a, b) = tokio::join!(e.redrive(&failed.arn, None), e.redrive(&failed.arn, None));
    let oks = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    let lost = if a.is_err() { a } else { b };
    assert!(
        matches!(lost, Err(EngineError::ExecutionNotRedrivable(_))),
        "{lost:?}"
    );
    wait_for_status(&e, &failed.arn, ExecutionStatus::Succeeded).await;
    assert_eq!(
        count(&history(&e, &failed.arn).await, "ExecutionRedriven"),
        1
    );
}

#[test]
fn a_failed_execution_is_redrivable_after_a_restart() {
    let dir = data_dir("restart");
    let arn = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let e = engine(&dir).await;
            failed_execution(&e, "x").await.arn
        })
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = engine(&dir).await;
        // The invocation count is the execution's, restored with it: the redriven task is
        // the state's second invocation, which the mock answers with success.
        e.redrive(&arn, None).await.unwrap();
        let done = wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
        assert_eq!(done.redrive_count, 1);
        let events = history(&e, &arn).await;
        assert_eq!(count(&events, "ExecutionRedriven"), 1);
        assert_eq!(count(&events, "ExecutionFailed"), 1);
        assert_eq!(count(&events, "TaskScheduled"), 2);
    });
}

#[tokio::test]
async fn an_unknown_or_running_execution_is_refused() {
    let dir = data_dir("refused");
    let e = engine(&dir).await;
    assert!(matches!(
        e.redrive(&exec_arn("nope"), None).await,
        Err(EngineError::ExecutionDoesNotExist(_))
    ));
}
