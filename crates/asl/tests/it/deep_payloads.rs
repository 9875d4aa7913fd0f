//! Execution data of any depth the payload quota allows (AWS documents no nesting limit): a
//! 100,000-level input parses, flows through InputPath, Parameters, Choice, JSONata Output
//! and Assign, a Task's result, ResultSelector, ResultPath and OutputPath, is recorded in the
//! history and comes out whole, on a thread with [`json::EXECUTION_STACK`] of stack, as the
//! server's and `sluice run`'s threads have.

use serde_json::Value;
use sluice_asl::definition::StateMachine;
use sluice_asl::interpreter::{self, Host, Options, Status};
use sluice_asl::step::TaskCall;
use sluice_asl::{Failure, json};

const MACHINE: &str = r#"{
  "StartAt": "Select",
  "States": {
    "Select": {"Type": "Pass", "InputPath": "$.deep", "Parameters": {"d.$": "$"}, "Next": "Check"},
    "Check": {"Type": "Choice",
              "Choices": [{"Variable": "$.d", "IsPresent": true, "Next": "Jsonata"}],
              "Default": "Lost"},
    "Lost": {"Type": "Fail", "Error": "Lost"},
    "Jsonata": {"Type": "Pass", "QueryLanguage": "JSONata",
                "Assign": {"kept": "{% $states.input.d %}"},
                "Output": "{% $states.input %}", "Next": "Echo"},
    "Echo": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:echo",
             "Parameters": {"p.$": "$.d"}, "ResultSelector": {"r.$": "$.p"},
             "ResultPath": "$", "OutputPath": "$.r", "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}"#;

/// Echoes a task's parameters back as its result.
struct Echo;

impl Host for Echo {
    fn run_task(&mut self, _: &str, call: &TaskCall) -> Result<Value, Failure> {
        Ok(call.input.clone())
    }
    fn now(&mut self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::UNIX_EPOCH
    }
    fn sleep_until(&mut self, _: chrono::DateTime<chrono::Utc>) {}
}

/// Runs [`MACHINE`] on `{"deep": <deep>}`; the output's depth and the history's event types.
fn run(deep: String) -> (Status, usize, Vec<&'static str>) {
    std::thread::Builder::new()
        .stack_size(json::EXECUTION_STACK)
        .spawn(move || {
            let machine = StateMachine::parse_str(MACHINE).expect("valid machine");
            let input = json::parse(&format!("{{\"deep\":{deep}}}")).expect("parses");
            let outcome = interpreter::run(&machine, input, &mut Echo, Options::default());
            let depth = outcome.output.as_ref().map_or(0, json::depth);
            let types = outcome.history.iter().map(|e| e.kind).collect();
            (outcome.status, depth, types)
        })
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

#[test]
fn a_100000_level_array_flows_through_every_kind_of_state() {
    let depth = 100_000;
    let (status, out, types) = run(format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
    assert_eq!(status, Status::Succeeded, "{types:?}");
    assert_eq!(out, depth);
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
}

#[test]
fn a_40000_level_object_flows_through_every_kind_of_state() {
    let depth = 40_000;
    let (status, out, types) = run(format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)));
    assert_eq!(status, Status::Succeeded, "{types:?}");
    assert_eq!(out, depth);
}
