//! Data-driven conformance suite: every `tests/cases/*.json` file is one case, a rule of the AWS
//! Step Functions developer guide (quoted or paraphrased in its `comment`) checked against a
//! definition, an input and what AWS does with them. All cases run; every failing one is
//! reported with its file name and what differs, then the test fails.
//!
//! A case file:
//!
//! ```json
//! {
//!   "comment": "the AWS rule this checks",
//!   "definition": { "StartAt": "...", "States": { ... } },
//!   "input": { ... },                                   // default {}
//!   "tasks": { "StateName": [ {"Return": ...}, {"Throw": {"Error": "E", "Cause": "C"}} ] },
//!   "expect": { "status": "SUCCEEDED", "output": ... }
//!          | { "status": "FAILED", "error": "...", "cause": "..." | "cause_contains": "..." },
//!   "expect_events": [ "ExecutionStarted", "PassStateEntered", ... ],
//!   "expect_history": [ { "type": "...", "previousEventId": 0, ... }, ... ],
//!   "expect_task_inputs": { "StateName": [ <effective input of call 1>, ... ] },
//!   "expect_sleeps": [ 1.0, 2.0 ]
//! }
//! ```
//!
//! `tasks` scripts answer a Task state's invocations in order (the last entry repeats), on a
//! virtual clock that starts at `2026-11-23T00:00:00Z`; sleeps (Wait states, retry delays) are
//! recorded in seconds. `expect_history` matches each event as a subset of the event as
//! `GetExecutionHistory` would return it (details members by AWS name; `"$absent"` for a member
//! that must not be there), and the number of events exactly. The execution is named `run`, its state machine `machine`.
//!
//! A definition that must be rejected instead has
//! `"expect_invalid": [ {"code": "SCHEMA_VALIDATION_FAILED", "location": "/States/X/Next",
//! "message_contains": "..."} ]`: each listed diagnostic must be among those reported.
//!
//! `SLUICE_CASE=<substring>` runs only the cases whose file name contains it.

use std::fmt::Write as _;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::common::ScriptedHost;
use serde_json::{Map, Value};
use sluice_asl::Failure;
use sluice_asl::definition::StateMachine;
use sluice_asl::interpreter::{self, Options, Outcome};

const CASE_KEYS: &[&str] = &[
    "comment",
    "definition",
    "input",
    "tasks",
    "expect",
    "expect_events",
    "expect_history",
    "expect_task_inputs",
    "expect_sleeps",
    "expect_invalid",
];
const EXPECT_KEYS: &[&str] = &["status", "output", "error", "cause", "cause_contains"];
/// In `expect_history`, the value of a member that must not be present.
const ABSENT: &str = "$absent";
const INVALID_KEYS: &[&str] = &["code", "location", "message_contains"];

#[test]
fn conformance_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let filter = std::env::var("SLUICE_CASE").unwrap_or_default();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| file_name(p).contains(&filter))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no case files in {} matching {filter:?}",
        dir.display()
    );

    let mut failures = Vec::new();
    for file in &files {
        let problems = match fs::read_to_string(file) {
            Err(e) => vec![format!("cannot read: {e}")],
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Err(e) => vec![format!("not JSON: {e}")],
                Ok(case) => {
                    // A panic is a Sluice bug (it must not panic on any input): report it as
                    // this case's failure and go on with the others.
                    match panic::catch_unwind(AssertUnwindSafe(|| check(&case))) {
                        Ok(problems) => problems,
                        Err(payload) => vec![format!("panicked: {}", panic_message(&payload))],
                    }
                }
            },
        };
        if !problems.is_empty() {
            failures.push((file_name(file), problems));
        }
    }

    if !failures.is_empty() {
        let mut report = format!(
            "{} of {} conformance cases failed:\n",
            failures.len(),
            files.len()
        );
        for (name, problems) in &failures {
            let _ = writeln!(report, "\n--- tests/cases/{name}");
            for p in problems {
                for line in p.lines() {
                    let _ = writeln!(report, "    {line}");
                }
            }
        }
        panic!("{report}");
    }
    eprintln!("{} conformance cases passed", files.len());
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(non-string panic payload)".to_owned())
}

