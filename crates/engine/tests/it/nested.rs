//! Nested workflows: the built-in `arn:aws:states:::states:startExecution` integration starts
//! child executions through the same engine, waits for them (`.sync`, `.sync:2`), fails the
//! parent's task as AWS does, and starts each child once even when the parent's engine
//! restarts while it waits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_asl::mock::MockConfig;
use sluice_engine::{Clock, Dispatch, Engine, EngineOptions, MockDispatcher, NoDispatcher};
use sluice_store::ExecutionStatus;
use sluice_store::{
    ExecutionFilter, ExecutionRecord, MachineType, SqliteOptions, SqliteStore, StateMachineRecord,
    Store, Write,
};

use crate::common::{PREFIX, execution_arn as exec_arn, machine_arn, machine_record};

fn data_dir(name: &str) -> PathBuf {
    crate::common::data_dir("nested", name)
}

fn machine(name: &str, definition: &Value, machine_type: MachineType) -> StateMachineRecord {
    machine_record(name, definition.to_string(), machine_type)
}

/// A parent of one Task state calling `resource` with `parameters`.
fn parent(resource: &str, parameters: Value) -> Value {
    json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}})
}

/// Echoes its input under `got`.
fn echo() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": true}}})
}

fn open_store(dir: &Path) -> SqliteStore {
    for _ in 0..200 {
        // A previous "process" may still hold the file for a moment.
        if let Ok(store) = SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()) {
            return store;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the store does not open");
}

async fn engine_with<D: Dispatch>(
    dir: &Path,
    dispatcher: D,
    clock: Clock,
) -> Engine<SqliteStore, D> {
    Engine::new(open_store(dir), dispatcher, clock, EngineOptions::default())
}

async fn put<D: Dispatch>(e: &Engine<SqliteStore, D>, machines: &[&StateMachineRecord]) {
    let writes = machines
        .iter()
        .map(|m| Write::PutStateMachine((*m).clone()))
        .collect();
    e.store().commit(writes).await.unwrap();
}

async fn start<D: Dispatch>(
    e: &Engine<SqliteStore, D>,
    m: &StateMachineRecord,
    name: &str,
    input: Value,
    test_case: Option<&str>,
) -> ExecutionRecord {
    e.start(
        m,
        exec_arn(&m.name, name),
        name.into(),
        input.to_string().into(),
        test_case.map(str::to_owned),
        None,
    )
    .await
    .unwrap()
}

async fn ended<D: Dispatch>(e: &Engine<SqliteStore, D>, arn: &str) -> ExecutionRecord {
    for _ in 0..2000 {
        let r = e
            .execution(arn)
            .await
            .unwrap()
            .expect("the execution exists");
        if r.status != ExecutionStatus::Running {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{arn} never ended");
}

fn output(r: &ExecutionRecord) -> Value {
    serde_json::from_str(r.output.as_deref().expect("an output")).unwrap()
}

async fn history<D: Dispatch>(e: &Engine<SqliteStore, D>, arn: &str) -> Vec<Value> {
    let page = e.history(arn, None, 1000, false).await.unwrap();
    page.items
        .iter()
        .map(|ev| serde_json::from_str(&ev.body).unwrap())
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn executions_of<D: Dispatch>(
    e: &Engine<SqliteStore, D>,
    machine: &str,
) -> Vec<ExecutionRecord> {
    let filter = ExecutionFilter {
        state_machine_arn: Some(machine_arn(machine)),
        ..ExecutionFilter::default()
    };
    e.store().executions(filter, None, 100).await.unwrap().items
}

#[tokio::test]
async fn sync_waits_for_the_child_and_answers_with_its_description() {
    let dir = data_dir("sync");
    let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
    let child = machine("child", &echo(), MachineType::Standard);
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution.sync",
            json!({"StateMachineArn": machine_arn("child"), "Input": {"who.$": "$.who"}}),
        ),
        MachineType::Standard,
    );
    put(&e, &[&child, &p]).await;
    let run = start(&e, &p, "p1", json!({"who": "ada"}), None).await;
    let done = ended(&e, &run.arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let out = output(&done);
    assert_eq!(out["Status"], "SUCCEEDED");
    assert_eq!(
        out["Output"], r#"{"got":{"who":"ada"}}"#,
        "JSON text: {out}"
    );
    assert_eq!(out["Input"], r#"{"who":"ada"}"#);
    assert_eq!(out["InputDetails"], json!({"Included": true}));
    assert_eq!(out["OutputDetails"], json!({"Included": true}));
    assert_eq!(out["StateMachineArn"], machine_arn("child"));
    assert!(
        out["StartDate"].is_i64() && out["StopDate"].is_i64(),
        "{out}"
    );
    let child_arn = out["ExecutionArn"].as_str().unwrap();
    let name = out["Name"].as_str().unwrap();
    assert_eq!(child_arn, exec_arn("child", name));
    assert_eq!(name.len(), 36, "a UUID, as AWS names it: {name}");
    // AWS's member order: alphabetical.
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    let child_run = e.execution(child_arn).await.unwrap().unwrap();
    assert_eq!(child_run.status, ExecutionStatus::Succeeded);
    assert_eq!(child_run.input, r#"{"who":"ada"}"#);

    let events = history(&e, &run.arn).await;
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    for e in &events[2..6] {
        let details = e
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.ends_with("EventDetails"))
            .unwrap()
            .1;
        assert_eq!(details["resourceType"], "states", "{e}");
        assert_eq!(details["resource"], "startExecution.sync", "{e}");
    }
    let submitted: Value = serde_json::from_str(
        events[4]["taskSubmittedEventDetails"]["output"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(submitted["ExecutionArn"], child_arn);
    assert_eq!(submitted["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert_eq!(events[5]["previousEventId"], events[4]["id"]);
    assert_eq!(executions_of(&e, "child").await.len(), 1);
}

#[tokio::test]
async fn sync2_answers_with_json_input_and_output() {
    let dir = data_dir("sync2");
    let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
    let child = machine("child", &echo(), MachineType::Standard);
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution.sync:2",
            json!({"StateMachineArn": machine_arn("child"), "Input.$": "$", "Name": "named"}),
        ),
        MachineType::Standard,
    );
    put(&e, &[&child, &p]).await;
    let run = start(&e, &p, "p1", json!({"n": 1}), None).await;
    let done = ended(&e, &run.arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let out = output(&done);
    assert_eq!(out["Output"], json!({"got": {"n": 1}}));
    assert_eq!(out["Input"], json!({"n": 1}));
    assert_eq!(out["Name"], "named");
    assert_eq!(out["ExecutionArn"], exec_arn("child", "named"));
    let events = history(&e, &run.arn).await;
    assert_eq!(
        events[2]["taskScheduledEventDetails"]["resource"],
        "startExecution.sync:2"
    );
}

#[tokio::test]
async fn a_failed_child_fails_the_task_and_the_parent_catches_it() {
    let dir = data_dir("catch");
    let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
    let child = machine(
        "child",
        &json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ChildError", "Cause": "it broke"}}}),
        MachineType::Standard,
    );
    let p = machine(
        "parent",
        &json!({"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                     "Parameters": {"StateMachineArn": machine_arn("child")},
                     "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                                "Next": "Caught"}],
                     "End": true},
            "Caught": {"Type": "Pass", "End": true}}}),
        MachineType::Standard,
    );
    put(&e, &[&child, &p]).await;
    let run = start(&e, &p, "p1", json!({}), None).await;
    let done = ended(&e, &run.arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "caught: {done:?}");
    let error = &output(&done)["error"];
    assert_eq!(error["Error"], "States.TaskFailed");
    let cause: Value = serde_json::from_str(error["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["Status"], "FAILED");
    assert_eq!(cause["Error"], "ChildError");
    assert_eq!(cause["Cause"], "it broke");
    assert_eq!(cause["Input"], json!({}));
    assert_eq!(cause["RedriveStatus"], "REDRIVABLE");
    assert!(cause.get("Output").is_none(), "{cause}");
    let events = history(&e, &run.arn).await;
    assert!(
        types(&events).contains(&"TaskFailed"),
        "{:?}",
        types(&events)
    );
}

#[tokio::test]
async fn request_response_returns_the_start_and_the_child_runs_on() {
    let dir = data_dir("fire");
    let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
    let child = machine("child", &echo(), MachineType::Standard);
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution",
            json!({"StateMachineArn": machine_arn("child"), "Input": "{\"as\":\"text\"}"}),
        ),
        MachineType::Standard,
    );
    put(&e, &[&child, &p]).await;
    let run = start(&e, &p, "p1", json!({}), None).await;
    let done = ended(&e, &run.arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let out = output(&done);
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "ExecutionArn",
            "SdkHttpMetadata",
            "SdkResponseMetadata",
            "StartDate"
        ]
    );
    assert!(out["StartDate"].is_i64(), "epoch milliseconds: {out}");
    assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], 200);
    assert_eq!(
        out["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"],
        out["SdkResponseMetadata"]["RequestId"]
    );
    let child_run = ended(&e, out["ExecutionArn"].as_str().unwrap()).await;
    assert_eq!(child_run.status, ExecutionStatus::Succeeded);
    assert_eq!(output(&child_run), json!({"got": {"as": "text"}}));
    assert_eq!(out["StartDate"], child_run.start_ms);
    let events = history(&e, &run.arn).await;
    assert!(!types(&events).contains(&"TaskSubmitted"));
}

#[tokio::test]
async fn express_children_and_express_parents() {
    let dir = data_dir("express");
    let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
    let child = machine("child", &echo(), MachineType::Express);
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution.sync:2",
            json!({"StateMachineArn": machine_arn("child"), "Input.$": "$"}),
        ),
        MachineType::Standard,
    );
    put(&e, &[&child, &p]).await;
    let run = start(&e, &p, "p1", json!({"x": 1}), None).await;
    let done = ended(&e, &run.arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let out = output(&done);
    assert_eq!(out["Output"], json!({"got": {"x": 1}}));
    assert!(
        out["ExecutionArn"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{PREFIX}:express:child:")),
        "{out}"
    );
    assert!(out.get("RedriveStatus").is_none(), "not for EXPRESS: {out}");

    // An EXPRESS parent starts a STANDARD child.
    let std_child = machine("stdchild", &echo(), MachineType::Standard);
    let xp = machine(
        "xparent",
        &parent(
            "arn:aws:states:::states:startExecution.sync",
            json!({"StateMachineArn": machine_arn("stdchild"), "Input.$": "$"}),
        ),
        MachineType::Express,
    );
    put(&e, &[&std_child, &xp]).await;
    let arn = format!("{PREFIX}:express:xparent:x1:0001");
    let done = e
        .run_sync(&xp, arn, "x1".into(), r#"{"y":2}"#.into(), None, None)
        .await
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(output(&done)["Output"], r#"{"got":{"y":2}}"#);
    assert_eq!(executions_of(&e, "stdchild").await.len(), 1);
}

#[tokio::test]
async fn start_execution_errors_are_aws_service_exceptions() {
    let dir = data_dir("errors");
    let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
    let missing = machine_arn("nope");
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution",
            json!({"StateMachineArn": missing}),
        ),
        MachineType::Standard,
    );
    // The same explicit name, the input from the parent's.
    let child = machine(
        "child",
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
        MachineType::Standard,
    );
    let named = machine(
        "named",
        &parent(
            "arn:aws:states:::states:startExecution",
            json!({"StateMachineArn": machine_arn("child"), "Name": "fixed", "Input.$": "$"}),
        ),
        MachineType::Standard,
    );
    put(&e, &[&p, &child, &named]).await;

    let run = start(&e, &p, "p1", json!({}), None).await;
    let done = ended(&e, &run.arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(
        done.error.as_deref(),
        Some("StepFunctions.StateMachineDoesNotExistException")
    );
    let cause = done.cause.unwrap();
    assert!(
        cause.starts_with(&format!(
            "State Machine Does Not Exist: '{missing}' (Service: AWSStepFunctions; Status Code: \
             400; Error Code: StateMachineDoesNotExist; Request ID: "
        )),
        "{cause}"
    );
    assert!(cause.ends_with("; Proxy: null)"), "{cause}");

    let first = start(&e, &named, "n1", json!({"a": 1}), None).await;
    assert_eq!(
        ended(&e, &first.arn).await.status,
        ExecutionStatus::Succeeded
    );
    // Same name, same input, child still RUNNING: AWS's idempotency answers with it.
    let same = start(&e, &named, "n2", json!({"a": 1}), None).await;
    let same = ended(&e, &same.arn).await;
    assert_eq!(same.status, ExecutionStatus::Succeeded, "{same:?}");
    assert_eq!(output(&same)["ExecutionArn"], exec_arn("child", "fixed"));
    // Same name, another input.
    let other = start(&e, &named, "n3", json!({"a": 2}), None).await;
    let other = ended(&e, &other.arn).await;
    assert_eq!(other.status, ExecutionStatus::Failed);
    assert_eq!(
        other.error.as_deref(),
        Some("StepFunctions.ExecutionAlreadyExistsException")
    );
    assert!(
        other.cause.as_deref().unwrap().starts_with(&format!(
            "Execution Already Exists: '{}'",
            exec_arn("child", "fixed")
        )),
        "{other:?}"
    );
    assert_eq!(executions_of(&e, "child").await.len(), 1);
}

#[tokio::test]
async fn a_mocked_state_is_answered_by_the_mock_an_unmocked_one_runs_the_child() {
    let dir = data_dir("mock");
    let mocks = MockConfig::parse(
        r#"{"StateMachines": {"parent": {"TestCases": {
              "Mocked": {"Call": "Started"}, "Unmocked": {}}}},
            "MockedResponses": {"Started": {"0": {"Return": {"ExecutionArn": "mocked"}}}}}"#,
    )
    .unwrap();
    let e = engine_with(&dir, MockDispatcher::new(mocks), Clock::system()).await;
    let child = machine("child", &echo(), MachineType::Standard);
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution.sync",
            json!({"StateMachineArn": machine_arn("child")}),
        ),
        MachineType::Standard,
    );
    put(&e, &[&child, &p]).await;
    let mocked = start(&e, &p, "m1", json!({}), Some("Mocked")).await;
    let mocked = ended(&e, &mocked.arn).await;
    assert_eq!(output(&mocked), json!({"ExecutionArn": "mocked"}));
    assert!(executions_of(&e, "child").await.is_empty());

    let real = start(&e, &p, "m2", json!({}), Some("Unmocked")).await;
    let real = ended(&e, &real.arn).await;
    assert_eq!(real.status, ExecutionStatus::Succeeded, "{real:?}");
    assert_eq!(output(&real)["Status"], "SUCCEEDED");
    assert_eq!(executions_of(&e, "child").await.len(), 1);
}

