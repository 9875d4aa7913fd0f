//! Property tests: parsing and evaluating never panic, whatever the expression and input; a
//! failure is always an `Error` with a JSONata-style code.

use proptest::prelude::*;
use serde_json::{Value as Json, json};
use sluice_jsonata::{Bindings, Budget, Expression, aws};

const TOKENS: &[&str] = &[
    "a",
    "b",
    "Account",
    "$",
    "$$",
    "$x",
    "$f",
    "*",
    "**",
    "%",
    ".",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ",",
    ";",
    ":",
    "?",
    "?:",
    "??",
    "@",
    "#",
    "^(",
    "<",
    ">",
    "=",
    "!=",
    "+",
    "-",
    "/",
    "&",
    "~>",
    ":=",
    "..",
    "and",
    "or",
    "in",
    "0",
    "1",
    "2.5",
    "-1",
    "'s'",
    "\"t\"",
    "true",
    "null",
    "function($x){",
    "$x}",
    "$sum(",
    "$map(",
    "$string(",
    "$substring(",
    "$replace(",
    "$split(",
    "$match(",
    "$sort(",
    "$reduce(",
    "$each(",
    "$merge(",
    "$lookup(",
    "$formatNumber(",
    "$formatInteger(",
    "$fromMillis(",
    "$toMillis(",
    "$now(",
    "$eval(",
    "$partition(",
    "$range(",
    "$hash(",
    "$uuid(",
    "$parse(",
    "/a+/i",
    "|",
    "`q`",
    "?",
    "[]",
];

fn input() -> Json {
    json!({
        "a": [1, 2, { "b": "x", "c": [true, null] }],
        "b": { "a": 1.5, "b": [] },
        "Account": { "Order": [{ "Price": 1, "Quantity": 2 }, { "Price": 3, "Quantity": 4 }] }
    })
}

fn budget() -> Budget {
    Budget {
        max_steps: 20_000,
        max_sequence: 10_000,
        ..Budget::default()
    }
}

fn evaluate(source: &str, data: &Json) {
    if let Ok(expr) = Expression::parse(source) {
        let functions = aws::functions();
        let bindings = Bindings::new()
            .with_budget(budget())
            .with_functions(&functions)
            .with_now(0)
            .with_seed(1);
        if let Err(e) = expr.evaluate(data, &bindings) {
            assert!(e.code().len() == 5, "odd code {}", e.code());
        }
    }
}

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|n| json!(n)),
        "[a-z]{0,6}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map("[a-c]", inner, 0..5)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Parses `source` on a thread with a quarter of a MiB of stack; only a panic or an overflow
/// (which aborts the test binary) fails.
fn parse_on_tiny_stack(source: String) {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            if let Err(e) = Expression::parse(&source) {
                assert!(e.code().starts_with('S'), "odd code {}", e.code());
            }
        })
        .expect("spawn")
        .join()
        .expect("no panic");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A few tokens repeated thousands of times: long chains (`a.a.a`, `1+1+1`, `f()()()`) and
    /// deep nesting (`((((`, `-----`) alike.
    #[test]
    fn long_repetitions_never_overflow(
        pattern in prop::collection::vec(prop::sample::select(TOKENS), 1..4),
        head in prop::sample::select(TOKENS),
        times in 1_000usize..20_000,
    ) {
        parse_on_tiny_stack(format!("{head}{}", pattern.concat().repeat(times)));
        parse_on_tiny_stack(format!("{head} {}", pattern.join(" ").repeat(times)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,40}") {
        evaluate(&source, &input());
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 1..16)) {
        evaluate(&tokens.join(" "), &input());
        evaluate(&tokens.concat(), &input());
    }

    #[test]
    fn arbitrary_input_never_panics(data in arb_json(), path in prop::sample::select(&[
        "a", "a.b", "**", "*.*", "$sort(**[$type($) = 'number'])", "$string($)", "a[0]", "b{a: b}",
        "$keys($)", "$each($, function($v, $k){$k})", "$ ~> |**|{'z': 1}|", "$distinct(**)",
        "%", "a.%", "a#$i[$i > 0]", "$count(**)", "$sum(**[$type($)='number'])",
    ][..])) {
        evaluate(path, &data);
    }
}