/// Runs one case; returns what did not match (empty: the case passed).
fn check(case: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(obj) = case.as_object() else {
        return vec!["a case must be a JSON object".into()];
    };
    unknown_keys(obj, CASE_KEYS, "case", &mut problems);
    if obj
        .get("comment")
        .and_then(Value::as_str)
        .is_none_or(|c| c.trim().is_empty())
    {
        problems.push("\"comment\" (the AWS rule checked) is required".into());
    }
    let Some(definition) = obj.get("definition") else {
        problems.push("\"definition\" is required".into());
        return problems;
    };

    if let Some(expected) = obj.get("expect_invalid") {
        if obj.contains_key("expect") || obj.contains_key("input") || obj.contains_key("tasks") {
            problems.push("\"expect_invalid\" cases have no input, tasks or expect".into());
        }
        check_invalid(definition, expected, &mut problems);
        return problems;
    }

    let machine = match StateMachine::parse(definition) {
        Ok(m) => m,
        Err(d) => {
            let listed: Vec<String> = d.iter().map(|d| format!("  {d}")).collect();
            problems.push(format!("definition rejected:\n{}", listed.join("\n")));
            return problems;
        }
    };
    let mut host = ScriptedHost::new();
    if let Some(tasks) = obj.get("tasks") {
        match scripts(tasks) {
            Ok(scripts) => host.scripts = scripts,
            Err(e) => {
                problems.push(e);
                return problems;
            }
        }
    }
    let input = obj
        .get("input")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let outcome = interpreter::run(&machine, input, &mut host, Options::default());

    match obj.get("expect") {
        Some(expect) => check_outcome(expect, &outcome, &mut problems),
        None => problems.push("\"expect\" is required".into()),
    }
    if let Some(expected) = obj.get("expect_events") {
        let actual: Vec<Value> = outcome
            .history
            .iter()
            .map(|e| Value::String(e.kind.to_owned()))
            .collect();
        compare("events", expected, &Value::Array(actual), &mut problems);
    }
    if let Some(expected) = obj.get("expect_history") {
        check_history(expected, &outcome, &mut problems);
    }
    if let Some(expected) = obj.get("expect_task_inputs") {
        let mut actual = Map::new();
        for (state, call) in &host.calls {
            if let Value::Array(calls) = actual
                .entry(state.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                calls.push(call.input.clone());
            }
        }
        compare(
            "task_inputs",
            expected,
            &Value::Object(actual),
            &mut problems,
        );
    }
    if let Some(expected) = obj.get("expect_sleeps") {
        let actual: Vec<Value> = host.sleeps.iter().map(|s| Value::from(*s)).collect();
        compare_numbers_loosely("sleeps", expected, &actual, &mut problems);
    }
    problems
}

fn unknown_keys(obj: &Map<String, Value>, known: &[&str], what: &str, problems: &mut Vec<String>) {
    for key in obj.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(format!("unknown {what} key {key:?} (known: {known:?})"));
        }
    }
}

type Scripts = std::collections::HashMap<String, Vec<Result<Value, Failure>>>;

fn scripts(tasks: &Value) -> Result<Scripts, String> {
    let bad = |state: &str, why: &str| format!("tasks.{state}: {why}");
    let Some(tasks) = tasks.as_object() else {
        return Err("\"tasks\" must map state names to scripts".into());
    };
    let mut out = Scripts::new();
    for (state, script) in tasks {
        let Some(steps) = script.as_array().filter(|s| !s.is_empty()) else {
            return Err(bad(state, "a script is a non-empty array"));
        };
        let mut parsed = Vec::with_capacity(steps.len());
        for step in steps {
            let step = step
                .as_object()
                .filter(|s| s.len() == 1)
                .ok_or_else(|| bad(state, "each step is {\"Return\": v} or {\"Throw\": {...}}"))?;
            if let Some(v) = step.get("Return") {
                parsed.push(Ok(v.clone()));
            } else if let Some(t) = step.get("Throw") {
                let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                if t.get("Error").and_then(Value::as_str).is_none() {
                    return Err(bad(state, "Throw needs a string \"Error\""));
                }
                parsed.push(Err(Failure::new(field("Error"), field("Cause"))));
            } else {
                return Err(bad(
                    state,
                    "each step is {\"Return\": v} or {\"Throw\": {...}}",
                ));
            }
        }
        out.insert(state.clone(), parsed);
    }
    Ok(out)
}

fn check_outcome(expect: &Value, outcome: &Outcome, problems: &mut Vec<String>) {
    let Some(expect) = expect.as_object() else {
        problems.push("\"expect\" must be an object".into());
        return;
    };
    unknown_keys(expect, EXPECT_KEYS, "expect", problems);
    let status = outcome.status.as_str();
    let expected_status = expect.get("status").and_then(Value::as_str).unwrap_or("");
    if expected_status != status {
        let how = match &outcome.failure {
            Some(f) => format!("error {:?}, cause {:?}", f.error, f.cause),
            None => format!(
                "output {}",
                outcome
                    .output
                    .as_ref()
                    .map_or_else(|| "none".into(), Value::to_string)
            ),
        };
        problems.push(format!(
            "status: expected {expected_status:?}, got {status:?} ({how})"
        ));
        return;
    }
    if let Some(expected) = expect.get("output") {
        let actual = outcome.output.clone().unwrap_or(Value::Null);
        compare("output", expected, &actual, problems);
    }
    let failure = outcome
        .failure
        .clone()
        .unwrap_or_else(|| Failure::new("", ""));
    if let Some(expected) = expect.get("error") {
        compare(
            "error",
            expected,
            &Value::String(failure.error.clone()),
            problems,
        );
    }
    if let Some(expected) = expect.get("cause") {
        compare(
            "cause",
            expected,
            &Value::String(failure.cause.clone()),
            problems,
        );
    }
    if let Some(expected) = expect.get("cause_contains").and_then(Value::as_str)
        && !failure.cause.contains(expected)
    {
        problems.push(format!(
            "cause: expected to contain {expected:?}\n  actual: {:?}",
            failure.cause
        ));
    }
}

