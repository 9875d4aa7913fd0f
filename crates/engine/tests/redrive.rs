//! RedriveExecution on the durable engine: a failed STANDARD execution continues from the
//! failed state, once, after a restart too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sluice_asl::mock::MockConfig;
use sluice_engine::{Clock, Engine, EngineError, EngineOptions, MockDispatcher, redrivable};
use sluice_store::{MachineType, SqliteOptions, SqliteStore, StateMachineRecord, Store, Write};

const MACHINE_ARN: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:m";

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
    let dir = std::env::temp_dir().join(format!("sluice-redrive-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn machine() -> StateMachineRecord {
    StateMachineRecord {
        arn: MACHINE_ARN.into(),
        name: "m".into(),
        machine_type: MachineType::Standard,
        definition: DEFINITION.into(),
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

fn exec_arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:000000000000:execution:m:{name}")
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

async fn wait_for_status(
    engine: &TestEngine,
    arn: &str,
    status: &str,
) -> sluice_store::ExecutionRecord {
    for _ in 0..1000 {
        let r = engine.execution(arn).await.unwrap().unwrap();
        if r.status == status {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{arn} never reached {status}");
}

async fn history(engine: &TestEngine, arn: &str) -> Vec<Value> {
    let page = engine.history(arn, None, 1000, false).await.unwrap();
    page.items
        .iter()
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect()
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
    wait_for_status(e, &arn, "FAILED").await
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
    let done = wait_for_status(&e, &failed.arn, "SUCCEEDED").await;
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
    wait_for_status(&e, &failed.arn, "SUCCEEDED").await;
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
    wait_for_status(&e, &failed.arn, "SUCCEEDED").await;
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
        // A fresh dispatcher counts invocations from 0 again: the mock throws once more, so
        // the redriven execution fails again, at the same state, and can be redriven again.
        e.redrive(&arn, None).await.unwrap();
        let failed = wait_for_status(&e, &arn, "FAILED").await;
        assert_eq!(failed.redrive_count, 1);
        e.redrive(&arn, None).await.unwrap();
        let done = wait_for_status(&e, &arn, "SUCCEEDED").await;
        assert_eq!(done.redrive_count, 2);
        let events = history(&e, &arn).await;
        assert_eq!(count(&events, "ExecutionRedriven"), 2);
        assert_eq!(count(&events, "ExecutionFailed"), 2);
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
