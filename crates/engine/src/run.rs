//! Runs one execution in memory to its end: tasks run concurrently, timers on the engine's
//! clock, the deadline enforced. EXPRESS executions are exactly this.

use std::sync::Arc;

use serde_json::Value;
use sluice_asl::definition::StateMachine;
use sluice_asl::driver::{End, Execution, Settings};
use sluice_asl::history::HistoryEvent;

use crate::effects::Performer;
use crate::{Clock, Dispatch};

/// An ended execution.
#[derive(Debug, Clone)]
pub struct Finished {
    pub end: End,
    pub history: Vec<HistoryEvent>,
}

/// Runs `machine` on `input` until it ends; `input_text` is the input as the caller wrote it
/// (the history shows it), if known.
pub async fn run<D: Dispatch>(
    machine: Arc<StateMachine>,
    input: Value,
    input_text: Option<String>,
    settings: Settings,
    test_case: Option<String>,
    dispatcher: Arc<D>,
    clock: &Clock,
) -> Finished {
    let mut performer = Performer::new(
        dispatcher,
        settings.context.id.clone(),
        settings.context.state_machine_name.clone(),
        test_case,
        false,
    );
    let mut ex = match input_text {
        Some(text) => Execution::start_with_text(&machine, input, text, settings, clock.now_ms()),
        None => Execution::start(&machine, input, settings, clock.now_ms()),
    };
    let mut history = ex.take_events();
    loop {
        performer.perform(ex.advance(&machine, clock.now_ms()));
        history.extend(ex.take_events());
        if let Some(end) = ex.end() {
            performer.abort();
            return Finished {
                end: end.clone(),
                history,
            };
        }
        let outcome = performer.next(&ex, clock).await;
        performer.apply(outcome, &mut ex, clock.now_ms());
    }
}
