//! Task tokens, heartbeats and task timeouts on the durable engine: `.waitForTaskToken` tasks
//! end with SendTaskSuccess / SendTaskFailure (after a restart too), a missed heartbeat or a
//! passed TimeoutSeconds fails the task with `States.Timeout` on the engine's clock, and Retry
//! and Catch apply as on AWS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_asl::Failure;
use sluice_asl::definition::StateMachine;
use sluice_asl::mock::MockConfig;
use sluice_asl::task_token::TaskToken;
use sluice_asl::{SplitMix64, driver};
use sluice_engine::{
    CallbackError, Clock, Dispatch, Engine, EngineOptions, MockDispatcher, NoDispatcher, Task, run,
};
use sluice_store::ExecutionStatus;
use sluice_store::{
    ExecutionRecord, MachineType, SqliteOptions, SqliteStore, StateMachineRecord, Store, Write,
};
use tokio::sync::Notify;

use crate::common::{execution_arn, machine_record};

fn data_dir(name: &str) -> PathBuf {
    crate::common::data_dir("callbacks", name)
}

fn machine(definition: Value) -> StateMachineRecord {
    machine_record("m", definition.to_string(), MachineType::Standard)
}

fn exec_arn(name: &str) -> String {
    execution_arn("m", name)
}

/// Opens the store in `dir` (waiting while a killed process's store still holds it).
async fn engine<D: Dispatch>(dir: &Path, dispatcher: D, clock: Clock) -> Engine<SqliteStore, D> {
    for _ in 0..200 {
        match SqliteStore::open(&dir.join("sluice.db"), SqliteOptions::default()) {
            Ok(store) => return Engine::new(store, dispatcher, clock, EngineOptions::default()),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("the store does not reopen");
}

async fn start<D: Dispatch>(e: &Engine<SqliteStore, D>, m: &StateMachineRecord, name: &str) {
    e.store()
        .commit(vec![Write::PutStateMachine(m.clone())])
        .await
        .unwrap();
    e.start(m, exec_arn(name), name.into(), "{}".into(), None, None)
        .await
        .unwrap();
}

async fn history<D: Dispatch>(e: &Engine<SqliteStore, D>, arn: &str) -> Vec<Value> {
    let page = e.history(arn, None, 1000, false).await.unwrap();
    page.items
        .iter()
        .map(|event| serde_json::from_str(&event.body).unwrap())
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// Waits until the history of `arn` has an event of type `kind`; returns that event.
async fn event<D: Dispatch>(e: &Engine<SqliteStore, D>, arn: &str, kind: &str) -> Value {
    for _ in 0..2000 {
        if let Some(found) = history(e, arn)
            .await
            .into_iter()
            .find(|v| v["type"] == kind)
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{arn} never recorded {kind}: {:?}", history(e, arn).await);
}

async fn ended<D: Dispatch>(e: &Engine<SqliteStore, D>, arn: &str) -> ExecutionRecord {
    for _ in 0..2000 {
        let r = e.execution(arn).await.unwrap().unwrap();
        if r.status != ExecutionStatus::Running {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{arn} still RUNNING");
}

/// The token the task was scheduled with (its parameters carry `$$.Task.Token`).
async fn token<D: Dispatch>(e: &Engine<SqliteStore, D>, arn: &str) -> String {
    let scheduled = event(e, arn, "TaskScheduled").await;
    let parameters: Value = serde_json::from_str(
        scheduled["taskScheduledEventDetails"]["parameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    parameters["MessageBody"]["TaskToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A queue: `.waitForTaskToken` calls are "sent" (counted) and answered with a message id; the
/// task then waits for its callback, as with SQS on AWS.
#[derive(Clone, Default)]
struct Queue {
    sent: Arc<AtomicUsize>,
}

impl Dispatch for Queue {
    async fn dispatch(&self, _: Task) -> Result<Value, Failure> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(json!({ "MessageId": format!("m-{n}") }))
    }

    fn waits_for_callback(&self, _: &Task) -> bool {
        true
    }
}

fn asking(extra: Value) -> Value {
    let mut ask = json!({"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
        "ResultPath": "$.answer", "Next": "Done",
        "Catch": [{"ErrorEquals": ["Denied"], "ResultPath": "$.denied", "Next": "Done"}]});
    for (k, v) in extra.as_object().unwrap() {
        ask[k] = v.clone();
    }
    json!({"StartAt": "Ask", "States": {"Ask": ask, "Done": {"Type": "Pass", "End": true}}})
}

#[test]
fn send_task_success_completes_a_waiting_task_after_a_restart() {
    let dir = data_dir("restart");
    let m = machine(asking(json!({})));
    let arn = exec_arn("r1");
    let queue = Queue::default();
    let token = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let token = rt.block_on(async {
            let e = engine(&dir, queue.clone(), Clock::system()).await;
            start(&e, &m, "r1").await;
            event(&e, &arn, "TaskSubmitted").await;
            token(&e, &arn).await
        });
        rt.shutdown_background(); // like kill -9, the task waiting
        token
    };
    assert_eq!(queue.sent.load(Ordering::SeqCst), 1);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let after = Queue::default();
        let e = engine(&dir, after.clone(), Clock::system()).await;
        assert_eq!(e.recover().await.unwrap(), 1);
        e.send_task_success(&token, json!({"approved": true}))
            .await
            .unwrap();
        let done = ended(&e, &arn).await;
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
        assert_eq!(
            serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
            json!({"answer": {"approved": true}})
        );
        assert_eq!(
            after.sent.load(Ordering::SeqCst),
            0,
            "the message was sent before the restart: not again"
        );
        let events = history(&e, &arn).await;
        assert_eq!(
            kinds(&events),
            [
                "ExecutionStarted",
                "TaskStateEntered",
                "TaskScheduled",
                "TaskStarted",
                "TaskSubmitted",
                "TaskSucceeded",
                "TaskStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_eq!(
            events[4]["taskSubmittedEventDetails"]["output"],
            r#"{"MessageId":"m-0"}"#
        );
        assert_eq!(
            events[5]["taskSucceededEventDetails"]["output"],
            r#"{"approved":true}"#
        );
        // The token answered once; other texts are no tokens, or name no execution.
        assert!(matches!(
            e.send_task_success(&token, json!(1)).await,
            Err(CallbackError::TaskTimedOut)
        ));
        assert!(matches!(
            e.send_task_heartbeat("NoSuchTaskToken").await,
            Err(CallbackError::InvalidToken)
        ));
        let elsewhere = TaskToken {
            execution: exec_arn("nope"),
            thread: 0,
            scheduled: 3,
        }
        .encode(&mut SplitMix64(9));
        assert!(matches!(
            e.send_task_failure(&elsewhere, "E".into(), "c".into())
                .await,
            Err(CallbackError::TaskDoesNotExist)
        ));
    });
}

#[tokio::test]
async fn send_task_failure_fails_the_task_and_catch_takes_it() {
    let dir = data_dir("failure");
    // Nothing to call: the task only waits, its token in TaskScheduled's parameters.
    let e = engine(&dir, NoDispatcher, Clock::system()).await;
    let arn = exec_arn("f1");
    start(&e, &machine(asking(json!({}))), "f1").await;
    let token = token(&e, &arn).await;
    e.send_task_failure(&token, "Denied".into(), "by a human".into())
        .await
        .unwrap();
    let done = ended(&e, &arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!({"denied": {"Error": "Denied", "Cause": "by a human"}})
    );
    let failed = event(&e, &arn, "TaskFailed").await;
    assert_eq!(
        failed["taskFailedEventDetails"],
        json!({"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken",
               "error": "Denied", "cause": "by a human"})
    );
    assert!(
        !kinds(&history(&e, &arn).await).contains(&"TaskSubmitted"),
        "no call was made"
    );
}

#[tokio::test]
async fn a_missed_heartbeat_times_the_task_out_on_the_engine_clock() {
    let dir = data_dir("heartbeat");
    let clock = Clock::system();
    let e = engine(&dir, NoDispatcher, clock.clone()).await;
    let arn = exec_arn("h1");
    let definition = asking(json!({"TimeoutSeconds": 3600, "HeartbeatSeconds": 60}));
    start(&e, &machine(definition), "h1").await;
    let token = token(&e, &arn).await;
    clock.advance(40_000);
    e.send_task_heartbeat(&token).await.unwrap();
    // 80 s after the start: past the first heartbeat deadline, not the moved one (100 s).
    clock.advance(40_000);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        e.execution(&arn).await.unwrap().unwrap().status,
        ExecutionStatus::Running
    );
    clock.advance(30_000);
    let done = ended(&e, &arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(done.cause, None);
    let timed_out = event(&e, &arn, "TaskTimedOut").await;
    assert_eq!(
        timed_out["taskTimedOutEventDetails"],
        json!({"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken",
               "error": "States.Timeout"})
    );
    let events = history(&e, &arn).await;
    assert_eq!(kinds(&events).last(), Some(&"ExecutionFailed"));
    assert!(matches!(
        e.send_task_success(&token, json!(1)).await,
        Err(CallbackError::TaskTimedOut)
    ));
}

/// Answers call `n` with `"attempt n"` once `gates[n]` is notified.
#[derive(Clone)]
struct Gated {
    calls: Arc<AtomicUsize>,
    gates: Arc<[Notify; 2]>,
}

impl Dispatch for Gated {
    async fn dispatch(&self, _: Task) -> Result<Value, Failure> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.gates[n.min(1)].notified().await;
        Ok(json!(format!("attempt {n}")))
    }
}

#[tokio::test]
async fn timeout_seconds_fails_the_task_with_states_timeout_and_retry_runs_it_again() {
    let dir = data_dir("timeout");
    let clock = Clock::system();
    let gated = Gated {
        calls: Arc::default(),
        gates: Arc::new([Notify::new(), Notify::new()]),
    };
    let e = engine(&dir, gated.clone(), clock.clone()).await;
    let arn = exec_arn("t1");
    let definition = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 30, "End": true,
        "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 10,
                   "MaxAttempts": 1}]}}});
    start(&e, &machine(definition), "t1").await;
    event(&e, &arn, "TaskStarted").await;
    clock.advance(30_000);
    let timed_out = event(&e, &arn, "TaskTimedOut").await;
    assert_eq!(
        timed_out["taskTimedOutEventDetails"],
        json!({"resourceType": "lambda", "resource": "invoke", "error": "States.Timeout"})
    );
    clock.advance(10_000);
    while gated.calls.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The timed-out call answers while the retry runs: not the retry's answer.
    gated.gates[0].notify_one();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        e.execution(&arn).await.unwrap().unwrap().status,
        ExecutionStatus::Running
    );
    gated.gates[1].notify_one();
    let done = ended(&e, &arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#""attempt 1""#));
    let events = history(&e, &arn).await;
    assert_eq!(
        kinds(&events),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskTimedOut",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn where_no_callback_can_come_a_task_waiting_for_one_fails_at_once() {
    // EXPRESS executions run in memory, out of the callbacks' reach (and AWS refuses
    // `.waitForTaskToken` in EXPRESS machines at creation).
    let m = StateMachine::parse(&asking(json!({}))).unwrap();
    let settings = driver::Settings {
        max_payload_bytes: None,
        seed: 1,
        context: Default::default(),
    };
    let finished = run(
        Arc::new(m),
        json!({}),
        None,
        settings,
        None,
        Arc::new(NoDispatcher),
        &Clock::system(),
    )
    .await;
    assert_eq!(finished.end.status, driver::Status::Failed);
    let failure = finished.end.failure.unwrap();
    assert_eq!(failure.error, "States.Runtime");
    assert!(failure.cause.contains(".waitForTaskToken"), "{failure:?}");
}

#[tokio::test]
async fn a_mocked_response_stands_for_the_whole_task_as_in_step_functions_local() {
    let dir = data_dir("mocked");
    let mocks = MockConfig::parse(
        r#"{"StateMachines": {"m": {"TestCases": {"Approved": {"Ask": "Approved"}}}},
            "MockedResponses": {"Approved": {"0": {"Return": {"approved": true}}}}}"#,
    )
    .unwrap();
    let e = engine(&dir, MockDispatcher::new(mocks), Clock::system()).await;
    let m = machine(asking(json!({})));
    e.store()
        .commit(vec![Write::PutStateMachine(m.clone())])
        .await
        .unwrap();
    let arn = exec_arn("mocked");
    e.start(
        &m,
        arn.clone(),
        "mocked".into(),
        "{}".into(),
        Some("Approved".into()),
        None,
    )
    .await
    .unwrap();
    let done = ended(&e, &arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(
        serde_json::from_str::<Value>(done.output.as_deref().unwrap()).unwrap(),
        json!({"answer": {"approved": true}})
    );
}
