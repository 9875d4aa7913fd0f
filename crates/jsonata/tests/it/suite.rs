//! Conformance against jsonata-js's language-neutral test suite (`test/test-suite` of the
//! jsonata-js repository: `groups/<group>/case*.json` and `datasets/*.json`). The suite is not
//! part of this repository; point the runner at a copy:
//!
//! ```text
//! JSONATA_SUITE=/tmp/jsonata-suite cargo test -p sluice-jsonata --release --test suite -- --ignored --nocapture
//! ```
//!
//! It prints the pass rate per group and every failing case, and skips (passing) when
//! `JSONATA_SUITE` is unset. `JSONATA_SUITE_GROUP=<substring>` narrows the groups;
//! `JSONATA_SUITE_MIN=<percent>` makes the run fail below that overall pass rate.
//!
//! Mapping of the suite's conventions: `undefinedResult` is `Ok(None)`; a `code` (or
//! `error.code`) is compared with [`sluice_jsonata::Error::code`]; the harness code `U1001`
//! (jsonata-js's test harness aborting a runaway evaluation) is met by this crate's budget
//! errors `D1011` (depth) and `D1012` (steps); a case's `depth` becomes
//! [`Budget::max_depth`]. Numbers compare by value (`1` equals `1.0`), and `unordered` results
//! as multisets.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use sluice_jsonata::{Bindings, Budget, Expression};

fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        // serde_json (without `float_roundtrip`) may read a long decimal one ulp off, so
        // numbers agree when they are within a few ulps
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(p), Some(q)) => {
                p == q || (p - q).abs() <= 4.0 * f64::EPSILON * p.abs().max(q.abs())
            }
            _ => false,
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn unordered_eq(a: &Json, b: &Json) -> bool {
    let (Json::Array(x), Json::Array(y)) = (a, b) else {
        return json_eq(a, b);
    };
    if x.len() != y.len() {
        return false;
    }
    let mut used = vec![false; y.len()];
    x.iter().all(|p| {
        match y
            .iter()
            .enumerate()
            .position(|(i, q)| !used[i] && json_eq(p, q))
        {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

struct Outcome {
    passed: bool,
    detail: String,
}

fn run_case(case: &Json, group_dir: &Path, datasets: &BTreeMap<String, Json>) -> Outcome {
    let expr_text = match (
        case.get("expr").and_then(Json::as_str),
        case.get("expr-file").and_then(Json::as_str),
    ) {
        (Some(e), _) => e.to_string(),
        (None, Some(file)) => match fs::read_to_string(group_dir.join(file)) {
            Ok(t) => t,
            Err(e) => {
                return Outcome {
                    passed: false,
                    detail: format!("cannot read {file}: {e}"),
                };
            }
        },
        _ => {
            return Outcome {
                passed: false,
                detail: "case has no expression".into(),
            };
        }
    };
    let input: Option<Json> = if let Some(d) = case.get("data") {
        Some(d.clone())
    } else {
        match case.get("dataset") {
            Some(Json::String(name)) => datasets.get(name).cloned(),
            _ => None,
        }
    };
    let expected_code = case.get("code").and_then(Json::as_str).or_else(|| {
        case.get("error")
            .and_then(|e| e.get("code"))
            .and_then(Json::as_str)
    });
    let code_matches = |code: &str| -> bool {
        match expected_code {
            Some("U1001") => matches!(code, "D1011" | "D1012" | "U1001"),
            Some(expected) => code == expected,
            None => false,
        }
    };
    let expr = match Expression::parse(&expr_text) {
        Ok(e) => e,
        Err(err) => {
            let token_ok = match case.get("token").and_then(Json::as_str) {
                Some(t) => err.token_text() == Some(t),
                None => true,
            };
            return Outcome {
                passed: code_matches(err.code()) && token_ok,
                detail: format!("parse error {err}"),
            };
        }
    };
    // the runner's thread has a 256 MiB stack, so debug builds' large frames fit too
    let mut budget = Budget {
        max_stack: 64 << 20,
        ..Budget::default()
    };
    if let Some(depth) = case.get("depth").and_then(Json::as_u64) {
        budget.max_depth = depth as usize;
    }
    let mut bindings = Bindings::new()
        .with_budget(budget)
        .with_now(1_520_000_000_000);
    if let Some(Json::Object(vars)) = case.get("bindings") {
        for (k, v) in vars {
            bindings = bindings.with_value(k.clone(), v.clone());
        }
    }
    let result = expr.evaluate_input(input.as_ref(), &bindings);
    match result {
        Err(err) => Outcome {
            passed: code_matches(err.code()),
            detail: format!("error {err}"),
        },
        Ok(value) => {
            let passed = if case.get("undefinedResult").is_some() {
                value.is_none()
            } else if let Some(expected) = case.get("result") {
                match &value {
                    Some(v) if case.get("unordered") == Some(&Json::Bool(true)) => {
                        unordered_eq(v, expected)
                    }
                    Some(v) => json_eq(v, expected),
                    None => false,
                }
            } else {
                false
            };
            Outcome {
                passed,
                detail: match value {
                    Some(v) => format!("got {v}"),
                    None => "got undefined".into(),
                },
            }
        }
    }
}

fn expectation(case: &Json) -> String {
    if let Some(r) = case.get("result") {
        return format!("expected {r}");
    }
    if case.get("undefinedResult").is_some() {
        return "expected undefined".into();
    }
    let code = case
        .get("code")
        .or_else(|| case.get("error").and_then(|e| e.get("code")));
    format!(
        "expected error {}",
        code.map(Json::to_string).unwrap_or_default()
    )
}

#[test]
#[ignore = "needs the jsonata-js test suite: set JSONATA_SUITE"]
fn jsonata_suite() {
    let Ok(root) = std::env::var("JSONATA_SUITE") else {
        println!("JSONATA_SUITE is not set: skipping the JSONata conformance suite");
        return;
    };
    let root = PathBuf::from(root);
    let filter = std::env::var("JSONATA_SUITE_GROUP").ok();
    // evaluation runs on a big stack so debug builds can go as deep as a case's budget allows
    let handle = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || run_suite(&root, filter.as_deref()))
        .expect("spawn suite thread");
    let (passed, total) = handle.join().expect("suite thread");
    let rate = 100.0 * passed as f64 / total.max(1) as f64;
    println!("TOTAL {passed}/{total} = {rate:.2}%");
    if let Ok(min) = std::env::var("JSONATA_SUITE_MIN") {
        let min: f64 = min.parse().expect("JSONATA_SUITE_MIN is a percentage");
        assert!(rate >= min, "pass rate {rate:.2}% is below {min}%");
    }
}

fn run_suite(root: &Path, filter: Option<&str>) -> (usize, usize) {
    let mut datasets = BTreeMap::new();
    for entry in fs::read_dir(root.join("datasets")).expect("datasets folder") {
        let path = entry.expect("dataset entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = fs::read_to_string(&path).expect("read dataset");
        if let Ok(v) = serde_json::from_str(&text) {
            datasets.insert(name, v);
        }
    }
    let mut groups: Vec<PathBuf> = fs::read_dir(root.join("groups"))
        .expect("groups folder")
        .map(|e| e.expect("group entry").path())
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    let (mut passed, mut total) = (0, 0);
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for group in groups {
        let name = group
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let mut files: Vec<PathBuf> = fs::read_dir(&group)
            .expect("group folder")
            .map(|e| e.expect("case entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let (mut group_passed, mut group_total) = (0, 0);
        for file in files {
            let label = format!(
                "{name}/{}",
                file.file_name()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
            );
            let text = fs::read_to_string(&file).expect("read case");
            let cases: Vec<Json> = match serde_json::from_str::<Json>(&text) {
                Ok(Json::Array(items)) => items,
                Ok(single) => vec![single],
                Err(e) => {
                    // e.g. lone UTF-16 surrogates, which Rust strings cannot hold
                    group_total += 1;
                    failures.push(format!("{label}: case file is not representable: {e}"));
                    continue;
                }
            };
            for (i, case) in cases.iter().enumerate() {
                group_total += 1;
                let outcome = std::panic::catch_unwind(|| run_case(case, &group, &datasets));
                match outcome {
                    Ok(o) if o.passed => group_passed += 1,
                    Ok(o) => failures.push(format!(
                        "{label}[{i}]: {} -- {}; {}",
                        case.get("expr")
                            .and_then(Json::as_str)
                            .unwrap_or("<expr-file>"),
                        expectation(case),
                        o.detail
                    )),
                    Err(_) => failures.push(format!("{label}[{i}]: PANIC")),
                }
            }
        }
        summary.push(format!("{name}: {group_passed}/{group_total}"));
        passed += group_passed;
        total += group_total;
    }
    println!("JSONata suite, per group:");
    for line in &summary {
        println!("  {line}");
    }
    println!("failing cases ({}):", failures.len());
    for f in &failures {
        println!("  {f}");
    }
    (passed, total)
}
