//! Shared test support: a host whose tasks follow a script and whose clock is virtual.
#![allow(dead_code)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sluice_asl::definition::StateMachine;
use sluice_asl::interpreter::{self, Host, Options, Outcome};
use sluice_asl::step::TaskCall;
use sluice_asl::{Diagnostics, Failure};

/// Tasks answer from per-state scripts (one entry per invocation, the last one repeating);
/// sleeping advances a virtual clock and is recorded.
#[derive(Default)]
pub struct ScriptedHost {
    pub scripts: HashMap<String, Vec<Result<Value, Failure>>>,
    pub calls: Vec<(String, TaskCall)>,
    pub sleeps: Vec<f64>,
    pub now: DateTime<Utc>,
}

impl ScriptedHost {
    pub fn new() -> Self {
        Self {
            now: "2026-11-23T00:00:00Z".parse().unwrap(),
            ..Self::default()
        }
    }

    pub fn task(mut self, state: &str, script: Vec<Result<Value, Failure>>) -> Self {
        self.scripts.insert(state.to_owned(), script);
        self
    }
}

impl Host for ScriptedHost {
    fn run_task(&mut self, state: &str, call: &TaskCall) -> Result<Value, Failure> {
        let n = self.calls.iter().filter(|(s, _)| s == state).count();
        self.calls.push((state.to_owned(), call.clone()));
        let script = self
            .scripts
            .get(state)
            .unwrap_or_else(|| panic!("no script for task state {state}"));
        script[n.min(script.len() - 1)].clone()
    }

    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }

    fn sleep_until(&mut self, until: DateTime<Utc>) {
        let secs = (until - self.now).num_milliseconds() as f64 / 1000.0;
        self.sleeps.push(secs);
        self.now = self.now.max(until);
    }
}

pub fn machine(definition: Value) -> StateMachine {
    match StateMachine::parse(&definition) {
        Ok(m) => m,
        Err(d) => panic!("invalid definition: {:#?}", d.into_vec()),
    }
}

pub fn diagnostics(definition: Value) -> Diagnostics {
    match StateMachine::parse(&definition) {
        Ok(_) => panic!("definition unexpectedly valid: {definition}"),
        Err(d) => d,
    }
}

pub fn run(definition: Value, input: Value) -> Outcome {
    run_with(definition, input, &mut ScriptedHost::new())
}

pub fn run_with(definition: Value, input: Value, host: &mut ScriptedHost) -> Outcome {
    interpreter::run(&machine(definition), input, host, Options::default())
}

pub fn event_types(outcome: &Outcome) -> Vec<&'static str> {
    outcome.history.iter().map(|e| e.kind).collect()
}

pub fn ok(v: Value) -> Result<Value, Failure> {
    Ok(v)
}

pub fn err(error: &str, cause: &str) -> Result<Value, Failure> {
    Err(Failure::new(error, cause))
}
