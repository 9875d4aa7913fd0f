//! The seed's 3-step machine (Pass variant) on the realistic 1 KiB security event: how many
//! state transitions the pure step core makes per second on one core.
//!
//! `cargo bench -p sluice-asl --bench step`

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use serde_json::Value;
use sluice_asl::definition::StateMachine;
use sluice_asl::interpreter::{self, Host, Options};
use sluice_asl::step::{Action, Execution, TaskCall, Visit};
use sluice_asl::{Failure, SplitMix64};

const PASS_MACHINE: &str = include_str!("../../../examples/seed/sec-pipeline-pass.json");
/// The same machine in JSONata (Output, Condition): compared with the JSONPath one.
const PASS_MACHINE_JSONATA: &str =
    include_str!("../../../examples/seed/sec-pipeline-pass-jsonata.json");
const EVENT: &str = include_str!("../../../examples/seed/event.json");

fn main() {
    divan::main();
}

/// Runs one execution through the step core; returns the number of states visited.
fn execute(
    machine: &StateMachine,
    input: Value,
    visit: &Visit<'_>,
    random: &mut SplitMix64,
) -> u64 {
    let mut state = machine.start_at;
    let mut input = input;
    let mut transitions = 0;
    loop {
        transitions += 1;
        match machine
            .enter(state, input, visit, random)
            .expect("seed machine runs")
        {
            Action::Next {
                state: next,
                output,
                ..
            } => {
                state = next;
                input = output;
            }
            Action::Succeed { output, .. } => {
                black_box(output);
                return transitions;
            }
            other => panic!("unexpected action {other:?}"),
        }
    }
}

/// Transitions per second of the step core alone (no history, no clock).
#[divan::bench]
fn seed_pass_machine_transitions(bencher: Bencher) {
    step_transitions(bencher, PASS_MACHINE);
}

/// The same, with the JSONata version of the machine.
#[divan::bench]
fn seed_pass_machine_jsonata_transitions(bencher: Bencher) {
    step_transitions(bencher, PASS_MACHINE_JSONATA);
}

fn step_transitions(bencher: Bencher, definition: &str) {
    let machine = StateMachine::parse_str(definition).expect("valid seed machine");
    let event: Value = serde_json::from_str(EVENT).expect("valid event");
    let execution = Execution::default();
    let variables = sluice_asl::Variables::default();
    let visit = Visit {
        execution: &execution,
        entered_time: "",
        retry_count: 0,
        task_token: None,
        variables: &variables,
        now_ms: 0,
    };
    let mut random = SplitMix64(1);
    let per_execution = execute(&machine, event.clone(), &visit, &mut random);
    bencher
        .counter(ItemsCount::new(per_execution))
        .with_inputs(|| event.clone())
        .bench_local_values(|input| execute(&machine, input, &visit, &mut random));
}

struct NoTasks;

impl Host for NoTasks {
    fn run_task(&mut self, _: &str, _: &TaskCall) -> Result<Value, Failure> {
        Err(Failure::runtime("no tasks in the Pass machine"))
    }
    fn now(&mut self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::UNIX_EPOCH
    }
    fn sleep_until(&mut self, _: chrono::DateTime<chrono::Utc>) {}
}

/// Whole executions with history recording, as `sluice run` does them.
#[divan::bench]
fn seed_pass_machine_executions_with_history(bencher: Bencher) {
    let machine = StateMachine::parse_str(PASS_MACHINE).expect("valid seed machine");
    let event: Value = serde_json::from_str(EVENT).expect("valid event");
    bencher
        .counter(ItemsCount::new(1u32))
        .with_inputs(|| event.clone())
        .bench_local_values(|input| {
            interpreter::run(&machine, input, &mut NoTasks, Options::default())
        });
}

/// Parsing and validating the seed definition.
#[divan::bench]
fn parse_seed_definition() -> StateMachine {
    StateMachine::parse_str(black_box(PASS_MACHINE)).expect("valid seed machine")
}

/// Baseline for the transitions bench: only freeing the 1 KiB event, which the seed's first
/// Pass state does when its `Result` replaces the input.
#[divan::bench]
fn baseline_drop_event(bencher: Bencher) {
    let event: Value = serde_json::from_str(EVENT).expect("valid event");
    bencher
        .with_inputs(|| event.clone())
        .bench_local_values(drop);
}
