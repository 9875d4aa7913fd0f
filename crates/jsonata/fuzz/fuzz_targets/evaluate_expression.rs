//! Evaluating any expression that parses, against a fixed document, never panics, hangs or
//! overflows: the budget turns runaway evaluations into errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sluice_jsonata::{Bindings, Budget, Expression, aws};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = Expression::parse(text) else {
        return;
    };
    let input = json!({
        "a": [1, 2, {"b": "x", "c": [true, null]}],
        "detail": {"severity": "high", "items": [{"price": 1.5}, {"price": 2}]}
    });
    let functions = aws::functions();
    let budget = Budget {
        max_steps: 100_000,
        max_sequence: 100_000,
        ..Budget::default()
    };
    let bindings = Bindings::new()
        .with_functions(&functions)
        .with_budget(budget)
        .with_now(0)
        .with_seed(0);
    let _ = expr.evaluate(&input, &bindings);
});