/// The parent's engine dies while the parent waits on a `.sync` child; after the restart the
/// parent's task is performed again, finds the same child, and completes with its output.
#[test]
fn a_restarted_parent_waits_for_the_same_child() {
    let dir = data_dir("restart");
    let child = machine(
        "child",
        &json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"done.$": "$.n"}, "End": true}}}),
        MachineType::Standard,
    );
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution.sync:2",
            json!({"StateMachineArn": machine_arn("child"), "Input.$": "$"}),
        ),
        MachineType::Standard,
    );
    let parent_arn = exec_arn("parent", "p1");
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
            put(&e, &[&child, &p]).await;
            start(&e, &p, "p1", json!({"n": 7}), None).await;
            // Until the parent has recorded the child it waits for.
            for _ in 0..1000 {
                if types(&history(&e, &parent_arn).await).contains(&"TaskSubmitted") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(executions_of(&e, "child").await.len(), 1);
        });
        rt.shutdown_background(); // like kill -9
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = Clock::system();
        let e = engine_with(&dir, NoDispatcher, clock.clone()).await;
        assert_eq!(e.recover().await.unwrap(), 2, "the parent and the child");
        tokio::time::sleep(Duration::from_millis(50)).await;
        clock.advance(3_600_000);
        let done = ended(&e, &parent_arn).await;
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
        assert_eq!(output(&done)["Output"], json!({"done": 7}));
        let children = executions_of(&e, "child").await;
        assert_eq!(children.len(), 1, "{children:?}");
        assert_eq!(output(&done)["ExecutionArn"], children[0].arn);
        let events = history(&e, &parent_arn).await;
        let kinds = types(&events);
        assert_eq!(
            kinds.iter().filter(|k| **k == "TaskSubmitted").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    });
}

