//! The engine runs executions with concurrent branches, on its own clock, with mocked tasks.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sluice_asl::definition::StateMachine;
use sluice_asl::driver::{Settings, Status};
use sluice_asl::mock::MockConfig;
use sluice_asl::step::Execution;
use sluice_engine::{Clock, Finished, MockDispatcher, NoDispatcher, run};

fn settings(machine: &str) -> Settings {
    Settings {
        max_payload_bytes: Some(256 * 1024),
        seed: 7,
        context: Execution {
            id: format!("arn:aws:states:us-east-1:000000000000:execution:{machine}:e1"),
            name: "e1".into(),
            state_machine_name: machine.into(),
            ..Execution::default()
        },
    }
}

fn machine(v: Value) -> Arc<StateMachine> {
    Arc::new(StateMachine::parse(&v).unwrap_or_else(|d| panic!("{:?}", d.into_vec())))
}

fn millis(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts)
        .unwrap()
        .timestamp_millis()
}

fn elapsed_ms(f: &Finished) -> i64 {
    millis(&f.history.last().unwrap().timestamp) - millis(&f.history[0].timestamp)
}

#[tokio::test]
async fn the_seed_pipeline_runs_with_its_mock_config() {
    let def: Value = serde_json::from_str(include_str!(
        "../../../../examples/seed/sec-pipeline-lambda.json"
    ))
    .unwrap();
    let mocks = MockConfig::parse(include_str!(
        "../../../../examples/seed/sfn-mock-config.json"
    ))
    .unwrap();
    let f = run(
        machine(def),
        json!({"event_id": "e"}),
        None,
        settings("sec-pipeline-lambda"),
        Some("HappyPath".into()),
        Arc::new(MockDispatcher::new(mocks)),
        &Clock::system(),
    )
    .await;
    assert_eq!(f.end.status, Status::Succeeded, "{:?}", f.end.failure);
    assert_eq!(f.end.output, Some(json!({"notifications_sent": 1})));
    assert_eq!(f.history.len(), 16);
}

#[tokio::test]
async fn parallel_branches_wait_at_the_same_time() {
    // Two branches each wait 10 s: the Parallel state takes 10 s of clock time, not 20.
    let m = machine(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 10, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 10, "End": true}}}]}}}),
    );
    let clock = Clock::system();
    let handle = tokio::spawn({
        let clock = clock.clone();
        async move {
            run(
                m,
                json!({}),
                None,
                settings("p"),
                None,
                Arc::new(NoDispatcher),
                &clock,
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    clock.advance(10_000);
    let f = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.end.status, Status::Succeeded);
    let took = elapsed_ms(&f);
    assert!(
        (10_000..20_000).contains(&took),
        "took {took} ms of clock time"
    );
}

#[tokio::test]
async fn an_hour_long_wait_ends_when_the_clock_is_advanced() {
    let m = machine(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
    );
    let clock = Clock::system();
    let handle = tokio::spawn({
        let clock = clock.clone();
        async move {
            run(
                m,
                json!({"k": 1}),
                None,
                settings("w"),
                None,
                Arc::new(NoDispatcher),
                &clock,
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!handle.is_finished());
    clock.advance(3_600_000);
    let f = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.end.output, Some(json!({"k": 1})));
}

#[tokio::test]
async fn the_execution_deadline_times_it_out() {
    let m = machine(json!({"StartAt": "W", "TimeoutSeconds": 60,
        "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}));
    let clock = Clock::scaled(100_000.0);
    let f = tokio::time::timeout(
        Duration::from_secs(10),
        run(
            m,
            json!({}),
            None,
            settings("t"),
            None,
            Arc::new(NoDispatcher),
            &clock,
        ),
    )
    .await
    .unwrap();
    assert_eq!(f.end.status, Status::TimedOut);
    assert_eq!(f.history.last().unwrap().kind, "ExecutionTimedOut");
}

#[tokio::test]
async fn a_task_without_a_runner_fails_clearly() {
    let m = machine(json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}));
    let f = run(
        m,
        json!({}),
        None,
        settings("x"),
        None,
        Arc::new(NoDispatcher),
        &Clock::system(),
    )
    .await;
    assert_eq!(f.end.status, Status::Failed);
    assert!(
        f.end
            .failure
            .unwrap()
            .cause
            .contains("No task runner for state 'T'")
    );
}