fn check_history(expected: &Value, outcome: &Outcome, problems: &mut Vec<String>) {
    let Some(expected) = expected.as_array() else {
        problems.push("\"expect_history\" must be an array".into());
        return;
    };
    let actual: Vec<Value> = outcome
        .history
        .iter()
        .map(|e| serde_json::to_value(e).expect("history events serialize"))
        .collect();
    if expected.len() != actual.len() {
        let kinds: Vec<&str> = outcome.history.iter().map(|e| e.kind).collect();
        problems.push(format!(
            "history: expected {} events, got {}: {kinds:?}",
            expected.len(),
            actual.len()
        ));
    }
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        let mut lines = Vec::new();
        subset(&format!("/{i}"), e, a, &mut lines);
        if !lines.is_empty() {
            problems.push(format!(
                "history event #{} ({}):\n{}",
                i + 1,
                a["type"],
                lines.join("\n")
            ));
        }
    }
}

fn check_invalid(definition: &Value, expected: &Value, problems: &mut Vec<String>) {
    let Some(expected) = expected.as_array().filter(|e| !e.is_empty()) else {
        problems.push("\"expect_invalid\" must be a non-empty array".into());
        return;
    };
    let diagnostics = match StateMachine::parse(definition) {
        Ok(_) => {
            problems.push("definition was accepted; expected it to be rejected".into());
            return;
        }
        Err(d) => d,
    };
    for want in expected {
        let Some(want) = want.as_object() else {
            problems.push("each expect_invalid entry is an object".into());
            continue;
        };
        unknown_keys(want, INVALID_KEYS, "expect_invalid", problems);
        let text = |k: &str| want.get(k).and_then(Value::as_str);
        let found = diagnostics.iter().any(|d| {
            text("code").is_none_or(|c| d.code == c)
                && text("location").is_none_or(|l| d.location.to_string() == l)
                && text("message_contains").is_none_or(|m| d.message.contains(m))
        });
        if !found {
            let listed: Vec<String> = diagnostics.iter().map(|d| format!("  {d}")).collect();
            problems.push(format!(
                "no diagnostic {}; reported:\n{}",
                Value::Object(want.clone()),
                listed.join("\n")
            ));
        }
    }
}

/// Reports `expected` vs `actual` with a line per difference when they are not equal.
fn compare(what: &str, expected: &Value, actual: &Value, problems: &mut Vec<String>) {
    if expected == actual {
        return;
    }
    let mut lines = Vec::new();
    diff("", expected, actual, &mut lines);
    problems.push(format!(
        "{what} differs:\n{}\n  expected: {expected}\n  actual:   {actual}",
        lines.join("\n")
    ));
}

/// Seconds compare as numbers (a recorded `2.0` is the expected `2`).
fn compare_numbers_loosely(
    what: &str,
    expected: &Value,
    actual: &[Value],
    problems: &mut Vec<String>,
) {
    let same = expected.as_array().is_some_and(|e| {
        e.len() == actual.len()
            && e.iter().zip(actual).all(|(x, y)| {
                matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if (x - y).abs() < 1e-9)
            })
    });
    if !same {
        problems.push(format!(
            "{what} differ:\n  expected: {expected}\n  actual:   {}",
            Value::Array(actual.to_vec())
        ));
    }
}

/// One line per place where `actual` differs from `expected`, as JSON pointers.
fn diff(at: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let here = format!("{at}/{k}");
                match a.get(k) {
                    Some(av) => diff(&here, ev, av, out),
                    None => out.push(format!("  {here}: missing (expected {ev})")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("  {at}/{k}: unexpected {av}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{at}/{i}"), ev, av, out);
            }
            if e.len() != a.len() {
                out.push(format!(
                    "  {}: expected {} elements, got {}",
                    if at.is_empty() { "/" } else { at },
                    e.len(),
                    a.len()
                ));
            }
        }
        (e, a) if e != a => out.push(format!(
            "  {}: expected {e}, got {a}",
            if at.is_empty() { "/" } else { at }
        )),
        _ => {}
    }
}

/// Like [`diff`], but members of `actual` that `expected` does not mention are fine, and a
/// member expected as `"$absent"` must not be there.
fn subset(at: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let here = format!("{at}/{k}");
                match a.get(k) {
                    Some(av) if ev == ABSENT => {
                        out.push(format!("  {here}: expected no such member, got {av}"));
                    }
                    Some(av) => subset(&here, ev, av, out),
                    None if ev == ABSENT => {}
                    None => out.push(format!("  {here}: missing (expected {ev})")),
                }
            }
        }
        (e, a) => diff(at, e, a, out),
    }
}