/// As above, but the engine dies before the parent recorded `TaskSubmitted`: the child's name,
/// derived from the parent and its task, leads the task performed again to the same child.
#[test]
fn a_restarted_parent_finds_its_child_by_the_derived_name() {
    let dir = data_dir("derived");
    let child = machine(
        "child",
        &json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
            "P": {"Type": "Pass", "Result": "late", "End": true}}}),
        MachineType::Standard,
    );
    let p = machine(
        "parent",
        &parent(
            "arn:aws:states:::states:startExecution.sync",
            json!({"StateMachineArn": machine_arn("child")}),
        ),
        MachineType::Standard,
    );
    let parent_arn = exec_arn("parent", "p1");
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let e = engine_with(&dir, NoDispatcher, Clock::system()).await;
            put(&e, &[&child, &p]).await;
            start(&e, &p, "p1", json!({}), None).await;
            for _ in 0..1000 {
                if !executions_of(&e, "child").await.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        rt.shutdown_background();
    }
    // Take the parent back to before its TaskSubmitted, as if the engine had died first.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = open_store(&dir);
        let mut record = store.execution(&parent_arn).await.unwrap().unwrap();
        let mut snapshot: Value =
            serde_json::from_str(record.snapshot.as_deref().unwrap()).unwrap();
        let forgot = forget_submissions(&mut snapshot);
        record.snapshot = Some(snapshot.to_string());
        store
            .commit(vec![Write::UpdateExecution(record)])
            .await
            .unwrap();
        store.close().await.unwrap();
        let clock = Clock::system();
        let e = engine_with(&dir, NoDispatcher, clock.clone()).await;
        e.recover().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        clock.advance(3_600_000);
        let done = ended(&e, &parent_arn).await;
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
        assert_eq!(output(&done)["Output"], "\"late\"");
        let children = executions_of(&e, "child").await;
        assert_eq!(
            children.len(),
            1,
            "forgot {forgot} submission(s): {children:?}"
        );
    });
}

/// Clears every `submitted` the snapshot's waiting tasks hold; returns how many.
fn forget_submissions(v: &mut Value) -> usize {
    match v {
        Value::Object(fields) => {
            let mut n = 0;
            if let Some(s) = fields.get_mut("submitted")
                && !s.is_null()
            {
                *s = Value::Null;
                n += 1;
            }
            n + fields.values_mut().map(forget_submissions).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(forget_submissions).sum(),
        _ => 0,
    }
}
