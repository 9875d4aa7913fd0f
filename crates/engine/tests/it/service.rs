//! STANDARD executions are durable in a real SQLite store and resume after a crash; EXPRESS
//! executions run in memory and stay describable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sluice_engine::{Clock, Engine, EngineError, EngineOptions, NoDispatcher};
use sluice_store::ExecutionStatus;
use sluice_store::{MachineType, SqliteOptions, SqliteStore, StateMachineRecord, Store, Write};

use crate::common::{execution_arn, machine_arn, machine_record, wait_for_status};

fn data_dir(name: &str) -> PathBuf {
    crate::common::data_dir("engine", name)
}

fn machine(definition: &str, machine_type: MachineType) -> StateMachineRecord {
    machine_record("m", definition, machine_type)
}

fn exec_arn(name: &str) -> String {
    execution_arn("m", name)
}

type TestEngine = Engine<SqliteStore, NoDispatcher>;

async fn engine(dir: &Path, clock: Clock) -> TestEngine {
    let store = SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()).unwrap();
    Engine::new(store, NoDispatcher, clock, EngineOptions::default())
}

async fn event_types(engine: &TestEngine, arn: &str) -> Vec<(u64, String)> {
    let page = engine.history(arn, None, 1000, false).await.unwrap();
    page.items
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.body).unwrap();
            (e.id, v["type"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_standard_execution_is_recorded_and_runs_to_completion() {
    let dir = data_dir("standard");
    let e = engine(&dir, Clock::system()).await;
    let m = machine(
        include_str!("../../../../examples/seed/sec-pipeline-pass.json"),
        MachineType::Standard,
    );
    e.store()
        .commit(vec![Write::PutStateMachine(m.clone())])
        .await
        .unwrap();
    // A machine of Pass states ends within the start's own commit.
    let started = e
        .start(
            &m,
            exec_arn("a"),
            "a".into(),
            r#"{"x":1}"#.into(),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(started.arn, exec_arn("a"));
    let done = wait_for_status(&e, &exec_arn("a"), ExecutionStatus::Succeeded).await;
    assert_eq!(done.output.as_deref(), Some(r#"{"notifications_sent":1}"#));
    let events = event_types(&e, &exec_arn("a")).await;
    assert_eq!(events.first().unwrap().1, "ExecutionStarted");
    assert_eq!(events.last().unwrap().1, "ExecutionSucceeded");
    let ids: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "contiguous ids"
    );
    // Same name again: AWS's ExecutionAlreadyExists.
    let again = e
        .start(&m, exec_arn("a"), "a".into(), "{}".into(), None, None)
        .await;
    assert!(
        matches!(again, Err(EngineError::ExecutionAlreadyExists(_))),
        "{again:?}"
    );
}

#[test]
fn a_crashed_server_resumes_its_running_executions_exactly_once() {
    let dir = data_dir("recover");
    let def = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"P"},
                  "P":{"Type":"Pass","Result":"done","End":true}}}"#;
    let m = machine(def, MachineType::Standard);
    // First "process": start three executions, then die with them waiting.
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let e = engine(&dir, Clock::system()).await;
            e.store()
                .commit(vec![Write::PutStateMachine(m.clone())])
                .await
                .unwrap();
            for n in ["r1", "r2", "r3"] {
                e.start(&m, exec_arn(n), n.into(), "{}".into(), None, None)
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
        rt.shutdown_background(); // tasks vanish mid-flight, like kill -9
    }
    // Second "process": recover, let the hour pass, everything completes once.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = Clock::system();
        let mut e = None;
        for _ in 0..200 {
            // The first process's store may still hold its file lock for a moment.
            match SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()) {
                Ok(store) => {
                    e = Some(Engine::new(
                        store,
                        NoDispatcher,
                        clock.clone(),
                        EngineOptions::default(),
                    ));
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let e = e.expect("store reopens");
        assert_eq!(e.recover().await.unwrap(), 3);
        clock.advance(3_600_000);
        for n in ["r1", "r2", "r3"] {
            let r = wait_for_status(&e, &exec_arn(n), ExecutionStatus::Succeeded).await;
            assert_eq!(r.output.as_deref(), Some("\"done\""));
            let events = event_types(&e, &exec_arn(n)).await;
            let types: Vec<&str> = events.iter().map(|(_, t)| t.as_str()).collect();
            assert_eq!(
                types.iter().filter(|t| **t == "ExecutionStarted").count(),
                1
            );
            assert_eq!(
                types.iter().filter(|t| **t == "WaitStateExited").count(),
                1,
                "{types:?}"
            );
            let ids: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
            assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
        }
    });
}

#[tokio::test]
async fn stop_execution_aborts_a_running_standard_execution() {
    let dir = data_dir("stop");
    let e = engine(&dir, Clock::system()).await;
    let m = machine(
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#,
        MachineType::Standard,
    );
    e.store()
        .commit(vec![Write::PutStateMachine(m.clone())])
        .await
        .unwrap();
    e.start(&m, exec_arn("s"), "s".into(), "{}".into(), None, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stopped = e
        .stop(
            &exec_arn("s"),
            Some("Operator".into()),
            Some("not needed".into()),
        )
        .await
        .unwrap();
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    assert_eq!(stopped.error.as_deref(), Some("Operator"));
    let events = event_types(&e, &exec_arn("s")).await;
    assert_eq!(events.last().unwrap().1, "ExecutionAborted");
}

#[tokio::test]
async fn express_runs_synchronously_and_stays_describable() {
    let dir = data_dir("express");
    let e = engine(&dir, Clock::system()).await;
    let m = machine(
        include_str!("../../../../examples/seed/sec-pipeline-pass.json"),
        MachineType::Express,
    );
    let arn = "arn:aws:states:us-east-1:000000000000:express:m:x:1".to_owned();
    let r = e
        .run_sync(&m, arn.clone(), "x".into(), "{}".into(), None, None)
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(
        e.execution(&arn).await.unwrap().unwrap().status,
        ExecutionStatus::Succeeded
    );
    let page = e.history(&arn, None, 5, false).await.unwrap();
    assert_eq!(page.items.len(), 5);
    let rest = e
        .history(&arn, page.next.as_deref(), 100, false)
        .await
        .unwrap();
    assert_eq!(rest.items.first().unwrap().id, 6, "pages continue");
    assert!(rest.next.is_none());
}

#[tokio::test]
async fn an_async_express_execution_is_describable_while_it_runs() {
    let dir = data_dir("express-async");
    let clock = Clock::system();
    let e = engine(&dir, clock.clone()).await;
    let m = machine(
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}"#,
        MachineType::Express,
    );
    let arn = "arn:aws:states:us-east-1:000000000000:express:m:y:1".to_owned();
    let started = e
        .start(&m, arn.clone(), "y".into(), "{}".into(), None, None)
        .await
        .unwrap();
    assert_eq!(started.status, ExecutionStatus::Running);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        e.execution(&arn)
            .await
            .unwrap()
            .expect("visible while running")
            .status,
        ExecutionStatus::Running
    );
    clock.advance(60_000);
    wait_for_status(&e, &arn, ExecutionStatus::Succeeded).await;
}

