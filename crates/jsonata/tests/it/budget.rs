//! Runaway expressions fail with an error, never a hang, a panic or a stack overflow: deep
//! (non-tail) recursion, infinite tail recursion, huge ranges, deeply nested source text.
//! Every test runs on a thread with a 2 MiB stack, the default for spawned threads (and for
//! tokio's workers), in whatever profile the tests are built with.

use serde_json::{Value as Json, json};
use sluice_jsonata::{Bindings, Budget, Expression};

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

fn code_of(expr: &str, budget: Budget) -> String {
    let expr = expr.to_string();
    on_small_stack(move || {
        let e = Expression::parse(&expr).expect("parses");
        let b = Bindings::new().with_budget(budget);
        match e.evaluate(&Json::Null, &b) {
            Ok(v) => format!("ok {v:?}"),
            Err(err) => err.code().to_string(),
        }
    })
}

#[test]
fn infinite_tail_recursion_exhausts_the_step_budget() {
    let code = code_of("($f := function($x){$f($x)}; $f(1))", Budget::default());
    assert_eq!(code, "D1012");
}

#[test]
fn deep_recursion_stops_at_the_depth_limit() {
    let code = code_of(
        "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
        Budget::default(),
    );
    assert_eq!(code, "D1011");
}

#[test]
fn recursion_within_the_limit_completes() {
    let code = code_of(
        "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(50))",
        Budget::default(),
    );
    assert_eq!(code, "ok Some(Number(50))");
}

#[test]
fn tail_recursion_runs_in_constant_depth() {
    let budget = Budget {
        max_depth: 50,
        ..Budget::default()
    };
    let code = code_of(
        "($loop := function($n, $acc){ $n = 0 ? $acc : $loop($n - 1, $acc + 1) }; $loop(10000, 0))",
        budget,
    );
    assert_eq!(code, "ok Some(Number(10000))");
}

#[test]
fn mutual_recursion_without_tail_calls_is_bounded() {
    let code = code_of(
        "($a := function($n){ [$b($n)] }; $b := function($n){ [$a($n)] }; $a(1))",
        Budget::default(),
    );
    assert_eq!(code, "D1011");
}

#[test]
fn huge_ranges_are_refused() {
    assert_eq!(code_of("[1..100000000]", Budget::default()), "D2014");
    let small = Budget {
        max_sequence: 1000,
        ..Budget::default()
    };
    assert_eq!(code_of("[1..5000]", small), "D2014");
    assert_eq!(code_of("$count([1..1000])", small), "ok Some(Number(1000))");
}

#[test]
fn loops_over_large_ranges_exhaust_the_step_budget() {
    let budget = Budget {
        max_steps: 100_000,
        ..Budget::default()
    };
    assert_eq!(code_of("$sum([1..1000000].($ * 2))", budget), "D1012");
    assert_eq!(code_of("$pad('x', 100000000)", budget), "D1012");
}

#[test]
fn deeply_nested_source_is_a_parse_error() {
    let nested = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let arrays = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let unary = format!("{}1", "-".repeat(100_000));
    for source in [nested, arrays, unary] {
        let code =
            on_small_stack(move || Expression::parse(&source).map(|_| ()).map_err(|e| e.code()));
        assert_eq!(code, Err("S0299"));
    }
}

#[test]
fn moderately_nested_source_evaluates() {
    let source = format!("{}1{}", "(".repeat(40), ")".repeat(40));
    let v = on_small_stack(move || {
        Expression::parse(&source)
            .expect("parses")
            .evaluate(&Json::Null, &Bindings::new())
            .expect("evaluates")
    });
    assert_eq!(v, Some(json!(1)));
}

#[test]
fn deep_input_is_navigated_without_overflow() {
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!({ "a": deep });
    }
    let v = on_small_stack(move || {
        let e = Expression::parse("**[$type($) = 'number']").expect("parses");
        e.evaluate(&deep, &Bindings::new()).expect("evaluates")
    });
    assert_eq!(v, Some(json!(1)));
}

#[test]
fn deeply_nested_results_are_refused() {
    for expr in [
        "$reduce([1..100000], function($acc, $v){ {'x': $acc} }, {})",
        "$reduce([1..100000], function($acc, $v){ [[$acc]] }, [])",
    ] {
        let code = code_of(expr, Budget::default());
        assert_eq!(code, "D1011", "{expr}");
    }
}

/// Runs `f` on a thread with a quarter of a MiB of stack: far less than any thread Sluice
/// parses definitions on, so a parser that recursed (or dropped a tree) once per operator of a
/// long chain would overflow here.
fn on_tiny_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

fn parse_code_on_tiny_stack(source: String) -> Result<(), (&'static str, String)> {
    on_tiny_stack(move || {
        Expression::parse(&source)
            .map(|_| ())
            .map_err(|e| (e.code(), e.message()))
    })
}

#[test]
fn long_operator_chains_are_a_parse_error_not_an_overflow() {
    let steps = format!("$states.input{}", ".a".repeat(30_000));
    let sum = vec!["1"; 50_000].join("+");
    let concat = vec!["'x'"; 50_000].join(" & ");
    let predicates = format!("a{}", "[0]".repeat(30_000));
    let calls = format!("$f{}", "()".repeat(30_000));
    let applies = format!("1{}", " ~> $string".repeat(30_000));
    let defaults = vec!["a"; 30_000].join(" ?? ");
    let elvis = vec!["a"; 30_000].join(" ?: ");
    let binds = format!("{}1", "$x := ".repeat(30_000));
    let conditions = format!("{}1", "a ? 1 : ".repeat(30_000));
    let negations = format!("{}1", "-".repeat(30_000));
    for source in [
        steps, sum, concat, predicates, calls, applies, defaults, elvis, binds, conditions,
        negations,
    ] {
        let head: String = source.chars().take(30).collect();
        let (code, message) = parse_code_on_tiny_stack(source).expect_err(&head);
        assert_eq!(code, "S0299", "{head}: {message}");
        assert!(message.contains("nested too deeply"), "{head}: {message}");
    }
}

#[test]
fn chains_within_the_nesting_limit_parse_and_evaluate() {
    let input = {
        let mut v = json!(7);
        for _ in 0..40 {
            v = json!({ "a": v });
        }
        v
    };
    // (Debug builds' frames are large enough for the stack guard to stop processing a chain of
    // about 50 operators on 2 MiB, under the nesting limit.)
    let path = format!("${}", ".a".repeat(40));
    let sum = vec!["1"; 40].join("+");
    let results = on_small_stack(move || {
        [path, sum].map(|source| {
            Expression::parse(&source)
                .expect("parses")
                .evaluate(&input, &Bindings::new())
                .expect("evaluates")
        })
    });
    assert_eq!(results, [Some(json!(7)), Some(json!(40))]);
    let over = vec!["1"; 202].join("+");
    let (code, message) = parse_code_on_tiny_stack(over).expect_err("over the limit");
    assert_eq!(code, "S0299");
    assert!(message.contains("more than 200 levels deep"), "{message}");
}