/// An execution runs the revision it started with: updating the machine while it waits, then
/// restarting the server, does not switch it to the new definition.
#[test]
fn a_recovered_execution_runs_the_revision_it_started_with() {
    let dir = data_dir("revision");
    let definition = |result: &str| {
        format!(
            r#"{{"StartAt":"W","States":{{"W":{{"Type":"Wait","Seconds":3600,"Next":"P"}},
                "P":{{"Type":"Pass","Result":"{result}","End":true}}}}}}"#
        )
    };
    let old = machine(&definition("old"), MachineType::Standard);
    let mut new = old.clone();
    new.definition = definition("new");
    new.revision_id = "2".into();
    new.updated_ms = 1;
    let alias = format!("{}:live", machine_arn("m"));
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let e = engine(&dir, Clock::system()).await;
            e.store()
                .commit(vec![Write::PutStateMachine(old.clone())])
                .await
                .unwrap();
            let started = e
                .start(
                    &old,
                    exec_arn("v"),
                    "v".into(),
                    "{}".into(),
                    None,
                    Some(alias.clone()),
                )
                .await
                .unwrap();
            assert_eq!(started.revision_id, "1");
            assert_eq!(started.alias_arn.as_deref(), Some(alias.as_str()));
            e.store()
                .commit(vec![Write::PutStateMachine(new.clone())])
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        });
        rt.shutdown_background();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = Clock::system();
        let mut store = None;
        for _ in 0..200 {
            match SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()) {
                Ok(opened) => {
                    store = Some(opened);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let e = Engine::new(
            store.expect("store reopens"),
            NoDispatcher,
            clock.clone(),
            EngineOptions::default(),
        );
        let record = e.execution(&exec_arn("v")).await.unwrap().unwrap();
        let ran = e.definition_of(&record).await.unwrap().unwrap();
        assert_eq!(
            (ran.revision_id.as_str(), ran.definition),
            ("1", old.definition.clone())
        );
        assert_eq!(
            e.store()
                .state_machine(&machine_arn("m"))
                .await
                .unwrap()
                .unwrap()
                .definition,
            new.definition
        );
        assert_eq!(e.recover().await.unwrap(), 1);
        clock.advance(3_600_000);
        let done = wait_for_status(&e, &exec_arn("v"), ExecutionStatus::Succeeded).await;
        assert_eq!(done.output.as_deref(), Some("\"old\""));
        assert_eq!(done.alias_arn.as_deref(), Some(alias.as_str()));
        assert_eq!(done.revision_id, "1");

        // A new execution runs the machine as it is now.
        e.start(&new, exec_arn("w"), "w".into(), "{}".into(), None, None)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        clock.advance(3_600_000);
        let done = wait_for_status(&e, &exec_arn("w"), ExecutionStatus::Succeeded).await;
        assert_eq!(done.output.as_deref(), Some("\"new\""));
    });
}
